//! Rotation of a folder of backups: keep the newest backup of each of the last N days, weeks and
//! months that have one (the grandfather-father-son scheme), delete the rest.
//!
//! A file takes part only when its name holds its date and its content is a backup (a SQLite
//! database, plain or gzipped): the live database, its sidecars, notes and anything else in the
//! folder are never touched. The date is read from the name, not the file's modification time,
//! which a copy or a restore from elsewhere would change.

use std::path::{Path, PathBuf};

use super::backup::is_backup;
use super::time::{civil_from_ms, ms_from_civil};
use super::{Error, Result};

/// How many days, weeks and months keep a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Keep {
    /// 7 daily, 4 weekly, 12 monthly.
    fn default() -> Self {
        Keep {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

/// What [`rotate`] kept and deleted, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotated {
    pub kept: Vec<PathBuf>,
    pub deleted: Vec<PathBuf>,
}

/// Rotates the backups in `dir` (not its subfolders). Going from the newest backup to the
/// oldest, a backup is kept when it is the newest of a day (UTC) among the `keep.daily` newest
/// days that have a backup, or the newest of such a week (Monday to Sunday) or month; every
/// other backup is deleted, unless `dry_run`. The newest backup is always kept. Backups of the
/// same instant are ordered by name.
pub fn rotate(dir: &Path, keep: Keep, dry_run: bool) -> Result<Rotated> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| Error::io("inspect", &path, e))?;
        let Some(at) = entry.file_name().to_str().and_then(date_in_name) else {
            continue;
        };
        if file_type.is_file() && !is_hidden(&path) && is_backup(&path)? {
            backups.push((at, path));
        }
    }
    backups.sort_by(|a, b| b.cmp(a));
    let rules: [(u32, Bucket); 3] = [
        (keep.daily, day_of),
        (keep.weekly, week_of),
        (keep.monthly, month_of),
    ];
    let mut left: Vec<u32> = rules.iter().map(|r| r.0).collect();
    let mut last: Vec<Option<i64>> = vec![None; rules.len()];
    let mut out = Rotated::default();
    for (i, (at, path)) in backups.into_iter().enumerate() {
        let mut kept = i == 0;
        for (r, (_, bucket_of)) in rules.iter().enumerate() {
            let bucket = bucket_of(at);
            if last[r] != Some(bucket) && left[r] > 0 {
                left[r] -= 1;
                last[r] = Some(bucket);
                kept = true;
            }
        }
        if kept {
            out.kept.push(path);
        } else {
            if !dry_run {
                std::fs::remove_file(&path).map_err(|e| Error::io("delete", &path, e))?;
            }
            out.deleted.push(path);
        }
    }
    Ok(out)
}

/// The number of the day, week or month an instant falls in.
type Bucket = fn(i64) -> i64;

/// Work files of a backup in progress start with a dot.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The instant (ms since the epoch, UTC) of the first date in `name`: `YYYY-MM-DD`, optionally
/// followed by `T`, `_`, `-` or a space and a time `HH:MM[:SS[.mmm]]` whose colons may be
/// dashes or absent (`2026-12-01T10-30-00.000Z`, as `toISOString()` with the colons replaced,
/// `2026-12-01_1030`). `None` when the name holds no valid date.
pub fn date_in_name(name: &str) -> Option<i64> {
    let b = name.as_bytes();
    (0..b.len()).find_map(|i| parse_at(&b[i..]))
}

fn parse_at(b: &[u8]) -> Option<i64> {
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let time = parse_time(&b[10..]).unwrap_or((0, 0, 0, 0));
    ms_from_civil(year, month, day, time)
}

/// A time of day after a date: a separator, `HH`, then `MM`, `SS` and `.mmm`, each optional
/// after the first and each after an optional `:` or `-`.
fn parse_time(b: &[u8]) -> Option<(i64, i64, i64, i64)> {
    if !matches!(b.first(), Some(b'T' | b'_' | b'-' | b' ')) {
        return None;
    }
    let mut at = 1;
    let two = |at: &mut usize, sep: bool| -> Option<i64> {
        let mut i = *at;
        if sep && matches!(b.get(i), Some(b':' | b'-')) {
            i += 1;
        }
        let (h, l) = (*b.get(i)?, *b.get(i + 1)?);
        if !(h.is_ascii_digit() && l.is_ascii_digit()) {
            return None;
        }
        *at = i + 2;
        Some(i64::from(h - b'0') * 10 + i64::from(l - b'0'))
    };
    let hour = two(&mut at, false)?;
    let minute = two(&mut at, true)?;
    let second = two(&mut at, true).unwrap_or(0);
    let milli = match (b.get(at), b.get(at + 1..at + 4)) {
        (Some(b'.'), Some(ms)) if ms.iter().all(u8::is_ascii_digit) => ms
            .iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0')),
        _ => 0,
    };
    Some((hour, minute, second, milli))
}

