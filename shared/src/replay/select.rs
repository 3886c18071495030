//! Which keys a replay takes, and the walk that lists as few of them as possible.
//!
//! The walk descends the trail's layout one level at a time with delimited listings
//! (`AWSLogs/`, `[o-ORG/]`, `ACCOUNT/`, `FOLDER/`, `REGION/`, `YYYY/`, `MM/`, `DD/`), skipping
//! every folder outside the request: other accounts, regions and kinds, days outside the
//! range, everything before `start_after`. Folders come back from S3 in key order and their
//! children are visited in that order, so objects are produced in strictly increasing key
//! order: "every key up to K is done" is a complete bookmark.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::key::{KeyDate, ObjectKind, TrailKey, is_account_id, is_org_id};
use crate::ports::{ListedObject, Lister, PortError};

/// The kinds a replay takes when a request names none.
pub const DEFAULT_KINDS: &[ObjectKind] = &[ObjectKind::Log];

/// A replay request: its JSON shape, as the replay function receives it and as a continuation
/// carries it on.
///
/// ```json
/// {"bucket": "org-trail", "prefix": "AWSLogs/o-exampleorg1/",
///  "from": "2026-11-01", "to": "2026-11-30T12:00:00Z",
///  "accounts": ["111122223333"], "regions": ["us-east-1"], "kinds": ["log"]}
/// ```
///
/// Only `bucket` is required. `prefix` is the trail's key prefix, down to `AWSLogs/` or deeper
/// (without `AWSLogs`, it is added). Times are RFC 3339 or dates (midnight UTC), `from`
/// inclusive, `to` exclusive, compared with the delivery time each file's name states.
/// `start_after` and `pending` are written by the replay itself when it continues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The trail bucket.
    pub bucket: String,
    /// The trail's key prefix, down to `AWSLogs/` or deeper.
    #[serde(default)]
    pub prefix: String,
    /// Accounts to replay; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Regions to replay; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// First delivery time taken (RFC 3339 or a date); unbounded when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// First delivery time not taken (RFC 3339 or a date); unbounded when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `log` (the default), `insight`, `network-activity`, `aggregated`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Every key up to this one is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    /// Objects up to `start_after` that could not be enqueued yet: enqueued first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<ListedObject>,
}

/// A request that cannot be carried out, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> RequestError {
    RequestError {
        field,
        message: message.into(),
    }
}

/// Reads a time: RFC 3339 (`2026-11-30T20:30:00Z`) or a date (`2026-11-30`, midnight UTC), in
/// seconds since the Unix epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_second());
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        format!(
            "{text:?} is not a time: use RFC 3339 (2026-11-30T20:30:00Z) or a date (2026-11-30)"
        )
    })?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second())
        .map_err(|e| format!("{text:?}: {e}"))
}

/// A request, checked: what the walk and the key filter read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The trail bucket.
    pub bucket: String,
    /// `[PREFIX/]AWSLogs/`: where the walk starts.
    root: String,
    /// The prefix every key taken starts with (the root or deeper).
    within: String,
    accounts: BTreeSet<String>,
    regions: BTreeSet<String>,
    /// `[from, to)` in seconds.
    from_s: Option<i64>,
    to_s: Option<i64>,
    kinds: Vec<ObjectKind>,
    start_after: Option<String>,
}

impl Selection {
    /// Checks `request`.
    pub fn new(request: &Request) -> Result<Self, RequestError> {
        Self::build(request, false)
    }

    /// The digest files of `request` (whatever kinds it names): what validation walks.
    pub fn digests(request: &Request) -> Result<Self, RequestError> {
        Self::build(request, true)
    }

