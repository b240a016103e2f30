// The settings store through the package root: namespaced JSON settings with a quota and the
// spec's recent.* cleanup, and the crash-recovery slot with its autosave (the sidepanel spec
// 37's localStorage layer, reference §1.1 and §1.3).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { openStore, RecoveryStore, SettingsStore, StoreWith } from '../index.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-settings-')
let n = 0
let file: string
let store: StoreWith<'settings'>
let s: SettingsStore

beforeEach(() => {
  file = join(root, `s${++n}.sqlite`)
  store = openStore(file, { stores: ['settings'] })
  s = store.settings
  return () => store.close()
})

/** Every row of the file's settings table, read apart from stowage. */
const rows = () => sqlQuery(file, 'SELECT key, value FROM settings ORDER BY key')

describe('settings', () => {
  it('keep JSON values by key, returned parsed, with a default for a missing key', () => {
    const layout = { panels: [{ id: 'chat', width: 320.5 }], wide: true, note: null }
    s.set('layout', layout)
    s.set('theme', 'dark')
    s.set('count', 3)
    s.set('nothing', null)
    expect(s.get('layout')).toEqual(layout)
    expect(s.get('theme')).toBe('dark')
    expect(s.get('nothing')).toBeNull()
    expect(s.get('missing')).toBeUndefined()
    expect(s.get('missing', 'fallback')).toBe('fallback')
    expect(s.get('nothing', 'fallback')).toBeNull()
    s.set('theme', 'light')
    expect(s.get('theme')).toBe('light')
    expect(rows()).toContainEqual({ key: 'theme', value: '"light"' })
    expect(s.remove('theme')).toBe(true)
    expect(s.remove('theme')).toBe(false)
    expect(s.get('theme')).toBeUndefined()
  })

  it('list by key with a prefix, each { key, value, updatedAt }', () => {
    const before = Date.now()
    s.set('recent.searches', ['a'])
    s.set('recent.sessions', ['s1', 's2'])
    s.set('ui.tour', { done: true })
    const all = s.list()
    expect(all.map((e) => e.key)).toEqual(['recent.searches', 'recent.sessions', 'ui.tour'])
    expect(all[1]).toEqual({ key: 'recent.sessions', value: ['s1', 's2'], updatedAt: expect.any(Number) })
    expect(all[1].updatedAt).toBeGreaterThanOrEqual(before)
    expect(s.list('recent.').map((e) => e.key)).toEqual(['recent.searches', 'recent.sessions'])
    expect(s.list('nope')).toEqual([])
  })

  it('export every key as one object and import one back in a transaction, merging', () => {
    s.set('a', 1)
    s.set('b', { deep: [1, 2] })
    const exported = s.exportAll()
    expect(exported).toEqual({ a: 1, b: { deep: [1, 2] } })
    s.remove('a')
    expect(s.importAll({ ...exported, c: 'new' })).toBe(3)
    expect(s.exportAll()).toEqual({ a: 1, b: { deep: [1, 2] }, c: 'new' })
    expect(s.importAll({})).toBe(0)
    const tricky = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}')
    expect(s.importAll(tricky)).toBe(2)
    const back = s.exportAll()
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(Object.hasOwn(back, '__proto__')).toBe(true)
    expect(back.__proto__).toEqual({ polluted: true })
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
  })

  it('importAll reads only own enumerable string keys', () => {
    const proto = { inherited: 1 }
    const values = Object.create(proto)
    values.own = 2
    Object.defineProperty(values, 'hidden', { value: 3, enumerable: false })
    values[Symbol('sym')] = 4
    expect(s.importAll(values)).toBe(1)
    expect(s.exportAll()).toEqual({ own: 2 })
  })

  it('refuse a key that is not a non-empty string with a TypeError', () => {
    for (const bad of [undefined, null, 5, {}, '']) {
      const err = thrown(() => s.set(bad as string, 1))
      expect(err).toBeInstanceOf(TypeError)
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
      expect(err.message).toMatch(/^set: key must be a non-empty string/)
    }
    expect(thrown(() => s.get('')).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => s.remove(1 as unknown as string)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => s.list(1 as unknown as string)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => s.importAll({ '': 1 })).code).toBe('ERR_INVALID_ARG')
    expect(rows()).toEqual([])
  })

  it('refuse a value JSON cannot hold with a coded TypeError, writing nothing', () => {
    s.set('kept', 1)
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const bad of [undefined, () => 1, Symbol('x'), 10n, cycle, { big: 1n }]) {
      const err = thrown(() => s.set('k', bad))
      expect(err).toBeInstanceOf(TypeError)
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
      expect(err.message).toMatch(/^set: value must be a JSON value/)
    }
    const err = thrown(() => s.importAll({ fine: 1, bad: () => 1 }))
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
    expect(err.message).toContain('values["bad"]')
    expect(rows()).toEqual([{ key: 'kept', value: '1' }])
    expect(thrown(() => s.importAll([] as unknown as Record<string, unknown>)).code).toBe('ERR_INVALID_ARG_TYPE')
  })

  it('join store.transaction and are undone with it', () => {
    s.set('a', 1)
    expect(() =>
      store.transaction(() => {
        s.set('a', 2)
        s.importAll({ b: 1 })
        throw new Error('no')
      }),
    ).toThrow('no')
    expect(s.exportAll()).toEqual({ a: 1 })
  })

  it('survive closing and reopening the file', () => {
    s.set('theme', 'dark')
    store.recovery.save({ draft: 'hi' })
    store.close()
    store = openStore(file, { stores: ['settings'] })
    s = store.settings
    expect(s.get('theme')).toBe('dark')
    expect(store.recovery.check()?.state).toEqual({ draft: 'hi' })
    store.close()
    expect(thrown(() => s.get('theme')).code).toBe('ERR_CLOSED')
    expect(thrown(() => store.recovery.save(1)).code).toBe('ERR_CLOSED')
  })
})

