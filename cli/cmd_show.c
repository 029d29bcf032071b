/* buddy show: what a buddy shared with me, as my daemon received it. Everything printed here
 * comes from the buddy, so every string goes through cli_print_text. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_RECENT_MAX 1000 /* proto/CONTROL.md, show */

/* Mine, under one of their entries: "you cheered: well done". */
static void print_my_reactions(const msgpack_object *reactions, const char *indent)
{
	char kind[16], more[32];

	snprintf(more, sizeof(more), "%s      ", indent);
	for (uint32_t i = 0; i < cli_count(reactions); i++) {
		const msgpack_object *r = &reactions->via.array.ptr[i];
		cli_str(r, "kind", kind, sizeof(kind));
		printf("%s    you %s", indent,
		       strcmp(kind, "comment") == 0 ? "commented" : "cheered");
		cli_print_field(r, "text", ": ", more);
		putchar('\n');
	}
}

/* One of their check-ins or notes:
 *   2026-11-26 07:30  #4  done 5km: along the river  [tags]
 *   2026-11-27 07:10  #5  skip (retracted 2026-11-27) */
static void print_seen(const msgpack_object *e, const char *indent, bool with_commit)
{
	const msgpack_object *tags = buddy_mp_get(e, "tags");
	char when[32], status[16], more[32];

	cli_fmt_time(cli_int(e, "time"), when, sizeof(when));
	printf("%s%s  #%lld  ", indent, when, (long long)cli_int(e, "id"));
	if (cli_str(e, "status", status, sizeof(status))[0]) {
		fputs(status, stdout);
	} else {
		fputs("note", stdout);
		if (with_commit)
			cli_print_field(e, "commit", " on ", "");
	}
	if (buddy_mp_get(e, "value")) {
		printf(" %g", cli_double(e, "value"));
		cli_print_field(e, "unit", "", "");
	}
	if (cli_is_set(e, "retracted")) {
		cli_fmt_date(cli_int(e, "retracted"), when, sizeof(when));
		printf(" (retracted %s)", when);
	} else {
		snprintf(more, sizeof(more), "%s      ", indent);
		cli_print_field(e, "text", ": ", more);
	}
	if (cli_count(tags)) {
		fputs("  [", stdout);
		for (uint32_t i = 0; i < tags->via.array.size; i++) {
			const char *t;
			size_t tl;
			if (buddy_mp_str(&tags->via.array.ptr[i], BUDDY_TAG_MAX, &t, &tl) == 0) {
				fputs(i ? " " : "", stdout);
				cli_print_text(t, tl, "");
			}
		}
		fputs("]", stdout);
	}
	putchar('\n');
	print_my_reactions(buddy_mp_get(e, "reactions"), indent);
}

/* "this week: 2 of 3" from the current period of the statistics, when there is one. */
static void print_period(const msgpack_object *cadence, const msgpack_object *stats)
{
	const msgpack_object *periods = buddy_mp_get(stats, "periods");
	char kind[16], by[16];

	cli_str(cadence, "kind", kind, sizeof(kind));
	for (uint32_t i = 0; i < cli_count(periods); i++) {
		const msgpack_object *p = &periods->via.array.ptr[i];
		if (!cli_bool(p, "current"))
			continue;
		if (strcmp(kind, "daily") == 0)
			fputs("; today: ", stdout);
		else if (strcmp(kind, "weekly") == 0)
			fputs("; this week: ", stdout);
		else if (strcmp(kind, "monthly") == 0)
			fputs("; this month: ", stdout);
		else
			printf("; by %s: ", cli_str(cadence, "by", by, sizeof(by)));
		printf("%lld of %lld", (long long)cli_int(p, "done"),
		       (long long)cli_int(p, "required"));
		return;
	}
}

/* run  Run 3 times a week  [archived 2026-11-20]
 *   3 per week (Europe/Berlin); this week: 2 of 3; streak 4 (longest 6); 12 check-ins
 *   ...their recent check-ins */
static void print_commitment(const msgpack_object *c)
{
	const msgpack_object *cadence = buddy_mp_get(c, "cadence");
	const msgpack_object *stats = buddy_mp_get(c, "stats");
	const msgpack_object *recent = buddy_mp_get(c, "recent");
	char cad[48], when[32];

	cli_print_field(c, "id", "", "");
	cli_print_field(c, "title", "  ", " ");
	if (cli_is_set(c, "archived")) {
		cli_fmt_date(cli_int(c, "archived"), when, sizeof(when));
		printf("  [archived %s]", when);
	}
	if (!cli_bool(c, "shared"))
		fputs("  [no longer shared with you]", stdout);
	cli_fmt_cadence(cadence, cad, sizeof(cad));
	printf("\n  %s", cad);
	if (cli_print_field(c, "tz", " (", ""))
		putchar(')');
	print_period(cadence, stats);
	printf("; streak %lld (longest %lld); %lld check-in%s\n",
	       (long long)cli_int(stats, "current_streak"),
	       (long long)cli_int(stats, "longest_streak"), (long long)cli_int(c, "checkins"),
	       cli_int(c, "checkins") == 1 ? "" : "s");
	cli_print_pauses(buddy_mp_get(c, "pauses"), "  ");
	for (uint32_t i = 0; i < cli_count(recent); i++)
		print_seen(&recent->via.array.ptr[i], "  ", false);
}

