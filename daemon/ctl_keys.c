/* Control methods for the daemon itself and its keys: status, unlock, lock, passwd, and the
 * test clock (proto/CONTROL.md). Passphrases are copied straight into guarded memory by
 * vault.c; the request bytes that carried them are wiped by control.c. */
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/deadlines.h"
#include "buddy/error.h"
#include "buddy/events.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/peer.h"
#include "buddy/rpc.h"
#include "buddy/streams.h"
#include "ctl_methods.h"

#include <string.h>
#include <unistd.h>

static const char *state_name(enum buddyd_state s)
{
	switch (s) {
	case BUDDYD_LOCKED:
		return "locked";
	case BUDDYD_UNLOCKING:
		return "unlocking";
	case BUDDYD_UNLOCKED:
		return "unlocked";
	case BUDDYD_LOCKING:
		return "locking";
	case BUDDYD_RELOADING:
		return "reloading";
	}
	return "unknown";
}

/* "listen": the addresses the peer transport is bound to ([] when it is not running), and
 * "buddies": how many active buddies there are. */
static void pack_peer(struct buddyd *d, msgpack_packer *pk)
{
	struct buddy_addr a[BUDDY_PEER_ADDRS_MAX];
	struct buddy_buddies *bs = buddy_journal_buddies(d->journal);
	size_t n = d->peer ? buddy_peer_bound(d->peer, a, BUDDY_PEER_ADDRS_MAX) : 0, active = 0;

	buddy_mp_pack_cstr(pk, "listen");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		char s[BUDDY_ADDR_HOST_MAX + 8];
		buddy_addr_format(&a[i], s, sizeof(s));
		buddy_mp_pack_cstr(pk, s);
	}
	for (size_t i = 0; i < buddy_buddies_count(bs); i++)
		active += !buddy_buddies_at(bs, i)->revoked;
	buddy_mp_pack_cstr(pk, "buddies");
	msgpack_pack_uint64(pk, active);
}

/* "sync": per active buddy, how far my stream to them is delivered and theirs received;
 * "alerts": how many refusals are on record. */
static void pack_sync(struct buddyd *d, msgpack_packer *pk)
{
	struct buddy_buddies *bs = buddy_journal_buddies(d->journal);
	const struct buddy_streams *st = buddy_journal_streams(d->journal);
	size_t active = 0;

	for (size_t i = 0; i < buddy_buddies_count(bs); i++)
		active += !buddy_buddies_at(bs, i)->revoked;
	buddy_mp_pack_cstr(pk, "sync");
	msgpack_pack_array(pk, active);
	for (size_t i = 0; i < buddy_buddies_count(bs); i++) {
		const struct buddy_buddy *b = buddy_buddies_at(bs, i);
		uint64_t sent, delivered;
		if (b->revoked)
			continue;
		sent = buddy_streams_out_head(st, b->pk);
		delivered = buddy_streams_delivered(st, b->pk, NULL);
		msgpack_pack_map(pk, 7);
		buddy_mp_pack_cstr(pk, "buddy");
		buddy_mp_pack_cstr(pk, b->name);
		buddy_mp_pack_cstr(pk, "online");
		(d->peer && buddy_peer_online(d->peer, b->pk)) ? msgpack_pack_true(pk)
							       : msgpack_pack_false(pk);
		ctl_pack_stream_counts(pk, d->journal, b->pk);
		buddy_mp_pack_cstr(pk, "waiting");
		msgpack_pack_uint64(pk, sent - delivered);
		buddy_mp_pack_cstr(pk, "restoring");
		buddy_streams_out_pending(st, b->pk, NULL) ? msgpack_pack_true(pk)
							   : msgpack_pack_false(pk);
	}
	buddy_mp_pack_cstr(pk, "alerts");
	msgpack_pack_uint64(pk, buddy_streams_nalerts(st));
	buddy_mp_pack_cstr(pk, "unread");
	msgpack_pack_uint64(pk, buddy_events_unread(buddy_journal_events(d->journal)));
}

