//! The conversations store: the opencode sidepanel's chat sessions (spec 37), their messages
//! numbered by `sequence`, forks taken at a message (branches), full-text search over the
//! messages (FTS5, bm25) and one-session archives (`.json.gz`, spec 78). See
//! `reference/session-stores.md` §1.
//!
//! Timestamps are ISO 8601 text with milliseconds and `Z` ([`crate::engine::time`]). Every
//! write is one statement or one `BEGIN IMMEDIATE` transaction, so several processes may append
//! to one session: each message gets the next `sequence`, without a gap or a duplicate.
//!
//! ```
//! use stowage_core::{Database, OpenOptions};
//! use stowage_core::conversations::{schema::STORE, NewMessage, NewSession, SearchOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(&dir.path().join("chat.sqlite"), &OpenOptions::new([&STORE as _]))?;
//! let c = db.conversations()?;
//! let s = c.create_session(&NewSession { title: "Plans".into(), model: "m".into(), ..Default::default() })?;
//! let m = c.append_message(&s.id, &NewMessage { role: "user".into(), content: "ship the release".into(), ..Default::default() })?;
//! assert_eq!(m.sequence, 1);
//! let hits = c.search_messages("release", &SearchOptions::default())?;
//! assert_eq!(hits[0].snippet, "ship the <mark>release</mark>");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod archive;
mod branches;
mod messages;
pub mod schema;
mod search;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::engine::time::now_iso;
use crate::engine::{write_tx, Database, Error, Result};

pub use archive::{
    export_archive_on, read_archive, restore_archive_on, Archive, ArchivePhase, ArchiveProgress,
    ArchiveSink, Exported, MAX_ARCHIVE_BYTES,
};
pub use branches::{Branch, Fork};
pub use messages::{ListMessages, Message, NewMessage};
pub use search::{quote_query, SearchHit, SearchOptions};

/// One chat session (a row of `sessions`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    pub id: String,
    pub title: String,
    pub created_at: String,
    pub updated_at: String,
    pub model: String,
    pub provider: String,
    pub branch_name: String,
    pub parent_session_id: Option<String>,
    pub branch_point: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost: f64,
    pub is_archived: bool,
    pub is_imported: bool,
}

/// What [`Conversations::create_session`] records.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    pub title: String,
    pub model: String,
    /// Default `venice` (the spec's).
    pub provider: Option<String>,
    /// Default: a new random id (32 hex digits).
    pub id: Option<String>,
}

/// The fields [`Conversations::update_session`] changes; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct SessionPatch {
    pub title: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub branch_name: Option<String>,
}

/// Which sessions [`Conversations::list_sessions`] returns.
#[derive(Debug, Clone, Default)]
pub struct ListSessions {
    /// Only archived (`Some(true)`) or only unarchived (`Some(false)`) sessions; both by default.
    pub archived: Option<bool>,
    /// Only sessions whose title contains this text (ASCII letters case-insensitive).
    pub search: Option<String>,
    /// At most this many (all by default).
    pub limit: Option<i64>,
    /// Skipping this many first.
    pub offset: i64,
}

/// The provider of a session created without one (spec 37's default).
pub const DEFAULT_PROVIDER: &str = "venice";

/// The SQL of a new random id: 32 lowercase hex digits from SQLite's randomness source.
pub(crate) const NEW_ID: &str = "lower(hex(randomblob(16)))";

pub(crate) const SESSION_COLUMNS: &str = "id, title, created_at, updated_at, model, provider,
    branch_name, parent_session_id, branch_point, prompt_tokens, completion_tokens, cost,
    is_archived, is_imported";

/// The conversations store of an open [`Database`].
#[derive(Debug, Clone, Copy)]
pub struct Conversations<'a> {
    db: &'a Database,
}

impl Database {
    /// The conversations store, if this file was opened with it (`ERR_STORE_NOT_OPEN`
    /// otherwise).
    pub fn conversations(&self) -> Result<Conversations<'_>> {
        self.require(schema::NAME)?;
        Ok(Conversations { db: self })
    }
}

