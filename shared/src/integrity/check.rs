//! The check of one chain of digests: signatures, links, the log files each lists and their
//! receipts, and silence.
//!
//! Digests are read in chain order with one digest of lookahead: a digest's signature is its
//! own (S3 metadata, or a local sidecar) or else the one its successor records, and its hash is
//! compared with what its successor records before its signature is checked, so an altered
//! digest is named once, as altered. Memory holds two digests, whatever the chain's length.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::digest::{DigestFile, LogFileEntry, same_hash};
use super::keys::KeyStore;
use super::receipt::{Receipt, receipt_key};
use super::{Chain, Finding, FindingKind, Options, Tally};
use crate::decode;
use crate::ports::{ObjectRef, ObjectSource, PortError, Store};

/// Most decompressed bytes read of one digest file (a digest of a busy hour lists a few
/// thousand files, a few hundred kB): a bound against a file that is not a digest.
const MAX_DIGEST_BYTES: u64 = 64 << 20;

/// A digest a chain has verified: what its successor must name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its key.
    pub key: String,
    /// Hex SHA-256 of its decompressed bytes.
    pub sha256: String,
    /// Its end time, seconds since the Unix epoch.
    pub end_s: i64,
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
}

/// Where the evidence is read.
#[derive(Debug)]
pub struct Evidence<'a, S, K> {
    /// Reads digests, log files and receipts.
    pub source: &'a S,
    /// The trail bucket, or the folder that stands for it: digests and log files.
    pub trail: Store,
    /// Where receipts are, and their prefix; `None`: forwarding is not checked.
    pub receipts: Option<(Store, String)>,
    /// Public keys.
    pub keys: &'a K,
}

/// A digest as read: its bytes' hash and fields, and its signature when the store keeps it.
struct Loaded {
    key: String,
    /// SHA-256 of the decompressed bytes, parsed or not.
    sha256: [u8; 32],
    file: Result<DigestFile, String>,
    signature: Option<String>,
}

impl Loaded {
    /// Whether `self` names `predecessor` as the digest before it.
    fn links_to(&self, predecessor: &str) -> Option<&DigestFile> {
        self.file
            .as_ref()
            .ok()
            .filter(|f| f.body.previous_digest_s3_object.as_deref() == Some(predecessor))
    }
}

