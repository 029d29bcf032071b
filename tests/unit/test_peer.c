/* Peer sessions (daemon/peer.c): buddies that want each other get one authenticated session
 * and talk both ways; a key the owner does not admit is dropped right after the handshake
 * message that reveals it, and the owner never hears of it as up or down; two connections
 * with one buddy collapse to the one dialled by the smaller identity, on both sides; a buddy
 * that goes away is redialled with backoff; unwant closes and stops; pairing proves the invite
 * secret to the inviter, and fails with BUDDY_E_AUTH when someone else answers or the inviter
 * refuses, BUDDY_E_IO when nobody answers; hostile bytes and connection floods are cut off
 * while an honest session goes on; a silent session is pinged, then dropped.
 *
 * Everything runs in this process on one libuv loop, with small test-seam time limits: a wait
 * runs the loop until its condition holds, under a safety timer that fails the test. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "buddy/error.h"
#include "buddy/invite.h"
#include "buddy/log.h"
#include "buddy/noise.h"
#include "buddy/peer.h"
#include "buddy/peer_wire.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HANDSHAKE_MS 300
#define PING_MS	     200
#define IDLE_MS	     600
#define REDIAL_MS    50
#define WAIT_MS	     5000 /* the safety bound of one wait */
#define SLACK_MS     50
#define NODES	     3
#define RAWS	     (BUDDY_PEER_UNAUTH_MAX + 16)
#define FLOOD_EXTRA  4
#define MSG_TEST     100 /* a transport message type the peer layer passes up */
#define ALLOWED_MAX  4

struct node {
	uint8_t pk[32], sk[64];
	struct buddy_peer *p;
	struct buddy_addr addr; /* bound */
	uint8_t allowed[ALLOWED_MAX][32];
	size_t nallowed;
	bool inviter; /* admits hellos that prove `secret` */
	uint8_t secret[BUDDY_INVITE_SECRET_BYTES];
	int admits_in, admits_out, invite_admits, ups, downs, msgs;
	bool online; /* the owner's view: set by up(), cleared by down() */
	uint8_t last_admit[32], last_up[32], msg_from[32];
	struct buddy_addr last_remote;
	uint8_t msg[256];
	size_t msglen;
};

/* A plain TCP client: hostile bytes, floods, and the transport of a hand-driven Noise peer. */
struct raw {
	uv_tcp_t tcp;
	uv_connect_t req;
	bool used, connected, eof, closing;
	uint64_t opened_at, eof_at;
	uint8_t buf[4096];
	size_t len;
};

struct raw_write {
	uv_write_t req;
	uint8_t buf[];
};

/* A peer driven by hand with the Noise module, as initiator. */
struct fake {
	struct raw *r;
	uint8_t pk[32], sk[64];
	struct buddy_noise_hs *hs;
	struct buddy_noise_cs *tx, *rx;
};

static struct {
	uv_loop_t loop;
	uv_timer_t safety, wait;
	bool timed_out, waited;
	struct node nodes[NODES]; /* sorted: nodes[0] has the smallest identity */
	struct raw raws[RAWS];
	int pair_calls, pair_status;
	struct buddy_hello pair_hello;
} T;

/* ---- running the loop ---- */

static void on_safety(uv_timer_t *t)
{
	(void)t;
	T.timed_out = true;
}

static void on_waited(uv_timer_t *t)
{
	(void)t;
	T.waited = true;
}

