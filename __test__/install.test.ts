// Proof by installation: the tarballs `npm publish` would upload (scripts/pack.js), installed into
// a fresh project offline and without install scripts, then used through require, import and tsc.
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { beforeAll, expect, it } from 'vitest'

import { nodeJson, packed, platform, project, run, warmCliDependencies, type Tarballs } from './helpers/install'
import { tempDir } from './helpers/tmp'

const repo = join(__dirname, '..')
const fixtures = join(__dirname, 'fixtures', 'install')
const work = tempDir('stowage-install-')
const { PLATFORMS } = require('../native.js') as { PLATFORMS: string[] }

/** Every file under `dir`, relative to it, with `/` separators. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort()
}

let app: string
let tarballs: Tarballs

beforeAll(async () => {
  tarballs = packed(work)
  app = await project(work, 'app', [tarballs.root, tarballs.platform])
  for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(app, f))
  mkdirSync(join(app, 'data'))
})

it('installs offline without scripts, with this platform binary only', () => {
  const modules = join(app, 'node_modules')
  expect(readdirSync(modules).filter((f) => !f.startsWith('.'))).toEqual(['stowage', `stowage-${platform}`])
  expect(files(modules).filter((f) => f.endsWith('.node'))).toEqual([`stowage-${platform}/stowage.${platform}.node`])
  expect(files(join(modules, 'stowage'))).toEqual(['LICENSE', 'README.md', 'binding.js', 'chats.js', 'etcode.d.ts', 'etcode.js', 'index.d.ts', 'index.js', 'mlflow.js', 'native.js', 'package.json', 'recovery.js'])
  expect(files(join(modules, `stowage-${platform}`))).toEqual(['LICENSE', 'README.md', 'package.json', `stowage.${platform}.node`])
  const manifest = JSON.parse(readFileSync(join(modules, 'stowage', 'package.json'), 'utf8'))
  expect(Object.keys(manifest.optionalDependencies)).toEqual(PLATFORMS.map((p) => `stowage-${p}`))
  expect(new Set(Object.values(manifest.optionalDependencies))).toEqual(new Set([manifest.version]))
  expect(manifest.scripts).toBeUndefined()
  expect(manifest.devDependencies).toBeUndefined()
})

it("works through require('stowage') with the platform package's binary", () => {
  const dir = join(app, 'data', 'cjs')
  expect(nodeJson(app, ['smoke.cjs', dir])).toEqual({
    file: 'runs.sqlite',
    runs: [['base', []], ['fork', ['base']]],
    rows: [[1, 0.5, null], [2, 0.25, 0.3]],
    target: 'native',
    binaries: [join(app, 'node_modules', `stowage-${platform}`, `stowage.${platform}.node`)],
  })
})

it("works through named imports of import('stowage')", () => {
  expect(nodeJson(app, ['smoke.mjs', join(app, 'data', 'esm')])).toEqual({
    runs: ['esm'],
    rows: [[7, 0.125]],
    openStore: 'function',
    defaultIsModule: true,
  })
})

it("works through require('stowage/etcode'), etcode's persistence on its etcode.db", () => {
  expect(nodeJson(app, ['etcode.cjs', join(app, 'data', 'etcode')])).toEqual({ file: 'etcode.db', titles: ['New Session'], parts: ['hi'] })
})

it('type-checks extension code against the installed types with tsc --strict', () => {
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], app)
  expect(r.stdout + r.stderr).toBe('')
  expect(r.status).toBe(0)
})

it('without the platform package, require throws ERR_NATIVE_BINDING_NOT_FOUND', async () => {
  const bare = await project(work, 'bare', [tarballs.root])
  const r = run(process.execPath, ['-e', "try { require('stowage') } catch (e) { console.log(e.code + ' ' + e.platform) }"], bare)
  expect(r.stdout).toBe(`ERR_NATIVE_BINDING_NOT_FOUND ${platform}\n`)
})

it('installs the CLI beside the library, which stays two packages', async () => {
  await warmCliDependencies(work)
  const cli = await project(work, 'with-cli', [tarballs.root, tarballs.platform, tarballs.cli])
  const modules = join(cli, 'node_modules')
  const manifest = JSON.parse(readFileSync(join(modules, 'stowage-cli', 'package.json'), 'utf8'))
  expect(manifest.dependencies.stowage).toBe(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version)
  expect(readdirSync(modules)).toEqual(expect.arrayContaining(['stowage', `stowage-${platform}`, 'stowage-cli', 'd3-scale', 'd3-shape', '@resvg']))
  const file = join(cli, 'runs.sqlite')
  const made = run(process.execPath, ['-e', `const s = require('stowage').openStore(${JSON.stringify(file)}); s.training.insertRun('r', 'p', 'n', null); s.close()`], cli)
  expect(made.stderr).toBe('')
  const r = run(join(modules, '.bin', 'stowage'), ['runs', file, '--json'], cli)
  expect(r.stderr).toBe('')
  expect(JSON.parse(r.stdout).map((x: { run: string }) => x.run)).toEqual(['r'])
})
