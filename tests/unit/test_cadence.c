/* Cadences: dates, time zones, periods in local time across DST, and per-period statistics.
 * Every time is a fixed Unix time; the comment next to it gives the local reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "buddy/cadence.h"
#include "buddy/error.h"
#include "buddy/limits.h"

#define HOUR 3600
#define DAY  86400

static const struct buddy_cadence daily = {.kind = BUDDY_CADENCE_DAILY, .n = 1};

static struct buddy_cadence weekly(uint32_t n)
{
	return (struct buddy_cadence){.kind = BUDDY_CADENCE_WEEKLY, .n = n};
}

static struct buddy_cadence monthly(uint32_t n)
{
	return (struct buddy_cadence){.kind = BUDDY_CADENCE_MONTHLY, .n = n};
}

static struct buddy_cadence by(int y, int m, int d)
{
	return (struct buddy_cadence){
		.kind = BUDDY_CADENCE_BY, .n = 1, .by_year = y, .by_month = m, .by_day = d};
}

static void assert_period(const struct buddy_cadence *c, const char *tz, int64_t t,
			  int64_t want_start, int64_t want_end)
{
	int64_t start = 0, end = 0;

	assert_int_equal(buddy_cadence_period(c, tz, 0, t, &start, &end), 0);
	assert_int_equal(start, want_start);
	assert_int_equal(end, want_end);
	assert_true(start <= t && t < end);
}

/* ---- dates ---- */

static void test_cadence_date_parse_valid(void **state)
{
	int y, m, d;

	(void)state;
	assert_int_equal(buddy_date_parse("2024-06-15", &y, &m, &d), 0);
	assert_int_equal(y, 2024);
	assert_int_equal(m, 6);
	assert_int_equal(d, 15);
	assert_int_equal(buddy_date_parse("1970-01-01", &y, &m, &d), 0);
	assert_int_equal(buddy_date_parse("9999-12-31", &y, &m, &d), 0);
	assert_int_equal(y, 9999);
	assert_int_equal(m, 12);
	assert_int_equal(d, 31);
}

static void test_cadence_date_parse_feb29_leap_only(void **state)
{
	int y, m, d;

	(void)state;
	assert_int_equal(buddy_date_parse("2024-02-29", &y, &m, &d), 0);
	assert_int_equal(d, 29);
	assert_int_equal(buddy_date_parse("2000-02-29", &y, &m, &d), 0);
	assert_int_equal(buddy_date_parse("2023-02-29", &y, &m, &d), BUDDY_E_INVALID);
	assert_int_equal(buddy_date_parse("2100-02-29", &y, &m, &d), BUDDY_E_INVALID);
	assert_int_equal(buddy_date_parse("2023-02-28", &y, &m, &d), 0);
}

static void test_cadence_date_parse_bad_format_refused(void **state)
{
	static const char *const bad[] = {"2024-1-01",	 "2024-13-01", "2024-02-30", "2024-01-01x",
					  "2024-01-01 ", "",	       "2024/01/01", " 2024-01-01",
					  "+024-01-01",	 "2024-00-10", "2024-01-00", "2024-04-31",
					  "1969-12-31",	 "20240101",   "2024-01-1",  "2024-0a-01",
					  "12024-01-01"};
	int y = -1, m = -1, d = -1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(buddy_date_parse(bad[i], &y, &m, &d), BUDDY_E_INVALID);
	assert_int_equal(buddy_date_parse(NULL, &y, &m, &d), BUDDY_E_INVALID);
	/* Nothing is written on failure. */
	assert_int_equal(y, -1);
	assert_int_equal(m, -1);
	assert_int_equal(d, -1);
}

/* ---- time zones ---- */

static void test_cadence_tz_valid_known_zones(void **state)
{
	(void)state;
	assert_int_equal(buddy_tz_valid("UTC"), 0);
	assert_int_equal(buddy_tz_valid("Europe/Berlin"), 0);
	assert_int_equal(buddy_tz_valid("America/New_York"), 0);
	assert_int_equal(buddy_tz_valid("America/Argentina/Buenos_Aires"), 0);
	assert_int_equal(buddy_tz_valid("Etc/GMT+5"), 0);
	assert_int_equal(buddy_tz_valid("Etc/GMT-14"), 0);
}

