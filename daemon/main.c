/* buddyd: the daemon that owns one buddy home. Parses arguments, checks the home, takes its
 * lock, starts the control socket and runs the loop until SIGINT or SIGTERM. */
#include "buddy/clock.h"
#include "buddy/control.h"
#include "buddy/daemon.h"
#include "buddy/deadlines.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/passfile.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] =
	"Usage: buddyd [options]\n"
	"\n"
	"Runs the buddy daemon for one buddy home in the foreground, logging to stderr.\n"
	"While the journal is unlocked it also listens for buddies and keeps an encrypted\n"
	"connection with each (Noise XX over TCP).\n"
	"The home is $BUDDY_HOME, else $XDG_DATA_HOME/buddy, else ~/.local/share/buddy;\n"
	"create it first with `buddy init`. The daemon starts locked when the journal has a\n"
	"passphrase: unlock it with `buddy unlock`, or here with --passphrase-file.\n"
	"\n"
	"Options:\n"
	"  --passphrase-file F  unlock at start with the passphrase in F (one line)\n"
	"  --listen HOST:PORT   where buddies connect (repeatable; default [peer] listen in\n"
	"                       the config, else 0.0.0.0:7654 and [::]:7654, all interfaces;\n"
	"                       port 0 picks a free port)\n"
	"  --advertise HOST:PORT  where buddies should dial me instead of the --listen\n"
	"                       addresses (repeatable), e.g. a port forwarded to this one;\n"
	"                       overrides [peer] advertise in the config\n"
	"  --log-level LEVEL    error, warn, info (default) or debug; overrides [daemon]\n"
	"                       log_level in the config\n"
	"  --ready-fd N         write \"ready\\n\" to file descriptor N once serving, then close "
	"it\n"
	"  -h, --help           show this help\n"
	"  -V, --version        show the version\n"
	"\n"
	"Environment:\n"
	"  BUDDY_HOME           the buddy home\n"
	"  BUDDY_TEST_CLOCK     freeze the clock at these Unix seconds (tests only)\n"
	"\n"
	"SIGINT and SIGTERM stop it cleanly: appends in flight are finished first.\n"
	"SIGHUP reads $BUDDY_HOME/config again (like `buddy config` after a change): a malformed\n"
	"file is logged and the old configuration kept.\n";

static struct buddyd daemon_state;
static uv_signal_t sigint_h, sigterm_h, sighup_h;
static int ready_fd = -1;
static int exit_code;

static void announce_ready(struct buddyd *d)
{
	log_info("serving %s (pid %d, %s)", d->home.sock, (int)getpid(),
		 d->state == BUDDYD_UNLOCKED ? "unlocked" : "locked");
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "ready\n", 6);
		(void)w;
		close(ready_fd);
		ready_fd = -1;
	}
}

static void stop(struct buddyd *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	buddyd_pairing_stop(d);
	buddyd_deadlines_stop(d);
	buddyd_notify_stop(d); /* running hooks are killed: nothing outlives the daemon */
	buddy_control_stop(d->control);
	d->control = NULL;
	uv_close((uv_handle_t *)&sigint_h, NULL);
	uv_close((uv_handle_t *)&sigterm_h, NULL);
	uv_close((uv_handle_t *)&sighup_h, NULL);
	/* appends in flight are uv_work requests: uv_run returns only after they complete */
}

