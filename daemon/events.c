/* The event list (see buddy/events.h; record formats in proto/STORE.md, "Event records").
 *
 * Events live in one array in id order (id = index + 1), grown geometrically. An event holds
 * keys only (a buddy key, a commitment id, entry and post numbers): what a buddy wrote stays
 * in seen.c, and whoever shows an event looks it up there.
 *
 * Memory: a buddy's every check-in, note and reaction is an event, so there are as many as
 * posts received (issue 7: 100,000 posts in at most 24 MiB for the whole daemon). A struct
 * buddy_event is 152 bytes (15.2 MB for 100,000); kept as a struct ev, an event is 32 (3.2
 * MB): the buddy's key and the commitment id are numbers into tables of the distinct ones
 * (buddies are few; so are a buddy's commitments, and what a buddy can make us intern is
 * bounded by its posts), and the fields few events have (a period, an alert kind) sit in a
 * side array. buddy_events_at fills in a struct buddy_event from it on demand (events.h says
 * for how long it stays valid).
 *
 * The deadline engine asks buddy_events_has about every period of every commitment it watches,
 * so the kinds it records (missed, late, reminder, pause) are indexed by (kind, buddy, commit,
 * period_start) in an open-addressing hash table. Commitment ids come from buddies, so the key
 * is hashed with SipHash under a random key, as seen.c does.
 *
 * Read marks: `lo` is the index of the first event that may be unread (every event before it is
 * read), so "mark all read" costs only what arrived since the last one. */
#include "buddy/events.h"
#include "buddy/buddies.h"
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/post.h"
#include "buddy/streams.h"
#include "buddy/text.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_CAP_MIN 64
#define ALERT_KIND_MAX (sizeof(((struct buddy_event *)0)->alert) - 1)
#define KEYS_MAX       UINT16_MAX	/* distinct buddy keys an event can name */
#define IDS_MAX	       (UINT32_MAX - 1) /* distinct commitment ids */

static const char *const kind_names[BUDDY_EV_COUNT_] = {
	[BUDDY_EV_CHECKIN] = "checkin",	      [BUDDY_EV_NOTE] = "note",
	[BUDDY_EV_CHEER] = "cheer",	      [BUDDY_EV_COMMENT] = "comment",
	[BUDDY_EV_RETRACTION] = "retraction", [BUDDY_EV_COMMITMENT] = "commitment",
	[BUDDY_EV_MISSED] = "missed",	      [BUDDY_EV_LATE] = "late",
	[BUDDY_EV_REMINDER] = "reminder",     [BUDDY_EV_PAUSE] = "pause",
	[BUDDY_EV_DELIVERED] = "delivered",   [BUDDY_EV_PAIRED] = "paired",
	[BUDDY_EV_ALERT] = "alert",	      [BUDDY_EV_ONLINE] = "online",
	[BUDDY_EV_OFFLINE] = "offline",
};

#define EV_READ	 1 /* marked read */
#define EV_EXTRA 2 /* has an entry in extras */

/* An event as kept: struct buddy_event's fields, packed (32 bytes). */
struct ev {
	int64_t time;
	uint64_t entry;
	uint64_t seq;
	uint32_t commit; /* ids[commit - 1]; 0: none */
	uint16_t pk;	 /* keys[pk - 1]; 0: none */
	uint8_t kind;
	uint8_t flags; /* EV_* */
};

/* What only some events have: a period (missed, late, reminder, pause) or an alert kind. */
struct extra {
	size_t i; /* the event's index; extras are in event order */
	int64_t period_start, period_end;
	char alert[ALERT_KIND_MAX + 1];
};

struct slot {
	uint64_t hash;
	size_t pos; /* event index + 1; 0: an empty slot */
};

