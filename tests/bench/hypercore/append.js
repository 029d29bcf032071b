#!/usr/bin/env node
// Hypercore reference for bench_store: local appends per second of Hypercore 11, blocks of 200
// random bytes, one fresh core per measure:
//   single:     N_SINGLE appends, each awaited before the next (await core.append(block))
//   batch_1000: N_BATCH blocks appended 1,000 at a time (await core.append(array of 1,000))
//
// Storage: what Hypercore 11 uses by default for a directory, hypercore-storage (RocksDB through
// rocksdb-native), on disk under DIR. Not durable: rocksdb-native writes with the default
// RocksDB write options (sync = false), so an awaited append has reached the WAL file (page
// cache) but no fsync/fdatasync (strace -f shows none per append, only a few at open and close).
// Compare it with bench_store's durable figures knowing that.
//
// Prints one JSON line on stdout: {block_bytes, single: {appends, seconds, per_s},
// batch_1000: {appends, seconds, per_s}, ...}.
//
// Usage: node append.js [N_SINGLE=10000] [N_BATCH=200000] [DIR]   (DIR: where the cores go;
// default a new temporary directory under $TMPDIR; the cores made are removed at the end)
'use strict'

const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { performance } = require('perf_hooks')
const Hypercore = require('hypercore')

const BLOCK = 200
const BATCH = 1000

function die(msg) {
  process.stderr.write(`append.js: ${msg}\n`)
  process.exit(1)
}

function blocks(n) {
  const data = crypto.randomBytes(BLOCK * BATCH)
  const out = []
  for (let i = 0; i < n; i++) {
    const j = i % BATCH
    const b = Buffer.from(data.subarray(j * BLOCK, (j + 1) * BLOCK))
    b.writeUInt32BE(i, 0)
    out.push(b)
  }
  return out
}

async function measure(dir, n, batch) {
  const core = new Hypercore(dir)
  await core.ready()
  const all = blocks(n) // made before the clock starts
  const t0 = performance.now()
  if (batch === 1) {
    for (let i = 0; i < n; i++) await core.append(all[i])
  } else {
    for (let i = 0; i < n; i += batch) await core.append(all.slice(i, i + batch))
  }
  const t1 = performance.now()
  if (core.length !== n) die(`core has ${core.length} blocks, not ${n}`)
  await core.close()
  const seconds = (t1 - t0) / 1e3
  return { appends: n, seconds, per_s: n / seconds }
}

async function main() {
  const args = process.argv.slice(2)
  const nSingle = args[0] === undefined ? 10000 : Number(args[0])
  const nBatch = args[1] === undefined ? 200000 : Number(args[1])
  if (!(Number.isInteger(nSingle) && nSingle > 0 && Number.isInteger(nBatch) && nBatch > 0)) {
    die('usage: node append.js [N_SINGLE=10000] [N_BATCH=200000] [DIR]')
  }
  const dir = fs.mkdtempSync(path.join(args[2] || os.tmpdir(), 'hypercore-append-'))
  try {
    const single = await measure(path.join(dir, 'single'), nSingle, 1)
    const batch = await measure(path.join(dir, 'batch'), nBatch, BATCH)
    const out = {
      block_bytes: BLOCK,
      single,
      batch_1000: batch,
      hypercore: require('hypercore/package.json').version,
      node: process.version,
      storage: 'hypercore-storage (RocksDB) on disk, no fsync per write'
    }
    process.stdout.write(JSON.stringify(out) + '\n')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => die(err.stack || String(err)))
