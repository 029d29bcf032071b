#!/usr/bin/env bash
# Backup, restore and the paper key (issue #8; proto/BACKUP.md, proto/CONTROL.md backup.*), with
# real daemons in temporary homes:
#
#   1. alice (a passphrase) and bob pair; alice has commitments, shared and private check-ins and
#      notes, a pause, a config; bob shares with her and cheers her: her inbox fills
#   2. `buddy backup` while her buddyd runs: a 0600 file holding no marker in plaintext; an
#      independent reader (backup_reader.py, from the spec alone) decodes it to her identity and
#      her journal's bytes; a locked journal (exit 4), an existing file (exit 7), a hostile
#      control client (ids and offsets checked)
#   3. restore refusals into a new home on a "new machine": wrong passphrase (5), a changed byte
#      and a cut file (8), not a backup (2): each leaves nothing; --check
#   4. restore into the new home, buddyd there: every commitment, entry, buddy and inbox event as
#      `buddy export` and `buddy inbox` had them, the same fingerprint; a second restore into it
#      refuses and changes nothing; bob reconnects to her without pairing again, and her new
#      shared check-in reaches him
#   5. a restore from an older backup, after a shared check-in the buddy already has: the buddy
#      keeps it, the restored stream carries on after it with no fork alert (the type 43 record)
#   6. the paper key: init --paper-key shows 24 words on the terminal only (a pty from script(1)),
#      which python3-mnemonic reads as the seed of the same fingerprint; restore --paper-key gives
#      that identity in a new home; wrong and swapped words are refused by position / checksum;
#      after bob revokes the old pairing, the two pair again
#   7. homes that exist: restore into a symlink to an empty directory and (as root) into a mount
#      point; a restore killed with -9 (beside, inside) and one killed between its renames are
#      cleaned up by the next restore or init, and a journal restore did not move is never
#      removed
#
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/backup_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

# the independent reader and the paper key's check need Debian's python3-nacl, python3-msgpack
# and python3-mnemonic (.ci/deps): the system python, whatever python3 is first on PATH
SYSPY=/usr/bin/python3
[ -x "$SYSPY" ] || SYSPY=$PYTHON3
READER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/backup_reader.py"
SPEC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../proto" && pwd)/BACKUP.md"
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
M=$(rand_hex 4) # this run's markers: nothing with it may be in a backup file in plaintext
PASS_A="alice-pass-$M"
PASS_NEW="new-machine-pass-$M"
PASS_BK="backup-pass-$M"
printf '%s\n' "$PASS_A" >"$S/pass.alice"
printf '%s\n' "$PASS_NEW" >"$S/pass.new"
printf '%s\n' "$PASS_BK" >"$S/pass.backup"
printf '%s\n' "not-the-backup-pass" >"$S/pass.wrong"
chmod 600 "$S"/pass.*

# nothing_at DIR DESC: DIR does not exist, and its parent holds no staged ".NAME.restore-*"
nothing_at() {
	local left
	left=$(find "$(dirname "$1")" -maxdepth 1 -name ".$(basename "$1").restore-*" 2>/dev/null)
	if [ ! -e "$1" ] && [ -z "$left" ]; then
		ok "$2"
	else
		not_ok "$2"
		diag "found: $(find "$1" -maxdepth 1 2>&1 | head -5) $left"
	fi
}

# tree_sums DIR: path, mode and sha256 of every file under DIR
tree_sums() {
	(cd "$1" && find . -type f ! -name 'buddyd.*' -printf '%p %m ' -exec sha256sum {} \; | sort)
}

# export_json WHO FILE: WHO's `buddy export --format json` without its export time
export_json() {
	as "$1"
	rm -f "$S/export.tmp"
	bud export --format json --out "$S/export.tmp"
	python3 - "$S/export.tmp" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d.pop("exported_at", None)
json.dump(d, open(sys.argv[2], "w"), sort_keys=True, indent=1)
EOF
}

FLOOD=${BUDDY_BACKUP_FLOOD:-1500}
read_ports PA PB PP
init_homes bob
use_home "$IT_TMP/alice"
bud init --kdf interactive --passphrase-file "$S/pass.alice"
expect_rc 0 "init alice, with a passphrase"
PORT[alice]=$PA
PORT[bob]=$PB
PASSF[alice]="$S/pass.alice"
must_start alice "alice's buddyd starts (unlocked with her passphrase)"
must_start bob "bob's buddyd starts"

