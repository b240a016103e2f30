//! `bundle.json`: writing the original's layout and validating what is read.
//!
//! Written (manifest `1.1`): pretty-printed with two spaces, no trailing newline, keys in the
//! order `schema_version`, `sqlite`, `checkpoints`, `final_models`, paths relative with `/`.
//! Read: `1.0` (no `final_models`) and `1.1`, or any later `1.x`; every field that is present
//! must have the right type, and the file must be a JSON object.

use serde_json::{Map, Value as Json};

use crate::engine::{Error, Result};

/// The manifest version stowage writes.
pub const WRITTEN_VERSION: &str = "1.1";

/// The database file name inside a bundle (the original ignores the manifest's `sqlite` field
/// and always reads this name; so does stowage).
pub const SQLITE_FILE: &str = "runs.sqlite";

/// A parsed or to-be-written manifest. Entries keep their order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub schema_version: String,
    /// `(ckpt_id, relative path)`.
    pub checkpoints: Vec<(String, String)>,
    /// `(session_id, relative path)`; entries whose path was falsy in the file are dropped.
    pub final_models: Vec<(String, String)>,
}

/// Largest `bundle.json` accepted, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

fn invalid(message: String) -> Error {
    Error::bundle("ERR_BUNDLE_MANIFEST", message)
}

impl Manifest {
    /// The JSON text, formatted like the original's `JSON.stringify(manifest, null, 2)`.
    pub fn to_json(&self) -> String {
        let entries = |items: &[(String, String)]| {
            Json::Object(
                items
                    .iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect(),
            )
        };
        let mut m = Map::new();
        m.insert(
            "schema_version".into(),
            Json::String(self.schema_version.clone()),
        );
        m.insert("sqlite".into(), Json::String(SQLITE_FILE.into()));
        m.insert("checkpoints".into(), entries(&self.checkpoints));
        m.insert("final_models".into(), entries(&self.final_models));
        serde_json::to_string_pretty(&Json::Object(m)).unwrap_or_default()
    }

    /// Parses and type-checks a manifest.
    pub fn parse(text: &str) -> Result<Manifest> {
        let json: Json = serde_json::from_str(text)
            .map_err(|e| invalid(format!("bundle.json is not valid JSON: {e}")))?;
        let Json::Object(obj) = json else {
            return Err(invalid(format!(
                "bundle.json must hold a JSON object, not {}",
                kind(&json)
            )));
        };
        let schema_version = match obj.get("schema_version") {
            None => "1.0".to_string(),
            Some(Json::String(v)) => v.clone(),
            Some(other) => {
                return Err(invalid(format!(
                    "schema_version must be a string, not {}",
                    kind(other)
                )))
            }
        };
        if schema_version.split('.').next() != Some("1") {
            return Err(Error::bundle(
                "ERR_BUNDLE_VERSION",
                format!("bundle schema_version '{schema_version}' is not supported (this build reads 1.x)"),
            ));
        }
        if let Some(v) = obj.get("sqlite").filter(|v| !v.is_string()) {
            return Err(invalid(format!("sqlite must be a string, not {}", kind(v))));
        }
        Ok(Manifest {
            schema_version,
            checkpoints: entries(&obj, "checkpoints", false)?,
            final_models: entries(&obj, "final_models", true)?,
        })
    }
}

/// The `{ id: path }` object `field`; with `skip_falsy`, `null`/`""`/`false` values are dropped
/// (the original skips them for final models).
fn entries(
    obj: &Map<String, Json>,
    field: &str,
    skip_falsy: bool,
) -> Result<Vec<(String, String)>> {
    let items = match obj.get(field) {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Object(items)) => items,
        Some(other) => {
            return Err(invalid(format!(
                "{field} must be an object, not {}",
                kind(other)
            )))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (id, v) in items {
        match v {
            Json::String(p) if !p.is_empty() || !skip_falsy => out.push((id.clone(), p.clone())),
            Json::String(_) | Json::Null | Json::Bool(false) if skip_falsy => {}
            other => {
                return Err(invalid(format!(
                    "{field}[{id:?}] must be a path string, not {}",
                    kind(other)
                )))
            }
        }
    }
    Ok(out)
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_original_layout() {
        let m = Manifest {
            schema_version: WRITTEN_VERSION.into(),
            checkpoints: vec![("r:1:2".into(), "checkpoints/r_1_2.pt".into())],
            final_models: vec![],
        };
        assert_eq!(
            m.to_json(),
            "{\n  \"schema_version\": \"1.1\",\n  \"sqlite\": \"runs.sqlite\",\n  \"checkpoints\": {\n    \
             \"r:1:2\": \"checkpoints/r_1_2.pt\"\n  },\n  \"final_models\": {}\n}"
        );
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn reads_1_0_and_1_1() {
        let v10 = Manifest::parse(r#"{"schema_version":"1.0","sqlite":"runs.sqlite","checkpoints":{"a:1":"checkpoints/a:1.pt"}}"#).unwrap();
        assert_eq!(
            v10.checkpoints,
            [("a:1".to_string(), "checkpoints/a:1.pt".to_string())]
        );
        assert!(v10.final_models.is_empty());
        let v11 = Manifest::parse(r#"{"schema_version":"1.1","checkpoints":{},"final_models":{"s":"final_models\\s-final.pt","t":null,"u":""}}"#).unwrap();
        assert_eq!(
            v11.final_models,
            [("s".to_string(), "final_models\\s-final.pt".to_string())]
        );
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let code = |t: &str| Manifest::parse(t).unwrap_err().code();
        assert_eq!(code("not json"), "ERR_BUNDLE_MANIFEST");
        assert_eq!(code("[1]"), "ERR_BUNDLE_MANIFEST");
        assert_eq!(code(r#"{"schema_version":1.1}"#), "ERR_BUNDLE_MANIFEST");
        assert_eq!(code(r#"{"schema_version":"2.0"}"#), "ERR_BUNDLE_VERSION");
        assert_eq!(code(r#"{"sqlite":5}"#), "ERR_BUNDLE_MANIFEST");
        assert_eq!(code(r#"{"checkpoints":[]}"#), "ERR_BUNDLE_MANIFEST");
        let err = Manifest::parse(r#"{"checkpoints":{"k":3}}"#).unwrap_err();
        assert!(err.to_string().contains("checkpoints[\"k\"]"), "{err}");
        assert_eq!(code(r#"{"checkpoints":{"k":null}}"#), "ERR_BUNDLE_MANIFEST");
    }
}
