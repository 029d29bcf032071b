/* buddy restore: a new home from a backup file (proto/BACKUP.md) or from a paper key. Like
 * init, it runs here, with no daemon. The home is built in a directory beside its place, or in
 * it when it is a directory already (daemon/home.c, buddy_home_stage), and moved there only
 * when everything is in and checked,
 * so a failure leaves nothing half-written; that directory only ever holds what is encrypted
 * anyway: the journal's segment files as the backup carries them, and the sealed key file.
 *
 * A restored journal is proved the way buddyd would open it (store + journal replay: every
 * record authenticates and applies), then gets one record of type 43 (restored, with when the
 * backup was made: 0 for a paper key) so the daemon knows its share streams may be behind what
 * its buddies hold (proto/PROTOCOL.md 15.11). */
#include "buddy/backup.h"
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/error.h"
#include "buddy/events.h"
#include "buddy/fdio.h"
#include "buddy/home.h"
#include "buddy/journal.h"
#include "buddy/keys.h"
#include "buddy/paperkey.h"
#include "buddy/store.h"
#include "buddy/streams.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAMES_SHOWN 5

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct restore {
	struct buddy_home h;	/* where the home goes */
	struct buddy_staged st; /* where it is built */
	bool staged;
	/* the segment file being written */
	int fd;
	uint64_t want, got;
	char path[BUDDY_PATH_MAX + 16];
	/* what the journal holds, for the summary */
	uint64_t records;
	size_t entries, commitments, archived, buddies, events;
	char names[NAMES_SHOWN * (BUDDY_ID_MAX + 2) + 8];
};

/* ---- writing the staged home ---- */

static int sink_config(void *arg, const uint8_t *data, size_t len)
{
	struct restore *r = arg;
	char path[BUDDY_PATH_MAX + 16];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/config", r->st.h.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return buddy_err_from_errno(errno);
	rc = buddy_write_all(fd, data, len);
	if (rc == 0 && fsync(fd))
		rc = buddy_err_from_errno(errno);
	close(fd);
	return rc;
}

static int sink_begin(void *arg, uint32_t number, uint64_t size)
{
	struct restore *r = arg;

	if (interrupted)
		return BUDDY_E_STATE;
	snprintf(r->path, sizeof(r->path), "%s/%08u.log", r->st.h.journal, number);
	r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->fd < 0)
		return buddy_err_from_errno(errno);
	r->want = size;
	r->got = 0;
	return 0;
}

static int sink_data(void *arg, const uint8_t *data, size_t len)
{
	struct restore *r = arg;

	if (interrupted)
		return BUDDY_E_STATE;
	r->got += len;
	return buddy_write_all(r->fd, data, len);
}

static int sink_end(void *arg)
{
	struct restore *r = arg;
	int rc = 0;

	if (r->got != r->want)
		rc = BUDDY_E_CORRUPT;
	else if (fsync(r->fd))
		rc = buddy_err_from_errno(errno);
	close(r->fd);
	r->fd = -1;
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return buddy_err_from_errno(errno);
	if (fsync(fd) && errno != EINVAL)
		rc = buddy_err_from_errno(errno);
	close(fd);
	return rc;
}

/* ---- proving the journal, as buddyd opens it ---- */

struct replay {
	struct buddy_journal *j;
	uint64_t bad_index;
};

static int replay(void *arg, uint64_t index, const uint8_t *rec, size_t len)
{
	struct replay *rp = arg;
	int rc = buddy_journal_apply(rp->j, rec, len);

	if (rc)
		rp->bad_index = index;
	return rc;
}

static void summarize(struct restore *r, struct buddy_journal *j)
{
	struct buddy_buddies *bs = buddy_journal_buddies(j);
	size_t shown = 0, n = 0;

	r->entries = buddy_journal_nentries(j);
	r->commitments = buddy_journal_ncommits(j);
	for (size_t i = 0; i < r->commitments; i++)
		r->archived += buddy_journal_commit_at(j, i)->archived != 0;
	r->events = buddy_events_count(buddy_journal_events(j));
	r->names[0] = 0;
	for (size_t i = 0; i < buddy_buddies_count(bs); i++) {
		const struct buddy_buddy *b = buddy_buddies_at(bs, i);
		if (b->revoked)
			continue;
		r->buddies++;
		if (shown < NAMES_SHOWN) {
			n += (size_t)snprintf(r->names + n, sizeof(r->names) - n, "%s%s",
					      shown ? ", " : "", b->name);
			shown++;
		} else if (shown == NAMES_SHOWN) {
			snprintf(r->names + n, sizeof(r->names) - n, ", ...");
			shown++;
		}
	}
}

