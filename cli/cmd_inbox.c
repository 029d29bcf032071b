/* buddy inbox: what happened (a buddy's check-ins, notes, cheers, misses, my reminders ...),
 * one line per event, and marking events read. Names, commitment ids and texts come from
 * buddies, so every string goes through cli_print_text. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define INBOX_LIMIT_MAX	   1000 /* proto/CONTROL.md, inbox */
#define INBOX_READ_IDS_MAX 1000 /* proto/CONTROL.md, inbox.read */

/* "on 2026-11-28", "week of 2026-11-23", "month of 2026-11", or "2026-11-01 to 2026-12-31",
 * from the period's length: the CLI does not know the cadence. */
static void print_period(const msgpack_object *ev)
{
	int64_t start = cli_int(ev, "period_start"), end = cli_int(ev, "period_end");
	int64_t span = end - start;
	char a[32], b[32];

	cli_fmt_date(start, a, sizeof(a));
	if (end <= start) {
		printf("from %s", a);
		return;
	}
	cli_fmt_date(end - 1, b, sizeof(b));
	if (span <= 25 * 3600)
		printf("on %s", a);
	else if (span <= 7 * 86400 + 3600)
		printf("week of %s", a);
	else if (span <= 31 * 86400 + 3600 && strcmp(a + 8, "01") == 0)
		printf("month of %.7s", a);
	else
		printf("%s to %s", a, b);
}

/* " (1 of 3)" when the daemon counted the period's check-ins. */
static void print_count(const msgpack_object *ev)
{
	if (buddy_mp_get(ev, "required"))
		printf(" (%lld of %lld)", (long long)cli_int(ev, "done"),
		       (long long)cli_int(ev, "required"));
}

static void print_buddy(const msgpack_object *ev)
{
	if (!cli_print_field(ev, "buddy", "", ""))
		fputs("a buddy", stdout);
}

/* bob checked in on run: done 5km — along the river */
static void print_checkin(const msgpack_object *ev)
{
	char when[32];

	print_buddy(ev);
	fputs(" checked in", stdout);
	if (cli_is_set(ev, "retracted")) {
		cli_fmt_date(cli_int(ev, "retracted"), when, sizeof(when));
		printf(" (retracted %s)", when);
		return;
	}
	cli_print_field(ev, "commit", " on ", "");
	cli_print_field(ev, "status", ": ", "");
	if (buddy_mp_get(ev, "value")) {
		printf(" %g", cli_double(ev, "value"));
		cli_print_field(ev, "unit", "", "");
	}
	cli_print_field(ev, "text", " \u2014 ", "      ");
}

static void print_note(const msgpack_object *ev)
{
	char when[32];

	print_buddy(ev);
	fputs(" wrote a note", stdout);
	if (cli_is_set(ev, "retracted")) {
		cli_fmt_date(cli_int(ev, "retracted"), when, sizeof(when));
		printf(" (retracted %s)", when);
		return;
	}
	cli_print_field(ev, "commit", " on ", "");
	cli_print_field(ev, "text", ": ", "      ");
}

void cli_print_event(const msgpack_object *ev)
{
	char kind[16], when[32];
	int64_t entry = cli_int(ev, "entry"), seq = cli_int(ev, "seq");

	cli_fmt_time(cli_int(ev, "time"), when, sizeof(when));
	if (cli_int(ev, "id"))
		printf("%c %4lld  %s  ", cli_bool(ev, "read") ? ' ' : '*',
		       (long long)cli_int(ev, "id"), when);
	else /* live only (online, offline): not in the inbox */
		printf("        %s  ", when);
	cli_str(ev, "kind", kind, sizeof(kind));
	if (strcmp(kind, "checkin") == 0) {
		print_checkin(ev);
	} else if (strcmp(kind, "note") == 0) {
		print_note(ev);
	} else if (strcmp(kind, "cheer") == 0 || strcmp(kind, "comment") == 0) {
		print_buddy(ev);
		printf(" %s your #%lld", kind[1] == 'h' ? "cheered" : "commented on",
		       (long long)entry);
		cli_print_field(ev, "text", ": ", "      ");
	} else if (strcmp(kind, "retraction") == 0) {
		print_buddy(ev);
		printf(" retracted their #%lld", (long long)entry);
	} else if (strcmp(kind, "commitment") == 0) {
		print_buddy(ev);
		fputs(" shared or changed their commitment", stdout);
		cli_print_field(ev, "commit", " ", "");
	} else if (strcmp(kind, "missed") == 0 || strcmp(kind, "late") == 0) {
		printf("%s: ", kind);
		print_buddy(ev);
		fputs("'s", stdout);
		cli_print_field(ev, "commit", " ", "");
		fputs(", ", stdout);
		print_period(ev);
		print_count(ev);
		if (kind[0] == 'l')
			fputs(": checked in after it was missed", stdout);
		if (kind[0] == 'l' && entry)
			printf(" (their #%lld)", (long long)entry);
	} else if (strcmp(kind, "reminder") == 0) {
		fputs("reminder:", stdout);
		cli_print_field(ev, "commit", " ", "");
		cli_fmt_time(cli_int(ev, "period_end"), when, sizeof(when));
		printf(" is due by %s", when);
		print_count(ev);
	} else if (strcmp(kind, "pause") == 0) {
		print_buddy(ev);
		fputs(" paused", stdout);
		cli_print_field(ev, "commit", " ", "");
		fputs(" ", stdout);
		if (cli_is_set(ev, "until")) {
			cli_fmt_date(cli_int(ev, "period_start"), when, sizeof(when));
			printf("from %s", when);
			cli_print_field(ev, "until", " until ", "");
		} else {
			print_period(ev);
		}
		cli_print_field(ev, "text", ": ", "      ");
	} else if (strcmp(kind, "delivered") == 0) {
		print_buddy(ev);
		printf("'s daemon has stored your posts up to post %lld", (long long)seq);
	} else if (strcmp(kind, "online") == 0 || strcmp(kind, "offline") == 0) {
		print_buddy(ev);
		printf(" is %s", kind);
	} else if (strcmp(kind, "paired") == 0) {
		fputs("paired with ", stdout);
		print_buddy(ev);
	} else if (strcmp(kind, "alert") == 0) {
		fputs("alert: ", stdout);
		cli_print_field(ev, "alert", "", "");
		fputs(" from ", stdout);
		print_buddy(ev);
		if (seq)
			printf(" at post %lld", (long long)seq);
		fputs(" (see: buddy show ", stdout);
		print_buddy(ev);
		putchar(')');
	} else {
		cli_print_text(kind, strlen(kind), "");
		if (buddy_mp_get(ev, "buddy"))
			fputs(": ", stdout);
		cli_print_field(ev, "buddy", "", "");
	}
	putchar('\n');
}

