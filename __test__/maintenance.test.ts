// optimize(), vacuum() and vacuumAsync(), and the autoVacuum mode a file is created with.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir('stowage-maintenance-')
let n = 0
const file = () => join(root, `m${++n}.sqlite`)

/** An agents store holding 300 sessions of 10 KB each, then none: a few hundred free pages. */
function churned(path: string, options: { autoVacuum?: 'none' | 'incremental' } = {}) {
  const store = openStore(path, { stores: ['agents'], ...options })
  store.transaction(() => {
    for (let i = 0; i < 300; i++) {
      store.agents.upsert({
        id: `s${i}`, agentName: `a${i}`, capability: 'c', worktreePath: 'w'.repeat(10_000), branchName: 'b', taskId: 't',
        tmuxSession: 'x', state: 'working', startedAt: '2026-01-01T00:00:00.000Z', lastActivity: '2026-01-01T00:00:00.000Z',
      })
    }
  })
  expect(store.agents.purge({ all: true })).toBe(300)
  store.checkpoint('TRUNCATE')
  return store
}

describe('optimize', () => {
  it('skips the incremental vacuum on a file that is not in incremental mode, and says so', () => {
    const store = churned(file())
    expect(store.info().autoVacuum).toBe('none')
    const free = store.info().freelistCount
    expect(free).toBeGreaterThan(300)
    expect(store.optimize()).toEqual({ autoVacuum: 'none', incrementalVacuum: 'skipped', freedPages: 0 })
    // PRAGMA optimize may reuse a page or two (for ANALYZE's statistics); the rest stay free.
    expect(store.info().freelistCount).toBeGreaterThan(free - 10)
    store.close()
  })

  it('returns the free pages of a file created with autoVacuum: incremental', () => {
    const store = churned(file(), { autoVacuum: 'incremental' })
    expect(store.info().autoVacuum).toBe('incremental')
    const free = store.info().freelistCount
    expect(free).toBeGreaterThan(300)
    const o = store.optimize()
    expect(o).toMatchObject({ autoVacuum: 'incremental', incrementalVacuum: 'ran' })
    expect(o.freedPages).toBeGreaterThan(free - 10)
    expect(store.info().freelistCount).toBe(0)
    store.close()
  })
})

describe('vacuum', () => {
  it('switches an existing file to the mode given to openStore, keeping every row', () => {
    const path = file()
    openStore(path).close()
    const store = openStore(path, { autoVacuum: 'incremental' })
    expect(store.info().autoVacuum).toBe('none')
    store.training.insertRun('r', 'p', 'r', [])
    const v = store.vacuum()
    expect(v.autoVacuum).toBe('incremental')
    expect(v.pagesAfter).toBeGreaterThan(0)
    expect(store.info().autoVacuum).toBe('incremental')
    expect(store.training.listRuns().map((r) => r.run_id)).toEqual(['r'])
    store.close()
  })

  it('is ERR_TRANSACTION_OPEN inside a transaction', () => {
    const store = openStore(file())
    expect(thrown(() => store.transaction(() => store.vacuum())).code).toBe('ERR_TRANSACTION_OPEN')
    store.close()
  })

  it('vacuumAsync runs on a connection of its own and resolves with the same report', async () => {
    const store = openStore(file(), { autoVacuum: 'full' })
    store.training.insertRun('r', 'p', 'r', [])
    const v = await store.vacuumAsync()
    expect(v).toMatchObject({ autoVacuum: 'full' })
    expect(store.training.listRuns()).toHaveLength(1)
    store.close()
    const memory = openStore(':memory:')
    await expect(memory.vacuumAsync()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    memory.close()
  })
})

it('autoVacuum must be one of the three modes', () => {
  expect(thrown(() => openStore(file(), { autoVacuum: 'sometimes' as never })).code).toBe('ERR_INVALID_ARG')
  expect(thrown(() => openStore(file(), { autoVacuum: 1 as never })).code).toBe('ERR_INVALID_ARG_TYPE')
})
