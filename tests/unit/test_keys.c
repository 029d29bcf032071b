/* The key file (daemon/keys.c, format in proto/KEYFILE.md): what create, load, unseal, reseal
 * and fingerprint promise, and how damaged or tampered files are refused. Every test works in a
 * fresh mkdtemp directory and uses BUDDY_KDF_INTERACTIVE unless it says otherwise. Files for the
 * refusal tests are written by a small encoder here, built from the spec, not from keys.c. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "buddy/error.h"
#include "buddy/keys.h"
#include "buddy/limits.h"

#include <dirent.h>
#include <fcntl.h>
#include <msgpack.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PASS	 "correct horse battery staple"
#define PASS2	 "a different passphrase entirely"
#define FILE_CAP 8192

struct fixture {
	char dir[64];
	char path[128];
	char tmp[160];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/buddy-test-keys-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/keys", fx->dir);
	snprintf(fx->tmp, sizeof(fx->tmp), "%s/keys.tmp", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char p[512];
	struct dirent *de;
	DIR *d = opendir(fx->dir);

	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", fx->dir, de->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Helpers */

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void spit(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static int entries_in_dir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void create_ok(const char *path, const char *pass, enum buddy_kdf_level lvl,
		      struct buddy_secrets **out)
{
	assert_int_equal(buddy_keys_create(path, pass, pass ? strlen(pass) : 0, lvl, out), 0);
}

/* Loads and unseals; returns the first error. */
static int open_keys(const char *path, const char *pass, struct buddy_secrets **out)
{
	struct buddy_keyfile kf;
	int ret = buddy_keys_load(path, &kf);

	if (ret)
		return ret;
	return buddy_keys_unseal(&kf, pass, pass ? strlen(pass) : 0, out);
}

static void assert_same_secrets(const struct buddy_secrets *a, const struct buddy_secrets *b)
{
	assert_memory_equal(a->sign_pk, b->sign_pk, BUDDY_PK_BYTES);
	assert_memory_equal(a->sign_sk, b->sign_sk, BUDDY_SK_BYTES);
	assert_memory_equal(a->data_key, b->data_key, BUDDY_DATA_KEY_BYTES);
}

/* An independent encoder for the format: a list of map entries, written in order. */

enum etype { T_UINT, T_STR, T_BIN, T_INT, T_NIL };

struct entry {
	const char *key;
	enum etype type;
	uint64_t u;
	const void *p;
	size_t len;
};

#define MAX_ENTRIES 12

static size_t kf_entries(const struct buddy_keyfile *kf, struct entry e[MAX_ENTRIES])
{
	size_t n = 0;

	e[n++] = (struct entry){"v", T_UINT, 1, NULL, 0};
	e[n++] = (struct entry){"pk", T_BIN, 0, kf->sign_pk, BUDDY_PK_BYTES};
	if (kf->has_passphrase) {
		e[n++] = (struct entry){"kdf", T_STR, 0, "argon2id13", 10};
		e[n++] = (struct entry){"ops", T_UINT, kf->opslimit, NULL, 0};
		e[n++] = (struct entry){"mem", T_UINT, kf->memlimit, NULL, 0};
		e[n++] = (struct entry){"salt", T_BIN, 0, kf->salt, BUDDY_SALT_BYTES};
	} else {
		e[n++] = (struct entry){"kdf", T_STR, 0, "none", 4};
	}
	e[n++] = (struct entry){"nonce", T_BIN, 0, kf->nonce, sizeof(kf->nonce)};
	e[n++] = (struct entry){"sealed", T_BIN, 0, kf->sealed, kf->sealed_len};
	return n;
}

static void write_entries(const char *path, const struct entry *e, size_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_str(&pk, strlen(e[i].key));
		msgpack_pack_str_body(&pk, e[i].key, strlen(e[i].key));
		switch (e[i].type) {
		case T_UINT:
			msgpack_pack_uint64(&pk, e[i].u);
			break;
		case T_INT: /* always the signed int64 form, even for a non-negative value */
			msgpack_pack_fix_int64(&pk, (int64_t)e[i].u);
			break;
		case T_STR:
			msgpack_pack_str(&pk, e[i].len);
			msgpack_pack_str_body(&pk, e[i].p, e[i].len);
			break;
		case T_BIN:
			msgpack_pack_bin(&pk, e[i].len);
			msgpack_pack_bin_body(&pk, e[i].p, e[i].len);
			break;
		case T_NIL:
			msgpack_pack_nil(&pk);
			break;
		}
	}
	spit(path, sb.data, sb.size, 0600);
	msgpack_sbuffer_destroy(&sb);
}

static void write_kf(const char *path, const struct buddy_keyfile *kf)
{
	struct entry e[MAX_ENTRIES];

	write_entries(path, e, kf_entries(kf, e));
}

static struct entry *find_entry(struct entry *e, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].key, key) == 0)
			return &e[i];
	fail_msg("no entry %s", key);
	return NULL;
}

/* The spec's additional data, built here independently of keys.c. */
static size_t spec_ad(const struct buddy_keyfile *kf, uint8_t *ad)
{
	const char *kdf = kf->has_passphrase ? "argon2id13" : "none";
	uint64_t ops = kf->has_passphrase ? kf->opslimit : 0;
	uint64_t mem = kf->has_passphrase ? kf->memlimit : 0;
	size_t n = 0;

	memcpy(ad, "buddy-keys-v1", 13);
	n += 13;
	memcpy(ad + n, kf->sign_pk, 32);
	n += 32;
	memcpy(ad + n, kdf, strlen(kdf));
	n += strlen(kdf);
	for (int i = 7; i >= 0; i--)
		ad[n++] = (uint8_t)(ops >> (8 * i));
	for (int i = 7; i >= 0; i--)
		ad[n++] = (uint8_t)(mem >> (8 * i));
	if (kf->has_passphrase) {
		memcpy(ad + n, kf->salt, 16);
		n += 16;
	}
	return n;
}

