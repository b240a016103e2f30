// Bundles: export/load round trips through the package root, interchange with the original's
// layout in both directions, and the validation and atomicity stowage adds.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

import * as s from '../index.js'
import { openStore, type Store } from '../index.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let n = 0
const fresh = (name: string) => join(root, `${name}-${++n}`)

/** A new store in its own folder. */
function storeIn(name: string): Store {
  const dir = fresh(name)
  mkdirSync(dir, { recursive: true })
  return openStore(join(dir, 'runs.sqlite'))
}

/** A store with runs, metrics, logs, reports, checkpoints (real files) and a final model. */
function populate(store: Store, ckptDir: string) {
  mkdirSync(ckptDir, { recursive: true })
  const t = store.training
  t.insertRun('base', 'proj', 'base', [])
  t.insertRun('fork1', 'proj', 'fork1', ['base'])
  t.insertRun('merge1', 'proj', 'merge1', ['fork1', 'base'])
  for (let step = 1; step <= 300; step++) {
    t.insertMetric('base', { step, epoch: Math.floor(step / 100), loss: 1 / step, val_loss: step % 10 ? null : 2 / step })
    t.insertLog({ run_id: 'base', session_id: 'sess-1', text: `step ${step}: train_loss = ${1 / step}`, phase: 'train', step, ts: 1000 + step })
  }
  t.insertTestMetric('base', 300, 0.01)
  t.upsertSummary('base', null, 0.02)
  t.setRunSubset('fork1', [1, 5, 9])
  t.upsertReportLossDist('base', 'train', { losses: [0.1, 0.2], sample_indices: [4, 2], note: 'n', at_step: 300, at_epoch: 3 })
  t.setSavingEverything(null, true)
  for (const [id, step] of [['base:100:1700000000000', 100], ['base:300:ring', 300], ['fork1:50:1700000000001', 50]] as const) {
    const file = join(ckptDir, `${id.replaceAll(':', '_')}.bin`)
    writeFileSync(file, Buffer.alloc(4096 + step, step))
    t.insertCheckpoint(id, id.split(':')[0], step, file)
  }
  t.insertCheckpoint('fork1:60:gone', 'fork1', 60, join(ckptDir, 'deleted.pt'))
  writeFileSync(join(ckptDir, 'final.bin'), 'final weights')
  t.upsertFinalModel({ session_id: 'sess-1', run_id: 'merge1', ckpt_path: join(ckptDir, 'final.bin'), step: 300, avg_test_loss: 0.01 })
}

/** A new store holding {@link populate}'s data, and its folder. */
function populated(name: string): { store: Store; dir: string } {
  const store = storeIn(name)
  const dir = join(store.path, '..')
  populate(store, join(dir, 'ckpts'))
  return { store, dir }
}

/** Everything the drop-in readers return, minus the checkpoint paths (which a load rewrites). */
function snapshot(store: Store) {
  const t = store.training
  return {
    runs: t.listRuns(),
    rows: t.getRunRows('base'),
    logs: t.getLogs('base'),
    sessions: t.listSessions(),
    tests: t.getTestRows('base'),
    summary: t.getRunSummary('base'),
    subset: t.getRunSubset('fork1'),
    report: t.getReportLossDist('base', 'train'),
    saving: t.isSavingEverything(),
    latest: t.latestCheckpointForRun('base')?.step,
    final: { ...t.getFinalModel('sess-1'), ckpt_path: undefined },
  }
}

