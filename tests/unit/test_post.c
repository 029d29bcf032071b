/* Share-stream posts and their sync messages (proto/PROTOCOL.md section 15).
 *
 * A post is [seq, prev, time, type, body, pad], padded with a bin 16 to the smallest of nine
 * size buckets, hashed with keyed BLAKE2b and chained by prev; the author signs the head of a
 * batch and the recipient signs a receipt. Body readers are strict about the keys they know
 * (type, length, value, at most once) and ignore the others; each writer refuses what its
 * reader would refuse. HEADS, POSTS and ACK bodies are read just as strictly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <sodium.h>

#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/peer_wire.h"
#include "buddy/post.h"

/* A byte array literal and its size, as two arguments. */
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})
#define COUNT(a)   (sizeof(a) / sizeof((a)[0]))

/* The worked example (section 15.10). */
#define EX_TIME1 1767225600
#define EX_TIME2 1767229200
#define EX_H1	 "2e3b1459235f18a94b3bd7fbd907c76a1037cfd0bc4fc6a298e5e797130dd8e5"
#define EX_H2	 "cb0b2efd37618c8e547f3b356646d6b30ea9ed8b828d9f4bd09a6c825c985164"
#define EX_HEAD_SIG                                                                                \
	"abfee7f7291fdeda1cfbd89e167d3951c31541e1f1ad651c1fc284a88d98762c"                         \
	"f2001fd5f417fdd5b024a2a27bd673923401edfbcc9dad3adba28501e28a7001"
#define EX_RECEIPT                                                                                 \
	"2f0d767e47ad7816a1927a0bac28ace0b99b12a8fa24111902c6c9b90bc88872"                         \
	"eed5033c3ae676bfe25f7c77ec41c57bb7adde9d080c3ce7a64e040c53dd6600"
#define EX_A "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
#define EX_B "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7"

/* [seq 1, prev zero, time, type 2] as written: fixarray 6, bin 8 of 32, uint 32. */
#define EX_HEAD_LEN 42
/* the bytes of {e: 1, c: "run", at: 1767225600, s: "done", t: "5 km"} */
static const uint8_t ex_body1[] = {0x85, 0xa1, 0x65, 0x01, 0xa1, 0x63, 0xa3, 0x72, 0x75, 0x6e, 0xa2,
				   0x61, 0x74, 0xce, 0x69, 0x55, 0xb9, 0x00, 0xa1, 0x73, 0xa4, 0x64,
				   0x6f, 0x6e, 0x65, 0xa1, 0x74, 0xa4, 0x35, 0x20, 0x6b, 0x6d};

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &len, NULL), 0);
	assert_int_equal(len, n);
}

struct keypair {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
};

/* Key A from the seed 00..1f, key B from 20..3f (section 4.2). */
static void example_keys(struct keypair *a, struct keypair *b)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)i;
	assert_int_equal(crypto_sign_seed_keypair(a->pk, a->sk, seed), 0);
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(0x20 + i);
	assert_int_equal(crypto_sign_seed_keypair(b->pk, b->sk, seed), 0);
}

/* Encodes one post around the body in `body` into *out (initialised here). */
static int encode(uint64_t seq, const uint8_t *prev, int64_t time, uint64_t type,
		  const msgpack_sbuffer *body, msgpack_sbuffer *out)
{
	struct buddy_post_head h = {.seq = seq, .time = time, .type = type};

	if (prev)
		memcpy(h.prev, prev, sizeof(h.prev));
	msgpack_sbuffer_init(out);
	return buddy_post_encode(&h, (const uint8_t *)body->data, body->size, out);
}

static void example_posts(msgpack_sbuffer *p1, msgpack_sbuffer *p2)
{
	struct buddy_post_entry e = {.e = 1,
				     .at = EX_TIME1,
				     .status = BUDDY_CHECKIN_DONE,
				     .text = "5 km",
				     .text_len = 4};
	struct buddy_post_reaction r = {
		.e = 7, .kind = BUDDY_REACTION_CHEER, .text = "", .text_len = 0};
	uint8_t h1[BUDDY_POST_HASH_BYTES];
	msgpack_sbuffer body;

	strcpy(e.commit, "run");
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &e), 0);
	assert_int_equal(body.size, sizeof(ex_body1));
	assert_memory_equal(body.data, ex_body1, sizeof(ex_body1));
	assert_int_equal(encode(1, NULL, EX_TIME1, BUDDY_POST_CHECKIN, &body, p1), 0);
	msgpack_sbuffer_destroy(&body);

	buddy_post_hash((const uint8_t *)p1->data, p1->size, h1);
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_reaction(&body, &r), 0);
	assert_int_equal(encode(2, h1, EX_TIME2, BUDDY_POST_REACTION, &body, p2), 0);
	msgpack_sbuffer_destroy(&body);
}

static void test_worked_example_posts(void **state)
{
	static const uint8_t head1[EX_HEAD_LEN] = {0x96, 0x01, 0xc4, 0x20, [36] = 0xce,
						   0x69, 0x55, 0xb9, 0x00, 0x02};
	msgpack_sbuffer p1, p2;
	uint8_t h[BUDDY_POST_HASH_BYTES], want[BUDDY_POST_HASH_BYTES];
	const uint8_t *b;

	(void)state;
	example_posts(&p1, &p2);
	b = (const uint8_t *)p1.data;
	/* 74 bytes unpadded, padded to 256 with a 179-byte pad */
	assert_int_equal(p1.size, 256);
	assert_memory_equal(b, head1, EX_HEAD_LEN);
	assert_memory_equal(b + EX_HEAD_LEN, ex_body1, sizeof(ex_body1));
	assert_memory_equal(b + 74, ((const uint8_t[]){0xc5, 0x00, 0xb3}), 3);
	for (size_t i = 77; i < p1.size; i++)
		assert_int_equal(b[i], 0);
	buddy_post_hash(b, p1.size, h);
	unhex(EX_H1, want, sizeof(want));
	assert_memory_equal(h, want, sizeof(h));

	assert_int_equal(p2.size, 256);
	assert_int_equal((uint8_t)p2.data[0], 0x96);
	assert_memory_equal(p2.data + 4, want, sizeof(want)); /* prev = H(post 1) */
	buddy_post_hash((const uint8_t *)p2.data, p2.size, h);
	unhex(EX_H2, want, sizeof(want));
	assert_memory_equal(h, want, sizeof(h));
	msgpack_sbuffer_destroy(&p1);
	msgpack_sbuffer_destroy(&p2);
}

static void test_worked_example_signatures(void **state)
{
	struct keypair a, b;
	uint8_t pk[32], hash[BUDDY_POST_HASH_BYTES], sig[BUDDY_POST_SIG_BYTES];
	uint8_t want[BUDDY_POST_SIG_BYTES];

	(void)state;
	example_keys(&a, &b);
	unhex(EX_A, pk, sizeof(pk));
	assert_memory_equal(a.pk, pk, sizeof(pk));
	unhex(EX_B, pk, sizeof(pk));
	assert_memory_equal(b.pk, pk, sizeof(pk));
	unhex(EX_H2, hash, sizeof(hash));

	buddy_post_sign_head(sig, a.sk, a.pk, b.pk, 2, hash);
	unhex(EX_HEAD_SIG, want, sizeof(want));
	assert_memory_equal(sig, want, sizeof(sig));
	assert_int_equal(buddy_post_verify_head(sig, a.pk, b.pk, 2, hash), 0);

	buddy_post_sign_receipt(sig, b.sk, a.pk, b.pk, 2, hash);
	unhex(EX_RECEIPT, want, sizeof(want));
	assert_memory_equal(sig, want, sizeof(sig));
	assert_int_equal(buddy_post_verify_receipt(sig, a.pk, b.pk, 2, hash), 0);
}

/* The example posts decode to what was written, and chain. */
static void test_worked_example_decodes(void **state)
{
	msgpack_sbuffer p1, p2;
	msgpack_unpacked u;
	struct buddy_post_head h;
	const msgpack_object *body = NULL;
	struct buddy_post_entry e;
	struct buddy_post_reaction r;
	uint8_t h1[BUDDY_POST_HASH_BYTES];

	(void)state;
	example_posts(&p1, &p2);
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_post_decode((const uint8_t *)p1.data, p1.size, &u, &h, &body), 0);
	assert_true(h.seq == 1 && h.time == EX_TIME1 && h.type == BUDDY_POST_CHECKIN);
	assert_true(sodium_is_zero(h.prev, sizeof(h.prev)));
	assert_int_equal(buddy_post_read_entry(body, true, &e), 0);
	assert_true(e.e == 1 && e.at == EX_TIME1);
	assert_string_equal(e.commit, "run");
	assert_int_equal(e.status, BUDDY_CHECKIN_DONE);
	assert_int_equal(e.text_len, 4);
	assert_memory_equal(e.text, "5 km", 4);
	assert_false(e.has_value);
	assert_string_equal(e.unit, "");
	assert_int_equal(e.ntags, 0);
	msgpack_unpacked_destroy(&u);

	buddy_post_hash((const uint8_t *)p1.data, p1.size, h1);
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_post_decode((const uint8_t *)p2.data, p2.size, &u, &h, &body), 0);
	assert_true(h.seq == 2 && h.time == EX_TIME2 && h.type == BUDDY_POST_REACTION);
	assert_memory_equal(h.prev, h1, sizeof(h1));
	assert_int_equal(buddy_post_read_reaction(body, &r), 0);
	assert_true(r.e == 7 && r.kind == BUDDY_REACTION_CHEER && r.text_len == 0);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&p1);
	msgpack_sbuffer_destroy(&p2);
}

/* ---- padding ---- */

/* The head [seq 1, prev zero, time 0, type 3] is 38 bytes. */
#define PAD_TEST_HEAD 38
#define PAD_HEADER    3

/* A body {"x": str16 of filler} of exactly n bytes (6 <= n <= 6 + 65535). */
static void body_of_size(msgpack_sbuffer *sb, size_t n)
{
	size_t len = n - 6;
	uint8_t hdr[6] = {0x81, 0xa1, 'x', 0xda, (uint8_t)(len >> 8), (uint8_t)len};
	char *fill = malloc(len ? len : 1);

	assert_true(n >= 6 && len <= UINT16_MAX);
	assert_non_null(fill);
	memset(fill, 'y', len);
	msgpack_sbuffer_init(sb);
	msgpack_sbuffer_write(sb, (const char *)hdr, sizeof(hdr));
	msgpack_sbuffer_write(sb, fill, len);
	free(fill);
}

/* Encodes a post whose unpadded length plus the pad's header is `need`; returns its size, or
 * the error. The post decodes, its pad is bin 16 of zeros, and its body is the given one. */
static long post_size_for(size_t need)
{
	msgpack_sbuffer body, post;
	msgpack_unpacked u;
	struct buddy_post_head h;
	const msgpack_object *b;
	long rc;

	body_of_size(&body, need - PAD_HEADER - PAD_TEST_HEAD);
	rc = encode(1, NULL, 0, BUDDY_POST_NOTE, &body, &post);
	if (rc == 0) {
		const uint8_t *p = (const uint8_t *)post.data;
		size_t pad = post.size - need;

		rc = (long)post.size;
		assert_memory_equal(p + PAD_TEST_HEAD, body.data, body.size);
		assert_int_equal(p[need - PAD_HEADER], 0xc5);
		assert_int_equal((size_t)p[need - 2] << 8 | p[need - 1], pad);
		assert_true(pad == 0 || sodium_is_zero(p + need, pad));
		msgpack_unpacked_init(&u);
		assert_int_equal(buddy_post_decode(p, post.size, &u, &h, &b), 0);
		assert_int_equal(b->type, MSGPACK_OBJECT_MAP);
		assert_int_equal(b->via.map.ptr[0].val.via.str.size, body.size - 6);
		msgpack_unpacked_destroy(&u);
	} else {
		assert_int_equal(post.size, 0); /* nothing appended */
	}
	msgpack_sbuffer_destroy(&post);
	msgpack_sbuffer_destroy(&body);
	return rc;
}

static void test_padding_buckets(void **state)
{
	static const size_t buckets[] = {256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65024};

	(void)state;
	/* well below the first bucket, then exactly at each bucket and one over it */
	assert_int_equal(post_size_for(PAD_TEST_HEAD + 6 + PAD_HEADER), 256);
	for (size_t i = 0; i < COUNT(buckets); i++) {
		assert_int_equal(post_size_for(buckets[i]), buckets[i]);
		if (i + 1 < COUNT(buckets))
			assert_int_equal(post_size_for(buckets[i] + 1), buckets[i + 1]);
	}
	/* content that does not fit the largest bucket cannot be posted */
	assert_int_equal(post_size_for(BUDDY_POST_MAX + 1), BUDDY_E_TOOBIG);
	assert_int_equal(post_size_for(BUDDY_POST_MAX + 400), BUDDY_E_TOOBIG);
}