/* cond may have side effects (raw_frame takes a frame): it is evaluated once per turn */
#define RUN_UNTIL(cond)                                                                            \
	do {                                                                                       \
		bool ok_;                                                                          \
		T.timed_out = false;                                                               \
		uv_timer_start(&T.safety, on_safety, WAIT_MS, 0);                                  \
		while (!(ok_ = (cond)) && !T.timed_out)                                            \
			uv_run(&T.loop, UV_RUN_ONCE);                                              \
		uv_timer_stop(&T.safety);                                                          \
		if (!ok_)                                                                          \
			fail_msg("line %d: timed out waiting for %s", __LINE__, #cond);            \
	} while (0)

static void run_for(uint64_t ms)
{
	T.waited = false;
	uv_timer_start(&T.wait, on_waited, ms, 0);
	while (!T.waited)
		uv_run(&T.loop, UV_RUN_ONCE);
}

/* ---- the owner's side ---- */

static bool is_allowed(const struct node *n, const uint8_t id[32])
{
	for (size_t i = 0; i < n->nallowed; i++)
		if (memcmp(n->allowed[i], id, 32) == 0)
			return true;
	return false;
}

static void allow(struct node *n, const uint8_t id[32])
{
	if (!is_allowed(n, id)) {
		assert_true(n->nallowed < ALLOWED_MAX);
		memcpy(n->allowed[n->nallowed++], id, 32);
	}
}

static void disallow(struct node *n, const uint8_t id[32])
{
	for (size_t i = 0; i < n->nallowed; i++)
		if (memcmp(n->allowed[i], id, 32) == 0)
			memcpy(n->allowed[i], n->allowed[--n->nallowed], 32);
}

static bool admit(void *owner, const struct buddy_hello *h, const uint8_t *hh, size_t hhlen,
		  bool we_initiated)
{
	struct node *n = owner;
	uint8_t id[BUDDY_INVITE_ID_BYTES], proof[BUDDY_INVITE_PROOF_BYTES];

	if (we_initiated)
		n->admits_out++;
	else
		n->admits_in++;
	memcpy(n->last_admit, h->id, 32);
	if (!h->has_invite)
		return is_allowed(n, h->id);
	n->invite_admits++;
	if (!n->inviter || we_initiated || !hh)
		return false;
	buddy_invite_id(n->secret, id);
	buddy_invite_proof(n->secret, hh, hhlen, proof);
	if (memcmp(id, h->invite_id, sizeof(id)) != 0 ||
	    sodium_memcmp(proof, h->proof, sizeof(proof)) != 0)
		return false;
	n->inviter = false; /* one use */
	allow(n, h->id);
	return true;
}

static void up(void *owner, const uint8_t id[32], const struct buddy_hello *h,
	       const struct buddy_addr *remote)
{
	struct node *n = owner;

	assert_memory_equal(h->id, id, 32);
	n->ups++;
	n->online = true;
	memcpy(n->last_up, id, 32);
	n->last_remote = *remote;
}

static void down(void *owner, const uint8_t id[32])
{
	struct node *n = owner;

	(void)id;
	n->downs++;
	n->online = false;
}

static void message(void *owner, const uint8_t id[32], const uint8_t *msg, size_t len)
{
	struct node *n = owner;

	n->msgs++;
	memcpy(n->msg_from, id, 32);
	n->msglen = len < sizeof(n->msg) ? len : sizeof(n->msg);
	memcpy(n->msg, msg, n->msglen);
}

static bool on_paired(void *arg, int status, const struct buddy_hello *h)
{
	(void)arg;
	T.pair_calls++;
	T.pair_status = status;
	if (h)
		T.pair_hello = *h;
	return true;
}

/* ---- nodes ---- */

static int node_start_at(struct node *n, const struct buddy_addr *listen, size_t nlisten)
{
	struct buddy_peer_config cfg = {
		.loop = &T.loop,
		.sign_pk = n->pk,
		.sign_sk = n->sk,
		.listen = listen,
		.nlisten = nlisten,
		.ops = {admit, up, down, message},
		.owner = n,
		.handshake_ms = HANDSHAKE_MS,
		.ping_ms = PING_MS,
		.idle_ms = IDLE_MS,
		.redial_min_ms = REDIAL_MS,
	};

	return buddy_peer_start(&cfg, &n->p);
}

static void node_start(struct node *n, uint16_t port)
{
	struct buddy_addr listen = {"127.0.0.1", port};

	assert_int_equal(node_start_at(n, &listen, 1), 0);
	assert_int_equal(buddy_peer_bound(n->p, &n->addr, 1), 1);
	assert_string_equal(n->addr.host, "127.0.0.1");
	assert_int_not_equal(n->addr.port, 0);
}

static void node_stop(struct node *n)
{
	buddy_peer_stop(n->p);
	n->p = NULL;
}

static int cmp_node(const void *a, const void *b)
{
	return memcmp(((const struct node *)a)->pk, ((const struct node *)b)->pk, 32);
}

/* ---- messages ---- */

static void pack_text(msgpack_sbuffer *sb, const char *text)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, MSG_TEST);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "t", 1);
	msgpack_pack_str(&pk, strlen(text));
	msgpack_pack_str_body(&pk, text, strlen(text));
}

static void send_one(struct node *from, struct node *to, const char *text)
{
	int before = to->msgs;
	msgpack_sbuffer sb;

	pack_text(&sb, text);
	assert_int_equal(buddy_peer_send(from->p, to->pk, (const uint8_t *)sb.data, sb.size), 0);
	RUN_UNTIL(to->msgs == before + 1);
	assert_memory_equal(to->msg_from, from->pk, 32);
	assert_int_equal(to->msglen, sb.size);
	assert_memory_equal(to->msg, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void round_trip(struct node *a, struct node *b)
{
	send_one(a, b, "a to b");
	send_one(b, a, "b to a");
}

/* ---- raw clients ---- */

static void on_raw_closed(uv_handle_t *h)
{
	(void)h;
}

static void raw_close(struct raw *r)
{
	if (!r->closing) {
		r->closing = true;
		uv_close((uv_handle_t *)&r->tcp, on_raw_closed);
	}
}

static void on_raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct raw *r = h->data;

	(void)suggested;
	if (r->len == sizeof(r->buf))
		r->len = 0; /* more than any test reads: keep the newest bytes */
	*b = uv_buf_init((char *)r->buf + r->len, (unsigned)(sizeof(r->buf) - r->len));
}

static void on_raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct raw *r = s->data;

	(void)b;
	if (nread < 0) {
		r->eof = true;
		r->eof_at = uv_now(&T.loop);
		raw_close(r);
		return;
	}
	r->len += (size_t)nread;
}

