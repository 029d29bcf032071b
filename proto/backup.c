/* The backup file (see buddy/backup.h; format: proto/BACKUP.md).
 *
 *   file    = header(76) chunk* final
 *   header  = "buddy-backup-v1" u8(alg=2) u64be(ops) u64be(mem) salt(16) u32be(chunk)
 *             secretstream_header(24)
 *   key     = argon2id13(passphrase, salt, ops, mem)
 *   chunk   = secretstream_push(key, exactly `chunk` payload bytes, tag MESSAGE)
 *   final   = secretstream_push(key, 0..`chunk` payload bytes, tag FINAL)
 *   the first chunk pushed carries the whole header as additional data
 *
 * The payload is one MessagePack map, read here with a small strict streaming reader (never
 * msgpack-c's unpacker, which allocates from declared sizes): every length is checked against
 * its limit before anything is read or allocated for it, and the segment files' bytes flow
 * through to the sink a chunk at a time, so a backup larger than memory restores. */
#include "buddy/backup.h"
#include "buddy/error.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS_HEADER_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define TAG_MESSAGE	crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL	crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define KDF_ALG		crypto_pwhash_ALG_ARGON2ID13 /* 2: its byte in the header */
#define PAYLOAD_VERSION 1
#define NFIELDS		8
#define SEG_NAME_LEN	12 /* "00000001.log" */

_Static_assert(BUDDY_BACKUP_MAGIC_LEN + 1 + 8 + 8 + BUDDY_BACKUP_SALT_BYTES + 4 + SS_HEADER_BYTES ==
		       BUDDY_BACKUP_HEADER_BYTES,
	       "header layout");
