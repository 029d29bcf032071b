/* Control methods for commitments and their statistics (proto/CONTROL.md). */
#include "buddy/clock.h"
#include "buddy/deadlines.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "buddy/streams.h"
#include "ctl_methods.h"

#include <stdlib.h>
#include <string.h>

#define RECENT_ENTRIES	10
#define DEFAULT_PERIODS 12

void ctl_pack_cadence(msgpack_packer *pk, const struct buddy_cadence *cad)
{
	msgpack_pack_map(pk, cad->kind == BUDDY_CADENCE_BY ? 3 : 2);
	buddy_mp_pack_cstr(pk, "kind");
	buddy_mp_pack_cstr(pk, buddy_cadence_kind_name(cad->kind));
	buddy_mp_pack_cstr(pk, "n");
	msgpack_pack_uint32(pk, cad->n);
	if (cad->kind == BUDDY_CADENCE_BY) {
		char date[16];
		snprintf(date, sizeof(date), "%04d-%02d-%02d", cad->by_year, cad->by_month,
			 cad->by_day);
		buddy_mp_pack_cstr(pk, "by");
		buddy_mp_pack_cstr(pk, date);
	}
}

void ctl_pack_commitment(msgpack_packer *pk, const struct buddy_journal *j,
			 const struct buddy_commitment *c)
{
	uint8_t with[BUDDY_SHARE_TARGETS_MAX][32];
	size_t nwith = buddy_streams_shared_with(buddy_journal_streams(j), c->id, with,
						 BUDDY_SHARE_TARGETS_MAX);

	msgpack_pack_map(pk, 8);
	buddy_mp_pack_cstr(pk, "id");
	buddy_mp_pack_cstr(pk, c->id);
	buddy_mp_pack_cstr(pk, "title");
	buddy_mp_pack_cstr(pk, c->title);
	buddy_mp_pack_cstr(pk, "cadence");
	ctl_pack_cadence(pk, &c->cadence);
	buddy_mp_pack_cstr(pk, "tz");
	buddy_mp_pack_cstr(pk, c->tz);
	buddy_mp_pack_cstr(pk, "created");
	msgpack_pack_int64(pk, c->created);
	buddy_mp_pack_cstr(pk, "archived");
	if (c->archived)
		msgpack_pack_int64(pk, c->archived);
	else
		msgpack_pack_nil(pk);
	buddy_mp_pack_cstr(pk, "checkins");
	msgpack_pack_uint32(pk, c->checkins);
	buddy_mp_pack_cstr(pk, "shared_with");
	ctl_pack_buddy_names(pk, j, with,
			     nwith > BUDDY_SHARE_TARGETS_MAX ? BUDDY_SHARE_TARGETS_MAX : nwith);
}

struct append_wait {
	struct ctl_req *r;
	uint64_t id;
};

void ctl_error_unsaved(struct ctl_req *r, int status)
{
	if (status == BUDDY_E_NOSPACE)
		ctl_error(r, status, "the disk is full: nothing was saved");
	else
		ctl_error(r, status, "could not save: %s; nothing was saved",
			  buddy_strerror(status));
}

static void appended(void *arg, int status)
{
	struct append_wait *w = arg;

	if (status)
		ctl_error_unsaved(w->r, status);
	else if (w->id) {
		msgpack_packer *pk = ctl_result(w->r);
		msgpack_pack_map(pk, 1);
		buddy_mp_pack_cstr(pk, "id");
		msgpack_pack_uint64(pk, w->id);
		ctl_result_send(w->r);
	} else {
		ctl_ok(w->r);
	}
	free(w);
}

void ctl_append_and_reply(struct buddyd *d, struct ctl_req *r, msgpack_sbuffer *rec, uint64_t id)
{
	struct append_wait *w = malloc(sizeof(*w));
	int rc;

	if (!w) {
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		return;
	}
	w->r = r;
	w->id = id;
	rc = buddyd_append(d, (const uint8_t *)rec->data, rec->size, appended, w);
	if (rc) {
		free(w);
		ctl_error_unsaved(r, rc);
	}
}

static int get_id(const msgpack_object *p, const char *key, char id[BUDDY_ID_MAX + 1])
{
	return buddy_mp_strcpy(buddy_mp_get(p, key), BUDDY_ID_MAX, id);
}

