/* Replays cacophony-format Noise test vectors (../shared/vectors/noise/README.md) through
 * daemon/noise.c in both roles. Shared by tests/unit/test_noise.c and tests/noise-vectors. */
#ifndef BUDDY_NOISE_REPLAY_H
#define BUDDY_NOISE_REPLAY_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

enum noise_replay_result {
	NOISE_REPLAY_PASS,
	NOISE_REPLAY_FAIL,
	NOISE_REPLAY_SKIP,
};

struct noise_replay_counts {
	unsigned passed, failed, skipped;
};

/* Replays one vector object: the initiator and the responder each write their messages (the
 * output must equal "ciphertext") and read the other's (from the vector, the payload must equal
 * "payload"), then compare the handshake hash and replay the transport messages. why
 * (whylen bytes) receives the reason for a FAIL or a SKIP. */
enum noise_replay_result noise_replay_vector(const json_t *vector, char *why, size_t whylen);

/* Replays every vector of {"vectors": [...]} in the file at path, adding to *c. Each failure
 * (and, when verbose, each skip) is reported on log. Returns 0, or -1 when the file cannot be
 * read as a vector file (reason on log). */
int noise_replay_file(const char *path, struct noise_replay_counts *c, FILE *log, int verbose);

#endif
