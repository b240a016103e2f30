'use strict'
// Every function of stowage's JS surface with the types of its parameters. `on` names what the
// function is called on: `module` (the package exports), `Store`, `TrainingStore`,
// `AgentSessionStore`, `AgentRunStore`, `WorktreeStore`, `ChatStore`, `ConversationStore`, `SettingsStore`,
// `RecoveryStore`, `SnapshotStore`, `RecordingStore`, `AnalyticsStore` (instances), or the objects the
// factories return
// (`SessionStore`, `RunStore`, which have the methods of the agents classes plus `close`).
// `kind` says how a module-level function behaves before `initStorage`: a `write` throws
// ERR_NOT_READY, a `read` returns the original's empty answer.

const { tag } = require('./values.js')
const { T, OK, TYPE, RANGE, UNKNOWN, INVALID, check, truthy, nullish, isObject, arrayItems, undef, NUMERIC_TYPED } = require('./types.js')

const RUN_IDS = ['r0', 'r1', 'r2', 'r3', 'run:with:colons', 'ünï😀', '']
const SESSION_IDS = ['s0', 's1', 's2']
const AGENTS = ['agent-0', 'agent-1', 'agent-2', 'lead']
const CONVERSATIONS = ['c0', 'c1', 'c2']
const STATES = ['booting', 'working', 'in_turn', 'between_turns', 'stalled', 'completed', 'zombie', 'custom']
const METRICS = ['step', 'epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm', 'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util']
const SERIES = METRICS.slice(1)

const s = (x) => tag(x, JSON.stringify(x), 'string')
const n = (x) => tag(x, Object.is(x, -0) ? '-0' : String(x), 'number')
const pick = (list) => (g) => (g.rng.chance(0.9) ? s(g.rng.pick(list)) : g.v.string())
const runId = pick(RUN_IDS)
const sessionId = pick(SESSION_IDS)
const agentName = pick(AGENTS)
const state = pick(STATES)
const text = (g) => (g.rng.chance(0.8) ? s(`line ${g.rng.int(1000)}`) : g.v.string())
const iso = (g) => s(new Date(1.7e12 + g.rng.int(1e9)).toISOString())
const orNull = (gen, p = 0.2) => (g) => (g.rng.chance(p) ? tag(null, 'null', 'null') : gen(g))
const maybe = (gen, p = 0.5) => (g) => (g.rng.chance(p) ? gen(g) : undef())
const step = (g) => n(g.rng.chance(0.9) ? g.rng.int(2000) : g.rng.pick([-1, 0.5, 2 ** 40, 1e15]))
const metricValue = (g) => g.rng.weighted([[8, () => n(g.rng.float() * 4)], [1, () => tag(null, 'null', 'null')], [1, () => n(g.rng.pick([NaN, Infinity, 0, -0, 1e300]))], [1, () => tag(3n, '3n', 'bigint')]])()
const smallInt = (g) => n(g.rng.int(5))
const flag = (g) => { const b = g.rng.chance(0.5); return tag(b, String(b), 'boolean') }
const path = (kind) => (g) => g.path(kind)
/** A valid object for `obj` fields, each present with probability 0.8 (required ones always). */
const fieldsGen = (fields, required = []) => (g) => {
  const f = {}
  for (const [k, type] of Object.entries(fields)) if (required.includes(k) || g.rng.chance(0.8)) f[k] = type.gen(g)
  return g.v.fromFields(f)
}
const arrayGen = (item, max = 4) => (g) => {
  const items = Array.from({ length: g.rng.int(max + 1) }, () => item(g))
  return tag(items.map((t) => t.v), `[${items.map((t) => t.d).join(', ')}]`, 'array', { items })
}
const numbersGen = (g) => {
  if (g.rng.chance(0.3)) {
    const ta = new Float64Array(Array.from({ length: g.rng.int(6) }, () => g.rng.float()))
    g.track(ta)
    return tag(ta, `Float64Array(${ta.length})`, 'typed', { ta: 'Float64Array', len: ta.length })
  }
  return arrayGen(orNull((h) => n(h.rng.float()), 0.1), 6)(g)
}

const metricFields = Object.fromEntries(METRICS.map((m) => [m, T.num(m === 'step' ? step : metricValue)]))
const metricRow = T.obj(metricFields, fieldsGen(metricFields, ['step']))
const batchFields = { run_id: T.str(runId), ...metricFields }
const batchRow = T.obj(batchFields, fieldsGen(batchFields, ['run_id', 'step']))
const columnType = T.numbers((g) => {
  const ta = new Float64Array(g.colLen)
  for (let i = 0; i < ta.length; i++) ta[i] = g.rng.chance(0.1) ? NaN : i
  g.track(ta)
  return tag(ta, `Float64Array(${ta.length})`, 'typed', { ta: 'Float64Array', len: ta.length })
})
const columnsFields = Object.fromEntries(METRICS.map((m) => [m, m === 'step' ? columnType : { ...columnType, check: (t) => (nullish(t) ? OK : columnType.check(t)) }]))
const progress = T.optFn((g) => (g.rng.chance(0.5) ? undef() : g.progressCallback()))
/** An optional options object with these fields, absent half of the time. */
const options = (fields) => T.optObj(fields, maybe(fieldsGen(fields)))
const columnsOptions = { metrics: T.optArrayOf(T.str(), arrayGen(pick(SERIES), 3)), fromStep: T.num(maybe(step)), toStep: T.num(maybe(step)) }
const seriesOptions = { maxPoints: T.num(maybe((g) => n(1 + g.rng.int(2000)))), fromStep: T.num(maybe(step)), toStep: T.num(maybe(step)) }

/** `insertRun`'s parents: an array (falsy items dropped, others `String()`ed), one id, or none. */
const parents = {
  gen: (g) => g.rng.weighted([[4, () => arrayGen(runId, 3)(g)], [1, () => runId(g)], [1, () => tag(null, 'null', 'null')]])(),
  check: (t) => {
    if (t.k === 'array') return arrayItems(t, { check: (it) => (truthy(it) ? T.stringForm.check(it) : OK) })
    if (nullish(t) || (t.k === 'string' && t.v === '')) return OK
    return T.stringForm.check(t)
  },
}

const indicesType = {
  check: (t) => {
    if (!truthy(t)) return OK
    if (t.k === 'typed') return NUMERIC_TYPED.includes(t.ta) ? OK : TYPE
    return t.k === 'array' ? arrayItems(t, T.coercible) : TYPE
  },
}
const payloadFields = {
  losses: T.numbers(numbersGen),
  sample_indices: { ...indicesType, gen: numbersGen },
  note: T.optStr(maybe(text)),
  at_step: T.num(maybe(step)),
  at_epoch: T.num(maybe(smallInt)),
  samples: T.num(maybe(smallInt, 0.2)),
}
/** `upsertReportLossDist`'s payload: `losses` may be empty only when `samples` is given. */
const payload = {
  gen: fieldsGen(payloadFields, ['losses']),
  check: (t) => {
    if (!isObject(t)) return TYPE
    const f = (k) => (t.f && t.f[k]) || undef()
    const losses = nullish(f('samples')) ? T.numbers() : T.numbersOrEmpty()
    return ['note', 'at_step', 'at_epoch', 'samples'].reduce((acc, k) => acc | check(payloadFields[k], f(k)), check(losses, f('losses')) | check(indicesType, f('sample_indices')))
  },
}

