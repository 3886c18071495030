//! The log side under faults: failed and throttled puts, resumed objects, time windows.

use super::*;

/// In line and with the stage threads.
#[test]
fn a_resumed_object_sends_only_what_no_earlier_attempt_had_accepted() {
    for stage_threads in [false, true] {
        resumed_object_sends_the_rest(stage_threads);
    }
}

fn resumed_object_sends_the_rest(stage_threads: bool) {
    // GIVEN an object of three records a day apart (three log batches), whose second call fails
    let times = [
        "2026-10-28T00:00:00Z",
        "2026-10-30T00:00:00Z",
        "2026-11-01T00:00:00Z",
    ];
    let records: Vec<Value> = times
        .iter()
        .enumerate()
        .map(|(i, t)| record(i, t))
        .collect();
    let mut world = World::new(&[(KEY, document(&records))]);
    world.logs.fail_calls = vec![2];
    world.settings.stage_threads = stage_threads;
    let first = world.forward(KEY);
    assert!(matches!(first.outcome, Outcome::Failed(_)));
    assert_eq!(
        first.progress,
        Progress(vec![StreamProgress {
            group: DEFAULT_LOG_GROUP.into(),
            stream: "o-exampleorg1_111122223333_CloudTrail_us-east-1".into(),
            accepted: 1,
        }])
    );
    let version = first.version.clone().unwrap();
    assert!(version.etag.is_some());
    // WHEN the next attempt resumes from that progress, on the same version
    let object = ObjectRef {
        version: Some(version),
        ..object(KEY)
    };
    let second = world.resume(&object, &first.progress, first.clock_ms);
    // THEN it sends the rest only, and the archive object is whole
    assert!(
        matches!(second.outcome, Outcome::Forwarded { .. }),
        "{:?}",
        second.outcome
    );
    assert_eq!(
        (second.counts.events_resumed, second.counts.events_logged),
        (1, 2)
    );
    assert_eq!(second.progress.total(), 3);
    let ids: Vec<Value> = world
        .logged()
        .iter()
        .map(|l| l.3["eventID"].clone())
        .collect();
    assert_eq!(
        ids,
        [json!("id-0"), json!("id-1"), json!("id-2")],
        "each once"
    );
    let committed = world.archive.committed.lock().unwrap();
    assert_eq!(gunzip_lines(committed.values().next().unwrap()).len(), 3);
}

#[test]
fn a_resumed_object_that_changed_is_refused() {
    let world = World::new(&[(KEY, document(&[record(1, "2026-11-01T00:00:00Z")]))]);
    let object = ObjectRef {
        version: Some(Version {
            etag: Some("\"an-earlier-etag\"".into()),
            version_id: None,
        }),
        ..object(KEY)
    };
    let progress = Progress(vec![StreamProgress {
        group: DEFAULT_LOG_GROUP.into(),
        stream: "s".into(),
        accepted: 1,
    }]);
    let Outcome::Failed(e) = world.resume(&object, &progress, Some(0)).outcome else {
        panic!()
    };
    assert_eq!(
        (e.cause(), e.class()),
        ("object-changed", ErrorClass::Poison)
    );
    assert!(world.logs.batches.lock().unwrap().is_empty());
}

#[test]
fn throttled_log_call_fails_the_object_for_retry_without_archive_object() {
    for stage_threads in [false, true] {
        let mut world = World::new(&[(KEY, document(&[record(1, "2026-11-01T00:00:00Z")]))]);
        world.logs.fail_calls = vec![1];
        world.settings.stage_threads = stage_threads;
        let report = world.forward(KEY);
        let Outcome::Failed(e) = report.outcome else {
            panic!()
        };
        assert_eq!((e.cause(), e.class()), ("throttled", ErrorClass::Retry));
        assert_eq!(report.counts.events_logged, 0);
        assert!(world.archive.committed.lock().unwrap().is_empty());
        assert!(
            world.receipts.receipts.lock().unwrap().is_empty(),
            "no receipt"
        );
    }
}

#[test]
fn rejected_out_of_window_and_oversized_events_are_counted_and_archived() {
    let mut big = record(9, "2026-11-01T00:00:00Z");
    big["requestParameters"] = json!({"pad": "p".repeat(MAX_EVENT_BYTES)});
    let records = vec![
        // 31 days before the clock, and 3 hours after it: never sent.
        record(1, "2026-10-01T00:00:00Z"),
        record(3, "2026-11-01T03:00:00Z"),
        // Inside the window, yet refused by the service one by one (a shorter retention).
        record(4, "2026-10-20T00:00:00Z"),
        record(2, "2026-11-01T00:00:00Z"),
        big,
    ];
    let mut world = World::new(&[(KEY, document(&records))]);
    world.settings.limits.max_record_bytes = 2 * MAX_EVENT_BYTES;
    world.logs.reject_before_ms = Some(crate::testing::epoch_ms("2026-10-25T00:00:00Z"));
    let report = world.forward(KEY);
    assert!(
        matches!(report.outcome, Outcome::Forwarded { .. }),
        "{:?}",
        report.outcome
    );
    let c = report.counts;
    assert_eq!((c.events_too_old, c.events_too_new), (1, 1));
    assert_eq!(c.events_rejected, 1);
    assert_eq!(c.events_too_large, 1);
    assert_eq!(c.events_logged, 1);
    assert_eq!(c.events_archived, 5, "the archive keeps every one");
    let sent: Vec<Value> = world
        .logged()
        .iter()
        .map(|l| l.3["eventID"].clone())
        .collect();
    assert_eq!(sent, [json!("id-4"), json!("id-2")]);
}