_Static_assert(BUDDY_BACKUP_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES, "abytes");
_Static_assert(BUDDY_BACKUP_KEY_BYTES == crypto_secretstream_xchacha20poly1305_KEYBYTES, "key");
_Static_assert(BUDDY_BACKUP_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt");
_Static_assert(BUDDY_BACKUP_SEGMENT_MAX <= UINT32_MAX, "a segment's size fits bin32");

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int buddy_backup_derive(uint8_t key[BUDDY_BACKUP_KEY_BYTES], const char *pass, size_t passlen,
			uint64_t ops, uint64_t mem, const uint8_t salt[BUDDY_BACKUP_SALT_BYTES])
{
	if (!pass || passlen == 0 || passlen > BUDDY_PASSPHRASE_MAX || mem > SIZE_MAX)
		return BUDDY_E_INVALID;
	if (crypto_pwhash(key, BUDDY_BACKUP_KEY_BYTES, pass, passlen, salt, ops, (size_t)mem,
			  KDF_ALG) != 0)
		return BUDDY_E_NOMEM;
	return 0;
}

uint64_t buddy_backup_file_size(uint64_t payload_len, uint32_t chunk)
{
	uint64_t chunks = payload_len ? (payload_len + chunk - 1) / chunk : 1;

	return BUDDY_BACKUP_HEADER_BYTES + payload_len + chunks * BUDDY_BACKUP_ABYTES;
}

/* ---- payload encoding: fixed widths, so that sizes are known before any byte is read ---- */

static size_t put_key(uint8_t *out, const char *key)
{
	size_t len = strlen(key);

	out[0] = (uint8_t)(0xa0 | len); /* fixstr: every key is shorter than 32 */
	memcpy(out + 1, key, len);
	return 1 + len;
}

static size_t put_bin32(uint8_t *out, const uint8_t p[32])
{
	out[0] = 0xc4; /* bin8 */
	out[1] = 32;
	memcpy(out + 2, p, 32);
	return 34;
}

size_t buddy_backup_encode_head(uint8_t *out, int64_t made, uint64_t records, const uint8_t pk[32],
				const uint8_t seed[32], const uint8_t dk[32], const uint8_t *config,
				size_t config_len, uint32_t nsegs)
{
	size_t n = 0;

	out[n++] = 0x80 | NFIELDS; /* fixmap */
	n += put_key(out + n, "v");
	out[n++] = PAYLOAD_VERSION; /* positive fixint */
	n += put_key(out + n, "made");
	out[n++] = 0xd3; /* int64 */
	put64(out + n, (uint64_t)made);
	n += 8;
	n += put_key(out + n, "records");
	out[n++] = 0xcf; /* uint64 */
	put64(out + n, records);
	n += 8;
	n += put_key(out + n, "pk");
	n += put_bin32(out + n, pk);
	n += put_key(out + n, "seed");
	n += put_bin32(out + n, seed);
	n += put_key(out + n, "dk");
	n += put_bin32(out + n, dk);
	n += put_key(out + n, "config");
	if (!config) {
		out[n++] = 0xc0; /* nil */
	} else {
		out[n++] = 0xc6; /* bin32 */
		put32(out + n, (uint32_t)config_len);
		n += 4;
		memcpy(out + n, config, config_len);
		n += config_len;
	}
	n += put_key(out + n, "journal");
	out[n++] = 0xdd; /* array32 */
	put32(out + n, nsegs);
	return n + 4;
}

void buddy_backup_encode_segment(uint8_t out[BUDDY_BACKUP_SEG_HEAD], uint32_t number, uint32_t size)
{
	char name[SEG_NAME_LEN + 1];

	snprintf(name, sizeof(name), "%08u.log", number);
	out[0] = 0x92;		      /* fixarray of 2 */
	out[1] = 0xa0 | SEG_NAME_LEN; /* fixstr */
	memcpy(out + 2, name, SEG_NAME_LEN);
	out[14] = 0xc6; /* bin32 */
	put32(out + 15, size);
}

/* ---- writer ---- */

struct buddy_backup_writer {
	crypto_secretstream_xchacha20poly1305_state *st; /* sodium_malloc */
	uint8_t *pt;					 /* sodium_malloc: one chunk */
	size_t fill;
	uint32_t chunk;
	bool first, finished;
	uint8_t header[BUDDY_BACKUP_HEADER_BYTES];
};

static void make_header(uint8_t out[BUDDY_BACKUP_HEADER_BYTES], const struct buddy_backup_params *p,
			const uint8_t ss[SS_HEADER_BYTES])
{
	size_t n = 0;

	memcpy(out, BUDDY_BACKUP_MAGIC, BUDDY_BACKUP_MAGIC_LEN);
	n += BUDDY_BACKUP_MAGIC_LEN;
	out[n++] = KDF_ALG;
	put64(out + n, p->ops);
	n += 8;
	put64(out + n, p->mem);
	n += 8;
	memcpy(out + n, p->salt, BUDDY_BACKUP_SALT_BYTES);
	n += BUDDY_BACKUP_SALT_BYTES;
	put32(out + n, p->chunk);
	n += 4;
	memcpy(out + n, ss, SS_HEADER_BYTES);
}

static int params_check(const struct buddy_backup_params *p)
{
	/* the same bounds as the key file's: a tampered header must not cost hours or gigabytes */
	if (p->ops < crypto_pwhash_OPSLIMIT_MIN || p->ops > BUDDY_BACKUP_OPS_MAX ||
	    p->mem < crypto_pwhash_MEMLIMIT_MIN || p->mem > BUDDY_BACKUP_MEM_MAX ||
	    p->mem > crypto_pwhash_memlimit_max() || p->chunk < BUDDY_BACKUP_CHUNK_MIN ||
	    p->chunk > BUDDY_BACKUP_CHUNK_MAX)
		return BUDDY_E_CORRUPT;
	return 0;
}

void buddy_backup_writer_free(struct buddy_backup_writer *w)
{
	if (!w)
		return;
	sodium_free(w->st);
	sodium_free(w->pt);
	free(w);
}

int buddy_backup_writer_new(const uint8_t key[BUDDY_BACKUP_KEY_BYTES],
			    const struct buddy_backup_params *p, msgpack_sbuffer *out,
			    struct buddy_backup_writer **wp)
{
	uint8_t ss[SS_HEADER_BYTES];
	struct buddy_backup_writer *w;

	if (params_check(p))
		return BUDDY_E_INVALID;
	w = calloc(1, sizeof(*w));
	if (!w)
		return BUDDY_E_NOMEM;
	w->st = sodium_malloc(sizeof(*w->st));
	w->pt = sodium_malloc(p->chunk);
	if (!w->st || !w->pt) {
		buddy_backup_writer_free(w);
		return BUDDY_E_NOMEM;
	}
	crypto_secretstream_xchacha20poly1305_init_push(w->st, ss, key);
	make_header(w->header, p, ss);
	w->chunk = p->chunk;
	w->first = true;
	if (msgpack_sbuffer_write(out, (const char *)w->header, sizeof(w->header))) {
		buddy_backup_writer_free(w);
		return BUDDY_E_NOMEM;
	}
	*wp = w;
	return 0;
}

static int push(struct buddy_backup_writer *w, uint8_t tag, msgpack_sbuffer *out)
{
	size_t need = w->fill + BUDDY_BACKUP_ABYTES;
	const uint8_t *ad = w->first ? w->header : NULL;
	size_t adlen = w->first ? sizeof(w->header) : 0;

	/* the ciphertext goes straight into out's buffer: reserve, then fill */
	if (out->alloc - out->size < need) {
		size_t ncap = out->alloc ? out->alloc : 4096;
		char *nb;
		while (ncap - out->size < need)
			ncap *= 2;
		nb = realloc(out->data, ncap);
		if (!nb)
			return BUDDY_E_NOMEM;
		out->data = nb;
		out->alloc = ncap;
	}
	crypto_secretstream_xchacha20poly1305_push(w->st, (uint8_t *)out->data + out->size, NULL,
						   w->pt, w->fill, ad, adlen, tag);
	out->size += need;
	sodium_memzero(w->pt, w->fill);
	w->fill = 0;
	w->first = false;
	return 0;
}

int buddy_backup_writer_put(struct buddy_backup_writer *w, const uint8_t *p, size_t n,
			    msgpack_sbuffer *out)
{
	if (w->finished)
		return BUDDY_E_STATE;
	while (n) {
		size_t take;
		/* a full chunk waits until more comes: only then is it known not to be the last */
		if (w->fill == w->chunk) {
			int rc = push(w, TAG_MESSAGE, out);
			if (rc)
				return rc;
		}
		take = w->chunk - w->fill < n ? w->chunk - w->fill : n;
		memcpy(w->pt + w->fill, p, take);
		w->fill += take;
		p += take;
		n -= take;
	}
	return 0;
}

int buddy_backup_writer_finish(struct buddy_backup_writer *w, msgpack_sbuffer *out)
{
	int rc;

	if (w->finished)
		return BUDDY_E_STATE;
	rc = push(w, TAG_FINAL, out);
	if (rc == 0)
		w->finished = true;
	return rc;
}

/* ---- reader ---- */

struct buddy_backup_reader {
	buddy_backup_read_fn fn;
	void *arg;
	struct buddy_backup_params params;
	uint8_t header[BUDDY_BACKUP_HEADER_BYTES];
	crypto_secretstream_xchacha20poly1305_state *st; /* sodium_malloc */
	uint8_t *ct;					 /* one chunk of ciphertext (+1 byte) */
	uint8_t *pt;					 /* sodium_malloc: its plaintext */
	size_t pos, len;				 /* unread plaintext: pt[pos..len) */
	uint64_t chunks;				 /* chunks opened so far */
	bool final, unlocked, done;
	/* the identity, after unlock */
	uint8_t *secret; /* sodium_malloc: seed (32) || dk (32) */
	uint8_t pk[32];
	int64_t made;
	uint64_t records;
	char err[160];
};

static int fail(struct buddy_backup_reader *r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct buddy_backup_reader *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* Reads until want bytes or the end of the file. */
static int read_full(struct buddy_backup_reader *r, uint8_t *buf, size_t want, size_t *got)
{
	size_t n = 0;

	*got = 0;
	while (n < want) {
		size_t g = 0;
		int rc = r->fn(r->arg, buf + n, want - n, &g);
		if (rc)
			return fail(r, rc, "the file could not be read (%s)", buddy_strerror(rc));
		if (g == 0)
			break;
		n += g;
	}
	*got = n;
	return 0;
}

void buddy_backup_reader_free(struct buddy_backup_reader *r)
{
	if (!r)
		return;
	sodium_free(r->st);
	sodium_free(r->pt);
	sodium_free(r->secret);
	free(r->ct);
	free(r);
}

const char *buddy_backup_reader_error(const struct buddy_backup_reader *r)
{
	return r ? r->err : "";
}

const struct buddy_backup_params *buddy_backup_reader_params(const struct buddy_backup_reader *r)
{
	return &r->params;
}

static int parse_header(struct buddy_backup_reader *r)
{
	const uint8_t *h = r->header;
	size_t n = BUDDY_BACKUP_MAGIC_LEN;

	if (memcmp(h, BUDDY_BACKUP_MAGIC, BUDDY_BACKUP_MAGIC_LEN) != 0) {
		/* "buddy-backup-v" and something else: a later version of this format */
		if (memcmp(h, BUDDY_BACKUP_MAGIC, BUDDY_BACKUP_MAGIC_LEN - 1) == 0)
			return fail(r, BUDDY_E_VERSION,
				    "it is a backup in another version of the format (made by a "
				    "newer buddy?)");
		return fail(r, BUDDY_E_INVALID, "it is not a buddy backup");
	}
	if (h[n++] != KDF_ALG)
		return fail(r, BUDDY_E_CORRUPT, "its header names an unknown key derivation");
	r->params.ops = get_be(h + n, 8);
	r->params.mem = get_be(h + n + 8, 8);
	memcpy(r->params.salt, h + n + 16, BUDDY_BACKUP_SALT_BYTES);
	r->params.chunk = (uint32_t)get_be(h + n + 32, 4);
	if (params_check(&r->params))
		return fail(r, BUDDY_E_CORRUPT,
			    "its header has key derivation or chunk parameters out of bounds");
	return 0;
}

int buddy_backup_reader_open(buddy_backup_read_fn fn, void *arg, struct buddy_backup_reader **out)
{
	struct buddy_backup_reader *r = calloc(1, sizeof(*r));
	size_t got;
	int rc;

	if (!r)
		return BUDDY_E_NOMEM;
	r->fn = fn;
	r->arg = arg;
	*out = r;
	rc = read_full(r, r->header, sizeof(r->header), &got);
	if (rc)
		return rc;
	if (got < BUDDY_BACKUP_MAGIC_LEN ||
	    memcmp(r->header, BUDDY_BACKUP_MAGIC, BUDDY_BACKUP_MAGIC_LEN - 1) != 0)
		return fail(r, BUDDY_E_INVALID, "it is not a buddy backup");
	if (got < sizeof(r->header))
		return fail(r, BUDDY_E_CORRUPT, "it ends inside its header (truncated)");
	rc = parse_header(r);
	if (rc)
		return rc;
	/* one byte more than a chunk: a read that fills it shows there is more after */
	r->ct = malloc((size_t)r->params.chunk + BUDDY_BACKUP_ABYTES + 1);
	r->pt = sodium_malloc(r->params.chunk);
	r->st = sodium_malloc(sizeof(*r->st));
	r->secret = sodium_malloc(64);
	if (!r->ct || !r->pt || !r->st || !r->secret)
		return BUDDY_E_NOMEM;
	return 0;
}

/* Opens the next chunk into pt. Every chunk but the last holds exactly `chunk` bytes and is
 * tagged MESSAGE; the last is tagged FINAL and nothing follows it. */
static int next_chunk(struct buddy_backup_reader *r)
{
	size_t full = (size_t)r->params.chunk + BUDDY_BACKUP_ABYTES, got = 0;
	unsigned long long mlen;
	uint8_t tag;
	bool first = r->chunks == 0;
	int rc;

	if (r->final)
		return fail(r, BUDDY_E_CORRUPT, "its payload runs past its last chunk");
	rc = read_full(r, r->ct, full, &got);
	if (rc)
		return rc;
	if (got == 0)
		return fail(r, BUDDY_E_CORRUPT,
			    "it ends after chunk %llu, before its last chunk (truncated)",
			    (unsigned long long)r->chunks);
	if (got < BUDDY_BACKUP_ABYTES ||
	    crypto_secretstream_xchacha20poly1305_pull(r->st, r->pt, &mlen, &tag, r->ct, got,
						       first ? r->header : NULL,
						       first ? sizeof(r->header) : 0) != 0) {
		if (first)
			return fail(r, BUDDY_E_AUTH,
				    "wrong passphrase, or the file's header or first chunk was "
				    "altered or cut short");
		return fail(r, BUDDY_E_CORRUPT,
			    "chunk %llu failed its check (the file was damaged, altered or "
			    "truncated)",
			    (unsigned long long)r->chunks + 1);
	}
	r->chunks++;
	r->pos = 0;
	r->len = (size_t)mlen;
	if (tag == TAG_FINAL) {
		uint8_t extra;
		size_t more = 0;
		r->final = true;
		if (got == full && (rc = read_full(r, &extra, 1, &more)) != 0)
			return rc;
		if (more)
			return fail(r, BUDDY_E_CORRUPT, "there are bytes after its last chunk");
		return 0;
	}
	if (tag != TAG_MESSAGE)
		return fail(r, BUDDY_E_CORRUPT, "chunk %llu has an unknown tag",
			    (unsigned long long)r->chunks);
	if (got != full)
		return fail(r, BUDDY_E_CORRUPT,
			    "it ends inside chunk %llu, before its last chunk (truncated)",
			    (unsigned long long)r->chunks);
	return 0;
}

/* The payload as a stream of bytes across chunks. */
static int avail(struct buddy_backup_reader *r)
{
	int rc;

	while (r->pos == r->len) {
		if (r->final)
			return fail(r, BUDDY_E_CORRUPT, "its payload ends too early");
		rc = next_chunk(r);
		if (rc)
			return rc;
	}
	return 0;
}

static int take(struct buddy_backup_reader *r, uint8_t *out, size_t n)
{
	while (n) {
		size_t k;
		int rc = avail(r);
		if (rc)
			return rc;
		k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(out, r->pt + r->pos, k);
		r->pos += k;
		out += k;
		n -= k;
	}
	return 0;
}

static int malformed(struct buddy_backup_reader *r, const char *what)
{
	return fail(r, BUDDY_E_CORRUPT, "its payload is malformed (%s)", what);
}

static int rd_byte(struct buddy_backup_reader *r, uint8_t *b)
{
	return take(r, b, 1);
}

static int rd_be(struct buddy_backup_reader *r, size_t width, uint64_t *v)
{
	uint8_t b[8] = {0};
	int rc = take(r, b, width);

	if (rc == 0)
		*v = get_be(b, width);
	return rc;
}

/* A str, bin or container header: its declared size, checked against max before anything of
 * it is read. kind: 's' str, 'b' bin, 'a' array, 'm' map. */
static int rd_size(struct buddy_backup_reader *r, char kind, uint64_t max, uint64_t *size,
		   const char *what)
{
	uint8_t t = 0;
	size_t width = 0;
	int rc;

	*size = 0;
	rc = rd_byte(r, &t);
	if (rc)
		return rc;
	if (kind == 's' && t >= 0xa0 && t <= 0xbf)
		*size = t & 0x1f;
	else if ((kind == 'a' && t >= 0x90 && t <= 0x9f) || (kind == 'm' && t >= 0x80 && t <= 0x8f))
		*size = t & 0x0f; /* fixarray, fixmap */
	else if (kind == 's' && t >= 0xd9 && t <= 0xdb)
		width = (size_t)1 << (t - 0xd9);
	else if (kind == 'b' && t >= 0xc4 && t <= 0xc6)
		width = (size_t)1 << (t - 0xc4);
	else if (kind == 'a' && (t == 0xdc || t == 0xdd))
		width = t == 0xdc ? 2 : 4;
	else if (kind == 'm' && (t == 0xde || t == 0xdf))
		width = t == 0xde ? 2 : 4;
	else
		return malformed(r, what);
	if (width && (rc = rd_be(r, width, size)) != 0)
		return rc;
	if (*size > max)
		return fail(r, BUDDY_E_CORRUPT,
			    "its payload declares %s of %llu, over the limit %llu", what,
			    (unsigned long long)*size, (unsigned long long)max);
	return 0;
}

static int rd_key(struct buddy_backup_reader *r, const char *want)
{
	char key[32];
	uint64_t n = 0;
	int rc = rd_size(r, 's', sizeof(key), &n, "a key");

	if (rc)
		return rc;
	if ((rc = take(r, (uint8_t *)key, (size_t)n)) != 0)
		return rc;
	if (n != strlen(want) || memcmp(key, want, (size_t)n) != 0)
		return fail(r, BUDDY_E_CORRUPT,
			    "its payload is malformed (expected the key \"%s\" there)", want);
	return 0;
}

/* Any MessagePack integer that fits: uint (as <= INT64_MAX when want_signed) or int. */
static int rd_int(struct buddy_backup_reader *r, bool want_signed, uint64_t *u, int64_t *s,
		  const char *what)
{
	uint8_t t = 0;
	uint64_t v = 0;
	int rc = rd_byte(r, &t);

	if (rc)
		return rc;
	if (t <= 0x7f) {
		v = t;
	} else if (t >= 0xcc && t <= 0xcf) { /* uint8..uint64 */
		if ((rc = rd_be(r, (size_t)1 << (t - 0xcc), &v)) != 0)
			return rc;
	} else if (want_signed && t >= 0xe0) { /* negative fixint */
		*s = (int64_t)t - 256;
		return 0;
	} else if (want_signed && t >= 0xd0 && t <= 0xd3) { /* int8..int64 */
		size_t width = (size_t)1 << (t - 0xd0);
		if ((rc = rd_be(r, width, &v)) != 0)
			return rc;
		/* sign-extend from width bytes */
		if (width < 8 && (v >> (width * 8 - 1)) & 1)
			v |= ~0ULL << (width * 8);
		*s = (int64_t)v;
		return 0;
	} else {
		return malformed(r, what);
	}
	if (want_signed) {
		if (v > INT64_MAX)
			return malformed(r, what);
		*s = (int64_t)v;
	} else {
		*u = v;
	}
	return 0;
}

static int rd_bin32(struct buddy_backup_reader *r, uint8_t out[32], const char *what)
{
	uint64_t n = 0;
	int rc = rd_size(r, 'b', 32, &n, what);

	if (rc)
		return rc;
	if (n != 32)
		return malformed(r, what);
	return take(r, out, 32);
}

static int rd_head(struct buddy_backup_reader *r)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t *sk;
	uint64_t n = 0, v = 0;
	int rc;

	if ((rc = rd_size(r, 'm', NFIELDS, &n, "the payload map")) != 0)
		return rc;
	if (n != NFIELDS)
		return malformed(r, "the payload map has another number of fields");
	if ((rc = rd_key(r, "v")) != 0 || (rc = rd_int(r, false, &v, NULL, "v")) != 0)
		return rc;
	/* another version may lay out everything after "v" differently */
	if (v != PAYLOAD_VERSION)
		return fail(r, BUDDY_E_VERSION,
			    "its payload is version %llu, which this buddy cannot read",
			    (unsigned long long)v);
	if ((rc = rd_key(r, "made")) != 0 || (rc = rd_int(r, true, NULL, &r->made, "made")) != 0 ||
	    (rc = rd_key(r, "records")) != 0 ||
	    (rc = rd_int(r, false, &r->records, NULL, "records")) != 0 ||
	    (rc = rd_key(r, "pk")) != 0 || (rc = rd_bin32(r, r->pk, "pk")) != 0 ||
	    (rc = rd_key(r, "seed")) != 0 || (rc = rd_bin32(r, r->secret, "seed")) != 0 ||
	    (rc = rd_key(r, "dk")) != 0 || (rc = rd_bin32(r, r->secret + 32, "dk")) != 0)
		return rc;
	/* the seed must be the identity the backup says it is */
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!sk)
		return BUDDY_E_NOMEM;
	crypto_sign_seed_keypair(pk, sk, r->secret);
	sodium_free(sk);
	if (crypto_verify_32(pk, r->pk) != 0)
		return fail(r, BUDDY_E_CORRUPT,
			    "its identity does not match its public key (a damaged backup)");
	return 0;
}

