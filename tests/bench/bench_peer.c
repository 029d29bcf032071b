/* The peer transport of one buddyd: how many Noise XX handshakes per second it serves, and its
 * resident memory with N paired buddies connected at once. One process simulates the buddies:
 * it creates a home without passphrase holding N buddy records for identities it derives (seed
 * of identity i: BLAKE2b-256 of "bench-peer" || i as 4 bytes big-endian), starts buddyd on it
 * and dials it as those identities, Noise initiator on one libuv loop (proto/PROTOCOL.md).
 *
 * The simulated buddies do per handshake what buddyd's own initiator (daemon/peer.c) does: their
 * static public keys and the daemon's X25519 key are computed once, not per handshake, so that
 * the CPU this process takes from the daemon on a small machine is that of a real peer.
 *
 * A handshake counts as completed only when the daemon has admitted it: message 3 goes out with
 * a PING right behind it (an initiator may send at once) and the PONG must come back, which the
 * daemon sends only after message 3 passed its checks and the session is up. A connection the
 * daemon closes, or a message 2 that fails a check, is a failed handshake.
 *
 * For tests/bench/run.sh, also one line per figure: "FIGURE peer_idle_rss_kib <KiB> KiB" (N
 * buddies in its journal, none connected), "FIGURE handshakes_per_s", "FIGURE
 * handshakes_failed", "FIGURE sessions_up" and "FIGURE sessions_rss_kib" (N connected).
 *
 * Usage: bench_peer BUDDYD WORKDIR [N_BUDDIES=1000] [HANDSHAKES=5000] [CONCURRENCY=64]
 * The home is WORKDIR/home (it must not exist); it is removed at the end. */
#include "buddy/buddies.h"
#include "buddy/error.h"
#include "buddy/home.h"
#include "buddy/journal.h"
#include "buddy/keys.h"
#include "buddy/mp.h"
#include "buddy/noise.h"
#include "buddy/peer_wire.h"
#include "buddy/store.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#define BATCH	   10000
#define TIMEOUT_MS 120000
#define FRAME_HDR  2
#define RBUF	   2048 /* message 2 is at most 1122 bytes framed; transport frames are tiny */
#define HELLO_CAP  64	/* our hello: no addresses, 47 bytes */

struct ident {
	uint8_t pk[32];
	uint8_t xsk[32]; /* X25519 form of the Ed25519 secret key: the Noise static key */
	uint8_t xpk[32]; /* its public key */
	uint8_t hello[HELLO_CAP];
	size_t hello_len;
};

enum cl_state {
	CL_IDLE,
	CL_CONNECTING,
	CL_WAIT_MSG2, /* message 1 sent */
	CL_WAIT_PONG, /* message 3 and a PING sent */
	CL_UP,	      /* PONG received: the daemon admitted us */
	CL_CLOSING,
};

struct cli {
	uv_tcp_t tcp;
	uv_connect_t req;
	enum cl_state state;
	bool reuse; /* handshakes phase: start the next handshake once closed */
	size_t ident;
	struct buddy_noise_hs *hs;
	struct buddy_noise_cs *tx, *rx;
	size_t rlen;
	uint8_t rbuf[RBUF];
};

struct wreq {
	uv_write_t req;
	uint8_t buf[];
};

static struct {
	uv_loop_t loop;
	uv_timer_t deadline;
	bool timed_out;
	const char *phase;
	struct sockaddr_in to;
	uint8_t daemon_pk[32];
	uint8_t daemon_xpk[32]; /* its X25519 form: the Noise static key message 2 must carry */
	struct ident *ids;
	size_t n;
	/* the current phase */
	size_t target;	  /* handshakes to attempt */
	size_t started;	  /* attempted so far */
	size_t completed; /* admitted (PONG received) */
	size_t failed;	  /* refused, closed or broken before the PONG */
	size_t dropped;	  /* sessions phase: admitted, then closed by the daemon */
	size_t active;	  /* started and neither completed nor failed */
	uint64_t t0, t_end;
	char why[160]; /* the first failure */
} B;

