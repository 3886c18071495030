//! The check against someone who can write to the trail bucket: planted, unsigned, future and
//! unreadable digests, keys that leave the bucket, bombs in place of log files, and a store that
//! answers "access denied" for what is missing. Each tampering ends in its named finding.

use serde_json::{Value, json};

use super::*;
use crate::ports::{ACCESS_DENIED, ErrorClass, ObjectRef, ObjectSource, Opened, PortError};

/// The demo trail's bucket name, as its digests state it.
fn bucket_name() -> &'static str {
    DemoSpec::default().bucket
}

/// Reads the local trail as if it were the S3 bucket the digests name: a digest's signature is
/// its sidecar (S3 metadata), and a key that does not exist answers as S3 answers a reader
/// without `s3:ListBucket`: access denied. `lists` says whether the reader may list the key's
/// prefix (and so tell missing from forbidden).
struct AsS3 {
    root: PathBuf,
    lists: bool,
}

impl AsS3 {
    fn local(&self, object: &ObjectRef) -> ObjectRef {
        match &object.store {
            Store::S3(_) => ObjectRef::new(Store::Local(self.root.clone()), object.key.clone()),
            Store::Local(_) => object.clone(),
        }
    }
}

impl ObjectSource for AsS3 {
    type Reader = fs::File;

    fn open(&self, object: &ObjectRef) -> Result<Opened<fs::File>, PortError> {
        let local = self.local(object);
        match LocalSource.open(&local) {
            Err(e)
                if e.cause == crate::ports::NOT_FOUND && matches!(object.store, Store::S3(_)) =>
            {
                Err(PortError::new(
                    ErrorClass::Poison,
                    ACCESS_DENIED,
                    "Access Denied",
                ))
            }
            other => other,
        }
    }

    fn is_absent(&self, object: &ObjectRef) -> Result<bool, PortError> {
        let local = self.local(object);
        Ok(self.lists && matches!(&local.store, Store::Local(r) if !r.join(&local.key).exists()))
    }
}

impl Trail {
    fn on_s3(&self, lists: bool) -> AsS3 {
        AsS3 {
            root: self.bucket(),
            lists,
        }
    }

    /// A check of the trail as the S3 bucket its digests name, through `source`.
    fn validate_on_s3(&self, source: &AsS3, now_s: i64) -> (Vec<Finding>, Tally) {
        let at = (Store::S3(bucket_name().to_owned()), Options::default());
        let mut checkpoint = Checkpoint::default();
        let keys = Self::demo_keys();
        let (findings, tally, result) =
            self.walk_in(at, source, &keys, now_s, &mut checkpoint, &mut || false);
        assert!(result.unwrap(), "the walk was complete");
        (findings, tally)
    }

    /// The decompressed text of a trail file.
    fn text(&self, key: &str) -> String {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(
                fs::File::open(self.bucket().join(key)).unwrap(),
            ),
            &mut text,
        )
        .unwrap();
        text
    }

    /// The decompressed JSON of a trail file.
    fn json(&self, key: &str) -> Value {
        serde_json::from_str(&self.text(key)).unwrap()
    }

    /// Writes a digest at `key` made from the first one, changed by `edit`, linked after
    /// `previous`; signed with the demo's key (a sidecar) when `sign`.
    fn plant_digest(&self, key: &str, previous: &str, edit: impl FnOnce(&mut Value), sign: bool) {
        let first = self.keys("CloudTrail-Digest")[0].clone();
        let mut body = self.json(&first);
        let previous_bytes = self.text(previous);
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            previous_bytes.as_bytes(),
        ));
        body["digestS3Object"] = json!(key);
        body["previousDigestS3Object"] = json!(previous);
        body["previousDigestHashValue"] = json!(hash);
        body["previousDigestSignature"] =
            json!(fs::read_to_string(sidecar(&self.bucket().join(previous))).unwrap_or_default());
        edit(&mut body);
        let text = body.to_string();
        let path = self.bucket().join(key);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        fs::write(&path, enc.finish().unwrap()).unwrap();
        if sign {
            let signing = DigestFile::parse(text.as_bytes()).unwrap().signing_string();
            let signature = demo::demo_signer()
                .unwrap()
                .sign_hex(signing.as_bytes())
                .unwrap();
            fs::write(sidecar(&path), signature).unwrap();
        }
    }
}

