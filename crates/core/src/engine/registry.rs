//! What the engine knows of a store: the [`StoreDef`] contract every store implements.
//!
//! The engine never names a store. A store module implements [`StoreDef`] (its name, its
//! migrations, the tables it owns, how it adopts a file another program wrote) and registers
//! itself in one place, `crate::stores`; the engine opens, migrates, reports and detects table
//! conflicts by walking the definitions it is handed in [`super::OpenOptions::stores`]. A test
//! (or an embedder) can hand it a store of its own the same way.

use std::path::Path;

use rusqlite::Connection;

use super::migrate::{self, Migration};
use super::retention::Policy;
use super::{write_tx, Database, Error, Result};

/// What every store declares: its name, its migrations and the tables they create.
#[derive(Debug)]
pub struct Spec {
    /// The store's name: in `openStore(path, { stores })`, in the ledger, in `info().schema`.
    pub name: &'static str,
    /// The store's migrations, in order (versions 1, 2, …). Append only.
    pub migrations: &'static [Migration],
    /// Every table (virtual tables included) the store's migrations create. Two stores that
    /// declare the same name cannot share a file; a table of that name that the store did not
    /// create refuses the file (`ERR_SCHEMA_CONFLICT`) unless [`StoreDef::check`] adopts it.
    pub tables: &'static [&'static str],
}

/// A store that a file can host.
///
/// Only [`StoreDef::spec`] is required; a [`Spec`] alone is a store with the engine's defaults
/// throughout, which suit a store whose tables only stowage creates. A store whose tables exist
/// in files written by another program (OnTheFly, overstory, AIT42, etcode) overrides
/// [`StoreDef::check`] and [`StoreDef::prepare`] to adopt them, and one whose rows expire
/// declares its [`StoreDef::retention`].
pub trait StoreDef: Sync + std::fmt::Debug {
    /// The store's name, migrations and tables.
    fn spec(&self) -> &Spec;

    /// [`Spec::name`].
    fn name(&self) -> &'static str {
        self.spec().name
    }

    /// [`Spec::migrations`].
    fn migrations(&self) -> &'static [Migration] {
        self.spec().migrations
    }

    /// [`Spec::tables`].
    fn tables(&self) -> &'static [&'static str] {
        self.spec().tables
    }

    /// Checks, without writing, that the store's tables in `conn` can be brought to the current
    /// schema: the file is not from a newer stowage, no applied migration changed, and no
    /// table of the store's belongs to someone else. Runs before any pragma is changed, so a
    /// refused file is left exactly as it was.
    fn check(&self, conn: &Connection, path: &Path) -> Result<()> {
        check_fresh(self, conn, path)
    }

    /// Brings the store's tables to the current schema, in one `BEGIN IMMEDIATE` transaction
    /// (a killed process leaves the file fully migrated or untouched). An up-to-date file must
    /// cost only a read of the ledger.
    fn prepare(&self, conn: &Connection, path: &Path) -> Result<()> {
        apply_pending(self, conn, path)
    }

    /// The store's retention policies on a file (given with the configuration it was opened with), which
    /// [`Database::apply_retention`] runs; none by default: the store keeps its rows.
    fn retention(&self, _db: &Database) -> Vec<Policy> {
        Vec::new()
    }
}

/// A store with the engine's defaults: no adoption, no retention.
impl StoreDef for Spec {
    fn spec(&self) -> &Spec {
        self
    }
}

/// [`StoreDef::check`] of a store without adoption: the ledger is consistent with this build,
/// and while it records nothing for the store, none of the store's tables exists yet.
pub fn check_fresh<S: StoreDef + ?Sized>(store: &S, conn: &Connection, path: &Path) -> Result<()> {
    let ledger = migrate::ledger_state(conn, path, store.name(), store.migrations())?;
    if ledger.applied > 0 {
        return Ok(());
    }
    for table in store.tables() {
        let exists: bool = conn
            .prepare_cached(
                "SELECT count(*) > 0 FROM sqlite_schema
                 WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
            )?
            .query_row([table], |r| r.get(0))?;
        if exists {
            return Err(Error::SchemaConflict(format!(
                "table '{table}' exists but was not created by the '{}' store (the file's \
                 ledger has no migration of it): it belongs to another program or store, and \
                 the file was not modified",
                store.name()
            )));
        }
    }
    Ok(())
}

