/* Hooks: the user's programs, run for live events (see buddy/hooks.h).
 *
 * Per event kind there is a slot: the program (copied from the configuration: the kind's own or
 * the default), the run in progress if any, and a FIFO of jobs waiting. A job is an event made
 * into its environment ("NAME=value" strings, copied and cleaned when the event is queued), so
 * nothing of the caller's is kept. A run is one child: its process handle, a pipe for stdout
 * and one for stderr (read line by line into the log), and one timer that is in turn the time
 * limit, the SIGKILL 2 s after SIGTERM, and, once the child has exited, how long its output may
 * stay open (a program it left in the background may hold it). The child is the leader of a
 * process group of its own (UV_PROCESS_DETACHED), so that the signals reach what it started
 * too; they are sent only while the child is not yet reaped, so its group id is still its own.
 *
 * The slot is free again as soon as its child exits, and the next job of the kind starts then.
 * A run's memory goes when the last of its handles is closed; the hooks' own memory goes once
 * they are stopped and the last run is gone. */
#include "buddy/hooks.h"
#include "buddy/error.h"
#include "buddy/log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_TEXT_MAX	   4096 /* bytes of BUDDY_TEXT */
#define HOOK_VALUE_MAX	   256	/* bytes of another event value */
#define HOOK_INHERIT_MAX   4096 /* bytes of a variable from buddyd's environment */
#define HOOK_ENV_MAX	   32	/* variables given to a hook */
#define HOOK_OUT_LINE_MAX  512	/* bytes of one logged output line; longer ones are cut */
#define HOOK_OUT_LINES_MAX 100	/* output lines logged per run; the rest is read and dropped */
#define HOOK_KILL_GRACE_MS 2000 /* SIGTERM, then SIGKILL this much later */
#define HOOK_DRAIN_MS	   1000 /* after the exit, how long output may stay open */
#define HOOK_DEFAULT_PATH  "/usr/local/bin:/usr/bin:/bin"

static const char *const inherited[] = {
	"PATH",
	"HOME",
	"LANG",
	"DISPLAY",
	"WAYLAND_DISPLAY",
	"DBUS_SESSION_BUS_ADDRESS",
	"XDG_RUNTIME_DIR",
};
#define INHERITED_N (sizeof(inherited) / sizeof(inherited[0]))

struct job {
	struct job *next;
	uint64_t id;
	char *env[HOOK_ENV_MAX + 1];
};

struct out {
	uv_pipe_t pipe;
	bool open; /* not yet closing */
	size_t len;
	char line[HOOK_OUT_LINE_MAX];
	char buf[4096];
};

enum stage { RUN_LIMIT, RUN_TERM_SENT, RUN_KILL_SENT };

struct run {
	struct run *prev, *next; /* the hooks' runs with handles still open */
	struct buddy_hooks *h;
	int kind;
	uv_process_t proc;
	uv_timer_t timer;
	struct out out[2]; /* stdout, stderr */
	int handles;	   /* initialised handles whose close callback has not come */
	bool proc_open, timer_open;
	bool exited; /* reaped (or never started): no signal may be sent */
	enum stage stage;
	int pid;
	unsigned lines;
	char *prog;	   /* its program, a copy: a reload may change the slot's meanwhile */
	uint64_t limit_ms; /* its time limit, likewise */
};

struct slot {
	char **argv; /* NULL: no hook for this kind */
	struct run *running;
	struct job *head, *tail;
	size_t queued;
	uint64_t dropped;     /* since the queue was last full: logged once, then counted */
	uint64_t unstartable; /* spawns that failed in a row: the first is logged */
};

struct buddy_hooks {
	uv_loop_t *loop;
	uint64_t timeout_ms;
	struct buddy_hook_cmd cmds[BUDDY_EV_COUNT_]; /* copies of the configuration's */
	struct slot slots[BUDDY_EV_COUNT_];
	char *inherit[INHERITED_N]; /* "NAME=value" */
	size_t ninherit;
	struct run *runs;
	bool stopping;
};

