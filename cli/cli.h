/* The buddy CLI's shared pieces: the command table, exit codes, the control-socket client and
 * output helpers. The CLI is thin: it parses arguments, sends one request, prints the answer.
 * Only `buddy init` touches the home directly, before any daemon exists. */
#ifndef BUDDY_CLI_H
#define BUDDY_CLI_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (documented in README and `buddy --help`). */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_ERROR = 1,	   /* anything else the daemon refused, or a local failure */
	EXIT_USAGE = 2,	   /* bad arguments */
	EXIT_NODAEMON = 3, /* no daemon is running for this home */
	EXIT_LOCKED = 4,   /* the journal is locked */
	EXIT_AUTH = 5,	   /* wrong passphrase, or too many tries */
	EXIT_NOTFOUND = 6, /* no such commitment or entry */
	EXIT_EXISTS = 7,   /* already exists */
	EXIT_STORAGE = 8,  /* the disk is full, or stored data is damaged */
};

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage; /* the whole --help text */
};

extern const struct cli_cmd cli_commands[];

/* Prints "buddy: <message>" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct buddy_home;
/* Removes what an interrupted `buddy restore` left at or beside home (buddy_home_recover), and
 * says so in one line (restore and init, before they look at the home). */
void cli_recover_home(const struct buddy_home *h);
/* For a usage problem: the message, then how to get help; returns EXIT_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the usage text of cmd when argv asks for --help (anywhere); returns true then. */
bool cli_wants_help(const struct cli_cmd *cmd, int argc, char **argv);
const struct cli_cmd *cli_find(const char *name);
/* The exit codes, as `buddy --help` and the manual list them. */
extern const char cli_exit_codes[];

/* ---- autostart.c ---- */

/* Set by `buddy --no-start COMMAND`. */
extern bool cli_no_start;
/* Neither --no-start nor BUDDY_NO_START (non-empty, not "0") was given. */
bool cli_autostart_allowed(void);
/* Starts buddyd for the home and waits until it serves (or finds that another command just
 * did); EXIT_OK, or an exit code after saying why. */
struct buddy_home;
int cli_autostart(const struct buddy_home *h);

/* ---- man.c ---- */

/* Prints buddy(1) in scdoc source, from the command table. */
void cli_print_scdoc(FILE *f);

/* ---- client.c ---- */

struct cli_reply {
	uint8_t *buf;
	size_t len;
	msgpack_unpacked u;
	const msgpack_object *result;
};

/* Sends one request (params: a packed map, or NULL for none) to this home's daemon and waits
 * for the answer. On an error answer or a connection problem prints one sentence and returns
 * the exit code; 0 with *rep filled (free with cli_reply_free) otherwise. */
int cli_call(const char *method, const msgpack_sbuffer *params, struct cli_reply *rep);
void cli_reply_free(struct cli_reply *rep);
/* Like cli_call, but returns the daemon's error code in *code (0 on success) without printing
 * when the daemon answered with an error; connection problems still print. */
int cli_call_quiet(const char *method, const msgpack_sbuffer *params, struct cli_reply *rep,
		   int *code, char *msg, size_t msglen);

/* cmd_inbox.c: one event (as `inbox` and `watch` give it) on one line: '*' when unread, its
 * id, when, and what happened; text from buddies is sanitized. */
void cli_print_event(const msgpack_object *ev);

/* A subscription (`watch`): cli_stream_open sends the request and checks its answer (printing
 * any error and returning its exit code); cli_stream_next then returns each object that
 * follows (a notification [2, method, params] in rep->result), BUDDY_E_IO when buddyd closed
 * the connection. */
struct cli_stream {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};
int cli_stream_open(struct cli_stream *s, const char *method);
int cli_stream_next(struct cli_stream *s, struct cli_reply *rep);
void cli_stream_close(struct cli_stream *s);

/* Packing shortcuts for building params maps. */
void cli_pack_str(msgpack_packer *pk, const char *s);
void cli_pack_kv_str(msgpack_packer *pk, const char *k, const char *v);

/* ---- output.c ---- */

/* A new jansson value for o (NULL when out of memory). */
json_t *cli_to_json(const msgpack_object *o);
/* Prints o as one JSON document (pretty, newline-terminated) to f. */
int cli_print_json(FILE *f, const msgpack_object *o);
/* Field readers for printing answers: absent or mistyped fields read as "" / 0 / false. */
const char *cli_str(const msgpack_object *map, const char *key, char *buf, size_t buflen);
int64_t cli_int(const msgpack_object *map, const char *key);
double cli_double(const msgpack_object *map, const char *key);
bool cli_bool(const msgpack_object *map, const char *key);
/* "YYYY-MM-DD HH:MM" in local time. */
void cli_fmt_time(int64_t t, char *buf, size_t n);
void cli_fmt_date(int64_t t, char *buf, size_t n);
/* "YYYY-MM-DD" at local midnight, as Unix seconds; plus_days moves it (for --until). */
int cli_parse_date(const char *s, int plus_days, int64_t *out);
/* The local time zone's IANA name ("Europe/Berlin"), or "UTC" when it cannot be told. */
void cli_local_tz(char *buf, size_t n);
/* Describes a cadence map for people: "daily", "3 per week", "by 2026-12-31". */
void cli_fmt_cadence(const msgpack_object *cadence, char *buf, size_t n);

/* Prints text from the daemon (entry text, a buddy's words) to stdout: every control
 * character but tab becomes '?', and each newline is followed by indent. */
void cli_print_text(const char *p, size_t len, const char *indent);
/* prefix, then cli_print_text of a string field; false (nothing printed, not even prefix)
 * when the field is absent or empty. */
bool cli_print_field(const msgpack_object *map, const char *key, const char *prefix,
		     const char *indent);
/* Prints an array of names as "bob, carol"; returns how many it printed. */
size_t cli_print_names(const msgpack_object *names);
/* The size of an array (0 when absent or not an array). */
size_t cli_count(const msgpack_object *array);
/* Whether a field is present and not nil (an "archived: time|nil" style field). */
bool cli_is_set(const msgpack_object *map, const char *key);
/* An entry id as people type it: "12" or "#12". */
int cli_parse_entry_id(const char *s, uint64_t *out);

/* cmd_journal.c and cmd_stats.c: one entry, one commitment's statistics, for people. */
void cli_print_entry(const msgpack_object *e);
void cli_print_stats(const msgpack_object *s);
/* cmd_pause.c: a commitment's pauses [{from, until, reason}], one per line, the newest few. */
void cli_print_pauses(const msgpack_object *pauses, const char *indent);
/* Fetches every entry matching the params map in packed (without limit/offset) page by page,
 * calling fn for each page's "entries" array. */
int cli_journal_pages(const msgpack_sbuffer *filters, size_t nfilters,
		      int (*fn)(void *arg, const msgpack_object *entries), void *arg);

/* ---- prompt.c ---- */

/* Reads a passphrase from the terminal with echo off into sodium_malloc'd memory (free with
 * sodium_free). With confirm, asks twice and insists they match. */
int cli_prompt_passphrase(const char *prompt, bool confirm, char **out, size_t *len);
/* A passphrase from --passphrase-file F (when file is non-NULL) or from the terminal. */
int cli_get_passphrase(const char *file, const char *prompt, bool confirm, char **out, size_t *len);

#endif
