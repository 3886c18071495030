//! One CloudTrail record in, one normalised [`Event`] out: who, what, where, when.
//!
//! Field meanings follow the CloudTrail record reference
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>,
//! `userIdentity`: <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html>).
//! Real records are untidy: fields go missing (Insights records have no `userIdentity`, old ones
//! no `eventCategory`), arrive as `null`, or arrive with another type (`readOnly` as the string
//! `"true"`). None of that fails a record: the derived field is `None` (JSON `null` in the
//! archive). Only bytes that are not a JSON object fail, as [`RecordError`].
//!
//! The record is parsed once, borrowing its strings; everything not needed here is skipped.
//! The record itself is never re-serialised: [`write_archive_line`] copies its bytes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::key::{ObjectKind, TrailKey};

/// Where a record came from: the object and what its key says.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// Bucket (or local folder) of the object.
    pub bucket: &'a str,
    /// Key of the object, decoded.
    pub key: &'a str,
    /// The parsed key.
    pub trail_key: &'a TrailKey,
}

/// How the call was made, from the user agent and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The AWS Management Console (or console sign-in).
    Console,
    /// The AWS CLI.
    Cli,
    /// An AWS SDK or a tool built on one.
    Sdk,
    /// An AWS service acting on its own or on a principal's behalf.
    Service,
    /// Anything else.
    Other,
}

/// The identity that made the call (`userIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal<'a> {
    /// `userIdentity.type`: `Root`, `IAMUser`, `AssumedRole`, ... (an open set).
    #[serde(rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// `userIdentity.arn`.
    pub arn: Option<Cow<'a, str>>,
    /// `userIdentity.accountId`: the account that owns the identity.
    pub account_id: Option<Cow<'a, str>>,
    /// `userName`, else the last path segment of the ARN (an assumed role's session name).
    pub name: Option<Cow<'a, str>>,
    /// ARN of the role or user that issued the session (`sessionContext.sessionIssuer.arn`).
    pub session_issuer: Option<Cow<'a, str>>,
    /// Whether MFA was used: `sessionContext.attributes.mfaAuthenticated`, else a console
    /// sign-in's `additionalEventData.MFAUsed`.
    pub mfa: Option<bool>,
    /// `userIdentity.invokedBy`: the service that called on the principal's behalf.
    pub invoked_by: Option<Cow<'a, str>>,
}

/// A record's derived fields. Strings borrow from the record where they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// `eventTime`, parsed.
    pub time: Option<jiff::Timestamp>,
    /// `recipientAccountId`, else the account from the object's key.
    pub account_id: Option<Cow<'a, str>>,
    /// `awsRegion`, else the region from the object's key.
    pub region: Option<Cow<'a, str>>,
    /// `eventCategory`, else derived from `eventType`, `managementEvent` or the object kind.
    pub category: Option<Cow<'a, str>>,
    /// `readOnly` (a boolean, or the strings `"true"`/`"false"`).
    pub read_only: Option<bool>,
    /// `eventSource` (for Insights events, `insightDetails.eventSource`).
    pub service: Option<Cow<'a, str>>,
    /// `eventName` (for Insights events, `insightDetails.eventName`).
    pub action: Option<Cow<'a, str>>,
    /// `errorCode`.
    pub error_code: Option<Cow<'a, str>>,
    /// `userIdentity`, when the record has one.
    pub principal: Option<Principal<'a>>,
    /// `sourceIPAddress`: an address, a service name or `AWS Internal`.
    pub source_ip: Option<Cow<'a, str>>,
    /// `userAgent`.
    pub user_agent: Option<Cow<'a, str>>,
    /// How the call was made; `None` when the record says nothing of it (Insights events).
    pub via: Option<Via>,
    /// `resources[].ARN` (or `ARNPrefix`).
    pub resources: Vec<Cow<'a, str>>,
    /// `eventID`.
    pub event_id: Option<Cow<'a, str>>,
}

impl Event<'_> {
    /// `time` in milliseconds since the Unix epoch: the CloudWatch Logs event timestamp.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.time.map(|t| t.as_millisecond())
    }
}

/// A record that is not a JSON object.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record is not UTF-8.
    #[error("record {index} is not UTF-8 at byte {valid_up_to}")]
    Utf8 {
        /// Zero-based position in `Records`.
        index: u64,
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The record is not valid JSON.
    #[error("record {index} is not valid JSON: {source}")]
    Json {
        /// Zero-based position in `Records`.
        index: u64,
        /// The parser's error, with line and column inside the record.
        #[source]
        source: serde_json::Error,
    },
}