static void on_signal(uv_signal_t *h, int signum)
{
	log_info("%s: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	stop(h->data);
}

/* SIGHUP: read the configuration again (a malformed one is logged and the old one kept) */
static void on_sighup(uv_signal_t *h, int signum)
{
	struct buddyd_config_changes ch;
	char err[512] = "";

	(void)signum;
	log_info("SIGHUP: reloading the configuration");
	(void)buddyd_config_reload(h->data, &ch, err, sizeof(err));
}

static void start_unlocked(struct buddyd *d, void *arg, int status, const char *detail)
{
	(void)arg;
	if (status) {
		log_error("cannot unlock at start: %s%s%s",
			  status == BUDDY_E_AUTH ? "wrong passphrase" : buddy_strerror(status),
			  detail ? ": " : "", detail ? detail : "");
		exit_code = 1;
		stop(d);
		return;
	}
	announce_ready(d);
}

/* $BUDDY_HOME/config: optional; a malformed one stops buddyd before it serves anything, so a
 * typo in a hook never goes unnoticed. */
static int load_config(struct buddyd *d)
{
	char path[BUDDY_PATH_MAX + 16], err[256] = "";
	int rc;

	snprintf(path, sizeof(path), "%s/config", d->home.dir);
	rc = buddy_config_load(path, &d->config, err, sizeof(err));
	if (rc)
		/* the parser's messages name the file themselves ("FILE:LINE: key: why") */
		log_error("refusing to start: %s%s%s", err[0] ? "" : path, err[0] ? "" : ": ",
			  err[0] ? err : buddy_strerror(rc));
	return rc;
}

static int take_lock(const struct buddy_home *h)
{
	int fd = open(h->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		log_error("cannot open %s: %s", h->lock, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			log_error("another buddyd is already running for %s", h->dir);
		else
			log_error("cannot lock %s: %s", h->lock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd; /* held until exit */
}

static int harden(void)
{
	struct rlimit no_core = {0, 0};

	/* no core dump, no ptrace by other processes of this user: memory holds keys */
	if (prctl(PR_SET_DUMPABLE, 0) || setrlimit(RLIMIT_CORE, &no_core))
		return -1;
	/* a write to a closed connection, or past a file size limit, must fail (and a journal
	 * write roll back), not kill the daemon */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		return -1;
	umask(077);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"passphrase-file", required_argument, NULL, 'p'},
		{"log-level", required_argument, NULL, 'l'},
		{"ready-fd", required_argument, NULL, 'r'},
		{"listen", required_argument, NULL, 'L'},
		{"advertise", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct buddyd *d = &daemon_state;
	const char *passfile = NULL;
	char why[BUDDY_PATH_MAX + 128];
	enum buddy_log_level lvl;
	uv_loop_t loop;
	char *end;
	int c, rc, lockfd;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			passfile = optarg;
			break;
		case 'l':
			if (buddy_log_level_parse(optarg, &lvl)) {
				fprintf(stderr,
					"buddyd: unknown log level \"%s\" (error, warn, "
					"info, debug)\n",
					optarg);
				return 2;
			}
			buddy_log_set_level(lvl);
			d->log_level_cli = true;
			break;
		case 'r':
			errno = 0;
			ready_fd = (int)strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || ready_fd < 0 ||
			    fcntl(ready_fd, F_GETFD) < 0) {
				fprintf(stderr, "buddyd: --ready-fd %s is not an open descriptor\n",
					optarg);
				return 2;
			}
			break;
		case 'L':
			if (d->nlisten == BUDDY_PEER_ADDRS_MAX ||
			    buddy_config_parse_listen(optarg, &d->listen[d->nlisten])) {
				fprintf(stderr,
					"buddyd: --listen takes HOST:PORT with a numeric IPv4 or "
					"[IPv6] host (at most %d), not \"%s\"\n",
					BUDDY_PEER_ADDRS_MAX, optarg);
				return 2;
			}
			d->nlisten++;
			d->listen_cli = true;
			break;
		case 'A':
			/* sent in hellos and invites in place of the bound addresses: where a
			 * buddy reaches this daemon through a forwarded port (or a relay) */
			if (d->nadvertise == BUDDY_PEER_ADDRS_MAX ||
			    buddy_config_parse_advertise(optarg, &d->advertise[d->nadvertise])) {
				fprintf(stderr,
					"buddyd: --advertise takes HOST:PORT with a numeric "
					"IPv4 or [IPv6] host and a port other than 0 (at most "
					"%d), not \"%s\"\n",
					BUDDY_PEER_ADDRS_MAX, optarg);
				return 2;
			}
			d->nadvertise++;
			d->advertise_cli = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("buddyd %s\n", BUDDY_VERSION);
			return 0;
		default:
			fputs("Try: buddyd --help\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "buddyd: unexpected argument \"%s\"\nTry: buddyd --help\n",
			argv[optind]);
		return 2;
	}
	if (sodium_init() < 0 || harden()) {
		log_error("cannot initialise: %s", strerror(errno));
		return 1;
	}
	if (buddy_clock_init()) {
		log_error("BUDDY_TEST_CLOCK must be Unix seconds");
		return 2;
	}
	if (buddy_clock_is_test())
		log_warn("test clock frozen at %lld", (long long)buddy_clock_now());
	if (buddy_home_resolve(&d->home)) {
		log_error("cannot find the buddy home: set BUDDY_HOME to an absolute path (short "
			  "enough for a socket path)");
		return 1;
	}
	rc = buddy_home_check(&d->home, why, sizeof(why));
	if (rc == BUDDY_E_NOTFOUND) {
		log_error("no buddy home at %s: create one with `buddy init`", d->home.dir);
		return 1;
	}
	if (rc) {
		log_error("refusing to start: %s", why[0] ? why : buddy_strerror(rc));
		return 1;
	}
	lockfd = take_lock(&d->home);
	if (lockfd < 0)
		return 1;
	rc = buddy_keys_load(d->home.keys, &d->keyfile);
	if (rc) {
		log_error("cannot read the key file %s: %s", d->home.keys, buddy_strerror(rc));
		return 1;
	}
	if (load_config(d))
		return 1;
	/* the command line's --listen, --advertise and --log-level win over the file's */
	buddyd_config_apply_addrs(d);
	buddyd_config_apply_log_level(d);
	uv_loop_init(&loop);
	d->loop = &loop;
	d->state = BUDDYD_LOCKED;
	uv_signal_init(&loop, &sigint_h);
	uv_signal_init(&loop, &sigterm_h);
	uv_signal_init(&loop, &sighup_h);
	sigint_h.data = sigterm_h.data = sighup_h.data = d;
	uv_signal_start(&sigint_h, on_signal, SIGINT);
	uv_signal_start(&sigterm_h, on_signal, SIGTERM);
	uv_signal_start(&sighup_h, on_sighup, SIGHUP);
	if (buddy_control_start(d, &d->control)) {
		exit_code = 1;
		stop(d);
	} else if (passfile || !d->keyfile.has_passphrase) {
		char *pass = NULL;
		size_t len = 0;

		if (passfile && d->keyfile.has_passphrase) {
			rc = buddy_passfile_read(passfile, &pass, &len);
			if (rc) {
				log_error("cannot read the passphrase file %s: %s", passfile,
					  rc == BUDDY_E_IO ? strerror(errno) : buddy_strerror(rc));
				exit_code = 1;
				stop(d);
			}
		}
		if (!exit_code && (rc = buddyd_unlock(d, pass, len, start_unlocked, NULL))) {
			log_error("cannot unlock: %s", buddy_strerror(rc));
			exit_code = 1;
			stop(d);
		}
		sodium_free(pass);
	} else {
		announce_ready(d);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	buddyd_close_vault(d);
	if (uv_loop_close(&loop))
		log_warn("handles left open at exit");
	if (ready_fd >= 0)
		close(ready_fd);
	close(lockfd);
	buddy_config_free(&d->config);
	log_info("stopped");
	return exit_code;
}
