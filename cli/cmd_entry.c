/* buddy checkin, buddy log: writing entries. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/text.h"
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "5km" -> 5 and "km"; "2.5" -> 2.5 and "". */
static int parse_value(const char *s, double *v, char unit[BUDDY_UNIT_MAX + 1])
{
	char *end;

	*v = strtod(s, &end);
	if (end == s || !isfinite(*v))
		return -1;
	while (*end == ' ')
		end++;
	if (strlen(end) > BUDDY_UNIT_MAX || strchr(end, ' ') ||
	    !buddy_text_valid(end, strlen(end), false))
		return -1;
	snprintf(unit, BUDDY_UNIT_MAX + 1, "%s", end);
	return 0;
}

static void pack_text(msgpack_packer *pk, const char *text, size_t len)
{
	cli_pack_str(pk, "text");
	buddy_mp_pack_strn(pk, text, len);
}

/* "Checked in on run: done (entry #3), shared with bob." or "..., private." */
static int report_id(struct cli_reply *rep, const char *what)
{
	const msgpack_object *with = buddy_mp_get(rep->result, "shared_with");

	printf("%s (entry #%lld)", what, (long long)cli_int(rep->result, "id"));
	if (cli_count(with)) {
		fputs(", shared with ", stdout);
		cli_print_names(with);
	} else if (with) {
		fputs(", private", stdout);
	}
	fputs(".\n", stdout);
	cli_reply_free(rep);
	return EXIT_OK;
}

int cmd_checkin(int argc, char **argv)
{
	static const struct option opts[] = {
		{"done", no_argument, NULL, 'd'},    {"partial", no_argument, NULL, 'p'},
		{"skip", no_argument, NULL, 's'},    {"value", required_argument, NULL, 'v'},
		{"private", no_argument, NULL, 'P'}, {NULL, 0, NULL, 0},
	};
	const char *status = NULL, *text = NULL, *id;
	char unit[BUDDY_UNIT_MAX + 1] = "", what[128];
	bool has_value = false, private = false;
	double value = 0;
	int statuses = 0, c, rc;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			status = "done";
			statuses++;
			break;
		case 'p':
			status = "partial";
			statuses++;
			break;
		case 's':
			status = "skip";
			statuses++;
			break;
		case 'v':
			if (parse_value(optarg, &value, unit))
				return cli_usage_err("checkin",
						     "--value takes a number with an "
						     "optional unit, like 5km or 2.5, not "
						     "\"%s\"",
						     optarg);
			has_value = true;
			break;
		case 'P':
			private
			= true;
			break;
		default:
			return cli_usage_err("checkin", "unknown option");
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_err("checkin",
				     "checkin takes a commitment ID and an optional TEXT");
	if (statuses != 1)
		return cli_usage_err("checkin", "give exactly one of --done, --partial, --skip");
	id = argv[optind];
	if (argc - optind == 2)
		text = argv[optind + 1];
	if (text && strlen(text) > BUDDY_TEXT_MAX)
		return cli_usage_err("checkin", "the text is longer than %d bytes", BUDDY_TEXT_MAX);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + !!text + has_value + (unit[0] != 0) + private);
	cli_pack_kv_str(&pk, "commit", id);
	cli_pack_kv_str(&pk, "status", status);
	if (text)
		pack_text(&pk, text, strlen(text));
	if (has_value) {
		cli_pack_str(&pk, "value");
		msgpack_pack_double(&pk, value);
	}
	if (unit[0])
		cli_pack_kv_str(&pk, "unit", unit);
	if (private) {
		cli_pack_str(&pk, "private");
		msgpack_pack_true(&pk);
	}
	rc = cli_call("checkin", &params, &rep);
	sodium_memzero(params.data, params.size);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "Checked in on %s: %s", id, status);
	return report_id(&rep, what);
}

