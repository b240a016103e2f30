//! The crash-recovery slot (the sidepanel's `crash.recovery` key): one JSON state per namespace,
//! rewritten only when it changes, offered back while it is fresh and discarded once stale.

use rusqlite::{params, OptionalExtension};

use super::{config_of, schema};
use crate::engine::{json, now_ms, Database, Result};

/// How old a saved state may be and still be offered back: the spec's 30 minutes.
pub const DEFAULT_MAX_AGE_MS: i64 = 30 * 60 * 1000;

/// A state [`Recovery::check`] offers back.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// The state's JSON text.
    pub state: String,
    /// When it was saved (last changed), in milliseconds since the epoch.
    pub saved_at: i64,
}

/// The crash-recovery slot of an open [`Database`]'s settings store.
#[derive(Debug, Clone, Copy)]
pub struct Recovery<'a> {
    db: &'a Database,
}

impl Database {
    /// The settings store's recovery slot, if this file was opened with the settings store
    /// (`ERR_STORE_NOT_OPEN` otherwise).
    pub fn recovery(&self) -> Result<Recovery<'_>> {
        self.require(schema::NAME)?;
        Ok(Recovery { db: self })
    }
}

impl Recovery<'_> {
    fn namespace(&self) -> &str {
        &config_of(self.db).namespace
    }

    /// Saves the JSON text `state` (`ERR_INVALID_JSON` when it is not one JSON value) unless it
    /// is the text saved already; true when it was written. One statement: once it returns, the
    /// state survives a killed process.
    pub fn save(&self, state: &str) -> Result<bool> {
        json::validate("state", state)?;
        let written = self
            .db
            .conn()
            .prepare_cached(
                "INSERT INTO recovery (namespace, state, saved_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (namespace) DO UPDATE SET state = excluded.state,
                   saved_at = excluded.saved_at
                 WHERE recovery.state IS NOT excluded.state",
            )?
            .execute(params![self.namespace(), state, now_ms()])?;
        Ok(written > 0)
    }

    /// The saved state, if it is at most `max_age_ms` old. A staler one is deleted (unless a
    /// newer one was saved meanwhile, or the file was opened read-only) and `None` returned; a
    /// fresh one stays until [`Recovery::clear`].
    pub fn check(&self, max_age_ms: i64) -> Result<Option<Recovered>> {
        let conn = self.db.conn();
        let saved = conn
            .prepare_cached("SELECT state, saved_at FROM recovery WHERE namespace = ?1")?
            .query_row([self.namespace()], |r| {
                Ok(Recovered {
                    state: r.get(0)?,
                    saved_at: r.get(1)?,
                })
            })
            .optional()?;
        let Some(saved) = saved else {
            return Ok(None);
        };
        if now_ms().saturating_sub(saved.saved_at) <= max_age_ms {
            return Ok(Some(saved));
        }
        if self.db.is_read_only() {
            return Ok(None);
        }
        conn.prepare_cached("DELETE FROM recovery WHERE namespace = ?1 AND saved_at = ?2")?
            .execute(params![self.namespace(), saved.saved_at])?;
        Ok(None)
    }

    /// Deletes the saved state; true when there was one.
    pub fn clear(&self) -> Result<bool> {
        let deleted = self
            .db
            .conn()
            .prepare_cached("DELETE FROM recovery WHERE namespace = ?1")?
            .execute([self.namespace()])?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::open_in;
    use crate::settings::SettingsConfig;

    #[test]
    fn a_save_writes_only_a_changed_state_and_check_offers_it_back() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = open_in(dir.path(), "r.sqlite", SettingsConfig::default());
        let r = db.recovery()?;
        assert_eq!(r.check(DEFAULT_MAX_AGE_MS)?, None);
        assert!(r.save(r#"{"draft":"hello"}"#)?);
        let first = r.check(DEFAULT_MAX_AGE_MS)?.unwrap();
        assert_eq!(first.state, r#"{"draft":"hello"}"#);
        assert!(first.saved_at <= now_ms());
        db.conn()
            .execute("UPDATE recovery SET saved_at = saved_at - 1000", [])?;
        assert!(!r.save(r#"{"draft":"hello"}"#)?);
        let again = r.check(DEFAULT_MAX_AGE_MS)?.unwrap();
        assert_eq!(
            again.saved_at,
            first.saved_at - 1000,
            "an unchanged save writes nothing"
        );
        assert!(r.save(r#"{"draft":"hello!"}"#)?);
        assert_eq!(r.save("{").unwrap_err().code(), "ERR_INVALID_JSON");
        assert_eq!(
            r.check(DEFAULT_MAX_AGE_MS)?.unwrap().state,
            r#"{"draft":"hello!"}"#
        );
        assert!(r.clear()? && !r.clear()?);
        assert_eq!(r.check(DEFAULT_MAX_AGE_MS)?, None);
        Ok(())
    }

    #[test]
    fn a_stale_state_is_discarded_and_each_namespace_has_its_own_slot() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let a = open_in(
            dir.path(),
            "r.sqlite",
            SettingsConfig {
                namespace: "a.".into(),
                max_bytes: None,
            },
        );
        let b = open_in(
            dir.path(),
            "r.sqlite",
            SettingsConfig {
                namespace: "b.".into(),
                max_bytes: None,
            },
        );
        a.recovery()?.save("1")?;
        b.recovery()?.save("2")?;
        a.conn().execute(
            "UPDATE recovery SET saved_at = saved_at - ?1 WHERE namespace = 'a.'",
            [DEFAULT_MAX_AGE_MS + 1],
        )?;
        assert_eq!(
            a.recovery()?.check(DEFAULT_MAX_AGE_MS * 2)?.unwrap().state,
            "1"
        );
        assert_eq!(a.recovery()?.check(DEFAULT_MAX_AGE_MS)?, None);
        assert_eq!(
            a.recovery()?.check(DEFAULT_MAX_AGE_MS * 2)?,
            None,
            "it was deleted"
        );
        assert_eq!(
            b.recovery()?
                .check(DEFAULT_MAX_AGE_MS)?
                .map(|s| s.state)
                .as_deref(),
            Some("2")
        );
        assert!(
            a.settings()?.list("")?.is_empty(),
            "the slot is not a setting"
        );
        Ok(())
    }

    #[test]
    fn a_read_only_file_reports_a_stale_state_as_none_and_keeps_it() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let db = open_in(dir.path(), "r.sqlite", SettingsConfig::default());
        db.recovery()?.save("\"old\"")?;
        db.conn().execute(
            "UPDATE recovery SET saved_at = saved_at - ?1",
            [DEFAULT_MAX_AGE_MS + 1],
        )?;
        db.close()?;
        let mut options = crate::engine::OpenOptions::new([&schema::STORE as _]);
        options.read_only = true;
        let ro = Database::open(&dir.path().join("r.sqlite"), &options)?;
        assert_eq!(ro.recovery()?.check(DEFAULT_MAX_AGE_MS)?, None);
        let kept = ro.recovery()?.check(DEFAULT_MAX_AGE_MS * 2)?.unwrap();
        assert_eq!(kept.state, "\"old\"");
        Ok(())
    }
}
