//! One message: its objects through the pipeline, then where its failure, if any, ends.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{
    Failure, Forwarder, MessageOutcome, Plan, SqsMessage, deadline_failure, message_id,
    panic_failure,
};
use crate::batch::LogBatch;
use crate::notification::{self, Announced, Continuation, ContinuedObject, Notification};
use crate::pipeline::receipt::{ReceiptsIn, receipts_prefix};
use crate::pipeline::{ObjectReport, Outcome, Pipeline, Progress, Totals, judging_clock};
use crate::ports::{
    ArchiveSink, Clock, ErrorClass, LogSink, MAX_DELAY_SECONDS, ObjectRef, ObjectSource, Opened,
    Outgoing, PortError, PutReport, Queue, QueueRef, Store, Version, epoch_ms,
};

/// The attribute of a Lambda SQS record naming who sent the message
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>).
pub const SENDER_ID: &str = "SenderId";

/// The attribute of a dead letter naming its cause (and of a continuation, the cause of its
/// interruption).
pub const CAUSE_ATTRIBUTE: &str = "trailrelay.cause";

/// The attribute of a dead letter holding the rest of its work, when some of it was accepted.
pub const CONTINUATION_ATTRIBUTE: &str = "trailrelay.continuation";

/// The most bytes of an error description carried as a message attribute.
pub const MAX_ERROR_ATTRIBUTE_BYTES: usize = 1024;

/// The delay of the `attempt`-th continuation (from 1): `first`, twice that, four times, ...
/// up to [`MAX_DELAY_SECONDS`].
pub fn continuation_delay(first: u32, attempt: u32) -> u32 {
    let doublings = attempt.saturating_sub(1).min(31);
    first.saturating_mul(1 << doublings).min(MAX_DELAY_SECONDS)
}

/// An object's attempt that ended without a report: why, and, when what its streams accepted
/// is known, where it stands and whether it accepted anything.
struct Interrupted {
    failure: Failure,
    at: Option<(ContinuedObject, bool)>,
}

