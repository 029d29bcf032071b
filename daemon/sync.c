/* The share streams over peer sessions (proto/PROTOCOL.md section 15): HEADS when a session
 * comes up, POSTS from where the buddy's HEADS says within a bounded window, ACKs with signed
 * receipts once a received batch is durable, delivery records, fork evidence and alerts, and
 * END on revocation. What a stream holds is the journal's (streams.h); this file only moves it
 * and decides what to believe. Everything runs on the loop thread. */
#include "buddy/clock.h"
#include "buddy/daemon.h"
#include "buddy/discovery.h"
#include "buddy/error.h"
#include "buddy/journal.h"
#include "buddy/limits.h"
#include "buddy/log.h"
#include "buddy/peer.h"
#include "buddy/post.h"
#include "buddy/streams.h"
#include "pkindex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The largest POSTS plaintext: a frame's Noise message minus its tag. */
#define POSTS_PLAINTEXT_MAX (BUDDY_PEER_FRAME_MAX - 16)
/* The same alert about the same buddy is recorded at most this often: a hostile buddy that
 * reconnects in a loop must not fill the journal with alerts. */
#define ALERT_INTERVAL_S 3600
/* A post stamped further ahead of our clock than this raises a "clock" alert. */
#define CLOCK_SKEW_MAX_S (24 * 3600)

enum alert_kind {
	AL_MALFORMED,
	AL_ORDER,
	AL_CHAIN,
	AL_SIGNATURE,
	AL_GAP,
	AL_FORK,
	AL_ACK,
	AL_AHEAD,
	AL_REFUSED,
	AL_QUOTA,
	AL_CLOCK,
	AL_COUNT_
};

static const char *const alert_names[AL_COUNT_] = {
	"malformed", "order", "chain",	 "signature", "gap",   "fork",
	"ack",	     "ahead", "refused", "quota",     "clock",
};

/* A durable-pending range of my stream to this buddy: posts up to seq are in record recno. */
struct pending {
	uint64_t recno, seq;
};

struct sync_peer {
	struct sync_peer *next;
	uint8_t pk[32];
	bool up;
	/* the buddy's stream to me */
	uint64_t in_durable; /* the highest post of theirs on disk */
	size_t in_pending;   /* bytes of their posts stored in memory, not yet on disk */
	/* my stream to the buddy */
	uint64_t out_ready; /* my posts on disk: the only ones that may be sent */
	struct pending *pend;
	size_t npend, cappend;
	bool got_heads, blocked;
	uint64_t next_seq;	/* the next post to send on this session */
	uint64_t acked;		/* the highest post acknowledged on this session */
	size_t inflight;	/* post bytes sent and not acknowledged */
	uint64_t delivered_rec; /* the highest delivery recorded, or being recorded */
	int64_t alerted[AL_COUNT_];
};

/* ---- helpers ---- */

static void short_id(const uint8_t pk[32], char out[9])
{
	sodium_bin2hex(out, 9, pk, 4);
}

static struct buddy_streams *streams(struct buddyd *d)
{
	return buddy_journal_streams(d->journal);
}

static bool open_for_sync(const struct buddyd *d)
{
	return d->state == BUDDYD_UNLOCKED && d->peer && d->secrets;
}

static const uint8_t *peer_key(const void *r)
{
	return ((const struct sync_peer *)r)->pk;
}

/* Through an index: a scan of d->sync ran on every session up and down and every message, and
 * made handshakes slower with each buddy (pkindex.h). */
static struct sync_peer *peer_find(struct buddyd *d, const uint8_t pk[32])
{
	return d->sync_ix ? pkix_get(d->sync_ix, pk, peer_key) : NULL;
}

/* Made on first need. Nothing of this buddy's streams is in flight to disk then (every append
 * for them goes through a peer that exists), so what the journal holds is durable. */
static struct sync_peer *peer_get(struct buddyd *d, const uint8_t pk[32])
{
	struct sync_peer *sp = peer_find(d, pk);

	if (sp)
		return sp;
	if (!d->sync_ix && !(d->sync_ix = calloc(1, sizeof(*d->sync_ix))))
		return NULL;
	if (!(sp = calloc(1, sizeof(*sp))))
		return NULL;
	memcpy(sp->pk, pk, 32);
	if (pkix_put(d->sync_ix, sp, peer_key)) {
		free(sp);
		return NULL;
	}
	sp->in_durable = buddy_streams_in_head(streams(d), pk);
	sp->out_ready = buddy_streams_out_head(streams(d), pk);
	sp->delivered_rec = buddy_streams_delivered(streams(d), pk, NULL);
	sp->next = d->sync;
	d->sync = sp;
	return sp;
}

