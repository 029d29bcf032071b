#!/usr/bin/python3
"""Hostile share-stream peer: an independent implementation of proto/PROTOCOL.md section 15
(posts, HEADS, POSTS, ACK, END), written from the spec alone, that pairs with a real buddyd
("bob") and sends it everything a malicious or broken buddy could send: each refusal must be
exactly the one section 15 specifies (the connection closed, nothing stored, an alert naming the
check), and bob's stored data must stay intact across all of it and across a restart.

The peer, "mallory" (its own Ed25519 identity), accepts bob's invite and, as the author of its
stream to bob:
  1. sends an honest batch (a commitment and 3 check-ins) and checks the ACK and its receipt;
  2. replays it (duplicates: acknowledged again, nothing stored twice);
  3. in a fresh connection each: a tampered post (signature / chain), a gap, a reordered batch,
     a batch signed by another key, malformed posts and batches, and last a fork (which
     freezes the stream: HEADS carries f, further POSTS are ignored). Each refusal must
     record one new alert (15.5: "alerts its user (the alert names the check)"), unless one
     of the same check about the same buddy is on record (15.5 lets that be rate limited); the same
     refusals and more run again each by a buddy of its own (m00, m01, ...), so that which
     check a batch failed shows whatever that buddy sent before;
  also a peer "trudy" checks what must be accepted (unknown post types and bad bodies are
  stored and ignored, overlapping batches) and a fork at n + 1 (a validly signed first post
  whose prev is not H of the stored post n);
  4. restarts bob and checks that everything survived;
  5. receives bob's own stream (bob as author): verifies the chain, the padding and bob's head
     signature, ACKs with a receipt, then sends hostile HEADS and ACKs;
  6. sends END: bob records that mallory ended the pairing, stops dialling and posting.

No sleeps: sockets are waited on with a TIMEOUT bound, daemon states that must come are polled
through the CLI a bounded number of times, and the absence of an event (an ACK, a dial) is
watched for ABSENT seconds.

Needs (Debian): python3-dissononce python3-msgpack python3-cryptography
Run:  BUDDY=build/buddy BUDDYD=build/buddyd /usr/bin/python3 tests/integration/sync_hostile_test.py
"""

import collections
import hashlib
import json
import os
import select
import shutil
import socket
import struct
import sys
import tempfile
import time

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buddy_peer import (  # noqa: E402
    ACK, ADDRS, END, HEADS, PAIRED, PING, PONG, POSTS, TIMEOUT, Closed, Daemon, Fail, Identity,
    cli_json, decode_invite, failed, find_buddy, finish, handshake_to, ok, parse_listen, require,
    run_cli)

ABSENT = 4.0      # how long we watch for an event that must not happen (an ACK, a dial)
POLL_TRIES = 200  # bound on CLI polls for a daemon state that must come

# ---------------------------------------------------------------- section 15.1, 15.2: posts

BUCKETS = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65024]
POST_MAX = 65024
ZERO32 = bytes(32)
T_COMMITMENT, T_CHECKIN, T_NOTE, T_RETRACTION, T_REACTION = 1, 2, 3, 4, 5


def pad_post(unpadded, size=None):
    """15.2: the 5-element array (0x95 ...) made a 6-array with a bin 16 pad of zero bytes so
    that the whole post is exactly `size` (default: the smallest bucket >= unpadded + 3)."""
    assert unpadded[0] == 0x95
    if size is None:
        size = next(x for x in BUCKETS if x >= len(unpadded) + 3)
    n = size - len(unpadded) - 3
    assert 0 <= n <= 65535
    return b"\x96" + unpadded[1:] + b"\xc5" + struct.pack(">H", n) + bytes(n)


def encode_post(seq, prev, t, typ, body, size=None):
    return pad_post(msgpack.packb([seq, prev, t, typ, body], use_bin_type=True), size)


def H(post):
    return hashlib.blake2b(post, digest_size=32, key=b"buddy-post-v1").digest()


def head_msg(a, b, n, h):
    return b"buddy-stream-head-v1" + a + b + struct.pack(">Q", n) + h


def receipt_msg(a, b, n, h):
    return b"buddy-receipt-v1" + a + b + struct.pack(">Q", n) + h


def verify(pk, sig, msg):
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def _walk(o, depth):
    """(max depth, objects) of a decoded MessagePack value; containers count as a level."""
    if isinstance(o, dict):
        d, n = depth + 1, 1
        for k, v in o.items():
            dk, nk = _walk(k, depth + 1)
            dv, nv = _walk(v, depth + 1)
            d, n = max(d, dk, dv), n + nk + nv
        return d, n
    if isinstance(o, list):
        d, n = depth + 1, 1
        for v in o:
            dv, nv = _walk(v, depth + 1)
            d, n = max(d, dv), n + nv
        return d, n
    if isinstance(o, msgpack.ExtType):
        raise ValueError("ext type")
    return depth, 1


def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def decode_post(b):
    """15.2, the reader's checks. Returns (seq, prev, time, type, body). Raises ValueError."""
    if not isinstance(b, bytes) or len(b) > POST_MAX:
        raise ValueError("not bin or over 65024 bytes")
    try:
        o = msgpack.unpackb(b, raw=False, strict_map_key=False)  # ExtraData on trailing bytes
    except Exception as e:  # noqa
        raise ValueError("not one MessagePack object: %s" % e)
    depth, objs = _walk(o, 0)
    if depth > 4 or objs > 512:
        raise ValueError("depth %d objects %d" % (depth, objs))
    if not isinstance(o, list) or len(o) != 6:
        raise ValueError("not a 6-array")
    seq, prev, t, typ, body, pad = o
    if not is_uint(seq) or not isinstance(prev, bytes) or len(prev) != 32 \
            or not isinstance(t, int) or isinstance(t, bool) or not is_uint(typ) \
            or not isinstance(body, dict) or not isinstance(pad, bytes):
        raise ValueError("field types")
    if seq == 1 and prev != ZERO32:
        raise ValueError("seq 1 with a non-zero prev")
    return seq, prev, t, typ, body


class Stream:
    """An author's stream A -> B, built in memory: posts[i] is post i+1."""

    def __init__(self, author, recipient_pk):
        self.author = author
        self.b = recipient_pk
        self.posts = []

    def add(self, t, typ, body, size=None):
        prev = H(self.posts[-1]) if self.posts else ZERO32
        p = encode_post(len(self.posts) + 1, prev, t, typ, body, size)
        self.posts.append(p)
        return p

    def sig(self, n, post=None, signer=None):
        """Head signature of post n (15.1), by the author unless `signer`."""
        post = post if post is not None else self.posts[n - 1]
        return (signer or self.author).sign(head_msg(self.author.pk, self.b, n, H(post)))

    def batch(self, first, last):
        return {"p": self.posts[first - 1:last], "s": self.sig(last)}