static int parse_cadence(const msgpack_object *o, struct buddy_cadence *c)
{
	const char *kind;
	size_t klen;
	uint64_t n = 1;
	char date[16];

	memset(c, 0, sizeof(*c));
	if (buddy_mp_str(buddy_mp_get(o, "kind"), 16, &kind, &klen))
		return BUDDY_E_INVALID;
	c->kind = (enum buddy_cadence_kind)buddy_cadence_kind_parse(kind, klen);
	if (buddy_mp_get(o, "n") && buddy_mp_uint(buddy_mp_get(o, "n"), &n))
		return BUDDY_E_INVALID;
	c->n = n > BUDDY_CADENCE_N_MAX ? BUDDY_CADENCE_N_MAX + 1 : (uint32_t)n;
	if (c->kind == BUDDY_CADENCE_BY &&
	    (buddy_mp_strcpy(buddy_mp_get(o, "by"), 10, date) ||
	     buddy_date_parse(date, &c->by_year, &c->by_month, &c->by_day)))
		return BUDDY_E_INVALID;
	return buddy_cadence_valid(c);
}

void ctl_commit_add(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	char id[BUDDY_ID_MAX + 1], tz[BUDDY_TZ_MAX + 1];
	struct buddy_commit_spec s = {.id = id, .tz = tz};
	char *title = NULL;
	const char *why = "";
	msgpack_sbuffer rec;
	int rc;

	msgpack_sbuffer_init(&rec);
	if (get_id(p, "id", id)) {
		ctl_error(r, BUDDY_E_INVALID, "\"id\" must be a string of 1 to %d bytes",
			  BUDDY_ID_MAX);
		goto out;
	}
	if (buddy_mp_strdup(buddy_mp_get(p, "title"), BUDDY_TITLE_MAX, false, &title)) {
		ctl_error(r, BUDDY_E_INVALID, "\"title\" must be a string of 1 to %d bytes",
			  BUDDY_TITLE_MAX);
		goto out;
	}
	s.title = title;
	if (parse_cadence(buddy_mp_get(p, "cadence"), &s.cadence)) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"cadence\" must be {kind: daily|weekly|monthly|by, n: 1..%d, by: "
			  "YYYY-MM-DD}",
			  BUDDY_CADENCE_N_MAX);
		goto out;
	}
	if (buddy_mp_strcpy(buddy_mp_get(p, "tz"), BUDDY_TZ_MAX, tz) || buddy_tz_valid(tz)) {
		ctl_error(r, BUDDY_E_INVALID,
			  "\"tz\" must name a time zone of the tz database, like Europe/Berlin");
		goto out;
	}
	rc = buddy_journal_make_commit_add(d->journal, &s, buddy_clock_now(), &rec, &why);
	if (rc == BUDDY_E_EXISTS)
		ctl_error(r, rc, "a commitment \"%s\" exists already", id);
	else if (rc)
		ctl_error(r, rc, "%s", why);
	else {
		ctl_append_and_reply(d, r, &rec, 0);
		/* applied: a commitment with less than the reminder lead left is due now */
		buddyd_deadlines_tick(d);
	}
out:
	free(title);
	msgpack_sbuffer_destroy(&rec);
}

void ctl_commit_list(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	bool all = false;
	size_t n = buddy_journal_ncommits(d->journal), shown = 0;
	msgpack_packer *pk;

	if (buddy_mp_get(p, "all") && buddy_mp_bool(buddy_mp_get(p, "all"), &all)) {
		ctl_error(r, BUDDY_E_INVALID, "\"all\" must be a boolean");
		return;
	}
	for (size_t i = 0; i < n; i++)
		shown += all || !buddy_journal_commit_at(d->journal, i)->archived;
	pk = ctl_result(r);
	msgpack_pack_array(pk, shown);
	for (size_t i = 0; i < n; i++) {
		const struct buddy_commitment *c = buddy_journal_commit_at(d->journal, i);
		if (all || !c->archived)
			ctl_pack_commitment(pk, d->journal, c);
	}
	ctl_result_send(r);
}

static const struct buddy_commitment *find_or_answer(struct buddyd *d, struct ctl_req *r,
						     const msgpack_object *p, size_t *index)
{
	char id[BUDDY_ID_MAX + 1];
	const struct buddy_commitment *c;

	if (get_id(p, "id", id)) {
		ctl_error(r, BUDDY_E_INVALID, "\"id\" must be a commitment id");
		return NULL;
	}
	c = buddy_journal_commit_find(d->journal, id, index);
	if (!c)
		ctl_error(r, BUDDY_E_NOTFOUND,
			  "no commitment \"%s\" (see: buddy commit list --all)", id);
	return c;
}

