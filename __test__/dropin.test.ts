// The drop-in functions of OnTheFly's storage.ts, through the package root, with the edge cases
// of reference §10 and the deliberate differences of COMPATIBILITY.md.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import * as s from '../index.js'
import { sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let n = 0
let folder = ''

/** Waits until the millisecond clock moves, so consecutive rows get distinct timestamps. */
function tick() {
  const t = Date.now()
  while (Date.now() === t) {
    /* spin */
  }
}

function metric(step: number, loss: number | null, extra: Partial<s.MetricInsertRow> = {}): s.MetricInsertRow {
  return { step, loss, val_loss: null, ...extra }
}

describe('before initStorage', () => {
  it('reads return what the original returns and writes throw ERR_NOT_READY', () => {
    expect(s.isReady()).toBe(false)
    expect(s.getDbPath()).toBe('')
    expect(s.listRuns()).toEqual([])
    expect(s.getRunRows('r')).toEqual([])
    expect(s.getRunSummary('r')).toEqual([])
    expect(s.getLogs('r')).toEqual([])
    expect(s.getLogsBySession('s')).toEqual([])
    expect(s.getTestRows('r')).toEqual([])
    expect(s.listSessions()).toEqual([])
    expect(s.runsForSession('s')).toEqual([])
    expect(s.getRunSubset('r')).toEqual([])
    expect(s.getReportLossDist('r', 'train')).toBeNull()
    expect(s.getFinalModel('s')).toBeNull()
    expect(s.latestCheckpointForRun('r')).toBeNull()
    expect(s.isSavingEverything()).toBe(false)
    expect(() => s.checkpointNow()).not.toThrow()
    expect(() => s.closeStorage()).not.toThrow()
    expect(s.insertMetric.batch([])).toBeUndefined()
    expect(s.insertMetric.batch(undefined)).toBeUndefined()

    const writes: Array<[string, () => unknown]> = [
      ['insertRun', () => s.insertRun('r', 'p', 'n')],
      ['insertCheckpoint', () => s.insertCheckpoint('c', 'r', 1, '/x')],
      ['insertMetric', () => s.insertMetric('r', metric(1, 0.5))],
      ['insertMetric.batch', () => s.insertMetric.batch([{ run_id: 'r', ...metric(1, 0.5) }])],
      ['upsertSummary', () => s.upsertSummary('r', 1, 2)],
      ['upsertReportLossDist', () => s.upsertReportLossDist('r', 'train', { losses: [1], sample_indices: [0] })],
      ['setRunSubset', () => s.setRunSubset('r', [1])],
      ['setSavingEverything', () => s.setSavingEverything({}, true)],
      ['insertLog', () => s.insertLog({ run_id: 'r', text: 'x' })],
      ['insertTestMetric', () => s.insertTestMetric('r', 1, 0.5)],
      ['upsertFinalModel', () => s.upsertFinalModel({ session_id: 's', run_id: 'r', ckpt_path: '/x', step: 1 })],
      ['exportBundle', () => s.exportBundle(join(root, 'never'))],
    ]
    for (const [name, call] of writes) {
      const err = thrown(call)
      expect(err.code, name).toBe('ERR_NOT_READY')
      expect(err.message).toContain(name)
    }
    expect(existsSync(join(root, 'never'))).toBe(false)
  })

  it('whenReady resolves when nothing is in flight', async () => {
    await expect(s.whenReady()).resolves.toBeUndefined()
  })
})

describe('initStorage', () => {
  afterEach(() => s.closeStorage({ retainFile: true }))

  it('opens synchronously from an ExtensionContext and returns a settled single-flight promise', async () => {
    const dir = join(root, 'ctx', 'globalStorage')
    const p = s.initStorage({ globalStorageUri: { fsPath: dir } })
    expect(s.isReady()).toBe(true)
    expect(s.getDbPath()).toBe(join(dir, 'runs.sqlite'))
    expect(existsSync(join(dir, 'runs.sqlite'))).toBe(true)
    expect(s.whenReady()).toBe(p)
    await expect(p).resolves.toBeUndefined()
    await expect(s.initStorage({ globalStorageUri: { fsPath: join(root, 'elsewhere') } })).resolves.toBeUndefined()
    expect(s.getDbPath()).toBe(join(dir, 'runs.sqlite'))
    expect(s.whenReady()).not.toBe(p)
  })

  it('uses globalStorageUri of a context shaped like VS Code\'s, not its workspace storagePath', async () => {
    // With a folder open, a real vscode.ExtensionContext carries both: the deprecated storagePath
    // is that folder's workspace storage; OnTheFly keeps its one store in globalStorage.
    const user = join(root, 'vscode-user')
    const global = join(user, 'globalStorage', 'pub.ext')
    const workspace = join(user, 'workspaceStorage', 'abc123', 'pub.ext')
    const context = {
      subscriptions: [],
      globalStorageUri: { scheme: 'file', fsPath: global, path: global },
      globalStoragePath: global,
      storageUri: { scheme: 'file', fsPath: workspace, path: workspace },
      storagePath: workspace,
    }
    await s.initStorage(context)
    expect(s.getDbPath()).toBe(join(global, 'runs.sqlite'))
    s.insertRun('r', 'p', 'r', null)
    s.closeStorage({ retainFile: true })
    expect(existsSync(join(global, 'runs.sqlite'))).toBe(true)
    expect(existsSync(workspace)).toBe(false)
    // loadBundle opens the default store from its context argument when it is closed.
    expect(thrown(() => s.loadBundle(join(root, 'no-such-bundle'), context)).code).toBe('ERR_BUNDLE_NOT_FOUND')
    expect(s.getDbPath()).toBe(join(global, 'runs.sqlite'))
    expect(existsSync(workspace)).toBe(false)
  })

  it('refuses a context whose globalStorageUri has no fsPath, even with a storagePath', async () => {
    const err = await s.initStorage({ globalStorageUri: {}, storagePath: join(root, 'ws') } as never).catch((e) => e)
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
    expect(existsSync(join(root, 'ws'))).toBe(false)
  })

  it('accepts { storagePath } and a folder path', async () => {
    await s.initStorage({ storagePath: join(root, 'sp') })
    expect(s.getDbPath()).toBe(join(root, 'sp', 'runs.sqlite'))
    s.closeStorage({ retainFile: true })
    await s.initStorage(join(root, 'plain'))
    expect(s.getDbPath()).toBe(join(root, 'plain', 'runs.sqlite'))
  })

  it('rejects a bad context with a TypeError and stays closed', async () => {
    for (const bad of [undefined, null, 42, '', {}, { globalStorageUri: {} }, []]) {
      const err = await s.initStorage(bad as never).catch((e) => e)
      expect(err).toBeInstanceOf(TypeError)
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
      expect(s.isReady()).toBe(false)
    }
  })

  it('rejects a file that is not SQLite, leaving it as it was', async () => {
    const dir = join(root, 'notdb')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'runs.sqlite'), 'this is not a database'.repeat(200))
    const err = await s.initStorage(dir).catch((e) => e)
    expect(err.code).toBe('SQLITE_NOTADB')
    expect(s.isReady()).toBe(false)
  })
})

