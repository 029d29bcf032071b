/* LAN discovery (see buddy/discovery.h and proto/PROTOCOL.md section 16).
 *
 * Beacons: every round (right after the transport starts, after a new pairing, then every
 * interval x [0.75, 1.25]) one 64-byte datagram per active buddy, padded with dummies to a
 * multiple of 4 and shuffled, to 239.255.77.77 and ff02::6275:6464 on each multicast-capable,
 * up, non-loopback, non-point-to-point interface (TTL / hop limit 1), from a pinned source
 * address (IP_PKTINFO / IPV6_PKTINFO), which each beacon's tag binds: IPv4 from the
 * interface's first address (transport on the wildcard) or from each address the transport
 * listens on, with that address's port; IPv6 from the link-local address (transport on [::]).
 *
 * Listening: one UDP socket per family on the beacon port (SO_REUSEADDR: every buddyd of the
 * machine gets every beacon; IPv4 bound to the group address), joined to the group on each
 * such interface while there is an active buddy; interfaces are looked at again, and a socket
 * that could not be bound is tried again, every round. A datagram from off the link is
 * dropped first; then at most BUDDY_DISC_RX_PER_S (plus twice our own round) a second are
 * read: past that, reading stops until the second is over (the kernel drops the rest). A
 * datagram is looked at only when it has exactly the beacon's size and version.
 *
 * Keys: the pair keys, my X25519 key and the dummy seed live in sodium_malloc memory and are
 * freed (wiped) by buddyd_discovery_stop, which pairing.c calls when the transport stops (on
 * lock, reload and exit); a revoked buddy's key goes at the next refresh (right after the
 * revocation). The module is freed by the last close callback. */
#include "buddy/discovery.h"
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/daemon.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define PAIR_DOMAIN   "buddy lan v1"	   /* 12 bytes */
#define BEACON_DOMAIN "beacon"		   /* 6 bytes */
#define ADDR_DOMAIN   "beacon addr"	   /* 11 bytes */
#define DUMMY_DOMAIN  "dummy"		   /* 5 bytes */
#define SEED_DOMAIN   "buddy lan dummy v1" /* 18 bytes: this daemon's dummy seed */
#define NEVER	      UINT64_MAX

/* ---- the format ---- */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t buddy_disc_window(int64_t unix_time)
{
	return unix_time < 0 ? 0 : (uint64_t)unix_time / BUDDY_DISC_WINDOW_S;
}

int buddy_disc_pair_key(const uint8_t my_xsk[32], const uint8_t my_pk[32],
			const uint8_t their_pk[32], uint8_t key[BUDDY_DISC_KEY_BYTES])
{
	uint8_t their_x[32], shared[32];
	crypto_generichash_state st;
	const uint8_t *lo = my_pk, *hi = their_pk;
	int rc = BUDDY_E_INVALID;

	memset(key, 0, BUDDY_DISC_KEY_BYTES);
	if (crypto_sign_ed25519_pk_to_curve25519(their_x, their_pk) != 0 ||
	    crypto_scalarmult(shared, my_xsk, their_x) != 0)
		goto out;
	if (memcmp(my_pk, their_pk, 32) > 0) {
		lo = their_pk;
		hi = my_pk;
	}
	crypto_generichash_init(&st, shared, sizeof(shared), BUDDY_DISC_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)PAIR_DOMAIN, strlen(PAIR_DOMAIN));
	crypto_generichash_update(&st, lo, 32);
	crypto_generichash_update(&st, hi, 32);
	crypto_generichash_final(&st, key, BUDDY_DISC_KEY_BYTES);
	rc = 0;
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(&st, sizeof(st));
	return rc;
}

void buddy_disc_token(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		      const uint8_t sender_pk[32], uint8_t token[BUDDY_DISC_TOKEN_BYTES],
		      uint8_t mask[2][2])
{
	uint8_t msg[6 + 8 + 32], h[32];

	memcpy(msg, BEACON_DOMAIN, 6);
	put64(msg + 6, w);
	memcpy(msg + 14, sender_pk, 32);
	crypto_generichash(h, sizeof(h), msg, sizeof(msg), key, BUDDY_DISC_KEY_BYTES);
	memcpy(token, h, BUDDY_DISC_TOKEN_BYTES);
	memcpy(mask[0], h + 16, 2); /* IPv4 */
	memcpy(mask[1], h + 18, 2); /* IPv6 */
	sodium_memzero(h, sizeof(h));
}

static size_t addr_len(int family)
{
	return family == BUDDY_DISC_FAM4 ? 4 : 16;
}

void buddy_disc_tag(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		    const uint8_t sender_pk[32], int family, const uint8_t *addr, uint16_t port,
		    const uint8_t pad[BUDDY_DISC_PAD_BYTES], uint8_t tag[BUDDY_DISC_TAG_BYTES])
{
	crypto_generichash_state st;
	uint8_t w8[8], fp[3];

	put64(w8, w);
	fp[0] = (uint8_t)family;
	fp[1] = (uint8_t)(port >> 8);
	fp[2] = (uint8_t)port;
	crypto_generichash_init(&st, key, BUDDY_DISC_KEY_BYTES, BUDDY_DISC_TAG_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)ADDR_DOMAIN, strlen(ADDR_DOMAIN));
	crypto_generichash_update(&st, w8, sizeof(w8));
	crypto_generichash_update(&st, sender_pk, 32);
	crypto_generichash_update(&st, fp, 1);
	crypto_generichash_update(&st, addr, addr_len(family));
	crypto_generichash_update(&st, fp + 1, 2);
	crypto_generichash_update(&st, pad, BUDDY_DISC_PAD_BYTES);
	crypto_generichash_final(&st, tag, BUDDY_DISC_TAG_BYTES);
	sodium_memzero(&st, sizeof(st));
}