static void send_sb(struct buddyd *d, struct sync_peer *sp, msgpack_sbuffer *sb)
{
	/* a failure means the session is being dropped: the next one starts over from HEADS */
	if (buddy_peer_send(d->peer, sp->pk, (const uint8_t *)sb->data, sb->size))
		sp->up = false;
}

static void drop(struct buddyd *d, struct sync_peer *sp, const char *why)
{
	char id[9];

	short_id(sp->pk, id);
	log_warn("buddy %s: session closed: %s", id, why);
	sp->up = false;
	buddy_peer_drop(d->peer, sp->pk);
}

static void append_logged(void *arg, int status)
{
	(void)arg;
	if (status)
		log_error("a stream record could not be saved: %s", buddy_strerror(status));
}

static int append_rec(struct buddyd *d, msgpack_sbuffer *rec)
{
	int rc = buddyd_append(d, (const uint8_t *)rec->data, rec->size, append_logged, NULL);

	if (rc)
		log_error("a stream record could not be saved: %s", buddy_strerror(rc));
	return rc;
}

/* Records an alert for the user (rate limited per buddy and kind) and logs it. */
static void alert(struct buddyd *d, struct sync_peer *sp, enum alert_kind k, uint64_t seq)
{
	int64_t now = buddy_clock_now();
	msgpack_sbuffer rec;
	char id[9];

	short_id(sp->pk, id);
	log_warn("buddy %s: refused (%s) at post %llu", id, alert_names[k],
		 (unsigned long long)seq);
	if (sp->alerted[k] && now - sp->alerted[k] < ALERT_INTERVAL_S)
		return;
	sp->alerted[k] = now;
	msgpack_sbuffer_init(&rec);
	if (buddy_streams_make_alert(&rec, now, sp->pk, alert_names[k], seq) == 0)
		append_rec(d, &rec);
	msgpack_sbuffer_destroy(&rec);
}

/* ---- receiving: the buddy's stream to me ---- */

static void send_ack(struct buddyd *d, struct sync_peer *sp)
{
	const uint8_t *x = buddy_streams_in_hash(streams(d), sp->pk, sp->in_durable);
	uint8_t r[BUDDY_POST_SIG_BYTES];
	msgpack_sbuffer sb;

	if (!sp->in_durable || !x)
		return;
	buddy_post_sign_receipt(r, d->secrets->sign_sk, sp->pk, d->secrets->sign_pk, sp->in_durable,
				x);
	msgpack_sbuffer_init(&sb);
	if (buddy_msg_ack_encode(&sb, sp->in_durable, x, r) == 0)
		send_sb(d, sp, &sb);
	msgpack_sbuffer_destroy(&sb);
}

struct stored_wait {
	struct buddyd *d;
	uint8_t pk[32];
	uint64_t seq;
	size_t bytes; /* counted in the buddy's in_pending until the write is over */
};

static void on_stored(void *arg, int status)
{
	struct stored_wait *w = arg;
	struct buddyd *d = w->d;
	struct sync_peer *sp;

	/* written or failed, the record has left memory (a peer made again after a lock starts
	 * from 0: never below it) */
	if ((sp = peer_find(d, w->pk)))
		sp->in_pending -= w->bytes < sp->in_pending ? w->bytes : sp->in_pending;
	if (status == 0 && open_for_sync(d) && (sp = peer_find(d, w->pk))) {
		if (w->seq > sp->in_durable)
			sp->in_durable = w->seq;
		/* also on a session that replaced the one the batch came on: its author may be
		 * waiting for exactly this to reopen its window */
		if (sp->up)
			send_ack(d, sp);
	}
	free(w);
}

/* One post of a batch, as far as the checks need it. */
struct batch_post {
	const uint8_t *p;
	size_t len;
	uint64_t seq;
	int64_t time;
	uint8_t prev[BUDDY_POST_HASH_BYTES];
	uint8_t hash[BUDDY_POST_HASH_BYTES];
};

