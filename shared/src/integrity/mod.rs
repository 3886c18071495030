//! Proof of completeness: CloudTrail's signed digests checked against the trail bucket and
//! against what the forwarder did.
//!
//! Every hour CloudTrail writes, per account, region and trail, a digest file listing the log
//! files it delivered with their SHA-256, signed with a key of its own and chained to the digest
//! before it
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html>).
//! The forwarder leaves a [`crate::pipeline::receipt::Receipt`] per log file it forwarded wholly, with the hash of
//! what it read. [`check::Checker`] checks a chain: each digest's signature ([`keys`]), each
//! link, each log file against the bucket and against its receipt, and the chain's silence;
//! [`check_walk`] runs it over every chain a walk of the trail's digest folders yields. Each
//! problem is one [`Finding`] of one [`FindingKind`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub mod check;
pub mod config;
pub mod digest;
pub mod function;
pub mod keys;

use crate::key::TrailKey;
use crate::ports::{ObjectSource, PortError};
use crate::replay::select::Selected;
use check::{ChainState, Checker, MAX_KEPT_FINDINGS, MAX_STALLED_CHECKS, Stalled};
use keys::KeyStore;

/// How long a listed log file may go without a receipt: one hour.
pub const DEFAULT_FORWARD_GRACE_S: i64 = 3600;
/// How long after its digest's end a listed log file may be missing from the lake: three hours
/// (the lake commits each hour's window 30 minutes after the hour).
pub const DEFAULT_LAKE_GRACE_S: i64 = 3 * 3600;
/// How old the newest digest of a chain may be: two hours (CloudTrail writes one an hour, even
/// for an hour without log files).
pub const DEFAULT_LATE_AFTER_S: i64 = 7200;

/// The bounds of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Seconds after its digest's end a log file may still be without a receipt.
    pub forward_grace_s: i64,
    /// Seconds a chain's newest digest may be older than the check.
    pub late_after_s: i64,
    /// Most decompressed bytes a listed log file is read to (the forwarder's
    /// `MAX_OBJECT_BYTES`): a larger one is named altered, without reading it all.
    pub max_log_file_bytes: u64,
    /// The forwarder's queue (or its dead-letter queue) holds messages: a log file without a
    /// receipt may be one of them, so it keeps awaiting rather than being named and enqueued
    /// again (healing must not add to a backlog).
    pub forwarding_busy: bool,
    /// Seconds after its digest's end a log file may still be missing from the lake.
    pub lake_grace_s: i64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lake_grace_s: DEFAULT_LAKE_GRACE_S,
            forward_grace_s: DEFAULT_FORWARD_GRACE_S,
            late_after_s: DEFAULT_LATE_AFTER_S,
            max_log_file_bytes: crate::decode::Limits::DEFAULT_MAX_OBJECT_BYTES,
            forwarding_busy: false,
        }
    }
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A digest's signature does not verify.
    DigestSignatureInvalid,
    /// A digest's bytes are not what its successor records, or not a digest at all.
    DigestAltered,
    /// A digest its successor names is absent.
    DigestMissing,
    /// A chain's newest digest is older than the bound: the account-region went silent.
    DigestLate,
    /// A listed log file is absent.
    LogFileMissing,
    /// A listed log file's hash is not the one listed.
    LogFileAltered,
    /// A listed log file has no receipt after the grace period.
    LogFileNotForwarded,
    /// A receipt's hash is not the one listed: what was forwarded is not what CloudTrail wrote.
    LogFileForwardedAltered,
    /// No public key has the fingerprint a digest names.
    PublicKeyUnknown,
    /// A digest on S3 without the signature CloudTrail always stores in its metadata
    /// (`x-amz-meta-signature`): nothing it says is trusted.
    DigestSignatureMissing,
    /// A digest whose name or end time lies beyond the check's time by more than the late
    /// bound: it is never where a chain stands.
    DigestFromTheFuture,
    /// A digest or a listed log file that cannot be read (access denied, a KMS key the reader
    /// may not use, a read that kept failing): the proof cannot cover it.
    ObjectUnreadable,
    /// A log file in a chain's folders that no digest of the chain lists, though the chain's
    /// digests cover its time: CloudTrail did not deliver it, yet it would be forwarded.
    LogFileUnlisted,
    /// A listed log file that no commit of the lake holds with the listed hash after the grace
    /// period: the table is missing its records, or holds other bytes.
    LogFileNotInLake,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [Self; 14] = [
        Self::DigestSignatureInvalid,
        Self::DigestSignatureMissing,
        Self::DigestAltered,
        Self::DigestMissing,
        Self::DigestFromTheFuture,
        Self::DigestLate,
        Self::LogFileMissing,
        Self::LogFileAltered,
        Self::LogFileNotForwarded,
        Self::LogFileForwardedAltered,
        Self::LogFileUnlisted,
        Self::LogFileNotInLake,
        Self::PublicKeyUnknown,
        Self::ObjectUnreadable,
    ];

    /// The kind's name: `digest-altered`, `log-file-missing`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DigestSignatureInvalid => "digest-signature-invalid",
            Self::DigestAltered => "digest-altered",
            Self::DigestMissing => "digest-missing",
            Self::DigestLate => "digest-late",
            Self::LogFileMissing => "log-file-missing",
            Self::LogFileAltered => "log-file-altered",
            Self::LogFileNotForwarded => "log-file-not-forwarded",
            Self::LogFileForwardedAltered => "log-file-forwarded-altered",
            Self::PublicKeyUnknown => "public-key-unknown",
            Self::DigestSignatureMissing => "digest-signature-missing",
            Self::DigestFromTheFuture => "digest-from-the-future",
            Self::ObjectUnreadable => "object-unreadable",
            Self::LogFileUnlisted => "log-file-unlisted",
            Self::LogFileNotInLake => "log-file-not-in-lake",
        }
    }

    /// Whether the kind names a tampering (or evidence the proof cannot cover): once found it
    /// is named by every later check of its chain, not only by the one that found it.
    /// Silence and forwarding gaps are judged afresh by each check.
    pub fn persists(self) -> bool {
        !matches!(
            self,
            Self::DigestLate | Self::LogFileNotForwarded | Self::LogFileNotInLake
        )
    }
}

