//! The agents store: overstory's agent sessions (a lifecycle state machine per agent) and the
//! runs that group them, in overstory's own tables (`sessions`, `runs`) so one file serves both
//! stowage and overstory's tools. See `reference/session-stores.md` §2.
//!
//! Timestamps are ISO 8601 text exactly as JS `Date.prototype.toISOString()` writes them, which
//! is what overstory stores. Many processes may drive one file: every write is one statement or
//! one `BEGIN IMMEDIATE` transaction, and a state change is a compare-and-swap.

mod import;
mod runs;
pub mod schema;

use std::sync::OnceLock;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::engine::{write_tx, Database, Error, Result, NOW_ISO};

pub use import::{parse_legacy_sessions, LegacySessions};
pub use runs::{AgentRun, RunInput};

/// One agent session (a row of `sessions`), with overstory's field names in snake_case.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentSession {
    pub id: String,
    pub agent_name: String,
    pub capability: String,
    pub worktree_path: String,
    pub branch_name: String,
    pub task_id: String,
    pub tmux_session: String,
    pub state: String,
    pub pid: Option<i64>,
    pub parent_agent: Option<String>,
    pub depth: i64,
    pub run_id: Option<String>,
    pub started_at: String,
    pub last_activity: String,
    pub escalation_level: i64,
    pub stalled_since: Option<String>,
    pub transcript_path: Option<String>,
    pub prompt_version: Option<String>,
    pub claude_session_id: Option<String>,
}

/// The state machine the store enforces in [`Agents::try_transition_state`].
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsConfig {
    /// For each target state, the states it may be entered from. A target that is not listed
    /// (or lists nothing) can never be entered by a transition, only by `upsert`/`update_state`.
    pub transitions: Vec<(String, Vec<String>)>,
    /// States in which the agent's tmux session is gone: entering one clears `tmux_session`.
    pub terminal_states: Vec<String>,
    /// The states `get_active` returns.
    pub active_states: Vec<String>,
}

impl Default for AgentsConfig {
    /// overstory's 7-state machine (§2.3): `completed` is sticky, `zombie` only moves to
    /// `completed`, `booting` is never re-entered, and self-transitions are allowed.
    fn default() -> Self {
        let list = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = [
            "booting",
            "working",
            "in_turn",
            "between_turns",
            "stalled",
            "completed",
            "zombie",
        ];
        AgentsConfig {
            transitions: vec![
                ("booting".into(), vec![]),
                ("working".into(), list(&["booting", "working", "stalled"])),
                (
                    "in_turn".into(),
                    list(&["booting", "in_turn", "between_turns", "stalled"]),
                ),
                (
                    "between_turns".into(),
                    list(&["in_turn", "between_turns", "stalled"]),
                ),
                (
                    "stalled".into(),
                    list(&["booting", "working", "in_turn", "between_turns", "stalled"]),
                ),
                ("completed".into(), list(&all)),
                (
                    "zombie".into(),
                    list(&[
                        "booting",
                        "working",
                        "in_turn",
                        "between_turns",
                        "stalled",
                        "zombie",
                    ]),
                ),
            ],
            terminal_states: list(&["completed", "zombie"]),
            active_states: list(&all[..5]),
        }
    }
}

impl AgentsConfig {
    fn allowed_from(&self, target: &str) -> &[String] {
        self.transitions
            .iter()
            .find(|(t, _)| t == target)
            .map_or(&[], |(_, from)| from.as_slice())
    }

    fn is_terminal(&self, state: &str) -> bool {
        self.terminal_states.iter().any(|s| s == state)
    }
}

/// The result of [`Agents::try_transition_state`].
#[derive(Debug, Clone, PartialEq)]
pub enum TransitionOutcome {
    /// The state changed from `prev` to `next`.
    Applied { prev: String, next: String },
    /// No agent has that name.
    NotFound { attempted: String },
    /// The agent is in `prev`, from which `attempted` may not be entered; nothing changed.
    Illegal { prev: String, attempted: String },
}

/// Which sessions [`Agents::purge`] deletes. `all` wins; otherwise `state` and `agent` are
/// combined with AND; with no criterion nothing is deleted.
#[derive(Debug, Clone, Default)]
pub struct Purge {
    pub all: bool,
    pub state: Option<String>,
    pub agent: Option<String>,
}

/// The agents store of an open [`Database`].
#[derive(Debug, Clone, Copy)]
pub struct Agents<'a> {
    db: &'a Database,
}

