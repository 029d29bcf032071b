/* The glue between the peer transport and the journal's buddies: which keys are admitted,
 * invite proofs, what sessions coming and going change, and starting the transport when the
 * journal is unlocked (its Noise static key is the identity, which exists only then). */
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/daemon.h"
#include "buddy/discovery.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "buddy/peer.h"
#include "buddy/post.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void short_id(const uint8_t pk[32], char out[9])
{
	sodium_bin2hex(out, 9, pk, 4);
}

static void appended(void *arg, int status)
{
	(void)arg;
	if (status)
		log_error("a buddy record could not be saved: %s", buddy_strerror(status));
}

static int append(struct buddyd *d, msgpack_sbuffer *rec)
{
	return buddyd_append(d, (const uint8_t *)rec->data, rec->size, appended, NULL);
}

/* A name for a new buddy that no other buddy has: the invite's, else it with -2, -3 ... */
static void free_name(struct buddy_buddies *bs, const char *want, char out[BUDDY_ID_MAX + 1])
{
	snprintf(out, BUDDY_ID_MAX + 1, "%s", want);
	for (int n = 2; buddy_buddies_by_name(bs, out) && n < 1000; n++)
		snprintf(out, BUDDY_ID_MAX + 1, "%.*s-%d", BUDDY_ID_MAX - 4, want, n);
}

/* Responder side of a pairing: the invite must exist, be unused and unexpired, and the proof
 * must be bound to this handshake. Any failure looks the same from outside: a closed socket. */
static bool admit_invite(struct buddyd *d, struct buddy_buddies *bs, const struct buddy_hello *h,
			 const uint8_t *hh, size_t hhlen)
{
	struct buddy_invite_rec *inv = buddy_buddies_invite(bs, h->invite_id);
	struct buddy_buddy *old = buddy_buddies_by_pk(bs, h->id);
	uint8_t proof[BUDDY_INVITE_PROOF_BYTES];
	char name[BUDDY_ID_MAX + 1], id[9];
	msgpack_sbuffer rec;
	int64_t now = buddy_clock_now();
	bool ok;

	short_id(h->id, id);
	if (!inv || inv->used || inv->expires <= now || (old && !old->revoked)) {
		log_info("pairing from %s refused: unknown, used or expired invite", id);
		return false;
	}
	buddy_invite_proof(inv->secret, hh, hhlen, proof);
	ok = crypto_verify_32(proof, h->proof) == 0;
	sodium_memzero(proof, sizeof(proof));
	if (!ok) {
		log_info("pairing from %s refused: wrong invite proof", id);
		return false;
	}
	free_name(bs, inv->name, name);
	msgpack_sbuffer_init(&rec);
	ok = buddy_buddies_make_invite_used(&rec, now, inv->id) == 0 && append(d, &rec) == 0;
	msgpack_sbuffer_clear(&rec);
	ok = ok && buddy_buddies_make_add(&rec, now, h->id, name, h->addrs, h->naddrs) == 0 &&
	     append(d, &rec) == 0;
	msgpack_sbuffer_destroy(&rec);
	if (ok)
		log_info("paired with %s through an invite", id);
	return ok;
}

static bool admit(void *owner, const struct buddy_hello *h, const uint8_t *hh, size_t hhlen,
		  bool we_initiated)
{
	struct buddyd *d = owner;
	struct buddy_buddies *bs;
	struct buddy_buddy *b;

	if (d->state != BUDDYD_UNLOCKED)
		return false;
	bs = buddy_journal_buddies(d->journal);
	if (h->has_invite)
		return !we_initiated && admit_invite(d, bs, h, hh, hhlen);
	b = buddy_buddies_by_pk(bs, h->id);
	return b && !b->revoked;
}

static bool same_addrs(const struct buddy_buddy *b, const struct buddy_addr *a, size_t n)
{
	if (b->naddrs != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(b->addrs[i].host, a[i].host) || b->addrs[i].port != a[i].port)
			return false;
	return true;
}

/* Keeps a buddy's new addresses for the next redial. Only a change is written, and at most one
 * per ADDRS_RECORD_INTERVAL_S: a buddy alternating its addresses must not be able to fill the
 * journal (the addresses dialled still change at once, in peer.c). */
#define ADDRS_RECORD_INTERVAL_S 60
static void record_addrs(struct buddyd *d, struct buddy_buddy *b, const struct buddy_addr *a,
			 size_t n)
{
	int64_t now = buddy_clock_now();
	msgpack_sbuffer rec;

	if (same_addrs(b, a, n) ||
	    (b->addrs_recorded && now - b->addrs_recorded < ADDRS_RECORD_INTERVAL_S))
		return;
	b->addrs_recorded = now;
	msgpack_sbuffer_init(&rec);
	if (buddy_buddies_make_addrs(&rec, now, b->pk, a, n) == 0)
		append(d, &rec);
	msgpack_sbuffer_destroy(&rec);
}

