/* The daemon's configuration file (see buddy/config.h), read with inih.
 *
 * The file is read whole into memory first (bounded), so that it is checked once: regular,
 * owned by us, not writable by group or others (it names programs buddyd will run), no NUL
 * byte, no line longer than inih's line buffer (inih would cut such a line in two and parse the
 * rest as a line of its own). Then inih parses it through a reader that counts lines, so that
 * the handler, called right after the line it is about was read, knows its number (inih as
 * packaged calls the handler without one). Section headers are checked by the reader too: inih
 * says nothing of a section without settings. */
#include "buddy/config.h"
#include "buddy/discovery.h"
#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_MAX BUDDY_CONFIG_FILE_MAX
/* inih's line buffer is INI_MAX_LINE bytes, 3 more than the longest line it reads whole */
#define CONFIG_LINE_MAX (INI_MAX_LINE - 3)

#define DEFAULT_REMIND_LEAD  (3 * 3600)
#define DEFAULT_MISS_GRACE   3600
#define DEFAULT_HOOK_TIMEOUT 10
#define DEADLINE_MAX	     (7 * 86400)
#define TIMEOUT_MIN	     1
#define TIMEOUT_MAX	     (10 * 60)
/* [peer]: the defaults are the protocol's (PROTOCOL.md 9.2, 9.3) */
#define DEFAULT_PEER_PING	(BUDDY_PEER_PING_MS / 1000)
#define DEFAULT_PEER_IDLE	(BUDDY_PEER_IDLE_MS / 1000)
#define DEFAULT_PEER_REDIAL_MAX (BUDDY_PEER_REDIAL_MAX_MS / 1000)
#define PEER_TIMER_MAX		3600
/* [discovery]: PROTOCOL.md 16 */
#define DISC_INTERVAL_MAX 3600

enum { SEC_NONE, SEC_DEADLINES, SEC_HOOKS, SEC_UNKNOWN };

struct parse {
	const char *path;
	struct buddy_config *c;
	/* the text and where the reader is in it */
	const char *text, *pos;
	int line;
	/* the first error: its line and message */
	int err_line;
	int err_code;
	char msg[256];
	/* where ping and idle were set, for the check between them once the file is read */
	int ping_line, idle_line;
};

/* The keys (config.h); the order is that of enum key below. */
enum key {
	K_REMIND_LEAD,
	K_MISS_GRACE,
	K_HOOK_TIMEOUT,
	K_HOOK_DEFAULT,
	K_HOOK_KIND,
	K_PING,
	K_IDLE,
	K_REDIAL_MAX,
	K_LISTEN,
	K_ADVERTISE,
	K_DISC_ENABLED,
	K_DISC_PORT,
	K_DISC_INTERVAL,
	K_LOG_LEVEL,
	K_COUNT_
};

const struct buddy_config_key buddy_config_keys[] = {
	[K_REMIND_LEAD] = {"deadlines", "remind_lead", "3h",
			   "how long before my period ends I am reminded (0 to 7d)"},
	[K_MISS_GRACE] = {"deadlines", "miss_grace", "1h",
			  "how long after a buddy's period ends it counts as missed (0 to 7d)"},
	[K_HOOK_TIMEOUT] = {"hooks", "timeout", "10s",
			    "a hook still running after this is killed (1s to 10m)"},
	[K_HOOK_DEFAULT] = {"hooks", "default", "",
			    "program and arguments run for events without a hook of their own"},
	[K_HOOK_KIND] = {"hooks", "*", "",
			 "program and arguments run for this event kind (checkin, note, ...)"},
	[K_PING] = {"peer", "ping", "30s",
		    "a session that received nothing this long is pinged (1s to 1h)"},
	[K_IDLE] = {"peer", "idle", "90s",
		    "and closed after this long (longer than ping, 2s to 1h)"},
	[K_REDIAL_MAX] = {"peer", "redial_max", "5m",
			  "redial delays double from 1s up to this (1s to 1h)"},
	[K_LISTEN] = {"peer", "listen", "",
		      "HOST:PORT ... where buddies connect (none: 0.0.0.0:7654 and [::]:7654)"},
	[K_ADVERTISE] = {"peer", "advertise", "",
			 "HOST:PORT ... where buddies should dial me (none: the listen ones)"},
	[K_DISC_ENABLED] = {"discovery", "enabled", "yes",
			    "LAN beacons for my buddies, and listening for theirs (yes or no)"},
	[K_DISC_PORT] = {"discovery", "port", "7655",
			 "the UDP port of the beacons (1 to 65535; buddies must agree)"},
	[K_DISC_INTERVAL] = {"discovery", "interval", "30s",
			     "between rounds of beacons (1s to 1h)"},
	[K_LOG_LEVEL] = {"daemon", "log_level", "info", "error, warn, info or debug"},
	[K_COUNT_] = {NULL, NULL, NULL, NULL},
};

