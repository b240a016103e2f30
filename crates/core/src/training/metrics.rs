//! `metrics` (one row per training step) and `test_metrics` (one row per test batch).

use rusqlite::params;

use super::Training;
use crate::engine::{now_ms, Result, Rows};

/// One `insertMetric` row (`MetricInsertRow`). `None` is stored as NULL, like the original's
/// `?? null`; NaN is stored as NULL by SQLite.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MetricInput {
    pub step: Option<f64>,
    pub epoch: Option<f64>,
    pub loss: Option<f64>,
    pub val_loss: Option<f64>,
    pub accuracy: Option<f64>,
    pub lr: Option<f64>,
    pub grad_norm: Option<f64>,
    pub weight_norm: Option<f64>,
    pub activation_zero_frac: Option<f64>,
    pub throughput: Option<f64>,
    pub mem_vram: Option<f64>,
    pub gpu_util: Option<f64>,
}

/// The columns of `getRunRows`, in table order: `step` and the metrics.
pub const METRIC_COLUMNS: [&str; 12] = [
    "step",
    "epoch",
    "loss",
    "val_loss",
    "accuracy",
    "lr",
    "grad_norm",
    "weight_norm",
    "activation_zero_frac",
    "throughput",
    "mem_vram",
    "gpu_util",
];

const INSERT_METRIC: &str = "INSERT INTO metrics (run_id, step, epoch, loss, val_loss, accuracy,
    lr, grad_norm, weight_norm, activation_zero_frac, throughput, mem_vram, gpu_util, ts)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

fn insert(
    stmt: &mut rusqlite::Statement<'_>,
    run_id: &str,
    m: &MetricInput,
    ts: i64,
) -> Result<()> {
    stmt.execute(params![
        run_id,
        m.step,
        m.epoch,
        m.loss,
        m.val_loss,
        m.accuracy,
        m.lr,
        m.grad_norm,
        m.weight_norm,
        m.activation_zero_frac,
        m.throughput,
        m.mem_vram,
        m.gpu_util,
        ts
    ])?;
    Ok(())
}

