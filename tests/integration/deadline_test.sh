#!/usr/bin/env bash
# The accountability engine (issue 5 "Deadlines", DESIGN.md 7; daemon/deadlines.c): two real
# daemons (alice, bob) on the test clock (BUDDY_TEST_CLOCK, moved only by debug.clock_advance),
# paired, alice sharing commitments with bob. Bob's daemon decides "missed" on its own; alice's
# reminds her. What each daemon recorded is read from its inbox (control method `inbox`, through
# tests/integration/sync_helper.py's MessagePack-RPC client).
#
#   1. a weekly-3 commitment with 2 check-ins: exactly one miss, recorded at the period's end
#      plus the grace hour and not one second before; alice reminded once, 3 h before the end
#      (also a daily one: reminded once, not after checking in, not when checked in early)
#   2. a daily commitment in America/New_York across the DST change of 2027-03-14 (a 23-hour
#      day; a check-in at 04:30Z on 03-15 is 00:30 EDT, so it counts for the 15th)
#   3. a pause (alice's `buddy pause`): its periods are neither reminded nor missed
#   4. a late delivery: alice checks in before the end while bob is down; bob, back and past the
#      grace, records the miss; alice's queued check-in then arrives: "late" (the miss stays);
#      both survive a restart of bob without being recorded again
#   5. a daily commitment in Europe/Berlin across the DST change of 2027-03-28 (a check-in at
#      22:30Z on 03-28 is 00:30 CEST on the 29th)
#   6. bob's daemon down for 100 days: on its return only the last 60 periods are judged
#
# Both clocks move together (a stopped daemon is restarted at the other's time). The timer of the
# engine is never waited for: the clock only moves through debug.clock_advance, which evaluates
# before it answers. No sleeps; session states are awaited with `buddy buddies --wait`, delivery
# with a bounded poll of `buddy status --json`.
#
# Run: BUDDY=build/buddy BUDDYD=build/buddyd bash tests/integration/deadline_test.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# as, dstart, must_start, dstop, alive, rpc, wait_state, pair, sync_of, synced, wait_until,
# wait_synced, entry_no, read_ports, init_homes, no_open_handles; S, HELPER, WAIT (20s),
# SYNC_S (20)
# shellcheck source=peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

GRACE=3600 # BUDDY_MISS_GRACE_S
LEAD=10800 # BUDDY_REMIND_LEAD_S

# utc YYYY-MM-DDTHH:MM:SS: Unix seconds
utc() {
	date -u -d "$1Z" +%s
}

# ---- daemons (peers.sh) ----

# dstart runs this first: every daemon starts on the test clock at $NOW
dstart_prepare() {
	export BUDDY_TEST_CLOCK="$NOW"
}

# ---- the clock ----

# adv_to T: both running daemons' clocks to T (Unix seconds), never backwards
adv_to() {
	local target="$1" who got
	if [ "$target" -lt "$NOW" ]; then
		not_ok "the test moves the clock forward only ($NOW -> $target)"
		return
	fi
	for who in alice bob; do
		alive "$who" || continue
		rpc "$who" debug.clock_advance "{\"seconds\": $((target - NOW))}"
		got=$(pyjson "$OUT" "d['result']['now']" 2>/dev/null)
		if [ "$RC" != 0 ] || [ "$got" != "$target" ]; then
			not_ok "$who's clock moves to $target"
			diag_last_run
		fi
	done
	NOW=$target
}

adv() {
	adv_to $((NOW + $1))
}

# ---- the inbox ----

inbox() {
	rpc "$1" inbox '{"all": true, "limit": 1000}'
	cp "$OUT" "$S/inbox.$1.json"
}

# evq KIND COMMIT FIELDS: a python expression: the sorted FIELDS of KIND events on COMMIT
evq() {
	printf "sorted([%s] for e in d['result']['events'] if e['kind'] == '%s' and e.get('commit') == '%s')" \
		"$3" "$1" "$2"
}

