# Helpers for the integration scripts that run several daemons at once, one home each
# (pair_test.sh, sync_test.sh, deadline_test.sh, notify_test.sh). Source it after lib.sh:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   . "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
# Bash only.
#
# Homes are $IT_TMP/NAME (made with lib.sh's new_home NAME ...). What it gives:
#   S, HELPER                  the scratch directory; tests/integration/sync_helper.py
#   WAIT, SYNC_S               upper bounds for a state that must come: a `buddies --wait`
#                              duration (20s) and seconds for "every post acknowledged" (20);
#                              a script may set others after sourcing this file
#   DPID[NAME]                 the pid of NAME's buddyd ("" when not running)
#   PORT[NAME]                 the fixed port NAME's buddyd listens on (unset: 127.0.0.1:0)
#   PASSF[NAME]                NAME's passphrase file, given to its buddyd (unset: none)
#   dstart_prepare NAME        optional, defined by the script: run by dstart just before the
#                              daemon starts (to export an environment variable for it)
#   as NAME                    make NAME's home current for the following bud commands
#   dstart NAME [ARGS]         start NAME's buddyd (unlocked) and wait until it serves
#   must_start NAME DESC       dstart, counted; finish when it fails
#   dstop NAME, dkill9 NAME    SIGTERM (STOP_RC) or SIGKILL NAME's buddyd and reap it
#   alive NAME                 NAME's buddyd is still running
#   stop_all NAME...           each is still running, then stops cleanly (counted)
#   status_json NAME           `buddy status --json` of NAME into $S/status.NAME.json
#   buddies_json NAME          `buddy buddies --json` of NAME into $S/buddies.NAME.json
#   rpc NAME METHOD JSON       one control request through sync_helper.py ({"result"|"error"}
#                              in $OUT)
#   wait_state WHO PEER online|offline DESC
#                              WHO's buddyd sees PEER in that state within $WAIT (counted)
#   pair INVITER ACCEPTER      invite (on the inviter's fixed port), accept, both online
#   sync_of PEER, by_name N    python expressions for pyjson: PEER's entry in status --json
#                              "sync"; the buddy called N in buddies --json
#   synced WHO PEER            WHO has no post waiting for PEER
#   wait_until SECONDS CMD...  runs CMD until it succeeds, at most SECONDS long (bounded poll)
#   wait_synced WHO PEER DESC [SECONDS]
#                              every post of WHO to PEER is acknowledged within $SYNC_S or
#                              SECONDS (counted)
#   entry_no                   the entry number in the last stdout ("... (entry #12) ...")
#   lacks GREP-ARGS...         grep finds nothing
#   read_ports VAR...          one free port below the ephemeral range into each VAR (bails out
#                              when there are not enough)
#   init_homes NAME...         `buddy init` each home $IT_TMP/NAME, without a passphrase (counted)
#   no_open_handles            no daemon logged "handles left open" at exit (counted; call it
#                              once every daemon is stopped)
# shellcheck shell=bash

S="$IT_TMP/scratch"
HELPER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sync_helper.py"
WAIT=20s
SYNC_S=20

declare -A DPID=()
declare -A PORT=()
declare -A PASSF=()

as() {
	use_home "$IT_TMP/$1"
}

dstart() {
	local name="$1" listen=127.0.0.1:0 pf=()
	shift
	as "$name"
	if [ -n "${PORT[$name]:-}" ]; then
		listen="127.0.0.1:${PORT[$name]}"
	fi
	if [ -n "${PASSF[$name]:-}" ]; then
		pf=(--passphrase-file "${PASSF[$name]}")
	fi
	if declare -F dstart_prepare >/dev/null; then
		dstart_prepare "$name"
	fi
	if start_daemon --listen "$listen" "${pf[@]}" "$@"; then
		DPID[$name]=$DAEMON_PID
		return 0
	fi
	DPID[$name]=""
	return 1
}

must_start() {
	if dstart "$1"; then
		ok "$2"
	else
		not_ok "$2"
		finish
	fi
}

dstop() {
	DAEMON_PID=${DPID[$1]:-}
	DPID[$1]=""
	stop_daemon
}

dkill9() {
	DAEMON_PID=${DPID[$1]:-}
	DPID[$1]=""
	kill9_daemon
}

alive() {
	[ -n "${DPID[$1]:-}" ] && kill -0 "${DPID[$1]}" 2>/dev/null
}

stop_all() {
	local h
	for h in "$@"; do
		check "$h's buddyd is still running" alive "$h"
		dstop "$h"
		expect_eq "$STOP_RC" 0 "$h's buddyd stops cleanly"
	done
}

