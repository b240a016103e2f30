//! Recordings: a session's recorded events, kept until deleted (spec 37).

use rusqlite::{params, OptionalExtension, Row};

use super::{json_array, missing, non_empty, not_negative, History};
use crate::conversations::NEW_ID;
use crate::engine::time::now_iso;
use crate::engine::{json, Result};

/// One recording (a row of `recordings`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recording {
    pub id: String,
    pub session_id: String,
    pub title: String,
    pub created_at: String,
    /// Milliseconds.
    pub duration: i64,
    /// JSON text of an array; `None` in [`History::list_recordings`], which leaves the events
    /// out.
    pub events: Option<String>,
    /// JSON text of an array, or `None`.
    pub snapshots: Option<String>,
    /// JSON text, or `None`.
    pub metadata: Option<String>,
}

/// What [`History::create_recording`] records.
#[derive(Debug, Clone, Default)]
pub struct NewRecording {
    pub session_id: String,
    pub title: String,
    /// Milliseconds, not negative.
    pub duration: i64,
    /// JSON text of an array.
    pub events: String,
    /// JSON text of an array.
    pub snapshots: Option<String>,
    /// JSON text.
    pub metadata: Option<String>,
}

impl NewRecording {
    /// `ERR_INVALID_ARG` for an empty session id or title or a negative duration,
    /// `ERR_INVALID_JSON` for events or snapshots that are not a JSON array, or metadata that is
    /// not one JSON value.
    pub fn validate(&self) -> Result<()> {
        non_empty("recording.sessionId", &self.session_id)?;
        non_empty("recording.title", &self.title)?;
        not_negative("recording.duration", Some(self.duration))?;
        json_array("recording.events", &self.events)?;
        if let Some(s) = &self.snapshots {
            json_array("recording.snapshots", s)?;
        }
        if let Some(m) = &self.metadata {
            json::validate("recording.metadata", m)?;
        }
        Ok(())
    }
}

const LIST_COLUMNS: &str =
    "id, session_id, title, created_at, duration, snapshots_json, metadata_json";

impl History<'_> {
    /// Records a recording, created now, and returns it.
    pub fn create_recording(&self, r: &NewRecording) -> Result<Recording> {
        r.validate()?;
        let now = now_iso();
        let id: String = self
            .conn()
            .prepare_cached(&format!(
                "INSERT INTO recordings (id, session_id, title, created_at, duration, events_json,
                   snapshots_json, metadata_json)
                 VALUES ({NEW_ID}, ?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id"
            ))?
            .query_row(
                params![
                    r.session_id,
                    r.title,
                    now,
                    r.duration,
                    r.events,
                    r.snapshots,
                    r.metadata
                ],
                |row| row.get(0),
            )?;
        Ok(Recording {
            id,
            session_id: r.session_id.clone(),
            title: r.title.clone(),
            created_at: now,
            duration: r.duration,
            events: Some(r.events.clone()),
            snapshots: r.snapshots.clone(),
            metadata: r.metadata.clone(),
        })
    }

    /// The recording `id` with its events, if there is one.
    pub fn get_recording(&self, id: &str) -> Result<Option<Recording>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {LIST_COLUMNS}, events_json FROM recordings WHERE id = ?1"
            ))?
            .query_row([id], |r| {
                let mut rec = recording_from_row(r)?;
                rec.events = Some(r.get(7)?);
                Ok(rec)
            })
            .optional()?)
    }

    /// Recordings newest first (of the session `session_id` only, when given), without their
    /// events.
    pub fn list_recordings(&self, session_id: Option<&str>) -> Result<Vec<Recording>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {LIST_COLUMNS} FROM recordings WHERE (?1 IS NULL OR session_id = ?1)
             ORDER BY created_at DESC, rowid DESC"
        ))?;
        let rows = stmt.query_map([session_id], recording_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes the recording. `ERR_NOT_FOUND` when there is no recording `id`.
    pub fn delete_recording(&self, id: &str) -> Result<()> {
        let changed = self
            .conn()
            .prepare_cached("DELETE FROM recordings WHERE id = ?1")?
            .execute([id])?;
        if changed == 0 {
            return Err(missing("recording", id));
        }
        Ok(())
    }
}

fn recording_from_row(r: &Row<'_>) -> rusqlite::Result<Recording> {
    Ok(Recording {
        id: r.get(0)?,
        session_id: r.get(1)?,
        title: r.get(2)?,
        created_at: r.get(3)?,
        duration: r.get(4)?,
        events: None,
        snapshots: r.get(5)?,
        metadata: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::open;
    use super::super::HistoryConfig;
    use super::*;

    fn recording(session: &str, title: &str) -> NewRecording {
        NewRecording {
            session_id: session.into(),
            title: title.into(),
            duration: 1500,
            events: r#"[{"t":0,"type":"message"}]"#.into(),
            ..Default::default()
        }
    }

    #[test]
    fn recordings_read_back_and_list_newest_first_by_session_without_events() -> Result<()> {
        let (_dir, db) = open(HistoryConfig::default());
        let h = db.history()?;
        let first = h.create_recording(&NewRecording {
            snapshots: Some(r#"["snap-1"]"#.into()),
            metadata: Some(r#"{"app":"1.2"}"#.into()),
            ..recording("s1", "Demo")
        })?;
        assert_eq!(h.get_recording(&first.id)?.as_ref(), Some(&first));
        let second = h.create_recording(&recording("s2", "Other"))?;
        let third = h.create_recording(&recording("s1", "Again"))?;
        let ids = |s: Option<&str>| -> Result<Vec<String>> {
            Ok(h.list_recordings(s)?.into_iter().map(|r| r.id).collect())
        };
        assert_eq!(
            ids(None)?,
            [third.id.clone(), second.id.clone(), first.id.clone()]
        );
        assert_eq!(ids(Some("s1"))?, [third.id.clone(), first.id.clone()]);
        assert!(h.list_recordings(None)?.iter().all(|r| r.events.is_none()));
        h.delete_recording(&second.id)?;
        assert!(h.get_recording(&second.id)?.is_none());
        assert_eq!(
            h.delete_recording(&second.id).unwrap_err().code(),
            "ERR_NOT_FOUND"
        );
        for (bad, code) in [
            (
                NewRecording {
                    events: "{}".into(),
                    ..recording("s", "t")
                },
                "ERR_INVALID_JSON",
            ),
            (
                NewRecording {
                    duration: -1,
                    ..recording("s", "t")
                },
                "ERR_INVALID_ARG",
            ),
            (recording("s", " "), "ERR_INVALID_ARG"),
        ] {
            assert_eq!(h.create_recording(&bad).unwrap_err().code(), code);
        }
        Ok(())
    }
}
