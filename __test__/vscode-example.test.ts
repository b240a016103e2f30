// examples/vscode-extension builds from this tree and ships as a VS Code extension would: stowage
// packed as published (scripts/pack.js) and served, with stand-ins for the seven other platform
// packages, by an npm registry on loopback; the example installed from it, type-checked, bundled
// and packaged by `vsce package --target` (helpers/vsix.ts); the packaged extension run in a
// stand-in extension host (helpers/vscode-host.js). vscode-host.test.ts runs the same VSIX in VS
// Code's own extension host.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { tarballManifest } from './helpers/registry'
import { sqlQuery } from './helpers/sqlite'
import { buildExample, example, type ExampleBuild } from './helpers/vsix'
import { unzip, zipEntries } from './helpers/zip'

const repo = join(__dirname, '..')
const host = join(__dirname, 'helpers', 'vscode-host.js')

const HOST_BINARY = 'extension/node_modules/stowage-linux-x64-gnu/stowage.linux-x64-gnu.node'

let build: ExampleBuild
let scratch: string
let ext: string
let hostVsix: string

function packagesIn(entries: string[]): string[] {
  const names = entries.map((e) => /^extension\/node_modules\/([^/]+)\//.exec(e)?.[1]).filter((n): n is string => n !== undefined)
  return [...new Set(names)].sort()
}

interface HostReport {
  commands: string[]
  messages: string[]
  quickPicks: string[][]
  output: string[]
  remainingCommands: string[]
  nativeModules: string[]
}

function runHost(extensionDir: string, storage: string, commands: string[]): HostReport {
  const r = spawnSync(process.execPath, [host, extensionDir, storage, ...commands], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`extension host failed:\n${r.stderr}`)
  return JSON.parse(r.stdout)
}

beforeAll(async () => {
  build = await buildExample('vscode-example-')
  scratch = build.scratch
  ext = build.ext
  hostVsix = await build.packageVsix('linux-x64')
}, 300_000)

afterAll(async () => {
  await build?.close()
})

it('pins the build tools that the repository installs, in the same versions', () => {
  const mine = JSON.parse(readFileSync(join(example, 'package.json'), 'utf8'))
  const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'))
  for (const [name, version] of Object.entries(mine.devDependencies as Record<string, string>)) {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/)
    expect(root.devDependencies[name], name).toBe(version)
  }
  expect(mine.devDependencies['@types/vscode']).toBe(mine.engines.vscode.replace(/^\^/, ''))
})

it('installs stowage with only this machine’s platform package and locks all eight', () => {
  const installed = readdirSync(join(ext, 'node_modules')).filter((n) => n.startsWith('stowage')).sort()
  expect(installed).toEqual(['stowage', 'stowage-linux-x64-gnu'])
  const lock = JSON.parse(readFileSync(join(ext, 'package-lock.json'), 'utf8'))
  const platforms = Object.keys(lock.packages).filter((k) => k.startsWith('node_modules/stowage-'))
  expect(platforms).toHaveLength(8)
  for (const k of platforms) expect(lock.packages[k].optional, k).toBe(true)
})

it('packages a linux-x64 VSIX with the bundle, stowage’s loader and the linux-x64 binary only', () => {
  const entries = zipEntries(hostVsix)
  expect(entries.filter((e) => e.endsWith('.node'))).toEqual([HOST_BINARY])
  expect(packagesIn(entries)).toEqual(['stowage', 'stowage-linux-x64-gnu'])
  expect(entries).toContain('extension/node_modules/stowage/index.js')
  expect(entries).toContain('extension/node_modules/stowage/binding.js')
  expect(entries.filter((e) => !e.startsWith('extension/node_modules/')).sort()).toEqual([
    '[Content_Types].xml',
    'extension.vsixmanifest',
    'extension/LICENSE.txt',
    'extension/dist/extension.js',
    'extension/package.json',
    'extension/readme.md',
  ])
  const dir = join(scratch, 'linux-x64')
  unzip(hostVsix, dir)
  expect(readFileSync(join(dir, 'extension.vsixmanifest'), 'utf8')).toContain('TargetPlatform="linux-x64"')
  expect(readFileSync(join(dir, HOST_BINARY)).equals(readFileSync(build.binary))).toBe(true)
  const bundle = readFileSync(join(dir, 'extension/dist/extension.js'), 'utf8')
  expect(bundle).toContain('require("stowage")')
  expect(bundle).toContain('require("vscode")')
})

