/* Raw references for the other benchmarks, measured on this machine in the same run:
 *   - write(256 B) + fdatasync, one at a time, appending to a new file in DIR (the disk that
 *     bench_store measures): what one durable append costs at the least (bench_store batch 1);
 *   - XChaCha20-Poly1305 (libsodium, IETF construction) encryptions of 256-byte messages, one
 *     core: the AEAD that protects journal records and post payloads;
 *   - X25519 scalar multiplications (crypto_scalarmult), one core: a Noise XX handshake costs
 *     the responder three of them (ee, es, se) plus a cheaper fixed-base one for its
 *     ephemeral key.
 * Each runs for SECONDS of wall time (default 1.5) on one thread and reports its rate per
 * second of wall time (the figure, comparable with the other benchmarks, which are wall time
 * too) and per second of this process's CPU time (how much a busy machine took away).
 * Usage: crypto_ref DIR [SECONDS] */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rate {
	double ops, wall, cpu;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, const char *figure, struct rate r)
{
	printf("  %-44s %12.0f/s (%.0f in %.2f s; %.0f/s of CPU time, %.0f%% of a core)\n", what,
	       r.ops / r.wall, r.ops, r.wall, r.cpu > 0 ? r.ops / r.cpu : 0.0,
	       100 * r.cpu / r.wall);
	printf("FIGURE %s %.0f /s\n", figure, r.ops / r.wall);
	fflush(stdout);
}

static int fdatasync_ref(const char *dir, double secs, struct rate *r)
{
	char path[4096];
	uint8_t buf[256];
	double t0, c0;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/crypto_ref.XXXXXX", dir) >= sizeof(path))
		return -1;
	if ((fd = mkstemp(path)) < 0) {
		perror(path);
		return -1;
	}
	randombytes_buf(buf, sizeof(buf));
	r->ops = 0;
	t0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	do {
		buf[0] = (uint8_t)r->ops;
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fdatasync(fd)) {
			perror("write/fdatasync");
			close(fd);
			unlink(path);
			return -1;
		}
		r->ops++;
	} while ((r->wall = clock_s(CLOCK_MONOTONIC) - t0) < secs);
	r->cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	close(fd);
	unlink(path);
	return 0;
}

static void aead_ref(double secs, struct rate *r)
{
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t m[256], c[256 + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	unsigned long long clen;
	double t0, c0;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(m, sizeof(m));
	r->ops = 0;
	t0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (int i = 0; i < 1024; i++) {
			crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, m, sizeof(m), NULL, 0,
								   NULL, nonce, key);
			sodium_increment(nonce, sizeof(nonce));
			m[i % sizeof(m)] ^= c[clen - 1]; /* each message depends on the last */
		}
		r->ops += 1024;
	} while ((r->wall = clock_s(CLOCK_MONOTONIC) - t0) < secs);
	r->cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
}

static int x25519_ref(double secs, struct rate *r)
{
	uint8_t sk[crypto_scalarmult_SCALARBYTES], p[crypto_scalarmult_BYTES],
		q[crypto_scalarmult_BYTES];
	double t0, c0;

	randombytes_buf(sk, sizeof(sk));
	randombytes_buf(p, sizeof(p));
	if (crypto_scalarmult_base(p, p))
		return -1;
	r->ops = 0;
	t0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (int i = 0; i < 64; i++) {
			/* the point is always a product of the base point: never of low order */
			if (crypto_scalarmult(q, sk, p))
				return -1;
			memcpy(p, q, sizeof(p));
		}
		r->ops += 64;
	} while ((r->wall = clock_s(CLOCK_MONOTONIC) - t0) < secs);
	r->cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	return 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 1.5;
	struct rate r;

	if (argc < 2 || argc > 3 || !(secs > 0)) {
		fprintf(stderr, "usage: crypto_ref DIR [SECONDS]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	printf("raw references, one thread, %.1f s each:\n", secs);
	if (fdatasync_ref(argv[1], secs, &r))
		return 1;
	report("write(256 B) + fdatasync, one at a time", "ref_write_fdatasync_256", r);
	aead_ref(secs, &r);
	report("XChaCha20-Poly1305 encrypt, 256-byte messages", "ref_xchacha20poly1305_256", r);
	if (x25519_ref(secs, &r)) {
		fprintf(stderr, "crypto_scalarmult failed\n");
		return 1;
	}
	report("X25519 scalar multiplications", "ref_x25519", r);
	return 0;
}
