/* The configuration file (daemon/config.c): defaults, every setting, durations and their
 * bounds, hook commands split into argv, and the files refused: unknown keys and sections,
 * relative programs, over-long lines, unsafe permissions. Each error names its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buddy/config.h"
#include "buddy/error.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/buddy-config-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/config", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void write_config(const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Loads text; returns the code, the message in err. */
static int load(const char *text, struct buddy_config *c, char *err, size_t errlen)
{
	write_config(text, 0600);
	return buddy_config_load(path, c, err, errlen);
}

/* text must be refused as invalid with a message holding want. */
static void refused(const char *text, const char *want)
{
	struct buddy_config c;
	char err[512];

	assert_int_equal(load(text, &c, err, sizeof(err)), BUDDY_E_INVALID);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not hold \"%s\"", err, want);
	/* what was refused leaves the defaults, and nothing to free */
	assert_int_equal(c.remind_lead_s, 3 * 3600);
	assert_null(buddy_config_hook(&c, BUDDY_EV_CHECKIN));
	buddy_config_free(&c);
}

static void check_defaults(const struct buddy_config *c)
{
	assert_int_equal(c->remind_lead_s, 3 * 3600);
	assert_int_equal(c->miss_grace_s, 3600);
	assert_int_equal(c->hook_timeout_s, 10);
	for (int k = 0; k < BUDDY_EV_COUNT_; k++)
		assert_null(c->hooks[k].argv[0]);
	assert_null(buddy_config_hook(c, BUDDY_EV_CHECKIN));
}

static void test_missing_file(void **state)
{
	struct buddy_config c;
	char err[256];

	(void)state;
	unlink(path);
	assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), 0);
	check_defaults(&c);
	buddy_config_free(&c);
	assert_int_equal(buddy_config_load(NULL, &c, err, sizeof(err)), 0);
	check_defaults(&c);
	buddy_config_free(&c);
}

static void test_empty_and_comments(void **state)
{
	struct buddy_config c;
	char err[256];

	(void)state;
	assert_int_equal(load("", &c, err, sizeof(err)), 0);
	check_defaults(&c);
	buddy_config_free(&c);
	assert_int_equal(
		load("; a comment\n# another\n\n[deadlines]\n[hooks]\n", &c, err, sizeof(err)), 0);
	check_defaults(&c);
	buddy_config_free(&c);
}

