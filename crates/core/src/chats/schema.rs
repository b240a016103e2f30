//! The chats store's schema: etcode's two Drizzle migrations, byte for byte, and Drizzle's own
//! ledger, so a file works with etcode and with stowage both ways.
//!
//! The migration files are etcode's (`packages/etcode/migration/*.sql`), unchanged: Drizzle
//! records each by the SHA-256 of its text, and etcode's `migrate()` must find nothing to do in
//! a file stowage created. Why the columns exist, as etcode uses them:
//! - `session`: one chat of a project (`project_id`, the folder it runs in, `directory`), its
//!   `title` and `agent`; `summary_*` (migration 2) count the lines and files its edits changed;
//! - `message`: a user or assistant turn; everything but its ids is the JSON `data`;
//! - `part`: a piece of an assistant turn (text, a tool call and its state, step markers, a
//!   compaction) as JSON `data`; `session_id` is denormalised with no foreign key (etcode writes
//!   `''` for parts made inside a batch tool);
//! - `todo`: a session's todo list, one row per item at `position`;
//! - `permission` (migration 2): a project's permission rules, a JSON array.
//!
//! Adoption. A file etcode wrote has no stowage ledger; its tables are checked for their key
//! columns (another program's `session` table refuses the file, `ERR_SCHEMA_CONFLICT`), then
//! each statement of the migrations runs unless etcode already made that change (the tables and
//! indexes are `IF NOT EXISTS`; an `ALTER TABLE … ADD COLUMN` of a column the table has is
//! skipped), so a file with only the first migration gets the second. Any other failure is an
//! error, never swallowed. Then `__drizzle_migrations` gets the rows Drizzle's migrator would
//! write: one `(hash, created_at)` per journal entry newer than its newest `created_at` (a file
//! whose ledger is ahead, opencode's own, gets none).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::engine::migrate::{self, Migration};
use crate::engine::registry::Spec;
use crate::engine::{table_columns, write_tx, Error, Result, StoreDef};

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "chats";

/// The chats store's migrations, in order: etcode's, unchanged. Append only.
pub static MIGRATIONS: [Migration; 2] = [
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/chats/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "permission_summary",
        sql: include_str!("../../migrations/chats/0002_permission_summary.sql"),
    },
];

/// Drizzle's ledger entry of each migration: the SHA-256 (hex) of its SQL file and the `when`
/// of its entry in etcode's `meta/_journal.json`.
pub const DRIZZLE_LEDGER: [(&str, i64); 2] = [
    (
        "32e827e299baa8631125897b68ec0403cbd69af0a7d4afcb3d75d7e9462fb951",
        1_740_614_400_000,
    ),
    (
        "e3b3333eff4f40ba69aeca7ed96da9865177eb5e5864e7c0e66598e729e124b9",
        1_740_700_800_000,
    ),
];

/// Drizzle's ledger table, as its SQLite migrator creates it (`SERIAL` is no SQLite type, so
/// `id` stays NULL in every row).
const DRIZZLE_DDL: &str = "CREATE TABLE IF NOT EXISTS \"__drizzle_migrations\" (
    id SERIAL PRIMARY KEY,
    hash text NOT NULL,
    created_at numeric
)";

/// Columns without which a table of that name is not etcode's.
const KEYS: [(&str, &[&str]); 5] = [
    (
        "session",
        &[
            "id",
            "project_id",
            "directory",
            "title",
            "time_created",
            "time_updated",
        ],
    ),
    ("message", &["id", "session_id", "data"]),
    ("part", &["id", "message_id", "session_id", "data"]),
    ("todo", &["session_id", "content", "position"]),
    ("permission", &["project_id", "data"]),
];

/// The chats store's definition, registered in `crate::stores`.
#[derive(Debug)]
pub struct Store(Spec);

/// The chats store, as the registry lists it.
pub static STORE: Store = Store(Spec {
    name: NAME,
    migrations: &MIGRATIONS,
    tables: &["session", "message", "part", "todo", "permission"],
});

