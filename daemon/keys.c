/* The key file: one msgpack map holding the public key in clear and the identity seed and data
 * key sealed under a passphrase key (format: proto/KEYFILE.md).
 *
 *   wrap   = argon2id13(pass, salt, ops, mem)      or 32 zero bytes for kdf "none"
 *   ad     = "buddy-keys-v1" || pk || kdf || u64be(ops) || u64be(mem) || salt
 *   sealed = xchacha20poly1305(wrap, nonce, ad, seed || data_key)
 *
 * The file is read with a small strict reader rather than msgpack-c's unpacker: msgpack-c
 * allocates a container's elements from its declared count before reading them, so an 8-byte
 * file could make it reserve gigabytes. Writing uses msgpack-c. */
#include "buddy/keys.h"
#include "buddy/error.h"
#include "buddy/fdio.h"
#include "buddy/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_VERSION 1
#define KEYFILE_MAX	4096
#define SEED_BYTES	crypto_sign_SEEDBYTES
#define WRAP_KEY_BYTES	crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_BYTES	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define PLAIN_BYTES	(SEED_BYTES + BUDDY_DATA_KEY_BYTES)
#define SEALED_BYTES	(PLAIN_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
/* A tampered file must not make us allocate absurd memory. */
#define MEM_MAX (4ULL << 30)

#define AD_LABEL   "buddy-keys-v1"
#define FP_LABEL   "buddy-fingerprint-v1"
#define KDF_ARGON2 "argon2id13"
#define KDF_NONE   "none"
#define AD_MAX                                                                                     \
	(sizeof(AD_LABEL) - 1 + BUDDY_PK_BYTES + sizeof(KDF_ARGON2) - 1 + 8 + 8 + BUDDY_SALT_BYTES)
#define FP_HASH_BYTES 16