describe('with the default store open', () => {
  beforeEach(async () => {
    folder = join(root, `store-${++n}`)
    await s.initStorage(folder)
  })
  afterEach(() => s.closeStorage({ retainFile: true }))

  it('insertRun normalises parents like the original', () => {
    s.insertRun('a', 'p', 'a', ['x', '', null as never, undefined as never, 0 as never, false as never, NaN as never, 7 as never, 'y'])
    s.insertRun('b', 'p', 'b', 'solo')
    s.insertRun('c', 'p', 'c', null)
    s.insertRun('d', 'p', 'd', '')
    s.insertRun('e', 'p', 'e')
    s.insertRun('f', 'p', 'f', 0 as never)
    const parents = Object.fromEntries(s.listRuns().map((r) => [r.run_id, r.parents]))
    expect(parents).toEqual({ a: ['x', '7', 'y'], b: ['solo'], c: [], d: [], e: [], f: ['0'] })
    const a = s.listRuns().find((r) => r.run_id === 'a')!
    expect(a.parent_run_id).toBe('x')
  })

  it('insertRun ignores a repeated run but replaces its edges', () => {
    s.insertRun('m', 'proj', 'merge1', ['p1', 'p2'])
    const first = s.listRuns()[0]
    tick()
    s.insertRun('m', 'other', 'renamed', ['p3'])
    const again = s.listRuns()[0]
    expect(again).toEqual({ ...first, parents: ['p3'] })
    expect(Object.keys(again)).toEqual(['run_id', 'parent_run_id', 'project', 'name', 'created_at', 'parents'])
  })

  it('listRuns is newest first with parents in recorded order', () => {
    s.insertRun('base', 'p', 'base', [])
    tick()
    s.insertRun('fork1', 'p', 'fork1', ['base'])
    tick()
    s.insertRun('merge1', 'p', 'merge1', ['fork1', 'base'])
    const runs = s.listRuns()
    expect(runs.map((r) => r.run_id)).toEqual(['merge1', 'fork1', 'base'])
    expect(runs[0].parents).toEqual(['fork1', 'base'])
    expect(typeof runs[0].created_at).toBe('number')
    expect(Math.abs(runs[0].created_at - Date.now())).toBeLessThan(60_000)
  })

  it('checkpoints: latest by step then time, hidden by an empty path, replaced by id', () => {
    expect(s.latestCheckpointForRun('r')).toBeNull()
    s.insertCheckpoint('r:5:1', 'r', 5, '/ck/5.pt')
    s.insertCheckpoint('r:9:1', 'r', 9, '/ck/9a.pt')
    tick()
    s.insertCheckpoint('r:9:2', 'r', 9, '/ck/9b.pt')
    expect(s.latestCheckpointForRun('r')).toEqual({ path: '/ck/9b.pt', step: 9 })
    s.insertCheckpoint('r:9:2', 'r', 3, '/ck/3.pt')
    expect(s.latestCheckpointForRun('r')).toEqual({ path: '/ck/9a.pt', step: 9 })
    s.insertCheckpoint('r:10:x', 'r', 10, '')
    expect(s.latestCheckpointForRun('r')).toBeNull()
  })

  it('metrics come back by step in column order; ts from the caller is ignored', () => {
    s.insertMetric('r', metric(2, 0.5, { epoch: 1, lr: 0.001, ts: 1 }))
    s.insertMetric('r', metric(1, null, { val_loss: 0.7, gpu_util: 88 }))
    s.insertMetric('r', { step: 3, loss: NaN, val_loss: undefined as never })
    s.insertMetric('other', metric(0, 9))
    const rows = s.getRunRows('r')
    expect(rows.map((r) => r.step)).toEqual([1, 2, 3])
    expect(Object.keys(rows[0])).toEqual([
      'step', 'epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm',
      'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util',
    ])
    expect(rows[0]).toMatchObject({ loss: null, val_loss: 0.7, gpu_util: 88, epoch: null })
    expect(rows[1]).toMatchObject({ loss: 0.5, epoch: 1, lr: 0.001 })
    expect(rows[2].loss).toBeNull()
    const ts = sqlQuery<{ ts: number }>(s.getDbPath(), "SELECT ts FROM metrics WHERE run_id = 'r' AND step = 2")[0].ts
    expect(Math.abs(ts - Date.now())).toBeLessThan(60_000)
  })

  it('insertMetric.batch writes all rows with one ts, or none', () => {
    s.insertMetric.batch([
      { run_id: 'a', ...metric(1, 0.1) },
      { run_id: 'b', ...metric(1, 0.2) },
      { run_id: 'a', ...metric(2, 0.05) },
    ])
    expect(s.getRunRows('a').map((r) => r.loss)).toEqual([0.1, 0.05])
    const ts = sqlQuery<{ n: number }>(s.getDbPath(), 'SELECT count(DISTINCT ts) AS n FROM metrics')[0].n
    expect(ts).toBe(1)
    const err = thrown(() =>
      s.insertMetric.batch([{ run_id: 'c', ...metric(1, 0.1) }, { run_id: 'c', step: 2, loss: 'bad' as never, val_loss: null }]),
    )
    expect(err).toBeInstanceOf(TypeError)
    expect(err.message).toContain('rows[1].loss')
    expect(s.getRunRows('c')).toEqual([])
  })

  it('upsertSummary keeps old values where the new one is missing', () => {
    expect(s.getRunSummary('r')).toEqual([])
    s.upsertSummary('r', null, 0.5)
    s.upsertSummary('r', 0.1)
    s.upsertSummary('r', undefined, NaN)
    expect(s.getRunSummary('r')).toEqual([{ run_id: 'r', final_loss: 0.1, val_loss: 0.5 }])
  })

  it('reports: stored like JSON.stringify, read back normalised with the index fallback', () => {
    s.upsertReportLossDist('r', 'train', {
      losses: [0.5, 1, NaN, Infinity],
      sample_indices: [3.9, 1, 2, 7],
      note: 'after epoch 1',
      at_step: 100,
      at_epoch: 1,
    })
    const stored = sqlQuery(s.getDbPath(), 'SELECT losses, sample_indices, samples FROM report_loss_dist')[0]
    expect(stored).toEqual({ losses: '[0.5,1,null,null]', sample_indices: '[3,1,2,7]', samples: 4 })
    expect(s.getReportLossDist('r', 'train')).toEqual({
      run_id: 'r',
      subset_on: 'train',
      losses: [0.5, 1, 0, 0],
      sample_indices: [3, 1, 2, 7],
      note: 'after epoch 1',
      at_step: 100,
      at_epoch: 1,
      samples: 4,
    })
    s.upsertReportLossDist('r', 'train', { losses: [1, 2, 3], sample_indices: [-1, 5, 'x' as never], samples: 10 })
    expect(s.getReportLossDist('r', 'train')).toMatchObject({ sample_indices: [0, 1, 2], samples: 10, note: '', at_step: null })
    expect(s.getReportLossDist('r', 'val')).toBeNull()
    const err = thrown(() => s.upsertReportLossDist('r', 'val', {} as never))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.message).toContain('payload.losses')
  })

  it('subsets keep the non-negative integers the reader accepts', () => {
    expect(s.getRunSubset('r')).toEqual([])
    s.setRunSubset('r', [3, 1.5, -2, null as never, 7])
    expect(sqlQuery(s.getDbPath(), 'SELECT indices FROM run_subsets')[0]).toEqual({ indices: '[3,1.5,-2,null,7]' })
    expect(s.getRunSubset('r')).toEqual([3, 0, 7])
    s.setRunSubset('r', new Int32Array([4, 5]) as never)
    expect(s.getRunSubset('r')).toEqual([4, 5])
    s.setRunSubset('r', null as never)
    expect(s.getRunSubset('r')).toEqual([])
  })

  it('logs: defaults, non-finite steps dropped, ordered by ts then id, filtered by phase', () => {
    s.insertLog({ run_id: 'r', session_id: 's1', text: 'late', ts: 300 })
    s.insertLog({ run_id: 'r', session_id: 's1', text: 'first', ts: 100, step: 'x' as never, epoch: Infinity })
    s.insertLog({ run_id: 'r', session_id: 's1', text: 'second', ts: 100, step: 4, epoch: 1, level: 'warn', phase: 'train' })
    s.insertLog({ run_id: 'q', session_id: 's2', text: 'other', ts: 200, phase: 'test' })
    s.insertLog({ run_id: 'r', text: 'now' })
    const logs = s.getLogs('r')
    expect(logs.map((l) => l.text)).toEqual(['first', 'second', 'late', 'now'])
    expect(Object.keys(logs[0])).toEqual(['id', 'run_id', 'session_id', 'level', 'text', 'phase', 'step', 'epoch', 'ts'])
    expect(logs[0]).toMatchObject({ level: 'info', phase: 'info', step: null, epoch: null, ts: 100 })
    expect(logs[1]).toMatchObject({ level: 'warn', phase: 'train', step: 4, epoch: 1 })
    expect(Math.abs(logs[3].ts - Date.now())).toBeLessThan(60_000)
    expect(s.getLogs('r', 'train').map((l) => l.text)).toEqual(['second'])
    expect(s.getLogs('r', '').length).toBe(4)
    expect(s.getLogsBySession('s1').map((l) => l.text)).toEqual(['first', 'second', 'late'])
    expect(s.getLogsBySession('s2', 'test').map((l) => l.text)).toEqual(['other'])
  })

  it('sessions are derived from the logs', () => {
    s.insertLog({ run_id: 'a', session_id: 's1', text: 'x', ts: 1 })
    s.insertLog({ run_id: 'b', session_id: 's1', text: 'x', ts: 5 })
    s.insertLog({ run_id: 'c', session_id: 's2', text: 'x', ts: 9 })
    s.insertLog({ run_id: 'd', text: 'no session', ts: 99 })
    s.upsertFinalModel({ session_id: 's3', run_id: 'z', ckpt_path: '/m.pt', step: 1 })
    expect(s.listSessions()).toEqual([
      { session_id: 's2', last_ts: 9, run_count: 1 },
      { session_id: 's1', last_ts: 5, run_count: 2 },
    ])
    expect(s.runsForSession('s1').sort()).toEqual(['a', 'b'])
    expect(s.runsForSession('nope')).toEqual([])
  })

  it('test metrics store NULL for a null or non-finite loss (not 0)', () => {
    s.insertTestMetric('r', 2, 0.25)
    s.insertTestMetric('r', 1, null)
    s.insertTestMetric('r', 3, NaN)
    expect(s.getTestRows('r')).toEqual([
      { step: 1, loss: null },
      { step: 2, loss: 0.25 },
      { step: 3, loss: null },
    ])
  })

  it('final models: one per session, null loss kept as null', () => {
    s.upsertFinalModel({ session_id: 's', run_id: 'r', ckpt_path: '/a.pt', step: 3, avg_test_loss: 0.5 })
    s.upsertFinalModel({ session_id: 's', run_id: 'r2', ckpt_path: '/b.pt', step: 4, avg_test_loss: null })
    const fm = s.getFinalModel('s')!
    expect(Object.keys(fm)).toEqual(['session_id', 'run_id', 'ckpt_path', 'step', 'avg_test_loss', 'updated_at'])
    expect(fm).toMatchObject({ session_id: 's', run_id: 'r2', ckpt_path: '/b.pt', step: 4, avg_test_loss: null })
    expect(s.getFinalModel('other')).toBeNull()
  })

  it('the saving flag round-trips and ignores the context argument', () => {
    expect(s.isSavingEverything()).toBe(false)
    s.setSavingEverything(undefined, true)
    expect(s.isSavingEverything()).toBe(true)
    s.setSavingEverything({ anything: 1 }, 0 as never)
    expect(s.isSavingEverything()).toBe(false)
  })

  it('checkpointNow folds the WAL back', () => {
    for (let i = 0; i < 50; i++) s.insertMetric('r', metric(i, i))
    s.checkpointNow()
    const [{ n }] = sqlQuery<{ n: number }>(s.getDbPath(), 'SELECT count(*) AS n FROM metrics')
    expect(n).toBe(50)
  })

  it('text and big integers round-trip exactly', () => {
    const text = 'emoji 🧪, NUL \u0000 inside, accents é, CJK 漢字'
    s.insertLog({ run_id: 'r', text, ts: 2 ** 60 })
    const [row] = s.getLogs('r')
    expect(row.text).toBe(text)
    expect(row.ts as unknown).toBe(2n ** 60n)
    s.insertLog({ run_id: 'r', text: 'lone \ud800 surrogate', ts: 1 })
    expect(s.getLogs('r')[0].text).toBe('lone \ufffd surrogate')
  })

  it('wrong argument types are TypeErrors naming function and argument', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => s.insertRun(5 as never, 'p', 'n'), 'insertRun: run_id'],
      [() => s.insertMetric('r', null as never), 'insertMetric: row'],
      [() => s.insertMetric('r', { step: 1, loss: true as never, val_loss: null }), 'row.loss'],
      [() => s.getRunRows({} as never), 'getRunRows: run_id'],
      [() => s.insertLog({ run_id: 'r', text: 'x', level: 5 as never }), 'row.level'],
      [() => s.upsertFinalModel({ session_id: 1 as never, run_id: 'r', ckpt_path: '/x', step: 1 }), 'row.session_id'],
      [() => s.setRunSubset('r', 'abc' as never), 'indices'],
      [() => s.insertRun('r', 'p', 'n', [Symbol('x')] as never), 'parents'],
    ]
    for (const [call, where] of cases) {
      const err = thrown(call)
      expect(err, where).toBeInstanceOf(TypeError)
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
      expect(err.message).toContain(where)
    }
    const big = thrown(() => s.insertTestMetric('r', 2n ** 60n as never, 0.5))
    expect(big).toBeInstanceOf(RangeError)
    expect(big.code).toBe('ERR_OUT_OF_RANGE')
    expect(s.getTestRows('r')).toEqual([])
    s.insertTestMetric('r', 5n as never, 0.5)
    expect(s.getTestRows('r')).toEqual([{ step: 5, loss: 0.5 }])
  })
})

