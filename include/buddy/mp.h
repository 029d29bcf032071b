/* MessagePack helpers shared by the daemon and the CLI: a framer/validator that walks raw bytes
 * before msgpack-c ever sees them, typed accessors for decoded objects, and packing shortcuts.
 * msgpack-c allocates a container's elements from its declared count before reading them, so
 * every byte string from outside goes through buddy_mp_check first. */
#ifndef BUDDY_MP_H
#define BUDDY_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buddy_mp_limits {
	size_t max_bytes;   /* the whole object */
	unsigned max_depth; /* container nesting */
	size_t max_objects; /* objects of any kind, containers included */
};

/* Walks one object at the start of buf. Returns 0 and sets *objlen when buf holds a whole,
 * well-formed object within the limits; 1 when it is well formed so far but incomplete; and
 * BUDDY_E_TOOBIG (over a limit, or a declared size that can never fit) or BUDDY_E_INVALID
 * (reserved byte 0xc1, ext types, which we never use) otherwise. */
int buddy_mp_check(const uint8_t *buf, size_t len, const struct buddy_mp_limits *lim,
		   size_t *objlen);

/* Checks and unpacks exactly one object that fills buf into `out` (zone owned by out). */
int buddy_mp_decode(const uint8_t *buf, size_t len, const struct buddy_mp_limits *lim,
		    msgpack_unpacked *out);

/* The value stored under a string key in a map, or NULL (absent, or o is not a map). */
const msgpack_object *buddy_mp_get(const msgpack_object *map, const char *key);

/* Typed reads. Each returns BUDDY_E_INVALID when o is NULL or of another type, BUDDY_E_TOOBIG
 * over max. Strings are not NUL-terminated in msgpack: buddy_mp_str gives pointer and length. */
int buddy_mp_str(const msgpack_object *o, size_t max, const char **p, size_t *len);
int buddy_mp_bin(const msgpack_object *o, size_t max, const uint8_t **p, size_t *len);
int buddy_mp_int(const msgpack_object *o, int64_t *v);
int buddy_mp_uint(const msgpack_object *o, uint64_t *v);
int buddy_mp_bool(const msgpack_object *o, bool *v);
int buddy_mp_double(const msgpack_object *o, double *v); /* ints are accepted too */
/* Copies a string (1..max bytes, no NUL byte inside) into out[max + 1]. */
int buddy_mp_strcpy(const msgpack_object *o, size_t max, char *out);
/* Same, into a fresh malloc'd string; empty strings allowed when allow_empty. */
int buddy_mp_strdup(const msgpack_object *o, size_t max, bool allow_empty, char **out);

/* Equality of a msgpack string with a C string. */
bool buddy_mp_str_eq(const msgpack_object *o, const char *s);

/* Packing shortcuts. */
int buddy_mp_pack_cstr(msgpack_packer *pk, const char *s);
int buddy_mp_pack_strn(msgpack_packer *pk, const char *s, size_t len);
int buddy_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len);
/* Starts a journal record [type, now, body] on pk writing to out: the array, the type, the
 * time and the header of a body map of nfields entries (proto/STORE.md). */
int buddy_mp_record_head(msgpack_packer *pk, msgpack_sbuffer *out, unsigned type, int64_t now,
			 size_t nfields);

#endif