_Static_assert(sizeof(((struct buddy_keyfile *)0)->nonce) == NONCE_BYTES, "nonce size");
_Static_assert(sizeof(((struct buddy_keyfile *)0)->sealed) >= SEALED_BYTES, "sealed size");
_Static_assert(BUDDY_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(BUDDY_SK_BYTES == crypto_sign_SECRETKEYBYTES, "secret key size");
_Static_assert(BUDDY_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "public key size");
_Static_assert(BUDDY_FINGERPRINT_LEN == FP_HASH_BYTES * 2 + FP_HASH_BYTES / 2 - 1,
	       "fingerprint length");

static const struct {
	const char *name;
	unsigned long long ops;
	size_t mem;
} kdf_levels[] = {
	[BUDDY_KDF_INTERACTIVE] = {"interactive", crypto_pwhash_OPSLIMIT_INTERACTIVE,
				   crypto_pwhash_MEMLIMIT_INTERACTIVE},
	[BUDDY_KDF_MODERATE] = {"moderate", crypto_pwhash_OPSLIMIT_MODERATE,
				crypto_pwhash_MEMLIMIT_MODERATE},
	[BUDDY_KDF_SENSITIVE] = {"sensitive", crypto_pwhash_OPSLIMIT_SENSITIVE,
				 crypto_pwhash_MEMLIMIT_SENSITIVE},
};

int buddy_kdf_level_parse(const char *s, enum buddy_kdf_level *out)
{
	if (!s || !out)
		return BUDDY_E_INVALID;
	for (size_t i = BUDDY_KDF_INTERACTIVE; i < sizeof(kdf_levels) / sizeof(kdf_levels[0]);
	     i++) {
		if (strcmp(s, kdf_levels[i].name) == 0) {
			*out = (enum buddy_kdf_level)i;
			return 0;
		}
	}
	return BUDDY_E_INVALID;
}

void buddy_secrets_free(struct buddy_secrets *s)
{
	sodium_free(s); /* wipes before unmapping */
}

#define OPS_MAX 32

/* Checks the parts of a key file that bound what unsealing will cost and read. */
static int keyfile_check(const struct buddy_keyfile *kf)
{
	if (kf->sealed_len != SEALED_BYTES)
		return BUDDY_E_CORRUPT;
	if (!kf->has_passphrase)
		return 0;
	/* a tampered ops could make one unlock take hours: the sensitive level uses 4 */
	if (kf->opslimit < crypto_pwhash_OPSLIMIT_MIN || kf->opslimit > OPS_MAX)
		return BUDDY_E_CORRUPT;
	if (kf->memlimit < crypto_pwhash_MEMLIMIT_MIN || kf->memlimit > MEM_MAX ||
	    kf->memlimit > crypto_pwhash_memlimit_max())
		return BUDDY_E_CORRUPT;
	return 0;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* The additional data binds every clear field to the sealed secret, so a swapped public key or
 * a lowered KDF parameter fails to open instead of being trusted. */
static size_t build_ad(const struct buddy_keyfile *kf, uint8_t ad[AD_MAX])
{
	const char *kdf = kf->has_passphrase ? KDF_ARGON2 : KDF_NONE;
	size_t n = 0;

	memcpy(ad + n, AD_LABEL, sizeof(AD_LABEL) - 1);
	n += sizeof(AD_LABEL) - 1;
	memcpy(ad + n, kf->sign_pk, BUDDY_PK_BYTES);
	n += BUDDY_PK_BYTES;
	memcpy(ad + n, kdf, strlen(kdf));
	n += strlen(kdf);
	put_u64be(ad + n, kf->has_passphrase ? kf->opslimit : 0);
	n += 8;
	put_u64be(ad + n, kf->has_passphrase ? kf->memlimit : 0);
	n += 8;
	if (kf->has_passphrase) {
		memcpy(ad + n, kf->salt, BUDDY_SALT_BYTES);
		n += BUDDY_SALT_BYTES;
	}
	return n;
}

static int derive_wrap_key(const struct buddy_keyfile *kf, const char *pass, size_t passlen,
			   uint8_t *wrap)
{
	if (!kf->has_passphrase) {
		/* Integrity only: without a passphrase the file's mode is the protection. */
		sodium_memzero(wrap, WRAP_KEY_BYTES);
		return 0;
	}
	if (crypto_pwhash(wrap, WRAP_KEY_BYTES, pass, passlen, kf->salt, kf->opslimit,
			  (size_t)kf->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return BUDDY_E_NOMEM; /* the only failure left once parameters are checked */
	return 0;
}

static int check_pass(const char *pass, size_t passlen, enum buddy_kdf_level lvl)
{
	if (lvl == BUDDY_KDF_NONE)
		return 0;
	if ((unsigned)lvl >= sizeof(kdf_levels) / sizeof(kdf_levels[0]) || !kdf_levels[lvl].name)
		return BUDDY_E_INVALID;
	if (!pass || passlen == 0)
		return BUDDY_E_INVALID; /* an empty passphrase is spelt BUDDY_KDF_NONE */
	if (passlen > BUDDY_PASSPHRASE_MAX)
		return BUDDY_E_TOOBIG;
	return 0;
}

/* Fills kf with fresh salt and nonce and s sealed under pass. */
static int seal(struct buddy_keyfile *kf, const struct buddy_secrets *s, const char *pass,
		size_t passlen, enum buddy_kdf_level lvl)
{
	uint8_t *wrap = NULL, *plain = NULL;
	uint8_t ad[AD_MAX];
	size_t adlen;
	unsigned long long clen;
	int ret;

	ret = check_pass(pass, passlen, lvl);
	if (ret)
		return ret;

	memset(kf, 0, sizeof(*kf));
	memcpy(kf->sign_pk, s->sign_pk, BUDDY_PK_BYTES);
	if (lvl != BUDDY_KDF_NONE) {
		kf->has_passphrase = 1;
		kf->opslimit = kdf_levels[lvl].ops;
		kf->memlimit = kdf_levels[lvl].mem;
		randombytes_buf(kf->salt, BUDDY_SALT_BYTES);
	}
	randombytes_buf(kf->nonce, NONCE_BYTES);

	wrap = sodium_malloc(WRAP_KEY_BYTES);
	plain = sodium_malloc(PLAIN_BYTES);
	if (!wrap || !plain) {
		ret = BUDDY_E_NOMEM;
		goto out;
	}
	ret = derive_wrap_key(kf, pass, passlen, wrap);
	if (ret)
		goto out;

	memcpy(plain, s->sign_sk, SEED_BYTES); /* libsodium's secret key starts with the seed */
	memcpy(plain + SEED_BYTES, s->data_key, BUDDY_DATA_KEY_BYTES);
	adlen = build_ad(kf, ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(kf->sealed, &clen, plain, PLAIN_BYTES, ad, adlen,
						   NULL, kf->nonce, wrap);
	kf->sealed_len = (size_t)clen;
	ret = 0;
out:
	sodium_free(plain);
	sodium_free(wrap);
	return ret;
}

int buddy_keys_unseal(const struct buddy_keyfile *kf, const char *pass, size_t passlen,
		      struct buddy_secrets **out)
{
	struct buddy_secrets *s = NULL;
	uint8_t *wrap = NULL, *plain = NULL;
	uint8_t ad[AD_MAX];
	size_t adlen;
	int ret;

	if (!kf || !out)
		return BUDDY_E_INVALID;
	ret = keyfile_check(kf);
	if (ret)
		return ret;
	if (kf->has_passphrase) {
		if (!pass)
			return BUDDY_E_INVALID;
		if (passlen > BUDDY_PASSPHRASE_MAX)
			return BUDDY_E_TOOBIG;
	}

	wrap = sodium_malloc(WRAP_KEY_BYTES);
	plain = sodium_malloc(PLAIN_BYTES);
	s = sodium_malloc(sizeof(*s));
	if (!wrap || !plain || !s) {
		ret = BUDDY_E_NOMEM;
		goto out;
	}
	ret = derive_wrap_key(kf, pass, passlen, wrap);
	if (ret)
		goto out;

	adlen = build_ad(kf, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, kf->sealed,
						       kf->sealed_len, ad, adlen, kf->nonce,
						       wrap) != 0) {
		/* Without a passphrase the key is known: failure can only be damage. */
		ret = kf->has_passphrase ? BUDDY_E_AUTH : BUDDY_E_CORRUPT;
		goto out;
	}

	crypto_sign_seed_keypair(s->sign_pk, s->sign_sk, plain);
	if (crypto_verify_32(s->sign_pk, kf->sign_pk) != 0) {
		ret = BUDDY_E_CORRUPT;
		goto out;
	}
	memcpy(s->data_key, plain + SEED_BYTES, BUDDY_DATA_KEY_BYTES);

	*out = s;
	s = NULL;
	ret = 0;
out:
	buddy_secrets_free(s);
	sodium_free(plain);
	sodium_free(wrap);
	return ret;
}

/* Encoding. Key order is fixed ("v" first) so a reader can refuse another version before it
 * looks at anything else. */

static int pack_key(msgpack_packer *pk, const char *key)
{
	size_t len = strlen(key);

	if (msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, key, len))
		return -1;
	return 0;
}

static int pack_bin(msgpack_packer *pk, const char *key, const void *p, size_t len)
{
	if (pack_key(pk, key) || msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, p, len))
		return -1;
	return 0;
}

static int pack_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
	if (pack_key(pk, key) || msgpack_pack_uint64(pk, v))
		return -1;
	return 0;
}

static int encode(const struct buddy_keyfile *kf, msgpack_sbuffer *sb)
{
	const char *kdf = kf->has_passphrase ? KDF_ARGON2 : KDF_NONE;
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, kf->has_passphrase ? 8 : 5) ||
	    pack_uint(&pk, "v", KEYFILE_VERSION) ||
	    pack_bin(&pk, "pk", kf->sign_pk, BUDDY_PK_BYTES) || pack_key(&pk, "kdf") ||
	    msgpack_pack_str(&pk, strlen(kdf)) || msgpack_pack_str_body(&pk, kdf, strlen(kdf)))
		return BUDDY_E_NOMEM;
	if (kf->has_passphrase &&
	    (pack_uint(&pk, "ops", kf->opslimit) || pack_uint(&pk, "mem", kf->memlimit) ||
	     pack_bin(&pk, "salt", kf->salt, BUDDY_SALT_BYTES)))
		return BUDDY_E_NOMEM;
	if (pack_bin(&pk, "nonce", kf->nonce, NONCE_BYTES) ||
	    pack_bin(&pk, "sealed", kf->sealed, kf->sealed_len))
		return BUDDY_E_NOMEM;
	if (sb->size > KEYFILE_MAX)
		return BUDDY_E_INTERNAL;
	return 0;
}

