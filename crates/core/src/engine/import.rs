//! The one framework for importing a store's legacy JSON files (overstory's `sessions.json`,
//! AIT42's per-workspace files, opencode's storage tree).
//!
//! A store describes its legacy layout with an [`Importer`]: which files to read, in what order
//! (parents before children), whether to import at all, and how one file's bytes become rows.
//! [`run`] does the rest, the same way for every store:
//! - the whole import is one `BEGIN IMMEDIATE` transaction (a savepoint inside an open one), so a
//!   killed process leaves nothing of it, and a failure (of the database, or a cancelling progress
//!   callback) rolls it back;
//! - files are read one at a time inside it, so memory stays flat however large the tree;
//! - bad data is reported, never thrown: a file that cannot be read, is not JSON or has the wrong
//!   shape, and an entry that cannot be a row, each get an [`ImportIssue`], and the rest is
//!   imported. What throws is a failure to list the source, and the database's own errors;
//! - a missing source imports nothing, without error;
//! - the source files are only read, never modified or deleted.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{write_tx, Error, Result};

/// What an import did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportReport {
    /// True when at least one row was written.
    pub migrated: bool,
    /// Rows written, by table.
    pub counts: BTreeMap<String, u64>,
    /// Entries skipped because their parent (a session of a message, say) is not in the store or
    /// the import, by table.
    pub orphans: BTreeMap<String, u64>,
    /// The files, or entries within them, that could not be imported.
    pub errors: Vec<ImportIssue>,
}

/// One problem found while importing.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportIssue {
    /// The legacy file.
    pub file: PathBuf,
    /// Position of the entry within the file, or `None` when the whole file is unusable.
    pub entry: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl ImportReport {
    /// Records `n` rows written to `table`.
    pub fn count(&mut self, table: &str, n: u64) {
        if n > 0 {
            *self.counts.entry(table.to_string()).or_default() += n;
        }
    }

    /// Records an entry for `table` skipped because its parent is missing.
    pub fn orphan(&mut self, table: &str) {
        *self.orphans.entry(table.to_string()).or_default() += 1;
    }

    /// Records a problem with `file` (with the entry's position, or `None` for the whole file).
    pub fn issue(&mut self, file: &Path, entry: Option<usize>, reason: impl Into<String>) {
        self.errors.push(ImportIssue {
            file: file.to_path_buf(),
            entry,
            reason: reason.into(),
        });
    }

    /// Rows written, all tables together.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// A step of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPhase {
    /// Listing the source's files and their sizes.
    Scan,
    /// Reading files and writing their rows.
    Import,
    /// Every file is read; the transaction commits next. The last moment a progress callback
    /// can still cancel the import.
    Commit,
    /// Committed.
    Done,
}

impl ImportPhase {
    /// The name used in progress events.
    pub fn name(self) -> &'static str {
        match self {
            ImportPhase::Scan => "scan",
            ImportPhase::Import => "import",
            ImportPhase::Commit => "commit",
            ImportPhase::Done => "done",
        }
    }
}

/// One progress event of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportProgress {
    pub phase: ImportPhase,
    /// Files read so far, of `files_total`.
    pub files_done: u64,
    pub files_total: u64,
    /// Bytes read so far, of `bytes_total` (the files' sizes when they were listed).
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// Rows written so far.
    pub rows: u64,
    /// The file just read, in the `import` phase.
    pub file: Option<PathBuf>,
}

/// Receives progress events; returning an error stops the import (rolled back) with that error.
pub type ImportSink<'a> = &'a mut dyn FnMut(&ImportProgress) -> Result<()>;

/// Files between two `import` events, besides the first and the last file.
pub const REPORT_EVERY_FILES: u64 = 256;

/// Bytes between two `import` events.
pub const REPORT_EVERY_BYTES: u64 = 16 << 20;

/// A store's legacy layout.
pub trait Importer {
    /// The files of the existing `source` to read, in the order their rows must be written
    /// (parents before children). Failing to list them is an error of the import.
    fn files(&mut self, source: &Path) -> Result<Vec<PathBuf>>;

    /// Whether to import at all, asked inside the import's transaction (overstory imports only
    /// into an empty store). Imports by default.
    fn wanted(&mut self, _conn: &Connection) -> Result<bool> {
        Ok(true)
    }

    /// Writes the rows of one file, given its bytes. Bad data goes into `report`
    /// ([`ImportReport::issue`], [`ImportReport::orphan`]); an `Err` (the database's) stops the
    /// import and rolls it back.
    fn import_file(
        &mut self,
        conn: &Connection,
        file: &Path,
        bytes: &[u8],
        report: &mut ImportReport,
    ) -> Result<()>;
}

