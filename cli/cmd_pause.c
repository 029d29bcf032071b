/* buddy pause: away from a commitment until a date, starting now. */
#include "buddy/cadence.h"
#include "buddy/pauses.h"
#include "cli.h"

#include <getopt.h>
#include <string.h>

int cmd_pause(int argc, char **argv)
{
	static const struct option opts[] = {{"until", required_argument, NULL, 'u'},
					     {"from", required_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *until = NULL, *reason = NULL, *id;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	int c, rc, y, m, d;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			until = optarg;
			break;
		case 'f':
			return cli_usage_err("pause", "a pause starts now: it cannot start in the "
						      "past or later, so there is no --from");
		default:
			return cli_usage_err("pause", "unknown option");
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_err("pause",
				     "pause takes a commitment ID and an optional REASON (quoted)");
	if (!until)
		return cli_usage_err("pause", "say until when: --until YYYY-MM-DD");
	if (buddy_date_parse(until, &y, &m, &d))
		return cli_usage_err("pause", "--until takes a date YYYY-MM-DD, not \"%s\"", until);
	id = argv[optind];
	if (argc - optind == 2)
		reason = argv[optind + 1];
	if (reason && strlen(reason) > BUDDY_PAUSE_REASON_MAX)
		return cli_usage_err("pause", "the reason is longer than %d bytes",
				     BUDDY_PAUSE_REASON_MAX);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + !!reason);
	cli_pack_kv_str(&pk, "commit", id);
	cli_pack_kv_str(&pk, "until", until);
	if (reason)
		cli_pack_kv_str(&pk, "reason", reason);
	rc = cli_call("pause", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("Paused %s from now to the end of %s (in its time zone); any buddy it is shared "
	       "with is told.\n",
	       id, until);
	return EXIT_OK;
}

#define PAUSES_SHOWN 10 /* the newest pauses a person is shown; --json has them all */

void cli_print_pauses(const msgpack_object *pauses, const char *indent)
{
	size_t n = cli_count(pauses), first = n > PAUSES_SHOWN ? n - PAUSES_SHOWN : 0;
	char from[32], more[32];

	snprintf(more, sizeof(more), "%s      ", indent);
	if (first)
		printf("%s(%zu earlier pause%s not shown)\n", indent, first, first == 1 ? "" : "s");
	for (size_t i = first; i < n; i++) {
		const msgpack_object *p = &pauses->via.array.ptr[i];

		cli_fmt_time(cli_int(p, "from"), from, sizeof(from));
		printf("%spaused %s to the end of ", indent, from);
		/* a buddy's words: printed through cli_print_text */
		if (!cli_print_field(p, "until", "", ""))
			fputs("?", stdout);
		cli_print_field(p, "reason", ": ", more);
		putchar('\n');
	}
}
