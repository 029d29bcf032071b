/* Share-stream posts and the sync messages that carry them (proto/PROTOCOL.md section 15):
 * encoding with size-bucket padding, strict decoding of the envelope and of each body type,
 * post hashes, head signatures and receipts, and the HEADS / POSTS / ACK / END messages.
 * Pure functions, no I/O: the daemon's streams.c (storage, views) and sync.c (sessions) use
 * them, and so do the fuzz targets. Every field from outside is type- and size-checked here. */
#ifndef BUDDY_POST_H
#define BUDDY_POST_H

#include "buddy/cadence.h"
#include "buddy/limits.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_POST_MAX		65024	     /* one encoded post (the largest bucket) */
#define BUDDY_POST_MIN		256	     /* the smallest bucket */
#define BUDDY_POST_DEPTH_MAX	4	     /* MessagePack nesting in a post */
#define BUDDY_POST_OBJECTS_MAX	512	     /* MessagePack objects in a post */
#define BUDDY_POSTS_BATCH_MAX	1024	     /* posts in one POSTS message */
#define BUDDY_POSTS_WINDOW	(256 * 1024) /* post bytes sent and not acknowledged */
#define BUDDY_REACTION_TEXT_MAX 1000	     /* a cheer's or comment's text */
#define BUDDY_POST_HASH_BYTES	32
#define BUDDY_POST_SIG_BYTES	64

/* A pause's reason, bytes (pauses.h has the same as BUDDY_PAUSE_REASON_MAX). */
#define BUDDY_POST_PAUSE_REASON_MAX 200
/* A POSTS plaintext holding n posts of total post bytes b is at most b + this (the array and
 * map headers, the keys, a bin 16/32 header per post, the signature). */
#define BUDDY_POSTS_OVERHEAD(n) (96 + 5 * (size_t)(n))

enum buddy_post_type {
	BUDDY_POST_COMMITMENT = 1,
	BUDDY_POST_CHECKIN = 2,
	BUDDY_POST_NOTE = 3,
	BUDDY_POST_RETRACTION = 4,
	BUDDY_POST_REACTION = 5,
	BUDDY_POST_PAUSE = 6,
};

enum buddy_reaction_kind { BUDDY_REACTION_CHEER = 1, BUDDY_REACTION_COMMENT = 2 };

/* Sync message types (transport messages, proto/PROTOCOL.md sections 8 and 15). */
enum buddy_sync_msg {
	BUDDY_MSG_HEADS = 5,
	BUDDY_MSG_POSTS = 6,
	BUDDY_MSG_ACK = 7,
	BUDDY_MSG_END = 8,
};

/* The envelope of a post: [seq, prev, time, type, body, pad]. */
struct buddy_post_head {
	uint64_t seq;
	uint8_t prev[BUDDY_POST_HASH_BYTES];
	int64_t time;
	uint64_t type;
};

/* Bodies. Strings that are pointer + length point into the decoded msgpack object (valid while
 * its msgpack_unpacked lives) when read, and are the caller's when written; fixed arrays are
 * NUL-terminated copies. */
struct buddy_post_commitment {
	char id[BUDDY_ID_MAX + 1];
	const char *title;
	size_t title_len;
	struct buddy_cadence cadence;
	char tz[BUDDY_TZ_MAX + 1];
	int64_t created, archived; /* archived: 0 while active */
	bool on;		   /* false: no longer shared with the recipient */
};

/* A check-in (status set) or a note (status 0). */
struct buddy_post_entry {
	uint64_t e;			  /* the author's entry id, >= 1 */
	char commit[BUDDY_ID_MAX + 1];	  /* "" for a note on no commitment */
	int64_t at;			  /* the time the entry is about */
	enum buddy_checkin_status status; /* 0 for a note */
	const char *text;
	size_t text_len;
	bool has_value;
	double value;
	char unit[BUDDY_UNIT_MAX + 1]; /* "" for none; only with has_value */
	size_t ntags;
	const char *tags[BUDDY_TAGS_MAX];
	size_t tag_lens[BUDDY_TAGS_MAX];
};

struct buddy_post_reaction {
	uint64_t e; /* the recipient's entry id */
	enum buddy_reaction_kind kind;
	const char *text; /* a cheer's may be empty, a comment's may not */
	size_t text_len;
};

/* A pause: the author is away from commitment `commit` from `from` to the end of the day
 * until_y-until_m-until_d in the commitment's zone. */
struct buddy_post_pause {
	char commit[BUDDY_ID_MAX + 1];
	int64_t from;
	int until_y, until_m, until_d;
	const char *reason; /* 0..BUDDY_POST_PAUSE_REASON_MAX bytes, one line */
	size_t reason_len;
};

/* ---- posts ---- */

/* Builds one post: the envelope around body (a MessagePack map's bytes, from the body writers
 * below), padded to its size bucket with a bin 16 pad (section 15.2). The bytes are appended
 * to out. BUDDY_E_TOOBIG when the post would exceed BUDDY_POST_MAX, BUDDY_E_INVALID for seq 0
 * or a body that is not exactly one map. */
int buddy_post_encode(const struct buddy_post_head *h, const uint8_t *body, size_t body_len,
		      msgpack_sbuffer *out);

