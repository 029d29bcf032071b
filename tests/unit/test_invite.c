/* Invite codes, invite ids and proofs, numeric addresses and safety numbers (proto/PROTOCOL.md,
 * "Invite codes" and "Safety numbers").
 *
 * A code is "bdy1-" and the lowercase base32 of a small binary record with a checksum. Reading
 * one forgives what copy and paste do to text (case, spaces, line breaks, dashes) and nothing
 * else: a typo is caught by the checksum, a truncated or padded code by its lengths. Whether a
 * code has expired is the caller's business, not the decoder's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "buddy/error.h"
#include "buddy/invite.h"

/* The worked example of PROTOCOL.md: the inviter's key is the Ed25519 key of the seed
 * 00 01 .. 1f, the secret 00 11 22 .. ff, the expiry 2026-01-01T00:00:00Z. */
static const char example_pk_hex[] =
	"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
static const char example_pk_b_hex[] = /* seed 20 21 .. 3f */
	"29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7";
static const char example_secret_hex[] = "00112233445566778899aabbccddeeff";
static const int64_t example_expires = 1767225600;
static const char example_code[] =
	"bdy1-aeb2cb576phbbpq5odorrz2lycmwpzgwgcn2kdk7dxoimzaskuy3qaareizuivlgo6ejtkv3zto657yaaaaa"
	"a2kvxeaaebgaaabauhpgayqacdnyaaaaaaaaaaaaaaaaaaar3zw73ufba";
static const char example_id_hex[] = "25a8deb00aabd255";
/* the proof for h = 00 01 .. 3f (64 bytes) */
static const char example_proof_hex[] =
	"7e466ec2e12fd057efbe9eb4830bb93ba5a8e562d00d013a4d5c30f6fe0681a3";
static const char example_safety[] =
	"97085 25191 90356 85266 21099 83155 52214 55666 41944 67031 48419 51915";

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, NULL, NULL), 0);
}

static struct buddy_invite example(void)
{
	struct buddy_invite inv;

	memset(&inv, 0, sizeof(inv));
	unhex(example_pk_hex, inv.inviter_pk, 32);
	unhex(example_secret_hex, inv.secret, sizeof(inv.secret));
	inv.expires = example_expires;
	inv.naddrs = 2;
	strcpy(inv.addrs[0].host, "192.0.2.10");
	inv.addrs[0].port = 7654;
	strcpy(inv.addrs[1].host, "2001:db8::1");
	inv.addrs[1].port = 7654;
	return inv;
}

static void assert_invite_equal(const struct buddy_invite *a, const struct buddy_invite *b)
{
	assert_memory_equal(a->inviter_pk, b->inviter_pk, 32);
	assert_memory_equal(a->secret, b->secret, sizeof(a->secret));
	assert_true(a->expires == b->expires);
	assert_int_equal(a->naddrs, b->naddrs);
	for (size_t i = 0; i < a->naddrs; i++) {
		assert_string_equal(a->addrs[i].host, b->addrs[i].host);
		assert_int_equal(a->addrs[i].port, b->addrs[i].port);
	}
}

