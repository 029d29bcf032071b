#!/usr/bin/env bash
# Notifications (issue 5 "Events" and its tests; proto/CONTROL.md inbox, inbox.read, watch;
# include/buddy/config.h and hooks.h): two real daemons, alice and bob, paired, alice sharing a
# commitment with bob; a third home, carol, for configurations buddyd must refuse.
#
#   1. watch: alice checks in; bob's `buddy watch --json` prints the event as one JSON line
#      (kind checkin, buddy alice, text, status) and a second watcher (`buddy watch`, for people)
#      gets it at the same time
#   2. a hook for kind checkin (bob's $BUDDY_HOME/config) runs with the event in its environment
#      (BUDDY_EVENT, BUDDY_FROM, BUDDY_TEXT, ...) and nothing of buddyd's own environment beyond
#      the documented few (SECRET_TEST_VAR is not passed); its output goes to the daemon's log
#   3. the inbox: the event unread, `inbox read ID`, read with --all, the unread count one less;
#      bob's daemon restarted with a new config: the event is still there, read
#   4. a hook that hangs (timeout = 1s): killed at its limit, the next event of its kind runs,
#      the daemon's log says so, bob's daemon still answers
#   5. a hook path that does not exist (kind online): one clear log line naming it, not
#      repeated for later events
#   6. a config others may write, or with an unknown setting: buddyd refuses to start, naming
#      the file (and the line)
#   7. a watcher that subscribes and never reads is dropped once more than 256 KiB of events
#      wait for it (alice floods check-ins through sync_helper.py); a normal watcher gets every
#      event and bob's daemon keeps answering
#
# Deterministic: no sleeps. Lines that must come are read from fifos with `read -t` (the test
# holds each fifo open read-write, so no writer ever blocks); sessions are awaited with `buddy
# buddies --wait`, delivery and log lines with bounded polls of a state that must come.
#
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/notify_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

LINE_S=20          # seconds: an upper bound for a line that must come (returns as soon as it does)
FLOOD_N=${BUDDY_NOTIFY_FLOOD:-400}
FLOOD_TEXT=2000    # bytes of each flood check-in's text: FLOOD_N of them are far over 256 KiB
FLOOD_RATE=300     # check-ins per second at most: a normal watcher has time to keep up
HOOK_TIMEOUT=1     # [hooks] timeout, in seconds
KILL_GRACE=2       # hooks.h: SIGKILL 2 s after the SIGTERM
NOHOOK=/nonexistent/buddy-hook
T0=$(date +%s%N)

# a variable of the test's (and so buddyd's) environment that no hook may see
export SECRET_TEST_VAR="notify-secret-$$"

# the slow watcher: /usr/bin/python3 and the standard library only
SLOW_PY=/usr/bin/python3
[ -x "$SLOW_PY" ] || SLOW_PY=$PYTHON3

ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

section() {
	echo "# $1 (at $(ms_since "$T0") ms)"
}

# open_fifo VAR NAME: makes the fifo $S/NAME and opens it read-write on a new descriptor, whose
# number goes into VAR (read-write: opening never blocks, and a writer never gets SIGPIPE)
open_fifo() {
	local fd
	mkfifo -m 600 "$S/$2" || return 1
	exec {fd}<>"$S/$2"
	printf -v "$1" '%s' "$fd"
}

# read_until FD TEXT SECONDS: reads lines from FD until one holds TEXT (fixed string), for at
# most SECONDS; the line in LINE, the lines passed over in SKIPPED; 1 on a timeout
read_until() {
	local fd="$1" want="$2" end left line
	end=$(($(date +%s%N) + $3 * 1000000000))
	LINE=""
	SKIPPED=""
	while :; do
		left=$(((end - $(date +%s%N)) / 1000000))
		if [ "$left" -le 0 ]; then
			return 1
		fi
		if ! IFS= read -r -t "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))" -u "$fd" line; then
			return 1
		fi
		case "$line" in
		*"$want"*)
			LINE=$line
			return 0
			;;
		esac
		SKIPPED+="$line"$'\n'
	done
}

