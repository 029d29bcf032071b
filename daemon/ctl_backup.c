/* Control methods backup.start, backup.read and backup.end (proto/CONTROL.md; the file:
 * proto/BACKUP.md). The daemon makes the backup because it holds the unlocked secrets and
 * knows where the log durably ends: the seed and data key never leave it unencrypted.
 *
 * One backup at a time, in steps that each run on the threadpool and answer on the loop:
 *
 *   start:  Argon2id of the backup passphrase (seconds, like an unlock)
 *           -> appends held until no write is in flight (buddy_appender_quiesce): the segment
 *              files then hold exactly the durable records, and the log is append-only, so
 *              their lengths at that moment are a consistent snapshot
 *           -> the segments opened and measured, the config read, then appends released
 *           -> answer {id, size}
 *   read:   the next <= 256 KiB of ciphertext, made from the payload pieces (the payload's
 *           head, then each segment's [name, header] and bytes read from the snapshot's
 *           descriptors below its length), in order; `off` must be where the backup stands
 *   end:    the last read, backup.end, a new backup.start (replacing a backup nobody reads),
 *           a lock and exit all end it; every secret is wiped then.
 *
 * The client's id and offsets are checked; nothing it sends is trusted. */
#include "buddy/backup.h"
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/config.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "ctl_methods.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_PIECE (64 * 1024) /* segment bytes read per pread */
#define SEG_NAME   12	       /* "00000001.log" */

enum phase {
	PH_DERIVE,   /* Argon2id on the threadpool */
	PH_QUIESCE,  /* waiting for the write in flight (appends held) */
	PH_SNAPSHOT, /* opening the segments on the threadpool (appends held) */
	PH_READY,    /* between reads */
	PH_READING,  /* making the next slice on the threadpool */
};

struct seg {
	int fd;
	uint32_t size; /* bytes of it in the backup: its length at the snapshot */
};

struct buddyd_backup {
	struct buddyd *d;
	uint64_t id;
	enum phase phase;
	bool orphan; /* locked, stopping or ended: freed when its step returns */
	bool held;   /* it holds the appender */
	struct ctl_req *req;
	uv_work_t work;
	int status;
	char detail[BUDDY_PATH_MAX / 8 + 200];
	/* from start */
	char *pass; /* sodium_malloc */
	size_t passlen;
	uint8_t *secret; /* sodium_malloc: seed (32) || data key (32) || backup key (32) */
	uint8_t pk[32];
	struct buddy_backup_params params;
	const char *kdf;
	/* the snapshot */
	int64_t made;
	uint64_t records;
	size_t entries, commitments, buddies;
	struct seg *segs;
	uint32_t nsegs;
	uint8_t *head; /* sodium_malloc: the payload up to the first segment */
	size_t head_len;
	uint64_t size; /* of the whole file */
	/* streaming */
	struct buddy_backup_writer *w;
	msgpack_sbuffer q; /* ciphertext made and not yet handed out */
	uint64_t sent;
	uint32_t piece; /* 0: head; 1 + 2k: segment k's [name, header]; 2 + 2k: its bytes */
	uint64_t piece_off;
	uint8_t *buf; /* READ_PIECE bytes of a segment (ciphertext already) */
	bool finished;
};

static void session_free(struct buddyd_backup *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nsegs; i++)
		if (s->segs[i].fd >= 0)
			close(s->segs[i].fd);
	free(s->segs);
	sodium_free(s->pass);
	sodium_free(s->secret);
	sodium_free(s->head);
	buddy_backup_writer_free(s->w);
	msgpack_sbuffer_destroy(&s->q);
	free(s->buf);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/* Ends the session s, answering its waiting request with err unless it was answered. */
static void session_end(struct buddyd_backup *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void session_end(struct buddyd_backup *s, int err, const char *fmt, ...)
{
	char msg[sizeof(s->detail) + 100];
	va_list ap;

	if (s->held && s->d->appender) {
		buddy_appender_release(s->d->appender);
		s->held = false;
	}
	if (s->d->backup == s)
		s->d->backup = NULL;
	if (s->req) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		ctl_error(s->req, err, "%s", msg);
		s->req = NULL;
	}
	session_free(s);
}

