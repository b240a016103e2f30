// Packing stowage as published (scripts/pack.js) and installing it into fresh projects.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'

import { run as runAsync } from './spawn'

const { pack } = require('../../scripts/pack.js') as { pack: (out: string) => Tarballs }
const { platformName } = require('../../native.js') as { platformName: () => string }

export type Tarballs = { root: string; platform: string; cli: string }

/** This machine's platform as the package names have it, e.g. `linux-x64-gnu`. */
export const platform = platformName()

/** The environment without the npm_* variables of an `npm test` running the tests. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))

/** Runs `cmd` in `cwd`; npm through the shell on Windows, where it is npm.cmd. */
export function run(cmd: string, args: string[], cwd: string, opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', shell: process.platform === 'win32' && cmd === 'npm', ...opts })
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/** The root, platform and CLI tarballs, packed into `<work>/pkgs`. */
export function packed(work: string): Tarballs {
  return pack(join(work, 'pkgs'))
}

/** A new project `<work>/<name>` with `tarballs` installed as a user's `npm install` would, offline
 * and without install scripts. */
export async function project(work: string, name: string, tarballs: string[]): Promise<string> {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  const args = ['install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', ...tarballs]
  const r = await runAsync('npm', args, { cwd: dir, env, shell: process.platform === 'win32' })
  expect(r.stderr.split('\n').filter((l) => /ERR|npm error/.test(l))).toEqual([])
  expect(r.status).toBe(0)
  return dir
}

/** Puts the CLI's registry dependencies (and theirs) in npm's cache, so that an `--offline`
 * install of the CLI tarball finds them on a machine whose cache is cold: an install from the
 * repository's lockfile fetches tarballs only, not the package documents an offline resolution
 * reads. Fetches nothing when the cache already has them. */
export async function warmCliDependencies(work: string): Promise<void> {
  const cli = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cli', 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  const specs = Object.entries(cli.dependencies).map(([name, version]) => `${name}@${version}`)
  const dir = join(work, 'warm-cli-deps')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'warm', version: '1.0.0', private: true }))
  const r = await runAsync('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', ...specs], { cwd: dir, env, shell: process.platform === 'win32' })
  expect(r.status, r.stderr).toBe(0)
}

/** Runs a Node script in `cwd` that must succeed quietly and print JSON; returns it parsed. */
export function nodeJson(cwd: string, args: string[]): unknown {
  const r = run(process.execPath, args, cwd)
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return JSON.parse(r.stdout)
}
