/* Peer sessions over TCP (see buddy/peer.h and proto/PROTOCOL.md). Each frame is a u16
 * big-endian length and one Noise message of
 *
 *   Noise_XX_25519_ChaChaPoly_BLAKE2b, prologue BUDDY_PEER_PROLOGUE
 *     -> e                  empty payload
 *     <- e, ee, s, es       the responder's hello
 *     -> s, se              the initiator's hello (with invite id and proof when pairing)
 *
 * then transport messages whose plaintext is msgpack [type, body].
 *
 * Lifetimes: a connection (struct conn) owns a TCP handle and a timer (the handshake deadline,
 * then the ping/idle clock) and is freed when both close callbacks have run; a wanted buddy
 * (struct want) owns its redial timer; the module is freed by the last close callback after
 * buddy_peer_stop. Every handle of the module is counted in p->open.
 *
 * Owner callbacks may call back into this module (send, unwant, stop): after each one the
 * caller re-checks c->closing and p->stopped. A failure found inside buddy_peer_send closes
 * the connection from a uv_idle, so that down() never runs inside the owner's own call.
 *
 * Listening: an IPv6 address is bound with IPV6_V6ONLY, so "::" and "0.0.0.0" can both be
 * listed, on the same port, whatever the system's bindv6only default. */
#include "buddy/peer.h"
#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "buddy/noise.h"
#include "pkindex.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY	       32 /* Ed25519 and X25519 public keys */
#define FRAME_HDR      2
#define LISTEN_MAX     BUDDY_PEER_ADDRS_MAX
#define LISTEN_BACKLOG 128
/* The longest handshake message: message 2 is e, s and its tag, a hello and its tag. A longer
 * length prefix before the session is up is dropped at once instead of being waited for. */
#define HS_FRAME_MAX  (2 * BUDDY_NOISE_KEY_BYTES + 2 * BUDDY_NOISE_TAG_BYTES + BUDDY_HELLO_MAX)
#define TRANSPORT_MAX (BUDDY_PEER_FRAME_MAX - BUDDY_NOISE_TAG_BYTES) /* plaintext bytes */

enum conn_state {
	C_CONNECTING,  /* initiator: TCP connect in progress */
	C_WAIT_MSG1,   /* responder: nothing read yet */
	C_WAIT_MSG2,   /* initiator: message 1 sent */
	C_WAIT_MSG3,   /* responder: message 2 sent */
	C_WAIT_PAIRED, /* pairing initiator: message 3 sent, waiting for PAIRED */
	C_WAIT_PROOF,  /* initiator: message 3 sent, waiting for the responder's first transport
			* message, which shows it admitted us (a refusal is a silent close) */
	C_SESSION,     /* authenticated both ways (as far as we can tell) */
};

enum close_mode {
	NOTIFY, /* a session that ends calls down(); dials go on to their next step */
	SILENT, /* replaced by a duplicate, or never admitted: no callback */
};

struct want;
struct pairing;

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect;
	struct buddy_peer *p;
	struct conn *prev, *next;
	int handles; /* open handles of this connection */
	enum conn_state state;
	bool initiator;
	bool closing;
	bool unauth; /* counted in p->nunauth */
	bool doomed; /* failed inside the owner's call: closed from the idle handler */
	bool ending; /* buddy_peer_end: the last message is flushing; no longer the session */
	uv_shutdown_t shutdown;
	bool proven; /* the other side admitted us: we are the responder, or a frame arrived */
	bool pinged; /* a PING is out since the last frame received */
	struct want *want;    /* a dial for this wanted buddy */
	struct want *disc;    /* a discovered dial for this wanted buddy (no redial after) */
	struct pairing *pair; /* a dial for this pairing */
	int pair_status;      /* what the end of this pairing dial means ... */
	bool pair_final;      /* ... and whether it ends the pairing */
	uint8_t expect[KEY];  /* a dial: the identity that must answer */
	uint8_t id[KEY];      /* the remote identity, once its hello has passed */
	struct buddy_hello hello;
	struct buddy_addr remote;
	struct buddy_noise_hs *hs;
	struct buddy_noise_cs *tx, *rx;
	uint8_t h2[BUDDY_NOISE_HASH_MAX]; /* responder: the handshake hash after message 2 */
	size_t h2len;
	uint64_t last_rx; /* uv_now() of the last frame received */
	uint64_t ping_n;
	/* at most one frame, allocated while bytes are pending: an idle session holds none
	 * (1,000 sessions with a 64 KiB buffer each would be 64 MiB) */
	size_t rlen, rcap;
	uint8_t *rbuf;
};

struct want {
	uv_timer_t timer; /* redial */
	struct buddy_peer *p;
	struct want *prev, *next;
	uint8_t id[KEY];
	/* id as an X25519 key, once a hello has needed it: the conversion checks the point,
	 * which costs as much as an X25519 multiplication (~32 us, 12% of the daemon's CPU per
	 * handshake served), and a buddy's key does not change */
	uint8_t xid[KEY];
	bool has_xid;
	struct buddy_addr addrs[BUDDY_PEER_ADDRS_MAX];
	size_t naddrs;
	size_t next_addr; /* the next address of this round */
	uint32_t backoff; /* the next redial delay, before jitter */
	struct conn *dial;
	struct conn *disc; /* a dial to where LAN discovery saw it: outside the redial rounds */
};

struct pairing { /* in sodium_malloc memory: it holds the invite secret */
	struct buddy_peer *p;
	struct pairing *prev, *next;
	struct buddy_invite inv;
	buddy_peer_pair_cb cb;
	void *arg;
	size_t next_addr;
	int status; /* the result if no address succeeds */
	struct conn *dial;
};

struct write_req {
	uv_write_t req;
	size_t len;
	uint8_t buf[];
};

struct buddy_peer {
	uv_loop_t *loop;
	struct buddy_peer_ops ops;
	void *owner;
	uint8_t pk[KEY];
	uint8_t *xsk;	  /* X25519 form of our signing key: the Noise static key (sodium_malloc) */
	uint8_t xpk[KEY]; /* its public key, computed once instead of at every handshake */
	uv_tcp_t listeners[LISTEN_MAX];
	size_t nlisten;
	struct buddy_addr bound[LISTEN_MAX];
	uv_idle_t idle; /* closes doomed connections */
	struct buddy_hello hello;
	uint8_t hello_buf[BUDDY_HELLO_MAX];
	size_t hello_len;
	uint32_t handshake_ms, ping_ms, idle_ms, redial_min_ms, redial_max_ms;
	struct conn *conns;
	unsigned nunauth;
	struct want *wants;
	struct pkix wants_ix; /* the wants by id */
	struct pairing *pairings;
	int open; /* handles not yet closed */
	bool stopped;
};

