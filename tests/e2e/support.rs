//! Shared set-up: the binary, generated trails, and readers for what the binary writes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::read::MultiGzDecoder;
use serde_json::Value;

/// The `trailrelay` binary of this build. `cargo test --workspace` builds it before any test
/// runs (the CLI package's own tests need it); `TRAILRELAY_BIN` overrides the location.
pub(crate) fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TRAILRELAY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/trailrelay
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let bin = dir.join(format!("trailrelay{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or set TRAILRELAY_BIN)",
        bin.display()
    );
    bin
}

/// The workspace root (the tests' manifest lives one level below).
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Runs the binary; returns its output.
pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run trailrelay")
}

/// `trailrelay forward INPUT --out OUT -q EXTRA...`; returns its output.
pub(crate) fn forward(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let (input, out) = (input.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["forward", input, "--out", out, "-q"];
    args.extend_from_slice(extra);
    run(&args)
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every `Records` element of every log file under `bucket`, by eventID.
pub(crate) fn input_events(bucket: &Path) -> BTreeMap<String, Value> {
    let mut events = BTreeMap::new();
    for path in files(bucket, "") {
        let key = path.to_string_lossy();
        if key.contains("CloudTrail-Digest") {
            continue;
        }
        let doc: Value = serde_json::from_str(&gunzip(&path)).expect("input document");
        for r in doc["Records"].as_array().expect("Records") {
            let id = r["eventID"].as_str().expect("eventID").to_owned();
            assert!(
                events.insert(id, r.clone()).is_none(),
                "duplicate eventID in input"
            );
        }
    }
    events
}

/// The files under `root` whose names end in `suffix`, sorted.
pub(crate) fn files(root: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(suffix))
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

pub(crate) fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    MultiGzDecoder::new(std::fs::File::open(path).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    text
}

/// (stream file, timestamp, record) for every line of every log stream file under `logs`.
pub(crate) fn logged_events(logs: &Path) -> Vec<(PathBuf, i64, Value)> {
    let mut out = Vec::new();
    for path in files(logs, ".ndjson") {
        for line in std::fs::read_to_string(&path).expect("read").lines() {
            let v: Value = serde_json::from_str(line).expect("log line");
            let message: Value =
                serde_json::from_str(v["message"].as_str().expect("message")).expect("record");
            out.push((
                path.clone(),
                v["timestamp"].as_i64().expect("timestamp"),
                message,
            ));
        }
    }
    out
}

/// (archive object, line) for every line of every archive object under `archive`.
pub(crate) fn archived_lines(archive: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for path in files(archive, ".ndjson.gz") {
        for line in gunzip(&path).lines() {
            out.push((
                path.clone(),
                serde_json::from_str(line).expect("archive line"),
            ));
        }
    }
    out
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`, computed independently of the code
/// under test (days from the civil date, Howard Hinnant's algorithm).
pub(crate) fn epoch_millis(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().expect("eventTime digits");
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (((days * 24 + n(11..13)) * 60 + n(14..16)) * 60 + n(17..19)) * 1000
}

/// A generated organization trail in a temporary folder: `bucket/` holds it, `out/` is free for
/// outputs, `input` maps each eventID to its record.
pub(crate) struct Trail {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) bucket: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) corpus: trailrelay::demo::DemoCorpus,
    pub(crate) input: BTreeMap<String, Value>,
}

/// Writes a trail of `accounts` × `regions` × `files` log files of `records` records.
/// Where generated trails start: the day before today (UTC), recent enough for CloudWatch Logs
/// (14 days), and the same all day.
pub(crate) fn trail_start_s() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    trailrelay::demo::day_before(now)
}

/// The `date=` partition of a trail started at [`trail_start_s`].
pub(crate) fn trail_date() -> String {
    jiff::Timestamp::from_second(trail_start_s())
        .unwrap()
        .to_string()[..10]
        .to_owned()
}

pub(crate) fn trail(
    accounts: usize,
    regions: usize,
    files: usize,
    records: usize,
    seed: u64,
) -> Trail {
    let dir = tempfile::tempdir().expect("temporary folder");
    let bucket = dir.path().join("bucket");
    let spec = trailrelay::demo::DemoSpec {
        accounts,
        regions,
        files_per_stream: files,
        records_per_file: records,
        seed,
        start_s: trail_start_s(),
        ..trailrelay::demo::DemoSpec::default()
    };
    let corpus = trailrelay::demo::write_corpus(&bucket, &spec).expect("write trail");
    let input = input_events(&bucket);
    assert_eq!(input.len() as u64, corpus.records);
    Trail {
        out: dir.path().join("out"),
        bucket,
        corpus,
        input,
        _dir: dir,
    }
}
