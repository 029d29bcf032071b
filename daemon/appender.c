/* Group commit on the libuv threadpool (see buddy/appender.h).
 *
 * At most one write is in flight. While it runs, new appends collect in the store's stage;
 * when it completes, everything staged meanwhile goes out as the next batch, under one
 * fdatasync. That is what makes many concurrent appends cost one sync. */
#include "buddy/appender.h"
#include "buddy/error.h"

#include <stdlib.h>

struct waiter {
	buddy_append_cb cb;
	void *arg;
};

struct waiters {
	struct waiter *v;
	size_t n, cap;
};

struct buddy_appender {
	uv_loop_t *loop;
	struct buddy_store *store;
	buddy_append_fail_cb on_fail;
	void *owner;
	struct waiters staged;	 /* callbacks of records in the store's stage */
	struct waiters inflight; /* callbacks of the batch being written */
	struct buddy_store_batch *batch;
	int status;
	bool busy;
	unsigned held;
	uv_work_t work;
	void (*idle_cb)(void *);
	void *idle_arg;
	void (*quiet_cb)(void *); /* buddy_appender_quiesce: no write in flight */
	void *quiet_arg;
};

static int waiters_push(struct waiters *w, buddy_append_cb cb, void *arg)
{
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct waiter *nv = realloc(w->v, ncap * sizeof(*nv));
		if (!nv)
			return BUDDY_E_NOMEM;
		w->v = nv;
		w->cap = ncap;
	}
	w->v[w->n++] = (struct waiter){cb, arg};
	return 0;
}

/* Callbacks may append again, which grows `staged`: run from a private copy. */
static void waiters_fire(struct waiters *w, int status)
{
	struct waiters fire = *w;

	*w = (struct waiters){0};
	for (size_t i = 0; i < fire.n; i++)
		fire.v[i].cb(fire.v[i].arg, status);
	free(fire.v);
}

struct buddy_appender *buddy_appender_new(uv_loop_t *loop, struct buddy_store *store,
					  buddy_append_fail_cb on_fail, void *owner)
{
	struct buddy_appender *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->loop = loop;
	a->store = store;
	a->on_fail = on_fail;
	a->owner = owner;
	a->work.data = a;
	return a;
}

static void kick(struct buddy_appender *a);

static void write_work(uv_work_t *w)
{
	struct buddy_appender *a = w->data;

	a->status = buddy_store_write(a->store, a->batch);
}

/* Last thing any path does: the waiter may free the appender. */
static void maybe_idle(struct buddy_appender *a)
{
	void (*cb)(void *) = a->idle_cb;

	if (cb && buddy_appender_idle(a)) {
		a->idle_cb = NULL;
		cb(a->idle_arg);
	}
}

/* A write failed, or could not be started: drop everything queued, tell the owner first (so
 * it stops accepting work and rebuilds), then fail every caller. Records staged behind the
 * failed batch were validated against state that included it, so they fail too. */
static void fail_all(struct buddy_appender *a, int status)
{
	struct waiters inflight = a->inflight, staged = a->staged;

	a->inflight = (struct waiters){0};
	a->staged = (struct waiters){0};
	buddy_store_discard_staged(a->store);
	if (a->on_fail)
		a->on_fail(a->owner, status);
	waiters_fire(&inflight, status);
	waiters_fire(&staged, status);
}

static void write_done(uv_work_t *w, int uvstatus)
{
	struct buddy_appender *a = w->data;
	int status = uvstatus ? BUDDY_E_IO : a->status;

	buddy_store_batch_free(a->batch);
	a->batch = NULL;
	a->busy = false;
	if (status)
		fail_all(a, status);
	else {
		waiters_fire(&a->inflight, 0);
		kick(a);
	}
	/* before maybe_idle, whose waiter may free the appender; held, so kick started nothing */
	if (a->quiet_cb && !a->busy) {
		void (*cb)(void *) = a->quiet_cb;

		a->quiet_cb = NULL;
		cb(a->quiet_arg);
	}
	maybe_idle(a);
}

static void kick(struct buddy_appender *a)
{
	if (a->busy || a->held || buddy_store_staged(a->store) == 0)
		return;
	a->batch = buddy_store_take(a->store);
	if (!a->batch) {
		fail_all(a, BUDDY_E_NOMEM);
		return;
	}
	a->inflight = a->staged;
	a->staged = (struct waiters){0};
	a->busy = true;
	if (uv_queue_work(a->loop, &a->work, write_work, write_done)) {
		a->busy = false;
		buddy_store_batch_free(a->batch);
		a->batch = NULL;
		fail_all(a, BUDDY_E_INTERNAL);
	}
}

void buddy_appender_fail(struct buddy_appender *a, int status)
{
	fail_all(a, status);
	maybe_idle(a);
}

void buddy_appender_hold(struct buddy_appender *a)
{
	a->held++;
}

void buddy_appender_release(struct buddy_appender *a)
{
	if (a->held && --a->held == 0)
		kick(a);
}

int buddy_appender_append(struct buddy_appender *a, const uint8_t *rec, size_t len,
			  buddy_append_cb cb, void *arg)
{
	int rc = waiters_push(&a->staged, cb, arg);

	if (rc)
		return rc;
	rc = buddy_store_stage(a->store, rec, len);
	if (rc) {
		a->staged.n--;
		return rc;
	}
	kick(a);
	return 0;
}

int buddy_appender_quiesce(struct buddy_appender *a, void (*cb)(void *), void *arg)
{
	if (a->quiet_cb)
		return BUDDY_E_BUSY;
	a->held++;
	if (!a->busy) {
		cb(arg);
		return 0;
	}
	a->quiet_cb = cb;
	a->quiet_arg = arg;
	return 0;
}

bool buddy_appender_idle(const struct buddy_appender *a)
{
	return !a->busy && buddy_store_staged(a->store) == 0;
}

int buddy_appender_when_idle(struct buddy_appender *a, void (*cb)(void *), void *arg)
{
	if (a->idle_cb)
		return BUDDY_E_BUSY;
	if (buddy_appender_idle(a)) {
		cb(arg);
		return 0;
	}
	a->idle_cb = cb;
	a->idle_arg = arg;
	return 0;
}

void buddy_appender_free(struct buddy_appender *a)
{
	if (!a)
		return;
	free(a->staged.v);
	free(a->inflight.v);
	free(a);
}
