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
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
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
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
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

/// A panic after some of the message's events were accepted dead-letters the message with
/// what it had left to do, as poison does: a redrive sends that, never the first record again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_after_accepted_batches_keeps_the_continuation() {
    let w = world_with(
        RecordingLogSink::default(),
        &[("DEAD_LETTER_QUEUE_URL", DLQ_URL)],
    );
    let body =
        json!({"s3Bucket": "trail-bucket", "s3ObjectKey": [GOOD, PANICS, SPREAD]}).to_string();
    let inv = w
        .forwarder
        .handle(
            vec![queued("m", body)],
            Instant::now() + Duration::from_secs(60),
        )
        .await;
    assert!(inv.response.batch_item_failures.is_empty(), "{inv:?}");
    assert!(matches!(&inv.outcomes[0].1, MessageOutcome::DeadLettered(f) if f.cause == "panic"));
    let letters = sent(&w);
    let [dead] = &letters[..] else {
        panic!("{letters:?}")
    };
    assert_eq!(dead.queue, QueueRef::Url(DLQ_URL.into()));
    let rest: Value =
        serde_json::from_str(attribute(dead, "trailrelay.continuation").expect("a continuation"))
            .unwrap();
    let keys: Vec<&str> = rest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [PANICS, SPREAD],
        "what was left, from the object that panicked"
    );
    assert!(rest["objects"][0]["clock_ms"].is_i64(), "{rest}");
    assert_eq!(rest["routing"], w.forwarder.config().routing.as_str());
    // A panic in a message that had nothing accepted yet is poison without a continuation.
    let w = world_with(
        RecordingLogSink::default(),
        &[("DEAD_LETTER_QUEUE_URL", DLQ_URL)],
    );
    let body = json!({"s3Bucket": "trail-bucket", "s3ObjectKey": [PANICS, GOOD]}).to_string();
    w.forwarder
        .handle(
            vec![queued("m", body)],
            Instant::now() + Duration::from_secs(60),
        )
        .await;
    assert_eq!(attribute(&sent(&w)[0], "trailrelay.continuation"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_dead_letter_queue_refuses_the_message_fails_as_before() {
    let mut w = world(RecordingLogSink::default(), "1000");
    w.queue.refuse = true;
    w.forwarder = build(&w, &[("DEAD_LETTER_QUEUE_URL", DLQ_URL)]);
    let batch = vec![queued("corrupt", s3_body("trail-bucket", CORRUPT))];
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
    assert_eq!(failed(&inv), [("corrupt", ErrorClass::Poison, "gzip")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_interrupted_after_accepted_batches_continues_and_never_resends() {
    // GIVEN the second of the object's three log calls is throttled past every retry
    let logs = RecordingLogSink {
        fail_calls: vec![2],
        ..RecordingLogSink::default()
    };
    let w = world(logs, "1000");
    let batch = vec![queued(
        "m",
        // Two objects in one message: the interrupted one and one not yet started.
        json!({"s3Bucket": "trail-bucket", "s3ObjectKey": [SPREAD, GOOD]}).to_string(),
    )];
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
    // THEN the message is done, its rest enqueued on the queue it came from
    assert!(inv.response.batch_item_failures.is_empty(), "{inv:?}");
    assert!(matches!(&inv.outcomes[0].1, MessageOutcome::Continued(f) if f.cause == "throttled"));
    let sent = sent(&w);
    assert_eq!(sent.len(), 1);
    let next = &sent[0];
    assert_eq!(next.queue, QueueRef::Arn(QUEUE_ARN.into()));
    assert_eq!(next.delay_seconds, 30, "the default first delay");
    let continuation: Continuation = serde_json::from_str(&next.body).unwrap();
    assert_eq!(continuation.attempt, 1);
    let keys: Vec<&str> = continuation
        .objects
        .iter()
        .map(|o| o.key.as_str())
        .collect();
    assert_eq!(keys, [SPREAD, GOOD]);
    let expected_etag = crate::testing::fakes::etag(&w.source.objects[SPREAD]);
    assert_eq!(continuation.objects[0].version.etag, Some(expected_etag));
    assert_eq!(
        continuation.objects[0].clock_ms,
        Some(NOW_S as i64 * 1000),
        "the clock the attempt judged times by"
    );
    assert_eq!(
        continuation.objects[0].progress,
        Progress(vec![StreamProgress {
            group: "/trailrelay/cloudtrail".into(),
            stream: "o-exampleorg1_111122223333_CloudTrail_us-east-1".into(),
            accepted: 1,
        }])
    );
    assert_eq!(
        continuation.objects[1],
        ContinuedObject {
            bucket: "trail-bucket".into(),
            key: GOOD.into(),
            size: None,
            version: Default::default(),
            progress: Progress::default(),
            clock_ms: None,
            replay: false,
        }
    );
    // WHEN the continuation arrives
    let again = w
        .forwarder
        .handle(
            vec![queued("c", next.body.clone())],
            Instant::now() + Duration::from_secs(60),
        )
        .await;
    assert_eq!(again.outcomes[0].1, MessageOutcome::Done, "{again:?}");
    // THEN every event was logged exactly once, and both archive objects are whole
    let mut ids: Vec<String> = w
        .logs
        .batches
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| b.events.iter())
        .map(|e| serde_json::from_str::<Value>(&e.message).unwrap()["eventID"].to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["\"e1\"", "\"e1\"", "\"s0\"", "\"s1\"", "\"s2\""]);
    assert_eq!(again.totals.counts.events_resumed, 1);
    assert_eq!(archived(&w.archive), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_any_accepted_batch_is_retried_by_the_queue() {
    // The first call fails: nothing was accepted, so the queue's own retry repeats nothing.
    let logs = RecordingLogSink {
        fail_calls: vec![1],
        ..RecordingLogSink::default()
    };
    let w = world(logs, "1000");
    let batch = vec![queued("m", s3_body("trail-bucket", SPREAD))];
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
    assert_eq!(failed(&inv), [("m", ErrorClass::Retry, "throttled")]);
    assert!(sent(&w).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_after_accepted_batches_carries_what_was_left_for_a_redrive() {
    // GIVEN a message whose first object goes out whole and whose second is corrupt
    let w = world_with(
        RecordingLogSink::default(),
        &[("DEAD_LETTER_QUEUE_URL", DLQ_URL)],
    );
    let body = json!({"s3Bucket": "trail-bucket", "s3ObjectKey": [SPREAD, CORRUPT]}).to_string();
    let inv = w
        .forwarder
        .handle(
            vec![queued("m", body.clone())],
            Instant::now() + Duration::from_secs(60),
        )
        .await;
    // THEN the message is dead-lettered as it came, with the rest of its work beside it
    assert!(matches!(&inv.outcomes[0].1, MessageOutcome::DeadLettered(f) if f.cause == "gzip"));
    let sent = sent(&w);
    assert_eq!(sent[0].body, body);
    let rest: Continuation =
        serde_json::from_str(attribute(&sent[0], "trailrelay.continuation").unwrap()).unwrap();
    let keys: Vec<&str> = rest.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, [CORRUPT], "the forwarded object is not in it");
}

/// Archive objects committed, each with the receipt written beside it under `PREFIX/_receipts/`.
fn archived(archive: &MemoryArchive) -> usize {
    let committed = archive.committed.lock().unwrap();
    let (receipts, objects): (Vec<&String>, Vec<&String>) =
        committed.keys().partition(|k| k.contains("_receipts/"));
    assert_eq!(receipts.len(), objects.len(), "{receipts:?} {objects:?}");
    objects.len()
}

/// The first read of an announced object is of the version the notification announced: a
/// replaced object is refused as `object-changed`, never forwarded as the replacement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_a_notification_announces_is_the_one_read() {
    let w = world(RecordingLogSink::default(), "1000");
    let announced = |etag: &str| {
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "trail-bucket"}, "object": {"key": GOOD, "eTag": etag}}}]})
        .to_string()
    };
    let current = crate::testing::fakes::etag(&w.source.objects[GOOD]);
    let batch = vec![
        message("current", announced(current.trim_matches('"'))),
        message("replaced", announced("0123456789abcdef")),
    ];
    let inv = w
        .forwarder
        .handle(batch, Instant::now() + Duration::from_secs(60))
        .await;
    assert_eq!(inv.outcomes[0].1, MessageOutcome::Done);
    assert_eq!(
        failed(&inv),
        [("replaced", ErrorClass::Poison, crate::ports::OBJECT_CHANGED)]
    );
    assert_eq!(archived(&w.archive), 1, "only the version announced");
}

