/* The peer protocol's hello payload and transport envelope (see buddy/peer_wire.h and
 * proto/PROTOCOL.md). Every byte string is framed and bounded by buddy_mp_check before
 * msgpack-c decodes it; every field is then type- and length-checked into locals. */
#include "buddy/peer_wire.h"
#include "buddy/error.h"
#include "buddy/mp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const struct buddy_mp_limits hello_limits = {
	.max_bytes = BUDDY_HELLO_MAX, .max_depth = 3, .max_objects = 256};

static const struct buddy_mp_limits msg_limits = {
	.max_bytes = 64 * 1024, .max_depth = 8, .max_objects = 16384};

/* A numeric host (either family) in canonical form; 0 when it is not one. */
static int canonical_host(const char *p, size_t len, char out[BUDDY_ADDR_HOST_MAX])
{
	char buf[BUDDY_ADDR_HOST_MAX];
	uint8_t ip[16];
	int af;

	if (len == 0 || len >= sizeof(buf) || memchr(p, 0, len))
		return BUDDY_E_INVALID;
	memcpy(buf, p, len);
	buf[len] = 0;
	if (inet_pton(AF_INET, buf, ip) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, buf, ip) == 1)
		af = AF_INET6;
	else
		return BUDDY_E_INVALID;
	if (!inet_ntop(af, ip, out, BUDDY_ADDR_HOST_MAX))
		return BUDDY_E_INVALID;
	return 0;
}

int buddy_addrs_pack(msgpack_packer *pk, const struct buddy_addr *a, size_t n)
{
	char host[BUDDY_ADDR_HOST_MAX];

	if (n > BUDDY_PEER_ADDRS_MAX)
		return BUDDY_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(a[i].host, sizeof(a[i].host));

		if (len == sizeof(a[i].host) || canonical_host(a[i].host, len, host) ||
		    a[i].port == 0)
			return BUDDY_E_INVALID;
	}
	if (msgpack_pack_array(pk, n))
		return BUDDY_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (msgpack_pack_array(pk, 2) || buddy_mp_pack_cstr(pk, a[i].host) ||
		    msgpack_pack_uint16(pk, a[i].port))
			return BUDDY_E_NOMEM;
	}
	return 0;
}

int buddy_addrs_read(const msgpack_object *o, struct buddy_addr *a, size_t max, size_t *n)
{
	struct buddy_addr tmp[BUDDY_PEER_ADDRS_MAX];
	size_t count;

	if (!o || o->type != MSGPACK_OBJECT_ARRAY)
		return BUDDY_E_INVALID;
	count = o->via.array.size;
	if (count > max || count > BUDDY_PEER_ADDRS_MAX)
		return BUDDY_E_INVALID;
	memset(tmp, 0, sizeof(tmp));
	for (size_t i = 0; i < count; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		const char *host;
		size_t hlen;
		uint64_t port;

		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2)
			return BUDDY_E_INVALID;
		if (buddy_mp_str(&e->via.array.ptr[0], BUDDY_ADDR_HOST_MAX - 1, &host, &hlen) ||
		    canonical_host(host, hlen, tmp[i].host))
			return BUDDY_E_INVALID;
		if (buddy_mp_uint(&e->via.array.ptr[1], &port) || port == 0 || port > 65535)
			return BUDDY_E_INVALID;
		tmp[i].port = (uint16_t)port;
	}
	if (count)
		memcpy(a, tmp, count * sizeof(tmp[0]));
	*n = count;
	return 0;
}

int buddy_hello_encode(const struct buddy_hello *h, uint8_t *out, size_t cap, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc = BUDDY_E_NOMEM;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, h->has_invite ? 6 : 4))
		goto out;
	if (buddy_mp_pack_cstr(&pk, "v") || msgpack_pack_uint32(&pk, h->version))
		goto out;
	if (buddy_mp_pack_cstr(&pk, "f") || msgpack_pack_uint64(&pk, h->features))
		goto out;
	if (buddy_mp_pack_cstr(&pk, "id") || buddy_mp_pack_bin(&pk, h->id, sizeof(h->id)))
		goto out;
	if (buddy_mp_pack_cstr(&pk, "a"))
		goto out;
	rc = buddy_addrs_pack(&pk, h->addrs, h->naddrs);
	if (rc)
		goto out;
	rc = BUDDY_E_NOMEM;
	if (h->has_invite &&
	    (buddy_mp_pack_cstr(&pk, "inv") ||
	     buddy_mp_pack_bin(&pk, h->invite_id, sizeof(h->invite_id)) ||
	     buddy_mp_pack_cstr(&pk, "prf") || buddy_mp_pack_bin(&pk, h->proof, sizeof(h->proof))))
		goto out;
	if (sb.size > BUDDY_HELLO_MAX || sb.size > cap) {
		rc = BUDDY_E_TOOBIG;
		goto out;
	}
	memcpy(out, sb.data, sb.size);
	*len = sb.size;
	rc = 0;
