/* LAN discovery beacons (daemon/discovery.c, proto/PROTOCOL.md section 16): the worked example
 * of 16.9 byte for byte, tokens that change per window and differ per direction and per pair,
 * the receiver's window edges (w - 1 and w + 1 match, w - 2 and w + 2 do not), the address tag
 * (a beacon replayed from any other source address, or family, does not match), per-family
 * port masks (the IPv4 and IPv6 port fields of a window share no constant XOR, dummies'
 * neither), and datagrams it must ignore: wrong size, wrong version, random bytes, a dummy,
 * port 0, another pair's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "buddy/discovery.h"
#include "buddy/error.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */
#define W0 5890752    /* T0 / 300 */

struct id {
	uint8_t pk[32], sk[64], xsk[32];
};

static void make_id(struct id *k, uint8_t first)
{
	uint8_t seed[32];

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(first + i);
	assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(k->xsk, k->sk), 0);
}

static void assert_hex(const uint8_t *got, const char *want)
{
	char buf[2 * BUDDY_DISC_BEACON_BYTES + 1];
	size_t n = strlen(want) / 2;

	assert_true(n <= BUDDY_DISC_BEACON_BYTES);
	sodium_bin2hex(buf, sizeof(buf), got, n);
	assert_string_equal(buf, want);
}

/* source addresses: A on 192.0.2.10 and fe80::1, B on fe80::2 (the worked example) */
static const uint8_t IP4_A[4] = {192, 0, 2, 10}, IP4_X[4] = {192, 0, 2, 99};
static const uint8_t IP6_A[16] = {0xfe, 0x80, [15] = 1}, IP6_B[16] = {0xfe, 0x80, [15] = 2};

static struct id A, B, C;
static uint8_t K[32]; /* A and B's pair key */

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	make_id(&A, 0x00);
	make_id(&B, 0x20);
	make_id(&C, 0x40);
	return buddy_disc_pair_key(A.xsk, A.pk, B.pk, K);
}

/* PROTOCOL.md 16.9 */
static void test_worked_example(void **state)
{
	static const struct {
		const struct id *sender;
		uint64_t w;
		const char *token, *mask4, *mask6;
	} v[] = {
		{&A, W0 - 1, "96b17f6203e81a32480e16603eb26073", "6a09", "469c"},
		{&A, W0, "3fdce6384cd555c070c2ade1afccec2c", "a595", "49ed"},
		{&A, W0 + 1, "af7280c955a85886e99b143bbfc904c8", "7b5a", "2c5c"},
		{&B, W0 - 1, "fa8f0d1ed9435b883f0e39a7130bc0b2", "7410", "eaa6"},
		{&B, W0, "5afa92886e76a44dc996466405fe1d90", "c239", "206a"},
		{&B, W0 + 1, "e81fe489bc0212846aa1c41b331d519f", "d11a", "e61f"},
	};
	uint8_t k2[32], token[16], mask[2][2], pad[BUDDY_DISC_PAD_BYTES];
	uint8_t dg[BUDDY_DISC_BEACON_BYTES];
	struct buddy_disc_expect e;
	uint16_t port = 0;

	(void)state;
	assert_hex(A.pk, "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
	assert_hex(B.pk, "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7");
	assert_int_equal(buddy_disc_window(T0), W0);
	assert_hex(K, "fd07fee7ee2011edb272975b18d443f4cf147889c7aade4ea649283f5909cf00");
	/* the same key from the other side */
	assert_int_equal(buddy_disc_pair_key(B.xsk, B.pk, A.pk, k2), 0);
	assert_memory_equal(k2, K, 32);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buddy_disc_token(K, v[i].w, v[i].sender->pk, token, mask);
		assert_hex(token, v[i].token);
		assert_hex(mask[0], v[i].mask4);
		assert_hex(mask[1], v[i].mask6);
	}
	/* A to B, window W0, from 192.0.2.10, port 7654, padding 29 zero bytes */
	memset(pad, 0, sizeof(pad));
	buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, pad, dg);
	assert_hex(dg, "013fdce6384cd555c070c2ade1afccec2cb873"
		       "122f4cc251af8c0c8cd1652b5afae5aa"
		       "0000000000000000000000000000000000000000000000000000000000");
	/* B takes it from that address */
	buddy_disc_expect(K, W0, A.pk, &e);
	assert_true(buddy_disc_match(dg, sizeof(dg), K, A.pk, &e, BUDDY_DISC_FAM4, IP4_A, &port));
	assert_int_equal(port, 7654);
	/* B to A, window W0 + 1, from fe80::2, port 7654, padding 29 bytes ff */
	memset(pad, 0xff, sizeof(pad));
	buddy_disc_beacon(K, W0 + 1, B.pk, BUDDY_DISC_FAM6, IP6_B, 7654, pad, dg);
	assert_hex(dg, "01e81fe489bc0212846aa1c41b331d519ffbf9"
		       "ea39c0b42df1f752e8bfbccfbfd490d5"
		       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	buddy_disc_expect(K, W0, B.pk, &e);
	port = 0;
	assert_true(buddy_disc_match(dg, sizeof(dg), K, B.pk, &e, BUDDY_DISC_FAM6, IP6_B, &port));
	assert_int_equal(port, 7654);
}

