//! The stack the forwarder meets on AWS, on moto: clients, buckets, a trail, the forwarder as
//! the function builds it, and readers of every destination.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use trailrelay::aws::forwarder_ports;
use trailrelay::config::Config;
use trailrelay::demo::{self, DemoSpec};
use trailrelay::forwarder::{Forwarder, Invocation, SqsMessage, sqs_message};
use trailrelay::ports::ErrorClass;

use crate::faults::{self, Faults};
use crate::moto::{Moto, sdk_config};
use crate::support::{files, input_events};

pub(crate) const TRAIL: &str = "org-trail";
pub(crate) const ARCHIVE: &str = "trail-archive";

pub(crate) struct Clients {
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
}

pub(crate) async fn clients(endpoint: &str) -> Clients {
    let sdk = sdk_config(endpoint).await;
    Clients {
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        ),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
    }
}

/// The forwarder as the Lambda function builds it.
pub(crate) use trailrelay::aws::AwsForwarder;

pub(crate) fn forwarder(c: &Clients) -> AwsForwarder {
    forwarder_with(c, &[])
}

pub(crate) fn forwarder_with(c: &Clients, extra: &[(&'static str, &'static str)]) -> AwsForwarder {
    let mut env = HashMap::from([
        ("ALLOWED_BUCKETS", TRAIL),
        ("ARCHIVE_BUCKET", ARCHIVE),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("DEADLINE_GRACE_MS", "2000"),
    ]);
    env.extend(extra.iter().copied());
    let config = Config::from_lookup(|n| env.get(n).map(|v| (*v).to_owned())).unwrap();
    let clients = trailrelay::aws::Clients {
        s3: c.s3.clone(),
        logs: c.logs.clone(),
        sqs: c.sqs.clone(),
    };
    let ports = forwarder_ports(&config, clients, tokio::runtime::Handle::current());
    Forwarder::new(ports, config)
}

/// One invocation with `records`, given two minutes.
pub(crate) async fn deliver(f: &AwsForwarder, records: Vec<SqsMessage>) -> Invocation {
    f.handle(records, Instant::now() + Duration::from_secs(120))
        .await
}

/// Receives until `want` messages that announce objects came, and every other message
/// (S3's test event) with them.
pub(crate) async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    want: usize,
) -> Vec<SqsMessage> {
    let mut out = Vec::new();
    let started = Instant::now();
    while out
        .iter()
        .filter(|m: &&SqsMessage| {
            m.body
                .as_deref()
                .unwrap_or_default()
                .contains("ObjectCreated")
        })
        .count()
        < want
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} messages arrived",
            out.len()
        );
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            out.push(message(m.message_id().unwrap(), m.body().unwrap()));
        }
    }
    out
}

/// The archive's lines, by object key (quarantine objects left out).
pub(crate) async fn archived(s3: &aws_sdk_s3::Client) -> Vec<(String, Value)> {
    let mut lines = Vec::new();
    for (key, text) in archive_objects(s3, false).await {
        for line in text.lines() {
            lines.push((key.clone(), serde_json::from_str(line).unwrap()));
        }
    }
    lines
}

/// Every line of the archive objects (`quarantine` false) or of the quarantine objects, as
/// text: some records are valid JSON that serde refuses.
pub(crate) async fn archive_texts(s3: &aws_sdk_s3::Client, quarantine: bool) -> Vec<String> {
    let objects = archive_objects(s3, quarantine).await;
    objects
        .iter()
        .flat_map(|(_, text)| text.lines().map(str::to_owned))
        .collect()
}

/// (key, decompressed text) of the archive objects, or of the quarantine objects.
async fn archive_objects(s3: &aws_sdk_s3::Client, quarantine: bool) -> Vec<(String, String)> {
    let folder = format!("/{}/", trailrelay::pipeline::quarantine::QUARANTINE_FOLDER);
    let mut out = Vec::new();
    let listed = s3.list_objects_v2().bucket(ARCHIVE).send().await.unwrap();
    for object in listed.contents() {
        let key = object.key().unwrap().to_owned();
        // Receipts (`_receipts/`) are JSON beside the archive, not archive objects.
        if key.contains(&folder) != quarantine || !key.ends_with(".ndjson.gz") {
            continue;
        }
        let body = archived_bytes(s3, &key).await;
        let mut text = String::new();
        MultiGzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        out.push((key, text));
    }
    out
}

