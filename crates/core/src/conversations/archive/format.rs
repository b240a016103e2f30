//! The archive's JSON: written from a session and its messages, and read back with every field
//! checked.

use serde_json::{json, Map, Value};

use super::{Archive, ArchivePhase, ArchiveProgress, ArchiveSink, PROGRESS_EVERY};
use crate::conversations::messages::{Message, NewMessage};
use crate::conversations::{Session, DEFAULT_PROVIDER};
use crate::engine::time::ms_from_iso;
use crate::engine::{Error, Result};

/// The `format` field of every archive.
pub const FORMAT: &str = "stowage-conversation-archive";

/// The archive version this build writes and reads.
pub const VERSION: i64 = 1;

/// The archive in `doc`; the outer error is the reason it is not one, the inner one a stop
/// asked for by the sink.
pub(super) fn parse(doc: &Value, sink: ArchiveSink<'_>) -> Result<Result<Archive>, String> {
    let top = object(doc, "the archive")?;
    if top.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!("its format is not \"{FORMAT}\""));
    }
    match top.get("version").and_then(Value::as_i64) {
        Some(VERSION) => {}
        other => {
            return Err(format!(
                "version {other:?} is not {VERSION}, the one this build reads"
            ))
        }
    }
    let s = object(field(top, "session")?, "session")?;
    let f = Fields {
        obj: s,
        at: "session",
    };
    let session = Session {
        title: f.non_empty("title")?,
        created_at: f.timestamp("createdAt")?,
        model: f.non_empty("model")?,
        provider: f
            .opt_str("provider")?
            .unwrap_or_else(|| DEFAULT_PROVIDER.into()),
        branch_name: f.opt_str("branchName")?.unwrap_or_else(|| "main".into()),
        is_archived: match s.get("isArchived") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("session.isArchived is not a boolean".into()),
        },
        ..Session::default()
    };
    let Some(list) = field(top, "messages")?.as_array() else {
        return Err("messages is not an array".into());
    };
    let total = list.len() as u64;
    let mut messages = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        let f = Fields {
            obj: object(m, &at)?,
            at: &at,
        };
        let sequence = f.int("sequence")?.filter(|n| *n > 0);
        let Some(sequence) = sequence else {
            return Err(format!("{at}.sequence is not a positive integer"));
        };
        let tool_calls = match f.obj.get("toolCalls") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Array(_)) => Some(v.to_string()),
            Some(_) => return Err(format!("{at}.toolCalls is not an array or null")),
        };
        let new = NewMessage {
            role: f.str("role")?,
            content: f.str("content")?,
            tool_calls,
            prompt_tokens: f.int("promptTokens")?,
            completion_tokens: f.int("completionTokens")?,
            cost: f.num("cost")?,
        };
        new.validate(&at).map_err(|e| e.to_string())?;
        messages.push(Message {
            created_at: f.timestamp("createdAt")?,
            role: new.role,
            content: new.content,
            tool_calls: new.tool_calls,
            prompt_tokens: new.prompt_tokens,
            completion_tokens: new.completion_tokens,
            cost: new.cost,
            sequence,
            ..Message::default()
        });
        let done = i as u64 + 1;
        if done.is_multiple_of(PROGRESS_EVERY) {
            if let Err(stop) = sink(&ArchiveProgress {
                phase: ArchivePhase::Validate,
                done,
                total,
            }) {
                return Ok(Err(stop));
            }
        }
    }
    messages.sort_by_key(|m| m.sequence);
    if let Some(w) = messages.windows(2).find(|w| w[0].sequence == w[1].sequence) {
        return Err(format!("two messages have sequence {}", w[0].sequence));
    }
    for (i, m) in messages.iter_mut().enumerate() {
        m.sequence = i as i64 + 1;
    }
    Ok(Ok(Archive { session, messages }))
}

fn object<'v>(v: &'v Value, at: &str) -> Result<&'v Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{at} is not an object"))
}

fn field<'v>(o: &'v Map<String, Value>, key: &str) -> Result<&'v Value, String> {
    o.get(key).ok_or_else(|| format!("it has no {key}"))
}

/// The fields of one object of the archive, named `at` in errors.
struct Fields<'v> {
    obj: &'v Map<String, Value>,
    at: &'v str,
}

impl Fields<'_> {
    fn opt_str(&self, key: &str) -> Result<Option<String>, String> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{}.{key} is not a string", self.at)),
        }
    }

    fn str(&self, key: &str) -> Result<String, String> {
        self.opt_str(key)?
            .ok_or_else(|| format!("{}.{key} is missing", self.at))
    }

    fn non_empty(&self, key: &str) -> Result<String, String> {
        let s = self.str(key)?;
        if s.trim().is_empty() {
            return Err(format!("{}.{key} is empty", self.at));
        }
        Ok(s)
    }

    fn timestamp(&self, key: &str) -> Result<String, String> {
        let s = self.str(key)?;
        if ms_from_iso(&s).is_none() {
            return Err(format!(
                "{}.{key} is not an ISO 8601 timestamp like 2026-05-01T12:00:00.000Z",
                self.at
            ));
        }
        Ok(s)
    }

    fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("{}.{key} is not an integer", self.at)),
        }
    }

    fn num(&self, key: &str) -> Result<Option<f64>, String> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("{}.{key} is not a number", self.at)),
        }
    }
}

pub(super) fn session_json(s: &Session) -> Value {
    json!({
        "id": s.id,
        "title": s.title,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
        "model": s.model,
        "provider": s.provider,
        "branchName": s.branch_name,
        "parentSessionId": s.parent_session_id,
        "branchPoint": s.branch_point,
        "promptTokens": s.prompt_tokens,
        "completionTokens": s.completion_tokens,
        "cost": s.cost,
        "isArchived": s.is_archived,
        "isImported": s.is_imported,
    })
}

pub(super) fn message_json(m: &Message) -> Result<Value> {
    let tool_calls = match &m.tool_calls {
        Some(text) => serde_json::from_str(text).map_err(|e| Error::InvalidJson {
            field: format!("message {} toolCalls", m.id),
            reason: e.to_string(),
        })?,
        None => Value::Null,
    };
    Ok(json!({
        "id": m.id,
        "role": m.role,
        "content": m.content,
        "createdAt": m.created_at,
        "promptTokens": m.prompt_tokens,
        "completionTokens": m.completion_tokens,
        "toolCalls": tool_calls,
        "sequence": m.sequence,
        "cost": m.cost,
    }))
}
