//! The forwarder on real AWS APIs (moto server): a real bucket notification to a real queue,
//! real objects, the real messages, the real adapters; then every destination read back.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::SeqCst;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use trailrelay::demo::{self, DemoSpec};
use trailrelay::forwarder::MessageOutcome;
use trailrelay::ports::ErrorClass;

use crate::moto::Moto;
use crate::stack::*;
use crate::support::{epoch_millis, input_events};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notified_objects_reach_cloudwatch_logs_and_the_archive_exactly_once() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    // GIVEN a trail bucket whose object-created notifications go to a queue
    c.s3.create_bucket().bucket(TRAIL).send().await.unwrap();
    c.s3.create_bucket().bucket(ARCHIVE).send().await.unwrap();
    let (queue, arn) = create_queue(&c.sqs, "trail-events").await;
    c.s3.put_bucket_notification_configuration()
        .bucket(TRAIL)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(arn)
                        .events(Event::S3ObjectCreated)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // AND an organization trail's recent deliveries, plus one corrupt log file
    let now = now_s();
    let spec = DemoSpec {
        accounts: 2,
        regions: 2,
        files_per_stream: 2,
        records_per_file: 60,
        seed: 21,
        start_s: now - 3600,
        ..DemoSpec::default()
    };
    let (corpus, input, keys) = upload_trail(&c, &spec).await;
    let corrupt_key = keys
        .iter()
        .find(|k| k.contains("/CloudTrail/"))
        .unwrap()
        .replace(".json.gz", "X.json.gz");
    c.s3.put_object()
        .bucket(TRAIL)
        .key(&corrupt_key)
        .body(ByteStream::from_static(b"\x1f\x8b\x08\x00garbage"))
        .send()
        .await
        .unwrap();

    // WHEN the real notifications are handled by the forwarder on the real APIs
    let messages = receive(&c.sqs, &queue, keys.len() + 1).await;
    let forwarder = forwarder(&c);
    let invocation = deliver(&forwarder, messages.clone()).await;

    // THEN only the corrupt object's message fails, as poison; S3's test event is acknowledged
    let failures = failed(&invocation);
    let corrupt_message = messages
        .iter()
        .find(|m| m.body.as_deref().unwrap_or_default().contains("X.json.gz"))
        .unwrap();
    assert_eq!(
        failures,
        [(
            corrupt_message.message_id.as_deref().unwrap_or_default(),
            ErrorClass::Poison,
            "gzip"
        )]
    );
    assert!(
        invocation
            .outcomes
            .iter()
            .any(|(_, o)| *o == MessageOutcome::Acknowledged("s3-test-event"))
    );
    assert_eq!(invocation.totals.counts.records, corpus.records);

    // AND every record is in CloudWatch Logs exactly once, unchanged, under CloudTrail's naming
    let in_logs = logged(&c.logs).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (stream, timestamp, record) in &in_logs {
        let id = record["eventID"].as_str().unwrap().to_owned();
        assert_eq!(&input[&id], record);
        let expected_stream = format!(
            "o-trailrelay01_{}_CloudTrail_{}",
            record["recipientAccountId"].as_str().unwrap(),
            record["awsRegion"].as_str().unwrap()
        );
        assert_eq!(stream, &expected_stream);
        assert_eq!(
            *timestamp,
            epoch_millis(record["eventTime"].as_str().unwrap())
        );
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(
        seen.len(),
        input.len(),
        "events missing from CloudWatch Logs"
    );
    assert!(seen.values().all(|&n| n == 1));

    // AND in the archive exactly once, in the partitions of its source object
    let lines = archived(&c.s3).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (key, line) in &lines {
        let id = line["event_id"].as_str().unwrap().to_owned();
        assert_eq!(input[&id], line["record"]);
        assert!(
            key.starts_with(&format!(
                "cloudtrail/org=o-trailrelay01/account={}/",
                line["account_id"].as_str().unwrap()
            )),
            "{key}"
        );
        assert_eq!(line["source"]["bucket"], TRAIL);
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(seen.len(), input.len(), "events missing from the archive");
    assert!(seen.values().all(|&n| n == 1));

    // AND a redelivered message overwrites its archive object rather than adding one
    let objects_before = lines
        .iter()
        .map(|(k, _)| k.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let again = messages
        .iter()
        .find(|m| {
            m.body
                .as_deref()
                .unwrap_or_default()
                .contains("ObjectCreated")
                && !m.body.as_deref().unwrap_or_default().contains("X.json.gz")
        })
        .unwrap()
        .clone();
    let repeat = deliver(&forwarder, vec![again]).await;
    assert!(repeat.response.batch_item_failures.is_empty());
    let objects_after = archived(&c.s3)
        .await
        .iter()
        .map(|(k, _)| k.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(objects_before, objects_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreign_buckets_missing_objects_and_bad_messages_fail_alone() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    c.s3.create_bucket().bucket(TRAIL).send().await.unwrap();
    c.s3.create_bucket().bucket(ARCHIVE).send().await.unwrap();
    c.s3.create_bucket()
        .bucket("someone-elses")
        .send()
        .await
        .unwrap();
    // A log file that decompresses past MAX_OBJECT_BYTES (a gzip bomb, in miniature).
    let big_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0000Z_bbbbbbbbbbbbbbbb.json.gz";
    let mut bomb = br#"{"Records":[{"pad":""#.to_vec();
    bomb.resize(bomb.len() + (3 << 20), b'a');
    bomb.extend_from_slice(br#""}]}"#);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &bomb).unwrap();
    c.s3.put_object()
        .bucket(TRAIL)
        .key(big_key)
        .body(ByteStream::from(gz.finish().unwrap()))
        .send()
        .await
        .unwrap();
    let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0000Z_aaaaaaaaaaaaaaaa.json.gz";
    let body = |bucket: &str| {
        serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]})
        .to_string()
    };
    let batch = vec![
        message("foreign", body("someone-elses")),
        message("missing", body(TRAIL)),
        message("text", "not a notification"),
        message(
            "too-large",
            body(TRAIL).replace("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"),
        ),
    ];
    let invocation = deliver(&forwarder_with(&c, &[("MAX_OBJECT_BYTES", "1MiB")]), batch).await;
    let failures = failed(&invocation);
    assert_eq!(
        failures,
        [
            ("foreign", ErrorClass::Poison, "bucket-not-allowed"),
            ("missing", ErrorClass::Poison, "not-found"),
            ("text", ErrorClass::Poison, "not-json-message"),
            ("too-large", ErrorClass::Poison, "object-too-large"),
        ]
    );
    assert_eq!(invocation.response.batch_item_failures.len(), 4);
    assert!(archived(&c.s3).await.is_empty());
}

/// Throttling and 5xx answers between the SDK and the services are retried inside the SDK;
/// every event still arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_and_server_errors_lose_nothing() {
    let Faulty {
        _moto,
        direct,
        through_proxy,
        faults,
        input,
        messages,
    } = faulty(31).await;
    faults.throttle_put_log_events.store(3, SeqCst);
    faults.slow_down_get_object.store(2, SeqCst);
    faults.internal_error_put_object.store(2, SeqCst);
    let invocation = deliver(&forwarder(&through_proxy), messages).await;
    assert_no_failure(&invocation);
    assert_eq!(
        faults.injected.load(SeqCst),
        7,
        "every fault was met and overcome"
    );
    assert_each_event_once_everywhere(&direct, &input).await;
}

/// Throttling that outlasts the SDK's retries fails the message for retry, leaving no archive
/// object behind; the redelivery completes it, and every event is then in place once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_past_the_retries_fails_for_retry_and_the_redelivery_completes() {
    let Faulty {
        _moto,
        direct,
        through_proxy,
        faults,
        input,
        messages,
    } = faulty(32).await;
    faults.throttle_put_log_events.store(1_000, SeqCst);
    let f = forwarder(&through_proxy);
    let first = deliver(&f, messages.clone()).await;
    assert_eq!(first.response.batch_item_failures.len(), messages.len());
    for (_, outcome) in &first.outcomes {
        let MessageOutcome::Failed(failure) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            (failure.class, failure.cause),
            (ErrorClass::Retry, "throttled")
        );
    }
    assert!(
        archived(&direct.s3).await.is_empty(),
        "no archive object from a failed message"
    );
    // The throttling ends; the queue redelivers.
    faults.throttle_put_log_events.store(0, SeqCst);
    let second = deliver(&f, messages).await;
    assert_no_failure(&second);
    assert_each_event_once_everywhere(&direct, &input).await;
}

