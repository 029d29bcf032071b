/* Commitment cadences, their periods in the author's time zone, and per-period statistics
 * (DESIGN.md section 7). Time zones come from the C library's tz database (TZ + tzset): these
 * functions change TZ while they run and restore it, so they are confined to one thread (the
 * daemon's loop thread). Times are Unix seconds. */
#ifndef BUDDY_CADENCE_H
#define BUDDY_CADENCE_H

#include <stddef.h>
#include <stdint.h>

enum buddy_cadence_kind {
	BUDDY_CADENCE_DAILY = 1, /* once per local calendar day */
	BUDDY_CADENCE_WEEKLY,	 /* n times per ISO week (Monday 00:00 to Monday 00:00) */
	BUDDY_CADENCE_MONTHLY,	 /* n times per calendar month */
	BUDDY_CADENCE_BY	 /* once, by the end of a date */
};

struct buddy_cadence {
	enum buddy_cadence_kind kind;
	uint32_t n;		       /* required check-ins per period: 1 for DAILY and BY */
	int by_year, by_month, by_day; /* BY only */
};

enum buddy_checkin_status { BUDDY_CHECKIN_DONE = 1, BUDDY_CHECKIN_PARTIAL, BUDDY_CHECKIN_SKIP };

/* Strict "YYYY-MM-DD" naming a real calendar date (years 1970..9999). */
int buddy_date_parse(const char *s, int *y, int *m, int *d);

/* 0 if zone names a zone in the system tz database ("Europe/Berlin", "UTC"), else
 * BUDDY_E_INVALID. Refuses paths ("..", leading '/') and over-long names. */
int buddy_tz_valid(const char *zone);

/* 0 if c is well formed (kind known, 1 <= n <= BUDDY_CADENCE_N_MAX, n == 1 for DAILY/BY, date
 * real for BY). */
int buddy_cadence_valid(const struct buddy_cadence *c);

/* The period of c that contains time t, in zone tz: [*start, *end). For BY there is one period,
 * from the start of the local day of `created` to the end of the local day by_year-by_month-by_day.
 */
int buddy_cadence_period(const struct buddy_cadence *c, const char *tz, int64_t created, int64_t t,
			 int64_t *start, int64_t *end);

struct buddy_checkin_point {
	int64_t time;
	enum buddy_checkin_status status;
};

struct buddy_period {
	int64_t start, end;
	uint32_t required, done, partial, skipped;
	int met;     /* done >= required */
	int current; /* now lies inside it */
};

struct buddy_stats {
	struct buddy_period
		*periods; /* oldest first, from the period of `created` to the one of `now` */
	size_t nperiods;
	uint32_t counted; /* periods that count toward the rate: every ended one, plus the current
			     one if met */
	uint32_t met;	  /* of those, met */
	double rate;	  /* met / counted, 0 when counted == 0 */
	uint32_t current_streak; /* met periods in a row ending with the current one (if met) or the
				    last ended one */
	uint32_t longest_streak;
};

/* Computes the periods from the one containing `created` through the one containing `now` (for
 * BY: the single period) and counts the points (any order) into them; points outside are
 * ignored. out->periods is malloc'd; free with buddy_stats_free. */
int buddy_stats_compute(const struct buddy_cadence *c, const char *tz, int64_t created, int64_t now,
			const struct buddy_checkin_point *pts, size_t n, struct buddy_stats *out);

void buddy_stats_free(struct buddy_stats *s);

#endif