static void test_cadence_tz_valid_unknown_or_path_refused(void **state)
{
	char long_name[BUDDY_TZ_MAX + 2];

	(void)state;
	assert_int_equal(buddy_tz_valid("Mars/Olympus"), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid("../etc/passwd"), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid("Europe/../UTC"), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid("/etc/localtime"), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid("Europe//Berlin"), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid("Europe/Berlin/"), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid("Europe"), BUDDY_E_INVALID);	  /* a directory */
	assert_int_equal(buddy_tz_valid("zone.tab"), BUDDY_E_INVALID);	  /* '.' not allowed */
	assert_int_equal(buddy_tz_valid("leapseconds"), BUDDY_E_INVALID); /* not a TZif file */
	assert_int_equal(buddy_tz_valid("right/UTC"), BUDDY_E_INVALID);	  /* leap-second time_t */
	assert_int_equal(buddy_tz_valid("Europe/Berlin "), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid("utc"), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid(""), BUDDY_E_INVALID);
	assert_int_equal(buddy_tz_valid(NULL), BUDDY_E_INVALID);

	memset(long_name, 'A', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(buddy_tz_valid(long_name), BUDDY_E_INVALID);
	/* At the limit the name is judged on existence alone. */
	long_name[BUDDY_TZ_MAX] = '\0';
	assert_int_equal(buddy_tz_valid(long_name), BUDDY_E_INVALID);
}

static void test_cadence_tz_valid_follows_tzdir(void **state)
{
	(void)state;
	assert_int_equal(setenv("TZDIR", "/nonexistent-zoneinfo", 1), 0);
	assert_int_equal(buddy_tz_valid("UTC"), BUDDY_E_INVALID);
	assert_int_equal(setenv("TZDIR", "/usr/share/zoneinfo", 1), 0);
	assert_int_equal(buddy_tz_valid("UTC"), 0);
	assert_int_equal(unsetenv("TZDIR"), 0);
}

/* ---- cadences ---- */

static void test_cadence_valid_checks_kind_n_and_date(void **state)
{
	struct buddy_cadence c;

	(void)state;
	assert_int_equal(buddy_cadence_valid(&daily), 0);
	c = weekly(3);
	assert_int_equal(buddy_cadence_valid(&c), 0);
	c = monthly(BUDDY_CADENCE_N_MAX);
	assert_int_equal(buddy_cadence_valid(&c), 0);
	c = by(2024, 2, 29);
	assert_int_equal(buddy_cadence_valid(&c), 0);

	c = weekly(0);
	assert_int_equal(buddy_cadence_valid(&c), BUDDY_E_INVALID);
	c = monthly(BUDDY_CADENCE_N_MAX + 1);
	assert_int_equal(buddy_cadence_valid(&c), BUDDY_E_INVALID);
	c = daily;
	c.n = 2;
	assert_int_equal(buddy_cadence_valid(&c), BUDDY_E_INVALID);
	c = by(2023, 2, 29);
	assert_int_equal(buddy_cadence_valid(&c), BUDDY_E_INVALID);
	c = by(2024, 6, 1);
	c.n = 2;
	assert_int_equal(buddy_cadence_valid(&c), BUDDY_E_INVALID);
	c.kind = 0;
	c.n = 1;
	assert_int_equal(buddy_cadence_valid(&c), BUDDY_E_INVALID);
	c.kind = BUDDY_CADENCE_BY + 1;
	assert_int_equal(buddy_cadence_valid(&c), BUDDY_E_INVALID);
	assert_int_equal(buddy_cadence_valid(NULL), BUDDY_E_INVALID);
}

/* ---- periods ---- */

static void test_cadence_period_daily_utc(void **state)
{
	(void)state;
	/* 2024-06-15 12:34:56Z */
	assert_period(&daily, "UTC", 1718454896, 1718409600, 1718496000);
	/* The first and last second of the day. */
	assert_period(&daily, "UTC", 1718409600, 1718409600, 1718496000);
	assert_period(&daily, "UTC", 1718495999, 1718409600, 1718496000);
	assert_period(&daily, "UTC", 1718496000, 1718496000, 1718496000 + DAY);
}

static void test_cadence_period_daily_berlin_dst(void **state)
{
	(void)state;
	/* 2024-03-31 12:00 CEST: the day runs 00:00 CET to 24:00 CEST, 23 hours. */
	assert_period(&daily, "Europe/Berlin", 1711879200, 1711839600, 1711922400);
	assert_int_equal(1711922400 - 1711839600, 23 * HOUR);
	/* 2024-10-27 12:00 CET: 00:00 CEST to 24:00 CET, 25 hours. */
	assert_period(&daily, "Europe/Berlin", 1730026800, 1729980000, 1730070000);
	assert_int_equal(1730070000 - 1729980000, 25 * HOUR);
	/* Both readings of the repeated 02:30 belong to that day. */
	assert_period(&daily, "Europe/Berlin", 1729989000, 1729980000, 1730070000);
	assert_period(&daily, "Europe/Berlin", 1729992600, 1729980000, 1730070000);
}

static void test_cadence_period_daily_new_york_dst(void **state)
{
	(void)state;
	/* 2024-03-10 12:00 EDT: 23 hours. */
	assert_period(&daily, "America/New_York", 1710086400, 1710046800, 1710129600);
	assert_int_equal(1710129600 - 1710046800, 23 * HOUR);
	/* 2024-11-03 12:00 EST: 25 hours. */
	assert_period(&daily, "America/New_York", 1730653200, 1730606400, 1730696400);
	assert_int_equal(1730696400 - 1730606400, 25 * HOUR);
	/* The same instant is a different day in another zone. */
	assert_period(&daily, "UTC", 1730606400 - 1, 1730592000, 1730592000 + DAY);
}

static void test_cadence_period_weekly_starts_monday_local(void **state)
{
	struct buddy_cadence c = weekly(3);

	(void)state;
	/* Sunday 2024-06-16 23:30 CEST: week of Monday 06-10. */
	assert_period(&c, "Europe/Berlin", 1718573400, 1717970400, 1718575200);
	/* Monday 2024-06-17 00:00 CEST exactly: the next week. */
	assert_period(&c, "Europe/Berlin", 1718575200, 1718575200, 1719180000);
	/* In UTC that Sunday 23:30 CEST is Sunday 21:30, still the week of 06-10. */
	assert_period(&c, "UTC", 1718573400, 1717977600, 1718582400);
	/* The week of 2024-03-25 holds the spring-forward Sunday: 167 hours. */
	assert_period(&c, "Europe/Berlin", 1711537200, 1711321200, 1711321200 + 167 * HOUR);
	/* ISO weeks cross the new year: Tuesday 2024-12-31 is in the week of Monday 12-30. */
	assert_period(&c, "UTC", 1735646400, 1735516800, 1736121600);
}

static void test_cadence_period_monthly_december_and_february(void **state)
{
	struct buddy_cadence c = monthly(4);

	(void)state;
	/* 2024-12-15 08:00Z: December into January. */
	assert_period(&c, "UTC", 1734249600, 1733011200, 1735689600);
	/* February 2024 has 29 days, February 2023 has 28. */
	assert_period(&c, "UTC", 1707523200, 1706745600, 1709251200);
	assert_int_equal(1709251200 - 1706745600, 29 * DAY);
	assert_period(&c, "UTC", 1677628799, 1675209600, 1677628800);
	assert_int_equal(1677628800 - 1675209600, 28 * DAY);
	/* March 2024 in Berlin loses an hour. */
	assert_period(&c, "Europe/Berlin", 1710500400, 1709247600, 1711922400);
	assert_int_equal(1711922400 - 1709247600, 31 * DAY - HOUR);
}

static void test_cadence_period_by_runs_from_created_day_to_by_day(void **state)
{
	struct buddy_cadence c = by(2024, 6, 20);
	int64_t start, end;

	(void)state;
	/* Created 2024-06-10 15:00 CEST; due by the end of 2024-06-20 local. */
	assert_int_equal(
		buddy_cadence_period(&c, "Europe/Berlin", 1718024400, 1718920740, &start, &end), 0);
	assert_int_equal(start, 1717970400);
	assert_int_equal(end, 1718920800);
	/* t does not matter: there is one period. */
	assert_int_equal(buddy_cadence_period(&c, "Europe/Berlin", 1718024400, 0, &start, &end), 0);
	assert_int_equal(end, 1718920800);
	/* A by-date before the day of creation names no period. */
	c = by(2024, 6, 9);
	assert_int_equal(
		buddy_cadence_period(&c, "Europe/Berlin", 1718024400, 1718024400, &start, &end),
		BUDDY_E_INVALID);
	/* The same day as creation is fine. */
	c = by(2024, 6, 10);
	assert_int_equal(
		buddy_cadence_period(&c, "Europe/Berlin", 1718024400, 1718024400, &start, &end), 0);
	assert_int_equal(start, 1717970400);
	assert_int_equal(end, 1717970400 + DAY);
}

static void test_cadence_period_midnightless_dst_day(void **state)
{
	struct buddy_cadence w = weekly(1);

	(void)state;
	/* America/Sao_Paulo 2018-11-04: clocks went from 23:59:59 -03 straight to 01:00 -02, so
	 * the day starts at 01:00 local (03:00Z) and lasts 23 hours. */
	assert_period(&daily, "America/Sao_Paulo", 1541302200, 1541300400, 1541383200);
	assert_period(&daily, "America/Sao_Paulo", 1541300400, 1541300400, 1541383200);
	/* 23:30 and 23:59:59 -03 the evening before belong to 2018-11-03. */
	assert_period(&daily, "America/Sao_Paulo", 1541298600, 1541214000, 1541300400);
	assert_period(&daily, "America/Sao_Paulo", 1541300399, 1541214000, 1541300400);
	/* Asia/Beirut 2024-03-31 also starts at 01:00; Saturday 03-30 is a normal day. */
	assert_period(&daily, "Asia/Beirut", 1711836000, 1711836000, 1711918800);
	assert_period(&daily, "Asia/Beirut", 1711835999, 1711749600, 1711836000);
	/* The week holding that Sunday still starts and ends on Mondays at 00:00. */
	assert_period(&w, "Asia/Beirut", 1711835999, 1711749600 - 5 * DAY, 1711918800);
	assert_period(&w, "Asia/Beirut", 1711836000, 1711749600 - 5 * DAY, 1711918800);
}

static void test_cadence_period_skipped_day(void **state)
{
	(void)state;
	/* Pacific/Apia skipped 2011-12-30: Thursday 23:59:59 -10 was followed by Saturday 00:00
	 * +14. Both sides still get their own whole day. */
	assert_period(&daily, "Pacific/Apia", 1325239199, 1325152800, 1325239200);
	assert_period(&daily, "Pacific/Apia", 1325239200, 1325239200, 1325325600);
}

static void test_cadence_period_bad_input_refused(void **state)
{
	struct buddy_cadence c = weekly(0);
	int64_t start, end;

	(void)state;
	assert_int_equal(buddy_cadence_period(&c, "UTC", 0, 0, &start, &end), BUDDY_E_INVALID);
	assert_int_equal(buddy_cadence_period(&daily, "Mars/Olympus", 0, 0, &start, &end),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_cadence_period(&daily, "UTC", 0, -1, &start, &end), BUDDY_E_INVALID);
	assert_int_equal(buddy_cadence_period(&daily, "UTC", 0, INT64_MAX, &start, &end),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_cadence_period(&daily, "UTC", 0, 0, NULL, &end), BUDDY_E_INVALID);
}

/* ---- statistics ---- */

/* 2024-06-01 00:00Z plus d days plus h hours. */
#define JUNE(d, h) (1717200000 + ((d)-1) * DAY + (h)*HOUR)

static void test_cadence_stats_daily_periods_and_rate(void **state)
{
	/* Done every day but the 4th; now is midday on the 10th, not yet checked in. */
	const struct buddy_checkin_point pts[] = {
		{JUNE(9, 8), BUDDY_CHECKIN_DONE}, {JUNE(1, 20), BUDDY_CHECKIN_DONE},
		{JUNE(2, 7), BUDDY_CHECKIN_DONE}, {JUNE(3, 7), BUDDY_CHECKIN_DONE},
		{JUNE(5, 7), BUDDY_CHECKIN_DONE}, {JUNE(6, 7), BUDDY_CHECKIN_DONE},
		{JUNE(7, 7), BUDDY_CHECKIN_DONE}, {JUNE(8, 7), BUDDY_CHECKIN_DONE},
	};
	struct buddy_stats st;

	(void)state;
	assert_int_equal(buddy_stats_compute(&daily, "UTC", JUNE(1, 10), JUNE(10, 12), pts,
					     sizeof(pts) / sizeof(pts[0]), &st),
			 0);
	assert_int_equal(st.nperiods, 10);
	for (size_t i = 0; i < st.nperiods; i++) {
		assert_int_equal(st.periods[i].start, JUNE(1 + (int)i, 0));
		assert_int_equal(st.periods[i].end, JUNE(2 + (int)i, 0));
		assert_int_equal(st.periods[i].required, 1);
		assert_int_equal(st.periods[i].current, i == 9);
		assert_int_equal(st.periods[i].met, i != 3 && i != 9);
	}
	/* Nine days have ended, eight were met; today is not counted until it is met. */
	assert_int_equal(st.counted, 9);
	assert_int_equal(st.met, 8);
	assert_true(st.rate > 8.0 / 9 - 1e-9 && st.rate < 8.0 / 9 + 1e-9);
	assert_int_equal(st.current_streak, 5);
	assert_int_equal(st.longest_streak, 5);
	buddy_stats_free(&st);
	assert_null(st.periods);
	assert_int_equal(st.nperiods, 0);
}

static void test_cadence_stats_current_met_counts(void **state)
{
	const struct buddy_checkin_point pts[] = {
		{JUNE(1, 12), BUDDY_CHECKIN_DONE},
		{JUNE(2, 12), BUDDY_CHECKIN_DONE},
		{JUNE(3, 9), BUDDY_CHECKIN_DONE},
	};
	struct buddy_stats st;

	(void)state;
	assert_int_equal(buddy_stats_compute(&daily, "UTC", JUNE(1, 10), JUNE(3, 10), pts, 3, &st),
			 0);
	assert_int_equal(st.nperiods, 3);
	assert_true(st.periods[2].current && st.periods[2].met);
	assert_int_equal(st.counted, 3);
	assert_int_equal(st.met, 3);
	assert_true(st.rate == 1.0);
	assert_int_equal(st.current_streak, 3);
	assert_int_equal(st.longest_streak, 3);
	buddy_stats_free(&st);
}

static void test_cadence_stats_streak_broken_by_missed_past_period(void **state)
{
	/* Days 1..5 done, then 6 missed, 7 and 8 done, 9 missed; now on day 10. */
	const struct buddy_checkin_point pts[] = {
		{JUNE(1, 12), BUDDY_CHECKIN_DONE}, {JUNE(2, 12), BUDDY_CHECKIN_DONE},
		{JUNE(3, 12), BUDDY_CHECKIN_DONE}, {JUNE(4, 12), BUDDY_CHECKIN_DONE},
		{JUNE(5, 12), BUDDY_CHECKIN_DONE}, {JUNE(7, 12), BUDDY_CHECKIN_DONE},
		{JUNE(8, 12), BUDDY_CHECKIN_DONE},
	};
	struct buddy_stats st;

	(void)state;
	assert_int_equal(buddy_stats_compute(&daily, "UTC", JUNE(1, 10), JUNE(10, 12), pts, 7, &st),
			 0);
	assert_int_equal(st.current_streak, 0);
	assert_int_equal(st.longest_streak, 5);
	assert_int_equal(st.counted, 9);
	assert_int_equal(st.met, 7);
	buddy_stats_free(&st);

	/* Without the miss on day 9, today (not yet met) leaves the streak of 7..9 standing. */
	const struct buddy_checkin_point more[] = {
		{JUNE(1, 12), BUDDY_CHECKIN_DONE}, {JUNE(2, 12), BUDDY_CHECKIN_DONE},
		{JUNE(3, 12), BUDDY_CHECKIN_DONE}, {JUNE(4, 12), BUDDY_CHECKIN_DONE},
		{JUNE(5, 12), BUDDY_CHECKIN_DONE}, {JUNE(7, 12), BUDDY_CHECKIN_DONE},
		{JUNE(8, 12), BUDDY_CHECKIN_DONE}, {JUNE(9, 12), BUDDY_CHECKIN_DONE},
	};
	assert_int_equal(
		buddy_stats_compute(&daily, "UTC", JUNE(1, 10), JUNE(10, 12), more, 8, &st), 0);
	assert_int_equal(st.current_streak, 3);
	assert_int_equal(st.longest_streak, 5);
	buddy_stats_free(&st);
}

/* Berlin weeks of Monday 2024-06-03, 06-10 and 06-17. */
#define W1 1717365600
#define W2 1717970400
#define W3 1718575200

static void test_cadence_stats_weekly3_needs_three_done(void **state)
{
	struct buddy_cadence c = weekly(3);
	const struct buddy_checkin_point pts[] = {
		/* Week 1: two done, one partial, one skip: not met. */
		{W1 + 1 * DAY, BUDDY_CHECKIN_DONE},
		{W1 + 2 * DAY, BUDDY_CHECKIN_PARTIAL},
		{W1 + 3 * DAY, BUDDY_CHECKIN_SKIP},
		{W1 + 4 * DAY, BUDDY_CHECKIN_DONE},
		/* Week 2: three done, one on Sunday 23:30 local: met. */
		{W2 + 10 * HOUR, BUDDY_CHECKIN_DONE},
		{W2 + 2 * DAY, BUDDY_CHECKIN_DONE},
		{W3 - 30 * 60, BUDDY_CHECKIN_DONE},
		/* Week 3 (current): Monday 00:00 exactly, twice more: met. */
		{W3, BUDDY_CHECKIN_DONE},
		{W3 + HOUR, BUDDY_CHECKIN_DONE},
		{W3 + DAY, BUDDY_CHECKIN_DONE},
	};
	struct buddy_stats st;

	(void)state;
	/* Created Monday 06-03 09:00 CEST, now Wednesday 06-19 12:00 CEST. */
	assert_int_equal(buddy_stats_compute(&c, "Europe/Berlin", W1 + 9 * HOUR,
					     W3 + 2 * DAY + 12 * HOUR, pts,
					     sizeof(pts) / sizeof(pts[0]), &st),
			 0);
	assert_int_equal(st.nperiods, 3);
	assert_int_equal(st.periods[0].start, W1);
	assert_int_equal(st.periods[0].end, W2);
	assert_int_equal(st.periods[2].end, W3 + 7 * DAY);
	assert_int_equal(st.periods[0].required, 3);
	assert_int_equal(st.periods[0].done, 2);
	assert_int_equal(st.periods[0].partial, 1);
	assert_int_equal(st.periods[0].skipped, 1);
	assert_false(st.periods[0].met);
	assert_int_equal(st.periods[1].done, 3);
	assert_true(st.periods[1].met);
	assert_int_equal(st.periods[2].done, 3);
	assert_true(st.periods[2].met);
	assert_true(st.periods[2].current);
	assert_int_equal(st.counted, 3);
	assert_int_equal(st.met, 2);
	assert_int_equal(st.current_streak, 2);
	assert_int_equal(st.longest_streak, 2);
	buddy_stats_free(&st);
}

static void test_cadence_stats_partial_and_skip_are_not_done(void **state)
{
	const struct buddy_checkin_point pts[] = {
		{JUNE(1, 12), BUDDY_CHECKIN_PARTIAL},
		{JUNE(2, 12), BUDDY_CHECKIN_SKIP},
		{JUNE(2, 13), 0},
		{JUNE(2, 14), 99},
	};
	struct buddy_stats st;

	(void)state;
	assert_int_equal(buddy_stats_compute(&daily, "UTC", JUNE(1, 10), JUNE(3, 1), pts, 4, &st),
			 0);
	assert_int_equal(st.nperiods, 3);
	assert_int_equal(st.periods[0].partial, 1);
	assert_int_equal(st.periods[1].skipped, 1);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(st.periods[i].done, 0);
		assert_false(st.periods[i].met);
	}
	assert_int_equal(st.counted, 2);
	assert_int_equal(st.met, 0);
	assert_true(st.rate == 0.0);
	assert_int_equal(st.current_streak, 0);
	assert_int_equal(st.longest_streak, 0);
	buddy_stats_free(&st);
}