/// A key in the digests' folder, for `stamp` (`YYYYMMDDTHHmmssZ`), in the first digest's chain.
fn digest_key(trail: &Trail, stamp: &str) -> String {
    let first = trail.keys("CloudTrail-Digest")[0].clone();
    let (folder, name) = first.rsplit_once("/CloudTrail-Digest/").unwrap();
    let region = name.split('/').next().unwrap();
    let file = first.rsplit('/').next().unwrap();
    let old_stamp = file
        .rsplit('_')
        .next()
        .unwrap()
        .trim_end_matches(".json.gz");
    let (y, m, d) = (&stamp[0..4], &stamp[4..6], &stamp[6..8]);
    format!(
        "{folder}/CloudTrail-Digest/{region}/{y}/{m}/{d}/{}",
        file.replace(old_stamp, stamp)
    )
}

#[test]
fn on_s3_a_digest_without_its_signature_is_named_and_trusted_for_nothing() {
    let trail = Trail::new();
    let s3 = trail.on_s3(true);
    let (findings, tally) = trail.validate_on_s3(&s3, trail.end_s() + 60);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!((tally.digests_verified, tally.digests_unverified), (3, 0));
    let digests = trail.keys("CloudTrail-Digest");
    // The newest, then one in the middle (its successor's record does not stand in on S3).
    for (stripped, at) in [(2, &digests[2]), (1, &digests[1])] {
        let trail = Trail::new();
        fs::remove_file(sidecar(&trail.bucket().join(&digests[stripped]))).unwrap();
        // What it lists is not trusted: a log file it lists is altered, unnamed.
        if let Some(listed) = trail.json(&digests[stripped])["logFiles"][0]["s3Object"].as_str() {
            trail.rewrite_gz(listed, |t| t.replacen("\"eventName\"", "\"eventName\" ", 1));
        }
        let (findings, tally) = trail.validate_on_s3(&trail.on_s3(true), trail.end_s() + 60);
        assert_eq!(
            kinds(&findings),
            [(FindingKind::DigestSignatureMissing, at.clone())]
        );
        assert_eq!(
            tally.digests_unverified, 0,
            "never counted as the newest, unverified"
        );
    }
    // A planted digest without a signature, listing a planted file: named, its file unread.
    let trail = Trail::new();
    let planted = digest_key(
        &trail,
        &format!("{}T033000Z", &digests[2].rsplit('_').next().unwrap()[..8]),
    );
    trail.plant_digest(
        &planted,
        &digests[2],
        |b| {
            b["logFiles"] = json!([{"s3Bucket": bucket_name(), "s3Object": "AWSLogs/planted.json.gz",
                                    "hashValue": "00", "hashAlgorithm": "SHA-256",
                                    "newestEventTime": null, "oldestEventTime": null}]);
        },
        false,
    );
    let (findings, _) = trail.validate_on_s3(&trail.on_s3(true), trail.end_s() + 1800);
    assert_eq!(
        kinds(&findings),
        [(FindingKind::DigestSignatureMissing, planted)]
    );
}

#[test]
fn a_local_digest_with_no_signature_anywhere_is_named_in_the_tally() {
    let trail = Trail::new();
    let newest = trail.keys("CloudTrail-Digest")[2].clone();
    fs::remove_file(sidecar(&trail.bucket().join(&newest))).unwrap();
    let (findings, tally) = trail.validate(&Trail::demo_keys(), trail.end_s() + 60);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.unverified, [newest]);
}

