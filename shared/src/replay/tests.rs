use std::collections::BTreeSet;
use std::sync::Mutex;

use super::*;
use crate::ports::{Lister, Listing};
use crate::testing::fakes::{FixedClock, RecordingQueue};

/// A bucket as a sorted set of keys, listed as S3 lists: by prefix, with or without `/` as
/// the delimiter. Counts its listings.
#[derive(Debug, Default)]
struct Keys {
    keys: BTreeSet<String>,
    listed: Mutex<Vec<String>>,
}

impl Keys {
    fn new(keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            keys: keys.into_iter().map(Into::into).collect(),
            listed: Mutex::default(),
        }
    }
}

impl Lister for Keys {
    async fn list(
        &self,
        _bucket: &str,
        prefix: &str,
        delimited: bool,
    ) -> Result<Listing, PortError> {
        self.listed.lock().unwrap().push(prefix.to_owned());
        let mut listing = Listing::default();
        for key in self.keys.iter().filter(|k| k.starts_with(prefix)) {
            let rest = &key[prefix.len()..];
            match rest.find('/') {
                Some(i) if delimited => {
                    let common = format!("{prefix}{}", &rest[..=i]);
                    if listing.prefixes.last() != Some(&common) {
                        listing.prefixes.push(common);
                    }
                }
                _ => listing.objects.push(ListedObject {
                    key: key.clone(),
                    size: 100,
                    etag: Some("\"abc\"".into()),
                }),
            }
        }
        Ok(listing)
    }
}

const ORG: &str = "AWSLogs/o-exampleorg1/";
const A: &str = "111122223333";
const B: &str = "444455556666";

/// A log file's key in an organisation trail: folder date `day` (YYYY/MM/DD), stamp `stamp`
/// (YYYYMMDDTHHmmZ).
fn log(account: &str, region: &str, day: &str, stamp: &str) -> String {
    format!(
        "{ORG}{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{stamp}_abcdEFGH12345678.json.gz"
    )
}

fn request(extra: serde_json::Value) -> Request {
    let mut r = serde_json::json!({"bucket": "org-trail"});
    r.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(r).unwrap()
}

async fn selected(keys: &Keys, request: &Request) -> Vec<String> {
    let mut walk = select::Walk::new(Selection::new(request).unwrap());
    let mut out = Vec::new();
    while let Some(day) = walk.next_day(keys).await.unwrap() {
        out.extend(day.into_iter().map(|s| s.object.key));
    }
    out
}

fn org_bucket() -> Keys {
    let keys = [
        log(A, "us-east-1", "2026/10/31", "20261031T2355Z"),
        // Stamped just after midnight, in the previous day's folder.
        log(A, "us-east-1", "2026/10/31", "20261101T0000Z"),
        log(A, "us-east-1", "2026/11/01", "20261101T0005Z"),
        log(A, "us-east-1", "2026/11/01", "20261101T2355Z"),
        log(A, "us-east-1", "2026/11/01", "20261102T0000Z"),
        log(A, "eu-west-1", "2026/11/01", "20261101T1200Z"),
        log(B, "us-east-1", "2026/11/01", "20261101T1200Z"),
        log(A, "us-east-1", "2026/11/05", "20261105T1200Z"),
        format!(
            "{ORG}{A}/CloudTrail-Digest/us-east-1/2026/11/01/{A}_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T120000Z.json.gz"
        ),
        format!(
            "{ORG}{A}/CloudTrail-Insight/us-east-1/2026/11/01/{A}_CloudTrail-Insight_us-east-1_20261101T1200Z_abcdEFGH12345678.json.gz"
        ),
        format!("{ORG}{A}/CloudTrail/us-east-1/2026/11/01/not-a-trail-file.txt"),
    ];
    Keys::new(keys)
}

