//! The filter pattern parser and matcher never panic: any text is a pattern or an error, and a
//! pattern matches any message (JSON or not) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailrelay::rules::pattern::{Document, FilterPattern};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is the pattern, the rest the message.
    let (pattern, message) = text.split_once('\n').unwrap_or((text, "{\"a\":[1,\"b\",{\"c\":null}]}"));
    if let Ok(p) = FilterPattern::parse(pattern) {
        let doc = Document::parse_full(message);
        let _ = p.matches_extracting(message, doc.as_ref());
    }
});
