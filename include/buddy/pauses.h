/* Pauses (issue 5): "I am away until DATE", for one commitment, mine or a buddy's. A paused
 * period is neither reminded (mine) nor missed (a buddy's). Mine are records of type 42 (made
 * together with a pause post to the commitment's buddies, proto/PROTOCOL.md 15.3 type 6); a
 * buddy's arrive as those posts. Both are kept here, rebuilt from the journal like the rest.
 * A pause covers [from, the end of its `until` day in the commitment's time zone). */
#ifndef BUDDY_PAUSES_H
#define BUDDY_PAUSES_H

#include "buddy/limits.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_REC_PAUSE	       42   /* {c: commit id, from: int, until: "YYYY-MM-DD", r: str} */
#define BUDDY_PAUSE_REASON_MAX 200  /* bytes of a pause's reason */
#define BUDDY_PAUSES_MAX       1000 /* pauses kept per (buddy or me, commitment) */

struct buddy_pause {
	int64_t from;
	int until_y, until_m, until_d; /* the last paused day, in the commitment's zone */
	char *reason;		       /* "" when none */
};

struct buddy_pauses;

struct buddy_pauses *buddy_pauses_new(void);
void buddy_pauses_free(struct buddy_pauses *p);

/* My pause record (type 42): BUDDY_E_CORRUPT when malformed. */
int buddy_pauses_apply(struct buddy_pauses *p, int64_t written, const msgpack_object *body);
/* streams.h's post callback: a buddy's pause post (type 6) is kept, other posts ignored. */
void buddy_pauses_post(void *p, bool outgoing, const uint8_t pk[32], uint64_t seq, int64_t written,
		       const uint8_t *post, size_t len);

/* Whether time t falls in a pause of commitment `commit` (pk NULL: mine), whose zone is tz. */
bool buddy_pauses_covers(const struct buddy_pauses *p, const uint8_t *pk, const char *commit,
			 const char *tz, int64_t t);
/* Whether the period ending at period_end is excused: a pause covers its last second and was
 * made at least BUDDY_PAUSE_NOTICE_S before that end, so a period cannot be excused once it
 * is all but over (no last-minute excuses). The deadline engine asks this. */
#define BUDDY_PAUSE_NOTICE_S (24 * 3600)
bool buddy_pauses_excuses(const struct buddy_pauses *p, const uint8_t *pk, const char *commit,
			  const char *tz, int64_t period_end);

/* The pauses of one commitment (pk NULL: mine), oldest first; *n gets the count. */
const struct buddy_pause *buddy_pauses_of(const struct buddy_pauses *p, const uint8_t *pk,
					  const char *commit, size_t *n);

/* The type-42 record of a pause that starts at now. */
int buddy_pauses_make(msgpack_sbuffer *out, int64_t now, const char *commit, int until_y,
		      int until_m, int until_d, const char *reason, size_t reason_len);

#endif
