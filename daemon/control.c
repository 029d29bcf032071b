/* The control socket server (see buddy/control.h): accepting, framing, dispatch, replies.
 *
 * Each connection handles one request at a time: reading stops while a request is in flight
 * and resumes once it is answered, so a client can neither pile up work nor reorder answers.
 * Bytes are framed with buddy_mp_check before msgpack-c sees them, so a hostile size field
 * costs nothing; a connection whose bytes cannot be framed gets one error and is closed.
 *
 * A request that needs the journal while it is being unlocked or rebuilt after a write error
 * is parked (its bytes stay in the buffer, reading stops) and runs once that ends: the client
 * gets the real answer instead of "try again", and no client has to poll. */
#include "buddy/control.h"
#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "buddy/rpc.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_methods.h"

struct ctl_client {
	uv_pipe_t pipe;
	struct buddy_control *ctl;
	struct ctl_client *next, *prev;
	uint8_t *buf;
	size_t len, cap;
	struct ctl_req *busy;
	bool closing;
	bool in_handler; /* a handler is running: answers it sends must not re-enter process() */
	bool eof;	 /* the client will send nothing more: close once answered */
	bool resume_pending; /* answered: its next request runs from on_idle */
	bool watching;	     /* subscribed to events (`watch`): notifications are pushed */
	bool parked;	     /* its next request waits for the journal to open */
	size_t pending;	     /* answers queued and not yet written */
	uv_shutdown_t shutdown;
};

struct ctl_req {
	struct ctl_client *cl; /* NULL once the client has gone */
	struct buddyd *d;
	uint32_t msgid;
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
};

struct buddy_control {
	struct buddyd *d;
	uv_pipe_t listener;
	uv_idle_t idle; /* runs clients' next requests at the top of the loop */
	int open_handles;
	struct ctl_client *clients;
	unsigned nclients;
	bool listening;
	bool stopping;	  /* buddy_control_stop: answering what is in flight, taking nothing new */
	uv_timer_t drain; /* ... for at most CONTROL_DRAIN_MS */
	bool handles_closed; /* idle and drain */
};

/* How long a stopping daemon waits for answers in flight (a check-in waiting for its write)
 * before it closes their connections anyway. */
#define CONTROL_DRAIN_MS 10000

struct write_req {
	uv_write_t req;
	char *data;
	size_t len;
};

static const struct buddy_mp_limits request_limits = {
	.max_bytes = BUDDY_CONTROL_REQUEST_MAX,
	.max_depth = BUDDY_CONTROL_DEPTH_MAX,
	.max_objects = 65536,
};

static void client_close(struct ctl_client *cl);
static void client_close_after_writes(struct ctl_client *cl);
static void on_handle_closed(uv_handle_t *h);
static void process(struct ctl_client *cl);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* ---- replies ---- */

static void on_written(uv_write_t *w, int status)
{
	struct write_req *wr = (struct write_req *)w;
	struct ctl_client *cl = w->handle->data;

	(void)status;
	if (cl && cl->pending)
		cl->pending--;
	/* answers carry journal text, and an invite code carries its secret */
	sodium_memzero(wr->data, wr->len);
	free(wr->data);
	free(wr);
}

static void resume(struct ctl_client *cl)
{
	if (cl->in_handler || cl->busy || cl->closing || cl->parked)
		return;
	process(cl);
	if (cl->busy || cl->closing || cl->parked)
		return;
	if (cl->eof)
		client_close_after_writes(cl);
	else
		uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
}

/* The client's next request runs from the loop, never from inside the answer to the previous
 * one: an answer is often sent from deep in another module's callback (a write completing),
 * and a request run there could free what that module is still using. */
static void on_idle(uv_idle_t *h)
{
	struct buddy_control *c = h->data;
	struct ctl_client *cl = c->clients, *next;

	uv_idle_stop(h);
	for (; cl; cl = next) {
		next = cl->next;
		if (cl->resume_pending) {
			cl->resume_pending = false;
			resume(cl);
		}
	}
}

static void schedule_resume(struct ctl_client *cl)
{
	cl->resume_pending = true;
	uv_idle_start(&cl->ctl->idle, on_idle);
}

