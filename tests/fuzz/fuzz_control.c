/* libFuzzer target for the control API's request path, as daemon/control.c runs it before
 * dispatch: the bytes are a stream from one client, framed with buddy_mp_check under the
 * daemon's request limits (proto/CONTROL.md, "Limits and malformed input"); each whole object
 * is decoded with buddy_mp_decode and read as a [0, msgid, method, [params]] envelope. The
 * handlers' own param parsers are static and need a daemon, so the params of an envelope that
 * parses go through the public readers they are built from (the fields of checkin and log,
 * a date as pause takes one). Whatever the bytes, nothing reads out of bounds, and:
 *   - a framed object lies within the input and the request limit, and decodes;
 *   - framing refuses only with BUDDY_E_TOOBIG or BUDDY_E_INVALID, and then the stream ends;
 *   - an envelope that parses has a method of 1..64 bytes and params that are NULL or a map.
 * No socket, no daemon. Seeds are in corpus/control/. */
#include "buddy/cadence.h"
#include "buddy/error.h"
#include "buddy/journal.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/rpc.h"
#include "buddy/text.h"

#include <stdlib.h>
#include <string.h>

/* the same as request_limits in daemon/control.c */
static const struct buddy_mp_limits request_limits = {
	.max_bytes = BUDDY_CONTROL_REQUEST_MAX,
	.max_depth = BUDDY_CONTROL_DEPTH_MAX,
	.max_objects = 65536,
};

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

/* The fields that parse_entry (daemon/ctl_entry.c) and ctl_checkin read, through the same
 * public readers and limits. */
static void check_entry_params(const msgpack_object *p)
{
	const msgpack_object *o;
	const char *s;
	size_t len;
	char id[BUDDY_ID_MAX + 1], unit[BUDDY_UNIT_MAX + 1], date[16];
	double v;
	bool b;
	int y, m, d;

	if ((o = buddy_mp_get(p, "text")) && buddy_mp_str(o, BUDDY_TEXT_MAX, &s, &len) == 0) {
		CHECK(len <= BUDDY_TEXT_MAX);
		(void)buddy_text_valid(s, len, true);
	}
	if ((o = buddy_mp_get(p, "commit")) && buddy_mp_strcpy(o, BUDDY_ID_MAX, id) == 0) {
		CHECK(strlen(id) >= 1 && strlen(id) <= BUDDY_ID_MAX);
		(void)buddy_text_slug_valid(id, strlen(id));
	}
	if ((o = buddy_mp_get(p, "value")))
		(void)buddy_mp_double(o, &v);
	if ((o = buddy_mp_get(p, "unit")) && buddy_mp_strcpy(o, BUDDY_UNIT_MAX, unit) == 0)
		CHECK(strlen(unit) >= 1 && strlen(unit) <= BUDDY_UNIT_MAX);
	if ((o = buddy_mp_get(p, "tags")) && o->type == MSGPACK_OBJECT_ARRAY &&
	    o->via.array.size <= BUDDY_TAGS_MAX) {
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			char *tag = NULL;

			if (buddy_mp_strdup(&o->via.array.ptr[i], BUDDY_TAG_MAX, false, &tag) ==
			    0) {
				CHECK(tag && strlen(tag) >= 1 && strlen(tag) <= BUDDY_TAG_MAX);
				(void)buddy_text_tag_valid(tag, strlen(tag));
			}
			free(tag);
		}
	}
	if ((o = buddy_mp_get(p, "starred")))
		(void)buddy_mp_bool(o, &b);
	if ((o = buddy_mp_get(p, "private")))
		(void)buddy_mp_bool(o, &b);
	if (buddy_mp_str(buddy_mp_get(p, "status"), 16, &s, &len) == 0) {
		int st = buddy_checkin_status_parse(s, len);

		CHECK(st == 0 || (st >= BUDDY_CHECKIN_DONE && st <= BUDDY_CHECKIN_SKIP));
	}
	/* a date, as pause reads "until" and a BY cadence its "date" */
	if ((o = buddy_mp_get(p, "until")) && buddy_mp_strcpy(o, 10, date) == 0 &&
	    buddy_date_parse(date, &y, &m, &d) == 0)
		CHECK(y >= 1970 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
}

/* One framed object, as handle_one reads it. */
static void handle_one(const uint8_t *buf, size_t objlen)
{
	struct buddy_rpc_request rq;
	msgpack_unpacked u;
	int known = 0;

	msgpack_unpacked_init(&u);
	/* buddy_mp_check accepted exactly these bytes: decoding them cannot fail */
	CHECK(buddy_mp_decode(buf, objlen, &request_limits, &u) == 0);
	if (buddy_rpc_parse_request(&u.data, &rq, &known) == 0) {
		CHECK(known);
		/* an empty name is a request for no such method (answered 15), not malformed */
		CHECK(rq.method && rq.method_len <= 64);
		CHECK(!rq.params || rq.params->type == MSGPACK_OBJECT_MAP);
		if (rq.params)
			check_entry_params(rq.params);
	}
	msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact copy, so that reading one byte past the input is caught */
	uint8_t *buf = malloc(size ? size : 1);
	size_t off = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	/* process(): frame and handle objects until the stream is incomplete or refused */
	while (off < size) {
		size_t objlen = 0;
		int rc = buddy_mp_check(buf + off, size - off, &request_limits, &objlen);

		if (rc == 1)
			break;
		if (rc) {
			CHECK(rc == BUDDY_E_TOOBIG || rc == BUDDY_E_INVALID);
			break; /* fatal_framing: answered and closed */
		}
		CHECK(objlen >= 1 && objlen <= size - off && objlen <= BUDDY_CONTROL_REQUEST_MAX);
		handle_one(buf + off, objlen);
		off += objlen;
	}
	free(buf);
	return 0;
}