static void test_encode_refusals(void **state)
{
	struct buddy_post_head h = {.seq = 1};
	msgpack_sbuffer out;
	uint8_t *big;

	(void)state;
	msgpack_sbuffer_init(&out);
	msgpack_sbuffer_write(&out, "keep", 4);
	/* seq 0; a first post whose prev is not zero */
	h.seq = 0;
	assert_int_equal(buddy_post_encode(&h, BYTES(0x80), &out), BUDDY_E_INVALID);
	h.seq = 1;
	h.prev[31] = 1;
	assert_int_equal(buddy_post_encode(&h, BYTES(0x80), &out), BUDDY_E_INVALID);
	h.seq = 2;
	assert_int_equal(buddy_post_encode(&h, BYTES(0x80), &out), 0);
	assert_int_equal(out.size, 4 + 256);
	out.size = 4;
	/* bodies that are not exactly one map */
	assert_int_equal(buddy_post_encode(&h, NULL, 0, &out), BUDDY_E_INVALID);
	assert_int_equal(buddy_post_encode(&h, BYTES(0x90), &out), BUDDY_E_INVALID);
	assert_int_equal(buddy_post_encode(&h, BYTES(0xa1, 'x'), &out), BUDDY_E_INVALID);
	assert_int_equal(buddy_post_encode(&h, BYTES(0x80, 0x80), &out), BUDDY_E_INVALID);
	assert_int_equal(buddy_post_encode(&h, BYTES(0x81, 0xa1, 'x'), &out), BUDDY_E_INVALID);
	assert_int_equal(buddy_post_encode(&h, BYTES(0x81, 0xa1, 'x', 0xd4, 1, 1), &out),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_post_encode(&h, BYTES(0x81, 0xa1, 'x', 0xc1), &out),
			 BUDDY_E_INVALID);
	/* a body nested too deep for a post (the array and the body are 2 of the 4 levels) */
	assert_int_equal(buddy_post_encode(&h, BYTES(0x81, 0xa1, 'x', 0x91, 0x91, 0x90), &out),
			 BUDDY_E_TOOBIG);
	assert_int_equal(buddy_post_encode(&h, BYTES(0x81, 0xa1, 'x', 0x91, 0x90), &out), 0);
	out.size = 4;
	/* a body longer than any post */
	big = calloc(1, BUDDY_POST_MAX + 8);
	assert_non_null(big);
	memcpy(big, (const uint8_t[]){0x81, 0xa1, 'x', 0xc6, 0, 0, 0xfe, 0x01}, 8);
	assert_int_equal(buddy_post_encode(&h, big, BUDDY_POST_MAX + 1, &out), BUDDY_E_TOOBIG);
	free(big);
	assert_int_equal(out.size, 4);
	assert_memory_equal(out.data, "keep", 4);
	msgpack_sbuffer_destroy(&out);
}

/* Extremes of the envelope's numbers survive a round trip. */
static void test_envelope_roundtrip(void **state)
{
	static const struct buddy_post_head heads[] = {
		{.seq = UINT64_MAX, .prev = {1, 2, 3}, .time = INT64_MIN, .type = 0},
		{.seq = 2, .time = -1, .type = UINT64_MAX},
		{.seq = 1, .time = INT64_MAX, .type = 99},
	};
	msgpack_sbuffer out;
	msgpack_unpacked u;
	struct buddy_post_head h;
	const msgpack_object *body;

	(void)state;
	for (size_t i = 0; i < COUNT(heads); i++) {
		msgpack_sbuffer_init(&out);
		assert_int_equal(buddy_post_encode(&heads[i], BYTES(0x80), &out), 0);
		assert_int_equal(out.size, BUDDY_POST_MIN);
		msgpack_unpacked_init(&u);
		assert_int_equal(
			buddy_post_decode((const uint8_t *)out.data, out.size, &u, &h, &body), 0);
		assert_true(h.seq == heads[i].seq && h.time == heads[i].time &&
			    h.type == heads[i].type);
		assert_memory_equal(h.prev, heads[i].prev, sizeof(h.prev));
		assert_int_equal(body->via.map.size, 0);
		msgpack_unpacked_destroy(&u);
		msgpack_sbuffer_destroy(&out);
	}
}

/* ---- envelope decoding ---- */

/* Envelope fields for posts built by hand. */
enum field {
	F_UINT0,
	F_UINT1,
	F_UINT2,
	F_INT64_1,	  /* 1 in the int 64 format (a uint, section 10) */
	F_PREV_BIN32_FMT, /* 32 zero bytes in the bin 32 format */
	F_RESERVED,	  /* the byte 0xc1 */
	F_NEG,
	F_FLOAT,
	F_NIL,
	F_STR,
	F_STR32,
	F_BIN31,
	F_BIN32,
	F_BIN32_ONE, /* 32 bytes, not all zero */
	F_BIN33,
	F_BIN0,
	F_BIN_PAD, /* 100 zero bytes in bin 8 */
	F_TIME,
	F_UINT64_MAX,
	F_MAP0,
	F_MAP_X, /* {"x": 1} */
	F_ARRAY0,
	F_EXT,	    /* fixext 1 */
	F_MAP_EXT,  /* {"x": fixext 1} */
	F_DEEP,	    /* {"x": [[]]}: the post is 4 deep */
	F_TOO_DEEP, /* {"x": [[[]]]}: 5 deep */
};

static void pack_field(msgpack_packer *pk, enum field f)
{
	static const uint8_t zeros[100], one[32] = {[5] = 1};

	switch (f) {
	case F_UINT0:
	case F_UINT1:
	case F_UINT2:
		msgpack_pack_uint64(pk, (uint64_t)(f - F_UINT0));
		break;
	case F_INT64_1:
		pk->callback(pk->data, "\xd3\0\0\0\0\0\0\0\x01", 9);
		break;
	case F_PREV_BIN32_FMT:
		pk->callback(pk->data, "\xc6\0\0\0\x20", 5);
		pk->callback(pk->data, (const char *)zeros, 32);
		break;
	case F_RESERVED:
		pk->callback(pk->data, "\xc1", 1);
		break;
	case F_NEG:
		msgpack_pack_int64(pk, -5);
		break;
	case F_FLOAT:
		msgpack_pack_double(pk, 1.0);
		break;
	case F_NIL:
		msgpack_pack_nil(pk);
		break;
	case F_STR:
		buddy_mp_pack_cstr(pk, "x");
		break;
	case F_STR32:
		buddy_mp_pack_strn(pk, (const char *)zeros, 32);
		break;
	case F_BIN31:
		buddy_mp_pack_bin(pk, zeros, 31);
		break;
	case F_BIN32:
		buddy_mp_pack_bin(pk, zeros, 32);
		break;
	case F_BIN32_ONE:
		buddy_mp_pack_bin(pk, one, 32);
		break;
	case F_BIN33:
		buddy_mp_pack_bin(pk, zeros, 33);
		break;
	case F_BIN0:
		buddy_mp_pack_bin(pk, zeros, 0);
		break;
	case F_BIN_PAD:
		buddy_mp_pack_bin(pk, zeros, 100);
		break;
	case F_TIME:
		msgpack_pack_int64(pk, EX_TIME1);
		break;
	case F_UINT64_MAX:
		msgpack_pack_uint64(pk, UINT64_MAX);
		break;
	case F_MAP0:
		msgpack_pack_map(pk, 0);
		break;
	case F_MAP_X:
		msgpack_pack_map(pk, 1);
		buddy_mp_pack_cstr(pk, "x");
		msgpack_pack_uint64(pk, 1);
		break;
	case F_ARRAY0:
		msgpack_pack_array(pk, 0);
		break;
	case F_MAP_EXT:
		msgpack_pack_map(pk, 1);
		buddy_mp_pack_cstr(pk, "x");
		/* fall through */
	case F_EXT:
		msgpack_pack_ext(pk, 1, 1);
		msgpack_pack_ext_body(pk, "x", 1);
		break;
	case F_DEEP:
	case F_TOO_DEEP:
		msgpack_pack_map(pk, 1);
		buddy_mp_pack_cstr(pk, "x");
		msgpack_pack_array(pk, 1);
		if (f == F_TOO_DEEP)
			msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 0);
		break;
	}
}

/* A post of the given fields, in an array of that many elements. */
static void pack_post(msgpack_sbuffer *sb, const enum field *f, size_t n)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		pack_field(&pk, f[i]);
}

static int decode(const void *p, size_t len)
{
	msgpack_unpacked u;
	struct buddy_post_head h;
	const msgpack_object *body = NULL;
	int rc;

	memset(&h, 0x5a, sizeof(h));
	msgpack_unpacked_init(&u);
	rc = buddy_post_decode(p, len, &u, &h, &body);
	msgpack_unpacked_destroy(&u);
	if (rc) {
		/* nothing is written on failure */
		assert_true(h.seq == 0x5a5a5a5a5a5a5a5aULL);
		assert_null(body);
	}
	return rc;
}

