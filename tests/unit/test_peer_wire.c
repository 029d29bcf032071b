/* The peer protocol's hello payload and transport envelope (proto/PROTOCOL.md, "Handshake
 * payloads" and "Transport messages").
 *
 * A hello is a msgpack map {v, f, id, a[, inv, prf]} of at most 1024 bytes. Its decoder is
 * strict about every field it knows (type, length, range, at most once) and ignores every key it
 * does not know, so that a later version can add fields. A transport message is [type, body]
 * with body a map, at most 64 KiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/peer_wire.h"

/* A byte array literal and its size, as two arguments. */
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static struct buddy_hello sample(bool with_invite)
{
	struct buddy_hello h;

	memset(&h, 0, sizeof(h));
	h.version = BUDDY_PEER_VERSION;
	h.features = 0;
	for (int i = 0; i < 32; i++)
		h.id[i] = (uint8_t)(0xc0 + i);
	h.naddrs = 2;
	strcpy(h.addrs[0].host, "192.0.2.1");
	h.addrs[0].port = 7654;
	strcpy(h.addrs[1].host, "2001:db8::2");
	h.addrs[1].port = 1;
	if (with_invite) {
		h.has_invite = true;
		memset(h.invite_id, 0x11, sizeof(h.invite_id));
		memset(h.proof, 0x22, sizeof(h.proof));
	}
	return h;
}

static void assert_hello_equal(const struct buddy_hello *a, const struct buddy_hello *b)
{
	assert_int_equal(a->version, b->version);
	assert_true(a->features == b->features);
	assert_memory_equal(a->id, b->id, 32);
	assert_int_equal(a->naddrs, b->naddrs);
	for (size_t i = 0; i < a->naddrs; i++) {
		assert_string_equal(a->addrs[i].host, b->addrs[i].host);
		assert_int_equal(a->addrs[i].port, b->addrs[i].port);
	}
	assert_int_equal(a->has_invite, b->has_invite);
	if (a->has_invite) {
		assert_memory_equal(a->invite_id, b->invite_id, sizeof(a->invite_id));
		assert_memory_equal(a->proof, b->proof, sizeof(a->proof));
	}
}

static void roundtrip(const struct buddy_hello *h)
{
	uint8_t buf[BUDDY_HELLO_MAX];
	size_t len = 0;
	struct buddy_hello back;

	assert_int_equal(buddy_hello_encode(h, buf, sizeof(buf), &len), 0);
	assert_true(len > 0 && len <= BUDDY_HELLO_MAX);
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(buddy_hello_decode(buf, len, &back), 0);
	assert_hello_equal(h, &back);
}

static void test_hello_roundtrip(void **state)
{
	struct buddy_hello h = sample(false);

	(void)state;
	roundtrip(&h);
	h = sample(true);
	roundtrip(&h);
	h.naddrs = 0;
	h.features = UINT64_MAX;
	roundtrip(&h);
}

