// The conversations store through the package root: sessions, messages and their sequence,
// forks, full-text search and archives (the sidepanel spec 37/78, reference §1).
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { beforeEach, describe, expect, it } from 'vitest'

import { ArchiveProgress, ConversationStore, openStore, StoreWith } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-conversations-')
let n = 0
let file: string
let store: StoreWith<'conversations'>
let c: ConversationStore

beforeEach(() => {
  file = join(root, `c${++n}.sqlite`)
  store = openStore(file, { stores: ['conversations'] })
  c = store.conversations
  return () => store.close()
})

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

function say(sessionId: string, content: string, over: object = {}) {
  return c.appendMessage(sessionId, { role: 'user', content, ...over })
}

describe('sessions', () => {
  it('are created with the spec defaults and ISO timestamps, and read back', () => {
    const s = c.createSession({ title: 'Plans', model: 'llama-3.3-70b' })
    expect(s).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      title: 'Plans',
      createdAt: expect.stringMatching(ISO),
      updatedAt: s.createdAt,
      model: 'llama-3.3-70b',
      provider: 'venice',
      branchName: 'main',
      parentSessionId: null,
      branchPoint: null,
      promptTokens: 0,
      completionTokens: 0,
      cost: 0,
      isArchived: false,
      isImported: false,
    })
    expect(c.getSession(s.id)).toEqual(s)
    expect(c.getSession('nope')).toBeNull()
    const mine = c.createSession({ id: 'mine', title: 'T', model: 'm', provider: 'openai' })
    expect([mine.id, mine.provider]).toEqual(['mine', 'openai'])
    expect(thrown(() => c.createSession({ id: 'mine', title: 'T', model: 'm' })).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY')
    expect(thrown(() => c.createSession({ title: '', model: 'm' })).code).toBe('ERR_INVALID_ARG')
  })

  it('list most recently updated first, filtered by archive state and title, paged', () => {
    const a = c.createSession({ id: 'a', title: 'Rust notes', model: 'm' })
    const b = c.createSession({ id: 'b', title: 'Groceries', model: 'm' })
    const cc = c.createSession({ id: 'c', title: 'rust release', model: 'm' })
    // Bump in a known order, each at a later millisecond: a, then c, then b is the most recent.
    let last = ''
    for (const s of [a, cc, b]) {
      do last = c.updateSession(s.id, { title: s.title }).updatedAt
      while (last <= c.listSessions().filter((x) => x.id !== s.id).map((x) => x.updatedAt).sort().at(-1)!)
    }
    c.archiveSession('b', true)
    const ids = (o?: Parameters<ConversationStore['listSessions']>[0]) => c.listSessions(o).map((s) => s.id)
    expect(ids()).toEqual(['b', 'c', 'a'])
    expect(ids({ archived: false })).toEqual(['c', 'a'])
    expect(ids({ archived: true })).toEqual(['b'])
    expect(ids({ search: 'RUST' })).toEqual(['c', 'a'])
    expect(ids({ limit: 1, offset: 1 })).toEqual(['c'])
    expect(c.getSession('b')!.isArchived).toBe(true)
    c.archiveSession('b', false)
    expect(ids({ archived: true })).toEqual([])
  })

  it('update, archive and delete a missing session as ERR_NOT_FOUND; delete takes the messages', () => {
    const s = c.createSession({ title: 'Old', model: 'm' })
    const u = c.updateSession(s.id, { title: 'New', model: 'm2', provider: 'p', branchName: 'alt' })
    expect([u.title, u.model, u.provider, u.branchName]).toEqual(['New', 'm2', 'p', 'alt'])
    expect(thrown(() => c.updateSession(s.id, { isArchived: true } as any)).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => c.updateSession('nope', { title: 'x' })).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => c.archiveSession('nope', true)).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => c.deleteSession('nope')).code).toBe('ERR_NOT_FOUND')
    say(s.id, 'hello')
    c.deleteSession(s.id)
    expect(c.getSession(s.id)).toBeNull()
    expect(c.listMessages(s.id)).toEqual([])
    expect(sqlQuery(file, 'SELECT count(*) AS n FROM messages')).toEqual([{ n: 0 }])
    expect(c.searchMessages('hello')).toEqual([])
  })

  it('wrong argument types are TypeErrors naming the argument', () => {
    const s = c.createSession({ title: 'T', model: 'm' })
    const cases: Array<[() => unknown, string]> = [
      [() => c.createSession({ title: 1, model: 'm' } as any), 'createSession: session.title'],
      [() => c.getSession(5 as any), 'getSession: id'],
      [() => c.listSessions({ archived: 'yes' } as any), 'listSessions: options.archived'],
      [() => c.archiveSession(s.id, 1 as any), 'archiveSession: archived'],
      [() => c.appendMessage(s.id, { role: 'user', content: 5 } as any), 'appendMessage: message.content'],
      [() => c.appendMessage(s.id, { role: 'user', content: 'x', toolCalls: {} } as any), 'appendMessage: message.toolCalls'],
      [() => c.listMessages(s.id, { limit: 'all' } as any), 'listMessages: options.limit'],
      [() => c.forkSession(s.id, {} as any), 'forkSession: options.atSequence'],
      [() => c.searchMessages('x', { highlight: ['<b>'] } as any), 'searchMessages: options.highlight'],
      [() => c.exportArchive(s.id, 7 as any), 'exportArchive: file'],
    ]
    for (const [fn, prefix] of cases) {
      const err = thrown(fn)
      expect(err).toBeInstanceOf(TypeError)
      expect(err.message.startsWith(prefix), err.message).toBe(true)
    }
    expect(thrown(() => c.listSessions({ limit: -1 })).code).toBe('ERR_OUT_OF_RANGE')
    expect(thrown(() => c.searchMessages('x', { limit: 0 })).code).toBe('ERR_OUT_OF_RANGE')
    expect(thrown(() => new (ConversationStore as any)()).code).toBe('ERR_ILLEGAL_CONSTRUCTOR')
  })
})