/* Opens the staged journal with the real store and journal code (every record authenticates
 * and applies), then appends the restored record. want_records: what the backup says it holds
 * (UINT64_MAX: anything, for a paper key's empty journal). */
static int prove_and_mark(struct restore *r, const uint8_t dk[32], uint64_t want_records,
			  int64_t made, bool mark)
{
	struct replay rp = {buddy_journal_new(), 0};
	struct buddy_store_info info;
	struct buddy_store *store = NULL;
	msgpack_sbuffer rec;
	int rc;

	msgpack_sbuffer_init(&rec);
	if (!rp.j)
		return EXIT_ERROR;
	memset(&info, 0, sizeof(info));
	rc = buddy_store_open(r->st.h.journal, dk, replay, &rp, &store, &info);
	if (rc == BUDDY_E_AUTH) {
		cli_err("the backup's journal was not written with its data key (a damaged "
			"backup); "
			"nothing was restored");
		rc = EXIT_STORAGE;
		goto out;
	}
	if (rc == BUDDY_E_CORRUPT || rc == BUDDY_E_VERSION) {
		cli_err("record %llu of the backup's journal %s; nothing was restored",
			(unsigned long long)(info.bad_offset ? info.bad_index : rp.bad_index),
			rc == BUDDY_E_VERSION ? "was written by a newer buddy"
					      : "failed its integrity check");
		rc = rc == BUDDY_E_VERSION ? EXIT_ERROR : EXIT_STORAGE;
		goto out;
	}
	if (rc) {
		cli_err("cannot open the backup's journal: %s; nothing was restored",
			buddy_strerror(rc));
		rc = EXIT_STORAGE;
		goto out;
	}
	/* the backup ends on a whole record: a torn one, or fewer records, is damage */
	if (info.torn_bytes || (want_records != UINT64_MAX && info.records != want_records)) {
		cli_err("the backup's journal holds %llu whole records, the backup says %llu (a "
			"damaged backup); nothing was restored",
			(unsigned long long)info.records, (unsigned long long)want_records);
		rc = EXIT_STORAGE;
		goto out;
	}
	r->records = info.records;
	if (mark) {
		/* applied first, as buddyd does: a record that would not apply is never stored */
		rc = buddy_streams_make_restored(&rec, buddy_clock_now(), made);
		if (rc == 0)
			rc = buddy_journal_apply(rp.j, (const uint8_t *)rec.data, rec.size);
		if (rc == 0)
			rc = buddy_store_append(store, (const uint8_t *)rec.data, rec.size);
		if (rc) {
			cli_err("cannot mark the journal as restored: %s; nothing was restored",
				buddy_strerror(rc));
			rc = rc == BUDDY_E_NOSPACE || rc == BUDDY_E_IO ? EXIT_STORAGE : EXIT_ERROR;
			goto out;
		}
	}
	summarize(r, rp.j);
	rc = 0;
out:
	msgpack_sbuffer_destroy(&rec);
	buddy_store_close(store);
	buddy_journal_free(rp.j);
	return rc;
}

/* ---- the steps both kinds of restore share ---- */

struct newpass {
	const char *file;
	bool none;
	enum buddy_kdf_level lvl;
};

static int seal_and_install(struct restore *r, const struct newpass *np, const uint8_t seed[32],
			    const uint8_t dk[32])
{
	struct buddy_secrets *sec = NULL;
	enum buddy_kdf_level lvl = np->lvl;
	char why[BUDDY_PATH_MAX + 128];
	char *pass = NULL;
	size_t len = 0;
	int rc;

	if (np->none) {
		lvl = BUDDY_KDF_NONE;
		fprintf(stderr,
			"buddy: warning: no passphrase: anyone who can read %s can read your "
			"journal\n",
			r->h.dir);
	} else {
		rc = cli_get_passphrase(np->file, "New passphrase: ", true, &pass, &len);
		if (rc)
			return rc;
	}
	rc = buddy_secrets_from(seed, dk, &sec);
	if (rc == 0)
		rc = buddy_keys_create_with(r->st.h.keys, sec, pass, len, lvl);
	buddy_secrets_free(sec);
	sodium_free(pass);
	if (rc == 0)
		rc = fsync_dir(r->st.h.dir);
	if (rc) {
		cli_err("cannot write the key file: %s; nothing was restored", buddy_strerror(rc));
		return EXIT_STORAGE;
	}
	if (interrupted) {
		cli_err("interrupted; nothing was restored");
		return EXIT_ERROR;
	}
	rc = buddy_home_install(&r->st, &r->h, why, sizeof(why));
	if (rc == BUDDY_E_EXISTS) {
		cli_err("%s holds other files (a key file, a config or a journal): restore makes a "
			"new home only; nothing was changed",
			r->h.dir);
		return EXIT_EXISTS;
	}
	if (rc) {
		cli_err("%s; nothing was restored", why[0] ? why : buddy_strerror(rc));
		return EXIT_STORAGE;
	}
	r->staged = false; /* it is the home now (install removed the staged directory) */
	return 0;
}

