/* Peer sessions over TCP (DESIGN.md section 5, proto/PROTOCOL.md): listening, dialling,
 * framing (u16 length + one Noise message), the Noise XX handshake with hello payloads, the
 * limits (handshake time, unauthenticated connections, frame size, idle pings, write queue),
 * one session per buddy (duplicates resolved deterministically), and redialling with backoff
 * and jitter. Knows nothing of the journal: it asks its owner (ops) whether a key is a buddy and
 * hands authenticated transport messages up. Runs on the owner's libuv loop. */
#ifndef BUDDY_PEER_H
#define BUDDY_PEER_H

#include "buddy/invite.h"
#include "buddy/peer_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct buddy_peer;

struct buddy_peer_ops {
	/* A handshake message revealed the remote identity (hello validated, its X25519 form
	 * checked against the Noise static key). Return true to keep the connection as the
	 * session with this buddy, false to close it at once with nothing more said. With
	 * hello->has_invite (a responder being paired), h/hlen is the handshake hash after
	 * message 2, for buddy_invite_proof; the owner checks the proof and records the new buddy
	 * before returning true. Not called for the responder key of a pairing dial (checked
	 * against the invite instead). */
	bool (*admit)(void *owner, const struct buddy_hello *hello, const uint8_t *h, size_t hlen,
		      bool we_initiated);
	/* A session with id is up: after admit, after the other side showed it admitted us too,
	 * and after duplicate resolution. May come again without down() when a newer connection
	 * replaces the session: treat each call as "(re)start this session". */
	void (*up)(void *owner, const uint8_t id[32], const struct buddy_hello *hello,
		   const struct buddy_addr *remote);
	/* The session with id is gone. */
	void (*down)(void *owner, const uint8_t id[32]);
	/* An authenticated transport message other than PING/PONG/PAIRED (handled here); ADDRS
	 * comes here too, already checked, after its addresses became the ones to redial. */
	void (*message)(void *owner, const uint8_t id[32], const uint8_t *msg, size_t len);
};

struct buddy_peer_config {
	uv_loop_t *loop;
	const uint8_t *sign_pk;		 /* Ed25519 identity, 32 bytes */
	const uint8_t *sign_sk;		 /* 64 bytes; its X25519 form is the Noise static key */
	const struct buddy_addr *listen; /* where to listen; port 0 picks a free port */
	size_t nlisten;
	const struct buddy_addr *advertise; /* sent in hellos; NULL: see buddy_peer_advertised */
	size_t nadvertise;
	struct buddy_peer_ops ops;
	void *owner;
	/* 0 means the default from limits.h. ping_ms, idle_ms and redial_max_ms come from the
	 * config file's [peer] section (config.h); the others are test seams. */
	uint32_t handshake_ms, ping_ms, idle_ms, redial_min_ms, redial_max_ms;
};

/* Binds and listens. BUDDY_E_IO with a log line when an address cannot be bound. Keys are
 * copied into guarded memory. */
int buddy_peer_start(const struct buddy_peer_config *cfg, struct buddy_peer **out);

/* Closes every connection and timer; memory is freed in the close callbacks. NULL is fine. */
void buddy_peer_stop(struct buddy_peer *p);

/* The addresses actually bound (port 0 resolved). */
size_t buddy_peer_bound(const struct buddy_peer *p, struct buddy_addr *out, size_t max);

/* The addresses sent in our hello: config->advertise, else the bound ones with a wildcard
 * replaced by this machine's interface addresses (non-loopback ones when there are any). */
size_t buddy_peer_advertised(const struct buddy_peer *p, struct buddy_addr *out, size_t max);

/* Keeps a session with this buddy: dials addrs (replacing those known) now and, while there is
 * no session, again with exponential backoff and jitter. Addresses a buddy advertises in its
 * hello or in ADDRS replace these (the owner hears of them through up()). */
int buddy_peer_want(struct buddy_peer *p, const uint8_t id[32], const struct buddy_addr *addrs,
		    size_t naddrs);

/* The buddy id was just seen at a (LAN discovery): dials it there once, now, outside the
 * redial schedule: the known addresses, the backoff and the next redial are kept, and a
 * failure schedules nothing. BUDDY_E_NOTFOUND when id is not
 * wanted, BUDDY_E_EXISTS when a session is up, BUDDY_E_BUSY while another dial of id is under
 * way, BUDDY_E_INVALID when a cannot be dialled. */
int buddy_peer_discovered(struct buddy_peer *p, const uint8_t id[32], const struct buddy_addr *a);

/* Tests: when the next redial of id is due (*due, in uv_now() ms; 0 when none is scheduled)
 * and the delay after it (*backoff, before jitter). BUDDY_E_NOTFOUND when id is not wanted. */
int buddy_peer_redial_state(struct buddy_peer *p, const uint8_t id[32], uint64_t *due,
			    uint32_t *backoff);

/* Stops dialling id and closes its session at once (revocation). Connections from id are no
 * longer admitted unless the owner's admit() says so. */
void buddy_peer_unwant(struct buddy_peer *p, const uint8_t id[32]);

/* Dials an inviter for pairing: requires the responder's static key to be the invite's key,
 * sends the proof of the secret in the hello, and waits for PAIRED. cb(arg, 0, responder hello)
 * on success; BUDDY_E_AUTH when the inviter refused (used, expired or unknown code: it just
 * closes); BUDDY_E_PERM when only other keys answered at the invite's addresses (possible
 * interception); BUDDY_E_IO when no address answered. On success the connection stays up as
 * the session with the inviter. */
/* On success (status 0) the callback says whether to keep the connection as the session
 * with the inviter: false (it could not record the inviter) closes it. Ignored otherwise. */
typedef bool (*buddy_peer_pair_cb)(void *arg, int status, const struct buddy_hello *inviter);
int buddy_peer_pair(struct buddy_peer *p, const struct buddy_invite *inv, buddy_peer_pair_cb cb,
		    void *arg);

/* Sends one transport message to a buddy's session. BUDDY_E_NOTFOUND when offline,
 * BUDDY_E_TOOBIG over a frame. */
int buddy_peer_send(struct buddy_peer *p, const uint8_t id[32], const uint8_t *msg, size_t len);

/* Revocation with a last word: sends msg on the session (if there is one), closes it once the
 * message is flushed, and stops dialling id as buddy_peer_unwant does. */
void buddy_peer_end(struct buddy_peer *p, const uint8_t id[32], const uint8_t *msg, size_t len);

/* Closes the session with id (silently, as every refusal) without forgetting the buddy: it is
 * redialled as after any drop. Safe from inside the ops callbacks (the close happens from the
 * loop right after). */
void buddy_peer_drop(struct buddy_peer *p, const uint8_t id[32]);

bool buddy_peer_online(const struct buddy_peer *p, const uint8_t id[32]);

#endif
