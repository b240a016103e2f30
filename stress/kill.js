#!/usr/bin/env node
// Kill harness: nothing acknowledged is lost when the process is SIGKILLed.
//
//   node stress/kill.js [--kills 200] [--seed 1] [--dir <folder>] [--max-calls 400]
//
// Each round starts a child (stress/kill-child.js), SIGKILLs it, then checks the file with a fresh
// connection. Rounds cycle through three kinds of work:
//   stream   (7 in 10) drop-in insertMetric / insertLog / insertMetric.batch on the default store.
//            The child is killed once it has acknowledged a chosen number of calls (1 to
//            --max-calls), the start of its first batch, or the end of its first batch. Every
//            acknowledged row is present, nothing else is but the one call in flight, and every
//            batch is whole or absent.
//   migrate  (2 in 10) opening a file of OnTheFly's oldest schema, which stowage adopts and
//            migrates in one transaction. The child is stopped (SIGSTOP) once its WAL has grown
//            past a chosen size, or once its commit is in the WAL; while it is stopped the harness
//            reads the WAL to see whether the transaction has committed, then kills it. The file
//            must then be exactly that: the old schema after a kill mid-transaction (with the
//            transaction's uncommitted frames in the WAL), fully migrated after the commit.
//            A round whose kill did not land where it was meant to is run again (at most 5 times).
//   export   (1 in 10) exportBundle, killed at a random moment: the destination is absent or a
//            complete bundle. (bundle-kill.test.ts kills exports at chosen points.)
// After every round `PRAGMA integrity_check` is `ok`. Prints a JSON summary on stdout (progress
// on stderr) and exits 1 if any check failed. Linux only: the migrate rounds read /proc.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')

const { rng } = require('./rng.js')

const entry = path.join(__dirname, '..', 'index.js')
const child = path.join(__dirname, 'kill-child.js')
const { openStore } = require(entry)

function options(argv) {
  const o = { kills: 200, seed: 1, dir: null, maxCalls: 400 }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase())
    if (!(key in o)) throw new Error(`unknown option ${argv[i]}`)
    o[key] = key === 'dir' ? argv[i + 1] : Number(argv[i + 1])
  }
  return o
}

/** Runs SQL through Python's sqlite3 (independent of stowage, and never migrating the file). */
function py(file, sql) {
  const script = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
out = []
for q in sys.stdin.read().split(';;'):
    cur = conn.execute(q)
    out.append([list(r) for r in cur.fetchall()])
print(json.dumps(out))
`
  const r = spawnSync('python3', ['-c', script, file], { input: sql.join(';;'), encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`python3: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/**
 * Runs the child with `args`. `control.ready(p)` is called when it says `ready`, and
 * `control.line(p, line)` for each line it prints after that; either may stop or kill it.
 * Resolves with those lines, whether it was killed, and the milliseconds from `ready` to exit.
 */
function runChild(args, control = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, args[0], entry, ...args.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let ready = 0
    const lines = []
    p.stdout.on('data', (d) => {
      out += d
      for (let nl = out.indexOf('\n'); nl !== -1; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl)
        out = out.slice(nl + 1)
        if (ready === 0) {
          if (line !== 'ready') return reject(new Error(`child ${args[0]} said ${line} before ready`))
          ready = Date.now()
          if (control.ready) control.ready(p)
        } else {
          lines.push(line)
          if (control.line) control.line(p, line)
        }
      }
    })
    p.stderr.on('data', (d) => (err += d))
    p.on('error', reject)
    p.on('close', (code, signal) => {
      const r = { lines, ms: Date.now() - ready }
      if (signal === 'SIGKILL') resolve({ ...r, killed: true })
      else if (code === 0) resolve({ ...r, killed: false })
      else reject(new Error(`child ${args[0]} exited ${code ?? signal}: ${err}`))
    })
  })
}

const sigkilled = new WeakSet()

/** SIGKILLs `p` unless it has been already (`p.killed` is also set by SIGSTOP and SIGCONT). */
function kill(p) {
  if (sigkilled.has(p)) return
  sigkilled.add(p)
  p.kill('SIGKILL')
}

