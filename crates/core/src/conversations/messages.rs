//! Messages: appended with the next `sequence` of their session, listed by sequence.

use std::sync::LazyLock;

use rusqlite::{params, Connection, Row};

use super::{missing, non_empty, text, Conversations, NEW_ID};
use crate::engine::time::now_iso;
use crate::engine::{json, Error, Result, Rows};

/// One message (a row of `messages`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub role: String,
    pub content: String,
    pub created_at: String,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// The tool calls as JSON text (an array), or `None`.
    pub tool_calls: Option<String>,
    pub sequence: i64,
    pub cost: Option<f64>,
}

/// What [`Conversations::append_message`] records.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub role: String,
    pub content: String,
    /// JSON text of an array.
    pub tool_calls: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cost: Option<f64>,
}

/// Which messages [`Conversations::list_messages`] returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListMessages {
    /// Only messages with a greater sequence.
    pub after_sequence: Option<i64>,
    /// At most this many (all by default).
    pub limit: Option<i64>,
}

/// The columns [`message_from_row`] reads, of `messages` aliased `m`.
/// The selection and order of [`Conversations::list_messages`].
const LIST: &str =
    "FROM messages m WHERE session_id = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3";

pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.session_id, m.role, m.content, m.created_at,
    m.prompt_tokens, m.completion_tokens, m.tool_calls, m.sequence, m.cost";

impl NewMessage {
    /// `ERR_INVALID_ARG` for an empty role, negative tokens or a negative or non-finite cost,
    /// `ERR_INVALID_JSON` for tool calls that are not one JSON array.
    pub fn validate(&self, field: &str) -> Result<()> {
        non_empty(format_args!("{field}.role"), &self.role)?;
        for (name, n) in [
            ("promptTokens", self.prompt_tokens),
            ("completionTokens", self.completion_tokens),
        ] {
            if n.is_some_and(|n| n < 0) {
                return Err(Error::InvalidArg(format!(
                    "{field}.{name} must not be negative"
                )));
            }
        }
        if self.cost.is_some_and(|c| !c.is_finite() || c < 0.0) {
            return Err(Error::InvalidArg(format!(
                "{field}.cost must be a finite number, not negative"
            )));
        }
        if let Some(calls) = &self.tool_calls {
            let field = format!("{field}.toolCalls");
            json::validate(&field, calls)?;
            if !calls.trim_start().starts_with('[') {
                return Err(Error::InvalidJson {
                    field,
                    reason: "a JSON array is expected".into(),
                });
            }
        }
        Ok(())
    }
}

impl Conversations<'_> {
    /// Appends a message to the session with the next `sequence` (1 for the first), and adds
    /// its tokens and cost to the session's totals and bumps its `updated_at`, all in one
    /// `BEGIN IMMEDIATE` transaction: writers in other processes wait for it, so no sequence
    /// is skipped or given twice. `ERR_NOT_FOUND` when there is no session `session_id`.
    pub fn append_message(&self, session_id: &str, m: &NewMessage) -> Result<Message> {
        m.validate("message")?;
        let now = now_iso();
        self.write(|c| append_on(c, session_id, m, &now))
    }

    /// The session's messages in sequence order.
    pub fn list_messages(&self, session_id: &str, q: &ListMessages) -> Result<Vec<Message>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} {LIST}"))?;
        let rows = stmt.query_map(list_params(session_id, q), message_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// [`Conversations::list_messages`] as columns named like the JS API's fields (`sessionId`,
    /// …), `toolCalls` as JSON text: the cheapest form to hand to JS.
    pub fn list_messages_rows(&self, session_id: &str, q: &ListMessages) -> Result<Rows> {
        Rows::query(
            self.conn(),
            &format!(
                "SELECT m.id AS id, m.session_id AS sessionId, m.role AS role,
                   m.content AS content, m.created_at AS createdAt,
                   m.prompt_tokens AS promptTokens, m.completion_tokens AS completionTokens,
                   m.sequence AS sequence, m.cost AS cost, m.tool_calls AS toolCalls {LIST}"
            ),
            list_params(session_id, q),
        )
    }
}

fn list_params<'p>(session_id: &'p str, q: &ListMessages) -> impl rusqlite::Params + 'p {
    (
        session_id,
        q.after_sequence.unwrap_or(i64::MIN),
        q.limit.unwrap_or(-1),
    )
}

/// The insert of [`append_on`]: the message with the session's next sequence and the next
/// full-text key (both read from their unique indexes).
static APPEND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO messages (id, session_id, role, content, created_at, prompt_tokens,
           completion_tokens, tool_calls, sequence, cost, fts_rowid)
         VALUES ({NEW_ID}, ?1, ?2, ?3, ?4, ?5, ?6, ?7,
           (SELECT coalesce(max(sequence), 0) + 1 FROM messages WHERE session_id = ?1),
           ?8, (SELECT coalesce(max(fts_rowid), 0) + 1 FROM messages))
         RETURNING id, sequence"
    )
});