    /// The selection of `request`, of its kinds or of its digest files.
    fn build(request: &Request, digests: bool) -> Result<Self, RequestError> {
        if request.bucket.trim().is_empty() {
            return Err(bad("bucket", "is required"));
        }
        let trimmed = request.prefix.trim_end_matches('/');
        let within = match request.prefix.rfind("AWSLogs/") {
            Some(_) => request.prefix.clone(),
            None if trimmed.trim_start_matches('/').is_empty() => "AWSLogs/".to_owned(),
            // `PREFIX/AWSLogs` without its slash is that folder.
            None if trimmed == "AWSLogs" || trimmed.ends_with("/AWSLogs") => format!("{trimmed}/"),
            None => format!("{trimmed}/AWSLogs/"),
        };
        // The last `AWSLogs/` that begins a segment.
        let at = within
            .match_indices("AWSLogs/")
            .map(|(i, _)| i)
            .filter(|&i| i == 0 || within.as_bytes()[i - 1] == b'/')
            .last()
            .ok_or_else(|| {
                bad(
                    "prefix",
                    format!("{:?} has no AWSLogs/ folder", request.prefix),
                )
            })?;
        let root = within[..at + "AWSLogs/".len()].to_owned();
        if let Some(a) = request.accounts.iter().find(|a| !is_account_id(a)) {
            return Err(bad(
                "accounts",
                format!("{a:?} is not a 12-digit account id"),
            ));
        }
        let time = |field: &'static str, t: &Option<String>| {
            t.as_deref()
                .map(parse_time)
                .transpose()
                .map_err(|e| bad(field, e))
        };
        let (from_s, to_s) = (time("from", &request.from)?, time("to", &request.to)?);
        if let (Some(from), Some(to)) = (from_s, to_s)
            && from >= to
        {
            return Err(bad("to", "must be later than from"));
        }
        let mut kinds = Vec::new();
        if digests {
            kinds.push(ObjectKind::Digest);
        }
        for name in request.kinds.iter().filter(|_| !digests) {
            match ObjectKind::from_name(name.trim()) {
                Some(ObjectKind::Digest) => {
                    return Err(bad("kinds", "digest files are never replayed"));
                }
                Some(kind) => kinds.push(kind),
                None => {
                    return Err(bad(
                        "kinds",
                        format!(
                            "{name:?} is not one of log, insight, network-activity, aggregated"
                        ),
                    ));
                }
            }
        }
        if kinds.is_empty() {
            kinds = DEFAULT_KINDS.to_vec();
        }
        // Visited in key order: "CloudTrail-Insight/" sorts before "CloudTrail/".
        kinds.sort_by_key(|k| format!("{}/", k.folder().unwrap_or_default()));
        kinds.dedup();
        Ok(Self {
            bucket: request.bucket.trim().to_owned(),
            root,
            within,
            accounts: request.accounts.iter().cloned().collect(),
            regions: request
                .regions
                .iter()
                .map(|r| r.trim().to_owned())
                .collect(),
            from_s,
            to_s,
            kinds,
            start_after: request.start_after.clone(),
        })
    }

    /// The first day folder that can hold a file of the range: the day before `from`'s, for a
    /// file stamped just after midnight sits in the previous day's folder.
    fn first_day(&self) -> Option<KeyDate> {
        self.from_s.map(|s| KeyDate::of_epoch_s(s).plus_days(-1))
    }

    /// The last day folder that can hold a file of the range.
    fn last_day(&self) -> Option<KeyDate> {
        self.to_s.map(|s| KeyDate::of_epoch_s(s - 1))
    }

    /// Whether any key under `prefix` can be taken.
    fn admits_prefix(&self, prefix: &str) -> bool {
        let compatible = prefix.starts_with(&self.within) || self.within.starts_with(prefix);
        // Every key under `prefix` sorts before `start_after` unless `start_after` is under it.
        let done = self
            .start_after
            .as_deref()
            .is_some_and(|after| *prefix < *after && !after.starts_with(prefix));
        compatible && !done
    }

    /// Whether the dates from `lo` to `hi` meet the range's day folders.
    fn admits_dates(&self, lo: KeyDate, hi: KeyDate) -> bool {
        self.first_day().is_none_or(|first| hi >= first)
            && self.last_day().is_none_or(|last| lo <= last)
    }

    /// The object, if the replay takes it.
    pub fn select(&self, object: &ListedObject) -> Option<Selected> {
        let key = &object.key;
        if !key.starts_with(&self.within)
            || self
                .start_after
                .as_deref()
                .is_some_and(|after| key.as_str() <= after)
        {
            return None;
        }
        self.take(object)
    }

    /// The object, if its kind, account, region and delivery time are the request's (whatever
    /// the prefix and the bookmark).
    pub fn take(&self, object: &ListedObject) -> Option<Selected> {
        let parsed = TrailKey::parse(&object.key);
        let delivered_s = parsed.delivered_s()?;
        let account = parsed.account_id?;
        let region = parsed.region?;
        let taken = self.kinds.contains(&parsed.kind)
            && (self.accounts.is_empty() || self.accounts.contains(&account))
            && (self.regions.is_empty() || self.regions.contains(&region))
            && self.from_s.is_none_or(|from| delivered_s >= from)
            && self.to_s.is_none_or(|to| delivered_s < to);
        taken.then(|| Selected {
            object: object.clone(),
            account,
            region,
            date: parsed
                .date
                .unwrap_or_else(|| KeyDate::of_epoch_s(delivered_s)),
        })
    }
}