const SESSION_COLUMNS: &str = "id, agent_name, capability, worktree_path, branch_name, task_id, \
     tmux_session, state, pid, parent_agent, depth, run_id, started_at, last_activity, \
     escalation_level, stalled_since, transcript_path, prompt_version, claude_session_id";

impl Database {
    /// The agents store, if this file was opened with it (`ERR_STORE_NOT_OPEN` otherwise).
    pub fn agents(&self) -> Result<Agents<'_>> {
        self.require(schema::NAME)?;
        Ok(Agents { db: self })
    }
}

impl<'a> Agents<'a> {
    fn conn(&self) -> &'a Connection {
        self.db.conn()
    }

    fn config(&self) -> &'a AgentsConfig {
        static DEFAULT: OnceLock<AgentsConfig> = OnceLock::new();
        self.db
            .config(schema::NAME)
            .unwrap_or_else(|| DEFAULT.get_or_init(AgentsConfig::default))
    }

    fn sessions(&self, filter: &str, params: impl rusqlite::Params) -> Result<Vec<AgentSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions {filter}");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params, session_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Inserts the session, or overwrites every column of the one with the same `agent_name`
    /// (its `id` included). Any state string is accepted; timestamps are stored as given.
    pub fn upsert(&self, s: &AgentSession) -> Result<()> {
        upsert_on(self.conn(), s)
    }

    /// The session named `name`, if any.
    pub fn get_by_name(&self, name: &str) -> Result<Option<AgentSession>> {
        Ok(self
            .sessions("WHERE agent_name = ?1", [name])?
            .into_iter()
            .next())
    }

    /// Sessions in an active state (see [`AgentsConfig::active_states`]), oldest first.
    pub fn get_active(&self) -> Result<Vec<AgentSession>> {
        let active = serde_json::to_string(&self.config().active_states)
            .map_err(|e| Error::InvalidArg(e.to_string()))?;
        self.sessions(
            "WHERE state IN (SELECT value FROM json_each(?1)) ORDER BY started_at ASC",
            [active],
        )
    }

    /// Every session, oldest first.
    pub fn get_all(&self) -> Result<Vec<AgentSession>> {
        self.sessions("ORDER BY started_at ASC", [])
    }

    /// The number of sessions (without reading them).
    pub fn count(&self) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT count(*) FROM sessions")?
            .query_row([], |r| r.get(0))?)
    }

    /// The sessions of one run, oldest first.
    pub fn get_by_run(&self, run_id: &str) -> Result<Vec<AgentSession>> {
        self.sessions("WHERE run_id = ?1 ORDER BY started_at ASC", [run_id])
    }

    /// Sets the state without checking the transition table (forced cleanup). A terminal state
    /// clears `tmux_session`. An unknown agent is a no-op.
    pub fn update_state(&self, name: &str, state: &str) -> Result<()> {
        self.conn()
            .prepare_cached(
                "UPDATE sessions SET state = ?2,
                   tmux_session = CASE WHEN ?3 THEN '' ELSE tmux_session END
                 WHERE agent_name = ?1",
            )?
            .execute(params![name, state, self.config().is_terminal(state)])?;
        Ok(())
    }

    /// Moves the agent to `next` if the transition table allows it from its current state.
    ///
    /// Runs in one `BEGIN IMMEDIATE` transaction: the state read and the compare-and-swap
    /// `UPDATE … WHERE state = <read state>` see the same row, so of two processes racing
    /// conflicting transitions exactly one applies and the other learns the state that won.
    /// Entering a terminal state clears `tmux_session`; a rejected transition changes nothing.
    pub fn try_transition_state(&self, name: &str, next: &str) -> Result<TransitionOutcome> {
        let config = self.config();
        write_tx(self.conn(), |c| {
            let prev: Option<String> = c
                .prepare_cached("SELECT state FROM sessions WHERE agent_name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            let Some(prev) = prev else {
                return Ok(TransitionOutcome::NotFound {
                    attempted: next.into(),
                });
            };
            if !config.allowed_from(next).contains(&prev) {
                return Ok(TransitionOutcome::Illegal {
                    prev,
                    attempted: next.into(),
                });
            }
            let changed = c
                .prepare_cached(
                    "UPDATE sessions SET state = ?3,
                       tmux_session = CASE WHEN ?4 THEN '' ELSE tmux_session END
                     WHERE agent_name = ?1 AND state = ?2",
                )?
                .execute(params![name, prev, next, config.is_terminal(next)])?;
            debug_assert_eq!(changed, 1, "the row is locked by this transaction");
            Ok(TransitionOutcome::Applied {
                prev,
                next: next.into(),
            })
        })
    }

    /// Sets `last_activity` to now; nothing else changes.
    pub fn update_last_activity(&self, name: &str) -> Result<()> {
        self.update(
            &format!("UPDATE sessions SET last_activity = {NOW_ISO} WHERE agent_name = ?1"),
            params![name],
        )
    }

    /// Sets the escalation level and `stalled_since` (`None` clears it).
    pub fn update_escalation(
        &self,
        name: &str,
        level: i64,
        stalled_since: Option<&str>,
    ) -> Result<()> {
        self.update(
            "UPDATE sessions SET escalation_level = ?2, stalled_since = ?3 WHERE agent_name = ?1",
            params![name, level, stalled_since],
        )
    }

    /// Sets `transcript_path`. An unknown agent is a no-op.
    pub fn update_transcript_path(&self, name: &str, path: &str) -> Result<()> {
        self.update(
            "UPDATE sessions SET transcript_path = ?2 WHERE agent_name = ?1",
            params![name, path],
        )
    }

    /// Sets `claude_session_id` (the runtime's own session id). An unknown agent is a no-op.
    pub fn update_claude_session_id(&self, name: &str, id: &str) -> Result<()> {
        self.update(
            "UPDATE sessions SET claude_session_id = ?2 WHERE agent_name = ?1",
            params![name, id],
        )
    }

    /// Deletes the session. An unknown agent is a no-op.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.update("DELETE FROM sessions WHERE agent_name = ?1", params![name])
    }

    /// Deletes the sessions `criteria` selects and returns how many were deleted (one statement,
    /// so the count is exactly the rows removed).
    pub fn purge(&self, criteria: &Purge) -> Result<usize> {
        if criteria.all {
            return Ok(self
                .conn()
                .prepare_cached("DELETE FROM sessions")?
                .execute([])?);
        }
        if criteria.state.is_none() && criteria.agent.is_none() {
            return Ok(0);
        }
        Ok(self
            .conn()
            .prepare_cached(
                "DELETE FROM sessions WHERE (?1 IS NULL OR state = ?1)
                   AND (?2 IS NULL OR agent_name = ?2)",
            )?
            .execute(params![criteria.state, criteria.agent])?)
    }

    fn update(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        self.conn().prepare_cached(sql)?.execute(params)?;
        Ok(())
    }
}

