/* The encrypted append-only record log (format: proto/STORE.md, "Journal log").
 *
 *   segment  = header(32) record*
 *   header   = "BUDDYLOG" u16be(version=1) u16be(header length=32) u32be(segment) store_id(16)
 *   record   = u32be(L) u8(version=1) nonce(24) XChaCha20-Poly1305(key, nonce, ad, plaintext)
 *   L        = plaintext length + 16
 *   key      = crypto_kdf_derive_from_key(32, 1, "bdystore", data key)
 *   ad       = store_id(16) u32be(segment) u64be(global index) u32be(L) u8(version)
 *
 * Only the last segment may end in a torn record (a crash mid-append); it is cut at open.
 * Anything else that does not authenticate is reported and left exactly as found. */
#include "buddy/store.h"
#include "buddy/error.h"
#include "buddy/limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define SEG_MAGIC     "BUDDYLOG"
#define SEG_VERSION   1
#define SEG_HDR_LEN   32
#define SEG_NUM_MAX   99999999u /* eight decimal digits in the file name */
#define STORE_ID_LEN  16
#define REC_VERSION   1
#define NONCE_LEN     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN	      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define REC_HDR_LEN   (4 + 1 + NONCE_LEN)
#define BODY_MAX      (BUDDY_STORE_RECORD_MAX + TAG_LEN)
#define AD_LEN	      (STORE_ID_LEN + 4 + 8 + 4 + 1)
#define KDF_CONTEXT   "bdystore"
#define KDF_SUBKEY_ID 1
#define WRITE_CHUNK   (4u << 20) /* bytes gathered before one write() call */

/* Replay pipeline (see "Opening ahead" below). */
#define AHEAD_CHUNKS	  8	      /* chunks of opened records in flight */
#define AHEAD_CHUNK_RECS  256	      /* records per chunk at most */
#define AHEAD_CHUNK_BYTES (64u << 10) /* plaintext bytes per chunk; a larger record: owner */
#define AHEAD_NONE	  UINT32_MAX  /* not opened ahead: the owner opens it itself */

struct stage {
	uint8_t *buf; /* [u32 len][bytes]..., plaintext: wiped before free */
	size_t len;
	size_t cap;
	size_t count;
};

struct buddy_store_batch {
	uint8_t *buf; /* taken over from the stage */
	size_t len;
	size_t count;
};

struct buddy_store {
	int dirfd;
	int fd;		   /* the last segment, the only one ever written */
	uint32_t seg;	   /* its number */
	uint64_t seg_size; /* its durable size */
	uint64_t seg_max;
	uint64_t records;
	int broken; /* a failed write could not be undone: refuse further writes */
	uint8_t id[STORE_ID_LEN];
	uint8_t *key; /* sodium_malloc, read-only once derived */

	struct stage stage; /* owner thread only */

	uint8_t *wbuf; /* sealed records on their way to disk; writer thread only */
	size_t wcap;
	uint8_t *nonces;
	size_t ncap;
};

/* One record of a chunk, as the helper left it. */
struct opened {
	uint64_t off;  /* its byte offset in the segment */
	uint32_t body; /* its L */
	uint32_t pt;   /* where its plaintext is in the chunk, or AHEAD_NONE */
};

struct chunk {
	uint8_t *buf;  /* AHEAD_CHUNK_BYTES of the arena */
	uint32_t used; /* plaintext bytes in buf */
	uint32_t n;    /* records */
	struct opened rec[AHEAD_CHUNK_RECS];
};

/* The ring between the owner (applying records) and the helper (opening the next ones). The
 * store id and key are copied here: read next to the store's record count, which the owner
 * bumps at every record, they cost the helper a cache miss per record. */
struct ahead {
	/* set by the owner before the helper starts, then read-only */
	const uint8_t *key; /* the store's, sodium_malloc and read-only */
	uint8_t id[STORE_ID_LEN];
	const uint8_t *map; /* the segment being replayed, and its size */
	uint64_t size;
	uint32_t seg;
	uint64_t index; /* global index of the segment's first record */
	uint8_t *arena; /* sodium_malloc, AHEAD_CHUNKS * AHEAD_CHUNK_BYTES: plaintext */
	struct chunk chunk[AHEAD_CHUNKS];
	uv_thread_t thread;
	uv_mutex_t lock;
	uv_cond_t filled; /* a chunk was published, or the helper stopped: the owner waits */
	uv_cond_t space;  /* a chunk was handed back, or stop: the helper waits */
	uint64_t made;	  /* chunks published by the helper; under lock */
	uint64_t taken;	  /* chunks handed back by the owner; under lock */
	int done;	  /* the helper opens no more in this segment; under lock */
	int stop;	  /* the owner needs no more; under lock */
	/* owner only */
	int running;	   /* a helper thread runs for this segment */
	struct chunk *cur; /* the chunk being read, or NULL */
	uint32_t next;	   /* the next record of cur */
};

