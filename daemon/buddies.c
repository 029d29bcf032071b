/* Buddies and invites, rebuilt from journal records (see buddy/buddies.h). */
#include "buddy/buddies.h"
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/peer_wire.h"
#include "buddy/text.h"
#include "pkindex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct buddy_buddies {
	struct buddy_buddy *v;
	size_t n, cap;
	struct pkix ix; /* v by key */
	struct buddy_invite_rec *inv;
	size_t ninv, capinv;
};

struct buddy_buddies *buddy_buddies_new(void)
{
	return calloc(1, sizeof(struct buddy_buddies));
}

void buddy_buddies_free(struct buddy_buddies *b)
{
	if (!b)
		return;
	if (b->inv)
		sodium_memzero(b->inv, b->capinv * sizeof(*b->inv));
	free(b->inv);
	free(b->v);
	pkix_free(&b->ix);
	free(b);
}

size_t buddy_buddies_count(const struct buddy_buddies *b)
{
	return b->n;
}

struct buddy_buddy *buddy_buddies_at(struct buddy_buddies *b, size_t i)
{
	return i < b->n ? &b->v[i] : NULL;
}

static const uint8_t *buddy_key(const void *r)
{
	return ((const struct buddy_buddy *)r)->pk;
}

/* Public keys: a plain compare is fine (nothing secret to time), and this runs several times
 * on every handshake: through the index, not a scan of every buddy. */
struct buddy_buddy *buddy_buddies_by_pk(struct buddy_buddies *b, const uint8_t pk[32])
{
	return pkix_get(&b->ix, pk, buddy_key);
}

struct buddy_buddy *buddy_buddies_by_name(struct buddy_buddies *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!b->v[i].forgotten && strcmp(b->v[i].name, name) == 0)
			return &b->v[i];
	return NULL;
}

struct buddy_invite_rec *buddy_buddies_invite(struct buddy_buddies *b,
					      const uint8_t id[BUDDY_INVITE_ID_BYTES])
{
	for (size_t i = 0; i < b->ninv; i++)
		if (sodium_memcmp(b->inv[i].id, id, BUDDY_INVITE_ID_BYTES) == 0)
			return &b->inv[i];
	return NULL;
}

/* ---- apply ---- */

static int get_pk(const msgpack_object *body, uint8_t pk[32])
{
	const uint8_t *p;
	size_t len;

	if (buddy_mp_bin(buddy_mp_get(body, "pk"), 32, &p, &len) || len != 32)
		return BUDDY_E_CORRUPT;
	memcpy(pk, p, 32);
	return 0;
}

static int get_name(const msgpack_object *body, char name[BUDDY_ID_MAX + 1])
{
	if (buddy_mp_strcpy(buddy_mp_get(body, "name"), BUDDY_ID_MAX, name) ||
	    !buddy_text_slug_valid(name, strlen(name)))
		return BUDDY_E_CORRUPT;
	return 0;
}

static int apply_add(struct buddy_buddies *b, int64_t written, const msgpack_object *body)
{
	struct buddy_buddy nb = {0}, *old;

	if (get_pk(body, nb.pk) || get_name(body, nb.name) ||
	    buddy_addrs_read(buddy_mp_get(body, "addrs"), nb.addrs, BUDDY_PEER_ADDRS_MAX,
			     &nb.naddrs))
		return BUDDY_E_CORRUPT;
	nb.paired = written;
	old = buddy_buddies_by_pk(b, nb.pk);
	/* a revoked buddy may be paired again: the new pairing replaces the old entry */
	if (old && !old->revoked)
		return BUDDY_E_CORRUPT;
	if (buddy_buddies_by_name(b, nb.name) && buddy_buddies_by_name(b, nb.name) != old)
		return BUDDY_E_CORRUPT;
	if (old) {
		*old = nb;
		return 0;
	}
	if (b->n == b->cap) {
		/* a new array, not realloc: the index follows the buddies from the old one */
		size_t ncap = b->cap ? b->cap * 2 : 8;
		struct buddy_buddy *nv = malloc(ncap * sizeof(*nv));
		if (!nv)
			return BUDDY_E_NOMEM;
		if (b->n)
			memcpy(nv, b->v, b->n * sizeof(*nv));
		pkix_rebase(&b->ix, b->v, nv);
		free(b->v);
		b->v = nv;
		b->cap = ncap;
	}
	b->v[b->n] = nb;
	if (pkix_put(&b->ix, &b->v[b->n], buddy_key))
		return BUDDY_E_NOMEM;
	b->n++;
	return 0;
}

