//! `SettingsStore` and `RecoveryStore`: the sidepanel's localStorage layer and its
//! crash-recovery slot on one open file (`store.settings`, `store.recovery`). Values are any
//! JSON value, stored as `JSON.stringify` writes it and returned parsed.

mod recovery;

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use stowage_core::engine::StoreConfig;
use stowage_core::settings::{Entry, Settings, SettingsConfig};

use crate::handle::Handle;
use crate::js::{at, At, Js, Raw, Val};
use crate::stores::{member, Binding};

pub use recovery::RecoveryStore;

/// The settings store's binding: `openStore`'s `options.settings`, and `store.settings` with
/// `store.recovery`.
pub(crate) const BINDING: Binding = Binding {
    store: "settings",
    config: Some(config),
    members: |env, handle| {
        Ok(vec![
            (
                "settings",
                member(
                    env,
                    SettingsStore {
                        handle: handle.clone(),
                    },
                )?,
            ),
            (
                "recovery",
                member(
                    env,
                    RecoveryStore {
                        handle: handle.clone(),
                    },
                )?,
            ),
        ])
    },
};

/// `options.settings`: `{ namespace?, maxBytes? }`.
fn config(js: Js, v: Val) -> Result<StoreConfig> {
    let f = "openStore";
    let o = js.object(v, at(f, "options.settings"))?;
    let namespace = js
        .opt_str(js.get(o, "namespace")?, at(f, "options.settings.namespace"))?
        .unwrap_or_default();
    let max_bytes = js.opt_int(js.get(o, "maxBytes")?, at(f, "options.settings.maxBytes"))?;
    if max_bytes.is_some_and(|n| n < 1) {
        return Err(js.range_error(at(f, "options.settings.maxBytes"), "must be at least 1"));
    }
    Ok(Arc::new(SettingsConfig {
        namespace,
        max_bytes,
    }))
}

/// A setting's key: a non-empty string.
fn key(js: Js, v: Val, at: At<'_>) -> Result<String> {
    if js.type_of(v)? == napi::sys::ValueType::napi_string {
        let k = js.str(v, at)?;
        if !k.is_empty() {
            return Ok(k);
        }
    }
    Err(js.type_error(at, "a non-empty string", v))
}

fn entry_object(js: Js, e: &Entry) -> Result<Val> {
    let o = js.object_new()?;
    js.set_named(o, "key", js.string(&e.key)?)?;
    js.set_named(o, "value", js.json(&e.value)?)?;
    js.set_named(o, "updatedAt", js.number(e.updated_at as f64)?)?;
    Ok(o)
}

/// The sidepanel's localStorage layer, durable: JSON values by key under the store's namespace
/// (`options.settings.namespace`, the spec's `'sidepanel.'`), with an optional quota
/// (`options.settings.maxBytes`). Keys are given and returned without the namespace.
#[napi]
pub struct SettingsStore {
    pub(crate) handle: Handle,
}

impl SettingsStore {
    fn run<T>(&self, js: Js, f: impl FnOnce(Settings<'_>) -> stowage_core::Result<T>) -> Result<T> {
        self.handle.with(js, |db| f(db.settings()?))
    }
}

#[napi]
impl SettingsStore {
    /// Throws `ERR_ILLEGAL_CONSTRUCTOR`: a `SettingsStore` is `openStore(path, { stores:
    /// ['settings'] }).settings`.
    #[napi(constructor, skip_typescript)]
    pub fn new(env: Env) -> Result<Self> {
        Err(Js(env.raw()).illegal_constructor(
            "SettingsStore",
            "use openStore(path, { stores: ['settings'] }).settings",
        ))
    }