#[tokio::test]
async fn a_day_is_taken_by_the_stamps_in_the_names_from_midnight_to_midnight() {
    let keys = org_bucket();
    let day = request(serde_json::json!({"from": "2026-11-01", "to": "2026-11-02"}));
    assert_eq!(
        selected(&keys, &day).await,
        vec![
            log(A, "eu-west-1", "2026/11/01", "20261101T1200Z"),
            log(A, "us-east-1", "2026/10/31", "20261101T0000Z"),
            log(A, "us-east-1", "2026/11/01", "20261101T0005Z"),
            log(A, "us-east-1", "2026/11/01", "20261101T2355Z"),
            log(B, "us-east-1", "2026/11/01", "20261101T1200Z"),
        ]
    );
    // Only the day folders that can hold the range are listed: the day before and the day.
    let listed = keys.listed.lock().unwrap();
    assert!(
        listed.iter().all(|p| !p.contains("/2026/11/05/")),
        "{listed:?}"
    );
    assert!(listed.iter().any(|p| p.ends_with("/2026/10/31/")));
}

#[tokio::test]
async fn range_edges_are_from_inclusive_and_to_exclusive_at_the_minute() {
    let keys = org_bucket();
    let r = request(
        serde_json::json!({"from": "2026-11-01T00:05:00Z", "to": "2026-11-01T23:55:00Z",
                                       "accounts": [A], "regions": ["us-east-1"]}),
    );
    assert_eq!(
        selected(&keys, &r).await,
        vec![log(A, "us-east-1", "2026/11/01", "20261101T0005Z")]
    );
}

#[tokio::test]
async fn accounts_regions_and_kinds_filter_and_digests_are_never_taken() {
    let keys = org_bucket();
    let r = request(serde_json::json!({"accounts": [B]}));
    assert_eq!(
        selected(&keys, &r).await,
        vec![log(B, "us-east-1", "2026/11/01", "20261101T1200Z")]
    );
    let r = request(serde_json::json!({"regions": ["eu-west-1"]}));
    assert_eq!(
        selected(&keys, &r).await,
        vec![log(A, "eu-west-1", "2026/11/01", "20261101T1200Z")]
    );
    // Insights only on request; unbounded range: everything of the kinds asked for.
    let r = request(
        serde_json::json!({"kinds": ["insight", "log"], "accounts": [A], "regions": ["us-east-1"]}),
    );
    let got = selected(&keys, &r).await;
    assert_eq!(got.len(), 7, "{got:?}");
    assert!(
        got[0].contains("/CloudTrail-Insight/"),
        "key order: {got:?}"
    );
    assert!(got.iter().all(|k| !k.contains("Digest")));
    let e = Selection::new(&request(serde_json::json!({"kinds": ["digest"]}))).unwrap_err();
    assert_eq!(e.field, "kinds");
}

#[tokio::test]
async fn a_single_account_trail_with_a_prefix_is_walked_too() {
    let key = |day: &str, stamp: &str| {
        format!(
            "logs/2026/AWSLogs/{A}/CloudTrail/us-east-1/{day}/{A}_CloudTrail_us-east-1_{stamp}_abcdEFGH12345678.json.gz"
        )
    };
    let (k1, k2) = (
        key("2026/11/01", "20261101T0100Z"),
        key("2026/11/02", "20261102T0100Z"),
    );
    let keys = Keys::new([k1.as_str(), k2.as_str()]);
    let r = request(serde_json::json!({"prefix": "logs/2026", "to": "2026-11-02"}));
    assert_eq!(selected(&keys, &r).await, vec![k1.clone()]);
    // A deeper prefix narrows the walk.
    let r = request(
        serde_json::json!({"prefix": format!("logs/2026/AWSLogs/{A}/CloudTrail/us-east-1/2026/11/02/")}),
    );
    assert_eq!(selected(&keys, &r).await, vec![k2]);
}

#[tokio::test]
async fn start_after_resumes_past_every_key_done() {
    let keys = org_bucket();
    let all = selected(&keys, &request(serde_json::json!({}))).await;
    for (i, done) in all.iter().enumerate() {
        let r = request(serde_json::json!({"start_after": done}));
        assert_eq!(
            selected(&keys, &r).await,
            all[i + 1..].to_vec(),
            "after {done}"
        );
    }
}

