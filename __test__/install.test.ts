// Proof by installation: the tarballs `npm publish` would upload (scripts/pack.js), installed into
// a fresh project offline and without install scripts, then used through require, import and tsc.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { beforeAll, expect, it } from 'vitest'

import { tempDir } from './helpers/tmp'

const repo = join(__dirname, '..')
const fixtures = join(__dirname, 'fixtures', 'install')
const work = tempDir('stowage-install-')
const { pack } = require('../scripts/pack.js') as { pack: (out: string) => { root: string; platform: string } }
const { platformName, PLATFORMS } = require('../native.js') as { platformName: () => string; PLATFORMS: string[] }
const platform = platformName()

/** The environment without the npm_* variables of the `npm test` running this file. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))

function run(cmd: string, args: string[], cwd: string, opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', shell: process.platform === 'win32' && cmd === 'npm', ...opts })
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/** A new project folder with `tarballs` installed the way a user's `npm install` would, offline. */
function project(name: string, tarballs: string[]): string {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  const r = run('npm', ['install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', ...tarballs], dir)
  expect(r.stderr.split('\n').filter((l) => l.includes('ERR'))).toEqual([])
  expect(r.status).toBe(0)
  return dir
}

/** Every file under `dir`, relative to it, with `/` separators. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort()
}

function node(app: string, args: string[]): unknown {
  const r = run(process.execPath, args, app)
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return JSON.parse(r.stdout)
}

let app: string
let tarballs: { root: string; platform: string }

beforeAll(() => {
  tarballs = pack(join(work, 'pkgs'))
  app = project('app', [tarballs.root, tarballs.platform])
  for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(app, f))
  mkdirSync(join(app, 'data'))
}, 180_000)

it('installs offline without scripts, with this platform binary only', () => {
  const modules = join(app, 'node_modules')
  expect(readdirSync(modules).filter((f) => !f.startsWith('.'))).toEqual(['stowage', `stowage-${platform}`])
  expect(files(modules).filter((f) => f.endsWith('.node'))).toEqual([`stowage-${platform}/stowage.${platform}.node`])
  expect(files(join(modules, 'stowage'))).toEqual(['LICENSE', 'README.md', 'binding.js', 'index.d.ts', 'index.js', 'native.js', 'package.json'])
  expect(files(join(modules, `stowage-${platform}`))).toEqual(['LICENSE', 'README.md', 'package.json', `stowage.${platform}.node`])
  const manifest = JSON.parse(readFileSync(join(modules, 'stowage', 'package.json'), 'utf8'))
  expect(Object.keys(manifest.optionalDependencies)).toEqual(PLATFORMS.map((p) => `stowage-${p}`))
  expect(new Set(Object.values(manifest.optionalDependencies))).toEqual(new Set([manifest.version]))
  expect(manifest.scripts).toBeUndefined()
  expect(manifest.devDependencies).toBeUndefined()
})

it("works through require('stowage') with the platform package's binary", () => {
  const dir = join(app, 'data', 'cjs')
  expect(node(app, ['smoke.cjs', dir])).toEqual({
    file: 'runs.sqlite',
    runs: [['fork', ['base']], ['base', []]],
    rows: [[1, 0.5, null], [2, 0.25, 0.3]],
    target: 'native',
    binaries: [join(app, 'node_modules', `stowage-${platform}`, `stowage.${platform}.node`)],
  })
})

it("works through named imports of import('stowage')", () => {
  expect(node(app, ['smoke.mjs', join(app, 'data', 'esm')])).toEqual({
    runs: ['esm'],
    rows: [[7, 0.125]],
    openStore: 'function',
    defaultIsModule: true,
  })
})

it('type-checks extension code against the installed types with tsc --strict', () => {
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], app)
  expect(r.stdout + r.stderr).toBe('')
  expect(r.status).toBe(0)
})

it('without the platform package, require throws ERR_NATIVE_BINDING_NOT_FOUND', () => {
  const bare = project('bare', [tarballs.root])
  const r = run(process.execPath, ['-e', "try { require('stowage') } catch (e) { console.log(e.code + ' ' + e.platform) }"], bare)
  expect(r.stdout).toBe(`ERR_NATIVE_BINDING_NOT_FOUND ${platform}\n`)
})
