// syncToMlflow / startMlflowSync (docs/mlflow.md). The first part runs everywhere, against a
// stand-in server on loopback: arguments, credentials, retries and error codes. The second part
// runs against a real MLflow tracking server (helpers/mlflow.ts starts one; .ci/run installs
// MLflow and sets STOWAGE_MLFLOW) and reads everything back through MLflow's REST API; without
// MLflow on the machine it is skipped, saying so, and with STOWAGE_MLFLOW set it must run.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, artifacts, download, findMlflow, freePort, history, MLFLOW_VERSION, MlflowServer, runsOf, sortPoints, type Point } from './helpers/mlflow'
import { sqlQuery } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'

const stowage = require('..') as typeof import('..')
const entry = join(__dirname, '..', 'index.js')
const METRICS = ['epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm', 'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util']

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; status?: number; mlflowCode?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a rejection')
}

/** A store with one run and `steps` rows of four metrics, written as columns. */
function bigStore(file: string, run: string, steps: number) {
  const store = stowage.openStore(file)
  const step = Float64Array.from({ length: steps }, (_, i) => i)
  const col = (f: (i: number) => number) => Float64Array.from({ length: steps }, (_, i) => f(i))
  store.training.insertRun(run, 'p', run, [])
  store.training.insertMetricColumns(run, { step, loss: col((i) => 2 / (1 + i)), val_loss: col((i) => 1 + Math.sin(i)), lr: col((i) => 1e-3 * 0.999 ** i), grad_norm: col((i) => (i % 97) / 7) })
  return store
}

/** The points of `metric` of `run` in the store, read with Python's sqlite3 (not through stowage). */
function storedPoints(file: string, run: string, column: string, table = 'metrics'): Point[] {
  const rows = sqlQuery<{ step: number; ts: number; v: number }>(file, `SELECT step, ts, ${column} AS v FROM ${table} WHERE run_id = '${run}' AND ${column} IS NOT NULL`)
  return sortPoints(rows.map((r) => ({ step: r.step, timestamp: r.ts, value: r.v })))
}

// ---- without MLflow: a stand-in server ----------------------------------------------------------

type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: string }

/**
 * A loopback HTTP server answering MLflow's endpoints with `answer`; records what it got and
 * counts the connections it accepted.
 */
async function standIn(answer: (req: Seen, n: number) => [number, unknown, Record<string, string>?]) {
  const seen: Seen[] = []
  let connections = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body }
      seen.push(s)
      const [status, json, headers] = answer(s, seen.length)
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(json))
    })
  })
  server.on('connection', () => connections++)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  afterAll(() => new Promise<void>((r) => server.close(() => r())))
  return { url, seen, connections: () => connections }
}

/** The answers of a server where everything works, for a store of runs without rows. */
function mlflowLike(s: Seen): [number, unknown] {
  if (s.url.startsWith('/api/2.0/mlflow/experiments/get-by-name')) return [200, { experiment: { experiment_id: '7', lifecycle_stage: 'active' } }]
  if (s.url === '/api/2.0/mlflow/runs/create') return [200, { run: { info: { run_id: `mr-${JSON.parse(s.body).run_name}`, artifact_uri: 'mlflow-artifacts:/7/x/artifacts' } } }]
  return [200, {}]
}

