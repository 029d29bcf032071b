/* Hooks (daemon/hooks.c) with a real loop and real child processes: shell scripts written to a
 * temporary directory record what they were given. The daemon's log (stderr) is redirected to
 * a file for each test, so that what the hooks log can be checked. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "buddy/config.h"
#include "buddy/hooks.h"
#include "buddy/log.h"

struct fixture {
	char dir[64];
	char log[128];
	int saved_stderr;
	uv_loop_t loop;
	struct buddy_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/buddy-hooks-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	fflush(stderr);
	f->saved_stderr = fcntl(2, F_DUPFD_CLOEXEC, 3); /* not inherited by hooks */
	fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0)
		return -1;
	close(fd);
	if (uv_loop_init(&f->loop))
		return -1;
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.hook_timeout_s = 10;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	int rc;

	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	/* the directory goes even after a failed test, whose loop may still hold handles */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	rc = system(cmd) ? -1 : 0;
	buddy_config_free(&f->cfg);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return rc;
}

/* dir/name, a script with body after "#!/bin/sh\n"; its path in out. */
static void script(struct fixture *f, const char *name, const char *body, char *out, size_t len)
{
	FILE *s;

	snprintf(out, len, "%s/%s", f->dir, name);
	s = fopen(out, "w");
	assert_non_null(s);
	fprintf(s, "#!/bin/sh\n%s", body);
	assert_int_equal(fclose(s), 0);
	assert_int_equal(chmod(out, 0700), 0);
}

static void set_hook(struct fixture *f, int slot, const char *argv0, const char *arg1)
{
	f->cfg.hooks[slot].argv[0] = strdup(argv0);
	if (arg1)
		f->cfg.hooks[slot].argv[1] = strdup(arg1);
}

/* The whole of a file, NUL-terminated ("" when it does not exist). */
static char *slurp(const char *path)
{
	FILE *s = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(buf);
	if (!s)
		return buf;
	n = fread(buf, 1, (1 << 20) - 1, s);
	buf[n] = '\0';
	fclose(s);
	return buf;
}

