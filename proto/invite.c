/* Invite codes, invite ids and proofs, numeric addresses and safety numbers (see buddy/invite.h
 * and proto/PROTOCOL.md, "Invite codes" and "Safety numbers").
 *
 * A code is "bdy1-" followed by the lowercase RFC 4648 base32 (no padding) of:
 *   u8 version (1) | 32 inviter Ed25519 pk | 16 secret | u64 BE expires | u8 naddrs |
 *   naddrs x (u8 family 4|6 | 4 or 16 address bytes | u16 BE port) | 4 checksum
 * with checksum = the first 4 bytes of BLAKE2b-256 keyed with "buddy-invite-checksum" over
 * every byte before it. */
#include "buddy/invite.h"
#include "buddy/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CODE_VERSION 1
#define PREFIX	     "bdy1-"
#define PREFIX_LEN   5
#define CHECKSUM_KEY "buddy-invite-checksum"
#define CHECKSUM_LEN 4
#define HEAD_LEN     (1 + 32 + BUDDY_INVITE_SECRET_BYTES + 8 + 1) /* up to naddrs */
#define ADDR_MAX_LEN (1 + 16 + 2)
#define RAW_MAX	     (HEAD_LEN + BUDDY_PEER_ADDRS_MAX * ADDR_MAX_LEN + CHECKSUM_LEN)

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = n; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void checksum(const uint8_t *p, size_t len, uint8_t out[CHECKSUM_LEN])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), p, len, (const uint8_t *)CHECKSUM_KEY,
			   sizeof(CHECKSUM_KEY) - 1);
	memcpy(out, h, CHECKSUM_LEN);
}

/* host -> family (4 or 6) and network-order bytes; 0 when it is not a numeric address */
static int host_bytes(const char *host, uint8_t out[16])
{
	if (memchr(host, 0, BUDDY_ADDR_HOST_MAX) == NULL)
		return 0;
	if (inet_pton(AF_INET, host, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, host, out) == 1)
		return 6;
	return 0;
}

static size_t b32_len(size_t nbytes)
{
	return (nbytes * 8 + 4) / 5;
}

static void b32_encode(const uint8_t *p, size_t len, char *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			*out++ = b32_alphabet[(acc >> bits) & 31];
		}
	}
	if (bits)
		*out++ = b32_alphabet[(acc << (5 - bits)) & 31];
	*out = 0;
}

