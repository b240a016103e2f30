'use strict'
// Sync of the training store to an MLflow tracking server over its REST API (2.0 paths):
// `syncToMlflow` pushes what was written since the last sync, `startMlflowSync` does it every
// `intervalMs`. See docs/mlflow.md for what maps to what.
//
// What makes it incremental and safe to kill: the store's `mlflow_sync` table (migration 0003)
// records per server, experiment and training run the MLflow run and a watermark per table.
// A watermark moves only after MLflow acknowledged every batch up to it, so a killed sync
// re-sends at most the batches that were in flight; those are byte-for-byte the same points
// (key, value, step, timestamp), which MLflow's tracking store keeps once (its metrics primary
// key). An MLflow run is created with a random tag recorded beforehand, so a sync killed between
// runs/create and recording the run's id finds it instead of creating a second one. Summary
// points carry the timestamp recorded before they were first sent, so a re-send is the same
// point too. Files (logs.txt, the report, checkpoints) are PUT, which replaces.

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const path = require('node:path')
const { Readable } = require('node:stream')

/** MLflow's limits for one runs/log-batch (mlflow/utils/validation.py). */
const MAX_METRICS = 1000
const MAX_TAGS = 100
/** Rows read from the store at a time: a few batches' worth, so memory stays flat. */
const PAGE_ROWS = 4096
const LOG_PAGE = 2000
/** The columns of `metrics` pushed as MLflow metrics (all but `step`), and test losses' key. */
const METRICS = ['epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm', 'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util']
const TEST_KEY = 'test_loss'
/** MLflow's largest tag value. */
const MAX_TAG_VALUE = 8000
const API = '/api/2.0/mlflow'
const ARTIFACTS_API = '/api/2.0/mlflow-artifacts/artifacts'
/** Connection failures worth a retry. */
/**
 * Every this many requests, one asks the server to close its connection. Keep-alive sockets
 * otherwise live for the whole sync, and a server whose workers share one listening socket
 * (MLflow's uvicorn, gunicorn) can get all of them on one worker: a fresh connection is
 * accepted by whichever worker is free.
 */
const RECONNECT_EVERY = 8
const RETRY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'UND_ERR_SOCKET', 'ECONNABORTED', 'ERR_MLFLOW_TIMEOUT'])

function coded(Ctor, code, message, extra) {
  const err = new Ctor(message)
  err.code = code
  if (extra) Object.assign(err, extra)
  return err
}

function typeError(func, arg, expected, v) {
  const received = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v
  return coded(TypeError, 'ERR_INVALID_ARG_TYPE', `${func}: ${arg} must be ${expected}; received ${received}`)
}

// ---- options ---------------------------------------------------------------------------------

function optString(func, o, k, fallback) {
  const v = o[k]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'string') throw typeError(func, `options.${k}`, 'a string', v)
  return v
}

function optInt(func, o, k, fallback, min, max) {
  const v = o[k]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'number') throw typeError(func, `options.${k}`, 'a number', v)
  if (!Number.isInteger(v) || v < min || v > max) {
    throw coded(RangeError, 'ERR_OUT_OF_RANGE', `${func}: options.${k} must be an integer from ${min} to ${max}; received ${v}`)
  }
  return v
}

/**
 * The checked options of `syncToMlflow` / `startMlflowSync` (`extra`: more integer options, as
 * `[name, default, min, max]`, returned in `extra`). Every argument's type is checked (the
 * store's with `isStore`) before any value, so a wrong type is always the TypeError.
 */
