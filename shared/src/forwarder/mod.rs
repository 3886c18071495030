//! One SQS batch through the pipeline: the forwarder function's logic, free of any Lambda or
//! AWS SDK type.
//!
//! Each message runs as its own task (at most [`Config::message_concurrency`] at once), and
//! each object as a blocking task, so a failure or a panic in one message fails that message
//! only. A message succeeds when every object it announces was forwarded (or is one the
//! forwarder skips on purpose). A failure is classified once, retry or poison, and ends in one
//! of three places (module `message`):
//!
//! - poison, with a dead-letter queue configured: the message goes there at once, its body
//!   unchanged and its cause in message attributes, and is reported done;
//! - retry, after some log events of the message were accepted: a
//!   [`Continuation`](crate::notification::Continuation) with the
//!   rest of its work goes to the queue the message came from (its `eventSourceARN`), delayed
//!   a little more each time, and the message is reported done, so nothing is sent twice;
//! - otherwise, or when that send fails: the message is reported in `batchItemFailures`
//!   (ReportBatchItemFailures, <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>)
//!   and comes back after its visibility timeout, until the queue's redrive policy moves it.
//!
//! Near the deadline ([`Plan`]), no call starts any more; a message whose object is still
//! running when its continuation must be sent is continued from what its log streams accepted,
//! and unfinished messages are continued or reported failed rather than abandoned.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod message;

use crate::config::Config;
use crate::pipeline::Totals;
use crate::ports::{
    ANSWER_TIME, ArchiveSink, CALL_TIMEOUT, Clock, DEADLINE_GRACE, ErrorClass, LogSink,
    ObjectSource, Queue,
};

pub use message::{
    CAUSE_ATTRIBUTE, CONTINUATION_ATTRIBUTE, MAX_ERROR_ATTRIBUTE_BYTES, SENDER_ID,
    continuation_delay,
};

/// The Lambda SQS event, its messages and the partial batch response: the ecosystem's own
/// types, as the runtime's examples use them.
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// A message as Lambda delivers it: its id, its body, and the queue it came from (where
/// continuations go), if known.
pub fn sqs_message(id: &str, body: &str, source_arn: Option<&str>) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_owned());
    message.event_source_arn = source_arn.map(str::to_owned);
    message
}

/// A message's id, as reported in `batchItemFailures`.
fn message_id(message: &SqsMessage) -> &str {
    message.message_id.as_deref().unwrap_or_default()
}

/// How one message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// Every announced object forwarded or skipped on purpose.
    Done,
    /// Nothing to forward, by design (test events, validation messages, deletions).
    Acknowledged(&'static str),
    /// Interrupted (retry) after some of its log events were accepted: the rest is enqueued as a
    /// continuation and the message is done.
    Continued(Failure),
    /// Poison, sent to the dead-letter queue with its cause; the message is done.
    DeadLettered(Failure),
    /// Failed; reported in `batchItemFailures`.
    Failed(Failure),
}

/// A classified failure of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Retry or poison.
    pub class: ErrorClass,
    /// A short, stable cause.
    pub cause: &'static str,
    /// The object it concerns, if any.
    pub object: Option<String>,
    /// The full description.
    pub message: String,
}

/// What one invocation did.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The response for Lambda.
    pub response: SqsBatchResponse,
    /// Per message id, in batch order.
    pub outcomes: Vec<(String, MessageOutcome)>,
    /// Object counts and rule statistics.
    pub totals: Totals,
}

