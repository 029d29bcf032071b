/* Share streams, rebuilt from journal records (see buddy/streams.h; proto/STORE.md "Stream
 * records", proto/PROTOCOL.md section 15).
 *
 * Every apply validates the whole record first (each post decoded, seq and prev checked,
 * buddies resolved) and only then changes the state, so a refused record changes nothing that
 * a reader can see. Memory is reserved before the commit too: BUDDY_E_NOMEM also leaves the
 * state as it was (at most an empty per-buddy stream is added, which reads as "no stream").
 *
 * Per-buddy state sits in a small linear array (buddies are few); per-post state in arrays
 * indexed seq - 1, grown geometrically, so a post is found in O(1) however long the stream. */
#include "buddy/streams.h"
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/text.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define POSTING_MAX    64 /* posts in one type 30 record (proto/STORE.md) */
#define ARRAY_CAP_MIN  16 /* first allocation of a grown array */
#define ALERT_KIND_MAX 15 /* struct buddy_alert's kind holds this and a NUL */

/* Room for the encoder to write a whole post without growing its buffer: a realloc would
 * leave a copy of what someone wrote in freed memory that we cannot wipe. */
#define POST_BUF_SIZE (BUDDY_POST_MAX + 1024)

struct out_post {
	uint8_t *bytes; /* malloc'd copy, wiped when freed */
	size_t len;
	uint8_t hash[BUDDY_POST_HASH_BYTES];
};

struct stream {
	uint8_t pk[32];
	/* my stream to pk: out[seq - base - 1]. Posts 1..base are not held: a rebase (type 36)
	 * adopted them from the buddy's HEADS after a restore; base_hash is H(post base). */
	struct out_post *out;
	size_t nout, capout;
	uint64_t base;
	uint8_t base_hash[BUDDY_POST_HASH_BYTES];
	/* a restore (type 43) happened while my stream was at restored_head: until a type 36
	 * settles it, the buddy may hold posts of mine past that point (PROTOCOL.md 15.11) */
	bool pending;
	uint64_t restored_head;
	uint64_t delivered; /* acknowledged up to here (type 33) */
	int64_t delivered_at;
	uint8_t receipt[BUDDY_POST_SIG_BYTES];
	/* my copy of pk's stream to me: in[seq - 1] = H(post seq) */
	uint8_t (*in)[BUDDY_POST_HASH_BYTES];
	size_t nin, capin;
	uint64_t fork; /* seq of recorded fork evidence, 0: none */
	int64_t fork_at;
	uint64_t in_max_e; /* the highest entry id in pk's check-ins and notes to me */
};

struct share {
	char commit[BUDDY_ID_MAX + 1];
	uint8_t pk[32];
};

struct buddy_streams {
	buddy_streams_post_cb cb;
	void *arg;
	struct stream **v; /* pointers, so a stream does not move when another is added */
	size_t n, cap;
	struct share *shares;
	size_t nshares, capshares;
	/* a ring of at most BUDDY_ALERTS_MAX: alerts[(alert0 + i) % BUDDY_ALERTS_MAX] is the
	 * i-th oldest kept; alert0 moves only once the ring is full */
	struct buddy_alert *alerts;
	size_t nalerts, capalerts, alert0;
};

_Static_assert(sizeof(((struct buddy_alert *)0)->kind) == ALERT_KIND_MAX + 1,
	       "an alert kind must fit struct buddy_alert");

static const uint8_t zero_hash[BUDDY_POST_HASH_BYTES];

/* ---- memory ---- */

/* Makes room for need elements of elem bytes, doubling; every product is checked, so a huge
 * count fails as BUDDY_E_NOMEM instead of wrapping around. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : ARRAY_CAP_MIN;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return BUDDY_E_NOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return BUDDY_E_NOMEM;
	np = realloc(*p, ncap * elem);
	if (!np)
		return BUDDY_E_NOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Post bytes hold what people wrote: wiped before they go back to the allocator. */
static void wipe_free(uint8_t *p, size_t len)
{
	if (p) {
		sodium_memzero(p, len);
		free(p);
	}
}

struct buddy_streams *buddy_streams_new(buddy_streams_post_cb cb, void *arg)
{
	struct buddy_streams *s = calloc(1, sizeof(*s));

	if (s) {
		s->cb = cb;
		s->arg = arg;
	}
	return s;
}

static void stream_free(struct stream *st)
{
	for (size_t i = 0; i < st->nout; i++)
		wipe_free(st->out[i].bytes, st->out[i].len);
	free(st->out);
	free(st->in);
	free(st);
}

void buddy_streams_free(struct buddy_streams *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		stream_free(s->v[i]);
	free(s->v);
	free(s->shares);
	free(s->alerts);
	free(s);
}

/* Public keys: a plain compare is fine, nothing secret to time. */
static struct stream *find(const struct buddy_streams *s, const uint8_t pk[32])
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->v[i]->pk, pk, 32) == 0)
			return s->v[i];
	return NULL;
}

void buddy_streams_forget(struct buddy_streams *s, const uint8_t pk[32], bool streams_too)
{
	size_t k = 0;

	for (size_t i = 0; i < s->nshares; i++)
		if (memcmp(s->shares[i].pk, pk, 32))
			s->shares[k++] = s->shares[i];
	s->nshares = k;
	if (!streams_too)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (memcmp(s->v[i]->pk, pk, 32))
			continue;
		stream_free(s->v[i]);
		s->v[i] = s->v[--s->n];
		return;
	}
}

