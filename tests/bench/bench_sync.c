/* Share-stream sync throughput: how long bob's daemon takes to receive and durably store N
 * posts that alice's daemon queued while bob was away, over loopback, from bob's start (he
 * dials alice as soon as he is unlocked) to alice recording bob's acknowledgement of the last
 * post. Both homes are written straight through the store (as bench_fill does): alice holds a
 * commitment shared with bob and N shared check-ins, each a type-30 record with its post, so
 * only the sync is timed. Usage: bench_sync BUDDYD BUDDY WORKDIR N */
#include "buddy/buddies.h"
#include "buddy/error.h"
#include "buddy/home.h"
#include "buddy/journal.h"
#include "buddy/keys.h"
#include "buddy/post.h"
#include "buddy/store.h"
#include "buddy/streams.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 10000

struct home {
	struct buddy_home h;
	struct buddy_secrets *sec;
	struct buddy_store *s;
	struct buddy_journal *j;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int flush(struct home *x)
{
	struct buddy_store_batch *b = buddy_store_take(x->s);
	int rc = b ? buddy_store_write(x->s, b) : 0;

	buddy_store_batch_free(b);
	return rc;
}

static int add(struct home *x, msgpack_sbuffer *rec)
{
	int rc = buddy_journal_apply(x->j, (const uint8_t *)rec->data, rec->size);

	if (rc == 0)
		rc = buddy_store_stage(x->s, (const uint8_t *)rec->data, rec->size);
	msgpack_sbuffer_clear(rec);
	if (rc == 0 && buddy_store_staged(x->s) >= BATCH)
		rc = flush(x);
	return rc;
}

static int make_home(struct home *x, const char *dir)
{
	x->j = buddy_journal_new();
	return !x->j || setenv("BUDDY_HOME", dir, 1) || buddy_home_resolve(&x->h) ||
	       buddy_home_create(&x->h) ||
	       buddy_keys_create(x->h.keys, NULL, 0, BUDDY_KDF_NONE, &x->sec) ||
	       buddy_store_open(x->h.journal, x->sec->data_key, NULL, NULL, &x->s, NULL);
}

static void close_home(struct home *x)
{
	buddy_store_close(x->s);
	buddy_journal_free(x->j);
	buddy_secrets_free(x->sec);
}

/* A record with one post to pk around inner (NULL: the post alone). */
static int add_posted(struct home *x, const uint8_t pk[32], int64_t now, msgpack_sbuffer *inner,
		      enum buddy_post_type type, msgpack_sbuffer *body, msgpack_sbuffer *rec)
{
	struct buddy_posting *pg = buddy_posting_new();
	int rc = !pg ||
		 buddy_posting_add(pg, buddy_journal_streams(x->j), pk, now, type,
				   (const uint8_t *)body->data, body->size) ||
		 buddy_streams_make_posted(rec, now, (const uint8_t *)inner->data, inner->size, pg);

