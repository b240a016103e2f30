#!/usr/bin/env node
'use strict'
// The conversations store's goals (issue 15): `appendMessage` (autocommit) and `listMessages` of
// 10,000 messages against the same SQL on better-sqlite3 13 under Node 22, and `searchMessages`
// (top 20 with snippets) over 100,000 messages of chat-like text.
//
//   node bench/conversations.js [--runs 7]
//
// Installs the baselines into bench/.deps on first use (bench/deps.js) and builds the data files
// into bench/.data/conversations. Both engines run in one Node 22 process, alternately, on copies
// of the same files. Prints medians; writes bench/results/conversations.json.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const data = path.join(__dirname, '.data', 'conversations')

function opt(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const RUNS = Number(opt('runs', 7))
const APPENDS = 5000
const LISTED = 10_000
const SEARCHED = 100_000
const QUERIES = ['deploy', 'cache invalidation', 'typescript error', 'database migration', 'retry', 'memory leak', 'release notes', 'token', 'unit test', 'refactor the parser']

const log = (msg) => process.stderr.write(`${msg}\n`)
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

/** A seeded generator of chat-like text: a Zipf-distributed vocabulary of 20,000 words (the
 * frequent ones function words, technical words at ranks 40 to about 9,000, pseudo-words
 * for the rest), 8 to 70 words a message, so that a technical word is in 0.1–12% of messages. */
function chatText(seed) {
  let x = seed >>> 0 || 1
  const rand = () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32)
  const VOCABULARY = 20_000
  const common = 'the a to of and in is it that for you this with on be can we not are if or have but as do so what just there'.split(' ')
  const topic = ('deploy cache invalidation error typescript database migration schema query index retry timeout request response memory leak profile ' +
    'release notes version branch merge conflict commit review test unit integration mock fixture parser token lexer refactor function class module ' +
    'import export config option flag environment variable docker container kubernetes pod service endpoint api client server socket stream buffer ' +
    'file path folder permission user session login password hash encrypt key secret log trace metric alert dashboard chart latency throughput ' +
    'worker thread async promise callback event queue job scheduler cron backup restore snapshot archive compress upload download network proxy').split(' ')
  const syllables = 'ka lo mi ne ru ta vo si pe du ga li zo fe mu ra ti no be ha'.split(' ')
  const word = (rank) => {
    if (rank < common.length) return common[rank]
    const t = (rank - 40) / 60
    if (Number.isInteger(t) && t < topic.length) return topic[t]
    let w = ''
    for (let r = rank; w.length < 4 || r > 0; r = Math.floor(r / syllables.length)) w += syllables[r % syllables.length]
    return w
  }
  const words = Array.from({ length: VOCABULARY }, (_, r) => word(r))
  // Zipf with exponent 1: rank r with probability about 1 / (r · ln N).
  const draw = () => words[Math.min(VOCABULARY - 1, Math.floor(VOCABULARY ** rand()) - 1)]
  return () => {
    const out = []
    const n = 8 + Math.floor(rand() * 62)
    for (let i = 0; i < n; i++) out.push(draw())
    return out.join(' ').replace(/^./, (c) => c.toUpperCase()) + (rand() < 0.2 ? '?' : '.')
  }
}

// ---- the engines, run side by side in one Node 22 process (`conversations.js --engines <data
// dir> <runs> <better-sqlite3>`): each run of a workload runs once per engine, alternately, so a
// change in the shared machine's load falls on both.

/** stowage: `{ append(run), list(), search(query) }` on the data folder's files. */
function stowageEngine(dir) {
  const { openStore } = require(root)
  const list = openStore(path.join(dir, 'list-stowage.sqlite'), { stores: ['conversations'] })
  const search = openStore(path.join(dir, 'search.sqlite'), { stores: ['conversations'] })
  return {
    append(r, messages) {
      const store = openStore(path.join(dir, `append-stowage-${r}.sqlite`), { stores: ['conversations'] })
      const c = store.conversations
      const t0 = process.hrtime.bigint()
      for (const m of messages) c.appendMessage('bench', m)
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      store.close()
      return ms
    },
    list: () => list.conversations.listMessages('listed'),
    search: (q) => search.conversations.searchMessages(q, { limit: 20 }),
  }
}