static void on_timer(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void want_dial_next(struct want *w);
static void want_schedule(struct want *w);
static void pair_attempt_over(struct pairing *pr, int status, bool final);

/* ---- helpers ---- */

static const char *short_id(const uint8_t *pk, char out[9])
{
	return sodium_bin2hex(out, 9, pk, 4);
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int addr_to_sockaddr(const struct buddy_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!memchr(a->host, 0, sizeof(a->host)))
		return BUDDY_E_INVALID;
	if (strchr(a->host, ':'))
		return uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)ss) ? BUDDY_E_INVALID
										: 0;
	return uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)ss) ? BUDDY_E_INVALID : 0;
}

static int sockaddr_to_addr(const struct sockaddr_storage *ss, struct buddy_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		a->port = ntohs(s4->sin_port);
		return uv_ip4_name(s4, a->host, sizeof(a->host)) ? BUDDY_E_INVALID : 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		a->port = ntohs(s6->sin6_port);
		return uv_ip6_name(s6, a->host, sizeof(a->host)) ? BUDDY_E_INVALID : 0;
	}
	return BUDDY_E_INVALID;
}

static bool addr_unspecified(const struct buddy_addr *a)
{
	return strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0;
}

/* ms within +-25% */
static uint32_t jitter(uint32_t ms)
{
	return ms - ms / 4 + randombytes_uniform(ms / 2 + 1);
}

static void closed_one(struct buddy_peer *p)
{
	if (--p->open == 0 && p->stopped)
		free(p);
}

static void on_peer_handle_closed(uv_handle_t *h)
{
	closed_one(h->data);
}

static struct conn *session_find(const struct buddy_peer *p, const uint8_t id[KEY],
				 bool with_doomed)
{
	for (struct conn *c = p->conns; c; c = c->next)
		if (c->state == C_SESSION && !c->closing && !c->ending &&
		    (with_doomed || !c->doomed) && memcmp(c->id, id, KEY) == 0)
			return c;
	return NULL;
}

static const uint8_t *want_key(const void *r)
{
	return ((const struct want *)r)->id;
}

static struct want *want_find(const struct buddy_peer *p, const uint8_t id[KEY])
{
	return pkix_get(&p->wants_ix, id, want_key);
}

/* ---- connections ---- */

#define RBUF_MIN 2048 /* more than any handshake frame */

/* Wiped: transport plaintext is decrypted in place. */
static void rbuf_free(struct conn *c)
{
	if (c->rbuf) {
		sodium_memzero(c->rbuf, c->rcap);
		free(c->rbuf);
	}
	c->rbuf = NULL;
	c->rcap = 0;
}

/* Room for what is pending: the whole frame whose header has arrived, else RBUF_MIN. */
static int rbuf_reserve(struct conn *c)
{
	size_t want = RBUF_MIN;
	uint8_t *nb;

	if (c->rlen >= FRAME_HDR)
		want = FRAME_HDR + ((size_t)c->rbuf[0] << 8 | c->rbuf[1]);
	if (want < RBUF_MIN)
		want = RBUF_MIN;
	if (c->rbuf && c->rcap >= want && c->rcap > c->rlen)
		return 0;
	if (want <= c->rlen)
		want = c->rlen + RBUF_MIN; /* cannot happen: a whole frame is consumed at once */
	nb = malloc(want);
	if (!nb)
		return BUDDY_E_NOMEM;
	if (c->rbuf)
		memcpy(nb, c->rbuf, c->rlen);
	{
		size_t keep = c->rlen;
		rbuf_free(c);
		c->rlen = keep;
	}
	c->rbuf = nb;
	c->rcap = want;
	return 0;
}

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct buddy_peer *p = c->p;

	if (--c->handles == 0) {
		rbuf_free(c);
		free(c);
	}
	closed_one(p);
}

static struct conn *conn_new(struct buddy_peer *p, bool initiator)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->p = p;
	c->initiator = initiator;
	uv_tcp_init(p->loop, &c->tcp);
	uv_timer_init(p->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->connect.data = c;
	c->handles = 2;
	p->open += 2;
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	uv_timer_start(&c->timer, on_timer, p->handshake_ms, 0);
	return c;
}

/* Recursive through the dialling below: closing a dial moves on to the next address
 * (pair_attempt_over, want_dial_next), and a dial that cannot even start is closed here again,
 * SILENT, which returns before either: two levels at most. NOLINTNEXTLINE(misc-no-recursion) */
static void conn_close(struct conn *c, enum close_mode mode)
{
	struct buddy_peer *p = c->p;
	bool was_session = c->state == C_SESSION;
	struct pairing *pr = c->pair;
	struct want *w = c->want;
	char id[9];

	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->unauth) {
		c->unauth = false;
		p->nunauth--;
	}
	buddy_noise_hs_free(c->hs);
	buddy_noise_cs_free(c->tx);
	buddy_noise_cs_free(c->rx);
	c->hs = NULL;
	c->tx = c->rx = NULL;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
	if (w) {
		w->dial = NULL;
		c->want = NULL;
	}
	if (c->disc) { /* a discovered dial: its end schedules nothing */
		c->disc->disc = NULL;
		c->disc = NULL;
	}
	if (pr) {
		pr->dial = NULL;
		c->pair = NULL;
	}
	if (p->stopped || mode == SILENT)
		return;
	if (pr)
		pair_attempt_over(pr, c->pair_status, c->pair_final);
	if (w && !session_find(p, w->id, true))
		want_dial_next(w);
	if (was_session) {
		log_info("peer %s: session down", short_id(c->id, id));
		w = want_find(p, c->id);
		if (w && !w->dial && !session_find(p, c->id, true)) {
			w->next_addr = 0;
			want_schedule(w);
		}
		if (p->ops.down)
			p->ops.down(p->owner, c->id);
	}
}