impl RecordError {
    /// A short, stable name for the cause.
    pub fn cause(&self) -> &'static str {
        "invalid-record"
    }
}

/// A record that passed [`parse`]: its text, guaranteed UTF-8 JSON, and its derived fields.
#[derive(Debug, Clone)]
pub struct Normalized<'a> {
    /// The record's compact JSON text, as it goes out.
    pub json: &'a str,
    /// The derived fields.
    pub event: Event<'a>,
}

/// Parses one record (`index` is its position, for errors) and derives its fields.
pub fn parse<'a>(
    json: &'a [u8],
    index: u64,
    origin: &Origin<'_>,
) -> Result<Normalized<'a>, RecordError> {
    let text = std::str::from_utf8(json).map_err(|e| RecordError::Utf8 {
        index,
        valid_up_to: e.valid_up_to(),
    })?;
    // The decoder has checked that the record is an object.
    let raw = serde_json::from_str::<RawRecord<'a>>(text)
        .map_err(|source| RecordError::Json { index, source })?;
    Ok(Normalized {
        json: text,
        event: derive(raw, origin.trail_key),
    })
}

fn derive<'a>(raw: RawRecord<'a>, key: &TrailKey) -> Event<'a> {
    let identity = raw.user_identity.0;
    let insight = raw.insight_details.0.unwrap_or_default();
    let category = raw.event_category.0.or_else(|| {
        let derived = match raw.event_type.0.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("AwsCloudTrailInsight") => Some("Insight"),
            Some(t) if t.eq_ignore_ascii_case("AwsVpceEvent") => Some("NetworkActivity"),
            _ => match raw.management_event.0 {
                Some(true) => Some("Management"),
                Some(false) => Some("Data"),
                None if key.kind == ObjectKind::Insight => Some("Insight"),
                None => None,
            },
        };
        derived.map(Cow::Borrowed)
    });
    let mfa_used = raw
        .additional_event_data
        .0
        .and_then(|d| d.mfa_used.0)
        .and_then(|s| match s.as_ref() {
            "Yes" => Some(true),
            "No" => Some(false),
            _ => None,
        });
    let via = classify_via(
        raw.event_source.0.as_deref(),
        raw.user_agent.0.as_deref(),
        raw.source_ip.0.as_deref(),
        identity.as_ref(),
        raw.session_credential_from_console.0 == Some(true),
    );
    let principal = identity.map(|id| principal(id, mfa_used));
    Event {
        time: raw.event_time.0.as_deref().and_then(parse_time),
        account_id: raw
            .recipient_account_id
            .0
            .or_else(|| key.account_id.clone().map(Cow::Owned)),
        region: raw
            .aws_region
            .0
            .or_else(|| key.region.clone().map(Cow::Owned)),
        category,
        read_only: raw.read_only.0,
        service: raw.event_source.0.or(insight.event_source.0),
        action: raw.event_name.0.or(insight.event_name.0),
        error_code: raw.error_code.0,
        principal,
        source_ip: raw.source_ip.0,
        user_agent: raw.user_agent.0,
        via,
        resources: raw
            .resources
            .0
            .into_iter()
            .filter_map(|Object(r)| r.arn.0.or(r.arn_prefix.0))
            .collect(),
        event_id: raw.event_id.0,
    }
}

fn principal<'a>(id: RawIdentity<'a>, mfa_used: Option<bool>) -> Principal<'a> {
    let context = id.session_context.0.unwrap_or_default();
    let mfa = context
        .attributes
        .0
        .and_then(|a| a.mfa_authenticated.0)
        .or(mfa_used);
    let name = id.user_name.0.or_else(|| match &id.arn.0 {
        Some(Cow::Borrowed(arn)) => last_path_segment(arn).map(Cow::Borrowed),
        Some(Cow::Owned(arn)) => last_path_segment(arn).map(|s| Cow::Owned(s.to_owned())),
        None => None,
    });
    Principal {
        kind: id.kind.0,
        arn: id.arn.0,
        account_id: id.account_id.0,
        name,
        session_issuer: context.session_issuer.0.and_then(|i| i.arn.0),
        mfa,
        invoked_by: id.invoked_by.0,
    }
}

