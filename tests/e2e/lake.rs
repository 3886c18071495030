//! `trailrelay lake`: the table read back by tools that are not ours. PyIceberg opens it
//! through the same SQLite catalog (tests/lake/oracle.py); DuckDB reads its data files
//! (tests/lake/queries.py). Both come from `.venv-lake`, which tests/run.sh installs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, Trail, archived_lines, epoch_millis, files, run, text, trail};

/// The virtualenv's Python, with PyIceberg and DuckDB.
fn python() -> PathBuf {
    let python = support::workspace().join(".venv-lake/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tests/run.sh, which installs PyIceberg and DuckDB into .venv-lake",
        python.display()
    );
    python
}

/// What PyIceberg reads from the lake in `out/lake`.
fn oracle(out: &Path) -> Value {
    oracle_with(&[out.join("lake").to_str().unwrap()])
}

/// What PyIceberg reads from the lake its catalog arguments name.
fn oracle_with(catalog: &[&str]) -> Value {
    let script = support::workspace().join("tests/lake/oracle.py");
    let output = Command::new(python())
        .arg(script)
        .args(catalog)
        .output()
        .expect("run oracle.py");
    assert!(
        output.status.success(),
        "oracle.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("oracle output is JSON")
}

fn lake(trail: &Trail, extra: &[&str]) -> std::process::Output {
    let (bucket, out) = (trail.bucket.to_str().unwrap(), trail.out.to_str().unwrap());
    let mut args = vec!["lake", bucket, "--out", out, "-q"];
    args.extend_from_slice(extra);
    run(&args)
}

fn lake_with(trail: &Trail, variable: (&str, &str)) -> std::process::Output {
    let (bucket, out) = (trail.bucket.to_str().unwrap(), trail.out.to_str().unwrap());
    Command::new(support::binary())
        .args(["lake", bucket, "--out", out, "-q"])
        .env(variable.0, variable.1)
        .output()
        .expect("run trailrelay")
}

/// The records of the trail's log files of every kind (digests are not log files), by eventID.
fn log_events(trail: &Trail) -> &BTreeMap<String, Value> {
    &trail.input
}

/// How many rows hold each eventID.
fn row_counts(table: &Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in table["rows"].as_array().unwrap() {
        *counts
            .entry(row["event_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

/// Every eventID of the trail's log files in exactly one row, and no other row.
fn assert_exactly_once(trail: &Trail, table: &Value) {
    assert_once_each(log_events(trail), table);
}

/// Every eventID of `expected` in exactly one row, and no other row.
fn assert_once_each(expected: &BTreeMap<String, Value>, table: &Value) {
    let counts = row_counts(table);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "rows held more than once: {twice:?}");
    let missing: Vec<_> = expected
        .keys()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "events not in the lake: {missing:?}");
    assert_eq!(
        counts.len(),
        expected.len(),
        "rows of events not in the trail"
    );
}

/// The windows the snapshots name, with their commit numbers, in that order.
fn commits(table: &Value) -> Vec<(String, String)> {
    let mut commits: Vec<(String, String)> = table["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["trailrelay.window"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                s["trailrelay.commit"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    commits.sort();
    commits
}

/// The .parquet files under the warehouse.
fn parquet_files(out: &Path) -> Vec<String> {
    files(&out.join("lake/warehouse"), ".parquet")
        .into_iter()
        .map(|p| format!("file://{}", p.display()))
        .collect()
}

#[test]
fn every_record_is_in_the_table_once_with_the_archive_lines_fields() {
    // 14 files 5 minutes apart per stream: two windows.
    let t = trail(2, 2, 14, 12, 41);
    let built = lake(&t, &["--json"]);
    assert!(built.status.success(), "{}", text(&built));
    let table = oracle(&t.out);
    assert_exactly_once(&t, &table);
    assert_eq!(table["partition"], serde_json::json!(["time_day"]));
    let columns = table["columns"].as_array().unwrap();
    assert_eq!(
        columns.last().unwrap(),
        "record",
        "record is the last column"
    );
    let windows: Vec<_> = commits(&table);
    assert_eq!(windows.len(), 2, "one commit per window: {windows:?}");
    assert!(
        windows
            .iter()
            .all(|(w, c)| w.ends_with(":00:00Z") && c == "1")
    );

    // Each derived column equals the archive line's value for the same record.
    let archived = t.out.join("archive-run");
    let forwarded = support::forward(&t.bucket, &archived, &[]);
    assert!(forwarded.status.success(), "{}", text(&forwarded));
    let lines: BTreeMap<String, Value> = archived_lines(&archived.join("archive"))
        .into_iter()
        .map(|(_, line)| (line["event_id"].as_str().unwrap().to_owned(), line))
        .collect();
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), log_events(&t).len());
    for row in rows {
        let id = row["event_id"].as_str().unwrap();
        let line = lines.get(id).unwrap_or_else(|| panic!("{id} not archived"));
        for column in [
            "org_id",
            "account_id",
            "region",
            "category",
            "read_only",
            "service",
            "action",
            "error_code",
            "source_ip",
            "user_agent",
            "via",
            "addendum",
            "rules",
        ] {
            assert_eq!(row[column], line[column], "{id}: column {column}");
        }
        for field in [
            "type",
            "arn",
            "account_id",
            "name",
            "session_issuer",
            "mfa",
            "invoked_by",
        ] {
            assert_eq!(
                row["principal"][field], line["principal"][field],
                "{id}: principal.{field}"
            );
        }
        let arns: Vec<&Value> = row["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["arn"])
            .collect();
        let archived_arns: Vec<&Value> = line["resources"].as_array().unwrap().iter().collect();
        assert_eq!(arns, archived_arns, "{id}: resources");
        let line_ms = epoch_millis(line["time"].as_str().unwrap());
        assert_eq!(row["time"].as_i64(), Some(line_ms), "{id}: time");
        for field in ["key", "index"] {
            assert_eq!(
                row["source"][field], line["source"][field],
                "{id}: source.{field}"
            );
        }
        let record: Value = serde_json::from_str(row["record"].as_str().unwrap()).unwrap();
        assert_eq!(record, line["record"], "{id}: record");
    }
}

#[test]
fn a_second_run_adds_nothing_and_a_late_file_is_a_later_commit_of_its_window() {
    let t = trail(1, 2, 6, 10, 42);
    // One file is held back, as if delivered after the first run.
    let late = files(&t.bucket, ".json.gz")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/CloudTrail/"))
        .unwrap();
    let held = t.out.with_file_name("held.json.gz");
    let late_doc: Value = serde_json::from_str(&support::gunzip(&late)).unwrap();
    let late_records = late_doc["Records"].as_array().unwrap().len();
    std::fs::rename(&late, &held).unwrap();
    let first = lake(&t, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let again = lake(&t, &["--json"]);
    assert!(again.status.success(), "{}", text(&again));
    let summary: Value = serde_json::from_str(
        String::from_utf8_lossy(&again.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        summary["summary"]["windows_committed"],
        0,
        "{}",
        text(&again)
    );
    assert_eq!(summary["summary"]["rows"], 0);
    assert_eq!(commits(&oracle(&t.out)).len(), 1);

    std::fs::rename(&held, &late).unwrap();
    let third = lake(&t, &[]);
    assert!(third.status.success(), "{}", text(&third));
    let table = oracle(&t.out);
    assert_exactly_once(&t, &table);
    let windows = commits(&table);
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert_eq!(windows[0].0, windows[1].0, "both commits are of one window");
    assert_eq!((windows[0].1.as_str(), windows[1].1.as_str()), ("1", "2"));
    let late_key = late
        .strip_prefix(&t.bucket)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let late_rows = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"]["key"] == late_key.as_str())
        .count();
    assert_eq!(late_rows, late_records, "the late file's records, once");
}

#[test]
fn a_writer_stopped_after_its_data_files_leaves_nothing_visible_and_its_files_are_removed() {
    let t = trail(1, 1, 4, 10, 43);
    let stopped = lake_with(&t, ("TRAILRELAY_LAKE_INTERRUPT", "data-files"));
    assert_eq!(stopped.status.code(), Some(1), "{}", text(&stopped));
    let table = oracle(&t.out);
    assert_eq!(
        table["rows"].as_array().unwrap().len(),
        0,
        "nothing visible"
    );
    assert!(commits(&table).is_empty());
    let orphans = parquet_files(&t.out);
    assert!(!orphans.is_empty(), "the stopped attempt wrote data files");

    let next = lake(&t, &[]);
    assert!(next.status.success(), "{}", text(&next));
    assert!(
        String::from_utf8_lossy(&next.stdout).contains("had not committed: its data files"),
        "{}",
        text(&next)
    );
    let table = oracle(&t.out);
    assert_exactly_once(&t, &table);
    let on_disk = parquet_files(&t.out);
    assert!(
        orphans.iter().all(|o| !on_disk.contains(o)),
        "orphans removed"
    );
    let referenced: Vec<String> = table["data_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        on_disk, referenced,
        "every data file on disk is the table's"
    );
}

#[test]
fn a_writer_stopped_after_its_commit_is_never_committed_again() {
    let t = trail(1, 1, 4, 10, 44);
    let stopped = lake_with(&t, ("TRAILRELAY_LAKE_INTERRUPT", "commit"));
    assert_eq!(stopped.status.code(), Some(1), "{}", text(&stopped));
    let table = oracle(&t.out);
    assert_exactly_once(&t, &table);
    let manifests = || files(&t.out.join("lake/warehouse"), "0001.json");
    assert!(manifests().is_empty(), "the manifest is not published yet");

    let next = lake(&t, &[]);
    assert!(next.status.success(), "{}", text(&next));
    assert!(
        String::from_utf8_lossy(&next.stdout).contains("its manifest is now published"),
        "{}",
        text(&next)
    );
    let table = oracle(&t.out);
    assert_exactly_once(&t, &table);
    assert_eq!(commits(&table).len(), 1, "no second commit");
    let published = manifests();
    assert_eq!(published.len(), 1);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&published[0]).unwrap()).unwrap();
    let records: u64 = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["records"].as_u64().unwrap())
        .sum();
    assert_eq!(records as usize, t.input.len());
}

#[test]
fn a_corrupt_file_is_named_and_the_rest_of_its_window_is_committed() {
    let t = trail(1, 1, 4, 10, 45);
    let bad = files(&t.bucket, ".json.gz")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/CloudTrail/"))
        .unwrap();
    let good = std::fs::read(&bad).unwrap();
    let in_bad: Value = serde_json::from_str(&support::gunzip(&bad)).unwrap();
    let in_bad = in_bad["Records"].as_array().unwrap().len();
    std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
    let first = lake(&t, &[]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let stderr = String::from_utf8_lossy(&first.stderr);
    let name = bad.file_name().unwrap().to_string_lossy();
    assert!(stderr.contains(&*name), "the file is named: {stderr}");
    let rows = oracle(&t.out)["rows"].as_array().unwrap().len();
    assert_eq!(rows, t.input.len() - in_bad, "every other file's records");

    std::fs::write(&bad, &good).unwrap();
    let second = lake(&t, &[]);
    assert!(second.status.success(), "{}", text(&second));
    let table = oracle(&t.out);
    assert_exactly_once(&t, &table);
    assert_eq!(commits(&table).len(), 2);
}

/// The README's questions, answered by DuckDB over `kind` (`lake` or `archive`) in `folder`.
fn questions(kind: &str, folder: &Path) -> Value {
    let script = support::workspace().join("tests/lake/queries.py");
    let output = Command::new(python())
        .arg(script)
        .args([kind, folder.to_str().unwrap()])
        .output()
        .expect("run queries.py");
    assert!(
        output.status.success(),
        "queries.py {kind} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("queries output is JSON")
}

#[test]
fn the_readmes_questions_have_the_same_answers_over_the_lake_and_the_archive() {
    let t = trail(3, 2, 8, 25, 46);
    let built = lake(&t, &[]);
    assert!(built.status.success(), "{}", text(&built));
    let forwarded = support::forward(&t.bucket, &t.out.join("forwarded"), &[]);
    assert!(forwarded.status.success(), "{}", text(&forwarded));
    let over_lake = questions("lake", &t.out.join("lake/warehouse"));
    let over_archive = questions("archive", &t.out.join("forwarded/archive"));
    let names: Vec<&String> = over_archive.as_object().unwrap().keys().collect();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let (lake_rows, archive_rows) = (&over_lake[name]["rows"], &over_archive[name]["rows"]);
        assert_eq!(lake_rows, archive_rows, "question {name}");
    }
    // Not vacuous: the generated trail has root activity and sign-ins without MFA.
    for name in [
        "root_activity",
        "console_sign_ins_without_mfa",
        "events_by_account_and_region",
    ] {
        assert!(
            !over_lake[name]["rows"].as_array().unwrap().is_empty(),
            "question {name} found nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trail_in_s3_is_read_through_the_sdk_into_the_lake() {
    let moto = crate::moto::Moto::start();
    let c = crate::stack::clients(&moto.endpoint).await;
    let (input, _) = crate::stack::small_trail(&c, 51).await;
    let out = tempfile::tempdir().unwrap();
    let args = [
        "lake",
        "s3://org-trail/",
        "--s3-force-path-style",
        "-q",
        "--out",
        out.path().to_str().unwrap(),
    ];
    let built = crate::stack::cli_on(&moto.endpoint, &args);
    assert!(built.status.success(), "{}", text(&built));
    let table = oracle(out.path());
    assert_once_each(&input, &table);
    for row in table["rows"].as_array().unwrap() {
        assert_eq!(row["source"]["bucket"], "org-trail");
        // The version read: S3's ETag, quoted.
        let version = row["source"]["version"].as_str().unwrap_or_default();
        assert!(version.starts_with('"'), "{row}");
    }
    // Again: nothing added.
    let again = crate::stack::cli_on(&moto.endpoint, &args);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(commits(&oracle(out.path())).len(), commits(&table).len());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_glue_catalog_holds_the_table_and_its_files_are_in_s3() {
    let moto = crate::moto::Moto::start();
    let c = crate::stack::clients(&moto.endpoint).await;
    let (input, _) = crate::stack::small_trail(&c, 52).await;
    c.s3.create_bucket()
        .bucket("org-lake")
        .send()
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let args = [
        "lake",
        "s3://org-trail/",
        "--catalog",
        "glue",
        "--warehouse",
        "s3://org-lake/warehouse",
        "--s3-force-path-style",
        "--out",
        out.path().to_str().unwrap(),
    ];
    let built = crate::stack::cli_on(&moto.endpoint, &args);
    assert!(built.status.success(), "{}", text(&built));
    let stdout = String::from_utf8_lossy(&built.stdout);
    let location = "s3://org-lake/warehouse/trailrelay.db/cloudtrail";
    assert!(stdout.contains(location), "{stdout}");
    assert!(!out.path().join("lake").exists(), "nothing local");

    let table = oracle_with(&["--glue", &moto.endpoint]);
    assert_once_each(&input, &table);
    let windows = commits(&table);
    assert!(!windows.is_empty());
    // The manifests are beside the table in S3, where validation reads them.
    let listed =
        c.s3.list_objects_v2()
            .bucket("org-lake")
            .prefix("warehouse/trailrelay.db/cloudtrail/_lake/windows/")
            .send()
            .await
            .unwrap();
    let manifests = listed
        .contents()
        .iter()
        .filter(|o| o.key().unwrap_or_default().ends_with("0001.json"))
        .count();
    assert_eq!(manifests, windows.len());
    // Again: the Glue table's commits are found, nothing is added.
    let again = crate::stack::cli_on(&moto.endpoint, &args);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(commits(&oracle_with(&["--glue", &moto.endpoint])), windows);
}

#[test]
fn a_second_writer_on_the_same_lake_stops_at_once_and_takes_nothing_from_the_first() {
    let t = trail(1, 1, 4, 10, 47);
    let first = lake(&t, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let before = oracle(&t.out);
    // A run still writing holds the lake's lock.
    let lock = std::fs::File::create(t.out.join("lake/.lock")).unwrap();
    lock.try_lock().unwrap();
    let second = lake(&t, &[]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another trailrelay lake is writing"),
        "{stderr}"
    );
    drop(lock);
    assert_eq!(oracle(&t.out)["snapshots"], before["snapshots"]);
    let third = lake(&t, &[]);
    assert!(third.status.success(), "{}", text(&third));
}

#[test]
fn a_writer_stopped_while_writing_leaves_nothing_and_its_partial_files_are_removed() {
    let t = trail(1, 1, 6, 10, 48);
    let stopped = lake_with(&t, ("TRAILRELAY_LAKE_INTERRUPT", "writing"));
    assert_eq!(stopped.status.code(), Some(1), "{}", text(&stopped));
    let pending = t
        .out
        .join("lake/warehouse/trailrelay/cloudtrail/_lake/pending.json");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&pending).unwrap()).unwrap();
    assert!(
        record["manifest"].is_null(),
        "stopped before its data files were listed"
    );
    let next = lake(&t, &[]);
    assert!(next.status.success(), "{}", text(&next));
    assert!(
        String::from_utf8_lossy(&next.stdout).contains("had not committed: its data files"),
        "{}",
        text(&next)
    );
    let table = oracle(&t.out);
    assert_exactly_once(&t, &table);
    let referenced: Vec<String> = table["data_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        parquet_files(&t.out),
        referenced,
        "no file of the stopped attempt is left"
    );
}

#[test]
fn a_table_made_again_under_the_same_records_is_refused_by_name() {
    let t = trail(1, 1, 4, 10, 49);
    let first = lake(&t, &[]);
    assert!(first.status.success(), "{}", text(&first));
    // The catalog is lost: a new run would make an empty table where the records say the
    // windows are committed.
    std::fs::remove_file(t.out.join("lake/catalog.db")).unwrap();
    let again = lake(&t, &[]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("was the table made again?"), "{stderr}");
}
