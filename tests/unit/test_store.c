/* The encrypted append-only store (daemon/store.c, format in proto/STORE.md). Each test runs in
 * fresh mkdtemp directories. Damage is done to the raw segment bytes, so these tests also pin
 * the on-disk layout: 32-byte segment header, records of [u32 L][u8 1][24-byte nonce][L]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/store.h"

#define HDR	32 /* segment header */
#define REC_HDR 29 /* u32 L, u8 version, 24-byte nonce */
#define TAG	16

struct fixture {
	char dir[64];
	char dir2[64]; /* for a second, foreign store */
	uint8_t key[32];
};

struct collect {
	uint8_t **rec;
	size_t *len;
	size_t n;
	size_t cap;
	size_t fail_at; /* return an error when replaying this index (SIZE_MAX: never) */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/buddy-store-XXXXXX");
	strcpy(f->dir2, "/tmp/buddy-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(mkdtemp(f->dir2));
	randombytes_buf(f->key, sizeof(f->key));
	*state = f;
	return 0;
}

static void remove_dir(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	chmod(f->dir, 0700);
	remove_dir(f->dir);
	remove_dir(f->dir2);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void collect_init(struct collect *c)
{
	memset(c, 0, sizeof(*c));
	c->fail_at = SIZE_MAX;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->rec[i]);
	free(c->rec);
	free(c->len);
	collect_init(c);
}

static int collect_fn(void *arg, uint64_t index, const uint8_t *rec, size_t len)
{
	struct collect *c = arg;

	assert_int_equal(index, c->n);
	if (index == c->fail_at)
		return BUDDY_E_INVALID;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->rec = realloc(c->rec, c->cap * sizeof(*c->rec));
		c->len = realloc(c->len, c->cap * sizeof(*c->len));
		assert_non_null(c->rec);
		assert_non_null(c->len);
	}
	c->rec[c->n] = malloc(len);
	assert_non_null(c->rec[c->n]);
	memcpy(c->rec[c->n], rec, len);
	c->len[c->n] = len;
	c->n++;
	return 0;
}

/* Record i of a test: deterministic bytes, so a replay can be checked without keeping copies. */
static uint8_t *make_rec(uint64_t i, size_t len)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	for (size_t j = 0; j < len; j++)
		p[j] = (uint8_t)(i * 131 + j * 7 + (j >> 8));
	return p;
}

static size_t size_of(uint64_t i)
{
	return 1 + (size_t)((i * 37) % 300);
}

static void append_n(struct buddy_store *s, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++) {
		uint8_t *r = make_rec(i, size_of(i));

		assert_int_equal(buddy_store_append(s, r, size_of(i)), 0);
		free(r);
	}
}

static void check_rec(const struct collect *c, size_t k, uint64_t i, size_t len)
{
	uint8_t *r = make_rec(i, len);

	assert_true(k < c->n);
	assert_int_equal(c->len[k], len);
	assert_memory_equal(c->rec[k], r, len);
	free(r);
}

static void check_n(const struct collect *c, uint64_t n)
{
	assert_int_equal(c->n, n);
	for (uint64_t i = 0; i < n; i++)
		check_rec(c, i, i, size_of(i));
}