impl<'a> Conversations<'a> {
    pub(crate) fn conn(&self) -> &'a Connection {
        self.db.conn()
    }

    /// Creates a session with no messages, `updated_at` = `created_at` = now.
    /// `SQLITE_CONSTRAINT_PRIMARYKEY` when `id` is taken; an empty title or model is
    /// `ERR_INVALID_ARG`.
    pub fn create_session(&self, s: &NewSession) -> Result<Session> {
        non_empty("title", &s.title)?;
        non_empty("model", &s.model)?;
        let now = now_iso();
        let id: String = self
            .conn()
            .prepare_cached(&format!(
                "INSERT INTO sessions (id, title, created_at, updated_at, model, provider)
                 VALUES (coalesce(?1, {NEW_ID}), ?2, ?3, ?3, ?4, ?5) RETURNING id"
            ))?
            .query_row(
                params![
                    s.id,
                    s.title,
                    now,
                    s.model,
                    s.provider.as_deref().unwrap_or(DEFAULT_PROVIDER)
                ],
                |r| r.get(0),
            )?;
        self.require_session(&id)
    }

    /// The session `id`, if there is one.
    pub fn get_session(&self, id: &str) -> Result<Option<Session>> {
        session_on(self.conn(), id)
    }

    /// Sessions, most recently updated first (ties by id).
    pub fn list_sessions(&self, q: &ListSessions) -> Result<Vec<Session>> {
        let pattern = q.search.as_deref().map(like_pattern);
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions
             WHERE (?1 IS NULL OR coalesce(is_archived, 0) = ?1)
               AND (?2 IS NULL OR title LIKE ?2 ESCAPE '\\')
             ORDER BY updated_at DESC, id LIMIT ?3 OFFSET ?4"
        ))?;
        let rows = stmt.query_map(
            params![q.archived, pattern, q.limit.unwrap_or(-1), q.offset.max(0)],
            session_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Changes the patch's fields and bumps `updated_at`; returns the session as it is now.
    /// `ERR_NOT_FOUND` when there is no session `id`.
    pub fn update_session(&self, id: &str, patch: &SessionPatch) -> Result<Session> {
        for (field, value) in [("title", &patch.title), ("model", &patch.model)] {
            if let Some(v) = value {
                non_empty(field, v)?;
            }
        }
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE sessions SET title = coalesce(?2, title), model = coalesce(?3, model),
                   provider = coalesce(?4, provider), branch_name = coalesce(?5, branch_name),
                   updated_at = max(updated_at, ?6)
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                patch.title,
                patch.model,
                patch.provider,
                patch.branch_name,
                now_iso()
            ])?;
        if changed == 0 {
            return Err(missing(id));
        }
        self.require_session(id)
    }

    /// Archives or unarchives the session (its `updated_at` stays). `ERR_NOT_FOUND` when there
    /// is no session `id`.
    pub fn archive_session(&self, id: &str, archived: bool) -> Result<()> {
        let changed = self
            .conn()
            .prepare_cached("UPDATE sessions SET is_archived = ?2 WHERE id = ?1")?
            .execute(params![id, archived])?;
        if changed == 0 {
            return Err(missing(id));
        }
        Ok(())
    }

    /// Deletes the session with its messages (and their index entries), in one statement. Its
    /// forks stay, as sessions without a parent. `ERR_NOT_FOUND` when there is no session `id`.
    pub fn delete_session(&self, id: &str) -> Result<()> {
        let changed = self
            .conn()
            .prepare_cached("DELETE FROM sessions WHERE id = ?1")?
            .execute([id])?;
        if changed == 0 {
            return Err(missing(id));
        }
        Ok(())
    }

    fn require_session(&self, id: &str) -> Result<Session> {
        self.get_session(id)?.ok_or_else(|| missing(id))
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction (a savepoint inside an open one).
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        write_tx(self.conn(), f)
    }
}

/// The session `id` on `conn`, if there is one.
pub(crate) fn session_on(conn: &Connection, id: &str) -> Result<Option<Session>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
        ))?
        .query_row([id], session_from_row)
        .optional()?)
}

/// `ERR_NOT_FOUND` for the session `id`.
pub(crate) fn missing(id: &str) -> Error {
    Error::NotFound(format!("there is no session '{id}'"))
}

/// `ERR_INVALID_ARG` unless `value` has a character other than white space.
pub(crate) fn non_empty(field: impl std::fmt::Display, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::InvalidArg(format!("{field} must not be empty")));
    }
    Ok(())
}

/// A `LIKE … ESCAPE '\'` pattern matching text that contains `needle`.
fn like_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Null | Value::Blob(_) => None,
    }
}

