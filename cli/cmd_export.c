/* buddy export: the whole journal, decrypted, as JSON or Markdown: my commitments and entries,
 * then what each buddy shared with me. The one command that puts plaintext on disk, and only
 * where the user says, with a warning. */
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct export
{
	FILE *out;
	bool json;
	json_t *entries;
};

static void md_entry(FILE *f, const msgpack_object *e)
{
	char when[32], commit[BUDDY_ID_MAX + 1], status[16], unit[BUDDY_UNIT_MAX + 1];
	const msgpack_object *tags = buddy_mp_get(e, "tags");
	const char *text;
	size_t len;

	cli_fmt_time(cli_int(e, "time"), when, sizeof(when));
	fprintf(f, "### %s, entry %lld%s", when, (long long)cli_int(e, "id"),
		cli_bool(e, "starred") ? " (starred)" : "");
	cli_str(e, "commit", commit, sizeof(commit));
	cli_str(e, "status", status, sizeof(status));
	if (status[0])
		fprintf(f, ": check-in on %s, %s", commit, status);
	else if (commit[0])
		fprintf(f, ": note on %s", commit);
	if (buddy_mp_get(e, "value"))
		fprintf(f, " (%g%s)", cli_double(e, "value"),
			cli_str(e, "unit", unit, sizeof(unit)));
	fputs("\n\n", f);
	if (buddy_mp_str(buddy_mp_get(e, "text"), BUDDY_TEXT_MAX, &text, &len) == 0 && len)
		fprintf(f, "%.*s\n\n", (int)len, text);
	if (tags && tags->type == MSGPACK_OBJECT_ARRAY && tags->via.array.size) {
		fputs("Tags:", f);
		for (uint32_t i = 0; i < tags->via.array.size; i++) {
			const char *t;
			size_t tl;
			if (buddy_mp_str(&tags->via.array.ptr[i], BUDDY_TAG_MAX, &t, &tl) == 0)
				fprintf(f, " %.*s", (int)tl, t);
		}
		fputs("\n\n", f);
	}
}

static int export_page(void *arg, const msgpack_object *entries)
{
	struct export *x = arg;

	for (uint32_t i = 0; i < entries->via.array.size; i++) {
		if (x->json)
			json_array_append_new(x->entries, cli_to_json(&entries->via.array.ptr[i]));
		else
			md_entry(x->out, &entries->via.array.ptr[i]);
	}
	return 0;
}

static void md_commitments(FILE *f, const msgpack_object *list)
{
	fputs("## Commitments\n\n", f);
	if (list->via.array.size == 0)
		fputs("None.\n", f);
	for (uint32_t i = 0; i < list->via.array.size; i++) {
		const msgpack_object *c = &list->via.array.ptr[i];
		char id[BUDDY_ID_MAX + 1], title[BUDDY_TITLE_MAX + 1], cad[48],
			tz[BUDDY_TZ_MAX + 1], since[16];
		const msgpack_object *arch = buddy_mp_get(c, "archived");
		cli_fmt_cadence(buddy_mp_get(c, "cadence"), cad, sizeof(cad));
		cli_fmt_date(cli_int(c, "created"), since, sizeof(since));
		fprintf(f, "- **%s**: %s (%s, %s, since %s%s)\n", cli_str(c, "id", id, sizeof(id)),
			cli_str(c, "title", title, sizeof(title)), cad,
			cli_str(c, "tz", tz, sizeof(tz)), since,
			arch && arch->type != MSGPACK_OBJECT_NIL ? ", archived" : "");
	}
	fputs("\n## Entries\n\n", f);
}

/* What one buddy shared with me (the `received` method), page by page: appended to arr (JSON)
 * or written as a Markdown section. */
static int export_buddy(struct export *x, const char *name, json_t *arr)
{
	json_t *entries = x->json ? json_array() : NULL, *commits = NULL;
	uint64_t offset = 0, total = 1;
	int rc = 0;

	while (rc == 0 && offset < total) {
		struct cli_reply rep;
		msgpack_sbuffer params;
		msgpack_packer pk;
		const msgpack_object *list;

		msgpack_sbuffer_init(&params);
		msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 2);
		cli_pack_kv_str(&pk, "buddy", name);
		cli_pack_str(&pk, "offset");
		msgpack_pack_uint64(&pk, offset);
		rc = cli_call("received", &params, &rep);
		msgpack_sbuffer_destroy(&params);
		if (rc)
			break;
		list = buddy_mp_get(rep.result, "entries");
		total = (uint64_t)cli_int(rep.result, "total");
		if (!list || list->type != MSGPACK_OBJECT_ARRAY ||
		    (list->via.array.size == 0 && offset < total)) {
			cli_reply_free(&rep);
			cli_err("buddyd answered with a malformed page of what %s shared", name);
			rc = EXIT_ERROR;
			break;
		}
		if (offset == 0) {
			if (x->json) {
				commits = cli_to_json(buddy_mp_get(rep.result, "commitments"));
			} else {
				fprintf(x->out, "\n## Shared with you by %s\n\n", name);
				if (total == 0)
					fputs("Nothing yet.\n", x->out);
			}
		}
		for (uint32_t i = 0; i < list->via.array.size; i++) {
			const msgpack_object *e = &list->via.array.ptr[i];
			if (x->json)
				json_array_append_new(entries, cli_to_json(e));
			else if (cli_is_set(e, "retracted"))
				fprintf(x->out, "### entry %lld: retracted\n\n",
					(long long)cli_int(e, "id"));
			else
				md_entry(x->out, e);
		}
		offset += list->via.array.size;
		cli_reply_free(&rep);
	}
	if (rc == 0 && x->json) {
		json_t *one = json_object();
		json_object_set_new(one, "buddy", json_string(name));
		json_object_set_new(one, "commitments", commits ? commits : json_array());
		json_object_set_new(one, "entries", entries);
		json_array_append_new(arr, one);
		return 0;
	}
	json_decref(commits);
	json_decref(entries);
	return rc;
}

