/* The calendar checks that need no time zone (buddy/cadence.h): real dates and well-formed
 * cadences. In proto/ because both the daemon's journal and the post readers (which link no
 * tz code) check the same rules. */
#include "buddy/cadence.h"
#include "buddy/error.h"
#include "buddy/limits.h"

#include <stdbool.h>
#include <string.h>

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static bool date_real(int y, int m, int d)
{
	return y >= 1970 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int buddy_date_parse(const char *s, int *y, int *m, int *d)
{
	int yy, mm, dd;

	if (!s || !y || !m || !d || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return BUDDY_E_INVALID;
	if (!digits(s, 4, &yy) || !digits(s + 5, 2, &mm) || !digits(s + 8, 2, &dd))
		return BUDDY_E_INVALID;
	if (!date_real(yy, mm, dd))
		return BUDDY_E_INVALID;
	*y = yy;
	*m = mm;
	*d = dd;
	return 0;
}

int buddy_cadence_valid(const struct buddy_cadence *c)
{
	if (!c || c->n < 1 || c->n > BUDDY_CADENCE_N_MAX)
		return BUDDY_E_INVALID;
	switch (c->kind) {
	case BUDDY_CADENCE_DAILY:
		return c->n == 1 ? 0 : BUDDY_E_INVALID;
	case BUDDY_CADENCE_WEEKLY:
	case BUDDY_CADENCE_MONTHLY:
		return 0;
	case BUDDY_CADENCE_BY:
		return c->n == 1 && date_real(c->by_year, c->by_month, c->by_day) ? 0
										  : BUDDY_E_INVALID;
	}
	return BUDDY_E_INVALID;
}
