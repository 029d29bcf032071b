#!/usr/bin/env bash
# Pairing and peer sessions (DESIGN.md 5, proto/CONTROL.md invite/accept/buddies/verify/rename/
# revoke): real buddyd processes in four homes (alice, bob, carol, mallory), each listening on
# 127.0.0.1:0 and unlocked, driven through the buddy CLI; hostile peers are raw python3 sockets.
#
# Deterministic: no sleeps. Sessions are awaited with `buddy buddies --wait NAME [--offline]`,
# which answers as soon as the state is reached; the hostile-peer checks measure a drop as an
# upper bound on a blocking read. The only fixed waits assert the absence of an event (a revoked
# buddy that must not come back, `--timeout 3s`).
#
# Exit codes (CONTROL.md "Error codes"): the daemon's code 6 (auth: the inviter refused, or
# another key answered) is the CLI's exit 5; 8 (exists) is exit 7; 1 (invalid) exit 2; 9
# (notfound) exit 6; 3 (io: no address answered) exit 8; 7 (version) and 16 (state) exit 1.
#
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/pair_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# as, dstart (on 127.0.0.1:0, with PASSF[NAME] when set), must_start, dstop, dkill9, alive,
# stop_all, status_json, buddies_json, rpc (debug.clock_advance, through sync_helper.py),
# wait_state, by_name; S, WAIT (20s)
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

ABSENT=3s        # how long we watch for an event that must not happen
HS_LIMIT=10      # BUDDY_PEER_HANDSHAKE_MS / 1000
HS_GRACE=4       # scheduling slack on top of it (ASan builds are slower)
T_START=$(date +%s)

printf 'bob-passphrase-%s\n' "$$" >"$S/bob.pass"
chmod 600 "$S/bob.pass"

# ---- helpers of this script (the daemons' are in peers.sh) ----

# port_of NAME: the port NAME's buddyd listens on, from status "listen" (empty when unknown)
port_of() {
	status_json "$1"
	pyjson "$S/status.$1.json" 'd["listen"][0].rsplit(":", 1)[1] if len(d.get("listen", [])) == 1 else ""'
}

# fpr_of NAME: NAME's identity fingerprint, from status
fpr_of() {
	status_json "$1"
	pyjson "$S/status.$1.json" 'd["fingerprint"]'
}

# safety_number: the 12 groups of 5 digits in the last stdout
safety_number() {
	grep -o -E '([0-9]{5} ){11}[0-9]{5}' "$OUT" | head -n 1
}

# hostile.py PORT LIMIT: hostile peers against 127.0.0.1:PORT, all at once; prints a JSON map
# name -> {how: eof|rst|open|..., t: seconds until dropped, got: bytes received}. LIMIT is the
# upper bound of every blocking read.
cat >"$S/hostile.py" <<'EOF'
import json, random, socket, sys, threading, time

port, limit = int(sys.argv[1]), float(sys.argv[2])
results = {}
lock = threading.Lock()
rng = random.Random(20240607)

def drained(s, t0):
    """Blocks until the peer closes (EOF or reset) or limit seconds after t0."""
    got = 0
    while True:
        left = limit - (time.monotonic() - t0)
        if left <= 0:
            return "open", got
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return "open", got
        except ConnectionResetError:
            return "rst", got
        except OSError as e:
            return "error:%s" % e.__class__.__name__, got
        if not b:
            return "eof", got
        got += len(b)

def one(name, payload):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    connected.wait(timeout=limit)
    how = None
    try:
        if payload:
            s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        how, got = "rst", 0
    if how is None:
        how, got = drained(s, t0)
    s.close()
    with lock:
        results[name] = {"how": how, "t": round(time.monotonic() - t0, 2), "got": got}