/// Imports `source` with `importer` in one transaction on `conn`; see the module docs.
pub fn run(
    conn: &Connection,
    source: &Path,
    importer: &mut dyn Importer,
    progress: ImportSink<'_>,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    match std::fs::symlink_metadata(source) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(Error::io("reading", source, e)),
        Ok(_) => {}
    }
    let mut at = ImportProgress {
        phase: ImportPhase::Scan,
        files_done: 0,
        files_total: 0,
        bytes_done: 0,
        bytes_total: 0,
        rows: 0,
        file: None,
    };
    progress(&at)?;
    let files = importer.files(source)?;
    at.files_total = files.len() as u64;
    at.bytes_total = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    write_tx(conn, |conn| {
        if !importer.wanted(conn)? {
            return Ok(());
        }
        at.phase = ImportPhase::Import;
        progress(&at)?;
        let mut reported = (0, 0);
        for (i, file) in files.iter().enumerate() {
            match std::fs::read(file) {
                Ok(bytes) => {
                    at.bytes_done += bytes.len() as u64;
                    importer.import_file(conn, file, &bytes, &mut report)?;
                }
                Err(e) => report.issue(file, None, format!("cannot read: {e}")),
            }
            at.files_done += 1;
            at.rows = report.total();
            let last = i + 1 == files.len();
            if last
                || at.files_done - reported.0 >= REPORT_EVERY_FILES
                || at.bytes_done - reported.1 >= REPORT_EVERY_BYTES
            {
                reported = (at.files_done, at.bytes_done);
                at.file = Some(file.clone());
                progress(&at)?;
                at.file = None;
            }
        }
        at.phase = ImportPhase::Commit;
        progress(&at)
    })?;
    report.migrated = report.total() > 0;
    at.phase = ImportPhase::Done;
    at.rows = report.total();
    progress(&at)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway layout: a folder of `<n>.json` files, each an array of strings, imported into
    /// `notes(body)`; an entry that is not a string is reported.
    struct Notes;

    impl Importer for Notes {
        fn files(&mut self, source: &Path) -> Result<Vec<PathBuf>> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(source)
                .map_err(|e| Error::io("listing", source, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
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
            let Ok(serde_json::Value::Array(items)) = serde_json::from_slice(bytes) else {
                report.issue(file, None, "not a JSON array");
                return Ok(());
            };
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(body) => {
                        conn.execute("INSERT INTO notes (body) VALUES (?1)", [body])?;
                        report.count("notes", 1);
                    }
                    None => report.issue(file, Some(i), "not a string"),
                }
            }
            Ok(())
        }
    }

    fn setup() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT NOT NULL)")
            .unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        (dir, conn)
    }

    fn notes(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT body FROM notes ORDER BY rowid")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap()
    }

    #[test]
    fn bad_files_and_entries_are_reported_and_the_rest_imported_in_order() -> Result<()> {
        let (dir, conn) = setup();
        let src = dir.path().join("src");
        std::fs::write(src.join("1.json"), r#"["a", 7, "b"]"#).unwrap();
        std::fs::write(src.join("2.json"), "{not json").unwrap();
        std::fs::write(src.join("3.json"), r#"["c"]"#).unwrap();
        let before: Vec<Vec<u8>> = ["1", "2", "3"]
            .iter()
            .map(|n| std::fs::read(src.join(format!("{n}.json"))).unwrap())
            .collect();
        let mut events = Vec::new();
        let report = run(&conn, &src, &mut Notes, &mut |p| {
            events.push((p.phase, p.files_done, p.rows));
            Ok(())
        })?;
        assert_eq!(notes(&conn), ["a", "b", "c"]);
        assert!(report.migrated);
        assert_eq!(report.counts, BTreeMap::from([("notes".to_string(), 3)]));
        let issues: Vec<(String, Option<usize>)> = report
            .errors
            .iter()
            .map(|e| {
                (
                    e.file.file_name().unwrap().to_string_lossy().into(),
                    e.entry,
                )
            })
            .collect();
        assert_eq!(
            issues,
            [("1.json".into(), Some(1)), ("2.json".into(), None)]
        );
        assert_eq!(
            events,
            [
                (ImportPhase::Scan, 0, 0),
                (ImportPhase::Import, 0, 0),
                (ImportPhase::Import, 3, 3),
                (ImportPhase::Commit, 3, 3),
                (ImportPhase::Done, 3, 3),
            ]
        );
        for (n, bytes) in ["1", "2", "3"].iter().zip(before) {
            assert_eq!(std::fs::read(src.join(format!("{n}.json"))).unwrap(), bytes);
        }
        Ok(())
    }

    #[test]
    fn a_cancelling_callback_leaves_nothing_and_a_missing_source_imports_nothing() -> Result<()> {
        let (dir, conn) = setup();
        let src = dir.path().join("src");
        std::fs::write(src.join("1.json"), r#"["a"]"#).unwrap();
        let err = run(&conn, &src, &mut Notes, &mut |p| match p.phase {
            ImportPhase::Commit => Err(Error::Cancelled),
            _ => Ok(()),
        })
        .unwrap_err();
        assert_eq!(err.code(), "ERR_CANCELLED");
        assert!(notes(&conn).is_empty());
        assert!(conn.is_autocommit());
        let none = run(&conn, &dir.path().join("absent"), &mut Notes, &mut |_| {
            Ok(())
        })?;
        assert_eq!(none, ImportReport::default());
        Ok(())
    }

    #[test]
    fn a_source_that_cannot_be_listed_throws() {
        let (dir, conn) = setup();
        let file = dir.path().join("plain.txt");
        std::fs::write(&file, "x").unwrap();
        let err = run(&conn, &file, &mut Notes, &mut |_| Ok(())).unwrap_err();
        assert_eq!(err.code(), "ENOTDIR");
    }
}