static void test_windows(void **state)
{
	uint8_t t[5][16], m[2][2], kac[32], kbc[32], other[16];

	(void)state;
	assert_int_equal(buddy_disc_window(0), 0);
	assert_int_equal(buddy_disc_window(-5), 0);
	assert_int_equal(buddy_disc_window(299), 0);
	assert_int_equal(buddy_disc_window(300), 1);
	assert_int_equal(buddy_disc_window(T0 + 299), W0);
	assert_int_equal(buddy_disc_window(T0 + 300), W0 + 1);
	assert_int_equal(buddy_disc_window(T0 - 1), W0 - 1);

	/* a new token every window, none equal to an earlier one */
	for (int i = 0; i < 5; i++) {
		buddy_disc_token(K, W0 + (uint64_t)i, A.pk, t[i], m);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(t[i], t[j], 16);
	}
	/* per direction: B's token in the same window is another */
	buddy_disc_token(K, W0, B.pk, other, m);
	assert_memory_not_equal(other, t[0], 16);
	/* per pair: A's token for C, and C's pair with B, are others again */
	assert_int_equal(buddy_disc_pair_key(A.xsk, A.pk, C.pk, kac), 0);
	assert_int_equal(buddy_disc_pair_key(B.xsk, B.pk, C.pk, kbc), 0);
	assert_memory_not_equal(kac, K, 32);
	assert_memory_not_equal(kbc, K, 32);
	assert_memory_not_equal(kac, kbc, 32);
	buddy_disc_token(kac, W0, A.pk, other, m);
	assert_memory_not_equal(other, t[0], 16);
	/* the same inputs give the same token: it repeats within a window */
	buddy_disc_token(K, W0, A.pk, other, m);
	assert_memory_equal(other, t[0], 16);
}

static bool match4(const uint8_t *dg, size_t len, const struct id *sender,
		   const struct buddy_disc_expect *e, uint16_t *port)
{
	return buddy_disc_match(dg, len, K, sender->pk, e, BUDDY_DISC_FAM4, IP4_A, port);
}

static void test_match(void **state)
{
	struct buddy_disc_expect ea, eb, eac;
	uint8_t dg[BUDDY_DISC_BEACON_BYTES + 1], kac[32];
	uint16_t port = 0;

	(void)state;
	/* B expects A's beacons around W0 */
	buddy_disc_expect(K, W0, A.pk, &ea);
	buddy_disc_expect(K, W0, B.pk, &eb);
	assert_int_equal(ea.w, W0);

	buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, NULL, dg);
	assert_true(buddy_disc_shape(dg, BUDDY_DISC_BEACON_BYTES));
	assert_true(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	assert_int_equal(port, 7654);
	/* the other direction's expectation does not take it: a daemon's own beacons, looped
	 * back, never match */
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &B, &eb, &port));
	/* nor does another pair's */
	assert_int_equal(buddy_disc_pair_key(C.xsk, C.pk, A.pk, kac), 0);
	buddy_disc_expect(kac, W0, A.pk, &eac);
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, kac, A.pk, &eac, BUDDY_DISC_FAM4,
				      IP4_A, &port));

	/* window edges: a sender one window behind or ahead matches, two do not */
	buddy_disc_beacon(K, W0 - 1, A.pk, BUDDY_DISC_FAM4, IP4_A, 1, NULL, dg);
	assert_true(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	assert_int_equal(port, 1);
	buddy_disc_beacon(K, W0 + 1, A.pk, BUDDY_DISC_FAM4, IP4_A, 65535, NULL, dg);
	assert_true(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	assert_int_equal(port, 65535);
	buddy_disc_beacon(K, W0 - 2, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, NULL, dg);
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	buddy_disc_beacon(K, W0 + 2, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, NULL, dg);
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));

	/* wrong size, wrong version: ignored before any token is looked at */
	buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, NULL, dg);
	dg[BUDDY_DISC_BEACON_BYTES] = 0;
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES - 1, &A, &ea, &port));
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES + 1, &A, &ea, &port));
	assert_false(buddy_disc_shape(dg, 0));
	assert_false(match4(NULL, 0, &A, &ea, &port));
	dg[0] = 2;
	assert_false(buddy_disc_shape(dg, BUDDY_DISC_BEACON_BYTES));
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	dg[0] = 0;
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	dg[0] = 1;
	assert_true(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	/* one bit off in the token, the tag or the padding (which the tag covers) */
	for (size_t at = 5; at < BUDDY_DISC_BEACON_BYTES; at += 15) {
		dg[at] ^= 0x10;
		assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
		dg[at] ^= 0x10;
	}
	assert_true(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
	/* a port field that decrypts to 0 */
	buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM4, IP4_A, 0, NULL, dg);
	assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));

	/* random bytes, with the right size and version */
	for (int i = 0; i < 1000; i++) {
		randombytes_buf(dg, sizeof(dg));
		dg[0] = BUDDY_DISC_VERSION;
		assert_true(buddy_disc_shape(dg, BUDDY_DISC_BEACON_BYTES));
		assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &A, &ea, &port));
		assert_false(match4(dg, BUDDY_DISC_BEACON_BYTES, &B, &eb, &port));
	}
}

