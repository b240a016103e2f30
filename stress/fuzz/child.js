'use strict'
// The fuzzing process. Run by stress/fuzz.js as a child, so that an abort or a crash shows in
// its exit status:
//
//   node stress/fuzz/child.js --entry <package> --dir <empty folder> --seed N --calls M --log <file>
//
// It works inside `--dir` (its working folder), calls the package's exports with seeded random
// arguments, and checks every outcome (see `judge`). Each call is appended to `--log` before it
// runs, so the parent can name the call that crashed or hung. On a violation it prints
// `{ ok: false, violation }` as JSON and exits with status 3; otherwise `{ ok: true, stats }`.

const fs = require('node:fs')
const path = require('node:path')

const { Rng, Values, SENTINELS, tag, failsString } = require('./values.js')
const { SURFACE, RUN_IDS, AGENTS, WORKSPACES, PROJECTS, CONVERSATIONS } = require('./surface.js')
const { TYPE, RANGE, UNKNOWN, INVALID, check, truthy, undef } = require('./types.js')
const { createFixtures, ESCAPES } = require('./fixtures.js')

const CODE = /^(ERR_[A-Z0-9_]+|SQLITE_[A-Z0-9_]+|E[A-Z0-9]+)$/
const MAX_STORES = 6
const ASYNC_TIMEOUT_MS = 60_000

class Violation extends Error {}

function args(argv) {
  const out = {}
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1]
  return out
}

/** JSON of query results, BigInts included. */
const json = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))

class Fuzzer {
  constructor(opts) {
    this.seed = Number(opts.seed)
    this.calls = Number(opts.calls)
    this.root = path.resolve(opts.dir)
    this.log = fs.openSync(opts.log, 'w')
    this.rng = new Rng(this.seed)
    this.stowage = require(path.resolve(opts.entry))
    this.current = { close() {}, read() {}, buffers: [] }
    /** Ids the chats store returned, by prefix, for later calls to name. */
    this.chatIds = { sess: [], msg: [], part: [] }
    /** Ids of the snapshots and recordings the history store returned. */
    this.historyIds = { snapshot: [], recording: [] }
    const hooks = {
      closeCurrent: () => this.current.close(),
      detachAll: () => this.detachAll(),
      reenter: () => {
        try {
          this.current.read()
        } catch {
          // A re-entrant read may fail (the store is closed, say); only crashes matter here.
        }
      },
      track: (ta) => {
        this.track(ta)
        return ta
      },
    }
    this.v = new Values(this.rng, hooks)
    this.stores = []
    this.factories = []
    this.opened = new Map()
    this.survey = opts.survey === 'true'
    this.stats = { calls: 0, threw: 0, codes: {}, ops: {}, succeeded: {}, examples: {}, failedWritesCompared: 0, integrityChecks: 0, violations: {}, slowest: [] }
  }

  // ---- paths -------------------------------------------------------------------------------

  /** A path of the given purpose: mostly one of a few files under the fuzzer's folder, now and
   * then a random string made relative (no leading `/`, no `..`), so it lands in that folder too. */
  path(kind) {
    const r = this.rng
    const at = (p) => tag(path.join(this.root, p), JSON.stringify(p), 'string')
    if (r.chance(0.12)) {
      const raw = this.v.string()
      const rel = raw.v.replace(/\.\./g, '_').replace(/^\/+/, '')
      return tag(rel, `relative ${raw.d}`, 'string')
    }
    const junk = ['junk/notadb.sqlite', 'junk/empty.sqlite', 'junk/dir.sqlite', 'junk/text.txt', 'missing/deeper/x']
    const pools = {
      trainingDb: [['db/t0.sqlite', 'db/t1.sqlite', 'db/t2.sqlite', 'db/t3.sqlite'], ['bundles/b0/runs.sqlite', ...junk, ':memory:', '']],
      agentsDb: [['agents/a0.db', 'agents/a1.db', 'agents/a2.db', 'ov/o0/sessions.db'], ['db/t0.sqlite', ...junk]],
      worktreesDb: [['worktrees/w0.db', 'worktrees/w1.db', 'worktrees/w2.db'], ['agents/a0.db', 'db/t0.sqlite', ...junk]],
      legacyDir: [['wtlegacy/d0', 'wtlegacy/d1'], ['wtlegacy/missing', 'wtlegacy/d0/00000000000000a0.json', 'junk/text.txt', 'legacy']],
      chatsDb: [['chats/c0.db', 'chats/c1.db', 'chats/c2.db'], ['agents/a0.db', 'db/t0.sqlite', ...junk]],
      storageTree: [['chats/tree0', 'chats/tree1'], ['chats/tree0/message', 'legacy', 'missing', 'junk/text.txt']],
      conversationsDb: [['conv/c0.sqlite', 'conv/c1.sqlite', 'conv/c2.sqlite'], ['agents/a0.db', 'db/t0.sqlite', ...junk]],
      settingsDb: [['settings/s0.sqlite', 'settings/s1.sqlite', 'settings/s2.sqlite'], [...junk, ':memory:']],
      historyDb: [['hist/h0.sqlite', 'hist/h1.sqlite', 'conv/c1.sqlite'], ['db/t0.sqlite', ...junk]],
      archive: [['archives/x0.json.gz', 'archives/x1.json.gz', 'archives/x2.json.gz'], ['archives/hostile.json.gz', 'archives/missing.json.gz', 'archives', 'junk/text.txt', 'missing/deeper/x']],
      folder: [['default/d0', 'default/d1'], ['default/new/deep', 'junk/text.txt', 'ov/o3', '.']],
      bundle: [['bundles/b0', 'bundles/b1', 'bundles/b2', 'bundles/b0.tar', 'bundles/b1.tar', 'bundles/b0/bundle.json'], [...this.hostileBundles, 'bundles', ...junk, 'db', '.']],
      backup: [['backups/k0.sqlite', 'backups/k1.sqlite', 'backups/k2.sqlite', 'backups/k-2026-11-30.sqlite.gz', 'backups/k-2026-12-01.sqlite'], ['db/t0.sqlite', 'junk/dir.sqlite', 'missing/x.sqlite', 'junk/notadb.sqlite', 'junk/text.txt']],
      backupDir: [['backups'], ['junk/text.txt', 'missing', 'default/d0']],
      legacy: [Array.from({ length: 8 }, (_, i) => `legacy/l${i}.json`), ['ov/o0/sessions.json', 'legacy/missing.json', 'legacy', 'junk/notadb.sqlite']],
      overstory: [['ov/o0', 'ov/o1', 'ov/o2'], ['ov/o3', 'missing', 'junk/text.txt']],
      checkpoint: [['ckpt/c0.pt', 'ckpt/c1.pt', 'ckpt/c2.pt', 'ckpt/c3.pt'], ['ckpt/missing.pt', 'ckpt', 'junk/notadb.sqlite']],
    }
    const [main, odd] = pools[kind]
    return at(r.pick(r.chance(0.8) ? main : odd))
  }