static void test_hello_roundtrip_largest(void **state)
{
	struct buddy_hello h = sample(true);
	uint8_t buf[BUDDY_HELLO_MAX];
	size_t len;

	(void)state;
	h.naddrs = BUDDY_PEER_ADDRS_MAX;
	for (size_t i = 0; i < h.naddrs; i++) {
		strcpy(h.addrs[i].host, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
		h.addrs[i].port = 65535;
	}
	/* the longest host text (45 bytes) in every slot still fits, with room to spare */
	assert_int_equal(buddy_hello_encode(&h, buf, sizeof(buf), &len), 0);
	assert_true(len < 600);
	for (size_t i = 0; i < h.naddrs; i++)
		strcpy(h.addrs[i].host, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	roundtrip(&h);
}

static void test_hello_encode_refusals(void **state)
{
	struct buddy_hello h = sample(false);
	uint8_t buf[BUDDY_HELLO_MAX];
	size_t len;

	(void)state;
	h.naddrs = BUDDY_PEER_ADDRS_MAX + 1;
	assert_int_equal(buddy_hello_encode(&h, buf, sizeof(buf), &len), BUDDY_E_INVALID);
	h = sample(false);
	strcpy(h.addrs[1].host, "host.example");
	assert_int_equal(buddy_hello_encode(&h, buf, sizeof(buf), &len), BUDDY_E_INVALID);
	h = sample(false);
	h.addrs[0].port = 0;
	assert_int_equal(buddy_hello_encode(&h, buf, sizeof(buf), &len), BUDDY_E_INVALID);
	h = sample(false);
	assert_int_equal(buddy_hello_encode(&h, buf, 10, &len), BUDDY_E_TOOBIG);
}

/* Non-canonical numeric hosts are accepted and stored in canonical form. */
static void test_hello_canonicalises_hosts(void **state)
{
	struct buddy_hello h = sample(false), back;
	uint8_t buf[BUDDY_HELLO_MAX];
	size_t len;

	(void)state;
	strcpy(h.addrs[1].host, "2001:DB8:0:0::2");
	assert_int_equal(buddy_hello_encode(&h, buf, sizeof(buf), &len), 0);
	assert_int_equal(buddy_hello_decode(buf, len, &back), 0);
	assert_string_equal(back.addrs[1].host, "2001:db8::2");
}

/* Values used to build hellos by hand. */
enum val {
	V_UINT0,
	V_UINT1,
	V_UINT2,
	V_UINT_BIG, /* 2^32 */
	V_NEG,
	V_FLOAT,
	V_NIL,
	V_TRUE,
	V_STR8,
	V_STR32,
	V_BIN0,
	V_BIN7,
	V_BIN8,
	V_BIN9,
	V_BIN31,
	V_BIN32,
	V_BIN33,
	V_ARRAY0,
	V_MAP0,
	V_ADDRS,	  /* a valid list */
	V_ADDRS_9,	  /* nine entries */
	V_ADDR_NAME,	  /* ["example.org", 1] */
	V_ADDR_PORT0,	  /* ["192.0.2.1", 0] */
	V_ADDR_PORT_BIG,  /* ["192.0.2.1", 65536] */
	V_ADDR_PORT_NEG,  /* ["192.0.2.1", -1] */
	V_ADDR_PORT_STR,  /* ["192.0.2.1", "1"] */
	V_ADDR_HOST_BIN,  /* [bin "192.0.2.1", 1] */
	V_ADDR_ONE,	  /* ["192.0.2.1"] */
	V_ADDR_THREE,	  /* ["192.0.2.1", 1, 0] */
	V_ADDR_MAP,	  /* {"192.0.2.1": 1} */
	V_ADDR_BRACKETS,  /* ["[2001:db8::1]", 1] */
	V_ADDR_HOST_NUL,  /* ["192.0.2.1\0", 1] */
	V_ADDR_HOST_LONG, /* a 46-byte host */
	V_ADDR_FLAT,	  /* ["192.0.2.1", 1] where a list of pairs is expected */
};

static void pack_addr(msgpack_packer *pk, const char *host, size_t hlen, int64_t port)
{
	msgpack_pack_array(pk, 2);
	buddy_mp_pack_strn(pk, host, hlen);
	msgpack_pack_int64(pk, port);
}

static void pack_val(msgpack_packer *pk, enum val v)
{
	static const uint8_t zeros[64];

	switch (v) {
	case V_UINT0:
		msgpack_pack_uint64(pk, 0);
		break;
	case V_UINT1:
		msgpack_pack_uint64(pk, 1);
		break;
	case V_UINT2:
		msgpack_pack_uint64(pk, 2);
		break;
	case V_UINT_BIG:
		msgpack_pack_uint64(pk, (uint64_t)1 << 32);
		break;
	case V_NEG:
		msgpack_pack_int64(pk, -1);
		break;
	case V_FLOAT:
		msgpack_pack_double(pk, 1.0);
		break;
	case V_NIL:
		msgpack_pack_nil(pk);
		break;
	case V_TRUE:
		msgpack_pack_true(pk);
		break;
	case V_STR8:
		buddy_mp_pack_strn(pk, "abcdefgh", 8);
		break;
	case V_STR32:
		buddy_mp_pack_strn(pk, (const char *)zeros, 32);
		break;
	case V_BIN0:
	case V_BIN7:
	case V_BIN8:
	case V_BIN9:
	case V_BIN31:
	case V_BIN32:
	case V_BIN33: {
		static const size_t n[] = {0, 7, 8, 9, 31, 32, 33};
		buddy_mp_pack_bin(pk, zeros, n[v - V_BIN0]);
		break;
	}
	case V_ARRAY0:
		msgpack_pack_array(pk, 0);
		break;
	case V_MAP0:
		msgpack_pack_map(pk, 0);
		break;
	case V_ADDRS:
		msgpack_pack_array(pk, 2);
		pack_addr(pk, "192.0.2.1", 9, 7654);
		pack_addr(pk, "::1", 3, 65535);
		break;
	case V_ADDRS_9:
		msgpack_pack_array(pk, 9);
		for (int i = 0; i < 9; i++)
			pack_addr(pk, "192.0.2.1", 9, 1 + i);
		break;
	case V_ADDR_NAME:
		msgpack_pack_array(pk, 1);
		pack_addr(pk, "example.org", 11, 1);
		break;
	case V_ADDR_PORT0:
		msgpack_pack_array(pk, 1);
		pack_addr(pk, "192.0.2.1", 9, 0);
		break;
	case V_ADDR_PORT_BIG:
		msgpack_pack_array(pk, 1);
		pack_addr(pk, "192.0.2.1", 9, 65536);
		break;
	case V_ADDR_PORT_NEG:
		msgpack_pack_array(pk, 1);
		pack_addr(pk, "192.0.2.1", 9, -1);
		break;
	case V_ADDR_PORT_STR:
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 2);
		buddy_mp_pack_cstr(pk, "192.0.2.1");
		buddy_mp_pack_cstr(pk, "1");
		break;
	case V_ADDR_HOST_BIN:
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 2);
		buddy_mp_pack_bin(pk, "192.0.2.1", 9);
		msgpack_pack_uint64(pk, 1);
		break;
	case V_ADDR_ONE:
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 1);
		buddy_mp_pack_cstr(pk, "192.0.2.1");
		break;
	case V_ADDR_THREE:
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 3);
		buddy_mp_pack_cstr(pk, "192.0.2.1");
		msgpack_pack_uint64(pk, 1);
		msgpack_pack_uint64(pk, 0);
		break;
	case V_ADDR_MAP:
		msgpack_pack_array(pk, 1);
		msgpack_pack_map(pk, 1);
		buddy_mp_pack_cstr(pk, "192.0.2.1");
		msgpack_pack_uint64(pk, 1);
		break;
	case V_ADDR_BRACKETS:
		msgpack_pack_array(pk, 1);
		pack_addr(pk, "[2001:db8::1]", 13, 1);
		break;
	case V_ADDR_HOST_NUL:
		msgpack_pack_array(pk, 1);
		pack_addr(pk, "192.0.2.1\0", 10, 1);
		break;
	case V_ADDR_HOST_LONG:
		msgpack_pack_array(pk, 1);
		pack_addr(pk, "0000:0000:0000:0000:0000:0000:0000:0000:000001", 46, 1);
		break;
	case V_ADDR_FLAT:
		msgpack_pack_array(pk, 2);
		buddy_mp_pack_cstr(pk, "192.0.2.1");
		msgpack_pack_uint64(pk, 1);
		break;
	}
}

