/* Control methods of the inbox (proto/CONTROL.md): inbox lists events with their unread state,
 * inbox.read marks them read with a type 41 record. An event holds keys only; what a buddy
 * wrote (a check-in's text, a comment) is looked up in seen.c when the event is shown, so a
 * retraction also takes the text out of the inbox. */
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/error.h"
#include "buddy/events.h"
#include "buddy/mp.h"
#include "buddy/pauses.h"
#include "buddy/seen.h"
#include "ctl_methods.h"

#include <stdlib.h>
#include <string.h>

#define INBOX_LIMIT_DEFAULT 100
#define INBOX_LIMIT_MAX	    1000

/* What an event says beyond its own fields, looked up when it is shown. */
struct shown {
	const struct buddy_seen_entry *entry;	 /* check-ins and notes: the buddy's entry */
	const struct buddy_seen_reaction *react; /* cheers and comments */
	const struct buddy_pause *pause;	 /* a buddy's pause */
	bool counted;				 /* missed, late, reminder: done of required */
	uint32_t done, required;
};

static const struct buddy_seen_reaction *find_reaction(const struct buddy_seen *v,
						       const struct buddy_event *ev)
{
	size_t n;
	const struct buddy_seen_reaction *r = buddy_seen_reactions_to_mine(v, ev->entry, &n);

	for (size_t i = 0; i < n; i++)
		if (r[i].seq == ev->seq && memcmp(r[i].pk, ev->pk, 32) == 0)
			return &r[i];
	return NULL;
}

/* The pause a pause event is about: the buddy's pause of that commitment made at `from`. */
static const struct buddy_pause *find_pause(const struct buddy_pauses *ps,
					    const struct buddy_event *ev)
{
	size_t n;
	const struct buddy_pause *pa = buddy_pauses_of(ps, ev->pk, ev->commit, &n);

	for (size_t i = n; i > 0; i--)
		if (pa[i - 1].from == ev->period_start)
			return &pa[i - 1];
	return NULL;
}

/* A buddy's check-ins done on commit in [start, end), and what their cadence requires. */
static bool count_theirs(const struct buddy_seen *v, const struct buddy_event *ev, uint32_t *done,
			 uint32_t *required)
{
	const struct buddy_seen_commitment *c = NULL;
	size_t n = buddy_seen_ncommits(v, ev->pk);

	for (size_t i = 0; i < n && !c; i++)
		if (strcmp(buddy_seen_commit_at(v, ev->pk, i)->id, ev->commit) == 0)
			c = buddy_seen_commit_at(v, ev->pk, i);
	if (!c)
		return false;
	*required = c->cadence.n;
	*done = 0;
	n = buddy_seen_nentries(v, ev->pk);
	for (size_t i = 0; i < n; i++) {
		const struct buddy_seen_entry *e = buddy_seen_entry_at(v, ev->pk, i);
		*done += e->kind == BUDDY_POST_CHECKIN && e->status == BUDDY_CHECKIN_DONE &&
			 !e->retracted && strcmp(e->commit, ev->commit) == 0 &&
			 e->at >= ev->period_start && e->at < ev->period_end;
	}
	return true;
}

/* Mine, the same: entries in time order, so only the period is walked. */
static bool count_mine(const struct buddy_journal *j, const struct buddy_event *ev, uint32_t *done,
		       uint32_t *required)
{
	const struct buddy_commitment *c;
	const uint32_t *order = buddy_journal_time_order(j);
	size_t ci, lo = 0, hi = buddy_journal_nentries(j);

	if (!(c = buddy_journal_commit_find(j, ev->commit, &ci)))
		return false;
	*required = c->cadence.n;
	*done = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (buddy_journal_entry_at(j, order[mid])->time < ev->period_start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < buddy_journal_nentries(j); i++) {
		const struct buddy_entry *e = buddy_journal_entry_at(j, order[i]);
		if (e->time >= ev->period_end)
			break;
		*done += e->kind == BUDDY_ENTRY_CHECKIN && e->status == BUDDY_CHECKIN_DONE &&
			 e->commit == ci + 1;
	}
	return true;
}