static void roundtrip(const struct buddy_invite *inv)
{
	char code[BUDDY_INVITE_CODE_MAX];
	struct buddy_invite back;

	assert_int_equal(buddy_invite_encode(inv, code, sizeof(code)), 0);
	assert_true(strncmp(code, "bdy1-", 5) == 0);
	for (const char *p = code + 5; *p; p++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", *p));
	assert_int_equal(buddy_invite_decode(code, &back), 0);
	assert_invite_equal(inv, &back);
}

static void test_invite_roundtrip_no_address(void **state)
{
	struct buddy_invite inv = example();

	(void)state;
	inv.naddrs = 0;
	roundtrip(&inv);
}

static void test_invite_roundtrip_one_address(void **state)
{
	struct buddy_invite inv = example();

	(void)state;
	inv.naddrs = 1;
	roundtrip(&inv);
	inv.addrs[0] = inv.addrs[1];
	roundtrip(&inv);
}

static void test_invite_roundtrip_eight_addresses(void **state)
{
	struct buddy_invite inv = example();
	char code[BUDDY_INVITE_CODE_MAX];

	(void)state;
	inv.naddrs = BUDDY_PEER_ADDRS_MAX;
	for (size_t i = 0; i < inv.naddrs; i++) {
		if (i % 2)
			snprintf(inv.addrs[i].host, sizeof(inv.addrs[i].host),
				 "ffff:eeee:dddd:cccc:bbbb:aaaa:9999:%u", (unsigned)i & 7);
		else
			snprintf(inv.addrs[i].host, sizeof(inv.addrs[i].host), "10.0.0.%u",
				 (unsigned)i & 7);
		inv.addrs[i].port = (uint16_t)(65535 - i);
	}
	inv.expires = INT64_MAX;
	roundtrip(&inv);
	/* the longest code fits BUDDY_INVITE_CODE_MAX with room to spare */
	assert_int_equal(buddy_invite_encode(&inv, code, sizeof(code)), 0);
	assert_true(strlen(code) < 400);
}

static void test_invite_encode_refuses_bad_input(void **state)
{
	struct buddy_invite inv = example();
	char code[BUDDY_INVITE_CODE_MAX];

	(void)state;
	inv.naddrs = BUDDY_PEER_ADDRS_MAX + 1;
	assert_int_equal(buddy_invite_encode(&inv, code, sizeof(code)), BUDDY_E_INVALID);
	inv = example();
	strcpy(inv.addrs[0].host, "example.org");
	assert_int_equal(buddy_invite_encode(&inv, code, sizeof(code)), BUDDY_E_INVALID);
	inv = example();
	inv.addrs[1].port = 0;
	assert_int_equal(buddy_invite_encode(&inv, code, sizeof(code)), BUDDY_E_INVALID);
	inv = example();
	inv.expires = -1;
	assert_int_equal(buddy_invite_encode(&inv, code, sizeof(code)), BUDDY_E_INVALID);
	inv = example();
	assert_int_equal(buddy_invite_encode(&inv, code, strlen(example_code)), BUDDY_E_TOOBIG);
	assert_int_equal(buddy_invite_encode(&inv, code, strlen(example_code) + 1), 0);
	assert_string_equal(code, example_code);
}

static void test_invite_worked_example(void **state)
{
	struct buddy_invite want = example(), got;
	char code[BUDDY_INVITE_CODE_MAX];

	(void)state;
	assert_int_equal(buddy_invite_encode(&want, code, sizeof(code)), 0);
	assert_string_equal(code, example_code);
	assert_int_equal(buddy_invite_decode(example_code, &got), 0);
	assert_invite_equal(&want, &got);
}

static void test_invite_decode_forgives_copy_paste(void **state)
{
	struct buddy_invite want = example(), got;
	char buf[1024];
	size_t n = 0;

	(void)state;
	/* upper case, prefix included */
	for (size_t i = 0; example_code[i]; i++)
		buf[i] = (char)(example_code[i] >= 'a' && example_code[i] <= 'z'
					? example_code[i] - 32
					: example_code[i]);
	buf[strlen(example_code)] = 0;
	assert_int_equal(buddy_invite_decode(buf, &got), 0);
	assert_invite_equal(&want, &got);

	/* broken into dashed groups of 4 and lines of 40 by a mail client, with CRLF, tabs and
	 * leading and trailing blanks */
	n = (size_t)sprintf(buf, "  \tBdY1-");
	for (size_t i = 5; example_code[i]; i++) {
		if (i > 5 && (i - 5) % 4 == 0)
			buf[n++] = '-';
		if (i > 5 && (i - 5) % 40 == 0) {
			memcpy(buf + n, "\r\n\t", 3);
			n += 3;
		}
		buf[n++] = example_code[i];
	}
	memcpy(buf + n, " \n", 3);
	assert_int_equal(buddy_invite_decode(buf, &got), 0);
	assert_invite_equal(&want, &got);
}

static void test_invite_decode_refuses_other_characters(void **state)
{
	struct buddy_invite got;
	char buf[BUDDY_INVITE_CODE_MAX];

	(void)state;
	/* '0', '1', '8', '9', '=', '_' and non-ASCII are not base32 here (no padding either) */
	const char *bad[] = {"0", "1", "8", "9", "=", "_", ".", "\xc3\xa9", "/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "bdy1-%.40s%s%s", example_code + 5, bad[i],
			 example_code + 45);
		assert_int_equal(buddy_invite_decode(buf, &got), BUDDY_E_INVALID);
	}
	snprintf(buf, sizeof(buf), "%s=", example_code);
	assert_int_equal(buddy_invite_decode(buf, &got), BUDDY_E_INVALID);
	snprintf(buf, sizeof(buf), "x%s", example_code);
	assert_int_equal(buddy_invite_decode(buf, &got), BUDDY_E_INVALID);
}

