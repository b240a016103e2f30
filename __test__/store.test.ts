// openStore and the Store members: several files at once, maintenance, lifecycle and errors.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { knownStores, openStore, Store, TrainingStore } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()

describe('openStore', () => {
  it('holds several files at once, each with its own data', () => {
    const a = openStore(join(root, 'a.sqlite'))
    const b = openStore(join(root, 'b.sqlite'), { stores: ['training'] })
    expect(a).toBeInstanceOf(Store)
    expect(a.training).toBeInstanceOf(TrainingStore)
    expect(a.training).toBe(a.training)
    a.training.insertRun('only-a', 'p', 'n', [])
    b.training.insertRun('only-b', 'p', 'n', [])
    expect(a.training.listRuns().map((r) => r.run_id)).toEqual(['only-a'])
    expect(b.training.listRuns().map((r) => r.run_id)).toEqual(['only-b'])
    a.close()
    b.close()
  })

  it('two handles on one file see each other’s writes', () => {
    const file = join(root, 'shared.sqlite')
    const one = openStore(file)
    const two = openStore(file)
    one.training.insertMetric('r', { step: 1, loss: 0.5, val_loss: null })
    expect(two.training.getRunRows('r')).toHaveLength(1)
    one.close()
    two.close()
  })

  it('reports facts about the file', () => {
    const store = openStore(join(root, 'info.sqlite'))
    const info = store.info()
    expect(info).toMatchObject({
      path: join(root, 'info.sqlite'),
      journalMode: 'wal',
      stores: ['training'],
      schema: { training: 3 },
    })
    expect(info.pageSize).toBeGreaterThan(0)
    expect(info.sqliteVersion).toMatch(/^3\.\d+\.\d+$/)
    expect(store.integrityCheck()).toEqual(['ok'])
    expect(store.integrityCheck({ quick: true })).toEqual(['ok'])
    store.optimize()
    store.close()
  })

  it('checkpoints the WAL and backs up to a single file', () => {
    const store = openStore(join(root, 'maint.sqlite'))
    for (let i = 0; i < 100; i++) store.training.insertMetric('r', { step: i, loss: i, val_loss: null })
    const cp = store.checkpoint('TRUNCATE')
    expect(cp.busy).toBe(false)
    expect(store.checkpoint()).toMatchObject({ busy: false })
    expect(thrown(() => store.checkpoint('SOMETIMES' as never)).code).toBe('ERR_INVALID_ARG')
    const copy = join(root, 'maint-copy.sqlite')
    store.backupTo(copy)
    expect(existsSync(copy + '-wal')).toBe(false)
    expect(sqlQuery(copy, 'SELECT count(*) AS n FROM metrics')).toEqual([{ n: 100 }])
    expect(sqlQuery(copy, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }])
    expect(thrown(() => store.backupTo(copy)).code).toBe('EEXIST')
    store.close()
  })

  it('after close every call throws ERR_CLOSED; closing twice is fine', () => {
    const store = openStore(join(root, 'closed.sqlite'))
    const t = store.training
    expect(store.isOpen).toBe(true)
    store.close()
    store.close()
    expect(store.isOpen).toBe(false)
    for (const call of [() => t.listRuns(), () => t.insertRun('r', 'p', 'n'), () => store.info(), () => store.checkpoint()]) {
      expect(thrown(call).code).toBe('ERR_CLOSED')
    }
  })

  it('rejects bad paths and options with coded errors', () => {
    expect(thrown(() => openStore(42 as never))).toBeInstanceOf(TypeError)
    expect(thrown(() => openStore(join(root, 'x.sqlite'), { stores: 'training' } as never))).toBeInstanceOf(TypeError)
    expect(thrown(() => openStore(join(root, 'x.sqlite'), { stores: ['nope'] } as never)).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => openStore(join(root, 'missing', 'folder', 'x.sqlite'))).code).toBe('SQLITE_CANTOPEN')
    mkdirSync(join(root, 'a-dir.sqlite'))
    expect(thrown(() => openStore(join(root, 'a-dir.sqlite'))).code).toMatch(/^SQLITE_CANTOPEN/)
  })
})

