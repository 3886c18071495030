//! The lake: every listed log file in a commit of its window with the listed hash, awaited
//! through its grace period, named once it is over.

use std::collections::BTreeMap;
use std::io::Read;

use sha2::{Digest, Sha256};

use super::*;
use crate::lake::{FileEntry, Manifest, Window};

/// Writes what the lake's commits publish for the trail's log files (one commit per window),
/// each manifest first given to `edit`.
fn write_lake(trail: &Trail, mut edit: impl FnMut(&mut Manifest)) {
    let mut windows: BTreeMap<Window, Vec<FileEntry>> = BTreeMap::new();
    for key in trail.keys("CloudTrail") {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(fs::File::open(trail.bucket().join(&key)).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let records = doc["Records"].as_array().unwrap().len() as u64;
        let delivered = crate::key::TrailKey::parse(&key).delivered_s().unwrap();
        windows
            .entry(Window::of(delivered))
            .or_default()
            .push(FileEntry {
                bucket: trail.bucket().display().to_string(),
                key,
                version: Default::default(),
                sha256: hex::encode(Sha256::digest(&text)),
                records,
                rows: records,
                unreadable: 0,
            });
    }
    for (window, files) in windows {
        let mut manifest = Manifest {
            window: window.to_string(),
            commit: 1,
            attempt: "test".into(),
            rows: files.iter().map(|f| f.rows).sum(),
            files,
            data_files: Vec::new(),
            data_bytes: 0,
        };
        edit(&mut manifest);
        for (name, bytes) in manifest.published().unwrap() {
            let path = trail.dir.path().join("lake/_lake").join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }
    }
}

/// Past the lake's grace period for every listed file (the last digest listing files ends at
/// +2 h), and not yet late (the newest ends at +3 h).
fn after_grace(trail: &Trail) -> i64 {
    let at = demo::DAY_START_S + 2 * 3600 + DEFAULT_LAKE_GRACE_S;
    assert!(at - trail.end_s() <= DEFAULT_LATE_AFTER_S);
    at
}

#[test]
fn a_lake_holding_every_listed_file_is_no_finding() {
    let trail = Trail::new();
    write_lake(&trail, |_| {});
    let (findings, tally) = trail.validate(&Trail::demo_keys(), after_grace(&trail));
    assert!(findings.is_empty(), "{findings:?}");
    assert!(tally.log_files > 0);
    assert_eq!(tally.log_files_in_lake, tally.log_files);
    assert_eq!(tally.awaiting_lake, 0);
}

#[test]
fn a_file_no_commit_holds_is_awaited_then_named() {
    let trail = Trail::new();
    let dropped = trail.keys("CloudTrail")[3].clone();
    write_lake(&trail, |m| m.files.retain(|f| f.key != dropped));
    // The first digest ends at +1 h: its files are due in the lake at +4 h.
    let within = demo::DAY_START_S + 3600 + DEFAULT_LAKE_GRACE_S - 1;
    let mut checkpoint = Checkpoint::default();
    let (findings, tally) = trail.validate_from(&Trail::demo_keys(), within, &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.awaiting_lake, 1);
    assert_eq!(tally.log_files_in_lake, tally.log_files - 1);
    // The checkpoint carries it; the next check names it once its grace is over.
    let (findings, tally) = trail.validate_from(&Trail::demo_keys(), within + 2, &mut checkpoint);
    assert_eq!(tally.digests, 0, "no digest is read again");
    let named: Vec<_> = findings.iter().map(|f| (f.kind, f.key.clone())).collect();
    assert_eq!(named, [(FindingKind::LogFileNotInLake, dropped.clone())]);
    assert!(
        findings[0].detail.contains("no commit of window"),
        "{}",
        findings[0].detail
    );
    // Looked for again a grace period later: named again while the lake still lacks it...
    let (findings, _) = trail.validate_from(&Trail::demo_keys(), within + 3, &mut checkpoint);
    assert!(findings.is_empty(), "not due yet: {findings:?}");
    let again = within + 2 + DEFAULT_LAKE_GRACE_S;
    let (findings, _) = trail.validate_from(&Trail::demo_keys(), again, &mut checkpoint);
    // (The chain is silent by now, too: only the lake's findings are looked at.)
    let findings = of_lake(findings);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].detail.ends_with("(found 2 times)"),
        "{}",
        findings[0].detail
    );
    // ...and settled once a later commit holds it.
    write_lake(&trail, |m| {
        m.commit = 2;
        m.files.retain(|f| f.key == dropped);
    });
    let later = again + DEFAULT_LAKE_GRACE_S;
    let (findings, tally) = trail.validate_from(&Trail::demo_keys(), later, &mut checkpoint);
    assert!(of_lake(findings).is_empty());
    assert_eq!(tally.log_files_in_lake, 1);
    let (_, tally) = trail.validate_from(&Trail::demo_keys(), later + 1, &mut checkpoint);
    assert_eq!(
        (tally.log_files_in_lake, tally.awaiting_lake),
        (0, 0),
        "nothing awaited"
    );
}