void ctl_status(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	char fp[BUDDY_FINGERPRINT_LEN + 1];
	bool open = d->state == BUDDYD_UNLOCKED;
	msgpack_packer *pk = ctl_result(r);
	size_t archived = 0, n = open ? buddy_journal_ncommits(d->journal) : 0;

	(void)p;
	for (size_t i = 0; i < n; i++)
		archived += buddy_journal_commit_at(d->journal, i)->archived != 0;
	buddy_keys_fingerprint(d->keyfile.sign_pk, fp);
	msgpack_pack_map(pk, open ? 17 : 8);
	buddy_mp_pack_cstr(pk, "version");
	buddy_mp_pack_cstr(pk, BUDDY_VERSION);
	buddy_mp_pack_cstr(pk, "control_version");
	msgpack_pack_int(pk, BUDDY_CONTROL_VERSION);
	buddy_mp_pack_cstr(pk, "home");
	buddy_mp_pack_cstr(pk, d->home.dir);
	buddy_mp_pack_cstr(pk, "pid");
	msgpack_pack_int64(pk, (int64_t)getpid());
	buddy_mp_pack_cstr(pk, "state");
	buddy_mp_pack_cstr(pk, state_name(d->state));
	buddy_mp_pack_cstr(pk, "locked");
	if (open)
		msgpack_pack_false(pk);
	else
		msgpack_pack_true(pk);
	buddy_mp_pack_cstr(pk, "fingerprint");
	buddy_mp_pack_cstr(pk, fp);
	buddy_mp_pack_cstr(pk, "passphrase");
	if (d->keyfile.has_passphrase)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	if (open) {
		buddy_mp_pack_cstr(pk, "commitments");
		msgpack_pack_uint64(pk, n - archived);
		buddy_mp_pack_cstr(pk, "archived");
		msgpack_pack_uint64(pk, archived);
		buddy_mp_pack_cstr(pk, "entries");
		msgpack_pack_uint64(pk, buddy_journal_nentries(d->journal));
		buddy_mp_pack_cstr(pk, "records");
		msgpack_pack_uint64(pk, buddy_journal_nrecords(d->journal));
		pack_peer(d, pk);
		pack_sync(d, pk);
	}
	ctl_result_send(r);
}

/* A passphrase may come as bin or str; absent is "none". */
static int get_pass(const msgpack_object *p, const char *key, const char **s, size_t *len)
{
	const msgpack_object *o = buddy_mp_get(p, key);

	*s = NULL;
	*len = 0;
	if (!o || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (o->type == MSGPACK_OBJECT_STR)
		return buddy_mp_str(o, BUDDY_PASSPHRASE_MAX, s, len);
	return buddy_mp_bin(o, BUDDY_PASSPHRASE_MAX, (const uint8_t **)s, len);
}

/* The sentence for BUDDY_E_BUSY from unlock and lock. */
static void answer_busy(struct buddyd *d, struct ctl_req *r)
{
	ctl_error(r, BUDDY_E_BUSY, "the journal is being %s; try again in a moment",
		  d->state == BUDDYD_UNLOCKING ? "unlocked"
		  : d->state == BUDDYD_LOCKING ? "locked"
					       : "reloaded after a write error");
}

static void unlock_done(struct buddyd *d, void *arg, int status, const char *detail)
{
	(void)d;
	if (status == BUDDY_E_AUTH)
		ctl_error(arg, status, "wrong passphrase; nothing was changed");
	else
		ctl_done_cb(d, arg, status, detail);
}

void ctl_unlock(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	const char *pass;
	size_t len;
	int rc;

	if (d->state == BUDDYD_UNLOCKED) {
		msgpack_packer *pk = ctl_result(r);
		msgpack_pack_map(pk, 1);
		buddy_mp_pack_cstr(pk, "already");
		msgpack_pack_true(pk);
		ctl_result_send(r);
		return;
	}
	if (get_pass(p, "passphrase", &pass, &len)) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"passphrase\" must be a string or bytes of at most %d",
			  BUDDY_PASSPHRASE_MAX);
		return;
	}
	if (d->keyfile.has_passphrase && !pass) {
		ctl_error(r, BUDDY_E_INVALID, "this journal has a passphrase: send \"passphrase\"");
		return;
	}
	rc = buddyd_unlock(d, pass, len, unlock_done, r);
	if (rc == BUDDY_E_BUSY)
		answer_busy(d, r);
	else if (rc)
		ctl_error(r, rc, "cannot unlock now: %s", buddy_strerror(rc));
}

