//! `logs`: every log line, and the sessions derived from them.

use rusqlite::params;

use super::{js_string, Training};
use crate::engine::{now_ms, Result, Rows};

/// One `insertLog` row (`LogInsert`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogInput {
    pub run_id: String,
    pub session_id: Option<String>,
    /// Defaults to `'info'`.
    pub level: Option<String>,
    pub text: Option<String>,
    /// Defaults to `'info'`.
    pub phase: Option<String>,
    /// Kept only when finite.
    pub step: Option<f64>,
    /// Kept only when finite.
    pub epoch: Option<f64>,
    /// Milliseconds; defaults to now.
    pub ts: Option<f64>,
}

const LOG_COLUMNS: &str = "id, run_id, session_id, level, text, phase, step, epoch, ts";

impl Training<'_> {
    /// `insertLog`.
    pub fn insert_log(&self, row: &LogInput) -> Result<()> {
        let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
        let ts = row.ts.unwrap_or(now_ms() as f64);
        self.conn()
            .prepare_cached(
                "INSERT INTO logs (run_id, session_id, level, text, phase, step, epoch, ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                row.run_id,
                row.session_id,
                row.level.as_deref().unwrap_or("info"),
                row.text,
                row.phase.as_deref().unwrap_or("info"),
                finite(row.step),
                finite(row.epoch),
                ts
            ])?;
        Ok(())
    }

    /// `getLogs`: the run's lines by time (then insertion), only `phase` when it is non-empty.
    pub fn logs(&self, run_id: &str, phase: Option<&str>) -> Result<Rows> {
        self.logs_where("run_id", run_id, phase)
    }

    /// `getLogsBySession`: like [`Training::logs`], keyed on `session_id`.
    pub fn logs_by_session(&self, session_id: &str, phase: Option<&str>) -> Result<Rows> {
        self.logs_where("session_id", session_id, phase)
    }

    fn logs_where(&self, key: &str, value: &str, phase: Option<&str>) -> Result<Rows> {
        let c = self.conn();
        match phase.filter(|p| !p.is_empty()) {
            Some(phase) => Rows::query(
                c,
                &format!(
                    "SELECT {LOG_COLUMNS} FROM logs WHERE {key} = ?1 AND phase = ?2
                     ORDER BY ts ASC, id ASC"
                ),
                [value, phase],
            ),
            None => Rows::query(
                c,
                &format!("SELECT {LOG_COLUMNS} FROM logs WHERE {key} = ?1 ORDER BY ts ASC, id ASC"),
                [value],
            ),
        }
    }

    /// `listSessions`: sessions seen in the logs, most recently active first.
    pub fn list_sessions(&self) -> Result<Rows> {
        Rows::query(
            self.conn(),
            "SELECT session_id, MAX(ts) AS last_ts, COUNT(DISTINCT run_id) AS run_count
                 FROM logs WHERE session_id IS NOT NULL
                 GROUP BY session_id ORDER BY last_ts DESC",
            [],
        )
    }

    /// `runsForSession`: the distinct runs that logged under the session.
    pub fn runs_for_session(&self, session_id: &str) -> Result<Vec<String>> {
        let rows = Rows::query(
            self.conn(),
            "SELECT DISTINCT run_id FROM logs WHERE session_id = ?1 AND run_id IS NOT NULL",
            [session_id],
        )?;
        Ok(rows.iter().map(|row| js_string(&row[0])).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::testing::open;
    use rusqlite::types::Value;

    fn log(run: &str, session: Option<&str>, text: &str, ts: f64) -> LogInput {
        LogInput {
            run_id: run.into(),
            session_id: session.map(Into::into),
            text: Some(text.into()),
            ts: Some(ts),
            ..Default::default()
        }
    }

    #[test]
    fn logs_default_level_and_phase_and_drop_non_finite_steps() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let mut row = log("r", None, "hello", 5.0);
        row.step = Some(f64::NAN);
        row.epoch = Some(2.0);
        t.insert_log(&row)?;
        let rows = t.logs("r", None)?;
        assert_eq!(
            rows.columns,
            [
                "id",
                "run_id",
                "session_id",
                "level",
                "text",
                "phase",
                "step",
                "epoch",
                "ts"
            ]
        );
        assert_eq!(
            rows.row(0)[3..],
            [
                Value::Text("info".into()),
                Value::Text("hello".into()),
                Value::Text("info".into()),
                Value::Null,
                Value::Integer(2),
                Value::Integer(5)
            ]
        );
        Ok(())
    }

    #[test]
    fn logs_order_by_time_then_insertion_and_filter_by_phase() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        t.insert_log(&log("r", Some("s"), "late", 20.0))?;
        t.insert_log(&log("r", Some("s"), "early-1", 10.0))?;
        t.insert_log(&log("r", Some("s"), "early-2", 10.0))?;
        let mut test = log("r", Some("s"), "test", 15.0);
        test.phase = Some("test".into());
        t.insert_log(&test)?;
        let texts = |rows: Rows| -> Vec<Value> {
            (0..rows.len())
                .map(|i| rows.get(i, "text").unwrap().clone())
                .collect()
        };
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            texts(t.logs("r", None)?),
            [text("early-1"), text("early-2"), text("test"), text("late")]
        );
        assert_eq!(texts(t.logs("r", Some(""))?).len(), 4);
        assert_eq!(texts(t.logs("r", Some("test"))?), [text("test")]);
        assert_eq!(texts(t.logs_by_session("s", Some("info"))?).len(), 3);
        Ok(())
    }

    #[test]
    fn sessions_are_derived_from_logs() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        t.insert_log(&log("a", Some("s1"), "x", 1.0))?;
        t.insert_log(&log("b", Some("s1"), "x", 2.0))?;
        t.insert_log(&log("b", Some("s1"), "x", 3.0))?;
        t.insert_log(&log("c", Some("s2"), "x", 9.0))?;
        t.insert_log(&log("d", None, "x", 99.0))?;
        let s = t.list_sessions()?;
        assert_eq!(s.columns, ["session_id", "last_ts", "run_count"]);
        assert_eq!(
            s.row(0),
            [
                Value::Text("s2".into()),
                Value::Integer(9),
                Value::Integer(1)
            ]
        );
        assert_eq!(
            s.row(1),
            [
                Value::Text("s1".into()),
                Value::Integer(3),
                Value::Integer(2)
            ]
        );
        let mut runs = t.runs_for_session("s1")?;
        runs.sort();
        assert_eq!(runs, ["a", "b"]);
        Ok(())
    }
}
