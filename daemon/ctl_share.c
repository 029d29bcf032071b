/* Control methods of sharing (proto/CONTROL.md): share, unshare, retract, react, show, pause,
 * and the helpers with which checkin, log and commit.archive post what they change. A change and
 * its posts go to disk as one record (streams.h, type 30), so what was meant to be shared
 * cannot be stored without the post that shares it. */
#include "buddy/clock.h"
#include "buddy/deadlines.h"
#include "buddy/error.h"
#include "buddy/keys.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "buddy/pauses.h"
#include "buddy/peer.h"
#include "buddy/seen.h"
#include "buddy/streams.h"
#include "ctl_methods.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHOW_RECENT_DEFAULT 5
#define SHOW_PERIODS	    12

static struct buddy_streams *streams(struct buddyd *d)
{
	return buddy_journal_streams(d->journal);
}

static struct buddy_buddies *buddies(struct buddyd *d)
{
	return buddy_journal_buddies(d->journal);
}

static const char *name_of(struct buddy_buddies *bs, const uint8_t pk[32], char hex[9])
{
	struct buddy_buddy *b = buddy_buddies_by_pk(bs, pk);

	if (b && b->name[0])
		return b->name;
	sodium_bin2hex(hex, 9, pk, 4);
	return hex;
}

void ctl_pack_buddy_name(msgpack_packer *pk, const struct buddy_journal *j, const uint8_t who[32])
{
	char hex[9];

	buddy_mp_pack_cstr(pk, name_of(buddy_journal_buddies(j), who, hex));
}

void ctl_pack_buddy_names(msgpack_packer *pk, const struct buddy_journal *j,
			  const uint8_t (*pks)[32], size_t n)
{
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		ctl_pack_buddy_name(pk, j, pks[i]);
}

void ctl_pack_stream_counts(msgpack_packer *pk, const struct buddy_journal *j,
			    const uint8_t pk32[32])
{
	const struct buddy_streams *st = buddy_journal_streams(j);

	buddy_mp_pack_cstr(pk, "sent");
	msgpack_pack_uint64(pk, buddy_streams_out_head(st, pk32));
	buddy_mp_pack_cstr(pk, "delivered");
	msgpack_pack_uint64(pk, buddy_streams_delivered(st, pk32, NULL));
	buddy_mp_pack_cstr(pk, "received");
	msgpack_pack_uint64(pk, buddy_streams_in_head(st, pk32));
}

void ctl_targets_of_commit(struct buddyd *d, const char *commit, struct ctl_targets *t)
{
	uint8_t with[BUDDY_SHARE_TARGETS_MAX][32];
	size_t n = buddy_streams_shared_with(streams(d), commit, with, BUDDY_SHARE_TARGETS_MAX);

	t->n = 0;
	for (size_t i = 0; i < n && i < BUDDY_SHARE_TARGETS_MAX; i++) {
		struct buddy_buddy *b = buddy_buddies_by_pk(buddies(d), with[i]);
		if (b && !b->revoked)
			memcpy(t->pk[t->n++], with[i], 32);
	}
}

int ctl_commit_post_body(const struct buddy_commitment *c, int64_t archived, bool on,
			 msgpack_sbuffer *out)
{
	struct buddy_post_commitment pc = {
		.title = c->title,
		.title_len = strlen(c->title),
		.cadence = c->cadence,
		.created = c->created,
		.archived = archived,
		.on = on,
	};

	memcpy(pc.id, c->id, sizeof(pc.id));
	memcpy(pc.tz, c->tz, sizeof(pc.tz));
	return buddy_post_write_commitment(out, &pc);
}

/* ---- appending a change with its posts ---- */

struct posted_wait {
	struct buddyd *d;
	struct ctl_req *r;
	enum ctl_reply reply;
	uint64_t id;
	struct ctl_targets t;
};

