/* Pauses, mine and my buddies' (see buddy/pauses.h).
 *
 * Kept per (me or a buddy's key, commitment id), oldest first, at most BUDDY_PAUSES_MAX each
 * (the oldest is dropped beyond). My pause records (type 42) and a buddy's pause posts (type 6)
 * have the same body, {c, from, until, r}, and both are read with post.h's strict reader.
 *
 * Where a pause ends depends on the commitment's zone, which can be told later than the pause
 * (or change): so only the date is kept, and the end of that local day is computed when asked,
 * with cadence.c's tz handling (the end of a "by" period ending on that date). Reasons are
 * wiped when freed. */
#include "buddy/pauses.h"
#include "buddy/cadence.h"
#include "buddy/error.h"
#include "buddy/post.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(BUDDY_PAUSE_REASON_MAX == BUDDY_POST_PAUSE_REASON_MAX,
	       "a pause's reason has one limit, in its record and in its post");

#define DAY 86400
/* Local midnight lies within this of UTC midnight in any zone (offsets are within -12..+14
 * hours, a DST gap moves midnight by an hour at most): outside it, no tz lookup is needed. */
#define MARGIN (2 * DAY)

struct group {
	bool mine;
	uint8_t pk[32];
	char commit[BUDDY_ID_MAX + 1];
	struct buddy_pause *v; /* oldest first */
	size_t n, cap;
};

struct buddy_pauses {
	struct group *g;
	size_t n, cap;
};

struct buddy_pauses *buddy_pauses_new(void)
{
	return calloc(1, sizeof(struct buddy_pauses));
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void buddy_pauses_free(struct buddy_pauses *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t k = 0; k < p->g[i].n; k++)
			wipe_free(p->g[i].v[k].reason);
		free(p->g[i].v);
	}
	free(p->g);
	free(p);
}

static struct group *group_find(const struct buddy_pauses *p, const uint8_t *pk, const char *commit)
{
	if (!p || !commit)
		return NULL;
	for (size_t i = 0; i < p->n; i++) {
		struct group *g = &p->g[i];

		if (g->mine == !pk && (!pk || memcmp(g->pk, pk, 32) == 0) &&
		    strcmp(g->commit, commit) == 0)
			return g;
	}
	return NULL;
}

static struct group *group_get(struct buddy_pauses *p, const uint8_t *pk, const char *commit)
{
	struct group *g = group_find(p, pk, commit);

	if (g)
		return g;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? 2 * p->cap : 8;

		if (!(g = realloc(p->g, ncap * sizeof(*g))))
			return NULL;
		p->g = g;
		p->cap = ncap;
	}
	g = &p->g[p->n++];
	memset(g, 0, sizeof(*g));
	g->mine = !pk;
	if (pk)
		memcpy(g->pk, pk, 32);
	memcpy(g->commit, commit, strlen(commit) + 1); /* a slug the reader checked */
	return g;
}

/* Adds a pause read by buddy_post_read_pause, with `from` as given. */
static int add(struct buddy_pauses *p, const uint8_t *pk, const struct buddy_post_pause *pa,
	       int64_t from)
{
	struct group *g = group_get(p, pk, pa->commit);
	struct buddy_pause *slot;
	char *reason;

	if (!g)
		return BUDDY_E_NOMEM;
	if (!(reason = malloc(pa->reason_len + 1)))
		return BUDDY_E_NOMEM;
	if (pa->reason_len)
		memcpy(reason, pa->reason, pa->reason_len);
	reason[pa->reason_len] = 0;
	if (g->n == BUDDY_PAUSES_MAX) {
		/* the oldest goes: its periods are long past */
		wipe_free(g->v[0].reason);
		memmove(&g->v[0], &g->v[1], (g->n - 1) * sizeof(*g->v));
		g->n--;
	}
	if (g->n == g->cap) {
		size_t ncap = g->cap ? 2 * g->cap : 4;

		if (ncap > BUDDY_PAUSES_MAX)
			ncap = BUDDY_PAUSES_MAX;
		if (!(slot = realloc(g->v, ncap * sizeof(*slot)))) {
			free(reason);
			return BUDDY_E_NOMEM;
		}
		g->v = slot;
		g->cap = ncap;
	}
	slot = &g->v[g->n++];
	slot->from = from;
	slot->until_y = pa->until_y;
	slot->until_m = pa->until_m;
	slot->until_d = pa->until_d;
	slot->reason = reason;
	return 0;
}

