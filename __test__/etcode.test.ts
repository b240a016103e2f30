// The `stowage/etcode` drop-in against etcode's semantics (reference/chats.md): every function
// of its Database, Session, Message and Part namespaces, and Todo/Permission on their tables.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { Database, Message, Part, Permission, Session, Todo } from '../etcode.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-etcode-')
let n = 0
let file: string

beforeEach(() => {
  file = join(root, `e${++n}`, 'etcode.db')
  Database.open(file)
})
afterEach(() => Database.close())

const P = 'proj_1'

describe('Database', () => {
  it('opens lazily at etcode’s default path, creating the folder, once until close', () => {
    Database.close()
    const saved = { xdg: process.env.XDG_DATA_HOME, home: process.env.HOME }
    try {
      process.env.XDG_DATA_HOME = join(root, 'xdg')
      expect(Database.Path).toBe(join(root, 'xdg', 'etcode', 'etcode.db'))
      const store = Database.open()
      expect(store.path).toBe(Database.Path)
      expect(Database.open()).toBe(store)
      Database.close()
      Database.close()
      delete process.env.XDG_DATA_HOME
      process.env.HOME = join(root, 'home')
      expect(Database.Path).toBe(join(root, 'home', '.local', 'share', 'etcode', 'etcode.db'))
      Database.open()
      expect(existsSync(Database.Path)).toBe(true)
    } finally {
      Database.close()
      process.env.HOME = saved.home
      if (saved.xdg === undefined) delete process.env.XDG_DATA_HOME
      else process.env.XDG_DATA_HOME = saved.xdg
    }
  })

  it('transaction(fn) is synchronous, all or nothing, and joins store.transaction', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    expect(() =>
      Database.transaction(() => {
        Session.setSummary({ sessionID: s.id, summary: { additions: 1, deletions: 1, files: 1 } })
        throw new Error('abort')
      }),
    ).toThrow('abort')
    expect(Session.get(P, s.id)?.summary).toBeUndefined()
    const store = Database.open()
    store.transaction(() => {
      Database.transaction(() => Session.setSummary({ sessionID: s.id, summary: { additions: 2, deletions: 0, files: 1 } }))
      expect(Database.use((st) => st.chats.getSession(s.id)?.summary)).toEqual({ additions: 2, deletions: 0, files: 1 })
    })
    expect(Database.transaction((st) => st.chats.getSession(s.id)?.summary?.additions)).toBe(2)
  })

  it('open refuses a non-string path', () => {
    Database.close()
    expect(thrown(() => Database.open(5 as never))).toBeInstanceOf(TypeError)
  })
})

describe('Session', () => {
  it('create returns etcode’s object; get is undefined for another project', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    expect(s).toStrictEqual({ id: s.id, title: 'New Session', projectID: P, directory: '/w', agent: undefined, time: { created: s.time.created, updated: s.time.created } })
    expect(Session.get(P, s.id)).toStrictEqual({ ...s, summary: undefined })
    expect(Session.get('proj_other', s.id)).toBeUndefined()
    expect(Session.get(P, 'sess_missing')).toBeUndefined()
  })

  it('list by time_updated DESC; touch, setTitle and setSummary bump it', async () => {
    const a = await Session.create({ projectID: P, directory: '/w', title: 'a' })
    const b = await Session.create({ projectID: P, directory: '/w', title: 'b', agent: 'plan' })
    const reset = () => sqlQuery(file, 'UPDATE session SET time_updated = 1 RETURNING id')
    reset()
    expect(await Session.touch(P, a.id)).toMatchObject({ id: a.id })
    expect(Session.list(P).map((s) => s.id)).toEqual([a.id, b.id])
    reset()
    expect(await Session.setTitle(P, b.id, 'renamed')).toMatchObject({ title: 'renamed', agent: 'plan' })
    expect(Session.list(P).map((s) => s.title)).toEqual(['renamed', 'a'])
    reset()
    expect(Session.setSummary({ sessionID: a.id, summary: { additions: 5, deletions: 2, files: 1 } })).toBeUndefined()
    expect(Session.list(P)[0]).toMatchObject({ id: a.id, summary: { additions: 5, deletions: 2, files: 1 } })
    expect(await Session.touch('proj_other', a.id)).toBeUndefined()
    expect(Session.list('proj_other')).toEqual([])
  })

  it('remove cascades to messages, parts and todos', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    const m = await Message.create(P, { sessionID: s.id, role: 'user', content: 'x' })
    await Part.createText(P, { messageID: m.id, sessionID: s.id, text: 'x' })
    Todo.update(s.id, [{ content: 't', status: 'pending' }])
    expect(await Session.remove(P, s.id)).toBeUndefined()
    expect(Session.get(P, s.id)).toBeUndefined()
    expect(Message.list(P, s.id)).toEqual([])
    expect(Part.list(P, m.id)).toEqual([])
    expect(Todo.get(s.id)).toEqual([])
  })
})