static const char *kind_name(int kind)
{
	return buddy_event_kind_name((enum buddy_event_kind)kind);
}

/* ---- environment ---- */

/* "name=value" with value cut to max bytes (not inside a UTF-8 character) and control
 * characters replaced by '?' (newlines kept when nl). */
/* The length of a UTF-8 sequence at p that a terminal or a notification would act on rather
 * than show, 0 otherwise: C1 controls (U+0080..U+009F) and the bidirectional overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069), which can make a buddy's text display as other
 * text. C0 controls are the caller's. */
static size_t invisible_len(const unsigned char *p, size_t n)
{
	if (n >= 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		return 2;
	if (n >= 3 && p[0] == 0xe2 &&
	    ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
	     (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
		return 3;
	return 0;
}

static char *make_var(const char *name, const char *value, size_t max, bool nl)
{
	size_t nlen = strlen(name), vlen = strnlen(value, max + 1);
	char *s;

	if (vlen > max) {
		vlen = max;
		while (vlen && ((unsigned char)value[vlen] & 0xc0) == 0x80)
			vlen--;
	}
	s = malloc(nlen + 1 + vlen + 1);
	if (!s)
		return NULL;
	memcpy(s, name, nlen);
	s[nlen] = '=';
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)value[i];
		size_t k = invisible_len((const unsigned char *)value + i, vlen - i);

		if (k) {
			/* each byte of it becomes '?': the length (and the cut above) stay valid */
			memset(s + nlen + 1 + i, '?', k);
			i += k - 1;
			continue;
		}
		s[nlen + 1 + i] = (char)((c < 0x20 && !(nl && c == '\n')) || c == 0x7f ? '?' : c);
	}
	s[nlen + 1 + vlen] = '\0';
	return s;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; j->env[i]; i++)
		free(j->env[i]);
	free(j);
}

/* Drops the events waiting in a slot's queue (a stop, or its hook gone after a reload). */
static void slot_drop_queued(struct slot *s)
{
	while (s->head) {
		struct job *j = s->head;

		s->head = j->next;
		job_free(j);
	}
	s->tail = NULL;
	s->queued = 0;
}

static int job_add(struct job *j, size_t *n, const char *name, const char *value, size_t max,
		   bool nl)
{
	if (*n >= HOOK_ENV_MAX)
		return -1;
	j->env[*n] = make_var(name, value, max, nl);
	if (!j->env[*n])
		return -1;
	(*n)++;
	return 0;
}

static int job_add_u(struct job *j, size_t *n, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return job_add(j, n, name, buf, sizeof(buf), false);
}

static int job_add_i(struct job *j, size_t *n, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return job_add(j, n, name, buf, sizeof(buf), false);
}

/* The event's environment, plus what buddyd passes on of its own. Values that do not apply to
 * the event are left out rather than set empty. */
static struct job *job_new(const struct buddy_hooks *h, const struct buddy_hook_event *e)
{
	const struct buddy_event *ev = e->ev;
	struct job *j = calloc(1, sizeof(*j));
	size_t n = 0;
	int r = 0;