/* PROTOCOL.md 16.5 and 16.6: a beacon replayed from another source address (the replayer's
 * own) is not the buddy's beacon: it causes no dial, so the replay reveals nothing. */
static void test_source_bound(void **state)
{
	struct buddy_disc_expect ea;
	uint8_t dg[BUDDY_DISC_BEACON_BYTES], x6[16];
	uint16_t port = 0;

	(void)state;
	buddy_disc_expect(K, W0, A.pk, &ea);
	buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, NULL, dg);
	assert_true(buddy_disc_match(dg, sizeof(dg), K, A.pk, &ea, BUDDY_DISC_FAM4, IP4_A, &port));
	/* the same bytes from another IPv4 address */
	assert_false(buddy_disc_match(dg, sizeof(dg), K, A.pk, &ea, BUDDY_DISC_FAM4, IP4_X, &port));
	/* ... from an IPv6 address: the family is bound too (and the mask differs) */
	memset(x6, 0, sizeof(x6));
	memcpy(x6 + 12, IP4_A, 4);
	assert_false(buddy_disc_match(dg, sizeof(dg), K, A.pk, &ea, BUDDY_DISC_FAM6, x6, &port));
	/* IPv6: the link-local address it was sent from, only */
	buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM6, IP6_A, 7654, NULL, dg);
	port = 0;
	assert_true(buddy_disc_match(dg, sizeof(dg), K, A.pk, &ea, BUDDY_DISC_FAM6, IP6_A, &port));
	assert_int_equal(port, 7654);
	assert_false(buddy_disc_match(dg, sizeof(dg), K, A.pk, &ea, BUDDY_DISC_FAM6, IP6_B, &port));
	assert_false(buddy_disc_match(dg, sizeof(dg), K, A.pk, &ea, BUDDY_DISC_FAM4, IP4_A, &port));
	/* the tag is fresh with every padding: two beacons of a window differ after the port */
	{
		uint8_t d2[BUDDY_DISC_BEACON_BYTES];

		buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM6, IP6_A, 7654, NULL, d2);
		assert_memory_equal(dg, d2, BUDDY_DISC_TAG_AT);
		assert_memory_not_equal(dg + BUDDY_DISC_TAG_AT, d2 + BUDDY_DISC_TAG_AT,
					BUDDY_DISC_TAG_BYTES);
	}
}

/* PROTOCOL.md 16.3: the IPv4 and IPv6 port fields of a window share no constant XOR, for real
 * beacons as for dummies: port4 XOR port6 changes with every window. */
static void test_family_masks(void **state)
{
	uint8_t d4[BUDDY_DISC_BEACON_BYTES], d6[BUDDY_DISC_BEACON_BYTES], seed[32];
	uint16_t x[8], y[8];

	(void)state;
	memset(seed, 9, sizeof(seed));
	for (int i = 0; i < 8; i++) {
		uint64_t w = W0 + (uint64_t)i;

		/* the same token in both families, other port fields */
		buddy_disc_beacon(K, w, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, NULL, d4);
		buddy_disc_beacon(K, w, A.pk, BUDDY_DISC_FAM6, IP6_A, 7654, NULL, d6);
		assert_memory_equal(d4, d6, 17);
		x[i] = (uint16_t)((d4[17] ^ d6[17]) << 8 | (d4[18] ^ d6[18]));
		buddy_disc_dummy(seed, w, 0, BUDDY_DISC_FAM4, 7654, NULL, d4);
		buddy_disc_dummy(seed, w, 0, BUDDY_DISC_FAM6, 7654, NULL, d6);
		assert_memory_equal(d4, d6, 17);
		y[i] = (uint16_t)((d4[17] ^ d6[17]) << 8 | (d4[18] ^ d6[18]));
	}
	/* not constant across windows (8 equal 16-bit values by chance: 2^-112) */
	for (int i = 1; i < 8; i++) {
		if (x[i] != x[0])
			break;
		assert_true(i < 7);
	}
	for (int i = 1; i < 8; i++) {
		if (y[i] != y[0])
			break;
		assert_true(i < 7);
	}
	/* and a real beacon's XOR is not the ports' XOR (here 0): the masks differ */
	assert_true(x[0] != 0 || x[1] != 0);
}

