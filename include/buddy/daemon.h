/* The daemon's state, shared by its modules: which home it serves, whether the journal is
 * unlocked, and the objects that exist only while it is. Owned by main.c; changed by vault.c
 * (unlock, lock, passwd, reload); read by the control methods. */
#ifndef BUDDY_DAEMON_H
#define BUDDY_DAEMON_H

#include "buddy/appender.h"
#include "buddy/config.h"
#include "buddy/events.h"
#include "buddy/home.h"
#include "buddy/invite.h"
#include "buddy/journal.h"
#include "buddy/keys.h"
#include "buddy/store.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define BUDDY_VERSION "0.1.0"

enum buddyd_state {
	BUDDYD_LOCKED,
	BUDDYD_UNLOCKING, /* Argon2id and the store's replay run on the threadpool */
	BUDDYD_UNLOCKED,
	BUDDYD_LOCKING,	 /* waiting for in-flight appends before wiping keys */
	BUDDYD_RELOADING /* a write failed: rebuilding the journal from the store */
};

struct buddy_control;
struct vault_job;
struct online_wait;
struct sync_peer;
struct pkix;
struct deadlines;
struct buddyd_discovery;
struct buddyd_backup;

struct buddyd {
	uv_loop_t *loop;
	struct buddy_home home;
	struct buddy_keyfile keyfile;
	enum buddyd_state state;
	struct buddy_secrets *secrets;
	struct buddy_store *store;
	struct buddy_journal *journal;
	struct buddy_appender *appender;
	struct buddy_control *control;
	unsigned unlock_failures;   /* wrong passphrases in a row */
	uint64_t unlock_not_before; /* buddy_clock_mono_ms() */
	bool passwd_busy;
	/* peer transport: runs only while unlocked (its static key is the identity) */
	struct buddy_peer *peer;
	struct buddy_addr listen[BUDDY_PEER_ADDRS_MAX];
	size_t nlisten;
	bool listen_default; /* no --listen: IPv6 may be missing on this machine */
	/* given on the command line: a configuration (re)load leaves them alone */
	bool listen_cli, advertise_cli, log_level_cli;
	struct buddy_addr advertise[BUDDY_PEER_ADDRS_MAX]; /* --advertise: sent in hellos */
	size_t nadvertise;
	struct online_wait *online_waiters; /* ctl_buddies.c: `buddies.wait` requests */
	uint64_t keyfile_gen;	      /* bumped by every passwd: an older read of the file loses */
	struct vault_job *spare_job;  /* vault.c's job for a reload, made before it is needed */
	uint64_t rec_appended;	      /* records appended since start, numbered in order ... */
	uint64_t rec_durable;	      /* ... and the newest of them known to be on disk */
	struct sync_peer *sync;	      /* sync.c: per-buddy stream state while unlocked */
	struct pkix *sync_ix;	      /* sync.c: d->sync by buddy key */
	struct deadlines *deadlines;  /* deadlines.c: the engine's timer while unlocked */
	struct buddyd_notify *notify; /* notify.c: where live events go, while unlocked */
	struct buddyd_discovery *discovery; /* discovery.c: LAN beacons, while the peers run */
	struct buddy_config config;	    /* $BUDDY_HOME/config, read at start and on reload */
	struct buddyd_backup *backup;	    /* ctl_backup.c: the backup being made, if any */
	bool stopping;
	uint64_t started_ms;
};

typedef void (*buddyd_done_cb)(struct buddyd *d, void *arg, int status, const char *detail);

/* Unseals the keys and opens the journal on the threadpool; cb on the loop thread. A wrong
 * passphrase is BUDDY_E_AUTH, and after 3 in a row each further try waits (BUDDY_E_RATELIMIT:
 * detail says how long). The passphrase is copied into guarded memory and wiped. */
int buddyd_unlock(struct buddyd *d, const char *pass, size_t len, buddyd_done_cb cb, void *arg);

