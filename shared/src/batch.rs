//! Groups log events into batches that CloudWatch Logs' PutLogEvents accepts as they are.
//!
//! [`LogBatcher`] is a pure state machine: events go in per destination stream, batches come
//! out through [`LogBatcher::take_ready`], each one within every documented limit of the call
//! (PutLogEvents API reference,
//! <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html>):
//! at most [`MAX_BATCH_BYTES`] counted as UTF-8 message bytes plus [`EVENT_OVERHEAD_BYTES`] per
//! event, at most [`MAX_BATCH_EVENTS`] events, spanning at most [`MAX_BATCH_SPAN_MS`], in
//! chronological order. Events arrive in any order (CloudTrail does not order a file's records),
//! so each batch is sorted when it is closed; events with equal timestamps keep their arrival
//! order. Nothing is dropped or duplicated: every event pushed comes out in exactly one batch.
//!
//! The per-event limits are checked here too, before batching: [`MAX_EVENT_BYTES`], and the
//! [`Window`] of times the service accepts (events older than 14 days or than the group's
//! retention, or more than 2 hours ahead, are refused one by one by the service; they are kept
//! out of the call instead, and the caller counts them). What still comes back rejected is for
//! the sink to report.

use std::collections::{HashMap, VecDeque};

/// Most bytes one PutLogEvents call may carry, counted as the sum of the events' UTF-8 message
/// bytes plus [`EVENT_OVERHEAD_BYTES`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes counted per event on top of its message.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// Most events one PutLogEvents call may carry.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Widest time span, in milliseconds, of the events of one PutLogEvents call: 24 hours.
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 60 * 60 * 1000;
/// Largest single message: an event of 1 MB (1,048,576 bytes with its overhead) is the most the
/// call takes.
pub const MAX_EVENT_BYTES: usize = MAX_BATCH_BYTES - EVENT_OVERHEAD_BYTES;
/// Events older than this (14 days), relative to the time of the call, are rejected one by one.
pub const MAX_EVENT_AGE_MS: i64 = 14 * 24 * 60 * 60 * 1000;
/// Events further in the future than this (2 hours) are rejected one by one.
pub const MAX_EVENT_LEAD_MS: i64 = 2 * 60 * 60 * 1000;
/// Destinations with a batch open at once; past this the fullest batch is closed early, so
/// memory stays bounded whatever spread of streams an object's records map to.
pub const MAX_OPEN_STREAMS: usize = 64;

/// One log event: a timestamp in milliseconds since the Unix epoch and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub timestamp_ms: i64,
    /// The message, UTF-8.
    pub message: Box<str>,
}

impl LogEvent {
    /// The bytes this event counts for in a batch.
    pub fn batch_bytes(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD_BYTES
    }
}

/// A batch for one log stream, ready for one PutLogEvents call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBatch {
    /// Log group name.
    pub group: String,
    /// Log stream name.
    pub stream: String,
    /// The events, in chronological order.
    pub events: Vec<LogEvent>,
    /// The account whose activity the events record, for per-account rate limits.
    pub source_account: Option<String>,
}

impl LogBatch {
    /// The bytes the batch counts for: messages plus the per-event overhead.
    pub fn batch_bytes(&self) -> usize {
        self.events.iter().map(LogEvent::batch_bytes).sum()
    }
}

/// Why an event cannot go in any PutLogEvents call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A message larger than [`MAX_EVENT_BYTES`].
    #[error(
        "a log event of {bytes} bytes exceeds the PutLogEvents limit of {MAX_EVENT_BYTES} bytes"
    )]
    TooLarge {
        /// The message's size.
        bytes: usize,
    },
    /// Older than the [`Window`] admits.
    #[error("the event is older than CloudWatch Logs accepts")]
    TooOld,
    /// Further ahead than the [`Window`] admits.
    #[error("the event is further in the future than CloudWatch Logs accepts")]
    TooNew,
}

/// The event times a PutLogEvents call made at a given time accepts: from [`MAX_EVENT_AGE_MS`]
/// (or the destination group's retention, when shorter) before it to [`MAX_EVENT_LEAD_MS`]
/// after it, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The oldest timestamp admitted, in milliseconds since the Unix epoch.
    pub oldest_ms: i64,
    /// The newest timestamp admitted.
    pub newest_ms: i64,
}

impl Window {
    /// Every time: no window.
    pub const ANY: Self = Self {
        oldest_ms: i64::MIN,
        newest_ms: i64::MAX,
    };

