//! The training store's schema: its migrations, and adoption of files written by OnTheFly.
//!
//! OnTheFly never versioned its schema; every revision ran `CREATE TABLE IF NOT EXISTS` and then
//! inspected two tables. stowage replaces that with the migration ledger, plus an adoption step
//! that runs only when the file's tables differ from the shape the ledger promises:
//! - a table that lacks columns of that shape (the 5- and 13-column `metrics` of V1–V5, a
//!   `report_loss_dist` without `sample_indices`, or a file an older OnTheFly rebuilt after
//!   stowage migrated it) gets them with `ALTER TABLE … ADD COLUMN`, which keeps every row and
//!   costs nothing per row. Extra legacy columns (`runs.mode`, `metrics.theta`, …) are kept;
//! - the pre-V1 `report_loss_dist` keyed by `kind` is renamed to `report_loss_dist_legacy`
//!   (kept whole) and its rows are copied into the current table;
//! - a table with a stowage name but without its key columns is someone else's table, and the
//!   file is refused (`ERR_SCHEMA_CONFLICT`) rather than altered.
//!
//! The whole adoption runs in one `BEGIN IMMEDIATE` transaction with the pending migrations, so
//! a killed process leaves the file either fully migrated or untouched. Opening an up-to-date
//! file reads the ledger and each table's column list (schema only, no table scan).

use std::path::Path;
use std::sync::OnceLock;

use rusqlite::Connection;

use crate::engine::adopt::{self, Adoption, Shape};
use crate::engine::migrate::{self, LedgerState, Migration};
use crate::engine::registry::Spec;
use crate::engine::{ident, now_ms, table_columns, Column, Error, Result, StoreDef};

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "training";

/// The training store's migrations, in order. Append only.
pub static MIGRATIONS: [Migration; 3] = [
    Migration {
        version: 1,
        name: "onthefly_schema",
        sql: include_str!("../../migrations/training/0001_onthefly_schema.sql"),
    },
    Migration {
        version: 2,
        name: "metric_series",
        sql: include_str!("../../migrations/training/0002_metric_series.sql"),
    },
    Migration {
        version: 3,
        name: "mlflow_sync",
        sql: include_str!("../../migrations/training/0003_mlflow_sync.sql"),
    },
];

/// Name the pre-V1 report table is kept under after adoption.
const LEGACY_REPORT: &str = "report_loss_dist_legacy";

/// The training store's definition, registered in `crate::stores`.
#[derive(Debug)]
pub struct Store(Spec);

/// The training store, as the registry lists it.
pub static STORE: Store = Store(Spec {
    name: NAME,
    migrations: &MIGRATIONS,
    tables: &[
        "runs",
        "run_subsets",
        "checkpoints",
        "metrics",
        "summaries",
        "kv",
        "run_edges",
        "logs",
        "test_metrics",
        "session_final_models",
        "report_loss_dist",
        "metric_series_state",
        "metric_series_blocks",
        "mlflow_sync",
    ],
});

impl StoreDef for Store {
    fn spec(&self) -> &Spec {
        &self.0
    }

    /// Checks, without writing, that the training tables of `conn` can be brought to the
    /// current schema: the file is not from a newer stowage and holds no foreign table.
    fn check(&self, conn: &Connection, path: &Path) -> Result<()> {
        adopt::check::<Plan>(self, conn, path)
    }

    /// Brings the training tables of `conn` to the current schema; see the module docs.
    fn prepare(&self, conn: &Connection, path: &Path) -> Result<()> {
        adopt::prepare::<Plan>(self, conn, path)
    }
}

/// OnTheFly re-added the edge `run_id → parent_run_id` of every run on every open (its
/// `run_edges` backfill, a scan of `runs`). stowage does it once, when it adopts a file, so that
/// files of revisions that did not write every edge get them; later opens scan nothing.
fn backfill_primary_edges(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO run_edges (child_run_id, parent_run_id)
         SELECT run_id, parent_run_id FROM runs WHERE parent_run_id IS NOT NULL",
        [],
    )?;
    Ok(())
}

/// The tables and columns after applying the first `n` migrations, for every `n`: what a file
/// whose ledger says `n` must contain.
pub(crate) fn shapes() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| adopt::shapes(&MIGRATIONS))
}