def self_check():
    """15.10 worked example."""
    from buddy_peer import Identity as Id
    a, b = Id(bytes(range(32))), Id(bytes(range(32, 64)))
    p1 = encode_post(1, ZERO32, 1767225600, 2,
                     {"e": 1, "c": "run", "at": 1767225600, "s": "done", "t": "5 km"})
    p2 = encode_post(2, H(p1), 1767229200, 5, {"e": 7, "k": "cheer", "t": ""})
    ok(len(p1) == 256 and p1[-182:-179] == b"\xc5\x00\xb3"
       and H(p1).hex() == "2e3b1459235f18a94b3bd7fbd907c76a1037cfd0bc4fc6a298e5e797130dd8e5",
       "spec 15.10 vector: post 1 (256 bytes, 179-byte pad) and H(post 1)")
    ok(H(p2).hex() == "cb0b2efd37618c8e547f3b356646d6b30ea9ed8b828d9f4bd09a6c825c985164",
       "spec 15.10 vector: H(post 2)")
    ok(a.sign(head_msg(a.pk, b.pk, 2, H(p2))).hex() ==
       "abfee7f7291fdeda1cfbd89e167d3951c31541e1f1ad651c1fc284a88d98762c"
       "f2001fd5f417fdd5b024a2a27bd673923401edfbcc9dad3adba28501e28a7001",
       "spec 15.10 vector: head signature of post 2")
    ok(b.sign(receipt_msg(a.pk, b.pk, 2, H(p2))).hex() ==
       "2f0d767e47ad7816a1927a0bac28ace0b99b12a8fa24111902c6c9b90bc88872"
       "eed5033c3ae676bfe25f7c77ec41c57bb7adde9d080c3ce7a64e040c53dd6600",
       "spec 15.10 vector: receipt for post 2")
    ok(decode_post(p2)[:2] == (2, H(p1)), "our reader decodes the spec's post 2")


# ---------------------------------------------------------------- sessions (sections 8, 15.4)


def check_heads(body):
    """HEADS body shape (8, 15.4); returns an error string or None."""
    h, x, f, e = body.get("h"), body.get("x"), body.get("f", 0), body.get("e", 0)
    if not is_uint(h) or not is_uint(f) or not is_uint(e):
        return "h/f/e not uint"
    if "e" in body and e == 0:
        return "e 0 written (15.4: absent when 0)"
    if h == 0 and "x" in body:
        return "x present with h = 0"
    if h != 0 and (not isinstance(x, bytes) or len(x) != 32):
        return "x not bin 32"
    return None


def check_ack_shape(body):
    h, x, r = body.get("h"), body.get("x"), body.get("r")
    if not is_uint(h) or not isinstance(x, bytes) or len(x) != 32 \
            or not isinstance(r, bytes) or len(r) != 64:
        return "ACK fields"
    return None


class Session:
    """One session with bob, we the initiator (or the acceptor on the pairing connection)."""

    def __init__(self, conn, peer):
        self.c = conn
        self.peer = peer  # the Peer: our identity, what we hold of bob's stream
        self.got = []     # (type, body) received, in order, PINGs answered
        self.n = 1000
        self.backlog = []  # messages sync() read past and wait_for() has not consumed

    def send(self, typ, body):
        self.c.send(typ, body)

    def read(self, timeout=TIMEOUT):
        """One message; a PING is answered at once (and recorded)."""
        typ, body, pt = self.c.recv(timeout)
        self.got.append((typ, body))
        if typ == PING and "n" in body:
            try:
                self.c.send(PONG, {"n": body["n"]})
            except Closed:
                pass
        return typ, body

    def wait_for(self, want, timeout=TIMEOUT):
        """Read until a message of type `want`; returns (body, [messages before it])."""
        for i, (typ, body) in enumerate(self.backlog):
            if typ == want:
                before = self.backlog[:i]
                del self.backlog[:i + 1]
                return body, before
        deadline = time.monotonic() + timeout
        before, self.backlog = self.backlog, []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no message %d within %.0fs" % (want, timeout))
            typ, body = self.read(left)
            if typ == want:
                return body, before
            before.append((typ, body))

    def sync(self, timeout=TIMEOUT):
        """PING and read until its PONG: everything bob queued before reading our PING."""
        self.n += 1
        n = self.n
        self.send(PING, {"n": n})
        deadline = time.monotonic() + timeout
        before = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no PONG within %.0fs" % timeout)
            typ, body = self.read(left)
            if typ == PONG and body.get("n") == n:
                self.backlog += before
                return before
            before.append((typ, body))

    def watch(self, seconds):
        """Everything received for `seconds` (the absence of an event); stops at a close."""
        deadline = time.monotonic() + seconds
        out = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out, False
            try:
                out.append(self.read(left))
            except socket.timeout:
                return out, False
            except Closed:
                return out, True

    def expect_close(self, timeout=TIMEOUT):
        """(closed, why, messages received before the close)."""
        deadline = time.monotonic() + timeout
        msgs = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, "no close within %.0fs" % timeout, msgs
            try:
                msgs.append(self.read(left))
            except socket.timeout:
                return False, "no close within %.0fs" % timeout, msgs
            except Closed as e:
                return True, str(e), msgs
            except OSError as e:
                return True, repr(e), msgs

    def close(self):
        self.c.close()


