/* MessagePack validation, typed reads and packing shortcuts (see buddy/mp.h). */
#include "buddy/mp.h"
#include "buddy/error.h"

#include <string.h>

/* msgpack-c's unpacker refuses a container nested deeper than its fixed stack
 * (MSGPACK_EMBED_STACK_SIZE, 32): a deeper object would pass here and fail there */
#define DEPTH_HARD_MAX 32

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* How one leading byte shapes what follows: `fixed` bytes of payload after the tag byte, or a
 * big-endian length of `lenlen` bytes followed by that much payload, or a container. */
struct shape {
	unsigned fixed;	 /* payload bytes after the tag byte */
	unsigned lenlen; /* size of the length field, 0 if none */
	int container;	 /* 0: scalar; 1: array; 2: map */
	uint32_t count;	 /* element count for fix containers, payload length for fixstr */
};

static int classify(uint8_t b, struct shape *s)
{
	memset(s, 0, sizeof(*s));
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if (b >= 0x80 && b <= 0x8f) {
		s->container = 2;
		s->count = b & 0x0f;
		return 0;
	}
	if (b >= 0x90 && b <= 0x9f) {
		s->container = 1;
		s->count = b & 0x0f;
		return 0;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		s->fixed = b & 0x1f;
		return 0;
	}
	switch (b) {
	case 0xc4:
	case 0xd9:
		s->lenlen = 1;
		return 0; /* bin8, str8 */
	case 0xc5:
	case 0xda:
		s->lenlen = 2;
		return 0; /* bin16, str16 */
	case 0xc6:
	case 0xdb:
		s->lenlen = 4;
		return 0; /* bin32, str32 */
	case 0xca:
		s->fixed = 4;
		return 0; /* float32 */
	case 0xcb:
		s->fixed = 8;
		return 0; /* float64 */
	case 0xcc:
	case 0xd0:
		s->fixed = 1;
		return 0;
	case 0xcd:
	case 0xd1:
		s->fixed = 2;
		return 0;
	case 0xce:
	case 0xd2:
		s->fixed = 4;
		return 0;
	case 0xcf:
	case 0xd3:
		s->fixed = 8;
		return 0;
	case 0xdc:
		s->container = 1;
		s->lenlen = 2;
		return 0;
	case 0xdd:
		s->container = 1;
		s->lenlen = 4;
		return 0;
	case 0xde:
		s->container = 2;
		s->lenlen = 2;
		return 0;
	case 0xdf:
		s->container = 2;
		s->lenlen = 4;
		return 0;
	default:
		/* 0xc1 is never used; ext types (0xc7-0xc9, 0xd4-0xd8) are not part of our formats
		 */
		return BUDDY_E_INVALID;
	}
}

int buddy_mp_check(const uint8_t *buf, size_t len, const struct buddy_mp_limits *lim,
		   size_t *objlen)
{
	/* remaining[d] = objects still expected at depth d; depth 0 expects the one top object */
	uint64_t remaining[DEPTH_HARD_MAX + 1];
	unsigned depth = 0, max_depth = lim->max_depth;
	size_t pos = 0, objects = 0;

	if (max_depth > DEPTH_HARD_MAX)
		max_depth = DEPTH_HARD_MAX;
	remaining[0] = 1;
	for (;;) {
		struct shape s;
		uint64_t count, payload;
		int rc;

		while (remaining[depth] == 0) {
			if (depth == 0) {
				*objlen = pos;
				return 0;
			}
			depth--;
		}
		if (pos >= lim->max_bytes)
			return BUDDY_E_TOOBIG;
		if (pos >= len)
			return 1;
		if (++objects > lim->max_objects)
			return BUDDY_E_TOOBIG;
		rc = classify(buf[pos], &s);
		if (rc)
			return rc;
		remaining[depth]--;
		pos++;
		if (s.lenlen) {
			/* checked before the completeness test, so that "str32 of length 0" cannot
			 * end past max_bytes */
			if (pos + s.lenlen > lim->max_bytes)
				return BUDDY_E_TOOBIG;
			if (len - pos < s.lenlen)
				return 1;
			payload = be(buf + pos, s.lenlen);
			pos += s.lenlen;
		} else {
			payload = s.container ? s.count : s.fixed;
		}
		if (!s.container) {
			/* a payload that cannot fit the limit is refused now, not after buffering
			 * it */
			if (payload >
			    lim->max_bytes - (pos < lim->max_bytes ? pos : lim->max_bytes))
				return BUDDY_E_TOOBIG;
			if (len - pos < payload)
				return 1;
			pos += payload;
			continue;
		}
		count = s.container == 2 ? payload * 2 : payload;
		/* every element takes at least one byte: a count that cannot fit is refused before
		 * anyone allocates for it */
		if (count > lim->max_bytes - pos || count > lim->max_objects)
			return BUDDY_E_TOOBIG;
		/* an empty container is still one level of nesting (for msgpack-c too) */
		if (depth + 1 > max_depth)
			return BUDDY_E_TOOBIG;
		if (count == 0)
			continue;
		remaining[++depth] = count;
	}
}

