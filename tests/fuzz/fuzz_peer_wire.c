/* libFuzzer target for the peer protocol's hello payload and transport envelope. Whatever the
 * bytes, the decoders answer or refuse without reading out of bounds; a hello they accept
 * encodes again (within BUDDY_HELLO_MAX) into one that decodes to the same hello; a message
 * they accept is [uint, map]. Seeds are in corpus/peer_wire/. */
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/peer_wire.h"

#include <stdlib.h>
#include <string.h>

static void check_same(const struct buddy_hello *a, const struct buddy_hello *b)
{
	if (a->version != b->version || a->features != b->features || memcmp(a->id, b->id, 32) ||
	    a->naddrs != b->naddrs || a->has_invite != b->has_invite)
		__builtin_trap();
	for (size_t i = 0; i < a->naddrs; i++)
		if (strcmp(a->addrs[i].host, b->addrs[i].host) ||
		    a->addrs[i].port != b->addrs[i].port)
			__builtin_trap();
	if (a->has_invite && (memcmp(a->invite_id, b->invite_id, sizeof(a->invite_id)) ||
			      memcmp(a->proof, b->proof, sizeof(a->proof))))
		__builtin_trap();
}

static void check_hello(const uint8_t *p, size_t len)
{
	struct buddy_hello a, b;
	uint8_t buf[BUDDY_HELLO_MAX];
	size_t n = 0;
	int rc = buddy_hello_decode(p, len, &a);

	if (rc != 0) {
		if (rc != BUDDY_E_INVALID && rc != BUDDY_E_VERSION)
			__builtin_trap();
		return;
	}
	if (a.version != BUDDY_PEER_VERSION || a.naddrs > BUDDY_PEER_ADDRS_MAX)
		__builtin_trap();
	if (buddy_hello_encode(&a, buf, sizeof(buf), &n) != 0 || n == 0 || n > sizeof(buf))
		__builtin_trap();
	if (buddy_hello_decode(buf, n, &b) != 0)
		__builtin_trap();
	check_same(&a, &b);
}

static void check_msg(const uint8_t *p, size_t len)
{
	msgpack_unpacked u;
	uint64_t type = 0;
	const msgpack_object *body = NULL;
	int rc;

	msgpack_unpacked_init(&u);
	rc = buddy_msg_decode(p, len, &u, &type, &body);
	if (rc == 0) {
		struct buddy_addr a[BUDDY_PEER_ADDRS_MAX];
		size_t n;
		uint64_t v;

		if (!body || body->type != MSGPACK_OBJECT_MAP)
			__builtin_trap();
		/* what a session does with the bodies it knows */
		(void)buddy_mp_uint(buddy_mp_get(body, "n"), &v);
		if (buddy_addrs_read(buddy_mp_get(body, "a"), a, BUDDY_PEER_ADDRS_MAX, &n) == 0 &&
		    n > BUDDY_PEER_ADDRS_MAX)
			__builtin_trap();
	} else if (rc != BUDDY_E_INVALID && rc != BUDDY_E_TOOBIG) {
		__builtin_trap();
	}
	msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact copy, so that reading one byte past the input is caught */
	uint8_t *p = malloc(size ? size : 1);

	if (!p)
		return 0;
	memcpy(p, data, size);
	check_hello(p, size);
	check_msg(p, size);
	free(p);
	return 0;
}
