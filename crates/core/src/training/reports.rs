//! `report_loss_dist` (per-sample loss distributions) and `run_subsets` (sample subsets).
//!
//! Both store JSON arrays. Writes produce exactly the text `JSON.stringify` produced in the
//! original; reads normalise exactly as the original's readers did (`Number()` coercion, the
//! finite/integer filters and the index fallback), see `reference/onthefly-storage.md` §2.5.

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension};
use serde_json::Value as Json;

use super::{truthy, Training};
use crate::engine::{now_ms, Result};
use crate::jsnum;

/// The `upsertReportLossDist` payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportInput {
    /// Per-sample losses; `None` and non-finite values are stored as JSON `null`.
    pub losses: Vec<Option<f64>>,
    /// Dataset index of each loss, already passed through JS `Number()`; stored truncated.
    pub sample_indices: Vec<f64>,
    pub note: Option<String>,
    pub at_step: Option<f64>,
    pub at_epoch: Option<f64>,
    /// Defaults to the number of losses.
    pub samples: Option<f64>,
}

/// The `getReportLossDist` result.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLossDist {
    pub run_id: String,
    pub subset_on: String,
    /// Finite losses (JSON `null`s come back as 0, like `Number(null)`).
    pub losses: Vec<f64>,
    /// Non-negative truncated indices, or `0..losses.len()` when their count differs.
    pub sample_indices: Vec<f64>,
    /// The stored note, `''` when NULL.
    pub note: Value,
    pub at_step: Value,
    pub at_epoch: Value,
    /// The stored count when it is a finite number, else the number of losses.
    pub samples: f64,
}

