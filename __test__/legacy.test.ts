// Files written by every released OnTheFly schema (built here with the SQL the reference gives)
// open through the package and keep every row; files stowage writes pass the original's checks.
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { openStore } from '../index.js'
import { sqlExec, sqlQuery } from './helpers/sqlite'
import { tempDir, thrown } from './helpers/tmp'

const root = tempDir()
let n = 0

/** Tables every revision creates the same way. */
const COMMON = `
  CREATE TABLE run_subsets (run_id TEXT PRIMARY KEY, indices TEXT);
  CREATE TABLE checkpoints (ckpt_id TEXT PRIMARY KEY, run_id TEXT, step INTEGER, path TEXT, created_at INTEGER);
  CREATE TABLE summaries (run_id TEXT PRIMARY KEY, final_loss REAL, val_loss REAL);
  CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);
  CREATE TABLE run_edges (child_run_id TEXT NOT NULL, parent_run_id TEXT NOT NULL, PRIMARY KEY (child_run_id, parent_run_id));
  CREATE INDEX idx_edges_child ON run_edges(child_run_id);
  CREATE INDEX idx_edges_parent ON run_edges(parent_run_id);
  CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, session_id TEXT, level TEXT, text TEXT,
                     phase TEXT, step INTEGER, epoch INTEGER, ts INTEGER);
  CREATE INDEX idx_logs_run ON logs(run_id);
  CREATE INDEX idx_logs_phase ON logs(phase);
  CREATE TABLE test_metrics (run_id TEXT, step INTEGER, loss REAL, ts INTEGER);
  CREATE INDEX idx_test_metrics_run_step ON test_metrics(run_id, step);
  INSERT INTO checkpoints VALUES ('base:1:100', 'base', 1, '/old/base_1.pt', 100);
  INSERT INTO summaries VALUES ('base', NULL, 0.75);
  INSERT INTO kv VALUES ('saving', '1');
  INSERT INTO run_subsets VALUES ('fork1', '[1,2,3]');
  INSERT INTO logs (run_id, session_id, level, text, phase, step, epoch, ts) VALUES ('base', 'sess-1', 'info', 'step 1: train_loss = 0.9', 'train', 1, 0, 1001);
  INSERT INTO test_metrics VALUES ('base', 1, 0.8, 1002);
`
const RUNS_WITH_MODE = `
  CREATE TABLE runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, project TEXT, name TEXT, mode TEXT, created_at INTEGER);
  INSERT INTO runs VALUES ('base', NULL, 'proj', 'base', 'single', 1000);
  INSERT INTO runs VALUES ('fork1', 'base', 'proj', 'fork1', 'sweep', 2000);
  INSERT INTO run_edges VALUES ('fork1', 'base');
`
const RUNS = `
  CREATE TABLE runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, project TEXT, name TEXT, created_at INTEGER);
  INSERT INTO runs VALUES ('base', NULL, 'proj', 'base', 1000);
  INSERT INTO runs VALUES ('fork1', 'base', 'proj', 'fork1', 2000);
  INSERT INTO run_edges VALUES ('fork1', 'base');
`
const METRICS_5 = `
  CREATE TABLE metrics (run_id TEXT, step INTEGER, loss REAL, val_loss REAL, ts INTEGER, theta REAL, gen_bound REAL, constraintSatisfied INTEGER);
  CREATE INDEX idx_metrics_run_step ON metrics(run_id, step);
  CREATE INDEX idx_metrics_run ON metrics(run_id);
  INSERT INTO metrics VALUES ('base', 2, 0.8, 0.85, 1003, 0.1, 2.5, 1);
  INSERT INTO metrics VALUES ('base', 1, 0.9, NULL, 1002, 0.2, 2.6, 0);
`
const METRICS_13 = `
  CREATE TABLE metrics (run_id TEXT, step INTEGER, loss REAL, val_loss REAL, accuracy REAL, lr REAL, grad_norm REAL,
    weight_norm REAL, activation_zero_frac REAL, throughput REAL, mem_vram REAL, gpu_util REAL, ts INTEGER);
  CREATE INDEX idx_metrics_run_step ON metrics(run_id, step);
  CREATE INDEX idx_metrics_run ON metrics(run_id);
  INSERT INTO metrics VALUES ('base', 2, 0.8, 0.85, 0.5, 0.001, 1.5, 30, 0.1, 250, 2048, 90, 1003);
  INSERT INTO metrics VALUES ('base', 1, 0.9, NULL, 0.4, 0.001, 1.6, 31, 0.2, 240, 2048, 91, 1002);
`
const METRICS_14 = `
  CREATE TABLE metrics (run_id TEXT, step INTEGER, epoch INTEGER, loss REAL, val_loss REAL, accuracy REAL, lr REAL, grad_norm REAL,
    weight_norm REAL, activation_zero_frac REAL, throughput REAL, mem_vram REAL, gpu_util REAL, ts INTEGER);
  CREATE INDEX idx_metrics_run_step ON metrics(run_id, step);
  CREATE INDEX idx_metrics_run ON metrics(run_id);
  INSERT INTO metrics VALUES ('base', 2, 0, 0.8, 0.85, 0.5, 0.001, 1.5, 30, 0.1, 250, 2048, 90, 1003);
  INSERT INTO metrics VALUES ('base', 1, 0, 0.9, NULL, 0.4, 0.001, 1.6, 31, 0.2, 240, 2048, 91, 1002);
`
const REPORT_KIND = `
  CREATE TABLE report_loss_dist (run_id TEXT NOT NULL, kind TEXT NOT NULL, losses TEXT NOT NULL, note TEXT, at_step INTEGER,
    at_epoch INTEGER, samples INTEGER, created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')), PRIMARY KEY (run_id, kind));
  CREATE INDEX idx_report_loss_dist_run ON report_loss_dist(run_id);
  INSERT INTO report_loss_dist VALUES ('base', 'train', '[0.5,0.25,1]', 'kind-era', 2, 0, 3, 1700000000);
`
const REPORT_NO_INDICES = `
  CREATE TABLE report_loss_dist (run_id TEXT NOT NULL, subset_on TEXT NOT NULL, losses TEXT NOT NULL, note TEXT, at_step INTEGER,
    at_epoch INTEGER, samples INTEGER, created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')), PRIMARY KEY (run_id, subset_on));
  CREATE INDEX idx_report_loss_dist_run ON report_loss_dist(run_id);
  INSERT INTO report_loss_dist VALUES ('base', 'train', '[0.5,0.25,1]', 'v1', 2, 0, 3, 1700000000);
`
const REPORT = `
  CREATE TABLE report_loss_dist (run_id TEXT NOT NULL, subset_on TEXT NOT NULL, losses TEXT NOT NULL,
    sample_indices TEXT NOT NULL DEFAULT '[]', note TEXT, at_step INTEGER, at_epoch INTEGER, samples INTEGER,
    created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')), PRIMARY KEY (run_id, subset_on));
  CREATE INDEX idx_report_loss_dist_run ON report_loss_dist(run_id);
  INSERT INTO report_loss_dist VALUES ('base', 'train', '[0.5,0.25,1]', '[7,8,9]', 'v3', 2, 0, 3, 1700000000000);
`
const FINAL_MODELS = `
  CREATE TABLE session_final_models (session_id TEXT PRIMARY KEY, run_id TEXT, ckpt_path TEXT, step INTEGER,
    avg_test_loss REAL, updated_at INTEGER);
  INSERT INTO session_final_models VALUES ('sess-1', 'base', '/old/final.pt', 2, 0.7, 1005);
`

