//! JSON columns: text that is validated when it is written and handed back to JS to parse.
//!
//! A store keeps a JSON value as TEXT (what etcode, opencode and the sidepanel spec store, and
//! what SQLite's `json_*` functions read). [`validate`] refuses text that is not one JSON value,
//! naming the field, before anything is written; reading returns the stored text, which the
//! binding turns into a JS value with one `JSON.parse` (faster than building the value through
//! Node-API calls: see BENCHMARKS.md, "JSON columns").

use serde::de::IgnoredAny;

use super::{Error, Result};

/// Checks that `text` is exactly one JSON value (surrounding whitespace allowed), as SQLite's
/// `json_valid` would; `ERR_INVALID_JSON` naming `field` otherwise.
///
/// ```
/// use stowage_core::engine::json;
/// assert!(json::validate("part.data", r#"{"type":"text","text":"hi"}"#).is_ok());
/// let err = json::validate("part.data", "{oops").unwrap_err();
/// assert_eq!(err.code(), "ERR_INVALID_JSON");
/// assert!(err.to_string().starts_with("part.data is not valid JSON"));
/// ```
pub fn validate(field: &str, text: &str) -> Result<()> {
    serde_json::from_str::<IgnoredAny>(text)
        .map(drop)
        .map_err(|e| Error::InvalidJson {
            field: field.to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn agrees_with_sqlites_json_valid() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        for text in [
            "{}",
            "[1, 2.5e3, -0, \"é\\u00e9\", null, true]",
            " \n{\"a\": {\"b\": [[]]}} ",
            "\"just a string\"",
            "42",
            "{",
            "{\"a\": 1,}",
            "[1] [2]",
            "",
            "NaN",
            "{'a': 1}",
            "\"unterminated",
        ] {
            let sqlite: bool = conn.query_row("SELECT json_valid(?1)", [text], |r| r.get(0))?;
            assert_eq!(validate("f", text).is_ok(), sqlite, "{text:?}");
        }
        Ok(())
    }

    #[test]
    fn the_error_names_the_field_and_the_problem() {
        let err = validate("session.toolCalls", "[1, 2").unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_JSON");
        let text = err.to_string();
        assert!(
            text.starts_with("session.toolCalls is not valid JSON: "),
            "{text}"
        );
        assert!(text.contains("line 1"), "{text}");
    }
}