/* Seals seed || data_key per the spec, with pk written as given (it may not match the seed). */
static void spec_seal(struct buddy_keyfile *kf, const uint8_t pk[32], const uint8_t seed[32],
		      const uint8_t data_key[32], const char *pass)
{
	uint8_t key[32] = {0}, plain[64], ad[128];
	unsigned long long clen;

	memset(kf, 0, sizeof(*kf));
	memcpy(kf->sign_pk, pk, 32);
	if (pass) {
		kf->has_passphrase = 1;
		kf->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		kf->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		randombytes_buf(kf->salt, sizeof(kf->salt));
		assert_int_equal(crypto_pwhash(key, 32, pass, strlen(pass), kf->salt, kf->opslimit,
					       kf->memlimit, crypto_pwhash_ALG_ARGON2ID13),
				 0);
	}
	randombytes_buf(kf->nonce, sizeof(kf->nonce));
	memcpy(plain, seed, 32);
	memcpy(plain + 32, data_key, 32);
	crypto_aead_xchacha20poly1305_ietf_encrypt(kf->sealed, &clen, plain, 64, ad,
						   spec_ad(kf, ad), NULL, kf->nonce, key);
	kf->sealed_len = (size_t)clen;
}

/* kdf_level_parse */

static void test_keys_kdf_level_parse_known_names(void **state)
{
	enum buddy_kdf_level lvl;

	(void)state;
	assert_int_equal(buddy_kdf_level_parse("interactive", &lvl), 0);
	assert_int_equal(lvl, BUDDY_KDF_INTERACTIVE);
	assert_int_equal(buddy_kdf_level_parse("moderate", &lvl), 0);
	assert_int_equal(lvl, BUDDY_KDF_MODERATE);
	assert_int_equal(buddy_kdf_level_parse("sensitive", &lvl), 0);
	assert_int_equal(lvl, BUDDY_KDF_SENSITIVE);
}

static void test_keys_kdf_level_parse_other_names_invalid(void **state)
{
	static const char *const bad[] = {"", "none", "Interactive", "moderate ", "fast", "low"};
	enum buddy_kdf_level lvl = BUDDY_KDF_MODERATE;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(buddy_kdf_level_parse(bad[i], &lvl), BUDDY_E_INVALID);
	assert_int_equal(buddy_kdf_level_parse(NULL, &lvl), BUDDY_E_INVALID);
	assert_int_equal(lvl, BUDDY_KDF_MODERATE);
}

/* create, load, unseal */

static void test_keys_create_then_unseal_gives_same_secrets(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;
	struct buddy_keyfile kf;
	uint8_t sig[crypto_sign_BYTES];

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &made);
	assert_non_null(made);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_true(kf.has_passphrase);
	assert_int_equal(kf.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
	assert_int_equal(kf.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
	assert_memory_equal(kf.sign_pk, made->sign_pk, BUDDY_PK_BYTES);

	assert_int_equal(buddy_keys_unseal(&kf, PASS, strlen(PASS), &opened), 0);
	assert_same_secrets(made, opened);
	/* The identity is usable: libsodium layout, signs for the stored public key. */
	assert_memory_equal(opened->sign_sk + 32, kf.sign_pk, BUDDY_PK_BYTES);
	crypto_sign_detached(sig, NULL, (const uint8_t *)"hi", 2, opened->sign_sk);
	assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"hi", 2, kf.sign_pk), 0);
	buddy_secrets_free(made);
	buddy_secrets_free(opened);
}

static void test_keys_create_twice_gives_different_keys(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *a = NULL, *b = NULL;
	char other[192];

	snprintf(other, sizeof(other), "%s/other", fx->dir);
	create_ok(fx->path, NULL, BUDDY_KDF_NONE, &a);
	create_ok(other, NULL, BUDDY_KDF_NONE, &b);
	assert_memory_not_equal(a->sign_pk, b->sign_pk, BUDDY_PK_BYTES);
	assert_memory_not_equal(a->data_key, b->data_key, BUDDY_DATA_KEY_BYTES);
	buddy_secrets_free(a);
	buddy_secrets_free(b);
}