  // ---- targets -----------------------------------------------------------------------------

  open(file, opts) {
    const s = this.stowage.openStore(file, opts)
    this.adopt(s, (opts && opts.stores && opts.stores[0]) || 'training')
    return s
  }

  /** Keeps an opened store for later calls; the oldest is closed beyond MAX_STORES. */
  adopt(store, kind) {
    this.stores.push({ store, kind })
    if (kind !== undefined && store.path && store.path !== ':memory:') this.opened.set(store.path, kind)
    if (this.stores.length > MAX_STORES) this.stores.shift().store.close()
  }

  adoptFactory(obj, kind, file) {
    this.factories.push({ obj, kind })
    this.opened.set(file, 'agents')
    if (this.factories.length > MAX_STORES) this.factories.shift().obj.close()
  }

  /** What an operation is called on, and how a hostile getter closes or re-reads it. */
  target(op) {
    const r = this.rng
    const mod = this.stowage
    const history = ['SnapshotStore', 'RecordingStore', 'AnalyticsStore'].includes(op.on)
    const wantKind = op.on === 'TrainingStore' ? 'training' : op.on === 'Store' ? null : op.on === 'WorktreeStore' ? 'worktrees' : op.on === 'ChatStore' ? 'chats' : op.on === 'ConversationStore' ? 'conversations' : op.on === 'SettingsStore' || op.on === 'RecoveryStore' ? 'settings' : history ? 'history' : 'agents'
    // A store's members exist only on a Store opened with it (methods called on the wrong
    // object are misuse(), below).
    const pickStore = () => {
      const fitting = this.stores.filter((s) => wantKind === null || s.kind === wantKind)
      if (fitting.length) return r.pick(fitting)
      const file = path.join(this.root, { agents: 'agents/a2.db', worktrees: 'worktrees/w2.db', chats: 'chats/c2.db', conversations: 'conv/c2.sqlite', settings: 'settings/s2.sqlite', history: 'hist/h2.sqlite' }[wantKind] || 'db/t3.sqlite')
      return { store: this.open(file, wantKind === 'training' || wantKind === null ? undefined : { stores: [wantKind] }) }
    }
    switch (op.on) {
      case 'module':
        return { obj: mod, close: () => mod.closeStorage({ retainFile: true }), read: () => mod.listRuns() }
      case 'Store': {
        const s = pickStore().store
        return { obj: s, close: () => s.close(), read: () => s.info() }
      }
      case 'TrainingStore': {
        const s = pickStore().store
        return { obj: s.training, close: () => s.close(), read: () => s.training.listRuns() }
      }
      case 'AgentSessionStore': {
        const s = pickStore().store
        return { obj: s.agents, close: () => s.close(), read: () => s.agents.getAll() }
      }
      case 'AgentRunStore': {
        const s = pickStore().store
        return { obj: s.agentRuns, close: () => s.close(), read: () => s.agentRuns.listRuns() }
      }
      case 'WorktreeStore': {
        const s = pickStore().store
        return { obj: s.worktrees, close: () => s.close(), read: () => s.worktrees.listSessions() }
      }
      case 'ChatStore': {
        const s = pickStore().store
        return { obj: s.chats, close: () => s.close(), read: () => s.chats.listSessions(PROJECTS[0]) }
      }
      case 'ConversationStore': {
        const s = pickStore().store
        return { obj: s.conversations, close: () => s.close(), read: () => s.conversations.listSessions() }
      }
      case 'SettingsStore': {
        const s = pickStore().store
        return { obj: s.settings, close: () => s.close(), read: () => s.settings.exportAll() }
      }
      case 'RecoveryStore': {
        const s = pickStore().store
        return { obj: s.recovery, close: () => s.close(), read: () => s.recovery.check() }
      }
      case 'SnapshotStore':
      case 'RecordingStore':
      case 'AnalyticsStore': {
        const s = pickStore().store
        const member = { SnapshotStore: 'snapshots', RecordingStore: 'recordings', AnalyticsStore: 'analytics' }[op.on]
        return { obj: s[member], close: () => s.close(), read: () => s.snapshots.list() }
      }
      default: {
        if (!this.factories.some((f) => f.kind === op.on)) {
          const file = path.join(this.root, 'agents/a1.db')
          this.adoptFactory(mod[op.on === 'SessionStore' ? 'createSessionStore' : 'createRunStore'](file), op.on, file)
        }
        const f = r.pick(this.factories.filter((x) => x.kind === op.on)).obj
        return { obj: f, close: () => f.close(), read: () => (f.getAll || f.listRuns)() }
      }
    }
  }

