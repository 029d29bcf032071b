/* Cadences and their periods in the author's time zone (DESIGN.md section 7).
 *
 * A period boundary is always "00:00 local on some date", obtained from mktime() with
 * tm_isdst = -1 on a date whose day or month field is offset from an aligned base date (the
 * base day, its ISO Monday, or the 1st). mktime normalises the date arithmetic and the DST rules
 * for us, so days are 23 or 25 hours long when they must be; where 00:00 does not exist glibc
 * moves it forward to the first instant of the day. Because every boundary comes from the same
 * function of an integer index, neighbouring periods always tile without gaps or overlaps.
 *
 * TZ is switched once per call and restored on every path; nothing here is thread-safe. */
#include "buddy/cadence.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buddy/error.h"
#include "buddy/limits.h"

#define PERIODS_MAX 200000
/* 9999-12-31T23:59:59Z: the last second of the dates buddy_date_parse accepts. */
#define TIME_MAX     253402300799LL
#define ZONEINFO_DIR "/usr/share/zoneinfo"

static bool tz_name_ok(const char *zone)
{
	size_t len = strnlen(zone, BUDDY_TZ_MAX + 1);
	const char *comp = zone;

	if (len == 0 || len > BUDDY_TZ_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = zone[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '+' || ch == '-' || ch == '/'))
			return false;
	}
	/* Every component must be a plain name, so the path stays inside the zoneinfo tree. */
	for (;;) {
		size_t n = strcspn(comp, "/");

		if (n == 0 || (n == 2 && comp[0] == '.' && comp[1] == '.'))
			return false;
		if (comp[n] == '\0')
			break;
		comp += n + 1;
	}
	/* right/ zones count leap seconds in time_t, so their "Unix times" disagree with everyone
	 * else's by half a minute. */
	return strncmp(zone, "right/", 6) != 0;
}

int buddy_tz_valid(const char *zone)
{
	const char *dir = getenv("TZDIR");
	char path[PATH_MAX];
	char magic[4];
	struct stat st;
	int fd, n;
	ssize_t r;

	if (!zone || !tz_name_ok(zone))
		return BUDDY_E_INVALID;
	if (!dir || !*dir)
		dir = ZONEINFO_DIR;
	n = snprintf(path, sizeof(path), "%s/%s", dir, zone);
	if (n < 0 || (size_t)n >= sizeof(path))
		return BUDDY_E_INVALID;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return BUDDY_E_INVALID;
	/* Only a regular file with the TZif magic: the tree also holds text tables
	 * ("leapseconds") that glibc would fail to load and then silently treat as UTC. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return BUDDY_E_INVALID;
	}
	do
		r = read(fd, magic, sizeof(magic));
	while (r < 0 && errno == EINTR);
	close(fd);
	if (r != (ssize_t)sizeof(magic) || memcmp(magic, "TZif", 4) != 0)
		return BUDDY_E_INVALID;
	return 0;
}

struct tz_saved {
	char *value;
	bool was_set;
};

static int tz_enter(const char *zone, struct tz_saved *saved)
{
	const char *old = getenv("TZ");

	saved->value = NULL;
	saved->was_set = old != NULL;
	/* Copied because setenv may free the string getenv returned. */
	if (old && !(saved->value = strdup(old)))
		return BUDDY_E_NOMEM;
	if (setenv("TZ", zone, 1) < 0) {
		free(saved->value);
		return BUDDY_E_NOMEM;
	}
	tzset();
	return 0;
}

static void tz_leave(struct tz_saved *saved)
{
	if (saved->was_set)
		setenv("TZ", saved->value, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved->value);
	saved->value = NULL;
}

/* An aligned local date; boundary k of the grid is 00:00 local on the date k periods later. */
struct grid {
	enum buddy_cadence_kind kind;
	int year, mon, mday; /* struct tm conventions */
};

static int grid_bound(const struct grid *g, int64_t k, int64_t *out)
{
	struct tm tm = {0};
	time_t r;

	tm.tm_year = g->year;
	tm.tm_mon = g->mon;
	tm.tm_mday = g->mday;
	tm.tm_isdst = -1;
	switch (g->kind) {
	case BUDDY_CADENCE_DAILY:
	case BUDDY_CADENCE_BY:
		tm.tm_mday += (int)k;
		break;
	case BUDDY_CADENCE_WEEKLY:
		tm.tm_mday += (int)(7 * k);
		break;
	case BUDDY_CADENCE_MONTHLY:
		tm.tm_mon += (int)k;
		break;
	}
	/* -1 is also a valid time; only errno tells them apart. */
	errno = 0;
	r = mktime(&tm);
	if (r == (time_t)-1 && errno)
		return BUDDY_E_INVALID;
	*out = r;
	return 0;
}

static bool time_ok(int64_t t)
{
	return t >= 0 && t <= TIME_MAX && (int64_t)(time_t)t == t;
}