/// One validation's checks, counting as it goes.
#[derive(Debug)]
pub struct Checker<'a, S, K> {
    evidence: Evidence<'a, S, K>,
    options: Options,
    /// The time the check is made at, seconds since the Unix epoch: grace periods and silence
    /// are judged by it.
    now_s: i64,
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
            tally: Tally::new(),
        }
    }

    /// Checks the digests `keys` (the chain's keys after `state`, in order), then the log files
    /// still awaiting a receipt and the chain's silence. Reports each finding to `out` and
    /// returns where the chain stands. A read that failed for a transient reason stops the
    /// chain with the error: `state` is then still where it stood.
    pub fn check_chain(
        &mut self,
        chain: &Chain,
        state: ChainState,
        keys: &[String],
        out: &mut dyn FnMut(Finding),
    ) -> Result<ChainState, PortError> {
        self.tally.chains += 1;
        let ChainState { mut last, awaiting } = state;
        let mut still_awaiting = Vec::new();
        for file in awaiting {
            self.check_receipt(chain, &file, &mut still_awaiting, out)?;
        }
        let mut linked = None;
        let mut current: Option<Loaded> = None;
        for key in keys {
            let next = self.load(key)?;
            if let Some(cur) = current.take() {
                let link = self.finish(
                    chain,
                    cur,
                    Some(&next),
                    &last,
                    &linked,
                    &mut still_awaiting,
                    out,
                )?;
                linked = link.as_ref().map(|l| l.key.clone());
                last = link.or(last);
            }
            current = Some(next);
        }
        if let Some(cur) = current {
            last = self
                .finish(chain, cur, None, &last, &linked, &mut still_awaiting, out)?
                .or(last);
        }
        if let Some(newest) = &last
            && self.now_s - newest.end_s > self.options.late_after_s
        {
            out(self.found(
                chain,
                FindingKind::DigestLate,
                chain.folder.clone(),
                None,
                format!(
                    "the newest digest ({}) ended {} s before the check",
                    newest.key,
                    self.now_s - newest.end_s
                ),
            ));
        }
        Ok(ChainState {
            last,
            awaiting: still_awaiting,
        })
    }

    fn load(&self, key: &str) -> Result<Loaded, PortError> {
        let object = ObjectRef::new(self.evidence.trail.clone(), key);
        let opened = match self.evidence.source.open(&object) {
            Ok(opened) => opened,
            Err(e) if e.cause == "not-found" => {
                return Ok(Loaded {
                    key: key.to_owned(),
                    sha256: [0; 32],
                    file: Err("it was deleted while the check ran".to_owned()),
                    signature: None,
                });
            }
            Err(e) => return Err(e),
        };
        let signature = opened.signature;
        let mut bytes = Vec::new();
        let read = decode::decompress(opened.reader).and_then(|(stream, _)| {
            let mut limited = stream.take(MAX_DIGEST_BYTES);
            limited.read_to_end(&mut bytes)?;
            Ok(limited.get_ref().sha256())
        });
        let (sha256, file) = match read {
            Ok(sha256) => (sha256, DigestFile::parse(&bytes)),
            Err(e) => ([0; 32], Err(format!("not a readable gzip file: {e}"))),
        };
        Ok(Loaded {
            key: key.to_owned(),
            sha256,
            file,
            signature,
        })
    }

    /// Checks `cur` once its successor (if any) is read; returns it as the chain's new last
    /// link. `linked` is the key whose hash its successor already checked.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        chain: &Chain,
        cur: Loaded,
        successor: Option<&Loaded>,
        last: &Option<Link>,
        linked: &Option<String>,
        awaiting: &mut Vec<Awaiting>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<Option<Link>, PortError> {
        self.tally.digests += 1;
        let file = match cur.file {
            Ok(file) => file,
            Err(e) => {
                out(self.found(chain, FindingKind::DigestAltered, cur.key.clone(), None, e));
                // Still the chain's link: its successor names it, and is not missing one.
                return Ok(Some(Link {
                    key: cur.key,
                    sha256: hex::encode(cur.sha256),
                    end_s: last.as_ref().map_or(0, |l| l.end_s),
                }));
            }
        };
        let key = cur.key;
        if let Some(detail) = self.misplaced(&file, &key) {
            out(self.found(chain, FindingKind::DigestAltered, key.clone(), None, detail));
        } else if let Some(next) = successor.and_then(|s| s.links_to(&key))
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
            out(self.found(chain, FindingKind::DigestAltered, key.clone(), None, detail));
        } else {
            let recorded = successor
                .and_then(|s| s.links_to(&key))
                .and_then(|next| next.body.previous_digest_signature.clone());
            self.check_signature(chain, &key, &file, cur.signature.or(recorded), out)?;
        }
        self.check_backward_link(chain, &file, &key, last, linked, out);
        for entry in &file.body.log_files {
            self.check_log_file(chain, &key, &file, entry, awaiting, out)?;
        }
        Ok(Some(Link {
            key,
            sha256: hex::encode(file.sha256),
            end_s: file.end_s,
        }))
    }

    /// Why a digest is not where it says it was written, if it is not.
    fn misplaced(&self, file: &DigestFile, key: &str) -> Option<String> {
        let body = &file.body;
        let bucket_differs =
            matches!(&self.evidence.trail, Store::S3(b) if *b != body.digest_s3_bucket);
        (body.digest_s3_object != key || bucket_differs).then(|| {
            format!(
                "it says it was written to {}/{}",
                body.digest_s3_bucket, body.digest_s3_object
            )
        })
    }

    fn check_signature(
        &mut self,
        chain: &Chain,
        key: &str,
        file: &DigestFile,
        signature: Option<String>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<(), PortError> {
        let Some(signature) = signature else {
            self.tally.digests_unverified += 1;
            return Ok(());
        };
        let fingerprint = &file.body.digest_public_key_fingerprint;
        let Some(public_key) = self
            .evidence
            .keys
            .find(&chain.region, fingerprint, file.end_s)?
        else {
            let detail = format!("no public key has fingerprint {fingerprint}");
            out(self.found(
                chain,
                FindingKind::PublicKeyUnknown,
                key.to_owned(),
                None,
                detail,
            ));
            return Ok(());
        };
        let verified = hex::decode(signature.trim())
            .is_ok_and(|s| public_key.verifies(file.signing_string().as_bytes(), &s));
        if verified {
            self.tally.digests_verified += 1;
        } else {
            let detail = format!("the signature does not verify with key {fingerprint}");
            out(self.found(
                chain,
                FindingKind::DigestSignatureInvalid,
                key.to_owned(),
                None,
                detail,
            ));
        }
        Ok(())
    }

    /// The link from `file` to the digest before it: absent from the chain, or (when that
    /// digest was checked in an earlier run) altered since.
    fn check_backward_link(
        &mut self,
        chain: &Chain,
        file: &DigestFile,
        key: &str,
        last: &Option<Link>,
        linked: &Option<String>,
        out: &mut dyn FnMut(Finding),
    ) {
        let (Some(previous), Some(last)) = (&file.body.previous_digest_s3_object, last) else {
            return;
        };
        if *previous != last.key {
            let detail = format!("{key} names it as the digest before it");
            out(self.found(
                chain,
                FindingKind::DigestMissing,
                previous.clone(),
                None,
                detail,
            ));
            return;
        }
        let hash_ok = file
            .body
            .previous_digest_hash_value
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(&last.sha256));
        if linked.as_deref() != Some(&last.key) && !hash_ok {
            let detail = format!("its hash is not the one {key} records");
            out(self.found(
                chain,
                FindingKind::DigestAltered,
                last.key.clone(),
                None,
                detail,
            ));
        }
    }

    fn check_log_file(
        &mut self,
        chain: &Chain,
        digest_key: &str,
        digest: &DigestFile,
        entry: &LogFileEntry,
        awaiting: &mut Vec<Awaiting>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<(), PortError> {
        self.tally.log_files += 1;
        let key = &entry.s3_object;
        let digest_name = Some(digest_key.to_owned());
        let object = ObjectRef::new(self.evidence.trail.clone(), key.clone());
        let opened = match self.evidence.source.open(&object) {
            Ok(opened) => opened,
            Err(e) if e.cause == "not-found" => {
                let detail = format!("{digest_key} lists it");
                out(self.found(
                    chain,
                    FindingKind::LogFileMissing,
                    key.clone(),
                    digest_name,
                    detail,
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let hashed = decode::decompress(opened.reader).and_then(|(mut stream, _)| {
            std::io::copy(&mut stream, &mut std::io::sink())?;
            Ok(stream.sha256())
        });
        match hashed {
            Ok(sha256) if same_hash(&entry.hash_value, &sha256) => {
                self.tally.log_files_verified += 1
            }
            Ok(sha256) => {
                let detail = format!(
                    "SHA-256 {} where the digest lists {}",
                    hex::encode(sha256),
                    entry.hash_value
                );
                out(self.found(
                    chain,
                    FindingKind::LogFileAltered,
                    key.clone(),
                    digest_name,
                    detail,
                ));
            }
            Err(e) => {
                let detail = format!("not a readable gzip file: {e}");
                out(self.found(
                    chain,
                    FindingKind::LogFileAltered,
                    key.clone(),
                    digest_name,
                    detail,
                ));
            }
        }
        let file = Awaiting {
            key: key.clone(),
            sha256: entry.hash_value.to_ascii_lowercase(),
            digest: digest_key.to_owned(),
            due_s: digest.end_s + self.options.forward_grace_s,
        };
        self.check_receipt(chain, &file, awaiting, out)
    }

    /// Whether `file` was forwarded as its digest lists it; one not yet past its grace period
    /// goes on `awaiting`.
    fn check_receipt(
        &mut self,
        chain: &Chain,
        file: &Awaiting,
        awaiting: &mut Vec<Awaiting>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<(), PortError> {
        let Some((store, prefix)) = &self.evidence.receipts else {
            return Ok(());
        };
        let object = ObjectRef::new(store.clone(), receipt_key(prefix, &file.key));
        let digest = Some(file.digest.clone());
        let receipt = match self.evidence.source.open(&object) {
            Ok(opened) => {
                let mut bytes = Vec::new();
                opened
                    .reader
                    .take(MAX_DIGEST_BYTES)
                    .read_to_end(&mut bytes)
                    .map_err(|e| PortError::new(crate::ports::ErrorClass::Retry, "io", e))?;
                serde_json::from_slice::<Receipt>(&bytes).map_err(|e| e.to_string())
            }
            Err(e) if e.cause == "not-found" => {
                if self.now_s < file.due_s {
                    self.tally.awaiting_receipt += 1;
                    awaiting.push(file.clone());
                } else {
                    let detail = format!("no receipt at {}", object.key);
                    out(self.found(
                        chain,
                        FindingKind::LogFileNotForwarded,
                        file.key.clone(),
                        digest,
                        detail,
                    ));
                    // Enqueued again by a scheduled check: it awaits its receipt once more.
                    awaiting.push(Awaiting {
                        due_s: self.now_s + self.options.forward_grace_s,
                        ..file.clone()
                    });
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match receipt {
            Ok(r) if r.sha256.eq_ignore_ascii_case(&file.sha256) => {
                self.tally.log_files_forwarded += 1
            }
            Ok(r) => {
                let detail = format!(
                    "forwarded with SHA-256 {} where the digest lists {}",
                    r.sha256, file.sha256
                );
                out(self.found(
                    chain,
                    FindingKind::LogFileForwardedAltered,
                    file.key.clone(),
                    digest,
                    detail,
                ));
            }
            Err(e) => {
                let detail = format!("its receipt {} is not a receipt: {e}", object.key);
                out(self.found(
                    chain,
                    FindingKind::LogFileForwardedAltered,
                    file.key.clone(),
                    digest,
                    detail,
                ));
            }
        }
        Ok(())
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
