/* Shared by the sync and notification benchmarks: two homes, alice and bob, written straight
 * through the store (as bench_fill does): paired with each other, alice's commitment "run"
 * shared with bob, and N shared check-ins of alice's queued for bob; plus starting buddyd and
 * reading a process's memory. */
#ifndef BENCH_PAIR_H
#define BENCH_PAIR_H

#include <stddef.h>
#include <sys/types.h>

double bench_now_ms(void);
int bench_free_port(void);
/* Creates WORKDIR/alice and WORKDIR/bob as above; alice listens on alice_port (bob dials
 * her there). adir and bdir get the two home paths (size 4096). */
int bench_pair_homes(const char *workdir, int alice_port, long n, char *adir, char *bdir);
/* Starts buddyd for home, listening on listen; returns its pid once it serves, or -1. */
pid_t bench_start(const char *buddyd, const char *home, const char *listen);
long bench_rss_kib(pid_t pid); /* resident now (VmRSS) */
long bench_hwm_kib(pid_t pid); /* resident at its peak so far (VmHWM) */

#endif
