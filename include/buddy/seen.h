/* What the share streams mean (proto/PROTOCOL.md section 15.3), both ways:
 * - incoming: each buddy's view as they shared it with me: their commitments (newest state
 *   wins), their check-ins and notes (by their entry id), retractions (content wiped, the fact
 *   and time kept), and their reactions to my entries;
 * - outgoing: which of my entries went to which buddy in which post (so delivery can be shown
 *   per entry), which I retracted from whom, and my reactions to a buddy's entries.
 * Fed by streams.c's post callback, in log order, with posts already part of a verified chain;
 * bodies are read with post.h's strict readers and a post whose body does not read is counted
 * and otherwise ignored (it stays in the chain). Knows nothing of files or sockets. Text is
 * wiped when freed or retracted. */
#ifndef BUDDY_SEEN_H
#define BUDDY_SEEN_H

#include "buddy/cadence.h"
#include "buddy/limits.h"
#include "buddy/post.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buddy_seen_commitment {
	char id[BUDDY_ID_MAX + 1];
	char *title;
	struct buddy_cadence cadence;
	char tz[BUDDY_TZ_MAX + 1];
	int64_t created, archived;
	bool on;	 /* still shared with me */
	int64_t since;	 /* shared with me without a break since this time (replayed, so it
			    survives restarts) */
	int64_t updated; /* time of the newest commitment post about it */
	int64_t first;	 /* time of the first commitment post about it (shared with me since) */
};

struct buddy_seen_entry {
	uint64_t e;   /* the buddy's entry id */
	uint64_t seq; /* the post that brought it */
	int64_t at;   /* what it is about */
	int64_t posted;
	enum buddy_post_type kind;	  /* BUDDY_POST_CHECKIN or BUDDY_POST_NOTE */
	enum buddy_checkin_status status; /* check-ins */
	char commit[BUDDY_ID_MAX + 1];	  /* "" for none */
	char *text;			  /* "" once retracted */
	bool has_value;
	double value;
	char unit[BUDDY_UNIT_MAX + 1];
	size_t ntags;
	char **tags;
	int64_t retracted; /* 0, or the retraction's time */
};

struct buddy_seen_reaction {
	uint8_t pk[32]; /* who reacted (incoming) or to whom (outgoing) */
	uint64_t e;	/* the entry reacted to: mine (incoming) or the buddy's (outgoing) */
	uint64_t seq;	/* the post that carried it */
	enum buddy_reaction_kind kind;
	char *text;
	int64_t time;
};

/* One of my entries as it went to one buddy. */
struct buddy_seen_share {
	uint8_t pk[32];
	uint64_t seq;	   /* the post in my stream to pk */
	int64_t retracted; /* 0, or when I retracted it from pk */
};

struct buddy_seen;

struct buddy_seen *buddy_seen_new(void);
void buddy_seen_free(struct buddy_seen *v);

/* The buddy_streams_post_cb: interprets one post (see streams.h). */
void buddy_seen_post(void *v, bool outgoing, const uint8_t pk[32], uint64_t seq, int64_t written,
		     const uint8_t *post, size_t len);

/* Posts that did not read (unknown type or a body breaking the rules), from buddy pk. */
uint64_t buddy_seen_unreadable(const struct buddy_seen *v, const uint8_t pk[32]);

/* Incoming: buddy pk's commitments (in the order first announced) and entries (in stream
 * order). Entries of one commitment: iterate and filter. Entries are kept packed (a buddy can
 * share 150,000 of them) and filled in for the reader: the entry that buddy_seen_entry_at and
 * buddy_seen_entry_find return is one struct that the next call of either (or the next post)
 * overwrites; copy what must outlive it. */
size_t buddy_seen_ncommits(const struct buddy_seen *v, const uint8_t pk[32]);
const struct buddy_seen_commitment *buddy_seen_commit_at(const struct buddy_seen *v,
							 const uint8_t pk[32], size_t i);
size_t buddy_seen_nentries(const struct buddy_seen *v, const uint8_t pk[32]);
const struct buddy_seen_entry *buddy_seen_entry_at(const struct buddy_seen *v, const uint8_t pk[32],
						   size_t i);
/* Buddy pk's entry by their entry id, or NULL. Valid as long as buddy_seen_entry_at's. */
const struct buddy_seen_entry *buddy_seen_entry_find(const struct buddy_seen *v,
						     const uint8_t pk[32], uint64_t e);

/* Reactions to my entry e from any buddy (incoming), and mine to buddy pk's entry e
 * (outgoing), oldest first: *n gets the count; the array stays valid until the next post. */
const struct buddy_seen_reaction *buddy_seen_reactions_to_mine(const struct buddy_seen *v,
							       uint64_t e, size_t *n);
const struct buddy_seen_reaction *buddy_seen_reactions_to_theirs(const struct buddy_seen *v,
								 const uint8_t pk[32], uint64_t e,
								 size_t *n);

/* Outgoing: where my entry e went (one per buddy it was posted to), oldest first. */
const struct buddy_seen_share *buddy_seen_shares_of(const struct buddy_seen *v, uint64_t e,
						    size_t *n);

#endif