pub(crate) fn session_from_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    let t = |i: usize| -> rusqlite::Result<String> { Ok(text(r.get(i)?).unwrap_or_default()) };
    let n = |i: usize| -> rusqlite::Result<Option<i64>> { r.get(i) };
    Ok(Session {
        id: t(0)?,
        title: t(1)?,
        created_at: t(2)?,
        updated_at: t(3)?,
        model: t(4)?,
        provider: t(5)?,
        branch_name: t(6)?,
        parent_session_id: text(r.get(7)?),
        branch_point: n(8)?,
        prompt_tokens: n(9)?.unwrap_or(0),
        completion_tokens: n(10)?.unwrap_or(0),
        cost: r.get::<_, Option<f64>>(11)?.unwrap_or(0.0),
        is_archived: n(12)?.unwrap_or(0) != 0,
        is_imported: n(13)?.unwrap_or(0) != 0,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::{OpenOptions, StoreDef};

    /// A fresh conversations store in a temporary folder.
    pub(crate) fn open() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let options = OpenOptions::new([&schema::STORE as &'static dyn StoreDef]);
        let db = Database::open(&dir.path().join("chat.sqlite"), &options).unwrap();
        (dir, db)
    }

    pub(crate) fn session(c: &Conversations<'_>, title: &str) -> Session {
        c.create_session(&NewSession {
            title: title.into(),
            model: "llama-3.3-70b".into(),
            ..NewSession::default()
        })
        .unwrap()
    }

    pub(crate) fn say(c: &Conversations<'_>, session: &str, content: &str) -> Message {
        c.append_message(
            session,
            &NewMessage {
                role: "user".into(),
                content: content.into(),
                ..NewMessage::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn a_new_session_has_the_spec_defaults_and_one_timestamp_format() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let s = session(&c, "First");
        assert_eq!(s.id.len(), 32);
        assert!(s.id.chars().all(|ch| ch.is_ascii_hexdigit()));
        assert_eq!(
            (s.provider.as_str(), s.branch_name.as_str()),
            ("venice", "main")
        );
        assert_eq!((s.prompt_tokens, s.completion_tokens, s.cost), (0, 0, 0.0));
        assert!(!s.is_archived && !s.is_imported && s.parent_session_id.is_none());
        assert_eq!(s.created_at, s.updated_at);
        assert_eq!(s.created_at.len(), "2026-05-01T12:00:00.000Z".len());
        assert!(s.created_at.ends_with('Z') && s.created_at.as_bytes()[19] == b'.');
        let mine = c.create_session(&NewSession {
            id: Some("s-1".into()),
            provider: Some("openai".into()),
            ..NewSession {
                title: "Mine".into(),
                model: "gpt".into(),
                ..Default::default()
            }
        })?;
        assert_eq!(
            (mine.id.as_str(), mine.provider.as_str()),
            ("s-1", "openai")
        );
        let taken = c
            .create_session(&NewSession {
                id: Some("s-1".into()),
                title: "again".into(),
                model: "gpt".into(),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(taken.code(), "SQLITE_CONSTRAINT_PRIMARYKEY");
        let empty = NewSession {
            title: " ".into(),
            model: "m".into(),
            ..Default::default()
        };
        assert_eq!(
            c.create_session(&empty).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        Ok(())
    }

    #[test]
    fn sessions_list_newest_update_first_with_filters_and_pages() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        for (id, title, updated) in [
            ("a", "Rust 100% done", "2026-01-01T00:00:00.000Z"),
            ("b", "rust_notes", "2026-01-03T00:00:00.000Z"),
            ("c", "Groceries", "2026-01-02T00:00:00.000Z"),
        ] {
            c.create_session(&NewSession {
                id: Some(id.into()),
                title: title.into(),
                model: "m".into(),
                ..Default::default()
            })?;
            db.conn().execute(
                "UPDATE sessions SET updated_at = ?2 WHERE id = ?1",
                params![id, updated],
            )?;
        }
        c.archive_session("c", true)?;
        let ids = |q: ListSessions| -> Result<Vec<String>> {
            Ok(c.list_sessions(&q)?.into_iter().map(|s| s.id).collect())
        };
        assert_eq!(ids(ListSessions::default())?, ["b", "c", "a"]);
        let q = |archived, search: Option<&str>, limit, offset| ListSessions {
            archived,
            search: search.map(Into::into),
            limit,
            offset,
        };
        assert_eq!(ids(q(Some(false), None, None, 0))?, ["b", "a"]);
        assert_eq!(ids(q(Some(true), None, None, 0))?, ["c"]);
        assert_eq!(ids(q(None, Some("RUST"), None, 0))?, ["b", "a"]);
        assert_eq!(ids(q(None, Some("100%"), None, 0))?, ["a"]);
        assert_eq!(ids(q(None, Some("_"), None, 0))?, ["b"]);
        assert_eq!(ids(q(None, None, Some(1), 1))?, ["c"]);
        assert_eq!(
            c.get_session("c")?.unwrap().updated_at,
            "2026-01-02T00:00:00.000Z"
        );
        Ok(())
    }

    #[test]
    fn update_archive_and_delete_name_a_missing_session_as_not_found() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let s = session(&c, "Old");
        let patch = SessionPatch {
            title: Some("New".into()),
            branch_name: Some("alt".into()),
            ..Default::default()
        };
        let u = c.update_session(&s.id, &patch)?;
        assert_eq!(
            (u.title.as_str(), u.model.as_str()),
            ("New", "llama-3.3-70b")
        );
        assert_eq!(u.branch_name, "alt");
        assert!(u.updated_at >= s.updated_at);
        for err in [
            c.update_session("nope", &patch).unwrap_err(),
            c.archive_session("nope", true).unwrap_err(),
            c.delete_session("nope").unwrap_err(),
        ] {
            assert_eq!(err.code(), "ERR_NOT_FOUND");
        }
        say(&c, &s.id, "hello there");
        c.delete_session(&s.id)?;
        assert!(c.get_session(&s.id)?.is_none());
        let left: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
        assert_eq!(left, 0);
        assert!(c
            .search_messages("hello", &SearchOptions::default())?
            .is_empty());
        Ok(())
    }
}
