/* Hooks (issue 5): for each live event, the program the configuration names for its kind, run
 * with uv_spawn (argv, never a shell), the event in environment variables, a time limit
 * (SIGTERM, then SIGKILL 2 s later), at most one running per kind (later events of that kind
 * wait in a bounded queue; past it they are dropped with a log line), stdout and stderr to the
 * daemon's log line by line. A program that cannot be started is one log line, until it
 * starts again (a buddy's every post must not become a line). Environment:
 * BUDDY_EVENT (kind name), BUDDY_EVENT_ID, BUDDY_TIME (Unix seconds), BUDDY_FROM (buddy name),
 * BUDDY_FROM_KEY (hex), BUDDY_COMMIT, BUDDY_ENTRY, BUDDY_STATUS, BUDDY_TEXT (check-in or note
 * text, cheer or comment), BUDDY_PERIOD_START, BUDDY_PERIOD_END, BUDDY_ALERT, plus PATH, HOME,
 * LANG and DISPLAY/WAYLAND_DISPLAY/DBUS_SESSION_BUS_ADDRESS/XDG_RUNTIME_DIR from buddyd's own
 * environment (so notify-send works); nothing else is passed. */
#ifndef BUDDY_HOOKS_H
#define BUDDY_HOOKS_H

#include "buddy/config.h"
#include "buddy/events.h"

#include <uv.h>

#define BUDDY_HOOK_QUEUE_MAX 64 /* events waiting per kind */

struct buddy_hooks;

/* The values of an event's environment that only the daemon knows (names, text). */
struct buddy_hook_event {
	const struct buddy_event *ev;
	const char *from;   /* buddy name or NULL */
	const char *status; /* or NULL */
	const char *text;   /* or NULL */
};

struct buddy_hooks *buddy_hooks_new(uv_loop_t *loop, const struct buddy_config *cfg);
/* Queues or starts the hook of ev's kind (copies what it needs). No hook configured: nothing. */
void buddy_hooks_run(struct buddy_hooks *h, const struct buddy_hook_event *e);
/* Takes the programs and time limit of cfg (a reload): new runs use them; a run in progress
 * keeps its program and time limit. Jobs waiting for a kind that has no hook now are dropped.
 * On failure (memory) the old ones stay and BUDDY_E_NOMEM is returned. */
int buddy_hooks_reconfigure(struct buddy_hooks *h, const struct buddy_config *cfg);
/* Kills running hooks, drops queued ones; memory goes in the close callbacks. */
void buddy_hooks_stop(struct buddy_hooks *h);

#endif