static void seg_path(char *out, const char *dir, unsigned seg)
{
	snprintf(out, 128, "%s/%08u.log", dir, seg);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void spit(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return st.st_size;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Byte offset of record k in a segment's bytes. */
static size_t rec_off(const uint8_t *buf, size_t len, size_t k)
{
	size_t off = HDR;

	for (size_t i = 0; i < k; i++) {
		assert_true(off + REC_HDR <= len);
		off += REC_HDR + get32(buf + off);
	}
	return off;
}

static int open_c(struct fixture *f, struct collect *c, struct buddy_store **s,
		  struct buddy_store_info *info)
{
	collect_free(c);
	return buddy_store_open(f->dir, f->key, collect_fn, c, s, info);
}

/* A closed store in f->dir with records 0..n-1 in one segment. */
static void make_store(struct fixture *f, uint64_t n)
{
	struct buddy_store *s;

	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	append_n(s, 0, n);
	buddy_store_close(s);
}

/* Opening must fail with err at (seg, index) and leave the segment byte-identical. */
static void expect_damage(struct fixture *f, const char *path, int err, uint32_t seg, uint64_t off,
			  uint64_t index)
{
	struct buddy_store_info info;
	struct buddy_store *s = NULL;
	struct collect c;
	size_t n0, n1;
	uint8_t *before = slurp(path, &n0), *after;

	collect_init(&c);
	assert_int_equal(open_c(f, &c, &s, &info), err);
	assert_null(s);
	assert_int_equal(info.bad_segment, seg);
	assert_int_equal(info.bad_offset, off);
	assert_int_equal(info.bad_index, index);
	after = slurp(path, &n1);
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	free(before);
	free(after);
	collect_free(&c);
}

/* ---- tests ---- */

static void test_store_open_empty_creates_segment(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	char p[128];
	size_t n;
	uint8_t *b;

	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, &info), 0);
	assert_int_equal(info.records, 0);
	assert_int_equal(info.segments, 1);
	assert_int_equal(info.torn_bytes, 0);
	assert_int_equal(buddy_store_count(s), 0);
	buddy_store_close(s);

	seg_path(p, f->dir, 1);
	b = slurp(p, &n);
	assert_int_equal(n, HDR);
	assert_memory_equal(b, "BUDDYLOG\0\1\0\x20\0\0\0\1", 16);
	free(b);
}

static void test_store_roundtrip_varied_sizes(void **state)
{
	static const size_t sizes[] = {1, 2, 15, 16, 17, 100, 4095, 65536, BUDDY_STORE_RECORD_MAX};
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = make_rec(i, sizes[i]);

		assert_int_equal(buddy_store_append(s, r, sizes[i]), 0);
		free(r);
	}
	assert_int_equal(buddy_store_count(s), n);
	buddy_store_close(s);

	assert_int_equal(open_c(f, &c, &s, &info), 0);
	assert_int_equal(info.records, n);
	assert_int_equal(c.n, n);
	for (size_t i = 0; i < n; i++)
		check_rec(&c, i, i, sizes[i]);
	buddy_store_close(s);
	collect_free(&c);
}

static void test_store_reopen_append_more(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;

	collect_init(&c);
	for (int round = 0; round < 4; round++) {
		assert_int_equal(open_c(f, &c, &s, &info), 0);
		check_n(&c, (uint64_t)round * 10);
		append_n(s, (uint64_t)round * 10, 10);
		assert_int_equal(buddy_store_count(s), (round + 1) * 10);
		buddy_store_close(s);
	}
	assert_int_equal(open_c(f, &c, &s, &info), 0);
	assert_int_equal(info.segments, 1);
	check_n(&c, 40);
	buddy_store_close(s);
	collect_free(&c);
}

static void test_store_batch_group_commit(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_batch *b;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	const uint64_t n = 20000;

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	assert_null(buddy_store_take(s));
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *r = make_rec(i, size_of(i));

		assert_int_equal(buddy_store_stage(s, r, size_of(i)), 0);
		free(r);
	}
	assert_int_equal(buddy_store_staged(s), n);
	b = buddy_store_take(s);
	assert_non_null(b);
	assert_int_equal(buddy_store_staged(s), 0);
	assert_int_equal(buddy_store_batch_count(b), n);
	/* staging goes on while the batch is out; it is the next batch */
	{
		uint8_t *r = make_rec(n, size_of(n));

		assert_int_equal(buddy_store_stage(s, r, size_of(n)), 0);
		free(r);
	}
	assert_int_equal(buddy_store_staged(s), 1);
	assert_int_equal(buddy_store_count(s), 0);
	assert_int_equal(buddy_store_write(s, b), 0);
	buddy_store_batch_free(b);
	assert_int_equal(buddy_store_count(s), n);
	b = buddy_store_take(s);
	assert_int_equal(buddy_store_batch_count(b), 1);
	assert_int_equal(buddy_store_write(s, b), 0);
	buddy_store_batch_free(b);
	assert_int_equal(buddy_store_count(s), n + 1);
	buddy_store_close(s);

	assert_int_equal(open_c(f, &c, &s, &info), 0);
	assert_int_equal(info.records, n + 1);
	check_n(&c, n + 1);
	buddy_store_close(s);
	collect_free(&c);
}

