// openStore and the Store members: several files at once, maintenance, lifecycle and errors.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore, Store, TrainingStore } from '../index.js'
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
