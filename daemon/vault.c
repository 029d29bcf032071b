/* The daemon's locked/unlocked state: unlock, lock, passwd, and rebuilding the journal after a
 * failed write (see buddy/daemon.h). Argon2id and the store's replay run on the threadpool;
 * everything they produce is installed on the loop thread in the after-work callbacks. */
#include "buddy/clock.h"
#include "buddy/control.h"
#include "buddy/daemon.h"
#include "buddy/deadlines.h"
#include "buddy/error.h"
#include "buddy/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNLOCK_FREE_TRIES   3
#define UNLOCK_MAX_DELAY_MS (5 * 60 * 1000)

struct vault_job {
	uv_work_t work;
	struct buddyd *d;
	buddyd_done_cb cb;
	void *arg;
	char *pass; /* sodium_malloc'd */
	size_t passlen;
	char *newpass; /* passwd only */
	size_t newpasslen;
	enum buddy_kdf_level lvl;
	struct buddy_keyfile kf;
	bool reload;
	uint64_t keyfile_gen; /* d->keyfile_gen when the job started */
	/* results */
	bool reloaded_kf;
	int status;
	struct buddy_secrets *secrets;
	struct buddy_store *store;
	struct buddy_journal *journal;
	struct buddy_store_info info;
	uint64_t bad_index;
	char detail[256];
};

static char *secret_dup(const char *p, size_t len)
{
	char *s = sodium_malloc(len + 1);

	if (s) {
		memcpy(s, p, len);
		s[len] = 0;
	}
	return s;
}

static void job_free(struct vault_job *j)
{
	if (!j)
		return;
	sodium_free(j->pass);
	sodium_free(j->newpass);
	buddy_secrets_free(j->secrets);
	buddy_store_close(j->store);
	buddy_journal_free(j->journal);
	sodium_memzero(j, sizeof(*j));
	free(j);
}

static int replay(void *arg, uint64_t index, const uint8_t *rec, size_t len)
{
	struct vault_job *j = arg;
	int rc = buddy_journal_apply(j->journal, rec, len);

	if (rc)
		j->bad_index = index;
	return rc;
}

/* Opens the store and replays it into a fresh journal. Worker thread. */
static int open_journal(struct vault_job *j, const uint8_t *data_key)
{
	int rc;

	j->journal = buddy_journal_new();
	if (!j->journal)
		return BUDDY_E_NOMEM;
	rc = buddy_store_open(j->d->home.journal, data_key, replay, j, &j->store, &j->info);
	if (rc == BUDDY_E_CORRUPT && j->info.bad_offset)
		snprintf(
			j->detail, sizeof(j->detail),
			"record %llu (segment %u, offset %llu) of the journal failed its integrity "
			"check; the journal was left as it is",
			(unsigned long long)j->info.bad_index, j->info.bad_segment,
			(unsigned long long)j->info.bad_offset);
	else if (rc == BUDDY_E_CORRUPT || rc == BUDDY_E_VERSION)
		snprintf(j->detail, sizeof(j->detail),
			 "record %llu of the journal could not be read (%s); the journal was left "
			 "as "
			 "it is",
			 (unsigned long long)j->bad_index, buddy_strerror(rc));
	else if (rc == BUDDY_E_AUTH)
		snprintf(j->detail, sizeof(j->detail),
			 "the journal was not written with this key file's data key");
	return rc;
}

static void unlock_work(uv_work_t *w)
{
	struct vault_job *j = w->data;

	if (j->reload) {
		j->status = open_journal(j, j->d->secrets->data_key);
		return;
	}
	/* the file on disk, not a copy from start: a passwd may have replaced it */
	j->status = buddy_keys_load(j->d->home.keys, &j->kf);
	if (j->status == 0)
		j->status = buddy_keys_unseal(&j->kf, j->pass, j->passlen, &j->secrets);
	if (j->status == 0)
		j->status = open_journal(j, j->secrets->data_key);
}

static void on_append_fail(void *owner, int status);

