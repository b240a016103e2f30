//! `checkpoints` and `session_final_models`.

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension};

use super::{js_number, truthy, Training};
use crate::engine::{now_ms, Result, Rows};

/// One `upsertFinalModel` row (`FinalModelRow`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FinalModelInput {
    pub session_id: String,
    pub run_id: Option<String>,
    pub ckpt_path: Option<String>,
    pub step: Option<f64>,
    /// `None` and non-finite values are stored as NULL.
    pub avg_test_loss: Option<f64>,
}

/// The result of `latestCheckpointForRun`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestCheckpoint {
    /// The stored path (a non-empty string in every file the extension wrote).
    pub path: Value,
    /// `Number(step || 0)`.
    pub step: f64,
}

impl Training<'_> {
    /// `insertCheckpoint`: a repeated `ckpt_id` replaces the whole row.
    pub fn insert_checkpoint(
        &self,
        ckpt_id: &str,
        run_id: Option<&str>,
        step: Option<f64>,
        path: Option<&str>,
    ) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO checkpoints (ckpt_id, run_id, step, path, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![ckpt_id, run_id, step, path, now_ms()])?;
        Ok(())
    }

    /// `latestCheckpointForRun`: the highest step (newest on ties); `None` when the run has no
    /// checkpoint or the newest one has an empty path, as in the original.
    pub fn latest_checkpoint_for_run(&self, run_id: &str) -> Result<Option<LatestCheckpoint>> {
        let row = self
            .conn()
            .prepare_cached(
                "SELECT path, step FROM checkpoints WHERE run_id = ?1
                 ORDER BY step DESC, created_at DESC LIMIT 1",
            )?
            .query_row([run_id], |r| {
                Ok((
                    crate::engine::rows::owned(r.get_ref(0)?),
                    crate::engine::rows::owned(r.get_ref(1)?),
                ))
            })
            .optional()?;
        Ok(row.and_then(|(path, step)| {
            truthy(&path).then(|| LatestCheckpoint {
                path,
                step: if truthy(&step) { js_number(&step) } else { 0.0 },
            })
        }))
    }

    /// `upsertFinalModel`: one row per session, replaced on conflict.
    pub fn upsert_final_model(&self, row: &FinalModelInput) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO session_final_models
                   (session_id, run_id, ckpt_path, step, avg_test_loss, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(session_id) DO UPDATE SET
                   run_id = excluded.run_id, ckpt_path = excluded.ckpt_path,
                   step = excluded.step, avg_test_loss = excluded.avg_test_loss,
                   updated_at = excluded.updated_at",
            )?
            .execute(params![
                row.session_id,
                row.run_id,
                row.ckpt_path,
                row.step,
                row.avg_test_loss.filter(|l| l.is_finite()),
                now_ms()
            ])?;
        Ok(())
    }

    /// `getFinalModel`: the session's row, if any.
    pub fn final_model(&self, session_id: &str) -> Result<Option<Rows>> {
        let rows = Rows::query(
            self.conn(),
            "SELECT session_id, run_id, ckpt_path, step, avg_test_loss, updated_at
                 FROM session_final_models WHERE session_id = ?1",
            [session_id],
        )?;
        Ok((!rows.is_empty()).then_some(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::testing::open;

    #[test]
    fn latest_checkpoint_prefers_high_step_then_newest_and_hides_behind_empty_path() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        assert_eq!(t.latest_checkpoint_for_run("r")?, None);
        t.insert_checkpoint("r:5:1", Some("r"), Some(5.0), Some("/a.pt"))?;
        t.insert_checkpoint("r:9:1", Some("r"), Some(9.0), Some("/b.pt"))?;
        t.insert_checkpoint("r:9:2", Some("r"), Some(9.0), Some("/c.pt"))?;
        db.conn().execute(
            "UPDATE checkpoints SET created_at = 1 WHERE ckpt_id = 'r:9:1'",
            [],
        )?;
        let latest = t.latest_checkpoint_for_run("r")?.unwrap();
        assert_eq!(
            (latest.path, latest.step),
            (Value::Text("/c.pt".into()), 9.0)
        );
        t.insert_checkpoint("r:10:x", Some("r"), Some(10.0), Some(""))?;
        assert_eq!(t.latest_checkpoint_for_run("r")?, None);
        Ok(())
    }

    #[test]
    fn a_repeated_checkpoint_id_replaces_the_row() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        t.insert_checkpoint("k", Some("r"), Some(1.0), Some("/a.pt"))?;
        t.insert_checkpoint("k", Some("r"), Some(2.0), Some("/b.pt"))?;
        let n: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))?;
        assert_eq!(n, 1);
        assert_eq!(t.latest_checkpoint_for_run("r")?.unwrap().step, 2.0);
        Ok(())
    }

    #[test]
    fn final_models_upsert_per_session_and_keep_null_loss() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let mut row = FinalModelInput {
            session_id: "s".into(),
            run_id: Some("r".into()),
            ckpt_path: Some("/m.pt".into()),
            step: Some(3.0),
            avg_test_loss: Some(0.5),
        };
        t.upsert_final_model(&row)?;
        row.avg_test_loss = None;
        row.step = Some(4.0);
        t.upsert_final_model(&row)?;
        let got = t.final_model("s")?.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got.get(0, "step"), Some(Value::Integer(4)));
        assert_eq!(got.get(0, "avg_test_loss"), Some(Value::Null));
        assert!(t.final_model("nope")?.is_none());
        Ok(())
    }
}
