/* The encrypted append-only record log (DESIGN.md section 4, format in proto/STORE.md).
 * Owns the segment files of one directory; a record is opaque bytes to it. It never writes
 * plaintext: each record is sealed with XChaCha20-Poly1305 under a key derived from the data
 * key, its global index and segment bound in as additional data.
 *
 * Threads: buddy_store_stage/take run on the owner's thread; buddy_store_write may run on one
 * worker thread at a time while the owner keeps staging. Nothing else may run concurrently.
 * buddy_store_open may open records on a helper thread of its own, gone when it returns; the
 * replay callback always runs on the caller's thread. */
#ifndef BUDDY_STORE_H
#define BUDDY_STORE_H

#include <stddef.h>
#include <stdint.h>

struct buddy_store;
struct buddy_store_batch;

/* What open found. On BUDDY_E_CORRUPT the bad_* fields say where. */
struct buddy_store_info {
	uint64_t records;     /* records now in the store */
	uint32_t segments;    /* segment files */
	uint64_t torn_bytes;  /* bytes of a torn tail cut off at open (0: none) */
	uint32_t bad_segment; /* segment number of the record that failed */
	uint64_t bad_offset;  /* its byte offset in that segment file */
	uint64_t bad_index;   /* its global record index */
};

/* Called once per record at open, in order. rec is valid only during the call. A non-zero
 * return stops the open and is returned from buddy_store_open. */
typedef int (*buddy_store_replay_fn)(void *arg, uint64_t index, const uint8_t *rec, size_t len);

/* Opens (creating if empty: dir must exist, mode 0700) the store in dir with the 32-byte data
 * key, replaying every record through fn (may be NULL). A torn last record (crash mid-write)
 * is cut; any other damage fails with BUDDY_E_CORRUPT and changes nothing. A wrong key fails
 * with BUDDY_E_AUTH. info may be NULL. The key is copied into guarded memory. */
int buddy_store_open(const char *dir, const uint8_t key[32], buddy_store_replay_fn fn, void *arg,
		     struct buddy_store **out, struct buddy_store_info *info);

/* Closes files and wipes the key. Staged records that were never written are discarded. */
void buddy_store_close(struct buddy_store *s);

/* Copies one record (1..BUDDY_STORE_RECORD_MAX bytes) into the stage. Not durable yet. */
int buddy_store_stage(struct buddy_store *s, const uint8_t *rec, size_t len);

/* Drops (and wipes) every staged record; allocates nothing. */
void buddy_store_discard_staged(struct buddy_store *s);

/* Number of staged records not yet taken. */
size_t buddy_store_staged(const struct buddy_store *s);

/* Moves every staged record into a new batch (NULL if none staged or out of memory). */
struct buddy_store_batch *buddy_store_take(struct buddy_store *s);

size_t buddy_store_batch_count(const struct buddy_store_batch *b);

/* Seals, writes and fdatasyncs the whole batch (group commit: one sync for all of it), opening
 * a new segment when the current one is full. On failure the files are cut back to where they
 * were: none of the batch is stored, and BUDDY_E_NOSPACE or BUDDY_E_IO is returned. */
int buddy_store_write(struct buddy_store *s, struct buddy_store_batch *b);

/* Wipes (records may hold plaintext) and frees a batch. NULL is fine. */
void buddy_store_batch_free(struct buddy_store_batch *b);

/* Durable records in the store. Not while a write runs on another thread. */
uint64_t buddy_store_count(const struct buddy_store *s);

/* Convenience for one thread: stage, take, write, free. */
int buddy_store_append(struct buddy_store *s, const uint8_t *rec, size_t len);

/* Test seam: lowers the size past which a segment is closed (BUDDY_STORE_SEGMENT_MAX), so tests
 * can exercise segment rollover with small files. Not for production code. */
void buddy_store_set_segment_max_for_test(struct buddy_store *s, uint64_t max);

#endif
