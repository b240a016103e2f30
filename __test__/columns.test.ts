// getRunColumns, getRunSeries and insertMetricColumns agree exactly with getRunRows (and with each
// other) on random data with NULLs, repeated and out-of-order steps, at every range and
// resolution; the series summary stays exact after loadBundle and on an adopted legacy file.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore, type MetricName, type RunSeries, type Store } from '../index.js'
import { rng } from '../stress/rng.js'
import { sqlExec } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let n = 0
function storeIn(name: string): Store {
  const dir = join(root, `${name}-${++n}`)
  mkdirSync(dir, { recursive: true })
  return openStore(join(dir, 'runs.sqlite'))
}

/** Random metric rows: some NULLs, some repeated steps, written in shuffled chunks. */
function fill(store: Store, run: string, steps: number, seed: number) {
  const r = rng(seed)
  const rows = []
  for (let step = 0; step < steps; step++) {
    const repeat = r() < 0.02 ? 2 : 1
    for (let k = 0; k < repeat; k++) {
      rows.push({
        run_id: run, step, loss: r() < 0.1 ? null : r() * 10 - 2, val_loss: r() < 0.7 ? null : r(),
        lr: 1e-3, gpu_util: Math.floor(r() * 100),
      })
    }
  }
  for (let i = rows.length; i > 1; i--) {
    const j = Math.floor(r() * i)
    ;[rows[i - 1], rows[j]] = [rows[j], rows[i - 1]]
  }
  for (let i = 0; i < rows.length; i += 997) store.training.insertMetricBatch(rows.slice(i, i + 997))
}

/** getRunSeries computed the slow way, from getRunRows. */
function bruteSeries(store: Store, run: string, metric: MetricName, width: number, from = -Infinity, to = Infinity) {
  const buckets = new Map<number, { count: number; min: number; max: number; sum: number; fromStep: number; toStep: number; last: number }>()
  for (const row of store.training.getRunRows(run)) {
    const v = row[metric]
    if (v === null || row.step === null || row.step < from || row.step > to) continue
    const b = Math.floor(row.step / width)
    const a = buckets.get(b)
    if (!a) buckets.set(b, { count: 1, min: v, max: v, sum: v, fromStep: row.step, toStep: row.step, last: v })
    else {
      a.count++
      a.min = Math.min(a.min, v)
      a.max = Math.max(a.max, v)
      a.sum += v
      a.toStep = row.step // rows come by step, then insertion: the last one wins
      a.last = v
    }
  }
  return [...buckets.entries()].sort((x, y) => x[0] - y[0]).map(([, a]) => a)
}

function expectSeries(got: RunSeries, want: ReturnType<typeof bruteSeries>, what: string) {
  expect(got.count.length, what).toBe(want.length)
  want.forEach((w, i) => {
    const at = `${what} bucket ${i}`
    expect([got.count[i], got.min[i], got.max[i], got.fromStep[i], got.toStep[i], got.last[i]], at).toEqual([
      w.count, w.min, w.max, w.fromStep, w.toStep, w.last,
    ])
    expect(Math.abs(got.mean[i] - w.sum / w.count), at).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w.sum / w.count)))
  })
}

describe('columnar reads', () => {
  it('getRunColumns equals getRunRows column by column (NaN for null), over any step range', () => {
    const store = storeIn('cols')
    fill(store, 'r', 3000, 1)
    const rows = store.training.getRunRows('r')
    const all = store.training.getRunColumns('r')
    expect(Object.keys(all)).toEqual(['step', 'epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm', 'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util'])
    for (const [name, col] of Object.entries(all)) {
      expect(col).toBeInstanceOf(Float64Array)
      expect(Array.from(col), name).toEqual(rows.map((r) => (r as Record<string, number | null>)[name] ?? NaN))
    }
    const some = store.training.getRunColumns('r', { metrics: ['val_loss'], fromStep: 100, toStep: 199.5 })
    const want = rows.filter((r) => r.step >= 100 && r.step <= 199.5)
    expect(Object.keys(some)).toEqual(['step', 'val_loss'])
    expect(Array.from(some.step)).toEqual(want.map((r) => r.step))
    expect(Array.from(some.val_loss!)).toEqual(want.map((r) => r.val_loss ?? NaN))
    expect(thrown(() => store.training.getRunColumns('r', { metrics: ['ts' as MetricName] })).code).toBe('ERR_INVALID_ARG')
    store.close()
  })

  it('insertMetricColumns writes what insertMetric.batch writes', () => {
    const store = storeIn('colwrite')
    const steps = Float64Array.from({ length: 500 }, (_, i) => (i * 7) % 500)
    const loss = steps.map((s) => (s % 9 ? s / 10 : NaN))
    expect(store.training.insertMetricColumns('a', { step: steps, loss, accuracy: Array.from(steps, (s) => (s % 4 ? 0.5 : null)) })).toBe(500)
    store.training.insertMetricBatch(Array.from(steps, (s, i) => ({ run_id: 'b', step: s, loss: Number.isNaN(loss[i]) ? null : loss[i], val_loss: null, accuracy: s % 4 ? 0.5 : null })))
    expect(store.training.getRunRows('a')).toEqual(store.training.getRunRows('b'))
    const err = thrown(() => store.training.insertMetricColumns('a', { step: steps, loss: loss.subarray(1) }))
    expect(err.code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => store.training.insertMetricColumns('a', { step: 'x' } as never))).toBeInstanceOf(TypeError)
    expect(store.training.getRunRows('a')).toHaveLength(500)
    store.close()
  })
})

