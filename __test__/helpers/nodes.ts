// The Node versions the runtime tests run under, and the smoke fixture they run.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import { expect } from 'vitest'

export const MAJORS = [18, 20, 22, 24, 26]

/** The package entry and the addon `npm run build` writes next to it. */
export const entry = join(__dirname, '..', '..', 'index.js')
export const devBinary = join(__dirname, '..', '..', 'stowage.linux-x64-gnu.node')

/** True when STOWAGE_NODES is set: then every Node it lists must work and the majors must all be there. */
export const listed = process.env.STOWAGE_NODES !== undefined

/**
 * The Nodes to run under, as `[label, binary]`: those STOWAGE_NODES lists (joined by the path
 * delimiter, as `scripts/node-versions.js` prints them) when it is set; otherwise those the
 * script has cached, with `null` for a major it has not, whose tests are skipped.
 */
export function nodeMatrix(): Array<[string, string | null]> {
  if (listed) return process.env.STOWAGE_NODES!.split(delimiter).map((bin) => [bin, bin])
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'stowage-ci')
  return MAJORS.map((major) => {
    const bin = join(cache, `node-${major}`, 'bin', 'node')
    return [`Node ${major}`, existsSync(bin) ? bin : null]
  })
}

/** The major version `bin` reports (fails the test when it does not run). */
export function majorOf(bin: string): number {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  expect(r.error, `${bin} --version`).toBeUndefined()
  expect(r.status, `${bin} --version: ${r.stderr}`).toBe(0)
  return Number(/^v(\d+)\./.exec(r.stdout)![1])
}

export interface Smoke {
  node: string
  napi: string
  /** The `.node` files the run loaded. */
  binary: string[]
  result: Record<string, unknown>
}

/**
 * Runs `fixtures/runtime-smoke.js` under `node` in a fresh folder of `root`, loading the addon
 * from `binary` (through napi-rs's NAPI_RS_NATIVE_LIBRARY_PATH) or else the dev build.
 */
export function runSmoke(node: string, root: string, binary?: string): Smoke {
  const env = { ...process.env }
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  if (binary !== undefined) env.NAPI_RS_NATIVE_LIBRARY_PATH = binary
  const dir = mkdtempSync(join(root, 'smoke-'))
  const r = spawnSync(node, [join(__dirname, '..', 'fixtures', 'runtime-smoke.js'), entry, dir], { encoding: 'utf8', env })
  expect(r.error, `spawning ${node}`).toBeUndefined()
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  const out = JSON.parse(r.stdout) as Smoke
  expect(out.binary).toEqual([binary ?? devBinary])
  return out
}
