#!/usr/bin/env bash
# Crash safety with sync (issue #6): alice's daemon takes heavy check-in traffic from several
# clients at once while it syncs her shared commitment to bob's daemon, and one daemon (alice,
# bob, or both) is killed with SIGKILL at a random moment; then it is restarted and checked.
# Rounds in the same two homes, so the stores and the stream accumulate.
#
# Each round (tests/integration/crash_sync_driver.py round, seeded by CRASH_SEED and the round):
#   - CRASH_CLIENTS control-socket clients (the first pipelines CRASH_DEPTH requests, the others
#     send one at a time) and CRASH_CLI_CLIENTS clients running the buddy CLI send CRASH_PER
#     requests each to alice: check-ins on the commitment shared with bob (each a post to bob),
#     private check-ins on it, check-ins on an unshared commitment, private notes and notes
#     shared with bob; every text is unique ("R<round>.W<client>.I<index>.<kind>") and the
#     ledger keeps what each request returned;
#   - the victim and the moment are drawn from the seed: right after alice acknowledged the K-th
#     check-in of the round, or right after bob's daemon raised its R-th event for one of alice's
#     posts (a `watch`); a count, never a clock. When only bob dies, he is restarted at once
#     while alice's traffic goes on; otherwise alice's clients stop and the round ends;
#   - each daemon killed is reaped (it died of SIGKILL) and restarted: it must open its store
#     without help and say so ("unlocked: ..." then serving; a "torn last record" note is
#     allowed and counted), and no daemon may log an error during the round;
#   - alice's whole journal against the ledger: every acknowledged entry exactly once, with its
#     id and content, shared with bob exactly when it should be; in-flight ones at most once;
#     the rest absent; nothing unknown; status counts the same; no alert on either side;
#   - every CRASH_BOB_EVERY rounds and at the end, once alice has nothing waiting for bob: bob
#     holds exactly alice's shared entries, each once, in order, none of the private ones; post
#     counts sent == delivered == received; no unreadable post, fork or alert.
# The first failing round ends the run (CRASH_KEEP_GOING=1 goes on); rerun with the printed
# CRASH_SEED (and CRASH_ROUNDS up to that round) for the same plan: the same requests, victims
# and trigger counts (what else is in flight at that count depends on the scheduler).
# BUDDY_IT_KEEP=1 keeps the homes, the daemon log and the ledger (scratch/ledger.jsonl).
#
# Environment (the defaults take ~20 s on a 2-core machine, ~40 s under ASan or valgrind):
#   CRASH_ROUNDS (12), CRASH_SEED (20260106), CRASH_PER (50), CRASH_CLIENTS (3),
#   CRASH_CLI_CLIENTS (1), CRASH_DEPTH (8), CRASH_BOB_EVERY (4), CRASH_KEEP_GOING (0).
#
# The full run (on demand; 5 to 10 minutes, as the journals grow to ~28,000 entries):
#   cd build && CRASH_ROUNDS=200 ctest -R crash_sync_test --output-on-failure
# or directly, as ctest runs it:
#   CRASH_ROUNDS=200 BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/crash_sync_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

ROUNDS=${CRASH_ROUNDS:-12}
SEED=${CRASH_SEED:-20260106}
PER=${CRASH_PER:-50}
CLIENTS=${CRASH_CLIENTS:-3}
CLI_CLIENTS=${CRASH_CLI_CLIENTS:-1}
DEPTH=${CRASH_DEPTH:-8}
BOB_EVERY=${CRASH_BOB_EVERY:-4}
KEEP_GOING=${CRASH_KEEP_GOING:-0}
DRIVER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/crash_sync_driver.py"
LEDGER="$S/ledger.jsonl"
: >"$LEDGER"
SYNC_BOUND=120 # seconds for alice's backlog to reach bob
T_START=$(date +%s%N)
echo "# seed $SEED (CRASH_SEED=$SEED replays the plan), $ROUNDS rounds, $CLIENTS RPC + $CLI_CLIENTS CLI clients x $PER requests"

