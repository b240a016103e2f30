// Change events of the chats store: etcode's bus event names, delivered after the commit, never
// for a rolled-back write, in commit order; inside store.transaction after the outermost commit.
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'

import * as etcode from '../etcode.js'
import { ChatChange, openStore, StoreWith } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-chats-events-')
let n = 0
let file: string
let store: StoreWith<'chats'>
let seen: ChatChange[]

beforeEach(() => {
  file = join(root, `e${++n}.db`)
  store = openStore(file, { stores: ['chats'] })
  seen = []
  store.chats.onChange((e) => seen.push(e))
  return () => store.close()
})

const types = () => seen.map((e) => e.type)

describe('onChange', () => {
  it('publishes etcode’s event for each write, after it committed', () => {
    const { chats } = store
    const committed: number[] = []
    chats.onChange(() => committed.push(Number(sqlQuery(file, 'SELECT count(*) AS n FROM session')[0].n)))
    const s = chats.createSession({ projectID: 'p', directory: '/' })
    expect(committed).toEqual([1])
    chats.setSessionTitle(s.id, 't')
    chats.touchSession(s.id)
    chats.setSessionSummary(s.id, { additions: 1, deletions: 0, files: 1 })
    const m = chats.createMessage({ sessionID: s.id, role: 'assistant' })
    const p = chats.createPart({ messageID: m.id, type: 'text', text: '' })
    chats.updatePart(p.id, (d) => Object.assign(d, { text: 'a' }))
    chats.updateMessage(m.id, (d) => Object.assign(d, { finish: 'stop' }))
    chats.replaceTodos(s.id, [{ content: 'x', status: 'pending' }])
    chats.removeMessage(m.id)
    chats.removeSession(s.id)
    expect(types()).toEqual([
      'session.created', 'session.updated', 'session.updated', 'session.updated',
      'message.created', 'part.updated', 'part.updated', 'message.created', 'todo.updated',
      'message.deleted', 'session.deleted',
    ])
    expect(seen[0].properties).toStrictEqual(s)
    expect(seen[6].properties).toMatchObject({ id: p.id, text: 'a' })
    expect(seen[8].properties).toEqual({ sessionID: s.id, todos: [{ content: 'x', status: 'pending', priority: 'medium' }] })
    expect(seen[9].properties).toEqual({ id: m.id, sessionID: s.id })
    expect(seen[10].properties).toEqual({ id: s.id })
  })

  it('publishes nothing for a failed call, a throwing update or a write that changed nothing', () => {
    const { chats } = store
    const s = chats.createSession({ projectID: 'p', directory: '/' })
    const p = chats.createPart({ messageID: chats.createMessage({ sessionID: s.id, role: 'user', content: 'x' }).id, type: 'text', text: '' })
    seen.length = 0
    thrown(() => chats.createMessage({ sessionID: 'sess_missing', role: 'user', content: 'x' }))
    thrown(() =>
      chats.updatePart(p.id, () => {
        chats.createPart({ messageID: p.messageID, type: 'text', text: 'inner' })
        throw new Error('no')
      }),
    )
    expect(chats.listParts(p.messageID)).toHaveLength(1)
    chats.updatePart('part_missing', () => {})
    chats.touchSession('sess_missing')
    chats.removeSession('sess_missing')
    chats.removeMessage('msg_missing')
    expect(seen).toEqual([])
  })

  it('inside store.transaction: after the outermost commit, in commit order; a rolled-back level publishes nothing', () => {
    const { chats } = store
    store.transaction(() => {
      const s = chats.createSession({ projectID: 'p', directory: '/', title: 'kept' })
      expect(() =>
        store.transaction(() => {
          chats.setSessionTitle(s.id, 'lost')
          throw new Error('inner')
        }),
      ).toThrow('inner')
      store.transaction(() => chats.touchSession(s.id))
      expect(seen).toEqual([])
    })
    expect(types()).toEqual(['session.created', 'session.updated'])
    expect(seen[1].properties).toMatchObject({ title: 'kept' })
    seen.length = 0
    expect(() =>
      store.transaction(() => {
        chats.createSession({ projectID: 'p', directory: '/' })
        throw new Error('outer')
      }),
    ).toThrow('outer')
    expect(seen).toEqual([])
  })

  it('a listener’s own writes come after the events already committed; unsubscribe stops delivery', () => {
    const { chats } = store
    const order: string[] = []
    const off = chats.onChange((e) => {
      order.push(e.type)
      if (e.type === 'session.created') chats.setSessionTitle((e.properties as { id: string }).id, 'by listener')
    })
    store.transaction(() => {
      chats.createSession({ projectID: 'p', directory: '/' })
      chats.createSession({ projectID: 'p', directory: '/' })
    })
    expect(order).toEqual(['session.created', 'session.created', 'session.updated', 'session.updated'])
    off()
    chats.createSession({ projectID: 'p', directory: '/' })
    expect(order).toHaveLength(4)
    expect(thrown(() => chats.onChange('x' as never)).code).toBe('ERR_INVALID_ARG_TYPE')
  })

  it('a throwing listener does not stop the others nor fail the write', async () => {
    const { chats } = store
    const boom = new Error('listener')
    const uncaught: unknown[] = []
    const handler = (err: unknown) => uncaught.push(err)
    process.prependListener('uncaughtException', handler)
    try {
      chats.onChange(() => {
        throw boom
      })
      const s = chats.createSession({ projectID: 'p', directory: '/' })
      expect(chats.getSession(s.id)).toBeDefined()
      expect(types()).toEqual(['session.created'])
      await new Promise((r) => setTimeout(r, 0))
    } finally {
      process.removeListener('uncaughtException', handler)
    }
    expect(uncaught).toEqual([boom])
  })
})

describe('stowage/etcode onChange', () => {
  it('delivers the storage events of etcode’s functions, across open and close', async () => {
    store.close()
    const got: string[] = []
    const off = etcode.onChange((e) => got.push(e.type))
    etcode.Database.open(join(root, `drop-${n}.db`))
    try {
      const s = await etcode.Session.create({ projectID: 'p', directory: '/' })
      const m = await etcode.Message.create('p', { sessionID: s.id, role: 'assistant' })
      const part = await etcode.Part.createTool('p', { messageID: m.id, tool: 'bash' })
      etcode.Part.update('p', m.id, part.id, (d) => {
        if (d.type === 'tool') d.state = { status: 'running' }
      })
      etcode.Message.update('p', s.id, m.id, () => {})
      await etcode.Session.remove('p', s.id)
      expect(got).toEqual(['session.created', 'message.created', 'part.updated', 'part.updated', 'message.created', 'session.deleted'])
      etcode.Database.close()
      etcode.Database.open(join(root, `drop-${n}-b.db`))
      await etcode.Session.create({ projectID: 'p', directory: '/' })
      expect(got).toHaveLength(7)
      off()
      await etcode.Session.create({ projectID: 'p', directory: '/' })
      expect(got).toHaveLength(7)
    } finally {
      etcode.Database.close()
      store = openStore(file, { stores: ['chats'] })
    }
  })
})
