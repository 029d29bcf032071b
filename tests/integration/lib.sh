# Shared helpers for the integration scripts (cli_test.sh, crash_test.sh). Source it; it is not
# meant to run on its own. Bash only.
#
# Environment (set by ctest; see CMakeLists.txt):
#   BUDDY               path to the buddy CLI
#   BUDDYD              path to buddyd
#   BUDDY_FIXTURES_DIR  the shared fixtures (jrnl exports, ...)
#   BUDDY_IT_KEEP=1     keep the temporary directory for a post-mortem (path printed at exit)
#   BUDDY_IT_TIMEOUT    seconds one CLI command, or a daemon's start, may take before it counts
#                       as hung (default 60)
# Needs bash, python3 (JSON checks), coreutils (timeout, base64, stat), iconv, GNU grep.
#
# What it gives:
#   a private temporary directory $IT_TMP (mktemp -d) holding every buddy home, log and scratch
#   file; HOME and XDG_DATA_HOME point inside it, so the user's real home is never touched;
#   use_home DIR               export BUDDY_HOME=DIR
#   start_daemon [ARGS]        start $BUDDYD in the background and wait for "ready" on --ready-fd
#                              (a fifo: no sleeps, no polling); sets DAEMON_PID; returns non-zero
#                              with DAEMON_RC set when the daemon exited instead
#   stop_daemon                SIGTERM, then wait for the pid; sets STOP_RC (and returns it)
#   run CMD...                 run a command: stdout in $OUT, stderr in $ERR, exit code in $RC
#   bud ARGS...                run "$BUDDY" ARGS (via run)
#   ok/not_ok DESC             count one result, printing "ok - DESC" or "not ok - DESC"
#   check DESC CMD...          ok when CMD succeeds
#   expect_rc N DESC           ok when the last run's exit code is N (prints diagnostics if not)
#   expect_out_has S DESC      ok when the last run's stdout contains S (fixed string)
#   expect_err_has S DESC      the same for stderr
#   json_ok FILE DESC          ok when FILE is one valid JSON document (python3 -m json.tool)
#   pyjson FILE EXPR           evaluate a python expression over d = json.load(FILE); prints it
#   finish                     print "N passed, N failed" and exit (non-zero on failures)
# shellcheck shell=bash

set -u

abspath() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "$1" ;;
	esac
}

if [ -z "${BUDDY:-}" ] || [ -z "${BUDDYD:-}" ]; then
	echo "Bail out! set BUDDY and BUDDYD to the buddy and buddyd binaries" >&2
	exit 2
fi
BUDDY=$(abspath "$BUDDY")
BUDDYD=$(abspath "$BUDDYD")
if [ ! -x "$BUDDY" ] || [ ! -x "$BUDDYD" ]; then
	echo "Bail out! $BUDDY or $BUDDYD is not an executable" >&2
	exit 2
fi
if [ -z "${BUDDY_FIXTURES_DIR:-}" ]; then
	BUDDY_FIXTURES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../shared/fixtures" 2>/dev/null && pwd)
fi
export BUDDY BUDDYD BUDDY_FIXTURES_DIR
IT_TIMEOUT=${BUDDY_IT_TIMEOUT:-60}

# python3 (for JSON checks) resolved before HOME moves: a pyenv shim may look for ~/.pyenv
PYTHON3=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || {
	echo "Bail out! python3 is needed for the JSON checks" >&2
	exit 2
}
python3() { "$PYTHON3" "$@"; }

# A short base directory keeps the socket path (sun_path, 108 bytes) short enough.
IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/buddy-it.XXXXXX") || {
	echo "Bail out! mktemp -d failed" >&2
	exit 2
}
chmod 700 "$IT_TMP"
mkdir -p "$IT_TMP/userhome" "$IT_TMP/xdg" "$IT_TMP/logs" "$IT_TMP/scratch"
export HOME="$IT_TMP/userhome"
# every test starts its daemons itself (ports, flags, valgrind): the CLI must never start one
# on its own behind a test's back (a test of that unsets it)
export BUDDY_NO_START=1
export XDG_DATA_HOME="$IT_TMP/xdg"
export BUDDY_HOME="$IT_TMP/xdg/buddy"
unset BUDDY_TEST_CLOCK
# one log file for every daemon of the run: stderr and stdout
DAEMON_LOG="$IT_TMP/logs/daemon.log"
: >"$DAEMON_LOG"
# every CLI command's stderr is appended here too, for the sanitizer scan at the end
CLI_ERRLOG="$IT_TMP/logs/cli-stderr.log"
: >"$CLI_ERRLOG"
OUT="$IT_TMP/out"
ERR="$IT_TMP/err"
: >"$OUT"
: >"$ERR"
RC=0
PASSED=0
FAILED=0
DAEMON_PID=""
DAEMON_RC=""
STOP_RC=""
IT_PIDS=()  # every daemon started, for the cleanup
BG_PIDS=()  # background helpers a script registers, for the cleanup
FIFO_SEQ=0