pub(crate) fn upsert_on(conn: &Connection, s: &AgentSession) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (id, agent_name, capability, worktree_path, branch_name, task_id,
           tmux_session, state, pid, parent_agent, depth, run_id, started_at, last_activity,
           escalation_level, stalled_since, transcript_path, prompt_version, claude_session_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT(agent_name) DO UPDATE SET
           id = excluded.id, capability = excluded.capability,
           worktree_path = excluded.worktree_path, branch_name = excluded.branch_name,
           task_id = excluded.task_id, tmux_session = excluded.tmux_session,
           state = excluded.state, pid = excluded.pid, parent_agent = excluded.parent_agent,
           depth = excluded.depth, run_id = excluded.run_id, started_at = excluded.started_at,
           last_activity = excluded.last_activity, escalation_level = excluded.escalation_level,
           stalled_since = excluded.stalled_since, transcript_path = excluded.transcript_path,
           prompt_version = excluded.prompt_version,
           claude_session_id = excluded.claude_session_id",
    )?
    .execute(params![
        s.id,
        s.agent_name,
        s.capability,
        s.worktree_path,
        s.branch_name,
        s.task_id,
        s.tmux_session,
        s.state,
        s.pid,
        s.parent_agent,
        s.depth,
        s.run_id,
        s.started_at,
        s.last_activity,
        s.escalation_level,
        s.stalled_since,
        s.transcript_path,
        s.prompt_version,
        s.claude_session_id
    ])?;
    Ok(())
}

