#!/usr/bin/env node
'use strict'
// Packs stowage as it is published: the root package (JS loader, types) with every per-platform
// package as an optional dependency, and this machine's platform package (npm/<triple>/, e.g.
// npm/linux-x64-gnu/) with its binary and the license.
//
//   node scripts/pack.js <out-dir> [--binary <file.node>]
//
// The binary is, in order: --binary, the release build in npm/<triple>/, the local build in the
// repository root. Also packs the CLI, `stowage-cli` (cli/), with `stowage` of this version as
// its dependency (added here: in the repository the CLI uses the checkout). Prints
// `{ "root": <tgz>, "platform": <tgz>, "cli": <tgz>, "binary": <file> }` as JSON.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { platformName } = require('../native.js')

const repo = path.join(__dirname, '..')
const TRIPLE = platformName()

function main(argv) {
  const out = argv[0]
  if (!out) throw new Error('usage: node scripts/pack.js <out-dir> [--binary <file.node>]')
  const i = argv.indexOf('--binary')
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'))
  const binaryName = `${pkg.napi.binaryName}.${TRIPLE}.node`
  const binary = [i >= 0 ? path.resolve(argv[i + 1]) : null, path.join(repo, 'npm', TRIPLE, binaryName), path.join(repo, binaryName)]
    .find((f) => f !== null && fs.existsSync(f))
  if (!binary) throw new Error(`no ${binaryName}: run \`npm run build\` (or \`npm run build:release\`) first`)

  fs.mkdirSync(out, { recursive: true })
  const staging = fs.mkdtempSync(path.join(out, '.staging-'))
  try {
    const root = path.join(staging, 'root')
    fs.mkdirSync(root)
    for (const f of [...pkg.files, 'README.md']) fs.copyFileSync(path.join(repo, f), path.join(root, f))
    const published = { ...pkg, optionalDependencies: {} }
    delete published.devDependencies
    delete published.scripts
    for (const dir of fs.readdirSync(path.join(repo, 'npm')).sort()) {
      const sub = JSON.parse(fs.readFileSync(path.join(repo, 'npm', dir, 'package.json'), 'utf8'))
      published.optionalDependencies[sub.name] = pkg.version
    }
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify(published, null, 2) + '\n')

    const platform = path.join(staging, TRIPLE)
    fs.mkdirSync(platform)
    for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(repo, 'npm', TRIPLE, f), path.join(platform, f))
    fs.copyFileSync(path.join(repo, 'LICENSE'), path.join(platform, 'LICENSE'))
    fs.copyFileSync(binary, path.join(platform, binaryName))

    const cli = path.join(staging, 'cli')
    fs.cpSync(path.join(repo, 'cli'), cli, { recursive: true, filter: (f) => !f.includes('node_modules') })
    fs.copyFileSync(path.join(repo, 'LICENSE'), path.join(cli, 'LICENSE'))
    const cliPkg = JSON.parse(fs.readFileSync(path.join(cli, 'package.json'), 'utf8'))
    cliPkg.dependencies = { ...cliPkg.dependencies, stowage: pkg.version }
    fs.writeFileSync(path.join(cli, 'package.json'), JSON.stringify(cliPkg, null, 2) + '\n')

    const pack = (dir) => path.join(out, execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8', shell: process.platform === 'win32' }).trim().split('\n').pop())
    return { root: pack(root), platform: pack(platform), cli: pack(cli), binary }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true })
  }
}

if (require.main === module) {
  try {
    process.stdout.write(JSON.stringify(main(process.argv.slice(2))) + '\n')
  } catch (err) {
    process.stderr.write(`pack: ${err.message}\n`)
    process.exit(1)
  }
}

module.exports = { pack: (out, binary) => main(binary ? [out, '--binary', binary] : [out]) }