static void look_up(struct buddyd *d, const struct buddy_event *ev, struct shown *s)
{
	const struct buddy_seen *v = buddy_journal_seen(d->journal);

	memset(s, 0, sizeof(*s));
	switch (ev->kind) {
	case BUDDY_EV_CHECKIN:
	case BUDDY_EV_NOTE:
		s->entry = buddy_seen_entry_find(v, ev->pk, ev->entry);
		break;
	case BUDDY_EV_CHEER:
	case BUDDY_EV_COMMENT:
		s->react = find_reaction(v, ev);
		break;
	case BUDDY_EV_MISSED:
	case BUDDY_EV_LATE:
		s->counted = ev->period_end > ev->period_start &&
			     count_theirs(v, ev, &s->done, &s->required);
		break;
	case BUDDY_EV_REMINDER:
		s->counted = ev->period_end > ev->period_start &&
			     count_mine(d->journal, ev, &s->done, &s->required);
		break;
	case BUDDY_EV_PAUSE:
		if (ev->has_pk)
			s->pause = find_pause(buddy_journal_pauses(d->journal), ev);
		break;
	default:
		break;
	}
}

static void kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	buddy_mp_pack_cstr(pk, k);
	buddy_mp_pack_cstr(pk, v);
}

static void kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
	buddy_mp_pack_cstr(pk, k);
	msgpack_pack_int64(pk, v);
}

static void kv_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
	buddy_mp_pack_cstr(pk, k);
	msgpack_pack_uint64(pk, v);
}

/* {id, kind, time, read} and whichever of the other fields apply. A retracted entry shows
 * only that it was retracted: its commitment, status and text are gone, as in `show`. */
/* The words of an event: a check-in's status and text, a reaction's or a pause's text (NULL
 * when none, or retracted). */
static void words(const struct buddy_event *ev, const struct shown *s, const char **status,
		  const char **text)
{
	const struct buddy_seen_entry *se = s->entry;

	*status = *text = NULL;
	if (se && !se->retracted) {
		*text = se->text;
		if (se->status)
			*status = buddy_checkin_status_name(se->status);
	} else if (s->react) {
		*text = s->react->text;
	} else if (s->pause) {
		*text = s->pause->reason;
	}
	if (*text && !**text)
		*text = NULL;
	(void)ev;
}

void ctl_event_words(struct buddyd *d, const struct buddy_event *ev, const char **status,
		     const char **text)
{
	struct shown s;

	look_up(d, ev, &s);
	words(ev, &s, status, text);
}

