//! Retention: deleting a store's rows once they are older than its policy allows, in short
//! write transactions.
//!
//! A store declares its policies ([`super::StoreDef::retention`]); [`apply`] runs them. The
//! cutoff is written in the stored timestamp format (ISO 8601 text with milliseconds and `Z`,
//! [`super::time`]), so a row exactly at the cutoff is kept and one a millisecond older goes, on
//! the boundary day as on any other. Rows are deleted oldest first, in chunks, each chunk its own
//! `BEGIN IMMEDIATE` transaction sized to hold the write lock for about [`CHUNK_TARGET`], with a
//! pause twice as long as the chunk (at least [`MIN_PAUSE`]) between chunks, so a writer in
//! another process gets in at its next busy-handler poll. A killed run leaves the expired rows deleted up to the last
//! committed chunk: a prefix of them, in that order. `VACUUM` is never run.

use std::thread::sleep;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::time::iso_from_ms;
use super::{write_tx, Result};

/// One table's policy: rows whose `timestamp` column is older than `max_age_ms` (and that match
/// `deletable`) are deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The table, also the policy's key in the result.
    pub table: &'static str,
    /// The column holding the row's ISO 8601 timestamp.
    pub timestamp: &'static str,
    /// An SQL condition a row must also meet to be deleted (`starred = 0`), or `"1"`.
    pub deletable: &'static str,
    /// The order rows are deleted in, oldest first; it must begin with the timestamp column and
    /// end with a unique key (`timestamp, seq`), and an index should serve it with the
    /// condition.
    pub order: &'static str,
    /// How long a row is kept, in milliseconds; `None` keeps it forever (the policy deletes
    /// nothing and reports 0).
    pub max_age_ms: Option<i64>,
}

/// Rows one policy deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub table: &'static str,
    pub rows: u64,
}

/// How far a run is: after each chunk (and once before the first), for the policy of `table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub table: &'static str,
    /// Rows of this table deleted so far.
    pub deleted: u64,
    /// Rows of this table that had expired when its turn began.
    pub total: u64,
}

/// How long one chunk should hold the write lock.
pub const CHUNK_TARGET: Duration = Duration::from_millis(10);
/// The shortest pause between chunks: SQLite's busy handler (`busy_timeout`) tries again after
/// 1, 2, 5, 10, 15, 20, 25, 25, 25 ms, so every writer that has waited less than about 180 ms
/// tries at least once in a pause this long, instead of sleeping through a short one into the
/// next chunk (measured in BENCHMARKS.md, the history store).
pub const MIN_PAUSE: Duration = Duration::from_millis(25);
const FIRST_CHUNK: i64 = 500;
const MIN_CHUNK: i64 = 50;
const MAX_CHUNK: i64 = 50_000;

/// The cutoff of a policy at `now_ms`: rows with an older timestamp expire (`None`: none do).
pub fn cutoff(policy: &Policy, now_ms: i64) -> Option<String> {
    policy
        .max_age_ms
        .map(|age| iso_from_ms(now_ms.saturating_sub(age)))
}

/// Runs `policies` at `now_ms` (milliseconds since the epoch) on `conn`, which must not be in a
/// transaction; `report` is called before each policy's first chunk and after every chunk, and
/// an error it returns stops the run there (what was committed stays deleted). Returns the rows
/// each policy deleted, in the policies' order.
pub fn apply(
    conn: &Connection,
    policies: &[Policy],
    now_ms: i64,
    report: &mut dyn FnMut(&Progress) -> Result<()>,
) -> Result<Vec<Deleted>> {
    let mut out = Vec::with_capacity(policies.len());
    for p in policies {
        let Some(cutoff) = cutoff(p, now_ms) else {
            out.push(Deleted {
                table: p.table,
                rows: 0,
            });
            continue;
        };
        let total: i64 = conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM {} WHERE {} AND {} < ?1",
                p.table, p.deletable, p.timestamp
            ))?
            .query_row([&cutoff], |r| r.get(0))?;
        let total = total as u64;
        let mut progress = Progress {
            table: p.table,
            deleted: 0,
            total,
        };
        report(&progress)?;
        let delete = format!(
            "DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE {d} AND {ts} < ?1
               ORDER BY {o} LIMIT ?2)",
            t = p.table,
            d = p.deletable,
            ts = p.timestamp,
            o = p.order
        );
        // Nothing expired: no write lock is taken (so a store opened read-only may call it).
        if total > 0 {
            delete_in_chunks(conn, &delete, &cutoff, &mut progress, report)?;
        }
        out.push(Deleted {
            table: p.table,
            rows: progress.deleted,
        });
    }
    Ok(out)
}