static void on_raw_connect(uv_connect_t *req, int status)
{
	struct raw *r = req->data;

	if (status < 0) {
		r->eof = true;
		r->eof_at = uv_now(&T.loop);
		raw_close(r);
		return;
	}
	r->connected = true;
	uv_read_start((uv_stream_t *)&r->tcp, on_raw_alloc, on_raw_read);
}

static struct raw *raw_open(const struct buddy_addr *to)
{
	struct sockaddr_in sin;
	struct raw *r = NULL;

	for (size_t i = 0; i < RAWS && !r; i++)
		if (!T.raws[i].used)
			r = &T.raws[i];
	assert_non_null(r);
	r->used = true;
	assert_int_equal(uv_ip4_addr(to->host, to->port, &sin), 0);
	uv_tcp_init(&T.loop, &r->tcp);
	r->tcp.data = r;
	r->req.data = r;
	r->opened_at = uv_now(&T.loop);
	assert_int_equal(
		uv_tcp_connect(&r->req, &r->tcp, (const struct sockaddr *)&sin, on_raw_connect), 0);
	return r;
}

static void on_raw_written(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

static void raw_send(struct raw *r, const void *p, size_t len)
{
	struct raw_write *w = malloc(sizeof(*w) + len);
	uv_buf_t b;

	assert_non_null(w);
	memcpy(w->buf, p, len);
	b = uv_buf_init((char *)w->buf, (unsigned)len);
	assert_int_equal(uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, on_raw_written), 0);
}

static void raw_send_frame(struct raw *r, const uint8_t *p, size_t len)
{
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};

	raw_send(r, hdr, 2);
	raw_send(r, p, len);
}

/* Takes one whole frame off the front of what r received. */
static bool raw_frame(struct raw *r, uint8_t *out, size_t *len)
{
	size_t flen;

	if (r->len < 2)
		return false;
	flen = (size_t)r->buf[0] << 8 | r->buf[1];
	if (r->len < 2 + flen)
		return false;
	memcpy(out, r->buf + 2, flen);
	*len = flen;
	memmove(r->buf, r->buf + 2 + flen, r->len - 2 - flen);
	r->len -= 2 + flen;
	return true;
}

static int raws_closed(void)
{
	int n = 0;

	for (size_t i = 0; i < RAWS; i++)
		n += T.raws[i].used && T.raws[i].eof;
	return n;
}

/* ---- a Noise peer by hand ---- */

static void fake_init(struct fake *f, const uint8_t *pk, const uint8_t *sk)
{
	memset(f, 0, sizeof(*f));
	if (pk) {
		memcpy(f->pk, pk, 32);
		memcpy(f->sk, sk, 64);
	} else {
		crypto_sign_keypair(f->pk, f->sk);
	}
}

/* Dials `to` and completes the handshake as initiator (message 3 sent). */
static void fake_handshake(struct fake *f, const struct node *to)
{
	uint8_t xsk[32], msg[2048], payload[2048];
	struct buddy_hello h, mine = {.version = BUDDY_PEER_VERSION};
	struct buddy_noise_params prm = {
		.role = BUDDY_NOISE_INITIATOR,
		.prologue = (const uint8_t *)BUDDY_PEER_PROLOGUE,
		.prologue_len = strlen(BUDDY_PEER_PROLOGUE),
		.local_static = xsk,
	};
	size_t n = 0, plen = 0;

	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, f->sk), 0);
	assert_int_equal(buddy_noise_hs_new(&prm, &f->hs), 0);
	f->r = raw_open(&to->addr);
	RUN_UNTIL(f->r->connected);
	assert_int_equal(buddy_noise_write_message(f->hs, NULL, 0, msg, sizeof(msg), &n), 0);
	raw_send_frame(f->r, msg, n);
	RUN_UNTIL(raw_frame(f->r, msg, &n));
	assert_int_equal(buddy_noise_read_message(f->hs, msg, n, payload, sizeof(payload), &plen),
			 0);
	assert_int_equal(buddy_hello_decode(payload, plen, &h), 0);
	assert_memory_equal(h.id, to->pk, 32);
	memcpy(mine.id, f->pk, 32);
	assert_int_equal(buddy_hello_encode(&mine, payload, sizeof(payload), &plen), 0);
	assert_int_equal(buddy_noise_write_message(f->hs, payload, plen, msg, sizeof(msg), &n), 0);
	raw_send_frame(f->r, msg, n);
	assert_int_equal(buddy_noise_split(f->hs, &f->tx, &f->rx), 0);
	sodium_memzero(xsk, sizeof(xsk));
}

