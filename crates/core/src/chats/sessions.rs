//! Sessions: one chat of a project, etcode's `Session` namespace.

use rusqlite::{params, OptionalExtension, Row};

use super::{new_id, Chats};
use crate::engine::{now_ms, Result};

/// A session as etcode's `Session.Info` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub project_id: String,
    pub directory: String,
    pub title: String,
    pub agent: Option<String>,
    /// `None` when the counters are NULL or all 0, as etcode reads them.
    pub summary: Option<Summary>,
    pub time_created: i64,
    pub time_updated: i64,
}

/// The lines and files a session's edits changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub additions: i64,
    pub deletions: i64,
    pub files: i64,
}

/// What [`Chats::create_session`] takes.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'s> {
    pub project_id: &'s str,
    pub directory: &'s str,
    /// `"New Session"` when `None`.
    pub title: Option<&'s str>,
    pub agent: Option<&'s str>,
}

/// etcode's title of a session created without one.
pub const DEFAULT_TITLE: &str = "New Session";

const COLUMNS: &str = "id, project_id, directory, title, agent, summary_additions, \
     summary_deletions, summary_files, time_created, time_updated";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    let counters: [Option<i64>; 3] = [r.get(5)?, r.get(6)?, r.get(7)?];
    let summary = counters
        .iter()
        .any(|c| c.unwrap_or(0) != 0)
        .then(|| Summary {
            additions: counters[0].unwrap_or(0),
            deletions: counters[1].unwrap_or(0),
            files: counters[2].unwrap_or(0),
        });
    Ok(Session {
        id: r.get(0)?,
        project_id: r.get(1)?,
        directory: r.get(2)?,
        title: r.get(3)?,
        agent: r.get(4)?,
        summary,
        time_created: r.get(8)?,
        time_updated: r.get(9)?,
    })
}

impl Chats<'_> {
    /// Creates a session with a new `sess_` id, created = updated = now.
    pub fn create_session(&self, s: &NewSession<'_>) -> Result<Session> {
        let now = now_ms();
        let session = Session {
            id: new_id("sess", now),
            project_id: s.project_id.into(),
            directory: s.directory.into(),
            title: s.title.unwrap_or(DEFAULT_TITLE).into(),
            agent: s.agent.map(Into::into),
            summary: None,
            time_created: now,
            time_updated: now,
        };
        self.conn()
            .prepare_cached(
                "INSERT INTO session (id, project_id, directory, title, agent, time_created,
                   time_updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?
            .execute(params![
                session.id,
                session.project_id,
                session.directory,
                session.title,
                session.agent,
                now
            ])?;
        Ok(session)
    }

    /// The session `id`; `None` when there is none, or when `project_id` is given and the
    /// session belongs to another project.
    pub fn session(&self, id: &str, project_id: Option<&str>) -> Result<Option<Session>> {
        let s = self
            .conn()
            .prepare_cached(&format!("SELECT {COLUMNS} FROM session WHERE id = ?1"))?
            .query_row([id], from_row)
            .optional()?;
        Ok(s.filter(|s| project_id.is_none_or(|p| s.project_id == p)))
    }

    /// The project's sessions, most recently updated first.
    pub fn list_sessions(&self, project_id: &str) -> Result<Vec<Session>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {COLUMNS} FROM session WHERE project_id = ?1
             ORDER BY time_updated DESC, rowid"
        ))?;
        let rows = stmt.query_map([project_id], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets `time_updated` to now. False when there is no such session.
    pub fn touch_session(&self, id: &str) -> Result<bool> {
        self.update_session("", params![now_ms(), id])
    }

    /// Sets the title (and `time_updated`). False when there is no such session.
    pub fn set_title(&self, id: &str, title: &str) -> Result<bool> {
        self.update_session("title = ?3,", params![now_ms(), id, title])
    }

    /// Sets the summary counters (and `time_updated`). False when there is no such session.
    pub fn set_summary(&self, id: &str, summary: Summary) -> Result<bool> {
        self.update_session(
            "summary_additions = ?3, summary_deletions = ?4, summary_files = ?5,",
            params![
                now_ms(),
                id,
                summary.additions,
                summary.deletions,
                summary.files
            ],
        )
    }

    fn update_session(&self, set: &str, params: impl rusqlite::Params) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached(&format!(
                "UPDATE session SET {set} time_updated = ?1 WHERE id = ?2"
            ))?
            .execute(params)?;
        Ok(n > 0)
    }

    /// Deletes the session; its messages, their parts and its todos go with it (foreign-key
    /// cascades). False when there was no such session.
    pub fn remove_session(&self, id: &str) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached("DELETE FROM session WHERE id = ?1")?
            .execute([id])?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chats::tests::open;

    fn new<'s>(project: &'s str, title: Option<&'s str>) -> NewSession<'s> {
        NewSession {
            project_id: project,
            directory: "/work",
            title,
            agent: None,
        }
    }

    #[test]
    fn a_session_is_created_with_etcodes_defaults_and_read_back() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        let s = c.create_session(&new("proj_a", None))?;
        assert!(s.id.starts_with("sess_"));
        assert_eq!(s.title, "New Session");
        assert_eq!(s.time_created, s.time_updated);
        assert_eq!(c.session(&s.id, Some("proj_a"))?, Some(s.clone()));
        assert_eq!(c.session(&s.id, Some("proj_b"))?, None);
        assert_eq!(c.session(&s.id, None)?, Some(s));
        assert_eq!(c.session("sess_none", None)?, None);
        Ok(())
    }

    #[test]
    fn updates_bump_time_updated_which_orders_the_list() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        let a = c.create_session(&new("p", Some("a")))?;
        let b = c.create_session(&new("p", Some("b")))?;
        c.create_session(&new("other", None))?;
        db.conn()
            .execute("UPDATE session SET time_updated = 1", [])?;
        assert!(c.set_title(&a.id, "renamed")?);
        let titles: Vec<String> = c.list_sessions("p")?.into_iter().map(|s| s.title).collect();
        assert_eq!(titles, ["renamed", "b"]);
        db.conn()
            .execute("UPDATE session SET time_updated = 1", [])?;
        assert!(c.set_summary(
            &b.id,
            Summary {
                additions: 3,
                deletions: 1,
                files: 2
            }
        )?);
        let listed = c.list_sessions("p")?;
        assert_eq!(listed[0].id, b.id);
        assert_eq!(
            listed[0].summary,
            Some(Summary {
                additions: 3,
                deletions: 1,
                files: 2
            })
        );
        c.set_summary(&b.id, Summary::default())?;
        assert_eq!(c.session(&b.id, None)?.unwrap().summary, None);
        db.conn()
            .execute("UPDATE session SET time_updated = 1", [])?;
        assert!(c.touch_session(&a.id)?);
        assert_eq!(c.list_sessions("p")?[0].id, a.id);
        assert!(!c.touch_session("sess_none")?);
        assert!(!c.set_title("sess_none", "x")?);
        Ok(())
    }
}
