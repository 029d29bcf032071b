#!/usr/bin/env bash
# Power-loss style damage to the journal's last record, end to end (proto/STORE.md "Opening:
# torn writes and corruption"; tests/unit/test_store.c does the same on the store alone).
#
# A home gets commitments, check-ins and notes, then one last check-in; the bytes that check-in
# added to the last segment are its record. For every offset inside that record:
#   - cut: the file is truncated there (a crash mid-append). buddyd starts, cuts the torn tail,
#     says so in its log, and serves exactly the journal from before the last check-in;
#   - flip: one bit of that byte is inverted (a complete record that is not what was written).
#     buddyd refuses to start, naming the record, and leaves every byte of the file as it was.
# Plus a file system that extended the file with zeros it never wrote: cut, nothing lost.
# Each case runs on a fresh copy of the home. TORN_STEP=K tests every K-th offset only (the
# valgrind build sets 16: a daemon start there takes a second).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S="$IT_TMP/scratch"
STEP=${TORN_STEP:-1}
not_same() { ! cmp -s "$1" "$2"; }
[ -n "${BUDDYD_REAL:-}" ] && STEP=${TORN_STEP:-16}

new_home torn -
expect_rc 0 "init a home without passphrase"
if start_daemon; then ok "buddyd starts"; else not_ok "buddyd starts"; finish; fi
bud commit add run "Run three times a week" --weekly 3 --tz Europe/Berlin
expect_rc 0 "commit add"
for i in 1 2 3; do
	bud checkin run --done "kept check-in $i"
	expect_rc 0 "check-in $i"
done
bud log "a note that stays"
expect_rc 0 "a note"
stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops"

seg=$(find "$BUDDY_HOME/journal" -name '*.log' | sort | tail -n 1)
before=$(stat -c %s "$seg")
start_daemon || { not_ok "buddyd starts again"; finish; }
bud journal --json
expect_rc 0 "journal before the last check-in"
cp "$OUT" "$S/journal.before"
bud checkin run --done "the last check-in, torn or flipped below"
expect_rc 0 "the last check-in"
bud journal --json
cp "$OUT" "$S/journal.after"
stop_daemon
after=$(stat -c %s "$seg")
check "the last check-in added one record to $(basename "$seg") ($before..$after)" [ "$after" -gt "$before" ]
check "the journal changed with it" not_same "$S/journal.before" "$S/journal.after"
cp -a "$BUDDY_HOME" "$S/pristine"

# fresh_copy: the current home becomes a copy of the home with the complete last record
fresh_copy() {
	rm -rf "$S/case"
	cp -a "$S/pristine" "$S/case"
	use_home "$S/case"
	CASE_SEG="$S/case/journal/$(basename "$seg")"
}

# ---- cut at every offset of the last record
cuts=0 cut_bad=0
for ((off = before; off < after; off += STEP)); do
	fresh_copy
	truncate -s "$off" "$CASE_SEG"
	if ! start_daemon; then
		cut_bad=$((cut_bad + 1))
		diag "cut at $off: buddyd did not start"
		continue
	fi
	bud journal --json
	if [ "$RC" != 0 ] || ! cmp -s "$OUT" "$S/journal.before"; then
		cut_bad=$((cut_bad + 1))
		diag "cut at $off: the journal is not the one from before the last check-in"
	fi
	stop_daemon
	size=$(stat -c %s "$CASE_SEG")
	if [ "$size" != "$before" ]; then
		cut_bad=$((cut_bad + 1))
		diag "cut at $off: the segment is $size bytes after the restart, not $before"
	fi
	cuts=$((cuts + 1))
done
expect_eq "$cut_bad" 0 "$cuts cuts inside the last record: each starts, serves the journal from before it, and the torn bytes are gone"
check "buddyd's log says a torn last record was cut" grep -q 'torn last record' "$DAEMON_LOG"

# after a cut, the home takes new check-ins where the torn one was
fresh_copy
truncate -s $((before + (after - before) / 2)) "$CASE_SEG"
start_daemon || not_ok "buddyd starts on a home cut mid-record"
bud checkin run --done "written after the cut"
expect_rc 0 "a check-in after the cut"
stop_daemon
start_daemon || not_ok "buddyd starts again after that"
bud journal --json
expect_out_has "written after the cut" "the new check-in is there after a restart"
expect_out_lacks "torn or flipped" "the torn one is not"
stop_daemon

# ---- the file extended with zeros that were never written
fresh_copy
head -c 4096 /dev/zero >>"$CASE_SEG"
if start_daemon; then
	bud journal --json
	check "4 KiB of zeros past the end: cut, every record kept" cmp -s "$OUT" "$S/journal.after"
	stop_daemon
else
	not_ok "4 KiB of zeros past the end: buddyd starts"
fi

# ---- one flipped bit at every offset of the last record
flips=0 flip_bad=0
for ((off = before; off < after; off += STEP)); do
	fresh_copy
	byte=$(od -An -tu1 -j "$off" -N1 "$CASE_SEG" | tr -d ' ')
	printf "\\$(printf '%03o' $((byte ^ (1 << (off % 8)))))" |
		dd of="$CASE_SEG" bs=1 seek="$off" conv=notrunc status=none
	sum=$(sha256sum <"$CASE_SEG")
	# daemon_spawn, not start_daemon: a refusal is expected, its log tail is checked below
	if daemon_spawn; then
		flip_bad=$((flip_bad + 1))
		diag "bit flipped at $off: buddyd started on a damaged record"
		DAEMON_PID=$SPAWN_PID
		stop_daemon
		continue
	fi
	if ! tail -n 3 "$DAEMON_LOG" | grep -q "failed its integrity check"; then
		flip_bad=$((flip_bad + 1))
		diag "bit flipped at $off: the log does not name the damaged record"
		tail -n 3 "$DAEMON_LOG" | sed 's/^/#   /'
	fi
	if [ "$(sha256sum <"$CASE_SEG")" != "$sum" ]; then
		flip_bad=$((flip_bad + 1))
		diag "bit flipped at $off: the segment was changed"
	fi
	flips=$((flips + 1))
done
expect_eq "$flip_bad" 0 "$flips one-bit flips inside the last record: each refused at start, naming the record, the file left as it was"

use_home "$S/pristine"
start_daemon || not_ok "the undamaged home still starts"
bud journal --json
check "the undamaged home has every entry" cmp -s "$OUT" "$S/journal.after"
stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops cleanly"
finish
