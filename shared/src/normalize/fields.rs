//! The record members the normaliser reads, as strict selectors of the record's [`Document`]:
//! bound into the same trie as a rule set's selectors, one parse serves both.
//!
//! Each member is read leniently: the expected shape (a string, a flag, an object) gives a
//! value, anything else `None`, so an oddly typed member never fails the record. A member named
//! twice in one of the objects read here makes the record unreadable this way (which of the
//! two is meant is for the slow path to decide, member by member).

use std::borrow::Cow;

use crate::rules::pattern::{Document, Node, Selector, SelectorTrie, Step};

/// Declares the members read, each with its path of keys from the record.
macro_rules! members {
    ($($member:ident = [$($key:literal),+];)*) => {
        /// A record member the normaliser reads. The objects on the way to a member are
        /// members too, so that a name repeated in them is seen.
        #[derive(Debug, Clone, Copy)]
        #[allow(dead_code, reason = "objects on the way are declared, not all are read")]
        pub(super) enum Member { $($member),* }

        /// Each member's path, in the order of [`Member`].
        pub(super) const PATHS: &[&[&str]] = &[$(&[$($key),+]),*];
    };
}

members! {
    EventTime = ["eventTime"];
    EventSource = ["eventSource"];
    EventName = ["eventName"];
    AwsRegion = ["awsRegion"];
    SourceIp = ["sourceIPAddress"];
    UserAgent = ["userAgent"];
    ErrorCode = ["errorCode"];
    ErrorMessage = ["errorMessage"];
    RequestId = ["requestID"];
    VpcEndpointId = ["vpcEndpointId"];
    EventId = ["eventID"];
    EventType = ["eventType"];
    EventCategory = ["eventCategory"];
    RecipientAccountId = ["recipientAccountId"];
    ReadOnly = ["readOnly"];
    ManagementEvent = ["managementEvent"];
    FromConsole = ["sessionCredentialFromConsole"];
    Identity = ["userIdentity"];
    IdentityType = ["userIdentity", "type"];
    IdentityArn = ["userIdentity", "arn"];
    IdentityAccountId = ["userIdentity", "accountId"];
    UserName = ["userIdentity", "userName"];
    InvokedBy = ["userIdentity", "invokedBy"];
    SessionContext = ["userIdentity", "sessionContext"];
    SessionAttributes = ["userIdentity", "sessionContext", "attributes"];
    MfaAuthenticated = ["userIdentity", "sessionContext", "attributes", "mfaAuthenticated"];
    SessionIssuer = ["userIdentity", "sessionContext", "sessionIssuer"];
    SessionIssuerArn = ["userIdentity", "sessionContext", "sessionIssuer", "arn"];
    Resources = ["resources"];
    InsightDetails = ["insightDetails"];
    InsightEventSource = ["insightDetails", "eventSource"];
    InsightEventName = ["insightDetails", "eventName"];
    AdditionalEventData = ["additionalEventData"];
    MfaUsed = ["additionalEventData", "MFAUsed"];
    // Aggregated events name their id `eventId` and their account `accountId`, and have a
    // window instead of `eventTime`.
    AggregatedEventId = ["eventId"];
    AccountId = ["accountId"];
    TimeWindow = ["timeWindow"];
    WindowStart = ["timeWindow", "windowStart"];
    Addendum = ["addendum"];
    AddendumReason = ["addendum", "reason"];
    UpdatedFields = ["addendum", "updatedFields"];
    OriginalRequestId = ["addendum", "originalRequestID"];
    OriginalEventId = ["addendum", "originalEventID"];
}

/// `userIdentity.accessKeyId`, read leniently: real records name it twice in `userIdentity`
/// (the same key both times), which must not cost the record its principal. A repeated name
/// gives its last value.
const ACCESS_KEY_ID: [&str; 2] = ["userIdentity", "accessKeyId"];

/// Where a resource's name is: `resources[].ARN`, else `resources[].ARNPrefix`.
const RESOURCE_NAMES: [&str; 2] = ["ARN", "ARNPrefix"];

/// The members' slots in one trie.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    slots: Vec<usize>,
    access_key_id: Option<usize>,
    resources: Selector,
}

impl Fields {
    /// Adds the members to `trie`.
    pub(crate) fn bind(trie: &mut SelectorTrie) -> Self {
        let slots = PATHS.iter().map(|path| trie.insert_strict(path)).collect();
        let access_key_id = trie.insert(&Selector {
            steps: ACCESS_KEY_ID
                .iter()
                .map(|key| Step::Key((*key).to_owned()))
                .collect(),
        });
        trie.keep_each(PATHS[Member::Resources as usize], &RESOURCE_NAMES);
        let mut steps: Vec<Step> = PATHS[Member::Resources as usize]
            .iter()
            .map(|key| Step::Key((*key).to_owned()))
            .collect();
        steps.push(Step::AnyIndex);
        Self {
            slots,
            access_key_id,
            resources: Selector { steps },
        }
    }

    /// The members of `doc`, parsed with a trie this was bound to; `None` if a member read
    /// here is named twice in its object.
    pub(super) fn read<'d, 'a>(&'d self, doc: &'d Document<'a>) -> Option<Members<'d, 'a>> {
        if doc.repeated() {
            return None;
        }
        let mut resources = Vec::new();
        let mut repeated = false;
        doc.any(&self.resources, None, &mut |element| {
            if let Node::Object(members) = element {
                let [arn, prefix] = RESOURCE_NAMES.map(|name| {
                    let mut named = members.iter().filter(|(key, _)| key == name);
                    let first = named.next();
                    repeated |= named.next().is_some();
                    first.and_then(|(_, value)| text(value))
                });
                resources.extend(arn.or(prefix));
            }
            repeated
        });
        (!repeated).then_some(Members {
            slots: &self.slots,
            access_key_id: self.access_key_id,
            doc: Some(doc),
            resources,
        })
    }
}

/// A record's members, as the normaliser reads them.
pub(super) struct Members<'d, 'a> {
    slots: &'d [usize],
    access_key_id: Option<usize>,
    doc: Option<&'d Document<'a>>,
    /// `resources[].ARN` (or `ARNPrefix`), in order.
    pub(super) resources: Vec<Cow<'a, str>>,
}

impl<'a> Members<'_, 'a> {
    /// A record without members.
    pub(super) fn none() -> Self {
        Members {
            slots: &[],
            access_key_id: None,
            doc: None,
            resources: Vec::new(),
        }
    }

    fn node(&self, member: Member) -> Option<&Node<'a>> {
        self.doc?.slot(*self.slots.get(member as usize)?)
    }

    /// A string member, else `None`.
    pub(super) fn text(&self, member: Member) -> Option<Cow<'a, str>> {
        self.node(member).and_then(text)
    }

    /// `userIdentity.accessKeyId`, when it is a string.
    pub(super) fn access_key_id(&self) -> Option<Cow<'a, str>> {
        self.doc?.slot(self.access_key_id?).and_then(text)
    }

    /// A boolean member, or the strings `"true"`/`"false"` (any case), else `None`.
    pub(super) fn flag(&self, member: Member) -> Option<bool> {
        match self.node(member)? {
            Node::Bool(b) => Some(*b),
            Node::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Node::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// Whether the member is an object.
    pub(super) fn is_object(&self, member: Member) -> bool {
        matches!(self.node(member), Some(Node::Object(_)))
    }
}

fn text<'a>(node: &Node<'a>) -> Option<Cow<'a, str>> {
    match node {
        Node::Str(s) => Some(s.clone()),
        _ => None,
    }
}