impl StoreDef for Store {
    fn spec(&self) -> &Spec {
        &self.0
    }

    /// Checks, without writing, that the ledger is consistent with this build and that the
    /// file's chats tables, if etcode made them, are etcode's.
    fn check(&self, conn: &Connection, path: &Path) -> Result<()> {
        migrate::ledger_state(conn, path, NAME, &MIGRATIONS)?;
        refuse_foreign(conn)
    }

    /// Applies the pending migrations (adopting what etcode already made, see the module docs)
    /// and Drizzle's ledger rows, in one `BEGIN IMMEDIATE` transaction.
    fn prepare(&self, conn: &Connection, path: &Path) -> Result<()> {
        let state = || migrate::ledger_state(conn, path, NAME, &MIGRATIONS);
        if state()?.pending.is_empty() {
            return Ok(());
        }
        write_tx(conn, |conn| {
            // Another process may have migrated between the read above and our write lock.
            for m in state()?.pending {
                for statement in m.sql.split("--> statement-breakpoint") {
                    if !adds_existing_column(conn, statement)? {
                        migrate::run(conn, NAME, m, statement)?;
                    }
                }
                migrate::record(conn, NAME, m)?;
            }
            drizzle_ledger(conn)
        })
    }
}

/// Refuses a table of the store's names that lacks etcode's key columns.
fn refuse_foreign(conn: &Connection) -> Result<()> {
    for (table, keys) in KEYS {
        let Some(cols) = table_columns(conn, "main", table)? else {
            continue;
        };
        let has = |k: &str| cols.iter().any(|c| c.name.eq_ignore_ascii_case(k));
        if let Some(key) = keys.iter().find(|k| !has(k)) {
            return Err(Error::SchemaConflict(format!(
                "table '{table}' exists but has no '{key}' column: it is not etcode's (the chats \
                 store's) table, and the file was not modified"
            )));
        }
    }
    Ok(())
}

/// True when `statement` is `ALTER TABLE t ADD COLUMN c …` and `t` already has `c`.
fn adds_existing_column(conn: &Connection, statement: &str) -> Result<bool> {
    let unquoted = statement.replace(['`', '"'], " ");
    let words: Vec<&str> = unquoted.split_whitespace().collect();
    let [alter, table_kw, table, add, column_kw, column, ..] = words[..] else {
        return Ok(false);
    };
    let is = |w: &str, k: &str| w.eq_ignore_ascii_case(k);
    if !(is(alter, "alter") && is(table_kw, "table") && is(add, "add") && is(column_kw, "column")) {
        return Ok(false);
    }
    Ok(table_columns(conn, "main", table)?
        .is_some_and(|cols| cols.iter().any(|c| c.name.eq_ignore_ascii_case(column))))
}

