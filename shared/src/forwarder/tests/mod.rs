use std::collections::HashMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::*;
use crate::notification::{Continuation, ContinuedObject};
use crate::pipeline::{Progress, StreamProgress};
use crate::ports::{Outgoing, QueueRef};
use crate::testing::fakes::{
    FixedClock, MemoryArchive, MemorySource, RecordingLogSink, RecordingQueue,
};

const GOOD: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                    111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";
const CORRUPT: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                       111122223333_CloudTrail_us-east-1_20261101T0010Z_corruptcorrupt00.json.gz";
const PANICS: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                      111122223333_CloudTrail_us-east-1_20261101T0015Z_panicpanicpanic0.json.gz";

/// Three records a day apart: three log batches (one call spans at most 24 hours).
const SPREAD: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                      111122223333_CloudTrail_us-east-1_20261101T0025Z_spreadspreadspre.json.gz";

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
    sqs_message(id, &body, None)
}

/// 2026-11-06T00:00:00Z: every record of the fixtures (1 to 5 November) is within the 14 days
/// CloudWatch Logs takes.
const NOW_S: u64 = 1_793_923_200;

const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:111122223333:trailrelay-queue";
const DLQ_URL: &str = "https://sqs.us-east-1.amazonaws.com/111122223333/trailrelay-dlq";

/// A message as Lambda delivers it from the forwarder's queue.
fn queued(id: &str, body: String) -> SqsMessage {
    sqs_message(id, &body, Some(QUEUE_ARN))
}

type TestForwarder =
    Forwarder<MemorySource, RecordingLogSink, MemoryArchive, FixedClock, RecordingQueue>;

struct World {
    forwarder: TestForwarder,
    logs: RecordingLogSink,
    archive: MemoryArchive,
    queue: RecordingQueue,
    source: MemorySource,
}

impl World {
    /// One invocation of `batch`, given a minute.
    async fn deliver(&self, batch: Vec<SqsMessage>) -> Invocation {
        self.forwarder
            .handle(batch, Instant::now() + Duration::from_secs(60))
            .await
    }
}

fn spread_records() -> Vec<Value> {
    [
        "2026-11-01T00:00:00Z",
        "2026-11-03T00:00:00Z",
        "2026-11-05T00:00:00Z",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| json!({"eventTime": t, "eventID": format!("s{i}"), "eventName": "X"}))
    .collect()
}

/// A forwarder over the world's ports, with `env` over the test defaults.
fn build(w: &World, env: &[(&'static str, &'static str)]) -> TestForwarder {
    forwarder(&w.source, &w.logs, &w.archive, &w.queue, env)
}

fn forwarder(
    source: &MemorySource,
    logs: &RecordingLogSink,
    archive: &MemoryArchive,
    queue: &RecordingQueue,
    env: &[(&'static str, &'static str)],
) -> TestForwarder {
    let mut vars = HashMap::from([
        ("ALLOWED_BUCKETS", "trail-bucket"),
        ("ARCHIVE_BUCKET", "archive-bucket"),
        ("DEADLINE_GRACE_MS", "1000"),
        ("MESSAGE_CONCURRENCY", "3"),
    ]);
    vars.extend(env.iter().copied());
    let config = Config::from_lookup(|n| vars.get(n).map(|v| (*v).to_owned())).unwrap();
    Forwarder::new(
        Ports {
            source: source.clone(),
            logs: logs.clone(),
            archive: archive.clone(),
            clock: FixedClock(NOW_S),
            queue: queue.clone(),
        },
        config,
    )
}

fn world(logs: RecordingLogSink, grace_ms: &'static str) -> World {
    world_with(logs, &[("DEADLINE_GRACE_MS", grace_ms)])
}

