// exportBundleAsync / loadBundleAsync: progress on the JS thread, writes continuing during an
// export, the single-file (.tar) form, and hostile archives.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import * as s from '../index.js'
import { openStore, type BundleProgress, type Store } from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { writeTar } from './helpers/tar'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let n = 0
const MiB = 1 << 20

function storeIn(name: string): Store {
  const dir = join(root, `${name}-${++n}`)
  mkdirSync(dir, { recursive: true })
  return openStore(join(dir, 'runs.sqlite'))
}

/** Checkpoint files of `sizes` MiB each (sparse: cheap to create, copied byte for byte). */
function bigCheckpoints(store: Store, sizes: number[]) {
  const dir = join(store.path, '..', 'ckpts')
  mkdirSync(dir, { recursive: true })
  sizes.forEach((mib, i) => {
    const file = join(dir, `big-${i}.pt`)
    const fd = openSync(file, 'w')
    ftruncateSync(fd, mib * MiB)
    closeSync(fd)
    store.training.insertCheckpoint(`run:${i}:0`, 'run', i, file)
  })
}

describe('exportBundleAsync', () => {
  it('reports every phase and at least every 64 MiB, before the promise settles', async () => {
    const store = storeIn('progress')
    store.training.insertRun('run', 'p', 'run', [])
    bigCheckpoints(store, [150, 3, 90])
    const events: BundleProgress[] = []
    let settled = false
    const result = await store.training
      .exportBundleAsync(join(root, `progress-bundle-${n}`), {
        onProgress: (e) => {
          expect(settled).toBe(false)
          events.push(e)
        },
      })
      .finally(() => (settled = true))
    expect(result.checkpoints).toBe(3)
    const phases = events.map((e) => e.phase).filter((p, i, a) => a[i - 1] !== p)
    expect(phases).toEqual(['snapshot', 'checkpoints', 'done'])
    for (let i = 1; i < events.length; i++) {
      expect(events[i].bytesDone).toBeGreaterThanOrEqual(events[i - 1].bytesDone)
      expect(events[i].bytesDone - events[i - 1].bytesDone).toBeLessThanOrEqual(64 * MiB)
    }
    const last = events.at(-1)!
    expect(last.bytesDone).toBe(last.bytesTotal)
    expect(last.bytesTotal).toBeGreaterThanOrEqual(243 * MiB)
    expect(events.some((e) => e.file?.endsWith('big-0.pt'))).toBe(true)
    store.close()
  })

  it('lets the JS thread keep writing; the bundle is a consistent snapshot and nothing is lost', async () => {
    const store = storeIn('concurrent')
    const t = store.training
    t.insertRun('live', 'p', 'live', [])
    // 20 MiB of log text: the database copy takes two 16 MiB steps, with a progress event between.
    for (let i = 0; i < 20; i++) t.insertLog({ run_id: 'live', text: String(i % 10).repeat(MiB) })
    bigCheckpoints(store, [200])
    let step = 0
    const write = (rows: number) => {
      for (let i = 0; i < rows; i++) t.insertMetric('live', { step: step++, loss: 1 / (step + 1), val_loss: null })
    }
    write(1)
    const events: string[] = []
    // The first step written while the copy of the database is half done (its read transaction
    // open): it and every later step are not in the bundle.
    let midCopy = -1
    const done = t.exportBundleAsync(join(root, `concurrent-bundle-${n}`), {
      onProgress: (e) => {
        events.push(e.phase)
        if (e.phase === 'snapshot' && e.file !== undefined && midCopy === -1) {
          midCopy = step
          write(50)
        }
      },
    })
    let finished = false
    done.then(() => (finished = true), () => (finished = true))
    while (!finished) {
      write(50)
      await new Promise((r) => setImmediate(r))
    }
    const result = await done
    expect(events.filter((p, i, a) => a[i - 1] !== p)).toEqual(['snapshot', 'checkpoints', 'done'])
    expect(midCopy).toBeGreaterThan(0)
    const live = t.getRunRows('live')
    expect(live.map((r) => r.step)).toEqual(Array.from({ length: step }, (_, i) => i))
    const inBundle = sqlQuery<{ step: number }>(join(result.dir, 'runs.sqlite'), "SELECT step FROM metrics WHERE run_id = 'live' ORDER BY step").map((r) => r.step)
    expect(inBundle.length).toBeGreaterThan(0)
    expect(inBundle.length).toBeLessThanOrEqual(midCopy)
    expect(inBundle).toEqual(Array.from({ length: inBundle.length }, (_, i) => i))
    expect(sqlQuery(join(result.dir, 'runs.sqlite'), 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
    store.close()
  })

  it('rejects (never throws) on bad arguments, a closed store, or a throwing onProgress', async () => {
    const store = storeIn('reject')
    store.training.insertRun('r', 'p', 'r', [])
    const bad = store.training.exportBundleAsync(42 as never)
    await expect(bad).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    await expect(store.training.exportBundleAsync('x', { onProgress: 'no' as never })).rejects.toBeInstanceOf(TypeError)
    const boom = new Error('user callback failed')
    const dest = join(root, `reject-bundle-${n}`)
    await expect(store.training.exportBundleAsync(dest, { onProgress: () => { throw boom } })).rejects.toBe(boom)
    expect(existsSync(dest)).toBe(false)
    expect(readdirSync(root).filter((f) => f.includes('stowage-'))).toEqual([])

    const bundle = join(root, `reject-good-${n}`)
    store.training.exportBundle(bundle)
    const other = storeIn('reject-load')
    other.training.insertRun('kept', 'p', 'kept', [])
    const stop = new TypeError('stop at validate')
    const load = other.training.loadBundleAsync(bundle, null, {
      onProgress: (e) => {
        if (e.phase === 'validate') throw stop
      },
    })
    await expect(load).rejects.toBe(stop)
    expect(other.training.listRuns().map((r) => r.run_id)).toEqual(['kept'])
    other.close()

    store.close()
    await expect(store.training.exportBundleAsync(dest)).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    await expect(s.exportBundleAsync(dest)).rejects.toMatchObject({ code: 'ERR_NOT_READY' })
  })
})

describe('the single-file form', () => {
  it('exports <dir>.tar beside the folder and loads it (async, with progress) elsewhere', async () => {
    const store = storeIn('tar')
    store.training.insertRun('r', 'p', 'r', [])
    store.training.insertMetric('r', { step: 1, loss: 0.5, val_loss: null })
    bigCheckpoints(store, [1])
    const bundle = join(root, `tar-out-${n}`, 'onthefly_bundle')
    const res = store.training.exportBundle(bundle, { archive: true })
    expect(res.archive).toBe(bundle + '.tar')
    store.close()

    const inbox = join(root, `inbox-${n}`)
    mkdirSync(inbox)
    writeFileSync(join(inbox, 'from-alice.tar'), readFileSync(res.archive!))
    const phases: string[] = []
    const loaded = await s.loadBundleAsync(join(inbox, 'from-alice.tar'), join(root, `tar-live-${n}`), {
      onProgress: (e) => phases.push(e.phase),
    })
    expect(phases.filter((p, i, a) => a[i - 1] !== p)).toEqual(['extract', 'copy', 'validate', 'migrate', 'replace', 'done'])
    expect(loaded.dir).toBe(join(inbox, 'from-alice', 'onthefly_bundle'))
    expect(s.getRunRows('r')).toHaveLength(1)
    expect(s.latestCheckpointForRun('run')!.path).toBe(join(loaded.dir, 'checkpoints', 'run_0_0.pt'))
    expect(existsSync(s.latestCheckpointForRun('run')!.path)).toBe(true)
    s.closeStorage({ retainFile: true })
  })

  it('refuses archives whose entries would land outside, leaving the store and disk as they were', () => {
    const live = storeIn('tar-victim')
    live.training.insertRun('mine', 'p', 'mine', [])
    const before = live.training.listRuns()
    const inbox = join(root, `hostile-inbox-${n}`)
    mkdirSync(inbox)
    const manifest = { name: 'b/bundle.json', data: '{"schema_version":"1.1"}' }
    const cases: Array<[string, Parameters<typeof writeTar>[1]]> = [
      ['dotdot', [manifest, { name: 'b/../../escaped.pt', data: 'x' }]],
      ['absolute', [manifest, { name: '/tmp/stowage-escaped.pt', data: 'x' }]],
      ['symlink', [manifest, { name: 'b/checkpoints/evil.pt', type: '2', link: '/etc/passwd' }]],
      ['hardlink', [manifest, { name: 'b/checkpoints/evil.pt', type: '1', link: '/etc/passwd' }]],
      ['duplicate', [manifest, manifest]],
    ]
    for (const [label, entries] of cases) {
      const tar = join(inbox, `${label}.tar`)
      writeTar(tar, entries)
      const err = thrown(() => live.training.loadBundle(tar))
      expect(err.code, label).toBe('ERR_BUNDLE_PATH')
      expect(existsSync(join(inbox, label)), label).toBe(false)
    }
    expect(existsSync(join(root, 'escaped.pt'))).toBe(false)
    expect(existsSync('/tmp/stowage-escaped.pt')).toBe(false)
    expect(readdirSync(inbox).sort()).toEqual(cases.map(([l]) => `${l}.tar`).sort())
    expect(live.training.listRuns()).toEqual(before)
    live.training.insertRun('still-writable', 'p', 'x', [])
    live.close()
  })
})
