#!/usr/bin/env node
'use strict'
// The Node versions the runtime tests load the addon under, from the npm registry only: the
// package `node-<platform>-<arch>@<major>` holds the official build at `package/bin/node`.
//
//   node scripts/node-versions.js [major ...]     (default: 18 20 22 24 26)
//
// Each major is cached in `${XDG_CACHE_HOME:-~/.cache}/stowage-ci/node-<major>/bin/node` and
// fetched only when missing or not runnable. Prints the binaries joined by the path delimiter,
// ready for `export STOWAGE_NODES=$(node scripts/node-versions.js)`; progress goes to stderr.
// `require('./node-versions.js').ensure(major, { headers: true })` also keeps the package's
// `include/node` beside `bin/` (node-gyp's `nodedir`, for scripts/vscode-host-tools.js).

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const MAJORS = ['18', '20', '22', '24', '26']

const cache = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'stowage-ci')
const log = (msg) => process.stderr.write(`${msg}\n`)

/** The version `bin` reports, or null when it does not run. */
function versionOf(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

/** The cached Node of `major`, fetched from the registry first when it is missing or broken (or,
 * with `headers`, lacks its C headers). */
function ensure(major, { headers = false } = {}) {
  const dir = path.join(cache, `node-${major}`)
  const bin = path.join(dir, 'bin', 'node')
  const have = versionOf(bin)
  const complete = !headers || fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))
  if (have !== null && have.startsWith(`v${major}.`) && complete) return bin

  const pkg = `node-${process.platform}-${process.arch}@${major}`
  log(`fetching Node ${major} from the npm registry (${pkg}) ...`)
  fs.mkdirSync(cache, { recursive: true })
  const tmp = fs.mkdtempSync(path.join(cache, `.node-${major}-`))
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', pkg, '--json', '--pack-destination', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }))
    const members = headers ? ['package/bin/node', 'package/include'] : ['package/bin/node']
    execFileSync('tar', ['-xzf', path.join(tmp, packed.filename), '-C', tmp, ...members], { stdio: 'inherit' })
    const got = versionOf(path.join(tmp, 'package', 'bin', 'node'))
    if (got === null || !got.startsWith(`v${major}.`)) throw new Error(`${pkg} holds a Node that reports ${got}`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(path.join(tmp, 'package'), dir)
    log(`Node ${got} -> ${bin}`)
    return bin
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

module.exports = { ensure }

if (require.main === module) {
  if (process.platform === 'win32') throw new Error('node-versions.js: the npm packages of Node for Windows have another layout')
  const majors = process.argv.length > 2 ? process.argv.slice(2) : MAJORS
  process.stdout.write(`${majors.map((major) => ensure(major)).join(path.delimiter)}\n`)
}
