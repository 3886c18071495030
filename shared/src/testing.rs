//! Fixture loaders shared by the unit tests: every CloudTrail record under `testdata/`, in
//! whatever wrapper its source published it.

use std::path::{Path, PathBuf};

use crate::decode::{self, Limits};

/// A record from the fixture set and the file it came from.
#[derive(Debug)]
pub(crate) struct FixtureRecord {
    pub(crate) file: PathBuf,
    pub(crate) json: Vec<u8>,
}

pub(crate) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Every record of every fixture file: `{"Records":[...]}` documents (gzipped or not) through
/// the real decoder, bare arrays and NDJSON through serde_json (re-serialised compact).
pub(crate) fn cloudtrail_records() -> Vec<FixtureRecord> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(testdata().join("cloudtrail")).sort_by_file_name() {
        let entry = entry.expect("walk testdata");
        let path = entry.path();
        let name = path.to_string_lossy();
        if !entry.file_type().is_file()
            || !(name.ends_with(".json") || name.ends_with(".json.gz"))
            || name.ends_with("_index.json")
        {
            continue;
        }
        let bytes = std::fs::read(path).expect("read fixture");
        let mut push = |json: Vec<u8>| {
            out.push(FixtureRecord {
                file: path.to_path_buf(),
                json,
            })
        };
        let starts_records = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{' || b == 0x1f)
            && (name.ends_with(".gz") || String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).contains("\"Records\""));
        if starts_records {
            let mut reader = decode::open(&bytes[..], Limits::default()).expect("open fixture");
            while let Some(r) = reader.next_record().expect("decode fixture") {
                push(r.json.to_vec());
            }
            continue;
        }
        let text = String::from_utf8(bytes).expect("fixture is UTF-8");
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(items)) => {
                for item in items {
                    push(serde_json::to_vec(&item).expect("serialise"));
                }
            }
            Ok(single @ serde_json::Value::Object(_)) => {
                push(serde_json::to_vec(&single).expect("serialise"))
            }
            Ok(other) => panic!("{name}: unexpected top-level value {other}"),
            Err(_) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let v: serde_json::Value = serde_json::from_str(line).expect("NDJSON line");
                    push(serde_json::to_vec(&v).expect("serialise"));
                }
            }
        }
    }
    out
}
