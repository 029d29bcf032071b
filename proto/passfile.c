/* Passphrase files (see buddy/passfile.h). */
#include "buddy/passfile.h"
#include "buddy/error.h"
#include "buddy/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

int buddy_passfile_read(const char *path, char **out, size_t *len)
{
	char *buf = sodium_malloc(BUDDY_PASSPHRASE_MAX + 2);
	size_t n = 0;
	int fd, rc = 0;

	if (!buf)
		return BUDDY_E_NOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = BUDDY_E_IO;
		goto out;
	}
	while (n < BUDDY_PASSPHRASE_MAX + 2) {
		ssize_t r = read(fd, buf + n, BUDDY_PASSPHRASE_MAX + 2 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = BUDDY_E_IO;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > BUDDY_PASSPHRASE_MAX)
		rc = BUDDY_E_TOOBIG;
	else if (n == 0)
		rc = BUDDY_E_INVALID;
out:
	if (fd >= 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	if (rc) {
		sodium_free(buf);
		return rc;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}
