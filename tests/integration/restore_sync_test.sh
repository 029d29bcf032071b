#!/usr/bin/env bash
# A person loses their machine and restores an older backup on a new one (issue #8, "buddies
# reconnect without re-pairing"; proto/PROTOCOL.md 15.11). Real daemons on loopback:
#
#   1. alice and bob pair; alice shares "run" with bob and checks in 3 times (delivered).
#   2. `buddy backup` on alice's running daemon.
#   3. alice checks in 4 more times (delivered to bob): the backup never sees them.
#   4. alice's machine dies (kill -9); the backup is restored into a new home on a new port.
#   5. bob is away; the restored alice checks in twice: her stream to bob is "restoring"
#      (status says so), nothing may be sent (it would fork bob's copy). Between the two, that
#      machine is backed up and lost as well, and its backup restored: the stream keeps the
#      first restore point.
#   6. bob comes back: alice's restored daemon dials him without pairing again; his HEADS shows
#      he holds posts past the backup; alice adopts his head and renumbers her 2 new posts.
#   7. bob holds every shared check-in exactly once (3 + 4 + 2, then 1 more), each with its
#      own id; no alert on either side (no fork, no "ahead"); alice's new entry ids are above
#      every id bob holds; sent = delivered; both survive a restart with the same state.
#   8. Control: a copy of the home made by hand (no restore record) is "ahead" and sends
#      nothing, as before: a copied identity is never adopted silently.
#
# Deterministic: states are awaited with `buddy buddies --wait` and bounded polls of
# `buddy status --json` (peers.sh); no sleeps.
#
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/restore_sync_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

mkdir -p "$S"
BACKUP_PASS="$S/backup.pass"
printf 'correct horse battery staple, backed up\n' >"$BACKUP_PASS"
chmod 600 "$BACKUP_PASS"

read_ports PA PB PA2
PORT[alice]=$PA
PORT[bob]=$PB
PORT[alice2]=$PA2

# received_json WHO BUDDY: everything WHO holds of BUDDY's stream into $S/recv.WHO.json
received_json() {
	rpc "$1" received "{\"buddy\": \"$2\"}"
	cp "$OUT" "$S/recv.$1.json"
}

# texts: the texts of the check-ins bob holds of alice, sorted, one a line
texts() {
	pyjson "$S/recv.bob.json" '"\n".join(sorted(e["text"] for e in d["result"]["entries"]))'
}

init_homes alice bob
must_start alice "alice's buddyd starts"
must_start bob "bob's buddyd starts"
pair alice bob

# ---- 1. shared check-ins before the backup
as alice
bud commit add run "Run" --daily --tz UTC
expect_rc 0 "alice adds run"
bud share run --with bob
expect_rc 0 "alice shares run with bob"
for i in 1 2 3; do
	bud checkin run --done "before-backup-$i"
	expect_rc 0 "alice checks in before-backup-$i"
done
wait_synced alice bob "bob has alice's first 3 check-ins"
status_json alice
FP_OLD=$(pyjson "$S/status.alice.json" 'd["fingerprint"]')

# ---- 2. the backup, from the running daemon
as alice
bud backup "$S/alice.bak" --passphrase-file "$BACKUP_PASS" --kdf interactive
expect_rc 0 "alice backs up her journal"
expect_eq "$(file_mode "$S/alice.bak")" 600 "the backup file is 0600"
check "the backup holds no check-in text in clear" lacks -a before-backup "$S/alice.bak"

# ---- 3. after the backup: delivered to bob, lost with alice's machine
for i in 1 2 3 4; do
	bud checkin run --done "after-backup-$i"
	expect_rc 0 "alice checks in after-backup-$i"
done
wait_synced alice bob "bob has alice's 4 check-ins made after the backup"
received_json bob alice
expect_eq "$(pyjson "$S/recv.bob.json" 'd["result"]["total"]')" 7 "bob holds 7 of alice's entries"
MAX_E_OLD=$(pyjson "$S/recv.bob.json" 'max(e["id"] for e in d["result"]["entries"])')

# ---- 4. alice's machine dies; the backup comes back on a new one
dkill9 alice
use_home "$IT_TMP/alice2"
bud restore "$S/alice.bak" --passphrase-file "$BACKUP_PASS" --no-passphrase --kdf interactive
expect_rc 0 "the backup is restored into a new home"

# ---- 5. bob is away; the restored alice writes while her stream waits
dstop bob
expect_eq "$STOP_RC" 0 "bob's buddyd stops"
must_start alice2 "the restored alice's buddyd starts"
status_json alice2
expect_eq "$(pyjson "$S/status.alice2.json" "$(sync_of bob)[\"restoring\"]")" true \
	"status: the stream to bob waits since the restore"
expect_eq "$(pyjson "$S/status.alice2.json" 'd["entries"]')" 3 \
	"the restored journal holds the 3 entries of the backup"
expect_eq "$(pyjson "$S/status.alice2.json" 'd["fingerprint"]')" "$FP_OLD" \
	"the restored identity is alice's (same fingerprint)"
