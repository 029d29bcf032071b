/* Locating, creating and checking the buddy home (see buddy/home.h). */
#include "buddy/home.h"
#include "buddy/error.h"

#include <errno.h>
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