static void posted_durable(void *arg, int status)
{
	struct posted_wait *w = arg;
	msgpack_packer *pk;

	if (status) {
		ctl_error_unsaved(w->r, status);
	} else if (w->reply == CTL_REPLY_EMPTY) {
		ctl_ok(w->r);
	} else {
		pk = ctl_result(w->r);
		if (w->reply == CTL_REPLY_ENTRY) {
			msgpack_pack_map(pk, 2);
			buddy_mp_pack_cstr(pk, "id");
			msgpack_pack_uint64(pk, w->id);
			buddy_mp_pack_cstr(pk, "shared_with");
		} else {
			msgpack_pack_map(pk, 1);
			buddy_mp_pack_cstr(pk, "retracted_from");
		}
		/* the journal may be locked by now: names as they were when the request ran */
		if (w->d->journal)
			ctl_pack_buddy_names(pk, w->d->journal, (const uint8_t(*)[32])w->t.pk,
					     w->t.n);
		else
			msgpack_pack_array(pk, 0);
		ctl_result_send(w->r);
	}
	free(w);
}

void ctl_append_posts(struct buddyd *d, struct ctl_req *r, const msgpack_sbuffer *inner,
		      enum buddy_post_type type, const msgpack_sbuffer *body,
		      const struct ctl_targets *t, enum ctl_reply reply, uint64_t id)
{
	struct posted_wait *w = calloc(1, sizeof(*w));
	struct buddy_posting *pg = NULL;
	int64_t now = buddy_clock_now();
	const msgpack_sbuffer *rec = inner;
	msgpack_sbuffer wrapped;
	int rc = 0;

	msgpack_sbuffer_init(&wrapped);
	if (!w) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		goto out;
	}
	*w = (struct posted_wait){.d = d, .r = r, .reply = reply, .id = id, .t = *t};
	if (t->n) {
		if (!(pg = buddy_posting_new())) {
			rc = BUDDY_E_NOMEM;
		} else {
			for (size_t i = 0; i < t->n && !rc; i++)
				rc = buddy_posting_add(pg, streams(d), t->pk[i], now, type,
						       (const uint8_t *)body->data, body->size);
			if (!rc)
				rc = buddy_streams_make_posted(
					&wrapped, now, inner ? (const uint8_t *)inner->data : NULL,
					inner ? inner->size : 0, pg);
		}
		rec = &wrapped;
	}
	if (rc == BUDDY_E_TOOBIG) {
		ctl_error(r, rc, "too large to share: a post is at most %d bytes", BUDDY_POST_MAX);
		goto fail;
	}
	if (rc) {
		ctl_error(r, rc, "cannot make the posts: %s", buddy_strerror(rc));
		goto fail;
	}
	rc = buddyd_append(d, (const uint8_t *)rec->data, rec->size, posted_durable, w);
	if (rc) {
		ctl_error_unsaved(r, rc);
		goto fail;
	}
	/* applied: each target's stream now ends with this post; it goes out once durable */
	for (size_t i = 0; i < t->n; i++) {
		uint64_t last = buddy_streams_out_head(streams(d), t->pk[i]);
		buddyd_sync_posted(d, t->pk[i], last, last);
	}
	w = NULL;
fail:
	free(w);
out:
	buddy_posting_free(pg);
	msgpack_sbuffer_destroy(&wrapped);
}

/* ---- share / unshare ---- */

static const struct buddy_commitment *commit_param(struct buddyd *d, struct ctl_req *r,
						   const msgpack_object *p)
{
	char id[BUDDY_ID_MAX + 1];
	const struct buddy_commitment *c;

	if (buddy_mp_strcpy(buddy_mp_get(p, "commit"), BUDDY_ID_MAX, id)) {
		ctl_error(r, BUDDY_E_INVALID, "\"commit\" must be a commitment id");
		return NULL;
	}
	c = buddy_journal_commit_find(d->journal, id, NULL);
	if (!c)
		ctl_error(r, BUDDY_E_NOTFOUND, "no commitment \"%s\" (see: buddy commit list)", id);
	return c;
}

