//! The settings store: the opencode sidepanel's localStorage layer (spec 37) made durable — JSON
//! values by key under an optional namespace (the spec's `sidepanel.` prefix), with an optional
//! quota and the spec's cleanup when it is reached — and its crash-recovery slot
//! ([`Recovery`]). See `reference/session-stores.md` §1.1 and §1.3.
//!
//! Values are JSON text, validated before anything is written; the binding hands JS the parsed
//! value. A key is stored with its namespace in front (`sidepanel.theme`), as localStorage keeps
//! it, so a store opened without a namespace sees every key of the file.
//!
//! ```
//! use stowage_core::{Database, OpenOptions};
//! use stowage_core::settings::{schema::STORE, SettingsConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let config = SettingsConfig { namespace: "sidepanel.".into(), max_bytes: None };
//! let options = OpenOptions::new([&STORE as _]).with_config("settings", config);
//! let db = Database::open(&dir.path().join("app.sqlite"), &options)?;
//! let s = db.settings()?;
//! s.set("theme", r#""dark""#)?;
//! assert_eq!(s.get("theme")?.as_deref(), Some(r#""dark""#));
//! assert_eq!(s.export_json()?, r#"{"theme":"dark"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod recovery;
pub mod schema;

use std::sync::OnceLock;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::value::RawValue;

use crate::engine::{json, now_ms, write_tx, Database, Error, Result};

pub use recovery::{Recovered, Recovery, DEFAULT_MAX_AGE_MS};

/// How a file's settings store is configured: `openStore`'s `options.settings`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsConfig {
    /// The prefix of every key this store reads and writes (the spec's `sidepanel.`); empty
    /// for every key of the file.
    pub namespace: String,
    /// The most bytes the namespace's keys and values may hold (see [`Settings::usage`]);
    /// `None` for no quota.
    pub max_bytes: Option<i64>,
}

/// The keys whose lists the quota's cleanup trims (the spec's recent sessions, searches and
/// commands), relative to the namespace.
pub const RECENT_PREFIX: &str = "recent.";

/// How many items the cleanup leaves in a recent list: its first ten (recent lists are newest
/// first).
pub const RECENT_KEEP: usize = 10;

/// One setting, as [`Settings::list`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key without the namespace.
    pub key: String,
    /// The value's JSON text.
    pub value: String,
    /// When it was last written, in milliseconds since the epoch.
    pub updated_at: i64,
}

/// What the namespace holds against its quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Bytes (UTF-8) of every key, namespace included, and of every value's JSON text.
    pub bytes: i64,
    /// The quota, if there is one.
    pub max_bytes: Option<i64>,
}

/// The settings store of an open [`Database`].
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    db: &'a Database,
}

impl Database {
    /// The settings store, if this file was opened with it (`ERR_STORE_NOT_OPEN` otherwise).
    pub fn settings(&self) -> Result<Settings<'_>> {
        self.require(schema::NAME)?;
        Ok(Settings { db: self })
    }
}

/// The settings configuration of `db` (the default one when none was given).
pub(crate) fn config_of(db: &Database) -> &SettingsConfig {
    static DEFAULT: OnceLock<SettingsConfig> = OnceLock::new();
    db.config(schema::NAME)
        .unwrap_or_else(|| DEFAULT.get_or_init(SettingsConfig::default))
}

