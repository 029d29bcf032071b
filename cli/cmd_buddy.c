/* buddy invite, accept, buddies, verify, rename, revoke: pairing and managing buddies. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* "30m", "12h", "7d", or plain seconds. */
static int parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -1;
	if (*end == 'm')
		v *= 60, end++;
	else if (*end == 'h')
		v *= 3600, end++;
	else if (*end == 'd')
		v *= 86400, end++;
	else if (*end == 's')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int cmd_invite(int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'},
		{"expires", required_argument, NULL, 'e'},
		{"address", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	const char *name = NULL, *addrs[BUDDY_PEER_ADDRS_MAX];
	size_t naddrs = 0;
	int64_t expires = 0;
	char when[32], s[BUDDY_PEER_NAME_MAX + 1];
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'e':
			if (parse_duration(optarg, &expires))
				return cli_usage_err("invite",
						     "--expires takes a duration like 30m, "
						     "12h or 7d, not \"%s\"",
						     optarg);
			break;
		case 'a':
			if (naddrs == BUDDY_PEER_ADDRS_MAX)
				return cli_usage_err("invite", "at most %d addresses",
						     BUDDY_PEER_ADDRS_MAX);
			addrs[naddrs++] = optarg;
			break;
		default:
			return cli_usage_err("invite", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_err("invite", "unexpected argument \"%s\"", argv[optind]);
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, !!name + !!expires + !!naddrs);
	if (name)
		cli_pack_kv_str(&pk, "name", name);
	if (expires) {
		cli_pack_str(&pk, "expires");
		msgpack_pack_int64(&pk, expires);
	}
	if (naddrs) {
		cli_pack_str(&pk, "addresses");
		msgpack_pack_array(&pk, naddrs);
		for (size_t i = 0; i < naddrs; i++)
			cli_pack_str(&pk, addrs[i]);
	}
	rc = cli_call("invite", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	cli_fmt_time(cli_int(rep.result, "expires"), when, sizeof(when));
	/* the code alone on stdout, so it can be piped; the rest for the person */
	fprintf(stderr,
		"Give your buddy this one-time code (valid until %s); they run:\n"
		"  buddy accept CODE --name YOUR-NAME\n",
		when);
	{
		const msgpack_object *code = buddy_mp_get(rep.result, "code");
		if (code && code->type == MSGPACK_OBJECT_STR)
			printf("%.*s\n", (int)code->via.str.size, code->via.str.ptr);
	}
	fprintf(stderr,
		"Once paired they will be called \"%s\" here (buddy rename to change it).\n",
		cli_str(rep.result, "name", s, sizeof(s)));
	cli_reply_free(&rep);
	return EXIT_OK;
}

int cmd_accept(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	const char *name = NULL;
	char s1[BUDDY_PEER_NAME_MAX + 1], s2[64];
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'n')
			return cli_usage_err("accept", "unknown option");
		name = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_err("accept", "accept takes the CODE your buddy gave you");
	if (!name)
		return cli_usage_err("accept", "say what to call this buddy: --name NAME");
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	cli_pack_kv_str(&pk, "code", argv[optind]);
	cli_pack_kv_str(&pk, "name", name);
	rc = cli_call("accept", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	printf("Paired with %s (fingerprint %s).\n", cli_str(rep.result, "name", s1, sizeof(s1)),
	       cli_str(rep.result, "fingerprint", s2, sizeof(s2)));
	printf("Now compare your safety number with them: buddy verify %s\n", s1);
	cli_reply_free(&rep);
	return EXIT_OK;
}

/* buddy buddies --wait NAME: returns once NAME is online (or offline), for scripts. */
static int wait_for(const char *name, bool online, int64_t timeout_s)
{
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	bool got;
	int rc;

	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	cli_pack_kv_str(&pk, "name", name);
	cli_pack_str(&pk, "online");
	online ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	cli_pack_str(&pk, "timeout_ms");
	msgpack_pack_int64(&pk, timeout_s * 1000);
	rc = cli_call("buddies.wait", &params, &rep);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	got = cli_bool(rep.result, "online");
	cli_reply_free(&rep);
	if (got != online) {
		cli_err("%s is still %s after %lld s", name, got ? "online" : "offline",
			(long long)timeout_s);
		return EXIT_ERROR;
	}
	printf("%s is %s.\n", name, got ? "online" : "offline");
	return EXIT_OK;
}

/* One buddy in two lines:
 *   bob   FINGERPRINT  online   verified    last seen 2026-11-28 10:00
 *         posts: sent 12, delivered 10, received 7; sharing run, book */
static void print_buddy(const msgpack_object *b)
{
	const msgpack_object *shared = buddy_mp_get(b, "shared");
	char name[BUDDY_PEER_NAME_MAX + 1], fp[64], when[32] = "never";

	if (cli_is_set(b, "last_seen"))
		cli_fmt_time(cli_int(b, "last_seen"), when, sizeof(when));
	printf("%-16s %s  %-8s %s  last seen %s%s\n", cli_str(b, "name", name, sizeof(name)),
	       cli_str(b, "fingerprint", fp, sizeof(fp)),
	       cli_is_set(b, "revoked") ? "revoked"
	       : cli_bool(b, "online")	? "online"
					: "offline",
	       cli_bool(b, "verified") ? "verified  " : "unverified", when,
	       cli_bool(b, "ended_by_them") ? "  (ended the pairing)" : "");
	if (!buddy_mp_get(b, "sent"))
		return; /* a daemon from before share streams */
	printf("%-16s posts: sent %lld, delivered %lld, received %lld; ", "",
	       (long long)cli_int(b, "sent"), (long long)cli_int(b, "delivered"),
	       (long long)cli_int(b, "received"));
	if (cli_count(shared)) {
		fputs("sharing ", stdout);
		cli_print_names(shared);
		putchar('\n');
	} else {
		fputs("sharing nothing\n", stdout);
	}
}

int cmd_buddies(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"wait", required_argument, NULL, 'w'},
					     {"offline", no_argument, NULL, 'o'},
					     {"timeout", required_argument, NULL, 't'},
					     {NULL, 0, NULL, 0}};
	bool json = false, offline = false;
	const char *wait = NULL;
	int64_t timeout = 30;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'w')
			wait = optarg;
		else if (c == 'o')
			offline = true;
		else if (c == 't' && parse_duration(optarg, &timeout) == 0 && timeout <= 600)
			continue;
		else
			return cli_usage_err("buddies", c == 't' ? "--timeout is 1s to 10m"
								 : "unknown option");
	}
	if (optind < argc)
		return cli_usage_err("buddies", "unexpected argument \"%s\"", argv[optind]);
	if (wait)
		return wait_for(wait, !offline, timeout);
	rc = cli_call("buddies", NULL, &rep);
	if (rc)
		return rc;
	if (json) {
		cli_print_json(stdout, rep.result);
	} else if (rep.result->type == MSGPACK_OBJECT_ARRAY) {
		if (rep.result->via.array.size == 0)
			printf("No buddies yet. Invite one with: buddy invite --name NAME\n");
		for (uint32_t i = 0; i < rep.result->via.array.size; i++)
			print_buddy(&rep.result->via.array.ptr[i]);
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}