as alice2
bud status
expect_out_has "restored from a backup" "buddy status says the stream waits since the restore"
bud checkin run --done "while-waiting-1"
expect_rc 0 "restored alice checks in while-waiting-1"
# still waiting, this machine is backed up and lost too: the second restore must keep the
# first restore point (nothing after it was sent), or while-waiting-1 would be lost or taken
# for a fork
bud backup "$S/alice2.bak" --passphrase-file "$BACKUP_PASS" --kdf interactive
expect_rc 0 "the restored alice backs up while her stream to bob still waits"
dkill9 alice2
mv "$IT_TMP/alice2" "$IT_TMP/alice2-lost"
use_home "$IT_TMP/alice2"
bud restore "$S/alice2.bak" --passphrase-file "$BACKUP_PASS" --no-passphrase --kdf interactive
expect_rc 0 "that backup is restored on a third machine"
must_start alice2 "the twice-restored alice's buddyd starts"
status_json alice2
expect_eq "$(pyjson "$S/status.alice2.json" "$(sync_of bob)[\"restoring\"]")" true \
	"status: the stream to bob still waits"
as alice2
bud checkin run --done "while-waiting-2"
expect_rc 0 "the twice-restored alice checks in while-waiting-2"
bud journal --json
cp "$OUT" "$S/journal.alice2.json"
NEW_IDS=$(pyjson "$S/journal.alice2.json" \
	'" ".join(str(e["id"]) for e in d if e.get("text", "").startswith("while-waiting"))')
ok_ids=1
for id in $NEW_IDS; do
	[ "$id" -gt "$MAX_E_OLD" ] || ok_ids=0
done
expect_eq "$ok_ids" 1 "entries written while waiting have ids above every id bob holds ($NEW_IDS > $MAX_E_OLD)"

# ---- 6. bob comes back: no pairing, no fork
must_start bob "bob's buddyd starts again"
wait_state alice2 bob online "the restored alice and bob reconnect without pairing again"
wait_synced alice2 bob "every post of the restored alice is acknowledged by bob"
status_json alice2
expect_eq "$(pyjson "$S/status.alice2.json" "$(sync_of bob)[\"restoring\"]")" false \
	"the stream to bob is settled"
expect_eq "$(pyjson "$S/status.alice2.json" 'd["alerts"]')" 0 "no alert on alice's side"
status_json bob
expect_eq "$(pyjson "$S/status.bob.json" 'd["alerts"]')" 0 "no alert on bob's side (no fork)"

# ---- 7. bob holds everything once
as alice2
bud checkin run --done "after-restore"
expect_rc 0 "restored alice checks in once more"
wait_synced alice2 bob "the check-in after the restore reaches bob"
received_json bob alice
EXPECTED=$(printf '%s\n' after-backup-1 after-backup-2 after-backup-3 after-backup-4 \
	after-restore before-backup-1 before-backup-2 before-backup-3 while-waiting-1 \
	while-waiting-2 | sort)
expect_eq "$(texts)" "$EXPECTED" "bob holds every shared check-in exactly once (3 + 4 + 2 + 1)"
expect_eq "$(pyjson "$S/recv.bob.json" 'len(set(e["id"] for e in d["result"]["entries"]))')" \
	"$(pyjson "$S/recv.bob.json" 'len(d["result"]["entries"])')" "each has its own entry id"
status_json alice2
expect_eq "$(pyjson "$S/status.alice2.json" "$(sync_of bob)[\"waiting\"]")" 0 \
	"sent = delivered on the restored alice"

# the same after both restart
dstop alice2
dstop bob
must_start alice2 "the restored alice restarts"
must_start bob "bob restarts"
wait_state alice2 bob online "they reconnect after the restart"
status_json alice2
expect_eq "$(pyjson "$S/status.alice2.json" "$(sync_of bob)[\"restoring\"]")" false \
	"still settled after a restart"
received_json bob alice
expect_eq "$(texts)" "$EXPECTED" "bob's copy is the same after the restart"
status_json bob
expect_eq "$(pyjson "$S/status.bob.json" 'd["alerts"]')" 0 "still no alert on bob's side"

# ---- 8. control: a copied home (no restore) is ahead, as before
dstop alice2
cp -a "$IT_TMP/alice" "$IT_TMP/alice3"
rm -f "$IT_TMP/alice3/buddyd.sock" "$IT_TMP/alice3/buddyd.lock"
PORT[alice3]=$PA
must_start alice3 "a copy of the lost home made by hand starts"
wait_state alice3 bob online "the copy reaches bob"
as alice3
bud checkin run --done "from-a-copy"
expect_rc 0 "the copy checks in"
alerted() {
	status_json "$1"
	[ "$(pyjson "$S/status.$1.json" 'd["alerts"]')" -ge 1 ]
}
if wait_until "$SYNC_S" alerted alice3; then
	ok "the copy alerts: bob holds posts of alice it does not (ahead)"
else
	not_ok "the copy alerts: bob holds posts of alice it does not (ahead)"
fi
status_json alice3
expect_eq "$(pyjson "$S/status.alice3.json" "$(sync_of bob)[\"waiting\"]")" 1 \
	"the copy's check-in stays unsent"
received_json bob alice
check "bob never got the copy's check-in" lacks from-a-copy "$S/recv.bob.json"

stop_all alice3 bob
no_open_handles
finish
