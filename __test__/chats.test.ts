// The chats store through the JS surface (`openStore(path, { stores: ['chats'] }).chats`):
// etcode's sessions, messages, parts, todos and permissions (reference/chats.md).
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'

import { ChatStore, openStore, StoreWith } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-chats-')
let n = 0
let file: string
let store: StoreWith<'chats'>
let chats: ChatStore

beforeEach(() => {
  file = join(root, `c${++n}.db`)
  store = openStore(file, { stores: ['chats'] })
  chats = store.chats
  return () => store.close()
})

const ID = (prefix: string) => new RegExp(`^${prefix}_[0-9a-f]{11}[0-9A-Za-z]{8}$`)

function session(projectID = 'proj_a', title?: string) {
  return chats.createSession({ projectID, directory: '/work', title })
}

describe('sessions', () => {
  it('are created with etcode ids and defaults, and read back only for their project', () => {
    const s = session()
    expect(s.id).toMatch(ID('sess'))
    expect(s).toStrictEqual({
      id: s.id,
      title: 'New Session',
      projectID: 'proj_a',
      directory: '/work',
      agent: undefined,
      summary: undefined,
      time: { created: s.time.created, updated: s.time.created },
    })
    expect(chats.getSession(s.id, 'proj_a')).toStrictEqual(s)
    expect(chats.getSession(s.id, 'proj_b')).toBeUndefined()
    expect(chats.getSession(s.id)).toStrictEqual(s)
    expect(chats.getSession('sess_missing')).toBeUndefined()
    expect(chats.createSession({ projectID: 'p', directory: '/', title: 'T', agent: 'build' })).toMatchObject({ title: 'T', agent: 'build' })
  })

  it('list by time.updated, newest first, and every update moves a session to the top', () => {
    const a = session('p', 'a')
    const b = session('p', 'b')
    session('other')
    const reset = () => sqlQuery(file, 'UPDATE session SET time_updated = 1 RETURNING id')
    reset()
    expect(chats.setSessionTitle(a.id, 'renamed')).toMatchObject({ id: a.id, title: 'renamed' })
    expect(chats.listSessions('p').map((s) => s.title)).toEqual(['renamed', 'b'])
    reset()
    expect(chats.setSessionSummary(b.id, { additions: 3, deletions: 1, files: 2 })?.summary).toEqual({ additions: 3, deletions: 1, files: 2 })
    expect(chats.listSessions('p')[0].id).toBe(b.id)
    reset()
    expect(chats.touchSession(a.id)?.id).toBe(a.id)
    expect(chats.listSessions('p')[0].id).toBe(a.id)
    expect(chats.setSessionSummary(b.id, { additions: 0, deletions: 0, files: 0 })?.summary).toBeUndefined()
    expect(chats.touchSession('sess_missing')).toBeUndefined()
    expect(chats.setSessionTitle('sess_missing', 'x')).toBeUndefined()
  })

  it('remove cascades to messages, parts and todos', () => {
    const s = session()
    const m = chats.createMessage({ sessionID: s.id, role: 'user', content: 'hi' })
    chats.createPart({ messageID: m.id, sessionID: s.id, type: 'text', text: 'hi' })
    chats.replaceTodos(s.id, [{ content: 'x', status: 'pending' }])
    expect(chats.removeSession(s.id)).toBe(true)
    expect(chats.removeSession(s.id)).toBe(false)
    const counts = sqlQuery(file, 'SELECT (SELECT count(*) FROM message) AS m, (SELECT count(*) FROM part) AS p, (SELECT count(*) FROM todo) AS t')
    expect(counts).toEqual([{ m: 0, p: 0, t: 0 }])
  })
})