static int call_named(const char *method, const char *name, const char *k2, const char *v2,
		      const char *boolkey, bool boolval, struct cli_reply *rep)
{
	msgpack_sbuffer params;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1 + !!k2 + !!boolkey);
	cli_pack_kv_str(&pk, "name", name);
	if (k2)
		cli_pack_kv_str(&pk, k2, v2);
	if (boolkey) {
		cli_pack_str(&pk, boolkey);
		boolval ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	}
	rc = cli_call(method, &params, rep);
	msgpack_sbuffer_destroy(&params);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {{"confirm", no_argument, NULL, 'c'},
					     {"json", no_argument, NULL, 'j'},
					     {NULL, 0, NULL, 0}};
	bool confirm = false, json = false;
	char sn[80];
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			confirm = true;
		else if (c == 'j')
			json = true;
		else
			return cli_usage_err("verify", "unknown option");
	}
	if (confirm && json)
		return cli_usage_err("verify", "--json reads the safety number; --confirm records");
	if (argc - optind != 1)
		return cli_usage_err("verify", "verify takes a buddy's NAME");
	rc = call_named("verify", argv[optind], NULL, NULL, "confirm", confirm, &rep);
	if (rc)
		return rc;
	if (confirm) {
		printf("%s is marked verified.\n", argv[optind]);
	} else if (json) {
		cli_print_json(stdout, rep.result);
	} else {
		printf("Safety number with %s:\n\n  %s\n\n", argv[optind],
		       cli_str(rep.result, "safety_number", sn, sizeof(sn)));
		if (cli_bool(rep.result, "verified"))
			printf("Already verified.\n");
		else
			printf("Read it to each other (in person or on a call you trust). If both\n"
			       "show the same digits, run: buddy verify %s --confirm\n",
			       argv[optind]);
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}

int cmd_rename(int argc, char **argv)
{
	struct cli_reply rep;
	int rc;

	if (argc != 3)
		return cli_usage_err("rename", "rename takes OLD and NEW names");
	rc = call_named("rename", argv[1], "new", argv[2], NULL, false, &rep);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("Renamed %s to %s.\n", argv[1], argv[2]);
	return EXIT_OK;
}

int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {{"forget", no_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	bool forget = false;
	struct cli_reply rep;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'f')
			return cli_usage_err("revoke", "unknown option");
		forget = true;
	}
	if (argc - optind != 1)
		return cli_usage_err("revoke", "revoke takes a buddy's NAME");
	rc = call_named("revoke", argv[optind], NULL, NULL, "forget", forget, &rep);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("Revoked %s: no connection from or to their key is accepted any more.\n",
	       argv[optind]);
	return EXIT_OK;
}
