/* MessagePack framing and the control API's RPC envelopes.
 *
 * buddy_mp_check walks the raw bytes of one object before msgpack-c sees them: it answers
 * "complete (and how long)", "incomplete so far", "over a limit" or "not ours", and it answers
 * "over a limit" from a header alone, before anyone buffers or allocates what the header
 * declares. Everything it calls complete, msgpack-c decodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/rpc.h"

/* A byte array literal and its size, as two arguments. */
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static const struct buddy_mp_limits roomy = {
	.max_bytes = 4 * 1024 * 1024, .max_depth = 8, .max_objects = 1024 * 1024};

static int check(const uint8_t *buf, size_t len, const struct buddy_mp_limits *lim, size_t *objlen)
{
	*objlen = (size_t)-1;
	return buddy_mp_check(buf, len, lim, objlen);
}

/* buf holds exactly one whole object, and every shorter prefix of it is "incomplete". */
static void assert_whole(const uint8_t *buf, size_t len, const struct buddy_mp_limits *lim)
{
	size_t objlen;

	assert_int_equal(check(buf, len, lim, &objlen), 0);
	assert_int_equal(objlen, len);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(check(buf, n, lim, &objlen), 1);
}

static void assert_check(const uint8_t *buf, size_t len, const struct buddy_mp_limits *lim,
			 int want)
{
	size_t objlen;

	assert_int_equal(check(buf, len, lim, &objlen), want);
}

static struct buddy_mp_limits limits(size_t max_bytes, unsigned max_depth, size_t max_objects)
{
	return (struct buddy_mp_limits){
		.max_bytes = max_bytes, .max_depth = max_depth, .max_objects = max_objects};
}

/* A header byte followed by n bytes of payload 'x'. */
static uint8_t *with_payload(const uint8_t *head, size_t headlen, size_t n, size_t *len)
{
	uint8_t *buf = malloc(headlen + n);

	assert_non_null(buf);
	memcpy(buf, head, headlen);
	memset(buf + headlen, 'x', n);
	*len = headlen + n;
	return buf;
}

static void assert_whole_with_payload(const uint8_t *head, size_t headlen, size_t n)
{
	size_t len;
	uint8_t *buf = with_payload(head, headlen, n, &len);

	assert_whole(buf, len, &roomy);
	free(buf);
}

/* ---- every type ---- */

static void test_mp_check_fixints(void **state)
{
	(void)state;
	assert_whole(BYTES(0x00), &roomy);
	assert_whole(BYTES(0x2a), &roomy);
	assert_whole(BYTES(0x7f), &roomy);
	assert_whole(BYTES(0xe0), &roomy); /* -32 */
	assert_whole(BYTES(0xff), &roomy); /* -1 */
}

static void test_mp_check_nil_and_booleans(void **state)
{
	(void)state;
	assert_whole(BYTES(0xc0), &roomy);
	assert_whole(BYTES(0xc2), &roomy);
	assert_whole(BYTES(0xc3), &roomy);
}

static void test_mp_check_ints_of_every_width(void **state)
{
	(void)state;
	assert_whole(BYTES(0xcc, 0xff), &roomy);
	assert_whole(BYTES(0xcd, 0xff, 0xff), &roomy);
	assert_whole(BYTES(0xce, 0xff, 0xff, 0xff, 0xff), &roomy);
	assert_whole(BYTES(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), &roomy);
	assert_whole(BYTES(0xd0, 0x80), &roomy);
	assert_whole(BYTES(0xd1, 0x80, 0x00), &roomy);
	assert_whole(BYTES(0xd2, 0x80, 0x00, 0x00, 0x00), &roomy);
	assert_whole(BYTES(0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), &roomy);
}

static void test_mp_check_floats(void **state)
{
	(void)state;
	assert_whole(BYTES(0xca, 0x3f, 0x80, 0x00, 0x00), &roomy);
	assert_whole(BYTES(0xcb, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), &roomy);
}

static void test_mp_check_strings_of_every_width(void **state)
{
	(void)state;
	assert_whole(BYTES(0xa0), &roomy);
	assert_whole(BYTES(0xa3, 'a', 'b', 'c'), &roomy);
	assert_whole_with_payload(BYTES(0xbf), 31);
	assert_whole(BYTES(0xd9, 0x00), &roomy);
	assert_whole_with_payload(BYTES(0xd9, 0xff), 255);
	assert_whole(BYTES(0xda, 0x00, 0x00), &roomy);
	assert_whole_with_payload(BYTES(0xda, 0x01, 0x2c), 300);
	assert_whole(BYTES(0xdb, 0x00, 0x00, 0x00, 0x00), &roomy);
	assert_whole_with_payload(BYTES(0xdb, 0x00, 0x01, 0x00, 0x00), 65536);
}

static void test_mp_check_bins_of_every_width(void **state)
{
	(void)state;
	assert_whole(BYTES(0xc4, 0x00), &roomy);
	assert_whole_with_payload(BYTES(0xc4, 0x10), 16);
	assert_whole_with_payload(BYTES(0xc5, 0x01, 0x00), 256);
	assert_whole_with_payload(BYTES(0xc6, 0x00, 0x00, 0x00, 0x03), 3);
}

static void test_mp_check_arrays_of_every_width(void **state)
{
	(void)state;
	assert_whole(BYTES(0x90), &roomy);
	assert_whole(BYTES(0x93, 0x01, 0x02, 0x03), &roomy);
	assert_whole(BYTES(0xdc, 0x00, 0x00), &roomy);
	assert_whole(BYTES(0xdc, 0x00, 0x02, 0xc0, 0xc3), &roomy);
	assert_whole(BYTES(0xdd, 0x00, 0x00, 0x00, 0x00), &roomy);
	assert_whole(BYTES(0xdd, 0x00, 0x00, 0x00, 0x02, 0xa1, 'x', 0xff), &roomy);
}

