#!/usr/bin/env python3
"""An independent reader of buddy backup files, written from proto/BACKUP.md alone (PyNaCl for
libsodium's Argon2id and secretstream, python3-msgpack for the payload). backup_test.sh decodes
real backups with it, and the worked example of the spec, so the spec is what is tested.

    backup_reader.py FILE PASSFILE [OUTDIR]

Prints one JSON object: made, records, pk (hex), fingerprint, config (bool), segments (names
and sizes), seed_matches_pk (bool). With OUTDIR, writes OUTDIR/config and OUTDIR/journal/NAME
for each segment. Never prints the seed or the data key. Exit 0 when the file decodes and
every check of the spec passes, 5 for a first chunk that does not open, 1 otherwise (with the
reason on stderr).
"""
import hashlib
import json
import os
import struct
import sys

import msgpack
from nacl import bindings as sodium
from nacl import pwhash
from nacl.signing import SigningKey

MAGIC = b"buddy-backup-v1"
HEADER = 76
ABYTES = 17
TAG_MESSAGE, TAG_FINAL = 0, 3
FIELDS = ["v", "made", "records", "pk", "seed", "dk", "config", "journal"]


class Bad(Exception):
    pass


def fingerprint(pk):
    h = hashlib.blake2b(b"buddy-fingerprint-v1" + pk, digest_size=16).hexdigest()
    return " ".join(h[i:i + 4] for i in range(0, 32, 4))


def read_backup(data, passphrase):
    if len(data) < HEADER or data[:15] != MAGIC:
        raise Bad("not a buddy backup (or a short header)")
    alg = data[15]
    ops, mem = struct.unpack(">QQ", data[16:32])
    salt = data[32:48]
    (chunk,) = struct.unpack(">I", data[48:52])
    ss_header = data[52:76]
    if alg != 2 or not (1 <= ops <= 32) or not (8192 <= mem <= 4 << 30) or not (
            1024 <= chunk <= 1 << 20):
        raise Bad("header parameters out of bounds")
    key = pwhash.argon2id.kdf(32, passphrase, salt, opslimit=ops, memlimit=mem)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, ss_header, key)
    payload = bytearray()
    pos, index, final = HEADER, 0, False
    while not final:
        ct = data[pos:pos + chunk + ABYTES]
        if not ct:
            raise Bad("truncated: no FINAL chunk")
        try:
            pt, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                state, ct, data[:HEADER] if index == 0 else None)
        except Exception:
            if index == 0:
                raise PermissionError("the first chunk does not open")
            raise Bad("chunk %d failed its check" % (index + 1))
        pos += len(ct)
        index += 1
        if tag == TAG_FINAL:
            final = True
            if pos != len(data):
                raise Bad("bytes after the FINAL chunk")
        elif tag != TAG_MESSAGE or len(pt) != chunk:
            raise Bad("a chunk before the last is not a full MESSAGE chunk")
        payload += pt
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(bytes(payload))
    doc = next(unpacker)
    if list(unpacker):
        raise Bad("bytes after the payload")
    if list(doc.keys()) != FIELDS or doc["v"] != 1:
        raise Bad("payload fields not as specified: %r" % list(doc.keys()))
    for k in ("pk", "seed", "dk"):
        if not isinstance(doc[k], bytes) or len(doc[k]) != 32:
            raise Bad("%s is not 32 bytes" % k)
    if doc["config"] is not None and (not isinstance(doc["config"], bytes)
                                      or len(doc["config"]) > 65536):
        raise Bad("config is not nil or bin of at most 64 KiB")
    if not isinstance(doc["journal"], list) or len(doc["journal"]) > 65536:
        raise Bad("journal is not an array of at most 65536 segments")
    for i, seg in enumerate(doc["journal"]):
        if (not isinstance(seg, list) or len(seg) != 2 or seg[0] != "%08d.log" % (i + 1)
                or not isinstance(seg[1], bytes) or len(seg[1]) > 64 << 20):
            raise Bad("segment %d is not [\"%08d.log\", bin]" % (i + 1, i + 1))
    return doc


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    with open(sys.argv[2], "rb") as f:
        passphrase = f.read()
    if passphrase.endswith(b"\n"):
        passphrase = passphrase[:-1]
    try:
        doc = read_backup(data, passphrase)
    except PermissionError as e:
        print("backup_reader: %s" % e, file=sys.stderr)
        return 5
    except (Bad, StopIteration, ValueError, msgpack.exceptions.ExtraData) as e:
        print("backup_reader: %s" % e, file=sys.stderr)
        return 1
    seed_pk = bytes(SigningKey(doc["seed"]).verify_key)
    if len(sys.argv) == 4:
        out = sys.argv[3]
        os.makedirs(os.path.join(out, "journal"), mode=0o700, exist_ok=True)
        if doc["config"] is not None:
            with open(os.path.join(out, "config"), "wb") as f:
                f.write(doc["config"])
        for name, body in doc["journal"]:
            with open(os.path.join(out, "journal", name), "wb") as f:
                f.write(body)
    print(json.dumps({
        "made": doc["made"],
        "records": doc["records"],
        "pk": doc["pk"].hex(),
        "fingerprint": fingerprint(doc["pk"]),
        "seed_matches_pk": seed_pk == doc["pk"],
        "config": doc["config"] is not None,
        "segments": [[n, len(b)] for n, b in doc["journal"]],
    }, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