/// [`StoreDef::prepare`] of a store without adoption: applies the pending migrations, if any,
/// re-reading the ledger under the write lock (another process may have migrated meanwhile).
pub fn apply_pending<S: StoreDef + ?Sized>(
    store: &S,
    conn: &Connection,
    path: &Path,
) -> Result<()> {
    let name = store.name();
    if migrate::ledger_state(conn, path, name, store.migrations())?
        .pending
        .is_empty()
    {
        return Ok(());
    }
    write_tx(conn, |conn| {
        let ledger = migrate::ledger_state(conn, path, name, store.migrations())?;
        migrate::apply(conn, name, &ledger.pending)
    })
}

/// Refuses a set of stores of which two own a table of the same name (SQLite table names are
/// case-insensitive): they cannot share a file.
pub(crate) fn refuse_overlap(stores: &[&'static dyn StoreDef]) -> Result<()> {
    for (i, a) in stores.iter().enumerate() {
        for b in &stores[i + 1..] {
            let shared = a
                .tables()
                .iter()
                .find(|t| b.tables().iter().any(|u| u.eq_ignore_ascii_case(t)));
            if let Some(table) = shared {
                return Err(Error::InvalidArg(format!(
                    "the {} and {} stores both keep a table named '{table}' and cannot share a \
                     file; open them in separate files",
                    a.name(),
                    b.name()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Database, OpenOptions};

    static NOTES_MIGRATIONS: [Migration; 2] = [
        Migration {
            version: 1,
            name: "notes",
            sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        },
        Migration {
            version: 2,
            name: "tags",
            sql: "CREATE TABLE note_tags (note_id INTEGER NOT NULL REFERENCES notes(id)
                    ON DELETE CASCADE, tag TEXT NOT NULL);",
        },
    ];

    /// A store that exists only in this test: the engine opens it like any other.
    static NOTES: Spec = Spec {
        name: "notes",
        migrations: &NOTES_MIGRATIONS,
        tables: &["notes", "note_tags"],
    };

    /// A second throwaway store that also owns `notes`.
    static RIVAL: Spec = Spec {
        name: "rival",
        migrations: NOTES_MIGRATIONS.split_at(1).0,
        tables: &["NOTES"],
    };

    fn notes_only() -> OpenOptions {
        OpenOptions::new([&NOTES as &'static dyn StoreDef])
    }

    #[test]
    fn a_store_defined_outside_the_engine_is_migrated_reported_and_reopened() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        let db = Database::open(&path, &notes_only())?;
        assert_eq!(db.info()?.schema, [("notes", 2)]);
        assert!(db.hosts("notes") && !db.hosts("training"));
        db.conn()
            .execute("INSERT INTO notes (body) VALUES ('kept')", [])?;
        db.close()?;
        let db = Database::open(&path, &notes_only())?;
        let body: String = db
            .conn()
            .query_row("SELECT body FROM notes", [], |r| r.get(0))?;
        assert_eq!(body, "kept");
        let ledger: i64 = db.conn().query_row(
            "SELECT count(*) FROM stowage_migrations WHERE store = 'notes'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(ledger, 2);
        assert_eq!(
            db.require("training").unwrap_err().code(),
            "ERR_STORE_NOT_OPEN"
        );
        Ok(())
    }

    #[test]
    fn two_stores_owning_one_table_name_are_refused_before_the_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let both = OpenOptions::new([&NOTES as &'static dyn StoreDef, &RIVAL]);
        let err = Database::open(&path, &both).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert!(err.to_string().contains("notes and rival"), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn a_foreign_table_of_a_declared_name_refuses_the_file_unchanged() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("foreign.db");
        Connection::open(&path)?
            .execute_batch("CREATE TABLE Notes (x); INSERT INTO Notes VALUES (1);")?;
        let before = std::fs::read(&path).unwrap();
        let err = Database::open(&path, &notes_only()).unwrap_err();
        assert_eq!(err.code(), "ERR_SCHEMA_CONFLICT");
        assert!(err.to_string().contains("'notes'"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        Ok(())
    }

    #[test]
    fn a_file_with_the_first_migration_gets_the_second() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = OpenOptions::new([&RIVAL as &'static dyn StoreDef]);
        Database::open(&path, &old)?.close()?;
        let conn = Connection::open(&path)?;
        conn.execute("UPDATE stowage_migrations SET store = 'notes'", [])?;
        drop(conn);
        let db = Database::open(&path, &notes_only())?;
        assert_eq!(db.info()?.schema, [("notes", 2)]);
        db.conn().execute_batch(
            "INSERT INTO notes VALUES (1, 'n'); INSERT INTO note_tags VALUES (1, 't');
             DELETE FROM notes;",
        )?;
        let tags: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM note_tags", [], |r| r.get(0))?;
        assert_eq!(
            tags, 0,
            "the cascade of migration 2 runs with foreign keys on"
        );
        Ok(())
    }
}