/** `initStorage`'s context: a non-empty folder path, `{ storagePath }` or `{ globalStorageUri: { fsPath } }`. */
const context = {
  gen: (g) => {
    const dir = g.path('folder')
    return g.rng.weighted([[2, () => dir], [1, () => g.v.fromFields({ storagePath: dir })], [1, () => g.v.fromFields({ globalStorageUri: g.v.fromFields({ fsPath: dir }) })]])()
  },
  check: (t) => {
    const folder = (x) => (x.v.includes('\0') ? INVALID : OK)
    if (t.k === 'string') return t.v === '' ? TYPE : folder(t)
    if (t.k !== 'object') return TYPE
    const f = t.f
    const nonEmpty = (x) => x && x.k === 'string' && x.v !== ''
    // A vscode.ExtensionContext (globalStorageUri given) means its fsPath, whatever storagePath says.
    const uri = f.globalStorageUri
    if (uri && !nullish(uri)) return uri.k === 'object' && nonEmpty(uri.f.fsPath) ? folder(uri.f.fsPath) : TYPE
    return nonEmpty(f.storagePath) ? folder(f.storagePath) : TYPE
  },
}

const agentsOptionFields = {
  transitions: T.optObj({}, (g) => g.v.fromFields({ working: arrayGen(state, 3)(g), custom: arrayGen(state, 2)(g) })),
  terminalStates: T.optArrayOf(T.str(state), arrayGen(state, 2)),
  activeStates: T.optArrayOf(T.str(state), arrayGen(state, 3)),
}
/** `options.agents.transitions`: every own enumerable field an array of strings. */
agentsOptionFields.transitions.check = (t) => {
  if (nullish(t)) return OK
  if (!isObject(t)) return TYPE
  // A typed array's own enumerable fields are its elements, numbers: not arrays of strings.
  if (t.k === 'typed') return t.len > 0 ? TYPE : OK
  return Object.values(t.f || {}).reduce((acc, v) => acc | check(T.arrayOf(T.str()), v), OK)
}
const agentsOption = T.optObj(agentsOptionFields, maybe(fieldsGen(agentsOptionFields), 0.3))
/** `options.history`: a positive integer cap, positive retention days (Infinity: forever). */
const days = { gen: maybe((g) => n(g.rng.pick([30, 0.5, Infinity, 0, -1, NaN]))), check: (t) => (nullish(t) ? OK : t.k === 'bigint' ? (t.v > 0n && t.v <= 2n ** 53n - 1n ? OK : RANGE) : t.k !== 'number' ? TYPE : t.v > 0 ? OK : RANGE) }
const historyOptionFields = {
  maxSnapshotBytes: { gen: maybe((g) => n(g.rng.pick([1000, 100, 1, 0, 2.5]))), check: (t) => { const f = T.int().check(t); return f || nullish(t) ? f : t.v >= 1 ? OK : RANGE } },
  snapshotRetentionDays: days,
  analyticsRetentionDays: days,
}
const historyOption = T.optObj(historyOptionFields, maybe(fieldsGen(historyOptionFields), 0.3))
/** A store name: another string is ERR_INVALID_ARG (checked item by item with the types). */
const storeName = { check: (t) => (t.k !== 'string' ? TYPE : ['training', 'agents', 'worktrees', 'chats', 'conversations', 'settings', 'history'].includes(t.v) ? OK : INVALID) }
const autoVacuum = { gen: maybe(pick(['none', 'full', 'incremental']), 0.2), check: (t) => (nullish(t) ? OK : t.k !== 'string' ? TYPE : ['none', 'full', 'incremental'].includes(t.v.toLowerCase()) ? OK : INVALID) }
/** `options.settings`: a namespace and a quota (an integer of at least 1). */
const settingsOptionFields = {
  namespace: T.optStr(maybe(pick(['sidepanel.', 'other.', '']))),
  maxBytes: {
    gen: maybe((g) => n(g.rng.pick([1, 300, 5000])), 0.4),
    check: (t) => {
      if (nullish(t)) return OK
      if (t.k === 'number') return Number.isInteger(t.v) && t.v >= 1 && t.v <= 2 ** 53 - 1 ? OK : RANGE
      if (t.k === 'bigint') return t.v >= 1 && t.v <= 2 ** 53 - 1 ? OK : RANGE
      return TYPE
    },
  },
}
const settingsOption = T.optObj(settingsOptionFields, maybe(fieldsGen(settingsOptionFields), 0.5))
/** `openStore`'s options: a store's own options (`agents`, `settings`) are read only when it is requested. */
const storeOptions = (() => {
  const o = T.optObj({ stores: T.optArrayOf(storeName), autoVacuum, agents: agentsOption, settings: settingsOption })
  const requested = (t) => {
    const stores = t.f && t.f.stores
    return nullish(stores || undef()) ? ['training'] : stores.k === 'array' ? stores.items.map((i) => i.v) : []
  }
  return {
    ...o,
    check: (t) => {
      if (nullish(t) || !isObject(t)) return o.check(t)
      const flags = check(T.optArrayOf(storeName), (t.f && t.f.stores) || undef()) | check(autoVacuum, (t.f && t.f.autoVacuum) || undef())
      const own = (name, type) => (requested(t).includes(name) ? check(type, (t.f && t.f[name]) || undef()) : OK)
      return flags | own('agents', agentsOption) | own('settings', settingsOption) | own('history', historyOption)
    },
  }
})()
/** The options of the factories: an object whose `agents` is passed to `openStore`. */
const factoryOptions = {
  gen: (g) => (g.rng.chance(0.5) ? undef() : fieldsGen({ agents: agentsOption })(g)),
  check: (t) => {
    if (nullish(t)) return OK
    if (!isObject(t)) return TYPE
    // Any object's own `agents` field is read (a class instance's too, not only a plain object's).
    return t.f ? check(agentsOption, t.f.agents || undef()) : OK
  },
}

const session = {
  id: T.str((g) => s(`id-${g.rng.int(10)}`)),
  agentName: T.str(agentName),
  capability: T.str(pick(['builder', 'scout', 'lead'])),
  worktreePath: T.str(text),
  branchName: T.str(text),
  taskId: T.str(text),
  tmuxSession: T.str(text),
  state: T.str(state),
  pid: T.int(orNull((g) => n(g.rng.int(70000)))),
  parentAgent: T.optStr(orNull(agentName)),
  depth: T.int(maybe(smallInt)),
  runId: T.optStr(orNull(pick(['ar0', 'ar1']))),
  startedAt: T.str(iso),
  lastActivity: T.str(iso),
  escalationLevel: T.int(maybe(smallInt)),
  stalledSince: T.optStr(orNull(iso, 0.7)),
  transcriptPath: T.optStr(orNull(text, 0.5)),
  promptVersion: T.optStr(maybe(text)),
  claudeSessionId: T.optStr(maybe(text)),
}
const sessionRequired = ['id', 'agentName', 'capability', 'worktreePath', 'branchName', 'taskId', 'tmuxSession', 'state', 'startedAt', 'lastActivity']
const runInput = {
  id: T.optStr(maybe(pick(['ar0', 'ar1', 'ar2']))),
  startedAt: T.optStr(maybe(iso)),
  coordinatorSessionId: T.optStr(maybe(text)),
  coordinatorName: T.optStr(maybe(pick(['coordinator', 'c2']))),
  status: T.optStr(maybe(pick(['active', 'completed', 'failed']))),
  agentCount: T.int(maybe(smallInt)),
}