static int decode_fields(const enum field *f, size_t n)
{
	msgpack_sbuffer sb;
	int rc;

	pack_post(&sb, f, n);
	rc = decode(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void test_decode_by_hand(void **state)
{
	static const enum field valid[6] = {F_UINT1, F_BIN32, F_TIME, F_UINT2, F_MAP_X, F_BIN_PAD};
	static const struct {
		size_t at;
		enum field f;
		int rc;
	} cases[] = {
		/* seq: a uint >= 1 */
		{0, F_UINT0, BUDDY_E_INVALID},
		{0, F_NEG, BUDDY_E_INVALID},
		{0, F_FLOAT, BUDDY_E_INVALID},
		{0, F_STR, BUDDY_E_INVALID},
		{0, F_NIL, BUDDY_E_INVALID},
		{0, F_UINT64_MAX, 0},
		{0, F_INT64_1, 0},
		/* prev: bin of exactly 32; zero for seq 1 */
		{1, F_BIN31, BUDDY_E_INVALID},
		{1, F_BIN33, BUDDY_E_INVALID},
		{1, F_BIN0, BUDDY_E_INVALID},
		{1, F_STR32, BUDDY_E_INVALID},
		{1, F_NIL, BUDDY_E_INVALID},
		{1, F_BIN32_ONE, BUDDY_E_INVALID},
		{1, F_PREV_BIN32_FMT, 0},
		/* time: any int */
		{2, F_NEG, 0},
		{2, F_UINT0, 0},
		{2, F_FLOAT, BUDDY_E_INVALID},
		{2, F_STR, BUDDY_E_INVALID},
		{2, F_UINT64_MAX, BUDDY_E_INVALID},
		/* type: a uint, known or not */
		{3, F_UINT64_MAX, 0},
		{3, F_UINT0, 0},
		{3, F_NEG, BUDDY_E_INVALID},
		{3, F_STR, BUDDY_E_INVALID},
		/* body: a map, at most 4 levels deep with the envelope */
		{4, F_MAP0, 0},
		{4, F_DEEP, 0},
		{4, F_TOO_DEEP, BUDDY_E_INVALID},
		{4, F_ARRAY0, BUDDY_E_INVALID},
		{4, F_NIL, BUDDY_E_INVALID},
		{4, F_BIN0, BUDDY_E_INVALID},
		/* pad: any bin, even an empty or unpadded one; never a str */
		{5, F_BIN0, 0},
		{5, F_BIN33, 0},
		{5, F_STR, BUDDY_E_INVALID},
		{5, F_NIL, BUDDY_E_INVALID},
		{5, F_MAP0, BUDDY_E_INVALID},
		/* ext types and the reserved byte, anywhere */
		{4, F_MAP_EXT, BUDDY_E_INVALID},
		{5, F_EXT, BUDDY_E_INVALID},
		{0, F_RESERVED, BUDDY_E_INVALID},
		{5, F_RESERVED, BUDDY_E_INVALID},
	};
	enum field f[7];

	(void)state;
	assert_int_equal(decode_fields(valid, 6), 0);
	for (size_t i = 0; i < COUNT(cases); i++) {
		int rc;

		memcpy(f, valid, sizeof(valid));
		f[cases[i].at] = cases[i].f;
		rc = decode_fields(f, 6);
		if (rc != cases[i].rc)
			fail_msg("field %zu = %d: %d", cases[i].at, cases[i].f, rc);
	}
	/* seq 2 may name any prev */
	memcpy(f, valid, sizeof(valid));
	f[0] = F_UINT2;
	f[1] = F_BIN32_ONE;
	assert_int_equal(decode_fields(f, 6), 0);
	/* exactly six elements */
	assert_int_equal(decode_fields(valid, 5), BUDDY_E_INVALID);
	memcpy(f, valid, sizeof(valid));
	f[6] = F_BIN0;
	assert_int_equal(decode_fields(f, 7), BUDDY_E_INVALID);
	assert_int_equal(decode_fields(NULL, 0), BUDDY_E_INVALID);
}

static void test_decode_malformed(void **state)
{
	msgpack_sbuffer p1, p2;
	uint8_t *buf;

	(void)state;
	example_posts(&p1, &p2);
	assert_int_equal(decode(p1.data, p1.size), 0);
	/* every truncation, and a trailing byte */
	for (size_t n = 0; n < p1.size; n++)
		assert_int_equal(decode(p1.data, n), BUDDY_E_INVALID);
	buf = malloc(p1.size + p2.size);
	assert_non_null(buf);
	memcpy(buf, p1.data, p1.size);
	buf[p1.size] = 0xc0;
	assert_int_equal(decode(buf, p1.size + 1), BUDDY_E_INVALID);
	/* two posts are not one */
	memcpy(buf + p1.size, p2.data, p2.size);
	assert_int_equal(decode(buf, p1.size + p2.size), BUDDY_E_INVALID);
	free(buf);
	/* not an array */
	assert_int_equal(decode(BYTES(0x81, 0x01, 0x01)), BUDDY_E_INVALID);
	assert_int_equal(decode(NULL, 0), BUDDY_E_INVALID);
	msgpack_sbuffer_destroy(&p1);
	msgpack_sbuffer_destroy(&p2);
}

static void test_decode_limits(void **state)
{
	size_t size = BUDDY_POST_MAX + 64;
	uint8_t *buf = calloc(1, size);
	/* [2, prev, 0, 3, {}, bin32 pad]: 1 + 1 + 34 + 1 + 1 + 1 + 5 = 44 bytes before the pad */
	static const uint8_t head[] = {0x96, 0x02, 0xc4, 0x20, [36] = 0x00, 0x03, 0x80, 0xc6};
	size_t pad;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, head, sizeof(head));
	for (int extra = 0; extra < 2; extra++) {
		pad = BUDDY_POST_MAX - 44 + (size_t)extra;
		buf[40] = (uint8_t)(pad >> 24);
		buf[41] = (uint8_t)(pad >> 16);
		buf[42] = (uint8_t)(pad >> 8);
		buf[43] = (uint8_t)pad;
		assert_int_equal(decode(buf, 44 + pad), extra ? BUDDY_E_INVALID : 0);
	}

	/* objects: the envelope is 6, a body {"x": [nil x k]} is 3 + k: 512 in all is the limit */
	memset(buf, 0xc0, size);
	memcpy(buf, head, 38);
	for (int extra = 0; extra < 2; extra++) {
		size_t k = 503 + (size_t)extra;

		memcpy(buf + 38, (const uint8_t[]){0x81, 0xa1, 'x', 0xdc, 0, 0}, 6);
		buf[42] = (uint8_t)(k >> 8);
		buf[43] = (uint8_t)k;
		memcpy(buf + 44 + k, (const uint8_t[]){0xc4, 0x00}, 2);
		assert_int_equal(decode(buf, 46 + k), extra ? BUDDY_E_INVALID : 0);
		memset(buf + 44 + k, 0xc0, 2);
	}
	free(buf);
}

/* ---- bodies ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
	buddy_mp_pack_cstr(pk, s);
}

/* a string of n copies of c */
static void pack_rep(msgpack_packer *pk, char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	buddy_mp_pack_strn(pk, s, n);
	free(s);
}

/* Values to build bodies with by hand. */
enum val {
	V_UINT0,
	V_UINT1,
	V_UINT7,
	V_UINT_HUGE, /* 2^64 - 1: a uint, but no int */
	V_NEG,
	V_TIME,
	V_FLOAT,
	V_FLOAT32,
	V_INT_VALUE, /* 5 as an int where a float is expected */
	V_NAN,
	V_INF,
	V_NIL,
	V_TRUE,
	V_FALSE,
	V_EMPTY,
	V_RUN,
	V_RUN_BIN,
	V_SLUG_UPPER,
	V_SLUG_DASH,
	V_SLUG_33,
	V_SLUG_32,
	V_SLUG_NUL,
	V_TITLE,
	V_TITLE_NL,
	V_TITLE_200,
	V_TITLE_201,
	V_TEXT,
	V_TEXT_ML, /* newline and tab */
	V_TEXT_CTRL,
	V_TEXT_DEL,
	V_TEXT_C1,
	V_TEXT_UTF8,
	V_TEXT_BAD_UTF8,
	V_TEXT_NUL,
	V_TEXT_1000,
	V_TEXT_1001,
	V_TEXT_MAX,
	V_TEXT_OVER,
	V_DONE,
	V_PARTIAL,
	V_SKIP,
	V_STATUS_BAD,
	V_CHEER,
	V_COMMENT,
	V_KIND_BAD,
	V_TZ,
	V_TZ_DOTS,
	V_TZ_ROOT,
	V_TZ_SPACE,
	V_TZ_64,
	V_TZ_65,
	V_UNIT,
	V_UNIT_16,
	V_UNIT_17,
	V_UNIT_NL,
	V_TAGS,
	V_TAGS_16,
	V_TAGS_17,
	V_TAGS_EMPTY,
	V_TAGS_SPACE,
	V_TAGS_COMMA,
	V_TAGS_33,
	V_TAGS_INT,
	V_TAGS_BIN,
	V_CAD_DAILY,
	V_CAD_WEEKLY_3,
	V_CAD_MONTHLY_1000,
	V_CAD_BY,
	V_CAD_BY_LEAP,
	V_CAD_DAILY_BY_JUNK, /* daily with a "by" of the wrong type: ignored */
	V_CAD_UNKNOWN_KEY,
	V_CAD_DAILY_2,
	V_CAD_WEEKLY_0,
	V_CAD_WEEKLY_1001,
	V_CAD_BY_N2,
	V_CAD_BY_FEB29,
	V_CAD_BY_SHAPE,
	V_CAD_BY_1969,
	V_CAD_BY_MISSING,
	V_CAD_BY_BIN,
	V_CAD_KIND_BAD,
	V_CAD_NO_K,
	V_CAD_NO_N,
	V_CAD_N_STR,
	V_CAD_DUP_K,
	V_MAP0,
	V_ARRAY0,
	V_DATE,
	V_DATE_LEAP,
	V_DATE_FEB29,
	V_DATE_SHAPE,
	V_DATE_1969,
	V_DATE_BIN,
};

static void pack_cad(msgpack_packer *pk, const char *k, int64_t n, const char *by)
{
	msgpack_pack_map(pk, (k ? 1 : 0) + (n >= 0 ? 1 : 0) + (by ? 1 : 0));
	if (k) {
		pack_str(pk, "k");
		pack_str(pk, k);
	}
	if (n >= 0) {
		pack_str(pk, "n");
		msgpack_pack_int64(pk, n);
	}
	if (by) {
		pack_str(pk, "by");
		pack_str(pk, by);
	}
}

static void pack_tags(msgpack_packer *pk, size_t n, const char *tag)
{
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		pack_str(pk, tag);
}

static void pack_val(msgpack_packer *pk, enum val v)
{
	switch (v) {
	case V_UINT0:
		msgpack_pack_uint64(pk, 0);
		break;
	case V_UINT1:
		msgpack_pack_uint64(pk, 1);
		break;
	case V_UINT7:
		msgpack_pack_uint64(pk, 7);
		break;
	case V_UINT_HUGE:
		msgpack_pack_uint64(pk, UINT64_MAX);
		break;
	case V_NEG:
		msgpack_pack_int64(pk, -1);
		break;
	case V_TIME:
		msgpack_pack_int64(pk, EX_TIME1);
		break;
	case V_FLOAT:
		msgpack_pack_double(pk, 5.25);
		break;
	case V_FLOAT32:
		msgpack_pack_float(pk, 0.5f);
		break;
	case V_INT_VALUE:
		msgpack_pack_int64(pk, 5);
		break;
	case V_NAN:
		msgpack_pack_double(pk, NAN);
		break;
	case V_INF:
		msgpack_pack_double(pk, -INFINITY);
		break;
	case V_NIL:
		msgpack_pack_nil(pk);
		break;
	case V_TRUE:
		msgpack_pack_true(pk);
		break;
	case V_FALSE:
		msgpack_pack_false(pk);
		break;
	case V_EMPTY:
		pack_str(pk, "");
		break;
	case V_RUN:
		pack_str(pk, "run");
		break;
	case V_RUN_BIN:
		buddy_mp_pack_bin(pk, "run", 3);
		break;
	case V_SLUG_UPPER:
		pack_str(pk, "Run");
		break;
	case V_SLUG_DASH:
		pack_str(pk, "-run");
		break;
	case V_SLUG_33:
		pack_rep(pk, 'a', 33);
		break;
	case V_SLUG_32:
		pack_rep(pk, 'a', 32);
		break;
	case V_SLUG_NUL:
		buddy_mp_pack_strn(pk, "run\0", 4);
		break;
	case V_TITLE:
		pack_str(pk, "Run 5 km, évidemment");
		break;
	case V_TITLE_NL:
		pack_str(pk, "Run\nfast");
		break;
	case V_TITLE_200:
		pack_rep(pk, 't', 200);
		break;
	case V_TITLE_201:
		pack_rep(pk, 't', 201);
		break;
	case V_TEXT:
		pack_str(pk, "5 km");
		break;
	case V_TEXT_ML:
		pack_str(pk, "line one\n\tline two");
		break;
	case V_TEXT_CTRL:
		pack_str(pk, "a\x01");
		break;
	case V_TEXT_DEL:
		pack_str(pk, "a\x7f");
		break;
	case V_TEXT_C1:
		pack_str(pk, "a\xc2\x85");
		break;
	case V_TEXT_UTF8:
		pack_str(pk, "\xe2\x9c\x93 \xf0\x9f\x8f\x83");
		break;
	case V_TEXT_BAD_UTF8:
		pack_str(pk, "a\xff");
		break;
	case V_TEXT_NUL:
		buddy_mp_pack_strn(pk, "a\0b", 3);
		break;
	case V_TEXT_1000:
		pack_rep(pk, 'r', BUDDY_REACTION_TEXT_MAX);
		break;
	case V_TEXT_1001:
		pack_rep(pk, 'r', BUDDY_REACTION_TEXT_MAX + 1);
		break;
	case V_TEXT_MAX:
		pack_rep(pk, 'x', BUDDY_TEXT_MAX);
		break;
	case V_TEXT_OVER:
		pack_rep(pk, 'x', BUDDY_TEXT_MAX + 1);
		break;
	case V_DONE:
		pack_str(pk, "done");
		break;
	case V_PARTIAL:
		pack_str(pk, "partial");
		break;
	case V_SKIP:
		pack_str(pk, "skip");
		break;
	case V_STATUS_BAD:
		pack_str(pk, "Done");
		break;
	case V_CHEER:
		pack_str(pk, "cheer");
		break;
	case V_COMMENT:
		pack_str(pk, "comment");
		break;
	case V_KIND_BAD:
		pack_str(pk, "like");
		break;
	case V_TZ:
		pack_str(pk, "America/Argentina/Buenos_Aires");
		break;
	case V_TZ_DOTS:
		pack_str(pk, "Europe/../../etc/passwd");
		break;
	case V_TZ_ROOT:
		pack_str(pk, "/etc/localtime");
		break;
	case V_TZ_SPACE:
		pack_str(pk, "Europe/Ber lin");
		break;
	case V_TZ_64:
		pack_rep(pk, 'Z', BUDDY_TZ_MAX);
		break;
	case V_TZ_65:
		pack_rep(pk, 'Z', BUDDY_TZ_MAX + 1);
		break;
	case V_UNIT:
		pack_str(pk, "km");
		break;
	case V_UNIT_16:
		pack_rep(pk, 'u', BUDDY_UNIT_MAX);
		break;
	case V_UNIT_17:
		pack_rep(pk, 'u', BUDDY_UNIT_MAX + 1);
		break;
	case V_UNIT_NL:
		pack_str(pk, "k\nm");
		break;
	case V_TAGS:
		msgpack_pack_array(pk, 2);
		pack_str(pk, "morning");
		pack_str(pk, "\xc3\xa9t\xc3\xa9");
		break;
	case V_TAGS_16:
		pack_tags(pk, BUDDY_TAGS_MAX, "t");
		break;
	case V_TAGS_17:
		pack_tags(pk, BUDDY_TAGS_MAX + 1, "t");
		break;
	case V_TAGS_EMPTY:
		msgpack_pack_array(pk, 0);
		break;
	case V_TAGS_SPACE:
		pack_tags(pk, 1, "a b");
		break;
	case V_TAGS_COMMA:
		pack_tags(pk, 1, "a,b");
		break;
	case V_TAGS_33:
		msgpack_pack_array(pk, 1);
		pack_rep(pk, 'g', BUDDY_TAG_MAX + 1);
		break;
	case V_TAGS_INT:
		msgpack_pack_array(pk, 1);
		msgpack_pack_uint64(pk, 1);
		break;
	case V_TAGS_BIN:
		msgpack_pack_array(pk, 1);
		buddy_mp_pack_bin(pk, "t", 1);
		break;
	case V_CAD_DAILY:
		pack_cad(pk, "daily", 1, NULL);
		break;
	case V_CAD_WEEKLY_3:
		pack_cad(pk, "weekly", 3, NULL);
		break;
	case V_CAD_MONTHLY_1000:
		pack_cad(pk, "monthly", BUDDY_CADENCE_N_MAX, NULL);
		break;
	case V_CAD_BY:
		pack_cad(pk, "by", 1, "2026-02-28");
		break;
	case V_CAD_BY_LEAP:
		pack_cad(pk, "by", 1, "2028-02-29");
		break;
	case V_CAD_DAILY_BY_JUNK:
		msgpack_pack_map(pk, 3);
		pack_str(pk, "k");
		pack_str(pk, "daily");
		pack_str(pk, "n");
		msgpack_pack_uint64(pk, 1);
		pack_str(pk, "by");
		msgpack_pack_uint64(pk, 5);
		break;
	case V_CAD_UNKNOWN_KEY:
		msgpack_pack_map(pk, 3);
		pack_str(pk, "k");
		pack_str(pk, "weekly");
		pack_str(pk, "n");
		msgpack_pack_uint64(pk, 2);
		pack_str(pk, "start");
		msgpack_pack_nil(pk);
		break;
	case V_CAD_DAILY_2:
		pack_cad(pk, "daily", 2, NULL);
		break;
	case V_CAD_WEEKLY_0:
		pack_cad(pk, "weekly", 0, NULL);
		break;
	case V_CAD_WEEKLY_1001:
		pack_cad(pk, "weekly", BUDDY_CADENCE_N_MAX + 1, NULL);
		break;
	case V_CAD_BY_N2:
		pack_cad(pk, "by", 2, "2026-02-28");
		break;
	case V_CAD_BY_FEB29:
		pack_cad(pk, "by", 1, "2026-02-29");
		break;
	case V_CAD_BY_SHAPE:
		pack_cad(pk, "by", 1, "2026-2-028");
		break;
	case V_CAD_BY_1969:
		pack_cad(pk, "by", 1, "1969-12-31");
		break;
	case V_CAD_BY_MISSING:
		pack_cad(pk, "by", 1, NULL);
		break;
	case V_CAD_BY_BIN:
		msgpack_pack_map(pk, 3);
		pack_str(pk, "k");
		pack_str(pk, "by");
		pack_str(pk, "n");
		msgpack_pack_uint64(pk, 1);
		pack_str(pk, "by");
		buddy_mp_pack_bin(pk, "2026-02-28", 10);
		break;
	case V_CAD_KIND_BAD:
		pack_cad(pk, "yearly", 1, NULL);
		break;
	case V_CAD_NO_K:
		pack_cad(pk, NULL, 1, NULL);
		break;
	case V_CAD_NO_N:
		pack_cad(pk, "weekly", -1, NULL);
		break;
	case V_CAD_N_STR:
		msgpack_pack_map(pk, 2);
		pack_str(pk, "k");
		pack_str(pk, "weekly");
		pack_str(pk, "n");
		pack_str(pk, "1");
		break;
	case V_CAD_DUP_K:
		msgpack_pack_map(pk, 3);
		pack_str(pk, "k");
		pack_str(pk, "weekly");
		pack_str(pk, "n");
		msgpack_pack_uint64(pk, 1);
		pack_str(pk, "k");
		pack_str(pk, "weekly");
		break;
	case V_MAP0:
		msgpack_pack_map(pk, 0);
		break;
	case V_ARRAY0:
		msgpack_pack_array(pk, 0);
		break;
	case V_DATE:
		pack_str(pk, "2026-03-29");
		break;
	case V_DATE_LEAP:
		pack_str(pk, "2028-02-29");
		break;
	case V_DATE_FEB29:
		pack_str(pk, "2026-02-29");
		break;
	case V_DATE_SHAPE:
		pack_str(pk, "2026-3-029");
		break;
	case V_DATE_1969:
		pack_str(pk, "1969-12-31");
		break;
	case V_DATE_BIN:
		buddy_mp_pack_bin(pk, "2026-03-29", 10);
		break;
	}
}

enum body { B_COMMITMENT, B_CHECKIN, B_NOTE, B_RETRACTION, B_REACTION, B_PAUSE, B_COUNT };

struct kv {
	const char *key;
	enum val val;
};

#define FIELDS_MAX 12

/* A valid body of each type, in the order the writers use. */
static const struct {
	size_t n;
	struct kv f[FIELDS_MAX];
} valid_bodies[B_COUNT] = {
	[B_COMMITMENT] = {7,
			  {{"c", V_RUN},
			   {"t", V_TITLE},
			   {"cad", V_CAD_DAILY},
			   {"tz", V_TZ},
			   {"cr", V_TIME},
			   {"ar", V_UINT0},
			   {"on", V_TRUE}}},
	[B_CHECKIN] = {8,
		       {{"e", V_UINT1},
			{"c", V_RUN},
			{"at", V_TIME},
			{"s", V_DONE},
			{"t", V_TEXT},
			{"v", V_FLOAT},
			{"u", V_UNIT},
			{"g", V_TAGS}}},
	[B_NOTE] = {7,
		    {{"e", V_UINT1},
		     {"c", V_RUN},
		     {"at", V_TIME},
		     {"t", V_TEXT},
		     {"v", V_FLOAT},
		     {"u", V_UNIT},
		     {"g", V_TAGS}}},
	[B_RETRACTION] = {1, {{"e", V_UINT7}}},
	[B_REACTION] = {3, {{"e", V_UINT7}, {"k", V_CHEER}, {"t", V_EMPTY}}},
	[B_PAUSE] = {4, {{"c", V_RUN}, {"from", V_TIME}, {"until", V_DATE}, {"r", V_TEXT}}},
};

static const char *const body_names[B_COUNT] = {"commitment", "check-in", "note",
						"retraction", "reaction", "pause"};

static int read_packed(enum body b, const msgpack_sbuffer *sb)
{
	/* more bytes than a post, so that over-long texts reach the readers */
	static const struct buddy_mp_limits lim = {.max_bytes = 2 * BUDDY_TEXT_MAX,
						   .max_depth = BUDDY_POST_DEPTH_MAX - 1,
						   .max_objects = BUDDY_POST_OBJECTS_MAX};
	union {
		struct buddy_post_commitment c;
		struct buddy_post_entry e;
		struct buddy_post_reaction r;
		struct buddy_post_pause p;
		uint64_t id;
	} out, before;
	msgpack_unpacked u;
	int rc;

	memset(&out, 0x5a, sizeof(out));
	before = out;
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_mp_decode((const uint8_t *)sb->data, sb->size, &lim, &u), 0);
	switch (b) {
	case B_COMMITMENT:
		rc = buddy_post_read_commitment(&u.data, &out.c);
		break;
	case B_CHECKIN:
	case B_NOTE:
		rc = buddy_post_read_entry(&u.data, b == B_CHECKIN, &out.e);
		break;
	case B_RETRACTION:
		rc = buddy_post_read_retraction(&u.data, &out.id);
		break;
	case B_REACTION:
		rc = buddy_post_read_reaction(&u.data, &out.r);
		break;
	default:
		rc = buddy_post_read_pause(&u.data, &out.p);
		break;
	}
	msgpack_unpacked_destroy(&u);
	/* nothing is written on failure */
	if (rc)
		assert_memory_equal(&out, &before, sizeof(out));
	return rc;
}

