//! `bundle.json` as read by `loadBundle`: any text parses or is refused with an error, never a
//! panic, and a manifest that parses is written back (`to_json`) as text that parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::training::bundle::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Manifest::parse(text) {
        let again = Manifest::parse(&m.to_json()).expect("a written manifest parses");
        assert_eq!(again, m);
    }
});
