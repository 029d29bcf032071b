/* The configuration file (daemon/config.c): defaults, every setting, durations and their
 * bounds, hook commands split into argv, the peer timers ([peer]: ping below idle), and the
 * files refused: unknown keys and sections, relative programs, over-long lines, unsafe
 * permissions, [peer] listen/advertise and [daemon] log_level, and the table of keys (which the
 * parser, the CLI and the manual share) against the built-in defaults. Each error reads
 * "FILE:LINE: key: why". */
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
	assert_int_equal(c->peer_ping_s, 30);
	assert_int_equal(c->peer_idle_s, 90);
	assert_int_equal(c->peer_redial_max_s, 300);
	assert_true(c->discovery_enabled);
	assert_int_equal(c->discovery_port, 7655);
	assert_int_equal(c->discovery_interval_s, 30);
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
	assert_int_equal(load("; a comment\n# another\n\n[deadlines]\n[hooks]\n[peer]\n", &c, err,
			      sizeof(err)),
			 0);
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
			      "default = /home/me/bin/buddy-notify\n"
			      "[peer]\n"
			      "ping = 1s\n"
			      "idle=3s ; a test's short timers\n"
			      "redial_max = 2m\n",
			      &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.remind_lead_s, 90 * 60);
	assert_int_equal(c.miss_grace_s, 2 * 86400);
	assert_int_equal(c.hook_timeout_s, 45);
	assert_int_equal(c.peer_ping_s, 1);
	assert_int_equal(c.peer_idle_s, 3);
	assert_int_equal(c.peer_redial_max_s, 120);

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
				assert_non_null(strstr(err, "config:2: "));
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
			assert_non_null(strstr(err, "config:2: "));
		} else {
			if (rc)
				fail_msg("timeout = %s refused: %s", timeout[i].v, err);
			assert_int_equal(c.hook_timeout_s, timeout[i].s);
		}
		buddy_config_free(&c);
	}
}

/* [peer]: each key's bounds, and ping below idle whichever of the two is set (the other keeps
 * its default: ping 30s, idle 90s). */
static void test_peer(void **state)
{
	static const struct {
		const char *text;
		int64_t ping, idle, redial_max; /* ping -1: refused */
		const char *err;
	} cases[] = {
		{"[peer]\nping = 1s\nidle = 2s\n", 1, 2, 300, NULL},
		{"[peer]\nidle = 1h\nping = 59m59s\n", -1, 0, 0, "config:3: ping"},
		{"[peer]\nidle = 1h\nping = 3599\n", 3599, 3600, 300, NULL},
		{"[peer]\nping = 89s\n", 89, 90, 300, NULL},
		{"[peer]\nidle = 31s\n", 30, 31, 300, NULL},
		{"[peer]\nredial_max = 1s\n", 30, 90, 1, NULL},
		{"[peer]\nredial_max = 1h\n", 30, 90, 3600, NULL},
		{"[peer]\nping = 0\nidle = 3s\n", -1, 0, 0,
		 "config:2: ping: \"0\" is not a duration"},
		{"[peer]\nping = 0s\n", -1, 0, 0, "config:2: ping"},
		{"[peer]\nping = 61m\nidle = 1h\n", -1, 0, 0, "config:2: ping"},
		{"[peer]\nidle = 1s\n", -1, 0, 0,
		 "config:2: idle: \"1s\" is not a duration from 2s"},
		{"[peer]\nidle = 3601\n", -1, 0, 0, "config:2: idle"},
		{"[peer]\nidle = 2h\n", -1, 0, 0, "config:2: idle"},
		{"[peer]\nredial_max = 0\n", -1, 0, 0, "config:2: redial_max"},
		{"[peer]\nredial_max = 2h\n", -1, 0, 0, "config:2: redial_max"},
		{"[peer]\nredial_max = 1.5s\n", -1, 0, 0, "config:2: redial_max"},
		/* idle not longer than ping: the line of the later of the two is named */
		{"[peer]\nping = 5s\nidle = 5s\n", -1, 0, 0,
		 "config:3: idle: 5s is not longer than ping (5s)"},
		{"[peer]\nidle = 3s\n\nping = 10s\n", -1, 0, 0,
		 "config:4: ping: 10s is not shorter than idle (3s)"},
		{"[peer]\nping = 2m\n", -1, 0, 0,
		 "config:2: ping: 120s is not shorter than idle (90s, the default: set idle too)"},
		{"[peer]\nidle = 10s\n", -1, 0, 0,
		 "config:2: idle: 10s is not longer than ping (30s, the default: set ping too)"},
		{"[peer]\nping = 1s\nping = 2s\n", -1, 0, 0, "config:3: ping: set twice"},
		{"[peer]\nidle = 9s\nidle = 9s\n", -1, 0, 0, "config:3: idle: set twice"},
		{"[peer]\nredial_max = 9s\nredial_max = 9s\n", -1, 0, 0,
		 "config:3: redial_max: set twice"},
		{"[peer]\nping = 1s\nidle = 3s\nkeepalive = 1s\n", -1, 0, 0,
		 "config:4: keepalive: unknown setting in [peer] (ping, idle, redial_max, listen, "
		 "advertise)"},
		{"[deadlines]\nping = 1s\n", -1, 0, 0,
		 "config:2: ping: unknown setting in [deadlines]"},
		{"[peers]\nping = 1s\n", -1, 0, 0,
		 "config:1: [peers]: unknown section (deadlines, hooks, peer, daemon, discovery)"},
		/* an earlier error is the one named, not the check between the two */
		{"[peer]\nping = 9s\nbogus = 1\nidle = 3s\n", -1, 0, 0,
		 "config:3: bogus: unknown setting"},
	};
	struct buddy_config c;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = load(cases[i].text, &c, err, sizeof(err));

		if (cases[i].ping < 0) {
			if (rc != BUDDY_E_INVALID)
				fail_msg("case %zu accepted: %s", i, cases[i].text);
			if (!strstr(err, cases[i].err))
				fail_msg("case %zu: error \"%s\" does not hold \"%s\"", i, err,
					 cases[i].err);
			/* what was refused leaves the defaults */
			check_defaults(&c);
		} else {
			if (rc)
				fail_msg("case %zu refused: %s", i, err);
			assert_int_equal(c.peer_ping_s, cases[i].ping);
			assert_int_equal(c.peer_idle_s, cases[i].idle);
			assert_int_equal(c.peer_redial_max_s, cases[i].redial_max);
		}
		buddy_config_free(&c);
	}
}