static int read_kvs(enum body b, const struct kv *f, size_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		pack_str(&pk, f[i].key);
		pack_val(&pk, f[i].val);
	}
	rc = read_packed(b, &sb);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* The valid body of b with key set to val (added when the body has no such key). */
static int read_with(enum body b, const char *key, enum val val)
{
	struct kv f[FIELDS_MAX];
	size_t n = valid_bodies[b].n, i;

	memcpy(f, valid_bodies[b].f, sizeof(f));
	for (i = 0; i < n && strcmp(f[i].key, key) != 0; i++)
		;
	f[i].key = key;
	f[i].val = val;
	return read_kvs(b, f, i == n ? n + 1 : n);
}

/* The valid body of b without key. */
static int read_without(enum body b, const char *key)
{
	struct kv f[FIELDS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < valid_bodies[b].n; i++)
		if (strcmp(valid_bodies[b].f[i].key, key) != 0)
			f[n++] = valid_bodies[b].f[i];
	assert_int_equal(n + 1, valid_bodies[b].n);
	return read_kvs(b, f, n);
}

static void test_bodies_by_hand(void **state)
{
	(void)state;
	for (int b = 0; b < B_COUNT; b++)
		assert_int_equal(read_kvs(b, valid_bodies[b].f, valid_bodies[b].n), 0);
}

/* Every required key is required; the optional ones are not. */
static void test_bodies_missing_keys(void **state)
{
	static const struct {
		enum body b;
		const char *key;
		int rc;
	} cases[] = {
		{B_COMMITMENT, "c", BUDDY_E_INVALID},
		{B_COMMITMENT, "t", BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", BUDDY_E_INVALID},
		{B_COMMITMENT, "tz", BUDDY_E_INVALID},
		{B_COMMITMENT, "cr", BUDDY_E_INVALID},
		{B_COMMITMENT, "ar", BUDDY_E_INVALID},
		{B_COMMITMENT, "on", BUDDY_E_INVALID},
		{B_CHECKIN, "e", BUDDY_E_INVALID},
		{B_CHECKIN, "c", BUDDY_E_INVALID},
		{B_CHECKIN, "at", BUDDY_E_INVALID},
		{B_CHECKIN, "s", BUDDY_E_INVALID},
		{B_CHECKIN, "t", BUDDY_E_INVALID},
		{B_CHECKIN, "v", BUDDY_E_INVALID}, /* "u" stays: a unit without a value */
		{B_CHECKIN, "u", 0},
		{B_CHECKIN, "g", 0},
		{B_NOTE, "e", BUDDY_E_INVALID},
		{B_NOTE, "at", BUDDY_E_INVALID},
		{B_NOTE, "t", BUDDY_E_INVALID},
		{B_NOTE, "c", 0},
		{B_NOTE, "v", BUDDY_E_INVALID},
		{B_NOTE, "u", 0},
		{B_NOTE, "g", 0},
		{B_RETRACTION, "e", BUDDY_E_INVALID},
		{B_REACTION, "e", BUDDY_E_INVALID},
		{B_REACTION, "k", BUDDY_E_INVALID},
		{B_REACTION, "t", BUDDY_E_INVALID},
		{B_PAUSE, "c", BUDDY_E_INVALID},
		{B_PAUSE, "from", BUDDY_E_INVALID},
		{B_PAUSE, "until", BUDDY_E_INVALID},
		{B_PAUSE, "r", BUDDY_E_INVALID},
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		int rc = read_without(cases[i].b, cases[i].key);

		if (rc != cases[i].rc)
			fail_msg("%s without %s: %d", body_names[cases[i].b], cases[i].key, rc);
	}
	/* a check-in of a status alone, a note of text alone */
	assert_int_equal(read_kvs(B_CHECKIN, valid_bodies[B_CHECKIN].f, 5), 0);
	assert_int_equal(
		read_kvs(B_NOTE, (const struct kv[]){{"e", V_UINT1}, {"at", V_TIME}, {"t", V_TEXT}},
			 3),
		0);
	/* not a map at all */
	for (int b = 0; b < B_COUNT; b++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 0);
		assert_int_equal(read_packed(b, &sb), BUDDY_E_INVALID);
		msgpack_sbuffer_destroy(&sb);
	}
}

