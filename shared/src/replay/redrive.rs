//! Redrive: dead-lettered messages back to the queue they failed on, after a fix.
//!
//! Each message is received, sent to the target (through [`super::enqueue::send`], the one way
//! work is enqueued) and deleted only once the send succeeded: a crash half-way leaves it in
//! the dead-letter queue, visible again after its visibility timeout. A message the forwarder
//! dead-lettered after part of its work was accepted carries what was left to do
//! (`trailrelay.continuation`): that continuation is sent in its place, so nothing is
//! forwarded twice.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::notification::Notification;
use crate::ports::{ErrorClass, Outgoing, PortError, Queue, QueueRef};

/// The attribute holding the rest of a dead-lettered message's work.
pub const CONTINUATION_ATTRIBUTE: &str = "trailrelay.continuation";

/// What the names of the attributes a failure adds start with (`trailrelay.cause`, ...).
const FAILURE_ATTRIBUTES: &str = "trailrelay.";

/// Seconds a received message stays hidden from other receivers while it is moved.
pub const VISIBILITY_SECONDS: u32 = 60;

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The message id.
    pub id: String,
    /// The receipt handle, to delete it.
    pub receipt: String,
    /// The body.
    pub body: String,
    /// String message attributes.
    pub attributes: Vec<(String, String)>,
}

impl Received {
    /// A string attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The objects the message concerns: the forwarder's `trailrelay.object`, else those its
    /// body announces (`s3://bucket/key` each); empty when it announces none.
    pub fn objects(&self) -> Vec<String> {
        if let Some(object) = self.attribute("trailrelay.object") {
            return vec![object.to_owned()];
        }
        match crate::notification::parse(&self.body) {
            Ok(Notification::Objects(objects) | Notification::Continuation { objects, .. }) => {
                objects
                    .iter()
                    .map(|o| format!("s3://{}/{}", o.bucket, o.key))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// What goes back to the queue: the continuation when the forwarder left one, else the
    /// message itself with its own attributes, without those of the failure that
    /// dead-lettered it (`trailrelay.*`): its next failure, if any, says its own.
    pub fn redriven(&self, to: &QueueRef) -> Outgoing {
        match self.attribute(CONTINUATION_ATTRIBUTE) {
            Some(rest) => Outgoing {
                queue: to.clone(),
                body: rest.to_owned(),
                delay_seconds: 0,
                attributes: Vec::new(),
            },
            None => Outgoing {
                queue: to.clone(),
                body: self.body.clone(),
                delay_seconds: 0,
                attributes: self
                    .attributes
                    .iter()
                    .filter(|(n, _)| !n.starts_with(FAILURE_ATTRIBUTES))
                    .map(|(n, v)| (Cow::Owned(n.clone()), v.clone()))
                    .collect(),
            },
        }
    }
}

/// Where messages are received from and deleted.
pub trait Inbox: Send + Sync {
    /// Up to ten messages of `queue`, with every message attribute, hidden for `visibility_s`.
    fn receive(
        &self,
        queue: &QueueRef,
        visibility_s: u32,
    ) -> impl std::future::Future<Output = Result<Vec<Received>, PortError>> + Send;

    /// Makes a received message visible again at once.
    fn release(
        &self,
        queue: &QueueRef,
        receipt: &str,
    ) -> impl std::future::Future<Output = Result<(), PortError>> + Send;

    /// Deletes a received message.
    fn delete(
        &self,
        queue: &QueueRef,
        receipt: &str,
    ) -> impl std::future::Future<Output = Result<(), PortError>> + Send;
}

/// What a redrive did.
#[derive(Debug, Default)]
pub struct Redriven {
    /// Messages moved (or, dry, listed).
    pub moved: u64,
    /// Of those, sent as the continuation they carried.
    pub continued: u64,
    /// Messages that could not be moved, by id, with the cause: still in the dead-letter queue.
    pub failed: Vec<(String, PortError)>,
}

/// Moves every message of `from` to `to` (lists them only, when `dry`), showing each to
/// `each` before it moves; stops when a receive comes back empty or brings only messages seen.
pub async fn redrive<I: Inbox, Q: Queue>(
    inbox: &I,
    queue: &Q,
    from: &QueueRef,
    to: &QueueRef,
    limiter: Option<&governor::DefaultDirectRateLimiter>,
    dry: bool,
    each: &(dyn Fn(&Received) + Sync),
) -> Result<Redriven, PortError> {
    let mut done = Redriven::default();
    let mut seen = BTreeSet::new();
    // A dry run hides what it lists only while it lists: each is visible again at the end.
    let mut listed: Vec<String> = Vec::new();
    loop {
        let received = inbox.receive(from, VISIBILITY_SECONDS).await?;
        let fresh: Vec<Received> = received
            .into_iter()
            .filter(|m| seen.insert(m.id.clone()))
            .collect();
        if fresh.is_empty() {
            for receipt in &listed {
                inbox.release(from, receipt).await?;
            }
            return Ok(done);
        }
        if dry {
            listed.extend(fresh.iter().map(|m| m.receipt.clone()));
        }
        for m in &fresh {
            each(m);
        }
        if dry {
            done.moved += fresh.len() as u64;
            continue;
        }
        let messages: Vec<Outgoing> = fresh.iter().map(|m| m.redriven(to)).collect();
        let results = super::enqueue::send(queue, limiter, &messages).await;
        for (m, result) in fresh.iter().zip(results) {
            let deleted = match result {
                Ok(()) => inbox.delete(from, &m.receipt).await,
                Err(e) => Err(e),
            };
            match deleted {
                Ok(()) => {
                    done.moved += 1;
                    done.continued += u64::from(m.attribute(CONTINUATION_ATTRIBUTE).is_some());
                }
                // Sent but not deleted: it comes back after its visibility timeout, and is
                // sent again then; named so that it can be checked.
                Err(e) => done.failed.push((m.id.clone(), e)),
            }
        }
        if done
            .failed
            .iter()
            .any(|(_, e)| e.class == ErrorClass::Poison)
        {
            return Ok(done);
        }
    }
}