/// Adds to `__drizzle_migrations` (creating it) the rows Drizzle's migrator would: each entry of
/// [`DRIZZLE_LEDGER`] newer than the newest `created_at` there. A ledger of Drizzle's later
/// layout (no `hash`/`created_at` columns) is left alone.
fn drizzle_ledger(conn: &Connection) -> Result<()> {
    conn.execute_batch(DRIZZLE_DDL)?;
    let cols = table_columns(conn, "main", "__drizzle_migrations")?.unwrap_or_default();
    if !["hash", "created_at"]
        .iter()
        .all(|k| cols.iter().any(|c| c.name == *k))
    {
        return Ok(());
    }
    let newest: Option<f64> = conn
        .query_row(
            "SELECT CAST(created_at AS REAL) FROM \"__drizzle_migrations\"
             ORDER BY created_at DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    for (hash, when) in DRIZZLE_LEDGER {
        if newest.is_none_or(|n| n < when as f64) {
            conn.execute(
                "INSERT INTO \"__drizzle_migrations\" (hash, created_at) VALUES (?1, ?2)",
                rusqlite::params![hash, when],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Database, OpenOptions};

    fn options() -> OpenOptions {
        OpenOptions::new([&STORE as &'static dyn StoreDef])
    }

    fn drizzle_rows(conn: &Connection) -> Vec<(Option<i64>, String, i64)> {
        conn.prepare("SELECT id, hash, created_at FROM __drizzle_migrations ORDER BY rowid")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .unwrap()
    }

    /// What etcode's Drizzle migrator leaves after applying the first `n` migrations.
    fn etcode_file(path: &Path, n: usize) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(DRIZZLE_DDL).unwrap();
        for (m, (hash, when)) in MIGRATIONS.iter().zip(DRIZZLE_LEDGER).take(n) {
            conn.execute_batch(m.sql).unwrap();
            conn.execute(
                "INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?1, ?2)",
                rusqlite::params![hash, when.to_string()],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO session (id, project_id, directory, title, time_created, time_updated)
             VALUES ('sess_1', 'proj_1', '/w', 'kept', 1, 2);",
        )
        .unwrap();
    }

    #[test]
    fn a_new_file_has_drizzles_ledger_rows() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("etcode.db"), &options())?;
        let rows = drizzle_rows(db.conn());
        let want: Vec<_> = DRIZZLE_LEDGER
            .iter()
            .map(|(h, w)| (None, h.to_string(), *w))
            .collect();
        assert_eq!(rows, want);
        assert_eq!(db.info()?.schema, [(NAME, 2)]);
        Ok(())
    }

    #[test]
    fn an_etcode_file_with_one_migration_gets_the_second_and_its_ledger_row() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcode.db");
        etcode_file(&path, 1);
        let db = Database::open(&path, &options())?;
        let cols = table_columns(db.conn(), "main", "session")?.unwrap();
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            &names[7..],
            ["summary_additions", "summary_deletions", "summary_files"]
        );
        assert!(table_columns(db.conn(), "main", "permission")?.is_some());
        assert_eq!(drizzle_rows(db.conn()).len(), 2);
        let title: String =
            db.conn()
                .query_row("SELECT title FROM session WHERE id = 'sess_1'", [], |r| {
                    r.get(0)
                })?;
        assert_eq!(title, "kept");
        Ok(())
    }

    #[test]
    fn an_etcode_file_with_both_migrations_only_gets_stowages_ledger() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcode.db");
        etcode_file(&path, 2);
        let db = Database::open(&path, &options())?;
        assert_eq!(drizzle_rows(db.conn()).len(), 2);
        assert_eq!(db.info()?.schema, [(NAME, 2)]);
        Ok(())
    }

    #[test]
    fn a_ledger_ahead_of_etcodes_gets_no_rows() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opencode.db");
        etcode_file(&path, 2);
        Connection::open(&path)?.execute_batch(
            "INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('x', 1778520877000)",
        )?;
        let db = Database::open(&path, &options())?;
        assert_eq!(drizzle_rows(db.conn()).len(), 3);
        Ok(())
    }

    #[test]
    fn another_programs_session_table_refuses_the_file_unchanged() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)?.execute_batch("CREATE TABLE session (id TEXT, user TEXT)")?;
        let before = std::fs::read(&path).unwrap();
        let err = Database::open(&path, &options()).unwrap_err();
        assert_eq!(err.code(), "ERR_SCHEMA_CONFLICT");
        assert!(err.to_string().contains("'project_id'"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        Ok(())
    }

    #[test]
    fn a_failing_migration_statement_is_an_error_and_leaves_nothing() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.db");
        // A view named `session`: etcode's checks pass, its index cannot be made.
        Connection::open(&path)?.execute_batch(
            "CREATE VIEW session AS SELECT 1 AS id, 2 AS project_id, 3 AS directory,
               4 AS title, 5 AS time_created, 6 AS time_updated;",
        )?;
        let err = Database::open(&path, &options()).unwrap_err();
        assert!(
            err.to_string().starts_with("migration chats/0001_init:"),
            "{err}"
        );
        let conn = Connection::open(&path)?;
        assert!(table_columns(&conn, "main", "message")?.is_none());
        Ok(())
    }
}
