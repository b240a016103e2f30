// The history store through the package root: snapshots under the size cap (starred ones kept,
// spec 64), recordings, analytics with hourly and daily buckets, and applyRetention with its
// async twin (spec 37: snapshots 30 days unless starred, analytics 90), on the boundary day.
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'

import { AnalyticsStore, openStore, RecordingStore, RetentionProgress, SnapshotStore, Store, StoreWith } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-history-')
const DAY = 86_400_000
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
let n = 0
let file: string
let store: StoreWith<'history'>

function open(history?: object) {
  file = join(root, `h${++n}.sqlite`)
  return openStore(file, { stores: ['history'], ...(history ? { history } : {}) })
}

beforeEach(() => {
  store = open()
  return () => store.close()
})

/** A manual snapshot whose stored size is exactly `bytes`. */
function sized(name: string, bytes: number, starred = false) {
  // trigger {} (2) + summary "name" + state "xxx…" (2 + padding).
  const pad = bytes - 2 - (name.length + 2) - 2
  return { type: 'manual' as const, trigger: {}, summary: name, state: 'x'.repeat(pad), starred }
}

const names = (s: SnapshotStore) => s.list().map((x) => x.summary)
const summed = () => sqlQuery<{ n: number }>(file, 'SELECT coalesce(sum(size_bytes), 0) AS n FROM snapshots')[0].n