function parseOptions(func, store, isStore, options, extra = []) {
  if (store !== undefined && store !== null && !isStore(store)) {
    throw typeError(func, 'store', 'a Store (openStore), its training member, or null for the default store', store)
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw typeError(func, 'options', 'an object', options)
  const env = process.env
  const uri = optString(func, options, 'trackingUri', env.MLFLOW_TRACKING_URI || undefined)
  if (uri === undefined) throw coded(TypeError, 'ERR_INVALID_ARG_TYPE', `${func}: options.trackingUri must be the server's URL (or set MLFLOW_TRACKING_URI)`)
  const experiment = optString(func, options, 'experiment', env.MLFLOW_EXPERIMENT_NAME || undefined)
  if (experiment === undefined) throw coded(TypeError, 'ERR_INVALID_ARG_TYPE', `${func}: options.experiment must be a string (or set MLFLOW_EXPERIMENT_NAME)`)
  let runs = null
  if (options.runs !== undefined && options.runs !== null) {
    if (!Array.isArray(options.runs)) throw typeError(func, 'options.runs', 'an array of run ids', options.runs)
    runs = options.runs.map((r, i) => {
      if (typeof r !== 'string') throw typeError(func, `options.runs[${i}]`, 'a string', r)
      return r
    })
  }
  const onProgress = options.onProgress
  if (onProgress !== undefined && onProgress !== null && typeof onProgress !== 'function') throw typeError(func, 'options.onProgress', 'a function', onProgress)
  for (const k of ['artifacts', 'recreateDeleted']) {
    if (options[k] !== undefined && options[k] !== null && typeof options[k] !== 'boolean') throw typeError(func, `options.${k}`, 'a boolean', options[k])
  }
  const token = optString(func, options, 'token', env.MLFLOW_TRACKING_TOKEN || undefined)
  const given = { username: optString(func, options, 'username'), password: optString(func, options, 'password') }
  const ints = {
    concurrency: optInt(func, options, 'concurrency', 2, 1, 64),
    retries: optInt(func, options, 'retries', 5, 0, 100),
    retryDelayMs: optInt(func, options, 'retryDelayMs', 500, 0, 600_000),
    timeoutMs: optInt(func, options, 'timeoutMs', 120_000, 1, 3_600_000),
  }
  const more = Object.fromEntries(extra.map(([k, fallback, min, max]) => [k, optInt(func, options, k, fallback, min, max)]))
  // Values, once every type is right.
  let url
  try {
    url = new URL(uri)
  } catch {
    throw coded(Error, 'ERR_INVALID_ARG', `${func}: options.trackingUri is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw coded(Error, 'ERR_INVALID_ARG', `${func}: options.trackingUri must be an http: or https: URL of a tracking server; received ${url.protocol}`)
  }
  if (experiment === '') throw coded(Error, 'ERR_INVALID_ARG', `${func}: options.experiment must not be empty`)
  // Credentials: options, then the URL's user info, then MLflow's environment variables.
  let username = given.username ?? (url.username ? decodeURIComponent(url.username) : env.MLFLOW_TRACKING_USERNAME || undefined)
  let password = given.password ?? (url.password ? decodeURIComponent(url.password) : env.MLFLOW_TRACKING_PASSWORD || undefined)
  if (username === undefined) password = undefined
  if (password === undefined) username = undefined
  url.username = ''
  url.password = ''
  url.search = ''
  url.hash = ''
  const base = url.href.replace(/\/+$/, '')
  return {
    base,
    url: new URL(base),
    experiment,
    runs,
    artifacts: options.artifacts === true,
    recreateDeleted: options.recreateDeleted === true,
    onProgress: onProgress || null,
    token: token || undefined,
    username,
    password,
    ...ints,
    extra: more,
  }
}

// ---- HTTP --------------------------------------------------------------------------------------

/** A client of one tracking server: keep-alive connections, retries, coded errors. */
class Client {
  constructor(opts) {
    this.opts = opts
    this.https = opts.url.protocol === 'https:'
    this.agent = new (this.https ? https : http).Agent({ keepAlive: true, maxSockets: opts.concurrency + 1 })
    this.prefix = opts.url.pathname.replace(/\/+$/, '')
    this.secrets = []
    this.headers = { accept: 'application/json' }
    if (opts.token) {
      this.headers.authorization = `Bearer ${opts.token}`
      this.secrets.push(opts.token)
    } else if (opts.username !== undefined) {
      const basic = Buffer.from(`${opts.username}:${opts.password}`).toString('base64')
      this.headers.authorization = `Basic ${basic}`
      this.secrets.push(basic, opts.password)
    }
    this.stats = { requests: 0, retries: 0 }
  }

  close() {
    this.agent.destroy()
  }

  /** `text` with every credential replaced, for messages that may echo a request. */
  scrub(text) {
    let out = String(text)
    for (const s of this.secrets) if (s) out = out.split(s).join('***')
    return out
  }

  /** One HTTP exchange: `{ status, headers, body }`; a connection failure rejects. */
  exchange(method, p, headers, body) {
    return new Promise((resolve, reject) => {
      const req = (this.https ? https : http).request(
        { protocol: this.opts.url.protocol, hostname: this.opts.url.hostname, port: this.opts.url.port, method, path: this.prefix + p, agent: this.agent, headers: { ...this.headers, ...headers } },
        (res) => {
          const chunks = []
          res.on('data', (c) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', reject)
        },
      )
      req.setTimeout(this.opts.timeoutMs, () => req.destroy(coded(Error, 'ERR_MLFLOW_TIMEOUT', `no answer in ${this.opts.timeoutMs} ms`)))
      req.on('error', reject)
      if (body === undefined) req.end()
      else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body)
      else {
        body.on('error', (err) => req.destroy(err))
        body.pipe(req)
      }
    })
  }

  /**
   * A request with retries on connection errors, 429 and 5xx (exponential backoff with jitter,
   * or the server's Retry-After). `body` is a string, or a function making a fresh stream for
   * each attempt. Resolves to the parsed JSON answer; `accept` lists MLflow error codes that
   * resolve to `{ error_code }` instead of rejecting.
   */
  async request(method, p, body, accept = []) {
    const { retries, retryDelayMs } = this.opts
    const headers = {}
    if (typeof body === 'string') {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(body)
    }
    for (let attempt = 0; ; attempt++) {
      let res
      let failure
      this.stats.requests++
      if (this.stats.requests % RECONNECT_EVERY === 0) headers.connection = 'close'
      else delete headers.connection
      try {
        const payload = typeof body === 'function' ? body() : body
        if (payload && payload.size !== undefined) headers['content-length'] = payload.size
        res = await this.exchange(method, p, headers, payload && payload.stream ? payload.stream : payload)
      } catch (err) {
        if (!RETRY_CODES.has(err.code) && !/socket hang up/.test(err.message)) throw this.failure(method, p, err, attempt)
        failure = err
      }
      if (res && res.status < 300) return parseJson(res.body, method, p)
      const retryable = failure !== undefined || res.status === 429 || res.status >= 500
      if (!retryable || attempt >= retries) {
        if (failure !== undefined) throw this.failure(method, p, failure, attempt)
        const answer = errorAnswer(res.body)
        if (answer.error_code && accept.includes(answer.error_code)) return answer
        throw this.httpError(method, p, res, answer)
      }
      this.stats.retries++
      const after = res && Number(res.headers['retry-after'])
      const backoff = Number.isFinite(after) && after >= 0 ? after * 1000 : Math.min(retryDelayMs * 2 ** attempt, 30_000) * (0.5 + Math.random() / 2)
      await new Promise((r) => setTimeout(r, backoff))
    }
  }

  failure(method, p, err, retried) {
    const timeout = err.code === 'ERR_MLFLOW_TIMEOUT'
    const code = timeout ? 'ERR_MLFLOW_TIMEOUT' : RETRY_CODES.has(err.code) || /socket hang up/.test(err.message) ? 'ERR_MLFLOW_UNREACHABLE' : 'ERR_MLFLOW_REQUEST'
    const what = timeout ? err.message : `${err.code || 'error'}: ${err.message}`
    const message = this.scrub(`MLflow at ${this.opts.base}: ${method} ${p} failed${retried ? ` after ${retried} retries` : ''} (${what})`)
    return coded(Error, code, message, { method, path: p, cause: err })
  }

  httpError(method, p, res, answer) {
    const s = res.status
    const code = s === 401 || s === 403 ? 'ERR_MLFLOW_AUTH' : s === 429 ? 'ERR_MLFLOW_RATE_LIMITED' : s >= 500 ? 'ERR_MLFLOW_SERVER' : s === 404 && !answer.error_code ? 'ERR_MLFLOW_NOT_FOUND' : 'ERR_MLFLOW_REQUEST'
    const said = answer.message || res.body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 500)
    const message = this.scrub(`MLflow at ${this.opts.base}: ${method} ${p}: HTTP ${s}${answer.error_code ? ` ${answer.error_code}` : ''}: ${said}`)
    return coded(Error, code, message, { status: s, mlflowCode: answer.error_code, method, path: p })
  }

  get(p, query, accept) {
    return this.request('GET', `${API}/${p}?${new URLSearchParams(query)}`, undefined, accept)
  }

  post(p, obj, accept) {
    return this.request('POST', `${API}/${p}`, typeof obj === 'string' ? obj : JSON.stringify(obj), accept)
  }
}

function parseJson(text, method, p) {
  if (text === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    throw coded(Error, 'ERR_MLFLOW_RESPONSE', `MLflow: ${method} ${p} answered with something that is not JSON: ${text.slice(0, 200)}`, { method, path: p })
  }
}

function errorAnswer(text) {
  try {
    const v = JSON.parse(text)
    return v && typeof v === 'object' ? v : {}
  } catch {
    return {}
  }
}

// ---- store access ------------------------------------------------------------------------------

/** The TrainingStore a `store` argument (already type-checked) names. */
function trainingOf(func, store, defaultTraining, native) {
  if (store === undefined || store === null) {
    const t = defaultTraining()
    if (t === null) throw coded(Error, 'ERR_NOT_READY', `${func}: the default store is not initialised; call initStorage(context) first or pass a store`)
    return t
  }
  return store instanceof native.Store ? store.training : store
}

/** Runs in parents-first order (each run after the parents it has among `runs`). */
function parentsFirst(runs) {
  const byId = new Map(runs.map((r) => [r.run_id, r]))
  const out = []
  const seen = new Set()
  const visit = (r) => {
    if (seen.has(r.run_id)) return
    seen.add(r.run_id)
    for (const p of r.parents) if (byId.has(p)) visit(byId.get(p))
    out.push(r)
  }
  for (const r of [...runs].reverse()) visit(r)
  return out
}

function freshState(runId) {
  const none = { rowid: 0, rows: 0, step: null, ts: null }
  return { runId, createToken: crypto.randomUUID(), mlflowRunId: null, metrics: { ...none }, tests: { ...none }, logsId: 0, pushed: '{}', deletedAt: null }
}

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex')

/** A file-system and URL safe artifact name for an id (with a hash of the id when changed). */
function safeName(id) {
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || '_'
  return safe === id ? id : `${safe}-${sha256(id).slice(0, 8)}`
}

/** A metric value as MLflow's JSON takes it (±Infinity as strings; NaN never comes: NULL). */
function num(v) {
  if (Number.isFinite(v)) return String(v)
  return v > 0 ? '"Infinity"' : '"-Infinity"'
}

/** The line of `logs.txt` for a log row. */
function logLine(r) {
  const ts = typeof r.ts === 'number' && Number.isFinite(r.ts) ? new Date(r.ts).toISOString() : '-'
  let head = `${ts} ${r.level ?? 'info'} ${r.phase ?? 'info'}`
  if (r.step !== null && r.step !== undefined) head += ` step=${r.step}`
  if (r.epoch !== null && r.epoch !== undefined) head += ` epoch=${r.epoch}`
  return `${head}: ${String(r.text ?? '').replace(/\r?\n/g, '\n  ')}\n`
}

/** The report_loss_dist.json artifact of a run, or null when it has no report. */
function reportJson(training, runId) {
  const out = {}
  for (const subset of ['train', 'val']) {
    const r = training.getReportLossDist(runId, subset)
    if (r !== null) out[subset] = r
  }
  return Object.keys(out).length ? JSON.stringify(out) : null
}

// ---- the sync -----------------------------------------------------------------------------------

/** One sync of `training` to the server of `opts` (see syncToMlflow). */
class Sync {
  constructor(native, training, opts, mode) {
    this.native = native
    this.training = training
    this.opts = opts
    this.mode = mode
    this.client = new Client(opts)
    this.result = {
      trackingUri: opts.base,
      experiment: opts.experiment,
      experimentId: null,
      runs: [],
      points: 0,
      batches: 0,
      artifacts: 0,
      requests: 0,
      retries: 0,
      pending: 0,
      deleted: [],
      missing: [],
      skippedRows: 0,
    }
  }

  progress(event) {
    if (this.opts.onProgress) this.opts.onProgress(event)
  }

  save(state) {
    this.native._mlflowSyncSave(this.training, this.opts.base, this.opts.experiment, state)
  }

  async run() {
    const { opts, training, native } = this
    try {
      const all = training.listRuns()
      if (opts.runs) {
        const known = new Set(all.map((r) => r.run_id))
        const unknown = opts.runs.filter((r) => !known.has(r))
        if (unknown.length) throw coded(Error, 'ERR_INVALID_ARG', `syncToMlflow: options.runs names runs the store does not have: ${unknown.join(', ')}`)
      }
      const wanted = opts.runs ? new Set(opts.runs) : null
      const runs = parentsFirst(all).filter((r) => wanted === null || wanted.has(r.run_id))
      this.states = new Map(native._mlflowSyncRuns(training, opts.base, opts.experiment).map((s) => [s.runId, s]))
      for (const run of runs) {
        const report = await this.syncRun(run)
        if (report !== null) this.result.runs.push(report)
      }
      this.progress({ phase: 'done', points: this.result.points })
      return this.result
    } finally {
      this.result.requests = this.client.stats.requests
      this.result.retries = this.client.stats.retries
      this.client.close()
    }
  }

  /** The experiment's id, created when missing (asked once per sync, when there is work). */
  async experimentId() {
    if (this.result.experimentId !== null) return this.result.experimentId
    const { client, opts } = this
    const name = opts.experiment
    let got = await client.get('experiments/get-by-name', { experiment_name: name }, ['RESOURCE_DOES_NOT_EXIST'])
    if (got.error_code) {
      const made = await client.post('experiments/create', { name }, ['RESOURCE_ALREADY_EXISTS'])
      got = made.error_code ? await client.get('experiments/get-by-name', { experiment_name: name }) : { experiment: { experiment_id: made.experiment_id, lifecycle_stage: 'active' } }
    }
    const exp = got.experiment
    if (exp.lifecycle_stage === 'deleted') {
      throw coded(Error, 'ERR_MLFLOW_EXPERIMENT_DELETED', `MLflow at ${opts.base}: the experiment '${name}' is deleted; restore it in MLflow or sync to another experiment`)
    }
    this.result.experimentId = exp.experiment_id
    this.progress({ phase: 'experiment', experimentId: exp.experiment_id })
    return exp.experiment_id
  }

  /** Pushes one run; its report for `result.runs`, or null when it had nothing to push. */
  async syncRun(run) {
    const { native, training, opts } = this
    const runId = run.run_id
    let state = this.states.get(runId)
    if (state && state.deletedAt !== null) {
      if (!opts.recreateDeleted) {
        this.result.deleted.push(runId)
        return { runId, mlflowRunId: state.mlflowRunId, status: 'deleted', points: 0, testPoints: 0, logLines: 0, artifacts: [] }
      }
      native._mlflowSyncForget(training, opts.base, opts.experiment, runId)
      state = undefined
    }
    if (state === undefined) {
      state = freshState(runId)
      this.states.set(runId, state)
    }
    const from = {}
    for (const table of ['metrics', 'tests']) {
      from[table] = native._mlflowResume(training, table, runId, state[table])
      if (from[table] !== null) continue
      if (opts.recreateDeleted && state.mlflowRunId !== null && (await this.ensureRun(run, state, {})) === null) {
        native._mlflowSyncForget(training, opts.base, opts.experiment, runId)
        return this.syncRun(run)
      }
      throw coded(Error, 'ERR_MLFLOW_STATE', `syncToMlflow: the ${table === 'metrics' ? 'metrics' : 'test metrics'} of run '${runId}' are no longer the rows pushed to ${opts.base} (replaced or deleted since); to push the run again as a new MLflow run, delete its MLflow run ${state.mlflowRunId} and sync with recreateDeleted: true`)
    }
    const pushed = JSON.parse(state.pushed)
    const work = this.plan(run, state, pushed, from)
    if (work === null) return null
    const mlflowRunId = await this.ensureRun(run, state, pushed)
    if (mlflowRunId === null) {
      this.result.pending -= work.rows
      this.result.deleted.push(runId)
      return { runId, mlflowRunId: state.mlflowRunId, status: 'deleted', points: 0, testPoints: 0, logLines: 0, artifacts: [] }
    }
    const report = { runId, mlflowRunId, status: 'pushed', points: 0, testPoints: 0, logLines: 0, artifacts: [] }
    const commit = () => {
      state.pushed = JSON.stringify(pushed)
      this.save(state)
    }
    const tags = this.lineageTags(run)
    if (JSON.stringify(tags) !== JSON.stringify(pushed.tags)) {
      for (let i = 0; i < tags.length; i += MAX_TAGS) await this.client.post('runs/log-batch', { run_id: mlflowRunId, tags: tags.slice(i, i + MAX_TAGS) })
      pushed.tags = tags
      commit()
    }
    report.points = await this.pushRows(state, 'metrics', from.metrics)
    report.testPoints = await this.pushRows(state, 'tests', from.tests)
    await this.pushSummary(state, pushed, commit)
    if (work.logs) {
      report.logLines = await this.pushLogs(state, pushed, commit)
      report.artifacts.push('logs.txt')
    }
    if (work.report !== null) {
      await this.upload(state, 'report_loss_dist.json', () => ({ stream: work.report.text, size: Buffer.byteLength(work.report.text) }))
      pushed.report = work.report.hash
      commit()
      report.artifacts.push('report_loss_dist.json')
    }
    for (const f of work.files) {
      await this.upload(state, f.artifact, () => ({ stream: fs.createReadStream(f.path), size: f.size }))
      pushed.files = { ...pushed.files, [f.artifact]: f.fingerprint }
      commit()
      report.artifacts.push(f.artifact)
    }
    const status = this.mode.finish ? 'FINISHED' : 'RUNNING'
    const endTime = Math.max(pushed.endTime || 0, state.metrics.ts || 0, state.tests.ts || 0)
    if (pushed.status !== status || pushed.endTime !== endTime) {
      await this.client.post('runs/update', { run_id: mlflowRunId, status, ...(endTime ? { end_time: endTime } : {}) })
      pushed.status = status
      pushed.endTime = endTime
      commit()
    }
    return report
  }

  /** What run needs: null when nothing, else `{ logs, report, files }` (counting pending rows). */
  plan(run, state, pushed, from) {
    const { native, training, opts } = this
    const runId = run.run_id
    const rows = native._mlflowCountAfter(training, 'metrics', runId, from.metrics) + native._mlflowCountAfter(training, 'tests', runId, from.tests)
    const logs = native._mlflowLastLogId(training, runId) > state.logsId && Date.now() - (pushed.logsAt || 0) >= this.mode.artifactsIntervalMs
    const text = reportJson(training, runId)
    const report = text !== null && sha256(text) !== pushed.report ? { text, hash: sha256(text) } : null
    const files = []
    if (opts.artifacts) {
      for (const f of native._mlflowFiles(training, runId)) {
        const artifact = `${f.kind === 'checkpoint' ? 'checkpoints' : 'final_models'}/${safeName(f.id)}${path.extname(f.path)}`
        let st
        try {
          st = fs.statSync(f.path)
        } catch {
          this.result.missing.push(f.path)
          continue
        }
        const fingerprint = `${st.size}:${st.mtimeMs}:${f.path}`
        if ((pushed.files || {})[artifact] !== fingerprint) files.push({ artifact, path: f.path, size: st.size, fingerprint })
      }
    }
    const summary = training.getRunSummary(runId)[0]
    const summaryDue = summary !== undefined && !(pushed.summary && pushed.summary.acked && pushed.summary.final_loss === summary.final_loss && pushed.summary.val_loss === summary.val_loss)
    const status = this.mode.finish ? 'FINISHED' : 'RUNNING'
    const tags = JSON.stringify(this.lineageTags(run)) !== JSON.stringify(pushed.tags)
    this.result.pending += rows
    const created = state.mlflowRunId !== null
    if (created && rows === 0 && !logs && report === null && files.length === 0 && !summaryDue && !tags && pushed.status === status) return null
    return { rows, logs, report, files }
  }

  /** The tags set after creation, sorted: lineage that can change (parents, their MLflow runs). */
  lineageTags(run) {
    const tags = [{ key: 'stowage.parents', value: JSON.stringify(run.parents).slice(0, MAX_TAG_VALUE) }]
    const first = run.parents.length ? this.states.get(run.parents[0]) : undefined
    if (first && first.mlflowRunId) tags.push({ key: 'mlflow.parentRunId', value: first.mlflowRunId })
    return tags
  }

  /**
   * The MLflow run of a training run: the recorded one (null when it was deleted on the server,
   * which is then recorded), else the one created with the run's token by an earlier sync that
   * was killed before recording it, else a new one.
   */
  async ensureRun(run, state, pushed) {
    const { client, opts } = this
    if (state.mlflowRunId !== null) {
      const got = await client.get('runs/get', { run_id: state.mlflowRunId }, ['RESOURCE_DOES_NOT_EXIST'])
      if (got.error_code || got.run.info.lifecycle_stage === 'deleted') {
        state.deletedAt = Date.now()
        this.save(state)
        this.progress({ phase: 'deleted', runId: run.run_id, mlflowRunId: state.mlflowRunId })
        return null
      }
      this.artifactBase(state, got.run.info.artifact_uri)
      return state.mlflowRunId
    }
    const experimentId = await this.experimentId()
    this.save(state)
    const filter = `tags.\`stowage.sync_token\` = '${state.createToken}'`
    const found = await client.post('runs/search', { experiment_ids: [experimentId], filter, max_results: 1 })
    let info = found.runs && found.runs[0] && found.runs[0].info
    if (!info) {
      const tags = [
        { key: 'stowage.run_id', value: run.run_id.slice(0, MAX_TAG_VALUE) },
        { key: 'stowage.project', value: String(run.project ?? '').slice(0, MAX_TAG_VALUE) },
        { key: 'stowage.sync_token', value: state.createToken },
        ...this.lineageTags(run),
      ]
      const made = await client.post('runs/create', { experiment_id: experimentId, run_name: String(run.name ?? run.run_id), start_time: Number.isFinite(run.created_at) ? run.created_at : Date.now(), tags })
      info = made.run.info
      pushed.tags = this.lineageTags(run)
    }
    state.mlflowRunId = info.run_id
    state.pushed = JSON.stringify(pushed)
    this.save(state)
    this.artifactBase(state, info.artifact_uri)
    this.progress({ phase: 'run', runId: run.run_id, mlflowRunId: info.run_id })
    return info.run_id
  }

  /** Remembers where the run's artifacts are PUT (the proxied artifact API), or why not. */
  artifactBase(state, uri) {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?(\/.*)$/.exec(uri || '')
    state.artifactPath = m ? m[1].replace(/\/+$/, '') : null
    state.artifactUri = uri
  }

  async upload(state, name, body) {
    if (state.artifactPath === null) {
      throw coded(Error, 'ERR_MLFLOW_ARTIFACTS', `MLflow at ${this.opts.base}: run ${state.mlflowRunId} stores artifacts at ${state.artifactUri}, which the server does not proxy; start the server with --serve-artifacts (the default) and an --artifacts-destination`)
    }
    const p = `${ARTIFACTS_API}${state.artifactPath.split('/').map(encodeURIComponent).join('/')}/${name.split('/').map(encodeURIComponent).join('/')}`
    await this.client.request('PUT', p, () => {
      const b = body()
      return typeof b.stream === 'string' ? { stream: Readable.from([Buffer.from(b.stream)]), size: b.size } : b
    })
    this.result.artifacts++
    this.progress({ phase: 'artifact', runId: state.runId, mlflowRunId: state.mlflowRunId, path: name })
  }

  /**
   * Pushes the run's rows of `table` after rowid `from` in batches of whole rows of at most
   * 1000 points, `concurrency` in flight; the watermark moves (and is saved) as a prefix of
   * batches is acknowledged. Returns the points sent.
   */
  async pushRows(state, table, from) {
    const { native, training, opts } = this
    const runId = state.runId
    const mlflowRunId = state.mlflowRunId
    const head = `{"run_id":${JSON.stringify(mlflowRunId)},"metrics":[`
    const keys = table === 'metrics' ? METRICS : ['loss']
    const prefixes = (table === 'metrics' ? METRICS : [TEST_KEY]).map((k) => `{"key":${JSON.stringify(k)},"value":`)
    let cursor = { ...state[table] }
    const startRows = cursor.rows
    const inflight = new Set()
    const done = new Map()
    let next = 0
    let acked = 0
    let points = 0
    let failure = null
    const settle = (seq, end) => {
      done.set(seq, end)
      while (done.has(acked)) {
        cursor = done.get(acked)
        done.delete(acked)
        acked++
      }
      state[table] = cursor
      this.save(state)
    }
    const send = (batch) => {
      const seq = next++
      if (batch.points === 0) return settle(seq, batch.end)
      const p = this.client
        .post('runs/log-batch', head + batch.parts.join(',') + ']}')
        .then(() => {
          points += batch.points
          this.result.points += batch.points
          this.result.batches++
          settle(seq, batch.end)
          this.progress({ phase: table, runId, mlflowRunId, points, batches: acked })
        })
        .catch((err) => {
          if (failure === null) failure = err
        })
        .finally(() => inflight.delete(p))
      inflight.add(p)
    }
    let after = from
    let rows = cursor.rows
    let batch = { parts: [], points: 0, end: cursor }
    while (failure === null) {
      const page = native._mlflowRowsAfter(training, table, runId, after, PAGE_ROWS)
      const n = page.rowid.length
      if (n === 0) break
      const cols = keys.map((k) => page[k])
      for (let i = 0; i < n; i++) {
        const step = page.step[i]
        const ts = page.ts[i]
        const t = Number.isFinite(ts) ? ts : 0
        const parts = []
        if (Number.isInteger(step)) {
          for (let k = 0; k < cols.length; k++) {
            const v = cols[k][i]
            if (v === v) parts.push(`${prefixes[k]}${num(v)},"timestamp":${t},"step":${step}}`)
          }
        } else {
          this.result.skippedRows++
        }
        if (batch.points + parts.length > MAX_METRICS) {
          send(batch)
          batch = { parts: [], points: 0, end: batch.end }
          while (inflight.size >= opts.concurrency) await Promise.race(inflight)
          if (failure !== null) break
        }
        for (const part of parts) batch.parts.push(part)
        batch.points += parts.length
        rows++
        batch.end = { rowid: page.rowid[i], rows, step: Number.isNaN(step) ? null : step, ts: Number.isNaN(ts) ? null : ts }
      }
      after = page.rowid[n - 1]
    }
    if (failure === null && batch.end !== cursor) send(batch)
    await Promise.all(inflight)
    this.result.pending -= state[table].rows - startRows
    if (failure !== null) throw failure
    return points
  }

  /** The summary as two final metrics at the run's last pushed step, sent with the timestamp
   * recorded before the first attempt (so a re-send is the same point). */
  async pushSummary(state, pushed, commit) {
    const summary = this.training.getRunSummary(state.runId)[0]
    if (summary === undefined) return
    let s = pushed.summary
    if (!s || s.final_loss !== summary.final_loss || s.val_loss !== summary.val_loss) {
      s = { final_loss: summary.final_loss, val_loss: summary.val_loss, timestamp: Date.now(), step: Number.isInteger(state.metrics.step) ? state.metrics.step : 0, acked: false }
      pushed.summary = s
      commit()
    }
    if (s.acked) return
    const metrics = []
    for (const [key, v] of [['final_loss', s.final_loss], ['final_val_loss', s.val_loss]]) {
      if (typeof v === 'number' && !Number.isNaN(v)) metrics.push(`{"key":"${key}","value":${num(v)},"timestamp":${s.timestamp},"step":${s.step}}`)
    }
    if (metrics.length) {
      await this.client.post('runs/log-batch', `{"run_id":${JSON.stringify(state.mlflowRunId)},"metrics":[${metrics.join(',')}]}`)
      this.result.points += metrics.length
    }
    s.acked = true
    commit()
    this.progress({ phase: 'summary', runId: state.runId, mlflowRunId: state.mlflowRunId })
  }

  /** Uploads logs.txt (every line of the run, streamed page by page); returns its lines. */
  async pushLogs(state, pushed, commit) {
    const { native, training } = this
    let last = 0
    let lines = 0
    const stream = () =>
      Readable.from(
        (function* pages() {
          let after = 0
          lines = 0
          for (;;) {
            const rows = native._mlflowLogsAfter(training, state.runId, after, LOG_PAGE)
            if (rows.length === 0) return
            lines += rows.length
            after = rows[rows.length - 1].id
            last = after
            yield Buffer.from(rows.map(logLine).join(''))
          }
        })(),
      )
    await this.upload(state, 'logs.txt', () => ({ stream: stream() }))
    state.logsId = last
    pushed.logsAt = Date.now()
    commit()
    return lines
  }
}

/** Syncs of one store to one server and experiment run one at a time. */
const queues = new WeakMap()

function serialized(training, key, fn) {
  let byKey = queues.get(training)
  if (!byKey) queues.set(training, (byKey = new Map()))
  const prev = byKey.get(key) || Promise.resolve()
  const p = prev.then(fn, fn)
  const tail = p.catch(() => {})
  byKey.set(key, tail)
  tail.then(() => {
    if (byKey.get(key) === tail) byKey.delete(key)
  })
  return p
}

module.exports = function mlflow(native, defaultTraining) {
  const isStore = (s) => s instanceof native.TrainingStore || s instanceof native.Store

  function sync(func, store, options, mode) {
    const opts = parseOptions(func, store, isStore, options)
    const training = trainingOf(func, store, defaultTraining, native)
    return serialized(training, `${opts.base}\n${opts.experiment}`, () => new Sync(native, training, opts, mode).run())
  }

  function syncToMlflow(store, options) {
    try {
      return sync('syncToMlflow', store, options, { finish: true, artifactsIntervalMs: 0 })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  function startMlflowSync(store, options) {
    const func = 'startMlflowSync'
    const { intervalMs, artifactsIntervalMs } = parseOptions(func, store, isStore, options, [
      ['intervalMs', 10_000, 10, 86_400_000],
      ['artifactsIntervalMs', 60_000, 0, 86_400_000],
    ]).extra
    trainingOf(func, store, defaultTraining, native)
    const state = { lastPushAt: null, lastResult: null, pending: null, lastError: null, running: true }
    let timer = null
    let current = null
    const tick = (finish) => {
      const mode = { finish, artifactsIntervalMs: finish ? 0 : artifactsIntervalMs }
      current = Promise.resolve()
        .then(() => sync(func, store, options, mode))
        .then(
        (result) => {
          state.lastPushAt = Date.now()
          state.lastResult = result
          state.pending = result.pending
          state.lastError = null
          return result
        },
        (err) => {
          state.lastError = err
          return null
        },
      )
      return current
    }
    const schedule = (ms) => {
      timer = setTimeout(() => {
        timer = null
        tick(false).then(() => {
          if (state.running) schedule(intervalMs)
        })
      }, ms)
      timer.unref()
    }
    schedule(0)
    return {
      get running() {
        return state.running
      },
      get lastPushAt() {
        return state.lastPushAt
      },
      get lastResult() {
        return state.lastResult
      },
      get pending() {
        return state.pending
      },
      get lastError() {
        return state.lastError
      },
      /** Stops the timer and waits for a push in progress; `{ finish: true }` then pushes once
       * more and marks the runs FINISHED. Resolves to that last push's result (or null). */
      stop(stopOptions) {
        if (stopOptions !== undefined && stopOptions !== null && (typeof stopOptions !== 'object' || Array.isArray(stopOptions))) {
          return Promise.reject(typeError('stop', 'options', 'an object', stopOptions))
        }
        state.running = false
        if (timer !== null) clearTimeout(timer)
        timer = null
        const waited = current || Promise.resolve(null)
        if (!(stopOptions && stopOptions.finish)) return waited.then(() => null)
        return waited.then(() => tick(true)).then((result) => {
          if (result === null) throw state.lastError
          return result
        })
      },
    }
  }

  return { syncToMlflow, startMlflowSync }
}
