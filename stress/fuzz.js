#!/usr/bin/env node
'use strict'
// Seeded fuzzing of stowage's whole JS surface: every export, every method of Store,
// TrainingStore, AgentSessionStore, AgentRunStore, WorktreeStore, ChatStore, ConversationStore,
// SettingsStore, RecoveryStore, SnapshotStore, RecordingStore and AnalyticsStore and of the
// factories' objects, called with random values of every JS type and with valid arguments that
// have one part corrupted.
//
//   node stress/fuzz.js --seed 7 --calls 100000      one seed
//   node stress/fuzz.js --seeds 1,2,3 --calls 5000   several, one after the other
//   node stress/fuzz.js --seed 7 --calls 1234 --keep  replay up to a call and keep the folder
//   node stress/fuzz.js --seed 7 --survey            go on past violations; list one of each kind
//
// Each seed runs in a child process (stress/fuzz/child.js) in a fresh temporary folder that all
// file operations stay in. The run fails on a crash or abort (the child's exit status), a hang
// (no call for --hang-ms), or a broken rule: a thrown value that is not an Error with a code, a
// wrong-typed argument that is not a TypeError, a failed write that changed the store, a file
// that fails its integrity check. The report names the seed and the call; the same seed makes
// the same calls, so `--calls <call + 1>` replays up to it.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const CHILD = path.join(__dirname, 'fuzz', 'child.js')
const ENTRY = path.join(__dirname, '..', 'index.js')

/** Runs one seed; resolves to `{ ok, seed, calls, stats?, violation?, crash?, lastCalls, dir }`. */
function fuzz({ seed, calls, hangMs = 60_000, keep = false, survey = false, entry = ENTRY }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stowage-fuzz-${seed}-`))
  const work = path.join(dir, 'work')
  fs.mkdirSync(work)
  const log = path.join(dir, 'calls.log')
  const child = spawn(process.execPath, [CHILD, '--entry', entry, '--dir', work, '--seed', String(seed), '--calls', String(calls), '--log', log, '--survey', String(survey)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)))
  let size = -1
  let still = Date.now()
  let hung = false
  const watchdog = setInterval(() => {
    const now = fs.existsSync(log) ? fs.statSync(log).size : 0
    if (now !== size) {
      size = now
      still = Date.now()
    } else if (Date.now() - still > hangMs) {
      hung = true
      child.kill('SIGKILL')
    }
  }, 500)
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearInterval(watchdog)
      const lastCalls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trimEnd().split('\n').slice(-5) : []
      const report = out.trim().split('\n').pop()
      let parsed = null
      try {
        parsed = JSON.parse(report)
      } catch {
        // No report: the child crashed or was killed.
      }
      const result = { seed, calls, lastCalls, dir }
      if (hung) Object.assign(result, { ok: false, crash: { hang: `no call finished for ${hangMs} ms` } })
      else if (code === 0 && parsed && parsed.ok) Object.assign(result, { ok: true, stats: parsed.stats })
      else if (code === 3 && parsed) Object.assign(result, { ok: false, violation: parsed.violation, stats: parsed.stats })
      else Object.assign(result, { ok: false, crash: { code, signal, stderr: err } })
      if (result.ok && !keep) fs.rmSync(dir, { recursive: true, force: true })
      resolve(result)
    })
  })
}

/** A human-readable account of one seed's run. */
function describe(r) {
  if (r.ok) {
    const s = r.stats
    const codes = Object.entries(s.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')
    const slowest = s.slowest.map((c) => `#${c.call} ${c.label} ${c.ms} ms`).join(', ')
    const succeeded = Object.values(s.succeeded).reduce((a, b) => a + b, 0)
    return [
      `seed ${r.seed}: ${s.calls} calls in ${(s.ms / 1000).toFixed(1)} s: 0 crashes, 0 hangs, 0 violations`,
      `  ${succeeded} returned, ${s.threw} threw (${codes})`,
      `  ${Object.keys(s.ops).length} distinct calls; ${s.failedWritesCompared} failed writes compared with the store before; ${s.integrityChecks} integrity checks during the run and ${s.files} files reopened intact after it`,
      `  slowest: ${slowest}`,
    ].join('\n')
  }
  const what = r.crash ? `CRASH ${JSON.stringify(r.crash)}` : `VIOLATION ${JSON.stringify(r.violation)}`
  const last = r.lastCalls.length ? Number(/^#(\d+)/.exec(r.lastCalls[r.lastCalls.length - 1])?.[1]) : NaN
  const call = r.violation && r.violation.call >= 0 ? r.violation.call + 1 : Number.isNaN(last) ? r.calls : last + 1
  return [`seed ${r.seed}: ${what}`, 'last calls:', ...r.lastCalls.map((l) => `  ${l}`), `replay: node stress/fuzz.js --seed ${r.seed} --calls ${call} --keep`, `files: ${r.dir}`].join('\n')
}

async function main() {
  const argv = process.argv.slice(2)
  const opt = (name, fallback) => {
    const i = argv.indexOf(`--${name}`)
    return i === -1 ? fallback : argv[i + 1]
  }
  const seeds = opt('seeds', opt('seed', String(Date.now() % 1e6))).split(',').map(Number)
  const calls = Number(opt('calls', 10_000))
  const keep = argv.includes('--keep')
  let failed = false
  for (const seed of seeds) {
    const r = await fuzz({ seed, calls, keep, survey: argv.includes('--survey'), hangMs: Number(opt('hang-ms', 60_000)) })
    console.log(describe(r))
    if (r.stats && Object.keys(r.stats.violations).length) console.log(JSON.stringify(r.stats.violations, null, 1))
    failed ||= !r.ok
  }
  process.exit(failed ? 1 : 0)
}

if (require.main === module) main()

module.exports = { fuzz, describe }