    /// The window of a call at `now_ms`, for a group that keeps events `max_age_ms` (at most
    /// [`MAX_EVENT_AGE_MS`] counts).
    pub fn at(now_ms: i64, max_age_ms: i64) -> Self {
        Self {
            oldest_ms: now_ms.saturating_sub(max_age_ms.min(MAX_EVENT_AGE_MS)),
            newest_ms: now_ms.saturating_add(MAX_EVENT_LEAD_MS),
        }
    }

    /// Whether an event at `timestamp_ms` may go in a call.
    pub fn admits(&self, timestamp_ms: i64) -> Result<(), Refused> {
        if timestamp_ms < self.oldest_ms {
            Err(Refused::TooOld)
        } else if timestamp_ms > self.newest_ms {
            Err(Refused::TooNew)
        } else {
            Ok(())
        }
    }
}

impl Default for Window {
    fn default() -> Self {
        Self::ANY
    }
}

#[derive(Debug, Default)]
struct Open {
    events: Vec<LogEvent>,
    bytes: usize,
    min_ms: i64,
    max_ms: i64,
}

impl Open {
    fn fits(&self, event: &LogEvent) -> bool {
        if self.events.is_empty() {
            return true;
        }
        let span = self.max_ms.max(event.timestamp_ms) - self.min_ms.min(event.timestamp_ms);
        self.events.len() < MAX_BATCH_EVENTS
            && self.bytes + event.batch_bytes() <= MAX_BATCH_BYTES
            && span <= MAX_BATCH_SPAN_MS
    }

    fn add(&mut self, event: LogEvent) {
        if self.events.is_empty() {
            self.min_ms = event.timestamp_ms;
            self.max_ms = event.timestamp_ms;
        } else {
            self.min_ms = self.min_ms.min(event.timestamp_ms);
            self.max_ms = self.max_ms.max(event.timestamp_ms);
        }
        self.bytes += event.batch_bytes();
        self.events.push(event);
    }

    fn close(&mut self, group: &str, stream: &str) -> LogBatch {
        let mut events = std::mem::take(&mut self.events);
        self.bytes = 0;
        // Stable: equal timestamps keep arrival order.
        events.sort_by_key(|e| e.timestamp_ms);
        LogBatch {
            group: group.to_owned(),
            stream: stream.to_owned(),
            events,
            source_account: None,
        }
    }
}

/// Collects events per (log group, log stream) and closes batches as they fill.
#[derive(Debug, Default)]
pub struct LogBatcher {
    /// group -> stream -> open batch. Two levels so lookups take `&str` without allocating.
    open: HashMap<String, HashMap<String, Open>>,
    open_count: usize,
    ready: VecDeque<LogBatch>,
    window: Window,
}

impl LogBatcher {
    /// An empty batcher that admits events of any time.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batcher that admits only events inside `window`.
    pub fn within(window: Window) -> Self {
        Self {
            window,
            ..Self::default()
        }
    }

    /// The times this batcher admits.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Adds an event for `group`/`stream`. A batch that cannot take it is closed first and
    /// becomes ready. Fails, keeping nothing, if the message is larger than [`MAX_EVENT_BYTES`]
    /// or its time is outside the window.
    pub fn push(&mut self, group: &str, stream: &str, event: LogEvent) -> Result<(), Refused> {
        if event.message.len() > MAX_EVENT_BYTES {
            return Err(Refused::TooLarge {
                bytes: event.message.len(),
            });
        }
        self.window.admits(event.timestamp_ms)?;
        let exists = self
            .open
            .get(group)
            .is_some_and(|streams| streams.contains_key(stream));
        if !exists && self.open_count >= MAX_OPEN_STREAMS {
            self.close_fullest();
        }
        let streams = match self.open.get_mut(group) {
            Some(s) => s,
            None => self.open.entry(group.to_owned()).or_default(),
        };
        let open = match streams.get_mut(stream) {
            Some(o) => o,
            None => {
                self.open_count += 1;
                streams.entry(stream.to_owned()).or_default()
            }
        };
        if !open.fits(&event) {
            self.ready.push_back(open.close(group, stream));
        }
        open.add(event);
        Ok(())
    }

    /// Closes every open batch; they all become ready.
    pub fn finish(&mut self) {
        for (group, streams) in self.open.drain() {
            let mut names: Vec<_> = streams.into_iter().collect();
            // Deterministic output order, whatever the hash map's.
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (stream, mut open) in names {
                if !open.events.is_empty() {
                    self.ready.push_back(open.close(&group, &stream));
                }
            }
        }
        self.open_count = 0;
    }