void ctl_lock(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	int rc;

	(void)p;
	rc = buddyd_lock(d, ctl_done_cb, r);
	if (rc == BUDDY_E_BUSY)
		answer_busy(d, r);
	else if (rc)
		ctl_error(r, rc, "cannot lock now: %s", buddy_strerror(rc));
}

static void passwd_done(struct buddyd *d, void *arg, int status, const char *detail)
{
	(void)d;
	if (status == BUDDY_E_AUTH)
		ctl_error(arg, status, "wrong current passphrase; nothing was changed");
	else
		ctl_done_cb(d, arg, status, detail);
}

void ctl_passwd(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	enum buddy_kdf_level lvl = BUDDY_KDF_MODERATE;
	const msgpack_object *k = buddy_mp_get(p, "kdf");
	const char *old, *new_, *kdf;
	size_t oldlen, newlen, kdflen;
	char kname[16];
	int rc;

	if (get_pass(p, "old", &old, &oldlen) || get_pass(p, "new", &new_, &newlen)) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"old\" and \"new\" must be strings or bytes of at "
			  "most %d",
			  BUDDY_PASSPHRASE_MAX);
		return;
	}
	if (k) {
		if (buddy_mp_str(k, sizeof(kname) - 1, &kdf, &kdflen)) {
			ctl_error(r, BUDDY_E_INVALID, "\"kdf\" must be a string");
			return;
		}
		memcpy(kname, kdf, kdflen);
		kname[kdflen] = 0;
		if (buddy_kdf_level_parse(kname, &lvl)) {
			ctl_error(r, BUDDY_E_INVALID,
				  "\"kdf\" is interactive, moderate or sensitive");
			return;
		}
	}
	if (!new_ || newlen == 0)
		lvl = BUDDY_KDF_NONE;
	if (d->keyfile.has_passphrase && !old) {
		ctl_error(r, BUDDY_E_INVALID, "send the current passphrase as \"old\"");
		return;
	}
	rc = buddyd_passwd(d, old, oldlen, new_, newlen, lvl, passwd_done, r);
	if (rc)
		ctl_error(r, rc, "cannot change the passphrase now: %s", buddy_strerror(rc));
}

void ctl_clock_advance(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	msgpack_packer *pk;
	int64_t secs;
	int rc;

	if (buddy_mp_int(buddy_mp_get(p, "seconds"), &secs)) {
		ctl_error(r, BUDDY_E_INVALID, "\"seconds\" must be an integer");
		return;
	}
	rc = buddy_clock_advance(secs);
	if (rc == BUDDY_E_STATE) {
		ctl_error(r, rc,
			  "the clock can only be moved when buddyd runs with BUDDY_TEST_CLOCK");
		return;
	}
	if (rc) {
		ctl_error(r, rc, "\"seconds\" must not be negative");
		return;
	}
	/* what the new time made due is recorded before the answer (records apply at once) */
	if (d->state == BUDDYD_UNLOCKED)
		buddyd_deadlines_tick(d);
	pk = ctl_result(r);
	msgpack_pack_map(pk, 1);
	buddy_mp_pack_cstr(pk, "now");
	msgpack_pack_int64(pk, buddy_clock_now());
	ctl_result_send(r);
}