/// What adoption has to do to a file.
#[derive(Debug, Default)]
struct Plan {
    /// `(table, column)` pairs to add.
    add: Vec<(String, Column)>,
    /// Columns of the pre-V1 report table, when it must be set aside.
    legacy_report: Option<Vec<Column>>,
}

impl Adoption for Plan {
    fn inspect(conn: &Connection, applied: i64) -> Result<Self> {
        inspect(conn, applied)
    }

    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.legacy_report.is_none()
    }

    fn apply(self, conn: &Connection, ledger: &LedgerState) -> Result<()> {
        let legacy = self.set_aside(conn)?;
        migrate::apply(conn, NAME, &ledger.pending)?;
        if let Some(legacy) = legacy {
            copy_legacy_reports(conn, &legacy)?;
        }
        if ledger.applied == 0 {
            backfill_primary_edges(conn)?;
        }
        Ok(())
    }
}

impl Plan {
    /// Adds the missing columns and sets the pre-V1 report table aside; returns its new name
    /// and columns.
    fn set_aside(&self, conn: &Connection) -> Result<Option<(String, Vec<Column>)>> {
        for (table, col) in &self.add {
            adopt::add_column(conn, table, col)?;
        }
        let Some(cols) = &self.legacy_report else {
            return Ok(None);
        };
        let mut name = LEGACY_REPORT.to_string();
        let mut n = 1;
        while table_columns(conn, "main", &name)?.is_some() {
            n += 1;
            name = format!("{LEGACY_REPORT}_{n}");
        }
        conn.execute_batch(&format!(
            "DROP INDEX IF EXISTS idx_report_loss_dist_run;
             ALTER TABLE report_loss_dist RENAME TO {};",
            ident(&name)
        ))?;
        Ok(Some((name, cols.clone())))
    }
}

/// Compares the file's tables with the shape its ledger (at `applied`) promises. Read-only.
fn inspect(conn: &Connection, applied: i64) -> Result<Plan> {
    let mut plan = Plan::default();
    for t in adopt::present(conn, shapes(), applied)? {
        if t.table == "report_loss_dist"
            && applied == 0
            && (t.has("kind") || !t.has("losses") || !t.has("subset_on"))
        {
            plan.legacy_report = Some(t.actual);
            continue;
        }
        if let Some(key) = t.expected.iter().find(|c| c.pk && !t.has(&c.name)) {
            return Err(Error::SchemaConflict(format!(
                "table '{}' exists but has no '{}' column: it is not a training-store \
                     table, and the file was not modified",
                t.table, key.name
            )));
        }
        for col in t.expected.iter().filter(|c| !t.has(&c.name)) {
            plan.add.push((t.table.to_string(), col.clone()));
        }
    }
    Ok(plan)
}