static int unlock_with(struct buddy_backup_reader *r, const uint8_t *key)
{
	uint8_t ss[SS_HEADER_BYTES];
	int rc;

	if (r->unlocked)
		return BUDDY_E_STATE;
	memcpy(ss, r->header + BUDDY_BACKUP_HEADER_BYTES - SS_HEADER_BYTES, SS_HEADER_BYTES);
	if (crypto_secretstream_xchacha20poly1305_init_pull(r->st, ss, key) != 0)
		return fail(r, BUDDY_E_CORRUPT, "its stream header is invalid");
	rc = next_chunk(r);
	if (rc)
		return rc;
	r->unlocked = true;
	return rd_head(r);
}

int buddy_backup_reader_unlock_key(struct buddy_backup_reader *r,
				   const uint8_t key[BUDDY_BACKUP_KEY_BYTES])
{
	return unlock_with(r, key);
}

int buddy_backup_reader_unlock(struct buddy_backup_reader *r, const char *pass, size_t passlen)
{
	uint8_t *key = sodium_malloc(BUDDY_BACKUP_KEY_BYTES);
	int rc;

	if (!key)
		return BUDDY_E_NOMEM;
	rc = buddy_backup_derive(key, pass, passlen, r->params.ops, r->params.mem, r->params.salt);
	if (rc == BUDDY_E_INVALID)
		rc = fail(r, rc, "the passphrase is empty or longer than %d bytes",
			  BUDDY_PASSPHRASE_MAX);
	else if (rc)
		rc = fail(r, rc, "there is not enough memory for its key derivation");
	else
		rc = unlock_with(r, key);
	sodium_free(key);
	return rc;
}