void buddyd_backup_stop(struct buddyd *d)
{
	struct buddyd_backup *s = d->backup;

	if (!s)
		return;
	d->backup = NULL;
	/* the appender is about to go: nothing to release on it */
	s->held = false;
	if (s->phase == PH_READY) {
		log_info("a backup in progress was ended: the journal was locked");
		session_free(s);
		return;
	}
	s->orphan = true; /* its step in flight finds it so and frees it */
}

/* ---- reading the snapshot into ciphertext (threadpool) ---- */

static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return buddy_err_from_errno(errno);
		if (r == 0)
			return BUDDY_E_CORRUPT; /* shorter than at the snapshot: cannot happen */
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* Puts payload bytes into the writer until a slice's worth of ciphertext is queued. */
static int produce(struct buddyd_backup *s)
{
	uint8_t sh[BUDDY_BACKUP_SEG_HEAD];
	int rc = 0;

	while (rc == 0 && s->q.size < BUDDY_BACKUP_READ_MAX && !s->finished) {
		uint32_t k = (s->piece - 1) / 2;

		if (s->piece == 0) {
			rc = buddy_backup_writer_put(s->w, s->head, s->head_len, &s->q);
			s->piece++;
		} else if (k >= s->nsegs) {
			rc = buddy_backup_writer_finish(s->w, &s->q);
			s->finished = rc == 0;
		} else if (s->piece % 2 == 1) {
			buddy_backup_encode_segment(sh, k + 1, s->segs[k].size);
			rc = buddy_backup_writer_put(s->w, sh, sizeof(sh), &s->q);
			s->piece++;
			s->piece_off = 0;
		} else {
			uint64_t left = s->segs[k].size - s->piece_off;
			size_t n = left < READ_PIECE ? (size_t)left : READ_PIECE;

			if (n == 0) {
				s->piece++;
				continue;
			}
			rc = pread_all(s->segs[k].fd, s->buf, n, s->piece_off);
			if (rc == 0)
				rc = buddy_backup_writer_put(s->w, s->buf, n, &s->q);
			s->piece_off += n;
		}
	}
	if (rc)
		snprintf(s->detail, sizeof(s->detail),
			 "the backup could not be made: a journal file could not be read (%s)",
			 buddy_strerror(rc));
	return rc;
}

static void read_work(uv_work_t *w)
{
	struct buddyd_backup *s = w->data;

	s->status = produce(s);
}

static void read_done(uv_work_t *w, int uvstatus)
{
	struct buddyd_backup *s = w->data;
	size_t n;
	bool eof;
	msgpack_packer *pk;

	s->phase = PH_READY;
	if (uvstatus)
		s->status = BUDDY_E_INTERNAL;
	if (s->orphan) {
		session_end(s, BUDDY_E_STATE, "the backup was ended: the journal was locked");
		return;
	}
	if (s->status) {
		log_error("backup: %s", s->detail);
		session_end(s, s->status, "%s", s->detail);
		return;
	}
	n = s->q.size < BUDDY_BACKUP_READ_MAX ? s->q.size : BUDDY_BACKUP_READ_MAX;
	eof = s->finished && n == s->q.size;
	if (eof && s->sent + n != s->size) {
		log_error("backup: made %llu bytes, announced %llu",
			  (unsigned long long)(s->sent + n), (unsigned long long)s->size);
		session_end(s, BUDDY_E_INTERNAL,
			    "the backup came out at another size than announced");
		return;
	}
	pk = ctl_result(s->req);
	msgpack_pack_map(pk, 2);
	buddy_mp_pack_cstr(pk, "data");
	buddy_mp_pack_bin(pk, s->q.data, n);
	buddy_mp_pack_cstr(pk, "eof");
	if (eof)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	ctl_result_send(s->req);
	s->req = NULL;
	memmove(s->q.data, s->q.data + n, s->q.size - n);
	s->q.size -= n;
	s->sent += n;
	if (eof) {
		log_info("backup %016llx: %llu bytes handed out", (unsigned long long)s->id,
			 (unsigned long long)s->sent);
		session_end(s, 0, "%s", "");
	}
}

