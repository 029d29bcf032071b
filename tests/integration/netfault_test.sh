#!/usr/bin/env bash
# Network faults (issue #6): under each fault below, $NETFAULT_N (default 10,000) shared
# check-ins that alice makes while it lasts reach bob's daemon each exactly once, in order, with
# the texts alice wrote, all acknowledged, and no alert on either side; both daemons live on.
#
#   A. two network namespaces joined by a veth pair (root, ip, nft, tc; otherwise skipped):
#      alice's buddyd in one, bob's in the other, each listening on its veth address; the CLI
#      reaches them through their Unix control sockets (pathname sockets cross namespaces).
#      1. full partition (nftables drops both ways in alice's namespace) until both daemons
#         have noticed (ping/idle timers), then healed
#      2. one-way partition: bob -> alice dropped until both noticed, healed; then alice -> bob
#      3. a flapping link: the drop rules added and removed every 300-700 ms (seeded) for as
#         long as the flood runs
#      4. a slow link: tbf 1 Mbit/s (burst 32 kbit, latency 400 ms) on both veth ends
#   B. loopback through tests/integration/faultproxy.py (no root), which cuts every write at
#      random byte boundaries; each daemon advertises the proxy's port (buddyd --advertise), so
#      every connection, redials included, crosses it:
#      5. latency with jitter per piece   6. stalls: a live connection goes silent, unclosed
#      7. resets (RST) in the middle of a frame, repeatedly
#      8. disconnects (FIN) at random byte counts, repeatedly
#
# The daemons run with short peer timers from their config file ([peer] ping 1s, idle 3s,
# redial_max 2s). States that must come are awaited with `buddy buddies --wait` or a bounded
# poll of `buddy status --json`; the only sleeps are the flapping link's toggles, which are the
# fault. Random choices (toggle times, the proxy's cuts) follow NETFAULT_SEED (printed).
#
# Environment: NETFAULT_N (check-ins per fault; 2,000 by default under valgrind), NETFAULT_RATE
# (check-ins per second at most, default 1000; 0: no limit), NETFAULT_SEED, NETFAULT_SYNC_S
# (seconds a sync may take after a fault, default 120).
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/netfault_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

# under valgrind (cmake -DBUDDY_VALGRIND=ON sets BUDDYD_REAL) the memory checks are the point,
# and 10,000 posts a fault would take most of the 15 minutes: 2,000 unless NETFAULT_N says
if [ -n "${BUDDYD_REAL:-}" ]; then
	N=${NETFAULT_N:-2000}
else
	N=${NETFAULT_N:-10000}
fi
RATE=${NETFAULT_RATE:-1000}
SEED=${NETFAULT_SEED:-$$}
SYNC_LIMIT=${NETFAULT_SYNC_S:-120}
RANDOM=$SEED
PROXY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/faultproxy.py"
PY=/usr/bin/python3 # faultproxy.py: the system's python3, standard library only
T_START=$(date +%s)
echo "# random seed $SEED (NETFAULT_SEED=$SEED replays the toggles and the proxy's cuts)"
echo "# $N check-ins per fault, at most $RATE a second (0: as fast as alice's daemon takes them)"
[ -x "$PY" ] || PY=$PYTHON3

# ---- namespaces: made and always removed here ----

NS_A="nfa$$"
NS_B="nfb$$"
NS_MADE=""
VETH_A=nfv0
VETH_B=nfv1
IP_A=10.231.$(($$ % 200)).1
IP_B=10.231.$(($$ % 200)).2
NS_PORT=7654 # the namespaces are ours alone: the default port is free there

# namespaces of an earlier run that was killed (its pid is in their names) are removed first
stale_ns() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$ns" in
		nfa[0-9]* | nfb[0-9]*)
			pid=${ns#nf?}
			if [ "$pid" != $$ ] && ! kill -0 "$pid" 2>/dev/null; then
				ip netns del "$ns" 2>/dev/null && echo "# removed $ns, left by a run that was killed"
			fi
			;;
		esac
	done
}

# lib.sh's cleanup stops every daemon and helper first: a namespace goes with its last process
trap 'cleanup; ns_cleanup' EXIT

