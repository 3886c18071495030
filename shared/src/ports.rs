//! The seams between the pipeline and the world: where objects come from, where log events and
//! archive objects go, and what time it is.
//!
//! The traits are synchronous: decoding, normalising and compressing are CPU work on a byte
//! stream, and one synchronous pipeline serves the local CLI and the Lambda functions alike.
//! Adapters over async clients run the pipeline on a blocking thread and bridge each call.
//! [`crate::local`] implements every port on the file system.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::batch::LogBatch;
use crate::key::{ObjectKind, TrailKey};

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Store {
    /// An S3 bucket, by name.
    S3(String),
    /// A local folder standing for a bucket; empty for files given by their own path.
    Local(PathBuf),
}

/// An object to forward.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Where it lives.
    pub store: Store,
    /// The decoded object key, or the path under the local folder (with `/` separators).
    pub key: String,
    /// Size in bytes, when known beforehand.
    pub size: Option<u64>,
    /// The version that must be read, when an earlier attempt read part of it: opening fails
    /// with cause `object-changed` if the object no longer has it.
    pub version: Option<Version>,
}

/// Which bytes an object held when it was read: S3's ETag and, in a versioned bucket, its
/// version id. Local files have neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The entity tag, quotes included, as S3 returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The version id, in a bucket with versioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl Version {
    /// Whether nothing identifies the bytes.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.version_id.is_none()
    }
}

/// An opened object: its byte stream and the version being read.
#[derive(Debug)]
pub struct Opened<R> {
    /// The bytes.
    pub reader: R,
    /// What identifies them.
    pub version: Version,
    /// A digest file's hex signature, where the store keeps it: S3 object metadata
    /// `x-amz-meta-signature`; locally a sidecar file `NAME.signature`.
    pub signature: Option<String>,
}

impl<R> Opened<R> {
    /// The same object, its reader wrapped by `f`.
    pub fn map<T>(self, f: impl FnOnce(R) -> T) -> Opened<T> {
        Opened {
            reader: f(self.reader),
            version: self.version,
            signature: self.signature,
        }
    }
}

impl ObjectRef {
    /// An object by store and key, with nothing else known.
    pub fn new(store: Store, key: impl Into<String>) -> Self {
        Self {
            store,
            key: key.into(),
            size: None,
            version: None,
        }
    }

    /// What the object is, read from its key ([`TrailKey::parse`]). A local file whose path has
    /// no `AWSLogs/` folder (a flat copy) is read by its name ([`TrailKey::from_file_name`]):
    /// on S3 only the place a key names counts.
    pub fn trail_key(&self) -> TrailKey {
        let parsed = TrailKey::parse(&self.key);
        let flat_local = matches!(self.store, Store::Local(_))
            && parsed.kind == ObjectKind::Other
            && !self.key.starts_with("AWSLogs/")
            && !self.key.contains("/AWSLogs/");
        match flat_local {
            true => TrailKey::from_file_name(&parsed.file_name).unwrap_or(parsed),
            false => parsed,
        }
    }

    /// The bucket name, or the local folder as text: the archive's `source.bucket`.
    pub fn bucket(&self) -> Cow<'_, str> {
        match &self.store {
            Store::S3(bucket) => Cow::Borrowed(bucket),
            Store::Local(root) => root.to_string_lossy(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `s3://bucket/key`, or the local path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.store {
            Store::S3(bucket) => write!(f, "s3://{bucket}/{}", self.key),
            Store::Local(root) => write!(f, "{}", root.join(&self.key).display()),
        }
    }
}

/// What to do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// Transient (throttling, 5xx, timeouts, network): the same work may succeed later.
    Retry,
    /// A property of the input (corrupt, oversized, refused): retrying gives the same result.
    Poison,
}

impl ErrorClass {
    /// `retry` or `poison`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Poison => "poison",
        }
    }
}

/// A failure of an adapter, classified by the adapter, which knows its service's errors.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct PortError {
    /// Retry or poison.
    pub class: ErrorClass,
    /// A short, stable name for the cause (`not-found`, `throttled`, `io`, ...).
    pub cause: &'static str,
    /// The underlying error.
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
    /// The service's own error code (`NoSuchBucket`, `QueueDoesNotExist`, ...), when a
    /// service answered.
    pub service_code: Option<String>,
}

