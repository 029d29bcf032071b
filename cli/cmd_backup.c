/* buddy backup: asks buddyd for an encrypted backup of the identity and the journal
 * (proto/BACKUP.md; methods backup.start, backup.read, backup.end in proto/CONTROL.md) and
 * writes it to FILE. The daemon encrypts: this process only ever holds ciphertext, and the
 * backup passphrase on its way to the daemon. FILE appears whole or not at all: the bytes go
 * to a 0600 temporary file beside it, which is fsynced and renamed over FILE at the end. */
#include "buddy/backup.h"
#include "buddy/fdio.h"
#include "buddy/keys.h"
#include "buddy/mp.h"
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

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct out {
	const char *path; /* NULL: standard output */
	char *tmp;
	int fd;
};

static int fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, rc = 0;

	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	if (fsync(fd) && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

/* A 0600 temporary file in FILE's directory (".NAME.XXXXXX"), so the rename stays in one file
 * system and FILE is never seen half-written. */
static int out_open(struct out *o)
{
	const char *slash = strrchr(o->path, '/');
	size_t dirlen = slash ? (size_t)(slash - o->path) + 1 : 0;
	const char *base = o->path + dirlen;

	o->tmp = malloc(dirlen + strlen(base) + 16);
	if (!o->tmp)
		return -1;
	memcpy(o->tmp, o->path, dirlen);
	(void)snprintf(o->tmp + dirlen, strlen(base) + 16, ".%s.XXXXXX", base);
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0 || fchmod(o->fd, 0600)) {
		cli_err("cannot create a file beside %s: %s", o->path, strerror(errno));
		if (o->fd >= 0) {
			close(o->fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
		o->fd = -1;
		return -1;
	}
	return 0;
}

static void out_abandon(struct out *o)
{
	if (o->tmp) {
		close(o->fd);
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
}

/* fsync, then rename into place (never over an existing FILE unless force), fsync the dir. */
static int out_commit(struct out *o, bool force)
{
	int rc;

	if (!o->tmp) {
		if (fsync(STDOUT_FILENO) == 0 || errno == EINVAL)
			return 0;
		cli_err("cannot write the output: %s; it may be incomplete: discard it",
			strerror(errno));
		return -1;
	}
	rc = fsync(o->fd);
	if (close(o->fd))
		rc = -1;
	o->fd = -1;
	if (rc) {
		cli_err("cannot write %s: %s; nothing was written", o->path, strerror(errno));
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	if (force) {
		rc = rename(o->tmp, o->path);
	} else {
		/* link fails when FILE appeared meanwhile: never replace what we did not check */
		rc = link(o->tmp, o->path);
		if (rc && (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) &&
		    access(o->path, F_OK) && errno == ENOENT)
			/* a file system without hard links: a last check, then rename */
			rc = rename(o->tmp, o->path);
		else if (rc == 0)
			unlink(o->tmp);
	}
	if (rc) {
		if (errno == EEXIST)
			cli_err("%s appeared while the backup was made; nothing was replaced (use "
				"--force to replace it)",
				o->path);
		else
			cli_err("cannot write %s: %s; nothing was written", o->path,
				strerror(errno));
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	free(o->tmp);
	o->tmp = NULL;
	if (fsync_dir_of(o->path)) {
		cli_err("%s was written but its directory could not be synced: %s", o->path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void end_session(uint64_t id)
{
	msgpack_sbuffer params;
	msgpack_packer pk;
	struct cli_reply rep;
	char msg[256];
	int code;

	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	cli_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, id);
	if (cli_call_quiet("backup.end", &params, &rep, &code, msg, sizeof(msg)) == 0)
		cli_reply_free(&rep);
	msgpack_sbuffer_destroy(&params);
}

/* Sends the passphrase, returns the session's answer in *rep. */
static int start(const char *pass, size_t len, const char *kdf, struct cli_reply *rep)
{
	msgpack_sbuffer params;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	cli_pack_str(&pk, "passphrase");
	buddy_mp_pack_bin(&pk, pass, len);
	cli_pack_kv_str(&pk, "kdf", kdf);
	rc = cli_call("backup.start", &params, rep);
	sodium_memzero(params.data, params.size);
	msgpack_sbuffer_destroy(&params);
	return rc;
}

/* What a failure leaves: nothing for a file (its temporary file is removed); on standard
 * output, the bytes already written cannot be taken back. */
static const char *lost(bool piped, uint64_t off)
{
	return piped && off ? "the output is incomplete: discard it" : "nothing was written";
}

/* Reads the whole backup from the daemon into fd (piped: standard output). */
static int copy_out(uint64_t id, uint64_t size, int fd, const char *what, bool piped)
{
	uint64_t off = 0;
	bool eof = false;
	int rc = 0;

	while (!eof) {
		const msgpack_object *data, *e;
		msgpack_sbuffer params;
		msgpack_packer pk;
		struct cli_reply rep;

		if (stop_requested) {
			cli_err("interrupted; %s", lost(piped, off));
			return EXIT_ERROR;
		}
		msgpack_sbuffer_init(&params);
		msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 2);
		cli_pack_str(&pk, "id");
		msgpack_pack_uint64(&pk, id);
		cli_pack_str(&pk, "off");
		msgpack_pack_uint64(&pk, off);
		rc = cli_call("backup.read", &params, &rep);
		msgpack_sbuffer_destroy(&params);
		if (rc) {
			if (piped && off)
				cli_err("the backup stopped after %llu of %llu bytes: %s",
					(unsigned long long)off, (unsigned long long)size,
					lost(piped, off));
			return rc;
		}
		data = buddy_mp_get(rep.result, "data");
		e = buddy_mp_get(rep.result, "eof");
		if (!data || data->type != MSGPACK_OBJECT_BIN || !e ||
		    e->type != MSGPACK_OBJECT_BOOLEAN ||
		    data->via.bin.size > BUDDY_BACKUP_READ_MAX || off + data->via.bin.size > size) {
			cli_reply_free(&rep);
			cli_err("buddyd answered backup.read with something unexpected; %s",
				lost(piped, off));
			return EXIT_ERROR;
		}
		eof = e->via.boolean;
		if (buddy_write_all(fd, (const uint8_t *)data->via.bin.ptr, data->via.bin.size)) {
			cli_err("cannot write %s: %s; %s", what, strerror(errno),
				lost(piped, off + 1));
			cli_reply_free(&rep);
			return errno == ENOSPC || errno == EIO ? EXIT_STORAGE : EXIT_ERROR;
		}
		off += data->via.bin.size;
		cli_reply_free(&rep);
	}
	if (off != size) {
		cli_err("the backup ended at %llu bytes instead of %llu; %s",
			(unsigned long long)off, (unsigned long long)size, lost(piped, off));
		return EXIT_ERROR;
	}
	return 0;
}

static void print_count(FILE *f, int64_t n, const char *one, const char *many, const char *end)
{
	fprintf(f, "%lld %s%s", (long long)n, n == 1 ? one : many, end);
}

static void human_size(uint64_t n, char *buf, size_t len)
{
	if (n < 10 * 1024)
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
	else if (n < 10 * 1024 * 1024)
		snprintf(buf, len, "%.1f KiB", (double)n / 1024);
	else
		snprintf(buf, len, "%.1f MiB", (double)n / (1024 * 1024));
}

int cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{"passphrase-file", required_argument, NULL, 'p'},
		{"kdf", required_argument, NULL, 'k'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_handler = on_stop}, old_int, old_term, old_hup;
	const char *passfile = NULL, *kdf = "moderate";
	enum buddy_kdf_level lvl;
	struct out o = {.fd = -1};
	struct cli_reply rep;
	struct stat st;
	bool force = false;
	char *pass = NULL;
	size_t passlen = 0;
	uint64_t id, size;
	char when[32], bytes[32];
	FILE *info;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			passfile = optarg;
			break;
		case 'k':
			if (buddy_kdf_level_parse(optarg, &lvl))
				return cli_usage_err("backup",
						     "--kdf is interactive, moderate or sensitive, "
						     "not \"%s\"",
						     optarg);
			kdf = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			return cli_usage_err("backup", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_err("backup", "name the FILE to write the backup to");
	if (optind + 1 < argc)
		return cli_usage_err("backup", "unexpected argument \"%s\"", argv[optind + 1]);
	o.path = strcmp(argv[optind], "-") == 0 ? NULL : argv[optind];
	if (!o.path && isatty(STDOUT_FILENO))
		return cli_usage_err("backup", "standard output is a terminal: redirect it to a "
					       "file (buddy backup - > FILE)");
	if (o.path && lstat(o.path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return cli_usage_err("backup", "%s is a directory: name a file", o.path);
		if (!force) {
			cli_err("%s exists already; nothing was written (--force replaces it)",
				o.path);
			return EXIT_EXISTS;
		}
	}
	/* the journal must be open before anyone types a passphrase for nothing */
	rc = cli_call("status", NULL, &rep);
	if (rc)
		return rc;
	if (cli_bool(rep.result, "locked")) {
		cli_reply_free(&rep);
		cli_err("the journal is locked; unlock it with: buddy unlock");
		return EXIT_LOCKED;
	}
	cli_reply_free(&rep);
	rc = cli_get_passphrase(passfile, "Backup passphrase: ", true, &pass, &passlen);
	if (rc)
		return rc;
	if (o.path && out_open(&o)) {
		sodium_free(pass);
		return EXIT_ERROR;
	}
	/* a Ctrl-C between two reads removes the temporary file instead of leaving it */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	rc = start(pass, passlen, kdf, &rep);
	sodium_free(pass);
	if (rc) {
		out_abandon(&o);
		goto out;
	}
	if (buddy_mp_uint(buddy_mp_get(rep.result, "id"), &id) ||
	    buddy_mp_uint(buddy_mp_get(rep.result, "size"), &size)) {
		cli_err("buddyd answered backup.start with something unexpected; nothing was "
			"written");
		out_abandon(&o);
		cli_reply_free(&rep);
		rc = EXIT_ERROR;
		goto out;
	}
	rc = copy_out(id, size, o.path ? o.fd : STDOUT_FILENO, o.path ? o.path : "the output",
		      !o.path);
	if (rc) {
		end_session(id);
		out_abandon(&o);
		cli_reply_free(&rep);
		goto out;
	}
	if (out_commit(&o, force)) {
		rc = EXIT_STORAGE;
		cli_reply_free(&rep);
		goto out;
	}
	info = o.path ? stdout : stderr;
	cli_fmt_time(cli_int(rep.result, "made"), when, sizeof(when));
	human_size(size, bytes, sizeof(bytes));
	fprintf(info, "Wrote the backup %s (%s, mode 0600): the journal as of %s, ",
		o.path ? o.path : "to standard output", bytes, when);
	print_count(info, cli_int(rep.result, "entries"), "entry", "entries", ", ");
	print_count(info, cli_int(rep.result, "commitments"), "commitment", "commitments", ", ");
	print_count(info, cli_int(rep.result, "buddies"), "buddy", "buddies", ".\n");
	fprintf(info,
		"It holds your identity and your journal, encrypted under the backup passphrase "
		"(Argon2id, %s):\nkeep the passphrase apart from the file. On a new machine: "
		"buddy restore FILE\n",
		kdf);
	cli_reply_free(&rep);
	rc = EXIT_OK;
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return rc;
}