/* Decoding: a cursor over the file's bytes that accepts only the msgpack types the format uses
 * (map, str, bin, unsigned int) in any of their widths. Nothing is allocated. */

struct cursor {
	const uint8_t *p;
	size_t n;
};

static int take(struct cursor *c, size_t len, const uint8_t **out)
{
	if (len > c->n)
		return BUDDY_E_CORRUPT;
	*out = c->p;
	c->p += len;
	c->n -= len;
	return 0;
}

static int take_be(struct cursor *c, size_t width, uint64_t *v)
{
	const uint8_t *p;

	if (take(c, width, &p))
		return BUDDY_E_CORRUPT;
	*v = 0;
	for (size_t i = 0; i < width; i++)
		*v = (*v << 8) | p[i];
	return 0;
}

static int take_tag(struct cursor *c, uint8_t *tag)
{
	const uint8_t *p;

	if (take(c, 1, &p))
		return BUDDY_E_CORRUPT;
	*tag = *p;
	return 0;
}

static int rd_map(struct cursor *c, uint64_t *count)
{
	uint8_t t;

	if (take_tag(c, &t))
		return BUDDY_E_CORRUPT;
	if (t >= 0x80 && t <= 0x8f) {
		*count = t & 0x0f;
		return 0;
	}
	if (t == 0xde)
		return take_be(c, 2, count);
	if (t == 0xdf)
		return take_be(c, 4, count);
	return BUDDY_E_CORRUPT;
}