static int b32_value(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Decodes the body after the prefix, skipping whitespace and '-'. The unused low bits of the
 * last character must be zero and the character count must be one base32 can produce, so that
 * every byte string has exactly one text form. */
static int b32_decode(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0, chars = 0;

	for (; *s; s++) {
		int v;

		if (is_space(*s) || *s == '-')
			continue;
		v = b32_value(*s);
		if (v < 0)
			return BUDDY_E_INVALID;
		chars++;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return BUDDY_E_INVALID;
			out[n++] = (uint8_t)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	if (b32_len(n) != chars || acc != 0)
		return BUDDY_E_INVALID;
	*len = n;
	return 0;
}

/* "bdy1-" -> 0; "bdyN-" for another number N -> VERSION; anything else -> INVALID. *body is
 * set past the prefix. */
static int read_prefix(const char *s, const char **body)
{
	size_t i = 3;

	while (is_space(*s))
		s++;
	if ((s[0] | 0x20) != 'b' || (s[1] | 0x20) != 'd' || (s[2] | 0x20) != 'y')
		return BUDDY_E_INVALID;
	while (s[i] >= '0' && s[i] <= '9' && i < 12)
		i++;
	if (i == 3 || s[i] != '-')
		return BUDDY_E_INVALID;
	if (i != 4 || s[3] != '1')
		return BUDDY_E_VERSION;
	*body = s + PREFIX_LEN;
	return 0;
}

int buddy_invite_encode(const struct buddy_invite *inv, char *out, size_t cap)
{
	uint8_t raw[RAW_MAX];
	size_t n = 0;
	int rc = BUDDY_E_INVALID;

	if (inv->naddrs > BUDDY_PEER_ADDRS_MAX || inv->expires < 0)
		return BUDDY_E_INVALID;
	raw[n++] = CODE_VERSION;
	memcpy(raw + n, inv->inviter_pk, 32);
	n += 32;
	memcpy(raw + n, inv->secret, BUDDY_INVITE_SECRET_BYTES);
	n += BUDDY_INVITE_SECRET_BYTES;
	put_be(raw + n, (uint64_t)inv->expires, 8);
	n += 8;
	raw[n++] = (uint8_t)inv->naddrs;
	for (size_t i = 0; i < inv->naddrs; i++) {
		const struct buddy_addr *a = &inv->addrs[i];
		uint8_t ip[16];
		int fam = host_bytes(a->host, ip);

		if (!fam || a->port == 0)
			goto out;
		raw[n++] = (uint8_t)fam;
		memcpy(raw + n, ip, fam == 4 ? 4 : 16);
		n += fam == 4 ? 4 : 16;
		put_be(raw + n, a->port, 2);
		n += 2;
	}
	checksum(raw, n, raw + n);
	n += CHECKSUM_LEN;
	if (cap < PREFIX_LEN + b32_len(n) + 1) {
		rc = BUDDY_E_TOOBIG;
		goto out;
	}
	memcpy(out, PREFIX, PREFIX_LEN);
	b32_encode(raw, n, out + PREFIX_LEN);
	rc = 0;
out:
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

/* The length the address list starting at p implies, or 0 when it is malformed. */
static size_t addrs_len(const uint8_t *p, size_t avail, unsigned naddrs)
{
	size_t n = 0;

	for (unsigned i = 0; i < naddrs; i++) {
		size_t alen;

		if (avail - n < 1)
			return 0;
		if (p[n] != 4 && p[n] != 6)
			return 0;
		alen = 1 + (p[n] == 4 ? 4 : 16) + 2;
		if (avail - n < alen)
			return 0;
		n += alen;
	}
	return n;
}

/* Checks happen in a fixed order (PROTOCOL.md): the shape (version byte, lengths, families),
 * then the checksum, then the values. */
int buddy_invite_decode(const char *code, struct buddy_invite *inv)
{
	uint8_t raw[RAW_MAX], sum[CHECKSUM_LEN];
	struct buddy_invite tmp;
	const char *body = NULL;
	size_t len = 0, n, alen;
	uint64_t expires;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	rc = read_prefix(code, &body);
	if (rc)
		return rc;
	rc = b32_decode(body, raw, sizeof(raw), &len);
	if (rc)
		goto out;
	rc = BUDDY_E_INVALID;
	if (len < HEAD_LEN + CHECKSUM_LEN || raw[0] != CODE_VERSION ||
	    raw[HEAD_LEN - 1] > BUDDY_PEER_ADDRS_MAX)
		goto out;
	tmp.naddrs = raw[HEAD_LEN - 1];
	alen = addrs_len(raw + HEAD_LEN, len - HEAD_LEN - CHECKSUM_LEN, (unsigned)tmp.naddrs);
	if ((tmp.naddrs > 0 && alen == 0) || HEAD_LEN + alen + CHECKSUM_LEN != len)
		goto out;
	checksum(raw, len - CHECKSUM_LEN, sum);
	if (sodium_memcmp(sum, raw + len - CHECKSUM_LEN, CHECKSUM_LEN) != 0) {
		rc = BUDDY_E_CORRUPT;
		goto out;
	}
	n = 1;
	memcpy(tmp.inviter_pk, raw + n, 32);
	n += 32;
	memcpy(tmp.secret, raw + n, BUDDY_INVITE_SECRET_BYTES);
	n += BUDDY_INVITE_SECRET_BYTES;
	expires = get_be(raw + n, 8);
	n += 9;
	if (expires > INT64_MAX)
		goto out;
	tmp.expires = (int64_t)expires;
	for (size_t i = 0; i < tmp.naddrs; i++) {
		struct buddy_addr *a = &tmp.addrs[i];
		int fam = raw[n++] == 4 ? AF_INET : AF_INET6;

		if (!inet_ntop(fam, raw + n, a->host, sizeof(a->host)))
			goto out;
		n += fam == AF_INET ? 4 : 16;
		a->port = (uint16_t)get_be(raw + n, 2);
		n += 2;
		if (a->port == 0)
			goto out;
	}
	memcpy(inv, &tmp, sizeof(tmp));
	rc = 0;
out:
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(&tmp, sizeof(tmp));
	return rc;
}

void buddy_invite_id(const uint8_t secret[BUDDY_INVITE_SECRET_BYTES],
		     uint8_t id[BUDDY_INVITE_ID_BYTES])
{
	static const char msg[] = "buddy-invite-id-v1";
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), (const uint8_t *)msg, sizeof(msg) - 1, secret,
			   BUDDY_INVITE_SECRET_BYTES);
	memcpy(id, h, BUDDY_INVITE_ID_BYTES);
}

void buddy_invite_proof(const uint8_t secret[BUDDY_INVITE_SECRET_BYTES], const uint8_t *h,
			size_t hlen, uint8_t proof[BUDDY_INVITE_PROOF_BYTES])
{
	static const char label[] = "buddy-invite-proof-v1";
	crypto_generichash_state st;

	crypto_generichash_init(&st, secret, BUDDY_INVITE_SECRET_BYTES, BUDDY_INVITE_PROOF_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, h, hlen);
	crypto_generichash_final(&st, proof, BUDDY_INVITE_PROOF_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/* 1..65535, decimal digits only */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i = 0;

	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i == 5)
			return BUDDY_E_INVALID;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v == 0 || v > 65535)
		return BUDDY_E_INVALID;
	*port = (uint16_t)v;
	return 0;
}