static int find_or_add(struct buddy_streams *s, const uint8_t pk[32], struct stream **out)
{
	struct stream *st = find(s, pk);

	if (!st) {
		/* v holds pointers: sizeof(*s->v) is one pointer, as meant.
		 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
		if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)) ||
		    !(st = calloc(1, sizeof(*st))))
			return BUDDY_E_NOMEM;
		memcpy(st->pk, pk, 32);
		s->v[s->n++] = st;
	}
	*out = st;
	return 0;
}

/* ---- reading record fields ---- */

/* A buddy key under k: known to bs (revoked ones too, unless active is asked for). */
static int get_buddy(const msgpack_object *body, const char *k, struct buddy_buddies *bs,
		     bool active, uint8_t pk[32])
{
	const struct buddy_buddy *b;
	const uint8_t *p;
	size_t len;

	if (buddy_mp_bin(buddy_mp_get(body, k), 32, &p, &len) || len != 32)
		return BUDDY_E_CORRUPT;
	b = buddy_buddies_by_pk(bs, p);
	if (!b || (active && b->revoked))
		return BUDDY_E_CORRUPT;
	memcpy(pk, p, 32);
	return 0;
}

static int get_sig(const msgpack_object *body, const char *k, uint8_t sig[BUDDY_POST_SIG_BYTES])
{
	const uint8_t *p;
	size_t len;

	if (buddy_mp_bin(buddy_mp_get(body, k), BUDDY_POST_SIG_BYTES, &p, &len) ||
	    len != BUDDY_POST_SIG_BYTES)
		return BUDDY_E_CORRUPT;
	memcpy(sig, p, BUDDY_POST_SIG_BYTES);
	return 0;
}

static bool post_obj_ok(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size > 0 &&
	       o->via.bin.size <= BUDDY_POST_MAX;
}

/* p: 1..BUDDY_POSTS_BATCH_MAX bins of post size. */
static int get_posts(const msgpack_object *body, const msgpack_object **posts, size_t *n)
{
	const msgpack_object *p = buddy_mp_get(body, "p");

	if (!p || p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size == 0 ||
	    p->via.array.size > BUDDY_POSTS_BATCH_MAX)
		return BUDDY_E_CORRUPT;
	for (uint32_t i = 0; i < p->via.array.size; i++)
		if (!post_obj_ok(&p->via.array.ptr[i]))
			return BUDDY_E_CORRUPT;
	*posts = p->via.array.ptr;
	*n = p->via.array.size;
	return 0;
}

/* The envelope of one post: only seq and prev matter to the chain; what the body says is
 * seen.c's business (an unreadable body stays in the chain, PROTOCOL.md 15.3). */
static int post_head_e(const uint8_t *p, size_t len, struct buddy_post_head *h, uint64_t *e)
{
	msgpack_unpacked u;
	const msgpack_object *body;
	uint64_t v;
	int rc;

	msgpack_unpacked_init(&u);
	rc = buddy_post_decode(p, len, &u, h, &body);
	/* the entry id of a check-in or note, read loosely: a body that does not read is
	 * seen.c's business, and e here only keeps a restored author's new ids apart (15.11) */
	if (rc == 0 && e && (h->type == BUDDY_POST_CHECKIN || h->type == BUDDY_POST_NOTE) &&
	    buddy_mp_uint(buddy_mp_get(body, "e"), &v) == 0 && v > *e)
		*e = v;
	msgpack_unpacked_destroy(&u);
	return rc ? BUDDY_E_CORRUPT : 0;
}

static int post_head(const uint8_t *p, size_t len, struct buddy_post_head *h)
{
	return post_head_e(p, len, h, NULL);
}

static const uint8_t *bin_ptr(const msgpack_object *o)
{
	return (const uint8_t *)o->via.bin.ptr;
}

/* Checks that posts[0..n) are well formed and follow each other: seq first, first + 1, ...
 * (first 0: whatever the first post says) and each prev the hash of the post before (prev
 * for the first one; NULL: any). The hash of post i goes to hashes[i] when hashes is given;
 * *seq0 gets the first seq. */
static int check_chain_e(const msgpack_object *posts, size_t n, uint64_t first, const uint8_t *prev,
			 uint8_t (*hashes)[BUDDY_POST_HASH_BYTES], uint64_t *seq0, uint64_t *max_e)
{
	uint8_t last[BUDDY_POST_HASH_BYTES];
	struct buddy_post_head h;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = bin_ptr(&posts[i]);
		size_t len = posts[i].via.bin.size;

		if (post_head_e(p, len, &h, max_e))
			return BUDDY_E_CORRUPT;
		if (i == 0 && first == 0)
			first = h.seq;
		/* first + i cannot reach 0 again before i does: a wrap shows as a mismatch,
		 * since a decoded seq is never 0 */
		if (h.seq != first + i)
			return BUDDY_E_CORRUPT;
		if ((i > 0 || prev) && memcmp(h.prev, i > 0 ? last : prev, sizeof(last)) != 0)
			return BUDDY_E_CORRUPT;
		buddy_post_hash(p, len, last);
		if (hashes)
			memcpy(hashes[i], last, sizeof(last));
	}
	*seq0 = first;
	return 0;
}

static int check_chain(const msgpack_object *posts, size_t n, uint64_t first, const uint8_t *prev,
		       uint8_t (*hashes)[BUDDY_POST_HASH_BYTES], uint64_t *seq0)
{
	return check_chain_e(posts, n, first, prev, hashes, seq0, NULL);
}

static const uint8_t *in_last(const struct stream *st)
{
	return st && st->nin ? st->in[st->nin - 1] : zero_hash;
}

static const uint8_t *out_last(const struct stream *st)
{
	if (!st)
		return zero_hash;
	return st->nout ? st->out[st->nout - 1].hash : st->base ? st->base_hash : zero_hash;
}

/* The seq of my newest post to st's buddy (0: none). */
static uint64_t out_head(const struct stream *st)
{
	return st ? st->base + st->nout : 0;
}

/* ---- apply: 31 received ---- */

static int apply_received(struct buddy_streams *s, struct buddy_buddies *bs, int64_t written,
			  const msgpack_object *body)
{
	uint8_t pk[32], sig[BUDDY_POST_SIG_BYTES];
	const msgpack_object *posts;
	struct stream *st;
	uint64_t first, max_e;
	size_t n;
	int rc;

	if (get_buddy(body, "a", bs, false, pk) || get_sig(body, "s", sig) ||
	    get_posts(body, &posts, &n))
		return BUDDY_E_CORRUPT;
	st = find(s, pk);
	/* after fork evidence the stream takes no more posts (PROTOCOL.md 15.7) */
	if (st && st->fork)
		return BUDDY_E_CORRUPT;
	if ((rc = find_or_add(s, pk, &st)))
		return rc;
	if (n > SIZE_MAX - st->nin ||
	    grow((void **)&st->in, &st->capin, st->nin + n, sizeof(*st->in)))
		return BUDDY_E_NOMEM;
	/* the hashes land in the reserved slots past the head: nothing is visible until the
	 * head moves, so a refused batch leaves the stream as it was */
	max_e = st->in_max_e;
	rc = check_chain_e(posts, n, (uint64_t)st->nin + 1, in_last(st), st->in + st->nin, &first,
			   &max_e);
	if (rc)
		return rc;
	st->nin += n;
	st->in_max_e = max_e;
	if (s->cb)
		for (size_t i = 0; i < n; i++)
			s->cb(s->arg, false, pk, first + i, written, bin_ptr(&posts[i]),
			      posts[i].via.bin.size);
	return 0;
}

/* ---- apply: 32 shared ---- */

static size_t share_find(const struct buddy_streams *s, const char *commit, const uint8_t pk[32])
{
	size_t i;

	for (i = 0; i < s->nshares; i++)
		if (strcmp(s->shares[i].commit, commit) == 0 &&
		    memcmp(s->shares[i].pk, pk, 32) == 0)
			break;
	return i;
}

/* "Sets whether c is shared with b": setting what is already so is not a contradiction. */
static int apply_shared(struct buddy_streams *s, struct buddy_buddies *bs,
			const msgpack_object *body)
{
	struct share sh = {0};
	bool on;
	size_t i;

	if (buddy_mp_strcpy(buddy_mp_get(body, "c"), BUDDY_ID_MAX, sh.commit) ||
	    !buddy_text_slug_valid(sh.commit, strlen(sh.commit)) ||
	    get_buddy(body, "b", bs, false, sh.pk) || buddy_mp_bool(buddy_mp_get(body, "on"), &on))
		return BUDDY_E_CORRUPT;
	i = share_find(s, sh.commit, sh.pk);
	if (!on) {
		if (i < s->nshares) {
			/* keep the order shares were made in: shared_with lists them so */
			memmove(&s->shares[i], &s->shares[i + 1],
				(s->nshares - i - 1) * sizeof(*s->shares));
			s->nshares--;
		}
		return 0;
	}
	if (i < s->nshares)
		return 0;
	if (s->nshares >= BUDDY_SHARES_MAX)
		return BUDDY_E_CORRUPT;
	if (grow((void **)&s->shares, &s->capshares, s->nshares + 1, sizeof(*s->shares)))
		return BUDDY_E_NOMEM;
	s->shares[s->nshares++] = sh;
	return 0;
}

/* ---- apply: 33 delivered ---- */

static int apply_delivered(struct buddy_streams *s, struct buddy_buddies *bs, int64_t written,
			   const msgpack_object *body)
{
	uint8_t pk[32], r[BUDDY_POST_SIG_BYTES];
	struct stream *st;
	uint64_t h;

	if (get_buddy(body, "b", bs, false, pk) || buddy_mp_uint(buddy_mp_get(body, "h"), &h) ||
	    get_sig(body, "r", r))
		return BUDDY_E_CORRUPT;
	st = find(s, pk);
	if (!st || h <= st->delivered || h > out_head(st))
		return BUDDY_E_CORRUPT;
	st->delivered = h;
	st->delivered_at = written;
	memcpy(st->receipt, r, sizeof(r));
	return 0;
}

/* ---- apply: 34 fork ---- */

/* Whether the evidence's post h (at posts[h - first]) conflicts with my copy: a different post
 * where I hold one, or, just past my head, a prev that is not my last post's hash
 * (PROTOCOL.md 15.5 step 5). */
static bool conflicts(const struct stream *st, const msgpack_object *post, uint64_t h)
{
	uint64_t head = st ? st->nin : 0;
	uint8_t x[BUDDY_POST_HASH_BYTES];
	struct buddy_post_head ph;

	if (h <= head) {
		buddy_post_hash(bin_ptr(post), post->via.bin.size, x);
		return memcmp(x, st->in[h - 1], sizeof(x)) != 0;
	}
	if (post_head(bin_ptr(post), post->via.bin.size, &ph))
		return false;
	return memcmp(ph.prev, in_last(st), sizeof(ph.prev)) != 0;
}

/* The evidence is kept in the log, not in memory: only its seq is read back. It must be what
 * sync.c could have recorded: a batch that passed the malformed, order and chain checks, holds
 * post h, and conflicts with my copy there; and only one per stream, since a frozen stream's
 * POSTS are ignored from then on. */
static int apply_fork(struct buddy_streams *s, struct buddy_buddies *bs, int64_t written,
		      const msgpack_object *body)
{
	uint8_t pk[32], sig[BUDDY_POST_SIG_BYTES];
	const msgpack_object *posts;
	struct stream *st;
	uint64_t h, first, head;
	size_t n;
	int rc;

	if (get_buddy(body, "a", bs, false, pk) || buddy_mp_uint(buddy_mp_get(body, "h"), &h) ||
	    get_sig(body, "s", sig) || get_posts(body, &posts, &n))
		return BUDDY_E_CORRUPT;
	st = find(s, pk);
	head = st ? st->nin : 0;
	if ((st && st->fork) || h == 0 || h > head + 1 ||
	    check_chain(posts, n, 0, NULL, NULL, &first) || h < first || h - first >= n ||
	    !conflicts(st, &posts[h - first], h))
		return BUDDY_E_CORRUPT;
	if ((rc = find_or_add(s, pk, &st)))
		return rc;
	st->fork = h;
	st->fork_at = written;
	return 0;
}

/* ---- apply: 35 alert ---- */

/* Any 1..15 bytes of printable ASCII, not only the kinds STORE.md lists today: an alert only
 * reports, so a kind added by a newer version must not make an older journal unreadable. */
static bool alert_kind_valid(const char *k, size_t len)
{
	if (len == 0 || len > ALERT_KIND_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (k[i] < 0x20 || k[i] > 0x7e)
			return false;
	return true;
}

static int apply_alert(struct buddy_streams *s, struct buddy_buddies *bs, int64_t written,
		       const msgpack_object *body)
{
	struct buddy_alert a = {0};
	const char *k;
	size_t klen;

	if (get_buddy(body, "b", bs, false, a.pk) ||
	    buddy_mp_str(buddy_mp_get(body, "k"), ALERT_KIND_MAX, &k, &klen) ||
	    !alert_kind_valid(k, klen) || buddy_mp_uint(buddy_mp_get(body, "h"), &a.seq))
		return BUDDY_E_CORRUPT;
	memcpy(a.kind, k, klen);
	a.time = written;
	if (s->nalerts < BUDDY_ALERTS_MAX) {
		if (grow((void **)&s->alerts, &s->capalerts, s->nalerts + 1, sizeof(*s->alerts)))
			return BUDDY_E_NOMEM;
		s->alerts[s->nalerts++] = a;
		return 0;
	}
	/* full: the newest replaces the oldest */
	s->alerts[s->alert0] = a;
	s->alert0 = (s->alert0 + 1) % BUDDY_ALERTS_MAX;
	return 0;
}

/* ---- apply: 43 restored, 36 rebased (PROTOCOL.md 15.11) ---- */

/* Every active buddy's stream waits for that buddy's word: the backup may be older than posts
 * the buddy already holds. Streams are made first, flags set after, so running out of memory
 * leaves at most empty streams (which read as "no stream"). */
static int apply_restored(struct buddy_streams *s, struct buddy_buddies *bs,
			  const msgpack_object *body)
{
	size_t nb = buddy_buddies_count(bs);
	struct stream *st;
	int64_t made;
	int rc;

	if (buddy_mp_int(buddy_mp_get(body, "m"), &made))
		return BUDDY_E_CORRUPT;
	for (size_t i = 0; i < nb; i++) {
		const struct buddy_buddy *b = buddy_buddies_at(bs, i);

		if (!b->revoked && (rc = find_or_add(s, b->pk, &st)))
			return rc;
	}
	for (size_t i = 0; i < nb; i++) {
		const struct buddy_buddy *b = buddy_buddies_at(bs, i);

		/* a stream still waiting since an earlier restore keeps that restore point:
		 * nothing after it was ever sent, so the buddy may hold its own posts there */
		if (!b->revoked && (st = find(s, b->pk)) && !st->pending) {
			st->pending = true;
			st->restored_head = out_head(st);
		}
	}
	return 0;
}

static int encode_post(const struct buddy_post_head *h, const uint8_t *body, size_t body_len,
		       uint8_t **bytes, size_t *len);

/* Post st->out[i] re-encoded as post seq with prev: the same time, type and body, padded again
 * (PROTOCOL.md 15.11). Deterministic, so a replay derives the same bytes as the live rebase. */
static int renumber_post(const struct out_post *op, uint64_t seq, const uint8_t prev[32],
			 struct out_post *np)
{
	struct buddy_post_head ph;
	const msgpack_object *body;
	msgpack_unpacked u;
	msgpack_sbuffer bb;
	msgpack_packer bp;
	int rc;

	msgpack_unpacked_init(&u);
	msgpack_sbuffer_init(&bb);
	rc = buddy_post_decode(op->bytes, op->len, &u, &ph, &body) ? BUDDY_E_CORRUPT : 0;
	/* room for any body up front: a realloc would leave a copy we cannot wipe */
	if (rc == 0 && !(bb.data = malloc(POST_BUF_SIZE)))
		rc = BUDDY_E_NOMEM;
	if (rc == 0) {
		bb.alloc = POST_BUF_SIZE;
		msgpack_packer_init(&bp, &bb, msgpack_sbuffer_write);
		if (msgpack_pack_object(&bp, *body))
			rc = BUDDY_E_NOMEM;
	}
	if (rc == 0) {
		ph.seq = seq;
		memcpy(ph.prev, prev, sizeof(ph.prev));
		rc = encode_post(&ph, (const uint8_t *)bb.data, bb.size, &np->bytes, &np->len);
	}
	if (rc == 0)
		buddy_post_hash(np->bytes, np->len, np->hash);
	if (bb.data)
		sodium_memzero(bb.data, bb.alloc);
	msgpack_sbuffer_destroy(&bb);
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Type 36 {b, h, x, e}: b an active buddy whose stream waits; h at most BUDDY_REBASE_SEQ_MAX;
 * h at or below the restore point: at most my head (the stream stands); above it: my posts
 * since the restore are renumbered to follow (h, x), derived here rather than stored, so no
 * count or size of them can keep a stream from settling. e is the journal's. */
static int apply_rebased(struct buddy_streams *s, struct buddy_buddies *bs, int64_t written,
			 const msgpack_object *body)
{
	uint8_t pk[32], prev[BUDDY_POST_HASH_BYTES];
	struct out_post *np = NULL;
	const uint8_t *x;
	struct stream *st;
	uint64_t h, e;
	size_t len, n;
	int rc = 0;

	if (get_buddy(body, "b", bs, true, pk) || buddy_mp_uint(buddy_mp_get(body, "h"), &h) ||
	    buddy_mp_bin(buddy_mp_get(body, "x"), BUDDY_POST_HASH_BYTES, &x, &len) ||
	    len != BUDDY_POST_HASH_BYTES || buddy_mp_uint(buddy_mp_get(body, "e"), &e))
		return BUDDY_E_CORRUPT;
	st = find(s, pk);
	if (!st || !st->pending || h > BUDDY_REBASE_SEQ_MAX)
		return BUDDY_E_CORRUPT;
	if (h <= st->restored_head) {
		/* the buddy holds nothing past the restore: my stream stands as it is */
		if (h > out_head(st))
			return BUDDY_E_CORRUPT;
		st->pending = false;
		return 0;
	}
	/* the posts made since the restore are the last n I hold */
	n = (size_t)(out_head(st) - st->restored_head);
	if (n && !(np = calloc(n, sizeof(*np))))
		return BUDDY_E_NOMEM;
	memcpy(prev, x, sizeof(prev));
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = renumber_post(&st->out[st->nout - n + i], h + 1 + i, prev, &np[i]);
		if (rc == 0)
			memcpy(prev, np[i].hash, sizeof(prev));
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			wipe_free(np[i].bytes, np[i].len);
		free(np);
		return rc;
	}
	/* posts 1..h are the buddy's to hold now: what I had of them is dropped */
	for (size_t i = 0; i < st->nout; i++)
		wipe_free(st->out[i].bytes, st->out[i].len);
	free(st->out);
	st->out = np;
	st->nout = st->capout = n;
	st->base = h;
	memcpy(st->base_hash, x, BUDDY_POST_HASH_BYTES);
	st->delivered = h;
	st->delivered_at = written;
	memset(st->receipt, 0, sizeof(st->receipt));
	st->pending = false;
	/* the views learn the new seq of each renumbered check-in and note (the entry's share
	 * moves to it, and "delivered" is judged by it). Only those: the views already hold the
	 * other posts, and a reaction reported again would be counted twice. */
	if (s->cb)
		for (size_t i = 0; i < n; i++) {
			struct buddy_post_head ph;

			if (post_head(np[i].bytes, np[i].len, &ph) == 0 &&
			    (ph.type == BUDDY_POST_CHECKIN || ph.type == BUDDY_POST_NOTE))
				s->cb(s->arg, true, st->pk, h + 1 + i, written, np[i].bytes,
				      np[i].len);
		}
	return 0;
}

int buddy_streams_apply(struct buddy_streams *s, struct buddy_buddies *bs, uint64_t type,
			int64_t written, const msgpack_object *body)
{
	if (!body || body->type != MSGPACK_OBJECT_MAP)
		return BUDDY_E_CORRUPT;
	switch (type) {
	case BUDDY_REC_RECEIVED:
		return apply_received(s, bs, written, body);
	case BUDDY_REC_SHARED:
		return apply_shared(s, bs, body);
	case BUDDY_REC_DELIVERED:
		return apply_delivered(s, bs, written, body);
	case BUDDY_REC_FORK:
		return apply_fork(s, bs, written, body);
	case BUDDY_REC_ALERT:
		return apply_alert(s, bs, written, body);
	case BUDDY_REC_REBASED:
		return apply_rebased(s, bs, written, body);
	case BUDDY_REC_RESTORED:
		return apply_restored(s, bs, body);
	default:
		return BUDDY_E_VERSION;
	}
}

/* ---- 30 posted ---- */

/* A type 30 o array, read and checked against the state without changing it. */
struct posted {
	size_t n;
	const uint8_t *pk[POSTING_MAX];
	const msgpack_object *post[POSTING_MAX];
	uint64_t seq[POSTING_MAX];
	uint8_t hash[POSTING_MAX][BUDDY_POST_HASH_BYTES];
};

/* The post in pd before index i that went to the same buddy as i, or -1. */
static long posted_prev(const struct posted *pd, size_t i)
{
	for (size_t j = i; j-- > 0;)
		if (memcmp(pd->pk[j], pd->pk[i], 32) == 0)
			return (long)j;
	return -1;
}

/* bs NULL skips the buddy check (add_posted runs after check_posted passed). */
static int read_posted(const struct buddy_streams *s, struct buddy_buddies *bs,
		       const msgpack_object *o, struct posted *pd)
{
	if (!o || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
	    o->via.array.size > POSTING_MAX)
		return BUDDY_E_CORRUPT;
	pd->n = o->via.array.size;
	for (size_t i = 0; i < pd->n; i++) {
		const msgpack_object *e = &o->via.array.ptr[i], *k;
		const struct buddy_buddy *b;
		const struct stream *st;
		const uint8_t *prev;
		uint64_t first;
		long j;

		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2)
			return BUDDY_E_CORRUPT;
		k = &e->via.array.ptr[0];
		pd->post[i] = &e->via.array.ptr[1];
		if (k->type != MSGPACK_OBJECT_BIN || k->via.bin.size != 32 ||
		    !post_obj_ok(pd->post[i]))
			return BUDDY_E_CORRUPT;
		pd->pk[i] = bin_ptr(k);
		/* I never post to a revoked buddy */
		if (bs && (!(b = buddy_buddies_by_pk(bs, pd->pk[i])) || b->revoked))
			return BUDDY_E_CORRUPT;
		if ((j = posted_prev(pd, i)) >= 0) {
			first = pd->seq[j] + 1;
			prev = pd->hash[j];
		} else {
			st = find(s, pd->pk[i]);
			first = out_head(st) + 1;
			prev = out_last(st);
		}
		if (check_chain(pd->post[i], 1, first, prev, &pd->hash[i], &pd->seq[i]))
			return BUDDY_E_CORRUPT;
	}
	return 0;
}

int buddy_streams_check_posted(const struct buddy_streams *s, struct buddy_buddies *bs,
			       const msgpack_object *o)
{
	struct posted pd;

	return read_posted(s, bs, o, &pd);
}

/* Checks again (cheap next to the disk write, and it keeps this safe on its own), reserves
 * every stream and slot, copies the posts, then commits and reports them in order. */
int buddy_streams_add_posted(struct buddy_streams *s, const msgpack_object *o, int64_t written)
{
	uint8_t *copy[POSTING_MAX] = {0};
	struct posted pd;
	struct stream *st;
	int rc;

	if ((rc = read_posted(s, NULL, o, &pd)))
		return rc;
	for (size_t i = 0; i < pd.n; i++) {
		size_t len = pd.post[i]->via.bin.size;

		if ((rc = find_or_add(s, pd.pk[i], &st)))
			goto fail;
		rc = BUDDY_E_NOMEM;
		if (pd.seq[i] - st->base > SIZE_MAX ||
		    grow((void **)&st->out, &st->capout, (size_t)(pd.seq[i] - st->base),
			 sizeof(*st->out)) ||
		    !(copy[i] = malloc(len)))
			goto fail;
		memcpy(copy[i], bin_ptr(pd.post[i]), len);
	}
	for (size_t i = 0; i < pd.n; i++) {
		struct out_post *op;

		st = find(s, pd.pk[i]);
		op = &st->out[st->nout++];
		op->bytes = copy[i];
		op->len = pd.post[i]->via.bin.size;
		memcpy(op->hash, pd.hash[i], sizeof(op->hash));
	}
	if (s->cb)
		for (size_t i = 0; i < pd.n; i++) {
			const struct out_post *op;

			st = find(s, pd.pk[i]);
			op = &st->out[pd.seq[i] - st->base - 1];
			s->cb(s->arg, true, st->pk, pd.seq[i], written, op->bytes, op->len);
		}
	return 0;
fail:
	for (size_t i = 0; i < pd.n; i++)
		wipe_free(copy[i], copy[i] ? pd.post[i]->via.bin.size : 0);
	return rc;
}

/* ---- posting ---- */

struct posting_post {
	uint8_t pk[32];
	uint8_t *bytes; /* wiped when freed */
	size_t len;
	uint64_t seq;
	uint8_t hash[BUDDY_POST_HASH_BYTES];
};

struct buddy_posting {
	size_t n;
	size_t bytes; /* sum of the posts' lengths */
	struct posting_post p[POSTING_MAX];
};

struct buddy_posting *buddy_posting_new(void)
{
	return calloc(1, sizeof(struct buddy_posting));
}

void buddy_posting_free(struct buddy_posting *pg)
{
	if (!pg)
		return;
	for (size_t i = 0; i < pg->n; i++)
		wipe_free(pg->p[i].bytes, pg->p[i].len);
	free(pg);
}

size_t buddy_posting_count(const struct buddy_posting *pg)
{
	return pg ? pg->n : 0;
}

/* Encodes into a buffer big enough for any post, then keeps an exact copy; both wiped. */
static int encode_post(const struct buddy_post_head *h, const uint8_t *body, size_t body_len,
		       uint8_t **bytes, size_t *len)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	if (!(sb.data = malloc(POST_BUF_SIZE)))
		return BUDDY_E_NOMEM;
	sb.alloc = POST_BUF_SIZE;
	rc = buddy_post_encode(h, body, body_len, &sb);
	if (rc == 0 && (sb.size == 0 || sb.size > BUDDY_POST_MAX))
		rc = BUDDY_E_INTERNAL; /* encode promised otherwise */
	if (rc == 0 && !(*bytes = malloc(sb.size)))
		rc = BUDDY_E_NOMEM;
	if (rc == 0) {
		memcpy(*bytes, sb.data, sb.size);
		*len = sb.size;
	}
	sodium_memzero(sb.data, sb.alloc);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* BUDDY_E_TOOBIG past POSTING_MAX posts or BUDDY_STORE_RECORD_MAX bytes of posts (a type 30
 * record must fit in one journal record); encode's errors otherwise. */
int buddy_posting_add(struct buddy_posting *pg, const struct buddy_streams *s, const uint8_t pk[32],
		      int64_t now, enum buddy_post_type type, const uint8_t *body, size_t body_len)
{
	struct buddy_post_head h = {.time = now, .type = (uint64_t)type};
	struct posting_post *pp;
	const struct stream *st;
	size_t j;
	int rc;

	if (!pg || !s || !pk || !body)
		return BUDDY_E_INVALID;
	if (pg->n >= POSTING_MAX)
		return BUDDY_E_TOOBIG;
	/* continue from this posting's last post to pk, else from the stream */
	for (j = pg->n; j-- > 0;)
		if (memcmp(pg->p[j].pk, pk, 32) == 0)
			break;
	if (j < pg->n) {
		h.seq = pg->p[j].seq + 1;
		memcpy(h.prev, pg->p[j].hash, sizeof(h.prev));
	} else {
		st = find(s, pk);
		h.seq = out_head(st) + 1;
		memcpy(h.prev, out_last(st), sizeof(h.prev));
	}
	pp = &pg->p[pg->n];
	if ((rc = encode_post(&h, body, body_len, &pp->bytes, &pp->len)))
		return rc;
	if (pp->len > BUDDY_STORE_RECORD_MAX - pg->bytes) {
		wipe_free(pp->bytes, pp->len);
		pp->bytes = NULL;
		return BUDDY_E_TOOBIG;
	}
	memcpy(pp->pk, pk, 32);
	pp->seq = h.seq;
	buddy_post_hash(pp->bytes, pp->len, pp->hash);
	pg->bytes += pp->len;
	pg->n++;
	return 0;
}

/* ---- makers ---- */

#define PK(x)                                                                                      \
	do {                                                                                       \
		if (x)                                                                             \
			return BUDDY_E_NOMEM;                                                      \
	} while (0)

static int kv_bin(msgpack_packer *pk, const char *k, const uint8_t *v, size_t len)
{
	PK(buddy_mp_pack_cstr(pk, k));
	return buddy_mp_pack_bin(pk, v, len);
}

static int kv_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
	PK(buddy_mp_pack_cstr(pk, k));
	return msgpack_pack_uint64(pk, v);
}

