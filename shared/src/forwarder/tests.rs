use std::collections::HashMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::*;
use crate::testing::fakes::{FixedClock, MemoryArchive, MemorySource, RecordingLogSink};

const GOOD: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                    111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";
const CORRUPT: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                       111122223333_CloudTrail_us-east-1_20261101T0010Z_corruptcorrupt00.json.gz";
const PANICS: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                      111122223333_CloudTrail_us-east-1_20261101T0015Z_panicpanicpanic0.json.gz";

const SLOW: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                    111122223333_CloudTrail_us-east-1_20261101T0020Z_slowslowslowslow.json.gz";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn s3_body(bucket: &str, key: &str) -> String {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                        "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]})
    .to_string()
}

fn message(id: &str, body: String) -> SqsMessage {
    SqsMessage {
        message_id: id.into(),
        body,
    }
}

struct World {
    forwarder: Forwarder<MemorySource, RecordingLogSink, MemoryArchive, FixedClock>,
    logs: RecordingLogSink,
    archive: MemoryArchive,
}

fn world(logs: RecordingLogSink, grace_ms: &str) -> World {
    let record = json!({"eventTime": "2026-11-01T00:00:00Z", "eventID": "e1", "eventName": "X"});
    let mut corrupt = gzip(&serde_json::to_vec(&json!({"Records": [record]})).unwrap());
    corrupt.truncate(corrupt.len() - 9);
    let source = MemorySource {
        objects: HashMap::from([
            (
                GOOD.to_owned(),
                gzip(&serde_json::to_vec(&json!({"Records": [record, record]})).unwrap()),
            ),
            (CORRUPT.to_owned(), corrupt),
            (PANICS.to_owned(), Vec::new()),
            (
                SLOW.to_owned(),
                gzip(&serde_json::to_vec(&json!({"Records": [record]})).unwrap()),
            ),
        ]),
        panic_on: vec![PANICS.to_owned()],
        slow: vec![(SLOW.to_owned(), Duration::from_millis(3400))],
    };
    let env = HashMap::from([
        ("ALLOWED_BUCKETS", "trail-bucket"),
        ("ARCHIVE_BUCKET", "archive-bucket"),
        ("DEADLINE_GRACE_MS", grace_ms),
        ("MESSAGE_CONCURRENCY", "3"),
    ]);
    let config = Config::from_lookup(|n| env.get(n).map(|v| (*v).to_owned())).unwrap();
    let archive = MemoryArchive::default();
    World {
        forwarder: Forwarder::new(
            source,
            logs.clone(),
            archive.clone(),
            FixedClock(1_793_491_200),
            config,
        ),
        logs,
        archive,
    }
}