int buddy_mp_decode(const uint8_t *buf, size_t len, const struct buddy_mp_limits *lim,
		    msgpack_unpacked *out)
{
	size_t objlen = 0, off = 0;
	int rc = buddy_mp_check(buf, len, lim, &objlen);

	if (rc == 1)
		return BUDDY_E_INVALID; /* truncated */
	if (rc)
		return rc;
	if (objlen != len)
		return BUDDY_E_INVALID; /* trailing bytes */
	if (msgpack_unpack_next(out, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS)
		return BUDDY_E_INVALID;
	return 0;
}

const msgpack_object *buddy_mp_get(const msgpack_object *map, const char *key)
{
	size_t klen = strlen(key);

	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

int buddy_mp_str(const msgpack_object *o, size_t max, const char **p, size_t *len)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return BUDDY_E_INVALID;
	if (o->via.str.size > max)
		return BUDDY_E_TOOBIG;
	*p = o->via.str.ptr;
	*len = o->via.str.size;
	return 0;
}

int buddy_mp_bin(const msgpack_object *o, size_t max, const uint8_t **p, size_t *len)
{
	if (!o || o->type != MSGPACK_OBJECT_BIN)
		return BUDDY_E_INVALID;
	if (o->via.bin.size > max)
		return BUDDY_E_TOOBIG;
	*p = (const uint8_t *)o->via.bin.ptr;
	*len = o->via.bin.size;
	return 0;
}

int buddy_mp_int(const msgpack_object *o, int64_t *v)
{
	if (!o)
		return BUDDY_E_INVALID;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*v = (int64_t)o->via.u64;
		return 0;
	}
	return BUDDY_E_INVALID;
}

int buddy_mp_uint(const msgpack_object *o, uint64_t *v)
{
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return BUDDY_E_INVALID;
	*v = o->via.u64;
	return 0;
}

int buddy_mp_bool(const msgpack_object *o, bool *v)
{
	if (!o || o->type != MSGPACK_OBJECT_BOOLEAN)
		return BUDDY_E_INVALID;
	*v = o->via.boolean;
	return 0;
}

int buddy_mp_double(const msgpack_object *o, double *v)
{
	if (!o)
		return BUDDY_E_INVALID;
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*v = o->via.f64;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*v = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = (double)o->via.i64;
		return 0;
	default:
		return BUDDY_E_INVALID;
	}
}

int buddy_mp_strcpy(const msgpack_object *o, size_t max, char *out)
{
	const char *p;
	size_t len;
	int rc = buddy_mp_str(o, max, &p, &len);

	if (rc)
		return rc;
	if (len == 0 || memchr(p, 0, len))
		return BUDDY_E_INVALID;
	memcpy(out, p, len);
	out[len] = 0;
	return 0;
}

int buddy_mp_strdup(const msgpack_object *o, size_t max, bool allow_empty, char **out)
{
	const char *p;
	size_t len;
	char *s;
	int rc = buddy_mp_str(o, max, &p, &len);

	if (rc)
		return rc;
	if ((len == 0 && !allow_empty) || memchr(p, 0, len))
		return BUDDY_E_INVALID;
	s = malloc(len + 1);
	if (!s)
		return BUDDY_E_NOMEM;
	memcpy(s, p, len);
	s[len] = 0;
	*out = s;
	return 0;
}

bool buddy_mp_str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

int buddy_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
	return buddy_mp_pack_strn(pk, s, strlen(s));
}

int buddy_mp_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
	if (msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len))
		return BUDDY_E_NOMEM;
	return 0;
}

int buddy_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
	if (msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, p, len))
		return BUDDY_E_NOMEM;
	return 0;
}

int buddy_mp_record_head(msgpack_packer *pk, msgpack_sbuffer *out, unsigned type, int64_t now,
			 size_t nfields)
{
	msgpack_packer_init(pk, out, msgpack_sbuffer_write);
	if (msgpack_pack_array(pk, 3) || msgpack_pack_unsigned_int(pk, type) ||
	    msgpack_pack_int64(pk, now) || msgpack_pack_map(pk, nfields))
		return BUDDY_E_NOMEM;
	return 0;
}