class Peer:
    """Our side of the pairing: identity, bob's key and address, our stream to bob, and what
    we hold of bob's stream to us."""

    def __init__(self, name, ident, bob_pk):
        self.name = name
        self.me = ident
        self.bob = bob_pk
        self.addr = None
        self.out = Stream(ident, bob_pk)   # our stream to bob
        self.inp = []                      # bob's posts to us, verified and "stored"

    def our_heads(self):
        if not self.inp:
            return {"h": 0, "f": 0}
        return {"h": len(self.inp), "x": H(self.inp[-1]), "f": 0}

    def our_ack(self, h=None):
        h = len(self.inp) if h is None else h
        x = H(self.inp[h - 1])
        return {"h": h, "x": x, "r": self.me.sign(receipt_msg(self.bob, self.me.pk, h, x))}

    def start(self, s, heads=None):
        """The start of a session (15.4): our HEADS (+ ACK when h != 0) first, then sync.
        Returns (bob's HEADS body, messages received before our sync PONG)."""
        hb = heads if heads is not None else self.our_heads()
        s.send(HEADS, hb)
        if heads is None and hb["h"] != 0:
            s.send(ACK, self.our_ack())
        msgs = [m for m in s.got]
        msgs += s.sync()
        bh = [b for t, b in msgs if t == HEADS]
        s.heads = bh[0] if bh else None
        s.start_msgs = msgs
        return s.heads, msgs

    def dial(self, heads=None):
        """A new session: handshake (bob's first transport message must be PING), then start."""
        c = handshake_to(self.addr[0], self.addr[1], self.me, self.bob)
        if not all(c.checks):
            raise Fail("handshake message 2 checks failed: %r" % (c.checks,))
        s = Session(c, self)
        typ, body = s.read()
        if typ != PING:
            raise Fail("bob's first transport message is %d, not PING" % typ)
        self.start(s, heads)
        return s

    def verify_bob_posts(self, body):
        """A POSTS from bob (bob the author, 15.5): the recipient's checks 1-5 against what we
        hold. Returns (new posts, error or None)."""
        p, sig = body.get("p"), body.get("s")
        if not isinstance(p, list) or not 1 <= len(p) <= 1024:
            return [], "malformed: p"
        if not isinstance(sig, bytes) or len(sig) != 64:
            return [], "malformed: s"
        dec = []
        for b in p:
            try:
                dec.append(decode_post(b))
            except ValueError as e:
                return [], "malformed: %s" % e
        for i in range(1, len(dec)):
            if dec[i][0] != dec[i - 1][0] + 1:
                return [], "order"
            if dec[i][1] != H(p[i - 1]):
                return [], "chain"
        last = dec[-1][0]
        if not verify(self.bob, sig, head_msg(self.bob, self.me.pk, last, H(p[-1]))):
            return [], "signature"
        n, m = len(self.inp), dec[0][0]
        if m > n + 1:
            return [], "gap"
        new = []
        for b, d in zip(p, dec):
            if d[0] <= n:
                if H(b) != H(self.inp[d[0] - 1]):
                    return [], "fork"
            elif d[0] == n + 1 and not new:
                if d[1] != (H(self.inp[-1]) if self.inp else ZERO32):
                    return [], "fork"
                new.append(b)
            else:
                new.append(b)
        return new, None


# ---------------------------------------------------------------- the test


class Bob:
    """The real buddyd under test, in a temporary home, driven through the CLI."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="buddy-hostile-")
        self.env = dict(os.environ, BUDDY_HOME=self.home)
        self.daemon = Daemon(self.home, self.env)
        self.pk = None

    def cli(self, *args, check=True):
        return run_cli(self.env, *args, check=check)

    def json(self, *args):
        return cli_json(self.env, *args)

    def show(self, name):
        return self.json("show", name, "--recent", "100")

    def addr(self):
        return parse_listen(self.json("status"))

    def invite(self, name):
        host, port = self.addr()
        return decode_invite(self.cli("invite", "--name", name, "--address",
                                      "%s:%d" % (host, port)).stdout.strip())


def content(show):
    """What `show --json` says bob received, without what depends on the clock (stats)."""
    cs = []
    for c in show.get("commitments", []):
        cs.append({k: c.get(k) for k in ("id", "title", "cadence", "tz", "created", "archived",
                                         "shared", "checkins")}
                  | {"recent": [{k: e.get(k) for k in ("id", "time", "posted", "kind", "text",
                                                         "status", "commit", "retracted")}
                                for e in c.get("recent", [])]})
    return {"received": show.get("received"), "commitments": cs, "notes": show.get("notes"),
            "retracted": show.get("retracted")}


def alert_kinds(show):
    return collections.Counter(a.get("kind") for a in show.get("alerts") or [])


def wait_state(fn, tries=POLL_TRIES):
    """Poll fn() (a CLI read) until it returns a true value, at most `tries` times."""
    v = None
    for _ in range(tries):
        v = fn()
        if v:
            return v
    return v


def wait_new_alert(bob, name, before):
    """show NAME --json once its alerts differ from `before`'s (bounded), else the last one."""
    bk = alert_kinds(before)
    last = [None]

    def changed():
        last[0] = bob.show(name)
        return last[0] if alert_kinds(last[0]) != bk else None
    return wait_state(changed) or last[0]


CHECKINS = [("first session", "done"), ("half an hour", "partial"), ("rest day", "skip")]


def baseline(out, now):
    """Posts 1..4 of an author's stream: the commitment gym and 3 check-ins (step 1)."""
    out.add(now - 400, T_COMMITMENT,
            {"c": "gym", "t": "Gym", "cad": {"k": "daily", "n": 1}, "tz": "UTC",
             "cr": now - 86400, "ar": 0, "on": True})
    for i, (text, status) in enumerate(CHECKINS):
        out.add(now - 300 + 60 * i, T_CHECKIN,
                {"e": i + 1, "c": "gym", "at": now - 300 + 60 * i, "s": status, "t": text})


def extend(pe, now):
    """pe.ext: the real stream continued by posts 5..7 (valid, never sent as such)."""
    ext = Stream(pe.me, pe.bob)
    ext.posts = list(pe.out.posts)
    for i, text in ((4, "day five"), (5, "day six"), (6, "day seven")):
        ext.add(now - 100 + 10 * i, T_CHECKIN,
                {"e": i, "c": "gym", "at": now - 100 + 10 * i, "s": "done", "t": text})
    pe.ext = ext


def tamper(post, old, new):
    assert post.count(old) == 1 and len(old) == len(new)
    t = post.replace(old, new)
    decode_post(t)  # still a well-formed post: only the hash changed
    return t


# The hostile batches of step 3 (a to e): (label, kind, body builder given the peer and now).
def _p(pe, n):
    return pe.ext.posts[n - 1]


def _h4(pe):
    return H(pe.out.posts[3])


def _ci(pe, now, **kw):
    body = {"e": 4, "c": "gym", "at": now, "s": "done", "t": "x"}
    body.update(kw)
    return body


def _one(pe, post, n=5):
    return {"p": [post], "s": pe.ext.sig(n, post)}


def _long(pe, now, n):
    """A valid batch of n small posts 5..n+4 (type 99, empty body, a 0-byte pad)."""
    st = Stream(pe.me, pe.bob)
    st.posts = list(pe.out.posts)
    for i in range(n):
        unp = len(msgpack.packb([5 + i, ZERO32, now, 99, {}], use_bin_type=True))
        st.add(now, 99, {}, size=unp + 3)
    return st.batch(5, 4 + n)


OTHER = Identity()  # a key that is not the author's

V_SIG = ("3a tampered last post", "signature",
         lambda pe, now: {"p": [_p(pe, 5), tamper(_p(pe, 6), b"day six", b"day siX")],
                          "s": pe.ext.sig(6)})
V_CHAIN = ("3a tampered non-last post", "chain",
           lambda pe, now: {"p": [tamper(_p(pe, 5), b"day five", b"day fivE"), _p(pe, 6)],
                            "s": pe.ext.sig(6)})
V_GAP = ("3b gap (6..7 when bob has 4)", "gap",
         lambda pe, now: {"p": [_p(pe, 6), _p(pe, 7)], "s": pe.ext.sig(7)})
