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
//! The record is parsed once, borrowing its strings, for the normaliser and a rule set's JSON
//! patterns together ([`RecordParser`]); everything neither reads is skipped. The record itself
//! is never re-serialised: [`write_archive_line`] copies its bytes.

mod archive_line;
mod fields;
pub mod syntax;
mod time;

use std::borrow::Cow;
use std::sync::LazyLock;

use serde::Serialize;

pub(crate) use archive_line::Source;
pub use archive_line::write_archive_line;
use fields::{Fields, Member, Members};
pub use time::EventTime;

use crate::key::{ObjectKind, TrailKey};
use crate::rules::RuleSet;
use crate::rules::pattern::{Document, SelectorTrie};

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
    /// `userIdentity.accessKeyId`: the credential used (not in the archive line).
    #[serde(skip)]
    pub access_key_id: Option<Cow<'a, str>>,
}

/// A record's derived fields. Strings borrow from the record where they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// `eventTime`, parsed.
    pub time: Option<EventTime>,
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
    /// `eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`, ...
    pub event_type: Option<Cow<'a, str>>,
    /// `errorMessage`.
    pub error_message: Option<Cow<'a, str>>,
    /// `requestID`.
    pub request_id: Option<Cow<'a, str>>,
    /// `vpcEndpointId`: the VPC endpoint the call came through.
    pub vpc_endpoint_id: Option<Cow<'a, str>>,
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
            event_type: owned(self.event_type),
            error_message: owned(self.error_message),
            request_id: owned(self.request_id),
            vpc_endpoint_id: owned(self.vpc_endpoint_id),
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
            access_key_id: owned(self.access_key_id),
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
    /// The record is JSON, but not an object.
    #[error("record {index} is JSON, but {kind}, not an object")]
    NotAnObject {
        /// Zero-based position in `Records`.
        index: u64,
        /// What it is: `an array`, `a number`, ...
        kind: &'static str,
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

/// A record that passed [`RecordParser::parse`]: its text, guaranteed UTF-8 JSON, its derived
/// fields and, when a rule set reads JSON, the document its patterns match on.
#[derive(Debug, Clone)]
pub struct Normalized<'a> {
    /// The record's compact JSON text, as it goes out.
    pub json: &'a str,
    /// The derived fields.
    pub event: Event<'a>,
    document: Option<Document<'a>>,
}

impl<'a> Normalized<'a> {
    /// The record parsed for the rule set given to the [`RecordParser`] (for
    /// [`RuleSet::evaluate_parsed`]); `None` without JSON patterns or when the record is not
    /// a JSON document they can read.
    pub fn document(&self) -> Option<&Document<'a>> {
        self.document.as_ref()
    }
}

/// A trie of selectors with the normaliser's members bound into it.
#[derive(Debug)]
struct Reading {
    trie: SelectorTrie,
    fields: Fields,
}

impl Reading {
    fn new(mut trie: SelectorTrie) -> Self {
        let fields = Fields::bind(&mut trie);
        Self { trie, fields }
    }

    /// The event of `text` in one parse, if every member read is named once.
    fn event<'a>(&self, text: &'a str, key: &TrailKey) -> Option<(Event<'a>, Document<'a>)> {
        let doc = Document::parse(text, &self.trie)?;
        let event = derive(&self.fields.read(&doc)?, key);
        Some((event, doc))
    }
}

/// The normaliser's members alone.
static PLAIN: LazyLock<Reading> = LazyLock::new(|| Reading::new(SelectorTrie::default()));

/// Parses records for the normaliser and, in the same pass, for a rule set's JSON patterns:
/// the members the normaliser reads and the selectors of the patterns share one trie. A
/// record that pass cannot read whole (a member named twice, a value beyond serde) is read
/// again the slow way, each reader on its own, exactly as if it were alone.
#[derive(Debug)]
pub struct RecordParser<'r> {
    /// The rule set, when it has JSON patterns, and its trie with the members bound.
    rules: Option<(&'r RuleSet, Reading)>,
}