static void test_cadence_stats_points_outside_ignored(void **state)
{
	const struct buddy_checkin_point pts[] = {
		{JUNE(1, 9), BUDDY_CHECKIN_DONE},  /* same day, before created */
		{JUNE(1, 11), BUDDY_CHECKIN_DONE}, /* after created: counts */
		{JUNE(2, 13), BUDDY_CHECKIN_DONE}, /* today, after now */
		{JUNE(9, 0), BUDDY_CHECKIN_DONE},  /* far future */
		{0, BUDDY_CHECKIN_DONE},	   /* far past */
	};
	struct buddy_stats st;

	(void)state;
	assert_int_equal(buddy_stats_compute(&daily, "UTC", JUNE(1, 10), JUNE(2, 12), pts, 5, &st),
			 0);
	assert_int_equal(st.nperiods, 2);
	assert_int_equal(st.periods[0].done, 1);
	assert_int_equal(st.periods[1].done, 0);
	assert_int_equal(st.counted, 1);
	assert_int_equal(st.met, 1);
	assert_int_equal(st.current_streak, 1);
	buddy_stats_free(&st);
}

static void test_cadence_stats_now_before_created_one_period(void **state)
{
	const struct buddy_checkin_point pts[] = {{JUNE(5, 11), BUDDY_CHECKIN_DONE}};
	struct buddy_stats st;

	(void)state;
	assert_int_equal(buddy_stats_compute(&daily, "UTC", JUNE(5, 10), JUNE(3, 0), pts, 1, &st),
			 0);
	assert_int_equal(st.nperiods, 1);
	assert_int_equal(st.periods[0].start, JUNE(5, 0));
	assert_false(st.periods[0].current);
	assert_int_equal(st.periods[0].done, 0);
	assert_int_equal(st.counted, 0);
	assert_true(st.rate == 0.0);
	assert_int_equal(st.current_streak, 0);
	buddy_stats_free(&st);
}

