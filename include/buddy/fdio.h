/* Writing a whole buffer to a file descriptor, for the places that write files themselves
 * (the key file, a backup, a restored home). */
#ifndef BUDDY_FDIO_H
#define BUDDY_FDIO_H

#include <stddef.h>

/* Writes all n bytes of p to fd, retrying after EINTR and short writes. 0, or the buddy_err of
 * the failing write's errno (buddy_err_from_errno); errno is left as the write set it. */
int buddy_write_all(int fd, const void *p, size_t n);

#endif
