#!/usr/bin/env node
'use strict'
// Bundle export throughput against `cp -r` on the same files.
//
//   node bench/export-vs-cp.js [--gib 2] [--files 8] [--runs 5] [--dir <scratch folder>]
//
// Builds a store whose checkpoints are `--files` files of random data totalling `--gib` GiB,
// then alternates, `--runs` times each: `cp -r` of the checkpoint folder and the database, and
// stowage's exportBundle (sync) and exportBundleAsync, each in a fresh process. Caches stay warm
// for both (same conditions); `sync` runs between measurements so dirty pages from one run do not
// slow the next. The machine is shared and noisy, so the ratio reported is the median of the
// per-round ratios (cp and stowage measured back to back), beside the ratio of the medians.
// Prints both, and peak RSS, and writes bench/results/export-vs-cp.json.

const { execFileSync, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

function args() {
  const o = { gib: 2, files: 8, runs: 5, dir: path.join(os.tmpdir(), 'stowage-bench-export') }
  const a = process.argv.slice(2)
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '')
    if (!(k in o)) throw new Error(`unknown option ${a[i]}`)
    o[k] = k === 'dir' ? path.resolve(a[i + 1]) : Number(a[i + 1])
  }
  return o
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function setup(o) {
  fs.rmSync(o.dir, { recursive: true, force: true })
  const storeDir = path.join(o.dir, 'store')
  const ckpts = path.join(storeDir, 'ckpts')
  fs.mkdirSync(ckpts, { recursive: true })
  const { openStore } = require('..')
  const store = openStore(path.join(storeDir, 'runs.sqlite'))
  const t = store.training
  t.insertRun('run', 'bench', 'run', [])
  t.insertMetricBatch(Array.from({ length: 100000 }, (_, step) => ({ run_id: 'run', step, loss: 1 / (step + 1), val_loss: null })))
  const perFile = Math.floor((o.gib * 1024 ** 3) / o.files)
  const chunk = crypto.randomBytes(16 << 20)
  for (let i = 0; i < o.files; i++) {
    const file = path.join(ckpts, `run__step${i}.pt`)
    const fd = fs.openSync(file, 'w')
    for (let written = 0; written < perFile; written += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, perFile - written))
    fs.closeSync(fd)
    t.insertCheckpoint(`run:${i}:${Date.now()}`, 'run', i, file)
  }
  store.checkpoint('TRUNCATE')
  store.close()
  execFileSync('sync')
  return { storeDir, ckpts, bytes: perFile * o.files + fs.statSync(path.join(storeDir, 'runs.sqlite')).size }
}

const CHILD = `
const { openStore } = require(process.argv[1])
const [db, dest, mode] = process.argv.slice(2)
const store = openStore(db)
const t0 = process.hrtime.bigint()
const finish = (r) => { const ms = Number(process.hrtime.bigint() - t0) / 1e6; console.log(JSON.stringify({ ms, bytes: r.bytes, maxRssKiB: process.resourceUsage().maxRSS })) }
if (mode === 'async') store.training.exportBundleAsync(dest).then(finish)
else finish(store.training.exportBundle(dest))
`

function timeCp(storeDir, ckpts, dest) {
  fs.mkdirSync(dest)
  const t0 = process.hrtime.bigint()
  execFileSync('cp', ['-r', ckpts, path.join(storeDir, 'runs.sqlite'), dest])
  return Number(process.hrtime.bigint() - t0) / 1e6
}

function timeExport(storeDir, dest, mode) {
  const r = spawnSync(process.execPath, ['-e', CHILD, path.resolve(__dirname, '..'), path.join(storeDir, 'runs.sqlite'), dest, mode], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout)
}

function baselineRss(storeDir) {
  const r = spawnSync(process.execPath, ['-e', `const { openStore } = require(process.argv[1]); openStore(process.argv[2]).info(); console.log(process.resourceUsage().maxRSS)`, path.resolve(__dirname, '..'), path.join(storeDir, 'runs.sqlite')], { encoding: 'utf8' })
  return Number(r.stdout)
}

function main() {
  const o = args()
  console.log(`setting up ${o.gib} GiB in ${o.files} checkpoint files under ${o.dir} ...`)
  const { storeDir, ckpts, bytes } = setup(o)
  const results = { cp: [], sync: [], async: [], rss: [] }
  for (let run = 0; run < o.runs; run++) {
    for (const kind of run % 2 ? ['sync', 'async', 'cp'] : ['cp', 'sync', 'async']) {
      const dest = path.join(o.dir, `out-${kind}-${run}`)
      if (kind === 'cp') results.cp.push(timeCp(storeDir, ckpts, dest))
      else {
        const r = timeExport(storeDir, dest, kind)
        results[kind].push(r.ms)
        results.rss.push(r.maxRssKiB)
      }
      execFileSync('sync')
      fs.rmSync(dest, { recursive: true, force: true })
      execFileSync('sync')
    }
  }
  const base = baselineRss(storeDir)
  const gibps = (ms) => bytes / 1024 ** 3 / (ms / 1000)
  const m = { cp: median(results.cp), sync: median(results.sync), async: median(results.async) }
  const summary = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, ${os.type()} ${os.release()}, node ${process.version}`,
    command: `node bench/export-vs-cp.js --gib ${o.gib} --files ${o.files} --runs ${o.runs}`,
    bytes,
    runs: results,
    medianMs: m,
    throughputGiBps: { cp: gibps(m.cp), sync: gibps(m.sync), async: gibps(m.async) },
    ratioVsCp: { sync: m.cp / m.sync, async: m.cp / m.async },
    medianOfRoundRatios: {
      sync: median(results.cp.map((c, i) => c / results.sync[i])),
      async: median(results.cp.map((c, i) => c / results.async[i])),
    },
    peakRssMiB: { export: Math.max(...results.rss) / 1024, openOnly: base / 1024 },
  }
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'export-vs-cp.json'), JSON.stringify(summary, null, 2))
  console.log(`\n${(bytes / 1024 ** 3).toFixed(2)} GiB, medians of ${o.runs} runs`)
  for (const k of ['cp', 'sync', 'async']) {
    const ratio = k === 'cp' ? '' : `  ${(m.cp / m[k]).toFixed(2)}x cp throughput (median of round ratios ${summary.medianOfRoundRatios[k].toFixed(2)}x)`
    console.log(`${k.padEnd(6)} ${m[k].toFixed(0).padStart(7)} ms  ${gibps(m[k]).toFixed(2)} GiB/s${ratio}`)
  }
  console.log(`peak RSS of an exporting process: ${summary.peakRssMiB.export.toFixed(0)} MiB (a process that only opens the store: ${summary.peakRssMiB.openOnly.toFixed(0)} MiB)`)
  fs.rmSync(o.dir, { recursive: true, force: true })
}

main()