fn of_lake(findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| f.kind == FindingKind::LogFileNotInLake)
        .collect()
}

#[test]
fn files_awaiting_a_lake_no_longer_checked_are_let_go() {
    let trail = Trail::new();
    write_lake(&trail, |m| m.files.clear());
    let within = demo::DAY_START_S + 3600 + DEFAULT_LAKE_GRACE_S - 1;
    let mut checkpoint = Checkpoint::default();
    let (_, tally) = trail.validate_from(&Trail::demo_keys(), within, &mut checkpoint);
    assert!(tally.awaiting_lake > 0);
    // The lake is no longer checked: nothing is named for it, and nothing stays awaited.
    fs::remove_dir_all(trail.dir.path().join("lake")).unwrap();
    let after = after_grace(&trail);
    let (findings, tally) = trail.validate_from(&Trail::demo_keys(), after, &mut checkpoint);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.awaiting_lake, 0);
    let awaiting: usize = checkpoint
        .chains
        .values()
        .map(|c| c.state.awaiting.len())
        .sum();
    assert_eq!(awaiting, 0);
}

#[test]
fn a_commit_holding_other_bytes_is_named_with_both_hashes() {
    let trail = Trail::new();
    let altered = trail.keys("CloudTrail")[5].clone();
    let forged = "0".repeat(64);
    write_lake(&trail, |m| {
        for f in m.files.iter_mut().filter(|f| f.key == altered) {
            f.sha256.clone_from(&forged);
        }
    });
    // Other bytes are named at once, grace or not.
    let (findings, _) = trail.validate(&Trail::demo_keys(), trail.end_s());
    let named: Vec<_> = findings.iter().map(|f| (f.kind, f.key.clone())).collect();
    assert_eq!(named, [(FindingKind::LogFileNotInLake, altered)]);
    assert!(
        findings[0].detail.contains(&forged),
        "{}",
        findings[0].detail
    );
}

#[test]
fn an_index_that_is_not_one_names_every_file_it_should_hold() {
    let trail = Trail::new();
    write_lake(&trail, |_| {});
    let first = trail.keys("CloudTrail")[0].clone();
    let window = Window::of(crate::key::TrailKey::parse(&first).delivered_s().unwrap());
    let name = window.chain_index_name(1, "210987654321", "us-east-1");
    let index = trail.dir.path().join("lake/_lake").join(&name);
    assert!(index.is_file(), "{} is the chain's index", index.display());
    fs::write(&index, b"{\"files\": \"none\"}").unwrap();
    let (findings, tally) = trail.validate(&Trail::demo_keys(), after_grace(&trail));
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(
            |f| f.kind == FindingKind::LogFileNotInLake && f.detail.contains("is not an index")
        ),
        "{findings:?}"
    );
    assert_eq!(
        findings.len() as u64 + tally.log_files_in_lake,
        tally.log_files
    );
}

#[test]
fn a_later_commit_of_a_window_holds_its_late_files() {
    let trail = Trail::new();
    let late = trail.keys("CloudTrail")[2].clone();
    write_lake(&trail, |m| m.files.retain(|f| f.key != late));
    // The late file is commit 2 of its window.
    write_lake(&trail, |m| {
        m.commit = 2;
        m.files.retain(|f| f.key == late);
    });
    let (findings, tally) = trail.validate(&Trail::demo_keys(), after_grace(&trail));
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(tally.log_files_in_lake, tally.log_files);
}