/* Waits for one transport message and returns its type. */
static uint64_t fake_recv(struct fake *f)
{
	uint8_t frame[BUDDY_NOISE_MSG_MAX], pt[BUDDY_NOISE_MSG_MAX];
	const msgpack_object *body;
	msgpack_unpacked u;
	uint64_t type;
	size_t n = 0, plen = 0;

	RUN_UNTIL(raw_frame(f->r, frame, &n));
	assert_int_equal(buddy_noise_cs_decrypt(f->rx, NULL, 0, frame, n, pt, sizeof(pt), &plen),
			 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_msg_decode(pt, plen, &u, &type, &body), 0);
	msgpack_unpacked_destroy(&u);
	return type;
}

static void fake_free(struct fake *f)
{
	buddy_noise_hs_free(f->hs);
	buddy_noise_cs_free(f->tx);
	buddy_noise_cs_free(f->rx);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	if (uv_loop_init(&T.loop))
		return -1;
	uv_timer_init(&T.loop, &T.safety);
	uv_timer_init(&T.loop, &T.wait);
	for (int i = 0; i < NODES; i++)
		crypto_sign_keypair(T.nodes[i].pk, T.nodes[i].sk);
	qsort(T.nodes, NODES, sizeof(T.nodes[0]), cmp_node);
	for (int i = 0; i < NODES; i++)
		node_start(&T.nodes[i], 0);
	return 0;
}

static void on_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	fprintf(stderr, "handle left open: %s%s\n", uv_handle_type_name(h->type),
		uv_is_closing(h) ? " (closing)" : "");
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NODES; i++)
		node_stop(&T.nodes[i]);
	for (size_t i = 0; i < RAWS; i++)
		if (T.raws[i].used)
			raw_close(&T.raws[i]);
	uv_close((uv_handle_t *)&T.safety, NULL);
	uv_close((uv_handle_t *)&T.wait, NULL);
	for (int i = 0; i < 100 && uv_run(&T.loop, UV_RUN_NOWAIT); i++)
		;
	uv_walk(&T.loop, on_walk, NULL);
	/* every handle of every peer has been closed and freed */
	assert_int_equal(uv_loop_close(&T.loop), 0);
	return 0;
}

/* ---- tests ---- */

static void test_peer_want_brings_up_a_session(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];
	uint8_t big[BUDDY_PEER_FRAME_MAX] = {0};

	(void)state;
	allow(a, b->pk);
	allow(b, a->pk);
	assert_false(buddy_peer_online(a->p, b->pk));
	assert_int_equal(buddy_peer_send(a->p, b->pk, big, 10), BUDDY_E_NOTFOUND);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	assert_memory_equal(a->last_up, b->pk, 32);
	assert_memory_equal(b->last_up, a->pk, 32);
	assert_int_equal(a->last_remote.port, b->addr.port);
	assert_int_equal(a->admits_out, 1);
	assert_int_equal(b->admits_in, 1);
	assert_true(buddy_peer_online(a->p, b->pk));
	assert_true(buddy_peer_online(b->p, a->pk));
	round_trip(a, b);

	/* a quiet session is kept alive by pings */
	run_for(2 * IDLE_MS);
	assert_int_equal(a->downs + b->downs, 0);
	assert_int_equal(a->ups + b->ups, 2);
	round_trip(a, b);

	assert_int_equal(buddy_peer_send(a->p, b->pk, big, sizeof(big) - BUDDY_NOISE_TAG_BYTES + 1),
			 BUDDY_E_TOOBIG);
	assert_int_equal(buddy_peer_send(a->p, T.nodes[2].pk, big, 10), BUDDY_E_NOTFOUND);
}

static void test_peer_unknown_key_is_dropped(void **state)
{
	struct node *a = &T.nodes[0], *c = &T.nodes[2];
	int c_ups;

	(void)state;
	/* c dials a, which does not know c: a closes after message 3, and c, which never got
	 * a's first transport message, never had a session (it just redials, refused again) */
	allow(c, a->pk);
	assert_int_equal(buddy_peer_want(c->p, a->pk, &a->addr, 1), 0);
	RUN_UNTIL(a->admits_in >= 2);
	assert_memory_equal(a->last_admit, c->pk, 32);
	assert_int_equal(a->ups, 0);
	assert_int_equal(a->downs, 0);
	assert_int_equal(c->ups, 0);
	assert_int_equal(c->downs, 0);
	buddy_peer_unwant(c->p, a->pk);
	assert_false(buddy_peer_online(c->p, a->pk));

	/* a dials c but its owner refuses the key that answers: a says nothing more (no message
	 * 3), so c never even has a key to judge */
	c_ups = c->ups;
	assert_int_equal(buddy_peer_want(a->p, c->pk, &c->addr, 1), 0);
	RUN_UNTIL(a->admits_out >= 2);
	run_for(HANDSHAKE_MS);
	assert_int_equal(c->admits_in, 0);
	assert_int_equal(c->ups, c_ups);
	assert_int_equal(a->ups, 0);
	assert_int_equal(a->downs, 0);
	assert_false(buddy_peer_online(a->p, c->pk));
	buddy_peer_unwant(a->p, c->pk);
}