/// One problem, about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What is wrong.
    pub kind: FindingKind,
    /// The file concerned: the digest, the log file, the absent digest's key; for
    /// `digest-late`, the chain's folder (`.../ACCOUNT/CloudTrail-Digest/REGION/`).
    pub key: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The digest that lists the log file, for log file findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// What was seen.
    pub detail: String,
}

/// What a check counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Chains checked.
    pub chains: u64,
    /// Digests read.
    pub digests: u64,
    /// Digests whose signature verified.
    pub digests_verified: u64,
    /// Digests whose signature is kept nowhere the check could read (a local copy's newest).
    pub digests_unverified: u64,
    /// Log files listed.
    pub log_files: u64,
    /// Log files present with the listed hash.
    pub log_files_verified: u64,
    /// Log files with a receipt of the listed hash.
    pub log_files_forwarded: u64,
    /// Log files without a receipt yet, within their grace period.
    pub awaiting_receipt: u64,
    /// Log files a commit of the lake holds with the listed hash.
    pub log_files_in_lake: u64,
    /// Log files not in the lake yet, within their grace period.
    pub awaiting_lake: u64,
    /// Findings by kind.
    pub findings: BTreeMap<FindingKind, u64>,
    /// The unverified digests (a local copy's newest, with no signature sidecar): named, as
    /// the proof stops short of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unverified: Vec<String>,
}

impl Tally {
    /// Findings of every kind.
    pub fn finding_count(&self) -> u64 {
        self.findings.values().sum()
    }

