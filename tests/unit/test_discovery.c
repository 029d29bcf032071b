/* LAN discovery beacons (daemon/discovery.c, proto/PROTOCOL.md section 16): the worked example
 * of 16.7 byte for byte, tokens that change per window and differ per direction and per pair,
 * the receiver's window edges (w - 1 and w + 1 match, w - 2 and w + 2 do not), and datagrams
 * it must ignore: wrong size, wrong version, random bytes, a dummy, port 0, another pair's. */
#include <setjmp.h>
#include <stdarg.h>
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

/* PROTOCOL.md 16.7 */
static void test_worked_example(void **state)
{
	static const struct {
		const struct id *sender;
		uint64_t w;
		const char *token, *mask;
	} v[] = {
		{&A, W0 - 1, "96b17f6203e81a32480e16603eb26073", "6a09"},
		{&A, W0, "3fdce6384cd555c070c2ade1afccec2c", "a595"},
		{&A, W0 + 1, "af7280c955a85886e99b143bbfc904c8", "7b5a"},
		{&B, W0 - 1, "fa8f0d1ed9435b883f0e39a7130bc0b2", "7410"},
		{&B, W0, "5afa92886e76a44dc996466405fe1d90", "c239"},
		{&B, W0 + 1, "e81fe489bc0212846aa1c41b331d519f", "d11a"},
	};
	uint8_t k2[32], token[16], mask[2], pad[BUDDY_DISC_PAD_BYTES], dg[BUDDY_DISC_BEACON_BYTES];

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
		assert_hex(mask, v[i].mask);
	}
	memset(pad, 0, sizeof(pad));
	buddy_disc_beacon(K, W0, A.pk, 7654, pad, dg);
	assert_hex(dg,
		   "013fdce6384cd555c070c2ade1afccec2cb873"
		   "000000000000000000000000000000000000000000000000000000000000000000000000000000"
		   "0000000000");
	memset(pad, 0xff, sizeof(pad));
	buddy_disc_beacon(K, W0 + 1, B.pk, 7654, pad, dg);
	assert_hex(dg,
		   "01e81fe489bc0212846aa1c41b331d519fccfc"
		   "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		   "ffffffffff");
}

static void test_windows(void **state)
{
	uint8_t t[5][16], m[2], kac[32], kbc[32], other[16];

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

	buddy_disc_beacon(K, W0, A.pk, 7654, NULL, dg);
	assert_true(buddy_disc_shape(dg, BUDDY_DISC_BEACON_BYTES));
	assert_true(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	assert_int_equal(port, 7654);
	/* the other direction's expectation does not take it: a daemon's own beacons, looped
	 * back, never match */
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &eb, &port));
	/* nor does another pair's */
	assert_int_equal(buddy_disc_pair_key(C.xsk, C.pk, A.pk, kac), 0);
	buddy_disc_expect(kac, W0, A.pk, &eac);
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &eac, &port));

	/* window edges: a sender one window behind or ahead matches, two do not */
	buddy_disc_beacon(K, W0 - 1, A.pk, 1, NULL, dg);
	assert_true(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	assert_int_equal(port, 1);
	buddy_disc_beacon(K, W0 + 1, A.pk, 65535, NULL, dg);
	assert_true(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	assert_int_equal(port, 65535);
	buddy_disc_beacon(K, W0 - 2, A.pk, 7654, NULL, dg);
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	buddy_disc_beacon(K, W0 + 2, A.pk, 7654, NULL, dg);
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));

	/* wrong size, wrong version: ignored before any token is looked at */
	buddy_disc_beacon(K, W0, A.pk, 7654, NULL, dg);
	dg[BUDDY_DISC_BEACON_BYTES] = 0;
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES - 1, &ea, &port));
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES + 1, &ea, &port));
	assert_false(buddy_disc_shape(dg, 0));
	assert_false(buddy_disc_match(NULL, 0, &ea, &port));
	dg[0] = 2;
	assert_false(buddy_disc_shape(dg, BUDDY_DISC_BEACON_BYTES));
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	dg[0] = 0;
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	dg[0] = 1;
	assert_true(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	/* one bit off in the token */
	dg[5] ^= 0x10;
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
	dg[5] ^= 0x10;
	/* a port field that decrypts to 0 */
	buddy_disc_beacon(K, W0, A.pk, 0, NULL, dg);
	assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));

	/* random bytes, with the right size and version */
	for (int i = 0; i < 1000; i++) {
		randombytes_buf(dg, sizeof(dg));
		dg[0] = BUDDY_DISC_VERSION;
		assert_true(buddy_disc_shape(dg, BUDDY_DISC_BEACON_BYTES));
		assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &ea, &port));
		assert_false(buddy_disc_match(dg, BUDDY_DISC_BEACON_BYTES, &eb, &port));
	}
}

static void test_dummies(void **state)
{
	uint8_t seed[32], d1[BUDDY_DISC_BEACON_BYTES], d2[BUDDY_DISC_BEACON_BYTES];
	uint8_t d3[BUDDY_DISC_BEACON_BYTES];
	struct buddy_disc_expect ea;

	(void)state;
	memset(seed, 7, sizeof(seed));
	buddy_disc_expect(K, W0, A.pk, &ea);
	buddy_disc_dummy(seed, W0, 0, NULL, d1);
	buddy_disc_dummy(seed, W0, 0, NULL, d2);
	assert_true(buddy_disc_shape(d1, sizeof(d1)));
	/* the same token and port field within the window, like a real beacon; fresh padding */
	assert_memory_equal(d1, d2, 19);
	assert_memory_not_equal(d1 + 19, d2 + 19, BUDDY_DISC_PAD_BYTES);
	/* another dummy, another window: other tokens */
	buddy_disc_dummy(seed, W0, 1, NULL, d3);
	assert_memory_not_equal(d1 + 1, d3 + 1, 16);
	buddy_disc_dummy(seed, W0 + 1, 0, NULL, d3);
	assert_memory_not_equal(d1 + 1, d3 + 1, 16);
	/* nobody's beacon */
	assert_false(buddy_disc_match(d1, sizeof(d1), &ea, NULL));
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
		cmocka_unit_test(test_match),	       cmocka_unit_test(test_dummies),
		cmocka_unit_test(test_bad_keys),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
