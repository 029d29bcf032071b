/* The backup file (proto/backup.c; spec: proto/BACKUP.md): what a writer makes reads back
 * whole, and every way a file can be altered, cut or malformed is refused with the error the
 * spec names. Files are built in memory; most tests use a raw key (buddy_backup_reader_unlock_key)
 * so Argon2id runs only where the passphrase is what is tested, at libsodium's minimum cost.
 * The fixed file of the spec's worked example is decoded here too. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "buddy/backup.h"
#include "buddy/error.h"
#include "buddy/keys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASS	  "correct horse battery staple"
#define CHUNK_MIN BUDDY_BACKUP_CHUNK_MIN

/* ---- files in memory ---- */

struct mem {
	const uint8_t *p;
	size_t len, pos;
};

static int mem_read(void *arg, uint8_t *buf, size_t want, size_t *got)
{
	struct mem *m = arg;
	/* at most 777 bytes a call: the reader must cope with short reads */
	size_t n = m->len - m->pos < want ? m->len - m->pos : want;

	if (n > 777)
		n = 777;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	*got = n;
	return 0;
}

/* What a sink received. */
struct got {
	bool has_config;
	uint8_t config[BUDDY_BACKUP_CONFIG_MAX];
	size_t config_len;
	uint32_t nsegs;
	uint32_t number[8];
	uint64_t declared[8];
	uint8_t *data[8];
	size_t len[8];
	int fail_with; /* segment_data returns this when non-zero */
};

static int got_config(void *arg, const uint8_t *p, size_t n)
{
	struct got *g = arg;

	g->has_config = true;
	memcpy(g->config, p, n);
	g->config_len = n;
	return 0;
}

static int got_begin(void *arg, uint32_t number, uint64_t size)
{
	struct got *g = arg;

	assert_true(g->nsegs < 8);
	g->number[g->nsegs] = number;
	g->declared[g->nsegs] = size;
	g->data[g->nsegs] = malloc(size ? size : 1);
	g->len[g->nsegs] = 0;
	g->nsegs++;
	return 0;
}

static int got_data(void *arg, const uint8_t *p, size_t n)
{
	struct got *g = arg;
	uint32_t i = g->nsegs - 1;

	if (g->fail_with)
		return g->fail_with;
	assert_true(g->len[i] + n <= g->declared[i]);
	memcpy(g->data[i] + g->len[i], p, n);
	g->len[i] += n;
	return 0;
}

static int got_end(void *arg)
{
	struct got *g = arg;

	assert_int_equal(g->len[g->nsegs - 1], g->declared[g->nsegs - 1]);
	return 0;
}

static const struct buddy_backup_sink sink = {got_config, got_begin, got_data, got_end};

static void got_free(struct got *g)
{
	for (uint32_t i = 0; i < g->nsegs; i++)
		free(g->data[i]);
	memset(g, 0, sizeof(*g));
}

/* ---- building backups ---- */

struct fixture {
	uint8_t key[32];
	uint8_t seed[32], dk[32], pk[32];
	struct buddy_backup_params params;
	uint8_t *seg[3];
	uint32_t seglen[3];
	uint8_t *payload;
	size_t payload_len;
	msgpack_sbuffer file;
	struct got got;
};

static const char config_text[] = "[daemon]\nlog_level = debug\n";

/* Encrypts payload[0..n) as a backup file into out, fed in pieces of odd sizes. */
static void seal_payload(const struct fixture *fx, const uint8_t *payload, size_t n,
			 msgpack_sbuffer *out)
{
	struct buddy_backup_writer *w;
	size_t off = 0, piece = 1;

	msgpack_sbuffer_clear(out);
	assert_int_equal(buddy_backup_writer_new(fx->key, &fx->params, out, &w), 0);
	while (off < n) {
		size_t k = n - off < piece ? n - off : piece;
		assert_int_equal(buddy_backup_writer_put(w, payload + off, k, out), 0);
		off += k;
		piece = piece * 3 + 1;
	}
	assert_int_equal(buddy_backup_writer_finish(w, out), 0);
	assert_int_equal(buddy_backup_writer_put(w, payload, 1, out), BUDDY_E_STATE);
	buddy_backup_writer_free(w);
}

