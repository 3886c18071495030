//! The replay function's logic, free of any Lambda type: requests from its SQS queue (or one
//! request invoked directly), each replayed until done or until the deadline, then continued
//! on the request queue.
//!
//! A request `{"redrive": {"from_queue": URL}}` moves the forwarder's dead letters back to its
//! queue instead ([`super::redrive`]): as one of the stack's roles, the function may send the
//! continuations they carry, which the forwarder takes from no one else.
//!
//! How a request ends:
//! - done: every object of its range enqueued (objects the queue refused for good are named);
//! - continued: stopped by the deadline, or by a failure that may pass, after some progress:
//!   its continuation (`start_after`, `pending`) goes to `REPLAY_QUEUE_URL` and the message is
//!   done, so nothing is enqueued twice;
//! - failed: a bad request (poison), or no progress, or the continuation could not be sent:
//!   reported in `batchItemFailures`, retried by the queue until its redrive policy moves it
//!   to the request queue's dead-letter queue.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::ReplayConfig;
use super::redrive::{self, Inbox, RedriveRun, Redriven, Trust};
use super::{Replay, Request, Summary};
use crate::forwarder::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crate::ports::{Clock, ErrorClass, Lister, Outgoing, PortError, Queue, QueueRef};

/// How one request ended.
#[derive(Debug)]
pub enum RequestOutcome {
    /// The whole range is enqueued.
    Done(Summary),
    /// Stopped; the continuation is on the request queue.
    Continued(Summary),
    /// A redrive: what it moved and kept; `continued` when the deadline stopped it and its
    /// request is on the request queue again.
    Redriven {
        /// What it did.
        done: Redriven,
        /// Whether it goes on in a later invocation.
        continued: bool,
    },
    /// Failed: retried by the queue.
    Failed {
        /// Retry or poison.
        class: ErrorClass,
        /// A short, stable cause.
        cause: &'static str,
        /// What happened.
        message: String,
        /// What was done before the failure, if anything ran.
        summary: Option<Summary>,
    },
}

impl RequestOutcome {
    /// `done`, `continued` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Done(_)
            | Self::Redriven {
                continued: false, ..
            } => "done",
            Self::Continued(_)
            | Self::Redriven {
                continued: true, ..
            } => "continued",
            Self::Failed { .. } => "failed",
        }
    }

    /// What the replay did, if it ran.
    pub fn summary(&self) -> Option<&Summary> {
        match self {
            Self::Done(s) | Self::Continued(s) => Some(s),
            Self::Failed { summary, .. } => summary.as_ref(),
            Self::Redriven { .. } => None,
        }
    }
}

/// What one invocation did.
#[derive(Debug, Default)]
pub struct Invocation {
    /// Per message id (`direct` for a direct invocation), in order.
    pub outcomes: Vec<(String, RequestOutcome)>,
    /// The partial batch response.
    pub response: SqsBatchResponse,
    /// Whether the payload was an SQS event (else one request, invoked directly).
    pub from_sqs: bool,
}

impl Invocation {
    /// CloudWatch Embedded Metric Format documents, namespace `trailrelay`: one per account
    /// and region replayed (`ReplayObjectsEnqueued`, `ReplayBytesEnqueued`), and the totals.
    pub fn emf(&self, timestamp_ms: i64) -> Vec<String> {
        let mut lines = Vec::new();
        let (mut objects, mut bytes, mut refused) = (0, 0, 0);
        for summary in self.outcomes.iter().filter_map(|(_, o)| o.summary()) {
            for ((account, region), tally) in &summary.enqueued {
                objects += tally.objects;
                bytes += tally.bytes;
                lines.push(crate::rules::emf_document(
                    "trailrelay",
                    &[("Account", account.clone()), ("Region", region.clone())],
                    &[
                        ("ReplayObjectsEnqueued", Some("Count"), tally.objects.into()),
                        ("ReplayBytesEnqueued", Some("Bytes"), tally.bytes.into()),
                    ],
                    timestamp_ms,
                ));
            }
            refused += summary.refused.len() as u64;
        }
        let count = |name: &str| {
            self.outcomes
                .iter()
                .filter(|(_, o)| o.as_str() == name)
                .count() as u64
        };
        lines.push(crate::rules::emf_document(
            "trailrelay",
            &[],
            &[
                ("ReplayRequestsDone", Some("Count"), count("done").into()),
                (
                    "ReplayRequestsContinued",
                    Some("Count"),
                    count("continued").into(),
                ),
                (
                    "ReplayRequestsFailed",
                    Some("Count"),
                    count("failed").into(),
                ),
                ("ReplayObjectsEnqueued", Some("Count"), objects.into()),
                ("ReplayBytesEnqueued", Some("Bytes"), bytes.into()),
                ("ReplayObjectsRefused", Some("Count"), refused.into()),
            ],
            timestamp_ms,
        ));
        lines
    }
}