_Static_assert(K_COUNT_ <= sizeof(((struct buddy_config *)0)->set), "config set[] too small");

static const char *const sections[] = {"deadlines", "hooks", "peer", "daemon", "discovery"};
#define SECTIONS_TEXT "deadlines, hooks, peer, daemon, discovery"

/* The row of section.name; the "*" row for an event kind name in [hooks]; -1 when unknown. */
static int find_key(const char *section, const char *name, int *kind)
{
	*kind = -1;
	for (int i = 0; i < K_COUNT_; i++) {
		if (strcmp(buddy_config_keys[i].section, section) || i == K_HOOK_KIND)
			continue;
		if (!strcmp(buddy_config_keys[i].key, name))
			return i;
	}
	if (!strcmp(section, "hooks")) {
		enum buddy_event_kind k = buddy_event_kind_parse(name, strlen(name));

		if ((int)k > 0 && k < BUDDY_EV_COUNT_) {
			*kind = (int)k;
			return K_HOOK_KIND;
		}
	}
	return -1;
}

/* "a, b, c": the keys of section, for messages */
static void section_keys(const char *section, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < K_COUNT_ && n < cap; i++) {
		const struct buddy_config_key *k = &buddy_config_keys[i];

		if (strcmp(k->section, section))
			continue;
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "",
				      strcmp(k->key, "*") ? k->key : "an event kind");
	}
}

static void fail(struct parse *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct parse *p, int code, const char *fmt, ...)
{
	va_list ap;

	if (p->err_line)
		return; /* the first error is the one reported */
	p->err_line = p->line;
	p->err_code = code;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
}

static void set_defaults(struct buddy_config *c)
{
	memset(c, 0, sizeof(*c));
	c->remind_lead_s = DEFAULT_REMIND_LEAD;
	c->miss_grace_s = DEFAULT_MISS_GRACE;
	c->hook_timeout_s = DEFAULT_HOOK_TIMEOUT;
	c->peer_ping_s = DEFAULT_PEER_PING;
	c->peer_idle_s = DEFAULT_PEER_IDLE;
	c->peer_redial_max_s = DEFAULT_PEER_REDIAL_MAX;
	c->discovery_enabled = true;
	c->discovery_port = BUDDY_DISC_PORT;
	c->discovery_interval_s = BUDDY_DISC_INTERVAL_S;
	c->log_level = BUDDY_LOG_INFO;
}

void buddy_config_free(struct buddy_config *c)
{
	if (!c)
		return;
	for (int k = 0; k < BUDDY_EV_COUNT_; k++) {
		for (int i = 0; i < BUDDY_HOOK_ARGS_MAX && c->hooks[k].argv[i]; i++)
			free(c->hooks[k].argv[i]);
		memset(&c->hooks[k], 0, sizeof(c->hooks[k]));
	}
}

const struct buddy_hook_cmd *buddy_config_hook(const struct buddy_config *c,
					       enum buddy_event_kind kind)
{
	if (!c)
		return NULL;
	if ((int)kind > 0 && kind < BUDDY_EV_COUNT_ && c->hooks[kind].argv[0])
		return &c->hooks[kind];
	if (c->hooks[0].argv[0])
		return &c->hooks[0];
	return NULL;
}

