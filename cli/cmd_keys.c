/* buddy unlock, lock, passwd: the journal's keys in the running daemon. */
#include "buddy/keys.h"
#include "buddy/mp.h"
#include "cli.h"

#include <getopt.h>
#include <sodium.h>
#include <string.h>

/* Whether the daemon's key file has a passphrase, and whether it is unlocked. */
static int ask_status(bool *has_pass, bool *unlocked)
{
	struct cli_reply rep;
	int rc = cli_call("status", NULL, &rep);

	if (rc)
		return rc;
	*has_pass = cli_bool(rep.result, "passphrase");
	*unlocked = !cli_bool(rep.result, "locked");
	cli_reply_free(&rep);
	return 0;
}

int cmd_unlock(int argc, char **argv)
{
	static const struct option opts[] = {
		{"passphrase-file", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	const char *passfile = NULL;
	bool has_pass, unlocked;
	struct cli_reply rep;
	msgpack_sbuffer params;
	msgpack_packer pk;
	char *pass = NULL;
	size_t len = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'p')
			return cli_usage_err("unlock", "unknown option");
		passfile = optarg;
	}
	if (optind < argc)
		return cli_usage_err("unlock", "unexpected argument \"%s\"", argv[optind]);
	rc = ask_status(&has_pass, &unlocked);
	if (rc)
		return rc;
	if (unlocked) {
		printf("The journal is already unlocked.\n");
		return EXIT_OK;
	}
	if (has_pass) {
		rc = cli_get_passphrase(passfile, "Passphrase: ", false, &pass, &len);
		if (rc)
			return rc;
	}
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, pass ? 1 : 0);
	if (pass) {
		buddy_mp_pack_cstr(&pk, "passphrase");
		buddy_mp_pack_bin(&pk, pass, len);
	}
	sodium_free(pass);
	rc = cli_call("unlock", &params, &rep);
	sodium_memzero(params.data, params.size);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("Unlocked.\n");
	return EXIT_OK;
}

int cmd_lock(int argc, char **argv)
{
	struct cli_reply rep;
	int rc;

	if (argc > 1)
		return cli_usage_err("lock", "unexpected argument \"%s\"", argv[1]);
	rc = cli_call("lock", NULL, &rep);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("Locked: the daemon holds no keys now.\n");
	return EXIT_OK;
}

int cmd_passwd(int argc, char **argv)
{
	static const struct option opts[] = {
		{"old-passphrase-file", required_argument, NULL, 'o'},
		{"new-passphrase-file", required_argument, NULL, 'n'},
		{"no-passphrase", no_argument, NULL, 'N'},
		{"kdf", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	const char *oldfile = NULL, *newfile = NULL, *kdf = "moderate";
	bool nopass = false, has_pass, unlocked;
	enum buddy_kdf_level lvl;
	char *old = NULL, *new_ = NULL;
	size_t oldlen = 0, newlen = 0;
	struct cli_reply rep;
	msgpack_sbuffer params;
	msgpack_packer pk;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			oldfile = optarg;
			break;
		case 'n':
			newfile = optarg;
			break;
		case 'N':
			nopass = true;
			break;
		case 'k':
			kdf = optarg;
			break;
		default:
			return cli_usage_err("passwd", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_err("passwd", "unexpected argument \"%s\"", argv[optind]);
	if (buddy_kdf_level_parse(kdf, &lvl))
		return cli_usage_err("passwd", "--kdf is interactive, moderate or sensitive");
	if (nopass && newfile)
		return cli_usage_err("passwd", "--no-passphrase and --new-passphrase-file exclude "
					       "each other");
	rc = ask_status(&has_pass, &unlocked);
	if (rc)
		return rc;
	if (has_pass) {
		rc = cli_get_passphrase(oldfile, "Current passphrase: ", false, &old, &oldlen);
		if (rc)
			return rc;
	}
	if (!nopass) {
		rc = cli_get_passphrase(newfile, "New passphrase: ", true, &new_, &newlen);
		if (rc) {
			sodium_free(old);
			return rc;
		}
	} else {
		fprintf(stderr, "buddy: warning: removing the passphrase: file permissions alone "
				"will protect your journal\n");
	}
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1 + !!old + !!new_);
	cli_pack_kv_str(&pk, "kdf", kdf);
	if (old) {
		buddy_mp_pack_cstr(&pk, "old");
		buddy_mp_pack_bin(&pk, old, oldlen);
	}
	if (new_) {
		buddy_mp_pack_cstr(&pk, "new");
		buddy_mp_pack_bin(&pk, new_, newlen);
	}
	sodium_free(old);
	sodium_free(new_);
	rc = cli_call("passwd", &params, &rep);
	sodium_memzero(params.data, params.size);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	cli_reply_free(&rep);
	printf("The passphrase was changed.\n");
	return EXIT_OK;
}