void ctl_pack_event(msgpack_packer *pk, struct buddyd *d, const struct buddy_event *ev)
{
	const struct buddy_seen_entry *se;
	const char *text, *status;
	bool gone, commit, value, unit;
	struct shown s;

	look_up(d, ev, &s);
	se = s.entry;
	gone = se && se->retracted;
	commit = ev->commit[0] && !gone;
	value = se && !gone && se->has_value;
	unit = value && se->unit[0];
	words(ev, &s, &status, &text);
	msgpack_pack_map(pk, 4 + ev->has_pk + commit + (ev->entry != 0) + (ev->seq != 0) +
				     (ev->period_start != 0) + (ev->period_end != 0) +
				     (ev->alert[0] != 0) + (s.pause != NULL) + (status != NULL) +
				     (text != NULL) + value + unit + gone + 2 * s.counted);
	kv_uint(pk, "id", ev->id);
	kv_str(pk, "kind", buddy_event_kind_name(ev->kind));
	kv_int(pk, "time", ev->time);
	buddy_mp_pack_cstr(pk, "read");
	ev->read ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	if (ev->has_pk) {
		buddy_mp_pack_cstr(pk, "buddy");
		ctl_pack_buddy_name(pk, d->journal, ev->pk);
	}
	if (commit)
		kv_str(pk, "commit", ev->commit);
	if (ev->entry)
		kv_uint(pk, "entry", ev->entry);
	if (ev->seq)
		kv_uint(pk, "seq", ev->seq);
	if (ev->period_start)
		kv_int(pk, "period_start", ev->period_start);
	if (ev->period_end)
		kv_int(pk, "period_end", ev->period_end);
	if (ev->alert[0])
		kv_str(pk, "alert", ev->alert);
	if (s.pause) {
		char until[16];
		snprintf(until, sizeof(until), "%04d-%02d-%02d", s.pause->until_y % 10000,
			 s.pause->until_m % 100, s.pause->until_d % 100);
		kv_str(pk, "until", until);
	}
	if (status)
		kv_str(pk, "status", status);
	if (text)
		kv_str(pk, "text", text);
	if (value) {
		buddy_mp_pack_cstr(pk, "value");
		msgpack_pack_double(pk, se->value);
	}
	if (unit)
		kv_str(pk, "unit", se->unit);
	if (gone)
		kv_int(pk, "retracted", se->retracted);
	if (s.counted) {
		kv_uint(pk, "done", s.done);
		kv_uint(pk, "required", s.required);
	}
}

void ctl_inbox(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	const struct buddy_events *v = buddy_journal_events(d->journal);
	const struct buddy_buddy *from = NULL;
	const msgpack_object *o;
	size_t n = buddy_events_count(v), unread = buddy_events_unread(v), k = 0;
	uint64_t limit = INBOX_LIMIT_DEFAULT;
	msgpack_packer *pk;
	bool all = false;
	size_t *idx;

	if ((o = buddy_mp_get(p, "all")) && buddy_mp_bool(o, &all)) {
		ctl_error(r, BUDDY_E_INVALID, "\"all\" must be a boolean");
		return;
	}
	if ((o = buddy_mp_get(p, "limit")) &&
	    (buddy_mp_uint(o, &limit) || limit == 0 || limit > INBOX_LIMIT_MAX)) {
		ctl_error(r, BUDDY_E_INVALID, "\"limit\" must be 1..%d", INBOX_LIMIT_MAX);
		return;
	}
	if ((o = buddy_mp_get(p, "from"))) {
		char name[BUDDY_ID_MAX + 1];
		if (buddy_mp_strcpy(o, BUDDY_ID_MAX, name)) {
			ctl_error(r, BUDDY_E_INVALID, "\"from\" must be a buddy's name");
			return;
		}
		/* a revoked buddy's events are still there to read */
		if (!(from = buddy_buddies_by_name(buddy_journal_buddies(d->journal), name))) {
			ctl_error(r, BUDDY_E_NOTFOUND,
				  "no buddy called \"%s\" (see: buddy buddies)", name);
			return;
		}
	}
	if (!(idx = malloc(limit * sizeof(*idx)))) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		return;
	}
	/* newest first, until the page is full or (unread only) no unread event is left */
	for (size_t i = n; i > 0 && k < limit && (all || unread); i--) {
		const struct buddy_event *ev = buddy_events_at(v, i - 1);
		if (!ev->read)
			unread--;
		if ((all || !ev->read) &&
		    (!from || (ev->has_pk && memcmp(ev->pk, from->pk, 32) == 0)))
			idx[k++] = i - 1;
	}
	pk = ctl_result(r);
	msgpack_pack_map(pk, 2);
	kv_uint(pk, "unread", buddy_events_unread(v));
	buddy_mp_pack_cstr(pk, "events");
	msgpack_pack_array(pk, k);
	while (k > 0)
		ctl_pack_event(pk, d, buddy_events_at(v, idx[--k]));
	free(idx);
	ctl_result_send(r);
}

/* ---- inbox.read ---- */

