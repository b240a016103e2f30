#!/usr/bin/env node
'use strict'
// stowage demo: replays a training session the way OnTheFly's extension drives storage.ts
// (one call per event), exports a bundle, loads it into a fresh location and checks that
// everything came back.
//
//   node examples/demo.js [--dir <folder>] [--steps <n per run>]
//
// Default folder: ./.stowage-demo (recreated on each run).

const fs = require('node:fs')
const path = require('node:path')
const stowage = require('..')

const MARKER = '.stowage-demo'

function parseArgs(argv) {
  const opts = { dir: path.resolve('.stowage-demo'), steps: 1200 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--dir') opts.dir = path.resolve(argv[++i] ?? '')
    else if (a === '--steps') opts.steps = Number(argv[++i])
    else if (a === '--help' || a === '-h') {
      console.log('usage: node examples/demo.js [--dir <folder>] [--steps <steps per run>]')
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (!Number.isInteger(opts.steps) || opts.steps < 10) throw new Error('--steps must be an integer >= 10')
  return opts
}

/** Empties the demo folder, refusing to touch a folder the demo did not create. */
function prepare(dir) {
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir)
    if (entries.length && !entries.includes(MARKER)) {
      throw new Error(`${dir} is not empty and was not made by this demo; pass --dir <new folder>`)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, MARKER), 'created by examples/demo.js\n')
}

