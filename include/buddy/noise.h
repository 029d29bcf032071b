/* Noise handshakes and transport cipher states (Noise specification revision 34) for the peer
 * protocol (DESIGN.md section 5): Noise_XX_25519_ChaChaPoly_BLAKE2b, plus NN, KK, IK, the pskN
 * modifiers and SHA256/SHA512 so that the test vectors replay. Pure computation on the caller's
 * buffers: no sockets, no event loop, no files. Every secret lives in sodium_malloc memory owned
 * by this module and is wiped by the _free functions; parameters are copied, never retained. */
#ifndef BUDDY_NOISE_H
#define BUDDY_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define BUDDY_NOISE_PROTOCOL  "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define BUDDY_NOISE_MSG_MAX   65535 /* any Noise message, handshake or transport */
#define BUDDY_NOISE_KEY_BYTES 32    /* X25519 public and private keys, PSKs */
#define BUDDY_NOISE_TAG_BYTES 16    /* ChaChaPoly authentication tag */
#define BUDDY_NOISE_HASH_MAX  64    /* the longest handshake hash (BLAKE2b, SHA512) */
#define BUDDY_NOISE_PSKS_MAX  4

enum buddy_noise_role {
	BUDDY_NOISE_INITIATOR,
	BUDDY_NOISE_RESPONDER,
};

enum buddy_noise_state {
	BUDDY_NOISE_WRITE = 1, /* our turn: buddy_noise_write_message */
	BUDDY_NOISE_READ,      /* the peer's turn: buddy_noise_read_message */
	BUDDY_NOISE_DONE,      /* every handshake message is through: buddy_noise_split */
	BUDDY_NOISE_SPLIT,     /* split done: only the handshake hash and remote static remain */
	BUDDY_NOISE_FAILED,    /* a message failed a check: unusable, secrets wiped */
};

struct buddy_noise_params {
	const char *protocol; /* full Noise protocol name; NULL means BUDDY_NOISE_PROTOCOL */
	enum buddy_noise_role role;
	const uint8_t *prologue; /* may be NULL when prologue_len is 0 */
	size_t prologue_len;
	/* Our X25519 static private key, or NULL when the pattern sends none (NN). */
	const uint8_t *local_static;
	/* Optional: its public key, computed once by a caller that makes many handshakes with
	 * one key, instead of by every buddy_noise_hs_new (an X25519 base point multiplication,
	 * ~29 us here: 11% of a daemon's CPU per handshake served). It must match local_static:
	 * a wrong one only makes the handshake fail, at the peer's first decryption. */
	const uint8_t *local_static_pub;
	/* The peer's static public key, required exactly when the pattern has it as a pre-message
	 * (KK, the initiator of IK). A pattern that transmits it (XX) learns it in-band: compare
	 * buddy_noise_remote_static() with the expected key after the message that carried it. */
	const uint8_t *remote_static;
	/* psk_count PSKs of BUDDY_NOISE_KEY_BYTES each, in the order of the pskN modifiers. */
	const uint8_t (*psks)[BUDDY_NOISE_KEY_BYTES];
	size_t psk_count;
	/* Test vectors only: the ephemeral private key to use instead of a random one. */
	const uint8_t *fixed_ephemeral;
};

struct buddy_noise_hs; /* a handshake in progress */
struct buddy_noise_cs; /* one direction of a transport session */

/* Starts a handshake: InitializeSymmetric, MixHash(prologue), the pre-messages. A protocol this
 * module does not implement (another DH, cipher, hash, pattern or modifier) is
 * BUDDY_E_VERSION, a malformed name BUDDY_E_INVALID. So is a missing key, a PSK count that
 * does not match the modifiers, or a remote static key the pattern would not use (a local one it
 * would not use is ignored). *out is the caller's, for buddy_noise_hs_free. */
int buddy_noise_hs_new(const struct buddy_noise_params *p, struct buddy_noise_hs **out);

/* Wipes and frees. NULL is fine. */
void buddy_noise_hs_free(struct buddy_noise_hs *hs);

enum buddy_noise_state buddy_noise_hs_state(const struct buddy_noise_hs *hs);

