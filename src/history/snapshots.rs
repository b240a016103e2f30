//! `SnapshotStore` (`store.snapshots`): state snapshots under the size cap, starred ones kept.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::history::{ListSnapshots, NewSnapshot, Snapshot};

use super::with_history;
use crate::conversations::count;
use crate::handle::Handle;
use crate::js::{at, opt_options};
use crate::js::{Js, Raw, Val};

/// The sidepanel's state snapshots, newest first: `create` deletes the oldest unstarred ones
/// when the total would pass `options.history.maxSnapshotBytes` (100 MiB by default); starred
/// ones are never deleted. Timestamps are ISO 8601 text (`2026-05-01T12:00:00.000Z`).
#[napi]
pub struct SnapshotStore {
    pub(crate) handle: Handle,
}

fn snapshot_object(js: Js, s: &Snapshot) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "id", js.string(&s.id)?)?;
    js.set_named(o, "timestamp", js.string(&s.timestamp)?)?;
    js.set_named(o, "type", js.string(&s.kind)?)?;
    js.set_named(o, "trigger", js.json(&s.trigger)?)?;
    let description = crate::conversations::opt_string(js, s.description.as_deref())?;
    js.set_named(o, "description", description)?;
    js.set_named(o, "starred", js.boolean(s.starred)?)?;
    js.set_named(o, "sizeBytes", js.number(s.size_bytes as f64)?)?;
    if let Some(state) = &s.state {
        js.set_named(o, "state", js.json(state)?)?;
    }
    js.set_named(o, "summary", js.json(&s.summary)?)?;
    Ok(o)
}

/// `snapshot` of `create`.
fn snapshot_input(js: Js, v: Val) -> Result<NewSnapshot> {
    let f = "create";
    let o = js.object(v, at(f, "snapshot"))?;
    let json = |key: &str| js.json_text(js.get(o, key)?, at(f, &format!("snapshot.{key}")));
    Ok(NewSnapshot {
        kind: js.str(js.get(o, "type")?, at(f, "snapshot.type"))?,
        trigger: json("trigger")?,
        description: js.opt_str(js.get(o, "description")?, at(f, "snapshot.description"))?,
        state: json("state")?,
        summary: json("summary")?,
        starred: js
            .opt_bool(js.get(o, "starred")?, at(f, "snapshot.starred"))?
            .unwrap_or(false),
    })
}

#[napi]
impl SnapshotStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `SnapshotStore` is `openStore(path, { stores:
    /// ['history'] }).snapshots`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "SnapshotStore",
            "use openStore(path, { stores: ['history'] }).snapshots",
        ))
    }

    /// Records a snapshot, timestamped now, and returns it with its `sizeBytes` (the UTF-8 bytes
    /// of its state, summary, trigger and description as stored JSON and text). If the total
    /// would pass the cap, the oldest unstarred snapshots are deleted first, in the same
    /// transaction; starred ones never are, so when they alone pass the cap every unstarred one
    /// goes and `totalBytes()` stays above it. A snapshot larger than the cap by itself is
    /// `ERR_INVALID_ARG`; a `type` other than `'auto'`, `'manual'` or `'system'` too.
    #[napi(
        catch_unwind,
        ts_args_type = "snapshot: NewSnapshot",
        ts_return_type = "Snapshot"
    )]
    pub fn create(&self, env: Env, snapshot: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let input = snapshot_input(js, snapshot.raw())?;
        let s = with_history(&self.handle, js, |h| h.create_snapshot(&input))?;
        snapshot_object(js, &s).map(Raw)
    }

    /// The snapshot `id` with its `state`, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "Snapshot | null"
    )]
    pub fn get(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("get", "id"))?;
        match with_history(&self.handle, js, |h| h.get_snapshot(&id))? {
            Some(s) => snapshot_object(js, &s).map(Raw),
            None => js.null().map(Raw),
        }
    }

    /// Snapshots newest first, without their `state` (`get` has it): `starred: true`/`false`
    /// keeps only starred or unstarred ones (both by default); `limit` and `offset` page the
    /// list.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { starred?: boolean; limit?: number; offset?: number }",
        ts_return_type = "SnapshotSummary[]"
    )]
    pub fn list(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "list";
        let mut q = ListSnapshots::default();
        if let Some(o) = opt_options(js, options.raw(), f)? {
            q.starred = js.opt_bool(js.get(o, "starred")?, at(f, "options.starred"))?;
            q.limit = count(js, o, "limit", f, 0)?;
            q.offset = count(js, o, "offset", f, 0)?.unwrap_or(0);
        }
        let list = with_history(&self.handle, js, |h| h.list_snapshots(&q))?;
        js.array(list.iter().map(|s| snapshot_object(js, s)))
            .map(Raw)
    }

    /// Stars (`true`) or unstars (`false`) the snapshot: a starred one is never deleted by the
    /// cap or by retention. `ERR_NOT_FOUND` when there is no snapshot `id`.
    #[napi(catch_unwind, ts_args_type = "id: string, starred: boolean")]
    pub fn star(&self, env: Env, id: Unknown<'_>, starred: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let f = "star";
        let id = js.str(id.raw(), at(f, "id"))?;
        let v = starred.raw();
        let starred = js
            .opt_bool(v, at(f, "starred"))?
            .ok_or_else(|| js.type_error(at(f, "starred"), "a boolean", v))?;
        with_history(&self.handle, js, |h| h.star_snapshot(&id, starred))
    }

    /// Deletes the snapshot, starred or not. `ERR_NOT_FOUND` when there is no snapshot `id`.
    #[napi(catch_unwind, ts_args_type = "id: string")]
    pub fn delete(&self, env: Env, id: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("delete", "id"))?;
        with_history(&self.handle, js, |h| h.delete_snapshot(&id))
    }

    /// The snapshots' total `sizeBytes`, read from a running total kept in every write's
    /// transaction (no scan).
    #[napi(catch_unwind)]
    pub fn total_bytes(&self, env: Env) -> Result<f64> {
        with_history(&self.handle, Js(env.raw()), |h| h.total_snapshot_bytes()).map(|n| n as f64)
    }
}
