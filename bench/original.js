'use strict'
// The SQL OnTheFly's storage.ts runs (reference/onthefly-storage.md §1–§4), on a small adapter
// over better-sqlite3 or node:sqlite: the baseline the benchmarks compare stowage with.

/** Wraps a better-sqlite3 Database or a node:sqlite DatabaseSync in one interface. */
function adapter(db) {
  return {
    exec: (sql) => db.exec(sql),
    prepare: (sql) => db.prepare(sql),
    transaction(fn) {
      return (...args) => {
        db.exec('BEGIN')
        try {
          const r = fn(...args)
          db.exec('COMMIT')
          return r
        } catch (err) {
          db.exec('ROLLBACK')
          throw err
        }
      }
    },
    close: () => db.close(),
  }
}

const METRIC_COLS = ['run_id', 'step', 'epoch', 'loss', 'val_loss', 'accuracy', 'lr', 'grad_norm', 'weight_norm',
  'activation_zero_frac', 'throughput', 'mem_vram', 'gpu_util', 'ts']

/** applyPragmas + ensureSchema, as every open of the original runs them. */
function open(db) {
  const d = adapter(db)
  d.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;
          PRAGMA cache_size = -8000; PRAGMA busy_timeout = 3000; PRAGMA wal_autocheckpoint = 512;`)
  d.exec('PRAGMA foreign_keys = ON')
  d.exec(`
    CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, project TEXT, name TEXT, created_at INTEGER);
    CREATE TABLE IF NOT EXISTS run_subsets (run_id TEXT PRIMARY KEY, indices TEXT);
    CREATE TABLE IF NOT EXISTS checkpoints (ckpt_id TEXT PRIMARY KEY, run_id TEXT, step INTEGER, path TEXT, created_at INTEGER);
    CREATE TABLE IF NOT EXISTS metrics (run_id TEXT, step INTEGER, epoch INTEGER, loss REAL, val_loss REAL, accuracy REAL,
      lr REAL, grad_norm REAL, weight_norm REAL, activation_zero_frac REAL, throughput REAL, mem_vram REAL, gpu_util REAL, ts INTEGER);
    CREATE TABLE IF NOT EXISTS summaries (run_id TEXT PRIMARY KEY, final_loss REAL, val_loss REAL);
    CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT);
    CREATE TABLE IF NOT EXISTS run_edges (child_run_id TEXT NOT NULL, parent_run_id TEXT NOT NULL, PRIMARY KEY (child_run_id, parent_run_id));
    CREATE INDEX IF NOT EXISTS idx_metrics_run_step ON metrics(run_id, step);
    CREATE INDEX IF NOT EXISTS idx_metrics_run ON metrics(run_id);
    CREATE INDEX IF NOT EXISTS idx_edges_child ON run_edges(child_run_id);
    CREATE INDEX IF NOT EXISTS idx_edges_parent ON run_edges(parent_run_id);
    CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, session_id TEXT, level TEXT, text TEXT,
      phase TEXT, step INTEGER, epoch INTEGER, ts INTEGER);
    CREATE INDEX IF NOT EXISTS idx_logs_run ON logs(run_id);
    CREATE INDEX IF NOT EXISTS idx_logs_phase ON logs(phase);
    CREATE TABLE IF NOT EXISTS test_metrics (run_id TEXT, step INTEGER, loss REAL, ts INTEGER);
    CREATE INDEX IF NOT EXISTS idx_test_metrics_run_step ON test_metrics(run_id, step);
    CREATE TABLE IF NOT EXISTS session_final_models (session_id TEXT PRIMARY KEY, run_id TEXT, ckpt_path TEXT, step INTEGER,
      avg_test_loss REAL, updated_at INTEGER);
  `)
  // The run_edges backfill, on every open.
  d.prepare('INSERT OR IGNORE INTO run_edges (child_run_id, parent_run_id) SELECT run_id, parent_run_id FROM runs WHERE parent_run_id IS NOT NULL').run()
  // The metrics and report checks, by column inspection (no rebuild is needed on a current file).
  const cols = d.prepare("SELECT name FROM pragma_table_info('metrics')").all().map((c) => c.name)
  if (cols.length !== METRIC_COLS.length || !METRIC_COLS.every((c) => cols.includes(c))) throw new Error('metrics rebuild needed')
  const report = d.prepare("SELECT name FROM pragma_table_info('report_loss_dist')").all().map((c) => c.name)
  if (!report.length) {
    d.exec(`CREATE TABLE report_loss_dist (run_id TEXT NOT NULL, subset_on TEXT NOT NULL, losses TEXT NOT NULL,
      sample_indices TEXT NOT NULL DEFAULT '[]', note TEXT, at_step INTEGER, at_epoch INTEGER, samples INTEGER,
      created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')), PRIMARY KEY (run_id, subset_on));
      CREATE INDEX IF NOT EXISTS idx_report_loss_dist_run ON report_loss_dist(run_id);`)
  }
  return storage(d)
}

/** The original's functions used by the workloads. */
function storage(d) {
  const insStmt = d.prepare(`INSERT INTO metrics (${METRIC_COLS.join(', ')}) VALUES (${METRIC_COLS.map(() => '?').join(', ')})`)
  const metricArgs = (run_id, r, ts) => [run_id, r.step, r.epoch ?? null, r.loss ?? null, r.val_loss ?? null, r.accuracy ?? null,
    r.lr ?? null, r.grad_norm ?? null, r.weight_norm ?? null, r.activation_zero_frac ?? null, r.throughput ?? null,
    r.mem_vram ?? null, r.gpu_util ?? null, ts]
  const batch = d.transaction((rows) => {
    const ts = Date.now()
    for (const r of rows) insStmt.run(...metricArgs(r.run_id, r, ts))
  })
  const insertRun = d.transaction((run_id, project, name, parents) => {
    d.prepare('INSERT OR IGNORE INTO runs (run_id, parent_run_id, project, name, created_at) VALUES (?, ?, ?, ?, ?)').run(run_id, parents[0] ?? null, project, name, Date.now())
    d.prepare('DELETE FROM run_edges WHERE child_run_id = ?').run(run_id)
    const e = d.prepare('INSERT OR IGNORE INTO run_edges (child_run_id, parent_run_id) VALUES (?, ?)')
    for (const p of parents) e.run(run_id, p)
  })
  return {
    close: () => d.close(),
    insertRun,
    insertMetric: (run_id, r) => insStmt.run(...metricArgs(run_id, r, Date.now())),
    insertMetricBatch: (rows) => batch(rows),
    getRunRows: (run_id) =>
      d.prepare(`SELECT step, epoch, loss, val_loss, accuracy, lr, grad_norm, weight_norm, activation_zero_frac,
        throughput, mem_vram, gpu_util FROM metrics WHERE run_id = ? ORDER BY step ASC`).all(run_id),
    listRuns: () => {
      const runs = d.prepare('SELECT * FROM runs ORDER BY created_at DESC').all()
      const by = {}
      for (const e of d.prepare('SELECT child_run_id, parent_run_id FROM run_edges').all()) (by[e.child_run_id] ||= []).push(e.parent_run_id)
      return runs.map((r) => ({ ...r, parents: by[r.run_id] || [] }))
    },
    insertLog: (row) =>
      d.prepare('INSERT INTO logs (run_id, session_id, level, text, phase, step, epoch, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
        row.run_id, row.session_id ?? null, row.level ?? 'info', row.text, row.phase ?? 'info',
        Number.isFinite(row.step) ? row.step : null, Number.isFinite(row.epoch) ? row.epoch : null, row.ts ?? Date.now()),
    getLogs: (run_id, phase) =>
      phase
        ? d.prepare('SELECT id, run_id, session_id, level, text, phase, step, epoch, ts FROM logs WHERE run_id = ? AND phase = ? ORDER BY ts ASC, id ASC').all(run_id, phase)
        : d.prepare('SELECT id, run_id, session_id, level, text, phase, step, epoch, ts FROM logs WHERE run_id = ? ORDER BY ts ASC, id ASC').all(run_id),
    upsertFinalModel: (r) =>
      d.prepare(`INSERT INTO session_final_models (session_id, run_id, ckpt_path, step, avg_test_loss, updated_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(session_id) DO UPDATE SET run_id = excluded.run_id, ckpt_path = excluded.ckpt_path, step = excluded.step,
        avg_test_loss = excluded.avg_test_loss, updated_at = excluded.updated_at`).run(r.session_id, r.run_id, r.ckpt_path, r.step, r.avg_test_loss ?? null, Date.now()),
    getFinalModel: (session_id) =>
      d.prepare('SELECT session_id, run_id, ckpt_path, step, avg_test_loss, updated_at FROM session_final_models WHERE session_id = ?').get(session_id) ?? null,
    /** The values of a run's metric columns, read row by row (what a chart reads without stowage). */
    readColumns: (run_id, metrics) => {
      const rows = d.prepare(`SELECT step, ${metrics.join(', ')} FROM metrics WHERE run_id = ? ORDER BY step ASC`).all(run_id)
      const out = { step: new Float64Array(rows.length) }
      for (const m of metrics) out[m] = new Float64Array(rows.length)
      rows.forEach((r, i) => {
        out.step[i] = r.step
        for (const m of metrics) out[m][i] = r[m] ?? NaN
      })
      return out
    },
  }
}

module.exports = { open, METRIC_COLS }
