//! Replay and redrive on moto, through the real SDK clients: files already in the trail
//! bucket reach CloudWatch Logs and the archive once through the forwarder's queue, a replay
//! stopped by its deadline continues without enqueueing anything twice, and dead letters move
//! back once each.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trailrelay::aws::s3::S3Lister;
use trailrelay::aws::sqs::SqsQueue;
use trailrelay::demo::{self, DemoSpec};
use trailrelay::key::TrailKey;
use trailrelay::ports::{QueueRef, SystemClock};
use trailrelay::replay::config::ReplayConfig;
use trailrelay::replay::function::{ReplayFunction, RequestOutcome, redrive_request};
use trailrelay::replay::redrive::Inbox;

use crate::moto::Moto;
use crate::stack::*;

/// A trail of `files_per_stream` log files per account and region, written an hour ago in
/// 5-minute windows from a whole multiple of 5 minutes; its uploaded log-file keys (with the
/// delivery time their names state) and every record of each, by key.
async fn trail_of(c: &Clients, files_per_stream: usize) -> (i64, BTreeMap<String, Vec<String>>) {
    c.s3.create_bucket().bucket(TRAIL).send().await.unwrap();
    c.s3.create_bucket().bucket(ARCHIVE).send().await.unwrap();
    let start_s = (now_s() - 3600) / 300 * 300;
    let spec = DemoSpec {
        accounts: 2,
        regions: 2,
        files_per_stream,
        records_per_file: 5,
        seed: 12,
        start_s,
        ..DemoSpec::default()
    };
    let dir = tempfile::tempdir().unwrap();
    demo::write_corpus(dir.path(), &spec).unwrap();
    let by_key = upload_dir(c, dir.path()).await;
    (start_s, by_key)
}

fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).unwrap().to_string()
}

fn announced_key(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        v["Records"][0]["userIdentity"]["principalId"],
        "trailrelay-replay"
    );
    v["Records"][0]["s3"]["object"]["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_range_reaches_every_destination_once_and_nothing_outside_it() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (start_s, by_key) = trail_of(&c, 4).await;
    let (queue, _) = create_queue(&c.sqs, "notifications").await;
    // Files are stamped start+300, +600, +900, +1200: the range takes the middle two of each
    // account and region, by the stamp in their names.
    let (from, to) = (rfc3339(start_s + 600), rfc3339(start_s + 1200));
    let in_range: Vec<&String> = by_key
        .keys()
        .filter(|k| {
            let key = TrailKey::parse(k);
            key.kind == trailrelay::key::ObjectKind::Log
                && key
                    .delivered_s()
                    .is_some_and(|t| (start_s + 600..start_s + 1200).contains(&t))
        })
        .collect();
    assert_eq!(in_range.len(), 2 * 2 * 2);
    let args = |dry: bool| {
        let mut a = vec![
            "replay",
            "s3://org-trail/AWSLogs/",
            "--queue",
            queue.as_str(),
            "--from",
            from.as_str(),
            "--to",
            to.as_str(),
            "--s3-force-path-style",
            "--quiet",
        ];
        if dry {
            a.push("--dry-run");
        }
        a
    };
    let dry = cli_on(&moto.endpoint, &args(true));
    let out = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(out.contains("Would enqueue 8 objects"), "{out}");
    assert!(out.contains("CloudWatch Logs ingestion"), "{out}");
    let run = cli_on(&moto.endpoint, &args(false));
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.contains("Enqueued 8 objects"), "{out}");
    // The dry run enqueued nothing: exactly the real run's eight are there.
    let enqueued = drain(&c.sqs, &queue, 8).await;
    let mut keys: Vec<String> = enqueued
        .iter()
        .map(|m| announced_key(m.body().unwrap()))
        .collect();
    keys.sort();
    let expected_keys: Vec<String> = in_range
        .iter()
        .map(|k| trailrelay::key::form_encode(k))
        .collect();
    assert_eq!(keys, expected_keys);
    // The forwarder takes them as any notification.
    let messages = enqueued
        .iter()
        .map(|m| message(m.message_id().unwrap(), m.body().unwrap()))
        .collect();
    let invocation = deliver(&forwarder(&c), messages).await;
    assert_no_failure(&invocation);
    assert_eq!(invocation.totals.forwarded, 8);
    assert_eq!(invocation.totals.replayed, 8);
    let expected: BTreeMap<String, Value> = in_range
        .iter()
        .flat_map(|k| by_key[*k].iter().map(|id| (id.clone(), Value::Null)))
        .collect();
    assert_eq!(expected.len(), 8 * 5);
    assert_each_event_once_everywhere(&c, &expected).await;
}

