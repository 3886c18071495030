//! What a digest alone says: where it ends, where it was written, its signature, and the
//! link its successor records.

use super::{Checker, Link, Loaded, Verdict};
use crate::integrity::digest::{DigestFile, same_hex};
use crate::integrity::keys::KeyStore;
use crate::integrity::{Chain, Finding, FindingKind};
use crate::ports::{ObjectSource, PortError, Store};

impl<S: ObjectSource, K: KeyStore> Checker<'_, S, K> {
    /// Why a digest ending at `latest` (its name's stamp or its end time, the later) lies beyond
    /// the check by more than the late bound, if it does.
    pub(super) fn ahead_of_the_check(&self, latest: Option<i64>) -> Option<String> {
        let latest = latest.filter(|t| *t > self.now_s + self.options.late_after_s)?;
        Some(format!(
            "it ends at {}, {} s after the check",
            jiff::Timestamp::from_second(latest).map_or(latest.to_string(), |t| t.to_string()),
            latest - self.now_s
        ))
    }

    /// The digest's fields, if nothing about it alone is wrong: it could be read, it is a
    /// digest, written where it says, and signed where the store keeps signatures; else the
    /// finding.
    pub(super) fn on_its_own(&self, cur: &mut Loaded) -> Result<DigestFile, (FindingKind, String)> {
        if let Some(detail) = cur.unreadable.take() {
            return Err((FindingKind::ObjectUnreadable, detail));
        }
        let file = std::mem::replace(&mut cur.file, Err(String::new()))
            .map_err(|detail| (FindingKind::DigestAltered, detail))?;
        if let Some(detail) = self.misplaced(&file, &cur.key) {
            return Err((FindingKind::DigestAltered, detail));
        }
        if self.keeps_signatures() && cur.signature.is_none() {
            let detail = "no signature in its object metadata (x-amz-meta-signature): CloudTrail always stores one";
            return Err((FindingKind::DigestSignatureMissing, detail.to_owned()));
        }
        Ok(file)
    }

    /// Whether the trail's store keeps a digest's signature with it (S3 object metadata):
    /// then a digest without one is a finding, and the successor's record does not stand in.
    pub(super) fn keeps_signatures(&self) -> bool {
        matches!(self.evidence.trail, Store::S3(_))
    }

    /// Why a digest is not where it says it was written, if it is not.
    pub(super) fn misplaced(&self, file: &DigestFile, key: &str) -> Option<String> {
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

    /// Whether a digest's own signature (when it has one) fails; the verdict is kept for when
    /// the digest itself is finished.
    pub(super) fn own_fails(&self, chain: &Chain, digest: &mut Loaded) -> Result<bool, PortError> {
        let (Ok(file), Some(signature)) = (&digest.file, digest.signature.as_deref()) else {
            // On S3 a digest without its own signature vouches for nothing.
            return Ok(self.keeps_signatures() || digest.file.is_err());
        };
        let verdict = self.verdict(chain, file, Some(signature))?;
        let fails = matches!(verdict, Verdict::Failed(..));
        digest.own_verdict = Some(verdict);
        Ok(fails)
    }

    pub(super) fn verdict(
        &self,
        chain: &Chain,
        file: &DigestFile,
        signature: Option<&str>,
    ) -> Result<Verdict, PortError> {
        let Some(signature) = signature else {
            return Ok(Verdict::Unverified);
        };
        let fingerprint = &file.body.digest_public_key_fingerprint;
        let keys = self.evidence.keys;
        let Some(public_key) = keys.find(&chain.region, fingerprint, file.end_s)? else {
            let detail = format!("no public key has fingerprint {fingerprint}");
            return Ok(Verdict::Failed(FindingKind::PublicKeyUnknown, detail));
        };
        let verified = hex::decode(signature.trim())
            .is_ok_and(|s| public_key.verifies(file.signing_string().as_bytes(), &s));
        Ok(if verified {
            Verdict::Verified
        } else {
            let detail = format!("the signature does not verify with key {fingerprint}");
            Verdict::Failed(FindingKind::DigestSignatureInvalid, detail)
        })
    }

    /// The link from `file` to the digest before it: absent from the chain, or (when that
    /// digest was checked in an earlier run) altered since.
    pub(super) fn check_backward_link(
        &mut self,
        chain: &Chain,
        file: &DigestFile,
        key: &str,
        last: &Option<Link>,
        out: &mut dyn FnMut(Finding),
    ) {
        let (Some(previous), Some(last)) = (&file.body.previous_digest_s3_object, last) else {
            return;
        };
        if *previous != last.key {
            // Digests between the last one checked and the walk's start were not read.
            if self.walked_from_s.is_some_and(|from| last.end_s < from) {
                return;
            }
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
            .is_some_and(|h| same_hex(h, &last.sha256));
        if !last.altered && !hash_ok {
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
}