static void share_set(struct buddyd *d, struct ctl_req *r, const msgpack_object *p, bool on)
{
	const struct buddy_commitment *c = commit_param(d, r, p);
	struct buddy_buddy *b = c ? ctl_named_buddy(d, r, p, "buddy") : NULL;
	struct ctl_targets t = {.n = 1};
	msgpack_sbuffer rec, body;
	int rc;

	if (!b)
		return;
	if (on && c->archived) {
		ctl_error(r, BUDDY_E_STATE, "commitment \"%s\" is archived", c->id);
		return;
	}
	if (buddy_streams_is_shared(streams(d), c->id, b->pk) == on) {
		if (on)
			ctl_error(r, BUDDY_E_EXISTS, "\"%s\" is shared with %s already", c->id,
				  b->name);
		else
			ctl_error(r, BUDDY_E_STATE, "\"%s\" is not shared with %s", c->id, b->name);
		return;
	}
	memcpy(t.pk[0], b->pk, 32);
	msgpack_sbuffer_init(&rec);
	msgpack_sbuffer_init(&body);
	rc = buddy_streams_make_shared(&rec, buddy_clock_now(), c->id, b->pk, on);
	if (!rc)
		rc = ctl_commit_post_body(c, c->archived, on, &body);
	if (rc)
		ctl_error(r, rc, "cannot share: %s", buddy_strerror(rc));
	else
		ctl_append_posts(d, r, &rec, BUDDY_POST_COMMITMENT, &body, &t, CTL_REPLY_EMPTY, 0);
	msgpack_sbuffer_destroy(&rec);
	msgpack_sbuffer_destroy(&body);
}

void ctl_share(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	share_set(d, r, p, true);
}

void ctl_unshare(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	share_set(d, r, p, false);
}

/* ---- retract ---- */

void ctl_retract(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	const struct buddy_seen_share *sh;
	struct ctl_targets t = {0};
	msgpack_sbuffer body;
	uint64_t e;
	size_t n;

	if (buddy_mp_uint(buddy_mp_get(p, "entry"), &e) || e == 0) {
		ctl_error(r, BUDDY_E_INVALID, "\"entry\" must be an entry id");
		return;
	}
	if (e > buddy_journal_nentries(d->journal)) {
		ctl_error(r, BUDDY_E_NOTFOUND, "no entry #%llu", (unsigned long long)e);
		return;
	}
	sh = buddy_seen_shares_of(buddy_journal_seen(d->journal), e, &n);
	for (size_t i = 0; i < n && t.n < BUDDY_SHARE_TARGETS_MAX; i++) {
		struct buddy_buddy *b = buddy_buddies_by_pk(buddies(d), sh[i].pk);
		if (!sh[i].retracted && b && !b->revoked)
			memcpy(t.pk[t.n++], sh[i].pk, 32);
	}
	if (!t.n) {
		ctl_error(r, BUDDY_E_STATE,
			  n ? "entry #%llu is retracted from every buddy it went to already"
			    : "entry #%llu was never shared",
			  (unsigned long long)e);
		return;
	}
	msgpack_sbuffer_init(&body);
	if (buddy_post_write_retraction(&body, e))
		ctl_error(r, BUDDY_E_INTERNAL, "cannot write the retraction");
	else
		ctl_append_posts(d, r, NULL, BUDDY_POST_RETRACTION, &body, &t, CTL_REPLY_RETRACTED,
				 0);
	msgpack_sbuffer_destroy(&body);
}

/* ---- react ---- */

void ctl_react(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_buddy *b = ctl_named_buddy(d, r, p, "buddy");
	struct buddy_post_reaction re = {0};
	const struct buddy_seen_entry *se;
	const msgpack_object *o;
	struct ctl_targets t = {.n = 1};
	msgpack_sbuffer body;

	if (!b)
		return;
	if (buddy_mp_uint(buddy_mp_get(p, "entry"), &re.e) || re.e == 0) {
		ctl_error(r, BUDDY_E_INVALID, "\"entry\" must be the buddy's entry id");
		return;
	}
	if (buddy_mp_str_eq(buddy_mp_get(p, "kind"), "cheer"))
		re.kind = BUDDY_REACTION_CHEER;
	else if (buddy_mp_str_eq(buddy_mp_get(p, "kind"), "comment"))
		re.kind = BUDDY_REACTION_COMMENT;
	else {
		ctl_error(r, BUDDY_E_INVALID, "\"kind\" must be cheer or comment");
		return;
	}
	re.text = "";
	if ((o = buddy_mp_get(p, "text")) && o->type != MSGPACK_OBJECT_NIL &&
	    buddy_mp_str(o, BUDDY_REACTION_TEXT_MAX, &re.text, &re.text_len)) {
		ctl_error(r, BUDDY_E_INVALID, "\"text\" must be a string of at most %d bytes",
			  BUDDY_REACTION_TEXT_MAX);
		return;
	}
	se = buddy_seen_entry_find(buddy_journal_seen(d->journal), b->pk, re.e);
	if (!se) {
		ctl_error(r, BUDDY_E_NOTFOUND,
			  "%s shared no entry #%llu with you (see: buddy show %s)", b->name,
			  (unsigned long long)re.e, b->name);
		return;
	}
	if (se->retracted) {
		ctl_error(r, BUDDY_E_STATE, "%s retracted entry #%llu", b->name,
			  (unsigned long long)re.e);
		return;
	}
	memcpy(t.pk[0], b->pk, 32);
	msgpack_sbuffer_init(&body);
	if (buddy_post_write_reaction(&body, &re))
		ctl_error(r, BUDDY_E_INVALID,
			  re.kind == BUDDY_REACTION_COMMENT
				  ? "a comment needs text (one line or more, no control characters)"
				  : "the text has characters that cannot be sent");
	else
		ctl_append_posts(d, r, NULL, BUDDY_POST_REACTION, &body, &t, CTL_REPLY_EMPTY, 0);
	msgpack_sbuffer_destroy(&body);
}