const RELEASES: Record<string, string> = {
  'pre-V1 (kind-keyed reports, theta columns)': COMMON + RUNS_WITH_MODE + METRICS_5 + REPORT_KIND,
  'V1/V2 (runs.mode, 5-column metrics, no sample_indices)': COMMON + RUNS_WITH_MODE + METRICS_5 + REPORT_NO_INDICES,
  'V3/V4 (sample_indices)': COMMON + RUNS_WITH_MODE + METRICS_5 + REPORT,
  'V5 (13-column metrics, final models, no mode)': COMMON + RUNS + METRICS_13 + REPORT + FINAL_MODELS,
  'V6/V7 (14-column metrics)': COMMON + RUNS + METRICS_14 + REPORT + FINAL_MODELS,
}

/** The columns OnTheFly's HEAD requires of metrics ("matches exactly": count and names). */
const HEAD_METRICS = [
  'run_id', 'step', 'epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm',
  'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util', 'ts',
]

function legacyFile(sql: string): string {
  const dir = join(root, `legacy-${++n}`)
  mkdirSync(dir)
  const file = join(dir, 'runs.sqlite')
  sqlExec(file, sql)
  return file
}

function columns(file: string, table: string): string[] {
  return sqlQuery<{ name: string }>(file, `SELECT name FROM pragma_table_info('${table}')`).map((c) => c.name)
}