/// The deployed role may not create log groups: the stack creates the destination group, and
/// the forwarder then never asks to create it. Without the group, the refusal fails the
/// messages, classified, and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_existing_log_group_needs_no_create_log_group_permission() {
    let Faulty {
        _moto,
        direct,
        through_proxy,
        faults,
        input,
        messages,
    } = faulty(35).await;
    faults.deny_create_log_group.store(1_000, SeqCst);
    let f = forwarder(&through_proxy);
    let without_group = deliver(&f, messages.clone()).await;
    assert_eq!(
        failed(&without_group),
        messages
            .iter()
            .map(|m| (
                m.message_id.as_deref().unwrap_or_default(),
                ErrorClass::Poison,
                "access-denied"
            ))
            .collect::<Vec<_>>()
    );
    direct
        .logs
        .create_log_group()
        .log_group_name(trailrelay::pipeline::DEFAULT_LOG_GROUP)
        .send()
        .await
        .unwrap();
    let denied_before = faults.injected.load(SeqCst);
    let with_group = deliver(&f, messages).await;
    assert_no_failure(&with_group);
    assert_eq!(
        faults.injected.load(SeqCst),
        denied_before,
        "no CreateLogGroup once the group exists"
    );
    assert_each_event_once_everywhere(&direct, &input).await;
}