static bool read_batch(const msgpack_object *items, size_t n, struct batch_post *bp)
{
	for (size_t i = 0; i < n; i++) {
		struct buddy_post_head h;
		const msgpack_object *body;
		msgpack_unpacked u;
		int rc;

		bp[i].p = (const uint8_t *)items[i].via.bin.ptr;
		bp[i].len = items[i].via.bin.size;
		msgpack_unpacked_init(&u);
		rc = buddy_post_decode(bp[i].p, bp[i].len, &u, &h, &body);
		msgpack_unpacked_destroy(&u);
		if (rc)
			return false;
		bp[i].seq = h.seq;
		bp[i].time = h.time;
		memcpy(bp[i].prev, h.prev, sizeof(h.prev));
		buddy_post_hash(bp[i].p, bp[i].len, bp[i].hash);
	}
	return true;
}

static void keep_fork(struct buddyd *d, struct sync_peer *sp, const struct batch_post *bp, size_t n,
		      const uint8_t *sig, uint64_t seq)
{
	const uint8_t *ptrs[BUDDY_POSTS_BATCH_MAX];
	size_t lens[BUDDY_POSTS_BATCH_MAX];
	msgpack_sbuffer rec;

	for (size_t i = 0; i < n; i++) {
		ptrs[i] = bp[i].p;
		lens[i] = bp[i].len;
	}
	msgpack_sbuffer_init(&rec);
	if (buddy_streams_make_fork(&rec, buddy_clock_now(), sp->pk, seq, ptrs, lens, n, sig) == 0)
		append_rec(d, &rec);
	msgpack_sbuffer_destroy(&rec);
	alert(d, sp, AL_FORK, seq);
	drop(d, sp, "their stream forked");
}