/* Each known key with a value of the right or the wrong type, length or range. */
static void test_bodies_values(void **state)
{
	static const struct {
		enum body b;
		const char *key;
		enum val val;
		int rc;
	} cases[] = {
		/* commitment */
		{B_COMMITMENT, "c", V_SLUG_32, 0},
		{B_COMMITMENT, "c", V_SLUG_33, BUDDY_E_INVALID},
		{B_COMMITMENT, "c", V_SLUG_UPPER, BUDDY_E_INVALID},
		{B_COMMITMENT, "c", V_SLUG_DASH, BUDDY_E_INVALID},
		{B_COMMITMENT, "c", V_SLUG_NUL, BUDDY_E_INVALID},
		{B_COMMITMENT, "c", V_EMPTY, BUDDY_E_INVALID},
		{B_COMMITMENT, "c", V_RUN_BIN, BUDDY_E_INVALID},
		{B_COMMITMENT, "t", V_TITLE_200, 0},
		{B_COMMITMENT, "t", V_TEXT_UTF8, 0},
		{B_COMMITMENT, "t", V_TITLE_201, BUDDY_E_INVALID},
		{B_COMMITMENT, "t", V_TITLE_NL, BUDDY_E_INVALID},
		{B_COMMITMENT, "t", V_TEXT_CTRL, BUDDY_E_INVALID},
		{B_COMMITMENT, "t", V_TEXT_BAD_UTF8, BUDDY_E_INVALID},
		{B_COMMITMENT, "t", V_EMPTY, BUDDY_E_INVALID},
		{B_COMMITMENT, "t", V_NIL, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_WEEKLY_3, 0},
		{B_COMMITMENT, "cad", V_CAD_MONTHLY_1000, 0},
		{B_COMMITMENT, "cad", V_CAD_BY, 0},
		{B_COMMITMENT, "cad", V_CAD_BY_LEAP, 0},
		{B_COMMITMENT, "cad", V_CAD_DAILY_BY_JUNK, 0},
		{B_COMMITMENT, "cad", V_CAD_UNKNOWN_KEY, 0},
		{B_COMMITMENT, "cad", V_CAD_DAILY_2, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_WEEKLY_0, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_WEEKLY_1001, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_BY_N2, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_BY_FEB29, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_BY_SHAPE, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_BY_1969, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_BY_MISSING, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_BY_BIN, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_KIND_BAD, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_NO_K, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_NO_N, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_N_STR, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_CAD_DUP_K, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_MAP0, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_ARRAY0, BUDDY_E_INVALID},
		{B_COMMITMENT, "cad", V_DONE, BUDDY_E_INVALID},
		{B_COMMITMENT, "tz", V_TZ_64, 0},
		{B_COMMITMENT, "tz", V_TZ_65, BUDDY_E_INVALID},
		{B_COMMITMENT, "tz", V_TZ_DOTS, BUDDY_E_INVALID},
		{B_COMMITMENT, "tz", V_TZ_ROOT, BUDDY_E_INVALID},
		{B_COMMITMENT, "tz", V_TZ_SPACE, BUDDY_E_INVALID},
		{B_COMMITMENT, "tz", V_TEXT_UTF8, BUDDY_E_INVALID},
		{B_COMMITMENT, "tz", V_EMPTY, BUDDY_E_INVALID},
		{B_COMMITMENT, "cr", V_NEG, 0},
		{B_COMMITMENT, "cr", V_UINT_HUGE, BUDDY_E_INVALID},
		{B_COMMITMENT, "cr", V_FLOAT, BUDDY_E_INVALID},
		{B_COMMITMENT, "ar", V_TIME, 0},
		{B_COMMITMENT, "ar", V_NIL, BUDDY_E_INVALID},
		{B_COMMITMENT, "on", V_FALSE, 0},
		{B_COMMITMENT, "on", V_UINT1, BUDDY_E_INVALID},
		{B_COMMITMENT, "on", V_NIL, BUDDY_E_INVALID},
		/* check-in */
		{B_CHECKIN, "e", V_UINT_HUGE, 0},
		{B_CHECKIN, "e", V_UINT0, BUDDY_E_INVALID},
		{B_CHECKIN, "e", V_NEG, BUDDY_E_INVALID},
		{B_CHECKIN, "e", V_FLOAT, BUDDY_E_INVALID},
		{B_CHECKIN, "e", V_RUN, BUDDY_E_INVALID},
		{B_CHECKIN, "c", V_SLUG_UPPER, BUDDY_E_INVALID},
		{B_CHECKIN, "c", V_EMPTY, BUDDY_E_INVALID},
		{B_CHECKIN, "c", V_RUN_BIN, BUDDY_E_INVALID},
		{B_CHECKIN, "at", V_NEG, 0},
		{B_CHECKIN, "at", V_UINT_HUGE, BUDDY_E_INVALID},
		{B_CHECKIN, "at", V_TEXT, BUDDY_E_INVALID},
		{B_CHECKIN, "s", V_PARTIAL, 0},
		{B_CHECKIN, "s", V_SKIP, 0},
		{B_CHECKIN, "s", V_STATUS_BAD, BUDDY_E_INVALID},
		{B_CHECKIN, "s", V_EMPTY, BUDDY_E_INVALID},
		{B_CHECKIN, "s", V_UINT1, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_EMPTY, 0},
		{B_CHECKIN, "t", V_TEXT_ML, 0},
		{B_CHECKIN, "t", V_TEXT_UTF8, 0},
		{B_CHECKIN, "t", V_TEXT_MAX, 0},
		{B_CHECKIN, "t", V_TEXT_OVER, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_TEXT_CTRL, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_TEXT_DEL, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_TEXT_C1, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_TEXT_NUL, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_TEXT_BAD_UTF8, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_RUN_BIN, BUDDY_E_INVALID},
		{B_CHECKIN, "t", V_NIL, BUDDY_E_INVALID},
		{B_CHECKIN, "v", V_FLOAT32, 0},
		{B_CHECKIN, "v", V_INT_VALUE, 0},
		{B_CHECKIN, "v", V_NAN, BUDDY_E_INVALID},
		{B_CHECKIN, "v", V_INF, BUDDY_E_INVALID},
		{B_CHECKIN, "v", V_TEXT, BUDDY_E_INVALID},
		{B_CHECKIN, "v", V_NIL, BUDDY_E_INVALID},
		{B_CHECKIN, "u", V_UNIT_16, 0},
		{B_CHECKIN, "u", V_UNIT_17, BUDDY_E_INVALID},
		{B_CHECKIN, "u", V_UNIT_NL, BUDDY_E_INVALID},
		{B_CHECKIN, "u", V_EMPTY, BUDDY_E_INVALID},
		{B_CHECKIN, "u", V_RUN_BIN, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TAGS_16, 0},
		{B_CHECKIN, "g", V_TAGS_17, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TAGS_EMPTY, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TAGS_SPACE, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TAGS_COMMA, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TAGS_33, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TAGS_INT, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TAGS_BIN, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_TEXT, BUDDY_E_INVALID},
		{B_CHECKIN, "g", V_MAP0, BUDDY_E_INVALID},
		/* note: its text is not empty; "s" is not one of its keys */
		{B_NOTE, "t", V_EMPTY, BUDDY_E_INVALID},
		{B_NOTE, "t", V_TEXT_ML, 0},
		{B_NOTE, "t", V_TEXT_CTRL, BUDDY_E_INVALID},
		{B_NOTE, "c", V_SLUG_DASH, BUDDY_E_INVALID},
		{B_NOTE, "c", V_EMPTY, BUDDY_E_INVALID},
		{B_NOTE, "s", V_DONE, 0},
		{B_NOTE, "s", V_NIL, 0},
		{B_NOTE, "e", V_UINT0, BUDDY_E_INVALID},
		{B_NOTE, "v", V_NAN, BUDDY_E_INVALID},
		{B_NOTE, "g", V_TAGS_17, BUDDY_E_INVALID},
		/* retraction */
		{B_RETRACTION, "e", V_UINT_HUGE, 0},
		{B_RETRACTION, "e", V_UINT0, BUDDY_E_INVALID},
		{B_RETRACTION, "e", V_NEG, BUDDY_E_INVALID},
		{B_RETRACTION, "e", V_RUN, BUDDY_E_INVALID},
		/* reaction */
		{B_REACTION, "e", V_UINT0, BUDDY_E_INVALID},
		{B_REACTION, "e", V_TEXT, BUDDY_E_INVALID},
		{B_REACTION, "k", V_COMMENT, BUDDY_E_INVALID}, /* with the empty text */
		{B_REACTION, "k", V_KIND_BAD, BUDDY_E_INVALID},
		{B_REACTION, "k", V_UINT1, BUDDY_E_INVALID},
		{B_REACTION, "t", V_TEXT_1000, 0},
		{B_REACTION, "t", V_TEXT_ML, 0},
		{B_REACTION, "t", V_TEXT_1001, BUDDY_E_INVALID},
		{B_REACTION, "t", V_TEXT_CTRL, BUDDY_E_INVALID},
		{B_REACTION, "t", V_RUN_BIN, BUDDY_E_INVALID},
		/* pause */
		{B_PAUSE, "c", V_SLUG_32, 0},
		{B_PAUSE, "c", V_SLUG_33, BUDDY_E_INVALID},
		{B_PAUSE, "c", V_SLUG_UPPER, BUDDY_E_INVALID},
		{B_PAUSE, "c", V_EMPTY, BUDDY_E_INVALID},
		{B_PAUSE, "c", V_RUN_BIN, BUDDY_E_INVALID},
		{B_PAUSE, "from", V_NEG, 0},
		{B_PAUSE, "from", V_UINT0, 0},
		{B_PAUSE, "from", V_UINT_HUGE, BUDDY_E_INVALID},
		{B_PAUSE, "from", V_FLOAT, BUDDY_E_INVALID},
		{B_PAUSE, "from", V_NIL, BUDDY_E_INVALID},
		{B_PAUSE, "until", V_DATE_LEAP, 0},
		{B_PAUSE, "until", V_DATE_FEB29, BUDDY_E_INVALID},
		{B_PAUSE, "until", V_DATE_SHAPE, BUDDY_E_INVALID},
		{B_PAUSE, "until", V_DATE_1969, BUDDY_E_INVALID},
		{B_PAUSE, "until", V_DATE_BIN, BUDDY_E_INVALID},
		{B_PAUSE, "until", V_EMPTY, BUDDY_E_INVALID},
		{B_PAUSE, "until", V_TIME, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_EMPTY, 0},
		{B_PAUSE, "r", V_TEXT_UTF8, 0},
		{B_PAUSE, "r", V_TITLE_200, 0},
		{B_PAUSE, "r", V_TITLE_201, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_TITLE_NL, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_TEXT_ML, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_TEXT_CTRL, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_TEXT_BAD_UTF8, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_TEXT_NUL, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_RUN_BIN, BUDDY_E_INVALID},
		{B_PAUSE, "r", V_NIL, BUDDY_E_INVALID},
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		int rc = read_with(cases[i].b, cases[i].key, cases[i].val);

		if (rc != cases[i].rc)
			fail_msg("%s with %s = value %d: %d", body_names[cases[i].b], cases[i].key,
				 cases[i].val, rc);
	}
	/* a comment needs its text */
	assert_int_equal(
		read_kvs(B_REACTION,
			 (const struct kv[]){{"e", V_UINT7}, {"k", V_COMMENT}, {"t", V_TEXT}}, 3),
		0);
	assert_int_equal(
		read_kvs(B_REACTION,
			 (const struct kv[]){{"e", V_UINT7}, {"k", V_COMMENT}, {"t", V_TEXT_1001}},
			 3),
		BUDDY_E_INVALID);
}

/* A known key twice is refused; unknown keys, of any type, are ignored. */
static void test_bodies_keys(void **state)
{
	(void)state;
	for (int b = 0; b < B_COUNT; b++) {
		struct kv f[FIELDS_MAX];
		size_t n = valid_bodies[b].n;

		memcpy(f, valid_bodies[b].f, sizeof(f));
		for (size_t i = 0; i < n; i++) {
			int rc;

			f[n] = f[i];
			rc = read_kvs(b, f, n + 1);
			if (rc != BUDDY_E_INVALID)
				fail_msg("%s with %s twice: %d", body_names[b], f[i].key, rc);
		}
		f[n] = (struct kv){"later", V_MAP0};
		f[n + 1] = (struct kv){"E", V_NIL};
		f[n + 2] = (struct kv){"", V_TAGS_17};
		f[n + 3] = (struct kv){"later", V_TEXT_CTRL}; /* an unknown key twice, too */
		assert_int_equal(read_kvs(b, f, n + 4), 0);
	}
	/* a note's "s" is not known to it: twice is fine */
	assert_int_equal(read_kvs(B_NOTE,
				  (const struct kv[]){{"e", V_UINT1},
						      {"at", V_TIME},
						      {"t", V_TEXT},
						      {"s", V_DONE},
						      {"s", V_UINT1}},
				  5),
			 0);
}

/* ---- writers: round trips, and the refusals that match the readers' ---- */

struct posted {
	msgpack_sbuffer post;
	msgpack_unpacked u;
	const msgpack_object *body;
};

/* Wraps a body just written into a post and decodes it again. */
static void post_and_decode(msgpack_sbuffer *body, uint64_t type, struct posted *p)
{
	struct buddy_post_head h;

	assert_int_equal(encode(3, (const uint8_t[32]){9}, EX_TIME2, type, body, &p->post), 0);
	msgpack_unpacked_init(&p->u);
	assert_int_equal(
		buddy_post_decode((const uint8_t *)p->post.data, p->post.size, &p->u, &h, &p->body),
		0);
	assert_true(h.seq == 3 && h.type == type && h.prev[0] == 9);
	msgpack_sbuffer_destroy(body);
}

static void posted_free(struct posted *p)
{
	msgpack_unpacked_destroy(&p->u);
	msgpack_sbuffer_destroy(&p->post);
}

static void assert_keys(const msgpack_object *map, const char *const *keys, size_t n)
{
	assert_int_equal(map->via.map.size, n);
	for (size_t i = 0; i < n; i++)
		assert_true(buddy_mp_str_eq(&map->via.map.ptr[i].key, keys[i]));
}

static struct buddy_post_commitment sample_commitment(void)
{
	struct buddy_post_commitment c = {.title = "Run 5 km\tor more",
					  .title_len = 16,
					  .cadence = {.kind = BUDDY_CADENCE_WEEKLY, .n = 3},
					  .created = EX_TIME1,
					  .archived = 0,
					  .on = true};

	strcpy(c.id, "run-5k");
	strcpy(c.tz, "Europe/Berlin");
	return c;
}