/* [discovery]: enabled (yes/no and synonyms), port, interval, each once; unknown keys. */
static void test_discovery(void **state)
{
	static const struct {
		const char *text;
		int enabled; /* -1: refused */
		int64_t port, interval;
		const char *err;
	} cases[] = {
		{"[discovery]\n", 1, 7655, 30, NULL},
		{"[discovery]\nenabled = no\n", 0, 7655, 30, NULL},
		{"[discovery]\nenabled = yes\n", 1, 7655, 30, NULL},
		{"[discovery]\nenabled=off\n", 0, 7655, 30, NULL},
		{"[discovery]\nenabled = false ; not on this network\n", 0, 7655, 30, NULL},
		{"[discovery]\nenabled = 0\n", 0, 7655, 30, NULL},
		{"[discovery]\nenabled = true\nport = 1\n", 1, 1, 30, NULL},
		{"[discovery]\nport = 65535\ninterval = 1s\n", 1, 65535, 1, NULL},
		{"[discovery]\ninterval = 1h\n", 1, 7655, 3600, NULL},
		{"[discovery]\ninterval = 2m\nenabled = on\n", 1, 7655, 120, NULL},
		{"[peer]\nping = 10s\n[discovery]\nenabled = no\n[hooks]\ntimeout = 5\n", 0, 7655,
		 30, NULL},
		{"[discovery]\nenabled = maybe\n", -1, 0, 0,
		 "config:2: enabled: \"maybe\" is not yes or no"},
		{"[discovery]\nenabled = YES\n", -1, 0, 0, "config:2: enabled"},
		{"[discovery]\nenabled =\n", -1, 0, 0, "config:2: enabled"},
		{"[discovery]\nenabled = no\nenabled = yes\n", -1, 0, 0,
		 "config:3: enabled: set twice"},
		{"[discovery]\nport = 0\n", -1, 0, 0,
		 "config:2: port: \"0\" is not a number from 1 to 65535"},
		{"[discovery]\nport = 65536\n", -1, 0, 0, "config:2: port"},
		{"[discovery]\nport = 76s\n", -1, 0, 0, "config:2: port"},
		{"[discovery]\nport = -1\n", -1, 0, 0, "config:2: port"},
		{"[discovery]\nport = 7655x\n", -1, 0, 0, "config:2: port"},
		{"[discovery]\nport = 1\nport = 2\n", -1, 0, 0, "config:3: port: set twice"},
		{"[discovery]\ninterval = 0\n", -1, 0, 0, "config:2: interval"},
		{"[discovery]\ninterval = 2h\n", -1, 0, 0,
		 "config:2: interval: \"2h\" is not a duration from 1s to 1h"},
		{"[discovery]\ninterval = 1s\ninterval = 1s\n", -1, 0, 0,
		 "config:3: interval: set twice"},
		{"[discovery]\nenabled = yes\ngroup = 239.1.1.1\n", -1, 0, 0,
		 "config:3: group: unknown setting in [discovery] (enabled, port, interval)"},
		{"[peer]\nenabled = no\n", -1, 0, 0,
		 "config:2: enabled: unknown setting in [peer]"},
		{"[Discovery]\nenabled = no\n", -1, 0, 0, "config:1: [Discovery]: unknown section"},
	};
	struct buddy_config c;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = load(cases[i].text, &c, err, sizeof(err));

		if (cases[i].enabled < 0) {
			if (rc != BUDDY_E_INVALID)
				fail_msg("case %zu accepted: %s", i, cases[i].text);
			if (!strstr(err, cases[i].err))
				fail_msg("case %zu: error \"%s\" does not hold \"%s\"", i, err,
					 cases[i].err);
			check_defaults(&c);
		} else {
			if (rc)
				fail_msg("case %zu refused: %s", i, err);
			assert_int_equal(c.discovery_enabled, cases[i].enabled);
			assert_int_equal(c.discovery_port, cases[i].port);
			assert_int_equal(c.discovery_interval_s, cases[i].interval);
		}
		buddy_config_free(&c);
	}
}