/// Skip counts taken under one routing are never applied under another: the continuation
/// carries the routing's fingerprint, and under a changed one the object's streams are sent
/// again from its first event (a repeat, never a loss).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_resumed_under_other_routing_sends_its_streams_again() {
    let logged = |routing: &'static str| async move {
        let w = world(RecordingLogSink::default(), "1000");
        let routing = match routing {
            "current" => w.forwarder.config().routing.clone(),
            other => other.to_owned(),
        };
        let body =
            json!({"trailrelay": "continuation", "format": 1, "attempt": 1, "routing": routing,
            "objects": [{"bucket": "trail-bucket", "key": SPREAD, "clock_ms": NOW_S as i64 * 1000,
                         "progress": [{"group": "/trailrelay/cloudtrail",
                                       "stream": "o-exampleorg1_111122223333_CloudTrail_us-east-1",
                                       "accepted": 2}]}]})
            .to_string();
        let inv = w
            .forwarder
            .handle(
                vec![queued("c", body)],
                Instant::now() + Duration::from_secs(60),
            )
            .await;
        assert!(inv.response.batch_item_failures.is_empty(), "{inv:?}");
        let batches = w.logs.batches.lock().unwrap();
        batches.iter().map(|b| b.events.len()).sum::<usize>()
    };
    assert_eq!(logged("current").await, 1, "two of three skipped");
    assert_eq!(
        logged("0123456789abcdef0123456789abcdef").await,
        3,
        "all sent again"
    );
    // Three different settings, three fingerprints; the same, one.
    let routing = |env: &[(&'static str, &'static str)]| {
        let w = world_with(RecordingLogSink::default(), env);
        w.forwarder.config().routing.clone()
    };
    let plain = routing(&[]);
    assert_eq!(plain, routing(&[]));
    for changed in [
        &[("LOG_STREAM", "{account_id}")][..],
        &[("LOG_GROUP_RETENTION_DAYS", "3")][..],
        &[(
            "RULES",
            r#"{"Routes":[{"Name":"r","FilterPattern":"{ $.eventID = s1 }","Logs":"drop"}]}"#,
        )][..],
    ] {
        assert_ne!(routing(changed), plain, "{changed:?}");
    }
}

