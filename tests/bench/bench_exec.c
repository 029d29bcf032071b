/* Runs a command N times (fork + exec, no shell) and prints the median and 90th percentile of
 * its wall time, process start to exit, plus the exit status of any run that failed. With
 * -f NAME, also lines for tests/bench/run.sh: "FIGURE NAME_median_ms <ms> ms", the same for p90.
 * Usage: bench_exec [-f NAME] N COMMAND [ARGS...] */
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

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *figure = NULL;
	int n, failed = 0;
	double *t;

	if (argc > 2 && strcmp(argv[1], "-f") == 0) {
		figure = argv[2];
		argc -= 2;
		argv += 2;
	}
	n = argc > 2 ? atoi(argv[1]) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: bench_exec [-f NAME] N COMMAND [ARGS...]\n");
		return 2;
	}
	t = calloc((size_t)n, sizeof(*t));
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();
		int st;
		pid_t pid = fork();
		if (pid == 0) {
			if (!freopen("/dev/null", "w", stdout))
				_exit(127);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		t[i] = now_ms() - t0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%d runs: median %.3f ms, p90 %.3f ms, min %.3f ms, max %.3f ms, %d failed\n", n,
	       t[n / 2], t[(n * 9) / 10], t[0], t[n - 1], failed);
	if (figure) {
		printf("FIGURE %s_median_ms %.3f ms\n", figure, t[n / 2]);
		printf("FIGURE %s_p90_ms %.3f ms\n", figure, t[(n * 9) / 10]);
	}
	free(t);
	return failed ? 1 : 0;
}
