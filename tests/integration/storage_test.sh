#!/usr/bin/env bash
# Write failures (DESIGN.md 4, "nothing lost"): when the disk refuses a write, the check-in
# fails with a clear error (exit 8), nothing half-written stays in the store, everything
# acknowledged before is intact, and the daemon writes again once space returns, without a
# restart. The "full disk" is a file size limit on the daemon (RLIMIT_FSIZE, set with ulimit
# and lifted with prlimit): writes past it fail with EFBIG like they fail with ENOSPC on a
# full disk.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S="$IT_TMP/scratch"
REAL_BUDDYD=$BUDDYD
MNT=""

# Two ways to run out of space. As root (CI): the home on a small tmpfs, filled with a ballast
# file; ENOSPC, exactly like a full disk, and space returns when the ballast goes. Otherwise: a
# file size limit on the daemon (RLIMIT_FSIZE: EFBIG, the same failure path); space returns by
# restarting the daemon without the limit.
if [ "$(id -u)" = 0 ] && MNT=$(mktemp -d /tmp/buddy-full.XXXXXX) &&
	mount -t tmpfs -o size=256k,mode=0700 tmpfs "$MNT" 2>/dev/null; then
	trap 'umount "$MNT" 2>/dev/null; rmdir "$MNT" 2>/dev/null; cleanup' EXIT
	mode=tmpfs
	use_home "$MNT/home"
	bud init --kdf interactive --no-passphrase
	expect_rc 0 "init a home without passphrase on a 256 KiB tmpfs"
	if start_daemon; then ok "buddyd starts on it"; else not_ok "buddyd starts on it"; finish; fi
else
	[ -n "$MNT" ] && rmdir "$MNT" 2>/dev/null
	MNT=""
	mode=fsize
	LIMITED="$IT_TMP/buddyd-limited"
	printf '#!/bin/sh\nulimit -f 64\nexec "%s" "$@"\n' "$REAL_BUDDYD" >"$LIMITED"
	chmod 700 "$LIMITED"
	new_home storage -
	expect_rc 0 "init a home without passphrase"
	BUDDYD=$LIMITED
	if start_daemon; then ok "buddyd starts under a file size limit"; else not_ok "buddyd starts under a file size limit"; finish; fi
	BUDDYD=$REAL_BUDDYD
fi
echo "# out of space by: $mode"
bud commit add run "Run every day" --daily --tz UTC
expect_rc 0 "commit add"

text=$(head -c 900 /dev/zero | tr '\0' 'x')
if [ "$mode" = tmpfs ]; then
	# leave about 16 KiB: a few check-ins fit, then the disk is full
	avail=$(df -B1 --output=avail "$MNT" | tail -n 1)
	head -c $((avail - 16384)) /dev/zero >"$MNT/ballast" 2>/dev/null
fi
: >"$S/saved"
failed_at=0
for i in $(seq 1 200); do
	bud checkin run --done "$i $text"
	if [ "$RC" = 0 ]; then
		echo "$i" >>"$S/saved"
	else
		failed_at=$i
		break
	fi
done
check "a check-in fails once the space is used up" test "$failed_at" -gt 1
expect_rc 8 "the failing check-in exits 8 (storage error)"
expect_err_has "nothing was saved" "the message says nothing was saved"
if [ "$mode" = tmpfs ]; then
	expect_err_has "disk is full" "the message says the disk is full"
fi
saved=$(wc -l <"$S/saved")

bud checkin run --done "$((failed_at + 1)) $text"
expect_rc 8 "further check-ins fail too while there is no space"
bud status --json
expect_rc 0 "the daemon still answers"
# each failed write makes buddyd rebuild the journal from disk (state "reloading"; status then
# answers without counts, truthfully): a bounded poll of the state until it is open again
for _ in $(seq 1 400); do
	[ "$(pyjson "$OUT" 'd["state"]' 2>/dev/null)" = unlocked ] && break
	sleep 0.05
	bud status --json
done
expect_json "$OUT" 'd["entries"]' "$saved" "status counts only the acknowledged check-ins"
bud journal --json
expect_json "$OUT" 'len(d)' "$saved" "the journal holds exactly the acknowledged check-ins"
expect_json "$OUT" '[int(e["text"].split()[0]) for e in d] == list(range(1, '"$saved"' + 1))' true \
	"... in order, each intact"

# space returns
if [ "$mode" = tmpfs ]; then
	rm -f "$MNT/ballast"
	bud checkin run --done "after space returned"
	expect_rc 0 "the daemon writes again once space returns, without a restart"
else
	stop_daemon
	start_daemon || not_ok "buddyd restarts without the limit"
	bud checkin run --done "after space returned"
	expect_rc 0 "the daemon writes again once the limit is gone"
fi
bud journal --json
expect_json "$OUT" 'len(d)' "$((saved + 1))" "the journal has the new check-in"

stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops cleanly"
if start_daemon; then ok "buddyd starts again"; else not_ok "buddyd starts again"; fi
bud journal --json
expect_json "$OUT" 'len(d)' "$((saved + 1))" "after a restart the store opens with every acknowledged check-in"
grep -q "integrity\|torn" "$DAEMON_LOG" && not_ok "the store needed no repair" || ok "the store needed no repair"
stop_daemon
if [ -n "$MNT" ]; then
	umount "$MNT" && rmdir "$MNT"
	check "the tmpfs is unmounted" test ! -d "$MNT"
fi
finish
