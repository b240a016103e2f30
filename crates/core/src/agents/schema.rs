//! The agents store's schema: its migrations, and adoption of `sessions.db` files written by
//! overstory (bun:sqlite), which never versioned its schema.
//!
//! overstory's layouts differ from the current one in four ways, each adopted in place with
//! every row kept (in the order overstory itself applies them):
//! - `sessions.state` carries a `CHECK(state IN (…))` of the 5-state era: the table is rebuilt
//!   from its live columns without it (the only change SQLite cannot make with `ALTER`);
//! - `bead_id` (before February 2026) is renamed `task_id`;
//! - later columns (`transcript_path`, `prompt_version`, `claude_session_id`,
//!   `runs.coordinator_name`) are added;
//! - then the migration creates what is missing (the `runs` table of the earliest files, the
//!   indexes) and the ledger records it, so later opens only read the ledger and column lists.
//!
//! A `sessions` or `runs` table without the store's key columns belongs to another program (the
//! training store's `runs`, for one) and the file is refused with `ERR_SCHEMA_CONFLICT`.

use std::path::Path;
use std::sync::OnceLock;

use rusqlite::Connection;

use crate::engine::adopt::{self, Adoption, Shape};
use crate::engine::migrate::{self, LedgerState, Migration};
use crate::engine::registry::Spec;
use crate::engine::{ident, table_columns, Column, Error, Result, StoreDef};

/// The store's name in the ledger and in `openStore(path, { stores })`.
pub const NAME: &str = "agents";

/// The agents store's migrations, in order. Append only.
pub static MIGRATIONS: [Migration; 1] = [Migration {
    version: 1,
    name: "overstory_schema",
    sql: include_str!("../../migrations/agents/0001_overstory_schema.sql"),
}];

/// Columns without which a table of that name is not the agents store's.
const KEYS: [(&str, &[&str]); 2] = [
    ("sessions", &["id", "agent_name", "state"]),
    ("runs", &["id", "status", "started_at"]),
];

fn shapes() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| adopt::shapes(&MIGRATIONS))
}

/// What adoption has to do to a file.
#[derive(Debug, Default)]
struct Plan {
    relax_state_check: bool,
    rename_bead_id: bool,
    add: Vec<(String, Column)>,
}

impl Adoption for Plan {
    fn inspect(conn: &Connection, applied: i64) -> Result<Self> {
        inspect(conn, applied)
    }

    fn is_empty(&self) -> bool {
        !self.relax_state_check && !self.rename_bead_id && self.add.is_empty()
    }

    fn apply(self, conn: &Connection, ledger: &LedgerState) -> Result<()> {
        if self.relax_state_check {
            rebuild_without_checks(conn, "sessions", "agent_name")?;
        }
        if self.rename_bead_id {
            conn.execute_batch("ALTER TABLE sessions RENAME COLUMN bead_id TO task_id")?;
        }
        for (table, col) in &self.add {
            adopt::add_column(conn, table, col)?;
        }
        migrate::apply(conn, NAME, &ledger.pending)
    }
}

/// The agents store's definition, registered in `crate::stores`.
#[derive(Debug)]
pub struct Store(Spec);

/// The agents store, as the registry lists it.
pub static STORE: Store = Store(Spec {
    name: NAME,
    migrations: &MIGRATIONS,
    tables: &["sessions", "runs"],
});

impl StoreDef for Store {
    fn spec(&self) -> &Spec {
        &self.0
    }

    /// Checks, without writing, that the file's agents tables can be brought to the current
    /// schema.
    fn check(&self, conn: &Connection, path: &Path) -> Result<()> {
        adopt::check::<Plan>(self, conn, path)
    }

    /// Brings the file's agents tables to the current schema; see the module docs.
    fn prepare(&self, conn: &Connection, path: &Path) -> Result<()> {
        adopt::prepare::<Plan>(self, conn, path)
    }
}

/// Compares the file's tables with the shape its ledger (at `applied`) promises. Read-only.
fn inspect(conn: &Connection, applied: i64) -> Result<Plan> {
    let mut plan = Plan::default();
    for t in adopt::present(conn, shapes(), applied)? {
        let keys = KEYS
            .iter()
            .find(|(name, _)| *name == t.table)
            .map_or(&[][..], |(_, k)| *k);
        if let Some(key) = keys.iter().find(|k| !t.has(k)) {
            return Err(Error::SchemaConflict(format!(
                "table '{}' exists but has no '{key}' column: it is not an agents-store \
                 table (a file cannot host both the training and the agents store), and the \
                 file was not modified",
                t.table
            )));
        }
        if t.table == "sessions" {
            plan.relax_state_check = has_state_check(conn)?;
            plan.rename_bead_id = t.has("bead_id") && !t.has("task_id");
        }
        for col in t.expected.iter().filter(|c| !t.has(&c.name)) {
            if !(plan.rename_bead_id && col.name == "task_id") {
                plan.add.push((t.table.to_string(), col.clone()));
            }
        }
    }
    Ok(plan)
}