void buddy_disc_beacon(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		       const uint8_t sender_pk[32], int family, const uint8_t *addr, uint16_t port,
		       const uint8_t *pad, uint8_t out[BUDDY_DISC_BEACON_BYTES])
{
	uint8_t mask[2][2];
	int f = family == BUDDY_DISC_FAM4 ? 0 : 1;

	out[0] = BUDDY_DISC_VERSION;
	buddy_disc_token(key, w, sender_pk, out + 1, mask);
	out[17] = (uint8_t)(port >> 8) ^ mask[f][0];
	out[18] = (uint8_t)port ^ mask[f][1];
	if (pad)
		memcpy(out + BUDDY_DISC_PAD_AT, pad, BUDDY_DISC_PAD_BYTES);
	else
		randombytes_buf(out + BUDDY_DISC_PAD_AT, BUDDY_DISC_PAD_BYTES);
	buddy_disc_tag(key, w, sender_pk, family, addr, port, out + BUDDY_DISC_PAD_AT,
		       out + BUDDY_DISC_TAG_AT);
	sodium_memzero(mask, sizeof(mask));
}

void buddy_disc_dummy(const uint8_t seed[32], uint64_t w, uint32_t i, int family, uint16_t port,
		      const uint8_t *rest, uint8_t out[BUDDY_DISC_BEACON_BYTES])
{
	uint8_t msg[5 + 8 + 4], h[32];

	memcpy(msg, DUMMY_DOMAIN, 5);
	put64(msg + 5, w);
	msg[13] = (uint8_t)(i >> 24);
	msg[14] = (uint8_t)(i >> 16);
	msg[15] = (uint8_t)(i >> 8);
	msg[16] = (uint8_t)i;
	crypto_generichash(h, sizeof(h), msg, sizeof(msg), seed, 32);
	out[0] = BUDDY_DISC_VERSION;
	memcpy(out + 1, h, 16);
	/* XOR the announced port, as a real beacon's field is: from two addresses announcing two
	 * ports, a dummy's field differs exactly as a real one's does, so it cannot be told apart
	 */
	memcpy(out + 17, h + (family == BUDDY_DISC_FAM4 ? 16 : 18), 2);
	out[17] ^= (uint8_t)(port >> 8);
	out[18] ^= (uint8_t)port;
	if (rest)
		memcpy(out + BUDDY_DISC_TAG_AT, rest, BUDDY_DISC_BEACON_BYTES - BUDDY_DISC_TAG_AT);
	else
		randombytes_buf(out + BUDDY_DISC_TAG_AT,
				BUDDY_DISC_BEACON_BYTES - BUDDY_DISC_TAG_AT);
	sodium_memzero(h, sizeof(h));
}

void buddy_disc_expect(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		       const uint8_t buddy_pk[32], struct buddy_disc_expect *e)
{
	e->w = w;
	for (int k = 0; k < 3; k++)
		buddy_disc_token(key, w - 1 + (uint64_t)k, buddy_pk, e->token[k], e->mask[k]);
}

bool buddy_disc_shape(const uint8_t *dgram, size_t len)
{
	return dgram && len == BUDDY_DISC_BEACON_BYTES && dgram[0] == BUDDY_DISC_VERSION;
}

bool buddy_disc_match(const uint8_t *dgram, size_t len, const uint8_t key[BUDDY_DISC_KEY_BYTES],
		      const uint8_t buddy_pk[32], const struct buddy_disc_expect *e, int family,
		      const uint8_t *addr, uint16_t *port)
{
	uint8_t tag[BUDDY_DISC_TAG_BYTES];
	int which = -1, f = family == BUDDY_DISC_FAM4 ? 0 : 1;
	bool ok;
	uint16_t p;

	if (!buddy_disc_shape(dgram, len) || !e || !key || !buddy_pk || !addr ||
	    (family != BUDDY_DISC_FAM4 && family != BUDDY_DISC_FAM6))
		return false;
	/* all three compared, each in constant time */
	for (int k = 0; k < 3; k++)
		if (sodium_memcmp(dgram + 1, e->token[k], BUDDY_DISC_TOKEN_BYTES) == 0)
			which = k;
	if (which < 0)
		return false;
	p = (uint16_t)((dgram[17] ^ e->mask[which][f][0]) << 8 |
		       (dgram[18] ^ e->mask[which][f][1]));
	if (p == 0)
		return false;
	/* sent from this address: a replay from anywhere else is not the buddy's beacon */
	buddy_disc_tag(key, e->w - 1 + (uint64_t)which, buddy_pk, family, addr, p,
		       dgram + BUDDY_DISC_PAD_AT, tag);
	ok = sodium_memcmp(tag, dgram + BUDDY_DISC_TAG_AT, BUDDY_DISC_TAG_BYTES) == 0;
	sodium_memzero(tag, sizeof(tag));
	if (!ok)
		return false;
	if (port)
		*port = p;
	return true;
}

/* ---- the daemon's side ---- */

