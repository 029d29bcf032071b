/* The accountability engine (buddy/deadlines.h, DESIGN.md section 7, issue 5).
 *
 * One evaluation looks at the journal as it is now and records what is due, each thing once
 * (buddy_events_has before every append; buddyd_append applies at once, so the next look sees
 * it):
 *   - REMINDER: one of my active commitments is in the last `lead` seconds of its current period,
 *     not met (done check-ins < required), and the period's end is not paused;
 *   - LATE: a buddy's check-in (done) for a period already recorded as MISSED;
 *   - MISSED: a period of a buddy's shared commitment ended `grace` seconds ago or more, unmet by
 *     the check-ins they sent, and its end is not paused. Periods are judged oldest first from
 *     a cursor per (buddy, commitment), starting at the period in which the commitment was first
 *     announced to me (never earlier, so nobody misses before sharing) and never more than
 *     HISTORY_PERIODS back; at most PERIODS_PER_RUN per evaluation, the rest a second later.
 * The cursors live in memory only: after a start they are rebuilt by judging again (periods
 * already recorded or met record nothing). Evaluations run at start, on buddyd_deadlines_tick
 * (the test clock moved, or something changed) and on one timer set to the next moment anything
 * can happen (at least 1 s, at most an hour ahead). Everything runs on the loop thread: the
 * cadence functions switch TZ. Nothing runs unless the journal is unlocked. */
#include "buddy/deadlines.h"
#include "buddy/buddies.h"
#include "buddy/cadence.h"
#include "buddy/clock.h"
#include "buddy/config.h"
#include "buddy/error.h"
#include "buddy/events.h"
#include "buddy/journal.h"
#include "buddy/log.h"
#include "buddy/pauses.h"
#include "buddy/post.h"
#include "buddy/seen.h"

#include <stdlib.h>
#include <string.h>

#define PERIODS_PER_RUN 400  /* periods judged per commitment per evaluation */
#define HISTORY_PERIODS 60   /* a buddy's commitment is never judged further back than this */
#define SCAN_PER_RUN	2000 /* a buddy's new entries looked at per evaluation (late check-ins) */
#define REARM_MIN_S	1
#define REARM_MAX_S	3600

/* Where judging stands for one buddy's commitment. */
struct cursor {
	uint8_t pk[32];
	char id[BUDDY_ID_MAX + 1];
	bool built;    /* next is set */
	int64_t next;  /* a time in the first period not yet judged */
	int64_t floor; /* shared again at this time after a pause in sharing: judge from there */
	bool off;      /* seen not shared: judging stopped */
	bool done;     /* nothing left to judge (a by-date decided, or archived) */
	bool mark;     /* still exists (sweep) */
};

/* How many of a buddy's entries were already looked at for late check-ins. */
struct scan {
	uint8_t pk[32];
	size_t n;
	bool mark;
};

struct deadlines {
	uv_timer_t timer;
	struct buddyd *d;
	struct cursor *cur;
	size_t ncur, capcur;
	struct scan *scan;
	size_t nscan, capscan;
	bool busy;  /* an evaluation runs: the journal's callbacks may ask for another */
	bool again; /* ... and one did */
};

/* ---- configuration ---- */

/* The daemon's configuration, NULL while struct buddyd has none: once it has `struct
 * buddy_config config`, this becomes `return &d->config;`. */
static const struct buddy_config *config_of(const struct buddyd *d)
{
	return &d->config;
}

/* A commitment shared this long after its period (or it) began still counts that period:
 * sharing right after creating is the usual way, and nothing can have been missed meanwhile
 * unless its owner checked in within this time. */
#define SHARE_SLACK_S 3600

static int64_t remind_lead(const struct buddyd *d)
{
	const struct buddy_config *c = config_of(d);

	return c && c->remind_lead_s >= 0 ? c->remind_lead_s : BUDDY_REMIND_LEAD_S;
}

static int64_t miss_grace(const struct buddyd *d)
{
	const struct buddy_config *c = config_of(d);

	return c && c->miss_grace_s >= 0 ? c->miss_grace_s : BUDDY_MISS_GRACE_S;
}

/* ---- small helpers ---- */

static void earliest(int64_t *next, int64_t t)
{
	if (t < *next)
		*next = t;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return p;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	np = realloc(p, ncap * elem);
	if (np)
		*cap = ncap;
	return np;
}

static void appended(void *arg, int status)
{
	(void)arg;
	if (status)
		log_error("deadlines: an event record was not saved: %s", buddy_strerror(status));
}

