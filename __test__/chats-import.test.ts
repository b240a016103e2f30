// opencode's JSON storage tree into the chats store (`importLegacyJson`), by the rules of
// opencode's own migrator (reference/session-stores.md §4.7, reference/chats.md).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'

import { ImportProgress, openStore, StoreWith } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-chats-import-')
let n = 0
let file: string
let tree: string
let store: StoreWith<'chats'>

beforeEach(() => {
  n++
  file = join(root, `i${n}.db`)
  tree = join(root, `storage${n}`)
  store = openStore(file, { stores: ['chats'] })
  return () => store.close()
})

function put(rel: string, body: unknown) {
  const path = join(tree, rel)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body))
}

/** A small tree: one project with a session, two messages, parts, todos and permissions. */
function opencodeTree() {
  put('project/proj_1.json', { id: 'proj_1', worktree: '/w', time: { created: 1, updated: 1 } })
  put('session/proj_1/ses_1.json', { id: 'ses_stale', projectID: 'proj_stale', slug: 's', version: '1', directory: '/w', title: 'Fix the build', time: { created: 10, updated: 20 } })
  put('message/ses_1/msg_1.json', { id: 'msg_stale', sessionID: 'ses_stale', role: 'user', content: 'fix it', time: { created: 11 } })
  put('message/ses_1/msg_2.json', { role: 'assistant', agent: 'build', time: { created: 12, completed: 13 } })
  put('part/msg_2/prt_1.json', { id: 'prt_stale', messageID: 'msg_stale', sessionID: 'ses_stale', type: 'text', text: 'done' })
  put('part/msg_2/prt_2.json', { type: 'tool', tool: 'bash', callID: 'c', state: { status: 'completed', output: '"ok"' } })
  put('todo/ses_1.json', [{ content: 'a', status: 'completed', priority: 'high' }, { content: 'no status', priority: 'low' }, { content: 'c', status: 'pending', priority: 'medium' }])
  put('permission/proj_1.json', [{ permission: 'edit', pattern: '*', action: 'allow' }])
  put('session_share/ses_1.json', { id: 'x', secret: 'y', url: 'z' })
}