struct pair { /* an element of a sodium_malloc array: it holds the pair key */
	uint8_t pk[32];
	uint8_t key[BUDDY_DISC_KEY_BYTES];
	struct buddy_disc_expect ex;
	uint64_t dialled_w; /* the window of the last dial a beacon caused; NEVER: none */
	bool seen;	    /* marked while the buddies are synced */
};

struct iface { /* up, multicast, not loopback, not point-to-point */
	unsigned index;
	char name[IF_NAMESIZE];
	bool v4;		 /* has an IPv4 address */
	bool ll;		 /* has an IPv6 link-local address: */
	struct in6_addr ll_addr; /* the one IPv6 beacons leave from */
	bool joined4, joined6;
};

struct addr4 { /* an IPv4 address of one of those interfaces */
	unsigned index;
	struct in_addr a, mask;
	uint16_t port; /* announced by beacons from this address; 0: none */
};

struct listen4 {
	struct in_addr a;
	uint16_t port;
};

struct buddyd_discovery {
	struct buddyd *d;
	uv_loop_t *loop;
	uv_udp_t udp[2]; /* [0] IPv4, [1] IPv6 */
	bool udp_open[2];
	bool udp_failed[2]; /* the last attempt to open it failed (logged once) */
	uv_timer_t round, rx_resume;
	int open; /* handles not yet closed */
	bool stopped;
	uint16_t port;
	uint32_t interval_ms;
	uint16_t tcp_any4, tcp_any6;		   /* the transport's wildcard ports; 0: none */
	struct listen4 tcp4[BUDDY_PEER_ADDRS_MAX]; /* its specific IPv4 addresses */
	size_t ntcp4;
	struct iface *ifs; /* dynamic */
	size_t nifs;
	struct addr4 *a4; /* dynamic */
	size_t na4;
	struct pair *pairs; /* sodium_malloc */
	size_t npairs, cap;
	uint64_t expect_w; /* the window pairs[].ex was computed for */
	uint8_t *secret;   /* sodium_malloc: my X25519 key (32), the dummy seed (32) */
	uint64_t rx_start; /* uv_now() when this second of reading began */
	unsigned rx_count;
	uint64_t rx_dropped;
	size_t last_sent; /* datagrams of our last round: they loop back to us */
	uint8_t rxbuf[BUDDY_DISC_BEACON_BYTES + 1]; /* one more: a longer datagram shows as such */
};

static const char *short_id(const uint8_t *pk, char out[9])
{
	return sodium_bin2hex(out, 9, pk, 4);
}

static bool usable(const struct buddyd_discovery *x)
{
	const struct buddyd *d = x->d;

	return !x->stopped && d->state == BUDDYD_UNLOCKED && d->journal && d->peer && d->secrets;
}

/* ms within +-25% */
static uint32_t jitter(uint32_t ms)
{
	return ms - ms / 4 + randombytes_uniform(ms / 2 + 1);
}

static void on_closed(uv_handle_t *h)
{
	struct buddyd_discovery *x = h->data;

	if (--x->open == 0) {
		free(x->ifs);
		free(x->a4);
		free(x);
	}
}

static struct pair *pair_find(struct buddyd_discovery *x, const uint8_t pk[32])
{
	for (size_t i = 0; i < x->npairs; i++)
		if (memcmp(x->pairs[i].pk, pk, 32) == 0)
			return &x->pairs[i];
	return NULL;
}

static int pairs_reserve(struct buddyd_discovery *x)
{
	size_t cap = x->cap ? x->cap * 2 : 8;
	struct pair *np;

	if (x->npairs < x->cap)
		return 0;
	np = sodium_malloc(cap * sizeof(*np));
	if (!np)
		return BUDDY_E_NOMEM;
	if (x->npairs)
		memcpy(np, x->pairs, x->npairs * sizeof(*np));
	sodium_free(x->pairs); /* wipes */
	x->pairs = np;
	x->cap = cap;
	return 0;
}

/* The pairs follow the journal's active buddies: keys derived for new ones, dropped (wiped)
 * for those revoked. True when one was added. */
static bool sync_pairs(struct buddyd_discovery *x)
{
	struct buddy_buddies *bs = buddy_journal_buddies(x->d->journal);
	const uint8_t *my_pk = x->d->secrets->sign_pk;
	bool added = false;
	size_t i, k = 0;

	for (i = 0; i < x->npairs; i++)
		x->pairs[i].seen = false;
	for (i = 0; i < buddy_buddies_count(bs); i++) {
		const struct buddy_buddy *b = buddy_buddies_at(bs, i);
		struct pair *p;
		char id[9];

		if (b->revoked)
			continue;
		/* The pairs were made in the buddies' order, and stay in it until a revocation
		 * moves one: try the next pair in that order before a search. A search for every
		 * buddy made this N*N/2 compares, on every session up (pairing.c): ~300 us of the
		 * ~480 us a handshake cost buddyd with 1,000 buddies and discovery on (bench_peer
		 * with buddyd on 0.0.0.0; 270 us on loopback, where discovery is off). */
		if (k < x->npairs && memcmp(x->pairs[k].pk, b->pk, 32) == 0)
			p = &x->pairs[k];
		else
			p = pair_find(x, b->pk);
		if (p) {
			p->seen = true;
			k = (size_t)(p - x->pairs) + 1;
			continue;
		}
		/* out of memory: this buddy waits for the next round; go on, so the pairs of the
		 * buddies after it are still marked seen and their keys kept */
		if (pairs_reserve(x))
			continue;
		p = &x->pairs[x->npairs];
		if (buddy_disc_pair_key(x->secret, my_pk, b->pk, p->key)) {
			log_debug("buddy %s: no LAN beacon key (not a usable key)",
				  short_id(b->pk, id));
			continue;
		}
		memcpy(p->pk, b->pk, 32);
		buddy_disc_expect(p->key, x->expect_w, p->pk, &p->ex);
		p->dialled_w = NEVER;
		p->seen = true;
		x->npairs++;
		added = true;
	}
	for (i = 0; i < x->npairs;) {
		if (x->pairs[i].seen) {
			i++;
			continue;
		}
		x->pairs[i] = x->pairs[x->npairs - 1];
		sodium_memzero(&x->pairs[x->npairs - 1], sizeof(x->pairs[0]));
		x->npairs--;
	}
	return added;
}