impl<'r> RecordParser<'r> {
    /// A parser for the normaliser and `rules`.
    pub fn new(rules: &'r RuleSet) -> Self {
        Self {
            rules: rules
                .needs_document()
                .then(|| (rules, Reading::new(rules.trie().clone()))),
        }
    }

    /// Parses one record (`index` is its position, for errors) and derives its fields.
    pub fn parse<'a>(
        &self,
        json: &'a [u8],
        index: u64,
        origin: &Origin<'_>,
    ) -> Result<Normalized<'a>, RecordError> {
        let text = std::str::from_utf8(json).map_err(|e| RecordError::Utf8 {
            index,
            valid_up_to: e.valid_up_to(),
        })?;
        let key = origin.trail_key;
        // An array would be read as an object with no members: only an object is a record
        // (the decoder lends whatever `Records` holds).
        let is_object = text.as_bytes().first() == Some(&b'{');
        if let Some((_, reading)) = self.rules.as_ref().filter(|_| is_object)
            && let Some((event, doc)) = reading.event(text, key)
        {
            return Ok(Normalized {
                json: text,
                event,
                document: Some(doc),
            });
        }
        let fast = is_object
            .then(|| PLAIN.event(text, key))
            .flatten()
            .map(|(event, _)| event);
        let event = match fast {
            Some(event) => event,
            None => derive_leniently(text, key).map_err(|source| {
                match syntax::value_kind(text).filter(|_| !is_object) {
                    Some(kind) => RecordError::NotAnObject { index, kind },
                    None => RecordError::Json { index, source },
                }
            })?,
        };
        let document = self.rules.as_ref().and_then(|(rules, _)| rules.parse(text));
        Ok(Normalized {
            json: text,
            event,
            document,
        })
    }
}

/// Parses one record (`index` is its position, for errors) and derives its fields, without
/// rules.
pub fn parse<'a>(
    json: &'a [u8],
    index: u64,
    origin: &Origin<'_>,
) -> Result<Normalized<'a>, RecordError> {
    RecordParser { rules: None }.parse(json, index, origin)
}

/// The slow path, for a record one parse cannot read: if it is JSON at all, each top-level
/// member readable on its own is kept (the first of repeated names) and the fields are derived
/// from those; the others are `None`.
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
        if PLAIN.event(&format!("{{{member}}}"), key).is_some() {
            if readable.len() > 1 {
                readable.push(',');
            }
            readable.push_str(&member);
        }
    }
    readable.push('}');
    // Members readable one by one, under distinct names, are readable together.
    let event = PLAIN.event(&readable, key).map(|(event, _)| event);
    Ok(event
        .unwrap_or_else(|| derive(&Members::none(), key))
        .into_owned())
}