struct field {
	const char *key;
	enum val val;
};

/* Packs a map of the given fields into sb (initialised here; the caller destroys it). */
static void pack_map(msgpack_sbuffer *sb, const struct field *f, size_t n)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		buddy_mp_pack_cstr(&pk, f[i].key);
		pack_val(&pk, f[i].val);
	}
}

static int decode_fields(const struct field *f, size_t n, struct buddy_hello *h)
{
	msgpack_sbuffer sb;
	int rc;

	pack_map(&sb, f, n);
	rc = buddy_hello_decode((const uint8_t *)sb.data, sb.size, h);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

#define NFIELDS 6
static const struct field valid_fields[NFIELDS] = {
	{"v", V_UINT1}, {"f", V_UINT0},	 {"id", V_BIN32},
	{"a", V_ADDRS}, {"inv", V_BIN8}, {"prf", V_BIN32},
};

static void test_hello_decode_by_hand(void **state)
{
	struct buddy_hello h;

	(void)state;
	assert_int_equal(decode_fields(valid_fields, NFIELDS, &h), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.naddrs, 2);
	assert_string_equal(h.addrs[1].host, "::1");
	assert_int_equal(h.addrs[1].port, 65535);
	assert_true(h.has_invite);
	/* without the invite, and with f and a omitted: defaults 0 and none */
	assert_int_equal(decode_fields(valid_fields, 4, &h), 0);
	assert_false(h.has_invite);
	assert_int_equal(
		decode_fields((const struct field[]){{"id", V_BIN32}, {"v", V_UINT1}}, 2, &h), 0);
	assert_true(h.features == 0);
	assert_int_equal(h.naddrs, 0);
}

/* Each known field with a value of the wrong type, length or range. */
static void test_hello_decode_wrong_fields(void **state)
{
	static const struct {
		const char *key;
		enum val val;
	} bad[] = {
		{"v", V_NEG},		{"v", V_FLOAT},		{"v", V_STR8},
		{"v", V_NIL},		{"v", V_TRUE},		{"v", V_BIN8},
		{"f", V_NEG},		{"f", V_STR8},		{"f", V_NIL},
		{"f", V_FLOAT},		{"f", V_BIN8},		{"id", V_STR32},
		{"id", V_BIN31},	{"id", V_BIN33},	{"id", V_BIN0},
		{"id", V_NIL},		{"id", V_ARRAY0},	{"a", V_MAP0},
		{"a", V_NIL},		{"a", V_STR8},		{"a", V_ADDRS_9},
		{"a", V_ADDR_NAME},	{"a", V_ADDR_PORT0},	{"a", V_ADDR_PORT_BIG},
		{"a", V_ADDR_PORT_NEG}, {"a", V_ADDR_PORT_STR}, {"a", V_ADDR_HOST_BIN},
		{"a", V_ADDR_ONE},	{"a", V_ADDR_THREE},	{"a", V_ADDR_MAP},
		{"a", V_ADDR_BRACKETS}, {"a", V_ADDR_HOST_NUL}, {"a", V_ADDR_HOST_LONG},
		{"a", V_ADDR_FLAT},	{"inv", V_BIN7},	{"inv", V_BIN9},
		{"inv", V_STR8},	{"inv", V_NIL},		{"prf", V_BIN31},
		{"prf", V_BIN33},	{"prf", V_STR32},	{"prf", V_UINT0},
	};
	struct buddy_hello h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct field f[NFIELDS];
		int rc;

		memcpy(f, valid_fields, sizeof(f));
		for (size_t k = 0; k < NFIELDS; k++)
			if (strcmp(f[k].key, bad[i].key) == 0)
				f[k].val = bad[i].val;
		memset(&h, 0x5a, sizeof(h));
		rc = decode_fields(f, NFIELDS, &h);
		if (rc != BUDDY_E_INVALID)
			fail_msg("%s = value %d: %d", bad[i].key, bad[i].val, rc);
		/* nothing is written on failure */
		assert_int_equal(h.version, 0x5a5a5a5a);
	}
}

