//! The history store: the opencode sidepanel's state snapshots (starred ones kept, the rest
//! under a size cap, spec 64), session recordings and usage analytics (spec 37), with retention:
//! snapshots 30 days unless starred, analytics 90 days. See `reference/session-stores.md` §1.
//!
//! Timestamps are ISO 8601 text with milliseconds and `Z` ([`crate::engine::time`]); JSON
//! columns are validated on write ([`crate::engine::json`]) and returned as text. Every write is
//! one statement or one `BEGIN IMMEDIATE` transaction.
//!
//! ```
//! use stowage_core::{Database, OpenOptions};
//! use stowage_core::history::{schema::STORE, NewSnapshot};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(&dir.path().join("history.sqlite"), &OpenOptions::new([&STORE as _]))?;
//! let h = db.history()?;
//! let s = h.create_snapshot(&NewSnapshot {
//!     kind: "manual".into(),
//!     trigger: r#"{"reason":"user"}"#.into(),
//!     state: r#"{"balance":42}"#.into(),
//!     summary: r#"{"title":"before the refactor"}"#.into(),
//!     ..Default::default()
//! })?;
//! assert_eq!(h.total_snapshot_bytes()?, s.size_bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod analytics;
mod recordings;
pub mod schema;
mod snapshots;

use rusqlite::Connection;

use crate::engine::{write_tx, Database, Error, Result};

pub use analytics::{AnalyticsQuery, Bucket, Event, GroupBy, NewEvent};
pub use recordings::{NewRecording, Recording};
pub use snapshots::{ListSnapshots, NewSnapshot, Snapshot};

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// How the history store of a file behaves: `openStore`'s `options.history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryConfig {
    /// The snapshots' size cap in bytes (spec 64: 100 MB, here 100 MiB): a create that would
    /// pass it deletes the oldest unstarred snapshots first.
    pub max_snapshot_bytes: i64,
    /// How long an unstarred snapshot is kept (30 days); `None`: forever.
    pub snapshot_max_age_ms: Option<i64>,
    /// How long an analytics event is kept (90 days); `None`: forever.
    pub analytics_max_age_ms: Option<i64>,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            max_snapshot_bytes: 100 * 1024 * 1024,
            snapshot_max_age_ms: Some(30 * DAY_MS),
            analytics_max_age_ms: Some(90 * DAY_MS),
        }
    }
}

impl HistoryConfig {
    /// The configuration `db` was opened with, or the default.
    pub fn of(db: &Database) -> HistoryConfig {
        db.config::<HistoryConfig>(schema::NAME)
            .copied()
            .unwrap_or_default()
    }
}

/// The history store of an open [`Database`].
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    db: &'a Database,
}

impl Database {
    /// The history store, if this file was opened with it (`ERR_STORE_NOT_OPEN` otherwise).
    pub fn history(&self) -> Result<History<'_>> {
        self.require(schema::NAME)?;
        Ok(History { db: self })
    }
}

impl<'a> History<'a> {
    fn conn(&self) -> &'a Connection {
        self.db.conn()
    }

    fn config(&self) -> HistoryConfig {
        HistoryConfig::of(self.db)
    }

    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        write_tx(self.conn(), f)
    }
}

/// `ERR_INVALID_ARG` unless `value` has a character other than white space.
fn non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::InvalidArg(format!("{field} must not be empty")));
    }
    Ok(())
}

/// `ERR_INVALID_ARG` for a negative `n`.
fn not_negative(field: &str, n: Option<i64>) -> Result<()> {
    if n.is_some_and(|n| n < 0) {
        return Err(Error::InvalidArg(format!("{field} must not be negative")));
    }
    Ok(())
}

/// `ERR_INVALID_JSON` unless `text` is one JSON array.
fn json_array(field: &str, text: &str) -> Result<()> {
    crate::engine::json::validate(field, text)?;
    if !text.trim_start().starts_with('[') {
        return Err(Error::InvalidJson {
            field: field.into(),
            reason: "a JSON array is expected".into(),
        });
    }
    Ok(())
}

/// `ERR_INVALID_ARG` for a timestamp `text` given as `field` that is not in the one format.
fn bad_timestamp(field: &str, text: &str) -> Error {
    Error::InvalidArg(format!(
        "{field} must be ISO 8601 text as toISOString() writes it (2026-05-01T12:00:00.000Z), \
         not '{text}'"
    ))
}

/// `ERR_NOT_FOUND` for the `what` named `id`.
fn missing(what: &str, id: &str) -> Error {
    Error::NotFound(format!("there is no {what} '{id}'"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::{OpenOptions, StoreDef};

    /// A fresh history store in a temporary folder, with `config`.
    pub(crate) fn open(config: HistoryConfig) -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let options = OpenOptions::new([&schema::STORE as &'static dyn StoreDef])
            .with_config(schema::NAME, config);
        let db = Database::open(&dir.path().join("history.sqlite"), &options).unwrap();
        (dir, db)
    }

    #[test]
    fn retention_applies_both_policies_and_keeps_what_is_configured_forever() -> Result<()> {
        let forever = HistoryConfig {
            snapshot_max_age_ms: None,
            ..HistoryConfig::default()
        };
        let (_dir, db) = open(forever);
        let h = db.history()?;
        let s = h.create_snapshot(&snapshots::tests::snapshot("old", 10))?;
        let now = crate::engine::time::ms_from_iso(&s.timestamp).unwrap() + 365 * DAY_MS;
        let old = crate::engine::time::iso_from_ms(now - 90 * DAY_MS - 1);
        h.record_event(&NewEvent {
            event_type: "message".into(),
            timestamp: Some(old),
            ..Default::default()
        })?;
        let deleted = db.apply_retention(now)?;
        let rows: Vec<_> = deleted.iter().map(|d| (d.table, d.rows)).collect();
        assert_eq!(rows, [("snapshots", 0), ("analytics", 1)]);
        assert!(h.get_snapshot(&s.id)?.is_some());
        let level = db.begin()?;
        assert_eq!(
            db.apply_retention(now).unwrap_err().code(),
            "ERR_TRANSACTION_OPEN"
        );
        db.rollback(level)?;
        Ok(())
    }
}
