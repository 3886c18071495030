//! How far an object's log events got, for resuming it without sending any twice.

use serde::{Deserialize, Serialize};

/// How many of an object's events one log stream has accepted. A stream's events are counted
/// in the order the object's records send them there, and batches carry runs of that order, so
/// what a stream accepted is always a prefix of it: a later attempt skips that many and sends
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamProgress {
    /// The log group.
    pub group: String,
    /// The log stream.
    pub stream: String,
    /// Events accepted (those rejected one by one included: sending them again changes nothing).
    pub accepted: u64,
}

/// Per log stream, the events of one object accepted so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Progress(pub Vec<StreamProgress>);

impl Progress {
    /// Whether no event was accepted anywhere.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|s| s.accepted == 0)
    }

    /// Events accepted, all streams together.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|s| s.accepted).sum()
    }

    /// Counts `events` more accepted by `group`/`stream`.
    pub fn add(&mut self, group: &str, stream: &str, events: u64) {
        match self
            .0
            .iter_mut()
            .find(|s| s.group == group && s.stream == stream)
        {
            Some(s) => s.accepted += events,
            None => self.0.push(StreamProgress {
                group: group.to_owned(),
                stream: stream.to_owned(),
                accepted: events,
            }),
        }
    }

    /// Takes one event of `group`/`stream` off what is left to skip; whether there was one.
    pub(super) fn take(&mut self, group: &str, stream: &str) -> bool {
        self.0
            .iter_mut()
            .find(|s| s.group == group && s.stream == stream && s.accepted > 0)
            .map(|s| s.accepted -= 1)
            .is_some()
    }
}