    /// Adds what `other` counted.
    pub fn merge(&mut self, other: &Tally) {
        self.chains += other.chains;
        self.digests += other.digests;
        self.digests_verified += other.digests_verified;
        self.digests_unverified += other.digests_unverified;
        self.log_files += other.log_files;
        self.log_files_verified += other.log_files_verified;
        self.log_files_forwarded += other.log_files_forwarded;
        self.awaiting_receipt += other.awaiting_receipt;
        self.log_files_in_lake += other.log_files_in_lake;
        self.awaiting_lake += other.awaiting_lake;
        self.unverified.extend(other.unverified.iter().cloned());
        for (kind, n) in &other.findings {
            *self.findings.entry(*kind).or_default() += n;
        }
    }
}

/// One chain of digests: one trail's, in one account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    /// `.../ACCOUNT/CloudTrail-Digest/REGION/`: the folder its digests are under.
    pub folder: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
}

/// A chain and where it stands: one entry of a [`Checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEntry {
    /// The chain.
    #[serde(flatten)]
    pub chain: Chain,
    /// Where it stands.
    #[serde(flatten)]
    pub state: ChainState,
}

/// Where every chain stood after a check, by chain (folder and trail name): what the next
/// scheduled check starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The chains.
    pub chains: BTreeMap<String, ChainEntry>,
    /// Where a walk that did not reach every chain (stopped, or failed) started: the next one
    /// starts there too, so chains it never reached are not skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished_from_s: Option<i64>,
}

impl Checkpoint {
    /// The earliest end time of a chain's newest digest: where a walk that misses nothing
    /// starts. `None` for an empty checkpoint.
    pub fn earliest_end_s(&self) -> Option<i64> {
        let ends = self
            .chains
            .values()
            .filter_map(|e| e.state.last.as_ref().map(|l| l.end_s));
        ends.chain(self.unfinished_from_s).min()
    }
}

/// The chain of a digest key and its id (folder and trail name), if the key is a digest's.
pub fn chain_of(key: &str) -> Option<(String, Chain)> {
    let parsed = TrailKey::parse(key);
    let (account, region) = (parsed.account_id?, parsed.region?);
    let marker = format!("/CloudTrail-Digest/{region}/");
    let at = key.find(&marker)?;
    let folder = key[..at + marker.len()].to_owned();
    let name = crate::key::digest_name_parts(&parsed.file_name)?.0;
    let id = format!("{folder}{name}");
    Some((
        id,
        Chain {
            folder,
            account,
            region,
        },
    ))
}