static struct buddy_buddy *active(struct buddy_buddies *b, const msgpack_object *body)
{
	uint8_t pk[32];
	struct buddy_buddy *x;

	if (get_pk(body, pk))
		return NULL;
	x = buddy_buddies_by_pk(b, pk);
	return x && !x->revoked ? x : NULL;
}

static int apply_invite(struct buddy_buddies *b, const msgpack_object *body)
{
	struct buddy_invite_rec r = {0};
	const uint8_t *p;
	size_t len;

	if (buddy_mp_bin(buddy_mp_get(body, "id"), 8, &p, &len) || len != 8)
		return BUDDY_E_CORRUPT;
	memcpy(r.id, p, 8);
	if (buddy_mp_bin(buddy_mp_get(body, "secret"), 16, &p, &len) || len != 16)
		return BUDDY_E_CORRUPT;
	memcpy(r.secret, p, 16);
	if (buddy_mp_int(buddy_mp_get(body, "expires"), &r.expires) || get_name(body, r.name) ||
	    buddy_buddies_invite(b, r.id))
		return BUDDY_E_CORRUPT;
	if (b->ninv == b->capinv) {
		size_t ncap = b->capinv ? b->capinv * 2 : 8;
		struct buddy_invite_rec *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return BUDDY_E_NOMEM;
		if (b->inv) {
			memcpy(nv, b->inv, b->ninv * sizeof(*nv));
			sodium_memzero(b->inv, b->capinv * sizeof(*b->inv));
			free(b->inv);
		}
		b->inv = nv;
		b->capinv = ncap;
	}
	/* inv is NULL only while capinv is 0, and then ninv == capinv grew it just above; the
	 * analyzer takes ninv > 0 with no inv (a state nothing makes) through
	 * buddy_buddies_invite. NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	b->inv[b->ninv++] = r;
	sodium_memzero(&r, sizeof(r));
	return 0;
}

int buddy_buddies_apply(struct buddy_buddies *b, uint64_t type, int64_t written,
			const msgpack_object *body)
{
	struct buddy_buddy *x;
	bool forget = false;

	switch (type) {
	case BUDDY_REC_BUDDY_ADD:
		return apply_add(b, written, body);
	case BUDDY_REC_BUDDY_RENAME: {
		char name[BUDDY_ID_MAX + 1];
		struct buddy_buddy *same;
		if (!(x = active(b, body)) || get_name(body, name))
			return BUDDY_E_CORRUPT;
		same = buddy_buddies_by_name(b, name);
		if (same && same != x)
			return BUDDY_E_CORRUPT;
		memcpy(x->name, name, sizeof(name));
		return 0;
	}
	case BUDDY_REC_BUDDY_VERIFY:
		if (!(x = active(b, body)))
			return BUDDY_E_CORRUPT;
		x->verified = true;
		return 0;
	case BUDDY_REC_BUDDY_REVOKE: {
		bool them = false;
		if (!(x = active(b, body)) ||
		    (buddy_mp_get(body, "forget") &&
		     buddy_mp_bool(buddy_mp_get(body, "forget"), &forget)) ||
		    (buddy_mp_get(body, "them") &&
		     buddy_mp_bool(buddy_mp_get(body, "them"), &them)))
			return BUDDY_E_CORRUPT;
		x->revoked = written > 0 ? written : 1;
		x->ended_by_them = them;
		x->online = false;
		if (forget) {
			/* the key stays, so it is still refused; the rest goes */
			x->forgotten = true;
			memset(x->name, 0, sizeof(x->name));
			memset(x->addrs, 0, sizeof(x->addrs));
			x->naddrs = 0;
		}
		return 0;
	}
	case BUDDY_REC_BUDDY_ADDRS:
		if (!(x = active(b, body)) ||
		    buddy_addrs_read(buddy_mp_get(body, "addrs"), x->addrs, BUDDY_PEER_ADDRS_MAX,
				     &x->naddrs))
			return BUDDY_E_CORRUPT;
		return 0;
	case BUDDY_REC_INVITE_ADD:
		return apply_invite(b, body);
	case BUDDY_REC_INVITE_USED: {
		const uint8_t *p;
		size_t len;
		struct buddy_invite_rec *r;
		if (buddy_mp_bin(buddy_mp_get(body, "id"), 8, &p, &len) || len != 8 ||
		    !(r = buddy_buddies_invite(b, p)) || r->used)
			return BUDDY_E_CORRUPT;
		r->used = true;
		sodium_memzero(r->secret, sizeof(r->secret)); /* never needed again */
		return 0;
	}
	default:
		return BUDDY_E_VERSION;
	}
}