/** Deterministic pseudo-random numbers (mulberry32), so every run writes the same data. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function fmtBytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  prepare(opts.dir)
  const globalStorage = path.join(opts.dir, 'globalStorage')
  const ckptDir = path.join(opts.dir, 'trainer-checkpoints')
  fs.mkdirSync(ckptDir)
  const context = { globalStorageUri: { fsPath: globalStorage } }
  const rand = rng(42)
  const session = 'sess-5f3a9c21d07e'
  const project = 'mnist-demo'

  // activate(): await initStorage(context)
  await stowage.initStorage(context)

  let calls = 0
  const started = process.hrtime.bigint()
  let step = 0
  const last = {}

  const writeCheckpoint = (run, atStep) => {
    const file = path.join(ckptDir, `${project}__${run}__step${atStep}.pt`)
    fs.writeFileSync(file, Buffer.alloc(64 * 1024, atStep % 251))
    stowage.insertCheckpoint(`${run}:${atStep}:${Date.now()}`, run, atStep, file)
    calls++
  }

  const train = (run, steps, startLoss) => {
    for (let i = 0; i < steps; i++) {
      step++
      const epoch = Math.floor(step / 400)
      const loss = startLoss * Math.exp(-i / (steps / 2)) + 0.05 + rand() * 0.02
      const val = step % 50 === 0 ? loss * (1.05 + rand() * 0.05) : null
      // ipc.ts, 'trainStep': one autocommitted insert per optimizer step.
      stowage.insertMetric(run, {
        step, epoch, loss, val_loss: val, accuracy: 1 - loss / 3, lr: 1e-3 * 0.5 ** epoch,
        grad_norm: 1 + rand(), weight_norm: 30 + step / 1000, activation_zero_frac: 0.1 + rand() * 0.05,
        throughput: 950 + rand() * 100, mem_vram: 2048, gpu_util: 85 + rand() * 10, ts: Date.now(),
      })
      // ipc.ts, 'log': the line Python prints for the same step.
      stowage.insertLog({
        run_id: run, session_id: session, level: 'info', phase: 'train', step, epoch,
        text: `step ${step}: train_loss = ${loss.toFixed(4)}${val === null ? '' : `, val_loss = ${val.toFixed(4)}`}`,
        ts: Date.now(),
      })
      calls += 2
      if (val !== null) last[run] = { loss, val }
      if (step % 400 === 0 && val !== null) {
        stowage.upsertSummary(run, null, val)
        calls++
      }
      if (step % 500 === 0) writeCheckpoint(run, step)
    }
    writeCheckpoint(run, step)
  }

  stowage.insertRun('base', project, 'base', null)
  train('base', opts.steps, 2.3)
  const forkAt = stowage.latestCheckpointForRun('base')
  stowage.insertRun('fork1', project, 'fork1', ['base'])
  stowage.setRunSubset('fork1', Array.from({ length: 2000 }, (_, i) => i * 3))
  train('fork1', opts.steps, 1.2)
  stowage.insertRun('merge1', project, 'merge1', ['fork1', 'base'])
  train('merge1', opts.steps, 0.9)

  const testLosses = []
  for (let batch = 0; batch < 20; batch++) {
    const l = 0.08 + rand() * 0.02
    testLosses.push(l)
    stowage.insertTestMetric('merge1', step, l)
    stowage.insertLog({ run_id: 'merge1', session_id: session, phase: 'test', text: `test batch ${batch}: loss = ${l.toFixed(4)}`, ts: Date.now() })
    calls += 2
  }
  const losses = Array.from({ length: 512 }, () => rand() * rand() * 2)
  stowage.upsertReportLossDist('merge1', 'train', {
    losses, sample_indices: losses.map((_, i) => i * 7), note: 'after the merge', at_step: step, at_epoch: Math.floor(step / 400),
  })
  const finalFile = path.join(ckptDir, `${project}__merge1__final.pt`)
  fs.writeFileSync(finalFile, Buffer.alloc(128 * 1024, 7))
  const avgTest = testLosses.reduce((a, b) => a + b, 0) / testLosses.length
  stowage.upsertFinalModel({ session_id: session, run_id: 'merge1', ckpt_path: finalFile, step, avg_test_loss: avgTest })
  calls += 2
  const writeMs = Number(process.hrtime.bigint() - started) / 1e6

  const expected = {
    runs: stowage.listRuns(),
    rows: Object.fromEntries(['base', 'fork1', 'merge1'].map((r) => [r, stowage.getRunRows(r)])),
    logs: stowage.getLogsBySession(session),
    tests: stowage.getTestRows('merge1'),
    report: stowage.getReportLossDist('merge1', 'train'),
    sessions: stowage.listSessions(),
    subset: stowage.getRunSubset('fork1'),
  }

  // 'exportSession': write a portable bundle, then deactivate().
  const bundleDir = path.join(opts.dir, 'onthefly_bundle')
  const exported = stowage.exportBundle(bundleDir)
  stowage.closeStorage({ retainFile: true })

  // 'loadSession' on another machine: a fresh global storage folder.
  const restored = path.join(opts.dir, 'restored-globalStorage')
  const loaded = stowage.loadBundle(bundleDir, { globalStorageUri: { fsPath: restored } })
  const problems = []
  const same = (label, a, b) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(label)
  }
  same('runs', stowage.listRuns(), expected.runs)
  for (const r of Object.keys(expected.rows)) same(`metrics of ${r}`, stowage.getRunRows(r), expected.rows[r])
  same('logs', stowage.getLogsBySession(session), expected.logs)
  same('test metrics', stowage.getTestRows('merge1'), expected.tests)
  same('loss report', stowage.getReportLossDist('merge1', 'train'), expected.report)
  same('sessions', stowage.listSessions(), expected.sessions)
  same('subset', stowage.getRunSubset('fork1'), expected.subset)
  const latest = stowage.latestCheckpointForRun('merge1')
  if (!latest || !latest.path.startsWith(loaded.dir) || !fs.existsSync(latest.path)) problems.push('checkpoint paths')
  const final = stowage.getFinalModel(session)
  if (!final || !final.ckpt_path.startsWith(loaded.dir) || !fs.existsSync(final.ckpt_path)) problems.push('final model path')
  const restoredPath = stowage.getDbPath()
  // What `stowage plot <file> base fork1 merge1 --metric loss,val_loss --out loss.png` draws.
  const { chartData, renderPng } = await import('../cli/lib/plot.js')
  const chartFile = path.join(opts.dir, 'loss.png')
  fs.writeFileSync(chartFile, await renderPng(chartData(stowage, ['base', 'fork1', 'merge1'], ['loss', 'val_loss'])))
  stowage.closeStorage({ retainFile: true })

  const runs = expected.runs.slice().reverse()
  const lines = [
    'stowage demo: an OnTheFly training session, replayed call by call',
    '',
    `runs          ${runs.map((r) => (r.parents.length ? `${r.run_id} (parents: ${r.parents.join(', ')})` : r.run_id)).join(' -> ')}`,
    `steps         ${step} metric rows + ${expected.logs.length} log lines, ${calls} calls in ${writeMs.toFixed(0)} ms ` +
      `(${Math.round((calls / writeMs) * 1000)} calls/s, each its own transaction)`,
    ...runs.map((r) => `last losses   ${r.run_id.padEnd(7)} train ${last[r.run_id].loss.toFixed(4)}  val ${last[r.run_id].val.toFixed(4)}`),
    `fork point    base checkpoint at step ${forkAt.step}`,
    `test          ${expected.tests.length} batches, avg loss ${avgTest.toFixed(4)}; final model recorded for ${session}`,
    `bundle        ${bundleDir}`,
    `              ${exported.checkpoints} checkpoints + ${exported.finalModels} final model, ${fmtBytes(exported.bytes)}, ${exported.missing.length} missing`,
    `restored      ${restoredPath}`,
    `              ${loaded.runs} runs; metrics, logs, tests, report, subset and file paths ` +
      (problems.length ? `DIFFER: ${problems.join(', ')}` : 'all verified'),
    '',
    `files         ${opts.dir}`,
    `                globalStorage/runs.sqlite          the live store (open it with any SQLite tool)`,
    `                trainer-checkpoints/               checkpoint files the "trainer" wrote`,
    `                onthefly_bundle/                   the exported bundle (bundle.json, runs.sqlite, checkpoints/, final_models/)`,
    `                restored-globalStorage/runs.sqlite the store rebuilt from the bundle`,
    '',
    `chart         ${chartFile}`,
    `              loss and val_loss of the three runs, forks and merges marked (stowage plot)`,
  ]
  console.log(lines.join('\n'))
  if (problems.length) process.exit(1)
}

main().catch((err) => {
  console.error(`demo failed: ${err && err.code ? `[${err.code}] ` : ''}${err && err.message}`)
  process.exit(1)
})
