//! Analytics: usage events (tokens, cost, duration) with their own timestamps, and their counts
//! and sums over a time range, per hour or per day (spec 37).

use rusqlite::params;

use super::{bad_timestamp, non_empty, not_negative, History};
use crate::engine::time::{ms_from_iso, now_iso};
use crate::engine::{json, Error, Result};

/// One event (a row of `analytics`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    pub id: i64,
    pub timestamp: String,
    pub event_type: String,
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cost: Option<f64>,
    pub duration_ms: Option<i64>,
    /// JSON text, or `None`.
    pub metadata: Option<String>,
}

/// What [`History::record_event`] records.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub event_type: String,
    /// ISO 8601 as `toISOString()` writes it; default now.
    pub timestamp: Option<String>,
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cost: Option<f64>,
    pub duration_ms: Option<i64>,
    /// JSON text.
    pub metadata: Option<String>,
}

/// The buckets of [`History::query_analytics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Hour,
    Day,
}

impl GroupBy {
    /// `hour` or `day`; `ERR_INVALID_ARG` otherwise.
    pub fn from_name(name: &str) -> Result<GroupBy> {
        match name {
            "hour" => Ok(GroupBy::Hour),
            "day" => Ok(GroupBy::Day),
            _ => Err(Error::InvalidArg(format!(
                "groupBy must be 'hour' or 'day', not '{name}'"
            ))),
        }
    }
}

/// Which events [`History::query_analytics`] counts, and how it groups them.
#[derive(Debug, Clone, Default)]
pub struct AnalyticsQuery {
    /// From this timestamp on (included); from the first event by default.
    pub from: Option<String>,
    /// Before this timestamp (excluded); to the last event by default.
    pub to: Option<String>,
    pub event_type: Option<String>,
    pub session_id: Option<String>,
    /// One bucket per UTC hour or day with events; one bucket for the whole range without.
    pub group_by: Option<GroupBy>,
}

/// The counts and sums of the events of one bucket.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bucket {
    /// The hour's or day's first instant (`2026-05-01T13:00:00.000Z`); `None` without grouping.
    pub start: Option<String>,
    pub count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost: f64,
    pub duration_ms: i64,
}

impl NewEvent {
    /// `ERR_INVALID_ARG` for an empty event type, a timestamp not in the one format, negative
    /// tokens or duration, a negative or non-finite cost; `ERR_INVALID_JSON` for metadata that is
    /// not one JSON value.
    pub fn validate(&self) -> Result<()> {
        non_empty("event.eventType", &self.event_type)?;
        if let Some(t) = &self.timestamp {
            if ms_from_iso(t).is_none() {
                return Err(bad_timestamp("event.timestamp", t));
            }
        }
        not_negative("event.promptTokens", self.prompt_tokens)?;
        not_negative("event.completionTokens", self.completion_tokens)?;
        not_negative("event.durationMs", self.duration_ms)?;
        if self.cost.is_some_and(|c| !c.is_finite() || c < 0.0) {
            return Err(Error::InvalidArg(
                "event.cost must be a finite number, not negative".into(),
            ));
        }
        if let Some(m) = &self.metadata {
            json::validate("event.metadata", m)?;
        }
        Ok(())
    }
}