/* The payload a daemon would write: head, then each segment's [name, header] and bytes. */
static void make_payload(struct fixture *fx, uint32_t nsegs, bool config)
{
	size_t cap = BUDDY_BACKUP_HEAD_MAX + sizeof(config_text), n;

	for (uint32_t i = 0; i < nsegs; i++)
		cap += BUDDY_BACKUP_SEG_HEAD + fx->seglen[i];
	free(fx->payload);
	fx->payload = malloc(cap);
	n = buddy_backup_encode_head(fx->payload, 1764288000, 42, fx->pk, fx->seed, fx->dk,
				     config ? (const uint8_t *)config_text : NULL,
				     config ? strlen(config_text) : 0, nsegs);
	for (uint32_t i = 0; i < nsegs; i++) {
		buddy_backup_encode_segment(fx->payload + n, i + 1, fx->seglen[i]);
		n += BUDDY_BACKUP_SEG_HEAD;
		memcpy(fx->payload + n, fx->seg[i], fx->seglen[i]);
		n += fx->seglen[i];
	}
	assert_true(n <= cap);
	fx->payload_len = n;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	uint8_t sk[64];
	static const uint32_t lens[3] = {32, 5000, 3 * CHUNK_MIN};

	randombytes_buf(fx->key, sizeof(fx->key));
	randombytes_buf(fx->seed, sizeof(fx->seed));
	randombytes_buf(fx->dk, sizeof(fx->dk));
	crypto_sign_seed_keypair(fx->pk, sk, fx->seed);
	fx->params.ops = crypto_pwhash_OPSLIMIT_MIN;
	fx->params.mem = crypto_pwhash_MEMLIMIT_MIN;
	fx->params.chunk = CHUNK_MIN;
	randombytes_buf(fx->params.salt, sizeof(fx->params.salt));
	for (int i = 0; i < 3; i++) {
		fx->seglen[i] = lens[i];
		fx->seg[i] = malloc(lens[i]);
		randombytes_buf(fx->seg[i], lens[i]);
	}
	msgpack_sbuffer_init(&fx->file);
	make_payload(fx, 3, true);
	seal_payload(fx, fx->payload, fx->payload_len, &fx->file);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < 3; i++)
		free(fx->seg[i]);
	free(fx->payload);
	msgpack_sbuffer_destroy(&fx->file);
	got_free(&fx->got);
	free(fx);
	return 0;
}

/* Reads a whole file with the fixture's key: the first failing step's code, or 0. */
static int read_all(struct fixture *fx, const uint8_t *p, size_t len, char *why, size_t whylen)
{
	struct mem m = {p, len, 0};
	struct buddy_backup_reader *r = NULL;
	int rc;

	got_free(&fx->got);
	rc = buddy_backup_reader_open(mem_read, &m, &r);
	if (rc == 0)
		rc = buddy_backup_reader_unlock_key(r, fx->key);
	if (rc == 0)
		rc = buddy_backup_reader_rest(r, &sink, &fx->got);
	if (why)
		snprintf(why, whylen, "%s", buddy_backup_reader_error(r));
	buddy_backup_reader_free(r);
	return rc;
}

static int read_file(struct fixture *fx, char *why, size_t whylen)
{
	return read_all(fx, (const uint8_t *)fx->file.data, fx->file.size, why, whylen);
}

/* ---- round trips ---- */

static void test_backup_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct mem m = {(const uint8_t *)fx->file.data, fx->file.size, 0};
	struct buddy_backup_reader *r;
	struct buddy_backup_identity id;

	assert_int_equal(fx->file.size, buddy_backup_file_size(fx->payload_len, CHUNK_MIN));
	assert_int_equal(buddy_backup_reader_open(mem_read, &m, &r), 0);
	assert_int_equal(buddy_backup_reader_params(r)->chunk, CHUNK_MIN);
	assert_memory_equal(buddy_backup_reader_params(r)->salt, fx->params.salt, 16);
	assert_int_equal(buddy_backup_reader_unlock_key(r, fx->key), 0);
	buddy_backup_reader_identity(r, &id);
	assert_int_equal(id.made, 1764288000);
	assert_int_equal(id.records, 42);
	assert_memory_equal(id.pk, fx->pk, 32);
	assert_memory_equal(id.seed, fx->seed, 32);
	assert_memory_equal(id.dk, fx->dk, 32);
	assert_int_equal(buddy_backup_reader_rest(r, &sink, &fx->got), 0);
	buddy_backup_reader_free(r);
	assert_true(fx->got.has_config);
	assert_int_equal(fx->got.config_len, strlen(config_text));
	assert_memory_equal(fx->got.config, config_text, strlen(config_text));
	assert_int_equal(fx->got.nsegs, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(fx->got.number[i], i + 1);
		assert_int_equal(fx->got.len[i], fx->seglen[i]);
		assert_memory_equal(fx->got.data[i], fx->seg[i], fx->seglen[i]);
	}
}