/* Every single-character typo in the body is caught: never a different valid invite. */
static void test_invite_decode_catches_every_substitution(void **state)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	struct buddy_invite got;
	char buf[BUDDY_INVITE_CODE_MAX];
	size_t len = strlen(example_code);

	(void)state;
	for (size_t i = 5; i < len; i++) {
		for (size_t k = 0; k < 32; k++) {
			int rc;

			if (alphabet[k] == example_code[i])
				continue;
			strcpy(buf, example_code);
			buf[i] = alphabet[k];
			rc = buddy_invite_decode(buf, &got);
			if (rc != BUDDY_E_CORRUPT && rc != BUDDY_E_INVALID)
				fail_msg("position %zu '%c': %d", i, alphabet[k], rc);
		}
	}
}

static void test_invite_decode_catches_every_truncation(void **state)
{
	struct buddy_invite got;
	char buf[BUDDY_INVITE_CODE_MAX];
	size_t len = strlen(example_code);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		memcpy(buf, example_code, n);
		buf[n] = 0;
		assert_true(buddy_invite_decode(buf, &got) < 0);
	}
}

static void test_invite_decode_refuses_trailing_garbage(void **state)
{
	struct buddy_invite got;
	char buf[BUDDY_INVITE_CODE_MAX];

	(void)state;
	/* "aaaaaaaa" is five more zero bytes: a well-formed base32 body, too long a record */
	snprintf(buf, sizeof(buf), "%saaaaaaaa", example_code);
	assert_int_equal(buddy_invite_decode(buf, &got), BUDDY_E_INVALID);
	snprintf(buf, sizeof(buf), "%s a", example_code);
	assert_int_equal(buddy_invite_decode(buf, &got), BUDDY_E_INVALID);
}

static void test_invite_decode_other_versions(void **state)
{
	struct buddy_invite got;
	char buf[BUDDY_INVITE_CODE_MAX];

	(void)state;
	snprintf(buf, sizeof(buf), "bdy2-%s", example_code + 5);
	assert_int_equal(buddy_invite_decode(buf, &got), BUDDY_E_VERSION);
	assert_int_equal(buddy_invite_decode("BDY17-aaaa", &got), BUDDY_E_VERSION);
	assert_int_equal(buddy_invite_decode("bdy0-", &got), BUDDY_E_VERSION);
	assert_int_equal(buddy_invite_decode("bdy-aaaa", &got), BUDDY_E_INVALID);
	assert_int_equal(buddy_invite_decode("bdy1", &got), BUDDY_E_INVALID);
	assert_int_equal(buddy_invite_decode("", &got), BUDDY_E_INVALID);
	assert_int_equal(buddy_invite_decode("bdy1-", &got), BUDDY_E_INVALID);
}

