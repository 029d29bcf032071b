#!/usr/bin/python3
"""Interop test: an independent implementation of the buddy peer protocol, written from
proto/PROTOCOL.md alone, run against the real buddyd.

Needs (Debian): python3-dissononce python3-msgpack
  (dissononce pulls in python3-cryptography, used here for Ed25519 too).
Run:  BUDDY=build/buddy BUDDYD=build/buddyd /usr/bin/python3 tests/integration/interop_test.py
"""

import json
import os
import socket
import struct
import sys
import tempfile
import shutil
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buddy_peer import (  # noqa: E402
    PAIRED, PING, PONG, TIMEOUT, CodeError, Conn, Daemon, Fail, Identity, decode_hello,
    decode_invite, encode_hello, find_buddy, finish, failed, handshake_to, invite_id,
    invite_proof, ok, parse_listen, require, run_cli, safety_number)


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


def main():
    home = tempfile.mkdtemp(prefix="buddy-interop-")
    env = dict(os.environ, BUDDY_HOME=home)
    daemon = None
    conns = []
    try:
        self_check()

        r = run_cli(env, "init", "--no-passphrase", "--kdf", "interactive")
        ok(r.returncode == 0, "buddy init")
        daemon = Daemon(home, env)
        ready = daemon.start()
        require(ready == b"ready\n", "buddyd signals ready on --ready-fd", repr(ready))

        st = json.loads(run_cli(env, "status", "--json").stdout)
        la = parse_listen(st)
        require(la is not None and la[0] == "127.0.0.1" and la[1] > 0,
                "status --json gives the bound listen address", repr(st.get("listen")))
        port = la[1]
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

        ok(daemon.running(), "daemon still running")
    except Fail as e:
        print("# aborted: %s" % e)
    except Exception as e:  # noqa
        ok(False, "unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        for c in conns:
            c.close()
        if daemon is not None and daemon.proc is not None:
            rc = daemon.stop()
            ok(rc == 0, "daemon exits 0 on SIGTERM", str(rc))
            if failed():
                daemon.log_tail()
        shutil.rmtree(home, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