# totals for the summary
KILLS_ALICE=0
KILLS_BOB=0
KILLS_BOTH=0
ACKED_CHECKINS=0
ACKED_NOTES=0
IN_FLIGHT=0
TORN=0
RESTARTS=0
BOB_CHECKS=0
FAILED_ROUNDS=0

# ---- setup: two paired daemons, a shared and an unshared commitment ----

read_ports PA PB
echo "# ports: alice $PA, bob $PB"
init_homes alice bob
PORT[alice]=$PA
PORT[bob]=$PB
must_start alice "alice's buddyd starts on 127.0.0.1:$PA"
must_start bob "bob's buddyd starts on 127.0.0.1:$PB"
pair alice bob
as alice
bud commit add shared "Shared with bob" --daily --tz UTC
expect_rc 0 "alice commit add shared"
bud commit add solo "Never shared" --daily --tz UTC
expect_rc 0 "alice commit add solo"
bud share shared --with bob
expect_rc 0 "alice share shared --with bob"
wait_synced alice bob "the shared commitment reaches bob"
[ "$FAILED" = 0 ] || finish

# ---- one round ----

RPROB=() # this round's problems

rfail() {
	RPROB+=("$@")
}

# log_since LINE: the daemon log after line LINE
log_since() {
	tail -n +"$(($1 + 1))" "$DAEMON_LOG"
}

# reap NAME: NAME's buddyd was killed by the driver; wait for it and check how it died
reap() {
	local pid=${DPID[$1]} rc
	wait "$pid" 2>/dev/null
	rc=$?
	forget_pid "$pid"
	DPID[$1]=""
	[ "$rc" = 137 ] || rfail "$1's buddyd exited $rc, not 137 (SIGKILL)"
}

# restart NAME: start NAME's buddyd after a kill; it must open its store and say so
RESTARTED=""
restart() {
	local from started
	from=$(wc -l <"$DAEMON_LOG")
	if ! dstart "$1"; then
		rfail "$1's buddyd does not start after kill -9"
		log_since "$from" | tail -n 20 | sed 's/^/#   /'
		return 1
	fi
	RESTARTS=$((RESTARTS + 1))
	RESTARTED+=" $1"
	started=$(log_since "$from")
	if ! grep -q 'buddyd: info: unlocked: ' <<<"$started" ||
		! grep -q 'buddyd: info: serving .*, unlocked)' <<<"$started"; then
		rfail "$1's buddyd did not say it opened the journal and serves it"
		printf '%s\n' "$started" | tail -n 20 | sed 's/^/#   /'
	fi
	if grep -q 'a torn last record from a crash was cut' <<<"$started"; then
		TORN=$((TORN + 1))
		RESTARTED+="(torn)"
	fi
}

# bob_check DESC: wait until alice has nothing waiting for bob, then compare both sides
bob_check() {
	local t0
	t0=$(date +%s%N)
	if ! wait_until "$SYNC_BOUND" synced alice bob; then
		rfail "$1: alice still has posts waiting for bob after $SYNC_BOUND s (hang)"
		head -c 1500 "$S/status.alice.json" | sed 's/^/#     /'
		echo
		return 1
	fi
	run "$PYTHON3" "$DRIVER" bob "$IT_TMP/alice/buddyd.sock" "$IT_TMP/bob/buddyd.sock"
	BOBLINE="$(head -n 1 "$OUT") after $((($(date +%s%N) - t0) / 1000000)) ms"
	BOB_CHECKS=$((BOB_CHECKS + 1))
	if [ "$RC" != 0 ]; then
		rfail "$1: bob's copy of alice's stream is wrong"
		sed 's/^/#   /' "$OUT" "$ERR" | head -n 30
	fi
}