/// `trailrelay forward` on the AWS path: objects listed under an S3 prefix and a local folder,
/// events to CloudWatch Logs, the archive to an S3 prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_forwards_s3_and_local_inputs_to_cloudwatch_and_an_s3_archive() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (from_s3, _) = small_trail(&c, 33).await;
    let local = tempfile::tempdir().unwrap();
    let now = now_s();
    let spec = DemoSpec {
        accounts: 1,
        regions: 1,
        files_per_stream: 1,
        records_per_file: 25,
        seed: 34,
        start_s: now - 600,
        ..DemoSpec::default()
    };
    demo::write_corpus(local.path(), &spec).unwrap();
    let mut input = input_events(local.path());
    input.extend(from_s3);
    let out = tempfile::tempdir().unwrap();
    let output = cli_on(
        &moto.endpoint,
        &[
            "forward",
            "s3://org-trail/AWSLogs/",
            local.path().to_str().unwrap(),
            "--logs",
            "cloudwatch",
            "--archive",
            "s3://trail-archive/cli",
            "--s3-force-path-style",
            "-q",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", crate::support::text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("-> CloudWatch Logs") && stdout.contains("-> s3://trail-archive/cli"),
        "{stdout}"
    );
    let archive_keys = archived(&c.s3).await;
    assert!(
        archive_keys
            .iter()
            .all(|(k, _)| k.starts_with("cli/org=o-trailrelay01/")),
        "{archive_keys:?}"
    );
    assert_each_event_once_everywhere(&c, &input).await;
}

/// An S3 prefix that cannot be listed is one failed input named with its cause, and the run
/// exits 1 (2 is for bad arguments): a missing bucket, and an endpoint nobody answers.
#[test]
fn cli_names_listing_and_connection_failures_and_exits_1() {
    let moto = Moto::start();
    let out = tempfile::tempdir().unwrap();
    let args = |input: &'static str| {
        let out = out.path().to_str().unwrap().to_owned();
        move |endpoint: &str| {
            cli_on(
                endpoint,
                &[
                    "forward",
                    input,
                    "--s3-force-path-style",
                    "-q",
                    "--out",
                    &out,
                ],
            )
        }
    };
    let missing = args("s3://no-such-bucket/AWSLogs/")(&moto.endpoint);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = args("s3://org-trail/AWSLogs/")(&format!("http://{closed}"));
    for (output, tag) in [
        (missing, "[not-found, poison]"),
        (refused, "[network, retry]"),
    ] {
        let report = crate::support::text(&output);
        assert_eq!(output.status.code(), Some(1), "{report}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("error: s3://") && l.ends_with(tag)),
            "{report}"
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("1 failed"),
            "{report}"
        );
    }
}

/// Every S3 call the forwarder makes, reads and archive writes alike, names the account that
/// must own the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_s3_call_names_the_expected_bucket_owner() {
    let Faulty {
        _moto,
        direct,
        through_proxy,
        faults,
        input,
        messages,
    } = faulty(36).await;
    // moto's account.
    let owner = "123456789012";
    let f = forwarder_with(
        &through_proxy,
        &[
            ("EXPECTED_BUCKET_OWNER", owner),
            ("ARCHIVE_BUCKET_OWNER", owner),
        ],
    );
    let invocation = deliver(&f, messages).await;
    assert_no_failure(&invocation);
    assert!(
        faults.s3_calls.load(SeqCst) >= 8,
        "reads and writes went through"
    );
    assert_eq!(
        *faults.s3_without_owner.lock().unwrap(),
        Vec::<String>::new()
    );
    assert_each_event_once_everywhere(&direct, &input).await;
}

