//! What the MLflow sync (`syncToMlflow` in the package's `mlflow.js`) needs from the store: its
//! own state table (`mlflow_sync`, migration 0003), and reads of the rows written after a
//! watermark, page by page, so that a sync sends only what is new and its memory does not grow
//! with the run.
//!
//! A watermark is a [`Cursor`]: the highest rowid of a run's rows the server acknowledged, with
//! how many rows of the run that covers and the step and ts of the row at it. Rowids only grow
//! as rows are appended, but a `VACUUM` may renumber them (the tables have no `INTEGER PRIMARY
//! KEY`); [`Training::mlflow_resume`] checks the row at the watermark and, when it is not the
//! one recorded, finds the place again by counting the run's rows.

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension};

use super::{Training, METRIC_COLUMNS};
use crate::engine::{now_ms, Error, Result, Rows};

/// The metric columns pushed from `metrics`: every numeric column but `step`.
pub const SYNC_METRICS: &[&str] = METRIC_COLUMNS.split_first().unwrap().1;

/// A table whose rows are pushed incrementally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTable {
    /// `metrics`: the per-step metrics.
    Metrics,
    /// `test_metrics`: test losses.
    Tests,
}

impl SyncTable {
    /// `'metrics'` or `'tests'`, as the binding names them.
    pub fn from_name(name: &str) -> Result<SyncTable> {
        match name {
            "metrics" => Ok(SyncTable::Metrics),
            "tests" => Ok(SyncTable::Tests),
            _ => Err(Error::InvalidArg(format!(
                "unknown sync table '{name}' (metrics or tests)"
            ))),
        }
    }

    fn table(self) -> &'static str {
        match self {
            SyncTable::Metrics => "metrics",
            SyncTable::Tests => "test_metrics",
        }
    }

    /// The columns read after `rowid`, `step` and `ts`.
    fn values(self) -> String {
        match self {
            SyncTable::Metrics => SYNC_METRICS.join(", "),
            SyncTable::Tests => "loss".into(),
        }
    }
}

/// How far a run's rows of one table were pushed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cursor {
    /// Every row of the run with a rowid up to this one was acknowledged (0: none).
    pub rowid: i64,
    /// The number of rows of the run up to `rowid`.
    pub rows: i64,
    /// `step` of the row at `rowid`.
    pub step: Option<f64>,
    /// `ts` of the row at `rowid`.
    pub ts: Option<f64>,
}

/// One row of `mlflow_sync`: a training run's MLflow run on one server and experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncRun {
    /// The training run.
    pub run_id: String,
    /// The random tag value the MLflow run is created with (`stowage.sync_token`).
    pub create_token: String,
    /// The MLflow run, once `runs/create` was acknowledged.
    pub mlflow_run_id: Option<String>,
    /// How far `metrics` was pushed.
    pub metrics: Cursor,
    /// How far `test_metrics` was pushed.
    pub tests: Cursor,
    /// `logs.id` of the last line in the uploaded `logs.txt`.
    pub logs_id: i64,
    /// JSON: what was pushed whole (tags, summary point, report and file fingerprints, status).
    pub pushed: String,
    /// When the MLflow run was found deleted on the server (ms).
    pub deleted_at: Option<i64>,
}

fn cursor(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Cursor> {
    Ok(Cursor {
        rowid: r.get(at)?,
        rows: r.get(at + 1)?,
        step: r.get(at + 2)?,
        ts: r.get(at + 3)?,
    })
}

/// The value of a REAL/INTEGER column as a number (NULL and text as `None`).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Real(f) => Some(*f),
        _ => None,
    }
}

