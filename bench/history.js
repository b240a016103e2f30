#!/usr/bin/env node
'use strict'
// The history store's goals (issue 15):
// - `snapshots.create` with the size cap engaged (each create evicts the oldest snapshot) costs
//   the same with 1,000 and with 100,000 snapshots stored;
// - `applyRetention` deleting 1,000,000 analytics rows holds the write lock for short spells
//   only: a writer in another process, doing `store.transaction(() => analytics.record(…))`
//   (`BEGIN IMMEDIATE`) every few milliseconds throughout, never waits long. Measured: the
//   writer's longest `BEGIN IMMEDIATE` wait (from the call until `fn` runs, i.e. until the
//   lock is had), its whole calls (the wait, the insert and the commit, with any WAL
//   checkpoint the commit runs), and the run's total time.
//
//   node bench/history.js [--runs 5] [--only snapshots|retention]
//
// Builds its files in bench/.data/history (a copy of the 1,000,000-row file per run). Prints
// medians; writes bench/results/history.json.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const data = path.join(__dirname, '.data', 'history')
const { openStore } = require(root)

function opt(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const RUNS = Number(opt('runs', 5))
const ONLY = opt('only', null)
const SNAPSHOT_BYTES = 200
const CREATES = 2000
const EXPIRED = 1_000_000
const KEPT = 100_000
const DAY = 86_400_000
const NOW = Date.parse('2026-09-01T00:00:00.000Z')

const log = (msg) => process.stderr.write(`${msg}\n`)
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]

function fresh(name) {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(data, name + suffix), { force: true })
  return path.join(data, name)
}

/** A snapshot of exactly SNAPSHOT_BYTES stored bytes. */
function snapshot(i) {
  return { type: 'auto', trigger: {}, summary: i, state: 'x'.repeat(SNAPSHOT_BYTES - 4 - String(i).length) }
}

/** A file of `count` snapshots under a cap they fill exactly. */
function snapshotFile(count) {
  const file = fresh(`snapshots-${count}.sqlite`)
  const store = openStore(file, { stores: ['history'], history: { maxSnapshotBytes: count * SNAPSHOT_BYTES } })
  store.transaction(() => {
    for (let i = 0; i < count; i++) store.snapshots.create(snapshot(i))
  })
  store.checkpoint('TRUNCATE')
  store.close()
  return file
}

/** Microseconds per create, `CREATES` creates in autocommit mode, each evicting one snapshot. */
function createMicros(file, count) {
  const store = openStore(file, { stores: ['history'], history: { maxSnapshotBytes: count * SNAPSHOT_BYTES } })
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < CREATES; i++) store.snapshots.create(snapshot(count + i))
  const us = (ms(t0) * 1000) / CREATES
  if (store.snapshots.totalBytes() !== count * SNAPSHOT_BYTES) throw new Error('the cap was not kept')
  store.close()
  return us
}

/** The file of EXPIRED events older than 90 days at NOW and KEPT younger ones. */
function analyticsFile() {
  const file = path.join(data, 'analytics-seed.sqlite')
  if (fs.existsSync(file)) return file
  const building = fresh('analytics-building.sqlite')
  const store = openStore(building, { stores: ['history'] })
  const start = NOW - 120 * DAY
  const step = (30 * DAY) / EXPIRED
  for (let done = 0; done < EXPIRED + KEPT; ) {
    store.transaction(() => {
      for (const end = Math.min(done + 100_000, EXPIRED + KEPT); done < end; done++) {
        const at = done < EXPIRED ? start + Math.floor(done * step) : NOW - 80 * DAY + (done - EXPIRED) * 1000
        store.analytics.record({ eventType: 'message', timestamp: new Date(at).toISOString(), sessionId: `s${done % 100}`, model: 'm', promptTokens: 100, completionTokens: 50, cost: 0.001, durationMs: 900 })
      }
    })
    log(`  built ${done.toLocaleString('en')} events`)
  }
  store.checkpoint('TRUNCATE')
  store.close()
  fs.renameSync(building, file)
  return file
}

/** The writer process: `BEGIN IMMEDIATE` + one insert, every 0–4 ms, until stdin closes; then
 * prints `{ waits, calls }` (ms) as JSON: how long each `BEGIN IMMEDIATE` waited for the lock
 * (`transaction(fn)` calls `fn` once it has it), and each whole call. */
function writer(file) {
  const store = openStore(file, { stores: ['history'] })
  const waits = []
  const calls = []
  let stop = false
  process.stdin.on('data', () => {})
  process.stdin.on('end', () => {
    stop = true
  })
  const pause = new Int32Array(new SharedArrayBuffer(4))
  process.stdout.write('ready\n')
  const tick = () => {
    if (stop) {
      store.close()
      process.stdout.write(JSON.stringify({ waits, calls }) + '\n')
      return
    }
    const t0 = process.hrtime.bigint()
    store.transaction(() => {
      waits.push(ms(t0))
      store.analytics.record({ eventType: 'writer', timestamp: new Date(NOW).toISOString() })
    })
    calls.push(ms(t0))
    Atomics.wait(pause, 0, 0, Math.floor(Math.random() * 5))
    setImmediate(tick)
  }
  tick()
}

