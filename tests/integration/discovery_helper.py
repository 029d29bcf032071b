"""Helpers for discovery_test.sh (standard library only): a stranger on the LAN.

  discovery_helper.py sniff OUT READY IFNAME PORT
      Joins the beacon groups (239.255.77.77 and ff02::6275:6464) on IFNAME, on UDP PORT with
      SO_REUSEADDR like buddyd, and writes one JSON line per datagram received to OUT:
      {"ts": kernel receive time in ns (CLOCK_REALTIME), "src": address, "fam": 4|6,
      "hex": bytes}. First it sends a probe to the IPv4 group on IFNAME and waits (at most 5 s)
      for it to come back through multicast loop, which shows the membership works; then
      writes "ready" to READY. Runs until SIGTERM.

  discovery_helper.py count OUT SRC SINCE_NS
      Prints how many datagrams from SRC OUT holds that were received after SINCE_NS.

  discovery_helper.py none OUT SINCE_NS
      Prints how many datagrams other than the probes OUT holds received after SINCE_NS.

  discovery_helper.py analyse OUT SRC T0 B1 A1 B2 A2 END BUCKET
      What a stranger learns from SRC's beacons in three windows: phase 0 from T0 to B1, phase
      1 from A1 to B2, phase 2 from A2 to END (ns; what arrived while the clocks were being
      moved, between Bk and Ak, belongs to neither). Prints JSON: per phase the number of
      datagrams, of distinct heads (version, token, port field: the first 19 bytes) and the
      sizes of the rounds (bursts of datagrams less than 200 ms apart, whole ones only); and
      whether every datagram is 64 bytes of version 1, whether a phase repeats any head of an
      earlier one, and whether any two paddings are equal.

  discovery_helper.py send IFNAME PORT COUNT HEX|random [SRC [DST]]
      Sends COUNT datagrams to the IPv4 group on IFNAME (or to the unicast address DST): the
      bytes HEX each time (a replay), or, with "random", 64 fresh random bytes of version 1
      each (a flood), as fast as the socket takes them, from the address SRC when given (an
      address of this namespace, maybe off the link). Prints {"sent": n, "seconds": s}.

  discovery_helper.py xor OUT T0 B1 A1 END
      The port fields of a daemon's IPv4 and IPv6 beacons in two windows (phase 0 from T0 to
      B1, phase 1 from A1 to END, ns): per phase, the IPv4 and IPv6 datagrams paired by token
      (bytes 1 to 16), and the XOR of their port fields (bytes 17 and 18) as numbers. Prints
      JSON {"pairs": [n0, n1], "xors": [[...], [...]]}.
"""

import json
import os
import select
import signal
import socket
import struct
import sys
import time

GROUP4 = "239.255.77.77"
GROUP6 = "ff02::6275:6464"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
PROBE = b"\xeeprobe" + bytes(58)


def mreqn(ifindex):
    return struct.pack("4s4si", socket.inet_aton(GROUP4), socket.inet_aton("0.0.0.0"), ifindex)


def sender(ifname):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn(socket.if_nametoindex(ifname)))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    return s