/// A forged, correctly linked, unsigned digest dated 2099 never becomes where the chain stands:
/// a log file altered in the next real hour is named too, in that check and in every later one.
#[test]
fn a_digest_from_the_future_hides_nothing_that_comes_after_it() {
    let trail = Trail::new();
    let digests = trail.keys("CloudTrail-Digest");
    let keys = Trail::demo_keys();
    park(&trail, &digests[1]);
    park(&trail, &digests[2]);
    let forged = digest_key(&trail, "20991231T235959Z");
    trail.plant_digest(
        &forged,
        &digests[0],
        |b| {
            b["digestStartTime"] = json!("2099-12-31T22:59:59Z");
            b["digestEndTime"] = json!("2099-12-31T23:59:59Z");
            b["logFiles"] = json!([]);
        },
        false,
    );
    let first_hour = trail.end_s() - 2 * 3600 + 60;
    let mut checkpoint = Checkpoint::default();
    let (findings, _) = trail.validate_from(&keys, first_hour, &mut checkpoint);
    assert_eq!(
        kinds(&findings),
        [(FindingKind::DigestFromTheFuture, forged.clone())]
    );
    // The next real hour arrives, with a log file altered.
    unpark(&trail, &digests[1]);
    let listed = trail.json(&digests[1])["logFiles"][0]["s3Object"]
        .as_str()
        .unwrap()
        .to_owned();
    trail.rewrite_gz(&listed, |t| {
        t.replacen("\"eventName\"", "\"eventName\" ", 1)
    });
    let expected = [
        (FindingKind::LogFileAltered, listed.clone()),
        (FindingKind::DigestFromTheFuture, forged.clone()),
    ];
    for check in 0..3 {
        let (findings, tally) =
            trail.validate_from(&keys, first_hour + 3600 + check * 600, &mut checkpoint);
        let mut found = kinds(&findings);
        found.sort();
        assert_eq!(found, expected, "check {check}");
        assert_eq!(tally.finding_count(), 2, "check {check}");
        let last = &checkpoint.chains.values().next().unwrap().state.last;
        assert_eq!(
            last.as_ref().map(|l| l.key.as_str()),
            Some(digests[1].as_str())
        );
    }
}

/// Keys a digest lists are never opened outside the bucket's folder: each is named.
#[test]
fn listed_keys_that_leave_the_bucket_are_named_not_opened() {
    let trail = Trail::new();
    let digests = trail.keys("CloudTrail-Digest");
    let outside = trail.dir.path().join("outside.json");
    fs::write(&outside, br#"{"Records":[]}"#).unwrap();
    let planted = digest_key(
        &trail,
        &format!("{}T033000Z", &digests[2].rsplit('_').next().unwrap()[..8]),
    );
    let escapes = ["../outside.json", outside.to_str().unwrap()];
    let end = jiff::Timestamp::from_second(trail.end_s() + 1800).unwrap();
    trail.plant_digest(
        &planted,
        &digests[2],
        |b| {
            b["digestEndTime"] = json!(end.to_string());
            b["logFiles"] = escapes
                .iter()
                .map(|k| json!({"s3Bucket": bucket_name(), "s3Object": k, "hashValue": "00",
                                "hashAlgorithm": "SHA-256", "newestEventTime": null, "oldestEventTime": null}))
                .collect();
        },
        false,
    );
    let (findings, _) = trail.validate(&Trail::demo_keys(), trail.end_s() + 1800);
    let found = kinds(&findings);
    assert_eq!(
        found,
        escapes.map(|k| (FindingKind::ObjectUnreadable, k.to_owned()))
    );
    assert!(
        findings.iter().all(|f| f.detail.contains("bad-key")),
        "{findings:?}"
    );
}

/// A gzip bomb in a listed log file's place is named altered, read no further than the bound.
#[test]
fn a_bomb_in_place_of_a_log_file_is_altered_and_read_only_to_the_bound() {
    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[3].clone();
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&vec![b' '; 8 << 20]).unwrap();
    fs::write(trail.bucket().join(&log), enc.finish().unwrap()).unwrap();
    let options = Options {
        max_log_file_bytes: 1 << 20,
        ..Options::default()
    };
    let at = (Store::Local(trail.bucket()), options);
    let (findings, _, result) = trail.walk_in(
        at,
        &LocalSource,
        &Trail::demo_keys(),
        trail.end_s() + 60,
        &mut Checkpoint::default(),
        &mut || false,
    );
    assert!(result.unwrap());
    assert_eq!(kinds(&findings), [(FindingKind::LogFileAltered, log)]);
    assert!(
        findings[0].detail.contains("larger than 1048576 bytes"),
        "{findings:?}"
    );
}

