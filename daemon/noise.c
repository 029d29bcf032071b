/* The Noise Protocol Framework, revision 34, on libsodium. The handshake we use:
 *
 *   Noise_XX_25519_ChaChaPoly_BLAKE2b
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 *
 * and, so that the cacophony vectors replay, the same code runs NN, KK and IK from the table
 * below, with pskN modifiers and SHA256/SHA512 in place of BLAKE2b. Names follow the spec:
 * CipherState (struct cipher), SymmetricState (struct symmetric), HandshakeState (struct
 * buddy_noise_hs). A message is processed on hs->work, a copy of hs->cur, and committed only
 * when every token and the payload have passed; both live in sodium_malloc memory so no key
 * material is left on the stack between calls. */
#include "buddy/noise.h"
#include "buddy/error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#define DHLEN		  crypto_scalarmult_BYTES
#define KEYLEN		  crypto_aead_chacha20poly1305_ietf_KEYBYTES
#define TAGLEN		  crypto_aead_chacha20poly1305_ietf_ABYTES
#define NONCELEN	  crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define HASHLEN_MAX	  64
#define BLOCKLEN_MAX	  128
#define NONCE_MAX	  UINT64_MAX /* reserved by the spec: never used for a message */
#define PROTOCOL_NAME_MAX 255	     /* the spec's limit on protocol names */
#define MSGS_MAX	  3
#define TOKENS_MAX	  8 /* tokens of one message, psk tokens and the end marker included */

_Static_assert(DHLEN == BUDDY_NOISE_KEY_BYTES, "X25519 key size");
_Static_assert(KEYLEN == BUDDY_NOISE_KEY_BYTES, "PSK and cipher key size");
_Static_assert(TAGLEN == BUDDY_NOISE_TAG_BYTES, "tag size");
_Static_assert(HASHLEN_MAX == BUDDY_NOISE_HASH_MAX, "hash size");

enum token { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS, TOK_PSK };

/* Handshake patterns (spec section 7). pre[0] is the initiator's pre-message, pre[1] the
 * responder's; message i is sent by the initiator when i is even. */
static const struct pattern {
	const char *name;
	uint8_t pre[2][2];
	unsigned nmsgs;
	uint8_t msgs[MSGS_MAX][TOKENS_MAX];
} patterns[] = {
	{"NN", {{0}, {0}}, 2, {{TOK_E}, {TOK_E, TOK_EE}}},
	{"KK", {{TOK_S}, {TOK_S}}, 2, {{TOK_E, TOK_ES, TOK_SS}, {TOK_E, TOK_EE, TOK_SE}}},
	{"IK", {{0}, {TOK_S}}, 2, {{TOK_E, TOK_ES, TOK_S, TOK_SS}, {TOK_E, TOK_EE, TOK_SE}}},
	{"XX", {{0}, {0}}, 3, {{TOK_E}, {TOK_E, TOK_EE, TOK_S, TOK_ES}, {TOK_S, TOK_SE}}},
};

struct iov {
	const uint8_t *p;
	size_t len;
};

/* HASH(parts...) */
typedef void hash_fn(uint8_t *out, const struct iov *v, size_t n);

struct hash {
	const char *name;
	size_t len;   /* HASHLEN */
	size_t block; /* BLOCKLEN, for HMAC */
	hash_fn *fn;
};

struct cipher {
	uint8_t k[KEYLEN];
	uint64_t n;
	bool has_k;
};

struct symmetric {
	uint8_t ck[HASHLEN_MAX];
	uint8_t h[HASHLEN_MAX];
	struct cipher c;
};

/* What one message may change. */
struct hs_vars {
	struct symmetric ss;
	uint8_t e[DHLEN], e_pub[DHLEN];
	uint8_t re[DHLEN], rs[DHLEN];
	bool has_e, has_re, has_rs;
	unsigned msg;	   /* index of the next handshake message */
	unsigned psk_next; /* index of the next PSK to mix in */
};

struct buddy_noise_hs {
	const struct hash *hash;
	enum buddy_noise_role role;
	enum buddy_noise_state state;
	unsigned nmsgs;
	uint8_t msgs[MSGS_MAX][TOKENS_MAX]; /* the pattern with its psk tokens inserted */
	bool psk_mode;
	uint8_t s[DHLEN], s_pub[DHLEN];
	bool has_s;
	uint8_t fixed_e[DHLEN];
	bool has_fixed_e;
	uint8_t psks[BUDDY_NOISE_PSKS_MAX][KEYLEN];
	unsigned npsks;
	struct hs_vars cur, work;
};