static int rd_uint(struct cursor *c, uint64_t *v)
{
	uint8_t t;

	if (take_tag(c, &t))
		return BUDDY_E_CORRUPT;
	if (t <= 0x7f) {
		*v = t;
		return 0;
	}
	if (t >= 0xcc && t <= 0xcf) /* uint8, uint16, uint32, uint64 */
		return take_be(c, (size_t)1 << (t - 0xcc), v);
	return BUDDY_E_CORRUPT;
}

/* Reads a str (want_bin = 0) or a bin (want_bin = 1). */
static int rd_bytes(struct cursor *c, int want_bin, const uint8_t **p, size_t *len)
{
	size_t width;
	uint64_t n;
	uint8_t t;

	if (take_tag(c, &t))
		return BUDDY_E_CORRUPT;
	if (!want_bin && t >= 0xa0 && t <= 0xbf) {
		n = t & 0x1f;
	} else {
		if (!want_bin && t >= 0xd9 && t <= 0xdb) /* str8, str16, str32 */
			width = (size_t)1 << (t - 0xd9);
		else if (want_bin && t >= 0xc4 && t <= 0xc6) /* bin8, bin16, bin32 */
			width = (size_t)1 << (t - 0xc4);
		else
			return BUDDY_E_CORRUPT;
		if (take_be(c, width, &n))
			return BUDDY_E_CORRUPT;
	}
	if (n > c->n)
		return BUDDY_E_CORRUPT;
	*len = (size_t)n;
	return take(c, *len, p);
}

enum field { F_V, F_PK, F_KDF, F_OPS, F_MEM, F_SALT, F_NONCE, F_SEALED, F_COUNT };
enum kind { K_UINT, K_STR, K_BIN };

