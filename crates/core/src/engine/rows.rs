//! Query results, column by column, in the column order SQLite reports.
//!
//! Stores return [`Rows`] for every row-shaped result. Columns are kept in the form that is
//! cheapest to hand to JavaScript: numbers as one `f64` vector (NULL as NaN, which SQLite never
//! stores), text as one string with offsets, and anything else (BLOBs, integers beyond ±(2^53−1),
//! columns mixing numbers and text) as plain values.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Params, Statement};

use super::{Error, Result};

/// Largest integer an `f64` holds exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;

/// Text columns longer than this (in bytes) are kept as separate values rather than one string.
const MAX_PACKED_TEXT: usize = 128 << 20;

/// A result set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names, in select order.
    pub columns: Vec<String>,
    /// The values of each column, `columns.len()` of them, each `len()` long.
    pub data: Vec<Column>,
    len: usize,
}

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// INTEGER (within ±(2^53−1)) and REAL values; NULL is NaN.
    Number(Vec<f64>),
    /// TEXT values, one after the other in `text`; value `i` ends at byte `ends[i]`; NULLs are
    /// empty and marked in `nulls`.
    Text {
        text: String,
        ends: Vec<usize>,
        nulls: Vec<bool>,
    },
    /// Anything else.
    Values(Vec<Value>),
}

impl Column {
    /// Value `i`, as SQLite stored it (integral numbers come back as INTEGER).
    pub fn value(&self, i: usize) -> Value {
        match self {
            Column::Number(xs) => number_value(xs[i]),
            Column::Text { text, ends, nulls } => {
                if nulls[i] {
                    Value::Null
                } else {
                    let start = if i == 0 { 0 } else { ends[i - 1] };
                    Value::Text(text[start..ends[i]].to_string())
                }
            }
            Column::Values(vs) => vs[i].clone(),
        }
    }

    /// The column as numbers: NaN for NULL and for anything that is not a number. An integer
    /// that a double cannot hold exactly (beyond ±2^53, odd enough) is never rounded: it is
    /// returned as the error.
    pub fn to_f64s(&self) -> Result<Vec<f64>, i64> {
        match self {
            Column::Number(xs) => Ok(xs.clone()),
            Column::Text { nulls, .. } => Ok(vec![f64::NAN; nulls.len()]),
            Column::Values(vs) => vs
                .iter()
                .map(|v| match v {
                    Value::Integer(i) if *i as f64 as i128 == i128::from(*i) => Ok(*i as f64),
                    Value::Integer(i) => Err(*i),
                    Value::Real(f) => Ok(*f),
                    _ => Ok(f64::NAN),
                })
                .collect(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Number(xs) => xs.len(),
            Column::Text { nulls, .. } => nulls.len(),
            Column::Values(vs) => vs.len(),
        }
    }

    fn push(&mut self, v: ValueRef<'_>) {
        match (&mut *self, v) {
            (Column::Number(xs), ValueRef::Null) => xs.push(f64::NAN),
            (Column::Number(xs), ValueRef::Integer(i)) if (-MAX_SAFE..=MAX_SAFE).contains(&i) => {
                xs.push(i as f64)
            }
            (Column::Number(xs), ValueRef::Real(f)) => xs.push(f),
            (Column::Number(xs), ValueRef::Text(t)) if xs.iter().all(|x| x.is_nan()) => {
                let n = xs.len();
                *self = Column::Text {
                    text: String::new(),
                    ends: vec![0; n],
                    nulls: vec![true; n],
                };
                self.push(ValueRef::Text(t));
            }
            (Column::Text { text, ends, nulls }, ValueRef::Null) => {
                ends.push(text.len());
                nulls.push(true);
            }
            (Column::Text { text, ends, nulls }, ValueRef::Text(t))
                if text.len() + t.len() <= MAX_PACKED_TEXT =>
            {
                text.push_str(&utf8(t));
                ends.push(text.len());
                nulls.push(false);
            }
            (Column::Values(vs), v) => vs.push(owned(v)),
            (_, v) => {
                let values = (0..self.len()).map(|i| self.value(i)).collect();
                *self = Column::Values(values);
                self.push(v);
            }
        }
    }
}

/// A number as SQLite would have stored it.
fn number_value(x: f64) -> Value {
    if x.is_nan() {
        Value::Null
    } else if x.fract() == 0.0 && x.abs() <= MAX_SAFE as f64 {
        Value::Integer(x as i64)
    } else {
        Value::Real(x)
    }
}

impl Rows {
    /// Runs `sql` (a cached prepared statement) with `params` and collects every row.
    pub fn query<P: Params>(conn: &Connection, sql: &str, params: P) -> Result<Rows> {
        let mut stmt = conn.prepare_cached(sql)?;
        Self::collect(&mut stmt, params)
    }