describe.each(Object.entries(RELEASES))('a file of %s', (_label, sql) => {
  it('opens with every row kept and works through the drop-in methods', () => {
    const file = legacyFile(sql)
    const store = openStore(file)
    const t = store.training
    const rows = t.getRunRows('base')
    expect(rows.map((r) => [r.step, r.loss])).toEqual([[1, 0.9], [2, 0.8]])
    const runs = t.listRuns()
    expect(runs.map((r) => r.run_id)).toEqual(['fork1', 'base'])
    expect(runs[0].parents).toEqual(['base'])
    expect(t.getLogs('base').map((l) => l.text)).toEqual(['step 1: train_loss = 0.9'])
    expect(t.getTestRows('base')).toEqual([{ step: 1, loss: 0.8 }])
    expect(t.getRunSummary('base')).toEqual([{ run_id: 'base', final_loss: null, val_loss: 0.75 }])
    expect(t.isSavingEverything()).toBe(true)
    expect(t.getRunSubset('fork1')).toEqual([1, 2, 3])
    expect(t.latestCheckpointForRun('base')).toEqual({ path: '/old/base_1.pt', step: 1 })
    const report = t.getReportLossDist('base', 'train')!
    expect(report.losses).toEqual([0.5, 0.25, 1])
    expect(report.samples).toBe(3)

    t.insertMetric('base', { step: 3, epoch: 1, loss: 0.7, val_loss: null, gpu_util: 50 })
    t.insertRun('merge1', 'proj', 'merge1', ['fork1', 'base'])
    t.upsertFinalModel({ session_id: 'sess-2', run_id: 'merge1', ckpt_path: '/new.pt', step: 3 })
    expect(t.getRunRows('base').at(-1)).toMatchObject({ step: 3, epoch: 1, gpu_util: 50 })
    expect(store.info().schema).toEqual({ training: 3 })
    store.close()

    const metric_cols = columns(file, 'metrics')
    for (const col of HEAD_METRICS) expect(metric_cols).toContain(col)
    const report_cols = columns(file, 'report_loss_dist')
    expect(report_cols).not.toContain('kind')
    expect(report_cols).toContain('sample_indices')
  })

  it('keeps legacy columns and their values', () => {
    const file = legacyFile(sql)
    openStore(file).close()
    if (sql.includes('mode TEXT')) {
      expect(sqlQuery(file, "SELECT mode FROM runs WHERE run_id = 'fork1'")).toEqual([{ mode: 'sweep' }])
      const store = openStore(file)
      expect(store.training.listRuns()[0].mode).toBe('sweep')
      store.close()
    }
    if (sql.includes('theta')) {
      expect(sqlQuery(file, 'SELECT theta FROM metrics ORDER BY step')).toEqual([{ theta: 0.2 }, { theta: 0.1 }])
    }
    if (sql.includes('kind TEXT')) {
      expect(sqlQuery(file, 'SELECT kind, note FROM report_loss_dist_legacy')).toEqual([{ kind: 'train', note: 'kind-era' }])
    }
  })

  it('a second open changes nothing', () => {
    const file = legacyFile(sql)
    openStore(file).close()
    const schema = sqlQuery(file, 'SELECT name, sql FROM sqlite_schema ORDER BY name')
    const bytes = readFileSync(file)
    openStore(file).close()
    expect(sqlQuery(file, 'SELECT name, sql FROM sqlite_schema ORDER BY name')).toEqual(schema)
    expect(readFileSync(file).equals(bytes)).toBe(true)
  })
})

describe('files stowage writes', () => {
  it('have exactly the tables and columns of the original, so its checks change nothing', () => {
    const file = join(root, 'fresh.sqlite')
    openStore(file).close()
    expect(columns(file, 'metrics')).toEqual(HEAD_METRICS)
    expect(columns(file, 'runs')).toEqual(['run_id', 'parent_run_id', 'project', 'name', 'created_at'])
    expect(columns(file, 'report_loss_dist')).toEqual([
      'run_id', 'subset_on', 'losses', 'sample_indices', 'note', 'at_step', 'at_epoch', 'samples', 'created_at',
    ])
    const tables = sqlQuery<{ name: string }>(file, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").map(
      (t) => t.name,
    )
    // The original's tables, plus stowage's own (its migration ledger, the series summaries, the
    // MLflow sync state), which the original never reads.
    expect(tables).toEqual([
      'checkpoints', 'kv', 'logs', 'metric_series_blocks', 'metric_series_state', 'metrics', 'mlflow_sync', 'report_loss_dist',
      'run_edges', 'run_subsets', 'runs', 'session_final_models', 'sqlite_sequence', 'stowage_migrations',
      'summaries', 'test_metrics',
    ])
  })

  it('are readable by the original queries with the same results', () => {
    const file = join(root, 'interop.sqlite')
    const store = openStore(file)
    const t = store.training
    t.insertRun('base', 'p', 'base', [])
    t.insertMetric('base', { step: 1, loss: 0.5, val_loss: 0.6, epoch: 0 })
    t.insertLog({ run_id: 'base', session_id: 's', text: 'hello', ts: 5 })
    store.close()
    expect(sqlQuery(file, "SELECT step, loss, val_loss FROM metrics WHERE run_id = 'base' ORDER BY step ASC")).toEqual([
      { step: 1, loss: 0.5, val_loss: 0.6 },
    ])
    expect(sqlQuery(file, 'SELECT session_id, MAX(ts) AS last_ts FROM logs GROUP BY session_id')).toEqual([
      { session_id: 's', last_ts: 5 },
    ])
  })

  it('refuse a file from a newer stowage without touching it', () => {
    const file = join(root, 'future.sqlite')
    openStore(file).close()
    sqlExec(file, "INSERT INTO stowage_migrations VALUES ('training', 42, 'future', 'x', 0)")
    const bytes = readFileSync(file)
    const err = thrown(() => openStore(file))
    expect(err.code).toBe('ERR_SCHEMA_TOO_NEW')
    expect(err.message).toContain('42')
    expect(readFileSync(file).equals(bytes)).toBe(true)
  })
})
