/* buddy init: the one command that writes the home itself, before any daemon exists. */
#include "buddy/error.h"
#include "buddy/home.h"
#include "buddy/keys.h"
#include "buddy/paperkey.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

/* The paper key goes to the terminal that asked for it and nowhere else (not stdout, which may
 * be a file or a pipe): shown once, then cleared from the screen after Enter. */
static int show_paper_key(int tty, const uint8_t seed[32])
{
	char *words = sodium_malloc(BUDDY_PAPERKEY_TEXT_MAX);
	char *line = sodium_malloc(128), *w, *save = NULL, c;
	int rc = 0;

	if (!words || !line) {
		sodium_free(words);
		sodium_free(line);
		return EXIT_ERROR;
	}
	buddy_paperkey_encode(seed, words);
	dprintf(tty,
		"\nYour paper key: 24 words that are your identity. Write them down, in order, "
		"and keep\nthe paper like a passphrase: whoever has it can be you to your "
		"buddies. It brings\nyour identity back (not your journal: for that, buddy "
		"backup) with\n`buddy restore --paper-key`.\n\n");
	w = strtok_r(words, " ", &save);
	for (int i = 1; w; i++, w = strtok_r(NULL, " ", &save)) {
		int n = snprintf(line, 128, "%4d %-10s%s", i, w, i % 4 ? "" : "\n");
		if (n < 0 || write(tty, line, (size_t)n) != n)
			rc = EXIT_ERROR;
	}
	sodium_free(words);
	sodium_free(line);
	dprintf(tty, "\nPress Enter once you have written them down: they are then cleared from "
		     "the screen.");
	while (read(tty, &c, 1) == 1 && c != '\n')
		;
	/* home, clear the screen and, where the terminal keeps one, its scrollback */
	dprintf(tty, "\033[H\033[2J\033[3J");
	return rc;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"passphrase-file", required_argument, NULL, 'p'},
		{"no-passphrase", no_argument, NULL, 'n'},
		{"kdf", required_argument, NULL, 'k'},
		{"paper-key", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	enum buddy_kdf_level lvl = BUDDY_KDF_MODERATE;
	const char *passfile = NULL;
	bool nopass = false, paper = false;
	int tty = -1;
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
		case 'P':
			paper = true;
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
	/* an interrupted restore's journal must not end up under a new key file */
	cli_recover_home(&h);
	if (access(h.keys, F_OK) == 0) {
		cli_err("a buddy home exists already at %s; nothing was changed", h.dir);
		return EXIT_EXISTS;
	}
	/* before anything is made: the words are shown on a terminal or not at all */
	if (paper && (tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return cli_usage_err("init",
				     "--paper-key shows the words on your terminal, and "
				     "there is none (%s); nothing was changed",
				     strerror(errno));
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
			goto fail;
	}
	rc = buddy_home_create(&h);
	if (rc == BUDDY_E_EXISTS) {
		cli_err("a buddy home exists already at %s; nothing was changed", h.dir);
		rc = EXIT_EXISTS;
		goto fail;
	}
	if (rc) {
		cli_err("cannot create the buddy home at %s: %s", h.dir, buddy_strerror(rc));
		rc = EXIT_ERROR;
		goto fail;
	}
	rc = buddy_keys_create(h.keys, pass, len, lvl, &sec);
	sodium_free(pass);
	pass = NULL;
	if (rc) {
		cli_err("cannot create the keys in %s: %s", h.keys, buddy_strerror(rc));
		rc = rc == BUDDY_E_EXISTS ? EXIT_EXISTS : EXIT_ERROR;
		goto fail;
	}
	buddy_keys_fingerprint(sec->sign_pk, fp);
	/* libsodium's secret key starts with the seed */
	if (paper && show_paper_key(tty, sec->sign_sk))
		cli_err("the paper key could not be shown in full: write down no partial one; "
			"the home was created");
	if (tty >= 0)
		close(tty);
	buddy_secrets_free(sec);
	printf("Created the buddy home %s\n", h.dir);
	printf("Your fingerprint: %s\n", fp);
	printf("Next: start the daemon with `buddyd &`%s\n", nopass ? "" : ", then `buddy unlock`");
	return EXIT_OK;
fail:
	sodium_free(pass);
	if (tty >= 0)
		close(tty);
	return rc;
}
