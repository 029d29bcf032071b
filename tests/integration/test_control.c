/* The control socket as a hostile or clumsy client sees it: a real buddyd in a temporary home,
 * driven with raw MessagePack-RPC bytes. Each test gets its own home and daemon (setup), ends by
 * showing that a fresh connection is still served, and the teardown checks that the daemon
 * stops cleanly on SIGTERM (exit 0, no sanitizer report in its stderr).
 *
 * Run with BUDDYD=<buddyd binary> (BUDDY is not needed: homes are made with buddy_keys_create).
 * Timeouts below only bound a failure; nothing waits on a clock to synchronise. */
#include "buddy/error.h"
#include "buddy/keys.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define PASSPHRASE	 "correct horse battery staple"
#define IO_TIMEOUT_MS	 10000	    /* a failure bound, never a synchronisation */
#define START_TIMEOUT_MS 60000	    /* Argon2id under a sanitizer can be slow */
#define TEST_CLOCK	 1767225600 /* 2026-01-01T00:00:00Z */
#define MAX_CONNS	 160

struct conn {
	bool used;
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

struct fx {
	char dir[128];
	char home[160];
	char sock[192];
	char passfile[192];
	char errlog[192];
	const char *test_clock; /* BUDDY_TEST_CLOCK for the daemon, or NULL */
	pid_t pid;
	uint32_t next_msgid;
	struct conn conns[MAX_CONNS];
};

/* One decoded response; raw owns the bytes that the object's strings point into. */
struct resp {
	uint8_t *raw;
	msgpack_unpacked u;
	struct buddy_rpc_response r;
};

static const struct buddy_mp_limits response_limits = {
	.max_bytes = BUDDY_CONTROL_RESPONSE_MAX,
	.max_depth = 16,
	.max_objects = 1 << 20,
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the daemon ---- */

static void dump_errlog(const struct fx *f)
{
	char line[512];
	FILE *fp = fopen(f->errlog, "r");

	if (!fp)
		return;
	print_error("---- buddyd stderr (%s) ----\n", f->errlog);
	while (fgets(line, sizeof(line), fp))
		print_error("%s", line);
	print_error("---- end of buddyd stderr ----\n");
	fclose(fp);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Sends SIGTERM and reaps the daemon; returns its wait status, or -1 when it had to be killed
 * because it did not stop in time. */
static int daemon_stop(struct fx *f)
{
	int status = 0, pidfd, killed = 0;

	if (f->pid <= 0)
		return 0;
	pidfd = (int)syscall(SYS_pidfd_open, f->pid, 0);
	kill(f->pid, SIGTERM);
	if (pidfd >= 0) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		if (poll(&pfd, 1, IO_TIMEOUT_MS) != 1) {
			kill(f->pid, SIGKILL);
			killed = 1;
		}
		close(pidfd);
	}
	while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR)
		;
	f->pid = 0;
	return killed ? -1 : status;
}

static void daemon_start(struct fx *f)
{
	const char *bin = getenv("BUDDYD");
	int64_t deadline = now_ms() + START_TIMEOUT_MS;
	char buf[16];
	size_t got = 0;
	int p[2];

	if (!bin || !*bin)
		fail_msg("set BUDDYD to the buddyd binary");
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		char fdarg[16];
		int err = open(f->errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (err < 0 || dup2(err, 1) < 0 || dup2(err, 2) < 0 || fcntl(p[1], F_SETFD, 0))
			_exit(126);
		setenv("BUDDY_HOME", f->home, 1);
		if (f->test_clock)
			setenv("BUDDY_TEST_CLOCK", f->test_clock, 1);
		else
			unsetenv("BUDDY_TEST_CLOCK");
		/* the daemon must not rely on its parent's umask for the socket's mode */
		umask(0);
		snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
		execl(bin, "buddyd", "--listen", "127.0.0.1:0", "--passphrase-file", f->passfile,
		      "--ready-fd", fdarg, (char *)NULL);
		dprintf(2, "test_control: cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	while (got < 6) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		r = read(p[0], buf + got, sizeof(buf) - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(p[0]);
	if (got != 6 || memcmp(buf, "ready\n", 6) != 0) {
		int status = daemon_stop(f);
		dump_errlog(f);
		/* a failed setup has no teardown */
		nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		fail_msg("buddyd did not write \"ready\" on its --ready-fd (wait status %d)",
			 status);
	}
}

static bool exited_cleanly(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void daemon_restart(struct fx *f)
{
	int status = daemon_stop(f);

	if (!exited_cleanly(status)) {
		dump_errlog(f);
		fail_msg("buddyd did not stop cleanly on SIGTERM (wait status %d)", status);
	}
	daemon_start(f);
}

/* Searches the daemon's stderr for a sanitizer's report. */
static bool errlog_has_sanitizer_report(const struct fx *f)
{
	static const char *const markers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
					      "runtime error"};
	char line[1024];
	bool found = false;
	FILE *fp = fopen(f->errlog, "r");

	if (!fp)
		return false;
	while (!found && fgets(line, sizeof(line), fp))
		for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
			found = found || strstr(line, markers[i]) != NULL;
	fclose(fp);
	return found;
}

static long vmrss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	assert_true(kib > 0);
	return kib;
}

/* ---- fixtures ---- */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int setup_with_clock(void **state, const char *test_clock)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char keys[256];

	assert_non_null(f);
	/* the socket path must fit in sun_path: a long TMPDIR is not used */
	if (!tmp || !*tmp || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/buddy-control-XXXXXX", tmp);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->home, sizeof(f->home), "%s/home", f->dir);
	snprintf(f->sock, sizeof(f->sock), "%s/buddyd.sock", f->home);
	snprintf(f->passfile, sizeof(f->passfile), "%s/passphrase", f->dir);
	snprintf(f->errlog, sizeof(f->errlog), "%s/buddyd.stderr", f->dir);
	snprintf(keys, sizeof(keys), "%s/keys", f->home);
	assert_int_equal(mkdir(f->home, 0700), 0);
	{
		char journal[256];
		snprintf(journal, sizeof(journal), "%s/journal", f->home);
		assert_int_equal(mkdir(journal, 0700), 0);
	}
	assert_int_equal(buddy_keys_create(keys, PASSPHRASE, strlen(PASSPHRASE),
					   BUDDY_KDF_INTERACTIVE, NULL),
			 0);
	write_file(f->passfile, PASSPHRASE "\n");
	f->test_clock = test_clock;
	f->next_msgid = 1;
	*state = f;
	daemon_start(f);
	return 0;
}

static int setup(void **state)
{
	return setup_with_clock(state, NULL);
}

static int setup_test_clock(void **state)
{
	static char clock[32];

	snprintf(clock, sizeof(clock), "%d", TEST_CLOCK);
	return setup_with_clock(state, clock);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = 0, status;

	if (!f)
		return 0;
	for (size_t i = 0; i < MAX_CONNS; i++) {
		if (f->conns[i].used) {
			close(f->conns[i].fd);
			free(f->conns[i].buf);
		}
	}
	status = daemon_stop(f);
	if (!exited_cleanly(status)) {
		print_error("buddyd did not exit 0 on SIGTERM (wait status %d)\n", status);
		rc = -1;
	}
	if (errlog_has_sanitizer_report(f)) {
		print_error("buddyd's stderr holds a sanitizer report\n");
		rc = -1;
	}
	if (rc)
		dump_errlog(f);
	nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	*state = NULL;
	return rc;
}

/* ---- connections ---- */

static struct conn *conn_open(struct fx *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
	struct conn *c = NULL;

	for (size_t i = 0; i < MAX_CONNS && !c; i++)
		if (!f->conns[i].used)
			c = &f->conns[i];
	assert_non_null(c);
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	c->used = true;
	/* a daemon that stops reading must fail a send, not hang the test */
	assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect %s: %s", f->sock, strerror(errno));
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

/* Returns 0, or -errno when the daemon has closed the connection (EPIPE, ECONNRESET). */
static int conn_send(struct conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -errno;
		if (w < 0)
			fail_msg("send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void conn_send_all(struct conn *c, const void *p, size_t n)
{
	int rc = conn_send(c, p, n);

	if (rc)
		fail_msg("the daemon closed the connection while we were sending: %s",
			 strerror(-rc));
}

/* Reads one whole msgpack object into a fresh buffer (*obj, *len). Returns 0, or 1 when the
 * daemon closed the connection with nothing left to read. */
static int conn_recv_object(struct conn *c, uint8_t **obj, size_t *len)
{
	int64_t deadline = now_ms() + IO_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		size_t objlen = 0;
		int64_t left;
		ssize_t r;
		int rc = c->len ? buddy_mp_check(c->buf, c->len, &response_limits, &objlen) : 1;

		if (rc < 0)
			fail_msg("the daemon sent bytes that are not msgpack (%d)", rc);
		if (rc == 0) {
			*obj = malloc(objlen);
			assert_non_null(*obj);
			memcpy(*obj, c->buf, objlen);
			*len = objlen;
			memmove(c->buf, c->buf + objlen, c->len - objlen);
			c->len -= objlen;
			return 0;
		}
		if (c->cap - c->len < 4096) {
			c->cap = c->cap ? c->cap * 2 : 65536;
			assert_true(c->cap <= 2 * (size_t)BUDDY_CONTROL_RESPONSE_MAX);
			c->buf = realloc(c->buf, c->cap);
			assert_non_null(c->buf);
		}
		left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			fail_msg("no answer from the daemon within %d ms", IO_TIMEOUT_MS);
		r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			if (c->len)
				fail_msg("the daemon closed the connection in the middle of an "
					 "answer (after %zu bytes of it)",
					 c->len);
			return 1;
		}
		if (r < 0)
			fail_msg("recv: %s", strerror(errno));
		c->len += (size_t)r;
	}
}

/* Reads one response; returns 1 (and leaves r empty) when the connection was closed instead. */
static int recv_resp_or_eof(struct conn *c, struct resp *r)
{
	size_t len;

	memset(r, 0, sizeof(*r));
	msgpack_unpacked_init(&r->u);
	if (conn_recv_object(c, &r->raw, &len))
		return 1;
	assert_int_equal(buddy_mp_decode(r->raw, len, &response_limits, &r->u), 0);
	if (buddy_rpc_parse_response(&r->u.data, &r->r))
		fail_msg("the daemon sent something that is not a response");
	return 0;
}

static void recv_resp(struct conn *c, struct resp *r)
{
	if (recv_resp_or_eof(c, r))
		fail_msg("the daemon closed the connection instead of answering");
}

static void resp_free(struct resp *r)
{
	msgpack_unpacked_destroy(&r->u);
	free(r->raw);
	r->raw = NULL;
}

static void assert_closed(struct conn *c)
{
	struct resp r;

	if (!recv_resp_or_eof(c, &r)) {
		resp_free(&r);
		fail_msg("the daemon answered again where it should have closed the connection");
	}
	msgpack_unpacked_destroy(&r.u);
}

/* ---- requests ---- */

/* Counts the items of a container in a format, up to its closing bracket. */
static size_t fmt_count(const char *p)
{
	size_t n = 0;
	int depth = 0;

	for (; *p; p++) {
		if (*p == ' ')
			continue;
		if (*p == '}' || *p == ']') {
			if (depth-- == 0)
				break;
			continue;
		}
		if (depth == 0)
			n++;
		if (*p == '{' || *p == '[')
			depth++;
	}
	return n;
}

/* Packs one value of a small format: s C string, S string (ptr, size_t), x bin (ptr, size_t),
 * i int, L long long, U unsigned long long, b bool (int), n nil, {...} map (keys and values in
 * turn), [...] array. Spaces are ignored. */
static const char *fmt_pack(msgpack_packer *pk, const char *p, va_list *ap)
{
	size_t n;

	while (*p == ' ')
		p++;
	switch (*p++) {
	case 's':
		buddy_mp_pack_cstr(pk, va_arg(*ap, const char *));
		break;
	case 'S': {
		const char *s = va_arg(*ap, const char *);
		buddy_mp_pack_strn(pk, s, va_arg(*ap, size_t));
		break;
	}
	case 'x': {
		const void *b = va_arg(*ap, const void *);
		buddy_mp_pack_bin(pk, b, va_arg(*ap, size_t));
		break;
	}
	case 'i':
		msgpack_pack_int(pk, va_arg(*ap, int));
		break;
	case 'L':
		msgpack_pack_int64(pk, va_arg(*ap, long long));
		break;
	case 'U':
		msgpack_pack_uint64(pk, va_arg(*ap, unsigned long long));
		break;
	case 'b':
		if (va_arg(*ap, int))
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case 'n':
		msgpack_pack_nil(pk);
		break;
	case '{':
	case '[':
		n = fmt_count(p);
		if (p[-1] == '{') {
			assert_int_equal(n % 2, 0);
			msgpack_pack_map(pk, n / 2);
		} else {
			msgpack_pack_array(pk, n);
		}
		for (size_t i = 0; i < n; i++)
			p = fmt_pack(pk, p, ap);
		while (*p == ' ')
			p++;
		assert_true(*p == '}' || *p == ']');
		p++;
		break;
	default:
		fail_msg("bad request format at \"%s\"", p - 1);
	}
	return p;
}

/* Appends [0, msgid, method, [params]] to sb; params is a format for one map. */
static void vpack_req(msgpack_sbuffer *sb, uint32_t msgid, const char *method, const char *fmt,
		      va_list ap)
{
	msgpack_packer pk;
	va_list aq;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	assert_int_equal(buddy_rpc_pack_request_head(&pk, msgid, method), 0);
	assert_true(fmt[0] == '{');
	va_copy(aq, ap);
	fmt_pack(&pk, fmt, &aq);
	va_end(aq);
}

static void pack_req(msgpack_sbuffer *sb, uint32_t msgid, const char *method, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpack_req(sb, msgid, method, fmt, ap);
	va_end(ap);
}

/* Sends method(params) on c under a fresh msgid and reads its answer. */
static void vcall(struct fx *f, struct conn *c, struct resp *r, const char *method, const char *fmt,
		  va_list ap)
{
	uint32_t msgid = f->next_msgid++;
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	vpack_req(&sb, msgid, method, fmt, ap);
	conn_send_all(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	recv_resp(c, r);
	assert_int_equal(r->r.msgid, msgid);
}

static void call(struct fx *f, struct conn *c, struct resp *r, const char *method, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcall(f, c, r, method, fmt, ap);
	va_end(ap);
}

static void check_code(int line, const struct resp *r, int code, const char *method)
{
	if (r->r.code != code)
		fail_msg("line %d: %s: expected code %d, got %d (%.*s)", line, method, code,
			 r->r.code, (int)r->r.message_len, r->r.message ? r->r.message : "");
	if (code && r->r.message_len == 0)
		fail_msg("line %d: %s: error %d without a message", line, method, code);
}

static void call_code_at(int line, struct fx *f, struct conn *c, int code, const char *method,
			 const char *fmt, ...)
{
	struct resp r;
	va_list ap;

	va_start(ap, fmt);
	vcall(f, c, &r, method, fmt, ap);
	va_end(ap);
	check_code(line, &r, code, method);
	resp_free(&r);
}

/* CALL_OK(f, c, method, fmt, ...) and CALL_ERR(f, c, code, method, fmt, ...): one request,
 * its answer checked, failures reported with the caller's line. */
#define CALL_OK(f, c, ...)	  call_code_at(__LINE__, f, c, 0, __VA_ARGS__)
#define CALL_ERR(f, c, code, ...) call_code_at(__LINE__, f, c, code, __VA_ARGS__)
#define ASSERT_CODE(r, code)	  check_code(__LINE__, r, code, "request")

static const msgpack_object *res_get(const struct resp *r, const char *key)
{
	assert_int_equal(r->r.code, 0);
	assert_non_null(r->r.result);
	assert_int_equal(r->r.result->type, MSGPACK_OBJECT_MAP);
	return buddy_mp_get(r->r.result, key);
}

static void assert_str_is(const msgpack_object *o, const char *want)
{
	assert_non_null(o);
	if (!buddy_mp_str_eq(o, want))
		fail_msg("expected the string \"%s\"", want);
}

static uint64_t uint_of(const msgpack_object *o)
{
	uint64_t v = 0;

	assert_non_null(o);
	assert_int_equal(buddy_mp_uint(o, &v), 0);
	return v;
}

static int64_t int_of(const msgpack_object *o)
{
	int64_t v = 0;

	assert_non_null(o);
	assert_int_equal(buddy_mp_int(o, &v), 0);
	return v;
}

static bool message_contains(const struct resp *r, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; r->r.message && i + n <= r->r.message_len; i++)
		if (memcmp(r->r.message + i, needle, n) == 0)
			return true;
	return false;
}

/* What every test ends with: a fresh connection's status request is answered. */
static void assert_serves(struct fx *f)
{
	struct conn *c = conn_open(f);
	struct resp r;

	call(f, c, &r, "status", "{}");
	ASSERT_CODE(&r, 0);
	assert_non_null(res_get(&r, "state"));
	resp_free(&r);
	conn_close(c);
}

/* One counter of status (entries, records, commitments), read on a fresh connection. */
static uint64_t status_count(struct fx *f, const char *key)
{
	struct conn *c = conn_open(f);
	struct resp r;
	uint64_t v;

	call(f, c, &r, "status", "{}");
	v = uint_of(res_get(&r, key));
	resp_free(&r);
	conn_close(c);
	return v;
}

static void add_daily(struct fx *f, struct conn *c, const char *id)
{
	CALL_OK(f, c, "commit.add", "{s s s s s {s s} s s}", "id", id, "title", "A daily habit",
		"cadence", "kind", "daily", "tz", "UTC");
}

/* Sends raw bytes that cannot be framed and checks the one answer (code, msgid 0) and that
 * the daemon then closes the connection. */
static void expect_framing_error(struct fx *f, const void *bytes, size_t n, int code)
{
	struct conn *c = conn_open(f);
	struct resp r;

	conn_send_all(c, bytes, n);
	recv_resp(c, &r);
	ASSERT_CODE(&r, code);
	assert_int_equal(r.r.msgid, 0);
	resp_free(&r);
	assert_closed(c);
	conn_close(c);
}

/* ---- tests ---- */

static void test_control_status_unlocked_reports_state_and_version(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);
	const msgpack_object *v;
	struct resp r;
	bool b = true;
	/* params may also be [] or a bare map */
	static const uint8_t empty_params[] = {0x94, 0x00, 0x2a, 0xa6, 's', 't',
					       'a',  't',  'u',	 's',  0x90};
	static const uint8_t bare_map[] = {0x94, 0x00, 0x2b, 0xa6, 's', 't',
					   'a',	 't',  'u',  's',  0x80};
	/* the largest msgid comes back as it went */
	static const uint8_t max_msgid[] = {0x94, 0x00, 0xce, 0xff, 0xff, 0xff, 0xff, 0xa6,
					    's',  't',	'a',  't',  'u',  's',	0x90};

	call(f, c, &r, "status", "{}");
	ASSERT_CODE(&r, 0);
	assert_str_is(res_get(&r, "state"), "unlocked");
	v = res_get(&r, "version");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_STR);
	assert_true(v->via.str.size > 0);
	assert_int_equal(uint_of(res_get(&r, "control_version")), BUDDY_CONTROL_VERSION);
	assert_int_equal(buddy_mp_bool(res_get(&r, "locked"), &b), 0);
	assert_false(b);
	assert_int_equal(buddy_mp_bool(res_get(&r, "passphrase"), &b), 0);
	assert_true(b);
	assert_int_equal(int_of(res_get(&r, "pid")), f->pid);
	assert_str_is(res_get(&r, "home"), f->home);
	assert_int_equal(uint_of(res_get(&r, "entries")), 0);
	resp_free(&r);

	conn_send_all(c, empty_params, sizeof(empty_params));
	recv_resp(c, &r);
	ASSERT_CODE(&r, 0);
	assert_int_equal(r.r.msgid, 0x2a);
	resp_free(&r);
	conn_send_all(c, bare_map, sizeof(bare_map));
	recv_resp(c, &r);
	ASSERT_CODE(&r, 0);
	assert_int_equal(r.r.msgid, 0x2b);
	resp_free(&r);
	conn_send_all(c, max_msgid, sizeof(max_msgid));
	recv_resp(c, &r);
	ASSERT_CODE(&r, 0);
	assert_int_equal(r.r.msgid, UINT32_MAX);
	resp_free(&r);
	conn_close(c);
	assert_serves(f);
}

static void test_control_malformed_msgpack_answered_then_closed(void **state)
{
	struct fx *f = *state;
	/* 0xc1 is never used by msgpack: alone, and after a valid start of a request */
	static const uint8_t alone[] = {0xc1};
	static const uint8_t inside[] = {0x94, 0x00, 0x07, 0xc1};

	expect_framing_error(f, alone, sizeof(alone), -BUDDY_E_INVALID);
	expect_framing_error(f, inside, sizeof(inside), -BUDDY_E_INVALID);
	assert_serves(f);
}

static void test_control_ext_types_answered_then_closed(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint8_t b[24];
		size_t n;
	} cases[] = {
		{{0xd4, 0x01, 0x00}, 3},			 /* fixext 1 */
		{{0xd8, 0x01}, 2},				 /* fixext 16, header only */
		{{0xc7, 0x02, 0x05, 0xaa, 0xbb}, 5},		 /* ext 8 */
		{{0xc8, 0x00, 0x01, 0x05, 0xaa}, 5},		 /* ext 16 */
		{{0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 0xaa}, 7}, /* ext 32 */
		/* [0, 3, "status", [{"t": timestamp ext -1}]] */
		{{0x94, 0x00, 0x03, 0xa6, 's',	't',  'a',  't',  'u',	's',
		  0x91, 0x81, 0xa1, 't',  0xd6, 0xff, 0x00, 0x00, 0x00, 0x00},
		 20},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_framing_error(f, cases[i].b, cases[i].n, -BUDDY_E_INVALID);
	assert_serves(f);
}

static void test_control_envelope_wrong_types_keep_connection(void **state)
{
	struct fx *f = *state;
	/* msgid: what the error must carry; loose: 0 is accepted too (the msgid sits in an
	 * envelope already refused by its size or type) */
	static const struct {
		const char *what;
		const char *b;
		size_t n;
		uint32_t msgid;
		bool loose;
	} cases[] = {
#define B(s) s, sizeof(s) - 1
		{"a map, not an array", B("\x80"), 0, false},
		{"an integer, not an array", B("\x05"), 0, false},
		{"a string, not an array", B("\xa6status"), 0, false},
		{"an array of 3", B("\x93\x00\x07\xa6status"), 7, true},
		{"an array of 5", B("\x95\x00\x08\xa6status\x90\xc0"), 8, true},
		{"type 1 (a response)", B("\x94\x01\x09\xa6status\x90"), 9, true},
		{"type 2 (a notification)", B("\x93\x02\xa6status\x90"), 0, false},
		{"type nil", B("\x94\xc0\x0a\xa6status\x90"), 10, true},
		{"msgid a string",
		 B("\x94\x00\xa1"
		   "9"
		   "\xa6status\x90"),
		 0, false},
		{"msgid negative", B("\x94\x00\xff\xa6status\x90"), 0, false},
		{"msgid over 32 bits",
		 B("\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa6status\x90"), 0, false},
		{"method an int", B("\x94\x00\x0b\x05\x90"), 11, false},
		{"method nil", B("\x94\x00\x0c\xc0\x90"), 12, false},
		{"method bin", B("\x94\x00\x0d\xc4\x06status\x90"), 13, false},
		{"params a string", B("\x94\x00\x0e\xa6status\xa1x"), 14, false},
		{"params an int", B("\x94\x00\x0f\xa6status\x05"), 15, false},
		{"params [1]", B("\x94\x00\x10\xa6status\x91\x01"), 16, false},
		{"params [{}, {}]", B("\x94\x00\x11\xa6status\x92\x80\x80"), 17, false},
		{"params nil", B("\x94\x00\x12\xa6status\xc0"), 18, false},
#undef B
	};
	struct conn *c = conn_open(f);
	struct resp r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conn_send_all(c, cases[i].b, cases[i].n);
		recv_resp(c, &r);
		if (r.r.code != -BUDDY_E_INVALID)
			fail_msg("%s: expected code 1, got %d", cases[i].what, r.r.code);
		assert_true(r.r.message_len > 0);
		if (r.r.msgid != cases[i].msgid && !(cases[i].loose && r.r.msgid == 0))
			fail_msg("%s: the error carries msgid %u, expected %u", cases[i].what,
				 r.r.msgid, cases[i].msgid);
		resp_free(&r);
		/* the same connection goes on */
		call(f, c, &r, "status", "{}");
		ASSERT_CODE(&r, 0);
		resp_free(&r);
	}
	{
		/* a method name over 64 bytes is not a request either; its msgid is readable */
		char longname[80];
		memset(longname, 'm', 65);
		longname[65] = 0;
		call(f, c, &r, longname, "{}");
		ASSERT_CODE(&r, -BUDDY_E_INVALID);
		resp_free(&r);
	}
	conn_close(c);
	assert_serves(f);
}

