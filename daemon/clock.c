/* Wall-clock time, real or frozen for tests (see buddy/clock.h). */
#include "buddy/clock.h"
#include "buddy/error.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static bool test_mode;
static int64_t test_now;

int buddy_clock_init(void)
{
	const char *s = getenv("BUDDY_TEST_CLOCK");
	char *end;
	long long v;

	test_mode = false;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return BUDDY_E_INVALID;
	test_mode = true;
	test_now = v;
	return 0;
}

int64_t buddy_clock_now(void)
{
	struct timespec ts;

	if (test_mode)
		return test_now;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

uint64_t buddy_clock_mono_ms(void)
{
	struct timespec ts;

	if (test_mode)
		return (uint64_t)test_now * 1000;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool buddy_clock_is_test(void)
{
	return test_mode;
}

int buddy_clock_advance(int64_t seconds)
{
	if (!test_mode)
		return BUDDY_E_STATE;
	if (seconds < 0 || seconds > INT64_MAX - test_now)
		return BUDDY_E_INVALID;
	test_now += seconds;
	return 0;
}
