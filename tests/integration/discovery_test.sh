#!/usr/bin/env bash
# LAN discovery (issue #8, proto/PROTOCOL.md section 16) between two network namespaces joined
# by a veth pair: alice's buddyd in one, bob's in the other, each listening on its veth address
# (the CLI reaches them through their Unix control sockets, which cross namespaces). Needs root
# and iproute2; otherwise the whole script is one `ok # skip` line.
#
#   A. alice and bob pair through the veth addresses (an invite names alice's), then stop.
#   B. both restart on new ports with [discovery] enabled = no: the addresses each knows of the
#      other are dead, so they stay apart; a stranger listening on the beacon groups in both
#      namespaces (discovery_helper.py sniff, whose own probe shows it hears the group) receives
#      not one datagram.
#   C. both restart on other new ports with discovery on: they find each other by beacons and
#      come online without any address typed. The stranger sees alice's beacons: 64 bytes of
#      version 1, rounds of exactly 4 (one buddy, three dummies), 4 distinct heads in a window
#      and, after each move of the test clock by one window (debug.clock_advance), 4 new heads
#      that never equal an earlier one, every padding fresh.
#   R. alice locks: not one datagram from her while locked; she stops. Her captured datagrams
#      of this window, replayed 25 times each from bob's namespace (bob's own address), make
#      bob dial nothing: a beacon binds its source address. Replayed from alice's address (her
#      namespace), they make bob dial alice's address once (once per window), refused (she is
#      stopped). Floods of random beacon-shaped datagrams from an off-link source routed
#      through alice's namespace (to the group) and to bob's unicast address cost bob nothing
#      (dropped before his rate budget: no pause), though the stranger in his namespace gets
#      them; a flood of 20,000 from the link makes him pause reading, and he stays alive.
#   D. IPv6 only: both restart on [::] with the beacon port set in the config (port = 7756): the
#      beacons come from link-local addresses, and the dial uses the interface as a zone.
#   E. alice alone on 0.0.0.0:7107 and [::]:7108: in two windows, her IPv4 and IPv6 beacons,
#      paired by token, have port fields whose XOR is neither 0 nor 7107 ^ 7108 and changes
#      with the window (per-family masks: nothing links the families or the windows).
#
# Synchronisation is by bounded polls (peers.sh wait_until, `buddy buddies --wait`); the only
# fixed waits assert absences (ABSENT). The daemons run on the test clock (BUDDY_TEST_CLOCK),
# beacons every second ([discovery] interval = 1s).
#
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/discovery_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

HELPER_D="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/discovery_helper.py"
PY=/usr/bin/python3 # the helper: standard library only
[ -x "$PY" ] || PY=$PYTHON3
ABSENT=3 # seconds we watch for something that must not happen
NOW=1767225610
T_START=$(date +%s)

# ---- namespaces: made and always removed here ----

NS_A="dsa$$"
NS_B="dsb$$"
VETH_A="dva$$"
VETH_B="dvb$$"
IP_A=10.232.$(($$ % 200)).1
IP_B=10.232.$(($$ % 200)).2
IP_OFF=10.233.$(($$ % 200)).1 # on alice's lo: off bob's link, routed through her namespace
NS_MADE=""

# lib.sh's cleanup stops every daemon and helper first: a namespace goes with its last process
trap 'cleanup; ns_cleanup' EXIT

nsx() { # nsx NS CMD...: CMD in namespace NS
	local ns="$1"
	shift
	ip netns exec "$ns" "$@"
}

ns_setup() {
	ip netns add "$NS_A" || return 1
	NS_MADE=1
	ip netns add "$NS_B" &&
		ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B" &&
		ip -n "$NS_A" addr add "$IP_A/30" dev "$VETH_A" &&
		ip -n "$NS_B" addr add "$IP_B/30" dev "$VETH_B" || return 1
	# IPv6 link-local addresses usable at once (no duplicate address detection): phase D
	nsx "$NS_A" sysctl -qw "net.ipv6.conf.$VETH_A.accept_dad=0" 2>/dev/null
	nsx "$NS_B" sysctl -qw "net.ipv6.conf.$VETH_B.accept_dad=0" 2>/dev/null
	ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up &&
		ip -n "$NS_A" link set "$VETH_A" up && ip -n "$NS_B" link set "$VETH_B" up &&
		ip -n "$NS_A" addr add "$IP_OFF/32" dev lo &&
		ip -n "$NS_B" route add "$IP_OFF/32" via "$IP_A" || return 1
	# bob's kernel takes datagrams from the off-link source (no reverse path filter): phase R
	nsx "$NS_B" sysctl -qw net.ipv4.conf.all.rp_filter=0 2>/dev/null
	nsx "$NS_B" sysctl -qw "net.ipv4.conf.$VETH_B.rp_filter=0" 2>/dev/null
	return 0
}