/// Text of a stored value; files written by other programs may hold numbers in text columns.
pub(crate) fn text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(s) => Some(s),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Integer of a stored value (a REAL is truncated, text parsed where it is a number).
pub(crate) fn int(v: Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(i),
        Value::Real(f) => Some(f as i64),
        Value::Text(s) => s.trim().parse().ok(),
        Value::Null | Value::Blob(_) => None,
    }
}

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<AgentSession> {
    let t = |i: usize| -> rusqlite::Result<Option<String>> { Ok(text(r.get(i)?)) };
    let n = |i: usize| -> rusqlite::Result<Option<i64>> { Ok(int(r.get(i)?)) };
    Ok(AgentSession {
        id: t(0)?.unwrap_or_default(),
        agent_name: t(1)?.unwrap_or_default(),
        capability: t(2)?.unwrap_or_default(),
        worktree_path: t(3)?.unwrap_or_default(),
        branch_name: t(4)?.unwrap_or_default(),
        task_id: t(5)?.unwrap_or_default(),
        tmux_session: t(6)?.unwrap_or_default(),
        state: t(7)?.unwrap_or_default(),
        pid: n(8)?,
        parent_agent: t(9)?,
        depth: n(10)?.unwrap_or(0),
        run_id: t(11)?,
        started_at: t(12)?.unwrap_or_default(),
        last_activity: t(13)?.unwrap_or_default(),
        escalation_level: n(14)?.unwrap_or(0),
        stalled_since: t(15)?,
        transcript_path: t(16)?,
        prompt_version: t(17)?,
        claude_session_id: t(18)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::{OpenOptions, StoreDef};

    /// A fresh agents store in a temporary folder.
    pub(crate) fn open() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let options = OpenOptions::new([&schema::STORE as &'static dyn StoreDef]);
        let db = Database::open(&dir.path().join("sessions.db"), &options).unwrap();
        (dir, db)
    }

    pub(crate) fn agent(name: &str, state: &str) -> AgentSession {
        AgentSession {
            id: format!("id-{name}"),
            agent_name: name.into(),
            capability: "builder".into(),
            tmux_session: format!("tmux-{name}"),
            state: state.into(),
            started_at: "2026-05-01T00:00:00.000Z".into(),
            last_activity: "2026-05-01T00:00:00.000Z".into(),
            ..AgentSession::default()
        }
    }

    #[test]
    fn default_table_is_overstorys() {
        let c = AgentsConfig::default();
        let all = [
            "booting",
            "working",
            "in_turn",
            "between_turns",
            "stalled",
            "completed",
            "zombie",
        ];
        let allowed = |from: &str, to: &str| c.allowed_from(to).iter().any(|s| s == from);
        for s in all {
            assert!(allowed(s, "completed"), "{s} → completed");
            assert_eq!(allowed(s, "zombie"), s != "completed", "{s} → zombie");
            assert!(!allowed(s, "booting"), "{s} → booting");
        }
        for to in ["working", "in_turn", "between_turns", "stalled"] {
            assert!(
                !allowed("completed", to) && !allowed("zombie", to),
                "→ {to}"
            );
        }
        assert!(!allowed("working", "in_turn") && !allowed("booting", "between_turns"));
        assert!(!c.allowed_from("unknown").iter().any(|_| true));
    }

    #[test]
    fn transition_is_a_compare_and_swap_that_clears_tmux_on_terminal() -> Result<()> {
        let (_dir, db) = open();
        let a = db.agents()?;
        a.upsert(&agent("x", "working"))?;
        assert_eq!(
            a.try_transition_state("x", "completed")?,
            TransitionOutcome::Applied {
                prev: "working".into(),
                next: "completed".into()
            }
        );
        assert_eq!(a.get_by_name("x")?.unwrap().tmux_session, "");
        assert_eq!(
            a.try_transition_state("x", "zombie")?,
            TransitionOutcome::Illegal {
                prev: "completed".into(),
                attempted: "zombie".into()
            }
        );
        assert_eq!(
            a.try_transition_state("y", "working")?,
            TransitionOutcome::NotFound {
                attempted: "working".into()
            }
        );
        assert!(db.conn().is_autocommit());
        Ok(())
    }

    #[test]
    fn purge_counts_exactly_what_it_deletes() -> Result<()> {
        let (_dir, db) = open();
        let a = db.agents()?;
        for (n, s) in [("a", "completed"), ("b", "completed"), ("c", "working")] {
            a.upsert(&agent(n, s))?;
        }
        assert_eq!(a.purge(&Purge::default())?, 0);
        let by = |state: Option<&str>, agent: Option<&str>| Purge {
            all: false,
            state: state.map(Into::into),
            agent: agent.map(Into::into),
        };
        assert_eq!(a.purge(&by(Some("completed"), Some("c")))?, 0);
        assert_eq!(a.purge(&by(Some("completed"), None))?, 2);
        assert_eq!(
            a.purge(&Purge {
                all: true,
                ..Purge::default()
            })?,
            1
        );
        assert_eq!(a.count()?, 0);
        Ok(())
    }

    #[test]
    fn training_and_agents_cannot_share_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let both = OpenOptions::new([
            &crate::training::schema::STORE as &'static dyn StoreDef,
            &schema::STORE,
        ]);
        let err = Database::open(&dir.path().join("x.db"), &both).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert!(!dir.path().join("x.db").exists());
    }
}