# expect_ev WHO KIND COMMIT WANT DESC: WHO's KIND events on COMMIT have these [start, end]
expect_ev() {
	inbox "$1"
	expect_json "$S/inbox.$1.json" "$(evq "$2" "$3" "e['period_start'], e['period_end']")" "$4" "$5"
}

# expect_ev_at WHO KIND COMMIT WANT DESC: ... recorded at these times ([time, start, end])
expect_ev_at() {
	inbox "$1"
	expect_json "$S/inbox.$1.json" "$(evq "$2" "$3" "e['time'], e['period_start'], e['period_end']")" "$4" "$5"
}

# ---- homes, daemons, pairing ----

read_ports PA PB
PORT[alice]=$PA
PORT[bob]=$PB
init_homes alice bob

NOW=$(utc 2027-03-01T10:00:00) # a Monday
must_start alice "alice's buddyd starts on the test clock"
must_start bob "bob's buddyd starts on the test clock"

pair alice bob

rpc alice debug.clock_advance '{"seconds": -1}'
expect_rc_not 0 "debug.clock_advance refuses to move the clock backwards"

# ---- 1. weekly 3 with 2 check-ins; reminders ----

echo "# 1. a weekly-3 commitment with 2 check-ins; reminders"
as alice
bud commit add gym "Gym" --weekly 3 --tz UTC
expect_rc 0 "alice: commit add gym --weekly 3 --tz UTC"
bud share gym --with bob
expect_rc 0 "alice shares gym with bob"
bud checkin gym --done "one"
expect_rc 0 "alice checks in on gym (1 of 3)"
adv 3600
as alice
bud checkin gym --done "two"
expect_rc 0 "alice checks in on gym (2 of 3)"
bud commit add water "Water" --daily --tz UTC
expect_rc 0 "alice: commit add water --daily --tz UTC (not shared)"
wait_synced alice bob "bob has alice's gym commitment and both check-ins"

W1=$(utc 2027-03-01T00:00:00)
W2=$(utc 2027-03-08T00:00:00)
D2=$(utc 2027-03-02T00:00:00)
D3=$(utc 2027-03-03T00:00:00)
D4=$(utc 2027-03-04T00:00:00)

adv_to $((D3 - LEAD - 1))
expect_ev alice reminder water "[]" "no reminder for water on 03-02 at 20:59:59 (3 h + 1 s before the end)"
adv 1
expect_ev_at alice reminder water "[[$((D3 - LEAD)), $D2, $D3]]" \
	"alice is reminded of water at 21:00:00, 3 h before the day ends"
adv 3600
expect_ev alice reminder water "[[$D2, $D3]]" "an hour later: still one reminder (once per period)"
as alice
bud checkin water --done
expect_rc 0 "alice checks in on water at 22:00"
adv 1800
expect_ev alice reminder water "[[$D2, $D3]]" "after checking in: no further reminder"
adv_to "$(utc 2027-03-03T10:00:00)"
as alice
bud checkin water --done
expect_rc 0 "alice checks in on water early on 03-03"
adv_to $((D4 - LEAD + 60))
expect_ev alice reminder water "[[$D2, $D3]]" "03-03 checked in early: not reminded in its last 3 hours"
adv_to $((D4 - 1))
expect_ev alice reminder water "[[$D2, $D3]]" "... nor at its last second"

adv_to $((W2 - LEAD - 1))
expect_ev alice reminder gym "[]" "gym (2 of 3): no reminder 3 h + 1 s before the week ends"
adv 1
expect_ev_at alice reminder gym "[[$((W2 - LEAD)), $W1, $W2]]" "gym: alice is reminded 3 h before the week ends"
expect_ev bob missed gym "[]" "bob: no miss while the week runs"
adv_to $((W2 + GRACE - 1))
expect_ev bob missed gym "[]" "bob: no miss at the week's end plus the grace hour minus 1 s"
adv 1
expect_ev_at bob missed gym "[[$((W2 + GRACE)), $W1, $W2]]" \
	"bob: exactly one miss (week of 03-01) at the week's end plus the grace hour"