static void test_hello_decode_missing_fields(void **state)
{
	struct buddy_hello h;

	(void)state;
	/* no v */
	assert_int_equal(decode_fields(valid_fields + 1, NFIELDS - 1, &h), BUDDY_E_INVALID);
	/* no id */
	assert_int_equal(
		decode_fields((const struct field[]){{"v", V_UINT1}, {"a", V_ADDRS}}, 2, &h),
		BUDDY_E_INVALID);
	/* inv without prf, prf without inv */
	assert_int_equal(decode_fields(valid_fields, 5, &h), BUDDY_E_INVALID);
	assert_int_equal(
		decode_fields(
			(const struct field[]){{"v", V_UINT1}, {"id", V_BIN32}, {"prf", V_BIN32}},
			3, &h),
		BUDDY_E_INVALID);
	/* an empty map */
	assert_int_equal(decode_fields(NULL, 0, &h), BUDDY_E_INVALID);
}

/* Another version is recognised as such before anything else is looked at. */
static void test_hello_decode_other_version(void **state)
{
	struct buddy_hello h, two = sample(false);
	uint8_t buf[BUDDY_HELLO_MAX];
	size_t len;

	(void)state;
	assert_int_equal(decode_fields((const struct field[]){{"v", V_UINT2}}, 1, &h),
			 BUDDY_E_VERSION);
	assert_int_equal(
		decode_fields((const struct field[]){{"v", V_UINT0}, {"id", V_BIN32}}, 2, &h),
		BUDDY_E_VERSION);
	assert_int_equal(
		decode_fields((const struct field[]){{"v", V_UINT_BIG}, {"id", V_NIL}}, 2, &h),
		BUDDY_E_VERSION);
	/* and the encoder can write one, for tests of the peer */
	two.version = 2;
	assert_int_equal(buddy_hello_encode(&two, buf, sizeof(buf), &len), 0);
	assert_int_equal(buddy_hello_decode(buf, len, &h), BUDDY_E_VERSION);
}