/// An object a replay takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Key, size, ETag.
    pub object: ListedObject,
    /// The account whose activity it holds.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its day folder.
    pub date: KeyDate,
}

/// What the folders at one level of the walk hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// `AWSLogs/`: organisations and accounts.
    Top,
    /// `o-ORG/`: accounts.
    Organization,
    /// `ACCOUNT/`: the kinds' folders (not listed: they are known).
    Account,
    /// `FOLDER/`: regions.
    Kind,
    /// `REGION/`: years.
    Region,
    /// `YYYY/`: months.
    Year,
    /// `MM/`: days.
    Month,
    /// `DD/`: files.
    Day,
}

/// The walk over a trail's folders, one day folder at a time, in key order.
#[derive(Debug)]
pub struct Walk {
    selection: Selection,
    /// Folders still to visit, the next on top.
    stack: Vec<(String, Level)>,
    /// List calls made.
    pub list_calls: u64,
    /// What the walk passed over because it is not named as a trail names its files and
    /// folders (a stamp that does not parse, a region folder that names no region): keys and
    /// folders, the first [`MAX_NAMED_SKIPS`], for the caller to name.
    pub skipped: Vec<String>,
    /// How many were passed over, named or not.
    pub skipped_count: u64,
}

/// How many passed-over keys a walk keeps to name (the rest are counted).
pub const MAX_NAMED_SKIPS: usize = 1000;

impl Walk {
    /// A walk of `selection`, from its root.
    pub fn new(selection: Selection) -> Self {
        let stack = vec![(selection.root.clone(), Level::Top)];
        Self {
            selection,
            stack,
            list_calls: 0,
            skipped: Vec::new(),
            skipped_count: 0,
        }
    }

    fn skip(&mut self, what: String) {
        self.skipped_count += 1;
        if self.skipped.len() < MAX_NAMED_SKIPS {
            self.skipped.push(what);
        }
    }

