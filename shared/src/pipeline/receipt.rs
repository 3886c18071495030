//! Receipts: what the forwarder writes once a log file is wholly forwarded, and what
//! validation compares with the digests.
//!
//! A receipt is a small JSON object at `PREFIX/_receipts/KEY.receipt.json` in the archive
//! bucket (`KEY` the log file's key): a name Athena's archive table never reads (its partitions
//! are `org=` folders) and that validation finds from the key a digest lists, without a listing.
//!
//! The first receipt of a key is never replaced: one for other bytes under the same key (a
//! replaced log file, forwarded again) goes beside it, at `KEY.SHA256.receipt.json` (the hex
//! SHA-256 of the bytes it covers), where validation finds it from the hash a digest lists or
//! the hash of the file it reads.

use serde::{Deserialize, Serialize};

use crate::decode::{self, Hashed};
use crate::ports::{ArchiveSink, ErrorClass, ObjectRef, ObjectSource, PortError, Store, Version};

/// The key a log file's receipt is filed under: its key in its bucket (as digests list it); for
/// a local file given by its own path, its path from its `AWSLogs/` folder, or its name.
pub fn filed_key(object: &ObjectRef) -> &str {
    match &object.store {
        Store::Local(root) if root.as_os_str().is_empty() => {
            let key = object.key.as_str();
            match key.rfind("AWSLogs/") {
                Some(at) if at == 0 || key[..at].ends_with(['/', '\\']) => &key[at..],
                _ => key.rsplit(['/', '\\']).next().unwrap_or(key),
            }
        }
        _ => &object.key,
    }
}

/// The folder of receipts after the archive prefix.
pub const RECEIPTS_FOLDER: &str = "_receipts";
/// What follows a log file's key in its receipt's key.
pub const RECEIPT_SUFFIX: &str = ".receipt.json";

/// A wholly forwarded log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The trail bucket (locally, the folder that stands for it).
    pub bucket: String,
    /// The log file's key in its bucket ([`filed_key`]).
    pub key: String,
    /// The version read.
    #[serde(default, skip_serializing_if = "Version::is_empty")]
    pub version: Version,
    /// Hex SHA-256 of the log file's decompressed bytes, as digests hash it.
    pub sha256: String,
    /// Records read.
    pub records: u64,
    /// Events accepted by CloudWatch Logs.
    pub events_logged: u64,
    /// Events written to the archive.
    pub events_archived: u64,
    /// Events CloudWatch Logs rejected one by one (kept in the archive).
    pub events_rejected: u64,
    /// Records that were not JSON, quarantined.
    pub records_quarantined: u64,
    /// When forwarding ended (RFC 3339).
    pub forwarded_at: String,
}

/// The receipts folder under an archive prefix: `PREFIX/_receipts/`.
pub fn receipts_prefix(archive_prefix: &str) -> String {
    format!("{}{RECEIPTS_FOLDER}/", crate::key::folder(archive_prefix))
}

/// The key of the receipt of log file `key` under `prefix` (a folder, `/`-terminated or empty).
pub fn receipt_key(prefix: &str, key: &str) -> String {
    format!("{prefix}{key}{RECEIPT_SUFFIX}")
}

/// The key of a later receipt of log file `key`, one for the bytes of hex SHA-256 `sha256`,
/// beside the first ([`receipt_key`]); `None` when `sha256` is no SHA-256 (a hash a hostile
/// digest lists names no file).
pub fn receipt_key_beside(prefix: &str, key: &str, sha256: &str) -> Option<String> {
    let is_sha256 = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    is_sha256.then(|| {
        format!(
            "{prefix}{key}.{}{RECEIPT_SUFFIX}",
            sha256.to_ascii_lowercase()
        )
    })
}

/// Whether the receipt filed for `object` in `receipts` (a store and its receipts prefix)
/// covers the very bytes about to be forwarded: the same ETag when the listing gave one (S3),
/// else the same SHA-256 of the decompressed bytes (a local file, read and hashed here, up to
/// `max_bytes`). A missing or unreadable receipt covers nothing.
pub fn forwarded_before<S: ObjectSource>(
    source: &S,
    receipts: (&Store, &str),
    object: &ObjectRef,
    listed_etag: Option<&str>,
    max_bytes: u64,
) -> Result<bool, PortError> {
    let filed = filed_key(object);
    let at = ObjectRef::new(receipts.0.clone(), receipt_key(receipts.1, filed));
    let Some(opened) = source.open_existing(&at)? else {
        return Ok(false);
    };
    let bytes = crate::ports::read_bounded(opened.reader, MAX_RECEIPT_BYTES)?;
    let Ok(receipt) = serde_json::from_slice::<Receipt>(&bytes) else {
        return Ok(false);
    };
    if receipt.key != filed || receipt.bucket != object.bucket() {
        return Ok(false);
    }
    if let Some(etag) = listed_etag {
        return Ok(receipt.version.etag.as_deref() == Some(etag));
    }
    let opened = source.open(object)?;
    match decode::sha256_bounded(opened.reader, max_bytes, &mut || true) {
        Ok(Hashed::Sha256(sha256)) => {
            Ok(hex::encode(sha256) == receipt.sha256.to_ascii_lowercase())
        }
        Err(e) if decode::is_source_error(&e) => Err(PortError::new(ErrorClass::Retry, "read", e)),
        // Too large, or not gzip as it should be: forwarding will say so.
        Ok(Hashed::LargerThan(_)) | Err(_) => Ok(false),
    }
}

/// Most bytes a receipt is read to: a receipt is a few hundred bytes.
const MAX_RECEIPT_BYTES: u64 = 64 * 1024;

