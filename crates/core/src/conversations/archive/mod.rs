//! Session archives (spec 78): one session with its messages as gzip-compressed JSON, and its
//! restoration as a new session (new ids, " (restored)" appended to the title).
//!
//! The archive is `{ format, version, exportedAt, session: {…}, messages: [{…}] }` with the
//! JS API's camelCase field names and `toolCalls` as JSON. A restore reads and checks the whole
//! archive before it writes anything, then writes in one transaction.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use rusqlite::{params, Connection};
use serde_json::{json, Value};

use super::messages::{message_from_row, Message, MESSAGE_COLUMNS};
use super::{missing, session_on, Conversations, Session, NEW_ID};
use crate::engine::time::now_iso;
use crate::engine::{write_tx, Error, Result};

mod format;

use format::{message_json, parse, session_json};
pub use format::{FORMAT, VERSION};

/// The largest archive read, compressed or not (256 MiB): a larger one is refused as
/// `ERR_ARCHIVE_INVALID` rather than filling the memory.
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 20;

/// Messages between two progress events.
pub(super) const PROGRESS_EVERY: u64 = 1000;

/// A step of an archive export or restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchivePhase {
    /// Export: reading the session's messages (`done` of `total` messages). Restore: reading
    /// the file (`done` of `total` bytes).
    Read,
    /// Export: compressing and writing the file (`done` of `total` messages).
    Write,
    /// Restore: checking the archive's messages (`done` of `total`).
    Validate,
    /// Restore: inserting the messages (`done` of `total`), holding the write lock.
    Restore,
    /// Restore: about to commit (`done` = `total` messages).
    Commit,
}

impl ArchivePhase {
    /// The phase's name in JS progress events.
    pub fn name(self) -> &'static str {
        match self {
            ArchivePhase::Read => "read",
            ArchivePhase::Write => "write",
            ArchivePhase::Validate => "validate",
            ArchivePhase::Restore => "restore",
            ArchivePhase::Commit => "commit",
        }
    }
}

/// A progress event of an archive export or restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveProgress {
    pub phase: ArchivePhase,
    pub done: u64,
    pub total: u64,
}

/// Receives progress; an error it returns stops the operation (nothing is written).
pub type ArchiveSink<'a> = &'a mut dyn FnMut(&ArchiveProgress) -> Result<()>;

/// A checked archive: the session and its messages, sequences renumbered 1, 2, 3, … in their
/// archived order.
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    pub session: Session,
    pub messages: Vec<Message>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub file: PathBuf,
    pub messages: u64,
    pub bytes: u64,
}

impl Conversations<'_> {
    /// Writes session `session_id` and its messages to `file` as `.json.gz` (replacing a file
    /// there, never leaving a partial one). `ERR_NOT_FOUND` when there is no such session.
    pub fn export_archive(&self, session_id: &str, file: &Path) -> Result<Exported> {
        export_archive_on(self.conn(), session_id, file, &mut |_| Ok(()))
    }

    /// Restores the archive at `file` as a new session (see [`restore_archive_on`]).
    pub fn restore_archive(&self, file: &Path) -> Result<Session> {
        restore_archive_on(self.conn(), file, &mut |_| Ok(()))
    }
}

/// [`Conversations::export_archive`] on any connection to the store's file (an async job's
/// own), reporting progress to `sink`. The session and messages are read in one read
/// transaction (or inside the one open on `conn`), so the archive is one moment's state.
pub fn export_archive_on(
    conn: &Connection,
    session_id: &str,
    file: &Path,
    sink: ArchiveSink<'_>,
) -> Result<Exported> {
    let (session, messages) = read_snapshot(conn, |c| {
        let session = session_on(c, session_id)?.ok_or_else(|| missing(session_id))?;
        let total: i64 = c
            .prepare_cached("SELECT count(*) FROM messages WHERE session_id = ?1")?
            .query_row([session_id], |r| r.get(0))?;
        let total = total.unsigned_abs();
        sink(&ArchiveProgress {
            phase: ArchivePhase::Read,
            done: 0,
            total,
        })?;
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE session_id = ?1 ORDER BY sequence"
        ))?;
        let mut rows = stmt.query([session_id])?;
        let mut messages = Vec::new();
        while let Some(row) = rows.next()? {
            messages.push(message_from_row(row)?);
            let done = messages.len() as u64;
            if done.is_multiple_of(PROGRESS_EVERY) {
                sink(&ArchiveProgress {
                    phase: ArchivePhase::Read,
                    done,
                    total,
                })?;
            }
        }
        Ok((session, messages))
    })?;
    let total = messages.len() as u64;
    sink(&ArchiveProgress {
        phase: ArchivePhase::Write,
        done: 0,
        total,
    })?;
    let doc = json!({
        "format": FORMAT,
        "version": VERSION,
        "exportedAt": now_iso(),
        "session": session_json(&session),
        "messages": messages.iter().map(message_json).collect::<Result<Vec<_>>>()?,
    });
    let bytes = write_atomically(file, |out| {
        let mut gz = GzEncoder::new(out, Compression::default());
        serde_json::to_writer(&mut gz, &doc).map_err(std::io::Error::from)?;
        gz.finish().map(drop)
    })?;
    sink(&ArchiveProgress {
        phase: ArchivePhase::Write,
        done: total,
        total,
    })?;
    Ok(Exported {
        file: file.to_path_buf(),
        messages: total,
        bytes,
    })
}