/// The SQS event Lambda delivers for `body` received from the queue `arn`.
fn sqs_event(arn: &str, id: &str, body: &str) -> Value {
    json!({"Records": [{"messageId": id, "receiptHandle": "r", "body": body, "attributes": {},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": arn,
        "awsRegion": "us-east-1"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_stopped_by_its_deadline_continues_and_enqueues_each_object_once() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (_, by_key) = trail_of(&c, 10).await;
    let (notifications, _) = create_queue(&c.sqs, "notifications").await;
    let (requests, requests_arn) = create_queue(&c.sqs, "replay").await;
    let env = BTreeMap::from([
        ("ALLOWED_BUCKETS", TRAIL.to_owned()),
        ("FORWARDER_QUEUE_URL", notifications.clone()),
        ("REPLAY_QUEUE_URL", requests.clone()),
        // Ten a second: the first batch at once, the next after a second.
        ("REPLAY_MESSAGES_PER_SECOND", "10".to_owned()),
        ("REPLAY_DEADLINE_GRACE_MS", "0".to_owned()),
    ]);
    let function = ReplayFunction {
        lister: S3Lister::new(c.s3.clone(), None),
        queue: SqsQueue::new(c.sqs.clone()),
        clock: SystemClock,
        config: ReplayConfig::from_lookup(|n| env.get(n).cloned()).unwrap(),
        region: "us-east-1".into(),
    };
    let request = json!({"bucket": TRAIL, "prefix": "AWSLogs/"}).to_string();
    let first = function
        .handle(
            sqs_event(&requests_arn, "first", &request),
            Instant::now() + Duration::from_millis(1500),
        )
        .await;
    assert!(first.response.batch_item_failures.is_empty());
    assert!(
        matches!(first.outcomes[0].1, RequestOutcome::Continued(_)),
        "{:?}",
        first.outcomes
    );
    let mut continuations = 0;
    loop {
        let pending = drain(&c.sqs, &requests, 0).await;
        let Some(next) = pending.first() else { break };
        assert_eq!(pending.len(), 1, "one continuation at a time");
        continuations += 1;
        let body: Value = serde_json::from_str(next.body().unwrap()).unwrap();
        assert!(body["start_after"].is_string(), "{body}");
        let done = function
            .handle(
                sqs_event(
                    &requests_arn,
                    next.message_id().unwrap(),
                    next.body().unwrap(),
                ),
                Instant::now() + Duration::from_secs(120),
            )
            .await;
        assert!(
            done.response.batch_item_failures.is_empty(),
            "{:?}",
            done.outcomes
        );
    }
    assert_eq!(continuations, 1);
    let log_keys: Vec<&String> = by_key
        .keys()
        .filter(|k| k.contains("/CloudTrail/"))
        .collect();
    assert_eq!(log_keys.len(), 40);
    let enqueued = drain(&c.sqs, &notifications, log_keys.len()).await;
    let mut keys: Vec<String> = enqueued
        .iter()
        .map(|m| announced_key(m.body().unwrap()))
        .collect();
    keys.sort();
    let expected: Vec<String> = log_keys
        .iter()
        .map(|k| trailrelay::key::form_encode(k))
        .collect();
    assert_eq!(keys, expected, "every log file once, nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_moves_each_dead_letter_once_and_a_continuation_in_its_place() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (queue, _) = create_queue(&c.sqs, "notifications").await;
    let (dlq, _) = create_queue(&c.sqs, "notifications-dlq").await;
    let attr = string_attribute;
    let continuation = r#"{"trailrelay":"continuation","format":1,"attempt":1,"objects":[{"bucket":"org-trail","key":"k"}]}"#;
    c.sqs
        .send_message()
        .queue_url(&dlq)
        .message_body("not a notification")
        .message_attributes("trailrelay.cause", attr("not-json-message"))
        .message_attributes("trailrelay.class", attr("poison"))
        .send()
        .await
        .unwrap();
    c.sqs
        .send_message()
        .queue_url(&dlq)
        .message_body(s3_event("AWSLogs/a.json.gz"))
        .message_attributes("trailrelay.cause", attr("object-changed"))
        .message_attributes(
            "trailrelay.object",
            attr("s3://org-trail/AWSLogs/a.json.gz"),
        )
        .message_attributes("trailrelay.continuation", attr(continuation))
        .send()
        .await
        .unwrap();
    let dry = cli_on(
        &moto.endpoint,
        &["redrive", "--from-queue", &dlq, "--dry-run"],
    );
    let out = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(dry.status.success(), "{out}");
    assert!(out.contains("cause=not-json-message"), "{out}");
    assert!(
        out.contains("object=s3://org-trail/AWSLogs/a.json.gz"),
        "{out}"
    );
    assert!(out.contains("2 messages"), "{out}");
    assert!(out.contains("1 of them to be kept"), "{out}");
    // From a machine, a continuation is kept: the stack's forwarder would refuse it as forged.
    let run = cli_on(
        &moto.endpoint,
        &["redrive", "--from-queue", &dlq, "--to-queue", &queue],
    );
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        out.contains("Moved 1 message (0 as their continuation)") && out.contains("; 1 kept"),
        "{out}"
    );
    assert!(out.contains("carries a continuation"), "{out}");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("--via"),
        "the way that works is named"
    );
    // Told the forwarder takes continuations from anyone, it sends it in its message's place.
    let run = cli_on(
        &moto.endpoint,
        &[
            "redrive",
            "--from-queue",
            &dlq,
            "--to-queue",
            &queue,
            "--continuations",
        ],
    );
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        out.contains("Moved 1 message (1 as their continuation)"),
        "{out}"
    );
    let moved = drain(&c.sqs, &queue, 2).await;
    let mut bodies: Vec<&str> = moved.iter().map(|m| m.body().unwrap()).collect();
    bodies.sort();
    assert_eq!(bodies, vec!["not a notification", continuation]);
    let poison = moved
        .iter()
        .find(|m| m.body() == Some("not a notification"))
        .unwrap();
    // Moved back, it carries none of the failure's attributes: a new failure says its own.
    assert_eq!(attribute(poison, "trailrelay.cause"), None);
    assert!(
        drain(&c.sqs, &dlq, 0).await.is_empty(),
        "the dead-letter queue is empty"
    );
}

const CONTINUATION: &str = r#"{"trailrelay":"continuation","format":1,"attempt":1,"objects":[{"bucket":"org-trail","key":"k"}]}"#;

/// Puts on `dlq` a plain dead letter, one carrying a continuation, and a forged continuation's;
/// returns the plain one's body and the continuation.
async fn dead_letters_of_every_kind(c: &Clients, dlq: &str) -> (String, &'static str) {
    let plain = s3_event("AWSLogs/plain.json.gz");
    let carried = s3_event("AWSLogs/carried.json.gz");
    let letters = [
        (plain.as_str(), vec![("trailrelay.cause", "service-error")]),
        (
            carried.as_str(),
            vec![
                ("trailrelay.cause", "object-changed"),
                ("trailrelay.continuation", CONTINUATION),
            ],
        ),
        (
            CONTINUATION,
            vec![("trailrelay.cause", "forged-continuation")],
        ),
    ];
    for (body, attributes) in letters {
        let mut m = c.sqs.send_message().queue_url(dlq).message_body(body);
        for (n, v) in attributes {
            m = m.message_attributes(n, string_attribute(v));
        }
        m.send().await.unwrap();
    }
    (plain, CONTINUATION)
}

/// The replay function's configuration for redrives of `dlq` into `queue`, trusting `senders`.
fn redrive_config(queue: &str, requests: &str, dlq: &str, senders: &str) -> ReplayConfig {
    ReplayConfig::from_lookup(|n| {
        let value = match n {
            "ALLOWED_BUCKETS" => TRAIL,
            "FORWARDER_QUEUE_URL" => queue,
            "REPLAY_QUEUE_URL" => requests,
            "DEAD_LETTER_QUEUE_URL" => dlq,
            "CONTINUATION_SENDERS" => senders,
            _ => return None,
        };
        Some(value.to_owned())
    })
    .unwrap()
}

/// Against the stack, dead letters go back through the replay function (`redrive --via`): it
/// moves a plain one whoever sent it, a continuation only when one of `CONTINUATION_SENDERS`
/// dead-lettered it, and never a forged continuation's dead letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_function_redrives_continuations_only_from_the_stacks_roles() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (queue, _) = create_queue(&c.sqs, "notifications").await;
    let (dlq, _) = create_queue(&c.sqs, "notifications-dlq").await;
    let (requests, requests_arn) = create_queue(&c.sqs, "replay").await;
    let (plain, continuation) = dead_letters_of_every_kind(&c, &dlq).await;
    // Who sent them, as SQS tells it.
    let inbox = SqsQueue::new(c.sqs.clone());
    let probe = inbox.receive(&QueueRef::Url(dlq.clone()), 0).await.unwrap();
    let sender: &'static str = probe[0].sender.clone().expect("a SenderId").leak();
    let function = |senders: &'static str| ReplayFunction {
        lister: S3Lister::new(c.s3.clone(), None),
        queue: SqsQueue::new(c.sqs.clone()),
        clock: SystemClock,
        config: redrive_config(&queue, &requests, &dlq, senders),
        region: "us-east-1".into(),
    };
    let redriven =
        |inv: trailrelay::replay::function::Invocation| match inv.outcomes.into_iter().next() {
            Some((
                _,
                RequestOutcome::Redriven {
                    done,
                    continued: false,
                },
            )) => done,
            other => panic!("{other:?}"),
        };
    let later = || Instant::now() + Duration::from_secs(120);
    // The stack's roles did not send these: only the plain one moves.
    let request = redrive_request(&dlq);
    let first = function("AROAOTHERROLE0000001")
        .handle(sqs_event(&requests_arn, "r1", &request), later())
        .await;
    let done = redriven(first);
    assert_eq!(
        (done.moved, done.continued, done.held.len()),
        (1, 0, 2),
        "{done:?}"
    );
    let moved = drain(&c.sqs, &queue, 1).await;
    assert_eq!(moved[0].body(), Some(plain.as_str()));
    // `trailrelay redrive --via` asks the function; its role sent them: the continuation goes
    // in its message's place, the forged one stays.
    let asked = cli_on(
        &moto.endpoint,
        &["redrive", "--from-queue", &dlq, "--via", &requests],
    );
    assert!(
        asked.status.success(),
        "{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    let asked = drain(&c.sqs, &requests, 1).await;
    assert_eq!(asked[0].body(), Some(request.as_str()));
    let second = function(sender)
        .handle(sqs_event(&requests_arn, "r2", &request), later())
        .await;
    let done = redriven(second);
    assert_eq!(
        (done.moved, done.continued, done.held.len()),
        (1, 1, 1),
        "{done:?}"
    );
    assert!(done.held[0].1.contains("forged"), "{done:?}");
    let moved = drain(&c.sqs, &queue, 1).await;
    assert_eq!(moved[0].body(), Some(continuation));
    let left = drain(&c.sqs, &dlq, 1).await;
    assert_eq!(
        attribute(&left[0], "trailrelay.cause"),
        Some("forged-continuation")
    );
    // A request for any other queue is refused by name.
    let other = function(sender)
        .handle(
            sqs_event(&requests_arn, "r3", &redrive_request(&queue)),
            later(),
        )
        .await;
    let Some((_, RequestOutcome::Failed { cause, message, .. })) = other.outcomes.first() else {
        panic!("{:?}", other.outcomes)
    };
    assert_eq!(*cause, "bad-request");
    assert!(
        message.contains("is not the dead-letter queue"),
        "{message}"
    );
    // Not told whose continuations to believe, it redrives nothing.
    let blind = function("")
        .handle(sqs_event(&requests_arn, "r4", &request), later())
        .await;
    let Some((_, RequestOutcome::Failed { cause, message, .. })) = blind.outcomes.first() else {
        panic!("{:?}", blind.outcomes)
    };
    assert_eq!(*cause, "bad-request");
    assert!(
        message.contains("CONTINUATION_SENDERS is not set"),
        "{message}"
    );
}