/* No config, no segment: the smallest backup (an empty journal) reads back as such. */
static void test_backup_round_trip_empty_journal_no_config(void **state)
{
	struct fixture *fx = *state;

	make_payload(fx, 0, false);
	seal_payload(fx, fx->payload, fx->payload_len, &fx->file);
	assert_int_equal(fx->file.size, buddy_backup_file_size(fx->payload_len, CHUNK_MIN));
	assert_int_equal(read_file(fx, NULL, 0), 0);
	assert_false(fx->got.has_config);
	assert_int_equal(fx->got.nsegs, 0);
}

/* A payload of exactly k chunks ends with a full FINAL chunk (none empty after it). */
static void test_backup_round_trip_payload_of_whole_chunks(void **state)
{
	struct fixture *fx = *state;
	size_t over;

	make_payload(fx, 3, true);
	over = fx->payload_len % CHUNK_MIN;
	fx->seglen[2] -= (uint32_t)over;
	make_payload(fx, 3, true);
	assert_int_equal(fx->payload_len % CHUNK_MIN, 0);
	seal_payload(fx, fx->payload, fx->payload_len, &fx->file);
	assert_int_equal(fx->file.size,
			 BUDDY_BACKUP_HEADER_BYTES + fx->payload_len +
				 (fx->payload_len / CHUNK_MIN) * BUDDY_BACKUP_ABYTES);
	assert_int_equal(fx->file.size, buddy_backup_file_size(fx->payload_len, CHUNK_MIN));
	assert_int_equal(read_file(fx, NULL, 0), 0);
	assert_int_equal(fx->got.len[2], fx->seglen[2]);
}

static void test_backup_passphrase_right_and_wrong(void **state)
{
	struct fixture *fx = *state;
	struct buddy_backup_reader *r;
	struct mem m = {NULL, 0, 0};

	assert_int_equal(buddy_backup_derive(fx->key, PASS, strlen(PASS), fx->params.ops,
					     fx->params.mem, fx->params.salt),
			 0);
	seal_payload(fx, fx->payload, fx->payload_len, &fx->file);
	m.p = (const uint8_t *)fx->file.data;
	m.len = fx->file.size;
	assert_int_equal(buddy_backup_reader_open(mem_read, &m, &r), 0);
	assert_int_equal(buddy_backup_reader_unlock(r, PASS, strlen(PASS)), 0);
	assert_int_equal(buddy_backup_reader_rest(r, &sink, &fx->got), 0);
	buddy_backup_reader_free(r);

	m.pos = 0;
	assert_int_equal(buddy_backup_reader_open(mem_read, &m, &r), 0);
	assert_int_equal(
		buddy_backup_reader_unlock(r, "Correct horse battery staple", strlen(PASS)),
		BUDDY_E_AUTH);
	assert_non_null(strstr(buddy_backup_reader_error(r), "wrong passphrase"));
	assert_int_equal(buddy_backup_reader_unlock(r, "", 0), BUDDY_E_INVALID);
	buddy_backup_reader_free(r);
}

/* ---- tampering ---- */

/* Every bit of the header matters: the magic says what the file is, the parameters are bounds
 * checked, and the whole header is the first chunk's additional data. */
