/* Leveled logging to stderr (see buddy/log.h). No timestamps: journald and terminals add them. */
#include "buddy/log.h"
#include "buddy/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum buddy_log_level current = BUDDY_LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

int buddy_log_level_parse(const char *s, enum buddy_log_level *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum buddy_log_level)i;
			return 0;
		}
	}
	return BUDDY_E_INVALID;
}

void buddy_log_set_level(enum buddy_log_level lvl)
{
	current = lvl;
}

void buddy_log(enum buddy_log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (lvl > current)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write per line, so lines from a crash-restart loop never interleave mid-line */
	fprintf(stderr, "buddyd: %s: %s\n", names[lvl], line);
}