#######################################################################################
echo "# 1. alice's journal: commitments, entries, a buddy, an inbox"
pair alice bob
as alice
bud commit add run "Run TITLEMARK$M" --daily --tz UTC
expect_rc 0 "alice commit add run"
bud commit add book "Book PRIVTITLE$M" --weekly 2 --tz Europe/Berlin
expect_rc 0 "alice commit add book (never shared)"
bud share run --with bob
expect_rc 0 "alice shares run with bob"
bud checkin run --done "RUNMARK$M one" --value 5km
expect_rc 0 "alice checks in on run (shared)"
RUN1=$(entry_no)
bud checkin run --partial "PRIVMARK$M private check-in" --private
expect_rc 0 "alice checks in privately"
bud log "NOTEMARK$M a private note" --tag "TAGMARK$M"
expect_rc 0 "alice writes a private note with a tag"
bud log "SHNOTEMARK$M a shared note" --share-with bob
expect_rc 0 "alice shares a note with bob"
bud pause book --until "$(date -u -d '+3 days' +%F)" "PAUSEMARK$M away"
expect_rc 0 "alice pauses book"
bud config set deadlines.remind_lead 2h
expect_rc 0 "alice sets a config key"
as bob
bud commit add swim "Swim BOBTITLE$M" --weekly 1 --tz UTC
expect_rc 0 "bob commit add swim"
bud share swim --with alice
expect_rc 0 "bob shares swim with alice"
bud checkin swim --done "BOBMARK$M lengths"
expect_rc 0 "bob checks in on swim"
wait_synced alice bob "alice's posts to bob are acknowledged"
wait_synced bob alice "bob's posts to alice are acknowledged"
as bob
bud cheer alice "$RUN1" "CHEERMARK$M well done"
expect_rc 0 "bob cheers alice's run"
wait_synced bob alice "bob's cheer is acknowledged"
as alice
bud inbox --all --json
expect_json "$OUT" '{e["kind"] for e in d["events"]} >= {"paired", "checkin", "cheer", "commitment"}' \
	true "alice's inbox has bob's pairing, commitment, check-in and cheer"
# enough entries for a backup of many chunks and several backup.read answers (> 256 KiB)
run "$PYTHON3" "$HELPER" flood "$IT_TMP/alice/buddyd.sock" run "$FLOOD" 2 "FLOODMARK$M" 0
expect_json "$OUT" 'd["ok"]' "$FLOOD" "alice makes $FLOOD more shared check-ins"
wait_synced alice bob "... which bob acknowledges" 60
NENTRIES=$((FLOOD + 4))
as alice
bud inbox --all -n 1000 --json
cp "$OUT" "$S/inbox.alice.before.json"
export_json alice "$S/export.alice.before.json"
expect_json "$S/export.alice.before.json" '[len(d["commitments"]), len(d["entries"]), len(d["received"])]' \
	"[2, $NENTRIES, 1]" "alice's export: 2 commitments, $NENTRIES entries, what bob shared"
status_json alice
FP_A=$(pyjson "$S/status.alice.json" 'd["fingerprint"]')
buddies_json alice
cp "$S/buddies.alice.json" "$S/buddies.alice.before.json"

#######################################################################################
echo "# 2. backup while buddyd runs"
as alice
bud backup "$S/alice.bak" --passphrase-file "$S/pass.backup" --kdf interactive
expect_rc 0 "buddy backup FILE exits 0 with the daemon running"
expect_out_has "$NENTRIES entries, 2 commitments, 1 buddy" "it says what the backup holds"
check "the backup file is mode 0600" test "$(file_mode "$S/alice.bak")" = 600
if grep -a -q -E "MARK$M|TITLE$M|$PASS_A|$PASS_BK|TAGMARK" "$S/alice.bak"; then
	not_ok "the backup holds no marker, title, tag or passphrase in plaintext"
else
	ok "the backup holds no marker, title, tag or passphrase in plaintext"
fi
check "the backup starts with the magic buddy-backup-v1" test "$(head -c 15 "$S/alice.bak")" = buddy-backup-v1
if find "$S" -maxdepth 1 -name '.alice.bak.*' | grep -q .; then
	not_ok "no temporary file left beside it"
else
	ok "no temporary file left beside it"
fi

run "$SYSPY" "$READER" "$S/alice.bak" "$S/pass.backup" "$S/decoded"
expect_rc 0 "an independent reader written from proto/BACKUP.md decodes the backup"
cp "$OUT" "$S/decoded.json"
expect_json "$S/decoded.json" '[d["fingerprint"], d["seed_matches_pk"], d["config"]]' \
	"[\"$FP_A\", true, true]" "... to alice's identity (the seed is the fingerprint's key) and her config"