static int kv_bool(msgpack_packer *pk, const char *k, bool v)
{
	PK(buddy_mp_pack_cstr(pk, k));
	return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

/* The same bounds apply checks: 1..BUDDY_POSTS_BATCH_MAX posts of 1..BUDDY_POST_MAX bytes. */
static bool batch_ok(const uint8_t *const *posts, const size_t *lens, size_t n)
{
	if (!posts || !lens || n == 0 || n > BUDDY_POSTS_BATCH_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!posts[i] || lens[i] == 0 || lens[i] > BUDDY_POST_MAX)
			return false;
	return true;
}

static int kv_posts(msgpack_packer *pk, const uint8_t *const *posts, const size_t *lens, size_t n)
{
	PK(buddy_mp_pack_cstr(pk, "p"));
	PK(msgpack_pack_array(pk, n));
	for (size_t i = 0; i < n; i++)
		PK(buddy_mp_pack_bin(pk, posts[i], lens[i]));
	return 0;
}

static int pack_posted(msgpack_sbuffer *out, int64_t now, const uint8_t *inner, size_t inner_len,
		       const struct buddy_posting *pg)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_POSTED, now, inner ? 2 : 1));
	if (inner)
		PK(kv_bin(&p, "r", inner, inner_len));
	PK(buddy_mp_pack_cstr(&p, "o"));
	PK(msgpack_pack_array(&p, pg->n));
	for (size_t i = 0; i < pg->n; i++) {
		PK(msgpack_pack_array(&p, 2));
		PK(buddy_mp_pack_bin(&p, pg->p[i].pk, 32));
		PK(buddy_mp_pack_bin(&p, pg->p[i].bytes, pg->p[i].len));
	}
	return 0;
}

