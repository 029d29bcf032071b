/* The commitment journal in memory: commitments and entries, rebuilt from the store's records
 * at unlock and changed only by applying records, so that replay and live changes share one
 * path. A change is two steps: buddy_journal_make_* checks it against the current state and
 * encodes it as a record (format in proto/STORE.md); buddy_journal_apply applies a record.
 * Knows nothing of files, sockets or keys. Entry text is wiped when freed. */
#ifndef BUDDY_JOURNAL_H
#define BUDDY_JOURNAL_H

#include "buddy/cadence.h"
#include "buddy/limits.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum buddy_entry_kind { BUDDY_ENTRY_CHECKIN = 1, BUDDY_ENTRY_NOTE = 2 };

struct buddy_commitment {
	char id[BUDDY_ID_MAX + 1];
	char *title;
	struct buddy_cadence cadence;
	char tz[BUDDY_TZ_MAX + 1];
	int64_t created;
	int64_t archived; /* when it was archived; 0 while active */
	uint32_t checkins;
};

struct buddy_entry {
	uint64_t id;	     /* 1, 2, 3... in the order written */
	int64_t time;	     /* what the entry is about (an import keeps its original time) */
	int64_t written;     /* when it was recorded */
	uint64_t import_key; /* 0, or a digest of an imported entry (re-imports are skipped) */
	double value;
	uint32_t commit; /* index into the commitments + 1; 0 for none */
	uint8_t kind, status, starred, has_value, ntags;
	char unit[BUDDY_UNIT_MAX + 1];
	char *text;  /* never NULL; may be "" */
	char **tags; /* ntags strings */
};

struct buddy_journal;

struct buddy_journal *buddy_journal_new(void);
void buddy_journal_free(struct buddy_journal *j);

/* Applies one record. BUDDY_E_CORRUPT when it is malformed or contradicts the state (a
 * duplicate id, an unknown commitment), BUDDY_E_VERSION for a record type from a newer buddy. */
int buddy_journal_apply(struct buddy_journal *j, const uint8_t *rec, size_t len);

size_t buddy_journal_ncommits(const struct buddy_journal *j);
const struct buddy_commitment *buddy_journal_commit_at(const struct buddy_journal *j, size_t i);
/* NULL when there is no commitment with that id; *index (may be NULL) gets its index. */
const struct buddy_commitment *buddy_journal_commit_find(const struct buddy_journal *j,
							 const char *id, size_t *index);

size_t buddy_journal_nentries(const struct buddy_journal *j);
/* Entries in id order. */
const struct buddy_entry *buddy_journal_entry_at(const struct buddy_journal *j, size_t i);
/* Entries in time order (ties by id): order[i] is an index for buddy_journal_entry_at. */
const uint32_t *buddy_journal_time_order(const struct buddy_journal *j);
/* The buddies and invites recorded in the same journal (buddy/buddies.h), the share streams
 * (buddy/streams.h) and what their posts say (buddy/seen.h). */
struct buddy_buddies *buddy_journal_buddies(const struct buddy_journal *j);
struct buddy_streams *buddy_journal_streams(const struct buddy_journal *j);
struct buddy_seen *buddy_journal_seen(const struct buddy_journal *j);
/* The events (buddy/events.h): what happened, read or unread. */
struct buddy_events *buddy_journal_events(const struct buddy_journal *j);
/* The pauses (buddy/pauses.h): mine (type 42) and my buddies' (their pause posts). */
struct buddy_pauses *buddy_journal_pauses(const struct buddy_journal *j);

/* Records applied. */
uint64_t buddy_journal_nrecords(const struct buddy_journal *j);

struct buddy_commit_spec {
	const char *id;
	const char *title;
	struct buddy_cadence cadence;
	const char *tz;
};

struct buddy_entry_spec {
	enum buddy_entry_kind kind;
	const char *commit;		  /* NULL for a note on no commitment */
	enum buddy_checkin_status status; /* check-ins only */
	const char *text;		  /* may be NULL or "" for check-ins */
	size_t text_len;
	bool has_value;
	double value;
	const char *unit; /* NULL or "" for none */
	const char *const *tags;
	size_t ntags;
	bool starred;
	int64_t time;  /* 0: now */
	bool imported; /* dedupe by content: an identical imported entry is BUDDY_E_EXISTS */
};

/* The makers check a change against the current state (BUDDY_E_INVALID with a reason in why,
 * BUDDY_E_EXISTS, BUDDY_E_NOTFOUND, BUDDY_E_STATE for an archived commitment) and append the
 * encoded record to out. Nothing changes until the record is applied. */
int buddy_journal_make_commit_add(const struct buddy_journal *j,
				  const struct buddy_commit_spec *spec, int64_t now,
				  msgpack_sbuffer *out, const char **why);
int buddy_journal_make_commit_archive(const struct buddy_journal *j, const char *id, int64_t now,
				      msgpack_sbuffer *out, const char **why);
int buddy_journal_make_entry(const struct buddy_journal *j, const struct buddy_entry_spec *spec,
			     int64_t now, msgpack_sbuffer *out, uint64_t *id, const char **why);

/* Status names ("done", "partial", "skip") and kind names, both ways. */
const char *buddy_checkin_status_name(int status);
int buddy_checkin_status_parse(const char *s, size_t len);
const char *buddy_cadence_kind_name(int kind);
int buddy_cadence_kind_parse(const char *s, size_t len);

#endif
