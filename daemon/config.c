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

#define CONFIG_FILE_MAX (64 * 1024)
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
	/* settings seen, to refuse one given twice */
	bool seen_lead, seen_grace, seen_timeout, seen_ping, seen_idle, seen_redial_max;
	bool seen_disc_enabled, seen_disc_port, seen_disc_interval;
	/* where ping and idle were set, for the check between them once the file is read */
	int ping_line, idle_line;
	bool seen_hook[BUDDY_EV_COUNT_];
};

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
		fail(p, BUDDY_E_INVALID, "%s is set twice", name);
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
		fail(p, BUDDY_E_INVALID, "%s is set twice", name);
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
		fail(p, BUDDY_E_INVALID, "hook %s is longer than %d bytes", name,
		     BUDDY_HOOK_LINE_MAX);
		return;
	}
	for (const char *c = value; *c; c++) {
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			fail(p, BUDDY_E_INVALID, "hook %s has a control character", name);
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
			     "hook %s has more than %d words (program and arguments)", name,
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
		fail(p, BUDDY_E_INVALID, "hook %s is empty", name);
		return;
	}
	if (cmd->argv[0][0] != '/')
		fail(p, BUDDY_E_INVALID,
		     "hook %s: \"%.64s\" is not an absolute path (buddyd does not search PATH, and "
		     "its working directory is not yours)",
		     name, cmd->argv[0]);
}

static int on_setting(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct buddy_config *c = p->c;

	if (p->err_line)
		return 1; /* only the first error is reported: the rest is not looked at */
	if (!strcmp(section, "deadlines")) {
		if (!strcmp(name, "remind_lead"))
			set_duration(p, name, value, &p->seen_lead, &c->remind_lead_s, 0,
				     DEADLINE_MAX, "0 to 7d");
		else if (!strcmp(name, "miss_grace"))
			set_duration(p, name, value, &p->seen_grace, &c->miss_grace_s, 0,
				     DEADLINE_MAX, "0 to 7d");
		else
			fail(p, BUDDY_E_INVALID,
			     "unknown setting \"%.64s\" in [deadlines] (remind_lead, miss_grace)",
			     name);
	} else if (!strcmp(section, "hooks")) {
		enum buddy_event_kind k;
		int slot;

		if (!strcmp(name, "timeout")) {
			set_duration(p, name, value, &p->seen_timeout, &c->hook_timeout_s,
				     TIMEOUT_MIN, TIMEOUT_MAX, "1s to 10m");
			return !p->err_line;
		}
		if (!strcmp(name, "default")) {
			slot = 0;
		} else {
			k = buddy_event_kind_parse(name, strlen(name));
			if ((int)k <= 0 || k >= BUDDY_EV_COUNT_) {
				fail(p, BUDDY_E_INVALID,
				     "unknown setting \"%.64s\" in [hooks] (an event kind, default "
				     "or timeout)",
				     name);
				return 0;
			}
			slot = (int)k;
		}
		if (p->seen_hook[slot]) {
			fail(p, BUDDY_E_INVALID, "hook %s is set twice", name);
			return 0;
		}
		p->seen_hook[slot] = true;
		set_hook(p, name, value, &c->hooks[slot]);
	} else if (!strcmp(section, "peer")) {
		if (!strcmp(name, "ping")) {
			p->ping_line = p->line;
			set_duration(p, name, value, &p->seen_ping, &c->peer_ping_s, 1,
				     PEER_TIMER_MAX, "1s to 1h");
		} else if (!strcmp(name, "idle")) {
			p->idle_line = p->line;
			set_duration(p, name, value, &p->seen_idle, &c->peer_idle_s, 2,
				     PEER_TIMER_MAX, "2s to 1h");
		} else if (!strcmp(name, "redial_max")) {
			set_duration(p, name, value, &p->seen_redial_max, &c->peer_redial_max_s, 1,
				     PEER_TIMER_MAX, "1s to 1h");
		} else {
			fail(p, BUDDY_E_INVALID,
			     "unknown setting \"%.64s\" in [peer] (ping, idle, redial_max)", name);
		}
	} else if (!strcmp(section, "discovery")) {
		if (!strcmp(name, "enabled")) {
			set_bool(p, name, value, &p->seen_disc_enabled, &c->discovery_enabled);
		} else if (!strcmp(name, "port")) {
			/* a duration without a suffix is a plain number: the same strict parser */
			if (p->seen_disc_port) {
				fail(p, BUDDY_E_INVALID, "port is set twice");
			} else {
				p->seen_disc_port = true;
				c->discovery_port = parse_duration(value, 1, 65535);
				if (c->discovery_port < 0 || value[strspn(value, "0123456789")])
					fail(p, BUDDY_E_INVALID,
					     "port: \"%.32s\" is not a number from 1 to 65535",
					     value);
			}
		} else if (!strcmp(name, "interval")) {
			set_duration(p, name, value, &p->seen_disc_interval,
				     &c->discovery_interval_s, 1, DISC_INTERVAL_MAX, "1s to 1h");
		} else {
			fail(p, BUDDY_E_INVALID,
			     "unknown setting \"%.64s\" in [discovery] (enabled, port, interval)",
			     name);
		}
	} else if (!*section) {
		fail(p, BUDDY_E_INVALID, "setting \"%.64s\" outside a section", name);
	} else {
		/* the reader refused the header already; this keeps the rule in one more place */
		fail(p, BUDDY_E_INVALID, "unknown section [%.64s]", section);
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
			if (!(n == 9 && !strncmp(q + 1, "deadlines", 9)) &&
			    !(n == 5 && !strncmp(q + 1, "hooks", 5)) &&
			    !(n == 4 && !strncmp(q + 1, "peer", 4)) &&
			    !(n == 9 && !strncmp(q + 1, "discovery", 9)))
				fail(p, BUDDY_E_INVALID,
				     "unknown section [%.*s] (deadlines, hooks, peer, discovery)",
				     (int)(n > 64 ? 64 : n), q + 1);
		}
	}
	return str;
}

