// Hostile arguments found by the fuzzer (stress/fuzz.js). Before its fix each of these crashed or
// hung the process, read memory it no longer owned, or threw an error without one of stowage's
// codes.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

import * as stowage from '../index.js'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let opened = 0
const fresh = () => stowage.openStore(join(root, `s${opened++}.sqlite`))

describe('the typed-array path of insertMetric.batch', () => {
  it('reads the run ids before it borrows the arrays, so a getter that detaches them is seen', () => {
    const t = fresh().training as unknown as { _insertMetricBlock: (...a: unknown[]) => number } & stowage.TrainingStore
    const values = new Float64Array(12 * 1024).fill(1)
    const runOf = new Uint32Array(1024)
    const runs: string[] = []
    Object.defineProperty(runs, 0, {
      get() {
        structuredClone(values.buffer, { transfer: [values.buffer] })
        return 'r'
      },
      enumerable: true,
    })
    // The arrays were detached before they were borrowed: no values for 1024 rows, nothing written
    // (before, 1024 rows were written from the buffer the getter had given away).
    expect(thrown(() => t._insertMetricBlock(values, runs, runOf)).code).toBe('ERR_INVALID_ARG')
    expect(t.getRunRows('r')).toEqual([])
  })

  it('wants an array of run ids', () => {
    const t = fresh().training as unknown as { _insertMetricBlock: (...a: unknown[]) => number }
    const err = thrown(() => t._insertMetricBlock(new Float64Array(12), 'r', new Uint32Array(1)))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
  })
})

describe('sparse arrays', () => {
  /** Thrown by the first item of `huge()` arrays: reading any item is too late. */
  const itemRead = new Error('an item was read before the length was checked')
  /** An array of length 2^32 − 1 with no items but its first, which throws when read: cheap to
   * make, billions of holes to read. A call that read its way through would hang, so the first
   * item fails it at once instead. */
  const huge = (last?: unknown) => {
    const a: unknown[] = []
    a.length = 2 ** 32 - 1
    Object.defineProperty(a, 0, {
      get() {
        throw itemRead
      },
      enumerable: true,
    })
    if (last !== undefined) a[a.length - 1] = last
    return a
  }

  beforeAll(() => stowage.initStorage(join(root, 'default')))

  it('longer than 2^27 items are a RangeError before any item is read, for every array argument', () => {
    const store = fresh()
    const t = store.training
    t.insertRun('r', 'p', 'n', null)
    const before = JSON.stringify([t.listRuns(), t.getRunRows('r'), t.getRunSubset('r')])
    const agents = join(root, 'agents.db')
    const calls: Array<[string, () => unknown]> = [
      ['setRunSubset', () => t.setRunSubset('r', huge())],
      ['insertRun parents', () => t.insertRun('r2', 'p', 'n', huge('r'))],
      ['insertMetricBatch', () => t.insertMetricBatch(huge() as never)],
      ['insertMetric.batch', () => stowage.insertMetric.batch(huge({ run_id: 'r', step: 1 }) as never)],
      ['insertMetricColumns step', () => t.insertMetricColumns('r', { step: huge() as never })],
      ['insertMetricColumns loss', () => t.insertMetricColumns('r', { step: [1], loss: huge() as never })],
      ['upsertReportLossDist losses', () => t.upsertReportLossDist('r', 'train', { losses: huge() as never, sample_indices: [] })],
      ['upsertReportLossDist sample_indices', () => t.upsertReportLossDist('r', 'train', { losses: [1], sample_indices: huge() as never })],
      ['getRunColumns metrics', () => t.getRunColumns('r', { metrics: huge() as never })],
      ['openStore stores', () => stowage.openStore(join(root, 'x.sqlite'), { stores: huge() as never })],
      ['openStore activeStates', () => stowage.openStore(agents, { stores: ['agents'], agents: { activeStates: huge() as never } })],
      ['openStore transitions', () => stowage.openStore(agents, { stores: ['agents'], agents: { transitions: { working: huge() as never } } })],
    ]
    for (const [name, call] of calls) {
      const err = thrown(call)
      expect([name, err.constructor, err.code]).toEqual([name, RangeError, 'ERR_OUT_OF_RANGE'])
    }
    expect(JSON.stringify([t.listRuns(), t.getRunRows('r'), t.getRunSubset('r')])).toBe(before)
    expect(existsSync(join(root, 'x.sqlite'))).toBe(false)
  })

  it('holes of a shorter array are read as undefined', () => {
    const t = fresh().training
    // eslint-disable-next-line no-sparse-arrays
    t.setRunSubset('r', [1, , 3] as number[])
    const holes = t.getRunSubset('r')
    t.setRunSubset('r', [1, undefined as never, 3])
    expect(holes).toEqual(t.getRunSubset('r'))
    // eslint-disable-next-line no-sparse-arrays
    t.insertRun('r', 'p', 'n', ['a', , 'b'] as string[])
    expect(t.listRuns()[0].parents).toEqual(['a', 'b'])
    // eslint-disable-next-line no-sparse-arrays
    expect(thrown(() => t.insertMetricBatch([{ run_id: 'r', step: 1, loss: 1, val_loss: null }, ,] as never)).code).toBe('ERR_INVALID_ARG_TYPE')
    expect(t.getRunRows('r')).toEqual([])
  })
})