/// The replay function: its ports and configuration.
#[derive(Debug)]
pub struct ReplayFunction<L, Q, C> {
    /// Lists the trail bucket.
    pub lister: L,
    /// Sends notifications and continuations.
    pub queue: Q,
    /// The time notifications carry.
    pub clock: C,
    /// The environment.
    pub config: ReplayConfig,
    /// The function's region: the trail bucket's, for the notifications.
    pub region: String,
}

/// A request to redrive the forwarder's dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveRequest {
    /// The dead-letter queue's URL: the one this function is configured with.
    pub from_queue: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveEnvelope {
    redrive: RedriveRequest,
}

/// The body of a request to redrive `from_queue` (the forwarder's dead-letter queue).
pub fn redrive_request(from_queue: &str) -> String {
    let envelope = RedriveEnvelope {
        redrive: RedriveRequest {
            from_queue: from_queue.to_owned(),
        },
    };
    serde_json::to_string(&envelope).unwrap_or_default()
}

fn poison(cause: &'static str, message: String) -> RequestOutcome {
    RequestOutcome::Failed {
        class: ErrorClass::Poison,
        cause,
        message,
        summary: None,
    }
}

/// A request that failed as `e` did, described by `message`, with what it did before.
fn failed(e: &PortError, message: String, summary: Option<Summary>) -> RequestOutcome {
    RequestOutcome::Failed {
        class: e.class,
        cause: e.cause,
        message,
        summary,
    }
}

impl<L: Lister, Q: Queue + Inbox, C: Clock> ReplayFunction<L, Q, C> {
    /// Handles one invocation's payload (an SQS event of requests, or one request) with
    /// `deadline` the invocation's end.
    pub async fn handle(&self, payload: Value, deadline: Instant) -> Invocation {
        let stop_at = deadline
            .checked_sub(Duration::from_millis(self.config.deadline_grace_ms))
            .unwrap_or(deadline);
        let is_sqs = payload["Records"][0]["eventSource"] == "aws:sqs";
        let messages: Vec<(String, String)> = if is_sqs {
            match serde_json::from_value::<SqsEvent>(payload) {
                Ok(event) => event
                    .records
                    .into_iter()
                    .map(|m| (m.message_id.unwrap_or_default(), m.body.unwrap_or_default()))
                    .collect(),
                Err(e) => vec![(String::new(), format!("not an SQS event: {e}"))],
            }
        } else {
            vec![("direct".to_owned(), payload.to_string())]
        };
        let mut invocation = Invocation {
            from_sqs: is_sqs,
            ..Invocation::default()
        };
        for (id, body) in messages {
            let outcome = self.request(&body, stop_at).await;
            if matches!(outcome, RequestOutcome::Failed { .. }) && is_sqs {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone();
                invocation.response.batch_item_failures.push(failure);
            }
            invocation.outcomes.push((id, outcome));
        }
        invocation
    }