/* Appends one type-40 record (applied at once). */
static int record(struct buddyd *d, int64_t now, enum buddy_event_kind kind, const uint8_t *pk,
		  const char *commit, int64_t ps, int64_t pe, uint64_t entry)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	rc = buddy_events_make(&sb, now, kind, pk, commit, ps, pe, entry);
	if (rc == 0)
		rc = buddyd_append(d, (const uint8_t *)sb.data, sb.size, appended, NULL);
	msgpack_sbuffer_destroy(&sb);
	if (rc)
		log_error("deadlines: cannot record a %s event: %s", buddy_event_kind_name(kind),
			  buddy_strerror(rc));
	else
		log_debug("deadlines: %s for the period starting %lld", buddy_event_kind_name(kind),
			  (long long)ps);
	return rc;
}

static bool usable(const struct buddyd *d)
{
	return d->state == BUDDYD_UNLOCKED && d->journal && !d->stopping;
}

/* Still the engine of an unlocked daemon (an append's callbacks may have stopped it). */
static bool live(const struct deadlines *dl)
{
	return dl->d->deadlines == dl && usable(dl->d);
}

/* ---- reminders: my commitments ---- */

/* Whether my commitment (index ci) has its required done check-ins in [s, e): the entries in
 * time order are searched, not walked. */
static bool mine_met(const struct buddy_journal *j, size_t ci, int64_t s, int64_t e)
{
	const struct buddy_commitment *c = buddy_journal_commit_at(j, ci);
	const uint32_t *order = buddy_journal_time_order(j);
	size_t n = buddy_journal_nentries(j), lo = 0, hi = n;
	uint32_t done = 0;

	if (!n || !order)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (buddy_journal_entry_at(j, order[mid])->time < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < n && done < c->cadence.n; k++) {
		const struct buddy_entry *x = buddy_journal_entry_at(j, order[k]);

		if (x->time >= e)
			break;
		if (x->kind == BUDDY_ENTRY_CHECKIN && x->commit == ci + 1 &&
		    x->status == BUDDY_CHECKIN_DONE)
			done++;
	}
	return done >= c->cadence.n;
}

static void remind(struct deadlines *dl, int64_t now, int64_t *next)
{
	struct buddyd *d = dl->d;
	const struct buddy_journal *j = d->journal;
	const struct buddy_pauses *p = buddy_journal_pauses(j);
	const struct buddy_events *ev = buddy_journal_events(j);
	int64_t lead = remind_lead(d);

	for (size_t i = 0; i < buddy_journal_ncommits(j) && live(dl); i++) {
		const struct buddy_commitment *c = buddy_journal_commit_at(j, i);
		int64_t s, e, s2, e2;

		/* (a by-date commitment has one period, which may lie behind now) */
		if (c->archived ||
		    buddy_cadence_period(&c->cadence, c->tz, c->created, now, &s, &e) < 0 ||
		    now < s || now >= e)
			continue;
		if (now < e - lead) {
			earliest(next, e - lead);
			continue;
		}
		if (!buddy_events_has(ev, BUDDY_EV_REMINDER, NULL, c->id, s) &&
		    !mine_met(j, i, s, e) && !buddy_pauses_excuses(p, NULL, c->id, c->tz, e) &&
		    record(d, now, BUDDY_EV_REMINDER, NULL, c->id, s, e, 0))
			return;
		/* the commitment may be re-read after the append: the journal grew */
		c = buddy_journal_commit_at(j, i);
		if (c->cadence.kind != BUDDY_CADENCE_BY &&
		    buddy_cadence_period(&c->cadence, c->tz, c->created, e, &s2, &e2) == 0 &&
		    e2 > e)
			earliest(next, e2 - lead > e ? e2 - lead : e);
	}
}

/* ---- a buddy's commitments: cursors ---- */

static struct cursor *cursor_get(struct deadlines *dl, const uint8_t pk[32], const char *id)
{
	struct cursor *c;

	for (size_t i = 0; i < dl->ncur; i++)
		if (!memcmp(dl->cur[i].pk, pk, 32) && !strcmp(dl->cur[i].id, id))
			return &dl->cur[i];
	c = grow(dl->cur, &dl->capcur, dl->ncur + 1, sizeof(*c));
	if (!c)
		return NULL;
	dl->cur = c;
	c = &dl->cur[dl->ncur++];
	memset(c, 0, sizeof(*c));
	memcpy(c->pk, pk, 32);
	snprintf(c->id, sizeof(c->id), "%s", id);
	return c;
}

