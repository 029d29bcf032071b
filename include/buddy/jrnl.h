/* Reader for jrnl's JSON export (`jrnl --format json`), for `buddy import`. Parses with
 * jansson; checks every field's type and size; never trusts the file. */
#ifndef BUDDY_JRNL_H
#define BUDDY_JRNL_H

#include <stddef.h>

struct buddy_jrnl_entry {
	int year, month, day, hour, minute; /* naive local time, as jrnl writes it */
	char *title;			    /* UTF-8, NUL-terminated */
	char *body;			    /* UTF-8, may be "" */
	char **tags;			    /* lowercased, tag symbol ('@') removed, distinct */
	size_t ntags;
	int starred;
};

/* Parses a whole export held in buf. On failure returns BUDDY_E_INVALID (or _NOMEM) and writes
 * one sentence to err saying what and where ("entry 3: \"date\" is not YYYY-MM-DD"). */
int buddy_jrnl_parse(const char *buf, size_t len, struct buddy_jrnl_entry **out, size_t *n,
		     char *err, size_t errlen);

void buddy_jrnl_free(struct buddy_jrnl_entry *e, size_t n);

#endif
