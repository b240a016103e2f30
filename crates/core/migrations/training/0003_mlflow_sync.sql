-- What syncToMlflow (the package's mlflow.js) has pushed to MLflow tracking servers, so that a
-- second sync sends only what was written since, and a sync killed half-way resumes without
-- sending a metric point twice. One row per training run per server and experiment. It lives in
-- the store's file, so it travels with the rows it describes (bundles, backups).

CREATE TABLE IF NOT EXISTS mlflow_sync (
  -- the server, without credentials or a trailing slash
  tracking_uri  TEXT    NOT NULL,
  -- the experiment's name as the sync was given it
  experiment    TEXT    NOT NULL,
  run_id        TEXT    NOT NULL,
  -- random, written before the MLflow run is created and set as its tag stowage.sync_token: a
  -- sync killed between runs/create and recording mlflow_run_id finds that run by the tag
  -- instead of creating a second one
  create_token  TEXT    NOT NULL,
  -- the MLflow run; NULL until runs/create was acknowledged
  mlflow_run_id TEXT,
  -- metrics pushed: every row of the run up to this rowid was acknowledged by the server (a
  -- batch is recorded only after its reply)
  metrics_rowid INTEGER NOT NULL DEFAULT 0,
  -- how many rows of the run that is, and the step and ts of the row at metrics_rowid: a VACUUM
  -- may renumber rowids, and the sync then finds its place again by counting rows
  metrics_rows  INTEGER NOT NULL DEFAULT 0,
  metrics_step  REAL,
  metrics_ts    INTEGER,
  -- the same for test_metrics (pushed as test_loss)
  tests_rowid   INTEGER NOT NULL DEFAULT 0,
  tests_rows    INTEGER NOT NULL DEFAULT 0,
  tests_step    REAL,
  tests_ts      INTEGER,
  -- logs.id of the last line in the logs.txt artifact uploaded
  logs_id       INTEGER NOT NULL DEFAULT 0,
  -- JSON object: what was pushed whole (lineage tags, the summary point with the timestamp it
  -- was first sent with, fingerprints of report_loss_dist.json and of uploaded files, status)
  pushed        TEXT    NOT NULL DEFAULT '{}',
  -- when the sync found the MLflow run deleted on the server (ms); such a run is reported and
  -- left alone rather than recreated
  deleted_at    INTEGER,
  -- ms of the last change to this row
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (tracking_uri, experiment, run_id)
) WITHOUT ROWID;
