/* buddy import: a jrnl JSON export becomes notes with their original times, tags and stars.
 * The whole file is parsed and checked here before anything is sent; the daemon checks each
 * batch again and skips entries it has imported before. */
#include "buddy/error.h"
#include "buddy/jrnl.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IMPORT_FILE_MAX (64 * 1024 * 1024)
/* well under the daemon's request limit, leaving room for the envelope */
#define IMPORT_REQUEST_BYTES (BUDDY_CONTROL_REQUEST_MAX - 64 * 1024)

static int read_file(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 64 * 1024, n = 0;
	char *buf;

	if (fd < 0) {
		cli_err("cannot open %s: %s", path, strerror(errno));
		return EXIT_ERROR;
	}
	buf = malloc(cap);
	for (;;) {
		ssize_t r;
		if (buf && n == cap && cap <= IMPORT_FILE_MAX) {
			char *nb = malloc(cap * 2);
			if (nb)
				memcpy(nb, buf, n);
			sodium_memzero(buf, n);
			free(buf);
			buf = nb;
			cap *= 2;
		}
		if (!buf || n > IMPORT_FILE_MAX) {
			cli_err(buf ? "%s is larger than 64 MiB" : "out of memory reading %s",
				path);
			break;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_err("cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (r == 0) {
			close(fd);
			*out = buf;
			*len = n;
			return 0;
		}
		n += (size_t)r;
	}
	close(fd);
	if (buf) {
		sodium_memzero(buf, n);
		free(buf);
	}
	return EXIT_ERROR;
}

/* jrnl writes naive local times: they are read in this machine's time zone. */
static int64_t entry_time(const struct buddy_jrnl_entry *e)
{
	struct tm tm = {.tm_year = e->year - 1900,
			.tm_mon = e->month - 1,
			.tm_mday = e->day,
			.tm_hour = e->hour,
			.tm_min = e->minute,
			.tm_isdst = -1};

	return (int64_t)mktime(&tm);
}

static void pack_entry(msgpack_packer *pk, const struct buddy_jrnl_entry *e)
{
	size_t tlen = strlen(e->title), blen = strlen(e->body);

	msgpack_pack_map(pk, 4);
	cli_pack_str(pk, "time");
	msgpack_pack_int64(pk, entry_time(e));
	/* title and body as jrnl shows them: the title line, then the body */
	cli_pack_str(pk, "text");
	msgpack_pack_str(pk, tlen + (blen ? 1 + blen : 0));
	msgpack_pack_str_body(pk, e->title, tlen);
	if (blen) {
		msgpack_pack_str_body(pk, "\n", 1);
		msgpack_pack_str_body(pk, e->body, blen);
	}
	cli_pack_str(pk, "tags");
	msgpack_pack_array(pk, e->ntags);
	for (size_t i = 0; i < e->ntags; i++)
		cli_pack_str(pk, e->tags[i]);
	cli_pack_str(pk, "starred");
	e->starred ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

int cmd_import(int argc, char **argv)
{
	struct buddy_jrnl_entry *entries = NULL;
	size_t n = 0, len = 0, imported = 0, skipped = 0;
	char *buf = NULL, err[512];
	int rc;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage_err("import", argc < 2 ? "import takes the file to import"
							: "import takes exactly one file");
	rc = read_file(argv[1], &buf, &len);
	if (rc)
		return rc;
	rc = buddy_jrnl_parse(buf, len, &entries, &n, err, sizeof(err));
	sodium_memzero(buf, len);
	free(buf);
	if (rc) {
		cli_err("%s is not a jrnl JSON export: %s; nothing was imported", argv[1], err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++) {
		if (entry_time(&entries[i]) <= 0) {
			cli_err("entry %zu has a time this machine cannot represent; nothing was "
				"imported",
				i + 1);
			buddy_jrnl_free(entries, n);
			return EXIT_USAGE;
		}
	}
	/* batches fit the daemon's limits both in count and in bytes */
	for (size_t first = 0; first < n && rc == 0;) {
		msgpack_sbuffer batch, params;
		msgpack_packer pk;
		struct cli_reply rep;
		size_t count = 0;

		msgpack_sbuffer_init(&batch);
		msgpack_packer_init(&pk, &batch, msgpack_sbuffer_write);
		while (first + count < n && count < BUDDY_IMPORT_BATCH_MAX) {
			size_t before = batch.size;
			pack_entry(&pk, &entries[first + count]);
			if (count > 0 && batch.size > IMPORT_REQUEST_BYTES) {
				sodium_memzero(batch.data + before, batch.size - before);
				batch.size = before;
				break;
			}
			count++;
		}
		msgpack_sbuffer_init(&params);
		msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 2);
		cli_pack_str(&pk, "first");
		msgpack_pack_uint64(&pk, first + 1);
		cli_pack_str(&pk, "entries");
		msgpack_pack_array(&pk, count);
		msgpack_sbuffer_write(&params, batch.data, batch.size);
		sodium_memzero(batch.data, batch.size);
		msgpack_sbuffer_destroy(&batch);
		rc = cli_call("import", &params, &rep);
		sodium_memzero(params.data, params.size);
		msgpack_sbuffer_destroy(&params);
		if (rc) {
			if (imported + skipped)
				cli_err("the %zu entries before entry %zu are in the journal; "
					"importing "
					"the file again skips them",
					imported + skipped, first + 1);
			break;
		}
		imported += (size_t)cli_int(rep.result, "imported");
		skipped += (size_t)cli_int(rep.result, "skipped");
		cli_reply_free(&rep);
		first += count;
	}
	buddy_jrnl_free(entries, n);
	if (rc)
		return rc;
	printf("Imported %zu entries", imported);
	if (skipped)
		printf(" (%zu were imported before and skipped)", skipped);
	printf(".\n");
	return EXIT_OK;
}
