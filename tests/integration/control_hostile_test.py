#!/usr/bin/python3
"""A misbehaving MessagePack-RPC client against one real buddyd's control socket
(proto/CONTROL.md: "Transport", "Envelope", "Limits and malformed input", "Error codes").

Each hostile input goes on a fresh connection; the answer the spec gives is checked (an error
response with the right code and msgid, then a close or a connection that stays usable), and
after each one the daemon must still answer `status` on a new connection and the stored
check-in must be unchanged (`buddy journal --json`). Every wait is bounded by select().

Needs (Debian): python3-msgpack (and buddy_peer.py's imports).
Run:  BUDDY=build/buddy BUDDYD=build/buddyd /usr/bin/python3 \
          tests/integration/control_hostile_test.py
"""

import json
import os
import select
import shutil
import socket
import sys
import tempfile
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buddy_peer import (  # noqa: E402
    TIMEOUT, Daemon, Fail, cli_json, failed, finish, ok, require, run_cli)

REQUEST_MAX = 1024 * 1024  # include/buddy/limits.h BUDDY_CONTROL_REQUEST_MAX
CLIENTS_MAX = 64  # BUDDY_CONTROL_CLIENTS_MAX
RSS_LIMIT_KB = 64 * 1024
# Under valgrind (cmake -DBUDDY_VALGRIND=ON) the daemon's process is valgrind's: its memory says
# nothing of buddyd's, so the memory checks are skipped there (the drop itself is still checked).
UNDER_VALGRIND = bool(os.environ.get("BUDDYD_REAL"))
MARK = "hostile-test check-in: must survive every case"

SOCK = None
ENV = None
DAEMON = None
BASELINE = None


def req(msgid, method, params=None):
    return msgpack.packb([0, msgid, method, [] if params is None else params])


STATUS = req(0, "status")


