/* Error codes shared by every layer. Fallible functions return 0 or one of these (negative);
 * the control API sends the positive value as its stable `code` (proto/CONTROL.md). */
#ifndef BUDDY_ERROR_H
#define BUDDY_ERROR_H

enum buddy_err {
	BUDDY_OK = 0,
	BUDDY_E_INVALID = -1,	 /* malformed input or invalid argument */
	BUDDY_E_NOMEM = -2,	 /* out of memory */
	BUDDY_E_IO = -3,	 /* an I/O error from the operating system */
	BUDDY_E_NOSPACE = -4,	 /* the disk is full */
	BUDDY_E_CORRUPT = -5,	 /* stored data failed its integrity check */
	BUDDY_E_AUTH = -6,	 /* wrong passphrase or key */
	BUDDY_E_VERSION = -7,	 /* unsupported format or protocol version */
	BUDDY_E_EXISTS = -8,	 /* already exists */
	BUDDY_E_NOTFOUND = -9,	 /* no such thing */
	BUDDY_E_LOCKED = -10,	 /* the journal is locked */
	BUDDY_E_TOOBIG = -11,	 /* over a size limit */
	BUDDY_E_BUSY = -12,	 /* another operation of the same kind is in progress */
	BUDDY_E_PERM = -13,	 /* permissions are unsafe or access was refused */
	BUDDY_E_RATELIMIT = -14, /* too many attempts; try again later */
	BUDDY_E_METHOD = -15,	 /* unknown control method */
	BUDDY_E_STATE = -16,	 /* not possible in the current state */
	BUDDY_E_INTERNAL = -17,	 /* a bug: should never happen */
	BUDDY_E_COUNT_ = 18
};

/* A short English sentence fragment for err ("wrong passphrase"); never NULL. */
const char *buddy_strerror(int err);

/* The buddy_err for an errno value from a file operation (ENOSPC -> BUDDY_E_NOSPACE, ...). */
int buddy_err_from_errno(int e);

#endif
