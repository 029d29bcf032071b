/* The CLI's side of the control socket: one connection, one request, one answer. Plain
 * blocking sockets: the CLI has nothing else to do while it waits. */
#include "buddy/error.h"
#include "buddy/home.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/rpc.h"
#include "cli.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const struct buddy_mp_limits response_limits = {
	.max_bytes = BUDDY_CONTROL_RESPONSE_MAX,
	.max_depth = 16,
	.max_objects = 8 * 1024 * 1024,
};

/* Daemon errors (negative buddy_err) to exit codes. */
static int exit_for(int code)
{
	switch (code) {
	case BUDDY_E_LOCKED:
		return EXIT_LOCKED;
	case BUDDY_E_AUTH:
	case BUDDY_E_RATELIMIT:
		return EXIT_AUTH;
	case BUDDY_E_NOTFOUND:
		return EXIT_NOTFOUND;
	case BUDDY_E_EXISTS:
		return EXIT_EXISTS;
	case BUDDY_E_NOSPACE:
	case BUDDY_E_IO:
	case BUDDY_E_CORRUPT:
		return EXIT_STORAGE;
	case BUDDY_E_INVALID:
		return EXIT_USAGE;
	default:
		return EXIT_ERROR;
	}
}

static int try_connect(const struct buddy_home *h, int *fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -1;
	memcpy(sa.sun_path, h->sock, strlen(h->sock) + 1);
	if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	close(*fd);
	*fd = -1;
	return -1;
}