describe('getRunSeries', () => {
  it('is exact at every resolution and range, and keeps up with rows written out of order', () => {
    const store = storeIn('series')
    fill(store, 'r', 6000, 2)
    fill(store, 'other', 500, 3)
    const queries: Array<[number, number | undefined, number | undefined]> = [
      [1000, undefined, undefined], [37, undefined, undefined], [1, undefined, undefined],
      [200, 1000.5, 4321], [500, 64, 127], [64, 3, 2000], [10, -50, 99999], [5, 7000, undefined],
    ]
    for (const phase of [0, 1]) {
      if (phase) {
        store.training.insertMetric('r', { step: 10, loss: -99, val_loss: 5 })
        fill(store, 'r', 2000, 4)
      }
      for (const metric of ['loss', 'val_loss', 'gpu_util'] as MetricName[]) {
        for (const [maxPoints, fromStep, toStep] of queries) {
          const got = store.training.getRunSeries('r', metric, { maxPoints, fromStep, toStep })
          expect(got.count.length).toBeLessThanOrEqual(maxPoints)
          expect(Math.log2(got.bucketSize) % 1).toBe(0)
          expectSeries(got, bruteSeries(store, 'r', metric, got.bucketSize, fromStep, toStep), `${phase} ${metric} ${maxPoints} ${fromStep}..${toStep}`)
        }
      }
    }
    expect(store.training.getRunSeries('nothing', 'loss').count).toHaveLength(0)
    expect(thrown(() => store.training.getRunSeries('r', 'loss', { maxPoints: 0 })).code).toBe('ERR_INVALID_ARG')
    expect(thrown(() => store.training.getRunSeries('r', 'step' as MetricName)).code).toBe('ERR_INVALID_ARG')
    store.close()
  })

  it('stays exact after loadBundle replaces the data', () => {
    const src = storeIn('series-src')
    fill(src, 'r', 4000, 5)
    src.training.getRunSeries('r', 'loss', { maxPoints: 50 })
    const bundle = join(root, `series-bundle-${n}`)
    src.training.exportBundle(bundle)
    src.close()
    const dst = storeIn('series-dst')
    fill(dst, 'filler', 999, 6)
    fill(dst, 'r', 300, 7)
    dst.training.getRunSeries('r', 'loss', { maxPoints: 50 })
    dst.training.loadBundle(bundle)
    for (const phase of [0, 1]) {
      const got = dst.training.getRunSeries('r', 'loss', { maxPoints: 50 })
      expectSeries(got, bruteSeries(dst, 'r', 'loss', got.bucketSize), `after load ${phase}`)
      fill(dst, 'r', 100, 8)
    }
    dst.close()
  })

  it('is built on first query for a file OnTheFly wrote, then maintained', () => {
    const dir = join(root, `legacy-${++n}`)
    mkdirSync(dir)
    const file = join(dir, 'runs.sqlite')
    const values = Array.from({ length: 3000 }, (_, i) => `('r', ${i % 1500}, ${(i * 37) % 101 === 0 ? 'NULL' : (i * 7919) % 1000 / 10}, ${i})`)
    sqlExec(file, `CREATE TABLE metrics (run_id TEXT, step INTEGER, loss REAL, val_loss REAL, ts INTEGER);
      INSERT INTO metrics (run_id, step, loss, ts) VALUES ${values.join(', ')};`)
    const store = openStore(file)
    for (const phase of [0, 1]) {
      const got = store.training.getRunSeries('r', 'loss', { maxPoints: 64 })
      expectSeries(got, bruteSeries(store, 'r', 'loss', got.bucketSize), `legacy ${phase}`)
      store.training.insertMetric('r', { step: 700, loss: 1e6, val_loss: null })
    }
    store.close()
  })
})
