#!/usr/bin/python3
"""A fault-injecting TCP proxy for netfault_test.sh (Python 3 standard library only).

  faultproxy.py --mode MODE --seed SEED [options] LISTEN:TARGET...

For each LISTEN:TARGET it listens on HOST:LISTEN and connects every connection it accepts there
to HOST:TARGET (HOST is --host, default 127.0.0.1), copying bytes both ways. It never forwards a
read as it came: every chunk is cut at random byte boundaries into pieces of 1 to 8192 bytes
(many of them a few bytes long), each written on its own with TCP_NODELAY, so a frame (a 2-byte
length and a Noise message, proto/PROTOCOL.md 3) reaches the other side in arbitrary pieces, its
length prefix too. What else happens is the mode's:

  pass     nothing more (the splitting only)
  latency  each piece is held --latency-ms plus a random 0..--jitter-ms before it is written, in
           order (a later piece never overtakes an earlier one)
  stall    after a random number of bytes, the connection goes silent without being closed: what
           arrives from either side is read and thrown away, nothing is written; a side's socket
           is closed only when that side closes its end (its ping/idle timers must find out)
  rst      after a random number of bytes, part of a frame is written (the cut falls strictly
           inside a frame, after its length prefix when the piece allows) and both sockets are
           reset (SO_LINGER 0, then close: an RST, not a FIN)
  fin      after a random number of bytes (anywhere), both sides get a FIN (shutdown of the
           write side); the sockets are closed once each side has closed its end in turn

stall, rst and fin hit at most --faults connections in all (the ones after pass through, so a
sync always converges in the end). The byte count of each is drawn from [--min-bytes,
--max-bytes] of the connection's bytes (both ways); for rst and fin, with probability --early, from
[1, 400] instead (the handshake, the hello and HEADS). Every random choice comes from --seed: the
connection numbered k (in the order accepted) draws from random.Random("SEED:k") (its fault)
and random.Random("SEED:k:up"), random.Random("SEED:k:down") (its pieces and delays), so a run
is replayed with the same seed (timing aside). The seed is printed on stderr at start.

  --ready FIFO   "ready" is written there once every port is bound
  --stats FILE   JSON, rewritten after every fault and at exit: {"seed", "mode", "conns",
                 "faults", "mid_frame" (rst cuts that fell inside a frame), "bytes", "pieces",
                 "events": [the first 200 fault events]}

Runs until SIGTERM or SIGINT.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import struct
import sys
import time

EARLY_MAX = 400  # bytes: an "early" fault falls in the handshake, the hellos or HEADS


class Framer:
    """Where a byte stream stands in the framing: the length prefix collected so far and the
    bytes left of the current frame's body. A position is a frame boundary when both are
    empty."""

    def __init__(self):
        self.hdr = b""
        self.left = 0

    def copy(self):
        f = Framer()
        f.hdr, f.left = self.hdr, self.left
        return f

    def boundary(self):
        return not self.hdr and not self.left

    def in_body(self):
        return self.left > 0

    def feed(self, data):
        i, n = 0, len(data)
        while i < n:
            if self.left:
                take = min(self.left, n - i)
                self.left -= take
                i += take
                continue
            self.hdr += data[i:i + 1]
            i += 1
            if len(self.hdr) == 2:
                self.left = struct.unpack(">H", self.hdr)[0]
                self.hdr = b""


class Stats:
    def __init__(self, path, seed, mode):
        self.path = path
        self.d = {"seed": seed, "mode": mode, "conns": 0, "faults": 0, "mid_frame": 0,
                  "bytes": 0, "pieces": 0, "events": []}

    def event(self, text):
        print("faultproxy: " + text, file=sys.stderr, flush=True)
        if len(self.d["events"]) < 200:
            self.d["events"].append("%.3f %s" % (time.monotonic(), text))
        self.save()

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.d, f, sort_keys=True)
        os.replace(tmp, self.path)


class Proxy:
    def __init__(self, args):
        self.a = args
        self.faults_left = args.faults if args.mode in ("stall", "rst", "fin") else 0
        self.stats = Stats(args.stats, args.seed, args.mode)
        self.counter = 0

    def pieces(self, rng, data):
        """data cut at random boundaries: mostly up to a packet's size, often tiny, now and then
        large."""
        out, i = [], 0
        while i < len(data):
            r = rng.random()
            if r < 0.25:
                n = rng.randint(1, 16)
            elif r < 0.9:
                n = rng.randint(17, 1500)
            else:
                n = rng.randint(1501, 8192)
            out.append(data[i:i + n])
            i += n
        return out

    async def serve(self, cr, cw, target):
        self.counter += 1
        k = self.counter
        rng = random.Random("%s:%d" % (self.a.seed, k))
        self.stats.d["conns"] += 1
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection(self.a.host, target), 5)
        except (OSError, asyncio.TimeoutError):
            cw.transport.abort()
            return
        for w in (cw, uw):
            s = w.get_extra_info("socket")
            if s is not None:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(self, k, rng, cr, cw, ur, uw)
        await c.run()


class Conn:
    """One proxied connection: two directions, each a reader task (cuts what it reads into
    pieces with due times) and a writer task (writes them when due, and is where faults strike,
    at an exact byte position)."""

    def __init__(self, proxy, k, rng, cr, cw, ur, uw):
        self.p, self.k, self.rng = proxy, k, rng
        # each direction cuts and delays with its own generator: the same seed gives the same
        # pieces whatever the interleaving of the two
        self.drng = {d: random.Random("%s:%d:%s" % (proxy.a.seed, k, d)) for d in ("up", "down")}
        self.readers = {"up": cr, "down": ur}
        self.writers = {"up": uw, "down": cw}  # up: client -> target
        self.srcw = {"up": cw, "down": uw}     # the writer of each direction's source
        self.framers = {"up": Framer(), "down": Framer()}
        self.queues = {"up": asyncio.Queue(256), "down": asyncio.Queue(256)}
        self.last_due = {"up": 0.0, "down": 0.0}
        self.bytes = 0
        self.state = "open"  # open, stalled, cut
        self.closed = {"up": False, "down": False}  # direction over: its source has closed
        a = proxy.a
        self.threshold = None
        if a.mode in ("stall", "rst", "fin"):
            if a.mode != "stall" and rng.random() < a.early:
                self.threshold = rng.randint(1, EARLY_MAX)
            else:
                self.threshold = rng.randint(a.min_bytes, a.max_bytes)
        self.done = asyncio.Event()

    def event(self, text):
        self.p.stats.event("conn %d: %s" % (self.k, text))

    async def run(self):
        tasks = [asyncio.ensure_future(self.read_loop(d)) for d in ("up", "down")]
        tasks += [asyncio.ensure_future(self.write_loop(d)) for d in ("up", "down")]
        await self.done.wait()
        for t in tasks:
            t.cancel()
        for w in self.writers.values():
            w.transport.abort()

    def finish(self):
        self.done.set()

    async def read_loop(self, d):
        r = self.readers[d]
        a = self.p.a
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                if self.state != "open":
                    continue  # stalled or cut: read and thrown away
                rng = self.drng[d]
                for piece in self.p.pieces(rng, data):
                    due = 0.0
                    if a.mode == "latency":
                        due = max(self.last_due[d], loop.time() + a.latency_ms / 1000.0 +
                                  rng.uniform(0, a.jitter_ms / 1000.0))
                        self.last_due[d] = due
                    await self.queues[d].put((due, piece))
        except (OSError, asyncio.IncompleteReadError):
            pass
        # the source closed its end (or failed)
        if self.state == "stalled" or self.state == "cut":
            # a silent connection: the socket to that side is closed now that it has gone
            self.side_gone(d)
            return
        await self.queues[d].put((0.0, None))

    def side_gone(self, d):
        src = self.srcw[d]
        if not self.closed[d]:
            self.closed[d] = True
            src.transport.abort()
        if all(self.closed.values()):
            self.finish()

    async def write_loop(self, d):
        w = self.writers[d]
        loop = asyncio.get_running_loop()
        q = self.queues[d]
        try:
            while True:
                due, piece = await q.get()
                if piece is None:
                    # end of the source: pass the FIN on; when both ways have ended, done
                    if self.state == "open":
                        w.write_eof()
                        self.closed[d] = True
                        if all(self.closed.values()):
                            self.finish()
                    return
                if self.state != "open":
                    continue
                now = loop.time()
                if due > now:
                    await asyncio.sleep(due - now)
                if self.threshold is not None and self.p.faults_left > 0 and \
                        self.bytes + len(piece) >= self.threshold:
                    await self.strike(d, piece)
                    if self.state != "open":
                        continue
                await self.forward(d, piece)
        except (OSError, ConnectionError):
            self.finish()

    async def forward(self, d, piece):
        if not piece:
            return
        self.framers[d].feed(piece)
        self.bytes += len(piece)
        self.p.stats.d["bytes"] += len(piece)
        self.p.stats.d["pieces"] += 1
        w = self.writers[d]
        w.write(piece)
        await w.drain()

    async def strike(self, d, piece):
        """The fault of this connection, at this piece of direction d."""
        mode = self.p.a.mode
        self.p.faults_left -= 1
        self.p.stats.d["faults"] += 1
        if mode == "rst":
            c = self.cut_point(d, piece)
            if c is None:
                self.p.faults_left += 1  # no place inside a frame here: the next piece
                self.p.stats.d["faults"] -= 1
                return
            try:
                await self.forward(d, piece[:c])
            except (OSError, ConnectionError):
                # the connection went away before the cut was made: no fault struck here
                # (counted as one, it would break "every reset fell inside a frame")
                self.p.faults_left += 1
                self.p.stats.d["faults"] -= 1
                raise
            self.state = "cut"
            f = self.framers[d]
            self.p.stats.d["mid_frame"] += 1
            self.event("rst %s after %d bytes (%s)" % (
                d, self.bytes, "inside a frame's body" if f.in_body() else "inside a length"))
            for x in self.writers.values():
                s = x.get_extra_info("socket")
                if s is not None:
                    try:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    except OSError:
                        pass
                x.transport.abort()
            self.finish()
            return
        at = self.threshold - self.bytes
        at = max(0, min(at, len(piece)))
        await self.forward(d, piece[:at])
        if mode == "stall":
            self.state = "stalled"
            self.event("stall %s after %d bytes: silent from now on" % (d, self.bytes))
            # a side that already ended its sending gets its socket closed when it closes
            return
        # fin: a FIN to both sides; each socket is closed when its side closes in turn
        self.state = "cut"
        self.event("fin %s after %d bytes" % (d, self.bytes))
        for x in self.writers.values():
            try:
                x.write_eof()
            except (OSError, RuntimeError):
                pass

    def cut_point(self, d, piece):
        """An offset into piece where the stream is strictly inside a frame: inside a body
        when possible, else inside a length prefix."""
        f = self.framers[d].copy()
        body, any_ = [], []
        if not f.boundary():
            (body if f.in_body() else any_).append(0)
        for i in range(len(piece)):
            f.feed(piece[i:i + 1])
            if not f.boundary():
                (body if f.in_body() else any_).append(i + 1)
        if body:
            return self.rng.choice(body)
        if any_:
            return self.rng.choice(any_)
        return None


async def main_async(args):
    proxy = Proxy(args)
    servers = []
    for listen, target in args.pairs:
        srv = await asyncio.start_server(
            lambda r, w, t=target: proxy.serve(r, w, t), args.host, listen,
            reuse_address=True, backlog=64)
        servers.append(srv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("faultproxy: seed %s mode %s on %s" % (
        args.seed, args.mode, " ".join("%d->%d" % p for p in args.pairs)),
        file=sys.stderr, flush=True)
    proxy.stats.save()
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    await stop.wait()
    proxy.stats.save()
    for s in servers:
        s.close()
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("pass", "latency", "stall", "rst", "fin"), required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ready")
    ap.add_argument("--stats")
    ap.add_argument("--faults", type=int, default=5)
    ap.add_argument("--min-bytes", type=int, default=2000)
    ap.add_argument("--max-bytes", type=int, default=200000)
    ap.add_argument("--early", type=float, default=0.2)
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--jitter-ms", type=float, default=40)
    ap.add_argument("pairs", nargs="+")
    args = ap.parse_args(argv[1:])
    try:
        args.pairs = [tuple(int(x) for x in p.split(":")) for p in args.pairs]
    except ValueError:
        ap.error("LISTEN:TARGET takes two port numbers")
    if args.min_bytes < 1 or args.max_bytes < args.min_bytes:
        ap.error("--min-bytes must be at least 1 and at most --max-bytes")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