	if (!j)
		return NULL;
	j->id = ev->id;
	r |= job_add(j, &n, "BUDDY_EVENT", kind_name(ev->kind), HOOK_VALUE_MAX, false);
	if (ev->id)
		r |= job_add_u(j, &n, "BUDDY_EVENT_ID", ev->id);
	r |= job_add_i(j, &n, "BUDDY_TIME", ev->time);
	if (e->from)
		r |= job_add(j, &n, "BUDDY_FROM", e->from, HOOK_VALUE_MAX, false);
	if (ev->has_pk) {
		char hex[65];

		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", ev->pk[i]);
		r |= job_add(j, &n, "BUDDY_FROM_KEY", hex, 64, false);
	}
	if (ev->commit[0])
		r |= job_add(j, &n, "BUDDY_COMMIT", ev->commit, BUDDY_ID_MAX, false);
	if (ev->entry)
		r |= job_add_u(j, &n, "BUDDY_ENTRY", ev->entry);
	if (e->status)
		r |= job_add(j, &n, "BUDDY_STATUS", e->status, HOOK_VALUE_MAX, false);
	if (e->text)
		r |= job_add(j, &n, "BUDDY_TEXT", e->text, HOOK_TEXT_MAX, true);
	if (ev->period_start || ev->period_end) {
		r |= job_add_i(j, &n, "BUDDY_PERIOD_START", ev->period_start);
		r |= job_add_i(j, &n, "BUDDY_PERIOD_END", ev->period_end);
	}
	if (ev->alert[0])
		r |= job_add(j, &n, "BUDDY_ALERT", ev->alert, sizeof(ev->alert) - 1, false);
	for (size_t i = 0; i < h->ninherit && !r; i++) {
		if (n >= HOOK_ENV_MAX) {
			r = -1;
			break;
		}
		j->env[n] = strdup(h->inherit[i]);
		if (!j->env[n])
			r = -1;
		else
			n++;
	}
	if (r) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* ---- runs ---- */

static void free_cmds(struct buddy_hook_cmd *cmds);
static void point_slots(struct buddy_hooks *h);

static void hooks_free(struct buddy_hooks *h)
{
	free_cmds(h->cmds);
	for (size_t i = 0; i < h->ninherit; i++)
		free(h->inherit[i]);
	free(h);
}

static void on_close(uv_handle_t *handle)
{
	struct run *r = handle->data;
	struct buddy_hooks *h = r->h;

	if (--r->handles)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		h->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r->prog);
	free(r);
	if (h->stopping && !h->runs)
		hooks_free(h);
}

static void close_handle(uv_handle_t *handle, bool *open)
{
	if (!*open)
		return;
	*open = false;
	uv_close(handle, on_close);
}

/* Signals the child's process group (and the child itself, should it have left the group):
 * only while it is not reaped. */
static void signal_child(struct run *r, int sig)
{
	if (r->exited || r->pid <= 0)
		return;
	if (kill(-r->pid, sig) && errno == ESRCH)
		uv_process_kill(&r->proc, sig);
}

static void emit_line(struct run *r, struct out *o)
{
	const char *name = kind_name(r->kind);

	if (r->lines < HOOK_OUT_LINES_MAX)
		log_info("hook %s: %.*s", name, (int)o->len, o->line);
	else if (r->lines == HOOK_OUT_LINES_MAX)
		log_info("hook %s: more than %d lines of output: the rest is not logged", name,
			 HOOK_OUT_LINES_MAX);
	if (r->lines <= HOOK_OUT_LINES_MAX)
		r->lines++;
	o->len = 0;
}

static void feed(struct run *r, struct out *o, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n') {
			emit_line(r, o);
			continue;
		}
		if (c == '\r')
			continue;
		if (o->len == sizeof(o->line))
			emit_line(r, o); /* a line too long for the log goes as several */
		o->line[o->len++] = (char)(c == '\t' ? ' ' : c < 0x20 || c == 0x7f ? '?' : c);
	}
}

static void close_out(struct run *r, struct out *o)
{
	if (!o->open)
		return;
	if (o->len)
		emit_line(r, o);
	close_handle((uv_handle_t *)&o->pipe, &o->open);
}

