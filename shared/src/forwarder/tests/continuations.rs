//! Continuations: what a message interrupted after accepted batches leaves to do, who may
//! send one, and under which routing its skip counts hold.

use super::*;

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
    let inv = w.deliver(vec![queued("m", body)]).await;
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
    w.deliver(vec![queued("m", body)]).await;
    assert_eq!(attribute(&sent(&w)[0], "trailrelay.continuation"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_dead_letter_queue_refuses_the_message_fails_as_before() {
    let mut w = world(RecordingLogSink::default(), "1000");
    w.queue.refuse = true;
    w.forwarder = build(&w, &[("DEAD_LETTER_QUEUE_URL", DLQ_URL)]);
    let batch = vec![queued("corrupt", s3_body("trail-bucket", CORRUPT))];
    let inv = w.deliver(batch).await;
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
    let inv = w.deliver(batch).await;
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
    let again = w.deliver(vec![queued("c", next.body.clone())]).await;
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
    let inv = w.deliver(batch).await;
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
    let inv = w.deliver(vec![queued("m", body.clone())]).await;
    // THEN the message is dead-lettered as it came, with the rest of its work beside it
    assert!(matches!(&inv.outcomes[0].1, MessageOutcome::DeadLettered(f) if f.cause == "gzip"));
    let sent = sent(&w);
    assert_eq!(sent[0].body, body);
    let rest: Continuation =
        serde_json::from_str(attribute(&sent[0], "trailrelay.continuation").unwrap()).unwrap();
    let keys: Vec<&str> = rest.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, [CORRUPT], "the forwarded object is not in it");
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
    let inv = w.deliver(batch).await;
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
        let inv = w.deliver(vec![queued("c", body)]).await;
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
        let inv = w.deliver(vec![message]).await;
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
