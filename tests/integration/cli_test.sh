#!/usr/bin/env bash
# The buddy CLI as a user runs it, against a real buddyd in a temporary home: every command's
# happy path and its main error paths, exit codes (cli/cli.h), file modes, the passphrase
# life cycle, restarts, import/export, and the no-plaintext-on-disk promise (DESIGN.md 4).
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed".
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S="$IT_TMP/scratch"
# distinctive passphrases: they are also scanned for in the home and the daemon log
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
PASS1="first-pass-$(rand_hex 6)"
PASS2="second-pass-$(rand_hex 6)"
printf '%s\n' "$PASS1" >"$S/pass1"
printf '%s\n' "$PASS2" >"$S/pass2"
printf '%s\n' "not-the-passphrase" >"$S/bad"
chmod 600 "$S/pass1" "$S/pass2" "$S/bad"
TODAY=$(date +%F)
YESTERDAY=$(date -d yesterday +%F)
TOMORROW=$(date -d tomorrow +%F)
NEXT_YEAR=$(($(date +%Y) + 1))

# journal_count: number of entries in `buddy journal --json` (or "error")
journal_count() {
	bud journal --json
	if [ "$RC" != 0 ]; then
		echo error
		return
	fi
	pyjson "$OUT" 'len(d)'
}

#######################################################################################
echo "# help and usage"

bud --help
expect_rc 0 "buddy --help exits 0"
expect_out_has "Usage:" "buddy --help prints Usage"
COMMANDS=$(awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}' "$OUT")
check "buddy --help lists the commands" test -n "$COMMANDS"
for cmd in $COMMANDS; do
	bud "$cmd" --help
	if [ "$RC" = 0 ] && grep -q "Usage" "$OUT"; then
		ok "buddy $cmd --help exits 0 and prints Usage"
	else
		not_ok "buddy $cmd --help exits 0 and prints Usage"
		diag_last_run
	fi
	bud help "$cmd"
	if [ "$RC" = 0 ] && grep -q "Usage" "$OUT"; then
		ok "buddy help $cmd exits 0 and prints Usage"
	else
		not_ok "buddy help $cmd exits 0 and prints Usage"
		diag_last_run
	fi
done
for sub in add list show archive; do
	bud commit "$sub" --help
	if [ "$RC" = 0 ] && grep -q "Usage" "$OUT"; then
		ok "buddy commit $sub --help exits 0 and prints Usage"
	else
		not_ok "buddy commit $sub --help exits 0 and prints Usage"
		diag_last_run
	fi
done
run "$BUDDYD" --help
expect_rc 0 "buddyd --help exits 0"
expect_out_has "Usage:" "buddyd --help prints Usage"
run "$BUDDYD" --no-such-option
expect_rc 2 "buddyd with an unknown option exits 2"
bud no-such-command
expect_rc 2 "an unknown command exits 2"
expect_err_has "no-such-command" "the unknown command is named in the message"
bud
expect_rc 2 "buddy without a command exits 2"
bud help no-such-command
expect_rc 2 "buddy help with an unknown command exits 2"
bud version
expect_rc 0 "buddy version exits 0"

#######################################################################################
echo "# init"

HOME1="$IT_TMP/home1"
check "the test home is inside the temporary directory" test "${HOME1#"$IT_TMP"/}" != "$HOME1"
new_home home1 "$S/pass1"
expect_rc 0 "init --kdf interactive --passphrase-file creates a home"
expect_out_has "$HOME1" "init names the home it created"
check "the home directory exists" test -d "$HOME1"
expect_eq "$(file_mode "$HOME1")" 700 "the home directory is mode 0700"
expect_eq "$(file_mode "$HOME1/keys")" 600 "the key file is mode 0600"
expect_eq "$(file_mode "$HOME1/journal")" 700 "the journal directory is mode 0700"
bad_modes=$(find "$HOME1" \( -type f ! -perm 600 \) -o \( -type d ! -perm 700 \))
expect_eq "$bad_modes" "" "every file in the new home is 0600 and every directory 0700"
check "init wrote nothing under the real HOME or XDG_DATA_HOME" \
	test -z "$(find "$HOME" "$XDG_DATA_HOME" -mindepth 1 -print -quit)"

cp -p "$HOME1/keys" "$S/keys.init"
bud init --kdf interactive --passphrase-file "$S/pass2"
expect_rc 7 "init over an existing home exits 7"
expect_err_has "exists" "init over an existing home says it exists"
check "init over an existing home leaves the key file byte-identical" cmp -s "$HOME1/keys" "$S/keys.init"
bud init --kdf interactive --no-passphrase
expect_rc 7 "init --no-passphrase over an existing home exits 7"
check "... and leaves the key file byte-identical" cmp -s "$HOME1/keys" "$S/keys.init"

use_home "$IT_TMP/kdfhome"
bud init --kdf bogus --passphrase-file "$S/pass1"
expect_rc 2 "init --kdf bogus exits 2"
check "init --kdf bogus creates nothing" test ! -e "$IT_TMP/kdfhome"
bud init --no-passphrase --passphrase-file "$S/pass1"
expect_rc 2 "init with both --no-passphrase and --passphrase-file exits 2"
bud init --kdf interactive --passphrase-file "$S/does-not-exist"
expect_rc_not 0 "init with a missing passphrase file fails"
check "... and leaves no key file behind" test ! -e "$IT_TMP/kdfhome/keys"

# without BUDDY_HOME the home is $XDG_DATA_HOME/buddy (inside the temporary directory here)
run env -u BUDDY_HOME "$BUDDY" init --kdf interactive --no-passphrase
expect_rc 0 "init without BUDDY_HOME uses XDG_DATA_HOME"
check "... and creates \$XDG_DATA_HOME/buddy/keys" test -f "$XDG_DATA_HOME/buddy/keys"

use_home "$HOME1"

#######################################################################################
echo "# no daemon"

bud status
expect_rc 3 "status without a daemon exits 3"
expect_err_has "$HOME1" "the no-daemon message names the home"
bud checkin run --done
expect_rc 3 "checkin without a daemon exits 3"
bud journal
expect_rc 3 "journal without a daemon exits 3"
run env BUDDY_HOME="$IT_TMP/nowhere" "$BUDDY" status
expect_rc 3 "status for a home that does not exist exits 3"
expect_err_has "$IT_TMP/nowhere" "... and names that home"

#######################################################################################
echo "# daemon start, second daemon, locked status"

