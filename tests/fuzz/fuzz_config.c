/* libFuzzer target for the daemon's configuration file (daemon/config.c). Each input is
 * written to one file (mode 0600) in a directory made once per process under /tmp, and read
 * with buddy_config_load as buddyd reads $BUDDY_HOME/config. Whatever the bytes, nothing reads
 * out of bounds or leaks, and:
 *   - the answer is 0 or BUDDY_E_INVALID (the file is ours and 0600), with a message on error;
 *   - on success every duration is within its bounds and every hook is 1..16 words of which
 *     the first is an absolute path;
 *   - on error the configuration is the defaults, with no hook.
 * Seeds are in corpus/config/. */
#include "buddy/config.h"
#include "buddy/error.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static char path[64];

static void cleanup(void)
{
	char dir[64];
	char *slash;

	unlink(path);
	memcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		rmdir(dir);
	}
}

static int setup(void)
{
	char dir[] = "/tmp/fuzz_config.XXXXXX";

	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/config", dir);
	atexit(cleanup);
	return 0;
}

static int write_input(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct buddy_config c;
	char err[512];
	int rc;

	if (!ready) {
		if (setup())
			abort();
		ready = 1;
	}
	if (write_input(data, size))
		abort();
	rc = buddy_config_load(path, &c, err, sizeof(err));
	CHECK(rc == 0 || rc == BUDDY_E_INVALID);
	if (rc == 0) {
		CHECK(c.remind_lead_s >= 0 && c.remind_lead_s <= 7 * 86400);
		CHECK(c.miss_grace_s >= 0 && c.miss_grace_s <= 7 * 86400);
		CHECK(c.hook_timeout_s >= 1 && c.hook_timeout_s <= 600);
		for (int k = 0; k < BUDDY_EV_COUNT_; k++) {
			const struct buddy_hook_cmd *h = &c.hooks[k];
			size_t n = 0;

			if (!h->argv[0])
				continue;
			CHECK(h->argv[0][0] == '/');
			while (n < BUDDY_HOOK_ARGS_MAX && h->argv[n]) {
				CHECK(h->argv[n][0] != '\0');
				CHECK(strlen(h->argv[n]) <= BUDDY_HOOK_LINE_MAX);
				n++;
			}
			CHECK(h->argv[n] == NULL);
		}
	} else {
		CHECK(err[0] != '\0');
		CHECK(c.remind_lead_s == 3 * 3600 && c.miss_grace_s == 3600 &&
		      c.hook_timeout_s == 10);
		for (int k = 0; k < BUDDY_EV_COUNT_; k++)
			CHECK(c.hooks[k].argv[0] == NULL);
	}
	buddy_config_free(&c);
	return 0;
}
