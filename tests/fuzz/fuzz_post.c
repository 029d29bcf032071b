/* libFuzzer target for share-stream posts and the sync messages that carry them. Whatever the
 * bytes, the decoders answer or refuse without reading out of bounds, and:
 *   - a body that a reader accepts, its writer writes again (writers refuse exactly what
 *     readers refuse) into bytes that read back the same, and that wrap into a post with the
 *     same envelope (unless the rewritten body no longer fits the largest post);
 *   - a HEADS, POSTS or ACK body that its reader accepts encodes again into one that reads back
 *     the same, and every post of an accepted POSTS goes through the post checks too.
 * Seeds are in corpus/post/. */
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/peer_wire.h"
#include "buddy/post.h"

#include <stdlib.h>
#include <string.h>

/* rewritten bodies are read back under the limits a body has inside a post, with room for
 * the few bytes a rewrite may add (a float for an int value) */
static const struct buddy_mp_limits body_limits = {.max_bytes = 2 * BUDDY_POST_MAX,
						   .max_depth = BUDDY_POST_DEPTH_MAX - 1,
						   .max_objects = BUDDY_POST_OBJECTS_MAX};

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static bool same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void same_commitment(const struct buddy_post_commitment *a,
			    const struct buddy_post_commitment *b)
{
	CHECK(strcmp(a->id, b->id) == 0 && strcmp(a->tz, b->tz) == 0);
	CHECK(same_bytes(a->title, a->title_len, b->title, b->title_len));
	CHECK(a->cadence.kind == b->cadence.kind && a->cadence.n == b->cadence.n);
	if (a->cadence.kind == BUDDY_CADENCE_BY)
		CHECK(a->cadence.by_year == b->cadence.by_year &&
		      a->cadence.by_month == b->cadence.by_month &&
		      a->cadence.by_day == b->cadence.by_day);
	CHECK(a->created == b->created && a->archived == b->archived && a->on == b->on);
}

static void same_entry(const struct buddy_post_entry *a, const struct buddy_post_entry *b)
{
	CHECK(a->e == b->e && a->at == b->at && a->status == b->status);
	CHECK(strcmp(a->commit, b->commit) == 0 && strcmp(a->unit, b->unit) == 0);
	CHECK(same_bytes(a->text, a->text_len, b->text, b->text_len));
	/* a float 32 is widened to the same double, and written back as that double */
	CHECK(a->has_value == b->has_value && (!a->has_value || a->value == b->value));
	CHECK(a->ntags == b->ntags);
	for (size_t i = 0; i < a->ntags; i++)
		CHECK(same_bytes(a->tags[i], a->tag_lens[i], b->tags[i], b->tag_lens[i]));
}

static void same_reaction(const struct buddy_post_reaction *a, const struct buddy_post_reaction *b)
{
	CHECK(a->e == b->e && a->kind == b->kind);
	CHECK(same_bytes(a->text, a->text_len, b->text, b->text_len));
}

/* Wraps a rewritten body in the envelope it came in, and decodes that post again. */
static void check_envelope(const struct buddy_post_head *h, const msgpack_sbuffer *body)
{
	msgpack_sbuffer post;
	msgpack_unpacked u;
	struct buddy_post_head back;
	const msgpack_object *b;
	int rc;

	msgpack_sbuffer_init(&post);
	rc = buddy_post_encode(h, (const uint8_t *)body->data, body->size, &post);
	CHECK(rc == 0 || rc == BUDDY_E_TOOBIG);
	if (rc == 0) {
		CHECK(post.size >= BUDDY_POST_MIN && post.size <= BUDDY_POST_MAX);
		msgpack_unpacked_init(&u);
		CHECK(buddy_post_decode((const uint8_t *)post.data, post.size, &u, &back, &b) == 0);
		CHECK(back.seq == h->seq && back.time == h->time && back.type == h->type &&
		      memcmp(back.prev, h->prev, sizeof(back.prev)) == 0);
		msgpack_unpacked_destroy(&u);
	} else {
		CHECK(post.size == 0);
	}
	msgpack_sbuffer_destroy(&post);
}