static void test_mp_check_maps_of_every_width(void **state)
{
	(void)state;
	assert_whole(BYTES(0x80), &roomy);
	assert_whole(BYTES(0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0xc0), &roomy);
	assert_whole(BYTES(0xde, 0x00, 0x00), &roomy);
	assert_whole(BYTES(0xde, 0x00, 0x01, 0x01, 0x02), &roomy);
	assert_whole(BYTES(0xdf, 0x00, 0x00, 0x00, 0x00), &roomy);
	assert_whole(BYTES(0xdf, 0x00, 0x00, 0x00, 0x01, 0xa1, 'k', 0x90), &roomy);
}

static void test_mp_check_nested(void **state)
{
	(void)state;
	/* {"a": [1, {"b": nil}, bin8 "xy"], "c": [[], {}]} */
	assert_whole(BYTES(0x82, 0xa1, 'a', 0x93, 0x01, 0x81, 0xa1, 'b', 0xc0, 0xc4, 0x02, 'x', 'y',
			   0xa1, 'c', 0x92, 0x90, 0x80),
		     &roomy);
	/* [[[[1]]]] */
	assert_whole(BYTES(0x91, 0x91, 0x91, 0x91, 0x01), &roomy);
}

/* ---- incomplete input ---- */

static void test_mp_check_every_prefix_is_incomplete(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* a request as the CLI sends it */
	assert_int_equal(buddy_rpc_pack_request_head(&pk, 0x12345678, "entry.add"), 0);
	msgpack_pack_map(&pk, 3);
	buddy_mp_pack_cstr(&pk, "text");
	buddy_mp_pack_cstr(&pk, "ran 5 km along the river, slow but steady");
	buddy_mp_pack_cstr(&pk, "value");
	msgpack_pack_double(&pk, 5.25);
	buddy_mp_pack_cstr(&pk, "tags");
	msgpack_pack_array(&pk, 2);
	buddy_mp_pack_cstr(&pk, "run");
	buddy_mp_pack_cstr(&pk, "outside");
	assert_whole((const uint8_t *)sb.data, sb.size, &roomy);
	msgpack_sbuffer_destroy(&sb);

	/* 32-bit lengths and counts, split inside their length fields too */
	assert_whole(BYTES(0xdb, 0x00, 0x00, 0x00, 0x02, 'h', 'i'), &roomy);
	assert_whole(BYTES(0xc6, 0x00, 0x00, 0x00, 0x01, 0x00), &roomy);
	assert_whole(BYTES(0xdd, 0x00, 0x00, 0x00, 0x01, 0xcf, 1, 2, 3, 4, 5, 6, 7, 8), &roomy);
	assert_whole(BYTES(0xdf, 0x00, 0x00, 0x00, 0x01, 0xa0, 0xcb, 1, 2, 3, 4, 5, 6, 7, 8),
		     &roomy);
}

/* ---- limits ---- */

static void test_mp_check_str_longer_than_max_bytes_refused_from_header(void **state)
{
	struct buddy_mp_limits lim = limits(100, 8, 100);

	(void)state;
	/* only the header is there: the payload would never fit, so there is nothing to wait for */
	assert_check(BYTES(0xd9, 0xff), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xda, 0x00, 0x64), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdb, 0x7f, 0xff, 0xff, 0xff), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdb, 0xff, 0xff, 0xff, 0xff), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xc4, 0xff), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xc5, 0xff, 0xff), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xc6, 0xff, 0xff, 0xff, 0xff), &lim, BUDDY_E_TOOBIG);
	/* inside a container too */
	assert_check(BYTES(0x91, 0xdb, 0x00, 0x10, 0x00, 0x00), &lim, BUDDY_E_TOOBIG);
	/* the largest that fits: 2 bytes of header and 98 of payload */
	assert_check(BYTES(0xd9, 0x62), &lim, 1);
	assert_check(BYTES(0xd9, 0x63), &lim, BUDDY_E_TOOBIG);
}

static void test_mp_check_length_field_past_max_bytes_refused(void **state)
{
	struct buddy_mp_limits lim = limits(3, 8, 100);

	(void)state;
	/* an empty str32 or array32 is 5 bytes: it can never fit in 3, whatever follows */
	assert_check(BYTES(0xdb), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdb, 0x00, 0x00, 0x00, 0x00), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xc6, 0x00, 0x00, 0x00, 0x00), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdd, 0x00, 0x00, 0x00, 0x00), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdf, 0x00, 0x00, 0x00, 0x00), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xda, 0x00, 0x00), &lim, 0);
	assert_check(BYTES(0xdc, 0x00, 0x00), &lim, 0);
}

static void test_mp_check_object_of_exactly_max_bytes(void **state)
{
	struct buddy_mp_limits fits = limits(4, 8, 100), short_by_one = limits(3, 8, 100);

	(void)state;
	assert_whole(BYTES(0x93, 0x01, 0x02, 0x03), &fits);
	assert_check(BYTES(0x93, 0x01, 0x02, 0x03), &short_by_one, BUDDY_E_TOOBIG);
	assert_whole(BYTES(0xa3, 'a', 'b', 'c'), &fits);
	assert_check(BYTES(0xa3), &short_by_one, BUDDY_E_TOOBIG);
	/* a uint32 is 5 bytes: refused from its tag byte */
	assert_check(BYTES(0xce, 0, 0, 0, 1), &fits, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xce), &fits, BUDDY_E_TOOBIG);
}

