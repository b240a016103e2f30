//! `AnalyticsStore` (`store.analytics`): usage events and their counts and sums per hour or day.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::engine::time::iso_from_ms;
use stowage_core::history::{AnalyticsQuery, Bucket, Event, GroupBy, NewEvent};

use super::{json_or_null, opt_json_text, with_history};
use crate::conversations::{opt_number, opt_string};
use crate::handle::Handle;
use crate::js::{at, opt_options};
use crate::js::{Js, Raw, Val};

/// Usage events (tokens, cost, duration) at their own timestamps, kept 90 days by default
/// (`options.history.analyticsRetentionDays`), and their counts and sums per hour or per day.
#[napi]
pub struct AnalyticsStore {
    pub(crate) handle: Handle,
}

fn opt_int_value(js: Js, n: Option<i64>) -> Result<Val> {
    opt_number(js, n.map(|n| n as f64))
}

fn event_object(js: Js, e: &Event) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "id", js.number(e.id as f64)?)?;
    js.set_named(o, "timestamp", js.string(&e.timestamp)?)?;
    js.set_named(o, "eventType", js.string(&e.event_type)?)?;
    js.set_named(o, "sessionId", opt_string(js, e.session_id.as_deref())?)?;
    js.set_named(o, "model", opt_string(js, e.model.as_deref())?)?;
    js.set_named(o, "promptTokens", opt_int_value(js, e.prompt_tokens)?)?;
    js.set_named(
        o,
        "completionTokens",
        opt_int_value(js, e.completion_tokens)?,
    )?;
    js.set_named(o, "cost", opt_number(js, e.cost)?)?;
    js.set_named(o, "durationMs", opt_int_value(js, e.duration_ms)?)?;
    js.set_named(o, "metadata", json_or_null(js, e.metadata.as_deref())?)?;
    Ok(o)
}

fn bucket_object(js: Js, b: &Bucket) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "start", opt_string(js, b.start.as_deref())?)?;
    js.set_named(o, "count", js.number(b.count as f64)?)?;
    js.set_named(o, "promptTokens", js.number(b.prompt_tokens as f64)?)?;
    js.set_named(
        o,
        "completionTokens",
        js.number(b.completion_tokens as f64)?,
    )?;
    js.set_named(o, "cost", js.number(b.cost)?)?;
    js.set_named(o, "durationMs", js.number(b.duration_ms as f64)?)?;
    Ok(o)
}

/// The latest instant whose ISO text has a four-digit year (9999-12-31T23:59:59.999Z).
const MAX_ISO_MS: i64 = 253_402_300_799_999;
/// The earliest such instant (0000-01-01T00:00:00.000Z).
const MIN_ISO_MS: i64 = -62_167_219_200_000;

/// A time argument of `query`: ISO 8601 text, or milliseconds since the epoch (an integer whose
/// year is 0–9999), or `None` when absent.
fn time_arg(js: Js, v: Val, f: &str, arg: &str) -> Result<Option<String>> {
    if let Some(ms) = js.number_value(v) {
        if ms.fract() != 0.0 || !(MIN_ISO_MS as f64..=MAX_ISO_MS as f64).contains(&ms) {
            return Err(js.range_error(
                at(f, arg),
                "must be an integer number of milliseconds within the years 0 to 9999",
            ));
        }
        return Ok(Some(iso_from_ms(ms as i64)));
    }
    if js.is_nullish(v)? {
        return Ok(None);
    }
    if js.type_of(v)? != napi::sys::ValueType::napi_string {
        return Err(js.type_error(at(f, arg), "an ISO 8601 string or a number", v));
    }
    js.str(v, at(f, arg)).map(Some)
}

/// `event` of `record`.
fn event_input(js: Js, v: Val) -> Result<NewEvent> {
    let f = "record";
    let o = js.object(v, at(f, "event"))?;
    let arg = |key: &str| format!("event.{key}");
    let int = |key: &str| js.opt_int(js.get(o, key)?, at(f, &arg(key)));
    let text = |key: &str| js.opt_str(js.get(o, key)?, at(f, &arg(key)));
    Ok(NewEvent {
        event_type: js.str(js.get(o, "eventType")?, at(f, "event.eventType"))?,
        timestamp: text("timestamp")?,
        session_id: text("sessionId")?,
        model: text("model")?,
        prompt_tokens: int("promptTokens")?,
        completion_tokens: int("completionTokens")?,
        cost: js.opt_num(js.get(o, "cost")?, at(f, "event.cost"))?,
        duration_ms: int("durationMs")?,
        metadata: opt_json_text(js, js.get(o, "metadata")?, f, "event.metadata")?,
    })
}

#[napi]
impl AnalyticsStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: an `AnalyticsStore` is `openStore(path, { stores:
    /// ['history'] }).analytics`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "AnalyticsStore",
            "use openStore(path, { stores: ['history'] }).analytics",
        ))
    }

    /// Records an event at its own `timestamp` (ISO 8601 text as `toISOString()` writes it;
    /// default now) and returns it with its `id`. Tokens and `durationMs` are non-negative
    /// integers, `cost` a finite number, not negative; `metadata` any JSON value. Another
    /// timestamp format is `ERR_INVALID_ARG`.
    #[napi(
        catch_unwind,
        ts_args_type = "event: NewAnalyticsEvent",
        ts_return_type = "AnalyticsEvent"
    )]
    pub fn record(&self, env: Env, event: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let input = event_input(js, event.raw())?;
        let e = with_history(&self.handle, js, |h| h.record_event(&input))?;
        event_object(js, &e).map(Raw)
    }

    /// The count and the sums of `promptTokens`, `completionTokens`, `cost` and `durationMs` of
    /// the events from `from` (included) to `to` (excluded), each ISO 8601 text or epoch
    /// milliseconds (all events by default), of `eventType` and of `sessionId` when given.
    /// `groupBy: 'hour' | 'day'` gives one bucket per UTC hour or day that has events, in time
    /// order, `start` its first instant; without it, one bucket (`start: null`) for the range.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: AnalyticsQuery",
        ts_return_type = "AnalyticsBucket[]"
    )]
    pub fn query(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "query";
        let mut q = AnalyticsQuery::default();
        if let Some(o) = opt_options(js, options.raw(), f)? {
            q.from = time_arg(js, js.get(o, "from")?, f, "options.from")?;
            q.to = time_arg(js, js.get(o, "to")?, f, "options.to")?;
            q.event_type = js.opt_str(js.get(o, "eventType")?, at(f, "options.eventType"))?;
            q.session_id = js.opt_str(js.get(o, "sessionId")?, at(f, "options.sessionId"))?;
            q.group_by = js
                .opt_str(js.get(o, "groupBy")?, at(f, "options.groupBy"))?
                .map(|g| GroupBy::from_name(&g))
                .transpose()
                .map_err(|e| js.core(e))?;
        }
        let buckets = with_history(&self.handle, js, |h| h.query_analytics(&q))?;
        js.array(buckets.iter().map(|b| bucket_object(js, b)))
            .map(Raw)
    }
}
