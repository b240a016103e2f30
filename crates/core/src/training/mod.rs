//! The training store: OnTheFly's runs, metrics, checkpoints, logs, reports and bundles.
//!
//! Method names follow `storage.ts` in snake_case; results keep the original's column names,
//! column order and row order (see `reference/onthefly-storage.md` §2–§3). Numbers arrive as
//! `f64` (what JS numbers are) and are bound as doubles, exactly like better-sqlite3 binds
//! them, so SQLite's column affinity stores `5` in an INTEGER column as the integer 5.

pub mod bundle;
mod checkpoints;
mod logs;
mod metrics;
pub mod mlflow;
mod reports;
mod runs;
pub mod schema;
pub mod series;
mod summaries;

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::engine::{Database, Result};
use crate::jsnum;

pub use checkpoints::{FinalModelInput, LatestCheckpoint};
pub use logs::LogInput;
pub use metrics::{MetricInput, METRIC_COLUMNS};
pub use reports::{ReportInput, ReportLossDist};
pub use runs::RunList;

/// The training store of an open [`Database`].
#[derive(Debug, Clone, Copy)]
pub struct Training<'a> {
    db: &'a Database,
}

impl Database {
    /// The training store, if this file was opened with it (`ERR_STORE_NOT_OPEN` otherwise).
    pub fn training(&self) -> Result<Training<'_>> {
        self.require(schema::NAME)?;
        Ok(Training { db: self })
    }
}

impl<'a> Training<'a> {
    fn conn(&self) -> &'a Connection {
        self.db.conn()
    }
}

/// JS truthiness of a value as better-sqlite3 would return it.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Integer(i) => *i != 0,
        Value::Real(f) => *f != 0.0 && !f.is_nan(),
        Value::Text(s) => !s.is_empty(),
        Value::Blob(_) => true,
    }
}

/// JS `String(v)` of a value as better-sqlite3 would return it (integers are JS numbers).
fn js_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Integer(i) => jsnum::to_string(*i as f64),
        Value::Real(f) => jsnum::to_string(*f),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// JS `Number(v)` of a value as better-sqlite3 would return it.
fn js_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Integer(i) => *i as f64,
        Value::Real(f) => *f,
        Value::Text(s) => jsnum::string_to_number(s),
        Value::Blob(b) => jsnum::string_to_number(&String::from_utf8_lossy(b)),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::engine::{Database, OpenOptions};

    /// A fresh training store in a temporary folder.
    pub fn open() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("runs.sqlite"), &OpenOptions::default()).unwrap();
        (dir, db)
    }
}