static void note_failure(struct buddyd *d, struct vault_job *j)
{
	uint64_t delay;

	if (j->status != BUDDY_E_AUTH)
		return;
	d->unlock_failures++;
	if (d->unlock_failures < UNLOCK_FREE_TRIES)
		return;
	/* 1 s, 2 s, 4 s ... after the free tries: guessing gets slow, typos stay cheap */
	delay = 1000ull << (d->unlock_failures - UNLOCK_FREE_TRIES < 20
				    ? d->unlock_failures - UNLOCK_FREE_TRIES
				    : 20);
	if (delay > UNLOCK_MAX_DELAY_MS)
		delay = UNLOCK_MAX_DELAY_MS;
	d->unlock_not_before = buddy_clock_mono_ms() + delay;
	log_warn("wrong passphrase %u times in a row; next try allowed in %llu s",
		 d->unlock_failures, (unsigned long long)(delay / 1000));
}

static void install(struct buddyd *d, struct vault_job *j)
{
	struct buddy_appender *ap = buddy_appender_new(d->loop, j->store, on_append_fail, d);
	/* the job a failed write will need, made now: a reload starts from inside the
	 * appender's failure path, where nothing may fail or free the appender */
	struct vault_job *spare = calloc(1, sizeof(*spare));

	if (!ap || !spare) {
		buddy_appender_free(ap);
		free(spare);
		j->status = BUDDY_E_NOMEM;
		return;
	}
	free(d->spare_job);
	d->spare_job = spare;
	if (j->reload) {
		buddy_appender_free(d->appender);
		buddy_store_close(d->store);
		buddy_journal_free(d->journal);
	} else {
		d->secrets = j->secrets;
		j->secrets = NULL;
		/* a passwd that finished while this unlock ran has the newer file */
		if (j->keyfile_gen == d->keyfile_gen)
			d->keyfile = j->kf;
	}
	d->appender = ap;
	d->store = j->store;
	d->journal = j->journal;
	j->store = NULL;
	j->journal = NULL;
	d->state = BUDDYD_UNLOCKED;
	/* after a reload the sessions may not match the rebuilt buddies (a pairing or a revoke
	 * that never reached the disk): start the transport afresh from the journal */
	if (j->reload)
		buddyd_pairing_stop(d);
	/* events that happen from now on are news: watchers, hooks (not those of the replay).
	 * First, so the misses and reminders the engine records right away are heard too. */
	buddyd_notify_stop(d);
	buddyd_notify_start(d);
	buddyd_pairing_start(d);
	/* after a reload the engine's cursors start afresh from the rebuilt journal */
	buddyd_deadlines_stop(d);
	buddyd_deadlines_start(d);
}

static void unlock_done(uv_work_t *w, int uvstatus)
{
	struct vault_job *j = w->data;
	struct buddyd *d = j->d;

	if (uvstatus)
		j->status = BUDDY_E_INTERNAL;
	if (j->status == 0)
		install(d, j);
	if (j->status == 0) {
		d->unlock_failures = 0;
		log_info("%s: %zu commitments, %zu entries, %llu records%s",
			 j->reload ? "journal reloaded" : "unlocked",
			 buddy_journal_ncommits(d->journal), buddy_journal_nentries(d->journal),
			 (unsigned long long)buddy_journal_nrecords(d->journal),
			 j->info.torn_bytes ? " (a torn last record from a crash was cut)" : "");
	} else {
		note_failure(d, j);
		if (j->reload) {
			/* the journal cannot be trusted in memory: lock, so nothing is served */
			log_error("journal reload failed (%s): locking", buddy_strerror(j->status));
			buddyd_close_vault(d);
		} else {
			d->state = BUDDYD_LOCKED;
			if (j->status != BUDDY_E_AUTH)
				log_error("unlock failed: %s%s%s", buddy_strerror(j->status),
					  j->detail[0] ? ": " : "", j->detail);
		}
	}
	if (j->cb)
		j->cb(d, j->arg, j->status, j->detail[0] ? j->detail : NULL);
	job_free(j);
	buddy_control_journal_settled(d->control);
}

static int rate_limited(struct buddyd *d, buddyd_done_cb cb, void *arg)
{
	char detail[96];
	uint64_t now = buddy_clock_mono_ms();

	if (now >= d->unlock_not_before)
		return 0;
	snprintf(detail, sizeof(detail), "too many wrong passphrases; try again in %llu s",
		 (unsigned long long)((d->unlock_not_before - now + 999) / 1000));
	cb(d, arg, BUDDY_E_RATELIMIT, detail);
	return 1;
}