struct read_wait {
	struct ctl_req *r;
	uint64_t marked;
};

static void read_saved(void *arg, int status)
{
	struct read_wait *w = arg;
	msgpack_packer *pk;

	if (status) {
		ctl_error_unsaved(w->r, status);
	} else {
		pk = ctl_result(w->r);
		msgpack_pack_map(pk, 1);
		kv_uint(pk, "marked", w->marked);
		ctl_result_send(w->r);
	}
	free(w);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The unread ones among the ids of o, once each, into ids (room for the array's size). */
static int read_ids(struct ctl_req *r, const struct buddy_events *v, const msgpack_object *o,
		    uint64_t *ids, size_t *n)
{
	size_t k = 0;

	for (uint32_t i = 0; i < o->via.array.size; i++) {
		uint64_t id;
		if (buddy_mp_uint(&o->via.array.ptr[i], &id)) {
			ctl_error(r, BUDDY_E_INVALID, "\"ids\" must hold event ids");
			return BUDDY_E_INVALID;
		}
		if (id == 0 || id > buddy_events_count(v)) {
			ctl_error(r, BUDDY_E_NOTFOUND, "no event %llu", (unsigned long long)id);
			return BUDDY_E_NOTFOUND;
		}
		if (!buddy_events_at(v, id - 1)->read)
			ids[k++] = id;
	}
	qsort(ids, k, sizeof(*ids), cmp_u64);
	*n = 0;
	for (size_t i = 0; i < k; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			ids[(*n)++] = ids[i];
	return 0;
}

void ctl_inbox_read(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	const struct buddy_events *v = buddy_journal_events(d->journal);
	const msgpack_object *ids = buddy_mp_get(p, "ids"), *allo = buddy_mp_get(p, "all");
	uint64_t *list = NULL;
	struct read_wait *w = NULL;
	msgpack_sbuffer rec;
	size_t n = 0;
	bool all = false;
	int rc;

	msgpack_sbuffer_init(&rec);
	if (allo && buddy_mp_bool(allo, &all)) {
		ctl_error(r, BUDDY_E_INVALID, "\"all\" must be a boolean");
		goto out;
	}
	if (!ids == !all) {
		ctl_error(r, BUDDY_E_INVALID, "give either \"ids\" or \"all\": true");
		goto out;
	}
	if (ids && (ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size == 0 ||
		    ids->via.array.size > BUDDY_EVENT_READ_IDS_MAX)) {
		ctl_error(r, BUDDY_E_INVALID, "\"ids\" must be an array of 1..%d event ids",
			  BUDDY_EVENT_READ_IDS_MAX);
		goto out;
	}
	if (ids) {
		if (!(list = malloc(ids->via.array.size * sizeof(*list)))) {
			ctl_error(r, BUDDY_E_NOMEM, "out of memory");
			goto out;
		}
		if (read_ids(r, v, ids, list, &n))
			goto out;
	} else {
		n = buddy_events_unread(v);
	}
	/* nothing unread among them: nothing to write */
	if (n == 0) {
		msgpack_packer *pk = ctl_result(r);
		msgpack_pack_map(pk, 1);
		kv_uint(pk, "marked", 0);
		ctl_result_send(r);
		goto out;
	}
	rc = ids ? buddy_events_make_read(&rec, buddy_clock_now(), list, n)
		 : buddy_events_make_read_all(&rec, buddy_clock_now(), buddy_events_count(v));
	if (rc || !(w = malloc(sizeof(*w)))) {
		ctl_error_unsaved(r, rc ? rc : BUDDY_E_NOMEM);
		goto out;
	}
	w->r = r;
	w->marked = n;
	rc = buddyd_append(d, (const uint8_t *)rec.data, rec.size, read_saved, w);
	if (rc) {
		free(w);
		ctl_error_unsaved(r, rc);
	}
out:
	free(list);
	msgpack_sbuffer_destroy(&rec);
}