/* The keys every file has, and those only a file with a passphrase has (bit sets of fields). */
#define KEYS_BASE   (1u << F_V | 1u << F_PK | 1u << F_KDF | 1u << F_NONCE | 1u << F_SEALED)
#define KEYS_ARGON2 (1u << F_OPS | 1u << F_MEM | 1u << F_SALT)

static const struct {
	const char *name;
	enum kind kind;
	size_t len; /* exact length of a str or bin; 0: checked elsewhere */
} fields[F_COUNT] = {
	[F_V] = {"v", K_UINT, 0},
	[F_PK] = {"pk", K_BIN, BUDDY_PK_BYTES},
	[F_KDF] = {"kdf", K_STR, 0},
	[F_OPS] = {"ops", K_UINT, 0},
	[F_MEM] = {"mem", K_UINT, 0},
	[F_SALT] = {"salt", K_BIN, BUDDY_SALT_BYTES},
	[F_NONCE] = {"nonce", K_BIN, NONCE_BYTES},
	[F_SEALED] = {"sealed", K_BIN, SEALED_BYTES},
};

struct value {
	uint64_t u;
	const uint8_t *p;
	size_t len;
};

static int field_lookup(const uint8_t *key, size_t len)
{
	for (int i = 0; i < F_COUNT; i++)
		if (strlen(fields[i].name) == len && memcmp(fields[i].name, key, len) == 0)
			return i;
	return -1;
}

static int rd_value(struct cursor *c, enum kind kind, struct value *v)
{
	if (kind == K_UINT)
		return rd_uint(c, &v->u);
	return rd_bytes(c, kind == K_BIN, &v->p, &v->len);
}

static int str_eq(const struct value *v, const char *s)
{
	return v->len == strlen(s) && memcmp(v->p, s, v->len) == 0;
}

static int decode(const uint8_t *buf, size_t len, struct buddy_keyfile *out)
{
	struct cursor c = {buf, len};
	struct value vals[F_COUNT];
	struct buddy_keyfile kf;
	unsigned seen = 0;
	uint64_t count;
	const uint8_t *key;
	size_t keylen;
	int f;

	memset(&kf, 0, sizeof(kf));
	memset(vals, 0, sizeof(vals));
	if (rd_map(&c, &count) || count == 0)
		return BUDDY_E_CORRUPT;
	for (uint64_t i = 0; i < count; i++) {
		if (rd_bytes(&c, 0, &key, &keylen))
			return BUDDY_E_CORRUPT;
		f = field_lookup(key, keylen);
		if (f < 0 || (seen & (1u << f)) || (i == 0) != (f == F_V))
			return BUDDY_E_CORRUPT; /* unknown, repeated, or "v" not first */
		if (rd_value(&c, fields[f].kind, &vals[f]))
			return BUDDY_E_CORRUPT;
		if (fields[f].len && vals[f].len != fields[f].len)
			return BUDDY_E_CORRUPT;
		seen |= 1u << f;
		/* Another version may lay out everything after "v" differently. */
		if (f == F_V && vals[F_V].u != KEYFILE_VERSION)
			return BUDDY_E_VERSION;
	}
	if (c.n != 0)
		return BUDDY_E_CORRUPT;

	if (str_eq(&vals[F_KDF], KDF_ARGON2) && seen == (KEYS_BASE | KEYS_ARGON2)) {
		kf.has_passphrase = 1;
		kf.opslimit = vals[F_OPS].u;
		kf.memlimit = vals[F_MEM].u;
		memcpy(kf.salt, vals[F_SALT].p, BUDDY_SALT_BYTES);
	} else if (!(str_eq(&vals[F_KDF], KDF_NONE) && seen == KEYS_BASE)) {
		return BUDDY_E_CORRUPT;
	}
	memcpy(kf.sign_pk, vals[F_PK].p, BUDDY_PK_BYTES);
	memcpy(kf.nonce, vals[F_NONCE].p, NONCE_BYTES);
	memcpy(kf.sealed, vals[F_SEALED].p, SEALED_BYTES);
	kf.sealed_len = SEALED_BYTES;
	if (keyfile_check(&kf))
		return BUDDY_E_CORRUPT;

	*out = kf;
	return 0;
}

