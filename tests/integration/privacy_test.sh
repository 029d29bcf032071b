#!/usr/bin/env bash
# A whole session between two daemons, scanned for plaintext (SECURITY.md sections 1 to 3; issue
# #6 "Secrets"). alice and bob have passphrases; every byte between their daemons, pairing
# included, crosses a recording relay (sync_helper.py relay; each daemon --advertise's the
# relay's port, so every dial goes there). Everything a person types that is not a command
# carries its own random marker: the passphrases, commitment ids and titles (shared and not),
# check-ins (shared, --private, on an unshared commitment), notes (private, on a shared
# commitment, --share-with, --share), a tag, pause reasons (shared and not), a cheer and a
# comment, a retracted check-in, a check-in made while bob's daemon was killed -9. The session
# also has inbox, inbox read, lock and unlock, and bob's restart.
#
# Then every regular file under both homes (journal, key file, config-less home, socket
# directory), the logs (every daemon's and every CLI stderr), HOME and XDG_DATA_HOME, and every
# recorded TCP byte is scanned for every marker as plain bytes: none may be found. Private
# markers must never leave alice's journal; shared ones reach bob only inside his encrypted
# journal. Controls show the markers were really written: each decrypted view (bob's show,
# alice's export and journal) holds exactly the markers it should, and the scanner finds them in
# those views. sync_test.sh section 1 checks the same for shared and private check-ins and notes
# through a relay; this test covers the rest of a session.
#
# Deterministic: states are awaited with `buddy buddies --wait` and bounded polls of `buddy
# status --json` (peers.sh); no sleeps.
#
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/privacy_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

T_START=$(date +%s)
MARKERS="$S/markers" # one "private|shared NAME MARKER" a line
: >"$MARKERS"

# mark CLASS NAME PREFIX: a new random marker (PREFIX and 16 hex digits, lower case so that it
# is a valid commitment id), recorded in $MARKERS; printed
mark() {
	local m
	m="$3$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	printf '%s %s %s\n' "$1" "$2" "$m" >>"$MARKERS"
	printf '%s\n' "$m"
}

# has FILE MARKER... / hasnt FILE MARKER...: the file holds every one / none of them (run by
# check)
# shellcheck disable=SC2317
has() {
	local f="$1" m
	shift
	for m in "$@"; do
		grep -q -F -e "$m" "$f" || return 1
	done
}
# shellcheck disable=SC2317
hasnt() {
	local f="$1" m
	shift
	for m in "$@"; do
		if grep -q -F -e "$m" "$f"; then
			diag "$m is in $f"
			return 1
		fi
	done
}

# ---- homes with passphrases ----

PASS_A=$(mark private passphrase-alice pass-)
PASS_B=$(mark private passphrase-bob pass-)
printf '%s\n' "$PASS_A" >"$S/alice.pass"
printf '%s\n' "$PASS_B" >"$S/bob.pass"
chmod 600 "$S/alice.pass" "$S/bob.pass"
new_home alice "$S/alice.pass"
expect_rc 0 "init alice with a passphrase"
new_home bob "$S/bob.pass"
expect_rc 0 "init bob with a passphrase"

# ---- the relay, and the daemons behind it ----

read_ports PA1 PA PB1 PB
start_relay "$S/relay"
PORT[alice]=$PA
PORT[bob]=$PB
PASSF[bob]="$S/bob.pass"
if dstart alice --advertise "127.0.0.1:$PA1"; then
	ok "alice's buddyd starts (locked), advertising the relay's port"
else
	not_ok "alice's buddyd starts (locked), advertising the relay's port"
	finish
fi
status_json alice
expect_json "$S/status.alice.json" 'd["state"]' locked "alice's journal is locked: it has a passphrase"
as alice
bud unlock --passphrase-file "$S/alice.pass"
expect_rc 0 "alice unlock"
if dstart bob --advertise "127.0.0.1:$PB1"; then
	ok "bob's buddyd starts, unlocked with --passphrase-file, advertising the relay's port"
else
	not_ok "bob's buddyd starts, unlocked with --passphrase-file, advertising the relay's port"
	finish
fi

as alice
bud invite --name bob --address "127.0.0.1:$PA1"
expect_rc 0 "alice invites bob at the relay's port"
CODE=$(head -n 1 "$OUT")
as bob
bud accept "$CODE" --name alice
expect_rc 0 "bob accepts (through the relay)"
wait_state alice bob online "alice sees bob online"
wait_state bob alice online "bob sees alice online"
buddies_json alice
expect_json "$S/buddies.alice.json" "$(by_name bob)['addresses']" "[\"127.0.0.1:$PB1\"]" \
	"alice knows bob only at the relay's port (every dial of hers is recorded)"
buddies_json bob
expect_json "$S/buddies.bob.json" "$(by_name alice)['addresses']" "[\"127.0.0.1:$PA1\"]" \
	"bob knows alice only at the relay's port (every dial of his is recorded)"

# ---- alice's session ----