static void test_commitment_roundtrip(void **state)
{
	static const char *const keys[] = {"c", "t", "cad", "tz", "cr", "ar", "on"};
	static const struct buddy_cadence cads[] = {
		{.kind = BUDDY_CADENCE_DAILY, .n = 1},
		{.kind = BUDDY_CADENCE_WEEKLY, .n = 3},
		{.kind = BUDDY_CADENCE_MONTHLY, .n = BUDDY_CADENCE_N_MAX},
		{.kind = BUDDY_CADENCE_BY, .n = 1, .by_year = 2028, .by_month = 2, .by_day = 29},
		{.kind = BUDDY_CADENCE_BY, .n = 1, .by_year = 9999, .by_month = 12, .by_day = 31},
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cads); i++) {
		struct buddy_post_commitment c = sample_commitment(), back;
		msgpack_sbuffer body;
		struct posted p;

		c.cadence = cads[i];
		c.on = i % 2;
		c.archived = i ? EX_TIME2 : 0;
		/* the title may not hold a tab... */
		c.title = "Run 5 km";
		c.title_len = 8;
		msgpack_sbuffer_init(&body);
		assert_int_equal(buddy_post_write_commitment(&body, &c), 0);
		post_and_decode(&body, BUDDY_POST_COMMITMENT, &p);
		assert_keys(p.body, keys, COUNT(keys));
		memset(&back, 0x5a, sizeof(back));
		assert_int_equal(buddy_post_read_commitment(p.body, &back), 0);
		assert_string_equal(back.id, c.id);
		assert_int_equal(back.title_len, c.title_len);
		assert_memory_equal(back.title, c.title, c.title_len);
		/* ...and the title points into the decoded post */
		assert_true(back.title > p.post.data && back.title < p.post.data + p.post.size);
		assert_int_equal(back.cadence.kind, c.cadence.kind);
		assert_int_equal(back.cadence.n, c.cadence.n);
		if (c.cadence.kind == BUDDY_CADENCE_BY) {
			assert_int_equal(back.cadence.by_year, c.cadence.by_year);
			assert_int_equal(back.cadence.by_month, c.cadence.by_month);
			assert_int_equal(back.cadence.by_day, c.cadence.by_day);
		}
		assert_string_equal(back.tz, c.tz);
		assert_true(back.created == c.created && back.archived == c.archived);
		assert_int_equal(back.on, c.on);
		posted_free(&p);
	}
}

static void assert_entry_equal(const struct buddy_post_entry *a, const struct buddy_post_entry *b)
{
	assert_true(a->e == b->e && a->at == b->at);
	assert_string_equal(a->commit, b->commit);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->text_len, b->text_len);
	assert_memory_equal(a->text, b->text, a->text_len);
	assert_int_equal(a->has_value, b->has_value);
	if (a->has_value)
		assert_true(a->value == b->value);
	assert_string_equal(a->unit, b->unit);
	assert_int_equal(a->ntags, b->ntags);
	for (size_t i = 0; i < a->ntags; i++) {
		assert_int_equal(a->tag_lens[i], b->tag_lens[i]);
		assert_memory_equal(a->tags[i], b->tags[i], a->tag_lens[i]);
	}
}

static void test_entry_roundtrip(void **state)
{
	static const char *const checkin_keys[] = {"e", "c", "at", "s", "t", "v", "u", "g"};
	static const char *const note_keys[] = {"e", "at", "t"};
	static const char *const many[BUDDY_TAGS_MAX] = {"a", "b", "c", "d", "e", "f", "g", "h",
							 "i", "j", "k", "l", "m", "n", "o", "été"};
	struct buddy_post_entry e = {.e = UINT64_MAX,
				     .at = -EX_TIME1,
				     .status = BUDDY_CHECKIN_PARTIAL,
				     .text = "line one\n\tline two",
				     .text_len = 18,
				     .has_value = true,
				     .value = -0.125,
				     .ntags = BUDDY_TAGS_MAX};
	struct buddy_post_entry back;
	msgpack_sbuffer body;
	struct posted p;

	(void)state;
	strcpy(e.commit, "run");
	strcpy(e.unit, "km");
	for (size_t i = 0; i < BUDDY_TAGS_MAX; i++) {
		e.tags[i] = many[i];
		e.tag_lens[i] = strlen(many[i]);
	}
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &e), 0);
	post_and_decode(&body, BUDDY_POST_CHECKIN, &p);
	assert_keys(p.body, checkin_keys, COUNT(checkin_keys));
	assert_int_equal(buddy_post_read_entry(p.body, true, &back), 0);
	assert_entry_equal(&e, &back);
	/* read as a note, its "s" is an unknown key */
	assert_int_equal(buddy_post_read_entry(p.body, false, &back), 0);
	assert_int_equal(back.status, 0);
	posted_free(&p);

	/* a note on no commitment, without value or tags */
	memset(&e, 0, sizeof(e));
	e.e = 1;
	e.at = 0;
	e.text = "x";
	e.text_len = 1;
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &e), 0);
	post_and_decode(&body, BUDDY_POST_NOTE, &p);
	assert_keys(p.body, note_keys, COUNT(note_keys));
	assert_int_equal(buddy_post_read_entry(p.body, false, &back), 0);
	assert_entry_equal(&e, &back);
	/* and a note is not a check-in (no commitment, no status) */
	assert_int_equal(buddy_post_read_entry(p.body, true, &back), BUDDY_E_INVALID);
	posted_free(&p);

	/* a note on a commitment, with a value but no unit */
	strcpy(e.commit, "read");
	e.has_value = true;
	e.value = 1e300;
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &e), 0);
	post_and_decode(&body, BUDDY_POST_NOTE, &p);
	assert_int_equal(buddy_post_read_entry(p.body, false, &back), 0);
	assert_entry_equal(&e, &back);
	posted_free(&p);
}

static void test_entry_largest(void **state)
{
	/* 64 KiB of text makes a valid entry, but not a post: the daemon refuses to share it */
	struct buddy_post_entry e = {
		.e = 1, .status = BUDDY_CHECKIN_SKIP, .text_len = BUDDY_TEXT_MAX};
	char *text = malloc(BUDDY_TEXT_MAX);
	msgpack_sbuffer body, post;

	(void)state;
	assert_non_null(text);
	memset(text, 'x', BUDDY_TEXT_MAX);
	e.text = text;
	strcpy(e.commit, "run");
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &e), 0);
	assert_int_equal(encode(1, NULL, 0, BUDDY_POST_CHECKIN, &body, &post), BUDDY_E_TOOBIG);
	msgpack_sbuffer_destroy(&post);
	msgpack_sbuffer_destroy(&body);
	/* a text that fits the largest bucket */
	e.text_len = 64000;
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &e), 0);
	assert_int_equal(encode(1, NULL, 0, BUDDY_POST_CHECKIN, &body, &post), 0);
	assert_int_equal(post.size, BUDDY_POST_MAX);
	assert_int_equal(decode(post.data, post.size), 0);
	msgpack_sbuffer_destroy(&post);
	msgpack_sbuffer_destroy(&body);
	free(text);
}

static void test_retraction_and_reaction_roundtrip(void **state)
{
	static const char *const reaction_keys[] = {"e", "k", "t"};
	struct buddy_post_reaction r = {.e = 42, .kind = BUDDY_REACTION_COMMENT}, back;
	char *text = malloc(BUDDY_REACTION_TEXT_MAX);
	msgpack_sbuffer body;
	struct posted p;
	uint64_t id = 0;

	(void)state;
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_retraction(&body, 12345678901ULL), 0);
	post_and_decode(&body, BUDDY_POST_RETRACTION, &p);
	assert_int_equal(p.body->via.map.size, 1);
	assert_int_equal(buddy_post_read_retraction(p.body, &id), 0);
	assert_true(id == 12345678901ULL);
	posted_free(&p);

	assert_non_null(text);
	memset(text, 'c', BUDDY_REACTION_TEXT_MAX);
	memcpy(text, "Well done!\n", 11);
	r.text = text;
	r.text_len = BUDDY_REACTION_TEXT_MAX;
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_reaction(&body, &r), 0);
	post_and_decode(&body, BUDDY_POST_REACTION, &p);
	assert_keys(p.body, reaction_keys, COUNT(reaction_keys));
	assert_int_equal(buddy_post_read_reaction(p.body, &back), 0);
	assert_true(back.e == 42 && back.kind == BUDDY_REACTION_COMMENT);
	assert_int_equal(back.text_len, BUDDY_REACTION_TEXT_MAX);
	assert_memory_equal(back.text, text, BUDDY_REACTION_TEXT_MAX);
	posted_free(&p);
	free(text);
}

static void test_pause_roundtrip(void **state)
{
	static const char *const keys[] = {"c", "from", "until", "r"};
	static const struct {
		int y, m, d;
		const char *date;
	} dates[] = {{2026, 3, 29, "2026-03-29"},
		     {2028, 2, 29, "2028-02-29"},
		     {1970, 1, 1, "1970-01-01"},
		     {9999, 12, 31, "9999-12-31"}};
	char reason[BUDDY_POST_PAUSE_REASON_MAX];
	struct buddy_post_pause pa = {.from = EX_TIME1}, back;
	msgpack_sbuffer body;
	const msgpack_object *until;
	struct posted p;

	(void)state;
	strcpy(pa.commit, "run-5k");
	memset(reason, 'z', sizeof(reason));
	memcpy(reason, "Away \xe2\x9c\x88 ski", 12);
	for (size_t i = 0; i < COUNT(dates); i++) {
		pa.until_y = dates[i].y;
		pa.until_m = dates[i].m;
		pa.until_d = dates[i].d;
		pa.reason = i % 2 ? reason : NULL;
		pa.reason_len = i % 2 ? sizeof(reason) : 0;
		pa.from = i == 2 ? -5 : EX_TIME1 + (int64_t)i;
		msgpack_sbuffer_init(&body);
		assert_int_equal(buddy_post_write_pause(&body, &pa), 0);
		post_and_decode(&body, BUDDY_POST_PAUSE, &p);
		assert_keys(p.body, keys, COUNT(keys));
		until = buddy_mp_get(p.body, "until");
		assert_true(until && until->type == MSGPACK_OBJECT_STR &&
			    until->via.str.size == 10 &&
			    memcmp(until->via.str.ptr, dates[i].date, 10) == 0);
		assert_int_equal(buddy_post_read_pause(p.body, &back), 0);
		assert_string_equal(back.commit, "run-5k");
		assert_true(back.from == pa.from);
		assert_true(back.until_y == pa.until_y && back.until_m == pa.until_m &&
			    back.until_d == pa.until_d);
		assert_int_equal(back.reason_len, pa.reason_len);
		if (pa.reason_len)
			assert_memory_equal(back.reason, reason, sizeof(reason));
		posted_free(&p);
	}
}

/* Appends nothing when it refuses. */
#define assert_refused(call, sb)                                                                   \
	do {                                                                                       \
		size_t size_ = (sb)->size;                                                         \
		assert_int_equal((call), BUDDY_E_INVALID);                                         \
		assert_int_equal((sb)->size, size_);                                               \
	} while (0)

static void test_commitment_writer_refusals(void **state)
{
	struct buddy_post_commitment c;
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	c = sample_commitment();
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb); /* a tab in the title */
	c.title_len = 8;
	assert_int_equal(buddy_post_write_commitment(&sb, &c), 0);
	strcpy(c.id, "Run");
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.id[0] = 0;
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	memset(c.id, 'a', sizeof(c.id)); /* not terminated */
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c = sample_commitment();
	c.title_len = 0;
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.title = NULL;
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c = sample_commitment();
	c.title = "a\nb";
	c.title_len = 3;
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c = sample_commitment();
	c.title_len = 8;
	c.cadence.n = 0;
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence.n = BUDDY_CADENCE_N_MAX + 1;
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence = (struct buddy_cadence){.kind = BUDDY_CADENCE_DAILY, .n = 2};
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence = (struct buddy_cadence){.kind = 0, .n = 1};
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence = (struct buddy_cadence){.kind = 5, .n = 1};
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence = (struct buddy_cadence){BUDDY_CADENCE_BY, 1, 2026, 2, 29};
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence = (struct buddy_cadence){BUDDY_CADENCE_BY, 1, 10000, 1, 1};
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence = (struct buddy_cadence){BUDDY_CADENCE_BY, 1, 2026, 13, 1};
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.cadence = (struct buddy_cadence){BUDDY_CADENCE_BY, 2, 2026, 12, 1};
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c = sample_commitment();
	c.title_len = 8;
	strcpy(c.tz, "../zoneinfo/UTC");
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	strcpy(c.tz, "/UTC");
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	c.tz[0] = 0;
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	memset(c.tz, 'Z', sizeof(c.tz));
	assert_refused(buddy_post_write_commitment(&sb, &c), &sb);
	msgpack_sbuffer_destroy(&sb);
}

static struct buddy_post_entry sample_checkin(void)
{
	static const char *const tags[] = {"morning"};
	struct buddy_post_entry e = {.e = 3,
				     .at = EX_TIME1,
				     .status = BUDDY_CHECKIN_DONE,
				     .text = "",
				     .has_value = true,
				     .value = 5,
				     .ntags = 1,
				     .tags = {tags[0]},
				     .tag_lens = {7}};

