use std::io::Read;

use flate2::read::GzDecoder;
use serde_json::{Value, json};

use super::*;
use crate::batch::MAX_EVENT_BYTES;
use crate::testing::fakes::{
    FixedClock, MemoryArchive, MemorySource, RecordingLogSink, RecordingReceipts, object,
};

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
    receipts: RecordingReceipts,
    settings: Settings,
    clock: FixedClock,
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
            receipts: RecordingReceipts::default(),
            settings: Settings::default(),
            clock: FixedClock(NOW),
        }
    }

    fn forward(&self, key: &str) -> ObjectReport {
        self.forward_until(key, None)
    }

    fn forward_until(&self, key: &str, deadline: Option<std::time::Instant>) -> ObjectReport {
        self.pipeline(deadline).forward(&object(key))
    }

    fn resume(
        &self,
        object: &ObjectRef,
        progress: &Progress,
        clock_ms: Option<i64>,
    ) -> ObjectReport {
        self.pipeline(None).resume(object, progress, clock_ms)
    }

    fn pipeline(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Pipeline<'_, MemorySource, RecordingLogSink, MemoryArchive, FixedClock> {
        Pipeline {
            source: &self.source,
            logs: &self.logs,
            archive: &self.archive,
            receipts: &self.receipts,
            clock: &self.clock,
            settings: &self.settings,
            deadline,
        }
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
    let Outcome::Forwarded { archive_key, .. } = &report.outcome else {
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
            events_too_old: 0,
            events_too_new: 0,
            log_batches: 1,
            events_archived: 3,
            events_resumed: 0,
            records_quarantined: 0,
            events_key_mismatch: 0,
            events_without_time: 0,
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
fn records_that_are_not_json_are_quarantined_and_the_file_goes_on() {
    // GIVEN a file whose second record is not JSON and whose third is not UTF-8
    let doc = b"{\"Records\":[{\"eventName\":\"A\"},{\"eventName\":tru},{\"eventName\":\"\xff\"},{\"eventName\":\"D\"}]}";
    let world = World::new(&[(KEY, gzip(doc))]);
    // WHEN it is forwarded
    let report = world.forward(KEY);
    // THEN the file is forwarded, the good records everywhere, the bad ones beside the archive
    let Outcome::Forwarded {
        archive_key,
        quarantine_key: Some(quarantine_key),
    } = &report.outcome
    else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!(
        quarantine_key,
        &quarantine::quarantine_key("", archive_key),
        "beside the archive object"
    );
    assert_eq!(report.counts.records, 4);
    assert_eq!(report.counts.records_quarantined, 2);
    assert_eq!(report.counts.events_logged, 2);
    let committed = world.archive.committed.lock().unwrap();
    let archived: Vec<Value> = gunzip_lines(&committed[archive_key])
        .into_iter()
        .map(|l| l["record"]["eventName"].clone())
        .collect();
    assert_eq!(archived, [json!("A"), json!("D")]);
    let kept = gunzip_lines(&committed[quarantine_key]);
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0]["source"]["index"], 1);
    assert_eq!(kept[0]["text"], r#"{"eventName":tru}"#);
    assert!(
        kept[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("record 1 is not valid JSON: expected true, false or null at byte 13"),
        "{}",
        kept[0]["error"]
    );
    assert_eq!(kept[1]["source"]["index"], 2);
    assert_eq!(kept[1]["base64"], "eyJldmVudE5hbWUiOiL/In0=");
    assert_eq!(kept[1]["source"]["key"], KEY);
}

#[test]
fn json_that_serde_refuses_is_forwarded_unchanged() {
    // Valid JSON (RFC 8259), each beyond serde in a field the normaliser reads.
    let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let records = [
        r#"{"eventID":"n","readOnly":1e999,"eventName":"Big"}"#.to_owned(),
        r#"{"eventID":"s","userAgent":"\ud800","eventName":"Lone"}"#.to_owned(),
        r#"{"eventID":"d","eventName":"First","eventName":"Second"}"#.to_owned(),
        format!(r#"{{"eventID":"x","requestParameters":{deep},"eventName":"Deep"}}"#),
    ];
    let doc = format!(r#"{{"Records":[{}]}}"#, records.join(","));
    let world = World::new(&[(KEY, gzip(doc.as_bytes()))]);
    let report = world.forward(KEY);
    let Outcome::Forwarded {
        archive_key,
        quarantine_key: None,
    } = &report.outcome
    else {
        panic!("{:?}", report.outcome)
    };
    let sent: Vec<String> = world
        .logs
        .batches
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| b.events.iter().map(|e| e.message.to_string()))
        .collect();
    assert_eq!(sent, records, "every record as it came");
    let committed = world.archive.committed.lock().unwrap();
    let mut text = String::new();
    GzDecoder::new(&committed[archive_key][..])
        .read_to_string(&mut text)
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), records.len());
    for (line, record) in lines.iter().zip(&records) {
        assert!(line.ends_with(&format!(r#""record":{record}}}"#)), "{line}");
    }
    // The fields serde could read are derived; the others are null.
    let derived = |i: usize, field: &str| -> Value {
        let at = lines[i].find(r#","record":"#).unwrap();
        let fields: Value = serde_json::from_str(&format!("{}}}", &lines[i][..at])).unwrap();
        fields[field].clone()
    };
    assert_eq!(
        (derived(0, "action"), derived(0, "read_only")),
        (json!("Big"), Value::Null)
    );
    assert_eq!(
        (derived(1, "action"), derived(1, "user_agent")),
        (json!("Lone"), Value::Null)
    );
    assert_eq!(
        derived(2, "action"),
        json!("First"),
        "the first of repeated names"
    );
    assert_eq!(
        (derived(3, "action"), derived(3, "event_id")),
        (json!("Deep"), json!("x"))
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
        receipts: &world.receipts,
        clock: &FixedClock(NOW),
        settings: &world.settings,
        deadline: None,
    };
    let totals = pipeline.forward_all(&objects, 3, &|r| {
        seen.lock().unwrap().push(r.object.key.clone());
        true
    });
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert_eq!(totals.not_tried, 0);
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
    // One receipt: of the file forwarded wholly, hashing its decompressed bytes.
    let receipts = world.receipts.receipts.lock().unwrap();
    assert_eq!(receipts.len(), 1);
    let r = &receipts[0];
    assert_eq!((r.key.as_str(), r.records, r.events_archived), (KEY, 2, 2));
    let mut plain = Vec::new();
    GzDecoder::new(&world.source.objects[KEY][..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(
        r.sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&plain))
    );
    drop(receipts);
    // Told to stop at the first report, one thread begins nothing more.
    let seen_once = std::sync::Mutex::new(0);
    let stopped = pipeline.forward_all(&objects, 1, &|_| {
        *seen_once.lock().unwrap() += 1;
        false
    });
    assert_eq!(*seen_once.lock().unwrap(), 1);
    assert_eq!(stopped.not_tried, 3);
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
    let Outcome::Forwarded { archive_key, .. } = &report.outcome else {
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
fn a_record_claiming_another_account_lands_in_its_key_stream_and_is_counted() {
    // GIVEN a file of account 111122223333 in us-east-1 holding a record that claims another
    // account and region
    let mut spoof = record(2, "2026-11-01T00:00:00Z");
    spoof["recipientAccountId"] = json!("999999999999");
    spoof["awsRegion"] = json!("eu-west-1");
    let world = World::new(&[(KEY, document(&[record(1, "2026-11-01T00:00:00Z"), spoof]))]);
    let report = world.forward(KEY);
    // THEN both events go to the key's stream, and the claim is counted
    let streams: Vec<String> = world.logged().into_iter().map(|l| l.1).collect();
    assert_eq!(
        streams, ["o-exampleorg1_111122223333_CloudTrail_us-east-1"; 2],
        "never the claimed account's stream"
    );
    assert_eq!(report.counts.events_key_mismatch, 1);
    // AND the archive line keeps the record's claim beside the key's partition
    let Outcome::Forwarded { archive_key, .. } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert!(archive_key.contains("/account=111122223333/region=us-east-1/"));
    let committed = world.archive.committed.lock().unwrap();
    let lines = gunzip_lines(&committed[archive_key]);
    assert_eq!(
        (lines[1]["account_id"].as_str(), lines[1]["region"].as_str()),
        (Some("999999999999"), Some("eu-west-1"))
    );
}

/// Every 2026 record kind, in its own folder, goes to its key's stream and the archive with its
/// time, id, category and account, and filter patterns see the original record.
#[test]
fn every_record_kind_is_forwarded_in_its_folder() {
    let read = |path: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(crate::testing::testdata().join(path)).unwrap();
        match serde_json::from_str(&text).unwrap() {
            Value::Array(records) => records,
            Value::Object(o) if o.contains_key("Records") => {
                o["Records"].as_array().unwrap().clone()
            }
            one => vec![one],
        }
    };
    let cases = [
        (
            "CloudTrail-Aggregated",
            "111122223333",
            "us-west-2",
            "cloudtrail/aws-docs-current/aggregated-data-events.json",
            "Aggregated",
        ),
        (
            "CloudTrail-NetworkActivity",
            "123456789012",
            "us-east-1",
            "cloudtrail/aws-docs-current/network-activity-vpce-access-denied.json",
            "NetworkActivity",
        ),
        (
            "CloudTrail-Insight",
            "123456789012",
            "us-east-1",
            "cloudtrail/aws-docs/cloudtrail-user-guide/insights-start-end-pair.json",
            "Insight",
        ),
    ];
    for (folder, account, region, path, category) in cases {
        let records = read(path);
        let key = format!(
            "AWSLogs/o-exampleorg1/{account}/{folder}/{region}/2025/11/17/\
             {account}_{folder}_{region}_20251117T1925Z_0123456789abcdef.json.gz"
        );
        let rules = json!({"MetricFilters": [{"FilterName": "kind",
            "FilterPattern": format!("{{ $.eventCategory = \"{category}\" }}"),
            "MetricTransformations": [{"MetricName": "Kind", "MetricNamespace": "Test", "MetricValue": "1"}]}]});
        let file = crate::rules::RulesFile::from_json(&rules.to_string(), "test").unwrap();
        let mut world = World::new(&[(&key, document(&records))]);
        world.settings.rules = crate::rules::RuleSet::compile(&file, Default::default()).unwrap();
        // A clock an hour after the documented examples' times.
        let first = records[0]["eventTime"]
            .as_str()
            .or(records[0]["timeWindow"]["windowStart"].as_str())
            .unwrap();
        world.clock = FixedClock((crate::testing::epoch_ms(first) / 1000 + 3600) as u64);
        let report = world.forward(&key);
        let Outcome::Forwarded { archive_key, .. } = &report.outcome else {
            panic!("{folder}: {:?}", report.outcome)
        };
        assert_eq!(
            report.rule_stats.matches().next(),
            Some(records.len() as u64),
            "{folder}"
        );
        let stream = format!("o-exampleorg1_{account}_CloudTrail_{region}");
        let logged = world.logged();
        assert_eq!(logged.len(), records.len(), "{folder}");
        let lines = gunzip_lines(&world.archive.committed.lock().unwrap()[archive_key]);
        for ((line, logged), record) in lines.iter().zip(&logged).zip(&records) {
            assert_eq!(logged.1, stream, "{folder}");
            assert_eq!(&logged.3, record, "{folder}: the record as it came");
            let time = record["eventTime"]
                .as_str()
                .or(record["timeWindow"]["windowStart"].as_str())
                .unwrap();
            assert_eq!(logged.2, crate::testing::epoch_ms(time), "{folder}");
            assert_eq!(line["time"].as_str().unwrap().get(..19), time.get(..19));
            let id = record["eventID"].as_str().or(record["eventId"].as_str());
            assert_eq!(line["event_id"].as_str(), id, "{folder}");
            assert_eq!(line["category"], category, "{folder}");
            assert_eq!(line["rules"], json!(["kind"]), "{folder}");
        }
    }
}

#[test]
fn a_file_outside_the_layout_names_no_account_from_its_records() {
    let key = "uploads/whatever.json.gz";
    let world = World::new(&[(key, document(&[record(1, "2026-11-01T00:00:00Z")]))]);
    let report = world.forward(key);
    assert!(matches!(report.outcome, Outcome::Forwarded { .. }));
    let streams: Vec<String> = world.logged().into_iter().map(|l| l.1).collect();
    assert_eq!(streams, ["CloudTrail"], "not the record's 111122223333");
}

mod deadline;
mod logs;
