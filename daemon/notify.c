/* Where a live event goes (issue 5): every `watch` subscriber on the control socket, the hook
 * configured for its kind, and the deadline engine (a buddy's check-in may turn a miss into
 * "late"). Events happen while the journal is applied (events.h); this file only hands them
 * on, so nothing here may change the journal synchronously: the deadline engine's record is
 * appended from a fresh loop turn. */
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/config.h"
#include "buddy/daemon.h"
#include "buddy/deadlines.h"
#include "buddy/events.h"
#include "buddy/hooks.h"
#include "buddy/log.h"
#include "ctl_methods.h"

#include <stdlib.h>
#include <string.h>

/* A buddy's check-in waiting for the deadline engine (the journal is mid-apply when the event
 * is raised). */
struct late_check {
	struct late_check *next;
	uint8_t pk[32];
	uint64_t entry;
};

struct buddyd_notify {
	struct buddyd *d;
	struct buddy_hooks *hooks;
	uv_idle_t idle;
	struct late_check *checks, **tail;
	size_t nchecks;
};

#define LATE_CHECKS_MAX 4096 /* check-ins queued for the engine in one loop turn */

static void on_idle(uv_idle_t *h)
{
	struct buddyd_notify *n = h->data;
	struct late_check *c;

	uv_idle_stop(h);
	/* detached first: the engine's records raise events that may queue new checks */
	c = n->checks;
	n->checks = NULL;
	n->tail = &n->checks;
	n->nchecks = 0;
	while (c) {
		struct late_check *next = c->next;
		if (n->d->state == BUDDYD_UNLOCKED && n->d->notify == n)
			buddyd_deadlines_checkin(n->d, c->pk, c->entry);
		free(c);
		c = next;
	}
}

static void to_watchers(struct buddyd *d, const struct buddy_event *ev)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (!d->control || !buddy_control_watchers(d->control))
		return; /* packing looks things up: not for nobody */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	ctl_pack_event(&pk, d, ev);
	buddy_control_notify(d->control, "event", (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void to_hook(struct buddyd_notify *n, const struct buddy_event *ev)
{
	struct buddy_hook_event he = {.ev = ev};
	struct buddy_buddy *b = NULL;

	if (!n->hooks || !buddy_config_hook(&n->d->config, ev->kind))
		return;
	if (ev->has_pk)
		b = buddy_buddies_by_pk(buddy_journal_buddies(n->d->journal), ev->pk);
	he.from = b && b->name[0] ? b->name : NULL;
	ctl_event_words(n->d, ev, &he.status, &he.text);
	buddy_hooks_run(n->hooks, &he);
}

static void on_event(void *arg, const struct buddy_event *ev)
{
	struct buddyd_notify *n = arg;
	struct late_check *c;

	to_watchers(n->d, ev);
	to_hook(n, ev);
	/* only a buddy with a recorded miss can be late: most check-ins need no look */
	if (ev->kind == BUDDY_EV_CHECKIN && ev->has_pk && n->nchecks < LATE_CHECKS_MAX &&
	    buddy_events_kind_count(buddy_journal_events(n->d->journal), BUDDY_EV_MISSED) &&
	    (c = calloc(1, sizeof(*c)))) {
		memcpy(c->pk, ev->pk, 32);
		c->entry = ev->entry;
		*n->tail = c;
		n->tail = &c->next;
		n->nchecks++;
		uv_idle_start(&n->idle, on_idle);
	}
}

void buddyd_notify_start(struct buddyd *d)
{
	struct buddyd_notify *n;

	/* an unlock that completes while buddyd stops starts nothing new */
	if (d->notify || !d->journal || d->stopping)
		return;
	if (!(n = calloc(1, sizeof(*n)))) {
		log_error("out of memory: events will not be passed on");
		return;
	}
	n->d = d;
	n->tail = &n->checks;
	uv_idle_init(d->loop, &n->idle);
	n->idle.data = n;
	n->hooks = buddy_hooks_new(d->loop, &d->config);
	d->notify = n;
	buddy_events_set_live(buddy_journal_events(d->journal), on_event, n);
}

void buddyd_notify_reconfigure(struct buddyd *d)
{
	if (d->notify && d->notify->hooks && buddy_hooks_reconfigure(d->notify->hooks, &d->config))
		log_error("out of memory: the hooks keep their old programs");
}

static void on_idle_closed(uv_handle_t *h)
{
	free(h->data);
}

void buddyd_notify_stop(struct buddyd *d)
{
	struct buddyd_notify *n = d->notify;
	struct late_check *c;

	if (!n)
		return;
	if (d->journal)
		buddy_events_set_live(buddy_journal_events(d->journal), NULL, NULL);
	while ((c = n->checks)) {
		n->checks = c->next;
		free(c);
	}
	buddy_hooks_stop(n->hooks);
	d->notify = NULL;
	uv_close((uv_handle_t *)&n->idle, on_idle_closed);
}

void buddyd_notify_live(struct buddyd *d, enum buddy_event_kind kind, const uint8_t pk[32])
{
	if (d->notify && d->journal)
		buddy_events_live(buddy_journal_events(d->journal), kind, pk, buddy_clock_now());
}
