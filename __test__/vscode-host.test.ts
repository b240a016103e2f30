// The example extension (examples/vscode-extension), packaged from this tree as it ships
// (helpers/vsix.ts), in VS Code's own extension host: code-server, whose npm package bundles VS
// Code's server and extension host, with the VSIX installed offline into a fresh profile, serving
// 127.0.0.1, its workbench driven in headless Chromium (helpers/workbench.ts) through the Command
// Palette and a quick pick, in a window on a folder, in an empty window and in two windows at
// once. What is asserted comes from files: the SQLite files, the extension's output channel and
// the extension host's log as VS Code writes them, and /proc for what the host process loaded.
//
// `node scripts/vscode-host-tools.js` installs code-server, its Node and puppeteer-core into
// ~/.cache/stowage-ci (Chromium comes from apt); without them this file is skipped, unless
// STOWAGE_VSCODE_HOST=1 (.ci/run sets it), which makes a missing tool a failure. A failing test
// saves a screenshot of each of its windows in target/vscode-host-screenshots/ and prints the paths.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import { alive, extensionHosts, hostLog, installExtension, nativeModules, outputChannel, profile, startServer, stopTree, waitFor } from './helpers/code-server'
import type { Profile, Server, Tools } from './helpers/code-server'
import { sqlQuery } from './helpers/sqlite'
import { buildExample, type ExampleBuild } from './helpers/vsix'
import { launchBrowser, Window, type Browser } from './helpers/workbench'

const hostTools = require('../scripts/vscode-host-tools.js') as { tools(): Tools; missing(): string[] }

const missing = hostTools.missing()
const required = process.env.STOWAGE_VSCODE_HOST === '1'
if (missing.length > 0 && !required) {
  console.warn(
    `vscode-host.test.ts is skipped: missing ${missing.join('; ')}. ` +
      '`node scripts/vscode-host-tools.js` installs them (it needs Debian\'s chromium and libkrb5-dev first); ' +
      'STOWAGE_VSCODE_HOST=1 turns this skip into a failure.',
  )
}

const EXTENSION = 'stowage.stowage-example'
const CHANNEL = 'stowage example'
const BINARY = join('node_modules', 'stowage-linux-x64-gnu', 'stowage.linux-x64-gnu.node')
/** Steps per run in each of the two windows that record at once: enough for their writes to
 * overlap in time (the test checks that they did). */
const CONCURRENT_STEPS = 20_000
const screenshots = join(__dirname, '..', 'target', 'vscode-host-screenshots')

const RECORD = 'stowage: Record example runs'
const SHOW = 'stowage: Show runs'
const AGENTS = 'stowage: Record an agent session'
/** The line "Record example runs" ends with: how many runs the store holds, and its file. */
const RECORDED = /^(\d+) runs in (.*)$/