describe('Message', () => {
  it('create, get and list with etcode’s shapes, ties in insertion order', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    const u = await Message.create(P, { sessionID: s.id, role: 'user', content: 'hi' })
    expect(u).toStrictEqual({ id: u.id, sessionID: s.id, role: 'user', content: 'hi', time: { created: u.time.created } })
    const a = await Message.create(P, { sessionID: s.id, role: 'assistant', agent: 'build' })
    expect(a).toStrictEqual({ id: a.id, sessionID: s.id, role: 'assistant', summary: undefined, agent: 'build', time: { created: a.time.created } })
    expect(Message.get(P, s.id, a.id)).toStrictEqual({
      id: a.id, sessionID: s.id, role: 'assistant', finish: undefined, error: undefined, summary: undefined, agent: 'build', tokens: undefined, time: a.time,
    })
    sqlQuery(file, 'UPDATE message SET time_created = 3 RETURNING id')
    expect(Message.list(P, s.id).map((m) => m.id)).toEqual([u.id, a.id])
    expect(Message.get(P, s.id, 'msg_missing')).toBeUndefined()
    await Message.remove(P, s.id, u.id)
    expect(Message.list(P, s.id).map((m) => m.id)).toEqual([a.id])
  })

  it('update is one transaction: fn mutates, etcode’s fields are stored, a throw changes nothing', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    const a = await Message.create(P, { sessionID: s.id, role: 'assistant' })
    const out = Message.update(P, s.id, a.id, (draft) => {
      if (draft.role === 'assistant') {
        draft.finish = 'stop'
        draft.tokens = { input: 10, output: 20 }
        draft.time.completed = 99
      }
    })
    expect(out).toMatchObject({ finish: 'stop', tokens: { input: 10, output: 20 }, time: { created: a.time.created, completed: 99 } })
    expect(Message.get(P, s.id, a.id)).toStrictEqual(out)
    const [row] = sqlQuery<{ data: string }>(file, `SELECT data FROM message WHERE id = '${a.id}'`)
    expect(JSON.parse(row.data)).toEqual({ role: 'assistant', finish: 'stop', tokens: { input: 10, output: 20 }, time: { created: a.time.created, completed: 99 } })
    expect(() =>
      Message.update(P, s.id, a.id, (draft) => {
        if (draft.role === 'assistant') draft.finish = 'error'
        throw new Error('no')
      }),
    ).toThrow('no')
    expect(Message.get(P, s.id, a.id)).toStrictEqual(out)
    expect(Message.update(P, s.id, 'msg_missing', () => {})).toBeUndefined()
  })
})

describe('Part', () => {
  it('each create returns etcode’s object; get and list read them back', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    const m = await Message.create(P, { sessionID: s.id, role: 'assistant' })
    const text = await Part.createText(P, { messageID: m.id, sessionID: s.id, text: '' })
    const tool = await Part.createTool(P, { messageID: m.id, tool: 'bash' })
    const start = await Part.createStepStart(P, { messageID: m.id, snapshot: 'abc' })
    const finish = await Part.createStepFinish(P, { messageID: m.id })
    const compaction = await Part.createCompaction(P, { messageID: m.id, sessionID: s.id, auto: true })
    expect(text).toStrictEqual({ type: 'text', id: text.id, messageID: m.id, text: '' })
    expect(tool).toStrictEqual({ type: 'tool', id: tool.id, messageID: m.id, tool: 'bash', callID: undefined, state: { status: 'pending' } })
    expect(start).toStrictEqual({ type: 'step-start', id: start.id, messageID: m.id, snapshot: 'abc' })
    expect(finish).toStrictEqual({ type: 'step-finish', id: finish.id, messageID: m.id, snapshot: undefined })
    expect(compaction).toStrictEqual({ type: 'compaction', id: compaction.id, messageID: m.id, auto: true })
    for (const p of [text, tool, start, finish, compaction]) {
      expect(p.id).toMatch(/^part_[0-9a-f]{11}[0-9A-Za-z]{8}$/)
      expect(Part.get(P, m.id, p.id)).toStrictEqual(p)
    }
    sqlQuery(file, 'UPDATE part SET time_created = 4 RETURNING id')
    expect(Part.list(P, m.id)).toStrictEqual([text, tool, start, finish, compaction])
    expect(sqlQuery(file, `SELECT session_id FROM part WHERE id = '${tool.id}'`)).toEqual([{ session_id: '' }])
    expect(Part.get(P, m.id, 'part_missing')).toBeUndefined()
  })

  it('update streams a tool part’s output, each step one transaction; a throw changes nothing', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    const m = await Message.create(P, { sessionID: s.id, role: 'assistant' })
    const tool = await Part.createTool(P, { messageID: m.id, sessionID: s.id, tool: 'bash', callID: 'c1' })
    let output = ''
    for (let i = 0; i < 20; i++) {
      output += `line ${i}\n`
      const p = Part.update(P, m.id, tool.id, (draft) => {
        if (draft.type === 'tool') draft.state = { status: 'running', input: { cmd: 'ls' }, output }
      })
      expect(p).toMatchObject({ callID: 'c1', state: { output } })
    }
    expect(() =>
      Part.update(P, m.id, tool.id, (draft) => {
        if (draft.type === 'tool') draft.state.status = 'failed'
        throw new Error('stop')
      }),
    ).toThrow('stop')
    expect(Part.get(P, m.id, tool.id)).toStrictEqual({ ...tool, state: { status: 'running', input: { cmd: 'ls' }, output } })
    expect(Part.update(P, m.id, 'part_missing', () => {})).toBeUndefined()
  })
})

describe('Todo and Permission', () => {
  it('Todo.update replaces the list in position order; Todo.get reads it', async () => {
    const s = await Session.create({ projectID: P, directory: '/w' })
    Todo.update(s.id, [{ content: 'a', status: 'pending' }, { content: 'b', status: 'in_progress' }])
    Todo.update(s.id, [{ content: 'b', status: 'completed' }])
    expect(Todo.get(s.id)).toEqual([{ content: 'b', status: 'completed', priority: 'medium' }])
  })

  it('Permission.set and get keep a project’s rules', () => {
    expect(Permission.get(P)).toBeUndefined()
    Permission.set(P, [{ permission: 'bash', pattern: 'git *', action: 'allow' }])
    expect(Permission.get(P)).toEqual([{ permission: 'bash', pattern: 'git *', action: 'allow' }])
  })
})