impl Training<'_> {
    /// The sync state of every training run on `tracking_uri` and `experiment`, by run id.
    pub fn mlflow_sync_runs(&self, tracking_uri: &str, experiment: &str) -> Result<Vec<SyncRun>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT run_id, create_token, mlflow_run_id,
                    metrics_rowid, metrics_rows, metrics_step, metrics_ts,
                    tests_rowid, tests_rows, tests_step, tests_ts,
                    logs_id, pushed, deleted_at
             FROM mlflow_sync WHERE tracking_uri = ?1 AND experiment = ?2 ORDER BY run_id",
        )?;
        let rows = stmt.query_map(params![tracking_uri, experiment], |r| {
            Ok(SyncRun {
                run_id: r.get(0)?,
                create_token: r.get(1)?,
                mlflow_run_id: r.get(2)?,
                metrics: cursor(r, 3)?,
                tests: cursor(r, 7)?,
                logs_id: r.get(11)?,
                pushed: r.get(12)?,
                deleted_at: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes the sync state of one training run (one autocommitted upsert).
    pub fn mlflow_sync_save(
        &self,
        tracking_uri: &str,
        experiment: &str,
        s: &SyncRun,
    ) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO mlflow_sync (tracking_uri, experiment, run_id,
                    create_token, mlflow_run_id,
                    metrics_rowid, metrics_rows, metrics_step, metrics_ts,
                    tests_rowid, tests_rows, tests_step, tests_ts,
                    logs_id, pushed, deleted_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?
            .execute(params![
                tracking_uri,
                experiment,
                s.run_id,
                s.create_token,
                s.mlflow_run_id,
                s.metrics.rowid,
                s.metrics.rows,
                s.metrics.step,
                s.metrics.ts,
                s.tests.rowid,
                s.tests.rows,
                s.tests.step,
                s.tests.ts,
                s.logs_id,
                s.pushed,
                s.deleted_at,
                now_ms()
            ])?;
        Ok(())
    }

    /// Forgets a training run's MLflow run on `tracking_uri` and `experiment` (a later sync
    /// creates a new one). Returns whether there was one.
    pub fn mlflow_sync_forget(
        &self,
        tracking_uri: &str,
        experiment: &str,
        run_id: &str,
    ) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached(
                "DELETE FROM mlflow_sync WHERE tracking_uri = ?1 AND experiment = ?2 AND run_id = ?3",
            )?
            .execute(params![tracking_uri, experiment, run_id])?;
        Ok(n > 0)
    }

    /// Where to resume pushing `table` for `run_id`: the rowid of `c` when the row there is still
    /// the one recorded, else the rowid of the run's `c.rows`-th row when that one is (rowids were
    /// renumbered). `None` when neither matches: the run's rows were replaced or deleted since.
    pub fn mlflow_resume(&self, table: SyncTable, run_id: &str, c: &Cursor) -> Result<Option<i64>> {
        if c.rows == 0 {
            return Ok(Some(0));
        }
        let t = table.table();
        let matches = |row: Option<(i64, Value, Value)>| {
            row.filter(|(_, step, ts)| number(step) == c.step && number(ts) == c.ts)
                .map(|(rowid, _, _)| rowid)
        };
        let at: Option<(i64, Value, Value)> = self
            .conn()
            .prepare_cached(&format!(
                "SELECT rowid, step, ts FROM {t} WHERE rowid = ?1 AND run_id = ?2"
            ))?
            .query_row(params![c.rowid, run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        if let Some(rowid) = matches(at) {
            return Ok(Some(rowid));
        }
        let nth: Option<(i64, Value, Value)> = self
            .conn()
            .prepare_cached(&format!(
                "SELECT rowid, step, ts FROM {t} WHERE run_id = ?1 ORDER BY rowid LIMIT 1 OFFSET ?2"
            ))?
            .query_row(params![run_id, c.rows - 1], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(matches(nth))
    }

    /// Up to `limit` rows of the run in `table` with a rowid above `after`, in rowid (insertion)
    /// order: `rowid, step, ts` and the values (the eleven metrics, or the test `loss`).
    pub fn mlflow_rows_after(
        &self,
        table: SyncTable,
        run_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Rows> {
        Rows::query(
            self.conn(),
            &format!(
                "SELECT rowid, step, ts, {} FROM {} WHERE run_id = ?1 AND rowid > ?2
                 ORDER BY rowid LIMIT ?3",
                table.values(),
                table.table()
            ),
            params![run_id, after, limit as i64],
        )
    }

    /// The number of rows of the run in `table` with a rowid above `after`.
    pub fn mlflow_count_after(&self, table: SyncTable, run_id: &str, after: i64) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT count(*) FROM {} WHERE run_id = ?1 AND rowid > ?2",
                table.table()
            ))?
            .query_row(params![run_id, after], |r| r.get(0))?)
    }

    /// Up to `limit` log lines of the run with an id above `after`, by id: `id, level, phase,
    /// step, epoch, text, ts`.
    pub fn mlflow_logs_after(&self, run_id: &str, after: i64, limit: usize) -> Result<Rows> {
        Rows::query(
            self.conn(),
            "SELECT id, level, phase, step, epoch, text, ts FROM logs
             WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            params![run_id, after, limit as i64],
        )
    }

    /// The files of the run that `artifacts: true` uploads: its checkpoints and the final models
    /// of sessions that settled on it, as `kind` (`'checkpoint'` or `'final_model'`), `id`
    /// (`ckpt_id` or `session_id`), `step`, `path`, by kind and id.
    pub fn mlflow_files(&self, run_id: &str) -> Result<Rows> {
        Rows::query(
            self.conn(),
            "SELECT 'checkpoint' AS kind, ckpt_id AS id, step, path FROM checkpoints
               WHERE run_id = ?1 AND path IS NOT NULL AND path != ''
             UNION ALL
             SELECT 'final_model', session_id, step, ckpt_path FROM session_final_models
               WHERE run_id = ?1 AND ckpt_path IS NOT NULL AND ckpt_path != ''
             ORDER BY 1, 2",
            [run_id],
        )
    }

    /// The highest `logs.id` of the run (0 when it has no lines).
    pub fn mlflow_last_log_id(&self, run_id: &str) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT coalesce(max(id), 0) FROM logs WHERE run_id = ?1")?
            .query_row([run_id], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::testing::open;
    use crate::training::MetricInput;

    fn metric(step: f64, loss: f64) -> MetricInput {
        MetricInput {
            step: Some(step),
            loss: Some(loss),
            ..Default::default()
        }
    }

    /// The cursor after the last of `rows` (as mlflow.js records it after an acknowledgement).
    fn after(rows: &Rows, before: i64) -> Cursor {
        let last = rows.len() - 1;
        Cursor {
            rowid: number(&rows.get(last, "rowid").unwrap()).unwrap() as i64,
            rows: before + rows.len() as i64,
            step: number(&rows.get(last, "step").unwrap()),
            ts: number(&rows.get(last, "ts").unwrap()),
        }
    }

    #[test]
    fn rows_after_a_watermark_come_in_insertion_order_page_by_page() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        for (i, step) in [3.0, 1.0, 2.0].into_iter().enumerate() {
            t.insert_metric("r", &metric(step, i as f64))?;
            t.insert_metric("other", &metric(step, 9.0))?;
        }
        let first = t.mlflow_rows_after(SyncTable::Metrics, "r", 0, 2)?;
        assert_eq!(first.len(), 2);
        assert_eq!(first.columns.len(), 3 + SYNC_METRICS.len());
        assert_eq!(first.column("step").unwrap().to_f64s(), Ok(vec![3.0, 1.0]));
        let c = after(&first, 0);
        let rest = t.mlflow_rows_after(SyncTable::Metrics, "r", c.rowid, 2)?;
        assert_eq!(rest.column("loss").unwrap().to_f64s(), Ok(vec![2.0]));
        assert_eq!(t.mlflow_count_after(SyncTable::Metrics, "r", c.rowid)?, 1);
        assert_eq!(t.mlflow_resume(SyncTable::Metrics, "r", &c)?, Some(c.rowid));
        Ok(())
    }

    #[test]
    fn a_watermark_survives_renumbered_rowids_and_is_lost_when_the_rows_are_replaced() -> Result<()>
    {
        let (_d, db) = open();
        let t = db.training()?;
        for step in 0..4 {
            t.insert_metric("gone", &metric(step as f64, 0.0))?;
            t.insert_metric("r", &metric(step as f64, 1.0))?;
        }
        let page = t.mlflow_rows_after(SyncTable::Metrics, "r", 0, 3)?;
        let c = after(&page, 0);
        // What a VACUUM may do: the same rows, in the same order, under new rowids.
        db.conn().execute_batch(
            "DELETE FROM metrics WHERE run_id = 'gone';
             CREATE TEMP TABLE keep AS SELECT * FROM metrics ORDER BY rowid;
             DELETE FROM metrics; INSERT INTO metrics SELECT * FROM keep;",
        )?;
        let resumed = t.mlflow_resume(SyncTable::Metrics, "r", &c)?.unwrap();
        assert_ne!(resumed, c.rowid);
        let rest = t.mlflow_rows_after(SyncTable::Metrics, "r", resumed, 10)?;
        assert_eq!(rest.column("step").unwrap().to_f64s(), Ok(vec![3.0]));
        db.conn().execute("UPDATE metrics SET ts = ts + 1", [])?;
        assert_eq!(t.mlflow_resume(SyncTable::Metrics, "r", &c)?, None);
        Ok(())
    }

    #[test]
    fn sync_state_round_trips_per_server_and_experiment() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let s = SyncRun {
            run_id: "r".into(),
            create_token: "tok".into(),
            mlflow_run_id: Some("abc".into()),
            metrics: Cursor {
                rowid: 7,
                rows: 3,
                step: Some(2.5),
                ts: Some(1e12),
            },
            logs_id: 4,
            pushed: "{}".into(),
            ..Default::default()
        };
        t.mlflow_sync_save("http://a", "e", &s)?;
        assert_eq!(
            t.mlflow_sync_runs("http://a", "e")?,
            std::slice::from_ref(&s)
        );
        assert!(t.mlflow_sync_runs("http://a", "other")?.is_empty());
        assert!(t.mlflow_sync_forget("http://a", "e", "r")?);
        assert!(t.mlflow_sync_runs("http://a", "e")?.is_empty());
        t.insert_test_metric("r", Some(1.0), Some(0.5))?;
        let tests = t.mlflow_rows_after(SyncTable::Tests, "r", 0, 10)?;
        assert_eq!(tests.columns, ["rowid", "step", "ts", "loss"]);
        t.insert_log(&crate::training::LogInput {
            run_id: "r".into(),
            text: Some("hello".into()),
            ..Default::default()
        })?;
        assert_eq!(t.mlflow_logs_after("r", 0, 10)?.len(), 1);
        assert_eq!(t.mlflow_last_log_id("r")?, 1);
        t.insert_checkpoint("r:1", Some("r"), Some(1.0), Some("/c.pt"))?;
        t.insert_checkpoint("r:2", Some("r"), Some(2.0), Some(""))?;
        t.upsert_final_model(&crate::training::FinalModelInput {
            session_id: "s".into(),
            run_id: Some("r".into()),
            ckpt_path: Some("/f.pt".into()),
            ..Default::default()
        })?;
        let files = t.mlflow_files("r")?;
        assert_eq!(files.columns, ["kind", "id", "step", "path"]);
        assert_eq!(files.len(), 2);
        assert_eq!(files.get(1, "path"), Some(Value::Text("/f.pt".into())));
        assert_eq!(
            SyncTable::from_name("x").unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        Ok(())
    }
}