# a frozen clock: the rate limit below cannot expire between tries, however slow the machine
export BUDDY_TEST_CLOCK=1767225600
if start_daemon; then ok "buddyd starts and reports ready on --ready-fd"; else not_ok "buddyd starts and reports ready on --ready-fd"; fi
unset BUDDY_TEST_CLOCK
FIRST_PID=$DAEMON_PID
check "the control socket exists" test -S "$HOME1/buddyd.sock"
expect_eq "$(file_mode "$HOME1/buddyd.sock")" 600 "the control socket is mode 0600"
expect_eq "$(file_mode "$HOME1/buddyd.lock")" 600 "the lock file is mode 0600"

log_lines=$(wc -l <"$DAEMON_LOG")
if daemon_spawn; then
	not_ok "a second buddyd on the same home refuses to start"
	kill -TERM "$SPAWN_PID"
	wait "$SPAWN_PID"
	forget_pid "$SPAWN_PID"
else
	if [ "$SPAWN_RC" != 0 ]; then
		ok "a second buddyd on the same home refuses to start (exit $SPAWN_RC)"
	else
		not_ok "a second buddyd on the same home refuses to start (it exited 0)"
	fi
	if tail -n +"$((log_lines + 1))" "$DAEMON_LOG" | grep -q -i "already running"; then
		ok "the second buddyd says another one is already running"
	else
		not_ok "the second buddyd says another one is already running"
		tail -n +"$((log_lines + 1))" "$DAEMON_LOG" | sed 's/^/#   /'
	fi
fi
bud status
expect_rc 0 "the first daemon still answers after the second was refused"

bud status
expect_rc 0 "status exits 0"
expect_out_has "locked" "status says the journal is locked"
expect_out_has "$HOME1" "status names the home"
bud status --json
expect_rc 0 "status --json exits 0"
cp "$OUT" "$S/status.json"
json_ok "$S/status.json" "status --json is valid JSON"
expect_json "$S/status.json" 'd["locked"]' true "status --json: locked is true"
expect_json "$S/status.json" 'd["state"]' locked "status --json: state is locked"
expect_json "$S/status.json" 'd["passphrase"]' true "status --json: passphrase is true"
expect_json "$S/status.json" 'd["home"]' "$HOME1" "status --json: home is the buddy home"
expect_json "$S/status.json" 'd["pid"]' "$FIRST_PID" "status --json: pid is the daemon's"
expect_json "$S/status.json" '[k for k in ("commitments", "entries", "records") if k in d]' '[]' \
	"status --json of a locked journal tells no counts"

for c in "commit list" "commit add x X --daily" "checkin x --done" "log hello" "journal" "stats" \
	"export --format json"; do
	# shellcheck disable=SC2086
	bud $c
	expect_rc 4 "buddy $c on a locked journal exits 4"
done
bud import "$BUDDY_FIXTURES_DIR/jrnl/export-sample.json"
expect_rc 4 "buddy import on a locked journal exits 4"

#######################################################################################
echo "# unlock: wrong passphrases, rate limit, right passphrase"

# home_digest: name, mode and content hash of every regular file in the home
home_digest() {
	(cd "$BUDDY_HOME" && find . -type f -printf '%p %m ' -exec sha256sum {} \; | sort)
}
home_digest >"$S/digest.before-unlock"

bud unlock --passphrase-file "$S/bad"
expect_rc 5 "unlock with a wrong passphrase exits 5"
expect_err_has "wrong passphrase" "the message says the passphrase is wrong"
check "a wrong passphrase leaves the key file byte-identical" cmp -s "$HOME1/keys" "$S/keys.init"
bud status --json
expect_json "$OUT" 'd["locked"]' true "after a wrong passphrase the journal is still locked"
bud unlock --passphrase-file "$S/bad"
expect_rc 5 "second wrong passphrase exits 5"
bud unlock --passphrase-file "$S/bad"
expect_rc 5 "third wrong passphrase exits 5"
bud unlock --passphrase-file "$S/bad"
expect_rc 5 "fourth try right after three wrong ones exits 5"
expect_err_has "try again" "the fourth try is rate-limited (message says try again)"
bud unlock --passphrase-file "$S/pass1"
expect_rc 5 "while rate-limited even the right passphrase is refused"
expect_err_has "try again" "... with the rate-limit message"
check "the failed tries left the key file byte-identical" cmp -s "$HOME1/keys" "$S/keys.init"
home_digest >"$S/digest.after-unlock"
check "the failed tries changed no file in the home" cmp -s "$S/digest.before-unlock" "$S/digest.after-unlock"
bud status --json
expect_json "$OUT" 'd["locked"]' true "the journal is still locked"

# the rate limit lives in the daemon's memory: a restart clears it (no waiting in tests)
stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops cleanly on SIGTERM (exit 0)"
check "no daemon answers after stop" test "$(bud status; echo "$RC")" = 3
start_daemon || not_ok "buddyd restarts"
bud unlock --passphrase-file "$S/pass1"
expect_rc 0 "unlock with the right passphrase exits 0"
bud status --json
expect_json "$OUT" 'd["locked"]' false "status --json: unlocked"
expect_json "$OUT" 'd["entries"]' 0 "status --json: a new journal has 0 entries"
bud unlock --passphrase-file "$S/pass1"
expect_rc 0 "unlock on an unlocked journal exits 0"
expect_out_has "already" "... and says it is already unlocked"

#######################################################################################
echo "# commitments"

bud commit add run "Run three times a week" --weekly 3
expect_rc 0 "commit add --weekly 3"
bud commit add read "Read every day" --daily
expect_rc 0 "commit add --daily"
bud commit add call "Call home twice a month" --monthly 2
expect_rc 0 "commit add --monthly 2"
bud commit add tax "File the tax return" --by "$NEXT_YEAR-04-30" --tz Europe/Berlin
expect_rc 0 "commit add --by DATE --tz Europe/Berlin"

bud commit show run --json
expect_rc 0 "commit show --json exits 0"
cp "$OUT" "$S/show-run.json"
json_ok "$S/show-run.json" "commit show --json is valid JSON"
expect_json "$S/show-run.json" 'd["commitment"]["title"]' "Run three times a week" "show: the title"
expect_json "$S/show-run.json" '[d["commitment"]["cadence"]["kind"], d["commitment"]["cadence"]["n"]]' \
	'["weekly", 3]' "show: weekly cadence with n=3"
bud commit show read --json
expect_json "$OUT" 'd["commitment"]["cadence"]["kind"]' daily "show: daily cadence"
bud commit show call --json
expect_json "$OUT" '[d["commitment"]["cadence"]["kind"], d["commitment"]["cadence"]["n"]]' \
	'["monthly", 2]' "show: monthly cadence with n=2"