static void test_store_stage_bad_length_rejected(void **state)
{
	struct fixture *f = *state;
	struct buddy_store *s;
	uint8_t *big = calloc(1, BUDDY_STORE_RECORD_MAX + 1);

	assert_non_null(big);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	assert_int_equal(buddy_store_stage(s, big, 0), BUDDY_E_INVALID);
	assert_int_equal(buddy_store_stage(s, big, BUDDY_STORE_RECORD_MAX + 1), BUDDY_E_TOOBIG);
	assert_int_equal(buddy_store_staged(s), 0);
	buddy_store_close(s);
	free(big);
	/* freeing nothing is fine */
	buddy_store_close(NULL);
	buddy_store_batch_free(NULL);
}

static void test_store_unwritten_stage_discarded_on_close(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	append_n(s, 0, 3);
	assert_int_equal(buddy_store_stage(s, (const uint8_t *)"never written", 13), 0);
	buddy_store_batch_free(buddy_store_take(s)); /* a batch freed unwritten */
	assert_int_equal(buddy_store_stage(s, (const uint8_t *)"never written", 13), 0);
	buddy_store_close(s);
	assert_int_equal(open_c(f, &c, &s, &info), 0);
	check_n(&c, 3);
	buddy_store_close(s);
	collect_free(&c);
}

static void test_store_segment_rollover(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_batch *b;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	uint64_t n = 0;
	char p[128];

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	buddy_store_set_segment_max_for_test(s, 4096);
	append_n(s, n, 30); /* single appends */
	n += 30;
	for (uint64_t i = n; i < n + 300; i++) { /* one batch spanning many segments */
		uint8_t *r = make_rec(i, size_of(i));

		assert_int_equal(buddy_store_stage(s, r, size_of(i)), 0);
		free(r);
	}
	b = buddy_store_take(s);
	assert_int_equal(buddy_store_write(s, b), 0);
	buddy_store_batch_free(b);
	n += 300;
	buddy_store_close(s);

	assert_int_equal(open_c(f, &c, &s, &info), 0);
	check_n(&c, n);
	assert_true(info.segments > 10);
	for (unsigned k = 1; k <= info.segments; k++) {
		seg_path(p, f->dir, k);
		assert_true(file_size(p) > HDR);
		assert_true(file_size(p) <= 4096);
	}
	seg_path(p, f->dir, info.segments + 1);
	assert_int_equal(file_size(p), -1);

	/* a record bigger than a segment gets an empty one to itself */
	buddy_store_set_segment_max_for_test(s, 4096);
	{
		uint32_t before = info.segments;
		uint8_t *r = make_rec(n, 10000);

		assert_int_equal(buddy_store_append(s, r, 10000), 0);
		free(r);
		append_n(s, n + 1, 1);
		buddy_store_close(s);
		assert_int_equal(open_c(f, &c, &s, &info), 0);
		assert_int_equal(info.segments, before + 2);
		assert_int_equal(c.n, n + 2);
		check_rec(&c, n, n, 10000);
		check_rec(&c, n + 1, n + 1, size_of(n + 1));
		seg_path(p, f->dir, before + 1);
		assert_int_equal(file_size(p), HDR + REC_HDR + 10000 + TAG);
	}
	buddy_store_close(s);
	collect_free(&c);
}

