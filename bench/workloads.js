'use strict'
// One engine's workloads, run in a process of its own and reported as JSON on stdout.
//
//   node bench/workloads.js <engine> <data dir> <runs> [better-sqlite3 module path]
//
// Engines: `stowage` (the package's drop-in functions and its new read/write APIs),
// `better-sqlite3` and `node:sqlite` (the original's SQL from bench/original.js). Each workload
// does its setup untimed, runs once to warm up, then `runs` timed times; the median is reported.

const fs = require('node:fs')
const path = require('node:path')
const original = require('./original.js')

const [engine, dataDir, runsArg, bs3Path] = process.argv.slice(2)
const RUNS = Number(runsArg) || 5
const scratch = fs.mkdtempSync(path.join(dataDir, `scratch-${engine.replace(/\W/g, '')}-`))
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }))

const METRICS = ['epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm', 'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util']
const metricRow = (step) => ({
  step, epoch: Math.floor(step / 1000), loss: 1 / (step + 1), val_loss: step % 10 ? null : 2 / (step + 1), accuracy: 0.5, lr: 0.001,
  grad_norm: 1.5, weight_norm: 30, activation_zero_frac: 0.1, throughput: 900, mem_vram: 2048, gpu_util: 90,
})

/** The engine's API over the original's functions (or stowage's drop-in ones). */
function api() {
  if (engine === 'stowage') {
    const s = require('..')
    return {
      open: (dir) => s.initStorage(dir),
      close: () => s.closeStorage({ retainFile: true }),
      insertRun: (id, parents) => s.insertRun(id, 'bench', id, parents),
      insertMetric: (run, r) => s.insertMetric(run, r),
      insertMetricBatch: (rows) => s.insertMetric.batch(rows),
      getRunRows: (run) => s.getRunRows(run),
      listRuns: () => s.listRuns(),
      insertLog: (row) => s.insertLog(row),
      getLogs: (run) => s.getLogs(run),
      getFinalModel: (id) => s.getFinalModel(id),
      upsertFinalModel: (r) => s.upsertFinalModel(r),
      readColumns: s.getRunColumns && ((run, metrics) => s.getRunColumns(run, { metrics })),
      insertColumns: s.insertMetricColumns && ((run, cols) => s.insertMetricColumns(run, cols)),
      series: s.getRunSeries && ((run, metric, maxPoints) => s.getRunSeries(run, metric, { maxPoints })),
    }
  }
  const make = engine === 'better-sqlite3'
    ? (file) => new (require(bs3Path))(file)
    : (file) => new (require('node:sqlite').DatabaseSync)(file)
  let st = null
  return {
    open: (dir) => { st = original.open(make(path.join(dir, 'runs.sqlite'))) },
    close: () => { st.close(); st = null },
    insertRun: (id, parents) => st.insertRun(id, 'bench', id, parents),
    insertMetric: (run, r) => st.insertMetric(run, r),
    insertMetricBatch: (rows) => st.insertMetricBatch(rows),
    getRunRows: (run) => st.getRunRows(run),
    listRuns: () => st.listRuns(),
    insertLog: (row) => st.insertLog(row),
    getLogs: (run) => st.getLogs(run),
    getFinalModel: (id) => st.getFinalModel(id),
    upsertFinalModel: (r) => st.upsertFinalModel(r),
    readColumns: (run, metrics) => st.readColumns(run, metrics),
    series: (run, metric, maxPoints) => {
      // What a chart does without a summary: read every row, bucket it in JS.
      const { step, [metric]: v } = st.readColumns(run, [metric])
      const n = step.length
      const per = Math.ceil(n / maxPoints)
      const out = []
      for (let b = 0; b < n; b += per) {
        let min = Infinity, max = -Infinity, sum = 0, cnt = 0, last = NaN
        for (let i = b; i < Math.min(n, b + per); i++) if (v[i] === v[i]) { min = Math.min(min, v[i]); max = Math.max(max, v[i]); sum += v[i]; cnt++; last = v[i] }
        out.push({ min, max, mean: sum / cnt, last })
      }
      return out
    },
    insertColumns: (run, cols) => {
      const n = cols.step.length
      const rows = new Array(n)
      for (let i = 0; i < n; i++) {
        const r = { run_id: run, step: cols.step[i] }
        for (const m of METRICS) if (cols[m]) r[m] = cols[m][i] === cols[m][i] ? cols[m][i] : null
        rows[i] = r
      }
      st.insertMetricBatch(rows)
    },
  }
}

const A = api()
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
let folder = 0
const fresh = () => {
  const dir = path.join(scratch, `w${++folder}`)
  fs.mkdirSync(dir)
  return dir
}

/** Opens a copy of a prepared data file (reads must not depend on another engine's writes). */
const readsFile = path.join(dataDir, 'reads', 'runs.sqlite')
const bigFile = path.join(dataDir, 'big', 'runs.sqlite')