/* Unknown keys, of any type and with any value within the limits, are ignored. */
static void test_hello_decode_ignores_unknown_keys(void **state)
{
	struct buddy_hello h;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	assert_int_equal(decode_fields((const struct field[]){{"v", V_UINT1},
							      {"x", V_MAP0},
							      {"id", V_BIN32},
							      {"V", V_UINT2},
							      {"ids", V_NIL},
							      {"later", V_ADDRS_9},
							      {"", V_STR8}},
				       7, &h),
			 0);
	assert_int_equal(h.version, 1);

	/* a non-string key too */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_uint64(&pk, 7);
	msgpack_pack_uint64(&pk, 7);
	buddy_mp_pack_cstr(&pk, "v");
	msgpack_pack_uint64(&pk, 1);
	buddy_mp_pack_cstr(&pk, "id");
	buddy_mp_pack_bin(&pk, (const uint8_t[32]){1}, 32);
	assert_int_equal(buddy_hello_decode((const uint8_t *)sb.data, sb.size, &h), 0);
	assert_int_equal(h.id[0], 1);
	msgpack_sbuffer_destroy(&sb);
}

static void test_hello_decode_refuses_duplicates(void **state)
{
	struct buddy_hello h;

	(void)state;
	assert_int_equal(
		decode_fields(
			(const struct field[]){{"v", V_UINT1}, {"id", V_BIN32}, {"v", V_UINT1}}, 3,
			&h),
		BUDDY_E_INVALID);
	assert_int_equal(decode_fields((const struct field[]){{"v", V_UINT1},
							      {"id", V_BIN32},
							      {"a", V_ADDRS},
							      {"a", V_ARRAY0}},
				       4, &h),
			 BUDDY_E_INVALID);
}