    /// The selection walked.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The objects taken from the next day folder that holds any, in key order; `None` when
    /// the walk is over. A failed listing leaves the folder on the stack, to try again.
    pub async fn next_day(
        &mut self,
        lister: &impl Lister,
    ) -> Result<Option<Vec<Selected>>, PortError> {
        while let Some((prefix, level)) = self.stack.last().cloned() {
            if level == Level::Account {
                self.stack.pop();
                let kinds = self.selection.kinds.iter().rev();
                let children = kinds
                    .filter_map(|k| k.folder())
                    .map(|folder| (format!("{prefix}{folder}/"), Level::Kind))
                    .filter(|(p, _)| self.selection.admits_prefix(p));
                self.stack.extend(children.collect::<Vec<_>>());
                continue;
            }
            self.list_calls += 1;
            let listing = lister
                .list(&self.selection.bucket, &prefix, level != Level::Day)
                .await?;
            self.stack.pop();
            if level == Level::Day {
                let mut taken = Vec::new();
                for object in &listing.objects {
                    match self.selection.select(object) {
                        Some(selected) => taken.push(selected),
                        None if !names_a_delivery(&object.key) => self.skip(object.key.clone()),
                        None => {}
                    }
                }
                if taken.is_empty() {
                    continue;
                }
                return Ok(Some(taken));
            }
            let mut children: Vec<(String, Level)> = Vec::new();
            for child in listing.prefixes {
                let segment = child[prefix.len()..].trim_end_matches('/');
                if level == Level::Kind && !is_region_name(segment) {
                    // Refused by name: no key service is ever asked about such a region.
                    self.skip(child.clone());
                    continue;
                }
                if let Some(next) = self.child_level(&prefix, level, segment)
                    && self.selection.admits_prefix(&child)
                {
                    children.push((child, next));
                }
            }
            self.stack.extend(children.into_iter().rev());
        }
        Ok(None)
    }

    /// The level of `segment` under a folder of `level`, if the walk goes there.
    fn child_level(&self, prefix: &str, level: Level, segment: &str) -> Option<Level> {
        let s = &self.selection;
        let number = |n: usize| segment.len() == n && segment.bytes().all(|b| b.is_ascii_digit());
        let account =
            |a: &str| is_account_id(a) && (s.accounts.is_empty() || s.accounts.contains(a));
        match level {
            Level::Top if is_org_id(segment) => Some(Level::Organization),
            Level::Top | Level::Organization => account(segment).then_some(Level::Account),
            Level::Kind => {
                (s.regions.is_empty() || s.regions.contains(segment)).then_some(Level::Region)
            }
            // Dates compare as (year, month, day): a year runs from its 1/1 to its 12/31, a month
            // from its 1st to its "31st", whatever its length.
            Level::Region if number(4) => {
                let year: u16 = segment.parse().ok()?;
                let (lo, hi) = (date(year, 1, 1)?, date(year, 12, 31)?);
                s.admits_dates(lo, hi).then_some(Level::Year)
            }
            Level::Year if number(2) => {
                let year: u16 = last_segment(prefix)?.parse().ok()?;
                let lo = date(year, segment.parse().ok()?, 1)?;
                let hi = KeyDate { day: 31, ..lo };
                s.admits_dates(lo, hi).then_some(Level::Month)
            }
            Level::Month if number(2) => {
                let mut parts = prefix.trim_end_matches('/').rsplit('/');
                let month: u8 = parts.next()?.parse().ok()?;
                let year: u16 = parts.next()?.parse().ok()?;
                let day = date(year, month, segment.parse().ok()?)?;
                s.admits_dates(day, day).then_some(Level::Day)
            }
            _ => None,
        }
    }
}

/// Whether `key` is named as a trail names its files: in the layout, with a delivery stamp
/// that parses.
fn names_a_delivery(key: &str) -> bool {
    let parsed = TrailKey::parse(key);
    parsed.kind != ObjectKind::Other && parsed.delivered_s().is_some()
}

/// Whether `segment` is shaped as an AWS region's name (`us-east-1`, `us-gov-west-1`,
/// `eusc-de-east-1`): letters, then one or two more words, then a number
/// (<https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html>).
pub fn is_region_name(segment: &str) -> bool {
    let parts: Vec<&str> = segment.split('-').collect();
    let word = |w: &&str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase());
    matches!(parts.len(), 3 | 4)
        && (2..=4).contains(&parts[0].len())
        && parts[..parts.len() - 1].iter().all(word)
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The last segment of a folder prefix (`a/b/` gives `b`).
fn last_segment(prefix: &str) -> Option<&str> {
    prefix.trim_end_matches('/').rsplit('/').next()
}

/// A valid date.
fn date(year: u16, month: u8, day: u8) -> Option<KeyDate> {
    jiff::civil::Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    Some(KeyDate { year, month, day })
}