static struct scan *scan_get(struct deadlines *dl, const uint8_t pk[32], size_t now_n)
{
	struct scan *s;

	for (size_t i = 0; i < dl->nscan; i++)
		if (!memcmp(dl->scan[i].pk, pk, 32))
			return &dl->scan[i];
	s = grow(dl->scan, &dl->capscan, dl->nscan + 1, sizeof(*s));
	if (!s)
		return NULL;
	dl->scan = s;
	s = &dl->scan[dl->nscan++];
	memcpy(s->pk, pk, 32);
	/* entries that were there when the engine started are not news */
	s->n = now_n;
	s->mark = false;
	return s;
}

static const struct buddy_seen_commitment *seen_commit(const struct buddy_seen *v,
						       const uint8_t pk[32], const char *id)
{
	size_t n = buddy_seen_ncommits(v, pk);

	for (size_t i = 0; i < n; i++) {
		const struct buddy_seen_commitment *c = buddy_seen_commit_at(v, pk, i);

		if (!strcmp(c->id, id))
			return c;
	}
	return NULL;
}

/* A period length no shorter than the real one, to place HISTORY_PERIODS back in time. */
static int64_t period_nominal(enum buddy_cadence_kind kind)
{
	switch (kind) {
	case BUDDY_CADENCE_WEEKLY:
		return 7 * 86400;
	case BUDDY_CADENCE_MONTHLY:
		return 30 * 86400;
	case BUDDY_CADENCE_DAILY:
	case BUDDY_CADENCE_BY:
		break;
	}
	return 86400;
}

static int time_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The times of buddy pk's done, unretracted check-ins on commitment id, sorted. */
static int64_t *points_of(const struct buddy_seen *v, const uint8_t pk[32], const char *id,
			  size_t *n)
{
	size_t total = buddy_seen_nentries(v, pk), k = 0;
	int64_t *t = malloc((total + 1) * sizeof(*t));

	if (!t)
		return NULL;
	for (size_t i = 0; i < total; i++) {
		const struct buddy_seen_entry *x = buddy_seen_entry_at(v, pk, i);

		if (x->kind == BUDDY_POST_CHECKIN && !x->retracted &&
		    x->status == BUDDY_CHECKIN_DONE && !strcmp(x->commit, id))
			t[k++] = x->at;
	}
	qsort(t, k, sizeof(*t), time_cmp);
	*n = k;
	return t;
}

static uint32_t points_in(const int64_t *t, size_t n, int64_t s, int64_t e)
{
	size_t lo = 0, hi = n;
	uint32_t k = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t[mid] < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo < n && t[lo] < e && k < UINT32_MAX) {
		lo++;
		k++;
	}
	return k;
}

/* Judges the ended periods of buddy pk's commitment c from its cursor on. */
static void judge(struct deadlines *dl, const uint8_t pk[32], const struct buddy_seen_commitment *c,
		  struct cursor *cur, int64_t now, int64_t *next)
{
	struct buddyd *d = dl->d;
	int64_t grace = miss_grace(d), from, s, e;
	int64_t *pts = NULL;
	size_t npts = 0;
	char id[BUDDY_ID_MAX + 1], tz[BUDDY_TZ_MAX + 1];
	struct buddy_cadence cad = c->cadence;
	int64_t created = c->created, archived = c->archived;
	int k;

	if (!c->on) {
		cur->off = true;
		return;
	}
	if (cur->off) {
		/* shared again: the time it was not shared is nobody's miss */
		*cur = (struct cursor){.floor = c->updated, .mark = true};
		memcpy(cur->pk, pk, 32);
		snprintf(cur->id, sizeof(cur->id), "%s", c->id);
	}
	if (cur->done)
		return;
	/* c points into the journal, which an append may move: copy what is needed */
	snprintf(id, sizeof(id), "%s", c->id);
	snprintf(tz, sizeof(tz), "%s", c->tz);
	from = c->since > created ? c->since : created;
	if (cur->floor > from)
		from = cur->floor;
	if (!cur->built) {
		int64_t back = now - HISTORY_PERIODS * period_nominal(cad.kind);

		cur->next = from > back ? from : back;
		cur->built = true;
	}
	for (k = 0; k < PERIODS_PER_RUN && live(dl); k++) {
		const struct buddy_journal *j = d->journal;

		if (buddy_cadence_period(&cad, tz, created, cur->next, &s, &e) < 0) {
			cur->done = true;
			break;
		}
		if (e > now - grace) {
			earliest(next, e + grace);
			break;
		}
		if (archived && e > archived) {
			cur->done = true;
			break;
		}
		/* only periods shared with me from their start (or from the commitment's
		 * creation, give or take SHARE_SLACK_S) are mine to judge: check-ins made before
		 * the sharing were never sent, and a partly shared period would be a false miss */
		if (e > from && from <= (s > created ? s : created) + SHARE_SLACK_S &&
		    !buddy_pauses_excuses(buddy_journal_pauses(j), pk, id, tz, e) &&
		    !buddy_events_has(buddy_journal_events(j), BUDDY_EV_MISSED, pk, id, s)) {
			if (!pts && !(pts = points_of(buddy_journal_seen(j), pk, id, &npts))) {
				log_error("deadlines: out of memory");
				break;
			}
			if (points_in(pts, npts, s, e) < cad.n &&
			    record(d, now, BUDDY_EV_MISSED, pk, id, s, e, 0))
				break;
		}
		if (cad.kind == BUDDY_CADENCE_BY || e <= cur->next) {
			cur->done = true;
			break;
		}
		cur->next = e;
	}
	if (k == PERIODS_PER_RUN)
		earliest(next, now + REARM_MIN_S);
	free(pts);
}