/* On failure out is cut back to where it was, so a half record never reaches the log; a record
 * over BUDDY_STORE_RECORD_MAX is BUDDY_E_TOOBIG. */
int buddy_streams_make_posted(msgpack_sbuffer *out, int64_t now, const uint8_t *inner,
			      size_t inner_len, const struct buddy_posting *pg)
{
	size_t before = out->size;
	int rc;

	if (!pg || pg->n == 0 || pg->n > POSTING_MAX || (inner && inner_len == 0))
		return BUDDY_E_INVALID;
	rc = pack_posted(out, now, inner, inner_len, pg);
	if (rc == 0 && out->size - before > BUDDY_STORE_RECORD_MAX)
		rc = BUDDY_E_TOOBIG;
	if (rc)
		out->size = before;
	return rc;
}

int buddy_streams_make_received(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
				const uint8_t *const *posts, const size_t *lens, size_t n,
				const uint8_t sig[BUDDY_POST_SIG_BYTES])
{
	msgpack_packer p;

	if (!batch_ok(posts, lens, n))
		return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_RECEIVED, now, 3));
	PK(kv_bin(&p, "a", pk, 32));
	PK(kv_posts(&p, posts, lens, n));
	return kv_bin(&p, "s", sig, BUDDY_POST_SIG_BYTES);
}

