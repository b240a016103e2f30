//! Query results as plain values, in the column order SQLite reports.
//!
//! Stores return [`Rows`] for every row-shaped result so the binding can turn them into JS
//! objects with the column names as keys, exactly as better-sqlite3's `.all()` does.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Params, Statement};

use super::Result;

/// A result set: column names and row-major values (`values.len() == len() * columns.len()`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names, in select order.
    pub columns: Vec<String>,
    /// Every value of every row, row after row.
    pub values: Vec<Value>,
}

impl Rows {
    /// Runs `sql` (a cached prepared statement) with `params` and collects every row.
    pub fn query<P: Params>(conn: &Connection, sql: &str, params: P) -> Result<Rows> {
        let mut stmt = conn.prepare_cached(sql)?;
        Self::collect(&mut stmt, params)
    }

    fn collect<P: Params>(stmt: &mut Statement<'_>, params: P) -> Result<Rows> {
        // Names are read after the first step: a cached statement whose table changed since it
        // was prepared (`ALTER TABLE … ADD COLUMN`) is only re-prepared by SQLite when stepped.
        let names = |s: &Statement<'_>| s.column_names().map(str::to_string).collect::<Vec<_>>();
        let mut columns = None;
        let mut values = Vec::new();
        let mut rows = stmt.query(params)?;
        while let Some(row) = rows.next()? {
            let width = columns.get_or_insert_with(|| names(row.as_ref())).len();
            for i in 0..width {
                values.push(owned(row.get_ref(i)?));
            }
        }
        drop(rows);
        let columns = columns.unwrap_or_else(|| names(stmt));
        Ok(Rows { columns, values })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values
            .len()
            .checked_div(self.columns.len())
            .unwrap_or_default()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values of row `i`.
    pub fn row(&self, i: usize) -> &[Value] {
        let w = self.columns.len();
        &self.values[i * w..(i + 1) * w]
    }

    /// Iterates over the rows.
    pub fn iter(&self) -> impl Iterator<Item = &[Value]> {
        self.values.chunks(self.columns.len().max(1))
    }

    /// The value of `column` in row `i`, if that column exists.
    pub fn get(&self, i: usize, column: &str) -> Option<&Value> {
        let c = self.columns.iter().position(|n| n == column)?;
        Some(&self.row(i)[c])
    }
}

/// Copies a borrowed SQLite value. TEXT that is not valid UTF-8 (written by another tool) is
/// decoded lossily rather than failing the whole query.
pub fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn collects_rows_in_select_order_with_lossy_text() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 2.5), (NULL, x'ff');")?;
        conn.execute("INSERT INTO t VALUES ('x', CAST(x'61ff62' AS TEXT))", [])?;
        let rows = Rows::query(&conn, "SELECT b, a FROM t ORDER BY rowid", [])?;
        assert_eq!(rows.columns, ["b", "a"]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.row(0), [Value::Real(2.5), Value::Integer(1)]);
        assert_eq!(rows.row(1), [Value::Blob(vec![0xff]), Value::Null]);
        assert_eq!(rows.get(2, "b"), Some(&Value::Text("a\u{fffd}b".into())));
        assert_eq!(rows.get(2, "c"), None);
        Ok(())
    }

    #[test]
    fn a_cached_select_star_sees_columns_added_since_it_was_prepared() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t(a); INSERT INTO t VALUES (1);")?;
        assert_eq!(Rows::query(&conn, "SELECT * FROM t", [])?.columns, ["a"]);
        conn.execute_batch("ALTER TABLE t ADD COLUMN b; UPDATE t SET b = 2;")?;
        let rows = Rows::query(&conn, "SELECT * FROM t", [])?;
        assert_eq!(rows.columns, ["a", "b"]);
        assert_eq!(rows.row(0), [Value::Integer(1), Value::Integer(2)]);
        Ok(())
    }

    #[test]
    fn empty_results_have_columns_but_no_rows() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let rows = Rows::query(&conn, "SELECT 1 AS one WHERE 0", [])?;
        assert_eq!(rows.columns, ["one"]);
        assert!(rows.is_empty());
        assert_eq!(rows.iter().count(), 0);
        Ok(())
    }
}