/* Both sides keep the connection whose initiator has the smaller identity. A side whose
 * session was replaced by the kept connection hears up() again, without down(). */
static void check_one_session(struct node *a, struct node *b)
{
	struct node *small = memcmp(a->pk, b->pk, 32) < 0 ? a : b;
	struct node *large = small == a ? b : a;
	int events = a->ups + a->downs + b->ups + b->downs;

	assert_true(buddy_peer_online(a->p, b->pk));
	assert_true(buddy_peer_online(b->p, a->pk));
	assert_true(a->online && b->online);
	/* small dialled large's listening port; large sees small's outgoing port */
	assert_int_equal(small->last_remote.port, large->addr.port);
	assert_int_not_equal(large->last_remote.port, small->addr.port);
	round_trip(a, b);
	/* settled: nothing comes or goes any more */
	run_for(IDLE_MS);
	assert_int_equal(a->ups + a->downs + b->ups + b->downs, events);
	round_trip(a, b);
}

static void test_peer_simultaneous_dial_keeps_one_session(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];

	(void)state;
	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	assert_int_equal(buddy_peer_want(b->p, a->pk, &a->addr, 1), 0);
	RUN_UNTIL(buddy_peer_online(a->p, b->pk) && buddy_peer_online(b->p, a->pk));
	/* let a duplicate, if any, finish and be resolved */
	run_for(3 * HANDSHAKE_MS);
	check_one_session(a, b);
}

/* A session a dialled to b, then a second connection with b's identity dialled to a. */
static void duplicate_from_b(struct node *a, struct node *b)
{
	msgpack_sbuffer sb;
	uint64_t type;
	struct fake f;

	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	fake_init(&f, b->pk, b->sk);
	fake_handshake(&f, a);
	if (memcmp(a->pk, b->pk, 32) < 0) {
		/* a is smaller: the connection a dialled stays, the new one is closed */
		RUN_UNTIL(f.r->eof);
		assert_int_equal(a->ups, 1);
		assert_int_equal(a->downs, 0);
		assert_int_equal(b->downs, 0);
		round_trip(a, b);
	} else {
		/* b is smaller: the connection b's identity dialled replaces a's, silently */
		RUN_UNTIL(b->downs == 1);
		assert_int_equal(a->ups, 2);
		assert_int_equal(a->downs, 0);
		assert_true(buddy_peer_online(a->p, b->pk));
		assert_false(f.r->eof);
		assert_false(buddy_peer_online(b->p, a->pk));
		/* what a sends to b's identity now goes over the new connection */
		pack_text(&sb, "to the second connection");
		assert_int_equal(buddy_peer_send(a->p, b->pk, (const uint8_t *)sb.data, sb.size),
				 0);
		msgpack_sbuffer_destroy(&sb);
		while ((type = fake_recv(&f)) == BUDDY_MSG_PING)
			;
		assert_int_equal(type, MSG_TEST);
	}
	fake_free(&f);
}

static void test_peer_duplicate_kept_when_we_are_smaller(void **state)
{
	(void)state;
	duplicate_from_b(&T.nodes[0], &T.nodes[1]);
}

static void test_peer_duplicate_replaced_when_they_are_smaller(void **state)
{
	(void)state;
	duplicate_from_b(&T.nodes[1], &T.nodes[0]);
}

static void test_peer_redial_after_restart_at_the_same_address(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];
	uint16_t port;

	(void)state;
	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	port = b->addr.port;
	node_stop(b);
	RUN_UNTIL(a->downs == 1);
	/* a few redials find nobody */
	run_for(4 * REDIAL_MS);
	node_start(b, port);
	/* no want() again: a redials on its own */
	RUN_UNTIL(a->ups == 2 && b->ups == 2);
	round_trip(a, b);
}

static void test_peer_redial_at_new_addresses_after_want(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];

	(void)state;
	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	node_stop(b);
	RUN_UNTIL(a->downs == 1);
	run_for(4 * REDIAL_MS);
	node_start(b, 0); /* same identity, another port */
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 2 && b->ups == 2);
	assert_int_equal(a->last_remote.port, b->addr.port);
	round_trip(a, b);
}

/* PROTOCOL.md 16.5: a dial to an address LAN discovery saw runs outside the redial schedule:
 * failing, it changes neither the next redial nor the backoff, and schedules nothing (one
 * replayed beacon per window cannot postpone the redials to the known addresses). */