struct buddy_events {
	struct ev *v;
	size_t n, cap;
	struct extra *x;
	size_t nx, capx;
	uint8_t (*keys)[32]; /* the buddies events name, first seen first */
	size_t nkeys, capkeys, lastkey;
	char (*ids)[BUDDY_ID_MAX + 1]; /* the commitment ids events name, NUL-padded */
	size_t nids, capids, lastid;
	uint32_t *idix; /* SipHash of an id -> its index + 1; never more than half full */
	size_t idixcap;
	struct buddy_event *shown; /* what buddy_events_at returns */
	size_t unread;
	size_t per_kind[BUDDY_EV_COUNT_]; /* events of each kind */
	size_t lo;			  /* every event below this index is read */
	/* the has() index: never more than half full, never shrinks (events are never removed) */
	struct slot *ix;
	size_t ixcap, ixn; /* ixcap is 0 or a power of two */
	uint8_t hk[crypto_shorthash_KEYBYTES];
	buddy_event_cb cb;
	void *arg;
	bool live;
};

/* ---- names ---- */

const char *buddy_event_kind_name(enum buddy_event_kind k)
{
	return k > 0 && k < BUDDY_EV_COUNT_ ? kind_names[k] : "unknown";
}

enum buddy_event_kind buddy_event_kind_parse(const char *s, size_t len)
{
	for (int k = 1; k < BUDDY_EV_COUNT_; k++)
		if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0)
			return (enum buddy_event_kind)k;
	return 0;
}

/* The kinds a type 40 record may hold (the rest are derived from other records, or live). */
static bool recorded_kind(enum buddy_event_kind k)
{
	return k == BUDDY_EV_MISSED || k == BUDDY_EV_LATE || k == BUDDY_EV_REMINDER ||
	       k == BUDDY_EV_PAUSE;
}

/* ---- memory ---- */

/* Room for need elements of elem bytes in an array of capacity *cap (0, or min doubled): the
 * array (moved, maybe), or NULL with the old one untouched. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem, size_t min)
{
	size_t ncap = *cap ? *cap : min;
	void *np;

	if (need <= *cap)
		return p;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return NULL;
		ncap *= 2;
	}
	np = realloc(p, ncap * elem);
	if (np)
		*cap = ncap;
	return np;
}

static uint64_t sip(const struct buddy_events *v, const void *in, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h = 0;

	crypto_shorthash(out, in, len, v->hk);
	for (size_t i = 0; i < sizeof(out); i++)
		h = h << 8 | out[i];
	return h;
}

/* ---- life ---- */

struct buddy_events *buddy_events_new(void)
{
	struct buddy_events *v;

	/* the index key comes from libsodium's generator; sodium_init is idempotent */
	if (sodium_init() < 0 || !(v = calloc(1, sizeof(*v))))
		return NULL;
	if (!(v->shown = calloc(1, sizeof(*v->shown)))) {
		free(v);
		return NULL;
	}
	randombytes_buf(v->hk, sizeof(v->hk));
	return v;
}

void buddy_events_free(struct buddy_events *v)
{
	if (!v)
		return;
	free(v->v);
	free(v->x);
	free(v->keys);
	if (v->ids)
		sodium_memzero(v->ids, v->nids * sizeof(*v->ids));
	free(v->ids);
	free(v->idix);
	sodium_memzero(v->shown, sizeof(*v->shown));
	free(v->shown);
	free(v->ix);
	sodium_memzero(v, sizeof(*v));
	free(v);
}

void buddy_events_set_live(struct buddy_events *v, buddy_event_cb cb, void *arg)
{
	v->cb = cb;
	v->arg = arg;
	v->live = true;
}

/* ---- the buddies and commitment ids events name ---- */

/* Buddies are few: a scan, after a look at the one named last (a sync brings one buddy's
 * posts in a row). The number of pk (its index + 1), or 0. */
static uint16_t key_find(const struct buddy_events *v, const uint8_t pk[32])
{
	for (size_t i = 0; i < v->nkeys; i++)
		if (memcmp(v->keys[i], pk, 32) == 0)
			return (uint16_t)(i + 1);
	return 0;
}