/// The bytes of the archive bucket's object `key`.
pub(crate) async fn archived_bytes(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(ARCHIVE)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .to_vec()
}

/// (stream, timestamp, record) of every event in the default log group.
pub(crate) async fn logged(logs: &aws_sdk_cloudwatchlogs::Client) -> Vec<(String, i64, Value)> {
    log_events(logs)
        .await
        .into_iter()
        .map(|(stream, at, message)| (stream, at, serde_json::from_str(&message).unwrap()))
        .collect()
}

/// (stream, timestamp, message) of every event in the default log group.
pub(crate) async fn log_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    let streams = logs
        .describe_log_streams()
        .log_group_name("/trailrelay/cloudtrail")
        .send()
        .await
        .unwrap();
    for stream in streams.log_streams() {
        let name = stream.log_stream_name().unwrap().to_owned();
        let mut token: Option<String> = None;
        loop {
            let page = logs
                .get_log_events()
                .log_group_name("/trailrelay/cloudtrail")
                .log_stream_name(&name)
                .start_from_head(true)
                .set_next_token(token.clone())
                .send()
                .await
                .unwrap();
            for e in page.events() {
                out.push((
                    name.clone(),
                    e.timestamp().unwrap(),
                    e.message().unwrap().to_owned(),
                ));
            }
            let next = page.next_forward_token().map(str::to_owned);
            if page.events().is_empty() || next == token {
                break;
            }
            token = next;
        }
    }
    out
}

/// Writes a trail of `spec` and uploads every file of it to the trail bucket; returns what was
/// written, every record by eventID, and the keys.
pub(crate) async fn upload_trail(
    c: &Clients,
    spec: &DemoSpec,
) -> (demo::DemoCorpus, BTreeMap<String, Value>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let corpus = demo::write_corpus(dir.path(), spec).unwrap();
    let input = input_events(dir.path());
    let keys = upload_dir(c, dir.path()).await.into_keys().collect();
    (corpus, input, keys)
}

/// Uploads every `.json.gz` file under `root` to the trail bucket, keyed by its path under
/// `root`; each key with the eventIDs of the file's records.
pub(crate) async fn upload_dir(
    c: &Clients,
    root: &std::path::Path,
) -> BTreeMap<String, Vec<String>> {
    let mut by_key = BTreeMap::new();
    for path in files(root, ".json.gz") {
        let key = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = std::fs::read(&path).unwrap();
        // A digest's signature is its object's metadata, as CloudTrail writes it.
        let sidecar = format!("{}.signature", path.display());
        let signature = std::fs::read_to_string(sidecar).ok();
        c.s3.put_object()
            .bucket(TRAIL)
            .key(&key)
            .set_metadata(signature.map(|s| [("signature".to_owned(), s)].into()))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .unwrap();
        let doc: Value = serde_json::from_str(&crate::support::gunzip(&path)).unwrap();
        let ids = doc["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["eventID"].as_str().unwrap_or_default().to_owned())
            .collect();
        by_key.insert(key, ids);
    }
    by_key
}

/// Buckets and a small trail on a fresh moto, and the S3 event bodies announcing its log files.
pub(crate) async fn small_trail(
    c: &Clients,
    seed: u64,
) -> (std::collections::BTreeMap<String, Value>, Vec<SqsMessage>) {
    c.s3.create_bucket().bucket(TRAIL).send().await.unwrap();
    c.s3.create_bucket().bucket(ARCHIVE).send().await.unwrap();
    let now = now_s();
    let spec = DemoSpec {
        accounts: 1,
        regions: 2,
        files_per_stream: 2,
        records_per_file: 40,
        seed,
        start_s: now - 3600,
        ..DemoSpec::default()
    };
    let (_, input, keys) = upload_trail(c, &spec).await;
    let mut messages = Vec::new();
    for key in keys.iter().filter(|k| !k.contains("CloudTrail-Digest")) {
        messages.push(message(format!("m{}", messages.len()), s3_event(key)));
    }
    (input, messages)
}

/// (message id, class, cause) of every failed message, in batch order.
pub(crate) fn failed(invocation: &Invocation) -> Vec<(&str, ErrorClass, &'static str)> {
    invocation
        .failures()
        .map(|(id, f)| (id, f.class, f.cause))
        .collect()
}

pub(crate) fn count_ids<'a>(ids: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for id in ids {
        *seen.entry(id.to_owned()).or_default() += 1;
    }
    seen
}