# expect_line FD TEXT DESC: read_until, counted; the line goes to $S/line.json too
expect_line() {
	if read_until "$1" "$2" "$LINE_S"; then
		ok "$3"
		printf '%s\n' "$LINE" >"$S/line.json"
		return 0
	fi
	not_ok "$3 (no line with \"$2\" within $LINE_S s)"
	if [ -n "$SKIPPED" ]; then
		diag "lines passed over:"
		printf '%s' "$SKIPPED" | head -c 1500 | sed 's/^/#     /'
	fi
	: >"$S/line.json"
	return 1
}

# log_mark: the daemon log's size now; log_since MARK: what was logged after it (not the lines
# lib.sh writes before each start)
log_mark() {
	stat -c %s "$DAEMON_LOG"
}
log_since() {
	tail -c +$(($1 + 1)) "$DAEMON_LOG" | grep -a -v '^=== '
}

# log_has MARK TEXT: a line logged after MARK holds TEXT; log_count MARK TEXT: how many
log_has() {
	log_since "$1" | grep -q -F -e "$2"
}
log_count() {
	log_since "$1" | grep -c -F -e "$2"
}

# write_config NAME TEXT: NAME's $BUDDY_HOME/config, mode 0600
write_config() {
	printf '%s\n' "$2" >"$IT_TMP/$1/config"
	chmod 600 "$IT_TMP/$1/config"
}

# bg_wait PID: reap a background helper; its exit code in BG_RC
bg_wait() {
	wait "$1"
	BG_RC=$?
	forget_pid "$1"
}

# ---- homes, hooks, daemons ----

section "setup"
read_ports PA PB
PORT[alice]=$PA
PORT[bob]=$PB
init_homes alice bob carol

open_fifo HOOK_FD hook.fifo
# the checkin hook: its arguments (split on spaces by buddyd) are where to write its
# environment and the fifo to tell the test on; its stdout goes to the daemon's log
cat >"$S/hook-checkin.sh" <<'EOF'
#!/bin/sh
env >"$1.tmp" && mv "$1.tmp" "$1"
echo "HOOKOUT checkin event $BUDDY_EVENT_ID"
printf 'checkin-hook %s args=%s\n' "$BUDDY_EVENT_ID" "$#" >"$2"
EOF
# the note hook: the first run says so (with its pid and the time it began, in ns) and hangs
# (exec: the sleep is the hook's process); every later run says so (with its time) and ends
cat >"$S/hook-note.sh" <<'EOF'
#!/bin/sh
if mkdir "$1" 2>/dev/null; then
	printf 'note-hook hanging %s %s %s\n' "$$" "$(date +%s%N)" "$BUDDY_EVENT_ID" >"$2"
	exec sleep 300
fi
printf 'note-hook ran %s %s %s\n' "$(date +%s%N)" "$BUDDY_EVENT_ID" "$BUDDY_TEXT" >"$2"
EOF
chmod 700 "$S/hook-checkin.sh" "$S/hook-note.sh"

write_config bob "; bob's configuration, first version: a hook for check-ins
[hooks]
checkin = $S/hook-checkin.sh $S/env.checkin $S/hook.fifo"
expect_eq "$(file_mode "$IT_TMP/bob/config")" 600 "bob's config is mode 0600"

must_start alice "alice's buddyd starts on 127.0.0.1:$PA"
must_start bob "bob's buddyd starts on 127.0.0.1:$PB, with a checkin hook in its config"
pair alice bob
as alice
bud commit add run "Run 5 km" --daily --tz UTC
expect_rc 0 "alice commit add run"
bud share run --with bob
expect_rc 0 "alice share run --with bob"
wait_synced alice bob "the shared commitment reaches bob"

# ---- 1. two watchers ----

section "1. watch --json and watch, at the same time"
open_fifo WJ_FD watch.json.fifo
open_fifo WH_FD watch.human.fifo
as bob
"$BUDDY" watch --json >"$S/watch.json.fifo" 2>>"$CLI_ERRLOG" &
WJ_PID=$!
BG_PIDS+=("$WJ_PID")
"$BUDDY" watch >"$S/watch.human.fifo" 2>>"$CLI_ERRLOG" &
WH_PID=$!
BG_PIDS+=("$WH_PID")
# the plain watcher says so once it is subscribed; the JSON one prints only events, so a probe
# that raises one on bob (a note of his to alice: her daemon's acknowledgement is a "delivered"
# event) is repeated until the JSON watcher shows one: a bounded poll of a state that must come
expect_line "$WH_FD" "Watching for events" "bob's buddy watch says it is watching"
SUBSCRIBED=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	as bob
	bud log --share-with alice "probe $i"
	if read_until "$WJ_FD" '"delivered"' 3; then
		SUBSCRIBED=$i
		break
	fi
