-- Multi-resolution summaries of metric series, for getRunSeries. A block at level k of a run's
-- metric covers the steps [block * 2^k, (block + 1) * 2^k) and holds the count, sum, min and max
-- of the metric's non-NULL values there, the first and last step present, and the value at the
-- last step (ties broken by rowid, as getRunRows orders them). Levels run from 6 (64 steps) to
-- 48. Summaries are folded lazily, at query time, from the metrics rows added since the last
-- fold (rowid above metric_series_state.watermark), so the insert path does no extra work.

CREATE TABLE IF NOT EXISTS metric_series_state (
  run_id    TEXT    NOT NULL,
  metric    TEXT    NOT NULL,
  -- highest metrics rowid of the run folded so far
  watermark INTEGER NOT NULL,
  -- step of that row: if the row is gone or changed (a VACUUM renumbered rowids, rows were
  -- deleted), the summary is rebuilt rather than trusted
  mark_step REAL,
  PRIMARY KEY (run_id, metric)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS metric_series_blocks (
  run_id     TEXT    NOT NULL,
  metric     TEXT    NOT NULL,
  level      INTEGER NOT NULL,
  block      INTEGER NOT NULL,
  n          INTEGER NOT NULL,
  sum        REAL    NOT NULL,
  min        REAL    NOT NULL,
  max        REAL    NOT NULL,
  first_step REAL    NOT NULL,
  last_step  REAL    NOT NULL,
  last       REAL    NOT NULL,
  last_rowid INTEGER NOT NULL,
  PRIMARY KEY (run_id, metric, level, block)
) WITHOUT ROWID;
