//! The sample events in `events/` stay valid: each is a Lambda SQS event whose bodies the
//! forwarder reads as their names say.

use trailrelay::forwarder::SqsEvent;
use trailrelay::notification::{self, Acknowledged, Notification};

fn sample(name: &str) -> SqsEvent {
    let path = crate::support::workspace().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn kinds(name: &str) -> Vec<String> {
    sample(name)
        .records
        .iter()
        .map(
            |m| match notification::parse(m.body.as_deref().unwrap_or_default()) {
                Ok(Notification::Objects(list)) => {
                    let allowed = notification::check_allowed(&list, &["org-trail".to_owned()]);
                    match allowed {
                        Ok(()) => format!("objects:{}", list.len()),
                        Err(e) => e.cause().to_owned(),
                    }
                }
                Ok(Notification::Acknowledged(a)) => a.as_str().to_owned(),
                Ok(Notification::Continuation { objects, .. }) => {
                    format!("continuation:{}", objects.len())
                }
                Err(e) => e.cause().to_owned(),
            },
        )
        .collect()
}

#[test]
fn every_sample_reads_as_its_name_says() {
    assert_eq!(kinds("sqs-s3-notification.json"), ["objects:1"]);
    assert_eq!(kinds("sqs-sns-s3-notification.json"), ["objects:1"]);
    assert_eq!(kinds("sqs-raw-sns-s3-notification.json"), ["objects:1"]);
    assert_eq!(kinds("sqs-eventbridge-object-created.json"), ["objects:1"]);
    assert_eq!(kinds("sqs-cloudtrail-sns.json"), ["objects:2"]);
    assert_eq!(
        kinds("sqs-s3-test-event.json"),
        [Acknowledged::S3TestEvent.as_str()]
    );
    assert_eq!(
        kinds("sqs-mixed-batch.json"),
        [
            "objects:1",
            "s3-test-event",
            "bucket-not-allowed",
            "not-json-message"
        ]
    );
}

/// The keys the samples name are keys of the demo trail, so the local loop finds them, and
/// they pin no version the local trail would not have.
#[test]
fn samples_name_objects_of_the_demo_trail() {
    let dir = tempfile::tempdir().unwrap();
    trailrelay::demo::write_corpus(dir.path(), &trailrelay::demo::DemoSpec::default()).unwrap();
    let names: Vec<String> = std::fs::read_dir(crate::support::workspace().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sqs-") && n.ends_with(".json"))
        .collect();
    assert!(names.len() >= 7, "{names:?}");
    for name in &names {
        for m in sample(name).records {
            let Ok(Notification::Objects(list)) =
                notification::parse(m.body.as_deref().unwrap_or_default())
            else {
                // Acknowledged or refused bodies name no object.
                continue;
            };
            // The mixed batch also names another bucket's object, on purpose.
            let list: Vec<_> = list
                .into_iter()
                .filter(|o| o.bucket == "org-trail")
                .collect();
            for o in list {
                assert!(
                    dir.path().join(&o.key).exists(),
                    "{name}: {} is not in the demo trail",
                    o.key
                );
                // No ETag: the forwarder reads the version announced, and the demo's files
                // are generated where the samples are used.
                assert_eq!(o.version, None, "{name}: {}", o.key);
            }
        }
    }
}
