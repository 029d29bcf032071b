/* The daemon's one source of wall-clock time. With BUDDY_TEST_CLOCK=<unix seconds> in the
 * environment at start, time is frozen there and moves only by buddy_clock_advance (the control
 * method debug.clock_advance), so tests cross days and DST changes without sleeping. */
#ifndef BUDDY_CLOCK_H
#define BUDDY_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Reads BUDDY_TEST_CLOCK once. BUDDY_E_INVALID when it is set but not a number. */
int buddy_clock_init(void);

/* Seconds since the Unix epoch. */
int64_t buddy_clock_now(void);

/* Milliseconds of a monotonic clock, for waits and limits; frozen with the test clock too. */
uint64_t buddy_clock_mono_ms(void);

bool buddy_clock_is_test(void);

/* Moves the test clock forward; BUDDY_E_STATE on the real clock, BUDDY_E_INVALID if negative. */
int buddy_clock_advance(int64_t seconds);

#endif