static void test_mp_check_huge_container_count_refused_from_header(void **state)
{
	struct buddy_mp_limits small = limits(1024, 8, 1024);
	msgpack_unpacked u;

	(void)state;
	/* 4 billion elements are declared in 5 bytes; nothing may be allocated for them */
	assert_check(BYTES(0xdd, 0xff, 0xff, 0xff, 0xff), &roomy, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdf, 0xff, 0xff, 0xff, 0xff), &roomy, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdc, 0xff, 0xff), &small, BUDDY_E_TOOBIG);
	assert_check(BYTES(0x91, 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff), &roomy, BUDDY_E_TOOBIG);
	/* and decode refuses before msgpack-c tries to allocate 4G objects (which ASan would
	 * report) */
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_mp_decode(BYTES(0xdd, 0xff, 0xff, 0xff, 0xff), &roomy, &u),
			 BUDDY_E_TOOBIG);
	assert_int_equal(buddy_mp_decode(BYTES(0xdf, 0xff, 0xff, 0xff, 0xff), &roomy, &u),
			 BUDDY_E_TOOBIG);
	msgpack_unpacked_destroy(&u);
}

static void test_mp_check_container_count_beyond_remaining_bytes_refused(void **state)
{
	struct buddy_mp_limits lim = limits(10, 8, 100);

	(void)state;
	/* every element takes at least a byte: 9 elements fit after a 1-byte header, 10 do not */
	assert_check(BYTES(0x99), &lim, 1);
	assert_check(BYTES(0x9a), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0xdc, 0x00, 0x07), &lim, 1);
	assert_check(BYTES(0xdc, 0x00, 0x08), &lim, BUDDY_E_TOOBIG);
	/* a map's count is pairs */
	assert_check(BYTES(0x84), &lim, 1);
	assert_check(BYTES(0x85), &lim, BUDDY_E_TOOBIG);
}

static void test_mp_check_depth_over_max_refused(void **state)
{
	struct buddy_mp_limits lim = limits(1024, 3, 1024);

	(void)state;
	assert_whole(BYTES(0x91, 0x91, 0x91, 0x01), &lim);
	assert_check(BYTES(0x91, 0x91, 0x91, 0x91, 0x01), &lim, BUDDY_E_TOOBIG);
	/* refused as soon as the fourth level's header is seen */
	assert_check(BYTES(0x91, 0x91, 0x91, 0x91), &lim, BUDDY_E_TOOBIG);
	/* maps nest too */
	assert_whole(BYTES(0x81, 0x01, 0x81, 0x02, 0x91, 0xc0), &lim);
	assert_check(BYTES(0x81, 0x01, 0x81, 0x02, 0x81, 0x03, 0x91, 0xc0), &lim, BUDDY_E_TOOBIG);
	/* the depth counts nesting, not containers: siblings are fine */
	assert_whole(BYTES(0x93, 0x91, 0x91, 0x01, 0x91, 0x91, 0x02, 0x91, 0x91, 0x03), &lim);
}

static void test_mp_check_empty_container_counts_as_a_level(void **state)
{
	struct buddy_mp_limits lim = limits(1024, 1, 1024);

	(void)state;
	assert_whole(BYTES(0x90), &lim);
	assert_whole(BYTES(0x91, 0x01), &lim);
	assert_check(BYTES(0x91, 0x90), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0x91, 0x80), &lim, BUDDY_E_TOOBIG);
	assert_check(BYTES(0x81, 0xa0, 0xdc, 0x00, 0x00), &lim, BUDDY_E_TOOBIG);
}

/* msgpack-c's unpacker has a fixed stack of 32 levels; a deeper object must not be called
 * complete here, whatever max_depth the caller asks for. */
static void test_mp_check_depth_capped_at_msgpack_c_limit(void **state)
{
	struct buddy_mp_limits lim = limits(1024, 1000, 1024);
	uint8_t buf[40];
	msgpack_unpacked u;
	size_t off;

	(void)state;
	memset(buf, 0x91, sizeof(buf));
	buf[31] = 0x90; /* 32 levels, the innermost empty */
	assert_whole(buf, 32, &lim);
	msgpack_unpacked_init(&u);
	off = 0;
	assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, 32, &off),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, 32);

	buf[31] = 0x91;
	buf[32] = 0x90; /* 33 levels */
	assert_check(buf, 33, &lim, BUDDY_E_TOOBIG);
	off = 0;
	assert_int_not_equal(msgpack_unpack_next(&u, (const char *)buf, 33, &off),
			     MSGPACK_UNPACK_SUCCESS);
	msgpack_unpacked_destroy(&u);
}

static void test_mp_check_max_objects(void **state)
{
	struct buddy_mp_limits four = limits(1024, 8, 4), three = limits(1024, 8, 3);

	(void)state;
	/* [1, 2, 3] is four objects: the array and its elements */
	assert_whole(BYTES(0x93, 0x01, 0x02, 0x03), &four);
	assert_check(BYTES(0x93, 0x01, 0x02, 0x03), &three, BUDDY_E_TOOBIG);
	/* {1: [2]} is four: map, key, array, element */
	assert_whole(BYTES(0x81, 0x01, 0x91, 0x02), &four);
	assert_check(BYTES(0x81, 0x01, 0x91, 0x02), &three, BUDDY_E_TOOBIG);
	/* a count over max_objects is refused from the header alone */
	assert_check(BYTES(0xdc, 0x00, 0x04), &three, BUDDY_E_TOOBIG);
	assert_check(BYTES(0x82), &three, BUDDY_E_TOOBIG);
}

/* ---- not ours ---- */

static void test_mp_check_reserved_and_ext_invalid(void **state)
{
	static const uint8_t refused[] = {0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
	uint8_t buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(refused); i++) {
		memset(buf, 0, sizeof(buf));
		buf[0] = refused[i];
		assert_check(buf, sizeof(buf), &roomy, BUDDY_E_INVALID);
		assert_check(buf, 1, &roomy, BUDDY_E_INVALID);
		/* deep inside a valid prefix as well */
		buf[0] = 0x92;
		buf[1] = 0x81;
		buf[2] = 0xa1;
		buf[3] = 'k';
		buf[4] = refused[i];
		assert_check(buf, sizeof(buf), &roomy, BUDDY_E_INVALID);
	}
}