const p = (name, type) => [name, type]
const optBool = (gen) => ({ gen, check: (t) => (nullish(t) || t.k === 'boolean' ? OK : TYPE) })
const training = [
  { name: 'insertRun', kind: 'write', params: [p('run_id', T.str(runId)), p('project', T.optStr(orNull(text))), p('name', T.optStr(orNull(text))), p('parents', parents)] },
  { name: 'listRuns', kind: 'read', params: [] },
  { name: 'insertCheckpoint', kind: 'write', params: [p('ckpt_id', T.str((g) => s(`${g.rng.pick(RUN_IDS)}:${g.rng.int(5)}`))), p('run_id', T.optStr(runId)), p('step', T.num(step)), p('p', T.optStr(path('checkpoint')))] },
  { name: 'latestCheckpointForRun', kind: 'read', params: [p('run_id', T.str(runId))] },
  { name: 'insertMetric', kind: 'write', params: [p('run_id', T.str(runId)), p('row', metricRow)] },
  { name: 'insertMetricBatch', kind: 'write', params: [p('rows', T.arrayOf(batchRow, arrayGen((g) => batchRow.gen(g), 8)))] },
  { name: 'getRunRows', kind: 'read', params: [p('run_id', T.str(runId))] },
  { name: 'upsertSummary', kind: 'write', params: [p('run_id', T.str(runId)), p('final_loss', T.num(maybe(metricValue))), p('val_loss', T.num(maybe(metricValue)))] },
  { name: 'getRunSummary', kind: 'read', params: [p('run_id', T.str(runId))] },
  { name: 'setSavingEverything', kind: 'write', params: [p('context', T.any(undef)), p('on', T.any(flag))] },
  { name: 'isSavingEverything', kind: 'read', params: [] },
  { name: 'insertTestMetric', kind: 'write', params: [p('run_id', T.str(runId)), p('step', T.num(step)), p('loss', T.num(metricValue))] },
  { name: 'getTestRows', kind: 'read', params: [p('run_id', T.str(runId))] },
  { name: 'upsertFinalModel', kind: 'write', params: [p('row', T.obj(...(() => { const f = { session_id: T.str(sessionId), run_id: T.optStr(runId), ckpt_path: T.optStr(path('checkpoint')), step: T.num(step), avg_test_loss: T.num(maybe(metricValue)) }; return [f, fieldsGen(f, ['session_id'])] })()))] },
  { name: 'getFinalModel', kind: 'read', params: [p('session_id', T.str(sessionId))] },
  { name: 'insertLog', kind: 'write', params: [p('row', T.obj(...(() => { const f = { run_id: T.str(runId), session_id: T.optStr(orNull(sessionId)), level: T.optStr(maybe(pick(['info', 'warn']))), text: T.optStr(text), phase: T.optStr(maybe(pick(['train', 'test', 'info', '']))), step: T.any(maybe(step)), epoch: T.any(maybe(smallInt)), ts: T.num(maybe((g) => n(1.7e12 + g.rng.int(1e6)))) }; return [f, fieldsGen(f, ['run_id', 'text'])] })()))] },
  { name: 'getLogs', kind: 'read', params: [p('run_id', T.str(runId)), p('phase', T.optStr(maybe(pick(['train', 'test', 'info', '']))))] },
  { name: 'getLogsBySession', kind: 'read', params: [p('session_id', T.str(sessionId)), p('phase', T.optStr(maybe(pick(['train', 'info']))))] },
  { name: 'listSessions', kind: 'read', params: [] },
  { name: 'runsForSession', kind: 'read', params: [p('session_id', T.str(sessionId))] },
  { name: 'upsertReportLossDist', kind: 'write', params: [p('run_id', T.str(runId)), p('subset_on', T.str(pick(['train', 'val']))), p('payload', payload)] },
  { name: 'getReportLossDist', kind: 'read', params: [p('run_id', T.str(runId)), p('subset_on', T.str(pick(['train', 'val'])))] },
  { name: 'setRunSubset', kind: 'write', params: [p('run_id', T.str(runId)), p('indices', T.numbersOrEmpty(numbersGen))] },
  { name: 'getRunSubset', kind: 'read', params: [p('run_id', T.str(runId))] },
  { name: 'insertMetricColumns', kind: 'write', params: [p('run_id', T.str(runId)), p('columns', T.obj(columnsFields, (g) => { g.colLen = g.rng.pick([0, 1, 5, 50]); return fieldsGen(columnsFields, ['step'])(g) }))] },
  { name: 'getRunColumns', kind: 'write', params: [p('run_id', T.str(runId)), p('options', options(columnsOptions))] },
  { name: 'getRunSeries', kind: 'write', params: [p('run_id', T.str(runId)), p('metric', T.str(pick(SERIES))), p('options', options(seriesOptions))] },
  { name: 'exportBundle', kind: 'write', params: [p('dir', T.path(path('bundle'))), p('options', options({ archive: T.any(flag) }))] },
  { name: 'exportBundleAsync', kind: 'write', async: true, params: [p('dir', T.path(path('bundle'))), p('options', options({ archive: T.any(flag), onProgress: progress }))] },
  { name: 'loadBundle', kind: 'write', params: [p('dir', T.path(path('bundle'))), p('context', T.any(undef))] },
  { name: 'loadBundleAsync', kind: 'write', async: true, params: [p('dir', T.path(path('bundle'))), p('context', T.any(undef)), p('options', options({ onProgress: progress }))] },
  {
    name: '_insertMetricBlock',
    kind: 'write',
    params: [
      p('values', { gen: (g) => { const ta = new Float64Array(12 * g.blockRows); for (let i = 0; i < ta.length; i++) ta[i] = i % 7; g.track(ta); return tag(ta, `Float64Array(${ta.length})`, 'typed', { ta: 'Float64Array', len: ta.length }) }, check: (t) => (t.k === 'typed' && t.ta === 'Float64Array' ? OK : TYPE) }),
      p('runs', T.arrayOf(T.str(), arrayGen(runId, 2))),
      p('runOf', { gen: (g) => { const ta = new Uint32Array(g.blockRows); g.track(ta); return tag(ta, `Uint32Array(${ta.length})`, 'typed', { ta: 'Uint32Array', len: ta.length }) }, check: (t) => (t.k === 'typed' && t.ta === 'Uint32Array' ? OK : TYPE) }),
    ],
  },
]

/** Statements for `query`: reads with and without a parameter, and ones it refuses. */
const QUERIES = ['SELECT count(*) AS n FROM sqlite_schema', 'SELECT ? AS v', 'SELECT name FROM sqlite_schema WHERE name = ?', 'DELETE FROM runs', 'SELECT 1; SELECT 2', 'PRAGMA user_version = 7']
/** A `query` parameter: null/undefined, a boolean, a number, a string, or a BigInt within 64 bits. */
const sqlParam = {
  check: (t) => {
    if (nullish(t) || ['boolean', 'number', 'string'].includes(t.k)) return OK
    if (t.k === 'bigint') return t.v >= -(2n ** 63n) && t.v < 2n ** 63n ? OK : RANGE
    return TYPE
  },
}

const backupOptions = { gzip: optBool(maybe(flag)), verify: optBool(maybe(flag)) }
/** `applyRetention`'s `now`: around the present, or far ahead (everything expires). */
const retentionNow = (g) => n(g.rng.pick([Date.now(), Date.now() + 40 * 86_400_000, 8.64e15, 0, -1, 0.5]))
const store = [
  { name: 'transaction', params: [p('fn', { gen: (g) => g.txCallback(), check: (t) => (t.k === 'function' ? OK : TYPE) })] },
  { name: 'path', getter: true, params: [] },
  { name: 'isOpen', getter: true, params: [] },
  { name: 'info', params: [] },
  { name: 'integrityCheck', params: [p('options', T.fieldsOf({ quick: T.any(flag) }, maybe(fieldsGen({ quick: T.any(flag) }))))] },
  { name: 'optimize', params: [] },
  { name: 'vacuum', params: [] },
  { name: 'vacuumAsync', async: true, params: [] },
  { name: 'checkpoint', params: [p('mode', T.optStr(maybe(pick(['PASSIVE', 'FULL', 'RESTART', 'TRUNCATE']))))] },
  { name: 'backupTo', params: [p('path', T.path(path('backup'))), p('options', options(backupOptions))] },
  { name: 'backupToAsync', async: true, params: [p('path', T.path(path('backup'))), p('options', options({ ...backupOptions, onProgress: progress }))] },
  { name: 'restoreFrom', params: [p('path', T.path(path('backup'))), p('options', options({ keepPreRestore: optBool(maybe(flag)) }))] },
  { name: 'restoreFromAsync', async: true, params: [p('path', T.path(path('backup'))), p('options', options({ keepPreRestore: optBool(maybe(flag)), onProgress: progress }))] },
  { name: 'query', params: [p('sql', T.str(pick(QUERIES))), p('params', T.optArrayOf(sqlParam, maybe((g) => {
    const id = g.rng.pick(RUN_IDS)
    return tag([id], JSON.stringify([id]), 'array', { items: [s(id)] })
  })))] },
  { name: 'applyRetention', params: [p('options', options({ now: T.int(maybe(retentionNow)) }))] },
  { name: 'applyRetentionAsync', async: true, params: [p('options', options({ now: T.int(maybe(retentionNow)), onProgress: progress }))] },
  { name: 'close', params: [] },
]