/* The checks of PROTOCOL.md 15.5, in its order; the first failure refuses the whole batch. */
static void on_posts(struct buddyd *d, struct sync_peer *sp, const msgpack_object *body)
{
	static const uint8_t zero[BUDDY_POST_HASH_BYTES];
	struct buddy_streams *st = streams(d);
	uint8_t sig[BUDDY_POST_SIG_BYTES];
	const msgpack_object *items;
	struct batch_post *bp = NULL;
	const uint8_t *ptrs[BUDDY_POSTS_BATCH_MAX];
	size_t lens[BUDDY_POSTS_BATCH_MAX];
	uint64_t have, first;
	size_t n, k, bytes = 0;
	msgpack_sbuffer rec;
	struct stored_wait *w;

	if (buddy_streams_in_fork(st, sp->pk))
		return; /* frozen: kept as it was, nothing acknowledged */
	if (buddy_msg_posts_read(body, &items, &n, sig)) {
		alert(d, sp, AL_MALFORMED, 0);
		drop(d, sp, "malformed POSTS");
		return;
	}
	if (!(bp = malloc(n * sizeof(*bp)))) {
		drop(d, sp, "out of memory");
		return;
	}
	if (!read_batch(items, n, bp) || (bp[0].seq == 1 && memcmp(bp[0].prev, zero, 32))) {
		alert(d, sp, AL_MALFORMED, 0);
		drop(d, sp, "malformed post");
		goto out;
	}
	for (size_t i = 1; i < n; i++) {
		if (bp[i].seq != bp[i - 1].seq + 1) {
			alert(d, sp, AL_ORDER, bp[i].seq);
			drop(d, sp, "posts out of order");
			goto out;
		}
		if (memcmp(bp[i].prev, bp[i - 1].hash, 32)) {
			alert(d, sp, AL_CHAIN, bp[i].seq);
			drop(d, sp, "a post does not chain to the one before");
			goto out;
		}
	}
	if (buddy_post_verify_head(sig, sp->pk, d->secrets->sign_pk, bp[n - 1].seq,
				   bp[n - 1].hash)) {
		alert(d, sp, AL_SIGNATURE, bp[n - 1].seq);
		drop(d, sp, "bad signature on a batch");
		goto out;
	}
	have = buddy_streams_in_head(st, sp->pk);
	first = bp[0].seq;
	if (first > have + 1) {
		alert(d, sp, AL_GAP, have + 1);
		drop(d, sp, "a gap in their stream");
		goto out;
	}
	/* what we hold already must be byte-identical; the first new post must follow it */
	for (k = 0; k < n && bp[k].seq <= have; k++) {
		const uint8_t *mine = buddy_streams_in_hash(st, sp->pk, bp[k].seq);
		if (!mine || sodium_memcmp(mine, bp[k].hash, 32)) {
			keep_fork(d, sp, bp, n, sig, bp[k].seq);
			goto out;
		}
	}
	if (k < n && k == 0) {
		/* post have + 1 names a predecessor other than ours: the fork is at have + 1 */
		const uint8_t *last = have ? buddy_streams_in_hash(st, sp->pk, have) : zero;
		if (!last || memcmp(bp[0].prev, last, 32)) {
			keep_fork(d, sp, bp, n, sig, have + 1);
			goto out;
		}
	}
	if (k == n) {
		/* a replay of what we hold: acknowledged with what is on disk (the rest is
		 * acknowledged when its write completes) */
		send_ack(d, sp);
		goto out;
	}
	/* kept (it is authentic), but a buddy whose clock runs a day ahead makes periods and
	 * deadlines wrong on both sides: worth telling the user */
	if (bp[n - 1].time > buddy_clock_now() + CLOCK_SKEW_MAX_S)
		alert(d, sp, AL_CLOCK, bp[n - 1].seq);
	if (bp[n - 1].seq > BUDDY_STREAM_IN_MAX) {
		alert(d, sp, AL_QUOTA, bp[n - 1].seq);
		drop(d, sp, "their stream is over the size we keep");
		goto out;
	}
	for (size_t i = k; i < n; i++) {
		ptrs[i - k] = bp[i].p;
		lens[i - k] = bp[i].len;
		bytes += bp[i].len;
	}
	/* The window (15.5) binds the author: at most BUDDY_POSTS_WINDOW of posts sent on a session
	 * and not covered by an ACK. Nothing made the recipient hold it to that, and the appender
	 * keeps every record in memory until its write is over (a group commit): an author that
	 * ignored our ACKs and sent as fast as loopback allows made us stage its posts in memory
	 * faster than the disk took them (52 MB in one burst: 52 MB more resident), up to the
	 * whole quota (about 9.8 GB; it/peer_hostile_test.py section 3). What we hold of this
	 * buddy's stream that is not on disk yet is part of what it sent and we have not
	 * acknowledged (our ACKs say what is on disk; an author that resumes after a reconnect
	 * resends from our HEADS, so what an older session left in flight is counted on its side
	 * too), so an honest author never takes this over the window, and one that does is dropped
	 * before its batch is stored. */
	if (sp->in_pending + bytes > BUDDY_POSTS_WINDOW) {
		drop(d, sp, "more posts than the window before our acknowledgement");
		goto out;
	}
	if (!(w = malloc(sizeof(*w)))) {
		drop(d, sp, "out of memory");
		goto out;
	}
	*w = (struct stored_wait){.d = d, .seq = bp[n - 1].seq, .bytes = bytes};
	memcpy(w->pk, sp->pk, 32);
	/* counted before the append: a failure inside it may run on_stored at once */
	sp->in_pending += bytes;
	msgpack_sbuffer_init(&rec);
	if (buddy_streams_make_received(&rec, buddy_clock_now(), sp->pk, ptrs, lens, n - k, sig) ||
	    buddyd_append(d, (const uint8_t *)rec.data, rec.size, on_stored, w)) {
		sp->in_pending -= bytes;
		free(w);
		drop(d, sp, "cannot store their posts");
	}
	msgpack_sbuffer_destroy(&rec);
out:
	free(bp);
}

/* ---- sending: my stream to the buddy ---- */