/// Where the pipeline leaves receipts.
pub trait ReceiptSink: Sync + std::fmt::Debug {
    /// Writes `receipt`: the file's first, or beside the first (which it never replaces).
    fn put(&self, receipt: &Receipt) -> Result<(), PortError>;
}

/// Receipts written as objects of an archive sink, under a prefix.
#[derive(Clone)]
pub struct ReceiptsIn<'a, A> {
    sink: &'a A,
    prefix: String,
}

impl<'a, A: ArchiveSink> ReceiptsIn<'a, A> {
    /// Receipts as objects of `sink` under `prefix` (a folder, `/`-terminated, or empty).
    pub fn new(sink: &'a A, prefix: impl Into<String>) -> Self {
        Self {
            sink,
            prefix: prefix.into(),
        }
    }
}

impl<A> std::fmt::Debug for ReceiptsIn<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptsIn")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<A: ArchiveSink> ReceiptSink for ReceiptsIn<'_, A> {
    fn put(&self, receipt: &Receipt) -> Result<(), PortError> {
        let json = serde_json::to_vec(receipt)
            .map_err(|e| PortError::new(ErrorClass::Poison, "receipt", e))?;
        if self
            .sink
            .create(&receipt_key(&self.prefix, &receipt.key), &json)?
        {
            return Ok(());
        }
        // The file has a receipt already; this one goes beside it, named by what it covers.
        let beside =
            receipt_key_beside(&self.prefix, &receipt.key, &receipt.sha256).ok_or_else(|| {
                PortError::new(ErrorClass::Poison, "receipt", "no SHA-256 to name it by")
            })?;
        crate::ports::put_bytes(self.sink, &beside, &json, "receipt-write")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fakes::MemorySource;

    const LOG: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/\
                       111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";
    const ETAG: &str = "\"9b2cf535f27731c974343645a3985328\"";

    fn receipt() -> Receipt {
        Receipt {
            bucket: "org-trail".into(),
            key: LOG.into(),
            version: Version {
                etag: Some(ETAG.into()),
                version_id: None,
            },
            sha256: "00".repeat(32),
            records: 1,
            events_logged: 1,
            events_archived: 1,
            events_rejected: 0,
            records_quarantined: 0,
            forwarded_at: "2026-11-01T00:10:00Z".into(),
        }
    }

    /// Whether the receipt stored as `bytes` says the listed version of the log file was
    /// forwarded.
    fn covers(bytes: Vec<u8>) -> bool {
        let prefix = receipts_prefix("cloudtrail");
        let source = MemorySource {
            objects: [(receipt_key(&prefix, LOG), bytes)].into(),
            ..MemorySource::default()
        };
        let receipts = Store::S3("archive".into());
        let log = ObjectRef::new(Store::S3("org-trail".into()), LOG);
        forwarded_before(&source, (&receipts, &prefix), &log, Some(ETAG), 1 << 20).unwrap()
    }

    /// A receipt is read to its bound and no further: one padded past it covers nothing (the
    /// file is forwarded again), where the same receipt unpadded covers the file.
    #[test]
    fn a_receipt_larger_than_the_bound_covers_nothing() {
        let json = serde_json::to_vec(&receipt()).unwrap();
        assert!(covers(json.clone()));
        let mut padded = vec![b' '; usize::try_from(MAX_RECEIPT_BYTES).unwrap()];
        padded.extend(json);
        assert!(!covers(padded));
    }

    /// A receipt of another bucket, another key or another version covers nothing.
    #[test]
    fn a_receipt_of_something_else_covers_nothing() {
        let edits: [fn(&mut Receipt); 3] = [
            |r| r.bucket = "other-trail".into(),
            |r| r.key.push('x'),
            |r| r.version.etag = Some("\"0\"".into()),
        ];
        for edit in edits {
            let mut forged = receipt();
            edit(&mut forged);
            assert!(!covers(serde_json::to_vec(&forged).unwrap()), "{forged:?}");
        }
    }

    /// The first receipt of a key stays; a receipt of other bytes goes beside it, named by
    /// their hash; one of the same bytes again goes beside it too, replacing only its own.
    #[test]
    fn a_receipt_of_other_bytes_goes_beside_the_first() {
        let archive = crate::testing::fakes::MemoryArchive::default();
        let receipts = ReceiptsIn::new(&archive, receipts_prefix("cloudtrail"));
        let first = receipt();
        let mut other = receipt();
        other.sha256 = "AB".repeat(32);
        other.version.etag = Some("\"1\"".into());
        receipts.put(&first).unwrap();
        receipts.put(&other).unwrap();
        receipts.put(&first).unwrap();
        let stored = archive.committed.lock().unwrap().clone();
        let read = |key: &str| serde_json::from_slice::<Receipt>(&stored[key]).unwrap();
        let plain = format!("cloudtrail/_receipts/{LOG}.receipt.json");
        let beside = |sha: &str| format!("cloudtrail/_receipts/{LOG}.{sha}.receipt.json");
        assert_eq!(stored.len(), 3, "{:?}", stored.keys());
        assert_eq!(read(&plain), first, "the first is never replaced");
        assert_eq!(read(&beside(&"ab".repeat(32))), other);
        assert_eq!(read(&beside(&"00".repeat(32))), first);
        assert_eq!(
            receipt_key_beside("p/", LOG, &"AB".repeat(32)),
            Some(format!("p/{LOG}.{}.receipt.json", "ab".repeat(32)))
        );
        // A hash no digest could honestly list names nothing.
        for bad in ["../../x", &"g".repeat(64), &"a".repeat(63), ""] {
            assert_eq!(receipt_key_beside("p/", LOG, bad), None, "{bad}");
        }
    }
}