describe('namespaces', () => {
  it('keep each namespace to its keys; without one a store sees every key in full', () => {
    const side = openStore(file, { stores: ['settings'], settings: { namespace: 'sidepanel.' } })
    const other = openStore(file, { stores: ['settings'], settings: { namespace: 'other.' } })
    try {
      side.settings.set('theme', 'dark')
      other.settings.set('theme', 'light')
      expect(side.settings.get('theme')).toBe('dark')
      expect(other.settings.get('theme')).toBe('light')
      expect(side.settings.exportAll()).toEqual({ theme: 'dark' })
      expect(s.exportAll()).toEqual({ 'other.theme': 'light', 'sidepanel.theme': 'dark' })
      expect(rows().map((r) => r.key)).toEqual(['other.theme', 'sidepanel.theme'])
      side.settings.importAll({ a: 1 })
      expect(other.settings.list().map((e) => e.key)).toEqual(['theme'])
      expect(side.settings.remove('theme')).toBe(true)
      expect(other.settings.get('theme')).toBe('light')
      side.recovery.save('side state')
      expect(other.recovery.check()).toBeNull()
      expect(side.recovery.check()?.state).toBe('side state')
    } finally {
      side.close()
      other.close()
    }
  })

  it('options are checked: a namespace is a string, maxBytes a positive integer', () => {
    const bad = [
      [{ namespace: 5 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      [{ maxBytes: 'big' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      [{ maxBytes: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ maxBytes: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
      ['sidepanel.', TypeError, 'ERR_INVALID_ARG_TYPE'],
    ] as const
    for (const [settings, Ctor, code] of bad) {
      const err = thrown(() => openStore(join(root, 'bad-options.sqlite'), { stores: ['settings'], settings: settings as never }))
      expect(err).toBeInstanceOf(Ctor)
      expect(err.code).toBe(code)
    }
  })
})

describe('the quota', () => {
  /** The bytes the quota counts for a key (namespace included) and a value. */
  const bytes = (key: string, value: unknown) => Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value))
  /** Runs `fn` with the file's settings store in the namespace `sp.` with `maxBytes`. */
  const withQuota = (maxBytes: number, fn: (q: SettingsStore) => void) => {
    const q = openStore(file, { stores: ['settings'], settings: { namespace: 'sp.', maxBytes } })
    try {
      fn(q.settings)
    } finally {
      q.close()
    }
  }

  it('counts the UTF-8 bytes of the keys, namespace included, and of the values’ JSON', () => {
    withQuota(1000, (q) => {
      q.set('thème', 'ünï')
      s.set('elsewhere', 'x'.repeat(5000))
      expect(q.usage()).toEqual({ bytes: bytes('sp.thème', 'ünï'), maxBytes: 1000 })
      expect(s.usage()).toEqual({ bytes: bytes('sp.thème', 'ünï') + bytes('elsewhere', 'x'.repeat(5000)), maxBytes: null })
    })
  })

  it('trims the other recent.* lists to their first 10 items when a write does not fit', () => {
    withQuota(600, (q) => {
      const sessions = Array.from({ length: 40 }, (_, i) => `session-${i}`)
      const searches = Array.from({ length: 25 }, (_, i) => `q${i}`)
      q.set('recent.sessions', sessions)
      q.set('recent.commands', ['a', 'b'])
      expect(q.usage().bytes).toBe(bytes('sp.recent.sessions', sessions) + bytes('sp.recent.commands', ['a', 'b']))
      q.set('recent.searches', searches)
      expect(q.get('recent.sessions')).toEqual(sessions.slice(0, 10))
      expect(q.get('recent.commands')).toEqual(['a', 'b'])
      expect(q.get('recent.searches'), 'the list being written is kept as given').toEqual(searches)
      expect(q.usage().bytes).toBe(bytes('sp.recent.sessions', sessions.slice(0, 10)) + bytes('sp.recent.commands', ['a', 'b']) + bytes('sp.recent.searches', searches))
    })
  })

  it('refuses with ERR_QUOTA_EXCEEDED what does not fit even then, leaving the file unchanged', () => {
    withQuota(500, (q) => {
      const long = Array.from({ length: 30 }, (_, i) => `item-${i}`)
      q.set('recent.sessions', long)
      q.set('theme', 'dark')
      const before = rows()
      const err = thrown(() => q.set('blob', 'x'.repeat(500)))
      expect(err.code).toBe('ERR_QUOTA_EXCEEDED')
      expect(err.message).toMatch(/namespace 'sp\.' would hold \d+ bytes, more than maxBytes 500/)
      expect(rows(), 'the trimmed list was restored too').toEqual(before)
      expect(q.get('recent.sessions')).toEqual(long)
      const importErr = thrown(() => q.importAll({ small: 1, blob: 'y'.repeat(600) }))
      expect(importErr.code).toBe('ERR_QUOTA_EXCEEDED')
      expect(rows()).toEqual(before)
      expect(q.remove('theme')).toBe(true)
      expect(q.get('blob')).toBeUndefined()
    })
  })
})

describe('a shared file', () => {
  it('hosts the settings store beside conversations and training', () => {
    const shared = join(root, 'shared.sqlite')
    const all = openStore(shared, { stores: ['training', 'conversations', 'settings'], settings: { namespace: 'sidepanel.' } })
    try {
      all.training.insertRun('r', 'p', 'r', [])
      const session = all.conversations.createSession({ title: 'T', model: 'm' })
      all.settings.set('recent.sessions', [session.id])
      all.recovery.save({ open: session.id })
      all.transaction(() => {
        all.settings.set('last', session.id)
        all.conversations.appendMessage(session.id, { role: 'user', content: 'hi' })
      })
      expect(all.info().schema).toEqual({ training: expect.any(Number), conversations: 1, settings: 1 })
      expect(all.settings.get('last')).toBe(session.id)
      expect(all.integrityCheck()).toEqual(['ok'])
    } finally {
      all.close()
    }
    const again = openStore(shared, { stores: ['settings'], settings: { namespace: 'sidepanel.' } })
    try {
      expect(again.settings.exportAll()).toEqual({ last: expect.any(String), 'recent.sessions': [expect.any(String)] })
      expect(again.recovery.check()?.state).toEqual({ open: expect.any(String) })
    } finally {
      again.close()
    }
  })

  it('is refused for a store without settings: the members exist only when opened with it', () => {
    const t = openStore(join(root, 'plain.sqlite'))
    try {
      expect((t as unknown as { settings?: unknown }).settings).toBeUndefined()
      expect((t as unknown as { recovery?: unknown }).recovery).toBeUndefined()
    } finally {
      t.close()
    }
  })
})

describe('recovery', () => {
  it('saves only a changed state and offers it back with savedAt until cleared', () => {
    const r = store.recovery
    expect(r.check()).toBeNull()
    const before = Date.now()
    expect(r.save({ draft: 'hello', cursor: 3 })).toBe(true)
    const saved = r.check()!
    expect(saved).toEqual({ state: { draft: 'hello', cursor: 3 }, savedAt: expect.any(Number) })
    expect(saved.savedAt).toBeGreaterThanOrEqual(before)
    sqlExec(file, 'UPDATE recovery SET saved_at = saved_at - 1000')
    expect(r.save({ draft: 'hello', cursor: 3 })).toBe(false)
    expect(r.check()!.savedAt, 'an unchanged state is not written').toBe(saved.savedAt - 1000)
    expect(r.save({ draft: 'hello!', cursor: 3 })).toBe(true)
    expect(r.check()!.state).toEqual({ draft: 'hello!', cursor: 3 })
    expect(r.clear()).toBe(true)
    expect(r.clear()).toBe(false)
    expect(r.check()).toBeNull()
    expect(s.list(), 'the slot is not a setting').toEqual([])
  })

  it('discards a stale state: older than maxAgeMs (30 minutes by default)', () => {
    const r = store.recovery
    r.save('old')
    sqlExec(file, `UPDATE recovery SET saved_at = saved_at - ${31 * 60 * 1000}`)
    expect(r.check({ maxAgeMs: 60 * 60 * 1000 })?.state).toBe('old')
    expect(r.check()).toBeNull()
    expect(r.check({ maxAgeMs: 60 * 60 * 1000 }), 'it was deleted').toBeNull()
    expect(sqlQuery(file, 'SELECT count(*) AS n FROM recovery')).toEqual([{ n: 0 }])
  })

  it('refuses a state JSON cannot hold and bad options, with coded errors', () => {
    const r = store.recovery
    r.save(1)
    for (const bad of [undefined, () => 1, 2n]) expect(thrown(() => r.save(bad)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => r.check({ maxAgeMs: -1 }))).toBeInstanceOf(RangeError)
    expect(thrown(() => r.check({ maxAgeMs: 'long' as unknown as number })).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => r.check(5 as never)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(r.check()?.state).toBe(1)
  })

  it('classes cannot be constructed and methods need their object', () => {
    expect(thrown(() => new (SettingsStore as unknown as new () => unknown)()).code).toBe('ERR_ILLEGAL_CONSTRUCTOR')
    expect(thrown(() => new (RecoveryStore as unknown as new () => unknown)()).code).toBe('ERR_ILLEGAL_CONSTRUCTOR')
    expect(thrown(() => SettingsStore.prototype.get.call({}, 'k')).code).toBe('ERR_INVALID_THIS')
    expect(thrown(() => RecoveryStore.prototype.autosave.call({}, () => 1)).code).toBe('ERR_INVALID_THIS')
    expect(store.recovery).toBeInstanceOf(RecoveryStore)
    expect(s).toBeInstanceOf(SettingsStore)
  })
})

describe('autosave', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const savedState = () => store.recovery.check()?.state

  it('saves every intervalMs, debounceMs after the last touch, and once more on stop', () => {
    let state: unknown = { v: 1 }
    const a = store.recovery.autosave(() => state, { intervalMs: 1000, debounceMs: 100 })
    vi.advanceTimersByTime(999)
    expect(savedState()).toBeUndefined()
    vi.advanceTimersByTime(1)
    expect(savedState()).toEqual({ v: 1 })
    state = { v: 2 }
    a.touch()
    vi.advanceTimersByTime(60)
    a.touch()
    vi.advanceTimersByTime(60)
    expect(savedState(), 'a touch restarts the debounce').toEqual({ v: 1 })
    vi.advanceTimersByTime(40)
    expect(savedState()).toEqual({ v: 2 })
    state = { v: 3 }
    expect(a.stop()).toBe(true)
    expect(savedState()).toEqual({ v: 3 })
    expect(a.stop(), 'stop is idempotent').toBe(false)
    state = { v: 4 }
    a.touch()
    vi.advanceTimersByTime(10_000)
    expect(savedState()).toEqual({ v: 3 })
  })

  it('uses the spec’s 30 s and 5 s by default, and skips a save when getState returns undefined', () => {
    let state: unknown
    const a = store.recovery.autosave(() => state)
    vi.advanceTimersByTime(30_000)
    expect(savedState()).toBeUndefined()
    state = 'x'
    a.touch()
    vi.advanceTimersByTime(4_999)
    expect(savedState()).toBeUndefined()
    vi.advanceTimersByTime(1)
    expect(savedState()).toBe('x')
    state = undefined
    expect(a.stop()).toBe(false)
    expect(savedState()).toBe('x')
  })

  it('adds an exit hook that stop() removes, and never keeps the process alive', () => {
    const hooks = process.listenerCount('exit')
    const a = store.recovery.autosave(() => 1, { intervalMs: 50 })
    expect(process.listenerCount('exit')).toBe(hooks + 1)
    a.stop()
    expect(process.listenerCount('exit')).toBe(hooks)
  })

  it('passes a failed timed save to onError, and stops by itself once the store is closed', () => {
    const errors: unknown[] = []
    let mode = 'throw'
    const hooks = process.listenerCount('exit')
    const a = store.recovery.autosave(
      () => {
        if (mode === 'throw') throw new Error('no state yet')
        return mode === 'bigint' ? 1n : 1
      },
      { intervalMs: 100, onError: (e) => errors.push(e) },
    )
    vi.advanceTimersByTime(100)
    mode = 'bigint'
    vi.advanceTimersByTime(100)
    mode = 'fine'
    vi.advanceTimersByTime(100)
    expect(errors.map((e) => (e as { message: string }).message)).toEqual(['no state yet', expect.stringMatching(/^save: state must be a JSON value/)])
    expect(savedState()).toBe(1)
    store.close()
    vi.advanceTimersByTime(100)
    expect(errors).toHaveLength(2)
    expect(process.listenerCount('exit'), 'a closed store ended the autosave').toBe(hooks)
    expect(a.stop()).toBe(false)
  })

  it('checks its arguments', () => {
    const r = store.recovery
    expect(thrown(() => r.autosave(5 as unknown as () => unknown)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => r.autosave(() => 1, 'x' as never)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => r.autosave(() => 1, { intervalMs: '1' as unknown as number })).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(thrown(() => r.autosave(() => 1, { intervalMs: 0 }))).toBeInstanceOf(RangeError)
    expect(thrown(() => r.autosave(() => 1, { debounceMs: -1 })).code).toBe('ERR_OUT_OF_RANGE')
    expect(thrown(() => r.autosave(() => 1, { onError: 1 as never })).code).toBe('ERR_INVALID_ARG_TYPE')
  })
})

describe('autosave in a process of its own', () => {
  const entry = join(__dirname, '..', 'index.js')
  /** Runs `body` in a child with `store` open on `file`; it must end by itself. */
  const child = (body: string) => {
    const script = `
      const { openStore } = require(${JSON.stringify(entry)})
      const store = openStore(${JSON.stringify(file)}, { stores: ['settings'] })
      ${body}
    `
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  }

  it('saves the last state when the process exits, and lets it exit', () => {
    store.close()
    child(`
      let state = { step: 1 }
      store.recovery.autosave(() => state, { intervalMs: 3_600_000 }).touch()
      state = { step: 2 }
    `)
    store = openStore(file, { stores: ['settings'] })
    expect(store.recovery.check()?.state).toEqual({ step: 2 })
  })

  it('does not save at exit after stop()', () => {
    store.close()
    child(`
      let state = { step: 1 }
      const a = store.recovery.autosave(() => state)
      a.stop()
      state = { step: 2 }
    `)
    store = openStore(file, { stores: ['settings'] })
    expect(store.recovery.check()?.state).toEqual({ step: 1 })
  })
})
