use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::check::{self, Checker, Evidence};
use super::digest::DigestFile;
use super::keys::{KeyRing, PublicKey};
use super::*;
use crate::demo::{self, DemoSpec};
use crate::local::{self, LocalArchive, LocalLister, LocalLogSink, LocalSource};
use crate::pipeline::receipt::{ReceiptsIn, receipt_key};
use crate::pipeline::{Pipeline, Settings};
use crate::ports::Store;
use crate::replay::select::{Request, Selection, Walk};
use crate::testing::fakes::FixedClock;

const REAL_DIGEST: &[u8] = include_bytes!(
    "../../../testdata/digest/llm-guard-issue-147/327878933619_CloudTrail-Digest_ap-northeast-1_llm-guard-trail_us-west-2_20231015T230404Z.json"
);
const TEST_KEY_DER: &[u8] = include_bytes!("../../../testdata/keys/test-key.pub.der");
const TEST_KEY_PEM: &[u8] = include_bytes!("../../../testdata/keys/test-key.pub.pem");
const SIGNING_STRING: &[u8] = include_bytes!("../../../testdata/keys/signing-string.txt");
const SIGNING_STRING_SIG: &str = include_str!("../../../testdata/keys/signing-string.sig.hex");

#[test]
fn the_real_digest_is_read_from_its_raw_bytes() {
    let file = DigestFile::parse(REAL_DIGEST).unwrap();
    // Its `/` are escaped as `\/` in the bytes, and unescaped in the fields.
    assert!(REAL_DIGEST.windows(2).any(|w| w == br"\/"));
    let b = &file.body;
    assert_eq!(b.aws_account_id, "327878933619");
    assert_eq!(
        b.previous_digest_s3_object.as_deref(),
        Some(
            "AWSLogs/327878933619/CloudTrail-Digest/ap-northeast-1/2023/10/15/\
             327878933619_CloudTrail-Digest_ap-northeast-1_llm-guard-trail_us-west-2_20231015T220404Z.json.gz"
        )
    );
    assert_eq!(
        b.previous_digest_hash_value.as_deref(),
        Some("8f953371d3e85eddb89b05ed6b9e680791055315c73e1025ab5dba7bb2aee189")
    );
    assert_eq!(b.log_files.len(), 5);
    assert_eq!(
        b.log_files[1].hash_value,
        "de90c3b55016bc5fad9c12378ccc6fc38180a15bd95879305415572a4472b1a9"
    );
    assert_eq!(file.end_s, 1_697_411_044);
    // `sha256sum` of the file: the hash is of the bytes, not of a re-serialisation.
    let sha = "4277102dccf54c0c247738ca5e6e3504b7370206ef1c82855994ec23441ae1ed";
    assert_eq!(hex::encode(file.sha256), sha);
    let signing = file.signing_string();
    let lines: Vec<&str> = signing.split('\n').collect();
    assert_eq!(lines.len(), 4, "no newline after the last line");
    assert_eq!(lines[0], "2023-10-15T23:04:04Z");
    assert_eq!(
        lines[1],
        "llm-guard-trail/AWSLogs/327878933619/CloudTrail-Digest/ap-northeast-1/2023/10/15/\
         327878933619_CloudTrail-Digest_ap-northeast-1_llm-guard-trail_us-west-2_20231015T230404Z.json.gz"
    );
    assert_eq!(lines[2], sha);
    assert!(lines[3].starts_with("11c11e253f4929ea") && lines[3].ends_with("fed9b9a"));
    let (_, chain) = chain_of(&b.digest_s3_object).unwrap();
    assert_eq!(chain.account, "327878933619");
    assert_eq!(chain.region, "ap-northeast-1");
    assert_eq!(
        crate::key::digest_name_parts(b.digest_s3_object.rsplit('/').next().unwrap()),
        Some(("llm-guard-trail_us-west-2", "20231015T230404Z"))
    );
}

