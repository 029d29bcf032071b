/* The participant's identity (Ed25519) and the journal's data key, sealed at rest under a key
 * derived from the passphrase with Argon2id (DESIGN.md section 3; format in proto/STORE.md, "Key
 * file"). Owns the file $BUDDY_HOME/keys. Secrets live only in sodium_malloc memory and are wiped
 * by buddy_secrets_free. Nothing here touches the journal. */
#ifndef BUDDY_KEYS_H
#define BUDDY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define BUDDY_PK_BYTES	      32
#define BUDDY_SK_BYTES	      64
#define BUDDY_DATA_KEY_BYTES  32
#define BUDDY_SALT_BYTES      16
#define BUDDY_FINGERPRINT_LEN 39 /* "xxxx xxxx xxxx xxxx xxxx xxxx xxxx xxxx" */

enum buddy_kdf_level {
	BUDDY_KDF_NONE = 0, /* no passphrase: the file's permissions are the only protection */
	BUDDY_KDF_INTERACTIVE,
	BUDDY_KDF_MODERATE,
	BUDDY_KDF_SENSITIVE
};

/* Always allocated by this module with sodium_malloc. */
struct buddy_secrets {
	uint8_t sign_pk[BUDDY_PK_BYTES];
	uint8_t sign_sk[BUDDY_SK_BYTES]; /* libsodium layout: seed || pk */
	uint8_t data_key[BUDDY_DATA_KEY_BYTES];
};

/* The parsed key file. Public: readable while locked. */
struct buddy_keyfile {
	uint8_t sign_pk[BUDDY_PK_BYTES];
	int has_passphrase;
	uint64_t opslimit;
	uint64_t memlimit;
	uint8_t salt[BUDDY_SALT_BYTES];
	uint8_t nonce[24];
	uint8_t sealed[128];
	size_t sealed_len;
};

/* Parses "interactive", "moderate", "sensitive"; BUDDY_E_INVALID otherwise. */
int buddy_kdf_level_parse(const char *s, enum buddy_kdf_level *out);

/* Creates a new identity and data key and writes them sealed to path (mode 0600, never
 * overwriting: BUDDY_E_EXISTS). pass may be NULL only with BUDDY_KDF_NONE. On success *out
 * (may be NULL) receives the secrets. */
int buddy_keys_create(const char *path, const char *pass, size_t passlen, enum buddy_kdf_level lvl,
		      struct buddy_secrets **out);

/* Writes a new key file at path (as buddy_keys_create: 0600, never overwriting) holding the
 * given identity and data key: `buddy restore` seals what a backup or a paper key brought. */
int buddy_keys_create_with(const char *path, const struct buddy_secrets *s, const char *pass,
			   size_t passlen, enum buddy_kdf_level lvl);

/* Secrets (sodium_malloc'd) from an Ed25519 seed and a data key. */
int buddy_secrets_from(const uint8_t seed[32], const uint8_t data_key[BUDDY_DATA_KEY_BYTES],
		       struct buddy_secrets **out);

/* The Argon2id opslimit and memlimit of a level (not BUDDY_KDF_NONE). */
int buddy_kdf_level_limits(enum buddy_kdf_level lvl, uint64_t *ops, uint64_t *mem);

/* Reads and checks the shape of the key file; no secret is touched. */
int buddy_keys_load(const char *path, struct buddy_keyfile *kf);

/* Derives the passphrase key (slow: Argon2id) and opens the sealed secrets. A wrong passphrase
 * is BUDDY_E_AUTH. pass is ignored for a key file without passphrase. */
int buddy_keys_unseal(const struct buddy_keyfile *kf, const char *pass, size_t passlen,
		      struct buddy_secrets **out);

/* Seals s under a new passphrase (or none) and atomically replaces the file at path
 * (temp file, fsync, rename, fsync of the directory). The journal is not touched. */
int buddy_keys_reseal(const char *path, const struct buddy_secrets *s, const char *pass,
		      size_t passlen, enum buddy_kdf_level lvl);

/* Wipes and frees. NULL is fine. */
void buddy_secrets_free(struct buddy_secrets *s);

/* Human-readable fingerprint of a public key, BUDDY_FINGERPRINT_LEN chars plus NUL. */
void buddy_keys_fingerprint(const uint8_t pk[BUDDY_PK_BYTES], char out[BUDDY_FINGERPRINT_LEN + 1]);

#endif