describe('the packaged extension', () => {
  const extensionDir = () => join(scratch, 'linux-x64', 'extension')
  const storage = () => join(scratch, 'globalStorage')

  it('activates, records runs, shows them and deactivates, leaving them in runs.sqlite', () => {
    const manifest = JSON.parse(readFileSync(join(extensionDir(), 'package.json'), 'utf8'))
    const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command)
    const report = runHost(extensionDir(), storage(), ['stowageExample.recordRuns', 'stowageExample.showRuns'])

    expect(report.commands).toEqual(contributed)
    expect(report.remainingCommands).toEqual([])
    expect(report.nativeModules).toEqual([join(scratch, 'linux-x64', HOST_BINARY)])
    const db = join(storage(), 'runs.sqlite')
    // The context also names a workspace storage folder (storagePath), which must stay unused.
    expect(existsSync(join(scratch, 'workspaceStorage'))).toBe(false)
    expect(report.messages).toHaveLength(1)
    expect(report.messages[0]).toMatch(/^stowage: recorded base-\w+ and fork-\w+ in /)
    expect(report.messages[0]).toContain(db)

    const runs = sqlQuery<{ run_id: string; project: string }>(db, 'SELECT run_id, project FROM runs ORDER BY run_id')
    expect(runs.map((r) => r.run_id.split('-')[0])).toEqual(['base', 'fork'])
    const [base, fork] = runs.map((r) => r.run_id)
    expect(runs.every((r) => r.project === 'example')).toBe(true)
    expect(sqlQuery(db, 'SELECT child_run_id, parent_run_id FROM run_edges')).toEqual([{ child_run_id: fork, parent_run_id: base }])
    expect(sqlQuery(db, 'SELECT run_id, count(*) AS n, min(step) AS first, max(step) AS last FROM metrics GROUP BY run_id ORDER BY run_id')).toEqual([
      { run_id: base, n: 20, first: 1, last: 20 },
      { run_id: fork, n: 20, first: 21, last: 40 },
    ])
    expect(sqlQuery(db, 'SELECT run_id, count(*) AS n FROM logs GROUP BY run_id ORDER BY run_id')).toEqual([
      { run_id: base, n: 20 },
      { run_id: fork, n: 1 },
    ])

    expect(report.output[0]).toBe(`VS Code 0.0.0-stand-in (stand-in), Node ${process.versions.node}: ${db}, ${join(storage(), 'sessions.db')}`)
    expect(report.output[1]).toBe(`2 runs in ${db}`)
    expect(report.quickPicks).toEqual([expect.arrayContaining([base, fork])])
    const picked = report.quickPicks[0][0]
    expect(report.output).toContain(`== ${picked}`)
    expect(report.output.filter((line) => line.startsWith('step '))).toHaveLength(20)
  })

  it('finds the runs again in a later window (closeStorage kept the file)', () => {
    const report = runHost(extensionDir(), storage(), ['stowageExample.showRuns'])
    expect(report.messages).toEqual([])
    expect(report.quickPicks).toHaveLength(1)
    expect(report.quickPicks[0]).toHaveLength(2)
  })

  it('records an agent session through booting, working and completed in sessions.db beside runs.sqlite', () => {
    const report = runHost(extensionDir(), storage(), ['stowageExample.recordAgents'])
    const db = join(storage(), 'sessions.db')
    const sessions = sqlQuery<Record<string, unknown>>(db, 'SELECT agent_name, capability, state, tmux_session, run_id FROM sessions')
    expect(sessions).toHaveLength(1)
    const [{ agent_name: name, run_id: run }] = sessions
    expect(sessions[0]).toEqual({ agent_name: expect.stringMatching(/^builder-\w+$/), capability: 'builder', state: 'completed', tmux_session: '', run_id: run })
    expect(sqlQuery(db, 'SELECT id, status, coordinator_name, completed_at IS NOT NULL AS done FROM runs')).toEqual([
      { id: run, status: 'completed', coordinator_name: 'stowage-example', done: 1 },
    ])
    expect(report.output.slice(1)).toEqual([
      `${name} (${run}): booting`,
      `${name}: booting -> working`,
      `${name}: booting refused (illegal_transition, in working)`,
      `${name}: working -> completed`,
    ])
    expect(report.messages).toEqual([`stowage: ${name} is completed in ${db}`])
  })

  it('says so when there are no runs yet', () => {
    const report = runHost(extensionDir(), join(scratch, 'emptyStorage'), ['stowageExample.showRuns'])
    expect(report.messages).toEqual(['stowage: no runs yet; run "stowage: Record example runs" first'])
    expect(report.quickPicks).toEqual([])
  })
})

// The README's per-target loop: `npm install --os --cpu --libc` swaps the platform package, then
// `vsce package --target` ships it.
describe.each([
  { target: 'darwin-arm64', os: 'darwin', cpu: 'arm64', libc: 'glibc', pkg: 'stowage-darwin-arm64' },
  { target: 'alpine-x64', os: 'linux', cpu: 'x64', libc: 'musl', pkg: 'stowage-linux-x64-musl' },
])('packaging for $target', ({ target, os, cpu, libc, pkg }) => {
  it(`ships ${pkg} and no other binary`, async () => {
    await build.npm(['install', `--os=${os}`, `--cpu=${cpu}`, `--libc=${libc}`])
    const vsix = await build.packageVsix(target)
    const entries = zipEntries(vsix)
    const manifest = tarballManifest(join(build.packages, `${pkg}-0.1.0.tgz`))
    expect(entries.filter((e) => e.endsWith('.node'))).toEqual([`extension/node_modules/${pkg}/${manifest.main}`])
    expect(packagesIn(entries)).toEqual(['stowage', pkg])
    const dir = join(scratch, target)
    unzip(vsix, dir)
    expect(readFileSync(join(dir, 'extension.vsixmanifest'), 'utf8')).toContain(`TargetPlatform="${target}"`)
  })
})

it('goes back to this machine’s package with a plain npm install', async () => {
  await build.npm(['install'])
  const installed = readdirSync(join(ext, 'node_modules')).filter((n) => n.startsWith('stowage')).sort()
  expect(installed).toEqual(['stowage', 'stowage-linux-x64-gnu'])
})
