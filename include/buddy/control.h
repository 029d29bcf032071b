/* The control socket server: MessagePack-RPC over a Unix stream socket in the home (0600, peer
 * uid checked with SO_PEERCRED), one request at a time per connection, every request framed and
 * size-checked before it is decoded. Methods live in ctl_*.c and are listed in control.c's
 * table; proto/CONTROL.md is their specification. */
#ifndef BUDDY_CONTROL_H
#define BUDDY_CONTROL_H

#include "buddy/daemon.h"

#include <msgpack.h>
#include <stdarg.h>

struct buddy_control;
struct ctl_req;

/* Binds and listens at d->home.sock (a stale socket file is replaced: the caller holds the
 * home's lock, so no live daemon owns it). */
int buddy_control_start(struct buddyd *d, struct buddy_control **out);

/* Closes the listener and every connection; memory is freed in the close callbacks. */
void buddy_control_stop(struct buddy_control *c);

/* For handlers. A handler must answer exactly once, now or later, with ctl_result_* or
 * ctl_error. params is only valid during the handler call: copy what outlives it. */
typedef void (*ctl_handler)(struct buddyd *d, struct ctl_req *r, const msgpack_object *params);

/* Returns the packer for the result; pack exactly one object, then call ctl_result_send. */
msgpack_packer *ctl_result(struct ctl_req *r);
void ctl_result_send(struct ctl_req *r);
/* An empty map result. */
void ctl_ok(struct ctl_req *r);
/* err is a negative buddy_err; the message is one sentence for a person. */
void ctl_error(struct ctl_req *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* How many clients called `watch` and are still connected. */
size_t buddy_control_watchers(const struct buddy_control *c);

/* Pushes a MessagePack-RPC notification [2, method, params] (params: one packed object) to
 * every client that called `watch`; a watcher with more than BUDDY_CONTROL_WATCH_HWM bytes
 * unread is dropped instead. */
void buddy_control_notify(struct buddy_control *c, const char *method, const uint8_t *params,
			  size_t len);

/* The journal has left the unlocking or reloading state (open, or locked after a failure):
 * requests parked while it was opening run now, from the loop. */
void buddy_control_journal_settled(struct buddy_control *c);

/* The standard answer for a journal that is not open (locked, unlocking, reloading). */
void ctl_error_not_open(struct buddyd *d, struct ctl_req *r);

/* An adapter: a buddyd_done_cb that answers r with {} or the error. */
void ctl_done_cb(struct buddyd *d, void *arg, int status, const char *detail);

#endif