static void test_backup_every_header_byte_altered_is_refused(void **state)
{
	struct fixture *fx = *state;
	uint8_t *copy = malloc(fx->file.size);

	for (size_t i = 0; i < BUDDY_BACKUP_HEADER_BYTES; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			int rc;

			memcpy(copy, fx->file.data, fx->file.size);
			copy[i] ^= (uint8_t)(1 << bit);
			rc = read_all(fx, copy, fx->file.size, NULL, 0);
			if (i < BUDDY_BACKUP_MAGIC_LEN - 1)
				assert_int_equal(rc, BUDDY_E_INVALID);
			else if (i == BUDDY_BACKUP_MAGIC_LEN - 1)
				assert_int_equal(rc, BUDDY_E_VERSION); /* "buddy-backup-v0", "vq" */
			else if (i == BUDDY_BACKUP_MAGIC_LEN)
				assert_int_equal(rc, BUDDY_E_CORRUPT); /* another KDF */
			else if (i < 32 || (i >= 48 && i < 52))
				/* ops, mem, chunk: out of bounds, or in bounds and then not the
				 * header the first chunk was sealed with */
				assert_true(rc == BUDDY_E_CORRUPT || rc == BUDDY_E_AUTH);
			else
				assert_int_equal(rc, BUDDY_E_AUTH); /* salt, stream header */
		}
	}
	free(copy);
}

/* A changed byte anywhere in any chunk: the first is "wrong passphrase or altered", any
 * other is named by its number. */
static void test_backup_every_chunk_altered_is_refused(void **state)
{
	struct fixture *fx = *state;
	size_t full = CHUNK_MIN + BUDDY_BACKUP_ABYTES;
	size_t nchunks = (fx->file.size - BUDDY_BACKUP_HEADER_BYTES + full - 1) / full;
	uint8_t *copy = malloc(fx->file.size);
	char why[200], want[64];

	assert_true(nchunks >= 8);
	for (size_t c = 0; c < nchunks; c++) {
		size_t start = BUDDY_BACKUP_HEADER_BYTES + c * full;
		size_t len = c + 1 < nchunks ? full : fx->file.size - start;
		size_t at[3] = {start, start + len / 2, start + len - 1};

		for (int k = 0; k < 3; k++) {
			memcpy(copy, fx->file.data, fx->file.size);
			copy[at[k]] ^= 0x20;
			if (c == 0) {
				assert_int_equal(
					read_all(fx, copy, fx->file.size, why, sizeof(why)),
					BUDDY_E_AUTH);
				continue;
			}
			assert_int_equal(read_all(fx, copy, fx->file.size, why, sizeof(why)),
					 BUDDY_E_CORRUPT);
			snprintf(want, sizeof(want), "chunk %zu failed", c + 1);
			assert_non_null(strstr(why, want));
		}
	}
	free(copy);
}

/* Cut anywhere, the file is refused: nothing authenticates a prefix as a whole backup. */
static void test_backup_truncated_anywhere_is_refused(void **state)
{
	struct fixture *fx = *state;
	size_t full = CHUNK_MIN + BUDDY_BACKUP_ABYTES;
	char why[200];

	for (size_t len = 0; len < fx->file.size; len++) {
		int rc = read_all(fx, (const uint8_t *)fx->file.data, len, why, sizeof(why));

		if (len < BUDDY_BACKUP_MAGIC_LEN)
			assert_int_equal(rc, BUDDY_E_INVALID);
		else if (len <= BUDDY_BACKUP_HEADER_BYTES)
			assert_int_equal(rc, BUDDY_E_CORRUPT);
		else if (len < BUDDY_BACKUP_HEADER_BYTES + full)
			assert_int_equal(rc, BUDDY_E_AUTH); /* inside the first chunk */
		else
			assert_int_equal(rc, BUDDY_E_CORRUPT);
		/* cut exactly between chunks: the FINAL chunk is missing, and the message says so
		 */
		if (len > BUDDY_BACKUP_HEADER_BYTES &&
		    (len - BUDDY_BACKUP_HEADER_BYTES) % full == 0)
			assert_non_null(strstr(why, "truncated"));
	}
}

/* After a short last chunk, a trailing byte becomes part of that chunk, which then fails its
 * check; after a full-size last chunk it is named as what it is. */
static void test_backup_bytes_after_the_last_chunk_are_refused(void **state)
{
	struct fixture *fx = *state;
	char why[200];

	msgpack_sbuffer_write(&fx->file, "\0", 1);
	assert_int_equal(read_file(fx, why, sizeof(why)), BUDDY_E_CORRUPT);
	make_payload(fx, 3, true);
	fx->seglen[2] -= (uint32_t)(fx->payload_len % CHUNK_MIN);
	make_payload(fx, 3, true);
	seal_payload(fx, fx->payload, fx->payload_len, &fx->file);
	assert_int_equal(read_file(fx, NULL, 0), 0);
	msgpack_sbuffer_write(&fx->file, "\0", 1);
	assert_int_equal(read_file(fx, why, sizeof(why)), BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "after its last chunk"));
}

