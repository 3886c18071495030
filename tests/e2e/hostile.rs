//! Hostile inputs, each with its expected outcome, through the CLI on local folders and through
//! the function on moto: whole-file faults fail their file (poison, named), odd records cost
//! nothing but themselves, and everything else arrives once.

use std::io::Write;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use trailrelay::forwarder::MessageOutcome;

use crate::stack::*;
use crate::support::{files, forward, gunzip, text};

/// The cap the runs set on decompressed objects: the bomb exceeds it.
const MAX_OBJECT_BYTES: &str = "8MiB";

/// What must become of a case's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Forwarded: this many events logged and archived, this many records quarantined.
    Forwarded { events: usize, quarantined: usize },
    /// Failed as a whole, poison, with this cause.
    Failed(&'static str),
}

struct Case {
    /// The unique part of the file name, also the prefix of its eventIDs.
    name: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A recent record, `{name}-{i}` its eventID, as compact JSON text.
fn record(name: &str, i: usize) -> String {
    let time = jiff::Timestamp::from_second(now_s() - 600).unwrap();
    json!({"eventVersion": "1.11", "eventTime": time.to_string(), "eventSource": "iam.amazonaws.com",
           "eventName": "ListRoles", "awsRegion": "us-east-1", "eventID": format!("{name}-{i}"),
           "recipientAccountId": "111122223333", "eventCategory": "Management"})
    .to_string()
}

/// `{"Records":[...]}` around record texts.
fn document(records: &[String]) -> Vec<u8> {
    format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes()
}

/// A record of `name` with `field` set to the raw JSON `value`, placed first.
fn odd(name: &str, field: &str, value: &str) -> String {
    format!(r#"{{"{field}":{value},{}"#, &record(name, 0)[1..])
}

fn corpus() -> Vec<Case> {
    use Expect::{Failed, Forwarded};
    let doc = |name: &str, n: usize| document(&(0..n).map(|i| record(name, i)).collect::<Vec<_>>());
    let mut truncated = gzip(&doc("truncated", 3));
    truncated.truncate(truncated.len() - 10);
    let mut bad_crc = gzip(&doc("badcrc", 3));
    let crc = bad_crc.len() - 8;
    bad_crc[crc] ^= 0xff;
    // 16 MiB of white space inflate from a few KB: the cap stops them, not the record limit.
    let mut bomb = br#"{"Records":["#.to_vec();
    bomb.resize(bomb.len() + (16 << 20), b' ');
    bomb.extend_from_slice(b"]}");
    let huge = odd(
        "huge",
        "requestParameters",
        &format!(r#"{{"pad":"{}"}}"#, "p".repeat(3 << 20)),
    );
    let deep = odd(
        "deep",
        "requestParameters",
        &format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000)),
    );
    let mut invalid_utf8 = document(&[record("utf8", 0), String::new(), record("utf8", 2)]);
    let at = invalid_utf8.windows(3).position(|w| w == b"},,").unwrap() + 2;
    invalid_utf8.splice(
        at..at,
        br#"{"eventID":"utf8-1","userAgent":"caf"#
            .iter()
            .copied()
            .chain([0xE9, b'"', b'}']),
    );
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(doc("bom", 2));
    let mut trailing = doc("trailing", 2);
    trailing.extend_from_slice(b" \x00garbage");
    let whole = doc("members", 3);
    let mut members = gzip(&whole[..whole.len() / 2]);
    members.extend(gzip(&whole[whole.len() / 2..]));
    vec![
        Case {
            name: "truncated",
            bytes: truncated,
            expect: Failed("gzip"),
        },
        Case {
            name: "badcrc",
            bytes: bad_crc,
            expect: Failed("gzip"),
        },
        Case {
            name: "bomb",
            bytes: gzip(&bomb),
            expect: Failed("object-too-large"),
        },
        Case {
            name: "notjson",
            bytes: gzip(b"<html>503 Slow Down</html>"),
            expect: Failed("not-json"),
        },
        Case {
            name: "emptyfile",
            bytes: Vec::new(),
            expect: Failed("not-json"),
        },
        Case {
            name: "emptygzip",
            bytes: gzip(b""),
            expect: Failed("not-json"),
        },
        Case {
            name: "toplevelarray",
            bytes: gzip(format!("[{}]", record("toplevelarray", 0)).as_bytes()),
            expect: Failed("no-records"),
        },
        Case {
            name: "norecords",
            bytes: gzip(br#"{"records":[]}"#),
            expect: Failed("no-records"),
        },
        Case {
            name: "recordsobject",
            bytes: gzip(br#"{"Records":{}}"#),
            expect: Failed("no-records"),
        },
        Case {
            name: "trailing",
            bytes: gzip(&trailing),
            expect: Failed("not-json"),
        },
        Case {
            name: "huge",
            bytes: gzip(&document(&[huge])),
            expect: Failed("record-too-large"),
        },
        Case {
            name: "emptyrecords",
            bytes: gzip(br#"{"Records":[]}"#),
            expect: Forwarded {
                events: 0,
                quarantined: 0,
            },
        },
        Case {
            name: "deep",
            bytes: gzip(&document(&[deep])),
            expect: Forwarded {
                events: 1,
                quarantined: 0,
            },
        },
        Case {
            name: "utf8",
            bytes: gzip(&invalid_utf8),
            expect: Forwarded {
                events: 2,
                quarantined: 1,
            },
        },
        Case {
            name: "surrogate",
            bytes: gzip(&document(&[odd("surrogate", "userAgent", r#""\ud800x""#)])),
            expect: Forwarded {
                events: 1,
                quarantined: 0,
            },
        },
        Case {
            name: "range",
            bytes: gzip(&document(&[odd("range", "readOnly", "1e999")])),
            expect: Forwarded {
                events: 1,
                quarantined: 0,
            },
        },
        Case {
            name: "duplicate",
            bytes: gzip(&document(&[odd("duplicate", "eventName", r#""First""#)])),
            expect: Forwarded {
                events: 1,
                quarantined: 0,
            },
        },
        Case {
            name: "bom",
            bytes: gzip(&bom),
            expect: Forwarded {
                events: 2,
                quarantined: 0,
            },
        },
        Case {
            name: "members",
            bytes: members,
            expect: Forwarded {
                events: 3,
                quarantined: 0,
            },
        },
        Case {
            name: "notanobject",
            bytes: gzip(&document(&[
                record("notanobject", 0),
                "42".into(),
                record("notanobject", 2),
            ])),
            expect: Forwarded {
                events: 2,
                quarantined: 1,
            },
        },
        Case {
            name: "invalidjson",
            bytes: gzip(&document(&[
                record("invalidjson", 0),
                r#"{"eventID":tru}"#.into(),
            ])),
            expect: Forwarded {
                events: 1,
                quarantined: 1,
            },
        },
        Case {
            name: "odd name+é%41",
            bytes: gzip(&doc("odd name+é%41", 2)),
            expect: Forwarded {
                events: 2,
                quarantined: 0,
            },
        },
        Case {
            name: "plainjson",
            bytes: doc("plainjson", 2),
            expect: Forwarded {
                events: 2,
                quarantined: 0,
            },
        },
    ]
}

const DIR: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01";

fn key(case: &Case) -> String {
    let suffix = if case.bytes.starts_with(&[0x1f, 0x8b]) || case.bytes.is_empty() {
        ".json.gz"
    } else {
        ".json"
    };
    format!(
        "{DIR}/111122223333_CloudTrail_us-east-1_20261101T0005Z_{}{suffix}",
        case.name
    )
}

/// How many of `texts` carry an eventID of `case` (the texts are searched, not parsed: some
/// records are valid JSON that serde refuses).
fn count(texts: &[String], case: &Case) -> usize {
    let (plain, escaped) = (
        format!(r#""eventID":"{}-"#, case.name),
        format!(r#"\"eventID\":\"{}-"#, case.name),
    );
    texts
        .iter()
        .filter(|t| t.contains(&plain) || t.contains(&escaped))
        .count()
}

/// The lines of every file under `root` whose name ends in `suffix` (gzip read as such).
fn lines_under(root: &Path, suffix: &str) -> Vec<String> {
    files(root, suffix)
        .iter()
        .flat_map(|p| {
            let text = if suffix.ends_with(".gz") {
                gunzip(p)
            } else {
                std::fs::read_to_string(p).unwrap()
            };
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

/// What reached the destinations: log messages, archive lines and quarantine lines, as text.
struct Seen<'a> {
    logs: &'a [String],
    archived: &'a [String],
    quarantined: &'a [String],
}

impl Seen<'_> {
    /// Checks what became of `case`, which failed with cause `failed` or was forwarded.
    fn assert_ended(&self, case: &Case, failed: Option<&str>) {
        let name = case.name;
        match (case.expect, failed) {
            (Expect::Failed(cause), Some(named)) => {
                assert_eq!(named, cause, "{name}");
                let sent = count(self.logs, case) + count(self.archived, case);
                assert_eq!(sent, 0, "{name}: nothing of a failed file");
            }
            (
                Expect::Forwarded {
                    events,
                    quarantined,
                },
                None,
            ) => {
                assert_eq!(count(self.logs, case), events, "{name} logged");
                assert_eq!(count(self.archived, case), events, "{name} archived");
                let kept = self
                    .quarantined
                    .iter()
                    .filter(|l| l.contains(&key(case)))
                    .count();
                assert_eq!(kept, quarantined, "{name} quarantined");
            }
            (expect, failed) => panic!("{name}: expected {expect:?}, failed with {failed:?}"),
        }
    }
}

#[test]
fn every_hostile_input_ends_as_expected_on_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (bucket, out) = (dir.path().join("bucket"), dir.path().join("out"));
    std::fs::create_dir_all(bucket.join(DIR)).unwrap();
    let cases = corpus();
    for case in &cases {
        std::fs::write(bucket.join(key(case)), &case.bytes).unwrap();
    }
    // A file name that is not UTF-8 is one failed input, named lossily.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname.json.gz");
        std::fs::write(bucket.join(DIR).join(name), gzip(&document(&[]))).unwrap();
    }
    let output = forward(&bucket, &out, &["--max-object-bytes", MAX_OBJECT_BYTES]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let logs = lines_under(&out.join("logs"), ".ndjson");
    let archive = out.join("archive");
    let archived: Vec<String> = lines_under(&archive, ".ndjson.gz")
        .into_iter()
        .filter(|l| l.contains(r#""record":"#))
        .collect();
    let quarantined = lines_under(&archive.join("_quarantine"), ".ndjson.gz");
    let seen = Seen {
        logs: &logs,
        archived: &archived,
        quarantined: &quarantined,
    };
    for case in &cases {
        // The cause the CLI named for the file: `error: PATH: ... [CAUSE, poison]`.
        let failed = stderr
            .lines()
            .find(|l| l.starts_with("error: ") && l.contains(&key(case)))
            .map(|l| {
                let tag = l.rsplit_once('[').map_or("", |(_, t)| t);
                tag.trim_end_matches(", poison]").to_owned()
            });
        seen.assert_ended(case, failed.as_deref());
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("bad\u{FFFD}name.json.gz")
                && l.ends_with("[unreadable-input, poison]")),
        "{stderr}"
    );
    let failed = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Failed(_)))
        .count()
        + 1;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("{failed} failed")), "{stdout}");
    assert!(
        stdout.contains("quarantine 3 records (not JSON objects)"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_hostile_input_ends_as_expected_through_the_function() {
    let moto = crate::moto::Moto::start();
    let c = clients(&moto.endpoint).await;
    c.s3.create_bucket().bucket(TRAIL).send().await.unwrap();
    c.s3.create_bucket().bucket(ARCHIVE).send().await.unwrap();
    let (_, arn) = create_queue(&c.sqs, "trailrelay-queue").await;
    let (dlq, _) = create_queue(&c.sqs, "trailrelay-dlq").await;
    let cases = corpus();
    let mut messages = Vec::new();
    for case in &cases {
        c.s3.put_object()
            .bucket(TRAIL)
            .key(key(case))
            .body(ByteStream::from(case.bytes.clone()))
            .send()
            .await
            .unwrap();
        messages.push(from_queue(&arn, case.name, s3_event(&key(case))));
    }
    let dlq_url: &'static str = dlq.clone().leak();
    let f = forwarder_with(
        &c,
        &[
            ("MAX_OBJECT_BYTES", MAX_OBJECT_BYTES),
            ("DEAD_LETTER_QUEUE_URL", dlq_url),
            ("MESSAGE_CONCURRENCY", "8"),
        ],
    );
    let inv = deliver(&f, messages).await;
    assert_no_failure(&inv);
    let logs: Vec<String> = log_events(&c.logs).await.into_iter().map(|e| e.2).collect();
    let archived = archive_texts(&c.s3, false).await;
    let quarantined = archive_texts(&c.s3, true).await;
    let seen = Seen {
        logs: &logs,
        archived: &archived,
        quarantined: &quarantined,
    };
    for (case, (id, outcome)) in cases.iter().zip(&inv.outcomes) {
        assert_eq!(id, case.name);
        let failed = match outcome {
            MessageOutcome::DeadLettered(f) => Some(f.cause),
            MessageOutcome::Done => None,
            other => panic!("{}: {other:?}", case.name),
        };
        seen.assert_ended(case, failed);
    }
    let dead = drain(&c.sqs, &dlq, 1).await;
    let failed = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Failed(_)))
        .count();
    assert_eq!(
        dead.len(),
        failed,
        "each failed file in the dead-letter queue once"
    );
}