/* ---- show ---- */

static void pack_reactions_theirs(msgpack_packer *pk, struct buddyd *d, const uint8_t who[32],
				  uint64_t e)
{
	size_t n = 0;
	const struct buddy_seen_reaction *re =
		buddy_seen_reactions_to_theirs(buddy_journal_seen(d->journal), who, e, &n);

	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		ctl_pack_reaction(pk, NULL, &re[i]);
}

static void pack_seen_entry(msgpack_packer *pk, struct buddyd *d, const uint8_t who[32],
			    const struct buddy_seen_entry *e)
{
	bool checkin = e->kind == BUDDY_POST_CHECKIN;
	size_t n = 8 + !!e->commit[0] + (checkin && e->status) + e->has_value + !!e->unit[0];

	msgpack_pack_map(pk, n);
	buddy_mp_pack_cstr(pk, "id");
	msgpack_pack_uint64(pk, e->e);
	buddy_mp_pack_cstr(pk, "time");
	msgpack_pack_int64(pk, e->at);
	buddy_mp_pack_cstr(pk, "posted");
	msgpack_pack_int64(pk, e->posted);
	buddy_mp_pack_cstr(pk, "kind");
	buddy_mp_pack_cstr(pk, checkin ? "checkin" : "note");
	buddy_mp_pack_cstr(pk, "text");
	buddy_mp_pack_cstr(pk, e->text ? e->text : "");
	buddy_mp_pack_cstr(pk, "tags");
	msgpack_pack_array(pk, e->ntags);
	for (size_t i = 0; i < e->ntags; i++)
		buddy_mp_pack_cstr(pk, e->tags[i]);
	buddy_mp_pack_cstr(pk, "retracted");
	e->retracted ? msgpack_pack_int64(pk, e->retracted) : msgpack_pack_nil(pk);
	buddy_mp_pack_cstr(pk, "reactions");
	pack_reactions_theirs(pk, d, who, e->e);
	/* a retracted check-in has lost its status: none is said */
	ctl_pack_entry_tail(pk, e->commit, checkin ? (int)e->status : 0, e->has_value, e->value,
			    e->unit);
}

static void reverse(size_t *a, size_t k)
{
	for (size_t i = 0; i < k / 2; i++) {
		size_t x = a[i];
		a[i] = a[k - 1 - i];
		a[k - 1 - i] = x;
	}
}

/* Indexes (into the buddy's entries) of the newest `max` entries that match, oldest first. */
static size_t pick_recent(const struct buddy_seen *v, const uint8_t who[32], const char *commit,
			  enum buddy_post_type kind, size_t max, size_t *out)
{
	size_t total = buddy_seen_nentries(v, who), k = 0;

	for (size_t i = total; i-- > 0 && k < max;) {
		const struct buddy_seen_entry *e = buddy_seen_entry_at(v, who, i);
		/* a retracted entry keeps only its id and when: it is listed apart */
		if (e->kind == kind && !e->retracted && (!commit || strcmp(e->commit, commit) == 0))
			out[k++] = i;
	}
	reverse(out, k); /* oldest first */
	return k;
}

