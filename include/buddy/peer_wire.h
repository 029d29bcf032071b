/* The peer protocol's messages (proto/PROTOCOL.md): the handshake payload ("hello") and the
 * envelope of transport messages. Encoders and strict decoders; no I/O. Every length and type
 * from the network is checked here before anything else sees it. */
#ifndef BUDDY_PEER_WIRE_H
#define BUDDY_PEER_WIRE_H

#include "buddy/invite.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_PEER_NOISE    "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define BUDDY_PEER_PROLOGUE "buddy peer protocol 1"
#define BUDDY_PEER_VERSION  1
#define BUDDY_HELLO_MAX	    1024 /* encoded hello bytes */

/* Sent encrypted in handshake message 2 (by the responder) and 3 (by the initiator). Message 1
 * carries an empty payload: it is not encrypted. */
struct buddy_hello {
	uint32_t version;  /* BUDDY_PEER_VERSION */
	uint64_t features; /* bit set; none defined yet, unknown bits are ignored */
	uint8_t id[32];	   /* Ed25519 identity; its X25519 form must be the Noise static key */
	size_t naddrs;
	struct buddy_addr addrs[BUDDY_PEER_ADDRS_MAX]; /* where the sender can be dialled */
	bool has_invite;			       /* message 3 only, when pairing */
	uint8_t invite_id[BUDDY_INVITE_ID_BYTES];
	uint8_t proof[BUDDY_INVITE_PROOF_BYTES];
};

int buddy_hello_encode(const struct buddy_hello *h, uint8_t *out, size_t cap, size_t *len);
/* BUDDY_E_INVALID for anything malformed, BUDDY_E_VERSION for another major version. */
int buddy_hello_decode(const uint8_t *p, size_t len, struct buddy_hello *h);

/* Transport message types: [type, body] with body a map. */
enum buddy_msg_type {
	BUDDY_MSG_PING = 1,   /* {n: uint}: answered with PONG {n} */
	BUDDY_MSG_PONG = 2,   /* {n: uint} */
	BUDDY_MSG_PAIRED = 3, /* {}: the inviter accepted an invite proof; first message after it */
	BUDDY_MSG_ADDRS = 4,  /* {a: [addr]}: the sender's addresses changed */
};

/* Packs [type, {}] and returns the bytes in sb (caller-initialised); for the types whose body
 * is one uint "n" pass it in n (PING/PONG). */
int buddy_msg_encode_simple(msgpack_sbuffer *sb, enum buddy_msg_type type, uint64_t n);

/* Checks and decodes one transport message (bounded: 64 KiB, depth 8). On success *type and
 * *body (a map inside u) are set; u must be initialised by the caller and destroyed after. */
int buddy_msg_decode(const uint8_t *p, size_t len, msgpack_unpacked *u, uint64_t *type,
		     const msgpack_object **body);

/* Reads/writes an address list ([["host", port], ...]) used by hello and ADDRS. */
int buddy_addrs_pack(msgpack_packer *pk, const struct buddy_addr *a, size_t n);
int buddy_addrs_read(const msgpack_object *o, struct buddy_addr *a, size_t max, size_t *n);

#endif
