//! The chats store: etcode's projects' chat sessions, their messages and message parts, todos
//! and permissions, in etcode's own tables (`session`, `message`, `part`, `todo`,
//! `permission`), so one file serves etcode and stowage. See `reference/session-stores.md` §4
//! and `reference/chats.md`.
//!
//! Ids are etcode's: `prefix_` + the creation time in milliseconds as hex + 8 random base-62
//! characters (`sess_…`, `msg_…`, `part_…`). Timestamps are epoch milliseconds. A message's or
//! part's content is the JSON object `data`: validated when written, its `id`, `sessionID` and
//! `messageID` keys dropped (they live in columns), and handed back as JSON text the binding
//! parses once. Lists sort by time with ties in insertion order, as etcode's do.

mod import;
mod messages;
pub mod schema;
mod sessions;
mod todos;

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use rusqlite::Connection;
use serde_json::{Map, Value};

use crate::engine::{Database, Error, Result};

pub use import::{Layout, OpencodeTree};
pub use messages::{Message, NewMessage, Part};
pub use sessions::{NewSession, Session, Summary};
pub use todos::{Todo, DEFAULT_PRIORITY};

/// The chats store of an open [`Database`].
#[derive(Debug, Clone, Copy)]
pub struct Chats<'a> {
    db: &'a Database,
}

impl Database {
    /// The chats store, if this file was opened with it (`ERR_STORE_NOT_OPEN` otherwise).
    pub fn chats(&self) -> Result<Chats<'_>> {
        self.require(schema::NAME)?;
        Ok(Chats { db: self })
    }
}

impl<'a> Chats<'a> {
    fn conn(&self) -> &'a Connection {
        self.db.conn()
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new id as etcode's `Identifier.ascending(prefix)` makes it: `prefix_`, the time `now` (ms)
/// in lowercase hex, 8 random base-62 characters.
pub fn new_id(prefix: &str, now: i64) -> String {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::process::id()));
    }
    let mut bits = STATE.with(|s| {
        // splitmix64: a fresh, well-mixed 64-bit value per id.
        let next = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    });
    let mut id = format!("{prefix}_{now:x}");
    for _ in 0..8 {
        id.push(BASE62[(bits % 62) as usize] as char);
        bits /= 62;
    }
    id
}

/// The JSON object `text` (for the column `field`) without the keys in `drop`, as compact text.
/// `ERR_INVALID_JSON` when it is not JSON, `ERR_INVALID_ARG` when it is not an object.
pub(crate) fn object_text(field: &str, text: &str, drop: &[&str]) -> Result<String> {
    crate::engine::json::validate(field, text)?;
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return Err(Error::InvalidArg(format!("{field} must be a JSON object")));
    };
    for key in drop {
        map.shift_remove(*key);
    }
    Ok(Value::Object(map).to_string())
}

/// `{ …data, key: value, … }` as JSON text: the stored object `data` with the columns that
/// complete it (which win over a key of the same name in `data`). See [`push_object`].
pub(crate) fn with_columns(data: &str, columns: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(data.len() + 64);
    push_object(&mut out, data, columns);
    out
}

/// Appends `{ …data, key: value, … }` to `out`. Keys are the store's own (nothing to escape);
/// values are escaped. Stored text that is not an object (only another program can write one)
/// contributes no keys.
pub(crate) fn push_object(out: &mut String, data: &str, columns: &[(&str, &str)]) {
    let trimmed = data.trim();
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .map_or("", str::trim);
    out.push('{');
    out.push_str(inner);
    let mut empty = inner.is_empty();
    for (key, value) in columns {
        if !empty {
            out.push(',');
        }
        empty = false;
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        push_string(out, value);
    }
    out.push('}');
}

/// Appends `s` as a JSON string.
fn push_string(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&Value::String(s.into()).to_string());
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// A JSON object's text from `(key, value)` pairs, leaving out `None`s.
pub(crate) fn object_of(pairs: Vec<(&str, Option<Value>)>) -> String {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map).to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::{OpenOptions, StoreDef};

    pub(crate) fn open() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let options = OpenOptions::new([&schema::STORE as &'static dyn StoreDef]);
        let db = Database::open(&dir.path().join("etcode.db"), &options).unwrap();
        (dir, db)
    }

    #[test]
    fn ids_have_etcodes_shape_and_differ() {
        let a = new_id("sess", 0x1a2_33be_4311);
        let b = new_id("sess", 0x1a2_33be_4311);
        assert!(a.starts_with("sess_1a233be4311"), "{a}");
        assert_eq!(a.len(), "sess_".len() + 11 + 8);
        assert!(a[16..].bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn stored_objects_lose_their_ids_and_get_the_columns_back() -> Result<()> {
        let text = object_text(
            "part.data",
            r#"{"id":"x","type":"text","text":"hi"}"#,
            &["id"],
        )?;
        assert_eq!(text, r#"{"type":"text","text":"hi"}"#);
        assert_eq!(
            with_columns(&text, &[("id", "part_1"), ("messageID", "msg_1")]),
            r#"{"type":"text","text":"hi","id":"part_1","messageID":"msg_1"}"#
        );
        assert_eq!(with_columns(" {} ", &[("id", "a\"b")]), r#"{"id":"a\"b"}"#);
        assert_eq!(with_columns("[1]", &[("id", "x")]), r#"{"id":"x"}"#);
        assert_eq!(
            object_text("part.data", "[1]", &[]).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        assert_eq!(
            object_text("part.data", "{", &[]).unwrap_err().code(),
            "ERR_INVALID_JSON"
        );
        Ok(())
    }
}
