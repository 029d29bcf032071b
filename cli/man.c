/* `buddy help --scdoc`: the manual page buddy(1) in scdoc source, made from the same command
 * table as `buddy --help` and `buddy COMMAND --help`, so the page cannot say something else.
 * The build turns it into roff with scdoc (CMakeLists.txt); docs/ holds no copy of it. */
#include "cli.h"

#include <string.h>

/* scdoc reads a backslash as an escape, also inside literal blocks */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void put_literal(FILE *f, const char *text)
{
	fputs("```\n", f);
	put_escaped(f, text);
	if (text[0] && text[strlen(text) - 1] != '\n')
		fputc('\n', f);
	fputs("```\n\n", f);
}

void cli_print_scdoc(FILE *f)
{
	fputs("buddy(1)\n\n"
	      "# NAME\n\n"
	      "buddy - keep your commitments with an accountability buddy, privately\n\n"
	      "# SYNOPSIS\n\n"
	      "*buddy* _COMMAND_ [_ARGS_]\n\n"
	      "*buddy* _COMMAND_ *--help*\n\n"
	      "# DESCRIPTION\n\n"
	      "*buddy* is the command line of buddy. Your commitments, check-ins and notes live in "
	      "a journal encrypted on this machine, owned by the daemon *buddyd*(8); *buddy* "
	      "asks it over a Unix socket in the buddy home. Nothing leaves the machine unless you "
	      "share it: a commitment you share with a paired buddy has its check-ins sent, end to "
	      "end encrypted, straight to your buddy's daemon, with no server in between.\n\n"
	      "A first day: *buddy init*, start *buddyd*, *buddy commit add run \"Run 3 times a "
	      "week\" --weekly 3*, *buddy checkin run --done*. To pair, one of you runs *buddy "
	      "invite* and the other *buddy accept* with the code; compare safety numbers with "
	      "*buddy verify*; then *buddy share run --with NAME*. To move to a new machine: "
	      "*buddy backup FILE* here, *buddy restore FILE* there; your buddies reconnect by "
	      "themselves.\n\n"
	      "Every command has *--help*, which prints the section below for it; every command "
	      "that reads has *--json*.\n\n"
	      "# COMMANDS\n\n",
	      f);
	for (const struct cli_cmd *c = cli_commands; c->name; c++) {
		fprintf(f, "## %s\n\n", c->name);
		put_escaped(f, c->summary);
		fputs(".\n\n", f);
		put_literal(f, c->usage);
	}
	fputs("# FILES\n\n"
	      "The buddy home (mode 0700) holds:\n\n"
	      "_keys_\n"
	      "\tthe identity and the data key, sealed under your passphrase (mode 0600)\n\n"
	      "_journal/_\n"
	      "\tthe journal: an append-only log of encrypted records\n\n"
	      "_config_\n"
	      "\toptional settings for *buddyd* (see *buddyd*(8))\n\n"
	      "_buddyd.sock_, _buddyd.lock_\n"
	      "\tthe daemon's control socket (mode 0600) and its lock\n\n"
	      "# ENVIRONMENT\n\n"
	      "_BUDDY_HOME_\n"
	      "\tthe buddy home; else _$XDG_DATA_HOME/buddy_, else _~/.local/share/buddy_\n\n"
	      "# EXIT STATUS\n\n",
	      f);
	put_literal(f, cli_exit_codes);
	fputs("# SEE ALSO\n\n*buddyd*(8)\n", f);
}