static char *read_log(struct fixture *f)
{
	fflush(stderr);
	return slurp(f->log);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_event(struct buddy_hooks *h, enum buddy_event_kind kind, uint64_t id,
		      const char *from, const char *text)
{
	struct buddy_event ev;
	struct buddy_hook_event he = {.ev = &ev, .from = from, .text = text};

	memset(&ev, 0, sizeof(ev));
	ev.id = id;
	ev.kind = kind;
	ev.time = 1767225600;
	buddy_hooks_run(h, &he);
}

/* Stops the hooks and runs the loop until everything is closed. */
static void finish(struct fixture *f, struct buddy_hooks *h)
{
	buddy_hooks_stop(h);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static void test_environment(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	struct buddy_event ev;
	struct buddy_hook_event he;
	char path[128], body[1024], out[128], *env, *log, text[6000];

	snprintf(out, sizeof(out), "%s/env", f->dir);
	snprintf(body, sizeof(body),
		 "/usr/bin/env > %s\n"
		 "echo \"ARG1=$1\" >> %s\n"
		 "echo \"CWD=$(pwd)\" >> %s\n"
		 "echo \"STDIN=$(readlink /proc/$$/fd/0)\" >> %s\n"
		 "echo hello from the hook\n"
		 "echo 'to stderr' >&2\n"
		 "printf 'no newline at the end'\n",
		 out, out, out, out);
	script(f, "env.sh", body, path, sizeof(path));
	set_hook(f, BUDDY_EV_CHECKIN, path, "first-arg");
	setenv("BUDDY_TEST_SECRET", "must-not-pass", 1);
	setenv("HOME", "/home/tester", 1);

	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	unsetenv("BUDDY_TEST_SECRET");

	memset(&ev, 0, sizeof(ev));
	ev.id = 42;
	ev.kind = BUDDY_EV_CHECKIN;
	ev.time = 1767225600;
	ev.has_pk = true;
	for (int i = 0; i < 32; i++)
		ev.pk[i] = (uint8_t)(0xa0 + i);
	strcpy(ev.commit, "run-3x-week");
	ev.entry = 7;
	memset(text, 'x', sizeof(text));
	memcpy(text, "line one\nline\ttwo\x1b[31m red\n", 27);
	text[sizeof(text) - 1] = '\0';
	he = (struct buddy_hook_event){.ev = &ev,
				       .from = "alice\xe2\x80\xae\xc2\x9b\nBUDDY_EVIL=1",
				       .status = "done",
				       .text = text};
	buddy_hooks_run(h, &he);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);

	env = slurp(out);
	assert_non_null(strstr(env, "BUDDY_EVENT=checkin\n"));
	assert_non_null(strstr(env, "BUDDY_EVENT_ID=42\n"));
	assert_non_null(strstr(env, "BUDDY_TIME=1767225600\n"));
	/* a bidi override (3 bytes) and a C1 control (2 bytes) shown as '?' each byte, like C0 */
	assert_non_null(strstr(env, "BUDDY_FROM=alice??????BUDDY_EVIL=1\n"));
	assert_null(strstr(env, "\nBUDDY_EVIL"));
	assert_non_null(strstr(env,
			       "BUDDY_FROM_KEY=a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9"
			       "babbbcbdbebf\n"));
	assert_non_null(strstr(env, "BUDDY_COMMIT=run-3x-week\n"));
	assert_non_null(strstr(env, "BUDDY_ENTRY=7\n"));
	assert_non_null(strstr(env, "BUDDY_STATUS=done\n"));
	/* newlines kept, other control characters replaced, cut at 4096 bytes */
	assert_non_null(strstr(env, "BUDDY_TEXT=line one\nline?two?[31m red\nxxxx"));
	{
		const char *t = strstr(env, "BUDDY_TEXT=") + strlen("BUDDY_TEXT=");
		const char *end = strchr(strstr(t, "xxxx"), '\n');

		assert_int_equal(end - t, 4096);
	}
	assert_null(strstr(env, "BUDDY_PERIOD_START"));
	assert_null(strstr(env, "BUDDY_ALERT"));
	assert_null(strstr(env, "BUDDY_TEST_SECRET"));
	assert_null(strstr(env, "must-not-pass"));
	assert_non_null(strstr(env, "HOME=/home/tester\n"));
	assert_non_null(strstr(env, "PATH="));
	assert_non_null(strstr(env, "ARG1=first-arg\n"));
	assert_non_null(strstr(env, "CWD=/\n"));
	assert_non_null(strstr(env, "STDIN=/dev/null\n"));
	free(env);

	log = read_log(f);
	assert_non_null(strstr(log, "hook checkin: hello from the hook\n"));
	assert_non_null(strstr(log, "hook checkin: to stderr\n"));
	assert_non_null(strstr(log, "hook checkin: no newline at the end\n"));
	free(log);
	finish(f, h);
}

static void test_periods_and_alert(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	struct buddy_event ev;
	struct buddy_hook_event he;
	char path[128], body[256], out[128], *env;

	snprintf(out, sizeof(out), "%s/env", f->dir);
	snprintf(body, sizeof(body), "/usr/bin/env > %s\n", out);
	script(f, "env.sh", body, path, sizeof(path));
	set_hook(f, 0, path, NULL); /* the default */

	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	memset(&ev, 0, sizeof(ev));
	ev.kind = BUDDY_EV_MISSED;
	ev.time = 5;
	ev.period_start = 1000;
	ev.period_end = 2000;
	strcpy(ev.alert, "fork");
	he = (struct buddy_hook_event){.ev = &ev};
	buddy_hooks_run(h, &he);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	env = slurp(out);
	assert_non_null(strstr(env, "BUDDY_EVENT=missed\n"));
	assert_non_null(strstr(env, "BUDDY_PERIOD_START=1000\n"));
	assert_non_null(strstr(env, "BUDDY_PERIOD_END=2000\n"));
	assert_non_null(strstr(env, "BUDDY_ALERT=fork\n"));
	assert_null(strstr(env, "BUDDY_EVENT_ID")); /* id 0: live only */
	assert_null(strstr(env, "BUDDY_FROM"));
	assert_null(strstr(env, "BUDDY_TEXT"));
	free(env);
	finish(f, h);
}

static void test_no_hook(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;

	set_hook(f, BUDDY_EV_NOTE, "/bin/true", NULL);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	run_event(h, BUDDY_EV_CHECKIN, 1, NULL, NULL); /* no hook for it, no default */
	assert_int_equal(uv_loop_alive(&f->loop), 0);
	run_event(h, BUDDY_EV_NOTE, 2, NULL, NULL);
	assert_int_equal(uv_loop_alive(&f->loop), 1);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	finish(f, h);
}

static void on_tick(uv_timer_t *t)
{
	(*(int *)t->data)++;
}

/* A hook that hangs is killed at its limit while the loop goes on; one that ignores SIGTERM
 * gets SIGKILL 2 s later; what it started in the background goes with it. */
static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	uv_timer_t tick;
	int ticks = 0;
	char hang[128], stubborn[128], body[256], pidfile[128], *log, *pid;
	double t0, t;

	snprintf(pidfile, sizeof(pidfile), "%s/bgpid", f->dir);
	snprintf(body, sizeof(body), "/bin/sleep 1000 &\necho $! > %s\nwait\n", pidfile);
	script(f, "hang.sh", body, hang, sizeof(hang));
	script(f, "stubborn.sh", "trap '' TERM\n/bin/sleep 1000\n", stubborn, sizeof(stubborn));
	set_hook(f, BUDDY_EV_CHECKIN, hang, NULL);
	set_hook(f, BUDDY_EV_NOTE, stubborn, NULL);
	f->cfg.hook_timeout_s = 1;

	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	uv_timer_init(&f->loop, &tick);
	tick.data = &ticks;
	uv_timer_start(&tick, on_tick, 100, 100);
	uv_unref((uv_handle_t *)&tick);

	t0 = now_s();
	run_event(h, BUDDY_EV_CHECKIN, 1, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	t = now_s() - t0;
	assert_true(t >= 0.9 && t < 2.5);
	assert_true(ticks >= 5); /* the loop went on meanwhile */
	log = read_log(f);
	assert_int_equal(count(log, "hook checkin: "), 1);
	assert_non_null(strstr(log, "still running after 1 s: killed"));
	assert_null(strstr(log, "SIGKILL"));
	free(log);
	/* the background sleep was in the hook's process group: gone too (or a zombie) */
	pid = slurp(pidfile);
	assert_true(atoi(pid) > 0);
	{
		char stat[64], *st;
		const char *p;

		snprintf(stat, sizeof(stat), "/proc/%d/stat", atoi(pid));
		for (int i = 0; i < 50; i++) {
			st = slurp(stat);
			p = strrchr(st, ')');
			if (!*st || (p && p[2] == 'Z')) {
				free(st);
				break;
			}
			free(st);
			assert_true(i < 49);
			usleep(20000);
		}
	}
	free(pid);

	t0 = now_s();
	run_event(h, BUDDY_EV_NOTE, 2, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	t = now_s() - t0;
	assert_true(t >= 2.9 && t < 4.5);
	log = read_log(f);
	assert_non_null(strstr(log, "hook note: "));
	assert_non_null(strstr(log, "still running 2 s after SIGTERM: SIGKILL"));
	free(log);

	/* and hooks still run afterwards */
	run_event(h, BUDDY_EV_CHECKIN, 3, NULL, NULL);
	uv_close((uv_handle_t *)&tick, NULL);
	finish(f, h);
}

static void test_not_found(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	char *log, path[128];

	set_hook(f, BUDDY_EV_CHECKIN, "/nonexistent/buddy-hook", NULL);
	script(f, "noexec.sh", "exit 0\n", path, sizeof(path));
	chmod(path, 0600);
	set_hook(f, BUDDY_EV_NOTE, path, NULL);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	run_event(h, BUDDY_EV_CHECKIN, 1, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	log = read_log(f);
	assert_int_equal(count(log, "\n"), 1);
	assert_non_null(strstr(log,
			       "hook checkin: cannot run /nonexistent/buddy-hook: no such file "
			       "or directory\n"));
	free(log);

	run_event(h, BUDDY_EV_NOTE, 2, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	log = read_log(f);
	assert_int_equal(count(log, "\n"), 2);
	assert_non_null(strstr(log, "hook note: cannot run "));
	assert_non_null(strstr(log, "permission denied"));
	free(log);
	finish(f, h);
}

static void test_exit_status(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	char *log, path[128];

	script(f, "fail.sh", "exit 3\n", path, sizeof(path));
	set_hook(f, BUDDY_EV_CHECKIN, path, NULL);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	run_event(h, BUDDY_EV_CHECKIN, 1, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	log = read_log(f);
	assert_non_null(strstr(log, "fail.sh exited with status 3\n"));
	free(log);
	finish(f, h);
}

/* Two events of one kind: the second starts only after the first exits. Events of another kind
 * do not wait for them. */
static void test_one_at_a_time(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	char path[128], body[1024], trace[128], *t;

	snprintf(trace, sizeof(trace), "%s/trace", f->dir);
	snprintf(body, sizeof(body),
		 "lock=%s/lock.$BUDDY_EVENT\n"
		 "[ -e $lock ] && echo overlap >> %s\n"
		 "echo start $BUDDY_EVENT $BUDDY_EVENT_ID >> %s\n"
		 ": > $lock\n"
		 "/bin/sleep 0.3\n"
		 "rm $lock\n"
		 "echo end $BUDDY_EVENT $BUDDY_EVENT_ID >> %s\n",
		 f->dir, trace, trace, trace);
	script(f, "slow.sh", body, path, sizeof(path));
	set_hook(f, 0, path, NULL);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	run_event(h, BUDDY_EV_CHECKIN, 1, NULL, NULL);
	run_event(h, BUDDY_EV_CHECKIN, 2, NULL, NULL);
	run_event(h, BUDDY_EV_CHECKIN, 3, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	t = slurp(trace);
	assert_string_equal(t, "start checkin 1\nend checkin 1\n"
			       "start checkin 2\nend checkin 2\n"
			       "start checkin 3\nend checkin 3\n");
	free(t);

	/* another kind runs beside it */
	unlink(trace);
	run_event(h, BUDDY_EV_CHECKIN, 4, NULL, NULL);
	run_event(h, BUDDY_EV_NOTE, 5, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	t = slurp(trace);
	assert_null(strstr(t, "overlap"));
	assert_true(strstr(t, "start note 5") < strstr(t, "end checkin 4"));
	assert_true(strstr(t, "start checkin 4") < strstr(t, "end note 5"));
	free(t);
	finish(f, h);
}

static void test_queue_full(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	char path[128], body[256], trace[128], *t, *log, want[64];
	size_t n = 0;

	snprintf(trace, sizeof(trace), "%s/trace", f->dir);
	snprintf(body, sizeof(body), "echo $BUDDY_EVENT_ID >> %s\n", trace);
	script(f, "count.sh", body, path, sizeof(path));
	set_hook(f, BUDDY_EV_CHEER, path, NULL);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	/* one runs, BUDDY_HOOK_QUEUE_MAX wait, the last two are dropped */
	for (uint64_t id = 1; id <= BUDDY_HOOK_QUEUE_MAX + 3; id++)
		run_event(h, BUDDY_EV_CHEER, id, NULL, NULL);
	/* one line when the queue fills, not one per dropped event */
	log = read_log(f);
	assert_int_equal(count(log, "dropping events until it catches up"), 1);
	assert_int_equal(count(log, "dropped"), 0);
	free(log);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	t = slurp(trace);
	for (char *p = t, *e; *p; p = e + 1) {
		e = strchr(p, '\n');
		assert_non_null(e);
		assert_int_equal(strtoull(p, NULL, 10), ++n);
	}
	assert_int_equal(n, BUDDY_HOOK_QUEUE_MAX + 1);
	free(t);
	/* the next event accepted says how many were lost meanwhile */
	run_event(h, BUDDY_EV_CHEER, BUDDY_HOOK_QUEUE_MAX + 4, NULL, NULL);
	log = read_log(f);
	snprintf(want, sizeof(want), "hook cheer: 2 events were dropped");
	assert_non_null(strstr(log, want));
	free(log);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	finish(f, h);
}

/* Output: long lines are cut, control characters replaced, and only so many lines logged. */
static void test_output_bounds(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	char path[128], *log;

	script(f, "chatty.sh",
	       "printf 'esc \\033[2J here\\n'\n"
	       "head -c 2000 /dev/zero | tr '\\0' 'y'; echo\n"
	       "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done\n",
	       path, sizeof(path));
	set_hook(f, BUDDY_EV_COMMENT, path, NULL);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	run_event(h, BUDDY_EV_COMMENT, 1, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	log = read_log(f);
	assert_non_null(strstr(log, "hook comment: esc ?[2J here\n"));
	assert_null(strstr(log, "\033"));
	for (const char *p = log, *e; *p; p = e + 1) {
		e = strchr(p, '\n');
		assert_non_null(e);
		assert_true(e - p < 600);
	}
	assert_non_null(strstr(log, "the rest is not logged"));
	assert_null(strstr(log, "line 299"));
	free(log);
	finish(f, h);
}

static void on_stop_timer(uv_timer_t *t)
{
	buddy_hooks_stop(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

/* Stopping kills what runs and drops what waits; the loop ends with everything freed. */
static void test_stop(void **state)
{
	struct fixture *f = *state;
	struct buddy_hooks *h;
	uv_timer_t stop;
	char path[128], body[256], trace[128], *t;
	double t0;

	snprintf(trace, sizeof(trace), "%s/trace", f->dir);
	snprintf(body, sizeof(body), "echo $BUDDY_EVENT_ID >> %s\nexec /bin/sleep 1000\n", trace);
	script(f, "sleep.sh", body, path, sizeof(path));
	set_hook(f, 0, path, NULL);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	run_event(h, BUDDY_EV_CHECKIN, 1, NULL, NULL);
	run_event(h, BUDDY_EV_CHECKIN, 2, NULL, NULL);
	run_event(h, BUDDY_EV_NOTE, 3, NULL, NULL);
	uv_timer_init(&f->loop, &stop);
	stop.data = h;
	uv_timer_start(&stop, on_stop_timer, 300, 0);
	t0 = now_s();
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_true(now_s() - t0 < 2);
	t = slurp(trace);
	assert_null(strstr(t, "2"));
	free(t);

	/* stopped with nothing running, and stopped at once */
	h = buddy_hooks_new(&f->loop, &f->cfg);
	assert_non_null(h);
	finish(f, h);
	h = buddy_hooks_new(&f->loop, &f->cfg);
	run_event(h, BUDDY_EV_CHECKIN, 1, NULL, NULL);
	finish(f, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periods_and_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	};

	buddy_log_set_level(BUDDY_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