static void test_store_torn_tail_every_offset_cut(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	size_t len, start;
	uint8_t *orig, *last = make_rec(4, 40);
	char p[128];

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	append_n(s, 0, 4);
	assert_int_equal(buddy_store_append(s, last, 40), 0);
	buddy_store_close(s);
	seg_path(p, f->dir, 1);
	orig = slurp(p, &len);
	start = rec_off(orig, len, 4);
	assert_int_equal(len, start + REC_HDR + 40 + TAG);

	for (size_t cut = start; cut < len; cut++) {
		spit(p, orig, cut);
		assert_int_equal(open_c(f, &c, &s, &info), 0);
		assert_int_equal(info.records, 4);
		assert_int_equal(info.torn_bytes, cut - start);
		assert_int_equal(file_size(p), start);
		check_n(&c, 4);
		/* recovered: the next append lands where the torn one was */
		assert_int_equal(buddy_store_append(s, last, 40), 0);
		buddy_store_close(s);
		assert_int_equal(open_c(f, &c, &s, &info), 0);
		assert_int_equal(info.torn_bytes, 0);
		assert_int_equal(c.n, 5);
		check_rec(&c, 4, 4, 40);
		buddy_store_close(s);
	}
	free(orig);
	free(last);
	collect_free(&c);
}

static void test_store_torn_zero_filled_tail_cut(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	uint8_t *buf, *grown;
	size_t len;
	char p[128];

	collect_init(&c);
	make_store(f, 3);
	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	grown = calloc(1, len + 4096);
	memcpy(grown, buf, len);
	spit(p, grown, len + 4096);

	assert_int_equal(open_c(f, &c, &s, &info), 0);
	assert_int_equal(info.torn_bytes, 4096);
	check_n(&c, 3);
	assert_int_equal(file_size(p), len);
	buddy_store_close(s);
	free(buf);
	free(grown);
	collect_free(&c);
}

static void test_store_torn_segment_header_rewritten(void **state)
{
	static const size_t cuts[] = {0, 1, 8, 16, 17, 31};
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	uint8_t hdr[HDR], *seg1;
	size_t len;
	char p1[128], p2[128];

	collect_init(&c);
	make_store(f, 3);
	seg_path(p1, f->dir, 1);
	seg_path(p2, f->dir, 2);
	seg1 = slurp(p1, &len);
	/* what segment 2's header will be: same store id, number 2 */
	memcpy(hdr, seg1, HDR);
	put32(hdr + 12, 2);

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		unlink(p2);
		spit(p2, hdr, cuts[i]);
		assert_int_equal(open_c(f, &c, &s, &info), 0);
		assert_int_equal(info.segments, 2);
		assert_int_equal(info.torn_bytes, cuts[i]);
		check_n(&c, 3);
		assert_int_equal(file_size(p2), HDR);
		append_n(s, 3, 1);
		buddy_store_close(s);
		assert_int_equal(open_c(f, &c, &s, &info), 0);
		assert_int_equal(info.segments, 2);
		check_n(&c, 4);
		buddy_store_close(s);
		spit(p1, seg1, len); /* forget record 3 again: it went to segment 2 */
	}

	/* bytes that are not a prefix of the header are not a crash */
	unlink(p2);
	spit(p2, (const uint8_t *)"NOTALOG", 7);
	expect_damage(f, p2, BUDDY_E_CORRUPT, 2, 0, 3);
	free(seg1);
	collect_free(&c);
}

