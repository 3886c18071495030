//! The log files a digest lists: present in the trail bucket with the listed hash, and
//! forwarded (a receipt of the same hash) once their grace period is over. A key's first
//! receipt is at its plain name; receipts of other bytes of it are beside, named by their hash,
//! so the listed hash and the hash of the file read find every receipt that matters.

use super::{Awaiting, Checker, MAX_DIGEST_BYTES};
use crate::decode::{self, Hashed};
use crate::integrity::digest::{DigestFile, LogFileEntry, same_hash, same_hex};
use crate::integrity::keys::KeyStore;
use crate::integrity::{Chain, Finding, FindingKind};
use crate::pipeline::receipt::{Receipt, receipt_key, receipt_key_beside};
use crate::ports::read_bounded;
use crate::ports::{ObjectRef, ObjectSource, PortError};

/// A read that failed partway: transient, as every failure to read is.
pub(super) fn read_failed(e: std::io::Error) -> PortError {
    PortError::new(crate::ports::ErrorClass::Retry, "read", e)
}

/// A receipt read: the receipt, or why what was read is not one.
type ReadReceipt = Result<Receipt, String>;

/// Times a log file found not forwarded is enqueued again (and awaited) before the check stops
/// following it; each time is a finding.
pub const MAX_HEALS: u32 = 3;

