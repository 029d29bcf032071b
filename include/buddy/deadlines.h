/* The accountability engine (DESIGN.md section 7, issue 5): on my side, a reminder before a
 * period of one of my commitments ends unmet; on my buddy's behalf, "missed" when a period of a
 * commitment they shared ended unmet (plus a grace window for delivery), and "late" when a
 * check-in for a missed period arrives after all. Periods follow the author's declared zone
 * (cadence.h), paused periods (pauses.h) are neither reminded nor missed, and each event is
 * recorded once (type 40, events.h), so a restart neither repeats nor forgets one. Runs on the
 * daemon's loop with one timer set to the next moment something can happen; with the test
 * clock, debug.clock_advance calls buddyd_deadlines_tick. */
#ifndef BUDDY_DEADLINES_H
#define BUDDY_DEADLINES_H

#include "buddy/daemon.h"

#define BUDDY_REMIND_LEAD_S (3 * 3600) /* a reminder this long before a period ends */
#define BUDDY_MISS_GRACE_S  (1 * 3600) /* a period is missed this long after it ends */

/* Starts the engine for an unlocked journal (evaluates at once), and stops it (idempotent). */
void buddyd_deadlines_start(struct buddyd *d);
void buddyd_deadlines_stop(struct buddyd *d);

/* Evaluates now and re-arms the timer: after the clock moved (test clock), after a commitment,
 * a check-in or a pause changed what is due. */
void buddyd_deadlines_tick(struct buddyd *d);

/* A buddy's check-in arrived (live): records "late" if its period was already missed. */
void buddyd_deadlines_checkin(struct buddyd *d, const uint8_t pk[32], uint64_t entry);

#endif