  /** Typed arrays of the current call, which a hostile getter detaches. */
  track(ta) {
    this.current.buffers.push(ta)
  }

  detachAll() {
    for (const ta of this.current.buffers) {
      if (ta.buffer instanceof ArrayBuffer && ta.buffer.byteLength > 0) structuredClone(ta.buffer, { transfer: [ta.buffer] })
    }
  }

  progressCallback() {
    const r = this.rng
    const which = r.int(4)
    const fns = [
      () => {},
      () => {
        throw SENTINELS[0]
      },
      () => this.current.close(),
      () => this.current.read(),
    ]
    return tag(fns[which], ['onProgress noop', 'onProgress throws', 'onProgress closes the store', 'onProgress re-enters'][which], 'function')
  }

  /** A callback for `updateMessage`/`updatePart`: it changes the draft, throws, closes the
   * store, re-enters it, or (hostile: JSON.stringify then throws) puts a BigInt in the draft. */
  mutateCallback() {
    const which = this.rng.int(5)
    const fns = [
      (d) => {
        d.text = `edited ${this.stats.calls}`
      },
      () => {
        throw SENTINELS[0]
      },
      () => this.current.close(),
      () => this.current.read(),
      (d) => {
        d.big = 1n
      },
    ]
    const labels = ['mutate edits', 'mutate throws', 'mutate closes the store', 'mutate re-enters', 'mutate adds a BigInt']
    return tag(fns[which], labels[which], 'function', which === 4 ? { hostile: true } : {})
  }

  /** A listener for `onChange`: it ignores the event or re-enters the store. Events come only
   * after a commit, so neither can change what a call returned. */
  changeListener() {
    const reenters = this.rng.chance(0.5)
    return tag(reenters ? () => this.current.read() : () => {}, reenters ? 'listener re-enters' : 'listener noop', 'function')
  }

  /** A callback for `Store.transaction`: it writes through the store it is given, then returns,
   * throws, returns a promise, closes the store, or nests a transaction that throws. */
  txCallback() {
    const which = this.rng.int(6)
    const write = (st) => {
      if (st.training) st.training.insertRun(`tx-${this.stats.calls}`, 'p', 'tx', null)
      else if (st.worktrees) st.worktrees.createSession('/w/editor', { id: `tx-${this.stats.calls}`, type: 'debate', task: 't', status: 'running', createdAt: 'c', updatedAt: 'u' })
      else if (st.chats) st.chats.createSession({ projectID: PROJECTS[0], directory: `tx-${this.stats.calls}` })
      else if (st.conversations) st.conversations.createSession({ title: `tx-${this.stats.calls}`, model: 'm' })
      else if (st.settings) st.settings.set(`tx-${this.stats.calls}`, this.stats.calls)
      else if (st.snapshots) st.analytics.record({ eventType: `tx-${this.stats.calls}` })
      else st.agents.upsert({ id: `tx-${this.stats.calls}`, agentName: `tx-${this.stats.calls}`, capability: 'c', worktreePath: '/w', branchName: 'b', taskId: 't', tmuxSession: 'x', state: 'working', startedAt: '2026-01-01T00:00:00.000Z', lastActivity: '2026-01-01T00:00:00.000Z' })
    }
    const throwsInside = (inner) => {
      write(inner)
      throw SENTINELS[0]
    }
    const fns = [
      (st) => (write(st), 42),
      (st) => throwsInside(st),
      (st) => (write(st), Promise.resolve(1)),
      (st) => (write(st), st.close()),
      (st) => st.transaction(throwsInside),
      (st) => {
        try {
          st.transaction(throwsInside)
        } catch (err) {
          if (err !== SENTINELS[0]) throw err
        }
        write(st)
      },
    ]
    const labels = ['tx writes', 'tx writes and throws', 'tx returns a promise', 'tx closes the store', 'tx nests a throwing tx', 'tx catches a nested throw and writes']
    return tag(fns[which], labels[which], 'function')
  }

  // ---- arguments ---------------------------------------------------------------------------

  /** Valid arguments, valid ones with one corrupted, or random values of any type. */
  argsFor(op) {
    const r = this.rng
    this.blockRows = r.pick([0, 1, 3])
    const valid = () => (op.genArgs ? op.genArgs(this) : op.params.map(([, type]) => (type.gen ? type.gen(this) : this.v.any())))
    const mode = r.weighted([[4, 'valid'], [5, 'corrupt'], [2, 'random']])
    if (mode === 'random' || op.params.length === 0) return Array.from({ length: r.int(op.params.length + 3) }, () => this.v.any())
    const list = valid()
    if (mode === 'corrupt') {
      const i = r.int(list.length)
      list[i] = this.corrupt(list[i])
    }
    return list
  }