static void test_dummies(void **state)
{
	uint8_t seed[32], d1[BUDDY_DISC_BEACON_BYTES], d2[BUDDY_DISC_BEACON_BYTES];
	uint8_t d3[BUDDY_DISC_BEACON_BYTES];
	struct buddy_disc_expect ea;

	(void)state;
	memset(seed, 7, sizeof(seed));
	buddy_disc_expect(K, W0, A.pk, &ea);
	buddy_disc_dummy(seed, W0, 0, BUDDY_DISC_FAM4, 7654, NULL, d1);
	buddy_disc_dummy(seed, W0, 0, BUDDY_DISC_FAM4, 7654, NULL, d2);
	assert_true(buddy_disc_shape(d1, sizeof(d1)));
	/* the same token and port field within the window, like a real beacon; fresh tag and
	 * padding, like a real beacon's */
	assert_memory_equal(d1, d2, 19);
	assert_memory_not_equal(d1 + BUDDY_DISC_TAG_AT, d2 + BUDDY_DISC_TAG_AT,
				BUDDY_DISC_TAG_BYTES);
	assert_memory_not_equal(d1 + BUDDY_DISC_PAD_AT, d2 + BUDDY_DISC_PAD_AT,
				BUDDY_DISC_PAD_BYTES);
	/* another dummy, another window: other tokens */
	buddy_disc_dummy(seed, W0, 1, BUDDY_DISC_FAM4, 7654, NULL, d3);
	assert_memory_not_equal(d1 + 1, d3 + 1, 16);
	buddy_disc_dummy(seed, W0 + 1, 0, BUDDY_DISC_FAM4, 7654, NULL, d3);
	assert_memory_not_equal(d1 + 1, d3 + 1, 16);
	/* nobody's beacon */
	assert_false(buddy_disc_match(d1, sizeof(d1), K, A.pk, &ea, BUDDY_DISC_FAM4, IP4_A, NULL));
	/* from two addresses announcing two ports, a dummy's port field differs by the ports'
	 * XOR, exactly as a real beacon's does: the two cannot be told apart that way */
	{
		uint8_t r1[BUDDY_DISC_BEACON_BYTES], r2[BUDDY_DISC_BEACON_BYTES];
		uint16_t dx, rx;

		buddy_disc_dummy(seed, W0, 0, BUDDY_DISC_FAM4, 7654, NULL, d1);
		buddy_disc_dummy(seed, W0, 0, BUDDY_DISC_FAM4, 7700, NULL, d2);
		buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM4, IP4_A, 7654, NULL, r1);
		buddy_disc_beacon(K, W0, A.pk, BUDDY_DISC_FAM4, IP4_A, 7700, NULL, r2);
		dx = (uint16_t)((d1[17] ^ d2[17]) << 8 | (d1[18] ^ d2[18]));
		rx = (uint16_t)((r1[17] ^ r2[17]) << 8 | (r1[18] ^ r2[18]));
		assert_int_equal(dx, 7654 ^ 7700);
		assert_int_equal(rx, 7654 ^ 7700);
	}
}

static void test_bad_keys(void **state)
{
	uint8_t key[32], bad[32];

	(void)state;
	/* the identity point (y = 1) has no X25519 form; all zero and a non-canonical y neither */
	memset(bad, 0, sizeof(bad));
	bad[0] = 1;
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(buddy_disc_pair_key(A.xsk, A.pk, bad, key), BUDDY_E_INVALID);
	for (int i = 0; i < 32; i++)
		assert_int_equal(key[i], 0);
	memset(bad, 0, sizeof(bad));
	assert_int_equal(buddy_disc_pair_key(A.xsk, A.pk, bad, key), BUDDY_E_INVALID);
	memset(bad, 0xff, sizeof(bad));
	bad[31] = 0x7f;
	assert_int_equal(buddy_disc_pair_key(A.xsk, A.pk, bad, key), BUDDY_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example), cmocka_unit_test(test_windows),
		cmocka_unit_test(test_match),	       cmocka_unit_test(test_source_bound),
		cmocka_unit_test(test_family_masks),   cmocka_unit_test(test_dummies),
		cmocka_unit_test(test_bad_keys),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
