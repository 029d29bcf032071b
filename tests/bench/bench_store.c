/* Store throughput: durable appends per second, one at a time (one fdatasync each) and with
 * group commit (one fdatasync per batch), for 200-byte records. Prints its numbers; never
 * fails on a number. For tests/bench/run.sh, also one line per batch size:
 * "FIGURE store_batch_<B>_per_s <records/s> /s".
 * Usage: bench_store [DIR] (default: a temporary directory under /tmp; give a directory on the
 * disk you want to measure). */
#include "buddy/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rm_store(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static double run(const char *base, size_t total, size_t batch)
{
	char dir[4096];
	uint8_t key[32], rec[200];
	struct buddy_store *s;
	double t0, t1;
	int rc;

	snprintf(dir, sizeof(dir), "%s/store-%zu", base, batch);
	mkdir(dir, 0700);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(rec, sizeof(rec));
	if (buddy_store_open(dir, key, NULL, NULL, &s, NULL)) {
		fprintf(stderr, "cannot open a store in %s\n", dir);
		exit(1);
	}
	t0 = now_s();
	for (size_t done = 0; done < total;) {
		struct buddy_store_batch *b;
		for (size_t i = 0; i < batch && done < total; i++, done++) {
			rec[0] = (uint8_t)done;
			buddy_store_stage(s, rec, sizeof(rec));
		}
		b = buddy_store_take(s);
		rc = buddy_store_write(s, b);
		buddy_store_batch_free(b);
		if (rc) {
			fprintf(stderr, "write failed: %d\n", rc);
			exit(1);
		}
	}
	t1 = now_s();
	buddy_store_close(s);
	rm_store(dir);
	return (double)total / (t1 - t0);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/buddy-bench-store.XXXXXX";
	const char *base = argc > 1 ? argv[1] : mkdtemp(tmpl);
	static const size_t batches[] = {1, 10, 100, 1000, 10000};

	if (sodium_init() < 0 || !base)
		return 1;
	printf("store durable appends, 200-byte records, in %s\n", base);
	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		size_t total = batches[i] == 1		   ? 2000
			       : batches[i] * 100 > 200000 ? 1000000
							   : 200000;
		double rate = run(base, total, batches[i]);

		printf("  batch %6zu: %10.0f records/s (%zu records)\n", batches[i], rate, total);
		printf("FIGURE store_batch_%zu_per_s %.0f /s\n", batches[i], rate);
		fflush(stdout);
	}
	if (argc <= 1)
		rm_store(base);
	return 0;
}
