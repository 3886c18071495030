//! The streaming decoder and the normaliser never panic on any object bytes, and one parse for
//! the normaliser and the CIS pack reads every record as the normaliser alone does.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use trailrelay::decode::{self, Limits};
use trailrelay::key::TrailKey;
use trailrelay::normalize::{self, Origin, RecordParser};
use trailrelay::rules::pattern::PatternOptions;
use trailrelay::rules::{CIS_PACK_JSON, RuleSet, RulesFile};

static CIS: LazyLock<RuleSet> = LazyLock::new(|| {
    let file = RulesFile::from_json(CIS_PACK_JSON, "cis.json").expect("the CIS pack reads");
    RuleSet::compile(&file, PatternOptions::default()).expect("the CIS pack compiles")
});

fuzz_target!(|data: &[u8]| {
    let key = TrailKey::parse("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0000Z_x.json.gz");
    let origin = Origin { bucket: "b", key: "k", trail_key: &key };
    let limits = Limits { max_object_bytes: 1 << 20, max_record_bytes: 1 << 16 };
    let parser = RecordParser::new(&CIS);
    let Ok(mut reader) = decode::open(data, limits) else { return };
    while let Ok(Some(r)) = reader.next_record() {
        let alone = normalize::parse(r.json, r.index, &origin);
        match (alone, parser.parse(r.json, r.index, &origin)) {
            (Ok(alone), Ok(once)) => assert_eq!(alone.event, once.event),
            (Err(alone), Err(once)) => assert_eq!(alone.to_string(), once.to_string()),
            (alone, once) => panic!("alone {alone:?}, once {once:?}"),
        }
    }
});