/** Runs applyRetention on a copy of the seed with the writer running; `{ totalMs, deleted,
 * waits }`, or without retention (`idle`) the writer's waits over the same length of time. */
async function retentionRun(seed, r, idleMs) {
  const file = fresh(`analytics-run-${r}.sqlite`)
  fs.copyFileSync(seed, file)
  const child = spawn(process.execPath, [__filename, '--writer', file], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  await new Promise((resolve) => {
    child.stdout.on('data', function ready(d) {
      out += d
      if (out.includes('ready\n')) {
        child.stdout.off('data', ready)
        resolve()
      }
    })
  })
  out = ''
  child.stdout.on('data', (d) => (out += d))
  let result
  const store = openStore(file, { stores: ['history'] })
  await new Promise((resolve) => setTimeout(resolve, 200))
  if (idleMs === undefined) {
    const t0 = process.hrtime.bigint()
    const deleted = store.applyRetention({ now: NOW })
    result = { totalMs: ms(t0), deleted: deleted.analytics }
  } else {
    await new Promise((resolve) => setTimeout(resolve, idleMs))
    result = {}
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  store.close()
  child.stdin.end()
  await new Promise((resolve) => child.on('close', resolve))
  Object.assign(result, JSON.parse(out.trim()))
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true })
  return result
}

async function main() {
  fs.mkdirSync(data, { recursive: true })
  const result = {}
  if (ONLY !== 'retention') Object.assign(result, snapshotBench())
  if (ONLY !== 'snapshots') Object.assign(result, await retentionBench())
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'history.json'), JSON.stringify(result, null, 2))
  console.log(JSON.stringify(result, null, 2))
}

/** `{ snapshotCreateMicros, createRatio }`: medians of RUNS runs after one warm-up. */
function snapshotBench() {
  log('snapshot files ...')
  const files = { 1000: snapshotFile(1000), 100000: snapshotFile(100_000) }
  const creates = { 1000: [], 100000: [] }
  for (let r = 0; r <= RUNS; r++) {
    for (const count of [1000, 100000]) {
      const us = createMicros(files[count], count)
      if (r > 0) creates[count].push(us)
    }
  }
  const create = { 1000: median(creates[1000]), 100000: median(creates[100000]) }
  log(`snapshots.create with the cap engaged: ${create[1000].toFixed(1)} µs at 1,000 stored, ${create[100000].toFixed(1)} µs at 100,000 (ratio ${(create[100000] / create[1000]).toFixed(2)})`)
  return { snapshotCreateMicros: create, createRatio: create[100000] / create[1000] }
}

/** `{ retention, runs }`: RUNS runs of applyRetention with the writer, and one without. */
async function retentionBench() {
  log('analytics file ...')
  const seed = analyticsFile()
  const runs = []
  for (let r = 0; r < RUNS; r++) {
    const run = await retentionRun(seed, r)
    if (run.deleted !== EXPIRED) throw new Error(`deleted ${run.deleted}, expected ${EXPIRED}`)
    const longest = Math.max(...run.waits)
    const longestCall = Math.max(...run.calls)
    runs.push({ totalMs: run.totalMs, longest, p99: quantile(run.waits, 0.99), p999: quantile(run.waits, 0.999), longestCall, p99Call: quantile(run.calls, 0.99), writes: run.waits.length })
    log(`  run ${r + 1}: ${run.totalMs.toFixed(0)} ms, writer ${run.waits.length} writes, longest BEGIN IMMEDIATE wait ${longest.toFixed(1)} ms, longest call ${longestCall.toFixed(1)} ms`)
  }
  const idle = await retentionRun(seed, 'idle', median(runs.map((x) => x.totalMs)))
  const each = (key) => median(runs.map((x) => x[key]))
  return {
    retention: {
      totalMs: each('totalMs'),
      longestWaitMs: each('longest'),
      longestWaitMsWorstRun: Math.max(...runs.map((x) => x.longest)),
      p99WaitMs: each('p99'),
      p999WaitMs: each('p999'),
      longestCallMs: each('longestCall'),
      p99CallMs: each('p99Call'),
      writerWrites: each('writes'),
      idleLongestWaitMs: Math.max(...idle.waits),
      idleP99WaitMs: quantile(idle.waits, 0.99),
      idleLongestCallMs: Math.max(...idle.calls),
      idleP99CallMs: quantile(idle.calls, 0.99),
      idleWrites: idle.waits.length,
    },
    runs,
  }
}

if (process.argv[2] === '--writer') writer(process.argv[3])
else main()
