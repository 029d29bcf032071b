/* The paper key (proto/paperkey.c; spec: proto/BACKUP.md "Paper key"): 32 bytes as the 24 words
 * of BIP-39's entropy-to-mnemonic. The vectors are the BIP-39 reference vectors for 256-bit
 * entropy (the Trezor set), cross-checked with Debian's python3-mnemonic:
 * Mnemonic("english").to_mnemonic(seed). */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "buddy/error.h"
#include "buddy/paperkey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

struct vector {
	const char *hex;
	const char *words;
};

static const struct vector vectors[] = {
	{"0000000000000000000000000000000000000000000000000000000000000000",
	 "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
	 "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
	 "abandon art"},
	{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	 "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
	 "zoo "
	 "vote"},
	{"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
	 "legal winner thank year wave sausage worth useful legal winner thank year wave sausage "
	 "worth useful legal winner thank year wave sausage worth title"},
	{"8080808080808080808080808080808080808080808080808080808080808080",
	 "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount "
	 "doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless"},
	{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	 "abandon amount liar amount expire adjust cage candy arch gather drum bullet absurd math "
	 "era live bid rhythm alien crouch range attend journey unaware"},
	{"f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f",
	 "void come effort suffer camp survey warrior heavy shoot primary clutch crush open "
	 "amazing "
	 "screen patrol group space point ten exist slush involve unfold"},
	{"68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c",
	 "hamster diagram private dutch cause delay private meat slide toddler razor book happy "
	 "fancy gospel tennis maple dilemma loan word shrug inflict delay length"},
};

static void unhex(const char *hex, uint8_t out[32])
{
	assert_int_equal(sodium_hex2bin(out, 32, hex, 64, NULL, NULL, NULL), 0);
}

static int decode(const char *text, uint8_t seed[32], unsigned *pos)
{
	return buddy_paperkey_decode(text, strlen(text), seed, pos);
}

/* The words of seed, split into w[24]. */
static void words_of(const uint8_t seed[32], char text[BUDDY_PAPERKEY_TEXT_MAX],
		     char *w[BUDDY_PAPERKEY_WORDS])
{
	char *save = NULL;

	buddy_paperkey_encode(seed, text);
	w[0] = strtok_r(text, " ", &save);
	for (int i = 1; i < BUDDY_PAPERKEY_WORDS; i++)
		w[i] = strtok_r(NULL, " ", &save);
}

static void join(char *const w[BUDDY_PAPERKEY_WORDS], char *out, size_t n)
{
	size_t len = 0;

	for (int i = 0; i < BUDDY_PAPERKEY_WORDS; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "", w[i]);
}

static void test_paperkey_vectors_encode_and_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint8_t seed[32], back[32];
		char text[BUDDY_PAPERKEY_TEXT_MAX];
		unsigned pos;

		unhex(vectors[i].hex, seed);
		buddy_paperkey_encode(seed, text);
		assert_string_equal(text, vectors[i].words);
		assert_int_equal(decode(vectors[i].words, back, &pos), 0);
		assert_memory_equal(back, seed, 32);
	}
}

static void test_paperkey_random_seeds_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < 2000; i++) {
		uint8_t seed[32], back[32];
		char text[BUDDY_PAPERKEY_TEXT_MAX];
		unsigned pos;

		randombytes_buf(seed, sizeof(seed));
		buddy_paperkey_encode(seed, text);
		assert_true(strlen(text) < BUDDY_PAPERKEY_TEXT_MAX);
		assert_int_equal(decode(text, back, &pos), 0);
		assert_memory_equal(back, seed, 32);
	}
}

/* What a person types or copies: any case, any whitespace, the printed numbers, 4 letters. */
static void test_paperkey_decode_forgives_case_spacing_numbers_and_prefixes(void **state)
{
	static const char *const typed[] = {
		"LEGAL Winner thank YEAR wave sausage worth useful legal winner thank year wave "
		"sausage worth useful legal winner thank year wave sausage worth title",
		"  legal\twinner\n\nthank year wave sausage worth useful\r\nlegal winner thank "
		"year "
		"wave sausage worth useful legal winner thank year wave sausage worth title\n",
		"1 legal 2 winner 3 thank 4 year 5. wave 6. sausage 7) worth 8) useful 9: legal 10 "
		"winner 11 thank 12 year 13 wave 14 sausage 15 worth 16 useful 17 legal 18 winner "
		"19 thank 20 year 21 wave 22 sausage 23 worth 24 title",
		"lega winn than year wave saus wort usef lega winn than year wave saus wort usef "
		"lega "
		"winn than year wave saus wort titl",
	};
	uint8_t want[32], seed[32];
	unsigned pos;

	(void)state;
	unhex("7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f", want);
	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		memset(seed, 0, sizeof(seed));
		assert_int_equal(decode(typed[i], seed, &pos), 0);
		assert_memory_equal(seed, want, 32);
	}
}

