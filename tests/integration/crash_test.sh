#!/usr/bin/env bash
# Crash safety (DESIGN.md 4): an append is acknowledged only once it is on disk, so a check-in
# whose `buddy checkin` exited 0 survives a kill -9 of buddyd at any moment, exactly once, and
# the journal opens again without error. Rounds in one home, so the store accumulates.
#
# Each round starts buddyd, runs a loop of `buddy checkin` with unique texts (recording a text
# only when the command exited 0), and the loop itself kills buddyd with SIGKILL right after its
# K-th success (deterministic: no sleeps). The main shell reaps the daemon and tells the loop,
# so every later check-in meets a dead daemon and must exit 3. Then buddyd is restarted
# (--passphrase-file) and the journal is checked. Parallel rounds run several loops at once,
# so the kill lands while appends are in flight and being group-committed.
#
# Tunables: CRASH_N (check-ins per single-loop round, default 300), CRASH_PAR_N (per loop in the
# parallel rounds, default 150), CRASH_LOOPS (parallel loops, default 4).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S="$IT_TMP/scratch"
N=${CRASH_N:-300}
PAR_N=${CRASH_PAR_N:-150}
LOOPS=${CRASH_LOOPS:-4}
CMD_TIMEOUT=30
printf 'crash-test-passphrase\n' >"$S/pass"
chmod 600 "$S/pass"

SUCC_ALL="$S/succeeded.all"     # every text whose checkin exited 0, all rounds
NEVER_ALL="$S/never-sent.all"   # every text whose checkin exited 3 (never reached a daemon)
MAYBE_ALL="$S/maybe.all"        # texts whose checkin failed otherwise (in flight at the kill)
: >"$SUCC_ALL"
: >"$NEVER_ALL"
: >"$MAYBE_ALL"

new_home crashhome "$S/pass"
expect_rc 0 "init the crash-test home"
if start_daemon --passphrase-file "$S/pass"; then
	ok "buddyd starts unlocked with --passphrase-file"
else
	not_ok "buddyd starts unlocked with --passphrase-file"
	finish
fi
bud commit add c "Crash test commitment" --daily
expect_rc 0 "add the commitment the check-ins go to"

# checkin_loop ROUND LOOP COUNT K DIR
#   K > 0: this loop kills the daemon (pid $DAEMON_PID) with SIGKILL after its K-th success,
#          then waits on DIR/dead until the main shell has reaped it.
#   K = 0: a companion loop: it just runs COUNT check-ins.
# Writes DIR/succ.LOOP (texts that exited 0), DIR/fail.LOOP ("rc phase text" per failure;
# phase is "pre" when the kill had not been ordered yet), DIR/late.LOOP (successes of the
# killer loop after its kill: must stay empty).
checkin_loop() {
	local round="$1" loop="$2" count="$3" k="$4" dir="$5"
	local i n=0 killed=0 rc text phase
	: >"$dir/succ.$loop"
	: >"$dir/fail.$loop"
	: >"$dir/late.$loop"
	for ((i = 1; i <= count; i++)); do
		text="crash r$round l$loop i$i"
		timeout -k 5 "$CMD_TIMEOUT" "$BUDDY" checkin c --done "$text" >/dev/null 2>>"$dir/stderr.$loop"
		rc=$?
		if [ "$rc" = 0 ]; then
			printf '%s\n' "$text" >>"$dir/succ.$loop"
			n=$((n + 1))
			if [ "$killed" = 1 ]; then
				printf '%s\n' "$text" >>"$dir/late.$loop"
			fi
			if [ "$k" -gt 0 ] && [ "$killed" = 0 ] && [ "$n" -ge "$k" ]; then
				: >"$dir/kill-ordered"
				kill -KILL "$DAEMON_PID"
				killed=1
				IFS= read -r _ <"$dir/dead"
			fi
		else
			phase=post
			[ -e "$dir/kill-ordered" ] || phase=pre
			printf '%s %s %s\n' "$rc" "$phase" "$text" >>"$dir/fail.$loop"
		fi
	done
	if [ "$k" -gt 0 ] && [ "$killed" = 0 ]; then
		# fewer than K successes: kill now so the round ends; the checks below report it
		: >"$dir/kill-ordered"
		: >"$dir/never-reached-k"
		kill -KILL "$DAEMON_PID"
		IFS= read -r _ <"$dir/dead"
	fi
}