void buddy_backup_reader_identity(const struct buddy_backup_reader *r,
				  struct buddy_backup_identity *id)
{
	id->made = r->made;
	id->records = r->records;
	memcpy(id->pk, r->pk, sizeof(id->pk));
	id->seed = r->secret;
	id->dk = r->secret + 32;
}

/* Hands n payload bytes to fn in the pieces the chunks hold them in. */
static int stream_to(struct buddy_backup_reader *r, uint64_t n,
		     int (*fn)(void *arg, const uint8_t *data, size_t len), void *arg)
{
	while (n) {
		size_t k;
		int rc = avail(r);
		if (rc)
			return rc;
		k = r->len - r->pos < n ? r->len - r->pos : (size_t)n;
		if ((rc = fn(arg, r->pt + r->pos, k)) != 0)
			return fail(r, rc, "it could not be written out (%s)", buddy_strerror(rc));
		r->pos += k;
		n -= k;
	}
	return 0;
}

static int rd_config(struct buddy_backup_reader *r, const struct buddy_backup_sink *sink, void *arg)
{
	uint8_t *buf, t = 0;
	uint64_t n = 0;
	int rc;

	if ((rc = rd_key(r, "config")) != 0)
		return rc;
	/* nil: there was no config file */
	if ((rc = avail(r)) != 0)
		return rc;
	if (r->pt[r->pos] == 0xc0)
		return rd_byte(r, &t);
	if ((rc = rd_size(r, 'b', BUDDY_BACKUP_CONFIG_MAX, &n, "a config")) != 0)
		return rc;
	/* whole, so that the sink writes it in one piece */
	buf = malloc(n ? (size_t)n : 1);
	if (!buf)
		return BUDDY_E_NOMEM;
	rc = take(r, buf, (size_t)n);
	if (rc == 0 && sink->config && (rc = sink->config(arg, buf, (size_t)n)) != 0)
		rc = fail(r, rc, "its config could not be written out (%s)", buddy_strerror(rc));
	free(buf);
	return rc;
}

