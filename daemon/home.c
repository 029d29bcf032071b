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
#include <sys/file.h>
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

/* follow: the home itself may be a symlink the person made (their home elsewhere, a volume
 * mounted somewhere else); what it points to gets the same checks. Inside it, nothing is
 * followed. */
static int check_one(const char *path, int want_dir, bool follow, char *why, size_t whylen)
{
	struct stat st;

	if (follow ? stat(path, &st) : lstat(path, &st))
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
	rc = check_one(h->dir, 1, true, why, whylen);
	if (rc == BUDDY_E_NOTFOUND)
		return rc;
	if (rc)
		return rc;
	rc = check_one(h->keys, 0, false, why, whylen);
	if (rc)
		return rc;
	rc = check_one(h->journal, 1, false, why, whylen);
	if (rc == BUDDY_E_NOTFOUND && mkdir(h->journal, 0700) == 0)
		rc = 0;
	return rc;
}

/* ---- a home built beside its place, or inside it (`buddy restore`) ---- */

#define STAGE_TAG "restore-"
#define STAGE_X	  "XXXXXX"
#define MARKER	  "installing" /* in a staged home whose parts are being moved in */

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

/* why := "WHAT PATH: the reason", in words for the failures a home on a symlink, a mount point
 * or another file system meets */
static int say(char *why, size_t whylen, const char *what, const char *path, int e)
{
	const char *reason = strerror(e);

	if (e == EXDEV)
		reason = "it is on another file system than the home";
	else if (e == EBUSY)
		reason = "it is in use (a mount point?)";
	else if (e == ENOTDIR)
		reason = "a part of that path is not a directory";
	else if (e == EACCES || e == EPERM)
		reason = "permission denied (the directory must be yours and writable)";
	snprintf(why, whylen, "%s %s: %s", what, path, reason);
	return e == EEXIST || e == ENOTEMPTY ? BUDDY_E_EXISTS : buddy_err_from_errno(e);
}

/* Whether name is one restore makes for its staged home: PREFIX "restore-" and 6 characters
 * of mkdtemp's. */
