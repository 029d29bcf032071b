"""Traffic, kills and checks for crash_sync_test.sh (standard library only; the MessagePack-RPC
client is sync_helper.py's).

  crash_sync_driver.py round OPTIONS
      One round: a seeded plan of requests on alice's control socket from several clients at
      once (RPC connections, and clients that run the buddy CLI), a kill -9 of alice, bob or both
      at a seeded moment, and a ledger of what each request returned.
        --seed S --round R           the plan is a function of these two only
        --alice-sock P --bob-sock P  control sockets
        --alice-pid N --bob-pid N    the daemons to kill
        --clients N                  RPC clients (the first pipelines up to --depth requests,
                                     default 8: bigger group commits; the others 1 at a time)
        --cli-clients N              clients that run "$BUDDY" once per request
        --per N                      requests per client
        --ledger F                   appends one JSON line per request (see below)
        --events-fd N                writes "plan ...", "killed alice", "killed bob" and "done"
                                     lines there as they happen
      The victim (alice, bob, both; the order of the two kills) and the trigger are drawn from
      the seed: "acks K" kills right after alice acknowledged the K-th check-in of the round (as
      its clients see the answers), "recv R" right after bob's daemon raised its R-th event for a
      post of alice's (a `watch` on bob's control socket). Nothing waits on a clock: a trigger
      is a count. A recv trigger that bob never reaches (60 s after the traffic ended) is
      reported as a hang, and the victims are killed then.
      After alice is killed no client sends anything more; the answers already sent are still
      read. Prints one JSON summary on stdout; exit status 0 unless a request failed in a way
      a crash does not explain (an error answer, a client that hung) or the trigger was missed.

      Ledger lines: {r, w, i, kind, text, commit, status, value, unit, tags, via, outcome, id,
      shared_with, err}. outcome is "ok" (acknowledged: must be stored, exactly once),
      "maybe" (in flight at the kill: stored at most once), "never" (the CLI found no daemon,
      exit 3) or "unsent" (not sent: alice was dead): both must not be stored; "error" (an error
      answer, or a CLI failure a crash does not explain).

  crash_sync_driver.py alice ALICE_SOCK LEDGER
      Every request of the ledger against alice's journal (all of it: `buddy journal --json`,
      the CLI in $BUDDY, as fast as C reads it): "ok" ones
      present exactly once, with the id they were acknowledged with and every field as sent,
      shared with bob exactly when they should be; "maybe" ones at most once; "never" and
      "unsent" ones absent; no entry nobody sent; distinct ids; status counts the same number.
      Prints one line of figures, then one line per problem; exit status 1 on a problem.

  crash_sync_driver.py bob ALICE_SOCK BOB_SOCK
      Once alice has nothing waiting for bob: bob's copy of alice's stream (`received`, all of
      it, through `buddy export --format json`) is exactly alice's shared entries (her
      journal's entries shared with bob), each once, in entry order, with the same content; no
      private entry (kinds prv, solo, note) reached him; every shared entry is delivered; the
      post counts agree on both sides (sent == delivered == received: no gap, no duplicate);
      `show` has no unreadable post, no fork, no alert; neither status counts an alert. Same
      output convention.

Kinds of requests: shr (check-in on the shared commitment: a post to bob), snote (a note shared
with bob), prv (a private check-in on the shared commitment), solo (a check-in on a commitment
that is not shared), note (a private note, sometimes about the shared commitment). Texts are
"R<round>.W<client>.I<index>.<kind>": unique across the run, and grep-able.
"""

import argparse
import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sync_helper import Rpc, Short, unpack  # noqa: E402

KINDS = [("shr", 60), ("prv", 10), ("solo", 10), ("note", 12), ("snote", 8)]
CHECKINS = ("shr", "prv", "solo")
SHARED = ("shr", "snote")
PRIVATE = ("prv", "solo", "note")
STATUSES = ("done", "partial", "skip")
CMD_TIMEOUT = 60  # a request unanswered this long is a hang
TRIGGER_GRACE = 60  # seconds after the traffic for a recv trigger to come