static void test_control_unknown_method_named_in_error(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);
	struct resp r;

	call(f, c, &r, "no.such.method", "{}");
	ASSERT_CODE(&r, -BUDDY_E_METHOD);
	assert_true(message_contains(&r, "no.such.method"));
	resp_free(&r);
	call(f, c, &r, "STATUS", "{}");
	ASSERT_CODE(&r, -BUDDY_E_METHOD);
	assert_true(message_contains(&r, "STATUS"));
	resp_free(&r);
	CALL_ERR(f, c, -BUDDY_E_METHOD, "", "{}");
	CALL_OK(f, c, "status", "{}");
	conn_close(c);
	assert_serves(f);
}

static void test_control_wrong_param_types_invalid_journal_unchanged(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);
	const int inv = -BUDDY_E_INVALID;
	uint64_t entries, records, commits;
	static const char bytes[] = "hello";

	add_daily(f, c, "run");
	CALL_OK(f, c, "checkin", "{s s s s}", "commit", "run", "status", "done");
	entries = status_count(f, "entries");
	records = status_count(f, "records");
	commits = status_count(f, "commitments");
	assert_int_equal(entries, 1);

	/* commit.add */
	CALL_ERR(f, c, inv, "commit.add", "{s i s s s {s s} s s}", "id", 5, "title", "T", "cadence",
		 "kind", "daily", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s s}", "id",
		 "an-id-that-is-longer-than-32-bytes", "title", "T", "cadence", "kind", "daily",
		 "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s s}", "id", "Not A Slug!", "title",
		 "T", "cadence", "kind", "daily", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s {s s} s s}", "id", "walk", "cadence", "kind",
		 "daily", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s i s {s s} s s}", "id", "walk", "title", 7,
		 "cadence", "kind", "daily", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s s s s}", "id", "walk", "title", "T",
		 "cadence", "daily", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s [s] s s}", "id", "walk", "title", "T",
		 "cadence", "daily", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "hourly", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "weekly", "n", "2", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s s i} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "weekly", "n", 0, "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s s i} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "weekly", "n", -3, "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s s U} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "monthly", "n", 1ULL << 40, "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s s i} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "daily", "n", 2, "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "by", "by", "2026-02-30", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "by", "tz", "UTC");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "daily", "tz", "Mars/Olympus_Mons");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "daily", "tz", "../../../../etc/passwd");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "daily", "tz", "/etc/passwd");
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s} s i}", "id", "walk", "title", "T",
		 "cadence", "kind", "daily", "tz", 1);
	CALL_ERR(f, c, inv, "commit.add", "{s s s s s {s s}}", "id", "walk", "title", "T",
		 "cadence", "kind", "daily");
	/* keys that are not strings do not count */
	CALL_ERR(f, c, inv, "commit.add", "{i s i s}", 1, "walk", 2, "T");

	/* checkin */
	CALL_ERR(f, c, inv, "checkin", "{s s s s}", "commit", "run", "status", "maybe");
	CALL_ERR(f, c, inv, "checkin", "{s s}", "commit", "run");
	CALL_ERR(f, c, inv, "checkin", "{s s s i}", "commit", "run", "status", 1);
	CALL_ERR(f, c, inv, "checkin", "{s s}", "status", "done");
	CALL_ERR(f, c, inv, "checkin", "{s i s s}", "commit", 1, "status", "done");
	CALL_ERR(f, c, inv, "checkin", "{s s s s s s}", "commit", "run", "status", "done", "value",
		 "ten");
	CALL_ERR(f, c, inv, "checkin", "{s s s s s s}", "commit", "run", "status", "done", "tags",
		 "a,b");
	CALL_ERR(f, c, inv, "checkin", "{s s s s s [sssssssssssssssss]}", "commit", "run", "status",
		 "done", "tags", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
		 "n", "o", "p", "q");
	CALL_ERR(f, c, inv, "checkin", "{s s s s s [i]}", "commit", "run", "status", "done", "tags",
		 3);
	CALL_ERR(f, c, inv, "checkin", "{s s s s s s}", "commit", "run", "status", "done",
		 "starred", "yes");
	CALL_ERR(f, c, inv, "checkin", "{s s s s s x}", "commit", "run", "status", "done", "text",
		 bytes, sizeof(bytes) - 1);

	/* log */
	CALL_ERR(f, c, inv, "log", "{s x}", "text", bytes, sizeof(bytes) - 1);
	CALL_ERR(f, c, inv, "log", "{}");
	CALL_ERR(f, c, inv, "log", "{s s}", "text", "");
	CALL_ERR(f, c, inv, "log", "{s S}", "text", "a\0b", (size_t)3);
	CALL_ERR(f, c, inv, "log", "{s s}", "text", "\xff\xfe not UTF-8");
	CALL_ERR(f, c, inv, "log", "{s i}", "text", 42);

	/* journal */
	CALL_ERR(f, c, inv, "journal", "{s i}", "limit", 0);
	CALL_ERR(f, c, inv, "journal", "{s i}", "limit", 5000);
	CALL_ERR(f, c, inv, "journal", "{s i}", "limit", -1);
	CALL_ERR(f, c, inv, "journal", "{s s}", "limit", "10");
	CALL_ERR(f, c, inv, "journal", "{s s}", "since", "yesterday");
	CALL_ERR(f, c, inv, "journal", "{s i}", "commit", 3);
	CALL_ERR(f, c, inv, "journal", "{s s}", "tail", "yes");
	CALL_OK(f, c, "journal", "{s i}", "limit", 1000);

	/* the others */
	CALL_ERR(f, c, inv, "commit.list", "{s s}", "all", "yes");
	CALL_ERR(f, c, inv, "commit.show", "{s [s]}", "id", "run");
	CALL_ERR(f, c, inv, "commit.archive", "{s i}", "id", 5);
	CALL_ERR(f, c, inv, "stats", "{s s}", "periods", "all");
	CALL_ERR(f, c, inv, "import", "{s s}", "entries", "x");
	CALL_ERR(f, c, inv, "import", "{s [{s i s s}]}", "entries", "time", 0, "text", "old");
	CALL_ERR(f, c, inv, "passwd", "{s i s s}", "old", 5, "new", "x");
	CALL_ERR(f, c, inv, "passwd", "{s s}", "new", "x");
	CALL_ERR(f, c, inv, "passwd", "{s s s s s i}", "old", PASSPHRASE, "new", "x", "kdf", 1);
	CALL_ERR(f, c, inv, "passwd", "{s s s s s s}", "old", PASSPHRASE, "new", "x", "kdf",
		 "extreme");
	CALL_ERR(f, c, inv, "debug.clock_advance", "{s s}", "seconds", "86400");

	assert_int_equal(status_count(f, "entries"), entries);
	assert_int_equal(status_count(f, "records"), records);
	assert_int_equal(status_count(f, "commitments"), commits);
	conn_close(c);
	assert_serves(f);
}