static int inbox_read(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	bool all = false;
	int64_t marked;
	int c, rc, n;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'a')
			return cli_usage_err("inbox", "unknown option");
		all = true;
	}
	n = argc - optind;
	if (all == (n > 0))
		return cli_usage_err("inbox", "inbox read takes event numbers or --all");
	if (n > INBOX_READ_IDS_MAX)
		return cli_usage_err("inbox", "at most %d event numbers at once",
				     INBOX_READ_IDS_MAX);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	if (all) {
		cli_pack_str(&pk, "all");
		msgpack_pack_true(&pk);
	} else {
		cli_pack_str(&pk, "ids");
		msgpack_pack_array(&pk, (size_t)n);
		for (int i = optind; i < argc; i++) {
			uint64_t id;
			if (cli_parse_entry_id(argv[i], &id)) {
				msgpack_sbuffer_destroy(&params);
				return cli_usage_err("inbox",
						     "\"%s\" is not an event number (like 12)",
						     argv[i]);
			}
			msgpack_pack_uint64(&pk, id);
		}
	}
	rc = cli_call("inbox.read", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	marked = cli_int(rep.result, "marked");
	if (marked == 0)
		printf("Nothing to mark: %s read already.\n", all || n > 1 ? "all were" : "it was");
	else
		printf("Marked %lld event%s read.\n", (long long)marked, marked == 1 ? "" : "s");
	cli_reply_free(&rep);
	return EXIT_OK;
}

int cmd_inbox(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"from", required_argument, NULL, 'f'},
					     {"json", no_argument, NULL, 'j'},
					     {NULL, 0, NULL, 0}};
	const char *from = NULL;
	bool all = false, json = false;
	const msgpack_object *events;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	long limit = 0;
	char *end;
	int c, rc;

	if (argc > 1 && strcmp(argv[1], "read") == 0)
		return inbox_read(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'f':
			from = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			errno = 0;
			limit = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || limit < 1 || limit > INBOX_LIMIT_MAX)
				return cli_usage_err("inbox", "-n takes a count from 1 to %d",
						     INBOX_LIMIT_MAX);
			break;
		default:
			return cli_usage_err("inbox", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_err("inbox", "unexpected argument \"%s\"", argv[optind]);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1 + (from != NULL) + (limit > 0));
	cli_pack_str(&pk, "all");
	all ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	if (from)
		cli_pack_kv_str(&pk, "from", from);
	if (limit > 0) {
		cli_pack_str(&pk, "limit");
		msgpack_pack_uint32(&pk, (uint32_t)limit);
	}
	rc = cli_call("inbox", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	events = buddy_mp_get(rep.result, "events");
	if (json) {
		cli_print_json(stdout, rep.result);
	} else if (cli_count(events) == 0) {
		printf("No %sevents%s.\n", all ? "" : "unread ", from ? " from that buddy" : "");
	} else {
		for (uint32_t i = 0; i < events->via.array.size; i++)
			cli_print_event(&events->via.array.ptr[i]);
		if (!all && !from &&
		    (int64_t)events->via.array.size < cli_int(rep.result, "unread"))
			printf("(the newest %u of %lld unread)\n", events->via.array.size,
			       (long long)cli_int(rep.result, "unread"));
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}