def sniff(out, ready, ifname, port):
    idx = socket.if_nametoindex(ifname)
    socks = []
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s4.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s4.bind(("0.0.0.0", port))
    s4.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn(idx))
    socks.append((s4, 4))
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s6.bind(("::", port))
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                      socket.inet_pton(socket.AF_INET6, GROUP6) + struct.pack("@I", idx))
        socks.append((s6, 6))
    except OSError as e:
        print("no IPv6 listener: %s" % e, file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    f = open(out, "a", buffering=1)
    probe = sender(ifname)
    probe.sendto(PROBE, (GROUP4, port))
    probed = False
    deadline = time.monotonic() + 5
    while True:
        timeout = None if probed else max(0.0, deadline - time.monotonic())
        if not probed and timeout == 0:
            print("the probe did not come back: no multicast here", file=sys.stderr)
            sys.exit(1)
        r, _, _ = select.select([s for s, _ in socks], [], [], timeout)
        for s, fam in socks:
            if s not in r:
                continue
            data, anc, _, addr = s.recvmsg(2048, socket.CMSG_SPACE(16))
            ts = time.time_ns()
            for level, kind, val in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(val) >= 16:
                    sec, nsec = struct.unpack("@qq", val[:16])
                    ts = sec * 1000000000 + nsec
            if data == PROBE:
                if not probed:
                    probed = True
                    with open(ready, "w") as rf:
                        rf.write("ready\n")
                continue
            src = addr[0]
            f.write(json.dumps({"ts": ts, "src": src, "fam": fam, "hex": data.hex()}) + "\n")


def lines(out):
    with open(out) as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                pass  # a line being written


def analyse(out, src, t0, b1, a1, b2, a2, end, bucket):
    bounds = [(t0, b1), (a1, b2), (a2, end)]
    phases = [[], [], []]
    allgood = True
    for d in lines(out):
        if d["src"] != src:
            continue
        for k, (lo, hi) in enumerate(bounds):
            if lo < d["ts"] < hi:
                b = bytes.fromhex(d["hex"])
                phases[k].append((d["ts"], b))
                allgood &= len(b) == 64 and b[0] == 1
    res = {"shape_ok": allgood, "phases": [], "repeats_earlier": False, "pads_distinct": True}
    earlier, pads = set(), set()
    for k, ph in enumerate(phases):
        heads = {b[:19] for _, b in ph}
        # rounds: bursts whose datagrams are less than 200 ms apart; the first and the last
        # may be cut by the phase's bounds, so only those in between count
        bursts, cur, last = [], 0, None
        for ts, _ in sorted(ph):
            if last is not None and ts - last > 200_000_000:
                bursts.append(cur)
                cur = 0
            cur += 1
            last = ts
        if cur:
            bursts.append(cur)
        whole = bursts[1:-1]
        res["phases"].append({"datagrams": len(ph), "heads": len(heads), "rounds": whole,
                              "rounds_ok": bool(whole) and all(n % bucket == 0 for n in whole)})
        if heads & earlier:
            res["repeats_earlier"] = True
        earlier |= heads
        for _, b in ph:
            if b[19:] in pads:
                res["pads_distinct"] = False
            pads.add(b[19:])
    print(json.dumps(res, sort_keys=True))


def xor(out, t0, b1, a1, end):
    res = {"pairs": [], "xors": []}
    for lo, hi in ((t0, b1), (a1, end)):
        port = {4: {}, 6: {}}
        for d in lines(out):
            b = bytes.fromhex(d["hex"])
            if lo < d["ts"] < hi and len(b) == 64:
                port[d["fam"]][b[1:17]] = b[17] << 8 | b[18]
        both = sorted(set(port[4]) & set(port[6]))
        res["pairs"].append(len(both))
        res["xors"].append(sorted(port[4][t] ^ port[6][t] for t in both))
    print(json.dumps(res))


def send(ifname, port, count, what, src=None, dst=None):
    s = sender(ifname)
    if src:
        s.bind((src, 0))
    t0 = time.monotonic()
    n = 0
    for _ in range(count):
        data = bytes.fromhex(what) if what != "random" else b"\x01" + os.urandom(63)
        try:
            s.sendto(data, (dst or GROUP4, port))
            n += 1
        except BlockingIOError:
            pass
    print(json.dumps({"sent": n, "seconds": round(time.monotonic() - t0, 3)}))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sniff":
        sniff(args[0], args[1], args[2], int(args[3]))
    elif cmd == "count":
        print(sum(1 for d in lines(args[0]) if d["src"] == args[1] and d["ts"] > int(args[2])))
    elif cmd == "none":
        print(sum(1 for d in lines(args[0]) if d["ts"] > int(args[1])))
    elif cmd == "analyse":
        analyse(args[0], args[1], *[int(a) for a in args[2:9]])
    elif cmd == "send":
        send(args[0], int(args[1]), int(args[2]), args[3], *args[4:6])
    elif cmd == "xor":
        xor(args[0], *[int(a) for a in args[1:5]])
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
