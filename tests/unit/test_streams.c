/* Share streams as the journal records them (daemon/streams.c, proto/STORE.md "Stream records").
 *
 * Records are made with the makers, decoded here the way journal.c does ([type, written, body];
 * for type 30: check_posted, then the inner record r, then add_posted) and applied. Every record
 * applied successfully is also appended to a log, so a test can replay it into a fresh state and
 * compare. A refused record must change nothing: the tests snapshot what the readers show and
 * compare after each refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <time.h>

#include "buddy/buddies.h"
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/post.h"
#include "buddy/streams.h"

#define NOW	    1767225600 /* 2026-01-01 00:00:00 UTC */
#define NBUDDIES    3	       /* A, B, C; C is never added (an unknown key) */
#define BIG_POSTS   100000     /* posts in the large-stream test */
#define BIG_BATCH   1000       /* posts per received record there */
#define POSTING_MAX 64	       /* posts in one type 30 record (STORE.md) */

enum { A, B, C };

struct event {
	bool outgoing;
	uint8_t pk[32];
	uint64_t seq;
	int64_t written;
	uint8_t hash[BUDDY_POST_HASH_BYTES];
};

struct fx {
	struct buddy_buddies *bs;
	struct buddy_streams *s;
	uint8_t me[32], mesk[64];
	uint8_t pk[NBUDDIES][32], sk[NBUDDIES][64];
	struct event *ev; /* every post the callback saw */
	size_t nev, capev;
	bool record_events;
	msgpack_sbuffer rec; /* the record being made */
	msgpack_sbuffer log; /* every record applied, in order */
};

/* ---- callback ---- */

static void on_post(void *arg, bool outgoing, const uint8_t pk[32], uint64_t seq, int64_t written,
		    const uint8_t *post, size_t len)
{
	struct fx *f = arg;
	struct event *e;

	if (!f->record_events) {
		f->nev++;
		return;
	}
	if (f->nev == f->capev) {
		f->capev = f->capev ? f->capev * 2 : 64;
		f->ev = realloc(f->ev, f->capev * sizeof(*f->ev));
		assert_non_null(f->ev);
	}
	e = &f->ev[f->nev++];
	e->outgoing = outgoing;
	memcpy(e->pk, pk, 32);
	e->seq = seq;
	e->written = written;
	buddy_post_hash(post, len, e->hash);
}

/* ---- applying records the way journal.c does ---- */

static int dispatch(struct buddy_buddies *bs, struct buddy_streams *s, const uint8_t *p, size_t len,
		    bool inner)
{
	msgpack_unpacked u;
	const msgpack_object *a, *o, *r;
	uint64_t type;
	int64_t written;
	size_t off = 0;
	int rc = BUDDY_E_CORRUPT;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3)
		goto out;
	a = u.data.via.array.ptr;
	if (buddy_mp_uint(&a[0], &type) || buddy_mp_int(&a[1], &written) ||
	    a[2].type != MSGPACK_OBJECT_MAP)
		goto out;
	if (type == BUDDY_REC_POSTED) {
		if (inner)
			goto out; /* r is a record of another type */
		o = buddy_mp_get(&a[2], "o");
		r = buddy_mp_get(&a[2], "r");
		if ((rc = buddy_streams_check_posted(s, bs, o)))
			goto out;
		if (r && (r->type != MSGPACK_OBJECT_BIN ||
			  (rc = dispatch(bs, s, (const uint8_t *)r->via.bin.ptr, r->via.bin.size,
					 true)))) {
			rc = rc ? rc : BUDDY_E_CORRUPT;
			goto out;
		}
		rc = buddy_streams_add_posted(s, o, written);
	} else if (type >= BUDDY_REC_BUDDY_ADD && type <= BUDDY_REC_INVITE_USED) {
		rc = buddy_buddies_apply(bs, type, written, &a[2]);
	} else {
		rc = buddy_streams_apply(s, bs, type, written, &a[2]);
	}
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Applies f->rec; logged when it applies. */
static int apply(struct fx *f)
{
	int rc = dispatch(f->bs, f->s, (const uint8_t *)f->rec.data, f->rec.size, false);

	if (rc == 0)
		assert_int_equal(msgpack_sbuffer_write(&f->log, f->rec.data, f->rec.size), 0);
	return rc;
}

/* Replays a log into bs and s, record by record. */
static void replay(const msgpack_sbuffer *log, struct buddy_buddies *bs, struct buddy_streams *s)
{
	size_t off = 0;

	while (off < log->size) {
		msgpack_unpacked u;
		size_t start = off;

		msgpack_unpacked_init(&u);
		assert_int_equal(msgpack_unpack_next(&u, log->data, log->size, &off),
				 MSGPACK_UNPACK_SUCCESS);
		msgpack_unpacked_destroy(&u);
		assert_int_equal(
			dispatch(bs, s, (const uint8_t *)log->data + start, off - start, false), 0);
	}
}

/* ---- fixture ---- */

static void keypair(uint8_t pk[32], uint8_t sk[64], uint8_t seed_byte)
{
	uint8_t seed[32];

	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
}

static void add_buddy(struct fx *f, int who, const char *name)
{
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_buddies_make_add(&f->rec, NOW, f->pk[who], name, NULL, 0), 0);
	assert_int_equal(apply(f), 0);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->bs = buddy_buddies_new();
	f->s = buddy_streams_new(on_post, f);
	if (!f->bs || !f->s)
		return -1;
	f->record_events = true;
	keypair(f->me, f->mesk, 1);
	for (int i = 0; i < NBUDDIES; i++)
		keypair(f->pk[i], f->sk[i], (uint8_t)(10 + i));
	msgpack_sbuffer_init(&f->rec);
	msgpack_sbuffer_init(&f->log);
	*state = f;
	add_buddy(f, A, "alice");
	add_buddy(f, B, "bob");
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	buddy_streams_free(f->s);
	buddy_buddies_free(f->bs);
	msgpack_sbuffer_destroy(&f->rec);
	msgpack_sbuffer_destroy(&f->log);
	free(f->ev);
	free(f);
	return 0;
}

/* ---- posts ---- */

/* A post body: {"e": e}, any map will do for streams.c. */
static void body_map(msgpack_sbuffer *sb, uint64_t e)
{
	msgpack_packer p;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&p, sb, msgpack_sbuffer_write);
	assert_int_equal(msgpack_pack_map(&p, 1), 0);
	assert_int_equal(buddy_mp_pack_cstr(&p, "e"), 0);
	assert_int_equal(msgpack_pack_uint64(&p, e), 0);
}

/* One post of a buddy's stream to me, malloc'd. */
static uint8_t *make_post(uint64_t seq, const uint8_t prev[32], int64_t time, uint64_t e,
			  size_t *len)
{
	struct buddy_post_head h = {.seq = seq, .time = time, .type = BUDDY_POST_NOTE};
	msgpack_sbuffer body, out;

	memcpy(h.prev, prev, 32);
	body_map(&body, e);
	msgpack_sbuffer_init(&out);
	assert_int_equal(buddy_post_encode(&h, (const uint8_t *)body.data, body.size, &out), 0);
	msgpack_sbuffer_destroy(&body);
	*len = out.size;
	return (uint8_t *)msgpack_sbuffer_release(&out);
}

struct batch {
	size_t n;
	uint8_t *p[BUDDY_POSTS_BATCH_MAX];
	size_t len[BUDDY_POSTS_BATCH_MAX];
	uint8_t hash[BUDDY_POSTS_BATCH_MAX][32];
};

/* n posts with seqs first.. chained from prev; e (the body) varies with salt, so two batches
 * of the same seqs with different salts are different posts. */
static struct batch *batch_new(uint64_t first, const uint8_t prev[32], size_t n, uint64_t salt)
{
	struct batch *b = calloc(1, sizeof(*b));
	const uint8_t *pv = prev;

	assert_non_null(b);
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		b->p[i] = make_post(first + i, pv, NOW + (int64_t)i, salt * 1000000 + first + i,
				    &b->len[i]);
		buddy_post_hash(b->p[i], b->len[i], b->hash[i]);
		pv = b->hash[i];
	}
	return b;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->p[i]);
	free(b);
}

static const uint8_t zeros[32];

/* What comes next in my copy of who's stream. */
static uint64_t in_next(struct fx *f, int who, const uint8_t **prev)
{
	uint64_t h = buddy_streams_in_head(f->s, f->pk[who]);

	*prev = h ? buddy_streams_in_hash(f->s, f->pk[who], h) : zeros;
	return h + 1;
}

