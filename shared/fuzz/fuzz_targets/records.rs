//! The streaming decoder and the normaliser never panic on any object bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailrelay::decode::{self, Limits};
use trailrelay::key::TrailKey;
use trailrelay::normalize::{self, Origin};

fuzz_target!(|data: &[u8]| {
    let key = TrailKey::parse("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0000Z_x.json.gz");
    let origin = Origin { bucket: "b", key: "k", trail_key: &key };
    let limits = Limits { max_object_bytes: 1 << 20, max_record_bytes: 1 << 16 };
    let Ok(mut reader) = decode::open(data, limits) else { return };
    while let Ok(Some(r)) = reader.next_record() {
        let _ = normalize::parse(r.json, r.index, &origin);
    }
});