static void test_every_setting(void **state)
{
	struct buddy_config c;
	const struct buddy_hook_cmd *h;
	char err[256];

	(void)state;
	assert_int_equal(load("[deadlines]\n"
			      "remind_lead = 90m   ; an hour and a half\n"
			      "miss_grace = 2d\n"
			      "\n"
			      "[hooks]\n"
			      "timeout = 45\n"
			      "checkin = /usr/local/bin/notify-checkin --urgent  -t\t5\n"
			      "missed=/bin/true\n"
			      "default = /home/me/bin/buddy-notify\n",
			      &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.remind_lead_s, 90 * 60);
	assert_int_equal(c.miss_grace_s, 2 * 86400);
	assert_int_equal(c.hook_timeout_s, 45);

	h = buddy_config_hook(&c, BUDDY_EV_CHECKIN);
	assert_ptr_equal(h, &c.hooks[BUDDY_EV_CHECKIN]);
	assert_string_equal(h->argv[0], "/usr/local/bin/notify-checkin");
	assert_string_equal(h->argv[1], "--urgent");
	assert_string_equal(h->argv[2], "-t");
	assert_string_equal(h->argv[3], "5");
	assert_null(h->argv[4]);

	h = buddy_config_hook(&c, BUDDY_EV_MISSED);
	assert_string_equal(h->argv[0], "/bin/true");
	assert_null(h->argv[1]);

	/* kinds without their own take the default */
	h = buddy_config_hook(&c, BUDDY_EV_NOTE);
	assert_ptr_equal(h, &c.hooks[0]);
	assert_string_equal(h->argv[0], "/home/me/bin/buddy-notify");
	assert_ptr_equal(buddy_config_hook(&c, BUDDY_EV_OFFLINE), &c.hooks[0]);
	buddy_config_free(&c);
	assert_null(c.hooks[BUDDY_EV_CHECKIN].argv[0]);
	buddy_config_free(&c); /* twice is harmless */

	/* every kind by its name */
	for (int k = 1; k < BUDDY_EV_COUNT_; k++) {
		char text[256];

		snprintf(text, sizeof(text), "[hooks]\n%s = /bin/k%d\n",
			 buddy_event_kind_name((enum buddy_event_kind)k), k);
		assert_int_equal(load(text, &c, err, sizeof(err)), 0);
		for (int o = 1; o < BUDDY_EV_COUNT_; o++) {
			h = buddy_config_hook(&c, (enum buddy_event_kind)o);
			if (o == k) {
				char want[16];

				snprintf(want, sizeof(want), "/bin/k%d", k);
				assert_non_null(h);
				assert_string_equal(h->argv[0], want);
			} else {
				assert_null(h);
			}
		}
		buddy_config_free(&c);
	}

	/* the most words a hook may have */
	assert_int_equal(load("[hooks]\nnote = /a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n", &c, err,
			      sizeof(err)),
			 0);
	assert_string_equal(c.hooks[BUDDY_EV_NOTE].argv[15], "15");
	assert_null(c.hooks[BUDDY_EV_NOTE].argv[16]);
	buddy_config_free(&c);
}

static void test_durations(void **state)
{
	static const struct {
		const char *v;
		int64_t s; /* -1: refused */
	} lead[] =
		{
			{"0", 0},	  {"1", 1},	      {"59s", 59},
			{"15m", 900},	  {"3h", 10800},      {"7d", 604800},
			{"168h", 604800}, {"604800", 604800}, {"604801", -1},
			{"8d", -1},	  {"169h", -1},	      {"-1h", -1},
			{"+1h", -1},	  {"1.5h", -1},	      {"1 h", -1},
			{"h", -1},	  {"1x", -1},	      {"1hh", -1},
			{"1H", -1},	  {"", -1},	      {"99999999999999999999999", -1},
			{"0x10", -1},
		},
	  timeout[] = {
		  {"1", 1},   {"1s", 1},   {"10m", 600}, {"600", 600}, {"0", -1},
		  {"0s", -1}, {"601", -1}, {"11m", -1},	 {"1h", -1},   {"1d", -1},
	  };
	struct buddy_config c;
	char text[256], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++) {
		for (int which = 0; which < 2; which++) {
			const char *key = which ? "miss_grace" : "remind_lead";
			int rc;

			snprintf(text, sizeof(text), "[deadlines]\n%s = %s\n", key, lead[i].v);
			rc = load(text, &c, err, sizeof(err));
			if (lead[i].s < 0) {
				if (rc != BUDDY_E_INVALID)
					fail_msg("%s = %s accepted", key, lead[i].v);
				assert_non_null(strstr(err, "line 2"));
				assert_non_null(strstr(err, key));
			} else {
				if (rc)
					fail_msg("%s = %s refused: %s", key, lead[i].v, err);
				assert_int_equal(which ? c.miss_grace_s : c.remind_lead_s,
						 lead[i].s);
			}
			buddy_config_free(&c);
		}
	}
	for (size_t i = 0; i < sizeof(timeout) / sizeof(timeout[0]); i++) {
		int rc;

		snprintf(text, sizeof(text), "[hooks]\ntimeout = %s\n", timeout[i].v);
		rc = load(text, &c, err, sizeof(err));
		if (timeout[i].s < 0) {
			if (rc != BUDDY_E_INVALID)
				fail_msg("timeout = %s accepted", timeout[i].v);
			assert_non_null(strstr(err, "line 2"));
		} else {
			if (rc)
				fail_msg("timeout = %s refused: %s", timeout[i].v, err);
			assert_int_equal(c.hook_timeout_s, timeout[i].s);
		}
		buddy_config_free(&c);
	}
}