static void conn_drop(struct conn *c, const char *why)
{
	char id[9];

	if (c->closing)
		return;
	if (c->state == C_SESSION || c->state == C_WAIT_PAIRED || c->state == C_WAIT_PROOF)
		log_debug("peer %s: dropped: %s", short_id(c->id, id), why);
	else
		log_debug("peer connection dropped during the handshake: %s", why);
	conn_close(c, NOTIFY);
}

static void on_idle(uv_idle_t *h)
{
	struct buddy_peer *p = h->data;
	struct conn *c;

	uv_idle_stop(h);
	/* each close may run owner code that changes the list: rescan from the head */
	for (;;) {
		for (c = p->conns; c && !c->doomed; c = c->next)
			;
		if (!c || p->stopped)
			return;
		conn_drop(c, "cannot send");
	}
}

static void conn_drop_later(struct conn *c)
{
	c->doomed = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_idle_start(&c->p->idle, on_idle);
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct conn *c = req->handle->data;

	/* UV_ECANCELED comes from uv_close, before the connection's close callback */
	if (status < 0 && status != UV_ECANCELED && !c->closing)
		conn_drop(c, uv_strerror(status));
	free(wr);
}

static struct write_req *write_req_new(size_t cap)
{
	return malloc(sizeof(struct write_req) + FRAME_HDR + cap);
}

/* Queues wr (freed whatever happens). A peer that does not read what we queue is dropped. */
static int conn_write(struct conn *c, struct write_req *wr)
{
	uv_buf_t b = uv_buf_init((char *)wr->buf, (unsigned)wr->len);

	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > BUDDY_PEER_WRITE_HWM ||
	    uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_written)) {
		free(wr);
		return BUDDY_E_IO;
	}
	return 0;
}

static int send_handshake(struct conn *c, const uint8_t *payload, size_t len)
{
	struct write_req *wr = write_req_new(HS_FRAME_MAX);
	size_t n;
	int rc;

	if (!wr)
		return BUDDY_E_NOMEM;
	rc = buddy_noise_write_message(c->hs, payload, len, wr->buf + FRAME_HDR, HS_FRAME_MAX, &n);
	if (rc) {
		free(wr);
		return rc;
	}
	put16(wr->buf, n);
	wr->len = FRAME_HDR + n;
	return conn_write(c, wr);
}

static int send_transport(struct conn *c, const uint8_t *msg, size_t len)
{
	size_t cap = len + BUDDY_NOISE_TAG_BYTES, n;
	struct write_req *wr;
	int rc;

	if (len > TRANSPORT_MAX)
		return BUDDY_E_TOOBIG;
	wr = write_req_new(cap);
	if (!wr)
		return BUDDY_E_NOMEM;
	rc = buddy_noise_cs_encrypt(c->tx, NULL, 0, msg, len, wr->buf + FRAME_HDR, cap, &n);
	if (rc) {
		free(wr);
		return rc;
	}
	put16(wr->buf, n);
	wr->len = FRAME_HDR + n;
	return conn_write(c, wr);
}

