//! Snapshots: the sidepanel's saved states, newest first, under a size cap that deletes the
//! oldest unstarred ones first (spec 64).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{missing, History};
use crate::engine::time::iso_from_ms;
use crate::engine::{json, now_ms, Error, Result};

/// The kinds of snapshot spec 37 names.
const SNAPSHOT_TYPES: [&str; 3] = ["auto", "manual", "system"];

/// One snapshot (a row of `snapshots`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub id: String,
    pub timestamp: String,
    /// `auto`, `manual` or `system` (the `type` column).
    pub kind: String,
    /// JSON text.
    pub trigger: String,
    pub description: Option<String>,
    pub starred: bool,
    pub size_bytes: i64,
    /// JSON text; `None` in [`History::list_snapshots`], which leaves the state out.
    pub state: Option<String>,
    /// JSON text.
    pub summary: String,
}

/// What [`History::create_snapshot`] records.
#[derive(Debug, Clone, Default)]
pub struct NewSnapshot {
    /// `auto`, `manual` or `system`.
    pub kind: String,
    /// JSON text.
    pub trigger: String,
    pub description: Option<String>,
    /// JSON text.
    pub state: String,
    /// JSON text.
    pub summary: String,
    pub starred: bool,
}

/// Which snapshots [`History::list_snapshots`] returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListSnapshots {
    /// Only starred (`Some(true)`) or only unstarred (`Some(false)`) ones; both by default.
    pub starred: Option<bool>,
    /// At most this many (all by default).
    pub limit: Option<i64>,
    /// Skipping this many first.
    pub offset: i64,
}

impl NewSnapshot {
    /// `ERR_INVALID_ARG` for a type other than the spec's three, `ERR_INVALID_JSON` for a
    /// trigger, state or summary that is not one JSON value.
    pub fn validate(&self) -> Result<()> {
        if !SNAPSHOT_TYPES.contains(&self.kind.as_str()) {
            return Err(Error::InvalidArg(format!(
                "snapshot.type must be 'auto', 'manual' or 'system', not '{}'",
                self.kind
            )));
        }
        json::validate("snapshot.trigger", &self.trigger)?;
        json::validate("snapshot.state", &self.state)?;
        json::validate("snapshot.summary", &self.summary)
    }

    /// The bytes the snapshot counts against the cap: its state, summary, trigger and
    /// description as stored (UTF-8).
    pub fn size_bytes(&self) -> i64 {
        let description = self.description.as_deref().map_or(0, str::len);
        (self.state.len() + self.summary.len() + self.trigger.len() + description) as i64
    }
}

/// The SQL of a new snapshot id: 32 lowercase hex digits, the first 12 the creation time in
/// milliseconds (`?9`), the rest random. Ids in time order keep the primary key's index writes
/// at its end, and the cap's deletions at its start: pages that stay cached however many
/// snapshots there are (random ids would touch a random page of the index for each).
const TIME_ORDERED_ID: &str = "printf('%012x', ?9) || lower(hex(randomblob(10)))";

const LIST_COLUMNS: &str =
    "id, timestamp, type, trigger, description, starred, size_bytes, summary_json";

