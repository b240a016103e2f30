//! `summaries` (per-run losses) and `kv` (the "saving everything" flag).

use rusqlite::{params, OptionalExtension};

use super::Training;
use crate::engine::{Result, Rows};

impl Training<'_> {
    /// `upsertSummary`: creates the row, or updates it keeping old values where the new one is
    /// missing (`COALESCE(new, old)`).
    pub fn upsert_summary(
        &self,
        run_id: &str,
        final_loss: Option<f64>,
        val_loss: Option<f64>,
    ) -> Result<()> {
        self.db.write(|c| {
            let exists = c
                .prepare_cached("SELECT 1 FROM summaries WHERE run_id = ?1")?
                .query_row([run_id], |_| Ok(()))
                .optional()?
                .is_some();
            if exists {
                c.prepare_cached(
                    "UPDATE summaries SET final_loss = COALESCE(?2, final_loss),
                     val_loss = COALESCE(?3, val_loss) WHERE run_id = ?1",
                )?
                .execute(params![run_id, final_loss, val_loss])?;
            } else {
                c.prepare_cached(
                    "INSERT INTO summaries (run_id, final_loss, val_loss) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![run_id, final_loss, val_loss])?;
            }
            Ok(())
        })
    }

    /// `getRunSummary`: an array of 0 or 1 rows, every column.
    pub fn run_summary(&self, run_id: &str) -> Result<Rows> {
        Rows::query(
            self.conn(),
            "SELECT * FROM summaries WHERE run_id = ?1",
            [run_id],
        )
    }

    /// `setSavingEverything`.
    pub fn set_saving_everything(&self, on: bool) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES ('saving', ?1)")?
            .execute([if on { "1" } else { "0" }])?;
        Ok(())
    }

    /// `isSavingEverything`: true only when the stored value is the text `'1'`.
    pub fn is_saving_everything(&self) -> Result<bool> {
        let v: Option<rusqlite::types::Value> = self
            .conn()
            .prepare_cached("SELECT v FROM kv WHERE k = 'saving'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(v == Some(rusqlite::types::Value::Text("1".into())))
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::Result;
    use crate::training::testing::open;
    use rusqlite::types::Value;

    #[test]
    fn summaries_coalesce_missing_values() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        assert!(t.run_summary("r")?.is_empty());
        t.upsert_summary("r", None, Some(0.5))?;
        t.upsert_summary("r", Some(0.1), None)?;
        t.upsert_summary("r", None, Some(f64::NAN))?;
        let s = t.run_summary("r")?;
        assert_eq!(s.columns, ["run_id", "final_loss", "val_loss"]);
        assert_eq!(
            s.row(0),
            [Value::Text("r".into()), Value::Real(0.1), Value::Real(0.5)]
        );
        Ok(())
    }

    #[test]
    fn saving_flag_round_trips_and_only_text_one_counts() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        assert!(!t.is_saving_everything()?);
        t.set_saving_everything(true)?;
        assert!(t.is_saving_everything()?);
        t.set_saving_everything(false)?;
        assert!(!t.is_saving_everything()?);
        db.conn()
            .execute("UPDATE kv SET v = CAST('1' AS BLOB) WHERE k = 'saving'", [])?;
        assert!(!t.is_saving_everything()?);
        Ok(())
    }
}