def plan_round(seed, rnd, clients, cli_clients, per):
    """The round's requests and kill, from (seed, round) only."""
    rng = random.Random(seed * 1000003 + rnd)
    kinds, weights = zip(*KINDS)
    workers = []
    for w in range(clients + cli_clients):
        reqs = []
        for i in range(per):
            k = rng.choices(kinds, weights)[0]
            q = {"r": rnd, "w": w, "i": i, "kind": k,
                 "text": "R%d.W%d.I%d.%s" % (rnd, w, i, k),
                 "commit": None, "status": None, "value": None, "unit": None, "tags": [],
                 "via": "cli" if w >= clients else "rpc"}
            if k in CHECKINS:
                q["commit"] = "solo" if k == "solo" else "shared"
                q["status"] = rng.choice(STATUSES)
                if rng.random() < 0.3:
                    q["value"], q["unit"] = float(rng.randint(1, 42)), "km"
            elif k == "note":
                if rng.random() < 0.5:
                    q["commit"] = "shared"
                if rng.random() < 0.3:
                    q["tags"] = ["t%d" % rng.randint(1, 3)]
            reqs.append(q)
        workers.append(reqs)
    allq = [q for ws in workers for q in ws]
    n_checkins = sum(1 for q in allq if q["kind"] in CHECKINS)
    n_shared = sum(1 for q in allq if q["kind"] in SHARED)
    victim = rng.choices(["alice", "bob", "both"], [4, 4, 2])[0]
    order = ["alice", "bob"] if victim == "both" else [victim]
    if victim == "both" and rng.random() < 0.5:
        order.reverse()
    trigger = rng.choice(["acks", "recv"])
    if trigger == "acks" or n_shared == 0:
        trigger, at = "acks", rng.randint(1, max(1, n_checkins))
    else:
        at = rng.randint(1, n_shared)
    return workers, {"victim": victim, "order": order, "trigger": trigger, "at": at,
                     "checkins": n_checkins, "shared": n_shared, "requests": len(allq)}


def rpc_params(q):
    if q["kind"] in CHECKINS:
        p = {"commit": q["commit"], "status": q["status"], "text": q["text"]}
        if q["value"] is not None:
            p["value"], p["unit"] = q["value"], q["unit"]
        if q["kind"] == "prv":
            p["private"] = True
        return "checkin", p
    p = {"text": q["text"]}
    if q["commit"]:
        p["commit"] = q["commit"]
    if q["tags"]:
        p["tags"] = q["tags"]
    if q["kind"] == "snote":
        p["share_with"] = ["bob"]
    return "log", p


def cli_args(q):
    if q["kind"] in CHECKINS:
        a = ["checkin", q["commit"], "--" + q["status"], q["text"]]
        if q["value"] is not None:
            a += ["--value", "%g%s" % (q["value"], q["unit"])]
        if q["kind"] == "prv":
            a.append("--private")
        return a
    a = ["log", q["text"]]
    if q["commit"]:
        a += ["--commit", q["commit"]]
    for t in q["tags"]:
        a += ["--tag", t]
    if q["kind"] == "snote":
        a += ["--share-with", "bob"]
    return a