int buddy_streams_make_shared(msgpack_sbuffer *out, int64_t now, const char *commit,
			      const uint8_t pk[32], bool on)
{
	msgpack_packer p;

	if (!commit || !buddy_text_slug_valid(commit, strlen(commit)))
		return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_SHARED, now, 3));
	PK(buddy_mp_pack_cstr(&p, "c"));
	PK(buddy_mp_pack_cstr(&p, commit));
	PK(kv_bin(&p, "b", pk, 32));
	return kv_bool(&p, "on", on);
}

int buddy_streams_make_delivered(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
				 uint64_t seq, const uint8_t receipt[BUDDY_POST_SIG_BYTES])
{
	msgpack_packer p;

	if (seq == 0)
		return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_DELIVERED, now, 3));
	PK(kv_bin(&p, "b", pk, 32));
	PK(kv_uint(&p, "h", seq));
	return kv_bin(&p, "r", receipt, BUDDY_POST_SIG_BYTES);
}

int buddy_streams_make_fork(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32], uint64_t seq,
			    const uint8_t *const *posts, const size_t *lens, size_t n,
			    const uint8_t sig[BUDDY_POST_SIG_BYTES])
{
	msgpack_packer p;

	if (seq == 0 || !batch_ok(posts, lens, n))
		return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_FORK, now, 4));
	PK(kv_bin(&p, "a", pk, 32));
	PK(kv_uint(&p, "h", seq));
	PK(kv_posts(&p, posts, lens, n));
	return kv_bin(&p, "s", sig, BUDDY_POST_SIG_BYTES);
}