/* Chunks dropped, repeated or swapped break the stream's order. */
static void test_backup_chunks_reordered_dropped_or_repeated_are_refused(void **state)
{
	struct fixture *fx = *state;
	size_t full = CHUNK_MIN + BUDDY_BACKUP_ABYTES, c1 = BUDDY_BACKUP_HEADER_BYTES + full;
	uint8_t *f = (uint8_t *)fx->file.data, *copy = malloc(fx->file.size + full);
	size_t n = fx->file.size;

	/* chunks 2 and 3 swapped */
	memcpy(copy, f, n);
	memcpy(copy + c1, f + c1 + full, full);
	memcpy(copy + c1 + full, f + c1, full);
	assert_int_equal(read_all(fx, copy, n, NULL, 0), BUDDY_E_CORRUPT);
	/* chunk 2 dropped */
	memcpy(copy, f, c1);
	memcpy(copy + c1, f + c1 + full, n - c1 - full);
	assert_int_equal(read_all(fx, copy, n - full, NULL, 0), BUDDY_E_CORRUPT);
	/* chunk 2 twice */
	memcpy(copy, f, c1 + full);
	memcpy(copy + c1 + full, f + c1, n - c1);
	assert_int_equal(read_all(fx, copy, n + full, NULL, 0), BUDDY_E_CORRUPT);
	free(copy);
}

/* The header is checked before any key derivation: absurd costs never run. */
static void test_backup_header_bounds_are_checked_before_derivation(void **state)
{
	static const struct {
		uint64_t ops, mem;
		uint32_t chunk;
	} bad[] = {
		{0, 8192, 65536},	  {33, 8192, 65536},
		{1, 8191, 65536},	  {1, (4ULL << 30) + 1, 65536},
		{1, UINT64_MAX, 65536},	  {1, 8192, 1023},
		{1, 8192, (1 << 20) + 1}, {1, 8192, 0},
	};
	struct fixture *fx = *state;
	uint8_t copy[BUDDY_BACKUP_HEADER_BYTES];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buddy_backup_reader *r;
		struct mem m = {copy, sizeof(copy), 0};

		memcpy(copy, fx->file.data, sizeof(copy));
		for (int b = 0; b < 8; b++) {
			copy[16 + b] = (uint8_t)(bad[i].ops >> (56 - 8 * b));
			copy[24 + b] = (uint8_t)(bad[i].mem >> (56 - 8 * b));
		}
		for (int b = 0; b < 4; b++)
			copy[48 + b] = (uint8_t)(bad[i].chunk >> (24 - 8 * b));
		assert_int_equal(buddy_backup_reader_open(mem_read, &m, &r), BUDDY_E_CORRUPT);
		assert_non_null(strstr(buddy_backup_reader_error(r), "out of bounds"));
		buddy_backup_reader_free(r);
	}
}

static void test_backup_not_a_backup_and_other_versions(void **state)
{
	struct fixture *fx = *state;
	uint8_t copy[BUDDY_BACKUP_HEADER_BYTES + 64];
	char why[200];

	memset(copy, 'x', sizeof(copy));
	assert_int_equal(read_all(fx, copy, sizeof(copy), why, sizeof(why)), BUDDY_E_INVALID);
	assert_non_null(strstr(why, "not a buddy backup"));
	assert_int_equal(read_all(fx, copy, 0, NULL, 0), BUDDY_E_INVALID);
	memcpy(copy, fx->file.data, sizeof(copy));
	copy[BUDDY_BACKUP_MAGIC_LEN - 1] = '2';
	assert_int_equal(read_all(fx, copy, sizeof(copy), why, sizeof(why)), BUDDY_E_VERSION);
	assert_non_null(strstr(why, "another version"));
}

/* ---- malformed payloads, sealed properly (only a writer with the key could make them) ---- */

static int read_payload(struct fixture *fx, const uint8_t *p, size_t n, char *why, size_t len)
{
	seal_payload(fx, p, n, &fx->file);
	return read_file(fx, why, len);
}