static void test_keys_create_moderate_roundtrip(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;
	struct buddy_keyfile kf;

	create_ok(fx->path, PASS, BUDDY_KDF_MODERATE, &made);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_int_equal(kf.opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
	assert_int_equal(kf.memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
	assert_int_equal(buddy_keys_unseal(&kf, PASS, strlen(PASS), &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(made);
	buddy_secrets_free(opened);
}

static void test_keys_create_out_may_be_null(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *opened = NULL;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, NULL);
	assert_int_equal(open_keys(fx->path, NULL, &opened), 0);
	buddy_secrets_free(opened);
}

static void test_keys_unseal_wrong_passphrase_auth_file_unchanged(void **state)
{
	struct fixture *fx = *state;
	static uint8_t before[FILE_CAP], after[FILE_CAP];
	struct buddy_secrets *opened = NULL;
	struct stat st1, st2;
	size_t n1, n2;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	n1 = slurp(fx->path, before, sizeof(before));
	assert_int_equal(stat(fx->path, &st1), 0);

	assert_int_equal(open_keys(fx->path, PASS2, &opened), BUDDY_E_AUTH);
	assert_null(opened);
	assert_int_equal(open_keys(fx->path, "", &opened), BUDDY_E_AUTH);
	assert_int_equal(open_keys(fx->path, "correct horse battery stapl", &opened), BUDDY_E_AUTH);
	assert_null(opened);

	assert_int_equal(stat(fx->path, &st2), 0);
	n2 = slurp(fx->path, after, sizeof(after));
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	assert_int_equal(st1.st_size, st2.st_size);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);
	assert_int_equal(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
	assert_int_equal(entries_in_dir(fx->dir), 1);
}

static void test_keys_create_no_passphrase_roundtrip(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;
	struct buddy_keyfile kf;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, &made);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_false(kf.has_passphrase);
	assert_int_equal(buddy_keys_unseal(&kf, NULL, 0, &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(opened);
	/* Any passphrase is ignored for such a file. */
	assert_int_equal(buddy_keys_unseal(&kf, PASS, strlen(PASS), &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(opened);
	buddy_secrets_free(made);
}

static void test_keys_create_existing_file_exists_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *s = NULL;
	uint8_t buf[64];

	spit(fx->path, "hello", 5, 0600);
	assert_int_equal(buddy_keys_create(fx->path, PASS, strlen(PASS), BUDDY_KDF_INTERACTIVE, &s),
			 BUDDY_E_EXISTS);
	assert_null(s);
	assert_int_equal(slurp(fx->path, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
}

static void test_keys_create_over_existing_key_file_exists(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *first = NULL, *opened = NULL;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, &first);
	assert_int_equal(buddy_keys_create(fx->path, NULL, 0, BUDDY_KDF_NONE, NULL),
			 BUDDY_E_EXISTS);
	assert_int_equal(open_keys(fx->path, NULL, &opened), 0);
	assert_same_secrets(first, opened);
	buddy_secrets_free(first);
	buddy_secrets_free(opened);
}

static void test_keys_create_dangling_symlink_exists_not_followed(void **state)
{
	struct fixture *fx = *state;
	char target[192];

	snprintf(target, sizeof(target), "%s/target", fx->dir);
	assert_int_equal(symlink(target, fx->path), 0);
	assert_int_equal(buddy_keys_create(fx->path, NULL, 0, BUDDY_KDF_NONE, NULL),
			 BUDDY_E_EXISTS);
	assert_int_equal(access(target, F_OK), -1);
}

static void test_keys_create_bad_arguments_invalid_no_file(void **state)
{
	struct fixture *fx = *state;
	static char longpass[BUDDY_PASSPHRASE_MAX + 2];

	memset(longpass, 'x', sizeof(longpass) - 1);
	assert_int_equal(buddy_keys_create(fx->path, NULL, 0, BUDDY_KDF_INTERACTIVE, NULL),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_keys_create(fx->path, "", 0, BUDDY_KDF_INTERACTIVE, NULL),
			 BUDDY_E_INVALID);
	assert_int_equal(
		buddy_keys_create(fx->path, PASS, strlen(PASS), (enum buddy_kdf_level)42, NULL),
		BUDDY_E_INVALID);
	assert_int_equal(buddy_keys_create(fx->path, longpass, BUDDY_PASSPHRASE_MAX + 1,
					   BUDDY_KDF_INTERACTIVE, NULL),
			 BUDDY_E_TOOBIG);
	assert_int_equal(buddy_keys_create(NULL, NULL, 0, BUDDY_KDF_NONE, NULL), BUDDY_E_INVALID);
	assert_int_equal(entries_in_dir(fx->dir), 0);
}

static void test_keys_create_longest_passphrase_works(void **state)
{
	struct fixture *fx = *state;
	static char longpass[BUDDY_PASSPHRASE_MAX + 1];
	struct buddy_secrets *made = NULL, *opened = NULL;
	struct buddy_keyfile kf;

	memset(longpass, 'x', BUDDY_PASSPHRASE_MAX);
	create_ok(fx->path, longpass, BUDDY_KDF_INTERACTIVE, &made);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_int_equal(buddy_keys_unseal(&kf, longpass, BUDDY_PASSPHRASE_MAX + 1, &opened),
			 BUDDY_E_TOOBIG);
	assert_int_equal(buddy_keys_unseal(&kf, longpass, BUDDY_PASSPHRASE_MAX, &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(made);
	buddy_secrets_free(opened);
}

static void test_keys_create_write_fails_leaves_no_file(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *s = NULL;
	struct rlimit old, tiny;
	int ret;

	/* A file size limit makes the write fail part-way (EFBIG) after the file exists. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	tiny = old;
	tiny.rlim_cur = 16;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
	ret = buddy_keys_create(fx->path, NULL, 0, BUDDY_KDF_NONE, &s);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);

	assert_int_equal(ret, BUDDY_E_IO);
	assert_null(s);
	assert_int_equal(entries_in_dir(fx->dir), 0);
}

static void test_keys_file_secrets_and_passphrase_not_in_clear(void **state)
{
	struct fixture *fx = *state;
	static uint8_t buf[FILE_CAP];
	struct buddy_secrets *s = NULL;
	size_t n;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &s);
	n = slurp(fx->path, buf, sizeof(buf));
	assert_null(memmem(buf, n, PASS, strlen(PASS)));
	assert_null(memmem(buf, n, "correct", 7));
	assert_null(memmem(buf, n, s->data_key, 8));
	assert_null(memmem(buf, n, s->sign_sk, 8));
	buddy_secrets_free(s);

	/* Without a passphrase the secret is still not written in clear. */
	unlink(fx->path);
	create_ok(fx->path, NULL, BUDDY_KDF_NONE, &s);
	n = slurp(fx->path, buf, sizeof(buf));
	assert_null(memmem(buf, n, s->data_key, 8));
	assert_null(memmem(buf, n, s->sign_sk, 8));
	buddy_secrets_free(s);
}

/* The module's file is exactly the documented layout: re-encoding its fields with the
 * independent encoder above gives the same bytes, "v" first. */
static void test_keys_file_layout_matches_spec(void **state)
{
	struct fixture *fx = *state;
	static uint8_t made[FILE_CAP], spec[FILE_CAP];
	struct buddy_keyfile kf;
	char copy[192];
	size_t n1, n2;

	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_int_equal(kf.sealed_len, 64 + 16);
	write_kf(copy, &kf);
	n1 = slurp(fx->path, made, sizeof(made));
	n2 = slurp(copy, spec, sizeof(spec));
	assert_int_equal(n1, n2);
	assert_memory_equal(made, spec, n1);
	assert_memory_equal(made, "\x88\xa1v\x01\xa2pk\xc4\x20", 9);

	unlink(fx->path);
	create_ok(fx->path, NULL, BUDDY_KDF_NONE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	write_kf(copy, &kf);
	n1 = slurp(fx->path, made, sizeof(made));
	n2 = slurp(copy, spec, sizeof(spec));
	assert_int_equal(n1, n2);
	assert_memory_equal(made, spec, n1);
	assert_memory_equal(made, "\x85\xa1v\x01", 4);
}

static void test_keys_unseal_spec_built_file_opens(void **state)
{
	struct fixture *fx = *state;
	uint8_t pk[32], sk[64], seed[32], dk[32];
	struct buddy_secrets *s = NULL;
	struct buddy_keyfile kf;

	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(dk, sizeof(dk));
	crypto_sign_seed_keypair(pk, sk, seed);

	spec_seal(&kf, pk, seed, dk, PASS);
	write_kf(fx->path, &kf);
	assert_int_equal(open_keys(fx->path, PASS, &s), 0);
	assert_memory_equal(s->sign_pk, pk, 32);
	assert_memory_equal(s->sign_sk, sk, 64);
	assert_memory_equal(s->data_key, dk, 32);
	buddy_secrets_free(s);

	spec_seal(&kf, pk, seed, dk, NULL);
	write_kf(fx->path, &kf);
	assert_int_equal(open_keys(fx->path, NULL, &s), 0);
	assert_memory_equal(s->data_key, dk, 32);
	buddy_secrets_free(s);
}

/* A file whose sealed seed is authentic but belongs to another public key. */
static void test_keys_unseal_pk_not_matching_seed_corrupt(void **state)
{
	struct fixture *fx = *state;
	uint8_t pk[32], sk[64], seed[32], dk[32], other_pk[32];
	struct buddy_secrets *s = NULL;
	struct buddy_keyfile kf;

	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(dk, sizeof(dk));
	crypto_sign_seed_keypair(pk, sk, seed);
	crypto_sign_keypair(other_pk, sk);

	spec_seal(&kf, other_pk, seed, dk, NULL);
	write_kf(fx->path, &kf);
	assert_int_equal(open_keys(fx->path, NULL, &s), BUDDY_E_CORRUPT);
	assert_null(s);
}

/* reseal */

static void test_keys_reseal_new_passphrase_old_fails_new_works(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;
	struct stat st;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &made);
	assert_int_equal(
		buddy_keys_reseal(fx->path, made, PASS2, strlen(PASS2), BUDDY_KDF_INTERACTIVE), 0);
	assert_int_equal(open_keys(fx->path, PASS, &opened), BUDDY_E_AUTH);
	assert_int_equal(open_keys(fx->path, PASS2, &opened), 0);
	assert_same_secrets(made, opened);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(entries_in_dir(fx->dir), 1);
	buddy_secrets_free(made);
	buddy_secrets_free(opened);
}

static void test_keys_reseal_uses_fresh_salt_and_nonce(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL;
	struct buddy_keyfile a, b;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &made);
	assert_int_equal(buddy_keys_load(fx->path, &a), 0);
	assert_int_equal(
		buddy_keys_reseal(fx->path, made, PASS, strlen(PASS), BUDDY_KDF_INTERACTIVE), 0);
	assert_int_equal(buddy_keys_load(fx->path, &b), 0);
	assert_memory_not_equal(a.salt, b.salt, sizeof(a.salt));
	assert_memory_not_equal(a.nonce, b.nonce, sizeof(a.nonce));
	assert_memory_equal(a.sign_pk, b.sign_pk, sizeof(a.sign_pk));
	buddy_secrets_free(made);
}

static void test_keys_reseal_to_none_and_back(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;
	struct buddy_keyfile kf;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &made);

	assert_int_equal(buddy_keys_reseal(fx->path, made, NULL, 0, BUDDY_KDF_NONE), 0);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_false(kf.has_passphrase);
	assert_int_equal(buddy_keys_unseal(&kf, NULL, 0, &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(opened);

	assert_int_equal(
		buddy_keys_reseal(fx->path, made, PASS2, strlen(PASS2), BUDDY_KDF_INTERACTIVE), 0);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_true(kf.has_passphrase);
	assert_int_equal(buddy_keys_unseal(&kf, NULL, 0, &opened), BUDDY_E_INVALID);
	assert_int_equal(buddy_keys_unseal(&kf, PASS, strlen(PASS), &opened), BUDDY_E_AUTH);
	assert_int_equal(buddy_keys_unseal(&kf, PASS2, strlen(PASS2), &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(opened);
	buddy_secrets_free(made);
}

static void test_keys_reseal_stale_tmp_replaced(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, &made);
	spit(fx->tmp, "half a key file from a crash", 28, 0600);
	assert_int_equal(
		buddy_keys_reseal(fx->path, made, PASS, strlen(PASS), BUDDY_KDF_INTERACTIVE), 0);
	assert_int_equal(access(fx->tmp, F_OK), -1);
	assert_int_equal(open_keys(fx->path, PASS, &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(made);
	buddy_secrets_free(opened);
}

static void test_keys_reseal_write_fails_old_file_kept(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;
	struct rlimit old, tiny;
	int ret;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &made);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	tiny = old;
	tiny.rlim_cur = 16;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
	ret = buddy_keys_reseal(fx->path, made, NULL, 0, BUDDY_KDF_NONE);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);

	assert_int_equal(ret, BUDDY_E_IO);
	assert_int_equal(entries_in_dir(fx->dir), 1);
	assert_int_equal(open_keys(fx->path, PASS, &opened), 0);
	assert_same_secrets(made, opened);
	buddy_secrets_free(made);
	buddy_secrets_free(opened);
}

static void test_keys_reseal_bad_arguments_file_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *made = NULL, *opened = NULL;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &made);
	assert_int_equal(buddy_keys_reseal(fx->path, made, NULL, 0, BUDDY_KDF_INTERACTIVE),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_keys_reseal(fx->path, NULL, NULL, 0, BUDDY_KDF_NONE),
			 BUDDY_E_INVALID);
	made->sign_pk[0] ^= 1; /* secrets not matching their own key pair */
	assert_int_equal(buddy_keys_reseal(fx->path, made, NULL, 0, BUDDY_KDF_NONE),
			 BUDDY_E_INVALID);
	assert_int_equal(open_keys(fx->path, PASS, &opened), 0);
	buddy_secrets_free(made);
	buddy_secrets_free(opened);
}

/* Tampering with a sealed file: every clear field is bound to the sealed secret. */

enum tamper {
	TAMPER_PK,
	TAMPER_OPS,
	TAMPER_MEM,
	TAMPER_SALT,
	TAMPER_NONCE,
	TAMPER_SEALED_FIRST,
	TAMPER_SEALED_LAST,
	TAMPER_KDF_TO_NONE
};

static void tamper_and_expect(struct fixture *fx, enum tamper t, int expect)
{
	struct buddy_secrets *opened = NULL;
	struct buddy_keyfile kf;
	int ret;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	switch (t) {
	case TAMPER_PK:
		kf.sign_pk[5] ^= 0x01;
		break;
	case TAMPER_OPS:
		kf.opslimit += 1;
		break;
	case TAMPER_MEM:
		kf.memlimit /= 2; /* cheaper, which is what an attacker would want */
		break;
	case TAMPER_SALT:
		kf.salt[0] ^= 0x80;
		break;
	case TAMPER_NONCE:
		kf.nonce[23] ^= 0x01;
		break;
	case TAMPER_SEALED_FIRST:
		kf.sealed[0] ^= 0x01;
		break;
	case TAMPER_SEALED_LAST:
		kf.sealed[kf.sealed_len - 1] ^= 0x01;
		break;
	case TAMPER_KDF_TO_NONE:
		kf.has_passphrase = 0;
		break;
	}
	write_kf(fx->path, &kf);
	ret = open_keys(fx->path, PASS, &opened);
	assert_int_equal(ret, expect);
	assert_null(opened);
}

static void test_keys_tampered_pk_auth(void **state)
{
	tamper_and_expect(*state, TAMPER_PK, BUDDY_E_AUTH);
}

static void test_keys_tampered_ops_auth(void **state)
{
	tamper_and_expect(*state, TAMPER_OPS, BUDDY_E_AUTH);
}

static void test_keys_tampered_mem_auth(void **state)
{
	tamper_and_expect(*state, TAMPER_MEM, BUDDY_E_AUTH);
}

static void test_keys_tampered_salt_auth(void **state)
{
	tamper_and_expect(*state, TAMPER_SALT, BUDDY_E_AUTH);
}

static void test_keys_tampered_nonce_auth(void **state)
{
	tamper_and_expect(*state, TAMPER_NONCE, BUDDY_E_AUTH);
}

static void test_keys_tampered_sealed_byte_auth(void **state)
{
	tamper_and_expect(*state, TAMPER_SEALED_FIRST, BUDDY_E_AUTH);
}

static void test_keys_tampered_sealed_tag_auth(void **state)
{
	tamper_and_expect(*state, TAMPER_SEALED_LAST, BUDDY_E_AUTH);
}

/* Stripping the passphrase (kdf "none") does not open the file with the zero key. */
static void test_keys_tampered_kdf_stripped_corrupt(void **state)
{
	tamper_and_expect(*state, TAMPER_KDF_TO_NONE, BUDDY_E_CORRUPT);
}

/* The file's last byte is the last byte of the tag: flipping it on disk, without re-encoding. */
static void test_keys_tampered_raw_last_byte_auth(void **state)
{
	struct fixture *fx = *state;
	static uint8_t buf[FILE_CAP];
	struct buddy_secrets *opened = NULL;
	size_t n;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	n = slurp(fx->path, buf, sizeof(buf));
	buf[n - 1] ^= 0x40;
	spit(fx->path, buf, n, 0600);
	assert_int_equal(open_keys(fx->path, PASS, &opened), BUDDY_E_AUTH);
	assert_null(opened);
}

static void test_keys_tampered_no_passphrase_file_corrupt(void **state)
{
	struct fixture *fx = *state;
	struct buddy_secrets *opened = NULL;
	struct buddy_keyfile kf;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	kf.sign_pk[0] ^= 0x01;
	write_kf(fx->path, &kf);
	assert_int_equal(open_keys(fx->path, NULL, &opened), BUDDY_E_CORRUPT);
	assert_null(opened);
}

/* KDF parameters out of bounds are refused before any Argon2id work or allocation. */

static void test_keys_load_huge_mem_corrupt_without_trying(void **state)
{
	static const uint64_t mems[] = {(4ULL << 30) + 1024, 1ULL << 40, UINT64_MAX,
					crypto_pwhash_MEMLIMIT_MIN - 1, 0};
	struct fixture *fx = *state;
	struct buddy_secrets *opened = NULL;
	struct buddy_keyfile kf, good;
	struct entry e[MAX_ENTRIES];
	size_t n;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &good), 0);
	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++) {
		n = kf_entries(&good, e);
		find_entry(e, n, "mem")->u = mems[i];
		write_entries(fx->path, e, n);
		assert_int_equal(buddy_keys_load(fx->path, &kf), BUDDY_E_CORRUPT);
	}

	/* unseal checks a key file it did not load too; this returns at once. */
	kf = good;
	kf.memlimit = 1ULL << 40;
	assert_int_equal(buddy_keys_unseal(&kf, PASS, strlen(PASS), &opened), BUDDY_E_CORRUPT);
	kf.memlimit = good.memlimit;
	kf.opslimit = 0;
	assert_int_equal(buddy_keys_unseal(&kf, PASS, strlen(PASS), &opened), BUDDY_E_CORRUPT);
	kf = good;
	kf.sealed_len = 200;
	assert_int_equal(buddy_keys_unseal(&kf, PASS, strlen(PASS), &opened), BUDDY_E_CORRUPT);
	assert_null(opened);
}

static void test_keys_load_ops_out_of_bounds_corrupt(void **state)
{
	static const uint64_t ops[] = {0, 33, (uint64_t)crypto_pwhash_OPSLIMIT_MAX + 1, UINT64_MAX};
	struct fixture *fx = *state;
	struct buddy_keyfile kf, good;
	struct entry e[MAX_ENTRIES];
	size_t n;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &good), 0);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = kf_entries(&good, e);
		find_entry(e, n, "ops")->u = ops[i];
		write_entries(fx->path, e, n);
		assert_int_equal(buddy_keys_load(fx->path, &kf), BUDDY_E_CORRUPT);
	}
}

/* Damaged files */

static void expect_raw(struct fixture *fx, const void *buf, size_t len, int expect)
{
	struct buddy_keyfile kf;

	spit(fx->path, buf, len, 0600);
	assert_int_equal(buddy_keys_load(fx->path, &kf), expect);
}

static void test_keys_load_every_truncation_corrupt(void **state)
{
	struct fixture *fx = *state;
	static uint8_t buf[FILE_CAP];
	size_t n;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	n = slurp(fx->path, buf, sizeof(buf));
	for (size_t len = 0; len < n; len++)
		expect_raw(fx, buf, len, BUDDY_E_CORRUPT);
	expect_raw(fx, buf, n, 0);
}

static void test_keys_load_damaged_bytes_corrupt(void **state)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
	} cases[] = {
		{"empty", "", 0},
		{"text", "this is not a key file\n", 23},
		{"array", "\x92\x01\x02", 3},
		{"string", "\xa4keys", 5},
		{"nil", "\xc0", 1},
		{"empty map", "\x80", 1},
		{"map32 declaring 2^32-1 entries", "\xdf\xff\xff\xff\xff", 5},
		{"map32 bomb after v", "\xdf\xff\xff\xff\xff\xa1v\x01", 8},
		{"array32 bomb as a value", "\x81\xa1v\xdd\x10\x00\x00\x00", 8},
		{"str32 longer than the file", "\x81\xdb\xff\xff\xff\xffv", 7},
		{"v only", "\x81\xa1v\x01", 4},
		{"reserved byte", "\x81\xa1v\xc1", 4},
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("      %s\n", cases[i].what);
		expect_raw(fx, cases[i].bytes, cases[i].len, BUDDY_E_CORRUPT);
	}
}