/* Reads all of stdin (at most BUDDY_TEXT_MAX bytes) into memory; never a temporary file. */
static int read_stdin(char **out, size_t *len)
{
	size_t cap = BUDDY_TEXT_MAX + 1, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return EXIT_ERROR;
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "Write your note, then press Ctrl-D on a new line:\n");
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
		if (r < 0) {
			sodium_memzero(buf, cap);
			free(buf);
			cli_err("cannot read the note from standard input");
			return EXIT_ERROR;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			sodium_memzero(buf, cap);
			free(buf);
			cli_err("the note is longer than %d bytes", BUDDY_TEXT_MAX);
			return EXIT_USAGE;
		}
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	*out = buf;
	*len = n;
	return 0;
}

/* with has room for argc names: each --share-with takes at least one argument */
static int log_note(int argc, char **argv, const char **with)
{
	static const struct option opts[] = {
		{"commit", required_argument, NULL, 'c'},
		{"tag", required_argument, NULL, 't'},
		{"share-with", required_argument, NULL, 'w'},
		{"share", no_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	const char *commit = NULL, *tags[BUDDY_TAGS_MAX];
	char *input = NULL;
	const char *text;
	size_t ntags = 0, nwith = 0, len;
	bool share = false;
	int c, rc;
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			commit = optarg;
			break;
		case 't':
			if (ntags == BUDDY_TAGS_MAX)
				return cli_usage_err("log", "at most %d tags", BUDDY_TAGS_MAX);
			if (!buddy_text_tag_valid(optarg, strlen(optarg)))
				return cli_usage_err("log",
						     "\"%s\" is not a tag: 1 to %d bytes "
						     "without spaces or commas",
						     optarg, BUDDY_TAG_MAX);
			tags[ntags++] = optarg;
			break;
		case 'w':
			if (strlen(optarg) == 0 || strlen(optarg) > BUDDY_PEER_NAME_MAX)
				return cli_usage_err("log",
						     "--share-with takes a buddy's name (1 to %d "
						     "bytes), not \"%s\"",
						     BUDDY_PEER_NAME_MAX, optarg);
			with[nwith++] = optarg;
			break;
		case 's':
			share = true;
			break;
		default:
			return cli_usage_err("log", "unknown option");
		}
	}
	if (argc - optind > 1)
		return cli_usage_err("log", "put the note in quotes: buddy log \"TEXT\"");
	if (share && !commit)
		return cli_usage_err("log",
				     "--share posts the note to the buddies of a commitment: "
				     "give it with --commit ID");
	if (argc - optind == 1 && strcmp(argv[optind], "-") != 0) {
		text = argv[optind];
		len = strlen(text);
		if (len > BUDDY_TEXT_MAX)
			return cli_usage_err("log", "the note is longer than %d bytes",
					     BUDDY_TEXT_MAX);
	} else {
		rc = read_stdin(&input, &len);
		if (rc)
			return rc;
		text = input;
	}
	if (len == 0) {
		free(input);
		return cli_usage_err("log", "the note is empty: nothing was written");
	}
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1 + !!commit + (ntags > 0) + (nwith > 0) + share);
	pack_text(&pk, text, len);
	if (commit)
		cli_pack_kv_str(&pk, "commit", commit);
	if (ntags) {
		cli_pack_str(&pk, "tags");
		msgpack_pack_array(&pk, ntags);
		for (size_t i = 0; i < ntags; i++)
			cli_pack_str(&pk, tags[i]);
	}
	if (nwith) {
		cli_pack_str(&pk, "share_with");
		msgpack_pack_array(&pk, nwith);
		for (size_t i = 0; i < nwith; i++)
			cli_pack_str(&pk, with[i]);
	}
	if (share) {
		cli_pack_str(&pk, "share");
		msgpack_pack_true(&pk);
	}
	if (input) {
		sodium_memzero(input, BUDDY_TEXT_MAX + 1);
		free(input);
	}
	rc = cli_call("log", &params, &rep);
	sodium_memzero(params.data, params.size);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	return report_id(&rep, "Written");
}

int cmd_log(int argc, char **argv)
{
	const char **with = calloc((size_t)argc + 1, sizeof(*with));
	int rc;

	if (!with) {
		cli_err("out of memory");
		return EXIT_ERROR;
	}
	rc = log_note(argc, argv, with);
	free(with);
	return rc;
}