/* A buddy's check-in x: LATE if its period was recorded as MISSED (and not yet as LATE). */
static void late_check(struct deadlines *dl, const uint8_t pk[32], const struct buddy_seen_entry *x,
		       int64_t now)
{
	struct buddyd *d = dl->d;
	const struct buddy_journal *j = d->journal;
	const struct buddy_seen_commitment *c;
	const struct buddy_events *ev = buddy_journal_events(j);
	struct cursor *cur = NULL;
	int64_t s, e;

	if (x->kind != BUDDY_POST_CHECKIN || x->retracted || x->status != BUDDY_CHECKIN_DONE ||
	    !x->commit[0] || !(c = seen_commit(buddy_journal_seen(j), pk, x->commit)))
		return;
	/* the common case, a check-in for a period not yet judged, costs no time-zone work */
	for (size_t i = 0; i < dl->ncur; i++)
		if (!memcmp(dl->cur[i].pk, pk, 32) && !strcmp(dl->cur[i].id, c->id))
			cur = &dl->cur[i];
	if (cur && cur->built && !cur->done && !cur->off && x->at >= cur->next &&
	    c->cadence.kind != BUDDY_CADENCE_BY)
		return;
	if (buddy_cadence_period(&c->cadence, c->tz, c->created, x->at, &s, &e) < 0 || x->at < s ||
	    x->at >= e)
		return;
	if (buddy_events_has(ev, BUDDY_EV_MISSED, pk, c->id, s) &&
	    !buddy_events_has(ev, BUDDY_EV_LATE, pk, c->id, s))
		record(d, now, BUDDY_EV_LATE, pk, c->id, s, e, x->e);
}

/* The entries of each buddy that arrived since the last look: late check-ins. */
static void scan_new(struct deadlines *dl, int64_t now, int64_t *next)
{
	struct buddyd *d = dl->d;
	struct buddy_buddies *bs = buddy_journal_buddies(d->journal);
	const struct buddy_seen *v = buddy_journal_seen(d->journal);

	for (size_t i = 0; i < dl->nscan; i++)
		dl->scan[i].mark = false;
	for (size_t b = 0; b < buddy_buddies_count(bs) && live(dl); b++) {
		const struct buddy_buddy *bd = buddy_buddies_at(bs, b);
		uint8_t pk[32];
		size_t n, stop;
		struct scan *sc;

		memcpy(pk, bd->pk, 32);
		n = buddy_seen_nentries(v, pk);
		if (!(sc = scan_get(dl, pk, n)))
			return;
		sc->mark = true;
		if (sc->n > n || bd->revoked) /* fewer: a buddy forgotten and paired again */
			sc->n = n;
		stop = n - sc->n > SCAN_PER_RUN ? sc->n + SCAN_PER_RUN : n;
		if (stop < n)
			earliest(next, now + REARM_MIN_S);
		/* sc stays put: nothing below adds a scan */
		while (sc->n < stop && live(dl))
			late_check(dl, pk, buddy_seen_entry_at(v, pk, sc->n++), now);
	}
	if (!live(dl))
		return;
	for (size_t i = 0; i < dl->nscan;)
		if (!dl->scan[i].mark)
			dl->scan[i] = dl->scan[--dl->nscan];
		else
			i++;
}