/* The body as the readers see it: each one that accepts it must agree with its writer. */
static void check_bodies(const struct buddy_post_head *h, const msgpack_object *body)
{
	struct buddy_post_commitment c, c2;
	struct buddy_post_entry e, e2;
	struct buddy_post_reaction r, r2;
	struct buddy_post_pause pa, pa2;
	uint64_t id, id2;
	msgpack_sbuffer sb;
	msgpack_unpacked u;

	for (int kind = 0; kind < 6; kind++) {
		int rc;

		msgpack_sbuffer_init(&sb);
		switch (kind) {
		case 0:
			rc = buddy_post_read_commitment(body, &c);
			if (rc == 0)
				CHECK(buddy_post_write_commitment(&sb, &c) == 0);
			break;
		case 1:
		case 2:
			rc = buddy_post_read_entry(body, kind == 1, &e);
			if (rc == 0) {
				CHECK((e.status != 0) == (kind == 1));
				CHECK(buddy_post_write_entry(&sb, &e) == 0);
			}
			break;
		case 3:
			rc = buddy_post_read_retraction(body, &id);
			if (rc == 0)
				CHECK(buddy_post_write_retraction(&sb, id) == 0);
			break;
		case 4:
			rc = buddy_post_read_reaction(body, &r);
			if (rc == 0)
				CHECK(buddy_post_write_reaction(&sb, &r) == 0);
			break;
		default:
			rc = buddy_post_read_pause(body, &pa);
			if (rc == 0)
				CHECK(buddy_post_write_pause(&sb, &pa) == 0);
			break;
		}
		CHECK(rc == 0 || rc == BUDDY_E_INVALID);
		if (rc == 0) {
			msgpack_unpacked_init(&u);
			CHECK(buddy_mp_decode((const uint8_t *)sb.data, sb.size, &body_limits,
					      &u) == 0);
			switch (kind) {
			case 0:
				CHECK(buddy_post_read_commitment(&u.data, &c2) == 0);
				same_commitment(&c, &c2);
				break;
			case 1:
			case 2:
				CHECK(buddy_post_read_entry(&u.data, kind == 1, &e2) == 0);
				same_entry(&e, &e2);
				break;
			case 3:
				CHECK(buddy_post_read_retraction(&u.data, &id2) == 0 && id == id2);
				break;
			case 4:
				CHECK(buddy_post_read_reaction(&u.data, &r2) == 0);
				same_reaction(&r, &r2);
				break;
			default:
				CHECK(buddy_post_read_pause(&u.data, &pa2) == 0);
				CHECK(strcmp(pa.commit, pa2.commit) == 0 && pa.from == pa2.from &&
				      pa.until_y == pa2.until_y && pa.until_m == pa2.until_m &&
				      pa.until_d == pa2.until_d &&
				      same_bytes(pa.reason, pa.reason_len, pa2.reason,
						 pa2.reason_len));
				break;
			}
			msgpack_unpacked_destroy(&u);
			check_envelope(h, &sb);
		} else {
			CHECK(sb.size == 0);
		}
		msgpack_sbuffer_destroy(&sb);
	}
}

static void check_post(const uint8_t *p, size_t len)
{
	msgpack_unpacked u;
	struct buddy_post_head h;
	const msgpack_object *body = NULL;
	uint8_t hash[BUDDY_POST_HASH_BYTES];
	int rc;

	msgpack_unpacked_init(&u);
	rc = buddy_post_decode(p, len, &u, &h, &body);
	if (rc == 0) {
		CHECK(body && body->type == MSGPACK_OBJECT_MAP && h.seq >= 1 && len > 0 &&
		      len <= BUDDY_POST_MAX);
		buddy_post_hash(p, len, hash);
		check_bodies(&h, body);
	} else {
		CHECK(rc == BUDDY_E_INVALID);
	}
	msgpack_unpacked_destroy(&u);
}