describe('store.query and knownStores', () => {
  it('runs one read-only statement with parameters, values as the stores return them', () => {
    const s = openStore(join(root, 'query.sqlite'))
    s.training.insertRun('r', 'p', 'n', [])
    s.training.insertMetric('r', { step: 1, loss: 0.5 })
    s.training.insertMetric('r', { step: 2, loss: null })
    expect(s.query('SELECT step, loss FROM metrics WHERE run_id = ? ORDER BY step', ['r'])).toEqual([
      { step: 1, loss: 0.5 },
      { step: 2, loss: null },
    ])
    expect(s.query('SELECT ? AS big, ? AS t, ? AS b', [2n ** 60n, 'x', true])).toEqual([{ big: 2n ** 60n, t: 'x', b: 1 }])
    expect(s.query('WITH x(v) AS (VALUES (1), (2)) SELECT sum(v) AS n FROM x')).toEqual([{ n: 3 }])
    s.close()
  })

  it('refuses writes, several statements and wrong arguments before anything runs', () => {
    const s = openStore(join(root, 'query-refused.sqlite'))
    s.training.insertRun('r', 'p', 'n', [])
    for (const sql of ['DELETE FROM runs', 'SELECT 1; DELETE FROM runs', 'WITH x AS (SELECT 1) DELETE FROM runs', 'PRAGMA journal_mode = DELETE', "ATTACH ':memory:' AS m"]) {
      expect(thrown(() => s.query(sql)).code, sql).toBe('ERR_INVALID_ARG')
    }
    expect(thrown(() => s.query('SELECT ?', [])).code).toBe('ERR_INVALID_ARG')
    expect(s.training.listRuns().map((r) => r.run_id)).toEqual(['r'])
    const notSql = thrown(() => s.query(42 as never))
    expect(notSql).toBeInstanceOf(TypeError)
    expect(notSql.message).toMatch(/query: sql/)
    const badParam = thrown(() => s.query('SELECT ?', [{}] as never))
    expect(badParam).toBeInstanceOf(TypeError)
    expect(badParam.message).toMatch(/params\[0\]/)
    s.close()
    expect(thrown(() => s.query('SELECT 1')).code).toBe('ERR_CLOSED')
  })

  it('knownStores lists every store with the tables it declares', () => {
    const known = knownStores()
    expect(known.map((k) => k.name)).toEqual(expect.arrayContaining(['training', 'agents']))
    const s = openStore(join(root, 'known.sqlite'), { stores: ['agents'] })
    const tables = s.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'stowage_migrations'").map((r) => r.name)
    expect([...known.find((k) => k.name === 'agents')!.tables].sort()).toEqual(tables.sort())
    expect(known.find((k) => k.name === 'agents')!.version).toBe(s.info().schema.agents)
    s.close()
  })
})

