#!/usr/bin/python3
"""Interop test: an independent implementation of the buddy peer protocol, written from
proto/PROTOCOL.md alone, run against the real buddyd.

Needs (Debian): python3-dissononce python3-msgpack
  (dissononce pulls in python3-cryptography, used here for Ed25519 too).
Run:  BUDDY=build/buddy BUDDYD=build/buddyd /usr/bin/python3 tests/integration/interop_test.py
"""

import hashlib
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import msgpack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.private import PrivateKey
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.blake2b import Blake2bHash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState

TIMEOUT = 10.0  # failure bound only, never a synchronisation device
PROLOGUE = b"buddy peer protocol 1"
P = 2**255 - 19

BUDDY = os.environ.get("BUDDY", "build/buddy")
BUDDYD = os.environ.get("BUDDYD", "build/buddyd")

# ---------------------------------------------------------------- TAP-like output

_passed = 0
_failed = 0


def ok(cond, what, detail=""):
    global _passed, _failed
    if cond:
        _passed += 1
        print("ok %d - %s" % (_passed + _failed, what), flush=True)
    else:
        _failed += 1
        print("not ok %d - %s%s" % (_passed + _failed, what,
                                     (" -- " + detail) if detail else ""), flush=True)
    return cond


class Fail(Exception):
    pass


def require(cond, what, detail=""):
    if not ok(cond, what, detail):
        raise Fail(what)


# ---------------------------------------------------------------- section 4: keys


def ed25519_pk_to_x25519(a):
    """Section 4.2: y = low 255 bits of A (LE), u = (1+y)/(1-y) mod p, 32 bytes LE."""
    if len(a) != 32:
        raise ValueError("key length")
    y = int.from_bytes(a, "little") & ((1 << 255) - 1)
    if y % P == 1:
        raise ValueError("y = 1")
    u = (1 + y) * pow((1 - y) % P, P - 2, P) % P
    return u.to_bytes(32, "little")


def ed25519_seed_to_x25519_priv(seed):
    k = bytearray(hashlib.sha512(seed).digest()[:32])
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return bytes(k)


class Identity:
    def __init__(self, seed=None):
        self.seed = seed if seed is not None else os.urandom(32)
        self.pk = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)
        self.x_priv = ed25519_seed_to_x25519_priv(self.seed)
        self.x_kp = X25519DH().generate_keypair(PrivateKey(self.x_priv))
        self.x_pub = ed25519_pk_to_x25519(self.pk)
        if self.x_kp.public.data != self.x_pub:
            raise AssertionError("X25519(private, 9) != birational map of A")


# ---------------------------------------------------------------- sections 7.1, 11, 12


def invite_id(secret):
    return hashlib.blake2b(b"buddy-invite-id-v1", digest_size=32, key=secret).digest()[:8]


def invite_proof(secret, h2):
    return hashlib.blake2b(b"buddy-invite-proof-v1" + h2, digest_size=32, key=secret).digest()


def safety_number(p, q):
    lo, hi = sorted([p, q])
    h = hashlib.blake2b(b"buddy-safety-number-v1" + lo + hi, digest_size=64).digest()
    return " ".join("%05d" % (int.from_bytes(h[5 * g:5 * g + 5], "big") % 100000)
                    for g in range(12))


class CodeError(Exception):
    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind  # "invalid", "version", "corrupt"


B32 = "abcdefghijklmnopqrstuvwxyz234567"