static void test_cadence_stats_monthly_across_new_year(void **state)
{
	static const int64_t starts[] = {1730419200, 1733011200, 1735689600,
					 1738368000, 1740787200, 1743465600};
	struct buddy_cadence c = monthly(1);
	const struct buddy_checkin_point pts[] = {
		{1733011200 + DAY, BUDDY_CHECKIN_DONE},
		{1735689600 + DAY, BUDDY_CHECKIN_DONE},
		{1738368000 + DAY, BUDDY_CHECKIN_DONE},
	};
	struct buddy_stats st;

	(void)state;
	/* Created 2024-11-15 09:00Z, now 2025-03-02 12:00Z. */
	assert_int_equal(buddy_stats_compute(&c, "UTC", 1731661200, 1740916800, pts, 3, &st), 0);
	assert_int_equal(st.nperiods, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(st.periods[i].start, starts[i]);
		assert_int_equal(st.periods[i].end, starts[i + 1]);
	}
	assert_int_equal(st.counted, 4);
	assert_int_equal(st.met, 3);
	assert_int_equal(st.current_streak, 3);
	assert_int_equal(st.longest_streak, 3);
	buddy_stats_free(&st);
}

static void test_cadence_stats_by_single_period(void **state)
{
	struct buddy_cadence c = by(2024, 6, 20);
	const struct buddy_checkin_point late[] = {{1718920800 + HOUR, BUDDY_CHECKIN_DONE}};
	const struct buddy_checkin_point on_time[] = {{1718920740, BUDDY_CHECKIN_DONE}};
	struct buddy_stats st;

	(void)state;
	/* Created 2024-06-10 15:00 CEST; now a week after the deadline. */
	assert_int_equal(buddy_stats_compute(&c, "Europe/Berlin", 1718024400, 1718920800 + 7 * DAY,
					     late, 1, &st),
			 0);
	assert_int_equal(st.nperiods, 1);
	assert_int_equal(st.periods[0].start, 1717970400);
	assert_int_equal(st.periods[0].end, 1718920800);
	assert_false(st.periods[0].met);
	assert_int_equal(st.counted, 1);
	assert_int_equal(st.met, 0);
	buddy_stats_free(&st);

	assert_int_equal(buddy_stats_compute(&c, "Europe/Berlin", 1718024400, 1718920800 + 7 * DAY,
					     on_time, 1, &st),
			 0);
	assert_true(st.periods[0].met);
	assert_int_equal(st.counted, 1);
	assert_true(st.rate == 1.0);
	assert_int_equal(st.current_streak, 1);
	buddy_stats_free(&st);

	/* Before the deadline and not yet done: in progress, nothing counted. */
	assert_int_equal(
		buddy_stats_compute(&c, "Europe/Berlin", 1718024400, 1718500000, NULL, 0, &st), 0);
	assert_true(st.periods[0].current);
	assert_int_equal(st.counted, 0);
	buddy_stats_free(&st);
}