fn derive<'a>(m: &Members<'_, 'a>, key: &TrailKey) -> Event<'a> {
    use Member as M;
    let category = m.text(M::EventCategory).or_else(|| {
        let derived = match m.text(M::EventType).as_deref() {
            Some(t) if t.eq_ignore_ascii_case("AwsCloudTrailInsight") => Some("Insight"),
            Some(t) if t.eq_ignore_ascii_case("AwsVpceEvent") => Some("NetworkActivity"),
            Some(t) if t.eq_ignore_ascii_case("AwsAggregatedEvent") => Some("Aggregated"),
            _ => match m.flag(M::ManagementEvent) {
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
    let event_source = m.text(M::EventSource);
    let user_agent = m.text(M::UserAgent);
    let source_ip = m.text(M::SourceIp);
    let has_identity = m.is_object(M::Identity);
    let via = classify_via(
        event_source.as_deref(),
        user_agent.as_deref(),
        source_ip.as_deref(),
        has_identity.then(|| Caller {
            kind: m.text(M::IdentityType),
            invoked_by: m.text(M::InvokedBy).is_some(),
        }),
        m.flag(M::FromConsole) == Some(true),
    );
    Event {
        // Aggregated events have no eventTime: their window's start stands for it.
        time: m
            .text(M::EventTime)
            .as_deref()
            .and_then(parse_time)
            .or_else(|| m.text(M::WindowStart).as_deref().and_then(parse_time)),
        account_id: m
            .text(M::RecipientAccountId)
            .or_else(|| m.text(M::AccountId))
            .or_else(|| key.account_id.clone().map(Cow::Owned)),
        region: m
            .text(M::AwsRegion)
            .or_else(|| key.region.clone().map(Cow::Owned)),
        category,
        read_only: m.flag(M::ReadOnly),
        service: event_source.or_else(|| m.text(M::InsightEventSource)),
        action: m.text(M::EventName).or_else(|| m.text(M::InsightEventName)),
        error_code: m.text(M::ErrorCode),
        principal: has_identity.then(|| principal(m)),
        source_ip,
        user_agent,
        via,
        resources: m.resources.clone(),
        event_id: m.text(M::EventId).or_else(|| m.text(M::AggregatedEventId)),
        addendum: m.is_object(M::Addendum).then(|| Addendum {
            reason: m.text(M::AddendumReason),
            original_event_id: m.text(M::OriginalEventId),
            original_request_id: m.text(M::OriginalRequestId),
            updated_fields: m.text(M::UpdatedFields),
        }),
        event_type: m.text(M::EventType),
        error_message: m.text(M::ErrorMessage),
        request_id: m.text(M::RequestId),
        vpc_endpoint_id: m.text(M::VpcEndpointId),
    }
}

fn principal<'a>(m: &Members<'_, 'a>) -> Principal<'a> {
    use Member as M;
    // Session MFA, else a console sign-in's answer.
    let mfa = m.flag(M::MfaAuthenticated).or_else(|| {
        m.text(M::MfaUsed).and_then(|s| match s.as_ref() {
            "Yes" => Some(true),
            "No" => Some(false),
            _ => None,
        })
    });
    let arn = m.text(M::IdentityArn);
    let name = m.text(M::UserName).or_else(|| match &arn {
        Some(Cow::Borrowed(arn)) => last_path_segment(arn).map(Cow::Borrowed),
        Some(Cow::Owned(arn)) => last_path_segment(arn).map(|s| Cow::Owned(s.to_owned())),
        None => None,
    });
    Principal {
        kind: m.text(M::IdentityType),
        arn,
        account_id: m.text(M::IdentityAccountId),
        name,
        session_issuer: m.text(M::SessionIssuerArn),
        mfa,
        invoked_by: m.text(M::InvokedBy),
        access_key_id: m.access_key_id(),
    }
}

/// `eventTime` is `YYYY-MM-DDTHH:MM:SSZ`. Any RFC 3339 time is taken ([`EventTime::parse`]).
fn parse_time(text: &str) -> Option<EventTime> {
    EventTime::parse(text)
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

/// What `userIdentity` says of who called, for [`classify_via`].
struct Caller<'a> {
    /// `userIdentity.type`.
    kind: Option<Cow<'a, str>>,
    /// Whether `userIdentity.invokedBy` names a service.
    invoked_by: bool,
}

/// Service first (a service acted, whatever agent it reports), then the console (its sign-in
/// events too, whose agent is the browser's), the CLI, SDKs.
fn classify_via(
    event_source: Option<&str>,
    user_agent: Option<&str>,
    source_ip: Option<&str>,
    identity: Option<Caller<'_>>,
    from_console: bool,
) -> Option<Via> {
    if user_agent.is_none() && source_ip.is_none() && identity.is_none() {
        return None;
    }
    if identity.is_some_and(|i| i.invoked_by || i.kind.as_deref() == Some("AWSService")) {
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
mod parser_tests;
#[cfg(test)]
mod tests;