# forget_pid PID: drop a reaped pid from IT_PIDS and BG_PIDS (the kernel may reuse it)
forget_pid() {
	local p keep=()
	for p in "${IT_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	IT_PIDS=("${keep[@]}")
	keep=()
	for p in "${BG_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	BG_PIDS=("${keep[@]}")
}

cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${BG_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${IT_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${BG_PIDS[@]}" "${IT_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "${BUDDY_IT_KEEP:-0}" = 1 ]; then
		echo "# kept $IT_TMP"
	else
		rm -rf -- "$IT_TMP"
	fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT TERM

use_home() {
	export BUDDY_HOME="$1"
}

# ---- results ----

ok() {
	PASSED=$((PASSED + 1))
	printf 'ok - %s\n' "$1"
}

not_ok() {
	FAILED=$((FAILED + 1))
	printf 'not ok - %s\n' "$1"
}

# diag TEXT: a comment line (or lines) for a failure
diag() {
	printf '%s\n' "$@" | sed 's/^/#   /'
}

diag_last_run() {
	diag "command: ${LAST_CMD:-?}" "exit code: $RC"
	if [ -s "$OUT" ]; then
		diag "stdout:"
		head -c 1500 "$OUT" | sed 's/^/#     /'
		echo
	fi
	if [ -s "$ERR" ]; then
		diag "stderr:"
		head -c 1500 "$ERR" | sed 's/^/#     /'
		echo
	fi
}

check() {
	local desc="$1"
	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "failed: $*"
	fi
}

finish() {
	scan_sanitizer_reports
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ]; then
		exit 1
	fi
	exit 0
}

# ASan/UBSan/LSan write to stderr: of the CLI (collected in $CLI_ERRLOG) and of the daemons.
scan_sanitizer_reports() {
	local re='Sanitizer|runtime error:|^==[0-9]+==ERROR'
	if grep -a -q -E "$re" "$CLI_ERRLOG" "$DAEMON_LOG" 2>/dev/null; then
		not_ok "no sanitizer reports in the stderr of buddy or buddyd"
		grep -a -h -E -B2 -A25 "$re" \
			"$CLI_ERRLOG" "$DAEMON_LOG" | head -n 120 | sed 's/^/#   /'
	else
		ok "no sanitizer reports in the stderr of buddy or buddyd"
	fi
}

# ---- running commands ----

# run CMD...: stdout -> $OUT, stderr -> $ERR, exit code -> $RC. Stdin is inherited, so
# `run ... <file` and `printf x | run ...` work. A command that hangs is killed after
# $IT_TIMEOUT seconds (exit code 124). It runs without a controlling terminal (setsid), so a
# passphrase prompt on /dev/tty fails at once instead of waiting for a person.
run() {
	LAST_CMD="$*"
	timeout -k 5 "$IT_TIMEOUT" setsid -w "$@" >"$OUT" 2>"$ERR"
	RC=$?
	cat "$ERR" >>"$CLI_ERRLOG"
	return 0
}

bud() {
	run "$BUDDY" "$@"
}

expect_rc() {
	local want="$1" desc="$2"
	if [ "$RC" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc (exit code $RC, expected $want)"
		diag_last_run
	fi
}

# expect_rc_not N DESC: the exit code is anything but N
expect_rc_not() {
	local bad="$1" desc="$2"
	if [ "$RC" != "$bad" ]; then
		ok "$desc"
	else
		not_ok "$desc (exit code $RC)"
		diag_last_run
	fi
}

expect_out_has() {
	if grep -q -F -e "$1" "$OUT"; then
		ok "$2"
	else
		not_ok "$2 (stdout lacks \"$1\")"
		diag_last_run
	fi
}

expect_out_lacks() {
	if ! grep -q -F -e "$1" "$OUT"; then
		ok "$2"
	else
		not_ok "$2 (stdout has \"$1\")"
		diag_last_run
	fi
}

expect_err_has() {
	if grep -q -i -F -e "$1" "$ERR"; then
		ok "$2"
	else
		not_ok "$2 (stderr lacks \"$1\")"
		diag_last_run
	fi
}

# expect_eq GOT WANT DESC
expect_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:      $1" "expected: $2"
	fi
}

json_ok() {
	if python3 -m json.tool "$1" >/dev/null 2>"$IT_TMP/json.err"; then
		ok "$2"
	else
		not_ok "$2 (not valid JSON)"
		diag "$(cat "$IT_TMP/json.err")"
		head -c 800 "$1" | sed 's/^/#     /'
		echo
	fi
}

# pyjson FILE EXPR: prints the value of the python expression EXPR, where d is the document.
# Strings print bare, everything else as JSON. Exit status 1 when the file is not JSON.
pyjson() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        d = json.load(f)
except Exception as e:
    print("JSON error: %s" % e)
    sys.exit(1)
v = eval(sys.argv[2], {"d": d, "json": json})
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
EOF
}