static void test_mp_check_two_objects_give_length_of_first(void **state)
{
	size_t objlen;

	(void)state;
	assert_int_equal(check(BYTES(0x01, 0x02), &roomy, &objlen), 0);
	assert_int_equal(objlen, 1);
	assert_int_equal(check(BYTES(0x92, 0x01, 0xa1, 'x', 0x93, 0x01, 0x02), &roomy, &objlen), 0);
	assert_int_equal(objlen, 4);
	/* the second may be anything, even invalid or over a limit: it is not looked at */
	assert_int_equal(check(BYTES(0xa1, 'x', 0xc1), &roomy, &objlen), 0);
	assert_int_equal(objlen, 2);
	assert_int_equal(check(BYTES(0xc0, 0xdd, 0xff, 0xff, 0xff, 0xff), &roomy, &objlen), 0);
	assert_int_equal(objlen, 1);
}

/* ---- agreement with msgpack-c on random objects ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64: deterministic, the same objects every run */
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t random_len(void)
{
	switch (rnd() % 16) {
	case 0:
		return 32 + rnd() % 300; /* str8/str16 */
	case 1:
		return rnd() % 64 ? rnd() % 40 : 65536 + rnd() % 64; /* rarely 32-bit lengths */
	default:
		return rnd() % 32;
	}
}

static void pack_random(msgpack_packer *pk, unsigned depth)
{
	static const char junk[70000];
	size_t n;

	switch (rnd() % (depth < 5 ? 12 : 9)) {
	case 0:
		msgpack_pack_nil(pk);
		break;
	case 1:
		rnd() % 2 ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		break;
	case 2:
		msgpack_pack_int64(pk, (int64_t)rnd() >> (rnd() % 64));
		break;
	case 3:
		msgpack_pack_uint64(pk, rnd() >> (rnd() % 64));
		break;
	case 4:
		msgpack_pack_float(pk, (float)(int32_t)rnd() / 7.0f);
		break;
	case 5:
		msgpack_pack_double(pk, (double)(int64_t)rnd() / 3.0);
		break;
	case 6:
		n = random_len();
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, junk, n);
		break;
	case 7:
		n = random_len();
		msgpack_pack_bin(pk, n);
		msgpack_pack_bin_body(pk, junk, n);
		break;
	case 8:
		msgpack_pack_int(pk, (int)(rnd() % 160) - 32); /* fixints */
		break;
	case 9:
		n = rnd() % 8 ? rnd() % 6 : 16 + rnd() % 8; /* fixarray, array16 */
		msgpack_pack_array(pk, n);
		while (n--)
			pack_random(pk, depth + 1);
		break;
	case 10:
		n = rnd() % 8 ? rnd() % 4 : 16 + rnd() % 4; /* fixmap, map16 */
		msgpack_pack_map(pk, n);
		for (size_t i = 0; i < 2 * n; i++)
			pack_random(pk, depth + 1);
		break;
	default:
		rnd() % 2 ? msgpack_pack_array(pk, 0) : msgpack_pack_map(pk, 0);
	}
}

static void test_mp_check_agrees_with_msgpack_c_on_random_objects(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&u);
	for (int i = 0; i < 2000; i++) {
		size_t objlen = 0, off = 0;

		msgpack_sbuffer_clear(&sb);
		if (i % 2) {
			pack_random(&pk, 1); /* scalars too */
		} else {
			size_t n = 1 + rnd() % 8;

			msgpack_pack_array(&pk, n);
			while (n--)
				pack_random(&pk, 2);
		}
		assert_int_equal(check((const uint8_t *)sb.data, sb.size, &roomy, &objlen), 0);
		assert_int_equal(objlen, sb.size);
		assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
				 MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, sb.size);
		if (sb.size <= 4096) {
			for (size_t n = 0; n < sb.size; n++)
				assert_int_equal(
					check((const uint8_t *)sb.data, n, &roomy, &objlen), 1);
		}
	}
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- decode ---- */

static void test_mp_decode_exactly_one_object(void **state)
{
	msgpack_unpacked u;

	(void)state;
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_mp_decode(BYTES(0x92, 0x01, 0xa1, 'x'), &roomy, &u), 0);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(u.data.via.array.size, 2);
	assert_int_equal(buddy_mp_decode(BYTES(0x92, 0x01, 0xa1, 'x', 0xc0), &roomy, &u),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_decode(BYTES(0x92, 0x01, 0xa1), &roomy, &u), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_decode(BYTES(0x92, 0x01, 0xc1), &roomy, &u), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_decode((const uint8_t *)"", 0, &roomy, &u), BUDDY_E_INVALID);
	msgpack_unpacked_destroy(&u);
}

/* ---- typed reads ---- */

struct decoded {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
};

static int decoded_setup(void **state)
{
	struct decoded *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	msgpack_sbuffer_init(&d->sb);
	msgpack_packer_init(&d->pk, &d->sb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&d->u);
	*state = d;
	return 0;
}

static int decoded_teardown(void **state)
{
	struct decoded *d = *state;

	msgpack_unpacked_destroy(&d->u);
	msgpack_sbuffer_destroy(&d->sb);
	free(d);
	return 0;
}

/* Decodes what was packed into d, then starts packing afresh. */
static const msgpack_object *decode(struct decoded *d)
{
	assert_int_equal(buddy_mp_decode((const uint8_t *)d->sb.data, d->sb.size, &roomy, &d->u),
			 0);
	msgpack_sbuffer_clear(&d->sb);
	return &d->u.data;
}

/* A map with one of every type: {"s": "text", "e": "", "z": "a\0b", "b": bin "\1\2",
 * "i": -5, "u": 7, "big": 2^63, "t": true, "f": 1.5, "n": nil} */
