use std::io::Read;

use flate2::read::GzDecoder;
use serde_json::{Value, json};

use super::*;
use crate::batch::MAX_EVENT_BYTES;
use crate::testing::fakes::{FixedClock, MemoryArchive, MemorySource, RecordingLogSink, object};

const KEY: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                   111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";
const NOW: u64 = 1_793_491_200; // 2026-11-01T00:00:00Z

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn record(i: usize, time: &str) -> Value {
    json!({"eventVersion": "1.09", "eventTime": time, "eventSource": "s3.amazonaws.com",
           "eventName": "GetObject", "eventID": format!("id-{i}"), "awsRegion": "us-east-1",
           "recipientAccountId": "111122223333", "eventCategory": "Data", "readOnly": true})
}

fn document(records: &[Value]) -> Vec<u8> {
    gzip(&serde_json::to_vec(&json!({"Records": records})).unwrap())
}

fn gunzip_lines(bytes: &[u8]) -> Vec<Value> {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

struct World {
    source: MemorySource,
    logs: RecordingLogSink,
    archive: MemoryArchive,
    settings: Settings,
}

impl World {
    fn new(objects: &[(&str, Vec<u8>)]) -> Self {
        Self {
            source: MemorySource {
                objects: objects
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                panic_on: Vec::new(),
                slow: Vec::new(),
            },
            logs: RecordingLogSink::default(),
            archive: MemoryArchive::default(),
            settings: Settings::default(),
        }
    }

    fn forward(&self, key: &str) -> ObjectReport {
        self.forward_until(key, None)
    }

    fn forward_until(&self, key: &str, deadline: Option<std::time::Instant>) -> ObjectReport {
        Pipeline {
            source: &self.source,
            logs: &self.logs,
            archive: &self.archive,
            clock: &FixedClock(NOW),
            settings: &self.settings,
            deadline,
        }
        .forward(&object(key))
    }

    fn logged(&self) -> Vec<(String, String, i64, Value)> {
        self.logs
            .batches
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| {
                b.events.iter().map(|e| {
                    (
                        b.group.clone(),
                        b.stream.clone(),
                        e.timestamp_ms,
                        serde_json::from_str(&e.message).unwrap(),
                    )
                })
            })
            .collect()
    }
}