	buddy_posting_free(pg);
	msgpack_sbuffer_clear(inner);
	msgpack_sbuffer_clear(body);
	return rc || add(x, rec);
}

static int fill_alice(struct home *a, const uint8_t bob[32], int port, long n)
{
	struct buddy_commit_spec c = {.id = "run",
				      .title = "Run 3 times a week",
				      .cadence = {.kind = BUDDY_CADENCE_WEEKLY, .n = 3},
				      .tz = "UTC"};
	struct buddy_post_commitment pc = {.id = "run",
					   .title = c.title,
					   .title_len = strlen(c.title),
					   .cadence = c.cadence,
					   .tz = "UTC",
					   .created = 1700000000,
					   .on = true};
	struct buddy_addr addr = {.port = (uint16_t)port};
	msgpack_sbuffer rec, inner, body;
	const char *why = "";
	int64_t t = 1700000000;
	int rc;

	snprintf(addr.host, sizeof(addr.host), "127.0.0.1");
	msgpack_sbuffer_init(&rec);
	msgpack_sbuffer_init(&inner);
	msgpack_sbuffer_init(&body);
	rc = buddy_buddies_make_add(&rec, t, bob, "bob", &addr, 0) || add(a, &rec) ||
	     buddy_journal_make_commit_add(a->j, &c, t, &rec, &why) || add(a, &rec) ||
	     buddy_streams_make_shared(&inner, t, "run", bob, true) ||
	     buddy_post_write_commitment(&body, &pc) ||
	     add_posted(a, bob, t, &inner, BUDDY_POST_COMMITMENT, &body, &rec);
	for (long i = 0; i < n && !rc; i++) {
		char text[160];
		uint64_t id;
		struct buddy_entry_spec e = {.kind = BUDDY_ENTRY_CHECKIN,
					     .commit = "run",
					     .status = BUDDY_CHECKIN_DONE,
					     .text = text};
		struct buddy_post_entry pe = {
			.commit = "run", .status = BUDDY_CHECKIN_DONE, .text = text};
		e.text_len = pe.text_len = (size_t)snprintf(
			text, sizeof(text), "check-in %ld: 5 km along the river", i);
		t += 60;
		rc = buddy_journal_make_entry(a->j, &e, t, &inner, &id, &why);
		pe.e = id;
		pe.at = t;
		rc = rc || buddy_post_write_entry(&body, &pe) ||
		     add_posted(a, bob, t, &inner, BUDDY_POST_CHECKIN, &body, &rec);
	}
	msgpack_sbuffer_destroy(&rec);
	msgpack_sbuffer_destroy(&inner);
	msgpack_sbuffer_destroy(&body);
	return rc || flush(a);
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t start(const char *buddyd, const char *home, const char *listen)
{
	int p[2];
	char fd[16], buf[8];
	pid_t pid;

	if (pipe(p))
		return -1;
	snprintf(fd, sizeof(fd), "%d", p[1]);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		setenv("BUDDY_HOME", home, 1);
		execl(buddyd, buddyd, "--listen", listen, "--ready-fd", fd, "--log-level", "error",
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], buf, sizeof(buf)) <= 0)
		pid = -1;
	close(p[0]);
	return pid;
}

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

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	struct home a = {0}, b = {0};
	char adir[4096], bdir[4096], alisten[64];
	struct buddy_addr aaddr = {0};
	msgpack_sbuffer rec;
	double t0, t1;
	long n, got = -1;
	int port, rc;
	pid_t ap, bp;

	if (argc != 5 || (n = atol(argv[4])) <= 0) {
		fprintf(stderr, "usage: bench_sync BUDDYD BUDDY WORKDIR N\n");
		return 2;
	}
	if (sodium_init() < 0 || (port = free_port()) < 0)
		return 1;
	snprintf(adir, sizeof(adir), "%s/alice", argv[3]);
	snprintf(bdir, sizeof(bdir), "%s/bob", argv[3]);
	snprintf(alisten, sizeof(alisten), "127.0.0.1:%d", port);
	if (make_home(&a, adir) || make_home(&b, bdir)) {
		fprintf(stderr, "cannot create the homes under %s\n", argv[3]);
		return 1;
	}
	snprintf(aaddr.host, sizeof(aaddr.host), "127.0.0.1");
	aaddr.port = (uint16_t)port;
	msgpack_sbuffer_init(&rec);
	rc = fill_alice(&a, b.sec->sign_pk, 0, n) ||
	     buddy_buddies_make_add(&rec, 1700000000, a.sec->sign_pk, "alice", &aaddr, 1) ||
	     add(&b, &rec) || flush(&b);
	msgpack_sbuffer_destroy(&rec);
	close_home(&a);
	close_home(&b);
	if (rc) {
		fprintf(stderr, "cannot fill the homes: %s\n", buddy_strerror(rc));
		return 1;
	}
	if ((ap = start(argv[1], adir, alisten)) < 0) {
		fprintf(stderr, "alice's buddyd did not start\n");
		return 1;
	}
	t0 = now_ms();
	if ((bp = start(argv[1], bdir, "127.0.0.1:0")) < 0) {
		fprintf(stderr, "bob's buddyd did not start\n");
		kill(ap, SIGTERM);
		return 1;
	}
	/* polled every 20 ms with the CLI (~2 ms each): the figure is within ~20 ms */
	for (int i = 0; i < 30000 && (got = delivered(argv[2], adir)) < n + 1; i++) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	t1 = now_ms();
	if (got == n + 1)
		printf("sync of %ld posts (+1 commitment) over loopback, bob's start to alice's "
		       "last "
		       "ack: %.0f ms, %.0f posts/s; RSS alice %ld KiB, bob %ld KiB\n",
		       n, t1 - t0, (n + 1) / ((t1 - t0) / 1e3), rss_kib(ap), rss_kib(bp));
	else
		fprintf(stderr, "sync did not complete: %ld of %ld delivered\n", got, n + 1);
	kill(ap, SIGTERM);
	kill(bp, SIGTERM);
	waitpid(ap, NULL, 0);
	waitpid(bp, NULL, 0);
	return got == n + 1 ? 0 : 1;
}
