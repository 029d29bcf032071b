/* Control methods for pairing and buddies: invite, accept, buddies, verify, rename, revoke
 * (proto/CONTROL.md). */
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/discovery.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "buddy/peer.h"
#include "buddy/streams.h"
#include "buddy/text.h"
#include "ctl_methods.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define INVITE_DEFAULT_S (24 * 60 * 60)
#define INVITE_MAX_S	 (30 * 24 * 60 * 60)

static struct buddy_buddies *buddies(struct buddyd *d)
{
	return buddy_journal_buddies(d->journal);
}

static bool no_transport(struct buddyd *d, struct ctl_req *r)
{
	if (d->peer)
		return false;
	ctl_error(r, BUDDY_E_STATE,
		  "the peer transport is not running (see buddyd's log: could it listen?)");
	return true;
}

struct invite_wait {
	struct ctl_req *r;
	int64_t expires;
	char code[BUDDY_INVITE_CODE_MAX]; /* holds the secret: wiped */
	char name[BUDDY_ID_MAX + 1];
};

static void invite_saved(void *arg, int status)
{
	struct invite_wait *w = arg;
	msgpack_packer *pk;

	if (status) {
		ctl_error(w->r, status, "cannot record the invite: %s; no invite was made",
			  buddy_strerror(status));
	} else {
		pk = ctl_result(w->r);
		msgpack_pack_map(pk, 3);
		buddy_mp_pack_cstr(pk, "code");
		buddy_mp_pack_cstr(pk, w->code);
		buddy_mp_pack_cstr(pk, "expires");
		msgpack_pack_int64(pk, w->expires);
		buddy_mp_pack_cstr(pk, "name");
		buddy_mp_pack_cstr(pk, w->name);
		ctl_result_send(w->r);
	}
	sodium_memzero(w, sizeof(*w));
	free(w);
}

void ctl_invite(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_invite inv = {0};
	const msgpack_object *o;
	char name[BUDDY_ID_MAX + 1] = "", code[BUDDY_INVITE_CODE_MAX];
	uint8_t id[BUDDY_INVITE_ID_BYTES];
	int64_t secs = INVITE_DEFAULT_S, now = buddy_clock_now();
	struct invite_wait *w;
	msgpack_sbuffer rec;
	int rc;

	if (no_transport(d, r))
		return;
	if ((o = buddy_mp_get(p, "name")) && (buddy_mp_strcpy(o, BUDDY_ID_MAX, name) ||
					      !buddy_text_slug_valid(name, strlen(name)))) {
		ctl_error(r, BUDDY_E_INVALID, "\"name\" is 1 to 32 of a-z, 0-9, '-' and '_'");
		return;
	}
	if ((o = buddy_mp_get(p, "expires")) &&
	    (buddy_mp_int(o, &secs) || secs < 60 || secs > INVITE_MAX_S)) {
		ctl_error(r, BUDDY_E_INVALID, "\"expires\" is 60 seconds to 30 days, in seconds");
		return;
	}
	if ((o = buddy_mp_get(p, "addresses"))) {
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > BUDDY_PEER_ADDRS_MAX) {
			ctl_error(r, BUDDY_E_INVALID, "\"addresses\" is a list of at most %d",
				  BUDDY_PEER_ADDRS_MAX);
			return;
		}
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			char s[80];
			if (buddy_mp_strcpy(&o->via.array.ptr[i], sizeof(s) - 1, s) ||
			    buddy_addr_parse(s, 0, &inv.addrs[inv.naddrs])) {
				ctl_error(
					r, BUDDY_E_INVALID,
					"address %u is not HOST:PORT with a numeric IPv4 or [IPv6] "
					"host",
					i + 1);
				return;
			}
			inv.naddrs++;
		}
	} else {
		inv.naddrs = buddy_peer_advertised(d->peer, inv.addrs, BUDDY_PEER_ADDRS_MAX);
	}
	if (inv.naddrs == 0) {
		ctl_error(r, BUDDY_E_STATE, "no address to put in the invite: pass one");
		return;
	}
	memcpy(inv.inviter_pk, d->secrets->sign_pk, 32);
	randombytes_buf(inv.secret, sizeof(inv.secret));
	inv.expires = now + secs;
	buddy_invite_id(inv.secret, id);
	if (!name[0]) {
		char hex[9];
		sodium_bin2hex(hex, sizeof(hex), id, 4);
		snprintf(name, sizeof(name), "buddy-%s", hex);
	}
	rc = buddy_invite_encode(&inv, code, sizeof(code));
	msgpack_sbuffer_init(&rec);
	if (rc == 0)
		rc = buddy_buddies_make_invite(&rec, now, id, inv.secret, inv.expires, name);
	sodium_memzero(&inv, sizeof(inv));
	if (rc) {
		ctl_error(r, rc, "cannot make an invite: %s", buddy_strerror(rc));
	} else if (!(w = calloc(1, sizeof(*w)))) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
	} else {
		/* the code is given out only once the invite is durably recorded */
		w->r = r;
		w->expires = now + secs;
		memcpy(w->code, code, sizeof(code));
		memcpy(w->name, name, sizeof(name));
		rc = buddyd_append(d, (const uint8_t *)rec.data, rec.size, invite_saved, w);
		if (rc) {
			sodium_memzero(w, sizeof(*w));
			free(w);
			ctl_error(r, rc, "cannot record the invite: %s", buddy_strerror(rc));
		}
	}
	sodium_memzero(code, sizeof(code));
	sodium_memzero(rec.data, rec.size);
	msgpack_sbuffer_destroy(&rec);
}