static void test_refused(void **state)
{
	char text[512];

	(void)state;
	refused("[hooks]\ncheckin = notify-checkin\n", "config:2: ");
	refused("[hooks]\ncheckin = notify-checkin\n", "not an absolute path");
	refused("[hooks]\ncheckin = ./bin/hook\n", "config:2: ");
	refused("[hooks]\ncheckin = ~/bin/hook\n", "not an absolute path");
	refused("[hooks]\n\ncheckin =\n", "config:3: checkin: the hook is empty");
	refused("[hooks]\ncheckin = /bin/true\n\n\nbogus = /bin/true\n",
		"config:5: bogus: unknown setting in [hooks]");
	refused("[hooks]\nCheckin = /bin/true\n", "config:2: Checkin: unknown setting");
	refused("[deadlines]\nremind_lead = 1h\nreminder = 1h\n",
		"config:3: reminder: unknown setting in [deadlines]");
	refused("[deadlines]\nremind_lead = 1h\n[hook]\ncheckin = /bin/true\n",
		"config:3: [hook]: unknown section");
	refused("[deadlines]\n[bogus]\n", "config:2: [bogus]: unknown section");
	refused("timeout = 5\n", "config:1: timeout: a setting outside a section");
	refused("[hooks]\ncheckin /bin/true\n", "config:2: not a [section] header");
	refused("[hooks\n", "config:1: ");
	refused("[hooks]\ntimeout = 5\ntimeout = 6\n", "config:3: timeout: set twice");
	refused("[hooks]\nnote = /bin/a\nnote = /bin/b\n", "config:3: note: set twice");
	refused("[deadlines]\nmiss_grace = 1h\nmiss_grace = 1h\n", "config:3: ");
	refused("[hooks]\nnote = /a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		"config:2: note: the hook has more than 16 words");
	refused("[hooks]\nnote = /bin/a\x01\n", "config:2: note: the hook has a control character");
	refused("[hooks]\n\n\n[deadlines]\nremind_lead = 1w\n", "config:5: remind_lead");
	/* the first error is the one named */
	refused("[hooks]\nbad1 = /x\nbad2 = /y\n", "config:2: ");
	refused("[hooks]\nno equals sign\nbad2 = /y\n", "config:2: ");
	refused("[hooks]\nbad1 = /y\nno equals sign\n", "config:2: bad1: unknown setting");

	/* a line inih would cut in two */
	snprintf(text, sizeof(text), "[hooks]\ncheckin = /%0300d\n", 0);
	refused(text, "config:2: longer than");
	/* a NUL byte */
	{
		struct buddy_config c;
		char err[256];
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		assert_int_equal(fwrite("[hooks]\nnote = /a\0b\n", 1, 20, f), 20);
		assert_int_equal(fclose(f), 0);
		chmod(path, 0600);
		assert_int_equal(buddy_config_load(path, &c, err, sizeof(err)), BUDDY_E_INVALID);
		assert_non_null(strstr(err, "config:2: a NUL byte"));
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

/* The table of keys and the parser cannot drift: a file setting every key that has a default
 * to its default text loads as exactly the built-in defaults, and each value reads back as
 * that text; every name in the table is accepted, and each concrete key is listed once. */
static void test_key_table(void **state)
{
	struct buddy_config def, c;
	char text[2048], err[512], v[256], w[256];
	const char *sec, *key, *cur = "";
	size_t n = 0, count = 0;
	bool set, setd;

	(void)state;
	assert_int_equal(buddy_config_load(NULL, &def, err, sizeof(err)), 0);
	for (const struct buddy_config_key *k = buddy_config_keys; k->section; k++) {
		assert_non_null(k->key);
		assert_non_null(k->def);
		assert_true(strlen(k->desc) > 10);
		if (!k->def[0])
			continue; /* no default value: unset is the default */
		if (strcmp(cur, k->section))
			n += (size_t)snprintf(text + n, sizeof(text) - n, "[%s]\n", k->section);
		cur = k->section;
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = %s\n", k->key, k->def);
		assert_true(n < sizeof(text));
	}
	assert_int_equal(load(text, &c, err, sizeof(err)), 0);
	check_defaults(&c);
	for (const struct buddy_config_key *k = buddy_config_keys; k->section; k++) {
		if (!strcmp(k->key, "*"))
			continue;
		assert_int_equal(buddy_config_value(&def, k->section, k->key, v, sizeof(v), &setd),
				 0);
		assert_string_equal(v, k->def); /* the built-in value is the table's text */
		assert_false(setd);
		assert_int_equal(buddy_config_value(&c, k->section, k->key, w, sizeof(w), &set), 0);
		assert_string_equal(w, v);
		assert_true(set == (k->def[0] != '\0'));
	}
	assert_int_equal(c.nlisten, 0);
	assert_int_equal(c.nadvertise, 0);
	assert_int_equal(c.log_level, BUDDY_LOG_INFO);
	assert_int_equal(def.log_level, BUDDY_LOG_INFO);
	buddy_config_free(&c);
	/* every concrete key: known, and hooks.* stands for each event kind */
	while (buddy_config_key_at(count, &sec, &key)) {
		assert_int_equal(buddy_config_value(&def, sec, key, v, sizeof(v), &set), 0);
		count++;
	}
	assert_true(count > 20);
	assert_int_equal(buddy_config_value(&def, "hooks", "checkin", v, sizeof(v), &set), 0);
	assert_int_equal(buddy_config_value(&def, "hooks", "*", v, sizeof(v), &set),
			 BUDDY_E_NOTFOUND);
	assert_int_equal(buddy_config_value(&def, "peer", "bogus", v, sizeof(v), &set),
			 BUDDY_E_NOTFOUND);
	assert_int_equal(buddy_config_value(&def, "daemon", "log_level", v, sizeof(v), &set), 0);
	buddy_config_free(&def);
}

/* [peer] listen/advertise and [daemon] log_level */
static void test_addrs_and_log_level(void **state)
{
	struct buddy_config c;
	char err[512], v[256];
	bool set;

	(void)state;
	assert_int_equal(load("[peer]\nlisten = 127.0.0.1:0 [::1]:7000\tadvertise = x\n", &c, err,
			      sizeof(err)),
			 BUDDY_E_INVALID);
	buddy_config_free(&c);
	assert_int_equal(load("[peer]\nlisten = 127.0.0.1:0  [::1]:7000\n"
			      "advertise = 192.0.2.1:7654\n[daemon]\nlog_level = debug\n",
			      &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[0].host, "127.0.0.1");
	assert_int_equal(c.listen[0].port, 0);
	assert_string_equal(c.listen[1].host, "::1");
	assert_int_equal(c.listen[1].port, 7000);
	assert_int_equal(c.nadvertise, 1);
	assert_int_equal(c.advertise[0].port, 7654);
	assert_int_equal(c.log_level, BUDDY_LOG_DEBUG);
	assert_int_equal(buddy_config_value(&c, "peer", "listen", v, sizeof(v), &set), 0);
	assert_string_equal(v, "127.0.0.1:0 [::1]:7000");
	assert_true(set);
	buddy_config_free(&c);
	/* a host without a port gets the default one, as with --listen */
	assert_int_equal(load("[peer]\nlisten = 10.0.0.1\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.listen[0].port, 7654);
	buddy_config_free(&c);
	/* every error: FILE:LINE: key: why */
	refused("[peer]\nlisten = localhost:7654\n",
		"config:2: listen: \"localhost:7654\" is not HOST:PORT");
	refused("[peer]\n\nadvertise = 192.0.2.1:0\n",
		"config:3: advertise: \"192.0.2.1:0\" is not HOST:PORT with a numeric IPv4 or "
		"[IPv6] host and a port other than 0");
	refused("[peer]\nlisten = 1.1.1.1:1 1.1.1.1:2 1.1.1.1:3 1.1.1.1:4 1.1.1.1:5 1.1.1.1:6 "
		"1.1.1.1:7 1.1.1.1:8 1.1.1.1:9\n",
		"config:2: listen: more than 8 addresses");
	refused("[peer]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n",
		"config:3: listen: set twice");
	refused("[daemon]\nlog_level = verbose\n",
		"config:2: log_level: \"verbose\" is not error, warn, info or debug");
	refused("[daemon]\nlog_level = info\nlog_level = info\n", "config:3: log_level: set twice");
	refused("[daemon]\nlevel = info\n",
		"config:2: level: unknown setting in [daemon] (log_level)");
	refused("[deadlines]\nremind_lead = 8d\n", "/config:2: remind_lead: ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_setting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addrs_and_log_level, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