static int key_get(struct buddy_events *v, const uint8_t pk[32], uint16_t *out)
{
	uint8_t(*nk)[32];

	if (v->lastkey && memcmp(v->keys[v->lastkey - 1], pk, 32) == 0) {
		*out = (uint16_t)v->lastkey;
		return 0;
	}
	if (!(*out = key_find(v, pk))) {
		if (v->nkeys >= KEYS_MAX ||
		    !(nk = grow(v->keys, &v->capkeys, v->nkeys + 1, sizeof(*v->keys), 4)))
			return BUDDY_E_NOMEM;
		v->keys = nk;
		memcpy(v->keys[v->nkeys], pk, 32);
		*out = (uint16_t)++v->nkeys;
	}
	v->lastkey = *out;
	return 0;
}

static bool id_is(const char *kept, const char *id, size_t len)
{
	return memcmp(kept, id, len) == 0 && kept[len] == '\0';
}

/* Commitment ids come from buddies, so they are found through SipHash under the random key
 * (a buddy cannot pick ids that share a slot). The number of id (its index + 1), or 0. */
static uint32_t id_find(const struct buddy_events *v, const char *id, size_t len)
{
	if (!v->idixcap)
		return 0;
	for (size_t i = (size_t)sip(v, id, len) & (v->idixcap - 1);;
	     i = (i + 1) & (v->idixcap - 1)) {
		uint32_t k = v->idix[i];
		if (!k || id_is(v->ids[k - 1], id, len))
			return k;
	}
}

static void id_place(struct buddy_events *v, uint32_t *ix, size_t cap, uint32_t k)
{
	const char *id = v->ids[k - 1];
	size_t i = (size_t)sip(v, id, strlen(id)) & (cap - 1);

	while (ix[i])
		i = (i + 1) & (cap - 1);
	ix[i] = k;
}

/* The number of commitment id ("" or NULL: 0, none), interned if new. */
static int id_get(struct buddy_events *v, const char *id, uint32_t *out)
{
	size_t len = id ? strnlen(id, BUDDY_ID_MAX) : 0;
	char(*ni)[BUDDY_ID_MAX + 1];

	*out = 0;
	if (!len)
		return 0;
	if (v->lastid && id_is(v->ids[v->lastid - 1], id, len)) {
		*out = (uint32_t)v->lastid;
		return 0;
	}
	if (!(*out = id_find(v, id, len))) {
		/* room in the table and in its index first, so that a failure changes nothing */
		if (v->nids >= IDS_MAX ||
		    !(ni = grow(v->ids, &v->capids, v->nids + 1, sizeof(*v->ids), 4)))
			return BUDDY_E_NOMEM;
		v->ids = ni;
		if ((v->nids + 1) * 2 > v->idixcap) {
			size_t ncap = v->idixcap ? v->idixcap * 2 : 16;
			uint32_t *nx;

			if (ncap > SIZE_MAX / sizeof(*nx) || !(nx = calloc(ncap, sizeof(*nx))))
				return BUDDY_E_NOMEM;
			for (size_t i = 0; i < v->idixcap; i++)
				if (v->idix[i])
					id_place(v, nx, ncap, v->idix[i]);
			free(v->idix);
			v->idix = nx;
			v->idixcap = ncap;
		}
		memset(v->ids[v->nids], 0, sizeof(*v->ids));
		memcpy(v->ids[v->nids], id, len);
		*out = (uint32_t)++v->nids;
		id_place(v, v->idix, v->idixcap, *out);
	}
	v->lastid = *out;
	return 0;
}

/* ---- events as kept and as shown ---- */

/* The extra fields of event i, or NULL: extras are in event order, so a binary search. */
static const struct extra *extra_of(const struct buddy_events *v, size_t i)
{
	size_t lo = 0, hi = v->nx;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->x[mid].i < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->nx && v->x[lo].i == i ? &v->x[lo] : NULL;
}