struct accept_wait {
	struct ctl_req *r;
	struct buddyd *d;
	uint8_t pk[32];
	char name[BUDDY_ID_MAX + 1];
	size_t naddrs; /* the code's addresses: one of them answered */
	struct buddy_addr addrs[BUDDY_PEER_ADDRS_MAX];
};

static void accept_saved(void *arg, int status)
{
	struct accept_wait *w = arg;
	char fp[BUDDY_FINGERPRINT_LEN + 1];
	msgpack_packer *pk;

	if (status) {
		ctl_error(w->r, status, "paired, but the buddy could not be recorded: %s",
			  buddy_strerror(status));
	} else {
		buddy_keys_fingerprint(w->pk, fp);
		pk = ctl_result(w->r);
		msgpack_pack_map(pk, 2);
		buddy_mp_pack_cstr(pk, "name");
		buddy_mp_pack_cstr(pk, w->name);
		buddy_mp_pack_cstr(pk, "fingerprint");
		buddy_mp_pack_cstr(pk, fp);
		ctl_result_send(w->r);
	}
	free(w);
}

static bool paired(void *arg, int status, const struct buddy_hello *inviter)
{
	struct accept_wait *w = arg;
	struct buddyd *d = w->d;
	struct buddy_buddies *bs;
	struct buddy_buddy *old;
	msgpack_sbuffer rec;
	int rc;

	if (status == BUDDY_E_PERM) {
		ctl_error(w->r, BUDDY_E_AUTH,
			  "another key answered at the invite's address: not the person who made "
			  "the invite (possible interception); nothing was paired");
	} else if (status == BUDDY_E_AUTH) {
		ctl_error(w->r, status,
			  "the inviter's daemon refused the code: it was used already, has "
			  "expired, or was cancelled");
	} else if (status) {
		ctl_error(w->r, status,
			  "could not reach the inviter at any address in the code (is their "
			  "buddyd running and reachable?)");
	} else if (d->state != BUDDYD_UNLOCKED) {
		ctl_error(w->r, BUDDY_E_BUSY,
			  "the journal was locked or reloaded while pairing: "
			  "pair again");
	} else if (bs = buddies(d), (old = buddy_buddies_by_pk(bs, w->pk)) && !old->revoked) {
		ctl_error(w->r, BUDDY_E_EXISTS, "you are already buddies (as \"%s\")", old->name);
	} else if (buddy_buddies_by_name(bs, w->name)) {
		/* taken while the handshake ran */
		ctl_error(w->r, BUDDY_E_EXISTS, "you already have a buddy called \"%s\"", w->name);
	} else {
		/* where the inviter says it can be reached, else where the code said */
		const struct buddy_addr *a = inviter->naddrs ? inviter->addrs : w->addrs;
		size_t na = inviter->naddrs ? inviter->naddrs : w->naddrs;

		msgpack_sbuffer_init(&rec);
		rc = buddy_buddies_make_add(&rec, buddy_clock_now(), w->pk, w->name, a, na);
		if (rc == 0)
			rc = buddyd_append(d, (const uint8_t *)rec.data, rec.size, accept_saved, w);
		msgpack_sbuffer_destroy(&rec);
		if (rc == 0) {
			buddy_peer_want(d->peer, w->pk, a, na);
			return true;
		}
		ctl_error(w->r, rc, "paired, but the buddy could not be recorded: %s",
			  buddy_strerror(rc));
	}
	free(w);
	return false;
}