# expect_json FILE EXPR WANT DESC: pyjson FILE EXPR prints WANT
expect_json() {
	local got
	got=$(pyjson "$1" "$2" 2>&1)
	if [ "$got" = "$3" ]; then
		ok "$4"
	else
		not_ok "$4"
		diag "expression: $2" "got:      $got" "expected: $3"
	fi
}

# ---- files ----

# file_mode PATH: the permission bits, like 600
file_mode() {
	stat -c '%a' -- "$1"
}

# ---- daemons ----

# daemon_spawn ARGS...: starts $BUDDYD ARGS --ready-fd 3 for the current BUDDY_HOME with fd 3
# on a fresh fifo, then blocks reading the fifo: "ready" means serving; end of file means the
# daemon exited (or closed the descriptor) without being ready. Sets SPAWN_PID and, when not
# ready, SPAWN_RC (after waiting for the pid); returns 0 when ready.
daemon_spawn() {
	local fifo line=""
	FIFO_SEQ=$((FIFO_SEQ + 1))
	fifo="$IT_TMP/ready.$FIFO_SEQ"
	mkfifo -m 600 "$fifo" || return 1
	# never the default port 7654: tests run in parallel, and next to a real buddyd
	local listen=(--listen 127.0.0.1:0) a
	for a in "$@"; do
		[ "$a" = --listen ] && listen=()
	done
	echo "=== $(date '+%T') buddyd $* ${listen[*]} (home $BUDDY_HOME)" >>"$DAEMON_LOG"
	# opening a fifo for writing blocks until the reader below opens it: no race
	"$BUDDYD" "$@" "${listen[@]}" --ready-fd 3 3>"$fifo" >>"$DAEMON_LOG" 2>&1 &
	SPAWN_PID=$!
	IT_PIDS+=("$SPAWN_PID")
	# the timeout is only a safety net against a daemon that hangs before it is ready
	IFS= read -r -t "$IT_TIMEOUT" line <"$fifo"
	if [ $? -gt 128 ]; then
		echo "# buddyd (pid $SPAWN_PID) was not ready after $IT_TIMEOUT s: killing it"
		kill -KILL "$SPAWN_PID" 2>/dev/null
		line=""
	fi
	rm -f "$fifo"
	SPAWN_RC=""
	if [ "$line" = ready ]; then
		return 0
	fi
	wait "$SPAWN_PID"
	SPAWN_RC=$?
	forget_pid "$SPAWN_PID"
	return 1
}

start_daemon() {
	if daemon_spawn "$@"; then
		DAEMON_PID=$SPAWN_PID
		DAEMON_RC=""
		return 0
	fi
	DAEMON_PID=""
	DAEMON_RC=$SPAWN_RC
	echo "# buddyd did not become ready (exit code $DAEMON_RC); its log ends:"
	tail -n 5 "$DAEMON_LOG" | sed 's/^/#   /'
	return 1
}

stop_daemon() {
	STOP_RC=""
	if [ -z "$DAEMON_PID" ]; then
		return 1
	fi
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID"
	STOP_RC=$?
	forget_pid "$DAEMON_PID"
	DAEMON_PID=""
	return "$STOP_RC"
}

# kill9_daemon: SIGKILL, then reap it, so nothing of it (socket, lock, files) is left open
kill9_daemon() {
	if [ -z "$DAEMON_PID" ]; then
		return 1
	fi
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	forget_pid "$DAEMON_PID"
	DAEMON_PID=""
	return 0
}

# new_home NAME PASSFILE|- : creates $IT_TMP/NAME with `buddy init --kdf interactive`
# (with --passphrase-file PASSFILE, or --no-passphrase for "-") and makes it current.
new_home() {
	use_home "$IT_TMP/$1"
	if [ "$2" = - ]; then
		bud init --kdf interactive --no-passphrase
	else
		bud init --kdf interactive --passphrase-file "$2"
	fi
}
