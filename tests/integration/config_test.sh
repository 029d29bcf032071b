#!/usr/bin/env bash
# $BUDDY_HOME/config (issue #8): `buddy config list|get|set|unset` round trip keeping every
# other line and comment, refused values naming the file, line and key with the file left
# untouched, a group-writable file refused, a running daemon reloading on `config set`, and
# SIGHUP: a broken file is logged and the old configuration kept, a good one applied, and the
# daemon never killed by it.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S="$IT_TMP/scratch"

# wait_log PATTERN N: waits (up to 10 s) until the daemon log has at least N lines with PATTERN
wait_log() {
	local i
	for i in $(seq 100); do
		[ "$(grep -c -F -e "$1" "$DAEMON_LOG")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

#######################################################################################
echo "# config without a daemon"

new_home cfg -
C="$BUDDY_HOME/config"
cat >"$C" <<'EOF'
; my buddy settings
[deadlines]
# remind me early
remind_lead = 2h   

[hooks]
; nothing yet
EOF
chmod 600 "$C"

bud config get deadlines.remind_lead
expect_rc 0 "config get exits 0"
expect_eq "$(cat "$OUT")" "2h" "config get prints the file's value"
bud config get peer.idle
expect_eq "$(cat "$OUT")" "90s" "config get prints a default"
bud config get peer.bogus
expect_rc 6 "config get of an unknown key exits 6"
expect_err_has "peer.bogus" "the error names the key"
bud config get hooks.checkin
expect_rc 0 "config get hooks.KIND works"

bud config set deadlines.remind_lead 30m
expect_rc 0 "config set replaces a key"
expect_out_has "not running" "config set says no daemon runs (and starts none)"
check "no daemon was started" test ! -S "$BUDDY_HOME/buddyd.sock"
bud config set hooks.checkin "/bin/echo checked in"
expect_rc 0 "config set adds a key to an existing section"
bud config set peer.idle 60s
expect_rc 0 "config set adds a section"
bud config set discovery.enabled no
cat >"$S/want1" <<'EOF'
; my buddy settings
[deadlines]
# remind me early
remind_lead = 30m

[hooks]
; nothing yet
checkin = /bin/echo checked in

[peer]
idle = 60s

[discovery]
enabled = no
EOF
check "set keeps every other line and comment" cmp -s "$C" "$S/want1"
[ "$FAILED" = 0 ] || diff "$S/want1" "$C" | sed 's/^/#   /'
check "the file stays 0600" test "$(file_mode "$C")" = 600

bud config list
expect_rc 0 "config list exits 0"
expect_out_has "deadlines.remind_lead = 30m" "list shows a set value"
expect_out_has "peer.ping = 30s  (default)" "list marks defaults"
expect_out_has "daemon.log_level = info  (default)" "list shows daemon.log_level"
expect_out_has "peer.listen = " "list shows peer.listen"
bud config list --json
json_ok "$OUT" "config list --json is JSON"
expect_json "$OUT" '[k["source"] for k in d if k["key"] == "peer.idle"][0]' file "--json: source file"
expect_json "$OUT" '[k["value"] for k in d if k["key"] == "hooks.checkin"][0]' "/bin/echo checked in" \
	"--json: a hook's value"
expect_json "$OUT" '[k["source"] for k in d if k["key"] == "peer.ping"][0]' default "--json: source default"

bud config unset discovery.enabled
expect_rc 0 "config unset exits 0"
bud config get discovery.enabled
expect_eq "$(cat "$OUT")" "yes" "unset brings the default back"
bud config unset hooks.checkin
check "unset removes only the key's line" \
	sh -c "! grep -q checkin '$C' && grep -q '^; nothing yet' '$C' && grep -q '^idle = 60s' '$C'"
bud config unset hooks.note
expect_rc 0 "unset of a key not in the file is fine"

echo "# refused values"
cp "$C" "$S/before"
bud config set peer.ping 2h
expect_rc 2 "a bad value exits 2"
expect_err_has "$C:" "the error names the file"
expect_err_has "ping: \"2h\" is not a duration" "the error names the key and why"
LINE=$(grep -n '^idle' "$C" | cut -d: -f1)
expect_err_has "$C:$((LINE + 1)): ping" "the error names the line"
check "the file is unchanged after a refused value" cmp -s "$C" "$S/before"
bud config set peer.ping 90s
expect_rc 2 "ping not shorter than idle is refused"
check "the file is unchanged" cmp -s "$C" "$S/before"
bud config set peer.listen "127.0.0.1:99999"
expect_rc 2 "a bad listen address is refused"
expect_err_has "listen: \"127.0.0.1:99999\" is not HOST:PORT" "the listen error names the key"
bud config set peer.advertise "192.0.2.1:0"
expect_rc 2 "an advertised port 0 is refused"
bud config set daemon.log_level loud
expect_rc 2 "a bad log level is refused"
expect_err_has "log_level: \"loud\"" "the log level error names the key"
bud config set hooks.checkin "relative/prog"
expect_rc 2 "a relative hook is refused"
check "the file is still unchanged" cmp -s "$C" "$S/before"
check "no temporary file is left" sh -c "! ls -A '$BUDDY_HOME' | grep -q '^\.config\.'"
bud config set peer.listen "127.0.0.1:0 [::1]:0"
expect_rc 0 "listen addresses are accepted"
bud config get peer.listen
expect_eq "$(cat "$OUT")" "127.0.0.1:0 [::1]:0" "get prints the listen addresses"
bud config unset peer.listen

chmod 620 "$C"
bud config set peer.idle 70s
expect_rc 2 "a group-writable file is refused"
expect_err_has "writable by group or others" "the error says why"
check "the group-writable file is unchanged" cmp -s "$C" "$S/before"
chmod 600 "$C"

#######################################################################################
echo "# reload while the daemon runs"

if start_daemon; then
	ok "buddyd starts with the config"
else
	not_ok "buddyd starts with the config"
	finish
fi
bud config set daemon.log_level debug
expect_rc 0 "config set with a daemon running exits 0"
expect_out_has "reloaded" "config set reports the reload"
expect_out_has "daemon.log_level" "the reload reports the changed key"
bud status
check "the new log level is applied at once (a debug line appears)" wait_log "control: status" 1

echo "# SIGHUP"
cp "$C" "$S/good"
printf '[peer]\nidle = 60s\n[daemon]\nlog_level = debug\nbogus = 1\n' >"$C"
kill -HUP "$DAEMON_PID"
check "a broken config on SIGHUP is logged with file, line and key" \
	wait_log "configuration not reloaded, the old one is kept: $C:5: bogus: unknown setting" 1
check "buddyd is alive after SIGHUP" kill -0 "$DAEMON_PID"
bud status
expect_rc 0 "buddyd answers after a SIGHUP with a broken config"
check "the old configuration is kept (debug still on)" wait_log "control: status" 2
bud config get peer.idle
expect_rc 2 "config get refuses the broken file"
expect_err_has "$C:5: bogus" "and names its line and key"

cp "$S/good" "$C"
chmod 600 "$C"
bud config set daemon.log_level info
expect_out_has "daemon.log_level" "config set reports the change"
N=$(grep -c -F "control: status" "$DAEMON_LOG")
bud status
sleep 0.3
expect_eq "$(grep -c -F "control: status" "$DAEMON_LOG")" "$N" "log level info: no debug line"
bud config set daemon.log_level debug
printf '[daemon]\nlog_level = info\n[deadlines]\nremind_lead = 1h\n' >"$C"
chmod 600 "$C"
kill -HUP "$DAEMON_PID"
check "a good config on SIGHUP is applied" wait_log "configuration: deadlines.remind_lead changed" 1
check "buddyd is still alive after the second SIGHUP" kill -0 "$DAEMON_PID"
N=$(grep -c -F "control: status" "$DAEMON_LOG")
bud status
sleep 0.3
expect_eq "$(grep -c -F "control: status" "$DAEMON_LOG")" "$N" "SIGHUP applied log_level = info"
for i in 1 2 3; do kill -HUP "$DAEMON_PID"; done
sleep 0.3
check "buddyd survives SIGHUPs in a row" kill -0 "$DAEMON_PID"
stop_daemon
expect_eq "$STOP_RC" 0 "buddyd stops cleanly after SIGHUPs"

finish