	strcpy(e.commit, "run");
	strcpy(e.unit, "km");
	return e;
}

static void test_entry_writer_refusals(void **state)
{
	struct buddy_post_entry e;
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	e = sample_checkin();
	assert_int_equal(buddy_post_write_entry(&sb, &e), 0);
	e.e = 0;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e = sample_checkin();
	e.commit[0] = 0; /* a check-in is on a commitment */
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	strcpy(e.commit, "_run");
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e = sample_checkin();
	e.status = 4;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e = sample_checkin();
	e.text = "a\rb";
	e.text_len = 3;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.text = NULL;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.text_len = 0;
	assert_int_equal(buddy_post_write_entry(&sb, &e), 0);
	e = sample_checkin();
	e.value = NAN;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.value = INFINITY;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e = sample_checkin();
	e.has_value = false; /* a unit without a value */
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.unit[0] = 0;
	assert_int_equal(buddy_post_write_entry(&sb, &e), 0);
	e = sample_checkin();
	strcpy(e.unit, "k\tm");
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	memset(e.unit, 'u', sizeof(e.unit));
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e = sample_checkin();
	e.ntags = BUDDY_TAGS_MAX + 1;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.ntags = 1;
	e.tags[0] = "two words";
	e.tag_lens[0] = 9;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.tag_lens[0] = 0;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.tags[0] = NULL;
	e.tag_lens[0] = 3;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);

	/* a note: status 0, text not empty, commitment optional */
	e = sample_checkin();
	e.status = 0;
	e.commit[0] = 0;
	assert_refused(buddy_post_write_entry(&sb, &e), &sb);
	e.text = "note";
	e.text_len = 4;
	assert_int_equal(buddy_post_write_entry(&sb, &e), 0);
	msgpack_sbuffer_destroy(&sb);
}

static void test_reaction_writer_refusals(void **state)
{
	struct buddy_post_reaction r = {.e = 1, .kind = BUDDY_REACTION_CHEER};
	msgpack_sbuffer sb;
	char text[BUDDY_REACTION_TEXT_MAX + 1];

	(void)state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_post_write_reaction(&sb, &r), 0); /* a cheer, NULL text */
	r.kind = BUDDY_REACTION_COMMENT;
	assert_refused(buddy_post_write_reaction(&sb, &r), &sb);
	memset(text, 'r', sizeof(text));
	r.text = text;
	r.text_len = sizeof(text);
	assert_refused(buddy_post_write_reaction(&sb, &r), &sb);
	r.text_len = BUDDY_REACTION_TEXT_MAX;
	assert_int_equal(buddy_post_write_reaction(&sb, &r), 0);
	r.kind = 3;
	assert_refused(buddy_post_write_reaction(&sb, &r), &sb);
	r.kind = BUDDY_REACTION_CHEER;
	r.e = 0;
	assert_refused(buddy_post_write_reaction(&sb, &r), &sb);
	r.e = 1;
	r.text = "\x1b[2J";
	r.text_len = 4;
	assert_refused(buddy_post_write_reaction(&sb, &r), &sb);
	assert_refused(buddy_post_write_retraction(&sb, 0), &sb);
	msgpack_sbuffer_destroy(&sb);
}

static void test_pause_writer_refusals(void **state)
{
	struct buddy_post_pause pa = {
		.from = EX_TIME1, .until_y = 2026, .until_m = 3, .until_d = 29};
	char reason[BUDDY_POST_PAUSE_REASON_MAX + 1];
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	strcpy(pa.commit, "run");
	assert_int_equal(buddy_post_write_pause(&sb, &pa), 0); /* no reason */
	pa.commit[0] = 0;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	strcpy(pa.commit, "Run");
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	strcpy(pa.commit, "run");
	pa.until_d = 32;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	pa.until_m = 2;
	pa.until_d = 29;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb); /* 2026 is no leap year */
	pa.until_y = 1969;
	pa.until_m = 12;
	pa.until_d = 31;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	pa.until_y = 10000;
	pa.until_m = 1;
	pa.until_d = 1;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	pa.until_y = 2028;
	pa.until_m = 2;
	pa.until_d = 29;
	memset(reason, 'r', sizeof(reason));
	pa.reason = reason;
	pa.reason_len = sizeof(reason);
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	pa.reason_len = BUDDY_POST_PAUSE_REASON_MAX;
	assert_int_equal(buddy_post_write_pause(&sb, &pa), 0);
	pa.reason = "away\nback";
	pa.reason_len = 9;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb); /* one line only */
	pa.reason = "\x1b[2J";
	pa.reason_len = 4;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	pa.reason = "a\xff";
	pa.reason_len = 2;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	pa.reason = NULL;
	pa.reason_len = 1;
	assert_refused(buddy_post_write_pause(&sb, &pa), &sb);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- signatures ---- */

static void test_signatures_bind_every_input(void **state)
{
	struct keypair a, b;
	uint8_t hash[BUDDY_POST_HASH_BYTES], sig[BUDDY_POST_SIG_BYTES];
	const uint64_t seq = 2;

	(void)state;
	example_keys(&a, &b);
	unhex(EX_H2, hash, sizeof(hash));
	for (int receipt = 0; receipt < 2; receipt++) {
		int (*verify)(const uint8_t *, const uint8_t *, const uint8_t *, uint64_t,
			      const uint8_t *) =
			receipt ? buddy_post_verify_receipt : buddy_post_verify_head;
		int (*other)(const uint8_t *, const uint8_t *, const uint8_t *, uint64_t,
			     const uint8_t *) =
			receipt ? buddy_post_verify_head : buddy_post_verify_receipt;

		if (receipt)
			buddy_post_sign_receipt(sig, b.sk, a.pk, b.pk, seq, hash);
		else
			buddy_post_sign_head(sig, a.sk, a.pk, b.pk, seq, hash);
		assert_int_equal(verify(sig, a.pk, b.pk, seq, hash), 0);
		/* one domain's signature is not the other's */
		assert_int_equal(other(sig, a.pk, b.pk, seq, hash), BUDDY_E_AUTH);
		/* author and recipient swapped */
		assert_int_equal(verify(sig, b.pk, a.pk, seq, hash), BUDDY_E_AUTH);
		/* every bit of every input */
		for (size_t bit = 0; bit < 8 * sizeof(sig); bit++) {
			sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(verify(sig, a.pk, b.pk, seq, hash), BUDDY_E_AUTH);
			sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		for (size_t bit = 0; bit < 8 * 32; bit++) {
			uint8_t m = (uint8_t)(1u << (bit % 8));

			a.pk[bit / 8] ^= m;
			assert_int_equal(verify(sig, a.pk, b.pk, seq, hash), BUDDY_E_AUTH);
			a.pk[bit / 8] ^= m;
			b.pk[bit / 8] ^= m;
			assert_int_equal(verify(sig, a.pk, b.pk, seq, hash), BUDDY_E_AUTH);
			b.pk[bit / 8] ^= m;
			hash[bit / 8] ^= m;
			assert_int_equal(verify(sig, a.pk, b.pk, seq, hash), BUDDY_E_AUTH);
			hash[bit / 8] ^= m;
		}
		for (unsigned bit = 0; bit < 64; bit++)
			assert_int_equal(verify(sig, a.pk, b.pk, seq ^ ((uint64_t)1 << bit), hash),
					 BUDDY_E_AUTH);
		assert_int_equal(verify(sig, a.pk, b.pk, seq, hash), 0);
	}
	/* signed by the other key */
	buddy_post_sign_head(sig, b.sk, a.pk, b.pk, seq, hash);
	assert_int_equal(buddy_post_verify_head(sig, a.pk, b.pk, seq, hash), BUDDY_E_AUTH);
	buddy_post_sign_receipt(sig, a.sk, a.pk, b.pk, seq, hash);
	assert_int_equal(buddy_post_verify_receipt(sig, a.pk, b.pk, seq, hash), BUDDY_E_AUTH);
}

static void test_hash_is_keyed_blake2b(void **state)
{
	uint8_t h[BUDDY_POST_HASH_BYTES], plain[BUDDY_POST_HASH_BYTES];

	(void)state;
	buddy_post_hash((const uint8_t *)"abc", 3, h);
	crypto_generichash(plain, sizeof(plain), (const uint8_t *)"abc", 3, NULL, 0);
	assert_memory_not_equal(h, plain, sizeof(h));
	crypto_generichash(plain, sizeof(plain), (const uint8_t *)"abc", 3,
			   (const uint8_t *)"buddy-post-v1", 13);
	assert_memory_equal(h, plain, sizeof(h));
}

/* ---- sync messages ---- */

struct msg {
	msgpack_unpacked u;
	uint64_t type;
	const msgpack_object *body;
};

static void msg_decode(const msgpack_sbuffer *sb, struct msg *m)
{
	msgpack_unpacked_init(&m->u);
	assert_int_equal(
		buddy_msg_decode((const uint8_t *)sb->data, sb->size, &m->u, &m->type, &m->body),
		0);
}

static void test_heads_roundtrip(void **state)
{
	uint8_t x[BUDDY_POST_HASH_BYTES], back[BUDDY_POST_HASH_BYTES];
	msgpack_sbuffer sb;
	struct msg m;
	uint64_t h, f, e;

	(void)state;
	memset(x, 0xab, sizeof(x));
	/* nothing stored: [5, {"h": 0}], an x given is not written */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_heads_encode(&sb, 0, x, 0, 0), 0);
	assert_int_equal(sb.size, 6);
	assert_memory_equal(sb.data, ((const uint8_t[]){0x92, 0x05, 0x81, 0xa1, 'h', 0x00}), 6);
	msg_decode(&sb, &m);
	assert_int_equal(m.type, BUDDY_MSG_HEADS);
	memset(back, 1, sizeof(back));
	assert_int_equal(buddy_msg_heads_read(m.body, &h, back, &f, &e), 0);
	assert_true(h == 0 && f == 0 && e == 0 && sodium_is_zero(back, sizeof(back)));
	msgpack_unpacked_destroy(&m.u);
	msgpack_sbuffer_destroy(&sb);

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_heads_encode(&sb, UINT64_MAX, x, 17, 42), 0);
	msg_decode(&sb, &m);
	assert_int_equal(m.body->via.map.size, 4);
	assert_int_equal(buddy_msg_heads_read(m.body, &h, back, &f, &e), 0);
	assert_true(h == UINT64_MAX && f == 17 && e == 42);
	assert_memory_equal(back, x, sizeof(x));
	msgpack_unpacked_destroy(&m.u);
	msgpack_sbuffer_destroy(&sb);

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_heads_encode(&sb, 0, NULL, 3, 0), 0);
	assert_refused(buddy_msg_heads_encode(&sb, 1, NULL, 0, 0), &sb);
	msg_decode(&sb, &m);
	assert_int_equal(buddy_msg_heads_read(m.body, &h, back, &f, &e), 0);
	assert_true(h == 0 && f == 3 && e == 0);
	msgpack_unpacked_destroy(&m.u);
	msgpack_sbuffer_destroy(&sb);
}

static void test_posts_roundtrip(void **state)
{
	msgpack_sbuffer p1, p2, sb;
	const uint8_t *posts[2];
	size_t lens[2], n = 0;
	uint8_t sig[BUDDY_POST_SIG_BYTES], back[BUDDY_POST_SIG_BYTES];
	const msgpack_object *arr = NULL;
	struct msg m;

	(void)state;
	example_posts(&p1, &p2);
	posts[0] = (const uint8_t *)p1.data;
	posts[1] = (const uint8_t *)p2.data;
	lens[0] = p1.size;
	lens[1] = p2.size;
	memset(sig, 0x77, sizeof(sig));
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_posts_encode(&sb, posts, lens, 2, sig), 0);
	assert_true(sb.size <= p1.size + p2.size + BUDDY_POSTS_OVERHEAD(2));
	msg_decode(&sb, &m);
	assert_int_equal(m.type, BUDDY_MSG_POSTS);
	assert_int_equal(buddy_msg_posts_read(m.body, &arr, &n, back), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(back, sig, sizeof(sig));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(arr[i].type, MSGPACK_OBJECT_BIN);
		assert_int_equal(arr[i].via.bin.size, lens[i]);
		assert_memory_equal(arr[i].via.bin.ptr, posts[i], lens[i]);
		assert_int_equal(decode(arr[i].via.bin.ptr, arr[i].via.bin.size), 0);
	}
	msgpack_unpacked_destroy(&m.u);

	/* the encoder refuses what the reader would */
	assert_refused(buddy_msg_posts_encode(&sb, posts, lens, 0, sig), &sb);
	assert_refused(buddy_msg_posts_encode(&sb, posts, lens, BUDDY_POSTS_BATCH_MAX + 1, sig),
		       &sb);
	lens[1] = 0;
	assert_refused(buddy_msg_posts_encode(&sb, posts, lens, 2, sig), &sb);
	lens[1] = BUDDY_POST_MAX + 1;
	assert_refused(buddy_msg_posts_encode(&sb, posts, lens, 2, sig), &sb);
	posts[1] = NULL;
	lens[1] = 1;
	assert_refused(buddy_msg_posts_encode(&sb, posts, lens, 2, sig), &sb);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&p1);
	msgpack_sbuffer_destroy(&p2);
}

