/* Reader for jrnl's JSON export (see buddy/jrnl.h). The shape, as jrnl's JSONExporter writes it:
 *
 *   { "tags": { "@tag": count, ... },            optional, informational: ignored
 *     "entries": [ { "title": string, "body": string,
 *                    "date": "YYYY-MM-DD", "time": "HH:MM",
 *                    "tags": [ "@tag", ... ], "starred": true|false,
 *                    "uuid": string, "creator": object },     optional, ignored
 *                  ... ] }
 *
 * Everything the importer gets from here has been checked, so it need not trust the file. This
 * file owns no state; it must not touch the journal or libsodium. */
#include "buddy/jrnl.h"
#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/text.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A jrnl export of years of writing is a few MiB; jansson needs several times the input in
 * memory, so a cap keeps a hostile or wrong file from exhausting it. */
#define JRNL_INPUT_MAX (64 * 1024 * 1024)

/* The importer stores title and body as one text joined by one separator byte. */
#define JRNL_SEPARATOR_LEN 1

struct parse {
	char *err;
	size_t errlen;
};

/* Everything after the caller's format is ours and ASCII, but jansson quotes the input ("near
 * '...'"): replace non-printable bytes so a crafted file cannot send escapes to the terminal. */
static void sanitise(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
	}
}

static int __attribute__((format(printf, 3, 4)))
fail(struct parse *p, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!p->err || !p->errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	sanitise(p->err);
	return ret;
}

static int json_fail(struct parse *p, const json_error_t *jerr)
{
	if (json_error_code(jerr) == json_error_out_of_memory)
		return fail(p, BUDDY_E_NOMEM, "out of memory");
	if (jerr->line < 0)
		return fail(p, BUDDY_E_INVALID, "not valid JSON: %s", jerr->text);
	return fail(p, BUDDY_E_INVALID, "not valid JSON at line %d, column %d: %s", jerr->line,
		    jerr->column, jerr->text);
}

/* The keys of an entry we know. Keys not listed are ignored: newer jrnl versions may add some. */
enum kind { K_STRING, K_ARRAY, K_BOOL, K_OBJECT };

static const char *const kind_names[] = {
	[K_STRING] = "a string",
	[K_ARRAY] = "an array",
	[K_BOOL] = "true or false",
	[K_OBJECT] = "an object",
};

enum field { F_TITLE, F_BODY, F_DATE, F_TIME, F_TAGS, F_STARRED, F_UUID, F_CREATOR, F_COUNT_ };

static const struct {
	const char *key;
	enum kind kind;
	int required;
} fields[F_COUNT_] = {
	[F_TITLE] = {"title", K_STRING, 1}, [F_BODY] = {"body", K_STRING, 1},
	[F_DATE] = {"date", K_STRING, 1},   [F_TIME] = {"time", K_STRING, 1},
	[F_TAGS] = {"tags", K_ARRAY, 1},    [F_STARRED] = {"starred", K_BOOL, 1},
	[F_UUID] = {"uuid", K_STRING, 0},   [F_CREATOR] = {"creator", K_OBJECT, 0},
};

static int has_kind(const json_t *v, enum kind k)
{
	switch (k) {
	case K_STRING:
		return json_is_string(v);
	case K_ARRAY:
		return json_is_array(v);
	case K_BOOL:
		return json_is_boolean(v);
	case K_OBJECT:
		return json_is_object(v);
	}
	return 0;
}

/* jansson only lets "\u0000" through with JSON_ALLOW_NUL; we allow it there so that the error
 * can name the entry and field, and refuse it here because the strings end up NUL-terminated. */
static int has_nul(const json_t *s)
{
	return memchr(json_string_value(s), '\0', json_string_length(s)) != NULL;
}

static int digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Returns 0, -1 for not a calendar date, or -2 for a date before the epoch, which the journal
 * cannot store. */
static int parse_date(const char *s, size_t len, struct buddy_jrnl_entry *e)
{
	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &e->year) ||
	    !digits(s + 5, 2, &e->month) || !digits(s + 8, 2, &e->day))
		return -1;
	if (e->month < 1 || e->month > 12 || e->day < 1 ||
	    e->day > days_in_month(e->year, e->month))
		return -1;
	return e->year < 1970 ? -2 : 0;
}

static int parse_time(const char *s, size_t len, struct buddy_jrnl_entry *e)
{
	if (len != 5 || s[2] != ':' || !digits(s, 2, &e->hour) || !digits(s + 3, 2, &e->minute))
		return 0;
	return e->hour <= 23 && e->minute <= 59;
}