static void test_paperkey_unknown_word_names_its_position(void **state)
{
	uint8_t seed[32], out[32] = {0}, zero[32] = {0};
	char text[BUDDY_PAPERKEY_TEXT_MAX], line[BUDDY_PAPERKEY_TEXT_MAX + 16];
	char *w[BUDDY_PAPERKEY_WORDS];

	(void)state;
	randombytes_buf(seed, sizeof(seed));
	for (unsigned i = 0; i < BUDDY_PAPERKEY_WORDS; i++) {
		char *keep;
		unsigned pos = 0;

		words_of(seed, text, w);
		keep = w[i];
		w[i] = "xyzzy";
		join(w, line, sizeof(line));
		assert_int_equal(decode(line, out, &pos), BUDDY_E_NOTFOUND);
		assert_int_equal(pos, i + 1);
		/* a word that is too short to be a prefix, and one too long, likewise */
		w[i] = "ab";
		join(w, line, sizeof(line));
		assert_int_equal(decode(line, out, &pos), BUDDY_E_NOTFOUND);
		assert_int_equal(pos, i + 1);
		w[i] = "abandonedx";
		join(w, line, sizeof(line));
		assert_int_equal(decode(line, out, &pos), BUDDY_E_NOTFOUND);
		assert_int_equal(pos, i + 1);
		w[i] = keep;
	}
	/* nothing is written on failure */
	assert_memory_equal(out, zero, 32);
}

/* A word changed to another word of the list, at any position: the checksum catches it, but
 * for the 1 change in 256 that happens to give a matching checksum, and even then the words
 * never decode to the original seed. In the last word, whose low 8 bits are the checksum, a
 * change of those bits is always caught. */
static void test_paperkey_checksum_catches_a_changed_word_at_every_position(void **state)
{
	char text[BUDDY_PAPERKEY_TEXT_MAX], line[BUDDY_PAPERKEY_TEXT_MAX + 16];
	char *w[BUDDY_PAPERKEY_WORDS];
	uint8_t seed[32], out[32];
	unsigned tried = 0, caught = 0;

	(void)state;
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		unhex(vectors[v].hex, seed);
		for (unsigned i = 0; i < BUDDY_PAPERKEY_WORDS; i++) {
			for (int delta = 1; delta <= 16; delta++) {
				int idx, rc;
				unsigned pos = 99;

				words_of(seed, text, w);
				idx = buddy_paperkey_lookup(w[i], strlen(w[i]));
				assert_true(idx >= 0);
				/* the last word: change its checksum bits only */
				if (i == BUDDY_PAPERKEY_WORDS - 1)
					idx = (idx & ~0xff) | ((idx + delta) & 0xff);
				else
					idx = (idx + delta) % BUDDY_PAPERKEY_WORDLIST;
				w[i] = (char *)buddy_paperkey_words[idx];
				join(w, line, sizeof(line));
				rc = decode(line, out, &pos);
				tried++;
				if (rc == BUDDY_E_CORRUPT) {
					assert_int_equal(pos, 0);
					caught++;
				} else {
					assert_int_equal(rc, 0);
					assert_true(i < BUDDY_PAPERKEY_WORDS - 1);
					assert_memory_not_equal(out, seed, 32);
				}
			}
		}
	}
	/* 1 in 256 passes by chance: of 2,688 changes, a few dozen at most */
	assert_true(tried - caught <= tried / 64);
}

static void test_paperkey_swapped_words_fail_the_checksum(void **state)
{
	char text[BUDDY_PAPERKEY_TEXT_MAX], line[BUDDY_PAPERKEY_TEXT_MAX + 16];
	char *w[BUDDY_PAPERKEY_WORDS], *t;
	uint8_t seed[32], out[32];
	unsigned pos;

	(void)state;
	unhex(vectors[4].hex, seed); /* "abandon amount liar ...": its words differ */
	words_of(seed, text, w);
	t = w[2];
	w[2] = w[3];
	w[3] = t;
	join(w, line, sizeof(line));
	assert_int_equal(decode(line, out, &pos), BUDDY_E_CORRUPT);
}