static void test_cadence_stats_too_many_periods_refused(void **state)
{
	/* 2570-01-01 00:00Z: 600 years after the epoch. */
	const int64_t y2570 = 18934214400;
	struct buddy_cadence c = monthly(1);
	struct buddy_stats st;

	(void)state;
	/* 8,000 years of days is refused before any work; 600 years of days after 200,000. */
	assert_int_equal(buddy_stats_compute(&daily, "UTC", 0, 253402300799, NULL, 0, &st),
			 BUDDY_E_TOOBIG);
	assert_null(st.periods);
	assert_int_equal(buddy_stats_compute(&daily, "UTC", 0, y2570, NULL, 0, &st),
			 BUDDY_E_TOOBIG);
	assert_null(st.periods);
	/* The limit is exact: days 0..199,999 are fine, one more is not. */
	assert_int_equal(buddy_stats_compute(&daily, "UTC", 0, 200000LL * DAY, NULL, 0, &st),
			 BUDDY_E_TOOBIG);
	assert_int_equal(buddy_stats_compute(&daily, "UTC", 0, 200000LL * DAY - 1, NULL, 0, &st),
			 0);
	assert_int_equal(st.nperiods, 200000);
	buddy_stats_free(&st);
	/* 600 years of months are only 7,200 periods. */
	assert_int_equal(buddy_stats_compute(&c, "UTC", 0, y2570 - 1, NULL, 0, &st), 0);
	assert_int_equal(st.nperiods, 600 * 12);
	assert_int_equal(st.periods[7199].end, y2570);
	buddy_stats_free(&st);
}