describe('snapshots', () => {
  it('are created with their size, read back with the state, listed newest first without it', () => {
    const s = store.snapshots
    const made = s.create({ type: 'auto', trigger: { event: 'session.created' }, description: 'é', state: { balance: { diem: 12.5 } }, summary: [1] })
    expect(made).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      timestamp: expect.stringMatching(ISO),
      type: 'auto',
      trigger: { event: 'session.created' },
      description: 'é',
      starred: false,
      sizeBytes: 27 + 2 + 25 + 3,
      state: { balance: { diem: 12.5 } },
      summary: [1],
    })
    expect(s.get(made.id)).toEqual(made)
    expect(s.get('nope')).toBeNull()
    const later = s.create({ type: 'manual', trigger: 'user', state: null, summary: 'later', starred: true })
    expect(later.description).toBeNull()
    const listed = s.list()
    expect(listed.map((x) => x.id)).toEqual([later.id, made.id])
    expect(listed.every((x) => !('state' in x))).toBe(true)
    expect(s.list({ starred: true }).map((x) => x.id)).toEqual([later.id])
    expect(s.list({ starred: false }).map((x) => x.id)).toEqual([made.id])
    expect(s.list({ limit: 1, offset: 1 }).map((x) => x.id)).toEqual([made.id])
    expect(s.totalBytes()).toBe(made.sizeBytes + later.sizeBytes)
    s.star(made.id, true)
    expect(s.get(made.id)!.starred).toBe(true)
    s.delete(made.id)
    expect(s.get(made.id)).toBeNull()
    expect(s.totalBytes()).toBe(later.sizeBytes)
    expect(thrown(() => s.delete(made.id)).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => s.star('nope', true)).code).toBe('ERR_NOT_FOUND')
  })

  it('refuse bad input with coded errors and write nothing', () => {
    const s = store.snapshots
    const ok = sized('ok', 40)
    expect(thrown(() => s.create({ ...ok, type: 'weekly' as 'auto' })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => s.create({ ...ok, state: undefined }))).toBeInstanceOf(TypeError)
    expect(thrown(() => s.create({ ...ok, summary: 1n }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    expect(thrown(() => s.create({ ...ok, starred: 'yes' as unknown as boolean }))).toBeInstanceOf(TypeError)
    expect(thrown(() => s.create(null as never))).toBeInstanceOf(TypeError)
    expect(thrown(() => s.star('x', 1 as unknown as boolean))).toBeInstanceOf(TypeError)
    expect(thrown(() => s.list({ limit: -1 }))).toBeInstanceOf(RangeError)
    expect(s.list()).toEqual([])
    expect(s.totalBytes()).toBe(0)
  })

  it('under the cap delete the oldest unstarred first and never a starred one (spec 64)', () => {
    store.close()
    store = open({ maxSnapshotBytes: 1000 })
    const s = store.snapshots
    const [a, , , d] = ['a', 'b', 'c', 'd'].map((x) => s.create(sized(x, 250)))
    expect(a.sizeBytes).toBe(250)
    expect(s.totalBytes()).toBe(1000)
    s.star(a.id, true)
    s.create(sized('e', 300))
    // a is starred: b and then c make room for e's 300 bytes.
    expect(names(s)).toEqual(['e', 'd', 'a'])
    expect(s.totalBytes()).toBe(800)
    s.star(d.id, true)
    s.create(sized('f', 700))
    // Only e was unstarred; a and d stay although the total passes the cap.
    expect(names(s)).toEqual(['f', 'd', 'a'])
    expect(s.totalBytes()).toBe(1200)
    expect(summed()).toBe(1200)
    expect(thrown(() => s.create(sized('g', 1001))).code).toBe('ERR_INVALID_ARG')
    s.create(sized('h', 10))
    expect(names(s)).toEqual(['h', 'd', 'a'])
    expect(s.totalBytes()).toBe(summed())
  })
})

describe('the cap in a transaction', () => {
  it('is undone with it: a rolled-back create leaves the snapshots it evicted, and the total', () => {
    store.close()
    store = open({ maxSnapshotBytes: 500 })
    const s = store.snapshots
    s.create(sized('a', 250))
    s.create(sized('b', 250))
    const boom = new Error('no')
    expect(thrown(() => store.transaction(() => {
      s.create(sized('c', 250))
      expect(names(s)).toEqual(['c', 'b'])
      throw boom
    }))).toBe(boom)
    expect(names(s)).toEqual(['b', 'a'])
    expect(s.totalBytes()).toBe(500)
    expect(summed()).toBe(500)
  })
})

describe('recordings', () => {
  it('are created, read back with their events, listed newest first by session, deleted', () => {
    const r = store.recordings
    const first = r.create({ sessionId: 's1', title: 'Demo', duration: 1500, events: [{ t: 0, type: 'message' }], snapshots: ['snap-1'], metadata: { app: '1.2' } })
    expect(first).toEqual({ id: expect.stringMatching(/^[0-9a-f]{32}$/), sessionId: 's1', title: 'Demo', createdAt: expect.stringMatching(ISO), duration: 1500, events: [{ t: 0, type: 'message' }], snapshots: ['snap-1'], metadata: { app: '1.2' } })
    expect(r.get(first.id)).toEqual(first)
    const second = r.create({ sessionId: 's2', title: 'Other', duration: 0, events: [] })
    expect([second.snapshots, second.metadata]).toEqual([null, null])
    const third = r.create({ sessionId: 's1', title: 'Again', duration: 3, events: [1, 2] })
    expect(r.list().map((x) => x.id)).toEqual([third.id, second.id, first.id])
    expect(r.list({ sessionId: 's1' }).map((x) => x.id)).toEqual([third.id, first.id])
    expect(r.list().every((x) => !('events' in x))).toBe(true)
    r.delete(second.id)
    expect(r.get(second.id)).toBeNull()
    expect(thrown(() => r.delete(second.id)).code).toBe('ERR_NOT_FOUND')
    expect(thrown(() => r.create({ sessionId: 's', title: 't', duration: 1, events: {} as unknown[] }))).toBeInstanceOf(TypeError)
    expect(thrown(() => r.create({ sessionId: 's', title: 't', duration: -1, events: [] })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => r.create({ sessionId: 's', title: 't', duration: 1.5, events: [] }))).toBeInstanceOf(RangeError)
    expect(thrown(() => r.create({ sessionId: 's', title: '', duration: 1, events: [] })).code).toBe('ERR_INVALID_ARG')
    expect(r.list()).toHaveLength(2)
  })
})

describe('analytics', () => {
  it('record events at their own timestamps and count and sum them per hour and per day', () => {
    const a = store.analytics
    const at = (timestamp: string, eventType: string, sessionId: string, promptTokens: number) =>
      a.record({ timestamp, eventType, sessionId, model: 'm', promptTokens, completionTokens: 1, cost: 0.25, durationMs: 100 })
    const e = at('2026-05-01T10:00:00.000Z', 'message', 'a', 10)
    expect(e).toEqual({ id: expect.any(Number), timestamp: '2026-05-01T10:00:00.000Z', eventType: 'message', sessionId: 'a', model: 'm', promptTokens: 10, completionTokens: 1, cost: 0.25, durationMs: 100, metadata: null })
    at('2026-05-01T10:59:59.999Z', 'message', 'b', 20)
    at('2026-05-01T11:00:00.000Z', 'tool', 'a', 30)
    at('2026-05-02T00:00:00.000Z', 'message', 'a', 40)
    const now = a.record({ eventType: 'session.created', metadata: { source: 'cli' } })
    expect(now.timestamp).toMatch(ISO)
    expect(Math.abs(Date.parse(now.timestamp) - Date.now())).toBeLessThan(DAY)
    expect(now.metadata).toEqual({ source: 'cli' })

    const range = { from: '2026-05-01T10:00:00.000Z', to: Date.parse('2026-05-02T00:00:00.000Z') }
    expect(a.query({ ...range, groupBy: 'hour' })).toEqual([
      { start: '2026-05-01T10:00:00.000Z', count: 2, promptTokens: 30, completionTokens: 2, cost: 0.5, durationMs: 200 },
      { start: '2026-05-01T11:00:00.000Z', count: 1, promptTokens: 30, completionTokens: 1, cost: 0.25, durationMs: 100 },
    ])
    expect(a.query({ to: '2026-05-03T00:00:00.000Z', groupBy: 'day' }).map((b) => [b.start, b.count])).toEqual([
      ['2026-05-01T00:00:00.000Z', 3],
      ['2026-05-02T00:00:00.000Z', 1],
    ])
    expect(a.query({ ...range, eventType: 'message', sessionId: 'a' })).toEqual([{ start: null, count: 1, promptTokens: 10, completionTokens: 1, cost: 0.25, durationMs: 100 }])
    expect(a.query({ eventType: 'nothing' })).toEqual([{ start: null, count: 0, promptTokens: 0, completionTokens: 0, cost: 0, durationMs: 0 }])
    expect(a.query({ eventType: 'nothing', groupBy: 'day' })).toEqual([])
    expect(a.query()[0].count).toBe(5)
  })

  it('refuse a timestamp in another format, bad numbers and an unknown groupBy', () => {
    const a = store.analytics
    expect(thrown(() => a.record({ eventType: 'm', timestamp: '2026-05-01T10:00:00Z' })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => a.record({ eventType: 'm', cost: -1 })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => a.record({ eventType: 'm', promptTokens: 1.5 }))).toBeInstanceOf(RangeError)
    expect(thrown(() => a.record({ eventType: 7 as unknown as string }))).toBeInstanceOf(TypeError)
    expect(thrown(() => a.query({ groupBy: 'week' as 'day' })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => a.query({ from: '2026-05-01' })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => a.query({ from: 0.5 }))).toBeInstanceOf(RangeError)
    expect(thrown(() => a.query({ to: {} as string }))).toBeInstanceOf(TypeError)
    expect(a.query()[0].count).toBe(0)
  })
})

describe('applyRetention', () => {
  const MIDNIGHT = Date.parse('2026-05-01T00:00:00.000Z')

  it('keeps an event exactly at the cutoff and deletes the one a millisecond older (the boundary day)', () => {
    const cut = MIDNIGHT - 90 * DAY
    for (const ms of [cut - 1, cut, cut + 1]) store.analytics.record({ eventType: 'm', timestamp: new Date(ms).toISOString() })
    expect(store.applyRetention({ now: MIDNIGHT })).toEqual({ snapshots: 0, analytics: 1 })
    expect(sqlQuery(file, 'SELECT timestamp FROM analytics ORDER BY timestamp').map((r) => r.timestamp)).toEqual(['2026-01-31T00:00:00.000Z', '2026-01-31T00:00:00.001Z'])
    expect(store.applyRetention({ now: MIDNIGHT })).toEqual({ snapshots: 0, analytics: 0 })
  })

  it('deletes unstarred snapshots 30 days old, to the millisecond, and keeps starred ones', () => {
    const s = store.snapshots
    const plain = s.create(sized('plain', 40))
    const starred = s.create(sized('starred', 40, true))
    const at = Date.parse(plain.timestamp) + 30 * DAY
    expect(store.applyRetention({ now: at - 1 })).toEqual({ snapshots: 0, analytics: 0 })
    expect(store.applyRetention({ now: at })).toEqual({ snapshots: 0, analytics: 0 })
    expect(store.applyRetention({ now: at + 1 })).toEqual({ snapshots: 1, analytics: 0 })
    expect(s.list().map((x) => x.id)).toEqual([starred.id])
    expect(s.totalBytes()).toBe(summed())
    expect(store.applyRetention({ now: at + 10_000 * DAY }).snapshots).toBe(0)
    expect(s.get(starred.id)).not.toBeNull()
    // The clock by default: nothing made today has expired.
    expect(store.applyRetention()).toEqual({ snapshots: 0, analytics: 0 })
  })

  it('follows the retention days of options.history, Infinity keeping rows forever', () => {
    store.close()
    store = open({ snapshotRetentionDays: Infinity, analyticsRetentionDays: 0.5 })
    store.snapshots.create(sized('kept', 40))
    store.analytics.record({ eventType: 'm', timestamp: new Date(MIDNIGHT - DAY / 2 - 1).toISOString() })
    store.analytics.record({ eventType: 'm', timestamp: new Date(MIDNIGHT - DAY / 2).toISOString() })
    expect(store.applyRetention({ now: MIDNIGHT })).toEqual({ snapshots: 0, analytics: 1 })
    expect(store.applyRetention({ now: Date.now() + 100_000 * DAY })).toEqual({ snapshots: 0, analytics: 1 })
    expect(store.snapshots.list()).toHaveLength(1)
  })

  it('deletes thousands of rows without VACUUM, and refuses to run inside a transaction', () => {
    const old = new Date(MIDNIGHT - 100 * DAY).toISOString()
    store.transaction(() => {
      for (let i = 0; i < 3000; i++) store.analytics.record({ eventType: 'bulk', timestamp: old })
    })
    const pages = store.info().pageCount
    expect(thrown(() => store.transaction(() => store.applyRetention({ now: MIDNIGHT }))).code).toBe('ERR_TRANSACTION_OPEN')
    expect(store.analytics.query()[0].count).toBe(3000)
    expect(store.applyRetention({ now: MIDNIGHT })).toEqual({ snapshots: 0, analytics: 3000 })
    expect(store.info().pageCount).toBe(pages)
    expect(store.info().freelistCount).toBeGreaterThan(0)
    expect(thrown(() => store.applyRetention({ now: 'soon' as unknown as number }))).toBeInstanceOf(TypeError)
    expect(thrown(() => store.applyRetention({ now: 1.5 }))).toBeInstanceOf(RangeError)
  })

  it('is {} on a file without a store that has a policy, and writes nothing when nothing expired', () => {
    const other = openStore(join(root, `t${++n}.sqlite`))
    expect(other.applyRetention()).toEqual({})
    other.close()
    store.analytics.record({ eventType: 'm' })
    store.close()
    store = openStore(file, { stores: ['history'], readOnly: true })
    expect(store.applyRetention()).toEqual({ snapshots: 0, analytics: 0 })
    expect(thrown(() => store.applyRetention({ now: Date.now() + 100 * DAY })).code).toBe('SQLITE_READONLY')
  })

  it('has an async twin that reports progress per table and stops when the callback throws', async () => {
    const old = new Date(MIDNIGHT - 100 * DAY).toISOString()
    store.transaction(() => {
      for (let i = 0; i < 2000; i++) store.analytics.record({ eventType: 'bulk', timestamp: old })
    })
    store.snapshots.create(sized('s', 40))
    const events: RetentionProgress[] = []
    const done = await store.applyRetentionAsync({ now: Date.now() + 31 * DAY, onProgress: (p) => events.push(p) })
    expect(done).toEqual({ snapshots: 1, analytics: 2000 })
    expect(events[0]).toEqual({ table: 'snapshots', deleted: 0, total: 1 })
    const analytics = events.filter((e) => e.table === 'analytics')
    expect(analytics[0]).toEqual({ table: 'analytics', deleted: 0, total: 2000 })
    expect(analytics.at(-1)).toEqual({ table: 'analytics', deleted: 2000, total: 2000 })
    expect(analytics.length).toBeGreaterThan(2)
    expect(store.analytics.query()[0].count).toBe(0)

    store.transaction(() => {
      for (let i = 0; i < 2000; i++) store.analytics.record({ eventType: 'bulk', timestamp: old })
    })
    const boom = new Error('stop')
    let calls = 0
    const stopped = store.applyRetentionAsync({ now: MIDNIGHT, onProgress: (p) => { if (p.table === 'analytics' && ++calls === 2) throw boom } })
    await expect(stopped).rejects.toBe(boom)
    const left = store.analytics.query()[0].count
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThan(2000)
    // What is left is the newest of the expired rows: the oldest went first.
    const ids = sqlQuery<{ id: number }>(file, 'SELECT id FROM analytics ORDER BY id').map((r) => r.id)
    expect(ids[ids.length - 1] - ids[0] + 1).toBe(left)
    await expect(store.applyRetentionAsync({ now: MIDNIGHT })).resolves.toEqual({ snapshots: 0, analytics: left })

    await expect(store.applyRetentionAsync({ onProgress: 5 as never })).rejects.toBeInstanceOf(TypeError)
    const memory = openStore(':memory:', { stores: ['history'] })
    await expect(memory.applyRetentionAsync()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    memory.close()
  })
})

describe('the store', () => {
  it('shares a file with the conversations store', () => {
    store.close()
    file = join(root, `shared${++n}.sqlite`)
    const both = openStore(file, { stores: ['conversations', 'history'] })
    const session = both.conversations.createSession({ title: 'Plans', model: 'm' })
    both.analytics.record({ eventType: 'message', sessionId: session.id, promptTokens: 5 })
    both.recordings.create({ sessionId: session.id, title: 'Plans', duration: 10, events: [] })
    expect(both.info().schema).toEqual({ conversations: 1, history: 1 })
    both.close()
    store = openStore(file, { stores: ['history', 'conversations'] }) as StoreWith<'history'>
    expect(store.analytics.query({ sessionId: session.id })[0].promptTokens).toBe(5)
    expect(store.recordings.list({ sessionId: session.id })).toHaveLength(1)
  })

  it('validates options.history', () => {
    const bad = (history: unknown) => thrown(() => openStore(join(root, `o${++n}.sqlite`), { stores: ['history'], history } as never))
    expect(bad(5)).toBeInstanceOf(TypeError)
    expect(bad({ maxSnapshotBytes: 0 })).toBeInstanceOf(RangeError)
    expect(bad({ maxSnapshotBytes: 1.5 })).toBeInstanceOf(RangeError)
    expect(bad({ maxSnapshotBytes: '1' })).toBeInstanceOf(TypeError)
    expect(bad({ snapshotRetentionDays: 0 })).toBeInstanceOf(RangeError)
    expect(bad({ analyticsRetentionDays: NaN })).toBeInstanceOf(RangeError)
    expect(bad({ analyticsRetentionDays: '90' })).toBeInstanceOf(TypeError)
    for (const err of [bad(5), bad({ maxSnapshotBytes: 0 })]) expect(err).toMatchObject({ code: expect.stringMatching(/^ERR_/) })
  })

  it('has members that cannot be constructed and are gone with the file', () => {
    expect(store.snapshots).toBeInstanceOf(SnapshotStore)
    expect(store.recordings).toBeInstanceOf(RecordingStore)
    expect(store.analytics).toBeInstanceOf(AnalyticsStore)
    expect(store).toBeInstanceOf(Store)
    for (const C of [SnapshotStore, RecordingStore, AnalyticsStore]) expect(thrown(() => new (C as unknown as new () => unknown)()).code).toBe('ERR_ILLEGAL_CONSTRUCTOR')
    const other = openStore(join(root, `t${++n}.sqlite`))
    expect('snapshots' in other).toBe(false)
    other.close()
    const s = open()
    s.close()
    expect(thrown(() => s.snapshots.totalBytes()).code).toBe('ERR_CLOSED')
  })
})