class Round:
    def __init__(self, a):
        self.a = a
        self.workers, self.plan = plan_round(a.seed, a.round, a.clients, a.cli_clients, a.per)
        self.lock = threading.Lock()
        self.stop = threading.Event()  # alice is dead: send nothing more
        self.fired = threading.Event()
        self.acks = 0  # check-ins acknowledged so far
        self.recv = 0  # bob's events for alice's posts so far
        self.kill_note = None
        self.problems = []
        self.events = os.fdopen(os.dup(a.events_fd), "w", buffering=1) if a.events_fd else None

    def emit(self, line):
        if self.events:
            self.events.write(line + "\n")
            self.events.flush()

    def fire(self, why):
        with self.lock:
            if self.fired.is_set():
                return
            self.fired.set()
            self.kill_note = why
            # alice's clients stop first: nothing is sent to a daemon that is going
            if "alice" in self.plan["order"]:
                self.stop.set()
            for who in self.plan["order"]:
                pid = self.a.alice_pid if who == "alice" else self.a.bob_pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    self.problems.append("%s (pid %d) was gone before the kill" % (who, pid))
                self.emit("killed %s" % who)

    def acked(self, q):
        if q["kind"] not in CHECKINS:
            return
        with self.lock:
            self.acks += 1
            n = self.acks
        if self.plan["trigger"] == "acks" and n == self.plan["at"]:
            self.fire("after check-in ack %d" % n)

    def record(self, q, outcome, ident=None, shared_with=None, err=None):
        q["outcome"], q["id"], q["shared_with"], q["err"] = outcome, ident, shared_with, err
        if outcome == "ok":
            self.acked(q)
        elif outcome == "error":
            with self.lock:
                self.problems.append("%s: %s" % (q["text"], err))

    # ---- clients ----

    def rpc_client(self, reqs, depth):
        inflight = collections.deque()
        idx = 0
        r = None
        try:
            r = Rpc(self.a.alice_sock, timeout=CMD_TIMEOUT)
        except OSError as e:
            for q in reqs:
                self.record(q, "unsent", err="connect: %r" % e)
            if not self.stop.is_set():  # else alice was killed before this client started
                with self.lock:
                    self.problems.append("client %d cannot connect: %r" % (reqs[0]["w"], e))
            return
        while True:
            try:
                while idx < len(reqs) and len(inflight) < depth and not self.stop.is_set():
                    q = reqs[idx]
                    idx += 1
                    inflight.append(q)  # before sending: a failed send is a lost answer
                    r.send(*rpc_params(q))
                if not inflight:
                    break
                v = r.recv()
            except socket.timeout:
                for q in inflight:
                    self.record(q, "error", err="no answer in %d s (hang)" % CMD_TIMEOUT)
                inflight.clear()
                break
            except (OSError, ConnectionError, ValueError) as e:
                # the daemon died: what was in flight may or may not be stored
                for q in inflight:
                    self.record(q, "maybe", err=repr(e))
                inflight.clear()
                break
            q = inflight.popleft()
            if v[2] is None:
                self.record(q, "ok", v[3].get("id"), v[3].get("shared_with"))
            else:
                self.record(q, "error", err=v[2])
        r.s.close()
        for q in reqs[idx:]:
            self.record(q, "unsent")

    def cli_client(self, reqs):
        env = dict(os.environ, BUDDY_HOME=os.path.dirname(self.a.alice_sock))
        for n, q in enumerate(reqs):
            if self.stop.is_set():
                for rest in reqs[n:]:
                    self.record(rest, "unsent")
                return
            try:
                p = subprocess.run([self.a.buddy] + cli_args(q), env=env, capture_output=True,
                                   text=True, timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                self.record(q, "error", err="no answer in %d s (hang)" % CMD_TIMEOUT)
                continue
            err = p.stderr.strip()
            if p.returncode == 0:
                ident = None
                k = p.stdout.find("entry #")
                if k >= 0:
                    digits = ""
                    for ch in p.stdout[k + 7:]:
                        if not ch.isdigit():
                            break
                        digits += ch
                    ident = int(digits) if digits else None
                shared = ["bob"] if "shared with bob" in p.stdout else []
                if ident is None:
                    self.record(q, "error", err="exit 0 without an entry number: %r" % p.stdout)
                else:
                    self.record(q, "ok", ident, shared)
            elif p.returncode == 3 and self.stop.is_set():
                self.record(q, "never", err=err)  # no daemon: the request went nowhere
            elif p.returncode == 1 and self.stop.is_set() and (
                    "closed the connection" in err or "lost the connection" in err):
                self.record(q, "maybe", err=err)
            else:
                self.record(q, "error", err="exit %d: %s" % (p.returncode, err))

    # ---- the recv trigger: bob's events ----

    def watch_bob(self, ready, traffic_done):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(1.0)
            s.connect(self.a.bob_sock)
            from sync_helper import pack
            s.sendall(pack([0, 1, "watch", [{}]]))
        except OSError as e:
            with self.lock:
                self.problems.append("cannot watch bob: %r" % e)
            ready.set()
            return
        buf, subscribed, idle_since = b"", False, None
        while not self.fired.is_set():
            try:
                chunk = s.recv(1 << 16)
                if not chunk:
                    with self.lock:
                        self.problems.append("bob's daemon closed the watch connection")
                    break
                buf += chunk
            except socket.timeout:
                chunk = b""
            except OSError as e:
                with self.lock:
                    self.problems.append("bob's watch connection failed: %r" % e)
                break
            while True:
                try:
                    v, j = unpack(buf)
                except Short:
                    break
                buf = buf[j:]
                if v[0] == 1:
                    if v[2] is not None:
                        with self.lock:
                            self.problems.append("watch refused: %r" % (v[2],))
                    subscribed = True
                    ready.set()
                elif v[0] == 2 and v[1] == "event":
                    ev = v[2]
                    if ev.get("buddy") == "alice" and ev.get("kind") in ("checkin", "note"):
                        self.recv += 1
                        if self.recv == self.plan["at"]:
                            self.fire("after bob's event %d for a post of alice's" % self.recv)
            if traffic_done.is_set() and not self.fired.is_set():
                now = time.monotonic()
                idle_since = idle_since or now
                if now - idle_since > TRIGGER_GRACE:
                    with self.lock:
                        self.problems.append(
                            "hang: bob raised %d events for alice's posts, the trigger is %d, "
                            "%d s after the traffic ended" % (self.recv, self.plan["at"],
                                                              TRIGGER_GRACE))
                    break
        if not subscribed:
            ready.set()
        s.close()

    def run(self):
        p = self.plan
        self.emit("plan victim=%s order=%s trigger=%s at=%d checkins=%d shared=%d requests=%d"
                  % (p["victim"], ",".join(p["order"]), p["trigger"], p["at"], p["checkins"],
                     p["shared"], p["requests"]))
        t0 = time.monotonic()
        traffic_done = threading.Event()
        watcher = None
        if p["trigger"] == "recv":
            ready = threading.Event()
            watcher = threading.Thread(target=self.watch_bob, args=(ready, traffic_done))
            watcher.start()
            ready.wait(CMD_TIMEOUT)
        ts = []
        for w, reqs in enumerate(self.workers):
            if w < self.a.clients:
                t = threading.Thread(target=self.rpc_client, args=(reqs, self.a.depth if w == 0 else 1))
            else:
                t = threading.Thread(target=self.cli_client, args=(reqs,))
            ts.append(t)
            t.start()
        for t in ts:
            t.join()
        traffic_done.set()
        if watcher:
            watcher.join()
        if not self.fired.is_set():
            with self.lock:
                self.problems.append("the trigger (%s %d) was never reached: killed at the end"
                                     % (p["trigger"], p["at"]))
            self.fire("at the end (trigger missed)")
        allq = [q for ws in self.workers for q in ws]
        with open(self.a.ledger, "a", encoding="utf-8") as f:
            for q in allq:
                f.write(json.dumps(q, sort_keys=True) + "\n")
        out = collections.Counter(q["outcome"] for q in allq)
        acked = [q for q in allq if q["outcome"] == "ok"]
        summary = {
            "plan": p, "kill": self.kill_note, "seconds": round(time.monotonic() - t0, 2),
            "outcomes": dict(out),
            "acked_checkins": sum(1 for q in acked if q["kind"] in CHECKINS),
            "acked_notes": sum(1 for q in acked if q["kind"] not in CHECKINS),
            "acked_shared": sum(1 for q in acked if q["kind"] in SHARED),
            "bob_events": self.recv, "problems": self.problems[:10],
        }
        print(json.dumps(summary, sort_keys=True))
        self.emit("done")
        return 1 if self.problems else 0


# ---------------------------------------------------------------- checks


def call(r, method, params):
    """A request that must succeed; a daemon still opening (locked, busy) is asked again."""
    end = time.monotonic() + CMD_TIMEOUT
    while True:
        err, res = r.call(method, params)
        if err is None:
            return res
        if isinstance(err, dict) and err.get("code") in (10, 12) and time.monotonic() < end:
            time.sleep(0.02)
            continue
        raise RuntimeError("%s: %r" % (method, err))


def cli_json(sock, *args):
    """The buddy CLI's JSON output for the home of SOCK: fast (C), and what a person reads."""
    env = dict(os.environ, BUDDY_HOME=os.path.dirname(os.path.abspath(sock)))
    p = subprocess.run([os.environ.get("BUDDY", "buddy")] + list(args), env=env,
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError("buddy %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout)


def all_entries(sock):
    """Every entry of the journal (`buddy journal --json` reads every page)."""
    return cli_json(sock, "journal", "--json")


def all_received(sock, buddy):
    """Everything BUDDY shared, in the order posted (`buddy export` reads every page of
    `received`)."""
    for b in cli_json(sock, "export", "--format", "json")["received"]:
        if b["buddy"] == buddy:
            return b["entries"]
    return []


def same_content(q, e):
    """The fields of entry e (journal or received) that must be as request q sent them."""
    diffs = []
    kind = "checkin" if q["kind"] in CHECKINS else "note"
    want = {"kind": kind, "text": q["text"], "commit": q["commit"], "status": q["status"],
            "value": q["value"], "unit": q["unit"], "tags": q["tags"]}
    for k, v in want.items():
        got = e.get(k, [] if k == "tags" else None)
        if got != v:
            diffs.append("%s %r != %r" % (k, got, v))
    return diffs


def check_alice(sock, ledger):
    r = Rpc(sock)
    entries = all_entries(sock)  # (a journal request waits for a journal still opening)
    total = call(r, "journal", {"limit": 1})["total"]
    status = call(r, "status", {})
    reqs = [json.loads(line) for line in open(ledger, encoding="utf-8") if line.strip()]
    by_text = collections.defaultdict(list)
    for e in entries:
        by_text[e["text"]].append(e)
    bad = []

    def problem(kind, q, detail):
        bad.append((kind, "%s: %s" % (q["text"] if q else "-", detail)))

    sent = set()
    stats = collections.Counter()
    for q in reqs:
        sent.add(q["text"])
        found = by_text.get(q["text"], [])
        o = q["outcome"]
        stats[o] += 1
        if o == "ok":
            if not found:
                problem("lost", q, "acknowledged as #%s, not in the journal" % q["id"])
                continue
            if len(found) > 1:
                problem("duplicate", q, "stored %d times: ids %r"
                        % (len(found), [e["id"] for e in found]))
            e = found[0]
            if e["id"] != q["id"]:
                problem("id", q, "acknowledged as #%s, stored as #%s" % (q["id"], e["id"]))
            want_shared = ["bob"] if q["kind"] in SHARED else []
            if sorted(q["shared_with"] or []) != want_shared:
                problem("ack", q, "the answer says shared with %r" % (q["shared_with"],))
        elif o == "maybe":
            if len(found) > 1:
                problem("duplicate", q, "in flight at the kill, stored %d times" % len(found))
            stats["maybe_stored"] += 1 if found else 0
            if not found:
                continue
            e = found[0]
        else:
            if found and o in ("never", "unsent"):
                problem("ghost", q, "%s, yet stored as #%s" % (o, found[0]["id"]))
            continue
        diffs = same_content(q, e)
        if diffs:
            problem("damaged", q, "#%s: %s" % (e["id"], "; ".join(diffs)))
        want_shared = ["bob"] if q["kind"] in SHARED else []
        got_shared = sorted(s["buddy"] for s in e.get("shared", []))
        if got_shared != want_shared:
            problem("shared", q, "#%s goes to %r" % (e["id"], got_shared))
    for t, es in by_text.items():
        if t not in sent:
            problem("unknown", None, "entry #%s with a text nobody sent: %r" % (es[0]["id"], t))
    ids = [e["id"] for e in entries]
    if len(set(ids)) != len(ids):
        problem("ids", None, "entry ids repeat")
    if total != len(entries):
        problem("total", None, "journal total %d, %d entries read" % (total, len(entries)))
    if status.get("entries") != total:
        problem("status", None, "status counts %r entries, the journal %d"
                % (status.get("entries"), total))
    if status.get("alerts"):
        problem("alert", None, "alice's status counts %r alerts" % status.get("alerts"))
    print("%d entries; %d acknowledged, %d in flight at a kill (%d stored), %d never sent"
          % (len(entries), stats["ok"], stats["maybe"], stats["maybe_stored"],
             stats["never"] + stats["unsent"]))
    kinds = collections.Counter(k for k, _ in bad)
    if bad:
        print("problems: %s" % dict(kinds))
    for _, line in bad[:20]:
        print(line)
    return 1 if bad else 0


def sync_entry(status, buddy):
    for s in status.get("sync", []):
        if s["buddy"] == buddy:
            return s
    return {}


def check_bob(alice_sock, bob_sock):
    ra, rb = Rpc(alice_sock), Rpc(bob_sock)
    entries = all_entries(alice_sock)
    got = all_received(bob_sock, "alice")
    total = call(rb, "received", {"buddy": "alice", "limit": 1})["total"]
    sa, sb = call(ra, "status", {}), call(rb, "status", {})
    show = call(rb, "show", {"buddy": "alice", "recent": 1})
    bad = []
    exp = sorted((e for e in entries if any(s["buddy"] == "bob" for s in e.get("shared", []))),
                 key=lambda e: e["id"])
    gi, ei = [e["id"] for e in got], [e["id"] for e in exp]
    if total != len(got):
        bad.append("received total %d, %d entries read" % (total, len(got)))
    if gi != ei:
        c = collections.Counter(gi)
        dups = [i for i, n in c.items() if n > 1]
        missing = sorted(set(ei) - set(gi))
        extra = sorted(set(gi) - set(ei))
        order = any(b <= a for a, b in zip(gi, gi[1:]))
        bad.append("bob's copy is not alice's shared entries in order: %d vs %d; missing %r; "
                   "extra %r; duplicates %r; out of order: %s"
                   % (len(gi), len(ei), missing[:5], extra[:5], dups[:5], order))
    else:
        for a, b in zip(exp, got):
            for k in ("kind", "text", "commit", "status", "value", "unit", "tags", "time"):
                if a.get(k) != b.get(k):
                    bad.append("#%d: bob has %s %r, alice %r" % (a["id"], k, b.get(k), a.get(k)))
                    break
            if b.get("retracted"):
                bad.append("#%d is retracted on bob's side" % a["id"])
    leaked = [e["text"] for e in got if e["text"].rsplit(".", 1)[-1] in PRIVATE]
    if leaked:
        bad.append("private entries reached bob: %r" % leaked[:5])
    undelivered = [e["id"] for e in exp if not all(s["delivered"] for s in e["shared"])]
    if undelivered:
        bad.append("%d shared entries not delivered, e.g. %r" % (len(undelivered), undelivered[:5]))
    a2b, b2a = sync_entry(sa, "bob"), sync_entry(sb, "alice")
    if not (a2b.get("sent") == a2b.get("delivered") == b2a.get("received") == show.get("received")
            and a2b.get("waiting") == 0):
        bad.append("post counts disagree: alice sent %r delivered %r waiting %r; bob received %r "
                   "(status), %r (show)" % (a2b.get("sent"), a2b.get("delivered"),
                                            a2b.get("waiting"), b2a.get("received"),
                                            show.get("received")))
    if show.get("unreadable") or show.get("fork") is not None or show.get("alerts"):
        bad.append("bob's show: unreadable %r, fork %r, alerts %r"
                   % (show.get("unreadable"), show.get("fork"), show.get("alerts")))
    if sa.get("alerts") or sb.get("alerts"):
        bad.append("alerts: alice %r, bob %r" % (sa.get("alerts"), sb.get("alerts")))
    ids = sorted(c["id"] for c in show.get("commitments", []))
    if ids != ["shared"]:
        bad.append("bob sees alice's commitments %r, expected only 'shared'" % ids)
    else:
        n = sum(1 for e in exp if e["kind"] == "checkin")
        if show["commitments"][0]["checkins"] != n:
            bad.append("bob counts %r check-ins on shared, alice shared %d"
                       % (show["commitments"][0]["checkins"], n))
    print("bob holds %d of alice's entries (%d posts), in order"
          % (len(got), b2a.get("received", -1)))
    for line in bad[:20]:
        print(line)
    return 1 if bad else 0


def main(argv):
    if len(argv) > 1 and argv[1] == "alice" and len(argv) == 4:
        return check_alice(argv[2], argv[3])
    if len(argv) > 1 and argv[1] == "bob" and len(argv) == 4:
        return check_bob(argv[2], argv[3])
    if len(argv) > 1 and argv[1] == "round":
        ap = argparse.ArgumentParser(prog="crash_sync_driver.py round")
        ap.add_argument("--seed", type=int, required=True)
        ap.add_argument("--round", type=int, required=True)
        ap.add_argument("--alice-sock", required=True)
        ap.add_argument("--bob-sock", required=True)
        ap.add_argument("--alice-pid", type=int, required=True)
        ap.add_argument("--bob-pid", type=int, required=True)
        ap.add_argument("--clients", type=int, default=3)
        ap.add_argument("--cli-clients", type=int, default=1)
        ap.add_argument("--depth", type=int, default=8)
        ap.add_argument("--per", type=int, default=40)
        ap.add_argument("--ledger", required=True)
        ap.add_argument("--events-fd", type=int, default=0)
        ap.add_argument("--buddy", default=os.environ.get("BUDDY", "buddy"))
        return Round(ap.parse_args(argv[2:])).run()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
