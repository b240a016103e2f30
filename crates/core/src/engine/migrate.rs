//! Numbered, append-only migrations recorded in a ledger table.
//!
//! Each store owns an ordered list of [`Migration`]s (SQL files embedded with `include_str!`).
//! The ledger `stowage_migrations` records, per store, every version applied to the file with a
//! checksum of its SQL. Opening a file compares the ledger with the build:
//! - versions beyond the newest this build knows mean a newer stowage wrote the file:
//!   [`Error::SchemaTooNew`], and nothing is written;
//! - an applied version whose SQL changed since is [`Error::MigrationChanged`] (applied
//!   migrations are never edited; a fix is a new migration);
//! - missing versions are applied in order inside the caller's write transaction.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_ms, Error, Result};

/// One numbered schema change of a store.
#[derive(Debug)]
pub struct Migration {
    /// 1-based, consecutive version number.
    pub version: i64,
    /// File name without the number, for the ledger and error messages.
    pub name: &'static str,
    /// The SQL, run with `execute_batch`.
    pub sql: &'static str,
}

/// The ledger table's own definition. Created lazily by the first migration of any store.
const LEDGER_DDL: &str = "CREATE TABLE IF NOT EXISTS stowage_migrations (
    store      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    checksum   TEXT    NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (store, version)
)";

/// What the ledger says about one store in one file.
#[derive(Debug)]
pub struct LedgerState {
    /// Highest version recorded for the store (0 when the store was never migrated).
    pub applied: i64,
    /// Migrations this build must still apply, in order.
    pub pending: Vec<&'static Migration>,
}

/// Reads the ledger for `store` and checks it against `migrations`. Read-only.
pub fn ledger_state(
    conn: &Connection,
    path: &std::path::Path,
    store: &'static str,
    migrations: &'static [Migration],
) -> Result<LedgerState> {
    let has_ledger: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'stowage_migrations'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    let mut applied_rows = Vec::new();
    if has_ledger {
        let mut stmt = conn.prepare(
            "SELECT version, checksum FROM stowage_migrations WHERE store = ?1 ORDER BY version",
        )?;
        let rows = stmt.query_map([store], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            applied_rows.push(row?);
        }
    }
    let known = migrations.last().map_or(0, |m| m.version);
    let applied = applied_rows.last().map_or(0, |(v, _)| *v);
    if applied > known {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            store,
            found: applied,
            known,
        });
    }
    for (version, found) in &applied_rows {
        let Some(m) = migrations.iter().find(|m| m.version == *version) else {
            continue;
        };
        let expected = checksum(m.sql);
        if *found != expected {
            return Err(Error::MigrationChanged {
                store,
                version: *version,
                found: found.clone(),
                expected,
            });
        }
    }
    let pending = migrations
        .iter()
        .filter(|m| !applied_rows.iter().any(|(v, _)| *v == m.version))
        .collect();
    Ok(LedgerState { applied, pending })
}

/// Applies `pending` in order and records each in the ledger. Must run inside a write
/// transaction: a failure leaves neither the schema change nor its ledger row.
pub fn apply(conn: &Connection, store: &'static str, pending: &[&'static Migration]) -> Result<()> {
    for m in pending {
        run(conn, store, m, m.sql)?;
        record(conn, store, m)?;
    }
    Ok(())
}

/// Runs `sql` (all of `m`, or one of its statements) on behalf of `m`: a failure names the
/// migration.
pub fn run(conn: &Connection, store: &'static str, m: &Migration, sql: &str) -> Result<()> {
    conn.execute_batch(sql).map_err(|e| match Error::from(e) {
        Error::Sqlite { code, message } => Error::Sqlite {
            code,
            message: format!("migration {store}/{:04}_{}: {message}", m.version, m.name),
        },
        other => other,
    })
}

/// Records `m` in the ledger as applied, without running it: for a store whose adoption made
/// the migration's changes itself (where another program had already made some of them). Must
/// run inside the write transaction that made them.
pub fn record(conn: &Connection, store: &'static str, m: &Migration) -> Result<()> {
    conn.execute_batch(LEDGER_DDL)?;
    conn.execute(
        "INSERT INTO stowage_migrations (store, version, name, checksum, applied_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![store, m.version, m.name, checksum(m.sql), now_ms()],
    )?;
    Ok(())
}

/// FNV-1a (64-bit) of the SQL with carriage returns removed, so a checkout with CRLF line
/// endings computes the same checksum as one with LF.
pub fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes().filter(|&b| b != b'\r') {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    static TWO: [Migration; 2] = [
        Migration {
            version: 1,
            name: "create",
            sql: "CREATE TABLE a(x);",
        },
        Migration {
            version: 2,
            name: "index",
            sql: "CREATE INDEX a_x ON a(x);",
        },
    ];

    fn state(conn: &Connection, m: &'static [Migration]) -> Result<LedgerState> {
        ledger_state(conn, Path::new("test.db"), "demo", m)
    }

    #[test]
    fn fresh_file_has_everything_pending_and_applies_once() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let s = state(&conn, &TWO)?;
        assert_eq!((s.applied, s.pending.len()), (0, 2));
        apply(&conn, "demo", &s.pending)?;
        let s = state(&conn, &TWO)?;
        assert_eq!((s.applied, s.pending.len()), (2, 0));
        let n: i64 = conn.query_row("SELECT count(*) FROM stowage_migrations", [], |r| r.get(0))?;
        assert_eq!(n, 2);
        Ok(())
    }

    #[test]
    fn only_new_migrations_are_pending() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        apply(&conn, "demo", &[&TWO[0]])?;
        let s = state(&conn, &TWO)?;
        assert_eq!(s.applied, 1);
        assert_eq!(s.pending.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        Ok(())
    }

    #[test]
    fn a_newer_ledger_is_refused_without_writing() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        apply(&conn, "demo", &[&TWO[0], &TWO[1]])?;
        let err = state(&conn, &TWO[..1]).unwrap_err();
        assert_eq!(err.code(), "ERR_SCHEMA_TOO_NEW");
        assert!(err.to_string().contains("schema version 2"));
        Ok(())
    }

    #[test]
    fn an_edited_applied_migration_is_an_error() -> Result<()> {
        static EDITED: [Migration; 1] = [Migration {
            version: 1,
            name: "create",
            sql: "CREATE TABLE a(x, y);",
        }];
        let conn = Connection::open_in_memory()?;
        apply(&conn, "demo", &[&TWO[0]])?;
        assert_eq!(
            state(&conn, &EDITED).unwrap_err().code(),
            "ERR_MIGRATION_CHANGED"
        );
        Ok(())
    }

    #[test]
    fn a_failing_migration_names_itself() {
        static BAD: [Migration; 1] = [Migration {
            version: 1,
            name: "broken",
            sql: "CREATE TABLE (",
        }];
        let conn = Connection::open_in_memory().unwrap();
        let err = apply(&conn, "demo", &[&BAD[0]]).unwrap_err();
        assert_eq!(err.code(), "SQLITE_ERROR");
        assert!(err.to_string().starts_with("migration demo/0001_broken:"));
    }

    #[test]
    fn checksum_ignores_carriage_returns() {
        assert_eq!(checksum("a\r\nb\r\n"), checksum("a\nb\n"));
        assert_ne!(checksum("a"), checksum("b"));
    }
}