static void test_posts_largest_batch(void **state)
{
	static const uint8_t one = 0x80;
	const uint8_t *posts[BUDDY_POSTS_BATCH_MAX];
	size_t lens[BUDDY_POSTS_BATCH_MAX], n = 0;
	uint8_t sig[BUDDY_POST_SIG_BYTES] = {0};
	const msgpack_object *arr;
	msgpack_sbuffer sb;
	struct msg m;

	(void)state;
	for (size_t i = 0; i < BUDDY_POSTS_BATCH_MAX; i++) {
		posts[i] = &one;
		lens[i] = 1;
	}
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_posts_encode(&sb, posts, lens, BUDDY_POSTS_BATCH_MAX, sig), 0);
	assert_true(sb.size <= BUDDY_POSTS_BATCH_MAX + BUDDY_POSTS_OVERHEAD(BUDDY_POSTS_BATCH_MAX));
	msg_decode(&sb, &m);
	assert_int_equal(buddy_msg_posts_read(m.body, &arr, &n, sig), 0);
	assert_int_equal(n, BUDDY_POSTS_BATCH_MAX);
	msgpack_unpacked_destroy(&m.u);
	msgpack_sbuffer_destroy(&sb);
}

static void test_ack_and_end_roundtrip(void **state)
{
	uint8_t x[BUDDY_POST_HASH_BYTES], r[BUDDY_POST_SIG_BYTES];
	uint8_t xb[BUDDY_POST_HASH_BYTES], rb[BUDDY_POST_SIG_BYTES];
	msgpack_sbuffer sb;
	struct msg m;
	uint64_t h = 0;

	(void)state;
	memset(x, 0x11, sizeof(x));
	memset(r, 0x22, sizeof(r));
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_ack_encode(&sb, 1024, x, r), 0);
	msg_decode(&sb, &m);
	assert_int_equal(m.type, BUDDY_MSG_ACK);
	assert_int_equal(buddy_msg_ack_read(m.body, &h, xb, rb), 0);
	assert_int_equal(h, 1024);
	assert_memory_equal(xb, x, sizeof(x));
	assert_memory_equal(rb, r, sizeof(r));
	msgpack_unpacked_destroy(&m.u);
	msgpack_sbuffer_destroy(&sb);

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_end_encode(&sb), 0);
	assert_int_equal(sb.size, 3);
	assert_memory_equal(sb.data, ((const uint8_t[]){0x92, 0x08, 0x80}), 3);
	msgpack_sbuffer_destroy(&sb);
}

/* Sync bodies built by hand. */
enum sval {
	S_UINT0,
	S_UINT5,
	S_NEG,
	S_STR,
	S_NIL,
	S_BIN31,
	S_BIN32,
	S_BIN33,
	S_BIN63,
	S_BIN64,
	S_BIN65,
	S_STR32,
	S_STR64,
	S_P1,	     /* [bin post] */
	S_P0,	     /* [] */
	S_P1025,     /* 1025 bins */
	S_P1024,     /* 1024 bins */
	S_P_STR,     /* [bin, str] */
	S_P_EMPTY,   /* [bin, bin 0] */
	S_P_TOOBIG,  /* [bin of BUDDY_POST_MAX + 1] */
	S_P_LARGEST, /* [bin of BUDDY_POST_MAX] */
	S_P_MAP,     /* {} */
};

static void pack_sval(msgpack_packer *pk, enum sval v)
{
	static uint8_t zeros[BUDDY_POST_MAX + 1];
	static const size_t bins[] = {31, 32, 33, 63, 64, 65};

	switch (v) {
	case S_UINT0:
		msgpack_pack_uint64(pk, 0);
		break;
	case S_UINT5:
		msgpack_pack_uint64(pk, 5);
		break;
	case S_NEG:
		msgpack_pack_int64(pk, -5);
		break;
	case S_STR:
		pack_str(pk, "5");
		break;
	case S_NIL:
		msgpack_pack_nil(pk);
		break;
	case S_BIN31:
	case S_BIN32:
	case S_BIN33:
	case S_BIN63:
	case S_BIN64:
	case S_BIN65:
		buddy_mp_pack_bin(pk, zeros, bins[v - S_BIN31]);
		break;
	case S_STR32:
		buddy_mp_pack_strn(pk, (const char *)zeros, 32);
		break;
	case S_STR64:
		buddy_mp_pack_strn(pk, (const char *)zeros, 64);
		break;
	case S_P1:
		msgpack_pack_array(pk, 1);
		buddy_mp_pack_bin(pk, zeros, 256);
		break;
	case S_P0:
		msgpack_pack_array(pk, 0);
		break;
	case S_P1024:
	case S_P1025: {
		size_t n = v == S_P1024 ? BUDDY_POSTS_BATCH_MAX : BUDDY_POSTS_BATCH_MAX + 1;

		msgpack_pack_array(pk, n);
		for (size_t i = 0; i < n; i++)
			buddy_mp_pack_bin(pk, zeros, 1);
		break;
	}
	case S_P_STR:
		msgpack_pack_array(pk, 2);
		buddy_mp_pack_bin(pk, zeros, 256);
		buddy_mp_pack_strn(pk, (const char *)zeros, 256);
		break;
	case S_P_EMPTY:
		msgpack_pack_array(pk, 2);
		buddy_mp_pack_bin(pk, zeros, 256);
		buddy_mp_pack_bin(pk, zeros, 0);
		break;
	case S_P_TOOBIG:
		msgpack_pack_array(pk, 1);
		buddy_mp_pack_bin(pk, zeros, BUDDY_POST_MAX + 1);
		break;
	case S_P_LARGEST:
		msgpack_pack_array(pk, 1);
		buddy_mp_pack_bin(pk, zeros, BUDDY_POST_MAX);
		break;
	case S_P_MAP:
		msgpack_pack_map(pk, 0);
		break;
	}
}

struct skv {
	const char *key;
	enum sval val;
};

/* Packs [type, {fields}], decodes it as a transport message and reads its body. */
static int read_sync(enum buddy_sync_msg type, const struct skv *f, size_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct msg m;
	uint64_t h = 99, fork = 99, e = 99;
	uint8_t x[BUDDY_POST_HASH_BYTES], r[BUDDY_POST_SIG_BYTES];
	const msgpack_object *posts = NULL;
	size_t np = 99;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, type);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		pack_str(&pk, f[i].key);
		pack_sval(&pk, f[i].val);
	}
	msg_decode(&sb, &m);
	switch (type) {
	case BUDDY_MSG_HEADS:
		rc = buddy_msg_heads_read(m.body, &h, x, &fork, &e);
		break;
	case BUDDY_MSG_POSTS:
		rc = buddy_msg_posts_read(m.body, &posts, &np, r);
		break;
	default:
		rc = buddy_msg_ack_read(m.body, &h, x, r);
		break;
	}
	/* nothing is written on failure */
	if (rc)
		assert_true(h == 99 && fork == 99 && np == 99 && posts == NULL);
	msgpack_unpacked_destroy(&m.u);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

#define SYNC(type, rc, ...)                                                                        \
	assert_int_equal(                                                                          \
		read_sync(type, (const struct skv[]){__VA_ARGS__},                                 \
			  sizeof((const struct skv[]){__VA_ARGS__}) / sizeof(struct skv)),         \
		rc)

static void test_sync_bodies_by_hand(void **state)
{
	const int E = BUDDY_E_INVALID;

	(void)state;
	/* HEADS: x with h > 0 only; f optional */
	SYNC(BUDDY_MSG_HEADS, 0, {"h", S_UINT5}, {"x", S_BIN32}, {"f", S_UINT5});
	SYNC(BUDDY_MSG_HEADS, 0, {"h", S_UINT5}, {"x", S_BIN32});
	SYNC(BUDDY_MSG_HEADS, 0, {"h", S_UINT0});
	SYNC(BUDDY_MSG_HEADS, 0, {"h", S_UINT0}, {"x", S_NIL}, {"later", S_NIL});
	SYNC(BUDDY_MSG_HEADS, 0, {"h", S_UINT0}, {"x", S_BIN31});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_UINT5});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_UINT5}, {"x", S_BIN31});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_UINT5}, {"x", S_BIN33});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_UINT5}, {"x", S_STR32});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_NEG});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_STR});
	SYNC(BUDDY_MSG_HEADS, E, {"x", S_BIN32});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_UINT0}, {"f", S_STR});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_UINT0}, {"f", S_NEG});
	SYNC(BUDDY_MSG_HEADS, E, {"h", S_UINT0}, {"h", S_UINT0});

	/* POSTS: 1..1024 bins of 1..65024 bytes, a 64-byte signature */
	SYNC(BUDDY_MSG_POSTS, 0, {"p", S_P1}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, 0, {"s", S_BIN64}, {"p", S_P1024}, {"n", S_STR});
	SYNC(BUDDY_MSG_POSTS, 0, {"p", S_P_LARGEST}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P0}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P1025}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P_STR}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P_EMPTY}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P_TOOBIG}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P_MAP}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_BIN64}, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P1}, {"s", S_BIN63});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P1}, {"s", S_BIN65});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P1}, {"s", S_STR64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P1});
	SYNC(BUDDY_MSG_POSTS, E, {"s", S_BIN64});
	SYNC(BUDDY_MSG_POSTS, E, {"p", S_P1}, {"s", S_BIN64}, {"p", S_P1});

	/* ACK: h, x and r, all required */
	SYNC(BUDDY_MSG_ACK, 0, {"h", S_UINT5}, {"x", S_BIN32}, {"r", S_BIN64});
	SYNC(BUDDY_MSG_ACK, 0, {"r", S_BIN64}, {"x", S_BIN32}, {"h", S_UINT0}, {"z", S_NIL});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_UINT5}, {"x", S_BIN32});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_UINT5}, {"r", S_BIN64});
	SYNC(BUDDY_MSG_ACK, E, {"x", S_BIN32}, {"r", S_BIN64});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_NEG}, {"x", S_BIN32}, {"r", S_BIN64});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_UINT5}, {"x", S_BIN33}, {"r", S_BIN64});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_UINT5}, {"x", S_STR32}, {"r", S_BIN64});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_UINT5}, {"x", S_BIN32}, {"r", S_BIN63});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_UINT5}, {"x", S_BIN32}, {"r", S_STR64});
	SYNC(BUDDY_MSG_ACK, E, {"h", S_UINT5}, {"x", S_BIN32}, {"r", S_BIN64}, {"x", S_BIN32});
}

/* A body that is not a map is refused by every reader (the envelope makes it one, but the
 * readers do not count on it). */
static void test_sync_readers_refuse_non_maps(void **state)
{
	msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
	const msgpack_object *posts;
	uint8_t x[BUDDY_POST_HASH_BYTES], r[BUDDY_POST_SIG_BYTES];
	uint64_t h, f;
	size_t n;

	(void)state;
	assert_int_equal(buddy_msg_heads_read(&nil, &h, x, &f, &f), BUDDY_E_INVALID);
	assert_int_equal(buddy_msg_posts_read(&nil, &posts, &n, r), BUDDY_E_INVALID);
	assert_int_equal(buddy_msg_ack_read(&nil, &h, x, r), BUDDY_E_INVALID);
	assert_int_equal(buddy_post_read_retraction(&nil, &h), BUDDY_E_INVALID);
	assert_int_equal(buddy_post_read_retraction(NULL, &h), BUDDY_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example_posts),
		cmocka_unit_test(test_worked_example_signatures),
		cmocka_unit_test(test_worked_example_decodes),
		cmocka_unit_test(test_padding_buckets),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_envelope_roundtrip),
		cmocka_unit_test(test_decode_by_hand),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_decode_limits),
		cmocka_unit_test(test_bodies_by_hand),
		cmocka_unit_test(test_bodies_missing_keys),
		cmocka_unit_test(test_bodies_values),
		cmocka_unit_test(test_bodies_keys),
		cmocka_unit_test(test_commitment_roundtrip),
		cmocka_unit_test(test_entry_roundtrip),
		cmocka_unit_test(test_entry_largest),
		cmocka_unit_test(test_retraction_and_reaction_roundtrip),
		cmocka_unit_test(test_commitment_writer_refusals),
		cmocka_unit_test(test_entry_writer_refusals),
		cmocka_unit_test(test_reaction_writer_refusals),
		cmocka_unit_test(test_pause_roundtrip),
		cmocka_unit_test(test_pause_writer_refusals),
		cmocka_unit_test(test_signatures_bind_every_input),
		cmocka_unit_test(test_hash_is_keyed_blake2b),
		cmocka_unit_test(test_heads_roundtrip),
		cmocka_unit_test(test_posts_roundtrip),
		cmocka_unit_test(test_posts_largest_batch),
		cmocka_unit_test(test_ack_and_end_roundtrip),
		cmocka_unit_test(test_sync_bodies_by_hand),
		cmocka_unit_test(test_sync_readers_refuse_non_maps),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