impl History<'_> {
    /// Records an event at its own timestamp (now by default) and returns it.
    pub fn record_event(&self, e: &NewEvent) -> Result<Event> {
        e.validate()?;
        let timestamp = e.timestamp.clone().unwrap_or_else(now_iso);
        let id = self
            .conn()
            .prepare_cached(
                "INSERT INTO analytics (timestamp, event_type, session_id, model, prompt_tokens,
                   completion_tokens, cost, duration_ms, metadata_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            )?
            .query_row(
                params![
                    timestamp,
                    e.event_type,
                    e.session_id,
                    e.model,
                    e.prompt_tokens,
                    e.completion_tokens,
                    e.cost,
                    e.duration_ms,
                    e.metadata
                ],
                |r| r.get(0),
            )?;
        Ok(Event {
            id,
            timestamp,
            event_type: e.event_type.clone(),
            session_id: e.session_id.clone(),
            model: e.model.clone(),
            prompt_tokens: e.prompt_tokens,
            completion_tokens: e.completion_tokens,
            cost: e.cost,
            duration_ms: e.duration_ms,
            metadata: e.metadata.clone(),
        })
    }

    /// The count and the sums of tokens, cost and duration of the events in `[from, to)` (of
    /// one type, of one session, when given), per hour or day in time order, or as one bucket.
    /// A timestamp not in the one format is `ERR_INVALID_ARG`.
    pub fn query_analytics(&self, q: &AnalyticsQuery) -> Result<Vec<Bucket>> {
        for (field, t) in [("options.from", &q.from), ("options.to", &q.to)] {
            if let Some(t) = t {
                if ms_from_iso(t).is_none() {
                    return Err(bad_timestamp(field, t));
                }
            }
        }
        // Text of the one format sorts in time order, so a bucket is a prefix of it.
        let prefix = match q.group_by {
            None => 0,
            Some(GroupBy::Hour) => 13,
            Some(GroupBy::Day) => 10,
        };
        let mut stmt = self.conn().prepare_cached(
            "SELECT CASE ?5 WHEN 13 THEN substr(timestamp, 1, 13) || ':00:00.000Z'
                 WHEN 10 THEN substr(timestamp, 1, 10) || 'T00:00:00.000Z' END AS bucket,
               count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),
               coalesce(sum(cost), 0.0), coalesce(sum(duration_ms), 0)
             FROM analytics
             WHERE timestamp >= ?1 AND timestamp < ?2
               AND (?3 IS NULL OR event_type = ?3) AND (?4 IS NULL OR session_id = ?4)
             GROUP BY bucket ORDER BY bucket",
        )?;
        let rows = stmt.query_map(
            params![
                q.from.as_deref().unwrap_or(""),
                q.to.as_deref().unwrap_or("~"),
                q.event_type,
                q.session_id,
                prefix
            ],
            |r| {
                Ok(Bucket {
                    start: r.get(0)?,
                    count: r.get(1)?,
                    prompt_tokens: r.get(2)?,
                    completion_tokens: r.get(3)?,
                    cost: r.get(4)?,
                    duration_ms: r.get(5)?,
                })
            },
        )?;
        let mut buckets: Vec<Bucket> = rows.collect::<rusqlite::Result<_>>()?;
        if q.group_by.is_none() && buckets.is_empty() {
            buckets.push(Bucket::default());
        }
        Ok(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open;
    use super::super::HistoryConfig;
    use super::*;

    fn event(at: &str, kind: &str, session: &str, tokens: i64) -> NewEvent {
        NewEvent {
            event_type: kind.into(),
            timestamp: Some(at.into()),
            session_id: Some(session.into()),
            prompt_tokens: Some(tokens),
            completion_tokens: Some(1),
            cost: Some(0.25),
            duration_ms: Some(100),
            ..Default::default()
        }
    }

    #[test]
    fn events_are_counted_and_summed_per_hour_and_per_day_in_the_range() -> Result<()> {
        let (_dir, db) = open(HistoryConfig::default());
        let h = db.history()?;
        for (at, kind, session, tokens) in [
            ("2026-05-01T10:00:00.000Z", "message", "a", 10),
            ("2026-05-01T10:59:59.999Z", "message", "b", 20),
            ("2026-05-01T11:00:00.000Z", "tool", "a", 30),
            ("2026-05-02T00:00:00.000Z", "message", "a", 40),
        ] {
            h.record_event(&event(at, kind, session, tokens))?;
        }
        let q = |group_by, kind: Option<&str>, session: Option<&str>| AnalyticsQuery {
            from: Some("2026-05-01T10:00:00.000Z".into()),
            to: Some("2026-05-02T00:00:00.000Z".into()),
            event_type: kind.map(Into::into),
            session_id: session.map(Into::into),
            group_by,
        };
        let hours = h.query_analytics(&q(Some(GroupBy::Hour), None, None))?;
        let starts: Vec<_> = hours.iter().map(|b| b.start.clone().unwrap()).collect();
        assert_eq!(
            starts,
            ["2026-05-01T10:00:00.000Z", "2026-05-01T11:00:00.000Z"]
        );
        assert_eq!(
            hours[0],
            Bucket {
                start: Some(starts[0].clone()),
                count: 2,
                prompt_tokens: 30,
                completion_tokens: 2,
                cost: 0.5,
                duration_ms: 200
            }
        );
        let all = h.query_analytics(&AnalyticsQuery {
            group_by: Some(GroupBy::Day),
            ..Default::default()
        })?;
        let days: Vec<_> = all
            .iter()
            .map(|b| (b.start.clone().unwrap(), b.count))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-05-01T00:00:00.000Z".to_string(), 3),
                ("2026-05-02T00:00:00.000Z".to_string(), 1)
            ]
        );
        let total = h.query_analytics(&q(None, Some("message"), Some("a")))?;
        assert_eq!(
            (total.len(), total[0].count, total[0].prompt_tokens),
            (1, 1, 10)
        );
        assert_eq!(total[0].start, None);
        let none = h.query_analytics(&q(None, Some("nothing"), None))?;
        assert_eq!(none, [Bucket::default()]);
        assert!(h
            .query_analytics(&q(Some(GroupBy::Day), Some("nothing"), None))?
            .is_empty());
        let bad = AnalyticsQuery {
            from: Some("2026-05-01".into()),
            ..Default::default()
        };
        assert_eq!(
            h.query_analytics(&bad).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        Ok(())
    }

    #[test]
    fn an_event_is_stored_as_given_or_refused_whole() -> Result<()> {
        let (_dir, db) = open(HistoryConfig::default());
        let h = db.history()?;
        let now = h.record_event(&NewEvent {
            event_type: "session.created".into(),
            metadata: Some(r#"{"source":"cli"}"#.into()),
            ..Default::default()
        })?;
        assert_eq!(ms_from_iso(&now.timestamp).map(|_| ()), Some(()));
        assert_eq!(now.metadata.as_deref(), Some(r#"{"source":"cli"}"#));
        for (bad, code) in [
            (
                NewEvent {
                    timestamp: Some("2026-05-01T10:00:00Z".into()),
                    ..event("x", "m", "a", 1)
                },
                "ERR_INVALID_ARG",
            ),
            (
                NewEvent {
                    cost: Some(f64::NAN),
                    ..event("2026-05-01T10:00:00.000Z", "m", "a", 1)
                },
                "ERR_INVALID_ARG",
            ),
            (
                NewEvent {
                    metadata: Some("{".into()),
                    ..event("2026-05-01T10:00:00.000Z", "m", "a", 1)
                },
                "ERR_INVALID_JSON",
            ),
            (
                event("2026-05-01T10:00:00.000Z", "", "a", 1),
                "ERR_INVALID_ARG",
            ),
            (
                event("2026-05-01T10:00:00.000Z", "m", "a", -1),
                "ERR_INVALID_ARG",
            ),
        ] {
            assert_eq!(h.record_event(&bad).unwrap_err().code(), code);
        }
        let count: i64 = h
            .conn()
            .query_row("SELECT count(*) FROM analytics", [], |r| r.get(0))?;
        assert_eq!(count, 1);
        Ok(())
    }
}