describe('messages', () => {
  it('get the next sequence and add their tokens and cost to the session in one go', () => {
    const s = c.createSession({ title: 'Chat', model: 'm' })
    const first = say(s.id, 'hi')
    expect(first).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      sessionId: s.id,
      role: 'user',
      content: 'hi',
      createdAt: expect.stringMatching(ISO),
      promptTokens: null,
      completionTokens: null,
      sequence: 1,
      cost: null,
      toolCalls: null,
    })
    const calls = [{ name: 'read', args: { path: 'a.rs', lines: [1, 2] } }]
    const second = c.appendMessage(s.id, { role: 'assistant', content: 'reading', toolCalls: calls, promptTokens: 12, completionTokens: 30, cost: 0.25 })
    expect([second.sequence, second.toolCalls]).toEqual([2, calls])
    say(s.id, 'thanks', { promptTokens: 3, cost: 0.5 })
    const after = c.getSession(s.id)!
    expect([after.promptTokens, after.completionTokens, after.cost]).toEqual([15, 30, 0.75])
    expect(after.updatedAt >= s.updatedAt).toBe(true)
    const all = c.listMessages(s.id)
    expect(all.map((m) => m.sequence)).toEqual([1, 2, 3])
    expect(all[0]).toEqual(first)
    expect(all[1]).toEqual(second)
    expect(c.listMessages(s.id, { afterSequence: 1, limit: 1 }).map((m) => m.content)).toEqual(['reading'])
    expect(c.listMessages('nope')).toEqual([])
  })

  it('a refused append writes nothing', () => {
    const s = c.createSession({ title: 'Strict', model: 'm' })
    expect(thrown(() => c.appendMessage('nope', { role: 'user', content: 'x' })).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => say(s.id, 'x', { promptTokens: -1 })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => say(s.id, 'x', { cost: Infinity })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => say(s.id, 'x', { promptTokens: 1.5 })).code).toBe('ERR_OUT_OF_RANGE')
    const cyclic: unknown[] = []
    cyclic.push(cyclic)
    expect(thrown(() => say(s.id, 'x', { toolCalls: cyclic })).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(c.listMessages(s.id)).toEqual([])
    expect(c.getSession(s.id)).toEqual(s)
  })

  it('an append inside store.transaction is undone with it', () => {
    const s = c.createSession({ title: 'Tx', model: 'm' })
    expect(() =>
      store.transaction(() => {
        say(s.id, 'undone', { promptTokens: 5 })
        throw new Error('no')
      }),
    ).toThrow('no')
    expect(c.listMessages(s.id)).toEqual([])
    expect(c.getSession(s.id)!.promptTokens).toBe(0)
    expect(say(s.id, 'kept').sequence).toBe(1)
  })
})