def decode_invite(text):
    """Section 11.3, in its order. Returns a dict."""
    i = 0
    while i < len(text) and text[i] in " \t\r\n\v\f":
        i += 1
    m = re.match(r"bdy([0-9]+)-", text[i:], re.IGNORECASE)
    if not m:
        raise CodeError("invalid")
    if m.group(1) != "1":
        raise CodeError("version")
    rest = text[i + m.end():]
    chars = []
    for c in rest:
        if c in " \t\r\n\v\f-":
            continue
        lc = c.lower() if c.isascii() else c
        if lc not in B32:
            raise CodeError("invalid")
        chars.append(lc)
    nc = len(chars)
    nbytes = nc * 5 // 8
    if (8 * nbytes + 4) // 5 != nc:
        raise CodeError("invalid")
    bits = 0
    acc = 0
    for c in chars:
        acc = (acc << 5) | B32.index(c)
        bits += 5
    unused = bits - 8 * nbytes
    if acc & ((1 << unused) - 1):
        raise CodeError("invalid")
    rec = (acc >> unused).to_bytes(nbytes, "big")
    if nbytes > 214:
        raise CodeError("invalid")
    if len(rec) < 62 or rec[0] != 1:
        raise CodeError("invalid")
    naddrs = rec[57]
    if naddrs > 8:
        raise CodeError("invalid")
    off = 58
    addrs = []
    for _ in range(naddrs):
        if off >= len(rec):
            raise CodeError("invalid")
        fam = rec[off]
        if fam == 4:
            n = 4
        elif fam == 6:
            n = 16
        else:
            raise CodeError("invalid")
        if off + 1 + n + 2 > len(rec):
            raise CodeError("invalid")
        host = str(ipaddress.ip_address(rec[off + 1:off + 1 + n]))
        port = struct.unpack(">H", rec[off + 1 + n:off + 3 + n])[0]
        addrs.append((host, port))
        off += 3 + n
    if len(rec) != off + 4:
        raise CodeError("invalid")
    ck = hashlib.blake2b(rec[:off], digest_size=32, key=b"buddy-invite-checksum").digest()[:4]
    if ck != rec[off:]:
        raise CodeError("corrupt")
    expires = struct.unpack(">Q", rec[49:57])[0]
    if expires > 2**63 - 1 or any(p == 0 for _, p in addrs):
        raise CodeError("invalid")
    return {"inviter": rec[1:33], "secret": rec[33:49], "expires": expires, "addrs": addrs}


# ---------------------------------------------------------------- section 6: hello


def encode_hello(ident, addrs=(), inv=None, prf=None):
    m = {"v": 1, "f": 0, "id": ident.pk, "a": [[h, p] for h, p in addrs]}
    if inv is not None:
        m["inv"] = inv
        m["prf"] = prf
    b = msgpack.packb(m, use_bin_type=True)
    assert len(b) <= 1024
    return b


def decode_hello(b):
    """Section 6 (the checks a receiver of message 2 makes). Raises ValueError."""
    if len(b) > 1024:
        raise ValueError("hello too long")
    up = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=2048)
    up.feed(b)
    obj = up.unpack()  # raises OutOfData on truncation
    try:
        up.unpack()
        raise ValueError("trailing bytes")
    except msgpack.OutOfData:
        pass
    if not isinstance(obj, dict):
        raise ValueError("not a map")
    # raw=True: str -> bytes, bin -> bytes too; re-decode to tell them apart
    strict = msgpack.unpackb(b, raw=False, strict_map_key=False)
    out = {}
    for k, v in strict.items():
        if not isinstance(k, str) or k not in ("v", "f", "id", "a", "inv", "prf"):
            continue
        out[k] = v
    if "v" not in out or not isinstance(out["v"], int) or isinstance(out["v"], bool) or out["v"] < 0:
        raise ValueError("v")
    if out["v"] != 1:
        raise ValueError("other version")
    if not isinstance(out.get("f", 0), int) or out.get("f", 0) < 0:
        raise ValueError("f")
    if not isinstance(out.get("id"), bytes) or len(out["id"]) != 32:
        raise ValueError("id")
    a = out.get("a", [])
    if not isinstance(a, list) or len(a) > 8:
        raise ValueError("a")
    for e in a:
        if not isinstance(e, list) or len(e) != 2 or not isinstance(e[0], str) \
                or not isinstance(e[1], int) or not 1 <= e[1] <= 65535:
            raise ValueError("address entry")
        ipaddress.ip_address(e[0])  # numeric only
        if "%" in e[0] or "[" in e[0]:
            raise ValueError("host")
    if ("inv" in out) != ("prf" in out):
        raise ValueError("inv without prf")
    if "inv" in out and (not isinstance(out["inv"], bytes) or len(out["inv"]) != 8):
        raise ValueError("inv")
    if "prf" in out and (not isinstance(out["prf"], bytes) or len(out["prf"]) != 32):
        raise ValueError("prf")
    return out


# ---------------------------------------------------------------- sections 3, 5, 8: connection


class Closed(Exception):
    pass