static void flip_each_bit(struct fixture *f, size_t k, size_t nrec)
{
	uint8_t *buf;
	size_t len, start, end;
	char p[128];

	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	start = rec_off(buf, len, k);
	end = k + 1 < nrec ? rec_off(buf, len, k + 1) : len;
	for (size_t i = start; i < end; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			spit(p, buf, len);
			expect_damage(f, p, BUDDY_E_CORRUPT, 1, start, k);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	spit(p, buf, len);
	free(buf);
}

static void test_store_bitflip_middle_record_corrupt(void **state)
{
	struct fixture *f = *state;

	make_store(f, 5);
	flip_each_bit(f, 2, 5);
}

static void test_store_bitflip_last_record_corrupt_not_torn(void **state)
{
	struct fixture *f = *state;

	make_store(f, 5);
	flip_each_bit(f, 4, 5);
}

static void test_store_bitflip_in_older_segment_corrupt(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	uint8_t *buf;
	size_t len, off;
	char p[128];

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	buddy_store_set_segment_max_for_test(s, 1024);
	append_n(s, 0, 40);
	buddy_store_close(s);
	assert_int_equal(open_c(f, &c, &s, &info), 0);
	buddy_store_close(s);
	assert_true(info.segments >= 3);

	/* first record of segment 2: its index is the record count of segment 1 */
	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	{
		uint64_t first2 = 0, n2 = 0;

		for (off = HDR; off < len; off += REC_HDR + get32(buf + off))
			first2++;
		free(buf);
		seg_path(p, f->dir, 2);
		buf = slurp(p, &len);
		for (off = HDR; off < len; off += REC_HDR + get32(buf + off))
			n2++;
		buf[HDR + REC_HDR + 3] ^= 0x40;
		spit(p, buf, len);
		expect_damage(f, p, BUDDY_E_CORRUPT, 2, HDR, first2);
		buf[HDR + REC_HDR + 3] ^= 0x40;
		/* a record cut short in a segment that is not the last is damage, not a tear */
		spit(p, buf, len - 5);
		expect_damage(f, p, BUDDY_E_CORRUPT, 2, rec_off(buf, len, n2 - 1), first2 + n2 - 1);
	}
	free(buf);
	collect_free(&c);
}

static void test_store_swapped_records_corrupt(void **state)
{
	struct fixture *f = *state;
	struct buddy_store *s;
	uint8_t *buf, *r = make_rec(0, 50);
	size_t len, a, b;
	char p[128];

	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(buddy_store_append(s, r, 50), 0); /* same length each */
	buddy_store_close(s);
	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	a = rec_off(buf, len, 1);
	b = rec_off(buf, len, 3);
	{
		uint8_t tmp[REC_HDR + 50 + TAG];

		memcpy(tmp, buf + a, sizeof(tmp));
		memcpy(buf + a, buf + b, sizeof(tmp));
		memcpy(buf + b, tmp, sizeof(tmp));
	}
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_CORRUPT, 1, a, 1);
	free(buf);
	free(r);
}

static void test_store_record_from_other_store_rejected(void **state)
{
	struct fixture *f = *state;
	struct buddy_store *s;
	uint8_t *pristine, *mine, *theirs, *grown;
	size_t n1, n2, off;
	char p1[128], p2[128];

	/* same key, same record contents, same positions: only the store id differs */
	make_store(f, 4);
	assert_int_equal(buddy_store_open(f->dir2, f->key, NULL, NULL, &s, NULL), 0);
	append_n(s, 0, 5);
	buddy_store_close(s);
	seg_path(p1, f->dir, 1);
	seg_path(p2, f->dir2, 1);
	pristine = slurp(p1, &n1);
	mine = slurp(p1, &n1);
	theirs = slurp(p2, &n2);

	off = rec_off(mine, n1, 2);
	memcpy(mine + off, theirs + off, REC_HDR + size_of(2) + TAG);
	spit(p1, mine, n1);
	expect_damage(f, p1, BUDDY_E_CORRUPT, 1, off, 2);

	/* appended whole at the end: complete, so not a torn tail either */
	off = rec_off(theirs, n2, 4);
	grown = malloc(n1 + n2 - off);
	assert_non_null(grown);
	memcpy(grown, pristine, n1);
	memcpy(grown + n1, theirs + off, n2 - off);
	spit(p1, grown, n1 + n2 - off);
	expect_damage(f, p1, BUDDY_E_CORRUPT, 1, n1, 4);
	free(grown);
	free(pristine);
	free(mine);
	free(theirs);
}

static void test_store_segment_from_other_store_rejected(void **state)
{
	struct fixture *f = *state;
	struct buddy_store *s;
	uint8_t *theirs;
	size_t n;
	char p[128];

	for (int i = 0; i < 2; i++) {
		const char *dir = i ? f->dir2 : f->dir;

		assert_int_equal(buddy_store_open(dir, f->key, NULL, NULL, &s, NULL), 0);
		buddy_store_set_segment_max_for_test(s, 512);
		append_n(s, 0, 10);
		buddy_store_close(s);
	}
	seg_path(p, f->dir2, 2);
	theirs = slurp(p, &n);
	seg_path(p, f->dir, 2);
	spit(p, theirs, n);
	{
		/* records in segment 1 */
		size_t len, off;
		uint64_t k = 0;
		char p1[128];
		uint8_t *b1;

		seg_path(p1, f->dir, 1);
		b1 = slurp(p1, &len);
		for (off = HDR; off < len; off += REC_HDR + get32(b1 + off))
			k++;
		free(b1);
		expect_damage(f, p, BUDDY_E_CORRUPT, 2, 0, k);
	}
	free(theirs);
}

