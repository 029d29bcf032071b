/* Starts buddyd on an existing home (without passphrase, so it unlocks at start) and measures
 * the time from exec to serving requests (its --ready-fd), then its resident memory. Repeats
 * R times and prints the median. For tests/bench/run.sh, also "FIGURE start_ms <median> ms" and
 * "FIGURE start_rss_kib <KiB> KiB" (VmRSS when serving, last run).
 * Usage: bench_start BUDDYD HOME [R] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	if (f)
		fclose(f);
	return kib;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int runs = argc > 3 ? atoi(argv[3]) : 5;
	double t[64];
	long rss = 0;

	if (argc < 3 || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: bench_start BUDDYD HOME [RUNS<=64]\n");
		return 2;
	}
	setenv("BUDDY_HOME", argv[2], 1);
	for (int i = 0; i < runs; i++) {
		int p[2], st;
		char fd[16], buf[8];
		double t0;
		pid_t pid;

		if (pipe(p))
			return 1;
		snprintf(fd, sizeof(fd), "%d", p[1]);
		t0 = now_ms();
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			execl(argv[1], argv[1], "--listen", "127.0.0.1:0", "--ready-fd", fd,
			      "--log-level", "error", (char *)NULL);
			_exit(127);
		}
		close(p[1]);
		if (read(p[0], buf, sizeof(buf)) <= 0) {
			fprintf(stderr, "buddyd did not become ready\n");
			return 1;
		}
		t[i] = now_ms() - t0;
		close(p[0]);
		rss = rss_kib(pid);
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
	qsort(t, (size_t)runs, sizeof(t[0]), cmp);
	printf("start to serving: median %.1f ms (min %.1f, max %.1f, %d runs); RSS when serving "
	       "%ld "
	       "KiB\n",
	       t[runs / 2], t[0], t[runs - 1], runs, rss);
	printf("FIGURE start_ms %.1f ms\nFIGURE start_rss_kib %ld KiB\n", t[runs / 2], rss);
	return 0;
}
