//! S3 keys and the stamps in file names are untrusted input: any text parses to a kind (never
//! a panic), a key in the layout names its account and region, and a stamp read is a time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailrelay::integrity::chain_of;
use trailrelay::key::{self, ObjectKind, TrailKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for candidate in [text.to_owned(), format!("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/{text}")] {
        let parsed = TrailKey::parse(&candidate);
        if parsed.kind != ObjectKind::Other {
            assert!(parsed.account_id.is_some() && parsed.region.is_some() && parsed.date.is_some());
        }
        let _ = parsed.delivered_s();
        let _ = chain_of(&candidate);
        let _ = key::digest_name_parts(&parsed.file_name);
        if let Some(flat) = TrailKey::from_file_name(&parsed.file_name) {
            assert!(flat.delivered_s().is_some());
        }
    }
    if let Ok(decoded) = key::form_decode(text) {
        // Encoding what was decoded decodes back to it.
        assert_eq!(key::form_decode(&key::form_encode(&decoded)).ok().as_deref(), Some(&*decoded));
    }
});
