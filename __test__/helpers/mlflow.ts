// A real MLflow tracking server for the sync tests: found through STOWAGE_MLFLOW (what .ci/run
// exports), the venv .ci/run caches, or `mlflow` on the PATH; started on a free loopback port
// with a SQLite backend and proxied artifacts in a folder of the test's (no job runner, and a
// long worker health check, so that a loaded machine does not get its workers restarted);
// stopped with its worker processes (its own process group). And the REST calls the tests read
// MLflow back with.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** The MLflow version .ci/run installs (its venv folder is named after it). */
export const MLFLOW_VERSION = '3.17.2'

/** What to run as `mlflow`: `{ bin }`, or `{ bin: null, why }` when there is none. */
export function findMlflow(): { bin: string | null; why: string; required: boolean } {
  const named = process.env.STOWAGE_MLFLOW
  if (named) return { bin: named, why: `STOWAGE_MLFLOW=${named}`, required: true }
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'stowage-ci', `mlflow-${MLFLOW_VERSION}`)
  if (existsSync(join(cache, '.installed'))) return { bin: join(cache, 'bin', 'mlflow'), why: `the venv .ci/run made (${cache})`, required: false }
  const which = spawnSync('sh', ['-c', 'command -v mlflow'], { encoding: 'utf8' })
  if (which.status === 0 && which.stdout.trim()) return { bin: which.stdout.trim(), why: 'mlflow on the PATH', required: false }
  return { bin: null, why: 'no MLflow here: set STOWAGE_MLFLOW to an mlflow binary, or run .ci/run, which installs one', required: false }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export class MlflowServer {
  proc: ChildProcess | null = null
  readonly url: string

  constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`
    mkdirSync(join(dir, 'artifacts'), { recursive: true })
  }

  /** Starts the server and waits until it answers (a cold start takes tens of seconds). */
  async start(timeoutMs = 240_000): Promise<void> {
    const log = join(this.dir, 'server.log')
    const out = openSync(log, 'a')
    const args = ['server', '--backend-store-uri', `sqlite:///${join(this.dir, 'mlflow.db')}`, '--artifacts-destination', join(this.dir, 'artifacts'), '--host', '127.0.0.1', '--port', String(this.port), '--workers', '2', '--uvicorn-opts', '--timeout-worker-healthcheck 120']
    const proc = spawn(this.bin, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, MLFLOW_TRACKING_URI: '', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' } })
    this.proc = proc
    let exited: string | null = null
    proc.on('exit', (code, signal) => (exited = `exited with ${signal ?? code}`))
    proc.on('error', (err) => (exited = `could not start: ${err.message}`))
    const until = Date.now() + timeoutMs
    for (;;) {
      if (exited !== null) throw new Error(`mlflow server ${exited}:\n${readFileSync(log, 'utf8').slice(-3000)}`)
      try {
        const res = await fetch(`${this.url}/health`)
        if (res.ok) return
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`mlflow server did not answer in ${timeoutMs} ms:\n${readFileSync(log, 'utf8').slice(-3000)}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  /** Stops the server and every process of its group: SIGTERM, then SIGKILL (at once when
   * `abrupt`). Resolves when none is left. */
  async stop(abrupt = false): Promise<void> {
    const proc = this.proc
    if (proc === null || proc.pid === undefined) return
    this.proc = null
    const group = -proc.pid
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(group, s)
        return true
      } catch {
        return false
      }
    }
    if (!signal(abrupt ? 'SIGKILL' : 'SIGTERM')) return
    const until = Date.now() + 15_000
    while (signal(0)) {
      if (Date.now() > until) signal('SIGKILL')
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** A REST call to MLflow's tracking API; throws on an error answer. A connection the server
 * closed under the call (a kept-alive socket it timed out) is tried again: the tests' calls are
 * reads, or writes that are the same when repeated. */
export async function api(base: string, method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<any> {
  const url = method === 'GET' ? `${base}/api/2.0/mlflow/${path}?${new URLSearchParams(body as Record<string, string>)}` : `${base}/api/2.0/mlflow/${path}`
  for (let attempt = 1; ; attempt++) {
    let res: Response
    let text: string
    try {
      res = await fetch(url, method === 'GET' ? {} : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      text = await res.text()
    } catch (err) {
      if (attempt < 3) continue
      throw err
    }
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : {}
  }
}

export type Point = { step: number; timestamp: number; value: number }

/** Every point of a metric of a run (`metrics/get-history`, all pages), sorted. */
export async function history(base: string, runId: string, key: string): Promise<Point[]> {
  const out: Point[] = []
  let token: string | undefined
  do {
    const page = await api(base, 'GET', 'metrics/get-history', { run_id: runId, metric_key: key, max_results: '25000', ...(token ? { page_token: token } : {}) })
    for (const m of page.metrics || []) out.push({ step: Number(m.step), timestamp: Number(m.timestamp), value: m.value })
    token = page.next_page_token
  } while (token)
  return sortPoints(out)
}

export function sortPoints(points: Point[]): Point[] {
  return points.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp || a.value - b.value)
}

/** The runs of an experiment (`runs/search`), by `stowage.run_id` tag. */
export async function runsOf(base: string, experimentId: string): Promise<Map<string, any>> {
  const found = await api(base, 'POST', 'runs/search', { experiment_ids: [experimentId], max_results: 1000, run_view_type: 'ALL' })
  const out = new Map<string, any>()
  for (const r of found.runs || []) {
    const tags = Object.fromEntries((r.data.tags || []).map((t: { key: string; value: string }) => [t.key, t.value]))
    out.set(tags['stowage.run_id'], { ...r, tags })
  }
  return out
}

/** The artifact paths of a run, recursively. */
export async function artifacts(base: string, runId: string, path = ''): Promise<string[]> {
  const page = await api(base, 'GET', 'artifacts/list', { run_id: runId, ...(path ? { path } : {}) })
  const out: string[] = []
  for (const f of page.files || []) out.push(...(f.is_dir ? await artifacts(base, runId, f.path) : [f.path]))
  return out.sort()
}

/** The bytes of an artifact, through the proxied artifact API. */
export async function download(base: string, artifactUri: string, path: string): Promise<Buffer> {
  const root = artifactUri.replace(/^mlflow-artifacts:/, '')
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts${root}/${path}`)
      if (!res.ok) throw new Error(`download ${path}: ${res.status}`)
      return Buffer.from(await res.arrayBuffer())
    } catch (err) {
      if (attempt >= 3 || /^download/.test((err as Error).message)) throw err
    }
  }
}
