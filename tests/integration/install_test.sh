#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the installed files used as a person would:
# the installed buddy and buddyd journal a check-in, buddy starts the installed buddyd on
# demand (once, with four commands racing), the man pages render and document every
# command and option, the bash completion completes commands, options and commitment ids from
# the running daemon, the zsh completion parses, the systemd user unit verifies and points at
# the installed buddyd, and buddyd logs with syslog priorities when stderr is the journal.
# Needs BUDDY_BUILD_DIR (the build tree to install; ctest sets it).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P="$IT_TMP/prefix"
run cmake --install "$BUDDY_BUILD_DIR" --prefix "$P"
expect_rc 0 "cmake --install into a temporary prefix"
for f in bin/buddy bin/buddyd share/man/man1/buddy.1 share/man/man8/buddyd.8 \
	share/bash-completion/completions/buddy share/zsh/site-functions/_buddy \
	share/systemd/user/buddyd.service; do
	check "installed: $f" test -s "$P/$f"
done

# ---- the installed binaries, not the build tree's
BUDDY=$P/bin/buddy
BUDDYD=$P/bin/buddyd
run "$BUDDY" --version
expect_out_has "buddy " "installed buddy --version"
new_home inst -
expect_rc 0 "installed buddy init"
if start_daemon; then ok "installed buddyd starts"; else not_ok "installed buddyd starts"; finish; fi
bud commit add run "Run three times a week" --weekly 3 --tz UTC
expect_rc 0 "commit add"
bud checkin run --done "installed and running"
expect_rc 0 "checkin"
bud journal
expect_out_has "installed and running" "journal shows the check-in"

