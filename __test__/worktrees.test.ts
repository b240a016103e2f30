// The worktrees store through its JS surface: AIT42's `ait42-session` test files (§3.5:
// db_connection, crud, query, transaction, integration) ported to stowage's API, run against a
// file, not raw SQL. migration_tests (the import AIT42 simulated by hand) is in
// worktrees-import.test.ts, the files AIT42 and stowage exchange in worktrees-compat.test.ts.
import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore, workspaceHash, WorktreeStore, type StoreWith } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'
import { instance, message, session } from './helpers/worktrees'

const root = tempDir('stowage-worktrees-')
let n = 0
const file = () => join(root, `sessions-${++n}.db`)
const open = (path = file()) => openStore(path, { stores: ['worktrees'] })
type Worktrees = StoreWith<'worktrees'>

const WS = '/path/to/workspace'

const ids = (list: { id: string }[]) => list.map((s) => s.id)

describe('db_connection_tests', () => {
  it('creates the file with AIT42\'s tables, foreign keys on, in WAL mode', () => {
    const path = file()
    const store = open(path)
    expect(store.info()).toMatchObject({ journalMode: 'wal', schema: { worktrees: 1 } })
    const tables = sqlQuery<{ name: string }>(path, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").map((r) => r.name)
    expect(tables).toEqual(expect.arrayContaining(['workspaces', 'sessions', 'instances', 'chat_messages', 'migration_metadata', '_sqlx_migrations']))
    store.worktrees.createSession(WS, session('s'))
    // foreign_keys = 1: a message of a missing session is refused
    expect(thrown(() => store.worktrees.addChatMessage('nope', message('m', 'x'))).code).toBe('SQLITE_CONSTRAINT_FOREIGNKEY')
    store.close()
  })

  it('creates every index of AIT42\'s migration', () => {
    const path = file()
    open(path).close()
    const indexes = sqlQuery<{ name: string }>(path, "SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY name").map((r) => r.name)
    expect(indexes).toEqual([
      'idx_chat_messages_role', 'idx_chat_messages_session', 'idx_chat_messages_timestamp',
      'idx_instances_session', 'idx_instances_session_instance', 'idx_instances_status',
      'idx_sessions_created', 'idx_sessions_status', 'idx_sessions_type', 'idx_sessions_updated', 'idx_sessions_workspace',
      'idx_workspaces_hash', 'idx_workspaces_path',
    ])
  })

  it('serves several stores on one file, and reads from all of them', () => {
    const path = file()
    const stores = [open(path), open(path), open(path)]
    stores[0].worktrees.createSession(WS, session('shared'))
    for (let i = 0; i < 5; i++) expect(ids(stores[i % 3].worktrees.getAllSessions(WS))).toEqual(['shared'])
    for (const s of stores) s.close()
  })

  it('passes the integrity check', () => {
    const store = open()
    store.worktrees.createSession(WS, session('s', { instances: [instance(0)] }))
    expect(store.integrityCheck()).toEqual(['ok'])
    store.close()
  })

  it('refuses a bad session type, a bad status and a duplicate id with SQLite\'s codes', () => {
    const store = open()
    const w = store.worktrees
    expect(thrown(() => w.createSession(WS, session('a', { type: 'invalid_type' as never }))).code).toBe('SQLITE_CONSTRAINT_CHECK')
    expect(thrown(() => w.createSession(WS, session('a', { status: 'invalid_status' as never }))).code).toBe('SQLITE_CONSTRAINT_CHECK')
    expect(thrown(() => w.createSession(WS, session('a', { instances: [instance(0, { status: 'odd' })] }))).code).toBe('SQLITE_CONSTRAINT_CHECK')
    expect(thrown(() => w.createSession(WS, session('a', { task: '' }))).code).toBe('SQLITE_CONSTRAINT_CHECK')
    w.createSession(WS, session('a'))
    expect(thrown(() => w.createSession(WS, session('a'))).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY')
    expect(thrown(() => w.createSession(WS, session('b', { instances: [instance(1), instance(1)] }))).code).toBe('SQLITE_CONSTRAINT_UNIQUE')
    expect(w.stats()).toMatchObject({ sessions: 1, instances: 0 })
    store.close()
  })

  it('cascades a session\'s delete to its instances and messages', () => {
    const store = open()
    store.worktrees.createSession(WS, session('s', { instances: [instance(0), instance(1)], chatHistory: [message('m', 't')] }))
    store.worktrees.deleteSession(WS, 's')
    expect(store.worktrees.stats()).toMatchObject({ sessions: 0, instances: 0, messages: 0 })
    store.close()
  })

  it('keeps the data across close and reopen', () => {
    const path = file()
    const a = open(path)
    a.worktrees.createSession(WS, session('kept'))
    a.close()
    const b = open(path)
    expect(b.worktrees.getSession(WS, 'kept')?.task).toBe('Task of kept')
    b.close()
  })
})

describe('crud_tests', () => {
  const store = open()
  const w = store.worktrees

  it('creates a minimal session; every unset optional field reads as null', () => {
    w.createSession('/crud/minimal', session('min'))
    expect(w.getSession('/crud/minimal', 'min')).toEqual({
      id: 'min', type: 'competition', task: 'Task of min', status: 'running',
      createdAt: '2025-01-13T10:00:00.000Z', updatedAt: '2025-01-13T10:00:00.000Z', completedAt: null,
      model: null, timeoutSeconds: null, preserveWorktrees: null, winnerId: null, runtimeMix: null,
      totalDuration: null, totalFilesChanged: null, totalLinesAdded: null, totalLinesDeleted: null,
      instances: [], chatHistory: [],
    })
  })

  it('creates a session with all fields, in AIT42\'s key order', () => {
    const full = session('full', {
      type: 'ensemble', status: 'completed', completedAt: '2025-01-13T11:00:00.000Z', model: 'sonnet',
      timeoutSeconds: 600, preserveWorktrees: false, winnerId: 2, runtimeMix: ['claude', 'codex'],
      totalDuration: 3600, totalFilesChanged: 5, totalLinesAdded: 100, totalLinesDeleted: 20,
    })
    w.createSession('/crud/full', full)
    const got = w.getSession('/crud/full', 'full')!
    expect(got).toEqual({ ...full, instances: [], chatHistory: [] })
    expect(Object.keys(got)).toEqual(['id', 'type', 'task', 'status', 'createdAt', 'updatedAt', 'completedAt', 'model', 'timeoutSeconds',
      'preserveWorktrees', 'winnerId', 'runtimeMix', 'totalDuration', 'totalFilesChanged', 'totalLinesAdded', 'totalLinesDeleted', 'instances', 'chatHistory'])
  })

  it('creates a session with explicit null optionals, and an empty runtimeMix stays []', () => {
    w.createSession('/crud/null', session('nulls', { model: null, winnerId: null, runtimeMix: [] }))
    expect(w.getSession('/crud/null', 'nulls')).toMatchObject({ model: null, winnerId: null, runtimeMix: [] })
  })

  it('reads back text of any script exactly, in every field and through every read', () => {
    const text = (k: string) => `${k} é 日本語 🚀 "quoted" \\ line\nnext\ttab \u2028 end`
    const wide = session('wide-é🚀', {
      task: text('task'), model: text('model'), runtimeMix: [text('mix'), '', 'ascii'],
      instances: [instance(0, { output: text('out').repeat(500), runtimeLabel: text('label') }), instance(1, { branch: text('branch') })],
      chatHistory: [message('m-日本', '2025-01-13T10:00:00.000Z', { content: text('content') }), message('m-2', '2025-01-13T10:00:01.000Z', { content: 'x' })],
    })
    w.createSession('/crud/wide', wide)
    // updateSession's result is written as JSON in Rust and parsed: the reads must give the same.
    const stored = w.updateSession('/crud/wide', wide)
    expect(stored).toMatchObject({ task: text('task'), runtimeMix: [text('mix'), '', 'ascii'], chatHistory: [{ id: 'm-日本', content: text('content') }, { content: 'x' }] })
    expect(stored.instances[0]).toMatchObject({ output: text('out').repeat(500), runtimeLabel: text('label'), sessionId: wide.id })
    expect(w.getSession('/crud/wide', wide.id)).toEqual(stored)
    expect(w.getAllSessions('/crud/wide')).toEqual([stored])
    expect(w.listSessions({ workspacePath: '/crud/wide' })).toEqual([stored])
  })

  it('gets a session by id; a missing one, or another workspace\'s, is null', () => {
    expect(w.getSession('/crud/minimal', 'min')?.id).toBe('min')
    expect(w.getSession('/crud/minimal', 'nope')).toBeNull()
    expect(w.getSession('/crud/full', 'min')).toBeNull()
  })

  it('gets all sessions: none for an unknown workspace, five most recent first', () => {
    expect(w.getAllSessions('/crud/empty')).toEqual([])
    for (let i = 0; i < 5; i++) w.createSession('/crud/five', session(`f${i}`, { updatedAt: `2025-01-13T10:00:0${i}.000Z` }))
    expect(ids(w.getAllSessions('/crud/five'))).toEqual(['f4', 'f3', 'f2', 'f1', 'f0'])
  })

  it('updates the status, the task and the statistics', () => {
    w.createSession('/crud/upd', session('u'))
    const updated = w.updateSession('/crud/upd', session('u', { status: 'completed', task: 'Updated task', totalDuration: 90, totalFilesChanged: 3, totalLinesAdded: 30, totalLinesDeleted: 4 }))
    expect(updated).toMatchObject({ status: 'completed', task: 'Updated task', totalDuration: 90, totalFilesChanged: 3, totalLinesAdded: 30, totalLinesDeleted: 4 })
    expect(w.getSession('/crud/upd', 'u')).toEqual(updated)
  })

  it('deletes a session; deleting a missing one (or twice) is ERR_NOT_FOUND', () => {
    w.createSession('/crud/del', session('d'))
    w.deleteSession('/crud/del', 'd')
    expect(w.getSession('/crud/del', 'd')).toBeNull()
    expect(thrown(() => w.deleteSession('/crud/del', 'd')).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => w.deleteSession('/crud/del', 'never')).code).toBe('ERR_NOT_FOUND')
  })

  it('cascades deletes to instances and to messages', () => {
    w.createSession('/crud/cascade', session('c', { instances: [instance(0)], chatHistory: [message('cm', 't')] }))
    const before = w.stats()
    w.deleteSession('/crud/cascade', 'c')
    const after = w.stats()
    expect([before.instances - after.instances, before.messages - after.messages]).toEqual([1, 1])
  })

  it('an update of a nonexistent session is ERR_NOT_FOUND and writes nothing', () => {
    const before = w.stats()
    expect(thrown(() => w.updateSession('/crud/upd', session('ghost', { instances: [instance(0)] }))).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => w.updateSession('/crud/other', session('u'))).code).toBe('ERR_NOT_FOUND')
    expect(w.stats()).toEqual(before)
    expect(w.getSession('/crud/upd', 'u')?.task).toBe('Updated task')
  })
})

