/* Leveled logging to stderr (see buddy/log.h). No timestamps: journald and terminals add them.
 * Under systemd, when stderr is the journal (JOURNAL_STREAM names it), each line starts with its
 * syslog priority instead ("<3>" error ... "<7>" debug, sd-daemon(3)), so `journalctl -p warning`
 * works, and without "buddyd:", which the journal records on its own. */
#include "buddy/log.h"
#include "buddy/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum buddy_log_level current = BUDDY_LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};
static const char *const priorities[] = {"<3>", "<4>", "<6>", "<7>"};
static int to_journal = -1; /* not yet known */

/* Digits up to `stop`, which *s then points past. strtoull, not sscanf's %llu: a number too
 * large for it is then an error, not undefined behaviour. */
static int parse_decimal(const char **s, char stop, unsigned long long *v)
{
	int saved = errno, range;
	char *end;

	if (**s < '0' || **s > '9')
		return -1;
	errno = 0;
	*v = strtoull(*s, &end, 10);
	range = errno;
	errno = saved; /* logging leaves the caller's errno alone */
	if (range || *end != stop)
		return -1;
	*s = end + 1;
	return 0;
}

/* JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected; stderr may since have been
 * redirected elsewhere (a hook's child, a shell), so it must still be that very file. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || parse_decimal(&e, ':', &dev) || parse_decimal(&e, '\0', &ino) || fstat(2, &st))
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

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
	if (to_journal < 0)
		to_journal = stderr_is_journal();
	/* one write per line, so lines from a crash-restart loop never interleave mid-line */
	if (to_journal)
		fprintf(stderr, "%s%s\n", priorities[lvl], line);
	else
		fprintf(stderr, "buddyd: %s: %s\n", names[lvl], line);
}
