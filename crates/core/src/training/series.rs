//! Chart series of long runs (`getRunSeries`): at most `max_points` buckets of a metric, each
//! with the exact count, min, max, sum, first and last step and last value of the rows in it,
//! at a cost that does not grow with the run's length.
//!
//! The summary (`metric_series_blocks`, see migration 0002) holds those aggregates per
//! power-of-two block of steps, at levels [`BASE_LEVEL`]..=[`TOP_LEVEL`]. It is folded at query
//! time from the rows added since the last fold, so writing metrics costs nothing extra. A query
//! picks the coarsest bucket width (a power of two) that gives at most `max_points` buckets; the
//! buckets inside the range are read as blocks of that level, and a bucket cut by the range's
//! ends is composed of smaller blocks plus at most `2^BASE_LEVEL` steps of raw rows at each end.
//! Narrow ranges (bucket width below `2^BASE_LEVEL`) are answered from the raw rows, of which
//! there are at most `max_points * 2^BASE_LEVEL` steps' worth.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::Training;
use crate::engine::{Error, Result};
use crate::training::METRIC_COLUMNS;

/// The metrics a series can be read for (the numeric columns of `metrics` other than `step`).
pub const SERIES_METRICS: &[&str] = METRIC_COLUMNS.split_at(1).1;

/// Smallest summarised block: 2^6 = 64 steps.
pub const BASE_LEVEL: i32 = 6;
/// Largest summarised block: 2^48 steps.
pub const TOP_LEVEL: i32 = 48;

/// Aggregates of the non-NULL values of some rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agg {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// Smallest step with a value.
    pub first_step: f64,
    /// Largest step with a value.
    pub last_step: f64,
    /// The value at `last_step` (of the last-inserted row among equal steps).
    pub last: f64,
    last_rowid: i64,
}

impl Agg {
    fn of(step: f64, value: f64, rowid: i64) -> Agg {
        Agg {
            count: 1,
            sum: value,
            min: value,
            max: value,
            first_step: step,
            last_step: step,
            last: value,
            last_rowid: rowid,
        }
    }

    fn merge(&mut self, o: &Agg) {
        let o_is_later = (o.last_step, o.last_rowid) > (self.last_step, self.last_rowid);
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.first_step = self.first_step.min(o.first_step);
        if o_is_later {
            self.last_step = o.last_step;
            self.last = o.last;
            self.last_rowid = o.last_rowid;
        }
    }

    /// `sum / count`.
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// Merges `o` into `acc` (`None` meaning no rows yet).
fn merge_into(acc: &mut Option<Agg>, o: Agg) {
    match acc {
        Some(a) => a.merge(&o),
        None => *acc = Some(o),
    }
}

/// Where to read a series and how finely.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesQuery {
    /// Most buckets returned (at least 1).
    pub max_points: usize,
    /// First step included (default: the run's first).
    pub from_step: Option<f64>,
    /// Last step included (default: the run's last).
    pub to_step: Option<f64>,
}

/// A series: the non-empty buckets in step order, each `bucket_size` steps wide (aligned to
/// multiples of it).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub bucket_size: f64,
    pub buckets: Vec<Agg>,
}

fn check_metric(metric: &str) -> Result<&'static str> {
    SERIES_METRICS
        .iter()
        .copied()
        .find(|m| *m == metric)
        .ok_or_else(|| {
            Error::InvalidArg(format!(
                "unknown metric '{metric}' (one of: {})",
                SERIES_METRICS.join(", ")
            ))
        })
}

fn pow2(k: i32) -> f64 {
    2f64.powi(k)
}

/// The block of `step` at `level`.
fn block_of(step: f64, level: i32) -> i64 {
    (step / pow2(level)).floor() as i64
}

/// A value when it is a number.
fn number(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        _ => None,
    }
}

/// A row's step and value when both are numbers (and the step finite).
fn numbers(step: ValueRef<'_>, value: ValueRef<'_>) -> Option<(f64, f64)> {
    Some((number(step).filter(|s| s.is_finite())?, number(value)?))
}

