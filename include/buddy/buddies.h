/* Buddies and invites as the journal records them (proto/STORE.md, "Buddy records"): who is
 * paired, under which local name, verified or revoked, where they were last reachable, and the
 * invites still open. Rebuilt from records like the rest of the journal; changed only by
 * applying records. Knows nothing of sockets: the daemon's pairing glue (pairing.c) uses it. */
#ifndef BUDDY_BUDDIES_H
#define BUDDY_BUDDIES_H

#include "buddy/invite.h"
#include "buddy/limits.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_REC_BUDDY_ADD    20
#define BUDDY_REC_BUDDY_RENAME 21
#define BUDDY_REC_BUDDY_VERIFY 22
#define BUDDY_REC_BUDDY_REVOKE 23
#define BUDDY_REC_BUDDY_ADDRS  24
#define BUDDY_REC_INVITE_ADD   25
#define BUDDY_REC_INVITE_USED  26

struct buddy_buddy {
	uint8_t pk[32];
	char name[BUDDY_ID_MAX + 1];
	int64_t paired;
	int64_t revoked; /* 0: active */
	bool verified;
	bool forgotten;	    /* revoked with --forget: kept only so the key stays refused */
	bool ended_by_them; /* revoked because the buddy ended the pairing (an END message) */
	size_t naddrs;
	struct buddy_addr addrs[BUDDY_PEER_ADDRS_MAX];
	/* runtime only, not recorded */
	bool online;
	int64_t last_seen;
	int64_t addrs_recorded; /* when an address record was last written (pairing.c) */
};

struct buddy_invite_rec {
	uint8_t id[BUDDY_INVITE_ID_BYTES];
	uint8_t secret[BUDDY_INVITE_SECRET_BYTES];
	int64_t expires;
	char name[BUDDY_ID_MAX + 1]; /* what the inviter will call the new buddy */
	bool used;
};

struct buddy_buddies;

struct buddy_buddies *buddy_buddies_new(void);
void buddy_buddies_free(struct buddy_buddies *b); /* wipes invite secrets */

/* Applies one record of the types above (the journal dispatches them here). */
int buddy_buddies_apply(struct buddy_buddies *b, uint64_t type, int64_t written,
			const msgpack_object *body);

size_t buddy_buddies_count(const struct buddy_buddies *b);
struct buddy_buddy *buddy_buddies_at(struct buddy_buddies *b, size_t i);
struct buddy_buddy *buddy_buddies_by_pk(struct buddy_buddies *b, const uint8_t pk[32]);
struct buddy_buddy *buddy_buddies_by_name(struct buddy_buddies *b, const char *name);
struct buddy_invite_rec *buddy_buddies_invite(struct buddy_buddies *b,
					      const uint8_t id[BUDDY_INVITE_ID_BYTES]);

/* Record makers: each appends one record [type, now, body] to out. */
int buddy_buddies_make_add(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			   const char *name, const struct buddy_addr *addrs, size_t naddrs);
int buddy_buddies_make_rename(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			      const char *name);
int buddy_buddies_make_verify(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32]);
int buddy_buddies_make_revoke(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32], bool forget);
/* The buddy ended the pairing: a revoke record with them = true. */
int buddy_buddies_make_ended(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32]);
int buddy_buddies_make_addrs(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			     const struct buddy_addr *addrs, size_t naddrs);
int buddy_buddies_make_invite(msgpack_sbuffer *out, int64_t now, const uint8_t id[8],
			      const uint8_t secret[16], int64_t expires, const char *name);
int buddy_buddies_make_invite_used(msgpack_sbuffer *out, int64_t now, const uint8_t id[8]);

#endif
