/* What `buddy import` accepts from a jrnl JSON export, and how it refuses the rest. The real
 * sample export is read from $BUDDY_FIXTURES_DIR/jrnl/ and checked against its expected.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buddy/error.h"
#include "buddy/jrnl.h"
#include "buddy/limits.h"

struct result {
	struct buddy_jrnl_entry *e;
	size_t n;
	int rc;
	char err[256];
};

static int setup(void **state)
{
	struct result *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct result *r = *state;

	buddy_jrnl_free(r->e, r->n);
	free(r);
	return 0;
}

static int parse_len(struct result *r, const char *json, size_t len)
{
	buddy_jrnl_free(r->e, r->n);
	r->err[0] = '\0';
	r->rc = buddy_jrnl_parse(json, len, &r->e, &r->n, r->err, sizeof(r->err));
	if (r->rc) {
		assert_null(r->e);
		assert_int_equal(r->n, 0);
		assert_true(r->err[0] != '\0');
	}
	return r->rc;
}

static int parse(struct result *r, const char *json)
{
	return parse_len(r, json, strlen(json));
}

/* Checks that parsing failed with BUDDY_E_INVALID and that the message contains want. */
static void expect_invalid(struct result *r, const char *json, const char *want)
{
	parse(r, json);
	if (r->rc != BUDDY_E_INVALID || !strstr(r->err, want))
		fail_msg("input %.200s\nrc %d, err \"%s\"\nwanted an error containing \"%s\"", json,
			 r->rc, r->err, want);
}

static void expect_ok(struct result *r, const char *json)
{
	if (parse(r, json))
		fail_msg("input %.200s\nrc %d, err \"%s\"", json, r->rc, r->err);
}

/* One-entry documents built from valid field values, with one field replaced or left out. */
enum { TITLE, BODY, DATE, TIME, TAGS, STARRED, NFIELDS };

static const char *const keys[NFIELDS] = {"title", "body", "date", "time", "tags", "starred"};
static const char *const valid[NFIELDS] = {"\"Title.\"", "\"Body.\"", "\"2020-08-29\"",
					   "\"11:11\"",	 "[]",	      "false"};

#define OMIT ((const char *)1)

/* field -1 changes nothing; value OMIT leaves the field out; extra is appended raw. */
static char *doc_extra(int field, const char *value, const char *extra)
{
	size_t cap =
		64 + (value && value != OMIT ? strlen(value) : 0) + (extra ? strlen(extra) : 0);
	char *s, *p;

	for (int f = 0; f < NFIELDS; f++)
		cap += strlen(keys[f]) + strlen(valid[f]) + 8;
	s = malloc(cap);
	assert_non_null(s);
	p = s + sprintf(s, "{\"entries\": [{");
	for (int f = 0; f < NFIELDS; f++) {
		const char *v = f == field ? value : valid[f];

		if (v == OMIT)
			continue;
		p += sprintf(p, "%s\"%s\": %s", p[-1] == '{' ? "" : ", ", keys[f], v);
	}
	p += sprintf(p, "%s}]}", extra ? extra : "");
	return s;
}

static char *doc(int field, const char *value)
{
	return doc_extra(field, value, NULL);
}

static void expect_doc_invalid(struct result *r, int field, const char *value, const char *want)
{
	char *json = doc(field, value);

	expect_invalid(r, json, want);
	free(json);
}