WHY=""
if [ "$(id -u)" != 0 ]; then
	WHY="network namespaces need root (uid $(id -u))"
elif ! command -v ip >/dev/null; then
	WHY="ip is missing (Debian: iproute2)"
elif ! ns_setup 2>"$S/ns.err"; then
	WHY="cannot make network namespaces here: $(head -n 1 "$S/ns.err")"
	ns_cleanup
fi
if [ -n "$WHY" ]; then
	echo "ok - LAN discovery between network namespaces # skip $WHY"
	finish
fi
echo "# namespaces $NS_A ($IP_A on $VETH_A) and $NS_B ($IP_B on $VETH_B)"

# ---- helpers ----

ns_of() { [ "$1" = alice ] && echo "$NS_A" || echo "$NS_B"; }
now_ns() { date +%s%N; }

# conf NAME yes|no [LINE]: NAME's config file (0600, as buddyd requires): discovery on or off,
# beacons every second, and LINE in [discovery]
conf() {
	local f="$IT_TMP/$1/config"
	printf '[discovery]\nenabled = %s\ninterval = 1s\n%s\n' "$2" "${3:-}" >"$f"
	chmod 600 "$f"
}

# nsstart NAME ADDR [ADDR2]: NAME's buddyd in its namespace, on the test clock, listening on
# ADDR (and ADDR2)
nsstart() {
	local name="$1" addr="$2" real="$BUDDYD" more=()
	[ -n "${3:-}" ] && more=(--listen "$3")
	# lib.sh's start_daemon runs "$BUDDYD" ARGS: here `ip netns exec NS buddyd ARGS`, which
	# execs buddyd in place (same pid, so SIGTERM and wait reach buddyd itself)
	local BUDDYD
	BUDDYD=$(command -v ip)
	as "$name"
	export BUDDY_TEST_CLOCK="$NOW"
	if start_daemon netns exec "$(ns_of "$name")" "$real" --listen "$addr" "${more[@]}" --log-level debug; then
		DPID[$name]=$DAEMON_PID
		ok "$name's buddyd starts in $(ns_of "$name") on $addr"
	else
		DPID[$name]=""
		not_ok "$name's buddyd starts in $(ns_of "$name") on $addr"
	fi
	unset BUDDY_TEST_CLOCK
}

log_mark() { stat -c %s "$DAEMON_LOG"; }
log_since() { tail -c +$(($1 + 1)) "$DAEMON_LOG"; }

# sniffer NS IFNAME NAME: a stranger listening on the beacon groups in NS (background)
sniffer() {
	local ready="$S/sniff.$3.ready"
	rm -f "$ready"
	# `ip netns exec` execs the helper in place: $! is the helper, which cleanup stops
	ip netns exec "$1" "$PY" "$HELPER_D" sniff "$S/sniff.$3" "$ready" "$2" 7655 \
		2>"$S/sniff.$3.err" &
	BG_PIDS+=("$!")
	if wait_until 10 test -s "$ready"; then
		ok "a stranger listens on the beacon groups in $1 (its probe came back)"
	else
		not_ok "a stranger listens on the beacon groups in $1 (its probe came back)"
		diag "$(cat "$S/sniff.$3.err")"
	fi
}

# heard SNIFFER SRC SINCE N: the sniffer holds N datagrams or more from SRC received after SINCE
heard() {
	local got
	got=$("$PY" "$HELPER_D" count "$S/sniff.$1" "$2" "$3" 2>/dev/null)
	[ -n "$got" ] && [ "$got" -ge "$4" ]
}

