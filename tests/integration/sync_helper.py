"""Helpers for sync_test.sh (standard library only: no python3-msgpack needed).

  sync_helper.py flood SOCKET COMMIT N CONNS PREFIX RATE
      N shared check-ins (status done, text "PREFIX-<i>.") on COMMIT through the control socket
      SOCKET (proto/CONTROL.md, method checkin), over CONNS connections at once, each pipelining
      up to 64 requests; with RATE > 0, request i is not sent before i / RATE seconds from the
      start. The daemon may be restarted meanwhile (see flood()). Prints one JSON line: {"ok": N
      done, "errors": [...], "ids": [sorted entry ids], "shared_with": [names of the first
      answer], "seconds": float, "reconnects", "lost_answers", "resent", "retried"}.

  sync_helper.py journal SOCKET COMMIT
      Reads every entry of COMMIT (journal, pages of 1000) and prints {"total", "entries",
      "distinct" (ids), "per_buddy": {name: {"shared", "delivered"}}}.

  sync_helper.py ports N
      N ports free on 127.0.0.1 below the ephemeral port range, space separated.

  sync_helper.py rpc SOCKET METHOD JSON_PARAMS
      One request; prints {"result": ...} or {"error": {...}} as JSON (bin as hex).

  sync_helper.py relay DIR READY_FIFO LISTEN:TARGET...
      A TCP relay: for each pair, listens on 127.0.0.1:LISTEN and connects every connection it
      accepts there to 127.0.0.1:TARGET (when nothing answers there, the client is closed at
      once), copying bytes both ways and recording them: DIR/conn.K.up (client -> target) and
      DIR/conn.K.down (target -> client), with one line per event in DIR/events ("open K
      LISTEN TARGET", "refused K LISTEN WHY", "close K"). Writes "ready" to READY_FIFO once
      every port is bound. Runs until SIGTERM.

  sync_helper.py frames DIR
      Splits every recorded connection of a relay into frames (PROTOCOL.md 3: a 2-byte
      big-endian length, then the Noise message) and prints JSON: {K: {"port": P, "open": bool,
      "up": [frame lengths], "down": [...], "up_rest": bytes after the last whole frame,
      "down_rest": ...}}.
"""

import json
import os
import signal
import socket
import struct
import sys
import threading
import time

# ---------------------------------------------------------------- MessagePack, by hand


def pack(o):
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o <= 0x7F:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack(">b", o)
        if 0 <= o <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", o)
        if o >= 0:
            return b"\xcf" + struct.pack(">Q", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, float):
        return b"\xcb" + struct.pack(">d", o)
    if isinstance(o, str):
        b = o.encode("utf-8")
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        if len(b) < 65536:
            return b"\xda" + struct.pack(">H", len(b)) + b
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(o, (bytes, bytearray)):
        if len(o) < 256:
            return b"\xc4" + bytes([len(o)]) + bytes(o)
        if len(o) < 65536:
            return b"\xc5" + struct.pack(">H", len(o)) + bytes(o)
        return b"\xc6" + struct.pack(">I", len(o)) + bytes(o)
    if isinstance(o, (list, tuple)):
        n = len(o)
        h = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return h + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        h = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return h + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError("cannot pack %r" % (o,))


class Short(Exception):
    pass


def unpack(b, i=0):
    """One MessagePack object at b[i:] -> (value, next index); Short when incomplete."""
    if i >= len(b):
        raise Short()
    t = b[i]

    def take(n, j):
        if j + n > len(b):
            raise Short()
        return b[j:j + n]

    def seq(n, j, is_map):
        if is_map:
            m = {}
            for _ in range(n):
                k, j = unpack(b, j)
                v, j = unpack(b, j)
                m[k] = v
            return m, j
        a = []
        for _ in range(n):
            v, j = unpack(b, j)
            a.append(v)
        return a, j

    if t <= 0x7F:
        return t, i + 1
    if t >= 0xE0:
        return t - 0x100, i + 1
    if 0x80 <= t <= 0x8F:
        return seq(t & 0x0F, i + 1, True)
    if 0x90 <= t <= 0x9F:
        return seq(t & 0x0F, i + 1, False)
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return take(n, i + 1).decode("utf-8", "replace"), i + 1 + n
    if t == 0xC0:
        return None, i + 1
    if t in (0xC2, 0xC3):
        return t == 0xC3, i + 1
    if t in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):
        w = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}[t]
        n = int.from_bytes(take(w, i + 1), "big")
        raw = take(n, i + 1 + w)
        j = i + 1 + w + n
        if t in (0xC4, 0xC5, 0xC6):
            return raw.hex(), j
        return raw.decode("utf-8", "replace"), j
    if t in (0xDC, 0xDD, 0xDE, 0xDF):
        w = 2 if t in (0xDC, 0xDE) else 4
        n = int.from_bytes(take(w, i + 1), "big")
        return seq(n, i + 1 + w, t in (0xDE, 0xDF))
    fmt = {0xCA: ">f", 0xCB: ">d", 0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
           0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}.get(t)
    if fmt:
        n = struct.calcsize(fmt)
        return struct.unpack(fmt, take(n, i + 1))[0], i + 1 + n
    raise ValueError("unexpected MessagePack byte 0x%02x" % t)


