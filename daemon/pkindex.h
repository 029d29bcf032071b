/* An index from a 32-byte public key to one of the caller's records, for the lookups by buddy
 * key that run on every handshake and every peer message: admit, session up and down, sync,
 * redial. As list or array scans they made the handshake rate fall with the number of paired
 * buddies (perf record -g of buddyd under tests/bench/bench_peer.c, 1,000 buddies: ~8% of the
 * daemon's CPU in want_find, sync's peer_find and buddy_buddies_by_pk, ~20 us a handshake;
 * 3,747 handshakes/s against ~4,050/s with 200 buddies).
 *
 * A slot points at the caller's record; the key is read back from the record through key_at, so
 * the index holds no copy of it. Records in an array that moves take pkix_rebase. Open addressing,
 * linear probing, at most half full, removal by backward shift. The home slot is SipHash under a
 * random key drawn at the first insertion: the keys are the peers' own, and none can choose
 * them to land in one run of slots.
 * Static inline: daemon/ modules include it, nothing links it. */
#ifndef BUDDY_PKINDEX_H
#define BUDDY_PKINDEX_H

#include "buddy/error.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PKIX_KEY 32

/* The key of record r. */
typedef const uint8_t *(*pkix_key_fn)(const void *r);

struct pkix {
	void **s;      /* NULL: an empty slot */
	size_t cap, n; /* cap is 0 or a power of two */
	uint8_t hk[crypto_shorthash_KEYBYTES];
};

static inline size_t pkix_home(const struct pkix *ix, const uint8_t key[PKIX_KEY])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t x = 0;

	crypto_shorthash(h, key, PKIX_KEY, ix->hk);
	for (size_t i = 0; i < sizeof(h); i++)
		x = x << 8 | h[i];
	return (size_t)x & (ix->cap - 1);
}

/* The record indexed under key, or NULL. */
static inline void *pkix_get(const struct pkix *ix, const uint8_t key[PKIX_KEY], pkix_key_fn key_at)
{
	if (!ix->n)
		return NULL;
	for (size_t i = pkix_home(ix, key);; i = (i + 1) & (ix->cap - 1))
		if (!ix->s[i] || memcmp(key_at(ix->s[i]), key, PKIX_KEY) == 0)
			return ix->s[i];
}

static inline void pkix_place(struct pkix *ix, void *r, pkix_key_fn key_at)
{
	size_t i = pkix_home(ix, key_at(r));

	while (ix->s[i])
		i = (i + 1) & (ix->cap - 1);
	ix->s[i] = r;
}

/* Indexes record r (not NULL) under its key, which must not be indexed yet. On failure
 * (BUDDY_E_NOMEM) the index is unchanged. */
static inline int pkix_put(struct pkix *ix, void *r, pkix_key_fn key_at)
{
	if ((ix->n + 1) * 2 > ix->cap) {
		struct pkix old = *ix;
		size_t ncap = ix->cap ? ix->cap * 2 : 16;

		if (!(ix->s = calloc(ncap, sizeof(*ix->s)))) {
			ix->s = old.s;
			return BUDDY_E_NOMEM;
		}
		if (!old.cap)
			randombytes_buf(ix->hk, sizeof(ix->hk));
		ix->cap = ncap;
		for (size_t i = 0; i < old.cap; i++)
			if (old.s[i])
				pkix_place(ix, old.s[i], key_at);
		free(old.s);
	}
	pkix_place(ix, r, key_at);
	ix->n++;
	return 0;
}

/* Removes what is indexed under key, if anything: the slots after it move back to where a
 * lookup still finds them. */
static inline void pkix_del(struct pkix *ix, const uint8_t key[PKIX_KEY], pkix_key_fn key_at)
{
	size_t i, j, mask = ix->cap - 1;

	if (!ix->n)
		return;
	for (i = pkix_home(ix, key); ix->s[i]; i = (i + 1) & mask)
		if (memcmp(key_at(ix->s[i]), key, PKIX_KEY) == 0)
			break;
	if (!ix->s[i])
		return;
	ix->s[i] = NULL;
	ix->n--;
	for (j = (i + 1) & mask; ix->s[j]; j = (j + 1) & mask) {
		size_t h = pkix_home(ix, key_at(ix->s[j]));

		/* s[j] stays unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		ix->s[i] = ix->s[j];
		ix->s[j] = NULL;
		i = j;
	}
}

/* The records of an array moved from old (still allocated) to new, at the same offsets: the
 * index follows them. Their keys, so their slots, do not change. */
static inline void pkix_rebase(struct pkix *ix, const void *old, void *new)
{
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->s[i])
			ix->s[i] = (char *)new + ((const char *)ix->s[i] - (const char *)old);
}

static inline void pkix_free(struct pkix *ix)
{
	free(ix->s);
	memset(ix, 0, sizeof(*ix));
}

#endif
