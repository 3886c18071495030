//! Receipts: awaited through their grace period, followed when missing, and every receipt of
//! a key (the first, and those beside it) read.

use super::*;

#[test]
fn a_missing_receipt_awaits_its_grace_period_and_a_checkpoint_carries_it() {
    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[13].clone();
    let receipts = trail.dir.path().join("receipts");
    let receipt = receipts.join(receipt_key("", &log));
    let kept = fs::read(&receipt).unwrap();
    fs::remove_file(&receipt).unwrap();
    // The second digest ends at +2 h; its files are due an hour later.
    let before_due = demo::DAY_START_S + 2 * 3600 + DEFAULT_FORWARD_GRACE_S - 1;
    let mut checkpoint = Checkpoint::default();
    let (findings, tally) = trail.validate_from(&Trail::demo_keys(), before_due, &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.awaiting_receipt, 1);
    let entry = checkpoint.chains.values().next().unwrap().clone();
    assert_eq!(entry.state.awaiting.len(), 1);
    assert_eq!(entry.state.awaiting[0].key, log);
    assert_eq!(
        entry.state.last.as_ref().unwrap().key,
        *trail.keys("CloudTrail-Digest").last().unwrap()
    );

    // The next check reads no digest again; the receipt came meanwhile.
    fs::write(&receipt, kept).unwrap();
    let (findings, tally) =
        trail.validate_from(&Trail::demo_keys(), before_due + 60, &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!((tally.digests, tally.log_files_forwarded), (0, 1));
    assert!(
        checkpoint
            .chains
            .values()
            .next()
            .unwrap()
            .state
            .awaiting
            .is_empty()
    );

    // Gone again and past due, from the checkpoint alone.
    let mut checkpoint_with_awaiting = checkpoint.clone();
    checkpoint_with_awaiting
        .chains
        .values_mut()
        .next()
        .unwrap()
        .state
        .awaiting = entry.state.awaiting.clone();
    fs::remove_file(&receipt).unwrap();
    let (findings, _) = trail.validate_from(
        &Trail::demo_keys(),
        before_due + 2,
        &mut checkpoint_with_awaiting,
    );
    assert_eq!(
        findings
            .iter()
            .map(|f| (f.kind, f.key.clone()))
            .collect::<Vec<_>>(),
        [(FindingKind::LogFileNotForwarded, log)]
    );
}

#[test]
fn a_receipt_is_filed_under_the_key_in_its_bucket() {
    use crate::pipeline::receipt::filed_key;
    use crate::ports::ObjectRef;
    let key = "AWSLogs/o-1/111122223333/CloudTrail/us-east-1/2026/11/01/f.json.gz";
    let in_bucket = ObjectRef::new(Store::S3("b".into()), format!("trail/{key}"));
    assert_eq!(filed_key(&in_bucket), format!("trail/{key}"));
    let in_folder = ObjectRef::new(Store::Local("copy".into()), key);
    assert_eq!(filed_key(&in_folder), key);
    // A file given by its own path: from its AWSLogs/ folder, or by its name.
    let by_path = ObjectRef::new(Store::Local(PathBuf::new()), format!("/data/copy/{key}"));
    assert_eq!(filed_key(&by_path), key);
    let loose = ObjectRef::new(Store::Local(PathBuf::new()), "/tmp/x/one.json");
    assert_eq!(filed_key(&loose), "one.json");
    assert_eq!(
        receipt_key("cloudtrail/_receipts/", key),
        format!("cloudtrail/_receipts/{key}.receipt.json")
    );
}

#[test]
fn a_log_file_altered_before_it_was_forwarded_says_both() {
    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[2].clone();
    let receipts = trail.dir.path().join("receipts");
    let first = || fs::read(receipts.join(receipt_key("", &log))).unwrap();
    let genuine = first();
    trail.rewrite_gz(&log, |t| t.replacen("\"eventName\"", "\"eventName\" ", 1));
    // Forwarded again as it now is: its receipt, beside the first, holds the altered hash.
    forward_as_it_is(&trail, &log);
    assert_eq!(first(), genuine, "the first receipt is never replaced");
    assert_eq!(
        trail.findings_after(trail.end_s() + 60),
        [
            (FindingKind::LogFileAltered, log.clone()),
            (FindingKind::LogFileForwardedAltered, log)
        ]
    );
}

/// Altered bytes forwarded first, the listed bytes after them: the first receipt names the
/// altered forwarding, the second (beside it, never over it) the genuine one; both are said.
#[test]
fn a_log_file_forwarded_altered_then_as_listed_keeps_both_receipts() {
    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[2].clone();
    let receipts = trail.dir.path().join("receipts");
    fs::remove_file(receipts.join(receipt_key("", &log))).unwrap();
    let genuine = fs::read(trail.bucket().join(&log)).unwrap();
    trail.rewrite_gz(&log, |t| t.replacen("\"eventName\"", "\"eventName\" ", 1));
    forward_as_it_is(&trail, &log);
    fs::write(trail.bucket().join(&log), genuine).unwrap();
    forward_as_it_is(&trail, &log);
    let (findings, tally) = trail.validate(&Trail::demo_keys(), trail.end_s() + 60);
    let named: Vec<_> = findings.iter().map(|f| (f.kind, f.key.clone())).collect();
    assert_eq!(named, [(FindingKind::LogFileForwardedAltered, log)]);
    assert!(
        findings[0]
            .detail
            .contains("the listed bytes were forwarded too"),
        "{}",
        findings[0].detail
    );
    assert_eq!(tally.log_files_forwarded, tally.log_files_verified);
}

/// Forwards `log` of the trail as the bucket holds it now, receipts into `receipts/`.
fn forward_as_it_is(trail: &Trail, log: &str) {
    let object = crate::ports::ObjectRef::new(Store::Local(trail.bucket()), log.to_owned());
    let receipts = LocalArchive::new(trail.dir.path().join("receipts"));
    let receipts = ReceiptsIn::new(&receipts, "");
    let report = Pipeline {
        source: &LocalSource,
        logs: &LocalLogSink::new(trail.dir.path().join("logs")),
        archive: &LocalArchive::new(trail.dir.path().join("archive")),
        receipts: &receipts,
        clock: &FixedClock(demo::DAY_START_S as u64 + 3600),
        settings: &Settings::default(),
        deadline: None,
    }
    .forward(&object);
    assert!(matches!(
        report.outcome,
        crate::pipeline::Outcome::Forwarded { .. }
    ));
}

#[test]
fn a_file_never_forwarded_is_followed_a_bounded_number_of_times() {
    let trail = Trail::new();
    let log = trail.keys("CloudTrail")[1].clone();
    fs::remove_file(
        trail
            .dir
            .path()
            .join("receipts")
            .join(receipt_key("", &log)),
    )
    .unwrap();
    let mut checkpoint = Checkpoint::default();
    let mut at = trail.end_s();
    let mut reported = 0;
    for _ in 0..10 {
        let (findings, _) = trail.validate_from(&Trail::demo_keys(), at, &mut checkpoint);
        reported += findings
            .iter()
            .filter(|f| f.kind == FindingKind::LogFileNotForwarded)
            .count();
        at += DEFAULT_FORWARD_GRACE_S + 1;
        // Silence is not this test's concern.
        for entry in checkpoint.chains.values_mut() {
            if let Some(last) = entry.state.last.as_mut() {
                last.end_s = at;
            }
        }
    }
    assert_eq!(reported as u32, 1 + check::MAX_HEALS);
}
