/* buddy journal: reading entries, page by page. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/text.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* "  -> bob: delivered, carol: waiting, dan: retracted 2026-11-28" */
static void print_shared(const msgpack_object *shared)
{
	char when[32];

	if (!cli_count(shared))
		return;
	fputs("  -> ", stdout);
	for (uint32_t i = 0; i < shared->via.array.size; i++) {
		const msgpack_object *s = &shared->via.array.ptr[i];
		if (i)
			fputs(", ", stdout);
		cli_print_field(s, "buddy", "", "");
		if (cli_is_set(s, "retracted")) {
			cli_fmt_date(cli_int(s, "retracted"), when, sizeof(when));
			printf(": retracted %s", when);
		} else {
			fputs(cli_bool(s, "delivered") ? ": delivered" : ": waiting", stdout);
		}
	}
	putchar('\n');
}

/* "  bob cheered: well done", "  carol commented: ..." */
static void print_reactions(const msgpack_object *reactions)
{
	char kind[16];

	for (uint32_t i = 0; i < cli_count(reactions); i++) {
		const msgpack_object *r = &reactions->via.array.ptr[i];
		fputs("  ", stdout);
		cli_print_field(r, "buddy", "", "");
		cli_str(r, "kind", kind, sizeof(kind));
		fputs(strcmp(kind, "comment") == 0 ? " commented" : " cheered", stdout);
		cli_print_field(r, "text", ": ", "    ");
		putchar('\n');
	}
}

void cli_print_entry(const msgpack_object *e)
{
	char when[32], commit[BUDDY_ID_MAX + 1], status[16], unit[BUDDY_UNIT_MAX + 1];
	const msgpack_object *tags = buddy_mp_get(e, "tags");

	cli_fmt_time(cli_int(e, "time"), when, sizeof(when));
	printf("%s  #%lld%s  ", when, (long long)cli_int(e, "id"),
	       cli_bool(e, "starred") ? "*" : "");
	cli_str(e, "commit", commit, sizeof(commit));
	cli_str(e, "status", status, sizeof(status));
	if (status[0])
		printf("[%s] %s", commit, status);
	else if (commit[0])
		printf("note on %s", commit);
	else
		printf("note");
	if (buddy_mp_get(e, "value"))
		printf(" %g%s", cli_double(e, "value"), cli_str(e, "unit", unit, sizeof(unit)));
	/* the daemon only stores text without control characters but newline and tab (and
	 * cli_print_text would replace them) */
	cli_print_field(e, "text", ": ", "      ");
	if (tags && tags->type == MSGPACK_OBJECT_ARRAY && tags->via.array.size) {
		fputs("  [", stdout);
		for (uint32_t i = 0; i < tags->via.array.size; i++) {
			const char *t;
			size_t tl;
			if (buddy_mp_str(&tags->via.array.ptr[i], BUDDY_TAG_MAX, &t, &tl) == 0)
				printf("%s%.*s", i ? " " : "", (int)tl, t);
		}
		fputs("]", stdout);
	}
	putchar('\n');
	print_shared(buddy_mp_get(e, "shared"));
	print_reactions(buddy_mp_get(e, "reactions"));
}

int cli_journal_pages(const msgpack_sbuffer *filters, size_t nfilters,
		      int (*fn)(void *arg, const msgpack_object *entries), void *arg)
{
	uint64_t offset = 0, total;

	do {
		msgpack_sbuffer params;
		msgpack_packer pk;
		struct cli_reply rep;
		const msgpack_object *entries;
		int rc;

		msgpack_sbuffer_init(&params);
		msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, nfilters + 2);
		if (filters && filters->size)
			msgpack_sbuffer_write(&params, filters->data, filters->size);
		cli_pack_str(&pk, "offset");
		msgpack_pack_uint64(&pk, offset);
		cli_pack_str(&pk, "limit");
		msgpack_pack_uint32(&pk, BUDDY_PAGE_MAX);
		rc = cli_call("journal", &params, &rep);
		msgpack_sbuffer_destroy(&params);
		if (rc)
			return rc;
		total = (uint64_t)cli_int(rep.result, "total");
		entries = buddy_mp_get(rep.result, "entries");
		if (!entries || entries->type != MSGPACK_OBJECT_ARRAY ||
		    (entries->via.array.size == 0 && offset < total)) {
			cli_reply_free(&rep);
			cli_err("buddyd answered with a malformed journal page");
			return EXIT_ERROR;
		}
		offset += entries->via.array.size;
		rc = fn(arg, entries);
		cli_reply_free(&rep);
		if (rc)
			return rc;
	} while (offset < total);
	return 0;
}