static void test_keys_load_trailing_byte_corrupt(void **state)
{
	struct fixture *fx = *state;
	static uint8_t buf[FILE_CAP];
	size_t n;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, NULL);
	n = slurp(fx->path, buf, sizeof(buf));
	buf[n] = 0xc0;
	expect_raw(fx, buf, n + 1, BUDDY_E_CORRUPT);
}

static void test_keys_load_over_4096_bytes_corrupt(void **state)
{
	struct fixture *fx = *state;
	static uint8_t buf[5000];

	memset(buf, 0x80, sizeof(buf));
	expect_raw(fx, buf, 4097, BUDDY_E_CORRUPT);
	expect_raw(fx, buf, sizeof(buf), BUDDY_E_CORRUPT);
}

enum mutation {
	M_SET_UINT,
	M_SET_INT,
	M_SET_STR,
	M_SET_BIN,
	M_SET_NIL,
	M_DROP,
	M_ADD,
	M_DUP,
	M_V_LAST
};

static const struct mutation_case {
	const char *what;
	const char *key;
	enum mutation m;
	uint64_t u;	 /* M_SET_UINT, M_SET_INT; byte length for M_SET_BIN */
	const char *str; /* M_SET_STR */
	int expect;
} mutations[] = {
	{"v = 2", "v", M_SET_UINT, 2, NULL, BUDDY_E_VERSION},
	{"v = 0", "v", M_SET_UINT, 0, NULL, BUDDY_E_VERSION},
	{"v = 2^64-1", "v", M_SET_UINT, UINT64_MAX, NULL, BUDDY_E_VERSION},
	{"v as str", "v", M_SET_STR, 0, "1", BUDDY_E_CORRUPT},
	{"v negative", "v", M_SET_INT, (uint64_t)-1, NULL, BUDDY_E_CORRUPT},
	{"v nil", "v", M_SET_NIL, 0, NULL, BUDDY_E_CORRUPT},
	{"v missing", "v", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"v not first", "v", M_V_LAST, 0, NULL, BUDDY_E_CORRUPT},
	{"pk as str", "pk", M_SET_STR, 0, "0123456789abcdef0123456789abcdef", BUDDY_E_CORRUPT},
	{"pk 31 bytes", "pk", M_SET_BIN, 31, NULL, BUDDY_E_CORRUPT},
	{"pk 33 bytes", "pk", M_SET_BIN, 33, NULL, BUDDY_E_CORRUPT},
	{"pk missing", "pk", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"pk twice", "pk", M_DUP, 0, NULL, BUDDY_E_CORRUPT},
	{"kdf unknown", "kdf", M_SET_STR, 0, "scrypt", BUDDY_E_CORRUPT},
	{"kdf none with parameters", "kdf", M_SET_STR, 0, "none", BUDDY_E_CORRUPT},
	{"kdf as bin", "kdf", M_SET_BIN, 10, NULL, BUDDY_E_CORRUPT},
	{"kdf missing", "kdf", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"ops as str", "ops", M_SET_STR, 0, "2", BUDDY_E_CORRUPT},
	{"ops as signed int", "ops", M_SET_INT, 2, NULL, BUDDY_E_CORRUPT},
	{"ops missing", "ops", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"mem as bin", "mem", M_SET_BIN, 8, NULL, BUDDY_E_CORRUPT},
	{"mem missing", "mem", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"salt 15 bytes", "salt", M_SET_BIN, 15, NULL, BUDDY_E_CORRUPT},
	{"salt as str", "salt", M_SET_STR, 0, "0123456789abcdef", BUDDY_E_CORRUPT},
	{"salt missing", "salt", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"nonce 23 bytes", "nonce", M_SET_BIN, 23, NULL, BUDDY_E_CORRUPT},
	{"nonce as uint", "nonce", M_SET_UINT, 7, NULL, BUDDY_E_CORRUPT},
	{"nonce missing", "nonce", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"sealed 79 bytes", "sealed", M_SET_BIN, 79, NULL, BUDDY_E_CORRUPT},
	{"sealed 81 bytes", "sealed", M_SET_BIN, 81, NULL, BUDDY_E_CORRUPT},
	{"sealed empty", "sealed", M_SET_BIN, 0, NULL, BUDDY_E_CORRUPT},
	{"sealed missing", "sealed", M_DROP, 0, NULL, BUDDY_E_CORRUPT},
	{"unknown key", "comment", M_ADD, 0, NULL, BUDDY_E_CORRUPT},
	{"unknown key V", "V", M_ADD, 0, NULL, BUDDY_E_CORRUPT},
};

