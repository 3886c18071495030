//! SQS message bodies to the objects they announce.
//!
//! One queue may be fed by several routes, so the shape is detected from the body, never
//! configured ("What the Lambda function receives", cloudtrail-format notes):
//!
//! | route | body | keys |
//! |---|---|---|
//! | S3 → SQS, S3 → SNS (raw) → SQS | S3 event notification, `{"Records":[{"eventSource":"aws:s3",...}]}`, event version 2.x | form-encoded |
//! | S3 → SNS → SQS | SNS envelope, `Type: Notification`, `Message` = the S3 notification as a string | form-encoded |
//! | S3 → EventBridge → SQS | `{"source":"aws.s3","detail-type":"Object Created","detail":{...}}` | plain |
//! | CloudTrail → SNS → SQS | SNS envelope (or raw) of `{"s3Bucket":...,"s3ObjectKey":[...]}` | plain |
//!
//! S3's `s3:TestEvent` (sent when a notification is configured), CloudTrail's SNS validation
//! message and events that are not creations (deletions, restores) are acknowledged: they
//! announce nothing to forward. Anything else is an error, a poison message for the DLQ. S3
//! event notification format:
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>;
//! EventBridge: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html>;
//! SNS to SQS: <https://docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html>;
//! CloudTrail SNS: <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/configure-sns-notifications-for-cloudtrail.html>.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::key::{KeyDecodeError, form_decode};
use crate::pipeline::Progress;
use crate::ports::Version;

/// The `userIdentity.principalId` of a replayed notification: S3 puts the requester there, a
/// replay puts this, so the forwarder counts replays apart.
pub const REPLAY_PRINCIPAL: &str = "trailrelay-replay";

/// The text CloudTrail publishes to an SNS topic to check that it may.
pub const CLOUDTRAIL_VALIDATION_MESSAGE: &str = "CloudTrail validation message.";

/// An object a notification announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announced {
    /// Bucket name.
    pub bucket: String,
    /// Object key, decoded.
    pub key: String,
    /// Size in bytes, when the notification says.
    pub size: Option<u64>,
    /// S3's sequencer, when the notification says (orders events for one key).
    pub sequencer: Option<String>,
    /// The version that must be read: the one an S3 or EventBridge notification announces
    /// (its ETag and version id), or in a continuation the one an earlier attempt read. A
    /// replaced object is refused as `object-changed`, never forwarded as the replacement.
    pub version: Option<Version>,
    /// In a continuation: the events earlier attempts had accepted.
    pub progress: Progress,
    /// In a continuation: the clock reading the first attempt judged event times by.
    pub clock_ms: Option<i64>,
    /// Announced by a replay ([`crate::replay`]), not by S3.
    pub replay: bool,
}

impl Announced {
    /// An object by bucket and key, with nothing else known.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            ..Self::default()
        }
    }
}

/// The value of [`Continuation::trailrelay`].
pub const CONTINUATION: &str = "continuation";
/// The version of the continuation shape this forwarder writes and reads.
pub const CONTINUATION_FORMAT: u32 = 1;

/// trailrelay's own message: the rest of a message's work, which the forwarder enqueues on the
/// queue the message came from when an object was interrupted after some of its log events were
/// accepted. `{"trailrelay":"continuation","format":1,"attempt":N,"objects":[{"bucket","key",
/// "size","etag","version_id","clock_ms","progress":[{"group","stream","accepted"}]}]}`: the
/// objects still to do, in order, each with the version read, the clock reading event times
/// were judged by, and the events each stream accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// Always [`CONTINUATION`]: what marks the shape.
    pub trailrelay: String,
    /// [`CONTINUATION_FORMAT`].
    pub format: u32,
    /// Continuations so far of the original message (1 for the first).
    pub attempt: u32,
    /// The objects still to forward.
    pub objects: Vec<ContinuedObject>,
    /// The fingerprint of the routing in force when the skip counts were taken
    /// ([`crate::config::Config::routing`]): under another, they count other events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<String>,
}

/// One object of a [`Continuation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuedObject {
    /// Bucket name.
    pub bucket: String,
    /// Object key, not encoded.
    pub key: String,
    /// Size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The version read by the attempt that made progress.
    #[serde(flatten)]
    pub version: Version,
    /// Events accepted per log stream.
    #[serde(default, skip_serializing_if = "Progress::is_empty")]
    pub progress: Progress,
    /// The clock reading (ms since the Unix epoch) the attempt that made progress judged event
    /// times by: every attempt admits the same events to CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_ms: Option<i64>,
    /// The object was announced by a replay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
}