static int send_simple(struct conn *c, enum buddy_msg_type type, uint64_t n)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	rc = buddy_msg_encode_simple(&sb, type, n);
	if (rc == 0)
		rc = send_transport(c, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* ---- the session clock ---- */

static void session_tick(struct conn *c)
{
	struct buddy_peer *p = c->p;
	uint64_t quiet = uv_now(p->loop) - c->last_rx, next;

	if (quiet >= p->idle_ms) {
		conn_drop(c, "idle");
		return;
	}
	/* an ending connection sends nothing after its last message */
	if (quiet >= p->ping_ms && !c->pinged && !c->ending) {
		if (send_simple(c, BUDDY_MSG_PING, ++c->ping_n)) {
			conn_drop(c, "cannot send");
			return;
		}
		c->pinged = true;
	}
	next = c->pinged || p->ping_ms >= p->idle_ms ? p->idle_ms - quiet : p->ping_ms - quiet;
	uv_timer_start(&c->timer, on_timer, next, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->state == C_SESSION) {
		session_tick(c);
		return;
	}
	if (c->state == C_WAIT_PAIRED) {
		c->pair_status = BUDDY_E_IO;
		c->pair_final = true;
	}
	conn_drop(c, "handshake time limit");
}

/* ---- sessions ---- */

/* Of two authenticated connections with one buddy, both sides keep the one whose initiator
 * has the smaller identity. Two in the same direction: the newer, since the other side only
 * dials (or answers) again when it believes the older one is gone. */
static bool keep_new(const struct buddy_peer *p, const struct conn *old, const struct conn *c)
{
	if (old->doomed || old->initiator == c->initiator)
		return true;
	return c->initiator == (memcmp(p->pk, c->id, KEY) < 0);
}

static void become_session(struct conn *c)
{
	struct buddy_peer *p = c->p;
	struct conn *old = session_find(p, c->id, true);
	struct want *w;
	char id[9];

	short_id(c->id, id);
	if (old) {
		if (!keep_new(p, old, c)) {
			log_debug("peer %s: duplicate connection closed, the existing one kept",
				  id);
			conn_close(c, SILENT);
			return;
		}
		log_debug("peer %s: duplicate connection replaces the existing one", id);
		conn_close(old, SILENT);
	}
	if (c->unauth) {
		c->unauth = false;
		p->nunauth--;
	}
	c->state = C_SESSION;
	c->last_rx = uv_now(p->loop);
	c->pinged = false;
	session_tick(c);
	if (c->closing)
		return;
	w = want_find(p, c->id);
	if (w) {
		uv_timer_stop(&w->timer);
		/* our own dial still before message 3: the other side has not admitted it (one
		 * waiting for its proof may have been, and is resolved like any duplicate) */
		if (w->dial && w->dial->state != C_WAIT_PROOF) {
			struct conn *d = w->dial;
			w->dial = NULL;
			d->want = NULL;
			conn_close(d, SILENT);
		}
		if (w->disc == c) {
			w->disc = NULL;
			c->disc = NULL;
		} else if (w->disc && w->disc->state != C_WAIT_PROOF) {
			conn_close(w->disc, SILENT); /* unlinks itself */
		}
		if (c->hello.naddrs) {
			memcpy(w->addrs, c->hello.addrs, c->hello.naddrs * sizeof(w->addrs[0]));
			w->naddrs = c->hello.naddrs;
		}
		w->next_addr = 0;
		if (c->proven)
			w->backoff = p->redial_min_ms;
	}
	log_info("peer %s: session up (%s)", id, c->initiator ? "we dialled" : "it dialled");
	if (p->ops.up)
		p->ops.up(p->owner, c->id, &c->hello, &c->remote);
}

/* A frame arrived on a session whose start we could not confirm: the other side admitted us,
 * and a later disconnect starts redialling from the shortest delay. */
static void set_proven(struct conn *c)
{
	struct want *w;

	if (c->proven)
		return;
	c->proven = true;
	w = want_find(c->p, c->id);
	if (w)
		w->backoff = c->p->redial_min_ms;
}

/* ---- pairing ---- */

static void pair_unlink(struct buddy_peer *p, struct pairing *pr)
{
	if (pr->prev)
		pr->prev->next = pr->next;
	else
		p->pairings = pr->next;
	if (pr->next)
		pr->next->prev = pr->prev;
}

/* Returns the callback's verdict: whether to keep a successful pairing's connection. */
static bool pair_finish(struct buddy_peer *p, struct pairing *pr, int status,
			const struct buddy_hello *h)
{
	buddy_peer_pair_cb cb = pr->cb;
	void *arg = pr->arg;

	pair_unlink(p, pr);
	sodium_free(pr);
	return cb(arg, status, h);
}

static struct conn *dial(struct buddy_peer *p, const struct buddy_addr *a,
			 const uint8_t expect[KEY]);

/* NOLINTNEXTLINE(misc-no-recursion): two levels at most, see conn_close */
static bool pair_dial_next(struct buddy_peer *p, struct pairing *pr)
{
	while (pr->next_addr < pr->inv.naddrs) {
		struct conn *c = dial(p, &pr->inv.addrs[pr->next_addr++], pr->inv.inviter_pk);
		if (c) {
			c->pair = pr;
			c->pair_status = BUDDY_E_IO;
			pr->dial = c;
			return true;
		}
	}
	return false;
}

/* One address's dial has ended without PAIRED. Another key answering there is remembered
 * (the result becomes BUDDY_E_PERM) but the other addresses are still tried: an invite may list
 * a LAN address that is someone else's elsewhere. The inviter's own refusal ends it. */
/* NOLINTNEXTLINE(misc-no-recursion): two levels at most, see conn_close */
static void pair_attempt_over(struct pairing *pr, int status, bool final)
{
	if (status == BUDDY_E_PERM)
		pr->status = BUDDY_E_PERM;
	if (final)
		pair_finish(pr->p, pr, status, NULL);
	else if (!pair_dial_next(pr->p, pr))
		pair_finish(pr->p, pr, pr->status, NULL);
}

/* ---- the handshake ---- */

static int hs_start(struct conn *c, enum buddy_noise_role role)
{
	struct buddy_noise_params prm = {
		.role = role,
		.prologue = (const uint8_t *)BUDDY_PEER_PROLOGUE,
		.prologue_len = sizeof(BUDDY_PEER_PROLOGUE) - 1,
		.local_static = c->p->xsk,
		.local_static_pub = c->p->xpk,
	};

	return buddy_noise_hs_new(&prm, &c->hs);
}

/* Decodes the peer's hello and checks that it names the key that the handshake proved. */
static int read_hello(struct conn *c, const uint8_t *payload, size_t len)
{
	const uint8_t *rs = buddy_noise_remote_static(c->hs);
	struct buddy_hello h;
	struct want *w;
	uint8_t x[KEY];
	int rc;

	if (!rs)
		return BUDDY_E_AUTH;
	rc = buddy_hello_decode(payload, len, &h);
	if (rc)
		return rc;
	/* a wanted buddy's key was converted (and checked) by an earlier hello: the same result */
	w = want_find(c->p, h.id);
	if (w && w->has_xid) {
		memcpy(x, w->xid, KEY);
	} else {
		if (crypto_sign_ed25519_pk_to_curve25519(x, h.id) != 0)
			return BUDDY_E_AUTH;
		if (w) {
			memcpy(w->xid, x, KEY);
			w->has_xid = true;
		}
	}
	if (sodium_memcmp(x, rs, KEY) != 0)
		return BUDDY_E_AUTH;
	if (sodium_memcmp(h.id, c->p->pk, KEY) == 0)
		return BUDDY_E_AUTH; /* ourselves, through some address of ours */
	if (h.has_invite && c->initiator)
		return BUDDY_E_INVALID; /* only an initiator proves an invite */
	c->hello = h;
	memcpy(c->id, h.id, KEY);
	return 0;
}

static int split(struct conn *c)
{
	int rc = buddy_noise_split(c->hs, &c->tx, &c->rx);

	buddy_noise_hs_free(c->hs);
	c->hs = NULL;
	return rc;
}

/* responder */
static void on_msg1(struct conn *c, const uint8_t *f, size_t len)
{
	const uint8_t *h;
	size_t plen;

	/* message 1 carries no payload: any is refused */
	if (buddy_noise_read_message(c->hs, f, len, NULL, 0, &plen)) {
		conn_drop(c, "bad message 1");
		return;
	}
	if (send_handshake(c, c->p->hello_buf, c->p->hello_len)) {
		conn_drop(c, "cannot send message 2");
		return;
	}
	/* the initiator's invite proof is bound to the hash as it stands now */
	h = buddy_noise_handshake_hash(c->hs, &c->h2len);
	memcpy(c->h2, h, c->h2len);
	c->state = C_WAIT_MSG3;
}

static int send_pairing_msg3(struct conn *c)
{
	const struct buddy_invite *inv = &c->pair->inv;
	struct buddy_hello h = c->p->hello;
	uint8_t buf[BUDDY_HELLO_MAX];
	const uint8_t *hh;
	size_t hlen, len;
	int rc;

	hh = buddy_noise_handshake_hash(c->hs, &hlen);
	h.has_invite = true;
	buddy_invite_id(inv->secret, h.invite_id);
	buddy_invite_proof(inv->secret, hh, hlen, h.proof);
	rc = buddy_hello_encode(&h, buf, sizeof(buf), &len);
	if (rc == 0)
		rc = send_handshake(c, buf, len);
	sodium_memzero(&h, sizeof(h));
	return rc;
}

/* initiator */
static void on_msg2(struct conn *c, const uint8_t *f, size_t len)
{
	struct buddy_peer *p = c->p;
	uint8_t payload[BUDDY_HELLO_MAX];
	char id[9];
	size_t plen;
	bool ok;

	if (buddy_noise_read_message(c->hs, f, len, payload, sizeof(payload), &plen) ||
	    read_hello(c, payload, plen)) {
		conn_drop(c, "bad message 2");
		return;
	}
	short_id(c->id, id);
	if (sodium_memcmp(c->id, c->expect, KEY) != 0) {
		if (c->pair) {
			log_warn("pairing: the address answered with another key (%s), not the "
				 "inviter's: possible interception",
				 id);
			c->pair_status = BUDDY_E_PERM;
		}
		conn_drop(c, "another key answered");
		return;
	}
	if (c->pair) {
		if (send_pairing_msg3(c) || split(c)) {
			conn_drop(c, "cannot send message 3");
			return;
		}
		/* from now on a close is the inviter's answer: the invite was refused */
		c->pair_status = BUDDY_E_AUTH;
		c->pair_final = true;
		c->state = C_WAIT_PAIRED;
		return;
	}
	ok = p->ops.admit(p->owner, &c->hello, NULL, 0, true);
	if (c->closing || p->stopped)
		return;
	if (!ok) {
		conn_drop(c, "not admitted");
		return;
	}
	if (send_handshake(c, p->hello_buf, p->hello_len) || split(c)) {
		conn_drop(c, "cannot send message 3");
		return;
	}
	/* not up yet: the responder may still refuse us after reading message 3 */
	c->state = C_WAIT_PROOF;
}

/* responder */
static void on_msg3(struct conn *c, const uint8_t *f, size_t len)
{
	struct buddy_peer *p = c->p;
	uint8_t payload[BUDDY_HELLO_MAX];
	size_t plen;
	bool ok;

	if (buddy_noise_read_message(c->hs, f, len, payload, sizeof(payload), &plen) ||
	    read_hello(c, payload, plen)) {
		conn_drop(c, "bad message 3");
		return;
	}
	ok = p->ops.admit(p->owner, &c->hello, c->h2, c->h2len, false);
	if (c->closing || p->stopped)
		return;
	if (!ok) {
		conn_drop(c, "not admitted");
		return;
	}
	/* the first transport message tells the initiator it was admitted: PAIRED for a
	 * pairing, else a PING */
	if (split(c) ||
	    send_simple(c, c->hello.has_invite ? BUDDY_MSG_PAIRED : BUDDY_MSG_PING, 0)) {
		conn_drop(c, "cannot start the session");
		return;
	}
	c->proven = true;
	become_session(c);
}

/* ---- transport ---- */

static void pair_done(struct conn *c)
{
	struct buddy_peer *p = c->p;
	struct pairing *pr = c->pair;
	struct buddy_hello h = c->hello;
	bool keep;

	c->pair = NULL;
	pr->dial = NULL;
	c->proven = true;
	keep = pair_finish(p, pr, 0, &h);
	if (c->closing || p->stopped)
		return;
	/* the owner could not record the inviter: no session with a key that is no buddy */
	if (!keep) {
		conn_close(c, SILENT);
		return;
	}
	become_session(c);
}

static void on_transport(struct conn *c, uint8_t *f, size_t len)
{
	struct buddy_peer *p = c->p;
	const msgpack_object *body;
	msgpack_unpacked u;
	uint64_t type, n;
	size_t plen;

	/* decrypted in place: the frame's bytes are ours until the next read */
	if (buddy_noise_cs_decrypt(c->rx, NULL, 0, f, len, f, len, &plen)) {
		conn_drop(c, "transport message fails to decrypt");
		return;
	}
	msgpack_unpacked_init(&u);
	if (buddy_msg_decode(f, plen, &u, &type, &body)) {
		conn_drop(c, "malformed transport message");
		goto out;
	}
	c->last_rx = uv_now(p->loop);
	c->pinged = false;
	if (c->state == C_WAIT_PAIRED) {
		if (type == BUDDY_MSG_PAIRED)
			pair_done(c);
		else
			conn_drop(c, "a message before PAIRED");
		goto out;
	}
	if (c->state == C_WAIT_PROOF) {
		/* admitted: only now is this a session with the buddy */
		if (c->want) {
			c->want->dial = NULL;
			c->want = NULL;
		}
		if (c->disc) {
			c->disc->disc = NULL;
			c->disc = NULL;
		}
		c->proven = true;
		become_session(c);
		if (c->closing)
			goto out;
	}
	set_proven(c);
	switch (type) {
	case BUDDY_MSG_PING:
		if (buddy_mp_uint(buddy_mp_get(body, "n"), &n)) {
			conn_drop(c, "malformed PING");
			break;
		}
		if (send_simple(c, BUDDY_MSG_PONG, n))
			conn_drop(c, "cannot send");
		break;
	case BUDDY_MSG_PONG:
	case BUDDY_MSG_PAIRED: /* only a pairing dial waits for it */
		break;
	case BUDDY_MSG_ADDRS: {
		/* the buddy's new addresses: the ones to redial from now on */
		struct buddy_addr a[BUDDY_PEER_ADDRS_MAX];
		size_t na;
		struct want *w;
		if (buddy_addrs_read(buddy_mp_get(body, "a"), a, BUDDY_PEER_ADDRS_MAX, &na)) {
			conn_drop(c, "malformed ADDRS");
			break;
		}
		w = want_find(p, c->id);
		if (w && na) {
			memcpy(w->addrs, a, na * sizeof(a[0]));
			w->naddrs = na;
			w->next_addr = 0;
		}
		if (p->ops.message)
			p->ops.message(p->owner, c->id, f, plen);
		break;
	}
	default:
		if (p->ops.message)
			p->ops.message(p->owner, c->id, f, plen);
		break;
	}
out:
	msgpack_unpacked_destroy(&u);
}

static void on_frame(struct conn *c, uint8_t *f, size_t len)
{
	switch (c->state) {
	case C_WAIT_MSG1:
		on_msg1(c, f, len);
		break;
	case C_WAIT_MSG2:
		on_msg2(c, f, len);
		break;
	case C_WAIT_MSG3:
		on_msg3(c, f, len);
		break;
	case C_WAIT_PAIRED:
	case C_WAIT_PROOF:
	case C_SESSION:
		on_transport(c, f, len);
		break;
	case C_CONNECTING:
		conn_drop(c, "unexpected bytes");
		break;
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)suggested;
	/* the buffer holds at most the one frame pending (see rbuf_reserve) */
	if (rbuf_reserve(c)) {
		*b = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS: the connection drops */
		return;
	}
	*b = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = s->data;
	size_t off = 0;

	(void)b;
	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		conn_drop(c, nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
		return;
	}
	c->rlen += (size_t)nread;
	while (!c->closing && !c->doomed && c->rlen - off >= FRAME_HDR) {
		size_t flen = (size_t)c->rbuf[off] << 8 | c->rbuf[off + 1];
		bool hs = c->state != C_SESSION && c->state != C_WAIT_PAIRED &&
			  c->state != C_WAIT_PROOF;

		if (flen == 0 || (hs && flen > HS_FRAME_MAX)) {
			conn_drop(c, flen ? "oversized handshake frame" : "empty frame");
			return;
		}
		if (c->rlen - off < FRAME_HDR + flen)
			break;
		on_frame(c, c->rbuf + off + FRAME_HDR, flen);
		off += FRAME_HDR + flen;
	}
	if (c->closing)
		return;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	if (c->rlen == 0)
		rbuf_free(c);
}

/* ---- dialling and accepting ---- */

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (status == UV_ECANCELED || c->closing)
		return;
	if (status < 0) {
		conn_drop(c, uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (hs_start(c, BUDDY_NOISE_INITIATOR) ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) ||
	    send_handshake(c, NULL, 0)) {
		conn_drop(c, "cannot start the handshake");
		return;
	}
	c->state = C_WAIT_MSG2;
}

/* A connection to a, which must answer with the identity expect; NULL when it cannot even be
 * started (nothing else happens then). */
/* NOLINTNEXTLINE(misc-no-recursion): two levels at most, see conn_close */
static struct conn *dial(struct buddy_peer *p, const struct buddy_addr *a,
			 const uint8_t expect[KEY])
{
	struct sockaddr_storage ss;
	struct conn *c;
	char id[9];

	if (addr_to_sockaddr(a, &ss))
		return NULL;
	c = conn_new(p, true);
	if (!c)
		return NULL;
	c->state = C_CONNECTING;
	c->remote = *a;
	memcpy(c->expect, expect, KEY);
	if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&ss, on_connect)) {
		conn_close(c, SILENT);
		return NULL;
	}
	log_debug("peer %s: dialling %s port %u", short_id(expect, id), a->host, a->port);
	return c;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct buddy_peer *p = server->data;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct conn *c;

	if (status < 0 || p->stopped)
		return;
	c = conn_new(p, false);
	if (!c)
		return;
	c->state = C_WAIT_MSG1;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		conn_close(c, SILENT);
		return;
	}
	c->unauth = true;
	if (++p->nunauth > BUDDY_PEER_UNAUTH_MAX) {
		log_debug("more than %d unauthenticated peer connections: one closed",
			  BUDDY_PEER_UNAUTH_MAX);
		conn_close(c, SILENT);
		return;
	}
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
		sockaddr_to_addr(&ss, &c->remote);
	uv_tcp_nodelay(&c->tcp, 1);
	if (hs_start(c, BUDDY_NOISE_RESPONDER) ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
		conn_close(c, SILENT);
}