static void test_control_oversized_header_refused_before_body(void **state)
{
	struct fx *f = *state;
	/* str32 announcing 2 MiB, alone and as the text of a log request; no body is sent */
	static const uint8_t alone[] = {0xdb, 0x00, 0x20, 0x00, 0x00};
	static const uint8_t inside[] = {0x94, 0x00, 0x01, 0xa3, 'l',  'o',  'g',  0x91, 0x81, 0xa4,
					 't',  'e',  'x',  't',	 0xdb, 0x00, 0x20, 0x00, 0x00};
	/* bin32 announcing 4 GiB - 1 */
	static const uint8_t huge_bin[] = {0xc6, 0xff, 0xff, 0xff, 0xff};

	expect_framing_error(f, alone, sizeof(alone), -BUDDY_E_TOOBIG);
	expect_framing_error(f, inside, sizeof(inside), -BUDDY_E_TOOBIG);
	expect_framing_error(f, huge_bin, sizeof(huge_bin), -BUDDY_E_TOOBIG);
	assert_serves(f);
}

/* [0, msgid, "status", [{"pad": bin32 of `pad` bytes}]] */
static uint8_t *padded_status(uint32_t msgid, size_t pad, size_t *len)
{
	static const uint8_t head[] = {0x94, 0x00, 0xce, 0,    0,    0,	   0,	0xa6, 's', 't', 'a',
				       't',  'u',  's',	 0x91, 0x81, 0xa3, 'p', 'a',  'd', 0xc6};
	uint8_t *b = malloc(sizeof(head) + 4 + pad);

	assert_non_null(b);
	memcpy(b, head, sizeof(head));
	b[3] = (uint8_t)(msgid >> 24);
	b[4] = (uint8_t)(msgid >> 16);
	b[5] = (uint8_t)(msgid >> 8);
	b[6] = (uint8_t)msgid;
	b[sizeof(head)] = (uint8_t)(pad >> 24);
	b[sizeof(head) + 1] = (uint8_t)(pad >> 16);
	b[sizeof(head) + 2] = (uint8_t)(pad >> 8);
	b[sizeof(head) + 3] = (uint8_t)pad;
	memset(b + sizeof(head) + 4, 0x5a, pad);
	*len = sizeof(head) + 4 + pad;
	return b;
}