static const msgpack_object *every_type(struct decoded *d)
{
	msgpack_packer *pk = &d->pk;

	msgpack_pack_map(pk, 10);
	buddy_mp_pack_cstr(pk, "s");
	buddy_mp_pack_cstr(pk, "text");
	buddy_mp_pack_cstr(pk, "e");
	buddy_mp_pack_cstr(pk, "");
	buddy_mp_pack_cstr(pk, "z");
	buddy_mp_pack_strn(pk, "a\0b", 3);
	buddy_mp_pack_cstr(pk, "b");
	buddy_mp_pack_bin(pk, "\1\2", 2);
	buddy_mp_pack_cstr(pk, "i");
	msgpack_pack_int(pk, -5);
	buddy_mp_pack_cstr(pk, "u");
	msgpack_pack_int(pk, 7);
	buddy_mp_pack_cstr(pk, "big");
	msgpack_pack_uint64(pk, 1ull << 63);
	buddy_mp_pack_cstr(pk, "t");
	msgpack_pack_true(pk);
	buddy_mp_pack_cstr(pk, "f");
	msgpack_pack_double(pk, 1.5);
	buddy_mp_pack_cstr(pk, "n");
	msgpack_pack_nil(pk);
	return decode(d);
}

static void test_mp_get_finds_string_keys_only(void **state)
{
	struct decoded *d = *state;
	const msgpack_object *m = every_type(d);

	assert_non_null(buddy_mp_get(m, "s"));
	assert_non_null(buddy_mp_get(m, "n"));
	assert_int_equal(buddy_mp_get(m, "n")->type, MSGPACK_OBJECT_NIL);
	assert_null(buddy_mp_get(m, "absent"));
	assert_null(buddy_mp_get(m, "bi")); /* a prefix of "big" is another key */
	assert_null(buddy_mp_get(buddy_mp_get(m, "s"), "s"));
	assert_null(buddy_mp_get(NULL, "s"));

	/* {1: "one"}: an integer key is not the string "1" */
	msgpack_pack_map(&d->pk, 1);
	msgpack_pack_int(&d->pk, 1);
	buddy_mp_pack_cstr(&d->pk, "one");
	assert_null(buddy_mp_get(decode(d), "1"));
}