static void test_keys_load_wrong_fields_refused(void **state)
{
	static const uint8_t zeros[128];
	struct fixture *fx = *state;
	struct buddy_keyfile good, kf;
	struct entry e[MAX_ENTRIES], *x;
	size_t n;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &good), 0);
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		const struct mutation_case *c = &mutations[i];

		print_message("      %s\n", c->what);
		n = kf_entries(&good, e);
		switch (c->m) {
		case M_SET_UINT:
		case M_SET_INT:
			x = find_entry(e, n, c->key);
			*x = (struct entry){x->key, c->m == M_SET_UINT ? T_UINT : T_INT, c->u, NULL,
					    0};
			break;
		case M_SET_STR:
			x = find_entry(e, n, c->key);
			*x = (struct entry){x->key, T_STR, 0, c->str, strlen(c->str)};
			break;
		case M_SET_BIN:
			x = find_entry(e, n, c->key);
			*x = (struct entry){x->key, T_BIN, 0, zeros, (size_t)c->u};
			break;
		case M_SET_NIL:
			x = find_entry(e, n, c->key);
			*x = (struct entry){x->key, T_NIL, 0, NULL, 0};
			break;
		case M_DROP:
			x = find_entry(e, n, c->key);
			memmove(x, x + 1, (size_t)(e + n - (x + 1)) * sizeof(*x));
			n--;
			break;
		case M_ADD:
			e[n++] = (struct entry){c->key, T_STR, 0, "x", 1};
			break;
		case M_DUP:
			e[n] = *find_entry(e, n, c->key);
			n++;
			break;
		case M_V_LAST:
			e[n] = e[0];
			memmove(e, e + 1, n * sizeof(*e));
			break;
		}
		write_entries(fx->path, e, n);
		assert_int_equal(buddy_keys_load(fx->path, &kf), c->expect);
	}
}