impl Invocation {
    /// Messages by outcome: `done`, `acknowledged`, `continued`, `dead-lettered`,
    /// `failed-retry`, `failed-poison`.
    pub fn message_counts(&self) -> BTreeMap<&'static str, u64> {
        let mut m = BTreeMap::new();
        for (_, o) in &self.outcomes {
            let key = match o {
                MessageOutcome::Done => "done",
                MessageOutcome::Acknowledged(_) => "acknowledged",
                MessageOutcome::Continued(_) => "continued",
                MessageOutcome::DeadLettered(_) => "dead-lettered",
                MessageOutcome::Failed(f) if f.class == ErrorClass::Retry => "failed-retry",
                MessageOutcome::Failed(_) => "failed-poison",
            };
            *m.entry(key).or_insert(0) += 1;
        }
        m
    }

    /// The invocation's counts as one CloudWatch Embedded Metric Format document, namespace
    /// `trailrelay`.
    pub fn emf(&self, timestamp_ms: i64) -> String {
        let c = &self.totals.counts;
        let counts = self.message_counts();
        let by_outcome = [
            ("MessagesAcknowledged", "acknowledged"),
            ("MessagesContinued", "continued"),
            ("MessagesDeadLettered", "dead-lettered"),
            ("MessagesFailedRetry", "failed-retry"),
            ("MessagesFailedPoison", "failed-poison"),
        ]
        .map(|(metric, outcome)| (metric, counts.get(outcome).copied().unwrap_or(0), "Count"));
        let mut metrics: Vec<(&str, u64, &str)> =
            vec![("Messages", self.outcomes.len() as u64, "Count")];
        metrics.extend(by_outcome);
        metrics.extend([
            ("ObjectsForwarded", self.totals.forwarded, "Count"),
            ("ObjectsReplayed", self.totals.replayed, "Count"),
            ("ObjectsSkipped", self.totals.skipped_objects(), "Count"),
            ("ObjectsFailed", self.totals.failed_objects(), "Count"),
            ("Records", c.records, "Count"),
            ("BytesRead", c.bytes_read, "Bytes"),
            ("BytesDecoded", c.bytes_decoded, "Bytes"),
            ("EventsLogged", c.events_logged, "Count"),
            ("EventsArchived", c.events_archived, "Count"),
            ("EventsRejected", c.events_rejected, "Count"),
            ("EventsTooLarge", c.events_too_large, "Count"),
            ("EventsTooOld", c.events_too_old, "Count"),
            ("EventsTooNew", c.events_too_new, "Count"),
            ("EventsResumed", c.events_resumed, "Count"),
            ("RecordsQuarantined", c.records_quarantined, "Count"),
            ("EventsKeyMismatch", c.events_key_mismatch, "Count"),
            ("EventsWithoutTime", c.events_without_time, "Count"),
            (
                "EventsDroppedFromLogs",
                self.totals.rule_stats.dropped_from_logs,
                "Count",
            ),
            (
                "EventsDroppedFromArchive",
                self.totals.rule_stats.dropped_from_archive,
                "Count",
            ),
            ("LogBatches", c.log_batches, "Count"),
        ]);
        let metrics: Vec<(&str, Option<&str>, serde_json::Value)> = metrics
            .into_iter()
            .map(|(name, value, unit)| (name, Some(unit), value.into()))
            .collect();
        crate::rules::emf_document("trailrelay", &[], &metrics, timestamp_ms)
    }

    /// (message id, failure) of every failed message, in batch order.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Failure)> {
        self.outcomes.iter().filter_map(|(id, o)| match o {
            MessageOutcome::Failed(f) => Some((id.as_str(), f)),
            _ => None,
        })
    }

    /// (message id, outcome) of every message that met a failure, however it ended: failed,
    /// continued or dead-lettered.
    pub fn troubles(&self) -> impl Iterator<Item = (&str, &MessageOutcome, &Failure)> {
        self.outcomes.iter().filter_map(|(id, o)| match o {
            MessageOutcome::Failed(f)
            | MessageOutcome::Continued(f)
            | MessageOutcome::DeadLettered(f) => Some((id.as_str(), o, f)),
            _ => None,
        })
    }
}

/// A message's outcome and what its objects counted.
type Finished = (MessageOutcome, Totals);

/// The ports, the configuration and the clock, shared by every task of an invocation.
#[derive(Debug)]
pub struct Forwarder<S, L, A, C, Q> {
    inner: Arc<Inner<S, L, A, C, Q>>,
}

/// The ports a forwarder works with.
#[derive(Debug)]
pub struct Ports<S, L, A, C, Q> {
    /// Where objects come from.
    pub source: S,
    /// Where log events go.
    pub logs: L,
    /// Where archive objects go.
    pub archive: A,
    /// The time.
    pub clock: C,
    /// Where continuations and dead letters go.
    pub queue: Q,
}

