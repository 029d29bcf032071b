/* libFuzzer target for the jrnl export reader: any bytes must give 0 or an error, a message, and
 * no leak. Seeds are in corpus/jrnl/. */
#include "buddy/jrnl.h"
#include "buddy/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buddy_jrnl_entry *e;
	char err[256];
	size_t n;
	int ret;

	ret = buddy_jrnl_parse((const char *)data, size, &e, &n, err, sizeof(err));
	if (ret) {
		/* A failure hands back nothing, and always says why. */
		if (e || n || !err[0] || strlen(err) >= sizeof(err))
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!e[i].title || !e[i].body || e[i].ntags > BUDDY_TAGS_MAX)
			__builtin_trap();
		for (size_t k = 0; k < e[i].ntags; k++) {
			if (!e[i].tags[k][0] || strlen(e[i].tags[k]) > BUDDY_TAG_MAX)
				__builtin_trap();
		}
	}
	buddy_jrnl_free(e, n);
	return 0;
}