/// `eventTime` is `YYYY-MM-DDTHH:MM:SSZ`. Any RFC 3339 time is taken, and, since CloudTrail times
/// are UTC, so is a time without an offset (as some exports write them: `2025-01-21 17:49:47`).
fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        let civil: jiff::civil::DateTime = text.parse().ok()?;
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// The name part of an ARN's resource path: `arn:aws:sts::1:assumed-role/Role/session` gives
/// `session`. `None` when the resource has no path.
fn last_path_segment(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    resource
        .rsplit_once('/')
        .map(|(_, name)| name)
        .filter(|n| !n.is_empty())
}

/// Service first (a service acted, whatever agent it reports), then the console (its sign-in
/// events too, whose agent is the browser's), the CLI, SDKs.
fn classify_via(
    event_source: Option<&str>,
    user_agent: Option<&str>,
    source_ip: Option<&str>,
    identity: Option<&RawIdentity<'_>>,
    from_console: bool,
) -> Option<Via> {
    if user_agent.is_none() && source_ip.is_none() && identity.is_none() {
        return None;
    }
    let identity_type = identity.and_then(|i| i.kind.0.as_deref());
    if identity.is_some_and(|i| i.invoked_by.0.is_some()) || identity_type == Some("AWSService") {
        return Some(Via::Service);
    }
    let ua = user_agent.unwrap_or("");
    let ua_lower = ua.to_ascii_lowercase();
    if from_console
        || event_source == Some("signin.amazonaws.com")
        || ua_lower.contains("console.amazonaws.com")
        || ua_lower.contains("signin.amazonaws.com")
        || ua_lower.starts_with("console.")
    {
        return Some(Via::Console);
    }
    if ua_lower.starts_with("aws-cli/") || ua_lower.starts_with("[aws-cli/") {
        return Some(Via::Cli);
    }
    if ["aws-sdk-", "boto3/", "botocore/", "aws-internal/"]
        .iter()
        .any(|m| ua_lower.contains(m))
    {
        return Some(Via::Sdk);
    }
    let is_service_name = |s: &str| s.ends_with(".amazonaws.com") || s.starts_with("AWS Internal");
    if is_service_name(ua) || source_ip.is_some_and(is_service_name) {
        return Some(Via::Service);
    }
    Some(Via::Other)
}

/// The archive's derived fields, in the order of the archive line.
#[derive(Serialize)]
struct ArchiveFields<'e, 'a> {
    time: Option<String>,
    org_id: Option<&'e str>,
    account_id: Option<&'e str>,
    region: Option<&'e str>,
    category: Option<&'e str>,
    read_only: Option<bool>,
    service: Option<&'e str>,
    action: Option<&'e str>,
    error_code: Option<&'e str>,
    principal: Option<&'e Principal<'a>>,
    source_ip: Option<&'e str>,
    user_agent: Option<&'e str>,
    via: Option<Via>,
    resources: &'e [Cow<'a, str>],
    event_id: Option<&'e str>,
    rules: &'e [&'e str],
    source: Source<'e>,
}

#[derive(Serialize)]
struct Source<'e> {
    bucket: &'e str,
    key: &'e str,
    index: u64,
}

/// Appends one archive line (JSON, then `\n`) for a record: the derived fields, the names of
/// the rules it matched, where it came from, and the record's own bytes under `"record"`.
pub fn write_archive_line(
    out: &mut Vec<u8>,
    record: &Normalized<'_>,
    index: u64,
    origin: &Origin<'_>,
    rules: &[&str],
) {
    let e = &record.event;
    let fields = ArchiveFields {
        time: e.time.map(|t| t.to_string()),
        org_id: origin.trail_key.org_id.as_deref(),
        account_id: e.account_id.as_deref(),
        region: e.region.as_deref(),
        category: e.category.as_deref(),
        read_only: e.read_only,
        service: e.service.as_deref(),
        action: e.action.as_deref(),
        error_code: e.error_code.as_deref(),
        principal: e.principal.as_ref(),
        source_ip: e.source_ip.as_deref(),
        user_agent: e.user_agent.as_deref(),
        via: e.via,
        resources: &e.resources,
        event_id: e.event_id.as_deref(),
        rules,
        source: Source {
            bucket: origin.bucket,
            key: origin.key,
            index,
        },
    };
    let start = out.len();
    // Serialising plain strings, numbers and options into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, &fields).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"{");
    } else {
        // Reopen the object to add the record's bytes as they are.
        out.pop();
        out.push(b',');
    }
    out.extend_from_slice(b"\"record\":");
    out.extend_from_slice(record.json.as_bytes());
    out.extend_from_slice(b"}\n");
}

// ---- Lenient views of the record ------------------------------------------------------------
//
// Each wrapper accepts any JSON value: the expected shape becomes `Some`, anything else `None`
// (its contents are skipped), so an oddly typed field never fails the record.