impl Training<'_> {
    /// `insertMetric`: one autocommitted row; `ts` is always now (the caller's is ignored).
    pub fn insert_metric(&self, run_id: &str, m: &MetricInput) -> Result<()> {
        let mut stmt = self.conn().prepare_cached(INSERT_METRIC)?;
        insert(&mut stmt, run_id, m, now_ms())
    }

    /// `insertMetric.batch`: all rows in one transaction sharing one `ts`; all or nothing.
    pub fn insert_metrics(&self, rows: &[(String, MetricInput)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ts = now_ms();
        self.db.write(|c| {
            let mut stmt = c.prepare_cached(INSERT_METRIC)?;
            for (run_id, m) in rows {
                insert(&mut stmt, run_id, m, ts)?;
            }
            Ok(())
        })
    }

    /// `getRunRows`: the run's metrics without `run_id` and `ts`, by step.
    pub fn run_rows(&self, run_id: &str) -> Result<Rows> {
        Rows::query(
            self.conn(),
            "SELECT step, epoch, loss, val_loss, accuracy, lr, grad_norm, weight_norm,
                        activation_zero_frac, throughput, mem_vram, gpu_util
                 FROM metrics WHERE run_id = ?1 ORDER BY step ASC",
            [run_id],
        )
    }

    /// `getRunColumns`: `step` and the given metrics of the run, by step (as `getRunRows`
    /// orders them), optionally only `from_step <= step <= to_step`.
    pub fn run_columns(
        &self,
        run_id: &str,
        metrics: &[&str],
        from_step: Option<f64>,
        to_step: Option<f64>,
    ) -> Result<Rows> {
        for m in metrics {
            if *m == "step" || !METRIC_COLUMNS.contains(m) {
                return Err(crate::engine::Error::InvalidArg(format!(
                    "unknown metric '{m}' (one of: {})",
                    METRIC_COLUMNS[1..].join(", ")
                )));
            }
        }
        let mut sql = format!(
            "SELECT step{} FROM metrics WHERE run_id = ?1",
            metrics.iter().map(|m| format!(", {m}")).collect::<String>()
        );
        let mut args: Vec<rusqlite::types::Value> = vec![run_id.to_string().into()];
        for (op, bound) in [(">=", from_step), ("<=", to_step)] {
            if let Some(b) = bound {
                args.push(b.into());
                sql.push_str(&format!(" AND step {op} ?{}", args.len()));
            }
        }
        sql.push_str(" ORDER BY step ASC");
        Rows::query(self.conn(), &sql, rusqlite::params_from_iter(args))
    }

    /// `insertMetricColumns`: one row per step, in one transaction sharing one `ts`.
    /// `columns` pairs an index into [`METRIC_COLUMNS`] (not 0, the step) with that metric's
    /// values, each as long as `steps`; NaN is stored as NULL. Returns the rows written.
    pub fn insert_metric_columns(
        &self,
        run_id: &str,
        steps: &[f64],
        columns: &[(usize, &[f64])],
    ) -> Result<usize> {
        let mut cols: [Option<&[f64]>; 12] = [None; 12];
        cols[0] = Some(steps);
        for (i, values) in columns {
            if *i == 0 || *i >= METRIC_COLUMNS.len() {
                return Err(crate::engine::Error::InvalidArg(format!(
                    "no metric column {i}"
                )));
            }
            cols[*i] = Some(values);
        }
        self.insert_metric_block(&[run_id], &vec![0; steps.len()], &cols)
    }

    /// Writes `run_of_row.len()` metric rows in one transaction sharing one `ts`: row `r`
    /// belongs to `runs[run_of_row[r]]` and takes its values from `columns` (indexed like
    /// [`METRIC_COLUMNS`], each as long as `run_of_row` or absent for NULL); NaN is stored as
    /// NULL. Returns the rows written.
    pub fn insert_metric_block(
        &self,
        runs: &[&str],
        run_of_row: &[u32],
        columns: &[Option<&[f64]>; 12],
    ) -> Result<usize> {
        let n = run_of_row.len();
        for (name, col) in METRIC_COLUMNS.iter().zip(columns) {
            if let Some(values) = col.filter(|v| v.len() != n) {
                return Err(crate::engine::Error::InvalidArg(format!(
                    "column {name} has {} values for {n} rows",
                    values.len()
                )));
            }
        }
        if let Some(bad) = run_of_row.iter().find(|&&r| r as usize >= runs.len()) {
            return Err(crate::engine::Error::InvalidArg(format!(
                "run index {bad} is out of range"
            )));
        }
        let ts = now_ms();
        self.db.write(|c| {
            let mut stmt = c.prepare_cached(INSERT_METRIC)?;
            let value = |k: usize, r: usize| columns[k].map(|v| v[r]);
            for (r, run) in run_of_row.iter().enumerate() {
                stmt.execute(params![
                    runs[*run as usize],
                    value(0, r),
                    value(1, r),
                    value(2, r),
                    value(3, r),
                    value(4, r),
                    value(5, r),
                    value(6, r),
                    value(7, r),
                    value(8, r),
                    value(9, r),
                    value(10, r),
                    value(11, r),
                    ts
                ])?;
            }
            Ok(n)
        })
    }

    /// `insertTestMetric`: a non-finite or missing loss is stored as NULL.
    pub fn insert_test_metric(
        &self,
        run_id: &str,
        step: Option<f64>,
        loss: Option<f64>,
    ) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO test_metrics (run_id, step, loss, ts) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                run_id,
                step,
                loss.filter(|l| l.is_finite()),
                now_ms()
            ])?;
        Ok(())
    }

    /// `getTestRows`: `{step, loss}` by step.
    pub fn test_rows(&self, run_id: &str) -> Result<Rows> {
        Rows::query(
            self.conn(),
            "SELECT step, loss FROM test_metrics WHERE run_id = ?1 ORDER BY step ASC",
            [run_id],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::testing::open;
    use rusqlite::types::Value;

    #[test]
    fn metrics_come_back_by_step_with_nulls_and_integer_affinity() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let m = |step: f64, loss: Option<f64>| MetricInput {
            step: Some(step),
            loss,
            epoch: Some(1.0),
            lr: Some(f64::NAN),
            ..Default::default()
        };
        t.insert_metric("r", &m(2.0, Some(0.5)))?;
        t.insert_metric("r", &m(1.0, None))?;
        t.insert_metric("other", &m(0.0, Some(9.0)))?;
        let rows = t.run_rows("r")?;
        assert_eq!(rows.columns.len(), 12);
        assert_eq!(rows.columns[0], "step");
        assert_eq!(
            rows.row(0)[..4],
            [
                Value::Integer(1),
                Value::Integer(1),
                Value::Null,
                Value::Null
            ]
        );
        assert_eq!(rows.get(1, "loss"), Some(Value::Real(0.5)));
        assert_eq!(rows.get(1, "lr"), Some(Value::Null));
        Ok(())
    }

    #[test]
    fn a_failing_batch_writes_nothing() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        db.conn().execute_batch(
            "CREATE TRIGGER no_bad BEFORE INSERT ON metrics WHEN NEW.run_id = 'bad'
             BEGIN SELECT RAISE(ABORT, 'bad run'); END;",
        )?;
        let ok = MetricInput {
            step: Some(1.0),
            ..Default::default()
        };
        let batch = vec![("a".to_string(), ok), ("bad".to_string(), ok)];
        assert_eq!(
            t.insert_metrics(&batch).unwrap_err().code(),
            "SQLITE_CONSTRAINT_TRIGGER"
        );
        assert!(t.run_rows("a")?.is_empty());
        t.insert_metrics(&batch[..1])?;
        let ts: Vec<i64> = db
            .conn()
            .prepare("SELECT ts FROM metrics")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        assert_eq!(ts.len(), 1);
        Ok(())
    }

    #[test]
    fn columns_round_trip_with_nan_as_null_and_agree_with_rows() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let steps = [3.0, 1.0, 2.0, 2.0];
        let loss = [0.3, f64::NAN, 0.2, 0.25];
        let lr = [1e-3, 1e-3, 5e-4, 5e-4];
        assert_eq!(
            t.insert_metric_columns("r", &steps, &[(2, &loss), (5, &lr)])?,
            4
        );
        let rows = t.run_rows("r")?;
        let cols = t.run_columns("r", &["loss", "lr"], None, None)?;
        assert_eq!(cols.columns, ["step", "loss", "lr"]);
        for name in ["step", "loss", "lr"] {
            let (a, b) = (
                cols.column(name).unwrap().to_f64s(),
                rows.column(name).unwrap().to_f64s(),
            );
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name}");
        }
        assert_eq!(rows.get(0, "loss"), Some(Value::Null));
        let ranged = t.run_columns("r", &["loss"], Some(2.0), Some(2.5))?;
        assert_eq!(ranged.column("step").unwrap().to_f64s(), Ok(vec![2.0, 2.0]));
        assert_eq!(
            t.run_columns("r", &["ts"], None, None).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        assert_eq!(
            t.insert_metric_columns("r", &steps, &[(2, &loss[..3])])
                .unwrap_err()
                .code(),
            "ERR_INVALID_ARG"
        );
        assert_eq!(t.run_rows("r")?.len(), 4);
        Ok(())
    }

    #[test]
    fn test_metrics_store_null_for_missing_or_non_finite_loss() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        t.insert_test_metric("r", Some(3.0), Some(0.25))?;
        t.insert_test_metric("r", Some(1.0), None)?;
        t.insert_test_metric("r", Some(2.0), Some(f64::INFINITY))?;
        let rows = t.test_rows("r")?;
        assert_eq!(
            rows.iter().flatten().collect::<Vec<_>>(),
            [
                Value::Integer(1),
                Value::Null,
                Value::Integer(2),
                Value::Null,
                Value::Integer(3),
                Value::Real(0.25)
            ]
        );
        Ok(())
    }
}
