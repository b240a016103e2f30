#!/usr/bin/env node
'use strict'
// `npm run build:release`: the linux-x64-gnu addon as published, written to
// npm/linux-x64-gnu/stowage.linux-x64-gnu.node. It needs glibc 2.17 at most, so it loads on every
// glibc Linux since 2014 (RHEL/CentOS 7, Debian 8, Ubuntu 14.04), whatever glibc built it.
//
// The floor comes from the toolchain: napi-rs's cross toolchain (GCC 4.8.5, binutils and a
// glibc 2.17 sysroot), the npm package @napi-rs/cross-toolchain-x64-target-x86_64. It is both
// the linker of the addon and the C compiler of the bundled SQLite, so every libc symbol the
// binary binds to is resolved against glibc 2.17's libraries. Rust's own std for this target
// already needs no more than 2.17 (newer functions are looked up at run time).
//
// The toolchain is fetched once with `npm pack` (npm registry only, integrity pinned below) and
// unpacked into ${XDG_CACHE_HOME:-~/.cache}/stowage-ci/; the build goes to target/glibc-2.17 so
// that it does not disturb the dev build's artifacts. (`napi build --use-napi-cross` fetches the
// same toolchain but cannot here: @napi-rs/cli 3.10 asks for version 1.0.5 of the package, which
// was never published, and unpacks it with @napi-rs/lzma, whose binary needs Node >= 22.20.)

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const TOOLCHAIN = '@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0'
const INTEGRITY = 'sha512-lecoghCfoTAX9MLFcIx9/nL9M8xdkZ9n8Pki8qjKUNzjiq1zbECdEbzIZAMMHRtrXxifK9dAyYuh8gSxNbr2og=='
const TRIPLE = 'x86_64-unknown-linux-gnu'

const root = path.resolve(__dirname, '..')
const cache = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'stowage-ci')
const toolchain = path.join(cache, 'cross-toolchain-x86_64-glibc2.17-1.0.0')
const gcc = path.join(toolchain, 'bin', `${TRIPLE}-gcc`)
const out = path.join(root, 'npm', 'linux-x64-gnu', 'stowage.linux-x64-gnu.node')
const log = (msg) => process.stderr.write(`${msg}\n`)

function ensureToolchain() {
  if (spawnSync(gcc, ['--version']).status === 0) return
  log(`fetching the glibc 2.17 toolchain from the npm registry (${TOOLCHAIN}) ...`)
  fs.mkdirSync(cache, { recursive: true })
  const tmp = fs.mkdtempSync(path.join(cache, '.cross-toolchain-'))
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', TOOLCHAIN, '--json', '--pack-destination', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }))
    if (packed.integrity !== INTEGRITY) throw new Error(`${TOOLCHAIN}: integrity ${packed.integrity}, expected ${INTEGRITY}`)
    const xz = `package/${TRIPLE}.tar.xz`
    execFileSync('tar', ['-xzf', path.join(tmp, packed.filename), '-C', tmp, xz], { stdio: 'inherit' })
    const unpacked = path.join(tmp, 'toolchain')
    // Python's tarfile reads .tar.xz without the xz program (which minimal images lack).
    execFileSync('python3', ['-c', 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])', path.join(tmp, xz), unpacked], { stdio: 'inherit' })
    fs.rmSync(toolchain, { recursive: true, force: true })
    fs.renameSync(unpacked, toolchain)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  throw new Error(`build:release builds the linux-x64-gnu addon on a Linux x64 host, not ${process.platform}-${process.arch}`)
}
ensureToolchain()
const env = (name) => `${name}_${TRIPLE.replace(/-/g, '_')}`
execFileSync('cargo', ['build', '--release', '--locked', '-p', 'stowage', '--target', TRIPLE, '--target-dir', path.join(root, 'target', 'glibc-2.17')], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    [`CARGO_TARGET_${TRIPLE.toUpperCase().replace(/-/g, '_')}_LINKER`]: gcc,
    [env('CC')]: gcc,
    [env('AR')]: path.join(toolchain, 'bin', `${TRIPLE}-ar`),
  },
})
fs.mkdirSync(path.dirname(out), { recursive: true })
fs.copyFileSync(path.join(root, 'target', 'glibc-2.17', TRIPLE, 'release', 'libstowage.so'), `${out}.tmp`)
fs.renameSync(`${out}.tmp`, out)
log(`wrote ${path.relative(root, out)}`)