/* Reads the file at path into a NUL-terminated buffer of *len bytes (plus the NUL): *text NULL
 * when it does not exist. */
static int read_file(struct parse *p, char **text, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, e;

	*text = NULL;
	fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s", p->path, strerror(e));
		return e == EACCES ? BUDDY_E_PERM : buddy_err_from_errno(e);
	}
	if (fstat(fd, &st)) {
		e = errno;
		snprintf(err, errlen, "cannot stat %s: %s", p->path, strerror(e));
		close(fd);
		return buddy_err_from_errno(e);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", p->path);
		close(fd);
		return BUDDY_E_INVALID;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "%s is not owned by this user (it names programs buddyd runs): chown it "
			 "or remove it",
			 p->path);
		close(fd);
		return BUDDY_E_PERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
			 "%s is writable by group or others (it names programs buddyd runs): "
			 "chmod go-w %s",
			 p->path, p->path);
		close(fd);
		return BUDDY_E_PERM;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s is larger than %d bytes", p->path, CONFIG_FILE_MAX);
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
			snprintf(err, errlen, "cannot read %s: %s", p->path, strerror(e));
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
			snprintf(err, errlen, "%s line %d: a NUL byte", path, line);
			return BUDDY_E_INVALID;
		}
		if (i == len || text[i] == '\n') {
			size_t n = i - start;

			if (n && text[i - 1] == '\r')
				n--;
			if (n > CONFIG_LINE_MAX) {
				snprintf(err, errlen, "%s line %d: longer than %d bytes", path,
					 line, CONFIG_LINE_MAX);
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
		     p->seen_ping ? "" : ", the default: set ping too");
	else
		fail(p, BUDDY_E_INVALID, "ping: %llds is not shorter than idle (%llds%s)",
		     (long long)c->peer_ping_s, (long long)c->peer_idle_s,
		     p->seen_idle ? "" : ", the default: set idle too");
}

int buddy_config_load(const char *path, struct buddy_config *c, char *err, size_t errlen)
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
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.c = c;
	rc = read_file(&p, &text, &len, err, errlen);
	if (rc || !text)
		return rc;
	rc = check_lines(text, len, err, errlen, path);
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
			 "%s line %d: not a [section] header nor a \"name = value\" setting", path,
			 r);
		rc = BUDDY_E_INVALID;
	} else if (p.err_line) {
		snprintf(err, errlen, "%s line %d: %s", path, p.err_line, p.msg);
		rc = p.err_code;
	} else if (r) {
		snprintf(err, errlen, "%s: cannot parse", path);
		rc = BUDDY_E_INVALID;
	}
	if (rc) {
		buddy_config_free(c);
		set_defaults(c);
	}
	return rc;
}
