//! Full-text search over the messages: FTS5 (external content over `messages`), ranked by
//! bm25, with a highlighted snippet of each hit.

use rusqlite::params;

use super::messages::{message_from_row, Message, MESSAGE_COLUMNS};
use super::Conversations;
use crate::engine::{Error, Result};

/// How [`Conversations::search_messages`] searches.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Only the messages of this session.
    pub session_id: Option<String>,
    /// At most this many hits, best first; default 20.
    pub limit: i64,
    /// The query is FTS5 syntax (`AND`, `OR`, `NOT`, `"phrases"`, `prefix*`, `NEAR(…)`),
    /// passed as it is; a syntax error is `ERR_SEARCH_SYNTAX`. Otherwise (the default) every
    /// word of the query is matched as it is written, whatever characters it holds.
    pub raw: bool,
    /// The text put before and after each matched term in the snippet; default `<mark>` and
    /// `</mark>`. The snippet is the message's text as stored, not escaped for HTML.
    pub highlight: (String, String),
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            session_id: None,
            limit: 20,
            raw: false,
            highlight: ("<mark>".into(), "</mark>".into()),
        }
    }
}

/// One message that matches, with its bm25 score (lower is better) and a snippet of up to 16
/// words around the matches, `…` marking cut text.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub message: Message,
    pub rank: f64,
    pub snippet: String,
}

/// Most distinct words a search may have. FTS5 matches the words one after the other, so a
/// pasted document as the search text would hold the connection for minutes.
pub const MAX_SEARCH_WORDS: usize = 256;

/// Longest raw (FTS5 syntax) query, in bytes, for the same reason.
pub const MAX_RAW_QUERY_BYTES: usize = 64 * 1024;

/// The distinct words of a user's search text, in order: runs of characters other than space
/// and NUL (where FTS5 would stop reading).
fn words(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for w in text.split(|c: char| c.is_whitespace() || c == '\0') {
        if !w.is_empty() && !out.contains(&w) {
            out.push(w);
        }
        if out.len() > MAX_SEARCH_WORDS {
            break;
        }
    }
    out
}