class Rpc:
    """A control-socket connection; requests may be pipelined."""

    def __init__(self, path, timeout=60):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.msgid = 0

    def send(self, method, params):
        self.msgid += 1
        self.s.sendall(pack([0, self.msgid, method, [params]]))
        return self.msgid

    def recv(self):
        while True:
            try:
                v, j = unpack(self.buf)
                self.buf = self.buf[j:]
                if not (isinstance(v, list) and len(v) == 4 and v[0] == 1):
                    raise ValueError("not a response: %r" % (v,))
                return v
            except Short:
                pass
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            self.buf += chunk

    def call(self, method, params):
        mid = self.send(method, params)
        v = self.recv()
        if v[1] != mid:
            raise ValueError("answer to msgid %r, expected %r" % (v[1], mid))
        return v[2], v[3]


# ---------------------------------------------------------------- flood


def flood(path, commit, n, conns, prefix, rate):
    """See the module's doc. Survives restarts of the daemon: a connection that breaks is made
    again (for up to 60 s), and each request whose answer was lost is looked up in the journal
    (its text is unique) before it is sent again, so no check-in is made twice."""
    from collections import deque
    t0 = time.monotonic()
    ids, errors, first = [], [], []
    stats = {"reconnects": 0, "lost_answers": 0, "resent": 0, "retried": 0}
    lock = threading.Lock()
    parts = [list(range(k, n, conns)) for k in range(conns)]

    def text(i):
        return "%s-%d." % (prefix, i)  # the dot: "F-1." is not inside "F-12."

    def connect():
        end = time.monotonic() + 60
        while True:
            try:
                return Rpc(path, timeout=30)
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.02)

    def lookup(r, i):
        while True:
            err, res = r.call("journal", {"commit": commit, "grep": text(i), "limit": 1000})
            if err is None:
                return [e["id"] for e in res["entries"] if e["text"] == text(i)]
            if not (isinstance(err, dict) and err.get("code") in (10, 12)):
                raise ConnectionError("journal: %r" % (err,))
            time.sleep(0.02)  # locked or busy: a daemon still starting

    def worker(indices):
        mine, errs, window = [], [], 64
        queue, inflight, unknown = deque(indices), deque(), deque()
        r = None
        alive = time.monotonic()  # the last answer: give up 60 s after it
        while queue or inflight or unknown:
            try:
                if r is None:
                    r = connect()
                while unknown:
                    found = lookup(r, unknown[0])
                    i = unknown.popleft()
                    if len(found) == 1:
                        mine.append(found[0])
                    elif not found:
                        queue.appendleft(i)
                        with lock:
                            stats["resent"] += 1
                    else:
                        errs.append({"duplicate": text(i), "ids": found})
                if queue and len(inflight) < window:
                    due = t0 + queue[0] / rate if rate else 0
                    now = time.monotonic()
                    if now >= due:
                        i = queue.popleft()
                        inflight.append(i)  # before sending: a failed send is a lost answer
                        r.send("checkin", {"commit": commit, "status": "done", "text": text(i)})
                        continue
                    if not inflight:
                        time.sleep(due - now)
                        continue
                v = r.recv()
                alive = time.monotonic()
                i = inflight.popleft()
                if v[2] is None:
                    mine.append(v[3]["id"])
                    if not first:
                        first.append(v[3].get("shared_with"))
                elif isinstance(v[2], dict) and v[2].get("code") in (10, 12):
                    queue.appendleft(i)  # locked or busy: a daemon still starting
                    with lock:
                        stats["retried"] += 1
                    time.sleep(0.02)
                else:
                    errs.append(v[2])
            except (OSError, ConnectionError, ValueError) as e:
                with lock:
                    stats["reconnects"] += 1
                    stats["lost_answers"] += len(inflight)
                unknown.extend(inflight)
                inflight.clear()
                if r is not None:
                    r.s.close()
                r = None
                if isinstance(e, socket.timeout) or time.monotonic() - alive > 60:
                    errs.append({"exception": repr(e)})
                    break
                time.sleep(0.01)
        with lock:
            ids.extend(mine)
            errors.extend(errs[:5])

    ts = [threading.Thread(target=worker, args=(p,)) for p in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out = {"ok": len(ids), "errors": errors, "ids": sorted(ids),
           "shared_with": first[0] if first else None,
           "seconds": round(time.monotonic() - t0, 2)}
    out.update(stats)
    print(json.dumps(out))
    return 0 if len(ids) == n and not errors else 1


def journal_summary(path, commit):
    """Every entry of COMMIT in the journal, a page of 1000 at a time: how many, and how many
    were delivered to each buddy."""
    r = Rpc(path)
    offset, total, entries = 0, None, []
    while total is None or offset < total:
        err, res = r.call("journal", {"commit": commit, "limit": 1000, "offset": offset})
        if err is not None:
            print(json.dumps({"error": err}))
            return 1
        total = res["total"]
        if not res["entries"]:
            break
        entries.extend(res["entries"])
        offset += len(res["entries"])
    per = {}
    for e in entries:
        for s in e.get("shared", []):
            b = per.setdefault(s["buddy"], {"shared": 0, "delivered": 0})
            b["shared"] += 1
            b["delivered"] += 1 if s["delivered"] else 0
    ids = [e["id"] for e in entries]
    print(json.dumps({"total": total, "entries": len(entries), "distinct": len(set(ids)),
                      "per_buddy": per}, sort_keys=True))
    return 0


def free_ports(n):
    """n ports that are free on 127.0.0.1 now and below the kernel's ephemeral range, so no
    outgoing connection (of this test or another) takes one while its daemon is restarting."""
    lo = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    import random
    cands = list(range(max(1024, lo - 12000), lo))
    if len(cands) < 100:
        cands = list(range(1024, 65536))
    random.SystemRandom().shuffle(cands)
    got = []
    for p in cands:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
            got.append(p)
        except OSError:
            pass
        finally:
            s.close()
        if len(got) == n:
            break
    print(" ".join(str(p) for p in got))
    return 0 if len(got) == n else 1


def rpc(path, method, params):
    err, res = Rpc(path).call(method, json.loads(params))
    print(json.dumps({"error": err} if err is not None else {"result": res}))
    return 0 if err is None else 1


# ---------------------------------------------------------------- relay


def relay(d, ready, pairs):
    lock = threading.Lock()
    counter = [0]
    ev = open(os.path.join(d, "events"), "a", buffering=1)

    def event(line):
        with lock:
            ev.write(line + "\n")

    def pipe(src, dst, rec, done):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                rec.write(b)
                rec.flush()
                dst.sendall(b)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        done.release()

    def serve(client, port, target):
        with lock:
            counter[0] += 1
            k = counter[0]
        try:
            up = socket.create_connection(("127.0.0.1", target), timeout=5)
            up.settimeout(None)
        except OSError as e:
            event("refused %d %d %s" % (k, port, e.__class__.__name__))
            client.close()
            return
        event("open %d %d %d" % (k, port, target))
        done = threading.Semaphore(0)
        fu = open(os.path.join(d, "conn.%d.up" % k), "wb")
        fd = open(os.path.join(d, "conn.%d.down" % k), "wb")
        threading.Thread(target=pipe, args=(client, up, fu, done), daemon=True).start()
        threading.Thread(target=pipe, args=(up, client, fd, done), daemon=True).start()
        done.acquire()
        done.acquire()
        fu.close()
        fd.close()
        client.close()
        up.close()
        event("close %d" % k)

    def accept_loop(ls, port, target):
        while True:
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c, port, target), daemon=True).start()

    listeners = []
    for port, target in pairs:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(64)
        listeners.append((ls, port, target))
    for ls, port, target in listeners:
        threading.Thread(target=accept_loop, args=(ls, port, target), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    with open(ready, "w") as f:
        f.write("ready\n")
    while True:
        signal.pause()


def frames(d):
    opened, closed = {}, set()
    with open(os.path.join(d, "events")) as f:
        for line in f:
            w = line.split()
            if w[0] == "open":
                opened[w[1]] = int(w[2])
            elif w[0] == "close":
                closed.add(w[1])
    out = {}
    for k, port in opened.items():
        r = {"port": port, "open": k not in closed}
        for way in ("up", "down"):
            try:
                with open(os.path.join(d, "conn.%s.%s" % (k, way)), "rb") as f:
                    b = f.read()
            except OSError:
                b = b""
            lens, i = [], 0
            while i + 2 <= len(b):
                n = struct.unpack(">H", b[i:i + 2])[0]
                if i + 2 + n > len(b):
                    break
                lens.append(n)
                i += 2 + n
            r[way] = lens
            r[way + "_rest"] = len(b) - i
        out[k] = r
    print(json.dumps(out, sort_keys=True))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "flood" and len(argv) == 8:
        return flood(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6], float(argv[7]))
    if cmd == "journal" and len(argv) == 4:
        return journal_summary(argv[2], argv[3])
    if cmd == "ports" and len(argv) == 3:
        return free_ports(int(argv[2]))
    if cmd == "rpc" and len(argv) == 5:
        return rpc(argv[2], argv[3], argv[4])
    if cmd == "relay" and len(argv) >= 5:
        return relay(argv[2], argv[3], [tuple(int(x) for x in p.split(":")) for p in argv[4:]])
    if cmd == "frames" and len(argv) == 3:
        return frames(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
