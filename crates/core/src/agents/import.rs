//! Import of overstory's legacy `sessions.json` (its `compat.ts`) on the engine's import
//! framework, with two fixes: the import is one transaction (all valid entries or none), and a
//! malformed file or entry is reported in [`ImportReport::errors`] instead of silently ignored.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::{Map, Value as Json};

use super::{upsert_on, AgentSession, Agents};
use crate::engine::import::{self, ImportReport, ImportSink, Importer};
use crate::engine::Result;

impl Agents<'_> {
    /// Imports the sessions of overstory's legacy `sessions.json` at `file`, following
    /// overstory's rules: nothing happens when the store already holds sessions (SQLite is
    /// authoritative); a missing file imports nothing without error; entries are upserted in
    /// file order, so of two entries for one agent the last wins; missing optional fields get
    /// overstory's defaults (`pid`, `parentAgent`, `runId`, `stalledSince`, `transcriptPath`
    /// null; `depth`, `escalationLevel` 0); a pre-2026 `beadId` stands in for `taskId`. The
    /// file is never modified. `counts.sessions` is the number of entries written (duplicates
    /// of one agent name count once per entry).
    ///
    /// Unlike overstory, the import is one transaction, and an unreadable or malformed file, a
    /// non-array, or an entry lacking a required field is listed in `errors` (the other
    /// entries are still imported).
    pub fn import_legacy_sessions(
        &self,
        file: &Path,
        progress: ImportSink<'_>,
    ) -> Result<ImportReport> {
        import::run(self.conn(), file, &mut LegacySessions, progress)
    }
}

/// overstory's legacy layout: one file, an array of sessions (the importer behind
/// [`Agents::import_legacy_sessions`], for a run on a connection of its own).
#[derive(Debug, Clone, Copy, Default)]
pub struct LegacySessions;

impl Importer for LegacySessions {
    fn files(&mut self, source: &Path) -> Result<Vec<PathBuf>> {
        Ok(vec![source.to_path_buf()])
    }

    /// Only into a store without sessions; asked under the write lock, so a session another
    /// process records meanwhile is seen.
    fn wanted(&mut self, conn: &Connection) -> Result<bool> {
        let count: i64 = conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?;
        Ok(count == 0)
    }

    fn import_file(
        &mut self,
        conn: &Connection,
        file: &Path,
        bytes: &[u8],
        report: &mut ImportReport,
    ) -> Result<()> {
        let (sessions, problems) = parse_legacy_sessions(bytes);
        for (entry, reason) in problems {
            report.issue(file, entry, reason);
        }
        for s in &sessions {
            upsert_on(conn, s)?;
        }
        report.count("sessions", sessions.len() as u64);
        Ok(())
    }
}

/// The sessions in the bytes of a legacy `sessions.json`, with what is wrong: `(None, reason)`
/// when the whole file is unusable (not JSON, not an array), `(Some(i), reason)` for each entry
/// that cannot be a session. Reads no file and writes nothing.
pub fn parse_legacy_sessions(bytes: &[u8]) -> (Vec<AgentSession>, Vec<(Option<usize>, String)>) {
    let entries = match serde_json::from_slice::<Json>(bytes) {
        Ok(Json::Array(items)) => items,
        Ok(other) => {
            let kind = match other {
                Json::Object(_) => "an object",
                Json::String(_) => "a string",
                Json::Number(_) => "a number",
                Json::Bool(_) => "a boolean",
                _ => "null",
            };
            let reason = format!("expected an array of sessions, found {kind}");
            return (Vec::new(), vec![(None, reason)]);
        }
        Err(e) => return (Vec::new(), vec![(None, format!("not valid JSON: {e}"))]),
    };
    let mut sessions = Vec::with_capacity(entries.len());
    let mut problems = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match legacy_session(entry) {
            Ok(s) => sessions.push(s),
            Err(reason) => problems.push((Some(i), reason)),
        }
    }
    (sessions, problems)
}

/// One legacy entry as a session, or why it cannot be one.
fn legacy_session(entry: &Json) -> Result<AgentSession, String> {
    let Json::Object(o) = entry else {
        return Err("not an object".into());
    };
    let req = |key: &str| -> Result<String, String> {
        match o.get(key) {
            Some(Json::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("'{key}' is not a string")),
            None => Err(format!("'{key}' is missing")),
        }
    };
    let task_id = match (o.get("taskId"), o.get("beadId")) {
        (Some(_), _) | (None, None) => req("taskId")?,
        (None, Some(_)) => req("beadId")?,
    };
    Ok(AgentSession {
        id: req("id")?,
        agent_name: req("agentName")?,
        capability: req("capability")?,
        worktree_path: req("worktreePath")?,
        branch_name: req("branchName")?,
        task_id,
        tmux_session: req("tmuxSession")?,
        state: req("state")?,
        pid: opt_int(o, "pid")?,
        parent_agent: opt_str(o, "parentAgent")?,
        depth: opt_int(o, "depth")?.unwrap_or(0),
        run_id: opt_str(o, "runId")?,
        started_at: req("startedAt")?,
        last_activity: req("lastActivity")?,
        escalation_level: opt_int(o, "escalationLevel")?.unwrap_or(0),
        stalled_since: opt_str(o, "stalledSince")?,
        transcript_path: opt_str(o, "transcriptPath")?,
        prompt_version: opt_str(o, "promptVersion")?,
        claude_session_id: opt_str(o, "claudeSessionId")?,
    })
}

fn opt_str(o: &Map<String, Json>, key: &str) -> Result<Option<String>, String> {
    match o.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("'{key}' is not a string")),
    }
}

fn opt_int(o: &Map<String, Json>, key: &str) -> Result<Option<i64>, String> {
    match o.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("'{key}' is not an integer")),
        Some(_) => Err(format!("'{key}' is not a number")),
    }
}