/* What open needs while replaying. */
struct replay {
	buddy_store_replay_fn fn;
	void *arg;
	uint8_t *pt; /* sodium_malloc, BUDDY_STORE_RECORD_MAX */
	struct buddy_store_info *info;
	struct ahead *ahead; /* NULL: one thread does it all */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		if (p[i])
			return 0;
	}
	return 1;
}

static void seg_name(char name[16], uint32_t seg)
{
	snprintf(name, 16, "%08u.log", (unsigned)seg);
}

/* "NNNNNNNN.log" exactly; anything else in the directory is not ours. */
static int parse_seg_name(const char *name, uint32_t *seg)
{
	uint32_t v = 0;

	if (strlen(name) != 12 || strcmp(name + 8, ".log") != 0)
		return 0;
	for (int i = 0; i < 8; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (uint32_t)(name[i] - '0');
	}
	*seg = v;
	return 1;
}

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return buddy_err_from_errno(errno);
		}
		if (n == 0)
			return BUDDY_E_IO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return buddy_err_from_errno(errno);
		}
		if (n == 0)
			return BUDDY_E_IO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int sync_file(int fd, int data_only)
{
	int r;

	do
		r = data_only ? fdatasync(fd) : fsync(fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? buddy_err_from_errno(errno) : 0;
}

static void make_header(uint8_t hdr[SEG_HDR_LEN], uint32_t seg, const uint8_t id[STORE_ID_LEN])
{
	memcpy(hdr, SEG_MAGIC, 8);
	put16(hdr + 8, SEG_VERSION);
	put16(hdr + 10, SEG_HDR_LEN);
	put32(hdr + 12, seg);
	memcpy(hdr + 16, id, STORE_ID_LEN);
}

static void make_ad(uint8_t ad[AD_LEN], const uint8_t id[STORE_ID_LEN], uint32_t seg,
		    uint64_t index, uint32_t body_len)
{
	memcpy(ad, id, STORE_ID_LEN);
	put32(ad + 16, seg);
	put64(ad + 20, index);
	put32(ad + 28, body_len);
	ad[32] = REC_VERSION;
}

/* Writes one record (REC_HDR_LEN + len + TAG_LEN bytes) at out. */
static void seal(const struct buddy_store *s, uint8_t *out, const uint8_t *pt, uint32_t len,
		 uint32_t seg, uint64_t index, const uint8_t nonce[NONCE_LEN])
{
	uint32_t body = len + TAG_LEN;
	uint8_t ad[AD_LEN];

	put32(out, body);
	out[4] = REC_VERSION;
	memcpy(out + 5, nonce, NONCE_LEN);
	make_ad(ad, s->id, seg, index, body);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + REC_HDR_LEN, NULL, pt, len, ad, AD_LEN,
						   NULL, out + 5, s->key);
}

/* Opens the record at rec as if its body were body_len bytes long, into pt. */
static int open_record(const uint8_t id[STORE_ID_LEN], const uint8_t *key, uint8_t *pt,
		       const uint8_t *rec, uint32_t body_len, uint32_t seg, uint64_t index)
{
	uint8_t ad[AD_LEN];

	make_ad(ad, id, seg, index, body_len);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, rec + REC_HDR_LEN, body_len,
						       ad, AD_LEN, rec + 5, key) != 0)
		return -1;
	return 0;
}

static int unseal(const struct buddy_store *s, uint8_t *pt, const uint8_t *rec, uint32_t body_len,
		  uint32_t seg, uint64_t index)
{
	return open_record(s->id, s->key, pt, rec, body_len, seg, index);
}

static int bad(struct replay *r, uint32_t seg, uint64_t off, uint64_t index, int err)
{
	r->info->bad_segment = seg;
	r->info->bad_offset = off;
	r->info->bad_index = index;
	return err;
}

/* The record at off claims to run past the end of the file. A crash can leave that only as
 * the very last thing in the file; a damaged length field also produces it, and would make us
 * cut good records. So look for proof that real records were there: the rest of the file is
 * exactly one record that authenticates, or the next record authenticates further on. */
