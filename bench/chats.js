#!/usr/bin/env node
'use strict'
// The chats store against etcode's own persistence path (Drizzle ORM 0.45 on better-sqlite3 13,
// the code of etcode's Message/Part namespaces) and hand-written better-sqlite3 SQL, on Node 22:
//
//   node bench/chats.js [--runs 7]
//
// - load: a session of 1,000 messages with 5,000 parts (text and tool payloads), read with its
//   parts: etcode's Message.list then Part.list per message; two hand-written queries; stowage's
//   listMessages(sessionID, { withParts: true }) (and the stowage/etcode drop-in's etcode path);
// - stream: a tool part updated 100 times as its output grows: etcode's Part.update
//   (read-modify-write, no transaction) against updatePart (one transaction per update);
// - import: opencode JSON trees of 10,000 and 50,000 files, files per second and the growth of
//   the process's resident memory during the import.
//
// On first use it fetches Node 22 (scripts/node-versions.js) and installs better-sqlite3 13 and
// drizzle-orm 0.45 into bench/.deps/chats, and builds the data into bench/.data/chats. Prints
// medians and ratios (baseline time / stowage time: above 1 means stowage is faster) and writes
// bench/results/chats.json.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { createRequire } = require('node:module')

const root = path.resolve(__dirname, '..')
const deps = path.join(__dirname, '.deps', 'chats')
const data = path.join(__dirname, '.data', 'chats')
const i = process.argv.indexOf('--runs')
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 7
const log = (msg) => process.stderr.write(`${msg}\n`)

function node22() {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'node-versions.js')], { encoding: 'utf8' })
  const bin = out.trim().split(/[:\n]/).find((p) => p.includes('node-22'))
  if (!bin) throw new Error('scripts/node-versions.js printed no Node 22')
  return bin
}