/* "90", "90s", "15m", "3h", "2d": seconds in [min, max]; -1 when malformed or out of bounds. */
static int64_t parse_duration(const char *s, int64_t min, int64_t max)
{
	int64_t n = 0, unit = 1;
	const char *q = s;

	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		n = n * 10 + (*q - '0');
		if (n > max)
			return -1; /* also keeps the next step from overflowing */
	}
	switch (*q) {
	case '\0':
		break;
	case 's':
		q++;
		break;
	case 'm':
		unit = 60, q++;
		break;
	case 'h':
		unit = 3600, q++;
		break;
	case 'd':
		unit = 86400, q++;
		break;
	default:
		return -1;
	}
	if (*q || n > max / unit)
		return -1;
	n *= unit;
	return n < min ? -1 : n;
}

static void set_duration(struct parse *p, const char *name, const char *value, bool *seen,
			 int64_t *out, int64_t min, int64_t max, const char *bounds)
{
	int64_t v;

	if (*seen) {
		fail(p, BUDDY_E_INVALID, "%s: set twice", name);
		return;
	}
	*seen = true;
	v = parse_duration(value, min, max);
	if (v < 0) {
		fail(p, BUDDY_E_INVALID,
		     "%s: \"%.32s\" is not a duration from %s (a number with s, m, h or d)", name,
		     value, bounds);
		return;
	}
	*out = v;
}

/* yes/no, true/false, on/off, 1/0 */
static void set_bool(struct parse *p, const char *name, const char *value, bool *seen, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	if (*seen) {
		fail(p, BUDDY_E_INVALID, "%s: set twice", name);
		return;
	}
	*seen = true;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(value, yes[i])) {
			*out = true;
			return;
		}
		if (!strcmp(value, no[i])) {
			*out = false;
			return;
		}
	}
	fail(p, BUDDY_E_INVALID, "%s: \"%.32s\" is not yes or no", name, value);
}

/* "/path/prog arg arg": split on spaces and tabs into cmd, each word its own allocation. */
static void set_hook(struct parse *p, const char *name, const char *value,
		     struct buddy_hook_cmd *cmd)
{
	size_t n = 0;
	const char *q = value;

	if (strlen(value) > BUDDY_HOOK_LINE_MAX) {
		fail(p, BUDDY_E_INVALID, "%s: the hook is longer than %d bytes", name,
		     BUDDY_HOOK_LINE_MAX);
		return;
	}
	for (const char *c = value; *c; c++) {
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			fail(p, BUDDY_E_INVALID, "%s: the hook has a control character", name);
			return;
		}
	}
	for (;;) {
		size_t len;

		while (*q == ' ' || *q == '\t')
			q++;
		if (!*q)
			break;
		len = strcspn(q, " \t");
		if (n == BUDDY_HOOK_ARGS_MAX) {
			fail(p, BUDDY_E_INVALID,
			     "%s: the hook has more than %d words (program and arguments)", name,
			     BUDDY_HOOK_ARGS_MAX);
			return;
		}
		cmd->argv[n] = strndup(q, len);
		if (!cmd->argv[n]) {
			fail(p, BUDDY_E_NOMEM, "out of memory");
			return;
		}
		n++;
		q += len;
	}
	if (!n) {
		fail(p, BUDDY_E_INVALID, "%s: the hook is empty", name);
		return;
	}
	if (cmd->argv[0][0] != '/')
		fail(p, BUDDY_E_INVALID,
		     "%s: \"%.64s\" is not an absolute path (buddyd does not search PATH, and "
		     "its working directory is not yours)",
		     name, cmd->argv[0]);
}

/* "HOST:PORT HOST:PORT ...": at most BUDDY_PEER_ADDRS_MAX, each as buddyd's --listen (port 0
 * allowed) or --advertise takes it. */
static void set_addrs(struct parse *p, const char *name, const char *value, bool listen,
		      struct buddy_addr *out, size_t *n)
{
	const char *q = value;