impl Training<'_> {
    /// `getRunSeries`: the buckets of `metric` for the run over the query's step range.
    pub fn run_series(&self, run_id: &str, metric: &str, q: &SeriesQuery) -> Result<Series> {
        let metric = check_metric(metric)?;
        if q.max_points == 0 {
            return Err(Error::InvalidArg("maxPoints must be at least 1".into()));
        }
        if self.db.is_read_only() {
            // The file cannot change under a read-only store (nobody has it open), so the
            // summary can be read as it is, when it holds every row.
            let c = self.conn();
            if !is_current(c, run_id, metric)? {
                return Err(Error::ReadOnly(format!(
                    "getRunSeries: the summary of '{metric}' for run '{run_id}' has rows still to \
                     fold in, which a store opened read-only cannot write; open the file writable \
                     once, or read a copy"
                )));
            }
            return query(c, run_id, metric, q);
        }
        // One write transaction: the fold and the reads see the same rows.
        self.db.write(|c| {
            fold(c, run_id, metric)?;
            query(c, run_id, metric, q)
        })
    }
}

/// Where the summary of a run's metric stands.
enum Mark {
    /// Never folded.
    Absent,
    /// Folded up to this rowid, which still holds the step it held then.
    At(i64),
    /// The row it was folded up to is gone or changed: the summary must be rebuilt.
    Stale,
}

fn mark(c: &Connection, run_id: &str, metric: &'static str) -> Result<Mark> {
    let state: Option<(i64, Option<f64>)> = c
        .prepare_cached("SELECT watermark, mark_step FROM metric_series_state WHERE run_id = ?1 AND metric = ?2")?
        .query_row(params![run_id, metric], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((w, step)) = state else {
        return Ok(Mark::Absent);
    };
    let still: Option<Option<f64>> = c
        .prepare_cached("SELECT step FROM metrics WHERE rowid = ?1 AND run_id = ?2")?
        .query_row(params![w, run_id], |r| Ok(number(r.get_ref(0)?)))
        .optional()?;
    Ok(if still == Some(step) {
        Mark::At(w)
    } else {
        Mark::Stale
    })
}

/// True when the summary holds every row of the run: [`fold`] would change nothing.
fn is_current(c: &Connection, run_id: &str, metric: &'static str) -> Result<bool> {
    let watermark = match mark(c, run_id, metric)? {
        Mark::Stale => return Ok(false),
        Mark::At(w) => w,
        Mark::Absent => 0,
    };
    let newer: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM metrics WHERE run_id = ?1 AND rowid > ?2)")?
        .query_row(params![run_id, watermark], |r| r.get(0))?;
    Ok(!newer)
}

/// Folds into the summary the rows of the run added since the last fold (all of them the first
/// time, or when the summary no longer matches the table).
pub(crate) fn fold(c: &Connection, run_id: &str, metric: &'static str) -> Result<()> {
    let watermark = match mark(c, run_id, metric)? {
        Mark::At(w) => w,
        Mark::Absent => 0,
        Mark::Stale => {
            c.prepare_cached("DELETE FROM metric_series_blocks WHERE run_id = ?1 AND metric = ?2")?
                .execute(params![run_id, metric])?;
            0
        }
    };
    let mut base: HashMap<i64, Agg> = HashMap::new();
    let mut mark: Option<(i64, Option<f64>)> = None;
    {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT rowid, step, {metric} FROM metrics WHERE run_id = ?1 AND rowid > ?2 ORDER BY rowid"
        ))?;
        let mut rows = stmt.query(params![run_id, watermark])?;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            let step = r.get_ref(1)?;
            mark = Some((rowid, number(step)));
            if let Some((s, v)) = numbers(step, r.get_ref(2)?) {
                let agg = Agg::of(s, v, rowid);
                base.entry(block_of(s, BASE_LEVEL))
                    .and_modify(|a| a.merge(&agg))
                    .or_insert(agg);
            }
        }
    }
    let Some((last_rowid, last_step)) = mark else {
        return Ok(());
    };
    let mut upsert = c.prepare_cached(
        "INSERT INTO metric_series_blocks
           (run_id, metric, level, block, n, sum, min, max, first_step, last_step, last, last_rowid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (run_id, metric, level, block) DO UPDATE SET
           n = n + excluded.n, sum = sum + excluded.sum,
           min = min(min, excluded.min), max = max(max, excluded.max),
           first_step = min(first_step, excluded.first_step),
           last = CASE WHEN (excluded.last_step, excluded.last_rowid) > (last_step, last_rowid)
                       THEN excluded.last ELSE last END,
           last_rowid = CASE WHEN (excluded.last_step, excluded.last_rowid) > (last_step, last_rowid)
                             THEN excluded.last_rowid ELSE last_rowid END,
           last_step = max(last_step, excluded.last_step)",
    )?;
    let mut level_blocks = base;
    for level in BASE_LEVEL..=TOP_LEVEL {
        let mut parents: HashMap<i64, Agg> = HashMap::new();
        for (block, a) in &level_blocks {
            upsert.execute(params![
                run_id,
                metric,
                level,
                block,
                a.count as i64,
                a.sum,
                a.min,
                a.max,
                a.first_step,
                a.last_step,
                a.last,
                a.last_rowid
            ])?;
            parents
                .entry(block.div_euclid(2))
                .and_modify(|p| p.merge(a))
                .or_insert(*a);
        }
        level_blocks = parents;
    }
    c.prepare_cached(
        "INSERT INTO metric_series_state (run_id, metric, watermark, mark_step) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (run_id, metric) DO UPDATE SET watermark = excluded.watermark, mark_step = excluded.mark_step",
    )?
    .execute(params![run_id, metric, last_rowid, last_step])?;
    Ok(())
}