static void expect_window(struct buddyd_discovery *x, uint64_t w)
{
	if (w == x->expect_w)
		return;
	x->expect_w = w;
	for (size_t i = 0; i < x->npairs; i++)
		buddy_disc_expect(x->pairs[i].key, w, x->pairs[i].pk, &x->pairs[i].ex);
}

/* ---- interfaces and groups ---- */

static int udp_fd(const struct buddyd_discovery *x, int fam)
{
	uv_os_fd_t fd;

	if (!x->udp_open[fam] || uv_fileno((const uv_handle_t *)&x->udp[fam], &fd))
		return -1;
	return fd;
}

/* Joins (or leaves) the group of a family on one interface. True when it is a member after
 * a join, or no longer one after a leave. */
static bool membership(struct buddyd_discovery *x, int fam, const struct iface *f, bool join)
{
	int fd = udp_fd(x, fam), rc;

	if (fd < 0)
		return !join;
	if (fam == 0) {
		struct ip_mreqn m;

		memset(&m, 0, sizeof(m));
		inet_pton(AF_INET, BUDDY_DISC_GROUP4, &m.imr_multiaddr);
		m.imr_ifindex = (int)f->index;
		rc = setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m,
				sizeof(m));
	} else {
		struct ipv6_mreq m;

		memset(&m, 0, sizeof(m));
		inet_pton(AF_INET6, BUDDY_DISC_GROUP6, &m.ipv6mr_multiaddr);
		m.ipv6mr_interface = f->index;
		rc = setsockopt(fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m,
				sizeof(m));
	}
	if (rc && join && errno != EADDRINUSE) {
		log_debug("LAN discovery: cannot join %s on %s: %s",
			  fam ? BUDDY_DISC_GROUP6 : BUDDY_DISC_GROUP4, f->name, strerror(errno));
		return false;
	}
	return true;
}

static struct iface *iface_slot(struct iface **ifs, size_t *n, size_t *cap, unsigned index,
				const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if ((*ifs)[i].index == index)
			return &(*ifs)[i];
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct iface *ni = realloc(*ifs, nc * sizeof(*ni));

		if (!ni)
			return NULL;
		*ifs = ni;
		*cap = nc;
	}
	memset(&(*ifs)[*n], 0, sizeof(**ifs));
	(*ifs)[*n].index = index;
	snprintf((*ifs)[*n].name, sizeof((*ifs)[0].name), "%s", name);
	return &(*ifs)[(*n)++];
}

static struct addr4 *addr4_add(struct addr4 **a4, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct addr4 *na = realloc(*a4, nc * sizeof(*na));

		if (!na)
			return NULL;
		*a4 = na;
		*cap = nc;
	}
	memset(&(*a4)[*n], 0, sizeof(**a4));
	return &(*a4)[(*n)++];
}

/* The TCP port beacons from this IPv4 address announce: the wildcard's, only from the first
 * address of an interface; or the port of this very address when the transport listens on it
 * (each such address is beaconed). */
static uint16_t port4_of(const struct buddyd_discovery *x, const struct in_addr *a, bool first)
{
	if (x->tcp_any4)
		return first ? x->tcp_any4 : 0;
	for (size_t i = 0; i < x->ntcp4; i++)
		if (x->tcp4[i].a.s_addr == a->s_addr)
			return x->tcp4[i].port;
	return 0;
}

static bool wanted(unsigned flags)
{
	return (flags & IFF_UP) && (flags & IFF_MULTICAST) && !(flags & IFF_LOOPBACK) &&
	       !(flags & IFF_POINTOPOINT); /* a tunnel would carry beacons off the link */
}

/* Leaves every group (no active buddy: the membership reports would say "an unlocked buddyd
 * here"; or at stop). */
static void leave_all(struct buddyd_discovery *x)
{
	for (size_t i = 0; i < x->nifs; i++) {
		struct iface *f = &x->ifs[i];

		if (f->joined4 && membership(x, 0, f, false))
			f->joined4 = false;
		if (f->joined6 && membership(x, 1, f, false))
			f->joined6 = false;
	}
}

/* The interfaces (up, multicast, not loopback, not point-to-point) with their addresses; the
 * groups joined on those new since the last look, when there is an active buddy. */