/* Takes the packed bytes of r and queues them on the client, if it is still there. */
static void send_and_free(struct ctl_req *r)
{
	struct ctl_client *cl = r->cl;
	struct write_req *wr;
	uv_buf_t b;

	/* answers already waiting past the mark mean the client stopped reading; one large
	 * answer to a client that reads is fine, so the new one is not counted */
	if (cl && !cl->closing &&
	    (uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) > BUDDY_CONTROL_WRITE_HWM ||
	     cl->pending > BUDDY_CONTROL_PENDING_MAX)) {
		log_warn("control client is not reading its answers: dropped");
		client_close(cl);
	}
	if (cl && !cl->closing && (wr = malloc(sizeof(*wr)))) {
		b.len = r->sbuf.size;
		/* a small answer in a large buffer is queued in one of its own size: what a client
		 * that does not read can make us hold is counted in what is held */
		if (r->sbuf.alloc > 2 * r->sbuf.size + 256 &&
		    (b.base = malloc(b.len ? b.len : 1))) {
			memcpy(b.base, r->sbuf.data, b.len);
			sodium_memzero(r->sbuf.data, r->sbuf.size);
		} else {
			b.base = msgpack_sbuffer_release(&r->sbuf);
		}
		wr->data = b.base;
		wr->len = b.len;
		if (uv_write(&wr->req, (uv_stream_t *)&cl->pipe, &b, 1, on_written)) {
			free(wr->data);
			free(wr);
			client_close(cl);
		} else {
			cl->pending++;
		}
	}
	msgpack_sbuffer_destroy(&r->sbuf);
	if (cl && cl->busy == r)
		cl->busy = NULL;
	free(r);
	if (cl && !cl->closing && cl->ctl->stopping)
		client_close_after_writes(cl); /* answered: the last thing it gets */
	else if (cl && !cl->closing && !cl->in_handler)
		schedule_resume(cl);
}

msgpack_packer *ctl_result(struct ctl_req *r)
{
	msgpack_sbuffer_clear(&r->sbuf);
	buddy_rpc_pack_result_head(&r->pk, r->msgid);
	return &r->pk;
}

void ctl_result_send(struct ctl_req *r)
{
	send_and_free(r);
}

void ctl_ok(struct ctl_req *r)
{
	msgpack_pack_map(ctl_result(r), 0);
	send_and_free(r);
}

void ctl_error(struct ctl_req *r, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	msgpack_sbuffer_clear(&r->sbuf);
	buddy_rpc_pack_error(&r->pk, r->msgid, -(err < 0 ? err : BUDDY_E_INTERNAL), msg);
	send_and_free(r);
}

void ctl_error_not_open(struct buddyd *d, struct ctl_req *r)
{
	switch (d->state) {
	case BUDDYD_UNLOCKING:
		ctl_error(r, BUDDY_E_BUSY, "the journal is being unlocked; try again in a moment");
		break;
	case BUDDYD_RELOADING:
		ctl_error(
			r, BUDDY_E_BUSY,
			"the journal is being reloaded after a write error; try again in a moment");
		break;
	default:
		ctl_error(r, BUDDY_E_LOCKED, "the journal is locked; unlock it with: buddy unlock");
	}
}

void ctl_done_cb(struct buddyd *d, void *arg, int status, const char *detail)
{
	(void)d;
	if (status)
		ctl_error(arg, status, "%s", detail ? detail : buddy_strerror(status));
	else
		ctl_ok(arg);
}

/* ---- dispatch ---- */

/* Unlocking and rebuilding end on their own within seconds; locked does not. A stopping
 * daemon parks nothing: it answers. */
static bool journal_opening(const struct buddyd *d, const struct buddy_control *c)
{
	return !c->stopping && (d->state == BUDDYD_UNLOCKING || d->state == BUDDYD_RELOADING);
}

static const struct ctl_method *find_method(const char *name, size_t len)
{
	for (const struct ctl_method *m = ctl_methods; m->name; m++)
		if (strlen(m->name) == len && memcmp(m->name, name, len) == 0)
			return m;
	return NULL;
}

static struct ctl_req *req_new(struct ctl_client *cl, uint32_t msgid)
{
	struct ctl_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cl = cl;
	r->d = cl->ctl->d;
	r->msgid = msgid;
	msgpack_sbuffer_init(&r->sbuf);
	msgpack_packer_init(&r->pk, &r->sbuf, msgpack_sbuffer_write);
	return r;
}

/* Drops n bytes from the front of the buffer, wiping them: they may hold a passphrase. */
static void consume(struct ctl_client *cl, size_t n)
{
	sodium_memzero(cl->buf, n);
	memmove(cl->buf, cl->buf + n, cl->len - n);
	cl->len -= n;
	sodium_memzero(cl->buf + cl->len, n);
}