/* The newest `max` retracted entries, oldest first. */
static size_t pick_retracted(const struct buddy_seen *v, const uint8_t who[32], size_t max,
			     size_t *out)
{
	size_t total = buddy_seen_nentries(v, who), k = 0;

	for (size_t i = total; i-- > 0 && k < max;)
		if (buddy_seen_entry_at(v, who, i)->retracted)
			out[k++] = i;
	reverse(out, k);
	return k;
}

/* The 7 map entries that say what a buddy's commitment is (show and received both use them). */
static void pack_seen_commit_fields(msgpack_packer *pk, const struct buddy_seen_commitment *c)
{
	buddy_mp_pack_cstr(pk, "id");
	buddy_mp_pack_cstr(pk, c->id);
	buddy_mp_pack_cstr(pk, "title");
	buddy_mp_pack_cstr(pk, c->title ? c->title : "");
	buddy_mp_pack_cstr(pk, "cadence");
	ctl_pack_cadence(pk, &c->cadence);
	buddy_mp_pack_cstr(pk, "tz");
	buddy_mp_pack_cstr(pk, c->tz);
	buddy_mp_pack_cstr(pk, "created");
	msgpack_pack_int64(pk, c->created);
	buddy_mp_pack_cstr(pk, "archived");
	c->archived ? msgpack_pack_int64(pk, c->archived) : msgpack_pack_nil(pk);
	buddy_mp_pack_cstr(pk, "shared");
	c->on ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

static int pack_seen_commit(msgpack_packer *pk, struct buddyd *d, const uint8_t who[32],
			    const struct buddy_seen_commitment *c, size_t recent, size_t *idx)
{
	const struct buddy_seen *v = buddy_journal_seen(d->journal);
	size_t total = buddy_seen_nentries(v, who), npts = 0, nrec;
	struct buddy_checkin_point *pts = malloc((total + 1) * sizeof(*pts));
	int64_t now = c->archived ? c->archived : buddy_clock_now();
	int rc;

	if (!pts)
		return BUDDY_E_NOMEM;
	/* a retracted check-in no longer counts: its author took it back */
	for (size_t i = 0; i < total; i++) {
		const struct buddy_seen_entry *e = buddy_seen_entry_at(v, who, i);
		if (e->kind == BUDDY_POST_CHECKIN && !e->retracted && strcmp(e->commit, c->id) == 0)
			pts[npts++] = (struct buddy_checkin_point){e->at, e->status};
	}
	msgpack_pack_map(pk, 11);
	pack_seen_commit_fields(pk, c);
	buddy_mp_pack_cstr(pk, "checkins");
	msgpack_pack_uint64(pk, npts);
	buddy_mp_pack_cstr(pk, "pauses");
	ctl_pack_pauses(pk, d->journal, who, c->id);
	buddy_mp_pack_cstr(pk, "stats");
	rc = ctl_pack_stats(pk, c->id, c->title ? c->title : "", c->tz, &c->cadence, c->created,
			    now < c->created ? c->created : now, pts, npts, SHOW_PERIODS);
	free(pts);
	if (rc)
		return rc;
	buddy_mp_pack_cstr(pk, "recent");
	nrec = pick_recent(v, who, c->id, BUDDY_POST_CHECKIN, recent, idx);
	msgpack_pack_array(pk, nrec);
	for (size_t i = 0; i < nrec; i++)
		pack_seen_entry(pk, d, who, buddy_seen_entry_at(v, who, idx[i]));
	return 0;
}

void ctl_show(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddy_buddy *b;
	const struct buddy_seen *v = buddy_journal_seen(d->journal);
	const struct buddy_streams *st = streams(d);
	char name[BUDDY_ID_MAX + 1];
	uint64_t recent = SHOW_RECENT_DEFAULT, fork;
	size_t nc, nalerts = 0, nrec, *idx;
	msgpack_packer *pk;
	int rc = 0;

	if (buddy_mp_strcpy(buddy_mp_get(p, "buddy"), BUDDY_ID_MAX, name)) {
		ctl_error(r, BUDDY_E_INVALID, "\"buddy\" must be a buddy's name");
		return;
	}
	/* a revoked buddy's history is still theirs to read */
	if (!(b = buddy_buddies_by_name(buddies(d), name))) {
		ctl_error(r, BUDDY_E_NOTFOUND, "no buddy called \"%s\" (see: buddy buddies)", name);
		return;
	}
	if (buddy_mp_get(p, "recent") &&
	    (buddy_mp_uint(buddy_mp_get(p, "recent"), &recent) || recent > BUDDY_PAGE_MAX)) {
		ctl_error(r, BUDDY_E_INVALID, "\"recent\" must be 0..%d", BUDDY_PAGE_MAX);
		return;
	}
	if (!(idx = malloc((recent + 1) * sizeof(*idx)))) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		return;
	}
	nc = buddy_seen_ncommits(v, b->pk);
	for (size_t i = 0; i < buddy_streams_nalerts(st); i++)
		nalerts += memcmp(buddy_streams_alert_at(st, i)->pk, b->pk, 32) == 0;
	pk = ctl_result(r);
	msgpack_pack_map(pk, 11);
	buddy_mp_pack_cstr(pk, "name");
	buddy_mp_pack_cstr(pk, b->name);
	buddy_mp_pack_cstr(pk, "online");
	(d->peer && buddy_peer_online(d->peer, b->pk)) ? msgpack_pack_true(pk)
						       : msgpack_pack_false(pk);
	buddy_mp_pack_cstr(pk, "commitments");
	msgpack_pack_array(pk, nc);
	for (size_t i = 0; i < nc && !rc; i++)
		rc = pack_seen_commit(pk, d, b->pk, buddy_seen_commit_at(v, b->pk, i), recent, idx);
	if (rc) {
		free(idx);
		ctl_error(r, rc, "cannot compute their statistics: %s", buddy_strerror(rc));
		return;
	}
	buddy_mp_pack_cstr(pk, "notes");
	nrec = pick_recent(v, b->pk, NULL, BUDDY_POST_NOTE, recent, idx);
	msgpack_pack_array(pk, nrec);
	for (size_t i = 0; i < nrec; i++)
		pack_seen_entry(pk, d, b->pk, buddy_seen_entry_at(v, b->pk, idx[i]));
	buddy_mp_pack_cstr(pk, "retracted");
	nrec = pick_retracted(v, b->pk, recent, idx);
	msgpack_pack_array(pk, nrec);
	for (size_t i = 0; i < nrec; i++) {
		const struct buddy_seen_entry *e = buddy_seen_entry_at(v, b->pk, idx[i]);
		msgpack_pack_map(pk, 4);
		buddy_mp_pack_cstr(pk, "id");
		msgpack_pack_uint64(pk, e->e);
		buddy_mp_pack_cstr(pk, "kind");
		buddy_mp_pack_cstr(pk, e->kind == BUDDY_POST_CHECKIN ? "checkin" : "note");
		buddy_mp_pack_cstr(pk, "posted");
		msgpack_pack_int64(pk, e->posted);
		buddy_mp_pack_cstr(pk, "retracted");
		msgpack_pack_int64(pk, e->retracted);
	}
	free(idx);
	buddy_mp_pack_cstr(pk, "unreadable");
	msgpack_pack_uint64(pk, buddy_seen_unreadable(v, b->pk));
	buddy_mp_pack_cstr(pk, "fork");
	fork = buddy_streams_in_fork(st, b->pk);
	fork ? msgpack_pack_uint64(pk, fork) : msgpack_pack_nil(pk);
	buddy_mp_pack_cstr(pk, "alerts");
	msgpack_pack_array(pk, nalerts);
	for (size_t i = 0; i < buddy_streams_nalerts(st); i++) {
		const struct buddy_alert *a = buddy_streams_alert_at(st, i);
		if (memcmp(a->pk, b->pk, 32))
			continue;
		msgpack_pack_map(pk, 3);
		buddy_mp_pack_cstr(pk, "kind");
		buddy_mp_pack_cstr(pk, a->kind);
		buddy_mp_pack_cstr(pk, "seq");
		msgpack_pack_uint64(pk, a->seq);
		buddy_mp_pack_cstr(pk, "time");
		msgpack_pack_int64(pk, a->time);
	}
	ctl_pack_stream_counts(pk, d->journal, b->pk);
	ctl_result_send(r);
}