# ---- helpers ----

ms_now() {
	echo $(($(date +%s%N) / 1000000))
}

# peer_config NAME: short peer timers in NAME's config file (0600, as buddyd requires)
peer_config() {
	local f="$IT_TMP/$1/config"
	printf '[peer]\nping = 1s\nidle = 3s\nredial_max = 2s\n' >"$f"
	chmod 600 "$f"
}

# field WHO PEER KEY: one number of WHO's status --json sync entry for PEER
field() {
	status_json "$1"
	pyjson "$S/status.$1.json" "$(sync_of "$2")[\"$3\"]"
}

# received_at_least WHO PEER COUNT: WHO's daemon has stored COUNT posts of PEER's stream
received_at_least() {
	local got
	got=$(field "$1" "$2" received 2>/dev/null)
	[ -n "$got" ] && [ "$got" -ge "$3" ] 2>/dev/null
}

# entries_received WHO PEER: how many of PEER's entries WHO's daemon holds (`received` total)
entries_received() {
	rpc "$1" received "{\"buddy\": \"$2\", \"limit\": 1}"
	pyjson "$OUT" 'd["result"]["total"]'
}

# log_mark: where the daemons' log ends now (log_since reads from there)
log_mark() {
	stat -c %s "$DAEMON_LOG"
}

log_since() {
	tail -c +$(($1 + 1)) "$DAEMON_LOG"
}

# The checker: alice's journal for the commitment against what bob's daemon received from
# alice since OFFSET (`received`, in the order posted): the flood's entries, each once, in
# alice's order, with alice's texts and statuses, and every one delivered in alice's journal.
cat >"$S/verify.py" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[1])
from sync_helper import Rpc
asock, bsock, commit, flood, bname, aname, offset = sys.argv[2:9]
offset = int(offset)
ids = json.load(open(flood))["ids"]
problems = []

def pages(r, method, params):
    off, out = params.pop("offset", 0), []
    while True:
        err, res = r.call(method, dict(params, offset=off, limit=1000))
        if err is not None:
            raise SystemExit(json.dumps({"ok": False, "problems": ["%s: %r" % (method, err)]}))
        out.extend(res["entries"])
        off += len(res["entries"])
        if not res["entries"] or off >= res["total"]:
            return out

mine = {e["id"]: e for e in pages(Rpc(asock), "journal", {"commit": commit})}
if sorted(mine) != sorted(ids) or len(set(ids)) != len(ids):
    problems.append("alice's journal of %s: %d entries, the flood made %d" % (commit, len(mine), len(ids)))
undelivered = [i for i, e in mine.items()
               if [(s["buddy"], s["delivered"]) for s in e.get("shared", [])] != [(bname, True)]]
if undelivered:
    problems.append("%d of alice's entries not delivered to %s only (first #%d)"
                    % (len(undelivered), bname, min(undelivered)))
got = pages(Rpc(bsock), "received", {"buddy": aname, "offset": offset})
other = [e["id"] for e in got if e.get("commit") != commit]
if other:
    problems.append("%d entries of another commitment arrived (first #%d)" % (len(other), other[0]))
got = [e for e in got if e.get("commit") == commit]
gids = [e["id"] for e in got]
if len(gids) != len(set(gids)):
    problems.append("%d duplicates" % (len(gids) - len(set(gids))))
missing = set(ids) - set(gids)
if missing:
    problems.append("%d missing (first #%d)" % (len(missing), min(missing)))
if gids != sorted(gids):
    k = next(i for i in range(1, len(gids)) if gids[i] <= gids[i - 1])
    problems.append("out of order at position %d: #%d after #%d" % (k, gids[k], gids[k - 1]))
bad = [e["id"] for e in got if e["id"] in mine and (e.get("text") != mine[e["id"]]["text"]
       or e.get("status") != "done" or e.get("kind") != "checkin" or e.get("retracted"))]
if bad:
    problems.append("%d differ from alice's (first #%d)" % (len(bad), bad[0]))
print(json.dumps({"ok": not problems, "received": len(got), "problems": problems}))
EOF