class Client:
    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(SOCK)
        self.unp = msgpack.Unpacker(raw=False, strict_map_key=False,
                                    max_buffer_size=256 * 1024 * 1024)
        self.pending = []
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """sendall bounded by TIMEOUT; None, or the error (the daemon may close first)."""
        try:
            self.sock.sendall(data)
            return None
        except OSError as e:
            return e

    def read(self, n=1, timeout=TIMEOUT, until_eof=False):
        """Up to n objects (all, with until_eof); returns (objects, eof seen)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                for o in self.unp:
                    self.pending.append(o)
            except Exception as e:  # noqa: not MessagePack from the daemon
                self.pending.append(("undecodable", repr(e)))
            if not until_eof and len(self.pending) >= n:
                out, self.pending = self.pending[:n], self.pending[n:]
                return out, self.eof
            if self.eof:
                out, self.pending = self.pending, []
                return out, True
            rem = deadline - time.monotonic()
            if rem <= 0:
                out, self.pending = self.pending, []
                return out, False
            r, _, _ = select.select([self.sock], [], [], rem)
            if not r:
                continue
            try:
                d = self.sock.recv(1 << 16)
            except (ConnectionResetError, BrokenPipeError):
                d = b""
            if not d:
                self.eof = True
            else:
                self.unp.feed(d)


def is_error(o, msgid, codes):
    return (isinstance(o, list) and len(o) == 4 and o[0] == 1 and o[1] == msgid
            and isinstance(o[2], dict) and o[2].get("code") in codes
            and isinstance(o[2].get("message"), str) and o[2]["message"] != ""
            and o[3] is None)


def is_ok(o, msgid):
    return isinstance(o, list) and len(o) == 4 and o[0] == 1 and o[1] == msgid and o[2] is None


def journal_snapshot():
    d = cli_json(ENV, "journal")
    return d if isinstance(d, list) else d.get("entries")


def health(what, retry_on_close=False):
    """status answers on a new connection; the journal is unchanged. With retry_on_close a
    connection closed unanswered is retried (bounded): the daemon may not yet have seen the
    hang-ups that freed its connection slots."""
    attempts = 0
    st = None
    while attempts < (200 if retry_on_close else 1):
        attempts += 1
        c = Client()
        c.send(req(4242, "status"))
        objs, eof = c.read(1)
        c.close()
        if objs:
            st = objs[0]
            break
    ok(is_ok(st, 4242) and isinstance(st[3], dict) and st[3].get("state") == "unlocked"
       and DAEMON.running(),
       "after %s: status answers on a new connection" % what,
       "%r (attempts %d)" % (st, attempts))
    try:
        j = journal_snapshot()
    except Exception as e:  # noqa
        j = repr(e)
    ok(j == BASELINE, "after %s: stored check-in intact (journal --json unchanged)" % what,
       json.dumps(j)[:300])


def usable(c, what):
    c.send(req(777, "status"))
    objs, _ = c.read(1)
    ok(len(objs) == 1 and is_ok(objs[0], 777), "%s: connection stays usable (status answers)"
       % what, repr(objs)[:200])


def case_close(what, data, codes, shut=False):
    """Bytes the spec says are refused with [1, 0, {code}, nil] and a close."""
    c = Client()
    err = c.send(data)
    if shut and err is None:
        c.sock.shutdown(socket.SHUT_WR)
    objs, eof = c.read(until_eof=True)
    c.close()
    ok(len(objs) == 1 and is_error(objs[0], 0, codes) and eof,
       "%s: one error [1, 0, {code %s}, nil], then the daemon closes" %
       (what, "/".join(map(str, sorted(codes)))),
       "answers %r, closed %s, send error %r" % (repr(objs)[:300], eof, err))
    health(what)


def case_error(what, data, msgid, code, names=None):
    """A well-formed non-request (or bad params): an error with msgid, connection usable."""
    c = Client()
    c.send(data)
    objs, eof = c.read(1)
    good = len(objs) == 1 and is_error(objs[0], msgid, (code,))
    ok(good, "%s: error [1, %d, {code %d}, nil]" % (what, msgid, code),
       "answers %r, closed %s" % (repr(objs)[:300], eof))
    if names and good:
        msg = objs[0][2]["message"]
        ok(names in msg, "%s: the message names %r" % (what, names), repr(msg))
    usable(c, what)
    c.close()
    health(what)


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def never_reads():
    """Requests without ever reading the answers: the daemon must drop the client (8 MiB of
    queued replies, BUDDY_CONTROL_WRITE_HWM) rather than grow."""
    pid = DAEMON.proc.pid
    c = Client()
    c.sock.setblocking(False)
    chunk = STATUS * ((64 * 1024) // len(STATUS))
    total, target = 0, 20 * 1024 * 1024
    max_rss = rss_kb(pid)
    dropped, stalled, err = False, False, None
    deadline = time.monotonic() + 120
    while total < target and time.monotonic() < deadline:
        _, w, _ = select.select([], [c.sock], [], 5.0)
        if not w:
            stalled = True
            break
        try:
            total += c.sock.send(chunk)
        except BlockingIOError:
            continue
        except OSError as e:
            dropped, err = True, e
            break
        max_rss = max(max_rss, rss_kb(pid))
    if not dropped and not stalled:
        # all written; the daemon may still be working through it: wait for the close
        r, _, _ = select.select([c.sock], [], [], TIMEOUT)
        try:
            while True:
                r, _, _ = select.select([c.sock], [], [], 0)
                if not r or not c.sock.recv(1 << 20):
                    break
        except OSError as e:
            err = e
        try:
            c.sock.send(STATUS)
        except BlockingIOError:
            pass
        except OSError as e:
            dropped, err = True, e
    max_rss = max(max_rss, rss_kb(pid))
    c.close()
    print("# never-reading client: %d bytes written, dropped %s (%r), stalled %s, "
          "max VmRSS %d kB" % (total, dropped, err, stalled, max_rss))
    ok(dropped, "client that never reads is dropped by the daemon",
       "%d bytes written, stalled %s" % (total, stalled))
    if UNDER_VALGRIND:
        print("# skip: memory checks under valgrind")
    else:
        ok(0 < max_rss < RSS_LIMIT_KB,
           "buddyd VmRSS stays under 64 MiB meanwhile (%d kB)" % max_rss)
    health("a client that never reads")


def other_uid():
    """SO_PEERCRED: a client of another uid that reaches the socket is closed unanswered. The
    home is 0700, so another user cannot even reach the socket; to test the daemon's own check
    the test opens the way (home 0711, socket 0666) for the length of this check. Needs root
    to become another uid: skipped with a message otherwise."""
    if os.geteuid() != 0:
        print("# skip: the other-uid check needs root (to run a client as nobody)")
        return
    home_dir = os.path.dirname(SOCK)
    mode_home, mode_sock = os.stat(home_dir).st_mode & 0o7777, os.stat(SOCK).st_mode & 0o7777
    os.chmod(home_dir, 0o711)
    os.chmod(SOCK, 0o666)
    try:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            out = b"?"
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(TIMEOUT)
                s.connect(SOCK)
                s.sendall(STATUS)
                data = s.recv(4096)
                out = b"answered" if data else b"closed"
            except (ConnectionError, OSError) as e:
                out = ("error " + type(e).__name__).encode()
            os.write(w, out)
            os._exit(0)
        os.close(w)
        got = b""
        while True:
            chunk = os.read(r, 100)
            if not chunk:
                break
            got += chunk
        os.close(r)
        os.waitpid(pid, 0)
        ok(got in (b"closed", b"error ConnectionResetError", b"error BrokenPipeError"),
           "a client of another uid (nobody) is closed without an answer (SO_PEERCRED)",
           got.decode(errors="replace"))
    finally:
        os.chmod(home_dir, mode_home)
        os.chmod(SOCK, mode_sock)
    health("a client of another uid")


def many_clients():
    clients, extra_closed = [], []
    try:
        for i in range(CLIENTS_MAX):
            c = Client()
            clients.append(c)
            c.send(req(i, "status"))
            objs, eof = c.read(1)
            if not (objs and is_ok(objs[0], i)):
                ok(False, "connection %d of %d answers" % (i + 1, CLIENTS_MAX), repr(objs))
                return
        ok(True, "%d simultaneous connections all answer status" % CLIENTS_MAX)
        for k in range(6):
            try:
                c = Client()
            except OSError as e:
                extra_closed.append("refused: %r" % e)
                continue
            err = c.send(req(9000 + k, "status"))
            objs, eof = c.read(until_eof=True)
            c.close()
            extra_closed.append(not objs and eof or "answers %r eof %s err %r" %
                                (objs, eof, err))
        ok(all(x is True or str(x).startswith("refused") for x in extra_closed),
           "connections 65..70 are closed (or refused) without an answer", repr(extra_closed))
        answered = 0
        for i, c in enumerate(clients):
            c.send(req(5000 + i, "status"))
            objs, _ = c.read(1)
            answered += bool(objs and is_ok(objs[0], 5000 + i))
        ok(answered == CLIENTS_MAX, "the %d existing connections still answer (%d did)"
           % (CLIENTS_MAX, answered))
    finally:
        for c in clients:
            c.close()
    health("%d+ simultaneous connections" % CLIENTS_MAX, retry_on_close=True)


def parked_while_unlocking():
    """A request that needs the journal, sent while it is being unlocked, waits and gets the
    real answer (proto/CONTROL.md "Envelope"), never "busy, try again". Whether the daemon was
    still unlocking when the request arrived is read from `status` on the same connection, and
    the round is repeated until that was seen (Argon2 makes the window ~100 ms)."""
    seen = 0
    for attempt in range(20):
        a, b = Client(), Client()
        a.send(req(1, "lock"))
        objs, _ = a.read(1)
        require(objs and is_ok(objs[0], 1), "lock answers ok", repr(objs))
        a.send(req(2, "unlock", [{"passphrase": ""}]))
        b.send(req(3, "status"))
        st, _ = b.read(1)
        state = st[0][3].get("state") if st and is_ok(st[0], 3) else None
        b.send(req(4, "journal"))
        objs, _ = b.read(1)
        done, _ = a.read(1)
        a.close()
        b.close()
        require(done and is_ok(done[0], 2), "unlock answers ok", repr(done))
        got = objs and is_ok(objs[0], 4) and isinstance(objs[0][3], dict) \
            and any(e.get("text") == MARK for e in objs[0][3].get("entries", []))
        if state == "unlocking":
            seen += 1
            ok(got, "journal sent while unlocking (attempt %d) waits and answers with the "
               "entries" % (attempt + 1), repr(objs)[:300])
            break
        require(got, "journal after the unlock answers with the entries", repr(objs)[:300])
    ok(seen == 1, "the daemon was seen unlocking when the request arrived", "never in 20")
    health("requests parked while unlocking")


def main():
    global SOCK, ENV, DAEMON, BASELINE
    home = tempfile.mkdtemp(prefix="buddy-ctlh-")
    ENV = dict(os.environ, BUDDY_HOME=home)
    SOCK = os.path.join(home, "buddyd.sock")
    t0 = time.monotonic()
    try:
        r = run_cli(ENV, "init", "--no-passphrase", "--kdf", "interactive")
        ok(r.returncode == 0, "buddy init")
        DAEMON = Daemon(home, ENV)
        ready = DAEMON.start()
        require(ready == b"ready\n", "buddyd signals ready on --ready-fd", repr(ready))
        run_cli(ENV, "commit", "add", "hostile", "Survive hostile clients", "--daily")
        run_cli(ENV, "checkin", "hostile", "--done", MARK)
        BASELINE = journal_snapshot()
        require(isinstance(BASELINE, list) and len(BASELINE) == 1
                and BASELINE[0].get("text") == MARK and BASELINE[0].get("status") == "done"
                and BASELINE[0].get("commit") == "hostile",
                "commit add + checkin through the CLI: journal holds the check-in",
                json.dumps(BASELINE)[:300])
        health("setup")

        # ---- over a limit: [1, 0, {code 11}, nil] and a close ("toobig: a request over a
        # limit"; the text says "code 1 or 11" for the pair, so 1 is accepted for the
        # non-size refusals only)
        TOOBIG = (11,)
        case_close("str32 header declaring 2 GiB (header only, nothing after it)",
                   b"\x94\x00\x01\xdb" + (2 ** 31).to_bytes(4, "big"), TOOBIG)
        case_close("str32 header declaring 1 MiB + 1 (header only)",
                   b"\x94\x00\x01\xa6status\x91\x81\xa4text\xdb"
                   + (REQUEST_MAX + 1).to_bytes(4, "big"), TOOBIG)
        big = "x" * (REQUEST_MAX + REQUEST_MAX // 10)
        case_close("real 1.1 MiB checkin (one 1.1 MiB text string)",
                   req(21, "checkin", [{"commit": "hostile", "status": "done", "text": big}]),
                   TOOBIG)
        case_close("real 1.1 MiB request of 1,100 strings of 1 KiB (each small, sum too big)",
                   req(22, "journal", [{"tags": ["t" * 1024] * 1100}]), TOOBIG)
        case_close("array32 header declaring 4,000,000,000 elements",
                   b"\xdd" + (4000000000).to_bytes(4, "big"), TOOBIG)
        case_close("map32 header declaring 2^32-1 pairs in params",
                   b"\x94\x00\x01\xa6status\x91\xdf\xff\xff\xff\xff", TOOBIG)
        case_close("bin32 header declaring 2 GiB in params",
                   b"\x94\x00\x01\xa6status\x91\x81\xa1x\xc6" + (2 ** 31).to_bytes(4, "big"),
                   TOOBIG)
        nest = [[]]
        for _ in range(7):
            nest = [nest]
        case_close("nesting 12 levels deep (limit 8)",
                   req(23, "journal", [{"tags": nest}]), TOOBIG)
        case_close("1,000 levels of nested arrays", b"\x91" * 1000 + b"\x90", TOOBIG)
        case_close("70,000 MessagePack objects (limit 65,536) in 70 KB",
                   req(24, "journal", [{"tags": [0] * 70000}]), TOOBIG)

        # ---- not MessagePack / forbidden types: [1, 0, {code 1 or 11}, nil] and a close
        BAD = (1, 11)
        case_close("reserved byte 0xc1 alone", b"\xc1", BAD)
        case_close("0xc1 inside a request", b"\x94\x00\x01\xc1", BAD)
        case_close("fixext 4 (type 5) in params",
                   req(25, "journal", [{"x": msgpack.ExtType(5, b"abcd")}]), BAD)
        case_close("timestamp ext (type -1) as msgid",
                   b"\x94\x00\xd6\xff" + (1700000000).to_bytes(4, "big") + b"\xa6status\x90",
                   BAD)
        case_close("ext8 with 200 bytes as method", b"\x94\x00\x01\xc7\xc8\x01" + b"a" * 200
                   + b"\x90", BAD)

        # ---- truncated then close
        full = req(26, "checkin", [{"commit": "hostile", "status": "done", "text": "never"}])
        c = Client()
        c.send(full[:len(full) // 2])
        c.sock.shutdown(socket.SHUT_WR)
        objs, eof = c.read(until_eof=True)
        c.close()
        ok(eof and all(is_error(o, 0, BAD) for o in objs) and len(objs) <= 1,
           "truncated request then half-close: the daemon closes (at most an error with "
           "msgid 0)", "answers %r closed %s" % (objs, eof))
        health("a truncated request and a half-close")
        c = Client()
        c.send(full[:-1])
        c.close()
        c = Client()
        c.send(b"\x94\x00\x01\xdb\x00\x00")  # truncated inside a str32 length
        c.close()
        health("truncated requests and an abrupt close")

        # ---- well-formed, not a request: code 1, msgid when readable, stays usable
        case_error("a map, not an array", msgpack.packb({"method": "status"}), 0, 1)
        case_error("a bare integer", msgpack.packb(7), 0, 1)
        case_error("an empty array", msgpack.packb([]), 0, 1)
        case_error("array of 3 [0, 31, \"status\"]", msgpack.packb([0, 31, "status"]), 31, 1)
        case_error("array of 5 [0, 32, \"status\", [], nil]",
                   msgpack.packb([0, 32, "status", [], None]), 32, 1)
        case_error("type 1 (a response) sent by the client",
                   msgpack.packb([1, 33, "status", []]), 33, 1)
        case_error("type 2 (a notification) sent by the client",
                   msgpack.packb([2, "status", []]), 0, 1)
        case_error("msgid -1", msgpack.packb([0, -1, "status", []]), 0, 1)
        case_error("msgid a string", msgpack.packb([0, "34", "status", []]), 0, 1)
        case_error("msgid 2^32 (over uint32)", msgpack.packb([0, 2 ** 32, "status", []]), 0, 1)
        case_error("msgid a float", msgpack.packb([0, 35.0, "status", []]), 0, 1)
        case_error("method an int", msgpack.packb([0, 36, 42, []]), 36, 1)
        case_error("method a bin b\"status\"", msgpack.packb([0, 37, b"status", []]), 37, 1)
        case_error("method nil", msgpack.packb([0, 38, None, []]), 38, 1)
        case_error("unknown method", req(39, "no.such.method"), 39, 15)
        case_error("unknown method \"\"", req(40, ""), 40, 15)
        case_error("params an int (journal)", req(41, "journal", 5), 41, 1)
        case_error("params a string (journal)", req(42, "journal", "commit"), 42, 1)
        case_error("params [1] (journal)", req(43, "journal", [1]), 43, 1)
        case_error("params [{}, {}] (journal)", req(44, "journal", [{}, {}]), 44, 1)
        case_error("checkin status as int",
                   req(45, "checkin", [{"commit": "hostile", "status": 1}]), 45, 1, "status")
        case_error("checkin text as bin of 70 KiB",
                   req(46, "checkin", [{"commit": "hostile", "status": "done",
                                        "text": b"y" * (70 * 1024)}]), 46, 1, "text")
        case_error("checkin commit as map",
                   req(47, "checkin", [{"commit": {"id": "hostile"}, "status": "done"}]),
                   47, 1, "commit")
        case_error("checkin text a str of 70 KiB (over 64 KiB)",
                   req(48, "checkin", [{"commit": "hostile", "status": "done",
                                        "text": "y" * (70 * 1024)}]), 48, 1, "text")

        # ---- pipelining: 100 status requests in one write, answered in order
        c = Client()
        err = c.send(b"".join(req(1000 + i, "status") for i in range(100)))
        objs, eof = c.read(100)
        c.close()
        ok(err is None and len(objs) == 100
           and all(is_ok(o, 1000 + i) for i, o in enumerate(objs)),
           "100 pipelined status requests in one write: 100 answers, in order",
           "%d answers, msgids %r" % (len(objs), [o[1] if isinstance(o, list) and len(o) > 1
                                                  else o for o in objs][:12]))
        health("100 pipelined requests")

        print("# buddyd VmHWM before the never-reading client: %d kB"
              % rss_kb(DAEMON.proc.pid, "VmHWM"))
        parked_while_unlocking()
        never_reads()
        many_clients()
        other_uid()

        hwm = rss_kb(DAEMON.proc.pid, "VmHWM")
        ok(UNDER_VALGRIND or 0 < hwm < RSS_LIMIT_KB,
           "buddyd peak RSS (VmHWM) over the whole test under 64 MiB "
           "(%d kB)" % hwm)
    except Fail as e:
        print("# aborted: %s" % e)
    except Exception as e:  # noqa
        ok(False, "unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        if DAEMON is not None and DAEMON.proc is not None:
            rc = DAEMON.stop()
            ok(rc == 0, "daemon exits 0 on SIGTERM", str(rc))
            if failed():
                DAEMON.log_tail()
        shutil.rmtree(home, ignore_errors=True)
        print("# run time %.1f s" % (time.monotonic() - t0))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