void ctl_accept(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_invite inv;
	struct accept_wait *w;
	struct buddy_buddy *old;
	char code[BUDDY_INVITE_CODE_MAX], name[BUDDY_ID_MAX + 1];
	int rc;

	if (no_transport(d, r))
		return;
	if (buddy_mp_strcpy(buddy_mp_get(p, "code"), sizeof(code) - 1, code)) {
		ctl_error(r, BUDDY_E_INVALID, "\"code\" must be the invite code, as text");
		return;
	}
	if (buddy_mp_strcpy(buddy_mp_get(p, "name"), BUDDY_ID_MAX, name) ||
	    !buddy_text_slug_valid(name, strlen(name))) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"name\" (what you will call this buddy) is 1 to 32 of a-z, 0-9, '-' "
			  "and '_'");
		return;
	}
	rc = buddy_invite_decode(code, &inv);
	sodium_memzero(code, sizeof(code));
	if (rc == BUDDY_E_CORRUPT) {
		ctl_error(r, BUDDY_E_INVALID, "the code has a typo: its checksum does not match");
		return;
	}
	if (rc == BUDDY_E_VERSION) {
		ctl_error(r, BUDDY_E_VERSION, "the code was made by a newer buddy: update buddy");
		return;
	}
	if (rc) {
		ctl_error(r, BUDDY_E_INVALID, "that is not an invite code (they start with bdy1-)");
		return;
	}
	if (!memcmp(inv.inviter_pk, d->secrets->sign_pk, 32)) {
		ctl_error(r, BUDDY_E_INVALID, "that is your own invite: give it to your buddy");
		goto out;
	}
	if (inv.expires <= buddy_clock_now()) {
		ctl_error(r, BUDDY_E_STATE, "the invite has expired: ask for a new one");
		goto out;
	}
	old = buddy_buddies_by_pk(buddies(d), inv.inviter_pk);
	if (old && !old->revoked) {
		ctl_error(r, BUDDY_E_EXISTS, "you are already buddies (as \"%s\")", old->name);
		goto out;
	}
	if (buddy_buddies_by_name(buddies(d), name)) {
		ctl_error(r, BUDDY_E_EXISTS, "you already have a buddy called \"%s\"", name);
		goto out;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		goto out;
	}
	w->r = r;
	w->d = d;
	memcpy(w->pk, inv.inviter_pk, 32);
	memcpy(w->name, name, sizeof(name));
	memcpy(w->addrs, inv.addrs, sizeof(w->addrs));
	w->naddrs = inv.naddrs;
	rc = buddy_peer_pair(d->peer, &inv, paired, w);
	if (rc) {
		free(w);
		ctl_error(r, rc, "cannot start pairing: %s", buddy_strerror(rc));
	}
out:
	sodium_memzero(&inv, sizeof(inv));
}

static void pack_addrs(msgpack_packer *pk, const struct buddy_addr *a, size_t n)
{
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		char s[BUDDY_ADDR_HOST_MAX + 8];
		buddy_addr_format(&a[i], s, sizeof(s));
		buddy_mp_pack_cstr(pk, s);
	}
}

void ctl_buddies(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_buddies *bs = buddies(d);
	size_t n = 0;
	msgpack_packer *pk;

	(void)p;
	for (size_t i = 0; i < buddy_buddies_count(bs); i++)
		n += !buddy_buddies_at(bs, i)->forgotten;
	pk = ctl_result(r);
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < buddy_buddies_count(bs); i++) {
		struct buddy_buddy *b = buddy_buddies_at(bs, i);
		char fp[BUDDY_FINGERPRINT_LEN + 1];
		if (b->forgotten)
			continue;
		buddy_keys_fingerprint(b->pk, fp);
		msgpack_pack_map(pk, 14);
		buddy_mp_pack_cstr(pk, "name");
		buddy_mp_pack_cstr(pk, b->name);
		buddy_mp_pack_cstr(pk, "fingerprint");
		buddy_mp_pack_cstr(pk, fp);
		buddy_mp_pack_cstr(pk, "verified");
		b->verified ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		buddy_mp_pack_cstr(pk, "online");
		(d->peer && buddy_peer_online(d->peer, b->pk)) ? msgpack_pack_true(pk)
							       : msgpack_pack_false(pk);
		buddy_mp_pack_cstr(pk, "last_seen");
		b->last_seen ? msgpack_pack_int64(pk, b->last_seen) : msgpack_pack_nil(pk);
		buddy_mp_pack_cstr(pk, "paired");
		msgpack_pack_int64(pk, b->paired);
		buddy_mp_pack_cstr(pk, "revoked");
		b->revoked ? msgpack_pack_int64(pk, b->revoked) : msgpack_pack_nil(pk);
		buddy_mp_pack_cstr(pk, "addresses");
		pack_addrs(pk, b->addrs, b->naddrs);
		buddy_mp_pack_cstr(pk, "ended_by_them");
		b->ended_by_them ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		ctl_pack_stream_counts(pk, d->journal, b->pk);
		buddy_mp_pack_cstr(pk, "shared");
		{
			size_t nc = buddy_journal_ncommits(d->journal), ns = 0;
			for (size_t k = 0; k < nc; k++)
				ns += buddy_streams_is_shared(
					buddy_journal_streams(d->journal),
					buddy_journal_commit_at(d->journal, k)->id, b->pk);
			msgpack_pack_array(pk, ns);
			for (size_t k = 0; k < nc; k++) {
				const char *cid = buddy_journal_commit_at(d->journal, k)->id;
				if (buddy_streams_is_shared(buddy_journal_streams(d->journal), cid,
							    b->pk))
					buddy_mp_pack_cstr(pk, cid);
			}
		}
		buddy_mp_pack_cstr(pk, "public_key");
		{
			char hex[65];
			sodium_bin2hex(hex, sizeof(hex), b->pk, 32);
			buddy_mp_pack_cstr(pk, hex);
		}
	}
	ctl_result_send(r);
}