/* Body writers: append one map to out (BUDDY_E_INVALID for a value the rules of section 15.3
 * refuse, so a daemon never posts what a reader would ignore). */
int buddy_post_write_commitment(msgpack_sbuffer *out, const struct buddy_post_commitment *c);
int buddy_post_write_entry(msgpack_sbuffer *out, const struct buddy_post_entry *e);
int buddy_post_write_retraction(msgpack_sbuffer *out, uint64_t e);
int buddy_post_write_reaction(msgpack_sbuffer *out, const struct buddy_post_reaction *r);
int buddy_post_write_pause(msgpack_sbuffer *out, const struct buddy_post_pause *pa);

/* Checks and decodes a post's envelope (length, limits, exactly one 6-array, field types,
 * seq >= 1, prev of seq 1 all zero, no trailing bytes). u is initialised by the caller and
 * destroyed after; *body points into it. BUDDY_E_INVALID when malformed. */
int buddy_post_decode(const uint8_t *p, size_t len, msgpack_unpacked *u, struct buddy_post_head *h,
		      const msgpack_object **body);

/* Body readers, strict per section 15.3 (unknown keys ignored): BUDDY_E_INVALID when a
 * required key is missing or any known key has the wrong type, length or value. For
 * buddy_post_read_entry, checkin selects the check-in rules (type 2) or the note rules. */
int buddy_post_read_commitment(const msgpack_object *body, struct buddy_post_commitment *out);
int buddy_post_read_entry(const msgpack_object *body, bool checkin, struct buddy_post_entry *out);
int buddy_post_read_retraction(const msgpack_object *body, uint64_t *e);
int buddy_post_read_reaction(const msgpack_object *body, struct buddy_post_reaction *out);
int buddy_post_read_pause(const msgpack_object *body, struct buddy_post_pause *out);

/* H(post): keyed BLAKE2b-256 (key "buddy-post-v1") over the exact bytes. */
void buddy_post_hash(const uint8_t *post, size_t len, uint8_t out[BUDDY_POST_HASH_BYTES]);

/* Head signature by the author (sk: 64-byte Ed25519 secret key) of stream author -> recipient
 * at post seq, and its check (0, or BUDDY_E_AUTH). */
void buddy_post_sign_head(uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t *sk,
			  const uint8_t author[32], const uint8_t recipient[32], uint64_t seq,
			  const uint8_t hash[BUDDY_POST_HASH_BYTES]);
int buddy_post_verify_head(const uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t author[32],
			   const uint8_t recipient[32], uint64_t seq,
			   const uint8_t hash[BUDDY_POST_HASH_BYTES]);
/* Receipt by the recipient (sk: the recipient's) for post seq, and its check. */
void buddy_post_sign_receipt(uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t *sk,
			     const uint8_t author[32], const uint8_t recipient[32], uint64_t seq,
			     const uint8_t hash[BUDDY_POST_HASH_BYTES]);
int buddy_post_verify_receipt(const uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t author[32],
			      const uint8_t recipient[32], uint64_t seq,
			      const uint8_t hash[BUDDY_POST_HASH_BYTES]);

/* ---- sync messages: whole transport plaintexts [type, body], appended to sb ---- */

/* HEADS {h, x, f, e}: x is required when h > 0 (ignored otherwise); f 0 and e 0 are not
 * written. */
int buddy_msg_heads_encode(msgpack_sbuffer *sb, uint64_t h, const uint8_t *x, uint64_t fork,
			   uint64_t e);
/* POSTS {p, s}: n (1..BUDDY_POSTS_BATCH_MAX) posts given as pointers and lengths. */
int buddy_msg_posts_encode(msgpack_sbuffer *sb, const uint8_t *const *posts, const size_t *lens,
			   size_t n, const uint8_t sig[BUDDY_POST_SIG_BYTES]);
/* ACK {h, x, r}. */
int buddy_msg_ack_encode(msgpack_sbuffer *sb, uint64_t h, const uint8_t x[BUDDY_POST_HASH_BYTES],
			 const uint8_t r[BUDDY_POST_SIG_BYTES]);
/* END {}. */
int buddy_msg_end_encode(msgpack_sbuffer *sb);

/* Readers of the bodies (as given by buddy_msg_decode in peer_wire.h), strict: BUDDY_E_INVALID
 * for a missing or mistyped field. HEADS: x zeroed when h is 0; fork and e 0 when absent. POSTS:
 * *posts points at the array's elements (each checked to be a bin of 1..BUDDY_POST_MAX bytes), n is
 * 1..BUDDY_POSTS_BATCH_MAX. */
int buddy_msg_heads_read(const msgpack_object *body, uint64_t *h, uint8_t x[BUDDY_POST_HASH_BYTES],
			 uint64_t *fork, uint64_t *e);
int buddy_msg_posts_read(const msgpack_object *body, const msgpack_object **posts, size_t *n,
			 uint8_t sig[BUDDY_POST_SIG_BYTES]);
int buddy_msg_ack_read(const msgpack_object *body, uint64_t *h, uint8_t x[BUDDY_POST_HASH_BYTES],
		       uint8_t r[BUDDY_POST_SIG_BYTES]);

#endif
