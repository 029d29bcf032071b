/* libFuzzer target for LAN discovery datagrams (proto/PROTOCOL.md section 16): whatever the
 * bytes, the receiver's checks answer without reading out of bounds; a datagram is looked at
 * only with the beacon's exact size and version; one that matches a buddy's expectation, from
 * the worked example's source addresses (192.0.2.10, fe80::2), announces a port other than 0
 * and is exactly what that buddy would have sent from that address in one of the three
 * windows (its padding taken as is). Seeds are in corpus/beacon/: the worked example's
 * beacons, a dummy, random bytes of the right shape, and near misses. */
#include "buddy/discovery.h"

#include <sodium.h>
#include <string.h>

#define W0 5890752 /* 2026-01-01T00:00:00Z / 300, as in the worked example */

static const uint8_t ip4[4] = {192, 0, 2, 10}, ip6[16] = {0xfe, 0x80, [15] = 2};
static uint8_t pk_a[32], pk_b[32], key[32];
static struct buddy_disc_expect exp_a, exp_b;

static void setup(void)
{
	uint8_t seed[32], sk[64], xsk[32];

	if (sodium_init() < 0)
		__builtin_trap();
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	crypto_sign_seed_keypair(pk_a, sk, seed);
	crypto_sign_ed25519_sk_to_curve25519(xsk, sk);
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(32 + i);
	crypto_sign_seed_keypair(pk_b, sk, seed);
	if (buddy_disc_pair_key(xsk, pk_a, pk_b, key) != 0)
		__builtin_trap();
	buddy_disc_expect(key, W0, pk_a, &exp_a);
	buddy_disc_expect(key, W0, pk_b, &exp_b);
}

static void check(const uint8_t *d, size_t len, const uint8_t *sender,
		  const struct buddy_disc_expect *e, int family, const uint8_t *addr)
{
	uint8_t again[BUDDY_DISC_BEACON_BYTES];
	uint16_t port = 0;
	bool same = false;

	if (!buddy_disc_match(d, len, key, sender, e, family, addr, &port))
		return;
	if (!buddy_disc_shape(d, len) || port == 0)
		__builtin_trap();
	for (uint64_t w = W0 - 1; w <= W0 + 1; w++) {
		buddy_disc_beacon(key, w, sender, family, addr, port, d + BUDDY_DISC_PAD_AT, again);
		same |= memcmp(again, d, sizeof(again)) == 0;
	}
	if (!same)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (buddy_disc_shape(data, size) != (size == BUDDY_DISC_BEACON_BYTES && data[0] == 1))
		__builtin_trap();
	for (int f = 0; f < 2; f++) {
		int family = f ? BUDDY_DISC_FAM6 : BUDDY_DISC_FAM4;
		const uint8_t *addr = f ? ip6 : ip4;

		check(data, size, pk_a, &exp_a, family, addr);
		check(data, size, pk_b, &exp_b, family, addr);
	}
	return 0;
}