/* ---- the snapshot (threadpool, appends held) ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The numbers of the segment files in dir, sorted; they must be 1..n (as the store has them). */
static int list_segments(struct buddyd_backup *s, const char *dir, uint32_t **nums, uint32_t *n)
{
	size_t cap = 0;
	struct dirent *e;
	DIR *dp = opendir(dir);

	*nums = NULL;
	*n = 0;
	if (!dp)
		return buddy_err_from_errno(errno);
	while ((e = readdir(dp))) {
		char *end;
		unsigned long v;

		if (strlen(e->d_name) != SEG_NAME || strcmp(e->d_name + 8, ".log") != 0 ||
		    e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		v = strtoul(e->d_name, &end, 10);
		if (end != e->d_name + 8)
			continue;
		if (*n == BUDDY_BACKUP_SEGMENTS_MAX) {
			closedir(dp);
			snprintf(s->detail, sizeof(s->detail),
				 "the journal has more than %u segment files", *n);
			return BUDDY_E_TOOBIG;
		}
		if (*n == cap) {
			uint32_t *nv;
			cap = cap ? cap * 2 : 16;
			nv = realloc(*nums, cap * sizeof(**nums));
			if (!nv) {
				closedir(dp);
				return BUDDY_E_NOMEM;
			}
			*nums = nv;
		}
		(*nums)[(*n)++] = (uint32_t)v;
	}
	closedir(dp);
	if (*n)
		qsort(*nums, *n, sizeof(**nums), cmp_u32);
	for (uint32_t i = 0; i < *n; i++) {
		if ((*nums)[i] != i + 1) {
			snprintf(s->detail, sizeof(s->detail),
				 "the journal's segment files are not numbered 1, 2, 3 ...");
			return BUDDY_E_CORRUPT;
		}
	}
	return 0;
}

/* $BUDDY_HOME/config, whole (NULL *out: there is none), read as buddyd reads it (config.c):
 * a symlink is followed, then the same checks of owner, mode and size. */
static int read_config(struct buddyd_backup *s, uint8_t **out, size_t *len)
{
	char path[BUDDY_PATH_MAX + 16], why[BUDDY_PATH_MAX + 200];
	char *text = NULL;
	int rc;

	*out = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "%s/config", s->d->home.dir);
	rc = buddy_config_read(path, &text, len, why, sizeof(why));
	if (rc == 0 && text && *len > BUDDY_BACKUP_CONFIG_MAX) {
		snprintf(why, sizeof(why), "%.*s is larger than %d bytes", BUDDY_PATH_MAX, path,
			 BUDDY_BACKUP_CONFIG_MAX);
		rc = BUDDY_E_TOOBIG;
	}
	if (rc) {
		free(text);
		*len = 0;
		snprintf(s->detail, sizeof(s->detail),
			 "the backup could not be made: the config file: %.*s",
			 (int)sizeof(s->detail) - 64, why);
		return rc;
	}
	*out = (uint8_t *)text;
	return 0;
}