/* Replaces `from` (its first occurrence in the payload) by `to`, of the same length. */
static void patch(struct fixture *fx, const void *from, const void *to, size_t len)
{
	for (size_t i = 0; i + len <= fx->payload_len; i++) {
		if (memcmp(fx->payload + i, from, len) == 0) {
			memcpy(fx->payload + i, to, len);
			return;
		}
	}
	fail_msg("pattern not in the payload");
}

static void test_backup_oversized_lengths_are_refused_before_use(void **state)
{
	struct fixture *fx = *state;
	char why[200];

	/* a config declared one byte over 64 KiB */
	make_payload(fx, 1, true);
	patch(fx, "\xc6\x00\x00\x00\x1b", "\xc6\x00\x01\x00\x01", 5);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "over the limit"));
	/* a journal of 65,537 segments */
	make_payload(fx, 1, true);
	patch(fx, "journal\xdd\x00\x00\x00\x01", "journal\xdd\x00\x01\x00\x01", 12);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "over the limit"));
	/* a segment of 64 MiB + 1, and one of 4 GiB - 1 */
	make_payload(fx, 1, true);
	patch(fx, "00000001.log\xc6\x00\x00\x00\x20", "00000001.log\xc6\x04\x00\x00\x01", 17);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "over the limit"));
	make_payload(fx, 1, true);
	patch(fx, "00000001.log\xc6\x00\x00\x00\x20", "00000001.log\xc6\xff\xff\xff\xff", 17);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	/* a key declared as a 4 GiB string */
	make_payload(fx, 1, true);
	fx->payload[1] = 0xdb; /* str32 in place of fixstr "v" ... */
	fx->payload[2] = 0xff;
	assert_int_equal(read_payload(fx, fx->payload, 8, why, sizeof(why)), BUDDY_E_CORRUPT);
}

static void test_backup_malformed_payloads_are_refused(void **state)
{
	struct fixture *fx = *state;
	uint8_t *big;
	char why[200];

	/* another payload version */
	make_payload(fx, 1, true);
	patch(fx, "\xa1v\x01", "\xa1v\x02", 3);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_VERSION);
	/* keys in another order */
	make_payload(fx, 1, true);
	patch(fx,
	      "\xa2"
	      "pk",
	      "\xa2"
	      "dk",
	      3);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "expected the key \"pk\""));
	/* a seed that is not pk's */
	make_payload(fx, 1, true);
	patch(fx, fx->seed, fx->dk, 32);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "does not match its public key"));
	/* a segment out of its place */
	make_payload(fx, 2, true);
	patch(fx, "00000002.log", "00000003.log", 12);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "not named 00000002.log"));
	/* a signed integer where the count of records is */
	make_payload(fx, 1, true);
	patch(fx, "records\xcf", "records\xd3", 8);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	/* the payload ends before its map does */
	make_payload(fx, 2, true);
	assert_int_equal(read_payload(fx, fx->payload, fx->payload_len - 1, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "ends too early"));
	/* bytes after the map */
	make_payload(fx, 1, true);
	big = malloc(fx->payload_len + 1);
	memcpy(big, fx->payload, fx->payload_len);
	big[fx->payload_len] = 0xc0;
	assert_int_equal(read_payload(fx, big, fx->payload_len + 1, why, sizeof(why)),
			 BUDDY_E_CORRUPT);
	assert_non_null(strstr(why, "after its payload"));
	free(big);
}

/* The sink's own failure (a full disk while restoring) stops the reader with it. */
static void test_backup_sink_failure_stops_the_reader(void **state)
{
	struct fixture *fx = *state;
	struct mem m = {(const uint8_t *)fx->file.data, fx->file.size, 0};
	struct buddy_backup_reader *r;

	got_free(&fx->got);
	fx->got.fail_with = BUDDY_E_NOSPACE;
	assert_int_equal(buddy_backup_reader_open(mem_read, &m, &r), 0);
	assert_int_equal(buddy_backup_reader_unlock_key(r, fx->key), 0);
	assert_int_equal(buddy_backup_reader_rest(r, &sink, &fx->got), BUDDY_E_NOSPACE);
	assert_int_equal(buddy_backup_reader_rest(r, &sink, &fx->got), BUDDY_E_STATE);
	buddy_backup_reader_free(r);
}

/* ---- the worked example of proto/BACKUP.md ---- */