static void fatal_framing(struct ctl_client *cl, int rc)
{
	struct ctl_req *r = req_new(cl, 0);

	log_warn("control client sent %s: answered and closed",
		 rc == BUDDY_E_TOOBIG ? "an oversized request" : "bytes that are not msgpack");
	consume(cl, cl->len);
	uv_read_stop((uv_stream_t *)&cl->pipe);
	if (r) {
		cl->busy = r;
		cl->in_handler = true;
		if (rc == BUDDY_E_TOOBIG)
			ctl_error(r, BUDDY_E_TOOBIG, "request too large (the limit is %d bytes)",
				  BUDDY_CONTROL_REQUEST_MAX);
		else
			ctl_error(r, BUDDY_E_INVALID, "request is not valid MessagePack");
		cl->in_handler = false;
	}
	/* msgpack has no resynchronisation point: the connection cannot go on */
	client_close_after_writes(cl);
}

static void handle_one(struct ctl_client *cl, size_t objlen)
{
	struct buddyd *d = cl->ctl->d;
	struct buddy_rpc_request rq;
	const struct ctl_method *m;
	msgpack_unpacked u;
	struct ctl_req *r;
	int known = 0;

	msgpack_unpacked_init(&u);
	cl->in_handler = true;
	if (buddy_mp_decode(cl->buf, objlen, &request_limits, &u) ||
	    buddy_rpc_parse_request(&u.data, &rq, &known)) {
		r = req_new(cl, known ? rq.msgid : 0);
		if (r) {
			cl->busy = r;
			ctl_error(r, BUDDY_E_INVALID,
				  "not a request: expected [0, msgid, method, [params]]");
		}
		goto out;
	}
	r = req_new(cl, rq.msgid);
	if (!r) {
		client_close(cl);
		goto out;
	}
	m = find_method(rq.method, rq.method_len);
	if (m && m->needs_open && journal_opening(d, cl->ctl)) {
		/* the request's bytes stay: it is decoded again when the journal is open */
		free(r);
		cl->parked = true;
		cl->in_handler = false;
		msgpack_unpacked_destroy(&u);
		uv_read_stop((uv_stream_t *)&cl->pipe);
		return;
	}
	cl->busy = r;
	if (!m) {
		ctl_error(r, BUDDY_E_METHOD, "unknown method \"%.*s\"", (int)rq.method_len,
			  rq.method);
	} else if (m->needs_open && d->state != BUDDYD_UNLOCKED) {
		ctl_error_not_open(d, r);
	} else {
		log_debug("control: %s", m->name);
		m->fn(d, r, rq.params);
	}
out:
	cl->in_handler = false;
	msgpack_unpacked_destroy(&u);
	/* the handler has copied what it keeps: the request's bytes go now */
	consume(cl, objlen);
	/* an answer still to come: read nothing more until it has gone */
	if (cl->busy && !cl->closing)
		uv_read_stop((uv_stream_t *)&cl->pipe);
}

static void process(struct ctl_client *cl)
{
	while (!cl->busy && !cl->closing && !cl->parked && cl->len > 0) {
		size_t objlen = 0;
		int rc = buddy_mp_check(cl->buf, cl->len, &request_limits, &objlen);

		if (rc == 1)
			break;
		if (rc) {
			fatal_framing(cl, rc);
			return;
		}
		handle_one(cl, objlen);
	}
}

/* ---- connections ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct ctl_client *cl = h->data;
	size_t limit = BUDDY_CONTROL_REQUEST_MAX + 1;

	(void)suggested;
	if (cl->cap - cl->len < 4096 && cl->cap < limit) {
		size_t ncap = cl->cap ? cl->cap * 2 : 8192;
		uint8_t *nb;
		if (ncap > limit)
			ncap = limit;
		nb = malloc(ncap);
		if (nb) {
			if (cl->buf) {
				memcpy(nb, cl->buf, cl->len);
				sodium_memzero(cl->buf, cl->cap);
				free(cl->buf);
			}
			cl->buf = nb;
			cl->cap = ncap;
		}
	}
	b->base = (char *)cl->buf + cl->len;
	b->len = cl->cap - cl->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct ctl_client *cl = s->data;

	(void)b;
	if (nread == UV_EOF) {
		/* a client may half-close after its request: it still gets every answer */
		cl->eof = true;
		uv_read_stop(s);
		resume(cl);
		return;
	}
	if (nread < 0) {
		client_close(cl);
		return;
	}
	cl->len += (size_t)nread;
	if (!cl->busy)
		process(cl);
	if (!cl->busy && !cl->closing && !cl->parked && cl->len >= BUDDY_CONTROL_REQUEST_MAX + 1)
		fatal_framing(cl, BUDDY_E_TOOBIG);
}