int buddy_streams_make_alert(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			     const char *kind, uint64_t seq)
{
	msgpack_packer p;

	if (!kind || !alert_kind_valid(kind, strlen(kind)))
		return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_ALERT, now, 3));
	PK(kv_bin(&p, "b", pk, 32));
	PK(buddy_mp_pack_cstr(&p, "k"));
	PK(buddy_mp_pack_cstr(&p, kind));
	return kv_uint(&p, "h", seq);
}

int buddy_streams_make_restored(msgpack_sbuffer *out, int64_t now, int64_t made)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_RESTORED, now, 1));
	PK(buddy_mp_pack_cstr(&p, "m"));
	return msgpack_pack_int64(&p, made);
}

/* Type 36 for buddy pk whose HEADS said (h, x, e) while my stream to it waits since a restore;
 * BUDDY_E_INVALID when it does not wait or h is past the limit. */
int buddy_streams_make_rebased(msgpack_sbuffer *out, int64_t now, const struct buddy_streams *s,
			       const uint8_t pk[32], uint64_t h, const uint8_t x[32], uint64_t e)
{
	const struct stream *st = find(s, pk);
	msgpack_packer p;

	if (!st || !st->pending || h > BUDDY_REBASE_SEQ_MAX)
		return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_REBASED, now, 4));
	PK(kv_bin(&p, "b", pk, 32));
	PK(kv_uint(&p, "h", h));
	PK(kv_bin(&p, "x", x, BUDDY_POST_HASH_BYTES));
	return kv_uint(&p, "e", e);
}