/** better-sqlite3 13 with the store's own SQL: `{ append(run), list() }`. */
function betterSqliteEngine(dir, module) {
  const Database = require(module)
  const open = (file) => {
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    return db
  }
  const listDb = open(path.join(dir, 'list-bs3.sqlite'))
  const listed = listDb.prepare(`SELECT m.id AS id, m.session_id AS sessionId, m.role AS role, m.content AS content, m.created_at AS createdAt,
    m.prompt_tokens AS promptTokens, m.completion_tokens AS completionTokens, m.sequence AS sequence, m.cost AS cost, m.tool_calls AS toolCalls
    FROM messages m WHERE session_id = ? AND sequence > ? ORDER BY sequence LIMIT ?`)
  return {
    append(r, messages) {
      const db = open(path.join(dir, `append-bs3-${r}.sqlite`))
      // The store's statements, with named parameters (better-sqlite3 does not bind `?NNN` by position).
      const bump = db.prepare(`UPDATE sessions SET prompt_tokens = coalesce(prompt_tokens, 0) + @p, completion_tokens = coalesce(completion_tokens, 0) + @c,
        cost = coalesce(cost, 0) + @cost, updated_at = max(updated_at, @now) WHERE id = @s`)
      const insert = db.prepare(`INSERT INTO messages (id, session_id, role, content, created_at, prompt_tokens, completion_tokens, tool_calls, sequence, cost, fts_rowid)
        VALUES (lower(hex(randomblob(16))), @s, @role, @content, @now, @p, @c, @calls, (SELECT coalesce(max(sequence), 0) + 1 FROM messages WHERE session_id = @s),
          @cost, (SELECT coalesce(max(fts_rowid), 0) + 1 FROM messages)) RETURNING id, sequence`)
      const appendMessage = db.transaction((sessionId, m) => {
        const createdAt = new Date().toISOString()
        const toolCalls = m.toolCalls == null ? null : JSON.stringify(m.toolCalls)
        if (bump.run({ s: sessionId, p: m.promptTokens ?? 0, c: m.completionTokens ?? 0, cost: m.cost ?? 0, now: createdAt }).changes === 0) throw new Error('no session')
        const row = { s: sessionId, role: m.role, content: m.content, now: createdAt, p: m.promptTokens ?? null, c: m.completionTokens ?? null, calls: toolCalls, cost: m.cost ?? null }
        const { id, sequence } = insert.get(row)
        return { id, sessionId, role: m.role, content: m.content, createdAt, promptTokens: m.promptTokens ?? null, completionTokens: m.completionTokens ?? null, sequence, cost: m.cost ?? null, toolCalls: m.toolCalls ?? null }
      })
      const t0 = process.hrtime.bigint()
      for (const m of messages) appendMessage.immediate('bench', m)
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      db.close()
      return ms
    },
    list() {
      const rows = listed.all('listed', Number.MIN_SAFE_INTEGER, -1)
      for (const row of rows) if (row.toolCalls !== null) row.toolCalls = JSON.parse(row.toolCalls)
      return rows
    },
  }
}

/** The mean time of `calls` calls of `fn`, ms. */
function timed(fn, calls) {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) fn()
  return Number(process.hrtime.bigint() - t0) / 1e6 / calls
}

/** Runs every workload `runs` times after one warm-up, the engines alternately; medians. */
function runEngines(dir, runs, module) {
  const engines = { stowage: stowageEngine(dir), 'better-sqlite3 13': betterSqliteEngine(dir, module) }
  const times = {}
  const record = (workload, engine, ms, r) => {
    if (r === 0) return
    ;((times[workload] ??= {})[engine] ??= []).push(ms)
  }
  for (let r = 0; r <= runs; r++) {
    const text = chatText(r + 1)
    const messages = Array.from({ length: APPENDS }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: text(), promptTokens: 10, completionTokens: 20, cost: 0.001 }))
    for (const [name, e] of Object.entries(engines)) record(`appendMessage ×${APPENDS} (autocommit)`, name, e.append(r, messages), r)
    for (const [name, e] of Object.entries(engines)) record(`listMessages ${LISTED.toLocaleString('en')}`, name, timed(e.list, 5), r)
    for (const q of QUERIES) record(`search \`${q}\``, 'stowage', timed(() => engines.stowage.search(q), 20), r)
  }
  const out = {}
  for (const [w, byEngine] of Object.entries(times)) out[w] = Object.fromEntries(Object.entries(byEngine).map(([e, xs]) => [e, median(xs)]))
  return out
}

