//! Delivery under faults, on moto through the real SDK clients: every failure named once and
//! put in its place (retried, continued, dead-lettered), and every event once in CloudWatch Logs
//! and in the archive across all attempts.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use trailrelay::forwarder::MessageOutcome;
use trailrelay::ports::ErrorClass;

use crate::stack::*;

/// A log file of `records` recent events of about 1 KB each: three of them fill more than one
/// PutLogEvents call (1 MiB), so the file goes out in several batches.
fn big_log_file(records: usize, tag: &str) -> (String, Vec<u8>, BTreeMap<String, Value>) {
    let now = now_s();
    let time = jiff::Timestamp::from_second(now - 600).unwrap().to_string();
    let mut input = BTreeMap::new();
    let records: Vec<Value> = (0..records)
        .map(|i| {
            let id = format!("{tag}-{i:06}");
            let r = json!({"eventVersion": "1.11", "eventTime": time, "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject", "awsRegion": "us-east-1", "eventID": id,
                "recipientAccountId": "111122223333", "eventCategory": "Data",
                "requestParameters": {"pad": "p".repeat(900)}});
            input.insert(id, r.clone());
            r
        })
        .collect();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&serde_json::to_vec(&json!({"Records": records})).unwrap())
        .unwrap();
    let key = format!(
        "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
         111122223333_CloudTrail_us-east-1_20261101T0005Z_{tag:0>16}.json.gz"
    );
    (key, gz.finish().unwrap(), input)
}