/// A message with no object to forward: acknowledged by design, or refused as poison.
enum Refused {
    Acknowledged(&'static str),
    Failed(Failure),
}

/// How a message's work ended, before its failure is put anywhere.
enum Ending {
    Done,
    Acknowledged(&'static str),
    /// Failed; `rest` is the work still to do when some of the message's log events were
    /// accepted, so that sending the message again would repeat them.
    Failed {
        failure: Failure,
        rest: Option<Continuation>,
    },
}

impl Ending {
    fn failed(failure: Failure) -> Self {
        Self::Failed {
            failure,
            rest: None,
        }
    }
}

impl<S, L, A, C, Q> Forwarder<S, L, A, C, Q>
where
    S: ObjectSource + Send + 'static,
    L: LogSink + Send + 'static,
    A: ArchiveSink + Send + 'static,
    C: Clock + Send + 'static,
    Q: Queue + 'static,
{
    /// Forwards one message's objects, then settles its failure.
    pub(super) async fn process(
        &self,
        message: &SqsMessage,
        plan: Plan,
    ) -> (MessageOutcome, Totals) {
        let mut totals = Totals::default();
        let body = message.body.as_deref().unwrap_or_default();
        let sender = message.attributes.get(SENDER_ID).map(String::as_str);
        let ending = self.work(body, sender, plan, &mut totals).await;
        let outcome = match ending {
            Ending::Done => MessageOutcome::Done,
            Ending::Acknowledged(why) => MessageOutcome::Acknowledged(why),
            Ending::Failed { failure, rest } => self.settle(message, failure, rest).await,
        };
        (outcome, totals)
    }

    async fn work(
        &self,
        body: &str,
        sender: Option<&str>,
        plan: Plan,
        totals: &mut Totals,
    ) -> Ending {
        let (attempt, objects) = match self.objects_of(body, sender) {
            Ok(announced) => announced,
            Err(Refused::Acknowledged(why)) => return Ending::Acknowledged(why),
            Err(Refused::Failed(failure)) => return Ending::failed(failure),
        };
        let mut batches_accepted = 0;
        for (i, announced) in objects.iter().enumerate() {
            // The rest of the message, from this object on, should it not complete.
            let rest = |first: ContinuedObject, batches_accepted: u64| {
                (batches_accepted > 0).then(|| {
                    let later = objects[i + 1..].iter().map(continued);
                    let objects = std::iter::once(first).chain(later).collect();
                    Continuation {
                        routing: Some(self.inner.config.routing.clone()),
                        ..Continuation::new(attempt.saturating_add(1), objects)
                    }
                })
            };
            if Instant::now() >= plan.stop_at {
                return Ending::Failed {
                    failure: deadline_failure(),
                    rest: rest(continued(announced), batches_accepted),
                };
            }
            let report = match self.forward_object(announced, plan).await {
                Ok(report) => report,
                Err(Interrupted { failure, at }) => {
                    return Ending::Failed {
                        failure,
                        rest: at.and_then(|(here, accepted_here)| {
                            rest(here, batches_accepted + u64::from(accepted_here))
                        }),
                    };
                }
            };
            totals.add(&report);
            if announced.replay && matches!(report.outcome, Outcome::Forwarded { .. }) {
                totals.replayed += 1;
            }
            batches_accepted += report.counts.log_batches;
            if let Outcome::Failed(e) = &report.outcome {
                let name = report.object.to_string();
                let failure = Failure {
                    class: e.class(),
                    cause: e.cause(),
                    object: Some(name.clone()),
                    message: format!("{name}: {e}"),
                };
                let here = continued_after(
                    announced,
                    report.version.as_ref(),
                    &report.progress,
                    report.clock_ms,
                );
                return Ending::Failed {
                    failure,
                    rest: rest(here, batches_accepted),
                };
            }
        }
        Ending::Done
    }

    /// The message's attempt number and objects, once its body parses, a continuation comes
    /// from a role allowed to continue work, and every object is in an allowed bucket; else
    /// how the message ends.
    fn objects_of(
        &self,
        body: &str,
        sender: Option<&str>,
    ) -> Result<(u32, Vec<Announced>), Refused> {
        let config = &self.inner.config;
        let refused = |e: notification::NotificationError| {
            Refused::Failed(poison(e.cause(), None, e.to_string()))
        };
        let (attempt, objects) = match notification::parse(body).map_err(refused)? {
            Notification::Acknowledged(a) => return Err(Refused::Acknowledged(a.as_str())),
            Notification::Objects(objects) => (0, objects),
            Notification::Continuation {
                attempt,
                objects,
                routing,
            } => {
                notification::check_sender(sender, config.continuation_senders.as_deref())
                    .map_err(refused)?;
                (attempt, self.under_current_routing(objects, routing))
            }
        };
        notification::check_allowed(&objects, &config.allowed_buckets).map_err(refused)?;
        Ok((attempt, objects))
    }

    /// One object through the pipeline on a blocking thread, awaited until the continuation
    /// is due.
    async fn forward_object(
        &self,
        announced: &Announced,
        plan: Plan,
    ) -> Result<ObjectReport, Interrupted> {
        let object = object_ref(announced);
        let name = object.to_string();
        // Read here, not in the pipeline, so that a continuation written after a panic judges
        // times as this attempt did.
        let now_ms = epoch_ms(self.inner.ports.clock.now());
        let clock_ms = judging_clock(announced.clock_ms, &announced.progress, now_ms);
        let seen = Arc::new(Mutex::new(Seen {
            progress: announced.progress.clone(),
            version: None,
        }));
        let (this, progress, watched) = (self.clone(), announced.progress.clone(), seen.clone());
        let task = tokio::task::spawn_blocking(move || {
            let inner = &this.inner;
            let settings = &inner.config.settings;
            let receipts = ReceiptsIn::new(
                &inner.ports.archive,
                receipts_prefix(&settings.archive_prefix),
            );
            Pipeline {
                source: &Watched(&inner.ports.source, &watched),
                logs: &Watched(&inner.ports.logs, &watched),
                archive: &inner.ports.archive,
                receipts: &receipts,
                clock: &inner.ports.clock,
                settings,
                deadline: Some(plan.stop_at),
            }
            .resume(&object, &progress, clock_ms)
        });
        // What the log streams accepted is known outside the pipeline's thread: the rest of
        // the message goes on from there, never from its first record.
        let from_seen = |failure: Failure| {
            let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            Interrupted {
                failure,
                at: Some(seen.continued(announced, clock_ms)),
            }
        };
        match tokio::time::timeout_at(plan.settle_by.into(), task).await {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) if e.is_panic() => Err(from_seen(panic_failure(Some(name)))),
            Ok(Err(_)) => Err(Interrupted {
                failure: deadline_failure(),
                at: None,
            }),
            // A call outlived its bound and the continuation is due: it goes now. A batch that
            // call still gets accepted is sent again by it (a repeat, never a loss).
            Err(_) => {
                tracing::warn!(object = %name, "A call was still running when the continuation was due; the object is continued from what its streams accepted.");
                Err(from_seen(Failure {
                    object: Some(name),
                    ..deadline_failure()
                }))
            }
        }
    }

