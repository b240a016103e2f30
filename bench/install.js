#!/usr/bin/env node
'use strict'
// What installing stowage costs a project, against the better-sqlite3 it replaces.
//
//   node bench/install.js [--runs 3] [--better-sqlite3 12.2.0] [--skip-better-sqlite3] [--dir <scratch>]
//
// stowage: packs the published tarballs (scripts/pack.js: the root package and this platform's
// package) and installs them into a fresh project, `--runs` times, with
// `npm install --ignore-scripts --offline`. better-sqlite3: installs `better-sqlite3@<version>`
// (OnTheFly's lockfile has 12.2.0) into a fresh project, `--runs` times, with its install script,
// which builds from source when no prebuilt binary can be downloaded; the first run also fetches
// the tarballs into npm's cache. Then, once, the development dependencies a better-sqlite3
// extension carries for Electron (@types/better-sqlite3, @electron/rebuild, electron-rebuild),
// installed without scripts. Reports the median time, node_modules on disk (`du -sk`) and the
// file count, prints a table and writes bench/results/install.json.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { pack } = require('../scripts/pack.js')

const DEV_DEPS = ['@types/better-sqlite3@7.6.13', '@electron/rebuild@4.0.1', 'electron-rebuild@3.2.9']

function args() {
  const o = { runs: 3, 'better-sqlite3': '12.2.0', 'skip-better-sqlite3': false, dir: path.join(os.tmpdir(), 'stowage-bench-install') }
  const a = process.argv.slice(2)
  for (let i = 0; i < a.length; i++) {
    const k = a[i].replace(/^--/, '')
    if (!(k in o)) throw new Error(`unknown option ${a[i]}`)
    if (typeof o[k] === 'boolean') o[k] = true
    else o[k] = k === 'runs' ? Number(a[++i]) : a[++i]
  }
  return o
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Files under `dir` and the sum of their sizes. */
function tree(dir) {
  let files = 0
  let bytes = 0
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    files++
    bytes += fs.statSync(path.join(e.parentPath, e.name)).size
  }
  return { files, bytes }
}

const duKiB = (dir) => Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0])

/** `npm install <args>` in a fresh project `<scratch>/<name>`: seconds taken and the project. */
function install(scratch, name, npmArgs) {
  const dir = path.join(scratch, name)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const t0 = process.hrtime.bigint()
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', ...npmArgs], { cwd: dir, encoding: 'utf8' })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.status !== 0) throw new Error(`npm install ${npmArgs.join(' ')} failed:\n${r.stderr}`)
  return { seconds, dir }
}

/** Runs `check` (a script) in `dir`; throws unless it exits 0. */
function works(dir, check) {
  const r = spawnSync(process.execPath, ['-e', check], { cwd: dir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`the installed package does not work:\n${r.stderr}`)
}

function measure(o, name, npmArgs, check) {
  const seconds = []
  let dir
  for (let i = 0; i < o.runs; i++) {
    const run = install(o.dir, `${name}-${i}`, npmArgs)
    seconds.push(run.seconds)
    dir = run.dir
    works(dir, check)
    process.stderr.write(`${name} run ${i + 1}: ${seconds[i].toFixed(1)} s\n`)
  }
  const modules = path.join(dir, 'node_modules')
  const packages = fs.readdirSync(modules).filter((f) => !f.startsWith('.')).flatMap((f) => (f.startsWith('@') ? fs.readdirSync(path.join(modules, f)) : [f]))
  return { seconds, median: median(seconds), packages: packages.length, diskKiB: duKiB(modules), ...tree(modules) }
}

function main() {
  const o = args()
  fs.mkdirSync(o.dir, { recursive: true })
  const tarballs = pack(path.join(o.dir, 'pkgs'))
  const result = { node: process.version, npm: execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim(), runs: o.runs }

  const stowage = measure(o, 'stowage', ['--ignore-scripts', '--offline', tarballs.root, tarballs.platform], "require('stowage').openStore(':memory:').close()")
  const installed = path.join(o.dir, `stowage-${o.runs - 1}`, 'node_modules')
  const platformPkg = path.basename(tarballs.platform).replace(/-\d+\.\d+\.\d+\.tgz$/, '')
  stowage.tarballs = {
    root: { packed: fs.statSync(tarballs.root).size, unpacked: tree(path.join(installed, 'stowage')).bytes },
    platform: { packed: fs.statSync(tarballs.platform).size, unpacked: tree(path.join(installed, platformPkg)).bytes },
  }
  result.stowage = stowage
  // The CLI beside the library (its charting dependencies come from the npm cache).
  result.cli = measure(o, 'stowage-cli', ['--ignore-scripts', '--offline', tarballs.root, tarballs.platform, tarballs.cli], "require('node:child_process').execFileSync(require('node:path').join('node_modules', '.bin', 'stowage'), ['help'])")
  result.cli.packed = fs.statSync(tarballs.cli).size

  if (!o['skip-better-sqlite3']) {
    result.betterSqlite3 = {
      version: o['better-sqlite3'],
      ...measure(o, 'better-sqlite3', [`better-sqlite3@${o['better-sqlite3']}`], "new (require('better-sqlite3'))(':memory:').close()"),
    }
    const dev = install(o.dir, 'dev-deps', ['--ignore-scripts', ...DEV_DEPS])
    const modules = path.join(dev.dir, 'node_modules')
    result.devDependencies = { packages: DEV_DEPS, seconds: dev.seconds, diskKiB: duKiB(modules), ...tree(modules) }
  }

  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'install.json'), JSON.stringify(result, null, 2) + '\n')

  const mb = (b) => (b / 1e6).toFixed(2)
  const row = (label, m) => `| ${label} | ${m.median.toFixed(1)} s (${m.seconds.map((s) => s.toFixed(1)).join(', ')}) | ${m.packages} | ${m.files} | ${mb(m.bytes)} MB | ${(m.diskKiB / 1024).toFixed(1)} MiB |`
  const lines = [
    `node ${result.node}, npm ${result.npm}, ${o.runs} runs each`,
    '',
    '| install | median time (runs) | packages | files | bytes | on disk (du) |',
    '|---|---|---|---|---|---|',
    row('stowage (2 tarballs, offline, no scripts)', stowage),
    row('stowage + stowage-cli (3 tarballs, offline, no scripts)', result.cli),
  ]
  if (result.betterSqlite3) lines.push(row(`better-sqlite3@${result.betterSqlite3.version} (build from source)`, result.betterSqlite3))
  lines.push('', `stowage tarballs: root ${stowage.tarballs.root.packed} B packed, ${stowage.tarballs.root.unpacked} B unpacked; ` +
    `${platformPkg} ${stowage.tarballs.platform.packed} B packed, ${stowage.tarballs.platform.unpacked} B unpacked; ` +
    `stowage-cli ${result.cli.packed} B packed`)
  if (result.devDependencies) {
    const d = result.devDependencies
    lines.push(`${DEV_DEPS.join(' ')} (no scripts): ${d.seconds.toFixed(1)} s, ${d.files} files, ${mb(d.bytes)} MB, ${(d.diskKiB / 1024).toFixed(1)} MiB on disk`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

main()