/* Event i as a struct buddy_event. */
static void unpack(const struct buddy_events *v, size_t i, struct buddy_event *out)
{
	const struct ev *c = &v->v[i];
	const struct extra *x;

	memset(out, 0, sizeof(*out));
	out->id = i + 1;
	out->kind = (enum buddy_event_kind)c->kind;
	out->time = c->time;
	if (c->pk) {
		memcpy(out->pk, v->keys[c->pk - 1], 32);
		out->has_pk = true;
	}
	if (c->commit)
		memcpy(out->commit, v->ids[c->commit - 1], sizeof(out->commit));
	out->entry = c->entry;
	out->seq = c->seq;
	if ((c->flags & EV_EXTRA) && (x = extra_of(v, i))) {
		out->period_start = x->period_start;
		out->period_end = x->period_end;
		memcpy(out->alert, x->alert, sizeof(out->alert));
	}
	out->read = (c->flags & EV_READ) != 0;
}

/* ---- the has() index ---- */

static uint64_t key_hash(const struct buddy_events *v, enum buddy_event_kind kind,
			 const uint8_t *pk, const char *commit, int64_t period_start)
{
	uint8_t buf[1 + 1 + 32 + 8 + BUDDY_ID_MAX];
	size_t clen = commit ? strnlen(commit, BUDDY_ID_MAX) : 0, len = 0;

	buf[len++] = (uint8_t)kind;
	buf[len++] = pk != NULL;
	if (pk)
		memcpy(&buf[len], pk, 32);
	else
		memset(&buf[len], 0, 32);
	len += 32;
	for (int i = 0; i < 8; i++)
		buf[len++] = (uint8_t)((uint64_t)period_start >> (56 - 8 * i));
	memcpy(&buf[len], commit ? commit : "", clen);
	len += clen;
	return sip(v, buf, len);
}

static bool key_equal(const struct buddy_event *e, enum buddy_event_kind kind, const uint8_t *pk,
		      const char *commit, int64_t period_start)
{
	return e->kind == kind && e->period_start == period_start && e->has_pk == (pk != NULL) &&
	       (!pk || memcmp(e->pk, pk, 32) == 0) && strcmp(e->commit, commit ? commit : "") == 0;
}

static size_t ix_find(const struct buddy_events *v, uint64_t h, enum buddy_event_kind kind,
		      const uint8_t *pk, const char *commit, int64_t period_start)
{
	struct buddy_event e;

	if (!v->ixcap)
		return 0;
	for (size_t i = h & (v->ixcap - 1);; i = (i + 1) & (v->ixcap - 1)) {
		const struct slot *s = &v->ix[i];
		if (!s->pos)
			return 0;
		if (s->hash != h)
			continue;
		unpack(v, s->pos - 1, &e);
		if (key_equal(&e, kind, pk, commit, period_start))
			return s->pos;
	}
}

static void ix_place(struct slot *ix, size_t cap, uint64_t h, size_t pos)
{
	size_t i = h & (cap - 1);

	while (ix[i].pos)
		i = (i + 1) & (cap - 1);
	ix[i].hash = h;
	ix[i].pos = pos;
}

/* Makes room for one more slot; on failure the index is unchanged. */
static int ix_reserve(struct buddy_events *v)
{
	size_t ncap;
	struct slot *ns;

	if ((v->ixn + 1) * 2 <= v->ixcap)
		return 0;
	ncap = v->ixcap ? v->ixcap * 2 : 64;
	if (ncap > SIZE_MAX / 2 / sizeof(*ns) || !(ns = calloc(ncap, sizeof(*ns))))
		return BUDDY_E_NOMEM;
	for (size_t i = 0; i < v->ixcap; i++)
		if (v->ix[i].pos)
			ix_place(ns, ncap, v->ix[i].hash, v->ix[i].pos);
	free(v->ix);
	v->ix = ns;
	v->ixcap = ncap;
	return 0;
}

bool buddy_events_has(const struct buddy_events *v, enum buddy_event_kind kind, const uint8_t *pk,
		      const char *commit, int64_t period_start)
{
	if (!recorded_kind(kind))
		return false;
	return ix_find(v, key_hash(v, kind, pk, commit, period_start), kind, pk, commit,
		       period_start) != 0;
}