static void pump(struct buddyd *d, struct sync_peer *sp)
{
	struct buddy_streams *st = streams(d);
	const uint8_t *ptrs[BUDDY_POSTS_BATCH_MAX];
	size_t lens[BUDDY_POSTS_BATCH_MAX];
	uint8_t sig[BUDDY_POST_SIG_BYTES];
	msgpack_sbuffer sb;

	if (!sp->up || !sp->got_heads || sp->blocked || !open_for_sync(d))
		return;
	msgpack_sbuffer_init(&sb);
	while (sp->up && sp->next_seq <= sp->out_ready && sp->inflight < BUDDY_POSTS_WINDOW) {
		const uint8_t *hash = NULL, *last_hash = NULL;
		size_t n = 0, bytes = 0, len;
		uint64_t s;

		for (s = sp->next_seq; s <= sp->out_ready && n < BUDDY_POSTS_BATCH_MAX; s++) {
			const uint8_t *p = buddy_streams_out_post(st, sp->pk, s, &len, &hash);
			if (!p)
				break;
			/* the window holds whole posts; a post always goes when nothing is in
			 * flight (one post is far smaller than the window) */
			if ((n &&
			     bytes + len + BUDDY_POSTS_OVERHEAD(n + 1) > POSTS_PLAINTEXT_MAX) ||
			    (sp->inflight + bytes + len > BUDDY_POSTS_WINDOW &&
			     (n || sp->inflight)))
				break;
			ptrs[n] = p;
			lens[n++] = len;
			bytes += len;
			last_hash = hash;
		}
		if (!n)
			break;
		buddy_post_sign_head(sig, d->secrets->sign_sk, d->secrets->sign_pk, sp->pk,
				     sp->next_seq + n - 1, last_hash);
		msgpack_sbuffer_clear(&sb);
		if (buddy_msg_posts_encode(&sb, ptrs, lens, n, sig)) {
			log_error("cannot encode a batch of posts");
			break;
		}
		send_sb(d, sp, &sb);
		sp->inflight += bytes;
		sp->next_seq += n;
	}
	msgpack_sbuffer_destroy(&sb);
}

/* My stream to the buddy waits since a restore (PROTOCOL.md 15.11): their HEADS settles it.
 * Past the restore point they hold posts my backup did not have: I adopt their head and
 * renumber what I posted since the restore to follow it (one type 36 record, applied at once,
 * sent once durable). At or before it, their x must be my post's, as always. Returns whether
 * the session may go on to send. */
static uint64_t last_entry_id(const struct buddyd *d)
{
	size_t n = buddy_journal_nentries(d->journal);

	return n ? buddy_journal_entry_at(d->journal, n - 1)->id : 0;
}

static bool settle_restored(struct buddyd *d, struct sync_peer *sp, uint64_t h, const uint8_t *x,
			    uint64_t e)
{
	struct buddy_streams *st = streams(d);
	uint64_t rh, head;
	msgpack_sbuffer rec;
	const uint8_t *mine;
	char id[9];
	int rc;

	buddy_streams_out_pending(st, sp->pk, &rh);
	mine = h ? buddy_streams_out_hash(st, sp->pk, h) : NULL;
	if (h <= rh && h && (!mine || memcmp(mine, x, 32)))
		return false; /* another history of mine, restore or not: the caller alerts */
	if (h > BUDDY_REBASE_SEQ_MAX)
		return false;
	msgpack_sbuffer_init(&rec);
	/* an entry id far above my newest is not one my lost machine made (it would have had to
	 * write a million entries after the backup): it moves nothing, so a lying buddy cannot
	 * push every later id of mine towards the limit */
	if (e > BUDDY_ENTRY_ID_MAX || e > last_entry_id(d) + BUDDY_REBASE_E_SLACK)
		e = 0;
	rc = buddy_streams_make_rebased(&rec, buddy_clock_now(), st, sp->pk, h, x, e);
	if (rc == 0)
		rc = append_rec(d, &rec);
	msgpack_sbuffer_destroy(&rec);
	short_id(sp->pk, id);
	if (rc) {
		/* stays waiting: nothing is sent that could fork their copy; the next session
		 * tries again */
		log_error("buddy %s: my stream could not be settled after the restore: %s", id,
			  buddy_strerror(rc));
		sp->blocked = true;
		return true;
	}
	head = buddy_streams_out_head(st, sp->pk);
	if (h > rh) {
		log_info("buddy %s: after the restore they held my posts %llu..%llu; mine since "
			 "the restore follow as %llu..%llu",
			 id, (unsigned long long)rh + 1, (unsigned long long)h,
			 (unsigned long long)h + 1, (unsigned long long)head);
		/* the renumbered posts are in the record just appended: sent once it is durable */
		sp->npend = 0;
		sp->out_ready = h;
		if (head > h)
			buddyd_sync_posted(d, sp->pk, h + 1, head);
		if (sp->delivered_rec < h)
			sp->delivered_rec = h;
	}
	return true;
}