expect_json "$S/inbox.bob.json" "[[e['done'], e['required'], e['buddy']] for e in d['result']['events'] if e['kind'] == 'missed' and e.get('commit') == 'gym']" \
	'[[2, 3, "alice"]]' "bob's inbox: the miss is alice's, 2 of 3 done"
adv 3600
expect_ev bob missed gym "[[$W1, $W2]]" "an hour later: still exactly one miss"
expect_ev alice missed gym "[]" "alice's daemon records no miss of her own"
as alice
bud commit archive gym
expect_rc 0 "alice archives gym"
bud commit archive water
expect_rc 0 "alice archives water"
wait_synced alice bob "the archived gym reaches bob"

# local ZONE "YYYY-MM-DD HH:MM": Unix seconds of a local time in ZONE (the system's tz database)
local_ts() {
	TZ="$1" date -d "$2" +%s
}

# ---- 2. daily in America/New_York across 2027-03-14 ----

echo "# 2. a daily commitment in America/New_York across the DST change of 2027-03-14"
NY13=$(local_ts America/New_York "2027-03-13 00:00")
NY14=$(local_ts America/New_York "2027-03-14 00:00")
NY15=$(local_ts America/New_York "2027-03-15 00:00")
NY16=$(local_ts America/New_York "2027-03-16 00:00")
expect_eq "$((NY14 - NY13)) $((NY15 - NY14)) $((NY16 - NY15))" "86400 82800 86400" \
	"(the tz database: 2027-03-14 has 23 hours in New York)"
adv_to "$(utc 2027-03-13T12:00:00)"
as alice
bud commit add ny "New York" --daily --tz America/New_York
expect_rc 0 "alice: commit add ny --daily --tz America/New_York"
bud share ny --with bob
expect_rc 0 "alice shares ny with bob"
bud checkin ny --done "03-13, 07:00 EST"
expect_rc 0 "alice checks in on ny on 03-13"
wait_synced alice bob "ny and its check-in reach bob"
adv_to "$(utc 2027-03-15T04:30:00)"
as alice
bud checkin ny --done "00:30 EDT on the 15th"
expect_rc 0 "alice checks in on ny at 04:30Z on 03-15 (00:30 EDT: the 15th in New York)"
wait_synced alice bob "the check-in reaches bob"
expect_ev bob missed ny "[]" "bob: 03-13 met, 03-14 (ended 04:00Z) still in its grace hour"
adv_to $((NY15 + GRACE - 1))
expect_ev bob missed ny "[]" "bob: no miss at 04:59:59Z"
adv 1
expect_ev_at bob missed ny "[[$((NY15 + GRACE)), $NY14, $NY15]]" \
	"bob: 03-14 (05:00Z to 04:00Z, 23 hours) missed at 05:00:00Z"
adv_to $((NY16 + GRACE))
expect_ev bob missed ny "[[$NY14, $NY15]]" "bob: 03-15 met by the check-in at 00:30 EDT: one miss"
expect_ev bob missed gym "[[$W1, $W2]]" "gym was archived: no miss for the week of 03-08"
as alice
bud commit archive ny
expect_rc 0 "alice archives ny"

# ---- 3. a pause ----

