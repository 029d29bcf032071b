/* The text people write: well-formed UTF-8 only, no characters that drive a terminal (C0, DEL,
 * C1), newline and tab only in multi-line text; commitment ids (slugs) and tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buddy/limits.h"
#include "buddy/text.h"

/* A string literal and its length (embedded NULs included), as two arguments. */
#define S(lit) (lit), (sizeof(lit) - 1)

static bool one_line(const char *p, size_t len)
{
	return buddy_text_valid(p, len, false);
}

static bool multi_line(const char *p, size_t len)
{
	return buddy_text_valid(p, len, true);
}

/* ---- UTF-8 ---- */

static void test_text_valid_ascii_and_empty(void **state)
{
	(void)state;
	assert_true(one_line(S("")));
	assert_true(one_line(S("Run 5 km, then stretch!")));
	assert_true(one_line(S(" ~")));
}

static void test_text_valid_multibyte_utf8(void **state)
{
	(void)state;
	assert_true(one_line(S("\xc2\xa0")));	      /* U+00A0, the first after C1 */
	assert_true(one_line(S("caf\xc3\xa9")));      /* é */
	assert_true(one_line(S("\xdf\xbf")));	      /* U+07FF, the last 2-byte */
	assert_true(one_line(S("\xe0\xa0\x80")));     /* U+0800, the first 3-byte */
	assert_true(one_line(S("\xe2\x82\xac")));     /* € */
	assert_true(one_line(S("\xed\x9f\xbf")));     /* U+D7FF, just below the surrogates */
	assert_true(one_line(S("\xee\x80\x80")));     /* U+E000, just above them */
	assert_true(one_line(S("\xef\xbf\xbd")));     /* U+FFFD */
	assert_true(one_line(S("\xf0\x90\x80\x80"))); /* U+10000, the first 4-byte */
	assert_true(one_line(S("\xf0\x9f\x8f\x83"))); /* a runner emoji */
	assert_true(one_line(S("\xf4\x8f\xbf\xbf"))); /* U+10FFFF, the last code point */
	assert_true(one_line(S("\xe6\x97\xa5\xe8\xa8\x98 \xf0\x9f\x93\x93 ok")));
}

static void test_text_overlong_encodings_refused(void **state)
{
	(void)state;
	assert_false(one_line(S("\xc0\x80")));	       /* NUL in two bytes */
	assert_false(one_line(S("\xc1\xbf")));	       /* U+007F in two bytes */
	assert_false(one_line(S("\xe0\x80\x80")));     /* NUL in three */
	assert_false(one_line(S("\xe0\x9f\xbf")));     /* U+07FF in three */
	assert_false(one_line(S("\xf0\x80\x80\x80"))); /* NUL in four */
	assert_false(one_line(S("\xf0\x8f\xbf\xbf"))); /* U+FFFF in four */
}

static void test_text_surrogates_refused(void **state)
{
	(void)state;
	assert_false(one_line(S("\xed\xa0\x80"))); /* U+D800 */
	assert_false(one_line(S("\xed\xaf\xbf"))); /* U+DBFF */
	assert_false(one_line(S("\xed\xb0\x80"))); /* U+DC00 */
	assert_false(one_line(S("\xed\xbf\xbf"))); /* U+DFFF */
	/* a CESU-8 pair is two surrogates, not one character */
	assert_false(one_line(S("\xed\xa0\xbd\xed\xb2\xa9")));
}

static void test_text_beyond_unicode_refused(void **state)
{
	(void)state;
	assert_false(one_line(S("\xf4\x90\x80\x80"))); /* U+110000 */
	assert_false(one_line(S("\xf5\x80\x80\x80")));
	assert_false(one_line(S("\xf7\xbf\xbf\xbf")));
	assert_false(one_line(S("\xf8\x88\x80\x80\x80"))); /* old 5-byte form */
	assert_false(one_line(S("\xfc\x84\x80\x80\x80\x80")));
	assert_false(one_line(S("\xfe")));
	assert_false(one_line(S("\xff")));
}

static void test_text_truncated_and_stray_bytes_refused(void **state)
{
	(void)state;
	assert_false(one_line(S("\xc3")));
	assert_false(one_line(S("caf\xc3")));
	assert_false(one_line(S("\xe2\x82")));
	assert_false(one_line(S("\xf0\x9f\x8f")));
	/* a lead byte followed by something other than a continuation byte */
	assert_false(one_line(S("\xc3z")));
	assert_false(one_line(S("\xe2\x82z")));
	assert_false(one_line(S("\xf0\x9f\x8f\xc3\xa9")));
	/* continuation bytes on their own */
	assert_false(one_line(S("\x80")));
	assert_false(one_line(S("a\xbf")));
	assert_false(one_line(S("\xc3\xa9\xa9")));
	/* the length given is what counts: a valid string cut inside a character */
	assert_false(one_line("\xe2\x82\xac", 2));
	assert_true(one_line("\xe2\x82\xac", 3));
}

static void test_text_control_characters_refused(void **state)
{
	char c[1];

	(void)state;
	for (int i = 0; i < 0x20; i++) {
		c[0] = (char)i;
		assert_false(one_line(c, 1));
		if (i != '\n' && i != '\t')
			assert_false(multi_line(c, 1));
	}
	assert_false(one_line(S("a\0b")));
	assert_false(multi_line(S("a\0b")));
	assert_false(one_line(S("\r\n")));
	assert_false(multi_line(S("line\r\n")));
	assert_false(one_line(S("\x1b[31mred")));
	assert_false(multi_line(S("\x1b[31mred")));
	/* DEL */
	assert_false(one_line(S("\x7f")));
	assert_false(multi_line(S("a\x7f")));
}