static char *dup_text(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* Windows line ends become newlines: a carriage return is a control character to the daemon. */
static void crlf_to_lf(char *s)
{
	size_t len = strlen(s);
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (*r == '\r') {
			*w++ = '\n';
			if (r[1] == '\n')
				r++;
		} else {
			*w++ = *r;
		}
	}
	explicit_bzero(w, (size_t)(s + len - w)); /* the tail the shift left behind */
	*w = 0;
}

static void free_text(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void entry_clear(struct buddy_jrnl_entry *e)
{
	free_text(e->title);
	free_text(e->body);
	for (size_t i = 0; i < e->ntags; i++)
		free_text(e->tags[i]);
	free(e->tags);
	explicit_bzero(e, sizeof(*e));
}

/* jrnl writes tags lowercased with their symbol ("@tagone"); we store the bare word ("tagone").
 * '#' is stripped too because it is the other common tagsymbols setting. */
static int take_tags(struct parse *p, size_t idx, const json_t *arr, struct buddy_jrnl_entry *e)
{
	char norm[BUDDY_TAG_MAX];
	const json_t *item;
	size_t i, k;

	json_array_foreach(arr, i, item)
	{
		const char *s;
		size_t len;

		if (!json_is_string(item))
			return fail(p, BUDDY_E_INVALID,
				    "entry %zu: \"tags\" item %zu is not a string", idx, i + 1);
		if (has_nul(item))
			return fail(p, BUDDY_E_INVALID,
				    "entry %zu: \"tags\" item %zu contains a NUL character", idx,
				    i + 1);
		s = json_string_value(item);
		len = json_string_length(item);
		if (len && (s[0] == '@' || s[0] == '#')) {
			s++;
			len--;
		}
		if (!len)
			continue;
		if (len > BUDDY_TAG_MAX)
			return fail(
				p, BUDDY_E_INVALID,
				"entry %zu: \"tags\" item %zu is longer than %d bytes without its "
				"tag symbol",
				idx, i + 1, BUDDY_TAG_MAX);
		for (k = 0; k < len; k++)
			norm[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
		/* the daemon's own rule, so a file that passes here is not refused later */
		if (!buddy_text_tag_valid(norm, len))
			return fail(
				p, BUDDY_E_INVALID,
				"entry %zu: \"tags\" item %zu contains whitespace, a comma or a "
				"control character",
				idx, i + 1);
		for (k = 0; k < e->ntags; k++) {
			if (strlen(e->tags[k]) == len && !memcmp(e->tags[k], norm, len))
				break;
		}
		if (k < e->ntags)
			continue;
		if (e->ntags == BUDDY_TAGS_MAX)
			return fail(p, BUDDY_E_INVALID,
				    "entry %zu: \"tags\" has more than %d distinct tags", idx,
				    BUDDY_TAGS_MAX);
		if (!e->tags && !(e->tags = calloc(BUDDY_TAGS_MAX, sizeof(*e->tags))))
			return fail(p, BUDDY_E_NOMEM, "out of memory");
		if (!(e->tags[e->ntags] = dup_text(norm, len)))
			return fail(p, BUDDY_E_NOMEM, "out of memory");
		e->ntags++;
	}
	return 0;
}

/* Fills e from obj; on failure e may hold part of the result, for entry_clear. */
static int take_entry(struct parse *p, size_t idx, const json_t *obj, struct buddy_jrnl_entry *e)
{
	const json_t *v[F_COUNT_];
	size_t tlen, blen;
	int f, ret;

	if (!json_is_object(obj))
		return fail(p, BUDDY_E_INVALID, "entry %zu is not an object", idx);
	for (f = 0; f < F_COUNT_; f++) {
		v[f] = json_object_get(obj, fields[f].key);
		if (!v[f] && fields[f].required)
			return fail(p, BUDDY_E_INVALID, "entry %zu: \"%s\" is missing", idx,
				    fields[f].key);
		if (v[f] && !has_kind(v[f], fields[f].kind))
			return fail(p, BUDDY_E_INVALID, "entry %zu: \"%s\" is not %s", idx,
				    fields[f].key, kind_names[fields[f].kind]);
		if (v[f] && fields[f].kind == K_STRING && has_nul(v[f]))
			return fail(p, BUDDY_E_INVALID,
				    "entry %zu: \"%s\" contains a NUL character", idx,
				    fields[f].key);
	}

	ret = parse_date(json_string_value(v[F_DATE]), json_string_length(v[F_DATE]), e);
	if (ret == -1)
		return fail(p, BUDDY_E_INVALID,
			    "entry %zu: \"date\" is not a date of the form YYYY-MM-DD", idx);
	if (ret == -2)
		return fail(p, BUDDY_E_INVALID, "entry %zu: \"date\" is before 1970", idx);
	if (!parse_time(json_string_value(v[F_TIME]), json_string_length(v[F_TIME]), e))
		return fail(p, BUDDY_E_INVALID,
			    "entry %zu: \"time\" is not a time of the form HH:MM", idx);

	/* No overflow: both lengths are below JRNL_INPUT_MAX. */
	tlen = json_string_length(v[F_TITLE]);
	blen = json_string_length(v[F_BODY]);
	if (tlen + JRNL_SEPARATOR_LEN + blen > BUDDY_TEXT_MAX)
		return fail(p, BUDDY_E_INVALID,
			    "entry %zu: \"title\" and \"body\" together are longer than %d bytes",
			    idx, BUDDY_TEXT_MAX - JRNL_SEPARATOR_LEN);

	ret = take_tags(p, idx, v[F_TAGS], e);
	if (ret)
		return ret;
	e->starred = json_is_true(v[F_STARRED]);
	e->title = dup_text(json_string_value(v[F_TITLE]), tlen);
	e->body = dup_text(json_string_value(v[F_BODY]), blen);
	if (!e->title || !e->body)
		return fail(p, BUDDY_E_NOMEM, "out of memory");
	crlf_to_lf(e->title);
	crlf_to_lf(e->body);
	if (!e->title[0] && !e->body[0])
		return fail(p, BUDDY_E_INVALID, "entry %zu has neither title nor body", idx);
	if (!buddy_text_valid(e->title, strlen(e->title), true))
		return fail(p, BUDDY_E_INVALID, "entry %zu: \"title\" contains a control character",
			    idx);
	if (!buddy_text_valid(e->body, strlen(e->body), true))
		return fail(p, BUDDY_E_INVALID, "entry %zu: \"body\" contains a control character",
			    idx);
	return 0;
}

int buddy_jrnl_parse(const char *buf, size_t len, struct buddy_jrnl_entry **out, size_t *n,
		     char *err, size_t errlen)
{
	struct parse p = {.err = err, .errlen = errlen};
	struct buddy_jrnl_entry *v = NULL;
	size_t count, cap = 0, done = 0;
	const json_t *entries, *tags;
	json_error_t jerr;
	json_t *root;
	int ret;

	*out = NULL;
	*n = 0;
	if (err && errlen)
		err[0] = '\0';
	if (len > JRNL_INPUT_MAX)
		return fail(&p, BUDDY_E_TOOBIG, "the file is larger than %d MiB",
			    JRNL_INPUT_MAX / (1024 * 1024));

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root)
		return json_fail(&p, &jerr);

	ret = BUDDY_E_INVALID;
	if (!json_is_object(root)) {
		fail(&p, ret, "the top level is not an object");
		goto out;
	}
	tags = json_object_get(root, "tags");
	if (tags && !json_is_object(tags)) {
		fail(&p, ret, "\"tags\" at the top level is not an object");
		goto out;
	}
	entries = json_object_get(root, "entries");
	if (!entries) {
		fail(&p, ret, "\"entries\" is missing");
		goto out;
	}
	if (!json_is_array(entries)) {
		fail(&p, ret, "\"entries\" is not an array");
		goto out;
	}

	/* Grow as entries pass their checks rather than sizing from the array: a file of many
	 * invalid "{}" would otherwise cost gigabytes before the first error. */
	count = json_array_size(entries);
	for (done = 0; done < count; done++) {
		if (done == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct buddy_jrnl_entry *nv;

			if (ncap > count)
				ncap = count;
			/* Not realloc: the old block holds dates, and is wiped before it goes. */
			nv = malloc(ncap * sizeof(*v));
			if (!nv) {
				ret = fail(&p, BUDDY_E_NOMEM, "out of memory");
				goto out;
			}
			if (v) {
				memcpy(nv, v, done * sizeof(*v));
				explicit_bzero(v, done * sizeof(*v));
				free(v);
			}
			v = nv;
			cap = ncap;
		}
		memset(&v[done], 0, sizeof(v[done]));
		ret = take_entry(&p, done + 1, json_array_get(entries, done), &v[done]);
		if (ret) {
			entry_clear(&v[done]);
			goto out;
		}
	}

	*out = v;
	*n = count;
	v = NULL;
	ret = 0;
out:
	buddy_jrnl_free(v, done);
	json_decref(root);
	return ret;
}

void buddy_jrnl_free(struct buddy_jrnl_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		entry_clear(&e[i]);
	free(e);
}