fn read_block(
    c: &Connection,
    run_id: &str,
    metric: &str,
    level: i32,
    block: i64,
) -> Result<Option<Agg>> {
    Ok(c.prepare_cached(
        "SELECT n, sum, min, max, first_step, last_step, last, last_rowid FROM metric_series_blocks
         WHERE run_id = ?1 AND metric = ?2 AND level = ?3 AND block = ?4",
    )?
    .query_row(params![run_id, metric, level, block], |r| row_agg(r, 0))
    .optional()?)
}

/// The block aggregate in the eight columns of `r` from `at` on (n, sum, min, max, first_step,
/// last_step, last, last_rowid).
fn row_agg(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Agg> {
    Ok(Agg {
        count: u64::try_from(r.get::<_, i64>(at)?).unwrap_or(0),
        sum: r.get(at + 1)?,
        min: r.get(at + 2)?,
        max: r.get(at + 3)?,
        first_step: r.get(at + 4)?,
        last_step: r.get(at + 5)?,
        last: r.get(at + 6)?,
        last_rowid: r.get(at + 7)?,
    })
}

/// Raw rows with `lo <= step` and `step < hi` (or `<= hi` when `inclusive`), aggregated by the
/// bucket of width `2^level` they fall in.
fn raw_buckets(
    c: &Connection,
    run_id: &str,
    metric: &str,
    (lo, hi, inclusive): (f64, f64, bool),
    level: i32,
) -> Result<BTreeMap<i64, Agg>> {
    let op = if inclusive { "<=" } else { "<" };
    let mut stmt = c.prepare_cached(&format!(
        "SELECT rowid, step, {metric} FROM metrics
         WHERE run_id = ?1 AND step >= ?2 AND step {op} ?3 AND {metric} IS NOT NULL"
    ))?;
    let mut rows = stmt.query(params![run_id, lo, hi])?;
    let mut out: BTreeMap<i64, Agg> = BTreeMap::new();
    while let Some(r) = rows.next()? {
        if let Some((s, v)) = numbers(r.get_ref(1)?, r.get_ref(2)?) {
            let agg = Agg::of(s, v, r.get(0)?);
            out.entry(block_of(s, level))
                .and_modify(|a| a.merge(&agg))
                .or_insert(agg);
        }
    }
    Ok(out)
}

/// The aggregate of the rows with `lo <= step <= hi`, composed of summary blocks and the raw
/// rows at the two ends that no whole block covers.
fn aggregate(c: &Connection, run_id: &str, metric: &str, lo: f64, hi: f64) -> Result<Option<Agg>> {
    let base = pow2(BASE_LEVEL);
    let start = (lo / base).ceil() * base;
    let end = (hi / base).floor() * base;
    let mut acc = None;
    if start >= end {
        for a in raw_buckets(c, run_id, metric, (lo, hi, true), TOP_LEVEL)?.into_values() {
            merge_into(&mut acc, a);
        }
        return Ok(acc);
    }
    for a in raw_buckets(c, run_id, metric, (lo, start, false), TOP_LEVEL)?.into_values() {
        merge_into(&mut acc, a);
    }
    let mut cur = start;
    while cur < end {
        let level = (BASE_LEVEL..=TOP_LEVEL)
            .rev()
            .find(|&k| (cur / pow2(k)).fract() == 0.0 && cur + pow2(k) <= end)
            .unwrap_or(BASE_LEVEL);
        if let Some(a) = read_block(c, run_id, metric, level, block_of(cur, level))? {
            merge_into(&mut acc, a);
        }
        cur += pow2(level);
    }
    for a in raw_buckets(c, run_id, metric, (end, hi, true), TOP_LEVEL)?.into_values() {
        merge_into(&mut acc, a);
    }
    Ok(acc)
}

fn query(c: &Connection, run_id: &str, metric: &str, q: &SeriesQuery) -> Result<Series> {
    let extent: Option<(f64, f64)> = c
        .prepare_cached(
            "SELECT min(first_step), max(last_step) FROM metric_series_blocks
             WHERE run_id = ?1 AND metric = ?2 AND level = ?3",
        )?
        .query_row(params![run_id, metric, TOP_LEVEL], |r| {
            Ok(r.get::<_, Option<f64>>(0)?.zip(r.get::<_, Option<f64>>(1)?))
        })?;
    let empty = |k: i32| Series {
        bucket_size: pow2(k),
        buckets: Vec::new(),
    };
    let Some((first, last)) = extent else {
        return Ok(empty(0));
    };
    let lo = q.from_step.unwrap_or(first).max(first);
    let hi = q.to_step.unwrap_or(last).min(last);
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Ok(empty(0));
    }
    let count = |k: i32| (block_of(hi, k) - block_of(lo, k) + 1) as u128;
    let Some(level) = (0..=TOP_LEVEL).find(|&k| count(k) <= q.max_points as u128) else {
        return Err(Error::InvalidArg(format!(
            "the steps {lo}..{hi} are too far apart for {} points",
            q.max_points
        )));
    };
    if level < BASE_LEVEL {
        let buckets = raw_buckets(c, run_id, metric, (lo, hi, true), level)?;
        return Ok(Series {
            bucket_size: pow2(level),
            buckets: buckets.into_values().collect(),
        });
    }
    let width = pow2(level);
    let (b_lo, b_hi) = (block_of(lo, level), block_of(hi, level));
    // Buckets wholly inside [lo, hi] are blocks of `level`; the (at most two) cut by an end of
    // the range are composed.
    let whole = |b: i64| b as f64 * width >= lo && (b + 1) as f64 * width <= hi;
    let mut buckets: BTreeMap<i64, Agg> = BTreeMap::new();
    let (w_lo, w_hi) = (
        b_lo + i64::from(!whole(b_lo)),
        b_hi - i64::from(!whole(b_hi)),
    );
    if w_lo <= w_hi {
        let mut stmt = c.prepare_cached(
            "SELECT block, n, sum, min, max, first_step, last_step, last, last_rowid FROM metric_series_blocks
             WHERE run_id = ?1 AND metric = ?2 AND level = ?3 AND block BETWEEN ?4 AND ?5",
        )?;
        let mut rows = stmt.query(params![run_id, metric, level, w_lo, w_hi])?;
        while let Some(r) = rows.next()? {
            let block: i64 = r.get(0)?;
            buckets.insert(block, row_agg(r, 1)?);
        }
    }
    for b in [b_lo, b_hi] {
        if !whole(b) && !buckets.contains_key(&b) {
            let from = lo.max(b as f64 * width);
            let to = hi.min(((b + 1) as f64 * width).next_down());
            if let Some(a) = aggregate(c, run_id, metric, from, to)? {
                buckets.insert(b, a);
            }
        }
    }
    Ok(Series {
        bucket_size: width,
        buckets: buckets.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::testing::open;
    use crate::training::MetricInput;

    /// A deterministic pseudo-random sequence (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The buckets computed the slow way from getRunRows.
    fn brute(t: &Training<'_>, run: &str, metric: &str, q: &SeriesQuery, width: f64) -> Vec<Agg> {
        let rows = t.run_rows(run).unwrap();
        let (steps, values) = (
            rows.column("step").unwrap().to_f64s().unwrap(),
            rows.column(metric).unwrap().to_f64s().unwrap(),
        );
        let mut out: BTreeMap<i64, Agg> = BTreeMap::new();
        for (i, (&s, &v)) in steps.iter().zip(&values).enumerate() {
            let in_range = q.from_step.is_none_or(|f| s >= f) && q.to_step.is_none_or(|t| s <= t);
            if s.is_nan() || v.is_nan() || !in_range {
                continue;
            }
            // getRunRows order is step then insertion: the later row wins ties.
            let agg = Agg::of(s, v, i as i64);
            out.entry((s / width).floor() as i64)
                .and_modify(|a| a.merge(&agg))
                .or_insert(agg);
        }
        out.into_values().collect()
    }

    fn assert_same(got: &[Agg], want: &[Agg], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: bucket count");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let ctx = format!("{what}: bucket {i}");
            assert_eq!(
                (g.count, g.min, g.max, g.first_step, g.last_step, g.last),
                (w.count, w.min, w.max, w.first_step, w.last_step, w.last),
                "{ctx}"
            );
            assert!(
                (g.sum - w.sum).abs() <= 1e-9 * w.sum.abs().max(1.0),
                "{ctx}: sum {} vs {}",
                g.sum,
                w.sum
            );
        }
    }

    #[test]
    fn buckets_agree_exactly_with_the_rows_at_every_resolution_and_range() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut rows = Vec::new();
        for step in 0..5000i64 {
            let loss = (rng.below(10) > 0).then(|| (rng.below(1_000_000) as f64) / 1000.0 - 100.0);
            rows.push((
                "r".to_string(),
                MetricInput {
                    step: Some(step as f64),
                    loss,
                    ..Default::default()
                },
            ));
            if rng.below(50) == 0 {
                // A resumed run logs the same step again.
                rows.push((
                    "r".to_string(),
                    MetricInput {
                        step: Some(step as f64),
                        loss: Some(rng.below(100) as f64),
                        ..Default::default()
                    },
                ));
            }
        }
        rows.push((
            "r".to_string(),
            MetricInput {
                step: None,
                loss: Some(7.0),
                ..Default::default()
            },
        ));
        t.insert_metrics(&rows[..3000])?;
        t.insert_metrics(&[(
            "other".to_string(),
            MetricInput {
                step: Some(1.0),
                loss: Some(1.0),
                ..Default::default()
            },
        )])?;
        let queries = [
            SeriesQuery {
                max_points: 1000,
                from_step: None,
                to_step: None,
            },
            SeriesQuery {
                max_points: 7,
                from_step: None,
                to_step: None,
            },
            SeriesQuery {
                max_points: 1,
                from_step: None,
                to_step: None,
            },
            SeriesQuery {
                max_points: 100,
                from_step: Some(1234.0),
                to_step: Some(4321.5),
            },
            SeriesQuery {
                max_points: 300,
                from_step: Some(70.0),
                to_step: Some(130.0),
            },
            SeriesQuery {
                max_points: 10,
                from_step: Some(64.0),
                to_step: Some(191.0),
            },
            SeriesQuery {
                max_points: 50,
                from_step: Some(-100.0),
                to_step: Some(99999.0),
            },
            SeriesQuery {
                max_points: 50,
                from_step: Some(6000.0),
                to_step: None,
            },
        ];
        // Query, then add the rest (some out of order), and query again: the fold catches up.
        for phase in 0..2 {
            if phase == 1 {
                let mut rest = rows[3000..].to_vec();
                rest.reverse();
                t.insert_metrics(&rest)?;
                t.insert_metric(
                    "r",
                    &MetricInput {
                        step: Some(10.0),
                        loss: Some(-500.0),
                        ..Default::default()
                    },
                )?;
            }
            for q in &queries {
                let got = t.run_series("r", "loss", q)?;
                assert!(got.buckets.len() <= q.max_points);
                let want = brute(&t, "r", "loss", q, got.bucket_size);
                assert_same(
                    &got.buckets,
                    &want,
                    &format!("phase {phase} {q:?} width {}", got.bucket_size),
                );
            }
        }
        Ok(())
    }

    #[test]
    fn an_unknown_metric_or_zero_points_is_refused_and_an_empty_run_has_no_buckets() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let q = SeriesQuery {
            max_points: 10,
            from_step: None,
            to_step: None,
        };
        assert_eq!(
            t.run_series("r", "step", &q).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        assert_eq!(
            t.run_series("r", "loss; DROP TABLE x", &q)
                .unwrap_err()
                .code(),
            "ERR_INVALID_ARG"
        );
        assert_eq!(
            t.run_series("r", "loss", &SeriesQuery { max_points: 0, ..q })
                .unwrap_err()
                .code(),
            "ERR_INVALID_ARG"
        );
        assert!(t.run_series("nothing", "loss", &q)?.buckets.is_empty());
        Ok(())
    }

    #[test]
    fn a_summary_that_no_longer_matches_the_table_is_rebuilt() -> Result<()> {
        let (_d, db) = open();
        let t = db.training()?;
        let rows: Vec<_> = (0..500)
            .map(|s| {
                (
                    "r".to_string(),
                    MetricInput {
                        step: Some(s as f64),
                        loss: Some(s as f64),
                        ..Default::default()
                    },
                )
            })
            .collect();
        t.insert_metrics(&rows)?;
        let q = SeriesQuery {
            max_points: 4,
            from_step: None,
            to_step: None,
        };
        assert_eq!(
            t.run_series("r", "loss", &q)?
                .buckets
                .iter()
                .map(|b| b.count)
                .sum::<u64>(),
            500
        );
        // Rows deleted behind the summary's back (the row at the watermark among them).
        db.conn()
            .execute("DELETE FROM metrics WHERE step >= 400", [])?;
        let got = t.run_series("r", "loss", &q)?;
        assert_eq!(got.buckets.iter().map(|b| b.count).sum::<u64>(), 400);
        assert_eq!(got.buckets.last().unwrap().max, 399.0);
        Ok(())
    }

    #[test]
    fn the_summary_stays_exact_after_a_bundle_replaces_the_data() -> Result<()> {
        let rows = |run: &str, n: i64, offset: f64| -> Vec<(String, MetricInput)> {
            (0..n)
                .map(|s| {
                    (
                        run.to_string(),
                        MetricInput {
                            step: Some(s as f64),
                            loss: Some(s as f64 + offset),
                            ..Default::default()
                        },
                    )
                })
                .collect()
        };
        let q = SeriesQuery {
            max_points: 16,
            from_step: None,
            to_step: None,
        };
        let (_a, src) = open();
        src.training()?.insert_metrics(&rows("r", 3000, 0.5))?;
        src.training()?.run_series("r", "loss", &q)?;
        let tmp = tempfile::tempdir().unwrap();
        let bundle = tmp.path().join("b");
        src.training()?
            .export_bundle(&bundle, Default::default(), &mut |_| Ok(()))?;

        // The destination has its own rows and summary, with other rowids.
        let (_b, dst) = open();
        let t = dst.training()?;
        t.insert_metrics(&rows("other", 777, 0.0))?;
        t.insert_metrics(&rows("r", 50, 1000.0))?;
        t.run_series("r", "loss", &q)?;
        t.load_bundle(&bundle, &mut |_| Ok(()))?;
        for phase in 0..2 {
            let got = t.run_series("r", "loss", &q)?;
            assert_same(
                &got.buckets,
                &brute(&t, "r", "loss", &q, got.bucket_size),
                &format!("after load, phase {phase}"),
            );
            t.insert_metrics(&rows("r", 100, -7.0))?;
        }
        Ok(())
    }
}