/* Waits for in-flight appends, then closes the journal and wipes every key. */
int buddyd_lock(struct buddyd *d, buddyd_done_cb cb, void *arg);

/* Checks the old passphrase and re-seals the keys under the new one (threadpool). */
int buddyd_passwd(struct buddyd *d, const char *old, size_t oldlen, const char *new_, size_t newlen,
		  enum buddy_kdf_level lvl, buddyd_done_cb cb, void *arg);

/* Appends one record and applies it to the journal at once (so the next request sees it);
 * cb when durable. If the write fails the journal is rebuilt from the store. */
int buddyd_append(struct buddyd *d, const uint8_t *rec, size_t len, buddy_append_cb cb, void *arg);

/* pairing.c: starts the peer transport for an unlocked daemon (listening, dialling every
 * buddy) / stops it (idempotent). A failure to listen is logged; the journal stays usable. */
void buddyd_pairing_start(struct buddyd *d);
void buddyd_pairing_stop(struct buddyd *d);

/* ctl_buddies.c: a buddy went online or offline (answers `buddies.wait` requests); with
 * pk NULL, every waiter is answered now (the transport is stopping). */
void buddyd_online_changed(struct buddyd *d, const uint8_t *pk);

/* sync.c: the share streams over peer sessions (proto/PROTOCOL.md section 15). pairing.c calls
 * up/down/message; buddyd_sync_posted after appending a record with posts for pk (first..last
 * of my stream to pk), so they are sent once durable; buddyd_sync_durable when records became
 * durable (vault.c); buddyd_sync_end tells a buddy being revoked (END) and closes the session;
 * buddyd_sync_stop forgets every session (the transport stops). */
void buddyd_sync_up(struct buddyd *d, const uint8_t pk[32]);
void buddyd_sync_down(struct buddyd *d, const uint8_t pk[32]);
void buddyd_sync_message(struct buddyd *d, const uint8_t pk[32], uint64_t type,
			 const msgpack_object *body);
void buddyd_sync_posted(struct buddyd *d, const uint8_t pk[32], uint64_t first, uint64_t last);
void buddyd_sync_durable(struct buddyd *d);
void buddyd_sync_end(struct buddyd *d, const uint8_t pk[32]);
void buddyd_sync_stop(struct buddyd *d);

/* notify.c: live events (events.h) go to `watch` subscribers, hooks and the deadline engine
 * from start (after an unlock or a reload) to stop; online/offline are raised here. */
void buddyd_notify_start(struct buddyd *d);
void buddyd_notify_stop(struct buddyd *d);
void buddyd_notify_live(struct buddyd *d, enum buddy_event_kind kind, const uint8_t pk[32]);

/* notify.c: the hooks take the programs and time limit of d->config (after a reload). */
void buddyd_notify_reconfigure(struct buddyd *d);

/* ctl_config.c: d->listen and d->advertise from d->config, unless given on the command line
 * (no listen address anywhere: all interfaces); the log level likewise. */
void buddyd_config_apply_addrs(struct buddyd *d);
void buddyd_config_apply_log_level(struct buddyd *d);

/* ctl_config.c: reads $BUDDY_HOME/config again (SIGHUP, `config.reload`). A malformed file is
 * logged, its message in err, and the old configuration kept; otherwise the new one replaces
 * it and takes effect, the keys whose value changed in ch. */
#define BUDDYD_CONFIG_CHANGES_MAX 64
struct buddyd_config_changes {
	size_t n;
	char names[BUDDYD_CONFIG_CHANGES_MAX][48]; /* "section.key" */
};
int buddyd_config_reload(struct buddyd *d, struct buddyd_config_changes *ch, char *err,
			 size_t errlen);

/* ctl_backup.c: ends the backup in progress and wipes its secrets (the journal is closing). */
void buddyd_backup_stop(struct buddyd *d);

/* Closes the journal and wipes keys right away; for shutdown after the appender is idle. */
void buddyd_close_vault(struct buddyd *d);

#endif