    /// The objects of a continuation, their skip counts kept only if they were counted under
    /// the routing in force: under another, the events of a stream are other events, so the
    /// object's streams are sent again from its first event (a repeat, never a loss).
    fn under_current_routing(
        &self,
        objects: Vec<Announced>,
        routing: Option<String>,
    ) -> Vec<Announced> {
        let current = &self.inner.config.routing;
        let Some(then) = routing.filter(|then| then != current) else {
            return objects;
        };
        objects
            .into_iter()
            .map(|mut object| {
                if !object.progress.is_empty() {
                    tracing::warn!(
                        object = %format!("s3://{}/{}", object.bucket, object.key),
                        then = %then,
                        now = %current,
                        "The routing changed since this object was interrupted: its log streams are sent again from its first event."
                    );
                    object.progress = Progress::default();
                }
                object
            })
            .collect()
    }

    /// Puts a failure where it belongs: poison in the dead-letter queue, an interrupted object
    /// in a continuation, anything else (or a failed send) back to the queue for a retry.
    async fn settle(
        &self,
        message: &SqsMessage,
        failure: Failure,
        rest: Option<Continuation>,
    ) -> MessageOutcome {
        let rest = rest.and_then(|r| serde_json::to_string(&r).ok().map(|body| (r.attempt, body)));
        let dlq = &self.inner.config.dead_letter_queue_url;
        let sent = match (failure.class, dlq, rest) {
            (ErrorClass::Poison, Some(dlq), rest) => {
                let mut outgoing = dead_letter(message, &failure, dlq);
                // What the message had left to do, for a redrive that repeats nothing.
                if let Some((_, body)) = rest {
                    outgoing
                        .attributes
                        .push((CONTINUATION_ATTRIBUTE.into(), body));
                }
                self.send(outgoing, &failure, MessageOutcome::DeadLettered)
                    .await
            }
            (ErrorClass::Retry, _, Some((attempt, body))) => {
                let Some(queue) = &message.event_source_arn else {
                    return MessageOutcome::Failed(failure);
                };
                let outgoing = Outgoing {
                    queue: QueueRef::Arn(queue.clone()),
                    delay_seconds: continuation_delay(
                        self.inner.config.continuation_delay_seconds,
                        attempt,
                    ),
                    body,
                    attributes: vec![
                        (CAUSE_ATTRIBUTE.into(), failure.cause.to_owned()),
                        (
                            "trailrelay.continues".into(),
                            message_id(message).to_owned(),
                        ),
                    ],
                };
                self.send(outgoing, &failure, MessageOutcome::Continued)
                    .await
            }
            _ => None,
        };
        sent.unwrap_or(MessageOutcome::Failed(failure))
    }