V_ORDER = ("3c reordered batch 5, 7, 6", "order",
           lambda pe, now: {"p": [_p(pe, 5), _p(pe, 7), _p(pe, 6)], "s": pe.ext.sig(6)})
V_WRONGKEY = ("3d batch 5..6 signed by another key", "signature",
              lambda pe, now: {"p": [_p(pe, 5), _p(pe, 6)], "s": pe.ext.sig(6, signer=OTHER)})
V_NOT6 = ("3e a post that is a 5-array", "malformed",
          lambda pe, now: _one(pe, msgpack.packb([5, _h4(pe), now, T_CHECKIN, _ci(pe, now)],
                                                 use_bin_type=True)))
V_STR = ("3e a str instead of bin in p", "malformed",
         lambda pe, now: {"p": ["not a post"], "s": pe.ext.sig(5)})

MALLORY_VARIANTS = [V_SIG, V_CHAIN, V_GAP, V_ORDER, V_WRONGKEY, V_NOT6, V_STR]

EXTRA_VARIANTS = [
    V_WRONGKEY,
    ("3d signature over another post of the batch", "signature",
     lambda pe, now: {"p": [_p(pe, 5), _p(pe, 6)], "s": pe.ext.sig(5)}),
    ("3d signature binding another recipient", "signature",
     lambda pe, now: {"p": [_p(pe, 5), _p(pe, 6)],
                      "s": pe.me.sign(head_msg(pe.me.pk, OTHER.pk, 6, H(_p(pe, 6))))}),
    V_STR,
    ("3e a post that is a map", "malformed",
     lambda pe, now: _one(pe, msgpack.packb({"seq": 5}, use_bin_type=True))),
    ("3e p empty", "malformed", lambda pe, now: {"p": [], "s": pe.ext.sig(5)}),
    ("3e 1025 posts in p (each valid, chained, signed)", "malformed",
     lambda pe, now: _long(pe, now, 1025)),
    ("3e a trailing byte after the post", "malformed",
     lambda pe, now: _one(pe, _p(pe, 5) + b"\x00")),
    ("3e a post of 65025 bytes", "malformed",
     lambda pe, now: _one(pe, encode_post(5, _h4(pe), now, T_CHECKIN, _ci(pe, now),
                                          size=POST_MAX + 1))),
    ("3e prev of 31 bytes", "malformed",
     lambda pe, now: _one(pe, encode_post(5, _h4(pe)[:31], now, T_CHECKIN, _ci(pe, now)))),
    ("3e prev a str, not bin", "malformed",
     lambda pe, now: _one(pe, encode_post(5, _h4(pe).hex()[:32], now, T_CHECKIN,
                                          _ci(pe, now)))),
    ("3e seq a str", "malformed",
     lambda pe, now: _one(pe, encode_post("5", _h4(pe), now, T_CHECKIN, _ci(pe, now)))),
    ("3e time a float", "malformed",
     lambda pe, now: _one(pe, encode_post(5, _h4(pe), float(now), T_CHECKIN, _ci(pe, now)))),
    ("3e body an array, not a map", "malformed",
     lambda pe, now: _one(pe, encode_post(5, _h4(pe), now, T_CHECKIN, ["e", 4]))),
    ("3e pad a str, not bin", "malformed",
     lambda pe, now: _one(pe, b"\x96" + msgpack.packb([5, _h4(pe), now, T_CHECKIN,
                                                       _ci(pe, now)], use_bin_type=True)[1:]
                          + b"\xa3abc")),
    ("3e a post nested 5 levels (limit 4)", "malformed",
     lambda pe, now: _one(pe, encode_post(5, _h4(pe), now, T_NOTE,
                                          {"e": 4, "at": now, "t": "deep", "g": [[["x"]]]}))),
    ("3e an ext type in a post", "malformed",
     lambda pe, now: _one(pe, pad_post(msgpack.packb(
         [5, _h4(pe), now, T_NOTE, {"e": 4, "at": now, "t": msgpack.ExtType(1, b"x")}],
         use_bin_type=True)))),
    ("3e seq 1 with a non-zero prev", "malformed",
     lambda pe, now: _one(pe, encode_post(1, _h4(pe), now, T_NOTE,
                                          {"e": 9, "at": now, "t": "one"}), 1)),
]


