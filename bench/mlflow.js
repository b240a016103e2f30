#!/usr/bin/env node
'use strict'
// syncToMlflow against the official Python client on the same MLflow server, in the same run:
// one training run of 4 metrics × (points / 4) steps, pushed into a fresh MLflow run each time;
// the Python side calls MlflowClient().log_batch with the same batches (1000 metrics: 250 steps ×
// 4 metrics), one thread. Each push runs in a process of its own, which reports its time and peak
// RSS; the medians of --runs repetitions (alternating the two clients) are printed, and the
// sync's peak RSS for a quarter of the points, to show that its memory does not grow with the run.
// The sync also runs against a stand-in server that answers at once, first: its own speed and
// memory, whatever the tracking server's.
//
//   node bench/mlflow.js [--points 1000000] [--runs 3] [--mlflow <bin>]
//
// --mlflow defaults to STOWAGE_MLFLOW, then the venv .ci/run caches.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const MLFLOW_VERSION = '3.17.2'

function args(argv) {
  const o = { points: 1_000_000, runs: 3, mlflow: process.env.STOWAGE_MLFLOW }
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '')
    if (!(k in o)) throw new Error(`unknown option ${argv[i]}`)
    o[k] = k === 'mlflow' ? argv[i + 1] : Number(argv[i + 1])
  }
  if (!o.mlflow) o.mlflow = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'stowage-ci', `mlflow-${MLFLOW_VERSION}`, 'bin', 'mlflow')
  if (!fs.existsSync(o.mlflow)) throw new Error(`no mlflow at ${o.mlflow}: pass --mlflow or run .ci/run`)
  return o
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

