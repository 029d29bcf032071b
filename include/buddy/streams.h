/* Share streams as the journal records them (proto/STORE.md "Stream records", proto/PROTOCOL.md
 * section 15): my outgoing stream to each buddy (every post, its hash, how far the buddy has
 * acknowledged it and the newest signed receipt), my copy of each buddy's stream to me (the
 * hash of every post, fork evidence), which commitment is shared with whom, and alerts. Rebuilt
 * from records like the rest of the journal and changed only by applying records; it checks
 * chain continuity on every apply, so a record that would break a chain is corruption.
 * Signatures are checked before a received batch is recorded (daemon/sync.c), not at replay:
 * the store is authenticated. What posts *mean* (the buddy's commitments and check-ins,
 * reactions) is seen.h's; streams.c hands every stored post to it through a callback. */
#ifndef BUDDY_STREAMS_H
#define BUDDY_STREAMS_H

#include "buddy/buddies.h"
#include "buddy/post.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_REC_POSTED    30 /* {r?: bin record, o: [[pk, post], ...]}: a change and its posts */
#define BUDDY_REC_RECEIVED  31 /* {a: pk, p: [post, ...], s: sig}: a verified batch from a buddy */
#define BUDDY_REC_SHARED    32 /* {c: commitment id, b: pk, on: bool} */
#define BUDDY_REC_DELIVERED 33 /* {b: pk, h: seq, r: receipt}: the buddy acknowledged up to h */
#define BUDDY_REC_FORK	    34 /* {a: pk, h: seq, p: [post, ...], s: sig}: evidence, stream frozen */
#define BUDDY_REC_ALERT	    35 /* {b: pk, k: kind, h: seq}: something a buddy sent was refused */
#define BUDDY_REC_REBASED   36 /* {b: pk, h: seq, x: hash, e: uint}: a restored stream settled */
#define BUDDY_REC_RESTORED  43 /* {m: int}: the journal up to here came from a backup made at m */

#define BUDDY_SHARES_MAX 4096 /* (commitment, buddy) pairs shared at once */
/* A rebase adopts at most this seq from a buddy's HEADS: far above any stream a buddy keeps
 * (150,000), far below where seq + posts could wrap. */
#define BUDDY_REBASE_SEQ_MAX (1ULL << 40)
#define BUDDY_ALERTS_MAX     1000 /* alerts kept in memory (the oldest are dropped from view) */

struct buddy_streams;

/* Called for every post that becomes part of a stream, in log order: outgoing (a post I made
 * for buddy pk) or incoming (a post buddy pk made for me). post/len stay valid only during the
 * call. */
typedef void (*buddy_streams_post_cb)(void *arg, bool outgoing, const uint8_t pk[32], uint64_t seq,
				      int64_t written, const uint8_t *post, size_t len);

struct buddy_streams *buddy_streams_new(buddy_streams_post_cb cb, void *arg);
void buddy_streams_free(struct buddy_streams *s);

/* Applies a record of types 31..36 and 43 (the journal dispatches them here; bs resolves and checks
 * buddy keys). BUDDY_E_CORRUPT when malformed or when it contradicts the state: an unknown
 * buddy, a batch that does not continue the stream (seq and prev), a delivered seq beyond the
 * stream or below what was delivered, a share of a commitment id that is not a slug. */
int buddy_streams_apply(struct buddy_streams *s, struct buddy_buddies *bs, uint64_t type,
			int64_t written, const msgpack_object *body);

/* Type 30, in two steps around the journal's application of the inner record: check that every
 * [pk, post] of o names a buddy and continues my stream to it (posts to one buddy in o follow
 * each other), then add them. The journal calls check, applies the inner record, then add. */
int buddy_streams_check_posted(const struct buddy_streams *s, struct buddy_buddies *bs,
			       const msgpack_object *o);
int buddy_streams_add_posted(struct buddy_streams *s, const msgpack_object *o, int64_t written);

/* A pairing ended (revoked by either side): nothing is shared with pk any more. With
 * streams_too (the same key paired again), both streams with pk start over from seq 1, on
 * both sides, so nothing queued for the old pairing goes out to the new one. The journal calls
 * this; posts already handed to the callback stay where they went. */
void buddy_streams_forget(struct buddy_streams *s, const uint8_t pk[32], bool streams_too);

/* ---- making records ---- */

/* The posts one change makes, built before the record: each call encodes one post (padded) for
 * buddy pk continuing my stream to it (and any earlier post to pk in this posting). */
struct buddy_posting;
struct buddy_posting *buddy_posting_new(void);
void buddy_posting_free(struct buddy_posting *pg);
int buddy_posting_add(struct buddy_posting *pg, const struct buddy_streams *s, const uint8_t pk[32],
		      int64_t now, enum buddy_post_type type, const uint8_t *body, size_t body_len);