static bool stage_name(const char *name, const char *prefix)
{
	size_t plen = strlen(prefix), tlen = strlen(STAGE_TAG);

	if (strncmp(name, prefix, plen) || strncmp(name + plen, STAGE_TAG, tlen) ||
	    strlen(name) != plen + tlen + strlen(STAGE_X))
		return false;
	for (const char *p = name + plen + tlen; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static void stage_close(struct buddy_staged *st)
{
	if (st->fd >= 0)
		close(st->fd); /* and its lock with it */
	st->fd = -1;
}

int buddy_home_stage(const struct buddy_home *h, struct buddy_staged *st, char *why, size_t whylen)
{
	char tmpl[BUDDY_PATH_MAX + 32];
	const char *slash = strrchr(h->dir, '/');
	struct stat sb;
	int rc;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	snprintf(why, whylen, "%s", "");
	if (!slash || !slash[1])
		return BUDDY_E_INVALID;
	if (stat(h->dir, &sb) == 0) {
		char *real;

		if (!S_ISDIR(sb.st_mode)) {
			snprintf(why, whylen, "%s exists and is not a directory", h->dir);
			return BUDDY_E_EXISTS;
		}
		/* a directory already (maybe through a symlink, maybe a mount point): build in it,
		 * so that each part moves in with a rename on one file system */
		real = realpath(h->dir, NULL);
		if (!real)
			return say(why, whylen, "cannot resolve", h->dir, errno);
		rc = snprintf(tmpl, sizeof(tmpl), "%s/.%s%s", strcmp(real, "/") ? real : "",
			      STAGE_TAG, STAGE_X);
		free(real);
		if (rc < 0 || rc >= BUDDY_PATH_MAX)
			return BUDDY_E_INVALID;
		st->inside = true;
	} else if (errno == ENOENT) {
		char parent[BUDDY_PATH_MAX];
		size_t plen = slash == h->dir ? 1 : (size_t)(slash - h->dir);

		memcpy(parent, h->dir, plen);
		parent[plen] = 0;
		rc = mkdir_p(parent);
		if (rc) {
			snprintf(why, whylen, "cannot create %s", parent);
			return rc;
		}
		rc = snprintf(tmpl, sizeof(tmpl), "%.*s/.%s.%s%s", (int)(slash - h->dir), h->dir,
			      slash + 1, STAGE_TAG, STAGE_X);
		if (rc < 0 || rc >= BUDDY_PATH_MAX)
			return BUDDY_E_INVALID;
	} else {
		return say(why, whylen, "cannot look at", h->dir, errno);
	}
	/* mkdtemp makes it 0700, whatever the umask */
	if (!mkdtemp(tmpl))
		return say(why, whylen, "cannot create", tmpl, errno);
	/* locked while this restore uses it: buddy_home_recover leaves a locked one alone */
	st->fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (st->fd < 0 || flock(st->fd, LOCK_EX | LOCK_NB)) {
		rc = say(why, whylen, "cannot lock", tmpl, errno);
		stage_close(st);
		rmdir(tmpl);
		return rc;
	}
	rc = set_paths(&st->h, tmpl);
	if (rc == 0 && mkdir(st->h.journal, 0700))
		rc = say(why, whylen, "cannot create", st->h.journal, errno);
	if (rc) {
		stage_close(st);
		rmdir(tmpl);
		st->h.dir[0] = 0;
	}
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

/* A staged home's files, its journal/ and itself (what is not restore's stays). */
static bool remove_stage(const char *dir)
{
	char journal[BUDDY_PATH_MAX + 16];

	snprintf(journal, sizeof(journal), "%s/journal", dir);
	/* only what restore writes is in there: files, and the journal directory of files */
	remove_files_in(journal);
	rmdir(journal);
	remove_files_in(dir);
	return rmdir(dir) == 0;
}

void buddy_home_unstage(struct buddy_staged *st)
{
	if (st->h.dir[0])
		remove_stage(st->h.dir);
	st->h.dir[0] = 0;
	stage_close(st);
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

/* Whether dir is empty, or holds nothing but what a daemon that never started leaves there
 * (and restores' staged homes). */
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
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    stage_name(e->d_name, "."))
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

/* The marker: which journal/ and config in the home are the ones this staged home moved there
 * (device and inode: a rename keeps them), so that buddy_home_recover removes those and
 * nothing else. Written, and made durable, before the first part moves. */
static int write_marker(const struct buddy_staged *st, const char *config)
{
	char path[BUDDY_PATH_MAX + 16], text[128];
	struct stat j, c;
	int fd, n, rc = 0;

	if (lstat(st->h.journal, &j))
		return buddy_err_from_errno(errno);
	if (lstat(config, &c))
		memset(&c, 0, sizeof(c));
	n = snprintf(text, sizeof(text), "journal %llu %llu\nconfig %llu %llu\n",
		     (unsigned long long)j.st_dev, (unsigned long long)j.st_ino,
		     (unsigned long long)c.st_dev, (unsigned long long)c.st_ino);
	snprintf(path, sizeof(path), "%s/%s", st->h.dir, MARKER);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return buddy_err_from_errno(errno);
	if (write(fd, text, (size_t)n) != n || fsync(fd))
		rc = BUDDY_E_IO;
	close(fd);
	if (rc == 0)
		rc = fsync_path(st->h.dir);
	if (rc)
		unlink(path);
	return rc;
}

/* Moves the journal, config and key file of a staged home inside dir (or beside it, on the
 * same file system) into dir, the key file last: a key file is what makes a home, so an
 * interruption before it leaves none, and the marker says what to take away again. */
static int move_parts(struct buddy_staged *st, const char *dir, char *why, size_t whylen)
{
	char from_c[BUDDY_PATH_MAX + 16], to_c[BUDDY_PATH_MAX + 16], to_j[BUDDY_PATH_MAX + 16],
		to_k[BUDDY_PATH_MAX + 16], marker[BUDDY_PATH_MAX + 16];
	struct stat sb;
	bool had_journal, has_config;
	int rc;

	rc = only_leftovers(dir, &had_journal);
	if (rc) {
		if (rc != BUDDY_E_EXISTS)
			snprintf(why, whylen, "cannot read %s", dir);
		return rc;
	}
	if (chmod(dir, 0700))
		return say(why, whylen, "cannot make it private (chmod 700)", dir, errno);
	snprintf(from_c, sizeof(from_c), "%s/config", st->h.dir);
	snprintf(to_c, sizeof(to_c), "%s/config", dir);
	snprintf(to_j, sizeof(to_j), "%s/journal", dir);
	snprintf(to_k, sizeof(to_k), "%s/keys", dir);
	snprintf(marker, sizeof(marker), "%s/%s", st->h.dir, MARKER);
	has_config = lstat(from_c, &sb) == 0;
	rc = write_marker(st, from_c);
	if (rc) {
		snprintf(why, whylen, "cannot write in %s: %s", st->h.dir, buddy_strerror(rc));
		goto undo_journal;
	}
	if (rename(st->h.journal, to_j)) {
		rc = say(why, whylen, "cannot move the journal into", dir, errno);
		goto undo_marker;
	}
	if (has_config && rename(from_c, to_c)) {
		rc = say(why, whylen, "cannot move the config into", dir, errno);
		goto undo_moved;
	}
	rc = fsync_path(dir);
	if (rc) {
		snprintf(why, whylen, "cannot write %s: %s", dir, buddy_strerror(rc));
		goto undo_config;
	}
	if (rename(st->h.keys, to_k)) {
		rc = say(why, whylen, "cannot move the key file into", dir, errno);
		goto undo_config;
	}
	/* the home is whole: what follows only tidies up */
	(void)fsync_path(dir);
	unlink(marker);
	buddy_home_unstage(st);
	(void)fsync_path(dir);
	return 0;
undo_config:
	if (has_config)
		(void)rename(to_c, from_c);
undo_moved:
	(void)rename(to_j, st->h.journal);
undo_marker:
	unlink(marker);
undo_journal:
	if (had_journal)
		mkdir(to_j, 0700);
	return rc;
}

int buddy_home_install(struct buddy_staged *st, const struct buddy_home *h, char *why,
		       size_t whylen)
{
	char parent[BUDDY_PATH_MAX];
	struct stat sb;
	int rc;

	snprintf(why, whylen, "%s", "");
	if (lstat(h->keys, &sb) == 0)
		return BUDDY_E_EXISTS;
	if (st->inside) {
		/* the home's real directory is the staged one's parent */
		rc = parent_of(st->h.dir, parent, sizeof(parent));
		return rc ? rc : move_parts(st, parent, why, whylen);
	}
	rc = parent_of(h->dir, parent, sizeof(parent));
	if (rc)
		return rc;
	/* no home there when it was staged: one rename */
	if (rename(st->h.dir, h->dir) == 0) {
		st->h.dir[0] = 0; /* it is the home now */
		stage_close(st);
		return fsync_path(parent);
	}
	if ((errno == EEXIST || errno == ENOTEMPTY) && stat(h->dir, &sb) == 0 &&
	    S_ISDIR(sb.st_mode))
		/* a directory appeared meanwhile: beside it is one file system, move the parts */
		return move_parts(st, h->dir, why, whylen);
	return say(why, whylen, "cannot move the restored home to", h->dir, errno);
}

/* ---- what an interrupted restore leaves ---- */

static void note_add(char *note, size_t notelen, const char *what)
{
	size_t n = strlen(note);

	if (n < notelen)
		snprintf(note + n, notelen - n, "%s%s", n ? ", " : "", what);
}

/* "journal DEV INO\nconfig DEV INO\n" (write_marker) into v; false for anything else. */
static bool parse_marker(const char *t, unsigned long long v[4])
{
	static const char *const word[] = {"journal ", " ", "\nconfig ", " "};
	char *end;

	for (int i = 0; i < 4; i++) {
		if (strncmp(t, word[i], strlen(word[i])))
			return false;
		t += strlen(word[i]);
		if (*t < '0' || *t > '9')
			return false;
		errno = 0;
		v[i] = strtoull(t, &end, 10);
		if (errno)
			return false;
		t = end;
	}
	return strcmp(t, "\n") == 0;
}

/* A staged home nobody holds: its marker's parts in home (when home has no key file), then
 * itself. 1 when something was removed. */
static int clean_stage(const char *sdir, const char *home, char *note, size_t notelen)
{
	char path[BUDDY_PATH_MAX + 16], text[128] = "";
	unsigned long long v[4] = {0, 0, 0, 0};
	struct stat sb;
	int fd = open(sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW), mfd, found = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	/* a restore running now holds its lock; and only our own */
	if (flock(fd, LOCK_EX | LOCK_NB) || fstat(fd, &sb) || sb.st_uid != geteuid()) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/keys", home);
	if (lstat(path, &sb) && errno == ENOENT) {
		snprintf(path, sizeof(path), "%s/%s", sdir, MARKER);
		mfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (mfd >= 0) {
			n = read(mfd, text, sizeof(text) - 1);
			text[n > 0 ? n : 0] = 0;
			close(mfd);
		}
		/* interrupted between its first move and the key file: take back exactly what it
		 * moved, known by device and inode */
		if (parse_marker(text, v)) {
			snprintf(path, sizeof(path), "%s/journal", home);
			if (v[1] && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) &&
			    (unsigned long long)sb.st_dev == v[0] &&
			    (unsigned long long)sb.st_ino == v[1]) {
				remove_files_in(path);
				if (rmdir(path) == 0) {
					note_add(note, notelen, path);
					found = 1;
				}
			}
			snprintf(path, sizeof(path), "%s/config", home);
			if (v[3] && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    (unsigned long long)sb.st_dev == v[2] &&
			    (unsigned long long)sb.st_ino == v[3] && unlink(path) == 0) {
				note_add(note, notelen, path);
				found = 1;
			}
		}
	}
	if (remove_stage(sdir)) {
		note_add(note, notelen, sdir);
		found = 1;
	}
	close(fd);
	return found;
}

/* Every staged home in dir whose name starts with prefix. */
static int clean_in(const char *dir, const char *prefix, const char *home, char *note,
		    size_t notelen)
{
	char path[BUDDY_PATH_MAX];
	struct dirent *e;
	DIR *dp = opendir(dir);
	int found = 0, n;

	if (!dp)
		return 0;
	while ((e = readdir(dp))) {
		if (!stage_name(e->d_name, prefix))
			continue;
		n = snprintf(path, sizeof(path), "%s/%.*s", strcmp(dir, "/") ? dir : "",
			     (int)(sizeof(path) / 2), e->d_name);
		if (n > 0 && (size_t)n < sizeof(path))
			found |= clean_stage(path, home, note, notelen);
	}
	closedir(dp);
	return found;
}

int buddy_home_recover(const struct buddy_home *h, char *note, size_t notelen)
{
	char parent[BUDDY_PATH_MAX], prefix[BUDDY_PATH_MAX + 2];
	const char *slash = strrchr(h->dir, '/');
	struct stat sb;
	int found = 0;

	if (notelen)
		note[0] = 0;
	if (!slash || !slash[1] || parent_of(h->dir, parent, sizeof(parent)))
		return 0;
	snprintf(prefix, sizeof(prefix), ".%s.", slash + 1);
	found |= clean_in(parent, prefix, h->dir, note, notelen);
	if (stat(h->dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		char *real = realpath(h->dir, NULL);

		if (real) {
			found |= clean_in(real, ".", real, note, notelen);
			free(real);
		}
	}
	return found;
}