static void scan_ifaces(struct buddyd_discovery *x)
{
	struct iface *now = NULL;
	struct addr4 *a4 = NULL;
	size_t n = 0, cap = 0, na4 = 0, cap4 = 0;
	struct ifaddrs *all, *a;

	if (getifaddrs(&all))
		return;
	for (a = all; a; a = a->ifa_next) {
		unsigned index;
		struct iface *f;

		if (!a->ifa_addr || !a->ifa_name || !wanted(a->ifa_flags) ||
		    (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
			continue;
		index = if_nametoindex(a->ifa_name);
		if (!index || !(f = iface_slot(&now, &n, &cap, index, a->ifa_name)))
			continue;
		if (a->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a->ifa_addr;

			if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) && !f->ll) {
				f->ll = true;
				f->ll_addr = s6->sin6_addr;
			}
		} else if (a->ifa_netmask) {
			struct addr4 *r = addr4_add(&a4, &na4, &cap4);

			if (!r)
				continue;
			r->index = index;
			r->a = ((const struct sockaddr_in *)a->ifa_addr)->sin_addr;
			r->mask = ((const struct sockaddr_in *)a->ifa_netmask)->sin_addr;
			r->port = port4_of(x, &r->a, !f->v4);
			f->v4 = true;
		}
	}
	freeifaddrs(all);
	/* memberships carried over; those of interfaces gone are left (if still possible) */
	for (size_t k = 0; k < x->nifs; k++) {
		struct iface *old = &x->ifs[k];
		bool found = false;

		for (size_t i = 0; i < n; i++) {
			if (now[i].index == old->index) {
				now[i].joined4 = old->joined4;
				now[i].joined6 = old->joined6;
				found = true;
			}
		}
		if (!found) {
			if (old->joined4)
				membership(x, 0, old, false);
			if (old->joined6)
				membership(x, 1, old, false);
		}
	}
	free(x->ifs);
	free(x->a4);
	x->ifs = now;
	x->nifs = n;
	x->a4 = a4;
	x->na4 = na4;
	if (x->npairs == 0) {
		leave_all(x);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct iface *f = &now[i];

		if (f->v4 && !f->joined4)
			f->joined4 = membership(x, 0, f, true);
		if (f->ll && !f->joined6)
			f->joined6 = membership(x, 1, f, true);
	}
}

/* ---- beacons out ---- */

/* One datagram to the group on interface index, from the source address src (pinned with
 * IP_PKTINFO / IPV6_PKTINFO: the address the beacon's tag binds is the one the kernel uses). */
static bool send_one(struct buddyd_discovery *x, int fam, unsigned index, const void *src,
		     const uint8_t *dg)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_storage ss;
	struct iovec iov = {.iov_base = (void *)dg, .iov_len = BUDDY_DISC_BEACON_BYTES};
	struct msghdr m;
	struct cmsghdr *c;
	int fd = udp_fd(x, fam);

	if (fd < 0)
		return false;
	memset(&ctl, 0, sizeof(ctl));
	memset(&m, 0, sizeof(m));
	m.msg_name = &ss;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl.buf;
	if (fam == 0) {
		struct in_pktinfo pi;

		uv_ip4_addr(BUDDY_DISC_GROUP4, x->port, (struct sockaddr_in *)&ss);
		m.msg_namelen = sizeof(struct sockaddr_in);
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		memset(&pi, 0, sizeof(pi));
		pi.ipi_ifindex = (int)index;
		memcpy(&pi.ipi_spec_dst, src, 4);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi;

		uv_ip6_addr(BUDDY_DISC_GROUP6, x->port, (struct sockaddr_in6 *)&ss);
		((struct sockaddr_in6 *)&ss)->sin6_scope_id = index;
		m.msg_namelen = sizeof(struct sockaddr_in6);
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		memset(&pi, 0, sizeof(pi));
		pi.ipi6_ifindex = index;
		memcpy(&pi.ipi6_addr, src, 16);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	return sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) == BUDDY_DISC_BEACON_BYTES;
}

/* The whole round, in the same shuffled order, from one source address. */
static void send_from(struct buddyd_discovery *x, int fam, unsigned index, const void *src,
		      uint16_t port, uint64_t w, const uint32_t *order, size_t total, size_t *sent,
		      size_t *failed)
{
	const uint8_t *my_pk = x->d->secrets->sign_pk;
	int family = fam == 0 ? BUDDY_DISC_FAM4 : BUDDY_DISC_FAM6;
	uint8_t dg[BUDDY_DISC_BEACON_BYTES];

	for (size_t i = 0; i < total; i++) {
		if (order[i] < x->npairs)
			buddy_disc_beacon(x->pairs[order[i]].key, w, my_pk, family, src, port, NULL,
					  dg);
		else
			buddy_disc_dummy(x->secret + 32, w, order[i] - (uint32_t)x->npairs, family,
					 port, NULL, dg);
		if (send_one(x, fam, index, src, dg))
			(*sent)++;
		else
			(*failed)++;
	}
	sodium_memzero(dg, sizeof(dg));
}

