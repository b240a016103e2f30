//! File names inside a bundle.
//!
//! Checkpoint ids look like `<run>:<step>:<ms>`; the original used them verbatim as file names,
//! which Windows cannot store (`:`) and which break on `/`. stowage writes a portable name and
//! records the id → name mapping in the manifest. Final models keep the original's scheme:
//! `<slug>-final.pt`, then `-final-2`, `-final-3`, ... on collision.

use std::collections::HashSet;

/// Longest file stem written, in bytes; longer ids are cut and suffixed with a hash.
const MAX_STEM: usize = 100;

/// Device names Windows reserves whatever the extension.
const RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// A portable file stem for a checkpoint id: ASCII letters, digits, `-`, `_` and inner `.`;
/// every other character becomes `_`.
pub fn checkpoint_stem(id: &str) -> String {
    let mut stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dots = |s: &str| s.len() - s.trim_start_matches('.').len();
    let lead = dots(&stem);
    stem.replace_range(..lead, &"_".repeat(lead));
    while stem.ends_with('.') {
        stem.pop();
        stem.push('_');
    }
    if stem.is_empty() {
        stem = "checkpoint".into();
    }
    if RESERVED.contains(
        &stem
            .split('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str(),
    ) {
        stem.insert(0, '_');
    }
    if stem.len() > MAX_STEM {
        stem.truncate(MAX_STEM - 9);
        stem.push_str(&format!("-{:08x}", fnv32(id)));
    }
    stem
}

/// The original's `_safeSlug`: trimmed, lower-cased, runs of characters outside `[a-z0-9_-]`
/// turned into one `-`, leading and trailing `-` removed; `session` when nothing is left.
pub fn safe_slug(base: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in base.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let slug = out.trim_matches('-');
    if slug.is_empty() {
        "session".into()
    } else {
        slug.to_string()
    }
}

/// Names already used in one folder, compared case-insensitively (as macOS and Windows do).
#[derive(Debug, Default)]
pub struct Names(HashSet<String>);

impl Names {
    /// `<stem>.pt`, or `<stem>-2.pt`, `<stem>-3.pt`, ... when taken.
    pub fn claim_checkpoint(&mut self, stem: &str) -> String {
        self.claim(|n| {
            if n == 1 {
                format!("{stem}.pt")
            } else {
                format!("{stem}-{n}.pt")
            }
        })
    }

    /// `<slug>-final.pt`, or `<slug>-final-2.pt`, ... when taken.
    pub fn claim_final_model(&mut self, slug: &str) -> String {
        self.claim(|n| {
            if n == 1 {
                format!("{slug}-final.pt")
            } else {
                format!("{slug}-final-{n}.pt")
            }
        })
    }

    fn claim(&mut self, name: impl Fn(usize) -> String) -> String {
        let mut n = 1;
        loop {
            let candidate = name(n);
            if self.0.insert(candidate.to_lowercase()) {
                return candidate;
            }
            n += 1;
        }
    }
}

fn fnv32(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_ids_become_portable_stems() {
        assert_eq!(
            checkpoint_stem("run-1:120:1700000000000"),
            "run-1_120_1700000000000"
        );
        assert_eq!(checkpoint_stem("a/b\\c d"), "a_b_c_d");
        assert_eq!(checkpoint_stem("..secret."), "__secret_");
        assert_eq!(checkpoint_stem(""), "checkpoint");
        assert_eq!(checkpoint_stem("NUL"), "_NUL");
        assert_eq!(checkpoint_stem("com1.x"), "_com1.x");
        assert_eq!(checkpoint_stem("é"), "_");
        let long = checkpoint_stem(&"x".repeat(300));
        assert_eq!(long.len(), MAX_STEM);
        assert_ne!(long, checkpoint_stem(&"x".repeat(301)));
    }

    #[test]
    fn slugs_match_the_original() {
        assert_eq!(safe_slug("sess-ABC 12/x"), "sess-abc-12-x");
        assert_eq!(safe_slug("  "), "session");
        assert_eq!(safe_slug("é漢"), "session");
        assert_eq!(safe_slug("__a__"), "__a__");
        assert_eq!(safe_slug("--a--b--"), "a--b");
    }

    #[test]
    fn collisions_get_numbered_case_insensitively() {
        let mut names = Names::default();
        assert_eq!(names.claim_checkpoint("a_b"), "a_b.pt");
        assert_eq!(names.claim_checkpoint("A_B"), "A_B-2.pt");
        assert_eq!(names.claim_checkpoint("a_b"), "a_b-3.pt");
        assert_eq!(names.claim_final_model("s"), "s-final.pt");
        assert_eq!(names.claim_final_model("s"), "s-final-2.pt");
    }
}