/* ---- wanted buddies ---- */

static void on_want_closed(uv_handle_t *h)
{
	struct want *w = h->data;
	struct buddy_peer *p = w->p;

	free(w);
	closed_one(p);
}

static void on_redial(uv_timer_t *t)
{
	struct want *w = t->data;

	if (w->dial || session_find(w->p, w->id, true))
		return;
	w->next_addr = 0;
	want_dial_next(w);
}

static void want_schedule(struct want *w)
{
	uint32_t delay;

	if (w->naddrs == 0)
		return; /* nowhere to dial: the buddy dialling us is the only way */
	delay = jitter(w->backoff);
	w->backoff = w->backoff >= w->p->redial_max_ms / 2 ? w->p->redial_max_ms : w->backoff * 2;
	uv_timer_start(&w->timer, on_redial, delay, 0);
}

/* The next address of this round; after the last one, the next round after a delay. */
/* NOLINTNEXTLINE(misc-no-recursion): two levels at most, see conn_close */
static void want_dial_next(struct want *w)
{
	while (w->next_addr < w->naddrs) {
		struct conn *c = dial(w->p, &w->addrs[w->next_addr++], w->id);
		if (c) {
			c->want = w;
			w->dial = c;
			return;
		}
	}
	w->next_addr = 0;
	want_schedule(w);
}

