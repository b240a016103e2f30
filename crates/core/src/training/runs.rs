//! `runs` and `run_edges`: the run DAG.

use std::collections::HashMap;

use rusqlite::params;

use super::{js_string, Training};
use crate::engine::{now_ms, Result, Rows};

/// The result of [`Training::list_runs`]: every run row plus its parents.
#[derive(Debug, Clone, PartialEq)]
pub struct RunList {
    /// Every column of `runs` (including legacy ones such as `mode`), newest first.
    pub rows: Rows,
    /// `parents[i]` lists the parents of row `i`, in the order their edges were written.
    pub parents: Vec<Vec<String>>,
}

impl Training<'_> {
    /// `insertRun`: records a run once (an existing run keeps its project, name, parent and
    /// creation time) and replaces its parent edges with `parents`, in order, in one transaction.
    pub fn insert_run(
        &self,
        run_id: &str,
        project: Option<&str>,
        name: Option<&str>,
        parents: &[String],
    ) -> Result<()> {
        self.db.write(|c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO runs (run_id, parent_run_id, project, name, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![run_id, parents.first(), project, name, now_ms()])?;
            c.prepare_cached("DELETE FROM run_edges WHERE child_run_id = ?1")?
                .execute([run_id])?;
            let mut edge = c.prepare_cached(
                "INSERT OR IGNORE INTO run_edges (child_run_id, parent_run_id) VALUES (?1, ?2)",
            )?;
            for parent in parents {
                edge.execute([run_id, parent])?;
            }
            Ok(())
        })
    }

    /// `listRuns`: every run, newest first, with its parents.
    pub fn list_runs(&self) -> Result<RunList> {
        let c = self.conn();
        let rows = Rows::query(c, "SELECT * FROM runs ORDER BY created_at DESC", [])?;
        let mut by_child: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt =
            c.prepare_cached("SELECT child_run_id, parent_run_id FROM run_edges ORDER BY rowid")?;
        let mut edges = stmt.query([])?;
        while let Some(e) = edges.next()? {
            let child = js_string(&crate::engine::rows::owned(e.get_ref(0)?));
            let parent = js_string(&crate::engine::rows::owned(e.get_ref(1)?));
            by_child.entry(child).or_default().push(parent);
        }
        let ids = rows.column("run_id");
        let parents = (0..rows.len())
            .map(|i| {
                ids.and_then(|c| by_child.get(&js_string(&c.value(i))))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        Ok(RunList { rows, parents })
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::Result;
    use crate::training::testing::open;
    use rusqlite::types::Value;

    fn strs(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn insert_run_ignores_repeats_but_replaces_edges() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        t.insert_run("m", Some("p"), Some("merge1"), &strs(&["a", "b"]))?;
        t.insert_run("m", Some("other"), Some("renamed"), &strs(&["c"]))?;
        let list = t.list_runs()?;
        assert_eq!(
            list.rows.columns,
            ["run_id", "parent_run_id", "project", "name", "created_at"]
        );
        assert_eq!(list.rows.get(0, "name"), Some(Value::Text("merge1".into())));
        assert_eq!(
            list.rows.get(0, "parent_run_id"),
            Some(Value::Text("a".into()))
        );
        assert_eq!(list.parents, [strs(&["c"])]);
        Ok(())
    }

    #[test]
    fn runs_are_listed_newest_first_with_parents_in_edge_order() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        t.insert_run("base", Some("p"), Some("base"), &[])?;
        t.insert_run("m", Some("p"), Some("m"), &strs(&["z", "base", "a"]))?;
        db.conn()
            .execute("UPDATE runs SET created_at = 5 WHERE run_id = 'base'", [])?;
        db.conn()
            .execute("UPDATE runs SET created_at = 9 WHERE run_id = 'm'", [])?;
        let list = t.list_runs()?;
        assert_eq!(list.rows.get(0, "run_id"), Some(Value::Text("m".into())));
        assert_eq!(list.parents, [strs(&["z", "base", "a"]), vec![]]);
        Ok(())
    }
}
