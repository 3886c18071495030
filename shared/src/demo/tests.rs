use std::collections::BTreeMap;

use super::*;
use crate::decode::{self, Limits};
use crate::key::{ObjectKind, TrailKey};

#[test]
fn corpus_is_deterministic_and_in_the_trail_layout() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let spec = DemoSpec {
        accounts: 2,
        regions: 2,
        files_per_stream: 2,
        records_per_file: 30,
        seed: 3,
        ..DemoSpec::default()
    };
    let corpus = write_corpus(a.path(), &spec).unwrap();
    assert_eq!(corpus, write_corpus(b.path(), &spec).unwrap());
    // One file per window and stream, a network-activity file beside it for a window that has
    // such events, and the Insights file.
    assert_eq!(corpus.digest_files, 4);
    assert_eq!(corpus.records, 2 * 2 * 2 * 30 + 2);
    let mut records = 0;
    let mut kinds = BTreeMap::new();
    for entry in walkdir::WalkDir::new(a.path()).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let key = entry
            .path()
            .strip_prefix(a.path())
            .unwrap()
            .to_str()
            .unwrap();
        if let Some(digest) = key.strip_suffix(".signature") {
            // Each digest's signature beside it.
            assert!(a.path().join(digest).is_file(), "{key}");
            *kinds.entry("signature").or_insert(0) += 1;
            continue;
        }
        let parsed = TrailKey::parse(key);
        assert_ne!(parsed.kind, ObjectKind::Other, "{key}");
        assert_eq!(parsed.org_id.as_deref(), Some(DEMO_ORG_ID));
        *kinds.entry(parsed.kind.as_str()).or_insert(0) += 1;
        let bytes = fs::read(entry.path()).unwrap();
        assert_eq!(bytes, fs::read(b.path().join(key)).unwrap(), "{key}");
        if parsed.kind == ObjectKind::Digest {
            continue;
        }
        let mut reader = decode::open(&bytes[..], Limits::default()).unwrap();
        while let Some(r) = reader.next_record().unwrap() {
            let v: Value = serde_json::from_slice(r.json).unwrap();
            assert_eq!(
                v["recipientAccountId"].as_str(),
                parsed.account_id.as_deref()
            );
            assert_eq!(v["awsRegion"].as_str(), parsed.region.as_deref());
            records += 1;
        }
    }
    assert_eq!(records, corpus.records);
    assert_eq!(kinds["log"], 8);
    assert_eq!(kinds["insight"], 1);
    let network = kinds["network-activity"];
    assert!(network > 0);
    assert_eq!(corpus.log_files, 8 + network + 1);
    assert_eq!(kinds["digest"], 4);
    assert_eq!(kinds["signature"], 4);
}

#[test]
fn uuids_look_like_version_4() {
    let mut rng = Rng(1);
    let id = rng.uuid();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
}