static void want_cancel_dial(struct want *w)
{
	struct conn *c = w->dial;

	if (w->disc)
		conn_close(w->disc, SILENT); /* unlinks itself */
	if (!c)
		return;
	w->dial = NULL;
	c->want = NULL;
	conn_close(c, SILENT);
}

/* ---- the API ---- */

static void close_everything(struct buddy_peer *p)
{
	while (p->conns)
		conn_close(p->conns, SILENT);
	while (p->wants) {
		struct want *w = p->wants;
		p->wants = w->next;
		uv_close((uv_handle_t *)&w->timer, on_want_closed);
	}
	pkix_free(&p->wants_ix);
	for (size_t i = 0; i < p->nlisten; i++)
		uv_close((uv_handle_t *)&p->listeners[i], on_peer_handle_closed);
	uv_close((uv_handle_t *)&p->idle, on_peer_handle_closed);
	sodium_free(p->xsk);
	p->xsk = NULL;
}

static int listen_on(struct buddy_peer *p, const struct buddy_addr *a)
{
	uv_tcp_t *l = &p->listeners[p->nlisten];
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), rc;

	if (addr_to_sockaddr(a, &ss)) {
		log_error("cannot listen on %s: not a numeric address", a->host);
		return BUDDY_E_INVALID;
	}
	uv_tcp_init(p->loop, l);
	l->data = p;
	p->nlisten++;
	p->open++;
	rc = uv_tcp_bind(l, (const struct sockaddr *)&ss,
			 ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)l, LISTEN_BACKLOG, on_connection);
	if (rc == 0)
		rc = uv_tcp_getsockname(l, (struct sockaddr *)&ss, &sslen);
	if (rc == 0)
		rc = sockaddr_to_addr(&ss, &p->bound[p->nlisten - 1]) ? UV_EINVAL : 0;
	if (rc) {
		log_error("cannot listen on %s port %u: %s", a->host, a->port, uv_strerror(rc));
		return BUDDY_E_IO;
	}
	log_info("listening for buddies on %s port %u", p->bound[p->nlisten - 1].host,
		 p->bound[p->nlisten - 1].port);
	return 0;
}