as alice
C_SH=$(mark shared commit-id-shared c)
T_SH=$(mark shared title-shared T)
C_PR=$(mark private commit-id-private c)
T_PR=$(mark private title-private T)
bud commit add "$C_SH" "Run $T_SH" --daily --tz UTC
expect_rc 0 "alice commit add (the shared one)"
bud share "$C_SH" --with bob
expect_rc 0 "alice shares it with bob"
bud commit add "$C_PR" "Diary $T_PR" --weekly 2 --tz UTC
expect_rc 0 "alice commit add (a private one)"

M_CHECKIN=$(mark shared checkin-shared S)
bud checkin "$C_SH" --done "easy $M_CHECKIN" --value 5km
expect_out_has "shared with bob" "a shared check-in"
E_SH=$(entry_no)
M_CHK_PRIV=$(mark private checkin-private P)
bud checkin "$C_SH" --partial "knee $M_CHK_PRIV" --private
expect_rc 0 "a --private check-in on the shared commitment"
M_CHK_UNSH=$(mark private checkin-unshared P)
bud checkin "$C_PR" --done "wrote $M_CHK_UNSH"
expect_rc 0 "a check-in on the private commitment"
M_NOTE=$(mark private note-private P)
TAG=$(mark private tag t)
bud log "dear diary $M_NOTE" --tag "$TAG"
expect_rc 0 "a private note with a tag"
M_NOTE_C=$(mark private note-on-shared P)
bud log "about the run $M_NOTE_C" --commit "$C_SH"
expect_rc 0 "a private note on the shared commitment"
M_NOTE_W=$(mark shared note-share-with S)
bud log "hello bob $M_NOTE_W" --share-with bob
expect_rc 0 "a note --share-with bob"
M_NOTE_S=$(mark shared note-share S)
bud log "to the run's buddies $M_NOTE_S" --commit "$C_SH" --share
expect_rc 0 "a note --share on the shared commitment"
M_RETR=$(mark shared checkin-retracted S)
bud checkin "$C_SH" --skip "oops $M_RETR"
expect_rc 0 "a shared check-in, to be retracted"
E_RT=$(entry_no)
UNTIL=$(date -u -d '+20 days' +%F)
M_PAUSE=$(mark shared pause-shared S)
bud pause "$C_SH" --until "$UNTIL" "away $M_PAUSE"
expect_rc 0 "alice pauses the shared commitment (a reason)"
M_PAUSE_P=$(mark private pause-private P)
bud pause "$C_PR" --until "$UNTIL" "away $M_PAUSE_P"
expect_rc 0 "alice pauses the private commitment (a reason)"
wait_synced alice bob "everything alice shared reached bob"

# ---- bob's ----

as bob
C_BOB=$(mark shared commit-id-bob c)
T_BOB=$(mark shared title-bob T)
bud commit add "$C_BOB" "Read $T_BOB" --daily --tz UTC
expect_rc 0 "bob commit add"
bud share "$C_BOB" --with alice
expect_rc 0 "bob shares it with alice"
M_BOB=$(mark shared checkin-bob S)
bud checkin "$C_BOB" --done "chapter $M_BOB"
expect_rc 0 "bob checks in (shared)"
M_BOB_P=$(mark private checkin-bob-private P)
bud checkin "$C_BOB" --done "secret $M_BOB_P" --private
expect_rc 0 "bob checks in --private"
M_BOB_N=$(mark private note-bob P)
bud log "bob's diary $M_BOB_N"
expect_rc 0 "bob writes a private note"
M_CHEER=$(mark shared cheer S)
bud cheer alice "$E_SH" "go $M_CHEER"
expect_rc 0 "bob cheers alice's check-in"
M_COMMENT=$(mark shared comment S)
bud comment alice "$E_SH" "how far? $M_COMMENT"
expect_rc 0 "bob comments on it"
wait_synced bob alice "everything bob shared reached alice"

as alice
bud retract "$E_RT"
expect_rc 0 "alice retracts #$E_RT"
wait_synced alice bob "the retraction reached bob"

# ---- inbox, lock and unlock, kill -9 ----

as alice
bud inbox --all
expect_rc 0 "alice inbox --all"
expect_out_has "$M_CHEER" "alice's inbox shows bob's cheer (the decrypted view)"
bud inbox read --all
expect_rc 0 "alice inbox read --all"
as bob
bud inbox --all
expect_rc 0 "bob inbox --all"
as alice
bud lock
expect_rc 0 "alice lock"
status_json alice
expect_json "$S/status.alice.json" 'd["state"]' locked "alice's journal is locked"
as alice
bud unlock --passphrase-file "$S/alice.pass"
expect_rc 0 "alice unlock again"

dkill9 bob
ok "bob's buddyd killed -9"
as alice
M_AFTER=$(mark shared checkin-while-bob-down S)
bud checkin "$C_SH" --done "alone $M_AFTER"
expect_rc 0 "alice checks in while bob's daemon is down"
if dstart bob --advertise "127.0.0.1:$PB1"; then
	ok "bob's buddyd starts again"
else
	not_ok "bob's buddyd starts again"
	finish