static int stage(struct restore *r)
{
	char why[BUDDY_PATH_MAX + 128];
	int rc = buddy_home_stage(&r->h, &r->st, why, sizeof(why));

	if (rc) {
		cli_err("cannot make a directory to restore %s in: %s; nothing was changed",
			r->h.dir, why[0] ? why : buddy_strerror(rc));
		return rc == BUDDY_E_EXISTS ? EXIT_EXISTS : EXIT_STORAGE;
	}
	r->staged = true;
	return 0;
}

static void print_counts(const struct restore *r)
{
	printf("  journal      %zu %s, %zu %s", r->entries, r->entries == 1 ? "entry" : "entries",
	       r->commitments, r->commitments == 1 ? "commitment" : "commitments");
	if (r->archived)
		printf(" (%zu archived)", r->archived);
	printf(", %zu %s", r->buddies, r->buddies == 1 ? "buddy" : "buddies");
	if (r->buddies)
		printf(" (%s)", r->names);
	printf(", %zu inbox %s; %llu records\n", r->events, r->events == 1 ? "event" : "events",
	       (unsigned long long)r->records);
}

/* ---- from a backup file ---- */

static int read_fd(void *arg, uint8_t *buf, size_t want, size_t *got)
{
	int fd = *(int *)arg;
	ssize_t n;

	do
		n = read(fd, buf, want);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return buddy_err_from_errno(errno);
	*got = (size_t)n;
	return 0;
}

/* The exit code for a reader failure, after saying why. */
static int reader_failed(const struct buddy_backup_reader *br, const char *file, int rc)
{
	const char *why = buddy_backup_reader_error(br);

	if (interrupted) {
		cli_err("interrupted; nothing was restored");
		return EXIT_ERROR;
	}
	switch (rc) {
	case BUDDY_E_INVALID:
		cli_err("%s: %s; nothing was changed", file, why[0] ? why : "not a buddy backup");
		return EXIT_USAGE;
	case BUDDY_E_AUTH:
		cli_err("cannot open %s: %s; nothing was changed", file, why);
		return EXIT_AUTH;
	case BUDDY_E_VERSION:
		cli_err("cannot restore %s: %s; nothing was changed", file, why);
		return EXIT_ERROR;
	case BUDDY_E_NOMEM:
		cli_err("cannot restore %s: %s", file, why[0] ? why : "out of memory");
		return EXIT_ERROR;
	default:
		cli_err("cannot restore %s: %s; nothing was restored", file,
			why[0] ? why : buddy_strerror(rc));
		return EXIT_STORAGE;
	}
}

static int from_file(struct restore *r, const char *file, const char *passfile,
		     const struct newpass *np, bool check)
{
	struct buddy_backup_sink sink = {sink_config, sink_begin, sink_data, sink_end};
	struct buddy_backup_reader *br = NULL;
	struct buddy_backup_identity id;
	char fp[BUDDY_FINGERPRINT_LEN + 1], when[32];
	char *pass = NULL;
	size_t passlen = 0;
	int fd, rc;

	fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_err("cannot open %s: %s", file, strerror(errno));
		return errno == ENOENT ? EXIT_NOTFOUND : EXIT_ERROR;
	}
	rc = buddy_backup_reader_open(read_fd, &fd, &br);
	if (rc) {
		rc = reader_failed(br, file, rc);
		goto out;
	}
	rc = cli_get_passphrase(passfile, "Backup passphrase: ", false, &pass, &passlen);
	if (rc)
		goto out;
	rc = buddy_backup_reader_unlock(br, pass, passlen);
	sodium_free(pass);
	if (rc) {
		rc = reader_failed(br, file, rc);
		goto out;
	}
	buddy_backup_reader_identity(br, &id);
	rc = stage(r);
	if (rc)
		goto out;
	rc = buddy_backup_reader_rest(br, &sink, r);
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	if (rc) {
		rc = reader_failed(br, file, rc);
		goto out;
	}
	rc = fsync_dir(r->st.h.journal);
	if (rc) {
		cli_err("cannot write the journal: %s; nothing was restored", buddy_strerror(rc));
		rc = EXIT_STORAGE;
		goto out;
	}
	rc = prove_and_mark(r, id.dk, id.records, id.made, !check);
	if (rc)
		goto out;
	buddy_keys_fingerprint(id.pk, fp);
	cli_fmt_time(id.made, when, sizeof(when));
	if (check) {
		printf("%s is a good backup: every record authenticates and replays.\n", file);
		printf("  made         %s\n  fingerprint  %s\n", when, fp);
		print_counts(r);
		rc = EXIT_OK;
		goto out;
	}
	rc = seal_and_install(r, np, id.seed, id.dk);
	if (rc)
		goto out;
	printf("Restored the buddy home %s from %s: the journal as it was on %s.\n", r->h.dir, file,
	       when);
	printf("  fingerprint  %s (the same identity: the same safety numbers)\n", fp);
	print_counts(r);
	printf("Next:\n"
	       "  - Start buddyd (`buddyd &`, or any buddy command starts it)%s.\n"
	       "  - Your buddies reconnect by themselves: there is nothing to pair again.\n"
	       "  - Entries made after %s are not in the backup: the ones you shared stay with\n"
	       "    your buddies, and your daemon carries on your share streams from there.\n"
	       "  - Never run buddyd with this identity on the old machine again: two daemons\n"
	       "    with one identity fork your share streams, and your buddies get an alert.\n",
	       np->none ? "" : ", then `buddy unlock`", when);