/* Once the child is reaped and its output closed, the timer goes too: the run is over. */
static void maybe_done(struct run *r)
{
	if (r->exited && !r->out[0].open && !r->out[1].open)
		close_handle((uv_handle_t *)&r->timer, &r->timer_open);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct run *r = handle->data;
	struct out *o = (uv_pipe_t *)handle == &r->out[0].pipe ? &r->out[0] : &r->out[1];

	(void)suggested;
	buf->base = o->buf;
	buf->len = sizeof(o->buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct run *r = stream->data;
	struct out *o = (uv_pipe_t *)stream == &r->out[0].pipe ? &r->out[0] : &r->out[1];

	(void)buf;
	if (nread > 0) {
		feed(r, o, o->buf, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	if (nread != UV_EOF)
		log_warn("hook %s: reading its output: %s", kind_name(r->kind),
			 uv_strerror((int)nread));
	close_out(r, o);
	maybe_done(r);
}

static void start_next(struct buddy_hooks *h, int kind);
static void on_timer(uv_timer_t *t);

static void on_child_exit(uv_process_t *proc, int64_t status, int sig)
{
	struct run *r = proc->data;
	struct buddy_hooks *h = r->h;
	struct slot *s = &h->slots[r->kind];
	const char *name = kind_name(r->kind);

	r->exited = true;
	close_handle((uv_handle_t *)&r->proc, &r->proc_open);
	if (s->running == r)
		s->running = NULL;
	if (h->stopping)
		return; /* its other handles are closed already */

	if (r->stage != RUN_LIMIT)
		log_debug("hook %s: %s ended after it was signalled", name, r->prog);
	else if (sig)
		log_warn("hook %s: %s was killed by signal %d", name, r->prog, sig);
	else if (status)
		log_warn("hook %s: %s exited with status %" PRId64, name, r->prog, status);
	else
		log_debug("hook %s: %s done", name, r->prog);

	uv_timer_stop(&r->timer);
	if (r->out[0].open || r->out[1].open)
		uv_timer_start(&r->timer, on_timer, HOOK_DRAIN_MS, 0);
	maybe_done(r);
	start_next(h, r->kind);
}

/* The time limit, then the SIGKILL, or (once the child is reaped) the end of the wait for its
 * output. */
static void on_timer(uv_timer_t *t)
{
	struct run *r = t->data;
	const char *name = kind_name(r->kind);

	if (r->exited) {
		close_out(r, &r->out[0]);
		close_out(r, &r->out[1]);
		maybe_done(r);
		return;
	}
	if (r->stage == RUN_LIMIT) {
		log_warn("hook %s: %s still running after %" PRIu64 " s: killed (SIGTERM)", name,
			 r->prog, r->limit_ms / 1000);
		r->stage = RUN_TERM_SENT;
		signal_child(r, SIGTERM);
		uv_timer_start(&r->timer, on_timer, HOOK_KILL_GRACE_MS, 0);
	} else if (r->stage == RUN_TERM_SENT) {
		log_warn("hook %s: %s still running %d s after SIGTERM: SIGKILL", name, r->prog,
			 HOOK_KILL_GRACE_MS / 1000);
		r->stage = RUN_KILL_SENT;
		signal_child(r, SIGKILL);
	}
}

/* Starts job as kind's run; false when it could not be (logged; the job is the caller's). */
static bool spawn(struct buddy_hooks *h, int kind, struct job *j)
{
	struct slot *s = &h->slots[kind];
	const char *name = kind_name(kind);
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	struct run *r;
	int e;

	r = calloc(1, sizeof(*r));
	if (!r) {
		log_error("hook %s: out of memory: event %" PRIu64 " dropped", name, j->id);
		return false;
	}
	r->prog = strdup(s->argv[0]);
	if (!r->prog) {
		free(r);
		log_error("hook %s: out of memory: event %" PRIu64 " dropped", name, j->id);
		return false;
	}
	r->limit_ms = h->timeout_ms;
	r->h = h;
	r->kind = kind;
	r->exited = true; /* until spawned */
	r->next = h->runs;
	if (h->runs)
		h->runs->prev = r;
	h->runs = r;

	uv_timer_init(h->loop, &r->timer);
	r->timer.data = r;
	r->timer_open = true;
	r->handles++;
	for (int i = 0; i < 2; i++) {
		uv_pipe_init(h->loop, &r->out[i].pipe, 0);
		r->out[i].pipe.data = r;
		r->out[i].open = true;
		r->handles++;
	}

	memset(&opt, 0, sizeof(opt));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE; /* libuv opens /dev/null for it */
	for (int i = 0; i < 2; i++) {
		stdio[1 + i].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
		stdio[1 + i].data.stream = (uv_stream_t *)&r->out[i].pipe;
	}
	opt.exit_cb = on_child_exit;
	opt.file = s->argv[0];
	opt.args = s->argv;
	opt.env = j->env;
	opt.cwd = "/";
	opt.flags = UV_PROCESS_DETACHED; /* a process group of its own, to signal as one */
	opt.stdio_count = 3;
	opt.stdio = stdio;

	r->proc.data = r;
	e = uv_spawn(h->loop, &r->proc, &opt);
	r->proc_open = true; /* closed in any case, started or not */
	r->handles++;
	if (e) {
		/* once until it starts again: a buddy's every post must not be a log line */
		if (!s->unstartable++)
			log_error("hook %s: cannot run %s: %s", name, s->argv[0], uv_strerror(e));
		close_handle((uv_handle_t *)&r->proc, &r->proc_open);
		close_handle((uv_handle_t *)&r->out[0].pipe, &r->out[0].open);
		close_handle((uv_handle_t *)&r->out[1].pipe, &r->out[1].open);
		close_handle((uv_handle_t *)&r->timer, &r->timer_open);
		return false;
	}
	if (s->unstartable > 1)
		log_info("hook %s: runs again (%" PRIu64 " events found it missing)", name,
			 s->unstartable - 1);
	s->unstartable = 0;
	r->exited = false;
	r->pid = r->proc.pid;
	log_debug("hook %s: started %s (pid %d) for event %" PRIu64, name, s->argv[0], r->pid,
		  j->id);
	for (int i = 0; i < 2; i++) {
		e = uv_read_start((uv_stream_t *)&r->out[i].pipe, on_alloc, on_read);
		if (e) {
			log_warn("hook %s: cannot read its output: %s", name, uv_strerror(e));
			close_out(r, &r->out[i]);
		}
	}
	uv_timer_start(&r->timer, on_timer, r->limit_ms, 0);
	s->running = r;
	return true;
}

/* Starts the kind's next waiting job, if its slot is free: the first that starts. */
static void start_next(struct buddy_hooks *h, int kind)
{
	struct slot *s = &h->slots[kind];

	while (!h->stopping && !s->running && s->head && s->argv) {
		struct job *j = s->head;

		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		spawn(h, kind, j);
		job_free(j); /* the child has its own copy of the environment */
	}
}

/* ---- the interface ---- */

struct buddy_hooks *buddy_hooks_new(uv_loop_t *loop, const struct buddy_config *cfg)
{
	struct buddy_hooks *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->loop = loop;
	h->timeout_ms =
		(uint64_t)(cfg && cfg->hook_timeout_s > 0 ? cfg->hook_timeout_s : 10) * 1000;
	for (int k = 0; cfg && k < BUDDY_EV_COUNT_; k++) {
		for (int i = 0; i < BUDDY_HOOK_ARGS_MAX && cfg->hooks[k].argv[i]; i++) {
			h->cmds[k].argv[i] = strdup(cfg->hooks[k].argv[i]);
			if (!h->cmds[k].argv[i])
				goto fail;
		}
	}
	point_slots(h);
	for (size_t i = 0; i < INHERITED_N; i++) {
		const char *v = getenv(inherited[i]);

		if (!v && !strcmp(inherited[i], "PATH"))
			v = HOOK_DEFAULT_PATH;
		if (!v)
			continue;
		h->inherit[h->ninherit] = make_var(inherited[i], v, HOOK_INHERIT_MAX, false);
		if (!h->inherit[h->ninherit])
			goto fail;
		h->ninherit++;
	}
	return h;
fail:
	hooks_free(h);
	return NULL;
}

/* The slots' programs from cmds: the kind's own, else the default. */
static void point_slots(struct buddy_hooks *h)
{
	for (int k = 1; k < BUDDY_EV_COUNT_; k++) {
		if (h->cmds[k].argv[0])
			h->slots[k].argv = h->cmds[k].argv;
		else if (h->cmds[0].argv[0])
			h->slots[k].argv = h->cmds[0].argv;
		else
			h->slots[k].argv = NULL;
	}
}

static void free_cmds(struct buddy_hook_cmd *cmds)
{
	for (int k = 0; k < BUDDY_EV_COUNT_; k++)
		for (int i = 0; i < BUDDY_HOOK_ARGS_MAX && cmds[k].argv[i]; i++)
			free(cmds[k].argv[i]);
}

int buddy_hooks_reconfigure(struct buddy_hooks *h, const struct buddy_config *cfg)
{
	struct buddy_hook_cmd cmds[BUDDY_EV_COUNT_];

	if (!h || h->stopping || !cfg)
		return 0;
	memset(cmds, 0, sizeof(cmds));
	for (int k = 0; k < BUDDY_EV_COUNT_; k++) {
		for (int i = 0; i < BUDDY_HOOK_ARGS_MAX && cfg->hooks[k].argv[i]; i++) {
			cmds[k].argv[i] = strdup(cfg->hooks[k].argv[i]);
			if (!cmds[k].argv[i]) {
				free_cmds(cmds);
				return BUDDY_E_NOMEM;
			}
		}
	}
	/* runs in progress hold their own copy of the program (r->prog) and time limit; the
	 * argv given to uv_spawn was needed only during that call */
	free_cmds(h->cmds);
	memcpy(h->cmds, cmds, sizeof(cmds));
	h->timeout_ms = (uint64_t)(cfg->hook_timeout_s > 0 ? cfg->hook_timeout_s : 10) * 1000;
	point_slots(h);
	for (int k = 1; k < BUDDY_EV_COUNT_; k++) {
		struct slot *s = &h->slots[k];

		if (s->argv) {
			start_next(h, k);
			continue;
		}
		/* no hook for this kind any more: what waited for it is dropped */
		slot_drop_queued(s);
	}
	return 0;
}

void buddy_hooks_run(struct buddy_hooks *h, const struct buddy_hook_event *e)
{
	struct slot *s;
	struct job *j;
	int kind;

	if (!h || h->stopping || !e || !e->ev)
		return;
	kind = (int)e->ev->kind;
	if (kind <= 0 || kind >= BUDDY_EV_COUNT_)
		return;
	s = &h->slots[kind];
	if (!s->argv)
		return;
	if (s->queued >= BUDDY_HOOK_QUEUE_MAX) {
		/* one line when the queue fills, one when it drains: a burst of events (a sync
		 * of thousands of posts) must not become thousands of log lines */
		if (s->dropped++ == 0)
			log_warn("hook %s: %d events already waiting: dropping events until it "
				 "catches up",
				 kind_name(kind), BUDDY_HOOK_QUEUE_MAX);
		return;
	}
	if (s->dropped) {
		log_warn("hook %s: %" PRIu64 " events were dropped", kind_name(kind), s->dropped);
		s->dropped = 0;
	}
	j = job_new(h, e);
	if (!j) {
		log_error("hook %s: out of memory: event %" PRIu64 " dropped", kind_name(kind),
			  e->ev->id);
		return;
	}
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->queued++;
	start_next(h, kind);
}

void buddy_hooks_stop(struct buddy_hooks *h)
{
	if (!h || h->stopping)
		return;
	h->stopping = true;
	for (int k = 0; k < BUDDY_EV_COUNT_; k++) {
		slot_drop_queued(&h->slots[k]);
	}
	for (struct run *r = h->runs; r; r = r->next) {
		if (!r->exited)
			log_info("hook %s: stopping %s (pid %d)", kind_name(r->kind), r->prog,
				 r->pid);
		signal_child(r, SIGKILL);
		/* the process handle is closed when the child is reaped (at once, after SIGKILL) */
		close_handle((uv_handle_t *)&r->out[0].pipe, &r->out[0].open);
		close_handle((uv_handle_t *)&r->out[1].pipe, &r->out[1].open);
		close_handle((uv_handle_t *)&r->timer, &r->timer_open);
	}
	if (!h->runs)
		hooks_free(h);
}