# verify_journal DESC: restart checks over everything recorded so far
verify_journal() {
	local desc="$1"
	bud journal --json
	if [ "$RC" != 0 ]; then
		not_ok "$desc: journal --json works after the restart (exit $RC)"
		diag_last_run
		return
	fi
	ok "$desc: journal --json works after the restart"
	cp "$OUT" "$S/journal.json"
	if python3 - "$S/journal.json" "$SUCC_ALL" "$NEVER_ALL" "$MAYBE_ALL" >"$S/verify.txt" 2>&1 <<'EOF'; then
import collections, json, sys
entries = json.load(open(sys.argv[1], encoding="utf-8"))
read = lambda p: [l.rstrip("\n") for l in open(p, encoding="utf-8") if l.strip()]
succ, never, maybe = read(sys.argv[2]), set(read(sys.argv[3])), set(read(sys.argv[4]))
texts = collections.Counter(e.get("text") for e in entries)
bad = []
missing = [t for t in succ if texts[t] == 0]
if missing:
    bad.append("%d acknowledged check-ins are missing, e.g. %r" % (len(missing), missing[:5]))
dups = [t for t, n in texts.items() if n > 1]
if dups:
    bad.append("%d texts are stored more than once, e.g. %r" % (len(dups), dups[:5]))
ghosts = [t for t in texts if t in never]
if ghosts:
    bad.append("%d check-ins that never reached a daemon (exit 3) are stored, e.g. %r"
               % (len(ghosts), ghosts[:5]))
unknown = [t for t in texts if t not in never and t not in maybe and t not in set(succ)]
if unknown:
    bad.append("%d entries with texts nobody sent, e.g. %r" % (len(unknown), unknown[:5]))
wrong = [e for e in entries if e.get("commit") != "c" or e.get("status") != "done"
         or e.get("kind") != "checkin"]
if wrong:
    bad.append("%d entries are not done check-ins on c, e.g. %r" % (len(wrong), wrong[:2]))
ids = [e.get("id") for e in entries]
if len(set(ids)) != len(ids):
    bad.append("entry ids repeat")
print("%d entries, %d acknowledged, %d in flight at a kill of which %d stored"
      % (len(entries), len(succ), len(maybe), sum(1 for t in maybe if texts[t])))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
		ok "$desc: every acknowledged check-in is there exactly once, nothing else ($(head -n 1 "$S/verify.txt"))"
	else
		not_ok "$desc: every acknowledged check-in is there exactly once, nothing else"
		sed 's/^/#   /' "$S/verify.txt"
	fi
	bud status --json
	expect_json "$OUT" 'd["entries"]' "$(pyjson "$S/journal.json" 'len(d)')" \
		"$desc: status counts as many entries as the journal lists"
}

# restart_and_verify DESC
restart_and_verify() {
	local desc="$1" log_lines
	log_lines=$(wc -l <"$DAEMON_LOG")
	if start_daemon --passphrase-file "$S/pass"; then
		ok "$desc: buddyd restarts and unlocks the journal after kill -9"
	else
		not_ok "$desc: buddyd restarts and unlocks the journal after kill -9"
		tail -n +"$((log_lines + 1))" "$DAEMON_LOG" | sed 's/^/#   /'
		return 1
	fi
	if tail -n +"$((log_lines + 1))" "$DAEMON_LOG" | grep -q -E 'error|corrupt'; then
		not_ok "$desc: the journal opens without an error in the daemon log"
		tail -n +"$((log_lines + 1))" "$DAEMON_LOG" | sed 's/^/#   /'
	else
		ok "$desc: the journal opens without an error in the daemon log"
	fi
	bud status --json
	expect_json "$OUT" 'd["locked"]' false "$desc: the restarted daemon is unlocked"
	verify_journal "$desc"
}

# collect ROUND_DIR LOOPS...: fold a round's lists into the cumulative ones
collect() {
	local dir="$1" l
	shift
	for l in "$@"; do
		cat "$dir/succ.$l" >>"$SUCC_ALL"
		awk '$1 == 3 { sub(/^[^ ]+ [^ ]+ /, ""); print }' "$dir/fail.$l" >>"$NEVER_ALL"
		awk '$1 != 3 { sub(/^[^ ]+ [^ ]+ /, ""); print }' "$dir/fail.$l" >>"$MAYBE_ALL"
		cat "$dir/stderr.$l" >>"$CLI_ERRLOG"
	done
}