static void test_store_wrong_key_auth(void **state)
{
	struct fixture *f = *state;
	struct buddy_store *s;
	char p[128];

	make_store(f, 3);
	seg_path(p, f->dir, 1);
	f->key[0] ^= 1;
	expect_damage(f, p, BUDDY_E_AUTH, 1, HDR, 0);
	f->key[0] ^= 1;
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	assert_int_equal(buddy_store_count(s), 3);
	buddy_store_close(s);
}

static void test_store_length_over_limit_corrupt(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf;
	size_t len, mid, last;
	uint32_t mid_len;
	char p[128];

	make_store(f, 5);
	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	mid = rec_off(buf, len, 2);
	last = rec_off(buf, len, 4);
	mid_len = get32(buf + mid);

	put32(buf + mid, 0xffffffff);
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_CORRUPT, 1, mid, 2);
	put32(buf + mid, mid_len);

	/* on the last record too: a crash never writes a length over the limit */
	put32(buf + last, BUDDY_STORE_RECORD_MAX + TAG + 1);
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_CORRUPT, 1, last, 4);
	/* and a body shorter than a tag */
	put32(buf + last, TAG - 1);
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_CORRUPT, 1, last, 4);
	free(buf);
}

static void test_store_unknown_version_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf;
	size_t len;
	char p[128];

	make_store(f, 2);
	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	buf[9] = 2;
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_VERSION, 1, 0, 0);
	buf[9] = 1;
	buf[0] = 'X';
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_CORRUPT, 1, 0, 0);
	free(buf);
}

static void test_store_segment_gap_corrupt(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	char p[128], q[128];

	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	buddy_store_set_segment_max_for_test(s, 512);
	append_n(s, 0, 12);
	buddy_store_close(s);
	seg_path(p, f->dir, 2);
	seg_path(q, f->dir, 2);
	strcat(q, ".moved");
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, &info), BUDDY_E_CORRUPT);
	assert_null(s);
	assert_int_equal(info.bad_segment, 2);
	assert_int_equal(rename(q, p), 0);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, &info), 0);
	assert_int_equal(info.records, 12);
	buddy_store_close(s);
}

static void test_store_files_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	mode_t old = umask(0);
	struct stat st;
	char p[128];

	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	buddy_store_set_segment_max_for_test(s, 512);
	append_n(s, 0, 12);
	buddy_store_close(s);
	umask(old);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, &info), 0);
	buddy_store_close(s);
	assert_true(info.segments > 1);
	for (unsigned k = 1; k <= info.segments; k++) {
		seg_path(p, f->dir, k);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
}

static void test_store_dir_open_to_others_refused(void **state)
{
	struct fixture *f = *state;
	struct buddy_store *s;

	assert_int_equal(chmod(f->dir, 0750), 0);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), BUDDY_E_PERM);
	assert_int_equal(buddy_store_open("/nonexistent/buddy", f->key, NULL, NULL, &s, NULL),
			 BUDDY_E_NOTFOUND);
}

static void test_store_no_plaintext_on_disk(void **state)
{
	static const char marker[] = "MARKER-plaintext-should-never-hit-disk";
	struct fixture *f = *state;
	struct buddy_store *s;
	uint8_t *buf;
	size_t len;
	char p[128];

	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(buddy_store_stage(s, (const uint8_t *)marker, sizeof(marker)), 0);
	{
		struct buddy_store_batch *b = buddy_store_take(s);

		assert_int_equal(buddy_store_write(s, b), 0);
		buddy_store_batch_free(b);
	}
	buddy_store_close(s);
	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	assert_null(memmem(buf, len, marker, 6));
	assert_null(memmem(buf, len, "plaintext", 9));
	free(buf);
}