describe('query_tests', () => {
  const store = open()
  const w = store.worktrees
  const rows: [string, string, string][] = [
    ['q0', 'competition', 'running'], ['q1', 'ensemble', 'completed'], ['q2', 'debate', 'failed'],
    ['q3', 'competition', 'completed'], ['q4', 'ensemble', 'paused'], ['q5', 'competition', 'failed'],
  ]
  rows.forEach(([id, type, status], i) =>
    w.createSession('/query/a', session(id, {
      type: type as never, status: status as never, task: i % 2 ? `Refactor module ${i}` : `Fix bug ${i}`,
      createdAt: `2025-01-1${i}T00:00:00.000Z`, updatedAt: `2025-02-0${9 - i}T00:00:00.000Z`,
    })))
  w.createSession('/query/b', session('other', { type: 'debate' }))

  it('filters by type (competition, ensemble)', () => {
    expect(ids(w.listSessions({ workspacePath: '/query/a', type: 'competition' })).sort()).toEqual(['q0', 'q3', 'q5'])
    expect(ids(w.listSessions({ workspacePath: '/query/a', type: 'ensemble' })).sort()).toEqual(['q1', 'q4'])
  })

  it('filters by one status and by several', () => {
    expect(ids(w.listSessions({ status: 'completed' })).sort()).toEqual(['q1', 'q3'])
    expect(ids(w.listSessions({ status: ['failed', 'paused'] })).sort()).toEqual(['q2', 'q4', 'q5'])
  })

  it('filters by type and status together', () => {
    expect(ids(w.listSessions({ type: 'competition', status: 'failed' }))).toEqual(['q5'])
  })

  it('sorts by created and by updated, newest first', () => {
    expect(ids(w.listSessions({ workspacePath: '/query/a', orderBy: 'created' }))).toEqual(['q5', 'q4', 'q3', 'q2', 'q1', 'q0'])
    expect(ids(w.listSessions({ workspacePath: '/query/a', orderBy: 'updated' }))).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5'])
  })

  it('pages with limit and offset', () => {
    const q = { workspacePath: '/query/a', orderBy: 'created' as const }
    expect(ids(w.listSessions({ ...q, limit: 2 }))).toEqual(['q5', 'q4'])
    expect(ids(w.listSessions({ ...q, limit: 2, offset: 2 }))).toEqual(['q3', 'q2'])
    expect(ids(w.listSessions({ ...q, offset: 5 }))).toEqual(['q0'])
  })

  it('searches the task and the id', () => {
    expect(ids(w.listSessions({ search: 'refactor' })).sort()).toEqual(['q1', 'q3', 'q5'])
    expect(ids(w.listSessions({ search: 'q4' }))).toEqual(['q4'])
    expect(w.listSessions({ search: '%' })).toEqual([])
  })

  it('combines several conditions', () => {
    expect(ids(w.listSessions({ workspacePath: '/query/a', type: 'competition', status: ['completed', 'failed'], search: 'module', orderBy: 'created', limit: 1 }))).toEqual(['q5'])
  })

  it('counts sessions by type, of one workspace or all', () => {
    expect(w.countByType('/query/a')).toEqual({ competition: 3, ensemble: 2, debate: 1 })
    expect(w.countByType()).toEqual({ competition: 3, ensemble: 2, debate: 2 })
  })

  it('keeps workspaces apart', () => {
    expect(ids(w.getAllSessions('/query/b'))).toEqual(['other'])
    expect(w.listSessions({ workspacePath: '/query/b', type: 'competition' })).toEqual([])
  })
})

