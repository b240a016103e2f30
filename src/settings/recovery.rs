//! `RecoveryStore`: the crash-recovery slot (`store.recovery`). Its `autosave` is JS
//! (`recovery.js`): timers and the exit hook live there, every save comes here.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::settings::{Recovery, DEFAULT_MAX_AGE_MS};

use crate::handle::Handle;
use crate::js::{At, Js, Raw};

/// The crash-recovery slot of the settings store (the sidepanel's `crash.recovery`): one JSON
/// state per namespace, saved only when it changed, offered back by `check` while it is fresh.
#[napi]
pub struct RecoveryStore {
    pub(crate) handle: Handle,
}

impl RecoveryStore {
    fn run<T>(&self, js: Js, f: impl FnOnce(Recovery<'_>) -> stowage_core::Result<T>) -> Result<T> {
        self.handle.with(js, |db| f(db.recovery()?))
    }
}

#[napi]
impl RecoveryStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `RecoveryStore` is `openStore(path, { stores:
    /// ['settings'] }).recovery`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "RecoveryStore",
            "use openStore(path, { stores: ['settings'] }).recovery",
        ))
    }

    /// Saves `state` as `JSON.stringify(state)` unless that is the text saved already; `true`
    /// when it was written (so `savedAt` is when the state last changed). Once it returns, the
    /// state survives a killed process. A state JSON cannot hold is a `TypeError`.
    #[napi(catch_unwind, ts_args_type = "state: unknown")]
    pub fn save(&self, env: Env, state: Unknown<'_>) -> Result<bool> {
        let js = Js(env.raw());
        let text = js.json_text(
            state.raw(),
            At {
                func: "save",
                arg: "state",
            },
        )?;
        self.run(js, |r| r.save(&text))
    }

    /// The saved state as `{ state, savedAt }` (`savedAt` in milliseconds since the epoch), if
    /// it is at most `maxAgeMs` old (default 30 minutes); a staler one is deleted and `null`
    /// returned. A fresh one stays until `clear()`.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { maxAgeMs?: number }",
        ts_return_type = "RecoveredState | null"
    )]
    pub fn check(&self, env: Env, options: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let mut max_age = DEFAULT_MAX_AGE_MS;
        if !js.is_nullish(options.raw())? {
            let arg = At {
                func: "check",
                arg: "options.maxAgeMs",
            };
            let o = js.object(
                options.raw(),
                At {
                    func: "check",
                    arg: "options",
                },
            )?;
            if let Some(ms) = js.opt_int(js.get(o, "maxAgeMs")?, arg)? {
                if ms < 0 {
                    return Err(js.range_error(arg, "must be at least 0"));
                }
                max_age = ms;
            }
        }
        match self.run(js, |r| r.check(max_age))? {
            None => js.null().map(Raw),
            Some(saved) => {
                let o = js.object_new()?;
                js.set_named(o, "state", js.json(&saved.state)?)?;
                js.set_named(o, "savedAt", js.number(saved.saved_at as f64)?)?;
                Ok(Raw(o))
            }
        }
    }

    /// Deletes the saved state (after the user has decided about it); `true` when there was
    /// one.
    #[napi(catch_unwind)]
    pub fn clear(&self, env: Env) -> Result<bool> {
        let js = Js(env.raw());
        self.run(js, |r| r.clear())
    }
}