struct buddy_buddy *ctl_buddy_named(struct buddyd *d, struct ctl_req *r, const msgpack_object *o,
				    const char *what)
{
	char name[BUDDY_ID_MAX + 1];
	struct buddy_buddy *b;

	if (buddy_mp_strcpy(o, BUDDY_ID_MAX, name)) {
		ctl_error(r, BUDDY_E_INVALID, "\"%s\" must be a buddy's name", what);
		return NULL;
	}
	b = buddy_buddies_by_name(buddies(d), name);
	if (!b) {
		ctl_error(r, BUDDY_E_NOTFOUND, "no buddy called \"%s\" (see: buddy buddies)", name);
		return NULL;
	}
	if (b->revoked) {
		if (b->ended_by_them)
			ctl_error(r, BUDDY_E_STATE, "\"%s\" ended the pairing", name);
		else
			ctl_error(r, BUDDY_E_STATE, "\"%s\" was revoked", name);
		return NULL;
	}
	return b;
}

struct buddy_buddy *ctl_named_buddy(struct buddyd *d, struct ctl_req *r, const msgpack_object *p,
				    const char *key)
{
	return ctl_buddy_named(d, r, buddy_mp_get(p, key), key);
}

static void record_and_reply(struct buddyd *d, struct ctl_req *r, msgpack_sbuffer *rec, int rc)
{
	if (rc)
		ctl_error(r, rc, "cannot record it: %s", buddy_strerror(rc));
	else
		ctl_append_and_reply(d, r, rec, 0);
}

void ctl_verify(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_buddy *b = ctl_named_buddy(d, r, p, "name");
	char sn[BUDDY_SAFETY_NUMBER_LEN];
	bool confirm = false;
	msgpack_packer *pk;
	msgpack_sbuffer rec;

	if (!b)
		return;
	if (buddy_mp_get(p, "confirm") && buddy_mp_bool(buddy_mp_get(p, "confirm"), &confirm)) {
		ctl_error(r, BUDDY_E_INVALID, "\"confirm\" must be a boolean");
		return;
	}
	if (confirm && !b->verified) {
		msgpack_sbuffer_init(&rec);
		record_and_reply(d, r, &rec,
				 buddy_buddies_make_verify(&rec, buddy_clock_now(), b->pk));
		msgpack_sbuffer_destroy(&rec);
		return;
	}
	buddy_safety_number(d->secrets->sign_pk, b->pk, sn);
	pk = ctl_result(r);
	msgpack_pack_map(pk, 3);
	buddy_mp_pack_cstr(pk, "name");
	buddy_mp_pack_cstr(pk, b->name);
	buddy_mp_pack_cstr(pk, "safety_number");
	buddy_mp_pack_cstr(pk, sn);
	buddy_mp_pack_cstr(pk, "verified");
	b->verified ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	ctl_result_send(r);
}

void ctl_rename(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_buddy *b = ctl_named_buddy(d, r, p, "name");
	char name[BUDDY_ID_MAX + 1];
	msgpack_sbuffer rec;

	if (!b)
		return;
	if (buddy_mp_strcpy(buddy_mp_get(p, "new"), BUDDY_ID_MAX, name) ||
	    !buddy_text_slug_valid(name, strlen(name))) {
		ctl_error(r, BUDDY_E_INVALID, "\"new\" is 1 to 32 of a-z, 0-9, '-' and '_'");
		return;
	}
	if (buddy_buddies_by_name(buddies(d), name)) {
		ctl_error(r, BUDDY_E_EXISTS, "you already have a buddy called \"%s\"", name);
		return;
	}
	msgpack_sbuffer_init(&rec);
	record_and_reply(d, r, &rec,
			 buddy_buddies_make_rename(&rec, buddy_clock_now(), b->pk, name));
	msgpack_sbuffer_destroy(&rec);
}

