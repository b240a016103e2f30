//! Consistent single-file copies of a live database, with progress; verified backups (checked,
//! optionally gzipped, published under their name only when complete) and what a restore needs
//! to read one back.
//!
//! The copy runs SQLite's online backup in steps on a connection of its own that holds one read
//! transaction for the whole copy: the copy is the database exactly as it was when the copy
//! began, writers on other connections (the JS thread, other processes) keep going meanwhile,
//! and the backup never has to restart because of them. The result is put in `DELETE` journal
//! mode, so it is one self-contained file.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use rusqlite::backup::{Backup as SqliteBackup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{integrity, scratch, Error, Result, BUSY_TIMEOUT_MS};

/// Pages copied per step (16 MiB with the default 4 KiB page): the progress granularity.
const PAGES_PER_STEP: i32 = 4096;

/// Bytes compressed or decompressed between two progress reports.
const BYTES_PER_REPORT: u64 = 16 << 20;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What a backup is doing (copying the database, checking the copy, compressing it), or a
/// restore (reading the backup, checking it, replacing the live content).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Copy,
    Verify,
    Compress,
    Unpack,
    Check,
    Replace,
}

impl Phase {
    /// The phase's name in progress events: `copy`, `verify`, `compress`, `unpack`, `check`,
    /// `replace`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Copy => "copy",
            Phase::Verify => "verify",
            Phase::Compress => "compress",
            Phase::Unpack => "unpack",
            Phase::Check => "check",
            Phase::Replace => "replace",
        }
    }
}

/// How far a backup or a restore is: bytes of the database file copied, checked (reported at
/// the start and the end of the check) or compressed; of the backup file read; of the restored
/// database about to replace the live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

/// What [`backup`] does besides the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupOptions {
    /// Write the copy gzip-compressed.
    pub gzip: bool,
    /// Run `PRAGMA integrity_check` on the copy before it is published.
    pub verify: bool,
}

impl Default for BackupOptions {
    /// Verified, not compressed.
    fn default() -> Self {
        BackupOptions {
            gzip: false,
            verify: true,
        }
    }
}

/// A backup written by [`backup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The size of the file written (compressed, with `gzip`).
    pub bytes: u64,
    /// The result of the integrity check of the copy: `Some(true)` when it is sound, `Some(false)`
    /// when SQLite found problems (then the live database has them too: the copy is page for
    /// page), `None` when it was not checked.
    pub ok: Option<bool>,
    /// SQLite's list of problems when `ok` is `Some(false)`; empty otherwise.
    pub problems: Vec<String>,
}

/// Writes a backup of the database file at `source` to the new file `target`: a consistent
/// copy ([`snapshot`]), checked with `PRAGMA integrity_check` when `options.verify`, gzipped
/// when `options.gzip`, flushed to disk, and only then given the name `target` (which must not
/// exist: `EEXIST`). Until that last step the work lives in a hidden file beside `target`, so a
/// process killed half-way leaves no half-written `target`; on any error it is removed.
/// `progress` is called through every phase; an error from it stops the backup.
pub fn backup(
    source: &Path,
    target: &Path,
    options: BackupOptions,
    progress: &mut dyn FnMut(Copied) -> Result<()>,
) -> Result<Backup> {
    refuse_existing(target)?;
    let work = Scratch::beside(target)?;
    let copy = work.file("sqlite");
    let size = snapshot(source, &copy, &mut |done, total| {
        progress(Copied {
            phase: Phase::Copy,
            done,
            total,
        })
    })?;
    let (ok, problems) = if options.verify {
        let mut report = |done| {
            progress(Copied {
                phase: Phase::Verify,
                done,
                total: size,
            })
        };
        report(0)?;
        let problems = check_file(&copy)?;
        report(size)?;
        let ok = problems == ["ok"];
        (Some(ok), if ok { Vec::new() } else { problems })
    } else {
        (None, Vec::new())
    };
    let finished = if options.gzip {
        let gz = work.file("gz");
        compress(&copy, &gz, size, progress)?;
        gz
    } else {
        copy
    };
    File::open(&finished)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("flush", &finished, e))?;
    let bytes = std::fs::metadata(&finished)
        .map_err(|e| Error::io("inspect", &finished, e))?
        .len();
    publish(&finished, target)?;
    Ok(Backup {
        bytes,
        ok,
        problems,
    })
}