int buddy_keys_load(const char *path, struct buddy_keyfile *kf)
{
	uint8_t buf[KEYFILE_MAX + 1];
	struct stat st;
	size_t len = 0;
	ssize_t r;
	int fd, ret;

	if (!path || !kf)
		return BUDDY_E_INVALID;
	/* O_NONBLOCK: a FIFO planted at the path must not hang the daemon in open(). It changes
	 * nothing for a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return buddy_err_from_errno(errno);
	if (fstat(fd, &st) != 0) {
		ret = buddy_err_from_errno(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = BUDDY_E_CORRUPT;
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		ret = BUDDY_E_PERM;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > KEYFILE_MAX) {
		ret = BUDDY_E_CORRUPT;
		goto out;
	}
	/* Read one byte more than allowed so a file that grew since fstat is still refused. */
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = buddy_err_from_errno(errno);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	ret = len > KEYFILE_MAX ? BUDDY_E_CORRUPT : decode(buf, len, kf);
out:
	close(fd);
	return ret;
}

/* Writing. */

/* Makes a rename or a creation in path's directory durable. */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, ret = 0;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return BUDDY_E_NOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = buddy_err_from_errno(errno);
		goto out;
	}
	/* Some file systems cannot fsync a directory (EINVAL); they have nothing to flush. */
	if (fsync(fd) != 0 && errno != EINVAL)
		ret = buddy_err_from_errno(errno);
	close(fd);
out:
	free(dir);
	return ret;
}

/* Creates path (never replacing anything), writes buf, fsyncs. On failure nothing is left. */
static int write_new_file(const char *path, const msgpack_sbuffer *sb)
{
	int fd, ret;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return buddy_err_from_errno(errno);
	ret = buddy_write_all(fd, (const uint8_t *)sb->data, sb->size);
	if (!ret && fsync(fd) != 0)
		ret = buddy_err_from_errno(errno);
	if (close(fd) != 0 && !ret)
		ret = buddy_err_from_errno(errno);
	if (ret)
		unlink(path);
	return ret;
}

int buddy_secrets_from(const uint8_t seed[32], const uint8_t data_key[BUDDY_DATA_KEY_BYTES],
		       struct buddy_secrets **out)
{
	struct buddy_secrets *s = sodium_malloc(sizeof(*s));

	if (!s)
		return BUDDY_E_NOMEM;
	crypto_sign_seed_keypair(s->sign_pk, s->sign_sk, seed);
	memcpy(s->data_key, data_key, BUDDY_DATA_KEY_BYTES);
	*out = s;
	return 0;
}

int buddy_kdf_level_limits(enum buddy_kdf_level lvl, uint64_t *ops, uint64_t *mem)
{
	if (lvl < BUDDY_KDF_INTERACTIVE || lvl > BUDDY_KDF_SENSITIVE)
		return BUDDY_E_INVALID;
	*ops = kdf_levels[lvl].ops;
	*mem = kdf_levels[lvl].mem;
	return 0;
}

int buddy_keys_create_with(const char *path, const struct buddy_secrets *s, const char *pass,
			   size_t passlen, enum buddy_kdf_level lvl)
{
	struct buddy_keyfile kf;
	msgpack_sbuffer sb;
	struct stat st;
	int ret;

	if (!path || !s)
		return BUDDY_E_INVALID;
	ret = check_pass(pass, passlen, lvl);
	if (ret)
		return ret;
	/* Fail fast, before seconds of Argon2id; O_EXCL below is the real guard. */
	if (lstat(path, &st) == 0)
		return BUDDY_E_EXISTS;
	msgpack_sbuffer_init(&sb);
	ret = seal(&kf, s, pass, passlen, lvl);
	if (ret)
		goto out;
	ret = encode(&kf, &sb);
	if (ret)
		goto out;
	ret = write_new_file(path, &sb);
	if (ret)
		goto out;
	ret = fsync_parent(path);
	if (ret)
		/* The caller sees a failure, so leave no key file it does not know about. */
		unlink(path);
out:
	msgpack_sbuffer_destroy(&sb);
	return ret;
}