/* Builds a code from raw record bytes, with a correct checksum. */
static void make_code(const uint8_t *raw, size_t len, char *out)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t rec[512], h[32];
	uint32_t acc = 0;
	unsigned bits = 0;
	char *o = out + sprintf(out, "bdy1-");

	memcpy(rec, raw, len);
	crypto_generichash(h, 32, rec, len, (const uint8_t *)"buddy-invite-checksum", 21);
	memcpy(rec + len, h, 4);
	len += 4;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | rec[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			*o++ = alphabet[(acc >> bits) & 31];
		}
	}
	if (bits)
		*o++ = alphabet[(acc << (5 - bits)) & 31];
	*o = 0;
}

/* The record of the worked example without its checksum: 1 + 32 + 16 + 8 + 1 + 7 + 19. */
static size_t example_record(uint8_t *raw)
{
	uint8_t pk[32], secret[16];
	size_t n = 0;

	unhex(example_pk_hex, pk, 32);
	unhex(example_secret_hex, secret, 16);
	raw[n++] = 1;
	memcpy(raw + n, pk, 32);
	n += 32;
	memcpy(raw + n, secret, 16);
	n += 16;
	memcpy(raw + n, (const uint8_t[]){0, 0, 0, 0, 0x69, 0x55, 0xb9, 0x00}, 8);
	n += 8;
	raw[n++] = 2;
	memcpy(raw + n, (const uint8_t[]){4, 192, 0, 2, 10, 0x1d, 0xe6}, 7);
	n += 7;
	memcpy(raw + n,
	       (const uint8_t[]){6, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
				 0x1d, 0xe6},
	       19);
	n += 19;
	return n;
}