static int length_damaged(const struct buddy_store *s, struct replay *r, uint32_t seg,
			  const uint8_t *map, uint64_t off, uint64_t size)
{
	uint64_t rem = size - off;
	uint64_t q;

	if (rem >= REC_HDR_LEN + TAG_LEN && rem - REC_HDR_LEN <= BODY_MAX &&
	    unseal(s, r->pt, map + off, (uint32_t)(rem - REC_HDR_LEN), seg, s->records) == 0)
		goto found;
	for (q = off + REC_HDR_LEN + TAG_LEN; q + REC_HDR_LEN + TAG_LEN <= size; q++) {
		uint32_t len = get32(map + q);

		if (map[q + 4] != REC_VERSION || len < TAG_LEN || len > BODY_MAX ||
		    len > size - q - REC_HDR_LEN)
			continue;
		if (unseal(s, r->pt, map + q, len, seg, s->records + 1) == 0)
			goto found;
	}
	return 0;
found:
	sodium_memzero(r->pt, BUDDY_STORE_RECORD_MAX);
	return 1;
}

/* ---- Opening ahead ----
 *
 * Why: a profile of buddyd starting on 1,000,000 records (issue #7, perf record -g) had 53% of
 * the start in libsodium opening records and nearly all the rest in the journal applying them,
 * both on one thread, one record after the other. So while the owner (the thread in
 * buddy_store_open) applies one record, a helper thread opens the next ones of the same segment
 * into a small ring of plaintext chunks; on two cores the start then takes about the longer of
 * the two halves instead of their sum (there: 1.11 s to serving before, 0.68 s after; the
 * helper's half is the longer one).
 *
 * The helper decides nothing. It opens only complete, well-framed records, stops at the first
 * other thing or at the first record that does not authenticate, and skips (AHEAD_NONE) one too
 * big for a chunk. The owner walks the segment exactly as it would alone (framing, torn tail,
 * damage, errors, the replay callback in order) and at each record takes the helper's plaintext
 * if it has that record, or opens the record itself if not. Plaintext stays in sodium_malloc
 * memory; the owner wipes each record after its callback, and all of it at the end. */

/* Helper thread: fills c with the records from *off on, opened. Returns 0 where the helper
 * stops for good: the end of the segment, a record that fails the framing checks of
 * scan_records (the owner judges it), or one that does not authenticate (the owner opens it
 * again and reports it). */
static int ahead_fill(const struct ahead *a, struct chunk *c, uint64_t *off, uint64_t *index)
{
	c->n = 0;
	c->used = 0;
	while (c->n < AHEAD_CHUNK_RECS) {
		const uint8_t *p = a->map + *off;
		struct opened *o = &c->rec[c->n];
		uint32_t len, ptlen;
		int fits, ok = 1;

		if (*off >= a->size || a->size - *off < REC_HDR_LEN)
			return 0;
		len = get32(p);
		if (p[4] != REC_VERSION || len < TAG_LEN || len > BODY_MAX ||
		    len > a->size - *off - REC_HDR_LEN)
			return 0;
		ptlen = len - TAG_LEN;
		fits = ptlen <= AHEAD_CHUNK_BYTES - c->used;
		if (!fits && c->n)
			return 1; /* it starts the next chunk */
		o->off = *off;
		o->body = len;
		o->pt = AHEAD_NONE; /* so stays one too big for any chunk: the owner opens it */
		if (fits) {
			ok = !open_record(a->id, a->key, c->buf + c->used, p, len, a->seg, *index);
			if (ok) {
				o->pt = c->used;
				c->used += ptlen;
			}
		}
		c->n++;
		*off += REC_HDR_LEN + len;
		(*index)++;
		if (!ok)
			return 0;
	}
	return 1;
}

/* Helper thread: opens the segment's records, in order, into the chunks of the ring. A chunk is
 * the helper's alone from when the owner hands it back until it is published again. */
static void ahead_run(void *arg)
{
	struct ahead *a = arg;
	uint64_t off = SEG_HDR_LEN, index = a->index, made = 0;
	int more = 1;

	while (more) {
		struct chunk *c;

		uv_mutex_lock(&a->lock);
		while (made - a->taken == AHEAD_CHUNKS && !a->stop)
			uv_cond_wait(&a->space, &a->lock);
		more = !a->stop;
		uv_mutex_unlock(&a->lock);
		if (!more)
			break;
		c = &a->chunk[made % AHEAD_CHUNKS];
		more = ahead_fill(a, c, &off, &index);
		uv_mutex_lock(&a->lock);
		if (c->n)
			a->made = ++made;
		uv_cond_signal(&a->filled);
		uv_mutex_unlock(&a->lock);
	}
	uv_mutex_lock(&a->lock);
	a->done = 1;
	uv_cond_signal(&a->filled);
	uv_mutex_unlock(&a->lock);
}

