//! The demo trail's digest files: hourly per account and region, chained and signed as
//! CloudTrail signs them, with a key pair made for the demo (never a secret: it is in the
//! source). Each digest's signature goes to a sidecar file `NAME.signature`, the local stand-in
//! for the S3 metadata CloudTrail writes it to.

use std::fs;
use std::io;
use std::path::Path;

use serde_json::{Value, json};

use super::{DemoSpec, relative, rfc3339, stamp_seconds, trail_dir, write_gz};
use crate::integrity::digest::{DigestFile, HASH_ALGORITHM, SIGNATURE_ALGORITHM};
use crate::integrity::keys::PublicKey;
use crate::integrity::keys::signer::Signer;
use crate::local::SIGNATURE_SIDECAR_SUFFIX;

/// The demo's key pair (PKCS#8 DER), made for the demo with `openssl genrsa 2048`.
const DEMO_SIGNING_KEY: &[u8] = include_bytes!("demo-signing-key.pk8");

/// A log file delivered to the demo trail.
#[derive(Debug, Clone)]
pub(super) struct Delivered {
    /// Its key.
    pub(super) key: String,
    /// SHA-256 of its decompressed bytes.
    pub(super) sha256: [u8; 32],
    /// Its delivery time (the stamp in its name).
    pub(super) at_s: i64,
}

/// The public key that verifies the demo's digests.
pub fn demo_public_key() -> io::Result<PublicKey> {
    Ok(signer()?.public_key())
}

pub(crate) fn signer() -> io::Result<Signer> {
    Signer::from_pkcs8(DEMO_SIGNING_KEY).map_err(io::Error::other)
}

/// Writes the chain of one account and region: one digest per hour from the spec's start, as
/// many as its `digest_hours`, each listing the files delivered in its hour. Returns the digests
/// written and their bytes.
pub(super) fn write_chain(
    root: &Path,
    account: &str,
    region: &str,
    spec: &DemoSpec,
    files: &[Delivered],
    signer: &Signer,
) -> io::Result<(usize, u64)> {
    let (start_s, hours) = (spec.start_s, spec.digest_hours);
    let fingerprint = signer.public_key().fingerprint;
    let mut previous: Option<(String, String, String)> = None;
    let mut bytes = 0;
    for hour in 0..hours as i64 {
        let end_s = start_s + 3600 * (hour + 1);
        let listed: Vec<&Delivered> = files
            .iter()
            .filter(|f| f.at_s >= end_s - 3600 && f.at_s < end_s)
            .collect();
        let dir = trail_dir(root, account, "CloudTrail-Digest", region, end_s);
        let name = format!(
            "{account}_CloudTrail-Digest_{region}_org-trail_us-east-1_{}.json.gz",
            stamp_seconds(end_s)
        );
        let key = format!("{}/{name}", relative(root, &dir)?);
        let body = digest_body(
            spec.bucket,
            account,
            &key,
            &fingerprint,
            end_s,
            &listed,
            previous.as_ref(),
        );
        let json = serde_json::to_vec(&body)?;
        let (written, sha256) = write_gz(&dir.join(&name), &json)?;
        bytes += written;
        let file = DigestFile::parse_hashed(&json, sha256).map_err(io::Error::other)?;
        let signature = signer
            .sign_hex(file.signing_string().as_bytes())
            .map_err(io::Error::other)?;
        fs::write(
            dir.join(format!("{name}{SIGNATURE_SIDECAR_SUFFIX}")),
            &signature,
        )?;
        previous = Some((key, hex::encode(file.sha256), signature));
    }
    Ok((hours, bytes))
}

fn digest_body(
    bucket: &str,
    account: &str,
    key: &str,
    fingerprint: &str,
    end_s: i64,
    listed: &[&Delivered],
    previous: Option<&(String, String, String)>,
) -> Value {
    let log_files: Vec<Value> = listed
        .iter()
        .map(|f| {
            json!({"s3Bucket": bucket, "s3Object": f.key, "hashValue": hex::encode(f.sha256),
                   "hashAlgorithm": HASH_ALGORITHM})
        })
        .collect();
    let (prev_key, prev_hash, prev_signature) = match previous {
        Some((k, h, s)) => (json!(k), json!(h), json!(s)),
        None => (Value::Null, Value::Null, Value::Null),
    };
    json!({
        "awsAccountId": account,
        "digestStartTime": rfc3339(end_s - 3600),
        "digestEndTime": rfc3339(end_s),
        "digestS3Bucket": bucket,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": fingerprint,
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "previousDigestS3Bucket": if previous.is_some() { json!(bucket) } else { Value::Null },
        "previousDigestS3Object": prev_key,
        "previousDigestHashValue": prev_hash,
        "previousDigestHashAlgorithm": if previous.is_some() { json!(HASH_ALGORITHM) } else { Value::Null },
        "previousDigestSignature": prev_signature,
        "logFiles": log_files,
    })
}