class Conn:
    def __init__(self, host, port, ident):
        self.ident = ident
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        self.buf = b""
        self.hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()),
                                 X25519DH())
        self.hs.initialize(XXHandshakePattern(), True, PROLOGUE, s=ident.x_kp)
        assert self.hs.protocol_name == "Noise_XX_25519_ChaChaPoly_BLAKE2b"
        self.tx = self.rx = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv_exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                raise Closed("reset")
            if not d:
                raise Closed("eof (%d bytes pending)" % len(self.buf))
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        (n,) = struct.unpack(">H", self._recv_exact(2, deadline))
        if n == 0:
            raise ValueError("zero-length frame")
        return self._recv_exact(n, deadline)

    def write_frame(self, msg):
        assert 1 <= len(msg) <= 65535
        self.sock.sendall(struct.pack(">H", len(msg)) + msg)

    # handshake, initiator side
    def msg1(self):
        buf = bytearray()
        self.hs.write_message(b"", buf)
        assert len(buf) == 32
        self.write_frame(bytes(buf))

    def msg2(self):
        m = self.read_frame()
        if len(m) > 1120:
            raise ValueError("message 2 too long")
        payload = bytearray()
        self.hs.read_message(m, payload)
        h2 = self.hs.symmetricstate.get_handshake_hash()
        return bytes(payload), bytes(self.hs.rs.data), h2, len(m)

    def msg3(self, hello):
        buf = bytearray()
        cs = self.hs.write_message(hello, buf)
        assert cs is not None
        self.write_frame(bytes(buf))
        self.tx, self.rx = cs  # initiator: first encrypts, second decrypts

    def send(self, typ, body):
        pt = msgpack.packb([typ, body], use_bin_type=True)
        self.write_frame(self.tx.encrypt_with_ad(b"", pt))

    def recv(self, timeout=TIMEOUT):
        ct = self.read_frame(timeout)
        pt = self.rx.decrypt_with_ad(b"", ct)
        obj = msgpack.unpackb(pt, raw=False, strict_map_key=False)
        if not (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], int)
                and isinstance(obj[1], dict)):
            raise ValueError("not [type, body]: %r" % (obj,))
        return obj[0], obj[1], pt

    def expect_silent_close(self, timeout=TIMEOUT):
        """True when the peer closes without sending any byte."""
        deadline = time.monotonic() + timeout
        got = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, "no close within %.0fs" % timeout
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                return (got == b""), "reset after %d bytes" % len(got)
            except socket.timeout:
                return False, "no close within %.0fs" % timeout
            if not d:
                return (got == b""), "eof after %d bytes" % len(got)
            got += d


PING, PONG, PAIRED, ADDRS = 1, 2, 3, 4


def handshake_to(host, port, ident, expect_id, hello_extra=None, secret=None):
    """Messages 1-3 as initiator. Returns the connection (message 3 sent)."""
    c = Conn(host, port, ident)
    c.msg1()
    payload, rs, h2, mlen = c.msg2()
    hello = decode_hello(payload)
    checks = (
        hello["v"] == 1,
        ed25519_pk_to_x25519(hello["id"]) == rs,
        hello["id"] != ident.pk,
        "inv" not in hello and "prf" not in hello,
        hello["id"] == expect_id,
        mlen == 32 + 48 + len(payload) + 16,
    )
    c.hello2, c.rs, c.h2, c.checks = hello, rs, h2, checks
    if not all(checks):
        c.close()
        return c
    inv = prf = None
    if secret is not None:
        inv, prf = invite_id(secret), invite_proof(secret, h2)
    c.msg3(encode_hello(ident, inv=inv, prf=prf))
    return c


# ---------------------------------------------------------------- spec vectors (self-check)