impl<S: ObjectSource, K: KeyStore> Checker<'_, S, K> {
    /// One listed log file: present, unaltered, forwarded. A file missing or altered in the
    /// bucket is named so, and its receipt is not looked at: the one finding says it.
    pub(super) fn check_log_file(
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
        let listed_by = || Some(digest_key.to_owned());
        let object = ObjectRef::new(self.evidence.trail.clone(), key.clone());
        let opened = match self.evidence.source.open_existing(&object) {
            Ok(opened) => opened,
            Err(e) => {
                let detail = format!("{} ({digest_key} lists it)", self.unreadable(key, e)?);
                let kind = FindingKind::ObjectUnreadable;
                out(self.found(chain, kind, key.clone(), listed_by(), detail));
                return Ok(());
            }
        };
        let Some(opened) = opened else {
            let detail = format!("{digest_key} lists it");
            out(self.found(
                chain,
                FindingKind::LogFileMissing,
                key.clone(),
                listed_by(),
                detail,
            ));
            return Ok(());
        };
        let max = self.options.max_log_file_bytes;
        let hashed = decode::sha256_bounded(opened.reader, max, &mut || !self.past_deadline());
        let read_sha256 = match &hashed {
            Ok(Hashed::Sha256(sha256)) => Some(hex::encode(sha256)),
            _ => None,
        };
        let detail = match hashed {
            // A failure to read is not tampering: the chain stops, to be checked again (named
            // unreadable once it kept failing).
            Err(e) if decode::is_source_error(&e) => {
                let detail = format!(
                    "{} ({digest_key} lists it)",
                    self.unreadable(key, read_failed(e))?
                );
                let kind = FindingKind::ObjectUnreadable;
                out(self.found(chain, kind, key.clone(), listed_by(), detail));
                return Ok(());
            }
            Ok(Hashed::Sha256(sha256)) if same_hash(&entry.hash_value, &sha256) => None,
            Ok(Hashed::Sha256(sha256)) => Some(format!(
                "SHA-256 {} where the digest lists {}",
                hex::encode(sha256),
                entry.hash_value
            )),
            Ok(Hashed::LargerThan(max)) => Some(format!(
                "larger than {max} bytes decompressed: not read further (the digest lists {})",
                entry.hash_value
            )),
            Err(e) => Some(format!("not a readable gzip file: {e}")),
        };
        if let Some(detail) = detail {
            out(self.found(
                chain,
                FindingKind::LogFileAltered,
                key.clone(),
                listed_by(),
                detail,
            ));
            // Forwarded after it was altered: its receipt says so too. No receipt is no
            // finding here, and the file is not enqueued again (what it holds is not the log).
            return self.check_altered_receipt(chain, digest_key, entry, read_sha256, out);
        }
        self.tally.log_files_verified += 1;
        let file = Awaiting {
            key: key.clone(),
            sha256: entry.hash_value.to_ascii_lowercase(),
            digest: digest_key.to_owned(),
            due_s: digest.end_s + self.options.forward_grace_s,
            heals: 0,
            receipt_judged: false,
            lake_due_s: self
                .evidence
                .lake
                .as_ref()
                .map(|_| digest.end_s + self.options.lake_grace_s),
            lake_misses: 0,
        };
        self.check_receipt(chain, &file, awaiting, out)
    }

    /// The receipt of a log file found altered in the bucket: one that covers other bytes than
    /// the digest lists means the altered file was forwarded.
    fn check_altered_receipt(
        &mut self,
        chain: &Chain,
        digest_key: &str,
        entry: &LogFileEntry,
        read_sha256: Option<String>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<(), PortError> {
        let key = &entry.s3_object;
        let Some(receipt) = self.read_receipt(key)? else {
            return Ok(());
        };
        let detail = match receipt {
            // The listed bytes were forwarded first; the bytes read now may have been too.
            Ok(r) if same_hex(&r.sha256, &entry.hash_value) => {
                let beside = match &read_sha256 {
                    Some(sha256) => self.read_receipt_beside(key, sha256)?,
                    None => None,
                };
                // Beside the first, under the hash of the bytes read now: those were
                // forwarded too, whatever the receipt says of them.
                match beside {
                    None => return Ok(()),
                    Some((at, Ok(r))) => format!(
                        "forwarded again with SHA-256 {} where the digest lists {} (receipt {at})",
                        r.sha256, entry.hash_value
                    ),
                    Some((at, Err(e))) => format!("its receipt {at} is not a receipt: {e}"),
                }
            }
            Ok(r) => format!(
                "forwarded with SHA-256 {} where the digest lists {}",
                r.sha256, entry.hash_value
            ),
            Err(e) => format!("its receipt is not a receipt: {e}"),
        };
        let kind = FindingKind::LogFileForwardedAltered;
        let digest = Some(digest_key.to_owned());
        out(self.found(chain, kind, entry.s3_object.clone(), digest, detail));
        Ok(())
    }

    /// The first receipt of log file `key`: `None` when there is none (or receipts are not
    /// checked), else the receipt or why it is not one.
    fn read_receipt(&self, key: &str) -> Result<Option<ReadReceipt>, PortError> {
        let Some((_, prefix)) = &self.evidence.receipts else {
            return Ok(None);
        };
        self.read_receipt_at(&receipt_key(prefix, key))
    }

    /// The receipt of log file `key` for the bytes of hex SHA-256 `sha256`, beside the first:
    /// its key, and the receipt or why it is not one.
    fn read_receipt_beside(
        &self,
        key: &str,
        sha256: &str,
    ) -> Result<Option<(String, ReadReceipt)>, PortError> {
        let Some((_, prefix)) = &self.evidence.receipts else {
            return Ok(None);
        };
        let Some(at) = receipt_key_beside(prefix, key, sha256) else {
            return Ok(None);
        };
        Ok(self.read_receipt_at(&at)?.map(|receipt| (at, receipt)))
    }

    fn read_receipt_at(&self, at: &str) -> Result<Option<ReadReceipt>, PortError> {
        let Some((store, _)) = &self.evidence.receipts else {
            return Ok(None);
        };
        let object = ObjectRef::new(store.clone(), at.to_owned());
        let Some(opened) = self.evidence.source.open_existing(&object)? else {
            return Ok(None);
        };
        let bytes = read_bounded(opened.reader, MAX_DIGEST_BYTES)?;
        Ok(Some(
            serde_json::from_slice::<Receipt>(&bytes).map_err(|e| e.to_string()),
        ))
    }

    /// Whether `file` was forwarded as its digest lists it; one not yet past its grace period
    /// goes on `awaiting`, and so does one found not forwarded (a scheduled check enqueues it
    /// again), at most [`MAX_HEALS`] times.
    pub(super) fn check_receipt(
        &mut self,
        chain: &Chain,
        file: &Awaiting,
        awaiting: &mut Vec<Awaiting>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<(), PortError> {
        // The lake is judged on its own: it reads the trail bucket, not the forwarder's output.
        let file = &self.check_lake(chain, file, out)?;
        // Once the receipt is judged, the file stays only while the lake is awaited.
        let judged = Awaiting {
            receipt_judged: true,
            ..file.clone()
        };
        let keep_for_lake = |awaiting: &mut Vec<Awaiting>| {
            if judged.lake_due_s.is_some() {
                awaiting.push(judged.clone());
            }
        };
        let Some((store, prefix)) = self
            .evidence
            .receipts
            .as_ref()
            .filter(|_| !file.receipt_judged)
        else {
            keep_for_lake(awaiting);
            return Ok(());
        };
        let object = ObjectRef::new(store.clone(), receipt_key(prefix, &file.key));
        let digest = Some(file.digest.clone());
        let receipt = match self.read_receipt(&file.key)? {
            Some(receipt) => receipt,
            None => {
                if self.now_s < file.due_s || self.options.forwarding_busy {
                    self.tally.awaiting_receipt += 1;
                    let due_s = file.due_s.max(self.now_s);
                    awaiting.push(Awaiting {
                        due_s,
                        ..file.clone()
                    });
                    return Ok(());
                }
                let heals = file.heals + 1;
                let detail = match heals {
                    1 => format!("no receipt at {}", object.key),
                    n => format!("no receipt at {} (found {n} times)", object.key),
                };
                out(self.found(
                    chain,
                    FindingKind::LogFileNotForwarded,
                    file.key.clone(),
                    digest,
                    detail,
                ));
                if heals <= MAX_HEALS {
                    awaiting.push(Awaiting {
                        due_s: self.now_s + self.options.forward_grace_s,
                        heals,
                        ..file.clone()
                    });
                } else {
                    keep_for_lake(awaiting);
                }
                return Ok(());
            }
        };
        let mut detail = match receipt {
            Ok(r) if same_hex(&r.sha256, &file.sha256) => {
                self.tally.log_files_forwarded += 1;
                keep_for_lake(awaiting);
                return Ok(());
            }
            Ok(r) => format!(
                "forwarded with SHA-256 {} where the digest lists {}",
                r.sha256, file.sha256
            ),
            Err(e) => format!("its receipt {} is not a receipt: {e}", object.key),
        };
        // Other bytes were forwarded first; the listed ones may have been since.
        if let Some((at, Ok(r))) = self.read_receipt_beside(&file.key, &file.sha256)?
            && same_hex(&r.sha256, &file.sha256)
        {
            self.tally.log_files_forwarded += 1;
            detail.push_str(&format!(
                "; the listed bytes were forwarded too (receipt {at})"
            ));
        }
        let kind = FindingKind::LogFileForwardedAltered;
        out(self.found(chain, kind, file.key.clone(), digest, detail));
        keep_for_lake(awaiting);
        Ok(())
    }
}
