/* buddy config: reads and edits $BUDDY_HOME/config itself (no daemon needed, like git config),
 * then asks a running buddyd to reload it. An edit keeps every other line and comment as it
 * was; the whole new text is checked with the daemon's own parser (daemon/config.c) in a
 * temporary file before it replaces the old one, so a refused value leaves the file untouched. */
#include "buddy/config.h"
#include "buddy/error.h"
#include "buddy/home.h"
#include "buddy/mp.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CONFIG_TEXT_MAX (64 * 1024)
#define VALUE_MAX	(BUDDY_HOOK_LINE_MAX + 64)

struct ctx {
	struct buddy_home home;
	char path[BUDDY_PATH_MAX + 16];
};

static int open_home(struct ctx *x)
{
	if (buddy_home_resolve(&x->home)) {
		cli_err("cannot find the buddy home: set BUDDY_HOME to an absolute path");
		return EXIT_USAGE;
	}
	snprintf(x->path, sizeof(x->path), "%s/config", x->home.dir);
	return 0;
}

/* "section.key" into its parts; EXIT_NOTFOUND (said) when no such key. */
static int split_key(const char *arg, char *sec, size_t seclen, const char **key)
{
	const char *dot = strchr(arg, '.');
	struct buddy_config c;
	char v[VALUE_MAX];
	bool set;
	int rc;

	if (!dot || (size_t)(dot - arg) >= seclen || !dot[1]) {
		cli_err("\"%s\" is not a key: SECTION.KEY, e.g. peer.idle (buddy config list)",
			arg);
		return EXIT_NOTFOUND;
	}
	snprintf(sec, seclen, "%.*s", (int)(dot - arg), arg);
	*key = dot + 1;
	buddy_config_load(NULL, &c, v, sizeof(v));
	rc = buddy_config_value(&c, sec, *key, v, sizeof(v), &set);
	buddy_config_free(&c);
	if (rc) {
		cli_err("no key \"%s\" (buddy config list shows them)", arg);
		return EXIT_NOTFOUND;
	}
	return 0;
}

/* The configuration in effect (defaults for a missing file); a refused file is said. */
static int load(const struct ctx *x, struct buddy_config *c)
{
	char err[512] = "";
	int rc = buddy_config_load(x->path, c, err, sizeof(err));

	if (rc) {
		cli_err("%s", err[0] ? err : buddy_strerror(rc));
		return rc == BUDDY_E_INVALID || rc == BUDDY_E_PERM ? EXIT_USAGE : EXIT_ERROR;
	}
	return 0;
}

static int cmd_list(struct ctx *x, bool json)
{
	struct buddy_config c;
	const char *sec, *key;
	json_t *arr = NULL;
	int rc = load(x, &c);

	if (rc)
		return rc;
	if (json)
		arr = json_array();
	for (size_t i = 0; buddy_config_key_at(i, &sec, &key); i++) {
		char v[VALUE_MAX];
		bool set;

		buddy_config_value(&c, sec, key, v, sizeof(v), &set);
		if (json) {
			char name[64];

			snprintf(name, sizeof(name), "%s.%s", sec, key);
			json_array_append_new(arr,
					      json_pack("{s:s, s:s, s:s}", "key", name, "value", v,
							"source", set ? "file" : "default"));
		} else {
			printf("%s.%s = %s%s\n", sec, key, v, set ? "" : "  (default)");
		}
	}
	buddy_config_free(&c);
	if (json) {
		char *s = json_dumps(arr, JSON_INDENT(2));

		json_decref(arr);
		if (!s)
			return EXIT_ERROR;
		puts(s);
		free(s);
	}
	return EXIT_OK;
}

static int cmd_get(struct ctx *x, const char *arg)
{
	struct buddy_config c;
	char sec[32], v[VALUE_MAX];
	const char *key;
	bool set;
	int rc = split_key(arg, sec, sizeof(sec), &key);

	if (rc || (rc = load(x, &c)))
		return rc;
	buddy_config_value(&c, sec, key, v, sizeof(v), &set);
	buddy_config_free(&c);
	puts(v);
	return EXIT_OK;
}

/* The file's text ("" when there is none) after the same checks of ownership and mode as
 * buddyd makes. */