/* The untouched entries re-encoded load: the refusals above are about the one change. */
static void test_keys_load_spec_encoded_file_accepted(void **state)
{
	struct fixture *fx = *state;
	struct buddy_keyfile good, kf;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, NULL);
	assert_int_equal(buddy_keys_load(fx->path, &good), 0);
	write_kf(fx->path, &good);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	assert_memory_equal(&kf.sealed, &good.sealed, good.sealed_len);
}

static void test_keys_load_failure_leaves_output_untouched(void **state)
{
	struct fixture *fx = *state;
	struct buddy_keyfile kf;

	memset(&kf, 0x5a, sizeof(kf));
	expect_raw(fx, "\x81\xa1v\x01", 4, BUDDY_E_CORRUPT);
	for (size_t i = 0; i < sizeof(kf); i++)
		assert_int_equal(((uint8_t *)&kf)[i], 0x5a);
}

/* Permissions and file kinds */

static void test_keys_create_file_mode_0600(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, NULL);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_keys_load_group_or_other_bits_perm(void **state)
{
	static const mode_t modes[] = {0644, 0640, 0604, 0660, 0601, 0610};
	struct fixture *fx = *state;
	struct buddy_keyfile kf;

	create_ok(fx->path, NULL, BUDDY_KDF_NONE, NULL);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(fx->path, modes[i]), 0);
		assert_int_equal(buddy_keys_load(fx->path, &kf), BUDDY_E_PERM);
	}
	assert_int_equal(chmod(fx->path, 0400), 0);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
}