/* Interface addresses of one family: non-loopback first; loopback only when there is
 * nothing else (a machine with no network still pairs with itself, as in tests). Link-local
 * IPv6 needs a scope id another machine cannot know: left out. */
static size_t interface_addrs(int family, uint16_t port, struct buddy_addr *out, size_t max)
{
	uv_interface_address_t *ifs;
	size_t n = 0;
	int count;

	if (uv_interface_addresses(&ifs, &count))
		return 0;
	for (int pass = 0; pass < 2 && n == 0; pass++) {
		for (int k = 0; k < count && n < max; k++) {
			const struct sockaddr *sa = (const struct sockaddr *)&ifs[k].address;
			struct buddy_addr a = {.port = port};
			if (sa->sa_family != family || (pass == 0) != !ifs[k].is_internal)
				continue;
			if (family == AF_INET6 &&
			    IN6_IS_ADDR_LINKLOCAL(&ifs[k].address.address6.sin6_addr))
				continue;
			if (family == AF_INET)
				uv_ip4_name(&ifs[k].address.address4, a.host, sizeof(a.host));
			else
				uv_ip6_name(&ifs[k].address.address6, a.host, sizeof(a.host));
			out[n++] = a;
		}
	}
	uv_free_interface_addresses(ifs, count);
	return n;
}

/* Where a buddy can dial us: the bound addresses, a wildcard replaced by this machine's
 * interface addresses of that family, with the bound port. */
static size_t local_addrs(const struct buddy_peer *p, struct buddy_addr *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nlisten && n < max; i++) {
		if (!addr_unspecified(&p->bound[i])) {
			out[n++] = p->bound[i];
			continue;
		}
		n += interface_addrs(strchr(p->bound[i].host, ':') ? AF_INET6 : AF_INET,
				     p->bound[i].port, out + n, max - n);
	}
	return n;
}

size_t buddy_peer_advertised(const struct buddy_peer *p, struct buddy_addr *out, size_t max)
{
	size_t n = p->hello.naddrs < max ? p->hello.naddrs : max;

	memcpy(out, p->hello.addrs, n * sizeof(out[0]));
	return n;
}

int buddy_peer_start(const struct buddy_peer_config *cfg, struct buddy_peer **out)
{
	struct buddy_peer *p;
	int rc;

	if (!cfg || !out || !cfg->loop || !cfg->sign_pk || !cfg->sign_sk || !cfg->ops.admit ||
	    cfg->nlisten > LISTEN_MAX || (!cfg->listen && cfg->nlisten) ||
	    cfg->nadvertise > BUDDY_PEER_ADDRS_MAX || (!cfg->advertise && cfg->nadvertise) ||
	    memcmp(cfg->sign_sk + 32, cfg->sign_pk, KEY) != 0)
		return BUDDY_E_INVALID;
	if (sodium_init() < 0)
		return BUDDY_E_INTERNAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return BUDDY_E_NOMEM;
	p->loop = cfg->loop;
	p->ops = cfg->ops;
	p->owner = cfg->owner;
	memcpy(p->pk, cfg->sign_pk, KEY);
	p->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : BUDDY_PEER_HANDSHAKE_MS;
	p->ping_ms = cfg->ping_ms ? cfg->ping_ms : BUDDY_PEER_PING_MS;
	p->idle_ms = cfg->idle_ms ? cfg->idle_ms : BUDDY_PEER_IDLE_MS;
	p->redial_min_ms = cfg->redial_min_ms ? cfg->redial_min_ms : BUDDY_PEER_REDIAL_MIN_MS;
	p->redial_max_ms = cfg->redial_max_ms ? cfg->redial_max_ms : BUDDY_PEER_REDIAL_MAX_MS;
	if (p->redial_max_ms < p->redial_min_ms)
		p->redial_max_ms = p->redial_min_ms;
	uv_idle_init(p->loop, &p->idle);
	p->idle.data = p;
	p->open = 1;
	p->xsk = sodium_malloc(BUDDY_NOISE_KEY_BYTES);
	if (!p->xsk) {
		rc = BUDDY_E_NOMEM;
		goto fail;
	}
	if (crypto_sign_ed25519_sk_to_curve25519(p->xsk, cfg->sign_sk) != 0 ||
	    crypto_scalarmult_base(p->xpk, p->xsk) != 0) {
		rc = BUDDY_E_INVALID;
		goto fail;
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		rc = listen_on(p, &cfg->listen[i]);
		if (rc)
			goto fail;
	}
	p->hello.version = BUDDY_PEER_VERSION;
	memcpy(p->hello.id, p->pk, KEY);
	if (cfg->advertise) {
		memcpy(p->hello.addrs, cfg->advertise, cfg->nadvertise * sizeof(p->hello.addrs[0]));
		p->hello.naddrs = cfg->nadvertise;
	} else {
		p->hello.naddrs = local_addrs(p, p->hello.addrs, BUDDY_PEER_ADDRS_MAX);
	}
	rc = buddy_hello_encode(&p->hello, p->hello_buf, sizeof(p->hello_buf), &p->hello_len);
	if (rc)
		goto fail;
	*out = p;
	return 0;
fail:
	p->stopped = true;
	close_everything(p);
	return rc;
}

void buddy_peer_stop(struct buddy_peer *p)
{
	if (!p || p->stopped)
		return;
	p->stopped = true;
	close_everything(p);
	/* a pairing in progress ends now: its callback still runs exactly once */
	while (p->pairings)
		pair_finish(p, p->pairings, BUDDY_E_STATE, NULL);
}

size_t buddy_peer_bound(const struct buddy_peer *p, struct buddy_addr *out, size_t max)
{
	size_t n = 0;

	for (; p && n < p->nlisten && n < max; n++)
		out[n] = p->bound[n];
	return n;
}

