#!/usr/bin/env bash
# Runs buddy's benchmarks against a Release build and prints the figures (never pass/fail).
# Usage: tests/bench/run.sh [BUILD_DIR]   (default: build-bench, configured here)
# Everything happens in temporary homes under $TMPDIR (default /tmp): the disk measured is the
# one behind it.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
b=$PWD/$build
bench=$b/tests/bench
work=$(mktemp -d "${TMPDIR:-/tmp}/buddy-bench.XXXXXX")
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), $(uname -r)"

echo "== store: durable appends/s (tests/bench/bench_store.c)"
"$bench/bench_store" "$work"

echo "== buddy checkin: process start to exit, entry durable (tests/bench/bench_exec.c)"
export BUDDY_HOME=$work/checkin
"$b/buddy" init --no-passphrase >/dev/null 2>&1
mkfifo "$work/ready"
"$b/buddyd" --listen 127.0.0.1:0 --ready-fd 3 --log-level error 3>"$work/ready" &
daemon=$!
read -r _ <"$work/ready"
echo "idle daemon RSS: $(awk '/VmRSS/ {print $2 " KiB"}' /proc/$daemon/status)"
"$b/buddy" commit add run "Run 3 times a week" --weekly 3 >/dev/null
"$bench/bench_exec" 20 "$b/buddy" checkin run --done "warm-up" >/dev/null
"$bench/bench_exec" 500 "$b/buddy" checkin run --done "5 km, felt good" --value 5km
"$bench/bench_exec" 500 "$b/buddy" status
kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=

for n in 100000 1000000; do
  echo "== daemon with $n entries: start time and RSS (tests/bench/bench_fill.c, bench_start.c)"
  "$bench/bench_fill" "$work/fill-$n" "$n"
  "$bench/bench_start" "$b/buddyd" "$work/fill-$n" 5
  rm -rf "$work/fill-$n"
done

echo "== peer transport: handshakes/s and RSS with 1000 buddies connected (tests/bench/bench_peer.c)"
"$bench/bench_peer" "$b/buddyd" "$work/peer"

echo "== share streams: 100,000 posts queued while bob was away, bob's start to the last ack (tests/bench/bench_sync.c)"
"$bench/bench_sync" "$b/buddyd" "$b/buddy" "$work/sync" 100000

echo "== notifications: buddy checkin on alice to the event at bob's watcher, 1,000 check-ins (tests/bench/bench_notify.c)"
"$bench/bench_notify" "$b/buddyd" "$b/buddy" "$work/notify" 1000