bud commit show tax --json
cp "$OUT" "$S/show-tax.json"
expect_json "$S/show-tax.json" 'd["commitment"]["cadence"]["kind"]' by "show: by cadence"
expect_json "$S/show-tax.json" 'd["commitment"]["cadence"]["by"]' "$NEXT_YEAR-04-30" "show: the by date"
expect_json "$S/show-tax.json" 'd["commitment"]["tz"]' Europe/Berlin "show: the time zone given with --tz"
bud commit show run
expect_rc 0 "commit show (text) exits 0"
expect_out_has "Run three times a week" "commit show prints the title"

bud commit add "Bad ID" "x" --daily
expect_rc 2 "commit add with an id containing a space and capitals exits 2"
bud commit add Run "x" --daily
expect_rc 2 "commit add with a capital letter in the id exits 2"
bud commit add "$(printf 'a%.0s' $(seq 1 33))" "x" --daily
expect_rc 2 "commit add with a 33-character id exits 2"
bud commit add run "Another title" --daily
expect_rc 7 "commit add with an existing id exits 7"
expect_err_has "exists" "... and says it exists"
bud commit show run --json
expect_json "$OUT" 'd["commitment"]["title"]' "Run three times a week" "the duplicate did not change the title"
bud commit add nocad "No cadence"
expect_rc 2 "commit add without a cadence exits 2"
bud commit add twocad "Two cadences" --daily --weekly 2
expect_rc 2 "commit add with two cadences exits 2"
bud commit add zero "Zero" --weekly 0
expect_rc 2 "commit add --weekly 0 exits 2"
bud commit add baddate "Bad date" --by "$NEXT_YEAR-02-30"
expect_rc 2 "commit add --by with February 30 exits 2"
bud commit add baddate "Bad date" --by "next-friday"
expect_rc 2 "commit add --by with a non-date exits 2"
bud commit add badtz "Bad zone" --daily --tz Mars/Olympus_Mons
expect_rc 2 "commit add --tz with an unknown zone exits 2"
bud commit add badtz "Bad zone" --daily --tz "+05:00"
expect_rc 2 "commit add --tz with a fixed offset exits 2"
bud commit add onlyid --daily
expect_rc 2 "commit add without a title exits 2"
bud commit
expect_rc 2 "commit without a subcommand exits 2"
bud commit frobnicate
expect_rc 2 "commit with an unknown subcommand exits 2"

bud commit add longtitle "$(printf 'a%.0s' $(seq 1 201))" --daily
expect_rc 2 "commit add with a 201-byte title exits 2"
run env TZ=America/New_York "$BUDDY" commit add nyc "Zone from TZ" --daily
expect_rc 0 "commit add without --tz, with TZ=America/New_York"
bud commit show nyc --json
expect_json "$OUT" 'd["commitment"]["tz"]' America/New_York "without --tz the commitment takes the machine's zone (TZ)"
bud commit archive nyc
expect_rc 0 "archive it again (keeps the lists below simple)"

bud commit list
expect_rc 0 "commit list exits 0"
expect_out_has "Run three times a week" "commit list shows the titles"
bud commit list --json
expect_rc 0 "commit list --json exits 0"
cp "$OUT" "$S/list.json"
json_ok "$S/list.json" "commit list --json is valid JSON"
expect_json "$S/list.json" 'sorted(c["id"] for c in d)' '["call", "read", "run", "tax"]' \
	"commit list --json has exactly the 4 commitments (the refused ones were not added)"
bud commit show nope
expect_rc 6 "commit show of an unknown id exits 6"
bud commit archive nope
expect_rc 6 "commit archive of an unknown id exits 6"

#######################################################################################
echo "# checkin"

bud checkin run --done "morning run along the river" --value 5km
expect_rc 0 "checkin --done TEXT --value 5km"
expect_out_has "entry #" "checkin prints the entry number"
bud checkin run --partial "only half, knee hurts"
expect_rc 0 "checkin --partial TEXT"
bud checkin run --skip "rain all day"
expect_rc 0 "checkin --skip TEXT"
bud checkin read --done --value 2.5
expect_rc 0 "checkin --done without text, --value 2.5 without a unit"
bud journal --json --commit run
expect_rc 0 "journal --json --commit run exits 0"
cp "$OUT" "$S/run-entries.json"
expect_json "$S/run-entries.json" '[e["status"] for e in d]' '["done", "partial", "skip"]' \
	"the three check-ins on run are stored with their statuses, in order"
expect_json "$S/run-entries.json" '[e["text"] for e in d]' \
	'["morning run along the river", "only half, knee hurts", "rain all day"]' "the check-in texts"
expect_json "$S/run-entries.json" '[d[0].get("value"), d[0].get("unit")]' '[5.0, "km"]' \
	"--value 5km is stored as 5 km"
expect_json "$S/run-entries.json" '[e["kind"] for e in d]' '["checkin", "checkin", "checkin"]' \
	"check-ins have kind checkin"
bud journal --json --commit read
expect_json "$OUT" '[d[0]["status"], d[0].get("value"), d[0].get("unit"), d[0]["text"]]' \
	'["done", 2.5, null, ""]' "--value 2.5 is stored without a unit and without text"

n_before=$(journal_count)
bud checkin nope --done "x"
expect_rc 6 "checkin on an unknown commitment exits 6"
bud checkin run "no status"
expect_rc 2 "checkin without --done/--partial/--skip exits 2"
bud checkin run --done --skip
expect_rc 2 "checkin with two statuses exits 2"
bud checkin run --done --value abc
expect_rc 2 "checkin --value abc exits 2"
bud checkin
expect_rc 2 "checkin without an id exits 2"
expect_eq "$(journal_count)" "$n_before" "the refused check-ins wrote nothing"

#######################################################################################
echo "# archive"

bud commit add old "An old habit" --daily
bud checkin old --done "before the archive"
expect_rc 0 "checkin on a commitment that is about to be archived"
bud commit archive old
expect_rc 0 "commit archive exits 0"
n_before=$(journal_count)
bud checkin old --done "after the archive"
expect_rc_not 0 "checkin on an archived commitment fails"
expect_err_has "archived" "... and says it is archived"
expect_eq "$(journal_count)" "$n_before" "the refused check-in on the archived commitment wrote nothing"
bud commit list --json
expect_json "$OUT" '"old" in [c["id"] for c in d]' false "commit list hides the archived commitment"
bud commit list --all --json
cp "$OUT" "$S/list-all.json"
json_ok "$S/list-all.json" "commit list --all --json is valid JSON"
expect_json "$S/list-all.json" '"old" in [c["id"] for c in d]' true "commit list --all shows it"
expect_json "$S/list-all.json" '[c.get("archived") is not None for c in d if c["id"] == "old"]' '[true]' \
	"commit list --all marks it archived"
