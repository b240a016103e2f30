//! The history store's schema: its migrations, the tables they create, and its retention
//! policies. No other program writes these files (the sidepanel spec was never implemented with
//! SQLite), so the engine's defaults apply: a file is migrated from empty, and a foreign table of
//! one of these names refuses it.

use super::HistoryConfig;
use crate::engine::migrate::Migration;
use crate::engine::registry::Spec;
use crate::engine::retention::Policy;
use crate::engine::{Database, StoreDef};

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "history";

/// The history store's migrations, in order. Append only.
pub static MIGRATIONS: [Migration; 1] = [Migration {
    version: 1,
    name: "sidepanel_history",
    sql: include_str!("../../migrations/history/0001_sidepanel_history.sql"),
}];

/// The history store's definition, registered in `crate::stores`.
#[derive(Debug)]
pub struct Store(Spec);

/// The history store, as the registry lists it.
pub static STORE: Store = Store(Spec {
    name: NAME,
    migrations: &MIGRATIONS,
    tables: &["snapshots", "snapshot_usage", "recordings", "analytics"],
});

impl StoreDef for Store {
    fn spec(&self) -> &Spec {
        &self.0
    }

    /// Snapshots older than `snapshot_max_age_ms` unless starred (spec 37: 30 days), analytics
    /// older than `analytics_max_age_ms` (90 days); recordings are kept until deleted.
    fn retention(&self, db: &Database) -> Vec<Policy> {
        let config = HistoryConfig::of(db);
        vec![
            Policy {
                table: "snapshots",
                timestamp: "timestamp",
                deletable: "starred = 0",
                order: "timestamp, seq",
                max_age_ms: config.snapshot_max_age_ms,
            },
            Policy {
                table: "analytics",
                timestamp: "timestamp",
                deletable: "1",
                order: "timestamp, id",
                max_age_ms: config.analytics_max_age_ms,
            },
        ]
    }
}