echo "# 3. a pause: neither reminded nor missed"
Y18=$(utc 2027-03-18T00:00:00)
Y19=$(utc 2027-03-19T00:00:00)
Y20=$(utc 2027-03-20T00:00:00)
adv_to "$(utc 2027-03-16T10:00:00)"
as alice
bud commit add yoga "Yoga" --daily --tz UTC
expect_rc 0 "alice: commit add yoga --daily --tz UTC"
bud share yoga --with bob
expect_rc 0 "alice shares yoga with bob"
bud checkin yoga --done
expect_rc 0 "alice checks in on yoga on 03-16"
bud pause yoga --until 2027-03-18 "travelling"
expect_rc 0 "alice: pause yoga --until 2027-03-18"
wait_synced alice bob "yoga, the check-in and the pause reach bob"
adv_to $((Y18 - LEAD + 60))
expect_ev alice reminder yoga "[]" "paused: alice is not reminded on 03-17"
adv_to $((Y19 - LEAD + 60))
expect_ev alice reminder yoga "[]" "paused: nor on 03-18 (the pause's last day)"
expect_ev bob missed yoga "[]" "bob: 03-16 met, 03-17 paused: no miss"
adv_to $((Y20 - LEAD + 60))
expect_ev alice reminder yoga "[[$Y19, $Y20]]" "the pause is over: alice is reminded on 03-19"
expect_ev bob missed yoga "[]" "bob: 03-18 paused: no miss"
adv_to $((Y20 + GRACE))
expect_ev bob missed yoga "[[$Y19, $Y20]]" "bob: 03-19, after the pause, is the only miss"
as alice
bud commit archive yoga
expect_rc 0 "alice archives yoga"

# ---- 4. a late delivery ----

echo "# 4. a check-in made in time, delivered after the grace: late"
R22=$(utc 2027-03-22T00:00:00)
R23=$(utc 2027-03-23T00:00:00)
adv_to "$(utc 2027-03-22T10:00:00)"
as alice
bud commit add read "Read" --daily --tz UTC
expect_rc 0 "alice: commit add read --daily --tz UTC"
bud share read --with bob
expect_rc 0 "alice shares read with bob"
wait_synced alice bob "read reaches bob"
adv_to "$(utc 2027-03-22T20:00:00)"
dstop bob
expect_eq "$STOP_RC" 0 "bob's buddyd stops cleanly"
wait_state alice bob offline "alice sees bob offline"
as alice
bud checkin read --done "made in time"
expect_rc 0 "alice checks in on read at 20:00 (bob is down: queued)"
ELATE=$(entry_no)
dstop alice
expect_eq "$STOP_RC" 0 "alice's buddyd stops cleanly"
must_start bob "bob's buddyd starts again at 20:00 (alice is down)"
adv_to $((R23 + GRACE - 1))
expect_ev bob missed read "[]" "bob: no miss at 00:59:59"
adv 1
expect_ev_at bob missed read "[[$((R23 + GRACE)), $R22, $R23]]" \
	"bob: 03-22 missed at 01:00 (alice's check-in has not arrived)"
must_start alice "alice's buddyd starts again at 01:00"
wait_synced alice bob "alice's queued check-in reaches bob"
adv 0
expect_ev bob late read "[[$R22, $R23]]" "bob: the miss of 03-22 turns late"
expect_json "$S/inbox.bob.json" "[e['entry'] for e in d['result']['events'] if e['kind'] == 'late']" \
	"[$ELATE]" "... naming alice's check-in (entry $ELATE)"
expect_ev bob missed read "[[$R22, $R23]]" "... and the miss stays, not deleted"
adv 60
expect_ev bob late read "[[$R22, $R23]]" "late is recorded once"
dstop bob
expect_eq "$STOP_RC" 0 "bob's buddyd stops cleanly"
must_start bob "bob's buddyd starts again"
wait_state bob alice online "bob sees alice online"
adv 60
expect_ev bob missed read "[[$R22, $R23]]" "after bob's restart: the miss is there, not recorded again"
expect_ev bob late read "[[$R22, $R23]]" "after bob's restart: the late is there, not recorded again"
expect_ev bob missed gym "[[$W1, $W2]]" "after bob's restart: no old period judged again"
as alice
bud commit archive read
expect_rc 0 "alice archives read"

# ---- 5. daily in Europe/Berlin across 2027-03-28 ----

echo "# 5. a daily commitment in Europe/Berlin across the DST change of 2027-03-28"
B27=$(local_ts Europe/Berlin "2027-03-27 00:00")
B28=$(local_ts Europe/Berlin "2027-03-28 00:00")
B29=$(local_ts Europe/Berlin "2027-03-29 00:00")
B30=$(local_ts Europe/Berlin "2027-03-30 00:00")
expect_eq "$((B28 - B27)) $((B29 - B28)) $((B30 - B29))" "86400 82800 86400" \
	"(the tz database: 2027-03-28 has 23 hours in Berlin)"