    /// Sends `outgoing`; the outcome `then` makes of `failure` once it is sent, `None` if the
    /// send failed (the message is then reported failed, so nothing is lost).
    async fn send(
        &self,
        outgoing: Outgoing,
        failure: &Failure,
        then: fn(Failure) -> MessageOutcome,
    ) -> Option<MessageOutcome> {
        match self.inner.ports.queue.send(&outgoing).await {
            Ok(()) => Some(then(failure.clone())),
            Err(e) => {
                tracing::error!(queue = %outgoing.queue, cause = e.cause, error = %e, "Sending to a queue failed; the message will be retried.");
                None
            }
        }
    }
}

/// The message for the dead-letter queue: the body unchanged, the cause in attributes.
fn dead_letter(message: &SqsMessage, failure: &Failure, dlq: &str) -> Outgoing {
    let mut attributes = vec![
        (CAUSE_ATTRIBUTE.into(), failure.cause.to_owned()),
        ("trailrelay.class".into(), failure.class.as_str().to_owned()),
        (
            "trailrelay.error".into(),
            truncate(&failure.message, MAX_ERROR_ATTRIBUTE_BYTES),
        ),
        (
            "trailrelay.message-id".into(),
            message_id(message).to_owned(),
        ),
    ];
    if let Some(object) = &failure.object {
        attributes.push(("trailrelay.object".into(), object.clone()));
    }
    if let Some(queue) = &message.event_source_arn {
        attributes.push(("trailrelay.source-queue".into(), queue.clone()));
    }
    Outgoing {
        queue: QueueRef::Url(dlq.to_owned()),
        body: message.body.clone().unwrap_or_default(),
        delay_seconds: 0,
        attributes,
    }
}

/// `text` cut to at most `max` bytes, at a character boundary, marked when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// What one attempt at an object is seen to have done, kept outside the pipeline's thread so
/// that it outlives a panic there: the version opened and the events each stream accepted.
#[derive(Debug)]
struct Seen {
    progress: Progress,
    version: Option<Version>,
}

impl Seen {
    /// Where `announced` stands after an attempt that panicked or was still running when the
    /// continuation was due: the version it opened and what each stream accepted, judged by
    /// `clock_ms`; and whether it accepted anything.
    fn continued(&self, announced: &Announced, clock_ms: Option<i64>) -> (ContinuedObject, bool) {
        let here = continued_after(announced, self.version.as_ref(), &self.progress, clock_ms);
        (here, self.progress.total() > announced.progress.total())
    }
}

/// A port that tells [`Seen`] what went through it.
struct Watched<'a, P>(&'a P, &'a Mutex<Seen>);

impl<P: ObjectSource> ObjectSource for Watched<'_, P> {
    type Reader = P::Reader;

    fn open(&self, object: &ObjectRef) -> Result<Opened<P::Reader>, PortError> {
        let opened = self.0.open(object)?;
        if let Ok(mut seen) = self.1.lock() {
            seen.version = Some(opened.version.clone());
        }
        Ok(opened)
    }
}

impl<P: LogSink> LogSink for Watched<'_, P> {
    fn put(&self, batch: &LogBatch) -> Result<PutReport, PortError> {
        let report = self.0.put(batch)?;
        if let Ok(mut seen) = self.1.lock() {
            seen.progress
                .add(&batch.group, &batch.stream, batch.events.len() as u64);
        }
        Ok(report)
    }
}

/// Where `announced` stands after an attempt that read `version` (if it opened the object),
/// took its streams to `progress` and judged times by `clock_ms`.
fn continued_after(
    announced: &Announced,
    version: Option<&Version>,
    progress: &Progress,
    clock_ms: Option<i64>,
) -> ContinuedObject {
    ContinuedObject {
        version: version
            .or(announced.version.as_ref())
            .cloned()
            .unwrap_or_default(),
        progress: progress.clone(),
        clock_ms,
        ..continued(announced)
    }
}

fn continued(a: &Announced) -> ContinuedObject {
    ContinuedObject {
        bucket: a.bucket.clone(),
        key: a.key.clone(),
        size: a.size,
        version: a.version.clone().unwrap_or_default(),
        progress: a.progress.clone(),
        clock_ms: a.clock_ms,
        replay: a.replay,
    }
}

fn object_ref(a: &Announced) -> ObjectRef {
    ObjectRef {
        size: a.size,
        version: a.version.clone(),
        ..ObjectRef::new(Store::S3(a.bucket.clone()), a.key.clone())
    }
}

fn poison(cause: &'static str, object: Option<String>, message: String) -> Failure {
    Failure {
        class: ErrorClass::Poison,
        cause,
        object,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_wait_longer_each_time_up_to_the_sqs_limit() {
        let delays: Vec<u32> = (1..=7).map(|a| continuation_delay(30, a)).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(continuation_delay(30, u32::MAX), MAX_DELAY_SECONDS);
        assert_eq!(continuation_delay(0, 5), 0);
    }

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        let cut = truncate(&"é".repeat(100), 11);
        assert!(cut.len() <= 11 && cut.ends_with("..."), "{cut}");
        assert_eq!(cut, "éééé...");
    }
}