/// `EEXIST` when something (a file, a folder, a dangling link) is at `target`.
fn refuse_existing(target: &Path) -> Result<()> {
    if target.symlink_metadata().is_ok() {
        return Err(Error::io(
            "write to",
            target,
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ));
    }
    Ok(())
}

/// `PRAGMA integrity_check` of the database file at `path`, on a read-only connection of its
/// own. A file too damaged for the check to run (SQLite's `SQLITE_CORRUPT`) has that as its
/// one problem.
fn check_file(path: &Path) -> Result<Vec<String>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let problems = match integrity(&conn, false) {
        Err(Error::Sqlite { code, message }) if code.starts_with("SQLITE_CORRUPT") => {
            vec![format!("{message} ({code})")]
        }
        other => other?,
    };
    conn.close().map_err(|(_, e)| Error::from(e))?;
    Ok(problems)
}

/// Gzips `from` (of `size` bytes) into the new file `to`.
fn compress(
    from: &Path,
    to: &Path,
    size: u64,
    progress: &mut dyn FnMut(Copied) -> Result<()>,
) -> Result<()> {
    let mut input = File::open(from).map_err(|e| Error::io("read", from, e))?;
    let output = File::create_new(to).map_err(|e| Error::io("create", to, e))?;
    let mut gz = GzEncoder::new(BufWriter::new(output), Compression::default());
    let mut buf = vec![0u8; 1 << 20];
    let (mut done, mut reported) = (0u64, 0u64);
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| Error::io("read", from, e))?;
        if n == 0 {
            break;
        }
        gz.write_all(&buf[..n])
            .map_err(|e| Error::io("write", to, e))?;
        done += n as u64;
        if done - reported >= BYTES_PER_REPORT {
            reported = done;
            progress(Copied {
                phase: Phase::Compress,
                done,
                total: size,
            })?;
        }
    }
    gz.finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| Error::io("write", to, e))?;
    progress(Copied {
        phase: Phase::Compress,
        done: size,
        total: size,
    })
}

/// Gives the finished file `from` the name `to`, which must still be free: a hard link (which
/// never replaces an existing file) where the file system has them, a rename otherwise; then
/// flushes the folder so the name survives a power cut.
fn publish(from: &Path, to: &Path) -> Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => {
            let _ = std::fs::remove_file(from);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::io("write to", to, e));
        }
        Err(_) => {
            refuse_existing(to)?;
            std::fs::rename(from, to).map_err(|e| Error::io("rename to", to, e))?;
        }
    }
    sync_parent(to);
    Ok(())
}

/// Flushes the folder holding `path` (its entries), where the platform can.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        // The data is already flushed; a folder that cannot be flushed only loses the new name
        // in a power cut, which no caller could do better about.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Hidden work files beside a target, removed (with any SQLite journal) when dropped.
pub(crate) struct Scratch {
    stem: PathBuf,
    made: std::cell::RefCell<Vec<PathBuf>>,
}