adv_to "$(utc 2027-03-27T12:00:00)"
as alice
bud commit add berlin "Berlin" --daily --tz Europe/Berlin
expect_rc 0 "alice: commit add berlin --daily --tz Europe/Berlin"
bud share berlin --with bob
expect_rc 0 "alice shares berlin with bob"
bud checkin berlin --done "03-27, 13:00 CET"
expect_rc 0 "alice checks in on berlin on 03-27"
wait_synced alice bob "berlin and its check-in reach bob"
adv_to $((B29 - LEAD - 1))
expect_ev alice reminder berlin "[]" "alice: no reminder at 18:59:59Z on 03-28 (20:59:59 CEST)"
adv 1
expect_ev_at alice reminder berlin "[[$((B29 - LEAD)), $B28, $B29]]" \
	"alice: reminded at 19:00Z, 3 h before the 23-hour day ends at 00:00 CEST"
adv_to "$(utc 2027-03-28T22:30:00)"
as alice
bud checkin berlin --done "00:30 CEST on the 29th"
expect_rc 0 "alice checks in at 22:30Z on 03-28 (00:30 CEST: the 29th in Berlin)"
wait_synced alice bob "the check-in reaches bob"
adv_to $((B29 + GRACE - 1))
expect_ev bob missed berlin "[]" "bob: no miss at 22:59:59Z"
adv 1
expect_ev_at bob missed berlin "[[$((B29 + GRACE)), $B28, $B29]]" \
	"bob: 03-28 (23:00Z to 22:00Z, 23 hours) missed at 23:00:00Z"
adv_to $((B30 - LEAD + 60))
expect_ev alice reminder berlin "[[$B28, $B29]]" "alice: 03-29 checked in at 00:30: not reminded on it"
adv_to $((B30 + GRACE))
expect_ev bob missed berlin "[[$B28, $B29]]" "bob: 03-29 met by the check-in at 00:30 CEST: one miss"

# ---- 6. bounded history ----

echo "# 6. bob's daemon down for 100 days: only the last 60 periods are judged, each once"
as alice
bud commit archive berlin
expect_rc 0 "alice archives berlin"
adv_to "$(utc 2027-03-31T10:00:00)"
as alice
bud commit add walk "Walk" --daily --tz UTC
expect_rc 0 "alice: commit add walk --daily --tz UTC"
bud share walk --with bob
expect_rc 0 "alice shares walk with bob"
wait_synced alice bob "walk reaches bob"
dstop bob
expect_eq "$STOP_RC" 0 "bob's buddyd stops cleanly"
dstop alice
expect_eq "$STOP_RC" 0 "alice's buddyd stops cleanly"
DW=$(utc 2027-07-09T00:00:00) # 100 days after 03-31
NOW=$((DW + GRACE))
must_start bob "bob's buddyd starts 100 days later"
must_start alice "alice's buddyd starts 100 days later"
inbox bob
WALK="[e for e in d['result']['events'] if e['kind'] == 'missed' and e.get('commit') == 'walk']"
expect_json "$S/inbox.bob.json" "[len($WALK), min(e['period_start'] for e in $WALK), max(e['period_end'] for e in $WALK)]" \
	"[60, $((DW - 60 * 86400)), $DW]" "bob: 60 misses, the last 60 days (not 100)"
expect_json "$S/inbox.bob.json" "len(set(e['period_start'] for e in $WALK))" 60 "... each day once"
wait_state bob alice online "bob sees alice online"
adv 60
inbox bob
expect_json "$S/inbox.bob.json" "len($WALK)" 60 "a minute later: nothing recorded again"

# ---- the end ----

dstop alice
expect_eq "$STOP_RC" 0 "alice's buddyd stops cleanly"
dstop bob
expect_eq "$STOP_RC" 0 "bob's buddyd stops cleanly"
no_open_handles
finish
