//! A session's todo list (the `todo` table, which etcode defines but never writes: its todo
//! tool still uses the deprecated JSON store) and a project's permission rules.

use rusqlite::{params, OptionalExtension};

use super::Chats;
use crate::engine::{json, now_ms, Result};

/// One item of a todo list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub content: String,
    /// `pending`, `in_progress`, `completed` or `cancelled` (not checked).
    pub status: String,
    /// The table requires one; etcode's items have none, and get [`DEFAULT_PRIORITY`].
    pub priority: String,
}

/// The priority of an item given without one.
pub const DEFAULT_PRIORITY: &str = "medium";

impl Chats<'_> {
    /// Replaces the session's todo list with `todos` (position = index), in one transaction.
    pub fn replace_todos(&self, session_id: &str, todos: &[Todo]) -> Result<()> {
        let now = now_ms();
        self.db.write(|conn| {
            conn.prepare_cached("DELETE FROM todo WHERE session_id = ?1")?
                .execute([session_id])?;
            let mut insert = conn.prepare_cached(
                "INSERT INTO todo (session_id, content, status, priority, position, time_created,
                   time_updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?;
            for (i, t) in todos.iter().enumerate() {
                insert.execute(params![
                    session_id, t.content, t.status, t.priority, i as i64, now
                ])?;
            }
            Ok(())
        })
    }

    /// The session's todo list, by position.
    pub fn todos(&self, session_id: &str) -> Result<Vec<Todo>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT content, status, priority FROM todo WHERE session_id = ?1 ORDER BY position",
        )?;
        let rows = stmt.query_map([session_id], |r| {
            Ok(Todo {
                content: r.get(0)?,
                status: r.get(1)?,
                priority: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets the project's permission rules (JSON text, an array of `{ permission, pattern,
    /// action }` in etcode), keeping `time_created` of an earlier set.
    pub fn set_permission(&self, project_id: &str, data: &str) -> Result<()> {
        json::validate("permission.data", data)?;
        self.conn()
            .prepare_cached(
                "INSERT INTO permission (project_id, data, time_created, time_updated)
                 VALUES (?1, ?2, ?3, ?3) ON CONFLICT (project_id)
                 DO UPDATE SET data = excluded.data, time_updated = excluded.time_updated",
            )?
            .execute(params![project_id, data, now_ms()])?;
        Ok(())
    }

    /// The project's permission rules as JSON text, if set.
    pub fn permission(&self, project_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT data FROM permission WHERE project_id = ?1")?
            .query_row([project_id], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chats::tests::open;
    use crate::chats::NewSession;

    fn todo(content: &str, status: &str) -> Todo {
        Todo {
            content: content.into(),
            status: status.into(),
            priority: DEFAULT_PRIORITY.into(),
        }
    }

    #[test]
    fn a_todo_list_is_replaced_whole_and_goes_with_its_session() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        let s = c
            .create_session(&NewSession {
                project_id: "p",
                directory: "/",
                title: None,
                agent: None,
            })?
            .id;
        c.replace_todos(
            &s,
            &[
                todo("a", "pending"),
                todo("b", "in_progress"),
                todo("c", "completed"),
            ],
        )?;
        c.replace_todos(&s, &[todo("b", "completed"), todo("d", "pending")])?;
        assert_eq!(c.todos(&s)?, [todo("b", "completed"), todo("d", "pending")]);
        let err = c
            .replace_todos("sess_none", &[todo("x", "pending")])
            .unwrap_err();
        assert_eq!(err.code(), "SQLITE_CONSTRAINT_FOREIGNKEY");
        c.remove_session(&s)?;
        assert!(c.todos(&s)?.is_empty());
        Ok(())
    }

    #[test]
    fn permissions_are_set_replaced_and_validated() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        assert_eq!(c.permission("p")?, None);
        c.set_permission(
            "p",
            r#"[{"permission":"bash","pattern":"*","action":"ask"}]"#,
        )?;
        c.set_permission("p", "[]")?;
        assert_eq!(c.permission("p")?.as_deref(), Some("[]"));
        assert_eq!(
            c.set_permission("p", "[").unwrap_err().code(),
            "ERR_INVALID_JSON"
        );
        assert_eq!(c.permission("p")?.as_deref(), Some("[]"));
        Ok(())
    }
}
