/* Locating, creating and checking the buddy home (see buddy/home.h). */
#include "buddy/home.h"
#include "buddy/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *out, size_t n, const char *a, const char *b)
{
	int len = snprintf(out, n, "%s/%s", a, b);

	return (len < 0 || (size_t)len >= n) ? BUDDY_E_INVALID : 0;
}

int buddy_home_resolve(struct buddy_home *h)
{
	const char *env = getenv("BUDDY_HOME");
	int rc;

	memset(h, 0, sizeof(*h));
	if (env && *env) {
		rc = snprintf(h->dir, sizeof(h->dir), "%s", env);
	} else if ((env = getenv("XDG_DATA_HOME")) && *env) {
		rc = snprintf(h->dir, sizeof(h->dir), "%s/buddy", env);
	} else if ((env = getenv("HOME")) && *env) {
		rc = snprintf(h->dir, sizeof(h->dir), "%s/.local/share/buddy", env);
	} else {
		return BUDDY_E_INVALID;
	}
	if (rc < 0 || (size_t)rc >= sizeof(h->dir) || h->dir[0] != '/')
		return BUDDY_E_INVALID;
	/* a trailing slash would make every joined path look different from the same home */
	while (strlen(h->dir) > 1 && h->dir[strlen(h->dir) - 1] == '/')
		h->dir[strlen(h->dir) - 1] = 0;
	if (join(h->keys, sizeof(h->keys), h->dir, "keys") ||
	    join(h->journal, sizeof(h->journal), h->dir, "journal") ||
	    join(h->lock, sizeof(h->lock), h->dir, "buddyd.lock") ||
	    join(h->sock, sizeof(h->sock), h->dir, "buddyd.sock"))
		return BUDDY_E_INVALID;
	return 0;
}

static int mkdir_p(const char *path)
{
	char tmp[BUDDY_PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return BUDDY_E_INVALID;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return BUDDY_E_IO;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return BUDDY_E_IO;
	return 0;
}

int buddy_home_create(const struct buddy_home *h)
{
	struct stat st;
	int rc;

	if (lstat(h->keys, &st) == 0)
		return BUDDY_E_EXISTS;
	rc = mkdir_p(h->dir);
	if (rc)
		return rc;
	/* mkdir honours the umask and an existing directory keeps its mode: make it ours alone */
	if (chmod(h->dir, 0700))
		return BUDDY_E_IO;
	if (mkdir(h->journal, 0700) && errno != EEXIST)
		return BUDDY_E_IO;
	if (chmod(h->journal, 0700))
		return BUDDY_E_IO;
	return 0;
}

static int check_one(const char *path, int want_dir, char *why, size_t whylen)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? BUDDY_E_NOTFOUND : BUDDY_E_IO;
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a %s", path,
			 want_dir ? "directory" : "regular file");
		return BUDDY_E_PERM;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, whylen, "%s is owned by another user (uid %u)", path,
			 (unsigned)st.st_uid);
		return BUDDY_E_PERM;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen,
			 "%s can be read by others (mode %03o); fix it with: chmod %s %s", path,
			 (unsigned)(st.st_mode & 0777), want_dir ? "700" : "600", path);
		return BUDDY_E_PERM;
	}
	return 0;
}

int buddy_home_check(const struct buddy_home *h, char *why, size_t whylen)
{
	int rc;

	snprintf(why, whylen, "%s", "");
	rc = check_one(h->dir, 1, why, whylen);
	if (rc == BUDDY_E_NOTFOUND)
		return rc;
	if (rc)
		return rc;
	rc = check_one(h->keys, 0, why, whylen);
	if (rc)
		return rc;
	rc = check_one(h->journal, 1, why, whylen);
	if (rc == BUDDY_E_NOTFOUND && mkdir(h->journal, 0700) == 0)
		rc = 0;
	return rc;
}

/* ---- a home built beside its place (`buddy restore`) ---- */

static int set_paths(struct buddy_home *h, const char *dir)
{
	memset(h, 0, sizeof(*h));
	if (snprintf(h->dir, sizeof(h->dir), "%s", dir) >= (int)sizeof(h->dir) ||
	    join(h->keys, sizeof(h->keys), dir, "keys") ||
	    join(h->journal, sizeof(h->journal), dir, "journal") ||
	    join(h->lock, sizeof(h->lock), dir, "buddyd.lock"))
		return BUDDY_E_INVALID;
	return 0;
}

