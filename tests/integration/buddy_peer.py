"""An independent implementation of the buddy peer protocol, written from proto/PROTOCOL.md
alone: the pieces the Python integration tests share (interop_test.py, sync_hostile_test.py).

- TAP-like output: ok(), require(), finish() ("N passed, N failed").
- Section 4 (keys): the Ed25519 -> X25519 map, Identity.
- Sections 7.1, 11, 12: invite id and proof, invite code decoding, safety numbers.
- Section 6: hello encoding and decoding.
- Sections 3, 5, 8: framing, the Noise XX handshake as initiator, transport messages (Conn,
  handshake_to).
- The daemon under test: run_cli (the buddy CLI with BUDDY_HOME set), Daemon (buddyd started
  with --listen 127.0.0.1:0 and --ready-fd, stopped with SIGTERM).

Needs (Debian): python3-dissononce python3-msgpack
  (dissononce pulls in python3-cryptography, used here for Ed25519 too).
"""

import hashlib
import ipaddress
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
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


def failed():
    return _failed


def finish():
    """Print the summary line; the process exit code."""
    print("%d passed, %d failed" % (_passed, _failed))
    return 1 if _failed else 0


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
        self.sk = Ed25519PrivateKey.from_private_bytes(self.seed)
        self.pk = self.sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.x_priv = ed25519_seed_to_x25519_priv(self.seed)
        self.x_kp = X25519DH().generate_keypair(PrivateKey(self.x_priv))
        self.x_pub = ed25519_pk_to_x25519(self.pk)
        if self.x_kp.public.data != self.x_pub:
            raise AssertionError("X25519(private, 9) != birational map of A")

    def sign(self, msg):
        return self.sk.sign(msg)


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

PING, PONG, PAIRED, ADDRS = 1, 2, 3, 4
HEADS, POSTS, ACK, END = 5, 6, 7, 8


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
        try:
            self.sock.sendall(struct.pack(">H", len(msg)) + msg)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed("write: %s" % e)

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

    def send_plain(self, pt):
        """Encrypt and send one plaintext, whatever it holds (section 8)."""
        assert len(pt) <= 65519
        self.write_frame(self.tx.encrypt_with_ad(b"", pt))

    def send(self, typ, body):
        self.send_plain(msgpack.packb([typ, body], use_bin_type=True))

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


def handshake_to(host, port, ident, expect_id, hello_extra=None, secret=None, addrs=()):
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
    c.msg3(encode_hello(ident, addrs=addrs, inv=inv, prf=prf))
    return c


# ---------------------------------------------------------------- the daemon


def run_cli(env, *args, check=True):
    r = subprocess.run([BUDDY] + list(args), env=env, capture_output=True, text=True,
                       timeout=TIMEOUT)
    if check and r.returncode != 0:
        raise Fail("buddy %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def cli_json(env, *args):
    return json.loads(run_cli(env, *(list(args) + ["--json"])).stdout)


def find_buddy(env, name):
    r = run_cli(env, "buddies", "--json")
    data = json.loads(r.stdout)
    lst = data if isinstance(data, list) else data.get("buddies", [])
    for b in lst:
        if isinstance(b, dict) and b.get("name") == name:
            return b, data
    return None, data


def parse_listen(st):
    """The (host, port) of `status --json` "listen", or None."""
    listen = st.get("listen")
    if isinstance(listen, list):
        listen = listen[0] if listen else None
    if isinstance(listen, dict):
        listen = "%s:%s" % (listen.get("host"), listen.get("port"))
    m = re.match(r"^\[?([0-9.:a-fA-F]+)\]?:(\d+)$", str(listen))
    if m is None:
        return None
    return m.group(1), int(m.group(2))


class Daemon:
    """One buddyd in a home: started with --listen 127.0.0.1:0 and --ready-fd (no polling: it
    writes "ready\\n" once it serves), stopped with SIGTERM. Its output goes to home/buddyd.log
    (appended across restarts)."""

    def __init__(self, home, env):
        self.home = home
        self.env = env
        self.proc = None
        self.log_path = os.path.join(home, "buddyd.log")

    def start(self, *extra):
        """Start buddyd; returns the bytes read from the ready fd (b"ready\\n" on success)."""
        rfd, wfd = os.pipe()
        log = open(self.log_path, "a")
        try:
            self.proc = subprocess.Popen(
                [BUDDYD, "--listen", "127.0.0.1:0", "--ready-fd", str(wfd)] + list(extra),
                env=self.env, pass_fds=(wfd,), stdout=log, stderr=log)
        finally:
            os.close(wfd)
            log.close()
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
        return ready

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM and reap; returns the exit code (None when it was never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_tail(self, n=30, prefix="# buddyd: "):
        try:
            with open(self.log_path) as f:
                for line in f.read().splitlines()[-n:]:
                    print(prefix + line)
        except OSError:
            pass