# advance: both daemons' clocks one beacon window on (300 s)
advance() {
	local who
	for who in alice bob; do
		rpc "$who" debug.clock_advance '{"seconds": 300}'
		if [ "$RC" != 0 ] || ! grep -q '"result"' "$OUT"; then
			not_ok "$who's clock moves on by 300 s"
			diag_last_run
		fi
	done
	NOW=$((NOW + 300))
}

# ---- A. pairing through the veth addresses ----

init_homes alice bob
conf alice yes
conf bob yes
sniffer "$NS_A" "$VETH_A" a
sniffer "$NS_B" "$VETH_B" b
nsstart alice "$IP_A:7101"
nsstart bob "$IP_B:7101"
as alice
bud invite --name bob --address "$IP_A:7101"
expect_rc 0 "alice invites bob, naming her veth address"
code=$(head -n 1 "$OUT")
as bob
bud accept "$code" --name alice
expect_rc 0 "bob accepts from the other namespace"
wait_state alice bob online "A: alice sees bob online"
wait_state bob alice online "A: bob sees alice online"
dstop alice
dstop bob

# ---- B. new ports, discovery off: no way to meet, and nothing on the air ----

conf alice no
conf bob no
mark=$(log_mark)
t_b=$(now_ns)
nsstart alice "$IP_A:7102"
nsstart bob "$IP_B:7102"
as alice
bud buddies --wait bob --timeout "${ABSENT}s"
expect_rc_not 0 "B: with discovery off and both on new ports, alice and bob stay apart (${ABSENT}s)"
for s in a b; do
	n=$("$PY" "$HELPER_D" none "$S/sniff.$s" "$t_b")
	expect_eq "$n" 0 "B: the stranger in namespace $s received no datagram with discovery off"
done
log_since "$mark" >"$S/log.B"
expect_eq "$(grep -c 'LAN discovery is off' "$S/log.B")" 2 "B: both daemons say LAN discovery is off"
check "B: nothing was found on the LAN" lacks 'found on the LAN' "$S/log.B"
dstop alice
dstop bob

# ---- C. new ports again, discovery on: they find each other ----

conf alice yes
conf bob yes
mark=$(log_mark)
t0=$(now_ns)
nsstart alice "$IP_A:7103"
nsstart bob "$IP_B:7103"
wait_state alice bob online "C: alice finds bob on the LAN and sees him online (no address typed)"
wait_state bob alice online "C: bob sees alice online"
echo "#   (after $((($(now_ns) - t0) / 1000000)) ms)"
log_since "$mark" >"$S/log.C"
grep 'found on the LAN\|LAN discovery on' "$S/log.C" | sed 's/^/#   /'
if grep -q -E "found on the LAN at ($IP_B|$IP_A) port 7103: dialling" "$S/log.C"; then
	ok "C: a beacon led to the dial (found on the LAN at the other's veth address, port 7103)"
else
	not_ok "C: a beacon led to the dial (found on the LAN at the other's veth address, port 7103)"
fi

# the stranger in bob's namespace, over three windows of alice's beacons
T0=$(now_ns)
wait_until 20 heard b "$IP_A" "$T0" 12
B1=$(now_ns)
advance
A1=$(now_ns)
wait_until 20 heard b "$IP_A" "$A1" 12
B2=$(now_ns)
advance
A2=$(now_ns)
wait_until 20 heard b "$IP_A" "$A2" 12
END=$(now_ns)
"$PY" "$HELPER_D" analyse "$S/sniff.b" "$IP_A" "$T0" "$B1" "$A1" "$B2" "$A2" "$END" 4 >"$S/stranger.json"
echo "#   stranger: $(cat "$S/stranger.json")"
expect_json "$S/stranger.json" 'd["shape_ok"]' true \
	"C: every datagram of alice the stranger got is 64 bytes of version 1"
expect_json "$S/stranger.json" '[p["heads"] for p in d["phases"]]' "[4, 4, 4]" \
	"C: in each window the stranger sees 4 distinct heads (1 buddy padded with 3 dummies that repeat like it)"
expect_json "$S/stranger.json" '[p["rounds_ok"] for p in d["phases"]]' "[true, true, true]" \
	"C: every whole round is a multiple of 4 datagrams"
expect_json "$S/stranger.json" 'd["repeats_earlier"]' false \
	"C: after each window the tokens are new: none equals an earlier one"