static void test_hello_decode_malformed(void **state)
{
	struct buddy_hello h = sample(true);
	uint8_t buf[2048];
	size_t len;

	(void)state;
	assert_int_equal(buddy_hello_encode(&h, buf, sizeof(buf), &len), 0);
	/* every truncation */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(buddy_hello_decode(buf, n, &h), BUDDY_E_INVALID);
	/* a trailing byte */
	buf[len] = 0xc0;
	assert_int_equal(buddy_hello_decode(buf, len + 1, &h), BUDDY_E_INVALID);
	/* not a map */
	assert_int_equal(buddy_hello_decode(BYTES(0x90), &h), BUDDY_E_INVALID);
	assert_int_equal(buddy_hello_decode(BYTES(0x01), &h), BUDDY_E_INVALID);
	assert_int_equal(buddy_hello_decode(BYTES(0xc0), &h), BUDDY_E_INVALID);
	/* reserved byte, ext type */
	assert_int_equal(buddy_hello_decode(BYTES(0x81, 0xa1, 'x', 0xc1), &h), BUDDY_E_INVALID);
	assert_int_equal(buddy_hello_decode(BYTES(0x81, 0xa1, 'x', 0xd4, 0, 0), &h),
			 BUDDY_E_INVALID);
	/* a declared size that cannot fit */
	assert_int_equal(buddy_hello_decode(BYTES(0xdf, 0xff, 0xff, 0xff, 0xff), &h),
			 BUDDY_E_INVALID);
	assert_int_equal(
		buddy_hello_decode(BYTES(0x81, 0xa1, 'x', 0xc6, 0x7f, 0xff, 0xff, 0xff), &h),
		BUDDY_E_INVALID);
}

/* A uint may come in any MessagePack integer format, signed ones included, when it is >= 0. */
static void test_hello_decode_any_integer_format(void **state)
{
	struct buddy_hello h;

	(void)state;
	assert_int_equal(
		buddy_hello_decode(BYTES(0x82, 0xa1, 'v', 0xd3, 0, 0, 0, 0, 0, 0, 0, 1, 0xa2, 'i',
					 'd', 0xc4, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
				   &h),
		0);
	assert_int_equal(h.version, 1);
	/* a float 1.0 is not */
	assert_int_equal(
		buddy_hello_decode(BYTES(0x82, 0xa1, 'v', 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xa2,
					 'i', 'd', 0xc4, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
				   &h),
		BUDDY_E_INVALID);
}

static void test_hello_decode_limits(void **state)
{
	struct buddy_hello h;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	static char pad[BUDDY_HELLO_MAX];

	(void)state;
	memset(pad, 'x', sizeof(pad));
	/* exactly 1024 bytes is fine, 1025 is not */
	for (int extra = 0; extra < 2; extra++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3);
		buddy_mp_pack_cstr(&pk, "v");
		msgpack_pack_uint64(&pk, 1);
		buddy_mp_pack_cstr(&pk, "id");
		buddy_mp_pack_bin(&pk, pad, 32);
		buddy_mp_pack_cstr(&pk, "p");
		/* map 1 + "v" 2 + 1 + "id" 3 + bin 34 + "p" 2 + str16 header 3 = 46 */
		buddy_mp_pack_strn(&pk, pad, BUDDY_HELLO_MAX - 46 + (size_t)extra);
		assert_int_equal(sb.size, BUDDY_HELLO_MAX + (size_t)extra);
		assert_int_equal(buddy_hello_decode((const uint8_t *)sb.data, sb.size, &h),
				 extra ? BUDDY_E_INVALID : 0);
		msgpack_sbuffer_destroy(&sb);
	}
	/* depth: the address list is at depth 3; an unknown value nested deeper is refused */
	assert_int_equal(
		buddy_hello_decode(BYTES(0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0xc4, 32, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa1, 'x', 0x91, 0x91, 0x90),
				   &h),
		BUDDY_E_INVALID);
	assert_int_equal(
		buddy_hello_decode(BYTES(0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0xc4, 32, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa1, 'x', 0x91, 0x90),
				   &h),
		0);
}

static void test_addrs_read_respects_max(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	struct buddy_addr a[BUDDY_PEER_ADDRS_MAX];
	size_t n = 99;
	size_t off = 0;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_val(&pk, V_ADDRS);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(buddy_addrs_read(&u.data, a, 1, &n), BUDDY_E_INVALID);
	assert_int_equal(n, 99);
	assert_int_equal(buddy_addrs_read(&u.data, a, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].host, "192.0.2.1");
	assert_int_equal(buddy_addrs_read(NULL, a, 2, &n), BUDDY_E_INVALID);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

static int decode_msg(const uint8_t *p, size_t len, uint64_t *type, const msgpack_object **body)
{
	msgpack_unpacked u;
	int rc;

	msgpack_unpacked_init(&u);
	rc = buddy_msg_decode(p, len, &u, type, body);
	msgpack_unpacked_destroy(&u);
	return rc;
}

static void test_msg_roundtrip(void **state)
{
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	uint64_t type = 0, n = 0;
	const msgpack_object *body = NULL;

	(void)state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_encode_simple(&sb, BUDDY_MSG_PING, UINT64_MAX), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_msg_decode((const uint8_t *)sb.data, sb.size, &u, &type, &body), 0);
	assert_int_equal(type, BUDDY_MSG_PING);
	assert_int_equal(body->via.map.size, 1);
	assert_int_equal(buddy_mp_uint(buddy_mp_get(body, "n"), &n), 0);
	assert_true(n == UINT64_MAX);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_encode_simple(&sb, BUDDY_MSG_PAIRED, 5), 0);
	/* [3, {}] */
	assert_int_equal(sb.size, 3);
	assert_memory_equal(sb.data, ((const uint8_t[]){0x92, 0x03, 0x80}), 3);
	msgpack_sbuffer_destroy(&sb);

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_encode_simple(&sb, BUDDY_MSG_PONG, 7), 0);
	/* [2, {"n": 7}] */
	assert_int_equal(sb.size, 6);
	assert_memory_equal(sb.data, ((const uint8_t[]){0x92, 0x02, 0x81, 0xa1, 'n', 0x07}), 6);
	msgpack_sbuffer_destroy(&sb);

	/* ADDRS has a list for a body: not a "simple" message */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_msg_encode_simple(&sb, BUDDY_MSG_ADDRS, 0), BUDDY_E_INVALID);
	assert_int_equal(sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
}

