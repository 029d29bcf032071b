#!/usr/bin/python3
"""Hostile peers at the frame, Noise and MessagePack level against one real buddyd ("bob"), while
an honest real buddyd ("carol") syncs with it both ways; the stream quota, the alert rate limit
and the clock alert; and what the process shows of its secrets (SECURITY.md sections 1, 3, 4).

Every attacker is written from proto/PROTOCOL.md (buddy_peer.py, sync_hostile_test.py's
streams and sessions). Expected of each attack: the offending connection is closed (promptly,
or at the time limit the spec names), the limits hold exactly where the spec puts them (one
step inside is accepted), bob keeps serving, and at the end:

  - carol's and bob's streams to each other, posted while all of this ran, converged exactly
    once (every check-in stored once, in order, nothing waiting, no alert);
  - bob's peak memory (VmHWM) stayed under RSS_LIMIT_KB (skipped under valgrind, where the
    process is valgrind's, and ASan, whose quarantine keeps what buddyd freed).

  0. bob (frozen test clock, a note hook, short [peer] ping/idle when buddyd takes them) and
     carol paired; honest check-ins both ways from a thread, until section 6
  1. before authentication, on their own connections: oversized, empty and truncated handshake
     frames, a message 1 with a payload, a replayed message 1 and 3, a garbage message 3; a
     complete handshake by a stranger and by a buddy whose hello is hostile (2^32-element
     headers, deep nesting, ext types, trailing bytes, too long, naming another key); an
     invite proof relayed from another handshake (refused; the invite still pairs); running
     meanwhile: a slowloris (bytes trickled one at a time), a truncated frame then silence, a
     handshake left after message 2: each dropped at the 10 s handshake limit, not before
  2. after a valid handshake, as the paired "mallory", a fresh session each: oversized and
     truncated frames (then close; then silence: dropped at [peer] idle), frames that do not
     decrypt, replayed ciphertext frames (same session, next session), valid frames holding
     malformed MessagePack, wrong types, 2^32-element headers, nesting and object counts one
     past and at the limit, a plaintext of exactly 65519 bytes, sequence numbers far ahead and
     behind
  3. a flood of posts past the window (256 KiB unacknowledged; 52 MB in one write): the session
     is dropped before bob's memory follows the flood (it did follow, 52 MB, before buddyd held
     authors to the window); the same author, honest afterwards, gets every post stored once
  4. the stream quota (150,000 posts of one buddy): an honest-paced author fills it; a batch that
     straddles it and one past it are refused with a "quota" alert, once per hour (the test
     clock is moved 3601 s: a second alert)
  5. the alert rate limit (15.5: one per check and buddy per hour, every refusal logged) and the
     "clock" alert (a post stamped 2 days ahead: stored, alerted once)
  6. the honest buddies converged; bob's memory
  7. the process: a hook's open descriptors are 0, 1 and 2 only (O_CLOEXEC); bob's core limit
     is 0; a daemon ("dora", with a passphrase; run as nobody when the test runs as root) is not
     dumpable (its /proc files are root's, and another process of its uid cannot read its
     environ) and holds locked memory (VmLck) while unlocked, none after `buddy lock`

No sleeps as synchronisation: sockets are waited on with select() and a bound, daemon states
are polled through the CLI a bounded number of times; the honest thread paces its posts with
an Event wait (pacing, not synchronisation).

Needs (Debian): python3-dissononce python3-msgpack python3-cryptography
Run:  BUDDY=build/buddy BUDDYD=build/buddyd /usr/bin/python3 tests/integration/peer_hostile_test.py
"""

import collections
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import msgpack

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buddy_peer import (  # noqa: E402
    ACK, ADDRS, HEADS, PAIRED, PING, POSTS, TIMEOUT, Closed, Conn, Daemon, Fail,
    Identity, decode_invite, encode_hello, failed, finish, handshake_to, invite_id,
    invite_proof, ok, parse_listen, require)
import buddy_peer  # noqa: E402
from sync_hostile_test import (  # noqa: E402
    ZERO32, H, Peer, Session, Stream, encode_post, head_msg)

UNDER_VALGRIND = bool(os.environ.get("BUDDYD_REAL"))