// ---- stream ------------------------------------------------------------------------------------

function checkStream(folder, tag, lines, stats, fail) {
  const acked = { m: new Set(), l: new Set(), b: new Set(), B: [] }
  for (const line of lines) {
    const [kind, n] = line.split(' ')
    if (kind === 'B') acked.B.push(Number(n))
    else acked[kind].add(Number(n))
  }
  const store = openStore(path.join(folder, 'runs.sqlite'))
  try {
    const t = store.training
    const steps = t.getRunRows(tag).map((r) => r.step)
    const texts = t.getLogs(tag).map((r) => Number(/^line (\d+) /.exec(r.text)[1]))
    for (const [kind, present] of [['m', steps], ['l', texts]]) {
      const want = acked[kind]
      const have = new Set(present)
      for (const n of want) if (!have.has(n)) fail(`${tag}: acknowledged ${kind} ${n} is missing`)
      // The only row that may be there unacknowledged is the one whose call was in flight.
      for (const n of have) if (!want.has(n) && n !== want.size) fail(`${tag}: ${kind} ${n} was never written`)
      if (present.length !== have.size) fail(`${tag}: duplicate ${kind} rows`)
    }
    for (const k of acked.B) {
      const rows = t.getRunRows(`${tag}/b${k}`).length
      if (rows !== 0 && rows !== 500) fail(`${tag}: batch ${k} has ${rows} of 500 rows`)
      if (acked.b.has(k) && rows !== 500) fail(`${tag}: acknowledged batch ${k} has ${rows} rows`)
      if (rows === 500) stats.batchesWhole++
      else stats.batchesAbsent++
    }
    stats.metricsAcked += acked.m.size
    stats.logsAcked += acked.l.size
    stats.rowsChecked += steps.length + texts.length + 500 * acked.b.size
    const ic = store.integrityCheck()
    if (ic.length !== 1 || ic[0] !== 'ok') fail(`${folder}: integrity_check ${JSON.stringify(ic)}`)
  } finally {
    store.close()
  }
}

// ---- migrate -----------------------------------------------------------------------------------

const LEGACY_RUNS = 60_000

/** A file of OnTheFly's oldest schema: runs with parents but no edges, 5-column metrics. */
function legacyTemplate(file) {
  py(file, [
    `CREATE TABLE runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, project TEXT, name TEXT, mode TEXT, created_at INTEGER)`,
    `CREATE TABLE run_subsets (run_id TEXT PRIMARY KEY, indices TEXT)`,
    `CREATE TABLE checkpoints (ckpt_id TEXT PRIMARY KEY, run_id TEXT, step INTEGER, path TEXT, created_at INTEGER)`,
    `CREATE TABLE summaries (run_id TEXT PRIMARY KEY, final_loss REAL, val_loss REAL)`,
    `CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)`,
    `CREATE TABLE run_edges (child_run_id TEXT NOT NULL, parent_run_id TEXT NOT NULL, PRIMARY KEY (child_run_id, parent_run_id))`,
    `CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, session_id TEXT, level TEXT, text TEXT, phase TEXT, step INTEGER, epoch INTEGER, ts INTEGER)`,
    `CREATE TABLE test_metrics (run_id TEXT, step INTEGER, loss REAL, ts INTEGER)`,
    `CREATE TABLE metrics (run_id TEXT, step INTEGER, loss REAL, val_loss REAL, ts INTEGER, theta REAL, gen_bound REAL, constraintSatisfied INTEGER)`,
    `CREATE INDEX idx_metrics_run_step ON metrics(run_id, step)`,
    `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ${LEGACY_RUNS})
       INSERT INTO runs SELECT 'run-' || n, 'run-' || (n / 2), 'p', 'run-' || n, 'single', n FROM i`,
    `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ${LEGACY_RUNS})
       INSERT INTO metrics SELECT 'run-' || (n % 100), n, 1.0 / n, NULL, n, 0.1, 2.0, 1 FROM i`,
    `SELECT count(*) FROM runs`,
  ])
}