impl<'a> Settings<'a> {
    fn conn(&self) -> &'a Connection {
        self.db.conn()
    }

    /// The store's configuration.
    pub fn config(&self) -> &'a SettingsConfig {
        config_of(self.db)
    }

    fn namespace(&self) -> &'a str {
        &self.config().namespace
    }

    /// The JSON text of `key`'s value, if it is set. An empty key is `ERR_INVALID_ARG`.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        check_key(key)?;
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([format!("{}{key}", self.namespace())], |r| r.get(0))
            .optional()?)
    }

    /// Sets `key` to the JSON text `value`. `ERR_INVALID_JSON` when `value` is not one JSON
    /// value; with a quota, `ERR_QUOTA_EXCEEDED` when the namespace would hold more than
    /// `max_bytes` even after the cleanup ([`Settings::import`] explains it). A refused write
    /// leaves the file as it was.
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        self.import(&[(key.to_string(), value.to_string())])
            .map(drop)
    }

    /// Deletes `key`; true when it was set.
    pub fn remove(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let deleted = self
            .conn()
            .prepare_cached("DELETE FROM settings WHERE key = ?1")?
            .execute([format!("{}{key}", self.namespace())])?;
        Ok(deleted > 0)
    }

    /// The settings whose key (without the namespace) starts with `prefix`, by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        let ns = self.namespace();
        entries(self.conn(), ns, prefix)?
            .into_iter()
            .map(|(key, value, updated_at)| {
                Ok(Entry {
                    key: key[ns.len()..].to_string(),
                    value,
                    updated_at,
                })
            })
            .collect()
    }

    /// Every setting of the namespace as one JSON object, key (without the namespace) to value,
    /// in key order: what [`Settings::import`] takes back.
    pub fn export_json(&self) -> Result<String> {
        let ns = self.namespace();
        let mut out = String::from("{");
        for (i, (key, value, _)) in entries(self.conn(), ns, "")?.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let name = serde_json::to_string(&key[ns.len()..]).map_err(|e| Error::InvalidJson {
                field: "key".into(),
                reason: e.to_string(),
            })?;
            out.push_str(&name);
            out.push(':');
            out.push_str(value.trim());
        }
        out.push('}');
        Ok(out)
    }

    /// Sets every `(key, JSON text)` of `entries` in one transaction (keys not among them stay)
    /// and returns how many were written. Each value must be one JSON value
    /// (`ERR_INVALID_JSON`, naming the key) and each key non-empty (`ERR_INVALID_ARG`), checked
    /// before anything is written.
    ///
    /// With a quota, when the namespace then holds more than `max_bytes`, the spec's cleanup
    /// runs: every `recent.*` list of the namespace that this call did not write, a JSON array
    /// of more than [`RECENT_KEEP`] items, keeps its first ten. If the namespace still holds
    /// too much, the whole call is rolled back (the cleanup too) and it is
    /// `ERR_QUOTA_EXCEEDED`.
    pub fn import(&self, entries: &[(String, String)]) -> Result<usize> {
        for (key, value) in entries {
            check_key(key)?;
            json::validate(&format!("the value of '{key}'"), value)?;
        }
        let ns = self.namespace();
        let max = self.config().max_bytes;
        write_tx(self.conn(), |conn| {
            let now = now_ms();
            let mut upsert = conn.prepare_cached(
                "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                   updated_at = excluded.updated_at",
            )?;
            for (key, value) in entries {
                upsert.execute(params![format!("{ns}{key}"), value, now])?;
            }
            if let Some(max) = max {
                enforce_quota(conn, ns, max, entries, now)?;
            }
            Ok(entries.len())
        })
    }

    /// The bytes the namespace holds against its quota: the UTF-8 bytes of every key
    /// (namespace included, as localStorage counts a key) plus those of every value's JSON
    /// text. The recovery slot does not count.
    pub fn usage(&self) -> Result<Usage> {
        Ok(Usage {
            bytes: used_bytes(self.conn(), self.namespace())?,
            max_bytes: self.config().max_bytes,
        })
    }
}

/// `ERR_INVALID_ARG` for an empty key.
fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArg(
            "a setting's key must not be empty".into(),
        ));
    }
    Ok(())
}

/// The smallest string greater than every string that starts with `prefix`, if there is one
/// (UTF-8 order is code-point order, which is how SQLite compares TEXT): the end of the key
/// range of `prefix`.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The rows whose key starts with `namespace` + `prefix`, the bare namespace excepted, by key.
fn entries(conn: &Connection, namespace: &str, prefix: &str) -> Result<Vec<(String, String, i64)>> {
    let start = format!("{namespace}{prefix}");
    let end = prefix_end(&start);
    let mut stmt = conn.prepare_cached(
        "SELECT key, value, updated_at FROM settings
         WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) AND key <> ?3 ORDER BY key",
    )?;
    let rows = stmt.query_map(params![start, end, namespace], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The bytes of the keys from `?1` (excluded) to `?2` (excluded; `NULL` for no end) and of their
/// values, read from the index `settings_bytes` alone.
const USED_BYTES: &str =
    "SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
    FROM settings WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) AND key <> ?1";

/// [`Settings::usage`]'s bytes on `conn`.
fn used_bytes(conn: &Connection, namespace: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(USED_BYTES)?
        .query_row(params![namespace, prefix_end(namespace)], |r| r.get(0))?)
}

