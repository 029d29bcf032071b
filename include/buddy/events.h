/* The daemon's one event model (DESIGN.md section 7, issue 5): what happened that a person may
 * want to hear of, numbered 1, 2, 3 ... in the order it happened, with an unread flag.
 *
 * Most events are what other records already say, so they are derived while the journal is
 * applied, at replay as live: a buddy's check-in, note, cheer or comment, retraction or
 * commitment (incoming posts, through buddy_events_post), a delivery confirmed (type 33), a
 * pairing (type 20), an alert (type 35). The rest are records of their own, type 40 (a miss, a
 * late check-in, a reminder, a buddy's pause). Read marks are type 41. Online/offline are live
 * only: they reach watchers and hooks, never the inbox. Knows nothing of sockets or processes:
 * the daemon registers a callback for events that happen while it runs (not at replay). */
#ifndef BUDDY_EVENTS_H
#define BUDDY_EVENTS_H

#include "buddy/limits.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_REC_EVENT 40 /* {k: kind, b: pk, c: commit, ps: int, pe: int, e: uint} */
#define BUDDY_REC_READ	41 /* {ids: [uint, ...]} or {all: uint}: marked read */

#define BUDDY_EVENT_READ_IDS_MAX 1000 /* ids in one read record */

enum buddy_event_kind {
	BUDDY_EV_CHECKIN = 1, /* a buddy's check-in arrived */
	BUDDY_EV_NOTE,	      /* a buddy's note arrived */
	BUDDY_EV_CHEER,	      /* a buddy cheered one of my entries */
	BUDDY_EV_COMMENT,     /* a buddy commented on one of my entries */
	BUDDY_EV_RETRACTION,  /* a buddy retracted an entry */
	BUDDY_EV_COMMITMENT,  /* a buddy shared, changed or stopped sharing a commitment */
	BUDDY_EV_MISSED,      /* a buddy's period ended (plus grace) unmet (type 40) */
	BUDDY_EV_LATE,	      /* a check-in arrived for a period already missed (type 40) */
	BUDDY_EV_REMINDER,    /* my period ends soon and is not met (type 40) */
	BUDDY_EV_PAUSE,	      /* a buddy paused a commitment (type 40) */
	BUDDY_EV_DELIVERED,   /* a buddy's daemon acknowledged my posts (type 33) */
	BUDDY_EV_PAIRED,      /* a new buddy (type 20) */
	BUDDY_EV_ALERT,	      /* something a buddy sent was refused (type 35) */
	BUDDY_EV_ONLINE,      /* live only */
	BUDDY_EV_OFFLINE,     /* live only */
	BUDDY_EV_COUNT_
};

struct buddy_event {
	uint64_t id; /* 1, 2, 3 ...; 0 for live-only events */
	enum buddy_event_kind kind;
	int64_t time;	/* when it happened (the record's written time) */
	uint8_t pk[32]; /* the buddy it is about; zero for my reminders */
	bool has_pk;
	char commit[BUDDY_ID_MAX + 1]; /* "" when none */
	uint64_t entry;		       /* the buddy's entry id (received), mine (reactions) */
	uint64_t seq;		       /* the post (received events), the seq (delivered, alert) */
	int64_t period_start, period_end; /* missed, late, reminder, pause (pause: from, until) */
	char alert[16];			  /* alert kind */
	bool read;
};

struct buddy_events;

/* Called for every event that happens while live (buddy_events_set_live), after it is added. */
typedef void (*buddy_event_cb)(void *arg, const struct buddy_event *ev);

struct buddy_events *buddy_events_new(void);
void buddy_events_free(struct buddy_events *v);

/* From the end of a replay on: new events go to cb (NULL: none). */
void buddy_events_set_live(struct buddy_events *v, buddy_event_cb cb, void *arg);

/* Feeding, by the journal, in log order. buddy_events_post has streams.h's post-callback
 * signature (incoming posts make events; outgoing ones do not). buddy_events_record is given
 * every record of types 20, 33, 35, 40 and 41 after it applied; it returns BUDDY_E_CORRUPT
 * for a malformed type 40 or 41 (they are events.c's own) and 0 otherwise. */
void buddy_events_post(void *v, bool outgoing, const uint8_t pk[32], uint64_t seq, int64_t written,
		       const uint8_t *post, size_t len);
int buddy_events_record(struct buddy_events *v, uint64_t type, int64_t written,
			const msgpack_object *body);

/* Live-only events (online/offline): straight to the callback, never stored. */
void buddy_events_live(struct buddy_events *v, enum buddy_event_kind kind, const uint8_t pk[32],
		       int64_t now);

/* Reading. Events are kept packed (one per post a buddy sends) and filled in for the reader:
 * buddy_events_at(v, i) (the event of id i + 1, or NULL) returns one struct that its next call
 * on v overwrites; copy what must outlive it. The callback's event is valid during the call. */
size_t buddy_events_count(const struct buddy_events *v);
const struct buddy_event *buddy_events_at(const struct buddy_events *v, size_t i);
size_t buddy_events_unread(const struct buddy_events *v);
/* How many events of one kind there are (cheap: kept as events are added). */
size_t buddy_events_kind_count(const struct buddy_events *v, enum buddy_event_kind kind);

/* Whether a type-40 event of this kind about (pk or none, commit, period_start) exists: the
 * deadline engine records each miss, late and reminder once. */
bool buddy_events_has(const struct buddy_events *v, enum buddy_event_kind kind, const uint8_t *pk,
		      const char *commit, int64_t period_start);

/* Record makers: append one record [type, now, body] to out. */
int buddy_events_make(msgpack_sbuffer *out, int64_t now, enum buddy_event_kind kind,
		      const uint8_t *pk, const char *commit, int64_t period_start,
		      int64_t period_end, uint64_t entry);
int buddy_events_make_read(msgpack_sbuffer *out, int64_t now, const uint64_t *ids, size_t n);
int buddy_events_make_read_all(msgpack_sbuffer *out, int64_t now, uint64_t upto);

/* Names ("checkin", "missed", ...) both ways; 0 for an unknown name. */
const char *buddy_event_kind_name(enum buddy_event_kind k);
enum buddy_event_kind buddy_event_kind_parse(const char *s, size_t len);

#endif