impl Continuation {
    /// A continuation of `objects`, the `attempt`-th.
    pub fn new(attempt: u32, objects: Vec<ContinuedObject>) -> Self {
        Self {
            trailrelay: CONTINUATION.into(),
            format: CONTINUATION_FORMAT,
            attempt,
            objects,
            routing: None,
        }
    }
}

/// Why a message announces nothing to forward, yet is not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acknowledged {
    /// S3's `s3:TestEvent`.
    S3TestEvent,
    /// CloudTrail's SNS validation message.
    CloudTrailValidation,
    /// Events other than object creation (deletions, restores, ...).
    NotCreation,
}

impl Acknowledged {
    /// A short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3TestEvent => "s3-test-event",
            Self::CloudTrailValidation => "cloudtrail-validation",
            Self::NotCreation => "not-a-creation",
        }
    }
}

/// What a message body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Objects to forward (at least one).
    Objects(Vec<Announced>),
    /// The rest of an earlier message's objects, the `attempt`-th continuation.
    Continuation {
        /// How many continuations led here.
        attempt: u32,
        /// The objects, with their versions and progress.
        objects: Vec<Announced>,
        /// The routing fingerprint its progress was counted under, when it says.
        routing: Option<String>,
    },
    /// Nothing to forward.
    Acknowledged(Acknowledged),
}

/// A body that is not a notification this forwarder knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Not JSON (and not CloudTrail's validation text).
    #[error("the message body is not JSON: {0:.80}")]
    NotJson(String),
    /// JSON of an unknown shape.
    #[error("unrecognised message: {0}")]
    UnknownShape(&'static str),
    /// An S3 event notification of another major version.
    #[error("S3 event notification version {0} is not supported (2.x is)")]
    UnsupportedVersion(String),
    /// A key that does not decode.
    #[error(transparent)]
    Key(#[from] KeyDecodeError),
    /// An SNS subscription confirmation: the subscription must be confirmed by its owner.
    #[error(
        "SNS subscription confirmation for {0}: confirm the subscription; it is not confirmed automatically"
    )]
    SubscriptionConfirmation(String),
    /// An object in a bucket not on the allow-list.
    #[error("s3://{bucket}/{key} is in a bucket that is not allowed")]
    BucketNotAllowed {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// A continuation that none of the stack's roles sent: its skip counts would hide events.
    #[error(
        "a continuation sent by {sender:?}, which is none of the roles allowed to continue work; none of its skip counts is applied"
    )]
    ForgedContinuation {
        /// The message's `SenderId`, empty when it had none.
        sender: String,
    },
}

