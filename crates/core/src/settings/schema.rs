//! The settings store's schema: its migrations and the tables they create. No other program
//! writes these tables (the sidepanel keeps its settings in the browser's localStorage), so the
//! engine's defaults apply: a file is migrated from empty, and a foreign table of one of these
//! names refuses it.

use crate::engine::migrate::Migration;
use crate::engine::registry::Spec;

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "settings";

/// The settings store's migrations, in order. Append only.
pub static MIGRATIONS: [Migration; 1] = [Migration {
    version: 1,
    name: "settings",
    sql: include_str!("../../migrations/settings/0001_settings.sql"),
}];

/// The settings store's definition, registered in `crate::stores`: the engine's defaults
/// throughout.
pub static STORE: Spec = Spec {
    name: NAME,
    migrations: &MIGRATIONS,
    tables: &["settings", "recovery"],
};