static void test_control_request_at_limit_served_over_limit_refused(void **state)
{
	struct fx *f = *state;
	const size_t overhead = 25; /* padded_status's bytes besides the pad */
	struct conn *c = conn_open(f);
	struct resp r;
	size_t len;
	uint8_t *b;

	/* exactly BUDDY_CONTROL_REQUEST_MAX bytes: framed and answered, the connection goes on */
	b = padded_status(77, BUDDY_CONTROL_REQUEST_MAX - overhead, &len);
	assert_int_equal(len, BUDDY_CONTROL_REQUEST_MAX);
	conn_send_all(c, b, len);
	free(b);
	recv_resp(c, &r);
	ASSERT_CODE(&r, 0);
	assert_int_equal(r.r.msgid, 77);
	resp_free(&r);
	CALL_OK(f, c, "status", "{}");
	conn_close(c);

	/* one byte more: refused as soon as the bin header is read */
	c = conn_open(f);
	b = padded_status(78, BUDDY_CONTROL_REQUEST_MAX - overhead + 1, &len);
	(void)conn_send(c, b, len); /* the daemon may close before it has all */
	free(b);
	recv_resp(c, &r);
	ASSERT_CODE(&r, -BUDDY_E_TOOBIG);
	assert_int_equal(r.r.msgid, 0);
	resp_free(&r);
	assert_closed(c);
	conn_close(c);
	assert_serves(f);
}