/// Restores the archive at `file` on `conn` as a new session: a new session id and new message
/// ids, " (restored)" appended to the title, `is_imported` set, `updated_at` now, no parent,
/// token and cost totals those of the messages. The whole archive is read and checked first
/// (`ERR_ARCHIVE_INVALID`, nothing written), then written in one transaction.
pub fn restore_archive_on(
    conn: &Connection,
    file: &Path,
    sink: ArchiveSink<'_>,
) -> Result<Session> {
    let archive = read_archive(file, sink)?;
    let now = now_iso();
    let total = archive.messages.len() as u64;
    write_tx(conn, |c| {
        let s = &archive.session;
        let (prompt, completion, cost) =
            archive.messages.iter().fold((0i64, 0i64, 0f64), |t, m| {
                (
                    t.0.saturating_add(m.prompt_tokens.unwrap_or(0)),
                    t.1.saturating_add(m.completion_tokens.unwrap_or(0)),
                    t.2 + m.cost.unwrap_or(0.0),
                )
            });
        let id: String = c
            .prepare_cached(&format!(
                "INSERT INTO sessions (id, title, created_at, updated_at, model, provider,
                   branch_name, prompt_tokens, completion_tokens, cost, is_archived, is_imported)
                 VALUES ({NEW_ID}, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1) RETURNING id"
            ))?
            .query_row(
                params![
                    format!("{} (restored)", s.title),
                    s.created_at,
                    now,
                    s.model,
                    s.provider,
                    s.branch_name,
                    prompt,
                    completion,
                    cost,
                    s.is_archived
                ],
                |r| r.get(0),
            )?;
        let base: i64 = c
            .prepare_cached("SELECT coalesce(max(fts_rowid), 0) FROM messages")?
            .query_row([], |r| r.get(0))?;
        let mut insert = c.prepare_cached(&format!(
            "INSERT INTO messages (id, session_id, role, content, created_at, prompt_tokens,
               completion_tokens, tool_calls, sequence, cost, fts_rowid)
             VALUES ({NEW_ID}, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))?;
        for (i, m) in archive.messages.iter().enumerate() {
            insert.execute(params![
                id,
                m.role,
                m.content,
                m.created_at,
                m.prompt_tokens,
                m.completion_tokens,
                m.tool_calls,
                m.sequence,
                m.cost,
                base + m.sequence
            ])?;
            let done = i as u64 + 1;
            if done.is_multiple_of(PROGRESS_EVERY) {
                sink(&ArchiveProgress {
                    phase: ArchivePhase::Restore,
                    done,
                    total,
                })?;
            }
        }
        sink(&ArchiveProgress {
            phase: ArchivePhase::Commit,
            done: total,
            total,
        })?;
        session_on(c, &id)?.ok_or_else(|| missing(&id))
    })
}

/// Reads and checks the archive at `file` without writing anything: gzip, at most
/// [`MAX_ARCHIVE_BYTES`] either way, JSON of this format and version, every field of the right
/// type (timestamps in the one ISO format, tokens non-negative integers, costs finite and not
/// negative, tool calls an array or null), message sequences distinct positive integers.
pub fn read_archive(file: &Path, sink: ArchiveSink<'_>) -> Result<Archive> {
    let len = std::fs::metadata(file)
        .map_err(|e| Error::io("read", file, e))?
        .len();
    if len > MAX_ARCHIVE_BYTES {
        return Err(invalid(
            file,
            format!("it is {len} bytes, more than {MAX_ARCHIVE_BYTES}"),
        ));
    }
    sink(&ArchiveProgress {
        phase: ArchivePhase::Read,
        done: 0,
        total: len,
    })?;
    let compressed = std::fs::read(file).map_err(|e| Error::io("read", file, e))?;
    let mut text = Vec::new();
    GzDecoder::new(compressed.as_slice())
        .take(MAX_ARCHIVE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| invalid(file, format!("it is not a complete gzip file ({e})")))?;
    if text.len() as u64 > MAX_ARCHIVE_BYTES {
        return Err(invalid(
            file,
            format!("it holds more than {MAX_ARCHIVE_BYTES} bytes of JSON"),
        ));
    }
    sink(&ArchiveProgress {
        phase: ArchivePhase::Read,
        done: len,
        total: len,
    })?;
    let doc: Value = serde_json::from_slice(&text)
        .map_err(|e| invalid(file, format!("it is not JSON ({e})")))?;
    drop(text);
    parse(&doc, sink).map_err(|reason| invalid(file, reason))?
}

fn invalid(file: &Path, reason: String) -> Error {
    Error::ArchiveInvalid(format!(
        "{} is not a conversation archive: {reason}",
        file.display()
    ))
}

/// Runs `f` in a read transaction on `conn` (or inside the transaction already open on it).
fn read_snapshot<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    conn.execute_batch("BEGIN")?;
    let result = f(conn);
    // Ending a transaction that only read cannot lose anything.
    let _ = conn.execute_batch("ROLLBACK");
    result
}

/// Writes `file` through `write` into a temporary sibling, synced, then renamed over `file`;
/// returns the bytes written. On any error the temporary file is removed and `file` is as it
/// was.
fn write_atomically(
    file: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<u64> {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(name) = name else {
        return Err(Error::InvalidArg(format!(
            "{} is not a file name",
            file.display()
        )));
    };
    let tmp = file.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let done = (|| {
        let mut out = BufWriter::new(File::create(&tmp)?);
        write(&mut out)?;
        let out = out.into_inner().map_err(|e| e.into_error())?;
        out.sync_all()?;
        let bytes = out.metadata()?.len();
        std::fs::rename(&tmp, file)?;
        Ok(bytes)
    })();
    done.map_err(|e: std::io::Error| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("write", file, e)
    })
}

#[cfg(test)]
mod tests;
