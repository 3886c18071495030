//! S3 object keys of a CloudTrail trail: what an object is and whose activity it holds.
//!
//! A trail writes under `[prefix/]AWSLogs/[o-org/]ACCOUNT/<folder>/REGION/YYYY/MM/DD/FILE`, where
//! `<folder>` is `CloudTrail` (management and data events), `CloudTrail-Digest` (digests),
//! `CloudTrail-Insight` (Insights events), `CloudTrail-NetworkActivity` (network activity
//! events) or `CloudTrail-Aggregated` (aggregated data events), and `FILE` repeats the account,
//! the folder and the region
//! ("Finding your CloudTrail log files",
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-find-log-files.html>).
//! The prefix may itself contain `/`, so parsing anchors on the last `AWSLogs` segment and reads
//! rightwards. A key that does not follow the layout exactly is [`ObjectKind::Other`]: it is
//! classified, never guessed at.
//!
//! Keys in S3 event notifications are form-encoded (a space arrives as `+`); [`form_decode`]
//! turns them back into the key S3 stores, and [`TrailKey::parse`] takes decoded keys only.

use std::borrow::Cow;
use std::fmt;

/// What a trail object holds, read from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A log file of management, data or network-activity events (`CloudTrail/`).
    Log,
    /// An hourly digest file for log file integrity validation (`CloudTrail-Digest/`).
    Digest,
    /// A log file of Insights events (`CloudTrail-Insight/`).
    Insight,
    /// A log file of network activity events (`CloudTrail-NetworkActivity/`).
    NetworkActivity,
    /// A log file of aggregated data events (`CloudTrail-Aggregated/`).
    Aggregated,
    /// Anything else: outside the layout, or inconsistent with it.
    Other,
}

