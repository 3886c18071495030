//! Redrive: dead-lettered messages back to the queue they failed on, after a fix.
//!
//! Each message is received, sent to the target (through [`super::enqueue::send`], the one way
//! work is enqueued) and deleted only once the send succeeded: a crash half-way leaves it in
//! the dead-letter queue, visible again after its visibility timeout. A message the forwarder
//! dead-lettered after part of its work was accepted carries what was left to do
//! (`trailrelay.continuation`): that continuation is sent in its place, so nothing is
//! forwarded twice.
//!
//! A forwarder deployed with `CONTINUATION_SENDERS` honours a continuation only from the
//! stack's roles, so only a redrive by one of them (the replay function) sends dead-lettered
//! continuations, and only when the dead letter itself came from such a role
//! ([`Trust::senders`]); a redrive from a machine keeps them unless told the forwarder takes
//! continuations from anyone. A dead letter of a forged continuation is never moved.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::notification::{self, Notification};
use crate::ports::{ErrorClass, Outgoing, PortError, Queue, QueueRef};

pub use crate::forwarder::{CAUSE_ATTRIBUTE, CONTINUATION_ATTRIBUTE};
use crate::notification::FORGED_CONTINUATION;

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
    /// Who sent it (the `SenderId` system attribute), when known.
    pub sender: Option<String>,
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

/// Whose dead letters a redrive trusts with a continuation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trust<'a> {
    /// The roles allowed to continue work (`CONTINUATION_SENDERS`): a dead letter that carries
    /// a continuation (as its `trailrelay.continuation` or as its body) moves only when one of
    /// them sent it; an empty list moves none. `None` trusts every sender (a redrive for a
    /// forwarder that takes continuations from anyone).
    pub senders: Option<&'a [String]>,
}

impl Received {
    /// Why the message stays where it is, if it does.
    pub fn held(&self, trust: Trust<'_>) -> Option<String> {
        if self.attribute(CAUSE_ATTRIBUTE) == Some(FORGED_CONTINUATION) {
            return Some(
                "a forged continuation: it has nothing to forward; read it, then delete it".into(),
            );
        }
        // The body is parsed only for a sender not trusted to continue work.
        let refused = notification::check_sender(self.sender.as_deref(), trust.senders).err()?;
        let continues = self.attribute(CONTINUATION_ATTRIBUTE).is_some()
            || matches!(
                notification::parse(&self.body),
                Ok(Notification::Continuation { .. })
            );
        continues.then(|| format!("it carries a continuation, and {refused}"))
    }
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
    /// Messages left in place on purpose ([`Received::held`]), by id, with the reason.
    pub held: Vec<(String, String)>,
    /// Whether the deadline stopped it before the queue was empty.
    pub stopped: bool,
}

/// How a redrive runs.
#[derive(Debug, Clone, Copy)]
pub struct RedriveRun<'a> {
    /// Moves at most this many messages a second.
    pub limiter: Option<&'a governor::DefaultDirectRateLimiter>,
    /// Lists only.
    pub dry: bool,
    /// Whose continuations it sends.
    pub trust: Trust<'a>,
    /// No receive begins after it.
    pub stop_at: Option<std::time::Instant>,
}

/// Moves every message of `from` to `to` (lists them only, when `dry`), showing each to
/// `each` before it moves, leaving those [`Received::held`] says to leave; stops when a
/// receive comes back empty or brings only messages seen, or at `stop_at`.
pub async fn redrive<I: Inbox, Q: Queue>(
    inbox: &I,
    queue: &Q,
    (from, to): (&QueueRef, &QueueRef),
    run: RedriveRun<'_>,
    each: &(dyn Fn(&Received) + Sync),
) -> Result<Redriven, PortError> {
    let mut done = Redriven::default();
    // What is listed or held is hidden only while the redrive runs: visible again at the end,
    // however it ends.
    let mut shown_again: Vec<String> = Vec::new();
    let result = moves(
        inbox,
        queue,
        (from, to),
        run,
        each,
        &mut done,
        &mut shown_again,
    )
    .await;
    let mut released = Ok(());
    for receipt in &shown_again {
        if let Err(e) = inbox.release(from, receipt).await {
            released = Err(e);
        }
    }
    result.and(released).map(|()| done)
}

