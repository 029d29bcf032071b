/* buddy stats: per-period progress, streaks and completion rate. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_print_stats(const msgpack_object *s)
{
	char id[BUDDY_ID_MAX + 1], title[BUDDY_TITLE_MAX + 1], from[16], to[16],
		tz[BUDDY_TZ_MAX + 1];
	char *saved;
	const msgpack_object *periods = buddy_mp_get(s, "periods");
	int64_t counted = cli_int(s, "counted");

	if (!s)
		return;
	printf("%s  %s\n", cli_str(s, "id", id, sizeof(id)),
	       cli_str(s, "title", title, sizeof(title)));
	printf("  streak %lld (longest %lld); %lld of %lld periods met",
	       (long long)cli_int(s, "current_streak"), (long long)cli_int(s, "longest_streak"),
	       (long long)cli_int(s, "met"), (long long)counted);
	if (counted)
		printf(" (%.0f%%)", 100.0 * cli_double(s, "rate"));
	putchar('\n');
	if (!periods || periods->type != MSGPACK_OBJECT_ARRAY)
		return;
	/* periods are days, weeks and months of the commitment's own time zone */
	cli_str(s, "tz", tz, sizeof(tz));
	saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	if (tz[0])
		setenv("TZ", tz, 1);
	tzset();
	for (uint32_t i = periods->via.array.size; i-- > 0;) {
		const msgpack_object *p = &periods->via.array.ptr[i];
		int64_t partial = cli_int(p, "partial"), skipped = cli_int(p, "skipped");
		cli_fmt_date(cli_int(p, "start"), from, sizeof(from));
		/* the end is exclusive: show the last day inside the period */
		cli_fmt_date(cli_int(p, "end") - 1, to, sizeof(to));
		printf("  %s", from);
		if (strcmp(from, to))
			printf(" .. %s", to);
		printf("  %lld/%lld done", (long long)cli_int(p, "done"),
		       (long long)cli_int(p, "required"));
		if (partial)
			printf(", %lld partial", (long long)partial);
		if (skipped)
			printf(", %lld skipped", (long long)skipped);
		printf("  %s\n", cli_bool(p, "met")	  ? "met"
				 : cli_bool(p, "current") ? "in progress"
							  : "missed");
	}
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	bool json = false;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage_err("stats", "unknown option");
		json = true;
	}
	if (argc - optind > 1)
		return cli_usage_err("stats", "stats takes at most one commitment ID");
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, argc - optind == 1 ? 2 : 1);
	if (argc - optind == 1)
		cli_pack_kv_str(&pk, "id", argv[optind]);
	cli_pack_str(&pk, "periods");
	msgpack_pack_uint32(&pk, json ? 0 : 8);
	rc = cli_call("stats", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	if (json) {
		cli_print_json(stdout, rep.result);
	} else if (rep.result->type == MSGPACK_OBJECT_ARRAY) {
		if (rep.result->via.array.size == 0)
			printf("No active commitments.\n");
		for (uint32_t i = 0; i < rep.result->via.array.size; i++) {
			if (i)
				putchar('\n');
			cli_print_stats(&rep.result->via.array.ptr[i]);
		}
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}