/// S3 answers GetObject of a missing key with 403 to a reader that may not list it: a listing
/// of the exact key tells deleted from forbidden.
#[test]
fn deleted_is_deleted_even_when_the_store_says_access_denied() {
    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[12].clone();
    fs::remove_file(trail.bucket().join(&log)).unwrap();
    let (findings, _) = trail.validate_on_s3(&trail.on_s3(true), trail.end_s() + 60);
    assert_eq!(
        kinds(&findings),
        [(FindingKind::LogFileMissing, log.clone())]
    );
    // A reader that may not list the key either cannot tell: the file is unreadable.
    let (findings, _) = trail.validate_on_s3(&trail.on_s3(false), trail.end_s() + 60);
    assert_eq!(kinds(&findings), [(FindingKind::ObjectUnreadable, log)]);
}

/// A log file planted in a chain's folders is named once the chain's digests cover its time,
/// in the check that first can (with what earlier checks' digests listed), and by every later
/// one; a file within the delivery delay of the newest digest waits for the next check.
#[test]
fn a_log_file_no_digest_lists_is_named_once_the_digests_cover_its_time() {
    let trail = Trail::new();
    let template = trail.keys("CloudTrail")[0].clone();
    let stamp = template.split('_').nth(3).unwrap().to_owned();
    let plant = |at: &str| {
        let key = template.replace(&stamp, at).replace(
            template.rsplit('_').next().unwrap(),
            "planted000000000.json.gz",
        );
        fs::copy(trail.bucket().join(&template), trail.bucket().join(&key)).unwrap();
        key
    };
    // The digests end at 01:00, 02:00 and 03:00: files stamped before 02:00 are judged now.
    let early = plant("20261101T0130Z");
    let late = plant("20261101T0230Z");
    let mut checkpoint = Checkpoint::default();
    let keys = Trail::demo_keys();
    let (findings, _) = trail.validate_from(&keys, trail.end_s() + 60, &mut checkpoint);
    assert_eq!(
        kinds(&findings),
        [(FindingKind::LogFileUnlisted, early.clone())]
    );
    // The next hour's digest, listing nothing: the 02:30 file is now covered, and named.
    let digests = trail.keys("CloudTrail-Digest");
    let next = digest_key(&trail, "20261101T040000Z");
    let end = jiff::Timestamp::from_second(trail.end_s() + 3600).unwrap();
    trail.plant_digest(
        &next,
        &digests[2],
        |b| {
            b["digestEndTime"] = json!(end.to_string());
            b["logFiles"] = json!([]);
        },
        true,
    );
    let (findings, _) = trail.validate_from(&keys, trail.end_s() + 3660, &mut checkpoint);
    let mut found = kinds(&findings);
    found.sort();
    assert_eq!(
        found,
        [
            (FindingKind::LogFileUnlisted, early),
            (FindingKind::LogFileUnlisted, late)
        ]
    );
}

/// A digest that decompresses past the bound (its JSON behind 65 MiB of blanks) is read only to
/// the bound and named altered; read whole, it would parse and only its signature would fail.
#[test]
fn a_digest_larger_than_the_bound_is_altered_and_read_only_to_the_bound() {
    let trail = Trail::new();
    let newest = trail.keys("CloudTrail-Digest").last().unwrap().clone();
    let padding = " ".repeat(usize::try_from(check::MAX_DIGEST_BYTES).unwrap() + (1 << 20));
    trail.rewrite_gz(&newest, |t| format!("{padding}{t}"));
    let (findings, _) = trail.validate(&Trail::demo_keys(), trail.end_s() + 60);
    assert_eq!(kinds(&findings), [(FindingKind::DigestAltered, newest)]);
    assert!(findings[0].detail.contains("EOF"), "{findings:?}");
}