# ---- one fault: a flood from $FA to $FB while it lasts ----

FA="" FB="" # the pair of the current section (homes)
declare -a TIMES=()

# run_fault TAG DESC START END AFTER: makes and shares a commitment, starts the flood, runs START
# (the fault; it may wait for states), waits for the flood, runs END (heal), waits until every
# post is acknowledged, runs AFTER (clean-up that had to wait for the sync), then checks.
run_fault() {
	local tag="$1" desc="$2" start="$3" end="$4" after="$5" commit t0 mark sent0 recv0 want
	local flood_pid flood_rc
	commit="f-${tag,,}"
	t0=$(ms_now)
	echo "# fault $tag: $desc"
	as "$FA"
	bud commit add "$commit" "Fault $tag" --daily --tz UTC
	expect_rc 0 "$tag: $FA commit add $commit"
	bud share "$commit" --with "$FB"
	expect_rc 0 "$tag: $FA shares $commit with $FB"
	wait_synced "$FA" "$FB" "$tag: the commitment reaches $FB before the fault" "$SYNC_LIMIT"
	sent0=$(field "$FA" "$FB" sent)
	recv0=$(entries_received "$FB" "$FA")
	mark=$(log_mark)
	FAULT_RECV0=$(field "$FB" "$FA" received)
	"$PYTHON3" "$HELPER" flood "$IT_TMP/$FA/buddyd.sock" "$commit" "$N" 4 "$tag" "$RATE" \
		>"$S/flood.$tag.json" 2>"$S/flood.$tag.err" &
	flood_pid=$!
	BG_PIDS+=("$flood_pid")
	FLOOD_PID=$flood_pid
	FLOOD_T0=$(ms_now)
	"$start"
	wait "$flood_pid"
	flood_rc=$?
	forget_pid "$flood_pid"
	expect_eq "$flood_rc" 0 "$tag: the flood client ran without an error"
	[ "$flood_rc" = 0 ] || tail -n 20 "$S/flood.$tag.err" | sed 's/^/#   /'
	expect_json "$S/flood.$tag.json" '[d["ok"], d["errors"], len(set(d["ids"])), d["shared_with"]]' \
		"[$N, [], $N, [\"$FB\"]]" "$tag: $FA's daemon stored all $N check-ins, each shared with $FB"
	"$end"
	wait_synced "$FA" "$FB" "$tag: every post of $FA to $FB is acknowledged after the fault" "$SYNC_LIMIT"
	"$after"
	want=$((sent0 + N))
	status_json "$FA"
	expect_json "$S/status.$FA.json" "[$(sync_of "$FB")[k] for k in ('sent', 'delivered', 'waiting')] + [d['alerts']]" \
		"[$want, $want, 0, 0]" "$tag: $FA's status: sent == delivered == $want, nothing waiting, no alert"
	status_json "$FB"
	expect_json "$S/status.$FB.json" "[$(sync_of "$FA")['received'], d['alerts']]" "[$want, 0]" \
		"$tag: $FB's status: received $want posts from $FA (each stored once), no alert"
	as "$FB"
	bud show "$FA" --json
	cp "$OUT" "$S/show.$FB.json"
	expect_json "$S/show.$FB.json" "[[c['checkins'] for c in d['commitments'] if c['id'] == '$commit'], d['unreadable'], d['fork'], d['alerts']]" \
		"[[$N], 0, null, []]" "$tag: $FB's show: $N check-ins on $commit, nothing unreadable, no fork, no alert"
	run "$PYTHON3" -B "$S/verify.py" "$(dirname "$HELPER")" "$IT_TMP/$FA/buddyd.sock" \
		"$IT_TMP/$FB/buddyd.sock" "$commit" "$S/flood.$tag.json" "$FB" "$FA" "$recv0"
	cp "$OUT" "$S/verify.$tag.json"
	expect_json "$S/verify.$tag.json" '[d["ok"], d.get("received"), d["problems"]]' "[true, $N, []]" \
		"$tag: $FB received the $N check-ins each exactly once, in $FA's order, with $FA's texts; all delivered"
	log_since "$mark" >"$S/log.$tag"
	if grep -q -E 'refused \(|could not be saved|forked' "$S/log.$tag"; then
		not_ok "$tag: no daemon refused a batch or failed to save one"
		grep -E 'refused \(|could not be saved|forked' "$S/log.$tag" | head -n 5 | sed 's/^/#   /'
	else
		ok "$tag: no daemon refused a batch or failed to save one"
	fi
	check "$tag: $FA's buddyd is still running" alive "$FA"
	check "$tag: $FB's buddyd is still running" alive "$FB"
	TIMES+=("$tag $(($(ms_now) - t0)) ms ($desc)")
	echo "# fault $tag took $((($(ms_now) - t0) / 1000)) s: $(grep -c 'session down' "$S/log.$tag") session ends, $(grep -c 'dropped: idle' "$S/log.$tag") by the idle timer; flood $(pyjson "$S/flood.$tag.json" 'd["seconds"]') s"
}