/// The quota check of [`Settings::import`], inside its transaction.
fn enforce_quota(
    conn: &Connection,
    ns: &str,
    max: i64,
    written: &[(String, String)],
    now: i64,
) -> Result<()> {
    if used_bytes(conn, ns)? <= max {
        return Ok(());
    }
    let mut trim =
        conn.prepare_cached("UPDATE settings SET value = ?2, updated_at = ?3 WHERE key = ?1")?;
    for (key, value, _) in entries(conn, ns, RECENT_PREFIX)? {
        let own = &key[ns.len()..];
        if written.iter().any(|(k, _)| k == own) {
            continue;
        }
        if let Some(shorter) = first_items(&value) {
            trim.execute(params![key, shorter, now])?;
        }
    }
    let used = used_bytes(conn, ns)?;
    if used > max {
        let which = if ns.is_empty() {
            "the settings".to_string()
        } else {
            format!("the namespace '{ns}'")
        };
        return Err(Error::QuotaExceeded(format!(
            "{which} would hold {used} bytes, more than maxBytes {max}, even with the recent.* \
             lists trimmed to {RECENT_KEEP} items; nothing was written"
        )));
    }
    Ok(())
}

/// The JSON array `text` cut to its first [`RECENT_KEEP`] items, each kept as written; `None`
/// when `text` is not an array or not longer.
fn first_items(text: &str) -> Option<String> {
    let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
    if items.len() <= RECENT_KEEP {
        return None;
    }
    let kept: Vec<&str> = items[..RECENT_KEEP].iter().map(|v| v.get()).collect();
    Some(format!("[{}]", kept.join(",")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::{OpenOptions, StoreDef};

    /// A settings store with `config` in the file `name` of `dir`.
    pub(crate) fn open_in(dir: &std::path::Path, name: &str, config: SettingsConfig) -> Database {
        let options = OpenOptions::new([&schema::STORE as &'static dyn StoreDef])
            .with_config(schema::NAME, config);
        Database::open(&dir.join(name), &options).unwrap()
    }

    fn config(namespace: &str, max_bytes: Option<i64>) -> SettingsConfig {
        SettingsConfig {
            namespace: namespace.into(),
            max_bytes,
        }
    }

    #[test]
    fn values_round_trip_as_json_text_and_removal_says_whether_there_was_one() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = open_in(dir.path(), "s.sqlite", SettingsConfig::default());
        let s = db.settings()?;
        assert_eq!(s.get("theme")?, None);
        s.set("theme", "\"dark\"")?;
        s.set("layout", r#"{"panels":[1,2],"wide":true}"#)?;
        s.set("theme", "\"light\"")?;
        assert_eq!(s.get("theme")?.as_deref(), Some("\"light\""));
        let keys: Vec<_> = s.list("")?.into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["layout", "theme"]);
        assert!(s.remove("theme")? && !s.remove("theme")?);
        let bad = s.set("x", "{oops").unwrap_err();
        assert_eq!(bad.code(), "ERR_INVALID_JSON");
        assert!(bad.to_string().contains("'x'"), "{bad}");
        assert_eq!(s.set("", "1").unwrap_err().code(), "ERR_INVALID_ARG");
        assert_eq!(s.get("x")?, None);
        Ok(())
    }

    #[test]
    fn a_namespace_is_a_key_range_that_other_namespaces_do_not_see() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let side = open_in(dir.path(), "s.sqlite", config("sidepanel.", None));
        let other = open_in(dir.path(), "s.sqlite", config("sidepanel", None));
        let all = open_in(dir.path(), "s.sqlite", SettingsConfig::default());
        side.settings()?.set("theme", "1")?;
        side.settings()?.set("recent.a", "[]")?;
        other.settings()?.set("x", "2")?;
        all.settings()?.set("sidepanel.", "3")?;
        let keys = |db: &Database, prefix: &str| -> Result<Vec<String>> {
            Ok(db
                .settings()?
                .list(prefix)?
                .into_iter()
                .map(|e| e.key)
                .collect())
        };
        assert_eq!(keys(&side, "")?, ["recent.a", "theme"]);
        assert_eq!(keys(&side, "recent.")?, ["recent.a"]);
        assert_eq!(keys(&other, "")?, [".", ".recent.a", ".theme", "x"]);
        assert_eq!(
            keys(&all, "")?,
            [
                "sidepanel.",
                "sidepanel.recent.a",
                "sidepanel.theme",
                "sidepanelx"
            ]
        );
        assert_eq!(
            all.settings()?.get("sidepanel.theme")?.as_deref(),
            Some("1")
        );
        assert_eq!(
            side.settings()?.export_json()?,
            r#"{"recent.a":[],"theme":1}"#
        );
        Ok(())
    }

    #[test]
    fn summing_a_namespace_reads_the_bytes_index_not_the_values() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = open_in(dir.path(), "s.sqlite", SettingsConfig::default());
        let sql = format!("EXPLAIN QUERY PLAN {USED_BYTES}");
        let plan: Vec<String> = db
            .conn()
            .prepare(&sql)?
            .query_map(params!["p.", "p/"], |r| r.get(3))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(
            plan[0].contains("USING COVERING INDEX settings_bytes"),
            "{plan:?}"
        );
        Ok(())
    }

    #[test]
    fn the_end_of_a_prefix_range_is_the_next_string_after_every_extension() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn an_import_is_one_transaction_checked_before_it_writes() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = open_in(dir.path(), "s.sqlite", config("app.", None));
        let s = db.settings()?;
        s.set("kept", "true")?;
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let refused = s.import(&pairs(&[("a", "1"), ("b", "[")])).unwrap_err();
        assert_eq!(refused.code(), "ERR_INVALID_JSON");
        assert_eq!(s.export_json()?, r#"{"kept":true}"#);
        assert_eq!(s.import(&pairs(&[("a", " 1 "), ("kept", "false")]))?, 2);
        assert_eq!(s.export_json()?, r#"{"a":1,"kept":false}"#);
        Ok(())
    }

    #[test]
    fn the_quota_counts_keys_and_values_in_the_namespace_and_trims_recent_lists() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let unlimited = open_in(dir.path(), "q.sqlite", SettingsConfig::default());
        let long: Vec<String> = (0..50).map(|i| format!("\"item-{i:02}\"")).collect();
        let long = format!("[{}]", long.join(","));
        unlimited.settings()?.set("p.recent.sessions", &long)?;
        unlimited.settings()?.set("elsewhere", &"1".repeat(5000))?;
        let bytes = unlimited.settings()?.usage()?.bytes;
        assert_eq!(
            bytes,
            ("p.recent.sessions".len() + long.len() + "elsewhere".len() + 5000) as i64
        );
        let limit = 400;
        let db = open_in(dir.path(), "q.sqlite", config("p.", Some(limit)));
        let s = db.settings()?;
        assert_eq!(
            s.usage()?.bytes,
            ("p.recent.sessions".len() + long.len()) as i64
        );
        s.set("theme", "\"dark\"")?;
        let trimmed = s.get("recent.sessions")?.unwrap();
        let items: Vec<String> = serde_json::from_str(&trimmed).unwrap();
        assert_eq!(
            items,
            (0..10).map(|i| format!("item-{i:02}")).collect::<Vec<_>>()
        );
        assert!(s.usage()?.bytes <= limit);
        let before = s.export_json()?;
        let refused = s
            .set("big", &format!("\"{}\"", "x".repeat(400)))
            .unwrap_err();
        assert_eq!(refused.code(), "ERR_QUOTA_EXCEEDED");
        assert_eq!(s.export_json()?, before);
        Ok(())
    }

    #[test]
    fn a_list_this_call_writes_is_kept_as_given_and_a_failed_cleanup_is_undone() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = open_in(dir.path(), "q.sqlite", config("", Some(150)));
        let s = db.settings()?;
        let list = |n: usize| format!("[{}]", vec!["1"; n].join(","));
        s.set("recent.a", &list(40))?;
        s.set("recent.b", &list(40))?;
        assert_eq!(s.get("recent.a")?.unwrap(), list(10));
        assert_eq!(s.get("recent.b")?.unwrap(), list(40));
        s.set("recent.a", &list(30))?;
        assert_eq!(s.get("recent.b")?.unwrap(), list(10));
        let before = s.export_json()?;
        let err = s.set("recent.c", &list(95)).unwrap_err();
        assert_eq!(err.code(), "ERR_QUOTA_EXCEEDED");
        assert_eq!(s.export_json()?, before, "the cleanup was rolled back too");
        Ok(())
    }

    #[test]
    fn only_arrays_longer_than_ten_are_cut_and_their_items_keep_their_text() {
        assert_eq!(first_items("[1,2]"), None);
        assert_eq!(first_items("{\"a\":1}"), None);
        let text = "[1e+21, {\"a\" : [1]}, \"x\", 4, 5, 6, 7, 8, 9, 10, 11]";
        assert_eq!(
            first_items(text).as_deref(),
            Some("[1e+21,{\"a\" : [1]},\"x\",4,5,6,7,8,9,10]")
        );
    }
}