#[test]
fn every_record_reaches_logs_and_archive_once() {
    // GIVEN an object whose records are out of time order
    let records: Vec<Value> = [3, 1, 2]
        .iter()
        .map(|m| record(*m, &format!("2026-11-01T00:0{m}:00Z")))
        .collect();
    let world = World::new(&[(KEY, document(&records))]);
    // WHEN it is forwarded
    let report = world.forward(KEY);
    // THEN the archive holds one line per record, in file order, with its source index
    let Outcome::Forwarded { archive_key } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert_eq!(
        archive_key,
        "org=o-exampleorg1/account=111122223333/region=us-east-1/date=2026-11-01/\
         111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.ndjson.gz"
    );
    let lines = gunzip_lines(&world.archive.committed.lock().unwrap()[archive_key]);
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["record"], records[i]);
        assert_eq!(line["source"]["index"], i);
        assert_eq!(line["source"]["bucket"], "trail-bucket");
        assert_eq!(line["category"], "Data");
    }
    // AND the log stream got them once each, sorted by time, under CloudTrail's naming
    let logged = world.logged();
    let times: Vec<i64> = logged.iter().map(|l| l.2).collect();
    assert_eq!(
        times,
        [1_793_491_260_000, 1_793_491_320_000, 1_793_491_380_000]
    );
    assert!(logged.iter().all(|l| l.0 == "/trailrelay/cloudtrail"
        && l.1 == "o-exampleorg1_111122223333_CloudTrail_us-east-1"));
    let ids: Vec<&str> = logged
        .iter()
        .map(|l| l.3["eventID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["id-1", "id-2", "id-3"]);
    assert_eq!(
        report.counts,
        Counts {
            bytes_read: world.source.objects[KEY].len() as u64,
            bytes_decoded: serde_json::to_vec(&json!({"Records": records}))
                .unwrap()
                .len() as u64,
            records: 3,
            events_logged: 3,
            events_rejected: 0,
            events_too_large: 0,
            log_batches: 1,
            events_archived: 3,
        }
    );
}

#[test]
fn records_without_a_time_take_the_clock() {
    let world = World::new(&[(KEY, document(&[json!({"eventName": "X"})]))]);
    world.forward(KEY);
    assert_eq!(world.logged()[0].2, NOW as i64 * 1000);
}

#[test]
fn digests_and_non_json_objects_are_skipped_untouched() {
    let digest = "AWSLogs/o-exampleorg1/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/\
                  111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261101T000000Z.json.gz";
    let world = World::new(&[]);
    let report = world.forward(digest);
    assert!(matches!(
        report.outcome,
        Outcome::Skipped(SkipReason::Digest)
    ));
    let report = world.forward("AWSLogs/111122223333/CloudTrail/ConfigWritabilityCheckFile");
    assert!(matches!(
        report.outcome,
        Outcome::Skipped(SkipReason::NotALogFile)
    ));
    assert_eq!(*world.logs.calls.lock().unwrap(), 0);
}

#[test]
fn corrupt_object_fails_as_poison_and_leaves_no_archive_object() {
    let mut bytes = document(&[record(1, "2026-11-01T00:00:00Z")]);
    bytes.truncate(bytes.len() - 12);
    let world = World::new(&[(KEY, bytes)]);
    let report = world.forward(KEY);
    let Outcome::Failed(e) = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!((e.cause(), e.class()), ("gzip", ErrorClass::Poison));
    assert!(world.archive.committed.lock().unwrap().is_empty());
}

#[test]
fn invalid_record_fails_with_its_index() {
    let doc = br#"{"Records":[{"eventName":"A"},{"eventName":tru}]}"#;
    let world = World::new(&[(KEY, gzip(doc))]);
    let report = world.forward(KEY);
    let Outcome::Failed(e) = &report.outcome else {
        panic!()
    };
    assert_eq!(e.cause(), "invalid-record");
    assert!(
        e.to_string().starts_with("record 1 is not valid JSON"),
        "{e}"
    );
}

#[test]
fn missing_object_fails_as_the_source_classifies_it() {
    let world = World::new(&[]);
    let Outcome::Failed(e) = world.forward(KEY).outcome else {
        panic!()
    };
    assert_eq!((e.cause(), e.class()), ("not-found", ErrorClass::Poison));
}

#[test]
fn throttled_log_call_fails_the_object_for_retry_without_archive_object() {
    let mut world = World::new(&[(KEY, document(&[record(1, "2026-11-01T00:00:00Z")]))]);
    world.logs.fail_calls = vec![1];
    let Outcome::Failed(e) = world.forward(KEY).outcome else {
        panic!()
    };
    assert_eq!((e.cause(), e.class()), ("throttled", ErrorClass::Retry));
    assert!(world.archive.committed.lock().unwrap().is_empty());
}

#[test]
fn rejected_and_oversized_events_are_counted_and_archived() {
    let mut big = record(9, "2026-11-01T00:00:00Z");
    big["requestParameters"] = json!({"pad": "p".repeat(MAX_EVENT_BYTES)});
    let records = vec![
        record(1, "2026-10-01T00:00:00Z"),
        record(2, "2026-11-01T00:00:00Z"),
        big,
    ];
    let mut world = World::new(&[(KEY, document(&records))]);
    world.settings.limits.max_record_bytes = 2 * MAX_EVENT_BYTES;
    world.logs.reject_before_ms = Some(1_791_000_000_000);
    let report = world.forward(KEY);
    assert!(
        matches!(report.outcome, Outcome::Forwarded { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.counts.events_rejected, 1);
    assert_eq!(report.counts.events_too_large, 1);
    assert_eq!(report.counts.events_logged, 1);
    assert_eq!(report.counts.events_archived, 3);
}

#[test]
fn forward_all_totals_by_outcome_and_cause() {
    let other = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/eu-west-1/2026/11/01/\
                 111122223333_CloudTrail_eu-west-1_20261101T0005Z_abcdEFGH12345678.json.gz";
    let world = World::new(&[
        (
            KEY,
            document(&[
                record(1, "2026-11-01T00:00:00Z"),
                record(2, "2026-11-01T00:00:00Z"),
            ]),
        ),
        (other, b"not json".to_vec()),
    ]);
    let objects = vec![
        object(KEY),
        object(other),
        object("missing.json.gz"),
        object("notes.txt"),
    ];
    let seen = Mutex::new(Vec::new());
    let pipeline = Pipeline {
        source: &world.source,
        logs: &world.logs,
        archive: &world.archive,
        clock: &FixedClock(NOW),
        settings: &world.settings,
        deadline: None,
    };
    let totals = pipeline.forward_all(&objects, 3, &|r| {
        seen.lock().unwrap().push(r.object.key.clone())
    });
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert_eq!(totals.forwarded, 1);
    assert_eq!(totals.counts.records, 2);
    assert_eq!(totals.skipped, vec![(SkipReason::NotALogFile, 1)]);
    let mut failed = totals.failed.clone();
    failed.sort();
    assert_eq!(
        failed,
        vec![
            ("not-found", ErrorClass::Poison, 1),
            ("not-json", ErrorClass::Poison, 1)
        ]
    );
}

#[test]
fn rules_route_events_and_name_themselves_in_the_archive() {
    // GIVEN a metric filter on writes and routes: data reads to the archive only, one event
    // nowhere, PutRolePolicy to its own log group
    let rules = serde_json::json!({
        "MetricFilters": [{"FilterName": "policy-changes", "FilterPattern": "{ $.eventName = PutRolePolicy }",
                           "MetricTransformations": [{"MetricName": "PolicyChanges", "MetricNamespace": "Audit", "MetricValue": "1"}]}],
        "Routes": [
            {"Name": "reads-archive-only", "FilterPattern": "{ $.readOnly IS TRUE }", "Logs": "drop"},
            {"Name": "noise", "FilterPattern": "\"id-drop\"", "Logs": "drop", "Archive": "drop"},
            {"Name": "iam", "FilterPattern": "{ $.eventSource = iam.amazonaws.com }", "LogGroup": "/trailrelay/iam"}
        ]
    });
    let file = crate::rules::RulesFile::from_json(&rules.to_string(), "test").unwrap();
    let records = vec![
        record(1, "2026-11-01T00:00:01Z"),
        json!({"eventName": "PutRolePolicy", "eventSource": "iam.amazonaws.com", "eventID": "id-put", "eventTime": "2026-11-01T00:00:02Z"}),
        json!({"eventName": "X", "eventID": "id-drop", "eventTime": "2026-11-01T00:00:03Z"}),
    ];
    let mut world = World::new(&[(KEY, document(&records))]);
    world.settings.rules = crate::rules::RuleSet::compile(&file, Default::default()).unwrap();
    // WHEN the object is forwarded
    let report = world.forward(KEY);
    // THEN the archive keeps two events, each naming the rules it matched
    let Outcome::Forwarded { archive_key } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    let lines = gunzip_lines(&world.archive.committed.lock().unwrap()[archive_key]);
    let rules: Vec<(&str, Value)> = lines
        .iter()
        .map(|l| (l["event_id"].as_str().unwrap(), l["rules"].clone()))
        .collect();
    assert_eq!(
        rules,
        [
            ("id-1", json!(["reads-archive-only"])),
            ("id-put", json!(["policy-changes", "iam"]))
        ]
    );
    // AND CloudWatch Logs gets only the IAM event, in the route's log group
    let logged = world.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(
        (logged[0].0.as_str(), logged[0].3["eventID"].as_str()),
        ("/trailrelay/iam", Some("id-put"))
    );
    // AND the counts say what happened
    assert_eq!(report.rule_stats.filter_matches, [1]);
    assert_eq!(report.rule_stats.route_matches, [1, 1, 1]);
    assert_eq!(
        (
            report.rule_stats.dropped_from_logs,
            report.rule_stats.dropped_from_archive
        ),
        (2, 1)
    );
    assert_eq!(
        (
            report.counts.records,
            report.counts.events_archived,
            report.counts.events_logged
        ),
        (3, 2, 1)
    );
}

#[test]
fn a_passed_deadline_fails_the_object_for_retry() {
    let world = World::new(&[(KEY, document(&[record(1, "2026-11-01T00:00:00Z")]))]);
    let report = world.forward_until(KEY, Some(std::time::Instant::now()));
    let Outcome::Failed(e) = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!((e.cause(), e.class()), ("deadline", ErrorClass::Retry));
    assert!(world.archive.committed.lock().unwrap().is_empty());
    assert_eq!(*world.logs.calls.lock().unwrap(), 0);
}
