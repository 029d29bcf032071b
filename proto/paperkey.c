/* The paper key (see buddy/paperkey.h; spec: proto/BACKUP.md "Paper key").
 *
 *   bits  = seed (256 bits) || SHA-256(seed)[0] (8 bits)        264 bits, most significant first
 *   words = list[bits 0..10], list[bits 11..21], ... list[bits 253..263]
 *
 * This is BIP-39's entropy-to-mnemonic for 256 bits, so any BIP-39 tool shows the same words
 * for the same 32 bytes; the seed is the identity's Ed25519 seed itself. */
#include "buddy/paperkey.h"
#include "buddy/error.h"

#include <sodium.h>
#include <string.h>

#define SEED_BYTES 32
#define BITS_BYTES (SEED_BYTES + 1)
#define WORD_BITS  11

_Static_assert(BUDDY_PAPERKEY_WORDS *WORD_BITS == BITS_BYTES * 8, "24 words of 11 bits");

static unsigned get_index(const uint8_t bits[BITS_BYTES], unsigned word)
{
	unsigned v = 0;

	for (unsigned b = word * WORD_BITS; b < (word + 1) * WORD_BITS; b++)
		v = v << 1 | ((bits[b / 8] >> (7 - b % 8)) & 1);
	return v;
}

static void set_index(uint8_t bits[BITS_BYTES], unsigned word, unsigned v)
{
	for (unsigned i = 0; i < WORD_BITS; i++) {
		unsigned b = word * WORD_BITS + i;
		if ((v >> (WORD_BITS - 1 - i)) & 1)
			bits[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	}
}

void buddy_paperkey_encode(const uint8_t seed[32], char out[BUDDY_PAPERKEY_TEXT_MAX])
{
	uint8_t bits[BITS_BYTES], hash[crypto_hash_sha256_BYTES];
	size_t n = 0;

	memcpy(bits, seed, SEED_BYTES);
	crypto_hash_sha256(hash, seed, SEED_BYTES);
	bits[SEED_BYTES] = hash[0];
	for (unsigned w = 0; w < BUDDY_PAPERKEY_WORDS; w++) {
		const char *word = buddy_paperkey_words[get_index(bits, w)];
		size_t len = strlen(word);
		if (w)
			out[n++] = ' ';
		memcpy(out + n, word, len);
		n += len;
	}
	out[n] = 0;
	sodium_memzero(bits, sizeof(bits));
	sodium_memzero(hash, sizeof(hash));
}

int buddy_paperkey_lookup(const char *word, size_t len)
{
	size_t lo = 0, hi = BUDDY_PAPERKEY_WORDLIST;

	if (len == 0 || len > BUDDY_PAPERKEY_WORD_MAX)
		return -1;
	/* the first word not below `word` (the list is sorted) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *w = buddy_paperkey_words[mid];
		size_t wl = strlen(w);
		int c = memcmp(w, word, wl < len ? wl : len);
		if (c < 0 || (c == 0 && wl < len))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == BUDDY_PAPERKEY_WORDLIST)
		return -1;
	if (strlen(buddy_paperkey_words[lo]) == len &&
	    memcmp(buddy_paperkey_words[lo], word, len) == 0)
		return (int)lo;
	/* four letters name one word of this list at most: a longer prefix is as unambiguous */
	if (len >= 4 && strncmp(buddy_paperkey_words[lo], word, len) == 0)
		return (int)lo;
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* "12", "12." or "12)": a number someone wrote before a word. */
static int is_number(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == 0)
		return 0;
	return i == len || (i + 1 == len && (p[i] == '.' || p[i] == ')' || p[i] == ':'));
}

int buddy_paperkey_decode(const char *text, size_t len, uint8_t seed[32], unsigned *pos)
{
	uint8_t bits[BITS_BYTES] = {0}, hash[crypto_hash_sha256_BYTES];
	char word[BUDDY_PAPERKEY_WORD_MAX];
	unsigned n = 0;
	size_t i = 0;
	int rc = 0;

	*pos = 0;
	if (len > BUDDY_PAPERKEY_INPUT_MAX)
		return BUDDY_E_INVALID;
	while (i < len) {
		size_t start, wl;
		int idx = -1;

		while (i < len && is_space(text[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !is_space(text[i]))
			i++;
		wl = i - start;
		if (is_number(text + start, wl))
			continue;
		if (++n > BUDDY_PAPERKEY_WORDS) {
			*pos = n;
			rc = BUDDY_E_TOOBIG;
			goto out;
		}
		if (wl <= sizeof(word)) {
			for (size_t k = 0; k < wl; k++) {
				char c = text[start + k];
				word[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			}
			idx = buddy_paperkey_lookup(word, wl);
		}
		if (idx < 0) {
			*pos = n;
			rc = BUDDY_E_NOTFOUND;
			goto out;
		}
		set_index(bits, n - 1, (unsigned)idx);
	}
	if (n < BUDDY_PAPERKEY_WORDS) {
		*pos = n;
		rc = BUDDY_E_INVALID;
		goto out;
	}
	crypto_hash_sha256(hash, bits, SEED_BYTES);
	if (hash[0] != bits[SEED_BYTES]) {
		rc = BUDDY_E_CORRUPT;
		goto out;
	}
	memcpy(seed, bits, SEED_BYTES);
out:
	sodium_memzero(bits, sizeof(bits));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(word, sizeof(word));
	return rc;
}