#[derive(Debug)]
struct Inner<S, L, A, C, Q> {
    ports: Ports<S, L, A, C, Q>,
    config: Config,
}

impl<S, L, A, C, Q> Clone for Forwarder<S, L, A, C, Q> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
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
    /// A forwarder over these ports.
    pub fn new(ports: Ports<S, L, A, C, Q>, config: Config) -> Self {
        Self {
            inner: Arc::new(Inner { ports, config }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Handles one batch (an [`SqsEvent`]'s records) that must be answered by `deadline`.
    pub async fn handle(&self, messages: Vec<SqsMessage>, deadline: Instant) -> Invocation {
        let grace = Duration::from_millis(self.inner.config.deadline_grace_ms);
        let plan = Plan::new(deadline, Instant::now(), grace);
        let Plan {
            stop_at, give_up, ..
        } = plan;
        self.prepare_queues(&messages, stop_at).await;
        let slots: Arc<Mutex<Vec<Option<Finished>>>> =
            Arc::new(Mutex::new(vec![None; messages.len()]));
        let permits = Arc::new(tokio::sync::Semaphore::new(
            self.inner.config.message_concurrency,
        ));
        let mut tasks = tokio::task::JoinSet::new();
        let mut task_index = std::collections::HashMap::new();
        // Messages start in batch order, at most `message_concurrency` at once; starting and
        // waiting both end at `give_up`, and whatever has not finished by then fails for retry.
        let work = async {
            for (i, message) in messages.iter().enumerate() {
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    break;
                };
                let (this, message, slots) = (self.clone(), message.clone(), Arc::clone(&slots));
                let handle = tasks.spawn(async move {
                    let _permit = permit;
                    let result = if Instant::now() >= stop_at {
                        (
                            MessageOutcome::Failed(deadline_failure()),
                            Totals::default(),
                        )
                    } else {
                        this.process(&message, plan).await
                    };
                    if let Ok(mut s) = slots.lock() {
                        s[i] = Some(result);
                    }
                });
                task_index.insert(handle.id(), i);
            }
            while let Some(joined) = tasks.join_next_with_id().await {
                if let Err(e) = joined
                    && e.is_panic()
                    && let Some(&i) = task_index.get(&e.id())
                    && let Ok(mut s) = slots.lock()
                {
                    s[i] = Some((
                        MessageOutcome::Failed(panic_failure(None)),
                        Totals::default(),
                    ));
                }
            }
        };
        let _ = tokio::time::timeout_at(give_up.into(), work).await;
        tasks.abort_all();
        let results = std::mem::take(&mut *slots.lock().unwrap_or_else(|p| p.into_inner()));
        let mut invocation = Invocation::default();
        for (message, result) in messages.iter().zip(results) {
            let (outcome, totals) = result.unwrap_or_else(|| {
                (
                    MessageOutcome::Failed(deadline_failure()),
                    Totals::default(),
                )
            });
            invocation.totals.merge(&totals);
            if let MessageOutcome::Failed(_) = &outcome {
                // Reported for the queue to deliver again.
                invocation
                    .response
                    .batch_item_failures
                    .push(failure_of(message));
            }
            invocation
                .outcomes
                .push((message_id(message).to_owned(), outcome));
        }
        invocation
    }

    /// Looks up the queues continuations may go to before any work, so that sending one at the
    /// deadline is the one call the grace allows for (a cold instance would otherwise look the
    /// queue's URL up first). A failure here only means the send looks it up again.
    async fn prepare_queues(&self, messages: &[SqsMessage], stop_at: Instant) {
        let arns: std::collections::BTreeSet<&str> = messages
            .iter()
            .filter_map(|m| m.event_source_arn.as_deref())
            .collect();
        for arn in arns {
            let queue = crate::ports::QueueRef::Arn(arn.to_owned());
            let prepared =
                tokio::time::timeout_at(stop_at.into(), self.inner.ports.queue.prepare(&queue))
                    .await;
            if let Ok(Err(e)) = prepared {
                tracing::warn!(queue = %arn, cause = e.cause, error = %e, "Looking up the queue failed; a continuation will look it up again.");
            }
        }
    }
}

/// When an invocation due at a deadline stops work, settles what still runs, and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// No call starts after it: messages not begun fail for retry, objects stop between
    /// batches and before each write.
    stop_at: Instant,
    /// A message whose object is still running then (a call that outlived its bound) is
    /// continued from what its log streams accepted so far.
    settle_by: Instant,
    /// The answer goes out, whatever still runs.
    give_up: Instant,
}

impl Plan {
    /// The plan for `grace` before `deadline`, split as [`DEADLINE_GRACE`] is (a call in
    /// flight, the continuation's send, the answer). The grace takes at most three quarters of
    /// the time there is, so that a short function timeout still leaves time to work.
    fn new(deadline: Instant, now: Instant, grace: Duration) -> Self {
        let grace = grace.min(deadline.saturating_duration_since(now) * 3 / 4);
        let share =
            |part: Duration| grace.mul_f64(part.as_secs_f64() / DEADLINE_GRACE.as_secs_f64());
        let before = |time: Duration| deadline.checked_sub(time).unwrap_or(now);
        Self {
            stop_at: before(grace),
            settle_by: before(share(CALL_TIMEOUT + ANSWER_TIME)),
            give_up: before(share(ANSWER_TIME)),
        }
    }
}

fn failure_of(message: &SqsMessage) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id(message).to_owned();
    failure
}

