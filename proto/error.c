/* One table from error code to text, shared by the daemon, the CLI and the control API. */
#include "buddy/error.h"

#include <errno.h>

static const char *const messages[BUDDY_E_COUNT_] = {
	[0] = "success",
	[-BUDDY_E_INVALID] = "invalid input",
	[-BUDDY_E_NOMEM] = "out of memory",
	[-BUDDY_E_IO] = "input/output error",
	[-BUDDY_E_NOSPACE] = "no space left on the device",
	[-BUDDY_E_CORRUPT] = "stored data is damaged",
	[-BUDDY_E_AUTH] = "wrong passphrase",
	[-BUDDY_E_VERSION] = "unsupported version",
	[-BUDDY_E_EXISTS] = "already exists",
	[-BUDDY_E_NOTFOUND] = "not found",
	[-BUDDY_E_LOCKED] = "the journal is locked",
	[-BUDDY_E_TOOBIG] = "too large",
	[-BUDDY_E_BUSY] = "busy with another request of the same kind",
	[-BUDDY_E_PERM] = "permission denied",
	[-BUDDY_E_RATELIMIT] = "too many attempts",
	[-BUDDY_E_METHOD] = "unknown method",
	[-BUDDY_E_STATE] = "not possible now",
	[-BUDDY_E_INTERNAL] = "internal error",
};

const char *buddy_strerror(int err)
{
	if (err > 0 || err <= -BUDDY_E_COUNT_)
		return "unknown error";
	return messages[-err];
}

int buddy_err_from_errno(int e)
{
	switch (e) {
	case ENOENT:
		return BUDDY_E_NOTFOUND;
	case EEXIST:
		return BUDDY_E_EXISTS;
	case EACCES:
	case EPERM:
	case ELOOP: /* O_NOFOLLOW met a symbolic link: not our file */
		return BUDDY_E_PERM;
	case ENOSPC:
	case EDQUOT:
		return BUDDY_E_NOSPACE;
	case ENOMEM:
		return BUDDY_E_NOMEM;
	default:
		return BUDDY_E_IO;
	}
}