/* ---- reading ----
 * Pointers handed out (post bytes, hashes, alerts) stay valid until the next record is
 * applied: applying may move the arrays they point into. */

uint64_t buddy_streams_out_head(const struct buddy_streams *s, const uint8_t pk[32])
{
	return out_head(find(s, pk));
}

const uint8_t *buddy_streams_out_post(const struct buddy_streams *s, const uint8_t pk[32],
				      uint64_t seq, size_t *len, const uint8_t **hash)
{
	const struct stream *st = find(s, pk);
	const struct out_post *op;

	if (!st || seq <= st->base || seq > out_head(st))
		return NULL;
	op = &st->out[seq - st->base - 1];
	if (len)
		*len = op->len;
	if (hash)
		*hash = op->hash;
	return op->bytes;
}

/* H(post seq) of my stream to pk for seq in base..head (the base post is not held, but its
 * hash is); NULL otherwise. */
const uint8_t *buddy_streams_out_hash(const struct buddy_streams *s, const uint8_t pk[32],
				      uint64_t seq)
{
	const struct stream *st = find(s, pk);

	if (!st || seq == 0 || seq > out_head(st) || seq < st->base)
		return NULL;
	return seq == st->base ? st->base_hash : st->out[seq - st->base - 1].hash;
}

bool buddy_streams_out_pending(const struct buddy_streams *s, const uint8_t pk[32],
			       uint64_t *restored_head)
{
	const struct stream *st = find(s, pk);

	if (restored_head)
		*restored_head = st ? st->restored_head : 0;
	return st && st->pending;
}