/* Starts the helper on a mapped segment whose header checked out. Without it (one core, or no
 * thread to be had) the owner opens every record itself, which is just slower. */
static void ahead_start(struct replay *r, const struct buddy_store *s, uint32_t seg,
			const uint8_t *map, uint64_t size)
{
	struct ahead *a = r->ahead;

	if (!a)
		return;
	a->key = s->key;
	memcpy(a->id, s->id, STORE_ID_LEN);
	a->map = map;
	a->size = size;
	a->seg = seg;
	a->index = s->records;
	a->made = a->taken = 0;
	a->done = a->stop = 0;
	a->cur = NULL;
	a->next = 0;
	a->running = uv_thread_create(&a->thread, ahead_run, a) == 0;
}

/* Stops and joins the helper, and wipes whatever it opened that was not replayed. */
static void ahead_end(struct replay *r)
{
	struct ahead *a = r->ahead;

	if (!a || !a->running)
		return;
	uv_mutex_lock(&a->lock);
	a->stop = 1;
	uv_cond_signal(&a->space);
	uv_mutex_unlock(&a->lock);
	uv_thread_join(&a->thread);
	a->running = 0;
	a->cur = NULL;
	for (int i = 0; i < AHEAD_CHUNKS; i++) {
		sodium_memzero(a->chunk[i].buf, a->chunk[i].used);
		a->chunk[i].used = 0;
		a->chunk[i].n = 0;
	}
}

/* The plaintext of the complete record at off (body length len) if the helper opened it, else
 * NULL: the owner opens it itself. Valid until the next call; the caller wipes it after use. */
static uint8_t *ahead_take(struct replay *r, uint64_t off, uint32_t len)
{
	struct ahead *a = r->ahead;

	if (!a || !a->running)
		return NULL;
	for (;;) {
		if (a->cur && a->next < a->cur->n) {
			const struct opened *o = &a->cur->rec[a->next++];

			if (o->off != off || o->body != len) {
				/* both read the same mapping the same way: only a file changed
				 * under us gets here. Go on alone, from the bytes seen now. */
				ahead_end(r);
				return NULL;
			}
			return o->pt == AHEAD_NONE ? NULL : a->cur->buf + o->pt;
		}
		uv_mutex_lock(&a->lock);
		if (a->cur) {
			/* its records were wiped one by one after their callbacks */
			a->cur->used = 0;
			a->cur = NULL;
			a->taken++;
			uv_cond_signal(&a->space);
		}
		while (a->made == a->taken && !a->done)
			uv_cond_wait(&a->filled, &a->lock);
		if (a->made != a->taken) {
			a->cur = &a->chunk[a->taken % AHEAD_CHUNKS];
			a->next = 0;
		}
		uv_mutex_unlock(&a->lock);
		if (!a->cur)
			return NULL; /* the helper stopped before this record */
	}
}

static struct ahead *ahead_new(void)
{
	struct ahead *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->arena = sodium_malloc((size_t)AHEAD_CHUNKS * AHEAD_CHUNK_BYTES);
	if (!a->arena)
		goto fail;
	if (uv_mutex_init(&a->lock))
		goto fail_arena;
	if (uv_cond_init(&a->filled))
		goto fail_lock;
	if (uv_cond_init(&a->space))
		goto fail_filled;
	for (int i = 0; i < AHEAD_CHUNKS; i++)
		a->chunk[i].buf = a->arena + (size_t)i * AHEAD_CHUNK_BYTES;
	return a;
fail_filled:
	uv_cond_destroy(&a->filled);
fail_lock:
	uv_mutex_destroy(&a->lock);
fail_arena:
	sodium_free(a->arena);
fail:
	free(a);
	return NULL;
}

static void ahead_free(struct ahead *a)
{
	if (!a)
		return;
	uv_cond_destroy(&a->space);
	uv_cond_destroy(&a->filled);
	uv_mutex_destroy(&a->lock);
	sodium_free(a->arena); /* wipes it */
	free(a);
}