/* Finds the grid and the index k such that boundary k <= t < boundary k+1. */
static int grid_locate(enum buddy_cadence_kind kind, int64_t t, struct grid *g, int64_t *k,
		       int64_t *start, int64_t *end)
{
	time_t tt = (time_t)t;
	struct tm tm;
	int ret;

	if (!localtime_r(&tt, &tm))
		return BUDDY_E_INVALID;
	g->kind = kind;
	g->year = tm.tm_year;
	g->mon = tm.tm_mon;
	g->mday = tm.tm_mday;
	if (kind == BUDDY_CADENCE_WEEKLY)
		g->mday -= (tm.tm_wday + 6) % 7;
	else if (kind == BUDDY_CADENCE_MONTHLY)
		g->mday = 1;
	/* The local date of t is almost always right; it is off by one only when a boundary was
	 * moved by a DST gap or a repeated midnight, or a whole day was skipped (Pacific/Apia
	 * 2011-12-30), so a few steps settle it. */
	*k = 0;
	for (int i = 0; i < 4; i++) {
		if ((ret = grid_bound(g, *k, start)) < 0 || (ret = grid_bound(g, *k + 1, end)) < 0)
			return ret;
		if (t < *start)
			--*k;
		else if (t >= *end)
			++*k;
		else
			return 0;
	}
	return BUDDY_E_INTERNAL;
}

/* The single BY period: from the start of the local day of created to the start of the day
 * after the by-date. A by-date before the day of created names no period. */
static int by_period(const struct buddy_cadence *c, int64_t created, int64_t *start, int64_t *end)
{
	struct grid g, by = {.kind = BUDDY_CADENCE_BY};
	int64_t k, day_end;
	int ret;

	if ((ret = grid_locate(BUDDY_CADENCE_BY, created, &g, &k, start, &day_end)) < 0)
		return ret;
	by.year = c->by_year - 1900;
	by.mon = c->by_month - 1;
	by.mday = c->by_day;
	if ((ret = grid_bound(&by, 1, end)) < 0)
		return ret;
	return *end > *start && *end > created ? 0 : BUDDY_E_INVALID;
}

int buddy_cadence_period(const struct buddy_cadence *c, const char *tz, int64_t created, int64_t t,
			 int64_t *start, int64_t *end)
{
	struct tz_saved saved;
	struct grid g;
	int64_t k, s, e;
	int ret;

	if (buddy_cadence_valid(c) < 0 || buddy_tz_valid(tz) < 0 || !start || !end)
		return BUDDY_E_INVALID;
	if (c->kind == BUDDY_CADENCE_BY ? !time_ok(created) : !time_ok(t))
		return BUDDY_E_INVALID;
	if ((ret = tz_enter(tz, &saved)) < 0)
		return ret;
	if (c->kind == BUDDY_CADENCE_BY)
		ret = by_period(c, created, &s, &e);
	else
		ret = grid_locate(c->kind, t, &g, &k, &s, &e);
	tz_leave(&saved);
	if (ret < 0)
		return ret;
	*start = s;
	*end = e;
	return 0;
}

/* Longest period of each kind with a wide margin for DST and skipped days; used only to refuse
 * an absurd span before generating it. */
static int64_t period_len_max(enum buddy_cadence_kind kind)
{
	switch (kind) {
	case BUDDY_CADENCE_WEEKLY:
		return 9 * 86400;
	case BUDDY_CADENCE_MONTHLY:
		return 33 * 86400;
	case BUDDY_CADENCE_DAILY:
	case BUDDY_CADENCE_BY:
		break;
	}
	return 3 * 86400;
}

static int periods_push(struct buddy_stats *st, size_t *cap, int64_t start, int64_t end,
			uint32_t required)
{
	struct buddy_period *p;

	/* A day that a zone skipped entirely (Pacific/Apia 2011-12-30) yields an empty period;
	 * nobody could have checked in during it, so it is not a period at all. */
	if (end <= start)
		return 0;
	if (st->nperiods == PERIODS_MAX)
		return BUDDY_E_TOOBIG;
	if (st->nperiods == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;

		if (ncap > PERIODS_MAX)
			ncap = PERIODS_MAX;
		p = realloc(st->periods, ncap * sizeof(*p));
		if (!p)
			return BUDDY_E_NOMEM;
		st->periods = p;
		*cap = ncap;
	}
	p = &st->periods[st->nperiods++];
	memset(p, 0, sizeof(*p));
	p->start = start;
	p->end = end;
	p->required = required;
	return 0;
}

static int build_periods(const struct buddy_cadence *c, int64_t created, int64_t now,
			 struct buddy_stats *st)
{
	size_t cap = 0;
	struct grid g;
	int64_t k, s, e;
	int ret;