def self_check():
    a = Identity(bytes(range(32)))
    b = Identity(bytes(range(32, 64)))
    ok(a.pk.hex() == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
       and b.pk.hex() == "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7",
       "spec 4.2 vectors: Ed25519 public keys")
    ok(a.x_pub.hex() == "4701d08488451f545a409fb58ae3e58581ca40ac3f7f114698cd71deac73ca01"
       and b.x_pub.hex() == "5730800ab340fcb18ce5111eda9d705f91388b41e4544cbd103ba5942db2233e",
       "spec 4.2 vectors: X25519 public keys (birational map)")
    ok(a.x_priv.hex() == "3894eea49c580aef816935762be049559d6d1440dede12e6a125f1841fff8e6f"
       and b.x_priv.hex() == "887af58a36202e05c4c1cfec5bf6c61fad66bca851536004074b31f1b56e4a49",
       "spec 4.2 vectors: X25519 private keys (clamped)")
    secret = bytes.fromhex("00112233445566778899aabbccddeeff")
    ok(invite_id(secret).hex() == "25a8deb00aabd255", "spec 7.1 vector: invite id")
    ok(invite_proof(secret, bytes(range(64))).hex()
       == "7e466ec2e12fd057efbe9eb4830bb93ba5a8e562d00d013a4d5c30f6fe0681a3",
       "spec 7.1 vector: invite proof")
    code = ("bdy1-aeb2cb576phbbpq5odorrz2lycmwpzgwgcn2kdk7dxoimzaskuy3qaareizuivlgo6ejtkv3zto657"
            "yaaaaaa2kvxeaaebgaaabauhpgayqacdnyaaaaaaaaaaaaaaaaaaar3zw73ufba")
    good = {"inviter": a.pk, "secret": secret, "expires": 1767225600,
            "addrs": [("192.0.2.10", 7654), ("2001:db8::1", 7654)]}
    ok(decode_invite(code) == good, "spec 11.4 vector: code decodes")
    grouped = "  BDY1-\n" + "-".join(code[5:].upper()[i:i + 4] for i in range(0, 141, 4))
    ok(decode_invite(grouped) == good, "spec 11.4: upper case, grouped, broken code decodes")
    kinds = []
    for bad in (code[:-1], "bdy2-" + code[5:], code[:20] + ("a" if code[20] != "a" else "b")
                + code[21:], code[:30] + "0" + code[31:], "xyz1-" + code[5:]):
        try:
            decode_invite(bad)
            kinds.append("ok")
        except CodeError as e:
            kinds.append(e.kind)
    ok(kinds == ["invalid", "version", "corrupt", "invalid", "invalid"],
       "spec 11.3: truncated/version/typo/bad char/prefix refused", repr(kinds))
    hello = bytes.fromhex(
        "84a17601a16600a26964c42003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
        "a1619292aa3139322e302e322e3130cd1de692ab323030313a6462383a3a31cd1de6")
    enc = encode_hello(a, addrs=[("192.0.2.10", 7654), ("2001:db8::1", 7654)])
    ok(enc == hello and len(hello) == 78 and decode_hello(hello)["id"] == a.pk,
       "spec 6 vector: hello encodes byte-exact and decodes")
    ok(msgpack.packb([PING, {"n": 7}]) == bytes.fromhex("920181a16e07")
       and msgpack.packb([PONG, {"n": 7}]) == bytes.fromhex("920281a16e07")
       and msgpack.packb([PAIRED, {}]) == bytes.fromhex("920380"),
       "spec 8 vectors: PING/PONG/PAIRED plaintexts")
    ok(safety_number(a.pk, b.pk) == safety_number(b.pk, a.pk) ==
       "97085 25191 90356 85266 21099 83155 52214 55666 41944 67031 48419 51915",
       "spec 12 vector: safety number")


# ---------------------------------------------------------------- the daemon


