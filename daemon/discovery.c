/* LAN discovery (see buddy/discovery.h and proto/PROTOCOL.md section 16).
 *
 * Beacons: every round (right after the transport starts, after a new pairing, then every
 * interval x [0.75, 1.25]) one 64-byte datagram per active buddy, padded with dummies to a
 * multiple of 4 and shuffled, to 239.255.77.77 and ff02::6275:6464 on each multicast-capable,
 * up, non-loopback interface (TTL / hop limit 1). A family is beaconed only when the peer
 * transport listens on its wildcard (or, for IPv4, on an address of that interface), with that
 * listen port.
 *
 * Listening: one UDP socket per family on the beacon port (SO_REUSEADDR: every buddyd of the
 * machine gets every beacon), joined to the group on each such interface; interfaces are
 * looked at again every round. At most BUDDY_DISC_RX_PER_S datagrams a second are read: past
 * that, reading stops until the second is over (the kernel drops the rest). A datagram is
 * looked at only when it has exactly the beacon's size and version.
 *
 * Keys: the pair keys, my X25519 key and the dummy seed live in sodium_malloc memory and are
 * freed (wiped) by buddyd_discovery_stop, which pairing.c calls when the transport stops (on
 * lock, reload and exit). The module is freed by the last close callback. */
#include "buddy/discovery.h"
#include "buddy/buddies.h"
#include "buddy/clock.h"
#include "buddy/daemon.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/peer.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define PAIR_DOMAIN   "buddy lan v1"	   /* 12 bytes */
#define BEACON_DOMAIN "beacon"		   /* 6 bytes */
#define DUMMY_DOMAIN  "dummy"		   /* 5 bytes */
#define SEED_DOMAIN   "buddy lan dummy v1" /* 18 bytes: this daemon's dummy seed */
#define IFS_MAX	      16
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
		      uint8_t mask[2])
{
	uint8_t msg[6 + 8 + 32], b[32];

	memcpy(msg, BEACON_DOMAIN, 6);
	put64(msg + 6, w);
	memcpy(msg + 14, sender_pk, 32);
	crypto_generichash(b, sizeof(b), msg, sizeof(msg), key, BUDDY_DISC_KEY_BYTES);
	memcpy(token, b, BUDDY_DISC_TOKEN_BYTES);
	mask[0] = b[16];
	mask[1] = b[17];
	sodium_memzero(b, sizeof(b));
}

static void finish(uint8_t out[BUDDY_DISC_BEACON_BYTES], const uint8_t *pad)
{
	out[0] = BUDDY_DISC_VERSION;
	if (pad)
		memcpy(out + 19, pad, BUDDY_DISC_PAD_BYTES);
	else
		randombytes_buf(out + 19, BUDDY_DISC_PAD_BYTES);
}

void buddy_disc_beacon(const uint8_t key[BUDDY_DISC_KEY_BYTES], uint64_t w,
		       const uint8_t sender_pk[32], uint16_t port, const uint8_t *pad,
		       uint8_t out[BUDDY_DISC_BEACON_BYTES])
{
	uint8_t mask[2];

	buddy_disc_token(key, w, sender_pk, out + 1, mask);
	out[17] = (uint8_t)(port >> 8) ^ mask[0];
	out[18] = (uint8_t)port ^ mask[1];
	finish(out, pad);
}