function time(fn) {
  const t0 = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

/** name → { ops, setup?, run, teardown? } */
const workloads = {
  'insertMetric x5000 (autocommit)': {
    ops: 5000,
    setup: () => { A.open(fresh()); A.insertRun('run', []) },
    run: () => { for (let i = 0; i < 5000; i++) A.insertMetric('run', metricRow(i)) },
    teardown: () => A.close(),
  },
  'insertMetric.batch 100k': {
    ops: 100000,
    setup: () => { A.open(fresh()); return Array.from({ length: 100000 }, (_, i) => ({ run_id: 'run', ...metricRow(i) })) },
    run: (rows) => A.insertMetricBatch(rows),
    teardown: () => A.close(),
  },
  'insertMetricColumns 100k': {
    ops: 100000,
    needs: 'insertColumns',
    setup: () => {
      A.open(fresh())
      const cols = { step: Float64Array.from({ length: 100000 }, (_, i) => i) }
      for (const m of METRICS) cols[m] = Float64Array.from(cols.step, (s) => metricRow(s)[m] ?? NaN)
      return cols
    },
    run: (cols) => A.insertColumns('run', cols),
    teardown: () => A.close(),
  },
  'getRunRows 100 (trial: all 100)': {
    ops: 100,
    setup: () => A.open(path.dirname(readsFile)),
    run: () => A.getRunRows('r100'),
    teardown: () => A.close(),
  },
  'getRunRows 100k': {
    ops: 100000,
    setup: () => A.open(path.dirname(readsFile)),
    run: () => A.getRunRows('r100k'),
    teardown: () => A.close(),
  },
  'getRunRows 1M': {
    ops: 1000000,
    setup: () => A.open(path.dirname(readsFile)),
    run: () => A.getRunRows('r1m'),
    teardown: () => A.close(),
  },
  'getRunColumns 1M (loss, val_loss, lr, gpu_util)': {
    ops: 1000000,
    needs: 'readColumns',
    setup: () => A.open(path.dirname(readsFile)),
    run: () => A.readColumns('r1m', ['loss', 'val_loss', 'lr', 'gpu_util']),
    teardown: () => A.close(),
  },
  'listRuns (1,000 runs with edges)': {
    ops: 1000,
    setup: () => A.open(path.dirname(readsFile)),
    run: () => A.listRuns(),
    teardown: () => A.close(),
  },
  'getFinalModel (trial: get)': {
    ops: 1000,
    setup: () => A.open(path.dirname(readsFile)),
    run: () => { for (let i = 0; i < 1000; i++) A.getFinalModel(`sess-${(i * 7919) % 1000}`) },
    teardown: () => A.close(),
  },
  'insertLog x5000 (autocommit)': {
    ops: 5000,
    setup: () => A.open(fresh()),
    run: () => { for (let i = 0; i < 5000; i++) A.insertLog({ run_id: 'run', session_id: 'sess', text: `step ${i}: train_loss = ${1 / (i + 1)}`, phase: 'train', step: i, ts: 1000 + i }) },
    teardown: () => A.close(),
  },
  'getLogs 10k': {
    ops: 10000,
    setup: () => A.open(path.dirname(readsFile)),
    run: () => A.getLogs('logged'),
    teardown: () => A.close(),
  },
  'insertMetric.batch 100 (trial: 100 inserts in a transaction)': {
    ops: 100,
    setup: () => { A.open(fresh()); return Array.from({ length: 100 }, (_, i) => ({ run_id: 'run', ...metricRow(i) })) },
    run: (rows) => A.insertMetricBatch(rows),
    teardown: () => A.close(),
  },
  'open an existing 1 GiB file': {
    ops: 1,
    run: () => { A.open(path.dirname(bigFile)); A.close() },
  },
  'getRunSeries 10M rows, 1,000 points (folded)': {
    ops: 1,
    needs: 'series',
    slow: true,
    setup: () => A.open(path.dirname(bigFile)),
    run: () => A.series('big', 'loss', 1000),
    teardown: () => A.close(),
  },
}

const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null
const results = {}
for (const [name, w] of Object.entries(workloads)) {
  if (only && !only.test(name)) continue
  if (w.needs && !A[w.needs]) continue
  const runs = w.slow && engine !== 'stowage' ? Math.min(RUNS, 3) : RUNS
  const times = []
  for (let i = 0; i <= runs; i++) {
    const state = w.setup ? w.setup() : undefined
    const ms = time(() => w.run(state))
    if (w.teardown) w.teardown()
    if (i > 0) times.push(ms)
  }
  results[name] = { ms: median(times), runs: times, ops: w.ops }
}
process.stdout.write(JSON.stringify({ engine, node: process.version, results }))