/* ---- adding ---- */

/* Appends ev (its id and read state are set here) and tells the live callback. Memory is
 * reserved before anything changes, so a failure leaves the list as it was (a buddy key or a
 * commitment id interned for it stays, unused, which nothing can tell). */
static int add(struct buddy_events *v, struct buddy_event *ev)
{
	bool indexed = recorded_kind(ev->kind);
	bool extra = ev->period_start || ev->period_end || ev->alert[0];
	const uint8_t *pk = ev->has_pk ? ev->pk : NULL;
	struct ev c, *nv;
	struct extra *nx;
	uint64_t h = 0;

	memset(&c, 0, sizeof(c));
	if (!(nv = grow(v->v, &v->cap, v->n + 1, sizeof(*v->v), EVENTS_CAP_MIN)))
		return BUDDY_E_NOMEM;
	v->v = nv;
	if (extra) {
		if (!(nx = grow(v->x, &v->capx, v->nx + 1, sizeof(*v->x), 16)))
			return BUDDY_E_NOMEM;
		v->x = nx;
	}
	if ((pk && key_get(v, pk, &c.pk)) || id_get(v, ev->commit, &c.commit))
		return BUDDY_E_NOMEM;
	if (indexed) {
		h = key_hash(v, ev->kind, pk, ev->commit, ev->period_start);
		/* a second record of the same key adds an event but needs no slot */
		if (ix_find(v, h, ev->kind, pk, ev->commit, ev->period_start))
			indexed = false;
		else if (ix_reserve(v))
			return BUDDY_E_NOMEM;
	}
	ev->id = v->n + 1;
	/* a delivery confirmation is news for watchers and hooks, not for the inbox: every sync
	 * round makes one, and they would bury what buddies said */
	ev->read = ev->kind == BUDDY_EV_DELIVERED;
	c.time = ev->time;
	c.entry = ev->entry;
	c.seq = ev->seq;
	c.kind = (uint8_t)ev->kind;
	c.flags = (uint8_t)((ev->read ? EV_READ : 0) | (extra ? EV_EXTRA : 0));
	if (extra) {
		struct extra *x = &v->x[v->nx++];

		memset(x, 0, sizeof(*x));
		x->i = v->n;
		x->period_start = ev->period_start;
		x->period_end = ev->period_end;
		memcpy(x->alert, ev->alert, ALERT_KIND_MAX);
	}
	v->v[v->n++] = c;
	v->unread += !ev->read;
	v->per_kind[ev->kind]++;
	if (indexed) {
		ix_place(v->ix, v->ixcap, h, v->n);
		v->ixn++;
	}
	if (v->live && v->cb)
		v->cb(v->arg, ev);
	return 0;
}

static void event_init(struct buddy_event *ev, enum buddy_event_kind kind, int64_t time,
		       const uint8_t *pk)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->time = time;
	if (pk) {
		memcpy(ev->pk, pk, 32);
		ev->has_pk = true;
	}
}

/* ---- incoming posts ---- */

/* What one incoming post is as an event: 0 and *ev filled, or nonzero when it is none (an
 * unknown type, a body that does not read). */
static int post_event(const struct buddy_post_head *h, const msgpack_object *body,
		      struct buddy_event *ev)
{
	struct buddy_post_entry pe;
	struct buddy_post_reaction pr;
	struct buddy_post_commitment pc;
	struct buddy_post_pause pa;