/// Copies the rows of the set-aside pre-V1 report table into `report_loss_dist`. Columns the old
/// table lacks get the current defaults; its `kind` becomes `subset_on` where it names a subset.
fn copy_legacy_reports(conn: &Connection, (table, cols): &(String, Vec<Column>)) -> Result<()> {
    let has = |name: &str| cols.iter().any(|c| c.name.eq_ignore_ascii_case(name));
    let or = |col: &str, fallback: &str| {
        if has(col) {
            format!("coalesce({}, {fallback})", ident(col))
        } else {
            fallback.to_string()
        }
    };
    let kind = if has("kind") {
        "CASE WHEN kind IN ('train', 'val') THEN kind ELSE 'train' END"
    } else {
        "'train'"
    };
    let subset = or("subset_on", kind);
    let nullable = |col: &str| if has(col) { ident(col) } else { "NULL".into() };
    let sql = format!(
        "INSERT OR REPLACE INTO report_loss_dist
           (run_id, subset_on, losses, sample_indices, note, at_step, at_epoch, samples, created_at)
         SELECT run_id, {subset}, {losses}, {indices}, {note}, {at_step}, {at_epoch}, {samples}, {created}
         FROM {table} WHERE run_id IS NOT NULL ORDER BY rowid",
        losses = or("losses", "'[]'"),
        indices = or("sample_indices", "'[]'"),
        note = nullable("note"),
        at_step = nullable("at_step"),
        at_epoch = nullable("at_epoch"),
        samples = nullable("samples"),
        created = or("created_at", &now_ms().to_string()),
        table = ident(table),
    );
    conn.execute(&sql, [])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Database, OpenOptions};
    use rusqlite::types::Value;
    use std::path::PathBuf;

    /// The columns of every table, per `reference/onthefly-storage.md` §3 (HEAD).
    const HEAD: [(&str, &[&str]); 11] = [
        (
            "checkpoints",
            &["ckpt_id", "run_id", "step", "path", "created_at"],
        ),
        ("kv", &["k", "v"]),
        (
            "logs",
            &[
                "id",
                "run_id",
                "session_id",
                "level",
                "text",
                "phase",
                "step",
                "epoch",
                "ts",
            ],
        ),
        (
            "metrics",
            &[
                "run_id",
                "step",
                "epoch",
                "loss",
                "val_loss",
                "accuracy",
                "lr",
                "grad_norm",
                "weight_norm",
                "activation_zero_frac",
                "throughput",
                "mem_vram",
                "gpu_util",
                "ts",
            ],
        ),
        (
            "report_loss_dist",
            &[
                "run_id",
                "subset_on",
                "losses",
                "sample_indices",
                "note",
                "at_step",
                "at_epoch",
                "samples",
                "created_at",
            ],
        ),
        ("run_edges", &["child_run_id", "parent_run_id"]),
        ("run_subsets", &["run_id", "indices"]),
        (
            "runs",
            &["run_id", "parent_run_id", "project", "name", "created_at"],
        ),
        (
            "session_final_models",
            &[
                "session_id",
                "run_id",
                "ckpt_path",
                "step",
                "avg_test_loss",
                "updated_at",
            ],
        ),
        ("summaries", &["run_id", "final_loss", "val_loss"]),
        ("test_metrics", &["run_id", "step", "loss", "ts"]),
    ];

    /// V1–V4 (`seamless`/early `onthefly`): `runs.mode`, 5-column metrics carrying legacy
    /// columns, reports without `sample_indices`, no final models.
    const V1: &str = "
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, project TEXT, name TEXT,
                           mode TEXT, created_at INTEGER);
        CREATE TABLE run_subsets (run_id TEXT PRIMARY KEY, indices TEXT);
        CREATE TABLE checkpoints (ckpt_id TEXT PRIMARY KEY, run_id TEXT, step INTEGER, path TEXT,
                                  created_at INTEGER);
        CREATE TABLE metrics (run_id TEXT, step INTEGER, loss REAL, val_loss REAL, ts INTEGER,
                              theta REAL, genBound REAL, constraintSatisfied INTEGER);
        CREATE TABLE summaries (run_id TEXT PRIMARY KEY, final_loss REAL, val_loss REAL);
        CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);
        CREATE TABLE run_edges (child_run_id TEXT NOT NULL, parent_run_id TEXT NOT NULL,
                                PRIMARY KEY (child_run_id, parent_run_id));
        CREATE INDEX idx_metrics_run_step ON metrics(run_id, step);
        CREATE INDEX idx_metrics_run ON metrics(run_id);
        CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, session_id TEXT,
                           level TEXT, text TEXT, phase TEXT, step INTEGER, epoch INTEGER, ts INTEGER);
        CREATE TABLE test_metrics (run_id TEXT, step INTEGER, loss REAL, ts INTEGER);
        CREATE TABLE report_loss_dist (run_id TEXT NOT NULL, subset_on TEXT NOT NULL,
            losses TEXT NOT NULL, note TEXT, at_step INTEGER, at_epoch INTEGER, samples INTEGER,
            created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
            PRIMARY KEY (run_id, subset_on));
        CREATE INDEX idx_report_loss_dist_run ON report_loss_dist(run_id);
        INSERT INTO runs VALUES ('base', NULL, 'p', 'base', 'single', 1000);
        INSERT INTO runs VALUES ('fork1', 'base', 'p', 'fork1', 'sweep', 2000);
        INSERT INTO metrics VALUES ('base', 1, 0.9, 1.0, 1001, 0.5, 2.0, 1);
        INSERT INTO metrics VALUES ('base', 2, 0.8, NULL, 1002, 0.6, 2.1, 0);
        INSERT INTO report_loss_dist VALUES ('base', 'train', '[0.5,0.25]', 'n', 2, 1, 2, 7);
        INSERT INTO logs (run_id, session_id, text, ts) VALUES ('base', 's', 'hello', 5);
    ";

    /// V5: 13-column metrics (no `epoch`), final models, no `runs.mode`.
    const V5_METRICS: &str = "
        CREATE TABLE metrics (run_id TEXT, step INTEGER, loss REAL, val_loss REAL, accuracy REAL,
            lr REAL, grad_norm REAL, weight_norm REAL, activation_zero_frac REAL, throughput REAL,
            mem_vram REAL, gpu_util REAL, ts INTEGER);
        INSERT INTO metrics VALUES ('r', 7, 0.5, 0.6, 0.9, 0.001, 1, 2, 0.1, 100, 2048, 88, 1);
    ";

    fn legacy(sql: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        conn.close().unwrap();
        (dir, path)
    }

    fn open(path: &Path) -> Result<Database> {
        Database::open(path, &OpenOptions::default())
    }

    fn names(conn: &Connection, table: &str) -> Vec<String> {
        table_columns(conn, "main", table)
            .unwrap()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect()
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn schema_sql(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_new_file_has_exactly_the_original_tables_and_columns() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir.path().join("runs.sqlite"))?;
        for (table, cols) in HEAD {
            assert_eq!(names(db.conn(), table), cols, "{table}");
        }
        let indexes: Vec<String> = db
            .conn()
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        assert_eq!(
            indexes,
            [
                "idx_edges_child",
                "idx_edges_parent",
                "idx_logs_phase",
                "idx_logs_run",
                "idx_metrics_run",
                "idx_metrics_run_step",
                "idx_report_loss_dist_run",
                "idx_test_metrics_run_step",
            ]
        );
        Ok(())
    }

    #[test]
    fn a_v1_file_is_adopted_in_place_with_every_row_and_legacy_column() -> Result<()> {
        let (_d, path) = legacy(V1);
        let db = open(&path)?;
        let c = db.conn();
        let metrics = names(c, "metrics");
        for col in HEAD[3].1 {
            assert!(metrics.contains(&col.to_string()), "metrics.{col}");
        }
        assert!(metrics.contains(&"theta".to_string()));
        assert_eq!(count(c, "SELECT count(*) FROM metrics"), 2);
        assert_eq!(
            count(c, "SELECT count(*) FROM metrics WHERE theta IS NOT NULL"),
            2
        );
        assert_eq!(
            names(c, "runs"),
            [
                "run_id",
                "parent_run_id",
                "project",
                "name",
                "mode",
                "created_at"
            ]
        );
        let t = db.training()?;
        let rows = t.run_rows("base")?;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.get(0, "loss"), Some(Value::Real(0.9)));
        assert_eq!(rows.get(0, "epoch"), Some(Value::Null));
        let runs = t.list_runs()?;
        assert_eq!(runs.rows.get(0, "mode"), Some(Value::Text("sweep".into())));
        assert_eq!(runs.parents, [vec!["base".to_string()], vec![]]);
        let report = t.report_loss_dist("base", "train")?.unwrap();
        assert_eq!(report.losses, [0.5, 0.25]);
        assert_eq!(report.sample_indices, [0.0, 1.0]);
        t.upsert_final_model(&crate::training::FinalModelInput {
            session_id: "s".into(),
            ..Default::default()
        })?;
        t.insert_metric(
            "base",
            &crate::training::MetricInput {
                step: Some(3.0),
                epoch: Some(1.0),
                ..Default::default()
            },
        )?;
        assert_eq!(
            count(
                c,
                "SELECT max(version) FROM stowage_migrations WHERE store = 'training'"
            ),
            3
        );
        Ok(())
    }

    #[test]
    fn opening_an_adopted_file_again_changes_nothing() -> Result<()> {
        let (_d, path) = legacy(V1);
        let before = {
            let db = open(&path)?;
            schema_sql(db.conn())
        };
        let db = open(&path)?;
        assert_eq!(db.conn().total_changes(), 0);
        assert_eq!(schema_sql(db.conn()), before);
        Ok(())
    }

    #[test]
    fn a_v5_file_gains_epoch_and_keeps_its_rows() -> Result<()> {
        let (_d, path) = legacy(V5_METRICS);
        let db = open(&path)?;
        let rows = db.training()?.run_rows("r")?;
        assert_eq!(rows.len(), 1);
        // A number as JS reads it: the REAL 88.0 and the INTEGER 88 are the same value.
        assert_eq!(rows.get(0, "gpu_util"), Some(Value::Integer(88)));
        assert_eq!(rows.get(0, "epoch"), Some(Value::Null));
        Ok(())
    }

    #[test]
    fn a_kind_keyed_report_table_is_kept_aside_and_its_rows_copied() -> Result<()> {
        let (_d, path) = legacy(
            "CREATE TABLE report_loss_dist (run_id TEXT NOT NULL, kind TEXT NOT NULL, losses TEXT,
                 note TEXT, at_step INTEGER, samples INTEGER, PRIMARY KEY (run_id, kind));
             CREATE INDEX idx_report_loss_dist_run ON report_loss_dist(run_id);
             INSERT INTO report_loss_dist VALUES ('a', 'val', '[1,2]', 'old', 3, 2);
             INSERT INTO report_loss_dist VALUES ('b', 'loss_hist', NULL, NULL, NULL, NULL);",
        );
        let db = open(&path)?;
        let c = db.conn();
        assert_eq!(count(c, "SELECT count(*) FROM report_loss_dist_legacy"), 2);
        let t = db.training()?;
        let a = t.report_loss_dist("a", "val")?.unwrap();
        assert_eq!(
            (a.losses, a.note, a.samples),
            (vec![1.0, 2.0], Value::Text("old".into()), 2.0)
        );
        let b = t.report_loss_dist("b", "train")?.unwrap();
        assert!(b.losses.is_empty());
        assert_eq!(names(c, "report_loss_dist"), HEAD[4].1);
        assert_eq!(
            count(c, "SELECT count(*) FROM sqlite_schema WHERE name = 'idx_report_loss_dist_run' AND tbl_name = 'report_loss_dist'"),
            1
        );
        Ok(())
    }

    #[test]
    fn a_file_from_a_newer_stowage_is_refused_untouched() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.sqlite");
        drop(open(&path)?);
        Connection::open(&path)?.execute(
            "INSERT INTO stowage_migrations VALUES ('training', 99, 'future', 'x', 0)",
            [],
        )?;
        let bytes = std::fs::read(&path).unwrap();
        let err = open(&path).unwrap_err();
        assert_eq!(err.code(), "ERR_SCHEMA_TOO_NEW");
        assert!(err.to_string().contains("version 99"), "{err}");
        assert!(std::fs::read(&path).unwrap() == bytes, "the file changed");
        Ok(())
    }

    #[test]
    fn a_foreign_table_with_a_stowage_name_is_refused_untouched() {
        let (_d, path) = legacy("CREATE TABLE runs (id INTEGER PRIMARY KEY, cmd TEXT);");
        let bytes = std::fs::read(&path).unwrap();
        let err = open(&path).unwrap_err();
        assert_eq!(err.code(), "ERR_SCHEMA_CONFLICT");
        assert!(err.to_string().contains("'runs'"));
        assert!(std::fs::read(&path).unwrap() == bytes, "the file changed");
    }

    #[test]
    fn columns_an_older_onthefly_dropped_are_restored_on_open() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.sqlite");
        drop(open(&path)?);
        // What V5's rebuild does to a V6+ file: metrics without epoch.
        Connection::open(&path)?.execute_batch(&format!("DROP TABLE metrics; {V5_METRICS}"))?;
        let db = open(&path)?;
        assert!(names(db.conn(), "metrics").contains(&"epoch".to_string()));
        assert_eq!(db.training()?.run_rows("r")?.len(), 1);
        Ok(())
    }

    #[test]
    fn an_adopted_file_gets_its_missing_primary_edges_once_and_later_opens_change_nothing(
    ) -> Result<()> {
        let (_d, path) = legacy(&format!("{V1} DELETE FROM run_edges;"));
        {
            let db = open(&path)?;
            let t = db.training()?;
            assert_eq!(t.list_runs()?.parents, [vec!["base".to_string()], vec![]]);
            // Edges replaced by a later insertRun stay as written (OnTheFly re-added the
            // primary edge on each open, from a scan of `runs`).
            t.insert_run("fork1", Some("p"), Some("fork1"), &[])?;
        }
        let db = open(&path)?;
        assert_eq!(db.conn().total_changes(), 0);
        assert_eq!(
            db.training()?.list_runs()?.parents,
            [Vec::<String>::new(), vec![]]
        );
        Ok(())
    }
}