    /// The value of `key` (parsed), or `defaultValue` (`undefined` when not given) when it is
    /// not set. A key that is not a non-empty string is a `TypeError`.
    #[napi(
        catch_unwind,
        ts_generic_types = "T = unknown",
        ts_args_type = "key: string, defaultValue?: T",
        ts_return_type = "T"
    )]
    pub fn get(&self, env: Env, key: Unknown<'_>, default_value: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let k = self::key(js, key.raw(), at("get", "key"))?;
        match self.run(js, |s| s.get(&k))? {
            Some(text) => js.json(&text).map(Raw),
            None => Ok(Raw(default_value.raw())),
        }
    }

    /// Sets `key` to `value`, stored as `JSON.stringify(value)`. A value JSON cannot hold
    /// (`undefined`, a function, a symbol, a BigInt, a cycle) is a `TypeError`, and nothing is
    /// written; `remove(key)` deletes a key. With `maxBytes`, a write that would take the
    /// namespace past it first trims every other `recent.*` list to its first 10 items, and is
    /// `ERR_QUOTA_EXCEEDED`, with the file left as it was, if it still does not fit.
    #[napi(catch_unwind, ts_args_type = "key: string, value: unknown")]
    pub fn set(&self, env: Env, key: Unknown<'_>, value: Unknown<'_>) -> Result<()> {
        let js = Js(env.raw());
        let k = self::key(js, key.raw(), at("set", "key"))?;
        let text = js.json_text(value.raw(), at("set", "value"))?;
        self.run(js, |s| s.set(&k, &text))
    }

    /// Deletes `key`; `true` when it was set.
    #[napi(catch_unwind, ts_args_type = "key: string")]
    pub fn remove(&self, env: Env, key: Unknown<'_>) -> Result<bool> {
        let js = Js(env.raw());
        let k = self::key(js, key.raw(), at("remove", "key"))?;
        self.run(js, |s| s.remove(&k))
    }

    /// The settings whose key starts with `prefix` (all by default), by key, each
    /// `{ key, value, updatedAt }` (`updatedAt` in milliseconds since the epoch).
    #[napi(
        catch_unwind,
        ts_args_type = "prefix?: string",
        ts_return_type = "SettingEntry[]"
    )]
    pub fn list(&self, env: Env, prefix: Unknown<'_>) -> Result<Raw> {
        let js = Js(env.raw());
        let prefix = js
            .opt_str(prefix.raw(), at("list", "prefix"))?
            .unwrap_or_default();
        let list = self.run(js, |s| s.list(&prefix))?;
        js.array(list.iter().map(|e| entry_object(js, e))).map(Raw)
    }

    /// Every setting of the namespace as one plain object, key to value, in key order: what
    /// `importAll` takes.
    #[napi(catch_unwind, ts_return_type = "Record<string, unknown>")]
    pub fn export_all(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        let text = self.run(js, |s| s.export_json())?;
        js.json(&text).map(Raw)
    }

    /// Sets every own enumerable key of `values` to its value, in one transaction (keys it does
    /// not name stay as they are), and returns how many were set. Every value is checked as
    /// `set` checks it (an empty key is `ERR_INVALID_ARG`) before anything is written; with
    /// `maxBytes` the quota applies to the whole import, written entirely or not at all.
    #[napi(catch_unwind, ts_args_type = "values: Record<string, unknown>")]
    pub fn import_all(&self, env: Env, values: Unknown<'_>) -> Result<u32> {
        let js = Js(env.raw());
        let f = "importAll";
        let o = js.object(values.raw(), at(f, "values"))?;
        let entries = js
            .own_keys(o, at(f, "values"))?
            .into_iter()
            .map(|k| {
                let arg = format!("values[{k:?}]");
                let text = js.json_text(js.get(o, &k)?, at(f, &arg))?;
                Ok((k, text))
            })
            .collect::<Result<Vec<_>>>()?;
        let n = self.run(js, |s| s.import(&entries))?;
        Ok(n as u32)
    }

    /// `{ bytes, maxBytes }`: what the namespace holds against its quota (the UTF-8 bytes of
    /// every key, namespace included, and of every value's JSON text) and the quota (`null`
    /// without one).
    #[napi(catch_unwind, ts_return_type = "SettingsUsage")]
    pub fn usage(&self, env: Env) -> Result<Raw> {
        let js = Js(env.raw());
        let u = self.run(js, |s| s.usage())?;
        let o = js.object_new()?;
        js.set_named(o, "bytes", js.number(u.bytes as f64)?)?;
        let max = u
            .max_bytes
            .map_or_else(|| js.null(), |n| js.number(n as f64))?;
        js.set_named(o, "maxBytes", max)?;
        Ok(Raw(o))
    }
}
