//! The check of one chain of digests: signatures, links, the log files each lists and their
//! receipts (module `files`), and silence.
//!
//! Digests are read in chain order with one digest of lookahead: a digest's signature is its
//! own (S3 metadata, or a local sidecar) or else the one its successor records. What a successor
//! records of its predecessor (hash, signature) counts only when the successor's own signature
//! does not fail; a digest found altered or badly signed is named once, its links and its log
//! files are not trusted, and a later run does not name it again. Memory holds two digests,
//! whatever the chain's length.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::digest::{DigestFile, same_hash};
use super::keys::KeyStore;
use super::{Chain, Finding, FindingKind, Options, Tally};
use crate::decode;
use crate::key::TrailKey;
use crate::ports::{ErrorClass, ObjectRef, ObjectSource, PortError, Store};

mod files;
mod lake;
mod signatures;
mod unlisted;

pub use unlisted::Coverage;

pub use files::MAX_HEALS;

/// Most decompressed bytes read of one digest file (a digest of a busy hour lists a few
/// thousand files, a few hundred kB): a bound against a file that is not a digest.
pub(super) const MAX_DIGEST_BYTES: u64 = 64 << 20;

/// Most tamperings one chain keeps to name again: a bound on the checkpoint against a flood of
/// planted files (the ones past it are still named by the check that finds them).
pub const MAX_KEPT_FINDINGS: usize = 1000;

/// Checks in a row a chain may stop at the same object for a read that failed for a transient
/// reason (after the SDK's own retries) before the object is named unreadable and the chain
/// goes on past it.
pub const MAX_STALLED_CHECKS: u32 = 3;

/// The newest digest of a chain that was checked: what its successor must name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its key.
    pub key: String,
    /// Hex SHA-256 of its decompressed bytes.
    pub sha256: String,
    /// Its end time, seconds since the Unix epoch.
    pub end_s: i64,
    /// Whether it was found altered or badly signed (and named so): its successor's record of
    /// it is not compared again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub altered: bool,
}

/// A log file forwarded, or not yet: no receipt was found before its grace period ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awaiting {
    /// The log file's key.
    pub key: String,
    /// Its hex SHA-256, as its digest lists it.
    pub sha256: String,
    /// The digest that lists it.
    pub digest: String,
    /// When its grace period ends, seconds since the Unix epoch.
    pub due_s: i64,
    /// Times it was found not forwarded (and enqueued again by a scheduled check).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub heals: u32,
    /// Its receipt is judged (found, or named): only the lake is awaited.
    #[serde(default, skip_serializing_if = "is_false")]
    pub receipt_judged: bool,
    /// When its grace period for the lake ends, while the lake is awaited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lake_due_s: Option<i64>,
    /// Times it was found not in the lake (and looked for again a grace period later).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lake_misses: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where a chain stands between two checks: the checkpoint of a scheduled validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// The newest digest checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Link>,
    /// Log files whose receipt may still come.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting: Vec<Awaiting>,
    /// Tamperings found by earlier checks ([`FindingKind::persists`]): every check names them
    /// again, whatever it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// The object the chain's last checks stopped at, for a read that failed for a transient
    /// reason, and how many checks in a row did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<Stalled>,
    /// Where the next check's look for unlisted log files starts, and the log files the
    /// digests read so far list from there on (the rest of the chain's coverage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlisted: Option<Coverage>,
}

/// Lists the keys under a prefix of the trail bucket (or its folder): what the look for
/// unlisted log files reads.
pub type ListKeys<'a> = &'a (dyn Fn(&str) -> Result<Vec<String>, PortError> + Sync);

/// Where a chain stopped, for a read that failed, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stalled {
    /// The object that could not be read.
    pub key: String,
    /// Checks in a row that stopped there.
    pub checks: u32,
}

/// Where the evidence is read.
pub struct Evidence<'a, S, K> {
    /// Reads digests, log files and receipts.
    pub source: &'a S,
    /// The trail bucket, or the folder that stands for it: digests and log files.
    pub trail: Store,
    /// Where receipts are, and their prefix; `None`: forwarding is not checked.
    pub receipts: Option<(Store, String)>,
    /// Where the lake's own folder is (`_lake/` under the table's location), and its prefix;
    /// `None`: the lake is not checked.
    pub lake: Option<(Store, String)>,
    /// Public keys.
    pub keys: &'a K,
    /// Lists the trail's log folders, to name the log files no digest lists; `None`: not
    /// looked for.
    pub lister: Option<ListKeys<'a>>,
}