impl History<'_> {
    /// Records a snapshot, timestamped now, and returns it. If the snapshots' total size would
    /// pass the cap ([`super::HistoryConfig::max_snapshot_bytes`]), the oldest unstarred
    /// snapshots are deleted first, oldest first, until it does not, in the same transaction.
    /// Starred snapshots are never deleted: when they alone (with the new one) pass the cap,
    /// every unstarred one goes and the total stays above the cap. A snapshot larger than the
    /// cap by itself is `ERR_INVALID_ARG`. The running total is read from `snapshot_usage`, so
    /// the cost does not grow with the number of snapshots.
    pub fn create_snapshot(&self, s: &NewSnapshot) -> Result<Snapshot> {
        s.validate()?;
        let size = s.size_bytes();
        let cap = self.config().max_snapshot_bytes;
        if size > cap {
            return Err(Error::InvalidArg(format!(
                "the snapshot is {size} bytes, more than the cap of {cap} bytes \
                 (options.history.maxSnapshotBytes)"
            )));
        }
        let ms = now_ms();
        let now = iso_from_ms(ms);
        let id = self.write(|c| {
            evict(c, total_on(c)? + size - cap)?;
            Ok(c.prepare_cached(&format!(
                "INSERT INTO snapshots (id, timestamp, type, trigger, description, starred,
                   size_bytes, state_json, summary_json, seq)
                 VALUES ({TIME_ORDERED_ID}, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                   (SELECT coalesce(max(seq), 0) + 1 FROM snapshots))
                 RETURNING id"
            ))?
            .query_row(
                params![
                    now,
                    s.kind,
                    s.trigger,
                    s.description,
                    s.starred,
                    size,
                    s.state,
                    s.summary,
                    ms
                ],
                |r| r.get::<_, String>(0),
            )?)
        })?;
        Ok(Snapshot {
            id,
            timestamp: now,
            kind: s.kind.clone(),
            trigger: s.trigger.clone(),
            description: s.description.clone(),
            starred: s.starred,
            size_bytes: size,
            state: Some(s.state.clone()),
            summary: s.summary.clone(),
        })
    }

    /// The snapshot `id` with its state, if there is one.
    pub fn get_snapshot(&self, id: &str) -> Result<Option<Snapshot>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {LIST_COLUMNS}, state_json FROM snapshots WHERE id = ?1"
            ))?
            .query_row([id], |r| {
                let mut s = snapshot_from_row(r)?;
                s.state = Some(r.get(8)?);
                Ok(s)
            })
            .optional()?)
    }

    /// Snapshots newest first, without their state.
    pub fn list_snapshots(&self, q: &ListSnapshots) -> Result<Vec<Snapshot>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {LIST_COLUMNS} FROM snapshots WHERE (?1 IS NULL OR starred = ?1)
             ORDER BY timestamp DESC, seq DESC LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = stmt.query_map(
            params![q.starred, q.limit.unwrap_or(-1), q.offset.max(0)],
            snapshot_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stars or unstars the snapshot. `ERR_NOT_FOUND` when there is no snapshot `id`.
    pub fn star_snapshot(&self, id: &str, starred: bool) -> Result<()> {
        let changed = self
            .conn()
            .prepare_cached("UPDATE snapshots SET starred = ?2 WHERE id = ?1")?
            .execute(params![id, starred])?;
        if changed == 0 {
            return Err(missing("snapshot", id));
        }
        Ok(())
    }

    /// Deletes the snapshot. `ERR_NOT_FOUND` when there is no snapshot `id`.
    pub fn delete_snapshot(&self, id: &str) -> Result<()> {
        let changed = self
            .conn()
            .prepare_cached("DELETE FROM snapshots WHERE id = ?1")?
            .execute([id])?;
        if changed == 0 {
            return Err(missing("snapshot", id));
        }
        Ok(())
    }

    /// The snapshots' total `size_bytes`, from the running total.
    pub fn total_snapshot_bytes(&self) -> Result<i64> {
        total_on(self.conn())
    }
}

fn total_on(c: &Connection) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT total_bytes FROM snapshot_usage WHERE id = 1")?
            .query_row([], |r| r.get(0))?,
    )
}

/// Deletes the oldest unstarred snapshots until `excess` bytes are freed (or none is left).
fn evict(c: &Connection, mut excess: i64) -> Result<()> {
    if excess <= 0 {
        return Ok(());
    }
    let mut victims = Vec::new();
    {
        let mut stmt = c.prepare_cached(
            "SELECT id, size_bytes FROM snapshots WHERE starred = 0 ORDER BY timestamp, seq",
        )?;
        let mut rows = stmt.query([])?;
        while excess > 0 {
            let Some(r) = rows.next()? else { break };
            victims.push(r.get::<_, String>(0)?);
            excess -= r.get::<_, i64>(1)?;
        }
    }
    let mut delete = c.prepare_cached("DELETE FROM snapshots WHERE id = ?1")?;
    for id in victims {
        delete.execute([id])?;
    }
    Ok(())
}

