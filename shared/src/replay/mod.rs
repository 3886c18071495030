//! Replay: files already in the trail bucket, sent through the forwarder's own queue.
//!
//! Files delivered before the forwarder existed are never announced, and a file the digest
//! validator finds unforwarded needs announcing again. A replay lists the trail's keys for a
//! [`Request`] (accounts, regions, a time range, kinds; [`select`] lists only the folders that
//! can hold them) and enqueues, for each object, the S3 event notification S3 would have sent
//! ([`enqueue::notification`], marked as a replay), ten per SendMessageBatch call, at a
//! governed rate, on the forwarder's queue through the [`Queue`] port: the one way work is
//! enqueued. The forwarder then treats each like any delivery.
//!
//! Objects are enqueued in key order, so a replay stopped by its deadline or by a failure that
//! may pass is resumed exactly by a continuation request: `start_after` the last key enqueued,
//! with the few objects before it still `pending`. No object is enqueued twice.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::Instant;

pub mod config;
pub mod enqueue;
pub mod function;
pub mod redrive;
pub mod select;

pub use select::{Request, RequestError, Selected, Selection, parse_time};

use crate::key::KeyDate;
use crate::ports::{Clock, ErrorClass, ListedObject, Lister, Outgoing, PortError, Queue, QueueRef};

/// Objects and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Objects.
    pub objects: u64,
    /// Their bytes, compressed, as stored.
    pub bytes: u64,
}

/// Why a replay stopped before the end of its range.
#[derive(Debug)]
pub enum Stopped {
    /// The deadline came.
    Deadline,
    /// Listing or enqueueing failed past its retries.
    Failed(PortError),
}

/// What a replay did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Summary {
    /// Enqueued, by (account, region).
    pub enqueued: BTreeMap<(String, String), Tally>,
    /// The day folders the objects came from.
    pub days: BTreeSet<KeyDate>,
    /// Objects the queue refused for good, each with its cause.
    pub refused: Vec<(String, PortError)>,
    /// Why it stopped early, if it did.
    pub stopped: Option<Stopped>,
    /// Every object up to this key is enqueued (or refused, or pending).
    pub last_done: Option<String>,
    /// Objects up to `last_done` not enqueued yet, for the continuation.
    pub pending: Vec<ListedObject>,
    /// ListObjectsV2 listings made (each of one or more pages).
    pub list_calls: u64,
    /// Keys and folders passed over as not named as a trail names them (the first ones).
    pub skipped: Vec<String>,
    /// How many were passed over.
    pub skipped_count: u64,
}

impl Summary {
    /// Objects and bytes over every account and region.
    pub fn total(&self) -> Tally {
        self.enqueued.values().fold(Tally::default(), |t, v| Tally {
            objects: t.objects + v.objects,
            bytes: t.bytes + v.bytes,
        })
    }

    /// The accounts and the regions enqueued.
    pub fn accounts_and_regions(&self) -> (BTreeSet<&str>, BTreeSet<&str>) {
        let accounts = self.enqueued.keys().map(|(a, _)| a.as_str()).collect();
        let regions = self.enqueued.keys().map(|(_, r)| r.as_str()).collect();
        (accounts, regions)
    }

    /// Whether the whole range was enqueued, nothing refused.
    pub fn is_complete(&self) -> bool {
        self.stopped.is_none() && self.refused.is_empty() && self.pending.is_empty()
    }

    /// The request that carries on where this replay of `request` stopped, when it stopped
    /// for a reason that may pass (the deadline, a transient failure).
    pub fn continuation(&self, request: &Request) -> Option<Request> {
        match &self.stopped {
            Some(Stopped::Deadline) => {}
            Some(Stopped::Failed(e)) if e.class == ErrorClass::Retry => {}
            _ => return None,
        }
        Some(Request {
            start_after: self.last_done.clone().or(request.start_after.clone()),
            pending: self.pending.clone(),
            ..request.clone()
        })
    }

    /// Keeps as pending the unsent objects that sort before the bookmark (left pending by an
    /// earlier run); the continuation lists the others again.
    fn keep_pending(&mut self, unsent: impl IntoIterator<Item = Selected>) {
        let bookmark = self.last_done.clone();
        self.pending.extend(
            unsent
                .into_iter()
                .filter(|s| Some(s.object.key.as_str()) <= bookmark.as_deref())
                .map(|s| s.object),
        );
    }

    fn add(&mut self, s: &Selected) {
        let tally = self
            .enqueued
            .entry((s.account.clone(), s.region.clone()))
            .or_default();
        tally.objects += 1;
        tally.bytes += s.object.size;
        self.days.insert(s.date);
    }
}

/// A replay's ports and settings.
pub struct Replay<'a, L, Q> {
    /// Where keys are listed.
    pub lister: &'a L,
    /// Where messages go; `None` for a dry run, which lists and counts only.
    pub queue: Option<&'a Q>,
    /// The forwarder's queue.
    pub target: QueueRef,
    /// The trail bucket's region, for the notifications' `awsRegion`.
    pub region: String,
    /// Messages per second, if limited.
    pub rate: Option<NonZeroU32>,
    /// The time notifications carry.
    pub clock: &'a dyn Clock,
}

