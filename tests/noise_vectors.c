/* noise-vectors FILE: replays every vector of a cacophony-format file through daemon/noise.c
 * in both roles. Prints the failures on stderr, then "N skipped" and, last, "N passed, N failed"
 * on stdout; exits 0 only when nothing failed. A file that cannot be read counts as a failure.
 * -v also lists the skipped vectors and why. */
#include "noise_replay.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct noise_replay_counts c = {0};
	int verbose = argc == 3 && strcmp(argv[1], "-v") == 0;

	if (argc != 2 + verbose) {
		fprintf(stderr, "Usage: %s [-v] FILE\n", argv[0]);
		return 2;
	}
	if (noise_replay_file(argv[1 + verbose], &c, stderr, verbose) != 0)
		c.failed++;
	fflush(stderr);
	printf("%u skipped\n", c.skipped);
	printf("%u passed, %u failed\n", c.passed, c.failed);
	return c.failed ? 1 : 0;
}