fn snapshot_from_row(r: &Row<'_>) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        id: r.get(0)?,
        timestamp: r.get(1)?,
        kind: r.get(2)?,
        trigger: r.get(3)?,
        description: r.get(4)?,
        starred: r.get::<_, i64>(5)? != 0,
        size_bytes: r.get(6)?,
        state: None,
        summary: r.get(7)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::open;
    use super::super::HistoryConfig;
    use super::*;

    /// An unstarred manual snapshot named `name` whose state pads its size to `bytes`.
    pub(crate) fn snapshot(name: &str, bytes: usize) -> NewSnapshot {
        let summary = format!("\"{name}\"");
        let trigger = "{}".to_string();
        let pad = bytes.saturating_sub(summary.len() + trigger.len() + 2);
        NewSnapshot {
            kind: "manual".into(),
            trigger,
            state: format!("\"{}\"", "x".repeat(pad)),
            summary,
            ..Default::default()
        }
    }

    fn names(h: &History<'_>) -> Result<Vec<String>> {
        Ok(h.list_snapshots(&ListSnapshots::default())?
            .into_iter()
            .map(|s| s.summary.trim_matches('"').to_string())
            .collect())
    }

    fn summed(h: &History<'_>) -> Result<i64> {
        Ok(h.conn().query_row(
            "SELECT coalesce(sum(size_bytes), 0) FROM snapshots",
            [],
            |r| r.get(0),
        )?)
    }

    #[test]
    fn the_cap_deletes_the_oldest_unstarred_first_and_never_a_starred_one() -> Result<()> {
        let (_dir, db) = open(HistoryConfig {
            max_snapshot_bytes: 1000,
            ..HistoryConfig::default()
        });
        let h = db.history()?;
        let mut ids = Vec::new();
        for name in ["a", "b", "c", "d"] {
            let s = h.create_snapshot(&snapshot(name, 250))?;
            assert_eq!(s.size_bytes, 250);
            ids.push(s.id);
        }
        assert_eq!(h.total_snapshot_bytes()?, 1000);
        h.star_snapshot(&ids[0], true)?;
        h.create_snapshot(&snapshot("e", 300))?;
        // a is starred, so b (250) and then c (250) go to make room for 300 bytes.
        assert_eq!(names(&h)?, ["e", "d", "a"]);
        assert_eq!(h.total_snapshot_bytes()?, 800);
        h.star_snapshot(&ids[3], true)?;
        let big = h.create_snapshot(&snapshot("f", 700))?;
        // e goes; a and d, starred, stay although the total passes the cap.
        assert_eq!(names(&h)?, ["f", "d", "a"]);
        assert_eq!(h.total_snapshot_bytes()?, 1200);
        assert_eq!(h.total_snapshot_bytes()?, summed(&h)?);
        assert_eq!(
            h.create_snapshot(&snapshot("g", 1001)).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        h.delete_snapshot(&big.id)?;
        assert_eq!(h.total_snapshot_bytes()?, 500);
        assert_eq!(
            h.delete_snapshot(&big.id).unwrap_err().code(),
            "ERR_NOT_FOUND"
        );
        assert_eq!(
            h.star_snapshot("nope", true).unwrap_err().code(),
            "ERR_NOT_FOUND"
        );
        Ok(())
    }

    #[test]
    fn a_snapshot_reads_back_whole_and_lists_newest_first_without_its_state() -> Result<()> {
        let (_dir, db) = open(HistoryConfig::default());
        let h = db.history()?;
        let made = h.create_snapshot(&NewSnapshot {
            kind: "auto".into(),
            trigger: r#"{"event":"session.created"}"#.into(),
            description: Some("é".into()),
            state: r#"{"balance":{"diem":12.5}}"#.into(),
            summary: "[1]".into(),
            starred: true,
        })?;
        assert_eq!(made.size_bytes, 25 + 3 + 27 + 2);
        assert_eq!(made.timestamp.len(), 24);
        let ms = crate::engine::time::ms_from_iso(&made.timestamp).unwrap();
        assert_eq!(made.id.len(), 32);
        assert_eq!(i64::from_str_radix(&made.id[..12], 16).ok(), Some(ms));
        assert!(made.id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(h.get_snapshot(&made.id)?.as_ref(), Some(&made));
        let second = h.create_snapshot(&snapshot("later", 10))?;
        let listed = h.list_snapshots(&ListSnapshots::default())?;
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, second.id);
        assert!(listed.iter().all(|s| s.state.is_none()));
        let starred = |v| ListSnapshots {
            starred: Some(v),
            ..Default::default()
        };
        assert_eq!(h.list_snapshots(&starred(true))?[0].id, made.id);
        assert_eq!(h.list_snapshots(&starred(false))?[0].id, second.id);
        let page = ListSnapshots {
            limit: Some(1),
            offset: 1,
            ..Default::default()
        };
        assert_eq!(h.list_snapshots(&page)?[0].id, made.id);
        assert!(h.get_snapshot("nope")?.is_none());
        for (bad, code) in [
            (
                NewSnapshot {
                    kind: "weekly".into(),
                    ..snapshot("x", 10)
                },
                "ERR_INVALID_ARG",
            ),
            (
                NewSnapshot {
                    state: "{".into(),
                    ..snapshot("x", 10)
                },
                "ERR_INVALID_JSON",
            ),
        ] {
            assert_eq!(h.create_snapshot(&bad).unwrap_err().code(), code);
        }
        assert_eq!(h.list_snapshots(&ListSnapshots::default())?.len(), 2);
        Ok(())
    }

    #[test]
    fn a_create_with_the_cap_engaged_reads_only_the_oldest_rows() -> Result<()> {
        let (_dir, db) = open(HistoryConfig {
            max_snapshot_bytes: 100 * 40,
            ..HistoryConfig::default()
        });
        let h = db.history()?;
        for i in 0..500 {
            h.create_snapshot(&snapshot(&format!("s{i}"), 40))?;
        }
        assert_eq!(h.list_snapshots(&ListSnapshots::default())?.len(), 100);
        assert_eq!(names(&h)?.last().unwrap(), "s400");
        assert_eq!(h.total_snapshot_bytes()?, summed(&h)?);
        let plan: Vec<String> = h
            .conn()
            .prepare(
                "EXPLAIN QUERY PLAN
                 SELECT id, size_bytes FROM snapshots WHERE starred = 0 ORDER BY timestamp, seq",
            )?
            .query_map([], |r| r.get(3))?
            .collect::<rusqlite::Result<_>>()?;
        let plan = plan.join("; ");
        assert!(plan.contains("idx_snapshots_starred"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        Ok(())
    }
}