#[test]
fn a_backfill_older_than_the_window_makes_no_log_call() {
    let records: Vec<Value> = (0..50).map(|i| record(i, "2025-11-01T00:00:00Z")).collect();
    let world = World::new(&[(KEY, document(&records))]);
    let report = world.forward(KEY);
    assert!(matches!(report.outcome, Outcome::Forwarded { .. }));
    assert_eq!(*world.logs.calls.lock().unwrap(), 0);
    assert_eq!(
        (report.counts.events_too_old, report.counts.events_archived),
        (50, 50)
    );
}

#[test]
fn routed_groups_take_fourteen_days_while_the_destination_keeps_its_retention() {
    // GIVEN a destination group that keeps events a day, and a route to a group of its own
    let rules = json!({"Routes": [{"Name": "iam", "FilterPattern": "{ $.eventSource = iam.amazonaws.com }",
                                   "LogGroup": "/trailrelay/iam"}]});
    let file = crate::rules::RulesFile::from_json(&rules.to_string(), "test").unwrap();
    let mut iam = record(2, "2026-10-29T00:00:00Z");
    iam["eventSource"] = json!("iam.amazonaws.com");
    let records = [record(1, "2026-10-29T00:00:00Z"), iam];
    let mut world = World::new(&[(KEY, document(&records))]);
    world.settings.rules = crate::rules::RuleSet::compile(&file, Default::default()).unwrap();
    world.settings.max_event_age_ms = 24 * 3_600_000;
    // WHEN three-day-old events are forwarded
    let report = world.forward(KEY);
    // THEN the routed one goes out, the other is too old for its group
    let sent: Vec<(String, Value)> = world
        .logged()
        .into_iter()
        .map(|l| (l.0, l.3["eventID"].clone()))
        .collect();
    assert_eq!(sent, [("/trailrelay/iam".to_owned(), json!("id-2"))]);
    assert_eq!(report.counts.events_too_old, 1);
}

#[test]
fn a_resume_without_a_clock_admits_every_time_as_its_predecessor_did() {
    let records = [
        record(1, "2020-01-01T00:00:00Z"),
        record(2, "2020-01-02T00:00:00Z"),
    ];
    let world = World::new(&[(KEY, document(&records))]);
    let progress = Progress(vec![StreamProgress {
        group: DEFAULT_LOG_GROUP.into(),
        stream: "o-exampleorg1_111122223333_CloudTrail_us-east-1".into(),
        accepted: 1,
    }]);
    let report = world.resume(&object(KEY), &progress, None);
    assert!(matches!(report.outcome, Outcome::Forwarded { .. }));
    assert_eq!(report.clock_ms, None);
    let c = report.counts;
    assert_eq!(
        (c.events_resumed, c.events_logged, c.events_too_old),
        (1, 1, 0)
    );
}

/// `9999-12-31T23:59:59Z` is a valid RFC 3339 time: the event's own, too new for CloudWatch
/// Logs, archived with it and counted, never stamped with the clock and sent.
#[test]
fn the_last_second_of_year_9999_is_a_time_too_new_for_cloudwatch_logs() {
    let records = [
        record(0, "9999-12-31T23:59:59Z"),
        record(1, "2026-11-01T00:00:00Z"),
    ];
    let world = World::new(&[(KEY, document(&records))]);
    let report = world.forward(KEY);
    let Outcome::Forwarded { archive_key, .. } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert_eq!(
        (
            report.counts.events_too_new,
            report.counts.events_logged,
            report.counts.events_archived,
            report.counts.events_without_time
        ),
        (1, 1, 2, 0)
    );
    let lines = gunzip_lines(&world.archive.committed.lock().unwrap()[archive_key]);
    let times: Vec<Value> = lines.iter().map(|l| l["time"].clone()).collect();
    assert_eq!(
        times,
        [json!("9999-12-31T23:59:59Z"), json!("2026-11-01T00:00:00Z")]
    );
}

/// A file in the trail's layout whose delivery stamp CloudTrail would never write is named and
/// passed over: nothing of it is read, logged or archived.
#[test]
fn a_file_with_a_stamp_cloudtrail_never_writes_is_passed_over() {
    for stamp in ["202é101T0005Z", "20261101T0060Z", "2026110xT0005Z"] {
        let key = KEY.replace("20261101T0005Z", stamp);
        let world = World::new(&[(key.as_str(), document(&[record(0, "2026-11-01T00:00:00Z")]))]);
        let report = world.forward(&key);
        assert!(
            matches!(report.outcome, Outcome::Skipped(SkipReason::BadStamp)),
            "{stamp}: {:?}",
            report.outcome
        );
        assert_eq!(report.counts.records, 0, "{stamp}");
        assert!(world.logged().is_empty(), "{stamp}");
    }
}