describe('forks', () => {
  it('copy the messages up to the branch point with new ids and recomputed totals', () => {
    const s = c.createSession({ title: 'Trip', model: 'm', provider: 'openai' })
    for (const [i, text] of ['plan', 'book', 'pack', 'go'].entries()) say(s.id, text, { promptTokens: i + 1, cost: 0.5 })
    const f = c.forkSession(s.id, { atSequence: 2 })
    expect(f).toMatchObject({ parentSessionId: s.id, branchPoint: 2, branchName: 'branch-1', title: 'Trip', provider: 'openai', promptTokens: 3, cost: 1 })
    const copied = c.listMessages(f.id)
    const original = c.listMessages(s.id)
    expect(copied.map((m) => [m.sequence, m.content, m.createdAt])).toEqual(original.slice(0, 2).map((m) => [m.sequence, m.content, m.createdAt]))
    expect(copied.some((m) => original.some((o) => o.id === m.id))).toBe(false)
    expect(say(f.id, 'detour').sequence).toBe(3)
    const named = c.forkSession(s.id, { atSequence: 4, branchName: 'all', title: 'Trip, all' })
    expect([named.branchName, named.title]).toEqual(['all', 'Trip, all'])
    expect(thrown(() => c.forkSession(s.id, { atSequence: 5 })).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => c.forkSession('nope', { atSequence: 1 })).code).toBe('ERR_NOT_FOUND')
  })

  it('getBranches gives the tree below a session; a deleted parent leaves its forks as roots', () => {
    const root = c.createSession({ title: 'Root', model: 'm' })
    say(root.id, 'a')
    const a = c.forkSession(root.id, { atSequence: 1, branchName: 'a' })
    const a1 = c.forkSession(a.id, { atSequence: 1, branchName: 'a1' })
    const b = c.forkSession(root.id, { atSequence: 1, branchName: 'b' })
    // Siblings made in the same millisecond come in id order: compare them by name.
    type Tree = ReturnType<ConversationStore['getBranches']>
    const shape = (list: Tree): unknown => list.map((x) => [x.session.branchName, shape(x.branches)]).sort()
    const tree = c.getBranches(root.id)
    expect(shape(tree)).toEqual([['a', [['a1', []]]], ['b', []]])
    expect(tree.find((x) => x.session.id === a.id)!.branches[0].session).toEqual(a1)
    expect(c.getBranches(b.id)).toEqual([])
    expect(thrown(() => c.getBranches('nope')).code).toBe('ERR_NOT_FOUND')
    c.deleteSession(root.id)
    expect(c.getSession(a.id)).toMatchObject({ parentSessionId: null, branchPoint: 1 })
    expect(c.getBranches(a.id).map((x) => x.session.id)).toEqual([a1.id])
  })
})

describe('search', () => {
  it('ranks by bm25 with highlighted snippets, per session or everywhere', () => {
    const s = c.createSession({ title: 'S', model: 'm' })
    const t = c.createSession({ title: 'T', model: 'm' })
    say(s.id, 'the release notes mention the release date of the release')
    say(s.id, 'a release, once, among many other words that dilute the match quite a lot')
    say(s.id, 'nothing here')
    say(t.id, 'release elsewhere')
    const hits = c.searchMessages('release')
    expect(hits).toHaveLength(3)
    expect(hits[0].message.sequence).toBe(1)
    expect(hits[0].snippet).toBe('the <mark>release</mark> notes mention the <mark>release</mark> date of the <mark>release</mark>')
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1].rank <= hits[i].rank).toBe(true)
    expect(c.searchMessages('Release', { sessionId: t.id, highlight: ['[', ']'] }).map((h) => h.snippet)).toEqual(['[release] elsewhere'])
    expect(c.searchMessages('release', { limit: 1 })).toHaveLength(1)
    expect(c.searchMessages('release notes')).toHaveLength(1)
  })

  it('user text is never FTS syntax; raw syntax errors are ERR_SEARCH_SYNTAX', () => {
    const s = c.createSession({ title: 'S', model: 'm' })
    say(s.id, 'use AND or NOT, "quoted" text and a* star')
    for (const q of ['AND', 'NOT', '"', '"quoted', 'col:on', 'a*', '(', 'NEAR(', '^', '-', '*', '\u0000', 'NOT AND OR', '   ']) {
      expect(() => c.searchMessages(q), q).not.toThrow()
    }
    expect(c.searchMessages('AND')).toHaveLength(1)
    expect(c.searchMessages('quot* OR zebra', { raw: true })).toHaveLength(1)
    for (const q of ['AND', '"open', 'nope:x', '(a']) {
      expect(thrown(() => c.searchMessages(q, { raw: true })).code, q).toBe('ERR_SEARCH_SYNTAX')
    }
  })
})