static void test_store_replay_error_stops_open(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	uint8_t *before, *after;
	size_t n0, n1;
	char p[128];

	make_store(f, 5);
	seg_path(p, f->dir, 1);
	before = slurp(p, &n0);
	spit(p, before, n0 - 3); /* a torn tail that must not be cut when open fails */
	free(before);
	before = slurp(p, &n0);
	collect_init(&c);
	c.fail_at = 2;
	assert_int_equal(buddy_store_open(f->dir, f->key, collect_fn, &c, &s, &info),
			 BUDDY_E_INVALID);
	assert_null(s);
	assert_int_equal(c.n, 2);
	after = slurp(p, &n1);
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	free(before);
	free(after);
	collect_free(&c);
}

/* The replay pipeline (store.c: a helper thread opens records ahead in 64 KiB chunks) on a
 * store long enough for it to run ahead: 5,000 records of varied sizes with records over a
 * chunk (70 KiB and 200 KiB) in the middle. Every record comes back in order; a flipped bit in
 * a late record, a torn tail and a callback failure deep in the stream are each reported at the
 * same record, with the file unchanged, as the single-threaded path did. */
#define PIPE_N 5000
static size_t pipe_size(uint64_t i)
{
	return i == 1234 ? 70 * 1024 : i == 3000 ? 200 * 1024 : size_of(i);
}

static void test_store_pipeline_long_replay(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct collect c;
	uint8_t *buf;
	size_t len, start;
	char p[128];

	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	for (uint64_t i = 0; i < PIPE_N; i++) {
		uint8_t *r = make_rec(i, pipe_size(i));

		assert_int_equal(buddy_store_append(s, r, pipe_size(i)), 0);
		free(r);
	}
	buddy_store_close(s);

	collect_init(&c);
	assert_int_equal(open_c(f, &c, &s, &info), 0);
	buddy_store_close(s);
	assert_int_equal(c.n, PIPE_N);
	for (uint64_t i = 0; i < PIPE_N; i++)
		check_rec(&c, i, i, pipe_size(i));

	/* a callback failure deep in the stream stops the open there */
	collect_free(&c);
	c.fail_at = 4321;
	assert_int_equal(buddy_store_open(f->dir, f->key, collect_fn, &c, &s, &info),
			 BUDDY_E_INVALID);
	assert_null(s);
	assert_int_equal(c.n, 4321);
	collect_free(&c);

	/* one flipped bit in record 4000 (past several chunks, after a big record) */
	seg_path(p, f->dir, 1);
	buf = slurp(p, &len);
	start = rec_off(buf, len, 4000);
	buf[start + REC_HDR + 3] ^= 0x10;
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_CORRUPT, 1, start, 4000);
	buf[start + REC_HDR + 3] ^= 0x10;

	/* the big record itself damaged */
	start = rec_off(buf, len, 3000);
	buf[start + REC_HDR + 100000] ^= 0x01;
	spit(p, buf, len);
	expect_damage(f, p, BUDDY_E_CORRUPT, 1, start, 3000);
	buf[start + REC_HDR + 100000] ^= 0x01;

	/* a torn last record: cut, everything before it served */
	spit(p, buf, len - 5);
	collect_init(&c);
	assert_int_equal(open_c(f, &c, &s, &info), 0);
	buddy_store_close(s);
	assert_int_equal(c.n, PIPE_N - 1);
	for (uint64_t i = 0; i < PIPE_N - 1; i++)
		check_rec(&c, i, i, pipe_size(i));
	free(buf);
	collect_free(&c);
}

/* Makes writes past limit bytes fail with EFBIG (SIGXFSZ ignored) until undone. */
static void limit_file_size(rlim_t limit, struct rlimit *saved)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, saved), 0);
	rl = *saved;
	rl.rlim_cur = limit;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void unlimit_file_size(const struct rlimit *saved)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, saved), 0);
	signal(SIGXFSZ, SIG_DFL);
}