/* A type 31 record of batch b from who, signed for real (replay does not check it). */
static void make_received(struct fx *f, int who, const struct batch *b, int64_t now)
{
	uint8_t sig[64];
	uint64_t last;
	struct buddy_post_head h;
	msgpack_unpacked u;
	const msgpack_object *body;

	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_post_decode(b->p[b->n - 1], b->len[b->n - 1], &u, &h, &body), 0);
	msgpack_unpacked_destroy(&u);
	last = h.seq;
	buddy_post_sign_head(sig, f->sk[who], f->pk[who], f->me, last, b->hash[b->n - 1]);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_received(&f->rec, now, f->pk[who],
						     (const uint8_t *const *)b->p, b->len, b->n,
						     sig),
			 0);
}

/* Receives n new posts from who, continuing my copy. */
static void receive(struct fx *f, int who, size_t n, int64_t now)
{
	const uint8_t *prev;
	uint64_t first = in_next(f, who, &prev);
	struct batch *b = batch_new(first, prev, n, 0);

	make_received(f, who, b, now);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[who]), first + n - 1);
	assert_memory_equal(buddy_streams_in_hash(f->s, f->pk[who], first + n - 1), b->hash[n - 1],
			    32);
	batch_free(b);
}

/* A posting of one post to each buddy in who[0..n), made into f->rec and applied. */
static void post_to(struct fx *f, const int *who, size_t n, int64_t now, const uint8_t *inner,
		    size_t inner_len)
{
	struct buddy_posting *pg = buddy_posting_new();
	msgpack_sbuffer body;

	assert_non_null(pg);
	for (size_t i = 0; i < n; i++) {
		body_map(&body, i + 1);
		assert_int_equal(buddy_posting_add(pg, f->s, f->pk[who[i]], now, BUDDY_POST_NOTE,
						   (const uint8_t *)body.data, body.size),
				 0);
		msgpack_sbuffer_destroy(&body);
	}
	assert_int_equal(buddy_posting_count(pg), n);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_posted(&f->rec, now, inner, inner_len, pg), 0);
	buddy_posting_free(pg);
	assert_int_equal(apply(f), 0);
}

/* The envelope of my post seq to who. */
static void out_head_of(struct fx *f, int who, uint64_t seq, struct buddy_post_head *h)
{
	size_t len;
	const uint8_t *hash, *p = buddy_streams_out_post(f->s, f->pk[who], seq, &len, &hash);
	uint8_t x[32];
	msgpack_unpacked u;
	const msgpack_object *body;

	assert_non_null(p);
	buddy_post_hash(p, len, x);
	assert_memory_equal(x, hash, 32);
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_post_decode(p, len, &u, h, &body), 0);
	msgpack_unpacked_destroy(&u);
}

static const uint8_t *out_hash(struct fx *f, int who, uint64_t seq)
{
	const uint8_t *hash = NULL;

	if (!buddy_streams_out_post(f->s, f->pk[who], seq, NULL, &hash))
		return NULL;
	return hash;
}

/* ---- snapshots: what the readers show, to prove a refusal changed nothing ---- */

struct snap {
	uint64_t in_head[NBUDDIES], out_head[NBUDDIES], delivered[NBUDDIES], fork[NBUDDIES];
	uint8_t in_last[NBUDDIES][32], out_last[NBUDDIES][32];
	size_t nalerts, nev;
};

static void snap_take(struct fx *f, struct snap *sn)
{
	memset(sn, 0, sizeof(*sn));
	for (int i = 0; i < NBUDDIES; i++) {
		const uint8_t *x;
		sn->in_head[i] = buddy_streams_in_head(f->s, f->pk[i]);
		sn->out_head[i] = buddy_streams_out_head(f->s, f->pk[i]);
		sn->delivered[i] = buddy_streams_delivered(f->s, f->pk[i], NULL);
		sn->fork[i] = buddy_streams_in_fork(f->s, f->pk[i]);
		if ((x = buddy_streams_in_hash(f->s, f->pk[i], sn->in_head[i])))
			memcpy(sn->in_last[i], x, 32);
		if ((x = out_hash(f, i, sn->out_head[i])))
			memcpy(sn->out_last[i], x, 32);
	}
	sn->nalerts = buddy_streams_nalerts(f->s);
	sn->nev = f->nev;
}

static void assert_unchanged(struct fx *f, const struct snap *before)
{
	struct snap now;

	snap_take(f, &now);
	assert_memory_equal(&now, before, sizeof(now));
	assert_null(buddy_streams_in_hash(f->s, f->pk[A], before->in_head[A] + 1));
	assert_null(out_hash(f, A, before->out_head[A] + 1));
}

/* Applies f->rec expecting BUDDY_E_CORRUPT and no change at all. */
static void refused(struct fx *f)
{
	struct snap sn;

	snap_take(f, &sn);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	assert_unchanged(f, &sn);
}

/* ---- forging records ---- */

static void forge_head(struct fx *f, msgpack_packer *p, uint64_t type, size_t n)
{
	msgpack_sbuffer_clear(&f->rec);
	msgpack_packer_init(p, &f->rec, msgpack_sbuffer_write);
	assert_int_equal(msgpack_pack_array(p, 3), 0);
	assert_int_equal(msgpack_pack_uint64(p, type), 0);
	assert_int_equal(msgpack_pack_int64(p, NOW), 0);
	assert_int_equal(msgpack_pack_map(p, n), 0);
}

static void kv_bin(msgpack_packer *p, const char *k, const void *v, size_t len)
{
	assert_int_equal(buddy_mp_pack_cstr(p, k), 0);
	assert_int_equal(buddy_mp_pack_bin(p, v, len), 0);
}

static void kv_uint(msgpack_packer *p, const char *k, uint64_t v)
{
	assert_int_equal(buddy_mp_pack_cstr(p, k), 0);
	assert_int_equal(msgpack_pack_uint64(p, v), 0);
}

static void kv_str(msgpack_packer *p, const char *k, const char *v)
{
	assert_int_equal(buddy_mp_pack_cstr(p, k), 0);
	assert_int_equal(buddy_mp_pack_cstr(p, v), 0);
}

/* ---- outgoing ---- */

static void test_outgoing_two_buddies_interleaved(void **state)
{
	struct fx *f = *state;
	struct buddy_post_head h;
	const int first[] = {A, B, A}, second[] = {B, A};

	/* one posting: two posts to A chain inside it, B's stream is separate */
	post_to(f, first, 3, NOW, NULL, 0);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), 2);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[B]), 1);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[C]), 0);
	out_head_of(f, A, 1, &h);
	assert_int_equal(h.seq, 1);
	assert_memory_equal(h.prev, zeros, 32);
	assert_int_equal(h.time, NOW);
	out_head_of(f, A, 2, &h);
	assert_int_equal(h.seq, 2);
	assert_memory_equal(h.prev, out_hash(f, A, 1), 32);
	out_head_of(f, B, 1, &h);
	assert_int_equal(h.seq, 1);
	assert_memory_equal(h.prev, zeros, 32);

	/* the next posting continues each stream on its own */
	post_to(f, second, 2, NOW + 60, NULL, 0);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), 3);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[B]), 2);
	out_head_of(f, A, 3, &h);
	assert_int_equal(h.seq, 3);
	assert_int_equal(h.time, NOW + 60);
	assert_memory_equal(h.prev, out_hash(f, A, 2), 32);
	out_head_of(f, B, 2, &h);
	assert_memory_equal(h.prev, out_hash(f, B, 1), 32);

	/* out of range */
	assert_null(buddy_streams_out_post(f->s, f->pk[A], 0, NULL, NULL));
	assert_null(buddy_streams_out_post(f->s, f->pk[A], 4, NULL, NULL));
	assert_null(buddy_streams_out_post(f->s, f->pk[C], 1, NULL, NULL));
	/* the same posted record again no longer continues the streams */
	refused(f);
}