/// The day number (UTC) of `ms`.
fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

/// The number of the week (Monday to Sunday) of `ms`: 1970-01-01 was a Thursday.
fn week_of(ms: i64) -> i64 {
    (day_of(ms) + 3).div_euclid(7)
}

/// The number of the month (UTC) of `ms`.
fn month_of(ms: i64) -> i64 {
    let (year, month, _) = civil_from_ms(ms);
    year * 12 + month
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_from_names_in_the_usual_spellings() {
        let at = |y, mo, d, h, mi, s, ms| ms_from_civil(y, mo, d, (h, mi, s, ms)).unwrap();
        assert_eq!(
            date_in_name("runs-2026-12-01T10-30-05.123Z.sqlite.gz"),
            Some(at(2026, 12, 1, 10, 30, 5, 123))
        );
        assert_eq!(
            date_in_name("runs 2026-12-01 10:30.sqlite"),
            Some(at(2026, 12, 1, 10, 30, 0, 0))
        );
        assert_eq!(
            date_in_name("nightly_2026-02-28_2359.db"),
            Some(at(2026, 2, 28, 23, 59, 0, 0))
        );
        assert_eq!(
            date_in_name("2026-03-01.sqlite"),
            Some(at(2026, 3, 1, 0, 0, 0, 0))
        );
        assert_eq!(date_in_name("v1-2026-02-30.sqlite"), None);
        assert_eq!(date_in_name("runs.sqlite"), None);
        assert_eq!(date_in_name("12026-1-01"), None);
    }

    #[test]
    fn weeks_run_from_monday_to_sunday() {
        let day = |d| ms_from_civil(2026, 11, d, (12, 0, 0, 0)).unwrap();
        // 2026-11-30 is a Monday.
        assert_ne!(week_of(day(29)), week_of(day(30)));
        assert_eq!(week_of(day(23)), week_of(day(29)));
        assert_eq!(month_of(day(30)) + 1, month_of(day(30) + 86_400_000));
    }

    fn sqlite_file(path: &Path) {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("CREATE TABLE t(x)").unwrap();
        c.close().unwrap();
    }

    #[test]
    fn keeps_the_newest_of_each_day_week_and_month_and_touches_nothing_else() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let mut names = Vec::new();
        // Two backups a day, for 100 days back from Tuesday 2026-12-01.
        let end = ms_from_civil(2026, 12, 1, (0, 0, 0, 0)).unwrap();
        for back in 0..100 {
            for hour in ["03", "15"] {
                let (y, m, d) = civil_from_ms(end - back * 86_400_000);
                let name = format!("runs-{y:04}-{m:02}-{d:02}T{hour}-00-00.000Z.sqlite");
                sqlite_file(&dir.path().join(&name));
                names.push(name);
            }
        }
        for other in ["runs.sqlite", "notes-2026-12-01.txt", "README"] {
            std::fs::write(dir.path().join(other), b"not a backup").unwrap();
        }
        sqlite_file(&dir.path().join("live.sqlite"));
        let keep = Keep {
            daily: 3,
            weekly: 3,
            monthly: 3,
        };
        let dry = rotate(dir.path(), keep, true)?;
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 204);
        let done = rotate(dir.path(), keep, false)?;
        assert_eq!(done, dry);
        let base = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            done.kept.iter().map(base).collect::<Vec<_>>(),
            [
                // The three newest days.
                "runs-2026-12-01T15-00-00.000Z.sqlite",
                "runs-2026-11-30T15-00-00.000Z.sqlite",
                "runs-2026-11-29T15-00-00.000Z.sqlite",
                // Weeks: this one (from Monday 30th) and the one before (to Sunday 29th) are
                // taken; then the newest of the week of the 16th to the 22nd.
                "runs-2026-11-22T15-00-00.000Z.sqlite",
                // Months: December (1st), November (30th) are taken; then October's newest.
                "runs-2026-10-31T15-00-00.000Z.sqlite",
            ]
        );
        assert_eq!(done.deleted.len(), 200 - 5);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 5 + 4);
        for other in [
            "runs.sqlite",
            "notes-2026-12-01.txt",
            "README",
            "live.sqlite",
        ] {
            assert!(left.iter().any(|n| n == other), "{other} was deleted");
        }
        assert_eq!(rotate(dir.path(), keep, false)?.deleted.len(), 0);
        Ok(())
    }

    #[test]
    fn the_newest_backup_stays_even_when_nothing_is_kept() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        for d in ["2026-01-01", "2026-01-02"] {
            sqlite_file(&dir.path().join(format!("b-{d}.sqlite")));
        }
        let none = Keep {
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let r = rotate(dir.path(), none, false)?;
        assert_eq!(r.kept, [dir.path().join("b-2026-01-02.sqlite")]);
        assert_eq!(r.deleted, [dir.path().join("b-2026-01-01.sqlite")]);
        Ok(())
    }
}