static void up(void *owner, const uint8_t pk[32], const struct buddy_hello *h,
	       const struct buddy_addr *remote)
{
	struct buddyd *d = owner;
	struct buddy_buddy *b;
	char id[9];

	(void)remote;
	if (d->state != BUDDYD_UNLOCKED)
		return;
	b = buddy_buddies_by_pk(buddy_journal_buddies(d->journal), pk);
	if (!b)
		return;
	short_id(pk, id);
	log_info("buddy %s online", id);
	b->online = true;
	b->last_seen = buddy_clock_now();
	buddyd_online_changed(d, pk);
	buddyd_notify_live(d, BUDDY_EV_ONLINE, pk);
	if (!b->revoked)
		buddyd_sync_up(d, pk);
	/* redial this buddy when the session drops, whoever dialled (an inviter has not asked
	 * for it before: its new buddy dialled in) */
	buddy_peer_want(d->peer, pk, h && h->naddrs ? h->addrs : b->addrs,
			h && h->naddrs ? h->naddrs : b->naddrs);
	/* an address change is picked up on contact, and kept for the next redial */
	if (h && h->naddrs)
		record_addrs(d, b, h->addrs, h->naddrs);
	/* a new buddy gets LAN beacons from now on */
	buddyd_discovery_refresh(d);
}

static void down(void *owner, const uint8_t pk[32])
{
	struct buddyd *d = owner;
	struct buddy_buddy *b;
	char id[9];

	if (d->state != BUDDYD_UNLOCKED && d->state != BUDDYD_LOCKING)
		return;
	b = buddy_buddies_by_pk(buddy_journal_buddies(d->journal), pk);
	if (!b)
		return;
	short_id(pk, id);
	log_info("buddy %s offline", id);
	b->online = false;
	b->last_seen = buddy_clock_now();
	buddyd_sync_down(d, pk);
	buddyd_online_changed(d, pk);
	buddyd_notify_live(d, BUDDY_EV_OFFLINE, pk);
}

static void message(void *owner, const uint8_t pk[32], const uint8_t *msg, size_t len)
{
	struct buddyd *d = owner;
	const msgpack_object *body;
	struct buddy_addr a[BUDDY_PEER_ADDRS_MAX];
	struct buddy_buddy *b;
	msgpack_unpacked u;
	uint64_t type = 0;
	size_t na;
	char id[9];

	short_id(pk, id);
	msgpack_unpacked_init(&u);
	/* peer.c checked the message; the share streams are sync.c's */
	if (buddy_msg_decode(msg, len, &u, &type, &body) == 0 && type >= BUDDY_MSG_HEADS &&
	    type <= BUDDY_MSG_END) {
		buddyd_sync_message(d, pk, type, body);
	} else if (type == BUDDY_MSG_ADDRS && d->state == BUDDYD_UNLOCKED &&
		   buddy_addrs_read(buddy_mp_get(body, "a"), a, BUDDY_PEER_ADDRS_MAX, &na) == 0 &&
		   na && (b = buddy_buddies_by_pk(buddy_journal_buddies(d->journal), pk)) &&
		   !b->revoked) {
		record_addrs(d, b, a, na);
	} else {
		log_debug("ignored a %zu-byte message from %s", len, id);
	}
	msgpack_unpacked_destroy(&u);
}

void buddyd_pairing_start(struct buddyd *d)
{
	struct buddy_peer_config cfg = {
		.loop = d->loop,
		.sign_pk = d->secrets->sign_pk,
		.sign_sk = d->secrets->sign_sk,
		.listen = d->listen,
		.nlisten = d->nlisten,
		.advertise = d->nadvertise ? d->advertise : NULL,
		.nadvertise = d->nadvertise,
		.ops = {admit, up, down, message},
		.owner = d,
		/* the session clock and the longest redial delay: [peer] in the config file */
		.ping_ms = (uint32_t)(d->config.peer_ping_s * 1000),
		.idle_ms = (uint32_t)(d->config.peer_idle_s * 1000),
		.redial_max_ms = (uint32_t)(d->config.peer_redial_max_s * 1000),
	};
	struct buddy_buddies *bs = buddy_journal_buddies(d->journal);
	int rc;

	/* an unlock that completes while buddyd stops must not open new sockets */
	if (d->peer || d->stopping)
		return;
	rc = buddy_peer_start(&cfg, &d->peer);
	if (rc && d->listen_default) {
		/* the default listens on IPv6 too; a machine without IPv6 still gets IPv4 */
		log_warn("listening on IPv4 only");
		cfg.nlisten = 1;
		rc = buddy_peer_start(&cfg, &d->peer);
	}
	if (rc) {
		log_error("the peer transport did not start (%s): buddies cannot connect",
			  buddy_strerror(rc));
		d->peer = NULL;
		return;
	}
	for (size_t i = 0; i < buddy_buddies_count(bs); i++) {
		struct buddy_buddy *b = buddy_buddies_at(bs, i);
		b->online = false;
		if (!b->revoked)
			buddy_peer_want(d->peer, b->pk, b->addrs, b->naddrs);
	}
	buddyd_discovery_start(d);
}

void buddyd_pairing_stop(struct buddyd *d)
{
	buddyd_discovery_stop(d);
	buddyd_sync_stop(d);
	buddy_peer_stop(d->peer);
	d->peer = NULL;
	buddyd_online_changed(d, NULL);
}