	*n = 0;
	for (;;) {
		char word[BUDDY_ADDR_HOST_MAX + 16];
		size_t len;

		while (*q == ' ' || *q == '\t')
			q++;
		if (!*q)
			break;
		len = strcspn(q, " \t");
		if (*n == BUDDY_PEER_ADDRS_MAX) {
			fail(p, BUDDY_E_INVALID, "%s: more than %d addresses", name,
			     BUDDY_PEER_ADDRS_MAX);
			return;
		}
		if (len >= sizeof(word) ||
		    (snprintf(word, sizeof(word), "%.*s", (int)len, q),
		     listen ? buddy_config_parse_listen(word, &out[*n])
			    : buddy_config_parse_advertise(word, &out[*n]))) {
			fail(p, BUDDY_E_INVALID,
			     "%s: \"%.*s\" is not HOST:PORT with a numeric IPv4 or [IPv6] host%s",
			     name, (int)(len > 64 ? 64 : len), q,
			     listen ? "" : " and a port other than 0");
			return;
		}
		(*n)++;
		q += len;
	}
}

static int on_setting(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct buddy_config *c = p->c;
	int key, kind, slot;
	char keys[160];

	if (p->err_line)
		return 1; /* only the first error is reported: the rest is not looked at */
	if (!*section) {
		fail(p, BUDDY_E_INVALID, "%.64s: a setting outside a section", name);
		return 0;
	}
	key = find_key(section, name, &kind);
	if (key < 0) {
		bool known = false;

		for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
			known = known || !strcmp(section, sections[i]);
		if (!known) {
			/* the reader refused the header already; this keeps the rule in one more
			 * place */
			fail(p, BUDDY_E_INVALID, "[%.64s]: unknown section (" SECTIONS_TEXT ")",
			     section);
			return 0;
		}
		section_keys(section, keys, sizeof(keys));
		fail(p, BUDDY_E_INVALID, "%.64s: unknown setting in [%s] (%s)", name, section,
		     keys);
		return 0;
	}
	switch (key) {
	case K_REMIND_LEAD:
		set_duration(p, name, value, &c->set[key], &c->remind_lead_s, 0, DEADLINE_MAX,
			     "0 to 7d");
		break;
	case K_MISS_GRACE:
		set_duration(p, name, value, &c->set[key], &c->miss_grace_s, 0, DEADLINE_MAX,
			     "0 to 7d");
		break;
	case K_HOOK_TIMEOUT:
		set_duration(p, name, value, &c->set[key], &c->hook_timeout_s, TIMEOUT_MIN,
			     TIMEOUT_MAX, "1s to 10m");
		break;
	case K_HOOK_DEFAULT:
	case K_HOOK_KIND:
		slot = key == K_HOOK_DEFAULT ? 0 : kind;
		if (c->hook_set[slot]) {
			fail(p, BUDDY_E_INVALID, "%s: set twice", name);
			break;
		}
		c->hook_set[slot] = true;
		c->set[key] = true;
		set_hook(p, name, value, &c->hooks[slot]);
		break;
	case K_PING:
		p->ping_line = p->line;
		set_duration(p, name, value, &c->set[key], &c->peer_ping_s, 1, PEER_TIMER_MAX,
			     "1s to 1h");
		break;
	case K_IDLE:
		p->idle_line = p->line;
		set_duration(p, name, value, &c->set[key], &c->peer_idle_s, 2, PEER_TIMER_MAX,
			     "2s to 1h");
		break;
	case K_REDIAL_MAX:
		set_duration(p, name, value, &c->set[key], &c->peer_redial_max_s, 1, PEER_TIMER_MAX,
			     "1s to 1h");
		break;
	case K_LISTEN:
	case K_ADVERTISE:
		if (c->set[key]) {
			fail(p, BUDDY_E_INVALID, "%s: set twice", name);
			break;
		}
		c->set[key] = true;
		if (key == K_LISTEN)
			set_addrs(p, name, value, true, c->listen, &c->nlisten);
		else
			set_addrs(p, name, value, false, c->advertise, &c->nadvertise);
		break;
	case K_DISC_ENABLED:
		set_bool(p, name, value, &c->set[key], &c->discovery_enabled);
		break;
	case K_DISC_PORT:
		/* a duration without a suffix is a plain number: the same strict parser */
		if (c->set[key]) {
			fail(p, BUDDY_E_INVALID, "port: set twice");
			break;
		}
		c->set[key] = true;
		c->discovery_port = parse_duration(value, 1, 65535);
		if (c->discovery_port < 0 || value[strspn(value, "0123456789")])
			fail(p, BUDDY_E_INVALID, "port: \"%.32s\" is not a number from 1 to 65535",
			     value);
		break;
	case K_DISC_INTERVAL:
		set_duration(p, name, value, &c->set[key], &c->discovery_interval_s, 1,
			     DISC_INTERVAL_MAX, "1s to 1h");
		break;
	case K_LOG_LEVEL:
		if (c->set[key]) {
			fail(p, BUDDY_E_INVALID, "log_level: set twice");
			break;
		}
		c->set[key] = true;
		if (buddy_log_level_parse(value, &c->log_level))
			fail(p, BUDDY_E_INVALID,
			     "log_level: \"%.32s\" is not error, warn, info or debug", value);
		break;
	default:
		break;
	}
	return !p->err_line;
}

