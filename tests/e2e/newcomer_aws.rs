//! A newcomer's first hour against S3, SQS and CloudWatch Logs (moto): a backfill run twice,
//! metrics written into a fresh folder, configuration and missing queues named once, and the
//! `--json` of every command.

use std::process::{Command, Output};

use serde_json::Value;

use crate::moto::Moto;
use crate::stack::*;
use crate::support::text;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every stdout line parsed; the last is `{"summary": ...}`.
fn json_lines(output: &Output) -> (Vec<Value>, Value) {
    let mut lines: Vec<Value> = stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    assert!(summary.get("summary").is_some(), "{summary}");
    (lines, summary["summary"].clone())
}

/// A backfill into a folder that does not exist yet writes its metrics there; run again it
/// sends nothing twice (each file's receipt covers its ETag); `--force` sends again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_run_twice_sends_each_event_once_and_writes_its_metrics() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (input, _) = small_trail(&c, 41).await;
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("fresh/deeper/out");
    let backfill = |extra: &[&str]| {
        let mut args = vec![
            "forward",
            "s3://org-trail/AWSLogs/",
            "--logs",
            "cloudwatch",
            "--archive",
            "s3://trail-archive/cloudtrail",
            "--rules",
            "cis",
            "--s3-force-path-style",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        cli_on(&moto.endpoint, &args)
    };
    let first = backfill(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(out.join("metrics.ndjson").is_file(), "{}", text(&first));
    let files = stdout(&first)
        .lines()
        .find_map(|l| l.split_once(" forwarded,").map(|(head, _)| head.to_owned()))
        .and_then(|head| head.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
        .unwrap();
    assert!(files > 0);
    let second = backfill(&["--json"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let (failures, summary) = json_lines(&second);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(summary["objects"]["forwarded"], 0, "{summary}");
    assert_eq!(summary["objects"]["skipped"]["forwarded-before"], files);
    assert_eq!(summary["events"]["logged"], 0);
    assert_each_event_once_everywhere(&c, &input).await;
    let forced = backfill(&["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert_eq!(logged(&c.logs).await.len(), 2 * input.len());
}

/// No credentials, or no region: one line naming the configuration, exit 1, before anything
/// is listed or sent.
#[test]
fn missing_credentials_or_region_are_configuration() {
    let home = tempfile::tempdir().unwrap();
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let bare = |region: Option<&str>| {
        let mut command = Command::new(crate::support::binary());
        command
            .args(["replay", "s3://org-trail/AWSLogs/", "--dry-run", "-q"])
            .env_clear()
            .env("HOME", home.path())
            .env("AWS_CONFIG_FILE", home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", format!("http://{nowhere}"));
        if let Some(region) = region {
            command.env("AWS_REGION", region);
        }
        command.output().unwrap()
    };
    for (output, said) in [
        (
            bare(Some("us-east-1")),
            "error: no AWS credentials found: set AWS_PROFILE",
        ),
        (bare(None), "error: no AWS region: set AWS_REGION"),
    ] {
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{}", text(&output));
        assert!(
            err.starts_with(said) && err.trim_end().ends_with("[config]"),
            "{err}"
        );
    }
}

/// A replay onto a queue that does not exist stops at the first refusal with one line: the
/// service's code and message, not an SDK dump per object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_queue_stops_a_replay_with_one_line() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    small_trail(&c, 42).await;
    let missing = format!("{}/123456789012/nope", moto.endpoint);
    let output = cli_on(
        &moto.endpoint,
        &[
            "replay",
            "s3://org-trail/AWSLogs/",
            "--queue",
            &missing,
            "--s3-force-path-style",
            "-q",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let err = stderr(&output);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("NonExistentQueue") || errors[0].contains("QueueDoesNotExist"),
        "{err}"
    );
    assert!(
        !err.contains("ServiceError") && !err.contains("SdkBody"),
        "{err}"
    );
    assert!(err.len() < 4096, "{} bytes of errors:\n{err}", err.len());
}

/// `redrive --dry-run` shows each message's cause, object (read from an S3 notification's body
/// when no attribute names it) and error, as text and as NDJSON; a moved message carries none
/// of the failure's attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_shows_what_each_dead_letter_is_about() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    let (queue, _) = create_queue(&c.sqs, "notifications").await;
    let (dlq, _) = create_queue(&c.sqs, "notifications-dlq").await;
    let attr = string_attribute;
    // Dead-lettered after maxReceiveCount: no attributes, the object only in the body.
    c.sqs
        .send_message()
        .queue_url(&dlq)
        .message_body(s3_event("AWSLogs/b c.json.gz"))
        .send()
        .await
        .unwrap();
    c.sqs
        .send_message()
        .queue_url(&dlq)
        .message_body(s3_event("AWSLogs/a.json.gz"))
        .message_attributes("trailrelay.cause", attr("gzip"))
        .message_attributes("trailrelay.class", attr("poison"))
        .message_attributes(
            "trailrelay.object",
            attr("s3://org-trail/AWSLogs/a.json.gz"),
        )
        .message_attributes("trailrelay.error", attr("corrupt deflate stream"))
        .message_attributes("origin", attr("kept"))
        .send()
        .await
        .unwrap();
    let dry = cli_on(
        &moto.endpoint,
        &["redrive", "--from-queue", &dlq, "--dry-run"],
    );
    assert!(dry.status.success(), "{}", text(&dry));
    let said = stdout(&dry);
    assert!(
        said.contains("object=s3://org-trail/AWSLogs/b c.json.gz"),
        "{said}"
    );
    assert!(
        said.contains("cause=gzip object=s3://org-trail/AWSLogs/a.json.gz"),
        "{said}"
    );
    assert!(said.contains("  error: corrupt deflate stream"), "{said}");
    assert!(said.contains("2 messages in "), "{said}");
    let json = cli_on(
        &moto.endpoint,
        &["redrive", "--from-queue", &dlq, "--dry-run", "--json"],
    );
    let (messages, summary) = json_lines(&json);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m["message"]["error"] == "corrupt deflate stream"
                && m["message"]["cause"] == "gzip"),
        "{messages:?}"
    );
    assert_eq!(summary["messages"], 2);
    assert_eq!(summary["dry_run"], true);
    let moved = cli_on(
        &moto.endpoint,
        &["redrive", "--from-queue", &dlq, "--to-queue", &queue, "-q"],
    );
    assert!(moved.status.success(), "{}", text(&moved));
    assert!(!stdout(&moved).contains("cause="), "{}", text(&moved));
    let back = drain(&c.sqs, &queue, 2).await;
    for m in &back {
        for name in [
            "trailrelay.cause",
            "trailrelay.class",
            "trailrelay.object",
            "trailrelay.error",
        ] {
            assert_eq!(attribute(m, name), None, "{name}");
        }
    }
    assert!(back.iter().any(|m| attribute(m, "origin") == Some("kept")));
}

/// `replay --json` and `validate --json`: NDJSON on standard output ending in one summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_and_validate_print_one_json_summary() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    small_trail(&c, 43).await;
    let replay = cli_on(
        &moto.endpoint,
        &[
            "replay",
            "s3://org-trail/AWSLogs/",
            "--dry-run",
            "--json",
            "--s3-force-path-style",
        ],
    );
    assert!(replay.status.success(), "{}", text(&replay));
    let (refused, summary) = json_lines(&replay);
    assert!(refused.is_empty());
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["objects"], 4, "{summary}");
    assert_eq!(summary["accounts"], 1);
    assert_eq!(summary["regions"], 2);
    // validate --json on the same trail: findings (none) as NDJSON, then the summary.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("demo.der");
    std::fs::write(
        &key,
        trailrelay::demo::demo_public_key().unwrap().pkcs1_der(),
    )
    .unwrap();
    let validate = cli_on(
        &moto.endpoint,
        &[
            "validate",
            "s3://org-trail/",
            "--public-keys",
            key.to_str().unwrap(),
            "--json",
            "--s3-force-path-style",
            "-q",
        ],
    );
    assert!(validate.status.success(), "{}", text(&validate));
    let (findings, summary) = json_lines(&validate);
    assert!(findings.is_empty(), "{findings:?}");
    assert!(
        summary["tally"]["digests"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert_eq!(summary["findings"], 0);
    assert_eq!(summary["forwarding_checked"], false);
}