	switch (h->type) {
	case BUDDY_POST_CHECKIN:
	case BUDDY_POST_NOTE:
		if (buddy_post_read_entry(body, h->type == BUDDY_POST_CHECKIN, &pe))
			return BUDDY_E_INVALID;
		ev->kind = h->type == BUDDY_POST_CHECKIN ? BUDDY_EV_CHECKIN : BUDDY_EV_NOTE;
		ev->entry = pe.e;
		memcpy(ev->commit, pe.commit, sizeof(ev->commit));
		return 0;
	case BUDDY_POST_REACTION:
		if (buddy_post_read_reaction(body, &pr))
			return BUDDY_E_INVALID;
		ev->kind = pr.kind == BUDDY_REACTION_COMMENT ? BUDDY_EV_COMMENT : BUDDY_EV_CHEER;
		ev->entry = pr.e; /* mine */
		return 0;
	case BUDDY_POST_RETRACTION:
		ev->kind = BUDDY_EV_RETRACTION;
		return buddy_post_read_retraction(body, &ev->entry) ? BUDDY_E_INVALID : 0;
	case BUDDY_POST_COMMITMENT:
		if (buddy_post_read_commitment(body, &pc))
			return BUDDY_E_INVALID;
		ev->kind = BUDDY_EV_COMMITMENT;
		memcpy(ev->commit, pc.id, sizeof(ev->commit));
		return 0;
	case BUDDY_POST_PAUSE:
		/* the end of the until day is in the commitment's zone, which is pauses.c's to
		 * know: period_end stays 0 and a reader asks pauses.c by (buddy, commit, from) */
		if (buddy_post_read_pause(body, &pa))
			return BUDDY_E_INVALID;
		ev->kind = BUDDY_EV_PAUSE;
		memcpy(ev->commit, pa.commit, sizeof(ev->commit));
		/* as pauses.c keeps it: a pause never starts before its post */
		ev->period_start = pa.from > h->time ? pa.from : h->time;
		return 0;
	default:
		return BUDDY_E_VERSION;
	}
}

void buddy_events_post(void *arg, bool outgoing, const uint8_t pk[32], uint64_t seq,
		       int64_t written, const uint8_t *post, size_t len)
{
	struct buddy_events *v = arg;
	struct buddy_post_head h;
	const msgpack_object *body;
	struct buddy_event ev;
	msgpack_unpacked u;

	if (outgoing)
		return;
	event_init(&ev, 0, written, pk);
	ev.seq = seq;
	msgpack_unpacked_init(&u);
	/* a post that does not read stays in the chain and is counted by seen.c: no event */
	if (buddy_post_decode(post, len, &u, &h, &body) == 0 && post_event(&h, body, &ev) == 0)
		add(v, &ev); /* out of memory: the event is lost, the journal is not */
	msgpack_unpacked_destroy(&u);
}

/* ---- records ---- */

static int get_pk(const msgpack_object *body, const char *key, uint8_t pk[32])
{
	const uint8_t *p;
	size_t len;

	if (buddy_mp_bin(buddy_mp_get(body, key), 32, &p, &len) || len != 32)
		return BUDDY_E_CORRUPT;
	memcpy(pk, p, 32);
	return 0;
}

/* The rules of a type 40 event, shared by the maker and apply: a kind it may hold, a
 * commitment id, a buddy for everything but my reminders. */
static int check_recorded(const struct buddy_event *ev)
{
	if (!recorded_kind(ev->kind) ||
	    !buddy_text_slug_valid(ev->commit, strnlen(ev->commit, sizeof(ev->commit))) ||
	    ev->has_pk == (ev->kind == BUDDY_EV_REMINDER))
		return BUDDY_E_INVALID;
	return 0;
}

/* Type 40: {k, b?, c?, ps?, pe?, e?}. */
static int read_event(const msgpack_object *body, int64_t written, struct buddy_event *ev)
{
	const msgpack_object *o;
	const char *k;
	size_t klen;

	if (buddy_mp_str(buddy_mp_get(body, "k"), 16, &k, &klen))
		return BUDDY_E_CORRUPT;
	event_init(ev, buddy_event_kind_parse(k, klen), written, NULL);
	if (buddy_mp_get(body, "b")) {
		if (get_pk(body, "b", ev->pk))
			return BUDDY_E_CORRUPT;
		ev->has_pk = true;
	}
	if ((o = buddy_mp_get(body, "c")) && buddy_mp_strcpy(o, BUDDY_ID_MAX, ev->commit))
		return BUDDY_E_CORRUPT;
	if (((o = buddy_mp_get(body, "ps")) && buddy_mp_int(o, &ev->period_start)) ||
	    ((o = buddy_mp_get(body, "pe")) && buddy_mp_int(o, &ev->period_end)) ||
	    ((o = buddy_mp_get(body, "e")) && buddy_mp_uint(o, &ev->entry)))
		return BUDDY_E_CORRUPT;
	return check_recorded(ev) ? BUDDY_E_CORRUPT : 0;
}