const agents = [
  { name: 'upsert', params: [p('session', T.obj(session, fieldsGen(session, sessionRequired)))] },
  { name: 'getByName', params: [p('agentName', T.str(agentName))] },
  { name: 'getActive', params: [] },
  { name: 'getAll', params: [] },
  { name: 'count', params: [] },
  { name: 'getByRun', params: [p('runId', T.str(pick(['ar0', 'ar1'])))] },
  { name: 'updateState', params: [p('agentName', T.str(agentName)), p('state', T.str(state))] },
  { name: 'tryTransitionState', params: [p('agentName', T.str(agentName)), p('state', T.str(state))] },
  { name: 'updateLastActivity', params: [p('agentName', T.str(agentName))] },
  { name: 'updateEscalation', params: [p('agentName', T.str(agentName)), p('level', T.int(smallInt, true)), p('stalledSince', T.optStr(orNull(iso, 0.5)))] },
  { name: 'updateTranscriptPath', params: [p('agentName', T.str(agentName)), p('path', T.str(text))] },
  { name: 'updateClaudeSessionId', params: [p('agentName', T.str(agentName)), p('sessionId', T.str(text))] },
  { name: 'remove', params: [p('agentName', T.str(agentName))] },
  { name: 'purge', params: [p('options', T.obj(...(() => { const f = { all: T.any(maybe(flag, 0.2)), state: T.optStr(maybe(state)), agent: T.optStr(maybe(agentName)) }; return [f, fieldsGen(f)] })()))] },
  { name: 'importLegacyJson', params: [p('file', T.path(path('legacy'))), p('options', options({ onProgress: progress }))] },
  { name: 'importLegacyJsonAsync', async: true, params: [p('file', T.path(path('legacy'))), p('options', options({ onProgress: progress }))] },
]

const agentRuns = [
  { name: 'createRun', params: [p('run', T.optObj(runInput, maybe(fieldsGen(runInput), 0.8)))] },
  { name: 'getRun', params: [p('id', T.str(pick(['ar0', 'ar1', 'ar2'])))] },
  { name: 'getActiveRun', params: [] },
  { name: 'getActiveRunForCoordinator', params: [p('coordinatorName', T.str(pick(['coordinator', 'c2'])))] },
  { name: 'listRuns', params: [p('options', T.optObj(...(() => { const f = { limit: T.int(maybe(smallInt)), status: T.optStr(maybe(pick(['active', 'completed', 'failed']))) }; return [f, maybe(fieldsGen(f))] })()))] },
  { name: 'incrementAgentCount', params: [p('runId', T.str(pick(['ar0', 'ar1'])))] },
  { name: 'completeRun', params: [p('runId', T.str(pick(['ar0', 'ar1', 'ar2']))), p('status', T.str(pick(['completed', 'failed', 'active'])))] },
]

const WORKSPACES = ['/w/editor', '/w/other', '', '/']
const WT_SESSIONS = ['ws0', 'ws1', 'ws2']
const workspacePath = pick(WORKSPACES)
const wtSessionId = pick(WT_SESSIONS)
const optBoolean = (gen) => ({ gen, check: (t) => (nullish(t) || t.k === 'boolean' ? OK : TYPE) })
const wtInstance = {
  instanceId: T.int(smallInt, true),
  sessionId: T.optStr(maybe(wtSessionId, 0.2)),
  worktreePath: T.str(text),
  branch: T.str(text),
  agentName: T.str(pick(['claude', 'codex'])),
  status: T.str(pick(['idle', 'running', 'completed', 'failed', 'paused', 'archived', 'odd'])),
  tmuxSessionId: T.str(text),
  output: T.optStr(orNull(text, 0.5)),
  startTime: T.optStr(maybe(iso)),
  endTime: T.optStr(maybe(iso)),
  filesChanged: T.int(maybe(smallInt)),
  linesAdded: T.int(maybe(smallInt)),
  linesDeleted: T.int(maybe(smallInt)),
  runtime: T.optStr(maybe(pick(['claude', 'codex']))),
  model: T.optStr(maybe(text)),
  runtimeLabel: T.optStr(maybe(text)),
}
const wtMessage = {
  id: T.str((g) => s(`wm-${g.rng.int(20)}`)),
  sessionId: T.optStr(maybe(wtSessionId, 0.2)),
  role: T.str(pick(['user', 'assistant', 'system', 'robot'])),
  content: T.str(text),
  timestamp: T.str(iso),
  instanceId: T.int(maybe(smallInt)),
}
const wtInstanceType = T.obj(wtInstance, fieldsGen(wtInstance, ['instanceId', 'worktreePath', 'branch', 'agentName', 'status', 'tmuxSessionId']))
const wtMessageType = T.obj(wtMessage, fieldsGen(wtMessage, ['id', 'role', 'content', 'timestamp']))
const wtSession = {
  id: T.str(wtSessionId),
  type: T.str(pick(['competition', 'ensemble', 'debate', 'duel'])),
  task: T.str(text),
  status: T.str(pick(['running', 'completed', 'failed', 'paused'])),
  createdAt: T.str(iso),
  updatedAt: T.str(iso),
  completedAt: T.optStr(maybe(iso)),
  model: T.optStr(maybe(text)),
  timeoutSeconds: T.int(maybe(smallInt)),
  preserveWorktrees: optBoolean(maybe(flag)),
  winnerId: T.int(maybe(smallInt)),
  runtimeMix: T.optArrayOf(T.str(), maybe(arrayGen(pick(['claude', 'codex']), 2))),
  totalDuration: T.int(maybe(smallInt)),
  totalFilesChanged: T.int(maybe(smallInt)),
  totalLinesAdded: T.int(maybe(smallInt)),
  totalLinesDeleted: T.int(maybe(smallInt)),
  instances: T.optArrayOf(wtInstanceType, maybe(arrayGen((g) => wtInstanceType.gen(g), 3))),
  chatHistory: T.optArrayOf(wtMessageType, maybe(arrayGen((g) => wtMessageType.gen(g), 3))),
}
const wtSessionType = T.obj(wtSession, fieldsGen(wtSession, ['id', 'type', 'task', 'status', 'createdAt', 'updatedAt']))
const listQuery = {
  workspacePath: T.optStr(maybe(workspacePath)),
  type: T.optStr(maybe(pick(['competition', 'ensemble', 'debate']))),
  status: { gen: maybe((g) => (g.rng.chance(0.5) ? pick(['running', 'paused'])(g) : arrayGen(pick(['running', 'failed']), 2)(g))), check: (t) => (nullish(t) || t.k === 'string' ? OK : t.k === 'array' ? arrayItems(t, T.str()) : TYPE) },
  search: T.optStr(maybe(text)),
  limit: T.int(maybe(smallInt)),
  offset: T.int(maybe(smallInt)),
  orderBy: { gen: maybe(pick(['created', 'updated'])), check: (t) => (nullish(t) ? OK : t.k !== 'string' ? TYPE : ['created', 'updated'].includes(t.v) ? OK : TYPE) },
}
/** `importLegacyJson`'s options: `workspaces` maps hashes to paths (every value a string). */
const wtImportFields = {
  workspaces: {
    gen: maybe((g) => g.v.fromFields({ '00000000000000a0': s('/w/editor') })),
    // Every enumerable key is read, a typed array's indices too.
    check: (t) => (nullish(t) ? OK : !isObject(t) ? TYPE : t.k === 'typed' && t.len > 0 ? TYPE : Object.values(t.f || {}).reduce((acc, v) => acc | check(T.str(), v), OK)),
  },
  onProgress: progress,
}
const worktrees = [
  { name: 'createSession', params: [p('workspacePath', T.str(workspacePath)), p('session', wtSessionType)] },
  { name: 'updateSession', params: [p('workspacePath', T.str(workspacePath)), p('session', wtSessionType)] },
  { name: 'getSession', params: [p('workspacePath', T.str(workspacePath)), p('id', T.str(wtSessionId))] },
  { name: 'getAllSessions', params: [p('workspacePath', T.str(workspacePath))] },
  { name: 'deleteSession', params: [p('workspacePath', T.str(workspacePath)), p('id', T.str(wtSessionId))] },
  { name: 'addChatMessage', params: [p('sessionId', T.str(wtSessionId)), p('message', wtMessageType)] },
  { name: 'updateInstanceStatus', params: [p('sessionId', T.str(wtSessionId)), p('instanceId', T.int(smallInt, true)), p('status', T.str(pick(['idle', 'completed', 'odd'])))] },
  { name: 'stats', params: [] },
  { name: 'listSessions', params: [p('query', T.optObj(listQuery, maybe(fieldsGen(listQuery), 0.8)))] },
  { name: 'countByType', params: [p('workspacePath', T.optStr(maybe(workspacePath)))] },
  { name: 'importLegacyJson', params: [p('dir', { gen: path('legacyDir'), check: (t) => (nullish(t) ? OK : T.path().check(t)) }), p('options', T.optObj(wtImportFields, maybe(fieldsGen(wtImportFields))))] },
  { name: 'importLegacyJsonAsync', async: true, params: [p('dir', { gen: path('legacyDir'), check: (t) => (nullish(t) ? OK : T.path().check(t)) }), p('options', T.optObj(wtImportFields, maybe(fieldsGen(wtImportFields))))] },
]
const PROJECTS = ['proj_0', 'proj_1']
const projectId = pick(PROJECTS)
/** An id of the chats store: mostly one the fuzzer saw returned (`g.chatIds`), else a missing one. */
const chatId = (prefix) => (g) => {
  const seen = g.chatIds[prefix]
  if (seen.length && g.rng.chance(0.85)) return s(g.rng.pick(seen))
  return g.rng.chance(0.5) ? s(`${prefix}_missing`) : g.v.string()
}
/** What `JSON.stringify` makes of a value: a BigInt anywhere (an empty BigInt64Array has none),
 * or no JSON form at the top (a function, a symbol, `undefined`), is a TypeError; what runs the caller's code, and nesting deep
 * enough to meet the engine's stack limit, is unknown. */
