//! Messages and their parts: etcode's `Message` and `Part` namespaces. Both keep their content
//! as a JSON object in `data`; the object etcode hands out is `data` with the row's ids.

use rusqlite::{params, OptionalExtension, Row};
use serde_json::{json, Value};

use super::{new_id, object_of, object_text, push_object, with_columns, Chats};
use crate::engine::{now_ms, Result};

/// A row of `message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub time_created: i64,
    pub time_updated: i64,
    /// The JSON object of everything but the ids (`role`, `content` or `finish`, `tokens`, …).
    pub data: String,
}

impl Message {
    /// etcode's message object as JSON text: `{ …data, id, sessionID }`.
    pub fn object(&self) -> String {
        with_columns(
            &self.data,
            &[("id", &self.id), ("sessionID", &self.session_id)],
        )
    }
}

/// A row of `part`.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub id: String,
    pub message_id: String,
    /// The session, or `''` (etcode writes that for parts made without one).
    pub session_id: String,
    pub time_created: i64,
    pub time_updated: i64,
    /// The JSON object of everything but the ids (`type`, `text` or `tool`, `state`, …).
    pub data: String,
}

impl Part {
    /// etcode's part object as JSON text: `{ …data, id, messageID }`.
    pub fn object(&self) -> String {
        with_columns(
            &self.data,
            &[("id", &self.id), ("messageID", &self.message_id)],
        )
    }
}

/// What [`Chats::create_message`] takes: etcode's two kinds of message.
#[derive(Debug, Clone, Copy)]
pub enum NewMessage<'s> {
    /// What the user typed.
    User { content: &'s str },
    /// A turn of the model, filled in as it streams (`Message.update`).
    Assistant {
        summary: Option<bool>,
        agent: Option<&'s str>,
    },
}

/// The keys of a message object that are columns, not `data`.
const MESSAGE_IDS: [&str; 2] = ["id", "sessionID"];
/// The keys of a part object that are columns, not `data`.
const PART_IDS: [&str; 3] = ["id", "messageID", "sessionID"];

fn message_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        session_id: r.get(1)?,
        time_created: r.get(2)?,
        time_updated: r.get(3)?,
        data: r.get(4)?,
    })
}

fn part_row(r: &Row<'_>) -> rusqlite::Result<Part> {
    Ok(Part {
        id: r.get(0)?,
        message_id: r.get(1)?,
        session_id: r.get(2)?,
        time_created: r.get(3)?,
        time_updated: r.get(4)?,
        data: r.get(5)?,
    })
}

const MESSAGE_COLUMNS: &str = "id, session_id, time_created, time_updated, data";
const PART_COLUMNS: &str = "id, message_id, session_id, time_created, time_updated, data";

/// A message's parts, oldest first (ties in insertion order): `(id, data)`.
const PARTS_OF_MESSAGE: &str =
    "SELECT id, data FROM part WHERE message_id = ?1 ORDER BY time_created, rowid";

/// Column `i` of `row` as text, borrowed.
fn text<'r>(row: &'r Row<'_>, i: usize) -> Result<&'r str> {
    let value = row.get_ref(i)?;
    value.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(e)).into()
    })
}

/// Appends the JSON array of the part objects of `message_id`, read with [`PARTS_OF_MESSAGE`].
fn push_parts(
    out: &mut String,
    parts: &mut rusqlite::Statement<'_>,
    message_id: &str,
) -> Result<()> {
    out.push('[');
    let mut rows = parts.query([message_id])?;
    let mut first = true;
    while let Some(row) = rows.next()? {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        push_object(
            out,
            text(row, 1)?,
            &[("id", text(row, 0)?), ("messageID", message_id)],
        );
    }
    out.push(']');
    Ok(())
}