describe('messages and parts', () => {
  it('keep etcode data shapes, with the ids in columns only', () => {
    const s = session()
    const u = chats.createMessage({ sessionID: s.id, role: 'user', content: 'hello' })
    expect(u.id).toMatch(ID('msg'))
    expect(u).toStrictEqual({ id: u.id, sessionID: s.id, role: 'user', content: 'hello', time: { created: u.time.created } })
    const a = chats.createMessage({ sessionID: s.id, role: 'assistant', agent: 'build', summary: true })
    expect(a).toMatchObject({ role: 'assistant', agent: 'build', summary: true })
    const rows = sqlQuery<{ data: string }>(file, `SELECT data FROM message WHERE id = '${u.id}'`)
    expect(JSON.parse(rows[0].data)).toEqual({ role: 'user', content: 'hello', time: { created: u.time.created } })
    expect(chats.getMessage(a.id)).toStrictEqual(a)
    expect(chats.getMessage('msg_missing')).toBeUndefined()
  })

  it('list by time_created with ties in insertion order, and with their parts', () => {
    const s = session()
    const u = chats.createMessage({ sessionID: s.id, role: 'user', content: 'q' })
    const a = chats.createMessage({ sessionID: s.id, role: 'assistant' })
    const p1 = chats.createPart({ messageID: a.id, sessionID: s.id, type: 'step-start' })
    const p2 = chats.createPart({ messageID: a.id, type: 'tool', tool: 'bash', state: { status: 'pending' } })
    sqlQuery(file, 'UPDATE message SET time_created = 7 RETURNING id')
    sqlQuery(file, 'UPDATE part SET time_created = 7 RETURNING id')
    expect(chats.listMessages(s.id).map((m) => m.id)).toEqual([u.id, a.id])
    const withParts = chats.listMessages(s.id, { withParts: true })
    expect(withParts).toEqual([
      { info: chats.getMessage(u.id), parts: [] },
      { info: chats.getMessage(a.id), parts: [p1, p2] },
    ])
    expect(chats.listParts(a.id)).toEqual([p1, p2])
    expect(p2).toStrictEqual({ id: p2.id, messageID: a.id, type: 'tool', tool: 'bash', state: { status: 'pending' } })
    expect(sqlQuery(file, `SELECT session_id FROM part WHERE id = '${p2.id}'`)).toEqual([{ session_id: '' }])
    expect(chats.removeMessage(a.id)).toBe(true)
    expect(chats.getPart(p1.id)).toBeUndefined()
    expect(chats.removeMessage(a.id)).toBe(false)
  })

  it('update runs read, callback and write in one transaction; a throwing callback changes nothing', () => {
    const s = session()
    const m = chats.createMessage({ sessionID: s.id, role: 'assistant' })
    const p = chats.createPart({ messageID: m.id, sessionID: s.id, type: 'tool', tool: 'bash', state: { status: 'pending' } })
    const boom = new Error('boom')
    expect(() =>
      chats.updatePart(p.id, (draft) => {
        if (draft.type === 'tool') draft.state = { status: 'failed' }
        throw boom
      }),
    ).toThrow(boom)
    expect(chats.getPart(p.id)).toStrictEqual(p)
    const updated = chats.updatePart(p.id, (draft) => {
      if (draft.type === 'tool') draft.state = { status: 'running', output: 'a' }
    })
    expect(updated).toMatchObject({ id: p.id, state: { status: 'running', output: 'a' } })
    expect(chats.getPart(p.id)).toStrictEqual(updated)
    expect(chats.updatePart('part_missing', () => {})).toBeUndefined()
    const msg = chats.updateMessage(m.id, (draft) => {
      if (draft.role === 'assistant') Object.assign(draft, { finish: 'stop', tokens: { input: 1, output: 2 } })
    })
    expect(chats.getMessage(m.id)).toStrictEqual(msg)
    expect(msg).toMatchObject({ finish: 'stop', tokens: { input: 1, output: 2 } })
    expect(() => chats.updateMessage(m.id, (draft) => Object.assign(draft, { bad: 1n }))).toThrow(TypeError)
    expect(chats.getMessage(m.id)).toStrictEqual(msg)
  })

  it('joins store.transaction: a rolled-back transaction keeps nothing', () => {
    const s = session()
    expect(() =>
      store.transaction(() => {
        const m = chats.createMessage({ sessionID: s.id, role: 'user', content: 'x' })
        chats.createPart({ messageID: m.id, type: 'text', text: 'x' })
        throw new Error('abort')
      }),
    ).toThrow('abort')
    expect(chats.listMessages(s.id)).toEqual([])
  })

  it('refuses a missing parent and bad arguments with codes', () => {
    expect(thrown(() => chats.createMessage({ sessionID: 'sess_missing', role: 'user', content: 'x' })).code).toBe('SQLITE_CONSTRAINT_FOREIGNKEY')
    expect(thrown(() => chats.createPart({ messageID: 'msg_missing', type: 'text', text: '' })).code).toBe('SQLITE_CONSTRAINT_FOREIGNKEY')
    const bad = thrown(() => chats.createMessage({ sessionID: 's', role: 'system' } as never))
    expect(bad.code).toBe('ERR_INVALID_ARG')
    const t = thrown(() => chats.createSession({ projectID: 1 } as never))
    expect(t).toBeInstanceOf(TypeError)
    expect(t.message).toContain('createSession: input.projectID')
    expect(thrown(() => chats.updatePart('x', 'nope' as never)).message).toContain('updatePart: mutate must be a function')
    expect(thrown(() => chats.createPart({ messageID: 'm' } as never)).message).toContain('createPart: part.type')
    expect(thrown(() => chats.listMessages(5 as never)).code).toBe('ERR_INVALID_ARG_TYPE')
  })
})

