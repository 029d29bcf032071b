/* Share-stream sync throughput: how long bob's daemon takes to receive and durably store N
 * posts that alice's daemon queued while bob was away, over loopback, from bob's start (he
 * dials alice as soon as he is unlocked) to alice recording bob's acknowledgement of the last
 * post. Both homes are written straight through the store (bench_pair.c), so only the sync is
 * timed. For tests/bench/run.sh, also one line per figure: "FIGURE sync_ms <ms> ms",
 * "FIGURE sync_posts_per_s", and each daemon's memory once the last ack is in,
 * "FIGURE sync_rss_{alice,bob}_kib" (VmRSS) and "FIGURE sync_peak_rss_{alice,bob}_kib" (VmHWM,
 * its peak since it started). Usage: bench_sync BUDDYD BUDDY WORKDIR N */
#include "bench_pair.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The "delivered" count of alice's stream to bob, read with the CLI. */
static long delivered(const char *buddy, const char *home)
{
	char cmd[8400], out[65536];
	size_t n;
	const char *p;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "BUDDY_HOME='%s' '%s' status --json 2>/dev/null", home, buddy);
	if (!(f = popen(cmd, "r")))
		return -1;
	n = fread(out, 1, sizeof(out) - 1, f);
	pclose(f);
	out[n] = 0;
	p = strstr(out, "\"delivered\":");
	return p ? atol(p + strlen("\"delivered\":")) : -1;
}

int main(int argc, char **argv)
{
	char adir[4096], bdir[4096], alisten[64];
	double t0, t1;
	long n, got = -1;
	int port;
	pid_t ap, bp;

	if (argc != 5 || (n = atol(argv[4])) <= 0) {
		fprintf(stderr, "usage: bench_sync BUDDYD BUDDY WORKDIR N\n");
		return 2;
	}
	if (sodium_init() < 0 || (port = bench_free_port()) < 0)
		return 1;
	snprintf(alisten, sizeof(alisten), "127.0.0.1:%d", port);
	if (bench_pair_homes(argv[3], port, n, adir, bdir))
		return 1;
	if ((ap = bench_start(argv[1], adir, alisten)) < 0) {
		fprintf(stderr, "alice's buddyd did not start\n");
		return 1;
	}
	t0 = bench_now_ms();
	if ((bp = bench_start(argv[1], bdir, "127.0.0.1:0")) < 0) {
		fprintf(stderr, "bob's buddyd did not start\n");
		kill(ap, SIGTERM);
		return 1;
	}
	/* polled every 20 ms with the CLI (~2 ms each): the figure is within ~20 ms */
	for (int i = 0; i < 30000 && (got = delivered(argv[2], adir)) < n + 1; i++) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	t1 = bench_now_ms();
	if (got == n + 1) {
		long ra = bench_rss_kib(ap), rb = bench_rss_kib(bp), ha = bench_hwm_kib(ap),
		     hb = bench_hwm_kib(bp);
		double rate = (n + 1) / ((t1 - t0) / 1e3);

		printf("sync of %ld posts (+1 commitment) over loopback, bob's start to alice's "
		       "last ack: %.0f ms, %.0f posts/s; RSS alice %ld KiB (peak %ld), bob %ld KiB "
		       "(peak %ld)\n",
		       n, t1 - t0, rate, ra, ha, rb, hb);
		printf("FIGURE sync_ms %.0f ms\nFIGURE sync_posts_per_s %.0f /s\n", t1 - t0, rate);
		printf("FIGURE sync_rss_alice_kib %ld KiB\nFIGURE sync_rss_bob_kib %ld KiB\n", ra,
		       rb);
		printf("FIGURE sync_peak_rss_alice_kib %ld KiB\nFIGURE sync_peak_rss_bob_kib %ld "
		       "KiB\n",
		       ha, hb);
	} else
		fprintf(stderr, "sync did not complete: %ld of %ld delivered\n", got, n + 1);
	kill(ap, SIGTERM);
	kill(bp, SIGTERM);
	waitpid(ap, NULL, 0);
	waitpid(bp, NULL, 0);
	return got == n + 1 ? 0 : 1;
}