static void test_posted_refusals(void **state)
{
	struct fx *f = *state;
	const int to_a[] = {A};
	struct buddy_posting *pg;
	msgpack_sbuffer body;
	msgpack_packer p;
	size_t len;
	uint8_t *post;

	post_to(f, to_a, 1, NOW, NULL, 0);

	/* a post to C, who is not a buddy */
	pg = buddy_posting_new();
	body_map(&body, 1);
	assert_int_equal(buddy_posting_add(pg, f->s, f->pk[C], NOW, BUDDY_POST_NOTE,
					   (const uint8_t *)body.data, body.size),
			 0);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_posted(&f->rec, NOW, NULL, 0, pg), 0);
	buddy_posting_free(pg);
	refused(f);

	/* a post that does not continue: seq 1 again to A, and seq 3 (a gap) */
	post = make_post(1, zeros, NOW, 9, &len);
	forge_head(f, &p, BUDDY_REC_POSTED, 1);
	assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(msgpack_pack_array(&p, 2), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 32), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, post, len), 0);
	free(post);
	refused(f);
	post = make_post(3, out_hash(f, A, 1), NOW, 9, &len);
	forge_head(f, &p, BUDDY_REC_POSTED, 1);
	assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(msgpack_pack_array(&p, 2), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 32), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, post, len), 0);
	free(post);
	refused(f);

	/* seq 2 with a wrong prev, as the second of two posts: the first must not stay */
	{
		uint8_t bad[32];
		uint8_t *p2 = make_post(2, out_hash(f, A, 1), NOW, 9, &len), *p3;
		size_t len3;

		memset(bad, 0x55, sizeof(bad));
		p3 = make_post(3, bad, NOW, 10, &len3);
		forge_head(f, &p, BUDDY_REC_POSTED, 1);
		assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
		assert_int_equal(msgpack_pack_array(&p, 2), 0);
		assert_int_equal(msgpack_pack_array(&p, 2), 0);
		assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 32), 0);
		assert_int_equal(buddy_mp_pack_bin(&p, p2, len), 0);
		assert_int_equal(msgpack_pack_array(&p, 2), 0);
		assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 32), 0);
		assert_int_equal(buddy_mp_pack_bin(&p, p3, len3), 0);
		free(p2);
		free(p3);
		refused(f);
	}

	/* malformed o: missing, empty, element of 3, short key, post not a bin, garbage post */
	forge_head(f, &p, BUDDY_REC_POSTED, 0);
	refused(f);
	forge_head(f, &p, BUDDY_REC_POSTED, 1);
	assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
	assert_int_equal(msgpack_pack_array(&p, 0), 0);
	refused(f);
	forge_head(f, &p, BUDDY_REC_POSTED, 1);
	assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(msgpack_pack_array(&p, 3), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 32), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, "x", 1), 0);
	assert_int_equal(msgpack_pack_nil(&p), 0);
	refused(f);
	forge_head(f, &p, BUDDY_REC_POSTED, 1);
	assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(msgpack_pack_array(&p, 2), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 31), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, "x", 1), 0);
	refused(f);
	forge_head(f, &p, BUDDY_REC_POSTED, 1);
	assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(msgpack_pack_array(&p, 2), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 32), 0);
	assert_int_equal(buddy_mp_pack_cstr(&p, "post"), 0);
	refused(f);
	forge_head(f, &p, BUDDY_REC_POSTED, 1);
	assert_int_equal(buddy_mp_pack_cstr(&p, "o"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(msgpack_pack_array(&p, 2), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, f->pk[A], 32), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, "\x96\x02", 2), 0);
	refused(f);

	/* add_posted alone checks too (it has no buddies to ask, but the chain it can see) */
	assert_int_equal(buddy_streams_add_posted(f->s, NULL, NOW), BUDDY_E_CORRUPT);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), 1);

	/* A is revoked: I never post to a revoked buddy */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_buddies_make_revoke(&f->rec, NOW, f->pk[A], false), 0);
	assert_int_equal(apply(f), 0);
	pg = buddy_posting_new();
	assert_int_equal(buddy_posting_add(pg, f->s, f->pk[A], NOW, BUDDY_POST_NOTE,
					   (const uint8_t *)body.data, body.size),
			 0);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_posted(&f->rec, NOW, NULL, 0, pg), 0);
	buddy_posting_free(pg);
	msgpack_sbuffer_destroy(&body);
	refused(f);
}

static void test_posted_with_inner_record(void **state)
{
	struct fx *f = *state;
	const int to_both[] = {A, B};
	msgpack_sbuffer inner;
	uint8_t keys[4][32];

	msgpack_sbuffer_init(&inner);
	assert_int_equal(buddy_streams_make_shared(&inner, NOW, "run", f->pk[A], true), 0);
	post_to(f, to_both, 2, NOW, (const uint8_t *)inner.data, inner.size);
	assert_true(buddy_streams_is_shared(f->s, "run", f->pk[A]));
	assert_int_equal(buddy_streams_shared_with(f->s, "run", keys, 4), 1);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), 1);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[B]), 1);
	assert_int_equal(f->nev, 2);
	msgpack_sbuffer_destroy(&inner);
}

static void test_posting_limits(void **state)
{
	struct fx *f = *state;
	struct buddy_posting *pg = buddy_posting_new();
	msgpack_sbuffer body, out;
	struct buddy_post_head h;

	msgpack_sbuffer_init(&out);
	body_map(&body, 1);
	/* an empty posting makes no record */
	assert_int_equal(buddy_streams_make_posted(&out, NOW, NULL, 0, pg), BUDDY_E_INVALID);
	assert_int_equal(out.size, 0);
	/* not a map: encode refuses it and the posting stays as it was */
	assert_int_equal(buddy_posting_add(pg, f->s, f->pk[A], NOW, BUDDY_POST_NOTE,
					   (const uint8_t *)"\x01", 1),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_posting_count(pg), 0);
	for (int i = 0; i < POSTING_MAX; i++)
		assert_int_equal(buddy_posting_add(pg, f->s, f->pk[A], NOW, BUDDY_POST_NOTE,
						   (const uint8_t *)body.data, body.size),
				 0);
	assert_int_equal(buddy_posting_add(pg, f->s, f->pk[A], NOW, BUDDY_POST_NOTE,
					   (const uint8_t *)body.data, body.size),
			 BUDDY_E_TOOBIG);
	assert_int_equal(buddy_posting_count(pg), POSTING_MAX);
	/* inner given with no bytes */
	assert_int_equal(buddy_streams_make_posted(&out, NOW, (const uint8_t *)"", 0, pg),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_streams_make_posted(&f->rec, NOW, NULL, 0, pg), 0);
	buddy_posting_free(pg);
	msgpack_sbuffer_clear(&f->rec);
	pg = buddy_posting_new();
	for (int i = 0; i < POSTING_MAX; i++)
		assert_int_equal(buddy_posting_add(pg, f->s, f->pk[A], NOW, BUDDY_POST_NOTE,
						   (const uint8_t *)body.data, body.size),
				 0);
	assert_int_equal(buddy_streams_make_posted(&f->rec, NOW, NULL, 0, pg), 0);
	buddy_posting_free(pg);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), POSTING_MAX);
	out_head_of(f, A, POSTING_MAX, &h);
	assert_memory_equal(h.prev, out_hash(f, A, POSTING_MAX - 1), 32);
	assert_int_equal(buddy_posting_count(NULL), 0);
	buddy_posting_free(NULL);
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_destroy(&out);
}

/* ---- replay ---- */