bud commit list --all
expect_out_has "archived" "commit list --all (text) marks it archived"
bud journal --json --commit old
expect_json "$OUT" '[e["text"] for e in d]' '["before the archive"]' "the archived commitment's history stays"
bud commit show old
expect_rc 0 "commit show of an archived commitment exits 0"
bud commit archive old
expect_rc_not 0 "archiving twice fails"

#######################################################################################
echo "# log"

bud log "a plain note about the week"
expect_rc 0 "log TEXT"
expect_out_has "entry #" "log prints the entry number"
printf 'a note from stdin with dash\n' >"$S/note1"
bud log - <"$S/note1"
expect_rc 0 "log - reads the note from stdin"
printf 'a note from stdin without argument' >"$S/note2"
bud log <"$S/note2"
expect_rc 0 "log without TEXT reads the note from stdin"
bud log --tag alpha --tag beta "a tagged note"
expect_rc 0 "log --tag alpha --tag beta"
bud log --commit run "a note on running"
expect_rc 0 "log --commit run"
bud journal --json -n 5
cp "$OUT" "$S/notes.json"
expect_json "$S/notes.json" '[e["text"] for e in d]' \
	'["a plain note about the week", "a note from stdin with dash", "a note from stdin without argument", "a tagged note", "a note on running"]' \
	"the five notes are stored in order, stdin notes without the trailing newline"
expect_json "$S/notes.json" '[e["kind"] for e in d]' '["note", "note", "note", "note", "note"]' "notes have kind note"
expect_json "$S/notes.json" 'd[3]["tags"]' '["alpha", "beta"]' "the tags are stored"
expect_json "$S/notes.json" 'd[4].get("commit")' run "the note is tied to the commitment"

n_before=$(journal_count)
bud log ""
expect_rc 2 "log with an empty TEXT exits 2"
bud log </dev/null
expect_rc 2 "log with empty stdin exits 2"
printf '\n  \n\n' >"$S/blank"
bud log - <"$S/blank"
expect_rc 2 "log with only blank lines on stdin exits 2"
bud log --commit nope "note on nothing"
expect_rc 6 "log --commit with an unknown commitment exits 6"
bud log --tag "a,b" "bad tag"
expect_rc 2 "log --tag with a comma exits 2"
bud log "two" "arguments"
expect_rc 2 "log with two TEXT arguments exits 2"
bud log "$(printf 'a bell \a in the text')"
expect_rc 2 "log with a control character exits 2"
bud log "$(printf 'an escape \033[31m in the text')"
expect_rc 2 "log with an escape sequence exits 2"
head -c 70000 /dev/zero | tr '\0' a >"$S/huge"
bud log - <"$S/huge"
expect_rc 2 "log with a 70000-byte note exits 2"
bud checkin run --done "$(cat "$S/huge")"
expect_rc 2 "checkin with a 70000-byte text exits 2"
expect_eq "$(journal_count)" "$n_before" "the refused notes wrote nothing"
UNI="$(printf 'Grüße, 日本語 and 🏃\nsecond line\twith a tab')"
bud log "$UNI"
expect_rc 0 "log with UTF-8, a newline and a tab"
bud journal --json -n 1
expect_json "$OUT" 'd[0]["text"] == "Grüße, 日本語 and \U0001f3c3\nsecond line\twith a tab"' true \
	"UTF-8, newline and tab come back byte for byte"

#######################################################################################
echo "# journal filters"

bud journal
expect_rc 0 "journal exits 0"
expect_out_has "morning run along the river" "journal prints the entries"
bud journal --json
cp "$OUT" "$S/all.json"
json_ok "$S/all.json" "journal --json is valid JSON"
ALL_N=$(pyjson "$S/all.json" 'len(d)')
expect_eq "$ALL_N" 11 "journal --json has all 11 entries written so far"
expect_json "$S/all.json" 'all(d[i]["time"] <= d[i+1]["time"] for i in range(len(d)-1))' true \
	"journal lists oldest first"
expect_json "$S/all.json" 'len(set(e["id"] for e in d)) == len(d)' true "entry ids are unique"

bud journal --json --commit run
expect_json "$OUT" 'sorted(set(e.get("commit") for e in d))' '["run"]' "--commit run: only entries of run"
expect_json "$OUT" 'len(d)' 4 "--commit run: its 3 check-ins and 1 note"
bud journal --json --tag alpha
expect_json "$OUT" '[e["text"] for e in d]' '["a tagged note"]' "--tag alpha: only the tagged note"
bud journal --json --tag alpha --tag beta
expect_json "$OUT" '[e["text"] for e in d]' '["a tagged note"]' "--tag alpha --tag beta"
bud journal --json --tag nosuchtag
expect_json "$OUT" 'len(d)' 0 "--tag with an unused tag: nothing"
bud journal --json --grep MORNING
expect_json "$OUT" '[e["text"] for e in d]' '["morning run along the river"]' "--grep ignores case"
bud journal --json --grep "RIVER morning"
expect_json "$OUT" '[e["text"] for e in d]' '["morning run along the river"]' "--grep matches every word, in any order"
bud journal --json --grep "river nosuchword"
expect_json "$OUT" 'len(d)' 0 "--grep needs every word"
bud journal --json -n 2
expect_json "$OUT" '[e["id"] for e in d]' "$(pyjson "$S/all.json" '[e["id"] for e in d[-2:]]')" "-n 2: the last two entries"
bud journal -n 2
expect_rc 0 "journal -n 2 (text) exits 0"
bud journal --json --commit run -n 2
expect_json "$OUT" '[e["text"] for e in d]' '["rain all day", "a note on running"]' "-n 2 --commit run: the last two of run"
bud journal --json --since "$TODAY"
expect_json "$OUT" 'len(d)' "$ALL_N" "--since today: everything written today"
bud journal --json --until "$TODAY"
expect_json "$OUT" 'len(d)' "$ALL_N" "--until today includes today"
bud journal --json --until "$YESTERDAY"
expect_json "$OUT" 'len(d)' 0 "--until yesterday: nothing"
bud journal --json --since "$TOMORROW"
expect_json "$OUT" 'len(d)' 0 "--since tomorrow: nothing"
bud journal --since "$TOMORROW"
expect_rc 0 "journal with no match exits 0"
bud journal --json --commit run --grep knee
expect_json "$OUT" '[e["text"] for e in d]' '["only half, knee hurts"]' "filters combine"