static int snapshot(struct buddyd_backup *s)
{
	uint32_t *nums = NULL, n = 0;
	uint8_t *config = NULL;
	size_t config_len = 0;
	uint64_t payload;
	char path[BUDDY_PATH_MAX + 16];
	int rc;

	rc = list_segments(s, s->d->home.journal, &nums, &n);
	if (rc)
		goto out;
	if (n == 0 && s->records) {
		snprintf(s->detail, sizeof(s->detail), "the journal's segment files are missing");
		rc = BUDDY_E_CORRUPT;
		goto out;
	}
	s->segs = calloc(n ? n : 1, sizeof(*s->segs));
	if (!s->segs) {
		rc = BUDDY_E_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		s->segs[i].fd = -1;
	s->nsegs = n;
	payload = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "%s/%08u.log", s->d->home.journal, nums[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			rc = buddy_err_from_errno(errno);
			goto out;
		}
		s->segs[i].fd = fd;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
		    st.st_size > BUDDY_BACKUP_SEGMENT_MAX) {
			snprintf(s->detail, sizeof(s->detail),
				 "journal/%08u.log is not a segment file of at most %d bytes",
				 nums[i], BUDDY_BACKUP_SEGMENT_MAX);
			rc = BUDDY_E_CORRUPT;
			goto out;
		}
		s->segs[i].size = (uint32_t)st.st_size;
		payload += BUDDY_BACKUP_SEG_HEAD + (uint64_t)st.st_size;
	}
	rc = read_config(s, &config, &config_len);
	if (rc)
		goto out;
	s->head = sodium_malloc(BUDDY_BACKUP_HEAD_MAX + config_len);
	s->buf = malloc(READ_PIECE);
	if (!s->head || !s->buf) {
		rc = BUDDY_E_NOMEM;
		goto out;
	}
	s->head_len = buddy_backup_encode_head(s->head, s->made, s->records, s->pk, s->secret,
					       s->secret + 32, config, config_len, n);
	payload += s->head_len;
	s->size = buddy_backup_file_size(payload, s->params.chunk);
	/* the key goes into the stream's state (guarded memory) and is wiped here */
	rc = buddy_backup_writer_new(s->secret + 64, &s->params, &s->q, &s->w);
	sodium_memzero(s->secret + 64, BUDDY_BACKUP_KEY_BYTES);
out:
	if (rc && !s->detail[0])
		snprintf(s->detail, sizeof(s->detail),
			 "the backup could not be made: the journal could not be read (%s)",
			 buddy_strerror(rc));
	free(nums);
	free(config);
	return rc;
}

static void snapshot_work(uv_work_t *w)
{
	struct buddyd_backup *s = w->data;

	s->status = snapshot(s);
}

static void snapshot_done(uv_work_t *w, int uvstatus)
{
	struct buddyd_backup *s = w->data;
	msgpack_packer *pk;

	/* the lengths are taken: appends may go on, beyond them */
	if (s->held) {
		buddy_appender_release(s->d->appender);
		s->held = false;
	}
	if (uvstatus)
		s->status = BUDDY_E_INTERNAL;
	if (s->orphan) {
		session_end(s, BUDDY_E_STATE, "the backup was ended: the journal was locked");
		return;
	}
	if (s->status) {
		log_error("backup: %s", s->detail);
		session_end(s, s->status, "%s", s->detail);
		return;
	}
	s->phase = PH_READY;
	log_info("backup %016llx: %u segment files, %llu records, %llu bytes to hand out",
		 (unsigned long long)s->id, s->nsegs, (unsigned long long)s->records,
		 (unsigned long long)s->size);
	pk = ctl_result(s->req);
	msgpack_pack_map(pk, 9);
	buddy_mp_pack_cstr(pk, "id");
	msgpack_pack_uint64(pk, s->id);
	buddy_mp_pack_cstr(pk, "size");
	msgpack_pack_uint64(pk, s->size);
	buddy_mp_pack_cstr(pk, "made");
	msgpack_pack_int64(pk, s->made);
	buddy_mp_pack_cstr(pk, "records");
	msgpack_pack_uint64(pk, s->records);
	buddy_mp_pack_cstr(pk, "segments");
	msgpack_pack_uint32(pk, s->nsegs);
	buddy_mp_pack_cstr(pk, "entries");
	msgpack_pack_uint64(pk, s->entries);
	buddy_mp_pack_cstr(pk, "commitments");
	msgpack_pack_uint64(pk, s->commitments);
	buddy_mp_pack_cstr(pk, "buddies");
	msgpack_pack_uint64(pk, s->buddies);
	buddy_mp_pack_cstr(pk, "kdf");
	buddy_mp_pack_cstr(pk, s->kdf);
	ctl_result_send(s->req);
	s->req = NULL;
}