    /// Runs one read-only statement given as text (a `SELECT`, `WITH`, `VALUES` or `EXPLAIN`),
    /// for tools that look into a file: anything else, and more than one statement, is
    /// `ERR_INVALID_ARG` before it runs.
    pub fn query_read_only(conn: &Connection, sql: &str, params: &[Value]) -> Result<Rows> {
        let first = sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let refuse = |why: &str| Err(Error::InvalidArg(format!("query: {why}")));
        if !matches!(first.as_str(), "SELECT" | "WITH" | "VALUES" | "EXPLAIN") {
            return refuse("only SELECT, WITH, VALUES and EXPLAIN statements are allowed");
        }
        let mut stmt = match conn.prepare(sql) {
            Err(rusqlite::Error::MultipleStatement) => {
                return refuse("the text holds more than one statement")
            }
            other => other?,
        };
        if !stmt.readonly() {
            return refuse("the statement would write to the file");
        }
        if stmt.parameter_count() != params.len() {
            return refuse(&format!(
                "the statement has {} parameters, {} values were given",
                stmt.parameter_count(),
                params.len()
            ));
        }
        Self::collect(&mut stmt, rusqlite::params_from_iter(params))
    }

    fn collect<P: Params>(stmt: &mut Statement<'_>, params: P) -> Result<Rows> {
        // Names are read after the first step: a cached statement whose table changed since it
        // was prepared (`ALTER TABLE … ADD COLUMN`) is only re-prepared by SQLite when stepped.
        let names = |s: &Statement<'_>| s.column_names().map(str::to_string).collect::<Vec<_>>();
        let mut columns: Option<Vec<String>> = None;
        let mut data: Vec<Column> = Vec::new();
        let mut len = 0;
        let mut rows = stmt.query(params)?;
        while let Some(row) = rows.next()? {
            if columns.is_none() {
                let cols = names(row.as_ref());
                data = cols.iter().map(|_| Column::Number(Vec::new())).collect();
                columns = Some(cols);
            }
            for (i, col) in data.iter_mut().enumerate() {
                col.push(row.get_ref(i)?);
            }
            len += 1;
        }
        drop(rows);
        let columns = columns.unwrap_or_else(|| names(stmt));
        if data.is_empty() {
            data = columns.iter().map(|_| Column::Number(Vec::new())).collect();
        }
        Ok(Rows { columns, data, len })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values of row `i`.
    pub fn row(&self, i: usize) -> Vec<Value> {
        self.data.iter().map(|c| c.value(i)).collect()
    }

    /// Every row, as values.
    pub fn iter(&self) -> impl Iterator<Item = Vec<Value>> + '_ {
        (0..self.len).map(|i| self.row(i))
    }

    /// The value of `column` in row `i`, if that column exists.
    pub fn get(&self, i: usize, column: &str) -> Option<Value> {
        let c = self.columns.iter().position(|n| n == column)?;
        Some(self.data[c].value(i))
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        let c = self.columns.iter().position(|n| n == name)?;
        Some(&self.data[c])
    }
}

/// SQLite TEXT as a string, decoded lossily when it is not valid UTF-8. Valid text (all of it,
/// in practice) is checked by `str::from_utf8`, several times faster than the lossy decoder's
/// own scan (a tenth of a 10,000-row listing's time went to that scan).
fn utf8(t: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(t) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(t),
    }
}

