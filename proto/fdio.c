/* buddy/fdio.h */
#include "buddy/fdio.h"
#include "buddy/error.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

int buddy_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);
		int e = errno;

		if (w < 0 && e == EINTR)
			continue;
		if (w < 0) {
			int rc = buddy_err_from_errno(e);

			errno = e; /* for a caller that says why with strerror(errno) */
			return rc;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}