bud journal --since 2024-13-01
expect_rc 2 "--since with month 13 exits 2"
bud journal --until notadate
expect_rc 2 "--until with a non-date exits 2"
bud journal --since "$TODAY" --until 2023-02-29
expect_rc 2 "--until 2023-02-29 (not a leap year) exits 2"
bud journal -n 0
expect_rc 2 "-n 0 exits 2"
bud journal -n abc
expect_rc 2 "-n abc exits 2"
bud journal extra-argument
expect_rc 2 "journal with an unexpected argument exits 2"

#######################################################################################
echo "# stats"

bud commit add gym "Gym three times a week" --weekly 3
for s in "done" "done" partial skip; do
	bud checkin gym --"$s" "gym $s"
done
bud stats gym --json
expect_rc 0 "stats ID --json exits 0"
cp "$OUT" "$S/stats-gym.json"
json_ok "$S/stats-gym.json" "stats --json is valid JSON"
CUR='[p for s in d if s["id"] == "gym" for p in s["periods"] if p["current"]][0]'
expect_json "$S/stats-gym.json" "[${CUR}[k] for k in ('required', 'done', 'partial', 'skipped', 'met')]" \
	'[3, 2, 1, 1, false]' "stats: this week 2 of 3 done, 1 partial, 1 skipped, not met"
bud checkin gym --done "gym third"
bud stats gym --json
cp "$OUT" "$S/stats-gym2.json"
expect_json "$S/stats-gym2.json" "[${CUR}[k] for k in ('required', 'done', 'met')]" '[3, 3, true]' \
	"stats: after the third done the week is met"
expect_json "$S/stats-gym2.json" '[[s["met"], s["counted"], s["rate"]] for s in d if s["id"] == "gym"][0]' \
	'[1, 1, 1.0]' "stats: a met current period counts: 1 of 1, rate 1.0"
bud stats --json
cp "$OUT" "$S/stats-all.json"
json_ok "$S/stats-all.json" "stats --json (all) is valid JSON"
expect_json "$S/stats-all.json" 'sorted(s["id"] for s in d)' '["call", "gym", "read", "run", "tax"]' \
	"stats covers every active commitment (not the archived one)"
expect_json "$S/stats-all.json" "[p['done'] for s in d if s['id'] == 'run' for p in s['periods'] if p['current']]" \
	'[1]' "stats: run has 1 done this week (partial and skip are not done)"
bud stats
expect_rc 0 "stats (text) exits 0"
expect_out_has "Gym three times a week" "stats prints the titles"
bud stats nope
expect_rc 6 "stats of an unknown commitment exits 6"
bud stats a b
expect_rc 2 "stats with two ids exits 2"

#######################################################################################
echo "# export"

N_NOW=$(journal_count)
bud export --format json
expect_rc 0 "export --format json exits 0"
cp "$OUT" "$S/export.json"
json_ok "$S/export.json" "the JSON export is valid JSON"
expect_json "$S/export.json" 'len(d["entries"])' "$N_NOW" "the JSON export has every entry"
expect_json "$S/export.json" '"morning run along the river" in [e["text"] for e in d["entries"]]' true \
	"the JSON export includes the entry texts"
expect_json "$S/export.json" 'sorted(c["id"] for c in d["commitments"])' \
	'["call", "gym", "nyc", "old", "read", "run", "tax"]' "the JSON export includes every commitment, archived too"
expect_err_has "not encrypted" "export warns on stderr that the export is not encrypted"
bud export --format markdown
expect_rc 0 "export --format markdown exits 0"
expect_out_has "# buddy journal" "the Markdown export has its heading"
expect_out_has "morning run along the river" "the Markdown export includes the entry texts"
expect_out_has "Run three times a week" "the Markdown export includes the commitments"
expect_err_has "not encrypted" "the Markdown export warns on stderr too"
bud export --format json --out "$S/export-file.json"
expect_rc 0 "export --out F exits 0"
check "export --out created the file" test -f "$S/export-file.json"
[ -f "$S/export-file.json" ] && expect_eq "$(file_mode "$S/export-file.json")" 600 "the export file is mode 0600"
json_ok "$S/export-file.json" "the export file is valid JSON"
expect_json "$S/export-file.json" 'len(d["entries"])' "$N_NOW" "the export file has every entry"
expect_err_has "not encrypted" "export --out warns on stderr"
printf 'precious, do not overwrite\n' >"$S/existing"
cp "$S/existing" "$S/existing.orig"
bud export --format json --out "$S/existing"
expect_rc_not 0 "export --out onto an existing file fails"
expect_err_has "exists" "... and says the file exists"
check "... and leaves the existing file unchanged" cmp -s "$S/existing" "$S/existing.orig"
ln -s "$S/symlink-target" "$S/symlink"
bud export --format json --out "$S/symlink"
expect_rc_not 0 "export --out onto a dangling symlink fails"
check "... and does not create the symlink's target" test ! -e "$S/symlink-target"
bud export --format json --out "$S/no-such-dir/export.json"
expect_rc_not 0 "export --out into a missing directory fails"
bud export --format markdown --out "$S/export.md"
expect_rc 0 "export --format markdown --out F exits 0"
[ -f "$S/export.md" ] && expect_eq "$(file_mode "$S/export.md")" 600 "the Markdown export file is mode 0600"
bud export --format xml
expect_rc 2 "export --format xml exits 2"
bud export
expect_rc 2 "export without --format exits 2"

#######################################################################################
echo "# import"

EXPECTED="$BUDDY_FIXTURES_DIR/jrnl/export-sample.expected.txt"
SAMPLE="$BUDDY_FIXTURES_DIR/jrnl/export-sample.json"
check "the jrnl fixture exists" test -f "$SAMPLE" -a -f "$EXPECTED"
N_BEFORE_IMPORT=$(journal_count)
bud import "$SAMPLE"
expect_rc 0 "import of the jrnl sample exits 0"
expect_out_has "Imported 3 entries" "import reports 3 entries"
expect_eq "$(journal_count)" "$((N_BEFORE_IMPORT + 3))" "the journal has 3 more entries"
bud journal --json --until 2020-12-31
cp "$OUT" "$S/imported.json"
expect_json "$S/imported.json" 'len(d)' 3 "journal --until 2020-12-31 finds the 3 imported entries"
# compare with the expected lines: date, time, title, number of tags, starred, tags
# (jrnl writes tags as "@tag"; buddy stores the bare word, as cli/jrnl.c documents)
if python3 - "$S/imported.json" "$EXPECTED" >"$S/import-cmp.txt" 2>&1 <<'EOF'; then
import json, sys, datetime
got = json.load(open(sys.argv[1], encoding="utf-8"))
want = [l.rstrip("\n").split("\t") for l in open(sys.argv[2], encoding="utf-8")
        if l.strip() and not l.startswith("#")]