static void test_replay_gives_same_state(void **state)
{
	struct fx *f = *state;
	const int mix[] = {A, B, A, B, B};
	struct buddy_buddies *bs2 = buddy_buddies_new();
	struct buddy_streams *s2 = buddy_streams_new(NULL, NULL);
	uint8_t r[64] = {7}, k1[4][32], k2[4][32];
	size_t n1, n2;

	assert_non_null(bs2);
	assert_non_null(s2);
	post_to(f, mix, 5, NOW, NULL, 0);
	post_to(f, mix, 3, NOW + 1, NULL, 0);
	receive(f, A, 3, NOW + 2);
	receive(f, B, 1, NOW + 3);
	receive(f, A, 2, NOW + 4);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW + 5, f->pk[A], 2, r), 0);
	assert_int_equal(apply(f), 0);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_shared(&f->rec, NOW + 6, "run", f->pk[B], true), 0);
	assert_int_equal(apply(f), 0);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_alert(&f->rec, NOW + 7, f->pk[B], "gap", 9), 0);
	assert_int_equal(apply(f), 0);

	replay(&f->log, bs2, s2);
	for (int i = 0; i < NBUDDIES; i++) {
		uint64_t oh = buddy_streams_out_head(f->s, f->pk[i]);
		uint64_t ih = buddy_streams_in_head(f->s, f->pk[i]);
		int64_t w1, w2;

		assert_int_equal(buddy_streams_out_head(s2, f->pk[i]), oh);
		assert_int_equal(buddy_streams_in_head(s2, f->pk[i]), ih);
		assert_int_equal(buddy_streams_delivered(s2, f->pk[i], &w2),
				 buddy_streams_delivered(f->s, f->pk[i], &w1));
		assert_int_equal(w1, w2);
		for (uint64_t q = 1; q <= oh; q++) {
			size_t l1, l2;
			const uint8_t *h1, *h2;
			const uint8_t *p1 = buddy_streams_out_post(f->s, f->pk[i], q, &l1, &h1);
			const uint8_t *p2 = buddy_streams_out_post(s2, f->pk[i], q, &l2, &h2);
			assert_int_equal(l1, l2);
			assert_memory_equal(p1, p2, l1);
			assert_memory_equal(h1, h2, 32);
		}
		for (uint64_t q = 1; q <= ih; q++)
			assert_memory_equal(buddy_streams_in_hash(f->s, f->pk[i], q),
					    buddy_streams_in_hash(s2, f->pk[i], q), 32);
	}
	/* {A, B, A, B, B} then its first three {A, B, A} */
	assert_int_equal(buddy_streams_out_head(s2, f->pk[A]), 4);
	assert_int_equal(buddy_streams_out_head(s2, f->pk[B]), 4);
	assert_int_equal(buddy_streams_in_head(s2, f->pk[A]), 5);
	assert_int_equal(buddy_streams_delivered(s2, f->pk[A], NULL), 2);
	n1 = buddy_streams_shared_with(f->s, "run", k1, 4);
	n2 = buddy_streams_shared_with(s2, "run", k2, 4);
	assert_int_equal(n1, 1);
	assert_int_equal(n2, 1);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(buddy_streams_nalerts(s2), 1);
	assert_memory_equal(buddy_streams_alert_at(s2, 0), buddy_streams_alert_at(f->s, 0),
			    sizeof(struct buddy_alert));
	buddy_streams_free(s2);
	buddy_buddies_free(bs2);
}

/* ---- received ---- */

static void test_received_batches_continue(void **state)
{
	struct fx *f = *state;
	const uint8_t *prev;
	uint64_t next;
	struct batch *b;

	assert_int_equal(buddy_streams_in_head(f->s, f->pk[A]), 0);
	assert_null(buddy_streams_in_hash(f->s, f->pk[A], 1));
	receive(f, A, 1, NOW);
	receive(f, A, 4, NOW + 1);
	receive(f, A, 1, NOW + 2);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[A]), 6);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[B]), 0);
	assert_null(buddy_streams_in_hash(f->s, f->pk[A], 0));
	assert_null(buddy_streams_in_hash(f->s, f->pk[A], 7));

	/* a whole batch of the largest size */
	next = in_next(f, A, &prev);
	b = batch_new(next, prev, BUDDY_POSTS_BATCH_MAX, 0);
	make_received(f, A, b, NOW + 3);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[A]), 6 + BUDDY_POSTS_BATCH_MAX);
	for (size_t i = 0; i < b->n; i++)
		assert_memory_equal(buddy_streams_in_hash(f->s, f->pk[A], 7 + i), b->hash[i], 32);
	batch_free(b);
}

static void test_received_refusals_change_nothing(void **state)
{
	struct fx *f = *state;
	const uint8_t *prev;
	uint8_t bad[32], sig[64] = {0};
	struct batch *b, *b2;
	msgpack_packer p;
	uint64_t next;

	receive(f, A, 3, NOW);
	next = in_next(f, A, &prev);

	/* gap: starts at head + 2 */
	b = batch_new(next + 1, prev, 2, 0);
	make_received(f, A, b, NOW);
	refused(f);
	batch_free(b);

	/* wrong prev for the first post */
	memset(bad, 0xaa, sizeof(bad));
	b = batch_new(next, bad, 2, 0);
	make_received(f, A, b, NOW);
	refused(f);
	batch_free(b);

	/* reordered seqs: 5 before 4 */
	b = batch_new(next, prev, 2, 0);
	{
		uint8_t *tp = b->p[0];
		size_t tl = b->len[0];
		b->p[0] = b->p[1];
		b->len[0] = b->len[1];
		b->p[1] = tp;
		b->len[1] = tl;
	}
	make_received(f, A, b, NOW);
	refused(f);
	batch_free(b);

	/* a broken chain inside the batch: the third post's prev is wrong */
	b = batch_new(next, prev, 2, 0);
	b2 = batch_new(next + 2, bad, 1, 0);
	b->p[2] = b2->p[0];
	b->len[2] = b2->len[0];
	memcpy(b->hash[2], b2->hash[0], 32);
	b->n = 3;
	b2->n = 0;
	make_received(f, A, b, NOW);
	refused(f);
	batch_free(b);
	batch_free(b2);

	/* duplicate batch: applied once, then again */
	b = batch_new(next, prev, 2, 0);
	make_received(f, A, b, NOW);
	assert_int_equal(apply(f), 0);
	refused(f);
	/* and an older batch (posts I already hold) */
	batch_free(b);
	b = batch_new(1, zeros, 2, 0);
	make_received(f, A, b, NOW);
	refused(f);
	batch_free(b);

	/* unknown buddy C (the same batch would start C's stream fine otherwise) */
	b = batch_new(1, zeros, 2, 0);
	make_received(f, C, b, NOW);
	refused(f);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[C]), 0);
	batch_free(b);

	/* malformed post in the middle of a batch that otherwise continues */
	next = in_next(f, A, &prev);
	b = batch_new(next, prev, 3, 0);
	b->p[1][0] = 0x95; /* a 5-array: not a post */
	make_received(f, A, b, NOW);
	refused(f);
	batch_free(b);

	/* n = 0: the maker refuses, and a forged record is corrupt */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_received(&f->rec, NOW, f->pk[A], NULL, NULL, 0, sig),
			 BUDDY_E_INVALID);
	forge_head(f, &p, BUDDY_REC_RECEIVED, 3);
	kv_bin(&p, "a", f->pk[A], 32);
	assert_int_equal(buddy_mp_pack_cstr(&p, "p"), 0);
	assert_int_equal(msgpack_pack_array(&p, 0), 0);
	kv_bin(&p, "s", sig, 64);
	refused(f);

	/* fields of the wrong type or size (prev read again: a refused batch may have moved
	 * the stream's arrays while reserving room) */
	next = in_next(f, A, &prev);
	b = batch_new(next, prev, 1, 0);
	forge_head(f, &p, BUDDY_REC_RECEIVED, 3);
	kv_bin(&p, "a", f->pk[A], 32);
	assert_int_equal(buddy_mp_pack_cstr(&p, "p"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, b->p[0], b->len[0]), 0);
	kv_bin(&p, "s", sig, 63);
	refused(f);
	forge_head(f, &p, BUDDY_REC_RECEIVED, 3);
	kv_str(&p, "a", "alice");
	assert_int_equal(buddy_mp_pack_cstr(&p, "p"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, b->p[0], b->len[0]), 0);
	kv_bin(&p, "s", sig, 64);
	refused(f);
	forge_head(f, &p, BUDDY_REC_RECEIVED, 2);
	kv_bin(&p, "a", f->pk[A], 32);
	assert_int_equal(buddy_mp_pack_cstr(&p, "p"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, b->p[0], b->len[0]), 0);
	refused(f);
	forge_head(f, &p, BUDDY_REC_RECEIVED, 3);
	kv_bin(&p, "a", f->pk[A], 32);
	assert_int_equal(buddy_mp_pack_cstr(&p, "p"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(buddy_mp_pack_cstr(&p, "post"), 0);
	kv_bin(&p, "s", sig, 64);
	refused(f);

	/* the same, well formed and with a key nobody knows: unknown keys are ignored */
	forge_head(f, &p, BUDDY_REC_RECEIVED, 4);
	kv_bin(&p, "a", f->pk[A], 32);
	assert_int_equal(buddy_mp_pack_cstr(&p, "p"), 0);
	assert_int_equal(msgpack_pack_array(&p, 1), 0);
	assert_int_equal(buddy_mp_pack_bin(&p, b->p[0], b->len[0]), 0);
	kv_bin(&p, "s", sig, 64);
	kv_str(&p, "zz", "later");
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[A]), next);
	batch_free(b);

	/* the body must be a map; an unknown type is a version problem */
	assert_int_equal(buddy_streams_apply(f->s, f->bs, BUDDY_REC_RECEIVED, NOW, NULL),
			 BUDDY_E_CORRUPT);
	assert_int_equal(buddy_streams_apply(f->s, f->bs, 37, NOW, NULL), BUDDY_E_CORRUPT);
	{
		msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
		assert_int_equal(buddy_streams_apply(f->s, f->bs, 37, NOW, &empty),
				 BUDDY_E_VERSION);
		assert_int_equal(buddy_streams_apply(f->s, f->bs, BUDDY_REC_RECEIVED, NOW, &empty),
				 BUDDY_E_CORRUPT);
	}
}