/* inih's fgets-style reader over the text: one whole line per call (the lines were checked to
 * fit), counting them, and checking section headers as they go by. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *end, *q;
	size_t len;

	if (!*p->pos)
		return NULL;
	end = strchr(p->pos, '\n');
	len = end ? (size_t)(end - p->pos) + 1 : strlen(p->pos);
	if (len > (size_t)num - 1)
		len = (size_t)num - 1; /* cannot happen: lines were checked */
	memcpy(str, p->pos, len);
	str[len] = '\0';
	p->pos += len;
	p->line++;

	q = str;
	if (p->line == 1 && !strncmp(q, "\xef\xbb\xbf", 3))
		q += 3;
	q += strspn(q, " \t\r");
	if (*q == '[') {
		size_t n = strcspn(q + 1, "]\n");

		if (q[1 + n] == ']') {
			bool known = false;

			for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
				known = known || (strlen(sections[i]) == n &&
						  !strncmp(q + 1, sections[i], n));
			if (!known)
				fail(p, BUDDY_E_INVALID,
				     "[%.*s]: unknown section (" SECTIONS_TEXT ")",
				     (int)(n > 64 ? 64 : n), q + 1);
		}
	}
	return str;
}

/* Reads the file at path into a NUL-terminated buffer of *len bytes (plus the NUL): *text NULL
 * when it does not exist. */
int buddy_config_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, e;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		return e == EACCES ? BUDDY_E_PERM : buddy_err_from_errno(e);
	}
	if (fstat(fd, &st)) {
		e = errno;
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(e));
		close(fd);
		return buddy_err_from_errno(e);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return BUDDY_E_INVALID;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "%s is not owned by this user (it names programs buddyd runs): chown it "
			 "or remove it",
			 path);
		close(fd);
		return BUDDY_E_PERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
			 "%s is writable by group or others (it names programs buddyd runs): "
			 "chmod go-w %s",
			 path, path);
		close(fd);
		return BUDDY_E_PERM;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s is larger than %d bytes", path, CONFIG_FILE_MAX);
		close(fd);
		return BUDDY_E_INVALID;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return BUDDY_E_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
			free(buf);
			close(fd);
			return buddy_err_from_errno(e);
		}
		if (r == 0)
			break; /* shrank meanwhile: what was read is the file */
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* NUL bytes and over-long lines, which inih would misread: the first one's line, or 0. */
static int check_lines(const char *text, size_t len, char *err, size_t errlen, const char *path)
{
	int line = 1;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] == '\0') {
			snprintf(err, errlen, "%s:%d: a NUL byte", path, line);
			return BUDDY_E_INVALID;
		}
		if (i == len || text[i] == '\n') {
			size_t n = i - start;

			if (n && text[i - 1] == '\r')
				n--;
			if (n > CONFIG_LINE_MAX) {
				snprintf(err, errlen, "%s:%d: longer than %d bytes", path, line,
					 CONFIG_LINE_MAX);
				return BUDDY_E_INVALID;
			}
			start = i + 1;
			line++;
		}
	}
	return 0;
}