expect_json "$S/stranger.json" 'd["pads_distinct"]' true "C: every padding is fresh"
wait_state alice bob online "C: alice and bob stay online across the windows"
log_since "$mark" >"$S/log.C"
n=$(grep -c "found on the LAN at $IP_B " "$S/log.C")
check "C: alice dialled bob from a beacon at most once ($n)" test "$n" -le 1
n=$(grep -c "found on the LAN at $IP_A " "$S/log.C")
check "C: bob dialled alice from a beacon at most once ($n)" test "$n" -le 1

# ---- R. a replayed beacon, then a flood ----

# one of alice's datagrams of this window: a real beacon or a dummy, the stranger cannot tell;
# replay them all (4 heads), 25 times each, from bob's namespace
heads=$("$PY" - "$S/sniff.b" "$IP_A" "$A2" <<'EOF'
import json, sys
seen = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["src"] == sys.argv[2] and d["ts"] > int(sys.argv[3]):
        seen.setdefault(d["hex"][:38], d["hex"])
print(" ".join(seen.values()))
EOF
)
# locked, alice sends nothing: her keys, the pair keys with them, are gone
as alice
bud lock
expect_rc 0 "R: alice locks her journal"
wait_state bob alice offline "R: bob sees alice offline"
t_lock=$(now_ns)
sleep "$ABSENT"
n=$("$PY" "$HELPER_D" count "$S/sniff.b" "$IP_A" "$t_lock")
expect_eq "$n" 0 "R: the stranger gets no datagram from alice while she is locked (${ABSENT}s)"
dstop alice
# from bob's own address: the tag binds alice's address, so this is nobody's beacon
mark=$(log_mark)
for h in $heads; do
	nsx "$NS_B" "$PY" "$HELPER_D" send "$VETH_B" 7655 25 "$h" >/dev/null
done
sleep "$ABSENT"
log_since "$mark" >"$S/log.R"
check "R: alice's beacons replayed from bob's own address make bob dial nothing (${ABSENT}s)" \
	lacks 'found on the LAN' "$S/log.R"
# from alice's address: her beacon, and bob dials her address (only): refused, she is stopped
mark=$(log_mark)
for h in $heads; do
	nsx "$NS_A" "$PY" "$HELPER_D" send "$VETH_A" 7655 25 "$h" >/dev/null
done
found() { grep -q "found on the LAN at $IP_A port 7103: dialling" <(log_since "$mark"); }
if wait_until 10 found; then
	ok "R: the same replay from alice's own address makes bob dial alice's address"
else
	not_ok "R: the same replay from alice's own address makes bob dial alice's address"
fi
refused() {
	log_since "$mark" | sed -n '/found on the LAN at/,$p' |
		grep -q 'dropped during the handshake: connection refused'
}
if wait_until 10 refused; then
	ok "R: that dial goes nowhere: refused after the 'found' line (alice is stopped)"
else
	not_ok "R: that dial goes nowhere: refused after the 'found' line (alice is stopped)"
fi
sleep 1
log_since "$mark" >"$S/log.R"
expect_eq "$(grep -c 'found on the LAN' "$S/log.R")" 1 \
	"R: 100 replayed datagrams, one dial: once per window"
check "R: bob never dialled his own address" lacks "found on the LAN at $IP_B " "$S/log.R"
# off the link: to the group from a routed source, and to bob's unicast address
mark=$(log_mark)
t_off=$(now_ns)
nsx "$NS_A" "$PY" "$HELPER_D" send "$VETH_A" 7655 5000 random "$IP_OFF" >"$S/flood.off.json"
nsx "$NS_A" "$PY" "$HELPER_D" send "$VETH_A" 7655 5000 random "$IP_A" "$IP_B" >"$S/flood.uni.json"
echo "#   off-link flood: $(cat "$S/flood.off.json"), unicast flood: $(cat "$S/flood.uni.json")"
if wait_until 10 heard b "$IP_OFF" "$t_off" 250; then
	ok "R: the off-link datagrams reach bob's namespace (the stranger got 250 or more)"
else
	not_ok "R: the off-link datagrams reach bob's namespace (the stranger got 250 or more)"
