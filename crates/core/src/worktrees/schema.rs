//! The worktrees store's schema: AIT42's `ait42-session` tables, and adoption of the files its
//! crate writes.
//!
//! The one migration is AIT42's schema (its sqlx migration `20250113_001_initial_schema.sql`)
//! plus sqlx's `_sqlx_migrations` ledger holding the row AIT42's migrator writes for it, so a
//! file stowage creates opens in AIT42's crate without it running its migration again. A file
//! AIT42 created already has every table and that row: the migration, all `IF NOT EXISTS`,
//! finds everything in place and is only recorded in stowage's ledger. Tables of these names
//! without that sqlx row (or without AIT42's columns) belong to someone else and refuse the
//! file with `ERR_SCHEMA_CONFLICT`, unchanged.

use std::path::Path;
use std::sync::OnceLock;

use rusqlite::{Connection, OptionalExtension};

use crate::engine::adopt::{self, Shape};
use crate::engine::migrate::{self, Migration};
use crate::engine::registry;
use crate::engine::registry::Spec;
use crate::engine::{Error, Result, StoreDef};

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "worktrees";

/// The worktrees store's migrations, in order. Append only; AIT42's own ledger must never get
/// a row stowage wrote for a migration of its own, so a later change here goes only into
/// stowage's ledger and may only add (tables, columns), never alter AIT42's columns.
pub static MIGRATIONS: [Migration; 1] = [Migration {
    version: 1,
    name: "ait42_schema",
    sql: include_str!("../../migrations/worktrees/0001_ait42_schema.sql"),
}];

/// The version of AIT42's migration in `_sqlx_migrations`.
pub const SQLX_VERSION: i64 = 20_250_113;

/// The description sqlx derives from the migration's file name.
pub const SQLX_DESCRIPTION: &str = "001 initial schema";

/// The checksum sqlx records for AIT42's migration: SHA-384 of the file's bytes, in hex.
pub const SQLX_CHECKSUM: &str = "26e41e2cc0070785a900c3b9711e2e6b0c253f7dd1aa7341a8ed73835f729ad5\
                                 179b7bd274617f09162bb7632d23b05c";

fn shapes() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| adopt::shapes(&MIGRATIONS))
}

/// The worktrees store's definition, registered in `crate::stores`.
#[derive(Debug)]
pub struct Store(Spec);

/// The worktrees store, as the registry lists it.
pub static STORE: Store = Store(Spec {
    name: NAME,
    migrations: &MIGRATIONS,
    tables: &[
        "workspaces",
        "sessions",
        "instances",
        "chat_messages",
        "migration_metadata",
        "_sqlx_migrations",
    ],
});

impl StoreDef for Store {
    fn spec(&self) -> &Spec {
        &self.0
    }

    /// Accepts a file without the store's tables, one stowage migrated, and one AIT42's crate
    /// created (see the module docs); refuses any other file holding tables of these names.
    fn check(&self, conn: &Connection, path: &Path) -> Result<()> {
        let ledger = migrate::ledger_state(conn, path, NAME, &MIGRATIONS)?;
        if ledger.applied > 0 {
            return Ok(());
        }
        let present = adopt::present(conn, shapes(), 1)?;
        if present.is_empty() {
            return Ok(());
        }
        for t in &present {
            if let Some(col) = t.expected.iter().find(|c| !t.has(&c.name)) {
                return Err(Error::SchemaConflict(format!(
                    "table '{}' exists but has no '{}' column: it is not AIT42's (the \
                     worktrees store's) table, and the file was not modified",
                    t.table, col.name
                )));
            }
        }
        if !has_ait42_ledger(conn)? {
            return Err(Error::SchemaConflict(format!(
                "the file has worktrees-store tables ('{}') but no applied AIT42 migration \
                 {SQLX_VERSION} with its checksum in _sqlx_migrations: it was not created by \
                 AIT42 or stowage, and the file was not modified",
                present[0].table
            )));
        }
        Ok(())
    }

    /// Applies the migration: on a new file it creates everything, on AIT42's file it only
    /// records itself in stowage's ledger.
    fn prepare(&self, conn: &Connection, path: &Path) -> Result<()> {
        registry::apply_pending(self, conn, path)
    }
}

/// True when `_sqlx_migrations` records AIT42's migration as applied, with its checksum.
fn has_ait42_ledger(conn: &Connection) -> Result<bool> {
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(false);
    }
    let found: Option<bool> = conn
        .query_row(
            "SELECT success AND lower(hex(checksum)) = ?2 FROM _sqlx_migrations WHERE version = ?1",
            rusqlite::params![SQLX_VERSION, SQLX_CHECKSUM],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Database, OpenOptions};

    fn options() -> OpenOptions {
        OpenOptions::new([&STORE as &'static dyn StoreDef])
    }

    #[test]
    fn a_new_file_carries_the_row_ait42s_migrator_writes() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("sessions.db"), &options())?;
        let row: (i64, String, bool, String) = db.conn().query_row(
            "SELECT version, description, success, lower(hex(checksum)) FROM _sqlx_migrations",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        assert_eq!(
            row,
            (
                SQLX_VERSION,
                SQLX_DESCRIPTION.to_string(),
                true,
                SQLX_CHECKSUM.to_string()
            )
        );
        let seeded: (i64, i64, String) = db.conn().query_row(
            "SELECT id, schema_version, migration_status FROM migration_metadata",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!(seeded, (1, 1, "pending".to_string()));
        assert!(has_ait42_ledger(db.conn())?);
        Ok(())
    }

    #[test]
    fn tables_of_these_names_without_ait42s_ledger_refuse_the_file_unchanged() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        let conn = Connection::open(&path)?;
        conn.execute_batch(MIGRATIONS[0].sql)?;
        conn.execute_batch("DELETE FROM _sqlx_migrations")?;
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        let err = Database::open(&path, &options()).unwrap_err();
        assert_eq!(err.code(), "ERR_SCHEMA_CONFLICT");
        assert!(err.to_string().contains("_sqlx_migrations"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)?.execute_batch("CREATE TABLE sessions (id TEXT, x)")?;
        let err = Database::open(&foreign, &options()).unwrap_err();
        assert_eq!(err.code(), "ERR_SCHEMA_CONFLICT");
        assert!(err.to_string().contains("'workspace_hash'"), "{err}");
        Ok(())
    }

    #[test]
    fn a_file_with_ait42s_tables_and_ledger_is_adopted_with_its_rows() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ait42.db");
        let conn = Connection::open(&path)?;
        conn.execute_batch(MIGRATIONS[0].sql)?;
        conn.execute_batch(
            "INSERT INTO workspaces (hash, path) VALUES ('h', 'h');
             INSERT INTO sessions (id, workspace_hash, session_type, task, status, created_at,
               updated_at) VALUES ('s', 'h', 'debate', 't', 'running', 'a', 'b');",
        )?;
        drop(conn);
        let db = Database::open(&path, &options())?;
        assert_eq!(db.info()?.schema, [(NAME, 1)]);
        let n: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?;
        assert_eq!(n, 1);
        let sqlx: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM _sqlx_migrations", [], |r| r.get(0))?;
        assert_eq!(sqlx, 1);
        Ok(())
    }
}