nothing() { :; }

# both_state STATE: each daemon of the pair sees the other in STATE (counted)
both_state() {
	wait_state "$FA" "$FB" "$1" "$2: $FA sees $FB $1"
	wait_state "$FB" "$FA" "$1" "$2: $FB sees $FA $1"
}

# flood_started: bob holds a tenth of the flood, so the fault strikes mid-sync
flood_started() {
	if wait_until 60 received_at_least "$FB" "$FA" $((FAULT_RECV0 + N / 10)); then
		ok "$1: $FB got a tenth of the flood before the fault struck"
	else
		not_ok "$1: $FB got a tenth of the flood before the fault struck"
	fi
}

# ---- A. network namespaces ----

nsx() { # nsx NS CMD...: CMD in namespace NS
	local ns="$1"
	shift
	ip netns exec "$ns" "$@"
}

# block WAYS: in alice's namespace, drop what crosses the veth: both, in (bob -> alice) or out
# (alice -> bob); block none heals
block() {
	local rules=""
	case "$1" in
	both) rules="add rule inet netfault in iifname $VETH_A drop
add rule inet netfault out oifname $VETH_A drop" ;;
	in) rules="add rule inet netfault in iifname $VETH_A drop" ;;
	out) rules="add rule inet netfault out oifname $VETH_A drop" ;;
	esac
	nsx "$NS_A" nft -f - <<EOF
flush chain inet netfault in
flush chain inet netfault out
$rules
EOF
}

ns_setup() {
	ip netns add "$NS_A" || return 1
	NS_MADE=1
	ip netns add "$NS_B" &&
		ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B" &&
		ip -n "$NS_A" addr add "$IP_A/30" dev "$VETH_A" &&
		ip -n "$NS_B" addr add "$IP_B/30" dev "$VETH_B" &&
		ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up &&
		ip -n "$NS_A" link set "$VETH_A" up && ip -n "$NS_B" link set "$VETH_B" up &&
		nsx "$NS_A" nft -f - <<EOF
add table inet netfault
add chain inet netfault in { type filter hook input priority 0; policy accept; }
add chain inet netfault out { type filter hook output priority 0; policy accept; }
EOF
}

# nsstart NAME NS ADDR: NAME's buddyd inside namespace NS, listening on ADDR
nsstart() {
	local name="$1" ns="$2" addr="$3" real="$BUDDYD"
	# lib.sh's start_daemon runs "$BUDDYD" ARGS: here `ip netns exec NS buddyd ARGS`, which
	# execs buddyd in place (same pid, so SIGTERM and wait reach buddyd itself)
	local BUDDYD
	BUDDYD=$(command -v ip)
	as "$name"
	if start_daemon netns exec "$ns" "$real" --listen "$addr" --log-level debug; then
		DPID[$name]=$DAEMON_PID
		ok "$name's buddyd starts in namespace $ns on $addr"
		return 0
	fi
	DPID[$name]=""
	not_ok "$name's buddyd starts in namespace $ns on $addr"
	return 1
}

A_WHY=""
if [ "$(id -u)" != 0 ]; then
	A_WHY="network namespaces need root (uid $(id -u))"
