//! `metrics` (one row per training step) and `test_metrics` (one row per test batch).

use rusqlite::{params, Connection};

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

const INSERT_METRIC: &str = "INSERT INTO metrics (run_id, step, epoch, loss, val_loss, accuracy,
    lr, grad_norm, weight_norm, activation_zero_frac, throughput, mem_vram, gpu_util, ts)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

fn insert(c: &Connection, run_id: &str, m: &MetricInput, ts: i64) -> Result<()> {
    c.prepare_cached(INSERT_METRIC)?.execute(params![
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
        insert(self.conn(), run_id, m, now_ms())
    }

    /// `insertMetric.batch`: all rows in one transaction sharing one `ts`; all or nothing.
    pub fn insert_metrics(&self, rows: &[(String, MetricInput)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ts = now_ms();
        self.db.write(|c| {
            for (run_id, m) in rows {
                insert(c, run_id, m, ts)?;
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
        assert_eq!(rows.get(1, "loss"), Some(&Value::Real(0.5)));
        assert_eq!(rows.get(1, "lr"), Some(&Value::Null));
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
    fn test_metrics_store_null_for_missing_or_non_finite_loss() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        t.insert_test_metric("r", Some(3.0), Some(0.25))?;
        t.insert_test_metric("r", Some(1.0), None)?;
        t.insert_test_metric("r", Some(2.0), Some(f64::INFINITY))?;
        let rows = t.test_rows("r")?;
        assert_eq!(
            rows.values,
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
