/* buddy share, unshare, retract, cheer, comment: what goes to a buddy. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <getopt.h>
#include <sodium.h>
#include <string.h>

#define REACTION_TEXT_MAX 1000 /* proto/PROTOCOL.md 15.9 */

/* share and unshare: ID --with NAME */
static int share_call(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"with", required_argument, NULL, 'w'},
					     {NULL, 0, NULL, 0}};
	const char *with = NULL, *id;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'w')
			return cli_usage_err(cmd, "unknown option");
		if (with)
			return cli_usage_err(cmd, "give one buddy: --with NAME");
		with = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_err(cmd, "%s takes one commitment ID", cmd);
	if (!with)
		return cli_usage_err(cmd, "say which buddy: --with NAME");
	id = argv[optind];
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	cli_pack_kv_str(&pk, "commit", id);
	cli_pack_kv_str(&pk, "buddy", with);
	rc = cli_call(cmd, &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	if (strcmp(cmd, "share") == 0)
		printf("Sharing %s with %s: its check-ins go to %s from now on (past ones are not "
		       "sent).\n",
		       id, with, with);
	else
		printf("Stopped sharing %s with %s; what %s received stays with %s.\n", id, with,
		       with, with);
	return EXIT_OK;
}

int cmd_share(int argc, char **argv)
{
	return share_call("share", argc, argv);
}

int cmd_unshare(int argc, char **argv)
{
	return share_call("unshare", argc, argv);
}

/* Rejects options (so that "--" works before a text starting with '-'). */
static int no_options(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return cli_usage_err(cmd, "unknown option");
	return 0;
}

int cmd_retract(int argc, char **argv)
{
	const msgpack_object *from;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	uint64_t entry;
	size_t n;
	int rc;

	if ((rc = no_options("retract", argc, argv)))
		return rc;
	if (argc - optind != 1)
		return cli_usage_err("retract",
				     "retract takes one entry number (as in buddy journal)");
	if (cli_parse_entry_id(argv[optind], &entry))
		return cli_usage_err("retract", "\"%s\" is not an entry number (like 12 or #12)",
				     argv[optind]);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	cli_pack_str(&pk, "entry");
	msgpack_pack_uint64(&pk, entry);
	rc = cli_call("retract", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	from = buddy_mp_get(rep.result, "retracted_from");
	if (cli_count(from) == 0) {
		printf("Entry #%llu was not posted to any buddy: nothing to retract.\n",
		       (unsigned long long)entry);
	} else {
		printf("Retracted entry #%llu from ", (unsigned long long)entry);
		n = cli_print_names(from);
		printf(": %s its content with a retraction marker.\n",
		       n == 1 ? "their daemon replaces" : "their daemons replace");
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}

/* cheer NAME ENTRY [TEXT], comment NAME ENTRY TEXT */
static int react(const char *kind, int argc, char **argv)
{
	const char *name, *text = "";
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	bool comment = strcmp(kind, "comment") == 0;
	uint64_t entry;
	int rc;

	if ((rc = no_options(kind, argc, argv)))
		return rc;
	if (comment && argc - optind != 3)
		return cli_usage_err(kind, "comment takes a buddy's NAME, their ENTRY number and "
					   "the \"TEXT\"");
	if (!comment && (argc - optind < 2 || argc - optind > 3))
		return cli_usage_err(kind, "cheer takes a buddy's NAME, their ENTRY number and an "
					   "optional \"TEXT\"");
	name = argv[optind];
	if (cli_parse_entry_id(argv[optind + 1], &entry))
		return cli_usage_err(kind,
				     "\"%s\" is not an entry number: use the #N that buddy show "
				     "%s lists",
				     argv[optind + 1], name);
	if (argc - optind == 3)
		text = argv[optind + 2];
	if (comment && !text[0])
		return cli_usage_err(kind, "the comment is empty: nothing was sent");
	if (strlen(text) > REACTION_TEXT_MAX)
		return cli_usage_err(kind, "the text is longer than %d bytes", REACTION_TEXT_MAX);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	cli_pack_kv_str(&pk, "buddy", name);
	cli_pack_str(&pk, "entry");
	msgpack_pack_uint64(&pk, entry);
	cli_pack_kv_str(&pk, "kind", kind);
	cli_pack_kv_str(&pk, "text", text);
	rc = cli_call("react", &params, &rep);
	sodium_memzero(params.data, params.size);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("%s %s's entry #%llu; it reaches %s whenever your daemons are connected.\n",
	       comment ? "Commented on" : "Cheered", name, (unsigned long long)entry, name);
	return EXIT_OK;
}

int cmd_cheer(int argc, char **argv)
{
	return react("cheer", argc, argv);
}

int cmd_comment(int argc, char **argv)
{
	return react("comment", argc, argv);
}