describe('exportBundle / loadBundle', () => {
  afterEach(() => s.closeStorage({ retainFile: true }))

  it('round-trip through the default store: the original layout, then everything comes back', async () => {
    const src = fresh('src')
    await s.initStorage(src)
    s.closeStorage({ retainFile: true })
    const store = openStore(join(src, 'runs.sqlite'))
    populate(store, join(src, 'ckpts'))
    const before = snapshot(store)
    store.close()

    await s.initStorage(src)
    const bundle = join(fresh('out'), 'onthefly_bundle')
    const res = s.exportBundle(bundle)
    expect(res).toMatchObject({ dir: bundle, checkpoints: 3, finalModels: 1 })
    expect(res.missing).toEqual([
      { kind: 'checkpoint', id: 'fork1:60:gone', path: join(src, 'ckpts', 'deleted.pt'), reason: expect.stringContaining('cannot read') },
    ])
    expect(res.bytes).toBeGreaterThan(3 * 4096)
    expect(readdirSync(bundle).sort()).toEqual(['bundle.json', 'checkpoints', 'final_models', 'runs.sqlite'])
    const text = readFileSync(join(bundle, 'bundle.json'), 'utf8')
    expect(text.endsWith('}')).toBe(true)
    const manifest = JSON.parse(text)
    expect(Object.keys(manifest)).toEqual(['schema_version', 'sqlite', 'checkpoints', 'final_models'])
    expect(manifest).toEqual({
      schema_version: '1.1',
      sqlite: 'runs.sqlite',
      checkpoints: {
        'base:100:1700000000000': 'checkpoints/base_100_1700000000000.pt',
        'base:300:ring': 'checkpoints/base_300_ring.pt',
        'fork1:50:1700000000001': 'checkpoints/fork1_50_1700000000001.pt',
      },
      final_models: { 'sess-1': 'final_models/sess-1-final.pt' },
    })
    expect(text).toBe(JSON.stringify(manifest, null, 2))
    expect(readFileSync(join(bundle, 'checkpoints/base_300_ring.pt')).equals(Buffer.alloc(4096 + 300, 300))).toBe(true)
    expect(sqlQuery(join(bundle, 'runs.sqlite'), 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }])
    expect(readdirSync(bundle).some((f) => f.endsWith('-wal') || f.endsWith('-shm'))).toBe(false)
    s.closeStorage({ retainFile: true })

    const dst = fresh('dst')
    const loaded = s.loadBundle(join(bundle, 'bundle.json'), { globalStorageUri: { fsPath: dst } })
    expect(s.isReady()).toBe(true)
    expect(s.getDbPath()).toBe(join(dst, 'runs.sqlite'))
    expect(loaded).toMatchObject({ runs: 3, checkpoints: 3, finalModels: 1, missing: [] })
    s.closeStorage({ retainFile: true })
    const copy = openStore(join(dst, 'runs.sqlite'))
    expect(snapshot(copy)).toEqual(before)
    expect(copy.training.latestCheckpointForRun('base')!.path).toBe(join(loaded.dir, 'checkpoints', 'base_300_ring.pt'))
    expect(copy.training.getFinalModel('sess-1')!.ckpt_path).toBe(join(loaded.dir, 'final_models', 'sess-1-final.pt'))
    copy.close()
  })

  it('loads a bundle the original exported (manifest 1.0 and 1.1, ids with ":" as file names)', () => {
    for (const version of ['1.0', '1.1']) {
      const bundle = fresh(`orig-${version}`)
      mkdirSync(join(bundle, 'checkpoints'), { recursive: true })
      mkdirSync(join(bundle, 'final_models'))
      sqlExec(
        join(bundle, 'runs.sqlite'),
        `CREATE TABLE runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, project TEXT, name TEXT, mode TEXT, created_at INTEGER);
         CREATE TABLE checkpoints (ckpt_id TEXT PRIMARY KEY, run_id TEXT, step INTEGER, path TEXT, created_at INTEGER);
         CREATE TABLE metrics (run_id TEXT, step INTEGER, loss REAL, val_loss REAL, ts INTEGER);
         CREATE TABLE session_final_models (session_id TEXT PRIMARY KEY, run_id TEXT, ckpt_path TEXT, step INTEGER, avg_test_loss REAL, updated_at INTEGER);
         INSERT INTO runs VALUES ('r', NULL, 'p', 'r', 'single', 1);
         INSERT INTO metrics VALUES ('r', 1, 0.5, 0.6, 2);
         INSERT INTO checkpoints VALUES ('r:1:1700', 'r', 1, '/home/alice/ckpt/r_1.pt', 3);
         INSERT INTO checkpoints VALUES ('r:2:1800', 'r', 2, '/home/alice/ckpt/r_2.pt', 4);
         INSERT INTO session_final_models VALUES ('sess-abc', 'r', '/home/alice/final.pt', 2, 0.4, 5);
         PRAGMA journal_mode = DELETE;`,
      )
      writeFileSync(join(bundle, 'checkpoints', 'r:1:1700.pt'), 'one')
      const manifest: Record<string, unknown> = {
        schema_version: version,
        sqlite: 'runs.sqlite',
        checkpoints: { 'r:1:1700': 'checkpoints/r:1:1700.pt' },
      }
      if (version === '1.1') {
        writeFileSync(join(bundle, 'final_models', 'sess-abc-final.pt'), 'final')
        manifest.final_models = { 'sess-abc': 'final_models\\sess-abc-final.pt' }
      }
      writeFileSync(join(bundle, 'bundle.json'), JSON.stringify(manifest, null, 2))

      const store = storeIn('live')
      // Prepares (and caches) `SELECT * FROM runs` before the load adds the legacy `mode` column.
      expect(store.training.listRuns()).toEqual([])
      const res = store.training.loadBundle(bundle)
      expect(res.runs).toBe(1)
      const t = store.training
      expect(t.listRuns()[0]).toMatchObject({ run_id: 'r', mode: 'single', parents: [] })
      expect(t.getRunRows('r')).toMatchObject([{ step: 1, loss: 0.5, val_loss: 0.6, epoch: null }])
      const paths = sqlQuery<{ ckpt_id: string; path: string }>(store.path, 'SELECT ckpt_id, path FROM checkpoints ORDER BY ckpt_id')
      expect(paths).toEqual([
        { ckpt_id: 'r:1:1700', path: join(res.dir, 'checkpoints', 'r:1:1700.pt') },
        { ckpt_id: 'r:2:1800', path: '/home/alice/ckpt/r_2.pt' },
      ])
      const final = t.getFinalModel('sess-abc')!.ckpt_path
      expect(final).toBe(version === '1.1' ? join(res.dir, 'final_models', 'sess-abc-final.pt') : '/home/alice/final.pt')
      store.close()
    }
  })

  it('a stowage bundle satisfies what the original loader reads', () => {
    const { store, dir } = populated('exp')
    const bundle = join(dir, 'bundle')
    store.training.exportBundle(bundle)
    store.close()
    const manifest = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8'))
    for (const rel of [...Object.values(manifest.checkpoints), ...Object.values(manifest.final_models)] as string[]) {
      expect(rel).not.toMatch(/^\/|\\|\.\./)
      expect(statSync(join(bundle, rel)).isFile()).toBe(true)
    }
    const db = join(bundle, 'runs.sqlite')
    const cols = sqlQuery<{ name: string }>(db, "SELECT name FROM pragma_table_info('metrics')").map((c) => c.name)
    expect(cols).toHaveLength(14)
    expect(sqlQuery(db, 'SELECT count(*) AS n FROM metrics')).toEqual([{ n: 300 }])
    expect(sqlQuery(db, "SELECT count(*) AS n FROM pragma_table_info('report_loss_dist') WHERE name = 'kind'")).toEqual([{ n: 0 }])
  })
})

