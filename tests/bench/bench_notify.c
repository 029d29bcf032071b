/* Notification latency: alice runs `buddy checkin` on a commitment shared with bob; how long
 * until the event reaches a watcher subscribed on bob's daemon (`watch`, over loopback)? Two
 * figures per check-in: from the moment `buddy checkin` returned (the measure; an
 * event that reached the watcher before the CLI had exited is read right after, so it counts
 * as about 0) and from the moment it was started. Prints p50/p90/p99/max over N check-ins. For
 * tests/bench/run.sh, also one line per figure: "FIGURE notify_p50_ms <ms> ms" (and p90, p99,
 * max) from `buddy checkin` returning, "FIGURE notify_from_start_p50_ms ..." from its start.
 * Usage: bench_notify BUDDYD BUDDY WORKDIR N */
#include "bench_pair.h"
#include "buddy/mp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 10000 /* a check-in whose event does not come within this fails the run */

static const struct buddy_mp_limits limits = {1 << 20, 16, 1 << 16};

struct watcher {
	int fd;
	uint8_t buf[1 << 16];
	size_t len;
};

static int watch_open(struct watcher *w, const char *home)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	/* [0, 1, "watch", {}] */
	static const uint8_t req[] = {0x94, 0x00, 0x01, 0xa5, 'w', 'a', 't', 'c', 'h', 0x80};

	if (strlen(home) + sizeof("/buddyd.sock") > sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, home, strlen(home));
	memcpy(sa.sun_path + strlen(home), "/buddyd.sock", sizeof("/buddyd.sock"));
	w->len = 0;
	w->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (w->fd < 0 || connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(w->fd, req, sizeof(req)) != (ssize_t)sizeof(req))
		return -1;
	return 0;
}

/* Waits for the next "checkin" event notification (the answer to watch and other events are
 * skipped); 0 when it came within WAIT_MS. */
static int next_checkin(struct watcher *w)
{
	for (;;) {
		size_t objlen;
		int rc = buddy_mp_check(w->buf, w->len, &limits, &objlen);

		if (rc == 0) {
			msgpack_unpacked u;
			const msgpack_object *n;
			bool hit = false;

			msgpack_unpacked_init(&u);
			if (buddy_mp_decode(w->buf, objlen, &limits, &u) == 0) {
				n = &u.data;
				hit = n->type == MSGPACK_OBJECT_ARRAY && n->via.array.size == 3 &&
				      buddy_mp_str_eq(&n->via.array.ptr[1], "event") &&
				      buddy_mp_str_eq(buddy_mp_get(&n->via.array.ptr[2], "kind"),
						      "checkin");
			}
			msgpack_unpacked_destroy(&u);
			memmove(w->buf, w->buf + objlen, w->len - objlen);
			w->len -= objlen;
			if (hit)
				return 0;
			continue;
		}
		if (rc != 1 || w->len == sizeof(w->buf))
			return -1;
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		if (poll(&p, 1, WAIT_MS) <= 0)
			return -1;
		ssize_t r = read(w->fd, w->buf + w->len, sizeof(w->buf) - w->len);
		if (r <= 0)
			return -1;
		w->len += (size_t)r;
	}
}

static int run_cli(const char *buddy, const char *home, long i)
{
	char text[64];
	pid_t pid;
	int st;

	snprintf(text, sizeof(text), "check-in %ld", i);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		setenv("BUDDY_HOME", home, 1);
		execl(buddy, buddy, "checkin", "run", "--done", text, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, const char *figure, double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%s: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, v[n / 2],
	       v[n * 9 / 10], v[n * 99 / 100], v[n - 1]);
	printf("FIGURE %s_p50_ms %.3f ms\nFIGURE %s_p90_ms %.3f ms\n", figure, v[n / 2], figure,
	       v[n * 9 / 10]);
	printf("FIGURE %s_p99_ms %.3f ms\nFIGURE %s_max_ms %.3f ms\n", figure, v[n * 99 / 100],
	       figure, v[n - 1]);
}

int main(int argc, char **argv)
{
	char adir[4096], bdir[4096], alisten[64], cmd[8400];
	double *after, *from_start;
	struct watcher *w = malloc(sizeof(*w));
	long n;
	int port, rc = 1;
	pid_t ap = -1, bp = -1;

	if (argc != 5 || (n = atol(argv[4])) <= 0 || !w) {
		fprintf(stderr, "usage: bench_notify BUDDYD BUDDY WORKDIR N\n");
		return 2;
	}
	after = calloc((size_t)n, sizeof(double));
	from_start = calloc((size_t)n, sizeof(double));
	if (!after || !from_start || sodium_init() < 0 || (port = bench_free_port()) < 0)
		return 1;
	snprintf(alisten, sizeof(alisten), "127.0.0.1:%d", port);
	if (bench_pair_homes(argv[3], port, 0, adir, bdir))
		return 1;
	if ((ap = bench_start(argv[1], adir, alisten)) < 0 ||
	    (bp = bench_start(argv[1], bdir, "127.0.0.1:0")) < 0) {
		fprintf(stderr, "a buddyd did not start\n");
		goto out;
	}
	/* bob dials alice at once: wait for the session (an upper bound, not a delay) */
	snprintf(cmd, sizeof(cmd), "BUDDY_HOME='%s' '%s' buddies --wait alice >/dev/null", bdir,
		 argv[2]);
	if (system(cmd) != 0 || watch_open(w, bdir)) {
		fprintf(stderr, "bob never came online or the watch failed\n");
		goto out;
	}
	for (long i = 0; i < n; i++) {
		double t0 = bench_now_ms(), t1, t2;
		if (run_cli(argv[2], adir, i)) {
			fprintf(stderr, "buddy checkin failed\n");
			goto out;
		}
		t1 = bench_now_ms();
		if (next_checkin(w)) {
			fprintf(stderr, "no event for check-in %ld within %d ms\n", i, WAIT_MS);
			goto out;
		}
		t2 = bench_now_ms();
		after[i] = t2 - t1;
		from_start[i] = t2 - t0;
	}
	printf("notification latency over %ld check-ins, loopback (bob's watcher):\n", n);
	report("  from `buddy checkin` returning", "notify", after, n);
	report("  from `buddy checkin` starting ", "notify_from_start", from_start, n);
	rc = 0;
out:
	if (ap > 0)
		kill(ap, SIGTERM);
	if (bp > 0)
		kill(bp, SIGTERM);
	if (ap > 0)
		waitpid(ap, NULL, 0);
	if (bp > 0)
		waitpid(bp, NULL, 0);
	free(after);
	free(from_start);
	free(w);
	return rc;
}
