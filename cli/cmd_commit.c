/* buddy commit add|list|show|archive */
#include "buddy/cadence.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/text.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int parse_count(const char *s, const char *opt, uint32_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > BUDDY_CADENCE_N_MAX)
		return cli_usage_err("commit", "%s takes a count from 1 to %d, not \"%s\"", opt,
				     BUDDY_CADENCE_N_MAX, s);
	*out = (uint32_t)v;
	return 0;
}

static int commit_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{"daily", no_argument, NULL, 'd'},	   {"weekly", required_argument, NULL, 'w'},
		{"monthly", required_argument, NULL, 'm'}, {"by", required_argument, NULL, 'b'},
		{"tz", required_argument, NULL, 't'},	   {NULL, 0, NULL, 0},
	};
	const char *kind = NULL, *by = NULL, *id, *title;
	char tz[BUDDY_TZ_MAX + 1] = "";
	uint32_t n = 1;
	int cadences = 0, y, mo, d, c, rc;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			kind = "daily";
			cadences++;
			break;
		case 'w':
		case 'm':
			kind = c == 'w' ? "weekly" : "monthly";
			cadences++;
			if ((rc = parse_count(optarg, c == 'w' ? "--weekly" : "--monthly", &n)))
				return rc;
			break;
		case 'b':
			kind = "by";
			by = optarg;
			cadences++;
			if (buddy_date_parse(optarg, &y, &mo, &d))
				return cli_usage_err("commit",
						     "--by takes a date YYYY-MM-DD, not "
						     "\"%s\"",
						     optarg);
			break;
		case 't':
			if (strlen(optarg) > BUDDY_TZ_MAX || buddy_tz_valid(optarg))
				return cli_usage_err("commit",
						     "unknown time zone \"%s\" (use a "
						     "name like Europe/Berlin)",
						     optarg);
			snprintf(tz, sizeof(tz), "%s", optarg);
			break;
		default:
			return cli_usage_err("commit", "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_err("commit", "commit add takes an ID and a \"TITLE\"");
	id = argv[optind];
	title = argv[optind + 1];
	if (!buddy_text_slug_valid(id, strlen(id)))
		return cli_usage_err("commit",
				     "\"%s\" is not a valid id: use 1 to 32 of a-z, 0-9, "
				     "'-' and '_', starting with a letter or digit",
				     id);
	if (cadences != 1)
		return cli_usage_err("commit", "give exactly one of --daily, --weekly N, "
					       "--monthly N, --by DATE");
	if (!tz[0])
		cli_local_tz(tz, sizeof(tz));
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	cli_pack_kv_str(&pk, "id", id);
	cli_pack_kv_str(&pk, "title", title);
	cli_pack_str(&pk, "cadence");
	msgpack_pack_map(&pk, by ? 3 : 2);
	cli_pack_kv_str(&pk, "kind", kind);
	cli_pack_str(&pk, "n");
	msgpack_pack_uint32(&pk, n);
	if (by)
		cli_pack_kv_str(&pk, "by", by);
	cli_pack_kv_str(&pk, "tz", tz);
	rc = cli_call("commit.add", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("Added commitment %s (time zone %s).\n", id, tz);
	return EXIT_OK;
}

static void print_commitment_line(const msgpack_object *c)
{
	char id[BUDDY_ID_MAX + 1], title[BUDDY_TITLE_MAX + 1], cad[48], tz[BUDDY_TZ_MAX + 1];
	const msgpack_object *arch = buddy_mp_get(c, "archived");

	const msgpack_object *with = buddy_mp_get(c, "shared_with");

	cli_fmt_cadence(buddy_mp_get(c, "cadence"), cad, sizeof(cad));
	printf("%-12s %-14s %4lld check-ins  %s%s  (%s)", cli_str(c, "id", id, sizeof(id)), cad,
	       (long long)cli_int(c, "checkins"), cli_str(c, "title", title, sizeof(title)),
	       arch && arch->type != MSGPACK_OBJECT_NIL ? " [archived]" : "",
	       cli_str(c, "tz", tz, sizeof(tz)));
	if (cli_count(with)) {
		fputs("  shared with ", stdout);
		cli_print_names(with);
	}
	putchar('\n');
}

static int commit_list(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"json", no_argument, NULL, 'j'},
					     {NULL, 0, NULL, 0}};
	bool all = false, json = false;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'j')
			json = true;
		else
			return cli_usage_err("commit", "unknown option");
	}
	if (optind < argc)
		return cli_usage_err("commit", "unexpected argument \"%s\"", argv[optind]);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	cli_pack_str(&pk, "all");
	all ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	rc = cli_call("commit.list", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	if (json) {
		cli_print_json(stdout, rep.result);
	} else if (rep.result->type == MSGPACK_OBJECT_ARRAY) {
		if (rep.result->via.array.size == 0)
			printf("No %scommitments yet. Add one with: buddy commit add ID \"TITLE\" "
			       "--weekly 3\n",
			       all ? "" : "active ");
		for (uint32_t i = 0; i < rep.result->via.array.size; i++)
			print_commitment_line(&rep.result->via.array.ptr[i]);
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}

static int one_id_call(const char *sub, const char *method, int argc, char **argv, bool *json,
		       struct cli_reply *rep)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	msgpack_sbuffer params;
	msgpack_packer pk;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j' || !json)
			return cli_usage_err("commit", "unknown option");
		*json = true;
	}
	if (argc - optind != 1)
		return cli_usage_err("commit", "commit %s takes one ID", sub);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	cli_pack_kv_str(&pk, "id", argv[optind]);
	rc = cli_call(method, &params, rep);
	msgpack_sbuffer_destroy(&params);
	return rc;
}

static int commit_show(int argc, char **argv)
{
	bool json = false;
	/* set even though one_id_call fills it whenever it returns 0 (its usage errors return
	 * cli_usage_err's EXIT_USAGE, which the analyzer cannot see from this file) */
	struct cli_reply rep = {0};
	const msgpack_object *recent;
	int rc = one_id_call("show", "commit.show", argc, argv, &json, &rep);

	if (rc)
		return rc;
	if (json) {
		cli_print_json(stdout, rep.result);
	} else {
		char created[32];
		print_commitment_line(buddy_mp_get(rep.result, "commitment"));
		cli_fmt_date(cli_int(buddy_mp_get(rep.result, "commitment"), "created"), created,
			     sizeof(created));
		printf("since %s\n", created);
		cli_print_pauses(buddy_mp_get(rep.result, "pauses"), "");
		putchar('\n');
		cli_print_stats(buddy_mp_get(rep.result, "stats"));
		recent = buddy_mp_get(rep.result, "recent");
		if (recent && recent->type == MSGPACK_OBJECT_ARRAY && recent->via.array.size) {
			printf("\nRecent:\n");
			for (uint32_t i = 0; i < recent->via.array.size; i++)
				cli_print_entry(&recent->via.array.ptr[i]);
		}
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}

static int commit_archive(int argc, char **argv)
{
	struct cli_reply rep;
	int rc = one_id_call("archive", "commit.archive", argc, argv, NULL, &rep);

	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("Archived %s; its history stays in the journal.\n", argv[argc - 1]);
	return EXIT_OK;
}

int cmd_commit(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {{"add", commit_add},
		    {"list", commit_list},
		    {"show", commit_show},
		    {"archive", commit_archive}};

	if (argc < 2)
		return cli_usage_err("commit", "say what to do: add, list, show or archive");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	return cli_usage_err("commit", "no subcommand \"%s\" (add, list, show, archive)", argv[1]);
}