/* Replays the records of one mapped segment. *cut is where a torn tail starts (size: none). */
static int scan_records(struct buddy_store *s, struct replay *r, uint32_t seg, const uint8_t *map,
			uint64_t size, int last, uint64_t *cut)
{
	uint64_t off = SEG_HDR_LEN;

	*cut = size;
	while (off < size) {
		const uint8_t *p = map + off;
		uint64_t rem = size - off;
		uint8_t *pt;
		uint32_t len;
		int ret = 0;

		/* a header cut short, or a zero-filled tail the file system extended but never
		 * wrote: both only from a crash mid-append */
		if (rem < REC_HDR_LEN || (get32(p) == 0 && all_zero(p, rem))) {
			if (!last)
				return bad(r, seg, off, s->records, BUDDY_E_CORRUPT);
			*cut = off;
			return 0;
		}
		len = get32(p);
		/* a new record format comes with a new segment header version, so another
		 * record version inside a version 1 segment is damage */
		if (p[4] != REC_VERSION || len < TAG_LEN || len > BODY_MAX)
			return bad(r, seg, off, s->records, BUDDY_E_CORRUPT);
		if (len > rem - REC_HDR_LEN) {
			if (!last || length_damaged(s, r, seg, map, off, size))
				return bad(r, seg, off, s->records, BUDDY_E_CORRUPT);
			*cut = off;
			return 0;
		}
		pt = ahead_take(r, off, len);
		if (!pt) {
			if (unseal(s, r->pt, p, len, seg, s->records) != 0) {
				/* nothing has authenticated yet: most likely the wrong key */
				return bad(r, seg, off, s->records,
					   s->records == 0 ? BUDDY_E_AUTH : BUDDY_E_CORRUPT);
			}
			pt = r->pt;
		}
		if (r->fn)
			ret = r->fn(r->arg, s->records, pt, len - TAG_LEN);
		sodium_memzero(pt, len - TAG_LEN);
		if (ret)
			return ret;
		s->records++;
		off += REC_HDR_LEN + len;
	}
	return 0;
}

static int scan_segment(struct buddy_store *s, struct replay *r, uint32_t seg, const uint8_t *map,
			uint64_t size, int last, uint64_t *cut)
{
	int ret;

	ahead_start(r, s, seg, map, size);
	ret = scan_records(s, r, seg, map, size, last, cut);
	ahead_end(r);
	return ret;
}

static int check_header(struct buddy_store *s, struct replay *r, const uint8_t *hdr, uint32_t seg)
{
	if (memcmp(hdr, SEG_MAGIC, 8) != 0)
		return bad(r, seg, 0, s->records, BUDDY_E_CORRUPT);
	if (get16(hdr + 8) != SEG_VERSION)
		return bad(r, seg, 0, s->records, BUDDY_E_VERSION);
	if (get16(hdr + 10) != SEG_HDR_LEN || get32(hdr + 12) != seg)
		return bad(r, seg, 0, s->records, BUDDY_E_CORRUPT);
	if (seg == 1)
		memcpy(s->id, hdr + 16, STORE_ID_LEN);
	else if (memcmp(s->id, hdr + 16, STORE_ID_LEN) != 0)
		return bad(r, seg, 0, s->records, BUDDY_E_CORRUPT);
	return 0;
}

/* The last segment is shorter than its header: the crash came while it was being created.
 * What is there must be (a prefix of) that header, or zeros; it is written again whole. */
static int redo_header(struct buddy_store *s, struct replay *r, int fd, uint32_t seg, uint64_t size)
{
	uint8_t old[SEG_HDR_LEN], hdr[SEG_HDR_LEN];
	size_t known = SEG_HDR_LEN;
	int ret;

	if (seg == 1) {
		/* the store id was never durable anywhere: make a new one */
		known = 16;
		randombytes_buf(s->id, STORE_ID_LEN);
	}
	make_header(hdr, seg, s->id);
	ret = read_all(fd, old, (size_t)size, 0);
	if (ret)
		return ret;
	if (!all_zero(old, size) && memcmp(old, hdr, size < known ? (size_t)size : known) != 0)
		return bad(r, seg, 0, s->records, BUDDY_E_CORRUPT);
	ret = write_all(fd, hdr, SEG_HDR_LEN, 0);
	if (!ret)
		ret = sync_file(fd, 0);
	if (!ret)
		r->info->torn_bytes = size;
	return ret;
}