static void test_refused(void **state)
{
	char text[512];

	(void)state;
	refused("[hooks]\ncheckin = notify-checkin\n", "line 2");
	refused("[hooks]\ncheckin = notify-checkin\n", "not an absolute path");
	refused("[hooks]\ncheckin = ./bin/hook\n", "line 2");
	refused("[hooks]\ncheckin = ~/bin/hook\n", "not an absolute path");
	refused("[hooks]\n\ncheckin =\n", "line 3: hook checkin is empty");
	refused("[hooks]\ncheckin = /bin/true\n\n\nbogus = /bin/true\n",
		"line 5: unknown setting \"bogus\" in [hooks]");
	refused("[hooks]\nCheckin = /bin/true\n", "\"Checkin\"");
	refused("[deadlines]\nremind_lead = 1h\nreminder = 1h\n",
		"line 3: unknown setting \"reminder\" in [deadlines]");
	refused("[deadlines]\nremind_lead = 1h\n[hook]\ncheckin = /bin/true\n",
		"line 3: unknown section [hook]");
	refused("[deadlines]\n[bogus]\n", "line 2: unknown section [bogus]");
	refused("timeout = 5\n", "line 1: setting \"timeout\" outside a section");
	refused("[hooks]\ncheckin /bin/true\n", "line 2: not a [section] header");
	refused("[hooks\n", "line 1");
	refused("[hooks]\ntimeout = 5\ntimeout = 6\n", "line 3: timeout is set twice");
	refused("[hooks]\nnote = /bin/a\nnote = /bin/b\n", "line 3: hook note is set twice");
	refused("[deadlines]\nmiss_grace = 1h\nmiss_grace = 1h\n", "line 3");
	refused("[hooks]\nnote = /a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		"line 2: hook note has more than 16 words");
	refused("[hooks]\nnote = /bin/a\x01\n", "line 2: hook note has a control character");
	refused("[hooks]\n\n\n[deadlines]\nremind_lead = 1w\n", "line 5: remind_lead");
	/* the first error is the one named */
	refused("[hooks]\nbad1 = /x\nbad2 = /y\n", "line 2");
	refused("[hooks]\nno equals sign\nbad2 = /y\n", "line 2");
	refused("[hooks]\nbad1 = /y\nno equals sign\n", "line 2: unknown setting \"bad1\"");

	/* a line inih would cut in two */
	snprintf(text, sizeof(text), "[hooks]\ncheckin = /%0300d\n", 0);
	refused(text, "line 2: longer than");
	/* a NUL byte */
	{
		struct buddy_config c;
		char err[256];
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		assert_int_equal(fwrite("[hooks]\nnote = /a\0b\n", 1, 20, f), 20);
		fclose(f);
		chmod(path, 0600);
		assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), BUDDY_E_INVALID);
		assert_non_null(strstr(err, "line 2: a NUL byte"));
		buddy_config_free(&c);
	}
}

static void test_long_values(void **state)
{
	struct buddy_config c;
	char text[512], err[256];
	int n;

	(void)state;
	/* a line of exactly the longest length is read whole */
	n = snprintf(text, sizeof(text), "checkin = /");
	memset(text + n, 'a', 197 - n);
	text[197] = '\0';
	{
		char full[600];

		snprintf(full, sizeof(full), "[hooks]\r\n%s\r\n", text);
		assert_int_equal(load(full, &c, err, sizeof(err)), 0);
		assert_int_equal(strlen(c.hooks[BUDDY_EV_CHECKIN].argv[0]), 197 - 10);
		buddy_config_free(&c);
	}
}

static void test_permissions(void **state)
{
	struct buddy_config c;
	char err[512];

	(void)state;
	write_config("[hooks]\ncheckin = /bin/true\n", 0620);
	assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), BUDDY_E_PERM);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_non_null(strstr(err, path));
	assert_null(buddy_config_hook(&c, BUDDY_EV_CHECKIN));
	buddy_config_free(&c);

	write_config("[hooks]\ncheckin = /bin/true\n", 0602);
	assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), BUDDY_E_PERM);
	buddy_config_free(&c);

	/* readable by others is fine: it holds no secret */
	write_config("[hooks]\ncheckin = /bin/true\n", 0644);
	assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(buddy_config_hook(&c, BUDDY_EV_CHECKIN)->argv[0], "/bin/true");
	buddy_config_free(&c);

	/* not a regular file */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), BUDDY_E_INVALID);
	buddy_config_free(&c);
	rmdir(path);

	/* owned by someone else: only root can make such a file here */
	if (geteuid() == 0) {
		write_config("[hooks]\ncheckin = /bin/true\n", 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), BUDDY_E_PERM);
		assert_non_null(strstr(err, "not owned"));
		buddy_config_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_setting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
