#!/usr/bin/env node
'use strict'
// `stowage plot` on a long run: the whole command (Node start, open, series, render, write), as a
// user times it. One run of `--steps` steps (loss every step, val_loss every 100th) is written
// with insertMetricColumns; then the chart is drawn `--runs` times in fresh processes:
//   - "summary current": after the library drew a chart once (as an extension showing the run
//     does), so the file is read in place (openStore readOnly) and getRunSeries reads the summary;
//   - "first chart of the run": the file was never charted, so the CLI folds the summary into a
//     private copy (the file itself is not written), every time.
//
//   node bench/cli-plot.js [--steps 10000000] [--runs 5] [--dir <scratch>]

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { openStore } = require('..')

const CLI = path.join(__dirname, '..', 'cli', 'bin', 'stowage.js')

function args() {
  const o = { steps: 10_000_000, runs: 5, dir: null }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '')
    if (!(k in o)) throw new Error(`unknown option ${argv[i]}`)
    o[k] = k === 'dir' ? argv[++i] : Number(argv[++i])
  }
  return o
}

function write(file, steps) {
  const s = openStore(file)
  s.training.insertRun('long', 'bench', 'long run', null)
  const chunk = 1_000_000
  for (let o = 0; o < steps; o += chunk) {
    const n = Math.min(chunk, steps - o)
    const step = new Float64Array(n)
    const loss = new Float64Array(n)
    const val = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      step[i] = o + i
      loss[i] = 2 * Math.exp(-(o + i) / (steps / 3)) + ((i * 7919) % 1000) / 20000
      val[i] = (o + i) % 100 === 0 ? loss[i] * 1.05 : NaN
    }
    s.training.insertMetricColumns('long', { step, loss, val_loss: val })
  }
  s.close()
}

function plot(file, out) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [CLI, 'plot', file, 'long', '--metric', 'loss,val_loss', '--out', out], { encoding: 'utf8' })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.status !== 0) throw new Error(`stowage plot failed: ${r.stderr}`)
  return seconds
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function main() {
  const o = args()
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bench-cli-'))
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'long.sqlite')
  fs.rmSync(file, { force: true })
  process.stderr.write(`writing ${o.steps} steps ...\n`)
  write(file, o.steps)
  const bytes = fs.statSync(file).size
  const results = {}
  for (const [label, prepare] of [
    ['first chart of the run (summary folded into a copy)', () => {}],
    ['summary current (file read in place)', () => {
      const s = openStore(file)
      for (const m of ['loss', 'val_loss']) s.training.getRunSeries('long', m, { maxPoints: 800 })
      s.close()
    }],
  ]) {
    prepare()
    for (const ext of ['svg', 'png']) {
      const times = []
      for (let i = 0; i < o.runs; i++) times.push(plot(file, path.join(dir, `chart.${ext}`)))
      results[`${label}, ${ext}`] = times
    }
  }
  const lines = [`node ${process.version}, ${o.steps.toLocaleString('en')} steps, file ${(bytes / 2 ** 20).toFixed(0)} MiB, ${o.runs} runs each`, '', '| case | median | runs |', '|---|---|---|']
  for (const [k, t] of Object.entries(results)) lines.push(`| ${k} | ${median(t).toFixed(2)} s | ${t.map((x) => x.toFixed(2)).join(', ')} |`)
  process.stdout.write(lines.join('\n') + '\n')
  if (!o.dir) fs.rmSync(dir, { recursive: true, force: true })
}

main()
