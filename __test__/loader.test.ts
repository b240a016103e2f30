// The package entry outside the repository: where it finds the native binary, and the one error
// it throws when there is none it can load.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { tempDir } from './helpers/tmp'

const repo = join(__dirname, '..')
const root = tempDir('stowage-loader-')
const { PLATFORMS } = require('../native.js') as { PLATFORMS: string[] }

/** This machine's platform, from the name of the local build (`stowage.<platform>.node`). */
const local = readdirSync(repo).find((f) => /^stowage\..+\.node$/.test(f))!
const platform = local.slice('stowage.'.length, -'.node'.length)

/** The package's JS files (no binary) in a fresh folder outside the repository. */
function packageCopy(name: string): string {
  const dir = join(root, name)
  mkdirSync(dir)
  // The package as published: every file package.json lists, without a binary.
  const { files } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { files: string[] }
  for (const f of [...files, 'package.json']) copyFileSync(join(repo, f), join(dir, f))
  return dir
}

const PROBE = `
try {
  const m = require(process.argv[1])
  console.log(JSON.stringify({ loaded: typeof m.openStore }))
} catch (err) {
  const causes = []
  for (let e = err.cause; e; e = e.cause) causes.push(e.message)
  console.log(JSON.stringify({ name: err.name, code: err.code, platform: err.platform, message: err.message, causes }))
}`

type Probe = { loaded?: string; name?: string; code?: string; platform?: string; message?: string; causes?: string[] }

function probe(dir: string, env: Record<string, string> = {}, preload?: string): Probe {
  const args = preload ? ['-r', preload] : []
  const r = spawnSync(process.execPath, [...args, '-e', PROBE, dir], { encoding: 'utf8', env: { ...process.env, ...env } })
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return JSON.parse(r.stdout)
}

it('without a binary throws ERR_NATIVE_BINDING_NOT_FOUND naming the platform and how to build one', () => {
  const dir = packageCopy('absent')
  const p = probe(dir)
  expect(p.name).toBe('Error')
  expect(p.code).toBe('ERR_NATIVE_BINDING_NOT_FOUND')
  expect(p.platform).toBe(platform)
  expect(p.message).toMatch(new RegExp(`^stowage: cannot load its native binary for ${platform} \\(Node v`))
  expect(p.message).toContain(`Tried:\n  - Cannot find module './stowage.${platform}.node'`)
  expect(p.message).toContain(`  - Cannot find module 'stowage-${platform}'`)
  expect(p.message).toContain(`ships in the package stowage-${platform}, an optional dependency of stowage`)
  expect(p.message).toContain('`npm install && npm run build`')
  expect(p.message).toContain(`set NAPI_RS_NATIVE_LIBRARY_PATH to the stowage.${platform}.node`)
  expect(p.causes![0]).toMatch(/^Cannot find native binding/)
  expect(p.causes!.some((m) => m.startsWith(`Cannot find module './stowage.${platform}.node'`))).toBe(true)
})

it('with a binary that does not load reports the loader error of that file', () => {
  const dir = packageCopy('unloadable')
  const file = join(dir, local)
  writeFileSync(file, 'not a shared library')
  const p = probe(dir)
  expect(p.code).toBe('ERR_NATIVE_BINDING_NOT_FOUND')
  const line = p.message!.split('\n').find((l) => l.includes(file))
  expect(line).toBeDefined()
  expect(line).not.toContain('Cannot find module')
  expect(p.causes!.some((m) => m.includes(file))).toBe(true)
})

it('on a platform without a published binary says which platforms have one', () => {
  const dir = packageCopy('unsupported')
  const preload = join(dir, 'aix.js')
  writeFileSync(preload, "Object.defineProperty(process, 'platform', { value: 'aix' })\n")
  const p = probe(dir, {}, preload)
  expect(p.code).toBe('ERR_NATIVE_BINDING_NOT_FOUND')
  expect(p.platform).toBe(`aix-${process.arch}`)
  expect(p.message).toContain('Unsupported OS: aix')
  expect(p.message).toContain(`stowage publishes binaries for ${PLATFORMS.join(', ')}; aix-${process.arch} is not one of them.`)
  expect(p.message).toContain('`npm install && npm run build`')
})

it('loads the binary named by NAPI_RS_NATIVE_LIBRARY_PATH, as the error advises', () => {
  const dir = packageCopy('override')
  expect(probe(dir, { NAPI_RS_NATIVE_LIBRARY_PATH: join(repo, local) })).toEqual({ loaded: 'function' })
})

it('loads the binary of the platform package when there is no local build', () => {
  const app = join(root, 'app')
  const modules = join(app, 'node_modules')
  mkdirSync(modules, { recursive: true })
  const dir = packageCopy(join('app', 'node_modules', 'stowage'))
  const pkg = join(modules, `stowage-${platform}`)
  mkdirSync(pkg)
  copyFileSync(join(repo, 'npm', platform, 'package.json'), join(pkg, 'package.json'))
  copyFileSync(join(repo, local), join(pkg, local))
  expect(probe(dir)).toEqual({ loaded: 'function' })
})

it('knows the same platforms as npm/ and package.json', () => {
  const dirs = readdirSync(join(repo, 'npm')).sort()
  expect(PLATFORMS).toEqual(dirs)
  for (const d of dirs) expect(JSON.parse(readFileSync(join(repo, 'npm', d, 'package.json'), 'utf8')).name).toBe(`stowage-${d}`)
  expect(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).napi.targets).toHaveLength(PLATFORMS.length)
})