/// The receive, send, delete rounds of [`redrive`], until none brings a message not seen.
async fn moves<I: Inbox, Q: Queue>(
    inbox: &I,
    queue: &Q,
    (from, to): (&QueueRef, &QueueRef),
    run: RedriveRun<'_>,
    each: &(dyn Fn(&Received) + Sync),
    done: &mut Redriven,
    shown_again: &mut Vec<String>,
) -> Result<(), PortError> {
    let mut seen = BTreeSet::new();
    loop {
        if run.stop_at.is_some_and(|t| std::time::Instant::now() >= t) {
            done.stopped = true;
            return Ok(());
        }
        let fresh: Vec<Received> = inbox
            .receive(from, VISIBILITY_SECONDS)
            .await?
            .into_iter()
            .filter(|m| seen.insert(m.id.clone()))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        for m in &fresh {
            each(m);
        }
        let mut moving = Vec::with_capacity(fresh.len());
        for m in fresh {
            match m.held(run.trust) {
                Some(why) => {
                    done.held.push((m.id.clone(), why));
                    shown_again.push(m.receipt);
                }
                None => moving.push(m),
            }
        }
        let fresh = moving;
        if run.dry {
            shown_again.extend(fresh.iter().map(|m| m.receipt.clone()));
            done.moved += fresh.len() as u64;
            continue;
        }
        let messages: Vec<Outgoing> = fresh.iter().map(|m| m.redriven(to)).collect();
        let results = super::enqueue::send(queue, run.limiter, &messages).await;
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
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTINUATION: &str = r#"{"trailrelay":"continuation","format":1,"attempt":1,"objects":[{"bucket":"org-trail","key":"k"}]}"#;

    fn dead_letter(body: &str, attributes: &[(&str, &str)], sender: Option<&str>) -> Received {
        Received {
            id: "m".into(),
            receipt: "r".into(),
            body: body.into(),
            attributes: attributes
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            sender: sender.map(str::to_owned),
        }
    }

    #[test]
    fn continuations_move_only_from_the_roles_allowed_to_continue_work() {
        let roles = vec!["AROAFORWARDERROLE01".to_owned()];
        let stack = Trust {
            senders: Some(&roles),
        };
        let forwarder = Some("AROAFORWARDERROLE01:trailrelay-forwarder");
        let other = Some("AIDAOPERATORUSER0001");
        let carried = [
            ("trailrelay.cause", "object-changed"),
            (CONTINUATION_ATTRIBUTE, CONTINUATION),
        ];
        // Written by the forwarder: moved, as its continuation or as its body.
        assert_eq!(dead_letter("{}", &carried, forwarder).held(stack), None);
        assert_eq!(dead_letter(CONTINUATION, &[], forwarder).held(stack), None);
        // The same from anyone else: kept, and why.
        for m in [
            dead_letter("{}", &carried, other),
            dead_letter(CONTINUATION, &[], other),
            dead_letter(CONTINUATION, &[], None),
        ] {
            let why = m.held(stack).expect("kept");
            assert!(why.contains("carries a continuation"), "{why}");
        }
        // A plain notification moves whoever sent it: it carries no authority.
        assert_eq!(
            dead_letter("{\"Records\":[]}", &[], other).held(stack),
            None
        );
        // A forged continuation's dead letter never moves, whoever redrives it.
        let forged = dead_letter(
            CONTINUATION,
            &[("trailrelay.cause", "forged-continuation")],
            forwarder,
        );
        assert!(forged.held(stack).unwrap().contains("forged"));
        assert!(forged.held(Trust::default()).is_some());
        // Trusting every sender (a redrive from a machine), continuations move.
        assert_eq!(
            dead_letter("{}", &carried, other).held(Trust::default()),
            None
        );
    }
}
