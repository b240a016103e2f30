// SIGKILL never leaves half an import or half an update in a worktrees file. The import child
// (fixtures/worktrees-child.js) holds still at every progress event until the test lets it go
// on, so each kill lands at a chosen point of the import of a large legacy tree: the file then
// holds none of it (killed before the commit) or all of it (after). The update child replaces one
// session's children generation after generation and reports each update it finished; killed
// after a chosen report, the session is exactly that generation or the next, never a mix.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { openStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { sqlQuery } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'
import { instance, message, session } from './helpers/worktrees'

const root = tempDir('stowage-worktrees-kill-')
const entry = join(__dirname, '..', 'index.js')
const child = join(__dirname, 'fixtures', 'worktrees-child.js')

type Event = { phase: string; filesDone: number; filesTotal: number }
type Run = { killed: boolean; lines: string[] }

/** Runs the child; `kill(line)` says, for each line it prints, whether to SIGKILL it there
 * (otherwise a waiting child is let go on). */
function runChild(args: string[], kill: (line: string) => boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, args[0], entry, ...args.slice(1)], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines: string[] = []
    let killed = false
    p.stdin.on('error', () => undefined)
    eachLine(p.stdout, (line) => {
      if (killed) return
      lines.push(line)
      if (kill(line)) {
        killed = true
        p.kill('SIGKILL')
      } else if (line.startsWith('{')) p.stdin.write('\n')
    })
    p.on('error', reject)
    p.on('exit', (code, signal) => {
      if (killed && signal === 'SIGKILL') resolve({ killed, lines })
      else if (!killed && code === 0) resolve({ killed, lines })
      else reject(new Error(`child exited ${code ?? signal}; last line ${lines.at(-1)}`))
    })
  })
}

const FILES = 700
const PER_FILE = 3
/** A legacy tree of FILES workspaces, PER_FILE sessions each with 2 instances and 2 messages. */
function legacyTree(): string {
  const dir = join(root, 'legacy')
  mkdirSync(dir)
  for (let f = 0; f < FILES; f++) {
    const hash = f.toString(16).padStart(16, '0')
    const sessions = Array.from({ length: PER_FILE }, (_, s) => {
      const id = `${hash}-${s}`
      return session(id, { instances: [instance(0), instance(1)], chatHistory: [message(`${id}-a`, '2025-01-13T10:00:00Z'), message(`${id}-b`, '2025-01-13T10:00:01Z')] })
    })
    writeFileSync(join(dir, `${hash}.json`), JSON.stringify(sessions, null, 2))
  }
  return dir
}

const counts = (db: string) =>
  sqlQuery<Record<string, number>>(db, `SELECT (SELECT count(*) FROM workspaces) AS workspaces, (SELECT count(*) FROM sessions) AS sessions,
    (SELECT count(*) FROM instances) AS instances, (SELECT count(*) FROM chat_messages) AS messages`)[0]

const NOTHING = { workspaces: 0, sessions: 0, instances: 0, messages: 0 }
const EVERYTHING = { workspaces: FILES, sessions: FILES * PER_FILE, instances: 2 * FILES * PER_FILE, messages: 2 * FILES * PER_FILE }

it('a kill at each point of importLegacyJson of a large tree leaves nothing of it, or all of it', async () => {
  const legacy = legacyTree()
  const points: Array<{ name: string; at: (e: Event) => boolean; expected: typeof NOTHING }> = [
    { name: 'listing the files', at: (e) => e.phase === 'scan', expected: NOTHING },
    { name: 'with the transaction open, before any file', at: (e) => e.phase === 'import' && e.filesDone === 0, expected: NOTHING },
    { name: 'after 256 files', at: (e) => e.phase === 'import' && e.filesDone === 256, expected: NOTHING },
    { name: 'after the last file', at: (e) => e.phase === 'import' && e.filesDone === FILES, expected: NOTHING },
    { name: 'just before the commit', at: (e) => e.phase === 'commit', expected: NOTHING },
    { name: 'after the commit', at: (e) => e.phase === 'done', expected: EVERYTHING },
  ]
  for (const [i, point] of points.entries()) {
    const db = join(root, `import-${i}.db`)
    openStore(db, { stores: ['worktrees'] }).close()
    const r = await runChild(['import', db, legacy], (line) => line.startsWith('{') && point.at(JSON.parse(line)))
    expect(r.killed, point.name).toBe(true)
    expect(sqlQuery(db, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
    expect(counts(db), `killed ${point.name}`).toEqual(point.expected)
  }
  const db = join(root, 'import-whole.db')
  openStore(db, { stores: ['worktrees'] }).close()
  const r = await runChild(['import', db, legacy], () => false)
  expect(r.lines.at(-1)).toBe('done')
  expect(counts(db)).toEqual(EVERYTHING)
}, 120_000)

it('a kill after a chosen updateSession leaves that generation of the children or the next, never a mix', async () => {
  for (const after of [1, 4, 9]) {
    const db = join(root, `update-${after}.db`)
    const workspace = join(root, 'workspace')
    const store = openStore(db, { stores: ['worktrees'] })
    store.worktrees.createSession(workspace, session('u', { task: 'gen 0', instances: [instance(0, { branch: 'gen-0' })], chatHistory: [message('gen-0-0', 't')] }))
    store.close()
    const r = await runChild(['update', db, workspace], (line) => line === `acked ${after}`)
    expect(r.killed).toBe(true)
    expect(sqlQuery(db, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
    const [{ task }] = sqlQuery<{ task: string }>(db, "SELECT task FROM sessions WHERE id = 'u'")
    const g = Number(task.slice(4))
    expect([after, after + 1]).toContain(g)
    const count = 10 + (g % 3) * 5
    expect(sqlQuery(db, "SELECT DISTINCT branch FROM instances WHERE session_id = 'u'")).toEqual([{ branch: `gen-${g}` }])
    expect(sqlQuery(db, "SELECT count(*) AS n FROM instances WHERE session_id = 'u'")).toEqual([{ n: count }])
    expect(sqlQuery(db, "SELECT DISTINCT content FROM chat_messages WHERE session_id = 'u'")).toEqual([{ content: `gen ${g}` }])
    expect(sqlQuery(db, "SELECT count(*) AS n FROM chat_messages WHERE session_id = 'u'")).toEqual([{ n: count }])
  }
}, 120_000)