# one_round R
one_round() {
	local r="$1" dir="$S/round$1" line plan="" victim="" drv drc from t0 ev k alog got_done alerts
	RPROB=()
	RESTARTED=""
	BOBLINE=""
	t0=$(date +%s%N)
	from=$(wc -l <"$DAEMON_LOG")
	mkdir -p "$dir"
	mkfifo -m 600 "$dir/events"
	if ! alive alice || ! alive bob; then
		FAILED_ROUNDS=$((FAILED_ROUNDS + 1))
		not_ok "round $r: both daemons run at its start"
		return
	fi
	"$PYTHON3" "$DRIVER" round --seed "$SEED" --round "$r" \
		--alice-sock "$IT_TMP/alice/buddyd.sock" --bob-sock "$IT_TMP/bob/buddyd.sock" \
		--alice-pid "${DPID[alice]}" --bob-pid "${DPID[bob]}" --clients "$CLIENTS" \
		--cli-clients "$CLI_CLIENTS" --depth "$DEPTH" --per "$PER" --ledger "$LEDGER" --buddy "$BUDDY" \
		--events-fd 3 3>"$dir/events" >"$dir/summary.json" 2>"$dir/driver.err" &
	drv=$!
	BG_PIDS+=("$drv")
	exec {ev}<"$dir/events"
	# the driver's lines: the plan, each kill as it happens, done (EOF if it died); it bounds
	# every wait of its own (60 s), so 600 s of silence is a hang of the harness itself
	got_done=0
	while IFS= read -r -t 600 -u "$ev" line; do
		case "$line" in
		plan\ *)
			plan=${line#plan }
			victim=$(sed -n 's/.*victim=\([a-z]*\).*/\1/p' <<<"$plan")
			;;
		"killed alice")
			reap alice
			;;
		"killed bob")
			reap bob
			# alice lives on: bob comes back while her traffic and the sync go on
			[ "$victim" = bob ] && restart bob
			;;
		done)
			got_done=1
			break
			;;
		esac
	done
	exec {ev}<&-
	if [ "$got_done" = 0 ]; then
		rfail "the driver ended or went silent without finishing the round"
		kill -KILL "$drv" 2>/dev/null
	fi
	wait "$drv"
	drc=$?
	forget_pid "$drv"
	rm -f "$dir/events"
	case "$victim" in
	alice) KILLS_ALICE=$((KILLS_ALICE + 1)) ;;
	bob) KILLS_BOB=$((KILLS_BOB + 1)) ;;
	both) KILLS_BOTH=$((KILLS_BOTH + 1)) ;;
	*) rfail "the driver printed no plan" ;;
	esac
	if [ "$drc" != 0 ]; then
		rfail "the traffic had problems (driver exit $drc)"
		pyjson "$dir/summary.json" 'd["problems"]' 2>/dev/null | sed 's/^/#   /'
		tail -n 20 "$dir/driver.err" | sed 's/^/#   /'
	fi
	# whatever was killed and is not back yet comes back now
	for k in alice bob; do
		if [ -z "${DPID[$k]}" ]; then
			restart "$k"
		fi
	done
	# no error from either daemon during the round (kills and restarts included)
	alog=$(log_since "$from" | grep -a 'buddyd: error:' | head -n 5)
	if [ -n "$alog" ]; then
		rfail "a daemon logged an error during the round"
		printf '%s\n' "$alog" | sed 's/^/#   /'
	fi
	if alive alice; then
		run "$PYTHON3" "$DRIVER" alice "$IT_TMP/alice/buddyd.sock" "$LEDGER"
		ALINE=$(head -n 1 "$OUT")
		if [ "$RC" != 0 ]; then
			rfail "alice's journal does not hold what was acknowledged"
			sed 's/^/#   /' "$OUT" "$ERR" | head -n 30
		fi
	fi
	if alive bob; then
		status_json bob
		alerts=$(pyjson "$S/status.bob.json" 'd.get("alerts")' 2>&1)
		[ "$alerts" = 0 ] || rfail "bob's status counts alerts: $alerts"
	fi
	if [ "${#RPROB[@]}" = 0 ] && { [ $((r % BOB_EVERY)) = 0 ] || [ "$r" = "$ROUNDS" ]; }; then
		bob_check "round $r"
	fi
	local acked_c acked_n maybe unsent kill secs
	acked_c=$(pyjson "$dir/summary.json" 'd["acked_checkins"]' 2>/dev/null || echo 0)
	acked_n=$(pyjson "$dir/summary.json" 'd["acked_notes"]' 2>/dev/null || echo 0)
	maybe=$(pyjson "$dir/summary.json" 'd["outcomes"].get("maybe", 0)' 2>/dev/null || echo 0)
	unsent=$(pyjson "$dir/summary.json" 'd["outcomes"].get("unsent", 0) + d["outcomes"].get("never", 0)' 2>/dev/null || echo 0)
	kill=$(pyjson "$dir/summary.json" 'd["kill"]' 2>/dev/null || echo "?")
	ACKED_CHECKINS=$((ACKED_CHECKINS + acked_c))
	ACKED_NOTES=$((ACKED_NOTES + acked_n))
	IN_FLIGHT=$((IN_FLIGHT + maybe))
	secs=$((($(date +%s%N) - t0) / 1000000))
	echo "# round $r/$ROUNDS: kill $victim $kill [$plan]; acked $acked_c check-ins + $acked_n notes, $maybe in flight, $unsent unsent; restarted:${RESTARTED:- none}; alice: ${ALINE:-?}${BOBLINE:+; bob: $BOBLINE}; ${secs} ms"
	if [ "${#RPROB[@]}" = 0 ]; then
		ok "round $r: kill -9 $victim, restart, every acknowledged entry intact exactly once"
	else
		FAILED_ROUNDS=$((FAILED_ROUNDS + 1))
		not_ok "round $r: kill -9 $victim (seed $SEED)"
		diag "${RPROB[@]}"
	fi
}