/// The time an invocation has, from the runtime's deadline (`Lambda-Runtime-Deadline-Ms`,
/// milliseconds since the Unix epoch,
/// <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>). `cargo lambda watch` sends
/// the function's timeout there instead (`600000`); a value too small to be a date this century
/// is read as that duration.
pub fn time_given(deadline_ms: u64, now: std::time::SystemTime) -> Duration {
    /// 2001-01-01T00:00:00Z in milliseconds: no real deadline is earlier.
    const EPOCH_FLOOR_MS: u64 = 978_307_200_000;
    if deadline_ms < EPOCH_FLOOR_MS {
        return Duration::from_millis(deadline_ms);
    }
    (std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .duration_since(now)
        .unwrap_or_default()
}

fn deadline_failure() -> Failure {
    Failure {
        class: ErrorClass::Retry,
        cause: "deadline",
        object: None,
        message: "the invocation's deadline came before the message was done; it will be retried"
            .into(),
    }
}

fn panic_failure(object: Option<String>) -> Failure {
    Failure {
        class: ErrorClass::Poison,
        cause: "panic",
        message: format!(
            "processing panicked{}; the message fails alone",
            object
                .as_deref()
                .map(|o| format!(" on {o}"))
                .unwrap_or_default()
        ),
        object,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn the_derived_grace_covers_a_call_in_flight_then_the_send_then_the_answer() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(60);
        let plan = Plan::new(deadline, now, DEADLINE_GRACE);
        assert_eq!(deadline - plan.stop_at, Duration::from_secs(41));
        assert_eq!(deadline - plan.settle_by, Duration::from_secs(21));
        assert_eq!(deadline - plan.give_up, Duration::from_secs(1));
        // A call begun just before work stops ends before the continuation is due.
        assert!(plan.stop_at + CALL_TIMEOUT <= plan.settle_by);
        assert!(plan.settle_by + CALL_TIMEOUT <= plan.give_up);
    }

    #[test]
    fn a_short_invocation_keeps_a_quarter_of_its_time_for_work() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(8);
        let plan = Plan::new(deadline, now, DEADLINE_GRACE);
        assert_eq!(plan.stop_at - now, Duration::from_secs(2));
        assert!(plan.stop_at < plan.settle_by && plan.settle_by < plan.give_up);
        assert!(plan.give_up < deadline);
        // A deadline already past: everything is now.
        let past = Plan::new(now, now, DEADLINE_GRACE);
        assert_eq!(
            (past.stop_at, past.settle_by, past.give_up),
            (now, now, now)
        );
    }
}
