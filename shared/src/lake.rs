//! The lake's delivery windows and their records: what a commit holds (the manifest), what the
//! digest validator reads of it (a chain's index), and what an attempt in progress has written
//! (the pending record). The lake itself (the Iceberg table) is written by the
//! `trailrelay-lake` crate; this is the part the proof reads.
//!
//! A window is an hour of log files, selected by the delivery time their names state, from
//! inclusive to exclusive: the selection `replay` makes. Each commit of a window has a
//! manifest, `_lake/windows/YYYY/MM/DD/HH/NNNN.json` under the table's location, numbered from
//! 1: the files it holds (key, version, SHA-256 of the decompressed bytes, records) and the
//! rows it added. Beside it, `NNNN/ACCOUNT/REGION.json` indexes the same files by account and
//! region, so that the validator, which checks one account and region at a time, reads only
//! theirs. The manifests of a window are what the table holds of it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::key::TrailKey;
use crate::ports::Version;

/// The lake's own folder under the table's location.
pub const LAKE_FOLDER: &str = "_lake";

/// The key prefix of the lake's own folder under a table location's prefix (`warehouse/t` or
/// `warehouse/t/` gives `warehouse/t/_lake/`; an empty one gives `_lake/`).
pub fn lake_prefix(location_prefix: &str) -> String {
    match location_prefix.trim_end_matches('/') {
        "" => format!("{LAKE_FOLDER}/"),
        prefix => format!("{prefix}/{LAKE_FOLDER}/"),
    }
}

/// Seconds in a window.
pub const WINDOW_S: i64 = 3600;

/// An hour of deliveries: `[start, start + 1 h)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    start_s: i64,
}

impl Window {
    /// The window holding a file delivered at `delivered_s` (seconds since the epoch).
    pub fn of(delivered_s: i64) -> Self {
        Self {
            start_s: delivered_s.div_euclid(WINDOW_S) * WINDOW_S,
        }
    }

    /// Its first second.
    pub fn start_s(self) -> i64 {
        self.start_s
    }

    /// Its first second after.
    pub fn end_s(self) -> i64 {
        self.start_s + WINDOW_S
    }

    fn civil(self) -> jiff::civil::DateTime {
        jiff::Timestamp::from_second(self.start_s)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .datetime()
    }

    /// `YYYY/MM/DD/HH`: the folder of its manifests.
    pub fn folder(self) -> String {
        let t = self.civil();
        format!(
            "{:04}/{:02}/{:02}/{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour()
        )
    }

    /// The key of the manifest of its `commit`th commit, under the lake's folder.
    pub fn manifest_name(self, commit: u32) -> String {
        format!("windows/{}/{commit:04}.json", self.folder())
    }

    /// The key of the index of one account and region's files in its `commit`th commit, under
    /// the lake's folder.
    pub fn chain_index_name(self, commit: u32, account: &str, region: &str) -> String {
        format!(
            "windows/{}/{commit:04}/{account}/{region}.json",
            self.folder()
        )
    }

    /// Reads `2026-12-06T13:00:00Z` back: a window's start, or `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let t: jiff::Timestamp = text.parse().ok()?;
        let window = Self::of(t.as_second());
        (window.start_s() == t.as_second()).then_some(window)
    }
}

impl fmt::Display for Window {
    /// `2026-12-06T13:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:00:00Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour()
        )
    }
}

/// A log file a commit holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The trail bucket (or local folder).
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// The version read (ETag, version id), where the store has them.
    #[serde(default, skip_serializing_if = "Version::is_empty")]
    pub version: Version,
    /// SHA-256 of the decompressed bytes, in hex: what the file's digest signs.
    pub sha256: String,
    /// Records the file holds.
    pub records: u64,
    /// Rows it added to the table (records a route kept out, or that are not JSON, are not
    /// rows).
    pub rows: u64,
    /// Records that are not JSON objects (counted, not rows).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One account and region's files in one commit of a window: what the validator reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainIndex {
    /// The files, in key order: key, SHA-256, records.
    pub files: Vec<IndexEntry>,
}

/// A file in a [`ChainIndex`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Its key.
    pub key: String,
    /// SHA-256 of the decompressed bytes, in hex.
    pub sha256: String,
    /// Records the file holds.
    pub records: u64,
}

/// One commit of a window: the files and rows it added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The window, as `2026-12-06T13:00:00Z`.
    pub window: String,
    /// Which commit of the window this is, from 1.
    pub commit: u32,
    /// The attempt that made it.
    pub attempt: String,
    /// The files, in key order.
    pub files: Vec<FileEntry>,
    /// Rows added.
    pub rows: u64,
    /// The data files written, by location.
    pub data_files: Vec<String>,
    /// Bytes of data files written.
    pub data_bytes: u64,
}