describe('openStore(path, { readOnly: true })', () => {
  it('reads a closed file without writing to it or beside it, and refuses writes', () => {
    const dir = join(root, 'read-only')
    mkdirSync(dir)
    const file = join(dir, 'runs.sqlite')
    const w = openStore(file)
    w.training.insertRun('r', 'p', 'n', [])
    w.training.insertMetric('r', { step: 1, loss: 0.25 })
    w.training.insertMetric('r', { step: 2, loss: 0.125 })
    w.training.insertRun('unfolded', 'p', 'n', [])
    w.training.insertMetric('unfolded', { step: 1, loss: 1 })
    const series = w.training.getRunSeries('r', 'loss', { maxPoints: 10 })
    expect(thrown(() => openStore(file, { readOnly: true })).code).toBe('ERR_READ_ONLY')
    w.close()
    const before = readFileSync(file)
    const r = openStore(file, { readOnly: true })
    expect(r.training.getRunRows('r').map((m) => m.loss)).toEqual([0.25, 0.125])
    // A summary that holds every row is read as it is; one with rows to fold in needs a write.
    expect(r.training.getRunSeries('r', 'loss', { maxPoints: 10 })).toEqual(series)
    expect(thrown(() => r.training.getRunSeries('unfolded', 'loss', { maxPoints: 10 })).code).toBe('ERR_READ_ONLY')
    expect(r.query('SELECT count(*) AS n FROM runs')).toEqual([{ n: 2 }])
    expect(thrown(() => r.training.insertRun('x', 'p', 'n', [])).code).toBe('SQLITE_READONLY')
    expect(thrown(() => r.transaction(() => r.training!.insertRun('y', 'p', 'n', []))).code).toBe('SQLITE_READONLY')
    r.close()
    expect(readFileSync(file).equals(before)).toBe(true)
    expect(readdirSync(dir)).toEqual(['runs.sqlite'])
  })

  it('refuses a file that needs migrating, a missing file and a non-boolean', async () => {
    const dir = join(root, 'read-only-refused')
    mkdirSync(dir)
    const bare = join(dir, 'bare.sqlite')
    openStore(bare, { stores: [] }).close()
    expect(thrown(() => openStore(bare, { readOnly: true })).code).toBe('ERR_READ_ONLY')
    expect(thrown(() => openStore(join(dir, 'missing.sqlite'), { readOnly: true })).code).toBe('ENOENT')
    expect(existsSync(join(dir, 'missing.sqlite'))).toBe(false)
    const bad = thrown(() => openStore(bare, { readOnly: 'yes' as never }))
    expect(bad).toBeInstanceOf(TypeError)
    expect(bad.message).toMatch(/options\.readOnly/)
    const s = openStore(join(dir, 'ro.sqlite'))
    s.close()
    const r = openStore(join(dir, 'ro.sqlite'), { readOnly: true })
    await expect(r.vacuumAsync()).rejects.toMatchObject({ code: 'ERR_READ_ONLY' })
    await expect(r.training!.exportBundleAsync(join(dir, 'b'))).rejects.toMatchObject({ code: 'ERR_READ_ONLY' })
    expect(existsSync(join(dir, 'b'))).toBe(false)
    r.close()
  })
})

describe('store.backupToAsync', () => {
  it('copies with progress, refuses what it cannot copy, and stops when onProgress throws', async () => {
    const dir = join(root, 'backup-async')
    mkdirSync(dir)
    const s = openStore(join(dir, 'live.sqlite'))
    s.training.insertRun('r', 'p', 'n', [])
    s.training.insertMetricColumns('r', { step: Float64Array.from({ length: 5000 }, (_, i) => i), loss: new Float64Array(5000).fill(0.5) })
    const events: { phase: string; bytesDone: number; bytesTotal: number }[] = []
    const r = await s.backupToAsync(join(dir, 'copy.sqlite'), { onProgress: (p) => events.push(p) })
    expect(r).toEqual({ bytes: readFileSync(join(dir, 'copy.sqlite')).length, ok: true, problems: [] })
    const total = events.at(-1)!.bytesTotal
    expect(events.at(-1)).toEqual({ phase: 'verify', bytesDone: total, bytesTotal: total })
    const copy = openStore(join(dir, 'copy.sqlite'))
    expect(copy.training.getRunRows('r').length).toBe(5000)
    copy.close()
    await expect(s.backupToAsync(join(dir, 'copy.sqlite'))).rejects.toMatchObject({ code: 'EEXIST' })
    const boom = new Error('stop')
    await expect(s.backupToAsync(join(dir, 'stopped.sqlite'), { onProgress: () => { throw boom } })).rejects.toBe(boom)
    expect(existsSync(join(dir, 'stopped.sqlite'))).toBe(false)
    await expect(s.backupToAsync(join(dir, 'x.sqlite'), { onProgress: 1 as never })).rejects.toBeInstanceOf(TypeError)
    s.close()
    const mem = openStore(':memory:')
    await expect(mem.backupToAsync(join(dir, 'mem.sqlite'))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    mem.close()
    const ro = openStore(join(dir, 'live.sqlite'), { readOnly: true })
    await expect(ro.backupToAsync(join(dir, 'ro.sqlite'))).rejects.toMatchObject({ code: 'ERR_READ_ONLY' })
    expect(thrown(() => ro.backupTo(join(dir, 'ro.sqlite'))).code).toBe('ERR_READ_ONLY')
    ro.close()
  })
})