static void send_round(struct buddyd_discovery *x)
{
	uint64_t w = buddy_disc_window(buddy_clock_now());
	size_t total, sent = 0, failed = 0;
	uint32_t *order;

	x->last_sent = 0;
	if (x->npairs == 0)
		return; /* no active buddy: nothing to say, and no one to say it to */
	total = (x->npairs + BUDDY_DISC_BUCKET - 1) / BUDDY_DISC_BUCKET * BUDDY_DISC_BUCKET;
	order = malloc(total * sizeof(*order));
	if (!order)
		return;
	for (size_t i = 0; i < total; i++)
		order[i] = (uint32_t)i;
	for (size_t i = total - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j = randombytes_uniform((uint32_t)i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t k = 0; x->udp_open[0] && k < x->na4; k++) {
		const struct addr4 *r = &x->a4[k];
		const struct iface *f = NULL;

		for (size_t i = 0; i < x->nifs && !f; i++)
			if (x->ifs[i].index == r->index)
				f = &x->ifs[i];
		if (r->port && f && f->joined4)
			send_from(x, 0, r->index, &r->a, r->port, w, order, total, &sent, &failed);
	}
	for (size_t k = 0; x->udp_open[1] && x->tcp_any6 && k < x->nifs; k++) {
		const struct iface *f = &x->ifs[k];

		if (f->ll && f->joined6)
			send_from(x, 1, f->index, &f->ll_addr, x->tcp_any6, w, order, total, &sent,
				  &failed);
	}
	free(order);
	x->last_sent = sent;
	log_debug("LAN beacons: %zu sent (%zu per source address), %zu failed, window %llu", sent,
		  total, failed, (unsigned long long)w);
}

static bool open_udp(struct buddyd_discovery *x, int fam);

static void on_round(uv_timer_t *t)
{
	struct buddyd_discovery *x = t->data;

	if (!usable(x))
		return;
	for (int fam = 0; fam < 2; fam++)
		if (!x->udp_open[fam])
			open_udp(x, fam); /* the port may be free now */
	sync_pairs(x);
	scan_ifaces(x);
	expect_window(x, buddy_disc_window(buddy_clock_now()));
	send_round(x);
	uv_timer_start(&x->round, on_round, jitter(x->interval_ms), 0);
}

/* ---- beacons in ---- */

/* The datagram comes from this link: IPv6, a link-local source whose scope is an interface
 * joined to the group; IPv4 (whose socket is bound to the group address, so that only
 * datagrams sent to the group arrive), a source inside a connected subnet of an interface
 * joined to the group. Anything else is dropped before it costs anything. */
static bool on_link(const struct buddyd_discovery *x, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (!IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) || !s6->sin6_scope_id)
			return false;
		for (size_t i = 0; i < x->nifs; i++)
			if (x->ifs[i].index == s6->sin6_scope_id && x->ifs[i].joined6)
				return true;
		return false;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		uint32_t ip = s4->sin_addr.s_addr;

		for (size_t k = 0; k < x->na4; k++) {
			const struct addr4 *r = &x->a4[k];

			if ((ip & r->mask.s_addr) != (r->a.s_addr & r->mask.s_addr))
				continue;
			for (size_t i = 0; i < x->nifs; i++)
				if (x->ifs[i].index == r->index && x->ifs[i].joined4)
					return true;
		}
	}
	return false;
}

/* The beacon's source address with the port it announced: where to dial. An IPv6 link-local
 * source keeps its interface as a zone ("fe80::1%eth0"), which the dial needs. */
static int candidate(const struct sockaddr *sa, uint16_t port, struct buddy_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		uint32_t ip = ntohl(s4->sin_addr.s_addr);

		if (ip == INADDR_ANY || ip == INADDR_BROADCAST || IN_MULTICAST(ip))
			return BUDDY_E_INVALID;
		return uv_ip4_name(s4, a->host, sizeof(a->host)) ? BUDDY_E_INVALID : 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		char ifname[IF_NAMESIZE];
		size_t len;

		if (!IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
			return BUDDY_E_INVALID;
		if (uv_ip6_name(s6, a->host, sizeof(a->host)))
			return BUDDY_E_INVALID;
		len = strlen(a->host);
		if (!s6->sin6_scope_id || !if_indextoname(s6->sin6_scope_id, ifname) ||
		    len + 1 + strlen(ifname) >= sizeof(a->host))
			return BUDDY_E_INVALID;
		snprintf(a->host + len, sizeof(a->host) - len, "%%%s", ifname);
		return 0;
	}
	return BUDDY_E_INVALID;
}

static void beacon_in(struct buddyd_discovery *x, const uint8_t *dg, size_t len,
		      const struct sockaddr *from)
{
	struct buddyd *d = x->d;
	uint64_t w = buddy_disc_window(buddy_clock_now());
	const struct buddy_buddy *b;
	const uint8_t *src;
	struct buddy_addr a;
	struct pair *p = NULL;
	uint8_t pk[32];
	uint16_t port = 0;
	int family;
	char id[9];
	int rc;

	if (from->sa_family == AF_INET) {
		family = BUDDY_DISC_FAM4;
		src = (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr;
	} else {
		family = BUDDY_DISC_FAM6;
		src = (const uint8_t *)&((const struct sockaddr_in6 *)from)->sin6_addr;
	}
	expect_window(x, w);
	for (size_t i = 0; i < x->npairs && !p; i++)
		if (buddy_disc_match(dg, len, x->pairs[i].key, x->pairs[i].pk, &x->pairs[i].ex,
				     family, src, &port))
			p = &x->pairs[i];
	if (!p)
		return; /* a stranger's beacon, a dummy, a replay from elsewhere, or noise */
	memcpy(pk, p->pk, sizeof(pk));
	short_id(pk, id);
	b = buddy_buddies_by_pk(buddy_journal_buddies(d->journal), pk);
	if (!b || b->revoked || buddy_peer_online(d->peer, pk))
		return;
	if (p->dialled_w == w)
		return; /* once per window and buddy */
	if (candidate(from, port, &a)) {
		log_debug("buddy %s: a beacon from an address that cannot be dialled", id);
		return;
	}
	rc = buddy_peer_discovered(d->peer, pk, &a);
	if (rc == BUDDY_E_BUSY || rc == BUDDY_E_EXISTS)
		return; /* a dial is under way: the next beacon may still be needed */
	p->dialled_w = w;
	if (rc == 0)
		log_info("buddy %s found on the LAN at %s port %u: dialling", id, a.host, a.port);
	else
		log_debug("buddy %s found on the LAN at %s port %u: cannot dial (%s)", id, a.host,
			  a.port, buddy_strerror(rc));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct buddyd_discovery *x = h->data;

	(void)suggested;
	*b = uv_buf_init((char *)x->rxbuf, sizeof(x->rxbuf));
}

static void on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
		    unsigned flags);