static void on_heads(struct buddyd *d, struct sync_peer *sp, const msgpack_object *body)
{
	struct buddy_streams *st = streams(d);
	uint8_t x[BUDDY_POST_HASH_BYTES];
	const uint8_t *mine = NULL;
	uint64_t h, fork, head, e;

	if (buddy_msg_heads_read(body, &h, x, &fork, &e)) {
		drop(d, sp, "malformed HEADS");
		return;
	}
	if (sp->got_heads)
		return; /* only the first one of a session says where to start */
	sp->got_heads = true;
	if (fork) {
		sp->blocked = true;
		alert(d, sp, AL_REFUSED, fork);
		return;
	}
	if (buddy_streams_out_pending(st, sp->pk, NULL) && settle_restored(d, sp, h, x, e)) {
		if (sp->blocked)
			return;
	}
	head = buddy_streams_out_head(st, sp->pk);
	if (h)
		mine = buddy_streams_out_hash(st, sp->pk, h);
	if (h > head || (h && (!mine || memcmp(mine, x, 32)))) {
		/* they hold a history of mine that I do not: sending more would fork it */
		sp->blocked = true;
		alert(d, sp, AL_AHEAD, h);
		return;
	}
	sp->next_seq = h + 1;
	sp->acked = h;
	sp->inflight = 0;
	pump(d, sp);
}

static void on_ack(struct buddyd *d, struct sync_peer *sp, const msgpack_object *body)
{
	struct buddy_streams *st = streams(d);
	uint8_t x[BUDDY_POST_HASH_BYTES], r[BUDDY_POST_SIG_BYTES];
	const uint8_t *mine = NULL;
	msgpack_sbuffer rec;
	uint64_t h;

	if (buddy_msg_ack_read(body, &h, x, r)) {
		drop(d, sp, "malformed ACK");
		return;
	}
	if (sp->blocked)
		return; /* their HEADS already showed another history of mine: alerted once */
	if (h)
		mine = buddy_streams_out_hash(st, sp->pk, h);
	if (!h || h > sp->out_ready || !mine || memcmp(mine, x, 32) ||
	    buddy_post_verify_receipt(r, d->secrets->sign_pk, sp->pk, h, x)) {
		alert(d, sp, AL_ACK, h);
		drop(d, sp, "an acknowledgement that does not match my stream");
		return;
	}
	if (sp->got_heads && h > sp->acked) {
		/* the window opens by what was sent on this session and is now acknowledged */
		for (uint64_t s = sp->acked + 1; s <= h && s < sp->next_seq; s++) {
			size_t len = 0;
			buddy_streams_out_post(st, sp->pk, s, &len, NULL);
			sp->inflight -= len < sp->inflight ? len : sp->inflight;
		}
		sp->acked = h;
		if (sp->next_seq <= h)
			sp->next_seq = h + 1; /* acknowledged by another session: not resent */
	}
	if (h > sp->delivered_rec) {
		sp->delivered_rec = h;
		msgpack_sbuffer_init(&rec);
		if (buddy_streams_make_delivered(&rec, buddy_clock_now(), sp->pk, h, r) == 0)
			append_rec(d, &rec);
		msgpack_sbuffer_destroy(&rec);
	}
	pump(d, sp);
}

static void on_end(struct buddyd *d, struct sync_peer *sp)
{
	struct buddy_buddy *b = buddy_buddies_by_pk(buddy_journal_buddies(d->journal), sp->pk);
	msgpack_sbuffer rec;
	char id[9];

	if (!b || b->revoked)
		return;
	short_id(sp->pk, id);
	log_info("buddy %s ended the pairing", id);
	msgpack_sbuffer_init(&rec);
	if (buddy_buddies_make_ended(&rec, buddy_clock_now(), sp->pk) == 0)
		append_rec(d, &rec);
	msgpack_sbuffer_destroy(&rec);
	sp->up = false;
	buddy_peer_unwant(d->peer, sp->pk);
	buddyd_discovery_refresh(d); /* its LAN beacon key goes at once */
}

/* ---- the interface (daemon.h) ---- */

