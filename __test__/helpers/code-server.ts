// VS Code's own server and extension host (code-server, installed by scripts/vscode-host-tools.js)
// on 127.0.0.1, with a profile of its own, and the processes it starts.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Tools {
  node: string
  codeServer: string
  codeServerVersion: string
  puppeteerCore: string
  chromium: string | null
}

/** Polls `probe` every 200 ms until it returns something other than undefined, false or null;
 * returns that. On timeout it throws, naming `what` and, when given, `detail()`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 120_000, detail?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false && value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail ? `\n${detail()}` : ''}`)
    await new Promise((done) => setTimeout(done, 200))
  }
}

/** True while process `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/** The pids whose parent chain leads to `pid` (from /proc). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // The process ended while the table was read.
    }
  }
  const found: number[] = []
  const walk = (p: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === p) {
        found.push(child)
        walk(child)
      }
    }
  }
  walk(pid)
  return found
}

/** Stops `pid`, which leads a process group, and every process it started: SIGTERM to the group
 * and to each descendant, then SIGKILL to whatever is left after `graceMs`. */
export async function stopTree(pid: number, graceMs = 10_000): Promise<void> {
  const pids = [pid, ...descendants(pid)]
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig)
    } catch {
      // The group is gone.
    }
    for (const p of pids) {
      try {
        process.kill(p, sig)
      } catch {
        // Already gone.
      }
    }
  }
  signal('SIGTERM')
  const deadline = Date.now() + graceMs
  while (pids.some(alive) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100))
  if (pids.some(alive)) signal('SIGKILL')
  await waitFor(`processes ${pids.filter(alive).join(', ')} to end`, () => !pids.some(alive), 10_000)
}

/** A user-data folder, extensions folder and config of one profile under `root`. */
export interface Profile {
  root: string
  userData: string
  extensions: string
  /** `User/globalStorage`, where a context's globalStorageUri points. */
  globalStorage: string
  workspaceStorage: string
  /** The TMPDIR of the server and its extension hosts, where VS Code leaves its sockets: in the
   * system's temporary folder, since a socket's path must stay under 108 bytes. */
  tmp: string
  /** Removes `tmp` (`root` is the caller's). */
  dispose(): void
}

/** VS Code settings that keep an offline server quiet (the test's folders are inside this
 * repository's git work tree, which VS Code's git extension would offer to open). */
const SETTINGS = {
  'git.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'chat.disableAIFeatures': true,
  'workbench.startupEditor': 'none',
}

export function profile(root: string): Profile {
  const userData = join(root, 'user-data')
  mkdirSync(join(userData, 'User'), { recursive: true })
  writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2))
  const tmp = mkdtempSync(join(tmpdir(), 'stowage-vscode-'))
  return {
    root,
    userData,
    extensions: join(root, 'extensions'),
    globalStorage: join(userData, 'User', 'globalStorage'),
    workspaceStorage: join(userData, 'User', 'workspaceStorage'),
    tmp,
    dispose: () => rmSync(tmp, { recursive: true, force: true }),
  }
}

/** The environment of the server: this one without npm's, vitest's and an enclosing VS Code's
 * variables, with code-server's own config and data folders inside the profile and the
 * profile's TMPDIR. */
function serverEnv(p: Profile): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|VSCODE_|VITEST|NODE_OPTIONS$|ELECTRON_)/i.test(k)))
  return { ...env, XDG_CONFIG_HOME: join(p.root, 'xdg-config'), XDG_DATA_HOME: join(p.root, 'xdg-data'), TMPDIR: p.tmp }
}

function serverArgs(tools: Tools, p: Profile): string[] {
  return [tools.codeServer, '--config', join(p.root, 'code-server.yaml'), '--user-data-dir', p.userData, '--extensions-dir', p.extensions]
}

/** Installs `vsix` into the profile with the server's own CLI, offline. Returns the folder it
 * was installed in. Runs without blocking the thread (vitest's RPC must stay answered). */
export async function installExtension(tools: Tools, p: Profile, vsix: string, id: string): Promise<string> {
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(tools.node, [...serverArgs(tools, p), '--install-extension', vsix], { env: serverEnv(p), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
  if (r.status !== 0 || !/was successfully installed/.test(r.stdout)) throw new Error(`code-server --install-extension failed (${r.status}):\n${r.stdout}\n${r.stderr}`)
  const installed = JSON.parse(readFileSync(join(p.extensions, 'extensions.json'), 'utf8')) as Array<{ identifier: { id: string }; location: { fsPath: string } }>
  const entry = installed.find((e) => e.identifier.id === id)
  if (entry === undefined) throw new Error(`${id} is not in ${join(p.extensions, 'extensions.json')}`)
  return entry.location.fsPath
}

export interface Server {
  /** `http://127.0.0.1:<port>` */
  url: string
  pid: number
  /** What the server printed so far. */
  output(): string
  stop(): Promise<void>
}

/** Starts the server on a free port of 127.0.0.1 in a process group of its own; resolves once it
 * listens. */
export async function startServer(tools: Tools, p: Profile): Promise<Server> {
  const args = [
    ...serverArgs(tools, p),
    '--auth', 'none',
    '--bind-addr', '127.0.0.1:0',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--reconnection-grace-time', '5',
  ]
  const child = spawn(tools.node, args, { env: serverEnv(p), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const pid = child.pid!
  const server: Server = { url: '', pid, output: () => out, stop: () => stopTree(pid) }
  try {
    const port = await waitFor('code-server to listen', () => {
      if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${out}`)
      return /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]
    })
    server.url = `http://127.0.0.1:${port}`
  } catch (err) {
    await server.stop()
    throw err
  }
  return server
}

/** One extension host the server started (one per window): its pid and log folder. */
export interface ExtensionHost {
  pid: number
  /** `logs/<session>/exthost<n>`: remoteexthost.log and the output channels' logs. */
  logs: string
}

/** The extension hosts the server started so far, from their logs. */
export function extensionHosts(p: Profile): ExtensionHost[] {
  const root = join(p.userData, 'logs')
  if (!existsSync(root)) return []
  const hosts: ExtensionHost[] = []
  for (const session of readdirSync(root)) {
    for (const dir of readdirSync(join(root, session))) {
      const log = join(root, session, dir, 'remoteexthost.log')
      if (!/^exthost\d+$/.test(dir) || !existsSync(log)) continue
      const pid = /Extension host with pid (\d+) started/.exec(readFileSync(log, 'utf8'))?.[1]
      if (pid !== undefined) hosts.push({ pid: Number(pid), logs: join(root, session, dir) })
    }
  }
  return hosts
}

/** The log of the output channel `name` of an extension host, or '' before it is written. */
export function outputChannel(host: ExtensionHost, name: string): string {
  for (const dir of readdirSync(host.logs).filter((d) => d.startsWith('output_logging_'))) {
    const file = readdirSync(join(host.logs, dir)).find((f) => f.replace(/^\d+-/, '') === `${name}.log`)
    if (file !== undefined) return readFileSync(join(host.logs, dir, file), 'utf8')
  }
  return ''
}

/** The host's own log (activation events, start and exit). */
export function hostLog(host: ExtensionHost): string {
  return readFileSync(join(host.logs, 'remoteexthost.log'), 'utf8')
}

/** The native modules (`.node` files) mapped into process `pid`. */
export function nativeModules(pid: number): string[] {
  const files = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .map((line) => line.split(/\s+/).slice(5).join(' '))
    .filter((f) => f.endsWith('.node'))
  return [...new Set(files)].sort()
}