/** Checks that `file` is entirely the old schema or entirely migrated; returns which (or null). */
function checkMigration(file, fail) {
  const [[[ic]], ledger, cols, [[edges]], [[runs]], [[metrics]]] = py(file, [
    'PRAGMA integrity_check',
    "SELECT name FROM sqlite_schema WHERE name = 'stowage_migrations'",
    "SELECT name FROM pragma_table_info('metrics') WHERE name = 'accuracy'",
    'SELECT count(*) FROM run_edges',
    'SELECT count(*) FROM runs',
    'SELECT count(*) FROM metrics',
  ])
  if (ic !== 'ok') fail(`${file}: integrity_check ${ic}`)
  if (runs !== LEGACY_RUNS || metrics !== LEGACY_RUNS) fail(`${file}: rows lost (${runs} runs, ${metrics} metrics)`)
  const applied = ledger.length === 1
  const versions = applied ? py(file, ["SELECT version FROM stowage_migrations WHERE store = 'training' ORDER BY version"])[0].flat() : []
  if (applied && JSON.stringify(versions) === '[1,2,3]' && cols.length === 1 && edges === LEGACY_RUNS) return 'migrated'
  if (!applied && cols.length === 0 && edges === 0) return 'untouched'
  fail(`${file}: half-migrated (ledger ${JSON.stringify(versions)}, accuracy column ${cols.length}, ${edges} edges)`)
  return null
}

/**
 * The WAL beside `file`: whether it exists, its size, and whether its last whole frame is a
 * commit frame of the WAL's current salt. The migration is the only transaction written to this
 * WAL, so that frame is its commit; a frame cut short (stopped between its header and its page)
 * commits nothing, as SQLite's recovery ignores it.
 */
function walState(file) {
  let fd
  try {
    fd = fs.openSync(`${file}-wal`, 'r')
  } catch (err) {
    if (err.code === 'ENOENT') return { exists: false, size: 0, committed: false }
    throw err
  }
  try {
    const size = fs.fstatSync(fd).size
    const head = Buffer.alloc(32)
    if (size < 32 || fs.readSync(fd, head, 0, 32, 0) < 32) return { exists: true, size, committed: false }
    const pageSize = head.readUInt32BE(8) === 1 ? 65536 : head.readUInt32BE(8)
    const frames = Math.floor((size - 32) / (24 + pageSize))
    if (frames === 0) return { exists: true, size, committed: false }
    const frame = Buffer.alloc(24)
    fs.readSync(fd, frame, 0, 24, 32 + (frames - 1) * (24 + pageSize))
    const salted = frame.readUInt32BE(8) === head.readUInt32BE(16) && frame.readUInt32BE(12) === head.readUInt32BE(20)
    return { exists: true, size, committed: salted && frame.readUInt32BE(4) !== 0 }
  } finally {
    fs.closeSync(fd)
  }
}

/** SIGSTOPs `p` and waits until the kernel reports it stopped; false if it exited first. */
function stop(p) {
  p.kill('SIGSTOP')
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    let stat
    try {
      stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8')
    } catch (err) {
      if (err.code === 'ENOENT') return false
      throw err
    }
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    if (state === 'T' || state === 't') return true
    if (state === 'Z' || state === 'X') return false
    Atomics.wait(pause, 0, 0, 1)
  }
}

/**
 * Watches the migrating child `p` from `ready` on. With `walBytes`, it stops the child once the
 * WAL holds that many bytes; without, once the migration's commit is in the WAL (or the WAL is
 * gone: committed, checkpointed and closed). While the child is stopped it reads the WAL, then
 * either kills the child (`kill`) or lets it go on. Resolves with where the child was:
 * `'mid-transaction'` (frames written, no commit), `'committed'`, or `'finished'` (it exited
 * before it could be stopped), and the WAL's size then.
 */