static void expect_doc_ok(struct result *r, int field, const char *value)
{
	char *json = doc(field, value);

	expect_ok(r, json);
	free(json);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static char *fixture_path(const char *name)
{
	const char *dir = getenv("BUDDY_FIXTURES_DIR");
	char *path;

	if (!dir || !*dir)
		fail_msg("BUDDY_FIXTURES_DIR is not set: run with "
			 "BUDDY_FIXTURES_DIR=/path/to/shared/fixtures");
	path = malloc(strlen(dir) + strlen(name) + 2);
	assert_non_null(path);
	sprintf(path, "%s/%s", dir, name);
	return path;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Our tags back in jrnl's spelling, sorted and comma-joined, as expected.txt lists them. */
static void jrnl_tags(const struct buddy_jrnl_entry *e, char *out, size_t outlen)
{
	char *sorted[BUDDY_TAGS_MAX];

	assert_true(e->ntags <= BUDDY_TAGS_MAX);
	memcpy(sorted, e->tags, e->ntags * sizeof(*sorted));
	qsort(sorted, e->ntags, sizeof(*sorted), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < e->ntags; i++) {
		assert_true(strlen(out) + strlen(sorted[i]) + 3 < outlen);
		strcat(out, i ? ",@" : "@");
		strcat(out, sorted[i]);
	}
}

static void test_fixture_matches_expected(void **state)
{
	struct result *r = *state;
	char *json_path = fixture_path("jrnl/export-sample.json");
	char *exp_path = fixture_path("jrnl/export-sample.expected.txt");
	size_t json_len, exp_len, line_no = 0, idx = 0;
	long declared = -1;
	char *json = read_file(json_path, &json_len);
	char *exp = read_file(exp_path, &exp_len);
	char *rest = exp, *line;

	if (parse_len(r, json, json_len))
		fail_msg("%s: rc %d, err \"%s\"", json_path, r->rc, r->err);

	while ((line = strsep(&rest, "\n"))) {
		char *col[6], *cur = line, date[11], time[6], tags[512];
		const struct buddy_jrnl_entry *e;
		int c;

		line_no++;
		if (line[0] == '#') {
			sscanf(line, "# entries: %ld", &declared);
			continue;
		}
		if (!line[0])
			continue;
		for (c = 0; c < 6 && cur; c++)
			col[c] = strsep(&cur, "\t");
		if (c != 6 || cur)
			fail_msg("%s:%zu: not 6 tab-separated columns", exp_path, line_no);
		if (idx >= r->n)
			fail_msg("%s:%zu: more entries expected than the %zu parsed", exp_path,
				 line_no, r->n);
		e = &r->e[idx++];
		snprintf(date, sizeof(date), "%04d-%02d-%02d", e->year, e->month, e->day);
		snprintf(time, sizeof(time), "%02d:%02d", e->hour, e->minute);
		jrnl_tags(e, tags, sizeof(tags));
		assert_string_equal(date, col[0]);
		assert_string_equal(time, col[1]);
		assert_string_equal(e->title, col[2]);
		assert_int_equal(e->ntags, strtoul(col[3], NULL, 10));
		assert_string_equal(e->starred ? "true" : "false", col[4]);
		assert_string_equal(tags, col[5]);
	}
	assert_int_equal(idx, r->n);
	assert_int_equal(declared, (long)r->n);

	free(json);
	free(exp);
	free(json_path);
	free(exp_path);
}

static void test_fixture_surrogate_pair_decodes_to_emoji(void **state)
{
	static const char start[] =
		"I'm so excited about emojis. \xF0\x9F\x92\xAF \xF0\x9F\x8E\xB6 "
		"\xF0\x9F\x92\xA9\n";
	struct result *r = *state;
	char *path = fixture_path("jrnl/export-sample.json");
	size_t len;
	char *json = read_file(path, &len);

	assert_int_equal(parse_len(r, json, len), 0);
	assert_int_equal(r->n, 3);
	assert_memory_equal(r->e[2].body, start, sizeof(start) - 1);
	assert_non_null(strstr(r->e[2].body, "\xF0\x9F\x92\xAF"));
	free(json);
	free(path);
}

static void test_entries_empty_array_gives_no_entries(void **state)
{
	struct result *r = *state;

	expect_ok(r, "{\"tags\": {}, \"entries\": []}");
	assert_int_equal(r->n, 0);
	expect_ok(r, "{\"entries\": []}");
	assert_int_equal(r->n, 0);
}

static void test_entries_keep_file_order_and_values(void **state)
{
	struct result *r = *state;

	expect_ok(r, "{\"entries\": ["
		     "{\"title\": \"Later.\", \"body\": \"\", \"date\": \"2021-01-02\", "
		     "\"time\": \"23:59\", \"tags\": [\"@b\"], \"starred\": true},"
		     "{\"title\": \"Earlier.\", \"body\": \"x\\ny\", \"date\": \"1970-01-01\", "
		     "\"time\": \"00:00\", \"tags\": [], \"starred\": false}]}");
	assert_int_equal(r->n, 2);
	assert_string_equal(r->e[0].title, "Later.");
	assert_string_equal(r->e[0].body, "");
	assert_int_equal(r->e[0].year, 2021);
	assert_int_equal(r->e[0].month, 1);
	assert_int_equal(r->e[0].day, 2);
	assert_int_equal(r->e[0].hour, 23);
	assert_int_equal(r->e[0].minute, 59);
	assert_int_equal(r->e[0].starred, 1);
	assert_int_equal(r->e[0].ntags, 1);
	assert_string_equal(r->e[0].tags[0], "b");
	assert_string_equal(r->e[1].title, "Earlier.");
	assert_string_equal(r->e[1].body, "x\ny");
	assert_int_equal(r->e[1].year, 1970);
	assert_int_equal(r->e[1].starred, 0);
	assert_int_equal(r->e[1].ntags, 0);
}

static void test_entry_missing_field_is_named(void **state)
{
	struct result *r = *state;
	char want[64];

	for (int f = 0; f < NFIELDS; f++) {
		snprintf(want, sizeof(want), "entry 1: \"%s\" is missing", keys[f]);
		expect_doc_invalid(r, f, OMIT, want);
	}
}

static void test_entry_wrong_type_is_named(void **state)
{
	static const struct {
		int field;
		const char *value, *want;
	} cases[] = {
		{TITLE, "null", "entry 1: \"title\" is not a string"},
		{TITLE, "42", "entry 1: \"title\" is not a string"},
		{TITLE, "[\"a\"]", "entry 1: \"title\" is not a string"},
		{BODY, "{}", "entry 1: \"body\" is not a string"},
		{BODY, "false", "entry 1: \"body\" is not a string"},
		{DATE, "20200829", "entry 1: \"date\" is not a string"},
		{TIME, "1111", "entry 1: \"time\" is not a string"},
		{TAGS, "\"@a\"", "entry 1: \"tags\" is not an array"},
		{TAGS, "{}", "entry 1: \"tags\" is not an array"},
		{TAGS, "[1]", "entry 1: \"tags\" item 1 is not a string"},
		{TAGS, "[\"@a\", null]", "entry 1: \"tags\" item 2 is not a string"},
		{STARRED, "0", "entry 1: \"starred\" is not true or false"},
		{STARRED, "\"true\"", "entry 1: \"starred\" is not true or false"},
		{STARRED, "null", "entry 1: \"starred\" is not true or false"},
	};
	struct result *r = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_doc_invalid(r, cases[i].field, cases[i].value, cases[i].want);
}

static void test_entry_error_names_its_position(void **state)
{
	struct result *r = *state;

	expect_invalid(
		r,
		"{\"entries\": [{\"title\": \"a\", \"body\": \"\", \"date\": \"2020-01-01\", "
		"\"time\": \"10:00\", \"tags\": [], \"starred\": false}, 7]}",
		"entry 2 is not an object");
}

static void test_entry_optional_and_unknown_keys_accepted(void **state)
{
	struct result *r = *state;
	char *json =
		doc_extra(-1, NULL,
			  ", \"uuid\": \"0BDB7A4BDD2E4F0E93B17A2D09D6E04F\", \"creator\": "
			  "{\"device_agent\": \"x\", \"generation_date\": \"2020-08-29 11:11:00\"}"
			  ", \"location\": {\"deep\": [[[1]]]}, \"weather\": null");

	expect_ok(r, json);
	assert_int_equal(r->n, 1);
	free(json);
	expect_ok(r, "{\"version\": 9, \"tags\": {\"@a\": 1}, \"entries\": []}");
}

static void test_entry_optional_keys_of_wrong_type_rejected(void **state)
{
	struct result *r = *state;
	char *json = doc_extra(-1, NULL, ", \"uuid\": 5");

	expect_invalid(r, json, "entry 1: \"uuid\" is not a string");
	free(json);
	json = doc_extra(-1, NULL, ", \"creator\": \"me\"");
	expect_invalid(r, json, "entry 1: \"creator\" is not an object");
	free(json);
}

static void test_date_not_a_calendar_date_rejected(void **state)
{
	static const char *const bad[] = {
		"\"2020-02-30\"", "\"2021-02-29\"", "\"2100-02-29\"",  "\"2020-04-31\"",
		"\"2020-13-01\"", "\"2020-00-10\"", "\"2020-01-00\"",  "\"2020-8-29\"",
		"\"20-08-29\"",	  "\"2020/08/29\"", "\"2020-08-29 \"", "\"2020-08-29T11:11\"",
		"\"\"",		  "\"+020-08-29\"", "\"2020-08-2a\"",
	};
	struct result *r = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_doc_invalid(r, DATE, bad[i],
				   "entry 1: \"date\" is not a date of the form YYYY-MM-DD");
	expect_doc_invalid(r, DATE, "\"1969-12-31\"", "entry 1: \"date\" is before 1970");
}

static void test_date_edges_accepted(void **state)
{
	static const char *const good[] = {"\"2020-02-29\"", "\"2000-02-29\"", "\"1970-01-01\"",
					   "\"9999-12-31\"", "\"2021-12-31\""};
	struct result *r = *state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		expect_doc_ok(r, DATE, good[i]);
	assert_int_equal(r->e[0].year, 2021);
	assert_int_equal(r->e[0].month, 12);
	assert_int_equal(r->e[0].day, 31);
}

static void test_time_not_hh_mm_rejected(void **state)
{
	static const char *const bad[] = {"\"24:00\"", "\"9:14\"",  "\"12:60\"", "\"11:11:00\"",
					  "\"\"",      "\"1a:00\"", "\"11-11\"", "\" 9:14\""};
	struct result *r = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_doc_invalid(r, TIME, bad[i],
				   "entry 1: \"time\" is not a time of the form HH:MM");
}

static void test_time_edges_accepted(void **state)
{
	struct result *r = *state;

	expect_doc_ok(r, TIME, "\"00:00\"");
	expect_doc_ok(r, TIME, "\"23:59\"");
	assert_int_equal(r->e[0].hour, 23);
	assert_int_equal(r->e[0].minute, 59);
}

static void test_json_duplicate_keys_rejected(void **state)
{
	struct result *r = *state;
	char *json = doc_extra(-1, NULL, ", \"title\": \"Other.\"");

	expect_invalid(r, json, "not valid JSON at line 1");
	assert_non_null(strstr(r->err, "duplicate"));
	free(json);
	expect_invalid(r, "{\"entries\": [], \"entries\": []}", "not valid JSON at line 1");
}

static void test_json_syntax_error_names_line_and_column(void **state)
{
	struct result *r = *state;

	expect_invalid(r, "{\n  \"entries\": [\n    {\"title\": }\n  ]\n}",
		       "not valid JSON at line 3, column ");
	expect_invalid(r, "", "not valid JSON");
	expect_invalid(r, "{\"entries\": [", "not valid JSON");
}

static void test_json_trailing_garbage_rejected(void **state)
{
	struct result *r = *state;

	expect_invalid(r, "{\"entries\": []} x", "not valid JSON at line 1");
	expect_invalid(r, "{\"entries\": []}{}", "not valid JSON at line 1");
	/* What print() adds after the document is fine. */
	expect_ok(r, "{\"entries\": []}\n");
}

static void test_top_level_shape_checked(void **state)
{
	struct result *r = *state;

	expect_invalid(r, "[]", "the top level is not an object");
	expect_invalid(r, "\"entries\"", "not valid JSON");
	expect_invalid(r, "{}", "\"entries\" is missing");
	expect_invalid(r, "{\"entries\": {}}", "\"entries\" is not an array");
	expect_invalid(r, "{\"entries\": null}", "\"entries\" is not an array");
	expect_invalid(r, "{\"tags\": [], \"entries\": []}",
		       "\"tags\" at the top level is not an object");
	/* jrnl --list --format json is not an export. */
	expect_invalid(r, "{\"config_path\": \"/x\", \"journals\": {}}", "\"entries\" is missing");
}

static void test_tags_normalised(void **state)
{
	struct result *r = *state;

	expect_doc_ok(r, TAGS,
		      "[\"@Tag\", \"@tag\", \"#Other\", \"plain\", \"@\", \"\", \"TAG\", "
		      "\"@@twice\", \"@C++\", \"@CAF\\u00c9\", \"#other\"]");
	assert_int_equal(r->e[0].ntags, 6);
	assert_string_equal(r->e[0].tags[0], "tag");
	assert_string_equal(r->e[0].tags[1], "other");
	assert_string_equal(r->e[0].tags[2], "plain");
	/* Only one tag symbol is removed. */
	assert_string_equal(r->e[0].tags[3], "@twice");
	assert_string_equal(r->e[0].tags[4], "c++");
	/* Non-ASCII letters are left as they are. */
	assert_string_equal(r->e[0].tags[5], "caf\xC3\x89");
}

static char *tag_list(int count, int distinct)
{
	char *s = malloc(16 + count * 12), *p = s;

	assert_non_null(s);
	p += sprintf(p, "[");
	for (int i = 0; i < count; i++)
		p += sprintf(p, "%s\"@t%d\"", i ? ", " : "", i % distinct);
	sprintf(p, "]");
	return s;
}

static void test_tags_too_many_rejected(void **state)
{
	struct result *r = *state;
	char *tags = tag_list(BUDDY_TAGS_MAX + 1, BUDDY_TAGS_MAX + 1);
	char want[64];

	snprintf(want, sizeof(want), "entry 1: \"tags\" has more than %d distinct tags",
		 BUDDY_TAGS_MAX);
	expect_doc_invalid(r, TAGS, tags, want);
	free(tags);

	tags = tag_list(BUDDY_TAGS_MAX, BUDDY_TAGS_MAX);
	expect_doc_ok(r, TAGS, tags);
	assert_int_equal(r->e[0].ntags, BUDDY_TAGS_MAX);
	free(tags);

	/* Duplicates do not count against the limit. */
	tags = tag_list(BUDDY_TAGS_MAX * 4, BUDDY_TAGS_MAX);
	expect_doc_ok(r, TAGS, tags);
	assert_int_equal(r->e[0].ntags, BUDDY_TAGS_MAX);
	free(tags);
}

static void test_tag_too_long_rejected(void **state)
{
	struct result *r = *state;
	char tags[BUDDY_TAG_MAX + 16];

	/* The symbol does not count: "@" + BUDDY_TAG_MAX letters fits. */
	snprintf(tags, sizeof(tags), "[\"@%0*d\"]", BUDDY_TAG_MAX, 0);
	expect_doc_ok(r, TAGS, tags);
	assert_int_equal(strlen(r->e[0].tags[0]), BUDDY_TAG_MAX);

	snprintf(tags, sizeof(tags), "[\"@%0*d\"]", BUDDY_TAG_MAX + 1, 0);
	expect_doc_invalid(r, TAGS, tags, "entry 1: \"tags\" item 1 is longer than 32 bytes");
}

static void test_tag_whitespace_or_control_rejected(void **state)
{
	static const char *const bad[] = {
		"[\"@two words\"]",  "[\"@tab\\there\"]",  "[\"@nl\\n\"]",     "[\"@esc\\u001b\"]",
		"[\"@del\\u007f\"]", "[\"@nb\\u00a0sp\"]", "[\"@ls\\u2028\"]", "[\"@x\\u3000\"]",
		"[\" @lead\"]",	     "[\"@a,b\"]",
	};
	struct result *r = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_doc_invalid(r, TAGS, bad[i],
				   "entry 1: \"tags\" item 1 contains whitespace, a comma or a "
				   "control character");
}

/* The daemon refuses control characters in text: a file that would fail there fails here,
 * whole, before anything is sent. Windows line ends are not an error: they become newlines. */
static void test_text_control_characters_rejected(void **state)
{
	struct result *r = *state;

	expect_doc_invalid(r, BODY, "\"bell\\u0007\"",
			   "entry 1: \"body\" contains a control character");
	expect_doc_invalid(r, TITLE, "\"esc\\u001b[31m\"",
			   "entry 1: \"title\" contains a control character");
	expect_doc_invalid(r, BODY, "\"c1\\u0085\"",
			   "entry 1: \"body\" contains a control character");
}

static void test_crlf_becomes_newline(void **state)
{
	struct result *r = *state;

	expect_doc_ok(r, BODY, "\"one\\r\\ntwo\\rthree\"");
	assert_int_equal(r->n, 1);
	assert_string_equal(r->e[0].body, "one\ntwo\nthree");
}

static void test_empty_entry_rejected(void **state)
{
	struct result *r = *state;

	expect_invalid(r,
		       "{\"entries\": [{\"title\": \"\", \"body\": \"\", \"date\": \"2020-08-29\", "
		       "\"time\": \"11:11\", \"tags\": [], \"starred\": false}]}",
		       "entry 1 has neither title nor body");
}

static char *long_string(size_t len)
{
	char *s = malloc(len + 3);

	assert_non_null(s);
	s[0] = '"';
	memset(s + 1, 'a', len);
	s[len + 1] = '"';
	s[len + 2] = '\0';
	return s;
}

static void test_text_too_long_rejected(void **state)
{
	struct result *r = *state;
	/* Title "Title." is 6 bytes; one byte is kept for the separator. */
	char *body = long_string(BUDDY_TEXT_MAX - 6 - 1);

	expect_doc_ok(r, BODY, body);
	assert_int_equal(strlen(r->e[0].body), BUDDY_TEXT_MAX - 7);
	free(body);

	body = long_string(BUDDY_TEXT_MAX - 6);
	expect_doc_invalid(r, BODY, body,
			   "entry 1: \"title\" and \"body\" together are longer than 65535 bytes");
	free(body);

	body = long_string(BUDDY_TEXT_MAX * 2);
	expect_doc_invalid(r, TITLE, body, "entry 1: \"title\" and \"body\"");
	free(body);
}

static void test_string_with_nul_rejected(void **state)
{
	struct result *r = *state;

	expect_doc_invalid(r, TITLE, "\"a\\u0000b\"",
			   "entry 1: \"title\" contains a NUL character");
	expect_doc_invalid(r, BODY, "\"\\u0000\"", "entry 1: \"body\" contains a NUL character");
	expect_doc_invalid(r, DATE, "\"2020-08-29\\u0000\"",
			   "entry 1: \"date\" contains a NUL character");
	expect_doc_invalid(r, TAGS, "[\"@a\", \"@b\\u0000c\"]",
			   "entry 1: \"tags\" item 2 contains a NUL character");
	/* A raw NUL byte is not JSON at all. */
	parse_len(r, "{\"entries\": [\0]}", 16);
	assert_int_equal(r->rc, BUDDY_E_INVALID);
}

static void test_deep_nesting_rejected_without_crash(void **state)
{
	struct result *r = *state;
	size_t depth = 100000;
	char *s = malloc(2 * depth + 64), *p = s;

	assert_non_null(s);
	p += sprintf(p, "{\"entries\": [], \"x\": ");
	memset(p, '[', depth);
	memset(p + depth, ']', depth);
	strcpy(p + 2 * depth, "}");
	expect_invalid(r, s, "not valid JSON");

	memset(s, '{', depth);
	s[depth] = '\0';
	expect_invalid(r, s, "not valid JSON");
	free(s);
}

static void test_input_over_64_mib_rejected(void **state)
{
	struct result *r = *state;
	size_t len = 64 * 1024 * 1024 + 1;
	char *big = malloc(len);

	assert_non_null(big);
	memset(big, ' ', len);
	memcpy(big, "{\"entries\": []}", 15);
	parse_len(r, big, len);
	assert_int_equal(r->rc, BUDDY_E_TOOBIG);
	assert_non_null(strstr(r->err, "64 MiB"));
	/* One byte less is read, and is valid JSON padded with whitespace. */
	assert_int_equal(parse_len(r, big, len - 1), 0);
	free(big);
}

static void test_error_buffer_may_be_small_or_absent(void **state)
{
	struct buddy_jrnl_entry *e = (void *)1;
	size_t n = 1;
	char err[8];

	(void)state;
	assert_int_equal(buddy_jrnl_parse("[]", 2, &e, &n, NULL, 0), BUDDY_E_INVALID);
	assert_null(e);
	assert_int_equal(n, 0);
	memset(err, 'x', sizeof(err));
	assert_int_equal(buddy_jrnl_parse("[]", 2, &e, &n, err, sizeof(err)), BUDDY_E_INVALID);
	assert_string_equal(err, "the top");
	assert_int_equal(buddy_jrnl_parse("[]", 2, &e, &n, err, 0), BUDDY_E_INVALID);
}

static void test_error_message_has_no_control_bytes(void **state)
{
	struct result *r = *state;

	/* jansson quotes the offending input; an escape sequence must not reach the terminal. */
	expect_invalid(r, "{\"entries\": [\"\x1b[2J\xff\"]}", "not valid JSON");
	for (const char *c = r->err; *c; c++)
		assert_true(*c >= 0x20 && *c <= 0x7e);
}

static void test_free_null_is_fine(void **state)
{
	(void)state;
	buddy_jrnl_free(NULL, 0);
	buddy_jrnl_free(NULL, 5);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fixture_matches_expected),
		T(test_fixture_surrogate_pair_decodes_to_emoji),
		T(test_entries_empty_array_gives_no_entries),
		T(test_entries_keep_file_order_and_values),
		T(test_entry_missing_field_is_named),
		T(test_entry_wrong_type_is_named),
		T(test_entry_error_names_its_position),
		T(test_entry_optional_and_unknown_keys_accepted),
		T(test_entry_optional_keys_of_wrong_type_rejected),
		T(test_date_not_a_calendar_date_rejected),
		T(test_date_edges_accepted),
		T(test_time_not_hh_mm_rejected),
		T(test_time_edges_accepted),
		T(test_json_duplicate_keys_rejected),
		T(test_json_syntax_error_names_line_and_column),
		T(test_json_trailing_garbage_rejected),
		T(test_top_level_shape_checked),
		T(test_tags_normalised),
		T(test_tags_too_many_rejected),
		T(test_tag_too_long_rejected),
		T(test_tag_whitespace_or_control_rejected),
		T(test_text_control_characters_rejected),
		T(test_crlf_becomes_newline),
		T(test_empty_entry_rejected),
		T(test_text_too_long_rejected),
		T(test_string_with_nul_rejected),
		T(test_deep_nesting_rejected_without_crash),
		T(test_input_over_64_mib_rejected),
		T(test_error_buffer_may_be_small_or_absent),
		T(test_error_message_has_no_control_bytes),
		T(test_free_null_is_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
