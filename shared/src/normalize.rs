//! One CloudTrail record in, one normalised [`Event`] out: who, what, where, when.
//!
//! Field meanings follow the CloudTrail record reference
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>,
//! `userIdentity`: <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html>).
//! Real records are untidy: fields go missing (Insights records have no `userIdentity`, old ones
//! no `eventCategory`), arrive as `null`, or arrive with another type (`readOnly` as the string
//! `"true"`). None of that fails a record: the derived field is `None` (JSON `null` in the
//! archive). Nor do values that are valid JSON but beyond serde (numbers out of range, escapes
//! of lone surrogates, repeated names, deep nesting): the fields that cannot be read are `None`
//! and the record goes out unchanged. Only bytes that are not one JSON object fail, as
//! [`RecordError`], for the caller to quarantine.
//!
//! The record is parsed once, borrowing its strings; everything not needed here is skipped.
//! The record itself is never re-serialised: [`write_archive_line`] copies its bytes.

mod archive_line;
mod raw;
pub mod syntax;

use std::borrow::Cow;

use serde::Serialize;

pub(crate) use archive_line::Source;
pub use archive_line::write_archive_line;
use raw::{Object, RawAddendum, RawIdentity, RawRecord};

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
    /// `eventID` (aggregated events: `eventId`).
    pub event_id: Option<Cow<'a, str>>,
    /// A late or corrected event's `addendum`.
    pub addendum: Option<Addendum<'a>>,
}

/// What `addendum` says of a late or corrected event
/// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>):
/// why it came late or changed and, for `UPDATED_DATA`, which event it corrects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Addendum<'a> {
    /// `DELIVERY_DELAY`, `UPDATED_DATA` or `SERVICE_OUTAGE`.
    pub reason: Option<Cow<'a, str>>,
    /// `originalEventID`: the event this one corrects.
    pub original_event_id: Option<Cow<'a, str>>,
    /// `originalRequestID`.
    pub original_request_id: Option<Cow<'a, str>>,
    /// `updatedFields`: the fields the correction changes.
    pub updated_fields: Option<Cow<'a, str>>,
}

impl Event<'_> {
    /// `time` in milliseconds since the Unix epoch: the CloudWatch Logs event timestamp.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.time.map(|t| t.as_millisecond())
    }

    /// The same fields, owning their strings.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            time: self.time,
            account_id: owned(self.account_id),
            region: owned(self.region),
            category: owned(self.category),
            read_only: self.read_only,
            service: owned(self.service),
            action: owned(self.action),
            error_code: owned(self.error_code),
            principal: self.principal.map(Principal::into_owned),
            source_ip: owned(self.source_ip),
            user_agent: owned(self.user_agent),
            via: self.via,
            resources: self
                .resources
                .into_iter()
                .map(|r| Cow::Owned(r.into_owned()))
                .collect(),
            event_id: owned(self.event_id),
            addendum: self.addendum.map(|a| Addendum {
                reason: owned(a.reason),
                original_event_id: owned(a.original_event_id),
                original_request_id: owned(a.original_request_id),
                updated_fields: owned(a.updated_fields),
            }),
        }
    }
}

impl Principal<'_> {
    /// The same fields, owning their strings.
    pub fn into_owned(self) -> Principal<'static> {
        Principal {
            kind: owned(self.kind),
            arn: owned(self.arn),
            account_id: owned(self.account_id),
            name: owned(self.name),
            session_issuer: owned(self.session_issuer),
            mfa: self.mfa,
            invoked_by: owned(self.invoked_by),
        }
    }
}

fn owned(text: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    text.map(|t| Cow::Owned(t.into_owned()))
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
        /// Where and why, inside the record.
        #[source]
        source: syntax::SyntaxError,
    },
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
    // serde would read an array into the record's fields by position: only an object is a
    // record (the decoder lends whatever `Records` holds).
    let fast = match text.as_bytes().first() {
        Some(b'{') => serde_json::from_str::<RawRecord<'a>>(text).ok(),
        _ => None,
    };
    let event = match fast {
        Some(raw) => derive(raw, origin.trail_key),
        None => derive_leniently(text, origin.trail_key)
            .map_err(|source| RecordError::Json { index, source })?,
    };
    Ok(Normalized { json: text, event })
}

/// The slow path, for a record serde refuses: if it is JSON at all, each top-level member that
/// serde reads on its own is kept (the first of repeated names, as filter patterns see them) and
/// the fields are derived from those; the others are `None`.
fn derive_leniently(text: &str, key: &TrailKey) -> Result<Event<'static>, syntax::SyntaxError> {
    let members = syntax::members(text)?;
    let mut readable = String::from("{");
    let mut seen: Vec<Cow<'_, str>> = Vec::new();
    for (name, value) in members {
        // Names compare as decoded: "a" and "\u0061" are one name.
        let decoded = serde_json::from_str::<String>(name).map_or(Cow::Borrowed(name), Cow::Owned);
        if seen.contains(&decoded) {
            continue;
        }
        seen.push(decoded);
        let member = format!("{name}:{value}");
        if serde_json::from_str::<RawRecord<'_>>(&format!("{{{member}}}")).is_ok() {
            if readable.len() > 1 {
                readable.push(',');
            }
            readable.push_str(&member);
        }
    }
    readable.push('}');
    let raw = serde_json::from_str::<RawRecord<'_>>(&readable).unwrap_or_default();
    Ok(derive(raw, key).into_owned())
}

fn derive<'a>(raw: RawRecord<'a>, key: &TrailKey) -> Event<'a> {
    let identity = raw.user_identity.0;
    let insight = raw.insight_details.0.unwrap_or_default();
    let category = raw.event_category.0.or_else(|| {
        let derived = match raw.event_type.0.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("AwsCloudTrailInsight") => Some("Insight"),
            Some(t) if t.eq_ignore_ascii_case("AwsVpceEvent") => Some("NetworkActivity"),
            Some(t) if t.eq_ignore_ascii_case("AwsAggregatedEvent") => Some("Aggregated"),
            _ => match raw.management_event.0 {
                Some(true) => Some("Management"),
                Some(false) => Some("Data"),
                None if key.kind == ObjectKind::Insight => Some("Insight"),
                None if key.kind == ObjectKind::NetworkActivity => Some("NetworkActivity"),
                None if key.kind == ObjectKind::Aggregated => Some("Aggregated"),
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
        // Aggregated events have no eventTime: their window's start stands for it.
        time: raw
            .event_time
            .0
            .as_deref()
            .and_then(parse_time)
            .or_else(|| {
                let window = raw.time_window.0?;
                window.window_start.0.as_deref().and_then(parse_time)
            }),
        account_id: raw
            .recipient_account_id
            .0
            .or(raw.account_id.0)
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
        event_id: raw.event_id.0.or(raw.aggregated_event_id.0),
        addendum: raw.addendum.0.map(addendum),
    }
}

fn addendum(a: RawAddendum<'_>) -> Addendum<'_> {
    Addendum {
        reason: a.reason.0,
        original_event_id: a.original_event_id.0,
        original_request_id: a.original_request_id.0,
        updated_fields: a.updated_fields.0,
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

#[cfg(test)]
mod tests;
