/* The backup file (format: proto/BACKUP.md): a clear 76-byte header (magic, Argon2id parameters
 * and salt, chunk size, secretstream header), then one MessagePack payload (identity seed, data
 * key, config, the journal's segment files) encrypted with crypto_secretstream_xchacha20poly1305
 * in chunks, the last tagged FINAL. The writer is used by buddyd (secrets never leave it), the
 * reader by `buddy restore`. Knows nothing of homes, stores or sockets: bytes in, bytes out.
 * Secrets (keys, seed, data key, plaintext chunks) live only in sodium_malloc memory. */
#ifndef BUDDY_BACKUP_H
#define BUDDY_BACKUP_H

#include "buddy/limits.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_BACKUP_MAGIC	  "buddy-backup-v1"
#define BUDDY_BACKUP_MAGIC_LEN	  15
#define BUDDY_BACKUP_HEADER_BYTES 76
#define BUDDY_BACKUP_KEY_BYTES	  32
#define BUDDY_BACKUP_SALT_BYTES	  16
#define BUDDY_BACKUP_ABYTES	  17	/* secretstream's per-chunk overhead */
#define BUDDY_BACKUP_CHUNK	  65536 /* plaintext bytes per chunk, as written */
#define BUDDY_BACKUP_CHUNK_MIN	  1024	/* what a reader accepts in the header */
#define BUDDY_BACKUP_CHUNK_MAX	  (1 << 20)
#define BUDDY_BACKUP_OPS_MAX	  32 /* as for the key file: "sensitive" is 4 */
#define BUDDY_BACKUP_MEM_MAX	  (4ULL << 30)
#define BUDDY_BACKUP_CONFIG_MAX	  (64 * 1024) /* buddyd refuses a larger config anyway */
#define BUDDY_BACKUP_SEGMENTS_MAX 65536
#define BUDDY_BACKUP_SEGMENT_MAX  BUDDY_STORE_SEGMENT_MAX
#define BUDDY_BACKUP_HEAD_MAX	  256	       /* the payload's fields before the config's bytes */
#define BUDDY_BACKUP_SEG_HEAD	  19	       /* [name, bin32 header] before a segment's bytes */
#define BUDDY_BACKUP_READ_MAX	  (256 * 1024) /* ciphertext bytes per backup.read answer */

/* The clear header, as parsed. */
struct buddy_backup_params {
	uint64_t ops;
	uint64_t mem;
	uint8_t salt[BUDDY_BACKUP_SALT_BYTES];
	uint32_t chunk;
};

/* key = crypto_pwhash argon2id13 of the backup passphrase. Slow: run it off the event loop.
 * BUDDY_E_NOMEM when Argon2id cannot get its memory. */
int buddy_backup_derive(uint8_t key[BUDDY_BACKUP_KEY_BYTES], const char *pass, size_t passlen,
			uint64_t ops, uint64_t mem, const uint8_t salt[BUDDY_BACKUP_SALT_BYTES]);

/* The size of a backup file whose payload is payload_len bytes, in chunks of chunk bytes. */
uint64_t buddy_backup_file_size(uint64_t payload_len, uint32_t chunk);

/* ---- the payload, as a writer encodes it (fixed key order, fixed-width lengths) ---- */

/* Writes the payload's start into out (at least BUDDY_BACKUP_HEAD_MAX + config_len bytes of
 * sodium_malloc memory): the map, v, made, records, pk, seed, dk, the config (NULL: nil), and
 * the "journal" key with an array of nsegs. Returns its length. */
size_t buddy_backup_encode_head(uint8_t *out, int64_t made, uint64_t records, const uint8_t pk[32],
				const uint8_t seed[32], const uint8_t dk[32], const uint8_t *config,
				size_t config_len, uint32_t nsegs);
/* Writes [name, bin32 header] of segment number (1-based) holding size bytes into
 * out[BUDDY_BACKUP_SEG_HEAD]; the segment's bytes follow it in the payload. */
