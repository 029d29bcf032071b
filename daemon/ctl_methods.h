/* The control methods' table (specified in proto/CONTROL.md). Each handler lives in the
 * ctl_*.c file of its area; control.c looks names up here. */
#ifndef BUDDY_CTL_METHODS_H
#define BUDDY_CTL_METHODS_H

#include "buddy/control.h"
#include "buddy/post.h"

#include <stdbool.h>

struct ctl_method {
	const char *name;
	ctl_handler fn;
	bool needs_open; /* refused unless the journal is unlocked */
};

extern const struct ctl_method ctl_methods[];

/* ctl_keys.c */
void ctl_status(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_unlock(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_lock(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_passwd(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_clock_advance(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* ctl_commit.c */
void ctl_commit_add(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_commit_list(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_commit_show(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_commit_archive(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_stats(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* ctl_entry.c */
void ctl_checkin(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_log(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_journal(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_import(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* ctl_buddies.c */
void ctl_invite(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_accept(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_buddies(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_verify(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_rename(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_revoke(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_buddies_wait(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* ctl_inbox.c: an event as `inbox` and `watch` show it, and its words (for hooks). */
struct buddy_event;
void ctl_pack_event(msgpack_packer *pk, struct buddyd *d, const struct buddy_event *ev);
void ctl_event_words(struct buddyd *d, const struct buddy_event *ev, const char **status,
		     const char **text);

/* ctl_config.c */
void ctl_config_reload(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* ctl_backup.c */
void ctl_backup_start(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_backup_read(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_backup_end(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* control.c */
void ctl_watch(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* ctl_share.c */
void ctl_share(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_unshare(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_retract(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_react(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_show(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_received(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_pause(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
/* Packs the pauses of a commitment (who NULL: mine) as [{from, until, reason}], oldest first. */
void ctl_pack_pauses(msgpack_packer *pk, const struct buddy_journal *j, const uint8_t *who,
		     const char *commit);

/* ctl_inbox.c */
void ctl_inbox(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);
void ctl_inbox_read(struct buddyd *d, struct ctl_req *r, const msgpack_object *p);

/* Shared by the ctl_*.c files: pack one commitment / entry as a result map (an entry with
 * where it was shared and the reactions to it), a cadence, statistics, buddy names. */
void ctl_pack_commitment(msgpack_packer *pk, const struct buddy_journal *j,
			 const struct buddy_commitment *c);
void ctl_pack_cadence(msgpack_packer *pk, const struct buddy_cadence *cad);
/* The optional keys of an entry map: commit ("" or NULL: none), status (0: none), value, unit
 * ("" none): one map entry each that is present. */
void ctl_pack_entry_tail(msgpack_packer *pk, const char *commit, int status, bool has_value,
			 double value, const char *unit);
/* A reaction {kind, text, time}, with "buddy" first when j is given. */
struct buddy_seen_reaction;
void ctl_pack_reaction(msgpack_packer *pk, const struct buddy_journal *j,
		       const struct buddy_seen_reaction *re);
int ctl_pack_stats(msgpack_packer *pk, const char *id, const char *title, const char *tz,
		   const struct buddy_cadence *cad, int64_t created, int64_t now,
		   const struct buddy_checkin_point *pts, size_t npts, size_t limit);
void ctl_pack_buddy_names(msgpack_packer *pk, const struct buddy_journal *j,
			  const uint8_t (*pks)[32], size_t n);
void ctl_pack_buddy_name(msgpack_packer *pk, const struct buddy_journal *j, const uint8_t who[32]);
/* Packs the keys sent, delivered, received (3 map entries) of my streams with pk. */
void ctl_pack_stream_counts(msgpack_packer *pk, const struct buddy_journal *j,
			    const uint8_t pk32[32]);
/* The active buddy named by the string o (what: how the request calls it), or NULL after
 * answering r; ctl_named_buddy reads it from params[key]. */
struct buddy_buddy *ctl_buddy_named(struct buddyd *d, struct ctl_req *r, const msgpack_object *o,
				    const char *what);
struct buddy_buddy *ctl_named_buddy(struct buddyd *d, struct ctl_req *r, const msgpack_object *p,
				    const char *key);

/* Buddies one change is posted to (at most one post per record per buddy). */
#define BUDDY_SHARE_TARGETS_MAX 64
struct ctl_targets {
	size_t n;
	uint8_t pk[BUDDY_SHARE_TARGETS_MAX][32];
};
/* The active buddies commitment id is shared with. */
void ctl_targets_of_commit(struct buddyd *d, const char *commit, struct ctl_targets *t);

enum ctl_reply {
	CTL_REPLY_EMPTY,     /* {} */
	CTL_REPLY_ENTRY,     /* {id, shared_with: [names]} */
	CTL_REPLY_RETRACTED, /* {retracted_from: [names]} */
};
/* Appends inner (a record from a maker; NULL for posts alone) together with one post of type
 * and body (a map's bytes) for each target, in one record, tells the sync layer, and answers r
 * once it is durable as `reply` says (id for CTL_REPLY_ENTRY). With no target, inner alone. */
void ctl_append_posts(struct buddyd *d, struct ctl_req *r, const msgpack_sbuffer *inner,
		      enum buddy_post_type type, const msgpack_sbuffer *body,
		      const struct ctl_targets *t, enum ctl_reply reply, uint64_t id);
/* The commitment post body for c as it is now (archived at `archived`, shared or not). */
int ctl_commit_post_body(const struct buddy_commitment *c, int64_t archived, bool on,
			 msgpack_sbuffer *out);
void ctl_pack_entry(msgpack_packer *pk, const struct buddy_journal *j, const struct buddy_entry *e);
/* Answers r for a write that failed (status): nothing was saved, and why. */
void ctl_error_unsaved(struct ctl_req *r, int status);
/* Appends a record built by a journal maker and answers r when it is durable: with
 * {"id": id} when id != 0, else {}. */
void ctl_append_and_reply(struct buddyd *d, struct ctl_req *r, msgpack_sbuffer *rec, uint64_t id);

#endif