static const char *alert_meaning(const char *kind)
{
	static const struct {
		const char *kind, *meaning;
	} m[] = {
		{"malformed", "a batch of posts that does not read was refused"},
		{"order", "posts out of order were refused"},
		{"chain", "posts whose hash chain is broken were refused"},
		{"signature", "posts with a bad signature were refused"},
		{"gap", "posts that skip some were refused"},
		{"fork", "their history conflicts with what you received"},
		{"ack", "their daemon acknowledged posts you did not send"},
		{"ahead", "their daemon holds posts of yours that yours does not have (was your "
			  "home restored from an old backup?)"},
		{"refused", "their daemon holds proof that your history was rewritten, and takes "
			    "no more posts from you"},
		{"quota", "their stream is longer than this daemon keeps (150,000 posts)"},
		{"clock", "their clock is more than a day ahead of yours: periods and deadlines "
			  "will disagree"},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(kind, m[i].kind) == 0)
			return m[i].meaning;
	return "something they sent was refused";
}

static void print_show(const msgpack_object *r)
{
	const msgpack_object *commits = buddy_mp_get(r, "commitments");
	const msgpack_object *notes = buddy_mp_get(r, "notes");
	const msgpack_object *alerts = buddy_mp_get(r, "alerts");
	const msgpack_object *retracted = buddy_mp_get(r, "retracted");
	char name[BUDDY_PEER_NAME_MAX + 1], kind[16], when[32];
	int64_t unreadable = cli_int(r, "unreadable");

	cli_str(r, "name", name, sizeof(name));
	printf("%s (%s)\n", name, cli_bool(r, "online") ? "online" : "offline");
	for (uint32_t i = 0; i < cli_count(commits); i++) {
		putchar('\n');
		print_commitment(&commits->via.array.ptr[i]);
	}
	if (cli_count(notes)) {
		printf("\nNotes:\n");
		for (uint32_t i = 0; i < notes->via.array.size; i++)
			print_seen(&notes->via.array.ptr[i], "  ", true);
	}
	if (cli_count(retracted)) {
		/* only that they existed and when is kept: the content is gone */
		printf("\nRetracted by %s:\n", name);
		for (uint32_t i = 0; i < retracted->via.array.size; i++) {
			const msgpack_object *e = &retracted->via.array.ptr[i];
			char posted[32];
			cli_fmt_time(cli_int(e, "posted"), posted, sizeof(posted));
			cli_fmt_time(cli_int(e, "retracted"), when, sizeof(when));
			cli_str(e, "kind", kind, sizeof(kind));
			printf("  #%lld  a %s posted %s, retracted %s\n",
			       (long long)cli_int(e, "id"),
			       strcmp(kind, "note") == 0 ? "note" : "check-in", posted, when);
		}
	}
	if (!cli_count(commits) && !cli_count(notes) && !cli_count(retracted))
		printf("\n%s has not shared anything with you yet.\n", name);
	if (cli_is_set(r, "fork")) {
		printf("\nWARNING: %s's history was rewritten. At post %lld, what %s's daemon "
		       "sent\n"
		       "conflicts with what you had already received from it, so your daemon "
		       "accepts\n"
		       "nothing more from %s. Their daemon lost or rewrote its history: a "
		       "restored\n"
		       "backup, a copied identity, or someone else holding their key. Ask %s on a\n"
		       "channel you trust, and compare safety numbers again: buddy verify %s\n",
		       name, (long long)cli_int(r, "fork"), name, name, name, name);
	}
	if (cli_count(alerts)) {
		printf("\nAlerts:\n");
		for (uint32_t i = 0; i < alerts->via.array.size; i++) {
			const msgpack_object *a = &alerts->via.array.ptr[i];
			int64_t seq = cli_int(a, "seq");
			cli_fmt_time(cli_int(a, "time"), when, sizeof(when));
			cli_str(a, "kind", kind, sizeof(kind));
			printf("  %s  ", when);
			cli_print_field(a, "kind", "", "");
			if (seq)
				printf(" at post %lld", (long long)seq);
			printf(": %s\n", alert_meaning(kind));
		}
	}
	printf("\n%lld post%s received", (long long)cli_int(r, "received"),
	       cli_int(r, "received") == 1 ? "" : "s");
	if (unreadable)
		printf(" (%lld unreadable, ignored)", (long long)unreadable);
	printf("; you sent %lld, %lld delivered\n", (long long)cli_int(r, "sent"),
	       (long long)cli_int(r, "delivered"));
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"recent", required_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	bool json = false;
	long recent = -1;
	char *end;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'r':
			errno = 0;
			recent = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || recent < 0 ||
			    recent > SHOW_RECENT_MAX)
				return cli_usage_err("show", "--recent takes a count from 0 to %d",
						     SHOW_RECENT_MAX);
			break;
		default:
			return cli_usage_err("show", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_err("show", "show takes a buddy's NAME");
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, recent >= 0 ? 2 : 1);
	cli_pack_kv_str(&pk, "buddy", argv[optind]);
	if (recent >= 0) {
		cli_pack_str(&pk, "recent");
		msgpack_pack_uint32(&pk, (uint32_t)recent);
	}
	rc = cli_call("show", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	if (json)
		cli_print_json(stdout, rep.result);
	else
		print_show(rep.result);
	cli_reply_free(&rep);
	return EXIT_OK;
}