else
	for t in ip nft tc; do
		if ! command -v "$t" >/dev/null; then
			A_WHY="$t is missing (Debian: $([ "$t" = nft ] && echo nftables || echo iproute2))"
			break
		fi
	done
fi
[ -n "$A_WHY" ] || stale_ns
if [ -z "$A_WHY" ] && ! ns_setup 2>"$S/ns.err"; then
	A_WHY="cannot make network namespaces here: $(head -n 1 "$S/ns.err")"
	ns_cleanup
fi

# ---- the faults of section A ----

# waiting_at_least WHO PEER COUNT: WHO has COUNT posts for PEER not yet acknowledged
waiting_at_least() {
	local got
	got=$(field "$1" "$2" waiting 2>/dev/null)
	[ -n "$got" ] && [ "$got" -ge "$3" ] 2>/dev/null
}

a1_start() {
	flood_started A1
	check "A1: both directions dropped in $NS_A" block both
	both_state offline "A1: partitioned"
	# held until most of the flood is queued behind it: the redials meanwhile go unanswered
	if wait_until 60 waiting_at_least "$FA" "$FB" $((N * 6 / 10)); then
		ok "A1: $((N * 6 / 10)) posts or more queued for $FB behind the partition"
	else
		not_ok "A1: $((N * 6 / 10)) posts or more queued for $FB behind the partition"
	fi
	check "A1: partition healed" block none
}
a2_start() {
	flood_started A2
	check "A2: bob -> alice dropped" block in
	both_state offline "A2 (bob -> alice dropped)"
	check "A2: healed" block none
	both_state online "A2 (healed)"
	check "A2: alice -> bob dropped" block out
	both_state offline "A2 (alice -> bob dropped)"
	check "A2: healed again" block none
}

FLAP_STOP="$S/flap.stop"
FLAPS_MIN=1
[ "$RATE" -gt 0 ] && FLAPS_MIN=$((N * 10 / RATE / 14))
[ "$FLAPS_MIN" -ge 1 ] || FLAPS_MIN=1
a3_start() {
	rm -f "$FLAP_STOP" "$S/flap.count"
	# the toggles are the fault: timed on purpose (seeded), for as long as the flood runs
	(
		RANDOM=$((SEED + 3))
		n=0
		while [ ! -e "$FLAP_STOP" ] && kill -0 "$FLOOD_PID" 2>/dev/null; do
			block both
			sleep "0.$((300 + RANDOM % 401))"
			block none
			n=$((n + 1))
			echo "$n" >"$S/flap.count"
			sleep "0.$((300 + RANDOM % 401))"
		done
	) &
	FLAP_PID=$!
	BG_PIDS+=("$FLAP_PID")
}
a3_end() {
	touch "$FLAP_STOP"
	wait "$FLAP_PID"
	forget_pid "$FLAP_PID"
	check "A3: the link is up again" block none
	local n
	n=$(cat "$S/flap.count" 2>/dev/null || echo 0)
	echo "# the link went down and up $n times"
	# a toggle takes 0.6 to 1.4 s; the flood lasts about N / RATE seconds
	check "A3: the link flapped at least $FLAPS_MIN times during the flood ($n)" test "$n" -ge "$FLAPS_MIN"
}

a4_start() {
	nsx "$NS_A" tc qdisc add dev "$VETH_A" root tbf rate 1mbit burst 32kbit latency 400ms &&
		nsx "$NS_B" tc qdisc add dev "$VETH_B" root tbf rate 1mbit burst 32kbit latency 400ms
	expect_eq "$?" 0 "A4: both veth ends limited to 1 Mbit/s (tbf, burst 32 kbit, latency 400 ms)"
}
a4_after() {
	local ms=$(($(ms_now) - FLOOD_T0)) least=$((N * 2048 / 1000))
	# the posts alone are N x 256 bytes: at 1 Mbit/s, N x 2.048 ms at least
	check "A4: the sync took $ms ms, no less than the $least ms the link allows" test "$ms" -ge "$least"
	nsx "$NS_A" tc qdisc del dev "$VETH_A" root &&
		nsx "$NS_B" tc qdisc del dev "$VETH_B" root
	expect_eq "$?" 0 "A4: the limits are lifted"
}