impl<S, K> std::fmt::Debug for Evidence<'_, S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field("trail", &self.trail)
            .field("receipts", &self.receipts)
            .field("lake", &self.lake)
            .field("lists", &self.lister.is_some())
            .finish_non_exhaustive()
    }
}

/// What the digests of one chain checked so far cover.
#[derive(Debug, Default)]
struct Covered {
    /// From the earliest start to the latest end, seconds since the Unix epoch.
    window: Option<(i64, i64)>,
    /// The log files they list.
    listed: BTreeSet<String>,
    /// A digest of the chain was found bad or missing: its window is not covered, and what
    /// it listed is unknown, so no file is judged unlisted by this check.
    broken: bool,
}

/// A digest as read: its bytes' hash and fields, and its signature when the store keeps it.
struct Loaded {
    key: String,
    /// SHA-256 of the decompressed bytes, parsed or not.
    sha256: [u8; 32],
    file: Result<DigestFile, String>,
    /// Why it could not be read, when it could not: then `file` holds the same.
    unreadable: Option<String>,
    signature: Option<String>,
    /// What its own signature says, once asked (as its predecessor's lookahead).
    own_verdict: Option<Verdict>,
}

impl Loaded {
    /// The digest, if it names `predecessor` as the digest before it.
    fn links_to(&self, predecessor: &str) -> Option<&DigestFile> {
        self.file
            .as_ref()
            .ok()
            .filter(|f| f.body.previous_digest_s3_object.as_deref() == Some(predecessor))
    }
}

/// What a digest's signature says.
#[derive(Clone)]
enum Verdict {
    Verified,
    /// No signature is kept anywhere the check can read.
    Unverified,
    /// A finding: the signature fails, or its key is unknown.
    Failed(FindingKind, String),
}

/// One validation's checks, counting as it goes.
#[derive(Debug)]
pub struct Checker<'a, S, K> {
    evidence: Evidence<'a, S, K>,
    options: Options,
    /// The time the check is made at, seconds since the Unix epoch: grace periods and silence
    /// are judged by it.
    now_s: i64,
    /// Digests ending before this were not walked: a link into that time is not followed.
    walked_from_s: Option<i64>,
    /// An object whose read failed for a transient reason is named unreadable rather than
    /// stopping the chain (its earlier checks stopped there often enough).
    give_up_on: Option<String>,
    /// The object the last transient failure happened at.
    stalled_at: Option<String>,
    /// When a long read stops (a run's deadline): checked inside each log file's read too.
    deadline: Option<std::time::Instant>,
    /// What the digests checked in the current chain cover: their windows and the log files
    /// they list.
    covered: Covered,
    /// What the lake holds of the current chain, by window.
    lake_seen: lake::Seen,
    /// What was checked and found.
    pub tally: Tally,
}

impl<'a, S: ObjectSource, K: KeyStore> Checker<'a, S, K> {
    /// A checker of `evidence` at `now_s`.
    pub fn new(evidence: Evidence<'a, S, K>, options: Options, now_s: i64) -> Self {
        Self {
            evidence,
            options,
            now_s,
            walked_from_s: None,
            give_up_on: None,
            stalled_at: None,
            deadline: None,
            covered: Covered::default(),
            lake_seen: lake::Seen::default(),
            tally: Tally::default(),
        }
    }