static int load_segment(struct buddy_store *s, struct replay *r, uint32_t seg, int last)
{
	uint8_t *map = NULL;
	uint64_t size, cut;
	struct stat st;
	char name[16];
	int fd, ret;

	seg_name(name, seg);
	fd = openat(s->dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return buddy_err_from_errno(errno);
	if (fstat(fd, &st) < 0) {
		ret = buddy_err_from_errno(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = bad(r, seg, 0, s->records, BUDDY_E_CORRUPT);
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (size < SEG_HDR_LEN) {
		if (!last) {
			ret = bad(r, seg, 0, s->records, BUDDY_E_CORRUPT);
			goto out;
		}
		ret = redo_header(s, r, fd, seg, size);
		size = SEG_HDR_LEN;
		goto keep;
	}
	/* one mapping per segment: no read() per record, and records need no copying */
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		map = NULL;
		ret = buddy_err_from_errno(errno);
		goto out;
	}
	madvise(map, (size_t)size, MADV_SEQUENTIAL);
	ret = check_header(s, r, map, seg);
	if (!ret)
		ret = scan_segment(s, r, seg, map, size, last, &cut);
	munmap(map, (size_t)size);
	if (ret)
		goto out;
	if (cut < size) {
		if (ftruncate(fd, (off_t)cut) < 0) {
			ret = buddy_err_from_errno(errno);
			goto out;
		}
		ret = sync_file(fd, 0);
		r->info->torn_bytes = size - cut;
		size = cut;
	}
keep:
	if (!ret && last) {
		s->fd = fd;
		s->seg = seg;
		s->seg_size = size;
		fd = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Segments must be numbered 1..n without a gap; returns n. */
static int count_segments(struct buddy_store *s, struct replay *r, uint32_t *n)
{
	uint32_t count = 0, max = 0, seg;
	int fd, ret = 0, zero = 0;
	struct dirent *e;
	DIR *d;

	fd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return buddy_err_from_errno(errno);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return buddy_err_from_errno(errno);
	}
	rewinddir(d);
	errno = 0;
	while ((e = readdir(d))) {
		if (!parse_seg_name(e->d_name, &seg))
			continue;
		count++;
		if (seg == 0)
			zero = 1;
		if (seg > max)
			max = seg;
	}
	if (errno)
		ret = buddy_err_from_errno(errno);
	closedir(d);
	if (ret)
		return ret;
	if (zero || count != max) {
		char name[16];

		/* names are unique, so a count that differs from the highest number is a gap */
		r->info->bad_segment = 0;
		for (seg = 1; seg <= max; seg++) {
			seg_name(name, seg);
			if (faccessat(s->dirfd, name, F_OK, 0) != 0) {
				r->info->bad_segment = seg;
				break;
			}
		}
		return BUDDY_E_CORRUPT;
	}
	*n = count;
	return 0;
}

/* Creates segment seg holding only its header, durably (file and directory entry). */
static int create_segment(struct buddy_store *s, uint32_t seg, int *fdp)
{
	uint8_t hdr[SEG_HDR_LEN];
	char name[16];
	int fd, ret;

	if (seg > SEG_NUM_MAX)
		return BUDDY_E_TOOBIG;
	seg_name(name, seg);
	fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return buddy_err_from_errno(errno);
	make_header(hdr, seg, s->id);
	ret = write_all(fd, hdr, SEG_HDR_LEN, 0);
	if (!ret)
		ret = sync_file(fd, 0);
	if (!ret)
		ret = sync_file(s->dirfd, 0);
	if (ret) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		sync_file(s->dirfd, 0);
		return ret;
	}
	*fdp = fd;
	return 0;
}

static int open_dir(struct buddy_store *s, const char *dir)
{
	struct stat st;

	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return BUDDY_E_NOTFOUND;
		if (errno == EACCES || errno == EPERM)
			return BUDDY_E_PERM;
		return buddy_err_from_errno(errno);
	}
	if (fstat(s->dirfd, &st) < 0)
		return buddy_err_from_errno(errno);
	/* the files are sealed, but their number and sizes still tell when the user writes */
	if (st.st_mode & 077)
		return BUDDY_E_PERM;
	return 0;
}

static int derive_key(struct buddy_store *s, const uint8_t data_key[32])
{
	s->key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	if (!s->key)
		return BUDDY_E_NOMEM;
	if (crypto_kdf_derive_from_key(s->key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
				       KDF_SUBKEY_ID, KDF_CONTEXT, data_key) != 0)
		return BUDDY_E_INTERNAL;
	sodium_mprotect_readonly(s->key);
	return 0;
}

int buddy_store_open(const char *dir, const uint8_t key[32], buddy_store_replay_fn fn, void *arg,
		     struct buddy_store **out, struct buddy_store_info *info)
{
	struct buddy_store_info scratch;
	struct replay r = {.fn = fn, .arg = arg};
	struct buddy_store *s = NULL;
	uint32_t n = 0;
	int ret;

	if (!info)
		info = &scratch;
	memset(info, 0, sizeof(*info));
	r.info = info;
	if (!dir || !key || !out)
		return BUDDY_E_INVALID;
	*out = NULL;
	if (sodium_init() < 0)
		return BUDDY_E_INTERNAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return BUDDY_E_NOMEM;
	s->dirfd = -1;
	s->fd = -1;
	s->seg_max = BUDDY_STORE_SEGMENT_MAX;
	ret = open_dir(s, dir);
	if (ret)
		goto out;
	ret = derive_key(s, key);
	if (ret)
		goto out;
	ret = count_segments(s, &r, &n);
	if (ret)
		goto out;
	if (n == 0) {
		randombytes_buf(s->id, STORE_ID_LEN);
		ret = create_segment(s, 1, &s->fd);
		if (ret)
			goto out;
		s->seg = n = 1;
		s->seg_size = SEG_HDR_LEN;
	} else {
		r.pt = sodium_malloc(BUDDY_STORE_RECORD_MAX);
		if (!r.pt) {
			ret = BUDDY_E_NOMEM;
			goto out;
		}
		/* a helper opening records ahead only pays with a second core to run on */
		if (uv_available_parallelism() > 1)
			r.ahead = ahead_new();
		for (uint32_t seg = 1; seg <= n && !ret; seg++)
			ret = load_segment(s, &r, seg, seg == n);
		if (ret)
			goto out;
	}
	info->segments = n;
	*out = s;
out:
	info->records = s->records;
	if (ret)
		buddy_store_close(s);
	ahead_free(r.ahead);
	sodium_free(r.pt);
	return ret;
}

static void stage_wipe(struct stage *st)
{
	if (st->buf) {
		sodium_memzero(st->buf, st->len);
		free(st->buf);
	}
	memset(st, 0, sizeof(*st));
}

void buddy_store_close(struct buddy_store *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	stage_wipe(&s->stage);
	sodium_free(s->key);
	free(s->wbuf);
	free(s->nonces);
	free(s);
}

int buddy_store_stage(struct buddy_store *s, const uint8_t *rec, size_t len)
{
	struct stage *st;
	size_t need;

	if (!s || !rec || !len)
		return BUDDY_E_INVALID;
	if (len > BUDDY_STORE_RECORD_MAX)
		return BUDDY_E_TOOBIG;
	st = &s->stage;
	if (st->len > SIZE_MAX - 4 - len)
		return BUDDY_E_NOMEM;
	need = st->len + 4 + len;
	if (need > st->cap) {
		size_t cap = st->cap > SIZE_MAX / 2 ? need : st->cap * 2;
		uint8_t *buf;

		if (cap < need)
			cap = need;
		if (cap < 4096)
			cap = 4096;
		/* not realloc: it could leave a copy of the plaintext behind unwiped */
		buf = malloc(cap);
		if (!buf)
			return BUDDY_E_NOMEM;
		if (st->buf) {
			memcpy(buf, st->buf, st->len);
			sodium_memzero(st->buf, st->len);
			free(st->buf);
		}
		st->buf = buf;
		st->cap = cap;
	}
	put32(st->buf + st->len, (uint32_t)len);
	memcpy(st->buf + st->len + 4, rec, len);
	st->len = need;
	st->count++;
	return 0;
}

void buddy_store_discard_staged(struct buddy_store *s)
{
	if (s)
		stage_wipe(&s->stage);
}

size_t buddy_store_staged(const struct buddy_store *s)
{
	return s ? s->stage.count : 0;
}

struct buddy_store_batch *buddy_store_take(struct buddy_store *s)
{
	struct buddy_store_batch *b;

	if (!s || !s->stage.count)
		return NULL;
	b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	b->buf = s->stage.buf;
	b->len = s->stage.len;
	b->count = s->stage.count;
	memset(&s->stage, 0, sizeof(s->stage));
	return b;
}

size_t buddy_store_batch_count(const struct buddy_store_batch *b)
{
	return b ? b->count : 0;
}

void buddy_store_batch_free(struct buddy_store_batch *b)
{
	if (!b)
		return;
	if (b->buf) {
		sodium_memzero(b->buf, b->len);
		free(b->buf);
	}
	free(b);
}

/* Undoes a failed batch: segments it created go, the one it started in is cut back. */
static void rollback(struct buddy_store *s, int fd, uint32_t seg)
{
	int broken = 0;
	char name[16];

	if (fd >= 0 && fd != s->fd)
		close(fd);
	for (uint32_t k = s->seg + 1; k <= seg; k++) {
		seg_name(name, k);
		if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
			broken = 1;
	}
	if (seg > s->seg && sync_file(s->dirfd, 0))
		broken = 1;
	if (ftruncate(s->fd, (off_t)s->seg_size) < 0 || sync_file(s->fd, 1))
		broken = 1;
	/* junk past seg_size could later read as records: stop rather than guess */
	if (broken)
		s->broken = 1;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 64 * 1024;
	uint8_t *p;

	while (n < need)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return BUDDY_E_NOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

int buddy_store_write(struct buddy_store *s, struct buddy_store_batch *b)
{
	uint64_t off, index;
	const uint8_t *p;
	size_t wlen = 0;
	uint32_t seg;
	int fd, ret;

	if (!s || !b)
		return BUDDY_E_INVALID;
	if (s->broken)
		return BUDDY_E_IO;
	if (!b->count)
		return 0;
	if (b->count > SIZE_MAX / NONCE_LEN)
		return BUDDY_E_NOMEM;
	if (b->count * NONCE_LEN > s->ncap) {
		ret = grow(&s->nonces, &s->ncap, b->count * NONCE_LEN);
		if (ret)
			return ret;
	}
	/* one call for the whole batch, not one getrandom() per record */
	randombytes_buf(s->nonces, b->count * NONCE_LEN);

	fd = s->fd;
	seg = s->seg;
	off = s->seg_size; /* where wbuf goes in segment seg */
	index = s->records;
	p = b->buf;
	for (size_t i = 0; i < b->count; i++) {
		uint32_t len = get32(p);
		size_t rsz = REC_HDR_LEN + len + TAG_LEN;

		if (off + wlen + rsz > s->seg_max && off + wlen > SEG_HDR_LEN) {
			ret = write_all(fd, s->wbuf, wlen, off);
			if (ret)
				goto fail;
			wlen = 0;
			/* durable before the next segment exists: only the last may be torn */
			ret = sync_file(fd, 1);
			if (ret)
				goto fail;
			if (fd != s->fd)
				close(fd);
			fd = -1;
			ret = create_segment(s, seg + 1, &fd);
			if (ret)
				goto fail;
			seg++;
			off = SEG_HDR_LEN;
		}
		if (wlen + rsz > s->wcap) {
			if (wlen >= WRITE_CHUNK) {
				ret = write_all(fd, s->wbuf, wlen, off);
				if (ret)
					goto fail;
				off += wlen;
				wlen = 0;
			}
			if (wlen + rsz > s->wcap) {
				ret = grow(&s->wbuf, &s->wcap, wlen + rsz);
				if (ret)
					goto fail;
			}
		}
		seal(s, s->wbuf + wlen, p + 4, len, seg, index, s->nonces + i * NONCE_LEN);
		wlen += rsz;
		index++;
		p += 4 + len;
	}
	ret = write_all(fd, s->wbuf, wlen, off);
	if (ret)
		goto fail;
	off += wlen;
	ret = sync_file(fd, 1);
	if (ret)
		goto fail;

	if (fd != s->fd) {
		close(s->fd);
		s->fd = fd;
	}
	s->seg = seg;
	s->seg_size = off;
	s->records = index;
	return 0;
fail:
	rollback(s, fd, seg);
	return ret;
}

uint64_t buddy_store_count(const struct buddy_store *s)
{
	return s ? s->records : 0;
}

int buddy_store_append(struct buddy_store *s, const uint8_t *rec, size_t len)
{
	struct buddy_store_batch *b;
	int ret;

	ret = buddy_store_stage(s, rec, len);
	if (ret)
		return ret;
	b = buddy_store_take(s);
	if (!b)
		return BUDDY_E_NOMEM;
	ret = buddy_store_write(s, b);
	buddy_store_batch_free(b);
	return ret;
}

void buddy_store_set_segment_max_for_test(struct buddy_store *s, uint64_t max)
{
	s->seg_max = max;
}
