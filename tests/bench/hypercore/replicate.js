#!/usr/bin/env node
// Hypercore reference for bench_sync: replication throughput of Hypercore 11 over loopback TCP.
//
// Two Hypercores in two separate Node processes (this script forks itself twice). The writer
// appends N blocks of 200 random bytes first (in batches of 1,000, not timed), then listens on
// 127.0.0.1; the reader opens an empty core with the writer's key, dials it and replicates
// through @hyperswarm/secret-stream (Noise XX, then XChaCha20-Poly1305 / libsodium
// secretstream framing) with core.replicate(). Timed: from the reader's connect() to its
// download range of [0, N) resolving, i.e. every block received, verified against the signed
// Merkle tree and written to the reader's storage (Hypercore flushes the storage batch before it
// marks a block as had); the reader then checks contiguousLength == N.
//
// Storage: what Hypercore 11 uses by default for a directory, hypercore-storage (RocksDB through
// rocksdb-native), on disk under DIR. Not durable: rocksdb-native writes its batches with the
// default RocksDB write options (sync = false), so the WAL is written but never fsync'd per write
// (under strace -f there is no fsync/fdatasync while blocks arrive); buddy's figure, by contrast,
// is durable (fdatasync before the ack).
//
// Prints one JSON line on stdout: {blocks, block_bytes, seconds, blocks_per_s, rss_writer_mib,
// rss_reader_mib, ...}; the RSS figures are each process's peak (process.resourceUsage().maxRSS),
// the writer's including its untimed appends.
//
// Usage: node replicate.js [N=100000] [DIR]   (DIR: where both stores go; default a new
// temporary directory under $TMPDIR, removed at the end; given DIR, only the stores made in it
// are removed)
'use strict'

const { fork } = require('child_process')
const crypto = require('crypto')
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')
const { performance } = require('perf_hooks')

const BLOCK = 200
const BATCH = 1000

function peakRssMiB() {
  return process.resourceUsage().maxRSS / 1024 // maxRSS is in KiB on Linux
}

function die(msg) {
  process.stderr.write(`replicate.js: ${msg}\n`)
  process.exit(1)
}

async function writer(dir, n) {
  const Hypercore = require('hypercore')
  const SecretStream = require('@hyperswarm/secret-stream')
  const core = new Hypercore(dir)
  await core.ready()
  const data = crypto.randomBytes(BLOCK * BATCH)
  for (let i = 0; i < n; i += BATCH) {
    const blocks = []
    for (let j = 0; j < BATCH && i + j < n; j++) {
      // a fresh random-looking block each time: the first bytes carry the index
      const b = Buffer.from(data.subarray(j * BLOCK, (j + 1) * BLOCK))
      b.writeUInt32BE(i + j, 0)
      blocks.push(b)
    }
    await core.append(blocks)
  }
  if (core.length !== n) die(`writer has ${core.length} blocks, not ${n}`)
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    core.replicate(new SecretStream(false, socket))
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1', () => {
    process.send({ ready: true, port: server.address().port, key: core.key.toString('hex') })
  })
  process.on('message', async (m) => {
    if (!m.exit) return
    const rss = peakRssMiB()
    server.close()
    await core.close()
    process.send({ rss }, () => process.exit(0))
  })
}

async function reader(dir, n, port, key) {
  const Hypercore = require('hypercore')
  const SecretStream = require('@hyperswarm/secret-stream')
  const core = new Hypercore(dir, Buffer.from(key, 'hex'))
  await core.ready()
  const t0 = performance.now()
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  socket.on('error', (err) => die(`reader socket: ${err.message}`))
  core.replicate(new SecretStream(true, socket))
  await core.download({ start: 0, end: n }).done()
  const t1 = performance.now()
  if (core.contiguousLength !== n) die(`reader has ${core.contiguousLength} blocks, not ${n}`)
  const rss = peakRssMiB()
  socket.destroy()
  await core.close()
  process.send({ seconds: (t1 - t0) / 1e3, rss }, () => process.exit(0))
}

function nextMessage(child, what) {
  return new Promise((resolve, reject) => {
    const onexit = (code) => reject(new Error(`${what} exited (${code}) before answering`))
    child.once('exit', onexit)
    child.once('message', (m) => {
      child.off('exit', onexit)
      resolve(m)
    })
  })
}

async function main(n, base) {
  const own = !base
  const dir = own
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'hypercore-replicate-'))
    : fs.mkdtempSync(path.join(base, 'hypercore-replicate-'))
  const w = fork(__filename, ['writer', path.join(dir, 'writer'), String(n)])
  let r = null
  try {
    const ready = await nextMessage(w, 'writer')
    r = fork(__filename, ['reader', path.join(dir, 'reader'), String(n), ready.port, ready.key])
    const got = await nextMessage(r, 'reader')
    w.send({ exit: true })
    const wrote = await nextMessage(w, 'writer')
    const out = {
      blocks: n,
      block_bytes: BLOCK,
      seconds: got.seconds,
      blocks_per_s: n / got.seconds,
      rss_writer_mib: wrote.rss,
      rss_reader_mib: got.rss,
      hypercore: require('hypercore/package.json').version,
      secret_stream: require('@hyperswarm/secret-stream/package.json').version,
      node: process.version,
      storage: 'hypercore-storage (RocksDB) on disk, no fsync per write'
    }
    process.stdout.write(JSON.stringify(out) + '\n')
  } finally {
    if (r) r.kill()
    w.kill()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const [role, ...args] = process.argv.slice(2)
if (role === 'writer') {
  writer(args[0], Number(args[1])).catch((err) => die(`writer: ${err.stack || err}`))
} else if (role === 'reader') {
  reader(args[0], Number(args[1]), Number(args[2]), args[3]).catch((err) =>
    die(`reader: ${err.stack || err}`)
  )
} else {
  const n = role === undefined ? 100000 : Number(role)
  if (!Number.isInteger(n) || n <= 0) die('usage: node replicate.js [N=100000] [DIR]')
  main(n, args[0]).catch((err) => die(err.stack || String(err)))
}