/// A string, else `None`.
#[derive(Debug, Default)]
struct Text<'a>(Option<Cow<'a, str>>);

/// A boolean or the strings `"true"`/`"false"` (any case), else `None`.
#[derive(Debug, Default)]
struct Flag(Option<bool>);

/// An object read as `T`, else `None`.
#[derive(Debug)]
struct Object<T>(T);

/// An optional object read as `T`, else `None`.
#[derive(Debug)]
struct MaybeObject<T>(Option<T>);

/// An array of objects read as `T`; anything else is empty.
#[derive(Debug)]
struct List<T>(Vec<Object<T>>);

impl<T> Default for MaybeObject<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visits that mean "not the expected shape" by skipping and returning `$none`.
macro_rules! reject_other_shapes {
    ($none:expr; $($method:ident($ty:ty)),*) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> { Ok($none) })*
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok($none) }
    };
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Text(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Text(None))
    }

    reject_other_shapes!(Text(None); visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64));
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Flag;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Flag(Some(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Flag(if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Flag(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Flag(None))
    }

    reject_other_shapes!(Flag(None); visit_i64(i64), visit_u64(u64), visit_f64(f64));
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FlagVisitor)
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    reject_other_shapes!(None; visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64));
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Object<T> {
    /// A non-object reads as `T::default()`: the top-level record must be an object, which the
    /// decoder has already checked.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectVisitor(PhantomData))
            .map(|o| Object(o.unwrap_or_default()))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeObject<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectVisitor(PhantomData))
            .map(MaybeObject)
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Object<T>>()? {
            items.push(item);
        }
        Ok(List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| List(Vec::new()))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(List(Vec::new()))
    }

    reject_other_shapes!(List(Vec::new()); visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64));
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRecord<'a> {
    #[serde(rename = "eventTime", borrow)]
    event_time: Text<'a>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Text<'a>,
    #[serde(rename = "eventName", borrow)]
    event_name: Text<'a>,
    #[serde(rename = "awsRegion", borrow)]
    aws_region: Text<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip: Text<'a>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: Text<'a>,
    #[serde(rename = "errorCode", borrow)]
    error_code: Text<'a>,
    #[serde(rename = "eventID", borrow)]
    event_id: Text<'a>,
    #[serde(rename = "eventType", borrow)]
    event_type: Text<'a>,
    #[serde(rename = "eventCategory", borrow)]
    event_category: Text<'a>,
    #[serde(rename = "recipientAccountId", borrow)]
    recipient_account_id: Text<'a>,
    #[serde(rename = "readOnly")]
    read_only: Flag,
    #[serde(rename = "managementEvent")]
    management_event: Flag,
    #[serde(rename = "sessionCredentialFromConsole")]
    session_credential_from_console: Flag,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: MaybeObject<RawIdentity<'a>>,
    #[serde(borrow)]
    resources: List<RawResource<'a>>,
    #[serde(rename = "insightDetails", borrow)]
    insight_details: MaybeObject<RawInsight<'a>>,
    #[serde(rename = "additionalEventData", borrow)]
    additional_event_data: MaybeObject<RawAdditional<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawIdentity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    arn: Text<'a>,
    #[serde(rename = "accountId", borrow)]
    account_id: Text<'a>,
    #[serde(rename = "userName", borrow)]
    user_name: Text<'a>,
    #[serde(rename = "invokedBy", borrow)]
    invoked_by: Text<'a>,
    #[serde(rename = "sessionContext", borrow)]
    session_context: MaybeObject<RawSessionContext<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSessionContext<'a> {
    attributes: MaybeObject<RawSessionAttributes>,
    #[serde(rename = "sessionIssuer", borrow)]
    session_issuer: MaybeObject<RawIssuer<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSessionAttributes {
    #[serde(rename = "mfaAuthenticated")]
    mfa_authenticated: Flag,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawIssuer<'a> {
    #[serde(borrow)]
    arn: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawResource<'a> {
    #[serde(rename = "ARN", borrow)]
    arn: Text<'a>,
    #[serde(rename = "ARNPrefix", borrow)]
    arn_prefix: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawInsight<'a> {
    #[serde(rename = "eventSource", borrow)]
    event_source: Text<'a>,
    #[serde(rename = "eventName", borrow)]
    event_name: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAdditional<'a> {
    #[serde(rename = "MFAUsed", borrow)]
    mfa_used: Text<'a>,
}

#[cfg(test)]
mod tests;