uint64_t buddy_streams_in_max_entry(const struct buddy_streams *s, const uint8_t pk[32])
{
	const struct stream *st = find(s, pk);

	return st ? st->in_max_e : 0;
}

uint64_t buddy_streams_delivered(const struct buddy_streams *s, const uint8_t pk[32], int64_t *when)
{
	const struct stream *st = find(s, pk);

	if (when)
		*when = st ? st->delivered_at : 0;
	return st ? st->delivered : 0;
}

uint64_t buddy_streams_in_head(const struct buddy_streams *s, const uint8_t pk[32])
{
	const struct stream *st = find(s, pk);

	return st ? st->nin : 0;
}

const uint8_t *buddy_streams_in_hash(const struct buddy_streams *s, const uint8_t pk[32],
				     uint64_t seq)
{
	const struct stream *st = find(s, pk);

	return st && seq >= 1 && seq <= st->nin ? st->in[seq - 1] : NULL;
}

uint64_t buddy_streams_in_fork(const struct buddy_streams *s, const uint8_t pk[32])
{
	const struct stream *st = find(s, pk);

	return st ? st->fork : 0;
}

bool buddy_streams_is_shared(const struct buddy_streams *s, const char *commit,
			     const uint8_t pk[32])
{
	return commit && share_find(s, commit, pk) < s->nshares;
}

/* The count returned is how many keys were copied (at most max), so a caller may loop over
 * it without reading past what it was given. */
size_t buddy_streams_shared_with(const struct buddy_streams *s, const char *commit,
				 uint8_t (*out)[32], size_t max)
{
	size_t n = 0;

	if (!commit)
		return 0;
	for (size_t i = 0; i < s->nshares && n < max; i++)
		if (strcmp(s->shares[i].commit, commit) == 0)
			memcpy(out[n++], s->shares[i].pk, 32);
	return n;
}

size_t buddy_streams_nalerts(const struct buddy_streams *s)
{
	return s->nalerts;
}

/* i = 0 is the oldest alert kept. */
const struct buddy_alert *buddy_streams_alert_at(const struct buddy_streams *s, size_t i)
{
	if (i >= s->nalerts)
		return NULL;
	return &s->alerts[(s->alert0 + i) % BUDDY_ALERTS_MAX];
}
