//! Consistent single-file copies of a live database, with progress.
//!
//! The copy runs SQLite's online backup in steps on a connection of its own that holds one read
//! transaction for the whole copy: the copy is the database exactly as it was when the copy
//! began, writers on other connections (the JS thread, other processes) keep going meanwhile,
//! and the backup never has to restart because of them. The result is put in `DELETE` journal
//! mode, so it is one self-contained file.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{Error, Result, BUSY_TIMEOUT_MS};

/// Pages copied per step (16 MiB with the default 4 KiB page): the progress granularity.
const PAGES_PER_STEP: i32 = 4096;

/// How far a copy is, in bytes of the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub done: u64,
    pub total: u64,
}

/// Copies the database file at `source` to the new file `target`, calling `progress(done,
/// total)` in bytes after every step. An error from `progress` stops the copy and is returned;
/// on any error `target` is removed. Returns the size of the copy.
pub fn snapshot(
    source: &Path,
    target: &Path,
    progress: &mut dyn FnMut(u64, u64) -> Result<()>,
) -> Result<u64> {
    if target.symlink_metadata().is_ok() {
        return Err(Error::io(
            "copy to",
            target,
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ));
    }
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
        let backup = Backup::new(&src, &mut dst)?;
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