static void test_mp_typed_reads_of_matching_type(void **state)
{
	const msgpack_object *m = every_type(*state);
	const char *p;
	const uint8_t *b;
	size_t len;
	int64_t i;
	uint64_t u;
	bool t;
	double f;

	assert_int_equal(buddy_mp_str(buddy_mp_get(m, "s"), 4, &p, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "text", 4);
	assert_int_equal(buddy_mp_bin(buddy_mp_get(m, "b"), 2, &b, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(b, "\1\2", 2);
	assert_int_equal(buddy_mp_int(buddy_mp_get(m, "i"), &i), 0);
	assert_int_equal(i, -5);
	assert_int_equal(buddy_mp_int(buddy_mp_get(m, "u"), &i), 0);
	assert_int_equal(i, 7);
	assert_int_equal(buddy_mp_uint(buddy_mp_get(m, "u"), &u), 0);
	assert_int_equal(u, 7);
	assert_int_equal(buddy_mp_uint(buddy_mp_get(m, "big"), &u), 0);
	assert_true(u == 1ull << 63);
	assert_int_equal(buddy_mp_bool(buddy_mp_get(m, "t"), &t), 0);
	assert_true(t);
	assert_int_equal(buddy_mp_double(buddy_mp_get(m, "f"), &f), 0);
	assert_true(f == 1.5);
	/* a double is read from integers too */
	assert_int_equal(buddy_mp_double(buddy_mp_get(m, "i"), &f), 0);
	assert_true(f == -5.0);
	assert_int_equal(buddy_mp_double(buddy_mp_get(m, "u"), &f), 0);
	assert_true(f == 7.0);
}

static void test_mp_typed_reads_of_other_type_invalid(void **state)
{
	const msgpack_object *m = every_type(*state);
	const char *p;
	const uint8_t *b;
	size_t len;
	int64_t i;
	uint64_t u;
	bool t;
	double f;
	char out[8], *dup = NULL;

	assert_int_equal(buddy_mp_str(buddy_mp_get(m, "b"), 16, &p, &len), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_str(buddy_mp_get(m, "n"), 16, &p, &len), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_bin(buddy_mp_get(m, "s"), 16, &b, &len), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_int(buddy_mp_get(m, "f"), &i), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_int(buddy_mp_get(m, "s"), &i), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_int(buddy_mp_get(m, "t"), &i), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_uint(buddy_mp_get(m, "i"), &u), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_uint(buddy_mp_get(m, "f"), &u), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_bool(buddy_mp_get(m, "u"), &t), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_bool(buddy_mp_get(m, "n"), &t), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_double(buddy_mp_get(m, "s"), &f), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_double(buddy_mp_get(m, "t"), &f), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_strcpy(buddy_mp_get(m, "u"), 7, out), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_strdup(buddy_mp_get(m, "b"), 7, true, &dup), BUDDY_E_INVALID);
	assert_null(dup);
	/* an unsigned integer that does not fit int64 is not an int */
	assert_int_equal(buddy_mp_int(buddy_mp_get(m, "big"), &i), BUDDY_E_INVALID);
	/* and a missing value is not any type */
	assert_int_equal(buddy_mp_str(NULL, 16, &p, &len), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_bin(NULL, 16, &b, &len), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_int(NULL, &i), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_uint(NULL, &u), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_bool(NULL, &t), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_double(NULL, &f), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_strcpy(NULL, 7, out), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_strdup(NULL, 7, true, &dup), BUDDY_E_INVALID);
}

static void test_mp_typed_reads_over_max_toobig(void **state)
{
	const msgpack_object *m = every_type(*state);
	const char *p;
	const uint8_t *b;
	size_t len;
	char out[4], *dup = NULL;

	assert_int_equal(buddy_mp_str(buddy_mp_get(m, "s"), 3, &p, &len), BUDDY_E_TOOBIG);
	assert_int_equal(buddy_mp_bin(buddy_mp_get(m, "b"), 1, &b, &len), BUDDY_E_TOOBIG);
	assert_int_equal(buddy_mp_strcpy(buddy_mp_get(m, "s"), 3, out), BUDDY_E_TOOBIG);
	assert_int_equal(buddy_mp_strdup(buddy_mp_get(m, "s"), 3, false, &dup), BUDDY_E_TOOBIG);
	assert_null(dup);
}

static void test_mp_strcpy_one_to_max_bytes_without_nul(void **state)
{
	const msgpack_object *m = every_type(*state);
	char out[5];

	memset(out, '#', sizeof(out));
	assert_int_equal(buddy_mp_strcpy(buddy_mp_get(m, "s"), 4, out), 0);
	assert_string_equal(out, "text");
	assert_int_equal(buddy_mp_strcpy(buddy_mp_get(m, "e"), 4, out), BUDDY_E_INVALID);
	assert_int_equal(buddy_mp_strcpy(buddy_mp_get(m, "z"), 4, out), BUDDY_E_INVALID);
}

static void test_mp_strdup_empty_only_when_allowed(void **state)
{
	const msgpack_object *m = every_type(*state);
	char *s = NULL;

	assert_int_equal(buddy_mp_strdup(buddy_mp_get(m, "s"), 4, false, &s), 0);
	assert_string_equal(s, "text");
	free(s);
	s = NULL;
	assert_int_equal(buddy_mp_strdup(buddy_mp_get(m, "e"), 4, false, &s), BUDDY_E_INVALID);
	assert_null(s);
	assert_int_equal(buddy_mp_strdup(buddy_mp_get(m, "e"), 4, true, &s), 0);
	assert_string_equal(s, "");
	free(s);
	s = NULL;
	assert_int_equal(buddy_mp_strdup(buddy_mp_get(m, "z"), 4, true, &s), BUDDY_E_INVALID);
	assert_null(s);
}

static void test_mp_str_eq(void **state)
{
	const msgpack_object *m = every_type(*state);

	assert_true(buddy_mp_str_eq(buddy_mp_get(m, "s"), "text"));
	assert_false(buddy_mp_str_eq(buddy_mp_get(m, "s"), "tex"));
	assert_false(buddy_mp_str_eq(buddy_mp_get(m, "s"), "texts"));
	assert_true(buddy_mp_str_eq(buddy_mp_get(m, "e"), ""));
	assert_false(buddy_mp_str_eq(buddy_mp_get(m, "z"), "a"));
	assert_false(buddy_mp_str_eq(buddy_mp_get(m, "b"), "\1\2"));
	assert_false(buddy_mp_str_eq(NULL, ""));
}

/* ---- RPC envelopes ---- */

static void test_rpc_request_round_trip(void **state)
{
	struct decoded *d = *state;
	struct buddy_rpc_request req;
	const msgpack_object *o;
	int known = -1;

	assert_int_equal(buddy_rpc_pack_request_head(&d->pk, UINT32_MAX, "commit.add"), 0);
	msgpack_pack_map(&d->pk, 1);
	buddy_mp_pack_cstr(&d->pk, "id");
	buddy_mp_pack_cstr(&d->pk, "run");
	o = decode(d);
	assert_int_equal(buddy_rpc_parse_request(o, &req, &known), 0);
	assert_int_equal(known, 1);
	assert_int_equal(req.msgid, UINT32_MAX);
	assert_int_equal(req.method_len, strlen("commit.add"));
	assert_memory_equal(req.method, "commit.add", req.method_len);
	assert_non_null(req.params);
	assert_true(buddy_mp_str_eq(buddy_mp_get(req.params, "id"), "run"));
}

/* [0, msgid, method, params] with params made by the callback */
static const msgpack_object *request_with(struct decoded *d, void (*params)(msgpack_packer *))
{
	msgpack_pack_array(&d->pk, 4);
	msgpack_pack_int(&d->pk, 0);
	msgpack_pack_int(&d->pk, 7);
	buddy_mp_pack_cstr(&d->pk, "status");
	params(&d->pk);
	return decode(d);
}

static void params_none(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 0);
}

static void params_in_array(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	buddy_mp_pack_cstr(pk, "k");
	msgpack_pack_true(pk);
}

static void params_bare_map(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	buddy_mp_pack_cstr(pk, "k");
	msgpack_pack_true(pk);
}

static void params_nil(msgpack_packer *pk)
{
	msgpack_pack_nil(pk);
}

static void params_two_maps(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_map(pk, 0);
	msgpack_pack_map(pk, 0);
}

static void params_positional(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_int(pk, 1);
}

static void test_rpc_request_params_empty_array_map_or_bare_map(void **state)
{
	struct decoded *d = *state;
	struct buddy_rpc_request req;
	int known;

	assert_int_equal(buddy_rpc_parse_request(request_with(d, params_none), &req, &known), 0);
	assert_null(req.params);
	assert_int_equal(req.msgid, 7);
	assert_int_equal(buddy_rpc_parse_request(request_with(d, params_in_array), &req, &known),
			 0);
	assert_non_null(req.params);
	assert_non_null(buddy_mp_get(req.params, "k"));
	assert_int_equal(buddy_rpc_parse_request(request_with(d, params_bare_map), &req, &known),
			 0);
	assert_non_null(buddy_mp_get(req.params, "k"));
}

static void test_rpc_request_other_params_invalid(void **state)
{
	struct decoded *d = *state;
	struct buddy_rpc_request req;
	int known;

	assert_int_equal(buddy_rpc_parse_request(request_with(d, params_nil), &req, &known),
			 BUDDY_E_INVALID);
	assert_int_equal(known, 1);
	assert_int_equal(buddy_rpc_parse_request(request_with(d, params_two_maps), &req, &known),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_rpc_parse_request(request_with(d, params_positional), &req, &known),
			 BUDDY_E_INVALID);
}

/* Parses the request packed as the bytes given; returns the result and msgid_known. */
static int parse_request_bytes(struct decoded *d, const uint8_t *buf, size_t len, int *known,
			       uint32_t *msgid)
{
	struct buddy_rpc_request req = {0};
	int rc;

	msgpack_sbuffer_write(&d->sb, (const char *)buf, len);
	*known = -1;
	rc = buddy_rpc_parse_request(decode(d), &req, known);
	*msgid = req.msgid;
	return rc;
}

static void test_rpc_request_bad_envelope_invalid(void **state)
{
	struct decoded *d = *state;
	uint32_t msgid;
	int known;

	/* not an array: no msgid to read */
	assert_int_equal(parse_request_bytes(d, BYTES(0x80), &known, &msgid), BUDDY_E_INVALID);
	assert_int_equal(known, 0);
	/* an array of another size, or of another type: invalid, but its msgid (element 1) is
	 * readable, so the error answer can name the request (CONTROL.md) */
	assert_int_equal(parse_request_bytes(d, BYTES(0x93, 0x00, 0x01, 0xa1, 'm'), &known, &msgid),
			 BUDDY_E_INVALID);
	assert_int_equal(known, 1);
	assert_int_equal(msgid, 1);
	/* a response or a notification is not a request */
	assert_int_equal(
		parse_request_bytes(d, BYTES(0x94, 0x01, 0x05, 0xa1, 'm', 0x90), &known, &msgid),
		BUDDY_E_INVALID);
	assert_int_equal(known, 1);
	assert_int_equal(msgid, 5);
	assert_int_equal(
		parse_request_bytes(d, BYTES(0x94, 0x02, 0x01, 0xa1, 'm', 0x90), &known, &msgid),
		BUDDY_E_INVALID);
	assert_int_equal(known, 1);
	/* the type is an integer, not a string or a negative number */
	assert_int_equal(parse_request_bytes(d, BYTES(0x94, 0xa1, '0', 0x01, 0xa1, 'm', 0x90),
					     &known, &msgid),
			 BUDDY_E_INVALID);
	assert_int_equal(known, 1);
	/* a one-element array: no msgid */
	assert_int_equal(parse_request_bytes(d, BYTES(0x91, 0x00), &known, &msgid),
			 BUDDY_E_INVALID);
	assert_int_equal(known, 0);
}

static void test_rpc_request_msgid_over_u32_invalid_and_unknown(void **state)
{
	struct decoded *d = *state;
	uint32_t msgid;
	int known;

	assert_int_equal(parse_request_bytes(d,
					     BYTES(0x94, 0x00, 0xcf, 0x00, 0x00, 0x00, 0x01, 0x00,
						   0x00, 0x00, 0x00, 0xa1, 'm', 0x90),
					     &known, &msgid),
			 BUDDY_E_INVALID);
	assert_int_equal(known, 0);
	assert_int_equal(
		parse_request_bytes(d, BYTES(0x94, 0x00, 0xff, 0xa1, 'm', 0x90), &known, &msgid),
		BUDDY_E_INVALID);
	assert_int_equal(known, 0);
	assert_int_equal(
		parse_request_bytes(d, BYTES(0x94, 0x00, 0xc0, 0xa1, 'm', 0x90), &known, &msgid),
		BUDDY_E_INVALID);
	assert_int_equal(known, 0);
	/* the largest msgid is fine */
	assert_int_equal(parse_request_bytes(
				 d,
				 BYTES(0x94, 0x00, 0xce, 0xff, 0xff, 0xff, 0xff, 0xa1, 'm', 0x90),
				 &known, &msgid),
			 0);
	assert_int_equal(known, 1);
	assert_int_equal(msgid, UINT32_MAX);
}

static void test_rpc_request_bad_method_invalid_with_msgid_known(void **state)
{
	struct decoded *d = *state;
	struct buddy_rpc_request req;
	uint32_t msgid;
	int known;

	assert_int_equal(
		parse_request_bytes(d, BYTES(0x94, 0x00, 0x2a, 0x01, 0x90), &known, &msgid),
		BUDDY_E_INVALID);
	assert_int_equal(known, 1);
	assert_int_equal(msgid, 42);
	assert_int_equal(parse_request_bytes(d, BYTES(0x94, 0x00, 0x2a, 0xc4, 0x01, 'm', 0x90),
					     &known, &msgid),
			 BUDDY_E_INVALID);
	assert_int_equal(known, 1);
	/* a method name is at most 64 bytes */
	msgpack_pack_array(&d->pk, 4);
	msgpack_pack_int(&d->pk, 0);
	msgpack_pack_int(&d->pk, 42);
	msgpack_pack_str(&d->pk, 65);
	msgpack_pack_str_body(
		&d->pk, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65);
	msgpack_pack_array(&d->pk, 0);
	assert_int_equal(buddy_rpc_parse_request(decode(d), &req, &known), BUDDY_E_INVALID);
	assert_int_equal(known, 1);
}

static void test_rpc_result_round_trip(void **state)
{
	struct decoded *d = *state;
	struct buddy_rpc_response res;

	assert_int_equal(buddy_rpc_pack_result_head(&d->pk, 99), 0);
	msgpack_pack_map(&d->pk, 1);
	buddy_mp_pack_cstr(&d->pk, "entries");
	msgpack_pack_int(&d->pk, 3);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), 0);
	assert_int_equal(res.msgid, 99);
	assert_int_equal(res.code, 0);
	assert_null(res.message);
	assert_non_null(res.result);
	assert_non_null(buddy_mp_get(res.result, "entries"));
}