static void judge_all(struct deadlines *dl, int64_t now, int64_t *next)
{
	struct buddyd *d = dl->d;

	for (size_t i = 0; i < dl->ncur; i++)
		dl->cur[i].mark = false;
	for (size_t b = 0; b < buddy_buddies_count(buddy_journal_buddies(d->journal)) && live(dl);
	     b++) {
		const struct buddy_buddy *bd =
			buddy_buddies_at(buddy_journal_buddies(d->journal), b);
		uint8_t pk[32];

		if (bd->revoked)
			continue;
		memcpy(pk, bd->pk, 32);
		for (size_t i = 0;
		     i < buddy_seen_ncommits(buddy_journal_seen(d->journal), pk) && live(dl); i++) {
			const struct buddy_seen_commitment *c =
				buddy_seen_commit_at(buddy_journal_seen(d->journal), pk, i);
			struct cursor *cur = cursor_get(dl, pk, c->id);

			if (!cur) {
				log_error("deadlines: out of memory");
				return;
			}
			cur->mark = true;
			judge(dl, pk, c, cur, now, next);
		}
	}
	if (!live(dl))
		return; /* a partial pass marked only some */
	/* forget the cursors of commitments and buddies that are gone */
	for (size_t i = 0; i < dl->ncur;)
		if (!dl->cur[i].mark)
			dl->cur[i] = dl->cur[--dl->ncur];
		else
			i++;
}

/* ---- the evaluation and its timer ---- */

static void on_timer(uv_timer_t *t);

static void evaluate(struct deadlines *dl)
{
	int64_t now, next, delay;
	int rounds = 0;

	if (dl->busy) {
		/* asked from inside an evaluation (an append's callbacks): once more after it */
		dl->again = true;
		return;
	}
	dl->busy = true;
	do {
		dl->again = false;
		now = buddy_clock_now();
		next = now + REARM_MAX_S;
		if (live(dl))
			remind(dl, now, &next);
		/* late check-ins before misses: a check-in already here when its period is judged
		 * is evidence, not a late arrival */
		if (live(dl))
			scan_new(dl, now, &next);
		if (live(dl))
			judge_all(dl, now, &next);
	} while (dl->again && ++rounds < 3);
	dl->busy = false;
	if (dl->d->deadlines != dl)
		return; /* stopped meanwhile: the handle is closing */
	delay = next - now;
	if (delay < REARM_MIN_S)
		delay = REARM_MIN_S;
	if (delay > REARM_MAX_S)
		delay = REARM_MAX_S;
	uv_timer_start(&dl->timer, on_timer, (uint64_t)delay * 1000, 0);
}

static void on_timer(uv_timer_t *t)
{
	evaluate(t->data);
}

static void on_close(uv_handle_t *h)
{
	struct deadlines *dl = h->data;

	free(dl->cur);
	free(dl->scan);
	free(dl);
}

void buddyd_deadlines_start(struct buddyd *d)
{
	struct deadlines *dl;

	if (d->deadlines || !usable(d))
		return;
	dl = calloc(1, sizeof(*dl));
	if (!dl || uv_timer_init(d->loop, &dl->timer)) {
		free(dl);
		log_error("deadlines: cannot start: reminders and misses wait for a restart");
		return;
	}
	dl->d = d;
	dl->timer.data = dl;
	/* the control socket and the signals keep the loop alive, never this timer */
	uv_unref((uv_handle_t *)&dl->timer);
	d->deadlines = dl;
	evaluate(dl);
}

void buddyd_deadlines_stop(struct buddyd *d)
{
	struct deadlines *dl = d->deadlines;

	if (!dl)
		return;
	/* an evaluation in progress (stopped from an append's callbacks) sees d->deadlines
	 * change and returns; the memory goes in the close callback */
	d->deadlines = NULL;
	uv_timer_stop(&dl->timer);
	uv_close((uv_handle_t *)&dl->timer, on_close);
}

void buddyd_deadlines_tick(struct buddyd *d)
{
	if (d->deadlines)
		evaluate(d->deadlines);
}

void buddyd_deadlines_checkin(struct buddyd *d, const uint8_t pk[32], uint64_t entry)
{
	const struct buddy_seen_entry *x;
	const struct buddy_buddy *b;

	if (!d->deadlines || !live(d->deadlines))
		return;
	b = buddy_buddies_by_pk(buddy_journal_buddies(d->journal), pk);
	x = buddy_seen_entry_find(buddy_journal_seen(d->journal), pk, entry);
	if (b && !b->revoked && x)
		late_check(d->deadlines, pk, x, buddy_clock_now());
}