impl<L, Q> std::fmt::Debug for Replay<'_, L, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("dry_run", &self.queue.is_none())
            .field("target", &self.target)
            .field("region", &self.region)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

/// A batch being filled: the objects and their messages.
#[derive(Default)]
struct Batch {
    objects: Vec<Selected>,
    messages: Vec<Outgoing>,
    bytes: usize,
}

impl<L: Lister, Q: Queue> Replay<'_, L, Q> {
    /// Replays `request` until done, until `stop_at`, or until a failure that retries did not
    /// cure; `progress` sees the summary after every batch.
    pub async fn run(
        &self,
        request: &Request,
        stop_at: Option<Instant>,
        progress: &(dyn Fn(&Summary) + Sync),
    ) -> Result<Summary, RequestError> {
        let selection = Selection::new(request)?;
        let limiter = self.rate.map(enqueue::limiter);
        let mut summary = Summary {
            last_done: request.start_after.clone(),
            ..Summary::default()
        };
        let mut batch = Batch::default();
        let late = || stop_at.is_some_and(|t| Instant::now() >= t);
        // Objects a stopped replay left pending come first: they sort before everything else.
        let pending: Vec<Selected> = request
            .pending
            .iter()
            .filter_map(|o| selection.take(o))
            .collect();
        let mut walk = select::Walk::new(selection);
        let mut day = Some(pending);
        loop {
            let objects = match day.take() {
                Some(objects) => objects,
                None if late() => {
                    summary.stopped = Some(Stopped::Deadline);
                    break;
                }
                None => match walk.next_day(self.lister).await {
                    Ok(Some(objects)) => objects,
                    Ok(None) => break,
                    Err(e) => {
                        summary.stopped = Some(Stopped::Failed(e));
                        break;
                    }
                },
            };
            let mut objects = objects.into_iter();
            for selected in objects.by_ref() {
                let body = enqueue::notification(
                    &walk.selection().bucket,
                    &selected.object,
                    &self.region,
                    self.clock.now(),
                );
                if !enqueue::fits(batch.messages.len(), batch.bytes, &body) {
                    self.flush(&mut batch, &mut summary, limiter.as_ref(), late())
                        .await;
                    progress(&summary);
                }
                batch.bytes += body.len();
                batch.messages.push(Outgoing {
                    queue: self.target.clone(),
                    body,
                    delay_seconds: 0,
                    attributes: Vec::new(),
                });
                batch.objects.push(selected);
                if summary.stopped.is_some() {
                    break;
                }
            }
            if summary.stopped.is_some() {
                // What was not sent and sorts before the bookmark (objects left pending by an
                // earlier run) is pending still; the rest is listed again by the continuation.
                summary.keep_pending(objects);
                break;
            }
        }
        if summary.stopped.is_none() {
            self.flush(&mut batch, &mut summary, limiter.as_ref(), late())
                .await;
            progress(&summary);
        }
        if summary.stopped.is_some() {
            summary.keep_pending(batch.objects);
            summary.pending.sort_by(|a, b| a.key.cmp(&b.key));
        }
        summary.list_calls = walk.list_calls;
        summary.skipped = std::mem::take(&mut walk.skipped);
        summary.skipped_count = walk.skipped_count;
        Ok(summary)
    }

    /// Sends the batch (counts it, dry), unless `late`; records where the replay stands.
    async fn flush(
        &self,
        batch: &mut Batch,
        summary: &mut Summary,
        limiter: Option<&governor::DefaultDirectRateLimiter>,
        late: bool,
    ) {
        if batch.objects.is_empty() {
            return;
        }
        if late {
            summary.stopped = Some(Stopped::Deadline);
            return;
        }
        let batch = std::mem::take(batch);
        let results = match self.queue {
            Some(queue) => enqueue::send(queue, limiter, &batch.messages).await,
            None => batch.messages.iter().map(|_| Ok(())).collect(),
        };
        for (selected, result) in batch.objects.into_iter().zip(results) {
            match result {
                Ok(()) => summary.add(&selected),
                // A failure every message would meet (no such queue, credentials refused, a
                // queue the caller may not send to) stops the replay once, as a transient one
                // does.
                Err(e) if e.class == ErrorClass::Retry || e.stops_writes() => {
                    summary.pending.push(selected.object.clone());
                    summary.stopped = Some(Stopped::Failed(e));
                }
                Err(e) => summary.refused.push((selected.object.key.clone(), e)),
            }
            // Pending objects sort before the bookmark, which never moves back.
            if summary.last_done.as_deref() < Some(selected.object.key.as_str()) {
                summary.last_done = Some(selected.object.key);
            }
        }
    }
}

#[cfg(test)]
mod tests;