static void test_control_oversized_stream_refused_and_closed(void **state)
{
	struct fx *f = *state;
	const size_t total = BUDDY_CONTROL_REQUEST_MAX + 1024;
	static const uint8_t head[] = {0x94, 0x00, 0x05, 0xa3, 'l', 'o', 'g',
				       0x91, 0x81, 0xa4, 't',  'e', 'x', 't'};
	uint8_t *b = malloc(total);
	struct conn *c;
	struct resp r;
	size_t pos;

	assert_non_null(b);
	/* 1: one bin32 of 1 MiB + 1 KiB, streamed in full after its header */
	c = conn_open(f);
	memcpy(b, head, sizeof(head));
	pos = sizeof(head);
	{
		size_t n = total - pos - 5;
		b[pos++] = 0xc6;
		b[pos++] = (uint8_t)(n >> 24);
		b[pos++] = (uint8_t)(n >> 16);
		b[pos++] = (uint8_t)(n >> 8);
		b[pos++] = (uint8_t)n;
		memset(b + pos, 0xa5, n);
	}
	for (size_t off = 0; off < total; off += 4096)
		if (conn_send(c, b + off, total - off < 4096 ? total - off : 4096))
			break;
	recv_resp(c, &r);
	ASSERT_CODE(&r, -BUDDY_E_TOOBIG);
	assert_int_equal(r.r.msgid, 0);
	resp_free(&r);
	assert_closed(c);
	conn_close(c);

	/* 2: no single header is too large: "text" is an array of bin16 of 64 KiB - 1, and only
	 * the running total of 1 MiB + 1 KiB crosses the limit */
	c = conn_open(f);
	memcpy(b, head, sizeof(head));
	pos = sizeof(head);
	b[pos++] = 0xdc; /* array16 of 17 */
	b[pos++] = 0x00;
	b[pos++] = 17;
	while (pos < total) {
		b[pos++] = 0xc5;
		b[pos++] = 0xff;
		b[pos++] = 0xff;
		for (size_t i = 0; i < 0xffff && pos < total; i++)
			b[pos++] = (uint8_t)i;
	}
	for (size_t off = 0; off < total; off += 4096)
		if (conn_send(c, b + off, total - off < 4096 ? total - off : 4096))
			break;
	recv_resp(c, &r);
	ASSERT_CODE(&r, -BUDDY_E_TOOBIG);
	assert_int_equal(r.r.msgid, 0);
	resp_free(&r);
	assert_closed(c);
	conn_close(c);
	free(b);
	assert_serves(f);
}