static void start_reading(struct buddyd_discovery *x, int fam)
{
	int rc = uv_udp_recv_start(&x->udp[fam], on_alloc, on_recv);

	if (rc)
		log_warn("LAN discovery: cannot read beacons: %s", uv_strerror(rc));
}

static void on_rx_resume(uv_timer_t *t)
{
	struct buddyd_discovery *x = t->data;

	if (x->stopped)
		return;
	if (x->rx_dropped)
		log_debug("LAN discovery: more than %zu datagrams a second: reading paused",
			  (size_t)BUDDY_DISC_RX_PER_S + 2 * x->last_sent);
	x->rx_dropped = 0;
	x->rx_start = uv_now(x->loop);
	x->rx_count = 0;
	for (int fam = 0; fam < 2; fam++)
		if (x->udp_open[fam])
			start_reading(x, fam);
}

/* Counts a datagram against this second's budget (BUDDY_DISC_RX_PER_S, plus twice our own
 * last round, which loops back to us); past it, reading stops until the second ends: a flood
 * costs a timer, not a lookup per datagram. */
static bool over_budget(struct buddyd_discovery *x)
{
	uint64_t now = uv_now(x->loop);

	if (now - x->rx_start >= 1000) {
		x->rx_start = now;
		x->rx_count = 0;
	}
	if (++x->rx_count <= BUDDY_DISC_RX_PER_S + 2 * x->last_sent)
		return false;
	x->rx_dropped++;
	for (int fam = 0; fam < 2; fam++)
		if (x->udp_open[fam])
			uv_udp_recv_stop(&x->udp[fam]);
	uv_timer_start(&x->rx_resume, on_rx_resume, 1000 - (now - x->rx_start), 0);
	return true;
}

static void on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
		    unsigned flags)
{
	struct buddyd_discovery *x = u->data;

	if (nread < 0 || !from || x->stopped) /* nread 0 and no address: nothing more to read */
		return;
	if (!on_link(x, from)) /* before the budget: off-link datagrams cost nothing */
		return;
	if (over_budget(x))
		return;
	if ((flags & UV_UDP_PARTIAL) ||
	    !buddy_disc_shape((const uint8_t *)buf->base, (size_t)nread))
		return;
	if (!usable(x))
		return;
	beacon_in(x, (const uint8_t *)buf->base, (size_t)nread, from);
}

/* ---- start and stop ---- */

/* The socket of a family: IPv4 bound to the group address (only datagrams sent to the group
 * arrive), IPv6 to [::] (the link-local source is checked instead); SO_REUSEADDR: every
 * buddyd of the machine gets every beacon. The bind is tried again every round while it
 * fails (another program may hold the port). */
static bool open_udp(struct buddyd_discovery *x, int fam)
{
	struct sockaddr_storage ss;
	uv_udp_t *u = &x->udp[fam];
	const char *name = fam ? "IPv6" : "IPv4";
	int fd, one = 1, rc = 0;

	memset(&ss, 0, sizeof(ss));
	if (fam == 0)
		uv_ip4_addr(BUDDY_DISC_GROUP4, x->port, (struct sockaddr_in *)&ss);
	else
		uv_ip6_addr("::", x->port, (struct sockaddr_in6 *)&ss);
	fd = socket(fam ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* TTL / hop limit 1 and loopback (another buddyd of this machine hears us) set here:
	 * libuv does not know the family of a socket handed to uv_udp_open, and its setters
	 * would set the IPv4 options on an IPv6 socket */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (fam && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    (fam ? setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &one, sizeof(one)) ||
			     setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one))
		 : setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof(one)) ||
			     setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)&ss,
		 fam ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)))
		rc = uv_translate_sys_error(errno);
	if (rc) {
		if (fd >= 0)
			close(fd);
		if (!x->udp_failed[fam])
			log_warn("LAN discovery: no %s socket on UDP port %u (%s): trying again "
				 "every round",
				 name, x->port, uv_strerror(rc));
		x->udp_failed[fam] = true;
		return false;
	}
	uv_udp_init(x->loop, u);
	u->data = x;
	x->open++;
	rc = uv_udp_open(u, fd);
	if (rc) {
		log_warn("LAN discovery: no %s socket on UDP port %u: %s", name, x->port,
			 uv_strerror(rc));
		/* libuv did not take the descriptor: ours to close (once it has, uv_close does) */
		close(fd);
		uv_close((uv_handle_t *)u, on_closed);
		x->udp_failed[fam] = true;
		return false;
	}
	if (x->udp_failed[fam])
		log_info("LAN discovery: %s socket on UDP port %u open now", name, x->port);
	x->udp_failed[fam] = false;
	x->udp_open[fam] = true;
	start_reading(x, fam);
	return true;
}