/* WriteMessage: writes the next handshake message carrying payload into out (outcap bytes) and
 * sets *outlen. Refused without side effects (BUDDY_E_INVALID) when it is not our turn, and
 * BUDDY_E_TOOBIG when the message would exceed outcap or BUDDY_NOISE_MSG_MAX. A failed DH
 * (BUDDY_E_AUTH: the peer sent a low-order key) fails the handshake. payload and out must not
 * overlap; out's contents are unspecified after an error. */
int buddy_noise_write_message(struct buddy_noise_hs *hs, const uint8_t *payload, size_t len,
			      uint8_t *out, size_t outcap, size_t *outlen);

/* ReadMessage: checks and consumes the peer's next handshake message (len bytes), writes its
 * payload into payload_out (cap bytes) and sets *payload_len. Refused without side effects when
 * it is not the peer's turn (BUDDY_E_INVALID) or the payload would not fit in cap
 * (BUDDY_E_TOOBIG). Any fault of the message itself fails the handshake: too short
 * (BUDDY_E_INVALID), too long (BUDDY_E_TOOBIG), decryption or DH failure (BUDDY_E_AUTH); the
 * handshake hash and remote static are then left as before the message. msg and payload_out
 * must not overlap. */
int buddy_noise_read_message(struct buddy_noise_hs *hs, const uint8_t *msg, size_t len,
			     uint8_t *payload_out, size_t cap, size_t *payload_len);

/* The peer's static public key (BUDDY_NOISE_KEY_BYTES), once known from a pre-message or from a
 * message that was read successfully; NULL before that and after a failure. Valid until
 * buddy_noise_hs_free. */
const uint8_t *buddy_noise_remote_static(const struct buddy_noise_hs *hs);

/* h, *len bytes (64 for BLAKE2b). It is the handshake hash for channel binding once the state is
 * BUDDY_NOISE_DONE or BUDDY_NOISE_SPLIT; before that it is the transcript hash so far. Valid
 * until buddy_noise_hs_free. */
const uint8_t *buddy_noise_handshake_hash(const struct buddy_noise_hs *hs, size_t *len);

/* Split: the two transport cipher states, already oriented for our role (the initiator sends
 * with the spec's first CipherState). Only in state BUDDY_NOISE_DONE; afterwards the state is
 * BUDDY_NOISE_SPLIT and the handshake's secrets are wiped. The caller owns both and frees them
 * with buddy_noise_cs_free. */
int buddy_noise_split(struct buddy_noise_hs *hs, struct buddy_noise_cs **send,
		      struct buddy_noise_cs **recv);

/* EncryptWithAd with the next nonce: out receives len + BUDDY_NOISE_TAG_BYTES bytes (*outlen).
 * BUDDY_E_TOOBIG past outcap or BUDDY_NOISE_MSG_MAX; BUDDY_E_INVALID once the nonce has reached
 * 2^64-1, which is never used: the session must end, it never wraps. in and out may be the same
 * buffer but must not otherwise overlap. */
int buddy_noise_cs_encrypt(struct buddy_noise_cs *cs, const uint8_t *ad, size_t adlen,
			   const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
			   size_t *outlen);

/* DecryptWithAd with the next nonce; out receives len - BUDDY_NOISE_TAG_BYTES bytes.
 * BUDDY_E_AUTH on a forged or damaged message, and the nonce does not advance. Otherwise as
 * buddy_noise_cs_encrypt (shorter than a tag: BUDDY_E_INVALID). */
int buddy_noise_cs_decrypt(struct buddy_noise_cs *cs, const uint8_t *ad, size_t adlen,
			   const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
			   size_t *outlen);

/* Rekey: k = the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). The nonce is kept;
 * both sides must rekey at the same point of the stream. */
int buddy_noise_cs_rekey(struct buddy_noise_cs *cs);

/* SetNonce and its reading. The daemon never sets it (TCP delivers in order); the spec has it
 * for out-of-order transports, and the tests use it to reach the end of the nonce space. */
int buddy_noise_cs_set_nonce(struct buddy_noise_cs *cs, uint64_t n);
uint64_t buddy_noise_cs_nonce(const struct buddy_noise_cs *cs);

/* Wipes and frees. NULL is fine. */
void buddy_noise_cs_free(struct buddy_noise_cs *cs);

#endif