/// The body of [`Conversations::append_message`], inside its transaction.
fn append_on(c: &Connection, session_id: &str, m: &NewMessage, now: &str) -> Result<Message> {
    let changed = c
        .prepare_cached(
            "UPDATE sessions SET
               prompt_tokens = coalesce(prompt_tokens, 0) + ?2,
               completion_tokens = coalesce(completion_tokens, 0) + ?3,
               cost = coalesce(cost, 0) + ?4,
               updated_at = max(updated_at, ?5)
             WHERE id = ?1",
        )?
        .execute(params![
            session_id,
            m.prompt_tokens.unwrap_or(0),
            m.completion_tokens.unwrap_or(0),
            m.cost.unwrap_or(0.0),
            now
        ])?;
    if changed == 0 {
        return Err(missing(session_id));
    }
    let (id, sequence) = c.prepare_cached(&APPEND_SQL)?.query_row(
        params![
            session_id,
            m.role,
            m.content,
            now,
            m.prompt_tokens,
            m.completion_tokens,
            m.tool_calls,
            m.cost
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Message {
        id,
        session_id: session_id.into(),
        role: m.role.clone(),
        content: m.content.clone(),
        created_at: now.into(),
        prompt_tokens: m.prompt_tokens,
        completion_tokens: m.completion_tokens,
        tool_calls: m.tool_calls.clone(),
        sequence,
        cost: m.cost,
    })
}

pub(crate) fn message_from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    let t = |i: usize| -> rusqlite::Result<String> { Ok(text(r.get(i)?).unwrap_or_default()) };
    Ok(Message {
        id: t(0)?,
        session_id: t(1)?,
        role: t(2)?,
        content: t(3)?,
        created_at: t(4)?,
        prompt_tokens: r.get(5)?,
        completion_tokens: r.get(6)?,
        tool_calls: text(r.get(7)?),
        sequence: r.get(8)?,
        cost: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::tests::{open, say, session};

    #[test]
    fn append_numbers_from_one_and_adds_tokens_and_cost_to_the_session() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let s = session(&c, "Sums");
        let other = session(&c, "Other");
        assert_eq!(say(&c, &s.id, "one").sequence, 1);
        assert_eq!(say(&c, &other.id, "elsewhere").sequence, 1);
        let m = c.append_message(
            &s.id,
            &NewMessage {
                role: "assistant".into(),
                content: "two".into(),
                tool_calls: Some(r#"[{"name":"grep","args":{"q":"x"}}]"#.into()),
                prompt_tokens: Some(10),
                completion_tokens: Some(4),
                cost: Some(0.25),
            },
        )?;
        assert_eq!(m.sequence, 2);
        c.append_message(
            &s.id,
            &NewMessage {
                role: "user".into(),
                content: "three".into(),
                prompt_tokens: Some(5),
                cost: Some(0.5),
                ..Default::default()
            },
        )?;
        let after = c.get_session(&s.id)?.unwrap();
        assert_eq!((after.prompt_tokens, after.completion_tokens), (15, 4));
        assert_eq!(after.cost, 0.75);
        assert!(after.updated_at >= s.updated_at);
        let listed = c.list_messages(&s.id, &ListMessages::default())?;
        let seqs: Vec<i64> = listed.iter().map(|m| m.sequence).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(listed[1], m);
        let page = c.list_messages(
            &s.id,
            &ListMessages {
                after_sequence: Some(1),
                limit: Some(1),
            },
        )?;
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].content, "two");
        let rows = c.list_messages_rows(&s.id, &ListMessages::default())?;
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.columns.last().map(String::as_str), Some("toolCalls"));
        assert_eq!(
            rows.get(1, "sessionId"),
            Some(rusqlite::types::Value::Text(s.id.clone()))
        );
        Ok(())
    }

    #[test]
    fn a_refused_append_writes_nothing() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let s = session(&c, "Strict");
        let bad = |m: NewMessage| c.append_message(&s.id, &m).unwrap_err().code();
        let base = || NewMessage {
            role: "user".into(),
            content: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            bad(NewMessage {
                tool_calls: Some("{\"not\":\"an array\"}".into()),
                ..base()
            }),
            "ERR_INVALID_JSON"
        );
        assert_eq!(
            bad(NewMessage {
                tool_calls: Some("[1,".into()),
                ..base()
            }),
            "ERR_INVALID_JSON"
        );
        assert_eq!(
            bad(NewMessage {
                prompt_tokens: Some(-1),
                ..base()
            }),
            "ERR_INVALID_ARG"
        );
        assert_eq!(
            bad(NewMessage {
                cost: Some(f64::NAN),
                ..base()
            }),
            "ERR_INVALID_ARG"
        );
        assert_eq!(
            bad(NewMessage {
                role: String::new(),
                ..base()
            }),
            "ERR_INVALID_ARG"
        );
        assert_eq!(
            c.append_message("nope", &base()).unwrap_err().code(),
            "ERR_NOT_FOUND"
        );
        assert!(c.list_messages(&s.id, &ListMessages::default())?.is_empty());
        assert_eq!(c.get_session(&s.id)?.unwrap(), s);
        assert!(db.conn().is_autocommit());
        Ok(())
    }

    #[test]
    fn connections_appending_at_once_get_every_sequence_exactly_once() -> Result<()> {
        let (dir, db) = open();
        let s = session(&db.conversations()?, "Busy");
        let path = dir.path().join("chat.sqlite");
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (path, id) = (path.clone(), s.id.clone());
                std::thread::spawn(move || -> Result<Vec<i64>> {
                    let options = crate::engine::OpenOptions::new([
                        &crate::conversations::schema::STORE as &'static dyn crate::StoreDef,
                    ]);
                    let db = crate::Database::open(&path, &options)?;
                    let c = db.conversations()?;
                    (0..100)
                        .map(|i| Ok(say(&c, &id, &format!("writer {w} message {i}")).sequence))
                        .collect()
                })
            })
            .collect();
        let mut acknowledged: Vec<i64> = Vec::new();
        for w in writers {
            acknowledged.extend(w.join().unwrap()?);
        }
        acknowledged.sort_unstable();
        assert_eq!(acknowledged, (1..=400).collect::<Vec<_>>());
        let c = db.conversations()?;
        let stored: Vec<i64> = c
            .list_messages(&s.id, &ListMessages::default())?
            .iter()
            .map(|m| m.sequence)
            .collect();
        assert_eq!(stored, acknowledged);
        Ok(())
    }
}