static void on_client_closed(uv_handle_t *h)
{
	struct ctl_client *cl = h->data;

	if (cl->buf) {
		sodium_memzero(cl->buf, cl->cap);
		free(cl->buf);
	}
	free(cl);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	uv_close((uv_handle_t *)req->handle, on_client_closed);
}

static void close_own_handles(struct buddy_control *c)
{
	if (c->handles_closed)
		return;
	c->handles_closed = true;
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
	uv_close((uv_handle_t *)&c->drain, on_handle_closed);
}

static void client_unlink(struct ctl_client *cl)
{
	struct buddy_control *c = cl->ctl;

	cl->closing = true;
	if (cl->busy) {
		/* an answer still to come will find nobody to send it to */
		cl->busy->cl = NULL;
		cl->busy = NULL;
	}
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->nclients--;
	/* the last client of a stopping server: the server's own handles go now */
	if (c->stopping && !c->clients)
		close_own_handles(c);
}

/* Lets queued answers reach the client, then closes. */
static void client_close_after_writes(struct ctl_client *cl)
{
	if (cl->closing)
		return;
	client_unlink(cl);
	if (uv_shutdown(&cl->shutdown, (uv_stream_t *)&cl->pipe, on_shutdown))
		uv_close((uv_handle_t *)&cl->pipe, on_client_closed);
}

static void client_close(struct ctl_client *cl)
{
	if (cl->closing)
		return;
	client_unlink(cl);
	uv_close((uv_handle_t *)&cl->pipe, on_client_closed);
}

static bool peer_is_us(uv_pipe_t *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)p, &fd))
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof(cred))
		return false;
	return cred.uid == geteuid();
}

static void on_connection(uv_stream_t *server, int status)
{
	struct buddy_control *c = server->data;
	struct ctl_client *cl;

	if (status < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return;
	cl->ctl = c;
	uv_pipe_init(c->d->loop, &cl->pipe, 0);
	cl->pipe.data = cl;
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->nclients++;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe)) {
		client_close(cl);
		return;
	}
	if (!peer_is_us(&cl->pipe)) {
		log_warn("control connection from another user refused");
		client_close(cl);
		return;
	}
	if (c->nclients > BUDDY_CONTROL_CLIENTS_MAX) {
		log_warn("more than %d control connections: one refused",
			 BUDDY_CONTROL_CLIENTS_MAX);
		client_close(cl);
		return;
	}
	uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct buddy_control *c = h->data;

	if (--c->open_handles == 0)
		free(c);
}