static void test_msg_addrs(void **state)
{
	struct buddy_hello h = sample(false);
	struct buddy_addr a[BUDDY_PEER_ADDRS_MAX];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	uint64_t type;
	const msgpack_object *body;
	size_t n;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, BUDDY_MSG_ADDRS);
	msgpack_pack_map(&pk, 1);
	buddy_mp_pack_cstr(&pk, "a");
	assert_int_equal(buddy_addrs_pack(&pk, h.addrs, h.naddrs), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_msg_decode((const uint8_t *)sb.data, sb.size, &u, &type, &body), 0);
	assert_int_equal(type, BUDDY_MSG_ADDRS);
	assert_int_equal(buddy_addrs_read(buddy_mp_get(body, "a"), a, BUDDY_PEER_ADDRS_MAX, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[1].host, "2001:db8::2");
	assert_int_equal(a[1].port, 1);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);

	/* the packer refuses what the reader would */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	strcpy(h.addrs[0].host, "[::1]");
	assert_int_equal(buddy_addrs_pack(&pk, h.addrs, h.naddrs), BUDDY_E_INVALID);
	assert_int_equal(buddy_addrs_pack(&pk, h.addrs, BUDDY_PEER_ADDRS_MAX + 1), BUDDY_E_INVALID);
	assert_int_equal(sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
}