describe('importLegacyJson', () => {
  it("adds the todo lists of etcode's key-path store by default, and only the tree with layout: 'opencode'", () => {
    const live = store.chats.createSession({ projectID: 'proj_9', directory: '/w' })
    opencodeTree()
    put(`${live.id}/todo.json`, [{ content: 'ship it', status: 'in_progress', priority: 'high' }])
    put('sess_gone/todo.json', [{ content: 'x', status: 'pending', priority: 'low' }])
    const treeOnly = openStore(join(root, `tree-only-${n}.db`), { stores: ['chats'] })
    const opencode = treeOnly.chats.importLegacyJson(tree, { layout: 'opencode' })
    expect(opencode.counts.todo).toBe(2)
    expect(opencode.orphans).toEqual({})
    treeOnly.close()
    const report = store.chats.importLegacyJson(tree)
    expect(report.counts.todo).toBe(2 + 1)
    expect(report.orphans).toEqual({ todo: 1 })
    expect(store.chats.getTodos(live.id)).toEqual([{ content: 'ship it', status: 'in_progress', priority: 'high' }])
    expect(store.chats.importLegacyJson(tree).migrated).toBe(false)
    expect(thrown(() => store.chats.importLegacyJson(tree, { layout: 'drizzle' as never })).code).toBe('ERR_INVALID_ARG')
  })

  it('imports each entity with ids from file and folder names, the body ids dropped', () => {
    opencodeTree()
    const report = store.chats.importLegacyJson(tree)
    expect(report).toEqual({
      migrated: true,
      counts: { session: 1, message: 2, part: 2, todo: 2, permission: 1 },
      orphans: {},
      errors: [{ file: join(tree, 'todo/ses_1.json'), entry: 1, reason: 'todo without content, status or priority' }],
    })
    const { chats } = store
    expect(chats.getSession('ses_1', 'proj_1')).toMatchObject({ title: 'Fix the build', directory: '/w', time: { created: 10, updated: 20 } })
    expect(chats.listMessages('ses_1', { withParts: true })).toEqual([
      { info: { id: 'msg_1', sessionID: 'ses_1', role: 'user', content: 'fix it', time: { created: 11 } }, parts: [] },
      {
        info: { id: 'msg_2', sessionID: 'ses_1', role: 'assistant', agent: 'build', time: { created: 12, completed: 13 } },
        parts: [
          { id: 'prt_1', messageID: 'msg_2', type: 'text', text: 'done' },
          { id: 'prt_2', messageID: 'msg_2', type: 'tool', tool: 'bash', callID: 'c', state: { status: 'completed', output: '"ok"' } },
        ],
      },
    ])
    const [row] = sqlQuery<{ data: string; session_id: string }>(file, "SELECT data, session_id FROM part WHERE id = 'prt_1'")
    expect(JSON.parse(row.data)).toEqual({ type: 'text', text: 'done' })
    expect(row.session_id).toBe('ses_1')
    expect(sqlQuery(file, 'SELECT content, position FROM todo ORDER BY position')).toEqual([
      { content: 'a', position: 0 },
      { content: 'c', position: 2 },
    ])
    expect(chats.getPermission('proj_1')).toEqual([{ permission: 'edit', pattern: '*', action: 'allow' }])
  })

  it('skips and counts orphans; a part of a missing message is also an error', () => {
    put('project/proj_1.json', {})
    put('session/proj_missing/ses_9.json', { title: 'orphan' })
    put('message/ses_9/msg_9.json', { role: 'user' })
    put('part/msg_9/prt_9.json', { type: 'text', text: '' })
    put('todo/ses_9.json', [])
    put('permission/proj_missing.json', [])
    const report = store.chats.importLegacyJson(tree)
    expect(report.migrated).toBe(false)
    expect(report.orphans).toEqual({ session: 1, message: 1, part: 1, todo: 1, permission: 1 })
    expect(report.errors).toEqual([{ file: join(tree, 'part/msg_9/prt_9.json'), entry: null, reason: 'part of a message that is not in the import' }])
    expect(sqlQuery(file, 'SELECT count(*) AS n FROM session')).toEqual([{ n: 0 }])
  })

  it('reports malformed files and imports the rest; a null body is skipped', () => {
    opencodeTree()
    put('message/ses_1/msg_bad.json', '{"role": ')
    put('message/ses_1/msg_null.json', 'null')
    put('todo/ses_1.json', { not: 'an array' })
    const report = store.chats.importLegacyJson(tree)
    expect(report.counts).toEqual({ session: 1, message: 2, part: 2, permission: 1 })
    const reasons = report.errors.map((e) => [e.file.slice(tree.length + 1), e.entry, e.reason.split(':')[0]])
    expect(reasons).toEqual([
      ['message/ses_1/msg_bad.json', null, 'failed to read'],
      ['todo/ses_1.json', null, 'todo not an array'],
    ])
  })

  it('is idempotent: a second run inserts nothing and reports the same errors', () => {
    opencodeTree()
    put('message/ses_1/msg_bad.json', '{')
    const first = store.chats.importLegacyJson(tree, { layout: 'opencode' })
    const before = sqlQuery(file, 'SELECT id, data FROM message ORDER BY id')
    const second = store.chats.importLegacyJson(tree)
    expect(second).toEqual({ migrated: false, counts: {}, orphans: {}, errors: first.errors })
    expect(sqlQuery(file, 'SELECT id, data FROM message ORDER BY id')).toEqual(before)
  })

  it('a missing or empty tree imports nothing', () => {
    expect(store.chats.importLegacyJson(join(root, 'absent'))).toEqual({ migrated: false, counts: {}, orphans: {}, errors: [] })
    mkdirSync(tree)
    expect(store.chats.importLegacyJson(tree)).toEqual({ migrated: false, counts: {}, orphans: {}, errors: [] })
  })

  it('reports progress with counts; a throwing callback imports nothing and is rethrown', () => {
    opencodeTree()
    const events: ImportProgress[] = []
    store.chats.importLegacyJson(tree, { onProgress: (p) => events.push(p) })
    expect(events.map((e) => e.phase)).toEqual(['scan', 'import', 'import', 'commit', 'done'])
    expect(events.at(-1)).toMatchObject({ filesDone: 8, filesTotal: 8, rows: 8 })
    store.close()
    file = join(root, `i${n}-b.db`)
    store = openStore(file, { stores: ['chats'] })
    const stop = new Error('stop')
    expect(() =>
      store.chats.importLegacyJson(tree, {
        onProgress: (p) => {
          if (p.phase === 'commit') throw stop
        },
      }),
    ).toThrow(stop)
    expect(sqlQuery(file, 'SELECT (SELECT count(*) FROM session) + (SELECT count(*) FROM message) AS n')).toEqual([{ n: 0 }])
  })

  it('refuses a layout it does not know, and a storageDir that is not a string', () => {
    expect(thrown(() => store.chats.importLegacyJson(tree, { layout: 'overstory' as never })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => store.chats.importLegacyJson(7 as never))).toBeInstanceOf(TypeError)
  })

  it('leaves the source files as they were', () => {
    opencodeTree()
    const path = join(tree, 'message/ses_1/msg_1.json')
    const before = readFileSync(path)
    store.chats.importLegacyJson(tree)
    expect(readFileSync(path).equals(before)).toBe(true)
  })
})

describe('importLegacyJsonAsync', () => {
  it('imports on a connection of its own, with the same report', async () => {
    opencodeTree()
    const report = await store.chats.importLegacyJsonAsync(tree)
    expect(report.counts).toEqual({ session: 1, message: 2, part: 2, todo: 2, permission: 1 })
    expect(store.chats.listMessages('ses_1')).toHaveLength(2)
    await expect(store.chats.importLegacyJsonAsync(tree, { layout: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
  })
})
