/* buddy init: the one command that writes the home itself, before any daemon exists. */
#include "buddy/error.h"
#include "buddy/home.h"
#include "buddy/keys.h"
#include "cli.h"

#include <getopt.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"passphrase-file", required_argument, NULL, 'p'},
		{"no-passphrase", no_argument, NULL, 'n'},
		{"kdf", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	enum buddy_kdf_level lvl = BUDDY_KDF_MODERATE;
	const char *passfile = NULL;
	bool nopass = false;
	char fp[BUDDY_FINGERPRINT_LEN + 1];
	struct buddy_secrets *sec = NULL;
	struct buddy_home h;
	char *pass = NULL;
	size_t len = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			passfile = optarg;
			break;
		case 'n':
			nopass = true;
			break;
		case 'k':
			if (buddy_kdf_level_parse(optarg, &lvl))
				return cli_usage_err("init",
						     "--kdf is interactive, moderate or "
						     "sensitive, not \"%s\"",
						     optarg);
			break;
		default:
			return cli_usage_err("init", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_err("init", "unexpected argument \"%s\"", argv[optind]);
	if (nopass && passfile)
		return cli_usage_err("init", "--no-passphrase and --passphrase-file exclude each "
					     "other");
	if (buddy_home_resolve(&h)) {
		cli_err("cannot find where to create the buddy home: set BUDDY_HOME to an absolute "
			"path (short enough for a socket path)");
		return EXIT_USAGE;
	}
	if (access(h.keys, F_OK) == 0) {
		cli_err("a buddy home exists already at %s; nothing was changed", h.dir);
		return EXIT_EXISTS;
	}
	/* the passphrase first: a mistyped confirmation leaves nothing behind */
	if (nopass) {
		lvl = BUDDY_KDF_NONE;
		fprintf(stderr,
			"buddy: warning: no passphrase: anyone who can read %s can read "
			"your journal\n",
			h.dir);
	} else {
		rc = cli_get_passphrase(passfile, "New passphrase: ", true, &pass, &len);
		if (rc)
			return rc;
	}
	rc = buddy_home_create(&h);
	if (rc == BUDDY_E_EXISTS) {
		cli_err("a buddy home exists already at %s; nothing was changed", h.dir);
		sodium_free(pass);
		return EXIT_EXISTS;
	}
	if (rc) {
		cli_err("cannot create the buddy home at %s: %s", h.dir, buddy_strerror(rc));
		sodium_free(pass);
		return EXIT_ERROR;
	}
	rc = buddy_keys_create(h.keys, pass, len, lvl, &sec);
	sodium_free(pass);
	if (rc) {
		cli_err("cannot create the keys in %s: %s", h.keys, buddy_strerror(rc));
		return rc == BUDDY_E_EXISTS ? EXIT_EXISTS : EXIT_ERROR;
	}
	buddy_keys_fingerprint(sec->sign_pk, fp);
	buddy_secrets_free(sec);
	printf("Created the buddy home %s\n", h.dir);
	printf("Your fingerprint: %s\n", fp);
	printf("Next: start the daemon with `buddyd &`%s\n", nopass ? "" : ", then `buddy unlock`");
	return EXIT_OK;
}
