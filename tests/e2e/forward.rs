//! `trailrelay forward` and `trailrelay demo`, end to end.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use trailrelay::demo::{self, DemoSpec};

use crate::support::{
    Trail, archived_lines, epoch_millis, files, forward, logged_events, run, text, trail, workspace,
};

/// Every input record is in the logs exactly once and in the archive exactly once, unchanged,
/// in the stream and the partition its key and fields name.
#[test]
fn every_record_exactly_once_in_logs_and_archive() {
    let Trail {
        bucket,
        out,
        corpus,
        input,
        _dir,
    } = trail(5, 3, 4, 150, 11);

    let output = forward(&bucket, &out, &["-j", "2"]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let objects = corpus.log_files + corpus.digest_files;
    assert!(
        stdout.contains(&format!(
            "{objects} objects: {} forwarded, {} skipped, 0 failed",
            corpus.log_files, corpus.digest_files
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("skipped   digest {}", corpus.digest_files)),
        "{stdout}"
    );

    let mut logged: BTreeMap<String, usize> = BTreeMap::new();
    for (path, timestamp, record) in logged_events(&out.join("logs")) {
        let id = record["eventID"].as_str().unwrap().to_owned();
        assert_eq!(
            input[&id], record,
            "log message differs from the input record {id}"
        );
        assert_eq!(
            timestamp,
            epoch_millis(record["eventTime"].as_str().unwrap())
        );
        let stream = format!(
            "o-trailrelay01_{}_CloudTrail_{}.ndjson",
            record["recipientAccountId"].as_str().unwrap(),
            record["awsRegion"].as_str().unwrap()
        );
        assert_eq!(path.file_name().unwrap().to_str(), Some(stream.as_str()));
        assert!(
            path.parent()
                .unwrap()
                .ends_with("logs/trailrelay/cloudtrail")
        );
        *logged.entry(id).or_default() += 1;
    }
    assert_eq!(logged.len(), input.len(), "events missing from the logs");
    assert!(
        logged.values().all(|&n| n == 1),
        "events duplicated in the logs"
    );

    let mut archived: BTreeMap<String, usize> = BTreeMap::new();
    for (path, line) in archived_lines(&out.join("archive")) {
        let id = line["event_id"].as_str().unwrap().to_owned();
        assert_eq!(
            input[&id], line["record"],
            "archived record differs from the input {id}"
        );
        let p = path.to_string_lossy();
        assert!(
            p.contains(&format!(
                "/org=o-trailrelay01/account={}/",
                line["account_id"].as_str().unwrap()
            )),
            "{p}"
        );
        assert!(
            p.contains(&format!(
                "/region={}/date={}/",
                line["region"].as_str().unwrap(),
                crate::support::trail_date()
            )),
            "{p}"
        );
        let source_key = line["source"]["key"].as_str().unwrap();
        let stem = source_key
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".json.gz");
        assert!(p.ends_with(&format!("/{stem}.ndjson.gz")), "{p}");
        *archived.entry(id).or_default() += 1;
    }
    assert_eq!(
        archived.len(),
        input.len(),
        "events missing from the archive"
    );
    assert!(
        archived.values().all(|&n| n == 1),
        "events duplicated in the archive"
    );
    assert_eq!(
        files(&out.join("archive"), ".ndjson.gz").len(),
        corpus.log_files
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn put_log_file(bucket: &Path, unique: &str, bytes: &[u8]) -> String {
    let dir = "AWSLogs/o-trailrelay01/210987654321/CloudTrail/us-east-1/2026/11/01";
    let name = format!("210987654321_CloudTrail_us-east-1_20261101T0100Z_{unique}.json.gz");
    std::fs::create_dir_all(bucket.join(dir)).unwrap();
    std::fs::write(bucket.join(dir).join(&name), bytes).unwrap();
    name
}

/// Each kind of bad object fails with its own clear error naming it; every good object is
/// still forwarded whole.
#[test]
fn bad_objects_fail_alone_with_their_cause() {
    let Trail {
        bucket,
        out,
        corpus,
        input: good,
        _dir,
    } = trail(2, 2, 2, 40, 5);

    let mut truncated = gzip(br#"{"Records":[{"eventID":"t1","eventName":"X"},{"eventID":"t2"}]}"#);
    truncated.truncate(truncated.len() - 9);
    let mut bomb = br#"{"Records":[{"eventID":"b1","pad":""#.to_vec();
    bomb.resize(bomb.len() + (8 << 20), b'a');
    bomb.extend_from_slice(br#""}]}"#);
    let bad = [
        (
            "TRUNCATEDgzip000",
            truncated,
            "corrupt or truncated gzip",
            "[gzip, poison]",
        ),
        (
            "NOTjson000000000",
            gzip(b"<html>503 Slow Down</html>"),
            "not JSON",
            "[not-json, poison]",
        ),
        (
            "NOrecords0000000",
            gzip(br#"{"records":[]}"#),
            "no \"Records\" member",
            "[no-records, poison]",
        ),
        (
            "GZIPbomb00000000",
            gzip(&bomb),
            "exceeds the limit of 1048576 bytes",
            "[object-too-large, poison]",
        ),
    ];
    let mut names = Vec::new();
    for (unique, bytes, _, _) in &bad {
        names.push(put_log_file(&bucket, unique, bytes));
    }

    let output = forward(&bucket, &out, &["--max-object-bytes", "1MiB"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for ((_, _, message, tag), name) in bad.iter().zip(&names) {
        let line = stderr
            .lines()
            .find(|l| l.contains(name.as_str()))
            .unwrap_or_else(|| panic!("no error line names {name}:\n{stderr}"));
        assert!(
            line.starts_with("error: ") && line.contains(message) && line.ends_with(tag),
            "{line}"
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("{} forwarded", corpus.log_files)),
        "{stdout}"
    );
    assert!(stdout.contains("4 failed"), "{stdout}");
    for cause in [
        "gzip (poison) 1",
        "not-json (poison) 1",
        "no-records (poison) 1",
        "object-too-large (poison) 1",
    ] {
        assert!(stdout.contains(cause), "{cause} missing from:\n{stdout}");
    }

    // The good objects are all there, once; nothing of a failed object reached the archive.
    let archived = archived_lines(&out.join("archive"));
    let ids: BTreeMap<&str, usize> = archived.iter().fold(BTreeMap::new(), |mut m, (_, l)| {
        *m.entry(l["event_id"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(ids.len(), good.len());
    assert!(good.keys().all(|id| ids.get(id.as_str()) == Some(&1)));
    for name in &names {
        let stem = name.trim_end_matches(".json.gz");
        assert!(
            files(&out.join("archive"), "")
                .iter()
                .all(|p| !p.to_string_lossy().contains(stem)),
            "{stem}"
        );
    }
}

/// Real delivered log files (plain JSON, as the Invictus dataset publishes them), outside any
/// bucket layout, forwarded as a folder and as single files.
#[test]
fn real_log_files_outside_the_layout() {
    let folder = workspace().join("shared/testdata/cloudtrail/invictus-ir-aws-dataset/CloudTrail");
    let mut expected = 0;
    for path in files(&folder, ".json") {
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        expected += doc["Records"].as_array().unwrap().len();
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = forward(&folder, &out, &[]);
    assert!(output.status.success(), "{}", text(&output));
    let archived = archived_lines(&out.join("archive"));
    assert_eq!(archived.len(), expected);
    // Events of 2023 are far older than CloudWatch Logs takes: archived only, no log call, and
    // the summary says so.
    assert!(!out.join("logs").exists(), "no log file written");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "{expected} events older than CloudWatch Logs accepts (14 days) and 0 more than 2 hours ahead"
        )),
        "{stdout}"
    );
    // Outside the layout the partitions are Hive's null partition; the account still comes
    // from each record.
    assert!(archived.iter().all(|(p, l)| {
        p.to_string_lossy()
            .contains("org=__HIVE_DEFAULT_PARTITION__")
            && l["account_id"] == l["record"]["recipientAccountId"]
    }));

    let one = files(&folder, ".json").remove(0);
    let out1 = dir.path().join("one");
    let output = forward(&one, &out1, &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("1 object: 1 forwarded"));
}

/// The demo needs nothing but the binary, and tells the same story every time.
#[test]
fn demo_is_self_contained_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let first = run(&["demo", "--dir", d, "-q"]);
    assert!(first.status.success(), "{}", text(&first));
    let second = run(&["demo", "--dir", d, "-q"]);
    let stable = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim_start().starts_with("read "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(stable(&first), stable(&second));
    let stdout = stable(&first);
    let corpus = demo::write_corpus(&dir.path().join("again"), &DemoSpec::default()).unwrap();
    assert!(
        stdout.contains(&format!(
            "{} events in {} archive objects",
            corpus.records, corpus.log_files
        )),
        "{stdout}"
    );
    assert!(stdout.contains("console sign-ins without MFA"), "{stdout}");
    // A second run replaces its output rather than appending to it.
    assert_eq!(
        logged_events(&dir.path().join("out/logs")).len() as u64,
        corpus.records
    );
}