static void test_rpc_error_round_trip(void **state)
{
	struct decoded *d = *state;
	struct buddy_rpc_response res;

	assert_int_equal(buddy_rpc_pack_error(&d->pk, 5, -BUDDY_E_EXISTS, "already exists"), 0);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), 0);
	assert_int_equal(res.msgid, 5);
	assert_int_equal(res.code, -BUDDY_E_EXISTS);
	assert_int_equal(res.message_len, strlen("already exists"));
	assert_memory_equal(res.message, "already exists", res.message_len);
	assert_null(res.result);
}

static void test_rpc_response_bad_envelope_invalid(void **state)
{
	struct decoded *d = *state;
	struct buddy_rpc_response res;

	/* a request is not a response */
	assert_int_equal(buddy_rpc_pack_request_head(&d->pk, 1, "status"), 0);
	msgpack_pack_map(&d->pk, 0);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), BUDDY_E_INVALID);
	/* an error code is positive */
	assert_int_equal(buddy_rpc_pack_error(&d->pk, 1, 0, "no"), 0);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), BUDDY_E_INVALID);
	assert_int_equal(buddy_rpc_pack_error(&d->pk, 1, -3, "no"), 0);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), BUDDY_E_INVALID);
	/* an error is a {code, message} map */
	msgpack_pack_array(&d->pk, 4);
	msgpack_pack_int(&d->pk, 1);
	msgpack_pack_int(&d->pk, 1);
	buddy_mp_pack_cstr(&d->pk, "failed");
	msgpack_pack_nil(&d->pk);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), BUDDY_E_INVALID);
	msgpack_pack_array(&d->pk, 4);
	msgpack_pack_int(&d->pk, 1);
	msgpack_pack_int(&d->pk, 1);
	msgpack_pack_map(&d->pk, 1);
	buddy_mp_pack_cstr(&d->pk, "code");
	msgpack_pack_int(&d->pk, 8);
	msgpack_pack_nil(&d->pk);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), BUDDY_E_INVALID);
	/* msgid over 32 bits */
	msgpack_pack_array(&d->pk, 4);
	msgpack_pack_int(&d->pk, 1);
	msgpack_pack_uint64(&d->pk, 1ull << 32);
	msgpack_pack_nil(&d->pk);
	msgpack_pack_nil(&d->pk);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), BUDDY_E_INVALID);
	/* three elements */
	msgpack_pack_array(&d->pk, 3);
	msgpack_pack_int(&d->pk, 1);
	msgpack_pack_int(&d->pk, 1);
	msgpack_pack_nil(&d->pk);
	assert_int_equal(buddy_rpc_parse_response(decode(d), &res), BUDDY_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mp_check_fixints),
		cmocka_unit_test(test_mp_check_nil_and_booleans),
		cmocka_unit_test(test_mp_check_ints_of_every_width),
		cmocka_unit_test(test_mp_check_floats),
		cmocka_unit_test(test_mp_check_strings_of_every_width),
		cmocka_unit_test(test_mp_check_bins_of_every_width),
		cmocka_unit_test(test_mp_check_arrays_of_every_width),
		cmocka_unit_test(test_mp_check_maps_of_every_width),
		cmocka_unit_test(test_mp_check_nested),
		cmocka_unit_test(test_mp_check_every_prefix_is_incomplete),
		cmocka_unit_test(test_mp_check_str_longer_than_max_bytes_refused_from_header),
		cmocka_unit_test(test_mp_check_length_field_past_max_bytes_refused),
		cmocka_unit_test(test_mp_check_object_of_exactly_max_bytes),
		cmocka_unit_test(test_mp_check_huge_container_count_refused_from_header),
		cmocka_unit_test(test_mp_check_container_count_beyond_remaining_bytes_refused),
		cmocka_unit_test(test_mp_check_depth_over_max_refused),
		cmocka_unit_test(test_mp_check_empty_container_counts_as_a_level),
		cmocka_unit_test(test_mp_check_depth_capped_at_msgpack_c_limit),
		cmocka_unit_test(test_mp_check_max_objects),
		cmocka_unit_test(test_mp_check_reserved_and_ext_invalid),
		cmocka_unit_test(test_mp_check_two_objects_give_length_of_first),
		cmocka_unit_test(test_mp_check_agrees_with_msgpack_c_on_random_objects),
		cmocka_unit_test(test_mp_decode_exactly_one_object),
		cmocka_unit_test_setup_teardown(test_mp_get_finds_string_keys_only, decoded_setup,
						decoded_teardown),
		cmocka_unit_test_setup_teardown(test_mp_typed_reads_of_matching_type, decoded_setup,
						decoded_teardown),
		cmocka_unit_test_setup_teardown(test_mp_typed_reads_of_other_type_invalid,
						decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(test_mp_typed_reads_over_max_toobig, decoded_setup,
						decoded_teardown),
		cmocka_unit_test_setup_teardown(test_mp_strcpy_one_to_max_bytes_without_nul,
						decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(test_mp_strdup_empty_only_when_allowed,
						decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(test_mp_str_eq, decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_request_round_trip, decoded_setup,
						decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_request_params_empty_array_map_or_bare_map,
						decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_request_other_params_invalid,
						decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_request_bad_envelope_invalid,
						decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_request_msgid_over_u32_invalid_and_unknown,
						decoded_setup, decoded_teardown),
		cmocka_unit_test_setup_teardown(
			test_rpc_request_bad_method_invalid_with_msgid_known, decoded_setup,
			decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_result_round_trip, decoded_setup,
						decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_error_round_trip, decoded_setup,
						decoded_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_response_bad_envelope_invalid,
						decoded_setup, decoded_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