/* ---- measuring the daemon ---- */

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

/* User plus system CPU seconds of a process (/proc/PID/stat fields 14 and 15). */
static double cpu_s(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[len] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- the simulated buddies ---- */

static void fail_why(const char *why, int ident)
{
	if (!B.why[0])
		snprintf(B.why, sizeof(B.why), "%s (buddy b%d)", why, ident);
}

static void on_closed(uv_handle_t *h);

static void cli_close(struct cli *c)
{
	if (c->state == CL_CLOSING || c->state == CL_IDLE)
		return;
	c->state = CL_CLOSING;
	buddy_noise_hs_free(c->hs);
	buddy_noise_cs_free(c->tx);
	buddy_noise_cs_free(c->rx);
	c->hs = NULL;
	c->tx = c->rx = NULL;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void start_more(void);

/* A handshake ended, either way. */
static void finished(void)
{
	B.active--;
	B.t_end = uv_hrtime();
	if (B.active == 0 && B.started == B.target)
		uv_stop(&B.loop);
}

static void cli_fail(struct cli *c, const char *why)
{
	if (c->state == CL_CLOSING || c->state == CL_IDLE)
		return;
	if (c->state == CL_UP) {
		B.dropped++;
		fail_why(why, (int)c->ident);
	} else {
		B.failed++;
		fail_why(why, (int)c->ident);
		cli_close(c);
		finished();
		start_more();
		return;
	}
	cli_close(c);
}

static void on_written(uv_write_t *req, int status)
{
	(void)status; /* a failed write shows up as a failed read */
	free(req);
}

/* Queues n frames (ptrs[i], lens[i]) in one write. */
static int cli_send(struct cli *c, const uint8_t *const *ptrs, const size_t *lens, size_t n)
{
	size_t total = 0, off = 0;
	struct wreq *w;
	uv_buf_t b;

	for (size_t i = 0; i < n; i++)
		total += FRAME_HDR + lens[i];
	w = malloc(sizeof(*w) + total);
	if (!w)
		return -1;
	for (size_t i = 0; i < n; i++) {
		w->buf[off] = (uint8_t)(lens[i] >> 8);
		w->buf[off + 1] = (uint8_t)lens[i];
		memcpy(w->buf + off + FRAME_HDR, ptrs[i], lens[i]);
		off += FRAME_HDR + lens[i];
	}
	b = uv_buf_init((char *)w->buf, (unsigned)total);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written)) {
		free(w);
		return -1;
	}
	return 0;
}

static int send_simple(struct cli *c, enum buddy_msg_type type, uint64_t n, uint8_t *out,
		       size_t cap, size_t *len)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	rc = buddy_msg_encode_simple(&sb, type, n);
	if (rc == 0)
		rc = buddy_noise_cs_encrypt(c->tx, NULL, 0, (const uint8_t *)sb.data, sb.size, out,
					    cap, len);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* Message 2: the daemon's hello must name the daemon and its Noise static key. Then message 3
 * with our hello, and a PING whose PONG proves that the daemon admitted us. */
static void on_msg2(struct cli *c, const uint8_t *f, size_t len)
{
	const struct ident *id = &B.ids[c->ident];
	uint8_t payload[BUDDY_HELLO_MAX], msg3[HELLO_CAP + 128], ping[64];
	const uint8_t *rs, *frames[2] = {msg3, ping};
	size_t plen, lens[2];
	struct buddy_hello h;

	if (buddy_noise_read_message(c->hs, f, len, payload, sizeof(payload), &plen) ||
	    !(rs = buddy_noise_remote_static(c->hs))) {
		cli_fail(c, "message 2 refused by Noise");
		return;
	}
	if (buddy_hello_decode(payload, plen, &h) || h.version != BUDDY_PEER_VERSION ||
	    sodium_memcmp(h.id, B.daemon_pk, 32) != 0 || sodium_memcmp(B.daemon_xpk, rs, 32) != 0) {
		cli_fail(c, "message 2 does not carry the daemon's hello");
		return;
	}
	if (buddy_noise_write_message(c->hs, id->hello, id->hello_len, msg3, sizeof(msg3),
				      &lens[0]) ||
	    buddy_noise_split(c->hs, &c->tx, &c->rx) ||
	    send_simple(c, BUDDY_MSG_PING, 1, ping, sizeof(ping), &lens[1]) ||
	    cli_send(c, frames, lens, 2)) {
		cli_fail(c, "cannot send message 3");
		return;
	}
	buddy_noise_hs_free(c->hs);
	c->hs = NULL;
	c->state = CL_WAIT_PONG;
}