void buddyd_sync_up(struct buddyd *d, const uint8_t pk[32])
{
	struct sync_peer *sp;
	const uint8_t *x;
	msgpack_sbuffer sb;

	if (!open_for_sync(d) || !(sp = peer_get(d, pk)))
		return;
	if (sp->in_durable > buddy_streams_in_head(streams(d), pk) ||
	    sp->out_ready > buddy_streams_out_head(streams(d), pk)) {
		/* the key was paired again: its streams started over (streams.h) */
		sp->in_durable = buddy_streams_in_head(streams(d), pk);
		sp->out_ready = buddy_streams_out_head(streams(d), pk);
		sp->delivered_rec = buddy_streams_delivered(streams(d), pk, NULL);
		sp->npend = 0;
	}
	sp->up = true;
	sp->got_heads = sp->blocked = false;
	sp->next_seq = sp->acked = 0;
	sp->inflight = 0;
	x = buddy_streams_in_hash(streams(d), pk, sp->in_durable);
	msgpack_sbuffer_init(&sb);
	if (buddy_msg_heads_encode(&sb, sp->in_durable, x, buddy_streams_in_fork(streams(d), pk),
				   buddy_streams_in_max_entry(streams(d), pk)) == 0)
		send_sb(d, sp, &sb);
	msgpack_sbuffer_destroy(&sb);
	/* HEADS carries no receipt: an ACK right after it lets the buddy record what reached us
	 * even when the ACKs of an earlier session were lost */
	if (sp->up)
		send_ack(d, sp);
}

void buddyd_sync_down(struct buddyd *d, const uint8_t pk[32])
{
	struct sync_peer *sp = peer_find(d, pk);

	if (sp)
		sp->up = false;
}

void buddyd_sync_message(struct buddyd *d, const uint8_t pk[32], uint64_t type,
			 const msgpack_object *body)
{
	struct sync_peer *sp;

	if (!open_for_sync(d) || !(sp = peer_find(d, pk)) || !sp->up)
		return;
	switch (type) {
	case BUDDY_MSG_HEADS:
		on_heads(d, sp, body);
		break;
	case BUDDY_MSG_POSTS:
		on_posts(d, sp, body);
		break;
	case BUDDY_MSG_ACK:
		on_ack(d, sp, body);
		break;
	case BUDDY_MSG_END:
		on_end(d, sp);
		break;
	default:
		break;
	}
}

void buddyd_sync_posted(struct buddyd *d, const uint8_t pk[32], uint64_t first, uint64_t last)
{
	struct sync_peer *sp = peer_find(d, pk);

	if (!sp) {
		/* posts first..last are in memory, not yet on disk */
		if (!(sp = peer_get(d, pk)))
			return;
		sp->out_ready = first - 1;
	}
	if (sp->npend == sp->cappend) {
		size_t cap = sp->cappend ? sp->cappend * 2 : 8;
		struct pending *np = realloc(sp->pend, cap * sizeof(*np));
		if (!np) {
			/* cannot track it: the posts go out with the next session's HEADS */
			return;
		}
		sp->pend = np;
		sp->cappend = cap;
	}
	sp->pend[sp->npend++] = (struct pending){d->rec_appended, last};
}

void buddyd_sync_durable(struct buddyd *d)
{
	/* the pending lists shrink even while the transport is down, so they stay bounded */
	if (d->state != BUDDYD_UNLOCKED)
		return;
	for (struct sync_peer *sp = d->sync; sp; sp = sp->next) {
		size_t k = 0;
		while (k < sp->npend && sp->pend[k].recno <= d->rec_durable) {
			if (sp->pend[k].seq > sp->out_ready)
				sp->out_ready = sp->pend[k].seq;
			k++;
		}
		if (!k)
			continue;
		memmove(sp->pend, sp->pend + k, (sp->npend - k) * sizeof(*sp->pend));
		sp->npend -= k;
		pump(d, sp);
	}
}

void buddyd_sync_end(struct buddyd *d, const uint8_t pk[32])
{
	struct sync_peer *sp = peer_find(d, pk);
	msgpack_sbuffer sb;

	if (sp)
		sp->up = false;
	msgpack_sbuffer_init(&sb);
	if (d->peer && buddy_msg_end_encode(&sb) == 0)
		buddy_peer_end(d->peer, pk, (const uint8_t *)sb.data, sb.size);
	else
		buddy_peer_unwant(d->peer, pk);
	msgpack_sbuffer_destroy(&sb);
}

void buddyd_sync_stop(struct buddyd *d)
{
	while (d->sync) {
		struct sync_peer *sp = d->sync;
		d->sync = sp->next;
		free(sp->pend);
		free(sp);
	}
	if (d->sync_ix)
		pkix_free(d->sync_ix);
	free(d->sync_ix);
	d->sync_ix = NULL;
}