done
if [ -n "$SUBSCRIBED" ]; then
	ok "bob's buddy watch --json is subscribed (a delivered event after probe $SUBSCRIBED)"
	printf '%s\n' "$LINE" >"$S/probe.json"
	expect_json "$S/probe.json" '[d["kind"], d["buddy"], d["id"] > 0]' '["delivered", "alice", true]' \
		"... which is a delivered event about alice, with an id"
else
	not_ok "bob's buddy watch --json is subscribed (a delivered event after a probe)"
fi

CHECKIN_TEXT="CHECKMARK easy 5 km by the river"
T_CHECKIN=$(date +%s%N)
as alice
bud checkin run --done "$CHECKIN_TEXT"
expect_rc 0 "alice checks in on run"
E1=$(entry_no)
expect_line "$WJ_FD" '"checkin"' "bob's watch --json prints a checkin event"
echo "#   (alice's check-in to bob's JSON watcher: $(ms_since "$T_CHECKIN") ms)"
cp "$S/line.json" "$S/watch.checkin.json"
json_ok "$S/watch.checkin.json" "... as one JSON object on one line"
expect_json "$S/watch.checkin.json" '[d["kind"], d["buddy"], d["commit"], d["status"], d["text"], d["entry"]]' \
	"[\"checkin\", \"alice\", \"run\", \"done\", \"$CHECKIN_TEXT\", $E1]" \
	"... kind checkin, buddy alice, commit run, status done, the text, alice's entry #$E1"
expect_json "$S/watch.checkin.json" '[isinstance(d["id"], int) and d["id"] > 0, d["read"], isinstance(d["time"], int)]' \
	'[true, false, true]' "... with an event id, unread, and a time"
EV_ID=$(pyjson "$S/watch.checkin.json" 'd["id"]' 2>/dev/null)
expect_line "$WH_FD" "$CHECKIN_TEXT" "bob's second watcher (plain buddy watch) prints it too"
check "... as \"alice checked in on run: done\" with the event's number" \
	grep -q -E "^\\* +$EV_ID .*alice checked in on run: done .*$CHECKIN_TEXT" <<<"$LINE"

# ---- 2. the checkin hook ----

section "2. the checkin hook"
expect_line "$HOOK_FD" "checkin-hook" "bob's checkin hook ran (it wrote to the test's fifo)"
expect_eq "$LINE" "checkin-hook $EV_ID args=2" \
	"... for this event, with the config's two arguments split on the space"
envv() { # NAME: the value of NAME in the hook's environment (empty line when it is not there)
	grep -a "^$1=" "$S/env.checkin" | head -n 1 | cut -d= -f2-
}
if [ -s "$S/env.checkin" ]; then
	ok "the hook wrote its environment"
else
	not_ok "the hook wrote its environment"
	: >"$S/env.checkin"
fi
expect_eq "$(envv BUDDY_EVENT)" checkin "BUDDY_EVENT=checkin"
expect_eq "$(envv BUDDY_FROM)" alice "BUDDY_FROM=alice"
expect_eq "$(envv BUDDY_TEXT)" "$CHECKIN_TEXT" "BUDDY_TEXT is the check-in's text"
expect_eq "$(envv BUDDY_STATUS)" "done" "BUDDY_STATUS=done"
expect_eq "$(envv BUDDY_COMMIT)" run "BUDDY_COMMIT=run"
expect_eq "$(envv BUDDY_EVENT_ID)" "$EV_ID" "BUDDY_EVENT_ID is the event's id ($EV_ID, as in watch)"
expect_eq "$(envv BUDDY_ENTRY)" "$E1" "BUDDY_ENTRY is alice's entry number"
check "BUDDY_FROM_KEY is 64 hex digits" grep -q -x -E 'BUDDY_FROM_KEY=[0-9a-fA-F]{64}' "$S/env.checkin"
check "BUDDY_TIME is Unix seconds" grep -q -x -E 'BUDDY_TIME=[0-9]+' "$S/env.checkin"
check "(SECRET_TEST_VAR is in bob's buddyd's environment)" \
	grep -q -z -x "SECRET_TEST_VAR=$SECRET_TEST_VAR" "/proc/${DPID[bob]}/environ"