def run_cli(env, *args, check=True):
    r = subprocess.run([BUDDY] + list(args), env=env, capture_output=True, text=True,
                       timeout=TIMEOUT)
    if check and r.returncode != 0:
        raise Fail("buddy %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def find_buddy(env, name):
    r = run_cli(env, "buddies", "--json")
    data = json.loads(r.stdout)
    lst = data if isinstance(data, list) else data.get("buddies", [])
    for b in lst:
        if isinstance(b, dict) and b.get("name") == name:
            return b, data
    return None, data


def main():
    home = tempfile.mkdtemp(prefix="buddy-interop-")
    env = dict(os.environ, BUDDY_HOME=home)
    daemon = None
    conns = []
    try:
        self_check()

        r = run_cli(env, "init", "--no-passphrase", "--kdf", "interactive")
        ok(r.returncode == 0, "buddy init")
        rfd, wfd = os.pipe()
        log = open(os.path.join(home, "buddyd.log"), "w")
        daemon = subprocess.Popen([BUDDYD, "--listen", "127.0.0.1:0", "--ready-fd", str(wfd)],
                                  env=env, pass_fds=(wfd,), stdout=log, stderr=log)
        os.close(wfd)
        ready = b""
        deadline = time.monotonic() + TIMEOUT
        while not ready.endswith(b"\n") and time.monotonic() < deadline:
            rl, _, _ = select.select([rfd], [], [], max(0.0, deadline - time.monotonic()))
            if not rl:
                break
            d = os.read(rfd, 64)
            if not d:
                break
            ready += d
        os.close(rfd)
        require(ready == b"ready\n", "buddyd signals ready on --ready-fd", repr(ready))

        st = json.loads(run_cli(env, "status", "--json").stdout)
        listen = st.get("listen")
        if isinstance(listen, list):
            listen = listen[0] if listen else None
        if isinstance(listen, dict):
            listen = "%s:%s" % (listen.get("host"), listen.get("port"))
        m = re.match(r"^\[?([0-9.:a-fA-F]+)\]?:(\d+)$", str(listen))
        require(m is not None and m.group(1) == "127.0.0.1" and int(m.group(2)) > 0,
                "status --json gives the bound listen address", repr(st.get("listen")))
        port = int(m.group(2))
        print("# daemon listens on 127.0.0.1:%d" % port)

        r = run_cli(env, "invite", "--name", "py", "--address", "127.0.0.1:%d" % port)
        code = r.stdout.strip()
        require(code.lower().startswith("bdy1-"), "buddy invite prints a bdy1- code", code)

        # ---- step 2: decode the code and pair as the acceptor
        inv = decode_invite(code)
        ok(True, "invite code decodes (prefix, base32, layout, checksum)")
        ok(inv["addrs"] == [("127.0.0.1", port)], "code holds the address given",
           repr(inv["addrs"]))
        ok(inv["expires"] > time.time(), "code not expired")
        daemon_id = inv["inviter"]
        fpr = st.get("fingerprint") or st.get("id") or ""
        print("# daemon id %s (status says %r)" % (daemon_id.hex(), fpr))

        me = Identity()
        print("# our id %s" % me.pk.hex())
        host, dport = inv["addrs"][0]
        c = handshake_to(host, dport, me, daemon_id, secret=inv["secret"])
        conns.append(c)
        names = ["hello v = 1", "X25519(id) == Noise rs", "id is not ours",
                 "no inv/prf in message 2", "id == inviter key from code",
                 "message 2 size = 32+48+hello+16"]
        for good, n in zip(c.checks, names):
            ok(good, "pairing msg2: " + n)
        require(all(c.checks), "pairing handshake messages 1-3 sent")
        ok(isinstance(c.hello2.get("a"), list), "responder hello addresses %r" % c.hello2.get("a"))
        try:
            typ, body, pt = c.recv()
        except Exception as e:  # noqa
            typ, body, pt = None, None, repr(e)
        require(typ == PAIRED, "first transport message is PAIRED", repr(pt))
        ok(pt == bytes.fromhex("920380"), "PAIRED plaintext is 92 03 80", pt.hex())

        # ---- step 3: through the CLI
        r = run_cli(env, "buddies", "--wait", "py", "--timeout", "10s", check=False)
        b, data = find_buddy(env, "py")
        ok(b is not None, "buddies --json lists py", json.dumps(data)[:300])
        if b is not None:
            print("# buddies entry: %s" % json.dumps(b))
            online = b.get("online")
            ok(online is True or b.get("state") == "online" or b.get("status") == "online",
               "py is online", json.dumps(b))
            ok(b.get("public_key") == me.pk.hex(), "py's public_key is ours", json.dumps(b))
        sn = safety_number(daemon_id, me.pk)
        r = run_cli(env, "verify", "py", check=False)
        print("# our safety number: %s" % sn)
        for line in r.stdout.strip().splitlines():
            print("# verify: " + line)
        ok(r.returncode == 0 and sn in r.stdout, "buddy verify py shows our safety number",
           r.stdout.strip() + r.stderr.strip())

        # the session continues on the pairing connection: PING/PONG there too
        c.send(PING, {"n": 1000})
        got = None
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            typ, body, pt = c.recv(deadline - time.monotonic())
            if typ == PING:
                c.send(PONG, {"n": body["n"]})
            elif typ == PONG:
                got = body.get("n")
                break
        ok(got == 1000, "pairing connection continues as a session (PING 1000 -> PONG)")

        # ---- step 4: close and reconnect as a buddy
        c.close()
        conns.remove(c)
        run_cli(env, "buddies", "--wait", "py", "--offline", "--timeout", "10s", check=False)
        c = handshake_to("127.0.0.1", port, me, daemon_id)
        conns.append(c)
        require(all(c.checks), "buddy session: message 2 checks pass, message 3 sent")
        typ, body, pt = c.recv()
        require(typ == PING and isinstance(body.get("n"), int),
                "buddy session: responder's first transport message is PING", pt.hex())
        c.send(PONG, {"n": body["n"]})
        ok(True, "answered PING n=%d with PONG" % body["n"])
        c.send(PING, {"n": 424242})
        got = None
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            typ, body, pt = c.recv(deadline - time.monotonic())
            if typ == PING:
                c.send(PONG, {"n": body["n"]})
            elif typ == PONG:
                got = body.get("n")
                break
        ok(got == 424242, "PING n=424242 answered by PONG with the same n", repr(got))
        # unknown type is ignored: send one, then PING again, session must survive
        c.send(99, {"x": 1})
        c.send(PING, {"n": 7})
        got = None
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            typ, body, pt = c.recv(deadline - time.monotonic())
            if typ == PONG:
                got = body.get("n")
                break
            if typ == PING:
                c.send(PONG, {"n": body["n"]})
        ok(got == 7, "unknown message type ignored, session survives")
        b, _ = find_buddy(env, "py")
        ok(b is not None and b.get("online") is True, "py online again via the CLI")
        c.close()
        conns.remove(c)

        # ---- step 5: negatives
        c = handshake_to("127.0.0.1", port, me, daemon_id, secret=inv["secret"])
        conns.append(c)
        require(all(c.checks), "reused code: messages 1-3 sent")
        closed, why = c.expect_silent_close()
        ok(closed, "reused code: daemon closes after message 3 with nothing said", why)
        c.close()
        conns.remove(c)

        stranger = Identity()
        c = handshake_to("127.0.0.1", port, stranger, daemon_id)
        conns.append(c)
        require(all(c.checks), "unknown identity: messages 1-3 sent")
        closed, why = c.expect_silent_close()
        ok(closed, "unknown identity: daemon closes after message 3 with nothing said", why)
        c.close()
        conns.remove(c)

        b, data = find_buddy(env, "py")
        lst = data if isinstance(data, list) else data.get("buddies", [])
        ok(len(lst) == 1, "still exactly one buddy", json.dumps(data)[:300])

        # framing / message 1 refusals (sections 3 and 5.2)
        for what, frame in (("zero-length frame", b"\x00\x00"),
                            ("message 1 of 33 bytes", struct.pack(">H", 33) + os.urandom(33))):
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            s.sendall(frame)
            cc = Conn.__new__(Conn)
            cc.sock = s
            closed, why = cc.expect_silent_close()
            ok(closed, "%s: daemon closes with nothing said" % what, why)
            s.close()

        # a wrong proof does not use up the invite (section 7.2: only success marks it used)
        code2 = run_cli(env, "invite", "--name", "py2", "--address",
                        "127.0.0.1:%d" % port).stdout.strip()
        inv2 = decode_invite(code2)
        other = Identity()
        c = Conn("127.0.0.1", port, other)
        conns.append(c)
        c.msg1()
        payload, rs, h2, _ = c.msg2()
        ok(decode_hello(payload)["id"] == daemon_id, "second invite: responder is the inviter")
        bad = bytearray(invite_proof(inv2["secret"], h2))
        bad[0] ^= 1
        c.msg3(encode_hello(other, inv=invite_id(inv2["secret"]), prf=bytes(bad)))
        closed, why = c.expect_silent_close()
        ok(closed, "wrong invite proof: daemon closes after message 3 with nothing said", why)
        c.close()
        conns.remove(c)
        c = handshake_to("127.0.0.1", port, other, daemon_id, secret=inv2["secret"])
        conns.append(c)
        try:
            typ, body, pt = c.recv()
        except Exception as e:  # noqa
            typ, pt = None, repr(e)
        ok(typ == PAIRED, "the same invite still pairs with the right proof afterwards", repr(pt))
        b2, data = find_buddy(env, "py2")
        ok(b2 is not None and b2.get("public_key") == other.pk.hex(),
           "py2 listed with its key", json.dumps(data)[:300])
        c.close()
        conns.remove(c)

        ok(daemon.poll() is None, "daemon still running")
    except Fail as e:
        print("# aborted: %s" % e)
    except Exception as e:  # noqa
        ok(False, "unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        for c in conns:
            c.close()
        if daemon is not None:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
            ok(daemon.returncode == 0, "daemon exits 0 on SIGTERM", str(daemon.returncode))
            if _failed:
                try:
                    with open(os.path.join(home, "buddyd.log")) as f:
                        for line in f.read().splitlines()[-30:]:
                            print("# buddyd: " + line)
                except OSError:
                    pass
        shutil.rmtree(home, ignore_errors=True)
    print("%d passed, %d failed" % (_passed, _failed))
    return 1 if _failed else 0


if __name__ == "__main__":
    sys.exit(main())
