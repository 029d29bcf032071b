/* The control methods' table (specified in proto/CONTROL.md). Each handler lives in the
 * ctl_*.c file of its area; control.c looks names up here. */
#ifndef BUDDY_CTL_METHODS_H
#define BUDDY_CTL_METHODS_H

#include "buddy/control.h"

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

/* Shared by the ctl_*.c files: pack one commitment / entry as a result map. */
void ctl_pack_commitment(msgpack_packer *pk, const struct buddy_commitment *c);
void ctl_pack_entry(msgpack_packer *pk, const struct buddy_journal *j, const struct buddy_entry *e);
/* Appends a record built by a journal maker and answers r when it is durable: with
 * {"id": id} when id != 0, else {}. */
void ctl_append_and_reply(struct buddyd *d, struct ctl_req *r, msgpack_sbuffer *rec, uint64_t id);

#endif
