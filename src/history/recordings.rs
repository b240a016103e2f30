//! `RecordingStore` (`store.recordings`): a session's recorded events, kept until deleted.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::history::{NewRecording, Recording};

use super::{json_array_text, json_or_null, opt_json_text, with_history};
use crate::handle::Handle;
use crate::js::{at, opt_options};
use crate::js::{Js, Raw, Val};

/// Session recordings: their events (a JSON array), snapshot references and metadata, kept
/// until deleted (retention leaves them).
#[napi]
pub struct RecordingStore {
    pub(crate) handle: Handle,
}

fn recording_object(js: Js, r: &Recording) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "id", js.string(&r.id)?)?;
    js.set_named(o, "sessionId", js.string(&r.session_id)?)?;
    js.set_named(o, "title", js.string(&r.title)?)?;
    js.set_named(o, "createdAt", js.string(&r.created_at)?)?;
    js.set_named(o, "duration", js.number(r.duration as f64)?)?;
    if let Some(events) = &r.events {
        js.set_named(o, "events", js.json(events)?)?;
    }
    js.set_named(o, "snapshots", json_or_null(js, r.snapshots.as_deref())?)?;
    js.set_named(o, "metadata", json_or_null(js, r.metadata.as_deref())?)?;
    Ok(o)
}

/// `recording` of `create`.
fn recording_input(js: Js, v: Val) -> Result<NewRecording> {
    let f = "create";
    let o = js.object(v, at(f, "recording"))?;
    let duration = js.get(o, "duration")?;
    let snapshots = js.get(o, "snapshots")?;
    Ok(NewRecording {
        session_id: js.str(js.get(o, "sessionId")?, at(f, "recording.sessionId"))?,
        title: js.str(js.get(o, "title")?, at(f, "recording.title"))?,
        duration: js
            .opt_int(duration, at(f, "recording.duration"))?
            .ok_or_else(|| js.type_error(at(f, "recording.duration"), "an integer", duration))?,
        events: json_array_text(js, js.get(o, "events")?, f, "recording.events")?,
        snapshots: if js.is_nullish(snapshots)? {
            None
        } else {
            Some(json_array_text(js, snapshots, f, "recording.snapshots")?)
        },
        metadata: opt_json_text(js, js.get(o, "metadata")?, f, "recording.metadata")?,
    })
}

#[napi]
impl RecordingStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `RecordingStore` is `openStore(path, { stores:
    /// ['history'] }).recordings`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "RecordingStore",
            "use openStore(path, { stores: ['history'] }).recordings",
        ))
    }

    /// Records a recording, created now, and returns it. `events` and `snapshots` are arrays
    /// (at most 1,048,576 items each), `metadata` any JSON value; `duration` (milliseconds) is
    /// a non-negative integer and `sessionId` and `title` are not empty (`ERR_INVALID_ARG`).
    #[napi(
        catch_unwind,
        ts_args_type = "recording: NewRecording",
        ts_return_type = "Recording"
    )]
    pub fn create(&self, env: Env, recording: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let input = recording_input(js, recording.raw())?;
        let r = with_history(&self.handle, js, |h| h.create_recording(&input))?;
        recording_object(js, &r).map(Raw)
    }

    /// The recording `id` with its `events`, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "Recording | null"
    )]
    pub fn get(&self, env: Env, id: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("get", "id"))?;
        match with_history(&self.handle, js, |h| h.get_recording(&id))? {
            Some(r) => recording_object(js, &r).map(Raw),
            None => js.null().map(Raw),
        }
    }

    /// Recordings newest first, without their `events` (`get` has them); only those of
    /// `sessionId` when given.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { sessionId?: string }",
        ts_return_type = "RecordingSummary[]"
    )]
    pub fn list(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let f = "list";
        let mut session = None;
        if let Some(o) = opt_options(js, options.raw(), f)? {
            session = js.opt_str(js.get(o, "sessionId")?, at(f, "options.sessionId"))?;
        }
        let list = with_history(&self.handle, js, |h| h.list_recordings(session.as_deref()))?;
        js.array(list.iter().map(|r| recording_object(js, r)))
            .map(Raw)
    }

    /// Deletes the recording. `ERR_NOT_FOUND` when there is no recording `id`.
    #[napi(catch_unwind, ts_args_type = "id: string")]
    pub fn delete(&self, env: Env, id: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let id = js.str(id.raw(), at("delete", "id"))?;
        with_history(&self.handle, js, |h| h.delete_recording(&id))
    }
}