impl PortError {
    /// A failure of class `class` with cause `cause`.
    pub fn new(
        class: ErrorClass,
        cause: &'static str,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            class,
            cause,
            source: source.into(),
            service_code: None,
        }
    }

    /// The same failure, with the service's error code.
    pub fn with_service_code(mut self, code: Option<&str>) -> Self {
        self.service_code = code.map(str::to_owned);
        self
    }

    /// Whether every other object of a run would fail the same way: the caller's credentials
    /// or configuration were refused, or the bucket or queue named does not exist. Such a
    /// failure is the run's, not the object's.
    pub fn is_run_wide(&self) -> bool {
        self.cause == NO_CREDENTIALS
            || self
                .service_code
                .as_deref()
                .is_some_and(|code| RUN_WIDE_CODES.contains(&code))
    }

    /// Whether a write (a send, a put) failing so stops a run: it is run-wide, or the caller
    /// may not write there, which every later write would meet too.
    pub fn stops_writes(&self) -> bool {
        self.is_run_wide() || self.cause == ACCESS_DENIED
    }
}

/// The cause of a call made without credentials: configuration, not the input.
pub const NO_CREDENTIALS: &str = "no-credentials";

/// Error codes that concern the caller or a whole bucket or queue, whatever object is at hand
/// (S3, SQS, CloudWatch Logs and STS error codes).
const RUN_WIDE_CODES: &[&str] = &[
    "NoSuchBucket",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthorizationHeaderMalformed",
    "PermanentRedirect",
];

/// The cause of a read refused because the object is no longer the version asked for.
pub const OBJECT_CHANGED: &str = "object-changed";
/// The cause of an object that does not exist (poison).
pub const NOT_FOUND: &str = "not-found";
/// The cause of a request refused for its permissions (poison).
pub const ACCESS_DENIED: &str = "access-denied";

/// Where objects are read from.
pub trait ObjectSource: Sync {
    /// The object's byte stream (read on another thread when the pipeline has a CPU to spare).
    type Reader: Read + Send;

    /// Opens `object` for streaming. Implementations never read it whole. When
    /// `object.version` is set, an object that no longer has that version fails with cause
    /// [`OBJECT_CHANGED`] (poison).
    fn open(&self, object: &ObjectRef) -> Result<Opened<Self::Reader>, PortError>;

    /// Opens `object`, or `None` when it does not exist ([`NOT_FOUND`]). A store that answers
    /// "access denied" for a key that does not exist (S3, to a reader its policy lets list the
    /// key's prefix only) is asked whether the key exists: a missing object is `None` there
    /// too.
    fn open_existing(&self, object: &ObjectRef) -> Result<Option<Opened<Self::Reader>>, PortError> {
        match self.open(object) {
            Ok(opened) => Ok(Some(opened)),
            Err(e) if e.cause == NOT_FOUND => Ok(None),
            Err(e) if e.cause == ACCESS_DENIED && self.is_absent(object)? => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `object` is known not to exist (by a listing of its exact key); `false` where the
    /// store cannot tell.
    fn is_absent(&self, _object: &ObjectRef) -> Result<bool, PortError> {
        Ok(false)
    }
}

/// What a sink did with a batch whose call succeeded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutReport {
    /// Events the service refused one by one (too old, too new, older than retention). They
    /// are kept in the archive and counted, never resent.
    pub rejected: u64,
}

/// Where log events go: one call per batch, each batch already within every service limit.
pub trait LogSink: Sync {
    /// Delivers `batch`. `Ok` means every event not counted in the report was accepted.
    fn put(&self, batch: &LogBatch) -> Result<PutReport, PortError>;
}

/// One archive object being written. Dropping it without [`ArchiveUpload::commit`] abandons it:
/// no partial object is ever visible under the key.
pub trait ArchiveUpload: Write {
    /// Makes the object visible under its key, replacing any earlier one.
    fn commit(self) -> Result<(), PortError>;
}

/// Where archive objects go.
pub trait ArchiveSink: Sync {
    /// The writer of one object (fed from another thread when the pipeline has a CPU to spare).
    type Upload: ArchiveUpload + Send;

    /// Starts the object at `key`.
    fn begin(&self, key: &str) -> Result<Self::Upload, PortError>;

    /// Writes `bytes` at `key` only if no object is there: `Ok(false)` when one is, which is
    /// then left as it was. Atomic: of two writers, one creates and the other is told.
    fn create(&self, key: &str, bytes: &[u8]) -> Result<bool, PortError>;
}

/// The time, injected so that pure logic never reads a clock.
pub trait Clock: Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn epoch_ms(time: SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A message to send to an SQS queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The queue, by ARN (as Lambda's `eventSourceARN` names it) or by URL.
    pub queue: QueueRef,
    /// The body.
    pub body: String,
    /// Seconds before the message becomes visible, at most [`MAX_DELAY_SECONDS`].
    pub delay_seconds: u32,
    /// String message attributes, at most ten.
    pub attributes: Vec<(Cow<'static, str>, String)>,
}

/// A queue, by ARN or URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueueRef {
    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    Arn(String),
    /// The queue's URL.
    Url(String),
}

impl fmt::Display for QueueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Arn(s) | Self::Url(s) => f.write_str(s),
        }
    }
}