static void test_control_allocation_bombs_refused_memory_small(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint8_t b[24];
		size_t n;
	} bombs[] = {
		{{0xdd, 0xff, 0xff, 0xff, 0xff}, 5},	   /* array32 of 4 Gi elements */
		{{0xdf, 0xff, 0xff, 0xff, 0xff}, 5},	   /* map32 of 4 Gi pairs */
		{{0xdf, 0x7f, 0xff, 0xff, 0xff}, 5},	   /* map32 of 2 Gi pairs */
		{{0xdd, 0x00, 0x01, 0x00, 0x01, 0xc0}, 6}, /* array32 of 65537 (objects limit) */
		{{0xdc, 0xff, 0xff, 0xc0}, 4},		   /* array16 of 65535 nils... */
		/* [0, 1, "status", [array32 of 4 Gi]] */
		{{0x94, 0x00, 0x01, 0xa6, 's', 't', 'a', 't', 'u', 's', 0x91, 0xdd, 0xff, 0xff,
		  0xff, 0xff},
		 16},
		/* [0, 1, "status", [{"x": map32 of 4 Gi}]] */
		{{0x94, 0x00, 0x01, 0xa6, 's', 't', 'a', 't', 'u', 's', 0x91, 0x81, 0xa1, 'x', 0xdf,
		  0xff, 0xff, 0xff, 0xff},
		 19},
	};
	long before = vmrss_kib(f->pid), after;

	for (size_t i = 0; i < sizeof(bombs) / sizeof(bombs[0]); i++) {
		if (bombs[i].b[0] == 0xdc) {
			/* ...which fits: it waits for its elements; we close without sending them
			 */
			struct conn *c = conn_open(f);
			conn_send_all(c, bombs[i].b, bombs[i].n);
			conn_close(c);
			continue;
		}
		expect_framing_error(f, bombs[i].b, bombs[i].n, -BUDDY_E_TOOBIG);
	}
	assert_serves(f);
	after = vmrss_kib(f->pid);
	if (after - before >= 16 * 1024)
		fail_msg("buddyd's RSS grew from %ld to %ld KiB", before, after);
}

static void test_control_deep_nesting_refused(void **state)
{
	struct fx *f = *state;
	static const uint8_t prefix[] = {0x94, 0x00, 0x00, 0xa6, 's',  't',  'a',
					 't',  'u',  's',  0x91, 0x81, 0xa1, 'x'};
	uint8_t deep[101], b[sizeof(prefix) + 8];
	struct conn *c;
	struct resp r;

	/* 100 levels of fixarray(1) around a nil */
	memset(deep, 0x91, 100);
	deep[100] = 0xc0;
	expect_framing_error(f, deep, sizeof(deep), -BUDDY_E_TOOBIG);

	/* the limit is BUDDY_CONTROL_DEPTH_MAX levels: the envelope, params array and map take 3 */
	for (int k = 5; k <= 6; k++) {
		size_t n = sizeof(prefix);
		memcpy(b, prefix, sizeof(prefix));
		b[2] = (uint8_t)(100 + k);
		for (int i = 0; i < k; i++)
			b[n++] = 0x91;
		b[n++] = 0xc0;
		assert_int_equal(3 + k <= BUDDY_CONTROL_DEPTH_MAX, k == 5);
		if (3 + k > BUDDY_CONTROL_DEPTH_MAX) {
			expect_framing_error(f, b, n, -BUDDY_E_TOOBIG);
			continue;
		}
		c = conn_open(f);
		conn_send_all(c, b, n);
		recv_resp(c, &r);
		ASSERT_CODE(&r, 0);
		assert_int_equal(r.r.msgid, 100 + k);
		resp_free(&r);
		conn_close(c);
	}
	assert_serves(f);
}

static void test_control_client_gone_mid_request_daemon_serves(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f), *q;
	msgpack_sbuffer sb;
	int64_t deadline;
	struct resp r;

	add_daily(f, c, "run");
	conn_close(c);

	/* half of a status, then half of a check-in, each followed by a close */
	msgpack_sbuffer_init(&sb);
	pack_req(&sb, 1, "status", "{}");
	c = conn_open(f);
	conn_send_all(c, sb.data, sb.size / 2);
	conn_close(c);
	msgpack_sbuffer_clear(&sb);
	pack_req(&sb, 2, "checkin", "{s s s s s s}", "commit", "run", "status", "skip", "text",
		 "half");
	c = conn_open(f);
	conn_send_all(c, sb.data, sb.size - 1);
	conn_close(c);
	assert_serves(f);

	/* a whole check-in, and gone before the answer */
	msgpack_sbuffer_clear(&sb);
	pack_req(&sb, 3, "checkin", "{s s s s s s}", "commit", "run", "status", "done", "text",
		 "whole");
	c = conn_open(f);
	conn_send_all(c, sb.data, sb.size);
	conn_close(c);
	msgpack_sbuffer_destroy(&sb);

	/* connections are served in no set order: ask until the daemon has read it */
	q = conn_open(f);
	deadline = now_ms() + IO_TIMEOUT_MS;
	for (;;) {
		uint64_t total;
		call(f, q, &r, "journal", "{s s}", "commit", "run");
		total = uint_of(res_get(&r, "total"));
		resp_free(&r);
		if (total > 0)
			break;
		if (now_ms() > deadline)
			fail_msg("the check-in of a client that left never appeared");
	}
	conn_close(q);

	/* durable: still there after a restart, and only the whole one */
	daemon_restart(f);
	q = conn_open(f);
	call(f, q, &r, "journal", "{s s}", "commit", "run");
	{
		const msgpack_object *es = res_get(&r, "entries");
		assert_int_equal(uint_of(res_get(&r, "total")), 1);
		assert_non_null(es);
		assert_int_equal(es->type, MSGPACK_OBJECT_ARRAY);
		assert_int_equal(es->via.array.size, 1);
		assert_str_is(buddy_mp_get(&es->via.array.ptr[0], "status"), "done");
		assert_str_is(buddy_mp_get(&es->via.array.ptr[0], "text"), "whole");
	}
	resp_free(&r);
	conn_close(q);
	assert_serves(f);
}

/* Makes the daemon close c itself (a framing error), so that we know its slot is free. */
static void close_by_daemon(struct conn *c)
{
	static const uint8_t bad = 0xc1;
	struct resp r;

	conn_send_all(c, &bad, 1);
	recv_resp(c, &r);
	ASSERT_CODE(&r, -BUDDY_E_INVALID);
	resp_free(&r);
	assert_closed(c);
	conn_close(c);
}

static void test_control_connections_over_limit_closed(void **state)
{
	struct fx *f = *state;
	enum { N = BUDDY_CONTROL_CLIENTS_MAX + 6 };
	struct conn *c[N];
	bool served[N];
	int nserved = 0, nclosed = 0;
	msgpack_sbuffer sb;
	struct resp r;

	msgpack_sbuffer_init(&sb);
	pack_req(&sb, 9, "status", "{}");
	for (int round = 0; round < 2; round++) {
		int n = round == 0 ? N : BUDDY_CONTROL_CLIENTS_MAX;

		nserved = nclosed = 0;
		for (int i = 0; i < n; i++)
			c[i] = conn_open(f);
		for (int i = 0; i < n; i++) {
			served[i] = false;
			if (conn_send(c[i], sb.data, sb.size) == 0 &&
			    recv_resp_or_eof(c[i], &r) == 0) {
				ASSERT_CODE(&r, 0);
				resp_free(&r);
				served[i] = true;
			}
			nserved += served[i];
			nclosed += !served[i];
		}
		/* round 0: the extra ones are closed; round 1: the slots of the ones the daemon
		 * closed are free again */
		assert_int_equal(nserved, BUDDY_CONTROL_CLIENTS_MAX);
		assert_int_equal(nclosed, n - BUDDY_CONTROL_CLIENTS_MAX);
		for (int i = 0; i < n; i++) {
			if (served[i])
				close_by_daemon(c[i]);
			else
				conn_close(c[i]);
		}
	}
	msgpack_sbuffer_destroy(&sb);
	assert_serves(f);
}