impl ObjectKind {
    /// The lower-case name used in summaries and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Digest => "digest",
            Self::Insight => "insight",
            Self::NetworkActivity => "network-activity",
            Self::Aggregated => "aggregated",
            Self::Other => "other",
        }
    }

    /// The folder a trail writes this kind under (`CloudTrail`, `CloudTrail-Digest`, ...);
    /// `None` for [`ObjectKind::Other`].
    pub fn folder(self) -> Option<&'static str> {
        match self {
            Self::Log => Some("CloudTrail"),
            Self::Digest => Some("CloudTrail-Digest"),
            Self::Insight => Some("CloudTrail-Insight"),
            Self::NetworkActivity => Some("CloudTrail-NetworkActivity"),
            Self::Aggregated => Some("CloudTrail-Aggregated"),
            Self::Other => None,
        }
    }

    /// The kind named `name` ([`ObjectKind::as_str`]), except `other`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Log,
            Self::Digest,
            Self::Insight,
            Self::NetworkActivity,
            Self::Aggregated,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    fn from_folder(folder: &str) -> Option<Self> {
        match folder {
            "CloudTrail" => Some(Self::Log),
            "CloudTrail-Digest" => Some(Self::Digest),
            "CloudTrail-Insight" => Some(Self::Insight),
            "CloudTrail-NetworkActivity" => Some(Self::NetworkActivity),
            "CloudTrail-Aggregated" => Some(Self::Aggregated),
            _ => None,
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A UTC calendar date taken from a key's `YYYY/MM/DD` folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyDate {
    /// Four-digit year.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, valid for that month and year.
    pub day: u8,
}

impl fmt::Display for KeyDate {
    /// Formats as `YYYY-MM-DD`, the archive's `date=` partition value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A key parsed against the trail layout. Fields are `None` exactly when `kind` is `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailKey {
    /// What the object holds.
    pub kind: ObjectKind,
    /// The organization id (`o-...`) of an organization trail; `None` for a single-account trail.
    pub org_id: Option<String>,
    /// The account whose activity the object records (for organization trails, the member).
    pub account_id: Option<String>,
    /// The region whose events the object holds.
    pub region: Option<String>,
    /// The UTC delivery date from the key's folders.
    pub date: Option<KeyDate>,
    /// The last path segment of the key.
    pub file_name: String,
}

impl TrailKey {
    /// Parses a decoded S3 key. Never fails: a key outside the layout is `ObjectKind::Other`.
    pub fn parse(key: &str) -> Self {
        let file_name = key.rsplit('/').next().unwrap_or(key).to_owned();
        Self::parse_layout(key).unwrap_or(Self {
            kind: ObjectKind::Other,
            org_id: None,
            account_id: None,
            region: None,
            date: None,
            file_name,
        })
    }

    fn parse_layout(key: &str) -> Option<Self> {
        let rest = match key.rfind("/AWSLogs/") {
            Some(i) => &key[i + "/AWSLogs/".len()..],
            None => key.strip_prefix("AWSLogs/")?,
        };
        let mut segments: Vec<&str> = rest.split('/').collect();
        let org_id = match segments.first() {
            Some(s) if is_org_id(s) => Some(segments.remove(0).to_owned()),
            _ => None,
        };
        let [account, folder, region, year, month, day, file] = segments[..] else {
            return None;
        };
        let kind = ObjectKind::from_folder(folder)?;
        if !is_account_id(account) || !is_region_like(region) {
            return None;
        }
        let date = parse_date(year, month, day)?;
        // The file name repeats account, folder and region; a mismatch means the object was not
        // written by CloudTrail, whatever folder it sits in.
        let expected = format!("{account}_{folder}_{region}_");
        if !file.starts_with(&expected) || !has_json_suffix(file) {
            return None;
        }
        Some(Self {
            kind,
            org_id,
            account_id: Some(account.to_owned()),
            region: Some(region.to_owned()),
            date: Some(date),
            file_name: file.to_owned(),
        })
    }

    /// Reads a file outside the trail layout by its name alone, for local copies kept flat
    /// (`ACCOUNT_FOLDER_REGION_STAMP_....json.gz`, as CloudTrail names every file): the kind,
    /// account and region from the name, the date from its stamp, no organization. `None` when
    /// the name is not one CloudTrail writes. Never used for S3 keys, where the place is the
    /// proof of the account.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let mut fields = name.splitn(4, '_');
        let (account, folder, region) = (fields.next()?, fields.next()?, fields.next()?);
        let kind = ObjectKind::from_folder(folder)?;
        if !is_account_id(account) || !is_region_like(region) || !has_json_suffix(name) {
            return None;
        }
        let mut parsed = Self {
            kind,
            org_id: None,
            account_id: Some(account.to_owned()),
            region: Some(region.to_owned()),
            date: None,
            file_name: name.to_owned(),
        };
        parsed.date = Some(KeyDate::of_epoch_s(parsed.delivered_s()?));
        Some(parsed)
    }

    /// The delivery time a log file's name states (`..._YYYYMMDDTHHmmZ_...`, the end of its
    /// delivery window), in seconds since the Unix epoch. `None` for digests (whose names carry
    /// the trail first) and for names without a valid stamp.
    pub fn delivered_s(&self) -> Option<i64> {
        match self.kind {
            ObjectKind::Other => None,
            // ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOME_STAMP[_backfill].json.gz: the stamp,
            // with seconds, is the digest's end time (trail names may hold `_`).
            ObjectKind::Digest => parse_stamp(digest_name_parts(&self.file_name)?.1),
            // ACCOUNT_FOLDER_REGION_STAMP_UNIQUE: the stamp is the fourth field.
            _ => parse_stamp(self.file_name.split('_').nth(3)?),
        }
    }

    /// The file name without its `.json.gz` or `.json` suffix: the stem of the archive object.
    pub fn stem(&self) -> &str {
        strip_json_suffix(&self.file_name)
    }
}

/// The bucket and key prefix of an `s3://BUCKET[/PREFIX]` URL; `None` for anything else.
pub fn s3_url(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.to_owned()))
}

/// A key prefix as a folder: empty, or its segments without leading or trailing `/` and then
/// one `/`.
pub fn folder(prefix: &str) -> String {
    match prefix.trim_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    }
}

/// The chain (`TRAIL_HOMEREGION`) and the stamp of a digest file's name,
/// `ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_STAMP[_backfill].json.gz`; trail names may
/// hold `_`.
pub fn digest_name_parts(name: &str) -> Option<(&str, &str)> {
    let rest = name.split_once("_CloudTrail-Digest_")?.1;
    let rest = rest.split_once('_')?.1;
    let stem = rest.strip_suffix(".json.gz")?;
    let stem = stem.strip_suffix("_backfill").unwrap_or(stem);
    stem.rsplit_once('_')
}

/// True if `name` ends in `.json.gz` or `.json`, the encodings a trail writes.
pub fn has_json_suffix(name: &str) -> bool {
    strip_json_suffix(name).len() != name.len()
}

fn strip_json_suffix(name: &str) -> &str {
    name.strip_suffix(".json.gz")
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(name)
}