impl Chats<'_> {
    /// Creates a message of the session with a new `msg_` id; its `data` is what etcode writes
    /// (`role`, the content or the assistant's `summary`/`agent`, `time.created` = now).
    pub fn create_message(&self, session_id: &str, m: NewMessage<'_>) -> Result<Message> {
        let now = now_ms();
        let time = Some(json!({ "created": now }));
        let data = match m {
            NewMessage::User { content } => object_of(vec![
                ("role", Some(json!("user"))),
                ("content", Some(json!(content))),
                ("time", time),
            ]),
            NewMessage::Assistant { summary, agent } => object_of(vec![
                ("role", Some(json!("assistant"))),
                ("summary", summary.map(Value::Bool)),
                ("agent", agent.map(|a| json!(a))),
                ("time", time),
            ]),
        };
        let message = Message {
            id: new_id("msg", now),
            session_id: session_id.into(),
            time_created: now,
            time_updated: now,
            data,
        };
        self.conn()
            .prepare_cached(
                "INSERT INTO message (id, session_id, time_created, time_updated, data)
                 VALUES (?1, ?2, ?3, ?3, ?4)",
            )?
            .execute(params![message.id, message.session_id, now, message.data])?;
        Ok(message)
    }

    /// The message `id`, if any.
    pub fn message(&self, id: &str) -> Result<Option<Message>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM message WHERE id = ?1"
            ))?
            .query_row([id], message_row)
            .optional()?)
    }

    /// The session's messages, oldest first (ties in insertion order).
    pub fn list_messages(&self, session_id: &str) -> Result<Vec<Message>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM message WHERE session_id = ?1
             ORDER BY time_created, rowid"
        ))?;
        let rows = stmt.query_map([session_id], message_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The session's message objects as one JSON array, oldest first; with `with_parts`, each
    /// is `{ info, parts }` (opencode's shape) with the message's parts in order. Written in one
    /// pass into one string, from an indexed query of each message's parts.
    pub fn messages_json(&self, session_id: &str, with_parts: bool) -> Result<String> {
        let conn = self.conn();
        let mut messages = conn.prepare_cached(
            "SELECT id, data FROM message WHERE session_id = ?1 ORDER BY time_created, rowid",
        )?;
        let mut parts = conn.prepare_cached(PARTS_OF_MESSAGE)?;
        let mut out = String::with_capacity(1 << 16);
        out.push('[');
        let mut rows = messages.query([session_id])?;
        let mut first = true;
        while let Some(row) = rows.next()? {
            let (id, data) = (text(row, 0)?, text(row, 1)?);
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            let columns = [("id", id), ("sessionID", session_id)];
            if !with_parts {
                push_object(&mut out, data, &columns);
                continue;
            }
            out.push_str("{\"info\":");
            push_object(&mut out, data, &columns);
            out.push_str(",\"parts\":");
            push_parts(&mut out, &mut parts, id)?;
            out.push('}');
        }
        out.push(']');
        Ok(out)
    }

    /// Reads message `id`, hands its object (JSON text) to `mutate`, and stores the object
    /// `mutate` returns (without its ids) with `time_updated` = now, all in one transaction: an
    /// error of `mutate` changes nothing. False when there is no such message.
    pub fn update_message_with(
        &self,
        id: &str,
        mutate: impl FnOnce(&str) -> Result<String>,
    ) -> Result<bool> {
        self.update_data(
            "message",
            &MESSAGE_IDS,
            id,
            || Ok(self.message(id)?.map(|m| m.object())),
            mutate,
        )
    }

    /// Deletes the message and (cascade) its parts. False when there was no such message.
    pub fn remove_message(&self, id: &str) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached("DELETE FROM message WHERE id = ?1")?
            .execute([id])?;
        Ok(n > 0)
    }

    /// Creates a part of the message with a new `part_` id. `data` is the part's JSON object
    /// (`{ type, … }`, its ids dropped); `session_id` may be `''`, as etcode writes it.
    pub fn create_part(&self, message_id: &str, session_id: &str, data: &str) -> Result<Part> {
        let now = now_ms();
        let part = Part {
            id: new_id("part", now),
            message_id: message_id.into(),
            session_id: session_id.into(),
            time_created: now,
            time_updated: now,
            data: object_text("part.data", data, &PART_IDS)?,
        };
        self.conn()
            .prepare_cached(
                "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            )?
            .execute(params![
                part.id,
                part.message_id,
                part.session_id,
                now,
                part.data
            ])?;
        Ok(part)
    }

    /// The part `id`, if any.
    pub fn part(&self, id: &str) -> Result<Option<Part>> {
        Ok(self
            .conn()
            .prepare_cached(&format!("SELECT {PART_COLUMNS} FROM part WHERE id = ?1"))?
            .query_row([id], part_row)
            .optional()?)
    }

    /// The message's parts, oldest first (ties in insertion order).
    pub fn list_parts(&self, message_id: &str) -> Result<Vec<Part>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {PART_COLUMNS} FROM part WHERE message_id = ?1 ORDER BY time_created, rowid"
        ))?;
        let rows = stmt.query_map([message_id], part_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The message's part objects as one JSON array, oldest first.
    pub fn parts_json(&self, message_id: &str) -> Result<String> {
        let mut out = String::new();
        push_parts(
            &mut out,
            &mut *self.conn().prepare_cached(PARTS_OF_MESSAGE)?,
            message_id,
        )?;
        Ok(out)
    }

    /// [`Chats::update_message_with`] for part `id`.
    pub fn update_part_with(
        &self,
        id: &str,
        mutate: impl FnOnce(&str) -> Result<String>,
    ) -> Result<bool> {
        self.update_data(
            "part",
            &PART_IDS,
            id,
            || Ok(self.part(id)?.map(|p| p.object())),
            mutate,
        )
    }

    /// The read-modify-write of `update_message_with`/`update_part_with` on `table`.
    fn update_data(
        &self,
        table: &str,
        ids: &[&str],
        id: &str,
        read: impl FnOnce() -> Result<Option<String>>,
        mutate: impl FnOnce(&str) -> Result<String>,
    ) -> Result<bool> {
        self.db.write(|conn| {
            let Some(object) = read()? else {
                return Ok(false);
            };
            let data = object_text(&format!("{table}.data"), &mutate(&object)?, ids)?;
            conn.prepare_cached(&format!(
                "UPDATE {table} SET data = ?2, time_updated = ?3 WHERE id = ?1"
            ))?
            .execute(params![id, data, now_ms()])?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chats::tests::open;
    use crate::chats::NewSession;
    use crate::engine::Error;

    fn session(c: &Chats<'_>) -> Result<String> {
        Ok(c.create_session(&NewSession {
            project_id: "p",
            directory: "/w",
            title: None,
            agent: None,
        })?
        .id)
    }

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn messages_keep_etcodes_data_and_list_ties_in_insertion_order() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        let s = session(&c)?;
        let u = c.create_message(&s, NewMessage::User { content: "hi" })?;
        let a = c.create_message(
            &s,
            NewMessage::Assistant {
                summary: None,
                agent: Some("build"),
            },
        )?;
        assert!(u.id.starts_with("msg_"));
        assert_eq!(
            value(&u.object()),
            json!({ "id": u.id, "sessionID": s, "role": "user", "content": "hi",
                    "time": { "created": u.time_created } })
        );
        assert_eq!(value(&a.data)["agent"], "build");
        assert!(value(&a.data).get("summary").is_none());
        db.conn()
            .execute("UPDATE message SET time_created = 5", [])?;
        let ids: Vec<String> = c.list_messages(&s)?.into_iter().map(|m| m.id).collect();
        assert_eq!(ids, [u.id.clone(), a.id.clone()]);
        assert_eq!(c.message(&u.id)?.unwrap().data, u.data);
        Ok(())
    }

    #[test]
    fn an_update_is_one_transaction_and_a_failing_mutation_changes_nothing() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        let s = session(&c)?;
        let m = c.create_message(&s, NewMessage::User { content: "a" })?;
        let p = c.create_part(
            &m.id,
            &s,
            r#"{"type":"tool","tool":"bash","state":{"status":"pending"}}"#,
        )?;
        let err = c
            .update_part_with(&p.id, |_| Err(Error::InvalidArg("thrown".into())))
            .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert_eq!(c.part(&p.id)?.unwrap(), p);
        assert!(c.update_part_with(&p.id, |obj| {
            let mut v = value(obj);
            assert_eq!(v["messageID"], json!(m.id));
            v["state"] = json!({ "status": "running", "output": "ls" });
            Ok(v.to_string())
        })?);
        let after = c.part(&p.id)?.unwrap();
        assert_eq!(
            value(&after.data),
            json!({ "type": "tool", "tool": "bash", "state": { "status": "running", "output": "ls" } })
        );
        assert!(!c.update_part_with("part_none", |_| unreachable!())?);
        assert!(c.update_message_with(&m.id, |obj| {
            let mut v = value(obj);
            v["content"] = json!("b");
            Ok(v.to_string())
        })?);
        assert_eq!(value(&c.message(&m.id)?.unwrap().data)["content"], "b");
        assert!(db.conn().is_autocommit());
        Ok(())
    }

    #[test]
    fn parts_come_back_with_their_messages_and_go_with_them() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        let s = session(&c)?;
        let m1 = c.create_message(&s, NewMessage::User { content: "a" })?;
        let m2 = c.create_message(
            &s,
            NewMessage::Assistant {
                summary: Some(true),
                agent: None,
            },
        )?;
        let p1 = c.create_part(&m2.id, "", r#"{"type":"step-start"}"#)?;
        let p2 = c.create_part(&m2.id, &s, r#"{"type":"text","text":"","id":"stale"}"#)?;
        assert_eq!(value(&p2.object())["id"], json!(p2.id));
        let all = value(&c.messages_json(&s, true)?);
        assert_eq!(all[0]["info"]["id"], json!(m1.id));
        assert_eq!(all[0]["parts"], json!([]));
        assert_eq!(all[1]["parts"][0]["id"], json!(p1.id));
        assert_eq!(all[1]["parts"][1]["messageID"], json!(m2.id));
        assert_eq!(value(&c.messages_json(&s, false)?)[1]["summary"], true);
        assert_eq!(value(&c.parts_json(&m2.id)?).as_array().unwrap().len(), 2);
        assert!(c.remove_message(&m2.id)?);
        assert!(c.part(&p1.id)?.is_none());
        let p3 = c.create_part(&m1.id, &s, r#"{"type":"text","text":"x"}"#)?;
        assert!(c.remove_session(&s)?);
        assert!(c.message(&m1.id)?.is_none() && c.part(&p3.id)?.is_none());
        assert!(!c.remove_session(&s)?);
        Ok(())
    }

    #[test]
    fn a_part_of_a_missing_message_or_with_bad_data_is_refused() -> Result<()> {
        let (_dir, db) = open();
        let c = db.chats()?;
        let err = c
            .create_part("msg_none", "", r#"{"type":"text"}"#)
            .unwrap_err();
        assert_eq!(err.code(), "SQLITE_CONSTRAINT_FOREIGNKEY");
        assert_eq!(
            c.create_part("m", "", "{").unwrap_err().code(),
            "ERR_INVALID_JSON"
        );
        Ok(())
    }
}