impl Scratch {
    /// Work files named `.<target's name>.stowage-backup-<pid>-<ms>-<seq>.<suffix>` in the
    /// target's folder, so that a rename or link to the target stays on one file system. The
    /// work files that killed processes left in that folder are removed first.
    pub(crate) fn beside(target: &Path) -> Result<Scratch> {
        if target.file_name().is_none() {
            return Err(Error::InvalidArg(format!(
                "{} does not name a file",
                target.display()
            )));
        }
        if let Some(dir) = target.parent() {
            scratch::remove_stale_tagged(dir, "backup");
        }
        Ok(Scratch {
            stem: scratch::sibling(target, "backup"),
            made: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// The work file ending in `suffix`, removed with the others.
    pub(crate) fn file(&self, suffix: &str) -> PathBuf {
        let mut path = self.stem.clone().into_os_string();
        path.push(format!(".{suffix}"));
        let path = PathBuf::from(path);
        self.made.borrow_mut().push(path.clone());
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for path in self.made.borrow().iter() {
            for sidecar in ["", "-journal", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(sidecar);
                // Our own files; one that was renamed away or never made is not an error.
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
        }
    }
}

/// What the file at `path` holds, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Gzip,
    Other,
}

/// The kind of the file at `path` (`Other` for one too short to tell).
pub fn kind_of(path: &Path) -> Result<Kind> {
    let mut head = [0u8; 16];
    let mut file = File::open(path).map_err(|e| Error::io("read", path, e))?;
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io("read", path, e))?;
    Ok(if n == 16 && &head == SQLITE_HEADER {
        Kind::Sqlite
    } else if n >= 2 && head[..2] == GZIP_MAGIC {
        Kind::Gzip
    } else {
        Kind::Other
    })
}

/// True when the file at `path` is a SQLite database, or a gzip stream whose content starts as
/// one: what [`backup`] writes.
pub fn is_backup(path: &Path) -> Result<bool> {
    match kind_of(path)? {
        Kind::Sqlite => Ok(true),
        Kind::Gzip => {
            let file = File::open(path).map_err(|e| Error::io("read", path, e))?;
            let mut head = [0u8; 16];
            Ok(read_up_to(&mut MultiGzDecoder::new(file), &mut head)
                .is_ok_and(|n| n == 16 && &head == SQLITE_HEADER))
        }
        Kind::Other => Ok(false),
    }
}

/// Reads into `buf` until it is full or the stream ends; the number of bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes the database a backup file holds (plain, or gzipped) to the new file `to`, calling
/// `progress` with the bytes of `backup` read (phase `unpack`) every 16 MiB and at the end; a
/// file that is neither, or a gzip stream that is damaged or holds something else, is
/// `ERR_BACKUP_INVALID`.
pub(crate) fn unpack(
    backup: &Path,
    to: &Path,
    progress: &mut dyn FnMut(Copied) -> Result<()>,
) -> Result<()> {
    let invalid = |why: String| Error::BackupInvalid(format!("{}: {why}", backup.display()));
    let gzip = match kind_of(backup)? {
        Kind::Sqlite => false,
        Kind::Gzip => true,
        Kind::Other => return Err(invalid("not a SQLite database or a gzipped one".into())),
    };
    let input = File::open(backup).map_err(|e| Error::io("read", backup, e))?;
    let total = input
        .metadata()
        .map_err(|e| Error::io("inspect", backup, e))?
        .len();
    let mut output = BufWriter::new(File::create_new(to).map_err(|e| Error::io("create", to, e))?);
    // Read through `&File`, so that the file's position tells how much of it was read.
    let mut reader: Box<dyn Read + '_> = if gzip {
        Box::new(MultiGzDecoder::new(&input))
    } else {
        Box::new(&input)
    };
    let mut report = |done| {
        progress(Copied {
            phase: Phase::Unpack,
            done,
            total,
        })
    };
    report(0)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut first, mut reported) = (true, 0u64);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if gzip => return Err(invalid(format!("the gzip stream is damaged ({e})"))),
            Err(e) => return Err(Error::io("read", backup, e)),
        };
        if n == 0 {
            break;
        }
        if first && (n < 16 || &buf[..16] != SQLITE_HEADER) {
            return Err(invalid(
                "the gzip stream does not hold a SQLite database".into(),
            ));
        }
        first = false;
        output
            .write_all(&buf[..n])
            .map_err(|e| Error::io("write", to, e))?;
        let read = (&input)
            .stream_position()
            .map_err(|e| Error::io("read", backup, e))?;
        if read - reported >= BYTES_PER_REPORT {
            reported = read;
            report(reported)?;
        }
    }
    if first {
        return Err(invalid("the gzip stream is empty".into()));
    }
    output.flush().map_err(|e| Error::io("write", to, e))?;
    report(total)
}

/// Replaces the whole content of the database on `live` by that of the database file `from`,
/// as one write transaction: other connections see the old database or the new one, and on any
/// error (or a process killed half-way) the old one stays. The page sizes must be equal where
/// `live` is in WAL mode (SQLite's rule); [`restore`](super::restore) sees to it.
pub(crate) fn replace(from: &Path, live: &mut Connection) -> Result<()> {
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    {
        let copy = SqliteBackup::new(&src, live)?;
        match copy.step(-1)? {
            StepResult::Done => {}
            _ => {
                return Err(Error::Sqlite {
                    code: "SQLITE_BUSY",
                    message: "the database was locked by another connection; nothing was \
                              restored"
                        .into(),
                })
            }
        }
    }
    src.close().map_err(|(_, e)| Error::from(e))
}

