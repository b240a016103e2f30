//! `SnapshotStore`, `RecordingStore` and `AnalyticsStore`: the opencode sidepanel's history
//! (`store.snapshots`, `store.recordings`, `store.analytics`) and `openStore`'s
//! `options.history`. Objects are camelCase; JSON columns come back parsed.

mod analytics;
mod recordings;
mod snapshots;

use std::sync::Arc;

use napi::bindgen_prelude::*;
use stowage_core::engine::StoreConfig;
use stowage_core::history::{History, HistoryConfig, DAY_MS};

use crate::handle::Handle;
use crate::js::at;
use crate::js::{Js, Val};
use crate::stores::{member, Binding};

pub use analytics::AnalyticsStore;
pub use recordings::RecordingStore;
pub use snapshots::SnapshotStore;

/// The history store's binding: `options.history`, and `store.snapshots`, `store.recordings`
/// and `store.analytics`.
pub(crate) const BINDING: Binding = Binding {
    store: "history",
    config: Some(config),
    members: |env, handle| {
        let own = || handle.clone();
        Ok(vec![
            ("snapshots", member(env, SnapshotStore { handle: own() })?),
            ("recordings", member(env, RecordingStore { handle: own() })?),
            ("analytics", member(env, AnalyticsStore { handle: own() })?),
        ])
    },
};

/// `options.history`: `{ maxSnapshotBytes?, snapshotRetentionDays?, analyticsRetentionDays? }`,
/// each replacing its default.
fn config(js: Js, v: Val) -> Result<StoreConfig> {
    let f = "openStore";
    let o = js.object(v, at(f, "options.history"))?;
    let mut config = HistoryConfig::default();
    let arg = "options.history.maxSnapshotBytes";
    if let Some(cap) = js.opt_int(js.get(o, "maxSnapshotBytes")?, at(f, arg))? {
        if cap < 1 {
            return Err(js.range_error(at(f, arg), "must be at least 1"));
        }
        config.max_snapshot_bytes = cap;
    }
    for (key, slot) in [
        ("snapshotRetentionDays", &mut config.snapshot_max_age_ms),
        ("analyticsRetentionDays", &mut config.analytics_max_age_ms),
    ] {
        let arg = format!("options.history.{key}");
        if let Some(days) = js.opt_num(js.get(o, key)?, at(f, &arg))? {
            if days.is_nan() || days <= 0.0 {
                return Err(js.range_error(
                    at(f, &arg),
                    "must be a positive number of days (Infinity keeps rows forever)",
                ));
            }
            // `as` saturates: a number of days beyond the dates SQLite can hold keeps rows as
            // long as Infinity does.
            *slot = days
                .is_finite()
                .then(|| (days * DAY_MS as f64).round() as i64);
        }
    }
    Ok(Arc::new(config))
}

/// Runs `f` on the history store of `handle`'s file.
fn with_history<T>(
    handle: &Handle,
    js: Js,
    f: impl FnOnce(History<'_>) -> stowage_core::Result<T>,
) -> Result<T> {
    handle.with(js, |db| f(db.history()?))
}

/// The JS value of a JSON column's text, or `null`.
fn json_or_null(js: Js, text: Option<&str>) -> Result<Val> {
    text.map_or_else(|| js.null(), |t| js.json(t))
}

/// The most items a top-level array of a JSON field may have (a sparse array can claim
/// billions, which `JSON.stringify` would spend minutes writing as `null`s).
const MAX_ITEMS: u32 = 1 << 20;

/// The JSON text of the array `v` for the field `arg` of `f`: a TypeError for another value, a
/// RangeError for more than [`MAX_ITEMS`] items.
fn json_array_text(js: Js, v: Val, f: &str, arg: &str) -> Result<String> {
    if !js.is_array(v)? {
        return Err(js.type_error(at(f, arg), "an array", v));
    }
    let len = js.array_len(v)?;
    if len > MAX_ITEMS {
        return Err(js.range_error(
            at(f, arg),
            &format!("has {len} items; at most {MAX_ITEMS} are allowed"),
        ));
    }
    js.json_text(v, at(f, arg))
}

/// The JSON text of `v` for an optional JSON field: `None` for `null`/`undefined`.
fn opt_json_text(js: Js, v: Val, f: &str, arg: &str) -> Result<Option<String>> {
    if js.is_nullish(v)? {
        return Ok(None);
    }
    js.json_text(v, at(f, arg)).map(Some)
}