out:
	if (fd != STDIN_FILENO)
		close(fd);
	buddy_backup_reader_free(br);
	return rc;
}

/* ---- from a paper key ---- */

/* How many words (not numbers) text holds, as the decoder counts them. */
static unsigned count_words(const char *p, size_t len)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < len) {
		size_t start;
		bool digits = true;

		while (i < len && strchr(" \t\r\n\v\f", p[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !strchr(" \t\r\n\v\f", p[i])) {
			if ((p[i] < '0' || p[i] > '9') && !(i > start && strchr(".):", p[i])))
				digits = false;
			i++;
		}
		n += !digits;
	}
	return n;
}

/* The typed words into buf (sodium_malloc'd, BUDDY_PAPERKEY_INPUT_MAX + 1): from the
 * terminal, line by line until 24 words are there, or from standard input when it is not one. */
static int read_words(char *buf, size_t *len)
{
	int fd = STDIN_FILENO, tty = -1, rc = 0;
	size_t n = 0;

	if (isatty(STDIN_FILENO)) {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty < 0) {
			cli_err("cannot open the terminal to read the paper key");
			return EXIT_ERROR;
		}
		fd = tty;
		dprintf(tty, "Type the 24 words of your paper key, in order (on one line or "
			     "several):\n");
	}
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);

		if (got < 0 && errno == EINTR && !interrupted)
			continue;
		if (got <= 0 || interrupted)
			break;
		if (n == BUDDY_PAPERKEY_INPUT_MAX) {
			rc = EXIT_USAGE;
			break;
		}
		buf[n++] = c;
		if (tty >= 0 && c == '\n' && count_words(buf, n) >= BUDDY_PAPERKEY_WORDS)
			break;
	}
	if (tty >= 0)
		close(tty);
	if (interrupted) {
		cli_err("interrupted; nothing was changed");
		return EXIT_ERROR;
	}
	if (rc)
		cli_err("that is more than a paper key (over %d bytes); nothing was changed",
			BUDDY_PAPERKEY_INPUT_MAX);
	*len = n;
	return rc;
}