int buddyd_unlock(struct buddyd *d, const char *pass, size_t len, buddyd_done_cb cb, void *arg)
{
	struct vault_job *j;

	if (d->state != BUDDYD_LOCKED)
		return BUDDY_E_BUSY; /* unlocking, locking or reloading: all end soon */
	if (rate_limited(d, cb, arg))
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j)
		return BUDDY_E_NOMEM;
	j->pass = secret_dup(pass ? pass : "", pass ? len : 0);
	if (!j->pass) {
		free(j);
		return BUDDY_E_NOMEM;
	}
	j->passlen = pass ? len : 0;
	j->d = d;
	j->cb = cb;
	j->arg = arg;
	j->kf = d->keyfile;
	j->keyfile_gen = d->keyfile_gen;
	j->work.data = j;
	if (uv_queue_work(d->loop, &j->work, unlock_work, unlock_done)) {
		job_free(j);
		return BUDDY_E_INTERNAL;
	}
	d->state = BUDDYD_UNLOCKING;
	return 0;
}

/* Runs once the appender is idle: no write touches the old store while the new one opens. */
static void start_reload(void *arg)
{
	struct buddyd *d = arg;
	struct vault_job *j = d->spare_job;

	d->spare_job = NULL;
	if (!j) {
		/* install() always leaves a spare job: unreachable, but never free the vault
		 * from here (the appender is in its failure path); stay busy instead */
		log_error("cannot rebuild the journal: no job prepared; restart buddyd");
		return;
	}
	j->d = d;
	j->reload = true;
	j->work.data = j;
	if (uv_queue_work(d->loop, &j->work, unlock_work, unlock_done)) {
		log_error("cannot rebuild the journal: the work queue refused; restart buddyd");
		job_free(j);
	}
}

static void on_append_fail(void *owner, int status)
{
	struct buddyd *d = owner;

	log_error("a journal write failed (%s): nothing of it was stored; rebuilding from disk",
		  buddy_strerror(status));
	/* a lock in progress drops the journal anyway: nothing to rebuild */
	if (d->state != BUDDYD_UNLOCKED)
		return;
	d->state = BUDDYD_RELOADING;
	/* only a lock registers an idle waiter, and a lock is not UNLOCKED: cannot fail */
	if (buddy_appender_when_idle(d->appender, start_reload, d))
		log_error("cannot rebuild the journal: another waiter; restart buddyd");
}

void buddyd_close_vault(struct buddyd *d)
{
	buddyd_backup_stop(d); /* it holds copies of the secrets */
	buddyd_pairing_stop(d);
	buddyd_deadlines_stop(d);
	buddyd_notify_stop(d);
	free(d->spare_job);
	d->spare_job = NULL;
	buddy_appender_free(d->appender);
	buddy_store_close(d->store);
	buddy_journal_free(d->journal);
	buddy_secrets_free(d->secrets);
	d->appender = NULL;
	d->store = NULL;
	d->journal = NULL;
	d->secrets = NULL;
	d->state = BUDDYD_LOCKED;
}

struct lock_wait {
	struct buddyd *d;
	buddyd_done_cb cb;
	void *arg;
};

static void lock_when_idle(void *arg)
{
	struct lock_wait *lw = arg;
	struct buddyd *d = lw->d;

	buddyd_close_vault(d);
	log_info("locked");
	if (lw->cb)
		lw->cb(d, lw->arg, 0, NULL);
	free(lw);
}

int buddyd_lock(struct buddyd *d, buddyd_done_cb cb, void *arg)
{
	struct lock_wait *lw;
	int rc;

	if (d->state == BUDDYD_LOCKED) {
		cb(d, arg, 0, NULL);
		return 0;
	}
	if (d->state != BUDDYD_UNLOCKED)
		return BUDDY_E_BUSY;
	lw = malloc(sizeof(*lw));
	if (!lw)
		return BUDDY_E_NOMEM;
	*lw = (struct lock_wait){d, cb, arg};
	d->state = BUDDYD_LOCKING;
	rc = buddy_appender_when_idle(d->appender, lock_when_idle, lw);
	if (rc) {
		d->state = BUDDYD_UNLOCKED;
		free(lw);
	}
	return rc;
}