static void stage_range(struct buddy_store *s, uint64_t first, uint64_t n, size_t len)
{
	for (uint64_t i = first; i < first + n; i++) {
		uint8_t *r = make_rec(i, len);

		assert_int_equal(buddy_store_stage(s, r, len), 0);
		free(r);
	}
}

static void test_store_write_failure_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_batch *b;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct rlimit saved;
	struct collect c;
	off_t size0;
	char p[128];

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	append_n(s, 0, 10);
	seg_path(p, f->dir, 1);
	size0 = file_size(p);

	stage_range(s, 10, 100, 100);
	b = buddy_store_take(s);
	limit_file_size((rlim_t)size0 + 1000, &saved);
	assert_int_equal(buddy_store_write(s, b), BUDDY_E_IO);
	unlimit_file_size(&saved);
	assert_int_equal(file_size(p), size0);
	assert_int_equal(buddy_store_count(s), 10);
	buddy_store_batch_free(b);

	append_n(s, 10, 1);
	buddy_store_close(s);
	assert_int_equal(open_c(f, &c, &s, &info), 0);
	assert_int_equal(info.torn_bytes, 0);
	check_n(&c, 11);
	buddy_store_close(s);
	collect_free(&c);
}

static void test_store_write_failure_across_segments_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct buddy_store_batch *b;
	struct buddy_store_info info;
	struct buddy_store *s;
	struct rlimit saved;
	struct collect c;
	off_t size0;
	char p[128];

	collect_init(&c);
	assert_int_equal(buddy_store_open(f->dir, f->key, NULL, NULL, &s, NULL), 0);
	buddy_store_set_segment_max_for_test(s, 4096);
	append_n(s, 0, 5);
	seg_path(p, f->dir, 1);
	size0 = file_size(p);

	/* fills segment 1, creates 2 and 3; then a record too big for the limit creates 4 */
	stage_range(s, 5, 60, 100);
	stage_range(s, 99, 1, 9000);
	b = buddy_store_take(s);
	assert_int_equal(buddy_store_batch_count(b), 61);
	limit_file_size(8192, &saved);
	assert_int_equal(buddy_store_write(s, b), BUDDY_E_IO);
	unlimit_file_size(&saved);
	buddy_store_batch_free(b);

	assert_int_equal(file_size(p), size0);
	for (unsigned k = 2; k <= 6; k++) {
		seg_path(p, f->dir, k);
		assert_int_equal(file_size(p), -1);
	}
	assert_int_equal(buddy_store_count(s), 5);
	append_n(s, 5, 1);
	buddy_store_close(s);
	assert_int_equal(open_c(f, &c, &s, &info), 0);
	assert_int_equal(info.segments, 1);
	check_n(&c, 6);
	buddy_store_close(s);
	collect_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_store_pipeline_long_replay),
		T(test_store_open_empty_creates_segment),
		T(test_store_roundtrip_varied_sizes),
		T(test_store_reopen_append_more),
		T(test_store_batch_group_commit),
		T(test_store_stage_bad_length_rejected),
		T(test_store_unwritten_stage_discarded_on_close),
		T(test_store_segment_rollover),
		T(test_store_torn_tail_every_offset_cut),
		T(test_store_torn_zero_filled_tail_cut),
		T(test_store_torn_segment_header_rewritten),
		T(test_store_bitflip_middle_record_corrupt),
		T(test_store_bitflip_last_record_corrupt_not_torn),
		T(test_store_bitflip_in_older_segment_corrupt),
		T(test_store_swapped_records_corrupt),
		T(test_store_record_from_other_store_rejected),
		T(test_store_segment_from_other_store_rejected),
		T(test_store_wrong_key_auth),
		T(test_store_length_over_limit_corrupt),
		T(test_store_unknown_version_refused),
		T(test_store_segment_gap_corrupt),
		T(test_store_files_mode_0600),
		T(test_store_dir_open_to_others_refused),
		T(test_store_no_plaintext_on_disk),
		T(test_store_replay_error_stops_open),
		T(test_store_write_failure_rolls_back),
		T(test_store_write_failure_across_segments_rolls_back),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