/// Runs `delete` (`?1` the cutoff, `?2` the chunk's size) in chunks until one comes up short,
/// counting the rows in `progress` and reporting after each.
fn delete_in_chunks(
    conn: &Connection,
    delete: &str,
    cutoff: &str,
    progress: &mut Progress,
    report: &mut dyn FnMut(&Progress) -> Result<()>,
) -> Result<()> {
    let mut chunk = FIRST_CHUNK;
    loop {
        let (rows, held) = write_tx(conn, |c| {
            let began = Instant::now();
            let rows = c.prepare_cached(delete)?.execute(params![cutoff, chunk])?;
            Ok((rows as i64, began.elapsed()))
        })?;
        progress.deleted += rows as u64;
        report(progress)?;
        if rows < chunk {
            return Ok(());
        }
        chunk = if held < CHUNK_TARGET / 2 {
            (chunk * 2).min(MAX_CHUNK)
        } else if held > CHUNK_TARGET {
            (chunk / 2).max(MIN_CHUNK)
        } else {
            chunk
        };
        sleep((held * 2).max(MIN_PAUSE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn table(conn: &Connection, stamps: &[i64]) -> Result<()> {
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, keep INTEGER NOT NULL);
             CREATE INDEX t_ts ON t (keep, ts, id);",
        )?;
        for (i, ms) in stamps.iter().enumerate() {
            conn.execute(
                "INSERT INTO t (ts, keep) VALUES (?1, ?2)",
                params![iso_from_ms(*ms), i64::from(i % 7 == 3)],
            )?;
        }
        Ok(())
    }

    fn policy(max_age_ms: i64) -> Policy {
        Policy {
            table: "t",
            timestamp: "ts",
            deletable: "keep = 0",
            order: "ts, id",
            max_age_ms: Some(max_age_ms),
        }
    }

    #[test]
    fn a_row_exactly_at_the_cutoff_stays_and_one_a_millisecond_older_goes() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        // Day boundaries and the millisecond either side, where a format mismatch shows.
        let now = 1_777_593_600_000; // 2026-05-01T00:00:00.000Z
        let cut = now - 30 * DAY;
        table(&conn, &[cut - 1, cut, cut + 1])?;
        let deleted = apply(&conn, &[policy(30 * DAY)], now, &mut |_| Ok(()))?;
        assert_eq!(
            deleted,
            [Deleted {
                table: "t",
                rows: 1
            }]
        );
        let left: Vec<String> = conn
            .prepare("SELECT ts FROM t ORDER BY ts")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(left, [iso_from_ms(cut), iso_from_ms(cut + 1)]);
        assert_eq!(left[0], "2026-04-01T00:00:00.000Z");
        let forever = Policy {
            max_age_ms: None,
            ..policy(0)
        };
        let none = apply(&conn, &[forever], now, &mut |_| Ok(()))?;
        assert_eq!(
            none,
            [Deleted {
                table: "t",
                rows: 0
            }]
        );
        let count: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(count, 2);
        Ok(())
    }

    #[test]
    fn many_chunks_delete_every_expired_deletable_row_oldest_first() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let stamps: Vec<i64> = (0..5000).map(|i| i * 1000).collect();
        table(&conn, &stamps)?;
        let expired_deletable = (0..3000).filter(|i| i % 7 != 3).count() as u64;
        let mut seen = Vec::new();
        let deleted = apply(&conn, &[policy(2000 * 1000)], 5000 * 1000, &mut |p| {
            seen.push(*p);
            Ok(())
        })?;
        assert_eq!(deleted[0].rows, expired_deletable);
        assert!(seen.len() > 2, "{seen:?}");
        assert!(seen.iter().all(|p| p.total == expired_deletable));
        assert!(seen.windows(2).all(|w| w[0].deleted <= w[1].deleted));
        let (left, kept): (i64, i64) = conn.query_row(
            "SELECT count(*), sum(keep) FROM t WHERE ts < ?1",
            [iso_from_ms(3000 * 1000)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert_eq!(left, kept);
        Ok(())
    }

    #[test]
    fn an_error_of_the_report_stops_the_run_after_the_committed_chunks() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let stamps: Vec<i64> = (0..3000).collect();
        table(&conn, &stamps)?;
        let mut calls = 0;
        let err = apply(&conn, &[policy(0)], 10_000, &mut |_| {
            calls += 1;
            if calls == 2 {
                Err(super::super::Error::Cancelled)
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.code(), "ERR_CANCELLED");
        let oldest_left: String =
            conn.query_row("SELECT min(ts) FROM t WHERE keep = 0", [], |r| r.get(0))?;
        let deleted: i64 = conn.query_row("SELECT 3000 - count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(deleted, FIRST_CHUNK);
        assert!(oldest_left > iso_from_ms(FIRST_CHUNK), "{oldest_left}");
        assert!(conn.is_autocommit());
        Ok(())
    }
}
