// store.transaction(fn): one synchronous transaction that every store call inside it joins,
// savepoints when nested, the thrown value rethrown as is, promises refused.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let n = 0
const fresh = () => openStore(join(root, `tx-${++n}.sqlite`))
const runIds = (store: ReturnType<typeof fresh>) => store.training.listRuns().map((r) => r.run_id).sort()

describe('store.transaction', () => {
  it('commits what fn did and returns its value; fn gets the store', () => {
    const store = fresh()
    const value = store.transaction((s) => {
      expect(s).toBe(store)
      s.training.insertRun('a', 'p', 'a', null)
      s.training.insertMetric('a', { step: 1, loss: 0.5, val_loss: null })
      return { done: true }
    })
    expect(value).toEqual({ done: true })
    expect(runIds(store)).toEqual(['a'])
    expect(store.training.getRunRows('a')).toHaveLength(1)
  })

  it('rolls everything back when fn throws, and rethrows the very same value', () => {
    const store = fresh()
    store.training.insertRun('before', 'p', 'before', null)
    for (const value of [new RangeError('no'), 'a string', { some: 'object' }, 42, null, undefined]) {
      let caught: unknown = Symbol('nothing')
      try {
        store.transaction(() => {
          store.training.insertRun('during', 'p', 'during', null)
          store.training.insertMetric('before', { step: 9, loss: 1, val_loss: null })
          throw value
        })
      } catch (err) {
        caught = err
      }
      expect(caught).toBe(value)
      expect(runIds(store)).toEqual(['before'])
      expect(store.training.getRunRows('before')).toEqual([])
    }
  })

  it('a nested transaction is a savepoint: its throw undoes only its own work', () => {
    const store = fresh()
    const t = store.training
    store.transaction(() => {
      t.insertRun('outer-1', 'p', 'o', null)
      const err = thrown(() =>
        store.transaction(() => {
          t.insertRun('inner', 'p', 'i', null)
          store.transaction(() => t.insertRun('innermost', 'p', 'ii', null))
          throw Object.assign(new Error('inner fails'), { code: 'MINE' })
        }),
      )
      expect(err.code).toBe('MINE')
      expect(store.transaction(() => (t.insertRun('inner-kept', 'p', 'k', null), 'kept'))).toBe('kept')
      t.insertRun('outer-2', 'p', 'o', null)
    })
    expect(runIds(store)).toEqual(['inner-kept', 'outer-1', 'outer-2'])
  })

  it('an outer throw undoes the nested transactions it committed', () => {
    const store = fresh()
    expect(
      thrown(() =>
        store.transaction(() => {
          store.transaction(() => store.training.insertRun('inner', 'p', 'i', null))
          throw new Error('outer fails')
        }),
      ).message,
    ).toBe('outer fails')
    expect(runIds(store)).toEqual([])
  })

  it('refuses a fn that returns a promise, rolled back, and stays usable', async () => {
    const store = fresh()
    for (const fn of [async () => store.training.insertRun('x', 'p', 'x', null), () => (store.training.insertRun('y', 'p', 'y', null), Promise.resolve(1))]) {
      const err = thrown(() => store.transaction(fn))
      expect(err.code).toBe('ERR_TRANSACTION_ASYNC')
      expect(err.message).toMatch(/promise/)
    }
    // The async function's body ran up to its first await: its insert was rolled back too.
    await new Promise((r) => setImmediate(r))
    expect(runIds(store)).toEqual([])
    store.transaction(() => store.training.insertRun('z', 'p', 'z', null))
    expect(runIds(store)).toEqual(['z'])
  })

  it('other connections see nothing until the commit', () => {
    const file = join(root, 'isolation.sqlite')
    const store = openStore(file)
    const other = openStore(file)
    store.transaction(() => {
      store.training.insertRun('a', 'p', 'a', null)
      expect(store.training.listRuns()).toHaveLength(1)
      expect(other.training.listRuns()).toEqual([])
    })
    expect(other.training.listRuns().map((r) => r.run_id)).toEqual(['a'])
    other.close()
    store.close()
  })

  it('close() inside fn is ERR_TRANSACTION_OPEN and the store stays open', () => {
    const store = fresh()
    const err = thrown(() =>
      store.transaction(() => {
        store.training.insertRun('a', 'p', 'a', null)
        store.close()
      }),
    )
    expect(err.code).toBe('ERR_TRANSACTION_OPEN')
    expect(store.isOpen).toBe(true)
    expect(runIds(store)).toEqual([])
    store.close()
    expect(store.isOpen).toBe(false)
  })

  it('joins the agents store too', () => {
    const store = openStore(join(root, 'agents-tx.db'), { stores: ['agents'] })
    expect(
      thrown(() =>
        store.transaction(() => {
          store.agentRuns.createRun({ id: 'run-1' })
          throw new Error('no')
        }),
      ).message,
    ).toBe('no')
    expect(store.agentRuns.listRuns()).toEqual([])
    store.transaction(() => store.agentRuns.createRun({ id: 'run-2' }))
    expect(store.agentRuns.listRuns().map((r) => r.id)).toEqual(['run-2'])
    store.close()
  })

  it('fn must be a function: TypeError naming it', () => {
    const store = fresh()
    for (const bad of [undefined, null, 1, 'fn', {}]) {
      const err = thrown(() => store.transaction(bad as never))
      expect(err).toBeInstanceOf(TypeError)
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
      expect(err.message).toMatch(/^transaction: fn must be a function/)
    }
  })
})

type ChildReport = { committed: number; errors: Array<{ code: string; message: string }> }

/** Starts a tx-child and resolves with its report; `ready` resolves once it has opened the file. */
function child(file: string, id: number, count: number) {
  const p = spawn(process.execPath, [join(__dirname, 'fixtures', 'tx-child.js'), join(__dirname, '..', 'index.js'), file, String(id), String(count)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  let onReady: () => void
  const ready = new Promise<void>((r) => (onReady = r))
  p.stdout.on('data', (d) => {
    out += d
    if (out.startsWith('ready\n')) onReady()
  })
  p.stderr.on('data', (d) => (err += d))
  const done = new Promise<ChildReport>((resolve, reject) => {
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.slice('ready\n'.length))) : reject(new Error(`exit ${code}: ${err}`))))
  })
  return { ready, done, go: () => p.stdin.write('go\n') }
}

it('two processes running transactions on one file: no SQLITE_BUSY, no lost update', async () => {
  const file = join(root, 'two-processes.sqlite')
  openStore(file).close()
  const COUNT = 300
  const children = [child(file, 0, COUNT), child(file, 1, COUNT)]
  await Promise.all(children.map((c) => c.ready))
  for (const c of children) c.go()
  const reports = await Promise.all(children.map((c) => c.done))
  for (const r of reports) {
    expect(r.errors).toEqual([])
    expect(r.committed).toBe(COUNT)
  }
  const store = openStore(file)
  // Each transaction read the counter and wrote it back plus one: a lost update would leave less.
  expect(store.training.getRunSummary('counter')[0].final_loss).toBe(2 * COUNT)
  const ids = store.training.listRuns().map((r) => r.run_id)
  expect(ids.filter((id) => id.endsWith('-undone'))).toEqual([])
  expect(ids.filter((id) => id.startsWith('p')).sort()).toEqual(
    [0, 1].flatMap((p) => Array.from({ length: COUNT }, (_, k) => `p${p}-${k}`)).sort(),
  )
  expect(store.integrityCheck()).toEqual(['ok'])
  store.close()
}, 120_000)