static int read_text(const struct ctx *x, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t r;
	int fd = open(x->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

	*out = NULL;
	*len = 0;
	if (fd < 0 && errno == ENOENT) {
		*out = calloc(1, 1);
		return *out ? 0 : EXIT_ERROR;
	}
	if (fd < 0) {
		cli_err("cannot open %s: %s", x->path, strerror(errno));
		return EXIT_ERROR;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) || st.st_size > CONFIG_TEXT_MAX) {
		if (!S_ISREG(st.st_mode))
			cli_err("%s is not a regular file", x->path);
		else if (st.st_uid != geteuid())
			cli_err("%s is not owned by this user (it names programs buddyd runs)",
				x->path);
		else if (st.st_mode & (S_IWGRP | S_IWOTH))
			cli_err("%s is writable by group or others (it names programs buddyd "
				"runs): chmod go-w %s",
				x->path, x->path);
		else
			cli_err("%s is larger than %d bytes", x->path, CONFIG_TEXT_MAX);
		close(fd);
		return EXIT_USAGE;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return EXIT_ERROR;
	}
	while (*len < (size_t)st.st_size) {
		r = read(fd, buf + *len, (size_t)st.st_size - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*len += (size_t)r;
	}
	close(fd);
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

/* The name of a "[name]" header line (into sec), or of a "name = value" line (into name);
 * returns 1 for a header, 2 for a setting, 0 otherwise. */
static int classify(const char *line, size_t len, char *sec, char *name, size_t cap)
{
	size_t i = 0, j;

	if (len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3))
		i = 3; /* a byte order mark, as inih skips it */
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == ';' || line[i] == '#' || line[i] == '\r' || line[i] == '\n')
		return 0;
	if (line[i] == '[') {
		j = i + 1;
		while (j < len && line[j] != ']')
			j++;
		if (j == len)
			return 0;
		snprintf(sec, cap, "%.*s", (int)(j - i - 1), line + i + 1);
		return 1;
	}
	j = i;
	while (j < len && line[j] != '=' && line[j] != ':')
		j++;
	if (j == len)
		return 0;
	while (j > i && (line[j - 1] == ' ' || line[j - 1] == '\t'))
		j--;
	snprintf(name, cap, "%.*s", (int)(j - i), line + i);
	return 2;
}

/* text with key's line in section replaced by repl (NULL: removed); when the key is not
 * there, repl is added after the section's last line that is not blank, or in a new section at the
 * end. */
static char *edit(const char *text, const char *section, const char *key, const char *repl,
		  bool *found)
{
	size_t tlen = strlen(text), cap = tlen + (repl ? strlen(repl) : 0) + strlen(section) + 16;
	char *out = malloc(cap), cur[64] = "", name[64];
	const char *p = text, *key_line = NULL, *insert_at = NULL;
	size_t key_len = 0;

	*found = false;
	if (!out)
		return NULL;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		int k = classify(p, len, cur, name, sizeof(name));

		if (k == 1 && !strcmp(cur, section))
			insert_at = p + len; /* right after the header, until a setting follows */
		if (k == 0 && !strcmp(cur, section) && p[strspn(p, " \t\r\n")] &&
		    (size_t)strspn(p, " \t\r\n") < len)
			insert_at = p + len; /* after the section's comments too */
		if (k == 2 && !strcmp(cur, section)) {
			if (!strcmp(name, key) && !key_line) {
				key_line = p;
				key_len = len;
			}
			insert_at = p + len;
		}
		p += len;
	}
	out[0] = '\0';
	if (key_line) {
		*found = true;
		snprintf(out, cap, "%.*s%s%s", (int)(key_line - text), text, repl ? repl : "",
			 key_line + key_len);
	} else if (!repl) {
		snprintf(out, cap, "%s", text);
	} else if (insert_at) {
		/* a section's last line may lack its newline (the end of the file) */
		bool nl = insert_at > text && insert_at[-1] != '\n';

		snprintf(out, cap, "%.*s%s%s%s", (int)(insert_at - text), text, nl ? "\n" : "",
			 repl, insert_at);
	} else {
		snprintf(out, cap, "%s%s[%s]\n%s", text,
			 tlen && text[tlen - 1] != '\n' ? "\n"
			 : tlen				? "\n"
							: "",
			 section, repl);
	}
	return out;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Writes text to a 0600 temporary file in the home, checks it with the daemon's parser (its
 * messages naming the real file), and renames it over the configuration. */