static void test_peer_discovered_dial_leaves_redials_alone(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];
	struct buddy_addr dead;
	uint64_t due = 0, due2 = 0;
	uint32_t backoff = 0, backoff2 = 0;
	int rc = -1;

	(void)state;
	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	dead = b->addr; /* refused at once once b is gone */
	node_stop(b);
	RUN_UNTIL(a->downs == 1);
	/* a redial scheduled far enough ahead, and no dial under way */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(buddy_peer_redial_state(a->p, b->pk, &due, &backoff), 0);
		if (due && due > uv_now(&T.loop) + 30 &&
		    (rc = buddy_peer_discovered(a->p, b->pk, &dead)) == 0)
			break;
		run_for(due > uv_now(&T.loop) ? due - uv_now(&T.loop) + 5 : 5);
	}
	assert_int_equal(rc, 0);
	/* the discovered dial fails (refused) well before the redial is due */
	RUN_UNTIL(buddy_peer_discovered(a->p, b->pk, &dead) != BUDDY_E_BUSY);
	assert_true(uv_now(&T.loop) < due);
	assert_int_equal(buddy_peer_redial_state(a->p, b->pk, &due2, &backoff2), 0);
	assert_int_equal(due2, due);
	assert_int_equal(backoff2, backoff);
}

static void test_peer_unwant_closes_and_stops_redialling(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];
	int b_in;

	(void)state;
	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	assert_int_equal(buddy_peer_want(b->p, a->pk, &a->addr, 1), 0); /* b keeps wanting a */

	disallow(a, b->pk);
	buddy_peer_unwant(a->p, b->pk);
	assert_int_equal(a->downs, 1); /* at once */
	assert_false(buddy_peer_online(a->p, b->pk));
	RUN_UNTIL(b->downs >= 1);

	/* b redials and is refused; a never dials b again */
	b_in = b->admits_in;
	run_for(IDLE_MS);
	assert_true(a->admits_in >= 1);
	assert_int_equal(b->admits_in, b_in);
	assert_int_equal(a->ups, 1);
	assert_int_equal(a->downs, 1);
	assert_false(buddy_peer_online(a->p, b->pk));
}

static void make_invite(struct buddy_invite *inv, struct node *inviter, const uint8_t *secret,
			const struct buddy_addr *addrs, size_t naddrs)
{
	memset(inv, 0, sizeof(*inv));
	memcpy(inv->inviter_pk, inviter->pk, 32);
	memcpy(inv->secret, secret, sizeof(inv->secret));
	inv->expires = (int64_t)time(NULL) + 3600;
	inv->naddrs = naddrs;
	memcpy(inv->addrs, addrs, naddrs * sizeof(addrs[0]));
}

static void test_peer_pair_proves_the_invite(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];
	struct buddy_invite inv;

	(void)state;
	b->inviter = true;
	randombytes_buf(b->secret, sizeof(b->secret));
	make_invite(&inv, b, b->secret, &b->addr, 1);
	assert_int_equal(buddy_peer_pair(a->p, &inv, on_paired, NULL), 0);
	RUN_UNTIL(T.pair_calls == 1);
	assert_int_equal(T.pair_status, 0);
	assert_memory_equal(T.pair_hello.id, b->pk, 32);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	assert_int_equal(b->invite_admits, 1);
	assert_true(is_allowed(b, a->pk));
	/* the invite is the authorisation: a's owner is not asked about the inviter */
	assert_int_equal(a->admits_in + a->admits_out, 0);
	assert_true(buddy_peer_online(a->p, b->pk));
	round_trip(a, b);
	run_for(REDIAL_MS);
	assert_int_equal(T.pair_calls, 1);
}

static void test_peer_pair_tries_addresses_in_turn(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1], *c = &T.nodes[2];
	struct buddy_addr addrs[2];
	struct buddy_invite inv;

	(void)state;
	addrs[0] = c->addr;
	node_stop(c); /* nobody answers at the first address */
	run_for(10);
	addrs[1] = b->addr;
	b->inviter = true;
	randombytes_buf(b->secret, sizeof(b->secret));
	make_invite(&inv, b, b->secret, addrs, 2);
	assert_int_equal(buddy_peer_pair(a->p, &inv, on_paired, NULL), 0);
	RUN_UNTIL(T.pair_calls == 1);
	assert_int_equal(T.pair_status, 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
}

static void test_peer_pair_wrong_secret_is_refused(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];
	uint8_t wrong[BUDDY_INVITE_SECRET_BYTES];
	struct buddy_invite inv;

	(void)state;
	b->inviter = true;
	randombytes_buf(b->secret, sizeof(b->secret));
	randombytes_buf(wrong, sizeof(wrong));
	make_invite(&inv, b, wrong, &b->addr, 1);
	assert_int_equal(buddy_peer_pair(a->p, &inv, on_paired, NULL), 0);
	RUN_UNTIL(T.pair_calls == 1);
	assert_int_equal(T.pair_status, BUDDY_E_AUTH);
	assert_int_equal(b->invite_admits, 1);
	assert_int_equal(a->ups + b->ups, 0);
	assert_false(buddy_peer_online(a->p, b->pk));
}

