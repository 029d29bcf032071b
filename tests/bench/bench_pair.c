/* Two paired homes and daemons for the benchmarks (bench_pair.h). */
#include "bench_pair.h"
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
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 10000

struct home {
	struct buddy_home h;
	struct buddy_secrets *sec;
	struct buddy_store *s;
	struct buddy_journal *j;
};

double bench_now_ms(void)
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

int bench_free_port(void)
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

pid_t bench_start(const char *buddyd, const char *home, const char *listen)
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

/* A "Vm...: N kB" field of /proc/PID/status, in KiB; -1 if missing. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			kib = atol(line + len + 1);
			break;
		}
	fclose(f);
	return kib;
}

long bench_rss_kib(pid_t pid)
{
	return status_kib(pid, "VmRSS");
}

long bench_hwm_kib(pid_t pid)
{
	return status_kib(pid, "VmHWM");
}

int bench_pair_homes(const char *workdir, int alice_port, long n, char *adir, char *bdir)
{
	struct home a = {0}, b = {0};
	struct buddy_addr aaddr = {0};
	msgpack_sbuffer rec;
	int rc;

	snprintf(adir, 4096, "%s/alice", workdir);
	snprintf(bdir, 4096, "%s/bob", workdir);
	if (make_home(&a, adir) || make_home(&b, bdir)) {
		fprintf(stderr, "cannot create the homes under %s\n", workdir);
		return 1;
	}
	snprintf(aaddr.host, sizeof(aaddr.host), "127.0.0.1");
	aaddr.port = (uint16_t)alice_port;
	msgpack_sbuffer_init(&rec);
	rc = fill_alice(&a, b.sec->sign_pk, 0, n) ||
	     buddy_buddies_make_add(&rec, 1700000000, a.sec->sign_pk, "alice", &aaddr, 1) ||
	     add(&b, &rec) || flush(&b);
	msgpack_sbuffer_destroy(&rec);
	close_home(&a);
	close_home(&b);
	if (rc)
		fprintf(stderr, "cannot fill the homes\n");
	return rc ? 1 : 0;
}