/// Every input event is in CloudWatch Logs once and in the archive once, and nothing else is.
pub(crate) async fn assert_each_event_once_everywhere(
    c: &Clients,
    input: &BTreeMap<String, Value>,
) {
    let in_logs = count_ids(
        logged(&c.logs)
            .await
            .iter()
            .map(|(_, _, r)| r["eventID"].as_str().unwrap()),
    );
    let archived_lines = archived(&c.s3).await;
    let in_archive = count_ids(
        archived_lines
            .iter()
            .map(|(_, l)| l["event_id"].as_str().unwrap()),
    );
    for seen in [&in_logs, &in_archive] {
        assert_eq!(
            seen.keys().collect::<Vec<_>>(),
            input.keys().collect::<Vec<_>>()
        );
        assert!(seen.values().all(|&n| n == 1));
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_s() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_secs() as i64
}

/// moto with a small trail, clients that reach it directly and clients that go through the
/// fault-injecting proxy (no faults set yet).
pub(crate) struct Faulty {
    pub(crate) _moto: Moto,
    pub(crate) direct: Clients,
    pub(crate) through_proxy: Clients,
    pub(crate) faults: Arc<Faults>,
    pub(crate) input: BTreeMap<String, Value>,
    pub(crate) messages: Vec<SqsMessage>,
}

pub(crate) async fn faulty(seed: u64) -> Faulty {
    let moto = Moto::start();
    let direct = clients(&moto.endpoint).await;
    let (input, messages) = small_trail(&direct, seed).await;
    let faults = Arc::new(Faults::default());
    let proxy = faults::start(moto.endpoint.clone(), Arc::clone(&faults)).await;
    let through_proxy = clients(&proxy).await;
    Faulty {
        _moto: moto,
        direct,
        through_proxy,
        faults,
        input,
        messages,
    }
}

/// Creates a queue; its URL and ARN.
pub(crate) async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap();
    (url, arn)
}

/// A message as Lambda delivers it from the queue `arn`.
pub(crate) fn from_queue(arn: &str, id: impl AsRef<str>, body: impl AsRef<str>) -> SqsMessage {
    sqs_message(id.as_ref(), body.as_ref(), Some(arn))
}

/// A message as Lambda delivers it, from no known queue.
pub(crate) fn message(id: impl AsRef<str>, body: impl AsRef<str>) -> SqsMessage {
    sqs_message(id.as_ref(), body.as_ref(), None)
}

/// Every message on `queue` (at least `want`), deleted as it is read, with its attributes.
pub(crate) async fn drain(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    want: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut out = Vec::new();
    let started = Instant::now();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            out.push(m.clone());
        }
        if out.len() >= want && got.messages().is_empty() {
            return out;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} of {want} messages arrived",
            out.len()
        );
    }
}

/// A string message attribute, as one is sent.
pub(crate) fn string_attribute(value: &str) -> aws_sdk_sqs::types::MessageAttributeValue {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap()
}

/// A string message attribute.
pub(crate) fn attribute<'m>(m: &'m aws_sdk_sqs::types::Message, name: &str) -> Option<&'m str> {
    m.message_attributes()?.get(name)?.string_value()
}

/// The `trailrelay` binary with `args`, its AWS clients pointed at `endpoint` with test
/// credentials.
pub(crate) fn cli_on(endpoint: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(crate::support::binary())
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

/// The S3 event notification S3 sends for an object created at `key` in the trail bucket (the
/// key form-encoded, as S3 writes it).
pub(crate) fn s3_event(key: &str) -> String {
    serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": TRAIL}, "object": {"key": trailrelay::key::form_encode(key)}}}]})
    .to_string()
}

/// Every message of `invocation` ended well: none is to be delivered again.
pub(crate) fn assert_no_failure(invocation: &Invocation) {
    assert!(
        invocation.response.batch_item_failures.is_empty(),
        "{:?}",
        invocation.outcomes
    );
}