check "SECRET_TEST_VAR is not passed to the hook" \
	lacks -e SECRET_TEST_VAR -e "$SECRET_TEST_VAR" "$S/env.checkin"
# hooks.h: the event's variables, PATH, HOME, LANG and the desktop session's; nothing else (the
# shell that runs the script may add PWD, SHLVL, OLDPWD and _ itself)
cat >"$S/envnames.py" <<'EOF'
import sys
allowed = {"BUDDY_EVENT", "BUDDY_EVENT_ID", "BUDDY_TIME", "BUDDY_FROM", "BUDDY_FROM_KEY",
           "BUDDY_COMMIT", "BUDDY_ENTRY", "BUDDY_STATUS", "BUDDY_TEXT", "BUDDY_PERIOD_START",
           "BUDDY_PERIOD_END", "BUDDY_ALERT", "PATH", "HOME", "LANG", "DISPLAY",
           "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR",
           "PWD", "SHLVL", "OLDPWD", "_"}
names = {l.split("=", 1)[0] for l in open(sys.argv[1], encoding="utf-8", errors="replace") if "=" in l}
print(" ".join(sorted(names - allowed)) or "none")
EOF
expect_eq "$(python3 "$S/envnames.py" "$S/env.checkin")" none \
	"the hook's environment has nothing beyond hooks.h's list (no BUDDY_HOME, XDG_DATA_HOME, ...)"
if wait_until 10 log_has 0 "HOOKOUT checkin event $EV_ID"; then
	ok "the hook's stdout is in the daemon's log"
else
	not_ok "the hook's stdout is in the daemon's log"
fi

# ---- 3. the inbox ----

section "3. inbox, inbox read, and a restart of bob"
inbox_json() { # ARGS: bob's buddy inbox --json ARGS into $S/inbox.json
	as bob
	bud inbox --json "$@"
	cp "$OUT" "$S/inbox.json"
}
THE_EV="[e for e in d['events'] if e['id'] == $EV_ID]"
inbox_json
expect_rc 0 "bob's buddy inbox --json"
json_ok "$S/inbox.json" "... is JSON"
expect_json "$S/inbox.json" "[(e['kind'], e['buddy'], e['commit'], e['entry'], e['status'], e['text'], e['read']) for e in $THE_EV]" \
	"[[\"checkin\", \"alice\", \"run\", $E1, \"done\", \"$CHECKIN_TEXT\", false]]" \
	"the unread list has the check-in event ($EV_ID): alice's, on run, done, the text, unread"
UNREAD0=$(pyjson "$S/inbox.json" 'd["unread"]' 2>/dev/null)
expect_json "$S/inbox.json" 'd["unread"] == len(d["events"]) and d["unread"] >= 1' true \
	"the unread count ($UNREAD0) matches the unread list"
inbox_json --from alice
expect_json "$S/inbox.json" "len($THE_EV)" 1 "inbox --from alice lists it too"
as bob
bud inbox read "$EV_ID"
expect_rc 0 "bob: buddy inbox read $EV_ID"
expect_out_has "Marked 1 event read" "... marks one event"
bud inbox read "$EV_ID"
expect_rc 0 "marking it again is no error"
expect_out_has "read already" "... and says it was read already"
bud inbox read 999999
expect_rc 6 "marking an event that does not exist: not found (exit 6)"
inbox_json
expect_json "$S/inbox.json" "len($THE_EV)" 0 "the unread list no longer has it"
expect_json "$S/inbox.json" 'd["unread"]' "$((UNREAD0 - 1))" "the unread count dropped by one"
inbox_json --all
expect_json "$S/inbox.json" "[e['read'] for e in $THE_EV]" '[true]' "inbox --all shows it, read"
as bob
bud inbox
expect_out_lacks "$CHECKIN_TEXT" "the plain inbox (unread only) does not show it"
bud inbox --all
expect_out_has "$CHECKIN_TEXT" "the plain inbox --all shows it"