static void test_cadence_stats_ten_years_daily(void **state)
{
	/* 2014-01-01 to 2024-01-01 in Berlin, 10,000 check-ins in reverse order, one every 8.8 h,
	 * every fourth of them done: some days have none done. */
	const int64_t created = 1388534400, now = 1704067200;
	struct buddy_checkin_point *pts = calloc(10000, sizeof(*pts));
	struct buddy_stats st;
	uint64_t done = 0, partial = 0;

	(void)state;
	assert_non_null(pts);
	for (size_t i = 0; i < 10000; i++) {
		pts[i].time = now - 1 - (int64_t)i * ((now - created) / 10000);
		pts[i].status = i % 4 ? BUDDY_CHECKIN_PARTIAL : BUDDY_CHECKIN_DONE;
	}
	assert_int_equal(
		buddy_stats_compute(&daily, "Europe/Berlin", created, now, pts, 10000, &st), 0);
	assert_int_equal(st.nperiods, 3652 + 1);
	for (size_t i = 0; i < st.nperiods; i++) {
		done += st.periods[i].done;
		partial += st.periods[i].partial;
		if (i)
			assert_int_equal(st.periods[i].start, st.periods[i - 1].end);
	}
	assert_int_equal(done, 2500);
	assert_int_equal(partial, 7500);
	assert_true(st.met > 0 && st.met < st.counted);
	buddy_stats_free(&st);
	free(pts);
}