/* Stores the canonical text form of a numeric host (af 0: either family). */
static int set_host(const char *s, size_t len, int af, struct buddy_addr *out)
{
	char buf[BUDDY_ADDR_HOST_MAX];
	uint8_t ip[16];

	if (len == 0 || len >= sizeof(buf))
		return BUDDY_E_INVALID;
	memcpy(buf, s, len);
	buf[len] = 0;
	if ((af == 0 || af == AF_INET) && inet_pton(AF_INET, buf, ip) == 1)
		af = AF_INET;
	else if ((af == 0 || af == AF_INET6) && inet_pton(AF_INET6, buf, ip) == 1)
		af = AF_INET6;
	else
		return BUDDY_E_INVALID;
	if (!inet_ntop(af, ip, out->host, sizeof(out->host)))
		return BUDDY_E_INVALID;
	return 0;
}

int buddy_addr_parse(const char *s, uint16_t default_port, struct buddy_addr *out)
{
	struct buddy_addr a;
	const char *colon;
	uint16_t port = default_port;

	memset(&a, 0, sizeof(a));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || set_host(s + 1, (size_t)(close - s - 1), AF_INET6, &a))
			return BUDDY_E_INVALID;
		if (close[1] == ':') {
			if (parse_port(close + 2, &port))
				return BUDDY_E_INVALID;
		} else if (close[1] != 0) {
			return BUDDY_E_INVALID;
		}
	} else if (default_port && set_host(s, strlen(s), AF_INET6, &a) == 0) {
		/* a bare IPv6 address: without brackets its last group cannot be a port */
	} else if ((colon = strchr(s, ':')) != NULL) {
		if (set_host(s, (size_t)(colon - s), AF_INET, &a) || parse_port(colon + 1, &port))
			return BUDDY_E_INVALID;
	} else if (set_host(s, strlen(s), AF_INET, &a)) {
		return BUDDY_E_INVALID;
	}
	if (port == 0)
		return BUDDY_E_INVALID;
	a.port = port;
	*out = a;
	return 0;
}

void buddy_addr_format(const struct buddy_addr *a, char *out, size_t cap)
{
	if (cap == 0)
		return;
	if (!memchr(a->host, 0, sizeof(a->host))) {
		snprintf(out, cap, "?:%u", (unsigned)a->port);
		return;
	}
	if (strchr(a->host, ':'))
		snprintf(out, cap, "[%s]:%u", a->host, (unsigned)a->port);
	else
		snprintf(out, cap, "%s:%u", a->host, (unsigned)a->port);
}

void buddy_safety_number(const uint8_t a[32], const uint8_t b[32],
			 char out[BUDDY_SAFETY_NUMBER_LEN])
{
	static const char label[] = "buddy-safety-number-v1";
	const uint8_t *lo = a, *hi = b;
	crypto_generichash_state st;
	uint8_t h[64];
	char *p = out;

	if (memcmp(a, b, 32) > 0) {
		lo = b;
		hi = a;
	}
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, lo, 32);
	crypto_generichash_update(&st, hi, 32);
	crypto_generichash_final(&st, h, sizeof(h));
	for (unsigned g = 0; g < 12; g++) {
		unsigned v = (unsigned)(get_be(h + 5 * g, 5) % 100000);

		p += snprintf(p, 7, g ? " %05u" : "%05u", v);
	}
}