	if (c->kind == BUDDY_CADENCE_BY) {
		if ((ret = by_period(c, created, &s, &e)) < 0)
			return ret;
		return periods_push(st, &cap, s, e, c->n);
	}
	if ((ret = grid_locate(c->kind, created, &g, &k, &s, &e)) < 0)
		return ret;
	if (now > s && (now - s) / period_len_max(c->kind) > PERIODS_MAX)
		return BUDDY_E_TOOBIG;
	for (;;) {
		if ((ret = periods_push(st, &cap, s, e, c->n)) < 0)
			return ret;
		if (e > now)
			return 0;
		s = e;
		if ((ret = grid_bound(&g, ++k + 1, &e)) < 0)
			return ret;
	}
}

static int point_cmp(const void *a, const void *b)
{
	const struct buddy_checkin_point *x = a, *y = b;

	return (x->time > y->time) - (x->time < y->time);
}

/* Counts the points that lie in [lo, hi] into the periods in one sorted pass. */
static int count_points(struct buddy_stats *st, const struct buddy_checkin_point *pts, size_t n,
			int64_t lo, int64_t hi)
{
	struct buddy_checkin_point *sorted;
	size_t m = 0, p = 0;

	if (!n || !st->nperiods)
		return 0;
	if (n > SIZE_MAX / sizeof(*sorted))
		return BUDDY_E_TOOBIG;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return BUDDY_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (pts[i].time < lo || pts[i].time > hi)
			continue;
		if (pts[i].status != BUDDY_CHECKIN_DONE && pts[i].status != BUDDY_CHECKIN_PARTIAL &&
		    pts[i].status != BUDDY_CHECKIN_SKIP)
			continue;
		sorted[m++] = pts[i];
	}
	qsort(sorted, m, sizeof(*sorted), point_cmp);
	for (size_t i = 0; i < m; i++) {
		struct buddy_period *per;

		while (p < st->nperiods && sorted[i].time >= st->periods[p].end)
			p++;
		if (p == st->nperiods)
			break;
		per = &st->periods[p];
		if (sorted[i].time < per->start)
			continue;
		/* Saturate rather than wrap: the counts only feed "done >= required". */
		if (sorted[i].status == BUDDY_CHECKIN_DONE && per->done < UINT32_MAX)
			per->done++;
		else if (sorted[i].status == BUDDY_CHECKIN_PARTIAL && per->partial < UINT32_MAX)
			per->partial++;
		else if (sorted[i].status == BUDDY_CHECKIN_SKIP && per->skipped < UINT32_MAX)
			per->skipped++;
	}
	free(sorted);
	return 0;
}

static void summarise(struct buddy_stats *st, int64_t now)
{
	uint32_t run = 0;
	size_t last;

	for (size_t i = 0; i < st->nperiods; i++) {
		struct buddy_period *p = &st->periods[i];

		p->met = p->done >= p->required;
		p->current = p->start <= now && now < p->end;
		if (p->end <= now || (p->current && p->met)) {
			st->counted++;
			if (p->met)
				st->met++;
		}
		run = p->met ? run + 1 : 0;
		if (run > st->longest_streak)
			st->longest_streak = run;
	}
	st->rate = st->counted ? (double)st->met / st->counted : 0.0;
	if (!st->nperiods)
		return;
	/* A period still in progress and not yet met has not broken the streak: it may still be
	 * met. Start counting from the one before it. */
	last = st->nperiods - 1;
	if (st->periods[last].end > now && !st->periods[last].met) {
		if (!last)
			return;
		last--;
	}
	for (size_t i = last + 1; i-- > 0 && st->periods[i].met;)
		st->current_streak++;
}

int buddy_stats_compute(const struct buddy_cadence *c, const char *tz, int64_t created, int64_t now,
			const struct buddy_checkin_point *pts, size_t n, struct buddy_stats *out)
{
	struct buddy_stats st = {0};
	struct tz_saved saved;
	int ret;

	if (!out)
		return BUDDY_E_INVALID;
	memset(out, 0, sizeof(*out));
	if (buddy_cadence_valid(c) < 0 || buddy_tz_valid(tz) < 0 || (n && !pts) ||
	    !time_ok(created) || !time_ok(now))
		return BUDDY_E_INVALID;
	if ((ret = tz_enter(tz, &saved)) < 0)
		return ret;
	ret = build_periods(c, created, now < created ? created : now, &st);
	tz_leave(&saved);
	/* A check-in before the commitment existed or from the future is not evidence. */
	if (ret >= 0)
		ret = count_points(&st, pts, n, created, now);
	if (ret < 0) {
		free(st.periods);
		return ret;
	}
	summarise(&st, now);
	*out = st;
	return 0;
}

void buddy_stats_free(struct buddy_stats *s)
{
	if (!s)
		return;
	free(s->periods);
	memset(s, 0, sizeof(*s));
}