static void mark(struct buddy_events *v, size_t i)
{
	if (!(v->v[i].flags & EV_READ)) {
		v->v[i].flags |= EV_READ;
		v->unread--;
	}
}

static void advance_lo(struct buddy_events *v)
{
	while (v->lo < v->n && (v->v[v->lo].flags & EV_READ))
		v->lo++;
}

/* Type 41: {ids: [uint, ...]} (1..BUDDY_EVENT_READ_IDS_MAX existing ids) or {all: upto}.
 * Checked whole before anything is marked. */
static int apply_read(struct buddy_events *v, const msgpack_object *body)
{
	const msgpack_object *ids = buddy_mp_get(body, "ids"), *all = buddy_mp_get(body, "all");
	uint64_t id;

	if (!ids == !all)
		return BUDDY_E_CORRUPT;
	/* an id past the events there are is ignored, not corrupt: ids are positions derived at
	 * replay, and a journal must still open if a later version derives fewer events or an
	 * event was lost to memory at replay (a mark then lands on its neighbour: read state
	 * only, never content) */
	if (all) {
		if (buddy_mp_uint(all, &id))
			return BUDDY_E_CORRUPT;
		for (size_t i = v->lo; i < id && i < v->n; i++)
			mark(v, i);
		advance_lo(v);
		return 0;
	}
	if (ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size == 0 ||
	    ids->via.array.size > BUDDY_EVENT_READ_IDS_MAX)
		return BUDDY_E_CORRUPT;
	for (uint32_t i = 0; i < ids->via.array.size; i++)
		if (buddy_mp_uint(&ids->via.array.ptr[i], &id) || id == 0)
			return BUDDY_E_CORRUPT;
	for (uint32_t i = 0; i < ids->via.array.size; i++)
		if (ids->via.array.ptr[i].via.u64 <= v->n)
			mark(v, ids->via.array.ptr[i].via.u64 - 1);
	advance_lo(v);
	return 0;
}

int buddy_events_record(struct buddy_events *v, uint64_t type, int64_t written,
			const msgpack_object *body)
{
	struct buddy_event ev;
	uint64_t seq;
	const char *k;
	size_t klen;
	int rc;

	switch (type) {
	case BUDDY_REC_EVENT:
		if ((rc = read_event(body, written, &ev)))
			return rc;
		return add(v, &ev);
	case BUDDY_REC_READ:
		return apply_read(v, body);
	/* the rest were checked by the module that applied them: one that does not read here
	 * (it cannot happen) makes no event rather than a corrupt journal */
	case BUDDY_REC_BUDDY_ADD:
		event_init(&ev, BUDDY_EV_PAIRED, written, NULL);
		if (get_pk(body, "pk", ev.pk))
			return 0;
		ev.has_pk = true;
		break;
	case BUDDY_REC_DELIVERED:
		event_init(&ev, BUDDY_EV_DELIVERED, written, NULL);
		if (get_pk(body, "b", ev.pk) || buddy_mp_uint(buddy_mp_get(body, "h"), &seq))
			return 0;
		ev.has_pk = true;
		ev.seq = seq;
		break;
	case BUDDY_REC_ALERT:
		event_init(&ev, BUDDY_EV_ALERT, written, NULL);
		if (get_pk(body, "b", ev.pk) || buddy_mp_uint(buddy_mp_get(body, "h"), &seq) ||
		    buddy_mp_str(buddy_mp_get(body, "k"), ALERT_KIND_MAX, &k, &klen) ||
		    memchr(k, 0, klen))
			return 0;
		ev.has_pk = true;
		ev.seq = seq;
		memcpy(ev.alert, k, klen);
		break;
	default:
		return 0;
	}
	add(v, &ev); /* out of memory: the event is lost, the journal is not */
	return 0;
}