size_t buddy_posting_count(const struct buddy_posting *pg);

/* Record makers: each appends one record [type, now, body] to out. make_posted wraps inner (a
 * whole record from another maker, or NULL for posts alone) with the posting's posts. */
int buddy_streams_make_posted(msgpack_sbuffer *out, int64_t now, const uint8_t *inner,
			      size_t inner_len, const struct buddy_posting *pg);
int buddy_streams_make_received(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
				const uint8_t *const *posts, const size_t *lens, size_t n,
				const uint8_t sig[BUDDY_POST_SIG_BYTES]);
int buddy_streams_make_shared(msgpack_sbuffer *out, int64_t now, const char *commit,
			      const uint8_t pk[32], bool on);
int buddy_streams_make_delivered(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
				 uint64_t seq, const uint8_t receipt[BUDDY_POST_SIG_BYTES]);
int buddy_streams_make_fork(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32], uint64_t seq,
			    const uint8_t *const *posts, const size_t *lens, size_t n,
			    const uint8_t sig[BUDDY_POST_SIG_BYTES]);
int buddy_streams_make_alert(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			     const char *kind, uint64_t seq);
/* Type 43, written once by `buddy restore` right after the records it restored (made: when the
 * backup was made): every stream of mine that exists at this point waits for its buddy's HEADS
 * before it is trusted again (PROTOCOL.md 15.11). */
int buddy_streams_make_restored(msgpack_sbuffer *out, int64_t now, int64_t made);
/* Type 36, once buddy pk's HEADS (h, x) arrived for a stream waiting since a restore: settles
 * it, and when pk holds posts past the restore (h above the stream's head at the restore),
 * adopts h and x as posts I no longer hold and renumbers the posts made since the restore to
 * follow them (applying the record derives them: the record holds no posts, so no number or
 * size of them can keep it from being written). e: the highest entry id pk said it holds of
 * mine (new entries go above it). */
int buddy_streams_make_rebased(msgpack_sbuffer *out, int64_t now, const struct buddy_streams *s,
			       const uint8_t pk[32], uint64_t h, const uint8_t x[32], uint64_t e);

/* ---- reading ---- */

/* My stream to buddy pk. Every function is fine with a buddy that has no stream (0 / NULL). */
uint64_t buddy_streams_out_head(const struct buddy_streams *s, const uint8_t pk[32]);
/* Post seq (base + 1..head) of my stream to pk: its bytes (and length) and hash; NULL if none
 * (base is 0 unless a rebase adopted posts, PROTOCOL.md 15.11). */
const uint8_t *buddy_streams_out_post(const struct buddy_streams *s, const uint8_t pk[32],
				      uint64_t seq, size_t *len, const uint8_t **hash);
/* H(post seq) for seq from the first post I hold (or the adopted base, PROTOCOL.md 15.11) to
 * the head; NULL otherwise. */
const uint8_t *buddy_streams_out_hash(const struct buddy_streams *s, const uint8_t pk[32],
				      uint64_t seq);
/* Whether my stream to pk waits for pk's HEADS since a restore, and my head at the restore. */
bool buddy_streams_out_pending(const struct buddy_streams *s, const uint8_t pk[32],
			       uint64_t *restored_head);
/* How far pk acknowledged my stream (recorded), and when. */
uint64_t buddy_streams_delivered(const struct buddy_streams *s, const uint8_t pk[32],
				 int64_t *when);

/* My copy of buddy pk's stream: the highest seq stored (applied), the hash of post seq
 * (1..head; NULL otherwise), and the seq of recorded fork evidence (0: none). */
uint64_t buddy_streams_in_head(const struct buddy_streams *s, const uint8_t pk[32]);
const uint8_t *buddy_streams_in_hash(const struct buddy_streams *s, const uint8_t pk[32],
				     uint64_t seq);
uint64_t buddy_streams_in_fork(const struct buddy_streams *s, const uint8_t pk[32]);
/* The highest entry id among pk's check-ins and notes to me (0: none): HEADS tells it to pk. */
uint64_t buddy_streams_in_max_entry(const struct buddy_streams *s, const uint8_t pk[32]);

/* Sharing: whether commitment id is shared with pk, and the buddies it is shared with (up to
 * max keys copied to out; the count is returned). */
bool buddy_streams_is_shared(const struct buddy_streams *s, const char *commit,
			     const uint8_t pk[32]);
size_t buddy_streams_shared_with(const struct buddy_streams *s, const char *commit,
				 uint8_t (*out)[32], size_t max);

struct buddy_alert {
	uint8_t pk[32];
	char kind[16];
	uint64_t seq;
	int64_t time;
};
size_t buddy_streams_nalerts(const struct buddy_streams *s);
const struct buddy_alert *buddy_streams_alert_at(const struct buddy_streams *s, size_t i);

#endif