static int replace(const struct ctx *x, const char *text, const char *what)
{
	char tmp[BUDDY_PATH_MAX + 32], err[600] = "";
	struct buddy_config c;
	size_t len = strlen(text), off = 0;
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s/.config.XXXXXX", x->home.dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		cli_err("cannot create a file in %s: %s", x->home.dir, strerror(errno));
		return EXIT_ERROR;
	}
	fchmod(fd, 0600);
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cli_err("cannot write %s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return EXIT_ERROR;
		}
		off += (size_t)w;
	}
	if (fsync(fd)) {
		cli_err("cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return EXIT_ERROR;
	}
	close(fd);
	rc = buddy_config_load_as(tmp, x->path, &c, err, sizeof(err));
	buddy_config_free(&c);
	if (rc) {
		unlink(tmp);
		cli_err("%s refused, %s left as it was: %s", what, x->path,
			err[0] ? err : buddy_strerror(rc));
		return EXIT_USAGE;
	}
	if (rename(tmp, x->path)) {
		cli_err("cannot replace %s: %s", x->path, strerror(errno));
		unlink(tmp);
		return EXIT_ERROR;
	}
	if (fsync_dir(x->home.dir))
		cli_err("warning: cannot sync %s: %s", x->home.dir, strerror(errno));
	return 0;
}

/* A daemon running for the home reloads; none running is fine (it reads the file when it
 * starts), and none is started for this. */
static int reload(const struct ctx *x)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct cli_reply rep;
	char msg[600];
	int fd, code, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return EXIT_ERROR;
	memcpy(sa.sun_path, x->home.sock, strlen(x->home.sock) + 1);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc) {
		puts("buddyd is not running: the change applies when it starts");
		return EXIT_OK;
	}
	rc = cli_call_quiet("config.reload", NULL, &rep, &code, msg, sizeof(msg));
	if (rc) {
		if (code)
			cli_err("buddyd did not reload the configuration: %s", msg);
		return rc;
	}
	{
		const msgpack_object *ch = buddy_mp_get(rep.result, "changed");
		size_t n = cli_count(ch);

		if (!n) {
			puts("buddyd reloaded the configuration: nothing changed");
		} else {
			fputs("buddyd reloaded the configuration, changed: ", stdout);
			cli_print_names(ch);
			putchar('\n');
		}
	}
	cli_reply_free(&rep);
	return EXIT_OK;
}

static int cmd_set(struct ctx *x, const char *arg, const char *value)
{
	char sec[32], line[VALUE_MAX + 64], *text, *nt;
	const char *key;
	size_t len;
	bool found;
	int rc = split_key(arg, sec, sizeof(sec), &key);

	if (rc)
		return rc;
	if (value) {
		if (strpbrk(value, "\r\n") || strlen(value) > BUDDY_HOOK_LINE_MAX) {
			cli_err("%s: a value is one line of at most %d bytes", arg,
				BUDDY_HOOK_LINE_MAX);
			return EXIT_USAGE;
		}
		snprintf(line, sizeof(line), "%s = %s\n", key, value);
	}
	if ((rc = read_text(x, &text, &len)))
		return rc;
	nt = edit(text, sec, key, value ? line : NULL, &found);
	free(text);
	if (!nt)
		return EXIT_ERROR;
	if (!value && !found) {
		free(nt);
		printf("%s is not set in %s\n", arg, x->path);
		return EXIT_OK;
	}
	{
		char what[96];

		snprintf(what, sizeof(what), "%s %s", value ? "setting" : "unsetting", arg);
		rc = replace(x, nt, what);
	}
	free(nt);
	if (rc)
		return rc;
	if (value)
		printf("%s = %s\n", arg, value);
	else
		printf("%s unset\n", arg);
	return reload(x);
}

int cmd_config(int argc, char **argv)
{
	struct ctx x;
	int rc;

	if (argc < 2)
		return cli_usage_err("config", "missing a subcommand: list, get, set or unset");
	if ((rc = open_home(&x)))
		return rc;
	if (!strcmp(argv[1], "list")) {
		bool json = argc == 3 && !strcmp(argv[2], "--json");

		if (argc > 3 || (argc == 3 && !json))
			return cli_usage_err("config", "list takes only --json");
		return cmd_list(&x, json);
	}
	if (!strcmp(argv[1], "get")) {
		if (argc != 3)
			return cli_usage_err("config", "get takes one KEY, e.g. peer.idle");
		return cmd_get(&x, argv[2]);
	}
	if (!strcmp(argv[1], "set")) {
		if (argc != 4)
			return cli_usage_err("config", "set takes KEY and VALUE");
		return cmd_set(&x, argv[2], argv[3]);
	}
	if (!strcmp(argv[1], "unset")) {
		if (argc != 3)
			return cli_usage_err("config", "unset takes one KEY");
		return cmd_set(&x, argv[2], NULL);
	}
	return cli_usage_err("config", "no subcommand \"%s\" (list, get, set, unset)", argv[1]);
}