static void test_peer_pair_someone_else_answers(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1], *c = &T.nodes[2];
	struct buddy_invite inv;

	(void)state;
	b->inviter = true;
	randombytes_buf(b->secret, sizeof(b->secret));
	make_invite(&inv, b, b->secret, &c->addr, 1); /* c answers at the invite's address */
	assert_int_equal(buddy_peer_pair(a->p, &inv, on_paired, NULL), 0);
	RUN_UNTIL(T.pair_calls == 1);
	assert_int_equal(T.pair_status, BUDDY_E_PERM); /* another key: possible interception */
	run_for(REDIAL_MS);
	/* a sent no message 3: c never had a key to judge */
	assert_int_equal(c->admits_in, 0);
	assert_int_equal(a->ups + c->ups, 0);
	assert_int_equal(b->invite_admits, 0);
}

static void test_peer_pair_nobody_answers(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1];
	struct buddy_invite inv;
	uint8_t secret[BUDDY_INVITE_SECRET_BYTES] = {1};

	(void)state;
	make_invite(&inv, b, secret, &b->addr, 1);
	node_stop(b);
	run_for(10);
	assert_int_equal(buddy_peer_pair(a->p, &inv, on_paired, NULL), 0);
	RUN_UNTIL(T.pair_calls == 1);
	assert_int_equal(T.pair_status, BUDDY_E_IO);
	assert_int_equal(a->ups, 0);
}

static void test_peer_hostile_clients_are_cut_off(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: buddy\r\n\r\n";
	static const uint8_t zero[] = {0, 0, 1, 2, 3};
	struct node *a = &T.nodes[0], *b = &T.nodes[1], *c = &T.nodes[2];
	uint8_t huge[100] = {0xff, 0xff}, half[12] = {0, 32}, e[32], forged[100];
	struct raw *r_http, *r_zero, *r_huge, *r_half, *r_forged, *flood[RAWS];
	int nflood = BUDDY_PEER_UNAUTH_MAX + FLOOD_EXTRA, closed;

	(void)state;
	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &b->addr, 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);

	r_http = raw_open(&a->addr);
	r_zero = raw_open(&a->addr);
	r_huge = raw_open(&a->addr);
	r_half = raw_open(&a->addr);
	r_forged = raw_open(&a->addr);
	RUN_UNTIL(r_http->connected && r_zero->connected && r_huge->connected &&
		  r_half->connected && r_forged->connected);
	raw_send(r_http, http, sizeof(http) - 1); /* "GE": a length over any handshake message */
	raw_send(r_zero, zero, sizeof(zero));
	raw_send(r_huge, huge, sizeof(huge));
	raw_send(r_half, half, sizeof(half));
	/* any 32 bytes pass as message 1; a forged message 3 fails to decrypt */
	randombytes_buf(e, sizeof(e));
	raw_send_frame(r_forged, e, sizeof(e));
	randombytes_buf(forged, sizeof(forged));
	raw_send_frame(r_forged, forged, sizeof(forged));
	RUN_UNTIL(r_http->eof && r_zero->eof && r_huge->eof && r_forged->eof);
	assert_true(r_http->eof_at - r_http->opened_at < HANDSHAKE_MS);
	assert_true(r_zero->eof_at - r_zero->opened_at < HANDSHAKE_MS);
	assert_true(r_huge->eof_at - r_huge->opened_at < HANDSHAKE_MS);
	assert_true(r_forged->eof_at - r_forged->opened_at < HANDSHAKE_MS);
	assert_false(r_half->eof);
	round_trip(a, b);
	/* half a frame, then silence: cut at the handshake limit */
	RUN_UNTIL(r_half->eof);
	assert_true(r_half->eof_at - r_half->opened_at >= HANDSHAKE_MS - SLACK_MS);

	/* a flood of silent connections: the ones over the limit are closed at once */
	closed = raws_closed();
	for (int i = 0; i < nflood; i++)
		flood[i] = raw_open(&a->addr);
	RUN_UNTIL(raws_closed() >= closed + FLOOD_EXTRA);
	assert_int_equal(raws_closed(), closed + FLOOD_EXTRA);
	round_trip(a, b); /* the honest session goes on */
	RUN_UNTIL(raws_closed() == closed + nflood);
	for (int i = 0; i < nflood; i++)
		assert_true(flood[i]->eof_at - flood[i]->opened_at < HANDSHAKE_MS + WAIT_MS);
	round_trip(a, b);
	assert_int_equal(a->ups, 1);
	assert_int_equal(a->downs, 0);
	assert_int_equal(a->admits_in, 0); /* no hostile client got as far as a key */

	/* every slot is free again: an honest newcomer gets in */
	allow(a, c->pk);
	allow(c, a->pk);
	assert_int_equal(buddy_peer_want(c->p, a->pk, &a->addr, 1), 0);
	RUN_UNTIL(buddy_peer_online(a->p, c->pk) && buddy_peer_online(c->p, a->pk));
	round_trip(a, c);
}