# run_round ROUND K LOOPS COUNT: loop 1 kills after K successes; loops 2.. are companions
run_round() {
	local round="$1" k="$2" loops="$3" count="$4" dir l pids=() drc desc
	dir="$S/round$round"
	mkdir -p "$dir"
	mkfifo -m 600 "$dir/dead"
	if [ "$loops" = 1 ]; then
		desc="round $round (1 loop, kill -9 after success $k of $count)"
	else
		desc="round $round ($loops loops in parallel, kill -9 after loop 1's success $k)"
	fi
	echo "# $desc"
	for ((l = 1; l <= loops; l++)); do
		checkin_loop "$round" "$l" "$count" "$([ "$l" = 1 ] && echo "$k" || echo 0)" "$dir" &
		pids+=("$!")
		BG_PIDS+=("$!")
	done
	# the killer loop sends SIGKILL; reaping here means the daemon is gone for good (socket
	# and lock closed), then the killer loop may go on
	wait "$DAEMON_PID" 2>/dev/null
	drc=$?
	forget_pid "$DAEMON_PID"
	DAEMON_PID=""
	printf 'dead\n' >"$dir/dead"
	for l in "${pids[@]}"; do
		wait "$l"
		forget_pid "$l"
	done
	rm -f "$dir/dead"
	collect "$dir" $(seq 1 "$loops")

	expect_eq "$drc" 137 "$desc: buddyd died of SIGKILL"
	check "$desc: loop 1 reached $k successes before the kill" test ! -e "$dir/never-reached-k"
	expect_eq "$(wc -l <"$dir/succ.1")" "$k" "$desc: loop 1 had exactly $k successes"
	expect_eq "$(cat "$dir/late.1")" "" "$desc: nothing succeeded after the kill"
	local pre
	pre=$(cat "$dir"/fail.* | awk '$2 == "pre"' | head -n 5)
	expect_eq "$pre" "" "$desc: no check-in failed before the kill"
	if [ "$loops" = 1 ]; then
		expect_eq "$(awk '$1 == 3' "$dir/fail.1" | wc -l)" "$((count - k))" \
			"$desc: all $((count - k)) check-ins after the kill exited 3 (no daemon)"
	else
		local other
		other=$(cat "$dir"/fail.* | awk '$1 != 3 && $1 != 1' | head -n 5)
		expect_eq "$other" "" "$desc: check-ins after the kill exited 3, or 1 when in flight"
		echo "# $desc: $(cat "$dir"/succ.* | wc -l) acknowledged, $(cat "$dir"/fail.* | awk '$1 == 1' | wc -l) in flight at the kill, $(cat "$dir"/fail.* | awk '$1 == 3' | wc -l) without daemon"
	fi
	if grep -q -v -i -E 'not running|closed the connection|lost the connection|^$' "$dir"/stderr.*; then
		not_ok "$desc: the failed check-ins only say there is no daemon or the connection was lost"
		grep -h -v -i -E 'not running|closed the connection|lost the connection|^$' "$dir"/stderr.* |
			sort | uniq -c | head -n 5 | sed 's/^/#   /'
	else
		ok "$desc: the failed check-ins only say there is no daemon or the connection was lost"
	fi
	restart_and_verify "$desc"
}

round=0
for k in 1 37 150 262 299; do
	[ "$k" -lt "$N" ] || k=$((N - 1))
	round=$((round + 1))
	run_round "$round" "$k" 1 "$N"
	[ -n "$DAEMON_PID" ] || break
done
for k in 40 117; do
	[ -n "$DAEMON_PID" ] || break
	[ "$k" -lt "$PAR_N" ] || k=$((PAR_N - 1))
	round=$((round + 1))
	run_round "$round" "$k" "$LOOPS" "$PAR_N"
done

if [ -n "$DAEMON_PID" ]; then
	echo "# a clean stop and restart at the end"
	stop_daemon
	expect_eq "$STOP_RC" 0 "buddyd stops cleanly after the crash rounds"
	if start_daemon --passphrase-file "$S/pass"; then
		ok "buddyd starts again after a clean stop"
		verify_journal "after a clean restart"
		bud commit show c --json
		expect_json "$OUT" 'd["commitment"]["checkins"]' "$(pyjson "$S/journal.json" 'len(d)')" \
			"commit show counts every stored check-in"
		stop_daemon
		expect_eq "$STOP_RC" 0 "buddyd stops cleanly at the end"
	else
		not_ok "buddyd starts again after a clean stop"
	fi
fi

finish