    /// The next closed batch, oldest first.
    pub fn take_ready(&mut self) -> Option<LogBatch> {
        self.ready.pop_front()
    }

    /// Events pushed but not yet in a ready batch.
    pub fn pending_events(&self) -> usize {
        self.open
            .values()
            .flat_map(HashMap::values)
            .map(|o| o.events.len())
            .sum()
    }

    fn close_fullest(&mut self) {
        let fullest = self
            .open
            .iter()
            .flat_map(|(g, streams)| streams.iter().map(move |(s, o)| (o.bytes, g, s)))
            .max()
            .map(|(_, g, s)| (g.clone(), s.clone()));
        if let Some((group, stream)) = fullest
            && let Some(streams) = self.open.get_mut(&group)
            && let Some(mut open) = streams.remove(&stream)
        {
            if streams.is_empty() {
                self.open.remove(&group);
            }
            self.open_count -= 1;
            self.ready.push_back(open.close(&group, &stream));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn event(ts: i64, len: usize) -> LogEvent {
        LogEvent {
            timestamp_ms: ts,
            message: "x".repeat(len).into(),
        }
    }

    fn drain(b: &mut LogBatcher) -> Vec<LogBatch> {
        b.finish();
        std::iter::from_fn(|| b.take_ready()).collect()
    }

    #[test]
    fn sorts_each_batch_and_keeps_arrival_order_for_ties() {
        let mut b = LogBatcher::new();
        for (ts, msg) in [(3, "c"), (1, "a"), (3, "d"), (2, "b")] {
            b.push(
                "g",
                "s",
                LogEvent {
                    timestamp_ms: ts,
                    message: msg.into(),
                },
            )
            .unwrap();
        }
        let batches = drain(&mut b);
        assert_eq!(batches.len(), 1);
        let msgs: Vec<&str> = batches[0].events.iter().map(|e| &*e.message).collect();
        assert_eq!(msgs, ["a", "b", "c", "d"]);
    }

    #[test]
    fn byte_limit_counts_the_overhead() {
        // Two events of exactly half the batch each fit; a third byte does not.
        let half = MAX_BATCH_BYTES / 2 - EVENT_OVERHEAD_BYTES;
        let mut b = LogBatcher::new();
        b.push("g", "s", event(0, half)).unwrap();
        b.push("g", "s", event(0, half)).unwrap();
        assert!(b.take_ready().is_none());
        b.push("g", "s", event(0, 1)).unwrap();
        let first = b.take_ready().unwrap();
        assert_eq!(first.batch_bytes(), MAX_BATCH_BYTES);
        assert_eq!(b.pending_events(), 1);
    }

    #[test]
    fn event_count_limit() {
        let mut b = LogBatcher::new();
        for i in 0..=MAX_BATCH_EVENTS {
            b.push("g", "s", event(i as i64, 1)).unwrap();
        }
        assert_eq!(b.take_ready().unwrap().events.len(), MAX_BATCH_EVENTS);
        assert_eq!(b.pending_events(), 1);
    }

    #[test]
    fn span_limit_is_24_hours_inclusive() {
        let mut b = LogBatcher::new();
        b.push("g", "s", event(MAX_BATCH_SPAN_MS, 1)).unwrap();
        b.push("g", "s", event(0, 1)).unwrap();
        assert!(b.take_ready().is_none());
        b.push("g", "s", event(MAX_BATCH_SPAN_MS + 1, 1)).unwrap();
        let first = b.take_ready().unwrap();
        assert_eq!(first.events.len(), 2);
    }

    #[test]
    fn largest_event_fits_alone_and_one_byte_more_is_refused() {
        let mut b = LogBatcher::new();
        b.push("g", "s", event(0, MAX_EVENT_BYTES)).unwrap();
        assert_eq!(
            b.push("g", "s", event(0, MAX_EVENT_BYTES + 1)),
            Err(Refused::TooLarge {
                bytes: MAX_EVENT_BYTES + 1
            })
        );
        let batches = drain(&mut b);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].batch_bytes(), MAX_BATCH_BYTES);
    }

    #[test]
    fn streams_are_batched_apart_and_open_streams_are_bounded() {
        let mut b = LogBatcher::new();
        for i in 0..(MAX_OPEN_STREAMS + 10) {
            b.push("g", &format!("s{i}"), event(0, 10 + i)).unwrap();
        }
        // The fullest streams were closed early to stay within the bound.
        let early: Vec<_> = std::iter::from_fn(|| b.take_ready()).collect();
        assert_eq!(early.len(), 10);
        assert!(early.iter().all(|batch| batch.events.len() == 1));
        let rest = drain(&mut b);
        assert_eq!(rest.len(), MAX_OPEN_STREAMS);
    }