cmp_ok=1
for f in "$S"/decoded/journal/*.log; do
	n=$(stat -c %s "$f")
	cmp -s -n "$n" "$f" "$IT_TMP/alice/journal/$(basename "$f")" || cmp_ok=0
done
check "... and to her journal's segment files, byte for byte (as far as the snapshot went)" test $cmp_ok = 1
check "... and to her config file" cmp -s "$S/decoded/config" "$IT_TMP/alice/config"
run "$SYSPY" "$READER" "$S/alice.bak" "$S/pass.wrong"
expect_rc 5 "the independent reader refuses the wrong passphrase at the first chunk"

# the worked example of the spec, as the page prints it
sed -n '/backup-example-begin/,/backup-example-end/p' "$SPEC" | grep -E '^[0-9a-f]+$' | tr -d '\n' |
	"$SYSPY" -c 'import binascii, sys; sys.stdout.buffer.write(binascii.unhexlify(sys.stdin.read()))' \
		>"$S/example.bak"
printf 'correct horse battery staple' >"$S/pass.example"
run "$SYSPY" "$READER" "$S/example.bak" "$S/pass.example"
expect_json "$OUT" '[d["fingerprint"], d["made"], d["records"], d["segments"], d["config"], d["seed_matches_pk"]]' \
	'["4dc8 82d6 d92d ea6b cb5f a9da eb76 d9e7", 1764288000, 0, [["00000001.log", 32]], true, true]' \
	"the independent reader decodes proto/BACKUP.md's worked example as the page says"
use_home "$IT_TMP/example"
bud restore "$S/example.bak" --check --passphrase-file "$S/pass.example"
expect_rc 0 "buddy restore --check proves the worked example too (an empty journal)"
as alice

bud backup "$S/alice.bak" --passphrase-file "$S/pass.backup" --kdf interactive
expect_rc 7 "a backup onto an existing file exits 7"
expect_err_has "--force" "... and says --force replaces it"
cp "$S/alice.bak" "$S/alice.bak.keep"
bud backup "$S/alice.bak" --passphrase-file "$S/pass.backup" --kdf interactive --force
expect_rc 0 "--force replaces it"
check "... with a new file (another salt)" bash -c "! cmp -s '$S/alice.bak' '$S/alice.bak.keep'"
rm -f "$S/alice.bak.keep"
bud backup --passphrase-file "$S/pass.backup"
expect_rc 2 "backup without FILE exits 2"
run bash -c "'$BUDDY' backup - --passphrase-file '$S/pass.backup' --kdf interactive >'$S/alice.stdout.bak'"
expect_rc 0 "backup - writes to standard output"
run "$SYSPY" "$READER" "$S/alice.stdout.bak" "$S/pass.backup"
expect_rc 0 "... a backup the reader decodes"
# standard output that fails midway (a 1 KiB file size limit) cannot be taken back: say so
run bash -c "trap '' XFSZ; ulimit -f 1; exec '$BUDDY' backup - --passphrase-file '$S/pass.backup' --kdf interactive >'$S/cut.stdout.bak'"
expect_rc_not 0 "backup - that cannot write it all fails"
expect_err_has "the output is incomplete: discard it" "... and says the output is incomplete, not that nothing was written"
check "... having written part of it" test "$(stat -c %s "$S/cut.stdout.bak")" -gt 0
rm -f "$S/cut.stdout.bak"

# a config symlinked into the home (GNU stow, dotfile managers) is read as buddyd reads it
mv "$IT_TMP/alice/config" "$S/dotfiles.config"
ln -s "$S/dotfiles.config" "$IT_TMP/alice/config"
bud backup "$S/alice.link.bak" --passphrase-file "$S/pass.backup" --kdf interactive
expect_rc 0 "a backup with a symlinked config exits 0"
run "$SYSPY" "$READER" "$S/alice.link.bak" "$S/pass.backup" "$S/decoded.link"
expect_rc 0 "... a backup the reader decodes"
check "... holding the config the link points to" cmp -s "$S/decoded.link/config" "$S/dotfiles.config"
chmod 620 "$S/dotfiles.config"
bud backup "$S/alice.gw.bak" --passphrase-file "$S/pass.backup" --kdf interactive
expect_rc_not 0 "a backup with a group-writable config fails (buddyd would not read it either)"
expect_err_has "the config file: $IT_TMP/alice/config is writable by group or others" \
	"... saying it is the config file, and why"
check "... and writes nothing" test ! -e "$S/alice.gw.bak"
chmod 600 "$S/dotfiles.config"
rm -f "$IT_TMP/alice/config" "$S/alice.link.bak"
mv "$S/dotfiles.config" "$IT_TMP/alice/config"

# the hostile side of the control API: nothing the client sends is trusted
rpc alice backup.read '{"id": 12345, "off": 0}'
expect_json "$OUT" 'd["error"]["code"]' 9 "backup.read of an unknown id: code 9"
rpc alice backup.start '{"passphrase": ""}'
expect_json "$OUT" 'd["error"]["code"]' 1 "backup.start with an empty passphrase: code 1"
rpc alice backup.start '{"passphrase": "x", "kdf": "extreme"}'
expect_json "$OUT" 'd["error"]["code"]' 1 "backup.start with an unknown kdf: code 1"
rpc alice backup.start "{\"passphrase\": \"$PASS_BK\", \"kdf\": \"interactive\"}"
expect_json "$OUT" 'sorted(d["result"].keys())' \
	'["buddies", "commitments", "entries", "id", "kdf", "made", "records", "segments", "size"]' \
	"backup.start answers id, size and what it holds"
BID=$(pyjson "$OUT" 'd["result"]["id"]')
rpc alice backup.read "{\"id\": $BID, \"off\": 100}"
expect_json "$OUT" '[d["error"]["code"], "must be 0" in d["error"]["message"]]' '[1, true]' \
	"backup.read at another offset than where it stands: code 1, saying where"
rpc alice backup.read "{\"id\": $BID, \"off\": 0}"
expect_json "$OUT" '[len(d["result"]["data"]) > 0, len(d["result"]["data"]) <= 2 * 262144]' '[true, true]' \
	"backup.read at 0 answers the first bytes (at most 256 KiB)"
rpc alice backup.end "{\"id\": $BID}"
expect_json "$OUT" 'd["result"]' '{}' "backup.end ends it"
rpc alice backup.read "{\"id\": $BID, \"off\": 0}"
expect_json "$OUT" 'd["error"]["code"]' 9 "... after which its id is unknown"

as alice
bud lock
expect_rc 0 "alice locks her journal"
bud backup "$S/locked.bak" --passphrase-file "$S/pass.backup"
expect_rc 4 "a backup of a locked journal exits 4"
check "... and writes nothing" test ! -e "$S/locked.bak"
bud unlock --passphrase-file "$S/pass.alice"
expect_rc 0 "alice unlocks again"
wait_state alice bob online "alice sees bob online again"

# the old machine goes away: its daemon stops before the new one runs with the same identity
dstop alice
expect_eq "$STOP_RC" 0 "alice's buddyd stops cleanly"

#######################################################################################
echo "# 3. restore refusals: each leaves nothing"
NEW=newalice
as "$NEW"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.wrong" --new-passphrase-file "$S/pass.new" --kdf interactive
expect_rc 5 "restore with the wrong backup passphrase exits 5"
expect_err_has "wrong passphrase" "... saying so"
nothing_at "$IT_TMP/$NEW" "... and leaves no home"

SIZE=$(stat -c %s "$S/alice.bak")
cp "$S/alice.bak" "$S/tampered.bak"
printf '\x5a' | dd of="$S/tampered.bak" bs=1 seek=$((SIZE / 2)) conv=notrunc status=none
bud restore "$S/tampered.bak" --passphrase-file "$S/pass.backup" --new-passphrase-file "$S/pass.new" --kdf interactive
expect_rc 8 "restore of a backup with one byte changed mid-file exits 8"
expect_err_has "failed its check" "... naming the chunk that failed its check"
nothing_at "$IT_TMP/$NEW" "... and leaves no home"

head -c $((SIZE - 100)) "$S/alice.bak" >"$S/truncated.bak"
bud restore "$S/truncated.bak" --passphrase-file "$S/pass.backup" --new-passphrase-file "$S/pass.new" --kdf interactive
expect_rc 8 "restore of a cut backup exits 8"
nothing_at "$IT_TMP/$NEW" "... and leaves no home"

cp "$S/alice.bak" "$S/header.bak"
printf '\x07' | dd of="$S/header.bak" bs=1 seek=40 conv=notrunc status=none
bud restore "$S/header.bak" --passphrase-file "$S/pass.backup" --new-passphrase-file "$S/pass.new" --kdf interactive
expect_rc 5 "restore of a backup whose header's salt was changed exits 5 (the header is authenticated)"
nothing_at "$IT_TMP/$NEW" "... and leaves no home"

head -c 4096 /dev/urandom >"$S/random.bak"
bud restore "$S/random.bak" --passphrase-file "$S/pass.backup" --new-passphrase-file "$S/pass.new"
expect_rc 2 "restore of a file that is not a backup exits 2"
expect_err_has "not a buddy backup" "... saying so"
bud restore "$S/no-such.bak" --passphrase-file "$S/pass.backup" --new-passphrase-file "$S/pass.new"
expect_rc 6 "restore of a missing file exits 6"
nothing_at "$IT_TMP/$NEW" "none of these left a home"

bud restore "$S/alice.bak" --check --passphrase-file "$S/pass.backup"
expect_rc 0 "restore --check of the good backup exits 0"
expect_out_has "is a good backup" "... and says so"
expect_out_has "$FP_A" "... with alice's fingerprint"
nothing_at "$IT_TMP/$NEW" "... writing no home"

#######################################################################################
echo "# 4. restore on the new machine"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --new-passphrase-file "$S/pass.new" --kdf interactive
expect_rc 0 "buddy restore exits 0"
expect_out_has "$FP_A" "it prints alice's fingerprint"
expect_out_has "$NENTRIES entries, 2 commitments, 1 buddy (bob)" "it says what came back"
expect_out_has "reconnect by themselves" "it says the buddies reconnect by themselves"
expect_out_has "old machine" "it warns against running the old machine's daemon"
check "the new home is 0700" test "$(file_mode "$IT_TMP/$NEW")" = 700
check "its journal directory is 0700" test "$(file_mode "$IT_TMP/$NEW/journal")" = 700
check "its key file is 0600" test "$(file_mode "$IT_TMP/$NEW/keys")" = 600
check "its config is 0600" test "$(file_mode "$IT_TMP/$NEW/config")" = 600
modes=$(find "$IT_TMP/$NEW/journal" -type f -printf '%m\n' | sort -u)
check "its segment files are 0600" test "$modes" = 600
check "its config is alice's" cmp -s "$IT_TMP/$NEW/config" "$IT_TMP/alice/config"
if grep -r -a -q -E "MARK$M|TITLE$M|$PASS_NEW|$PASS_BK" "$IT_TMP/$NEW"; then
	not_ok "the restored home holds no marker or passphrase in plaintext"
else
	ok "the restored home holds no marker or passphrase in plaintext"
fi
if find "$IT_TMP" -maxdepth 1 -name '.*.restore-*' | grep -q .; then
	not_ok "no staged .NAME.restore-* directory is left beside it"
else
	ok "no staged .NAME.restore-* directory is left beside it"
fi
# a home whose parents do not exist yet: made 0700 like the home
use_home "$IT_TMP/deep/er/home"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --no-passphrase --kdf interactive
expect_rc 0 "restore into a home whose parent directories do not exist"
check "... which are made 0700" test "$(file_mode "$IT_TMP/deep/er")" = 700
rm -rf "$IT_TMP/deep"
as "$NEW"

tree_sums "$IT_TMP/$NEW" >"$S/sums.before"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --new-passphrase-file "$S/pass.new" --kdf interactive
expect_rc 7 "a second restore into the same home exits 7"
expect_err_has "exists already" "... saying the home exists"
tree_sums "$IT_TMP/$NEW" >"$S/sums.after"
check "... and changes nothing in it" cmp -s "$S/sums.before" "$S/sums.after"

PORT[$NEW]=$PA # the new machine answers where buddies knew alice
PASSF[$NEW]="$S/pass.new"
must_start "$NEW" "the restored home's buddyd starts, unlocked with the new passphrase"
status_json "$NEW"
expect_json "$S/status.$NEW.json" 'd["fingerprint"]' "$FP_A" "the restored daemon has alice's fingerprint"
export_json "$NEW" "$S/export.alice.after.json"
check "buddy export: every commitment, entry and what bob shared came back byte-identical" \
	cmp -s "$S/export.alice.before.json" "$S/export.alice.after.json"
if ! cmp -s "$S/export.alice.before.json" "$S/export.alice.after.json"; then
	diff "$S/export.alice.before.json" "$S/export.alice.after.json" | head -20 | sed 's/^/#   /'
fi
as "$NEW"
bud inbox --all -n 1000 --json
python3 - "$S/inbox.alice.before.json" "$OUT" >"$S/inbox.cmp" <<'EOF'
import json, sys
a, b = (json.load(open(p))["events"] for p in sys.argv[1:3])
after = {e["id"]: e for e in b}
same = all(after.get(e["id"]) == e for e in a if e["id"] >= min(after))
print("same" if same and len(a) > 0 else "differ", len(a), len(b))
EOF
check "buddy inbox: every event came back, the same (id, kind, time, text, read)" \
	grep -q '^same' "$S/inbox.cmp"
buddies_json "$NEW"
expect_json "$S/buddies.$NEW.json" '[(b["name"], b["fingerprint"], b["public_key"], b["revoked"]) for b in d]' \
	"$(pyjson "$S/buddies.alice.before.json" '[(b["name"], b["fingerprint"], b["public_key"], b["revoked"]) for b in d]')" \
	"buddy buddies: bob, with his key, as before"

wait_state "$NEW" bob online "the restored alice sees bob online: no pairing again"
wait_state bob alice online "bob sees alice online"
as "$NEW"
bud checkin run --done "AFTERMARK$M from the new machine"
expect_rc 0 "the restored alice checks in on run (shared with bob)"
expect_out_has "shared with bob" "... shared with bob"
wait_synced "$NEW" bob "... and bob acknowledges it"
as bob
bud show alice --json --recent 1000
cp "$OUT" "$S/show.bob.json"
expect_json "$S/show.bob.json" '[any("AFTERMARK" in c["text"] for x in d["commitments"] for c in x["recent"]), d["fork"], d["alerts"]]' \
	'[true, null, []]' "bob has the new check-in, and no fork and no alert"

#######################################################################################
echo "# 5. a restore from an older backup, after the buddy got more"
as "$NEW"
bud backup "$S/alice2.bak" --passphrase-file "$S/pass.backup" --kdf interactive
expect_rc 0 "the restored alice makes a backup"
bud checkin run --done "LATERMARK$M after the backup"
expect_rc 0 "... then a shared check-in the backup does not have"
wait_synced "$NEW" bob "... which bob acknowledges"
dstop "$NEW"
expect_eq "$STOP_RC" 0 "that machine's buddyd stops"
NEW3=thirdalice
as "$NEW3"
bud restore "$S/alice2.bak" --passphrase-file "$S/pass.backup" --no-passphrase
expect_rc 0 "restore the older backup on a third machine (no passphrase)"
PORT[$NEW3]=$PA
must_start "$NEW3" "its buddyd starts"
wait_state "$NEW3" bob online "it sees bob online"
as "$NEW3"
bud checkin run --done "THIRDMARK$M from the third machine"
expect_rc 0 "it checks in on run"
wait_synced "$NEW3" bob "... and bob acknowledges it" 40
as bob
bud show alice --json --recent 1000
cp "$OUT" "$S/show.bob.json"
expect_json "$S/show.bob.json" '[[k for k in ("AFTERMARK", "LATERMARK", "THIRDMARK") if any(k in c["text"] for x in d["commitments"] for c in x["recent"])], d["fork"], d["alerts"]]' \
	'[["AFTERMARK", "LATERMARK", "THIRDMARK"], null, []]' \
	"bob keeps the check-in made after the backup, has the new one, and no fork or alert"
dstop "$NEW3"
expect_eq "$STOP_RC" 0 "the third machine's buddyd stops cleanly"

#######################################################################################
echo "# 6. the paper key"
use_home "$IT_TMP/paper"
bud init --paper-key --no-passphrase --kdf interactive
expect_rc 2 "init --paper-key without a terminal exits 2"
nothing_at "$IT_TMP/paper" "... and creates nothing"
# script(1) gives init a terminal; Enter comes from its standard input
printf '\n' | timeout 60 setsid script -qec "'$BUDDY' init --paper-key --no-passphrase --kdf interactive" /dev/null \
	>"$S/paper.out" 2>&1
expect_eq "$?" 0 "init --paper-key on a terminal exits 0"
tr -d '\r' <"$S/paper.out" | grep -E '^ +[0-9]+ [a-z]' | sed -E 's/ +[0-9]+ ([a-z]+)/\1 /g' | tr -s ' \n' ' ' |
	sed 's/ $//' >"$S/paper.words"
WORDS=$(cat "$S/paper.words")
expect_eq "$(wc -w <"$S/paper.words")" 24 "it shows 24 words"
FP_P=$(tr -d '\r' <"$S/paper.out" | sed -n 's/^Your fingerprint: //p')
check "... and the home's fingerprint" test -n "$FP_P"
if grep -q $'\e\[2J' "$S/paper.out"; then
	ok "the words are cleared from the screen after Enter"
else
	not_ok "the words are cleared from the screen after Enter"
fi
run "$SYSPY" - "$S/paper.words" <<'EOF'
import hashlib, sys
from mnemonic import Mnemonic
from nacl.signing import SigningKey
words = open(sys.argv[1]).read().split()
seed = bytes(Mnemonic("english").to_entropy(words))
pk = bytes(SigningKey(seed).verify_key)
h = hashlib.blake2b(b"buddy-fingerprint-v1" + pk, digest_size=16).hexdigest()
print(" ".join(h[i:i + 4] for i in range(0, 32, 4)))
EOF
expect_eq "$(cat "$OUT")" "$FP_P" "python3-mnemonic reads the words as the seed of that fingerprint (BIP-39)"
if grep -r -a -q -F "$WORDS" "$IT_TMP/paper" "$DAEMON_LOG" "$CLI_ERRLOG" ||
	grep -r -a -q -w "$(echo "$WORDS" | cut -d' ' -f1-3)" "$IT_TMP/paper"; then
	not_ok "the words are nowhere in the home or the logs"
else
	ok "the words are nowhere in the home or the logs"
fi

use_home "$IT_TMP/paper2"
bad=$(echo "$WORDS" | awk '{$7 = "notaword"; print}')
run "$BUDDY" restore --paper-key --no-passphrase <<<"$bad"
expect_rc 2 "restore --paper-key with a word not in the list exits 2"
expect_err_has "word 7" "... naming its position"
# the last word's low 8 bits are the checksum: another value there is always caught
badsum=$("$SYSPY" - "$S/paper.words" <<'EOF'
import sys
from mnemonic import Mnemonic
wl = Mnemonic("english").wordlist
w = open(sys.argv[1]).read().split()
i = wl.index(w[23])
w[23] = wl[(i & ~0xff) | ((i + 1) & 0xff)]
print(" ".join(w))
EOF
)
run "$BUDDY" restore --paper-key --no-passphrase <<<"$badsum"
expect_rc 2 "restore --paper-key with a last word of another checksum exits 2"
expect_err_has "checksum" "... for the checksum"
run "$BUDDY" restore --paper-key --no-passphrase <<<"$(echo "$WORDS" | cut -d' ' -f1-23)"
expect_rc 2 "restore --paper-key with 23 words exits 2"
nothing_at "$IT_TMP/paper2" "none of these left a home"
run "$BUDDY" restore --paper-key --no-passphrase --kdf interactive <<<"$(echo "$WORDS" | tr 'a-z ' 'A-Z\n')"
expect_rc 0 "restore --paper-key (upper case, one word a line) exits 0"
expect_out_has "$FP_P" "... with the paper key's fingerprint"
expect_out_has "Only the identity came back" "... saying that only the identity came back"
expect_out_has "buddy revoke" "... and how buddies reconnect"

# the paper key's identity pairs with bob, loses its home, comes back from the words alone
PORT[paper]=$PP
must_start paper "the paper home's buddyd starts"
pair paper bob
dstop paper
PORT[paper2]=$PP
must_start paper2 "the home restored from the paper key starts"
status_json paper2
expect_json "$S/status.paper2.json" '[d["fingerprint"], d["entries"], d["buddies"]]' \
	"[\"$FP_P\", 0, 0]" "it has the identity, an empty journal and no buddy"
as bob
bud revoke paper
expect_rc 0 "bob revokes the old pairing with that identity"
pair paper2 bob
as bob
bud verify paper2 --json
cp "$OUT" "$S/verify.bob.json"
as paper2
bud verify bob --json
expect_eq "$(pyjson "$OUT" 'd["safety_number"]')" "$(pyjson "$S/verify.bob.json" 'd["safety_number"]')" \
	"paired again: both see the same safety number"

#######################################################################################
echo "# 7. homes that exist already, and what an interrupted restore leaves"
# staged_in DIR: the staged directories restore makes in DIR and beside it
staged_in() {
	find "$1" "$(dirname "$1")" -maxdepth 1 \( -name '.restore-*' -o -name ".$(basename "$1").restore-*" \) 2>/dev/null
}
# a home that is a symlink to an empty directory: restore builds in it, as init would
mkdir -p -m 700 "$IT_TMP/realhome"
ln -s "$IT_TMP/realhome" "$IT_TMP/linkhome"
use_home "$IT_TMP/linkhome"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --no-passphrase
expect_rc 0 "restore into a home that is a symlink to an empty directory exits 0"
check "... the key file, journal and config are in the directory it points to" \
	test -f "$IT_TMP/realhome/keys" -a -d "$IT_TMP/realhome/journal" -a -f "$IT_TMP/realhome/config"
check "... the link is still a link" test -L "$IT_TMP/linkhome"
check "... and no staged directory is left" test -z "$(staged_in "$IT_TMP/realhome")"
if start_daemon; then
	ok "buddyd starts on the home that is a symlink"
	bud status
	expect_rc 0 "... and serves it"
	stop_daemon
else
	not_ok "buddyd starts on the home that is a symlink"
fi

# a home that is a mount point (an encrypted volume mounted there): needs root to mount
mkdir -p "$IT_TMP/mnthome"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o mode=700 tmpfs "$IT_TMP/mnthome"; then
	use_home "$IT_TMP/mnthome"
	bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --no-passphrase
	expect_rc 0 "restore into a home that is an empty mount point exits 0"
	check "... the key file and journal are on the mounted file system" \
		test -f "$IT_TMP/mnthome/keys" -a -d "$IT_TMP/mnthome/journal"
	check "... and no staged directory is left" test -z "$(staged_in "$IT_TMP/mnthome")"
	umount "$IT_TMP/mnthome"
else
	echo "# SKIP restore into a mount point: needs root (to mount a tmpfs)"
fi

# kill -9 halfway through a restore: the backup arrives through a FIFO and stops coming
killed_restore() { # HOME DESC
	local home="$1" i pid
	rm -f "$S/slow"
	mkfifo "$S/slow"
	BUDDY_HOME="$home" "$BUDDY" restore "$S/slow" --passphrase-file "$S/pass.backup" --no-passphrase \
		>/dev/null 2>&1 &
	pid=$!
	exec 7>"$S/slow"
	head -c $(($(stat -c %s "$S/alice.bak") / 2)) "$S/alice.bak" >&7
	for i in $(seq 100); do
		[ -n "$(staged_in "$home")" ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	exec 7>&-
	check "$2" test -n "$(staged_in "$home")"
}
killed_restore "$IT_TMP/killed" "a restore killed with -9 leaves its staged directory beside the home"
use_home "$IT_TMP/killed"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --no-passphrase
expect_rc 0 "the next restore there exits 0"
expect_err_has "removed what an interrupted restore left" "... saying it removed the killed one's leftovers"
check "... and none is left" test -z "$(staged_in "$IT_TMP/killed")"
mkdir -m 700 "$IT_TMP/killed2"
killed_restore "$IT_TMP/killed2" "a restore killed with -9 leaves its staged directory in an existing home"
use_home "$IT_TMP/killed2"
bud init --no-passphrase
expect_rc 0 "init there exits 0"
expect_err_has "removed what an interrupted restore left" "... saying it removed the killed one's leftovers"
check "... and none is left" test -z "$(staged_in "$IT_TMP/killed2")"

# killed between moving the parts in and the key file: journal/ and config, no key file, and the
# staged directory's marker naming them (device and inode)
half_home() { # HOME [MARKER-INODE]: what such a kill leaves
	local h="$1"
	mkdir -m 700 -p "$h/journal" "$h/.restore-AbC123"
	cp "$IT_TMP/$NEW/journal/"*.log "$h/journal/"
	cp "$IT_TMP/$NEW/config" "$h/config"
	cp "$IT_TMP/$NEW/keys" "$h/.restore-AbC123/keys"
	printf 'journal %s %s\nconfig %s\n' "$(stat -c %d "$h/journal")" "${2:-$(stat -c %i "$h/journal")}" \
		"$(stat -c '%d %i' "$h/config")" >"$h/.restore-AbC123/installing"
}
half_home "$IT_TMP/half"
use_home "$IT_TMP/half"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --no-passphrase
expect_rc 0 "restore into a home a restore was killed in, between its renames, exits 0"
expect_err_has "removed what an interrupted restore left" "... saying it removed that restore's journal and config"
check "... and the home is whole, with no staged directory" \
	test -f "$IT_TMP/half/keys" -a -z "$(staged_in "$IT_TMP/half")"
half_home "$IT_TMP/half2"
use_home "$IT_TMP/half2"
bud init --no-passphrase
expect_rc 0 "init in such a home exits 0"
check "... with an empty journal: not the interrupted restore's under a new key" \
	test -z "$(ls -A "$IT_TMP/half2/journal")"
# what restore did not move is never removed: a journal without key file nor marker, or one the
# marker does not name
mkdir -m 700 -p "$IT_TMP/userjournal/journal"
cp "$IT_TMP/$NEW/journal/"*.log "$IT_TMP/userjournal/journal/"
use_home "$IT_TMP/userjournal"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --no-passphrase
expect_rc 7 "restore into a home with a journal but no key file (and no marker) exits 7"
check "... and leaves that journal" test -n "$(ls -A "$IT_TMP/userjournal/journal")"
half_home "$IT_TMP/othermark" 12345
use_home "$IT_TMP/othermark"
bud restore "$S/alice.bak" --passphrase-file "$S/pass.backup" --no-passphrase
expect_rc 7 "restore where a marker names another journal exits 7"
check "... and leaves the journal there" test -n "$(ls -A "$IT_TMP/othermark/journal")"

stop_all paper2 bob
no_open_handles
finish
