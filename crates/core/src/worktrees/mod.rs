//! The worktrees store: AIT42 Editor's worktree sessions (`ait42-session`): workspaces, their
//! competition/ensemble/debate sessions, each session's worktree instances and chat, in AIT42's
//! own tables (and with sqlx's ledger row) so one file serves AIT42's crate and stowage. See
//! `reference/session-stores.md` §3 and docs/worktrees.md.
//!
//! The repository is AIT42's `SessionRepository`, synchronous, with three fixes: a failed
//! update changes nothing; every timestamp stowage writes itself (the `updatedAt` bumps, a
//! workspace's `last_accessed`) is RFC 3339 in UTC with milliseconds, like the caller's own
//! timestamps, never SQL's `YYYY-MM-DD HH:MM:SS`; and sessions and messages are ordered by the
//! time their timestamps denote, not by their text.
//!
//! ```
//! use stowage_core::{Database, OpenOptions};
//! use stowage_core::worktrees::{self, WorktreeSession};
//!
//! let dir = tempfile::tempdir()?;
//! let options = OpenOptions::new([&worktrees::schema::STORE as &'static dyn stowage_core::StoreDef]);
//! let db = Database::open(&dir.path().join("sessions.db"), &options)?;
//! let repo = db.worktrees()?;
//! let session = WorktreeSession {
//!     id: "s-1".into(), session_type: "competition".into(), task: "fix the build".into(),
//!     status: "running".into(), created_at: "2025-01-13T10:00:00.000Z".into(),
//!     updated_at: "2025-01-13T10:00:00.000Z".into(), ..Default::default()
//! };
//! repo.create_session("/work/editor", &session)?;
//! assert_eq!(repo.get_all_sessions("/work/editor")?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod columns;
mod hash;
mod import;
mod model;
pub mod schema;

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use crate::engine::{Database, Error, Result, NOW_ISO};

pub use columns::{
    SessionColumns, Values, INSTANCE_NUMBERS, INSTANCE_TEXTS, MESSAGE_NUMBERS, MESSAGE_TEXTS,
};
use columns::{INSTANCE_COLUMNS, MESSAGE_COLUMNS};
pub use hash::{normalized_path, workspace_hash};
pub use import::{default_legacy_dir, LegacyWorkspaces};
pub use model::{session_json, ChatMessage, FieldError, Source, WorktreeInstance, WorktreeSession};

/// The worktrees store of an open [`Database`].
#[derive(Debug, Clone, Copy)]
pub struct Worktrees<'a> {
    db: &'a Database,
}

/// The session kinds AIT42's schema allows, in [`Worktrees::count_by_type`]'s order.
pub const SESSION_TYPES: [&str; 3] = ["competition", "ensemble", "debate"];

/// How [`Worktrees::list_sessions`] orders its sessions (newest first either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderBy {
    Created,
    #[default]
    Updated,
}

/// The criteria of [`Worktrees::list_sessions`], combined with AND; each left out matches all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionQuery {
    /// Sessions of this workspace folder (hashed as [`workspace_hash`]).
    pub workspace_path: Option<String>,
    pub session_type: Option<String>,
    /// Any of these statuses (all when empty).
    pub statuses: Vec<String>,
    /// Text found in the task or the id (case-insensitive for ASCII; `%` and `_` are literal).
    pub search: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub order_by: OrderBy,
}

/// What [`Worktrees::stats`] reports (AIT42's `get_database_stats`).
#[derive(Debug, Clone, PartialEq)]
pub struct WorktreeStats {
    pub workspaces: i64,
    pub sessions: i64,
    pub instances: i64,
    pub messages: i64,
    /// Bytes of the database (pages × page size; the WAL not counted).
    pub file_size: i64,
    pub path: String,
}

/// Newest first by the instant a timestamp denotes (any RFC 3339 offset, or SQL's
/// `YYYY-MM-DD HH:MM:SS` as UTC); text that is no timestamp last.
fn newest_first(column: &str) -> String {
    format!("unixepoch({column}, 'subsec') DESC, {column} DESC, id")
}