status_json() {
	as "$1"
	bud status --json
	cp "$OUT" "$S/status.$1.json"
}

buddies_json() {
	as "$1"
	bud buddies --json
	cp "$OUT" "$S/buddies.$1.json"
}

rpc() {
	run "$PYTHON3" "$HELPER" rpc "$IT_TMP/$1/buddyd.sock" "$2" "$3"
}

wait_state() {
	local who="$1" peer="$2" state="$3" desc="$4"
	as "$who"
	if [ "$state" = online ]; then
		bud buddies --wait "$peer" --timeout "$WAIT"
	else
		bud buddies --wait "$peer" --offline --timeout "$WAIT"
	fi
	expect_rc 0 "$desc"
}

pair() {
	local code
	as "$1"
	bud invite --name "$2" --address "127.0.0.1:${PORT[$1]}"
	expect_rc 0 "$1 invites $2"
	code=$(head -n 1 "$OUT")
	as "$2"
	bud accept "$code" --name "$1"
	expect_rc 0 "$2 accepts $1's invite"
	wait_state "$1" "$2" online "$1 sees $2 online"
	wait_state "$2" "$1" online "$2 sees $1 online"
}

sync_of() {
	printf '[s for s in d["sync"] if s["buddy"] == "%s"][0]' "$1"
}

by_name() {
	printf '[b for b in d if b["name"] == "%s"][0]' "$1"
}

synced() {
	status_json "$1"
	[ "$RC" = 0 ] && [ "$(pyjson "$S/status.$1.json" "$(sync_of "$2")[\"waiting\"]" 2>/dev/null)" = 0 ]
}

wait_until() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	shift
	while ! "$@"; do
		if [ "$(date +%s%N)" -ge "$end" ]; then
			return 1
		fi
		sleep 0.05
	done
}

wait_synced() {
	local t0
	t0=$(date +%s%N)
	if wait_until "${4:-$SYNC_S}" synced "$1" "$2"; then
		ok "$3"
		echo "#   (after $((($(date +%s%N) - t0) / 1000000)) ms)"
	else
		not_ok "$3"
		diag "$1's status --json after ${4:-$SYNC_S} s:"
		head -c 1500 "$S/status.$1.json" | sed 's/^/#     /'
		echo
	fi
}

entry_no() {
	grep -o 'entry #[0-9]*' "$OUT" | head -n 1 | tr -dc '0-9'
}

lacks() {
	! grep -q "$@"
}

init_homes() {
	local h
	for h in "$@"; do
		new_home "$h" -
		expect_rc 0 "init $h"
	done
}

no_open_handles() {
	if grep -q "handles left open" "$DAEMON_LOG"; then
		not_ok "no daemon left a handle open at exit"
	else
		ok "no daemon left a handle open at exit"
	fi
}

read_ports() {
	local ports last="${!#}"
	ports=$("$PYTHON3" "$HELPER" ports "$#")
	read -r "$@" <<<"$ports"
	if [ -z "${!last}" ]; then
		echo "Bail out! no free ports below the ephemeral range"
		exit 2
	fi
}

# start_relay DIR: sync_helper.py's recording relay, 127.0.0.1:$PA1 -> alice's $PA and $PB1 ->
# bob's $PB, recording into DIR (sets RELAY_DIR, RELAY_PID); waits for its "ready" on a fifo
# (no polling) and ends the test when it does not come.
start_relay() {
	RELAY_DIR="$1"
	mkdir -p "$RELAY_DIR"
	mkfifo -m 600 "$S/relay.ready"
	exec 4<>"$S/relay.ready"
	"$PYTHON3" "$HELPER" relay "$RELAY_DIR" "$S/relay.ready" "$PA1:$PA" "$PB1:$PB" \
		2>>"$DAEMON_LOG" &
	RELAY_PID=$!
	BG_PIDS+=("$RELAY_PID")
	RELAY_UP=""
	IFS= read -r -t 20 -u 4 RELAY_UP
	exec 4<&-
	if [ "$RELAY_UP" = ready ]; then
		ok "the relay listens on $PA1 (-> alice $PA) and $PB1 (-> bob $PB)"
	else
		not_ok "the relay listens on $PA1 (-> alice $PA) and $PB1 (-> bob $PB)"
		finish
	fi
}

# ns_cleanup: deletes the two network namespaces $NS_A and $NS_B once NS_MADE says they were
# made (netfault_test, discovery_test; lib.sh's cleanup must have stopped their processes)
ns_cleanup() {
	if [ -n "${NS_MADE:-}" ]; then
		ip netns del "$NS_A" 2>/dev/null
		ip netns del "$NS_B" 2>/dev/null
		NS_MADE=""
	fi
}