/// A continuation counts only from the roles allowed to continue work: from anyone else it is
/// dead-lettered as forged and none of its skip counts hides an event; from an allowed role's
/// session it resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_from_another_sender_is_dead_lettered_as_forged() {
    const FORWARDER_ROLE: &str = "AROAFORWARDERROLE01";
    let run = |sender: Option<&'static str>| async move {
        let w = world_with(
            RecordingLogSink::default(),
            &[
                (
                    "CONTINUATION_SENDERS",
                    "AROAREPLAYROLE00001,AROAFORWARDERROLE01",
                ),
                ("DEAD_LETTER_QUEUE_URL", DLQ_URL),
            ],
        );
        // Skips every event of SPREAD's stream: forged, it would hide all three.
        let body = json!({"trailrelay": "continuation", "format": 1, "attempt": 1,
            "routing": w.forwarder.config().routing,
            "objects": [{"bucket": "trail-bucket", "key": SPREAD, "clock_ms": NOW_S as i64 * 1000,
                         "progress": [{"group": "/trailrelay/cloudtrail",
                                       "stream": "o-exampleorg1_111122223333_CloudTrail_us-east-1",
                                       "accepted": 3}]}]})
        .to_string();
        let mut message = queued("c", body);
        if let Some(sender) = sender {
            message.attributes.insert(SENDER_ID.into(), sender.into());
        }
        let inv = w
            .forwarder
            .handle(vec![message], Instant::now() + Duration::from_secs(60))
            .await;
        (
            inv.outcomes[0].1.clone(),
            *w.logs.calls.lock().unwrap(),
            sent(&w),
        )
    };
    for forged in [
        None,
        Some("AIDAOPERATORUSER0001"),
        Some("AROAOTHERROLE000001:x"),
    ] {
        let (outcome, log_calls, sent) = run(forged).await;
        let MessageOutcome::DeadLettered(failure) = outcome else {
            panic!("{forged:?}: {outcome:?}")
        };
        assert_eq!(failure.cause, "forged-continuation", "{forged:?}");
        assert_eq!(log_calls, 0, "{forged:?}: nothing read, nothing skipped");
        assert_eq!(sent.len(), 1);
        assert_eq!(
            attribute(&sent[0], "trailrelay.cause"),
            Some("forged-continuation")
        );
        assert_eq!(attribute(&sent[0], "trailrelay.continuation"), None);
    }
    let (outcome, _, sent) = run(Some(Box::leak(
        format!("{FORWARDER_ROLE}:trailrelay-forwarder").into_boxed_str(),
    )))
    .await;
    assert_eq!(outcome, MessageOutcome::Done);
    assert!(sent.is_empty(), "{sent:?}");
}