impl Database {
    /// The worktrees store, if this file was opened with it (`ERR_STORE_NOT_OPEN` otherwise).
    pub fn worktrees(&self) -> Result<Worktrees<'_>> {
        self.require(schema::NAME)?;
        Ok(Worktrees { db: self })
    }
}

impl<'a> Worktrees<'a> {
    fn conn(&self) -> &'a Connection {
        self.db.conn()
    }

    /// Creates `session` with its instances and messages in the workspace at `workspace_path`,
    /// in one transaction: the workspace row is created (or its `last_accessed` bumped) with
    /// the path that was hashed. The session's timestamps are stored as given; a child's
    /// `session_id` is ignored. Constraint failures keep SQLite's codes
    /// (`SQLITE_CONSTRAINT_PRIMARYKEY` for an existing id, `_CHECK` for an unknown type or
    /// status, `_UNIQUE` for two instances of one number).
    pub fn create_session(&self, workspace_path: &str, session: &WorktreeSession) -> Result<()> {
        let path = normalized_path(workspace_path);
        let hash = workspace_hash(workspace_path);
        self.db.write(|c| {
            c.prepare_cached(&format!(
                "INSERT INTO workspaces (hash, path, last_accessed) VALUES (?1, ?2, {NOW_ISO})
                 ON CONFLICT (hash) DO UPDATE SET path = excluded.path,
                   last_accessed = excluded.last_accessed"
            ))?
            .execute(params![hash, path])?;
            insert_session(c, &hash, session)
        })
    }

    /// Replaces the session of `session.id` in the workspace: every column is set from
    /// `session` and its instances and messages are replaced by `session`'s, in one
    /// transaction. Returns the session as now stored. `ERR_NOT_FOUND` (nothing changed) when
    /// the workspace has no session of that id.
    pub fn update_session(
        &self,
        workspace_path: &str,
        session: &WorktreeSession,
    ) -> Result<WorktreeSession> {
        let hash = workspace_hash(workspace_path);
        self.db.write(|c| {
            let s = session;
            let changed = c
                .prepare_cached(
                    "UPDATE sessions SET session_type = ?3, task = ?4, status = ?5,
                       created_at = ?6, updated_at = ?7, completed_at = ?8, model = ?9,
                       timeout_seconds = ?10, preserve_worktrees = ?11, winner_id = ?12,
                       runtime_mix = ?13, total_duration = ?14, total_files_changed = ?15,
                       total_lines_added = ?16, total_lines_deleted = ?17
                     WHERE id = ?1 AND workspace_hash = ?2",
                )?
                .execute(session_values(s, &hash, &runtime_mix_text(s)))?;
            if changed == 0 {
                return Err(not_found(&s.id));
            }
            c.prepare_cached("DELETE FROM instances WHERE session_id = ?1")?
                .execute([&s.id])?;
            c.prepare_cached("DELETE FROM chat_messages WHERE session_id = ?1")?
                .execute([&s.id])?;
            insert_children(c, s)?;
            let mut found = columns::read(c, "WHERE id = ?1", [&s.id])?.sessions();
            found.pop().ok_or_else(|| not_found(&s.id))
        })
    }

    /// The session `id` of the workspace, with its instances (by instance id) and messages
    /// (chronological), or `None`, also when the id is another workspace's.
    pub fn get_session(&self, workspace_path: &str, id: &str) -> Result<Option<WorktreeSession>> {
        Ok(self.session_columns(workspace_path, id)?.sessions().pop())
    }

    /// [`Worktrees::get_session`] as columns (no session or one).
    pub fn session_columns(&self, workspace_path: &str, id: &str) -> Result<SessionColumns> {
        let hash = workspace_hash(workspace_path);
        columns::read(
            self.conn(),
            "WHERE id = ?1 AND workspace_hash = ?2",
            [id, hash.as_str()],
        )
    }

    /// Every session of the workspace, most recently updated first, with their children,
    /// loaded with one query per table (no query per session). An unknown workspace has none.
    pub fn get_all_sessions(&self, workspace_path: &str) -> Result<Vec<WorktreeSession>> {
        Ok(self.all_sessions_columns(workspace_path)?.sessions())
    }

    /// [`Worktrees::get_all_sessions`] as columns.
    pub fn all_sessions_columns(&self, workspace_path: &str) -> Result<SessionColumns> {
        let hash = workspace_hash(workspace_path);
        columns::read(
            self.conn(),
            &format!(
                "WHERE workspace_hash = ?1 ORDER BY {}",
                newest_first("updated_at")
            ),
            [hash],
        )
    }

    /// Deletes the session `id` of the workspace with its instances and messages (foreign-key
    /// cascade). `ERR_NOT_FOUND` when the workspace has no such session.
    pub fn delete_session(&self, workspace_path: &str, id: &str) -> Result<()> {
        let hash = workspace_hash(workspace_path);
        let deleted = self
            .conn()
            .prepare_cached("DELETE FROM sessions WHERE id = ?1 AND workspace_hash = ?2")?
            .execute([id, hash.as_str()])?;
        if deleted == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    /// Adds `message` to the session `session_id` and sets the session's `updated_at` to now,
    /// in one transaction. A missing session is `SQLITE_CONSTRAINT_FOREIGNKEY` (as in AIT42),
    /// an id already used by any session `SQLITE_CONSTRAINT_PRIMARYKEY`.
    pub fn add_chat_message(&self, session_id: &str, message: &ChatMessage) -> Result<()> {
        self.db.write(|c| {
            insert_message(c, session_id, message)?;
            touch(c, session_id)
        })
    }

    /// Sets the status of instance `instance_id` of the session `session_id` and the session's
    /// `updated_at` to now, in one transaction. `ERR_NOT_FOUND` when there is no such instance.
    pub fn update_instance_status(
        &self,
        session_id: &str,
        instance_id: i64,
        status: &str,
    ) -> Result<()> {
        self.db.write(|c| {
            let changed = c
                .prepare_cached(
                    "UPDATE instances SET status = ?3 WHERE session_id = ?1 AND instance_id = ?2",
                )?
                .execute(params![session_id, instance_id, status])?;
            if changed == 0 {
                return Err(Error::NotFound(format!(
                    "session '{session_id}' has no instance {instance_id}"
                )));
            }
            touch(c, session_id)
        })
    }

    /// Sessions matching `query` (of any workspace unless it names one), newest first by
    /// update or creation, with their children.
    pub fn list_sessions(&self, query: &SessionQuery) -> Result<Vec<WorktreeSession>> {
        Ok(self.list_sessions_columns(query)?.sessions())
    }

    /// [`Worktrees::list_sessions`] as columns.
    pub fn list_sessions_columns(&self, query: &SessionQuery) -> Result<SessionColumns> {
        let mut clauses = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        let mut arg = |v: Value| {
            args.push(v);
            format!("?{}", args.len())
        };
        if let Some(path) = &query.workspace_path {
            clauses.push(format!(
                "workspace_hash = {}",
                arg(workspace_hash(path).into())
            ));
        }
        if let Some(t) = &query.session_type {
            clauses.push(format!("session_type = {}", arg(t.clone().into())));
        }
        if !query.statuses.is_empty() {
            let list = serde_json::to_string(&query.statuses).unwrap_or_default();
            clauses.push(format!(
                "status IN (SELECT value FROM json_each({}))",
                arg(list.into())
            ));
        }
        if let Some(text) = &query.search {
            let escaped: String = text
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            let p = arg(format!("%{escaped}%").into());
            clauses.push(format!(
                "(task LIKE {p} ESCAPE '\\' OR id LIKE {p} ESCAPE '\\')"
            ));
        }
        let mut sql = String::new();
        if !clauses.is_empty() {
            sql.push_str("WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        let column = match query.order_by {
            OrderBy::Created => "created_at",
            OrderBy::Updated => "updated_at",
        };
        sql.push_str(&format!(" ORDER BY {}", newest_first(column)));
        if query.limit.is_some() || query.offset.is_some() {
            let limit = arg(query.limit.unwrap_or(-1).into());
            let offset = arg(query.offset.unwrap_or(0).into());
            sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        }
        columns::read(self.conn(), &sql, params_from_iter(args))
    }

    /// The number of sessions of each type (of every workspace, or of the one at
    /// `workspace_path`), in [`SESSION_TYPES`] order, 0 for a type without sessions.
    pub fn count_by_type(&self, workspace_path: Option<&str>) -> Result<Vec<(String, i64)>> {
        let hash = workspace_path.map(workspace_hash);
        let mut stmt = self.conn().prepare_cached(
            "SELECT session_type, count(*) FROM sessions
             WHERE ?1 IS NULL OR workspace_hash = ?1 GROUP BY session_type",
        )?;
        let found: HashMap<String, i64> = stmt
            .query_map([hash], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(SESSION_TYPES
            .iter()
            .map(|t| (t.to_string(), found.get(*t).copied().unwrap_or(0)))
            .collect())
    }

    /// Row counts, the database's size and its path (AIT42's `get_database_stats`).
    pub fn stats(&self) -> Result<WorktreeStats> {
        let count = |table: &str| -> Result<i64> {
            Ok(self
                .conn()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        let file_size = self.conn().query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?;
        Ok(WorktreeStats {
            workspaces: count("workspaces")?,
            sessions: count("sessions")?,
            instances: count("instances")?,
            messages: count("chat_messages")?,
            file_size,
            path: self.db.path().to_string_lossy().into_owned(),
        })
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no session '{id}' in this workspace"))
}

fn runtime_mix_text(s: &WorktreeSession) -> Option<String> {
    s.runtime_mix
        .as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_default())
}

/// Sets the session's `updated_at` to now.
fn touch(c: &Connection, session_id: &str) -> Result<()> {
    c.prepare_cached(&format!(
        "UPDATE sessions SET updated_at = {NOW_ISO} WHERE id = ?1"
    ))?
    .execute([session_id])?;
    Ok(())
}

/// The session's columns in `INSERT INTO sessions` order (the workspace hash second): the
/// parameters of the statements that write a session row.
fn session_values<'v>(
    s: &'v WorktreeSession,
    hash: &'v dyn rusqlite::ToSql,
    runtime_mix: &'v Option<String>,
) -> [&'v dyn rusqlite::ToSql; 17] {
    [
        &s.id,
        hash,
        &s.session_type,
        &s.task,
        &s.status,
        &s.created_at,
        &s.updated_at,
        &s.completed_at,
        &s.model,
        &s.timeout_seconds,
        &s.preserve_worktrees,
        &s.winner_id,
        runtime_mix,
        &s.total_duration,
        &s.total_files_changed,
        &s.total_lines_added,
        &s.total_lines_deleted,
    ]
}

/// Inserts the session row of the workspace `hash` and its children.
pub(crate) fn insert_session(c: &Connection, hash: &str, s: &WorktreeSession) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO sessions (id, workspace_hash, session_type, task, status, created_at,
           updated_at, completed_at, model, timeout_seconds, preserve_worktrees, winner_id,
           runtime_mix, total_duration, total_files_changed, total_lines_added,
           total_lines_deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(session_values(s, &hash, &runtime_mix_text(s)))?;
    insert_children(c, s)
}

fn insert_children(c: &Connection, s: &WorktreeSession) -> Result<()> {
    let mut stmt = c.prepare_cached(&format!(
        "INSERT INTO instances ({INSTANCE_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?;
    for i in &s.instances {
        stmt.execute(params![
            s.id,
            i.instance_id,
            i.worktree_path,
            i.branch,
            i.agent_name,
            i.status,
            i.tmux_session_id,
            i.output,
            i.start_time,
            i.end_time,
            i.files_changed,
            i.lines_added,
            i.lines_deleted,
            i.runtime,
            i.model,
            i.runtime_label,
        ])?;
    }
    for m in &s.chat_history {
        insert_message(c, &s.id, m)?;
    }
    Ok(())
}

fn insert_message(c: &Connection, session_id: &str, m: &ChatMessage) -> Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO chat_messages ({MESSAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![
        session_id,
        m.id,
        m.role,
        m.content,
        m.timestamp,
        m.instance_id
    ])?;
    Ok(())
}

/// True when the session `id` exists (in any workspace).
pub(crate) fn session_exists(c: &Connection, id: &str) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?
        .exists([id])?)
}

#[cfg(test)]
mod tests;