int buddy_keys_create(const char *path, const char *pass, size_t passlen, enum buddy_kdf_level lvl,
		      struct buddy_secrets **out)
{
	struct buddy_secrets *s = NULL;
	uint8_t *plain = NULL;
	struct stat st;
	int ret;

	if (!path)
		return BUDDY_E_INVALID;
	ret = check_pass(pass, passlen, lvl);
	if (ret)
		return ret;
	/* Fail fast, before seconds of Argon2id; O_EXCL below is the real guard. */
	if (lstat(path, &st) == 0)
		return BUDDY_E_EXISTS;

	plain = sodium_malloc(PLAIN_BYTES);
	if (!plain)
		return BUDDY_E_NOMEM;
	randombytes_buf(plain, PLAIN_BYTES);
	ret = buddy_secrets_from(plain, plain + SEED_BYTES, &s);
	if (ret)
		goto out;
	ret = buddy_keys_create_with(path, s, pass, passlen, lvl);
	if (ret)
		goto out;
	if (out) {
		*out = s;
		s = NULL;
	}
out:
	buddy_secrets_free(s);
	sodium_free(plain);
	return ret;
}

int buddy_keys_reseal(const char *path, const struct buddy_secrets *s, const char *pass,
		      size_t passlen, enum buddy_kdf_level lvl)
{
	struct buddy_keyfile kf;
	msgpack_sbuffer sb;
	char *tmp = NULL;
	size_t plen;
	int ret;

	if (!path || !s)
		return BUDDY_E_INVALID;
	/* Secrets that do not agree with themselves would seal into a file that never opens. */
	if (crypto_verify_32(s->sign_pk, s->sign_sk + SEED_BYTES) != 0)
		return BUDDY_E_INVALID;
	msgpack_sbuffer_init(&sb);
	ret = seal(&kf, s, pass, passlen, lvl);
	if (ret)
		goto out;
	ret = encode(&kf, &sb);
	if (ret)
		goto out;

	plen = strlen(path);
	tmp = malloc(plen + sizeof(".tmp"));
	if (!tmp) {
		ret = BUDDY_E_NOMEM;
		goto out;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", sizeof(".tmp"));

	/* A PATH.tmp can only be left over from a reseal that crashed. */
	if (unlink(tmp) != 0 && errno != ENOENT) {
		ret = buddy_err_from_errno(errno);
		goto out;
	}
	ret = write_new_file(tmp, &sb);
	if (ret)
		goto out;
	if (rename(tmp, path) != 0) {
		ret = buddy_err_from_errno(errno);
		unlink(tmp);
		goto out;
	}
	/* Past the rename the new file is in place; a failure here only means it may not have
	 * reached the disk yet. */
	ret = fsync_parent(path);
out:
	free(tmp);
	msgpack_sbuffer_destroy(&sb);
	return ret;
}

void buddy_keys_fingerprint(const uint8_t pk[BUDDY_PK_BYTES], char out[BUDDY_FINGERPRINT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	crypto_generichash_state st;
	uint8_t h[FP_HASH_BYTES];
	size_t n = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)FP_LABEL, sizeof(FP_LABEL) - 1);
	crypto_generichash_update(&st, pk, BUDDY_PK_BYTES);
	crypto_generichash_final(&st, h, sizeof(h));
	for (size_t i = 0; i < sizeof(h); i++) {
		if (i && i % 2 == 0)
			out[n++] = ' ';
		out[n++] = hex[h[i] >> 4];
		out[n++] = hex[h[i] & 0x0f];
	}
	out[n] = '\0';
}