static void test_peer_silent_session_is_pinged_then_dropped(void **state)
{
	struct node *a = &T.nodes[0];
	uint64_t t0, t_ping;
	struct fake f;

	(void)state;
	fake_init(&f, NULL, NULL);
	allow(a, f.pk);
	fake_handshake(&f, a);
	RUN_UNTIL(a->ups == 1);
	t0 = uv_now(&T.loop);
	/* a's first message shows it admitted the fake; then the fake never answers */
	assert_int_equal(fake_recv(&f), BUDDY_MSG_PING);
	assert_int_equal(fake_recv(&f), BUDDY_MSG_PING);
	t_ping = uv_now(&T.loop);
	assert_true(t_ping - t0 >= PING_MS - SLACK_MS);
	RUN_UNTIL(f.r->eof);
	assert_true(f.r->eof_at - t0 >= IDLE_MS - SLACK_MS);
	assert_int_equal(a->downs, 1);
	assert_false(buddy_peer_online(a->p, f.pk));
	fake_free(&f);
}

static void test_peer_slow_reader_is_dropped(void **state)
{
	static uint8_t big[BUDDY_PEER_FRAME_MAX - BUDDY_NOISE_TAG_BYTES];
	struct node *a = &T.nodes[0];
	struct fake f;
	int rc = 0;

	(void)state;
	fake_init(&f, NULL, NULL);
	allow(a, f.pk);
	fake_handshake(&f, a);
	RUN_UNTIL(a->ups == 1);
	uv_read_stop((uv_stream_t *)&f.r->tcp);
	/* the kernel's buffers fill, then a's write queue passes its high-water mark */
	for (int i = 0; i < 4000 && rc == 0; i++)
		rc = buddy_peer_send(a->p, f.pk, big, sizeof(big));
	assert_int_equal(rc, BUDDY_E_IO);
	/* down() never runs inside the owner's own call: it comes from the loop */
	assert_int_equal(a->downs, 0);
	assert_false(buddy_peer_online(a->p, f.pk));
	assert_int_equal(buddy_peer_send(a->p, f.pk, big, 10), BUDDY_E_NOTFOUND);
	RUN_UNTIL(a->downs == 1);
	fake_free(&f);
}

/* IPv6 listeners are IPv6-only: "::" and "0.0.0.0" can share a port whatever the system's
 * bindv6only default, and a wildcard address is not advertised. */
static void test_peer_listens_on_ipv6(void **state)
{
	struct node *a = &T.nodes[0], *b = &T.nodes[1], *c = &T.nodes[2];
	struct buddy_addr both[2] = {{"127.0.0.1", 0}, {"::1", 0}}, bound[2], any4 = {"0.0.0.0", 0};
	struct buddy_addr any6 = {"::", 0};

	(void)state;
	node_stop(b);
	if (node_start_at(b, both, 2)) {
		skip(); /* no IPv6 loopback on this machine */
	}
	assert_int_equal(buddy_peer_bound(b->p, bound, 2), 2);
	assert_string_equal(bound[0].host, "127.0.0.1");
	assert_string_equal(bound[1].host, "::1");
	assert_int_not_equal(bound[1].port, 0);
	allow(a, b->pk);
	allow(b, a->pk);
	assert_int_equal(buddy_peer_want(a->p, b->pk, &bound[1], 1), 0);
	RUN_UNTIL(a->ups == 1 && b->ups == 1);
	assert_string_equal(a->last_remote.host, "::1");
	assert_string_equal(b->last_remote.host, "::1");
	round_trip(a, b);

	/* a free port for both families at once */
	node_stop(c);
	assert_int_equal(node_start_at(c, &any4, 1), 0);
	assert_int_equal(buddy_peer_bound(c->p, bound, 1), 1);
	node_stop(c);
	run_for(10);
	any4.port = any6.port = bound[0].port;
	assert_int_equal(node_start_at(c, (const struct buddy_addr[]){any4, any6}, 2), 0);
	assert_int_equal(buddy_peer_bound(c->p, bound, 2), 2);
	assert_string_equal(bound[1].host, "::");
	assert_int_equal(bound[0].port, any4.port);
	assert_int_equal(bound[1].port, any4.port);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_peer_want_brings_up_a_session, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_unknown_key_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_simultaneous_dial_keeps_one_session,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_duplicate_kept_when_we_are_smaller, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_duplicate_replaced_when_they_are_smaller,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_redial_after_restart_at_the_same_address,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_redial_at_new_addresses_after_want, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_unwant_closes_and_stops_redialling, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_discovered_dial_leaves_redials_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_pair_proves_the_invite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_pair_tries_addresses_in_turn, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_pair_wrong_secret_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_pair_someone_else_answers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_pair_nobody_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_hostile_clients_are_cut_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_silent_session_is_pinged_then_dropped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_slow_reader_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_listens_on_ipv6, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	buddy_log_set_level(getenv("BUDDY_TEST_DEBUG") ? BUDDY_LOG_DEBUG : BUDDY_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