int buddy_pauses_apply(struct buddy_pauses *p, int64_t written, const msgpack_object *body)
{
	struct buddy_post_pause pa;

	(void)written; /* a pause starts at its `from`, which the maker set to the same time */
	if (buddy_post_read_pause(body, &pa))
		return BUDDY_E_CORRUPT;
	return add(p, NULL, &pa, pa.from);
}

void buddy_pauses_post(void *arg, bool outgoing, const uint8_t pk[32], uint64_t seq,
		       int64_t written, const uint8_t *post, size_t len)
{
	struct buddy_pauses *p = arg;
	struct buddy_post_head h;
	struct buddy_post_pause pa;
	const msgpack_object *body;
	msgpack_unpacked u;

	(void)seq;
	(void)written;
	/* mine are kept from their records (type 42), which say the same */
	if (outgoing || !p)
		return;
	msgpack_unpacked_init(&u);
	/* a malformed post is counted by seen.c; here it is simply not a pause */
	if (buddy_post_decode(post, len, &u, &h, &body) == 0 && h.type == BUDDY_POST_PAUSE &&
	    buddy_post_read_pause(body, &pa) == 0)
		/* no retroactive excuses: a pause starts no earlier than the post that tells it.
		 * Out of memory, it is lost: the buddy's periods are then judged without it. */
		(void)add(p, pk, &pa, pa.from > h.time ? pa.from : h.time);
	msgpack_unpacked_destroy(&u);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Whether t (>= the pause's from) is before the end of its until-day in tz. */
static bool before_end(const struct buddy_pause *pa, const char *tz, int64_t t)
{
	struct buddy_cadence by = {.kind = BUDDY_CADENCE_BY,
				   .n = 1,
				   .by_year = pa->until_y,
				   .by_month = pa->until_m,
				   .by_day = pa->until_d};
	/* UTC midnight after the until-day: the local one is within MARGIN of it */
	int64_t utc_end = (days_from_civil(pa->until_y, pa->until_m, pa->until_d) + 1) * DAY;
	int64_t start, end;

	if (t >= utc_end + MARGIN)
		return false;
	if (t < utc_end - MARGIN)
		return true;
	/* The single period of a "by" cadence made at t runs from t's local day to the end of the
	 * by-date: it exists only when that end is after t. */
	if (!tz || buddy_cadence_period(&by, tz, t, t, &start, &end))
		return false;
	return t < end;
}

bool buddy_pauses_covers(const struct buddy_pauses *p, const uint8_t *pk, const char *commit,
			 const char *tz, int64_t t)
{
	const struct group *g = group_find(p, pk, commit);

	if (!g)
		return false;
	for (size_t i = 0; i < g->n; i++)
		if (t >= g->v[i].from && before_end(&g->v[i], tz, t))
			return true;
	return false;
}

bool buddy_pauses_excuses(const struct buddy_pauses *p, const uint8_t *pk, const char *commit,
			  const char *tz, int64_t period_end)
{
	const struct group *g = group_find(p, pk, commit);
	int64_t t = period_end - 1;

	if (!g)
		return false;
	/* made in time: a pause announced in the last day of a period does not excuse it */
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].from <= period_end - BUDDY_PAUSE_NOTICE_S && t >= g->v[i].from &&
		    before_end(&g->v[i], tz, t))
			return true;
	return false;
}

const struct buddy_pause *buddy_pauses_of(const struct buddy_pauses *p, const uint8_t *pk,
					  const char *commit, size_t *n)
{
	const struct group *g = group_find(p, pk, commit);

	*n = g ? g->n : 0;
	return g && g->n ? g->v : NULL;
}

int buddy_pauses_make(msgpack_sbuffer *out, int64_t now, const char *commit, int until_y,
		      int until_m, int until_d, const char *reason, size_t reason_len)
{
	struct buddy_post_pause pa = {.from = now,
				      .until_y = until_y,
				      .until_m = until_m,
				      .until_d = until_d,
				      .reason = reason,
				      .reason_len = reason_len};
	size_t start = out->size;
	msgpack_packer pk;
	int rc;

	if (!commit || strlen(commit) > BUDDY_ID_MAX)
		return BUDDY_E_INVALID;
	memcpy(pa.commit, commit, strlen(commit) + 1);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, 3) || msgpack_pack_uint64(&pk, BUDDY_REC_PAUSE) ||
	    msgpack_pack_int64(&pk, now))
		rc = BUDDY_E_NOMEM;
	else
		rc = buddy_post_write_pause(out, &pa); /* the same body as the post's */
	if (rc)
		out->size = start;
	return rc;
}
