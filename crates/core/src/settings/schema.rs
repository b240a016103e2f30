//! The settings store's schema: its migrations and the tables they create. No other program
//! writes these tables (the sidepanel keeps its settings in the browser's localStorage), so the
//! engine's defaults apply: a file is migrated from empty, and a foreign table of one of these
//! names refuses it.

use crate::engine::migrate::Migration;
use crate::engine::StoreDef;

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "settings";

/// The settings store's migrations, in order. Append only.
pub static MIGRATIONS: [Migration; 1] = [Migration {
    version: 1,
    name: "settings",
    sql: include_str!("../../migrations/settings/0001_settings.sql"),
}];

/// The settings store's definition, registered in `crate::stores`.
#[derive(Debug)]
pub struct Store;

/// The settings store, as the registry lists it.
pub static STORE: Store = Store;

impl StoreDef for Store {
    fn name(&self) -> &'static str {
        NAME
    }

    fn migrations(&self) -> &'static [Migration] {
        &MIGRATIONS
    }

    fn tables(&self) -> &'static [&'static str] {
        &["settings", "recovery"]
    }
}
