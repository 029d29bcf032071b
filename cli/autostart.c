/* Starting buddyd on demand, like tmux starts its server: a command that needs the daemon and
 * finds none running for the home starts one, waits until it serves, and goes on. Not for
 * `status` and `lock` (they report on / act on a running daemon), and never when told not to
 * (`buddy --no-start`, or BUDDY_NO_START=1 in the environment).
 *
 * Two commands starting at once must not start two daemons (the second would lose the home's
 * lock and exit): the whole check-and-start runs under flock(2) on the home directory, so the
 * second waits for the first's daemon to serve and then finds it. The daemon is detached (its
 * own session, double fork, so it is nobody's child here), its output appended to
 * HOME/buddyd.log (0600; moved to buddyd.log.old past 1 MiB), and it says "ready" through a
 * pipe (--ready-fd), so nothing here polls or sleeps. */
#include "buddy/home.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_ROTATE_BYTES (1024 * 1024)
#define LOG_PATH_MAX	 (PATH_MAX + 32)

bool cli_no_start;

bool cli_autostart_allowed(void)
{
	const char *e = getenv("BUDDY_NO_START");

	return !cli_no_start && !(e && *e && strcmp(e, "0") != 0);
}

/* buddyd next to this buddy (an install or a build tree), else buddyd from PATH. */
static void exec_buddyd(int ready_fd)
{
	char self[PATH_MAX], fdarg[16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - sizeof("/buddyd"));

	snprintf(fdarg, sizeof(fdarg), "%d", ready_fd);
	/* a name that filled the buffer may have been cut: then only PATH */
	if (n > 0 && (size_t)n < sizeof(self) - sizeof("/buddyd")) {
		char *slash;
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			/* fits: readlink left room for "/buddyd" after the name */
			memcpy(slash + 1, "buddyd", sizeof("buddyd"));
			if (access(self, X_OK) == 0)
				execl(self, "buddyd", "--ready-fd", fdarg, (char *)NULL);
		}
	}
	execlp("buddyd", "buddyd", "--ready-fd", fdarg, (char *)NULL);
}

static int open_log(const struct buddy_home *h, char *path, size_t len)
{
	char old[LOG_PATH_MAX];
	struct stat st;
	int n = snprintf(path, len, "%s/buddyd.log", h->dir);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (stat(path, &st) == 0 && st.st_size > LOG_ROTATE_BYTES) {
		n = snprintf(old, sizeof(old), "%s.old", path);
		/* when it cannot be moved, the log just goes on growing */
		if (n > 0 && (size_t)n < sizeof(old))
			(void)rename(path, old);
	}
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* Forks the detached daemon; returns the read end of its ready pipe, or -1. */
static int spawn(int logfd)
{
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* every source moved above 3 first: when buddy runs with 0, 1 or 2 closed, the pipe
		 * or the log may sit on a descriptor that a dup2 below would overwrite, and a dup2
		 * onto itself would keep its close-on-exec */
		int devnull = fcntl(open("/dev/null", O_RDONLY | O_CLOEXEC), F_DUPFD_CLOEXEC, 10);
		int out = fcntl(logfd, F_DUPFD_CLOEXEC, 10);
		int rd = fcntl(p[1], F_DUPFD_CLOEXEC, 10);

		/* its own session: no terminal, and no signal sent to this shell's job reaches it
		 */
		setsid();
		if (fork() != 0)
			_exit(0);
		if (devnull < 0 || out < 0 || rd < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(out, 2) < 0)
			_exit(127);
		/* the ready pipe is the only other descriptor it keeps (dup2 clears O_CLOEXEC) */
		if (dup2(rd, 3) < 0)
			_exit(127);
		if (chdir("/")) {
			/* nothing: the daemon uses absolute paths only */
		}
		exec_buddyd(3);
		dprintf(2, "buddy: cannot run buddyd (next to buddy, or from PATH): %s\n",
			strerror(errno));
		_exit(127);
	}
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return p[0];
}

static bool daemon_answers(const struct buddy_home *h)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memcpy(sa.sun_path, h->sock, strlen(h->sock) + 1);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int cli_autostart(const struct buddy_home *h)
{
	char logpath[LOG_PATH_MAX], line[8] = {0};
	int dirfd, logfd, ready, ret = EXIT_NODAEMON;
	size_t got = 0;

	dirfd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || flock(dirfd, LOCK_EX)) {
		cli_err("cannot lock %s to start buddyd: %s", h->dir, strerror(errno));
		if (dirfd >= 0)
			close(dirfd);
		return EXIT_ERROR;
	}
	/* another command may have started it while this one waited for the lock */
	if (daemon_answers(h)) {
		ret = EXIT_OK;
		goto out;
	}
	logfd = open_log(h, logpath, sizeof(logpath));
	if (logfd < 0) {
		cli_err("cannot open %s/buddyd.log for buddyd's log: %s", h->dir, strerror(errno));
		ret = EXIT_ERROR;
		goto out;
	}
	ready = spawn(logfd);
	close(logfd);
	if (ready < 0) {
		cli_err("cannot start buddyd: %s", strerror(errno));
		ret = EXIT_ERROR;
		goto out;
	}
	/* "ready\n", or end of file when it exited (or closed the pipe) without serving */
	while (got < 6) {
		ssize_t r = read(ready, line + got, 6 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(ready);
	if (got == 6 && memcmp(line, "ready\n", 6) == 0) {
		fprintf(stderr, "buddy: started buddyd for %s (log: %s)\n", h->dir, logpath);
		ret = EXIT_OK;
	} else {
		cli_err("buddyd did not start; its log, %s, says why", logpath);
	}
out:
	close(dirfd); /* releases the lock */
	return ret;
}