describe('syncToMlflow without a server', () => {
  const dir = tempDir()
  const store = stowage.openStore(join(dir, 'runs.sqlite'))
  store.training.insertRun('r', 'p', 'r', [])

  it('checks its arguments before sending anything', async () => {
    const uri = 'http://127.0.0.1:9'
    const cases: Array<[unknown, unknown, string, string]> = [
      [store, null, 'TypeError', 'options'],
      [store, { trackingUri: 5, experiment: 'e' }, 'TypeError', 'options.trackingUri'],
      [store, { trackingUri: uri }, 'TypeError', 'options.experiment'],
      [store, { trackingUri: uri, experiment: 'e', runs: 'r' }, 'TypeError', 'options.runs'],
      [store, { trackingUri: uri, experiment: 'e', runs: [1] }, 'TypeError', 'options.runs[0]'],
      [store, { trackingUri: uri, experiment: 'e', onProgress: 1 }, 'TypeError', 'options.onProgress'],
      [store, { trackingUri: uri, experiment: 'e', artifacts: 'yes' }, 'TypeError', 'options.artifacts'],
      [store, { trackingUri: uri, experiment: 'e', token: 1 }, 'TypeError', 'options.token'],
      [store, { trackingUri: uri, experiment: 'e', concurrency: 0 }, 'RangeError', 'options.concurrency'],
      [{}, { trackingUri: uri, experiment: 'e' }, 'TypeError', 'store'],
    ]
    for (const [s, o, kind, arg] of cases) {
      const err = await rejection(stowage.syncToMlflow(s as never, o as never))
      expect(err.constructor.name, arg).toBe(kind)
      expect(err.code).toBe(kind === 'TypeError' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE')
      expect(err.message).toContain(`syncToMlflow: ${arg}`)
    }
    for (const trackingUri of ['not a url', 'file:///tmp/mlruns']) {
      expect((await rejection(stowage.syncToMlflow(store, { trackingUri, experiment: 'e' }))).code).toBe('ERR_INVALID_ARG')
    }
    expect((await rejection(stowage.syncToMlflow(store, { trackingUri: uri, experiment: 'e', runs: ['nope'] }))).code).toBe('ERR_INVALID_ARG')
    expect((await rejection(stowage.syncToMlflow(null, { trackingUri: uri, experiment: 'e' }))).code).toBe('ERR_NOT_READY')
    expect(() => stowage.startMlflowSync(store, { trackingUri: uri, experiment: 'e', intervalMs: 'often' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.intervalMs') }))
    expect(() => stowage.startMlflowSync(store, null as never)).toThrow(TypeError)
  })

  it('sends MLFLOW_TRACKING_TOKEN as a bearer token and username/password as basic auth', async () => {
    const { url, seen } = await standIn((s) => mlflowLike(s))
    const saved = { ...process.env }
    try {
      process.env.MLFLOW_TRACKING_TOKEN = 'env-token'
      await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'a' })
      expect(new Set(seen.map((s) => s.headers.authorization))).toEqual(new Set(['Bearer env-token']))
      seen.length = 0
      delete process.env.MLFLOW_TRACKING_TOKEN
      process.env.MLFLOW_TRACKING_USERNAME = 'ann'
      process.env.MLFLOW_TRACKING_PASSWORD = 'pw'
      await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'b' })
      expect(new Set(seen.map((s) => s.headers.authorization))).toEqual(new Set([`Basic ${Buffer.from('ann:pw').toString('base64')}`]))
      seen.length = 0
      await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'c', token: 'opt-token' })
      expect(new Set(seen.map((s) => s.headers.authorization))).toEqual(new Set(['Bearer opt-token']))
    } finally {
      process.env = saved
    }
  })

  it('keeps at most `concurrency` batches in flight, 2 unless told', async () => {
    // The server holds the log-batch answers until one more than `expected` is waiting, or
    // 300 ms have passed: a client that sends more than `expected` at once is seen doing so.
    const local = stowage.openStore(join(dir, 'inflight.sqlite'))
    local.training.insertRun('w', 'p', 'w', [])
    const steps = 2000 // 8 batches of 250 steps x 4 metrics
    const col = (f: (i: number) => number) => Float64Array.from({ length: steps }, (_, i) => f(i))
    local.training.insertMetricColumns('w', { step: col((i) => i), loss: col((i) => 1 / (i + 1)), val_loss: col((i) => i), lr: col(() => 0.1), grad_norm: col(() => 1) })
    const inFlight = async (expected: number, options: { concurrency?: number }) => {
      let pending: Array<() => void> = []
      let max = 0
      let batches = 0
      const server = createServer((req, res) => {
        let body = ''
        req.on('data', (c) => (body += c))
        req.on('end', () => {
          const [status, json] = mlflowLike({ method: req.method!, url: req.url!, headers: req.headers, body })
          const answer = () => {
            res.writeHead(status, { 'content-type': 'application/json' })
            res.end(JSON.stringify(json))
          }
          if (req.url !== '/api/2.0/mlflow/runs/log-batch' || !body.includes('"loss"')) return answer()
          batches++
          pending.push(answer)
          max = Math.max(max, pending.length)
          const release = () => {
            const all = pending
            pending = []
            for (const a of all) a()
          }
          if (pending.length > expected) release()
          else setTimeout(() => pending.includes(answer) && release(), 300)
        })
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      try {
        const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
        const r = await stowage.syncToMlflow(local, { trackingUri: url, experiment: `c${expected}`, ...options })
        expect(r.points).toBeGreaterThanOrEqual(steps * 4)
        return { max, batches }
      } finally {
        await new Promise<void>((r) => server.close(() => r()))
      }
    }
    expect(await inFlight(2, {})).toEqual({ max: 2, batches: 8 })
    expect(await inFlight(4, { concurrency: 4 })).toEqual({ max: 4, batches: 8 })
    expect(await inFlight(1, { concurrency: 1 })).toEqual({ max: 1, batches: 8 })
    local.close()
  }, 60_000)

  it('asks for a fresh connection every eighth request', async () => {
    const local = stowage.openStore(join(dir, 'reconnect.sqlite'))
    local.training.insertRun('k', 'p', 'k', [])
    const steps = 5000 // 20 batches of 250 steps x 4 metrics
    const col = (f: (i: number) => number) => Float64Array.from({ length: steps }, (_, i) => f(i))
    local.training.insertMetricColumns('k', { step: col((i) => i), loss: col((i) => 1 / (i + 1)), val_loss: col((i) => i), lr: col(() => 0.1), grad_norm: col(() => 1) })
    const { url, seen, connections } = await standIn((s) => mlflowLike(s))
    const r = await stowage.syncToMlflow(local, { trackingUri: url, experiment: 'k' })
    local.close()
    expect(r.points).toBe(steps * 4)
    expect(seen.length).toBe(r.requests)
    expect(seen.length).toBeGreaterThanOrEqual(24)
    const closing = seen.flatMap((s, i) => (s.headers.connection === 'close' ? [i + 1] : []))
    expect(closing).toEqual(Array.from({ length: Math.floor(seen.length / 8) }, (_, i) => 8 * (i + 1)))
    expect(connections()).toBeGreaterThanOrEqual(closing.length)
  })

  it('creates the experiment and one run per training run, then has nothing to send', async () => {
    const { url, seen } = await standIn((s) => {
      if (s.url.startsWith('/api/2.0/mlflow/experiments/get-by-name') && seen.filter((x) => x.url.includes('get-by-name')).length === 1) {
        return [404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no such experiment' }]
      }
      if (s.url === '/api/2.0/mlflow/experiments/create') return [200, { experiment_id: '7' }]
      return mlflowLike(s)
    })
    const r = await stowage.syncToMlflow(store, { trackingUri: `${url}/`, experiment: 'made' })
    expect(r.experimentId).toBe('7')
    expect(r.runs.map((x) => [x.runId, x.mlflowRunId])).toEqual([['r', 'mr-r']])
    const calls = seen.map((s) => `${s.method} ${s.url.split('?')[0]}`)
    expect(calls).toEqual([
      'GET /api/2.0/mlflow/experiments/get-by-name',
      'POST /api/2.0/mlflow/experiments/create',
      'POST /api/2.0/mlflow/runs/search',
      'POST /api/2.0/mlflow/runs/create',
      'POST /api/2.0/mlflow/runs/update',
    ])
    const create = JSON.parse(seen[3].body)
    expect(create).toMatchObject({ experiment_id: '7', run_name: 'r' })
    expect(Object.fromEntries(create.tags.map((t: { key: string; value: string }) => [t.key, t.value]))).toMatchObject({ 'stowage.run_id': 'r', 'stowage.project': 'p', 'stowage.parents': '[]' })
    expect(JSON.parse(seen[4].body)).toEqual({ run_id: 'mr-r', status: 'FINISHED' })
    seen.length = 0
    const again = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'made' })
    expect([again.requests, again.points, again.runs.length, seen.length]).toEqual([0, 0, 0, 0])
  })

  it('retries 429 and 5xx answers, then succeeds', async () => {
    const { url, seen } = await standIn((s, n) => {
      if (n === 1) return [503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' }]
      if (n === 2) return [429, { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'slow down' }, { 'retry-after': '0' }]
      return mlflowLike(s)
    })
    const r = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'e', retryDelayMs: 1 })
    expect(r.retries).toBe(2)
    expect(seen.slice(0, 3).map((s) => s.url.split('?')[0])).toEqual(Array(3).fill('/api/2.0/mlflow/experiments/get-by-name'))
  })

  it("fails with a coded error carrying the server's message, never the credentials", async () => {
    const token = 'secret-token-1f2e3d'
    const auth = await standIn(() => [401, { error_code: 'UNAUTHENTICATED', message: 'bad credentials for token secret-token-1f2e3d' }])
    const e1 = await rejection(stowage.syncToMlflow(store, { trackingUri: auth.url, experiment: 'e', token }))
    expect([e1.code, e1.status, e1.mlflowCode]).toEqual(['ERR_MLFLOW_AUTH', 401, 'UNAUTHENTICATED'])
    expect(e1.message).toContain('bad credentials')
    expect(`${e1.message} ${e1.stack} ${JSON.stringify(e1)}`).not.toContain(token)
    const bad = await standIn(() => [400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'experiment name is weird' }])
    const e2 = await rejection(stowage.syncToMlflow(store, { trackingUri: bad.url, experiment: 'e' }))
    expect([e2.code, e2.mlflowCode]).toEqual(['ERR_MLFLOW_REQUEST', 'INVALID_PARAMETER_VALUE'])
    expect(e2.message).toContain('experiment name is weird')
    const down = await standIn(() => [500, { error_code: 'INTERNAL_ERROR', message: 'it broke' }])
    const e3 = await rejection(stowage.syncToMlflow(store, { trackingUri: down.url, experiment: 'e', retries: 1, retryDelayMs: 1 }))
    expect([e3.code, e3.status]).toEqual(['ERR_MLFLOW_SERVER', 500])
    expect(down.seen.length).toBe(2)
    const port = await freePort()
    const e4 = await rejection(stowage.syncToMlflow(store, { trackingUri: `http://u:${token}@127.0.0.1:${port}`, experiment: 'e', retries: 1, retryDelayMs: 1 }))
    expect(e4.code).toBe('ERR_MLFLOW_UNREACHABLE')
    expect(`${e4.message} ${e4.stack}`).not.toContain(token)
  })
})