static void test_received_from_revoked_buddy(void **state)
{
	struct fx *f = *state;

	receive(f, B, 2, NOW);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_buddies_make_revoke(&f->rec, NOW + 1, f->pk[B], true), 0);
	assert_int_equal(apply(f), 0);
	/* a revoked buddy is still known: what it sent before is kept, its keys still read */
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[B]), 2);
	receive(f, B, 1, NOW + 2);
}

/* ---- delivered ---- */

static void test_delivered_monotonic_and_bounded(void **state)
{
	struct fx *f = *state;
	const int to_a[] = {A, A, A};
	uint8_t r[64];
	int64_t when;
	msgpack_packer p;

	memset(r, 3, sizeof(r));
	/* nothing posted yet */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW, f->pk[A], 1, r), 0);
	refused(f);
	post_to(f, to_a, 3, NOW, NULL, 0);
	assert_int_equal(buddy_streams_delivered(f->s, f->pk[A], &when), 0);
	assert_int_equal(when, 0);

	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW, f->pk[A], 0, r),
			 BUDDY_E_INVALID);
	forge_head(f, &p, BUDDY_REC_DELIVERED, 3);
	kv_bin(&p, "b", f->pk[A], 32);
	kv_uint(&p, "h", 0);
	kv_bin(&p, "r", r, 64);
	refused(f);
	/* beyond my last post */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW, f->pk[A], 4, r), 0);
	refused(f);
	/* the right buddy matters: B has no posts */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW, f->pk[B], 2, r), 0);
	refused(f);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW, f->pk[C], 2, r), 0);
	refused(f);

	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW + 10, f->pk[A], 2, r), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_delivered(f->s, f->pk[A], &when), 2);
	assert_int_equal(when, NOW + 10);
	/* not again, not backwards */
	refused(f);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW + 11, f->pk[A], 1, r), 0);
	refused(f);
	/* a short receipt */
	forge_head(f, &p, BUDDY_REC_DELIVERED, 3);
	kv_bin(&p, "b", f->pk[A], 32);
	kv_uint(&p, "h", 3);
	kv_bin(&p, "r", r, 32);
	refused(f);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW + 12, f->pk[A], 3, r), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_delivered(f->s, f->pk[A], &when), 3);
	assert_int_equal(when, NOW + 12);
	assert_int_equal(buddy_streams_delivered(f->s, f->pk[C], NULL), 0);
}

/* ---- shared ---- */

static void shared(struct fx *f, const char *c, int who, bool on, int expect)
{
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_shared(&f->rec, NOW, c, f->pk[who], on), 0);
	if (expect == 0)
		assert_int_equal(apply(f), 0);
	else
		refused(f);
}

static void test_shared_on_off(void **state)
{
	struct fx *f = *state;
	uint8_t keys[4][32];
	msgpack_packer p;

	assert_false(buddy_streams_is_shared(f->s, "run", f->pk[A]));
	assert_int_equal(buddy_streams_shared_with(f->s, "run", keys, 4), 0);
	shared(f, "run", A, true, 0);
	shared(f, "run", B, true, 0);
	shared(f, "read", B, true, 0);
	assert_true(buddy_streams_is_shared(f->s, "run", f->pk[A]));
	assert_true(buddy_streams_is_shared(f->s, "run", f->pk[B]));
	assert_false(buddy_streams_is_shared(f->s, "read", f->pk[A]));
	assert_int_equal(buddy_streams_shared_with(f->s, "run", keys, 4), 2);
	assert_memory_equal(keys[0], f->pk[A], 32);
	assert_memory_equal(keys[1], f->pk[B], 32);
	/* max bounds what is copied */
	assert_int_equal(buddy_streams_shared_with(f->s, "run", keys, 1), 1);
	assert_int_equal(buddy_streams_shared_with(f->s, "run", NULL, 0), 0);
	/* setting what is already so */
	shared(f, "run", A, true, 0);
	assert_int_equal(buddy_streams_shared_with(f->s, "run", keys, 4), 2);
	shared(f, "run", A, false, 0);
	assert_false(buddy_streams_is_shared(f->s, "run", f->pk[A]));
	assert_int_equal(buddy_streams_shared_with(f->s, "run", keys, 4), 1);
	assert_memory_equal(keys[0], f->pk[B], 32);
	shared(f, "run", A, false, 0);
	assert_true(buddy_streams_is_shared(f->s, "read", f->pk[B]));
	assert_false(buddy_streams_is_shared(f->s, NULL, f->pk[B]));

	/* refusals: unknown buddy, not a slug (the maker refuses too), wrong types */
	shared(f, "run", C, true, BUDDY_E_CORRUPT);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_shared(&f->rec, NOW, "Run!", f->pk[A], true),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_streams_make_shared(&f->rec, NOW, "", f->pk[A], true),
			 BUDDY_E_INVALID);
	forge_head(f, &p, BUDDY_REC_SHARED, 3);
	kv_str(&p, "c", "Run!");
	kv_bin(&p, "b", f->pk[A], 32);
	assert_int_equal(buddy_mp_pack_cstr(&p, "on"), 0);
	assert_int_equal(msgpack_pack_true(&p), 0);
	refused(f);
	forge_head(f, &p, BUDDY_REC_SHARED, 3);
	kv_str(&p, "c", "run");
	kv_bin(&p, "b", f->pk[A], 32);
	kv_uint(&p, "on", 1);
	refused(f);
	assert_false(buddy_streams_is_shared(f->s, "run", f->pk[A]));
}

static void test_shared_max(void **state)
{
	struct fx *f = *state;
	char id[16];

	for (int i = 0; i < BUDDY_SHARES_MAX; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		shared(f, id, A, true, 0);
	}
	shared(f, "one-more", A, true, BUDDY_E_CORRUPT);
	assert_false(buddy_streams_is_shared(f->s, "one-more", f->pk[A]));
	shared(f, "c7", A, false, 0);
	shared(f, "one-more", A, true, 0);
	assert_true(buddy_streams_is_shared(f->s, "one-more", f->pk[A]));
	assert_true(buddy_streams_is_shared(f->s, "c4095", f->pk[A]));
}

/* ---- fork ---- */

static void make_fork(struct fx *f, int who, uint64_t h, const struct batch *b)
{
	uint8_t sig[64] = {1};

	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_fork(&f->rec, NOW + 100, f->pk[who], h,
						 (const uint8_t *const *)b->p, b->len, b->n, sig),
			 0);
}