/* A session is pinged before it is given up, or a quiet but live buddy would be dropped: idle
 * must be longer than ping, whichever of them the file sets (the other keeps its default). The
 * line named is the one set last of the two. */
static void check_peer_timers(struct parse *p)
{
	const struct buddy_config *c = p->c;

	if (c->peer_idle_s > c->peer_ping_s)
		return;
	p->line = p->idle_line > p->ping_line ? p->idle_line : p->ping_line;
	if (p->idle_line > p->ping_line)
		fail(p, BUDDY_E_INVALID, "idle: %llds is not longer than ping (%llds%s)",
		     (long long)c->peer_idle_s, (long long)c->peer_ping_s,
		     p->c->set[K_PING] ? "" : ", the default: set ping too");
	else
		fail(p, BUDDY_E_INVALID, "ping: %llds is not shorter than idle (%llds%s)",
		     (long long)c->peer_ping_s, (long long)c->peer_idle_s,
		     p->c->set[K_IDLE] ? "" : ", the default: set idle too");
}

int buddy_config_load_as(const char *path, const char *shown, struct buddy_config *c, char *err,
			 size_t errlen)
{
	struct parse p;
	char *text;
	size_t len;
	int rc, r;

	if (!c)
		return BUDDY_E_INVALID;
	set_defaults(c);
	if (errlen)
		err[0] = '\0';
	if (!path)
		return 0;
	if (!shown)
		shown = path;
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.c = c;
	rc = buddy_config_read(path, &text, &len, err, errlen);
	if (rc || !text)
		return rc;
	rc = check_lines(text, len, err, errlen, shown);
	if (rc) {
		free(text);
		return rc;
	}
	p.text = p.pos = text;
	r = ini_parse_stream(reader, &p, on_setting, &p);
	free(text);
	if (r == 0 && !p.err_line)
		check_peer_timers(&p);
	if (r == -2) {
		snprintf(err, errlen, "out of memory");
		rc = BUDDY_E_NOMEM;
	} else if (r > 0 && (!p.err_line || r < p.err_line)) {
		/* inih's own complaint: neither a section header nor name = value */
		snprintf(err, errlen,
			 "%s:%d: not a [section] header nor a \"name = value\" setting", shown, r);
		rc = BUDDY_E_INVALID;
	} else if (p.err_line) {
		snprintf(err, errlen, "%s:%d: %s", shown, p.err_line, p.msg);
		rc = p.err_code;
	} else if (r) {
		snprintf(err, errlen, "%s: cannot parse", shown);
		rc = BUDDY_E_INVALID;
	}
	if (rc) {
		buddy_config_free(c);
		set_defaults(c);
	}
	return rc;
}

int buddy_config_load(const char *path, struct buddy_config *c, char *err, size_t errlen)
{
	return buddy_config_load_as(path, path, c, err, errlen);
}

/* A listen address may use port 0 (the system picks a free one), which an address to dial
 * may not: parse it as port 1 and put the 0 back. */
int buddy_config_parse_listen(const char *arg, struct buddy_addr *out)
{
	char buf[BUDDY_ADDR_HOST_MAX + 16];
	size_t len = strlen(arg);

	if (len >= sizeof(buf))
		return BUDDY_E_INVALID;
	memcpy(buf, arg, len + 1);
	if (len > 2 && !strcmp(buf + len - 2, ":0")) {
		buf[len - 1] = '1';
		if (buddy_addr_parse(buf, 0, out))
			return BUDDY_E_INVALID;
		out->port = 0;
		return 0;
	}
	return buddy_addr_parse(buf, BUDDY_PEER_PORT, out);
}