impl NotificationError {
    /// A short, stable name for the cause.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not-json-message",
            Self::UnknownShape(_) => "unknown-message",
            Self::UnsupportedVersion(_) => "unsupported-version",
            Self::Key(_) => "bad-key",
            Self::SubscriptionConfirmation(_) => "sns-subscription-confirmation",
            Self::BucketNotAllowed { .. } => "bucket-not-allowed",
            Self::ForgedContinuation { .. } => FORGED_CONTINUATION,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct S3Event {
    #[serde(rename = "Records")]
    records: Vec<S3Record>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct S3Record {
    #[serde(rename = "eventVersion")]
    event_version: String,
    #[serde(rename = "eventSource")]
    event_source: String,
    #[serde(rename = "eventName")]
    event_name: String,
    #[serde(rename = "userIdentity")]
    user_identity: Option<Value>,
    s3: S3Entity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct S3Entity {
    bucket: Named,
    object: S3Object,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct S3Object {
    key: String,
    /// Any JSON: documentation templates put descriptions here.
    size: Option<Value>,
    sequencer: Option<Value>,
    /// `eTag` in S3 event notifications, `etag` in EventBridge's.
    #[serde(rename = "eTag", alias = "etag")]
    e_tag: Option<Value>,
    /// `versionId` in S3 event notifications, `version-id` in EventBridge's.
    #[serde(rename = "versionId", alias = "version-id")]
    version_id: Option<Value>,
}

impl S3Object {
    /// The version the notification announces, to read and no other: its ETag (quoted, as
    /// S3 returns it and `If-Match` takes it) and version id. Only values of the shape S3
    /// writes are taken (an ETag of hex digits and `-`; a version id of URL-safe characters):
    /// anything else announces no version.
    fn version(&self) -> Option<Version> {
        fn text(v: &Option<Value>) -> Option<&str> {
            v.as_ref().and_then(Value::as_str).map(str::trim)
        }
        let etag = text(&self.e_tag)
            .map(|t| t.trim_matches('"'))
            .filter(|t| !t.is_empty() && t.len() <= 64)
            .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
            .map(|t| format!("\"{t}\""));
        let version_id = text(&self.version_id)
            .filter(|v| !v.is_empty() && v.len() <= 1024)
            .filter(|v| {
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            })
            .map(str::to_owned);
        let version = Version { etag, version_id };
        (!version.is_empty()).then_some(version)
    }

    fn size(&self) -> Option<u64> {
        self.size.as_ref().and_then(Value::as_u64)
    }

    fn sequencer(&self) -> Option<String> {
        self.sequencer
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EventBridgeDetail {
    bucket: Named,
    object: S3Object,
}

/// Reads a message body.
pub fn parse(body: &str) -> Result<Notification, NotificationError> {
    if body.trim() == CLOUDTRAIL_VALIDATION_MESSAGE {
        return Ok(Notification::Acknowledged(
            Acknowledged::CloudTrailValidation,
        ));
    }
    let value: Value =
        serde_json::from_str(body).map_err(|_| NotificationError::NotJson(body.to_owned()))?;
    parse_value(value, true)
}

fn parse_value(value: Value, may_unwrap_sns: bool) -> Result<Notification, NotificationError> {
    let Value::Object(map) = &value else {
        return Err(NotificationError::UnknownShape(
            "the body is JSON but not an object",
        ));
    };
    if map.get("Records").is_some_and(Value::is_array) {
        return s3_event(value);
    }
    if map.get("trailrelay").and_then(Value::as_str) == Some(CONTINUATION) {
        return continuation(value);
    }
    if map.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Acknowledged(Acknowledged::S3TestEvent));
    }
    if map.get("s3Bucket").is_some() || map.get("s3ObjectKey").is_some() {
        return cloudtrail_sns(map);
    }
    if map.get("source").and_then(Value::as_str) == Some("aws.s3")
        && map.contains_key("detail-type")
    {
        return eventbridge(map);
    }
    match map.get("Type").and_then(Value::as_str) {
        Some("Notification") if may_unwrap_sns => {
            let Some(message) = map.get("Message").and_then(Value::as_str) else {
                return Err(NotificationError::UnknownShape(
                    "an SNS notification without a Message",
                ));
            };
            if message.trim() == CLOUDTRAIL_VALIDATION_MESSAGE {
                return Ok(Notification::Acknowledged(
                    Acknowledged::CloudTrailValidation,
                ));
            }
            let inner: Value = serde_json::from_str(message)
                .map_err(|_| NotificationError::NotJson(message.to_owned()))?;
            parse_value(inner, false)
        }
        Some("SubscriptionConfirmation") => Err(NotificationError::SubscriptionConfirmation(
            map.get("TopicArn")
                .and_then(Value::as_str)
                .unwrap_or("an SNS topic")
                .to_owned(),
        )),
        _ => Err(NotificationError::UnknownShape(
            "not an S3, EventBridge, SNS or CloudTrail notification",
        )),
    }
}

fn s3_event(value: Value) -> Result<Notification, NotificationError> {
    let event: S3Event = serde_json::from_value(value)
        .map_err(|_| NotificationError::UnknownShape("Records of an unexpected shape"))?;
    if event.records.is_empty() {
        return Err(NotificationError::UnknownShape(
            "an S3 event notification without records",
        ));
    }
    let mut objects = Vec::new();
    for r in event.records {
        if r.event_source != "aws:s3" {
            return Err(NotificationError::UnknownShape(
                "Records that are not S3 events",
            ));
        }
        if r.event_version.split('.').next() != Some("2") {
            return Err(NotificationError::UnsupportedVersion(r.event_version));
        }
        // eventName has no "s3:" prefix: ObjectCreated:Put, ObjectCreated:CompleteMultipartUpload...
        if !r.event_name.starts_with("ObjectCreated:") {
            continue;
        }
        let principal = r
            .user_identity
            .as_ref()
            .and_then(|u| u["principalId"].as_str());
        objects.push(Announced {
            size: r.s3.object.size(),
            sequencer: r.s3.object.sequencer(),
            version: r.s3.object.version(),
            replay: principal == Some(REPLAY_PRINCIPAL),
            ..Announced::new(r.s3.bucket.name, form_decode(&r.s3.object.key)?)
        });
    }
    Ok(announced(objects))
}

fn continuation(value: Value) -> Result<Notification, NotificationError> {
    let c: Continuation = serde_json::from_value(value)
        .map_err(|_| NotificationError::UnknownShape("a continuation of an unexpected shape"))?;
    if c.format != CONTINUATION_FORMAT {
        return Err(NotificationError::UnsupportedVersion(format!(
            "continuation format {}",
            c.format
        )));
    }
    if c.objects.is_empty() {
        return Err(NotificationError::UnknownShape(
            "a continuation without objects",
        ));
    }
    let objects = c
        .objects
        .into_iter()
        .map(|o| Announced {
            size: o.size,
            version: (!o.version.is_empty()).then_some(o.version),
            progress: o.progress,
            clock_ms: o.clock_ms,
            replay: o.replay,
            ..Announced::new(o.bucket, o.key)
        })
        .collect();
    Ok(Notification::Continuation {
        attempt: c.attempt,
        objects,
        routing: c.routing,
    })
}

fn eventbridge(map: &serde_json::Map<String, Value>) -> Result<Notification, NotificationError> {
    if map.get("detail-type").and_then(Value::as_str) != Some("Object Created") {
        return Ok(Notification::Acknowledged(Acknowledged::NotCreation));
    }
    let detail: EventBridgeDetail = map
        .get("detail")
        .cloned()
        .and_then(|d| serde_json::from_value(d).ok())
        .ok_or(NotificationError::UnknownShape(
            "an EventBridge event without its detail",
        ))?;
    // EventBridge carries keys as they are, not form-encoded.
    Ok(announced(vec![Announced {
        size: detail.object.size(),
        sequencer: detail.object.sequencer(),
        version: detail.object.version(),
        ..Announced::new(detail.bucket.name, detail.object.key)
    }]))
}

fn cloudtrail_sns(map: &serde_json::Map<String, Value>) -> Result<Notification, NotificationError> {
    let bucket =
        map.get("s3Bucket")
            .and_then(Value::as_str)
            .ok_or(NotificationError::UnknownShape(
                "a CloudTrail notification without s3Bucket",
            ))?;
    let keys =
        map.get("s3ObjectKey")
            .and_then(Value::as_array)
            .ok_or(NotificationError::UnknownShape(
                "a CloudTrail notification without s3ObjectKey",
            ))?;
    let objects = keys
        .iter()
        .map(|k| {
            k.as_str().map(|key| Announced::new(bucket, key)).ok_or(
                NotificationError::UnknownShape("s3ObjectKey holds a non-string"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if objects.is_empty() {
        return Err(NotificationError::UnknownShape(
            "a CloudTrail notification without keys",
        ));
    }
    Ok(Notification::Objects(objects))
}

fn announced(objects: Vec<Announced>) -> Notification {
    if objects.is_empty() {
        Notification::Acknowledged(Acknowledged::NotCreation)
    } else {
        Notification::Objects(objects)
    }
}

/// Refuses any object outside `allowed` buckets: a notification is data anyone allowed to
/// write to the queue (or the topic) controls.
pub fn check_allowed(objects: &[Announced], allowed: &[String]) -> Result<(), NotificationError> {
    match objects.iter().find(|o| !allowed.contains(&o.bucket)) {
        Some(o) => Err(NotificationError::BucketNotAllowed {
            bucket: o.bucket.clone(),
            key: o.key.clone(),
        }),
        None => Ok(()),
    }
}

/// The cause of a continuation no role allowed to continue work sent.
pub const FORGED_CONTINUATION: &str = "forged-continuation";

/// Whether a message sent by `sender` (its `SenderId` attribute: a role's unique id, then
/// `:` and the session name, for a role's session) may carry a continuation: `allowed` (role
/// unique ids) unset allows every sender, else its role must be one of them.
pub fn check_sender(
    sender: Option<&str>,
    allowed: Option<&[String]>,
) -> Result<(), NotificationError> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    let sender = sender.unwrap_or_default();
    let role = sender.split(':').next().unwrap_or_default();
    if !role.is_empty() && allowed.iter().any(|id| id == role) {
        return Ok(());
    }
    Err(NotificationError::ForgedContinuation {
        sender: sender.to_owned(),
    })
}

#[cfg(test)]
mod tests;