static void passwd_work(uv_work_t *w)
{
	struct vault_job *j = w->data;

	j->status = buddy_keys_load(j->d->home.keys, &j->kf);
	if (j->status == 0)
		j->status = buddy_keys_unseal(&j->kf, j->pass, j->passlen, &j->secrets);
	if (j->status == 0)
		j->status = buddy_keys_reseal(j->d->home.keys, j->secrets, j->newpass,
					      j->newpasslen, j->lvl);
	/* the new file is in place: the change succeeded even if reading it back fails, and the
	 * next unlock reads the file again anyway */
	if (j->status == 0)
		j->reloaded_kf = buddy_keys_load(j->d->home.keys, &j->kf) == 0;
}

static void passwd_done(uv_work_t *w, int uvstatus)
{
	struct vault_job *j = w->data;
	struct buddyd *d = j->d;

	d->passwd_busy = false;
	if (uvstatus)
		j->status = BUDDY_E_INTERNAL;
	if (j->status == 0) {
		d->keyfile_gen++;
		if (j->reloaded_kf)
			d->keyfile = j->kf;
		else
			log_warn("the new key file could not be read back; status may show the old "
				 "passphrase setting until buddyd restarts");
		d->unlock_failures = 0;
		log_info("passphrase changed");
	} else {
		note_failure(d, j);
	}
	j->cb(d, j->arg, j->status, NULL);
	job_free(j);
}

int buddyd_passwd(struct buddyd *d, const char *old, size_t oldlen, const char *new_, size_t newlen,
		  enum buddy_kdf_level lvl, buddyd_done_cb cb, void *arg)
{
	struct vault_job *j;

	if (d->passwd_busy)
		return BUDDY_E_BUSY;
	if (rate_limited(d, cb, arg))
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j)
		return BUDDY_E_NOMEM;
	j->pass = secret_dup(old ? old : "", old ? oldlen : 0);
	j->newpass = new_ ? secret_dup(new_, newlen) : NULL;
	if (!j->pass || (new_ && !j->newpass)) {
		job_free(j);
		return BUDDY_E_NOMEM;
	}
	j->passlen = old ? oldlen : 0;
	j->newpasslen = new_ ? newlen : 0;
	j->lvl = lvl;
	j->d = d;
	j->cb = cb;
	j->arg = arg;
	j->kf = d->keyfile;
	j->work.data = j;
	if (uv_queue_work(d->loop, &j->work, passwd_work, passwd_done)) {
		job_free(j);
		return BUDDY_E_INTERNAL;
	}
	d->passwd_busy = true;
	return 0;
}

/* Every record gets a number in append order, and d->rec_durable follows the newest one on
 * disk: the sync layer sends a post only once the record that holds it is durable (a post a
 * buddy has and we lost in a crash would fork our own stream). */
struct append_wrap {
	struct buddyd *d;
	uint64_t recno;
	buddy_append_cb cb;
	void *arg;
};

static void append_done(void *arg, int status)
{
	struct append_wrap *w = arg;
	struct buddyd *d = w->d;

	if (status == 0 && w->recno > d->rec_durable)
		d->rec_durable = w->recno;
	if (w->cb)
		w->cb(w->arg, status);
	free(w);
	if (status == 0)
		buddyd_sync_durable(d);
}

int buddyd_append(struct buddyd *d, const uint8_t *rec, size_t len, buddy_append_cb cb, void *arg)
{
	struct append_wrap *w;
	int rc;

	if (d->state != BUDDYD_UNLOCKED)
		return d->state == BUDDYD_RELOADING ? BUDDY_E_BUSY : BUDDY_E_LOCKED;
	if (len > BUDDY_STORE_RECORD_MAX)
		return BUDDY_E_TOOBIG;
	if (!(w = malloc(sizeof(*w))))
		return BUDDY_E_NOMEM;
	rc = buddy_journal_apply(d->journal, rec, len);
	if (rc) {
		free(w);
		log_error("a record built from a valid request did not apply (%s)",
			  buddy_strerror(rc));
		return BUDDY_E_INTERNAL;
	}
	*w = (struct append_wrap){d, ++d->rec_appended, cb, arg};
	rc = buddy_appender_append(d->appender, rec, len, append_done, w);
	if (rc) {
		free(w);
		/* applied in memory but not queued: rebuild memory from disk */
		on_append_fail(d, rc);
	}
	return rc;
}