static void test_keys_load_symlink_perm(void **state)
{
	struct fixture *fx = *state;
	struct buddy_keyfile kf;
	char real[192];

	snprintf(real, sizeof(real), "%s/real", fx->dir);
	create_ok(real, NULL, BUDDY_KDF_NONE, NULL);
	assert_int_equal(symlink(real, fx->path), 0);
	assert_int_equal(buddy_keys_load(fx->path, &kf), BUDDY_E_PERM);
}

static void test_keys_load_missing_notfound(void **state)
{
	struct fixture *fx = *state;
	struct buddy_keyfile kf;

	assert_int_equal(buddy_keys_load(fx->path, &kf), BUDDY_E_NOTFOUND);
}

static void test_keys_load_not_regular_file_refused(void **state)
{
	struct fixture *fx = *state;
	struct buddy_keyfile kf;

	assert_int_equal(mkdir(fx->path, 0700), 0);
	assert_int_equal(buddy_keys_load(fx->path, &kf), BUDDY_E_CORRUPT);
	assert_int_equal(rmdir(fx->path), 0);
	/* A FIFO must not block the caller in open(). */
	assert_int_equal(mkfifo(fx->path, 0600), 0);
	assert_int_equal(buddy_keys_load(fx->path, &kf), BUDDY_E_CORRUPT);
}

