//! One digest file: its fields, its hash and the string CloudTrail signed.
//!
//! A digest is read from its exact decompressed bytes: they are what CloudTrail hashed (and
//! what the next digest's `previousDigestHashValue` names), and real digests escape `/` as
//! `\/`, so no re-serialisation could reproduce them. The fields are the JSON's, unescaped.
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html>)

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The one signature algorithm digests use.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// The one hash algorithm digests name.
pub const HASH_ALGORITHM: &str = "SHA-256";

/// A digest file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFile {
    /// The fields.
    pub body: DigestBody,
    /// SHA-256 of the decompressed bytes.
    pub sha256: [u8; 32],
    /// `digestEndTime`, in seconds since the Unix epoch.
    pub end_s: i64,
}

/// The fields of a digest that validation reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestBody {
    /// The account the digest is for.
    pub aws_account_id: String,
    /// End of the delivery window covered, as written (it is part of the signed string).
    pub digest_end_time: String,
    /// Where the digest was written: bucket.
    pub digest_s3_bucket: String,
    /// Where the digest was written: key.
    pub digest_s3_object: String,
    /// Hex fingerprint of the public key that verifies the signature.
    pub digest_public_key_fingerprint: String,
    /// `SHA256withRSA`.
    #[serde(default)]
    pub digest_signature_algorithm: Option<String>,
    /// The previous digest's key; `None` in a starting digest.
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest's decompressed bytes.
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    /// The previous digest's hex signature.
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    /// The log files delivered in the window.
    #[serde(default)]
    pub log_files: Vec<LogFileEntry>,
}

/// A log file a digest lists.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    /// Its bucket.
    pub s3_bucket: String,
    /// Its key.
    pub s3_object: String,
    /// Hex SHA-256 of its decompressed bytes.
    pub hash_value: String,
}

impl DigestFile {
    /// Parses the decompressed bytes of a digest file.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        Self::parse_hashed(bytes, Sha256::digest(bytes).into())
    }

    /// Parses the decompressed bytes of a digest file whose SHA-256 is already known (it was
    /// hashed as it was read).
    pub fn parse_hashed(bytes: &[u8], sha256: [u8; 32]) -> Result<Self, String> {
        let body: DigestBody =
            serde_json::from_slice(bytes).map_err(|e| format!("not a digest file: {e}"))?;
        let end_s = body
            .digest_end_time
            .parse::<jiff::Timestamp>()
            .map_err(|e| format!("digestEndTime {:?}: {e}", body.digest_end_time))?
            .as_second();
        if let Some(algorithm) = &body.digest_signature_algorithm
            && algorithm != SIGNATURE_ALGORITHM
        {
            return Err(format!("unknown digestSignatureAlgorithm {algorithm:?}"));
        }
        Ok(Self {
            body,
            sha256,
            end_s,
        })
    }

    /// The string CloudTrail signed, its lines joined by `\n` with none after the last:
    /// the end time, `bucket/key`, the hex SHA-256 of the decompressed digest and the previous
    /// digest's signature (`null` in a starting digest, as CloudTrail's own validator has it).
    /// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html>)
    pub fn signing_string(&self) -> String {
        let b = &self.body;
        format!(
            "{}\n{}/{}\n{}\n{}",
            b.digest_end_time,
            b.digest_s3_bucket,
            b.digest_s3_object,
            hex::encode(self.sha256),
            b.previous_digest_signature.as_deref().unwrap_or("null"),
        )
    }

    /// Whether it starts a chain: validation was (re)started, no previous digest is named.
    pub fn is_starting(&self) -> bool {
        self.body.previous_digest_s3_object.is_none()
    }
}

/// A hex SHA-256 (either case, blanks around it ignored), decoded.
pub fn hash_of(hex: &str) -> Option<[u8; 32]> {
    let mut decoded = [0u8; 32];
    hex::decode_to_slice(hex.trim(), &mut decoded).ok()?;
    Some(decoded)
}

/// Whether the hex SHA-256 `hex` is `sha256`.
pub fn same_hash(hex: &str, sha256: &[u8; 32]) -> bool {
    hash_of(hex).is_some_and(|h| h == *sha256)
}

/// Whether two hex SHA-256 values are the same hash.
pub fn same_hex(a: &str, b: &str) -> bool {
    hash_of(b).is_some_and(|b| same_hash(a, &b))
}