static void test_fork_freezes(void **state)
{
	struct fx *f = *state;
	const int to_a[] = {A};
	struct batch *same, *other, *b;
	const uint8_t *prev;
	uint64_t next;
	uint8_t sig[64] = {0};
	size_t nev;

	receive(f, A, 3, NOW);
	assert_int_equal(buddy_streams_in_fork(f->s, f->pk[A]), 0);

	/* evidence that does not conflict (my own posts 1..3 again) is not a fork */
	same = batch_new(1, zeros, 3, 0);
	make_fork(f, A, 2, same);
	refused(f);
	/* seq 0, and h beyond my head + 1 */
	other = batch_new(1, zeros, 3, 1); /* a different post 1 .. 3 */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_fork(&f->rec, NOW, f->pk[A], 0,
						 (const uint8_t *const *)other->p, other->len,
						 other->n, sig),
			 BUDDY_E_INVALID);
	make_fork(f, A, 5, other);
	refused(f);
	/* h not in the batch */
	b = batch_new(2, same->hash[0], 1, 1);
	make_fork(f, A, 3, b);
	refused(f);
	/* unknown buddy, malformed evidence */
	make_fork(f, C, 1, other);
	refused(f);
	b->p[0][0] = 0x95;
	make_fork(f, A, 2, b);
	refused(f);
	batch_free(b);
	/* n = 0 */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_fork(&f->rec, NOW, f->pk[A], 1, NULL, NULL, 0, sig),
			 BUDDY_E_INVALID);

	/* a post 2 that differs from mine, chained to my post 1: a fork at 2 */
	b = batch_new(2, same->hash[0], 2, 1);
	nev = f->nev;
	make_fork(f, A, 2, b);
	assert_int_equal(apply(f), 0);
	assert_int_equal(f->nev, nev); /* evidence is not part of the stream */
	assert_int_equal(buddy_streams_in_fork(f->s, f->pk[A]), 2);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[A]), 3);
	assert_memory_equal(buddy_streams_in_hash(f->s, f->pk[A], 2), same->hash[1], 32);
	batch_free(b);

	/* frozen: no more posts, no second evidence */
	next = in_next(f, A, &prev);
	b = batch_new(next, prev, 1, 0);
	make_received(f, A, b, NOW);
	refused(f);
	batch_free(b);
	make_fork(f, A, 1, other);
	refused(f);
	/* the other direction goes on, and so does B's stream */
	post_to(f, to_a, 1, NOW, NULL, 0);
	receive(f, B, 1, NOW);
	assert_int_equal(buddy_streams_in_fork(f->s, f->pk[B]), 0);
	assert_int_equal(buddy_streams_in_fork(f->s, f->pk[C]), 0);
	batch_free(same);
	batch_free(other);
}

static void test_fork_just_past_head(void **state)
{
	struct fx *f = *state;
	uint8_t bad[32];
	const uint8_t *prev;
	uint64_t next;
	struct batch *b;

	/* nothing held: seq 1 cannot conflict with anything */
	b = batch_new(1, zeros, 1, 1);
	make_fork(f, B, 1, b);
	refused(f);
	batch_free(b);

	receive(f, B, 2, NOW);
	/* post 3 continuing my copy is no fork */
	next = in_next(f, B, &prev);
	b = batch_new(next, prev, 1, 1);
	make_fork(f, B, 3, b);
	refused(f);
	batch_free(b);
	/* post 3 whose prev is not my post 2 is */
	memset(bad, 0x11, sizeof(bad));
	b = batch_new(3, bad, 2, 1);
	make_fork(f, B, 3, b);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_in_fork(f->s, f->pk[B]), 3);
	batch_free(b);
}

/* ---- alerts ---- */

static void alert(struct fx *f, int who, const char *kind, uint64_t seq, int64_t now)
{
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_alert(&f->rec, now, f->pk[who], kind, seq), 0);
	assert_int_equal(apply(f), 0);
}

static void test_alerts(void **state)
{
	struct fx *f = *state;
	const struct buddy_alert *a;
	msgpack_packer p;

	assert_int_equal(buddy_streams_nalerts(f->s), 0);
	assert_null(buddy_streams_alert_at(f->s, 0));
	alert(f, A, "chain", 4, NOW);
	alert(f, B, "ahead", 0, NOW + 1);
	/* a kind this version does not list is kept (forward compatible) */
	alert(f, B, "some-new-kind", 1, NOW + 2);
	assert_int_equal(buddy_streams_nalerts(f->s), 3);
	a = buddy_streams_alert_at(f->s, 0);
	assert_non_null(a);
	assert_memory_equal(a->pk, f->pk[A], 32);
	assert_string_equal(a->kind, "chain");
	assert_int_equal(a->seq, 4);
	assert_int_equal(a->time, NOW);
	a = buddy_streams_alert_at(f->s, 2);
	assert_string_equal(a->kind, "some-new-kind");
	assert_null(buddy_streams_alert_at(f->s, 3));

	/* refused: unknown buddy, empty, 16 bytes, control characters, wrong types */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_alert(&f->rec, NOW, f->pk[C], "gap", 1), 0);
	refused(f);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_alert(&f->rec, NOW, f->pk[A], "", 1), BUDDY_E_INVALID);
	assert_int_equal(buddy_streams_make_alert(&f->rec, NOW, f->pk[A], "sixteen-bytes-xx", 1),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_streams_make_alert(&f->rec, NOW, f->pk[A], "tab\there", 1),
			 BUDDY_E_INVALID);
	assert_int_equal(f->rec.size, 0);
	forge_head(f, &p, BUDDY_REC_ALERT, 3);
	kv_bin(&p, "b", f->pk[A], 32);
	kv_str(&p, "k", "sixteen-bytes-xx");
	kv_uint(&p, "h", 1);
	refused(f);
	forge_head(f, &p, BUDDY_REC_ALERT, 3);
	kv_bin(&p, "b", f->pk[A], 32);
	kv_str(&p, "k", "");
	kv_uint(&p, "h", 1);
	refused(f);
	forge_head(f, &p, BUDDY_REC_ALERT, 3);
	kv_bin(&p, "b", f->pk[A], 32);
	kv_str(&p, "k", "n\x7f");
	kv_uint(&p, "h", 1);
	refused(f);
	forge_head(f, &p, BUDDY_REC_ALERT, 3);
	kv_bin(&p, "b", f->pk[A], 32);
	kv_bin(&p, "k", "gap", 3);
	kv_uint(&p, "h", 1);
	refused(f);
	forge_head(f, &p, BUDDY_REC_ALERT, 2);
	kv_bin(&p, "b", f->pk[A], 32);
	kv_str(&p, "k", "gap");
	refused(f);
	/* 15 bytes is fine */
	alert(f, A, "fifteen-bytes-x", 2, NOW + 3);
	assert_string_equal(buddy_streams_alert_at(f->s, 3)->kind, "fifteen-bytes-x");
}

static void test_alerts_cap_drops_oldest(void **state)
{
	struct fx *f = *state;
	const int extra = 25;

	for (int i = 1; i <= BUDDY_ALERTS_MAX + extra; i++)
		alert(f, i % 2 ? A : B, "order", (uint64_t)i, NOW + i);
	assert_int_equal(buddy_streams_nalerts(f->s), BUDDY_ALERTS_MAX);
	for (size_t i = 0; i < BUDDY_ALERTS_MAX; i++) {
		const struct buddy_alert *a = buddy_streams_alert_at(f->s, i);
		assert_non_null(a);
		assert_int_equal(a->seq, i + 1 + extra);
		assert_int_equal(a->time, NOW + (int64_t)(i + 1 + extra));
	}
	assert_null(buddy_streams_alert_at(f->s, BUDDY_ALERTS_MAX));
}

/* ---- callback ---- */

static void expect_event(struct fx *f, size_t i, bool outgoing, int who, uint64_t seq,
			 int64_t written)
{
	const struct event *e = &f->ev[i];

	assert_true(i < f->nev);
	assert_int_equal(e->outgoing, outgoing);
	assert_memory_equal(e->pk, f->pk[who], 32);
	assert_int_equal(e->seq, seq);
	assert_int_equal(e->written, written);
	if (outgoing)
		assert_memory_equal(e->hash, out_hash(f, who, seq), 32);
	else
		assert_memory_equal(e->hash, buddy_streams_in_hash(f->s, f->pk[who], seq), 32);
}

static void test_callback_sees_every_post_once_in_order(void **state)
{
	struct fx *f = *state;
	const int mix[] = {B, A, B};
	uint8_t r[64] = {0};

	post_to(f, mix, 3, NOW + 1, NULL, 0);
	receive(f, A, 2, NOW + 2);
	/* records that carry no new post report nothing */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW + 3, f->pk[B], 2, r), 0);
	assert_int_equal(apply(f), 0);
	alert(f, A, "gap", 0, NOW + 3);
	receive(f, B, 1, NOW + 4);
	post_to(f, mix, 1, NOW + 5, NULL, 0);

	assert_int_equal(f->nev, 7);
	expect_event(f, 0, true, B, 1, NOW + 1);
	expect_event(f, 1, true, A, 1, NOW + 1);
	expect_event(f, 2, true, B, 2, NOW + 1);
	expect_event(f, 3, false, A, 1, NOW + 2);
	expect_event(f, 4, false, A, 2, NOW + 2);
	expect_event(f, 5, false, B, 1, NOW + 4);
	expect_event(f, 6, true, B, 3, NOW + 5);

	/* replay into a fresh state with the same callback sees the same, once */
	{
		struct buddy_buddies *bs2 = buddy_buddies_new();
		struct buddy_streams *s2 = buddy_streams_new(on_post, f);
		size_t n = f->nev;

		replay(&f->log, bs2, s2);
		assert_int_equal(f->nev, 2 * n);
		for (size_t i = 0; i < n; i++) {
			const struct event *x = &f->ev[i], *y = &f->ev[n + i];
			assert_int_equal(x->outgoing, y->outgoing);
			assert_memory_equal(x->pk, y->pk, 32);
			assert_int_equal(x->seq, y->seq);
			assert_int_equal(x->written, y->written);
			assert_memory_equal(x->hash, y->hash, 32);
		}
		buddy_streams_free(s2);
		buddy_buddies_free(bs2);
	}
}

