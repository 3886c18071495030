//! The walk across runs: links kept by the checkpoint, chains stopped or failing, objects
//! that cannot be read.

use super::*;

#[test]
fn links_hold_across_runs_and_an_altered_digest_is_named_by_every_later_run() {
    let trail = Trail::new();
    let digests = trail.keys("CloudTrail-Digest");
    // Run 1 sees the first digest; run 2 the two others, linked to it through the checkpoint.
    park(&trail, &digests[1]);
    park(&trail, &digests[2]);
    let mut checkpoint = Checkpoint::default();
    let (findings, _) = trail.validate_from(&Trail::demo_keys(), trail.end_s(), &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    unpark(&trail, &digests[1]);
    unpark(&trail, &digests[2]);
    let (findings, tally) =
        trail.validate_from(&Trail::demo_keys(), trail.end_s(), &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!((tally.digests, tally.digests_verified), (2, 2));

    // A digest altered and signed again by whoever holds the key passes alone; the digest
    // after it, in a later run, names it altered, and so does every run after that (from the
    // checkpoint: the digest is not read again), once each.
    let trail = Trail::new();
    let digests = trail.keys("CloudTrail-Digest");
    park(&trail, &digests[2]);
    trail.rewrite_gz(&digests[1], |t| {
        t.replace("\"logFiles\":[", "\"logFiles\":[ ")
    });
    let bytes = {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(
                fs::File::open(trail.bucket().join(&digests[1])).unwrap(),
            ),
            &mut text,
        )
        .unwrap();
        text
    };
    let signing = DigestFile::parse(bytes.as_bytes())
        .unwrap()
        .signing_string();
    let signature = demo::demo_signer()
        .unwrap()
        .sign_hex(signing.as_bytes())
        .unwrap();
    fs::write(sidecar(&trail.bucket().join(&digests[1])), signature).unwrap();
    let mut checkpoint = Checkpoint::default();
    let (findings, _) = trail.validate_from(&Trail::demo_keys(), trail.end_s(), &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    unpark(&trail, &digests[2]);
    let (findings, _) = trail.validate_from(&Trail::demo_keys(), trail.end_s(), &mut checkpoint);
    assert_eq!(
        kinds(&findings),
        [(FindingKind::DigestAltered, digests[1].clone())]
    );
    for _ in 0..2 {
        let (again, tally) =
            trail.validate_from(&Trail::demo_keys(), trail.end_s(), &mut checkpoint);
        assert_eq!(kinds(&again), kinds(&findings), "named again");
        assert_eq!((tally.finding_count(), tally.digests), (1, 0));
    }
}

/// Reads like the local source, but fails on one key: for a transient reason (throttled), or
/// as S3 refuses a reader without the permission (403, access denied).
struct FailingOn(String, crate::ports::ErrorClass, &'static str);

impl FailingOn {
    fn throttled(key: String) -> Self {
        Self(key, crate::ports::ErrorClass::Retry, "throttled")
    }

    fn denied(key: String) -> Self {
        Self(
            key,
            crate::ports::ErrorClass::Poison,
            crate::ports::ACCESS_DENIED,
        )
    }
}

impl crate::ports::ObjectSource for FailingOn {
    type Reader = fs::File;

    fn open(
        &self,
        object: &crate::ports::ObjectRef,
    ) -> Result<crate::ports::Opened<fs::File>, crate::ports::PortError> {
        if object.key == self.0 {
            return Err(crate::ports::PortError::new(self.1, self.2, "refused"));
        }
        LocalSource.open(object)
    }
}

#[test]
fn a_chain_that_fails_or_is_stopped_reports_nothing_of_itself_and_keeps_its_state() {
    let trail = Trail::new();
    let logs = trail.keys("CloudTrail");
    // A finding before the failure, in the same chain: not reported, not counted, not kept.
    fs::remove_file(trail.bucket().join(&logs[0])).unwrap();
    let mut checkpoint = Checkpoint::default();
    let failing = FailingOn::throttled(logs[5].clone());
    let keys = Trail::demo_keys();
    let (findings, tally, result) =
        trail.walk(&failing, &keys, trail.end_s(), &mut checkpoint, &mut || {
            false
        });
    assert_eq!(result.unwrap_err().cause, "throttled");
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.finding_count(), 0);
    // Only where it stalled is kept.
    let stalled = |c: &Checkpoint| -> Vec<ChainState> {
        c.chains.values().map(|e| e.state.clone()).collect()
    };
    assert_eq!(
        stalled(&checkpoint),
        [ChainState {
            stalled: Some(check::Stalled {
                key: logs[5].clone(),
                checks: 1
            }),
            ..ChainState::default()
        }]
    );
    checkpoint = Checkpoint::default();
    // Stopped before the chain: nothing done.
    let (findings, _, result) = trail.walk(
        &LocalSource,
        &keys,
        trail.end_s(),
        &mut checkpoint,
        &mut || true,
    );
    assert!(!result.unwrap());
    assert!(findings.is_empty() && checkpoint.chains.is_empty());
    // Then a whole run: the finding, once.
    let (findings, _) = trail.validate_from(&keys, trail.end_s(), &mut checkpoint);
    assert_eq!(
        kinds(&findings),
        [(FindingKind::LogFileMissing, logs[0].clone())]
    );
}

#[test]
fn a_walk_stopped_between_or_inside_chains_goes_on_from_its_checkpoint() {
    let trail = Trail::with_regions(2);
    let keys = Trail::demo_keys();
    let at = trail.end_s();
    // Asked before each chain and each digest: the fifth question comes before the second chain.
    let mut checkpoint = Checkpoint::default();
    let mut asked = 0;
    let mut stop = || {
        asked += 1;
        asked > 4
    };
    let (findings, tally, result) = trail.walk(&LocalSource, &keys, at, &mut checkpoint, &mut stop);
    assert!(!result.unwrap() && findings.is_empty());
    assert_eq!((tally.digests, checkpoint.chains.len()), (3, 1));
    let (findings, tally, result) =
        trail.walk(&LocalSource, &keys, at, &mut checkpoint, &mut || false);
    assert!(result.unwrap() && findings.is_empty(), "{findings:?}");
    assert_eq!(
        (tally.digests, checkpoint.chains.len()),
        (3, 2),
        "the other chain only"
    );

    // Inside a chain: the chain stands at its last digest done, and goes on from there.
    let mut checkpoint = Checkpoint::default();
    let mut asked = 0;
    let mut stop = || {
        asked += 1;
        asked > 3
    };
    let (_, tally, result) = trail.walk(&LocalSource, &keys, at, &mut checkpoint, &mut stop);
    assert!(!result.unwrap());
    assert_eq!(tally.digests, 1);
    let (findings, tally, result) =
        trail.walk(&LocalSource, &keys, at, &mut checkpoint, &mut || false);
    assert!(result.unwrap() && findings.is_empty(), "{findings:?}");
    assert_eq!((tally.digests, tally.digests_verified), (5, 5));
}

/// Reads like the local source, but its bytes stop halfway through one file with a failure of
/// the source (as a dropped connection).
struct BrokenOn(String);

impl crate::ports::ObjectSource for BrokenOn {
    type Reader = std::io::Chain<std::io::Take<fs::File>, Broken>;

    fn open(
        &self,
        object: &crate::ports::ObjectRef,
    ) -> Result<crate::ports::Opened<Self::Reader>, crate::ports::PortError> {
        let opened = LocalSource.open(object)?;
        let half = if object.key == self.0 { 40 } else { u64::MAX };
        Ok(opened
            .map(|f| std::io::Read::chain(std::io::Read::take(f, half), Broken(half < u64::MAX))))
    }
}

/// Fails when `.0`, else ends.
struct Broken(bool);

impl std::io::Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        if self.0 {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            ))
        } else {
            Ok(0)
        }
    }
}