function landMigration(p, file, walBytes, { kill: killIt = true } = {}) {
  return new Promise((resolve) => {
    let seen = false
    const poll = () => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve({ at: 'finished', size: 0 })
      const wal = walState(file)
      seen ||= wal.exists
      const gone = seen && !wal.exists
      if (!gone && !(walBytes === undefined ? wal.committed : wal.size >= walBytes)) return setTimeout(poll, 1)
      if (!stop(p)) return resolve({ at: 'finished', size: 0 })
      const now = walState(file)
      const at = !now.exists || now.committed ? 'committed' : 'mid-transaction'
      if (killIt) kill(p)
      else p.kill('SIGCONT')
      resolve({ at, size: now.size })
    }
    poll()
  })
}

// ---- export ------------------------------------------------------------------------------------

const CKPT_BYTES = 8 << 20

function exportSource(dir) {
  const file = path.join(dir, 'runs.sqlite')
  const store = openStore(file)
  const t = store.training
  t.insertRun('r', 'p', 'r', [])
  t.insertMetricBatch(Array.from({ length: 2000 }, (_, step) => ({ run_id: 'r', step, loss: 1 / (step + 1), val_loss: null })))
  for (let i = 0; i < 3; i++) {
    const ckpt = path.join(dir, `ckpt-${i}.pt`)
    fs.writeFileSync(ckpt, Buffer.alloc(CKPT_BYTES, i + 1))
    t.insertCheckpoint(`r:${i}:0`, 'r', i, ckpt)
  }
  store.close()
  return file
}

function checkExport(dest, stats, fail) {
  if (!fs.existsSync(path.join(dest, 'bundle.json'))) {
    stats.absent++
    return
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dest, 'bundle.json'), 'utf8'))
  for (const rel of Object.values(manifest.checkpoints)) {
    const size = fs.statSync(path.join(dest, rel)).size
    if (size !== CKPT_BYTES) fail(`${dest}: checkpoint ${rel} has ${size} bytes`)
  }
  const [[[ic]], [[n]]] = py(path.join(dest, 'runs.sqlite'), ['PRAGMA integrity_check', 'SELECT count(*) FROM metrics'])
  if (ic !== 'ok' || n !== 2000) fail(`${dest}: bundle database ${ic}, ${n} metrics`)
  stats.complete++
}

// ---- driver ------------------------------------------------------------------------------------

