/* LAN discovery (proto/PROTOCOL.md section 16): UDP multicast beacons that only the paired
 * buddy can recognise. Beacons out (while unlocked, with at least one active buddy), beacons in
 * (from the link only, bounded size, rate-limited, matched in constant time against each
 * active buddy's tokens and bound to their source address), and a matched beacon's source
 * address and port handed to the peer layer as a place to dial
 * (buddy_peer_discovered). Nothing else: no state is recorded in the journal.
 *
 * The buddy_disc_* functions are the wire format, pure and testable; the buddyd_discovery_*
 * ones run it on the daemon's loop, from pairing.c's transport start and stop. */
#ifndef BUDDY_DISCOVERY_H
#define BUDDY_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_DISC_VERSION	1
#define BUDDY_DISC_BEACON_BYTES 64 /* every datagram, real or dummy */
#define BUDDY_DISC_TOKEN_BYTES	16
#define BUDDY_DISC_TAG_BYTES	16  /* binds the beacon to its source address */
#define BUDDY_DISC_KEY_BYTES	32  /* the pair key K */
#define BUDDY_DISC_TAG_AT	19  /* offset of the address tag */
#define BUDDY_DISC_PAD_AT	35  /* offset of the padding */
#define BUDDY_DISC_PAD_BYTES	29  /* random bytes after version, token, port and tag */
#define BUDDY_DISC_WINDOW_S	300 /* a token lives for one window */
#define BUDDY_DISC_PORT		7655
#define BUDDY_DISC_GROUP4	"239.255.77.77"
#define BUDDY_DISC_GROUP6	"ff02::6275:6464"
#define BUDDY_DISC_INTERVAL_S	30  /* between rounds, x [0.75, 1.25] */
#define BUDDY_DISC_BUCKET	4   /* datagrams per round: a multiple of this */
#define BUDDY_DISC_RX_PER_S	200 /* datagrams looked at per second, at most (plus our own) */

/* Address families as hashed (the family byte): the source address is then 4 or 16 bytes. */
#define BUDDY_DISC_FAM4 4
#define BUDDY_DISC_FAM6 6

/* The beacon window of a Unix time: floor(t / 300) (t >= 0). */
uint64_t buddy_disc_window(int64_t unix_time);

/* K = BLAKE2b-256(key = X25519(my_xsk, X25519 form of their_pk), "buddy lan v1" || lo || hi),
 * lo and hi the two Ed25519 keys in bytewise order. my_xsk is the X25519 form of my signing
 * key (crypto_sign_ed25519_sk_to_curve25519). BUDDY_E_INVALID when their_pk has no X25519
 * form or the shared secret is all zero (a low-order key); key is zeroed then. */
int buddy_disc_pair_key(const uint8_t my_xsk[32], const uint8_t my_pk[32],
			const uint8_t their_pk[32], uint8_t key[BUDDY_DISC_KEY_BYTES]);

/* H = BLAKE2b-256(key = K, "beacon" || u64be w || sender_pk): token = H[0..16), the IPv4 port
 * mask = H[16..18) (mask[0]), the IPv6 port mask = H[18..20) (mask[1]). */
void buddy_disc_token(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		      const uint8_t sender_pk[32], uint8_t token[BUDDY_DISC_TOKEN_BYTES],
		      uint8_t mask[2][2]);

/* The address tag: BLAKE2b-128(key = K, "beacon addr" || u64be w || sender_pk || family ||
 * addr (4 or 16 bytes) || u16be port || pad (BUDDY_DISC_PAD_BYTES)). */
void buddy_disc_tag(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		    const uint8_t sender_pk[32], int family, const uint8_t *addr, uint16_t port,
		    const uint8_t pad[BUDDY_DISC_PAD_BYTES], uint8_t tag[BUDDY_DISC_TAG_BYTES]);

/* A beacon of sender_pk for the pair key K in window w announcing TCP port port, sent from
 * addr (family BUDDY_DISC_FAM4: 4 bytes, BUDDY_DISC_FAM6: 16): version, token, port XOR the
 * family's mask (big-endian), address tag, then pad (BUDDY_DISC_PAD_BYTES; NULL: random). */
void buddy_disc_beacon(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		       const uint8_t sender_pk[32], int family, const uint8_t *addr, uint16_t port,
		       const uint8_t *pad, uint8_t out[BUDDY_DISC_BEACON_BYTES]);

/* Dummy number i of window w for a family: shaped like a beacon, its token and port field
 * taken from D = BLAKE2b-256(key = seed, "dummy" || u64be w || u32be i) (token D[0..16), port
 * field D[16..18) for IPv4, D[18..20) for IPv6, XOR port, the TCP port the round announces
 * from that address), so that it repeats within a window and varies with the port like a
 * real one; then rest (the 45 bytes where a beacon has its tag and padding; NULL: random). */
void buddy_disc_dummy(const uint8_t seed[32], uint64_t w, uint32_t i, int family, uint16_t port,
		      const uint8_t *rest, uint8_t out[BUDDY_DISC_BEACON_BYTES]);

/* What a receiver expects of one buddy around window w: the buddy's tokens and port masks for
 * w - 1, w and w + 1. */
struct buddy_disc_expect {
	uint64_t w;
	uint8_t token[3][BUDDY_DISC_TOKEN_BYTES];
	uint8_t mask[3][2][2];
};

void buddy_disc_expect(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		       const uint8_t buddy_pk[32], struct buddy_disc_expect *e);

/* A datagram has the shape of a beacon: exactly BUDDY_DISC_BEACON_BYTES, version 1. */
bool buddy_disc_shape(const uint8_t *dgram, size_t len);

/* The datagram (of the right shape), received from addr (family as above), is the beacon of
 * buddy_pk (whose pair key is key) sent from that very address: its token equals one of e's,
 * in constant time (all three compared), and its address tag is the one of that window, this
 * family, addr and the port (also in constant time). *port gets the port, which is not 0. */
bool buddy_disc_match(const uint8_t *dgram, size_t len, const uint8_t key[BUDDY_DISC_KEY_BYTES],
		      const uint8_t buddy_pk[32], const struct buddy_disc_expect *e, int family,
		      const uint8_t *addr, uint16_t *port);

/* ---- the daemon's side (discovery.c; struct buddyd in buddy/daemon.h) ---- */

struct buddyd;

/* Starts beacons and listening once the peer transport runs (pairing.c), unless the config
 * file says [discovery] enabled = no. A failure is logged; the daemon goes on without. */
void buddyd_discovery_start(struct buddyd *d);

/* Stops, closes the sockets and wipes every pair key (on lock and at exit). Idempotent. */
void buddyd_discovery_stop(struct buddyd *d);

/* The set of buddies may have changed (a pairing, a session up, a revocation): new pair keys
 * are derived, revoked buddies' keys wiped and, when a buddy was added, a round of beacons
 * goes out now; with no active buddy left, the groups are left. Cheap when nothing changed. */
void buddyd_discovery_refresh(struct buddyd *d);

#endif