if (process.versions.node.split('.')[0] !== '22') {
  const bin = node22()
  if (!fs.existsSync(path.join(deps, 'node_modules', 'drizzle-orm'))) {
    log('installing better-sqlite3 13 and drizzle-orm 0.45 into bench/.deps/chats ...')
    fs.mkdirSync(deps, { recursive: true })
    execFileSync('npm', ['install', '--loglevel=error', '--prefix', deps, '--no-save', '--no-audit', '--no-fund', 'better-sqlite3@13', 'drizzle-orm@0.45'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, PATH: `${path.dirname(bin)}:${process.env.PATH}` },
    })
  }
  const r = spawnSync(bin, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

const req = createRequire(path.join(deps, 'package.json'))
const BetterSqlite3 = req('better-sqlite3')
const { drizzle } = req('drizzle-orm/better-sqlite3')
const { eq, asc } = req('drizzle-orm')
const { sqliteTable, text, integer } = req('drizzle-orm/sqlite-core')
const { openStore } = require(root)
const etcode = require(path.join(root, 'etcode.js'))
const { rng } = require(path.join(root, 'stress', 'rng.js'))

// ---- etcode's Drizzle schema and functions (session.sql.ts, message.ts, part.ts) ----------

const MessageTable = sqliteTable('message', {
  id: text().primaryKey(),
  session_id: text().notNull(),
  time_created: integer().notNull(),
  time_updated: integer().notNull(),
  data: text({ mode: 'json' }).notNull(),
})
const PartTable = sqliteTable('part', {
  id: text().primaryKey(),
  message_id: text().notNull(),
  session_id: text().notNull(),
  time_created: integer().notNull(),
  time_updated: integer().notNull(),
  data: text({ mode: 'json' }).notNull(),
})

function messageFromRow(row) {
  const d = row.data
  const base = { id: row.id, sessionID: row.session_id }
  if (d.role === 'user') return { ...base, role: 'user', content: d.content, time: d.time }
  return { ...base, role: 'assistant', finish: d.finish, error: d.error, summary: d.summary, agent: d.agent, tokens: d.tokens, time: d.time }
}

function partFromRow(row) {
  const d = row.data
  const base = { id: row.id, messageID: row.message_id }
  if (d.type === 'text') return { ...base, type: 'text', text: d.text }
  if (d.type === 'step-start' || d.type === 'step-finish') return { ...base, type: d.type, snapshot: d.snapshot }
  return { ...base, type: 'tool', tool: d.tool, callID: d.callID, state: d.state }
}

const partToData = (p) => (p.type === 'text' ? { type: 'text', text: p.text } : p.type === 'tool' ? { type: 'tool', tool: p.tool, callID: p.callID, state: p.state } : { type: p.type, snapshot: p.snapshot })

/** etcode's Database.open: better-sqlite3 with its pragmas, Drizzle over it. */
function etcodeDb(file) {
  const sqlite = new BetterSqlite3(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('cache_size = -64000')
  sqlite.pragma('foreign_keys = ON')
  return { sqlite, db: drizzle(sqlite) }
}

/** etcode loading a session: Message.list, then Part.list for each message. */
function drizzleLoad(db, sessionID) {
  const messages = db.select().from(MessageTable).where(eq(MessageTable.session_id, sessionID)).orderBy(asc(MessageTable.time_created)).all().map(messageFromRow)
  return messages.map((info) => ({ info, parts: db.select().from(PartTable).where(eq(PartTable.message_id, info.id)).orderBy(asc(PartTable.time_created)).all().map(partFromRow) }))
}

/** etcode's Part.update: read, mutate, write, without a transaction. */
function drizzleUpdate(db, id, fn) {
  const row = db.select().from(PartTable).where(eq(PartTable.id, id)).get()
  if (!row) return undefined
  const part = partFromRow(row)
  fn(part)
  db.update(PartTable).set({ data: partToData(part), time_updated: Date.now() }).where(eq(PartTable.id, id)).run()
  return part
}

/** The same load as two hand-written statements on better-sqlite3. */
function rawLoader(sqlite) {
  const messages = sqlite.prepare('SELECT id, session_id, data FROM message WHERE session_id = ? ORDER BY time_created, rowid')
  const parts = sqlite.prepare('SELECT p.id, p.message_id, p.data FROM part p JOIN message m ON m.id = p.message_id WHERE m.session_id = ? ORDER BY p.time_created, p.rowid')
  return (sessionID) => {
    const byMessage = new Map()
    const out = messages.all(sessionID).map((m) => {
      const item = { info: { ...JSON.parse(m.data), id: m.id, sessionID: m.session_id }, parts: [] }
      byMessage.set(m.id, item.parts)
      return item
    })
    for (const p of parts.all(sessionID)) byMessage.get(p.message_id).push({ ...JSON.parse(p.data), id: p.id, messageID: p.message_id })
    return out
  }
}

// ---- data ---------------------------------------------------------------------------------

const WORDS = 'the a function returns value file test error build module import export const let async await promise string number object array type interface class method'.split(' ')
function prose(random, chars) {
  let s = ''
  while (s.length < chars) s += `${WORDS[Math.floor(random() * WORDS.length)]} `
  return s
}
function output(random, lines) {
  return Array.from({ length: lines }, (_, k) => `src/${WORDS[Math.floor(random() * WORDS.length)]}/${k}.ts:${Math.floor(random() * 400)}: ${prose(random, 40 + Math.floor(random() * 80))}`).join('\n')
}

/** One session of 1,000 messages (user and assistant turns) with 5,000 parts: per assistant
 * turn a step-start, two texts, six tool calls with completed state and a step-finish. */
function buildLoadFile(file) {
  const random = rng(7)
  fs.rmSync(file, { force: true })
  const store = openStore(file, { stores: ['chats'] })
  const { chats } = store
  const session = chats.createSession({ projectID: 'proj_bench', directory: '/work/app', title: 'bench' })
  store.transaction(() => {
    for (let turn = 0; turn < 500; turn++) {
      chats.createMessage({ sessionID: session.id, role: 'user', content: prose(random, 100 + Math.floor(random() * 600)) })
      const m = chats.createMessage({ sessionID: session.id, role: 'assistant', agent: 'build' })
      const part = (p) => chats.createPart({ messageID: m.id, sessionID: session.id, ...p })
      part({ type: 'step-start', snapshot: 'a1b2c3d' })
      part({ type: 'text', text: prose(random, 200 + Math.floor(random() * 1300)) })
      for (let t = 0; t < 6; t++) {
        const start = 1_780_000_000_000 + turn * 1000 + t
        part({ type: 'tool', tool: ['bash', 'read', 'edit', 'grep'][t % 4], callID: `call_${turn}_${t}`, state: { status: 'completed', input: { command: prose(random, 40) }, output: output(random, 5 + Math.floor(random() * 40)), title: prose(random, 30), time: { start, end: start + 120 } } })
      }
      part({ type: 'text', text: prose(random, 200 + Math.floor(random() * 1300)) })
      part({ type: 'step-finish', snapshot: 'e4f5a6b' })
    }
  })
  store.checkpoint('TRUNCATE')
  store.close()
  return session.id
}

/** An opencode storage tree of `files` files: a project, sessions of 100 messages, parts. */
function buildTree(dir, files) {
  if (fs.existsSync(path.join(dir, 'done'))) return
  fs.rmSync(dir, { recursive: true, force: true })
  const random = rng(files)
  const put = (rel, body) => {
    const p = path.join(dir, rel)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.writeFileSync(p, JSON.stringify(body))
  }
  put('project/proj_1.json', { id: 'proj_1', worktree: '/work' })
  const sessions = Math.max(1, Math.round(files / 1000))
  const messages = sessions * 100
  for (let s = 0; s < sessions; s++) put(`session/proj_1/ses_${s}.json`, { id: `ses_${s}`, directory: '/work', title: `session ${s}`, time: { created: s, updated: s } })
  for (let m = 0; m < messages; m++) put(`message/ses_${m % sessions}/msg_${m}.json`, m % 2 ? { role: 'assistant', agent: 'build', time: { created: m, completed: m + 1 } } : { role: 'user', content: prose(random, 200), time: { created: m } })
  for (let p = 0; p < files - 1 - sessions - messages; p++) {
    const m = p % messages
    put(`part/msg_${m}/prt_${p}.json`, p % 3 ? { type: 'text', text: prose(random, 400) } : { type: 'tool', tool: 'bash', state: { status: 'completed', input: { command: 'ls' }, output: output(random, 10) } })
  }
  fs.writeFileSync(path.join(dir, 'done'), '')
}

// ---- measuring ----------------------------------------------------------------------------

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
function time(fn, runs = RUNS) {
  fn()
  const ms = []
  for (let k = 0; k < runs; k++) {
    const t = process.hrtime.bigint()
    fn()
    ms.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  return median(ms)
}

function countParts(list) {
  return list.reduce((n, m) => n + m.parts.length, 0)
}

function load(file, sessionID) {
  const { sqlite, db } = etcodeDb(file)
  const raw = rawLoader(sqlite)
  const store = openStore(file, { stores: ['chats'] })
  etcode.Database.close()
  etcode.Database.open(file)
  const P = 'proj_bench'
  const viaEtcode = () => etcode.Message.list(P, sessionID).map((info) => ({ info, parts: etcode.Part.list(P, info.id) }))
  for (const [name, list] of [['drizzle', drizzleLoad(db, sessionID)], ['raw', raw(sessionID)], ['stowage', store.chats.listMessages(sessionID, { withParts: true })], ['drop-in', viaEtcode()]]) {
    if (list.length !== 1000 || countParts(list) !== 5000) throw new Error(`${name} loaded ${list.length} messages, ${countParts(list)} parts`)
  }
  const out = {
    drizzle: time(() => drizzleLoad(db, sessionID)),
    raw: time(() => raw(sessionID)),
    stowage: time(() => store.chats.listMessages(sessionID, { withParts: true })),
    dropIn: time(() => viaEtcode()),
  }
  etcode.Database.close()
  store.close()
  sqlite.close()
  return out
}

function stream(file, sessionID) {
  const { sqlite, db } = etcodeDb(file)
  const store = openStore(file, { stores: ['chats'] })
  const { chats } = store
  const messageID = chats.listMessages(sessionID)[1].id
  const random = rng(3)
  const lines = Array.from({ length: 100 }, () => output(random, 2))
  const loop = (update) => {
    const part = chats.createPart({ messageID, sessionID, type: 'tool', tool: 'bash', callID: 'c', state: { status: 'running', input: { command: 'npm test' }, output: '' } })
    for (const line of lines) {
      update(part.id, (draft) => {
        draft.state = { ...draft.state, output: `${draft.state.output}${line}\n` }
      })
    }
  }
  etcode.Database.close()
  etcode.Database.open(file)
  const out = {
    drizzle: time(() => loop((id, fn) => drizzleUpdate(db, id, fn))),
    stowage: time(() => loop((id, fn) => chats.updatePart(id, fn))),
    dropIn: time(() => loop((id, fn) => etcode.Part.update('proj_bench', messageID, id, fn))),
  }
  etcode.Database.close()
  store.close()
  sqlite.close()
  return out
}

function importTree(files) {
  const tree = path.join(data, `tree${files}`)
  buildTree(tree, files)
  const runs = []
  for (let k = 0; k < 3; k++) {
    const file = path.join(data, `import${files}.db`)
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true })
    const store = openStore(file, { stores: ['chats'] })
    global.gc?.()
    const base = process.memoryUsage().rss
    let peak = base
    const t = process.hrtime.bigint()
    const report = store.chats.importLegacyJson(tree, { onProgress: () => (peak = Math.max(peak, process.memoryUsage().rss)) })
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    store.close()
    const rows = Object.values(report.counts).reduce((a, b) => a + b, 0)
    if (rows !== files - 1 || report.errors.length) throw new Error(`import of ${files} files wrote ${rows} rows, ${report.errors.length} errors`)
    runs.push({ ms, growthMiB: (peak - base) / 2 ** 20 })
  }
  const ms = median(runs.map((r) => r.ms))
  return { files, ms, filesPerSecond: Math.round(files / (ms / 1000)), rssGrowthMiB: Number(median(runs.map((r) => r.growthMiB)).toFixed(1)) }
}

function main() {
  fs.mkdirSync(data, { recursive: true })
  const file = path.join(data, 'load.db')
  log('building a session of 1,000 messages and 5,000 parts ...')
  const sessionID = buildLoadFile(file)
  log(`load (${RUNS} runs) ...`)
  const l = load(file, sessionID)
  log(`stream (${RUNS} runs) ...`)
  const s = stream(file, sessionID)
  log('import (3 runs per tree) ...')
  const imports = [importTree(10_000), importTree(50_000)]
  const r = (a, b) => Number((a / b).toFixed(2))
  const results = {
    node: process.version,
    betterSqlite3: req('better-sqlite3/package.json').version,
    drizzle: JSON.parse(fs.readFileSync(path.join(deps, 'node_modules', 'drizzle-orm', 'package.json'), 'utf8')).version,
    runs: RUNS,
    load: { ms: l, vsDrizzle: r(l.drizzle, l.stowage), vsRaw: r(l.raw, l.stowage), dropInVsDrizzle: r(l.drizzle, l.dropIn) },
    stream: { ms: s, vsDrizzle: r(s.drizzle, s.stowage), dropInVsDrizzle: r(s.drizzle, s.dropIn) },
    imports,
  }
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'chats.json'), `${JSON.stringify(results, null, 2)}\n`)
  console.log(JSON.stringify(results, null, 2))
}

main()
