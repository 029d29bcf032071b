/* buddy status */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <getopt.h>
#include <string.h>

/* Per buddy: "bob (online): sent 12, delivered 10, 2 waiting; received 7" (and a line when the
 * stream waits for the buddy since a restore), then the alerts. */
static void print_sync(const msgpack_object *r)
{
	const msgpack_object *sync = buddy_mp_get(r, "sync");
	int64_t alerts = cli_int(r, "alerts");

	for (uint32_t i = 0; i < cli_count(sync); i++) {
		const msgpack_object *b = &sync->via.array.ptr[i];
		fputs(i ? "             " : "sync         ", stdout);
		cli_print_field(b, "buddy", "", "");
		printf(" (%s): sent %lld, delivered %lld, %lld waiting; received %lld\n",
		       cli_bool(b, "online") ? "online" : "offline", (long long)cli_int(b, "sent"),
		       (long long)cli_int(b, "delivered"), (long long)cli_int(b, "waiting"),
		       (long long)cli_int(b, "received"));
		if (cli_bool(b, "restoring")) {
			char name[BUDDY_ID_MAX + 1];
			printf("             restored from a backup: nothing goes to %s until its "
			       "daemon says what it holds of yours\n",
			       cli_str(b, "buddy", name, sizeof(name)));
		}
	}
	if (alerts > 0)
		printf("alerts       %lld (see buddy show NAME)\n", (long long)alerts);
	if (cli_int(r, "unread") > 0)
		printf("inbox        %lld unread (see buddy inbox)\n",
		       (long long)cli_int(r, "unread"));
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	bool json = false;
	struct cli_reply rep;
	char s1[4200], s2[64], s3[64];
	const msgpack_object *r;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage_err("status", "unknown option");
		json = true;
	}
	if (optind < argc)
		return cli_usage_err("status", "unexpected argument \"%s\"", argv[optind]);
	rc = cli_call("status", NULL, &rep);
	if (rc)
		return rc;
	r = rep.result;
	if (json) {
		cli_print_json(stdout, r);
	} else {
		printf("home         %s\n", cli_str(r, "home", s1, sizeof(s1)));
		printf("daemon       buddyd %s, pid %lld\n", cli_str(r, "version", s2, sizeof(s2)),
		       (long long)cli_int(r, "pid"));
		printf("fingerprint  %s\n", cli_str(r, "fingerprint", s3, sizeof(s3)));
		printf("passphrase   %s\n", cli_bool(r, "passphrase") ? "yes" : "none");
		printf("journal      %s\n", cli_str(r, "state", s2, sizeof(s2)));
		if (!cli_bool(r, "locked"))
			printf("             %lld commitments (%lld archived), %lld entries\n",
			       (long long)cli_int(r, "commitments"),
			       (long long)cli_int(r, "archived"), (long long)cli_int(r, "entries"));
		print_sync(r);
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}
