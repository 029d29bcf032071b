/* The buddy home: where it is, what lives in it, and that only its owner can read it.
 * Shared by the daemon and by `buddy init` (the one command that runs before any daemon). */
#ifndef BUDDY_HOME_H
#define BUDDY_HOME_H

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

/* `buddy restore` builds the home beside its place and moves it there only when complete, so
 * a failure leaves nothing half-written. buddy_home_stage makes the directory
 * "PARENT/.NAME.restore-XXXXXX" (0700; PARENT made 0700 as needed) with its journal/ (0700),
 * and fills in its paths (not sock). */
int buddy_home_stage(const struct buddy_home *h, struct buddy_home *staged);

/* Moves a staged home to h: one rename when h->dir does not exist or is an empty directory;
 * when it holds only what a daemon that could not start leaves (buddyd.log, buddyd.lock,
 * buddyd.sock, an empty journal/), the journal, config and key file are moved in, the key file
 * last. BUDDY_E_EXISTS, and nothing moved, when h->dir has a key file or anything else. */
int buddy_home_install(const struct buddy_home *staged, const struct buddy_home *h);

/* Removes a staged home and the files in it (a failed restore). */
void buddy_home_unstage(const struct buddy_home *staged);

#endif