# bob's daemon goes down: both watchers end; the new config (read at the next start) has the
# hooks of sections 4 and 5 and no checkin hook any more
dstop bob
expect_eq "$STOP_RC" 0 "bob's buddyd stops cleanly"
bg_wait "$WJ_PID"
expect_eq "$BG_RC" 1 "bob's watch --json ends when his daemon stops (exit 1)"
bg_wait "$WH_PID"
expect_eq "$BG_RC" 1 "bob's plain watch ends too (exit 1)"
write_config bob "; bob's configuration, second version
[hooks]
timeout = ${HOOK_TIMEOUT}s
note = $S/hook-note.sh $S/note.marker $S/hook.fifo
online = $NOHOOK"
must_start bob "bob's buddyd starts again, with the new config"
wait_state bob alice online "bob sees alice online again"
inbox_json --all
expect_json "$S/inbox.json" "[(e['kind'], e['text'], e['read']) for e in $THE_EV]" \
	"[[\"checkin\", \"$CHECKIN_TEXT\", true]]" "after the restart the event is still there, read"
inbox_json
expect_json "$S/inbox.json" "len($THE_EV)" 0 "... and not in the unread list"
expect_json "$S/inbox.json" 'd["unread"]' "$((UNREAD0 - 1))" "... and the unread count is as before the restart"

# ---- 4. a hook that hangs ----

section "4. a note hook that hangs (timeout = ${HOOK_TIMEOUT}s)"
M4=$(log_mark)
as alice
bud log --share-with bob "NOTEONE the first note"
expect_rc 0 "alice posts a note to bob"
bud log --share-with bob "NOTETWO the second note"
expect_rc 0 "alice posts a second note to bob"
HUNG_PID=""
if expect_line "$HOOK_FD" "note-hook hanging" "the first run of bob's note hook starts (and hangs)"; then
	read -r _ _ HUNG_PID T_HANG _ <<<"$LINE"
	if expect_line "$HOOK_FD" "note-hook ran" "the second note's hook runs after it"; then
		read -r _ _ T_RAN _ <<<"$LINE"
		GAP=$(((T_RAN - T_HANG) / 1000000))
		echo "#   (the second run began ${GAP} ms after the first)"
		# the first's own clock reading comes a little after its start, so a little under 1 s
		check "... once the first was killed at its limit: ${GAP} ms after it began, ~${HOOK_TIMEOUT} s (at most one runs per kind)" \
			test "$GAP" -ge $((HOOK_TIMEOUT * 1000 - 500)) -a "$GAP" -le $(((HOOK_TIMEOUT + KILL_GRACE) * 1000 + 3000))
		check "... and it has the second note's text" grep -q -F "NOTETWO the second note" <<<"$LINE"
	fi
fi
if [ -n "$HUNG_PID" ]; then
	if kill -0 "$HUNG_PID" 2>/dev/null; then
		not_ok "the hung hook's process ($HUNG_PID) is gone"
		kill -KILL "$HUNG_PID" 2>/dev/null
	else
		ok "the hung hook's process ($HUNG_PID) is gone"
	fi
fi
if wait_until 10 log_has "$M4" "killed"; then
	ok "the daemon's log says a hook was killed"
else
	not_ok "the daemon's log says a hook was killed"
fi
log_since "$M4" | grep -a -i 'hook' | sed 's/^/#   log: /'
check "... a line naming the note hook and its program" \
	grep -q -E "hook.*note.*hook-note\\.sh.*killed" <(log_since "$M4")
check "bob's buddyd is still running" alive bob
as bob
bud status
expect_rc 0 "bob's buddyd still answers buddy status"

# ---- 5. a hook that does not exist ----

section "5. a hook path that does not exist (kind online: $NOHOOK)"
# bob's restart above already made alice "online" once: that event logged the missing hook
if wait_until 10 log_has 0 "$NOHOOK"; then
	ok "the daemon's log names $NOHOOK"
else
	not_ok "the daemon's log names $NOHOOK"
fi
M5=$(log_mark)
dstop alice
expect_eq "$STOP_RC" 0 "alice's buddyd stops cleanly"
wait_state bob alice offline "bob sees alice offline"
must_start alice "alice's buddyd starts again"
wait_state bob alice online "bob sees alice online (another online event for the missing hook)"
as bob
bud status
expect_rc 0 "bob's buddyd still answers buddy status"
log_since 0 | grep -a -F "$NOHOOK" | sed 's/^/#   log: /'
# hooks.h: one line until the hook can run again, not one per event a buddy causes
expect_eq "$(log_count "$M5" "$NOHOOK")" 0 "... and no second line for the next online event"
expect_eq "$(log_count 0 "$NOHOOK")" 1 "... in exactly one line in all"
check "... which says it cannot be run, for kind online" \
	grep -q -i -E "online.*(cannot|could not|no such file|not found)" <(log_since 0 | grep -a -F "$NOHOOK")
