//! Measurement only (bench/json.js): builds a JS value from JSON text in one of two ways.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value as Json;

use crate::js::{Js, Raw, Val};

fn build(js: Js, v: &Json) -> Result<Val> {
    match v {
        Json::Null => js.null(),
        Json::Bool(b) => js.boolean(*b),
        Json::Number(n) => js.number(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => js.string(s),
        Json::Array(items) => js.array(items.iter().map(|i| build(js, i))),
        Json::Object(map) => {
            let o = js.object_new()?;
            for (k, v) in map {
                js.set_named(o, k, build(js, v)?)?;
            }
            Ok(o)
        }
    }
}

/// `mode` 0: `JSON.parse` of the text; 1: serde_json then one Node-API call per value.
#[napi(js_name = "__jsonBench", skip_typescript)]
pub fn json_bench(env: Env, text: String, mode: u32) -> Result<Raw> {
    let js = Js(env.raw());
    if mode == 0 {
        return js.json(&text).map(Raw);
    }
    let v: Json = serde_json::from_str(&text).map_err(|e| Error::from_reason(e.to_string()))?;
    build(js, &v).map(Raw)
}