// ---- against a real MLflow server ---------------------------------------------------------------

const found = findMlflow()

if (found.bin === null) {
  it.skip(`syncToMlflow against a real MLflow server: skipped, ${found.why}`, () => {})
}

describe.skipIf(found.bin === null)(`syncToMlflow against MLflow ${MLFLOW_VERSION} (${found.why})`, () => {
  const dir = tempDir('stowage-mlflow-')
  let server: MlflowServer
  let url: string

  beforeAll(async () => {
    if (found.required) expect(existsSync(found.bin!), `STOWAGE_MLFLOW=${found.bin} does not exist`).toBe(true)
    server = new MlflowServer(found.bin!, join(dir, 'server'), await freePort())
    url = server.url
    await server.start()
  }, 300_000)
  afterAll(() => server && server.stop(), 60_000)

  // The demo's session (a base run, a fork, a merge, logs, test metrics, a report, checkpoints and
  // a final model), written by examples/demo.js.
  const demo = join(dir, 'demo')
  const demoDb = join(demo, 'globalStorage', 'runs.sqlite')
  let first: Awaited<ReturnType<typeof stowage.syncToMlflow>>

  it("pushes the demo's runs: every value, step and timestamp, lineage, logs, report and files", async () => {
    await new Promise<void>((resolve, reject) => {
      const p = spawn(process.execPath, [join(__dirname, '..', 'examples', 'demo.js'), '--dir', demo, '--steps', '400'], { stdio: 'ignore' })
      p.on('error', reject)
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`demo exited with ${code}`))))
    })
    const store = stowage.openStore(demoDb)
    const t = store.training
    const events: string[] = []
    first = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'demo', artifacts: true, onProgress: (e) => events.push(e.phase) })
    expect(first.runs.map((r) => [r.runId, r.status])).toEqual([['base', 'pushed'], ['fork1', 'pushed'], ['merge1', 'pushed']])
    expect(events).toContain('metrics')
    expect(events.at(-1)).toBe('done')
    const runs = await runsOf(url, first.experimentId!)
    expect([...runs.keys()].sort()).toEqual(['base', 'fork1', 'merge1'])
    const id = (r: string) => runs.get(r).info.run_id
    for (const r of first.runs) expect(r.mlflowRunId).toBe(id(r.runId))
    // lineage
    expect(runs.get('base').tags).toMatchObject({ 'stowage.project': 'mnist-demo', 'stowage.parents': '[]', 'mlflow.runName': 'base' })
    expect(runs.get('base').tags['mlflow.parentRunId']).toBeUndefined()
    expect(runs.get('fork1').tags).toMatchObject({ 'mlflow.parentRunId': id('base'), 'stowage.parents': '["base"]' })
    expect(runs.get('merge1').tags).toMatchObject({ 'mlflow.parentRunId': id('fork1'), 'stowage.parents': '["fork1","base"]' })
    expect(runs.get('merge1').info.status).toBe('FINISHED')
    // every metric point, as stored (NULLs not sent)
    let points = 0
    for (const run of ['base', 'fork1', 'merge1']) {
      for (const m of METRICS) {
        const want = storedPoints(demoDb, run, m)
        expect(await history(url, id(run), m), `${run} ${m}`).toEqual(want)
        points += want.length
      }
    }
    expect(storedPoints(demoDb, 'base', 'val_loss').length).toBeLessThan(storedPoints(demoDb, 'base', 'loss').length)
    const tests = storedPoints(demoDb, 'merge1', 'loss', 'test_metrics')
    expect(tests.length).toBe(20)
    expect(await history(url, id('merge1'), 'test_loss')).toEqual(tests)
    // summaries as final metrics
    for (const run of ['base', 'fork1', 'merge1']) {
      const s = t.getRunSummary(run)[0]
      const got = await history(url, id(run), 'final_val_loss')
      expect(got.map((p) => p.value)).toEqual(s ? [s.val_loss] : [])
      points += got.length
    }
    expect(first.points).toBe(points + tests.length)
    // artifacts
    for (const r of first.runs) expect(await artifacts(url, r.mlflowRunId!)).toEqual([...r.artifacts].sort())
    const merge = first.runs[2]
    expect(merge.artifacts.filter((a) => a.startsWith('final_models/'))).toHaveLength(1)
    expect(merge.artifacts).toContain('report_loss_dist.json')
    const uri = runs.get('merge1').info.artifact_uri
    const report = JSON.parse((await download(url, uri, 'report_loss_dist.json')).toString())
    expect(report).toEqual({ train: t.getReportLossDist('merge1', 'train') })
    const lines = (await download(url, uri, 'logs.txt')).toString().trimEnd().split('\n')
    const logs = t.getLogs('merge1')
    expect(lines).toHaveLength(logs.length)
    lines.forEach((line, i) => expect(line.endsWith(`: ${logs[i].text}`)).toBe(true))
    const ckpts = sqlQuery<{ ckpt_id: string; path: string }>(demoDb, "SELECT ckpt_id, path FROM checkpoints WHERE run_id = 'merge1'")
    expect(merge.artifacts.filter((a) => a.startsWith('checkpoints/'))).toHaveLength(ckpts.length)
    for (const c of ckpts) {
      const name = merge.artifacts.find((a) => a.startsWith(`checkpoints/${c.ckpt_id.replace(/[^A-Za-z0-9._-]+/g, '_')}`))!
      expect((await download(url, uri, name)).equals(readFileSync(c.path)), name).toBe(true)
    }
    store.close()
  }, 300_000)

  it('sends nothing the second time, then only the rows written since', async () => {
    const store = stowage.openStore(demoDb)
    const again = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'demo', artifacts: true })
    expect([again.points, again.batches, again.artifacts, again.requests, again.runs]).toEqual([0, 0, 0, 0, []])
    store.training.insertMetricBatch(Array.from({ length: 30 }, (_, i) => ({ run_id: 'fork1', step: 5000 + i, loss: 0.1 + i / 1000, val_loss: null, lr: 1e-4 })))
    store.training.insertLog({ run_id: 'fork1', text: 'resumed', phase: 'train' })
    const more = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'demo', artifacts: true })
    expect(more.runs.map((r) => [r.runId, r.points, r.artifacts])).toEqual([['fork1', 60, ['logs.txt']]])
    const fork = first.runs[1].mlflowRunId!
    expect(await history(url, fork, 'loss')).toEqual(storedPoints(demoDb, 'fork1', 'loss'))
    expect(await history(url, fork, 'lr')).toEqual(storedPoints(demoDb, 'fork1', 'lr'))
    store.close()
  }, 120_000)

  it('reports a run deleted on the server instead of recreating it, unless asked to', async () => {
    const store = stowage.openStore(demoDb)
    const fork = first.runs[1].mlflowRunId!
    await api(url, 'POST', 'runs/delete', { run_id: fork })
    store.training.insertMetric('fork1', { step: 9000, loss: 0.01, val_loss: null })
    const r = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'demo' })
    expect(r.deleted).toEqual(['fork1'])
    expect(r.runs).toEqual([expect.objectContaining({ runId: 'fork1', status: 'deleted', mlflowRunId: fork, points: 0 })])
    const all = await api(url, 'POST', 'runs/search', { experiment_ids: [first.experimentId], run_view_type: 'ALL', filter: "tags.`stowage.run_id` = 'fork1'" })
    expect(all.runs).toHaveLength(1)
    expect((await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'demo' })).deleted).toEqual(['fork1'])
    const re = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'demo', recreateDeleted: true })
    expect(re.deleted).toEqual([])
    const fresh = re.runs[0].mlflowRunId!
    expect(fresh).not.toBe(fork)
    expect(await history(url, fresh, 'loss')).toEqual(storedPoints(demoDb, 'fork1', 'loss'))
    store.close()
  }, 120_000)

  it('resumes a sync SIGKILLed mid-way without a duplicated point', async () => {
    const file = join(dir, 'killed.sqlite')
    const steps = 25_000
    bigStore(file, 'big', steps).close()
    const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'mlflow-sync-child.js'), entry, file, url, 'killed'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
    child.stderr.on('data', (d) => (err += d))
    child.stdout.on('data', (d) => {
      out += d
      // Batches are acknowledged out of order: the count of those acknowledged in a row jumps.
      if ([...out.matchAll(/^acked (\d+)$/gm)].some((m) => Number(m[1]) >= 10)) child.kill('SIGKILL')
    })
    expect(await exit, `${out}\n${err}`).toBe('SIGKILL')
    const store = stowage.openStore(file)
    const r = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'killed' })
    expect(r.runs.map((x) => x.runId)).toEqual(['big'])
    const runs = await runsOf(url, r.experimentId ?? (await api(url, 'GET', 'experiments/get-by-name', { experiment_name: 'killed' })).experiment.experiment_id)
    expect([...runs.keys()]).toEqual(['big'])
    for (const m of ['loss', 'val_loss', 'lr', 'grad_norm']) {
      const got = await history(url, r.runs[0].mlflowRunId!, m)
      expect(got.length, m).toBe(steps)
      expect(got).toEqual(storedPoints(file, 'big', m))
    }
    store.close()
  }, 300_000)

  it('pushes continuously while rows are written, and its timers keep no process alive', async () => {
    const file = join(dir, 'live.sqlite')
    const store = stowage.openStore(file)
    store.training.insertRun('live', 'p', 'live', [])
    const handle = stowage.startMlflowSync(store, { trackingUri: url, experiment: 'live', intervalMs: 50 })
    for (let k = 0; k < 5; k++) {
      store.training.insertMetricColumns('live', { step: Float64Array.from({ length: 500 }, (_, i) => k * 500 + i), loss: Float64Array.from({ length: 500 }, (_, i) => 1 / (1 + k * 500 + i)) })
      await new Promise((r) => setTimeout(r, 100))
    }
    const until = Date.now() + 120_000
    let got: Point[] = []
    while (Date.now() < until) {
      if (handle.lastPushAt !== null && handle.pending === 0) {
        const id = handle.lastResult?.runs[0]?.mlflowRunId ?? (await api(url, 'POST', 'runs/search', { experiment_ids: [(await api(url, 'GET', 'experiments/get-by-name', { experiment_name: 'live' })).experiment.experiment_id] })).runs[0].info.run_id
        got = await history(url, id, 'loss')
        if (got.length === 2500) break
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(handle.lastError).toBe(null)
    expect(got).toEqual(storedPoints(file, 'live', 'loss'))
    const last = await handle.stop({ finish: true })
    expect(last!.runs[0].status).toBe('pushed')
    const run = await api(url, 'GET', 'runs/get', { run_id: last!.runs[0].mlflowRunId! })
    expect(run.run.info.status).toBe('FINISHED')
    expect(handle.running).toBe(false)
    store.close()

    const script = `const s = require(${JSON.stringify(entry)}); const store = s.openStore(${JSON.stringify(join(dir, 'live2.sqlite'))});
      store.training.insertRun('x', 'p', 'x', []); s.startMlflowSync(store, { trackingUri: ${JSON.stringify(url)}, experiment: 'live2', intervalMs: 20 });
      setTimeout(() => {}, 1000)`
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' })
    expect(await new Promise((resolve) => child.on('exit', (code) => resolve(code)))).toBe(0)
  }, 300_000)

  it('fails with ERR_MLFLOW_UNREACHABLE when the server stops mid-sync, and a later sync completes', async () => {
    const file = join(dir, 'outage.sqlite')
    const steps = 25_000
    const store = bigStore(file, 'outage', steps)
    const token = 'tok-5ecret-9a8b'
    let killed: Promise<void> | null = null
    const err = await rejection(
      stowage.syncToMlflow(store, {
        trackingUri: url,
        experiment: 'outage',
        token,
        retries: 2,
        retryDelayMs: 100,
        onProgress: (e) => {
          if (e.phase === 'metrics' && e.batches! >= 5 && killed === null) killed = server.stop(true)
        },
      }),
    )
    await killed
    expect(err.code).toBe('ERR_MLFLOW_UNREACHABLE')
    expect(err.message).toContain(url)
    expect(`${err.message} ${err.stack}`).not.toContain(token)
    await server.start()
    const r = await stowage.syncToMlflow(store, { trackingUri: url, experiment: 'outage', token })
    expect(r.runs.map((x) => x.runId)).toEqual(['outage'])
    for (const m of ['loss', 'val_loss', 'lr', 'grad_norm']) {
      const got = await history(url, r.runs[0].mlflowRunId!, m)
      expect(got.length, m).toBe(steps)
      expect(got).toEqual(storedPoints(file, 'outage', m))
    }
    store.close()
  }, 400_000)
})