check "bob's buddyd is still running" alive bob

# ---- 6. configurations buddyd refuses ----

section "6. configurations buddyd refuses (carol)"
CFG="$IT_TMP/carol/config"
# refused DESC [LINE]: carol's buddyd does not start, and says why, naming the file (and LINE)
refused() {
	local m
	m=$(log_mark)
	REFUSED_MARK=$m
	use_home "$IT_TMP/carol"
	if daemon_spawn; then
		not_ok "$1: buddyd refuses to start"
		DAEMON_PID=$SPAWN_PID
		stop_daemon
		return
	fi
	check "$1: buddyd refuses to start (exit code $SPAWN_RC)" test "$SPAWN_RC" != 0
	log_since "$m" | sed 's/^/#   log: /'
	check "... with a message naming $CFG" log_has "$m" "$CFG"
	if [ -n "${2:-}" ]; then
		check "... and its line $2" log_has "$m" "config:$2:"
	fi
}
write_config carol "[hooks]
timeout = 5s"
chmod 666 "$CFG"
refused "a config anyone may write (0666)"
chmod 620 "$CFG"
refused "a config the group may write (0620)"
chmod 644 "$CFG"
as carol
if dstart carol; then
	ok "a config others may only read (0644) is accepted (config.h refuses only writable ones)"
	dstop carol
else
	not_ok "a config others may only read (0644) is accepted (config.h refuses only writable ones)"
fi
write_config carol "; an unknown key in [hooks]
[hooks]
timeout = 5s
chekin = /bin/true"
refused "a config with an unknown setting (chekin)" 4
check "... and the setting" log_has "$REFUSED_MARK" chekin
write_config carol "[deadlines]
remind_lead = 3h
remind_lag = 1h"
refused "a config with an unknown setting in [deadlines]" 3
write_config carol "[hooks]
checkin = notify-send buddy"
refused "a hook that is not an absolute path" 2

# ---- 7. a watcher that does not read ----

section "7. a watcher that never reads, while alice sends $FLOOD_N check-ins of ${FLOOD_TEXT} bytes ($FLOOD_RATE/s)"
as bob
"$BUDDY" watch --json >"$S/watch.flood.out" 2>>"$CLI_ERRLOG" &
WF_PID=$!
BG_PIDS+=("$WF_PID")
watching() { grep -q '"delivered"' "$S/watch.flood.out"; }
SUBSCRIBED=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	as bob
	bud log --share-with alice "probe 7.$i"
	if wait_until 3 watching; then
		SUBSCRIBED=$i
		break
	fi
done
check "a normal watcher (buddy watch --json into a file) is subscribed (probe ${SUBSCRIBED:-none})" \
	test -n "$SUBSCRIBED"

cat >"$S/slow.py" <<'EOF'
# slow.py SOCKET READY CMD: subscribes with watch, then reads nothing until told (a line on the
# fifo CMD); then reads what is left and prints {"eof": bool, "bytes": n} (eof: the daemon
# closed the connection)
import json, socket, sys
sock, ready, cmd = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(20)
s.connect(sock)
s.sendall(bytes.fromhex("940001a5776174636880"))  # [0, 1, "watch", {}]
want = bytes.fromhex("940101c080")                 # [1, 1, nil, {}]
got = b""
while len(got) < len(want):
    b = s.recv(len(want) - len(got))
    if not b:
        break
    got += b
with open(ready, "w") as f:
    f.write(("subscribed" if got == want else "unexpected " + got.hex()) + "\n")
with open(cmd) as f:
    f.readline()
n, how = 0, "open"
try:
    while True:
        b = s.recv(65536)
        if not b:
            how = "eof"
            break
        n += len(b)
except socket.timeout:
    pass
except ConnectionResetError:
    how = "reset"