void ctl_revoke(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_buddy *b = ctl_named_buddy(d, r, p, "name");
	uint8_t pk[32];
	bool forget = false;
	msgpack_sbuffer rec;
	int rc;

	if (!b)
		return;
	if (buddy_mp_get(p, "forget") && buddy_mp_bool(buddy_mp_get(p, "forget"), &forget)) {
		ctl_error(r, BUDDY_E_INVALID, "\"forget\" must be a boolean");
		return;
	}
	memcpy(pk, b->pk, 32);
	msgpack_sbuffer_init(&rec);
	rc = buddy_buddies_make_revoke(&rec, buddy_clock_now(), pk, forget);
	record_and_reply(d, r, &rec, rc);
	msgpack_sbuffer_destroy(&rec);
	/* applied already (appends apply at once): no further connection from or to that key;
	 * a session in progress hears END first, so the buddy stops dialling */
	if (rc == 0 && d->peer)
		buddyd_sync_end(d, pk);
	/* its LAN beacon key goes at once: no beacon for it, none recognised from it */
	if (rc == 0)
		buddyd_discovery_refresh(d);
}

/* ---- buddies.wait: answer when a buddy is online (or offline), for scripts and tests ---- */

struct online_wait {
	struct online_wait *next;
	struct buddyd *d;
	struct ctl_req *r;
	uint8_t pk[32];
	bool want_online;
	uv_timer_t timer;
};

static bool is_online(struct buddyd *d, const uint8_t pk[32])
{
	return d->peer && buddy_peer_online(d->peer, pk);
}

static void wait_closed(uv_handle_t *h)
{
	free(h->data);
}

static void answer_wait(struct online_wait *w)
{
	struct buddyd *d = w->d;
	struct online_wait **pp = &d->online_waiters;
	msgpack_packer *pk = ctl_result(w->r);

	msgpack_pack_map(pk, 1);
	buddy_mp_pack_cstr(pk, "online");
	is_online(d, w->pk) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	ctl_result_send(w->r);
	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, wait_closed);
}

static void wait_timeout(uv_timer_t *t)
{
	answer_wait(t->data);
}

void buddyd_online_changed(struct buddyd *d, const uint8_t *pk)
{
	struct online_wait *w = d->online_waiters, *next;

	for (; w; w = next) {
		next = w->next;
		if (!pk || (!memcmp(w->pk, pk, 32) && is_online(d, pk) == w->want_online))
			answer_wait(w);
	}
}

void ctl_buddies_wait(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	char name[BUDDY_ID_MAX + 1];
	struct buddy_buddy *b;
	struct online_wait *w;
	bool want = true;
	int64_t ms = 30000;
	msgpack_packer *pk;

	if ((buddy_mp_get(p, "online") && buddy_mp_bool(buddy_mp_get(p, "online"), &want)) ||
	    (buddy_mp_get(p, "timeout_ms") &&
	     (buddy_mp_int(buddy_mp_get(p, "timeout_ms"), &ms) || ms < 0 || ms > 600000))) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"online\" is a boolean and \"timeout_ms\" 0 to 600000");
		return;
	}
	/* a revoked buddy (by either side) is offline for good: waiting for that is answered
	 * now, waiting for it to come online is an error */
	if (!want && buddy_mp_strcpy(buddy_mp_get(p, "name"), BUDDY_ID_MAX, name) == 0 &&
	    (b = buddy_buddies_by_name(buddies(d), name)) && b->revoked) {
		pk = ctl_result(r);
		msgpack_pack_map(pk, 1);
		buddy_mp_pack_cstr(pk, "online");
		msgpack_pack_false(pk);
		ctl_result_send(r);
		return;
	}
	if (!(b = ctl_named_buddy(d, r, p, "name")))
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		return;
	}
	w->d = d;
	w->r = r;
	w->want_online = want;
	memcpy(w->pk, b->pk, 32);
	/* the timer's memory is the waiter's: freed in its close callback */
	uv_timer_init(d->loop, &w->timer);
	w->timer.data = w;
	w->next = d->online_waiters;
	d->online_waiters = w;
	if (is_online(d, w->pk) == want || !d->peer)
		answer_wait(w);
	else
		uv_timer_start(&w->timer, wait_timeout, (uint64_t)ms, 0);
}