/* Check-ins of commitment index ci, for the statistics. */
static struct buddy_checkin_point *points_of(const struct buddy_journal *j, size_t ci, size_t *n)
{
	size_t total = buddy_journal_nentries(j), k = 0;
	struct buddy_checkin_point *pts;

	pts = malloc((buddy_journal_commit_at(j, ci)->checkins + 1) * sizeof(*pts));
	if (!pts)
		return NULL;
	for (size_t i = 0; i < total; i++) {
		const struct buddy_entry *e = buddy_journal_entry_at(j, i);
		if (e->kind == BUDDY_ENTRY_CHECKIN && e->commit == ci + 1)
			pts[k++] = (struct buddy_checkin_point){e->time, e->status};
	}
	*n = k;
	return pts;
}

/* Packs {id, title, tz, periods: [...last `limit`, 0 = all], counted, met, rate, current_streak,
 * longest_streak}. */
static int pack_stats(msgpack_packer *pk, const struct buddy_journal *j, size_t ci, size_t limit)
{
	const struct buddy_commitment *c = buddy_journal_commit_at(j, ci);
	int64_t now = c->archived ? c->archived : buddy_clock_now();
	size_t npts = 0;
	struct buddy_checkin_point *pts = points_of(j, ci, &npts);
	int rc;

	if (!pts)
		return BUDDY_E_NOMEM;
	rc = ctl_pack_stats(pk, c->id, c->title, c->tz, &c->cadence, c->created, now, pts, npts,
			    limit);
	free(pts);
	return rc;
}

int ctl_pack_stats(msgpack_packer *pk, const char *id, const char *title, const char *tz,
		   const struct buddy_cadence *cad, int64_t created, int64_t now,
		   const struct buddy_checkin_point *pts, size_t npts, size_t limit)
{
	struct buddy_stats st;
	size_t first;
	int rc;

	rc = buddy_stats_compute(cad, tz, created, now, pts, npts, &st);
	if (rc)
		return rc;
	first = limit && st.nperiods > limit ? st.nperiods - limit : 0;
	msgpack_pack_map(pk, 9);
	buddy_mp_pack_cstr(pk, "id");
	buddy_mp_pack_cstr(pk, id);
	buddy_mp_pack_cstr(pk, "title");
	buddy_mp_pack_cstr(pk, title);
	buddy_mp_pack_cstr(pk, "tz");
	buddy_mp_pack_cstr(pk, tz);
	buddy_mp_pack_cstr(pk, "periods");
	msgpack_pack_array(pk, st.nperiods - first);
	for (size_t i = first; i < st.nperiods; i++) {
		const struct buddy_period *pd = &st.periods[i];
		msgpack_pack_map(pk, 8);
		buddy_mp_pack_cstr(pk, "start");
		msgpack_pack_int64(pk, pd->start);
		buddy_mp_pack_cstr(pk, "end");
		msgpack_pack_int64(pk, pd->end);
		buddy_mp_pack_cstr(pk, "required");
		msgpack_pack_uint32(pk, pd->required);
		buddy_mp_pack_cstr(pk, "done");
		msgpack_pack_uint32(pk, pd->done);
		buddy_mp_pack_cstr(pk, "partial");
		msgpack_pack_uint32(pk, pd->partial);
		buddy_mp_pack_cstr(pk, "skipped");
		msgpack_pack_uint32(pk, pd->skipped);
		buddy_mp_pack_cstr(pk, "met");
		pd->met ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		buddy_mp_pack_cstr(pk, "current");
		pd->current ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	}
	buddy_mp_pack_cstr(pk, "counted");
	msgpack_pack_uint32(pk, st.counted);
	buddy_mp_pack_cstr(pk, "met");
	msgpack_pack_uint32(pk, st.met);
	buddy_mp_pack_cstr(pk, "rate");
	msgpack_pack_double(pk, st.rate);
	buddy_mp_pack_cstr(pk, "current_streak");
	msgpack_pack_uint32(pk, st.current_streak);
	buddy_mp_pack_cstr(pk, "longest_streak");
	msgpack_pack_uint32(pk, st.longest_streak);
	buddy_stats_free(&st);
	return 0;
}