fi
sleep 2 # a pause would be logged when reading resumes, a second later
log_since "$mark" >"$S/log.Roff"
check "R: off-link and unicast floods cost bob nothing: no reading paused" \
	lacks 'reading paused' "$S/log.Roff"
check "R: ... and no dial" lacks 'found on the LAN' "$S/log.Roff"
mark=$(log_mark)
nsx "$NS_A" "$PY" "$HELPER_D" send "$VETH_A" 7655 20000 random >"$S/flood.json"
echo "#   flood: $(cat "$S/flood.json")"
paused() { grep -q 'datagrams a second: reading paused' <(log_since "$mark"); }
if wait_until 10 paused; then
	ok "R: a flood of beacon-shaped datagrams makes bob pause reading"
else
	not_ok "R: a flood of beacon-shaped datagrams makes bob pause reading"
fi
check "R: bob's buddyd is still running after the flood" alive bob
as bob
bud status --json
expect_rc 0 "R: bob's daemon still answers"
dstop bob

# ---- D. IPv6 link-local only, on another beacon port ----

if ! ip -n "$NS_A" -6 addr show dev "$VETH_A" scope link | grep -q fe80 ||
	! ip -n "$NS_B" -6 addr show dev "$VETH_B" scope link | grep -q fe80; then
	echo "ok - D: IPv6 link-local beacons # skip no IPv6 link-local address on the veth pair"
else
	conf alice yes "port = 7756"
	conf bob yes "port = 7756"
	mark=$(log_mark)
	t0=$(now_ns)
	nsstart alice "[::]:7104"
	nsstart bob "[::]:7104"
	wait_state alice bob online "D: over IPv6 only, alice finds bob again and sees him online"
	wait_state bob alice online "D: bob sees alice online"
	echo "#   (after $((($(now_ns) - t0) / 1000000)) ms)"
	log_since "$mark" >"$S/log.D"
	grep 'found on the LAN\|LAN discovery on' "$S/log.D" | sed 's/^/#   /'
	if grep -q -E "found on the LAN at fe80::[0-9a-f:]+%(${VETH_A}|${VETH_B}) port 7104: dialling" "$S/log.D"; then
		ok "D: the dial went to a link-local address with its interface as the zone"
	else
		not_ok "D: the dial went to a link-local address with its interface as the zone"
	fi
	check "D: the beacons used the configured port 7756" grep -q 'LAN discovery on UDP port 7756' "$S/log.D"
	n=$("$PY" "$HELPER_D" none "$S/sniff.b" "$t0")
	expect_eq "$n" 0 "D: nothing was sent on the default port 7655 meanwhile"
	stop_all alice bob
fi

# ---- E. both families, two ports: no constant XOR between their port fields ----

conf alice yes
t_e=$(now_ns)
nsstart alice "0.0.0.0:7107" "[::]:7108"
v6_heard() { [ "$("$PY" "$HELPER_D" xor "$S/sniff.b" "$1" "$(now_ns)" 0 0 |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["pairs"][0])')" -ge 4 ]; }
E0=$(now_ns)
wait_until 20 v6_heard "$E0"
sleep 2
E1=$(now_ns)
rpc alice debug.clock_advance '{"seconds": 300}'
NOW=$((NOW + 300))
E2=$(now_ns)
wait_until 20 v6_heard "$E2"
sleep 2
E3=$(now_ns)
"$PY" "$HELPER_D" xor "$S/sniff.b" "$E0" "$E1" "$E2" "$E3" >"$S/xor.json"
echo "#   port4 XOR port6 per token: $(cat "$S/xor.json")"
expect_json "$S/xor.json" 'd["pairs"]' "[4, 4]" \
	"E: in each window the stranger pairs alice's 4 IPv4 and 4 IPv6 heads by token"
expect_json "$S/xor.json" 'any(x in (0, 7107 ^ 7108) for p in d["xors"] for x in p)' false \
	"E: no pair's port fields XOR to 0 (dummies) or to 7107 ^ 7108 (the real one)"
expect_json "$S/xor.json" 'bool(set(d["xors"][0]) & set(d["xors"][1]))' false \
	"E: no XOR of one window comes back in the next: nothing links the families or windows"
dstop alice

no_open_handles
echo "# discovery_test took $(($(date +%s) - T_START)) s"
finish