function jsonCheck(t, top) {
  if (t.hostile || t.foreign || t.deep) return UNKNOWN
  switch (t.k) {
    case 'bigint':
      return TYPE
    case 'undefined':
    case 'function':
    case 'symbol':
      return top ? TYPE : OK
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
      return OK
    case 'array':
      return t.sparse !== undefined ? UNKNOWN : t.items.reduce((acc, it) => acc | jsonCheck(it, false), OK)
    case 'object':
      return Object.values(t.f || {}).reduce((acc, it) => acc | jsonCheck(it, false), OK)
    case 'typed':
      return t.ta && t.ta.startsWith('Big') && t.len > 0 ? TYPE : OK
    default:
      return UNKNOWN
  }
}
const jsonValue = (gen) => ({ gen, check: (t) => jsonCheck(t, true) })
const chatSessionInput = { projectID: T.str(projectId), directory: T.str(text), title: T.optStr(maybe(text)), agent: T.optStr(maybe(pick(['build', 'plan']))) }
const chatSummary = { additions: T.int(smallInt, true), deletions: T.int(smallInt, true), files: T.int(smallInt, true) }
/** `createMessage`'s input: `role` decides which fields are read; another role is ERR_INVALID_ARG. */
const chatMessageInput = {
  gen: (g) => {
    const user = g.rng.chance(0.5)
    const f = { sessionID: chatId('sess')(g), role: s(user ? 'user' : 'assistant') }
    if (user) f.content = text(g)
    else if (g.rng.chance(0.5)) f.agent = pick(['build', 'plan'])(g)
    return g.v.fromFields(f)
  },
  check: (t) => {
    if (!isObject(t)) return TYPE
    const f = (k) => (t.f && t.f[k]) || undef()
    let flags = check(T.str(), f('sessionID'))
    const role = f('role')
    flags |= check(T.str(), role)
    if (flags) return flags
    if (role.v === 'user') return check(T.str(), f('content'))
    if (role.v === 'assistant') return check(T.optStr(), f('agent'))
    return INVALID
  },
}
const partData = (g) => g.rng.weighted([
  [3, () => ({ type: s('text'), text: text(g) })],
  [3, () => ({ type: s('tool'), tool: s('bash'), state: g.v.fromFields({ status: s('running'), output: text(g) }) })],
  [1, () => ({ type: s('step-start'), snapshot: text(g) })],
  [1, () => ({ type: s('compaction'), auto: flag(g) })],
])()
/** `createPart`'s part: `{ messageID, sessionID?, type, … }`, all of it JSON. */
const chatPartInput = {
  gen: (g) => g.v.fromFields({ messageID: chatId('msg')(g), ...(g.rng.chance(0.7) ? { sessionID: chatId('sess')(g) } : {}), ...partData(g) }),
  check: (t) => {
    if (!isObject(t)) return TYPE
    const f = (k) => (t.f && t.f[k]) || undef()
    const flags = check(T.str(), f('messageID')) | check(T.optStr(), f('sessionID')) | check(T.str(), f('type'))
    return flags || jsonCheck(t, true)
  },
}
const mutate = { gen: (g) => g.mutateCallback(), check: (t) => (t.k === 'function' ? OK : TYPE) }
const todoItem = T.obj(...(() => { const f = { content: T.str(text), status: T.str(pick(['pending', 'in_progress', 'completed'])), priority: T.optStr(maybe(pick(['high', 'low']))) }; return [f, fieldsGen(f, ['content', 'status'])] })())
const rules = jsonValue(arrayGen((g) => g.v.fromFields({ permission: s('bash'), pattern: s('*'), action: pick(['allow', 'deny', 'ask'])(g) }), 2))
const layout = { gen: maybe(pick(['etcode', 'opencode']), 0.3), check: (t) => (nullish(t) ? OK : t.k !== 'string' ? TYPE : ['etcode', 'opencode'].includes(t.v) ? OK : INVALID) }
const importOptions = options({ layout, onProgress: progress })
const chats = [
  { name: 'createSession', params: [p('input', T.obj(chatSessionInput, fieldsGen(chatSessionInput, ['projectID', 'directory'])))] },
  { name: 'getSession', params: [p('id', T.str(chatId('sess'))), p('projectID', T.optStr(maybe(projectId)))] },
  { name: 'listSessions', params: [p('projectID', T.str(projectId))] },
  { name: 'touchSession', params: [p('id', T.str(chatId('sess')))] },
  { name: 'setSessionTitle', params: [p('id', T.str(chatId('sess'))), p('title', T.str(text))] },
  { name: 'setSessionSummary', params: [p('id', T.str(chatId('sess'))), p('summary', T.obj(chatSummary, fieldsGen(chatSummary, Object.keys(chatSummary))))] },
  { name: 'removeSession', params: [p('id', T.str(chatId('sess')))] },
  { name: 'createMessage', params: [p('input', chatMessageInput)] },
  { name: 'getMessage', params: [p('id', T.str(chatId('msg')))] },
  { name: 'listMessages', params: [p('sessionID', T.str(chatId('sess'))), p('options', T.optObj({ withParts: T.any(flag) }, maybe(fieldsGen({ withParts: T.any(flag) }))))] },
  { name: 'updateMessage', params: [p('id', T.str(chatId('msg'))), p('mutate', mutate)] },
  { name: 'removeMessage', params: [p('id', T.str(chatId('msg')))] },
  { name: 'createPart', params: [p('part', chatPartInput)] },
  { name: 'getPart', params: [p('id', T.str(chatId('part')))] },
  { name: 'listParts', params: [p('messageID', T.str(chatId('msg')))] },
  { name: 'updatePart', params: [p('id', T.str(chatId('part'))), p('mutate', mutate)] },
  { name: 'replaceTodos', params: [p('sessionID', T.str(chatId('sess'))), p('todos', T.arrayOf(todoItem, arrayGen((g) => todoItem.gen(g), 3)))] },
  { name: 'getTodos', params: [p('sessionID', T.str(chatId('sess')))] },
  { name: 'setPermission', params: [p('projectID', T.str(projectId)), p('rules', rules)] },
  { name: 'getPermission', params: [p('projectID', T.str(projectId))] },
  { name: 'importLegacyJson', params: [p('storageDir', T.path(path('storageTree'))), p('options', importOptions)] },
  { name: 'importLegacyJsonAsync', async: true, params: [p('storageDir', T.path(path('storageTree'))), p('options', importOptions)] },
  { name: 'onChange', params: [p('listener', { gen: (g) => g.changeListener(), check: (t) => (t.k === 'function' ? OK : TYPE) })] },
]
const conversationId = pick(CONVERSATIONS)
const boolean = (gen) => ({ gen, check: (t) => (t.k === 'boolean' ? OK : TYPE) })
const MAX_SAFE = 2 ** 53 - 1
/** A count (limit, offset): an integer (or BigInt) of at least `min`, or absent. */
const count = (min, gen) => ({
  gen,
  check: (t) => {
    if (nullish(t)) return OK
    if (t.k === 'number') return Number.isInteger(t.v) && Math.abs(t.v) <= MAX_SAFE && t.v >= min ? OK : RANGE
    if (t.k === 'bigint') return t.v >= min && t.v <= MAX_SAFE ? OK : RANGE
    return TYPE
  },
})
/** `toolCalls`: null, or an array of at most 65,536 items that JSON.stringify takes (a BigInt in
 * it throws; what an object item's conversion does is not modelled). */
