/* Durable appends for the daemon: records staged on the loop thread are sealed, written and
 * fdatasync'd on the libuv threadpool, as many as have queued up per sync (group commit). Each
 * caller's callback runs on the loop thread once its record is durable, or has failed. The
 * loop never waits on the disk. */
#ifndef BUDDY_APPENDER_H
#define BUDDY_APPENDER_H

#include "buddy/store.h"

#include <stdbool.h>
#include <uv.h>

typedef void (*buddy_append_cb)(void *arg, int status);

/* Called on the loop thread when a write failed, after every queued record was dropped and
 * before any append callback runs (so the owner can refuse new work first): the owner must
 * rebuild whatever it applied optimistically. It must not free the appender. */
typedef void (*buddy_append_fail_cb)(void *owner, int status);

struct buddy_appender;

struct buddy_appender *buddy_appender_new(uv_loop_t *loop, struct buddy_store *store,
					  buddy_append_fail_cb on_fail, void *owner);

/* Stages one record (copied); cb(arg, 0) once durable, cb(arg, err) if it failed. */
int buddy_appender_append(struct buddy_appender *a, const uint8_t *rec, size_t len,
			  buddy_append_cb cb, void *arg);

/* While held, appends are staged but not written: everything appended between hold and
 * release goes to disk in one batch, all or nothing (a failed batch stores none of it). */
void buddy_appender_hold(struct buddy_appender *a);
void buddy_appender_release(struct buddy_appender *a);

/* Holds appends (as buddy_appender_hold) and runs cb(arg) on the loop thread once no batch is
 * being written: at once when none is, else when the write in flight ends (also when it
 * failed: the owner's failure hook has run by then). From then until buddy_appender_release the
 * store's files hold exactly its durable records, so they can be copied as they are (a
 * backup). One waiter at a time: BUDDY_E_BUSY. cb must not free the appender. */
int buddy_appender_quiesce(struct buddy_appender *a, void (*cb)(void *), void *arg);

/* Fails every queued append now (as a failed write would: owner hook, then callbacks), for a
 * caller that cannot finish what it staged while holding. Not from inside a callback. */
void buddy_appender_fail(struct buddy_appender *a, int status);

/* Nothing staged and nothing being written. */
bool buddy_appender_idle(const struct buddy_appender *a);

/* Runs cb(arg) on the loop thread as soon as the appender is idle (at once if it is). One
 * waiter at a time; BUDDY_E_BUSY otherwise. cb may free the appender: the appender touches
 * nothing of itself after calling it. */
int buddy_appender_when_idle(struct buddy_appender *a, void (*cb)(void *), void *arg);

/* Frees an idle appender; the store is the caller's. NULL is fine. */
void buddy_appender_free(struct buddy_appender *a);

#endif