    /// The same checker, stopping any read still under way at `deadline` (the read fails as
    /// a transient one: the chain is checked again from there).
    pub fn with_deadline(self, deadline: Option<std::time::Instant>) -> Self {
        Self { deadline, ..self }
    }

    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|at| std::time::Instant::now() >= at)
    }

    /// The same checker for a walk that starts at digests ending at `from_s`.
    pub fn walked_from(self, from_s: Option<i64>) -> Self {
        Self {
            walked_from_s: from_s,
            ..self
        }
    }

    /// Checks the digests `keys` (the chain's keys after `state`, in order), then the log files
    /// still awaiting a receipt and the chain's silence. Reports each finding to `out` and
    /// returns where the chain stands, and whether every digest was checked: when `stop` says
    /// so before a digest, the chain stands at the last one done. A read that failed for a
    /// transient reason stops the chain with the error.
    pub fn check_chain(
        &mut self,
        chain: &Chain,
        state: ChainState,
        keys: &[String],
        stop: &mut dyn FnMut() -> bool,
        out: &mut dyn FnMut(Finding),
    ) -> Result<(ChainState, bool), PortError> {
        self.tally.chains += 1;
        let ChainState {
            mut last,
            awaiting,
            unlisted,
            ..
        } = state;
        self.covered = Covered::default();
        let mut still_awaiting = Vec::new();
        for file in awaiting {
            self.check_receipt(chain, &file, &mut still_awaiting, out)?;
        }
        let mut current: Option<Loaded> = None;
        for key in keys {
            if stop() {
                // The next run reads `current` again, after the last digest done.
                let state = ChainState {
                    last,
                    awaiting: still_awaiting,
                    unlisted,
                    ..ChainState::default()
                };
                return Ok((state, false));
            }
            // A digest deleted while the check ran: its successor names it missing.
            let Some(mut next) = self.load(key)? else {
                continue;
            };
            if let Some(cur) = current.take() {
                let link =
                    self.finish(chain, cur, Some(&mut next), &last, &mut still_awaiting, out)?;
                last = link.or(last);
            }
            current = Some(next);
        }
        if let Some(cur) = current {
            let link = self.finish(chain, cur, None, &last, &mut still_awaiting, out)?;
            last = link.or(last);
        }
        let unlisted = self.check_unlisted(chain, unlisted, out)?;
        if let Some(newest) = &last
            && self.now_s - newest.end_s > self.options.late_after_s
        {
            let detail = format!(
                "the newest digest ({}) ended {} s before the check",
                newest.key,
                self.now_s - newest.end_s
            );
            let finding = self.found(
                chain,
                FindingKind::DigestLate,
                chain.folder.clone(),
                None,
                detail,
            );
            out(finding);
        }
        let state = ChainState {
            last,
            awaiting: still_awaiting,
            unlisted,
            ..ChainState::default()
        };
        Ok((state, true))
    }

    /// Sets which object's transient read failure is named unreadable instead of stopping the
    /// chain; returns where the last transient failure happened.
    pub(super) fn stalls(&mut self, give_up_on: Option<String>) -> Option<String> {
        self.give_up_on = give_up_on;
        self.stalled_at.take()
    }

    /// A failure to read `key`: transient ones stop the chain (to be checked again), unless
    /// the chain stopped there often enough; the rest are the object's own (access denied, a
    /// key the reader may not use, a name that leaves the bucket's folder) and are named.
    fn unreadable(&mut self, key: &str, e: PortError) -> Result<String, PortError> {
        let giving_up = self.give_up_on.as_deref() == Some(key);
        if e.class == ErrorClass::Retry && !giving_up {
            self.stalled_at = Some(key.to_owned());
            return Err(e);
        }
        let again = if giving_up {
            format!(" ({MAX_STALLED_CHECKS} checks in a row)")
        } else {
            String::new()
        };
        Ok(format!("it cannot be read: {e} [{}]{again}", e.cause))
    }

    fn load(&mut self, key: &str) -> Result<Option<Loaded>, PortError> {
        let unreadable = |detail: String| Loaded {
            key: key.to_owned(),
            sha256: [0; 32],
            file: Err(detail.clone()),
            unreadable: Some(detail),
            signature: None,
            own_verdict: None,
        };
        let object = ObjectRef::new(self.evidence.trail.clone(), key);
        let opened = match self.evidence.source.open_existing(&object) {
            Ok(Some(opened)) => opened,
            Ok(None) => return Ok(None),
            Err(e) => return Ok(Some(unreadable(self.unreadable(key, e)?))),
        };
        let signature = opened.signature;
        let read = decode::decompress(opened.reader).and_then(|(mut stream, _)| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(&mut stream, MAX_DIGEST_BYTES),
                &mut bytes,
            )?;
            Ok((bytes, stream.sha256()))
        });
        let (sha256, file) = match read {
            Err(e) if decode::is_source_error(&e) => {
                let detail = self.unreadable(key, files::read_failed(e))?;
                return Ok(Some(unreadable(detail)));
            }
            Err(e) => ([0; 32], Err(format!("not a readable gzip file: {e}"))),
            Ok((bytes, sha256)) => (sha256, DigestFile::parse_hashed(&bytes, sha256)),
        };
        Ok(Some(Loaded {
            key: key.to_owned(),
            sha256,
            file,
            unreadable: None,
            signature,
            own_verdict: None,
        }))
    }

    /// Checks `cur` once its successor (if any) is read; returns it as the chain's new last
    /// link, or `None` when it may not be one: a digest found bad stands in the chain (as a link
    /// not trusted) only when its successor names it, and one from the future never does, so no
    /// planted file can move where the next check starts.
    fn finish(
        &mut self,
        chain: &Chain,
        mut cur: Loaded,
        successor: Option<&mut Loaded>,
        last: &Option<Link>,
        awaiting: &mut Vec<Awaiting>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<Option<Link>, PortError> {
        self.tally.digests += 1;
        let own_verdict = cur.own_verdict.take();
        let named_by_successor = successor
            .as_ref()
            .is_some_and(|next| next.links_to(&cur.key).is_some());
        let stamp_s = TrailKey::parse(&cur.key).delivered_s();
        let end_s = cur.file.as_ref().ok().map(|f| f.end_s);
        let mut link = Link {
            key: cur.key.clone(),
            sha256: hex::encode(cur.sha256),
            end_s: end_s.or(stamp_s).unwrap_or_default(),
            altered: true,
        };
        let bad = |link: Link| named_by_successor.then_some(link);
        if let Some(detail) = self.ahead_of_the_check(stamp_s.into_iter().chain(end_s).max()) {
            let kind = FindingKind::DigestFromTheFuture;
            out(self.found(chain, kind, cur.key, None, detail));
            return Ok(None);
        }
        let file = match self.on_its_own(&mut cur) {
            Ok(file) => file,
            Err((kind, detail)) => {
                out(self.found(chain, kind, cur.key, None, detail));
                return Ok(bad(link));
            }
        };
        // The successor's record of this digest, if the successor's own signature stands.
        let record = match successor {
            Some(next) if next.links_to(&cur.key).is_some() => {
                if self.own_fails(chain, next)? {
                    None
                } else {
                    next.links_to(&cur.key)
                }
            }
            _ => None,
        };
        if let Some(next) = record
            && !next
                .body
                .previous_digest_hash_value
                .as_deref()
                .is_some_and(|h| same_hash(h, &file.sha256))
        {
            let detail = format!(
                "its hash is not the one {} records",
                next.body.digest_s3_object
            );
            out(self.found(chain, FindingKind::DigestAltered, cur.key, None, detail));
            return Ok(Some(link));
        }
        let recorded = record.and_then(|next| next.body.previous_digest_signature.as_deref());
        let verdict = match (own_verdict, &cur.signature) {
            // Its own signature, already checked as its predecessor's lookahead.
            (Some(verdict), Some(_)) => verdict,
            _ => self.verdict(chain, &file, cur.signature.as_deref().or(recorded))?,
        };
        match verdict {
            Verdict::Failed(kind, detail) => {
                out(self.found(chain, kind, cur.key, None, detail));
                return Ok(bad(link));
            }
            Verdict::Verified => self.tally.digests_verified += 1,
            Verdict::Unverified => {
                self.tally.digests_unverified += 1;
                self.tally.unverified.push(cur.key.clone());
            }
        }
        self.check_backward_link(chain, &file, &cur.key, last, out);
        // What it covers: from where its predecessor ended (an hour before its own end when
        // that is not known) to its end, and the files it lists.
        let start_s = last
            .as_ref()
            .map(|l| l.end_s)
            .filter(|s| *s < file.end_s)
            .unwrap_or(file.end_s - 3600);
        self.covered.window = Some(match self.covered.window {
            Some((s, e)) => (s.min(start_s), e.max(file.end_s)),
            None => (start_s, file.end_s),
        });
        self.covered
            .listed
            .extend(file.body.log_files.iter().map(|f| f.s3_object.clone()));
        for entry in &file.body.log_files {
            self.check_log_file(chain, &cur.key, &file, entry, awaiting, out)?;
        }
        link.altered = false;
        Ok(Some(link))
    }

    fn found(
        &mut self,
        chain: &Chain,
        kind: FindingKind,
        key: String,
        digest: Option<String>,
        detail: String,
    ) -> Finding {
        *self.tally.findings.entry(kind).or_default() += 1;
        let about_a_digest = !matches!(
            kind,
            FindingKind::LogFileMissing
                | FindingKind::LogFileAltered
                | FindingKind::LogFileNotForwarded
                | FindingKind::LogFileForwardedAltered
                | FindingKind::LogFileUnlisted
                | FindingKind::LogFileNotInLake
                | FindingKind::DigestLate
        ) && digest.is_none();
        self.covered.broken |= about_a_digest;
        Finding {
            kind,
            key,
            account: chain.account.clone(),
            region: chain.region.clone(),
            digest,
            detail,
        }
    }
}