#[test]
fn bad_requests_name_their_field() {
    for (extra, field) in [
        (serde_json::json!({"from": "yesterday"}), "from"),
        (
            serde_json::json!({"from": "2026-11-02", "to": "2026-11-01"}),
            "to",
        ),
        (serde_json::json!({"accounts": ["1234"]}), "accounts"),
        (serde_json::json!({"kinds": ["logs"]}), "kinds"),
        (serde_json::json!({"bucket": ""}), "bucket"),
    ] {
        let e = Selection::new(&request(extra)).unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
    assert!(serde_json::from_str::<Request>(r#"{"bucket":"b","form":"2026-11-01"}"#).is_err());
    assert_eq!(
        parse_time("2026-11-30").unwrap(),
        parse_time("2026-11-30T00:00:00Z").unwrap()
    );
}

fn replay<'a>(
    keys: &'a Keys,
    queue: &'a RecordingQueue,
    clock: &'a FixedClock,
) -> Replay<'a, Keys, RecordingQueue> {
    Replay {
        lister: keys,
        queue: Some(queue),
        target: QueueRef::Url("https://sqs.example/q".into()),
        region: "us-east-1".into(),
        rate: None,
        clock,
    }
}

fn announced_keys(queue: &RecordingQueue) -> Vec<String> {
    queue
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|m| match crate::notification::parse(&m.body).unwrap() {
            crate::notification::Notification::Objects(o) => {
                assert!(o[0].replay, "marked as a replay");
                o[0].key.clone()
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

fn many(n: usize) -> Keys {
    let keys: Vec<String> = (0..n)
        .map(|i| {
            log(
                A,
                "us-east-1",
                "2026/11/01",
                &format!("20261101T{:02}{:02}Z", i / 60, i % 60),
            )
        })
        .collect();
    Keys::new(keys)
}

#[tokio::test(start_paused = true)]
async fn objects_go_as_notifications_ten_to_a_batch_and_refused_entries_alone() {
    let keys = many(23);
    let queue = RecordingQueue::default();
    *queue.refuse_entries.lock().unwrap() = 2;
    let clock = FixedClock(1_793_491_500);
    let summary = replay(&keys, &queue, &clock)
        .run(&request(serde_json::json!({})), None, &|_| {})
        .await
        .unwrap();
    assert!(summary.is_complete(), "{summary:?}");
    assert_eq!(
        summary.total(),
        Tally {
            objects: 23,
            bytes: 2300
        }
    );
    // 10 (two refused), the two again, 10, 3.
    assert_eq!(*queue.batches.lock().unwrap(), vec![10, 2, 10, 3]);
    let mut sent = announced_keys(&queue);
    sent.sort();
    assert_eq!(sent, selected(&keys, &request(serde_json::json!({}))).await);
    let body: serde_json::Value =
        serde_json::from_str(&queue.sent.lock().unwrap()[0].body).unwrap();
    let record = &body["Records"][0];
    assert_eq!(record["eventTime"], "2026-11-01T00:05:00.000Z");
    assert_eq!(record["s3"]["object"]["eTag"], "abc");
    assert_eq!(record["s3"]["object"]["size"], 100);
}

#[tokio::test(start_paused = true)]
async fn a_replay_stopped_half_way_continues_without_repeating_an_object() {
    let keys = many(35);
    let queue = RecordingQueue::default();
    let clock = FixedClock(1_793_491_500);
    let first = request(serde_json::json!({"from": "2026-11-01"}));
    // Entries that stay refused past the retries: the replay stops, those pending.
    *queue.refuse_matching.lock().unwrap() =
        vec!["T0011Z".into(), "T0012Z".into(), "T0013Z".into()];
    let summary = replay(&keys, &queue, &clock)
        .run(&first, None, &|_| {})
        .await
        .unwrap();
    assert!(
        matches!(summary.stopped, Some(Stopped::Failed(ref e)) if e.class == ErrorClass::Retry)
    );
    assert_eq!(summary.pending.len(), 3);
    let next = summary.continuation(&first).unwrap();
    assert_eq!(next.from, first.from);
    assert!(next.start_after.as_deref().unwrap().contains("T0019Z"));
    queue.refuse_matching.lock().unwrap().clear();
    // A deadline already past: nothing more is sent, the bookmark stays.
    let stopped = replay(&keys, &queue, &clock)
        .run(&next, Some(Instant::now()), &|_| {})
        .await
        .unwrap();
    assert!(matches!(stopped.stopped, Some(Stopped::Deadline)));
    let again = stopped.continuation(&next).unwrap();
    assert_eq!(again.start_after, next.start_after);
    assert_eq!(again.pending, next.pending);
    let rest = replay(&keys, &queue, &clock)
        .run(&again, None, &|_| {})
        .await
        .unwrap();
    assert!(rest.is_complete(), "{rest:?}");
    let mut sent = announced_keys(&queue);
    sent.sort();
    assert_eq!(sent, selected(&keys, &first).await, "every object once");
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_counts_and_sends_nothing() {
    let keys = org_bucket();
    let clock = FixedClock(0);
    let summary = Replay::<Keys, RecordingQueue> {
        queue: None,
        ..replay(&keys, &RecordingQueue::default(), &clock)
    }
    .run(
        &request(serde_json::json!({"to": "2026-11-02"})),
        None,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(summary.total().objects, 6);
    let (accounts, regions) = summary.accounts_and_regions();
    assert_eq!(accounts.len(), 2);
    assert_eq!(regions.len(), 2);
    assert_eq!(summary.days.len(), 2);
}

/// A name CloudTrail does not write (a stamp of non-ASCII digits, a region folder that names no
/// region) is passed over and named, never parsed into a panic nor taken.
#[tokio::test]
async fn names_a_trail_does_not_write_are_named_and_passed_over() {
    let odd_stamp = log(A, "us-east-1", "2026/11/01", "202é101T0000Z");
    let nowhere = log(A, "not-a-region", "2026/11/01", "20261101T1200Z");
    let plain = log(A, "us-east-1", "2026/11/01", "20261101T1200Z");
    let keys = Keys::new([odd_stamp.clone(), nowhere, plain.clone()]);
    let mut walk = select::Walk::new(Selection::new(&request(serde_json::json!({}))).unwrap());
    let mut taken = Vec::new();
    while let Some(day) = walk.next_day(&keys).await.unwrap() {
        taken.extend(day.into_iter().map(|s| s.object.key));
    }
    assert_eq!(taken, [plain]);
    assert_eq!(
        walk.skipped,
        [format!("{ORG}{A}/CloudTrail/not-a-region/"), odd_stamp]
    );
    assert_eq!(walk.skipped_count, 2);
    for region in [
        "us-east-1",
        "us-gov-west-1",
        "eusc-de-east-1",
        "ap-southeast-4",
    ] {
        assert!(select::is_region_name(region), "{region}");
    }
    for not_one in [
        "not-a-region",
        "us-east",
        "useast1",
        "us-east-one",
        "US-EAST-1",
        "x-y-1",
    ] {
        assert!(!select::is_region_name(not_one), "{not_one}");
    }
}

/// A queue the caller may not send to refuses every message alike: the replay stops at the first
/// refusal, named once, instead of naming every object.
#[tokio::test(start_paused = true)]
async fn a_queue_that_refuses_the_caller_stops_the_replay_once() {
    let keys = many(35);
    let clock = FixedClock(0);
    let queue = RecordingQueue {
        deny: true,
        ..RecordingQueue::default()
    };
    let summary = replay(&keys, &queue, &clock)
        .run(&request(serde_json::json!({})), None, &|_| {})
        .await
        .unwrap();
    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    assert!(
        matches!(&summary.stopped, Some(Stopped::Failed(e)) if e.cause == "access-denied"),
        "{:?}",
        summary.stopped
    );
    assert_eq!(
        *queue.batches.lock().unwrap(),
        [10],
        "one call, then nothing"
    );
    assert!(!summary.is_complete());
}