int buddy_peer_want(struct buddy_peer *p, const uint8_t id[32], const struct buddy_addr *addrs,
		    size_t naddrs)
{
	struct want *w;

	if (!p || !id || naddrs > BUDDY_PEER_ADDRS_MAX || (!addrs && naddrs) ||
	    memcmp(id, p->pk, KEY) == 0)
		return BUDDY_E_INVALID;
	if (p->stopped)
		return BUDDY_E_STATE;
	w = want_find(p, id);
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return BUDDY_E_NOMEM;
		w->p = p;
		memcpy(w->id, id, KEY);
		if (pkix_put(&p->wants_ix, w, want_key)) {
			free(w);
			return BUDDY_E_NOMEM;
		}
		uv_timer_init(p->loop, &w->timer);
		w->timer.data = w;
		p->open++;
		w->next = p->wants;
		if (p->wants)
			p->wants->prev = w;
		p->wants = w;
	}
	if (naddrs)
		memcpy(w->addrs, addrs, naddrs * sizeof(addrs[0]));
	w->naddrs = naddrs;
	w->next_addr = 0;
	w->backoff = p->redial_min_ms;
	if (session_find(p, id, false))
		return 0;
	/* dial now, at the new addresses */
	uv_timer_stop(&w->timer);
	want_cancel_dial(w);
	if (naddrs)
		want_dial_next(w);
	return 0;
}

/* One dial to an address where the buddy was just seen (LAN discovery), outside its redial
 * rounds: the known addresses, the backoff and the redial timer stay as they are, and when
 * this dial fails nothing is scheduled (a replayed beacon cannot postpone the redials). */
int buddy_peer_discovered(struct buddy_peer *p, const uint8_t id[32], const struct buddy_addr *a)
{
	struct want *w;
	struct conn *c;

	if (!p || !id || !a)
		return BUDDY_E_INVALID;
	if (p->stopped || !(w = want_find(p, id)))
		return BUDDY_E_NOTFOUND;
	if (session_find(p, id, true))
		return BUDDY_E_EXISTS;
	if (w->dial || w->disc)
		return BUDDY_E_BUSY;
	c = dial(p, a, id);
	if (!c)
		return BUDDY_E_INVALID;
	c->disc = w;
	w->disc = c;
	return 0;
}

int buddy_peer_redial_state(struct buddy_peer *p, const uint8_t id[32], uint64_t *due,
			    uint32_t *backoff)
{
	struct want *w;

	if (!p || !id || p->stopped || !(w = want_find(p, id)))
		return BUDDY_E_NOTFOUND;
	if (due)
		*due = uv_is_active((uv_handle_t *)&w->timer)
			       ? uv_now(p->loop) + uv_timer_get_due_in(&w->timer)
			       : 0;
	if (backoff)
		*backoff = w->backoff;
	return 0;
}

void buddy_peer_unwant(struct buddy_peer *p, const uint8_t id[32])
{
	struct want *w;
	struct conn *c;

	if (!p || !id || p->stopped)
		return;
	w = want_find(p, id);
	if (w) {
		pkix_del(&p->wants_ix, w->id, want_key);
		if (w->prev)
			w->prev->next = w->next;
		else
			p->wants = w->next;
		if (w->next)
			w->next->prev = w->prev;
		want_cancel_dial(w);
		uv_close((uv_handle_t *)&w->timer, on_want_closed);
	}
	while (!p->stopped && (c = session_find(p, id, true)))
		conn_drop(c, "no longer wanted");
}

int buddy_peer_pair(struct buddy_peer *p, const struct buddy_invite *inv, buddy_peer_pair_cb cb,
		    void *arg)
{
	struct pairing *pr;

	if (!p || !inv || !cb || inv->naddrs == 0 || inv->naddrs > BUDDY_PEER_ADDRS_MAX ||
	    memcmp(inv->inviter_pk, p->pk, KEY) == 0)
		return BUDDY_E_INVALID;
	if (p->stopped)
		return BUDDY_E_STATE;
	pr = sodium_malloc(sizeof(*pr));
	if (!pr)
		return BUDDY_E_NOMEM;
	memset(pr, 0, sizeof(*pr));
	pr->p = p;
	pr->inv = *inv;
	pr->cb = cb;
	pr->arg = arg;
	pr->status = BUDDY_E_IO;
	pr->next = p->pairings;
	if (p->pairings)
		p->pairings->prev = pr;
	p->pairings = pr;
	if (!pair_dial_next(p, pr)) {
		pair_unlink(p, pr);
		sodium_free(pr);
		return BUDDY_E_IO;
	}
	return 0;
}

int buddy_peer_send(struct buddy_peer *p, const uint8_t id[32], const uint8_t *msg, size_t len)
{
	struct conn *c;
	int rc;

	if (!p || !id || (!msg && len))
		return BUDDY_E_INVALID;
	if (len > TRANSPORT_MAX)
		return BUDDY_E_TOOBIG;
	if (p->stopped || !(c = session_find(p, id, false)))
		return BUDDY_E_NOTFOUND;
	rc = send_transport(c, msg, len);
	if (rc) {
		/* the nonce may be spent, or the peer is not reading: the session cannot go on */
		conn_drop_later(c);
		return BUDDY_E_IO;
	}
	return 0;
}

static void on_ended(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status; /* flushed or not, this connection is over */
	if (!c->closing)
		conn_drop(c, "ended");
}

void buddy_peer_end(struct buddy_peer *p, const uint8_t id[32], const uint8_t *msg, size_t len)
{
	struct conn *c;

	if (!p || !id || p->stopped)
		return;
	c = session_find(p, id, false);
	if (c && msg && len <= TRANSPORT_MAX && send_transport(c, msg, len) == 0) {
		/* uv_shutdown completes once the queued writes are flushed; the idle timer still
		 * drops a peer that never lets them drain */
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->ending = true;
		c->shutdown.data = c;
		if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_ended))
			conn_drop(c, "cannot end");
	}
	buddy_peer_unwant(p, id);
}

void buddy_peer_drop(struct buddy_peer *p, const uint8_t id[32])
{
	struct conn *c;

	if (p && id && !p->stopped && (c = session_find(p, id, false)))
		conn_drop_later(c);
}

bool buddy_peer_online(const struct buddy_peer *p, const uint8_t id[32])
{
	return p && id && !p->stopped && session_find(p, id, false);
}