for ((round = 1; round <= ROUNDS; round++)); do
	ALINE=""
	one_round "$round"
	if [ "$FAILED_ROUNDS" -gt 0 ] && [ "$KEEP_GOING" != 1 ]; then
		echo "# stopping at the first failed round: CRASH_SEED=$SEED CRASH_ROUNDS=$round reproduces its plan"
		break
	fi
done

# ---- the end: everything reaches bob, both stop cleanly and replay once more ----

if alive alice && alive bob; then
	RPROB=()
	bob_check "the end"
	if [ "${#RPROB[@]}" = 0 ]; then
		ok "in the end bob holds every shared entry exactly once, in order, none of the private ones, no alert ($BOBLINE)"
	else
		not_ok "in the end bob holds every shared entry exactly once, in order, none of the private ones, no alert"
		diag "${RPROB[@]}"
	fi
	status_json alice
	DELIVERED=$(pyjson "$S/status.alice.json" "$(sync_of bob)['delivered']")
	stop_all alice bob
	must_start alice "alice's buddyd starts again after a clean stop"
	must_start bob "bob's buddyd starts again after a clean stop"
	run "$PYTHON3" "$DRIVER" alice "$IT_TMP/alice/buddyd.sock" "$LEDGER"
	expect_rc 0 "after a clean restart alice's journal still holds everything acknowledged ($(head -n 1 "$OUT"))"
	RPROB=()
	bob_check "after a clean restart"
	if [ "${#RPROB[@]}" = 0 ]; then
		ok "after a clean restart bob's copy is still exactly alice's shared entries"
	else
		not_ok "after a clean restart bob's copy is still exactly alice's shared entries"
		diag "${RPROB[@]}"
	fi
	stop_all alice bob
	no_open_handles
fi

echo "# summary: seed $SEED, $((round > ROUNDS ? ROUNDS : round)) rounds; kills: alice $KILLS_ALICE, bob $KILLS_BOB, both $KILLS_BOTH; restarts $RESTARTS; acknowledged $ACKED_CHECKINS check-ins + $ACKED_NOTES notes ($IN_FLIGHT in flight at a kill); posts delivered to bob ${DELIVERED:-?}; torn records $TORN; bob checked $BOB_CHECKS times; failed rounds $FAILED_ROUNDS; $((($(date +%s%N) - T_START) / 1000000000)) s"
finish