/// PutLogEvents comes first: a stream is created only when the call says it is missing, so an
/// instance starting cold over streams that exist makes no CreateLogStream call at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_start_over_existing_streams_creates_none() {
    let Faulty {
        _moto,
        direct,
        through_proxy,
        faults,
        messages,
        ..
    } = faulty(37).await;
    // The stack creates the group.
    direct
        .logs
        .create_log_group()
        .log_group_name(trailrelay::pipeline::DEFAULT_LOG_GROUP)
        .send()
        .await
        .unwrap();
    let first = deliver(&forwarder(&through_proxy), messages.clone()).await;
    assert_no_failure(&first);
    let created = faults.create_log_stream_calls.load(SeqCst);
    // Two streams (one account, two regions); messages of one stream may race to create it.
    assert!(
        (2..=messages.len() as u32).contains(&created),
        "{created} CreateLogStream calls"
    );
    let puts = faults.put_log_events_calls.load(SeqCst);
    // A new instance: nothing known, every stream there.
    let second = deliver(&forwarder(&through_proxy), messages.clone()).await;
    assert_no_failure(&second);
    assert_eq!(faults.create_log_stream_calls.load(SeqCst), created);
    assert_eq!(
        faults.put_log_events_calls.load(SeqCst) - puts,
        messages.len() as u32,
        "one PutLogEvents per file, nothing else"
    );
}

/// Events older than CloudWatch Logs takes are kept out of PutLogEvents and kept in the
/// archive: a backfill of last month costs no log call at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backfill_of_month_old_events_makes_no_put_log_events_call() {
    let Faulty {
        _moto,
        direct,
        through_proxy,
        faults,
        ..
    } = faulty(38).await;
    let spec = DemoSpec {
        accounts: 1,
        regions: 1,
        files_per_stream: 3,
        records_per_file: 30,
        seed: 38,
        start_s: now_s() - 30 * 24 * 3600,
        ..DemoSpec::default()
    };
    let (_, old, keys) = upload_trail(&direct, &spec).await;
    let messages: Vec<_> = keys
        .iter()
        .filter(|k| !k.contains("CloudTrail-Digest"))
        .enumerate()
        .map(|(i, key)| message(format!("old{i}"), s3_event(key)))
        .collect();
    let invocation = deliver(&forwarder(&through_proxy), messages).await;
    assert_no_failure(&invocation);
    assert_eq!(faults.put_log_events_calls.load(SeqCst), 0);
    assert_eq!(invocation.totals.counts.events_too_old, old.len() as u64);
    let archived = archived(&direct.s3).await;
    let ids = count_ids(
        archived
            .iter()
            .map(|(_, l)| l["event_id"].as_str().unwrap()),
    );
    assert_eq!(
        ids.keys().collect::<Vec<_>>(),
        old.keys().collect::<Vec<_>>()
    );
    assert!(ids.values().all(|&n| n == 1));
}

/// A route's group the forwarder creates gets the stack's retention, as the destination group
/// has it: no group of the stack keeps events for ever by accident.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_routed_group_the_forwarder_creates_gets_the_stacks_retention() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (_, messages) = small_trail(&c, 36).await;
    let f = forwarder_with(
        &c,
        &[
            ("ROUTE_LOG_GROUP_PREFIX", "/trailrelay/routes/"),
            ("LOG_GROUP_RETENTION_DAYS", "30"),
            (
                "RULES",
                r#"{"Routes":[{"Name":"all","FilterPattern":"{ $.eventID = * }","LogGroup":"/trailrelay/routes/all"}]}"#,
            ),
        ],
    );
    assert_no_failure(&deliver(&f, messages).await);
    let groups = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix("/trailrelay/routes/")
        .send()
        .await
        .unwrap();
    let retention: Vec<(Option<&str>, Option<i32>)> = groups
        .log_groups()
        .iter()
        .map(|g| (g.log_group_name(), g.retention_in_days()))
        .collect();
    assert_eq!(retention, [(Some("/trailrelay/routes/all"), Some(30))]);
}

/// S3's conditional write as the receipts use it: the first write of a key creates it, a second
/// is told the key exists and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_create_never_replaces_an_object() {
    let Faulty { _moto, direct, .. } = faulty(37).await;
    let archive = trailrelay::aws::s3::S3Archive::new(
        direct.s3.clone(),
        tokio::runtime::Handle::current(),
        ARCHIVE.into(),
        None,
    );
    let created = tokio::task::spawn_blocking(move || {
        use trailrelay::ports::ArchiveSink;
        (
            archive.create("first/k", b"one").unwrap(),
            archive.create("first/k", b"two").unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(created, (true, false));
    let stored = archived_bytes(&direct.s3, "first/k").await;
    assert_eq!(&stored[..], b"one");
}