async fn put(c: &Clients, key: &str, body: Vec<u8>) {
    c.s3.put_object()
        .bucket(TRAIL)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

/// moto with both buckets, the forwarder's queue and its dead-letter queue.
struct Stack {
    faulty: Faulty,
    queue: (String, String),
    dlq: String,
}

async fn stack(seed: u64) -> Stack {
    let faulty = faulty(seed).await;
    let queue = create_queue(&faulty.direct.sqs, "trailrelay-queue").await;
    let (dlq, _) = create_queue(&faulty.direct.sqs, "trailrelay-dlq").await;
    Stack { faulty, queue, dlq }
}

impl Stack {
    /// The forwarder as deployed: the dead-letter queue set, continuations without delay (so
    /// the test need not wait), through the fault-injecting proxy.
    fn forwarder(&self) -> AwsForwarder {
        self.forwarder_with(&[])
    }

    fn forwarder_with(&self, extra: &[(&'static str, &'static str)]) -> AwsForwarder {
        let dlq: &'static str = self.dlq.clone().leak();
        let mut env = vec![
            ("DEAD_LETTER_QUEUE_URL", dlq),
            ("CONTINUATION_DELAY_SECONDS", "0"),
        ];
        env.extend_from_slice(extra);
        forwarder_with(&self.faulty.through_proxy, &env)
    }
}

/// Every event exactly once in CloudWatch Logs and in the archive, and nothing else there.
async fn assert_exactly_once(c: &Clients, input: &BTreeMap<String, Value>) {
    assert_each_event_once_everywhere(c, input).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn persistent_server_errors_are_retried_and_named() {
    let s = stack(41).await;
    let f = s.forwarder();
    let messages = s.faulty.messages.clone();
    // S3 answers 500 to every GetObject, past the SDK's retries.
    s.faulty
        .faults
        .internal_error_get_object
        .store(1_000, SeqCst);
    let first = deliver(&f, messages.clone()).await;
    let named: Vec<_> = failed(&first).into_iter().map(|(_, k, c)| (k, c)).collect();
    assert_eq!(
        named,
        vec![(ErrorClass::Retry, "service-error"); messages.len()]
    );
    // CloudWatch Logs answers 500 ServiceUnavailableException to every PutLogEvents.
    s.faulty.faults.internal_error_get_object.store(0, SeqCst);
    s.faulty
        .faults
        .unavailable_put_log_events
        .store(1_000, SeqCst);
    let second = deliver(&f, messages.clone()).await;
    let named: Vec<_> = failed(&second)
        .into_iter()
        .map(|(_, k, c)| (k, c))
        .collect();
    assert_eq!(
        named,
        vec![(ErrorClass::Retry, "service-error"); messages.len()]
    );
    // Nothing reached the dead-letter queue, nothing was archived.
    assert!(drain(&s.faulty.direct.sqs, &s.dlq, 0).await.is_empty());
    assert!(archived(&s.faulty.direct.s3).await.is_empty());
    // The service recovers; the queue delivers again; every event arrives once.
    s.faulty.faults.unavailable_put_log_events.store(0, SeqCst);
    let third = deliver(&f, messages).await;
    assert_no_failure(&third);
    assert_exactly_once(&s.faulty.direct, &s.faulty.input).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_reaches_the_dead_letter_queue_once_with_its_cause_and_repeats_nothing() {
    let s = stack(42).await;
    let c = &s.faulty.direct;
    let (queue, arn) = &s.queue;
    // GIVEN a large log file cut at 80%: its first batches go out before the gzip ends
    let (key, gz, _) = big_log_file(3_000, "truncated");
    put(c, &key, gz[..gz.len() * 4 / 5].to_vec()).await;
    let poison_object = from_queue(arn, "object", s3_event(&key));
    let poison_message = from_queue(arn, "message", "{\"not\": \"a notification\"}");
    // WHEN the forwarder handles them
    let f = s.forwarder();
    let batch = vec![poison_object.clone(), poison_message.clone()];
    let inv = f
        .handle(batch, Instant::now() + Duration::from_secs(120))
        .await;
    // THEN both are done (never received again), each in the dead-letter queue once
    assert_no_failure(&inv);
    assert!(
        inv.outcomes
            .iter()
            .all(|(_, o)| matches!(o, MessageOutcome::DeadLettered(_))),
        "{inv:?}"
    );
    let mut dead = drain(&c.sqs, &s.dlq, 2).await;
    dead.sort_by_key(|m| attribute(m, "trailrelay.message-id").map(str::to_owned));
    assert_eq!(dead.len(), 2);
    let (message, object) = (&dead[0], &dead[1]);
    assert_eq!(object.body(), poison_object.body.as_deref(), "unchanged");
    assert_eq!(attribute(object, "trailrelay.cause"), Some("gzip"));
    assert_eq!(attribute(object, "trailrelay.class"), Some("poison"));
    assert_eq!(
        attribute(object, "trailrelay.object"),
        Some(format!("s3://{TRAIL}/{key}").as_str())
    );
    assert_eq!(
        attribute(object, "trailrelay.source-queue"),
        Some(arn.as_str())
    );
    assert!(
        attribute(object, "trailrelay.error")
            .unwrap()
            .contains("gzip")
    );
    assert_eq!(message.body(), poison_message.body.as_deref());
    assert_eq!(
        attribute(message, "trailrelay.cause"),
        Some("unknown-message")
    );
    // AND what went out before the corruption went out once, and no archive object was made
    let logged = logged(&c.logs).await;
    assert!(!logged.is_empty(), "batches left before the corruption");
    let ids = count_ids(
        logged
            .iter()
            .map(|(_, _, r)| r["eventID"].as_str().unwrap()),
    );
    assert!(ids.values().all(|&n| n == 1));
    assert!(archived(&c.s3).await.is_empty());
    assert!(drain(&c.sqs, queue, 0).await.is_empty(), "no continuation");
}

/// Interrupts a large object after its first log batch was accepted (by `interrupt`), then
/// delivers whatever the forwarder enqueued on its queue: returns the file's events and the
/// first invocation's outcome.
async fn interrupted_then_continued(
    s: &Stack,
    f: &AwsForwarder,
    interrupt: impl AsyncFnOnce(&AwsForwarder, Vec<trailrelay::forwarder::SqsMessage>) -> MessageOutcome,
    between: impl AsyncFnOnce(),
) -> (
    BTreeMap<String, Value>,
    MessageOutcome,
    Option<MessageOutcome>,
) {
    let c = &s.faulty.direct;
    let (queue, arn) = &s.queue;
    let (key, gz, input) = big_log_file(3_000, "continued");
    put(c, &key, gz).await;
    let first = interrupt(f, vec![from_queue(arn, "m1", s3_event(&key))]).await;
    between().await;
    let continuation = drain(
        &c.sqs,
        queue,
        usize::from(matches!(first, MessageOutcome::Continued(_))),
    )
    .await;
    let mut second = None;
    for m in continuation {
        let message = from_queue(arn, m.message_id().unwrap(), m.body().unwrap());
        let inv = deliver(f, vec![message]).await;
        second = Some(inv.outcomes[0].1.clone());
    }
    (input, first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_past_the_retries_mid_object_continues_and_sends_each_event_once() {
    let s = stack(43).await;
    let faults = &s.faulty.faults;
    // The first call finds no stream (it is created, and the call made again); the second
    // carries the first batch.
    faults.pass_put_log_events.store(2, SeqCst);
    faults.throttle_put_log_events.store(1_000, SeqCst);
    let (input, first, second) = interrupted_then_continued(
        &s,
        &s.forwarder(),
        async |f, batch| deliver(f, batch).await.outcomes[0].1.clone(),
        async || faults.throttle_put_log_events.store(0, SeqCst),
    )
    .await;
    assert!(
        matches!(&first, MessageOutcome::Continued(f) if f.cause == "throttled"),
        "{first:?}"
    );
    assert_eq!(second, Some(MessageOutcome::Done));
    assert_exactly_once(&s.faulty.direct, &input).await;
    // Sent per event of the source: each accepted batch once, the throttled ones retried.
    let calls = faults.put_log_events_calls.load(SeqCst);
    assert!(calls >= 4, "{calls} PutLogEvents calls");
}

/// An invocation of 60 s (the template's shortest `Timeout`) with the derived grace, whose
/// third PutLogEvents hangs past every margin (these test clients set no operation timeout, so
/// nothing ends the call): when the continuation is due, 21 s before the deadline, it goes out
/// with the batch accepted before the hang, and the message is done. Redelivered whole instead,
/// it would send that batch twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_hanging_past_the_deadline_still_leaves_its_continuation() {
    let s = stack(44).await;
    let faults = &s.faulty.faults;
    // The first call finds no stream (it is created, and the call made again); the second
    // carries the first batch; the third hangs until after the deadline.
    faults.pass_put_log_events.store(2, SeqCst);
    let grace: &'static str = trailrelay::ports::DEADLINE_GRACE
        .as_millis()
        .to_string()
        .leak();
    let f = s.forwarder_with(&[("DEADLINE_GRACE_MS", grace)]);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    *faults.hang_put_log_events_until.lock().unwrap() = Some(deadline + Duration::from_secs(30));
    let (input, first, second) = interrupted_then_continued(
        &s,
        &f,
        async |f, batch| f.handle(batch, deadline).await.outcomes[0].1.clone(),
        async || *faults.hang_put_log_events_until.lock().unwrap() = None,
    )
    .await;
    assert!(
        matches!(&first, MessageOutcome::Continued(f) if f.cause == "deadline"),
        "{first:?}"
    );
    assert_eq!(second, Some(MessageOutcome::Done));
    assert_exactly_once(&s.faulty.direct, &input).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_replaced_between_attempts_is_refused_by_name() {
    let s = stack(45).await;
    let c = &s.faulty.direct;
    let faults = &s.faulty.faults;
    // The first call finds no stream (it is created, and the call made again); the second
    // carries the first batch.
    faults.pass_put_log_events.store(2, SeqCst);
    faults.throttle_put_log_events.store(1_000, SeqCst);
    let (_, first, second) = interrupted_then_continued(
        &s,
        &s.forwarder(),
        async |f, batch| deliver(f, batch).await.outcomes[0].1.clone(),
        async || {
            faults.throttle_put_log_events.store(0, SeqCst);
            // Someone writes other bytes under the same key.
            let (key, gz, _) = big_log_file(10, "continued");
            put(c, &key, gz).await;
        },
    )
    .await;
    assert!(matches!(first, MessageOutcome::Continued(_)), "{first:?}");
    let Some(MessageOutcome::DeadLettered(failure)) = second else {
        panic!("{second:?}")
    };
    assert_eq!(
        (failure.class, failure.cause),
        (ErrorClass::Poison, "object-changed")
    );
    let dead = drain(&c.sqs, &s.dlq, 1).await;
    assert_eq!(
        attribute(&dead[0], "trailrelay.cause"),
        Some("object-changed")
    );
    assert!(
        archived(&c.s3).await.is_empty(),
        "nothing of the new bytes was archived"
    );
}