void buddy_events_live(struct buddy_events *v, enum buddy_event_kind kind, const uint8_t pk[32],
		       int64_t now)
{
	struct buddy_event ev;

	if (!v->live || !v->cb)
		return;
	event_init(&ev, kind, now, pk);
	v->cb(v->arg, &ev);
}

/* ---- reading ---- */

size_t buddy_events_count(const struct buddy_events *v)
{
	return v->n;
}

const struct buddy_event *buddy_events_at(const struct buddy_events *v, size_t i)
{
	if (i >= v->n)
		return NULL;
	unpack(v, i, v->shown);
	return v->shown;
}

size_t buddy_events_kind_count(const struct buddy_events *v, enum buddy_event_kind kind)
{
	return kind > 0 && kind < BUDDY_EV_COUNT_ ? v->per_kind[kind] : 0;
}

size_t buddy_events_unread(const struct buddy_events *v)
{
	return v->unread;
}

/* ---- makers ---- */

#define PK(x)                                                                                      \
	do {                                                                                       \
		if (x)                                                                             \
			return BUDDY_E_NOMEM;                                                      \
	} while (0)

int buddy_events_make(msgpack_sbuffer *out, int64_t now, enum buddy_event_kind kind,
		      const uint8_t *pk, const char *commit, int64_t period_start,
		      int64_t period_end, uint64_t entry)
{
	struct buddy_event ev;
	msgpack_packer p;

	event_init(&ev, kind, now, pk);
	if (!commit || strlen(commit) > BUDDY_ID_MAX)
		return BUDDY_E_INVALID;
	memcpy(ev.commit, commit, strlen(commit) + 1);
	if (check_recorded(&ev))
		return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_EVENT, now,
				2 + !!pk + (period_start != 0) + (period_end != 0) + (entry != 0)));
	PK(buddy_mp_pack_cstr(&p, "k"));
	PK(buddy_mp_pack_cstr(&p, buddy_event_kind_name(kind)));
	if (pk) {
		PK(buddy_mp_pack_cstr(&p, "b"));
		PK(buddy_mp_pack_bin(&p, pk, 32));
	}
	PK(buddy_mp_pack_cstr(&p, "c"));
	PK(buddy_mp_pack_cstr(&p, commit));
	if (period_start) {
		PK(buddy_mp_pack_cstr(&p, "ps"));
		PK(msgpack_pack_int64(&p, period_start));
	}
	if (period_end) {
		PK(buddy_mp_pack_cstr(&p, "pe"));
		PK(msgpack_pack_int64(&p, period_end));
	}
	if (entry) {
		PK(buddy_mp_pack_cstr(&p, "e"));
		PK(msgpack_pack_uint64(&p, entry));
	}
	return 0;
}

int buddy_events_make_read(msgpack_sbuffer *out, int64_t now, const uint64_t *ids, size_t n)
{
	msgpack_packer p;

	if (n == 0 || n > BUDDY_EVENT_READ_IDS_MAX)
		return BUDDY_E_INVALID;
	for (size_t i = 0; i < n; i++)
		if (ids[i] == 0)
			return BUDDY_E_INVALID;
	PK(buddy_mp_record_head(&p, out, BUDDY_REC_READ, now, 1));
	PK(buddy_mp_pack_cstr(&p, "ids"));
	PK(msgpack_pack_array(&p, n));
	for (size_t i = 0; i < n; i++)
		PK(msgpack_pack_uint64(&p, ids[i]));
	return 0;
}

int buddy_events_make_read_all(msgpack_sbuffer *out, int64_t now, uint64_t upto)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_READ, now, 1));
	PK(buddy_mp_pack_cstr(&p, "all"));
	PK(msgpack_pack_uint64(&p, upto));
	return 0;
}