static void test_control_pipelined_requests_answered_in_order(void **state)
{
	struct fx *f = *state;
	static const char method_int[] = "\x94\x00\xcc\xcd\x05\x90"; /* [0, 205, 5, []] */
	static const struct {
		uint32_t msgid;
		int code;
	} want[] = {{201, 0}, {202, 0}, {203, 0}, {204, -BUDDY_E_METHOD}, {205, -BUDDY_E_INVALID},
		    {206, 0}, {207, 0}};
	struct conn *c = conn_open(f);
	msgpack_sbuffer sb;
	struct resp r;

	msgpack_sbuffer_init(&sb);
	pack_req(&sb, 201, "status", "{}");
	pack_req(&sb, 202, "commit.add", "{s s s s s {s s} s s}", "id", "read", "title", "Read",
		 "cadence", "kind", "daily", "tz", "UTC");
	pack_req(&sb, 203, "checkin", "{s s s s}", "commit", "read", "status", "done");
	pack_req(&sb, 204, "no.such.method", "{}");
	msgpack_sbuffer_write(&sb, method_int, sizeof(method_int) - 1);
	pack_req(&sb, 206, "journal", "{}");
	pack_req(&sb, 207, "status", "{}");
	conn_send_all(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		recv_resp(c, &r);
		assert_int_equal(r.r.msgid, want[i].msgid);
		ASSERT_CODE(&r, want[i].code);
		/* answers come in order, so the journal sees the check-in sent before it */
		if (want[i].msgid == 206)
			assert_int_equal(uint_of(res_get(&r, "total")), 1);
		resp_free(&r);
	}

	/* two plain status requests in one write */
	msgpack_sbuffer_init(&sb);
	pack_req(&sb, 301, "status", "{}");
	pack_req(&sb, 302, "status", "{}");
	conn_send_all(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	recv_resp(c, &r);
	assert_int_equal(r.r.msgid, 301);
	resp_free(&r);
	recv_resp(c, &r);
	assert_int_equal(r.r.msgid, 302);
	resp_free(&r);

	/* a valid request then bytes that cannot be framed: one answer each, then closed */
	msgpack_sbuffer_init(&sb);
	pack_req(&sb, 401, "checkin", "{s s s s}", "commit", "read", "status", "partial");
	msgpack_sbuffer_write(&sb, "\xc1", 1);
	conn_send_all(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	recv_resp(c, &r);
	assert_int_equal(r.r.msgid, 401);
	ASSERT_CODE(&r, 0);
	resp_free(&r);
	recv_resp(c, &r);
	assert_int_equal(r.r.msgid, 0);
	ASSERT_CODE(&r, -BUDDY_E_INVALID);
	resp_free(&r);
	assert_closed(c);
	conn_close(c);
	assert_int_equal(status_count(f, "entries"), 2);
	assert_serves(f);
}

static void test_control_byte_at_a_time_request_answered(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);
	msgpack_sbuffer sb;
	struct resp r;
	const msgpack_object *list;

	msgpack_sbuffer_init(&sb);
	pack_req(&sb, 501, "commit.add", "{s s s s s {s s s i} s s}", "id", "swim", "title",
		 "Swim twice a week", "cadence", "kind", "weekly", "n", 2, "tz", "Europe/Berlin");
	pack_req(&sb, 502, "commit.list", "{}");
	for (size_t i = 0; i < sb.size; i++)
		conn_send_all(c, sb.data + i, 1);
	msgpack_sbuffer_destroy(&sb);
	recv_resp(c, &r);
	assert_int_equal(r.r.msgid, 501);
	ASSERT_CODE(&r, 0);
	resp_free(&r);
	recv_resp(c, &r);
	assert_int_equal(r.r.msgid, 502);
	ASSERT_CODE(&r, 0);
	list = r.r.result;
	assert_int_equal(list->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(list->via.array.size, 1);
	assert_str_is(buddy_mp_get(&list->via.array.ptr[0], "id"), "swim");
	assert_str_is(buddy_mp_get(&list->via.array.ptr[0], "tz"), "Europe/Berlin");
	resp_free(&r);
	conn_close(c);
	assert_serves(f);
}

static void test_control_locked_refuses_journal_methods(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);
	const int locked = -BUDDY_E_LOCKED;
	struct resp r;
	bool b = false;

	add_daily(f, c, "run");
	CALL_OK(f, c, "lock", "{}");
	call(f, c, &r, "status", "{}");
	assert_str_is(res_get(&r, "state"), "locked");
	assert_int_equal(buddy_mp_bool(res_get(&r, "locked"), &b), 0);
	assert_true(b);
	assert_null(res_get(&r, "entries"));
	resp_free(&r);

	CALL_ERR(f, c, locked, "journal", "{}");
	CALL_ERR(f, c, locked, "checkin", "{s s s s}", "commit", "run", "status", "done");
	CALL_ERR(f, c, locked, "log", "{s s}", "text", "locked out");
	CALL_ERR(f, c, locked, "commit.add", "{s s s s s {s s} s s}", "id", "walk", "title", "T",
		 "cadence", "kind", "daily", "tz", "UTC");
	CALL_ERR(f, c, locked, "commit.list", "{}");
	CALL_ERR(f, c, locked, "commit.show", "{s s}", "id", "run");
	CALL_ERR(f, c, locked, "commit.archive", "{s s}", "id", "run");
	CALL_ERR(f, c, locked, "stats", "{}");
	CALL_ERR(f, c, locked, "import", "{s []}", "entries");
	/* a locked daemon can be locked again */
	CALL_OK(f, c, "lock", "{}");

	CALL_ERR(f, c, -BUDDY_E_INVALID, "unlock", "{s i}", "passphrase", 12345);
	CALL_ERR(f, c, -BUDDY_E_INVALID, "unlock", "{s [s]}", "passphrase", PASSPHRASE);
	CALL_ERR(f, c, -BUDDY_E_INVALID, "unlock", "{}");
	CALL_ERR(f, c, -BUDDY_E_AUTH, "unlock", "{s s}", "passphrase", "not the passphrase");
	call(f, c, &r, "status", "{}");
	assert_str_is(res_get(&r, "state"), "locked");
	resp_free(&r);
	CALL_OK(f, c, "unlock", "{s s}", "passphrase", PASSPHRASE);
	CALL_OK(f, c, "journal", "{}");
	assert_int_equal(status_count(f, "commitments"), 1);

	/* the passphrase may come as bytes too */
	CALL_OK(f, c, "lock", "{}");
	CALL_OK(f, c, "unlock", "{s x}", "passphrase", PASSPHRASE, strlen(PASSPHRASE));
	call(f, c, &r, "status", "{}");
	assert_str_is(res_get(&r, "state"), "unlocked");
	resp_free(&r);
	CALL_OK(f, c, "checkin", "{s s s s}", "commit", "run", "status", "done");
	conn_close(c);
	assert_serves(f);
}

static void test_control_clock_advance_refused_on_real_clock(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);

	CALL_ERR(f, c, -BUDDY_E_STATE, "debug.clock_advance", "{s i}", "seconds", 86400);
	CALL_OK(f, c, "status", "{}");
	conn_close(c);
	assert_serves(f);
}