const toolCalls = {
  gen: maybe(orNull(arrayGen(text, 2))),
  check: (t) => {
    if (nullish(t)) return OK
    if (t.k !== 'array') return TYPE
    if (t.sparse !== undefined) return t.sparse > 65_536 ? RANGE : OK
    if (t.items.some((it) => it.k === 'bigint')) return TYPE
    return t.items.every((it) => ['number', 'string', 'boolean', 'null', 'undefined', 'symbol', 'function'].includes(it.k)) ? OK : UNKNOWN
  },
}
/** `highlight`: two strings. */
const highlight = {
  gen: maybe(() => tag(['<b>', '</b>'], "['<b>', '</b>']", 'array', { items: [s('<b>'), s('</b>')] }), 0.3),
  check: (t) => {
    if (nullish(t)) return OK
    if (t.k !== 'array') return TYPE
    return arrayItems(t, T.str()) || (t.sparse === undefined && t.items.length === 2 ? OK : TYPE)
  },
}
const newSession = { title: T.str(pick(['Plans', 'Trip', ''])), model: T.str(pick(['m', 'llama'])), provider: T.optStr(maybe(pick(['venice', 'openai']))), id: T.optStr(maybe(conversationId, 0.7)) }
const newMessage = {
  role: T.str(pick(['user', 'assistant', ''])),
  content: T.str(text),
  toolCalls,
  promptTokens: T.int(maybe(smallInt)),
  completionTokens: T.int(maybe(smallInt)),
  cost: T.num(maybe((g) => n(g.rng.pick([0, 0.5, -1, NaN, Infinity])))),
}
const sessionPatch = { title: T.optStr(maybe(pick(['New', '']))), model: T.optStr(maybe(pick(['m2']))), provider: T.optStr(maybe(pick(['p']))), branchName: T.optStr(maybe(pick(['alt']))) }
const searchOptions = { sessionId: T.optStr(maybe(conversationId)), limit: count(1, maybe((g) => n(g.rng.int(30)))), raw: optBool(maybe(flag, 0.3)), highlight }
const searchQuery = (g) => (g.rng.chance(0.7) ? s(g.rng.pick(['line', 'line 7', 'AND', '"open', 'a* OR b', 'NEAR(', 'x:y'])) : g.v.string())
const conversations = [
  { name: 'createSession', params: [p('session', T.obj(newSession, fieldsGen(newSession, ['title', 'model'])))] },
  { name: 'getSession', params: [p('id', T.str(conversationId))] },
  { name: 'listSessions', params: [p('options', options({ archived: optBool(maybe(flag)), search: T.optStr(maybe(pick(['Pl', '%']))), limit: count(0, maybe(smallInt)), offset: count(0, maybe(smallInt)) }))] },
  { name: 'updateSession', params: [p('id', T.str(conversationId)), p('patch', T.obj(sessionPatch, fieldsGen(sessionPatch)))] },
  { name: 'archiveSession', params: [p('id', T.str(conversationId)), p('archived', boolean(flag))] },
  { name: 'deleteSession', params: [p('id', T.str(conversationId))] },
  { name: 'appendMessage', params: [p('sessionId', T.str(conversationId)), p('message', T.obj(newMessage, fieldsGen(newMessage, ['role', 'content'])))] },
  { name: 'listMessages', params: [p('sessionId', T.str(conversationId)), p('options', options({ afterSequence: T.int(maybe(smallInt)), limit: count(0, maybe(smallInt)) }))] },
  { name: 'forkSession', params: [p('id', T.str(conversationId)), p('options', T.obj(...(() => { const f = { atSequence: T.int(smallInt, true), branchName: T.optStr(maybe(pick(['b']))), title: T.optStr(maybe(pick(['F']))) }; return [f, fieldsGen(f, ['atSequence'])] })()))] },
  { name: 'getBranches', params: [p('id', T.str(conversationId))] },
  { name: 'searchMessages', params: [p('query', T.str(searchQuery)), p('options', options(searchOptions))] },
  { name: 'exportArchive', params: [p('sessionId', T.str(conversationId)), p('file', T.path(path('archive')))] },
  { name: 'exportArchiveAsync', async: true, params: [p('sessionId', T.str(conversationId)), p('file', T.path(path('archive'))), p('options', options({ onProgress: progress }))] },
  { name: 'restoreArchive', params: [p('file', T.path(path('archive')))] },
  { name: 'restoreArchiveAsync', async: true, params: [p('file', T.path(path('archive'))), p('options', options({ onProgress: progress }))] },
]

