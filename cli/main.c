/* buddy: the command-line client. A table of subcommands, each in its own cmd_*.c file. */
#include "buddy/daemon.h"
#include "cli.h"

#include <jansson.h>
#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>

int cmd_init(int argc, char **argv);
int cmd_unlock(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_checkin(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_journal(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_invite(int argc, char **argv);
int cmd_accept(int argc, char **argv);
int cmd_buddies(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_share(int argc, char **argv);
int cmd_unshare(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_cheer(int argc, char **argv);
int cmd_comment(int argc, char **argv);
int cmd_retract(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

#define HOME_NOTE                                                                                  \
	"\nThe buddy home is $BUDDY_HOME, else $XDG_DATA_HOME/buddy, else ~/.local/share/buddy.\n"

const struct cli_cmd cli_commands[] = {
	{"init", cmd_init, "create a buddy home: identity, data key, empty journal",
	 "Usage: buddy init [--passphrase-file F | --no-passphrase] [--kdf LEVEL]\n"
	 "                  [--paper-key]\n"
	 "\n"
	 "Creates the buddy home (mode 0700) with a new identity and a random data key, both\n"
	 "sealed under a key derived from your passphrase with Argon2id. The passphrase is read\n"
	 "from the terminal (asked twice, not echoed) unless --passphrase-file is given.\n"
	 "Never overwrites an existing home.\n"
	 "\n"
	 "  --passphrase-file F  read the passphrase from F (one line)\n"
	 "  --no-passphrase      no passphrase: the journal is protected by file permissions\n"
	 "                       only, like an ssh key without passphrase\n"
	 "  --kdf LEVEL          Argon2id cost: interactive, moderate (default) or "
	 "sensitive\n"
	 "  --paper-key          show the identity as 24 words to write on paper, once, on\n"
	 "                       the terminal only (never on stdout or in a log), then clear\n"
	 "                       them from the screen. The words are the identity: whoever\n"
	 "                       has them can be you to your buddies. buddy restore\n"
	 "                       --paper-key brings the identity back, not the "
	 "journal.\n" HOME_NOTE},
	{"unlock", cmd_unlock, "unlock the journal in the running daemon",
	 "Usage: buddy unlock [--passphrase-file F]\n"
	 "\n"
	 "Sends your passphrase to buddyd, which derives the key (about a second) and opens the\n"
	 "journal. After 3 wrong passphrases in a row, each further try must wait longer.\n"},
	{"lock", cmd_lock, "lock the journal: the daemon forgets every key",
	 "Usage: buddy lock\n"
	 "\n"
	 "Waits for writes in progress, then closes the journal and wipes the keys from the\n"
	 "daemon's memory. `buddy unlock` opens it again.\n"},
	{"passwd", cmd_passwd, "change the passphrase (the journal is not re-encrypted)",
	 "Usage: buddy passwd [--old-passphrase-file F] [--new-passphrase-file F |\n"
	 "                     --no-passphrase] [--kdf LEVEL]\n"
	 "\n"
	 "Re-seals the identity and data key under a new passphrase. The journal itself is\n"
	 "not touched. Both passphrases are read from the terminal unless files are given.\n"},
	{"status", cmd_status, "show the daemon, the identity and the journal",
	 "Usage: buddy status [--json]\n"
	 "\n"
	 "Shows the buddy home, the daemon's version and pid, whether the journal is locked,\n"
	 "your identity's fingerprint and, when unlocked, how much the journal holds and, per\n"
	 "buddy, the posts sent to them, delivered, still waiting, and received from them; and\n"
	 "how many alerts there are (buddy show NAME lists them).\n"},
	{"commit", cmd_commit, "add, list, show or archive commitments",
	 "Usage: buddy commit add ID \"TITLE\" (--daily | --weekly N | --monthly N |\n"
	 "                        --by YYYY-MM-DD) [--tz ZONE]\n"
	 "       buddy commit list [--all] [--json]\n"
	 "       buddy commit show ID [--json]\n"
	 "       buddy commit archive ID\n"
	 "\n"
	 "ID is a short name you choose (1 to 32 of a-z, 0-9, '-', '_'), like run.\n"
	 "A cadence says how often: every day, N times per week (Monday to Sunday), N times per\n"
	 "month, or once by a date. Periods follow the time zone ZONE (an IANA name such as\n"
	 "Europe/Berlin; default: this machine's).\n"
	 "list shows active commitments (--all: archived ones too) and the buddies each is\n"
	 "shared with (buddy share); show adds its pauses (buddy pause), the statistics and\n"
	 "the recent check-ins; archive ends a commitment and keeps its history (the buddies\n"
	 "it is shared with are told).\n"},
	{"checkin", cmd_checkin, "check in on a commitment",
	 "Usage: buddy checkin ID (--done | --partial | --skip) [TEXT] [--value NUMBER[UNIT]]\n"
	 "                     [--private]\n"
	 "\n"
	 "Records a check-in on commitment ID, with an optional note and value (--value 5km,\n"
	 "--value 30min, --value 2.5). Prints the entry's number once it is safely on disk,\n"
	 "and who it goes to.\n"
	 "When ID is shared with buddies (buddy share), the check-in (its status, text, value\n"
	 "and time) is posted to each of them, and reaches them whenever your daemons are\n"
	 "connected. --private keeps this check-in to yourself: no buddy learns of it, not even\n"
	 "that it exists (so it does not count in their view of your progress).\n"},
	{"pause", cmd_pause, "pause a commitment until a date (from now on)",
	 "Usage: buddy pause ID --until YYYY-MM-DD [REASON]\n"
	 "\n"
	 "Pauses commitment ID from now to the end of the day --until, in the commitment's\n"
	 "time zone (at most a year ahead). Periods that end during the pause are neither\n"
	 "reminded nor counted as missed, if they end at least a day after the pause is made:\n"
	 "a pause starts now, cannot start in the past, and does not excuse a period that is\n"
	 "over or ends within a day.\n"
	 "The buddies ID is shared with are told (a signed post with the date and REASON),\n"
	 "and their daemons stop counting its paused periods as missed. REASON is optional,\n"
	 "one line of at most 200 bytes. Pausing again adds another pause; none is undone.\n"},
	{"log", cmd_log, "write a note in the journal",
	 "Usage: buddy log [TEXT] [--commit ID] [--tag T]... [--share-with NAME]... [--share]\n"
	 "\n"
	 "Writes a note. Without TEXT, or with TEXT \"-\", the note is read from standard\n"
	 "input (never through a temporary file). --commit ties it to a commitment; --tag adds\n"
	 "a tag (repeatable).\n"
	 "A note is private, also on a shared commitment, unless you share it (its text, tags\n"
	 "and commitment) with one of:\n"
	 "\n"
	 "  --share-with NAME  post it to buddy NAME (repeatable)\n"
	 "  --share            post it to every buddy the --commit commitment is shared with\n"},
	{"journal", cmd_journal, "read the journal",
	 "Usage: buddy journal [--commit ID] [--since DATE] [--until DATE] [--tag T]...\n"
	 "                     [--grep WORDS] [-n N] [--json]\n"
	 "\n"
	 "Lists entries oldest first. DATE is YYYY-MM-DD in local time; --until includes that\n"
	 "day. --grep keeps entries containing every word (ignoring case); -n shows only the\n"
	 "last N. Under an entry you shared: who it went to (delivered, waiting, or retracted)\n"
	 "and your buddies' cheers and comments on it.\n"},
	{"stats", cmd_stats, "progress per period, streaks and completion rate",
	 "Usage: buddy stats [ID] [--json]\n"
	 "\n"
	 "For each active commitment (or only ID): the recent periods with check-ins done\n"
	 "against required, the current and longest streak of met periods, and the completion\n"
	 "rate (met periods / ended periods, plus the current one once it is met).\n"},
	{"export", cmd_export, "write the whole journal out, decrypted",
	 "Usage: buddy export --format json|markdown [--out F]\n"
	 "\n"
	 "Writes every commitment and entry, decrypted, to standard output or to a new file F\n"
	 "(mode 0600; an existing file is not overwritten), then what each buddy shared with\n"
	 "you (JSON: \"received\"; a retracted entry keeps only its id and when). The export\n"
	 "is plaintext: keep it safe, or delete it when done.\n"},
	{"import", cmd_import, "import a jrnl JSON export",
	 "Usage: buddy import F\n"
	 "\n"
	 "Imports the entries of F, a file written by `jrnl --format json`, as notes with their\n"
	 "original dates, tags and stars. The file is checked whole first: a bad file imports\n"
	 "nothing. Entries imported before are skipped, so importing twice is harmless.\n"},
	{"invite", cmd_invite, "make a one-time code for a new buddy",
	 "Usage: buddy invite [--name NAME] [--expires DURATION] [--address HOST:PORT]...\n"
	 "\n"
	 "Prints a one-time invite code (bdy1-...) for the person you want as a buddy; they run\n"
	 "`buddy accept CODE --name YOUR-NAME`. The code holds your public key, a random secret,\n"
	 "its expiry and where to reach your buddyd. It works once.\n"
	 "\n"
	 "  --name NAME          what you will call the new buddy (default buddy-XXXX)\n"
	 "  --expires DURATION   30m, 12h, 7d ... (default 24h, at most 30d)\n"
	 "  --address HOST:PORT  where your buddy can reach you (repeatable; default: this\n"
	 "                       machine's addresses and buddyd's port)\n"},
	{"accept", cmd_accept, "pair with the buddy whose code you were given",
	 "Usage: buddy accept CODE --name NAME\n"
	 "\n"
	 "Dials the inviter, checks it is really the key in the code (so nobody in between can\n"
	 "pose as them), proves you hold the code's secret, and records them as NAME.\n"},
	{"buddies", cmd_buddies, "list your buddies",
	 "Usage: buddy buddies [--json]\n"
	 "       buddy buddies --wait NAME [--offline] [--timeout DURATION]\n"
	 "\n"
	 "Name, fingerprint, online or not, verified or not, last seen, and whether they ended\n"
	 "the pairing; then the posts you sent them (and how many they acknowledged), the posts\n"
	 "received from them, and your commitments shared with them. --json adds their public\n"
	 "key and addresses.\n"
	 "--wait returns as soon as NAME is online (--offline: offline), or fails with exit\n"
	 "code 1 after the timeout (default 30s, at most 10m).\n"},
	{"verify", cmd_verify, "compare safety numbers with a buddy",
	 "Usage: buddy verify NAME [--confirm | --json]\n"
	 "\n"
	 "Shows the safety number of you and NAME: both of you see the same 60 digits. Compare\n"
	 "them on a channel you trust; if they match, mark the buddy verified with --confirm.\n"},
	{"rename", cmd_rename, "rename a buddy", "Usage: buddy rename OLD NEW\n"},
	{"revoke", cmd_revoke, "stop all contact with a buddy",
	 "Usage: buddy revoke NAME [--forget]\n"
	 "\n"
	 "No connection from or to NAME's key is accepted any more. What you received from them\n"
	 "stays readable here unless --forget.\n"},
	{"share", cmd_share, "share a commitment's check-ins with a buddy",
	 "Usage: buddy share ID --with NAME\n"
	 "\n"
	 "Shares commitment ID with buddy NAME: its title, cadence and time zone are posted to\n"
	 "NAME now, and from then on every check-in on it (except --private ones) and its\n"
	 "archiving; they reach NAME whenever your daemons are connected, and NAME reads them\n"
	 "with buddy show. Check-ins from before are not sent. Notes go to buddies only with\n"
	 "buddy log --share-with or --share.\n"},
	{"unshare", cmd_unshare, "stop sharing a commitment with a buddy",
	 "Usage: buddy unshare ID --with NAME\n"
	 "\n"
	 "Stops sharing commitment ID with NAME: NAME is told, and no further check-in on it\n"
	 "goes to NAME. What NAME already received stays with NAME; nothing is recalled (buddy\n"
	 "retract asks for single entries to be dropped).\n"},
	{"show", cmd_show, "what a buddy shares with you",
	 "Usage: buddy show NAME [--recent N] [--json]\n"
	 "\n"
	 "What NAME shares with you, as your daemon received it: each shared commitment with\n"
	 "its cadence, this period's progress, its streaks, its pauses (buddy pause) and\n"
	 "recent check-ins (your cheers and comments under them), then NAME's recent notes to\n"
	 "you. The #N numbers are NAME's entry numbers, for buddy cheer and buddy comment.\n"
	 "Warns when NAME's history was rewritten or something NAME's daemon sent was refused,\n"
	 "and counts the posts each way.\n"
	 "\n"
	 "  --recent N  check-ins per commitment, and notes, to list (default 5, at most 1000)\n"},
	{"cheer", cmd_cheer, "cheer a buddy's check-in or note",
	 "Usage: buddy cheer NAME ENTRY [TEXT]\n"
	 "\n"
	 "Cheers NAME's entry ENTRY (a #N that buddy show NAME lists), with an optional word\n"
	 "(at most 1000 bytes). It goes to NAME only.\n"},
	{"comment", cmd_comment, "comment on a buddy's check-in or note",
	 "Usage: buddy comment NAME ENTRY TEXT\n"
	 "\n"
	 "Comments on NAME's entry ENTRY (a #N that buddy show NAME lists); TEXT is 1 to 1000\n"
	 "bytes. It goes to NAME only.\n"},
	{"retract", cmd_retract, "ask buddies to drop an entry you shared",
	 "Usage: buddy retract ENTRY\n"
	 "\n"
	 "Retracts your entry ENTRY (its #N in buddy journal) from every buddy it was posted\n"
	 "to: their daemons replace its content with a retraction marker and keep only that an\n"
	 "entry was retracted, and when. The entry stays in your own journal.\n"
	 "A retraction cannot recall what was read: a buddy who already read the entry has\n"
	 "read it (and could have copied it), and only an honest daemon honours the request.\n"},
	{"inbox", cmd_inbox, "what happened: check-ins, cheers, misses, reminders ...",
	 "Usage: buddy inbox [--all] [--from NAME] [-n N] [--json]\n"
	 "       buddy inbox read (ID... | --all)\n"
	 "\n"
	 "Lists events oldest first, one line each, unread ones marked '*': your buddies'\n"
	 "check-ins and notes, their cheers and comments on your entries, their retractions\n"
	 "and commitment changes, a buddy's period missed (or checked in late), a buddy's\n"
	 "pause, your own reminders before a period ends unmet, deliveries of your posts, new\n"
	 "pairings and alerts (something a buddy's daemon sent was refused). Events are kept\n"
	 "in the journal, read or not; buddies going online or offline are not kept. The text\n"
	 "shown is looked up when listing, so a retracted entry shows only that it was.\n"
	 "\n"
	 "  --all        read events too (default: unread only)\n"
	 "  --from NAME  only events about buddy NAME\n"
	 "  -n N         the newest N (default 100, at most 1000)\n"
	 "\n"
	 "inbox read marks the events numbered ID (the first column) read; --all marks every\n"
	 "event so far.\n"},
	{"watch", cmd_watch, "print events as they happen",
	 "Usage: buddy watch [--json]\n"
	 "\n"
	 "Prints each event the moment buddyd raises it, one line each (as in buddy inbox),\n"
	 "until Ctrl-C or until buddyd stops: a buddy's check-in, note, cheer or comment, a\n"
	 "miss, a reminder, a delivery, buddies coming online or going offline. With --json,\n"
	 "one JSON object per line, for scripts. Events are only raised while the journal is\n"
	 "unlocked. A watcher that does not keep up (256 KiB queued) is disconnected rather\n"
	 "than slowing the daemon down. Several watchers may run at once.\n"},
	{"config", cmd_config, "show or change buddyd's configuration file",
	 "Usage: buddy config list [--json]\n"
	 "       buddy config get KEY\n"
	 "       buddy config set KEY VALUE\n"
	 "       buddy config unset KEY\n"
	 "\n"
	 "Reads and edits $BUDDY_HOME/config (INI) itself: no daemon is needed, and none is\n"
	 "started. KEY is SECTION.KEY, e.g. peer.idle, deadlines.remind_lead, hooks.checkin,\n"
	 "daemon.log_level; buddyd(8) describes every key (CONFIGURATION).\n"
	 "list prints every key with the value in effect, marked (default) when the file does\n"
	 "not set it (--json: [{key, value, source: \"file\"|\"default\"}]); get prints one\n"
	 "value. set writes KEY = VALUE in its section (replacing the key's line, else after\n"
	 "the section's last line, else in a new section at the end); unset removes the\n"
	 "key's line. Every other line and comment is kept as it was. The whole new file is\n"
	 "checked as buddyd reads it before it replaces the old one: a refused value (exit 2)\n"
	 "names the line and the key, and leaves the file untouched. A file that group or\n"
	 "others may write is refused, as buddyd refuses it (chmod go-w).\n"
	 "After set or unset, a buddyd running for the home is asked to reload the file\n"
	 "(as on SIGHUP) and the keys that changed are printed. An unknown KEY exits with 6.\n"},
	{"backup", cmd_backup, "write an encrypted backup of your identity and journal",
	 "Usage: buddy backup FILE [--passphrase-file F] [--kdf LEVEL] [--force]\n"
	 "\n"
	 "Writes a backup of your identity, your journal (everything in it: commitments,\n"
	 "entries, buddies, what they shared with you, the inbox) and your config to FILE\n"
	 "(mode 0600; - for standard output), encrypted under a backup passphrase, asked twice\n"
	 "(it may differ from the journal's). buddyd makes it while the journal is unlocked,\n"
	 "without stopping: the journal as it is on disk when the backup starts. FILE appears\n"
	 "whole or not at all, and an existing FILE is kept unless --force.\n"
	 "The backup is only as strong as its passphrase: choose a long one, and keep it apart\n"
	 "from the file. Format: proto/BACKUP.md.\n"
	 "\n"
	 "  --passphrase-file F  read the backup passphrase from F (one line)\n"
	 "  --kdf LEVEL          Argon2id cost: interactive, moderate (default) or sensitive\n"
	 "                       (1 GiB and a few seconds, to make and to restore)\n"
	 "  --force              replace FILE if it exists\n"},
	{"restore", cmd_restore, "make a new home from a backup or a paper key",
	 "Usage: buddy restore FILE [--passphrase-file F] [--new-passphrase-file F |\n"
	 "                      --no-passphrase] [--kdf LEVEL]\n"
	 "       buddy restore FILE --check [--passphrase-file F]\n"
	 "       buddy restore --paper-key [--new-passphrase-file F | --no-passphrase]\n"
	 "                     [--kdf LEVEL]\n"
	 "\n"
	 "Makes a new buddy home from a backup FILE (- for standard input), as on a new\n"
	 "machine; no daemon runs meanwhile. Refuses when the home exists. Asks the backup's\n"
	 "passphrase, checks every byte of the backup and every record of its journal, then a\n"
	 "new passphrase for this machine (twice), and moves the home into place only when all\n"
	 "is done: a wrong passphrase (exit 5) or a damaged file (exit 8) leaves nothing.\n"
	 "Then start buddyd: your buddies reconnect by themselves, without pairing again.\n"
	 "Entries made after the backup are not in it (what you shared of them stays with your\n"
	 "buddies). Do not run the old machine's buddyd with the same identity any more.\n"
	 "--check only checks FILE (it writes no home, and a home may exist).\n"
	 "\n"
	 "--paper-key reads the 24 words of a paper key (buddy init --paper-key) from the\n"
	 "terminal, or from standard input when it is not one, and makes a home with that\n"
	 "identity (the same fingerprint and safety numbers) and an empty journal. Only the\n"
	 "identity comes back: to reconnect, each buddy revokes you and you pair again.\n"
	 "\n"
	 "  --passphrase-file F      the backup's passphrase from F (one line)\n"
	 "  --new-passphrase-file F  the new home's passphrase from F\n"
	 "  --no-passphrase          no passphrase for the new home (file permissions only)\n"
	 "  --kdf LEVEL              Argon2id cost for the new home: interactive, moderate\n"
	 "                           (default) or sensitive\n" HOME_NOTE},
	{"help", cmd_help, "show help for a command",
	 "Usage: buddy help [COMMAND]\n"
	 "       buddy help --commands | --scdoc\n"
	 "\n"
	 "Shows the help of COMMAND (the same as buddy COMMAND --help), or the list of commands.\n"
	 "--commands prints only the command names, one per line (for shell completion).\n"
	 "--scdoc prints the manual page buddy(1), made from these same help texts, in scdoc\n"
	 "source (the build turns it into the installed man page).\n"},
	{"version", cmd_version, "show the version", "Usage: buddy version\n"},
	{NULL, NULL, NULL, NULL},
};

const char cli_exit_codes[] =
	"Exit codes: 0 success, 1 error, 2 bad usage, 3 no daemon running, 4 journal locked,\n"
	"5 wrong passphrase or refused pairing, 6 not found, 7 already exists, 8 storage error.\n";

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("buddy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("buddy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry: buddy %s --help\n", cmd);
	return EXIT_USAGE;
}

const struct cli_cmd *cli_find(const char *name)
{
	for (const struct cli_cmd *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

bool cli_wants_help(const struct cli_cmd *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(cmd->usage, stdout);
			return true;
		}
	}
	return false;
}

static void overview(FILE *f)
{
	fputs("Usage: buddy [--no-start] COMMAND [ARGS]\n\n"
	      "buddy keeps your commitment journal encrypted on this machine; buddyd, the daemon,\n"
	      "owns it and `buddy` talks to it. A command that needs buddyd starts it when it is\n"
	      "not running (its log: buddyd.log in the home), except status and lock, and except\n"
	      "with --no-start or BUDDY_NO_START=1 in the environment.\n\nCommands:\n",
	      f);
	for (const struct cli_cmd *c = cli_commands; c->name; c++)
		fprintf(f, "  %-9s %s\n", c->name, c->summary);
	fputs("\nEvery command has --help; every command that reads has --json.\n", f);
	fputs(cli_exit_codes, f);
	fputs(&HOME_NOTE[1], f); /* without its leading blank line */
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2) {
		overview(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--commands") == 0) {
		for (c = cli_commands; c->name; c++)
			puts(c->name);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--scdoc") == 0) {
		cli_print_scdoc(stdout);
		return EXIT_OK;
	}
	c = cli_find(argv[1]);
	if (!c)
		return cli_usage_err("help", "no command \"%s\"", argv[1]);
	fputs(c->usage, stdout);
	return EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("buddy %s\n", BUDDY_VERSION);
	return EXIT_OK;
}

/* jansson holds journal text while it parses and prints: wipe its blocks when freed */
static void wiping_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;

	/* No setlocale(LC_CTYPE, ""): no wide or multibyte call here, text is checked and printed
	 * as UTF-8 bytes, and the one ctype user, inih reading the config file, then classifies
	 * bytes as buddyd does (it never sets a locale). Loading the locale was ~50 us and 8 page
	 * faults of every command (~60,000 of the ~500,000 instructions of `buddy status`,
	 * callgrind), of issue 7's 1.5 ms for `buddy checkin`. */
	if (sodium_init() < 0) {
		cli_err("cannot initialise libsodium");
		return EXIT_ERROR;
	}
	json_set_alloc_funcs(malloc, wiping_free);
	if (argc < 2) {
		overview(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		overview(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(0, NULL);
	if (strcmp(argv[1], "--no-start") == 0) {
		cli_no_start = true;
		argc--;
		argv++;
		if (argc < 2) {
			overview(stderr);
			return EXIT_USAGE;
		}
	}
	c = cli_find(argv[1]);
	if (!c) {
		cli_err("no command \"%s\"", argv[1]);
		fputs("Try: buddy --help\n", stderr);
		return EXIT_USAGE;
	}
	if (cli_wants_help(c, argc - 1, argv + 1))
		return EXIT_OK;
	return c->fn(argc - 1, argv + 1);
}
