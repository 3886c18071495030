//! Digest validation end to end: `trailrelay forward` then `trailrelay validate` on a signed
//! trail, tampered with one way at a time; and the digest-validator function's run on moto,
//! healing a log file the forwarder never saw.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::Value;
use trailrelay::aws::s3::{S3Archive, S3Lister, S3Source};
use trailrelay::aws::sqs::SqsQueue;
use trailrelay::demo::{self, DemoSpec};
use trailrelay::integrity::config::ValidatorConfig;
use trailrelay::integrity::function::{RunReport, Validator, ValidatorPorts, load_keys};
use trailrelay::ports::SystemClock;

use crate::moto::Moto;
use crate::stack::{
    ARCHIVE, Clients, TRAIL, assert_no_failure, cli_on, clients, create_queue, deliver, drain,
    forwarder, message, now_s, s3_event, upload_dir,
};
use crate::support::{forward, run, text};

/// A signed trail of one account and two regions (14 log files each over three hourly
/// digests), forwarded by the CLI, with the demo's public key in a file.
struct Forwarded {
    dir: tempfile::TempDir,
    /// `--to`: just after the last digest.
    to: String,
}

impl Forwarded {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec {
            accounts: 1,
            regions: 2,
            files_per_stream: 14,
            records_per_file: 3,
            digest_hours: 3,
            ..DemoSpec::default()
        };
        demo::write_corpus(&dir.path().join("bucket"), &spec).unwrap();
        let key = demo::demo_public_key().unwrap();
        fs::create_dir_all(dir.path().join("keys")).unwrap();
        fs::write(dir.path().join("keys/demo.der"), key.pkcs1_der()).unwrap();
        let out = forward(&dir.path().join("bucket"), &dir.path().join("out"), &[]);
        assert!(out.status.success(), "{}", text(&out));
        let to = jiff::Timestamp::from_second(spec.start_s + 3 * 3600 + 1).unwrap();
        Self {
            dir,
            to: to.to_string(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn keys(&self, folder: &str) -> Vec<String> {
        let mut keys: Vec<String> = crate::support::files(&self.path("bucket"), ".json.gz")
            .into_iter()
            .map(|p| {
                let rel = p.strip_prefix(self.path("bucket")).unwrap();
                rel.to_str().unwrap().to_owned()
            })
            .filter(|k| k.contains(&format!("/{folder}/")))
            .collect();
        keys.sort();
        keys
    }

    /// `trailrelay validate --json` with the receipts and the key file, and `extra`: the exit
    /// code and the findings as (kind, key).
    /// `trailrelay validate` on the trail with its receipts and key, judged just after the last
    /// digest (unless `extra` judges at now, with `--late-after`), and `extra`.
    fn command(&self, extra: &[&str]) -> std::process::Output {
        let (bucket, receipts, keys) = (
            self.path("bucket"),
            self.path("out/receipts"),
            self.path("keys/demo.der"),
        );
        let mut args = vec![
            "validate",
            bucket.to_str().unwrap(),
            "--receipts",
            receipts.to_str().unwrap(),
            "-q",
        ];
        if !extra.contains(&"--late-after") {
            args.extend(["--to", &self.to]);
        }
        if !extra.contains(&"--public-keys") {
            args.extend(["--public-keys", keys.to_str().unwrap()]);
        }
        args.extend_from_slice(extra);
        run(&args)
    }

    /// [`Forwarded::command`] with `--json`: the exit status and every finding's kind and key.
    fn validate(&self, extra: &[&str]) -> (Option<i32>, Vec<(String, String)>) {
        let out = self.command(&[extra, &["--json"]].concat());
        let findings = String::from_utf8(out.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            // The last line is the summary: every other one is a finding.
            .filter(|v| v.get("summary").is_none())
            .map(|v| {
                (
                    v["kind"].as_str().unwrap().to_owned(),
                    v["key"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (out.status.code(), findings)
    }

    /// Runs `tamper`, expects exactly `expected` (kind, key), then puts every file back.
    fn expect(
        &self,
        what: &str,
        tamper: impl FnOnce(&Self),
        extra: &[&str],
        expected: &[(&str, &str)],
    ) {
        let backup = self.path("backup");
        copy_dir(&self.path("bucket"), &backup.join("bucket"));
        copy_dir(&self.path("out/receipts"), &backup.join("receipts"));
        tamper(self);
        let (code, findings) = self.validate(extra);
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, f)| ((*k).to_owned(), (*f).to_owned()))
            .collect();
        assert_eq!(findings, expected, "{what}");
        assert_eq!(code, Some(1), "{what}");
        for (from, to) in [
            ("backup/bucket", "bucket"),
            ("backup/receipts", "out/receipts"),
        ] {
            fs::remove_dir_all(self.path(to)).unwrap();
            fs::rename(self.path(from), self.path(to)).unwrap();
        }
    }

    fn rewrite_gz(&self, key: &str, edit: impl FnOnce(String) -> String) {
        let path = self.path("bucket").join(key);
        let mut text = String::new();
        MultiGzDecoder::new(fs::File::open(&path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let edited = edit(text.clone());
        assert_ne!(edited, text);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(edited.as_bytes()).unwrap();
        fs::write(path, gz.finish().unwrap()).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn sidecar(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.signature", path.display()))
}

#[test]
fn forward_then_validate_finds_nothing_then_exactly_each_tampering() {
    let t = Forwarded::new();
    let (code, findings) = t.validate(&[]);
    assert_eq!((code, findings), (Some(0), vec![]));
    let summary = t.command(&[]);
    let stdout = String::from_utf8_lossy(&summary.stdout);
    assert!(
        stdout.contains("6 digests in 2 chains: 6 signatures verified, 0 unverified"),
        "{stdout}"
    );
    // 28 log files and the network-activity files beside them; the Insights file is unlisted.
    let listed = 28 + t.keys("CloudTrail-NetworkActivity").len();
    assert!(
        stdout.contains(&format!("{listed} log files listed: {listed} present")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("forwarded {listed} with a receipt")),
        "{stdout}"
    );
    assert!(stdout.contains("0 findings"), "{stdout}");

    let logs = t.keys("CloudTrail");
    let digests = t.keys("CloudTrail-Digest");
    assert_eq!((logs.len(), digests.len()), (28, 6));
    let (log, middle, first) = (&logs[3], &digests[1], &digests[0]);
    t.expect(
        "altered log file",
        |t| t.rewrite_gz(log, |s| s.replacen("\"eventName\"", "\"eventName\" ", 1)),
        &[],
        &[("log-file-altered", log)],
    );
    t.expect(
        "deleted log file",
        |t| fs::remove_file(t.path("bucket").join(log)).unwrap(),
        &[],
        &[("log-file-missing", log)],
    );
    t.expect(
        "deleted middle digest",
        |t| {
            fs::remove_file(t.path("bucket").join(middle)).unwrap();
            fs::remove_file(sidecar(&t.path("bucket").join(middle))).unwrap();
        },
        &[],
        &[("digest-missing", middle)],
    );
    t.expect(
        "altered digest",
        |t| {
            t.rewrite_gz(middle, |s| {
                s.replacen("\"logFiles\":[", "\"logFiles\":[ ", 1)
            })
        },
        &[],
        &[("digest-altered", middle)],
    );
    t.expect(
        "wrong signature",
        |t| {
            let other = fs::read(sidecar(&t.path("bucket").join(middle))).unwrap();
            fs::write(sidecar(&t.path("bucket").join(first)), other).unwrap();
        },
        &[],
        &[("digest-signature-invalid", first)],
    );
    let test_key = crate::support::workspace().join("shared/testdata/keys/test-key.pub.pem");
    let unknown: Vec<(&str, &str)> = digests
        .iter()
        .map(|d| ("public-key-unknown", d.as_str()))
        .collect();
    t.expect(
        "unknown key",
        |_| {},
        &["--public-keys", test_key.to_str().unwrap()],
        &unknown,
    );
    let region_folder = |d: &str| format!("{}/", d.rsplitn(5, '/').last().unwrap());
    let silent: Vec<String> = [&digests[0], &digests[3]]
        .iter()
        .map(|d| region_folder(d))
        .collect();
    t.expect(
        "silence",
        |_| {},
        &["--late-after", "0s"],
        &[("digest-late", &silent[0]), ("digest-late", &silent[1])],
    );
    let receipt = |t: &Forwarded| t.path("out/receipts").join(format!("{log}.receipt.json"));
    t.expect(
        "missing receipt",
        |t| fs::remove_file(receipt(t)).unwrap(),
        &["--forward-grace", "0s"],
        &[("log-file-not-forwarded", log)],
    );
    t.expect(
        "altered receipt",
        |t| {
            let text = fs::read_to_string(receipt(t)).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            let sha = v["sha256"].as_str().unwrap();
            fs::write(receipt(t), text.replace(sha, &"0".repeat(64))).unwrap();
        },
        &[],
        &[("log-file-forwarded-altered", log)],
    );
    t.expect(
        "a gzip bomb in a log file's place",
        |t| {
            let mut gz = GzEncoder::new(Vec::new(), Compression::best());
            gz.write_all(&vec![b' '; 4 << 20]).unwrap();
            fs::write(t.path("bucket").join(log), gz.finish().unwrap()).unwrap();
        },
        &["--max-object-bytes", "1MiB"],
        &[("log-file-altered", log)],
    );
    {
        // Read only to the bound: the finding says so.
        let path = t.path("bucket").join(log);
        let kept = fs::read(&path).unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&vec![b' '; 4 << 20]).unwrap();
        fs::write(&path, gz.finish().unwrap()).unwrap();
        let out = t.command(&["--max-object-bytes", "1MiB", "--json"]);
        fs::write(&path, kept).unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("larger than 1048576 bytes"),
            "{}",
            text(&out)
        );
    }
    t.expect(
        "an unsigned digest from the future",
        |t| {
            let newest = digests[2].clone();
            let forged = future_key(&newest);
            let target = t.path("bucket").join(&forged);
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::copy(t.path("bucket").join(&newest), &target).unwrap();
            t.rewrite_gz(&forged, |s| s.replace(&newest, &forged));
        },
        // Judged now (no --to, which would leave 2099 out of the walk), silence aside.
        &["--late-after", "100000h"],
        &[("digest-from-the-future", &future_key(&digests[2]))],
    );
    // A key not named as CloudTrail names its files, or a region folder that names no region:
    // named on standard error and passed over, never read, never a crash; a terminal escape
    // sequence in the name is shown escaped, never played.
    {
        let digest = t.path("bucket").join(&digests[0]);
        let dir = digest.parent().unwrap();
        let odd = dir.join(
            digest
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .replace("T010000Z", "T01000\u{e9}Z\u{1b}[2J"),
        );
        assert_ne!(odd, digest);
        fs::copy(&digest, &odd).unwrap();
        let region = dir.parent().unwrap().parent().unwrap().parent().unwrap();
        let nowhere = region.parent().unwrap().join("nowhere");
        // A digest of that "region", named as CloudTrail would name it there: read, it would be
        // a finding (it says it was written elsewhere).
        let region_name = region.file_name().unwrap().to_str().unwrap();
        let planted_dir = nowhere.join("2026/11/01");
        fs::create_dir_all(&planted_dir).unwrap();
        let name = digest.file_name().unwrap().to_str().unwrap().replacen(
            &format!("_CloudTrail-Digest_{region_name}_"),
            "_CloudTrail-Digest_nowhere_",
            1,
        );
        fs::copy(&digest, planted_dir.join(name)).unwrap();
        let (code, findings) = t.validate(&[]);
        assert_eq!((code, findings), (Some(0), vec![]));
        let output = t.command(&[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("skipped: ") && stderr.contains("é") && stderr.contains("/nowhere/"),
            "{}",
            text(&output)
        );
        assert!(
            stderr.contains("\\u{1b}[2J") && !stderr.contains('\u{1b}'),
            "{}",
            text(&output)
        );
        fs::remove_file(odd).unwrap();
        fs::remove_dir_all(nowhere).unwrap();
    }
    // A missing receipt within its grace period is no finding; bad arguments exit 2.
    fs::remove_file(receipt(&t)).unwrap();
    assert_eq!(
        t.validate(&["--forward-grace", "100000h"]),
        (Some(0), vec![])
    );
    let bad = run(&[
        "validate",
        t.path("bucket").to_str().unwrap(),
        "--forward-grace",
        "soon",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

/// One digest-validator run against moto, as the function runs it.
async fn validate_on_moto(c: &Clients, env: &BTreeMap<&'static str, String>) -> RunReport {
    let config = ValidatorConfig::from_lookup(|n| env.get(n).cloned()).unwrap();
    let (s3, sqs) = (c.s3.clone(), c.sqs.clone());
    tokio::task::spawn_blocking(move || {
        let handle = tokio::runtime::Handle::current();
        let source = S3Source::new(s3.clone(), handle.clone(), None);
        let lister = S3Lister::new(s3.clone(), None);
        let (bucket, prefix) = config.public_keys.clone().unwrap();
        let keys = load_keys(&lister, &source, &handle, &bucket, &prefix).unwrap();
        let archive = S3Archive::new(s3, handle.clone(), config.archive_bucket.clone(), None);
        Validator {
            ports: ValidatorPorts {
                source: &source,
                keys: &keys,
                lister: &lister,
                archive: &archive,
                queue: &SqsQueue::new(sqs),
                clock: &SystemClock,
                handle,
            },
            config: &config,
            region: "us-east-1".into(),
        }
        .run(None)
        .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_finds_a_file_never_forwarded_enqueues_it_and_then_finds_nothing() {
    let moto = Moto::start();
    let c = clients(&moto.endpoint).await;
    for bucket in [TRAIL, ARCHIVE] {
        c.s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let (notifications, _) = create_queue(&c.sqs, "notifications").await;
    // Three hours of digests, the last just delivered, signatures as S3 metadata.
    let spec = DemoSpec {
        accounts: 1,
        regions: 1,
        files_per_stream: 14,
        records_per_file: 3,
        digest_hours: 3,
        start_s: now_s() - 3 * 3600,
        bucket: TRAIL,
        ..DemoSpec::default()
    };
    let dir = tempfile::tempdir().unwrap();
    demo::write_corpus(dir.path(), &spec).unwrap();
    let keys: Vec<String> = upload_dir(&c, dir.path()).await.into_keys().collect();
    let key = demo::demo_public_key().unwrap();
    c.s3.put_object()
        .bucket(ARCHIVE)
        .key("keys/demo.der")
        .body(ByteStream::from(key.pkcs1_der().to_vec()))
        .send()
        .await
        .unwrap();
    // The forwarder sees every log file but one.
    let logs: Vec<&String> = keys
        .iter()
        .filter(|k| k.contains("/CloudTrail/") || k.contains("/CloudTrail-NetworkActivity/"))
        .collect();
    assert!(logs.len() > 14, "network-activity files beside 14 others");
    let never = keys
        .iter()
        .filter(|k| k.contains("/CloudTrail/"))
        .nth(5)
        .unwrap()
        .clone();
    let f = forwarder(&c);
    let messages = logs
        .iter()
        .filter(|k| ***k != never)
        .enumerate()
        .map(|(i, k)| message(format!("m{i}"), s3_event(k)))
        .collect();
    assert_no_failure(&deliver(&f, messages).await);

    let env = BTreeMap::from([
        ("TRAIL_BUCKET", TRAIL.to_owned()),
        ("ARCHIVE_BUCKET", ARCHIVE.to_owned()),
        ("FORWARDER_QUEUE_URL", notifications.clone()),
        ("FORWARD_GRACE_SECONDS", "0".to_owned()),
        ("PUBLIC_KEYS", format!("s3://{ARCHIVE}/keys/")),
        ("S3_FORCE_PATH_STYLE", "true".to_owned()),
    ]);
    // While the forwarder has messages waiting, a file without a receipt may be one of them:
    // it keeps awaiting, nothing is named or enqueued (healing adds nothing to a backlog).
    let (dlq, _) = create_queue(&c.sqs, "notifications-dlq").await;
    let mut env = env;
    env.insert("DEAD_LETTER_QUEUE_URL", dlq.clone());
    c.sqs
        .send_message()
        .queue_url(&dlq)
        .message_body("a dead letter")
        .send()
        .await
        .unwrap();
    let busy = validate_on_moto(&c, &env).await;
    assert!(busy.findings.is_empty(), "{:?}", busy.findings);
    assert_eq!((busy.healed, busy.tally.awaiting_receipt), (0, 1));
    assert!(
        drain(&c.sqs, &notifications, 0).await.is_empty(),
        "nothing enqueued"
    );
    drain(&c.sqs, &dlq, 1).await;
    // The next run checks from the start again, with nothing waiting.
    c.s3.delete_object()
        .bucket(ARCHIVE)
        .key(format!(
            "cloudtrail/{}",
            trailrelay::integrity::function::CHECKPOINT_KEY
        ))
        .send()
        .await
        .unwrap();
    let first = validate_on_moto(&c, &env).await;
    let found: Vec<(&str, &str)> = first
        .findings
        .iter()
        .map(|f| (f.kind.as_str(), f.key.as_str()))
        .collect();
    assert_eq!(found, [("log-file-not-forwarded", never.as_str())]);
    assert_eq!(first.tally.digests, 3);
    assert_eq!(
        first.tally.digests_verified, 3,
        "signatures from S3 metadata"
    );
    let listed = logs.len() as u64;
    assert_eq!(
        (
            first.tally.log_files_verified,
            first.tally.log_files_forwarded
        ),
        (listed, listed - 1)
    );
    assert_eq!(first.healed, 1);
    assert!(first.complete && first.failure.is_none());
    // Metrics: the finding by kind, account and region, and the run's totals.
    let emf: Vec<Value> = first
        .emf(0)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_kind = emf
        .iter()
        .find(|d| d["Kind"] == "log-file-not-forwarded")
        .unwrap();
    assert_eq!(
        (
            by_kind["DigestFindings"].as_u64(),
            by_kind["Region"].as_str()
        ),
        (Some(1), Some("us-east-1"))
    );
    let totals = emf
        .iter()
        .find(|d| d.get("DigestFindingsTotal").is_some())
        .unwrap();
    assert_eq!(totals["DigestFindingsTotal"], 1);
    assert_eq!(totals["LogFilesHealed"], 1);

    // Healed: the notification S3 would have sent, which the forwarder takes.
    let enqueued = drain(&c.sqs, &notifications, 1).await;
    assert_eq!(enqueued.len(), 1);
    let body = enqueued[0].body().unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    let announced = v["Records"][0]["s3"]["object"]["key"].as_str().unwrap();
    assert_eq!(trailrelay::key::form_decode(announced).unwrap(), never);
    assert_no_failure(&deliver(&f, vec![message("healed", body)]).await);

    let second = validate_on_moto(&c, &env).await;
    assert!(second.findings.is_empty(), "{:?}", second.findings);
    assert_eq!(
        second.tally.digests, 0,
        "the checkpoint: every digest read once"
    );
    assert_eq!(
        second.tally.log_files_forwarded, 1,
        "the healed file's receipt came"
    );

    // The same check from one machine, on S3: signatures from the objects' metadata.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("demo.der");
    fs::write(&key_file, key.pkcs1_der()).unwrap();
    let receipts = format!("s3://{ARCHIVE}/cloudtrail/_receipts/");
    let trail = format!("s3://{TRAIL}/");
    let args = [
        "validate",
        &trail,
        "--receipts",
        &receipts,
        "--public-keys",
        key_file.to_str().unwrap(),
        "--s3-force-path-style",
        "-q",
    ];
    let out = cli_on(&moto.endpoint, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout.contains("3 digests in 1 chain: 3 signatures verified, 0 unverified"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("forwarded {listed} with a receipt")),
        "{stdout}"
    );
}

/// The key of a copy of digest `key` dated 2099-12-31T23:59:59Z, as the test plants it.
fn future_key(key: &str) -> String {
    let (folder, name) = key.rsplit_once('/').unwrap();
    let stamp = name
        .rsplit('_')
        .next()
        .unwrap()
        .trim_end_matches(".json.gz");
    let day = folder.rsplitn(4, '/').last().unwrap();
    format!(
        "{day}/2099/12/31/{}",
        name.replace(stamp, "20991231T235959Z")
    )
}

#[test]
fn validate_checks_the_lake_and_names_a_file_the_lake_lost() {
    let f = Forwarded::new();
    let (bucket, out) = (f.path("bucket"), f.path("out"));
    let built = run(&[
        "lake",
        bucket.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(built.status.success(), "{}", text(&built));
    let lake = f.path("out/lake");
    let with_lake = ["--lake", lake.to_str().unwrap(), "--lake-grace", "0s"];
    assert_eq!(f.validate(&with_lake), (Some(0), vec![]));
    let summary = String::from_utf8(f.command(&with_lake).stdout).unwrap();
    // Digests list log files of every kind but Insights.
    let listed = f.keys("CloudTrail").len() + f.keys("CloudTrail-NetworkActivity").len();
    assert!(
        summary.contains(&format!("in the lake: {listed} with the listed hash")),
        "{summary}"
    );

    // One file's entry is dropped from its account and region's index.
    let lost = f.keys("CloudTrail")[4].clone();
    let index = crate::support::files(&lake, ".json")
        .into_iter()
        .find(|p| {
            p.to_string_lossy().contains("/_lake/windows/")
                && fs::read_to_string(p).unwrap().contains(&lost)
                && !p.file_name().unwrap().to_string_lossy().starts_with("00")
        })
        .expect("the index holding the file");
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&index).unwrap()).unwrap();
    doc["files"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["key"] != lost.as_str());
    fs::write(&index, serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(
        f.validate(&with_lake),
        (
            Some(1),
            vec![("log-file-not-in-lake".to_owned(), lost.clone())]
        )
    );
    // Within the grace period it is awaited, not named.
    assert_eq!(
        f.validate(&["--lake", lake.to_str().unwrap(), "--lake-grace", "24h"]),
        (Some(0), vec![])
    );
}
