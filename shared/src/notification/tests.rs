use super::*;

fn testdata(path: &str) -> String {
    std::fs::read_to_string(crate::testing::testdata().join("sqs").join(path)).expect(path)
}

/// The bodies of a Lambda SQS event fixture.
fn bodies(path: &str) -> Vec<String> {
    let event: Value = serde_json::from_str(&testdata(path)).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

fn objects(n: &Notification) -> Vec<(String, String)> {
    match n {
        Notification::Objects(list) => list
            .iter()
            .map(|o| (o.bucket.clone(), o.key.clone()))
            .collect(),
        Notification::Acknowledged(a) => panic!("acknowledged {a:?}"),
        Notification::Continuation { .. } => panic!("continuation {n:?}"),
    }
}

fn one(bucket: &str, key: &str) -> Vec<(String, String)> {
    vec![(bucket.to_owned(), key.to_owned())]
}

/// Every real captured SQS body, by route.
#[test]
fn real_sqs_bodies_of_every_route() {
    let cases: &[(&str, Vec<(String, String)>)] = &[
        (
            "powertools-captures/lambda-sqs-event_s3-objectcreated-put.json",
            one("sqs-s3-unwrap-bucket-683517028648", "samconfig.toml"),
        ),
        (
            "powertools-captures/lambda-sqs-event_raw-sns-s3-notification.json",
            one("unwraptestevents-bucket-683517028648", "samconfig.toml"),
        ),
        (
            "powertools-captures/lambda-sqs-event_sns-wrapped-s3-notification.json",
            one(
                "unwraptestevents-bucket-683517028648",
                "firehose-s3-template.json",
            ),
        ),
        (
            "powertools-captures/lambda-sqs-event_eventbridge-s3-object-created.json",
            one("s3-eb-unwrap-sourcebucket-7mop1gqlyrzu", "__init__.py"),
        ),
        (
            "powertools-tests-events/s3SqsEvent.json",
            one("xxx", "test.pdf"),
        ),
    ];
    for (path, want) in cases {
        for body in bodies(path) {
            assert_eq!(&objects(&parse(&body).unwrap()), want, "{path}");
        }
    }
}

#[test]
fn message_bodies_that_are_not_notifications_are_errors() {
    for (path, cause) in [
        (
            "powertools-captures/lambda-sqs-event_raw-sns-text.json",
            "not-json-message",
        ),
        (
            "powertools-captures/lambda-sqs-event_sns-wrapped-text.json",
            "not-json-message",
        ),
        (
            "powertools-tests-events/snsSqsEvent.json",
            "unknown-message",
        ),
        (
            "powertools-tests-events/snsSqsFifoEvent.json",
            "unknown-message",
        ),
        (
            "powertools-tests-events/sqsDlqTriggerEvent.json",
            "not-json-message",
        ),
        (
            "aws-docs/lambda-sqs-event-standard-queue.json",
            "not-json-message",
        ),
        (
            "aws-docs/lambda-sqs-event-fifo-queue.json",
            "not-json-message",
        ),
        (
            "aws-lambda-rust-runtime/example-sqs-event.json",
            "not-json-message",
        ),
    ] {
        for body in bodies(path) {
            assert_eq!(parse(&body).unwrap_err().cause(), cause, "{path}: {body}");
        }
    }
    let sqs_event = bodies("powertools-tests-events/sqsEvent.json");
    assert_eq!(parse(&sqs_event[1]).unwrap_err().cause(), "unknown-message");
    assert_eq!(
        parse(&testdata("aws-docs/sns-to-sqs-message-body-raw.txt"))
            .unwrap_err()
            .cause(),
        "not-json-message"
    );
    assert_eq!(
        parse(&testdata("aws-docs/sns-to-sqs-message-body-nonraw.json"))
            .unwrap_err()
            .cause(),
        "not-json-message"
    );
    // A Lambda SNS event is not an SQS body.
    assert_eq!(
        parse(&testdata("aws-docs/lambda-sns-event.json"))
            .unwrap_err()
            .cause(),
        "unknown-message"
    );
    assert_eq!(parse("[1]").unwrap_err().cause(), "unknown-message");
}

/// Bodies from the AWS documentation and test-event collections.
#[test]
fn documented_bodies() {
    let n = |p: &str| parse(&testdata(p)).unwrap();
    assert_eq!(
        n("aws-docs/s3-test-event.json"),
        Notification::Acknowledged(Acknowledged::S3TestEvent)
    );
    assert_eq!(
        objects(&n("aws-docs/s3-event-objectcreated-put.json")),
        one("mybucket", "HappyFace.jpg")
    );
    assert_eq!(
        objects(&n("aws-docs/eventbridge-s3-object-created.json")),
        one("DOC-EXAMPLE-BUCKET1", "example-key")
    );
    for p in [
        "aws-docs/eventbridge-s3-object-deleted.json",
        "aws-docs/eventbridge-s3-object-deleted-lifecycle.json",
        "aws-docs/eventbridge-s3-object-restore-completed.json",
        "powertools-tests-events/s3EventBridgeNotificationObjectDeletedEvent.json",
        "powertools-tests-events/s3EventDeleteObject.json",
        // The annotated template's eventName is a description, not ObjectCreated:*.
        "aws-docs/s3-event-notification-structure-v2.2-annotated.json",
    ] {
        assert_eq!(
            n(p),
            Notification::Acknowledged(Acknowledged::NotCreation),
            "{p}"
        );
    }
    // Keys in S3 notifications are form-encoded: %20 is a space.
    assert_eq!(
        objects(&n("powertools-tests-events/s3EventDecodedKey.json")),
        one("sourcebucket", "Happy Face.jpg")
    );
    assert_eq!(
        objects(&n(
            "aws-lambda-rust-runtime/example-s3-event-with-decoded.json"
        )),
        one("sourcebucket", "Happy Face.jpg")
    );
    let multiple = n("aws-docs/cloudtrail-sns-message-multiple-keys.json");
    assert_eq!(objects(&multiple).len(), 3);
    assert!(
        objects(&multiple)
            .iter()
            .all(|(b, k)| b == "your-bucket-name"
                && k.starts_with("AWSLogs/123456789012/CloudTrail/"))
    );
    let Notification::Objects(list) = n("powertools-tests-events/s3Event.json") else {
        panic!()
    };
    assert_eq!(
        (list[0].size, list[0].sequencer.as_deref()),
        (Some(1_305_107), Some("0C0F6F405D6ED209E1"))
    );
}

#[test]
fn cloudtrail_sns_notification_wrapped_and_raw() {
    let message = r#"{"s3Bucket":"org-trail","s3ObjectKey":["AWSLogs/o-aaaaaaaaaa/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0005Z_a+b.json.gz"]}"#;
    let wrapped = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": message}).to_string();
    for body in [message.to_owned(), wrapped] {
        // CloudTrail's keys are plain: '+' stays '+'.
        let got = objects(&parse(&body).unwrap());
        assert_eq!(
            got,
            one(
                "org-trail",
                "AWSLogs/o-aaaaaaaaaa/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0005Z_a+b.json.gz"
            )
        );
    }
    let validation = serde_json::json!({"Type": "Notification", "TopicArn": "t", "Message": "CloudTrail validation message."}).to_string();
    assert_eq!(
        parse(&validation).unwrap(),
        Notification::Acknowledged(Acknowledged::CloudTrailValidation)
    );
    assert_eq!(
        parse("CloudTrail validation message.").unwrap(),
        Notification::Acknowledged(Acknowledged::CloudTrailValidation)
    );
}

#[test]
fn moto_style_bodies_decode_their_keys() {
    // moto encodes '/' as %2F too, and omits userIdentity, sequencer and the rest.
    let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-22T04:09:09.468Z","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","configurationId":"x","bucket":{"name":"b","arn":"arn:aws:s3:::b"},"object":{"key":"dir%2Fa+b%2Bc.log.gz","size":20,"eTag":"e"}}}]}"#;
    assert_eq!(objects(&parse(body).unwrap()), one("b", "dir/a b+c.log.gz"));
}

#[test]
fn mixed_records_keep_only_creations() {
    let body = serde_json::json!({"Records": [
        {"eventVersion": "2.3", "eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "x"}}},
        {"eventVersion": "2.2", "eventSource": "aws:s3", "eventName": "ObjectCreated:CompleteMultipartUpload", "s3": {"bucket": {"name": "b"}, "object": {"key": "y"}}}
    ]}).to_string();
    assert_eq!(objects(&parse(&body).unwrap()), one("b", "y"));
}

#[test]
fn refusals() {
    let v3 = r#"{"Records":[{"eventVersion":"3.0","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#;
    assert_eq!(
        parse(v3).unwrap_err(),
        NotificationError::UnsupportedVersion("3.0".into())
    );
    let bad_key = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%ff"}}}]}"#;
    assert_eq!(parse(bad_key).unwrap_err().cause(), "bad-key");
    let confirm = r#"{"Type":"SubscriptionConfirmation","TopicArn":"arn:aws:sns:us-east-1:1:t","SubscribeURL":"https://example.invalid"}"#;
    assert_eq!(
        parse(confirm).unwrap_err().cause(),
        "sns-subscription-confirmation"
    );
    // SNS inside SNS is not a route anyone has.
    let inner = serde_json::json!({"Type": "Notification", "Message": "{}"}).to_string();
    let double = serde_json::json!({"Type": "Notification", "Message": inner}).to_string();
    assert_eq!(parse(&double).unwrap_err().cause(), "unknown-message");
}

#[test]
fn allow_list_refuses_foreign_buckets() {
    let objs = vec![Announced::new("trail", "a"), Announced::new("evil", "b")];
    let allowed = vec!["trail".to_owned()];
    assert!(check_allowed(&objs[..1], &allowed).is_ok());
    let e = check_allowed(&objs, &allowed).unwrap_err();
    assert_eq!(
        e.to_string(),
        "s3://evil/b is in a bucket that is not allowed"
    );
    assert_eq!(e.cause(), "bucket-not-allowed");
}

#[test]
fn continuations_round_trip_with_their_versions_and_progress() {
    use crate::notification::{Continuation, ContinuedObject};
    use crate::pipeline::{Progress, StreamProgress};
    use crate::ports::Version;
    let progress = Progress(vec![StreamProgress {
        group: "/trailrelay/cloudtrail".into(),
        stream: "o-1_111122223333_CloudTrail_us-east-1".into(),
        accepted: 10_000,
    }]);
    let c = Continuation::new(
        2,
        vec![
            ContinuedObject {
                bucket: "trail".into(),
                key: "AWSLogs/a b+c.json.gz".into(),
                size: Some(42),
                version: Version {
                    etag: Some("\"e1\"".into()),
                    version_id: Some("v1".into()),
                },
                progress: progress.clone(),
                clock_ms: Some(1_793_923_200_000),
                replay: true,
            },
            ContinuedObject {
                bucket: "trail".into(),
                key: "AWSLogs/next.json.gz".into(),
                size: None,
                version: Version::default(),
                progress: Progress::default(),
                clock_ms: None,
                replay: false,
            },
        ],
    );
    let body = serde_json::to_string(&c).unwrap();
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["trailrelay"], "continuation");
    assert_eq!(value["objects"][0]["etag"], "\"e1\"");
    assert_eq!(value["objects"][0]["progress"][0]["accepted"], 10_000);
    assert!(value["objects"][1].get("progress").is_none());
    let Notification::Continuation {
        attempt, objects, ..
    } = parse(&body).unwrap()
    else {
        panic!("{body}")
    };
    assert_eq!(attempt, 2);
    assert_eq!(
        objects[0].key, "AWSLogs/a b+c.json.gz",
        "keys are not form-encoded"
    );
    assert_eq!(
        objects[0].version.as_ref().unwrap().version_id.as_deref(),
        Some("v1")
    );
    assert_eq!(objects[0].progress, progress);
    assert_eq!(objects[0].clock_ms, Some(1_793_923_200_000));
    assert_eq!(objects[1].clock_ms, None);
    assert_eq!((objects[1].version.clone(), objects[1].size), (None, None));
    assert_eq!((objects[0].replay, objects[1].replay), (true, false));
    assert!(value["objects"][1].get("replay").is_none());
    // Another format is refused, not misread.
    let future = body.replace("\"format\":1", "\"format\":2");
    assert_eq!(parse(&future).unwrap_err().cause(), "unsupported-version");
}

#[test]
fn a_replayed_notification_is_an_s3_notification_marked_as_a_replay() {
    let object = crate::ports::ListedObject {
        key: "p x/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f+1.json.gz".into(),
        size: 7,
        etag: Some("\"e1\"".into()),
    };
    let body =
        crate::replay::enqueue::notification("trail", &object, "us-east-1", std::time::UNIX_EPOCH);
    let Notification::Objects(objects) = parse(&body).unwrap() else {
        panic!("{body}")
    };
    assert_eq!(objects.len(), 1);
    assert_eq!(
        (objects[0].key.as_str(), objects[0].size),
        (object.key.as_str(), Some(7))
    );
    assert!(objects[0].replay);
    // The same notification from S3 is not a replay.
    let from_s3 = body.replace(REPLAY_PRINCIPAL, "AWS:AIDAEXAMPLE");
    let Notification::Objects(objects) = parse(&from_s3).unwrap() else {
        panic!("{from_s3}")
    };
    assert!(!objects[0].replay);
}

/// The version a notification announces is the one to read: S3's `eTag`/`versionId`,
/// EventBridge's `etag`/`version-id`; values not of the shape S3 writes announce none.
#[test]
fn the_announced_version_is_pinned() {
    let version = |body: String| match parse(&body).unwrap() {
        Notification::Objects(list) => list[0].version.clone(),
        other => panic!("{other:?}"),
    };
    let s3 = |object: serde_json::Value| {
        serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": object}}]})
        .to_string()
    };
    assert_eq!(
        version(s3(
            serde_json::json!({"key": "k", "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                                       "versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"})
        )),
        Some(Version {
            etag: Some("\"d41d8cd98f00b204e9800998ecf8427e\"".into()),
            version_id: Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".into()),
        })
    );
    // A multipart upload's ETag; no version id in an unversioned bucket.
    assert_eq!(
        version(s3(
            serde_json::json!({"key": "k", "eTag": "\"9b2cf535f27731c974343645a3985328-2\""})
        )),
        Some(Version {
            etag: Some("\"9b2cf535f27731c974343645a3985328-2\"".into()),
            version_id: None,
        })
    );
    let eventbridge = serde_json::json!({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
        "detail": {"bucket": {"name": "b"}, "object": {"key": "k", "etag": "0123abcd", "version-id": "v1"}}})
    .to_string();
    assert_eq!(
        version(eventbridge),
        Some(Version {
            etag: Some("\"0123abcd\"".into()),
            version_id: Some("v1".into()),
        })
    );
    // Hostile values: headers in disguise, wrong types, nothing.
    for object in [
        serde_json::json!({"key": "k", "eTag": "x\r\nX-Injected: 1", "versionId": "a\nb"}),
        serde_json::json!({"key": "k", "eTag": 42, "versionId": ["v"]}),
        serde_json::json!({"key": "k", "eTag": "", "versionId": ""}),
        serde_json::json!({"key": "k", "eTag": "0".repeat(65)}),
    ] {
        assert_eq!(version(s3(object.clone())), None, "{object}");
    }
}

#[test]
fn only_the_allowed_roles_may_send_a_continuation() {
    let allowed = vec![
        "AROAFORWARDERROLE01".to_owned(),
        "AROAREPLAYROLE00001".to_owned(),
    ];
    let check = |sender| check_sender(sender, Some(allowed.as_slice()));
    // A role's session: the role's unique id, then the session name.
    assert!(check(Some("AROAFORWARDERROLE01:trailrelay-forwarder")).is_ok());
    assert!(check(Some("AROAREPLAYROLE00001")).is_ok());
    for forged in [
        Some("AIDAOPERATORUSER0001"),
        Some("AROAFORWARDERROLE01X:session"),
        Some(":AROAFORWARDERROLE01"),
        Some(""),
        None,
    ] {
        let e = check(forged).unwrap_err();
        assert_eq!(e.cause(), "forged-continuation", "{forged:?}");
        assert!(
            e.to_string()
                .contains(&format!("{:?}", forged.unwrap_or_default())),
            "{e}"
        );
    }
    // Unset: every sender may (a local run, with no stack to name).
    assert!(check_sender(None, None).is_ok());
}