describe('JSON values', () => {
  it('an array longer than 2^27 items is refused before JSON.stringify meets it (Node 20 would abort)', () => {
    const huge: unknown[] = []
    huge.length = 2 ** 27 + 1
    huge[2 ** 27] = 1
    const err = thrown(() => chats.setPermission('p', [{ permission: 'bash', pattern: '*', action: 'ask' }, huge] as never))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
    expect((err as Error & { cause?: { code?: string } }).cause?.code).toBe('ERR_OUT_OF_RANGE')
    expect(chats.getPermission('p')).toBeUndefined()
    const s = session()
    const m = chats.createMessage({ sessionID: s.id, role: 'assistant' })
    expect(thrown(() => chats.createPart({ messageID: m.id, type: 'text', text: '', extra: huge } as never)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(chats.listParts(m.id)).toEqual([])
  })
})

describe('todos and permissions', () => {
  it('a todo list is replaced whole, position = index, priority defaulted', () => {
    const s = session()
    chats.replaceTodos(s.id, [
      { content: 'a', status: 'pending' },
      { content: 'b', status: 'in_progress', priority: 'high' },
    ])
    chats.replaceTodos(s.id, [{ content: 'b', status: 'completed', priority: 'high' }, { content: 'c', status: 'pending' }])
    expect(chats.getTodos(s.id)).toEqual([
      { content: 'b', status: 'completed', priority: 'high' },
      { content: 'c', status: 'pending', priority: 'medium' },
    ])
    expect(sqlQuery(file, 'SELECT position FROM todo ORDER BY position')).toEqual([{ position: 0 }, { position: 1 }])
    expect(thrown(() => chats.replaceTodos(s.id, [{ content: 'x' } as never])).message).toContain('todos[0].status')
    expect(chats.getTodos(s.id)).toHaveLength(2)
  })

  it('permission rules are set, replaced and returned parsed', () => {
    expect(chats.getPermission('p')).toBeUndefined()
    chats.setPermission('p', [{ permission: 'bash', pattern: '*', action: 'ask' }])
    chats.setPermission('p', [{ permission: 'edit', pattern: 'src/**', action: 'allow' }])
    expect(chats.getPermission('p')).toEqual([{ permission: 'edit', pattern: 'src/**', action: 'allow' }])
    expect(thrown(() => chats.setPermission('p', undefined as never))).toBeInstanceOf(TypeError)
  })
})

it('the class cannot be constructed directly', () => {
  expect(thrown(() => new (ChatStore as unknown as new () => unknown)()).code).toBe('ERR_ILLEGAL_CONSTRUCTOR')
})

it('shares a file with the training or the agents store', () => {
  for (const other of ['training', 'agents'] as const) {
    const both = openStore(join(root, `with-${other}.db`), { stores: [other, 'chats'] })
    expect(both.info().schema).toMatchObject({ chats: 2 })
    expect(both.chats?.createSession({ projectID: 'p', directory: '/' }).title).toBe('New Session')
    both.close()
  }
})