async function startServer(bin, dir) {
  const port = await freePort()
  const log = fs.openSync(path.join(dir, 'server.log'), 'a')
  const proc = spawn(bin, ['server', '--backend-store-uri', `sqlite:///${path.join(dir, 'mlflow.db')}`, '--artifacts-destination', path.join(dir, 'artifacts'), '--host', '127.0.0.1', '--port', String(port), '--uvicorn-opts', '--timeout-worker-healthcheck 120'], { detached: true, stdio: ['ignore', log, log], env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' } })
  const url = `http://127.0.0.1:${port}`
  for (const until = Date.now() + 300_000; Date.now() < until; ) {
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, stop: () => stopGroup(proc.pid) }
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  await stopGroup(proc.pid)
  throw new Error('mlflow server did not start')
}

/** Stops the server's process group: SIGTERM, SIGKILL after 15 s; resolves when none is left. */
async function stopGroup(pid) {
  const until = Date.now() + 15_000
  for (let sig = 'SIGTERM'; ; sig = Date.now() > until ? 'SIGKILL' : 0) {
    try {
      process.kill(-pid, sig)
    } catch {
      return
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A server that answers MLflow's endpoints at once without storing anything: what the sync
 * costs on its own (its speed, and its memory at both sizes whatever the server's speed). */
function standIn() {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      if (req.url.startsWith('/api/2.0/mlflow/experiments/get-by-name')) res.end('{"experiment":{"experiment_id":"1","lifecycle_stage":"active"}}')
      else if (req.url === '/api/2.0/mlflow/runs/create') res.end(`{"run":{"info":{"run_id":"r${Math.random()}","artifact_uri":"mlflow-artifacts:/1/r/artifacts"}}}`)
      else res.end('{}')
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })))
}

/** The benchmark's series, identical on both sides: value k of step i. */
const VALUES = 'loss = 2 / (1 + i); val_loss = 1 + sin(i); lr = 1e-3 * 0.999 ** (i % 5000); grad_norm = (i % 97) / 7'

function makeStore(file, steps) {
  const stowage = require('..')
  const store = stowage.openStore(file)
  const step = Float64Array.from({ length: steps }, (_, i) => i)
  const col = (f) => Float64Array.from({ length: steps }, (_, i) => f(i))
  store.training.insertRun('bench', 'bench', 'bench', [])
  store.training.insertMetricColumns('bench', {
    step,
    loss: col((i) => 2 / (1 + i)),
    val_loss: col((i) => 1 + Math.sin(i)),
    lr: col((i) => 1e-3 * 0.999 ** (i % 5000)),
    grad_norm: col((i) => (i % 97) / 7),
  })
  store.close()
}

const STOWAGE_CHILD = `
const stowage = require(process.argv[1])
const store = stowage.openStore(process.argv[2])
const t0 = process.hrtime.bigint()
stowage.syncToMlflow(store, { trackingUri: process.argv[3], experiment: process.argv[4] }).then((r) => {
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  console.log(JSON.stringify({ ms, points: r.points, maxRssMiB: process.resourceUsage().maxRSS / 1024 }))
})`

const PYTHON_CHILD = `
import json, math, resource, sys, time
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric
uri, experiment, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = MlflowClient(uri)
exp = client.create_experiment(experiment)
run = client.create_run(exp).info.run_id
cols = [("loss", [2 / (1 + i) for i in range(steps)]), ("val_loss", [1 + math.sin(i) for i in range(steps)]),
        ("lr", [1e-3 * 0.999 ** (i % 5000) for i in range(steps)]), ("grad_norm", [(i % 97) / 7 for i in range(steps)])]
ts = int(time.time() * 1000)
t0 = time.perf_counter()
points = 0
for start in range(0, steps, 250):
    batch = [Metric(k, v[i], ts, i) for i in range(start, min(start + 250, steps)) for k, v in cols]
    client.log_batch(run, metrics=batch)
    points += len(batch)
ms = (time.perf_counter() - t0) * 1000
print(json.dumps({"ms": ms, "points": points, "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`

/** Runs one measuring process; its result is also printed to stderr as it comes. */
function child(cmd, argv) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited with ${code}`))
      const r = JSON.parse(out.trim().split('\n').pop())
      console.error(`${cmd === process.execPath ? argv.at(-1) : argv.at(-2)}: ${JSON.stringify(r)}`)
      resolve(r)
    })
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const o = args(process.argv.slice(2))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bench-mlflow-'))
  const python = path.join(path.dirname(o.mlflow), 'python')
  const steps = Math.round(o.points / 4)
  const big = path.join(dir, 'big.sqlite')
  const small = path.join(dir, 'small.sqlite')
  makeStore(big, steps)
  makeStore(small, Math.round(steps / 4))
  const entry = path.join(__dirname, '..')
  const results = { stowage: [], python: [], stowageQuarter: [], standIn: [], standInQuarter: [] }
  const fake = await standIn()
  try {
    for (let i = 0; i < o.runs; i++) {
      results.standIn.push(await child(process.execPath, ['-e', STOWAGE_CHILD, entry, big, fake.url, `stand-in-${i}`]))
      results.standInQuarter.push(await child(process.execPath, ['-e', STOWAGE_CHILD, entry, small, fake.url, `stand-in-quarter-${i}`]))
    }
  } finally {
    fake.close()
  }
  const server = await startServer(o.mlflow, dir)
  try {
    for (let i = 0; i < o.runs; i++) {
      results.stowage.push(await child(process.execPath, ['-e', STOWAGE_CHILD, entry, big, server.url, `stowage-${i}`]))
      results.python.push(await child(python, ['-c', PYTHON_CHILD, server.url, `python-${i}`, String(steps)]))
      results.stowageQuarter.push(await child(process.execPath, ['-e', STOWAGE_CHILD, entry, small, server.url, `stowage-quarter-${i}`]))
    }
  } finally {
    await server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const rate = (r) => (r.points / r.ms) * 1000
  const summary = {
    points: o.points,
    runs: o.runs,
    mlflow: MLFLOW_VERSION,
    values: VALUES,
    stowage: { pointsPerSec: Math.round(median(results.stowage.map(rate))), ms: Math.round(median(results.stowage.map((r) => r.ms))), peakRssMiB: Math.round(median(results.stowage.map((r) => r.maxRssMiB))) },
    python: { pointsPerSec: Math.round(median(results.python.map(rate))), ms: Math.round(median(results.python.map((r) => r.ms))), peakRssMiB: Math.round(median(results.python.map((r) => r.maxRssMiB))) },
    stowageQuarter: { points: results.stowageQuarter[0].points, peakRssMiB: Math.round(median(results.stowageQuarter.map((r) => r.maxRssMiB))) },
    standIn: { pointsPerSec: Math.round(median(results.standIn.map(rate))), peakRssMiB: Math.round(median(results.standIn.map((r) => r.maxRssMiB))) },
    standInQuarter: { pointsPerSec: Math.round(median(results.standInQuarter.map(rate))), peakRssMiB: Math.round(median(results.standInQuarter.map((r) => r.maxRssMiB))) },
  }
  summary.ratio = Number((summary.stowage.pointsPerSec / summary.python.pointsPerSec).toFixed(2))
  console.log(JSON.stringify(summary, null, 2))
}

if (require.main === module) main().catch((err) => {
  console.error(err)
  process.exit(1)
})