def flood(n):
    # the single cases are connected first, so they come first in the accept queue and get
    # handshake slots: the surplus of the unauthenticated-connection limit falls on the flood
    connected.wait(timeout=limit)
    socks, t0 = [], time.monotonic()
    for _ in range(n):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=limit))
    per = [None] * n
    def watch(k):
        how, got = drained(socks[k], t0)
        per[k] = (how, round(time.monotonic() - t0, 2))
        socks[k].close()
    ts = [threading.Thread(target=watch, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    closed = [p for p in per if p[0] in ("eof", "rst")]
    with lock:
        results["flood"] = {
            "how": "eof" if len(closed) == n else "open",
            "t": max(p[1] for p in per),
            "got": 0,
            "closed": len(closed),
            "early": sum(1 for p in per if p[0] in ("eof", "rst") and p[1] < limit / 3),
        }

garbage = bytes(rng.getrandbits(8) for _ in range(4096))
cases = {
    "garbage": garbage,
    "http": b"GET / HTTP/1.1\r\nHost: buddy\r\n\r\n",
    "bigframe": b"\xff\xff" + bytes(range(10)),      # claims 65535 bytes, sends 10, then silence
    "zeroframe": b"\x00\x00",                         # an empty handshake message
    "slowloris": b"\x00",                             # half a length, then silence
    "msg1only": b"\x00\x20" + bytes(rng.getrandbits(8) for _ in range(32)),  # a valid XX msg 1
}
connected = threading.Barrier(len(cases) + 1)
threads = [threading.Thread(target=one, args=(k, v)) for k, v in cases.items()]
threads.append(threading.Thread(target=flood, args=(70,)))
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(results, sort_keys=True))
EOF

# ---- homes and daemons ----

new_home alice -
expect_rc 0 "init alice (no passphrase)"
new_home bob "$S/bob.pass"
expect_rc 0 "init bob (with a passphrase)"
PASSF[bob]="$S/bob.pass"
new_home carol -
expect_rc 0 "init carol"
new_home mallory -
expect_rc 0 "init mallory"

for h in alice bob carol mallory; do
	must_start "$h" "$h's buddyd starts unlocked, listening on 127.0.0.1:0"
done

PORT_A=$(port_of alice)
PORT_B=$(port_of bob)
PORT_C=$(port_of carol)
PORT_M=$(port_of mallory)
check "status \"listen\" gives a resolved port for every daemon ($PORT_A $PORT_B $PORT_C $PORT_M)" \
	test -n "$PORT_A" -a -n "$PORT_B" -a -n "$PORT_C" -a -n "$PORT_M" \
	-a "$PORT_A" != 0 -a "$PORT_B" != 0
if [ -z "$PORT_A" ] || [ -z "$PORT_B" ] || [ -z "$PORT_M" ]; then
	finish
fi
expect_json "$S/status.alice.json" 'd["listen"]' "[\"127.0.0.1:$PORT_A\"]" \
	"alice's status lists exactly the bound address 127.0.0.1:$PORT_A"
expect_json "$S/status.alice.json" 'd["buddies"]' 0 "alice's status says 0 buddies before pairing"
FP_A=$(fpr_of alice)
FP_B=$(fpr_of bob)
FP_C=$(fpr_of carol)
FP_M=$(fpr_of mallory)
check "the four fingerprints are 8 groups of 4 hex digits and distinct" python3 - "$FP_A" "$FP_B" "$FP_C" "$FP_M" <<'EOF'
import re, sys
fps = sys.argv[1:]
sys.exit(0 if all(re.fullmatch(r"[0-9a-f]{4}( [0-9a-f]{4}){7}", f, re.I) for f in fps)
         and len(set(fps)) == 4 else 1)
EOF

# ---- 8. man in the middle: the code's address answers with another key ----

echo "# 8. an invite whose address is mallory's"
as alice
bud invite --name bob --address "127.0.0.1:$PORT_M"
expect_rc 0 "alice makes an invite pointing at mallory's port"
CODE_MITM=$(head -n 1 "$OUT")
as bob
bud accept "$CODE_MITM" --name alice
expect_rc 5 "bob's accept reaching mallory fails (daemon code 6 auth: exit 5)"
expect_err_has "another key" "the message says another key answered"
expect_err_has "interception" "the message mentions interception"
for h in alice bob mallory; do
	buddies_json "$h"
	expect_json "$S/buddies.$h.json" 'len(d)' 0 "after the interception $h recorded nobody"
done

# ---- 1. pairing ----

echo "# 1. pairing alice and bob"
as alice
bud invite --name bob --address "127.0.0.1:$PORT_A"
expect_rc 0 "alice invite --name bob --address 127.0.0.1:$PORT_A"
CODE1=$(head -n 1 "$OUT")
check "the code alone is on stdout, starting with bdy1-" \
	test "$(wc -l <"$OUT")" = 1 -a "${CODE1#bdy1-}" != "$CODE1"
expect_err_has "buddy accept" "invite tells (on stderr) how the buddy accepts"
bud accept "$CODE1" --name bob
expect_rc 2 "alice accepting her own invite exits 2"
expect_err_has "your own invite" "... saying it is her own invite"
as bob
bud accept "$CODE1" --name alice
expect_rc 0 "bob accept CODE --name alice exits 0"
expect_out_has "$FP_A" "bob's accept prints alice's fingerprint"
wait_state alice bob online "alice sees bob online (buddies --wait bob)"
wait_state bob alice online "bob sees alice online (buddies --wait alice)"
buddies_json alice
json_ok "$S/buddies.alice.json" "alice's buddies --json is JSON"
expect_json "$S/buddies.alice.json" '[b["name"] for b in d]' '["bob"]' "alice's buddies: bob"
expect_json "$S/buddies.alice.json" '[(b["online"], b["verified"], b["revoked"]) for b in d]' \
	'[[true, false, null]]' "alice's bob: online, not verified, not revoked"
expect_json "$S/buddies.alice.json" 'd[0]["fingerprint"]' "$FP_B" \
	"alice's bob has bob's fingerprint (from bob's status)"
expect_json "$S/buddies.alice.json" 'len(d[0]["public_key"]) == 64 and int(d[0]["public_key"], 16) >= 0' \
	true "alice's bob has a 64-hex-digit public key"
expect_json "$S/buddies.alice.json" 'd[0]["addresses"]' "[\"127.0.0.1:$PORT_B\"]" \
	"alice knows bob's advertised address 127.0.0.1:$PORT_B"
buddies_json bob
expect_json "$S/buddies.bob.json" '[b["name"] for b in d]' '["alice"]' "bob's buddies: alice"
expect_json "$S/buddies.bob.json" '[(b["online"], b["verified"], b["revoked"]) for b in d]' \
	'[[true, false, null]]' "bob's alice: online, not verified, not revoked"
expect_json "$S/buddies.bob.json" 'd[0]["fingerprint"]' "$FP_A" \
	"bob's alice has alice's fingerprint (from alice's status)"
as bob
bud buddies
expect_rc 0 "bob's plain buddies listing"
expect_out_has "online" "the plain listing shows alice online"

# ---- 11. status after pairing ----

status_json alice
expect_json "$S/status.alice.json" 'd["listen"]' "[\"127.0.0.1:$PORT_A\"]" \
	"alice's status \"listen\" is her bound address"
expect_json "$S/status.alice.json" 'd["buddies"]' 1 "alice's status says 1 buddy"
status_json bob
expect_json "$S/status.bob.json" 'd["buddies"]' 1 "bob's status says 1 buddy"

# ---- 2. safety numbers ----

echo "# 2. verify"
as alice
bud verify bob
expect_rc 0 "alice verify bob"
SN_A=$(safety_number)
as bob
bud verify alice
expect_rc 0 "bob verify alice"
SN_B=$(safety_number)
check "the safety number is 12 groups of 5 digits" test -n "$SN_A"
expect_eq "$SN_B" "$SN_A" "alice and bob see the same safety number"
as alice
bud verify bob --confirm
expect_rc 0 "alice verify bob --confirm"
buddies_json alice
expect_json "$S/buddies.alice.json" 'd[0]["verified"]' true "alice's bob is now verified"
buddies_json bob
expect_json "$S/buddies.bob.json" 'd[0]["verified"]' false "bob's alice is not verified by alice's confirm"
as bob
bud verify alice --confirm
expect_rc 0 "bob verify alice --confirm"
buddies_json bob
expect_json "$S/buddies.bob.json" 'd[0]["verified"]' true "bob's alice is now verified"
as alice
bud verify bob
expect_out_has "Already verified" "verify after --confirm says already verified"
bud verify nobody
expect_rc 6 "verify of an unknown buddy exits 6"

# ---- 4. the used code again ----

echo "# 4. a used code"
as carol
bud accept "$CODE1" --name alice
expect_rc 5 "carol accepting alice's used code (made for bob) is refused (exit 5)"
expect_err_has "refused" "... with a message that the inviter refused"
as bob
bud accept "$CODE1" --name alice2
expect_rc 7 "bob accepting the same code again: already buddies (exit 7)"
expect_err_has "already buddies" "... saying they are already buddies"
as carol
bud accept "$CODE1" --name alice
expect_rc 5 "carol accepting it a second time is refused again (exit 5)"
buddies_json alice
expect_json "$S/buddies.alice.json" '[b["name"] for b in d]' '["bob"]' \
	"alice's buddies are unchanged (bob only)"
buddies_json carol
expect_json "$S/buddies.carol.json" 'len(d)' 0 "carol recorded nobody"

# ---- 6. malformed codes ----

echo "# 6. tampered codes"
BODY=${CODE1#bdy1-}
C10=${BODY:10:1}
if [ "$C10" = a ]; then R10=b; else R10=a; fi
TYPO="bdy1-${BODY:0:10}${R10}${BODY:11}"
as carol
bud accept "$TYPO" --name alice
expect_rc 2 "a code with one base32 character changed exits 2"
expect_err_has "typo" "... and says it has a typo"
expect_err_has "checksum" "... and mentions the checksum"
bud accept "bdy9-$BODY" --name alice
expect_rc 1 "a bdy9- code exits 1 (daemon code 7 version)"
expect_err_has "newer buddy" "... saying it comes from a newer buddy"
bud accept "this-is-not-a-code" --name alice
expect_rc 2 "garbage instead of a code exits 2"
expect_err_has "not an invite code" "... saying it is not an invite code"
bud accept "bdy1-${BODY:0:20}" --name alice
expect_rc 2 "a truncated code exits 2"
bud accept "$(printf '%s' "$CODE1" | tr '[:lower:]' '[:upper:]' | sed 's/^\(.\{9\}\)/\1 - /')" --name alice
expect_rc 5 "the used code in upper case with a space and dash inside still decodes (refused: exit 5)"
bud accept "$CODE1" --name "Not A Name"
expect_rc 2 "accept with an invalid --name exits 2"
buddies_json carol
expect_json "$S/buddies.carol.json" 'len(d)' 0 "carol still has no buddies"

# ---- 9. hostile peers against alice ----

echo "# 9. hostile peers at alice's port $PORT_A (garbage, bad frames, 70 connections, slowloris)"
T9=$(date +%s)
run "$PYTHON3" "$S/hostile.py" "$PORT_A" "$((HS_LIMIT + HS_GRACE))"
expect_rc 0 "the hostile-peer script ran"
cp "$OUT" "$S/hostile.json"
echo "# hostile results: $(cat "$S/hostile.json")"
for c in garbage http bigframe zeroframe slowloris msg1only; do
	expect_json "$S/hostile.json" "d[\"$c\"][\"how\"] in (\"eof\", \"rst\")" true \
		"hostile $c: alice drops the connection within $((HS_LIMIT + HS_GRACE)) s"
done
expect_json "$S/hostile.json" 'd["msg1only"]["got"] > 0' true \
	"a valid XX message 1 gets message 2 before the drop"
expect_json "$S/hostile.json" 'd["flood"]["closed"]' 70 \
	"all 70 simultaneous connections are dropped within the bound"
expect_json "$S/hostile.json" 'd["flood"]["early"] >= 6' true \
	"at least 6 of the 70 are closed at once (64 unauthenticated at most)"
check "alice's buddyd survived the hostile peers" alive alice
wait_state alice bob online "bob is still online at alice after the hostile peers"
wait_state bob alice online "alice is still online at bob after the hostile peers"
as alice
bud status
expect_rc 0 "alice's status still answers"
echo "# hostile-peer section took $(($(date +%s) - T9)) s"

# ---- 3. restarts ----

echo "# 3. restarts"
as alice
bud invite --name unreachable --address "127.0.0.1:$PORT_A"
CODE_DOWN=$(head -n 1 "$OUT")
dstop alice
expect_eq "$STOP_RC" 0 "alice's buddyd stops cleanly on SIGTERM"
wait_state bob alice offline "bob sees alice offline once her buddyd stopped"
as carol
bud accept "$CODE_DOWN" --name alice
expect_rc 8 "accepting while the inviter is down: no address answered (exit 8)"
expect_err_has "could not reach" "... saying the inviter could not be reached"
must_start alice "alice's buddyd starts again (new port)"
PORT_A2=$(port_of alice)
echo "# alice listens on $PORT_A2 now (was $PORT_A)"
wait_state bob alice online "bob sees alice online again: alice redialled bob's advertised address"
wait_state alice bob online "alice sees bob online again"
buddies_json bob
expect_json "$S/buddies.bob.json" 'd[0]["addresses"]' "[\"127.0.0.1:$PORT_A2\"]" \
	"bob learned alice's new address from her hello"
expect_json "$S/buddies.bob.json" 'd[0]["verified"]' true "bob's alice is still verified after the restart"
dkill9 bob
wait_state alice bob offline "alice sees bob offline after kill -9"
must_start bob "bob's buddyd starts again after kill -9"
PORT_B2=$(port_of bob)
wait_state alice bob online "bob is back online at alice"
wait_state bob alice online "alice is back online at bob"
buddies_json alice
expect_json "$S/buddies.alice.json" 'd[0]["addresses"]' "[\"127.0.0.1:$PORT_B2\"]" \
	"alice learned bob's new address"

# ---- 5. an expired invite, refused by the inviter (frozen clock) ----

echo "# 5. expired invite"
dstop alice
expect_eq "$STOP_RC" 0 "alice's buddyd stops for the frozen-clock part"
export BUDDY_TEST_CLOCK
BUDDY_TEST_CLOCK=$(date +%s)
dstart alice
START_RC=$?
unset BUDDY_TEST_CLOCK
if [ "$START_RC" = 0 ]; then
	ok "alice's buddyd starts with BUDDY_TEST_CLOCK"
else
	not_ok "alice's buddyd starts with BUDDY_TEST_CLOCK"
	finish
fi
PORT_A3=$(port_of alice)
as alice
bud invite --name carol --expires 60s --address "127.0.0.1:$PORT_A3"
expect_rc 0 "alice invite --expires 60s"
CODE_EXP=$(head -n 1 "$OUT")
rpc alice debug.clock_advance '{"seconds": 120}'
expect_rc 0 "debug.clock_advance {seconds: 120} on alice's frozen clock"
expect_json "$OUT" 'isinstance(d["result"]["now"], int)' true "... answers {now}"
as carol
bud accept "$CODE_EXP" --name alice
expect_rc 5 "carol (real clock, code not yet expired for her) is refused by alice (exit 5)"
expect_err_has "refused" "... with a message that the inviter refused the code"
buddies_json alice
expect_json "$S/buddies.alice.json" '[b["name"] for b in d]' '["bob"]' "alice recorded no new buddy"
rpc bob debug.clock_advance '{"seconds": 1}'
expect_rc 1 "debug.clock_advance on bob's real clock fails"
expect_json "$OUT" 'd["error"]["code"]' 16 "... with code 16 (state)"
wait_state bob alice online "bob sees the frozen-clock alice online"
dstop alice
must_start alice "alice's buddyd starts again on the real clock"
wait_state alice bob online "bob is online at alice again"

# ---- 10. rename (with a second buddy, carol) ----

echo "# 10. rename"
PORT_A4=$(port_of alice)
as alice
bud invite --name carol --address "127.0.0.1:$PORT_A4"
CODE_C=$(head -n 1 "$OUT")
as carol
bud accept "$CODE_C" --name alice
expect_rc 0 "carol pairs with alice"
expect_out_has "$FP_A" "carol's accept prints alice's fingerprint"
wait_state alice carol online "alice sees carol online"
wait_state carol alice online "carol sees alice online"
status_json alice
expect_json "$S/status.alice.json" 'd["buddies"]' 2 "alice's status says 2 buddies"
as alice
bud rename bob robert
expect_rc 0 "alice rename bob robert"
bud verify robert
expect_rc 0 "alice verify robert works after the rename"
expect_eq "$(safety_number)" "$SN_A" "robert's safety number is bob's"
bud verify bob
expect_rc 6 "verify bob after the rename: not found (exit 6)"
bud rename robert carol
expect_rc 7 "renaming robert to carol (taken) exits 7"
bud rename robert "Bad Name"
expect_rc 2 "renaming to an invalid name exits 2"
bud rename nobody someone
expect_rc 6 "renaming an unknown buddy exits 6"
bud rename robert bob
expect_rc 0 "alice renames robert back to bob"
buddies_json alice
expect_json "$S/buddies.alice.json" 'sorted(b["name"] for b in d)' '["bob", "carol"]' \
	"alice's buddies are bob and carol"
expect_json "$S/buddies.alice.json" "$(by_name bob)[\"online\"]" true \
	"the renamed buddy's session is unaffected (online)"

# ---- 7. revoke ----

echo "# 7. revoke"
as alice
bud revoke bob
expect_rc 0 "alice revoke bob"
wait_state bob alice offline "bob sees alice offline after the revoke"
buddies_json alice
expect_json "$S/buddies.alice.json" "$(by_name bob)[\"revoked\"] is not None" true \
	"alice's buddies show bob revoked"
expect_json "$S/buddies.alice.json" "$(by_name bob)[\"online\"]" false \
	"alice's revoked bob is offline"
status_json alice
expect_json "$S/status.alice.json" 'd["buddies"]' 1 "alice's status counts 1 active buddy"
as alice
bud verify bob
expect_rc 1 "verify of a revoked buddy exits 1 (state)"
bud revoke bob
expect_rc 1 "revoking bob twice exits 1 (revoked already)"
dstop bob
if dstart bob; then
	ok "bob's buddyd restarts (and dials alice)"
else
	not_ok "bob's buddyd restarts (and dials alice)"
fi
as bob
bud buddies --wait alice --timeout "$ABSENT"
expect_rc 1 "bob never comes online with alice after the revoke (--wait alice fails)"
expect_err_has "ended the pairing" "... saying alice ended the pairing (bob's daemon got END)"
buddies_json bob
expect_json "$S/buddies.bob.json" "$(by_name alice)[\"ended_by_them\"]" true \
	"bob's buddies show that alice ended the pairing"
buddies_json alice
expect_json "$S/buddies.alice.json" "$(by_name bob)[\"online\"]" false \
	"alice still shows bob offline"
as alice
bud buddies --wait bob --timeout "$WAIT"
expect_rc 1 "alice's buddies --wait bob fails at once: bob is revoked"
expect_err_has "revoked" "... saying bob was revoked"
wait_state alice carol online "carol stays online at alice through bob's revocation"

# forget: on the fresh pair alice-carol
as alice
bud revoke carol --forget
expect_rc 0 "alice revoke carol --forget"
wait_state carol alice offline "carol sees alice offline after the revoke --forget"
buddies_json alice
expect_json "$S/buddies.alice.json" '[b["name"] for b in d]' '["bob"]' \
	"carol is hidden from alice's buddies (only the revoked bob is listed)"
as alice
bud verify carol
expect_rc 6 "verify carol after --forget: not found (exit 6)"
status_json alice
expect_json "$S/status.alice.json" 'd["buddies"]' 0 "alice's status counts 0 active buddies"

# ---- the end ----

stop_all alice bob carol mallory
echo "# pair_test took $(($(date +%s) - T_START)) s"
finish