static void test_paperkey_word_count_is_checked(void **state)
{
	char text[BUDDY_PAPERKEY_TEXT_MAX], line[BUDDY_PAPERKEY_TEXT_MAX + 32];
	uint8_t seed[32] = {0}, out[32];
	unsigned pos;

	(void)state;
	buddy_paperkey_encode(seed, text);
	/* 23 words: the last one dropped */
	snprintf(line, sizeof(line), "%.*s", (int)(strrchr(text, ' ') - text), text);
	assert_int_equal(decode(line, out, &pos), BUDDY_E_INVALID);
	assert_int_equal(pos, 23);
	snprintf(line, sizeof(line), "%s abandon", text);
	assert_int_equal(decode(line, out, &pos), BUDDY_E_TOOBIG);
	assert_int_equal(pos, 25);
	assert_int_equal(decode("", out, &pos), BUDDY_E_INVALID);
	assert_int_equal(pos, 0);
	assert_int_equal(decode(" 1 2 3 \n", out, &pos), BUDDY_E_INVALID);
	assert_int_equal(pos, 0);
}

static void test_paperkey_input_over_the_limit_is_refused(void **state)
{
	static char big[BUDDY_PAPERKEY_INPUT_MAX + 2];
	uint8_t out[32];
	unsigned pos;

	(void)state;
	memset(big, ' ', sizeof(big) - 1);
	assert_int_equal(buddy_paperkey_decode(big, sizeof(big) - 1, out, &pos), BUDDY_E_INVALID);
}

/* The list is BIP-39's English one: the same bytes as the reference file, sorted, and four
 * letters name each word. */
static void test_paperkey_word_list_is_bip39_english(void **state)
{
	static const char sha256_hex[] =
		"2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda";
	crypto_hash_sha256_state st;
	uint8_t h[32];
	char hex[65];

	(void)state;
	crypto_hash_sha256_init(&st);
	for (int i = 0; i < BUDDY_PAPERKEY_WORDLIST; i++) {
		const char *w = buddy_paperkey_words[i];

		assert_true(strlen(w) >= 3 && strlen(w) <= BUDDY_PAPERKEY_WORD_MAX);
		if (i)
			assert_true(strcmp(buddy_paperkey_words[i - 1], w) < 0);
		if (i)
			assert_true(strncmp(buddy_paperkey_words[i - 1], w, 4) != 0);
		assert_int_equal(buddy_paperkey_lookup(w, strlen(w)), i);
		crypto_hash_sha256_update(&st, (const uint8_t *)w, strlen(w));
		crypto_hash_sha256_update(&st, (const uint8_t *)"\n", 1);
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	assert_string_equal(hex, sha256_hex);
}

static void test_paperkey_lookup_prefixes(void **state)
{
	(void)state;
	assert_int_equal(buddy_paperkey_lookup("abandon", 7), 0);
	assert_int_equal(buddy_paperkey_lookup("aban", 4), 0);
	assert_int_equal(buddy_paperkey_lookup("abando", 6), 0);
	assert_int_equal(buddy_paperkey_lookup("aba", 3), -1);
	assert_int_equal(buddy_paperkey_lookup("zoo", 3), 2047);
	assert_int_equal(buddy_paperkey_lookup("zo", 2), -1);
	assert_int_equal(buddy_paperkey_lookup("zzzz", 4), -1);
	assert_int_equal(buddy_paperkey_lookup("abandonx", 8), -1);
	assert_int_equal(buddy_paperkey_lookup("", 0), -1);
	/* "act" is a word, and "actu" names "actual" alone */
	assert_string_equal(buddy_paperkey_words[buddy_paperkey_lookup("act", 3)], "act");
	assert_string_equal(buddy_paperkey_words[buddy_paperkey_lookup("actu", 4)], "actual");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paperkey_vectors_encode_and_decode),
		cmocka_unit_test(test_paperkey_random_seeds_round_trip),
		cmocka_unit_test(test_paperkey_decode_forgives_case_spacing_numbers_and_prefixes),
		cmocka_unit_test(test_paperkey_unknown_word_names_its_position),
		cmocka_unit_test(test_paperkey_checksum_catches_a_changed_word_at_every_position),
		cmocka_unit_test(test_paperkey_swapped_words_fail_the_checksum),
		cmocka_unit_test(test_paperkey_word_count_is_checked),
		cmocka_unit_test(test_paperkey_input_over_the_limit_is_refused),
		cmocka_unit_test(test_paperkey_word_list_is_bip39_english),
		cmocka_unit_test(test_paperkey_lookup_prefixes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