    async fn request(&self, body: &str, stop_at: Instant) -> RequestOutcome {
        if let Ok(RedriveEnvelope { redrive }) = serde_json::from_str(body) {
            return self.redrive(&redrive, stop_at).await;
        }
        let request: Request = match serde_json::from_str(body) {
            Ok(r) => r,
            Err(e) => return poison("bad-request", format!("not a replay request: {e}")),
        };
        if !self.config.allowed_buckets.contains(&request.bucket) {
            return poison(
                "bucket-not-allowed",
                format!("bucket {:?} is not in ALLOWED_BUCKETS", request.bucket),
            );
        }
        let replay = Replay {
            lister: &self.lister,
            queue: Some(&self.queue),
            target: QueueRef::Url(self.config.forwarder_queue_url.clone()),
            region: self.region.clone(),
            rate: Some(self.config.messages_per_second),
            clock: &self.clock,
        };
        let summary = match replay.run(&request, Some(stop_at), &|_| {}).await {
            Ok(summary) => summary,
            Err(e) => return poison("bad-request", e.to_string()),
        };
        let stopped = match &summary.stopped {
            None => return RequestOutcome::Done(summary),
            Some(super::Stopped::Failed(e)) => (
                e.class,
                e.cause,
                format!("replay of s3://{}: {e}", request.bucket),
            ),
            Some(super::Stopped::Deadline) => (
                ErrorClass::Retry,
                "deadline",
                "the deadline came before the replay was done".to_owned(),
            ),
        };
        let progressed = summary.last_done > request.start_after;
        let continuation = summary.continuation(&request).filter(|_| progressed);
        let Some(continuation) = continuation else {
            let (class, cause, message) = stopped;
            return RequestOutcome::Failed {
                class,
                cause,
                message,
                summary: Some(summary),
            };
        };
        let body = serde_json::to_string(&continuation).unwrap_or_default();
        match self.requeue(body).await {
            Ok(()) => RequestOutcome::Continued(summary),
            Err(e) => {
                let message = format!("the continuation could not be enqueued: {e}");
                failed(&e, message, Some(summary))
            }
        }
    }

    /// Puts a request on the request queue: what is left of one the deadline stopped.
    async fn requeue(&self, body: String) -> Result<(), PortError> {
        let message = Outgoing {
            queue: QueueRef::Url(self.config.replay_queue_url.clone()),
            body,
            delay_seconds: 0,
            attributes: Vec::new(),
        };
        self.queue.send(&message).await
    }

    /// Moves the dead letters of `request.from_queue` (which must be `DEAD_LETTER_QUEUE_URL`)
    /// to the forwarder's queue, trusting continuations from `CONTINUATION_SENDERS` only;
    /// stopped by the deadline, it puts its request on the request queue again.
    async fn redrive(&self, request: &RedriveRequest, stop_at: Instant) -> RequestOutcome {
        let config = &self.config;
        let Some(dlq) = &config.dead_letter_queue_url else {
            return poison(
                "bad-request",
                "DEAD_LETTER_QUEUE_URL is not set: this function redrives no queue".into(),
            );
        };
        if request.from_queue != *dlq {
            return poison(
                "bad-request",
                format!(
                    "{:?} is not the dead-letter queue this function redrives ({dlq})",
                    request.from_queue
                ),
            );
        }
        // As a stack role, what it sends is believed: it must know whose continuations to send.
        let Some(senders) = config.continuation_senders.as_deref() else {
            return poison(
                "bad-request",
                "CONTINUATION_SENDERS is not set: this function would send any sender's continuation as its own".into(),
            );
        };
        let limiter = super::enqueue::limiter(config.messages_per_second);
        let run = RedriveRun {
            limiter: Some(&limiter),
            dry: false,
            trust: Trust {
                senders: Some(senders),
            },
            stop_at: Some(stop_at),
        };
        let queues = (
            &QueueRef::Url(dlq.clone()),
            &QueueRef::Url(config.forwarder_queue_url.clone()),
        );
        let done = match redrive::redrive(&self.queue, &self.queue, queues, run, &|_| {}).await {
            Ok(done) => done,
            Err(e) => return failed(&e, format!("redrive of {dlq}: {e}"), None),
        };
        if let Some((id, e)) = done.failed.first() {
            let message = format!(
                "redrive of {dlq}: {} moved, {} not moved (message {id}: {e})",
                done.moved,
                done.failed.len()
            );
            return failed(e, message, None);
        }
        if !done.stopped {
            return RequestOutcome::Redriven {
                done,
                continued: false,
            };
        }
        match self.requeue(redrive_request(dlq)).await {
            Ok(()) => RequestOutcome::Redriven {
                done,
                continued: true,
            },
            Err(e) => failed(&e, format!("the redrive could not be continued: {e}"), None),
        }
    }
}
