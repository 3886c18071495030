//! Receipts: what the forwarder writes once a log file is wholly forwarded, and what
//! validation compares with the digests.
//!
//! A receipt is a small JSON object at `PREFIX/_receipts/KEY.receipt.json` in the archive
//! bucket (`KEY` the log file's key): a name Athena's archive table never reads (its partitions
//! are `org=` folders) and that validation finds from the key a digest lists, without a listing.

use serde::{Deserialize, Serialize};

use crate::ports::{ArchiveSink, ObjectRef, PortError, Store, Version};

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

/// Where the pipeline leaves receipts.
pub trait ReceiptSink: Sync + std::fmt::Debug {
    /// Writes `receipt`, replacing an earlier one of the same file.
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
        let key = receipt_key(&self.prefix, &receipt.key);
        super::put_json(self.sink, &key, receipt, ("receipt", "receipt-write"))
    }
}