  /** The value with one part replaced by a random one: itself, a field, or an array item. */
  corrupt(t) {
    const r = this.rng
    if (t.k === 'object' && t.f && !t.hostile && r.chance(0.8)) {
      const keys = Object.keys(t.f)
      const f = { ...t.f }
      const key = keys.length && r.chance(0.8) ? r.pick(keys) : r.pick(['run_id', 'step', 'stores', 'agents', 'onProgress', 'losses', 'x'])
      f[key] = f[key] && r.chance(0.4) ? this.corrupt(f[key]) : r.chance(0.5) ? this.v.hostile(() => this.v.any(1)) : this.v.any(1)
      return this.v.fromFields(f, t.nullProto)
    }
    if (t.k === 'array' && t.items && t.items.length && t.sparse === undefined && !t.hostile && r.chance(0.8)) {
      const items = [...t.items]
      const i = r.int(items.length)
      items[i] = r.chance(0.4) ? this.corrupt(items[i]) : this.v.any(1)
      const some = (key) => items.some((x) => x[key])
      return tag(items.map((x) => x.v), `[${items.map((x) => x.d).join(', ')}]`, 'array', { items, hostile: some('hostile'), foreign: some('foreign'), coerceFails: items.some(failsString) })
    }
    return r.chance(0.15) ? this.v.hostile(() => this.v.any(1)) : this.v.any()
  }

  // ---- calls -------------------------------------------------------------------------------

  async run() {
    process.chdir(this.root)
    // importLegacyJson() without a folder reads ~/.ait42/sessions: the fuzzer's folder.
    process.env.HOME = this.root
    this.hostileBundles = createFixtures(this.root, this.rng, this.v, this.stowage)
    this.open(path.join(this.root, 'db/t0.sqlite'))
    this.open(path.join(this.root, 'db/t1.sqlite'))
    this.open(path.join(this.root, 'agents/a0.db'), { stores: ['agents'] })
    this.open(path.join(this.root, 'worktrees/w0.db'), { stores: ['worktrees'] })
    this.open(path.join(this.root, 'chats/c0.db'), { stores: ['chats'] })
    this.open(path.join(this.root, 'conv/c0.sqlite'), { stores: ['conversations'] })
    this.open(path.join(this.root, 'settings/s0.sqlite'), { stores: ['settings'], settings: { namespace: 'sidepanel.', maxBytes: 1500 } })
    this.open(path.join(this.root, 'hist/h0.sqlite'), { stores: ['history'] })
    this.adoptFactory(this.stowage.createSessionStore(path.join(this.root, 'agents/a1.db')), 'SessionStore', path.join(this.root, 'agents/a1.db'))
    this.adoptFactory(this.stowage.createRunStore(path.join(this.root, 'agents/a1.db')), 'RunStore', path.join(this.root, 'agents/a1.db'))
    this.checkCoverage()
    const started = Date.now()
    for (let i = 0; i < this.calls; i++) {
      await this.step(i)
      if (i % 2000 === 1999) this.checkIntegrity(i)
    }
    this.finish()
    this.stats.ms = Date.now() - started
    return this.stats
  }

  /** Every function of the package must be in the surface the fuzzer calls. */
  checkCoverage() {
    const known = new Set(SURFACE.map((op) => `${op.on}.${op.name}`))
    const classes = ['Store', 'TrainingStore', 'AgentSessionStore', 'AgentRunStore', 'WorktreeStore', 'ChatStore', 'ConversationStore', 'SettingsStore', 'RecoveryStore', 'SnapshotStore', 'RecordingStore', 'AnalyticsStore']
    const present = Object.entries(this.stowage)
      .filter(([name, f]) => typeof f === 'function' && !classes.includes(name))
      .map(([name]) => `module.${name}`)
    present.push(...Object.keys(this.stowage.insertMetric).map((k) => `module.insertMetric.${k}`))
    for (const c of classes) present.push(...Object.getOwnPropertyNames(this.stowage[c].prototype).filter((k) => k !== 'constructor').map((k) => `${c}.${k}`))
    for (const { obj, kind } of this.factories) present.push(...Object.keys(obj).map((k) => `${kind}.${k}`))
    const missing = present.filter((label) => !known.has(label))
    if (missing.length) this.violate(-1, `not fuzzed: ${missing.join(', ')}`)
    this.stats.surface = known.size
  }

  /** Chooses and makes call number `i`, then judges its outcome. */
  async step(i) {
    const r = this.rng
    const kind = r.weighted([[90, 'surface'], [4, 'receiver'], [1, 'constructor'], [3, 'reopen']])
    if (kind === 'reopen') return this.reopen(i)
    if (kind === 'receiver' || kind === 'constructor') return this.misuse(i, kind)
    const op = r.pick(SURFACE)
    const t = this.target(op)
    this.current = { close: t.close, read: t.read, buffers: [] }
    const list = this.argsFor(op)
    const label = `${op.on}.${op.name}`
    this.note(i, `${label}(${list.map((a) => a.d).join(', ')})`)
    const ready = this.stowage.isReady()
    const fingerprint = this.fingerprintable(op, t, list) ? this.fingerprint(t.obj, op.on) : null
    const [name, member] = op.name.split('.')
    const values = list.map((a) => a.v)
    // What an onChange listener throws is rethrown as an uncaught exception, by design (as an
    // EventTarget's listener's is): a random function given as one must not end the run.
    if (op.on === 'ChatStore' && op.name === 'onChange' && typeof values[0] === 'function') values[0] = harmless(values[0])
    const call = () => (op.getter ? t.obj[name] : member ? t.obj[name][member](...values) : t.obj[name](...values))
    const began = process.hrtime.bigint()
    const outcome = await this.invoke(call, op.async)
    this.timed(i, label, began)
    if (op.on === 'module' && this.stowage.isReady()) this.opened.set(this.stowage.getDbPath(), 'training')
    this.count(label, outcome, list.some((a) => a.foreign))
    this.judge(i, op, list, outcome, ready)
    if (fingerprint !== null && outcome.threw && this.isOpen(t.obj, op.on)) {
      this.stats.failedWritesCompared++
      const after = this.fingerprint(t.obj, op.on)
      if (after !== fingerprint) this.violate(i, `${label} failed (${outcome.err && outcome.err.code}) but changed the store`, { before: fingerprint, after })
    }
    this.keep(op, list, outcome)
  }