/* ---- makers ---- */

#define PK(x)                                                                                      \
	do {                                                                                       \
		if (x)                                                                             \
			return BUDDY_E_NOMEM;                                                      \
	} while (0)

static int kv_bin(msgpack_packer *pk, const char *k, const uint8_t *v, size_t len)
{
	PK(buddy_mp_pack_cstr(pk, k));
	return buddy_mp_pack_bin(pk, v, len);
}

static int kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	PK(buddy_mp_pack_cstr(pk, k));
	return buddy_mp_pack_cstr(pk, v);
}

int buddy_buddies_make_add(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			   const char *name, const struct buddy_addr *addrs, size_t naddrs)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_BUDDY_ADD, now, 3));
	PK(kv_bin(&p, "pk", pk, 32));
	PK(kv_str(&p, "name", name));
	PK(buddy_mp_pack_cstr(&p, "addrs"));
	return buddy_addrs_pack(&p, addrs, naddrs);
}

int buddy_buddies_make_rename(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			      const char *name)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_BUDDY_RENAME, now, 2));
	PK(kv_bin(&p, "pk", pk, 32));
	return kv_str(&p, "name", name);
}

int buddy_buddies_make_verify(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32])
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_BUDDY_VERIFY, now, 1));
	return kv_bin(&p, "pk", pk, 32);
}

int buddy_buddies_make_revoke(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32], bool forget)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_BUDDY_REVOKE, now, 2));
	PK(kv_bin(&p, "pk", pk, 32));
	PK(buddy_mp_pack_cstr(&p, "forget"));
	return forget ? msgpack_pack_true(&p) : msgpack_pack_false(&p);
}

int buddy_buddies_make_ended(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32])
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_BUDDY_REVOKE, now, 3));
	PK(kv_bin(&p, "pk", pk, 32));
	PK(buddy_mp_pack_cstr(&p, "forget"));
	PK(msgpack_pack_false(&p));
	PK(buddy_mp_pack_cstr(&p, "them"));
	return msgpack_pack_true(&p);
}

int buddy_buddies_make_addrs(msgpack_sbuffer *out, int64_t now, const uint8_t pk[32],
			     const struct buddy_addr *addrs, size_t naddrs)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_BUDDY_ADDRS, now, 2));
	PK(kv_bin(&p, "pk", pk, 32));
	PK(buddy_mp_pack_cstr(&p, "addrs"));
	return buddy_addrs_pack(&p, addrs, naddrs);
}

int buddy_buddies_make_invite(msgpack_sbuffer *out, int64_t now, const uint8_t id[8],
			      const uint8_t secret[16], int64_t expires, const char *name)
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_INVITE_ADD, now, 4));
	PK(kv_bin(&p, "id", id, 8));
	PK(kv_bin(&p, "secret", secret, 16));
	PK(buddy_mp_pack_cstr(&p, "expires"));
	PK(msgpack_pack_int64(&p, expires));
	return kv_str(&p, "name", name);
}

int buddy_buddies_make_invite_used(msgpack_sbuffer *out, int64_t now, const uint8_t id[8])
{
	msgpack_packer p;

	PK(buddy_mp_record_head(&p, out, BUDDY_REC_INVITE_USED, now, 1));
	return kv_bin(&p, "id", id, 8);
}