static void test_invite_decode_checks_fields(void **state)
{
	struct buddy_invite got, want = example();
	uint8_t raw[512];
	char code[1024];
	size_t n;

	(void)state;
	/* the helper agrees with the encoder */
	n = example_record(raw);
	make_code(raw, n, code);
	assert_string_equal(code, example_code);

	/* family 5 */
	example_record(raw);
	raw[58] = 5;
	make_code(raw, n, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	/* port 0 */
	example_record(raw);
	raw[63] = 0;
	raw[64] = 0;
	make_code(raw, n, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	/* naddrs 9, and naddrs that does not match the length */
	example_record(raw);
	raw[57] = 9;
	make_code(raw, n, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	raw[57] = 1;
	make_code(raw, n, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	raw[57] = 3;
	make_code(raw, n, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	/* version byte other than 1 under a bdy1- prefix */
	example_record(raw);
	raw[0] = 2;
	make_code(raw, n, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	/* an expiry past INT64_MAX */
	example_record(raw);
	raw[49] = 0x80;
	make_code(raw, n, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	/* a record shorter than the fixed part */
	make_code(raw, 57, code);
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_INVALID);
	/* a wrong checksum on a well-shaped record */
	example_record(raw);
	make_code(raw, n, code);
	code[strlen(code) - 3] = code[strlen(code) - 3] == 'a' ? 'b' : 'a';
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_CORRUPT);
	/* a failed decode leaves *inv alone */
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(buddy_invite_decode(code, &got), BUDDY_E_CORRUPT);
	assert_int_equal(got.inviter_pk[0], 0x5a);
	/* zero addresses is fine */
	example_record(raw);
	raw[57] = 0;
	make_code(raw, 58, code);
	assert_int_equal(buddy_invite_decode(code, &got), 0);
	want.naddrs = 0;
	assert_invite_equal(&want, &got);
}

/* Whether the code has expired is the caller's business: decode reads the field. */
static void test_invite_decode_does_not_check_expiry(void **state)
{
	struct buddy_invite inv = example(), got;
	char code[BUDDY_INVITE_CODE_MAX];

	(void)state;
	inv.expires = 0;
	assert_int_equal(buddy_invite_encode(&inv, code, sizeof(code)), 0);
	assert_int_equal(buddy_invite_decode(code, &got), 0);
	assert_true(got.expires == 0);
}

static void test_invite_decode_canonical_body(void **state)
{
	struct buddy_invite got;
	char buf[BUDDY_INVITE_CODE_MAX];
	size_t len = strlen(example_code);

	(void)state;
	/* 88 bytes are 704 bits: 141 characters end in one padding bit, which must be zero */
	strcpy(buf, example_code);
	assert_int_equal(buf[len - 1], 'a');
	buf[len - 1] = 'b';
	assert_int_equal(buddy_invite_decode(buf, &got), BUDDY_E_INVALID);
}

static void test_invite_id_and_proof(void **state)
{
	uint8_t secret[16], other[16], id[8], id2[8], want_id[8], h[64], proof[32], proof2[32],
		want_proof[32];

	(void)state;
	unhex(example_secret_hex, secret, 16);
	unhex(example_id_hex, want_id, 8);
	unhex(example_proof_hex, want_proof, 32);
	for (int i = 0; i < 64; i++)
		h[i] = (uint8_t)i;
	buddy_invite_id(secret, id);
	buddy_invite_id(secret, id2);
	assert_memory_equal(id, want_id, 8);
	assert_memory_equal(id, id2, 8);
	buddy_invite_proof(secret, h, sizeof(h), proof);
	buddy_invite_proof(secret, h, sizeof(h), proof2);
	assert_memory_equal(proof, want_proof, 32);
	assert_memory_equal(proof, proof2, 32);
	/* another handshake, another proof */
	h[63] ^= 1;
	buddy_invite_proof(secret, h, sizeof(h), proof2);
	assert_memory_not_equal(proof, proof2, 32);
	h[63] ^= 1;
	/* another secret, another id and proof */
	memcpy(other, secret, 16);
	other[0] ^= 1;
	buddy_invite_id(other, id2);
	assert_memory_not_equal(id, id2, 8);
	buddy_invite_proof(other, h, sizeof(h), proof2);
	assert_memory_not_equal(proof, proof2, 32);
}

static void assert_parse(const char *s, uint16_t def, const char *host, uint16_t port,
			 const char *formatted)
{
	struct buddy_addr a;
	char out[BUDDY_ADDR_HOST_MAX + 8];

	memset(&a, 0x5a, sizeof(a));
	if (buddy_addr_parse(s, def, &a) != 0)
		fail_msg("parse '%s' failed", s);
	assert_string_equal(a.host, host);
	assert_int_equal(a.port, port);
	buddy_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, formatted);
}

static void test_addr_parse_and_format(void **state)
{
	(void)state;
	assert_parse("192.0.2.1:7654", 0, "192.0.2.1", 7654, "192.0.2.1:7654");
	assert_parse("192.0.2.1:1", 9, "192.0.2.1", 1, "192.0.2.1:1");
	assert_parse("192.0.2.1", 7654, "192.0.2.1", 7654, "192.0.2.1:7654");
	assert_parse("[2001:db8::1]:65535", 0, "2001:db8::1", 65535, "[2001:db8::1]:65535");
	assert_parse("[2001:DB8:0::1]:80", 0, "2001:db8::1", 80, "[2001:db8::1]:80");
	assert_parse("[::1]", 7654, "::1", 7654, "[::1]:7654");
	assert_parse("2001:db8::1", 7654, "2001:db8::1", 7654, "[2001:db8::1]:7654");
	/* bare, the last group is part of the address, never a port */
	assert_parse("2001:db8::80", 7654, "2001:db8::80", 7654, "[2001:db8::80]:7654");
	assert_parse("[::ffff:192.0.2.1]:7", 0, "::ffff:192.0.2.1", 7, "[::ffff:192.0.2.1]:7");
}

static void test_addr_parse_refusals(void **state)
{
	static const struct {
		const char *s;
		uint16_t def;
	} bad[] = {
		{"192.0.2.1", 0},	   /* no port and no default */
		{"192.0.2.1:0", 0},	   /* port 0 */
		{"192.0.2.1:65536", 0},	   /* port too large */
		{"192.0.2.1:", 7654},	   /* empty port */
		{"192.0.2.1:+80", 0},	   /* not digits */
		{"192.0.2.1:80x", 0},	   /* trailing garbage */
		{"192.0.2.1:000080", 0},   /* too many digits */
		{"localhost:7654", 0},	   /* names are never resolved */
		{"example.org", 7654},	   /* likewise */
		{"1.2.3:80", 0},	   /* not a dotted quad */
		{"0x7f.0.0.1:80", 0},	   /* hex is not */
		{"2001:db8::1", 0},	   /* bare v6 without a default port */
		{"[2001:db8::1]80", 0},	   /* junk after the bracket */
		{"[2001:db8::1", 7654},	   /* unclosed bracket */
		{"[192.0.2.1]:80", 0},	   /* brackets are for IPv6 */
		{"[fe80::1%eth0]:80", 0},  /* no zone ids */
		{"[]:80", 0},		   /* empty host */
		{":80", 0},		   /* likewise */
		{"", 7654},		   /* nothing */
		{" 192.0.2.1:80", 0},	   /* no blanks */
		{"[2001:db8::1]:0", 7654}, /* port 0 even with a default */
	};
	struct buddy_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (buddy_addr_parse(bad[i].s, bad[i].def, &a) != BUDDY_E_INVALID)
			fail_msg("'%s' (default %u) was accepted", bad[i].s, bad[i].def);
	}
}

static void test_addr_format_truncates_safely(void **state)
{
	struct buddy_addr a = {.host = "2001:db8::1", .port = 7654};
	char out[8];

	(void)state;
	buddy_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, "[2001:d");
}

static void test_safety_number(void **state)
{
	uint8_t a[32], b[32];
	char ab[BUDDY_SAFETY_NUMBER_LEN], ba[BUDDY_SAFETY_NUMBER_LEN];

	(void)state;
	unhex(example_pk_hex, a, 32);
	unhex(example_pk_b_hex, b, 32);
	buddy_safety_number(a, b, ab);
	buddy_safety_number(b, a, ba);
	assert_string_equal(ab, example_safety);
	assert_string_equal(ab, ba);
	assert_int_equal(strlen(ab), 71);
	for (int i = 0; i < 71; i++)
		assert_true(i % 6 == 5 ? ab[i] == ' ' : (ab[i] >= '0' && ab[i] <= '9'));
	/* one bit of either key changes it */
	b[31] ^= 1;
	buddy_safety_number(a, b, ba);
	assert_string_not_equal(ab, ba);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invite_roundtrip_no_address),
		cmocka_unit_test(test_invite_roundtrip_one_address),
		cmocka_unit_test(test_invite_roundtrip_eight_addresses),
		cmocka_unit_test(test_invite_encode_refuses_bad_input),
		cmocka_unit_test(test_invite_worked_example),
		cmocka_unit_test(test_invite_decode_forgives_copy_paste),
		cmocka_unit_test(test_invite_decode_refuses_other_characters),
		cmocka_unit_test(test_invite_decode_catches_every_substitution),
		cmocka_unit_test(test_invite_decode_catches_every_truncation),
		cmocka_unit_test(test_invite_decode_refuses_trailing_garbage),
		cmocka_unit_test(test_invite_decode_other_versions),
		cmocka_unit_test(test_invite_decode_checks_fields),
		cmocka_unit_test(test_invite_decode_does_not_check_expiry),
		cmocka_unit_test(test_invite_decode_canonical_body),
		cmocka_unit_test(test_invite_id_and_proof),
		cmocka_unit_test(test_addr_parse_and_format),
		cmocka_unit_test(test_addr_parse_refusals),
		cmocka_unit_test(test_addr_format_truncates_safely),
		cmocka_unit_test(test_safety_number),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