/* Every buddy, revoked ones included: what they shared is part of this journal. */
static int export_received(struct export *x, json_t *arr)
{
	struct cli_reply rep;
	int rc = cli_call("buddies", NULL, &rep);

	if (rc)
		return rc;
	for (uint32_t i = 0;
	     rc == 0 && rep.result->type == MSGPACK_OBJECT_ARRAY && i < rep.result->via.array.size;
	     i++) {
		char name[BUDDY_PEER_NAME_MAX + 1];
		if (cli_str(&rep.result->via.array.ptr[i], "name", name, sizeof(name))[0])
			rc = export_buddy(x, name, arr);
	}
	cli_reply_free(&rep);
	return rc;
}

static FILE *open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f;

	if (fd < 0) {
		if (errno == EEXIST)
			cli_err("%s exists already; choose a new file name (nothing was written)",
				path);
		else
			cli_err("cannot create %s: %s", path, strerror(errno));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"out", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	const char *format = NULL, *path = NULL;
	struct export x = {0};
	struct cli_reply commits;
	json_t *received = NULL;
	msgpack_sbuffer params;
	msgpack_packer pk;
	char now[32];
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			format = optarg;
		else if (c == 'o')
			path = optarg;
		else
			return cli_usage_err("export", "unknown option");
	}
	if (optind < argc)
		return cli_usage_err("export", "unexpected argument \"%s\"", argv[optind]);
	if (!format || (strcmp(format, "json") && strcmp(format, "markdown")))
		return cli_usage_err("export", "--format is json or markdown");
	x.json = strcmp(format, "json") == 0;
	msgpack_sbuffer_init(&params);
	msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	cli_pack_str(&pk, "all");
	msgpack_pack_true(&pk);
	rc = cli_call("commit.list", &params, &commits);
	msgpack_sbuffer_destroy(&params);
	if (rc)
		return rc;
	if (commits.result->type != MSGPACK_OBJECT_ARRAY) {
		cli_reply_free(&commits);
		cli_err("buddyd answered with a malformed commitment list");
		return EXIT_ERROR;
	}
	x.out = path ? open_out(path) : stdout;
	if (!x.out) {
		cli_reply_free(&commits);
		return EXIT_ERROR;
	}
	fprintf(stderr, "buddy: warning: the export is not encrypted; %s\n",
		path ? "keep the file safe and delete it when you no longer need it"
		     : "mind where you send it");
	cli_fmt_time(time(NULL), now, sizeof(now));
	if (x.json) {
		x.entries = json_array();
	} else {
		fprintf(x.out, "# buddy journal, exported %s\n\n", now);
		md_commitments(x.out, commits.result);
	}
	rc = cli_journal_pages(NULL, 0, export_page, &x);
	received = x.json ? json_array() : NULL;
	if (rc == 0)
		rc = export_received(&x, received);
	if (rc == 0 && x.json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "format", json_string("buddy-export"));
		json_object_set_new(doc, "version", json_integer(1));
		json_object_set_new(doc, "exported_at", json_integer(time(NULL)));
		json_object_set_new(doc, "commitments", cli_to_json(commits.result));
		json_object_set_new(doc, "entries", x.entries);
		json_object_set_new(doc, "received", received);
		x.entries = NULL;
		received = NULL;
		if (json_dumpf(doc, x.out, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
			rc = EXIT_ERROR;
		fputc('\n', x.out);
		json_decref(doc);
	}
	json_decref(x.entries);
	json_decref(received);
	cli_reply_free(&commits);
	if (fflush(x.out) || (path && fsync(fileno(x.out)))) {
		cli_err("cannot write the export: %s", strerror(errno));
		rc = EXIT_ERROR;
	}
	if (path && fclose(x.out) && !rc) {
		cli_err("cannot write the export: %s", strerror(errno));
		rc = EXIT_ERROR;
	}
	if (rc && path)
		unlink(path); /* no half export left behind */
	return rc;
}