/// Where the forwarder sends messages: continuations to the queue a message came from, poison
/// to the dead-letter queue. The one way work is enqueued.
pub trait Queue: Send + Sync {
    /// Sends `message`; `Ok` once the queue has it.
    fn send(
        &self,
        message: &Outgoing,
    ) -> impl std::future::Future<Output = Result<(), PortError>> + Send;

    /// Sends up to [`MAX_BATCH_MESSAGES`] messages for one queue in one call: one result per
    /// message, in order, so that a caller retries exactly the ones that failed.
    fn send_batch(
        &self,
        messages: &[Outgoing],
    ) -> impl std::future::Future<Output = Vec<Result<(), PortError>>> + Send;

    /// Makes a later send to `queue` one call: an address to look up is looked up now.
    fn prepare(
        &self,
        _queue: &QueueRef,
    ) -> impl std::future::Future<Output = Result<(), PortError>> + Send {
        async { Ok(()) }
    }

    /// Messages of `queue` not yet done with: waiting, in flight or delayed (approximate).
    fn pending(
        &self,
        _queue: &QueueRef,
    ) -> impl std::future::Future<Output = Result<u64, PortError>> + Send {
        async { Ok(0) }
    }
}

/// The longest one call of a port takes, retries included: the AWS ports set it as the SDK's
/// operation timeout
/// (<https://docs.aws.amazon.com/sdk-for-rust/latest/dg/timeouts.html>).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The time an invocation keeps to hand its answer to the runtime once its last send is done.
pub const ANSWER_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// The grace a forwarder invocation keeps before its deadline, derived from [`CALL_TIMEOUT`]:
/// a call in flight when work stops ends within one, the continuation's send within another,
/// then the answer goes out ([`ANSWER_TIME`]).
pub const DEADLINE_GRACE: std::time::Duration =
    std::time::Duration::from_secs(2 * CALL_TIMEOUT.as_secs() + ANSWER_TIME.as_secs());

/// The longest delay SQS allows on a message
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>).
pub const MAX_DELAY_SECONDS: u32 = 900;

/// Most messages one SendMessageBatch call carries
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>).
pub const MAX_BATCH_MESSAGES: usize = 10;

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedObject {
    /// The key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The entity tag, quotes included, as S3 lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// What one prefix holds: its objects and, when listed with a delimiter, the next level's
/// common prefixes (each ending with `/`). Both in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Objects directly under the prefix (every object under it, without a delimiter).
    pub objects: Vec<ListedObject>,
    /// Common prefixes, with a delimiter.
    pub prefixes: Vec<String>,
}

/// Where keys are listed: ListObjectsV2 on S3.
pub trait Lister: Send + Sync {
    /// Every object and common prefix under `prefix` in `bucket`, every page; with `delimited`
    /// the listing stops at the next `/`.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimited: bool,
    ) -> impl std::future::Future<Output = Result<Listing, PortError>> + Send;
}

/// At most `max` bytes of `reader`: small objects (digests, receipts, keys, the checkpoint).
pub(crate) fn read_bounded(reader: impl Read, max: u64) -> Result<Vec<u8>, PortError> {
    let mut bytes = Vec::new();
    reader
        .take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| PortError::new(ErrorClass::Retry, "io", e))?;
    Ok(bytes)
}

/// Writes `value` as the JSON object `key` of `sink` (a receipt, the checkpoint); `what` names
/// it in the causes of failures.
pub(crate) fn put_json(
    sink: &impl ArchiveSink,
    key: &str,
    value: &impl Serialize,
    (what, writing): (&'static str, &'static str),
) -> Result<(), PortError> {
    let json =
        serde_json::to_vec(value).map_err(|e| PortError::new(ErrorClass::Poison, what, e))?;
    put_bytes(sink, key, &json, writing)
}

/// Writes `bytes` as the object at `key` of `sink`, replacing any; `writing` names a failed
/// write.
pub(crate) fn put_bytes(
    sink: &impl ArchiveSink,
    key: &str,
    bytes: &[u8],
    writing: &'static str,
) -> Result<(), PortError> {
    let mut upload = sink.begin(key)?;
    upload
        .write_all(bytes)
        .map_err(|e| PortError::new(ErrorClass::Retry, writing, e))?;
    upload.commit()
}