describe('bundle safety', () => {
  it('refuses hostile or broken bundles with ERR_BUNDLE_* and leaves the live store as it was', () => {
    const { store: src, dir: srcDir } = populated('hsrc')
    const good = join(srcDir, 'good')
    src.training.exportBundle(good)
    src.close()

    const live = storeIn('victim')
    live.training.insertRun('mine', 'p', 'mine', [])
    live.training.insertMetric('mine', { step: 1, loss: 0.5, val_loss: null })
    const before = snapshot(live)
    const manifest = JSON.parse(readFileSync(join(good, 'bundle.json'), 'utf8'))

    const variant = (name: string, edit: (dir: string) => void) => {
      const dir = join(root, `hostile-${name}-${++n}`)
      mkdirSync(dir)
      for (const f of ['runs.sqlite', 'bundle.json']) writeFileSync(join(dir, f), readFileSync(join(good, f)))
      edit(dir)
      return dir
    }
    const withManifest = (m: unknown) => (dir: string) => writeFileSync(join(dir, 'bundle.json'), JSON.stringify(m))
    const outside = join(root, 'secret.txt')
    writeFileSync(outside, 'secret')
    const cases: Array<[string, string, (dir: string) => void]> = [
      ['absolute path', 'ERR_BUNDLE_PATH', withManifest({ ...manifest, checkpoints: { 'base:100:1700000000000': '/etc/passwd' } })],
      ['dot-dot path', 'ERR_BUNDLE_PATH', withManifest({ ...manifest, final_models: { 'sess-1': '../../secret.txt' } })],
      ['windows absolute path', 'ERR_BUNDLE_PATH', withManifest({ ...manifest, checkpoints: { x: 'C:\\Windows\\x.pt' } })],
      ['symlink leaving the folder', 'ERR_BUNDLE_PATH', (dir) => {
        mkdirSync(join(dir, 'checkpoints'))
        symlinkSync(outside, join(dir, 'checkpoints', 'evil.pt'))
        withManifest({ ...manifest, checkpoints: { x: 'checkpoints/evil.pt' } })(dir)
      }],
      ['manifest not an object', 'ERR_BUNDLE_MANIFEST', withManifest(['runs.sqlite'])],
      ['checkpoints of the wrong type', 'ERR_BUNDLE_MANIFEST', withManifest({ ...manifest, checkpoints: ['a'] })],
      ['a path that is not a string', 'ERR_BUNDLE_MANIFEST', withManifest({ ...manifest, checkpoints: { x: 42 } })],
      ['manifest not JSON', 'ERR_BUNDLE_MANIFEST', (dir) => writeFileSync(join(dir, 'bundle.json'), '{ nope')],
      ['unknown major version', 'ERR_BUNDLE_VERSION', withManifest({ ...manifest, schema_version: '2.0' })],
      ['missing runs.sqlite', 'ERR_BUNDLE_SQLITE', (dir) => rmSync(join(dir, 'runs.sqlite'))],
      ['runs.sqlite not SQLite', 'ERR_BUNDLE_SQLITE', (dir) => writeFileSync(join(dir, 'runs.sqlite'), Buffer.alloc(8192, 7))],
      ['truncated runs.sqlite', 'ERR_BUNDLE_SQLITE', (dir) => truncateSync(join(dir, 'runs.sqlite'), Math.floor(statSync(join(dir, 'runs.sqlite')).size / 2))],
      ['a database without training tables', 'ERR_BUNDLE_SQLITE', (dir) => {
        writeFileSync(join(dir, 'runs.sqlite'), '')
        sqlExec(join(dir, 'runs.sqlite'), 'CREATE TABLE notes (x); INSERT INTO notes VALUES (1);')
      }],
      ['no bundle.json', 'ERR_BUNDLE_NOT_FOUND', (dir) => rmSync(join(dir, 'bundle.json'))],
    ]
    for (const [name, code, edit] of cases) {
      const err = thrown(() => live.training.loadBundle(variant(name.replaceAll(' ', '-'), edit)))
      expect(err.code, name).toBe(code)
      expect(err.message.length, name).toBeGreaterThan(10)
      expect(snapshot(live), name).toEqual(before)
    }
    live.training.insertMetric('mine', { step: 2, loss: 0.4, val_loss: null })
    expect(live.training.getRunRows('mine')).toHaveLength(2)
    expect(live.integrityCheck()).toEqual(['ok'])
    expect(readdirSync(join(live.path, '..')).filter((f) => f.includes('incoming'))).toEqual([])
    live.close()
  })

  it('export never leaves a partial bundle and never overwrites a foreign folder', () => {
    const { store, dir } = populated('atomic')
    const foreign = join(dir, 'my-docs')
    mkdirSync(foreign)
    writeFileSync(join(foreign, 'thesis.tex'), 'keep me')
    expect(thrown(() => store.training.exportBundle(foreign)).code).toBe('ERR_BUNDLE_DEST_NOT_EMPTY')
    expect(readdirSync(foreign)).toEqual(['thesis.tex'])

    const bundle = join(dir, 'b')
    store.training.exportBundle(bundle)
    writeFileSync(join(bundle, 'stale.pt'), 'old')
    store.training.insertRun('later', 'p', 'later', [])
    store.training.exportBundle(bundle)
    expect(existsSync(join(bundle, 'stale.pt'))).toBe(false)
    expect(sqlQuery(join(bundle, 'runs.sqlite'), "SELECT count(*) AS n FROM runs WHERE run_id = 'later'")).toEqual([{ n: 1 }])
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([])
    store.close()
  })
})