struct collect {
	bool json;
	json_t *all;
	size_t count;
};

static int collect_page(void *arg, const msgpack_object *entries)
{
	struct collect *c = arg;

	for (uint32_t i = 0; i < entries->via.array.size; i++) {
		if (c->json)
			json_array_append_new(c->all, cli_to_json(&entries->via.array.ptr[i]));
		else
			cli_print_entry(&entries->via.array.ptr[i]);
	}
	c->count += entries->via.array.size;
	return 0;
}

int cmd_journal(int argc, char **argv)
{
	static const struct option opts[] = {
		{"commit", required_argument, NULL, 'c'},
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"tag", required_argument, NULL, 't'},
		{"grep", required_argument, NULL, 'g'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *tags[BUDDY_TAGS_MAX];
	size_t ntags = 0, nf = 0;
	long last = 0;
	int64_t t;
	char *end;
	int c, rc;
	struct collect col = {0};
	msgpack_sbuffer f;
	msgpack_packer pk;

	msgpack_sbuffer_init(&f);
	msgpack_packer_init(&pk, &f, msgpack_sbuffer_write);
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli_pack_kv_str(&pk, "commit", optarg);
			nf++;
			break;
		case 's':
		case 'u':
			if (cli_parse_date(optarg, c == 'u', &t)) {
				msgpack_sbuffer_destroy(&f);
				return cli_usage_err("journal",
						     "%s takes a date YYYY-MM-DD, not \"%s\"",
						     c == 's' ? "--since" : "--until", optarg);
			}
			cli_pack_str(&pk, c == 's' ? "since" : "until");
			msgpack_pack_int64(&pk, t);
			nf++;
			break;
		case 't':
			if (ntags == BUDDY_TAGS_MAX) {
				msgpack_sbuffer_destroy(&f);
				return cli_usage_err("journal", "at most %d tags", BUDDY_TAGS_MAX);
			}
			tags[ntags++] = optarg;
			break;
		case 'g':
			cli_pack_kv_str(&pk, "grep", optarg);
			nf++;
			break;
		case 'n':
			errno = 0;
			last = strtol(optarg, &end, 10);
			if (errno || *end || last < 1 || last > BUDDY_PAGE_MAX) {
				msgpack_sbuffer_destroy(&f);
				return cli_usage_err("journal", "-n takes a count from 1 to %d",
						     BUDDY_PAGE_MAX);
			}
			break;
		case 'j':
			col.json = true;
			break;
		default:
			msgpack_sbuffer_destroy(&f);
			return cli_usage_err("journal", "unknown option");
		}
	}
	if (optind < argc) {
		msgpack_sbuffer_destroy(&f);
		return cli_usage_err("journal", "unexpected argument \"%s\"", argv[optind]);
	}
	if (ntags) {
		cli_pack_str(&pk, "tags");
		msgpack_pack_array(&pk, ntags);
		for (size_t i = 0; i < ntags; i++)
			cli_pack_str(&pk, tags[i]);
		nf++;
	}
	if (col.json)
		col.all = json_array();
	if (last) {
		struct cli_reply rep;
		msgpack_sbuffer params;
		msgpack_packer ppk;

		msgpack_sbuffer_init(&params);
		msgpack_packer_init(&ppk, &params, msgpack_sbuffer_write);
		msgpack_pack_map(&ppk, nf + 2);
		msgpack_sbuffer_write(&params, f.data, f.size);
		cli_pack_str(&ppk, "limit");
		msgpack_pack_uint32(&ppk, (uint32_t)last);
		cli_pack_str(&ppk, "tail");
		msgpack_pack_true(&ppk);
		rc = cli_call("journal", &params, &rep);
		msgpack_sbuffer_destroy(&params);
		if (rc == 0) {
			const msgpack_object *e = buddy_mp_get(rep.result, "entries");
			if (e && e->type == MSGPACK_OBJECT_ARRAY)
				collect_page(&col, e);
			cli_reply_free(&rep);
		}
	} else {
		rc = cli_journal_pages(&f, nf, collect_page, &col);
	}
	msgpack_sbuffer_destroy(&f);
	if (rc == 0 && col.json) {
		json_dumpf(col.all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (rc == 0 && col.count == 0) {
		printf("No entries%s.\n", nf ? " match" : " yet");
	}
	json_decref(col.all);
	return rc;
}
