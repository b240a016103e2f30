-- The training store's tables, exactly as OnTheFly's storage.ts (latest revision, V7) creates
-- them, so a file written by stowage opens in the original and the other way round.
-- Every statement is IF NOT EXISTS: on a file the original wrote, this only adds what an older
-- revision lacked (the shape of existing tables is adopted beforehand, see training/schema.rs).

-- One row per training run. parent_run_id is the legacy "primary parent" (first of the run's
-- parents); the full parent list lives in run_edges. created_at is ms since the epoch.
CREATE TABLE IF NOT EXISTS runs (
  run_id        TEXT PRIMARY KEY,
  parent_run_id TEXT,
  project       TEXT,
  name          TEXT,
  created_at    INTEGER
);

-- The sample subset (JSON array of dataset indices) a forked or merged run trains on.
CREATE TABLE IF NOT EXISTS run_subsets (
  run_id  TEXT PRIMARY KEY,
  indices TEXT
);

-- Checkpoint files written by the trainer; path is absolute (rewritten into the bundle folder
-- when a bundle is loaded).
CREATE TABLE IF NOT EXISTS checkpoints (
  ckpt_id    TEXT PRIMARY KEY,
  run_id     TEXT,
  step       INTEGER,
  path       TEXT,
  created_at INTEGER
);

-- One row per optimizer step: the series the dashboard charts. No primary key: a resumed run
-- can log the same step twice and both rows are kept.
CREATE TABLE IF NOT EXISTS metrics (
  run_id               TEXT,
  step                 INTEGER,
  epoch                INTEGER,
  loss                 REAL,
  val_loss             REAL,
  accuracy             REAL,
  lr                   REAL,
  grad_norm            REAL,
  weight_norm          REAL,
  activation_zero_frac REAL,
  throughput           REAL,
  mem_vram             REAL,
  gpu_util             REAL,
  ts                   INTEGER
);

-- Per-run final and validation loss; upserts keep the old value where the new one is NULL.
CREATE TABLE IF NOT EXISTS summaries (
  run_id     TEXT PRIMARY KEY,
  final_loss REAL,
  val_loss   REAL
);

-- Small settings; the only key the extension uses is 'saving' ('1' or '0').
CREATE TABLE IF NOT EXISTS kv (
  k TEXT PRIMARY KEY,
  v TEXT
);

-- Parent edges of the run DAG (forks have one parent, merges several).
CREATE TABLE IF NOT EXISTS run_edges (
  child_run_id  TEXT NOT NULL,
  parent_run_id TEXT NOT NULL,
  PRIMARY KEY (child_run_id, parent_run_id)
);

CREATE INDEX IF NOT EXISTS idx_metrics_run_step ON metrics(run_id, step);
CREATE INDEX IF NOT EXISTS idx_metrics_run ON metrics(run_id);
CREATE INDEX IF NOT EXISTS idx_edges_child ON run_edges(child_run_id);
CREATE INDEX IF NOT EXISTS idx_edges_parent ON run_edges(parent_run_id);

-- Every log line the trainer emits; sessions are derived from session_id here.
CREATE TABLE IF NOT EXISTS logs (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id     TEXT,
  session_id TEXT,
  level      TEXT,
  text       TEXT,
  phase      TEXT,
  step       INTEGER,
  epoch      INTEGER,
  ts         INTEGER
);
CREATE INDEX IF NOT EXISTS idx_logs_run ON logs(run_id);
CREATE INDEX IF NOT EXISTS idx_logs_phase ON logs(phase);

-- Per-batch test loss of a run.
CREATE TABLE IF NOT EXISTS test_metrics (
  run_id TEXT,
  step   INTEGER,
  loss   REAL,
  ts     INTEGER
);
CREATE INDEX IF NOT EXISTS idx_test_metrics_run_step ON test_metrics(run_id, step);

-- The model a session settled on after "test now": one row per session.
CREATE TABLE IF NOT EXISTS session_final_models (
  session_id    TEXT PRIMARY KEY,
  run_id        TEXT,
  ckpt_path     TEXT,
  step          INTEGER,
  avg_test_loss REAL,
  updated_at    INTEGER
);

-- Per-sample loss distribution of a run on its train or val subset. losses and sample_indices
-- are JSON arrays of equal length. The created_at default is in seconds (as in the original);
-- every write supplies milliseconds.
CREATE TABLE IF NOT EXISTS report_loss_dist (
  run_id         TEXT NOT NULL,
  subset_on      TEXT NOT NULL,
  losses         TEXT NOT NULL,
  sample_indices TEXT NOT NULL DEFAULT '[]',
  note           TEXT,
  at_step        INTEGER,
  at_epoch       INTEGER,
  samples        INTEGER,
  created_at     INTEGER NOT NULL DEFAULT (strftime('%s','now')),
  PRIMARY KEY (run_id, subset_on)
);
CREATE INDEX IF NOT EXISTS idx_report_loss_dist_run ON report_loss_dist(run_id);