static void test_control_clock_advance_moves_frozen_clock(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);
	const msgpack_object *es;
	struct resp r;

	CALL_OK(f, c, "status", "{}");
	add_daily(f, c, "run");
	call(f, c, &r, "debug.clock_advance", "{s i}", "seconds", 86400);
	assert_int_equal(int_of(res_get(&r, "now")), TEST_CLOCK + 86400);
	resp_free(&r);
	call(f, c, &r, "debug.clock_advance", "{s i}", "seconds", 0);
	assert_int_equal(int_of(res_get(&r, "now")), TEST_CLOCK + 86400);
	resp_free(&r);
	CALL_ERR(f, c, -BUDDY_E_INVALID, "debug.clock_advance", "{s i}", "seconds", -1);
	CALL_ERR(f, c, -BUDDY_E_INVALID, "debug.clock_advance", "{}");

	CALL_OK(f, c, "checkin", "{s s s s}", "commit", "run", "status", "done");
	call(f, c, &r, "journal", "{}");
	es = res_get(&r, "entries");
	assert_non_null(es);
	assert_int_equal(es->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(es->via.array.size, 1);
	assert_int_equal(int_of(buddy_mp_get(&es->via.array.ptr[0], "time")), TEST_CLOCK + 86400);
	resp_free(&r);
	call(f, c, &r, "commit.show", "{s s}", "id", "run");
	ASSERT_CODE(&r, 0);
	resp_free(&r);
	conn_close(c);
	assert_serves(f);
}

static int check_private(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (st->st_mode & 077) {
		print_error("%s has mode %o\n", path, (unsigned)(st->st_mode & 07777));
		return 1;
	}
	return 0;
}

static void test_control_socket_0600_home_0700(void **state)
{
	struct fx *f = *state;
	struct conn *c = conn_open(f);
	char journal[256];
	struct stat st;

	/* write something, so that the journal has its files */
	add_daily(f, c, "run");
	CALL_OK(f, c, "log", "{s s}", "text", "a note");
	conn_close(c);

	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(lstat(f->home, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(journal, sizeof(journal), "%s/journal", f->home);
	assert_int_equal(lstat(journal, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* nothing in the home is open to group or others, though buddyd started with umask 0 */
	assert_int_equal(nftw(f->home, check_private, 16, FTW_PHYS), 0);
	assert_serves(f);
}

static void test_control_client_not_reading_is_dropped(void **state)
{
	struct fx *f = *state;
	enum { BATCH = 1000, MAX_REQUESTS = 1000000 };
	struct conn *c = conn_open(f);
	msgpack_sbuffer sb;
	size_t sent = 0, answers = 0;
	struct resp r;
	int rc = 0;

	/* status answers are ~200 bytes: the daemon's queue for a client that never reads
	 * passes BUDDY_CONTROL_WRITE_HWM after some 40 000 of them */
	msgpack_sbuffer_init(&sb);
	for (int i = 0; i < BATCH; i++)
		pack_req(&sb, (uint32_t)i, "status", "{}");
	while (rc == 0 && sent < MAX_REQUESTS) {
		rc = conn_send(c, sb.data, sb.size);
		sent += BATCH;
	}
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0)
		fail_msg("a client that never reads was not dropped after %zu requests", sent);
	/* what was sent before the drop can still be read, then the end */
	while (recv_resp_or_eof(c, &r) == 0) {
		answers++;
		resp_free(&r);
	}
	assert_true(answers < sent);
	conn_close(c);
	assert_serves(f);
}

static void test_control_large_answer_delivered_to_reading_client(void **state)
{
	struct fx *f = *state;
	enum { REQUESTS = 10, PER_REQUEST = 15 };
	struct conn *c = conn_open(f);
	char *text = malloc(BUDDY_TEXT_MAX);
	const msgpack_object *es;
	struct resp r;

	/* 150 notes of 64 KiB: one journal page of them is ~9.4 MiB, which a client reading as
	 * fast as it can must receive (the CLI accepts answers up to BUDDY_CONTROL_RESPONSE_MAX,
	 * and `buddy export` asks for pages of BUDDY_PAGE_MAX entries) */
	assert_non_null(text);
	memset(text, 'x', BUDDY_TEXT_MAX);
	for (int i = 0; i < REQUESTS; i++) {
		uint32_t msgid = f->next_msgid++;
		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		buddy_rpc_pack_request_head(&pk, msgid, "import");
		msgpack_pack_map(&pk, 1);
		buddy_mp_pack_cstr(&pk, "entries");
		msgpack_pack_array(&pk, PER_REQUEST);
		for (int k = 0; k < PER_REQUEST; k++) {
			msgpack_pack_map(&pk, 2);
			buddy_mp_pack_cstr(&pk, "time");
			msgpack_pack_int64(&pk, TEST_CLOCK - 1000000 + i * PER_REQUEST + k);
			buddy_mp_pack_cstr(&pk, "text");
			buddy_mp_pack_strn(&pk, text, BUDDY_TEXT_MAX);
		}
		assert_true(sb.size <= BUDDY_CONTROL_REQUEST_MAX);
		conn_send_all(c, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
		recv_resp(c, &r);
		assert_int_equal(r.r.msgid, msgid);
		ASSERT_CODE(&r, 0);
		assert_int_equal(uint_of(res_get(&r, "imported")), PER_REQUEST);
		resp_free(&r);
	}
	free(text);
	call(f, c, &r, "journal", "{s i}", "limit", BUDDY_PAGE_MAX);
	ASSERT_CODE(&r, 0);
	assert_int_equal(uint_of(res_get(&r, "total")), REQUESTS * PER_REQUEST);
	es = res_get(&r, "entries");
	assert_non_null(es);
	assert_int_equal(es->via.array.size, REQUESTS * PER_REQUEST);
	resp_free(&r);
	conn_close(c);
	assert_serves(f);
}

static void test_control_half_closed_client_gets_whole_answer(void **state)
{
	struct fx *f = *state;
	enum { NOTES = 12 };
	struct conn *c = conn_open(f);
	char *text = malloc(BUDDY_TEXT_MAX);
	const msgpack_object *es;
	msgpack_sbuffer sb;
	struct resp r;

	assert_non_null(text);
	memset(text, 'y', BUDDY_TEXT_MAX);
	for (int i = 0; i < NOTES; i++)
		CALL_OK(f, c, "log", "{s S}", "text", text, (size_t)BUDDY_TEXT_MAX);
	free(text);
	conn_close(c);

	/* a client that has said all it will say (shutdown of its sending side) still reads:
	 * its answer, ~780 KiB, more than the socket buffer takes at once, must arrive whole */
	c = conn_open(f);
	msgpack_sbuffer_init(&sb);
	pack_req(&sb, 601, "journal", "{}");
	conn_send_all(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
	recv_resp(c, &r);
	assert_int_equal(r.r.msgid, 601);
	ASSERT_CODE(&r, 0);
	es = res_get(&r, "entries");
	assert_non_null(es);
	assert_int_equal(es->via.array.size, NOTES);
	resp_free(&r);
	assert_closed(c);
	conn_close(c);
	assert_serves(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_control_status_unlocked_reports_state_and_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_malformed_msgpack_answered_then_closed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_ext_types_answered_then_closed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_envelope_wrong_types_keep_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_unknown_method_named_in_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_control_wrong_param_types_invalid_journal_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_oversized_header_refused_before_body,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_control_request_at_limit_served_over_limit_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_oversized_stream_refused_and_closed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_allocation_bombs_refused_memory_small,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_deep_nesting_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_client_gone_mid_request_daemon_serves,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_connections_over_limit_closed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_pipelined_requests_answered_in_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_byte_at_a_time_request_answered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_locked_refuses_journal_methods, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_clock_advance_refused_on_real_clock,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_clock_advance_moves_frozen_clock,
						setup_test_clock, teardown),
		cmocka_unit_test_setup_teardown(test_control_socket_0600_home_0700, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_control_client_not_reading_is_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_control_large_answer_delivered_to_reading_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_half_closed_client_gets_whole_answer,
						setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