fn failed(invocation: &Invocation) -> Vec<(&str, ErrorClass, &'static str)> {
    invocation
        .failures()
        .map(|(id, f)| (id, f.class, f.cause))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_succeeds_or_fails_alone_and_is_classified() {
    // GIVEN a batch mixing every kind of message
    let w = world(RecordingLogSink::default(), "1000");
    let batch = SqsEvent {
        records: vec![
            message("good", s3_body("trail-bucket", GOOD)),
            message(
                "test-event",
                json!({"Service": "Amazon S3", "Event": "s3:TestEvent"}).to_string(),
            ),
            message("foreign", s3_body("someone-elses-bucket", GOOD)),
            message("corrupt", s3_body("trail-bucket", CORRUPT)),
            message(
                "missing",
                s3_body(
                    "trail-bucket",
                    "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0000Z_gone.json.gz",
                ),
            ),
            message("garbage", "hello".into()),
            message("panics", s3_body("trail-bucket", PANICS)),
        ],
    };
    // WHEN it is handled
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
    // THEN exactly the failing messages are reported, each with its class and cause
    let ids: Vec<&str> = inv
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["foreign", "corrupt", "missing", "garbage", "panics"]);
    assert_eq!(
        failed(&inv),
        [
            ("foreign", ErrorClass::Poison, "bucket-not-allowed"),
            ("corrupt", ErrorClass::Poison, "gzip"),
            ("missing", ErrorClass::Poison, "not-found"),
            ("garbage", ErrorClass::Poison, "not-json-message"),
            ("panics", ErrorClass::Poison, "panic"),
        ]
    );
    assert_eq!(inv.outcomes[0].1, MessageOutcome::Done);
    assert_eq!(
        inv.outcomes[1].1,
        MessageOutcome::Acknowledged("s3-test-event")
    );
    // AND the good object reached both destinations, once
    assert_eq!(
        inv.totals.counts.records, 3,
        "two good records, one before the corruption"
    );
    assert_eq!(w.archive.committed.lock().unwrap().len(), 1);
    let logged: usize = w
        .logs
        .batches
        .lock()
        .unwrap()
        .iter()
        .map(|b| b.events.len())
        .sum();
    // The corrupt object's first record was decoded but never sent: batches leave when full or
    // when the object is done.
    assert_eq!(logged, 2);
    // AND the response serialises as Lambda expects
    let response = serde_json::to_value(&inv.response).unwrap();
    assert_eq!(
        response["batchItemFailures"][0],
        json!({"itemIdentifier": "foreign"})
    );
    let counts = inv.message_counts();
    assert_eq!(
        (
            counts["done"],
            counts["acknowledged"],
            counts["failed-poison"]
        ),
        (1, 1, 5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_fails_the_message_for_retry() {
    let logs = RecordingLogSink {
        fail_calls: vec![1],
        ..RecordingLogSink::default()
    };
    let w = world(logs, "1000");
    let batch = SqsEvent {
        records: vec![message("m", s3_body("trail-bucket", GOOD))],
    };
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
    assert_eq!(failed(&inv), [("m", ErrorClass::Retry, "throttled")]);
    assert!(w.archive.committed.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_deadline_messages_are_reported_failed_not_abandoned() {
    let w = world(RecordingLogSink::default(), "1000");
    let batch = SqsEvent {
        records: vec![
            message("a", s3_body("trail-bucket", GOOD)),
            message("b", s3_body("trail-bucket", GOOD)),
        ],
    };
    let inv = w.forwarder.handle(batch, Instant::now()).await;
    assert_eq!(
        failed(&inv),
        [
            ("a", ErrorClass::Retry, "deadline"),
            ("b", ErrorClass::Retry, "deadline")
        ]
    );
    assert_eq!(inv.response.batch_item_failures.len(), 2);
    assert_eq!(*w.logs.calls.lock().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_longer_than_the_invocation_still_leaves_time_to_work() {
    // 30 s of grace, 8 s to live: the grace shrinks to a quarter of the time left.
    let w = world(RecordingLogSink::default(), "30000");
    let batch = SqsEvent {
        records: vec![message("a", s3_body("trail-bucket", GOOD))],
    };
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(8))
        .await;
    assert_eq!(inv.outcomes[0].1, MessageOutcome::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_metrics_are_embedded_metric_format() {
    let w = world(RecordingLogSink::default(), "1000");
    let batch = SqsEvent {
        records: vec![
            message("good", s3_body("trail-bucket", GOOD)),
            message("bad", "x".into()),
        ],
    };
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
    let doc: Value = serde_json::from_str(&inv.emf(1_700_000_000_000)).unwrap();
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "trailrelay"
    );
    assert_eq!(
        (
            doc["Messages"].as_u64(),
            doc["MessagesFailedPoison"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (doc["Records"].as_u64(), doc["EventsLogged"].as_u64()),
        (Some(2), Some(2))
    );
    let declared: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert!(declared.iter().all(|name| doc.get(*name).is_some()));
}

#[test]
fn lambda_sqs_events_deserialise() {
    let text = std::fs::read_to_string(
        crate::testing::testdata().join("sqs/aws-docs/lambda-sqs-event-standard-queue.json"),
    )
    .unwrap();
    let event: SqsEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(event.records.len(), 2);
    assert_eq!(
        event.records[0].message_id,
        "059f36b4-87a3-44ab-83d2-661975830a7d"
    );
    let response: BatchResponse = serde_json::from_str(
        &std::fs::read_to_string(
            crate::testing::testdata()
                .join("sqs/aws-docs/lambda-sqs-batch-item-failures-response.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(response.batch_item_failures[1].item_identifier, "id4");
}

#[test]
fn time_given_reads_epoch_deadlines_and_emulator_timeouts() {
    let now = std::time::UNIX_EPOCH + Duration::from_millis(1_793_491_200_000);
    assert_eq!(time_given(1_793_491_230_000, now), Duration::from_secs(30));
    assert_eq!(
        time_given(1_793_491_100_000, now),
        Duration::ZERO,
        "a past deadline leaves nothing"
    );
    assert_eq!(
        time_given(600_000, now),
        Duration::from_secs(600),
        "cargo lambda watch sends the timeout"
    );
}

/// The deadline arrives while the batch is being worked on: the message done before it
/// succeeds, the one under way stops and fails for retry, the one not yet started fails for
/// retry too; none is abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_mid_batch_fails_what_is_unfinished_for_retry() {
    let env_grace = "1000";
    let mut w = world(RecordingLogSink::default(), env_grace);
    // One message at a time, so the order is fixed.
    let env = HashMap::from([
        ("ALLOWED_BUCKETS", "trail-bucket"),
        ("ARCHIVE_BUCKET", "archive-bucket"),
        ("DEADLINE_GRACE_MS", env_grace),
        ("MESSAGE_CONCURRENCY", "1"),
    ]);
    let config = Config::from_lookup(|n| env.get(n).map(|v| (*v).to_owned())).unwrap();
    let source = w.forwarder.inner.source.clone();
    w.forwarder = Forwarder::new(
        source,
        w.logs.clone(),
        w.archive.clone(),
        FixedClock(1_793_491_200),
        config,
    );
    let batch = SqsEvent {
        records: vec![
            message("first", s3_body("trail-bucket", GOOD)),
            message("slow", s3_body("trail-bucket", SLOW)),
            message("never-started", s3_body("trail-bucket", GOOD)),
        ],
    };
    // 4 s to live, 1 s of grace: work stops 3 s in, while the slow object (3.4 s to open) is
    // under way.
    let started = Instant::now();
    let inv = w
        .forwarder
        .handle(batch, started + Duration::from_secs(4))
        .await;
    assert_eq!(
        inv.outcomes[0].1,
        MessageOutcome::Done,
        "{:?}",
        inv.outcomes
    );
    assert_eq!(
        failed(&inv),
        [
            ("slow", ErrorClass::Retry, "deadline"),
            ("never-started", ErrorClass::Retry, "deadline")
        ],
        "{:?}",
        inv.outcomes
    );
    assert_eq!(
        w.archive.committed.lock().unwrap().len(),
        1,
        "only the finished object's archive object"
    );
}