/// True when `sessions` was created with a `CHECK(state IN (…))` (overstory before May 2026).
fn has_state_check(conn: &Connection) -> Result<bool> {
    let sql = adopt::table_sql(conn, "sessions")?.unwrap_or_default();
    let squashed: String = sql
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"' && *c != '`')
        .collect::<String>()
        .to_ascii_lowercase();
    Ok(squashed.contains("check(statein("))
}

/// Recreates `table` from its live columns (types, NOT NULL, defaults, primary key, and UNIQUE
/// on `unique`) without its CHECK constraints, copying every row. Its indexes go with the old
/// table; the migration that follows re-creates them.
fn rebuild_without_checks(conn: &Connection, table: &str, unique: &str) -> Result<()> {
    let cols = table_columns(conn, "main", table)?.unwrap_or_default();
    let pk: Vec<&Column> = cols.iter().filter(|c| c.pk).collect();
    let mut defs: Vec<String> = cols
        .iter()
        .map(|c| {
            let mut d = format!("{} {}", ident(&c.name), c.decl_type);
            if pk.len() == 1 && c.pk {
                d.push_str(" PRIMARY KEY");
            }
            if c.notnull {
                d.push_str(" NOT NULL");
            }
            if c.name.eq_ignore_ascii_case(unique) {
                d.push_str(" UNIQUE");
            }
            if let Some(default) = &c.default {
                d.push_str(&format!(" DEFAULT {default}"));
            }
            d
        })
        .collect();
    if pk.len() > 1 {
        let names: Vec<String> = pk.iter().map(|c| ident(&c.name)).collect();
        defs.push(format!("PRIMARY KEY ({})", names.join(", ")));
    }
    let names: Vec<String> = cols.iter().map(|c| ident(&c.name)).collect();
    let names = names.join(", ");
    let tmp = ident(&format!("{table}_stowage_rebuild"));
    conn.execute_batch(&format!(
        "CREATE TABLE {tmp} ({defs});
         INSERT INTO {tmp} ({names}) SELECT {names} FROM {table};
         DROP TABLE {table};
         ALTER TABLE {tmp} RENAME TO {table};",
        defs = defs.join(", "),
        table = ident(table),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::tests::open;
    use crate::engine::{Database, OpenOptions};

    const FIVE_STATE: &str = "
        CREATE TABLE sessions (id TEXT PRIMARY KEY, agent_name TEXT NOT NULL UNIQUE,
          capability TEXT NOT NULL, worktree_path TEXT NOT NULL, branch_name TEXT NOT NULL,
          bead_id TEXT NOT NULL, tmux_session TEXT NOT NULL,
          state TEXT NOT NULL DEFAULT 'booting'
            CHECK(state IN ('booting','working','completed','stalled','zombie')),
          pid INTEGER, parent_agent TEXT, depth INTEGER NOT NULL DEFAULT 0, run_id TEXT,
          started_at TEXT NOT NULL, last_activity TEXT NOT NULL,
          escalation_level INTEGER NOT NULL DEFAULT 0, stalled_since TEXT);
        INSERT INTO sessions VALUES ('s1', 'a', 'lead', '/w', 'b', 'bead-1', 't', 'stalled', 7,
          NULL, 1, 'run-1', '2026-01-01', '2026-01-02', 2, '2026-01-03');";

    fn agents_options() -> OpenOptions {
        OpenOptions::new([&STORE as &'static dyn StoreDef])
    }

    #[test]
    fn a_five_state_file_is_rebuilt_renamed_and_extended_in_one_go() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.db");
        Connection::open(&path)?.execute_batch(FIVE_STATE)?;
        let db = Database::open(&path, &agents_options())?;
        assert!(!has_state_check(db.conn())?);
        let a = db.agents()?;
        let s = a.get_by_name("a")?.unwrap();
        assert_eq!(
            (s.task_id.as_str(), s.pid, s.depth, s.escalation_level),
            ("bead-1", Some(7), 1, 2)
        );
        assert_eq!(s.stalled_since.as_deref(), Some("2026-01-03"));
        a.update_state("a", "in_turn")?;
        let cols = table_columns(db.conn(), "main", "sessions")?.unwrap();
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), 19);
        assert!(!names.contains(&"bead_id"));
        assert!(cols.iter().any(|c| c.name == "id" && c.pk));
        a.upsert(&crate::agents::tests::agent("b", "working"))?;
        assert_eq!(a.count()?, 2);
        let clash = Connection::open(&path)?
            .execute("INSERT INTO sessions (id, agent_name, capability, worktree_path, branch_name, task_id, tmux_session, started_at, last_activity) VALUES ('s9', 'a', '', '', '', '', '', '', '')", [])
            .unwrap_err();
        assert!(clash.to_string().contains("UNIQUE"), "{clash}");
        Ok(())
    }

    #[test]
    fn an_up_to_date_file_plans_nothing() -> Result<()> {
        let (_dir, db) = open();
        let ledger = migrate::ledger_state(db.conn(), db.path(), NAME, &MIGRATIONS)?;
        assert!(ledger.pending.is_empty());
        assert!(inspect(db.conn(), ledger.applied)?.is_empty());
        Ok(())
    }
}
