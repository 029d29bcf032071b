/* The paper key: the 32-byte identity seed as 24 words of the BIP-39 English list, with an
 * 8-bit checksum, exactly as BIP-39 turns 256 bits of entropy into a mnemonic (but the words
 * encode the seed itself: no PBKDF2 step). Format and test vectors: proto/BACKUP.md, "Paper
 * key". Pure functions: the caller keeps seeds and words in sodium_malloc memory; everything
 * this module derives on its own stack is wiped before it returns. */
#ifndef BUDDY_PAPERKEY_H
#define BUDDY_PAPERKEY_H

#include <stddef.h>
#include <stdint.h>

#define BUDDY_PAPERKEY_WORDS	24
#define BUDDY_PAPERKEY_WORDLIST 2048
#define BUDDY_PAPERKEY_WORD_MAX 8 /* letters in the longest word of the list */
/* the 24 words, each followed by a space (the last by the NUL) */
#define BUDDY_PAPERKEY_TEXT_MAX (BUDDY_PAPERKEY_WORDS * (BUDDY_PAPERKEY_WORD_MAX + 1))
/* what a reader of typed words accepts at most, in bytes */
#define BUDDY_PAPERKEY_INPUT_MAX 4096

/* The BIP-39 English list, sorted (proto/bip39_english.c, MIT licence). */
extern const char *const buddy_paperkey_words[BUDDY_PAPERKEY_WORDLIST];

/* The 24 lowercase words of seed, separated by single spaces, NUL-terminated. */
void buddy_paperkey_encode(const uint8_t seed[32], char out[BUDDY_PAPERKEY_TEXT_MAX]);

/* The seed from typed words: any whitespace between words, any case, a word or its first four
 * letters (enough in this list), numbers before the words ("1", "2." ...) ignored. Returns 0,
 * or with *pos set:
 *   BUDDY_E_NOTFOUND  word *pos (1..24) is in no list
 *   BUDDY_E_INVALID   fewer than 24 words (*pos: how many), or input over the limit (*pos 0)
 *   BUDDY_E_TOOBIG    more than 24 words (*pos 25)
 *   BUDDY_E_CORRUPT   the checksum does not match: a word is wrong or two are swapped (*pos 0)
 * seed is written only on success. */
int buddy_paperkey_decode(const char *text, size_t len, uint8_t seed[32], unsigned *pos);

/* The index of a word (exact, lowercase) or of the one word it is a prefix of (4 letters or
 * more); -1 when there is none. */
int buddy_paperkey_lookup(const char *word, size_t len);

#endif