void buddy_backup_encode_segment(uint8_t out[BUDDY_BACKUP_SEG_HEAD], uint32_t number,
				 uint32_t size);

/* ---- writer ---- */

struct buddy_backup_writer;

/* A writer that appends the header to out at once, then ciphertext as plaintext is put. */
int buddy_backup_writer_new(const uint8_t key[BUDDY_BACKUP_KEY_BYTES],
			    const struct buddy_backup_params *p, msgpack_sbuffer *out,
			    struct buddy_backup_writer **w);
/* Feeds payload bytes; whole chunks are encrypted and appended to out as they fill. */
int buddy_backup_writer_put(struct buddy_backup_writer *w, const uint8_t *p, size_t n,
			    msgpack_sbuffer *out);
/* Encrypts what is left as the FINAL chunk. Nothing may be put after it. */
int buddy_backup_writer_finish(struct buddy_backup_writer *w, msgpack_sbuffer *out);
/* Wipes and frees; NULL is fine. */
void buddy_backup_writer_free(struct buddy_backup_writer *w);

/* ---- reader ---- */

/* Reads up to want bytes into buf; *got < want only at the end of the file. 0 or an error. */
typedef int (*buddy_backup_read_fn)(void *arg, uint8_t *buf, size_t want, size_t *got);

/* Where the payload's config and segment files go. Each returns 0 or an error, which stops
 * the reader and is returned. data pointers are valid only during the call. */
struct buddy_backup_sink {
	int (*config)(void *arg, const uint8_t *data, size_t len);
	int (*segment_begin)(void *arg, uint32_t number, uint64_t size);
	int (*segment_data)(void *arg, const uint8_t *data, size_t len);
	int (*segment_end)(void *arg);
};

struct buddy_backup_reader;

/* Reads and checks the header: BUDDY_E_INVALID (not a backup file), BUDDY_E_VERSION (another
 * version of the format), BUDDY_E_CORRUPT (short, or parameters out of bounds). */
int buddy_backup_reader_open(buddy_backup_read_fn fn, void *arg, struct buddy_backup_reader **r);
const struct buddy_backup_params *buddy_backup_reader_params(const struct buddy_backup_reader *r);

/* Derives the key and opens the first chunk: BUDDY_E_AUTH when it does not authenticate (a
 * wrong passphrase, or a header or first chunk that was altered). Then reads the payload's
 * fields up to the config: BUDDY_E_VERSION for another payload version, BUDDY_E_CORRUPT when
 * malformed or when pk is not the seed's. unlock_key does the same with a key already derived. */
int buddy_backup_reader_unlock(struct buddy_backup_reader *r, const char *pass, size_t passlen);
int buddy_backup_reader_unlock_key(struct buddy_backup_reader *r,
				   const uint8_t key[BUDDY_BACKUP_KEY_BYTES]);

/* After unlock: what the payload says. seed and dk point into the reader's guarded memory. */
struct buddy_backup_identity {
	int64_t made;
	uint64_t records;
	uint8_t pk[32];
	const uint8_t *seed;
	const uint8_t *dk;
};
void buddy_backup_reader_identity(const struct buddy_backup_reader *r,
				  struct buddy_backup_identity *id);

/* Streams the rest of the payload to sink, then checks that the file ends with the FINAL chunk
 * and nothing after it: BUDDY_E_CORRUPT for any damage, truncation or malformed payload. */
int buddy_backup_reader_rest(struct buddy_backup_reader *r, const struct buddy_backup_sink *sink,
			     void *arg);

/* One sentence on the last failure ("chunk 3 failed its check ..."), or "". */
const char *buddy_backup_reader_error(const struct buddy_backup_reader *r);

/* Wipes and frees; NULL is fine. */
void buddy_backup_reader_free(struct buddy_backup_reader *r);

#endif