static const char vector_hex[] = "62756464792d6261636b75702d76310200000000000000010000000000002000"
				 "101112131415161718191a1b1c1d1e1f0000040015a3ee12012563e46168a3bb"
				 "2cae499d712d5ae1e57dbc156b759aaa3efd1dd2cd0e77f7ea2ae3be4250a9e9"
				 "0c1fbaba7f0492356e440c0a91ebaa14df9033633a7117dd974d0ade4c4a0b4c"
				 "e3b8fb717f2839715d0b1b2664c6fc996deda92d03750c8d238ec8e068fd9585"
				 "7bdc39b50ab9874cc9df5c1c4f6c65c167ff027a24c33b290817a041b0356117"
				 "c693f3eddf70bd9b772d43c124faa3152c978107adb9254df27a5e78e132e3d9"
				 "7f7d65c4e5945464d7d1c33f0da829e2d09c4ed067b4129ce0802774c05bb4e4"
				 "e533bbc616eb9fb4dc82ae071ec9b3b9728f169fa786ede62193163764007653"
				 "645243a772caebde4b6f000a774a6475bcae19355b29d864d11509541b374735"
				 "0d4a657f087cb0aad806c4bfe9ef63f7132ebdfa438fd49f";

static void test_backup_spec_example_decodes(void **state)
{
	struct fixture *fx = *state;
	uint8_t file[sizeof(vector_hex) / 2], seg[32];
	struct mem m = {file, sizeof(file), 0};
	struct buddy_backup_reader *r;
	struct buddy_backup_identity id;
	char fp[BUDDY_FINGERPRINT_LEN + 1];
	size_t n;

	assert_int_equal(
		sodium_hex2bin(file, sizeof(file), vector_hex, strlen(vector_hex), NULL, &n, NULL),
		0);
	assert_int_equal(n, 344);
	assert_int_equal(buddy_backup_reader_open(mem_read, &m, &r), 0);
	assert_int_equal(buddy_backup_reader_params(r)->ops, 1);
	assert_int_equal(buddy_backup_reader_params(r)->mem, 8192);
	assert_int_equal(buddy_backup_reader_params(r)->chunk, 1024);
	assert_int_equal(buddy_backup_reader_unlock(r, PASS, strlen(PASS)), 0);
	buddy_backup_reader_identity(r, &id);
	assert_int_equal(id.made, 1764288000);
	assert_int_equal(id.records, 0);
	for (int i = 0; i < 32; i++) {
		assert_int_equal(id.seed[i], i);
		assert_int_equal(id.dk[i], 0xa0 + i);
	}
	buddy_keys_fingerprint(id.pk, fp);
	assert_string_equal(fp, "4dc8 82d6 d92d ea6b cb5f a9da eb76 d9e7");
	got_free(&fx->got);
	assert_int_equal(buddy_backup_reader_rest(r, &sink, &fx->got), 0);
	buddy_backup_reader_free(r);
	assert_int_equal(fx->got.config_len, strlen(config_text));
	assert_memory_equal(fx->got.config, config_text, strlen(config_text));
	assert_int_equal(fx->got.nsegs, 1);
	assert_int_equal(fx->got.len[0], 32);
	memcpy(seg, "BUDDYLOG\0\1\0\x20\0\0\0\1", 16);
	for (int i = 0; i < 16; i++)
		seg[16 + i] = (uint8_t)(0xc0 + i);
	assert_memory_equal(fx->got.data[0], seg, 32);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_backup_round_trip),
		T(test_backup_round_trip_empty_journal_no_config),
		T(test_backup_round_trip_payload_of_whole_chunks),
		T(test_backup_passphrase_right_and_wrong),
		T(test_backup_every_header_byte_altered_is_refused),
		T(test_backup_every_chunk_altered_is_refused),
		T(test_backup_truncated_anywhere_is_refused),
		T(test_backup_bytes_after_the_last_chunk_are_refused),
		T(test_backup_chunks_reordered_dropped_or_repeated_are_refused),
		T(test_backup_header_bounds_are_checked_before_derivation),
		T(test_backup_not_a_backup_and_other_versions),
		T(test_backup_oversized_lengths_are_refused_before_use),
		T(test_backup_malformed_payloads_are_refused),
		T(test_backup_sink_failure_stops_the_reader),
		T(test_backup_spec_example_decodes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