static void test_cadence_stats_bad_input_refused(void **state)
{
	struct buddy_cadence c = by(2024, 6, 9);
	struct buddy_stats st;

	(void)state;
	assert_int_equal(buddy_stats_compute(&daily, "UTC", 0, 0, NULL, 3, &st), BUDDY_E_INVALID);
	assert_int_equal(buddy_stats_compute(&daily, "Mars/Olympus", 0, 0, NULL, 0, &st),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_stats_compute(&daily, "UTC", -5, 0, NULL, 0, &st), BUDDY_E_INVALID);
	assert_int_equal(buddy_stats_compute(&c, "UTC", 1718024400, 1718024400, NULL, 0, &st),
			 BUDDY_E_INVALID);
	assert_null(st.periods);
	assert_int_equal(buddy_stats_compute(&daily, "UTC", 0, 0, NULL, 0, NULL), BUDDY_E_INVALID);
	buddy_stats_free(NULL);
}

/* ---- the process environment ---- */

static void call_everything(void)
{
	struct buddy_cadence bad_by = by(2024, 6, 9);
	int64_t start, end;
	struct buddy_stats st;

	assert_int_equal(buddy_tz_valid("Europe/Berlin"), 0);
	assert_int_equal(
		buddy_cadence_period(&daily, "America/New_York", 0, 1710086400, &start, &end), 0);
	assert_int_equal(
		buddy_stats_compute(&daily, "Europe/Berlin", 1388534400, 1704067200, NULL, 0, &st),
		0);
	buddy_stats_free(&st);
	/* Failing after TZ was switched must restore it too. */
	assert_int_equal(
		buddy_cadence_period(&bad_by, "Europe/Berlin", 1718024400, 0, &start, &end),
		BUDDY_E_INVALID);
	assert_int_equal(buddy_stats_compute(&daily, "UTC", 0, 253402300799, NULL, 0, &st),
			 BUDDY_E_TOOBIG);
}

