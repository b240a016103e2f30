//! The importer AIT42 never wrote: its legacy per-workspace JSON files
//! (`~/.ait42/sessions/<hash16>.json`, one pretty-printed array of sessions each) into the
//! store, on the engine's import framework (one transaction; bad data reported, not thrown;
//! the files only read).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value as Json;

use super::{insert_session, session_exists, WorktreeSession, Worktrees};
use crate::engine::import::{self, ImportReport, ImportSink, Importer};
use crate::engine::{write_tx, Error, Result, NOW_ISO};

/// Where AIT42 keeps the legacy files: `~/.ait42/sessions` (`$HOME`, or `%USERPROFILE%` on
/// Windows), or `/tmp/.ait42/sessions` without a home folder, as AIT42 does.
pub fn default_legacy_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".ait42").join("sessions")
}

impl Worktrees<'_> {
    /// Imports AIT42's legacy JSON files in `dir` (see [`LegacyWorkspaces`]) in one
    /// transaction (a savepoint inside an open one). A missing folder imports nothing.
    pub fn import_legacy_json(
        &self,
        dir: &Path,
        workspaces: BTreeMap<String, String>,
        progress: ImportSink<'_>,
    ) -> Result<ImportReport> {
        import::run(
            self.conn(),
            dir,
            &mut LegacyWorkspaces { workspaces },
            progress,
        )
    }
}

/// AIT42's legacy layout, the importer behind [`Worktrees::import_legacy_json`] (also for a run
/// on a connection of its own):
/// - every `<hash>.json` of the folder whose name is 16 lowercase hex digits (AIT42's
///   workspace hash), in name order; other files are not AIT42's and are left alone;
/// - an empty or whitespace-only file is an empty list (as AIT42 reads it); a file that is not
///   JSON, or not an array, is one error entry;
/// - each session is written with its instances and messages, or not at all: an entry that is
///   not a session (a missing or mistyped field) or that the schema refuses (an unknown type or
///   status, a message id another session has) is an error entry with its position, and the
///   others are imported. A session whose id the store already has is skipped, so a second run
///   imports nothing twice. Unlike AIT42's loader, a session without `instances` or
///   `chatHistory` is accepted (empty), as AIT42's own structs accept it;
/// - the workspace row of a file gets the path `workspaces[hash]` when the caller gives one,
///   else (when the store has no row for it yet) the hash itself, as AIT42's crate does.
#[derive(Debug, Clone, Default)]
pub struct LegacyWorkspaces {
    /// Workspace paths by hash, for the `workspaces` rows.
    pub workspaces: BTreeMap<String, String>,
}

fn is_hash_name(name: &str) -> bool {
    name.strip_suffix(".json").is_some_and(|h| {
        h.len() == 16
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl Importer for LegacyWorkspaces {
    fn files(&mut self, source: &Path) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(source)
            .map_err(|e| Error::io("listing", source, e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_str().is_some_and(is_hash_name))
            .map(|e| e.path())
            .collect();
        files.sort();
        Ok(files)
    }

    fn import_file(
        &mut self,
        conn: &Connection,
        file: &Path,
        bytes: &[u8],
        report: &mut ImportReport,
    ) -> Result<()> {
        let hash = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let entries = match parse_file(bytes) {
            Ok(entries) => entries,
            Err(reason) => {
                report.issue(file, None, reason);
                return Ok(());
            }
        };
        let mut workspace_ready = false;
        for (i, entry) in entries.iter().enumerate() {
            let s = match WorktreeSession::from_json(entry) {
                Ok(s) => s,
                Err(e) => {
                    report.issue(file, Some(i), format!("not a session: {e}"));
                    continue;
                }
            };
            if session_exists(conn, &s.id)? {
                continue;
            }
            let written = write_tx(conn, |c| {
                let created = !workspace_ready && self.workspace(c, &hash)?;
                insert_session(c, &hash, &s)?;
                Ok(created)
            });
            match written {
                Ok(created) => {
                    workspace_ready = true;
                    report.count("workspaces", u64::from(created));
                    report.count("sessions", 1);
                    report.count("instances", s.instances.len() as u64);
                    report.count("chat_messages", s.chat_history.len() as u64);
                }
                Err(Error::Sqlite { code, message }) if code.starts_with("SQLITE_CONSTRAINT") => {
                    report.issue(file, Some(i), format!("refused by the schema: {message}"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl LegacyWorkspaces {
    /// Creates the workspace row of `hash` unless the store has it (true when it did); sets its
    /// path when the caller gave one.
    fn workspace(&self, conn: &Connection, hash: &str) -> Result<bool> {
        let path = self.workspaces.get(hash);
        let exists = conn
            .prepare_cached("SELECT 1 FROM workspaces WHERE hash = ?1")?
            .exists([hash])?;
        if exists {
            if let Some(path) = path {
                conn.prepare_cached("UPDATE workspaces SET path = ?2 WHERE hash = ?1")?
                    .execute([hash, path.as_str()])?;
            }
            return Ok(false);
        }
        conn.prepare_cached(&format!(
            "INSERT INTO workspaces (hash, path, last_accessed) VALUES (?1, ?2, {NOW_ISO})"
        ))?
        .execute([hash, path.map_or(hash, String::as_str)])?;
        Ok(true)
    }
}

/// The entries of one legacy file, or why the whole file is unusable.
fn parse_file(bytes: &[u8]) -> std::result::Result<Vec<Json>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    match serde_json::from_slice::<Json>(bytes) {
        Ok(Json::Array(items)) => Ok(items),
        Ok(_) => Err("expected an array of sessions".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}