/* ---- received: everything a buddy shared, page by page (for export) ---- */

static void pack_seen_commit_brief(msgpack_packer *pk, const struct buddy_seen_commitment *c)
{
	msgpack_pack_map(pk, 7);
	pack_seen_commit_fields(pk, c);
}

void ctl_received(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	const struct buddy_seen *v = buddy_journal_seen(d->journal);
	char name[BUDDY_ID_MAX + 1];
	uint64_t offset = 0, limit = BUDDY_PAGE_MAX;
	struct buddy_buddy *b;
	size_t total, nc, n;
	msgpack_packer *pk;

	if (buddy_mp_strcpy(buddy_mp_get(p, "buddy"), BUDDY_ID_MAX, name)) {
		ctl_error(r, BUDDY_E_INVALID, "\"buddy\" must be a buddy's name");
		return;
	}
	if ((buddy_mp_get(p, "offset") && buddy_mp_uint(buddy_mp_get(p, "offset"), &offset)) ||
	    (buddy_mp_get(p, "limit") && (buddy_mp_uint(buddy_mp_get(p, "limit"), &limit) ||
					  limit == 0 || limit > BUDDY_PAGE_MAX))) {
		ctl_error(r, BUDDY_E_INVALID, "\"offset\" is a uint and \"limit\" 1..%d",
			  BUDDY_PAGE_MAX);
		return;
	}
	if (!(b = buddy_buddies_by_name(buddies(d), name))) {
		ctl_error(r, BUDDY_E_NOTFOUND, "no buddy called \"%s\" (see: buddy buddies)", name);
		return;
	}
	total = buddy_seen_nentries(v, b->pk);
	nc = buddy_seen_ncommits(v, b->pk);
	n = offset < total ? total - offset : 0;
	if (n > limit)
		n = limit;
	pk = ctl_result(r);
	msgpack_pack_map(pk, 4);
	buddy_mp_pack_cstr(pk, "total");
	msgpack_pack_uint64(pk, total);
	buddy_mp_pack_cstr(pk, "offset");
	msgpack_pack_uint64(pk, offset);
	buddy_mp_pack_cstr(pk, "commitments");
	msgpack_pack_array(pk, nc);
	for (size_t i = 0; i < nc; i++)
		pack_seen_commit_brief(pk, buddy_seen_commit_at(v, b->pk, i));
	buddy_mp_pack_cstr(pk, "entries");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		pack_seen_entry(pk, d, b->pk, buddy_seen_entry_at(v, b->pk, offset + i));
	ctl_result_send(r);
}