static void test_cadence_tz_env_restored_when_set(void **state)
{
	time_t t = 1718454896;
	struct tm tm;

	(void)state;
	assert_int_equal(setenv("TZ", "Asia/Tokyo", 1), 0);
	tzset();
	call_everything();
	assert_non_null(getenv("TZ"));
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	assert_non_null(localtime_r(&t, &tm));
	assert_int_equal(tm.tm_gmtoff, 9 * HOUR);

	/* An empty TZ (UTC in glibc) is a value of its own. */
	assert_int_equal(setenv("TZ", "", 1), 0);
	call_everything();
	assert_non_null(getenv("TZ"));
	assert_string_equal(getenv("TZ"), "");
	assert_int_equal(unsetenv("TZ"), 0);
	tzset();
}

static void test_cadence_tz_env_restored_when_unset(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("TZ"), 0);
	tzset();
	call_everything();
	assert_null(getenv("TZ"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cadence_date_parse_valid),
		cmocka_unit_test(test_cadence_date_parse_feb29_leap_only),
		cmocka_unit_test(test_cadence_date_parse_bad_format_refused),
		cmocka_unit_test(test_cadence_tz_valid_known_zones),
		cmocka_unit_test(test_cadence_tz_valid_unknown_or_path_refused),
		cmocka_unit_test(test_cadence_tz_valid_follows_tzdir),
		cmocka_unit_test(test_cadence_valid_checks_kind_n_and_date),
		cmocka_unit_test(test_cadence_period_daily_utc),
		cmocka_unit_test(test_cadence_period_daily_berlin_dst),
		cmocka_unit_test(test_cadence_period_daily_new_york_dst),
		cmocka_unit_test(test_cadence_period_weekly_starts_monday_local),
		cmocka_unit_test(test_cadence_period_monthly_december_and_february),
		cmocka_unit_test(test_cadence_period_by_runs_from_created_day_to_by_day),
		cmocka_unit_test(test_cadence_period_midnightless_dst_day),
		cmocka_unit_test(test_cadence_period_skipped_day),
		cmocka_unit_test(test_cadence_period_bad_input_refused),
		cmocka_unit_test(test_cadence_stats_daily_periods_and_rate),
		cmocka_unit_test(test_cadence_stats_current_met_counts),
		cmocka_unit_test(test_cadence_stats_streak_broken_by_missed_past_period),
		cmocka_unit_test(test_cadence_stats_weekly3_needs_three_done),
		cmocka_unit_test(test_cadence_stats_partial_and_skip_are_not_done),
		cmocka_unit_test(test_cadence_stats_points_outside_ignored),
		cmocka_unit_test(test_cadence_stats_now_before_created_one_period),
		cmocka_unit_test(test_cadence_stats_monthly_across_new_year),
		cmocka_unit_test(test_cadence_stats_by_single_period),
		cmocka_unit_test(test_cadence_stats_too_many_periods_refused),
		cmocka_unit_test(test_cadence_stats_ten_years_daily),
		cmocka_unit_test(test_cadence_stats_bad_input_refused),
		cmocka_unit_test(test_cadence_tz_env_restored_when_set),
		cmocka_unit_test(test_cadence_tz_env_restored_when_unset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