/* Appends are held and no write is in flight: the store's count and files agree now. */
static void on_quiet(void *arg)
{
	struct buddyd_backup *s = arg;
	struct buddyd *d = s->d;
	struct buddy_buddies *bs;

	s->held = true;
	if (s->orphan || d->state != BUDDYD_UNLOCKED || d->stopping) {
		session_end(s, BUDDY_E_STATE,
			    "the backup was ended: the journal was locked or is being reloaded");
		return;
	}
	s->records = buddy_store_count(d->store);
	s->made = buddy_clock_now();
	s->entries = buddy_journal_nentries(d->journal);
	s->commitments = buddy_journal_ncommits(d->journal);
	bs = buddy_journal_buddies(d->journal);
	for (size_t i = 0; i < buddy_buddies_count(bs); i++)
		s->buddies += !buddy_buddies_at(bs, i)->revoked;
	s->phase = PH_SNAPSHOT;
	s->work.data = s;
	if (uv_queue_work(d->loop, &s->work, snapshot_work, snapshot_done))
		session_end(s, BUDDY_E_INTERNAL, "the backup could not be started");
}

/* ---- the backup key (threadpool) ---- */

static void derive_work(uv_work_t *w)
{
	struct buddyd_backup *s = w->data;

	s->status = buddy_backup_derive(s->secret + 64, s->pass, s->passlen, s->params.ops,
					s->params.mem, s->params.salt);
	sodium_free(s->pass);
	s->pass = NULL;
}

static void derive_done(uv_work_t *w, int uvstatus)
{
	struct buddyd_backup *s = w->data;
	struct buddyd *d = s->d;
	int rc;

	if (uvstatus)
		s->status = BUDDY_E_INTERNAL;
	if (s->orphan || d->stopping) {
		session_end(s, BUDDY_E_STATE, "the backup was ended: the journal was locked");
		return;
	}
	if (s->status) {
		session_end(s, s->status,
			    "not enough memory for Argon2id at the %s level; try --kdf interactive",
			    s->kdf);
		return;
	}
	s->phase = PH_QUIESCE;
	rc = buddy_appender_quiesce(d->appender, on_quiet, s);
	if (rc)
		session_end(s, BUDDY_E_BUSY, "the journal is busy; try again in a moment");
}

/* ---- methods ---- */

static int get_pass(const msgpack_object *p, const char **s, size_t *len)
{
	const msgpack_object *o = buddy_mp_get(p, "passphrase");

	if (!o)
		return BUDDY_E_INVALID;
	if (o->type == MSGPACK_OBJECT_STR)
		return buddy_mp_str(o, BUDDY_PASSPHRASE_MAX, s, len);
	return buddy_mp_bin(o, BUDDY_PASSPHRASE_MAX, (const uint8_t **)s, len);
}

