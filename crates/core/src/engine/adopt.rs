//! Helpers for adopting files whose tables were created by another program (OnTheFly,
//! overstory) without a migration ledger: what each ledger version promises, and the in-place
//! changes that bring a table to that shape without rewriting its rows.

use std::path::Path;

use rusqlite::Connection;

use super::migrate::{self, LedgerState, Migration};
use super::{ident, table_columns, write_tx, Column, Result, StoreDef};

/// What adopting a file means for one store: the changes its tables need before the store's
/// pending migrations can run, worked out by [`Adoption::inspect`] without writing.
pub(crate) trait Adoption: Sized {
    /// Compares the file's tables with the shape a ledger at `applied` promises. Read-only; an
    /// error (a foreign table, say) refuses the file.
    fn inspect(conn: &Connection, applied: i64) -> Result<Self>;
    /// True when the tables need no change.
    fn is_empty(&self) -> bool;
    /// Makes the changes and applies the pending migrations, inside the write transaction.
    fn apply(self, conn: &Connection, ledger: &LedgerState) -> Result<()>;
}

/// [`StoreDef::check`] of a store that adopts files through the plan `A`: the file is not from
/// a newer stowage and holds no foreign table.
pub(crate) fn check<A: Adoption>(
    store: &dyn StoreDef,
    conn: &Connection,
    path: &Path,
) -> Result<()> {
    let ledger = migrate::ledger_state(conn, path, store.name(), store.migrations())?;
    A::inspect(conn, ledger.applied).map(drop)
}

/// [`StoreDef::prepare`] of a store that adopts files through the plan `A`: brings its tables
/// to the current schema in one `BEGIN IMMEDIATE` transaction (so a killed process leaves the
/// file fully migrated or untouched); an up-to-date file only has its ledger and column lists
/// read.
pub(crate) fn prepare<A: Adoption>(
    store: &dyn StoreDef,
    conn: &Connection,
    path: &Path,
) -> Result<()> {
    let state = || migrate::ledger_state(conn, path, store.name(), store.migrations());
    let ledger = state()?;
    if ledger.pending.is_empty() && A::inspect(conn, ledger.applied)?.is_empty() {
        return Ok(());
    }
    write_tx(conn, |conn| {
        // Another process may have migrated between the read above and our write lock.
        let ledger = state()?;
        A::inspect(conn, ledger.applied)?.apply(conn, &ledger)
    })
}

/// Every table of a schema with its columns.
pub(crate) type Shape = Vec<(String, Vec<Column>)>;

/// The tables and columns after applying the first `n` of `migrations`, for every `n` (index 0
/// is the empty schema), computed on an in-memory database.
pub(crate) fn shapes(migrations: &[Migration]) -> Vec<Shape> {
    let conn = Connection::open_in_memory().expect("in-memory SQLite always opens");
    let mut out = vec![Vec::new()];
    for m in migrations {
        conn.execute_batch(m.sql)
            .expect("embedded migrations are valid SQL");
        let names: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("schema query on an in-memory database");
        let shape = names
            .into_iter()
            .map(|n| {
                let cols = table_columns(&conn, "main", &n)
                    .ok()
                    .flatten()
                    .expect("a table just created has columns");
                (n, cols)
            })
            .collect();
        out.push(shape);
    }
    out
}

/// One table a ledger version promises that the file already has.
pub(crate) struct Present<'s> {
    pub table: &'s str,
    /// The columns the ledger version promises.
    pub expected: &'s [Column],
    /// The columns the file has.
    pub actual: Vec<Column>,
}

impl Present<'_> {
    /// True when the file's table has the column `name` (SQLite names are case-insensitive).
    pub fn has(&self, name: &str) -> bool {
        self.actual
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// The tables of `shapes[applied]` (at least version 1) that exist in the file. Read-only.
pub(crate) fn present<'s>(
    conn: &Connection,
    shapes: &'s [Shape],
    applied: i64,
) -> Result<Vec<Present<'s>>> {
    let target = usize::try_from(applied)
        .unwrap_or(0)
        .clamp(1, shapes.len() - 1);
    let mut out = Vec::new();
    for (table, expected) in &shapes[target] {
        if let Some(actual) = table_columns(conn, "main", table)? {
            out.push(Present {
                table,
                expected,
                actual,
            });
        }
    }
    Ok(out)
}

/// `ALTER TABLE … ADD COLUMN` with the column's type and default (and `NOT NULL` when it has a
/// default, the only way SQLite can add one). Costs nothing per row.
pub(crate) fn add_column(conn: &Connection, table: &str, col: &Column) -> Result<()> {
    let mut sql = format!(
        "ALTER TABLE {} ADD COLUMN {} {}",
        ident(table),
        ident(&col.name),
        col.decl_type
    );
    if let Some(default) = &col.default {
        sql.push_str(&format!(" DEFAULT {default}"));
        if col.notnull {
            sql.push_str(" NOT NULL");
        }
    }
    conn.execute_batch(&sql)?;
    Ok(())
}

/// The `CREATE TABLE` text SQLite keeps for `table` in the main schema.
pub(crate) fn table_sql(conn: &Connection, table: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?)
}