void ctl_commit_show(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	size_t ci, total = buddy_journal_nentries(d->journal), nrecent = 0;
	const struct buddy_commitment *c = find_or_answer(d, r, p, &ci);
	const uint32_t *order = buddy_journal_time_order(d->journal);
	const struct buddy_entry *recent[RECENT_ENTRIES];
	msgpack_packer *pk;
	int rc;

	if (!c)
		return;
	for (size_t i = total; i-- > 0 && nrecent < RECENT_ENTRIES;) {
		const struct buddy_entry *e = buddy_journal_entry_at(d->journal, order[i]);
		if (e->commit == ci + 1)
			recent[nrecent++] = e;
	}
	pk = ctl_result(r);
	msgpack_pack_map(pk, 4);
	buddy_mp_pack_cstr(pk, "commitment");
	ctl_pack_commitment(pk, d->journal, c);
	buddy_mp_pack_cstr(pk, "pauses");
	ctl_pack_pauses(pk, d->journal, NULL, c->id);
	buddy_mp_pack_cstr(pk, "stats");
	rc = pack_stats(pk, d->journal, ci, DEFAULT_PERIODS);
	if (rc) {
		ctl_error(r, rc, "cannot compute statistics: %s", buddy_strerror(rc));
		return;
	}
	buddy_mp_pack_cstr(pk, "recent");
	msgpack_pack_array(pk, nrecent);
	for (size_t i = nrecent; i-- > 0;)
		ctl_pack_entry(pk, d->journal, recent[i]);
	ctl_result_send(r);
}

void ctl_commit_archive(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	char id[BUDDY_ID_MAX + 1];
	const char *why = "";
	const struct buddy_commitment *c;
	struct ctl_targets t;
	msgpack_sbuffer rec, body;
	int64_t now = buddy_clock_now();
	int rc;

	if (get_id(p, "id", id)) {
		ctl_error(r, BUDDY_E_INVALID, "\"id\" must be a commitment id");
		return;
	}
	msgpack_sbuffer_init(&rec);
	msgpack_sbuffer_init(&body);
	rc = buddy_journal_make_commit_archive(d->journal, id, now, &rec, &why);
	if (rc == BUDDY_E_NOTFOUND) {
		ctl_error(r, rc, "no commitment \"%s\"", id);
	} else if (rc) {
		ctl_error(r, rc, "%s", why);
	} else {
		/* its buddies learn that it ended, in the same write */
		c = buddy_journal_commit_find(d->journal, id, NULL);
		ctl_targets_of_commit(d, id, &t);
		if (t.n && ctl_commit_post_body(c, now, true, &body))
			ctl_error(r, BUDDY_E_INTERNAL, "cannot write the commitment post");
		else
			ctl_append_posts(d, r, &rec, BUDDY_POST_COMMITMENT, &body, &t,
					 CTL_REPLY_EMPTY, 0);
	}
	msgpack_sbuffer_destroy(&rec);
	msgpack_sbuffer_destroy(&body);
}

void ctl_stats(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	size_t n = buddy_journal_ncommits(d->journal), ci = 0, count = 0;
	uint64_t limit = DEFAULT_PERIODS;
	bool one = buddy_mp_get(p, "id") != NULL;
	msgpack_packer *pk;

	if (buddy_mp_get(p, "periods") && buddy_mp_uint(buddy_mp_get(p, "periods"), &limit)) {
		ctl_error(r, BUDDY_E_INVALID, "\"periods\" must be a count (0 for all)");
		return;
	}
	if (one && !find_or_answer(d, r, p, &ci))
		return;
	for (size_t i = 0; i < n; i++)
		count += !buddy_journal_commit_at(d->journal, i)->archived;
	pk = ctl_result(r);
	msgpack_pack_array(pk, one ? 1 : count);
	for (size_t i = one ? ci : 0; i < (one ? ci + 1 : n); i++) {
		int rc;
		if (!one && buddy_journal_commit_at(d->journal, i)->archived)
			continue;
		rc = pack_stats(pk, d->journal, i, (size_t)limit);
		if (rc) {
			ctl_error(r, rc, "cannot compute statistics: %s", buddy_strerror(rc));
			return;
		}
	}
	ctl_result_send(r);
}