#[test]
fn a_starting_digest_signs_null_for_its_previous_signature() {
    let body = br#"{"awsAccountId":"111122223333","digestStartTime":"2015-08-17T14:01:31Z","digestEndTime":"2015-08-17T15:01:31Z","digestS3Bucket":"b","digestS3Object":"AWSLogs/k.json.gz","digestPublicKeyFingerprint":"31e8b5433410dfb61a9dc45cc65b22ff","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":null,"oldestEventTime":null,"previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[]}"#;
    let file = DigestFile::parse(body).unwrap();
    assert!(file.is_starting());
    assert!(file.signing_string().ends_with("\nnull"));
    assert!(
        file.signing_string()
            .starts_with("2015-08-17T15:01:31Z\nb/AWSLogs/k.json.gz\n")
    );
    let other = String::from_utf8_lossy(body).replace("SHA256withRSA", "MD5withRSA");
    assert!(DigestFile::parse(other.as_bytes()).is_err());
}

#[test]
fn a_signature_made_by_openssl_verifies_with_the_key_in_either_wrapping() {
    let der = PublicKey::parse(TEST_KEY_DER).unwrap();
    let pem = PublicKey::parse(TEST_KEY_PEM).unwrap();
    // `md5sum test-key.pub.der`: the fingerprint is of the PKCS#1 bytes, whatever the wrapping.
    assert_eq!(der.fingerprint, "1e6fc3b9f1d6f28fe1c24a5b1a4584d9");
    assert_eq!(pem, der);
    let signature = hex::decode(SIGNING_STRING_SIG.trim()).unwrap();
    assert!(der.verifies(SIGNING_STRING, &signature));
    let mut altered = SIGNING_STRING.to_vec();
    altered[0] ^= 1;
    assert!(!der.verifies(&altered, &signature));
    // PEM `RSA PUBLIC KEY` is the same bytes again.
    let rsa_pem = pem::encode(&pem::Pem::new("RSA PUBLIC KEY", TEST_KEY_DER.to_vec()));
    assert_eq!(PublicKey::parse(rsa_pem.as_bytes()).unwrap(), der);
    assert!(
        PublicKey::parse(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
}

#[test]
fn a_file_that_is_no_rsa_key_is_refused_by_name() {
    let key = PublicKey::parse(TEST_KEY_DER).unwrap();
    for not_a_key in [&b""[..], b"NOT-A-KEY", b"# README\nkeys go here\n"] {
        let e = PublicKey::parse(not_a_key).unwrap_err();
        assert!(e.contains("not an RSA public key"), "{e}");
    }
    // A DER sequence of two integers, but a 64-bit modulus: too weak to verify anything.
    let weak = [
        0x30, 0x0e, 0x02, 0x09, 0x00, 0xc5, 1, 2, 3, 4, 5, 6, 7, 0x02, 0x01, 0x03,
    ];
    let e = PublicKey::parse(&weak).unwrap_err();
    assert!(e.contains("an RSA key of 64 bits"), "{e}");
    // The key's PKCS#1 bytes with a byte more after them: no key either.
    let mut trailing = key.pkcs1_der().to_vec();
    trailing.push(0);
    assert!(PublicKey::parse(&trailing).is_err());
    assert_eq!(PublicKey::parse(key.pkcs1_der()).unwrap(), key);
    let e = KeyRing::from_files([("NOT-A-KEY".to_owned(), Ok(b"NOT-A-KEY".to_vec()))], "x")
        .unwrap_err();
    assert!(e.starts_with("NOT-A-KEY: not an RSA public key"), "{e}");
}

/// A signed demo trail of one account and region, forwarded with receipts: 14 log files over
/// three hourly digests (11, 3 and none).
struct Trail {
    dir: tempfile::TempDir,
}

const HOURS: usize = 3;

impl Trail {
    fn new() -> Self {
        Self::with_regions(1)
    }

    fn with_regions(regions: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec {
            accounts: 1,
            regions,
            files_per_stream: 14,
            records_per_file: 2,
            digest_hours: HOURS,
            ..DemoSpec::default()
        };
        let bucket = dir.path().join("bucket");
        demo::write_corpus(&bucket, &spec).unwrap();
        let objects = local::list_objects(std::slice::from_ref(&bucket))
            .unwrap()
            .objects;
        let receipts = LocalArchive::new(dir.path().join("receipts"));
        let receipts = ReceiptsIn::new(&receipts, "");
        let totals = Pipeline {
            source: &LocalSource,
            logs: &LocalLogSink::new(dir.path().join("logs")),
            archive: &LocalArchive::new(dir.path().join("archive")),
            receipts: &receipts,
            clock: &FixedClock(demo::DAY_START_S as u64 + 3600),
            settings: &Settings::default(),
            deadline: None,
        }
        .forward_all(&objects, 1, &|_| true);
        assert_eq!(totals.failed_objects(), 0);
        Self { dir }
    }

    fn bucket(&self) -> PathBuf {
        self.dir.path().join("bucket")
    }

    /// Keys of the trail's files of `folder` (`CloudTrail`, `CloudTrail-Digest`), in order.
    fn keys(&self, folder: &str) -> Vec<String> {
        let objects = local::list_objects(&[self.bucket()]).unwrap().objects;
        let mut keys: Vec<String> = objects
            .into_iter()
            .map(|o| o.key)
            .filter(|k| k.contains(&format!("/{folder}/")))
            .collect();
        keys.sort();
        keys
    }

    fn end_s(&self) -> i64 {
        demo::DAY_START_S + 3600 * HOURS as i64
    }

    fn validate(&self, keys: &impl KeyStore, now_s: i64) -> (Vec<Finding>, Tally) {
        let mut checkpoint = Checkpoint::default();
        self.validate_from(keys, now_s, &mut checkpoint)
    }

    fn validate_from(
        &self,
        keys: &impl KeyStore,
        now_s: i64,
        checkpoint: &mut Checkpoint,
    ) -> (Vec<Finding>, Tally) {
        let (findings, tally, result) =
            self.walk(&LocalSource, keys, now_s, checkpoint, &mut || false);
        assert!(result.unwrap(), "the walk was complete");
        (findings, tally)
    }

    /// A check of the trail's digests through `source`, stopped when `stop` says so.
    fn walk(
        &self,
        source: &impl crate::ports::ObjectSource,
        keys: &impl KeyStore,
        now_s: i64,
        checkpoint: &mut Checkpoint,
        stop: &mut dyn FnMut() -> bool,
    ) -> (Vec<Finding>, Tally, Result<bool, crate::ports::PortError>) {
        let at = (Store::Local(self.bucket()), Options::default());
        self.walk_in(at, source, keys, now_s, checkpoint, stop)
    }

    /// [`Trail::walk`] with the trail in `store` (the bucket's folder, or a bucket name the
    /// source maps to it) and the check's options.
    fn walk_in(
        &self,
        (store, options): (Store, Options),
        source: &impl crate::ports::ObjectSource,
        keys: &impl KeyStore,
        now_s: i64,
        checkpoint: &mut Checkpoint,
        stop: &mut dyn FnMut() -> bool,
    ) -> (Vec<Finding>, Tally, Result<bool, crate::ports::PortError>) {
        let bucket = self.bucket().to_string_lossy().into_owned();
        let receipts = Store::Local(self.dir.path().join("receipts"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let root = bucket.clone();
        let list_keys = |prefix: &str| -> Result<Vec<String>, crate::ports::PortError> {
            use crate::ports::Lister as _;
            let listing = runtime.block_on(LocalLister.list(&root, prefix, false))?;
            Ok(listing.objects.into_iter().map(|o| o.key).collect())
        };
        // A lake beside the trail is checked too ([`lake::write_lake`]).
        let lake_dir = self.dir.path().join("lake");
        let lake = lake_dir
            .is_dir()
            .then(|| (Store::Local(lake_dir), crate::lake::lake_prefix("")));
        let evidence = Evidence {
            source,
            trail: store,
            receipts: Some((receipts, String::new())),
            lake,
            keys,
            lister: Some(&list_keys),
        };
        let mut checker = Checker::new(evidence, options, now_s);
        let request = Request {
            bucket,
            ..Request::default()
        };
        let mut walk = Walk::new(Selection::digests(&request).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut next_day = || runtime.block_on(walk.next_day(&LocalLister));
        let mut findings = Vec::new();
        let mut out = |f| findings.push(f);
        let result = check_walk(&mut checker, &mut next_day, checkpoint, stop, &mut out);
        (findings, checker.tally, result)
    }

    fn demo_keys() -> KeyRing {
        let mut ring = KeyRing::default();
        ring.add(demo::demo_public_key().unwrap());
        ring
    }

    /// The only findings, as (kind, key).
    fn findings_after(&self, now_s: i64) -> Vec<(FindingKind, String)> {
        let (findings, _) = self.validate(&Self::demo_keys(), now_s);
        findings.into_iter().map(|f| (f.kind, f.key)).collect()
    }

    fn rewrite_gz(&self, key: &str, edit: impl FnOnce(String) -> String) {
        let path = self.bucket().join(key);
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(fs::File::open(&path).unwrap()),
            &mut text,
        )
        .unwrap();
        let edited = edit(text.clone());
        assert_ne!(edited, text);
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(edited.as_bytes()).unwrap();
        fs::write(path, enc.finish().unwrap()).unwrap();
    }
}

mod lake;

fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".signature");
    PathBuf::from(s)
}

#[test]
fn a_forwarded_signed_trail_has_no_finding() {
    let trail = Trail::new();
    let (findings, tally) = trail.validate(&Trail::demo_keys(), trail.end_s() + 60);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.chains, 1);
    assert_eq!(tally.digests, 3);
    assert_eq!(tally.digests_verified, 3);
    assert_eq!(tally.log_files, 14);
    assert_eq!(tally.log_files_verified, 14);
    assert_eq!(tally.log_files_forwarded, 14);
}

#[test]
fn a_digest_without_its_own_signature_is_verified_by_its_successor_or_counted_unverified() {
    let trail = Trail::new();
    let digests = trail.keys("CloudTrail-Digest");
    for key in &digests {
        fs::remove_file(sidecar(&trail.bucket().join(key))).unwrap();
    }
    let (findings, tally) = trail.validate(&Trail::demo_keys(), trail.end_s() + 60);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!((tally.digests_verified, tally.digests_unverified), (2, 1));
}

#[test]
fn each_tampering_gives_exactly_its_finding() {
    let now = |t: &Trail| t.end_s() + 60;
    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[4].clone();
    trail.rewrite_gz(&log, |t| t.replacen("\"eventName\"", "\"eventName\" ", 1));
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::LogFileAltered, log)]
    );

    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[12].clone();
    fs::remove_file(trail.bucket().join(&log)).unwrap();
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::LogFileMissing, log)]
    );

    let trail = Trail::new();
    let middle = trail.keys("CloudTrail-Digest")[1].clone();
    fs::remove_file(trail.bucket().join(&middle)).unwrap();
    fs::remove_file(sidecar(&trail.bucket().join(&middle))).unwrap();
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::DigestMissing, middle)]
    );

    let trail = Trail::new();
    let middle = trail.keys("CloudTrail-Digest")[1].clone();
    trail.rewrite_gz(&middle, |t| {
        t.replacen("\"logFiles\":[{", "\"logFiles\":[{\"x\":1,", 1)
    });
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::DigestAltered, middle)]
    );

    let trail = Trail::new();
    let first = trail.keys("CloudTrail-Digest")[0].clone();
    let path = sidecar(&trail.bucket().join(&first));
    let second = fs::read_to_string(sidecar(
        &trail.bucket().join(&trail.keys("CloudTrail-Digest")[1]),
    ))
    .unwrap();
    fs::write(path, second).unwrap();
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::DigestSignatureInvalid, first)]
    );

    let trail = Trail::new();
    let mut other = KeyRing::default();
    other.add(PublicKey::parse(TEST_KEY_DER).unwrap());
    let (findings, _) = trail.validate(&other, now(&trail));
    let kinds: Vec<_> = findings.iter().map(|f| (f.kind, f.key.clone())).collect();
    let expected: Vec<_> = trail
        .keys("CloudTrail-Digest")
        .into_iter()
        .map(|k| (FindingKind::PublicKeyUnknown, k))
        .collect();
    assert_eq!(kinds, expected);

    let trail = Trail::new();
    let late = trail.end_s() + DEFAULT_LATE_AFTER_S + 1;
    let findings = trail.findings_after(late);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].0, FindingKind::DigestLate);
    assert!(
        findings[0]
            .1
            .ends_with("/210987654321/CloudTrail-Digest/us-east-1/"),
        "{findings:?}"
    );

    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[0].clone();
    let receipt = trail
        .dir
        .path()
        .join("receipts")
        .join(receipt_key("", &log));
    let text = fs::read_to_string(&receipt).unwrap();
    let sha = serde_json::from_str::<serde_json::Value>(&text).unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    fs::write(&receipt, text.replace(&sha, &"0".repeat(64))).unwrap();
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::LogFileForwardedAltered, log.clone())]
    );
    fs::remove_file(&receipt).unwrap();
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::LogFileNotForwarded, log)]
    );
}