const SETTING_KEYS = ['theme', 'layout', 'recent.sessions', 'recent.searches', 'ünï 😀']
/** A setting's key: a non-empty string. */
const settingKey = { gen: (g) => (g.rng.chance(0.9) ? s(g.rng.pick(SETTING_KEYS)) : g.v.string()), check: (t) => (t.k === 'string' && t.v !== '' ? OK : TYPE) }
/** A setting's value: mostly a list (as the recent lists are), else any value. */
const settingValue = jsonValue((g) => (g.rng.chance(0.6) ? arrayGen(text, 14)(g) : g.v.any(1)))
/** `importAll`'s values: each own enumerable value is a JSON value; an empty key is ERR_INVALID_ARG. */
const settingValues = {
  gen: (g) => {
    const f = {}
    for (let i = g.rng.int(4); i > 0; i--) f[g.rng.pick(SETTING_KEYS)] = settingValue.gen(g)
    return g.v.fromFields(f)
  },
  check: (t) => {
    if (!isObject(t)) return TYPE
    if (t.hostile || t.foreign) return UNKNOWN
    if (t.k === 'typed') return t.ta.startsWith('Big') && t.len > 0 ? TYPE : OK
    if (t.k !== 'object') return OK
    const f = t.f || {}
    return Object.values(f).reduce((acc, v) => acc | jsonCheck(v, true), OK) | (Object.hasOwn(f, '') ? INVALID : OK)
  },
}
const settings = [
  { name: 'get', params: [p('key', settingKey), p('defaultValue', T.any(maybe((g) => g.v.any(1))))] },
  { name: 'set', params: [p('key', settingKey), p('value', settingValue)] },
  { name: 'remove', params: [p('key', settingKey)] },
  { name: 'list', params: [p('prefix', T.optStr(maybe(pick(['recent.', 'the', '']))))] },
  { name: 'exportAll', params: [] },
  { name: 'importAll', params: [p('values', settingValues)] },
  { name: 'usage', params: [] },
]
/** Milliseconds of `autosave`: a finite number from `min` to 2^31-1, or absent. */
const millis = (min, gen) => ({ gen, check: (t) => (nullish(t) ? OK : t.k !== 'number' ? TYPE : Number.isFinite(t.v) && t.v >= min && t.v <= 2 ** 31 - 1 ? OK : RANGE) })
const autosaveOptions = {
  intervalMs: millis(1, maybe((g) => n(g.rng.pick([1, 50, 30_000, 0, -1, Infinity])))),
  debounceMs: millis(0, maybe((g) => n(g.rng.pick([0, 5, 5000, -1, NaN])))),
  onError: T.optFn(maybe(() => tag(() => {}, 'onError noop', 'function'))),
}
const recovery = [
  { name: 'save', params: [p('state', settingValue)] },
  { name: 'check', params: [p('options', options({ maxAgeMs: count(0, maybe((g) => n(g.rng.pick([0, 1000, 1800000, -1]))))}))] },
  { name: 'clear', params: [] },
  {
    name: 'autosave',
    params: [p('getState', { gen: (g) => tag(() => ({ at: g.stats.calls }), 'getState', 'function'), check: (t) => (t.k === 'function' ? OK : TYPE) }), p('options', options(autosaveOptions))],
  },
]
/** An optional JSON field: null/undefined, or a value JSON.stringify writes. */
const optJson = (gen) => ({ gen, check: (t) => (nullish(t) ? OK : jsonCheck(t, true)) })
/** A JSON array field (`events`, `snapshots`) of at most 2^20 items. */
const jsonArray = (gen, optional = false) => ({
  gen,
  check: (t) => {
    if (optional && nullish(t)) return OK
    if (t.k !== 'array') return TYPE
    if (t.sparse !== undefined) return t.sparse > 2 ** 20 ? RANGE : OK
    return jsonCheck(t, true)
  },
})
const snapshotId = (g) => (g.rng.chance(0.7) && g.historyIds.snapshot.length ? s(g.rng.pick(g.historyIds.snapshot)) : g.v.string())
const recordingId = (g) => (g.rng.chance(0.7) && g.historyIds.recording.length ? s(g.rng.pick(g.historyIds.recording)) : g.v.string())
const snapshotType = { gen: pick(['auto', 'manual', 'system', 'weekly']), check: (t) => (t.k !== 'string' ? TYPE : ['auto', 'manual', 'system'].includes(t.v) ? OK : INVALID) }
const newSnapshot = {
  type: snapshotType,
  trigger: jsonValue(text),
  description: T.optStr(maybe(text)),
  state: jsonValue((g) => (g.rng.chance(0.1) ? s('x'.repeat(2000)) : text(g))),
  summary: jsonValue(text),
  starred: optBool(maybe(flag)),
}
const snapshots = [
  { name: 'create', params: [p('snapshot', T.obj(newSnapshot, fieldsGen(newSnapshot, ['type', 'trigger', 'state', 'summary'])))] },
  { name: 'get', params: [p('id', T.str(snapshotId))] },
  { name: 'list', params: [p('options', options({ starred: optBool(maybe(flag)), limit: count(0, maybe(smallInt)), offset: count(0, maybe(smallInt)) }))] },
  { name: 'star', params: [p('id', T.str(snapshotId)), p('starred', boolean(flag))] },
  { name: 'delete', params: [p('id', T.str(snapshotId))] },
  { name: 'totalBytes', params: [] },
]
const newRecording = {
  sessionId: T.str(pick(['s0', 's1', ''])),
  title: T.str(pick(['Demo', ''])),
  duration: T.int((g) => n(g.rng.pick([0, 1500, -1, 2.5])), true),
  events: jsonArray(arrayGen(text, 3)),
  snapshots: jsonArray(maybe(arrayGen(text, 2)), true),
  metadata: optJson(maybe(text)),
}
const recordings = [
  { name: 'create', params: [p('recording', T.obj(newRecording, fieldsGen(newRecording, ['sessionId', 'title', 'duration', 'events'])))] },
  { name: 'get', params: [p('id', T.str(recordingId))] },
  { name: 'list', params: [p('options', options({ sessionId: T.optStr(maybe(pick(['s0', 's1']))) }))] },
  { name: 'delete', params: [p('id', T.str(recordingId))] },
]
/** Text in the one timestamp format (what toISOString() writes for the years 0–9999)? */
const isIso = (text) => /^\d{4}-/.test(text) && !Number.isNaN(Date.parse(text)) && new Date(text).toISOString() === text
/** An ISO timestamp, now and then in another format (ERR_INVALID_ARG). */
const eventTime = { gen: maybe((g) => (g.rng.chance(0.9) ? iso(g) : s('2026-05-01'))), check: (t) => (nullish(t) ? OK : t.k !== 'string' ? TYPE : isIso(t.v) ? OK : INVALID) }
const newEvent = {
  eventType: T.str(pick(['message', 'tool', ''])),
  timestamp: eventTime,
  sessionId: T.optStr(maybe(pick(['s0', 's1']))),
  model: T.optStr(maybe(pick(['m']))),
  promptTokens: T.int(maybe(smallInt)),
  completionTokens: T.int(maybe(smallInt)),
  cost: T.num(maybe((g) => n(g.rng.pick([0, 0.5, -1, NaN])))),
  durationMs: T.int(maybe(smallInt)),
  metadata: optJson(maybe(text)),
}
/** `query`'s from/to: ISO text or epoch milliseconds (an integer within the years 0–9999). */
const queryTime = {
  gen: maybe((g) => (g.rng.chance(0.5) ? iso(g) : n(g.rng.pick([0, 1.7e12, 0.5, 1e300])))),
  check: (t) => {
    if (nullish(t)) return OK
    if (t.k === 'number') return Number.isInteger(t.v) && t.v >= -62_167_219_200_000 && t.v <= 253_402_300_799_999 ? OK : RANGE
    return t.k !== 'string' ? TYPE : isIso(t.v) ? OK : INVALID
  },
}
const groupBy = { gen: maybe(pick(['hour', 'day', 'week'])), check: (t) => (nullish(t) ? OK : t.k !== 'string' ? TYPE : ['hour', 'day'].includes(t.v) ? OK : INVALID) }
const analytics = [
  { name: 'record', params: [p('event', T.obj(newEvent, fieldsGen(newEvent, ['eventType'])))] },
  { name: 'query', params: [p('options', options({ from: queryTime, to: queryTime, eventType: T.optStr(maybe(pick(['message']))), sessionId: T.optStr(maybe(pick(['s0']))), groupBy }))] },
]

