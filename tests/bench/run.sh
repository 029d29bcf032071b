#!/usr/bin/env bash
# Runs buddy's benchmarks against a Release build, prints each one's output as it goes, then a
# Markdown table of every figure with its reference, the ratio, and the target of issue #7, met
# or not. Never pass/fail on a number: the exit status says only whether every benchmark ran.
# Usage: tests/bench/run.sh [BUILD_DIR]   (default: build-bench, configured here)
# Everything happens in temporary homes under $TMPDIR (default /tmp): the disk measured is the
# one behind it.
#
# References measured in this same run: crypto_ref (write + fdatasync, XChaCha20-Poly1305,
# X25519, one core) and Hypercore 11 (tests/bench/hypercore: `npm ci` of its pinned
# package-lock.json into the temporary folder, nothing global, then replicate.js and
# append.js). Without node or npm, or when npm cannot install (registry unreachable), it prints
# "Hypercore reference: skipped (why)" and goes on; the table then uses the reference figures
# quoted in the issue, marked "(issue)". No measured value is written in this script: every
# value in the table comes from a "FIGURE NAME VALUE UNIT" line that a benchmark printed in this
# run (kept in $work/figures, NAME prefixed where a benchmark runs more than once).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD/tests/bench
build=${1:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
b=$(cd "$build" && pwd)
bench=$b/tests/bench
work=$(mktemp -d "${TMPDIR:-/tmp}/buddy-bench.XXXXXX")
figures=$work/figures
: >"$figures"
daemon=
hc=
hc_skip=
failures=()
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# run_bench PREFIX COMMAND [ARGS...]: runs one benchmark and shows its output, except its
# FIGURE lines, which go to $figures with PREFIX in front of their names. A benchmark that
# fails is noted (its figures, if any, are kept; its exit status is left in $last_rc) and the
# run goes on.
last_rc=0
run_bench() {
  local prefix=$1 rc
  shift
  set +e
  "$@" | tee "$work/out" | { grep -v '^FIGURE ' || true; }
  rc=${PIPESTATUS[0]}
  set -e
  last_rc=$rc
  awk -v p="$prefix" '$1 == "FIGURE" && NF >= 3 { print "FIGURE", p $2, $3, $4 }' \
    "$work/out" >>"$figures"
  if [ "$rc" -ne 0 ]; then
    echo "!! $(basename "$1") failed (exit $rc)"
    failures+=("$(basename "$1")${prefix:+ ($prefix)} exit $rc")
  fi
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# Hypercore: installs the pinned packages into $work (no global install), or says why not.
hypercore_setup() {
  local h=$src/hypercore
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    hc_skip="node or npm not found"
    return
  fi
  hc=$(mktemp -d "$work/hypercore.XXXXXX")
  cp "$h/package.json" "$h/package-lock.json" "$h/replicate.js" "$h/append.js" "$hc/"
  if ! timeout 600 npm ci --prefix "$hc" --no-audit --no-fund --fetch-retries=1 \
    >"$work/npm.log" 2>&1; then
    hc_skip="npm ci failed, registry unreachable? $(grep -m1 -i 'err' "$work/npm.log" ||
      tail -n1 "$work/npm.log")"
    hc=
    return
  fi
  echo "Hypercore reference: $(cd "$hc" && node -p "'hypercore ' + require('hypercore/package.json').version + ', @hyperswarm/secret-stream ' + require('@hyperswarm/secret-stream/package.json').version + ', node ' + process.version") (npm ci into $hc)"
}

# The JSON of replicate.js or append.js (stdin) as a line for people and FIGURE lines.
hypercore_figures() {
  node -e '
const j = JSON.parse(require("fs").readFileSync(0, "utf8"))
const f = (name, v, unit) => console.log(`FIGURE ${name} ${v} ${unit}`)
const kind = process.argv[1]
if (kind === "replicate") {
  console.log(`hypercore ${j.hypercore} (${j.storage}): ${j.blocks} blocks of ${j.block_bytes} B, ` +
    `connect to all stored at the reader ${j.seconds.toFixed(3)} s = ${j.blocks_per_s.toFixed(0)} blocks/s; ` +
    `peak RSS writer ${j.rss_writer_mib.toFixed(1)} MiB, reader ${j.rss_reader_mib.toFixed(1)} MiB`)
  f("hc_replicate_s", j.seconds.toFixed(4), "s")
  f("hc_replicate_blocks_per_s", j.blocks_per_s.toFixed(0), "/s")
  f("hc_rss_writer_mib", j.rss_writer_mib.toFixed(2), "MiB")
  f("hc_rss_reader_mib", j.rss_reader_mib.toFixed(2), "MiB")
} else {
  console.log(`hypercore ${j.hypercore} (${j.storage}), ${j.block_bytes}-byte blocks: ` +
    `awaited one at a time ${j.single.per_s.toFixed(0)}/s (${j.single.appends}), ` +
    `in batches of 1,000 ${j.batch_1000.per_s.toFixed(0)}/s (${j.batch_1000.appends})`)
  f("hc_append_single_per_s", j.single.per_s.toFixed(0), "/s")
  f("hc_append_batch_1000_per_s", j.batch_1000.per_s.toFixed(0), "/s")
}' "$1"
}
hc_append() { timeout 600 node "$hc/append.js" 10000 200000 "$work" | hypercore_figures append; }
hc_replicate() {
  timeout 600 node "$hc/replicate.js" 100000 "$work" | hypercore_figures replicate
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), $(uname -r); load average $(load)"
load_start=$(load)

echo "== Hypercore reference: install (tests/bench/hypercore)"
hypercore_setup
[ -n "$hc_skip" ] && echo "Hypercore reference: skipped ($hc_skip)"

echo "== raw references: fdatasync, AEAD, X25519 on one core (tests/bench/crypto_ref.c)"
run_bench "" "$bench/crypto_ref" "$work"

echo "== store: durable appends/s (tests/bench/bench_store.c)"
run_bench "" "$bench/bench_store" "$work"

if [ -n "$hc" ]; then
  echo "== Hypercore reference: appends/s, not durable (tests/bench/hypercore/append.js)"
  run_bench "" hc_append
fi

echo "== buddy checkin: process start to exit, entry durable (tests/bench/bench_exec.c)"
export BUDDY_HOME=$work/checkin
"$b/buddy" init --no-passphrase >/dev/null 2>&1
mkfifo "$work/ready"
"$b/buddyd" --listen 127.0.0.1:0 --ready-fd 3 --log-level error 3>"$work/ready" &
daemon=$!
read -r _ <"$work/ready"
idle=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
echo "idle daemon RSS: $idle KiB"
echo "FIGURE idle_rss_kib $idle KiB" >>"$figures"
"$b/buddy" commit add run "Run 3 times a week" --weekly 3 >/dev/null
"$bench/bench_exec" 20 "$b/buddy" checkin run --done "warm-up" >/dev/null
run_bench "" "$bench/bench_exec" -f checkin 500 "$b/buddy" checkin run --done "5 km, felt good" \
  --value 5km
run_bench "" "$bench/bench_exec" -f status 500 "$b/buddy" status
kill "$daemon"
wait "$daemon" 2>/dev/null || true
daemon=
unset BUDDY_HOME

for n in 100000 1000000; do
  echo "== daemon with $n entries: start time and RSS (tests/bench/bench_fill.c, bench_start.c)"
  run_bench "" "$bench/bench_fill" "$work/fill-$n" "$n"
  if [ "$last_rc" -eq 0 ]; then
    run_bench "fill${n}_" "$bench/bench_start" "$b/buddyd" "$work/fill-$n" 5
  else
    echo "!! bench_start not run: the journal of $n entries could not be made"
  fi
  rm -rf "$work/fill-$n"
done

echo "== peer transport: handshakes/s and RSS with 1000 buddies connected (tests/bench/bench_peer.c)"
run_bench "" "$bench/bench_peer" "$b/buddyd" "$work/peer"

if [ -n "$hc" ]; then
  echo "== Hypercore reference: replication of 100,000 blocks over loopback (tests/bench/hypercore/replicate.js)"
  run_bench "" hc_replicate
fi

echo "== share streams: 100,000 posts queued while bob was away, bob's start to the last ack (tests/bench/bench_sync.c)"
run_bench "" "$bench/bench_sync" "$b/buddyd" "$b/buddy" "$work/sync" 100000

echo "== notifications: buddy checkin on alice to the event at bob's watcher, 1,000 check-ins (tests/bench/bench_notify.c)"
run_bench "" "$bench/bench_notify" "$b/buddyd" "$b/buddy" "$work/notify" 1000

# The table. One row a line: label | figure | scale | unit | reference figure | its scale |
# the issue's reference (in the shown unit) | target kind | target | target as shown.
# Target kinds: le, ge (the value against the target), rge (value / reference against the
# target), none. The references of the issue are quoted from it, not measured here.
KIB=0.0009765625
echo
echo "## Benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average at start $load_start, at end $(load)"
echo
awk -F'|' -v kib="$KIB" '
function group(x,    s, out, neg) {
	neg = x < 0; if (neg) x = -x
	s = sprintf("%.0f", x); out = ""
	while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
	return (neg ? "-" : "") s out
}
function num(x) {
	if (x >= 1000 || x <= -1000) return group(x)
	if (x >= 100 || x <= -100) return sprintf("%.0f", x)
	if (x >= 10 || x <= -10) return sprintf("%.1f", x)
	if (x >= 1 || x <= -1) return sprintf("%.2f", x)
	return sprintf("%.3f", x)
}
function show(x, unit) { return unit == "count" ? group(x) : num(x) " " unit }
function margin(v, t) {
	if (t == 0) return v == 0 ? "" : " (" num(v) ")"
	return sprintf(" (%+.0f%% vs target)", (v - t) / t * 100)
}
FILENAME == ARGV[1] { if ($0 ~ /^FIGURE /) { split($0, w, " "); fig[w[2]] = w[3] }; next }
/^[ \t]*$/ { next }
{
	label = $1; key = $2; scale = $3 + 0; unit = $4; rkey = $5; rscale = $6 + 0
	issue = $7; kind = $8; target = $9 + 0; ttext = $10
	if (!(key in fig)) {
		printf "| %s | not measured | | | %s | — |\n", label, ttext == "" ? "—" : ttext
		next
	}
	v = fig[key] * scale
	ref = ""; rtext = "—"
	if (rkey != "" && (rkey in fig)) { ref = fig[rkey] * rscale; rtext = show(ref, unit) }
	else if (issue != "") { ref = issue + 0; rtext = show(ref, unit) " (issue)" }
	ratio = (ref != "" && ref != 0) ? sprintf("%.2fx", v / ref) : "—"
	if (kind == "le") met = (v <= target ? "met" : "NOT met") margin(v, target)
	else if (kind == "ge") met = (v >= target ? "met" : "NOT met") margin(v, target)
	else if (kind == "rge") {
		if (ref == "" || ref == 0) met = "no reference"
		else { r = v / ref; met = (r >= target ? "met" : "NOT met") margin(r, target) }
	} else met = "—"
	printf "| %s | %s | %s | %s | %s | %s |\n", label, show(v, unit), rtext, ratio, \
		ttext == "" ? "—" : ttext, met
}
BEGIN {
	print "| figure | value | reference | ratio | target | met / NOT met |"
	print "|---|---|---|---|---|---|"
}' "$figures" - <<EOF
Sync: 100,000 posts, bob's start to alice's last ack (ref: Hypercore, reader's connect to all stored)|sync_ms|0.001|s|hc_replicate_s|1||le|0.5|<= 0.5 s (>= 200,000 /s)
Sync: posts/s (ref: Hypercore replication, blocks/s)|sync_posts_per_s|1|/s|hc_replicate_blocks_per_s|1|10500|rge|20|>= 20x ref
Sync: bob's RSS once the 100,000 posts are stored|sync_rss_bob_kib|$KIB|MiB||||le|24|<= 24 MiB
Sync: bob's peak RSS (ref: Hypercore reader's peak)|sync_peak_rss_bob_kib|$KIB|MiB|hc_rss_reader_mib|1|180|none||
Sync: alice's peak RSS (ref: Hypercore writer's peak)|sync_peak_rss_alice_kib|$KIB|MiB|hc_rss_writer_mib|1|180|none||
buddy checkin, median (process start to exit)|checkin_median_ms|1|ms||||le|1.5|<= 1.5 ms
buddy status, median|status_median_ms|1|ms||||none||
Store: durable appends one at a time (ref: write 256 B + fdatasync)|store_batch_1_per_s|1|/s|ref_write_fdatasync_256|1|8200|rge|0.6667|>= ref / 1.5
Store: durable appends one at a time (ref: Hypercore append awaited, not durable)|store_batch_1_per_s|1|/s|hc_append_single_per_s|1|4600|none||
Store: group commit, batches of 1,000 (ref: Hypercore batches of 1,000, not durable)|store_batch_1000_per_s|1|/s|hc_append_batch_1000_per_s|1|123000|ge|250000|>= 250,000 /s
Store: group commit, batches of 10,000|store_batch_10000_per_s|1|/s||||ge|250000|>= 250,000 /s
Daemon idle RSS (fresh home)|idle_rss_kib|$KIB|MiB||||le|3|<= 3 MiB
Daemon RSS serving 100,000 journal entries|fill100000_start_rss_kib|$KIB|MiB||||le|24|<= 24 MiB
Daemon start to serving, 100,000 entries|fill100000_start_ms|0.001|s||||none||
Daemon start to serving, 1,000,000 entries|fill1000000_start_ms|0.001|s||||le|1|<= 1 s
Daemon RSS serving 1,000,000 journal entries|fill1000000_start_rss_kib|$KIB|MiB||||none||
Noise XX handshakes served/s (ref: X25519 mults/s, one core)|handshakes_per_s|1|/s|ref_x25519|1|33000|ge|4000|>= 4,000 /s
Handshakes failed|handshakes_failed|1|count||||le|0|0
Buddies connected at once (of 1,000)|sessions_up|1|count||||ge|1000|1,000
Daemon RSS, 1,000 buddies connected|sessions_rss_kib|$KIB|MiB||||le|64|<= 64 MiB
Daemon idle RSS, 1,000 buddies in its journal|peer_idle_rss_kib|$KIB|MiB||||none||
Notification latency p50 (from buddy checkin returning)|notify_p50_ms|1|ms||||le|1|<= 1 ms
Notification latency p99 (from buddy checkin returning)|notify_p99_ms|1|ms||||le|5|<= 5 ms
Notification latency p50 (from buddy checkin starting)|notify_from_start_p50_ms|1|ms||||none||
Raw: write 256 B + fdatasync, one at a time|ref_write_fdatasync_256|1|/s|||8200|none||
Raw: XChaCha20-Poly1305, 256-byte messages, one core|ref_xchacha20poly1305_256|1|/s|||1900000|none||
Raw: X25519 scalar mults, one core|ref_x25519|1|/s|||33000|none||
Hypercore: replication of 100,000 blocks of 200 B|hc_replicate_blocks_per_s|1|/s|||10500|none||
Hypercore: writer's peak RSS|hc_rss_writer_mib|1|MiB|||180|none||
Hypercore: reader's peak RSS|hc_rss_reader_mib|1|MiB|||180|none||
Hypercore: appends awaited one at a time|hc_append_single_per_s|1|/s|||4600|none||
Hypercore: appends in batches of 1,000|hc_append_batch_1000_per_s|1|/s|||123000|none||
EOF
echo
echo "ratio = value / reference. A reference marked (issue) is the figure quoted in issue #7 (its"
echo "machine), used where this run measured none; the others were measured in this run."
[ -n "$hc_skip" ] && echo "Hypercore reference: skipped ($hc_skip)"
if [ "${#failures[@]}" -gt 0 ]; then
  echo "Benchmarks that failed (their figures may be missing or partial): ${failures[*]}"
  exit 1
fi