#[test]
fn a_checkpoint_links_the_next_digest_to_the_last_one_checked() {
    let trail = Trail::new();
    let digests = trail.keys("CloudTrail-Digest");
    let aside = trail.dir.path().join("aside");
    fs::create_dir_all(&aside).unwrap();
    // The first check sees the first digest only.
    for key in &digests[1..] {
        fs::rename(
            trail.bucket().join(key),
            aside.join(key.rsplit('/').next().unwrap()),
        )
        .unwrap();
    }
    let mut checkpoint = Checkpoint::default();
    let (findings, tally) =
        trail.validate_from(&Trail::demo_keys(), trail.end_s(), &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.digests, 1);
    // The third arrives; the second never does.
    let third = &digests[2];
    fs::rename(
        aside.join(third.rsplit('/').next().unwrap()),
        trail.bucket().join(third),
    )
    .unwrap();
    let (findings, tally) =
        trail.validate_from(&Trail::demo_keys(), trail.end_s(), &mut checkpoint);
    assert_eq!(tally.digests, 1);
    let found: Vec<_> = findings.iter().map(|f| (f.kind, f.key.clone())).collect();
    assert_eq!(found, [(FindingKind::DigestMissing, digests[1].clone())]);
}

#[test]
fn a_local_sink_writes_under_its_root_only() {
    use crate::ports::ArchiveSink;
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalArchive::new(dir.path().join("receipts"));
    for bad in ["../escape.json", "/etc/escape.json", "a/../../escape.json"] {
        let e = sink
            .begin(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(e.cause, "bad-key", "{bad}");
    }
    assert!(sink.begin("AWSLogs/a.receipt.json").is_ok());
}

fn kinds(findings: &[Finding]) -> Vec<(FindingKind, String)> {
    findings.iter().map(|f| (f.kind, f.key.clone())).collect()
}

#[test]
fn a_successor_whose_own_signature_fails_is_not_believed_about_its_predecessor() {
    let now = |t: &Trail| t.end_s() + 60;
    // Its record of the previous digest's hash, then its link, edited: the edited digest is
    // named, its intact predecessor is not.
    for edit in [
        |t: String| {
            t.replace(
                "\"previousDigestHashValue\":\"",
                "\"previousDigestHashValue\":\"0",
            )
        },
        |t: String| {
            t.replace(
                "\"previousDigestS3Object\":\"",
                "\"previousDigestS3Object\":\"x",
            )
        },
    ] {
        // The newest: its own signature fails, and its predecessor stays unblamed.
        let trail = Trail::new();
        let newest = trail.keys("CloudTrail-Digest")[2].clone();
        trail.rewrite_gz(&newest, edit);
        assert_eq!(
            trail.findings_after(now(&trail)),
            [(FindingKind::DigestSignatureInvalid, newest)]
        );
        // One in the middle: its successor, whose signature stands, names it altered.
        let trail = Trail::new();
        let middle = trail.keys("CloudTrail-Digest")[1].clone();
        trail.rewrite_gz(&middle, edit);
        assert_eq!(
            trail.findings_after(now(&trail)),
            [(FindingKind::DigestAltered, middle)]
        );
    }
    // A listed hash edited: the digest is altered, and its list is not trusted.
    let trail = Trail::new();
    let middle = trail.keys("CloudTrail-Digest")[0].clone();
    trail.rewrite_gz(&middle, |t| {
        t.replacen("\"hashValue\":\"", "\"hashValue\":\"0", 1)
    });
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::DigestAltered, middle)]
    );
    // The newest digest has no successor: its own signature names it.
    let trail = Trail::new();
    let newest = trail.keys("CloudTrail-Digest")[2].clone();
    trail.rewrite_gz(&newest, |t| {
        t.replace("\"logFiles\":[]", "\"logFiles\":[ ]")
    });
    assert_eq!(
        trail.findings_after(now(&trail)),
        [(FindingKind::DigestSignatureInvalid, newest)]
    );
}

/// Moves a trail file out of the bucket, until [`unpark`].
fn park(trail: &Trail, key: &str) {
    let aside = trail.dir.path().join("aside");
    fs::create_dir_all(&aside).unwrap();
    fs::rename(trail.bucket().join(key), aside.join(key.replace('/', "_"))).unwrap();
}

fn unpark(trail: &Trail, key: &str) {
    let parked = trail.dir.path().join("aside").join(key.replace('/', "_"));
    fs::rename(parked, trail.bucket().join(key)).unwrap();
}

mod hostile;
mod receipts;
mod walk;
