//! The runs that group agent sessions (overstory's `RunStore`).

use rusqlite::{params, Row};

use super::{int, text, Agents};
use crate::engine::{write_tx, Error, Result, NOW_ISO};

/// One run (a row of `runs`). `agent_count` is the number of sessions whose `run_id` is this
/// run, counted on every read (the stored column drifted in overstory and is ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRun {
    pub id: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub agent_count: i64,
    pub coordinator_session_id: Option<String>,
    pub coordinator_name: Option<String>,
    pub status: String,
}

/// What [`Agents::create_run`] records; absent fields get their defaults.
#[derive(Debug, Clone, Default)]
pub struct RunInput {
    /// Default: `run-<ISO timestamp>` (with `-2`, `-3`, … appended if that id exists).
    pub id: Option<String>,
    /// Default: now.
    pub started_at: Option<String>,
    pub coordinator_session_id: Option<String>,
    pub coordinator_name: Option<String>,
    /// Default `active`; the table only accepts `active`, `completed` and `failed`.
    pub status: Option<String>,
    /// Written to the legacy `agent_count` column for older overstory binaries; default 0.
    pub agent_count: Option<i64>,
}

const RUN_COLUMNS: &str = "id, started_at, completed_at,
    (SELECT count(*) FROM sessions WHERE sessions.run_id = runs.id) AS agent_count,
    coordinator_session_id, coordinator_name, status";

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<AgentRun> {
    let t = |i: usize| -> rusqlite::Result<Option<String>> { Ok(text(r.get(i)?)) };
    Ok(AgentRun {
        id: t(0)?.unwrap_or_default(),
        started_at: t(1)?.unwrap_or_default(),
        completed_at: t(2)?,
        agent_count: int(r.get(3)?).unwrap_or(0),
        coordinator_session_id: t(4)?,
        coordinator_name: t(5)?,
        status: t(6)?.unwrap_or_default(),
    })
}

impl Agents<'_> {
    fn runs(&self, filter: &str, params: impl rusqlite::Params) -> Result<Vec<AgentRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs {filter}");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params, run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records a new run and returns it. A duplicate `id` fails with
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`, a status outside `active`/`completed`/`failed` with
    /// `SQLITE_CONSTRAINT_CHECK`.
    pub fn create_run(&self, run: &RunInput) -> Result<AgentRun> {
        write_tx(self.conn(), |c| {
            // One clock reading for both defaults, so that a generated id names its start time.
            let now: String = c.query_row(&format!("SELECT {NOW_ISO}"), [], |r| r.get(0))?;
            let id = match &run.id {
                Some(id) => id.clone(),
                None => {
                    let base = format!("run-{now}");
                    let mut id = base.clone();
                    let mut n = 1;
                    while c
                        .prepare_cached("SELECT 1 FROM runs WHERE id = ?1")?
                        .exists([&id])?
                    {
                        n += 1;
                        id = format!("{base}-{n}");
                    }
                    id
                }
            };
            c.prepare_cached(
                "INSERT INTO runs (id, started_at, completed_at, agent_count,
                   coordinator_session_id, coordinator_name, status)
                 VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id,
                run.started_at.as_deref().unwrap_or(&now),
                run.agent_count.unwrap_or(0),
                run.coordinator_session_id,
                run.coordinator_name,
                run.status.as_deref().unwrap_or("active")
            ])?;
            self.get_run(&id)?
                .ok_or_else(|| Error::InvalidArg(format!("run '{id}' vanished after insert")))
        })
    }

    /// The run with this id, if any.
    pub fn get_run(&self, id: &str) -> Result<Option<AgentRun>> {
        Ok(self.runs("WHERE id = ?1", [id])?.into_iter().next())
    }

    /// The most recently started active run.
    pub fn get_active_run(&self) -> Result<Option<AgentRun>> {
        Ok(self
            .runs(
                "WHERE status = 'active' ORDER BY started_at DESC LIMIT 1",
                [],
            )?
            .into_iter()
            .next())
    }

    /// The most recently started active run of the coordinator `name`.
    pub fn get_active_run_for_coordinator(&self, name: &str) -> Result<Option<AgentRun>> {
        Ok(self
            .runs(
                "WHERE status = 'active' AND coordinator_name = ?1
                 ORDER BY started_at DESC LIMIT 1",
                [name],
            )?
            .into_iter()
            .next())
    }

    /// Runs, newest first, optionally of one status and at most `limit` of them.
    pub fn list_runs(&self, limit: Option<i64>, status: Option<&str>) -> Result<Vec<AgentRun>> {
        self.runs(
            "WHERE (?1 IS NULL OR status = ?1) ORDER BY started_at DESC LIMIT ?2",
            params![status, limit.unwrap_or(-1)],
        )
    }

    /// Marks a run `completed` or `failed` and stamps `completed_at`. An unknown id is a no-op.
    pub fn complete_run(&self, id: &str, status: &str) -> Result<()> {
        if status != "completed" && status != "failed" {
            return Err(Error::InvalidArg(format!(
                "a run completes as 'completed' or 'failed', not '{status}'"
            )));
        }
        self.conn()
            .prepare_cached(&format!(
                "UPDATE runs SET status = ?2, completed_at = {NOW_ISO} WHERE id = ?1"
            ))?
            .execute(params![id, status])?;
        Ok(())
    }
}
