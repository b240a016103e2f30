// Several processes on one conversations file: concurrent appends get every sequence exactly
// once, and a SIGKILL during appends or archive restores loses nothing that was acknowledged
// and leaves no gap, no partial session and the full-text index in step with its table.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

import { openStore } from '../index.js'
import { eachLine } from './helpers/lines'
import { sqlExec } from './helpers/sqlite'
import { tempDir } from './helpers/tmp'

const root = tempDir('stowage-conversations-proc-')
const entry = join(__dirname, '..', 'index.js')
const fixture = join(__dirname, 'fixtures', 'conversations-writer.js')

interface Writer {
  /** Lines acknowledged so far. */
  acked: string[]
  ready: Promise<void>
  /** Resolves once `n` lines are acknowledged. */
  reach(n: number): Promise<void>
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; errors: string }>
  go(): void
  kill(): void
}

function writer(args: string[]): Writer {
  const p = spawn(process.execPath, [fixture, entry, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const acked: string[] = []
  let onReady: () => void
  const ready = new Promise<void>((r) => (onReady = r))
  const waiting: Array<[number, () => void]> = []
  let errors = ''
  eachLine(p.stdout!, (line) => {
    if (line === 'ready') return onReady()
    if (line.startsWith('error ')) errors += line + '\n'
    else acked.push(line)
    for (const [n, resolve] of waiting) if (acked.length >= n) resolve()
  })
  p.stderr!.on('data', (d) => (errors += d))
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; errors: string }>((resolve, reject) => {
    p.on('error', reject)
    p.on('close', (status, signal) => {
      for (const [, resolve] of waiting) resolve()
      resolve({ status, signal, errors })
    })
  })
  return {
    acked,
    ready,
    reach: (n) => new Promise<void>((r) => (acked.length >= n ? r() : waiting.push([n, r]))),
    done,
    go: () => p.stdin!.write('go\n'),
    kill: () => p.kill('SIGKILL'),
  }
}

/** A new file with one session; returns its path and the session id. */
function fresh(name: string) {
  const file = join(root, `${name}.sqlite`)
  const store = openStore(file, { stores: ['conversations'] })
  const id = store.conversations.createSession({ title: name, model: 'm' }).id
  store.close()
  return { file, id }
}

/** Throws unless the full-text index is in step with `messages` (FTS5's own check, read by
 * Python's SQLite, independently of stowage). */
function ftsInStep(file: string) {
  sqlExec(file, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
}

/** Checks the file after the writers: every acknowledged sequence stored, 1..n without a gap,
 * the session's totals the messages', the index in step, integrity ok. */
function check(file: string, id: string, writers: Writer[]) {
  const store = openStore(file, { stores: ['conversations'] })
  const c = store.conversations
  const messages = c.listMessages(id)
  expect(messages.map((m) => m.sequence)).toEqual(messages.map((_, i) => i + 1))
  const stored = new Set(messages.map((m) => m.sequence))
  const acked = writers.flatMap((w) => w.acked.map(Number))
  expect(new Set(acked).size).toBe(acked.length)
  for (const seq of acked) expect(stored.has(seq), `sequence ${seq}`).toBe(true)
  expect(c.getSession(id)!.promptTokens).toBe(messages.length)
  expect(c.searchMessages('writer', { limit: 1_000_000 })).toHaveLength(messages.length)
  expect(store.integrityCheck()).toEqual(['ok'])
  store.close()
  ftsInStep(file)
  return { acked, stored: messages.length }
}

it('four processes appending to one session: every sequence exactly once', async () => {
  const { file, id } = fresh('four')
  const COUNT = 150
  const writers = [0, 1, 2, 3].map((w) => writer([file, 'append', id, String(w), String(COUNT)]))
  await Promise.all(writers.map((w) => w.ready))
  for (const w of writers) w.go()
  for (const w of writers) expect(await w.done).toEqual({ status: 0, signal: null, errors: '' })
  const { acked, stored } = check(file, id, writers)
  expect(acked.sort((a, b) => a - b)).toEqual(Array.from({ length: 4 * COUNT }, (_, i) => i + 1))
  expect(stored).toBe(4 * COUNT)
}, 120_000)

it('SIGKILL of three appending processes loses no acknowledged message and leaves no gap', async () => {
  for (let round = 0; round < 4; round++) {
    const { file, id } = fresh(`kill-append-${round}`)
    const writers = [0, 1, 2].map((w) => writer([file, 'append', id, String(w), '0']))
    await Promise.all(writers.map((w) => w.ready))
    for (const w of writers) w.go()
    // Each writer is killed once it has had a different number of appends acknowledged.
    await Promise.all(writers.map((w, i) => w.reach(10 + 15 * i + 7 * round).then(() => w.kill())))
    for (const w of writers) expect((await w.done).signal).toBe('SIGKILL')
    const { acked, stored } = check(file, id, writers)
    expect(stored).toBeGreaterThanOrEqual(acked.length)
  }
}, 120_000)

it('SIGKILL during archive restores leaves each restored session whole or absent', async () => {
  const { file, id } = fresh('kill-restore')
  const archive = join(root, 'big.json.gz')
  const store = openStore(file, { stores: ['conversations'] })
  const c = store.conversations
  store.transaction(() => {
    for (let i = 0; i < 3000; i++) c.appendMessage(id, { role: 'user', content: `writer archived #${i}` })
  })
  c.exportArchive(id, archive)
  store.close()
  for (let round = 0; round < 3; round++) {
    const w = writer([file, 'restore', archive, '0'])
    await w.ready
    w.go()
    await w.reach(round + 1)
    w.kill()
    expect((await w.done).signal).toBe('SIGKILL')
    const s = openStore(file, { stores: ['conversations'] })
    const sessions = s.conversations.listSessions()
    for (const restored of w.acked) expect(sessions.some((x) => x.id === restored), restored).toBe(true)
    for (const x of sessions) expect(s.conversations.listMessages(x.id), x.title).toHaveLength(3000)
    expect(s.integrityCheck()).toEqual(['ok'])
    s.close()
    ftsInStep(file)
  }
  const s = openStore(file, { stores: ['conversations'] })
  const total = s.conversations.listSessions().length
  expect(s.conversations.searchMessages('archived', { limit: 1_000_000 })).toHaveLength(3000 * total)
  s.close()
}, 120_000)
