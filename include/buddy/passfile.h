/* Reading a passphrase from a file (--passphrase-file), for services and tests. The file holds
 * the passphrase; one trailing newline is not part of it. */
#ifndef BUDDY_PASSFILE_H
#define BUDDY_PASSFILE_H

#include <stddef.h>

/* Reads at most BUDDY_PASSPHRASE_MAX bytes into a sodium_malloc'd, NUL-terminated buffer
 * (*out, free with sodium_free). BUDDY_E_TOOBIG for a longer file, BUDDY_E_IO when it cannot be
 * read (errno kept), BUDDY_E_INVALID when it is empty. */
int buddy_passfile_read(const char *path, char **out, size_t *len);

#endif