def main():
    bob = Bob()
    sessions = []
    listener = None
    peers = {}

    def pair(name):
        """A new Python buddy of bob's: accepts an invite; returns (peer, its pairing session
        with PAIRED read and HEADS exchanged)."""
        inv = bob.invite(name)
        pe = Peer(name, Identity(), inv["inviter"])
        pe.addr = inv["addrs"][0]
        c = handshake_to(pe.addr[0], pe.addr[1], pe.me, pe.bob, secret=inv["secret"])
        require(all(c.checks), "%s: pairing message 2 checks pass, message 3 sent" % name)
        s = Session(c, pe)
        sessions.append(s)
        typ, body = s.read()
        require(typ == PAIRED, "%s: pairing: first transport message is PAIRED" % name,
                repr((typ, body)))
        peers[name] = pe
        return pe, s

    def end_session(s):
        s.close()
        if s in sessions:
            sessions.remove(s)

    def refused(pe, variant, now, strict_new=True):
        """Step 3: a fresh session; send the batch; bob must close it, store nothing and
        record an alert of the right kind."""
        label, kind, build = variant
        label = "%s [%s]" % (label, pe.name)
        before = bob.show(pe.name)
        try:
            s = pe.dial()
        except Exception as e:  # noqa
            ok(False, "%s: a new session with bob" % label, repr(e))
            return
        sessions.append(s)
        hb = s.heads or {}
        ok(hb.get("h") == 4 and hb.get("x") == _h4(pe) and not hb.get("f")
           and hb.get("e") == len(CHECKINS) and check_heads(hb) is None,
           "%s: bob's HEADS: h = 4, x = H(post 4), no f, e = %d (the highest entry id of "
           "mine he holds, 15.4)" % (label, len(CHECKINS)), repr(hb))
        acks = [b for t, b in s.start_msgs if t == ACK]
        ok(len(acks) == 1 and acks[0].get("h") == 4 and acks[0].get("x") == _h4(pe) and verify(
            pe.bob, acks[0].get("r", b""), receipt_msg(pe.me.pk, pe.bob, 4, _h4(pe))),
           "%s: bob's ACK for h = 4 right after its HEADS, valid receipt (15.4)" % label,
           repr(acks)[:200])
        try:
            s.send(POSTS, build(pe, now))
        except Closed:
            pass
        closed, why, msgs = s.expect_close()
        ok(closed, "%s: bob closes the connection (%s)" % (label, why))
        ok(not any(t == ACK for t, _ in msgs), "%s: no ACK for the refused batch" % label)
        end_session(s)
        # 15.5: a recipient MAY record a repeated alert (same check, same buddy) less often
        # than it happens; bob records one per check and buddy per hour. The alert is
        # recorded before the connection closes, so one read after the close sees it.
        repeated = alert_kinds(before)[kind] >= 1
        after = bob.show(pe.name) if repeated else wait_new_alert(bob, pe.name, before)
        new = alert_kinds(after) - alert_kinds(before)
        ok(alert_kinds(after)[kind] >= 1, "%s: an alert of kind %r is on record" % (label, kind),
           repr(after.get("alerts")))
        ok(new == collections.Counter([kind]) or (repeated and not new),
           "%s: this refusal recorded one new alert of kind %r%s" %
           (label, kind, " (or none: one of that kind is on record, 15.5 rate limit)"
            if repeated else ""),
           "new alerts %r; all %r" % (dict(new), after.get("alerts")))
        ok(content(after) == pe.base and after.get("received") == 4,
           "%s: nothing stored (received 4, content unchanged)" % label,
           repr(after.get("received")))
        ok(after.get("fork") is None, "%s: no fork recorded" % label, repr(after.get("fork")))

    try:
        self_check()

        # ---------------------------------------------------------------- setup
        r = bob.cli("init", "--no-passphrase", "--kdf", "interactive")
        ok(r.returncode == 0, "bob: buddy init --no-passphrase")
        ready = bob.daemon.start()
        require(ready == b"ready\n", "bob: buddyd signals ready on --ready-fd", repr(ready))
        st = bob.json("status")
        require(st.get("state") == "unlocked", "bob: journal unlocked without a passphrase",
                repr(st.get("state")))
        mal, s = pair("mallory")
        bob.pk = mal.bob
        print("# bob %s at %s:%d, mallory %s" % (bob.pk.hex(), mal.addr[0], mal.addr[1],
                                                 mal.me.pk.hex()))
        b, _ = find_buddy(bob.env, "mallory")
        require(b is not None and b.get("public_key") == mal.me.pk.hex(),
                "bob lists mallory with her key")

        # ---------------------------------------------------------------- 1. honest baseline
        # 15.4: each side's first message after PAIRED is HEADS; bob's says h = 0 (no x)
        typ, body = s.read()
        ok(typ == HEADS, "1: bob's first message after PAIRED is HEADS", repr((typ, body)))
        if typ == HEADS:
            ok(body.get("h") == 0 and check_heads(body) is None and not body.get("f"),
               "1: bob's HEADS is h = 0, no x, no f", repr(body))
        heads, msgs = mal.start(s)
        ok(not any(t == ACK for t, _ in msgs), "1: no ACK from bob after a HEADS with h = 0")

        now = int(time.time())
        out = mal.out
        baseline(out, now)
        ok(all(len(p) == 256 for p in out.posts), "1: our 4 posts are padded to 256 bytes")
        s.send(POSTS, out.batch(1, 4))
        ack, before = s.wait_for(ACK)
        ok(check_ack_shape(ack) is None, "1: ACK has h, x (bin 32), r (bin 64)", repr(ack))
        ok(ack.get("h") == 4 and ack.get("x") == H(out.posts[3]), "1: ACK h = 4, x = H(post 4)",
           repr(ack.get("h")))
        ok(verify(bob.pk, ack.get("r", b""), receipt_msg(mal.me.pk, bob.pk, 4, H(out.posts[3]))),
           "1: the receipt verifies under bob's key (15.1)")
        sh = bob.show("mallory")
        mal.base = base = content(sh)
        ok(sh.get("received") == 4, "1: show --json: received 4", repr(sh.get("received")))
        gym = [x for x in sh.get("commitments", []) if x.get("id") == "gym"]
        ok(len(gym) == 1 and gym[0].get("title") == "Gym"
           and (gym[0].get("cadence") or {}).get("kind") == "daily"
           and gym[0].get("tz") == "UTC" and gym[0].get("shared") is True,
           "1: show --json: the commitment gym (Gym, daily, UTC, shared)",
           json.dumps(gym)[:300])
        rec = gym[0].get("recent", []) if gym else []
        ok([(e.get("text"), e.get("status")) for e in rec] == CHECKINS
           and [e.get("id") for e in rec] == [1, 2, 3]
           and gym[0].get("checkins") == 3,
           "1: show --json: the 3 check-ins (text, status, entry ids)",
           json.dumps(rec)[:400])
        ok(not sh.get("alerts") and sh.get("fork") is None, "1: no alert, no fork",
           repr((sh.get("alerts"), sh.get("fork"))))

        # ---------------------------------------------------------------- 2. replay
        s.send(POSTS, out.batch(1, 4))
        ack, _ = s.wait_for(ACK)
        ok(ack.get("h") == 4 and ack.get("x") == H(out.posts[3])
           and verify(bob.pk, ack.get("r", b""),
                      receipt_msg(mal.me.pk, bob.pk, 4, H(out.posts[3]))),
           "2: replayed batch acknowledged again (h = 4, valid receipt)", repr(ack.get("h")))
        s.send(POSTS, out.batch(2, 3))
        ack, _ = s.wait_for(ACK)
        ok(ack.get("h") == 4, "2: a batch of old duplicates (2..3) is acknowledged with what is "
           "stored (h = 4)", repr(ack.get("h")))
        try:
            s.sync()
            up = True
        except (Closed, OSError) as e:
            up = False
            print("# %r" % e)
        ok(up, "2: session stays up after the replays (PING answered)")
        sh = bob.show("mallory")
        ok(content(sh) == base, "2: nothing new stored (show unchanged, received 4)",
           repr(sh.get("received")))
        end_session(s)

        # ---------------------------------------------------------------- 3. refusals
        extend(mal, now)
        for v in MALLORY_VARIANTS:
            refused(mal, v, now)

        # The same refusals and more, each by a buddy of its own (bob's alerts are per buddy
        # and kind: a fresh buddy shows which check a batch failed, whatever came before)
        for i, v in enumerate(EXTRA_VARIANTS):
            pe, s = pair("m%02d" % i)
            pe.start(s)
            baseline(pe.out, now)
            s.send(POSTS, pe.out.batch(1, 4))
            ack, _ = s.wait_for(ACK)
            end_session(s)
            require(ack.get("h") == 4, "%s: baseline of 4 posts acknowledged" % pe.name)
            pe.base = content(bob.show(pe.name))
            extend(pe, now)
            refused(pe, v, now)

        # f. fork, last: another post 4 (and 5) chained on the real post 3, validly signed
        fork = Stream(mal.me, bob.pk)
        fork.posts = list(out.posts[:3])
        fork.add(now - 50, T_CHECKIN, {"e": 3, "c": "gym", "at": now - 50, "s": "done",
                                       "t": "rewritten history"})
        fork.add(now - 40, T_CHECKIN, {"e": 4, "c": "gym", "at": now - 40, "s": "done",
                                       "t": "more of it"})
        ok(fork.posts[3] != out.posts[3] and decode_post(fork.posts[3])[1] == H(out.posts[2]),
           "3f: the forked post 4 differs from the real one and chains on the real post 3")
        before = bob.show("mallory")
        s = mal.dial()
        sessions.append(s)
        s.send(POSTS, fork.batch(4, 5))
        closed, why, msgs = s.expect_close()
        ok(closed, "3f fork: bob closes the connection (%s)" % why)
        ok(not any(t == ACK for t, _ in msgs), "3f fork: no ACK")
        end_session(s)
        after = wait_new_alert(bob, "mallory", before)
        ok(after.get("fork") == 4, "3f fork: show --json fork == 4", repr(after.get("fork")))
        ok(alert_kinds(after) - alert_kinds(before) == collections.Counter(["fork"]),
           "3f fork: one new alert, of kind 'fork'", repr(after.get("alerts")))
        ok(content(after) == base, "3f fork: bob keeps the posts it has (content unchanged)")

        s = mal.dial()
        sessions.append(s)
        hb = s.heads or {}
        ok(hb.get("f") == 4 and hb.get("h") == 4 and hb.get("x") == H(out.posts[3]),
           "3f: bob's HEADS on a new session carries f = 4 (h = 4, x = H(post 4))", repr(hb))
        s.send(POSTS, mal.ext.batch(5, 6))  # a valid continuation of the real stream
        try:
            s.sync()
            up = True
        except (Closed, OSError):
            up = False
        got, closed = s.watch(ABSENT)
        acks = [b for t, b in s.got if t == ACK and b.get("h", 0) > 4]
        ok(not acks, "3f: a valid POSTS continuing the frozen stream gets no ACK (watched %.0fs)"
           % ABSENT, repr(acks)[:200])
        ok(up and not closed, "3f: it is ignored, not refused: the session stays up")
        after2 = bob.show("mallory")
        ok(content(after2) == base and after2.get("received") == 4 and after2.get("fork") == 4,
           "3f: nothing stored from it (received 4, fork still 4)",
           repr((after2.get("received"), after2.get("fork"))))
        end_session(s)
        mal_alerts = sorted((a.get("kind"), a.get("seq"), a.get("time"))
                            for a in after2.get("alerts") or [])

        # ---------------------------------------------------------------- 3g. trudy
        # what must be *accepted* (15.3: unknown types and bad bodies are stored and ignored;
        # 15.5: overlapping batches), then a fork at n + 1 (a batch whose first post is new and
        # validly signed but whose prev is not H of the stored post n)
        tru, s = pair("trudy")
        tru.start(s)
        to = tru.out
        to.add(now - 500, T_COMMITMENT, {"c": "swim", "t": "Swim", "cad": {"k": "weekly", "n": 2},
                                         "tz": "Europe/Berlin", "cr": now - 9000, "ar": 0,
                                         "on": True, "zz": "an unknown key"})
        to.add(now - 400, 99, {"what": "a type from the future"})
        to.add(now - 300, T_CHECKIN, {"e": 1, "c": "swim", "at": now - 300, "s": "maybe",
                                      "t": "bad status"})
        to.add(now - 200, T_CHECKIN, {"e": 2, "c": "swim", "at": now - 200, "s": "done",
                                      "t": "lap one"})
        to.add(now - 100, T_CHECKIN, {"e": 3, "c": "swim", "at": now - 100, "s": "done",
                                      "t": "lap two"})
        s.send(POSTS, to.batch(1, 2))
        ack, _ = s.wait_for(ACK)
        ok(ack.get("h") == 2 and verify(bob.pk, ack.get("r", b""),
                                        receipt_msg(tru.me.pk, bob.pk, 2, H(to.posts[1]))),
           "3g trudy: a commitment and a post of unknown type 99 acknowledged (h = 2)",
           repr(ack.get("h")))
        s.send(POSTS, to.batch(2, 5))  # overlaps: post 2 is a duplicate
        ack, _ = s.wait_for(ACK)
        ok(ack.get("h") == 5 and verify(bob.pk, ack.get("r", b""),
                                        receipt_msg(tru.me.pk, bob.pk, 5, H(to.posts[4]))),
           "3g trudy: overlapping batch 2..5 (a bad-status check-in included) acknowledged "
           "h = 5", repr(ack.get("h")))
        st = bob.show("trudy")
        sw = [x for x in st.get("commitments", []) if x.get("id") == "swim"]
        ok(st.get("received") == 5, "3g trudy: all 5 posts stored (unknown type and bad body "
           "too: 15.3)", repr(st.get("received")))
        ok(len(sw) == 1 and [e.get("text") for e in sw[0].get("recent", [])]
           == ["lap one", "lap two"] and (sw[0].get("cadence") or {}).get("n") == 2,
           "3g trudy: show lists swim (weekly 2) with only the 2 valid check-ins",
           json.dumps(sw)[:400])
        ok(not st.get("alerts") and st.get("fork") is None, "3g trudy: no alert",
           repr(st.get("alerts")))
        tru.base = trudy_base = content(st)
        tf = Stream(tru.me, bob.pk)
        tf.posts = list(to.posts[:4])
        tf.add(now - 90, T_NOTE, {"e": 9, "at": now - 90, "t": "another post 5"})
        tf.add(now - 80, T_NOTE, {"e": 10, "at": now - 80, "t": "post 6 on it"})
        s.send(POSTS, {"p": [tf.posts[5]], "s": tf.sig(6)})
        closed, why, msgs = s.expect_close()
        ok(closed, "3g trudy fork at n + 1: bob closes (%s)" % why)
        ok(not any(t == ACK for t, _ in msgs), "3g trudy fork at n + 1: no ACK")
        end_session(s)
        st = wait_new_alert(bob, "trudy", {})
        ok([a.get("kind") for a in st.get("alerts") or []] == ["fork"],
           "3g trudy fork at n + 1: one alert, of kind 'fork' (15.5 step 5, not 'chain')",
           repr(st.get("alerts")))
        st = wait_state(lambda: (lambda a: a if a.get("fork") is not None else None)(
            bob.show("trudy"))) or bob.show("trudy")
        ok(st.get("fork") in (5, 6), "3g trudy fork at n + 1: show --json fork is recorded "
           "(5 or 6: the spec does not say which seq names this fork)", repr(st.get("fork")))
        ok(content(st) == trudy_base, "3g trudy: nothing stored from the forked batch")
        s = tru.dial()
        sessions.append(s)
        hb = s.heads or {}
        ok(hb.get("f") in (5, 6) and hb.get("h") == 5,
           "3g trudy: bob's HEADS on a new session carries f (15.7)", repr(hb))
        cont = Stream(tru.me, bob.pk)
        cont.posts = list(to.posts)
        cont.add(now - 70, T_NOTE, {"e": 11, "at": now - 70, "t": "honest post 6"})
        s.send(POSTS, cont.batch(6, 6))  # the honest continuation
        s.send(POSTS, {"p": [tf.posts[4], tf.posts[5]], "s": tf.sig(6)})  # the forked branch
        got, closed = s.watch(ABSENT)
        acks = [b for t, b in s.got if t == ACK and b.get("h", 0) > 5]
        ok(not acks, "3g trudy: after the fork, POSTS get no ACK (watched %.0fs)" % ABSENT,
           repr(acks)[:200])
        end_session(s)
        st = bob.show("trudy")
        ok(content(st) == trudy_base, "3g trudy: nothing stored after the fork",
           repr(st.get("received")))
        trudy_fork = st.get("fork")
        trudy_kept = content(st)  # what the restart must keep, whatever the checks above said
        ok(content(bob.show("mallory")) == base, "3g: mallory's stream untouched by trudy's")

        # ---------------------------------------------------------------- 4. restart
        ok(bob.daemon.running(), "4: bob's buddyd still running after all this")
        rc = bob.daemon.stop()
        ok(rc == 0, "4: bob's buddyd exits 0 on SIGTERM", repr(rc))
        ready = bob.daemon.start()
        require(ready == b"ready\n", "4: bob's buddyd starts again", repr(ready))
        st = bob.json("status")
        ok(st.get("state") == "unlocked", "4: the journal opens again (unlocked)",
           repr(st.get("state")))
        for pe in peers.values():
            pe.addr = bob.addr()
        sh = bob.show("mallory")
        ok(content(sh) == base, "4: show mallory after the restart: the same 4 posts' content",
           json.dumps(content(sh))[:300])
        ok(sh.get("fork") == 4, "4: mallory's fork survives the restart", repr(sh.get("fork")))
        ok(sorted((a.get("kind"), a.get("seq"), a.get("time")) for a in sh.get("alerts") or [])
           == mal_alerts, "4: mallory's alerts survive the restart", repr(sh.get("alerts")))
        st2 = bob.show("trudy")
        ok(content(st2) == trudy_kept, "4: trudy's posts survive the restart",
           repr((trudy_kept.get("received"), st2.get("received"))))
        ok(st2.get("fork") is not None and st2.get("fork") == trudy_fork,
           "4: trudy's fork survives the restart", repr((trudy_fork, st2.get("fork"))))
        bad = [n for n, pe in peers.items() if n.startswith("m0") or n.startswith("m1")
               if content(bob.show(n)) != pe.base]
        ok(not bad, "4: the other buddies' streams survive the restart", repr(bad))

        # ---------------------------------------------------------------- 5. bob as author
        bob.cli("commit", "add", "run", "Run", "--daily")
        bob.cli("share", "run", "--with", "mallory")
        bob.cli("checkin", "run", "--done", "hello")
        s = mal.dial()  # our HEADS h = 0
        sessions.append(s)
        hb = s.heads or {}
        ok(hb.get("f") == 4, "5: bob's HEADS still carries f = 4 after the restart", repr(hb))
        errs = []
        deadline = time.monotonic() + TIMEOUT
        while len(mal.inp) < 2 and time.monotonic() < deadline:
            body, _ = s.wait_for(POSTS, deadline - time.monotonic())
            new, err = mal.verify_bob_posts(body)
            if err:
                errs.append(err)
                break
            mal.inp += new
        ok(not errs and len(mal.inp) == 2, "5: bob's POSTS after our HEADS h = 0: posts 1..2, "
           "well-formed, chained from zero, bob's head signature valid", repr(errs))
        if len(mal.inp) >= 2:
            d1, d2 = decode_post(mal.inp[0]), decode_post(mal.inp[1])
            b1, b2 = d1[4], d2[4]
            ok(d1[3] == T_COMMITMENT and b1.get("c") == "run" and b1.get("t") == "Run"
               and (b1.get("cad") or {}).get("k") == "daily" and b1.get("on") is True
               and b1.get("ar") == 0, "5: post 1 is the commitment run (daily, on)", repr(b1))
            ok(d2[3] == T_CHECKIN and b2.get("c") == "run" and b2.get("s") == "done"
               and b2.get("t") == "hello" and is_uint(b2.get("e")),
               "5: post 2 is the check-in (done, hello)", repr(b2))

            def padded_right(p):
                o = msgpack.unpackb(p, raw=False)
                unp = len(msgpack.packb(o[:5], use_bin_type=True))
                return len(p) == next(x for x in BUCKETS if x >= unp + 3) and \
                    p[unp:unp + 1] == b"\xc5" and o[5] == bytes(len(o[5]))
            ok(all(padded_right(p) for p in mal.inp), "5: bob pads per 15.2 (bucket size, "
               "bin 16 of zero bytes)", repr([len(p) for p in mal.inp]))

        def sync_row():
            sm = [x for x in bob.json("status").get("sync", []) if x.get("buddy") == "mallory"]
            return sm[0] if sm else {}
        row = sync_row()
        ok(row.get("sent") == 2 and row.get("delivered") == 0,
           "5: before our ACK: status sync sent 2, delivered 0", repr(row))
        s.send(ACK, mal.our_ack())

        def delivered():
            j = bob.json("journal")
            ents = j if isinstance(j, list) else j.get("entries", [])
            sh_ = [x for e in ents if e.get("commit") == "run" for x in e.get("shared") or []
                   if x.get("buddy") == "mallory"]
            return sh_ if sh_ and all(x.get("delivered") is True for x in sh_) else None
        ok(wait_state(delivered) is not None,
           "5: journal --json: the check-in's shared[] says delivered to mallory",
           json.dumps(bob.json("journal"))[:400])

        def synced(n):
            return lambda: (lambda r: r if r.get("sent") == n and r.get("delivered") == n
                            else None)(sync_row())
        row = wait_state(synced(2)) or sync_row()
        ok(row.get("sent") == 2 and row.get("delivered") == 2 and row.get("waiting") == 0,
           "5: status --json sync: delivered == sent == 2, waiting 0", repr(row))

        # a check-in while the session is up is pushed, continuing the batch before
        bob.cli("checkin", "run", "--partial", "live one")
        body, _ = s.wait_for(POSTS)
        new, err = mal.verify_bob_posts(body)
        ok(err is None and len(new) == 1 and decode_post(new[0])[0] == 3
           and decode_post(new[0])[4].get("t") == "live one",
           "5: a check-in made during the session arrives as post 3, chained and signed",
           repr(err))
        mal.inp += new
        s.send(ACK, mal.our_ack())
        row = wait_state(synced(3)) or sync_row()
        ok(row.get("delivered") == 3, "5: delivered == sent == 3", repr(row))
        end_session(s)

        # reconnect: what was acknowledged is never sent again
        s = mal.dial()
        sessions.append(s)
        s.watch(ABSENT)
        ok(not any(t == POSTS for t, _ in s.got), "5: after a reconnect with HEADS h = 3, bob "
           "sends no acknowledged post again (watched %.0fs)" % ABSENT)
        # an ACK with a bad receipt signature
        alerts0 = bob.json("status").get("alerts")
        show0 = bob.show("mallory")
        badr = mal.our_ack()
        badr["r"] = bytes([badr["r"][0] ^ 1]) + badr["r"][1:]
        s.send(ACK, badr)
        closed, why, _ = s.expect_close()
        ok(closed, "5: an ACK with a bad receipt: bob closes the connection (%s)" % why)
        end_session(s)
        sh = wait_new_alert(bob, "mallory", show0)
        new = alert_kinds(sh) - alert_kinds(show0)
        ok(new == collections.Counter(["ack"]), "5: bad receipt: bob records an 'ack' alert",
           "new %r, all %r" % (dict(new), sh.get("alerts")))
        ok(bob.json("status").get("alerts") == (alerts0 or 0) + 1,
           "5: status --json alerts count + 1", repr((alerts0, bob.json("status").get("alerts"))))

        x9 = hashlib.blake2b(b"no such post", digest_size=32).digest()

        def bad_ack(label, ackbody):
            s = mal.dial()
            sessions.append(s)
            s.send(ACK, ackbody)
            closed, why, _ = s.expect_close()
            ok(closed, "5: %s: bob closes the connection (%s)" % (label, why))
            end_session(s)

        # the same check by the other rules of 15.6 (alerts: see above; rate limited per kind)
        bad_ack("ACK h above bob's newest post",
                {"h": 9, "x": x9, "r": mal.me.sign(receipt_msg(bob.pk, mal.me.pk, 9, x9))})
        bad_ack("ACK x not H(post h)",
                {"h": 3, "x": x9, "r": mal.me.sign(receipt_msg(bob.pk, mal.me.pk, 3, x9))})
        bad_ack("ACK h = 0",
                {"h": 0, "x": ZERO32,
                 "r": mal.me.sign(receipt_msg(bob.pk, mal.me.pk, 0, ZERO32))})
        row = sync_row()
        ok(row.get("delivered") == 3, "5: bad ACKs change nothing delivered", repr(row))

        # hostile HEADS (15.4): the author sends no posts on that session and alerts its user
        bob.cli("checkin", "run", "--done", "while you were away")

        def bad_heads(label, hb, strict=True):
            show0 = bob.show("mallory")
            s = mal.dial(heads=hb)
            sessions.append(s)
            s.watch(ABSENT)
            ok(not any(t == POSTS for t, _ in s.got),
               "5: HEADS %s: bob sends no posts on the session (watched %.0fs)" % (label, ABSENT))
            end_session(s)
            sh = wait_new_alert(bob, "mallory", show0)
            new = alert_kinds(sh) - alert_kinds(show0)
            if strict:
                ok(sum(new.values()) == 1, "5: HEADS %s: bob alerts its user (kind %r)"
                   % (label, sorted(new)), repr(sh.get("alerts")))

        bad_heads("h above bob's newest post", {"h": 9, "x": x9, "f": 0})
        bad_heads("x not H(post h) (alert not checked: same kind as the one before)",
                  {"h": 3, "x": x9, "f": 0}, strict=False)
        bad_heads("f = 2 (evidence of a fork of bob's stream)",
                  {"h": 3, "x": H(mal.inp[2]), "f": 2})
        # an honest HEADS resumes at h + 1
        s = mal.dial()
        sessions.append(s)
        body, _ = s.wait_for(POSTS)
        new, err = mal.verify_bob_posts(body)
        ok(err is None and [decode_post(p)[0] for p in new] == [4],
           "5: an honest HEADS h = 3 afterwards: bob resumes at post 4", repr(err))
        mal.inp += new
        s.send(ACK, mal.our_ack())
        row = wait_state(synced(4)) or sync_row()
        ok(row.get("delivered") == 4, "5: delivered == sent == 4", repr(row))

        # ---------------------------------------------------------------- 6. END
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        lport = listener.getsockname()[1]
        s.send(ADDRS, {"a": [["127.0.0.1", lport]]})
        want = "127.0.0.1:%d" % lport
        b = wait_state(lambda: (lambda b: b if b and want in (b.get("addresses") or [])
                                else None)(find_buddy(bob.env, "mallory")[0]))
        ok(b is not None, "6: ADDRS: bob now knows mallory at %s" % want,
           repr(find_buddy(bob.env, "mallory")[0]))
        end_session(s)
        # control: without END, bob dials us once the session is gone (9.3)
        rl, _, _ = select.select([listener], [], [], TIMEOUT)
        ok(bool(rl), "6: control: bob dials mallory at her new address after the session ends")
        if rl:
            conn, _ = listener.accept()
            conn.close()  # refused, silently
        s = mal.dial()
        sessions.append(s)
        s.send(END, {})
        end_session(s)
        b = wait_state(lambda: (lambda b: b if b and b.get("ended_by_them") is True else None)(
            find_buddy(bob.env, "mallory")[0]))
        ok(b is not None, "6: buddies --json: ended_by_them true for mallory",
           repr(find_buddy(bob.env, "mallory")[0]))
        t0 = time.monotonic()
        dials = 0
        while True:
            left = ABSENT + 2 - (time.monotonic() - t0)
            if left <= 0:
                break
            rl, _, _ = select.select([listener], [], [], left)
            if rl:
                conn, _ = listener.accept()
                conn.close()
                dials += 1
        ok(dials == 0, "6: bob stops dialling mallory (no dial in %.0fs; the first redial is "
           "due within 1.25s)" % (ABSENT + 2), "%d dials" % dials)
        sent0 = find_buddy(bob.env, "mallory")[0].get("sent")
        bob.cli("checkin", "run", "--done", "after the end")
        b = find_buddy(bob.env, "mallory")[0]
        ok(b.get("sent") == sent0, "6: bob makes no more posts for mallory",
           repr((sent0, b.get("sent"))))
        ok(content(bob.show("mallory")) == base, "6: bob keeps what mallory sent")

        ok(bob.daemon.running(), "bob's buddyd still running")
    except Fail as e:
        print("# aborted: %s" % e)
    except Exception as e:  # noqa
        import traceback
        traceback.print_exc(file=sys.stdout)
        ok(False, "unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        for s in sessions:
            s.close()
        if listener is not None:
            listener.close()
        if bob.daemon.proc is not None:
            rc = bob.daemon.stop()
            ok(rc == 0, "bob's buddyd exits 0 on SIGTERM", str(rc))
            if failed():
                bob.daemon.log_tail(40)
        if os.environ.get("BUDDY_IT_KEEP"):
            print("# kept %s" % bob.home)
        else:
            shutil.rmtree(bob.home, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
