/* libFuzzer target for the msgpack framer and the RPC envelope readers. Whatever the bytes,
 * buddy_mp_check answers complete, incomplete, too big or invalid; what it calls complete,
 * msgpack-c decodes in exactly objlen bytes, and the envelope readers take it without
 * crashing. Seeds are in corpus/mp/. */
#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/rpc.h"

#include <stdlib.h>
#include <string.h>

/* small enough that the limits are often hit */
static const struct buddy_mp_limits lim = {
	.max_bytes = 4096, .max_depth = BUDDY_CONTROL_DEPTH_MAX, .max_objects = 256};

/* a caller asking for more depth than msgpack-c's unpacker has (its stack is 32 deep) */
static const struct buddy_mp_limits deep = {
	.max_bytes = 4096, .max_depth = 1000, .max_objects = 4096};

static void check_envelopes(const msgpack_object *o)
{
	struct buddy_rpc_request req;
	struct buddy_rpc_response res;
	int known = -1;

	if (buddy_rpc_parse_request(o, &req, &known) == 0) {
		/* msgpack-c gives an empty string a NULL pointer */
		if (known != 1 || (!req.method && req.method_len) || req.method_len > 64)
			__builtin_trap();
		if (req.params && req.params->type != MSGPACK_OBJECT_MAP)
			__builtin_trap();
	} else if (known != 0 && known != 1) {
		__builtin_trap();
	}
	if (buddy_rpc_parse_response(o, &res) == 0) {
		if (res.code < 0 || (res.code == 0) != (res.result != NULL))
			__builtin_trap();
		if (res.code && ((!res.message && res.message_len) || res.message_len > 4096))
			__builtin_trap();
	}
}

/* Whatever the limits, an object called complete is one msgpack-c decodes. */
static void check_deep(const uint8_t *data, size_t size)
{
	msgpack_unpacked u;
	size_t objlen = 0, off = 0;

	if (buddy_mp_check(data, size, &deep, &objlen) != 0)
		return;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)data, objlen, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != objlen)
		__builtin_trap();
	msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked u;
	size_t objlen = 0, again = 0, off = 0;
	uint8_t *obj;
	int rc;

	check_deep(data, size);
	rc = buddy_mp_check(data, size, &lim, &objlen);

	if (rc == 1 || rc == BUDDY_E_TOOBIG || rc == BUDDY_E_INVALID)
		return 0;
	if (rc != 0 || objlen == 0 || objlen > size || objlen > lim.max_bytes)
		__builtin_trap();

	/* An exact copy, so that reading one byte past the object is caught. */
	obj = malloc(objlen);
	if (!obj)
		return 0;
	memcpy(obj, data, objlen);

	/* The object delimits itself: alone it is still complete, and one byte short it is not. */
	if (buddy_mp_check(obj, objlen, &lim, &again) != 0 || again != objlen)
		__builtin_trap();
	if (buddy_mp_check(obj, objlen - 1, &lim, &again) != 1)
		__builtin_trap();

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)obj, objlen, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != objlen)
		__builtin_trap();
	check_envelopes(&u.data);
	if (buddy_mp_decode(obj, objlen, &lim, &u) != 0)
		__builtin_trap();
	check_envelopes(&u.data);
	msgpack_unpacked_destroy(&u);
	free(obj);
	return 0;
}