describe('String() of an argument', () => {
  it('an object without a string form is a TypeError whose cause is what String() threw', () => {
    const t = fresh().training
    const err = thrown(() => t.insertRun('r', 'p', 'n', [Object.create(null)]))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
    expect(err.message).toBe('insertRun: parents[0] must be a value with a string form; String() of it threw')
    expect(err.cause).toBeInstanceOf(TypeError)
    const boom = new Error('boom')
    const own = thrown(() => t.insertRun('r', 'p', 'n', { toString: () => { throw boom } } as never))
    expect([own.code, own.cause]).toEqual(['ERR_INVALID_ARG_TYPE', boom])
    expect(t.listRuns()).toEqual([])
  })
})

describe('paths with a NUL character', () => {
  it('are ERR_INVALID_ARG wherever a path is taken', async () => {
    const store = fresh()
    const bad = join(root, 'a\0b')
    const calls: Array<[string, () => unknown]> = [
      ['openStore', () => stowage.openStore(bad)],
      ['backupTo', () => store.backupTo(bad)],
      ['exportBundle', () => store.training.exportBundle(bad)],
      ['loadBundle', () => store.training.loadBundle(bad)],
      ['importLegacyJson', () => stowage.openStore(join(root, 'nul-agents.db'), { stores: ['agents'] }).agents.importLegacyJson(bad)],
      ['createSessionStore', () => stowage.createSessionStore(bad)],
    ]
    for (const [name, call] of calls) expect([name, thrown(call).code]).toEqual([name, 'ERR_INVALID_ARG'])
    for (const p of [store.training.exportBundleAsync(bad), store.training.loadBundleAsync(bad)]) {
      await expect(p).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    }
    expect(store.integrityCheck()).toEqual(['ok'])
  })

  it('in the default store folder are ERR_INVALID_ARG too', async () => {
    stowage.closeStorage({ retainFile: true })
    await expect(stowage.initStorage(join(root, 'd\0d'))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    expect(thrown(() => stowage.loadBundle(join(root, 'b'), { storagePath: 'x\0y' })).code).toBe('ERR_INVALID_ARG')
    expect(stowage.isReady()).toBe(false)
  })
})

describe('receivers and constructors', () => {
  it('a method or getter called on something else is TypeError [ERR_INVALID_THIS]', () => {
    const store = fresh()
    const { listRuns } = store.training
    const cases: Array<() => unknown> = [
      () => listRuns(),
      () => stowage.TrainingStore.prototype.insertRun.call(store.agents, 'r', 'p', 'n', null),
      () => stowage.TrainingStore.prototype.insertMetricBatch.call({}, [{ run_id: 'r', step: 1, loss: 1, val_loss: null }]),
      () => stowage.Store.prototype.info.call(Object.create(stowage.Store.prototype)),
      () => stowage.Store.prototype.transaction.call(store.training as never, () => 1),
      () => Object.getOwnPropertyDescriptor(stowage.Store.prototype, 'path')!.get!.call(5),
    ]
    for (const call of cases) {
      const err = thrown(call)
      expect(err).toBeInstanceOf(TypeError)
      expect(err.code).toBe('ERR_INVALID_THIS')
    }
    expect(thrown(() => listRuns()).message).toBe('TrainingStore.listRuns: `this` must be a TrainingStore made by stowage; received undefined')
    expect(store.training.listRuns()).toEqual([])
  })

  it('errors of a call on the right receiver pass through unchanged', () => {
    const t = fresh().training
    const boom = new TypeError('from a getter')
    const row = { get step(): number { throw boom }, loss: 1, val_loss: null }
    expect(thrown(() => t.insertMetric('r', row))).toBe(boom)
    expect(thrown(() => t.insertRun(5 as never, 'p', 'n')).code).toBe('ERR_INVALID_ARG_TYPE')
  })

  it('the classes cannot be constructed: TypeError [ERR_ILLEGAL_CONSTRUCTOR]', () => {
    for (const C of [stowage.Store, stowage.TrainingStore, stowage.AgentSessionStore, stowage.AgentRunStore]) {
      for (const make of [() => new (C as new () => unknown)(), () => (C as unknown as () => unknown)()]) {
        const err = thrown(make)
        expect(err).toBeInstanceOf(TypeError)
        expect(err.code).toBe('ERR_ILLEGAL_CONSTRUCTOR')
      }
    }
    const store = fresh()
    expect(store).toBeInstanceOf(stowage.Store)
    expect(store.training).toBeInstanceOf(stowage.TrainingStore)
  })

  it('insertMetricBatch returns undefined on its typed-array path as on the other', () => {
    const t = fresh().training
    expect(t.insertMetricBatch([{ run_id: 'r', step: 1, loss: 1, val_loss: null }])).toBeUndefined()
    expect(t.insertMetricBatch([{ run_id: 'r', step: 2, loss: 1n as never, val_loss: null }])).toBeUndefined()
    expect(t.getRunRows('r').map((r) => r.step)).toEqual([1, 2])
  })
})

describe('the factories', () => {
  it('want an object for options (a long string was spread into one property per character)', () => {
    const file = join(root, 'factory.db')
    for (const make of [
      () => stowage.createSessionStore(file, 'x'.repeat(1 << 22) as never),
      () => stowage.createRunStore(file, 5 as never),
      () => stowage.openSessionStore(root, [] as never),
    ]) {
      const err = thrown(make)
      expect([err.constructor, err.code]).toEqual([TypeError, 'ERR_INVALID_ARG_TYPE'])
    }
    expect(existsSync(file)).toBe(false)
    const s = stowage.createSessionStore(file, { agents: { activeStates: ['working'] } })
    expect(s.getActive()).toEqual([])
    s.close()
  })
})

describe('a store in memory', () => {
  it('is not exported or loaded on a second connection, which would be another, empty database', async () => {
    const src = fresh()
    src.training.insertRun('from-bundle', 'p', 'n', null)
    const bundle = join(root, 'memory-bundle')
    src.training.exportBundle(bundle)
    for (const name of [':memory:', '']) {
      const t = stowage.openStore(name).training
      t.insertRun('mine', 'p', 'n', null)
      // Before, the async load resolved with { runs: 1 } and left the store as it was, and an
      // export failed with SQLITE_ERROR 'no such table'.
      await expect(t.loadBundleAsync(bundle)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
      await expect(t.exportBundleAsync(join(root, 'from-memory'))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
      expect(thrown(() => t.exportBundle(join(root, 'from-memory'))).code).toBe('ERR_INVALID_ARG')
      expect(t.listRuns().map((r) => r.run_id)).toEqual(['mine'])
      // The synchronous load works on the store's own connection.
      expect(t.loadBundle(bundle).runs).toBe(1)
      expect(t.listRuns().map((r) => r.run_id)).toEqual(['from-bundle'])
    }
    expect(existsSync(join(root, 'from-memory'))).toBe(false)
  })
})

describe('an agents store', () => {
  it('has no training member, and training methods called on its members touch nothing', async () => {
    const file = join(root, 'agents-bundle.db')
    const store = stowage.openStore(file, { stores: ['agents'] })
    store.agentRuns.createRun({ id: 'run-1' })
    const src = fresh()
    src.training.insertRun('r', 'p', 'n', null)
    const bundle = join(root, 'for-agents')
    src.training.exportBundle(bundle)
    // Once, store.training existed on every Store and its bundle methods ran on a connection of
    // their own without asking which stores the file holds (a load began replacing the training
    // tables in overstory's file). Now the member exists only on a file opened with the store.
    expect((store as unknown as { training?: unknown }).training).toBeUndefined()
    expect(Object.keys(store)).toEqual(['agents', 'agentRuns'])
    const proto = stowage.TrainingStore.prototype
    expect(thrown(() => proto.exportBundle.call(store.agents as never, join(root, 'from-agents'))).code).toBe('ERR_INVALID_THIS')
    expect(thrown(() => proto.loadBundleAsync.call(store.agentRuns as never, bundle)).code).toBe('ERR_INVALID_THIS')
    expect(thrown(() => proto.loadBundle.call(store as never, bundle)).code).toBe('ERR_INVALID_THIS')
    expect(existsSync(join(root, 'from-agents'))).toBe(false)
    expect(store.agentRuns.listRuns().map((r) => r.id)).toEqual(['run-1'])
    expect(store.integrityCheck()).toEqual(['ok'])
  })
})