/* Unknown types decode (the session ignores them); the envelope's shape does not bend. */
static void test_msg_envelope_shapes(void **state)
{
	uint64_t type;
	const msgpack_object *body;

	(void)state;
	assert_int_equal(
		decode_msg(BYTES(0x92, 0xcd, 0x30, 0x39, 0x81, 0xa1, 'z', 0xc0), &type, &body), 0);
	assert_int_equal(type, 12345);
	assert_int_equal(decode_msg(BYTES(0x92, 0x00, 0x80), &type, &body), 0);

	assert_int_equal(decode_msg(BYTES(0x80), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x01), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x91, 0x01), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x93, 0x01, 0x80, 0x80), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x92, 0xff, 0x80), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x92, 0xa1, '1', 0x80), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(
		decode_msg(BYTES(0x92, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x80), &type, &body),
		BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x92, 0x01, 0x90), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x92, 0x01, 0xc0), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x92, 0x80, 0x01), &type, &body), BUDDY_E_INVALID);
	/* truncated, trailing, empty */
	assert_int_equal(decode_msg(BYTES(0x92, 0x01), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(BYTES(0x92, 0x01, 0x80, 0x00), &type, &body), BUDDY_E_INVALID);
	assert_int_equal(decode_msg(NULL, 0, &type, &body), BUDDY_E_INVALID);
}

static void test_msg_limits(void **state)
{
	uint64_t type;
	const msgpack_object *body;
	size_t size = 64 * 1024 + 16;
	uint8_t *buf = calloc(1, size);
	size_t str;

	(void)state;
	assert_non_null(buf);
	/* [1, {"x": str16 of L}]: 1 + 1 + 1 + 2 + 3 + L bytes; 65536 bytes in all is the limit */
	str = 64 * 1024 - 8;
	memcpy(buf,
	       (const uint8_t[]){0x92, 0x01, 0x81, 0xa1, 'x', 0xda, (uint8_t)(str >> 8),
				 (uint8_t)str},
	       8);
	assert_int_equal(decode_msg(buf, 8 + str, &type, &body), 0);
	str++;
	buf[6] = (uint8_t)(str >> 8);
	buf[7] = (uint8_t)str;
	assert_int_equal(decode_msg(buf, 8 + str, &type, &body), BUDDY_E_TOOBIG);

	/* depth: [1, {"x": [[[[[[]]]]]]}] is 8 deep, one more is too deep */
	assert_int_equal(
		decode_msg(BYTES(0x92, 0x01, 0x81, 0xa1, 'x', 0x91, 0x91, 0x91, 0x91, 0x91, 0x90),
			   &type, &body),
		0);
	assert_int_equal(decode_msg(BYTES(0x92, 0x01, 0x81, 0xa1, 'x', 0x91, 0x91, 0x91, 0x91, 0x91,
					  0x91, 0x90),
				    &type, &body),
			 BUDDY_E_TOOBIG);

	/* objects: 5 + 16379 nils is 16384 objects, the limit; one more nil is over it */
	memset(buf, 0xc0, size);
	memcpy(buf, (const uint8_t[]){0x92, 0x01, 0x81, 0xa1, 'x', 0xdc, 0x3f, 0xfb}, 8);
	assert_int_equal(decode_msg(buf, 8 + 16379, &type, &body), 0);
	memcpy(buf, (const uint8_t[]){0x92, 0x01, 0x81, 0xa1, 'x', 0xdc, 0x3f, 0xfc}, 8);
	assert_int_equal(decode_msg(buf, 8 + 16380, &type, &body), BUDDY_E_TOOBIG);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_hello_roundtrip_largest),
		cmocka_unit_test(test_hello_encode_refusals),
		cmocka_unit_test(test_hello_canonicalises_hosts),
		cmocka_unit_test(test_hello_decode_by_hand),
		cmocka_unit_test(test_hello_decode_wrong_fields),
		cmocka_unit_test(test_hello_decode_missing_fields),
		cmocka_unit_test(test_hello_decode_other_version),
		cmocka_unit_test(test_hello_decode_ignores_unknown_keys),
		cmocka_unit_test(test_hello_decode_refuses_duplicates),
		cmocka_unit_test(test_hello_decode_malformed),
		cmocka_unit_test(test_hello_decode_any_integer_format),
		cmocka_unit_test(test_hello_decode_limits),
		cmocka_unit_test(test_addrs_read_respects_max),
		cmocka_unit_test(test_msg_roundtrip),
		cmocka_unit_test(test_msg_addrs),
		cmocka_unit_test(test_msg_envelope_shapes),
		cmocka_unit_test(test_msg_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