describe('archives', () => {
  function sample() {
    const s = c.createSession({ title: 'Design review', model: 'm' })
    say(s.id, 'first')
    c.appendMessage(s.id, { role: 'assistant', content: 'second with a tool', toolCalls: [{ name: 'grep', args: { q: 'x' } }], promptTokens: 12, completionTokens: 30, cost: 0.125 })
    return s
  }

  it('restore as a new session with new ids and " (restored)" appended', () => {
    const s = sample()
    const out = join(root, `a${n}.json.gz`)
    const e = c.exportArchive(s.id, out)
    expect(e).toEqual({ file: out, messages: 2, bytes: readFileSync(out).length })
    const r = c.restoreArchive(out)
    expect(r.id).not.toBe(s.id)
    expect(r).toMatchObject({ title: 'Design review (restored)', isImported: true, createdAt: s.createdAt, promptTokens: 12, completionTokens: 30, cost: 0.125, parentSessionId: null })
    const before = c.listMessages(s.id)
    const after = c.listMessages(r.id)
    expect(after.map(({ id, sessionId, ...rest }) => rest)).toEqual(before.map(({ id, sessionId, ...rest }) => rest))
    expect(after.some((m) => before.some((b) => b.id === m.id))).toBe(false)
    expect(c.searchMessages('tool').map((h) => h.message.sessionId).sort()).toEqual([s.id, r.id].sort())
  })

  it('a hostile archive is ERR_ARCHIVE_INVALID with nothing written', () => {
    const s = sample()
    const out = join(root, `h${n}.json.gz`)
    c.exportArchive(s.id, out)
    const good = readFileSync(out)
    const doc = JSON.parse(require('node:zlib').gunzipSync(good).toString())
    const edit = (f: (d: any) => void) => {
      const d = structuredClone(doc)
      f(d)
      return gzipSync(JSON.stringify(d))
    }
    const cases: Record<string, Buffer> = {
      'not gzip': Buffer.from('{}'),
      truncated: good.subarray(0, good.length >> 1),
      'not JSON': gzipSync('nope'),
      deep: gzipSync('['.repeat(50_000) + ']'.repeat(50_000)),
      format: edit((d) => (d.format = 'zip')),
      shape: edit((d) => (d.messages = 'none')),
      role: edit((d) => (d.messages[0].role = 5)),
      timestamp: edit((d) => (d.messages[1].createdAt = '2026-01-01 00:00:00')),
      duplicate: edit((d) => d.messages.push(d.messages[0])),
    }
    const bad = join(root, `bad${n}.json.gz`)
    for (const [name, bytes] of Object.entries(cases)) {
      writeFileSync(bad, bytes)
      expect(thrown(() => c.restoreArchive(bad)).code, name).toBe('ERR_ARCHIVE_INVALID')
    }
    expect(c.listSessions()).toHaveLength(1)
    expect(sqlQuery(file, 'SELECT count(*) AS n FROM messages')).toEqual([{ n: 2 }])
  })

  it('the async twins report progress and settle with the same results', async () => {
    const s = sample()
    for (let i = 0; i < 1200; i++) say(s.id, `filler ${i}`)
    const out = join(root, `async${n}.json.gz`)
    const exportEvents: ArchiveProgress[] = []
    const e = await c.exportArchiveAsync(s.id, out, { onProgress: (p) => exportEvents.push(p) })
    expect(e.messages).toBe(1202)
    expect(exportEvents.map((p) => [p.phase, p.done])).toEqual([['read', 0], ['read', 1000], ['write', 0], ['write', 1202]])
    const restoreEvents: string[] = []
    const r = await c.restoreArchiveAsync(out, { onProgress: (p) => restoreEvents.push(p.phase) })
    expect(r.title).toBe('Design review (restored)')
    expect(c.listMessages(r.id)).toHaveLength(1202)
    expect(restoreEvents).toEqual(['read', 'read', 'validate', 'restore', 'commit'])
    const boom = new Error('stop')
    await expect(c.restoreArchiveAsync(out, { onProgress: (p) => { if (p.phase === 'commit') throw boom } })).rejects.toBe(boom)
    await expect(c.exportArchiveAsync('nope', join(root, 'none.json.gz'))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await expect(c.restoreArchiveAsync(7 as any)).rejects.toBeInstanceOf(TypeError)
    expect(existsSync(join(root, 'none.json.gz'))).toBe(false)
    expect(c.listSessions()).toHaveLength(2)
  })
})

it('store.conversations exists only on a file opened with the store, which cannot host agents', () => {
  expect(store.conversations).toBeInstanceOf(ConversationStore)
  const training = openStore(join(root, 'training.sqlite'))
  expect((training as any).conversations).toBeUndefined()
  training.close()
  const err = thrown(() => openStore(join(root, 'both.sqlite'), { stores: ['conversations', 'agents'] }))
  expect(err.code).toBe('ERR_INVALID_ARG')
  expect(store.info().schema).toMatchObject({ conversations: 1 })
})
