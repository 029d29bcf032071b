/* Reading passphrases: from the terminal with echo off, or from a file. Never from argv or
 * the environment, where other processes could read them. */
#include "buddy/error.h"
#include "buddy/limits.h"
#include "buddy/passfile.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* One line from the terminal, echo off; the terminal is restored on every path. */
static int read_line(int fd, const char *prompt, char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	struct sigaction sa = {.sa_handler = on_sigint}, oldsa;
	size_t n = 0;
	int rc = 0;

	if (tcgetattr(fd, &old))
		return BUDDY_E_IO;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	sigaction(SIGINT, &sa, &oldsa);
	interrupted = 0;
	if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet)) {
		sigaction(SIGINT, &oldsa, NULL);
		return BUDDY_E_IO;
	}
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR && !interrupted)
			continue;
		if (r <= 0 || interrupted) {
			rc = interrupted ? BUDDY_E_STATE : BUDDY_E_IO;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (n == cap) {
			rc = BUDDY_E_TOOBIG;
			continue; /* read to the end of the line, keep nothing more */
		}
		buf[n++] = c;
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	sigaction(SIGINT, &oldsa, NULL);
	if (write(fd, "\n", 1) < 0)
		rc = rc ? rc : BUDDY_E_IO;
	*len = n;
	return rc;
}

int cli_prompt_passphrase(const char *prompt, bool confirm, char **out, size_t *len)
{
	char *a = sodium_malloc(BUDDY_PASSPHRASE_MAX + 1), *b = NULL;
	size_t alen = 0, blen = 0;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), rc;

	if (fd < 0) {
		sodium_free(a);
		cli_err("no terminal to ask for the passphrase: use --passphrase-file F");
		return EXIT_USAGE;
	}
	if (!a) {
		close(fd);
		return EXIT_ERROR;
	}
	rc = read_line(fd, prompt, a, BUDDY_PASSPHRASE_MAX, &alen);
	if (rc == 0 && alen == 0) {
		cli_err("the passphrase is empty (use --no-passphrase for none)");
		rc = EXIT_USAGE;
		goto out;
	}
	if (rc == 0 && confirm) {
		b = sodium_malloc(BUDDY_PASSPHRASE_MAX + 1);
		rc = b ? read_line(fd, "Repeat the passphrase: ", b, BUDDY_PASSPHRASE_MAX, &blen)
		       : BUDDY_E_NOMEM;
		if (rc == 0 && (alen != blen || sodium_memcmp(a, b, alen) != 0)) {
			cli_err("the passphrases do not match; nothing was changed");
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (rc == BUDDY_E_TOOBIG) {
		cli_err("the passphrase is longer than %d bytes", BUDDY_PASSPHRASE_MAX);
		rc = EXIT_USAGE;
	} else if (rc == BUDDY_E_STATE) {
		cli_err("interrupted; nothing was changed");
		rc = EXIT_ERROR;
	} else if (rc < 0) {
		cli_err("cannot read the passphrase from the terminal");
		rc = EXIT_ERROR;
	}
out:
	close(fd);
	sodium_free(b);
	if (rc) {
		sodium_free(a);
		return rc;
	}
	a[alen] = 0;
	*out = a;
	*len = alen;
	return 0;
}

int cli_get_passphrase(const char *file, const char *prompt, bool confirm, char **out, size_t *len)
{
	int rc;

	if (!file)
		return cli_prompt_passphrase(prompt, confirm, out, len);
	rc = buddy_passfile_read(file, out, len);
	if (rc == BUDDY_E_IO)
		cli_err("cannot read the passphrase file %s: %s", file, strerror(errno));
	else if (rc == BUDDY_E_TOOBIG)
		cli_err("the passphrase in %s is longer than %d bytes", file, BUDDY_PASSPHRASE_MAX);
	else if (rc == BUDDY_E_INVALID)
		cli_err("the passphrase file %s is empty", file);
	else if (rc)
		cli_err("cannot read the passphrase file %s: %s", file, buddy_strerror(rc));
	return rc ? EXIT_USAGE : 0;
}