// ---- the harness

/** Writes the store file `name` in the data folder, filled by `fill(conversations)`. */
function make(name, fill) {
  const { openStore } = require(root)
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(data, name + suffix), { force: true })
  const store = openStore(path.join(data, name), { stores: ['conversations'] })
  store.transaction(() => fill(store.conversations))
  store.checkpoint('TRUNCATE')
  store.close()
}

/** The data files: for every run a fresh store with one session to append to, and (built once) a
 * session of 10,000 messages (a tenth with tool calls) and 100,000 messages over 200 sessions to
 * search. */
function ensureData() {
  fs.mkdirSync(data, { recursive: true })
  for (let r = 0; r <= RUNS; r++) {
    for (const engine of ['stowage', 'bs3']) make(`append-${engine}-${r}.sqlite`, (c) => c.createSession({ id: 'bench', title: 'bench', model: 'm' }))
  }
  const marker = path.join(data, 'ready.json')
  if (fs.existsSync(marker)) return
  log('building the data files (once) ...')
  const text = chatText(7)
  make('list-stowage.sqlite', (c) => {
    c.createSession({ id: 'listed', title: 'listed', model: 'm' })
    for (let i = 0; i < LISTED; i++) {
      c.appendMessage('listed', { role: i % 2 ? 'assistant' : 'user', content: text(), promptTokens: 10 + (i % 50), completionTokens: 30, cost: 0.0004, toolCalls: i % 10 === 9 ? [{ name: 'grep', args: { q: 'retry' } }] : null })
    }
  })
  fs.copyFileSync(path.join(data, 'list-stowage.sqlite'), path.join(data, 'list-bs3.sqlite'))
  make('search.sqlite', (c) => {
    for (let s = 0; s < 200; s++) c.createSession({ id: `s${s}`, title: `session ${s}`, model: 'm' })
    for (let i = 0; i < SEARCHED; i++) c.appendMessage(`s${i % 200}`, { role: i % 2 ? 'assistant' : 'user', content: text() })
  })
  fs.writeFileSync(marker, '{}')
}

function main() {
  const { node22, betterSqlite13 } = require('./deps.js')
  const bs13 = betterSqlite13()
  ensureData()
  log('running stowage and better-sqlite3 13 on Node 22 ...')
  const r = spawnSync(node22(), [__filename, '--engines', data, String(RUNS), bs13], { encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`the engines failed:\n${r.stderr}`)
  const medians = JSON.parse(r.stdout)
  const searches = Object.entries(medians).filter(([w]) => w.startsWith('search ')).map(([, m]) => m.stowage)
  const table = Object.entries(medians)
    .filter(([w]) => !w.startsWith('search '))
    .map(([workload, m]) => ({ workload, stowage: m.stowage, 'better-sqlite3 13': m['better-sqlite3 13'], speedup: m['better-sqlite3 13'] / m.stowage }))
  table.push({ workload: `searchMessages top 20 over ${SEARCHED.toLocaleString('en')}: median of the ${QUERIES.length} queries`, stowage: median(searches) })
  table.push({ workload: `searchMessages top 20 over ${SEARCHED.toLocaleString('en')}: slowest query`, stowage: Math.max(...searches) })
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} cores (${os.cpus()[0].model}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB, ${os.type()} ${os.release()}`,
    command: `node bench/conversations.js --runs ${RUNS}`,
    medians,
    table,
  }
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'conversations.json'), JSON.stringify(result, null, 2))
  const f = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
  console.log(`Node 22, medians of ${RUNS} runs, ms (speedup = better-sqlite3 time / stowage time)\n`)
  console.log('| workload | stowage | better-sqlite3 13 | speedup |\n|---|---|---|---|')
  for (const t of table) console.log(`| ${t.workload} | ${f(t.stowage)} | ${f(t['better-sqlite3 13'])} | ${t.speedup ? `${t.speedup.toFixed(2)}×` : '—'} |`)
  console.log('\n| query | ms |\n|---|---|')
  for (const [w, m] of Object.entries(medians)) if (w.startsWith('search ')) console.log(`| ${w.slice(7)} | ${f(m.stowage)} |`)
}

if (process.argv[2] === '--engines') {
  const [dir, runs, module] = process.argv.slice(3)
  process.stdout.write(JSON.stringify(runEngines(dir, Number(runs), module)))
} else {
  main()
}