static bool loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "::1") ||
	       !strncmp(host, "::ffff:127.", 11);
}

/* What the beacons announce: the port the transport listens on, per family (its wildcard) or
 * per specific IPv4 address (beaconed from that address only). False when it listens on
 * loopback addresses only: such a daemon is not on any network. */
static bool listen_ports(struct buddyd_discovery *x)
{
	struct buddy_addr bound[BUDDY_PEER_ADDRS_MAX];
	size_t n = buddy_peer_bound(x->d->peer, bound, BUDDY_PEER_ADDRS_MAX);
	bool outside = false;

	for (size_t i = 0; i < n; i++) {
		struct in_addr a;

		outside |= !loopback(bound[i].host);
		if (!strcmp(bound[i].host, "::"))
			x->tcp_any6 = bound[i].port;
		else if (!strcmp(bound[i].host, "0.0.0.0"))
			x->tcp_any4 = bound[i].port;
		else if (inet_pton(AF_INET, bound[i].host, &a) == 1 &&
			 x->ntcp4 < BUDDY_PEER_ADDRS_MAX && !loopback(bound[i].host)) {
			x->tcp4[x->ntcp4].a = a;
			x->tcp4[x->ntcp4++].port = bound[i].port;
		}
	}
	return outside;
}

void buddyd_discovery_stop(struct buddyd *d)
{
	struct buddyd_discovery *x = d->discovery;

	if (!x)
		return;
	d->discovery = NULL;
	leave_all(x);
	x->stopped = true;
	sodium_free(x->pairs); /* wipes the pair keys */
	sodium_free(x->secret);
	x->pairs = NULL;
	x->secret = NULL;
	x->npairs = x->cap = 0;
	for (int fam = 0; fam < 2; fam++)
		if (x->udp_open[fam])
			uv_close((uv_handle_t *)&x->udp[fam], on_closed);
	uv_close((uv_handle_t *)&x->round, on_closed);
	uv_close((uv_handle_t *)&x->rx_resume, on_closed);
}

void buddyd_discovery_start(struct buddyd *d)
{
	struct buddyd_discovery *x;
	char v4[64];

	if (d->discovery || !d->peer || !d->secrets || d->stopping)
		return;
	if (!d->config.discovery_enabled) {
		log_info("LAN discovery is off ([discovery] enabled = no)");
		return;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return;
	x->d = d;
	x->loop = d->loop;
	x->port = (uint16_t)d->config.discovery_port;
	x->interval_ms = (uint32_t)(d->config.discovery_interval_s * 1000);
	uv_timer_init(x->loop, &x->round);
	uv_timer_init(x->loop, &x->rx_resume);
	x->round.data = x->rx_resume.data = x;
	x->open = 2;
	d->discovery = x;
	x->secret = sodium_malloc(64);
	if (!x->secret ||
	    crypto_sign_ed25519_sk_to_curve25519(x->secret, d->secrets->sign_sk) != 0) {
		log_error("LAN discovery: cannot derive its keys");
		buddyd_discovery_stop(d);
		return;
	}
	/* the dummies' seed: stable across restarts, so a restart does not single out the real
	 * beacons of a window (they stay, new dummies would not) */
	crypto_generichash(x->secret + 32, 32, (const uint8_t *)SEED_DOMAIN, strlen(SEED_DOMAIN),
			   d->secrets->sign_sk, 32);
	if (!listen_ports(x)) {
		/* tests, and a daemon reached only through --advertise: no multicast at all */
		log_info("LAN discovery is off: buddyd listens on loopback addresses only");
		buddyd_discovery_stop(d);
		return;
	}
	x->rx_start = uv_now(x->loop);
	x->expect_w = buddy_disc_window(buddy_clock_now());
	open_udp(x, 0);
	open_udp(x, 1);
	sync_pairs(x);
	scan_ifaces(x);
	if (x->tcp_any4)
		snprintf(v4, sizeof(v4), "IPv4 (port %u)", x->tcp_any4);
	else if (x->ntcp4)
		snprintf(v4, sizeof(v4), "IPv4 (%zu address%s)", x->ntcp4,
			 x->ntcp4 > 1 ? "es" : "");
	else
		v4[0] = '\0';
	log_info("LAN discovery on UDP port %u: beacons %s%s%s, every %us; sockets IPv4 %s, "
		 "IPv6 %s",
		 x->port, v4, v4[0] && x->tcp_any6 ? " and " : "",
		 x->tcp_any6 ? "IPv6" : (v4[0] ? "" : "none (listening only)"),
		 x->interval_ms / 1000, x->udp_open[0] ? "open" : "not open (retrying)",
		 x->udp_open[1] ? "open" : "not open (retrying)");
	uv_timer_start(&x->round, on_round, 0, 0); /* the first round right after unlock */
}

void buddyd_discovery_refresh(struct buddyd *d)
{
	struct buddyd_discovery *x = d->discovery;
	size_t before;

	if (!x || !usable(x))
		return;
	before = x->npairs;
	if (sync_pairs(x)) {
		uv_timer_start(&x->round, on_round, 0, 0);
	} else if (x->npairs < before && x->npairs == 0) {
		leave_all(x); /* the last buddy revoked: no more group membership */
	}
}