static int rd_segments(struct buddy_backup_reader *r, const struct buddy_backup_sink *sink,
		       void *arg)
{
	uint64_t nsegs = 0, n = 0;
	char name[SEG_NAME_LEN + 1], want[SEG_NAME_LEN + 1];
	int rc;

	if ((rc = rd_key(r, "journal")) != 0 ||
	    (rc = rd_size(r, 'a', BUDDY_BACKUP_SEGMENTS_MAX, &nsegs, "a journal")) != 0)
		return rc;
	for (uint64_t i = 0; i < nsegs; i++) {
		if ((rc = rd_size(r, 'a', 2, &n, "a segment")) != 0)
			return rc;
		if (n != 2)
			return malformed(r, "a segment is not [name, bytes]");
		if ((rc = rd_size(r, 's', SEG_NAME_LEN, &n, "a segment name")) != 0)
			return rc;
		memset(name, 0, sizeof(name));
		if ((rc = take(r, (uint8_t *)name, (size_t)n)) != 0)
			return rc;
		/* segments are numbered 1, 2, 3 ... in order, as the store names them */
		snprintf(want, sizeof(want), "%08u.log", (unsigned)(i + 1));
		if (n != SEG_NAME_LEN || memcmp(name, want, SEG_NAME_LEN) != 0)
			return fail(r, BUDDY_E_CORRUPT,
				    "its payload is malformed (segment %llu is not named %s)",
				    (unsigned long long)i + 1, want);
		if ((rc = rd_size(r, 'b', BUDDY_BACKUP_SEGMENT_MAX, &n, "a segment")) != 0)
			return rc;
		if (sink->segment_begin &&
		    (rc = sink->segment_begin(arg, (uint32_t)(i + 1), n)) != 0)
			return fail(r, rc, "segment %s could not be written out (%s)", want,
				    buddy_strerror(rc));
		if ((rc = stream_to(r, n, sink->segment_data, arg)) != 0)
			return rc;
		if (sink->segment_end && (rc = sink->segment_end(arg)) != 0)
			return fail(r, rc, "segment %s could not be written out (%s)", want,
				    buddy_strerror(rc));
	}
	return 0;
}

static int ignore_data(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	return 0;
}

int buddy_backup_reader_rest(struct buddy_backup_reader *r, const struct buddy_backup_sink *sink,
			     void *arg)
{
	struct buddy_backup_sink s = *sink;
	int rc;

	if (!r->unlocked || r->done)
		return BUDDY_E_STATE;
	r->done = true;
	if (!s.segment_data)
		s.segment_data = ignore_data;
	if ((rc = rd_config(r, &s, arg)) != 0 || (rc = rd_segments(r, &s, arg)) != 0)
		return rc;
	/* the map is complete: the chunk it ends in must be the last, and end with it */
	if (r->pos != r->len)
		return fail(r, BUDDY_E_CORRUPT, "there are bytes after its payload");
	while (!r->final) {
		if ((rc = next_chunk(r)) != 0)
			return rc;
		if (r->len)
			return fail(r, BUDDY_E_CORRUPT, "there are bytes after its payload");
	}
	return 0;
}