bad = 0
if len(got) != len(want):
    print("count: got %d, expected %d" % (len(got), len(want)))
    bad = 1
for e, w in zip(got, want):
    t = datetime.datetime.fromtimestamp(e["time"])
    tags = sorted(e.get("tags", []))
    g = [t.strftime("%Y-%m-%d"), t.strftime("%H:%M"), e["text"].split("\n", 1)[0],
         str(len(tags)), "true" if e.get("starred") else "false", ",".join(tags)]
    w = w[:5] + [",".join(sorted(x.lstrip("@#") for x in w[5].split(",") if x))]
    if g != w or e.get("kind") != "note":
        print("got      %r (kind %r)\nexpected %r" % (g, e.get("kind"), w))
        bad = 1
sys.exit(bad)
EOF
	ok "the imported entries have the dates, times, titles, tags and stars of the expected list"
else
	not_ok "the imported entries have the dates, times, titles, tags and stars of the expected list"
	sed 's/^/#   /' "$S/import-cmp.txt"
fi
expect_json "$S/imported.json" '"I\u0027m so excited about emojis. \U0001f4af \U0001f3b6 \U0001f4a9" in d[2]["text"]' true \
	"the emoji (UTF-16 surrogate pairs in the file) are stored as the right characters"
bud journal --json --since 2020-08-30 --until 2020-08-31
expect_json "$OUT" '[e["text"].split("\n")[0] for e in d]' '["A second entry in what I hope to be a long series."]' \
	"--since/--until with dates select the imported entry of 2020-08-31 (until is inclusive)"

bud import "$SAMPLE"
expect_rc 0 "importing the same file again exits 0"
expect_out_has "Imported 0 entries" "the second import imports 0 entries"
expect_out_has "3 were imported before" "the second import skips 3"
expect_eq "$(journal_count)" "$((N_BEFORE_IMPORT + 3))" "the second import added nothing"

# day boundaries in local time, on the day summer time ends in Berlin (25 hours long)
cat >"$S/boundary.json" <<'EOF2'
{"tags": {}, "entries": [
 {"title": "boundary late evening", "body": "", "date": "2021-10-31", "time": "23:30", "tags": [], "starred": false},
 {"title": "boundary last minute", "body": "", "date": "2021-10-31", "time": "23:59", "tags": [], "starred": false},
 {"title": "boundary midnight", "body": "", "date": "2021-11-01", "time": "00:00", "tags": [], "starred": false}
]}
EOF2
run env TZ=Europe/Berlin "$BUDDY" import "$S/boundary.json"
expect_rc 0 "import entries around midnight (TZ=Europe/Berlin)"
run env TZ=Europe/Berlin "$BUDDY" journal --json --since 2021-10-31 --until 2021-10-31
expect_json "$OUT" '[e["text"] for e in d]' '["boundary late evening", "boundary last minute"]' \
	"--since D --until D: the whole local day D, also when it has 25 hours, not the next midnight"
run env TZ=Europe/Berlin "$BUDDY" journal --json --since 2021-11-01 --until 2021-11-30
expect_json "$OUT" '[e["text"] for e in d]' '["boundary midnight"]' "--since D starts at local midnight of D"

N_BEFORE_BAD=$(journal_count)
head -c 700 "$SAMPLE" >"$S/truncated.json"
bud import "$S/truncated.json"
expect_rc 2 "import of a truncated file exits 2"
cat >"$S/half-bad.json" <<'EOF'
{"tags": {}, "entries": [
 {"title": "A valid first entry that must not be imported", "body": "", "date": "2021-03-04",
  "time": "10:00", "tags": [], "starred": false},
 {"title": "An entry with an impossible date", "body": "", "date": "2021-02-30",
  "time": "10:00", "tags": [], "starred": false}
]}
EOF
bud import "$S/half-bad.json"
expect_rc 2 "import of a file with one bad entry exits 2"
bud journal --json --grep "must not be imported"
expect_json "$OUT" 'len(d)' 0 "... and the valid entry before it was not imported either"
printf 'this is not json at all\n' >"$S/garbage.json"
bud import "$S/garbage.json"
expect_rc 2 "import of a non-JSON file exits 2"
printf '{"entries": 5}\n' >"$S/wrongshape.json"
bud import "$S/wrongshape.json"
expect_rc 2 "import of JSON that is not a jrnl export exits 2"
expect_eq "$(journal_count)" "$N_BEFORE_BAD" "the malformed imports added nothing"
bud import "$S/no-such-file.json"
expect_rc_not 0 "import of a missing file fails"
bud import
expect_rc 2 "import without a file exits 2"
# a realistic export: more entries and more bytes than one control request may carry
python3 - "$S/big.json" "$S/big-late-bad.json" <<'EOF'
import json, sys
def entry(i, body):
    return {"title": "Big import %d." % i, "body": body, "date": "2019-01-%02d" % (i % 28 + 1),
            "time": "%02d:%02d" % (i % 24, i % 60), "tags": ["@bulk"], "starred": False}
body = "lorem ipsum dolor " * 140          # about 2.5 KB
good = [entry(i, body) for i in range(600)]
json.dump({"tags": {"@bulk": 600}, "entries": good}, open(sys.argv[1], "w"))
bad = [entry(1000 + i, body) for i in range(600)]
bad[550]["body"] = "carriage\u0007bell"   # a control character far into the file
json.dump({"entries": bad}, open(sys.argv[2], "w"))
EOF
n_before_big=$(journal_count)
bud import "$S/big-late-bad.json"
expect_rc 2 "import of a file with a bad entry late in it exits 2"
expect_err_has "entry 551" "the message names the bad entry by its place in the file"
expect_eq "$(journal_count)" "$n_before_big" "... and nothing of that file was imported"
bud import "$S/big.json"
expect_rc 0 "import of 600 entries of 2.5 KB (over 1 MiB in all) exits 0"
expect_out_has "Imported 600 entries" "all 600 were imported, in several requests"
expect_eq "$(journal_count)" "$((n_before_big + 600))" "the journal has 600 more entries"
bud journal --tag bulk --json
expect_json "$OUT" 'len(d)' 600 "journal --tag bulk finds them all"
# the bulk entries are counted from here on
N_BEFORE_BAD=$(journal_count)

#######################################################################################
echo "# lock"

bud lock
expect_rc 0 "lock exits 0"
bud status --json
expect_json "$OUT" 'd["locked"]' true "status --json after lock: locked"
for c in "commit list" "commit show run" "commit add y Y --daily" "commit archive run" \
	"checkin run --done" "log hello" "journal" "journal --json" "stats" "export --format markdown"; do
	# shellcheck disable=SC2086
	bud $c
	expect_rc 4 "buddy $c after lock exits 4"