void buddy_disc_dummy(const uint8_t seed[32], uint64_t w, uint32_t i, const uint8_t *pad,
		      uint8_t out[BUDDY_DISC_BEACON_BYTES])
{
	uint8_t msg[5 + 8 + 4], b[32];

	memcpy(msg, DUMMY_DOMAIN, 5);
	put64(msg + 5, w);
	msg[13] = (uint8_t)(i >> 24);
	msg[14] = (uint8_t)(i >> 16);
	msg[15] = (uint8_t)(i >> 8);
	msg[16] = (uint8_t)i;
	crypto_generichash(b, sizeof(b), msg, sizeof(msg), seed, 32);
	memcpy(out + 1, b, 18);
	finish(out, pad);
	sodium_memzero(b, sizeof(b));
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

bool buddy_disc_match(const uint8_t *dgram, size_t len, const struct buddy_disc_expect *e,
		      uint16_t *port)
{
	int which = -1;
	uint16_t p;

	if (!buddy_disc_shape(dgram, len) || !e)
		return false;
	/* all three compared, each in constant time */
	for (int k = 0; k < 3; k++)
		if (sodium_memcmp(dgram + 1, e->token[k], BUDDY_DISC_TOKEN_BYTES) == 0)
			which = k;
	if (which < 0)
		return false;
	p = (uint16_t)((dgram[17] ^ e->mask[which][0]) << 8 | (dgram[18] ^ e->mask[which][1]));
	if (p == 0)
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

struct iface {
	unsigned index;
	char name[IF_NAMESIZE];
	char v4[INET_ADDRSTRLEN]; /* the address beacons leave from; "" when none */
	bool v4_listen;		  /* the transport listens on v4 here (wildcard or this address) */
	bool v6;		  /* has an IPv6 address */
	bool joined4, joined6;
};

struct buddyd_discovery {
	struct buddyd *d;
	uv_loop_t *loop;
	uv_udp_t udp[2]; /* [0] IPv4, [1] IPv6 */
	bool udp_open[2];
	uv_timer_t round, rx_resume;
	int open; /* handles not yet closed */
	bool stopped;
	uint16_t port;
	uint32_t interval_ms;
	uint16_t tcp_port[2];		 /* announced per family; 0: no beacons of that family */
	char tcp_host4[INET_ADDRSTRLEN]; /* the IPv4 address listened on, "" for the wildcard */
	struct iface ifs[IFS_MAX];
	size_t nifs;
	struct pair *pairs; /* sodium_malloc */
	size_t npairs, cap;
	uint64_t expect_w; /* the window pairs[].ex was computed for */
	uint8_t *secret;   /* sodium_malloc: my X25519 key (32), the dummy seed (32) */
	uint64_t rx_start; /* uv_now() when this second of reading began */
	unsigned rx_count;
	uint64_t rx_dropped;
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

	if (--x->open == 0)
		free(x);
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

/* The pairs follow the journal's active buddies: keys derived for new ones, dropped for those
 * revoked. True when one was added. */
static bool sync_pairs(struct buddyd_discovery *x)
{
	struct buddy_buddies *bs = buddy_journal_buddies(x->d->journal);
	const uint8_t *my_pk = x->d->secrets->sign_pk;
	bool added = false;
	size_t i;

	for (i = 0; i < x->npairs; i++)
		x->pairs[i].seen = false;
	for (i = 0; i < buddy_buddies_count(bs); i++) {
		const struct buddy_buddy *b = buddy_buddies_at(bs, i);
		struct pair *p;
		char id[9];

		if (b->revoked)
			continue;
		p = pair_find(x, b->pk);
		if (p) {
			p->seen = true;
			continue;
		}
		if (pairs_reserve(x))
			break;
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

static bool join(uv_udp_t *u, const char *group, const char *iface)
{
	int rc = uv_udp_set_membership(u, group, iface, UV_JOIN_GROUP);

	if (rc && rc != UV_EADDRINUSE) {
		log_debug("LAN discovery: cannot join %s on %s: %s", group, iface, uv_strerror(rc));
		return false;
	}
	return true;
}

static struct iface *iface_slot(struct iface *ifs, size_t *n, unsigned index, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (ifs[i].index == index)
			return &ifs[i];
	if (*n == IFS_MAX)
		return NULL;
	memset(&ifs[*n], 0, sizeof(ifs[0]));
	ifs[*n].index = index;
	snprintf(ifs[*n].name, sizeof(ifs[0].name), "%s", name);
	return &ifs[(*n)++];
}

/* Multicast-capable, up, non-loopback interfaces, with their addresses; the groups joined on
 * those new since the last look. */
static void scan_ifaces(struct buddyd_discovery *x)
{
	struct iface now[IFS_MAX];
	struct ifaddrs *all, *a;
	size_t n = 0;

	if (getifaddrs(&all))
		return;
	for (a = all; a; a = a->ifa_next) {
		unsigned index;
		struct iface *f;
		char host[INET_ADDRSTRLEN];

		if (!a->ifa_addr || !a->ifa_name || (a->ifa_flags & IFF_LOOPBACK) ||
		    !(a->ifa_flags & IFF_UP) || !(a->ifa_flags & IFF_MULTICAST) ||
		    (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
			continue;
		index = if_nametoindex(a->ifa_name);
		if (!index || !(f = iface_slot(now, &n, index, a->ifa_name)))
			continue;
		if (a->ifa_addr->sa_family == AF_INET6) {
			f->v6 = true;
			continue;
		}
		if (!inet_ntop(AF_INET, &((const struct sockaddr_in *)a->ifa_addr)->sin_addr, host,
			       sizeof(host)))
			continue;
		if (x->tcp_host4[0] && strcmp(host, x->tcp_host4) == 0) {
			/* the address listened on is the one beacons must come from */
			memcpy(f->v4, host, sizeof(host));
			f->v4_listen = true;
		} else if (!f->v4[0]) {
			memcpy(f->v4, host, sizeof(host));
			f->v4_listen = !x->tcp_host4[0];
		}
	}
	freeifaddrs(all);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < x->nifs; k++) {
			if (x->ifs[k].index == now[i].index) {
				now[i].joined4 = x->ifs[k].joined4;
				now[i].joined6 = x->ifs[k].joined6;
			}
		}
		if (x->udp_open[0] && now[i].v4[0] && !now[i].joined4)
			now[i].joined4 = join(&x->udp[0], BUDDY_DISC_GROUP4, now[i].v4);
		if (x->udp_open[1] && now[i].v6 && !now[i].joined6) {
			char zone[IF_NAMESIZE + 4];
			snprintf(zone, sizeof(zone), "::%%%s", now[i].name);
			now[i].joined6 = join(&x->udp[1], BUDDY_DISC_GROUP6, zone);
		}
	}
	memcpy(x->ifs, now, n * sizeof(now[0]));
	x->nifs = n;
}

/* ---- beacons out ---- */

static void send_round(struct buddyd_discovery *x)
{
	uint8_t dg[BUDDY_DISC_BEACON_BYTES];
	const uint8_t *my_pk = x->d->secrets->sign_pk;
	uint64_t w = buddy_disc_window(buddy_clock_now());
	size_t total, sent = 0, failed = 0;
	uint32_t *order;

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
	for (int fam = 0; fam < 2; fam++) {
		struct sockaddr_storage ss;

		if (!x->udp_open[fam] || !x->tcp_port[fam])
			continue;
		for (size_t k = 0; k < x->nifs; k++) {
			const struct iface *f = &x->ifs[k];
			char zone[IF_NAMESIZE + 4];

			if (fam == 0) {
				if (!f->v4_listen || !f->joined4 ||
				    uv_udp_set_multicast_interface(&x->udp[0], f->v4))
					continue;
				uv_ip4_addr(BUDDY_DISC_GROUP4, x->port, (struct sockaddr_in *)&ss);
			} else {
				snprintf(zone, sizeof(zone), "::%%%s", f->name);
				if (!f->joined6 || uv_udp_set_multicast_interface(&x->udp[1], zone))
					continue;
				uv_ip6_addr(BUDDY_DISC_GROUP6, x->port, (struct sockaddr_in6 *)&ss);
				((struct sockaddr_in6 *)&ss)->sin6_scope_id = f->index;
			}
			for (size_t i = 0; i < total; i++) {
				uv_buf_t b = uv_buf_init((char *)dg, sizeof(dg));

				if (order[i] < x->npairs)
					buddy_disc_beacon(x->pairs[order[i]].key, w, my_pk,
							  x->tcp_port[fam], NULL, dg);
				else
					buddy_disc_dummy(x->secret + 32, w,
							 order[i] - (uint32_t)x->npairs, NULL, dg);
				if (uv_udp_try_send(&x->udp[fam], &b, 1,
						    (const struct sockaddr *)&ss) ==
				    (int)sizeof(dg))
					sent++;
				else
					failed++;
			}
		}
	}
	sodium_memzero(dg, sizeof(dg));
	free(order);
	log_debug("LAN beacons: %zu sent (%zu per interface), %zu failed, window %llu", sent, total,
		  failed, (unsigned long long)w);
}

static void on_round(uv_timer_t *t)
{
	struct buddyd_discovery *x = t->data;

	if (!usable(x))
		return;
	scan_ifaces(x);
	sync_pairs(x);
	expect_window(x, buddy_disc_window(buddy_clock_now()));
	send_round(x);
	uv_timer_start(&x->round, on_round, jitter(x->interval_ms), 0);
}

/* ---- beacons in ---- */

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

		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
		    IN6_IS_ADDR_MULTICAST(&s6->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return BUDDY_E_INVALID;
		if (uv_ip6_name(s6, a->host, sizeof(a->host)))
			return BUDDY_E_INVALID;
		if (!IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
			return 0;
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
	struct buddy_addr a;
	struct pair *p = NULL;
	uint8_t pk[32];
	uint16_t port = 0;
	char id[9];
	int rc;

	expect_window(x, w);
	for (size_t i = 0; i < x->npairs && !p; i++)
		if (buddy_disc_match(dg, len, &x->pairs[i].ex, &port))
			p = &x->pairs[i];
	if (!p)
		return; /* a stranger's beacon, a dummy, or noise */
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
		log_debug("LAN discovery: more than %d datagrams a second: reading paused",
			  BUDDY_DISC_RX_PER_S);
	x->rx_dropped = 0;
	x->rx_start = uv_now(x->loop);
	x->rx_count = 0;
	for (int fam = 0; fam < 2; fam++)
		if (x->udp_open[fam])
			start_reading(x, fam);
}

/* Counts a datagram against this second's budget; past it, reading stops until the second
 * ends: a flood costs a timer, not a lookup per datagram. */
static bool over_budget(struct buddyd_discovery *x)
{
	uint64_t now = uv_now(x->loop);

	if (now - x->rx_start >= 1000) {
		x->rx_start = now;
		x->rx_count = 0;
	}
	if (++x->rx_count <= BUDDY_DISC_RX_PER_S)
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

static bool open_udp(struct buddyd_discovery *x, int fam)
{
	struct sockaddr_storage ss;
	uv_udp_t *u = &x->udp[fam];
	int rc;

	if (fam == 0)
		uv_ip4_addr("0.0.0.0", x->port, (struct sockaddr_in *)&ss);
	else
		uv_ip6_addr("::", x->port, (struct sockaddr_in6 *)&ss);
	rc = uv_udp_init_ex(x->loop, u, fam == 0 ? AF_INET : AF_INET6);
	if (rc) {
		log_warn("LAN discovery: no %s socket: %s", fam ? "IPv6" : "IPv4", uv_strerror(rc));
		return false;
	}
	u->data = x;
	x->open++;
	rc = uv_udp_bind(u, (const struct sockaddr *)&ss,
			 UV_UDP_REUSEADDR | (fam ? UV_UDP_IPV6ONLY : 0));
	if (rc == 0)
		rc = uv_udp_set_multicast_ttl(u, 1);
	if (rc == 0)
		rc = uv_udp_set_multicast_loop(u, 1); /* another buddyd of this machine hears us */
	if (rc) {
		log_warn("LAN discovery: no %s socket on UDP port %u: %s", fam ? "IPv6" : "IPv4",
			 x->port, uv_strerror(rc));
		uv_close((uv_handle_t *)u, on_closed);
		return false;
	}
	x->udp_open[fam] = true;
	start_reading(x, fam);
	return true;
}

static bool loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "::1") ||
	       !strncmp(host, "::ffff:127.", 11);
}

/* What the beacons announce: per family, the port the transport listens on there (its
 * wildcard first; for IPv4 a single address too, beaconed from that address only). False when
 * it listens on loopback addresses only: such a daemon is not on any network. */
static bool listen_ports(struct buddyd_discovery *x)
{
	struct buddy_addr bound[BUDDY_PEER_ADDRS_MAX];
	size_t n = buddy_peer_bound(x->d->peer, bound, BUDDY_PEER_ADDRS_MAX);
	bool outside = false;

	for (size_t i = 0; i < n; i++) {
		outside |= !loopback(bound[i].host);
		if (!strcmp(bound[i].host, "::")) {
			x->tcp_port[1] = bound[i].port;
		} else if (!strcmp(bound[i].host, "0.0.0.0")) {
			x->tcp_port[0] = bound[i].port;
			x->tcp_host4[0] = '\0';
		} else if (!strchr(bound[i].host, ':') && !x->tcp_port[0] &&
			   strlen(bound[i].host) < sizeof(x->tcp_host4)) {
			x->tcp_port[0] = bound[i].port;
			memcpy(x->tcp_host4, bound[i].host, strlen(bound[i].host) + 1);
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
	if (!x->udp_open[0] && !x->udp_open[1]) {
		log_warn("LAN discovery is off: no socket on UDP port %u", x->port);
		buddyd_discovery_stop(d);
		return;
	}
	sync_pairs(x);
	scan_ifaces(x);
	log_info("LAN discovery on UDP port %u: beacons %s%s%s, every %us", x->port,
		 x->tcp_port[0] ? "IPv4" : "", x->tcp_port[0] && x->tcp_port[1] ? " and " : "",
		 x->tcp_port[1] ? "IPv6" : (x->tcp_port[0] ? "" : "none (listening only)"),
		 x->interval_ms / 1000);
	uv_timer_start(&x->round, on_round, 0, 0); /* the first round right after unlock */
}

void buddyd_discovery_refresh(struct buddyd *d)
{
	struct buddyd_discovery *x = d->discovery;

	if (x && usable(x) && sync_pairs(x))
		uv_timer_start(&x->round, on_round, 0, 0);
}