static void on_transport(struct cli *c, uint8_t *f, size_t len)
{
	const msgpack_object *body;
	msgpack_unpacked u;
	uint64_t type, n;
	size_t plen;

	if (buddy_noise_cs_decrypt(c->rx, NULL, 0, f, len, f, len, &plen)) {
		cli_fail(c, "a transport message does not decrypt");
		return;
	}
	msgpack_unpacked_init(&u);
	if (buddy_msg_decode(f, plen, &u, &type, &body)) {
		cli_fail(c, "a malformed transport message");
	} else if (type == BUDDY_MSG_PONG && c->state == CL_WAIT_PONG) {
		c->state = CL_UP;
		B.completed++;
		finished();
		if (c->reuse)
			cli_close(c); /* the next handshake starts once it is closed */
		else
			start_more();
	} else if (type == BUDDY_MSG_PING) {
		/* the daemon's keepalive, after 30 s of silence: answer it */
		uint8_t pong[64];
		const uint8_t *frames[1] = {pong};
		size_t lens[1];

		if (buddy_mp_uint(buddy_mp_get(body, "n"), &n) ||
		    send_simple(c, BUDDY_MSG_PONG, n, pong, sizeof(pong), &lens[0]) ||
		    cli_send(c, frames, lens, 1))
			cli_fail(c, "cannot answer a PING");
	}
	msgpack_unpacked_destroy(&u);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct cli *c = h->data;

	(void)suggested;
	*b = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(sizeof(c->rbuf) - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct cli *c = s->data;
	size_t off = 0;

	(void)b;
	if (nread == 0 || c->state == CL_CLOSING)
		return;
	if (nread < 0) {
		cli_fail(c, nread == UV_EOF ? "closed by the daemon" : uv_strerror((int)nread));
		return;
	}
	c->rlen += (size_t)nread;
	while (c->state != CL_CLOSING && c->rlen - off >= FRAME_HDR) {
		size_t flen = (size_t)c->rbuf[off] << 8 | c->rbuf[off + 1];

		if (flen == 0 || flen > RBUF - FRAME_HDR) {
			cli_fail(c, "a frame of an unexpected length");
			return;
		}
		if (c->rlen - off < FRAME_HDR + flen)
			break;
		if (c->state == CL_WAIT_MSG2)
			on_msg2(c, c->rbuf + off + FRAME_HDR, flen);
		else
			on_transport(c, c->rbuf + off + FRAME_HDR, flen);
		off += FRAME_HDR + flen;
	}
	if (c->state == CL_CLOSING)
		return;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
}

static void on_connect(uv_connect_t *req, int status)
{
	struct cli *c = req->data;
	struct buddy_noise_params prm = {
		.role = BUDDY_NOISE_INITIATOR,
		.prologue = (const uint8_t *)BUDDY_PEER_PROLOGUE,
		.prologue_len = sizeof(BUDDY_PEER_PROLOGUE) - 1,
		.local_static = B.ids[c->ident].xsk,
		.local_static_pub = B.ids[c->ident].xpk,
	};
	uint8_t msg1[64];
	const uint8_t *frames[1] = {msg1};
	size_t lens[1];

	if (status == UV_ECANCELED || c->state != CL_CONNECTING)
		return;
	if (status < 0) {
		cli_fail(c, uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (buddy_noise_hs_new(&prm, &c->hs) ||
	    buddy_noise_write_message(c->hs, NULL, 0, msg1, sizeof(msg1), &lens[0]) ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) ||
	    cli_send(c, frames, lens, 1)) {
		cli_fail(c, "cannot send message 1");
		return;
	}
	c->state = CL_WAIT_MSG2;
}

/* Dials the daemon as the next identity, round robin. */
static void cli_start(struct cli *c)
{
	c->ident = B.started % B.n;
	c->rlen = 0;
	c->state = CL_CONNECTING;
	B.started++;
	B.active++;
	uv_tcp_init(&B.loop, &c->tcp);
	c->tcp.data = c;
	c->req.data = c;
	if (uv_tcp_connect(&c->req, &c->tcp, (const struct sockaddr *)&B.to, on_connect))
		cli_fail(c, "cannot connect");
}

static void on_closed(uv_handle_t *h)
{
	struct cli *c = h->data;

	c->state = CL_IDLE;
	if (c->reuse && B.started < B.target)
		cli_start(c);
}

/* The sessions phase keeps every connection: its clients are an array of N, started in order
 * with at most CONCURRENCY handshakes in flight. */
static struct cli *sessions;

static void start_more(void)
{
	if (sessions && B.started < B.target)
		cli_start(&sessions[B.started]);
}

static void on_deadline(uv_timer_t *t)
{
	(void)t;
	B.timed_out = true;
	uv_stop(&B.loop);
}

static void phase_begin(const char *name, size_t target)
{
	B.phase = name;
	B.target = target;
	B.started = B.completed = B.failed = B.dropped = B.active = 0;
	B.why[0] = 0;
	B.t0 = B.t_end = uv_hrtime();
}

/* ---- setup and teardown ---- */

static int add(struct buddy_store *s, struct buddy_journal *j, msgpack_sbuffer *rec)
{
	int rc = buddy_journal_apply(j, (const uint8_t *)rec->data, rec->size);

	if (rc == 0)
		rc = buddy_store_stage(s, (const uint8_t *)rec->data, rec->size);
	msgpack_sbuffer_clear(rec);
	if (rc == 0 && buddy_store_staged(s) >= BATCH) {
		struct buddy_store_batch *b = buddy_store_take(s);
		rc = buddy_store_write(s, b);
		buddy_store_batch_free(b);
	}
	return rc;
}

/* A home without passphrase whose journal holds a buddy record for each identity. */
static int make_home(const char *home)
{
	struct buddy_secrets *sec = NULL;
	struct buddy_journal *j = buddy_journal_new();
	struct buddy_store *s = NULL;
	struct buddy_store_batch *b;
	msgpack_sbuffer rec;
	struct buddy_home h;
	int rc;

	if (!j || setenv("BUDDY_HOME", home, 1) || buddy_home_resolve(&h) ||
	    buddy_home_create(&h) || buddy_keys_create(h.keys, NULL, 0, BUDDY_KDF_NONE, &sec) ||
	    buddy_store_open(h.journal, sec->data_key, NULL, NULL, &s, NULL)) {
		fprintf(stderr, "cannot create a home at %s (it must not exist)\n", home);
		buddy_secrets_free(sec);
		buddy_journal_free(j);
		return -1;
	}
	memcpy(B.daemon_pk, sec->sign_pk, 32);
	msgpack_sbuffer_init(&rec);
	rc = crypto_sign_ed25519_pk_to_curve25519(B.daemon_xpk, B.daemon_pk) != 0 ? -1 : 0;
	for (size_t i = 0; i < B.n && !rc; i++) {
		struct ident *id = &B.ids[i];
		struct buddy_hello hello = {.version = BUDDY_PEER_VERSION};
		uint8_t in[14] = "bench-peer", seed[32], sk[64];
		char name[24];

		in[10] = (uint8_t)(i >> 24);
		in[11] = (uint8_t)(i >> 16);
		in[12] = (uint8_t)(i >> 8);
		in[13] = (uint8_t)i;
		crypto_generichash(seed, sizeof(seed), in, sizeof(in), NULL, 0);
		crypto_sign_seed_keypair(id->pk, sk, seed);
		memcpy(hello.id, id->pk, 32);
		snprintf(name, sizeof(name), "b%zu", i);
		rc = crypto_sign_ed25519_sk_to_curve25519(id->xsk, sk) ||
		     crypto_scalarmult_base(id->xpk, id->xsk) ||
		     buddy_hello_encode(&hello, id->hello, sizeof(id->hello), &id->hello_len) ||
		     buddy_buddies_make_add(&rec, 1700000000, id->pk, name, NULL, 0) ||
		     add(s, j, &rec);
		sodium_memzero(sk, sizeof(sk));
	}
	b = buddy_store_take(s);
	if (!rc && b)
		rc = buddy_store_write(s, b);
	buddy_store_batch_free(b);
	if (rc)
		fprintf(stderr, "cannot write the buddy records: %s\n", buddy_strerror(rc));
	msgpack_sbuffer_destroy(&rec);
	buddy_store_close(s);
	buddy_journal_free(j);
	buddy_secrets_free(sec);
	return rc ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* A port that was free a moment ago on 127.0.0.1. */
static int free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Starts buddyd listening on 127.0.0.1:port and waits for its "ready" line. */
static pid_t start_daemon(const char *buddyd, int port)
{
	char listen[32], fd[16], buf[8];
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(fd, sizeof(fd), "%d", p[1]);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		execl(buddyd, buddyd, "--listen", listen, "--ready-fd", fd, "--log-level", "error",
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], buf, sizeof(buf)) <= 0) {
		fprintf(stderr, "buddyd did not become ready\n");
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

/* Room for N connections here and in the daemon (which inherits the limit). */
static void raise_nofile(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
		fprintf(stderr, "warning: only %lu file descriptors (%zu wanted)\n",
			(unsigned long)rl.rlim_cur, want);
}

static void report_failures(void)
{
	if (B.why[0])
		printf("  first failure: %s\n", B.why);
}

int main(int argc, char **argv)
{
	long n = argc > 3 ? atol(argv[3]) : 1000, hs = argc > 4 ? atol(argv[4]) : 5000,
	     conc = argc > 5 ? atol(argv[5]) : 64;
	char home[BUDDY_PATH_MAX];
	struct cli *slots = NULL;
	long idle_rss, rss_hs, rss_sessions;
	double secs, dcpu, scpu;
	size_t up;
	int port, st, rc = 1;
	pid_t pid;

	if (argc < 3 || argc > 6 || n < 1 || n > 1000000 || hs < 1 || conc < 1) {
		fprintf(stderr, "usage: bench_peer BUDDYD WORKDIR [N_BUDDIES=1000] "
				"[HANDSHAKES=5000] [CONCURRENCY=64]\n");
		return 2;
	}
	if (conc > n)
		conc = n; /* two connections of one buddy at once would replace each other */
	B.n = (size_t)n;
	if (sodium_init() < 0 || !(B.ids = calloc(B.n, sizeof(*B.ids))) ||
	    (size_t)snprintf(home, sizeof(home), "%s/home", argv[2]) >= sizeof(home))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(B.n + (size_t)conc + 256);

	if (make_home(home))
		return 1;
	port = free_port();
	if (port < 0 || uv_ip4_addr("127.0.0.1", port, &B.to)) {
		fprintf(stderr, "no free port on 127.0.0.1\n");
		goto out_home;
	}
	pid = start_daemon(argv[1], port);
	if (pid < 0)
		goto out_home;
	idle_rss = rss_kib(pid);
	printf("daemon idle RSS: %ld KiB (%ld buddies in its journal, listening on 127.0.0.1 port "
	       "%d)\n",
	       idle_rss, n, port);
	printf("FIGURE peer_idle_rss_kib %ld KiB\n", idle_rss);
	fflush(stdout);

	uv_loop_init(&B.loop);
	uv_timer_init(&B.loop, &B.deadline);
	uv_timer_start(&B.deadline, on_deadline, TIMEOUT_MS, 0);

	/* handshakes/s: CONCURRENCY connections in flight, each closed once admitted */
	slots = calloc((size_t)conc, sizeof(*slots));
	if (!slots)
		goto out_daemon;
	phase_begin("handshakes", (size_t)hs);
	dcpu = cpu_s(pid);
	scpu = self_cpu_s();
	for (long i = 0; i < conc && B.started < B.target; i++) {
		slots[i].reuse = true;
		cli_start(&slots[i]);
	}
	uv_run(&B.loop, UV_RUN_DEFAULT);
	secs = (double)(B.t_end - B.t0) / 1e9;
	dcpu = cpu_s(pid) - dcpu;
	scpu = self_cpu_s() - scpu;
	rss_hs = rss_kib(pid);
	printf("handshakes: %zu in %.3f s = %.0f/s (%ld in flight), %zu failed; daemon RSS after "
	       "%ld KiB\n",
	       B.completed, secs, secs > 0 ? (double)B.completed / secs : 0.0, conc, B.failed,
	       rss_hs);
	if (!B.timed_out)
		printf("FIGURE handshakes_per_s %.0f /s\nFIGURE handshakes_failed %zu count\n",
		       secs > 0 ? (double)B.completed / secs : 0.0, B.failed);
	printf("cpu during handshakes: daemon %.0f%% of one core, bench process %.0f%%\n",
	       secs > 0 ? 100 * dcpu / secs : 0.0, secs > 0 ? 100 * scpu / secs : 0.0);
	report_failures();
	fflush(stdout);
	if (B.timed_out)
		goto timed_out;

	/* RSS with N buddies connected: every connection kept open once admitted */
	for (long i = 0; i < conc; i++)
		slots[i].reuse = false; /* a close still pending must not start anything */
	sessions = calloc(B.n, sizeof(*sessions));
	if (!sessions)
		goto out_daemon;
	phase_begin("sessions", B.n);
	for (long i = 0; i < conc; i++)
		start_more();
	uv_run(&B.loop, UV_RUN_DEFAULT);
	secs = (double)(B.t_end - B.t0) / 1e9;
	/* one more turn of the loop: a session the daemon closes right away is not counted */
	uv_run(&B.loop, UV_RUN_NOWAIT);
	up = 0;
	for (size_t i = 0; i < B.n; i++)
		up += sessions[i].state == CL_UP;
	rss_sessions = rss_kib(pid);
	printf("sessions: %zu connected, daemon RSS %ld KiB (idle %ld KiB, %+.1f KiB a session); "
	       "%zu failed, %zu dropped, all up in %.3f s\n",
	       up, rss_sessions, idle_rss,
	       up ? (double)(rss_sessions - idle_rss) / (double)up : 0.0, B.failed, B.dropped,
	       secs);
	printf("FIGURE sessions_up %zu count\nFIGURE sessions_rss_kib %ld KiB\n", up, rss_sessions);
	report_failures();
	fflush(stdout);
	if (B.timed_out)
		goto timed_out;
	rc = up == B.n ? 0 : 1;

	for (size_t i = 0; i < B.n; i++)
		cli_close(&sessions[i]);
	uv_close((uv_handle_t *)&B.deadline, NULL);
	uv_run(&B.loop, UV_RUN_DEFAULT);
	uv_loop_close(&B.loop);
	goto out_daemon;

timed_out:
	printf("timed out after %d s in the %s phase: %zu of %zu handshakes completed, %zu "
	       "failed, %zu in flight\n",
	       TIMEOUT_MS / 1000, B.phase, B.completed, B.target, B.failed, B.active);
	rc = 1;
out_daemon:
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("buddyd did not stop cleanly on SIGTERM (status %d)\n", st);
			rc = 1;
		}
	} else {
		printf("buddyd died during the benchmark (status %d)\n", st);
		rc = 1;
	}
out_home:
	nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(sessions);
	free(slots);
	free(B.ids);
	return rc;
}