static void test_text_c1_controls_refused(void **state)
{
	char c[2] = {(char)0xc2, 0};

	(void)state;
	for (int i = 0x80; i <= 0x9f; i++) {
		c[1] = (char)i;
		assert_false(one_line(c, 2));
		assert_false(multi_line(c, 2));
	}
	assert_false(one_line(S("ok\xc2\x9b"
				"31m"))); /* CSI */
	assert_true(one_line(S("\xc2\xa0")));
}

static void test_text_newline_and_tab_only_when_multiline(void **state)
{
	(void)state;
	assert_true(multi_line(S("first line\nsecond line\n")));
	assert_true(multi_line(S("col\tcol")));
	assert_false(one_line(S("first line\nsecond line")));
	assert_false(one_line(S("col\tcol")));
}

/* ---- commitment ids ---- */

static void test_text_slug_valid(void **state)
{
	(void)state;
	assert_true(buddy_text_slug_valid(S("run")));
	assert_true(buddy_text_slug_valid(S("a")));
	assert_true(buddy_text_slug_valid(S("7")));
	assert_true(buddy_text_slug_valid(S("5k-run_2024")));
	assert_true(buddy_text_slug_valid(S("a-")));
	assert_true(buddy_text_slug_valid(S("a--b__c")));
	assert_true(buddy_text_slug_valid(S("abcdefghijklmnopqrstuvwxyz012345")));
	assert_int_equal(strlen("abcdefghijklmnopqrstuvwxyz012345"), BUDDY_ID_MAX);
}

static void test_text_slug_invalid(void **state)
{
	(void)state;
	assert_false(buddy_text_slug_valid(S("")));
	assert_false(buddy_text_slug_valid(S("abcdefghijklmnopqrstuvwxyz0123456"))); /* 33 */
	assert_false(buddy_text_slug_valid(S("-run")));
	assert_false(buddy_text_slug_valid(S("_run")));
	assert_false(buddy_text_slug_valid(S("Run")));
	assert_false(buddy_text_slug_valid(S("run daily")));
	assert_false(buddy_text_slug_valid(S("run.daily")));
	assert_false(buddy_text_slug_valid(S("run/daily")));
	assert_false(buddy_text_slug_valid(S("..")));
	assert_false(buddy_text_slug_valid(S("caf\xc3\xa9")));
	assert_false(buddy_text_slug_valid(S("run\0")));
	assert_false(buddy_text_slug_valid(S("run\n")));
}

/* ---- tags ---- */

static void test_text_tag_valid(void **state)
{
	(void)state;
	assert_true(buddy_text_tag_valid(S("run")));
	assert_true(buddy_text_tag_valid(S("x")));
	assert_true(buddy_text_tag_valid(S("Outside-2024_ok!#")));
	assert_true(buddy_text_tag_valid(S("caf\xc3\xa9")));
	assert_true(buddy_text_tag_valid(S("\xf0\x9f\x8f\x83")));
	assert_true(buddy_text_tag_valid(S("abcdefghijklmnopqrstuvwxyz012345")));
}

static void test_text_tag_invalid(void **state)
{
	(void)state;
	assert_false(buddy_text_tag_valid(S("")));
	assert_false(buddy_text_tag_valid(S("abcdefghijklmnopqrstuvwxyz0123456"))); /* 33 bytes */
	/* the limit is bytes: 11 three-byte characters are 33 */
	assert_false(buddy_text_tag_valid(S("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
					    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
					    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac")));
	assert_false(buddy_text_tag_valid(S("two words")));
	assert_false(buddy_text_tag_valid(S(" run")));
	assert_false(buddy_text_tag_valid(S("run,bike")));
	assert_false(buddy_text_tag_valid(S(",")));
	assert_false(buddy_text_tag_valid(S("run\t")));
	assert_false(buddy_text_tag_valid(S("run\n")));
	assert_false(buddy_text_tag_valid(S("run\0")));
	/* Unicode spaces would make two tags that look alike differ */
	assert_false(buddy_text_tag_valid(S("a\xc2\xa0"
					    "b"))); /* NO-BREAK SPACE */
	assert_false(buddy_text_tag_valid(S("a\xe2\x80\x83"
					    "b"))); /* EM SPACE */
	assert_false(buddy_text_tag_valid(S("a\xe2\x80\xa8"
					    "b"))); /* LINE SEPARATOR */
	assert_false(buddy_text_tag_valid(S("a\xe3\x80\x80"
					    "b"))); /* IDEOGRAPHIC SPACE */
	assert_false(buddy_text_tag_valid(S("\xef\xbb\xbf"
					    "run"))); /* ZERO WIDTH NBSP */
	assert_false(buddy_text_tag_valid(S("run\x7f")));
	assert_false(buddy_text_tag_valid(S("run\xc2\x85"))); /* NEL, a C1 control */
	assert_false(buddy_text_tag_valid(S("caf\xc3")));
	assert_false(buddy_text_tag_valid(S("\xed\xa0\x80")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_valid_ascii_and_empty),
		cmocka_unit_test(test_text_valid_multibyte_utf8),
		cmocka_unit_test(test_text_overlong_encodings_refused),
		cmocka_unit_test(test_text_surrogates_refused),
		cmocka_unit_test(test_text_beyond_unicode_refused),
		cmocka_unit_test(test_text_truncated_and_stray_bytes_refused),
		cmocka_unit_test(test_text_control_characters_refused),
		cmocka_unit_test(test_text_c1_controls_refused),
		cmocka_unit_test(test_text_newline_and_tab_only_when_multiline),
		cmocka_unit_test(test_text_slug_valid),
		cmocka_unit_test(test_text_slug_invalid),
		cmocka_unit_test(test_text_tag_valid),
		cmocka_unit_test(test_text_tag_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