echo "# A. network namespaces"
if [ -n "$A_WHY" ]; then
	for f in "A1 full partition" "A2 one-way partition" "A3 flapping link" "A4 slow link"; do
		ok "$f # skip $A_WHY"
	done
else
	echo "# namespaces $NS_A ($IP_A) and $NS_B ($IP_B), veth $VETH_A - $VETH_B"
	init_homes nsalice nsbob
	peer_config nsalice
	peer_config nsbob
	nsstart nsalice "$NS_A" "$IP_A:$NS_PORT" || finish
	nsstart nsbob "$NS_B" "$IP_B:$NS_PORT" || finish
	as nsalice
	bud invite --name nsbob --address "$IP_A:$NS_PORT"
	expect_rc 0 "nsalice invites nsbob at her veth address $IP_A:$NS_PORT"
	CODE=$(head -n 1 "$OUT")
	as nsbob
	bud accept "$CODE" --name nsalice
	expect_rc 0 "nsbob accepts (dialling across the veth pair)"
	FA=nsalice FB=nsbob
	both_state online "A"
	status_json nsalice
	expect_json "$S/status.nsalice.json" 'd["listen"]' "[\"$IP_A:$NS_PORT\"]" \
		"nsalice's daemon listens on her veth address only"

	run_fault A1 "full partition during the flood, healed once both noticed" a1_start nothing nothing
	run_fault A2 "one-way partition, each way in turn" a2_start nothing nothing
	run_fault A3 "flapping link (300-700 ms toggles) for the whole flood" a3_start a3_end nothing
	run_fault A4 "slow link: 1 Mbit/s both ways" a4_start nothing a4_after
	stop_all nsalice nsbob
	ns_cleanup
fi

# ---- B. loopback through faultproxy.py ----

PROXY_PID=""
# proxy_start TAG MODE ARGS...: faultproxy.py between the pair, stats in $S/proxy.TAG.json
proxy_start() {
	local tag="$1" mode="$2" up=""
	shift 2
	rm -f "$S/proxy.ready"
	mkfifo -m 600 "$S/proxy.ready"
	exec 4<>"$S/proxy.ready"
	"$PY" "$PROXY" --mode "$mode" --seed "$SEED-$tag" --ready "$S/proxy.ready" \
		--stats "$S/proxy.$tag.json" "$@" "$PA1:$PA" "$PB1:$PB" 2>>"$DAEMON_LOG" &
	PROXY_PID=$!
	BG_PIDS+=("$PROXY_PID")
	IFS= read -r -t 20 -u 4 up
	exec 4<&-
	if [ "$up" = ready ]; then
		ok "$tag: faultproxy.py ($mode, seed $SEED-$tag) on $PA1 -> $PA and $PB1 -> $PB"
	else
		not_ok "$tag: faultproxy.py ($mode) on $PA1 -> $PA and $PB1 -> $PB"
		finish
	fi
}

proxy_stop() {
	kill -TERM "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	forget_pid "$PROXY_PID"
	PROXY_PID=""
}

# proxy_check TAG EXPR WANT DESC: a python expression over the proxy's stats (complete once
# the proxy has stopped)
proxy_check() {
	echo "# proxy: $(pyjson "$S/proxy.$1.json" '{k: d[k] for k in ("conns", "faults", "mid_frame", "bytes", "pieces")}')"
	expect_json "$S/proxy.$1.json" "$2" "$3" "$1: $4"
}

b_prepare() { # TAG MODE ARGS: the proxy of this fault, and the pair connected through it
	proxy_start "$@"
	both_state online "$1 (through the proxy)"
}

