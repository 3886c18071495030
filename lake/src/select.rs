//! Which log files the lake takes, grouped by window: the walk and selection `replay` uses
//! (same folders listed, same from-inclusive, to-exclusive rule on the delivery time a file's
//! name states).

use std::collections::BTreeMap;

use trailrelay::key::{ObjectKind, TrailKey};
use trailrelay::ports::{ListedObject, Lister, PortError};
use trailrelay::replay::select::Walk;
use trailrelay::replay::{Request, Selection};

use trailrelay::lake::Window;

/// Every kind of log file the forwarder forwards (all but digests): the lake holds what the
/// archive holds.
pub const KINDS: &[ObjectKind] = &[
    ObjectKind::Log,
    ObjectKind::Insight,
    ObjectKind::NetworkActivity,
    ObjectKind::Aggregated,
];

/// The request for the lake's files of a trail: every kind of [`KINDS`], delivered from `from`
/// (inclusive) to `to` (exclusive), RFC 3339 or dates.
pub fn request(bucket: &str, prefix: &str, from: Option<String>, to: Option<String>) -> Request {
    Request {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        from,
        to,
        kinds: KINDS.iter().map(|k| k.as_str().to_owned()).collect(),
        ..Request::default()
    }
}

/// The log files of a selection, by window, oldest window first.
#[derive(Debug, Default)]
pub struct Windows {
    /// Each window's files, in key order.
    pub windows: BTreeMap<Window, Vec<ListedObject>>,
    /// Keys and folders passed over because they are not named as a trail names them.
    pub skipped: Vec<String>,
    /// How many were passed over.
    pub skipped_count: u64,
}

impl Windows {
    /// Log files in all.
    pub fn files(&self) -> usize {
        self.windows.values().map(Vec::len).sum()
    }
}

/// Walks `selection` with `lister` and groups what it takes by window.
pub async fn windows(lister: &impl Lister, selection: Selection) -> Result<Windows, PortError> {
    let mut walk = Walk::new(selection);
    let mut found = Windows::default();
    while let Some(day) = walk.next_day(lister).await? {
        for selected in day {
            // The selection took it: its name states a delivery time.
            let Some(delivered_s) = TrailKey::parse(&selected.object.key).delivered_s() else {
                continue;
            };
            found
                .windows
                .entry(Window::of(delivered_s))
                .or_default()
                .push(selected.object);
        }
    }
    for files in found.windows.values_mut() {
        files.sort_by(|a, b| a.key.cmp(&b.key));
    }
    found.skipped = walk.skipped;
    found.skipped_count = walk.skipped_count;
    Ok(found)
}