/** `syncToMlflow`'s options: a server on a loopback port where nothing listens (the discard
 * port), so a push fails at once with ERR_MLFLOW_UNREACHABLE after at most one quick retry. */
const rangeInt = (min, max, gen) => ({ gen, check: (t) => (nullish(t) ? OK : t.k !== 'number' ? TYPE : Number.isInteger(t.v) && t.v >= min && t.v <= max ? OK : RANGE) })
const mlflowFields = {
  trackingUri: T.str((g) => (g.rng.chance(0.9) ? s('http://127.0.0.1:9') : g.v.string())),
  experiment: T.str(pick(['e', 'f'])),
  runs: T.optArrayOf(T.str(), maybe(arrayGen(runId, 2), 0.3)),
  artifacts: optBool(maybe(flag, 0.3)),
  recreateDeleted: optBool(maybe(flag, 0.2)),
  token: T.optStr(maybe(text, 0.2)),
  concurrency: rangeInt(1, 64, maybe((g) => n(1 + g.rng.int(8)), 0.3)),
  retries: rangeInt(0, 100, (g) => n(g.rng.int(2))),
  retryDelayMs: rangeInt(0, 600_000, (g) => n(g.rng.int(5))),
  onProgress: progress,
}
const mlflowOptions = T.obj(mlflowFields, fieldsGen(mlflowFields, ['trackingUri', 'experiment', 'retries', 'retryDelayMs']))
/** The store of a sync: the default store (null), or something that is not a store. */
const mlflowStore = { gen: (g) => (g.rng.chance(0.9) ? tag(null, 'null', 'null') : n(g.rng.int(5))), check: (t) => (nullish(t) ? OK : TYPE) }
const mlflowSync = [
  { name: 'syncToMlflow', async: true, params: [p('store', mlflowStore), p('options', mlflowOptions)] },
  {
    name: 'startMlflowSync',
    params: [p('store', mlflowStore), p('options', T.obj({ ...mlflowFields, intervalMs: rangeInt(10, 86_400_000) }, (g) => fieldsGen({ ...mlflowFields, intervalMs: rangeInt(10, 86_400_000, () => n(86_400_000)) }, ['trackingUri', 'experiment', 'retries', 'retryDelayMs', 'intervalMs'])(g)))],
  },
]

const MODULE_NAMES = {
  insertMetricBatch: 'insertMetric.batch',
}
const moduleOnly = [
  { name: 'initStorage', async: true, params: [p('context', context)] },
  { name: 'isReady', params: [] },
  { name: 'whenReady', async: true, params: [] },
  { name: 'getDbPath', params: [] },
  { name: 'knownStores', params: [] },
  { name: 'rotateBackups', params: [p('dir', T.path(path('backupDir'))), p('options', options({ daily: count(0, maybe(smallInt)), weekly: count(0, maybe(smallInt)), monthly: count(0, maybe(smallInt)), dryRun: optBool(maybe(flag)) }))] },
  { name: 'checkpointNow', params: [] },
  { name: 'closeStorage', params: [p('opts', T.any(maybe((g) => g.v.fromFields({ retainFile: flag(g) }), 0.7)))] },
  {
    name: 'openStore',
    params: [p('path', T.path()), p('options', storeOptions)],
    // A path of a file of the kind the options ask for (and now and then of the other kind).
    genArgs: (g) => {
      const kind = g.rng.weighted([[6, 'training'], [2, 'agents'], [2, 'worktrees'], [2, 'chats'], [1, 'conversations'], [1, 'settings'], [1, 'history']])
      const own = { training: 'trainingDb', agents: 'agentsDb', worktrees: 'worktreesDb', chats: 'chatsDb', conversations: 'conversationsDb', settings: 'settingsDb', history: 'historyDb' }[kind]
      const file = g.path(g.rng.chance(0.9) ? own : g.rng.pick(['trainingDb', 'agentsDb', 'worktreesDb', 'chatsDb', 'conversationsDb', 'settingsDb', 'historyDb']))
      const opts = kind === 'training' && g.rng.chance(0.5) ? undef() : g.v.fromFields({ stores: tag([kind], `['${kind}']`, 'array', { items: [s(kind)] }), ...(kind === 'agents' && g.rng.chance(0.3) ? { agents: agentsOption.gen(g) } : {}), ...(kind === 'settings' && g.rng.chance(0.5) ? { settings: settingsOption.gen(g) } : {}), ...(kind === 'history' && g.rng.chance(0.3) ? { history: historyOption.gen(g) } : {}), ...(g.rng.chance(0.2) ? { autoVacuum: autoVacuum.gen(g) } : {}) })
      return [file, opts]
    },
  },
  { name: 'createSessionStore', params: [p('dbPath', T.path(path('agentsDb'))), p('options', factoryOptions)] },
  { name: 'createRunStore', params: [p('dbPath', T.path(path('agentsDb'))), p('options', factoryOptions)] },
  { name: 'openSessionStore', params: [p('overstoryDir', T.path(path('overstory'))), p('options', factoryOptions)] },
  { name: 'workspaceHash', params: [p('path', T.str(workspacePath))] },
]
/** The drop-in functions: the training methods on the default store (the hidden block method aside). */
const moduleTraining = training
  .filter((op) => op.name !== '_insertMetricBlock')
  .map((op) => {
    const name = MODULE_NAMES[op.name] || op.name
    if (op.name === 'loadBundle' || op.name === 'loadBundleAsync') {
      // Opens the default store from `context` first when it is not open.
      return { ...op, name, params: op.params.map(([k, t]) => (k === 'context' ? [k, { ...context, gen: (g) => (g.rng.chance(0.5) ? undef() : context.gen(g)) }] : [k, t])), contextWhenClosed: true }
    }
    return { ...op, name }
  })

const SURFACE = [
  ...moduleOnly.map((op) => ({ ...op, on: 'module' })),
  ...mlflowSync.map((op) => ({ ...op, on: 'module' })),
  ...moduleTraining.map((op) => ({ ...op, on: 'module' })),
  ...training.map((op) => ({ ...op, on: 'TrainingStore' })),
  ...store.map((op) => ({ ...op, on: 'Store' })),
  ...agents.map((op) => ({ ...op, on: 'AgentSessionStore' })),
  ...agentRuns.map((op) => ({ ...op, on: 'AgentRunStore' })),
  ...worktrees.map((op) => ({ ...op, on: 'WorktreeStore' })),
  ...chats.map((op) => ({ ...op, on: 'ChatStore' })),
  ...conversations.map((op) => ({ ...op, on: 'ConversationStore' })),
  ...settings.map((op) => ({ ...op, on: 'SettingsStore' })),
  ...recovery.map((op) => ({ ...op, on: 'RecoveryStore' })),
  ...snapshots.map((op) => ({ ...op, on: 'SnapshotStore' })),
  ...recordings.map((op) => ({ ...op, on: 'RecordingStore' })),
  ...analytics.map((op) => ({ ...op, on: 'AnalyticsStore' })),
  ...agents.map((op) => ({ ...op, on: 'SessionStore' })),
  ...agentRuns.map((op) => ({ ...op, on: 'RunStore' })),
  { name: 'close', on: 'SessionStore', params: [] },
  { name: 'close', on: 'RunStore', params: [] },
]

module.exports = { SURFACE, RUN_IDS, AGENTS, WORKSPACES, PROJECTS, CONVERSATIONS }
