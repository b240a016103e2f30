//! The conversations store's schema: its migrations and the tables they create. No other
//! program writes these files (the sidepanel spec was never implemented with SQLite), so the
//! engine's defaults apply: a file is migrated from empty, and a foreign table of one of these
//! names refuses it.

use crate::engine::migrate::Migration;
use crate::engine::registry::Spec;

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "conversations";

/// The conversations store's migrations, in order. Append only.
pub static MIGRATIONS: [Migration; 1] = [Migration {
    version: 1,
    name: "sidepanel_schema",
    sql: include_str!("../../migrations/conversations/0001_sidepanel_schema.sql"),
}];

/// The conversations store's definition, registered in `crate::stores`: the engine's defaults
/// throughout.
pub static STORE: Spec = Spec {
    name: NAME,
    migrations: &MIGRATIONS,
    tables: &[
        "sessions",
        "messages",
        "messages_fts",
        "messages_fts_data",
        "messages_fts_idx",
        "messages_fts_docsize",
        "messages_fts_config",
    ],
};