done
bud log - <"$S/note1"
expect_rc 4 "buddy log - (stdin) after lock exits 4"
bud lock
expect_rc 0 "lock on a locked journal exits 0"
bud unlock --passphrase-file "$S/pass1"
expect_rc 0 "unlock after lock"
expect_eq "$(journal_count)" "$N_BEFORE_BAD" "everything is there after lock and unlock"

#######################################################################################
echo "# passwd"

bud journal --json
cp "$OUT" "$S/before-passwd.json"
cp -p "$HOME1/keys" "$S/keys.before-passwd"
bud passwd --old-passphrase-file "$S/bad" --new-passphrase-file "$S/pass2" --kdf interactive
expect_rc 5 "passwd with a wrong current passphrase exits 5"
check "... and leaves the key file byte-identical" cmp -s "$HOME1/keys" "$S/keys.before-passwd"
bud passwd --old-passphrase-file "$S/pass1" --new-passphrase-file "$S/pass2" --kdf bogus
expect_rc 2 "passwd --kdf bogus exits 2"
bud passwd --old-passphrase-file "$S/pass1" --new-passphrase-file "$S/pass2" --kdf interactive
expect_rc 0 "passwd with files exits 0"
check "passwd re-sealed the key file" test -n "$(cmp -s "$HOME1/keys" "$S/keys.before-passwd" || echo changed)"
expect_eq "$(file_mode "$HOME1/keys")" 600 "the re-sealed key file is mode 0600"
bad_modes=$(find "$HOME1" \( -type f ! -perm 600 \) -o \( -type d ! -perm 700 \))
expect_eq "$bad_modes" "" "every file in the home is still 0600 and every directory 0700"
bud journal --json
check "the journal reads the same right after passwd" cmp -s "$OUT" "$S/before-passwd.json"
bud lock
bud unlock --passphrase-file "$S/pass1"
expect_rc 5 "the old passphrase no longer unlocks"
bud unlock --passphrase-file "$S/pass2"
expect_rc 0 "the new passphrase unlocks"
stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops cleanly"
if daemon_spawn --passphrase-file "$S/pass1"; then
	not_ok "buddyd --passphrase-file with the old passphrase does not start"
	DAEMON_PID=$SPAWN_PID
	stop_daemon
else
	ok "buddyd --passphrase-file with the old passphrase does not start (exit $SPAWN_RC)"
fi
start_daemon || not_ok "buddyd restarts after passwd"
bud unlock --passphrase-file "$S/pass2"
expect_rc 0 "after a restart the new passphrase unlocks"
bud journal --json
check "the journal content is unchanged after passwd and a restart" cmp -s "$OUT" "$S/before-passwd.json"

#######################################################################################
echo "# restart"

bud journal --json
cp "$OUT" "$S/r-journal.json"
bud commit list --all --json
cp "$OUT" "$S/r-commits.json"
bud stats --json
cp "$OUT" "$S/r-stats.json"
bud status --json
cp "$OUT" "$S/r-status.json"
stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops cleanly"
start_daemon || not_ok "buddyd restarts"
bud status --json
expect_json "$OUT" 'd["locked"]' true "after a restart the journal is locked again"
bud unlock --passphrase-file "$S/pass2"
expect_rc 0 "unlock after the restart"
bud journal --json
check "journal --json is identical after a restart" cmp -s "$OUT" "$S/r-journal.json"
bud commit list --all --json
check "commit list --all --json is identical after a restart" cmp -s "$OUT" "$S/r-commits.json"
bud stats --json
check "stats --json is identical after a restart" cmp -s "$OUT" "$S/r-stats.json"
bud status --json
expect_json "$OUT" '[d[k] for k in ("commitments", "archived", "entries", "records")]' \
	"$(pyjson "$S/r-status.json" '[d[k] for k in ("commitments", "archived", "entries", "records")]')" \
	"status counts are identical after a restart"
bud import "$SAMPLE"
expect_rc 0 "importing the sample after a restart exits 0"
expect_out_has "Imported 0 entries" "after a restart the import still knows what it imported"
bud commit add run "Run again" --daily
expect_rc 7 "after a restart an existing id is still taken (exit 7)"
bud checkin old --done "after the restart"
expect_rc_not 0 "after a restart the archived commitment still takes no check-ins"
bud journal --json
check "the refused writes after the restart changed nothing" cmp -s "$OUT" "$S/r-journal.json"
stop_daemon
if start_daemon --passphrase-file "$S/pass2"; then
	ok "buddyd --passphrase-file with the new passphrase starts"
else
	not_ok "buddyd --passphrase-file with the new passphrase starts"
fi
bud status --json
expect_json "$OUT" 'd["locked"]' false "buddyd --passphrase-file starts unlocked"
bud journal --json
check "journal --json is identical after a restart with --passphrase-file" cmp -s "$OUT" "$S/r-journal.json"

#######################################################################################
echo "# a home without passphrase"

new_home nopass -
expect_rc 0 "init --no-passphrase exits 0"
expect_err_has "warning" "init --no-passphrase warns on stderr"
expect_eq "$(file_mode "$IT_TMP/nopass/keys")" 600 "its key file is mode 0600"
MAIN_PID=$DAEMON_PID
if start_daemon; then ok "buddyd starts on the home without passphrase"; else not_ok "buddyd starts on the home without passphrase"; fi
bud status --json
expect_json "$OUT" '[d["locked"], d["passphrase"]]' '[false, false]' \
	"the daemon starts unlocked and status says there is no passphrase"
bud log "a note without passphrase"
expect_rc 0 "it takes notes right away"
bud unlock
expect_rc 0 "unlock without passphrase on an unlocked journal exits 0"
bud passwd --new-passphrase-file "$S/pass1" --kdf interactive
expect_rc 0 "passwd sets a passphrase on a home without one"
bud status --json
expect_json "$OUT" 'd["passphrase"]' true "status --json: now there is a passphrase"
stop_daemon
start_daemon || not_ok "its buddyd restarts"
bud status --json
expect_json "$OUT" 'd["locked"]' true "with the new passphrase the daemon starts locked"
bud unlock
expect_rc_not 0 "unlock without a passphrase fails now"
bud unlock --passphrase-file "$S/pass1"
expect_rc 0 "the new passphrase unlocks"
bud passwd --old-passphrase-file "$S/pass1" --no-passphrase
expect_rc 0 "passwd --no-passphrase removes the passphrase"
expect_err_has "warning" "... with a warning on stderr"
stop_daemon
start_daemon || not_ok "its buddyd restarts"
bud status --json
expect_json "$OUT" '[d["locked"], d["passphrase"]]' '[false, false]' "without passphrase it starts unlocked again"
bud journal --json
expect_json "$OUT" '[e["text"] for e in d]' '["a note without passphrase"]' "its note survived both passphrase changes"
stop_daemon
expect_eq "$STOP_RC" 0 "its buddyd stops cleanly"
# a home others may enter is refused at start, with the chmod that fixes it (SECURITY.md)
chmod 0755 "$IT_TMP/nopass"
if start_daemon; then
	not_ok "buddyd refuses a home that is open to group and others (it started)"
	stop_daemon