/* Encodes a sync message again and reads its body back. */
static const msgpack_object *reencoded(msgpack_sbuffer *sb, msgpack_unpacked *u, uint64_t want)
{
	const msgpack_object *body = NULL;
	uint64_t type = 0;

	msgpack_unpacked_init(u);
	CHECK(buddy_msg_decode((const uint8_t *)sb->data, sb->size, u, &type, &body) == 0);
	CHECK(type == want);
	return body;
}

static void check_sync(const msgpack_object *body)
{
	uint8_t x[BUDDY_POST_HASH_BYTES], x2[BUDDY_POST_HASH_BYTES];
	uint8_t s[BUDDY_POST_SIG_BYTES], s2[BUDDY_POST_SIG_BYTES];
	uint64_t h, h2, f, f2, e, e2;
	const msgpack_object *posts, *posts2;
	size_t n, n2;
	msgpack_sbuffer sb;
	msgpack_unpacked u;

	if (buddy_msg_heads_read(body, &h, x, &f, &e) == 0) {
		msgpack_sbuffer_init(&sb);
		CHECK(buddy_msg_heads_encode(&sb, h, x, f, e) == 0);
		CHECK(buddy_msg_heads_read(reencoded(&sb, &u, BUDDY_MSG_HEADS), &h2, x2, &f2,
					   &e2) == 0);
		CHECK(h == h2 && f == f2 && e == e2 && memcmp(x, x2, sizeof(x)) == 0);
		msgpack_unpacked_destroy(&u);
		msgpack_sbuffer_destroy(&sb);
	}
	if (buddy_msg_posts_read(body, &posts, &n, s) == 0) {
		const uint8_t *ptrs[BUDDY_POSTS_BATCH_MAX];
		size_t lens[BUDDY_POSTS_BATCH_MAX];

		CHECK(n >= 1 && n <= BUDDY_POSTS_BATCH_MAX);
		for (size_t i = 0; i < n; i++) {
			CHECK(posts[i].type == MSGPACK_OBJECT_BIN);
			ptrs[i] = (const uint8_t *)posts[i].via.bin.ptr;
			lens[i] = posts[i].via.bin.size;
			CHECK(lens[i] >= 1 && lens[i] <= BUDDY_POST_MAX);
			check_post(ptrs[i], lens[i]);
		}
		msgpack_sbuffer_init(&sb);
		CHECK(buddy_msg_posts_encode(&sb, ptrs, lens, n, s) == 0);
		CHECK(buddy_msg_posts_read(reencoded(&sb, &u, BUDDY_MSG_POSTS), &posts2, &n2, s2) ==
		      0);
		CHECK(n == n2 && memcmp(s, s2, sizeof(s)) == 0);
		for (size_t i = 0; i < n; i++)
			CHECK(same_bytes(ptrs[i], lens[i], posts2[i].via.bin.ptr,
					 posts2[i].via.bin.size));
		msgpack_unpacked_destroy(&u);
		msgpack_sbuffer_destroy(&sb);
	}
	if (buddy_msg_ack_read(body, &h, x, s) == 0) {
		msgpack_sbuffer_init(&sb);
		CHECK(buddy_msg_ack_encode(&sb, h, x, s) == 0);
		CHECK(buddy_msg_ack_read(reencoded(&sb, &u, BUDDY_MSG_ACK), &h2, x2, s2) == 0);
		CHECK(h == h2 && memcmp(x, x2, sizeof(x)) == 0 && memcmp(s, s2, sizeof(s)) == 0);
		msgpack_unpacked_destroy(&u);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void check_msg(const uint8_t *p, size_t len)
{
	msgpack_unpacked u;
	uint64_t type = 0;
	const msgpack_object *body = NULL;
	int rc;

	msgpack_unpacked_init(&u);
	rc = buddy_msg_decode(p, len, &u, &type, &body);
	if (rc == 0)
		check_sync(body); /* every reader, whatever the type says */
	else
		CHECK(rc == BUDDY_E_INVALID || rc == BUDDY_E_TOOBIG);
	msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact copy, so that reading one byte past the input is caught */
	uint8_t *p = malloc(size ? size : 1);

	if (!p)
		return 0;
	memcpy(p, data, size);
	check_post(p, size);
	check_msg(p, size);
	free(p);
	return 0;
}