void ctl_backup_start(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	enum buddy_kdf_level lvl = BUDDY_KDF_MODERATE;
	const msgpack_object *k = buddy_mp_get(p, "kdf");
	struct buddyd_backup *s;
	const char *pass;
	size_t passlen;
	char kname[16];

	if (get_pass(p, &pass, &passlen) || passlen == 0) {
		ctl_error(r, BUDDY_E_INVALID,
			  "send the backup passphrase as \"passphrase\" (1 to %d bytes)",
			  BUDDY_PASSPHRASE_MAX);
		return;
	}
	if (k &&
	    (buddy_mp_strcpy(k, sizeof(kname) - 1, kname) || buddy_kdf_level_parse(kname, &lvl))) {
		ctl_error(r, BUDDY_E_INVALID, "\"kdf\" is interactive, moderate or sensitive");
		return;
	}
	if (d->backup) {
		if (d->backup->phase != PH_READY) {
			ctl_error(
				r, BUDDY_E_BUSY,
				"another backup is being prepared or read; try again in a moment");
			return;
		}
		log_info("backup %016llx replaced by a new one before it was read to the end",
			 (unsigned long long)d->backup->id);
		session_free(d->backup);
		d->backup = NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		return;
	}
	s->d = d;
	msgpack_sbuffer_init(&s->q);
	s->pass = sodium_malloc(passlen);
	s->secret = sodium_malloc(32 + 32 + BUDDY_BACKUP_KEY_BYTES);
	if (!s->pass || !s->secret) {
		session_free(s);
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		return;
	}
	memcpy(s->pass, pass, passlen);
	s->passlen = passlen;
	/* libsodium's secret key starts with the seed */
	memcpy(s->secret, d->secrets->sign_sk, 32);
	memcpy(s->secret + 32, d->secrets->data_key, 32);
	memcpy(s->pk, d->secrets->sign_pk, 32);
	buddy_kdf_level_limits(lvl, &s->params.ops, &s->params.mem);
	randombytes_buf(s->params.salt, sizeof(s->params.salt));
	s->params.chunk = BUDDY_BACKUP_CHUNK;
	s->kdf = lvl == BUDDY_KDF_INTERACTIVE ? "interactive"
		 : lvl == BUDDY_KDF_SENSITIVE ? "sensitive"
					      : "moderate";
	/* 53 bits: exact in a JSON number, for clients that script the API through one */
	do {
		randombytes_buf(&s->id, sizeof(s->id));
		s->id &= (1ULL << 53) - 1;
	} while (s->id == 0);
	s->req = r;
	s->phase = PH_DERIVE;
	s->work.data = s;
	d->backup = s;
	if (uv_queue_work(d->loop, &s->work, derive_work, derive_done))
		session_end(s, BUDDY_E_INTERNAL, "the backup could not be started");
}

/* The session named by params' "id", or NULL after answering r. */
static struct buddyd_backup *session_of(struct buddyd *d, struct ctl_req *r,
					const msgpack_object *p)
{
	struct buddyd_backup *s = d->backup;
	uint64_t id;

	if (buddy_mp_uint(buddy_mp_get(p, "id"), &id)) {
		ctl_error(r, BUDDY_E_INVALID, "\"id\" must be the id backup.start answered");
		return NULL;
	}
	if (!s || s->id != id || s->orphan) {
		ctl_error(r, BUDDY_E_NOTFOUND,
			  "no such backup in progress (it ended, a new backup.start replaced it, "
			  "or the journal was locked)");
		return NULL;
	}
	if (s->phase != PH_READY) {
		ctl_error(r, BUDDY_E_BUSY,
			  "this backup is busy with another request; wait for "
			  "its answer");
		return NULL;
	}
	return s;
}

void ctl_backup_read(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddyd_backup *s;
	uint64_t off;

	if (buddy_mp_uint(buddy_mp_get(p, "off"), &off)) {
		ctl_error(r, BUDDY_E_INVALID, "\"off\" must be the number of bytes read so far");
		return;
	}
	s = session_of(d, r, p);
	if (!s)
		return;
	if (off != s->sent) {
		ctl_error(r, BUDDY_E_INVALID, "\"off\" must be %llu: the backup is read in order",
			  (unsigned long long)s->sent);
		return;
	}
	s->phase = PH_READING;
	s->req = r;
	s->status = 0;
	s->work.data = s;
	if (uv_queue_work(d->loop, &s->work, read_work, read_done))
		session_end(s, BUDDY_E_INTERNAL, "the backup could not go on");
}

void ctl_backup_end(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddyd_backup *s = session_of(d, r, p);

	if (!s)
		return;
	log_info("backup %016llx ended before it was read to the end", (unsigned long long)s->id);
	session_end(s, 0, "%s", "");
	ctl_ok(r);
}