static int from_paper(struct restore *r, const struct newpass *np)
{
	char *words = sodium_malloc(BUDDY_PAPERKEY_INPUT_MAX + 1);
	uint8_t *secret = sodium_malloc(64); /* seed || a new data key */
	char fp[BUDDY_FINGERPRINT_LEN + 1];
	struct buddy_secrets *sec = NULL;
	size_t len = 0;
	unsigned pos;
	int rc;

	if (!words || !secret) {
		rc = EXIT_ERROR;
		goto out;
	}
	rc = read_words(words, &len);
	if (rc)
		goto out;
	rc = buddy_paperkey_decode(words, len, secret, &pos);
	sodium_memzero(words, BUDDY_PAPERKEY_INPUT_MAX + 1);
	switch (rc) {
	case 0:
		break;
	case BUDDY_E_NOTFOUND:
		cli_err("word %u of the paper key is not one of its words (the BIP-39 English "
			"list); nothing was changed",
			pos);
		break;
	case BUDDY_E_TOOBIG:
		cli_err("a paper key has 24 words, this has more; nothing was changed");
		break;
	case BUDDY_E_CORRUPT:
		cli_err("the 24 words do not add up (their checksum): one of them is wrong, or two "
			"are swapped; nothing was changed");
		break;
	default:
		cli_err("a paper key has 24 words, this has %u; nothing was changed", pos);
	}
	if (rc) {
		rc = EXIT_USAGE;
		goto out;
	}
	/* the identity comes back; the journal's data key is new, and the journal empty */
	randombytes_buf(secret + 32, 32);
	rc = buddy_secrets_from(secret, secret + 32, &sec);
	if (rc) {
		rc = EXIT_ERROR;
		goto out;
	}
	buddy_keys_fingerprint(sec->sign_pk, fp);
	rc = stage(r);
	if (rc == 0)
		rc = prove_and_mark(r, secret + 32, UINT64_MAX, 0, true);
	if (rc == 0)
		rc = seal_and_install(r, np, secret, secret + 32);
	if (rc)
		goto out;
	printf("Created the buddy home %s with the identity of your paper key.\n", r->h.dir);
	printf("  fingerprint  %s (the same as before: the same safety numbers)\n", fp);
	printf("Only the identity came back: the journal is empty and there are no buddies.\n"
	       "Your buddies' daemons still know this identity but not this new journal: to\n"
	       "reconnect, each buddy runs `buddy revoke NAME` (NAME: what they call you), then\n"
	       "you pair again (buddy invite, buddy accept). The safety numbers stay the same.\n"
	       "Start buddyd (`buddyd &`, or any buddy command starts it)%s.\n",
	       np->none ? "" : ", then `buddy unlock`");
out:
	buddy_secrets_free(sec);
	sodium_free(words);
	sodium_free(secret);
	return rc;
}

void cli_recover_home(const struct buddy_home *h)
{
	char note[2 * BUDDY_PATH_MAX];

	if (buddy_home_recover(h, note, sizeof(note)))
		fprintf(stderr, "buddy: removed what an interrupted restore left: %s\n", note);
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{"passphrase-file", required_argument, NULL, 'p'},
		{"new-passphrase-file", required_argument, NULL, 'n'},
		{"no-passphrase", no_argument, NULL, 'N'},
		{"kdf", required_argument, NULL, 'k'},
		{"paper-key", no_argument, NULL, 'P'},
		{"check", no_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_hup;
	struct newpass np = {NULL, false, BUDDY_KDF_MODERATE};
	struct restore r = {.fd = -1};
	const char *passfile = NULL, *file = NULL;
	bool paper = false, check = false, kdf_given = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			passfile = optarg;
			break;
		case 'n':
			np.file = optarg;
			break;
		case 'N':
			np.none = true;
			break;
		case 'k':
			if (buddy_kdf_level_parse(optarg, &np.lvl))
				return cli_usage_err("restore",
						     "--kdf is interactive, moderate or sensitive, "
						     "not \"%s\"",
						     optarg);
			kdf_given = true;
			break;
		case 'P':
			paper = true;
			break;
		case 'c':
			check = true;
			break;
		default:
			return cli_usage_err("restore", "unknown option");
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return cli_usage_err("restore", "unexpected argument \"%s\"", argv[optind]);
	if (paper && (file || passfile || check))
		return cli_usage_err("restore", "--paper-key reads words, not a FILE: it takes no "
						"FILE, --passphrase-file or --check");
	if (!paper && !file)
		return cli_usage_err("restore", "name the backup FILE (or --paper-key)");
	if (np.none && np.file)
		return cli_usage_err("restore", "--no-passphrase and --new-passphrase-file exclude "
						"each other");
	if (check && (np.none || np.file || kdf_given))
		return cli_usage_err("restore",
				     "--check writes no home: it takes no new passphrase");
	if (buddy_home_resolve(&r.h)) {
		cli_err("cannot find where to restore the buddy home: set BUDDY_HOME to an "
			"absolute path (short enough for a socket path)");
		return EXIT_USAGE;
	}
	cli_recover_home(&r.h);
	if (!check && access(r.h.keys, F_OK) == 0) {
		cli_err("a buddy home exists already at %s; nothing was changed (restore makes a "
			"new "
			"home: move that one away, or set BUDDY_HOME to another place)",
			r.h.dir);
		return EXIT_EXISTS;
	}
	if (buddy_clock_init())
		return cli_usage_err("restore", "BUDDY_TEST_CLOCK must be Unix seconds");
	/* an interruption removes the staged directory instead of leaving it behind */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	rc = paper ? from_paper(&r, &np) : from_file(&r, file, passfile, &np, check);
	if (r.staged)
		buddy_home_unstage(&r.st);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return rc;
}
