/* Printing answers: JSON for --json, and the small formatting helpers the commands share. */
#include "buddy/cadence.h"
#include "buddy/error.h"
#include "buddy/mp.h"
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Recursive, one call per nesting level of a daemon's answer, which buddy_mp_decode caps at
 * response_limits.max_depth (client.c). NOLINTNEXTLINE(misc-no-recursion) */
json_t *cli_to_json(const msgpack_object *o)
{
	json_t *j;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return o->via.u64 > INT64_MAX ? json_real((double)o->via.u64)
					      : json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; j && i < o->via.array.size; i++)
			json_array_append_new(j, cli_to_json(&o->via.array.ptr[i]));
		return j;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; j && i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (k->type != MSGPACK_OBJECT_STR)
				continue;
			json_object_setn_new(j, k->via.str.ptr, k->via.str.size,
					     cli_to_json(&o->via.map.ptr[i].val));
		}
		return j;
	default:
		return json_null();
	}
}

int cli_print_json(FILE *f, const msgpack_object *o)
{
	json_t *j = cli_to_json(o);
	int rc;

	if (!j)
		return BUDDY_E_NOMEM;
	rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_decref(j);
	fputc('\n', f);
	return rc ? BUDDY_E_IO : 0;
}

const char *cli_str(const msgpack_object *map, const char *key, char *buf, size_t buflen)
{
	const char *p;
	size_t len;

	if (buddy_mp_str(buddy_mp_get(map, key), SIZE_MAX, &p, &len))
		len = 0;
	if (len >= buflen)
		len = buflen - 1;
	memcpy(buf, len ? p : "", len);
	buf[len] = 0;
	return buf;
}

int64_t cli_int(const msgpack_object *map, const char *key)
{
	int64_t v = 0;

	buddy_mp_int(buddy_mp_get(map, key), &v);
	return v;
}

double cli_double(const msgpack_object *map, const char *key)
{
	double v = 0;

	buddy_mp_double(buddy_mp_get(map, key), &v);
	return v;
}

bool cli_bool(const msgpack_object *map, const char *key)
{
	bool v = false;

	buddy_mp_bool(buddy_mp_get(map, key), &v);
	return v;
}

void cli_fmt_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, n, "@%lld", (long long)t);
}

void cli_fmt_date(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%d", &tm))
		snprintf(buf, n, "@%lld", (long long)t);
}

int cli_parse_date(const char *s, int plus_days, int64_t *out)
{
	struct tm tm = {0};
	int y, m, d;
	time_t t;

	if (buddy_date_parse(s, &y, &m, &d))
		return BUDDY_E_INVALID;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + plus_days;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1)
		return BUDDY_E_INVALID;
	*out = t;
	return 0;
}

void cli_local_tz(char *buf, size_t n)
{
	const char *tz = getenv("TZ");
	char link[PATH_MAX];
	ssize_t len;
	const char *p;

	if (tz && *tz) {
		snprintf(buf, n, "%s", tz[0] == ':' ? tz + 1 : tz);
		/* TZ may also be a POSIX rule ("CET-1CEST") or a path: only a zone name will do */
		if (buddy_tz_valid(buf) == 0)
			return;
	}
	len = readlink("/etc/localtime", link, sizeof(link) - 1);
	if (len > 0) {
		link[len] = 0;
		p = strstr(link, "zoneinfo/");
		if (p) {
			snprintf(buf, n, "%s", p + strlen("zoneinfo/"));
			if (buddy_tz_valid(buf) == 0)
				return;
		}
	}
	snprintf(buf, n, "UTC");
}

void cli_fmt_cadence(const msgpack_object *cad, char *buf, size_t n)
{
	char kind[16], by[16];
	int64_t count = cli_int(cad, "n");

	cli_str(cad, "kind", kind, sizeof(kind));
	if (strcmp(kind, "weekly") == 0)
		snprintf(buf, n, "%lld per week", (long long)count);
	else if (strcmp(kind, "monthly") == 0)
		snprintf(buf, n, "%lld per month", (long long)count);
	else if (strcmp(kind, "by") == 0)
		snprintf(buf, n, "by %s", cli_str(cad, "by", by, sizeof(by)));
	else
		snprintf(buf, n, "%s", kind);
}

void cli_print_text(const char *p, size_t len, const char *indent)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\n') {
			putchar('\n');
			fputs(indent, stdout);
		} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			putchar('?');
		} else if (ch == 0xc2 && i + 1 < len && (unsigned char)p[i + 1] >= 0x80 &&
			   (unsigned char)p[i + 1] <= 0x9f) {
			putchar('?'); /* a C1 control character, U+0080..U+009F */
			i++;
		} else {
			putchar(ch);
		}
	}
}

bool cli_print_field(const msgpack_object *map, const char *key, const char *prefix,
		     const char *indent)
{
	const char *p;
	size_t len;

	if (buddy_mp_str(buddy_mp_get(map, key), SIZE_MAX, &p, &len) || len == 0)
		return false;
	fputs(prefix, stdout);
	cli_print_text(p, len, indent);
	return true;
}

size_t cli_print_names(const msgpack_object *names)
{
	size_t n = 0;

	if (!names || names->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (uint32_t i = 0; i < names->via.array.size; i++) {
		const char *p;
		size_t len;

		if (buddy_mp_str(&names->via.array.ptr[i], SIZE_MAX, &p, &len) || len == 0)
			continue;
		if (n++)
			fputs(", ", stdout);
		cli_print_text(p, len, "");
	}
	return n;
}

size_t cli_count(const msgpack_object *array)
{
	return array && array->type == MSGPACK_OBJECT_ARRAY ? array->via.array.size : 0;
}

bool cli_is_set(const msgpack_object *map, const char *key)
{
	const msgpack_object *o = buddy_mp_get(map, key);

	return o && o->type != MSGPACK_OBJECT_NIL;
}

int cli_parse_entry_id(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '#')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}