/// Parses a stored JSON array; anything else (bad JSON, not an array, not text) is empty.
fn json_array(v: &Value) -> Vec<Json> {
    match v {
        Value::Text(s) => match serde_json::from_str(s) {
            Ok(Json::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

impl Training<'_> {
    /// `upsertReportLossDist`: one row per `(run_id, subset_on)`, replaced on conflict.
    pub fn upsert_report_loss_dist(
        &self,
        run_id: &str,
        subset_on: &str,
        p: &ReportInput,
    ) -> Result<()> {
        let losses = jsnum::json_array(p.losses.iter().copied());
        let indices = jsnum::json_array(p.sample_indices.iter().map(|v| Some(v.trunc())));
        let samples = p.samples.unwrap_or(p.losses.len() as f64);
        self.conn()
            .prepare_cached(
                "INSERT INTO report_loss_dist
                   (run_id, subset_on, losses, sample_indices, note, at_step, at_epoch, samples, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(run_id, subset_on) DO UPDATE SET
                   losses = excluded.losses, sample_indices = excluded.sample_indices,
                   note = excluded.note, at_step = excluded.at_step, at_epoch = excluded.at_epoch,
                   samples = excluded.samples, created_at = excluded.created_at",
            )?
            .execute(params![
                run_id, subset_on, losses, indices, p.note, p.at_step, p.at_epoch, samples, now_ms()
            ])?;
        Ok(())
    }

    /// `getReportLossDist`: the normalised report, or `None`.
    pub fn report_loss_dist(
        &self,
        run_id: &str,
        subset_on: &str,
    ) -> Result<Option<ReportLossDist>> {
        let row = self
            .conn()
            .prepare_cached(
                "SELECT losses, sample_indices, note, at_step, at_epoch, samples
                 FROM report_loss_dist WHERE run_id = ?1 AND subset_on = ?2",
            )?
            .query_row([run_id, subset_on], |r| {
                let mut v = Vec::with_capacity(6);
                for i in 0..6 {
                    v.push(crate::engine::rows::owned(r.get_ref(i)?));
                }
                Ok(v)
            })
            .optional()?;
        let Some(mut row) = row else {
            return Ok(None);
        };
        let losses: Vec<f64> = json_array(&row[0])
            .iter()
            .map(jsnum::number_of)
            .filter(|x| x.is_finite())
            .collect();
        let mut sample_indices: Vec<f64> = json_array(&row[1])
            .iter()
            .map(|v| jsnum::number_of(v).trunc())
            .filter(|x| x.is_finite() && *x >= 0.0)
            .collect();
        if sample_indices.len() != losses.len() {
            sample_indices = (0..losses.len()).map(|i| i as f64).collect();
        }
        let samples = match row[5] {
            Value::Integer(i) => i as f64,
            Value::Real(f) if f.is_finite() => f,
            _ => losses.len() as f64,
        };
        let note = match std::mem::replace(&mut row[2], Value::Null) {
            Value::Null => Value::Text(String::new()),
            other => other,
        };
        Ok(Some(ReportLossDist {
            run_id: run_id.to_string(),
            subset_on: subset_on.to_string(),
            losses,
            sample_indices,
            note,
            at_step: row[3].clone(),
            at_epoch: row[4].clone(),
            samples,
        }))
    }

    /// `setRunSubset`: stores the indices as given (`None` as JSON `null`).
    pub fn set_run_subset(&self, run_id: &str, indices: &[Option<f64>]) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT OR REPLACE INTO run_subsets (run_id, indices) VALUES (?1, ?2)")?
            .execute(params![run_id, jsnum::json_array(indices.iter().copied())])?;
        Ok(())
    }

    /// `getRunSubset`: the stored indices that are non-negative integers after `Number()`.
    pub fn run_subset(&self, run_id: &str) -> Result<Vec<f64>> {
        let v: Option<Value> = self
            .conn()
            .prepare_cached("SELECT indices FROM run_subsets WHERE run_id = ?1")?
            .query_row([run_id], |r| Ok(crate::engine::rows::owned(r.get_ref(0)?)))
            .optional()?;
        let Some(v) = v.filter(truthy) else {
            return Ok(Vec::new());
        };
        Ok(json_array(&v)
            .iter()
            .map(jsnum::number_of)
            .filter(|x| x.is_finite() && x.trunc() == *x && *x >= 0.0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::testing::open;

    #[test]
    fn reports_store_json_stringify_text_and_read_back_normalised() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let payload = ReportInput {
            losses: vec![Some(1.0), Some(0.5), None, Some(f64::NAN)],
            sample_indices: vec![3.7, -1.0, 2.0, f64::NAN],
            note: Some("n".into()),
            at_step: Some(10.0),
            ..Default::default()
        };
        t.upsert_report_loss_dist("r", "train", &payload)?;
        let (losses, indices, samples): (String, String, i64) = db.conn().query_row(
            "SELECT losses, sample_indices, samples FROM report_loss_dist",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!(losses, "[1,0.5,null,null]");
        assert_eq!(indices, "[3,-1,2,null]");
        assert_eq!(samples, 4);
        let got = t.report_loss_dist("r", "train")?.unwrap();
        assert_eq!(got.losses, [1.0, 0.5, 0.0, 0.0]);
        // 3 indices survive the filter for 4 losses: the reader falls back to 0..n.
        assert_eq!(got.sample_indices, [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(got.note, Value::Text("n".into()));
        assert_eq!(got.at_step, Value::Integer(10));
        assert_eq!(got.at_epoch, Value::Null);
        assert_eq!(got.samples, 4.0);
        assert_eq!(t.report_loss_dist("r", "val")?, None);
        Ok(())
    }

    #[test]
    fn report_reader_coerces_like_number() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        db.conn().execute(
            "INSERT INTO report_loss_dist (run_id, subset_on, losses, sample_indices, note, samples, created_at)
             VALUES ('r', 'val', '[\"2\", \"x\", {}, [4], true]', '[1.9, \"0\", null, 7]', NULL, 'many', 0)",
            [],
        )?;
        let got = t.report_loss_dist("r", "val")?.unwrap();
        assert_eq!(got.losses, [2.0, 4.0, 1.0]);
        assert_eq!(got.sample_indices, [0.0, 1.0, 2.0]);
        assert_eq!(got.note, Value::Text(String::new()));
        assert_eq!(got.samples, 3.0);
        db.conn().execute(
            "UPDATE report_loss_dist SET losses = 'not json', sample_indices = '[5]'",
            [],
        )?;
        let got = t.report_loss_dist("r", "val")?.unwrap();
        assert!(got.losses.is_empty() && got.sample_indices.is_empty());
        Ok(())
    }

    #[test]
    fn subsets_keep_non_negative_integers_only() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        assert!(t.run_subset("r")?.is_empty());
        t.set_run_subset("r", &[Some(3.0), Some(1.5), Some(-2.0), None, Some(7.0)])?;
        let stored: String = db
            .conn()
            .query_row("SELECT indices FROM run_subsets", [], |r| r.get(0))?;
        assert_eq!(stored, "[3,1.5,-2,null,7]");
        assert_eq!(t.run_subset("r")?, [3.0, 0.0, 7.0]);
        db.conn()
            .execute("UPDATE run_subsets SET indices = '[true, \"\", \"4\"]'", [])?;
        assert_eq!(t.run_subset("r")?, [1.0, 0.0, 4.0]);
        db.conn()
            .execute("UPDATE run_subsets SET indices = '{\"a\": 1}'", [])?;
        assert!(t.run_subset("r")?.is_empty());
        Ok(())
    }
}
