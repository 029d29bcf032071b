/* Invite codes (proto/PROTOCOL.md, "Invite codes"): what `buddy invite` prints and `buddy
 * accept` reads. A code carries the inviter's public key, a one-time secret, an expiry and the
 * addresses to dial, with a checksum so a mistyped or truncated code is caught before any
 * network traffic. Pure functions: no I/O, no state. */
#ifndef BUDDY_INVITE_H
#define BUDDY_INVITE_H

#include "buddy/limits.h"

#include <stddef.h>
#include <stdint.h>

#define BUDDY_INVITE_SECRET_BYTES 16
#define BUDDY_INVITE_ID_BYTES	  8
#define BUDDY_INVITE_PROOF_BYTES  32
#define BUDDY_INVITE_CODE_MAX	  512 /* bytes of text, NUL included */
#define BUDDY_ADDR_HOST_MAX	  46  /* INET6_ADDRSTRLEN */

/* A numeric IPv4 or IPv6 address and a port. */
struct buddy_addr {
	char host[BUDDY_ADDR_HOST_MAX]; /* "192.0.2.1" or "2001:db8::1", no brackets */
	uint16_t port;
};

struct buddy_invite {
	uint8_t inviter_pk[32]; /* Ed25519 identity */
	uint8_t secret[BUDDY_INVITE_SECRET_BYTES];
	int64_t expires; /* Unix seconds */
	size_t naddrs;
	struct buddy_addr addrs[BUDDY_PEER_ADDRS_MAX];
};

/* Writes the code ("bdy1-" then lowercase base32) into out. BUDDY_E_INVALID for a bad
 * address, BUDDY_E_TOOBIG when cap is too small. */
int buddy_invite_encode(const struct buddy_invite *inv, char *out, size_t cap);

/* Reads a code. Case, spaces, newlines and '-' after the prefix are ignored (copy-paste).
 * BUDDY_E_VERSION for another prefix version, BUDDY_E_CORRUPT when the checksum does not match
 * (a typo), BUDDY_E_INVALID for anything else malformed; *inv is written only on success. The
 * expiry is read, not checked: comparing it with the clock is the caller's business. */
int buddy_invite_decode(const char *code, struct buddy_invite *inv);

/* The invite's public id (how the inviter finds it): the first 8 bytes of a keyed hash of the
 * secret. */
void buddy_invite_id(const uint8_t secret[BUDDY_INVITE_SECRET_BYTES],
		     uint8_t id[BUDDY_INVITE_ID_BYTES]);

/* Proof of the secret bound to one handshake: keyed BLAKE2b of the handshake hash h (as it
 * stands after handshake message 2) under the secret. */
void buddy_invite_proof(const uint8_t secret[BUDDY_INVITE_SECRET_BYTES], const uint8_t *h,
			size_t hlen, uint8_t proof[BUDDY_INVITE_PROOF_BYTES]);

/* Parses "host:port", "[v6]:port" (and, with default_port, a bare host). Numeric only. */
int buddy_addr_parse(const char *s, uint16_t default_port, struct buddy_addr *out);
/* Formats as "host:port" or "[v6]:port"; out has room for BUDDY_ADDR_HOST_MAX + 8. */
void buddy_addr_format(const struct buddy_addr *a, char *out, size_t cap);

/* The safety number of two identities (`buddy verify`): 12 groups of 5 decimal digits separated
 * by spaces, 71 characters and a NUL. The same whichever order a and b are given in. */
#define BUDDY_SAFETY_NUMBER_LEN 72
void buddy_safety_number(const uint8_t a[32], const uint8_t b[32],
			 char out[BUDDY_SAFETY_NUMBER_LEN]);

#endif