/* Fingerprint */

static void test_keys_fingerprint_known_answer(void **state)
{
	static const uint8_t zero_pk[BUDDY_PK_BYTES];
	char fp[BUDDY_FINGERPRINT_LEN + 1];

	(void)state;
	/* BLAKE2b-128("buddy-fingerprint-v1" || 32 zero bytes), computed with Python's hashlib. */
	buddy_keys_fingerprint(zero_pk, fp);
	assert_string_equal(fp, "ec30 7d9a e6f0 aa09 bef2 3971 3219 749c");
}

static void test_keys_fingerprint_format_and_stability(void **state)
{
	char fp1[BUDDY_FINGERPRINT_LEN + 1], fp2[BUDDY_FINGERPRINT_LEN + 1];
	uint8_t pk[BUDDY_PK_BYTES];

	(void)state;
	assert_int_equal(BUDDY_FINGERPRINT_LEN, 39);
	for (int round = 0; round < 32; round++) {
		randombytes_buf(pk, sizeof(pk));
		buddy_keys_fingerprint(pk, fp1);
		buddy_keys_fingerprint(pk, fp2);
		assert_string_equal(fp1, fp2);
		assert_int_equal(strlen(fp1), BUDDY_FINGERPRINT_LEN);
		for (int i = 0; i < BUDDY_FINGERPRINT_LEN; i++) {
			if (i % 5 == 4)
				assert_int_equal(fp1[i], ' ');
			else
				assert_non_null(strchr("0123456789abcdef", fp1[i]));
		}
		pk[31] ^= 1;
		buddy_keys_fingerprint(pk, fp2);
		assert_string_not_equal(fp1, fp2);
	}
}

static void test_keys_fingerprint_readable_while_locked(void **state)
{
	struct fixture *fx = *state;
	char locked[BUDDY_FINGERPRINT_LEN + 1], unlocked[BUDDY_FINGERPRINT_LEN + 1];
	struct buddy_secrets *s = NULL;
	struct buddy_keyfile kf;

	create_ok(fx->path, PASS, BUDDY_KDF_INTERACTIVE, &s);
	assert_int_equal(buddy_keys_load(fx->path, &kf), 0);
	buddy_keys_fingerprint(kf.sign_pk, locked);
	buddy_keys_fingerprint(s->sign_pk, unlocked);
	assert_string_equal(locked, unlocked);
	buddy_secrets_free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_keys_kdf_level_parse_known_names),
		T(test_keys_kdf_level_parse_other_names_invalid),
		T(test_keys_create_then_unseal_gives_same_secrets),
		T(test_keys_create_twice_gives_different_keys),
		T(test_keys_create_moderate_roundtrip),
		T(test_keys_create_out_may_be_null),
		T(test_keys_unseal_wrong_passphrase_auth_file_unchanged),
		T(test_keys_create_no_passphrase_roundtrip),
		T(test_keys_create_existing_file_exists_unchanged),
		T(test_keys_create_over_existing_key_file_exists),
		T(test_keys_create_dangling_symlink_exists_not_followed),
		T(test_keys_create_bad_arguments_invalid_no_file),
		T(test_keys_create_longest_passphrase_works),
		T(test_keys_create_write_fails_leaves_no_file),
		T(test_keys_file_secrets_and_passphrase_not_in_clear),
		T(test_keys_file_layout_matches_spec),
		T(test_keys_unseal_spec_built_file_opens),
		T(test_keys_unseal_pk_not_matching_seed_corrupt),
		T(test_keys_reseal_new_passphrase_old_fails_new_works),
		T(test_keys_reseal_uses_fresh_salt_and_nonce),
		T(test_keys_reseal_to_none_and_back),
		T(test_keys_reseal_stale_tmp_replaced),
		T(test_keys_reseal_write_fails_old_file_kept),
		T(test_keys_reseal_bad_arguments_file_unchanged),
		T(test_keys_tampered_pk_auth),
		T(test_keys_tampered_ops_auth),
		T(test_keys_tampered_mem_auth),
		T(test_keys_tampered_salt_auth),
		T(test_keys_tampered_nonce_auth),
		T(test_keys_tampered_sealed_byte_auth),
		T(test_keys_tampered_sealed_tag_auth),
		T(test_keys_tampered_kdf_stripped_corrupt),
		T(test_keys_tampered_raw_last_byte_auth),
		T(test_keys_tampered_no_passphrase_file_corrupt),
		T(test_keys_load_huge_mem_corrupt_without_trying),
		T(test_keys_load_ops_out_of_bounds_corrupt),
		T(test_keys_load_every_truncation_corrupt),
		T(test_keys_load_damaged_bytes_corrupt),
		T(test_keys_load_trailing_byte_corrupt),
		T(test_keys_load_over_4096_bytes_corrupt),
		T(test_keys_load_wrong_fields_refused),
		T(test_keys_load_spec_encoded_file_accepted),
		T(test_keys_load_failure_leaves_output_untouched),
		T(test_keys_create_file_mode_0600),
		T(test_keys_load_group_or_other_bits_perm),
		T(test_keys_load_symlink_perm),
		T(test_keys_load_missing_notfound),
		T(test_keys_load_not_regular_file_refused),
		T(test_keys_fingerprint_known_answer),
		T(test_keys_fingerprint_format_and_stability),
		T(test_keys_fingerprint_readable_while_locked),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