/// Copies a borrowed SQLite value. TEXT that is not valid UTF-8 (written by another tool) is
/// decoded lossily rather than failing the whole query.
pub fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(utf8(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_read_only_runs_reads_and_refuses_everything_else() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t(n); INSERT INTO t VALUES (1), (2), (3);")?;
        let rows = Rows::query_read_only(
            &conn,
            "  select n from t where n >= ? order by n",
            &[Value::Integer(2)],
        )?;
        assert_eq!(
            rows.iter().collect::<Vec<_>>(),
            [[Value::Integer(2)], [Value::Integer(3)]]
        );
        let with = Rows::query_read_only(&conn, "WITH x AS (SELECT 7 AS v) SELECT v FROM x", &[])?;
        assert_eq!(with.get(0, "v"), Some(Value::Integer(7)));
        for sql in [
            "DELETE FROM t",
            "WITH x AS (SELECT 1) DELETE FROM t",
            "SELECT 1; DELETE FROM t",
            "PRAGMA journal_mode = DELETE",
            "ATTACH ':memory:' AS other",
            "BEGIN",
        ] {
            let err = Rows::query_read_only(&conn, sql, &[]).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG", "{sql}");
        }
        let err = Rows::query_read_only(&conn, "SELECT ?", &[]).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        let count: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(count, 3);
        Ok(())
    }

    #[test]
    fn a_text_column_with_invalid_utf8_is_packed_and_decoded_lossily() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE t(s); INSERT INTO t VALUES ('plain'), (CAST(x'41ff42' AS TEXT)), ('é');",
        )?;
        let rows = Rows::query(&conn, "SELECT s FROM t ORDER BY rowid", [])?;
        let text = |i| rows.data[0].value(i);
        assert_eq!(text(0), Value::Text("plain".into()));
        assert_eq!(text(1), Value::Text("A\u{fffd}B".into()));
        assert_eq!(text(2), Value::Text("é".into()));
        let mixed = Rows::query(
            &conn,
            "SELECT CAST(x'ff' AS TEXT) UNION ALL SELECT x'00'",
            [],
        )?;
        assert_eq!(mixed.data[0].value(0), Value::Text("\u{fffd}".into()));
        Ok(())
    }

    #[test]
    fn columns_take_the_cheapest_form_their_values_allow() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE t(n, s, m, z);
             INSERT INTO t VALUES (1, NULL, 1, NULL), (2.5, 'é', 'x', NULL), (NULL, 'b', x'00', NULL);",
        )?;
        let rows = Rows::query(&conn, "SELECT n, s, m, z FROM t ORDER BY rowid", [])?;
        assert_eq!(rows.len(), 3);
        assert!(
            matches!(&rows.data[0], Column::Number(xs) if xs[..2] == [1.0, 2.5] && xs[2].is_nan())
        );
        assert!(matches!(&rows.data[1], Column::Text { text, .. } if text == "éb"));
        assert!(matches!(&rows.data[2], Column::Values(_)));
        assert!(matches!(&rows.data[3], Column::Number(xs) if xs.iter().all(|x| x.is_nan())));
        assert_eq!(
            rows.row(0),
            [
                Value::Integer(1),
                Value::Null,
                Value::Integer(1),
                Value::Null
            ]
        );
        assert_eq!(
            rows.row(1),
            [
                Value::Real(2.5),
                Value::Text("é".into()),
                Value::Text("x".into()),
                Value::Null
            ]
        );
        assert_eq!(
            rows.row(2),
            [
                Value::Null,
                Value::Text("b".into()),
                Value::Blob(vec![0]),
                Value::Null
            ]
        );
        Ok(())
    }

    #[test]
    fn big_integers_and_invalid_utf8_stay_exact_or_readable() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t(a); INSERT INTO t VALUES (7), (9007199254740993);")?;
        conn.execute("INSERT INTO t VALUES (CAST(x'61ff62' AS TEXT))", [])?;
        let rows = Rows::query(&conn, "SELECT a FROM t ORDER BY rowid", [])?;
        assert_eq!(
            rows.column("a").unwrap().to_f64s(),
            Err(9_007_199_254_740_993)
        );
        let exact = Rows::query(&conn, "SELECT 1152921504606846976 AS b", [])?;
        assert_eq!(
            exact.column("b").unwrap().to_f64s(),
            Ok(vec![1_152_921_504_606_846_976.0])
        );
        assert_eq!(
            rows.get(1, "a"),
            Some(Value::Integer(9_007_199_254_740_993))
        );
        assert_eq!(rows.get(2, "a"), Some(Value::Text("a\u{fffd}b".into())));
        assert_eq!(rows.get(0, "a"), Some(Value::Integer(7)));
        assert_eq!(rows.get(0, "b"), None);
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