int buddy_config_parse_advertise(const char *arg, struct buddy_addr *out)
{
	return buddy_addr_parse(arg, 0, out) ? BUDDY_E_INVALID : 0;
}

bool buddy_config_key_at(size_t i, const char **section, const char **key)
{
	for (int r = 0; r < K_COUNT_; r++) {
		if (r != K_HOOK_KIND) {
			if (i-- == 0) {
				*section = buddy_config_keys[r].section;
				*key = buddy_config_keys[r].key;
				return true;
			}
			continue;
		}
		for (int k = 1; k < BUDDY_EV_COUNT_; k++) {
			if (i-- == 0) {
				*section = "hooks";
				*key = buddy_event_kind_name((enum buddy_event_kind)k);
				return true;
			}
		}
	}
	return false;
}

/* seconds as the largest unit that divides them: 10800 is "3h" */
static void fmt_duration(int64_t s, char *out, size_t cap)
{
	if (s && s % 86400 == 0)
		snprintf(out, cap, "%lldd", (long long)(s / 86400));
	else if (s && s % 3600 == 0)
		snprintf(out, cap, "%lldh", (long long)(s / 3600));
	else if (s && s % 60 == 0)
		snprintf(out, cap, "%lldm", (long long)(s / 60));
	else
		snprintf(out, cap, "%llds", (long long)s);
}

static void fmt_addrs(const struct buddy_addr *a, size_t n, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++) {
		char one[BUDDY_ADDR_HOST_MAX + 16];

		buddy_addr_format(&a[i], one, sizeof(one));
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", one);
	}
}

static void fmt_hook(const struct buddy_hook_cmd *h, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < BUDDY_HOOK_ARGS_MAX && h->argv[i] && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", h->argv[i]);
}

int buddy_config_value(const struct buddy_config *c, const char *section, const char *key,
		       char *out, size_t cap, bool *set)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	int kind, row = find_key(section, key, &kind);

	if (row < 0)
		return BUDDY_E_NOTFOUND;
	*set = row == K_HOOK_KIND      ? c->hook_set[kind]
	       : row == K_HOOK_DEFAULT ? c->hook_set[0]
				       : c->set[row];
	switch (row) {
	case K_REMIND_LEAD:
		fmt_duration(c->remind_lead_s, out, cap);
		break;
	case K_MISS_GRACE:
		fmt_duration(c->miss_grace_s, out, cap);
		break;
	case K_HOOK_TIMEOUT:
		fmt_duration(c->hook_timeout_s, out, cap);
		break;
	case K_HOOK_DEFAULT:
		fmt_hook(&c->hooks[0], out, cap);
		break;
	case K_HOOK_KIND:
		fmt_hook(&c->hooks[kind], out, cap);
		break;
	case K_PING:
		fmt_duration(c->peer_ping_s, out, cap);
		break;
	case K_IDLE:
		fmt_duration(c->peer_idle_s, out, cap);
		break;
	case K_REDIAL_MAX:
		fmt_duration(c->peer_redial_max_s, out, cap);
		break;
	case K_LISTEN:
		fmt_addrs(c->listen, c->nlisten, out, cap);
		break;
	case K_ADVERTISE:
		fmt_addrs(c->advertise, c->nadvertise, out, cap);
		break;
	case K_DISC_ENABLED:
		snprintf(out, cap, "%s", c->discovery_enabled ? "yes" : "no");
		break;
	case K_DISC_PORT:
		snprintf(out, cap, "%lld", (long long)c->discovery_port);
		break;
	case K_DISC_INTERVAL:
		fmt_duration(c->discovery_interval_s, out, cap);
		break;
	case K_LOG_LEVEL:
		snprintf(out, cap, "%s",
			 (unsigned)c->log_level < 4 ? levels[c->log_level] : "info");
		break;
	default:
		out[0] = '\0';
		break;
	}
	return 0;
}