  /** Calls `fn`; a promise it returns is awaited (with a time limit). */
  async invoke(fn, isAsync) {
    let ret
    try {
      ret = fn()
    } catch (err) {
      return { threw: true, err, sync: true }
    }
    if (isAsync) {
      if (!(ret instanceof Promise)) return { threw: false, ret, notPromise: true }
      let timer
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Violation(JSON.stringify({ message: `a promise did not settle in ${ASYNC_TIMEOUT_MS} ms` }))), ASYNC_TIMEOUT_MS)
      })
      try {
        return { threw: false, ret: await Promise.race([ret, timeout]) }
      } catch (err) {
        if (err instanceof Violation) throw err
        return { threw: true, err, sync: false }
      } finally {
        clearTimeout(timer)
      }
    }
    return { threw: false, ret }
  }

  /** The rules every outcome must follow. */
  judge(i, op, list, o, ready) {
    const label = `${op.on}.${op.name}`
    const hostile = list.some((a) => a.hostile)
    const foreign = list.some((a) => a.foreign)
    if (o.notPromise) this.violate(i, `${label} did not return a promise`)
    if (o.threw) {
      const problem = this.errorProblem(o.err, foreign)
      if (problem) this.violate(i, `${label}: ${problem}`, { error: describeError(o.err) })
      if (op.async && o.sync && !hostile) this.violate(i, `${label} threw instead of returning a rejected promise`, { error: describeError(o.err) })
    }
    if (hostile || (foreign && o.threw && o.err.code === undefined)) return
    if (op.on === 'module' && !ready && op.name !== 'initStorage') {
      if (op.kind === 'read' && o.threw) this.violate(i, `${label} before initStorage threw`, { error: describeError(o.err) })
      if (op.kind === 'write' && !op.contextWhenClosed && !this.gateOpen(op, list)) {
        if (!o.threw || o.err.code !== 'ERR_NOT_READY') this.violate(i, `${label} before initStorage did not throw ERR_NOT_READY`, { error: o.threw ? describeError(o.err) : null })
      }
      if (op.kind && !op.contextWhenClosed) return
    }
    if (op.on === 'module' && op.name === 'initStorage' && ready) return
    if (op.on === 'module' && this.gateOpen(op, list)) return
    let flags = 0
    op.params.forEach(([name, type], k) => {
      if (name === 'context' && op.contextWhenClosed && ready) return
      flags |= check(type, list[k] || undef())
    })
    if (flags & UNKNOWN) return
    // Without a default store, `loadBundle(dir, context)` opens one from `context` before it
    // looks at `dir`: creating that folder or file can fail first.
    if (op.contextWhenClosed && !ready && o.threw && o.err.code !== 'ERR_INVALID_ARG_TYPE') return
    const err = o.threw ? o.err : null
    const isType = err instanceof TypeError && err.code === 'ERR_INVALID_ARG_TYPE'
    const isRange = err instanceof RangeError && err.code === 'ERR_OUT_OF_RANGE'
    const isInvalid = err instanceof Error && err.code === 'ERR_INVALID_ARG'
    if (flags & (TYPE | RANGE | INVALID)) {
      const ok = ((flags & TYPE) && isType) || ((flags & RANGE) && isRange) || ((flags & INVALID) && isInvalid)
      const expected = [[TYPE, 'a TypeError'], [RANGE, 'a RangeError'], [INVALID, 'ERR_INVALID_ARG']].filter(([f]) => flags & f).map(([, d]) => d)
      if (!ok) this.violate(i, `${label}: expected ${expected.join(' or ')}`, { error: err ? describeError(err) : 'no error' })
    } else if (isType || isRange || err instanceof TypeError) {
      this.violate(i, `${label}: argument error for arguments of the documented types`, { error: describeError(err) })
    }
  }

  /**
   * `insertMetric.batch(rows)` returns at once when `!rows || !rows.length`: true for such rows,
   * and for rows whose length the tags do not model (numbers, functions, builtin objects), which
   * are then not judged further.
   */
  gateOpen(op, list) {
    if (op.name !== 'insertMetric.batch') return false
    const t = list[0] || undef()
    if (!truthy(t)) return true
    const length = {
      string: () => t.v.length,
      array: () => (t.sparse === undefined ? t.items.length : t.sparse),
      typed: () => t.len,
      object: () => t.f.length && t.f.length.v,
    }[t.k]
    return length === undefined || !length()
  }


  /** Why a thrown value breaks the error rules, or null. */
  errorProblem(err, foreign) {
    if (SENTINELS.includes(err)) return null
    if (!(err instanceof Error)) return `threw a non-Error (${typeof err})`
    if (foreign) return null
    if (SENTINELS.includes(err.cause)) return null
    if (typeof err.code !== 'string') return 'threw an Error without a string code'
    if (!CODE.test(err.code)) return `threw an Error with code ${err.code}, which is not a stowage, SQLite or errno code`
    return null
  }

  /** Keeps the slowest calls, for the report. */
  timed(i, label, began) {
    const ms = Number(process.hrtime.bigint() - began) / 1e6
    const slow = this.stats.slowest
    if (slow.length < 5 || ms > slow[slow.length - 1].ms) {
      slow.push({ call: i, label, ms: Math.round(ms) })
      slow.sort((a, b) => b.ms - a.ms)
      slow.length = Math.min(slow.length, 5)
    }
  }

  count(label, o, foreign = false) {
    this.stats.calls++
    this.stats.ops[label] = (this.stats.ops[label] || 0) + 1
    if (!o.threw) this.stats.succeeded[label] = (this.stats.succeeded[label] || 0) + 1
    if (o.threw) {
      this.stats.threw++
      const mine = SENTINELS.includes(o.err) || SENTINELS.includes(o.err && o.err.cause)
      const code = mine ? 'thrown by a getter' : foreign && o.err.code === undefined ? 'engine error of a caller value' : o.err instanceof Error ? String(o.err.code) : 'not an Error'
      this.stats.codes[code] = (this.stats.codes[code] || 0) + 1
      this.stats.examples[code] ??= `${label}: ${o.err instanceof Error ? o.err.message.slice(0, 160) : typeof o.err}`
    }
  }

  /** Stores opened by a call join the pool of call targets. */
  keep(op, list, o) {
    if (o.threw) return
    // A file opened with `stores: []` hosts no store, and is not reopened as one at the end.
    if (op.name === 'openStore') this.adopt(o.ret, o.ret.info().stores[0])
    if (op.name === 'createSessionStore') this.adoptFactory(o.ret, 'SessionStore', list[0].v)
    if (op.name === 'createRunStore') this.adoptFactory(o.ret, 'RunStore', list[0].v)
    if (op.name === 'openSessionStore') this.adoptFactory(o.ret.store, 'SessionStore', path.join(list[0].v, 'sessions.db'))
    if (op.on === 'ChatStore') this.keepChatIds(o.ret)
    // An autosave is stopped at once: no timer of it outlives the call, and its touch() and
    // stop() run too (what stop's save throws is the save's, judged with save itself).
    if (op.on === 'RecoveryStore' && op.name === 'autosave') {
      try {
        o.ret.touch()
        o.ret.stop()
      } catch {
        // See above.
      }
    }
    if ((op.on === 'SnapshotStore' || op.on === 'RecordingStore') && o.ret && typeof o.ret.id === 'string') {
      const pool = this.historyIds[op.on === 'SnapshotStore' ? 'snapshot' : 'recording']
      pool.push(o.ret.id)
      if (pool.length > 12) pool.shift()
    }
  }

  /** Remembers the ids of what a chats call returned (a session, message or part, or lists). */
  keepChatIds(ret) {
    const seen = (x) => {
      if (x === null || typeof x !== 'object') return
      if (Array.isArray(x)) return x.slice(0, 4).forEach(seen)
      if (x.info) seen(x.info)
      const prefix = typeof x.id === 'string' ? x.id.split('_')[0] : null
      const pool = this.chatIds[prefix]
      if (pool && !pool.includes(x.id)) {
        pool.push(x.id)
        if (pool.length > 12) pool.shift()
      }
    }
    seen(ret)
  }

  /** Opens one of the pool's files again (a second connection), keeping the pool populated. */
  reopen(i) {
    const kind = this.rng.weighted([[5, 'training'], [3, 'agents'], [2, 'worktrees'], [2, 'chats'], [2, 'conversations'], [1, 'settings'], [2, 'history']])
    const files = { training: ['db/t0.sqlite', 'db/t1.sqlite', 'db/t2.sqlite'], agents: ['agents/a0.db', 'agents/a1.db'], worktrees: ['worktrees/w0.db', 'worktrees/w1.db'], chats: ['chats/c0.db', 'chats/c1.db'], conversations: ['conv/c0.sqlite', 'conv/c1.sqlite'], settings: ['settings/s0.sqlite', 'settings/s1.sqlite'], history: ['hist/h0.sqlite', 'hist/h1.sqlite'] }[kind]
    const file = path.join(this.root, this.rng.pick(files))
    this.note(i, `reopen ${file}`)
    try {
      this.open(file, kind === 'training' ? undefined : { stores: [kind] })
      this.count('reopen', { threw: false })
    } catch (err) {
      this.violate(i, `reopening ${file} failed`, { error: describeError(err) })
    }
  }

  /** Methods called on a wrong receiver, classes called as constructors: coded TypeErrors. */
  async misuse(i, kind) {
    const r = this.rng
    const classes = ['Store', 'TrainingStore', 'AgentSessionStore', 'AgentRunStore', 'WorktreeStore', 'ChatStore', 'ConversationStore', 'SettingsStore', 'RecoveryStore', 'SnapshotStore', 'RecordingStore', 'AnalyticsStore']
    const name = r.pick(classes)
    const C = this.stowage[name]
    const list = Array.from({ length: r.int(3) }, () => this.v.any())
    let label
    let fn
    if (kind === 'constructor') {
      const asNew = r.chance(0.5)
      label = `${asNew ? 'new ' : ''}${name}(${list.map((a) => a.d).join(', ')})`
      fn = () => (asNew ? new C(...list.map((a) => a.v)) : C(...list.map((a) => a.v)))
    } else {
      const proto = C.prototype
      const member = r.pick(Object.getOwnPropertyNames(proto).filter((k) => k !== 'constructor'))
      const d = Object.getOwnPropertyDescriptor(proto, member)
      const others = this.stores.filter(Boolean).map((s) => s.store)
      const wrong = r.pick([
        tag(undefined, 'undefined'), tag({}, '{}'), tag(Object.create(proto), `Object.create(${name}.prototype)`), tag(5, '5'),
        ...others.flatMap((st) => [st, ...Object.values(st)]).filter((o) => !(o instanceof C)).slice(0, 1).map((o) => tag(o, `a ${o.constructor.name}`)),
      ])
      label = `${name}.prototype.${member}${d.get ? ' (getter)' : ''}.call(${wrong.d}${list.map((a) => `, ${a.d}`).join('')})`
      fn = () => (d.get ? d.get.call(wrong.v) : d.value.call(wrong.v, ...list.map((a) => a.v)))
    }
    this.note(i, label)
    const o = await this.invoke(fn, false)
    this.count(kind, o)
    if (!o.threw) return this.violate(i, `${label} did not throw`)
    if (list.some((a) => a.hostile) && SENTINELS.includes(o.err)) return
    // A caller value the engine itself refuses (a revoked proxy) may be read before the receiver.
    if (list.some((a) => a.foreign) && o.err instanceof TypeError && o.err.code === undefined) return
    if (!(o.err instanceof TypeError) || typeof o.err.code !== 'string' || !CODE.test(o.err.code)) {
      this.violate(i, `${label}: expected a TypeError with a code`, { error: describeError(o.err) })
    }
  }

  // ---- store checks ------------------------------------------------------------------------

  isOpen(obj, on) {
    if (on === 'module') return this.stowage.isReady()
    return this.stores.some((s) => s.store.isOpen && [s.store, ...Object.values(s.store)].includes(obj)) || (this.factories.some((f) => f.obj === obj) && this.tryRead(obj))
  }

  tryRead(obj) {
    try {
      ;(obj.getAll || obj.listRuns)()
      return true
    } catch {
      return false
    }
  }

  /** A failed write must leave the store as it was: compare its contents around such calls. */
  fingerprintable(op, t, list) {
    if (op.getter || op.name === 'close' || op.name === 'closeStorage' || list.some((a) => a.hostile || a.foreign)) return false
    if (op.on === 'Store' && op.name !== 'transaction') return false
    if (!['module', 'Store', 'TrainingStore', 'AgentSessionStore', 'AgentRunStore', 'WorktreeStore', 'ChatStore', 'ConversationStore', 'SettingsStore', 'RecoveryStore', 'SnapshotStore', 'RecordingStore', 'AnalyticsStore', 'SessionStore', 'RunStore'].includes(op.on)) return false
    if (op.on === 'module' && (op.kind !== 'write' || !this.stowage.isReady() || op.name === 'initStorage')) return false
    return this.rng.chance(0.25) && this.isOpen(t.obj, op.on)
  }

  fingerprint(obj, on) {
    if (on === 'Store') {
      if (obj.training) return this.fingerprint(obj.training, 'TrainingStore')
      if (obj.settings) return this.fingerprint(obj.settings, 'SettingsStore')
      if (obj.snapshots) return this.fingerprint(obj, 'history')
      return obj.worktrees ? this.fingerprint(obj.worktrees, 'WorktreeStore') : obj.chats ? this.fingerprint(obj.chats, 'ChatStore') : obj.conversations ? this.fingerprint(obj.conversations, 'ConversationStore') : this.fingerprint(obj.agents, 'AgentSessionStore')
    }
    if (['SnapshotStore', 'RecordingStore', 'AnalyticsStore'].includes(on)) {
      const owner = this.stores.find((s) => s.store.isOpen && [s.store.snapshots, s.store.recordings, s.store.analytics].includes(obj))
      return owner ? this.fingerprint(owner.store, 'history') : null
    }
    if (on === 'history') {
      try {
        const h = obj
        return json([h.snapshots.list().map((x) => h.snapshots.get(x.id)), h.snapshots.totalBytes(), h.recordings.list().map((x) => h.recordings.get(x.id)), h.analytics.query({ groupBy: 'hour' })])
      } catch {
        return null
      }
    }
    if (on === 'ChatStore') {
      try {
        const c = obj
        const sessions = PROJECTS.flatMap((p) => c.listSessions(p))
        const ids = [...new Set([...sessions.map((x) => x.id), ...this.chatIds.sess])]
        return json([sessions, PROJECTS.map((p) => c.getPermission(p)), ids.map((id) => [c.listMessages(id, { withParts: true }), c.getTodos(id)])])
      } catch {
        return null
      }
    }
    try {
      if (on === 'module' || on === 'TrainingStore') {
        const t = obj
        const out = [t.listRuns().map((r) => [r.run_id, r.parents]), t.isSavingEverything(), t.listSessions().length]
        for (const id of RUN_IDS) {
          out.push(t.getRunRows(id), t.getLogs(id).length, t.getTestRows(id), t.getRunSummary(id), t.getRunSubset(id), t.latestCheckpointForRun(id), t.getReportLossDist(id, 'train'))
        }
        for (const sid of ['s0', 's1', 's2']) out.push(t.getFinalModel(sid))
        return json(out)
      }
      if (on === 'WorktreeStore') return json([obj.listSessions(), obj.stats(), WORKSPACES.map((w) => obj.getAllSessions(w))])
      if (on === 'SettingsStore') return json([obj.exportAll(), obj.usage()])
      if (on === 'RecoveryStore') return json(obj.check({ maxAgeMs: 2 ** 53 - 1 }))
      if (on === 'ConversationStore') {
        const sessions = obj.listSessions()
        return json([sessions, sessions.map((x) => [obj.listMessages(x.id), obj.getBranches(x.id)]), CONVERSATIONS.map((id) => obj.getSession(id))])
      }
      const agents = obj.getAll ? obj : null
      if (agents) return json([agents.getAll(), AGENTS.map((a) => agents.getByName(a))])
      return json(obj.listRuns())
    } catch {
      return null
    }
  }

  /** Every open store of the pool passes SQLite's integrity check. */
  checkIntegrity(i) {
    for (const { store } of this.stores) {
      if (!store.isOpen) continue
      const res = store.integrityCheck()
      this.stats.integrityChecks++
      if (json(res) !== '["ok"]') this.violate(i, `integrityCheck of ${store.path} failed`, { result: res })
    }
  }

  /** After the run: every file opened on the way opens again, is intact and answers queries;
   * nothing was written outside the fuzzer's folder. */
  finish() {
    for (const { store } of this.stores) store.close()
    for (const { obj } of this.factories) obj.close()
    this.stowage.closeStorage({ retainFile: true })
    for (const [file, kind] of this.opened) {
      if (!fs.existsSync(file)) continue
      let s
      try {
        s = this.stowage.openStore(file, { stores: [kind] })
      } catch (err) {
        if (['SQLITE_NOTADB', 'ERR_SCHEMA_CONFLICT', 'SQLITE_CANTOPEN', 'ERR_INVALID_ARG'].includes(err.code)) continue
        this.violate(this.calls, `${file} no longer opens`, { error: describeError(err) })
      }
      const res = s.integrityCheck()
      if (json(res) !== '["ok"]') this.violate(this.calls, `final integrityCheck of ${file} failed`, { result: res })
      if (kind === 'training') s.training.listRuns().forEach((r) => s.training.getRunRows(r.run_id))
      else if (kind === 'worktrees') s.worktrees.listSessions()
      else if (kind === 'chats') s.chats.listSessions(PROJECTS[0]).forEach((x) => s.chats.listMessages(x.id, { withParts: true }))
      else if (kind === 'conversations') s.conversations.listSessions().forEach((x) => s.conversations.listMessages(x.id))
      else if (kind === 'settings') s.settings.list().forEach((e) => s.settings.get(e.key))
      else if (kind === 'history') {
        s.snapshots.list().forEach((x) => s.snapshots.get(x.id))
        const [{ n }] = s.query('SELECT (SELECT total_bytes FROM snapshot_usage) - (SELECT coalesce(sum(size_bytes), 0) FROM snapshots) AS n')
        if (n !== 0) this.violate(this.calls, `${file}: the snapshots' running total is off by ${n}`)
        s.recordings.list().forEach((x) => s.recordings.get(x.id))
      }
      else s.agents.getAll()
      s.close()
    }
    for (const p of ESCAPES) if (fs.existsSync(p)) this.violate(this.calls, `a file was created outside the fuzzer's folder: ${p}`)
    this.stats.files = this.opened.size
    this.stats.uncalled = SURFACE.map((op) => `${op.on}.${op.name}`).filter((label) => !this.stats.ops[label])
  }

  note(i, text) {
    const line = `#${i} ${text.length > 600 ? `${text.slice(0, 600)}…` : text}\n`
    fs.writeSync(this.log, line)
  }

  /** Stops the run, or with --survey records the first example of each kind of violation. */
  violate(i, message, details = {}) {
    if (!this.survey) throw new Violation(JSON.stringify({ call: i, message, ...details }))
    const key = `${message.replace(/\(.*\)/g, '(…)').replace(/^\w+\.prototype\.\w+/, '<method>').replace(/^(new )?\w+\(…\)/, '<constructor>')} ${details.error ? `${details.error.name} ${details.error.code}` : ''}`
    this.stats.violations[key] ??= { count: 0, call: i, message, ...details }
    this.stats.violations[key].count++
  }
}

/** `f` with whatever it throws caught. */
function harmless(f) {
  return (...args) => {
    try {
      f(...args)
    } catch {
      // See the onChange call in step().
    }
  }
}

function describeError(err) {
  if (!(err instanceof Error)) return { thrown: typeof err === 'symbol' ? String(err) : typeof err === 'object' ? json(err) : String(err) }
  return { name: err.constructor && err.constructor.name, code: err.code, message: String(err.message).slice(0, 300) }
}

async function main() {
  const opts = args(process.argv.slice(2))
  const fuzzer = new Fuzzer(opts)
  try {
    const stats = await fuzzer.run()
    process.stdout.write(`${JSON.stringify({ ok: true, stats })}\n`)
    process.exit(0)
  } catch (err) {
    const violation = err instanceof Violation ? JSON.parse(err.message) : { message: `the fuzzer itself failed: ${err && err.stack}` }
    process.stdout.write(`${JSON.stringify({ ok: false, violation, stats: fuzzer.stats })}\n`)
    process.exit(3)
  }
}

process.on('unhandledRejection', (reason) => {
  process.stdout.write(`${JSON.stringify({ ok: false, violation: { message: 'unhandled rejection', error: describeError(reason) } })}\n`)
  process.exit(3)
})

main()
