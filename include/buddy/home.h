/* The buddy home: where it is, what lives in it, and that only its owner can read it.
 * Shared by the daemon and by `buddy init` (the one command that runs before any daemon). */
#ifndef BUDDY_HOME_H
#define BUDDY_HOME_H

#include <stdbool.h>
#include <stddef.h>

#define BUDDY_PATH_MAX 4096

struct buddy_home {
	char dir[BUDDY_PATH_MAX];
	char keys[BUDDY_PATH_MAX];    /* sealed identity + data key */
	char journal[BUDDY_PATH_MAX]; /* the store's segment files */
	char sock[108];		      /* control socket (sun_path is 108 bytes) */
	char lock[BUDDY_PATH_MAX];    /* one daemon per home */
};

/* $BUDDY_HOME, else $XDG_DATA_HOME/buddy, else $HOME/.local/share/buddy. Fails with
 * BUDDY_E_INVALID when none is set, a path is relative, or the socket path would not fit. */
int buddy_home_resolve(struct buddy_home *h);

/* Creates the home (parents 0700 as needed) and its journal directory, both 0700. A home that
 * already holds a key file is BUDDY_E_EXISTS. */
int buddy_home_create(const struct buddy_home *h);

/* Checks that the home and its journal directory are directories owned by us with no
 * group/other permission bits, and the key file likewise (BUDDY_E_PERM, with the offending path
 * and the fix in why); BUDDY_E_NOTFOUND when there is no key file (not initialised). */
int buddy_home_check(const struct buddy_home *h, char *why, size_t whylen);

/* `buddy restore` builds the home in a staged directory and moves it into place only when it
 * is complete, so that a failure leaves nothing half-written. */
struct buddy_staged {
	struct buddy_home h; /* its paths (not sock) */
	int fd;		     /* the staged directory, locked (flock) while in use; -1: none */
	bool inside;	     /* in the home's directory itself, not beside it */
};

/* Makes the staged directory (0700, locked) with its journal/ (0700): when h->dir is a
 * directory already (or a symlink to one, or a mount point), "REALDIR/.restore-XXXXXX" inside
 * it, so that its parts move in with renames on one file system; otherwise
 * "PARENT/.NAME.restore-XXXXXX" beside it (PARENT made 0700 as needed). why says what failed. */
int buddy_home_stage(const struct buddy_home *h, struct buddy_staged *st, char *why, size_t whylen);

/* Moves a staged home to h. Beside: one rename. Inside (or when a directory appeared
 * meanwhile): only when h->dir holds nothing but what a daemon that could not start leaves
 * (buddyd.log, buddyd.lock, buddyd.sock, an empty journal/) and staged homes; a marker is
 * written in the staged directory first, then the journal, config and key file are moved in,
 * the key file last, and the marker and staged directory removed. BUDDY_E_EXISTS, and nothing
 * moved, when h->dir has a key file or anything else; other failures put back what moved and
 * say why (a mount point, another file system, ...). */
int buddy_home_install(struct buddy_staged *st, const struct buddy_home *h, char *why,
		       size_t whylen);

/* Removes a staged home and the files in it (a failed restore), and its lock. */
void buddy_home_unstage(struct buddy_staged *st);

/* Removes what an interrupted restore (kill -9, a power loss) left: staged homes beside h->dir
 * (".NAME.restore-XXXXXX") and in it (".restore-XXXXXX") that no running restore holds, and,
 * when h->dir has no key file, the journal/ and config that such a staged home's marker says it
 * had moved there (the same device and inode: nothing else). 1 when something was removed,
 * with the paths in note. Run by restore and init before they look at the home. */
int buddy_home_recover(const struct buddy_home *h, char *note, size_t notelen);

#endif
