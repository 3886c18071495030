//! Lenient views of a record: each wrapper accepts any JSON value; the expected shape becomes
//! `Some`, anything else `None` (its contents are skipped), so an oddly typed field never fails
//! the record. The `Raw*` structs name the fields the normaliser reads, borrowing strings.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A string, else `None`.
#[derive(Debug, Default)]
pub(super) struct Text<'a>(pub(super) Option<Cow<'a, str>>);

/// A boolean or the strings `"true"`/`"false"` (any case), else `None`.
#[derive(Debug, Default)]
pub(super) struct Flag(pub(super) Option<bool>);

/// An object read as `T`, else `None`.
#[derive(Debug)]
pub(super) struct Object<T>(pub(super) T);

/// An optional object read as `T`, else `None`.
#[derive(Debug)]
pub(super) struct MaybeObject<T>(pub(super) Option<T>);

/// An array of objects read as `T`; anything else is empty.
#[derive(Debug)]
pub(super) struct List<T>(pub(super) Vec<Object<T>>);

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
pub(super) struct RawRecord<'a> {
    #[serde(rename = "eventTime", borrow)]
    pub(super) event_time: Text<'a>,
    #[serde(rename = "eventSource", borrow)]
    pub(super) event_source: Text<'a>,
    #[serde(rename = "eventName", borrow)]
    pub(super) event_name: Text<'a>,
    #[serde(rename = "awsRegion", borrow)]
    pub(super) aws_region: Text<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    pub(super) source_ip: Text<'a>,
    #[serde(rename = "userAgent", borrow)]
    pub(super) user_agent: Text<'a>,
    #[serde(rename = "errorCode", borrow)]
    pub(super) error_code: Text<'a>,
    #[serde(rename = "eventID", borrow)]
    pub(super) event_id: Text<'a>,
    #[serde(rename = "eventType", borrow)]
    pub(super) event_type: Text<'a>,
    #[serde(rename = "eventCategory", borrow)]
    pub(super) event_category: Text<'a>,
    #[serde(rename = "recipientAccountId", borrow)]
    pub(super) recipient_account_id: Text<'a>,
    #[serde(rename = "readOnly")]
    pub(super) read_only: Flag,
    #[serde(rename = "managementEvent")]
    pub(super) management_event: Flag,
    #[serde(rename = "sessionCredentialFromConsole")]
    pub(super) session_credential_from_console: Flag,
    #[serde(rename = "userIdentity", borrow)]
    pub(super) user_identity: MaybeObject<RawIdentity<'a>>,
    #[serde(borrow)]
    pub(super) resources: List<RawResource<'a>>,
    #[serde(rename = "insightDetails", borrow)]
    pub(super) insight_details: MaybeObject<RawInsight<'a>>,
    #[serde(rename = "additionalEventData", borrow)]
    pub(super) additional_event_data: MaybeObject<RawAdditional<'a>>,
    /// Aggregated events name their id `eventId`.
    #[serde(rename = "eventId", borrow)]
    pub(super) aggregated_event_id: Text<'a>,
    /// Aggregated events name their account `accountId`.
    #[serde(rename = "accountId", borrow)]
    pub(super) account_id: Text<'a>,
    /// Aggregated events have a window instead of `eventTime`.
    #[serde(rename = "timeWindow", borrow)]
    pub(super) time_window: MaybeObject<RawTimeWindow<'a>>,
    #[serde(borrow)]
    pub(super) addendum: MaybeObject<RawAddendum<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawTimeWindow<'a> {
    #[serde(rename = "windowStart", borrow)]
    pub(super) window_start: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAddendum<'a> {
    #[serde(borrow)]
    pub(super) reason: Text<'a>,
    #[serde(rename = "updatedFields", borrow)]
    pub(super) updated_fields: Text<'a>,
    #[serde(rename = "originalRequestID", borrow)]
    pub(super) original_request_id: Text<'a>,
    #[serde(rename = "originalEventID", borrow)]
    pub(super) original_event_id: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Text<'a>,
    #[serde(borrow)]
    pub(super) arn: Text<'a>,
    #[serde(rename = "accountId", borrow)]
    pub(super) account_id: Text<'a>,
    #[serde(rename = "userName", borrow)]
    pub(super) user_name: Text<'a>,
    #[serde(rename = "invokedBy", borrow)]
    pub(super) invoked_by: Text<'a>,
    #[serde(rename = "sessionContext", borrow)]
    pub(super) session_context: MaybeObject<RawSessionContext<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawSessionContext<'a> {
    pub(super) attributes: MaybeObject<RawSessionAttributes>,
    #[serde(rename = "sessionIssuer", borrow)]
    pub(super) session_issuer: MaybeObject<RawIssuer<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawSessionAttributes {
    #[serde(rename = "mfaAuthenticated")]
    pub(super) mfa_authenticated: Flag,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawIssuer<'a> {
    #[serde(borrow)]
    pub(super) arn: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawResource<'a> {
    #[serde(rename = "ARN", borrow)]
    pub(super) arn: Text<'a>,
    #[serde(rename = "ARNPrefix", borrow)]
    pub(super) arn_prefix: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawInsight<'a> {
    #[serde(rename = "eventSource", borrow)]
    pub(super) event_source: Text<'a>,
    #[serde(rename = "eventName", borrow)]
    pub(super) event_name: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAdditional<'a> {
    #[serde(rename = "MFAUsed", borrow)]
    pub(super) mfa_used: Text<'a>,
}