impl Manifest {
    /// What publishing it writes, in order, each as (name under the lake's folder, JSON): every
    /// account and region's index, then the manifest itself, so that a manifest in place means
    /// its indexes are. `None` when its window does not read back.
    pub fn published(&self) -> Option<Vec<(String, Vec<u8>)>> {
        let window = Window::parse(&self.window)?;
        let mut out: Vec<(String, Vec<u8>)> = self
            .chains()
            .into_iter()
            .map(|((account, region), index)| {
                let name = window.chain_index_name(self.commit, &account, &region);
                (name, json(&index))
            })
            .collect();
        out.push((window.manifest_name(self.commit), json(self)));
        Some(out)
    }

    /// Its files by account and region (from each key; a key that names neither is under
    /// empty names).
    pub fn chains(&self) -> BTreeMap<(String, String), ChainIndex> {
        let mut chains: BTreeMap<(String, String), ChainIndex> = BTreeMap::new();
        for file in &self.files {
            let key = TrailKey::parse(&file.key);
            let chain = (
                key.account_id.unwrap_or_default(),
                key.region.unwrap_or_default(),
            );
            chains.entry(chain).or_default().files.push(IndexEntry {
                key: file.key.clone(),
                sha256: file.sha256.clone(),
                records: file.records,
            });
        }
        chains
    }
}

/// An attempt at a commit, written before its first data file and again before the commit:
/// `_lake/pending.json`. One writer per table, so at most one is pending; the next run reads it
/// and either publishes its manifest (the table holds its snapshot) or removes its data files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The attempt's id: also in its data files' names and its snapshot's summary.
    pub attempt: String,
    /// When it started, in milliseconds since the epoch.
    pub started_ms: i64,
    /// Its window, `2026-12-06T13:00:00Z`: with the attempt, it names the folder of its data
    /// files ([`attempt_folder`]).
    #[serde(default)]
    pub window: String,
    /// What it will commit, once its data files are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
}

/// A record as pretty JSON (which cannot fail for these plain types).
fn json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

/// The folder of an attempt's data files under the table's data folder, `YYYYMMDDHH-ATTEMPT`:
/// everything it wrote is under it, so an attempt that did not commit is removed whole. `None`
/// for an attempt id that is not one a writer makes (lowercase hex), so that no record read back
/// can name a folder of its own choosing.
pub fn attempt_folder(window: Window, attempt: &str) -> Option<String> {
    let hex = !attempt.is_empty()
        && attempt.len() <= 32
        && attempt
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex.then(|| format!("{}-{attempt}", window.folder().replace('/', "")))
}

/// Snapshot summary properties a window's commit sets.
pub mod summary {
    /// The window, `2026-12-06T13:00:00Z`.
    pub const WINDOW: &str = "trailrelay.window";
    /// The commit's number within its window.
    pub const COMMIT: &str = "trailrelay.commit";
    /// The attempt's id.
    pub const ATTEMPT: &str = "trailrelay.attempt";
    /// Log files the commit holds.
    pub const FILES: &str = "trailrelay.files";
    /// Records of those files.
    pub const RECORDS: &str = "trailrelay.records";
    /// Rows added.
    pub const ROWS: &str = "trailrelay.rows";
    /// The manifest's location.
    pub const MANIFEST: &str = "trailrelay.manifest";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_the_hour_of_the_delivery() {
        // 2026-12-06T13:59:59Z and 13:00:00Z are in one window; 14:00:00Z starts the next.
        let at = |s: &str| s.parse::<jiff::Timestamp>().map(|t| t.as_second());
        let w = Window::of(at("2026-12-06T13:59:59Z").unwrap_or_default());
        assert_eq!(
            w,
            Window::of(at("2026-12-06T13:00:00Z").unwrap_or_default())
        );
        assert_ne!(
            w,
            Window::of(at("2026-12-06T14:00:00Z").unwrap_or_default())
        );
        assert_eq!(w.to_string(), "2026-12-06T13:00:00Z");
        assert_eq!(w.manifest_name(2), "windows/2026/12/06/13/0002.json");
        assert_eq!(w.end_s() - w.start_s(), 3600);
    }

    #[test]
    fn a_window_before_the_epoch_still_starts_on_its_hour() {
        assert_eq!(Window::of(-1).start_s(), -3600);
    }
}