/* ---- a large stream ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_large_stream(void **state)
{
	struct fx *f = *state;
	const size_t nrec = BIG_POSTS / BIG_BATCH;
	msgpack_sbuffer *recs = calloc(nrec, sizeof(*recs));
	uint8_t prev[32] = {0}, mid[32], last[32];
	double t0, t;

	assert_non_null(recs);
	f->record_events = false; /* count only */
	for (size_t r = 0; r < nrec; r++) {
		struct batch *b = batch_new(r * BIG_BATCH + 1, prev, BIG_BATCH, 0);
		if (r == nrec / 2)
			memcpy(mid, b->hash[0], 32);
		memcpy(prev, b->hash[BIG_BATCH - 1], 32);
		make_received(f, A, b, NOW);
		msgpack_sbuffer_init(&recs[r]);
		assert_int_equal(msgpack_sbuffer_write(&recs[r], f->rec.data, f->rec.size), 0);
		batch_free(b);
	}
	memcpy(last, prev, 32);

	t0 = now_s();
	for (size_t r = 0; r < nrec; r++)
		assert_int_equal(
			dispatch(f->bs, f->s, (const uint8_t *)recs[r].data, recs[r].size, false),
			0);
	t = now_s() - t0;
	print_message("applied %d received posts in %zu records of %d: %.3f s (%.2f us/post)\n",
		      BIG_POSTS, nrec, BIG_BATCH, t, t * 1e6 / BIG_POSTS);

	assert_int_equal(buddy_streams_in_head(f->s, f->pk[A]), BIG_POSTS);
	assert_int_equal(f->nev, BIG_POSTS);
	assert_memory_equal(buddy_streams_in_hash(f->s, f->pk[A], nrec / 2 * BIG_BATCH + 1), mid,
			    32);
	assert_memory_equal(buddy_streams_in_hash(f->s, f->pk[A], BIG_POSTS), last, 32);
	/* the last record again: a duplicate, refused */
	assert_int_equal(dispatch(f->bs, f->s, (const uint8_t *)recs[nrec - 1].data,
				  recs[nrec - 1].size, false),
			 BUDDY_E_CORRUPT);
	assert_int_equal(buddy_streams_in_head(f->s, f->pk[A]), BIG_POSTS);
	for (size_t r = 0; r < nrec; r++)
		msgpack_sbuffer_destroy(&recs[r]);
	free(recs);
}

/* Many outgoing posts: one posting of 64 at a time, each continuing the last. */
static void test_large_outgoing(void **state)
{
	struct fx *f = *state;
	const int nposting = 200;
	int to[POSTING_MAX];
	struct buddy_post_head h;
	double t0, t;

	f->record_events = false;
	for (int i = 0; i < POSTING_MAX; i++)
		to[i] = i % 2 ? A : B;
	t0 = now_s();
	for (int i = 0; i < nposting; i++)
		post_to(f, to, POSTING_MAX, NOW + i, NULL, 0);
	t = now_s() - t0;
	print_message("made and applied %d outgoing posts: %.3f s\n", nposting * POSTING_MAX, t);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), nposting * POSTING_MAX / 2);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[B]), nposting * POSTING_MAX / 2);
	out_head_of(f, A, 5000, &h);
	assert_int_equal(h.seq, 5000);
	assert_memory_equal(h.prev, out_hash(f, A, 4999), 32);
}

static void test_free_null_and_no_callback(void **state)
{
	struct buddy_streams *s = buddy_streams_new(NULL, NULL);
	struct fx *f = *state;
	const uint8_t *prev;
	uint64_t next;
	struct batch *b;

	buddy_streams_free(NULL);
	assert_non_null(s);
	/* a NULL callback is fine */
	next = in_next(f, A, &prev);
	b = batch_new(next, prev, 2, 0);
	make_received(f, A, b, NOW);
	assert_int_equal(dispatch(f->bs, s, (const uint8_t *)f->rec.data, f->rec.size, false), 0);
	assert_int_equal(buddy_streams_in_head(s, f->pk[A]), 2);
	batch_free(b);
	buddy_streams_free(s);
}

/* ---- restore (43) and rebase (36), PROTOCOL.md 15.11 ---- */

static void restored(struct fx *f, int64_t made)
{
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_restored(&f->rec, NOW, made), 0);
	assert_int_equal(apply(f), 0);
}

/* The e of my post seq to who (bodies here are {"e": e}). */
static uint64_t out_e(struct fx *f, int who, uint64_t seq)
{
	size_t len;
	const uint8_t *p = buddy_streams_out_post(f->s, f->pk[who], seq, &len, NULL);
	struct buddy_post_head h;
	const msgpack_object *body;
	msgpack_unpacked u;
	uint64_t e = 0;

	assert_non_null(p);
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_post_decode(p, len, &u, &h, &body), 0);
	assert_int_equal(buddy_mp_uint(buddy_mp_get(body, "e"), &e), 0);
	assert_int_equal(h.seq, seq);
	msgpack_unpacked_destroy(&u);
	return e;
}

