//! The log files in a chain's folders that no digest of the chain lists: planted files the
//! forwarder would forward as genuine.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Checker;
use crate::integrity::keys::KeyStore;
use crate::integrity::{Chain, Finding, FindingKind};
use crate::key::{KeyDate, ObjectKind, TrailKey};
use crate::ports::{ObjectSource, PortError};

/// How far the look for unlisted log files went: files stamped from `from_s` on are judged by
/// the next check, and `listed` are those of them a digest already read lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Seconds since the Unix epoch.
    pub from_s: i64,
    /// Keys listed by digests read so far, stamped at `from_s` or later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listed: Vec<String>,
}

/// How long after its stamp (the end of its 5-minute window) a log file may still be
/// delivered, and so listed by a later digest: files are judged unlisted only once the chain's
/// digests cover this long after their stamp.
pub(crate) const LISTING_DELAY_S: i64 = 3600;

impl<S: ObjectSource, K: KeyStore> Checker<'_, S, K> {
    /// Names the log files in the chain's folders that no digest lists, stamped where the
    /// digests read cover them (from where the last look stopped, or the first digest's start,
    /// to [`LISTING_DELAY_S`] before the newest digest's end); returns where the next look
    /// starts.
    pub(super) fn check_unlisted(
        &mut self,
        chain: &Chain,
        before: Option<Coverage>,
        out: &mut dyn FnMut(Finding),
    ) -> Result<Option<Coverage>, PortError> {
        let (Some(list), Some((start_s, end_s))) = (self.evidence.lister, self.covered.window)
        else {
            return Ok(before);
        };
        if self.covered.broken {
            // Judged again once the chain's digests stand: from where the last look stopped.
            return Ok(before);
        }
        let covered = std::mem::take(&mut self.covered);
        let (from_s, mut listed) = match before {
            Some(c) => (c.from_s, c.listed.into_iter().collect()),
            None => (start_s, BTreeSet::new()),
        };
        listed.extend(covered.listed);
        let to_s = end_s - LISTING_DELAY_S;
        if to_s <= from_s {
            return Ok(Some(Coverage {
                from_s,
                listed: listed.into_iter().collect(),
            }));
        }
        let marker = format!("CloudTrail-Digest/{}/", chain.region);
        let Some(account_folder) = chain.folder.strip_suffix(&marker) else {
            return Ok(None);
        };
        let detail = format!(
            "no digest of its chain lists it, and they cover its time (to {})",
            jiff::Timestamp::from_second(end_s).map_or(end_s.to_string(), |t| t.to_string())
        );
        // A file stamped just after midnight sits in the day before's folder.
        let mut day = KeyDate::of_epoch_s(from_s).plus_days(-1);
        let last_day = KeyDate::of_epoch_s(to_s);
        while day <= last_day {
            let date = format!("{:04}/{:02}/{:02}", day.year, day.month, day.day);
            for kind in [ObjectKind::Log, ObjectKind::NetworkActivity] {
                let folder = kind.folder().unwrap_or_default();
                let prefix = format!("{account_folder}{folder}/{}/{date}/", chain.region);
                for key in list(&prefix)? {
                    let parsed = TrailKey::parse(&key);
                    let stamped = parsed.delivered_s().filter(|t| (from_s..to_s).contains(t));
                    if parsed.kind != kind || stamped.is_none() || listed.contains(&key) {
                        continue;
                    }
                    let kind = FindingKind::LogFileUnlisted;
                    out(self.found(chain, kind, key, None, detail.clone()));
                }
            }
            day = day.plus_days(1);
        }
        let tail = listed
            .into_iter()
            .filter(|k| TrailKey::parse(k).delivered_s().is_none_or(|t| t >= to_s))
            .collect();
        Ok(Some(Coverage {
            from_s: to_s,
            listed: tail,
        }))
    }
}