out:
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* The known keys of a hello, in one table: each appears at most once. */
enum { K_V, K_F, K_ID, K_A, K_INV, K_PRF, K_COUNT };
static const char *const hello_keys[K_COUNT] = {"v", "f", "id", "a", "inv", "prf"};

static int bin_exact(const msgpack_object *o, uint8_t *out, size_t n)
{
	const uint8_t *p;
	size_t len;

	if (buddy_mp_bin(o, n, &p, &len) || len != n)
		return BUDDY_E_INVALID;
	memcpy(out, p, n);
	return 0;
}

static int hello_read(const msgpack_object *map, struct buddy_hello *h)
{
	const msgpack_object *f[K_COUNT] = {0};
	uint64_t v;

	if (map->type != MSGPACK_OBJECT_MAP)
		return BUDDY_E_INVALID;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		for (int k = 0; k < K_COUNT; k++) {
			if (!buddy_mp_str_eq(&kv->key, hello_keys[k]))
				continue;
			if (f[k])
				return BUDDY_E_INVALID; /* a known key twice */
			f[k] = &kv->val;
		}
	}
	/* the version first: another version's hello may differ in every other field */
	if (buddy_mp_uint(f[K_V], &v))
		return BUDDY_E_INVALID;
	if (v != BUDDY_PEER_VERSION)
		return BUDDY_E_VERSION;
	h->version = (uint32_t)v;
	if (f[K_F] && buddy_mp_uint(f[K_F], &h->features))
		return BUDDY_E_INVALID;
	if (!f[K_ID] || bin_exact(f[K_ID], h->id, sizeof(h->id)))
		return BUDDY_E_INVALID;
	if (f[K_A] && buddy_addrs_read(f[K_A], h->addrs, BUDDY_PEER_ADDRS_MAX, &h->naddrs))
		return BUDDY_E_INVALID;
	if (!f[K_INV] != !f[K_PRF])
		return BUDDY_E_INVALID;
	if (f[K_INV]) {
		if (bin_exact(f[K_INV], h->invite_id, sizeof(h->invite_id)) ||
		    bin_exact(f[K_PRF], h->proof, sizeof(h->proof)))
			return BUDDY_E_INVALID;
		h->has_invite = true;
	}
	return 0;
}

int buddy_hello_decode(const uint8_t *p, size_t len, struct buddy_hello *h)
{
	struct buddy_hello tmp;
	msgpack_unpacked u;
	int rc;

	if (len == 0 || len > BUDDY_HELLO_MAX)
		return BUDDY_E_INVALID;
	memset(&tmp, 0, sizeof(tmp));
	msgpack_unpacked_init(&u);
	rc = buddy_mp_decode(p, len, &hello_limits, &u);
	if (rc == 0)
		rc = hello_read(&u.data, &tmp);
	else
		rc = BUDDY_E_INVALID;
	msgpack_unpacked_destroy(&u);
	if (rc == 0)
		memcpy(h, &tmp, sizeof(tmp));
	return rc;
}

int buddy_msg_encode_simple(msgpack_sbuffer *sb, enum buddy_msg_type type, uint64_t n)
{
	msgpack_packer pk;
	bool with_n = type == BUDDY_MSG_PING || type == BUDDY_MSG_PONG;

	/* ADDRS has a list for a body: pack it with buddy_addrs_pack */
	if ((unsigned)type == 0 || type == BUDDY_MSG_ADDRS)
		return BUDDY_E_INVALID;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, 2) || msgpack_pack_uint64(&pk, (uint64_t)type) ||
	    msgpack_pack_map(&pk, with_n ? 1 : 0))
		return BUDDY_E_NOMEM;
	if (with_n && (buddy_mp_pack_cstr(&pk, "n") || msgpack_pack_uint64(&pk, n)))
		return BUDDY_E_NOMEM;
	return 0;
}

int buddy_msg_decode(const uint8_t *p, size_t len, msgpack_unpacked *u, uint64_t *type,
		     const msgpack_object **body)
{
	const msgpack_object *o;
	uint64_t t;
	int rc = buddy_mp_decode(p, len, &msg_limits, u);

	if (rc)
		return rc;
	o = &u->data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2)
		return BUDDY_E_INVALID;
	if (buddy_mp_uint(&o->via.array.ptr[0], &t) ||
	    o->via.array.ptr[1].type != MSGPACK_OBJECT_MAP)
		return BUDDY_E_INVALID;
	*type = t;
	*body = &o->via.array.ptr[1];
	return 0;
}