fi
wait_state bob alice online "bob and alice connect again (through the relay)"
wait_synced alice bob "the check-in made while bob was down reached him"

# ---- controls: the markers are where they should be, decrypted ----

as bob
bud show alice --json --recent 100
cp "$OUT" "$S/show.bob.json"
check "bob's show alice holds alice's shared markers (title, check-ins, notes, pause)" \
	has "$S/show.bob.json" "$C_SH" "$T_SH" "$M_CHECKIN" "$M_NOTE_W" "$M_NOTE_S" "$M_PAUSE" "$M_AFTER"
check "... and none of her private ones, nor the retracted check-in" \
	hasnt "$S/show.bob.json" "$C_PR" "$T_PR" "$M_CHK_PRIV" "$M_CHK_UNSH" "$M_NOTE" "$TAG" \
	"$M_NOTE_C" "$M_PAUSE_P" "$M_RETR"
as alice
bud show bob --json --recent 100
cp "$OUT" "$S/show.alice.json"
check "alice's show bob holds bob's shared markers" has "$S/show.alice.json" "$C_BOB" "$T_BOB" "$M_BOB"
check "... and none of his private ones" hasnt "$S/show.alice.json" "$M_BOB_P" "$M_BOB_N"
bud journal --json
cp "$OUT" "$S/journal.alice.json"
check "alice's journal shows bob's cheer and comment" has "$S/journal.alice.json" "$M_CHEER" "$M_COMMENT"
bud export --format json
cp "$OUT" "$S/export.alice.json"
check "alice's export holds every entry she wrote (the markers were really stored)" \
	has "$S/export.alice.json" "$C_SH" "$T_SH" "$C_PR" "$T_PR" "$M_CHECKIN" "$M_CHK_PRIV" \
	"$M_CHK_UNSH" "$M_NOTE" "$TAG" "$M_NOTE_C" "$M_NOTE_W" "$M_NOTE_S" "$M_RETR" "$M_AFTER"
as alice
bud commit show "$C_PR" --json
check "alice's commit show lists her private pause reason" has "$OUT" "$M_PAUSE_P"

stop_all alice bob
kill -TERM "$RELAY_PID" 2>/dev/null
wait "$RELAY_PID" 2>/dev/null
forget_pid "$RELAY_PID"

# ---- the scan ----

cat >"$S/scan.py" <<'EOF'
"""scan.py MARKERS ROOT...: every regular file under each ROOT (symlinks not followed), searched
for every marker as plain bytes; prints JSON {files, bytes, per_root: {root: bytes}, hits}."""
import json, os, stat, sys

markers = [ln.split() for ln in open(sys.argv[1]).read().splitlines() if ln]
out = {"files": 0, "bytes": 0, "per_root": {}, "hits": []}
for root in sys.argv[2:]:
    n = 0
    paths = [root] if os.path.isfile(root) else []
    for dp, _, fs in os.walk(root):
        paths += [os.path.join(dp, f) for f in fs]
    for p in paths:
        if not stat.S_ISREG(os.lstat(p).st_mode):
            continue  # the control socket
        with open(p, "rb") as f:
            b = f.read()
        out["files"] += 1
        n += len(b)
        for cls, name, m in markers:
            if m.encode() in b:
                out["hits"].append([cls, name, p])
    out["per_root"][root] = n
    out["bytes"] += n
print(json.dumps(out, sort_keys=True))
EOF
ROOTS=("$IT_TMP/alice" "$IT_TMP/bob" "$IT_TMP/logs" "$IT_TMP/userhome" "$IT_TMP/xdg" "$RELAY_DIR")
run "$PYTHON3" "$S/scan.py" "$MARKERS" "${ROOTS[@]}"
expect_rc 0 "the scan ran"
cp "$OUT" "$S/scan.json"
echo "# $(wc -l <"$MARKERS") markers; scanned $(pyjson "$S/scan.json" 'd["files"]') files, $(pyjson "$S/scan.json" 'd["per_root"]') bytes"
expect_json "$S/scan.json" "all(d['per_root'][r] > 0 for r in ('$IT_TMP/alice', '$IT_TMP/bob', '$IT_TMP/logs', '$RELAY_DIR'))" true \
	"the scan read both homes, the logs and the recorded TCP bytes"
expect_json "$S/scan.json" '[h for h in d["hits"] if h[0] == "private"]' '[]' \
	"no private marker (passphrases, private ids, titles, check-ins, notes, tag, pause reason) in any byte of either home, the logs or the wire"
expect_json "$S/scan.json" '[h for h in d["hits"] if h[0] == "shared"]' '[]' \
	"no shared marker in plaintext either: on the wire and in bob's home only encrypted"
run "$PYTHON3" "$S/scan.py" "$MARKERS" "$S/export.alice.json" "$S/show.bob.json"
cp "$OUT" "$S/scan.control.json"
expect_json "$S/scan.control.json" 'len(set(h[1] for h in d["hits"])) >= 15' true \
	"control: the same scan finds the markers in the decrypted export and show"

echo "# privacy_test took $(($(date +%s) - T_START)) s"
finish