else
	ok "buddyd refuses a home that is open to group and others (exit $DAEMON_RC)"
fi
check "... saying how to fix it (chmod)" sh -c "tail -n 3 \"$DAEMON_LOG\" | grep -q chmod"
chmod 0700 "$IT_TMP/nopass"
use_home "$HOME1"
DAEMON_PID=$MAIN_PID

#######################################################################################
echo "# no plaintext on disk or in the daemon log"

MK=$(rand_hex 8)
M_TITLE="TitleMarker${MK}Q"
M_CHECKIN="CheckinMarker${MK}Q"
M_NOTE="NoteMarker${MK}Q"
M_STDIN="StdinMarker${MK}Q"
M_TAG="Tag${MK}Q"
M_ID="id${MK}"
bud commit add "$M_ID" "$M_TITLE" --daily
expect_rc 0 "add a commitment with a marked title"
bud checkin "$M_ID" --done "$M_CHECKIN" --value 3km
expect_rc 0 "check in with a marked text"
bud log --tag "$M_TAG" --commit "$M_ID" "$M_NOTE"
expect_rc 0 "write a marked note with a marked tag"
printf '%s\n' "$M_STDIN" >"$S/stdin-note"
bud log - <"$S/stdin-note"
expect_rc 0 "write a marked note through stdin"
bud journal --json --commit "$M_ID"
expect_json "$OUT" 'sorted(e["text"] for e in d)' "$(python3 -c 'import json,sys; print(json.dumps(sorted(sys.argv[1:])))' "$M_CHECKIN" "$M_NOTE")" \
	"the marked entries are in the journal"
bud journal --json --tag "$M_TAG"
expect_json "$OUT" '[e["text"] for e in d]' "[\"$M_NOTE\"]" "the marked tag is in the journal"
bud commit show "$M_ID" --json
expect_json "$OUT" 'd["commitment"]["title"]' "$M_TITLE" "the marked title is in the journal"
# some churn that rewrites files: lock/unlock and a passphrase change (reverted)
bud lock
bud unlock --passphrase-file "$S/pass2"
bud passwd --old-passphrase-file "$S/pass2" --new-passphrase-file "$S/pass1" --kdf interactive
expect_rc 0 "passwd during the no-plaintext test"
stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops cleanly before the scan"

# pattern files: one per form, each pattern alone in its file (grep -F -f, no newline at the
# end; UTF-16 forms contain NUL bytes, which GNU grep handles in pattern files)
PAT="$IT_TMP/patterns"
mkdir -p "$PAT"
make_patterns() { # NAME STRING
	local name="$1" s="$2" pre b64
	printf '%s' "$s" >"$PAT/$name.utf8"
	printf '%s' "$s" | iconv -f UTF-8 -t UTF-16LE >"$PAT/$name.utf16le"
	printf '%s' "$s" | iconv -f UTF-8 -t UTF-16BE >"$PAT/$name.utf16be"
	for pre in "" x xx; do
		b64=$(printf '%s%s' "$pre" "$s" | base64 -w0)
		# the first and last 4 characters depend on the neighbouring bytes
		printf '%s' "${b64:4:${#b64}-8}" >"$PAT/$name.b64${#pre}"
	done
}
make_patterns title "$M_TITLE"
make_patterns checkin "$M_CHECKIN"
make_patterns note "$M_NOTE"
make_patterns stdin "$M_STDIN"
make_patterns tag "$M_TAG"
make_patterns pass1 "$PASS1"
make_patterns pass2 "$PASS2"
make_patterns id "$M_ID"

# positive control: the scanner finds every form when it is there
CTRL="$IT_TMP/control.bin"
for s in "$M_TITLE" "$M_CHECKIN" "$M_NOTE" "$M_STDIN" "$M_TAG" "$PASS1" "$PASS2" "$M_ID"; do
	head -c 50 /dev/urandom
	printf '%s' "$s"
	printf '\n'
	printf '%s' "$s" | iconv -f UTF-8 -t UTF-16LE
	printf 'q'
	printf '%s' "$s" | iconv -f UTF-8 -t UTF-16BE
	head -c 7 /dev/urandom
	printf 'A%s' "$s" | base64 -w0
	printf 'BC%s' "$s" | base64 -w0
	printf 'DEF%s' "$s" | base64 -w0
done >"$CTRL"
missed=""
for p in "$PAT"/*; do
	grep -a -q -F -f "$p" "$CTRL" || missed="$missed $(basename "$p")"
done
expect_eq "$missed" "" "the scanner finds every planted form of every marker (positive control)"

mapfile -t SCAN_FILES < <(find "$HOME1" -type f)
check "there are files to scan in the home" test "${#SCAN_FILES[@]}" -ge 2
check "the journal directory holds data" test -n "$(find "$HOME1/journal" -type f -size +0 -print -quit)"
scan() { # DESC FORMS... ; scans the home's files and the daemon log unless told otherwise
	local desc="$1" found="" p f
	shift
	for p in "$@"; do
		for f in "${SCAN_FILES[@]}" ${SCAN_LOG:+"$DAEMON_LOG"}; do
			if grep -a -q -F -f "$p" "$f"; then
				found="$found $(basename "$p") in ${f#"$IT_TMP"/};"
			fi
		done
	done
	if [ -z "$found" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "found:$found"
	fi
}
SCAN_LOG=1
for m in title checkin note stdin tag; do
	scan "no plaintext $m marker (UTF-8, UTF-16LE/BE, base64 x3) in the home or the daemon log" "$PAT/$m".*
done
scan "no passphrase (UTF-8, UTF-16LE/BE, base64 x3) in the home or the daemon log" "$PAT"/pass1.* "$PAT"/pass2.*
# DESIGN.md: the daemon logs ids and counts, so the commitment id may be in its log, but the
# store has only a clear header of length and version: the id must not be in the home
SCAN_LOG=""
scan "no plaintext commitment id (UTF-8, UTF-16LE/BE, base64 x3) in the home" "$PAT"/id.*
finish