int buddy_home_stage(const struct buddy_home *h, struct buddy_home *staged)
{
	char parent[BUDDY_PATH_MAX], tmpl[BUDDY_PATH_MAX];
	const char *slash = strrchr(h->dir, '/');
	size_t plen;
	int rc;

	if (!slash || !slash[1])
		return BUDDY_E_INVALID;
	plen = slash == h->dir ? 1 : (size_t)(slash - h->dir);
	memcpy(parent, h->dir, plen);
	parent[plen] = 0;
	rc = mkdir_p(parent);
	if (rc)
		return rc;
	if (snprintf(tmpl, sizeof(tmpl), "%.*s/.%s.restore-XXXXXX", (int)(slash - h->dir), h->dir,
		     slash + 1) >= (int)sizeof(tmpl))
		return BUDDY_E_INVALID;
	/* mkdtemp makes it 0700, whatever the umask */
	if (!mkdtemp(tmpl))
		return buddy_err_from_errno(errno);
	rc = set_paths(staged, tmpl);
	if (rc == 0 && mkdir(staged->journal, 0700))
		rc = buddy_err_from_errno(errno);
	if (rc)
		rmdir(tmpl);
	return rc;
}

static int remove_files_in(const char *dir)
{
	struct dirent *e;
	char path[BUDDY_PATH_MAX];
	DIR *dp = opendir(dir);

	if (!dp)
		return errno == ENOENT ? 0 : BUDDY_E_IO;
	while ((e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	closedir(dp);
	return 0;
}

void buddy_home_unstage(const struct buddy_home *staged)
{
	if (!staged->dir[0])
		return;
	/* only what restore writes is in there: files, and the journal directory of files */
	remove_files_in(staged->journal);
	rmdir(staged->journal);
	remove_files_in(staged->dir);
	rmdir(staged->dir);
}

static int fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return buddy_err_from_errno(errno);
	if (fsync(fd) && errno != EINVAL)
		rc = buddy_err_from_errno(errno);
	close(fd);
	return rc;
}

static int parent_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	size_t len = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);

	if (!slash || len >= n)
		return BUDDY_E_INVALID;
	memcpy(out, path, len);
	out[len] = 0;
	return 0;
}

/* Whether dir is empty, or holds nothing but what a daemon that never started leaves there. */
static int only_leftovers(const char *dir, bool *journal)
{
	static const char *const ok[] = {"buddyd.log", "buddyd.log.old", "buddyd.lock",
					 "buddyd.sock", "journal"};
	char path[BUDDY_PATH_MAX + 16];
	struct dirent *e;
	DIR *dp = opendir(dir);
	bool found;

	*journal = false;
	if (!dp)
		return buddy_err_from_errno(errno);
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		found = false;
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			found |= strcmp(e->d_name, ok[i]) == 0;
		if (!found) {
			closedir(dp);
			return BUDDY_E_EXISTS;
		}
		if (strcmp(e->d_name, "journal") == 0)
			*journal = true;
	}
	closedir(dp);
	/* an empty journal/ may go; one with files is another journal */
	snprintf(path, sizeof(path), "%s/journal", dir);
	if (*journal && rmdir(path))
		return BUDDY_E_EXISTS;
	return 0;
}

int buddy_home_install(const struct buddy_home *staged, const struct buddy_home *h)
{
	char parent[BUDDY_PATH_MAX], from[BUDDY_PATH_MAX + 16], to[BUDDY_PATH_MAX + 16];
	struct stat st;
	bool had_journal, has_config;
	int rc;

	rc = parent_of(h->dir, parent, sizeof(parent));
	if (rc)
		return rc;
	if (lstat(h->keys, &st) == 0)
		return BUDDY_E_EXISTS;
	/* the usual case: no home there yet (or an empty directory): one rename */
	if (rename(staged->dir, h->dir) == 0)
		return fsync_path(parent);
	if (errno != EEXIST && errno != ENOTEMPTY)
		return buddy_err_from_errno(errno);
	/* a directory with a daemon's leftovers: move the parts in, the key file last, since a
	 * key file is what makes a home (an interruption before it leaves none) */
	rc = only_leftovers(h->dir, &had_journal);
	if (rc)
		return rc;
	if (chmod(h->dir, 0700))
		return buddy_err_from_errno(errno);
	if (rename(staged->journal, h->journal)) {
		rc = buddy_err_from_errno(errno);
		if (had_journal)
			mkdir(h->journal, 0700);
		return rc;
	}
	snprintf(from, sizeof(from), "%s/config", staged->dir);
	snprintf(to, sizeof(to), "%s/config", h->dir);
	has_config = lstat(from, &st) == 0;
	if ((has_config && rename(from, to)) || rename(staged->keys, h->keys)) {
		rc = buddy_err_from_errno(errno);
		/* put everything back where it was: the staged home is whole again */
		if (has_config)
			(void)rename(to, from);
		(void)rename(h->journal, staged->journal);
		if (had_journal)
			mkdir(h->journal, 0700);
		return rc;
	}
	rmdir(staged->dir);
	rc = fsync_path(h->dir);
	if (rc == 0)
		rc = fsync_path(parent);
	return rc;
}