echo "# B. loopback through faultproxy.py"
# every fault of 7 and 8 (and 6) strikes when the flood is large enough to carry them all
WANT_FAULTS=$((N >= 5000 ? 8 : 1))
WANT_STALLS=$((N >= 5000 ? 3 : 1))
read_ports PA1 PA PB1 PB
echo "# ports: alice $PA (proxy $PA1), bob $PB (proxy $PB1)"
init_homes alice bob
# the timers are a real setting: one that cannot work is refused, naming its line and key
as alice
printf '[peer]\nping = 5s\nidle = 5s\n' >"$IT_TMP/alice/config"
chmod 600 "$IT_TMP/alice/config"
MARK=$(log_mark)
if start_daemon; then
	not_ok "buddyd refuses [peer] idle = 5s with ping = 5s"
	stop_daemon
else
	expect_eq "$DAEMON_RC" 1 "buddyd refuses [peer] idle = 5s with ping = 5s (exit code 1)"
fi
log_since "$MARK" >"$S/refused.log"
check "... naming the file, line 3 and idle" \
	grep -q -F "alice/config:3: idle: 5s is not longer than ping (5s)" "$S/refused.log"
peer_config alice
peer_config bob
PORT[alice]=$PA
PORT[bob]=$PB
proxy_start B0 pass
# each advertises the proxy's port: invites and hellos send the buddy there, every redial too
if dstart alice --advertise "127.0.0.1:$PA1" --log-level debug; then
	ok "alice's buddyd starts on $PA, advertising $PA1"
else
	not_ok "alice's buddyd starts on $PA, advertising $PA1"
	finish
fi
if dstart bob --advertise "127.0.0.1:$PB1" --log-level debug; then
	ok "bob's buddyd starts on $PB, advertising $PB1"
else
	not_ok "bob's buddyd starts on $PB, advertising $PB1"
	finish
fi
as alice
bud invite --name bob
expect_rc 0 "alice invites bob (the code carries her advertised address, the proxy's)"
CODE=$(head -n 1 "$OUT")
as bob
bud accept "$CODE" --name alice
expect_rc 0 "bob accepts alice's invite through the proxy"
FA=alice FB=bob
both_state online "B"
proxy_stop
proxy_check B0 'd["conns"] >= 1 and d["pieces"] > 0' true "the pairing went through the proxy, cut in pieces"

b_prepare B5 latency --latency-ms 20 --jitter-ms 40
run_fault B5 "latency 20 ms + jitter 0-40 ms per piece" nothing nothing nothing
proxy_stop
proxy_check B5 'd["bytes"] > 256 * '"$N" true "the flood crossed the proxy ($N posts of 256 bytes at least)"

b_prepare B6 stall --faults 3 --min-bytes 2000 --max-bytes 300000
run_fault B6 "3 stalls: a live connection goes silent without closing" nothing nothing nothing
proxy_stop
proxy_check B6 'd["faults"] >= '"$WANT_STALLS" true "at least $WANT_STALLS of 3 connections stalled"
STALLS=$(pyjson "$S/proxy.B6.json" 'd["faults"]')
IDLE_DROPS=$(grep -c 'dropped: idle' "$S/log.B6")
check "B6: each stall ended by a daemon's idle timer ($IDLE_DROPS idle drops, $STALLS stalls)" \
	test "$IDLE_DROPS" -ge "$STALLS"

b_prepare B7 rst --faults 8 --min-bytes 2000 --max-bytes 200000 --early 0.2
run_fault B7 "8 resets (RST) inside a frame" nothing nothing nothing
proxy_stop
proxy_check B7 '[d["faults"] >= '"$WANT_FAULTS"', d["mid_frame"] == d["faults"]]' '[true, true]' \
	"at least $WANT_FAULTS of 8 connections reset, each inside a frame"

b_prepare B8 fin --faults 8 --min-bytes 1 --max-bytes 200000 --early 0.2
run_fault B8 "8 disconnects (FIN) at random byte counts" nothing nothing nothing
proxy_stop
proxy_check B8 'd["faults"] >= '"$WANT_FAULTS" true "at least $WANT_FAULTS of 8 connections closed (FIN)"

# ---- the end ----

stop_all alice bob
no_open_handles
echo "# per fault (wall clock, sync included):"
for t in "${TIMES[@]}"; do
	echo "#   $t"
done
echo "# netfault_test took $(($(date +%s) - T_START)) s"
finish