/* ---- pause ---- */

void ctl_pack_pauses(msgpack_packer *pk, const struct buddy_journal *j, const uint8_t *who,
		     const char *commit)
{
	size_t n = 0;
	const struct buddy_pause *v = buddy_pauses_of(buddy_journal_pauses(j), who, commit, &n);

	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		char date[16];

		snprintf(date, sizeof(date), "%04d-%02d-%02d", v[i].until_y, v[i].until_m,
			 v[i].until_d);
		msgpack_pack_map(pk, 3);
		buddy_mp_pack_cstr(pk, "from");
		msgpack_pack_int64(pk, v[i].from);
		buddy_mp_pack_cstr(pk, "until");
		buddy_mp_pack_cstr(pk, date);
		buddy_mp_pack_cstr(pk, "reason");
		buddy_mp_pack_cstr(pk, v[i].reason ? v[i].reason : "");
	}
}

struct date {
	int y, m, d;
};

static int date_cmp(const struct date *a, const struct date *b)
{
	int x = a->y * 10000 + a->m * 100 + a->d, y = b->y * 10000 + b->m * 100 + b->d;

	return (x > y) - (x < y);
}

/* Today's date in zone tz. Every zone is within a day of UTC, so it is one of the UTC dates
 * around now: the first whose end, as the end of a "by" period made now, is after now
 * (cadence.c does the zone's arithmetic). */