/// Checks every chain whose digests `next_day` yields (a walk of digest folders, one day at a
/// time, in key order), each from where `checkpoint` says it stood, then the chains of the
/// checkpoint the walk did not meet (their awaiting files, their silence). `checkpoint` is
/// brought up to date chain by chain, and a chain's findings are reported once the chain is
/// done, so a failure, or `stop` answering true before a chain, keeps what was done and
/// repeats nothing. A chain that fails (a read that failed for a transient reason) stops only
/// itself: the others are checked, and the first failure is returned at the end. Returns
/// whether every chain was checked.
pub fn check_walk<S: ObjectSource, K: KeyStore>(
    checker: &mut Checker<'_, S, K>,
    next_day: &mut dyn FnMut() -> Result<Option<Vec<Selected>>, PortError>,
    checkpoint: &mut Checkpoint,
    stop: &mut dyn FnMut() -> bool,
    out: &mut dyn FnMut(Finding),
) -> Result<bool, PortError> {
    let mut seen = BTreeSet::new();
    let mut failed: Option<PortError> = None;
    // The chains of one account-region folder, with their keys in order.
    let mut group: BTreeMap<String, (Chain, Vec<String>)> = BTreeMap::new();
    let mut walking = true;
    while walking {
        let day = next_day()?;
        walking = day.is_some();
        let mut digests = day.unwrap_or_default().into_iter().filter_map(|s| {
            let (id, chain) = chain_of(&s.object.key)?;
            Some((id, chain, s.object.key))
        });
        let mut next = digests.next();
        loop {
            let other_folder = |c: &Chain| {
                group
                    .values()
                    .next()
                    .is_some_and(|(g, _)| g.folder != c.folder)
            };
            // A folder is done when the next digest is another folder's, or the walk is over.
            if next.as_ref().map_or(!walking, |(_, c, _)| other_folder(c)) {
                for (id, (chain, keys)) in std::mem::take(&mut group) {
                    seen.insert(id.clone());
                    if stop() {
                        return Ok(false);
                    }
                    match check_entry(checker, checkpoint, id, chain, &keys, stop, out) {
                        Ok(true) => {}
                        Ok(false) => return Ok(false),
                        // One chain's failure never stops the others: it is reported at the end.
                        Err(e) => failed = failed.or(Some(e)),
                    }
                }
            }
            let Some((id, chain, key)) = next.take() else {
                break;
            };
            group
                .entry(id)
                .or_insert_with(|| (chain, Vec::new()))
                .1
                .push(key);
            next = digests.next();
        }
    }
    let unseen: Vec<(String, Chain)> = checkpoint
        .chains
        .iter()
        .filter(|(id, _)| !seen.contains(*id))
        .map(|(id, e)| (id.clone(), e.chain.clone()))
        .collect();
    for (id, chain) in unseen {
        if stop() {
            return Ok(false);
        }
        match check_entry(checker, checkpoint, id, chain, &[], stop, out) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    failed.map_or(Ok(true), Err)
}

/// Checks one chain's digests `keys` after where `checkpoint` says it stood; its findings go to
/// `out` once it is done (or stopped), its new state to `checkpoint`, and so do the tamperings
/// earlier checks found (every check names them again). On a failure only the failure's place
/// is kept (a chain stalled there often enough names the object unreadable and goes on), and
/// the tally counts nothing of the chain but the tamperings named again. Returns whether the
/// chain was checked to its end.
fn check_entry<S: ObjectSource, K: KeyStore>(
    checker: &mut Checker<'_, S, K>,
    checkpoint: &mut Checkpoint,
    id: String,
    chain: Chain,
    keys: &[String],
    stop: &mut dyn FnMut() -> bool,
    out: &mut dyn FnMut(Finding),
) -> Result<bool, PortError> {
    let mut state = checkpoint
        .chains
        .get(&id)
        .map(|e| e.state.clone())
        .unwrap_or_default();
    let kept = std::mem::take(&mut state.findings);
    let stalled = state.stalled.take();
    let give_up = stalled
        .as_ref()
        .filter(|s| s.checks + 1 >= MAX_STALLED_CHECKS)
        .map(|s| s.key.clone());
    checker.stalls(give_up);
    let after = state.last.as_ref().map(|l| l.key.clone());
    let fresh: Vec<String> = keys
        .iter()
        .filter(|k| after.as_ref().is_none_or(|a| *k > a))
        .cloned()
        .collect();
    let before = checker.tally.clone();
    let mut found = Vec::new();
    let checked = checker.check_chain(&chain, state, &fresh, stop, &mut |f| found.push(f));
    for f in &kept {
        *checker.tally.findings.entry(f.kind).or_default() += 1;
        out(f.clone());
    }
    match checked {
        Ok((mut state, complete)) => {
            state.findings = kept;
            for f in found {
                let again = state
                    .findings
                    .iter()
                    .any(|k| k.kind == f.kind && k.key == f.key);
                if again {
                    // Named above, as found before.
                    if let Some(n) = checker.tally.findings.get_mut(&f.kind) {
                        *n -= 1;
                    }
                    continue;
                }
                if f.kind.persists() && state.findings.len() < MAX_KEPT_FINDINGS {
                    state.findings.push(f.clone());
                }
                out(f);
            }
            checkpoint.chains.insert(id, ChainEntry { chain, state });
            Ok(complete)
        }
        Err(e) => {
            checker.tally = before;
            for f in &kept {
                *checker.tally.findings.entry(f.kind).or_default() += 1;
            }
            let at = checker.stalls(None);
            let entry = checkpoint.chains.entry(id).or_insert_with(|| ChainEntry {
                chain,
                state: ChainState::default(),
            });
            entry.state.findings = kept;
            entry.state.stalled = at.map(|key| Stalled {
                checks: match &stalled {
                    Some(s) if s.key == key => s.checks + 1,
                    _ => 1,
                },
                key,
            });
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;