/// A user's search text as an FTS5 query that cannot be a syntax error: each distinct word
/// (a run of characters other than space and NUL) becomes a quoted string (`"` doubled inside),
/// all of them required. `None` when the text has no word.
///
/// ```
/// use stowage_core::conversations::quote_query;
/// assert_eq!(quote_query(r#"fix "NEAR(" bug*"#).as_deref(), Some(r#""fix" """NEAR(""" "bug*""#));
/// assert_eq!(quote_query("  "), None);
/// ```
pub fn quote_query(text: &str) -> Option<String> {
    let words: Vec<String> = words(text)
        .into_iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

impl Conversations<'_> {
    /// The messages matching `query`, best bm25 score first.
    ///
    /// The index hands the matches over in rank order and the messages are looked up for each
    /// (`CROSS JOIN` keeps that loop order), so no sort runs and snippets are made only for the
    /// hits returned.
    pub fn search_messages(&self, query: &str, o: &SearchOptions) -> Result<Vec<SearchHit>> {
        if o.limit < 1 {
            return Err(Error::InvalidArg(format!(
                "limit must be at least 1 (got {})",
                o.limit
            )));
        }
        if o.raw && query.len() > MAX_RAW_QUERY_BYTES {
            return Err(Error::InvalidArg(format!(
                "a raw search query holds at most {MAX_RAW_QUERY_BYTES} bytes (got {})",
                query.len()
            )));
        }
        if !o.raw && words(query).len() > MAX_SEARCH_WORDS {
            return Err(Error::InvalidArg(format!(
                "search text holds at most {MAX_SEARCH_WORDS} distinct words"
            )));
        }
        let fts = if o.raw {
            query.to_string()
        } else {
            match quote_query(query) {
                Some(q) => q,
                None => return Ok(Vec::new()),
            }
        };
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS}, f.rank,
               snippet(messages_fts, 0, ?3, ?4, '…', 16)
             FROM messages_fts f CROSS JOIN messages m ON m.fts_rowid = f.rowid
             WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR m.session_id = ?2)
             ORDER BY f.rank LIMIT ?5"
        ))?;
        let rows = stmt.query_map(
            params![fts, o.session_id, o.highlight.0, o.highlight.1, o.limit],
            |r| {
                Ok(SearchHit {
                    message: message_from_row(r)?,
                    rank: r.get(10)?,
                    snippet: r.get(11)?,
                })
            },
        );
        let hits = rows.and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        hits.map_err(|e| {
            let e = Error::from(e);
            match e {
                Error::Sqlite { code, message } if o.raw && code == "SQLITE_ERROR" => {
                    Error::SearchSyntax(format!("search query {query:?}: {message}"))
                }
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::tests::{open, say, session};

    #[test]
    fn hits_come_best_first_with_a_highlighted_snippet() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let s = session(&c, "Search");
        let t = session(&c, "Elsewhere");
        say(
            &c,
            &s.id,
            "the release notes mention the release date of the release",
        );
        say(
            &c,
            &s.id,
            "a release, once, among many other words that dilute the match a lot",
        );
        say(&c, &s.id, "nothing to see here");
        say(&c, &t.id, "release elsewhere");
        let hits = c.search_messages("release", &SearchOptions::default())?;
        assert_eq!(hits.len(), 3);
        assert!(hits.windows(2).all(|w| w[0].rank <= w[1].rank));
        assert_eq!(hits[0].message.sequence, 1);
        assert_eq!(
            hits[0].snippet,
            "the <mark>release</mark> notes mention the <mark>release</mark> date of the <mark>release</mark>"
        );
        let only_s = SearchOptions {
            session_id: Some(t.id.clone()),
            highlight: ("[".into(), "]".into()),
            ..Default::default()
        };
        let hits = c.search_messages("RELEASE", &only_s)?;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].snippet, "[release] elsewhere");
        let first = SearchOptions {
            limit: 1,
            ..Default::default()
        };
        assert_eq!(c.search_messages("release", &first)?.len(), 1);
        assert!(
            c.search_messages("release notes", &SearchOptions::default())?
                .len()
                == 1
        );
        Ok(())
    }

    #[test]
    fn a_pasted_document_as_search_text_is_refused_at_once() -> Result<()> {
        let (_d, db) = open();
        let c = db.conversations()?;
        let repeated = "ab\0".repeat(1 << 20);
        assert!(c
            .search_messages(&repeated, &SearchOptions::default())?
            .is_empty());
        let many: String = (0..=MAX_SEARCH_WORDS).map(|i| format!("w{i} ")).collect();
        let err = c
            .search_messages(&many, &SearchOptions::default())
            .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        let raw = SearchOptions {
            raw: true,
            ..SearchOptions::default()
        };
        let long = "x".repeat(MAX_RAW_QUERY_BYTES + 1);
        assert_eq!(
            c.search_messages(&long, &raw).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        Ok(())
    }

    #[test]
    fn user_text_is_never_syntax_and_raw_syntax_errors_are_coded() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let s = session(&c, "Syntax");
        say(
            &c,
            &s.id,
            "use AND or NOT, \"quoted\" text, col:on and a* star",
        );
        for q in [
            "AND",
            "NOT",
            "\"",
            "\"quoted",
            "col:on",
            "a*",
            "(",
            ")",
            "NEAR(",
            "^",
            "-",
            "*",
            "+",
            ":",
            "''",
            "\u{0}",
            "NOT AND OR",
        ] {
            let hits = c.search_messages(q, &SearchOptions::default());
            assert!(hits.is_ok(), "{q:?}: {hits:?}");
        }
        assert_eq!(
            c.search_messages("AND", &SearchOptions::default())?.len(),
            1
        );
        assert!(c
            .search_messages("   ", &SearchOptions::default())?
            .is_empty());
        let raw = SearchOptions {
            raw: true,
            ..Default::default()
        };
        assert_eq!(c.search_messages("quot* OR zebra", &raw)?.len(), 1);
        assert_eq!(c.search_messages("use NOT star", &raw)?.len(), 0);
        for q in ["AND", "\"open", "nope:x", "(a", "NEAR(a b"] {
            let err = c.search_messages(q, &raw).unwrap_err();
            assert_eq!(err.code(), "ERR_SEARCH_SYNTAX", "{q:?}: {err}");
        }
        let zero = SearchOptions {
            limit: 0,
            ..Default::default()
        };
        assert_eq!(
            c.search_messages("x", &zero).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
        Ok(())
    }

    #[test]
    fn the_index_stays_in_step_through_deletes_and_vacuum() -> Result<()> {
        let (_dir, db) = open();
        let c = db.conversations()?;
        let gone = session(&c, "Gone");
        let kept = session(&c, "Kept");
        for i in 0..50 {
            say(&c, &gone.id, &format!("filler number {i}"));
        }
        say(&c, &kept.id, "needle in the haystack");
        c.delete_session(&gone.id)?;
        db.vacuum()?;
        db.conn().execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            [],
        )?;
        let hits = c.search_messages("needle", &SearchOptions::default())?;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].message.session_id, kept.id);
        assert!(c
            .search_messages("filler", &SearchOptions::default())?
            .is_empty());
        Ok(())
    }
}