def _sanitized():
    """buddyd built with AddressSanitizer (cmake -DBUDDY_SANITIZE=ON): its quarantine and
    shadow memory make VmHWM say nothing of buddyd's own, and it makes mlock() a no-op (locking
    the shadow would pin terabytes), so VmLck is 0 there."""
    try:
        with open(os.environ.get("BUDDYD_REAL") or buddy_peer.BUDDYD, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized()
HS_LIMIT = 10.0       # BUDDY_PEER_HANDSHAKE_MS / 1000
GRACE = 10.0 if UNDER_VALGRIND else 4.0  # scheduling slack on top of a time limit
PROMPT = 5.0          # a drop that must come at once: well before the handshake limit
WINDOW = 256 * 1024   # BUDDY_POSTS_WINDOW
QUOTA = 150000        # BUDDY_STREAM_IN_MAX
PEER_PING, PEER_IDLE = 2, 6  # the [peer] settings tried (seconds)
RSS_LIMIT_KB = 32 * 1024  # 9 MB measured; 31 MB before the window was enforced
FLOOD_POSTS = 800     # posts of 65,024 bytes sent at once (52 MB) in section 3
POLL_TRIES = 400
T_UNKNOWN = 99        # a post type from the future: stored, means nothing (15.3)
NOBODY = 65534

t_start = time.monotonic()


def cli(env, *args, check=True, timeout=60):
    r = subprocess.run([buddy_peer.BUDDY] + list(args), env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise Fail("buddy %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def cli_json(env, *args):
    return json.loads(cli(env, *(list(args) + ["--json"])).stdout)


def proc_field(pid, field, path="status"):
    """An integer field of /proc/PID/status (kB), or None."""
    try:
        with open("/proc/%d/%s" % (pid, path)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def core_limit(pid):
    """(soft, hard) of "Max core file size" in /proc/PID/limits, as strings."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                w = line.split()
                return w[4], w[5]
    return None


class Rpc:
    """A control-socket client (proto/CONTROL.md): [0, msgid, method, [params]]."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT * 3)
        self.s.connect(path)
        self.unp = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.msgid = 0

    def call(self, method, params):
        self.msgid += 1
        self.s.sendall(msgpack.packb([0, self.msgid, method, [params]], use_bin_type=True))
        while True:
            for v in self.unp:
                if v[1] != self.msgid:
                    raise Fail("answer to msgid %r, expected %r" % (v[1], self.msgid))
                return v[2], v[3]
            d = self.s.recv(65536)
            if not d:
                raise Fail("the daemon closed the control connection")
            self.unp.feed(d)

    def close(self):
        self.s.close()


class Home:
    """One real buddyd in a temporary home."""

    def __init__(self, name, **env):
        self.name = name
        self.home = tempfile.mkdtemp(prefix="buddy-ph-%s-" % name)
        # BUDDY_NO_START: this test starts its daemons; buddy must not start one on demand
        self.env = dict(os.environ, BUDDY_HOME=self.home, BUDDY_NO_START="1", **env)
        self.daemon = Daemon(self.home, self.env)
        self.sock = os.path.join(self.home, "buddyd.sock")

    def cli(self, *args, check=True):
        return cli(self.env, *args, check=check)

    def json(self, *args):
        return cli_json(self.env, *args)

    def show(self, name, recent=100):
        return self.json("show", name, "--recent", str(recent))

    def addr(self):
        return parse_listen(self.json("status"))

    def pid(self):
        return self.daemon.proc.pid

    def log(self):
        try:
            with open(self.daemon.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def wait_state(fn, tries=POLL_TRIES):
    """Poll fn() (a CLI read) until it returns a true value, at most `tries` times."""
    v = None
    for _ in range(tries):
        v = fn()
        if v:
            return v
    return v


def alert_list(show):
    return sorted((a.get("kind"), a.get("seq")) for a in show.get("alerts") or [])


def kinds(show):
    return collections.Counter(a.get("kind") for a in show.get("alerts") or [])


# ---------------------------------------------------------------- MessagePack by hand


def nest(k, inner=b"\x90"):
    """k nested arrays (the innermost an empty array): depth k."""
    return b"\x91" * (k - 1) + inner


def pk_map(pairs):
    """A map of raw (already packed) keys and values."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def s(key):
    return msgpack.packb(key)


def msg(typ, body_raw):
    return b"\x92" + msgpack.packb(typ) + body_raw


# ---------------------------------------------------------------- pre-authentication threads


class Background(threading.Thread):
    """A hostile connection that runs while the main thread goes on; result: (how, seconds from
    connect to the drop, detail)."""

    def __init__(self, name, fn):
        super().__init__(daemon=True)
        self.label, self.fn = name, fn
        self.result = ("not run", 0.0, "")

    def run(self):
        try:
            self.result = self.fn()
        except Exception as e:  # noqa
            self.result = ("error", 0.0, repr(e))


def wait_close(sock, t0, limit, trickle=b""):
    """Reads (and, every 0.25 s, sends the next byte of `trickle`) until the peer closes or
    `limit` seconds after t0. Returns (how, seconds after t0, bytes trickled)."""
    sent = 0
    while True:
        left = t0 + limit - time.monotonic()
        if left <= 0:
            return "open", time.monotonic() - t0, sent
        rl, _, _ = select.select([sock], [], [], min(0.25, left) if trickle else left)
        if rl:
            try:
                d = sock.recv(65536)
            except (ConnectionResetError, OSError):
                return "rst", time.monotonic() - t0, sent
            if not d:
                return "eof", time.monotonic() - t0, sent
            continue
        if sent < len(trickle):
            try:
                sock.send(trickle[sent:sent + 1])
            except OSError:
                return "rst", time.monotonic() - t0, sent
            sent += 1


def bg_slowloris(addr):
    """A valid message 1 and then a message 3 frame, one byte every 0.25 s: never silent."""
    def fn():
        t0 = time.monotonic()
        sock = socket.create_connection(addr, timeout=TIMEOUT)
        data = b"\x00\x20" + os.urandom(32) + b"\x00\x60" + os.urandom(96)
        how, t, sent = wait_close(sock, t0, HS_LIMIT + GRACE, trickle=data)
        sock.close()
        return how, t, "%d bytes trickled" % sent
    return fn


def bg_silent(addr, first):
    def fn():
        t0 = time.monotonic()
        sock = socket.create_connection(addr, timeout=TIMEOUT)
        sock.sendall(first)
        how, t, _ = wait_close(sock, t0, HS_LIMIT + GRACE)
        sock.close()
        return how, t, ""
    return fn


def bg_after_msg2(addr):
    """A real message 1 (a stranger's), bob's message 2 read, then nothing."""
    def fn():
        t0 = time.monotonic()
        c = Conn(addr[0], addr[1], Identity())
        c.msg1()
        c.msg2()
        how, t, _ = wait_close(c.sock, t0, HS_LIMIT + GRACE)
        c.close()
        return how, t, ""
    return fn


def prompt_close(sock, limit=PROMPT):
    how, t, _ = wait_close(sock, time.monotonic(), limit)
    return how in ("eof", "rst"), "%s after %.2fs" % (how, t)


# ---------------------------------------------------------------- the honest traffic


class Honest(threading.Thread):
    """Check-ins on carol's walk (shared with bob) and bob's read (shared with carol), through
    the control sockets, one of each per round until stopped (at least MIN, at most MAX)."""
    MIN, MAX = 20, 600

    def __init__(self, bob, carol):
        super().__init__(daemon=True)
        self.bob, self.carol = bob, carol
        self.stop = threading.Event()
        self.texts = {"carol": [], "bob": []}
        self.errors = []

    def run(self):
        try:
            rc, rb = Rpc(self.carol.sock), Rpc(self.bob.sock)
            i = 0
            while i < self.MAX:
                i += 1
                for who, r, commit in (("carol", rc, "walk"), ("bob", rb, "read")):
                    text = "%s-HONEST-%d." % (who.upper(), i)
                    err, res = r.call("checkin", {"commit": commit, "status": "done",
                                                  "text": text})
                    if err is not None:
                        self.errors.append((who, i, err))
                        return
                    self.texts[who].append(text)
                if self.stop.wait(0.05) and i >= self.MIN:
                    break
            rc.close()
            rb.close()
        except Exception as e:  # noqa
            self.errors.append(repr(e))


# ---------------------------------------------------------------- the test


def main():
    now = int(time.time())
    bob = Home("bob", BUDDY_TEST_CLOCK=str(now))
    carol = Home("carol")
    cleanups = []
    sessions = []
    threads = []
    honest = None
    scratch = tempfile.mkdtemp(prefix="buddy-ph-scratch-")
    peers = {}

    def raw_session(pe, timeout=TIMEOUT):
        """A handshake as pe, then bob's first transport message (a PING: we are admitted)."""
        c = handshake_to(pe.addr[0], pe.addr[1], pe.me, pe.bob)
        if not all(c.checks):
            raise Fail("%s: handshake message 2 checks failed: %r" % (pe.name, c.checks))
        ss = Session(c, pe)
        sessions.append(ss)
        typ, _ = ss.read(timeout)
        if typ != PING:
            raise Fail("%s: bob's first transport message is %d, not PING" % (pe.name, typ))
        return ss

    def end(ss):
        ss.close()
        if ss in sessions:
            sessions.remove(ss)

    def pair(name):
        host, port = bob.addr()
        inv = decode_invite(bob.cli("invite", "--name", name, "--address",
                                    "%s:%d" % (host, port)).stdout.strip())
        pe = Peer(name, Identity(), inv["inviter"])
        pe.addr = inv["addrs"][0]
        c = handshake_to(pe.addr[0], pe.addr[1], pe.me, pe.bob, secret=inv["secret"])
        require(all(c.checks), "%s: pairing message 2 checks pass, message 3 sent" % name)
        ss = Session(c, pe)
        typ, body = ss.read()
        require(typ == PAIRED, "%s pairs with bob (PAIRED)" % name, repr((typ, body)))
        ss.close()
        peers[name] = pe
        return pe

    def wait_ack(ss, h):
        """The h of bob's ACKs until one reaches h (an older one may come first: the ACK
        right after bob's HEADS); bounded by TIMEOUT."""
        deadline = time.monotonic() + TIMEOUT
        got = -1
        while got < h:
            body, _ = ss.wait_for(ACK, max(0.01, deadline - time.monotonic()))
            got = max(got, body.get("h", -1))
        return got

    def alive(label):
        st = bob.json("status")
        ok(bob.daemon.running() and st.get("state") == "unlocked",
           "%s: bob's buddyd still serves (status: unlocked)" % label, repr(st.get("state")))

    def send_window(ss, stream, first, last, per_batch=1024):
        """Posts first..last as an honest author (15.5): batches that fit a frame, at most
        WINDOW bytes of posts unacknowledged. Returns the last ACK's h."""
        acked, nxt, inflight = first - 1, first, collections.deque()
        while acked < last:
            while nxt <= last:
                # as buddyd's pump: posts + BUDDY_POSTS_OVERHEAD(n) within a frame's plaintext
                n, size = 1, len(stream.posts[nxt - 1])
                while n < per_batch and nxt + n <= last and \
                        size + len(stream.posts[nxt + n - 1]) + 96 + 5 * (n + 1) <= 65519:
                    size += len(stream.posts[nxt + n - 1])
                    n += 1
                nbytes = sum(len(p) for p in stream.posts[nxt - 1:nxt - 1 + n])
                if inflight and sum(b for _, b in inflight) + nbytes > WINDOW:
                    break
                ss.send(POSTS, stream.batch(nxt, nxt + n - 1))
                inflight.append((nxt + n - 1, nbytes))
                nxt += n
            body, _ = ss.wait_for(ACK, TIMEOUT * 3)
            acked = max(acked, body.get("h", 0))
            while inflight and inflight[0][0] <= acked:
                inflight.popleft()
        return acked

    try:
        # ---------------------------------------------------------------- 0. setup
        for h in (bob, carol):
            h.cli("init", "--no-passphrase", "--kdf", "interactive")
        hook = os.path.join(scratch, "fdhook.py")
        fds_out = os.path.join(scratch, "hook.fds")
        with open(hook, "w") as f:
            f.write("#!/usr/bin/python3 -I\n"
                    "# lists its open descriptors, as inherited from buddyd\n"
                    "import json, os, sys\n"
                    "me = '/proc/%d/fd' % os.getpid()\n"
                    "fds = {}\n"
                    "for fd in os.listdir('/proc/self/fd'):\n"
                    "    try:\n"
                    "        t = os.readlink('/proc/self/fd/' + fd)\n"
                    "    except OSError:\n"
                    "        continue  # the directory listing's own descriptor\n"
                    "    if t != me:\n"
                    "        fds[fd] = t\n"
                    "with open(sys.argv[1] + '.tmp', 'w') as o:\n"
                    "    json.dump(fds, o)\n"
                    "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n")
        os.chmod(hook, 0o700)
        base_cfg = "[hooks]\nnote = %s %s\n" % (hook, fds_out)
        cfg_path = os.path.join(bob.home, "config")

        def write_cfg(text):
            with open(cfg_path, "w") as f:
                f.write(text)
            os.chmod(cfg_path, 0o600)

        write_cfg(base_cfg + "\n[peer]\nping = %ds\nidle = %ds\n" % (PEER_PING, PEER_IDLE))
        ready = bob.daemon.start()
        peer_idle = None
        if ready == b"ready\n":
            peer_idle = PEER_IDLE
            print("# bob runs with [peer] ping = %ds, idle = %ds" % (PEER_PING, PEER_IDLE))
        else:
            why = [ln for ln in bob.log().splitlines() if "config" in ln][-1:]
            print("# buddyd does not take [peer] ping/idle yet (%s): the checks that need a "
                  "short idle limit are skipped" % (why[0] if why else "?"))
            bob.daemon.stop()
            write_cfg(base_cfg)
            ready = bob.daemon.start()
        require(ready == b"ready\n", "bob's buddyd starts (a note hook, frozen test clock)",
                repr(ready))
        require(carol.daemon.start() == b"ready\n", "carol's buddyd starts")
        host, port = bob.addr()
        addr = (host, port)
        code = bob.cli("invite", "--name", "carol", "--address",
                       "%s:%d" % addr).stdout.strip().splitlines()[0]
        carol.cli("accept", code, "--name", "bob")
        r = bob.cli("buddies", "--wait", "carol", "--timeout", "20s", check=False)
        require(r.returncode == 0, "bob and carol are paired and online", r.stderr)
        carol.cli("commit", "add", "walk", "Walk", "--daily", "--tz", "UTC")
        carol.cli("share", "walk", "--with", "bob")
        bob.cli("commit", "add", "read", "Read", "--daily", "--tz", "UTC")
        bob.cli("share", "read", "--with", "carol")
        print("# bob pid %d at %s:%d, carol pid %d" % (bob.pid(), host, port, carol.pid()))
        hwm0 = proc_field(bob.pid(), "VmHWM")
        print("# bob's VmHWM after setup: %s kB" % hwm0)

        # running while everything else does
        threads = [
            Background("slowloris", bg_slowloris(addr)),
            Background("truncated message 1, then silence",
                       bg_silent(addr, b"\x00\x20" + os.urandom(10))),
            Background("half a length prefix, then silence", bg_silent(addr, b"\x00")),
            Background("message 1 sent, message 2 read, then silence", bg_after_msg2(addr)),
        ]
        for t in threads:
            t.start()
        honest = Honest(bob, carol)
        honest.start()

        # ---------------------------------------------------------------- 1. unauthenticated
        print("# 1. before authentication")
        mal = pair("mallory")

        def conn_send(data, shut=False):
            sock = socket.create_connection(addr, timeout=TIMEOUT)
            sock.sendall(data)
            if shut:
                sock.shutdown(socket.SHUT_WR)
            return sock

        for label, data, shut in (
                ("a handshake frame declaring 65535 bytes (10 sent)",
                 b"\xff\xff" + os.urandom(10), False),
                ("a handshake frame declaring 1121 bytes (the longest is 1120)",
                 b"\x04\x61" + os.urandom(200), False),
                ("a zero-length frame", b"\x00\x00", False),
                ("message 1 with a payload (33 bytes)", b"\x00\x21" + os.urandom(33), False),
                ("message 1 cut short, then the connection closed",
                 b"\x00\x20" + os.urandom(20), True),
                ("4 KiB of random bytes", os.urandom(4096), False),
        ):
            sock = conn_send(data, shut)
            closed, why = prompt_close(sock)
            sock.close()
            ok(closed, "1 %s: bob closes the connection at once (%s)" % (label, why))

        # a complete message 1, then a bad message 3
        for label, m3 in (("a garbage message 3 (96 bytes)", b"\x00\x60" + os.urandom(96)),
                          ("a message 3 frame declaring 4096 bytes",
                           b"\x10\x00" + os.urandom(100))):
            c = Conn(host, port, Identity())
            c.msg1()
            c.msg2()
            c.sock.sendall(m3)
            closed, why = prompt_close(c.sock)
            c.close()
            ok(closed, "1 %s: bob closes the connection at once (%s)" % (label, why))

        # replayed handshake: mallory's recorded messages 1 and 3 sent again on a new
        # connection (bob answers message 1 with new keys: the old message 3 cannot decrypt)
        c = Conn(host, port, mal.me)
        sent = []
        orig = c.write_frame
        c.write_frame = lambda m: (sent.append(struct.pack(">H", len(m)) + m), orig(m))
        c.msg1()
        c.msg2()
        c.msg3(encode_hello(mal.me))
        typ, _, _ = c.recv()
        ok(typ == PING, "1 mallory's recorded handshake is a real one (bob admitted it: PING)")
        c.close()
        sock = conn_send(sent[0])
        got = b""
        deadline = time.monotonic() + TIMEOUT
        while len(got) < 2 or len(got) < 2 + struct.unpack(">H", got[:2])[0]:
            rl, _, _ = select.select([sock], [], [], max(0, deadline - time.monotonic()))
            d = sock.recv(65536) if rl else b""
            if not d:
                break
            got += d
        ok(len(got) >= 2 and len(got) == 2 + struct.unpack(">H", got[:2])[0],
           "1 a replayed message 1 gets a message 2 (bob cannot tell yet)", repr(len(got)))
        sock.sendall(sent[1])
        closed, why = prompt_close(sock)
        sock.close()
        ok(closed, "1 then the replayed message 3: bob closes the connection at once (%s)" % why)

        # complete handshakes whose hello is hostile: by a stranger, and by mallory (a buddy)
        def sized_hello(ident, n):
            """A hello with an unknown key "z" (a bin) making it exactly n bytes."""
            for k in range(n):
                b = msgpack.packb({"v": 1, "id": ident.pk, "z": bytes(k)}, use_bin_type=True)
                if len(b) == n:
                    return b
            raise AssertionError(n)

        def hellos(ident):
            good = encode_hello(ident)
            return [
                ("a hello that is a map32 declaring 2^32-1 pairs", b"\xdf\xff\xff\xff\xff"),
                ("a hello that is an array32 declaring 2^32-1 elements",
                 b"\xdd\xff\xff\xff\xff" + b"\x00" * 8),
                ("a hello whose id is a bin32 declaring 4 GiB",
                 pk_map([(s("v"), b"\x01"), (s("id"), b"\xc6\xff\xff\xff\xff")])),
                ("a hello nested 100 levels", pk_map([(s("v"), b"\x01"),
                                                      (s("x"), nest(100))])),
                ("a hello with an ext type", pk_map([(s("v"), b"\x01"),
                                                     (s("x"), b"\xd4\x01\x00")])),
                ("a valid hello with a trailing byte", good + b"\x00"),
                ("a hello of 1025 bytes (limit 1024)", sized_hello(ident, 1025)),
                ("a hello naming another key than the handshake's",
                 encode_hello(Identity())),
                ("a hello that is not a map", msgpack.packb([1, ident.pk])),
            ]

        for who, ident in (("a stranger", Identity()), ("mallory", mal.me)):
            for label, payload in hellos(ident):
                c = Conn(host, port, ident)
                c.msg1()
                c.msg2()
                try:
                    c.msg3(payload)
                    res = c.expect_silent_close(PROMPT)
                except Closed as e:
                    res = (True, str(e))
                c.close()
                ok(res[0], "1 %s, %s: bob closes without a word (%s)" % (who, label, res[1]))
        c = Conn(host, port, Identity())
        c.msg1()
        c.msg2()
        c.msg3(encode_hello(c.ident))
        res = c.expect_silent_close(PROMPT)
        c.close()
        ok(res[0], "1 a stranger's valid handshake: bob closes after message 3 (%s)" % res[1])

        # an invite proof relayed from another handshake (PROTOCOL.md 7.1: bound to h2), as a
        # man in the middle between the accepter and the inviter would relay it: refused; the
        # invite still pairs its accepter afterwards
        inv = decode_invite(bob.cli("invite", "--name", "victor", "--address",
                                    "%s:%d" % addr).stdout.strip())
        victor, mitm = Identity(), Identity()
        a = Conn(host, port, victor)
        a.msg1()
        h2a = a.msg2()[2]
        b = Conn(host, port, mitm)
        b.msg1()
        h2b = b.msg2()[2]
        b.msg3(encode_hello(mitm, inv=invite_id(inv["secret"]),
                            prf=invite_proof(inv["secret"], h2a)))
        res = b.expect_silent_close(PROMPT)
        a.close()
        b.close()
        ok(h2a != h2b and res[0], "1 an invite proof made over another handshake's h2, relayed "
           "by another key: bob closes without a word (%s)" % res[1])
        c = handshake_to(host, port, victor, inv["inviter"], secret=inv["secret"])
        typ = None
        try:
            typ = c.recv()[0]
        except (Closed, OSError, ValueError) as e:
            print("# %r" % e)
        c.close()
        ok(typ == PAIRED, "1 ... and the invite, not used up by it, pairs its accepter (PAIRED)",
           repr(typ))
        alive("1")

        # ---------------------------------------------------------------- 2. authenticated
        print("# 2. after a valid handshake, as the paired mallory")
        # mallory's honest baseline (4 posts), so that sequence numbers mean something
        ss = raw_session(mal)
        mal.start(ss)
        now_b = now
        for i in range(4):
            mal.out.add(now_b - 100 + i, T_UNKNOWN, {"i": i})
        ss.send(POSTS, mal.out.batch(1, 4))
        require(wait_ack(ss, 4) == 4, "2 mallory's baseline of 4 posts is acknowledged")
        end(ss)

        def attack(label, send, accepted=False, timeout=PROMPT):
            """A fresh session; send(ss); bob must close it at once (or, accepted, answer a
            PING after it)."""
            ss = raw_session(mal)
            t0 = time.monotonic()
            try:
                send(ss)
                if accepted:
                    ss.sync()
                    ok(True, "2 %s: accepted, the session goes on (PONG)" % label)
                    end(ss)
                    return
            except (Closed, OSError) as e:
                if accepted:
                    ok(False, "2 %s: accepted, the session goes on (PONG)" % label, repr(e))
                    end(ss)
                    return
            closed, why, _ = ss.expect_close(timeout)
            ok(closed, "2 %s: bob closes the session (%s, %.2fs)"
               % (label, why, time.monotonic() - t0))
            end(ss)

        def raw(data):
            return lambda ss: ss.c.sock.sendall(data)

        def plain(pt):
            return lambda ss: ss.c.send_plain(pt)

        # frames
        attack("a 65535-byte frame of random bytes (does not decrypt)",
               raw(b"\xff\xff" + os.urandom(65535)))
        attack("a 15-byte frame (shorter than the tag)", raw(b"\x00\x0f" + os.urandom(15)))
        attack("a zero-length frame", raw(b"\x00\x00"))
        attack("a 64-byte frame of random bytes", raw(b"\x00\x40" + os.urandom(64)))

        def truncated_then_close(ss):
            ss.c.sock.sendall(b"\xff\xff" + os.urandom(1000))
            ss.c.sock.shutdown(socket.SHUT_WR)
        attack("a frame declaring 65535 bytes, 1000 sent, then the connection closed",
               truncated_then_close)

        # replayed ciphertext: the same frame twice on one session, and a session's first
        # frame as the first frame of the next one
        captured = []

        def replay_same(ss):
            orig = ss.c.write_frame
            ss.c.write_frame = lambda m: (captured.append(struct.pack(">H", len(m)) + m),
                                          orig(m))
            ss.sync()  # a PING (captured), answered
            ss.c.sock.sendall(captured[0])
        attack("a captured PING frame sent again on its session (nonce already used)",
               replay_same)
        attack("a session's first frame replayed as the first frame of the next session "
               "(other keys)", raw(captured[0]))

        # valid frames holding malformed MessagePack
        for label, pt in (
                ("an empty plaintext", b""),
                ("the never-used byte 0xc1", b"\xc1"),
                ("a truncated array", b"\x92\x01"),
                ("a PING with a trailing byte", msgpack.packb([PING, {"n": 1}]) + b"\x00"),
                ("two PINGs in one plaintext", msgpack.packb([PING, {"n": 1}]) * 2),
                ("a map, not [type, body]", msgpack.packb({"t": 1})),
                ("a 3-element array", msgpack.packb([PING, {"n": 1}, 0])),
                ("a type that is a str", msgpack.packb(["1", {"n": 1}])),
                ("a negative type", msgpack.packb([-1, {}])),
                ("a type that is a float", msgpack.packb([1.0, {"n": 1}])),
                ("a body that is nil", msgpack.packb([PING, None])),
                ("a body that is an array", msgpack.packb([HEADS, [0]])),
                ("an ext type in a PING", msgpack.packb([PING, {"n": msgpack.ExtType(1, b"x")}])),
                ("an ext type in a message of unknown type 99",
                 msgpack.packb([99, {"x": msgpack.ExtType(1, b"x")}])),
        ):
            attack("malformed MessagePack: %s" % label, plain(pt))

        # wrong types in known bodies
        x32 = os.urandom(32)
        for label, m in (
                ("PING n a str", [PING, {"n": "1"}]),
                ("PING without n", [PING, {}]),
                ("PING n negative", [PING, {"n": -1}]),
                ("HEADS h a str", [HEADS, {"h": "4", "x": x32}]),
                ("HEADS x of 31 bytes", [HEADS, {"h": 4, "x": x32[:31]}]),
                ("HEADS x a str", [HEADS, {"h": 4, "x": "x" * 32}]),
                ("POSTS p a map", [POSTS, {"p": {"a": 1}, "s": bytes(64)}]),
                ("POSTS s of 63 bytes", [POSTS, {"p": [mal.out.posts[0]], "s": bytes(63)}]),
                ("ACK r of 63 bytes", [ACK, {"h": 4, "x": x32, "r": bytes(63)}]),
                ("ACK h negative", [ACK, {"h": -4, "x": x32, "r": bytes(64)}]),
                ("ADDRS a a str", [ADDRS, {"a": "127.0.0.1:1"}]),
                ("ADDRS with 9 addresses", [ADDRS, {"a": [["127.0.0.1", 1000 + i]
                                                         for i in range(9)]}]),
                ("ADDRS naming a host by name", [ADDRS, {"a": [["example.com", 7654]]}]),
        ):
            attack("wrong type: %s" % label, plain(msgpack.packb(m, use_bin_type=True)))

        # headers declaring more than the plaintext can hold, before anything is allocated
        for label, pt in (
                ("an array32 declaring 2^32-1 elements", b"\xdd\xff\xff\xff\xff\x01"),
                ("a body that is a map32 declaring 2^32-1 pairs",
                 msg(PING, b"\xdf\xff\xff\xff\xff")),
                ("POSTS p an array32 declaring 2^32-1 posts",
                 msg(POSTS, pk_map([(s("p"), b"\xdd\xff\xff\xff\xff"),
                                    (s("s"), msgpack.packb(bytes(64)))]))),
                ("a bin32 declaring 4 GiB",
                 msg(POSTS, pk_map([(s("p"), b"\x91\xc6\xff\xff\xff\xff"),
                                    (s("s"), msgpack.packb(bytes(64)))]))),
                ("a str32 key declaring 4 GiB", msg(PING, b"\x81\xdb\xff\xff\xff\xff")),
                ("an array16 of 65535 elements (more objects than the limit)",
                 msg(PING, pk_map([(s("n"), b"\x01"), (s("z"), b"\xdc\xff\xff" +
                                                       b"\x00" * 65535)]))[:65519]),
        ):
            attack("huge header: %s" % label, plain(pt))
        # a post whose body declares 2^32-1 pairs, inside a validly signed batch
        hp = b"\x96\x05\xc4\x20" + H(mal.out.posts[3]) + msgpack.packb(now_b) + \
            bytes([T_UNKNOWN]) + b"\xdf\xff\xff\xff\xff"
        attack("huge header: a post whose body is a map32 of 2^32-1 pairs (signed batch)",
               lambda ss: ss.send(POSTS, {"p": [hp], "s": mal.out.sig(5, hp)}))

        # nesting and object counts: one past the limit (8 levels, 16384 objects) and at it
        deep = lambda k: msg(PING, pk_map([(s("n"), b"\x01"), (s("z"), nest(k))]))  # noqa
        attack("nesting of 9 levels (limit 8)", plain(deep(7)))
        attack("nesting of 8 levels", plain(deep(6)), accepted=True)
        attack("65519 bytes of nested arrays (depth 65519)", plain(b"\x91" * 65518 + b"\x90"))
        objs = lambda k: msg(PING, pk_map([(s("n"), b"\x01"), (s("z"), b"\xdc" +  # noqa
                                                               struct.pack(">H", k) +
                                                               b"\x00" * k)]))
        attack("16385 objects (limit 16384)", plain(objs(16385 - 7)))
        attack("16384 objects", plain(objs(16384 - 7)), accepted=True)
        # [1, {"n": 1, "z": bin 16 of L}] is 11 + L bytes
        big_pt = msg(PING, pk_map([(s("n"), b"\x01"),
                                   (s("z"), b"\xc5" + struct.pack(">H", 65508) +
                                    bytes(65508))]))
        require(len(big_pt) == 65519, "2 the largest plaintext built is 65519 bytes",
                repr(len(big_pt)))
        attack("a plaintext of exactly 65519 bytes (the largest)", plain(big_pt),
               accepted=True)
        attack("an unknown message type 99", plain(msgpack.packb([99, {"x": 1}])),
               accepted=True)
        attack("PING n = 2^64-1", plain(msgpack.packb([PING, {"n": 2**64 - 1}])),
               accepted=True)

        # sequence numbers far ahead and behind (15.5: a gap, duplicates)
        for seq in (2**63, 2**64 - 1):
            p = encode_post(seq, os.urandom(32), now_b, T_UNKNOWN, {})
            attack("POSTS with seq %d (far ahead: a gap)" % seq,
                   lambda ss, p=p, seq=seq: ss.send(POSTS, {"p": [p], "s": mal.me.sign(
                       head_msg(mal.me.pk, mal.bob, seq, H(p)))}))
        wrap = [encode_post(2**64 - 1, os.urandom(32), now_b, T_UNKNOWN, {})]
        wrap.append(encode_post(1, H(wrap[0]), now_b, T_UNKNOWN, {}))
        wrap[1] = b"\x96\x00" + wrap[1][2:]  # seq 0: 2^64-1 + 1 wrapped
        attack("POSTS with seq 2^64-1 then 0 (wrapped)",
               lambda ss: ss.send(POSTS, {"p": wrap, "s": bytes(64)}))
        attack("POSTS 1..4 again (far behind: duplicates, acknowledged again)",
               lambda ss: (ss.send(POSTS, mal.out.batch(1, 4)), ss.wait_for(ACK)),
               accepted=True)
        attack("ACK h = 2^64-1", plain(msgpack.packb(
            [ACK, {"h": 2**64 - 1, "x": x32, "r": bytes(64)}], use_bin_type=True)))
        attack("HEADS h = 2^64-1 (bob holds no stream for mallory: ahead)",
               plain(msgpack.packb([HEADS, {"h": 2**64 - 1, "x": x32, "f": 0}],
                                   use_bin_type=True)), accepted=True)
        sh = bob.show("mallory")
        ok(sh.get("received") == 4 and sh.get("fork") is None,
           "2 mallory's stream: still the 4 posts, no fork", repr((sh.get("received"),
                                                                  sh.get("fork"))))
        ok({"gap", "malformed", "ack", "ahead"} <= set(kinds(sh)),
           "2 alerts for mallory: gap, malformed, ack, ahead (among others)",
           repr(alert_list(sh)))

        # a truncated frame, then silence: dropped at the idle limit
        sid = pair("sid")
        if peer_idle:
            ss = raw_session(sid)
            ss.c.sock.sendall(b"\xff\xff" + os.urandom(500))
            t0 = time.monotonic()
            how, t, _ = wait_close(ss.c.sock, t0, peer_idle + GRACE)
            end(ss)
            ok(how in ("eof", "rst") and t >= peer_idle - 1,
               "2 a frame declaring 65535 bytes, 500 sent, then silence: dropped at the idle "
               "limit (%ds), not before (%s after %.1fs)" % (peer_idle, how, t))
        else:
            print("# skip: a truncated frame then silence after the handshake is dropped at "
                  "the idle limit, 90 s by default ([peer] idle not configurable yet)")
        alive("2")

        # ---------------------------------------------------------------- 3. flood
        print("# 3. a flood of posts past the window")
        fio = pair("fiona")
        t3 = time.monotonic()
        for i in range(FLOOD_POSTS):
            fio.out.add(now_b, T_UNKNOWN, {"i": i}, size=65024)
        ss = raw_session(fio)
        hwm_before = proc_field(bob.pid(), "VmHWM")
        # every frame encrypted first and written in one go: bob finds many whole frames at
        # each read, however fast its disk is (it stages them before any write completes)
        burst = b"".join(
            struct.pack(">H", len(ct)) + ct for ct in (
                ss.c.tx.encrypt_with_ad(b"", msgpack.packb([POSTS, fio.out.batch(i + 1, i + 1)],
                                                           use_bin_type=True))
                for i in range(FLOOD_POSTS)))
        whole = False
        try:
            ss.c.sock.settimeout(TIMEOUT * 3)
            ss.c.sock.sendall(burst)
            whole = True
        except OSError as e:
            print("# the flood's write failed: %r" % e)
        del burst
        closed, why, _ = ss.expect_close(TIMEOUT)
        end(ss)
        ok(closed and not whole,
           "3 %d posts of 65,024 bytes in one write, without waiting for an ACK: bob drops the "
           "session before reading them all (%s)" % (FLOOD_POSTS, why))
        hwm = proc_field(bob.pid(), "VmHWM")
        print("# bob's VmHWM before the flood %s kB, after %s kB" % (hwm_before, hwm))
        ok(UNDER_VALGRIND or hwm - hwm_before < 4 * WINDOW // 1024 + 16 * 1024,
           "3 bob's peak memory grew by less than 16 MiB + 4 windows (%d kB) under a 52 MB "
           "flood" % (hwm - hwm_before))
        # the same author, honest now: resumes from bob's HEADS
        ss = raw_session(fio)
        fio.start(ss)
        h = (ss.heads or {}).get("h", -1)
        ok(0 <= h <= FLOOD_POSTS, "3 fiona's next session: bob's HEADS says h = %d" % h)
        acked = send_window(ss, fio.out, h + 1, FLOOD_POSTS) if h >= 0 else -1
        end(ss)
        sh = bob.show("fiona")
        ok(acked == FLOOD_POSTS and sh.get("received") == FLOOD_POSTS and not sh.get("alerts")
           and sh.get("fork") is None,
           "3 resumed within the window: all %d posts stored exactly once, acknowledged, no "
           "alert" % FLOOD_POSTS, repr((acked, sh.get("received"), sh.get("alerts"))))
        print("# section 3 took %.1f s" % (time.monotonic() - t3))
        alive("3")

        # ---------------------------------------------------------------- 4. quota
        print("# 4. the stream quota: %d posts" % QUOTA)
        t4 = time.monotonic()
        qui = pair("quinn")
        qs = Stream(qui.me, qui.bob)
        prev = ZERO32
        for i in range(QUOTA + 1):
            unp = msgpack.packb([i + 1, prev, now_b, T_UNKNOWN, {}], use_bin_type=True)
            p = b"\x96" + unp[1:] + b"\xc5\x00\x00"
            qs.posts.append(p)
            prev = H(p)
        print("# %d posts built in %.1f s" % (QUOTA + 1, time.monotonic() - t4))
        ss = raw_session(qui)
        qui.start(ss)
        acked = send_window(ss, qs, 1, QUOTA - 1)
        ok(acked == QUOTA - 1, "4 quinn's %d posts, sent within the window, acknowledged "
           "(%.1f s)" % (QUOTA - 1, time.monotonic() - t4), repr(acked))
        # a batch that straddles the quota: 149,995..150,001
        ss.send(POSTS, qs.batch(QUOTA - 5, QUOTA + 1))
        closed, why, msgs = ss.expect_close(PROMPT)
        end(ss)
        ok(closed and not any(t == ACK for t, _ in msgs),
           "4 a batch straddling the quota (%d..%d): refused, the session closed (%s)"
           % (QUOTA - 5, QUOTA + 1, why))
        sh = wait_state(lambda: (lambda v: v if v.get("alerts") else None)(bob.show("quinn")))
        ok(sh and sh.get("received") == QUOTA - 1 and alert_list(sh) == [("quota", QUOTA + 1)],
           "4 nothing of it stored (received %d), one 'quota' alert" % (QUOTA - 1),
           repr(sh and (sh.get("received"), alert_list(sh))))
        ss = raw_session(qui)
        qui.start(ss)
        ok((ss.heads or {}).get("h") == QUOTA - 1, "4 bob's HEADS: h = %d" % (QUOTA - 1))
        ss.send(POSTS, qs.batch(QUOTA, QUOTA))
        h = wait_ack(ss, QUOTA)
        ok(h == QUOTA, "4 post %d, the last within the quota: acknowledged" % QUOTA, repr(h))
        ss.send(POSTS, qs.batch(QUOTA + 1, QUOTA + 1))
        closed, why, msgs = ss.expect_close(PROMPT)
        end(ss)
        ok(closed and not any(t == ACK and b.get("h", 0) > QUOTA for t, b in msgs),
           "4 post %d: refused, the session closed (%s)" % (QUOTA + 1, why))
        sh = bob.show("quinn")
        ok(sh.get("received") == QUOTA and alert_list(sh) == [("quota", QUOTA + 1)],
           "4 received %d; still one 'quota' alert: the second refusal within the hour is "
           "logged, not recorded (15.5)" % QUOTA, repr((sh.get("received"), alert_list(sh))))
        print("# section 4 took %.1f s" % (time.monotonic() - t4))
        alive("4")

        # ---------------------------------------------------------------- 5. alert rate limit
        print("# 5. alert rate limit and the clock alert")
        rita = pair("rita")

        def refuse_empty(pe):
            ss = raw_session(pe)
            ss.send(POSTS, {"p": [], "s": bytes(64)})
            closed, _, _ = ss.expect_close(PROMPT)
            end(ss)
            return closed

        c1 = refuse_empty(rita)
        sh1 = wait_state(lambda: (lambda v: v if v.get("alerts") else None)(bob.show("rita")))
        c2 = refuse_empty(rita)
        sh2 = bob.show("rita")
        rid = rita.me.pk[:4].hex()
        nlog = len(re.findall(r"buddy %s: refused \(malformed\)" % rid, bob.log()))
        ok(c1 and c2 and sh1 and kinds(sh1) == {"malformed": 1} and kinds(sh2) ==
           {"malformed": 1},
           "5 two malformed batches from rita within the hour: both refused, one 'malformed' "
           "alert", repr(alert_list(sh2)))
        ok(nlog == 2, "5 ... and both refusals are in bob's log (%d lines)" % nlog)

        cleo = pair("cleo")
        ss = raw_session(cleo)
        cleo.start(ss)
        ahead = now_b + 2 * 86400
        cleo.out.add(ahead, T_UNKNOWN, {})
        cleo.out.add(ahead + 1, T_UNKNOWN, {})
        ss.send(POSTS, cleo.out.batch(1, 1))
        h1 = wait_ack(ss, 1)
        ss.send(POSTS, cleo.out.batch(2, 2))
        h2 = wait_ack(ss, 2)
        end(ss)
        sh = bob.show("cleo")
        ok(h1 == 1 and h2 == 2 and sh.get("received") == 2,
           "5 two posts stamped 2 days ahead of bob's clock: stored and acknowledged",
           repr((h1, h2, sh.get("received"))))
        ok(alert_list(sh) == [("clock", 1)], "5 ... one 'clock' alert (the second is within "
           "the hour)", repr(alert_list(sh)))

        rpc = Rpc(bob.sock)
        err, res = rpc.call("debug.clock_advance", {"seconds": 3601})
        rpc.close()
        ok(err is None, "5 bob's test clock moves 3601 s", repr(err))
        c3 = refuse_empty(rita)
        sh3 = wait_state(lambda: (lambda v: v if kinds(v)["malformed"] == 2 else None)(
            bob.show("rita"))) or bob.show("rita")
        ok(c3 and kinds(sh3) == {"malformed": 2},
           "5 an hour later, rita's third malformed batch: a second alert",
           repr(alert_list(sh3)))
        ss = raw_session(qui)
        ss.send(POSTS, qs.batch(QUOTA + 1, QUOTA + 1))
        closed, _, _ = ss.expect_close(PROMPT)
        end(ss)
        sh = wait_state(lambda: (lambda v: v if kinds(v)["quota"] == 2 else None)(
            bob.show("quinn"))) or bob.show("quinn")
        ok(closed and kinds(sh) == {"quota": 2} and sh.get("received") == QUOTA,
           "5 an hour later, quinn's post %d: refused, a second 'quota' alert" % (QUOTA + 1),
           repr((alert_list(sh), sh.get("received"))))
        alive("5")

        # ---------------------------------------------------------------- 6. the honest ones
        print("# 6. the honest buddies, and bob's memory")
        honest.stop.set()
        honest.join(TIMEOUT * 3)
        ok(not honest.is_alive() and not honest.errors,
           "6 the honest check-ins ran without an error (%d by carol, %d by bob)"
           % (len(honest.texts["carol"]), len(honest.texts["bob"])), repr(honest.errors)[:300])

        def synced(a, b):
            row = [x for x in a.json("status").get("sync", []) if x.get("buddy") == b]
            return row[0] if row and row[0].get("waiting") == 0 and row[0].get("online") \
                else None
        rc_ = wait_state(lambda: synced(carol, "bob"))
        rb_ = wait_state(lambda: synced(bob, "carol"))
        ok(rc_ is not None and rb_ is not None,
           "6 carol and bob online, nothing waiting either way", repr((rc_, rb_)))
        nc, nb = len(honest.texts["carol"]), len(honest.texts["bob"])

        def walked(home, who, commit, texts):
            sh = home.show(who, recent=1000)
            c = [x for x in sh.get("commitments", []) if x.get("id") == commit]
            got = [e.get("text") for e in (c[0].get("recent") if c else [])]
            return sh, c, got
        sh, c, got = walked(bob, "carol", "walk", honest.texts["carol"])
        ok(c and c[0].get("checkins") == nc and got == honest.texts["carol"][-1000:]
           and sh.get("received") == 1 + nc,
           "6 bob holds carol's %d check-ins exactly once, in order (and her commitment: "
           "received %d)" % (nc, nc + 1),
           repr((c and c[0].get("checkins"), len(got), sh.get("received"))))
        ok(not sh.get("alerts") and sh.get("fork") is None, "6 no alert or fork about carol",
           repr(sh.get("alerts")))
        sh, c, got = walked(carol, "bob", "read", honest.texts["bob"])
        ok(c and c[0].get("checkins") == nb and got == honest.texts["bob"][-1000:]
           and sh.get("received") == 1 + nb,
           "6 carol holds bob's %d check-ins exactly once, in order" % nb,
           repr((c and c[0].get("checkins"), len(got), sh.get("received"))))
        ok(not sh.get("alerts"), "6 carol recorded no alert about bob", repr(sh.get("alerts")))

        for t in threads:
            t.join(HS_LIMIT + GRACE + TIMEOUT)
            how, secs, detail = t.result
            ok(how in ("eof", "rst") and HS_LIMIT - 1 <= secs <= HS_LIMIT + GRACE,
               "1 %s: dropped at the handshake limit (%.0f s), not before (%s after %.1f s%s)"
               % (t.label, HS_LIMIT, how, secs, ", " + detail if detail else ""))
        hwm = proc_field(bob.pid(), "VmHWM")
        print("# bob's VmHWM at the end: %s kB (after setup %s kB)" % (hwm, hwm0))
        ok(UNDER_VALGRIND or SANITIZED or (hwm is not None and hwm < RSS_LIMIT_KB),
           "6 bob's peak memory (VmHWM) over the whole test under %d MiB (%s kB)%s"
           % (RSS_LIMIT_KB // 1024, hwm, " (not checked under valgrind or ASan)"
              if UNDER_VALGRIND or SANITIZED else ""))

        # ---------------------------------------------------------------- 7. the process
        print("# 7. the process: descriptors, core dumps, ptrace, locked memory")
        carol.cli("log", "a note for bob's hook", "--share-with", "bob")
        deadline = time.monotonic() + TIMEOUT * 2
        while not os.path.exists(fds_out) and time.monotonic() < deadline:
            select.select([], [], [], 0.05)  # a bounded poll for a file another process writes
        try:
            bob_fds = "%d" % len(os.listdir("/proc/%d/fd" % bob.pid()))
        except PermissionError:  # not root: bob is not dumpable, its fd directory is root's
            bob_fds = "several"

        try:
            with open(fds_out) as f:
                fds = {int(k): v for k, v in json.load(f).items()}
        except OSError:
            fds = None
        ok(fds is not None, "7 bob's note hook ran (carol's note)")
        if fds is not None:
            ok(sorted(fds) == [0, 1, 2] and fds[0] == "/dev/null"
               and all(fds[k].startswith(("pipe:", "socket:")) for k in (1, 2)),
               "7 the hook's open descriptors are exactly 0 (/dev/null), 1 and 2 (its output, "
               "to bob): none of bob's %s (O_CLOEXEC)" % bob_fds, repr(fds))
        lim = core_limit(bob.pid())
        ok(lim == ("0", "0"), "7 bob's core file size limit is 0 (soft and hard)", repr(lim))
        alive("7")
        process_checks(cleanups)
    except Fail as e:
        print("# aborted: %s" % e)
    except Exception as e:  # noqa
        import traceback
        traceback.print_exc(file=sys.stdout)
        ok(False, "unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        if honest is not None:
            honest.stop.set()
        for ss in sessions:
            ss.close()
        for h in (bob, carol):
            if h.daemon.proc is not None:
                rc = h.daemon.stop()
                ok(rc == 0, "%s's buddyd exits 0 on SIGTERM" % h.name, str(rc))
                if failed():
                    h.daemon.log_tail(30, prefix="# %s: " % h.name)
        for fn in cleanups:
            fn()
        for d in ([bob.home, carol.home, scratch] if not os.environ.get("BUDDY_IT_KEEP")
                  else []):
            shutil.rmtree(d, ignore_errors=True)
        if os.environ.get("BUDDY_IT_KEEP"):
            print("# kept %s %s %s" % (bob.home, carol.home, scratch))
        print("# run time %.1f s" % (time.monotonic() - t_start))
    return finish()


def process_checks(cleanups):
    """dora: a home with a passphrase whose buddyd runs as another user than the test when the
    test is root (nobody), else as the test's user. Its cleanup goes into cleanups."""
    as_root = os.geteuid() == 0
    uid = NOBODY if as_root else os.geteuid()
    gid = NOBODY if as_root else os.getegid()
    base = tempfile.mkdtemp(prefix="buddy-ph-dora-")
    os.chmod(base, 0o711)
    home = os.path.join(base, "home")
    pf = os.path.join(base, "pass")
    with open(pf, "w") as f:
        f.write("dora-passphrase-%d\n" % os.getpid())
    os.chmod(pf, 0o600)
    env = {"PATH": "/usr/bin:/bin", "BUDDY_HOME": home, "HOME": base, "BUDDY_NO_START": "1"}
    if UNDER_VALGRIND:
        env["BUDDYD_REAL"] = os.environ["BUDDYD_REAL"]
    proc = [None]

    def as_user():
        if as_root:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

    def run(*args):
        return subprocess.run([buddy_peer.BUDDY] + list(args), env=env, capture_output=True,
                              text=True, timeout=60, preexec_fn=as_user)

    def cleanup():
        p = proc[0]
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(base, ignore_errors=True)

    cleanups.append(cleanup)
    who = "nobody" if as_root else pwd.getpwuid(uid).pw_name
    if as_root:
        os.chown(base, uid, gid)
        os.chown(pf, uid, gid)
    r = run("init", "--kdf", "interactive", "--passphrase-file", pf)
    if r.returncode != 0:
        print("# skip: dora's home cannot be made as %s (%s): the process checks need the "
              "binaries readable by that user" % (who, r.stderr.strip()[:200]))
        return
    rfd, wfd = os.pipe()
    with open(os.path.join(base, "buddyd.log"), "a") as log:
        proc[0] = subprocess.Popen(
            [buddy_peer.BUDDYD, "--listen", "127.0.0.1:0", "--ready-fd", str(wfd)], env=env,
            pass_fds=(wfd,), stdout=log, stderr=log, preexec_fn=as_user)
    os.close(wfd)
    ready = b""
    deadline = time.monotonic() + TIMEOUT * 3
    while not ready.endswith(b"\n") and time.monotonic() < deadline:
        rl, _, _ = select.select([rfd], [], [], max(0.0, deadline - time.monotonic()))
        d = os.read(rfd, 64) if rl else b""
        if not d:
            break
        ready += d
    os.close(rfd)
    if not ok(ready == b"ready\n", "7 dora's buddyd (passphrase, running as %s) starts locked"
              % who, repr(ready)):
        with open(os.path.join(base, "buddyd.log"), errors="replace") as f:
            for line in f.read().splitlines()[-20:]:
                print("# dora: " + line)
        return
    pid = proc[0].pid
    ruid = proc_field(pid, "Uid")
    owners = [os.stat("/proc/%d/%s" % (pid, f)).st_uid for f in ("status", "environ", "mem")]
    ok(ruid == uid and owners == [0, 0, 0],
       "7 dora's buddyd runs as uid %d, yet its /proc/PID/status, environ and mem belong to "
       "root: it is not dumpable (PR_SET_DUMPABLE 0)" % uid, repr((ruid, owners)))
    probe = ("import sys\ntry:\n    open('/proc/%s/environ', 'rb').read()\n    print('read')\n"
             "except PermissionError:\n    print('denied')\n")
    # a control: a process of the same uid that did not harden itself is readable
    ctl = subprocess.Popen(["/bin/sleep", "30"], preexec_fn=as_user)
    try:
        r1 = subprocess.run(["/usr/bin/python3", "-c", probe % pid], capture_output=True,
                            text=True, timeout=TIMEOUT * 3, preexec_fn=as_user)
        r2 = subprocess.run(["/usr/bin/python3", "-c", probe % ctl.pid], capture_output=True,
                            text=True, timeout=TIMEOUT * 3, preexec_fn=as_user)
    finally:
        ctl.kill()
        ctl.wait()
    ok(r1.stdout.strip() == "denied" and r2.stdout.strip() == "read",
       "7 another process of uid %d cannot read dora's /proc/PID/environ (a sleep of the same "
       "uid: it can)" % uid, repr((r1.stdout, r1.stderr[-200:], r2.stdout)))
    lim = core_limit(pid)
    ok(lim == ("0", "0"), "7 dora's core file size limit is 0", repr(lim))
    lck0 = proc_field(pid, "VmLck")
    r = run("unlock", "--passphrase-file", pf)
    ok(r.returncode == 0, "7 dora unlocks", r.stderr.strip())
    lck1 = proc_field(pid, "VmLck")
    r = run("lock")
    ok(r.returncode == 0, "7 dora locks again", r.stderr.strip())
    lck2 = proc_field(pid, "VmLck")
    print("# dora's VmLck: %s kB locked, %s kB unlocked, %s kB locked again"
          % (lck0, lck1, lck2))
    memlock = None
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max locked memory"):
                memlock = line.split()[3]
    if UNDER_VALGRIND or SANITIZED:
        print("# skip: VmLck under valgrind is valgrind's; ASan makes mlock() a no-op")
    elif memlock == "0":
        print("# skip: dora may lock no memory (RLIMIT_MEMLOCK 0): sodium_malloc cannot mlock")
    else:
        ok(lck1 is not None and lck1 > 0, "7 unlocked, dora holds locked memory (VmLck %s kB: "
           "the keys in sodium_malloc memory cannot be swapped out)" % lck1)
        ok(lck0 == 0 and lck2 == 0, "7 locked, none (VmLck %s kB before the unlock, %s kB "
           "after the lock: every key's memory freed)" % (lck0, lck2))
    p = proc[0]
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(TIMEOUT * 3)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    ok(rc == 0, "7 dora's buddyd exits 0 on SIGTERM", repr(rc))


if __name__ == "__main__":
    sys.exit(main())