struct buddy_noise_cs {
	struct cipher c;
};

/* Guarded blocks, kept for reuse.
 *
 * Every handshake state and cipher state holds keys, so it lives in sodium_malloc memory
 * (guard pages, mlock). But each sodium_malloc is an mmap, two mprotects and an mlock, and each
 * sodium_free the reverse plus a TLB shootdown on every core the process runs on: profiled on a
 * daemon serving handshakes, that kernel work was close to a third of its time. So freed blocks
 * of these two fixed sizes are wiped and kept (up to POOL_MAX each) for the next handshake: the
 * memory stays guarded and locked, and holds nothing between uses.
 *
 * A pool never holds more blocks than were once in use together. 64 kept the handshake states
 * (at most BUDDY_PEER_UNAUTH_MAX in flight) but not the cipher states, two per session: a
 * daemon serving 64 handshakes at once (tests/bench/bench_peer.c) still made ~0.25 sodium_malloc
 * and sodium_free a handshake (perf probe), as its session count swung past 32 between loop
 * turns. 256 cipher states are 128 sessions, at most 2 MiB kept after such a burst. */
#define POOL_MAX 256

struct pool {
	void *free[POOL_MAX];
	unsigned n;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool hs_pool, cs_pool;

static void *pool_get(struct pool *p, size_t size)
{
	void *b = NULL;

	pthread_mutex_lock(&pool_lock);
	if (p->n)
		b = p->free[--p->n];
	pthread_mutex_unlock(&pool_lock);
	return b ? b : sodium_malloc(size);
}

static void pool_put(struct pool *p, void *b, size_t size)
{
	if (!b)
		return;
	sodium_memzero(b, size);
	pthread_mutex_lock(&pool_lock);
	if (p->n < POOL_MAX) {
		p->free[p->n++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	sodium_free(b); /* the pool is full (sodium_free(NULL) does nothing) */
}

/* Hash functions */

static void blake2b(uint8_t *out, const struct iov *v, size_t n)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 64);
	for (size_t i = 0; i < n; i++)
		if (v[i].len)
			crypto_generichash_update(&st, v[i].p, v[i].len);
	crypto_generichash_final(&st, out, 64);
	sodium_memzero(&st, sizeof(st));
}

static void sha256(uint8_t *out, const struct iov *v, size_t n)
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < n; i++)
		if (v[i].len)
			crypto_hash_sha256_update(&st, v[i].p, v[i].len);
	crypto_hash_sha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static void sha512(uint8_t *out, const struct iov *v, size_t n)
{
	crypto_hash_sha512_state st;

	crypto_hash_sha512_init(&st);
	for (size_t i = 0; i < n; i++)
		if (v[i].len)
			crypto_hash_sha512_update(&st, v[i].p, v[i].len);
	crypto_hash_sha512_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static const struct hash hashes[] = {
	{"BLAKE2b", 64, 128, blake2b},
	{"SHA256", 32, 64, sha256},
	{"SHA512", 64, 128, sha512},
};

static const struct hash *find_hash(const char *name)
{
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (strcmp(name, hashes[i].name) == 0)
			return &hashes[i];
	return NULL;
}

/* HMAC-HASH(key, data) as RFC 2104; Noise keys are never longer than HASHLEN <= BLOCKLEN. */
static void hmac(const struct hash *H, uint8_t *out, const uint8_t *key, size_t keylen,
		 const struct iov *data, size_t n)
{
	uint8_t pad[BLOCKLEN_MAX], inner[HASHLEN_MAX];
	struct iov v[3]; /* the pad and at most two parts of data (HKDF's T || byte) */

	memset(pad, 0, H->block);
	memcpy(pad, key, keylen);
	for (size_t i = 0; i < H->block; i++)
		pad[i] ^= 0x36;
	v[0] = (struct iov){pad, H->block};
	for (size_t i = 0; i < n; i++)
		v[1 + i] = data[i];
	H->fn(inner, v, 1 + n);

	for (size_t i = 0; i < H->block; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	v[1] = (struct iov){inner, H->len};
	H->fn(out, v, 2);

	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

/* HKDF(chaining_key, input_key_material, 2 or 3): out3 may be NULL. out1 may alias ck. */
static void hkdf(const struct hash *H, const uint8_t *ck, const uint8_t *ikm, size_t ikmlen,
		 uint8_t *out1, uint8_t *out2, uint8_t *out3)
{
	static const uint8_t one = 1, two = 2, three = 3;
	uint8_t tk[HASHLEN_MAX];

	hmac(H, tk, ck, H->len, &(struct iov){ikm, ikmlen}, 1);
	hmac(H, out1, tk, H->len, &(struct iov){&one, 1}, 1);
	hmac(H, out2, tk, H->len, (struct iov[]){{out1, H->len}, {&two, 1}}, 2);
	if (out3)
		hmac(H, out3, tk, H->len, (struct iov[]){{out2, H->len}, {&three, 1}}, 2);
	sodium_memzero(tk, sizeof(tk));
}

/* CipherState */

static void init_key(struct cipher *c, const uint8_t *k)
{
	memcpy(c->k, k, KEYLEN); /* HASHLEN 64: the first 32 bytes */
	c->n = 0;
	c->has_k = true;
}

/* 4 zero bytes, then the counter little-endian (spec section 12.3). */
static void chacha_nonce(uint8_t out[NONCELEN], uint64_t n)
{
	memset(out, 0, 4);
	for (int i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(n >> (8 * i));
}

/* EncryptWithAd: out receives len + TAGLEN bytes, or len without a key. */
static int encrypt_with_ad(struct cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *in,
			   size_t len, uint8_t *out)
{
	uint8_t nonce[NONCELEN];

	if (!c->has_k) {
		if (len)
			memmove(out, in, len);
		return 0;
	}
	if (c->n == NONCE_MAX)
		return BUDDY_E_INVALID;
	chacha_nonce(nonce, c->n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen, NULL, nonce, c->k);
	c->n++;
	return 0;
}

/* DecryptWithAd: len includes the tag when there is a key; the nonce advances only on success. */
static int decrypt_with_ad(struct cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *in,
			   size_t len, uint8_t *out)
{
	uint8_t nonce[NONCELEN];

	if (!c->has_k) {
		if (len)
			memmove(out, in, len);
		return 0;
	}
	if (len < TAGLEN)
		return BUDDY_E_INVALID;
	if (c->n == NONCE_MAX)
		return BUDDY_E_INVALID;
	chacha_nonce(nonce, c->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len, ad, adlen, nonce,
						      c->k) != 0)
		return BUDDY_E_AUTH;
	c->n++;
	return 0;
}

/* REKEY(k) = ENCRYPT(k, maxnonce, zerolen, zeros), cut to 32 bytes (spec section 4.2). */
static void rekey(struct cipher *c)
{
	static const uint8_t zeros[KEYLEN];
	uint8_t nonce[NONCELEN], out[KEYLEN + TAGLEN];

	chacha_nonce(nonce, NONCE_MAX);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, KEYLEN, NULL, 0, NULL, nonce,
						  c->k);
	memcpy(c->k, out, KEYLEN);
	sodium_memzero(out, sizeof(out));
}

/* SymmetricState */

static void initialize_symmetric(const struct hash *H, struct symmetric *ss, const char *name)
{
	size_t len = strlen(name);

	memset(ss, 0, sizeof(*ss));
	if (len <= H->len)
		memcpy(ss->h, name, len); /* zero-padded to HASHLEN */
	else
		H->fn(ss->h, &(struct iov){(const uint8_t *)name, len}, 1);
	memcpy(ss->ck, ss->h, H->len);
}

static void mix_hash(const struct hash *H, struct symmetric *ss, const uint8_t *data, size_t len)
{
	H->fn(ss->h, (struct iov[]){{ss->h, H->len}, {data, len}}, 2);
}

static void mix_key(const struct hash *H, struct symmetric *ss, const uint8_t *ikm, size_t len)
{
	uint8_t tk[HASHLEN_MAX];

	hkdf(H, ss->ck, ikm, len, ss->ck, tk, NULL);
	init_key(&ss->c, tk);
	sodium_memzero(tk, sizeof(tk));
}

static void mix_key_and_hash(const struct hash *H, struct symmetric *ss, const uint8_t *ikm,
			     size_t len)
{
	uint8_t th[HASHLEN_MAX], tk[HASHLEN_MAX];

	hkdf(H, ss->ck, ikm, len, ss->ck, th, tk);
	mix_hash(H, ss, th, H->len);
	init_key(&ss->c, tk);
	sodium_memzero(th, sizeof(th));
	sodium_memzero(tk, sizeof(tk));
}

/* MixKey(DH(priv, pub)). An all-zero result means a low-order public key: refuse it rather
 * than mix a value the peer chose. */
static int mix_dh(const struct hash *H, struct symmetric *ss, const uint8_t *priv,
		  const uint8_t *pub)
{
	uint8_t dh[DHLEN];
	int ret = 0;

	if (crypto_scalarmult(dh, priv, pub) != 0 || sodium_is_zero(dh, DHLEN)) {
		ret = BUDDY_E_AUTH;
		goto out;
	}
	mix_key(H, ss, dh, DHLEN);
out:
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

/* out receives len (+ TAGLEN once there is a key) bytes; *outlen says which. */
static int encrypt_and_hash(const struct hash *H, struct symmetric *ss, const uint8_t *in,
			    size_t len, uint8_t *out, size_t *outlen)
{
	size_t clen = len + (ss->c.has_k ? TAGLEN : 0);
	int ret;

	ret = encrypt_with_ad(&ss->c, ss->h, H->len, in, len, out);
	if (ret)
		return ret;
	mix_hash(H, ss, out, clen);
	*outlen = clen;
	return 0;
}

static int decrypt_and_hash(const struct hash *H, struct symmetric *ss, const uint8_t *in,
			    size_t len, uint8_t *out)
{
	int ret;

	ret = decrypt_with_ad(&ss->c, ss->h, H->len, in, len, out);
	if (ret)
		return ret;
	mix_hash(H, ss, in, len);
	return 0;
}

static void split(const struct hash *H, struct symmetric *ss, struct cipher *c1, struct cipher *c2)
{
	uint8_t k1[HASHLEN_MAX], k2[HASHLEN_MAX];

	hkdf(H, ss->ck, NULL, 0, k1, k2, NULL);
	init_key(c1, k1);
	init_key(c2, k2);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
}

/* HandshakeState */

static bool is_initiator(const struct buddy_noise_hs *hs)
{
	return hs->role == BUDDY_NOISE_INITIATOR;
}

static bool our_turn(const struct buddy_noise_hs *hs, unsigned msg)
{
	return (msg % 2 == 0) == is_initiator(hs);
}

/* The DH tokens: the first letter names the initiator's key, the second the responder's. */
static int dh_token(const struct buddy_noise_hs *hs, struct hs_vars *v, uint8_t tok)
{
	bool init = is_initiator(hs);
	const uint8_t *priv = NULL, *pub = NULL;

	switch (tok) {
	case TOK_EE: /* ee */
		if (v->has_e && v->has_re)
			priv = v->e, pub = v->re;
		break;
	case TOK_ES: /* es */
		if (init && v->has_e && v->has_rs)
			priv = v->e, pub = v->rs;
		else if (!init && hs->has_s && v->has_re)
			priv = hs->s, pub = v->re;
		break;
	case TOK_SE: /* se */
		if (init && hs->has_s && v->has_re)
			priv = hs->s, pub = v->re;
		else if (!init && v->has_e && v->has_rs)
			priv = v->e, pub = v->rs;
		break;
	case TOK_SS: /* ss */
		if (hs->has_s && v->has_rs)
			priv = hs->s, pub = v->rs;
		break;
	}
	if (!priv)
		return BUDDY_E_INTERNAL; /* the pattern table and the key checks disagree */
	return mix_dh(hs->hash, &v->ss, priv, pub);
}

/* Bytes a message adds around its payload, from the tokens and whether a key is set. */
static size_t message_overhead(const struct buddy_noise_hs *hs, const struct hs_vars *v)
{
	bool keyed = v->ss.c.has_k;
	size_t n = 0;

	for (const uint8_t *t = hs->msgs[v->msg]; *t != TOK_END; t++) {
		switch (*t) {
		case TOK_E:
			n += DHLEN;
			keyed |= hs->psk_mode;
			break;
		case TOK_S:
			n += DHLEN + (keyed ? TAGLEN : 0);
			break;
		default:
			keyed = true;
			break;
		}
	}
	return n + (keyed ? TAGLEN : 0);
}

static int generate_ephemeral(struct buddy_noise_hs *hs, struct hs_vars *v)
{
	if (hs->has_fixed_e)
		memcpy(v->e, hs->fixed_e, DHLEN);
	else
		randombytes_buf(v->e, DHLEN);
	v->has_e = true;
	return crypto_scalarmult_base(v->e_pub, v->e) == 0 ? 0 : BUDDY_E_INTERNAL;
}

/* The one place that wipes a handshake's secrets; h and the remote keys are public. */
static void wipe_secrets(struct buddy_noise_hs *hs)
{
	sodium_memzero(&hs->work, sizeof(hs->work));
	sodium_memzero(hs->cur.ss.ck, sizeof(hs->cur.ss.ck));
	sodium_memzero(&hs->cur.ss.c, sizeof(hs->cur.ss.c));
	sodium_memzero(hs->cur.e, sizeof(hs->cur.e));
	sodium_memzero(hs->s, sizeof(hs->s));
	sodium_memzero(hs->fixed_e, sizeof(hs->fixed_e));
	sodium_memzero(hs->psks, sizeof(hs->psks));
}

static void commit(struct buddy_noise_hs *hs)
{
	hs->cur = hs->work;
	hs->cur.msg++;
	if (hs->cur.msg == hs->nmsgs)
		hs->state = BUDDY_NOISE_DONE;
	else
		hs->state = our_turn(hs, hs->cur.msg) ? BUDDY_NOISE_WRITE : BUDDY_NOISE_READ;
	sodium_memzero(&hs->work, sizeof(hs->work));
}

static void fail(struct buddy_noise_hs *hs)
{
	hs->state = BUDDY_NOISE_FAILED;
	wipe_secrets(hs);
}

int buddy_noise_write_message(struct buddy_noise_hs *hs, const uint8_t *payload, size_t len,
			      uint8_t *out, size_t outcap, size_t *outlen)
{
	struct hs_vars *v;
	size_t pos = 0, n, overhead;
	int ret = 0;

	if (!hs || (!payload && len) || !out || !outlen || hs->state != BUDDY_NOISE_WRITE)
		return BUDDY_E_INVALID;
	overhead = message_overhead(hs, &hs->cur);
	if (len > BUDDY_NOISE_MSG_MAX - overhead || len + overhead > outcap)
		return BUDDY_E_TOOBIG;

	v = &hs->work;
	*v = hs->cur;
	for (const uint8_t *t = hs->msgs[v->msg]; *t != TOK_END && !ret; t++) {
		switch (*t) {
		case TOK_E: /* e */
			ret = generate_ephemeral(hs, v);
			if (ret)
				break;
			memcpy(out + pos, v->e_pub, DHLEN);
			pos += DHLEN;
			mix_hash(hs->hash, &v->ss, v->e_pub, DHLEN);
			if (hs->psk_mode)
				mix_key(hs->hash, &v->ss, v->e_pub, DHLEN);
			break;
		case TOK_S: /* s */
			ret = encrypt_and_hash(hs->hash, &v->ss, hs->s_pub, DHLEN, out + pos, &n);
			if (ret)
				break; /* n is not set */
			pos += n;
			break;
		case TOK_PSK: /* psk */
			mix_key_and_hash(hs->hash, &v->ss, hs->psks[v->psk_next++], KEYLEN);
			break;
		default: /* ee, es, se, ss */
			ret = dh_token(hs, v, *t);
			break;
		}
	}
	if (!ret)
		ret = encrypt_and_hash(hs->hash, &v->ss, payload, len, out + pos, &n);
	if (ret) {
		fail(hs);
		return ret;
	}
	*outlen = pos + n;
	commit(hs);
	return 0;
}

int buddy_noise_read_message(struct buddy_noise_hs *hs, const uint8_t *msg, size_t len,
			     uint8_t *payload_out, size_t cap, size_t *payload_len)
{
	static const uint8_t empty[1];
	uint8_t scratch[1]; /* libsodium wants somewhere to write an empty payload */
	struct hs_vars *v;
	size_t pos = 0, n, overhead;
	int ret = 0;

	if (!hs || (!msg && len) || (!payload_out && cap) || !payload_len ||
	    hs->state != BUDDY_NOISE_READ)
		return BUDDY_E_INVALID;
	/* an empty message may come as NULL: never hand that to memcpy or libsodium, even with a
	 * length of 0 (len < overhead refuses it below whenever a token would read from it) */
	if (!msg)
		msg = empty;
	overhead = message_overhead(hs, &hs->cur);
	if (len > BUDDY_NOISE_MSG_MAX) {
		ret = BUDDY_E_TOOBIG;
		goto bad;
	}
	if (len < overhead) {
		ret = BUDDY_E_INVALID;
		goto bad;
	}
	if (len - overhead > cap)
		return BUDDY_E_TOOBIG; /* the caller's buffer, not the peer's fault: may retry */

	v = &hs->work;
	*v = hs->cur;
	for (const uint8_t *t = hs->msgs[v->msg]; *t != TOK_END && !ret; t++) {
		switch (*t) {
		case TOK_E: /* e */
			memcpy(v->re, msg + pos, DHLEN);
			v->has_re = true;
			pos += DHLEN;
			mix_hash(hs->hash, &v->ss, v->re, DHLEN);
			if (hs->psk_mode)
				mix_key(hs->hash, &v->ss, v->re, DHLEN);
			break;
		case TOK_S: /* s */
			n = DHLEN + (v->ss.c.has_k ? TAGLEN : 0);
			ret = decrypt_and_hash(hs->hash, &v->ss, msg + pos, n, v->rs);
			v->has_rs = true;
			pos += n;
			break;
		case TOK_PSK: /* psk */
			mix_key_and_hash(hs->hash, &v->ss, hs->psks[v->psk_next++], KEYLEN);
			break;
		default: /* ee, es, se, ss */
			ret = dh_token(hs, v, *t);
			break;
		}
	}
	if (!ret) {
		n = len - pos - (v->ss.c.has_k ? TAGLEN : 0);
		ret = decrypt_and_hash(hs->hash, &v->ss, msg + pos, len - pos,
				       payload_out ? payload_out : scratch);
	}
	if (ret)
		goto bad;
	*payload_len = n;
	commit(hs);
	return 0;
bad:
	fail(hs);
	return ret;
}

static size_t count_tokens(const uint8_t *toks)
{
	size_t n = 0;

	while (toks[n] != TOK_END)
		n++;
	return n;
}

/* The next sep-delimited field of *s (NULL after the last), keeping empty fields so that a
 * malformed name is refused rather than read leniently. */
static char *next_field(char **s, char sep)
{
	char *f = *s, *end;

	if (!f)
		return NULL;
	end = strchr(f, sep);
	if (end)
		*end = '\0';
	*s = end ? end + 1 : NULL;
	return f;
}

/* Splits "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b" and builds the token table: the pattern with
 * a psk token at the start of the first message (psk0) or at the end of message N (pskN). */
static int parse_protocol(struct buddy_noise_hs *hs, const char *name, const struct pattern **patp)
{
	char buf[PROTOCOL_NAME_MAX + 1], *rest = buf, *field[5], *mods, *m;
	const struct pattern *pat = NULL;
	size_t baselen, namelen = strlen(name);
	int last = -1;

	if (namelen > PROTOCOL_NAME_MAX)
		return BUDDY_E_INVALID;
	memcpy(buf, name, namelen + 1);
	for (int i = 0; i < 5; i++) {
		field[i] = next_field(&rest, '_');
		if (!field[i] || !*field[i])
			return BUDDY_E_INVALID;
	}
	if (rest || strcmp(field[0], "Noise") != 0)
		return BUDDY_E_INVALID;
	if (strcmp(field[2], "25519") != 0 || strcmp(field[3], "ChaChaPoly") != 0)
		return BUDDY_E_VERSION;
	hs->hash = find_hash(field[4]);
	if (!hs->hash)
		return BUDDY_E_VERSION;

	baselen = strspn(field[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		if (strlen(patterns[i].name) == baselen &&
		    memcmp(patterns[i].name, field[1], baselen) == 0)
			pat = &patterns[i];
	if (!pat)
		return BUDDY_E_VERSION;
	*patp = pat;
	hs->nmsgs = pat->nmsgs;
	memcpy(hs->msgs, pat->msgs, sizeof(hs->msgs));

	mods = *(field[1] + baselen) ? field[1] + baselen : NULL;
	while ((m = next_field(&mods, '+'))) {
		uint8_t *toks;
		size_t ntoks;
		int pos;

		/* fallback, hfs and the others are modifiers we do not implement */
		if (strncmp(m, "psk", 3) != 0 || strlen(m) != 4 || m[3] < '0' || m[3] > '9')
			return *m ? BUDDY_E_VERSION : BUDDY_E_INVALID;
		pos = m[3] - '0';
		if (pos > (int)hs->nmsgs || pos <= last)
			return BUDDY_E_INVALID;
		last = pos;
		toks = hs->msgs[pos == 0 ? 0 : pos - 1];
		ntoks = count_tokens(toks);
		if (ntoks + 2 > TOKENS_MAX || hs->npsks == BUDDY_NOISE_PSKS_MAX)
			return BUDDY_E_INTERNAL; /* the table's sizes are too small */
		if (pos == 0)
			memmove(toks + 1, toks, ntoks + 1);
		toks[pos == 0 ? 0 : ntoks] = TOK_PSK;
		hs->npsks++;
		hs->psk_mode = true;
	}
	return 0;
}

static bool has_token(const uint8_t *toks, uint8_t tok)
{
	for (; *toks != TOK_END; toks++)
		if (*toks == tok)
			return true;
	return false;
}

/* Whether our static key is used: sent, in a pre-message, or in a DH on our side. */
static bool needs_local_static(const struct buddy_noise_hs *hs, const struct pattern *pat)
{
	uint8_t own_dh = is_initiator(hs) ? TOK_SE : TOK_ES;
	int me = is_initiator(hs) ? 0 : 1;

	if (has_token(pat->pre[me], TOK_S))
		return true;
	for (unsigned i = 0; i < hs->nmsgs; i++) {
		if (has_token(hs->msgs[i], TOK_SS) || has_token(hs->msgs[i], own_dh))
			return true;
		if (our_turn(hs, i) && has_token(hs->msgs[i], TOK_S))
			return true;
	}
	return false;
}

int buddy_noise_hs_new(const struct buddy_noise_params *p, struct buddy_noise_hs **out)
{
	struct buddy_noise_hs *hs;
	const struct pattern *pat = NULL;
	const char *name;
	bool need_rs;
	int me, ret;

	if (!p || !out || (!p->prologue && p->prologue_len) || (!p->psks && p->psk_count) ||
	    (p->role != BUDDY_NOISE_INITIATOR && p->role != BUDDY_NOISE_RESPONDER))
		return BUDDY_E_INVALID;
	*out = NULL;
	if (sodium_init() < 0)
		return BUDDY_E_INTERNAL;
	hs = pool_get(&hs_pool, sizeof(*hs));
	if (!hs)
		return BUDDY_E_NOMEM;
	memset(hs, 0, sizeof(*hs));
	hs->role = p->role;
	name = p->protocol ? p->protocol : BUDDY_NOISE_PROTOCOL;
	ret = parse_protocol(hs, name, &pat);
	if (ret)
		goto bad;

	/* Every key the pattern needs, and no pinned remote key that it would ignore. */
	me = is_initiator(hs) ? 0 : 1;
	need_rs = has_token(pat->pre[1 - me], TOK_S);
	ret = BUDDY_E_INVALID;
	if (p->psk_count != hs->npsks || need_rs != !!p->remote_static)
		goto bad;
	if (needs_local_static(hs, pat)) {
		if (!p->local_static)
			goto bad;
		memcpy(hs->s, p->local_static, DHLEN);
		hs->has_s = true;
		if (p->local_static_pub)
			memcpy(hs->s_pub, p->local_static_pub, DHLEN);
		else if (crypto_scalarmult_base(hs->s_pub, hs->s) != 0)
			goto bad;
	}
	if (p->remote_static) {
		memcpy(hs->cur.rs, p->remote_static, DHLEN);
		hs->cur.has_rs = true;
	}
	if (p->fixed_ephemeral) {
		memcpy(hs->fixed_e, p->fixed_ephemeral, DHLEN);
		hs->has_fixed_e = true;
	}
	for (size_t i = 0; i < p->psk_count; i++)
		memcpy(hs->psks[i], p->psks[i], KEYLEN);

	initialize_symmetric(hs->hash, &hs->cur.ss, name);
	mix_hash(hs->hash, &hs->cur.ss, p->prologue, p->prologue_len);
	/* pre-messages: the initiator's first, then the responder's */
	for (int side = 0; side < 2; side++) {
		if (!has_token(pat->pre[side], TOK_S))
			continue;
		mix_hash(hs->hash, &hs->cur.ss, side == me ? hs->s_pub : hs->cur.rs, DHLEN);
	}
	hs->state = our_turn(hs, 0) ? BUDDY_NOISE_WRITE : BUDDY_NOISE_READ;
	*out = hs;
	return 0;
bad:
	buddy_noise_hs_free(hs);
	return ret;
}

void buddy_noise_hs_free(struct buddy_noise_hs *hs)
{
	pool_put(&hs_pool, hs, sizeof(*hs)); /* wiped, then kept or unmapped */
}

enum buddy_noise_state buddy_noise_hs_state(const struct buddy_noise_hs *hs)
{
	return hs ? hs->state : BUDDY_NOISE_FAILED;
}

const uint8_t *buddy_noise_remote_static(const struct buddy_noise_hs *hs)
{
	if (!hs || !hs->cur.has_rs || hs->state == BUDDY_NOISE_FAILED)
		return NULL;
	return hs->cur.rs;
}

const uint8_t *buddy_noise_handshake_hash(const struct buddy_noise_hs *hs, size_t *len)
{
	if (!hs)
		return NULL;
	if (len)
		*len = hs->hash->len;
	return hs->cur.ss.h;
}

int buddy_noise_split(struct buddy_noise_hs *hs, struct buddy_noise_cs **send,
		      struct buddy_noise_cs **recv)
{
	struct buddy_noise_cs *c1, *c2;

	if (!hs || !send || !recv || hs->state != BUDDY_NOISE_DONE)
		return BUDDY_E_INVALID;
	c1 = pool_get(&cs_pool, sizeof(*c1));
	c2 = pool_get(&cs_pool, sizeof(*c2));
	if (!c1 || !c2) {
		pool_put(&cs_pool, c1, sizeof(*c1));
		pool_put(&cs_pool, c2, sizeof(*c2));
		return BUDDY_E_NOMEM;
	}
	split(hs->hash, &hs->cur.ss, &c1->c, &c2->c);
	*send = is_initiator(hs) ? c1 : c2;
	*recv = is_initiator(hs) ? c2 : c1;
	hs->state = BUDDY_NOISE_SPLIT;
	wipe_secrets(hs);
	return 0;
}

/* Transport */

int buddy_noise_cs_encrypt(struct buddy_noise_cs *cs, const uint8_t *ad, size_t adlen,
			   const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
			   size_t *outlen)
{
	int ret;

	if (!cs || (!ad && adlen) || (!in && len) || !out || !outlen)
		return BUDDY_E_INVALID;
	if (len > BUDDY_NOISE_MSG_MAX - TAGLEN || len + TAGLEN > outcap)
		return BUDDY_E_TOOBIG;
	ret = encrypt_with_ad(&cs->c, ad, adlen, in, len, out);
	if (ret)
		return ret;
	*outlen = len + TAGLEN;
	return 0;
}

int buddy_noise_cs_decrypt(struct buddy_noise_cs *cs, const uint8_t *ad, size_t adlen,
			   const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
			   size_t *outlen)
{
	uint8_t scratch[1];
	int ret;

	if (!cs || (!ad && adlen) || !in || (!out && outcap) || !outlen)
		return BUDDY_E_INVALID;
	if (len > BUDDY_NOISE_MSG_MAX)
		return BUDDY_E_TOOBIG;
	if (len < TAGLEN)
		return BUDDY_E_INVALID;
	if (len - TAGLEN > outcap)
		return BUDDY_E_TOOBIG;
	ret = decrypt_with_ad(&cs->c, ad, adlen, in, len, out ? out : scratch);
	if (ret)
		return ret;
	*outlen = len - TAGLEN;
	return 0;
}

int buddy_noise_cs_rekey(struct buddy_noise_cs *cs)
{
	if (!cs)
		return BUDDY_E_INVALID;
	rekey(&cs->c);
	return 0;
}

int buddy_noise_cs_set_nonce(struct buddy_noise_cs *cs, uint64_t n)
{
	if (!cs)
		return BUDDY_E_INVALID;
	cs->c.n = n;
	return 0;
}

uint64_t buddy_noise_cs_nonce(const struct buddy_noise_cs *cs)
{
	return cs ? cs->c.n : NONCE_MAX;
}

void buddy_noise_cs_free(struct buddy_noise_cs *cs)
{
	pool_put(&cs_pool, cs, sizeof(*cs));
}