    #[test]
    fn the_window_is_fourteen_days_back_or_the_retention_and_two_hours_ahead() {
        let now = 1_793_491_200_000;
        let w = Window::at(now, MAX_EVENT_AGE_MS);
        assert_eq!(w.admits(now - MAX_EVENT_AGE_MS), Ok(()));
        assert_eq!(w.admits(now - MAX_EVENT_AGE_MS - 1), Err(Refused::TooOld));
        assert_eq!(w.admits(now + MAX_EVENT_LEAD_MS), Ok(()));
        assert_eq!(w.admits(now + MAX_EVENT_LEAD_MS + 1), Err(Refused::TooNew));
        let day = 24 * 60 * 60 * 1000;
        let kept_a_day = Window::at(now, day);
        assert_eq!(kept_a_day.admits(now - day - 1), Err(Refused::TooOld));
        assert_eq!(Window::at(now, 30 * day), w, "never more than 14 days");
    }

    proptest! {
        /// With a clock injected, nothing outside the window is ever in a batch, and every
        /// event is either in exactly one batch or refused with its reason.
        #[test]
        fn nothing_outside_the_window_is_ever_batched(
            now in 1_000_000_000_000i64..2_000_000_000_000,
            age_days in 1i64..30,
            offsets in proptest::collection::vec(-20 * 24 * 3_600_000i64..4 * 3_600_000, 0..200),
        ) {
            let window = Window::at(now, age_days * 24 * 3_600_000);
            let mut b = LogBatcher::within(window);
            let (mut admitted, mut refused) = (Vec::new(), 0usize);
            for (i, offset) in offsets.iter().enumerate() {
                let ts = now + offset;
                match b.push("g", "s", LogEvent { timestamp_ms: ts, message: format!("{i}").into() }) {
                    Ok(()) => admitted.push((ts, format!("{i}"))),
                    Err(Refused::TooOld) => { prop_assert!(ts < window.oldest_ms); refused += 1 }
                    Err(Refused::TooNew) => { prop_assert!(ts > window.newest_ms); refused += 1 }
                    Err(e) => prop_assert!(false, "{e}"),
                }
            }
            let mut seen: Vec<(i64, String)> = drain(&mut b)
                .iter()
                .flat_map(|batch| batch.events.iter().map(|e| (e.timestamp_ms, e.message.to_string())))
                .collect();
            for (ts, _) in &seen {
                prop_assert!(window.admits(*ts).is_ok());
            }
            prop_assert_eq!(seen.len() + refused, offsets.len());
            seen.sort();
            admitted.sort();
            prop_assert_eq!(seen, admitted);
        }

        /// Whatever goes in comes out exactly once, each batch within every limit and sorted.
        #[test]
        fn batches_hold_every_limit_and_lose_nothing(
            events in proptest::collection::vec(
                (0u8..3, 0i64..(3 * MAX_BATCH_SPAN_MS), prop_oneof![0usize..200, 20_000usize..300_000]),
                0..300,
            )
        ) {
            let mut b = LogBatcher::new();
            let mut expected = Vec::new();
            for (i, (stream, ts, len)) in events.iter().enumerate() {
                let message = format!("{i}:{}", "m".repeat(*len));
                expected.push((format!("s{stream}"), *ts, message.clone()));
                b.push("g", &format!("s{stream}"), LogEvent { timestamp_ms: *ts, message: message.into() }).unwrap();
            }
            let batches = drain(&mut b);
            let mut seen = Vec::new();
            for batch in &batches {
                prop_assert!(!batch.events.is_empty());
                prop_assert!(batch.events.len() <= MAX_BATCH_EVENTS);
                prop_assert!(batch.batch_bytes() <= MAX_BATCH_BYTES);
                let first = batch.events.first().unwrap().timestamp_ms;
                let last = batch.events.last().unwrap().timestamp_ms;
                prop_assert!(last - first <= MAX_BATCH_SPAN_MS);
                prop_assert!(batch.events.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
                for e in &batch.events {
                    seen.push((batch.stream.clone(), e.timestamp_ms, e.message.to_string()));
                }
            }
            seen.sort();
            expected.sort();
            prop_assert_eq!(seen, expected);
        }
    }
}