async function main(argv) {
  const o = options(argv)
  const random = rng(o.seed)
  const root = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-kill-'))
  fs.mkdirSync(root, { recursive: true })
  const failures = []
  const fail = (msg) => failures.push(msg)
  const stats = {
    stream: { rounds: 0, killed: 0, metricsAcked: 0, logsAcked: 0, batchesWhole: 0, batchesAbsent: 0, rowsChecked: 0 },
    migrate: { rounds: 0, attempts: 0, killed: 0, midTransaction: 0, afterCommit: 0, finished: 0, migrated: 0, untouched: 0 },
    export: { rounds: 0, killed: 0, complete: 0, absent: 0 },
  }
  const template = path.join(root, 'legacy-template.sqlite')
  legacyTemplate(template)
  const exportDir = path.join(root, 'export-src')
  fs.mkdirSync(exportDir)
  const exportFile = exportSource(exportDir)
  const migrateFile = path.join(root, 'legacy.sqlite')
  const exportDest = path.join(root, 'bundle')
  const freshLegacy = () => {
    for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(migrateFile + suffix, { force: true })
    fs.copyFileSync(template, migrateFile)
  }
  /** Runs a migrating child watched by landMigration; resolves with the run and where it was. */
  const migrateChild = async (walBytes, opts) => {
    freshLegacy()
    let landing
    const r = await runChild(['migrate', migrateFile], { ready: (p) => (landing = landMigration(p, migrateFile, walBytes, opts)) })
    return { ...r, ...(await landing) }
  }

  // The WAL's size at the migration's commit, from an uninterrupted migration stopped there for a
  // moment: mid-transaction kills stop the child at a chosen size below it.
  let walAtCommit = 0
  for (let i = 0; i < 5 && walAtCommit === 0; i++) {
    const r = await migrateChild(undefined, { kill: false })
    if (r.at === 'committed') walAtCommit = r.size
  }
  if (walAtCommit === 0) throw new Error('an uninterrupted migration was never stopped at its commit (5 tries)')
  // Export kills fall at random moments within 1.2 times an uninterrupted export, the second of
  // two (the first one's cold caches would stretch it).
  await runChild(['export', exportFile, exportDest])
  fs.rmSync(exportDest, { recursive: true, force: true })
  const exportWindowMs = (await runChild(['export', exportFile, exportDest])).ms * 1.2
  const started = Date.now()

  for (let round = 0; round < o.kills && failures.length === 0; round++) {
    const kind = round % 10 < 7 ? 'stream' : round % 10 < 9 ? 'migrate' : 'export'
    const s = stats[kind]
    s.rounds++
    const r1 = random()
    if (kind === 'stream') {
      // A new file every 25 stream rounds keeps the integrity check cheap.
      const folder = path.join(root, `stream-${Math.floor(s.rounds / 25)}`)
      const tag = `k${round}`
      // Killed once it has acknowledged a chosen number of calls, or as its first batch starts
      // (the batch is in flight or just done), or once its first batch is acknowledged.
      const calls = 1 + Math.floor(r1 * o.maxCalls)
      let acked = 0
      const afterCalls = (line) => !line.startsWith('B ') && ++acked >= calls
      const at = [afterCalls, (line) => line.startsWith('B '), afterCalls, (line) => line.startsWith('b ')][(s.rounds - 1) % 4]
      const r = await runChild(['stream', folder, tag, String(o.seed * 100_003 + round)], { line: (p, line) => at(line) && kill(p) })
      s.killed += r.killed
      checkStream(folder, tag, r.lines, s, fail)
    } else if (kind === 'migrate') {
      // Alternately mid-transaction, at a WAL size between 5 % and 80 % of the commit's, and
      // after the commit.
      const want = s.rounds % 2 === 1 ? 'mid-transaction' : 'committed'
      for (let attempt = 1; failures.length === 0; attempt++) {
        const walBytes = want === 'committed' ? undefined : 32 + Math.floor((0.05 + 0.75 * (attempt === 1 ? r1 : random())) * (walAtCommit - 32))
        const r = await migrateChild(walBytes)
        s.attempts++
        s.killed += r.killed
        s[{ 'mid-transaction': 'midTransaction', committed: 'afterCommit', finished: 'finished' }[r.at]]++
        const outcome = checkMigration(migrateFile, fail)
        const expected = r.at === 'mid-transaction' ? 'untouched' : 'migrated'
        if (outcome !== null) s[outcome]++
        if (outcome !== null && outcome !== expected) fail(`${migrateFile}: ${r.at === 'finished' ? 'the migration finished' : `killed ${r.at}`}, but the file is ${outcome}`)
        if (failures.length === 0) {
          openStore(migrateFile).close()
          const reopened = checkMigration(migrateFile, fail)
          if (reopened !== null && reopened !== 'migrated') fail(`${migrateFile}: ${reopened} after stowage opened it`)
        }
        if (r.at === want) break
        if (attempt === 5) fail(`migrate round ${round}: no kill landed ${want} in 5 attempts`)
      }
    } else {
      fs.rmSync(exportDest, { recursive: true, force: true })
      const killAfter = Math.floor(r1 * exportWindowMs)
      const r = await runChild(['export', exportFile, exportDest], { ready: (p) => setTimeout(() => kill(p), killAfter) })
      s.killed += r.killed
      checkExport(exportDest, s, fail)
    }
    if ((round + 1) % 50 === 0) process.stderr.write(`kill: ${round + 1}/${o.kills} rounds, ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  }
  const killed = stats.stream.killed + stats.migrate.killed + stats.export.killed
  const summary = { kills: killed, rounds: o.kills, seed: o.seed, seconds: Math.round((Date.now() - started) / 1000), walAtCommit, exportWindowMs, ...stats, failures }
  if (!o.dir) fs.rmSync(root, { recursive: true, force: true })
  return summary
}

main(process.argv.slice(2)).then(
  (summary) => {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
    process.exit(summary.failures.length === 0 ? 0 : 1)
  },
  (err) => {
    process.stderr.write(`kill: ${err.stack}\n`)
    process.exit(2)
  },
)
