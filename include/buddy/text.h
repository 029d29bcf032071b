/* Validation of the text people write: UTF-8, and which control characters may appear. Both
 * the daemon (which never trusts what it is sent) and the CLI (to fail early) use it. */
#ifndef BUDDY_TEXT_H
#define BUDDY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without NUL or C0/DEL control
 * characters, except newline and tab when multiline. */
bool buddy_text_valid(const char *p, size_t len, bool multiline);

/* A commitment id: 1..BUDDY_ID_MAX of [a-z0-9_-], starting with a letter or digit. */
bool buddy_text_slug_valid(const char *p, size_t len);

/* A tag: 1..BUDDY_TAG_MAX bytes of valid UTF-8 without whitespace (ASCII or Unicode spaces),
 * control characters or ','. */
bool buddy_text_tag_valid(const char *p, size_t len);

#endif