describe('transaction_tests', () => {
  it('commits a transaction and rolls it back when fn throws', () => {
    const store = open()
    store.transaction(() => store.worktrees.createSession(WS, session('committed')))
    expect(() => store.transaction(() => {
      store.worktrees.createSession(WS, session('rolled-back'))
      throw new Error('fail')
    })).toThrow('fail')
    expect(ids(store.worktrees.getAllSessions(WS))).toEqual(['committed'])
    store.close()
  })

  it('rolls back at an error of SQLite, leaving the session as it was', () => {
    const store = open()
    store.worktrees.createSession(WS, session('s', { instances: [instance(0)] }))
    const err = thrown(() => store.transaction(() => {
      store.worktrees.addChatMessage('s', message('m1', '2025-01-13T10:00:00Z'))
      store.worktrees.createSession(WS, session('s'))
    }))
    expect(err.code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY')
    expect(store.worktrees.getSession(WS, 's')).toMatchObject({ updatedAt: '2025-01-13T10:00:00.000Z', chatHistory: [] })
    store.close()
  })

  it('inserts into every table in one transaction, or into none', () => {
    const store = open()
    const full = session('multi', { instances: [instance(0), instance(1)], chatHistory: [message('mm', 't')] })
    store.transaction(() => store.worktrees.createSession(WS, full))
    expect(store.worktrees.stats()).toMatchObject({ workspaces: 1, sessions: 1, instances: 2, messages: 1 })
    expect(() => store.transaction(() => {
      store.worktrees.createSession('/other', session('multi2', { instances: [instance(0)], chatHistory: [message('mm2', 't')] }))
      throw new Error('abort')
    })).toThrow('abort')
    expect(store.worktrees.stats()).toMatchObject({ workspaces: 1, sessions: 1, instances: 2, messages: 1 })
    store.close()
  })

  it('reads concurrently from several stores, and their writes all land', () => {
    const path = file()
    const stores = [open(path), open(path), open(path), open(path), open(path)]
    stores.forEach((s, i) => s.worktrees.createSession(WS, session(`c${i}`)))
    for (const s of stores) expect(s.worktrees.getAllSessions(WS)).toHaveLength(5)
    for (const s of stores) s.close()
  })

  it('keeps uncommitted writes invisible to another store, and shows them once committed', () => {
    const path = file()
    const [writer, reader] = [open(path), open(path)]
    writer.transaction(() => {
      writer.worktrees.createSession(WS, session('pending'))
      expect(reader.worktrees.getSession(WS, 'pending')).toBeNull()
    })
    expect(reader.worktrees.getSession(WS, 'pending')?.id).toBe('pending')
    writer.close()
    reader.close()
  })

  it('lets the last committed update win', () => {
    const path = file()
    const [a, b] = [open(path), open(path)]
    a.worktrees.createSession(WS, session('conflict'))
    a.worktrees.updateSession(WS, session('conflict', { status: 'completed' }))
    b.worktrees.updateSession(WS, session('conflict', { status: 'failed' }))
    expect(a.worktrees.getSession(WS, 'conflict')?.status).toBe('failed')
    a.close()
    b.close()
  })

  it('rolls back a savepoint only', () => {
    const store = open()
    store.transaction(() => {
      store.worktrees.createSession(WS, session('outer'))
      expect(() => store.transaction(() => {
        store.worktrees.createSession(WS, session('inner'))
        throw new Error('inner')
      })).toThrow('inner')
    })
    expect(ids(store.worktrees.getAllSessions(WS))).toEqual(['outer'])
    store.close()
  })
})

describe('integration_tests', () => {
  const store = open()
  const w = store.worktrees
  const dir = join(root, 'workspace')
  mkdirSync(dir)

  it('creates and gets a session through a path-derived hash', () => {
    w.createSession(dir, session('i1'))
    expect(w.getSession(`${dir}/`, 'i1')?.id).toBe('i1')
    const link = join(root, 'workspace-link')
    symlinkSync(dir, link)
    expect(w.getSession(link, 'i1')?.id).toBe('i1')
    const [row] = sqlQuery<{ hash: string; path: string }>(store.info().path, 'SELECT hash, path FROM workspaces')
    expect(row).toEqual({ hash: workspaceHash(dir), path: dir })
  })

  it('gets all, updates and deletes', () => {
    w.createSession(dir, session('i2', { updatedAt: '2025-01-13T11:00:00.000Z' }))
    expect(ids(w.getAllSessions(dir))).toEqual(['i2', 'i1'])
    w.updateSession(dir, session('i1', { updatedAt: '2025-01-13T12:00:00.000Z', status: 'paused' }))
    expect(ids(w.getAllSessions(dir))).toEqual(['i1', 'i2'])
    w.deleteSession(dir, 'i2')
    expect(ids(w.getAllSessions(dir))).toEqual(['i1'])
  })

  it('keeps instances by instanceId and messages in time order, each with its sessionId', () => {
    w.createSession(dir, session('i3', {
      instances: [instance(2), instance(0, { output: 'x'.repeat(150 * 1024) }), instance(1)],
      chatHistory: [message('late', '2025-01-13T10:00:02.000Z'), message('tokyo', '2025-01-13T19:00:01+09:00'), message('first', '2025-01-13T10:00:00.000Z')],
    }))
    const got = w.getSession(dir, 'i3')!
    expect(got.instances.map((i) => i.instanceId)).toEqual([0, 1, 2])
    expect(got.instances[0].output).toBe('x'.repeat(150 * 1024))
    expect(got.instances.every((i) => i.sessionId === 'i3')).toBe(true)
    expect(ids(got.chatHistory)).toEqual(['first', 'tokyo', 'late'])
    expect(Object.keys(got.instances[0])).toEqual(['instanceId', 'sessionId', 'worktreePath', 'branch', 'agentName', 'status', 'tmuxSessionId',
      'output', 'startTime', 'endTime', 'filesChanged', 'linesAdded', 'linesDeleted', 'runtime', 'model', 'runtimeLabel'])
    expect(got.chatHistory[0]).toEqual({ id: 'first', sessionId: 'i3', role: 'user', content: 'Message first', timestamp: '2025-01-13T10:00:00.000Z', instanceId: null })
  })

  it('adds a chat message and bumps updatedAt in RFC 3339 like every other write', () => {
    w.addChatMessage('i1', message('new', '2025-01-13T13:00:00.000Z', { role: 'assistant', instanceId: 0 }))
    const got = w.getSession(dir, 'i1')!
    expect(got.chatHistory.map((m) => [m.id, m.role, m.instanceId])).toEqual([['new', 'assistant', 0]])
    expect(got.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(Date.parse(got.updatedAt)).toBeGreaterThan(Date.parse('2025-01-13T12:00:00.000Z'))
    expect(thrown(() => w.addChatMessage('i3', message('new', 't'))).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY')
  })

  it('updates an instance\'s status and bumps updatedAt; a missing instance is ERR_NOT_FOUND', () => {
    w.updateInstanceStatus('i3', 1, 'completed')
    const got = w.getSession(dir, 'i3')!
    expect(got.instances.map((i) => i.status)).toEqual(['running', 'completed', 'running'])
    expect(got.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    // Newest update first; i1 was bumped just before, possibly within the same millisecond.
    const all = w.getAllSessions(dir)
    expect(all.map((x) => x.updatedAt)).toEqual(all.map((x) => x.updatedAt).sort().reverse())
    expect(got.updatedAt >= all.find((x) => x.id === 'i1')!.updatedAt).toBe(true)
    expect(thrown(() => w.updateInstanceStatus('i3', 9, 'failed')).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => w.updateInstanceStatus('i3', 1, 'bogus')).code).toBe('SQLITE_CONSTRAINT_CHECK')
  })

  it('passes the integrity check and reports its stats', () => {
    expect(store.integrityCheck()).toEqual(['ok'])
    expect(w.stats()).toMatchObject({ workspaces: 1, sessions: 2, instances: 3, messages: 4, path: store.info().path })
    expect(w.stats().fileSize).toBe(store.info().pageCount * store.info().pageSize)
  })
})

describe('the JS surface', () => {
  it('workspaceHash is AIT42\'s, and wrong argument types are TypeErrors naming them', () => {
    expect(workspaceHash('')).toBe('e3b0c44298fc1c14')
    expect(workspaceHash('/')).toBe('8a5edab282632443')
    expect(workspaceHash('/no/such/dir//')).toBe(workspaceHash('/no/such/dir'))
    expect(thrown(() => workspaceHash(1 as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    const store: Worktrees = open()
    const w = store.worktrees
    for (const [fn, arg] of [
      [() => w.createSession(1 as never, session('x')), 'workspacePath'],
      [() => w.createSession(WS, null as never), 'session'],
      [() => w.createSession(WS, { ...session('x'), status: 3 } as never), 'session.status'],
      [() => w.createSession(WS, session('x', { instances: [{ ...instance(0), branch: null }] as never })), 'session.instances[0].branch'],
      [() => w.createSession(WS, session('x', { runtimeMix: ['a', 1] as never })), 'session.runtimeMix[1]'],
      [() => w.addChatMessage('s', { id: 'm' } as never), 'message.role'],
      [() => w.updateInstanceStatus('s', 'x' as never, 'idle'), 'instanceId'],
      [() => w.listSessions({ orderBy: 'name' } as never), 'query.orderBy'],
      [() => w.listSessions({ status: [1] } as never), 'query.status'],
    ] as const) {
      const err = thrown(fn)
      expect(err).toBeInstanceOf(TypeError)
      expect(err.message).toContain(arg)
    }
    expect(w.stats().sessions).toBe(0)
    store.close()
    expect(thrown(() => w.getAllSessions(WS)).code).toBe('ERR_CLOSED')
  })

  it('cannot be constructed, and what a getter of an argument throws is rethrown with nothing written', () => {
    for (const make of [() => new (WorktreeStore as unknown as new () => unknown)(), () => (WorktreeStore as unknown as () => unknown)()]) {
      expect(thrown(make)).toMatchObject({ name: 'TypeError', code: 'ERR_ILLEGAL_CONSTRUCTOR' })
    }
    const store = open()
    expect(store.worktrees).toBeInstanceOf(WorktreeStore)
    const boom = new Error('from a getter')
    const input = { ...session('g'), instances: [{ ...instance(0), get branch(): string { throw boom } }] }
    expect(thrown(() => store.worktrees.createSession(WS, input as never))).toBe(boom)
    expect(store.worktrees.stats()).toMatchObject({ workspaces: 0, sessions: 0 })
    store.close()
  })

  it('is absent from a store opened without it, and the agents store cannot share its file', () => {
    const store = openStore(file(), { stores: ['training'] })
    expect(store.worktrees).toBeUndefined()
    store.close()
    expect(thrown(() => openStore(file(), { stores: ['agents', 'worktrees'] })).code).toBe('ERR_INVALID_ARG')
  })
})

describe('optimize() and integrityCheck() on a worktrees file', () => {
  const churn = (store: Worktrees) => {
    for (let i = 0; i < 20; i++) store.worktrees.createSession(WS, session(`big${i}`, { instances: [instance(0, { output: 'o'.repeat(100_000) })] }))
    for (let i = 0; i < 20; i++) store.worktrees.deleteSession(WS, `big${i}`)
  }

  it('skips the incremental vacuum on a file in AIT42\'s auto_vacuum NONE, saying so', () => {
    const store = open()
    churn(store)
    expect(store.integrityCheck()).toEqual(['ok'])
    expect(store.optimize()).toEqual({ autoVacuum: 'none', incrementalVacuum: 'skipped', freedPages: 0 })
    expect(store.info().freelistCount).toBeGreaterThan(100)
    store.close()
  })

  it('runs it on a file created with autoVacuum: incremental, returning the free pages', () => {
    const store = openStore(file(), { stores: ['worktrees'], autoVacuum: 'incremental' })
    churn(store)
    const r = store.optimize()
    expect(r).toMatchObject({ autoVacuum: 'incremental', incrementalVacuum: 'ran' })
    expect(r.freedPages).toBeGreaterThan(100)
    expect(store.info().freelistCount).toBe(0)
    expect(store.integrityCheck({ quick: true })).toEqual(['ok'])
    store.close()
  })
})
