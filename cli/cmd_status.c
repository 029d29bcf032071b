/* buddy status */
#include "cli.h"

#include <getopt.h>
#include <string.h>

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
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}