print(json.dumps({"eof": how != "open", "how": how, "bytes": n}))
EOF
open_fifo SLOW_READY_FD slow.ready
open_fifo SLOW_CMD_FD slow.cmd
"$SLOW_PY" "$S/slow.py" "$IT_TMP/bob/buddyd.sock" "$S/slow.ready" "$S/slow.cmd" \
	>"$S/slow.out" 2>"$S/slow.err" &
SLOW_PID=$!
BG_PIDS+=("$SLOW_PID")
expect_line "$SLOW_READY_FD" "subscribed" "the slow watcher (a python3 socket) is subscribed and reads no more"

M7=$(log_mark)
PREFIX=$(head -c "$FLOOD_TEXT" /dev/zero | tr '\0' 'F')
T_FLOOD=$(date +%s%N)
"$PYTHON3" "$HELPER" flood "$IT_TMP/alice/buddyd.sock" run "$FLOOD_N" 4 "$PREFIX" "$FLOOD_RATE" \
	>"$S/flood.json" 2>"$S/flood.err" &
FLOOD_PID=$!
BG_PIDS+=("$FLOOD_PID")
# bob's daemon answers while the events pour in
MAX_MS=0
PROBES=0
while kill -0 "$FLOOD_PID" 2>/dev/null && [ "$PROBES" -lt 50 ]; do
	t=$(date +%s%N)
	as bob
	bud status
	[ "$RC" = 0 ] || break
	t=$(ms_since "$t")
	[ "$t" -gt "$MAX_MS" ] && MAX_MS=$t
	PROBES=$((PROBES + 1))
done
expect_rc 0 "bob's buddy status answers during the flood ($PROBES times, the slowest in $MAX_MS ms)"
bg_wait "$FLOOD_PID"
expect_eq "$BG_RC" 0 "the flood client ran without an error"
echo "#   (alice stored $FLOOD_N check-ins in $(ms_since "$T_FLOOD") ms)"
expect_json "$S/flood.json" '[d["ok"], d["errors"], d["shared_with"]]' "[$FLOOD_N, [], [\"bob\"]]" \
	"alice's daemon stored all $FLOOD_N check-ins, each shared with bob"
wait_synced alice bob "every flood check-in reaches bob" 40
echo "#   (flood to bob: $(ms_since "$T_FLOOD") ms)"
if wait_until 10 log_has "$M7" "watcher"; then
	ok "the daemon's log says a watcher was dropped"
else
	not_ok "the daemon's log says a watcher was dropped"
fi
log_since "$M7" | grep -a -i 'watcher' | sed 's/^/#   log: /'
check "... a line saying it was dropped" grep -q -i -E "watcher.*drop" <(log_since "$M7")
expect_eq "$(log_since "$M7" | grep -a -c -i 'watcher')" 1 "... one watcher only (the slow one)"
flood_seen() {
	[ "$(grep -c '"kind":"checkin"' "$S/watch.flood.out")" -ge "$FLOOD_N" ]
}
wait_until 20 flood_seen
expect_eq "$(grep '"kind":"checkin"' "$S/watch.flood.out" | grep -c -F "$PREFIX-")" "$FLOOD_N" \
	"the normal watcher got every one of the $FLOOD_N check-in events"
check "the normal watcher is still running" kill -0 "$WF_PID"
printf 'drain\n' >&"$SLOW_CMD_FD"
bg_wait "$SLOW_PID"
expect_eq "$BG_RC" 0 "the slow watcher's script ran"
echo "#   slow watcher: $(cat "$S/slow.out")"
EVENT_BYTES=$(python3 -c 'import sys; print(sum(len(l) for l in open(sys.argv[1], encoding="utf-8")))' "$S/watch.flood.out")
expect_json "$S/slow.out" 'd["eof"]' true "bob's daemon closed the slow watcher's connection"
expect_json "$S/slow.out" "d['bytes'] < $EVENT_BYTES" true \
	"... after it had sent it only part of the events (of some $EVENT_BYTES bytes as JSON)"
check "bob's buddyd is still running" alive bob
t=$(date +%s%N)
as bob
bud status
expect_rc 0 "bob's buddyd answers buddy status after the flood ($(ms_since "$t") ms)"

# ---- the end ----

stop_all alice bob
bg_wait "$WF_PID"
expect_eq "$BG_RC" 1 "the normal watcher ends when bob's daemon stops"
no_open_handles
echo "# notify_test took $(ms_since "$T0") ms"
finish
