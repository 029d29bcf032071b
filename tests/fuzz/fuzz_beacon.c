/* libFuzzer target for LAN discovery datagrams (proto/PROTOCOL.md section 16): whatever the
 * bytes, the receiver's checks answer without reading out of bounds; a datagram is looked at
 * only with the beacon's exact size and version; one that matches a buddy's expectation
 * announces a port other than 0, and is exactly what that buddy would have sent in one of the
 * three windows (up to its random padding). Seeds are in corpus/beacon/: the worked example's
 * beacons, a dummy, and near misses. */
#include "buddy/discovery.h"

#include <sodium.h>
#include <string.h>

#define W0 5890752 /* 2026-01-01T00:00:00Z / 300, as in the worked example */

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
		  const struct buddy_disc_expect *e)
{
	uint8_t again[BUDDY_DISC_BEACON_BYTES];
	uint16_t port = 0;
	bool same = false;

	if (!buddy_disc_match(d, len, e, &port))
		return;
	if (!buddy_disc_shape(d, len) || port == 0)
		__builtin_trap();
	for (uint64_t w = W0 - 1; w <= W0 + 1; w++) {
		buddy_disc_beacon(key, w, sender, port, d + 19, again);
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
	check(data, size, pk_a, &exp_a);
	check(data, size, pk_b, &exp_b);
	return 0;
}
