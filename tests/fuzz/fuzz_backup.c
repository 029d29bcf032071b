/* libFuzzer target for the backup reader (proto/backup.c, proto/BACKUP.md). The first byte
 * picks what the rest is:
 *   even: a whole backup file, read with a fixed key (the header's KDF parameters are parsed
 *         and bounds-checked, never run), so framing, tags, truncation and trailing bytes are
 *         what is fuzzed;
 *   odd:  a payload, sealed here with that key in chunks of 1024 + (byte 2) bytes, so the
 *         strict MessagePack reader behind the authentication is what is fuzzed (a payload
 *         is only ever made by a key holder, but its lengths are still never trusted).
 * Any input must give 0 or an error, never a crash, a leak or a read past what was declared;
 * on success what the sink saw must agree with what the payload declared. Seeds (a real
 * backup's file and payloads) are in corpus/backup/. */
#include "buddy/backup.h"
#include "buddy/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[BUDDY_BACKUP_KEY_BYTES] = {
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
};

struct mem {
	const uint8_t *p;
	size_t len, pos;
};

static int mem_read(void *arg, uint8_t *buf, size_t want, size_t *got)
{
	struct mem *m = arg;
	size_t n = m->len - m->pos < want ? m->len - m->pos : want;

	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	*got = n;
	return 0;
}

struct seen {
	uint32_t next;	   /* the segment number expected next */
	uint64_t declared; /* the open segment's size */
	uint64_t got;
	int open;
};

static int on_config(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)p;
	if (n > BUDDY_BACKUP_CONFIG_MAX)
		__builtin_trap();
	return 0;
}

static int on_begin(void *arg, uint32_t number, uint64_t size)
{
	struct seen *s = arg;

	if (s->open || number != s->next + 1 || size > BUDDY_BACKUP_SEGMENT_MAX)
		__builtin_trap();
	s->next = number;
	s->declared = size;
	s->got = 0;
	s->open = 1;
	return 0;
}

static int on_data(void *arg, const uint8_t *p, size_t n)
{
	struct seen *s = arg;
	volatile uint8_t sum = 0;

	/* touch every byte handed out: ASan catches a read past the chunk */
	for (size_t i = 0; i < n; i++)
		sum ^= p[i];
	(void)sum;
	s->got += n;
	if (!s->open || s->got > s->declared)
		__builtin_trap();
	return 0;
}

static int on_end(void *arg)
{
	struct seen *s = arg;

	if (!s->open || s->got != s->declared)
		__builtin_trap();
	s->open = 0;
	return 0;
}

static void read_back(const uint8_t *file, size_t len)
{
	static const struct buddy_backup_sink sink = {on_config, on_begin, on_data, on_end};
	struct mem m = {file, len, 0};
	struct buddy_backup_reader *r = NULL;
	struct seen s = {0};
	int rc;

	rc = buddy_backup_reader_open(mem_read, &m, &r);
	if (rc == 0)
		rc = buddy_backup_reader_unlock_key(r, key);
	if (rc == 0) {
		rc = buddy_backup_reader_rest(r, &sink, &s);
		if (rc == 0 && (s.open || m.pos != len))
			__builtin_trap();
	}
	if (rc > 0 || rc < -BUDDY_E_COUNT_)
		__builtin_trap();
	buddy_backup_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buddy_backup_params p = {.ops = 1, .mem = 8192, .chunk = BUDDY_BACKUP_CHUNK_MIN};
	struct buddy_backup_writer *w;
	msgpack_sbuffer out;

	if (size < 2)
		return 0;
	if (sodium_init() < 0)
		return 0;
	if ((data[0] & 1) == 0) {
		read_back(data + 1, size - 1);
		return 0;
	}
	p.chunk += data[1];
	msgpack_sbuffer_init(&out);
	if (buddy_backup_writer_new(key, &p, &out, &w) == 0) {
		if (buddy_backup_writer_put(w, data + 2, size - 2, &out) == 0 &&
		    buddy_backup_writer_finish(w, &out) == 0) {
			if (out.size != buddy_backup_file_size(size - 2, p.chunk))
				__builtin_trap();
			read_back((const uint8_t *)out.data, out.size);
		}
		buddy_backup_writer_free(w);
	}
	msgpack_sbuffer_destroy(&out);
	return 0;
}