static void test_restore_then_rebase(void **state)
{
	struct fx *f = *state;
	const int a[] = {A, A};
	uint8_t x[32], prev8[32];
	struct buddy_post_head h;
	struct buddy_buddies *bs2;
	struct buddy_streams *s2;
	uint64_t rh, e4, e5;
	size_t nev;

	post_to(f, a, 2, NOW, NULL, 0); /* seq 1, 2 */
	post_to(f, a, 1, NOW, NULL, 0); /* seq 3 */
	assert_false(buddy_streams_out_pending(f->s, f->pk[A], NULL));
	restored(f, NOW - 100);
	assert_true(buddy_streams_out_pending(f->s, f->pk[A], &rh));
	assert_int_equal(rh, 3);
	/* a buddy with no stream yet waits too: the old machine may have posted to it */
	assert_true(buddy_streams_out_pending(f->s, f->pk[B], &rh));
	assert_int_equal(rh, 0);
	/* posts made while waiting: 4 and 5 in the restored numbering */
	post_to(f, a, 2, NOW + 1, NULL, 0);
	e4 = out_e(f, A, 4);
	e5 = out_e(f, A, 5);

	/* refusals while waiting: a settle that does not say the whole truth changes nothing */
	memset(x, 0x5a, sizeof(x));
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW, f->s, f->pk[C], 7, x, 0),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW, f->s, f->pk[A],
						    BUDDY_REBASE_SEQ_MAX + 1, x, 0),
			 BUDDY_E_INVALID);
	{
		msgpack_packer p;
		/* h past the limit */
		forge_head(f, &p, BUDDY_REC_REBASED, 4);
		kv_bin(&p, "b", f->pk[A], 32);
		kv_uint(&p, "h", BUDDY_REBASE_SEQ_MAX + 1);
		kv_bin(&p, "x", x, 32);
		kv_uint(&p, "e", 0);
		refused(f);
		/* no e */
		forge_head(f, &p, BUDDY_REC_REBASED, 3);
		kv_bin(&p, "b", f->pk[A], 32);
		kv_uint(&p, "h", 7);
		kv_bin(&p, "x", x, 32);
		refused(f);
		/* x not 32 bytes */
		forge_head(f, &p, BUDDY_REC_REBASED, 4);
		kv_bin(&p, "b", f->pk[A], 32);
		kv_uint(&p, "h", 7);
		kv_bin(&p, "x", x, 31);
		kv_uint(&p, "e", 0);
		refused(f);
		/* an unknown buddy */
		forge_head(f, &p, BUDDY_REC_REBASED, 4);
		kv_bin(&p, "b", f->pk[C], 32);
		kv_uint(&p, "h", 7);
		kv_bin(&p, "x", x, 32);
		kv_uint(&p, "e", 0);
		refused(f);
	}

	/* A held 4..7 of the old machine: adopt 7, renumber 4, 5 to 8, 9 */
	nev = f->nev;
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW + 2, f->s, f->pk[A], 7, x, 42), 0);
	assert_int_equal(apply(f), 0);
	assert_false(buddy_streams_out_pending(f->s, f->pk[A], NULL));
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), 9);
	assert_int_equal(buddy_streams_delivered(f->s, f->pk[A], NULL), 7);
	for (uint64_t q = 1; q <= 7; q++)
		assert_null(buddy_streams_out_post(f->s, f->pk[A], q, NULL, NULL));
	assert_memory_equal(buddy_streams_out_hash(f->s, f->pk[A], 7), x, 32);
	assert_null(buddy_streams_out_hash(f->s, f->pk[A], 6));
	out_head_of(f, A, 8, &h);
	assert_memory_equal(h.prev, x, 32);
	assert_int_equal(h.time, NOW + 1);
	assert_int_equal(out_e(f, A, 8), e4);
	assert_int_equal(out_e(f, A, 9), e5);
	memcpy(prev8, out_hash(f, A, 8), 32);
	out_head_of(f, A, 9, &h);
	assert_memory_equal(h.prev, prev8, 32);
	/* the views hear of the renumbered posts */
	assert_int_equal(f->nev, nev + 2);
	assert_true(f->ev[nev].outgoing && f->ev[nev].seq == 8 && f->ev[nev + 1].seq == 9);

	/* settled once: neither again nor a delivery at or below the adopted head */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW, f->s, f->pk[A], 9, x, 0),
			 BUDDY_E_INVALID);
	{
		msgpack_packer p;
		uint8_t r[64] = {0};
		forge_head(f, &p, BUDDY_REC_REBASED, 4);
		kv_bin(&p, "b", f->pk[A], 32);
		kv_uint(&p, "h", 9);
		kv_bin(&p, "x", x, 32);
		kv_uint(&p, "e", 0);
		refused(f);
		msgpack_sbuffer_clear(&f->rec);
		assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW, f->pk[A], 7, r), 0);
		assert_int_equal(apply(f), BUDDY_E_CORRUPT);
		msgpack_sbuffer_clear(&f->rec);
		assert_int_equal(buddy_streams_make_delivered(&f->rec, NOW, f->pk[A], 8, r), 0);
		assert_int_equal(apply(f), 0);
	}
	/* the next post follows the renumbered ones */
	post_to(f, a, 1, NOW + 3, NULL, 0);
	out_head_of(f, A, 10, &h);
	assert_memory_equal(h.prev, out_hash(f, A, 9), 32);

	/* B held nothing past the restore: settled with my stream as it is */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW, f->s, f->pk[B], 0, zeros, 0), 0);
	assert_int_equal(apply(f), 0);
	assert_false(buddy_streams_out_pending(f->s, f->pk[B], NULL));
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[B]), 0);

	/* a replay of the log gives the same streams */
	bs2 = buddy_buddies_new();
	s2 = buddy_streams_new(NULL, NULL);
	assert_non_null(bs2);
	assert_non_null(s2);
	replay(&f->log, bs2, s2);
	assert_int_equal(buddy_streams_out_head(s2, f->pk[A]), 10);
	assert_int_equal(buddy_streams_delivered(s2, f->pk[A], NULL), 8);
	for (uint64_t q = 7; q <= 10; q++)
		assert_memory_equal(buddy_streams_out_hash(s2, f->pk[A], q),
				    buddy_streams_out_hash(f->s, f->pk[A], q), 32);
	assert_false(buddy_streams_out_pending(s2, f->pk[A], NULL));
	buddy_streams_free(s2);
	buddy_buddies_free(bs2);
}

/* A backup made while a stream waited, restored again: the first restore point stays (nothing
 * after it was sent), and a rebase renumbers everything made since, however many posts that is
 * (the record holds none of them). */
static void test_restore_twice_and_many_posts(void **state)
{
	struct fx *f = *state;
	const int a[] = {A};
	uint8_t x[32];
	uint64_t rh;

	post_to(f, a, 1, NOW, NULL, 0); /* 1 */
	restored(f, NOW);
	for (int i = 0; i < 1100; i++)
		post_to(f, a, 1, NOW + 1, NULL, 0); /* 2 .. 1101, more than a POSTS batch */
	restored(f, NOW + 2);
	assert_true(buddy_streams_out_pending(f->s, f->pk[A], &rh));
	assert_int_equal(rh, 1);
	memset(x, 0x33, sizeof(x));
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW + 3, f->s, f->pk[A], 5, x, 0), 0);
	assert_true(f->rec.size < 200);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), 5 + 1100);
	assert_int_equal(buddy_streams_delivered(f->s, f->pk[A], NULL), 5);
	{
		struct buddy_post_head h;

		out_head_of(f, A, 6, &h);
		assert_memory_equal(h.prev, x, 32);
		for (uint64_t q = 7; q <= 1105; q++) {
			out_head_of(f, A, q, &h);
			assert_memory_equal(h.prev, out_hash(f, A, q - 1), 32);
		}
	}
	/* a replay derives the same renumbered posts */
	{
		struct buddy_buddies *bs2 = buddy_buddies_new();
		struct buddy_streams *s2 = buddy_streams_new(NULL, NULL);

		assert_non_null(bs2);
		assert_non_null(s2);
		replay(&f->log, bs2, s2);
		for (uint64_t q = 5; q <= 1105; q++)
			assert_memory_equal(buddy_streams_out_hash(s2, f->pk[A], q),
					    buddy_streams_out_hash(f->s, f->pk[A], q), 32);
		buddy_streams_free(s2);
		buddy_buddies_free(bs2);
	}
}

/* A rebase tells the views only of the renumbered check-ins and notes: they hold the other
 * posts already, and a reaction told twice would be shown twice. */
static void test_rebase_reports_entries_only(void **state)
{
	struct fx *f = *state;
	const int a[] = {A};
	struct buddy_posting *pg;
	msgpack_sbuffer body;
	uint8_t x[32];
	size_t nev;

	restored(f, NOW);
	post_to(f, a, 1, NOW, NULL, 0); /* a note: 1 */
	pg = buddy_posting_new();
	assert_non_null(pg);
	body_map(&body, 1);
	assert_int_equal(buddy_posting_add(pg, f->s, f->pk[A], NOW, BUDDY_POST_REACTION,
					   (const uint8_t *)body.data, body.size),
			 0);
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_posted(&f->rec, NOW, NULL, 0, pg), 0);
	buddy_posting_free(pg);
	assert_int_equal(apply(f), 0); /* a reaction: 2 */
	nev = f->nev;
	memset(x, 0x44, sizeof(x));
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW, f->s, f->pk[A], 3, x, 0), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_streams_out_head(f->s, f->pk[A]), 5);
	assert_int_equal(f->nev, nev + 1);
	assert_true(f->ev[nev].outgoing && f->ev[nev].seq == 4);
}

/* HEADS tells the author the highest entry id it holds of theirs (15.4): check-ins and notes. */
static void test_in_max_entry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(buddy_streams_in_max_entry(f->s, f->pk[A]), 0);
	receive(f, A, 5, NOW); /* notes with e = 1..5 (salt 0) */
	assert_int_equal(buddy_streams_in_max_entry(f->s, f->pk[A]), 5);
	receive(f, A, 2, NOW);
	assert_int_equal(buddy_streams_in_max_entry(f->s, f->pk[A]), 7);
	assert_int_equal(buddy_streams_in_max_entry(f->s, f->pk[B]), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_outgoing_two_buddies_interleaved),
		T(test_posted_refusals),
		T(test_posted_with_inner_record),
		T(test_posting_limits),
		T(test_replay_gives_same_state),
		T(test_received_batches_continue),
		T(test_received_refusals_change_nothing),
		T(test_received_from_revoked_buddy),
		T(test_delivered_monotonic_and_bounded),
		T(test_shared_on_off),
		T(test_shared_max),
		T(test_fork_freezes),
		T(test_fork_just_past_head),
		T(test_alerts),
		T(test_alerts_cap_drops_oldest),
		T(test_callback_sees_every_post_once_in_order),
		T(test_large_stream),
		T(test_large_outgoing),
		T(test_free_null_and_no_callback),
		T(test_restore_then_rebase),
		T(test_restore_twice_and_many_posts),
		T(test_rebase_reports_entries_only),
		T(test_in_max_entry),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