static int local_today(const char *tz, int64_t now, struct date *out)
{
	time_t tt = (time_t)now;
	struct tm base;

	if (!gmtime_r(&tt, &base))
		return BUDDY_E_INVALID;
	for (int k = -1; k <= 1; k++) {
		struct buddy_cadence by = {.kind = BUDDY_CADENCE_BY, .n = 1};
		struct tm tm = base;
		int64_t start, end;
		time_t day;

		tm.tm_mday += k;
		tm.tm_hour = 12;
		day = timegm(&tm);
		if (!gmtime_r(&day, &tm))
			return BUDDY_E_INVALID;
		by.by_year = tm.tm_year + 1900;
		by.by_month = tm.tm_mon + 1;
		by.by_day = tm.tm_mday;
		if (buddy_cadence_period(&by, tz, now, now, &start, &end) == 0) {
			*out = (struct date){by.by_year, by.by_month, by.by_day};
			return 0;
		}
	}
	return BUDDY_E_INVALID;
}

void ctl_pause(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	const struct buddy_commitment *c;
	const msgpack_object *o;
	const char *reason = "";
	size_t reason_len = 0;
	char date[11];
	struct date until, today, limit;
	struct ctl_targets t;
	struct buddy_post_pause pa = {0};
	msgpack_sbuffer rec, body;
	int64_t now = buddy_clock_now();
	int rc;

	/* no retroactive excuses: a pause starts when it is made, and no one says otherwise */
	if (buddy_mp_get(p, "from")) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"from\" is not accepted: a pause starts now and cannot start in the "
			  "past");
		return;
	}
	if (!(c = commit_param(d, r, p)))
		return;
	if (c->archived) {
		ctl_error(r, BUDDY_E_STATE, "commitment \"%s\" is archived", c->id);
		return;
	}
	if (buddy_mp_strcpy(buddy_mp_get(p, "until"), 10, date) ||
	    buddy_date_parse(date, &until.y, &until.m, &until.d)) {
		ctl_error(r, BUDDY_E_INVALID, "\"until\" must be a date YYYY-MM-DD");
		return;
	}
	if ((o = buddy_mp_get(p, "reason")) && o->type != MSGPACK_OBJECT_NIL &&
	    buddy_mp_str(o, BUDDY_PAUSE_REASON_MAX, &reason, &reason_len)) {
		ctl_error(r, BUDDY_E_INVALID, "\"reason\" must be a string of at most %d bytes",
			  BUDDY_PAUSE_REASON_MAX);
		return;
	}
	if (buddy_tz_valid(c->tz) || local_today(c->tz, now, &today)) {
		ctl_error(r, BUDDY_E_STATE,
			  "the time zone \"%s\" of \"%s\" is not in this system's tz database",
			  c->tz, c->id);
		return;
	}
	if (date_cmp(&until, &today) < 0) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"until\" %s is in the past: today is %04d-%02d-%02d in %s", date,
			  today.y, today.m, today.d, c->tz);
		return;
	}
	/* a year from today; from 29 February, the 28th */
	limit = (struct date){today.y + 1, today.m, today.d == 29 && today.m == 2 ? 28 : today.d};
	if (date_cmp(&until, &limit) > 0) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"until\" must be at most one year ahead (%04d-%02d-%02d at the latest)",
			  limit.y, limit.m, limit.d);
		return;
	}
	msgpack_sbuffer_init(&rec);
	msgpack_sbuffer_init(&body);
	rc = buddy_pauses_make(&rec, now, c->id, until.y, until.m, until.d, reason, reason_len);
	if (rc == BUDDY_E_INVALID) {
		ctl_error(r, rc, "\"reason\" must be one line without control characters");
		goto out;
	}
	if (rc) {
		ctl_error(r, rc, "cannot make the pause: %s", buddy_strerror(rc));
		goto out;
	}
	/* the buddies the commitment is shared with are told, in the same durable write */
	ctl_targets_of_commit(d, c->id, &t);
	memcpy(pa.commit, c->id, sizeof(pa.commit));
	pa.from = now;
	pa.until_y = until.y;
	pa.until_m = until.m;
	pa.until_d = until.d;
	pa.reason = reason;
	pa.reason_len = reason_len;
	if (t.n && buddy_post_write_pause(&body, &pa))
		ctl_error(r, BUDDY_E_INTERNAL, "cannot write the pause post");
	else {
		ctl_append_posts(d, r, &rec, BUDDY_POST_PAUSE, &body, &t, CTL_REPLY_EMPTY, 0);
		buddyd_deadlines_tick(d); /* applied: the engine re-arms around the pause */
	}
out:
	msgpack_sbuffer_destroy(&rec);
	msgpack_sbuffer_destroy(&body);
}