/* may_start: start buddyd when none runs for the home (autostart.c), unless told not to. */
static int connect_daemon(struct buddy_home *h, bool may_start)
{
	int fd, rc;

	if (buddy_home_resolve(h)) {
		cli_err("cannot find the buddy home: set BUDDY_HOME to an absolute path");
		return -EXIT_USAGE;
	}
	if (try_connect(h, &fd) == 0)
		return fd;
	if (errno != ENOENT && errno != ECONNREFUSED) {
		cli_err("cannot connect to buddyd at %s: %s", h->sock, strerror(errno));
		return -EXIT_ERROR;
	}
	if (access(h->keys, F_OK) != 0) {
		cli_err("no buddy home at %s: create one with `buddy init`", h->dir);
		return -EXIT_NODAEMON;
	}
	if (!may_start || !cli_autostart_allowed()) {
		cli_err("buddyd is not running for %s: start it with `buddyd &`%s", h->dir,
			!may_start && cli_autostart_allowed()
				? ", or run any other buddy command, which starts it"
				: "");
		return -EXIT_NODAEMON;
	}
	rc = cli_autostart(h);
	if (rc)
		return -rc;
	if (try_connect(h, &fd) == 0)
		return fd;
	cli_err("buddyd started but does not answer at %s: %s", h->sock, strerror(errno));
	return -EXIT_NODAEMON;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int recv_answer(int fd, struct cli_reply *rep)
{
	size_t cap = 64 * 1024, objlen = 0;
	int rc;

	rep->buf = malloc(cap);
	if (!rep->buf)
		return BUDDY_E_NOMEM;
	for (;;) {
		ssize_t r;

		rc = buddy_mp_check(rep->buf, rep->len, &response_limits, &objlen);
		if (rc != 1)
			break;
		if (rep->len == cap) {
			uint8_t *nb;
			if (cap >= BUDDY_CONTROL_RESPONSE_MAX)
				return BUDDY_E_TOOBIG;
			cap *= 2;
			nb = malloc(cap);
			if (!nb)
				return BUDDY_E_NOMEM;
			memcpy(nb, rep->buf, rep->len);
			sodium_memzero(rep->buf, rep->len);
			free(rep->buf);
			rep->buf = nb;
		}
		r = recv(fd, rep->buf + rep->len, cap - rep->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return BUDDY_E_IO;
		rep->len += (size_t)r;
	}
	if (rc)
		return rc;
	return buddy_mp_decode(rep->buf, objlen, &response_limits, &rep->u);
}

int cli_call_quiet(const char *method, const msgpack_sbuffer *params, struct cli_reply *rep,
		   int *code, char *msg, size_t msglen)
{
	static uint32_t next_msgid = 1;
	struct buddy_rpc_response res;
	struct buddy_home h;
	msgpack_sbuffer req;
	msgpack_packer pk;
	uint32_t msgid = next_msgid++;
	int fd, rc, send_errno;

	memset(rep, 0, sizeof(*rep));
	msgpack_unpacked_init(&rep->u);
	*code = 0;
	/* status reports on the daemon, lock and config.reload act on a running one: none of
	 * them starts it */
	fd = connect_daemon(&h, strcmp(method, "status") != 0 && strcmp(method, "lock") != 0 &&
					strcmp(method, "config.reload") != 0);
	if (fd < 0)
		return -fd;
	msgpack_sbuffer_init(&req);
	msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
	buddy_rpc_pack_request_head(&pk, msgid, method);
	if (params && params->size)
		msgpack_sbuffer_write(&req, params->data, params->size);
	else
		msgpack_pack_map(&pk, 0);
	send_errno = send_all(fd, req.data, req.size) ? errno : 0;
	/* the request may carry a passphrase */
	sodium_memzero(req.data, req.size);
	msgpack_sbuffer_destroy(&req);
	/* a daemon that refuses a request (too large) answers, then closes: read its reason */
	rc = recv_answer(fd, rep);
	if (rc && send_errno) {
		cli_err("lost the connection to buddyd while sending: %s", strerror(send_errno));
		cli_reply_free(rep);
		close(fd);
		return EXIT_ERROR;
	}
	close(fd);
	if (rc) {
		cli_err("no valid answer from buddyd (%s)",
			rc == BUDDY_E_IO ? "it closed the connection" : buddy_strerror(rc));
		cli_reply_free(rep);
		return EXIT_ERROR;
	}
	/* msgid 0 is the daemon's answer to bytes it could not read as a request */
	if (buddy_rpc_parse_response(&rep->u.data, &res) ||
	    (res.msgid != msgid && !(res.msgid == 0 && res.code))) {
		cli_err("buddyd answered something that is not an answer to this request");
		cli_reply_free(rep);
		return EXIT_ERROR;
	}
	if (res.code) {
		*code = -res.code;
		snprintf(msg, msglen, "%.*s", (int)res.message_len, res.message);
		cli_reply_free(rep);
		return exit_for(-res.code);
	}
	rep->result = res.result;
	return EXIT_OK;
}

int cli_call(const char *method, const msgpack_sbuffer *params, struct cli_reply *rep)
{
	char msg[600];
	int code, rc = cli_call_quiet(method, params, rep, &code, msg, sizeof(msg));

	if (rc && code)
		cli_err("%s", msg);
	return rc;
}

void cli_reply_free(struct cli_reply *rep)
{
	msgpack_unpacked_destroy(&rep->u);
	msgpack_unpacked_init(&rep->u);
	if (rep->buf) {
		sodium_memzero(rep->buf, rep->len);
		free(rep->buf);
	}
	rep->buf = NULL;
	rep->len = 0;
	rep->result = NULL;
}

void cli_pack_str(msgpack_packer *pk, const char *s)
{
	buddy_mp_pack_cstr(pk, s);
}

void cli_pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	buddy_mp_pack_cstr(pk, k);
	buddy_mp_pack_cstr(pk, v);
}

/* ---- a subscription: one request, then a stream of notifications ---- */

int cli_stream_open(struct cli_stream *s, const char *method)
{
	struct buddy_rpc_response res;
	struct cli_reply rep;
	struct buddy_home h;
	msgpack_sbuffer req;
	msgpack_packer pk;
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = connect_daemon(&h, true);
	if (s->fd < 0)
		return -s->fd;
	msgpack_sbuffer_init(&req);
	msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
	buddy_rpc_pack_request_head(&pk, 1, method);
	msgpack_pack_map(&pk, 0);
	rc = send_all(s->fd, req.data, req.size);
	msgpack_sbuffer_destroy(&req);
	if (rc || cli_stream_next(s, &rep) != 0) {
		cli_err("no answer from buddyd to %s", method);
		cli_stream_close(s);
		return EXIT_ERROR;
	}
	rc = buddy_rpc_parse_response(&rep.u.data, &res);
	if (rc == 0 && res.code) {
		cli_err("%.*s", (int)res.message_len, res.message);
		rc = exit_for(-res.code);
	} else if (rc) {
		cli_err("buddyd answered something that is not an answer to %s", method);
		rc = EXIT_ERROR;
	}
	cli_reply_free(&rep);
	if (rc)
		cli_stream_close(s);
	return rc;
}

/* One whole object from the stream (answer or notification), keeping what follows it. */
int cli_stream_next(struct cli_stream *s, struct cli_reply *rep)
{
	size_t objlen = 0;
	int rc;

	memset(rep, 0, sizeof(*rep));
	msgpack_unpacked_init(&rep->u);
	for (;;) {
		ssize_t r;

		rc = buddy_mp_check(s->buf, s->len, &response_limits, &objlen);
		if (rc != 1)
			break;
		if (s->len == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64 * 1024;
			uint8_t *nb;
			if (cap > BUDDY_CONTROL_RESPONSE_MAX || !(nb = realloc(s->buf, cap)))
				return BUDDY_E_TOOBIG;
			s->buf = nb;
			s->cap = cap;
		}
		r = recv(s->fd, s->buf + s->len, s->cap - s->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return BUDDY_E_IO;
		s->len += (size_t)r;
	}
	if (rc)
		return rc;
	rep->buf = malloc(objlen);
	if (!rep->buf)
		return BUDDY_E_NOMEM;
	memcpy(rep->buf, s->buf, objlen);
	rep->len = objlen;
	memmove(s->buf, s->buf + objlen, s->len - objlen);
	s->len -= objlen;
	/* rep->buf is kept (cli_reply_frees it): the analyzer forgets it because &rep->u lets the
	 * callee change all of *rep. NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
	rc = buddy_mp_decode(rep->buf, objlen, &response_limits, &rep->u);
	if (rc == 0)
		rep->result = &rep->u.data;
	else
		cli_reply_free(rep); /* an error leaves nothing in *rep for the caller to free */
	return rc;
}

void cli_stream_close(struct cli_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->buf) {
		sodium_memzero(s->buf, s->cap);
		free(s->buf);
	}
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