describe('closeStorage', () => {
  it('with retainFile keeps the file, which reopens with its data', async () => {
    const dir = join(root, 'retain')
    await s.initStorage(dir)
    s.insertRun('kept', 'p', 'n')
    s.closeStorage({ retainFile: true })
    expect(s.isReady()).toBe(false)
    expect(s.getDbPath()).toBe('')
    expect(existsSync(join(dir, 'runs.sqlite'))).toBe(true)
    await s.initStorage(dir)
    expect(s.listRuns().map((r) => r.run_id)).toEqual(['kept'])
    s.closeStorage({ retainFile: true })
  })

  it('without retainFile deletes only the database files, and the folder only if empty', async () => {
    const dir = join(root, 'erase')
    await s.initStorage(dir)
    s.insertRun('gone', 'p', 'n')
    writeFileSync(join(dir, 'settings.json'), '{}')
    s.closeStorage()
    expect(readdirSync(dir)).toEqual(['settings.json'])

    const empty = join(root, 'erase-empty')
    await s.initStorage(empty)
    s.insertRun('gone', 'p', 'n')
    s.closeStorage()
    expect(existsSync(empty)).toBe(false)

    await s.initStorage(dir)
    expect(s.listRuns()).toEqual([])
    s.closeStorage()
  })
})