fn world_with(logs: RecordingLogSink, env: &[(&'static str, &'static str)]) -> World {
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
            (
                SPREAD.to_owned(),
                gzip(&serde_json::to_vec(&json!({"Records": spread_records()})).unwrap()),
            ),
        ]),
        panic_on: vec![PANICS.to_owned()],
        slow: vec![(SLOW.to_owned(), Duration::from_millis(3400))],
    };
    let (archive, queue) = (MemoryArchive::default(), RecordingQueue::default());
    World {
        forwarder: forwarder(&source, &logs, &archive, &queue, env),
        logs,
        archive,
        queue,
        source,
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
    let batch = vec![
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
    ];
    // WHEN it is handled
    let inv = w.deliver(batch).await;
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
    assert_eq!(archived(&w.archive), 1);
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
    let batch = vec![message("m", s3_body("trail-bucket", GOOD))];
    let inv = w.deliver(batch).await;
    assert_eq!(failed(&inv), [("m", ErrorClass::Retry, "throttled")]);
    assert_eq!(archived(&w.archive), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_deadline_messages_are_reported_failed_not_abandoned() {
    let w = world(RecordingLogSink::default(), "1000");
    let batch = vec![
        message("a", s3_body("trail-bucket", GOOD)),
        message("b", s3_body("trail-bucket", GOOD)),
    ];
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
    // 30 s of grace, 8 s to live: the grace shrinks to three quarters of the time left.
    let w = world(RecordingLogSink::default(), "30000");
    let batch = vec![message("a", s3_body("trail-bucket", GOOD))];
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(8))
        .await;
    assert_eq!(inv.outcomes[0].1, MessageOutcome::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_metrics_are_embedded_metric_format() {
    let w = world(RecordingLogSink::default(), "1000");
    let batch = vec![
        message("good", s3_body("trail-bucket", GOOD)),
        message("bad", "x".into()),
    ];
    let inv = w.deliver(batch).await;
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
        event.records[0].message_id.as_deref(),
        Some("059f36b4-87a3-44ab-83d2-661975830a7d")
    );
    assert!(
        event.records[0]
            .event_source_arn
            .as_deref()
            .is_some_and(|arn| arn.starts_with("arn:aws:sqs:"))
    );
    let response: SqsBatchResponse = serde_json::from_str(
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
    w.forwarder = build(
        &w,
        &[
            ("DEADLINE_GRACE_MS", env_grace),
            ("MESSAGE_CONCURRENCY", "1"),
        ],
    );
    let batch = vec![
        message("first", s3_body("trail-bucket", GOOD)),
        message("slow", s3_body("trail-bucket", SLOW)),
        message("never-started", s3_body("trail-bucket", GOOD)),
    ];
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
        archived(&w.archive),
        1,
        "only the finished object's archive object"
    );
}

/// A call that outlives its bound (the second of three batches hangs past the deadline) does
/// not cost the message its continuation: when the continuation is due it goes out with what
/// the streams accepted, and the message is done, not redelivered whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_still_running_when_the_continuation_is_due_is_continued_from_what_was_accepted() {
    let logs = RecordingLogSink {
        slow_calls: vec![(2, Duration::from_secs(6))],
        ..RecordingLogSink::default()
    };
    let w = world(logs, "1000");
    let batch = vec![queued("m", s3_body("trail-bucket", SPREAD))];
    // 4 s to live, 1 s of grace: the continuation is due about half a second before the end.
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(4))
        .await;
    let MessageOutcome::Continued(failure) = &inv.outcomes[0].1 else {
        panic!("{:?}", inv.outcomes)
    };
    assert_eq!(failure.cause, "deadline");
    assert_eq!(
        failure.object.as_deref(),
        Some(format!("s3://trail-bucket/{SPREAD}").as_str())
    );
    assert!(inv.response.batch_item_failures.is_empty(), "{inv:?}");
    let sent = sent(&w);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].queue, QueueRef::Arn(QUEUE_ARN.into()));
    let continuation: Continuation = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(continuation.objects.len(), 1);
    assert_eq!(
        continuation.objects[0].progress.total(),
        1,
        "the first batch's one event, accepted before the hang"
    );
}

/// What the queue port was given, in order.
fn sent(w: &World) -> Vec<Outgoing> {
    w.queue.sent.lock().unwrap().clone()
}

fn attribute<'a>(message: &'a Outgoing, name: &str) -> Option<&'a str> {
    message
        .attributes
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_goes_to_the_dead_letter_queue_at_once_and_is_done() {
    let logs = RecordingLogSink::default();
    let w = world_with(logs, &[("DEAD_LETTER_QUEUE_URL", DLQ_URL)]);
    let corrupt = queued("corrupt", s3_body("trail-bucket", CORRUPT));
    let batch = vec![corrupt.clone(), queued("garbage", "hello".into())];
    let inv = w.deliver(batch).await;
    // Reported done: never received again, never re-sends anything.
    assert!(inv.response.batch_item_failures.is_empty(), "{inv:?}");
    assert!(matches!(&inv.outcomes[0].1, MessageOutcome::DeadLettered(f) if f.cause == "gzip"));
    assert_eq!(inv.message_counts()["dead-lettered"], 2);
    let mut sent = sent(&w);
    sent.sort_by_key(|m| attribute(m, "trailrelay.message-id").map(str::to_owned));
    assert_eq!(sent.len(), 2);
    let dead = &sent[0];
    assert_eq!(dead.queue, QueueRef::Url(DLQ_URL.into()));
    assert_eq!(
        Some(&dead.body),
        corrupt.body.as_ref(),
        "the body unchanged"
    );
    assert_eq!(attribute(dead, "trailrelay.cause"), Some("gzip"));
    assert_eq!(attribute(dead, "trailrelay.class"), Some("poison"));
    assert_eq!(attribute(dead, "trailrelay.message-id"), Some("corrupt"));
    assert_eq!(attribute(dead, "trailrelay.source-queue"), Some(QUEUE_ARN));
    assert_eq!(
        attribute(dead, "trailrelay.object"),
        Some(format!("s3://trail-bucket/{CORRUPT}").as_str())
    );
    assert!(
        attribute(dead, "trailrelay.error")
            .unwrap()
            .contains("corrupt or truncated gzip")
    );
    assert_eq!(
        attribute(&sent[1], "trailrelay.cause"),
        Some("not-json-message")
    );
    assert_eq!(attribute(&sent[1], "trailrelay.object"), None);
}

/// Archive objects committed, each with the receipt written beside it under `PREFIX/_receipts/`.
fn archived(archive: &MemoryArchive) -> usize {
    let committed = archive.committed.lock().unwrap();
    let (receipts, objects): (Vec<&String>, Vec<&String>) =
        committed.keys().partition(|k| k.contains("_receipts/"));
    assert_eq!(receipts.len(), objects.len(), "{receipts:?} {objects:?}");
    objects.len()
}

mod continuations;

/// The queues continuations may go to are looked up before any work, once each: at the
/// deadline, sending a continuation is then the one call the grace allows for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_a_batch_came_from_are_prepared_before_any_work() {
    let w = world(RecordingLogSink::default(), "1000");
    let batch = vec![
        queued("a", s3_body("trail-bucket", GOOD)),
        queued("b", s3_body("trail-bucket", GOOD)),
        message("local", s3_body("trail-bucket", GOOD)),
    ];
    let inv = w.deliver(batch).await;
    assert!(inv.response.batch_item_failures.is_empty(), "{inv:?}");
    assert_eq!(
        *w.queue.prepared.lock().unwrap(),
        [QueueRef::Arn(QUEUE_ARN.into())]
    );
}