#[test]
fn a_read_that_fails_partway_is_not_tampering() {
    let trail = Trail::new();
    let keys = Trail::demo_keys();
    for key in [
        trail.keys("CloudTrail")[3].clone(),
        trail.keys("CloudTrail-Digest")[1].clone(),
    ] {
        let mut checkpoint = Checkpoint::default();
        let source = BrokenOn(key.clone());
        let (findings, _, result) =
            trail.walk(&source, &keys, trail.end_s(), &mut checkpoint, &mut || {
                false
            });
        let e = result.unwrap_err();
        assert_eq!(
            (e.class, e.cause),
            (crate::ports::ErrorClass::Retry, "read"),
            "{key}"
        );
        assert!(findings.is_empty(), "{key}: {findings:?}");
        let states: Vec<&ChainState> = checkpoint.chains.values().map(|e| &e.state).collect();
        assert!(
            states
                .iter()
                .all(|s| s.last.is_none() && s.findings.is_empty()),
            "{key}"
        );
        assert_eq!(
            states
                .iter()
                .filter_map(|s| s.stalled.as_ref())
                .map(|s| (&s.key, s.checks))
                .collect::<Vec<_>>(),
            [(&key, 1)],
            "{key}"
        );
    }
}

/// A read that keeps failing stops its chain for a few checks, then is named unreadable and
/// the chain goes on; a read refused for what the object is (access denied) is named at once.
/// Other chains are checked meanwhile.
#[test]
fn no_object_stops_the_walk_for_ever() {
    let trail = Trail::with_regions(2);
    let keys = Trail::demo_keys();
    let digests = trail.keys("CloudTrail-Digest");
    let broken = digests[1].clone();
    let mut checkpoint = Checkpoint::default();
    let source = BrokenOn(broken.clone());
    for check in 1..=check::MAX_STALLED_CHECKS {
        let (findings, tally, result) =
            trail.walk(&source, &keys, trail.end_s(), &mut checkpoint, &mut || {
                false
            });
        let region_of = |k: &str| {
            k.split("/CloudTrail-Digest/")
                .nth(1)
                .map(|r| r.split('/').next().map(str::to_owned))
        };
        if check < check::MAX_STALLED_CHECKS {
            assert_eq!(result.unwrap_err().cause, "read");
            assert!(findings.is_empty(), "{findings:?}");
            // The other region's chain was checked all the same.
            assert!(check > 1 || tally.digests >= 3, "{tally:?}");
            assert!(
                checkpoint.chains.values().any(|e| e
                    .state
                    .last
                    .as_ref()
                    .is_some_and(|l| region_of(&l.key) != region_of(&broken))),
                "{checkpoint:?}"
            );
        } else {
            assert!(result.unwrap(), "the chain goes on past it");
            assert_eq!(
                kinds(&findings),
                [(FindingKind::ObjectUnreadable, broken.clone())]
            );
        }
    }
    // A digest the reader may not read is named at once, and the walk goes on.
    let denied = FailingOn::denied(digests[4].clone());
    let mut checkpoint = Checkpoint::default();
    let (findings, tally, result) =
        trail.walk(&denied, &keys, trail.end_s(), &mut checkpoint, &mut || {
            false
        });
    assert!(result.unwrap());
    assert_eq!(
        kinds(&findings),
        [(FindingKind::ObjectUnreadable, digests[4].clone())]
    );
    assert!(findings[0].detail.contains("access-denied"), "{findings:?}");
    assert_eq!(tally.digests, digests.len() as u64);
    // So is a listed log file.
    let log = trail.keys("CloudTrail")[2].clone();
    let denied = FailingOn::denied(log.clone());
    let (findings, _, result) = trail.walk(
        &denied,
        &keys,
        trail.end_s(),
        &mut Checkpoint::default(),
        &mut || false,
    );
    assert!(result.unwrap());
    assert_eq!(kinds(&findings), [(FindingKind::ObjectUnreadable, log)]);
}