int buddy_control_start(struct buddyd *d, struct buddy_control **out)
{
	struct buddy_control *c = calloc(1, sizeof(*c));
	mode_t old;
	int rc;

	if (!c)
		return BUDDY_E_NOMEM;
	c->d = d;
	uv_pipe_init(d->loop, &c->listener, 0);
	uv_idle_init(d->loop, &c->idle);
	uv_timer_init(d->loop, &c->drain);
	c->listener.data = c;
	c->idle.data = c;
	c->drain.data = c;
	c->open_handles = 3;
	if (unlink(d->home.sock) && errno != ENOENT) {
		rc = BUDDY_E_IO;
		goto fail;
	}
	/* the socket is created with the umask's mode: make sure it is 0600 from the start */
	old = umask(0177);
	rc = uv_pipe_bind(&c->listener, d->home.sock);
	umask(old);
	if (rc) {
		log_error("cannot bind the control socket %s: %s", d->home.sock, uv_strerror(rc));
		rc = BUDDY_E_IO;
		goto fail;
	}
	chmod(d->home.sock, 0600);
	rc = uv_listen((uv_stream_t *)&c->listener, 64, on_connection);
	if (rc) {
		log_error("cannot listen on %s: %s", d->home.sock, uv_strerror(rc));
		rc = BUDDY_E_IO;
		goto fail;
	}
	c->listening = true;
	*out = c;
	return 0;
fail:
	uv_close((uv_handle_t *)&c->listener, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
	uv_close((uv_handle_t *)&c->drain, on_handle_closed);
	return rc;
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct buddy_control *c = t->data;

	if (c->clients)
		log_warn("stopping: %u control request(s) still unanswered are dropped",
			 c->nclients);
	while (c->clients)
		client_close(c->clients);
}

void buddy_control_journal_settled(struct buddy_control *c)
{
	bool any = false;

	if (!c || c->stopping)
		return;
	for (struct ctl_client *cl = c->clients; cl; cl = cl->next) {
		if (cl->parked && !cl->closing) {
			cl->parked = false;
			cl->resume_pending = true;
			any = true;
		}
	}
	/* from the loop, not from inside the vault's callback */
	if (any)
		uv_idle_start(&c->idle, on_idle);
}

void ctl_watch(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	(void)d;
	(void)p;
	if (r->cl)
		r->cl->watching = true;
	ctl_ok(r);
}

size_t buddy_control_watchers(const struct buddy_control *c)
{
	size_t n = 0;

	for (const struct ctl_client *cl = c ? c->clients : NULL; cl; cl = cl->next)
		n += cl->watching && !cl->closing;
	return n;
}

void buddy_control_notify(struct buddy_control *c, const char *method, const uint8_t *params,
			  size_t len)
{
	struct ctl_client *cl, *next;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (!c || c->stopping)
		return;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 2);
	buddy_mp_pack_cstr(&pk, method);
	msgpack_sbuffer_write(&sb, (const char *)params, len);
	for (cl = c->clients; cl; cl = next) {
		struct write_req *wr;
		uv_buf_t b;

		next = cl->next;
		if (!cl->watching || cl->closing)
			continue;
		/* a watcher that does not read is dropped: the daemon never waits for one */
		if (uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) >
		    BUDDY_CONTROL_WATCH_HWM) {
			log_warn("a watcher is not reading its events: dropped");
			client_close(cl);
			continue;
		}
		if (!(wr = malloc(sizeof(*wr))) || !(wr->data = malloc(sb.size))) {
			free(wr);
			continue;
		}
		memcpy(wr->data, sb.data, sb.size);
		wr->len = sb.size;
		b = uv_buf_init(wr->data, (unsigned)wr->len);
		if (uv_write(&wr->req, (uv_stream_t *)&cl->pipe, &b, 1, on_written)) {
			free(wr->data);
			free(wr);
			client_close(cl);
		} else {
			cl->pending++;
		}
	}
	/* events carry what buddies wrote */
	sodium_memzero(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* Takes nothing new, but lets each request in flight be answered (an entry being written is
 * confirmed to its client rather than saved behind its back), then closes. */
void buddy_control_stop(struct buddy_control *c)
{
	struct ctl_client *cl, *next;

	if (!c || c->stopping)
		return;
	c->stopping = true;
	unlink(c->d->home.sock);
	uv_close((uv_handle_t *)&c->listener, on_handle_closed);
	for (cl = c->clients; cl; cl = next) {
		next = cl->next;
		cl->resume_pending = false;
		if (cl->parked) {
			/* its request is answered (not open: the daemon is going) and it is closed
			 */
			cl->parked = false;
			process(cl);
			if (!cl->busy && !cl->closing)
				client_close_after_writes(cl);
		} else if (cl->busy || cl->in_handler) {
			uv_read_stop((uv_stream_t *)&cl->pipe);
		} else {
			client_close_after_writes(cl);
		}
	}
	if (!c->clients)
		close_own_handles(c);
	else
		uv_timer_start(&c->drain, on_drain_timeout, CONTROL_DRAIN_MS, 0);
}

const struct ctl_method ctl_methods[] = {
	{"status", ctl_status, false},
	{"unlock", ctl_unlock, false},
	{"lock", ctl_lock, false},
	{"passwd", ctl_passwd, false},
	{"debug.clock_advance", ctl_clock_advance, false},
	{"config.reload", ctl_config_reload, false},
	{"commit.add", ctl_commit_add, true},
	{"commit.list", ctl_commit_list, true},
	{"commit.show", ctl_commit_show, true},
	{"commit.archive", ctl_commit_archive, true},
	{"stats", ctl_stats, true},
	{"checkin", ctl_checkin, true},
	{"log", ctl_log, true},
	{"journal", ctl_journal, true},
	{"import", ctl_import, true},
	{"invite", ctl_invite, true},
	{"accept", ctl_accept, true},
	{"buddies", ctl_buddies, true},
	{"verify", ctl_verify, true},
	{"rename", ctl_rename, true},
	{"revoke", ctl_revoke, true},
	{"buddies.wait", ctl_buddies_wait, true},
	{"share", ctl_share, true},
	{"unshare", ctl_unshare, true},
	{"retract", ctl_retract, true},
	{"react", ctl_react, true},
	{"show", ctl_show, true},
	{"watch", ctl_watch, false},
	{"received", ctl_received, true},
	{"pause", ctl_pause, true},
	{"inbox", ctl_inbox, true},
	{"inbox.read", ctl_inbox_read, true},
	{"backup.start", ctl_backup_start, true},
	{"backup.read", ctl_backup_read, true},
	{"backup.end", ctl_backup_end, true},
	{NULL, NULL, false},
};