/// `o-` then 10 to 32 lower-case letters or digits (AWS Organizations `Organization.Id`,
/// <https://docs.aws.amazon.com/organizations/latest/APIReference/API_Organization.html>).
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|id| {
        (10..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// An AWS account id: 12 digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Region names are lower-case letters, digits and `-`. Not checked against a list: new regions
/// appear, and anonymised public data rewrites them.
fn is_region_like(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn parse_date(year: &str, month: &str, day: &str) -> Option<KeyDate> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return None;
    }
    let (y, m, d) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    // jiff knows month lengths and leap years.
    jiff::civil::Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()?;
    Some(KeyDate {
        year: y,
        month: m,
        day: d,
    })
}

/// `YYYYMMDDTHHmmZ` (log files) or `YYYYMMDDTHHmmssZ` (digests), UTC, in seconds since the
/// Unix epoch. Every position is checked to be the ASCII it must be before anything is read from
/// it: a name is untrusted input, and a stamp such as `202é101T000000Z` has the right length.
fn parse_stamp(stamp: &str) -> Option<i64> {
    let b = stamp.as_bytes();
    let well_formed = matches!(b.len(), 14 | 16)
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            _ if i == b.len() - 1 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !well_formed {
        return None;
    }
    // All ASCII from here: slicing by byte is slicing by character.
    let number = |from: usize| -> Option<i8> { stamp.get(from..from + 2)?.parse().ok() };
    let date = parse_date(stamp.get(0..4)?, stamp.get(4..6)?, stamp.get(6..8)?)?;
    let seconds = if b.len() == 16 { number(13)? } else { 0 };
    let time = jiff::civil::Time::new(number(9)?, number(11)?, seconds, 0).ok()?;
    date.civil()
        .to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

impl KeyDate {
    /// The same date as a `jiff` civil date.
    pub fn civil(self) -> jiff::civil::Date {
        // Built only from dates `parse_date` checked, or from civil dates.
        jiff::civil::Date::new(self.year as i16, self.month as i8, self.day as i8)
            .unwrap_or_default()
    }

    /// The UTC date of `seconds` since the Unix epoch.
    pub fn of_epoch_s(seconds: i64) -> Self {
        let date = jiff::Timestamp::from_second(seconds)
            .unwrap_or_default()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        Self::from_civil(date)
    }

    /// The date `days` later (earlier, when negative).
    pub fn plus_days(self, days: i32) -> Self {
        Self::from_civil(
            self.civil()
                .checked_add(jiff::Span::new().days(days))
                .unwrap_or_else(|_| self.civil()),
        )
    }

    fn from_civil(date: jiff::civil::Date) -> Self {
        Self {
            year: date.year() as u16,
            month: date.month() as u8,
            day: date.day() as u8,
        }
    }
}

/// Encodes a key as S3 event notifications carry it, the inverse of [`form_decode`]: bytes
/// other than letters, digits, `-_.~/` are percent-encoded, and a space becomes `+`.
pub fn form_encode(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    // A `%` of the key is itself encoded, so "%20" in the result can only stand for a space.
    percent_encoding::utf8_percent_encode(key, KEEP)
        .to_string()
        .replace("%20", "+")
}

/// A key in an S3 event notification that does not decode to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object key {raw:?} does not form-decode to UTF-8")]
pub struct KeyDecodeError {
    /// The key as it arrived.
    pub raw: String,
}

/// Decodes a key as S3 event notifications carry it (`application/x-www-form-urlencoded`,
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>):
/// `+` becomes a space first, then `%XX` escapes are decoded, so a real `+` (sent as `%2B`)
/// survives.
pub fn form_decode(raw: &str) -> Result<Cow<'_, str>, KeyDecodeError> {
    if !raw.contains(['+', '%']) {
        return Ok(Cow::Borrowed(raw));
    }
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| Cow::Owned(s.into_owned()))
        .map_err(|_| KeyDecodeError {
            raw: raw.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG_LOG: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                           111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";

    fn parsed(key: &str) -> TrailKey {
        TrailKey::parse(key)
    }

    #[test]
    fn organization_log_file() {
        let k = parsed(ORG_LOG);
        assert_eq!(k.kind, ObjectKind::Log);
        assert_eq!(k.org_id.as_deref(), Some("o-exampleorg1"));
        assert_eq!(k.account_id.as_deref(), Some("111122223333"));
        assert_eq!(k.region.as_deref(), Some("us-east-1"));
        assert_eq!(k.date.map(|d| d.to_string()).as_deref(), Some("2026-11-01"));
        assert_eq!(
            k.stem(),
            "111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678"
        );
    }

    #[test]
    fn single_account_log_file_with_prefix_containing_slashes_and_awslogs() {
        let key = "team/AWSLogs/archive/AWSLogs/123456789012/CloudTrail/eu-central-1/2017/12/11/\
                   123456789012_CloudTrail_eu-central-1_20171211T1505Z_A6kvhMoVeCsc7v8U.json.gz";
        let k = parsed(key);
        assert_eq!(k.kind, ObjectKind::Log);
        assert_eq!(k.org_id, None);
        assert_eq!(k.account_id.as_deref(), Some("123456789012"));
        assert_eq!(k.region.as_deref(), Some("eu-central-1"));
    }

    #[test]
    fn digest_and_insight_files() {
        let digest = "p/AWSLogs/o-aaaaaaaaaa/327878933619/CloudTrail-Digest/ap-northeast-1/2023/10/15/\
                      327878933619_CloudTrail-Digest_ap-northeast-1_llm-guard-trail_us-west-2_20231015T230404Z.json.gz";
        assert_eq!(parsed(digest).kind, ObjectKind::Digest);
        let insight = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/01/31/\
                       111122223333_CloudTrail-Insight_us-east-1_20260131T2355Z_0123456789abcdef.json.gz";
        let k = parsed(insight);
        assert_eq!(k.kind, ObjectKind::Insight);
        assert_eq!(k.date.map(|d| d.to_string()).as_deref(), Some("2026-01-31"));
    }

    #[test]
    fn network_activity_and_aggregated_files_have_folders_of_their_own() {
        for (folder, kind) in [
            ("CloudTrail-NetworkActivity", ObjectKind::NetworkActivity),
            ("CloudTrail-Aggregated", ObjectKind::Aggregated),
        ] {
            let key = format!(
                "AWSLogs/o-aaaaaaaaaa/111122223333/{folder}/us-west-2/2025/11/17/\
                 111122223333_{folder}_us-west-2_20251117T1925Z_0123456789abcdef.json.gz"
            );
            let k = parsed(&key);
            assert_eq!(k.kind, kind, "{key}");
            assert_eq!(
                (k.account_id.as_deref(), k.region.as_deref()),
                (Some("111122223333"), Some("us-west-2"))
            );
        }
    }

    #[test]
    fn plain_json_suffix_is_a_log_file() {
        let key = "AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/\
                   218007301253_CloudTrail_us-east-1_20230710T1230Z_04rtp9DpvIpSZzMr.json";
        let k = parsed(key);
        assert_eq!(k.kind, ObjectKind::Log);
        assert_eq!(
            k.stem(),
            "218007301253_CloudTrail_us-east-1_20230710T1230Z_04rtp9DpvIpSZzMr"
        );
    }

    #[test]
    fn keys_outside_the_layout_are_other() {
        for key in [
            "",
            "README.md",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/",
            // CloudTrail's own write check object.
            "AWSLogs/111122223333/CloudTrail/ConfigWritabilityCheckFile",
            // File name disagrees with the folder's account.
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/999999999999_CloudTrail_us-east-1_x.json.gz",
            // File name disagrees with the region.
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_eu-west-1_x.json.gz",
            // Not a date.
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/02/30/111122223333_CloudTrail_us-east-1_x.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/26/11/01/111122223333_CloudTrail_us-east-1_x.json.gz",
            // Account id of 11 digits.
            "AWSLogs/11112222333/CloudTrail/us-east-1/2026/11/01/11112222333_CloudTrail_us-east-1_x.json.gz",
            // Unknown folder.
            "AWSLogs/111122223333/Config/us-east-1/2026/11/01/111122223333_Config_us-east-1_x.json.gz",
            // Not a JSON object.
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_x.txt",
            // Org id too short: then "o-short" is read as the account and fails.
            "AWSLogs/o-short/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_x.json.gz",
        ] {
            let k = parsed(key);
            assert_eq!(k.kind, ObjectKind::Other, "{key}");
            assert_eq!(
                (k.account_id, k.region, k.date),
                (None, None, None),
                "{key}"
            );
        }
    }

    #[test]
    fn a_log_file_names_its_delivery_minute() {
        let at = |key: &str| TrailKey::parse(key).delivered_s();
        // 2026-11-01T00:05:00Z
        assert_eq!(at(ORG_LOG), Some(1_793_491_500));
        let insight = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/11/01/\
                       111122223333_CloudTrail-Insight_us-east-1_20261101T2359Z_abcdEFGH12345678.json.gz";
        assert_eq!(at(insight), Some(1_793_491_500 - 300 + 86_340));
        let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/\
                      111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T000000Z.json.gz";
        // A digest names its end time, to the second; trail names may hold `_`.
        assert_eq!(at(digest), Some(1_793_491_200));
        let backfill = digest.replace(
            "_t_us-east-1_20261101T000000Z",
            "_my_trail_us-east-1_20261101T000107Z_backfill",
        );
        assert_eq!(at(&backfill), Some(1_793_491_267));
        let bad_minute = ORG_LOG.replace("T0005Z", "T0060Z");
        assert_eq!(at(&bad_minute), None);
        assert_eq!(KeyDate::of_epoch_s(1_793_491_500).to_string(), "2026-11-01");
        assert_eq!(
            KeyDate::of_epoch_s(1_793_491_500).plus_days(-1).to_string(),
            "2026-10-31"
        );
    }

    #[test]
    fn stamps_are_read_only_from_ascii_digits() {
        let at = |key: &str| TrailKey::parse(key).delivered_s();
        // The right length and `T`, `Z` in place, but a multi-byte character where digits go:
        // refused, never sliced inside a character.
        for stamp in [
            // 16 and 14 bytes, `T` and `Z` in place: only the digits check refuses them.
            "202é101T000000Z",
            "202é101T0005Z",
            "20261101T0é5Z",
            "20261101T00é00Z",
        ] {
            let digest = format!(
                "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/\
                 111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_{stamp}.json.gz"
            );
            assert_eq!(at(&digest), None, "{stamp}");
            let log = ORG_LOG.replace("20261101T0005Z", stamp);
            assert_eq!(at(&log), None, "{stamp}");
            assert_eq!(
                TrailKey::from_file_name(&format!(
                    "111122223333_CloudTrail_us-east-1_{stamp}_x.json.gz"
                )),
                None
            );
        }
        for stamp in [
            "2026+101T0005Z",
            "20261101T+005Z",
            "20261101X0005Z",
            "20261101T0005z",
        ] {
            assert_eq!(
                at(&ORG_LOG.replace("20261101T0005Z", stamp)),
                None,
                "{stamp}"
            );
        }
    }

    #[test]
    fn a_flat_file_is_read_by_its_name() {
        let name = ORG_LOG.rsplit('/').next().unwrap();
        let k = TrailKey::from_file_name(name).unwrap();
        assert_eq!(k.kind, ObjectKind::Log);
        assert_eq!(
            (k.org_id, k.account_id.as_deref(), k.region.as_deref()),
            (None, Some("111122223333"), Some("us-east-1"))
        );
        assert_eq!(k.date.map(|d| d.to_string()).as_deref(), Some("2026-11-01"));
        let digest =
            "111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T000000Z.json.gz";
        assert_eq!(
            TrailKey::from_file_name(digest).map(|k| k.kind),
            Some(ObjectKind::Digest)
        );
        for other in [
            "README.md",
            "111122223333_CloudTrail_us-east-1_x.json.gz",
            "11112222333_CloudTrail_us-east-1_20261101T0005Z_x.json.gz",
            "111122223333_Config_us-east-1_20261101T0005Z_x.json.gz",
            "111122223333_CloudTrail_us-east-1_20261101T0005Z_x.txt",
        ] {
            assert_eq!(TrailKey::from_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn form_encoding_is_what_form_decoding_undoes() {
        for key in ["AWSLogs/o-1/a b+c%d/é/x.json.gz", "plain/key_1-2.~json"] {
            let encoded = form_encode(key);
            assert!(!encoded.contains(' '), "{encoded}");
            assert_eq!(form_decode(&encoded).unwrap(), key);
        }
        assert_eq!(form_encode("a b+c"), "a+b%2Bc");
    }

    #[test]
    fn leap_day_is_a_date() {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2028/02/29/\
                   111122223333_CloudTrail_us-east-1_20280229T0000Z_x.json.gz";
        assert_eq!(parsed(key).kind, ObjectKind::Log);
    }

    #[test]
    fn form_decoding_turns_plus_into_space_before_percent_decoding() {
        assert_eq!(form_decode("a+b%2Bc").unwrap(), "a b+c");
        assert_eq!(form_decode("dir%2Fa+b").unwrap(), "dir/a b");
        assert_eq!(
            form_decode("plain/key.json.gz").unwrap(),
            "plain/key.json.gz"
        );
        assert!(matches!(form_decode("plain"), Ok(Cow::Borrowed(_))));
        assert_eq!(form_decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(form_decode("%ff").unwrap_err().raw, "%ff");
    }

    #[test]
    fn decoded_moto_style_key_parses() {
        let raw = "AWSLogs%2Fo-exampleorg1%2F111122223333%2FCloudTrail%2Fus-east-1%2F2026%2F11%2F01%2F\
                   111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";
        assert_eq!(parsed(&form_decode(raw).unwrap()), parsed(ORG_LOG));
    }
}