# ---- man pages: rendered by man, every command and option documented
if command -v man >/dev/null; then
	run man -l "$P/share/man/man1/buddy.1"
	expect_rc 0 "man renders buddy(1)"
	cp "$OUT" "$IT_TMP/buddy.1.txt"
	missing=""
	for c in $("$BUDDY" help --commands); do
		grep -q "^   $c\$" "$IT_TMP/buddy.1.txt" || missing="$missing $c"
		for o in $("$BUDDY" help "$c" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
			grep -q -- "$o" "$IT_TMP/buddy.1.txt" || missing="$missing $c:$o"
		done
	done
	expect_eq "$missing" "" "buddy(1) has a section for every command, naming each of its options"
	run man -l "$P/share/man/man8/buddyd.8"
	expect_rc 0 "man renders buddyd(8)"
	cp "$OUT" "$IT_TMP/buddyd.8.txt"
	missing=""
	for o in $("$BUDDYD" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$o" "$IT_TMP/buddyd.8.txt" || missing="$missing $o"
	done
	expect_eq "$missing" "" "buddyd(8) names every option of buddyd --help"
	check "buddyd(8) documents the config file" grep -q "remind_lead" "$IT_TMP/buddyd.8.txt"
else
	ok "# skip man pages: man is not installed"
fi

# ---- bash completion, against the running daemon
comp() { # comp WORD... : completions for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _buddy
		printf "%s\n" "${COMPREPLY[@]}"' _ "$P/share/bash-completion/completions/buddy" "$@"
}
check "bash: buddy ch<TAB> offers checkin and cheer" \
	test "$(comp "$BUDDY" ch | LC_ALL=C sort | tr '\n' ' ')" = "checkin cheer "
check "bash: buddy checkin <TAB> offers the commitment run" \
	test "$(comp "$BUDDY" checkin '')" = run
check "bash: buddy checkin run --pr<TAB> offers --private" \
	test "$(comp "$BUDDY" checkin run --pr)" = --private
check "bash: buddy commit <TAB> offers the subcommands" \
	test "$(comp "$BUDDY" commit '' | tr '\n' ' ')" = "add list show archive "
if command -v zsh >/dev/null; then
	check "zsh: _buddy parses" zsh -n "$P/share/zsh/site-functions/_buddy"
else
	ok "# skip zsh completion: zsh is not installed"
fi
stop_daemon
expect_eq "$STOP_RC" 0 "installed buddyd stops cleanly"

# ---- on demand: a command that needs buddyd starts the installed one (tmux-like)
# wait_gone PID: until PID has exited (a zombie has: an init that does not reap leaves them),
# at most $IT_TIMEOUT s. The daemon is not this shell's child, so `wait` cannot be used.
wait_gone() {
	local end=$((SECONDS + IT_TIMEOUT)) st
	while st=$(ps -o stat= -p "$1") && [ "${st:0:1}" != Z ] && [ $SECONDS -lt $end ]; do
		:
	done
}
autostart() { # autostart ARGS...: buddy ARGS with starting on demand allowed
	run env -u BUDDY_NO_START "$BUDDY" "$@"
}
new_home auto -
autostart status
expect_rc 3 "status does not start buddyd: exit 3"
expect_err_has "any other buddy command" "... and says that other commands start it"
autostart commit list
expect_rc 0 "commit list with no daemon running: starts one and answers"
expect_err_has "started buddyd for $BUDDY_HOME" "it says it started buddyd, and where its log is"
check "the log is in the home, mode 0600" test "$(file_mode "$BUDDY_HOME/buddyd.log")" = 600
bud status --json
expect_rc 0 "status answers now"
apid=$(pyjson "$OUT" 'd["pid"]')
IT_PIDS+=("$apid")
check "the started buddyd is in a session of its own (not this shell's job)" \
	test "$(ps -o sid= -p "$apid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')"
check "... and no terminal's" test "$(ps -o tty= -p "$apid" | tr -d ' ')" = "?"
check "it runs the buddyd installed next to buddy" \
	test "$(readlink "/proc/$apid/exe")" = "$BUDDYD"
autostart journal
check "a second command finds it running and says nothing about starting" \
	test "$RC" = 0 -a ! -s "$ERR"
kill -TERM "$apid"
wait_gone "$apid"

# four commands at once, no daemon: exactly one starts it, all four are answered
for i in 1 2 3 4; do
	(env -u BUDDY_NO_START "$BUDDY" checkin nosuch --done >"$IT_TMP/par.$i.out" 2>"$IT_TMP/par.$i.err"
		echo $? >"$IT_TMP/par.$i.rc") &
done
wait
rcs=$(cat "$IT_TMP"/par.*.rc | tr '\n' ' ')
starts=$(cat "$IT_TMP"/par.*.err | grep -c "started buddyd")
expect_eq "$rcs" "6 6 6 6 " "4 commands at once with no daemon: each reaches one (exit 6: no such commitment)"
expect_eq "$starts" 1 "... and exactly one of them started it"
expect_eq "$(grep -c 'another buddyd is already running' "$BUDDY_HOME/buddyd.log")" 0 \
	"... no second buddyd was even tried"
bud status --json
apid=$(pyjson "$OUT" 'd["pid"]')
IT_PIDS+=("$apid")
kill -TERM "$apid"
wait_gone "$apid"

run env -u BUDDY_NO_START "$BUDDY" --no-start journal
expect_rc 3 "buddy --no-start journal: exit 3, nothing started"
run env BUDDY_NO_START=1 "$BUDDY" journal
expect_rc 3 "BUDDY_NO_START=1 buddy journal: exit 3"
check "nothing listens on the socket" test ! -S "$BUDDY_HOME/buddyd.sock"

# a daemon that cannot start: the command says so and where to look
printf '[nosuch]\nkey = 1\n' >"$BUDDY_HOME/config"
chmod 600 "$BUDDY_HOME/config"
autostart journal
expect_rc 3 "a buddyd that cannot start (bad config): exit 3"
expect_err_has "did not start; its log, $BUDDY_HOME/buddyd.log, says why" "... naming the log"
check "the log says why" grep -q "nosuch" "$BUDDY_HOME/buddyd.log"
rm "$BUDDY_HOME/config"

# ---- the systemd user unit
unit="$P/share/systemd/user/buddyd.service"
check "the unit starts the installed buddyd" grep -qx "ExecStart=$P/bin/buddyd" "$unit"
if command -v systemd-analyze >/dev/null; then
	# offline verification: syntax, the binary exists, the man pages it names are found
	MANPATH="$P/share/man:" run systemd-analyze verify "$unit"
	expect_rc 0 "systemd-analyze verify buddyd.service"
else
	ok "# skip systemd-analyze verify: systemd is not installed"
fi

# ---- journald: with stderr being the stream JOURNAL_STREAM names, lines carry priorities
log="$IT_TMP/journal-stream.log"
: >"$log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$log") BUDDY_HOME="$IT_TMP/nohome" timeout 20 "$BUDDYD" \
	--listen 127.0.0.1:0 2>>"$log"
check "to the journal: an error line starts with <3> and no 'buddyd:'" grep -q '^<3>no buddy home' "$log"
BUDDY_HOME="$IT_TMP/nohome" timeout 20 "$BUDDYD" --listen 127.0.0.1:0 2>"$log"
check "to a terminal or file: 'buddyd: error:'" grep -q '^buddyd: error: no buddy home' "$log"
finish
