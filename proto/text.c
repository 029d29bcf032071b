/* UTF-8 and character-class checks for user text (see buddy/text.h). */
#include "buddy/text.h"
#include "buddy/limits.h"

#include <stdint.h>

bool buddy_text_valid(const char *s, size_t len, bool multiline)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		/* C1 controls can drive a terminal as well as C0 ones */
		if (cp >= 0x80 && cp <= 0x9f)
			return false;
		i += n + 1;
	}
	return true;
}

bool buddy_text_slug_valid(const char *p, size_t len)
{
	if (len == 0 || len > BUDDY_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '-' && c != '_')))
			return false;
	}
	return true;
}

/* Unicode spaces a tag must not hide: NBSP, OGHAM SPACE, EN QUAD..HAIR SPACE, LINE and
 * PARAGRAPH SEPARATOR, NARROW NBSP, MEDIUM MATHEMATICAL SPACE, IDEOGRAPHIC SPACE, ZWNBSP. */
static bool is_unicode_space(const uint8_t *p, size_t left, size_t *n)
{
	*n = 0;
	if (left >= 2 && p[0] == 0xc2 && p[1] == 0xa0)
		*n = 2;
	else if (left >= 3 && p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
		/* one branch per character: NOLINTNEXTLINE(bugprone-branch-clone) */
		*n = 3;
	else if (left >= 3 && p[0] == 0xe2 && p[1] == 0x80 &&
		 (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
		*n = 3;
	else if (left >= 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
		*n = 3;
	else if (left >= 3 && p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
		*n = 3;
	else if (left >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		*n = 3;
	return *n != 0;
}

bool buddy_text_tag_valid(const char *p, size_t len)
{
	const uint8_t *u = (const uint8_t *)p;
	size_t n;

	if (len == 0 || len > BUDDY_TAG_MAX || !buddy_text_valid(p, len, false))
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] == ' ' || p[i] == ',' || is_unicode_space(u + i, len - i, &n))
			return false;
	return true;
}
