//! overstory's legacy `sessions.json` as read by `importLegacyJson`: any bytes give sessions
//! and problems, never a panic; in an array every entry is either a session or a problem.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::agents::parse_legacy_sessions;

fuzz_target!(|data: &[u8]| {
    let (sessions, problems) = parse_legacy_sessions(data);
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_slice(data) {
        assert_eq!(sessions.len() + problems.len(), items.len());
        assert!(problems.iter().all(|(entry, _)| entry.is_some()));
    } else {
        assert!(sessions.is_empty());
        assert_eq!(problems.len(), 1);
    }
});