/// Copies the database file at `source` to the new file `target`, calling `progress(done,
/// total)` in bytes after every step. An error from `progress` stops the copy and is returned;
/// on any error `target` is removed. Returns the size of the copy.
pub fn snapshot(
    source: &Path,
    target: &Path,
    progress: &mut dyn FnMut(u64, u64) -> Result<()>,
) -> Result<u64> {
    refuse_existing(target)?;
    let result = copy(source, target, progress);
    if result.is_err() {
        // Our own partial file; nothing else can have it open.
        let _ = std::fs::remove_file(target);
        let mut journal = target.as_os_str().to_owned();
        journal.push("-journal");
        let _ = std::fs::remove_file(journal);
    }
    result
}

fn copy(
    source: &Path,
    target: &Path,
    progress: &mut dyn FnMut(u64, u64) -> Result<()>,
) -> Result<u64> {
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
    // Reading through a memory map saves a system call per page (a quarter of the export time
    // of a large database). The read transaction below keeps SQLite from truncating the file
    // while it is mapped, and WAL mode already maps the `-shm` index the same way.
    src.execute_batch("PRAGMA mmap_size = 1073741824")?;
    // Pin one snapshot: the read transaction lasts until the last page is copied.
    src.execute_batch("BEGIN")?;
    src.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let mut dst = Connection::open(target)?;
    // The copy is a new private file: nothing is lost by not syncing it, and the caller decides
    // when it becomes visible (a bundle's rename). Syncing would also force the file system to
    // flush everything else written alongside it.
    dst.execute_batch("PRAGMA synchronous = OFF")?;
    let page_size: i64 = src.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let page_size = u64::try_from(page_size).unwrap_or(4096);
    {
        let backup = SqliteBackup::new(&src, &mut dst)?;
        let mut waits = 0;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let p = backup.progress();
            let total = u64::try_from(p.pagecount).unwrap_or(0) * page_size;
            let done = total.saturating_sub(u64::try_from(p.remaining).unwrap_or(0) * page_size);
            match step {
                StepResult::Done => {
                    progress(total, total)?;
                    break;
                }
                StepResult::More => progress(done, total)?,
                _ => {
                    // Busy or locked: only possible while another connection switches the
                    // journal mode; wait as long as the busy timeout would.
                    waits += 1;
                    if waits * 10 > BUSY_TIMEOUT_MS {
                        return Err(Error::Sqlite {
                            code: "SQLITE_BUSY",
                            message: "the database stayed locked during the copy".into(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
    src.execute_batch("COMMIT")?;
    let mode: String = dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    debug_assert_eq!(mode, "delete");
    dst.close().map_err(|(_, e)| Error::from(e))?;
    Ok(std::fs::metadata(target)
        .map_err(|e| Error::io("inspect", target, e))?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_db(path: &Path, rows: i64) -> Connection {
        let c = Connection::open(path).unwrap();
        c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        c.execute_batch("CREATE TABLE t(x INTEGER, pad BLOB)")
            .unwrap();
        c.execute(
            "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < ?1)
             INSERT INTO t SELECT v, randomblob(3000) FROM s",
            [rows],
        )
        .unwrap();
        c
    }

    #[test]
    fn the_copy_is_the_database_as_it_was_when_the_copy_began() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.sqlite");
        let writer = wal_db(&live, 20_000);
        let target = dir.path().join("copy.sqlite");
        let mut steps = 0;
        let bytes = snapshot(&live, &target, &mut |done, total| {
            assert!(done <= total);
            steps += 1;
            // Another connection keeps writing between steps, as the JS thread would.
            writer.execute("INSERT INTO t VALUES (-1, NULL)", [])?;
            Ok(())
        })?;
        assert!(steps > 3, "copied in {steps} steps");
        let copy = Connection::open(&target)?;
        let (n, min): (i64, i64) = copy.query_row("SELECT count(*), min(x) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        assert_eq!((n, min), (20_000, 1));
        assert_eq!(
            copy.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))?,
            "delete"
        );
        assert_eq!(bytes, std::fs::metadata(&target).unwrap().len());
        let live_rows: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(live_rows, 20_000 + steps);
        Ok(())
    }

    #[test]
    fn an_error_from_progress_stops_the_copy_and_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.sqlite");
        let _c = wal_db(&live, 20_000);
        let target = dir.path().join("copy.sqlite");
        let err = snapshot(&live, &target, &mut |_, _| {
            Err(Error::InvalidArg("stop".into()))
        })
        .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert!(!target.exists());
        assert_eq!(
            snapshot(&live, &live, &mut |_, _| Ok(()))
                .unwrap_err()
                .code(),
            "EEXIST"
        );
    }
}