describe.skipIf(missing.length > 0 && !required)('the example extension in VS Code’s own extension host', () => {
  let tools: Tools
  let build: ExampleBuild
  let prof: Profile
  let installed: string
  let server: Server | undefined
  let browser: Browser | undefined
  /** The windows of the running test, for its screenshots. */
  let windows: Window[] = []

  const storage = () => join(prof.globalStorage, EXTENSION)
  const runsDb = () => join(storage(), 'runs.sqlite')
  const sessionsDb = () => join(storage(), 'sessions.db')
  const output = (w: Window) => outputChannel(w.host, CHANNEL)
  const lines = (w: Window) => output(w).split('\n').filter((l) => l !== '')

  async function open(query: string, label: string): Promise<Window> {
    const w = await Window.open(browser!, server!, prof, query, label)
    windows.push(w)
    return w
  }

  /** A folder for a window to open, with `settings` as its .vscode/settings.json. */
  function folder(name: string, settings?: Record<string, unknown>): string {
    const dir = join(build.scratch, 'projects', name)
    mkdirSync(dir, { recursive: true })
    if (settings) {
      mkdirSync(join(dir, '.vscode'))
      writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify(settings))
    }
    return dir
  }

  /** The errors the extension host logged: an exception thrown by a command or by activate()
   * (a SQLITE_BUSY, for one). A passing run logs none. */
  const hostErrors = (w: Window) => hostLog(w.host).split('\n').filter((l) => / \[error\] /.test(l))

  /** Waits for a line of the window's output channel that matches `pattern`; fails at once when
   * the extension host logs an error instead. */
  function outputLine(w: Window, pattern: RegExp, what: string, timeoutMs?: number): Promise<RegExpExecArray> {
    return waitFor(`${what} in the output channel of ${w.label}`, () => {
      const errors = hostErrors(w)
      if (errors.length > 0) throw new Error(`the extension host of ${w.label} logged, waiting for ${what}:\n${errors.join('\n')}`)
      return lines(w).map((l) => pattern.exec(l)).find((m) => m !== null)
    }, timeoutMs, () => `output channel:\n${output(w)}\nextension host log:\n${hostLog(w.host)}`)
  }

  /** The checks every window makes while it is open: the activation line with the versions and
   * files, and stowage's binary loaded from the installed VSIX. */
  async function checkHost(w: Window, activationEvent: string): Promise<{ vscode: string; node: string; appHost: string }> {
    const [, vscode, appHost, node, files] = await outputLine(w, /^VS Code (\S+) \((\S+)\), Node (\S+): (.*)$/, 'the activation line')
    expect(files).toBe(`${runsDb()}, ${sessionsDb()}`)
    expect(hostLog(w.host)).toContain(`ExtensionService#_doActivateExtension ${EXTENSION}, startup: false, activationEvent: '${activationEvent}'`)
    expect(realpathSync(readlinkSync(`/proc/${w.host.pid}/exe`))).toBe(realpathSync(tools.node))
    expect(nativeModules(w.host.pid).filter((f) => /^stowage\..*\.node$/.test(basename(f)))).toEqual([join(installed, BINARY)])
    return { vscode, node, appHost }
  }

  /** Closes the windows and checks that deactivate() closed both stores: SQLite removes a
   * file's -wal and -shm when its last connection closes, and leaves them when the process
   * just ends. */
  async function closeWindows(...ws: Window[]): Promise<void> {
    // One after the other: two connections closing at the same moment may each see the other
    // still open, and then neither removes the WAL (SQLite's rule, not a lost close).
    for (const w of ws) await w.close()
    for (const w of ws) {
      expect(hostLog(w.host)).toMatch(new RegExp(`Extension host with pid ${w.host.pid} exiting with code 0`))
      expect(hostErrors(w)).toEqual([])
    }
    for (const db of [runsDb(), sessionsDb()]) {
      expect(existsSync(db)).toBe(true)
      expect(existsSync(`${db}-wal`), `${db}-wal`).toBe(false)
      expect(existsSync(`${db}-shm`), `${db}-shm`).toBe(false)
    }
  }

  /** The extension's files anywhere under workspaceStorage (there must be none). */
  function inWorkspaceStorage(): string[] {
    if (!existsSync(prof.workspaceStorage)) return []
    return readdirSync(prof.workspaceStorage, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes(EXTENSION) || /\.(sqlite|db)$/.test(f))
  }

  function runs(): Array<{ run_id: string; name: string; project: string }> {
    if (!existsSync(runsDb())) return []
    return sqlQuery(runsDb(), 'SELECT run_id, name, project FROM runs ORDER BY created_at, run_id')
  }

  /** The metrics and logs of a base run and its fork, as recorded with `steps` steps each. */
  function expectRecorded(base: string, fork: string, steps: number): void {
    const metrics = sqlQuery(runsDb(), `SELECT run_id, count(*) AS n, min(step) AS first, max(step) AS last FROM metrics WHERE run_id IN ('${base}', '${fork}') GROUP BY run_id ORDER BY run_id`)
    expect(metrics).toEqual([
      { run_id: base, n: steps, first: 1, last: steps },
      { run_id: fork, n: steps, first: steps + 1, last: 2 * steps },
    ])
    const logs = sqlQuery(runsDb(), `SELECT run_id, count(*) AS n FROM logs WHERE run_id IN ('${base}', '${fork}') GROUP BY run_id ORDER BY run_id`)
    expect(logs).toEqual([
      { run_id: base, n: steps },
      { run_id: fork, n: 1 },
    ])
    expect(sqlQuery(runsDb(), `SELECT parent_run_id FROM run_edges WHERE child_run_id = '${fork}'`)).toEqual([{ parent_run_id: base }])
  }

  /** Runs "Record an agent session" and checks its lines; returns the agent's name. */
  async function recordAgent(w: Window): Promise<string> {
    await w.command(AGENTS)
    const [, name, run] = await outputLine(w, /^(builder-\w+) \((run-\w+)\): booting$/, 'the new agent session')
    await outputLine(w, new RegExp(`^${name}: working -> completed$`), 'the agent completing')
    expect(lines(w).filter((l) => l.startsWith(`${name}`))).toEqual([
      `${name} (${run}): booting`,
      `${name}: booting -> working`,
      `${name}: booting refused (illegal_transition, in working)`,
      `${name}: working -> completed`,
    ])
    expect(sqlQuery(sessionsDb(), `SELECT state, tmux_session, run_id FROM sessions WHERE agent_name = '${name}'`)).toEqual([{ state: 'completed', tmux_session: '', run_id: run }])
    expect(sqlQuery(sessionsDb(), `SELECT status, coordinator_name, completed_at IS NOT NULL AS done FROM runs WHERE id = '${run}'`)).toEqual([
      { status: 'completed', coordinator_name: 'stowage-example', done: 1 },
    ])
    return name
  }

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`STOWAGE_VSCODE_HOST=1, but the real-host test's tools are missing: ${missing.join('; ')}; run \`node scripts/vscode-host-tools.js\``)
    tools = hostTools.tools()
    build = await buildExample('vscode-host-')
    const vsix = await build.packageVsix('linux-x64')
    prof = profile(join(build.scratch, 'profile'))
    installed = await installExtension(tools, prof, vsix, EXTENSION)
    expect(readFileSync(join(installed, BINARY)).equals(readFileSync(build.binary))).toBe(true)
    server = await startServer(tools, prof)
    browser = await launchBrowser(tools, join(build.scratch, 'chromium'), prof.tmp)
  }, 600_000)

  afterAll(async () => {
    if (browser) {
      await browser.close()
      await stopTree(browser.pid)
    }
    await server?.stop()
    if (server) expect(extensionHosts(prof).filter((h) => alive(h.pid))).toEqual([])
    prof?.dispose()
    await build?.close()
  }, 120_000)

  beforeEach(({ task, onTestFailed }) => {
    windows = []
    onTestFailed(async () => {
      mkdirSync(screenshots, { recursive: true })
      for (const w of windows) {
        const file = join(screenshots, `${task.name.replace(/[^\w]+/g, '-')}-${w.label}.png`)
        if (await w.screenshot(file)) console.error(`vscode-host.test.ts: screenshot of ${w.label} (${task.name}): ${file}`)
      }
    })
  })

  // A failed test leaves no window open for the next one (its extension host would keep the
  // stores open).
  afterEach(async () => {
    await Promise.all(windows.map((w) => w.close()))
  }, 120_000)

  it('records, shows and keeps runs and an agent session in a window on a folder, in globalStorage', async () => {
    const w = await open(`?folder=${encodeURIComponent(folder('alpha'))}`, 'folder-window')
    await w.command(RECORD)
    expect((await outputLine(w, RECORDED, 'the recorded runs')).slice(1)).toEqual(['2', runsDb()])
    const versions = await checkHost(w, 'onCommand:stowageExample.recordRuns')
    const codeVersion = JSON.parse(readFileSync(join(dirname(dirname(dirname(tools.codeServer))), 'lib', 'vscode', 'package.json'), 'utf8')).version
    expect(versions.vscode).toBe(codeVersion)
    expect(`v${versions.node}`).toBe(spawnSync(tools.node, ['--version'], { encoding: 'utf8' }).stdout.trim())
    console.log(
      `vscode-host.test.ts: code-server ${tools.codeServerVersion}, VS Code ${versions.vscode} (appHost ${versions.appHost}), ` +
        `extension host on Node ${versions.node} (pid ${w.host.pid}), stowage loaded from ${join(installed, BINARY)}`,
    )

    const recorded = runs()
    expect(recorded.map((r) => r.name.split('-')[0])).toEqual(['base', 'fork'])
    expect(recorded.every((r) => r.project === 'example')).toBe(true)
    const [base, fork] = recorded.map((r) => r.run_id)
    expectRecorded(base, fork, 20)

    await w.command(SHOW)
    const offered = await w.quickPick('Run to show', 2)
    expect(offered).toHaveLength(2)
    expect(offered.some((r) => r.startsWith(base)), JSON.stringify(offered)).toBe(true)
    expect(offered.some((r) => r.startsWith(fork)), JSON.stringify(offered)).toBe(true)
    await w.pick(fork)
    await outputLine(w, /^\[info\] forked from /, "the picked run's log")
    const shown = lines(w).slice(lines(w).indexOf(`== ${fork}`))
    expect(shown.filter((l) => l.startsWith('step '))).toEqual(Array.from({ length: 20 }, (_, i) => `step ${21 + i}: loss ${(1.5 / (21 + i)).toFixed(4)}, val_loss -`))
    expect(shown.at(-1)).toBe(`[info] forked from ${base} at step 20`)

    await recordAgent(w)

    await closeWindows(w)
    expect(runs().map((r) => r.run_id)).toEqual([base, fork])
    // VS Code gave this window a workspace storage folder (the context's storagePath), unused.
    expect(readdirSync(prof.workspaceStorage)).toHaveLength(1)
    expect(inWorkspaceStorage()).toEqual([])
  }, 300_000)

  it('finds those runs in an empty window and records more into the same files', async () => {
    const before = runs()
    expect(before).toHaveLength(2)
    const w = await open('?ew=true', 'empty-window')
    await w.command(SHOW)
    await checkHost(w, 'onCommand:stowageExample.showRuns')
    const offered = await w.quickPick('Run to show', 2)
    expect(offered).toHaveLength(2)
    const base = before.find((r) => r.name.startsWith('base-'))!.run_id
    await w.pick(base)
    await outputLine(w, /^\[train\] step 20: /, "the picked run's last log line")
    const shown = lines(w).slice(lines(w).indexOf(`== ${base}`))
    expect(shown.filter((l) => l.startsWith('step '))).toHaveLength(20)
    expect(shown.filter((l) => l.startsWith('[train] '))).toHaveLength(20)

    await w.command(RECORD)
    expect((await outputLine(w, RECORDED, 'the recorded runs')).slice(1)).toEqual(['4', runsDb()])
    const added = runs().filter((r) => !before.some((b) => b.run_id === r.run_id))
    expect(added.map((r) => r.name.split('-')[0])).toEqual(['base', 'fork'])
    expectRecorded(added[0].run_id, added[1].run_id, 20)
    const agent = await recordAgent(w)

    await closeWindows(w)
    expect(runs()).toHaveLength(4)
    expect(sqlQuery(sessionsDb(), 'SELECT agent_name, state FROM sessions ORDER BY started_at')).toEqual([
      { agent_name: expect.stringMatching(/^builder-/), state: 'completed' },
      { agent_name: agent, state: 'completed' },
    ])
    expect(inWorkspaceStorage()).toEqual([])
  }, 300_000)

  it('records from two windows at once into the one global store, every row present', async () => {
    const before = runs()
    const settings = { 'stowageExample.steps': CONCURRENT_STEPS }
    const a = await open(`?folder=${encodeURIComponent(folder('beta', settings))}`, 'window-a')
    const b = await open(`?folder=${encodeURIComponent(folder('gamma', settings))}`, 'window-b')
    await a.typeCommand(RECORD)
    await b.typeCommand(RECORD)
    await Promise.all([a.page.keyboard.press('Enter'), b.page.keyboard.press('Enter')])
    for (const w of [a, b]) expect((await outputLine(w, RECORDED, 'the recorded runs', 240_000))[2]).toBe(runsDb())
    for (const w of [a, b]) await checkHost(w, 'onCommand:stowageExample.recordRuns')

    const added = runs().filter((r) => !before.some((x) => x.run_id === r.run_id))
    expect(added).toHaveLength(4)
    const bases = added.filter((r) => r.name.startsWith('base-')).map((r) => r.run_id)
    expect(bases).toHaveLength(2)
    for (const base of bases) {
      const [{ child_run_id: fork }] = sqlQuery<{ child_run_id: string }>(runsDb(), `SELECT child_run_id FROM run_edges WHERE parent_run_id = '${base}'`)
      expectRecorded(base, fork, CONCURRENT_STEPS)
    }
    // The two windows' writes interleaved: each base run's metric rows were committed both
    // before and after some of the other's. No write failed (SQLITE_BUSY or any other error
    // would be in its host's log, which outputLine and closeWindows check).
    const spans = bases.map((base) => sqlQuery<{ first: number; last: number }>(runsDb(), `SELECT min(rowid) AS first, max(rowid) AS last FROM metrics WHERE run_id = '${base}'`)[0])
    expect(spans[0].first < spans[1].last && spans[1].first < spans[0].last, JSON.stringify(spans)).toBe(true)
    await closeWindows(a, b)
    expect(runs()).toHaveLength(before.length + 4)
  }, 400_000)
})
