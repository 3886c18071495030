//! The digest-validator function's run: the checkpoint read, every chain checked since it,
//! the findings logged and counted, what can be healed enqueued on the forwarder's queue, the
//! checkpoint written back.
//!
//! A run is synchronous (it reads objects as streams) and bridges to the async lister and
//! queue through a runtime handle: the function runs it on a blocking thread.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;
use tokio::runtime::Handle;

use super::check::{Checker, Evidence};
use super::config::ValidatorConfig;
use super::keys::{KeyRing, KeyStore};
use super::{Checkpoint, Finding, FindingKind, Options, Tally, check_walk};
use crate::pipeline::receipt::receipts_prefix;
use crate::ports::read_bounded;
use crate::ports::{
    ArchiveSink, Clock, ErrorClass, ListedObject, Lister, ObjectRef, ObjectSource, Outgoing,
    PortError, Queue, QueueRef, Store, epoch_ms,
};
use crate::replay::enqueue;
use crate::replay::select::{Request, Selection, Walk};

/// The checkpoint's key after the archive prefix.
pub const CHECKPOINT_KEY: &str = "_validator/checkpoint.json";
/// Messages per second when log files are enqueued again.
const HEAL_MESSAGES_PER_SECOND: u32 = 100;
/// Most bytes read of a checkpoint or a key file.
const MAX_SMALL_OBJECT_BYTES: u64 = 256 << 20;

/// The ports a run works with.
#[derive(Debug)]
pub struct ValidatorPorts<'a, S, K, L, A, Q, C> {
    /// Digests, log files, receipts, the checkpoint.
    pub source: &'a S,
    /// Public keys.
    pub keys: &'a K,
    /// Lists the trail's digest folders, and a file to enqueue again.
    pub lister: &'a L,
    /// Where the checkpoint is written.
    pub archive: &'a A,
    /// The forwarder's queue.
    pub queue: &'a Q,
    /// The time.
    pub clock: &'a C,
    /// Bridges to the lister and the queue.
    pub handle: Handle,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// What was checked and found.
    pub tally: Tally,
    /// Every finding, in order.
    pub findings: Vec<Finding>,
    /// Log files enqueued again on the forwarder's queue.
    pub healed: u64,
    /// Log files that could not be enqueued again, with the cause.
    pub heal_failed: Vec<(String, PortError)>,
    /// The failure that stopped the check, if one did: the checkpoint keeps what was done.
    pub failure: Option<PortError>,
    /// Whether every chain was checked before the deadline.
    pub complete: bool,
}

impl RunReport {
    /// Embedded Metric Format documents: findings by kind, account and region, and the run's
    /// totals (namespace `trailrelay`).
    pub fn emf(&self, timestamp_ms: i64) -> Vec<String> {
        let mut by_place: BTreeMap<(FindingKind, &str, &str), u64> = BTreeMap::new();
        for f in &self.findings {
            *by_place.entry((f.kind, &f.account, &f.region)).or_default() += 1;
        }
        let mut lines: Vec<String> = by_place
            .into_iter()
            .map(|((kind, account, region), n)| {
                crate::rules::emf_document(
                    "trailrelay",
                    &[
                        ("Kind", kind.as_str().to_owned()),
                        ("Account", account.to_owned()),
                        ("Region", region.to_owned()),
                    ],
                    &[("DigestFindings", Some("Count"), n.into())],
                    timestamp_ms,
                )
            })
            .collect();
        let t = &self.tally;
        let metrics: [(&str, Option<&str>, Value); 7] = [
            (
                "DigestFindingsTotal",
                Some("Count"),
                t.finding_count().into(),
            ),
            ("DigestChainsChecked", Some("Count"), t.chains.into()),
            ("DigestsVerified", Some("Count"), t.digests_verified.into()),
            (
                "LogFilesVerified",
                Some("Count"),
                t.log_files_verified.into(),
            ),
            (
                "LogFilesForwardedVerified",
                Some("Count"),
                t.log_files_forwarded.into(),
            ),
            ("LogFilesHealed", Some("Count"), self.healed.into()),
            (
                "DigestValidationFailed",
                Some("Count"),
                u64::from(self.failure.is_some()).into(),
            ),
        ];
        lines.push(crate::rules::emf_document(
            "trailrelay",
            &[],
            &metrics,
            timestamp_ms,
        ));
        lines
    }
}

/// One scheduled validation.
#[derive(Debug)]
pub struct Validator<'a, S, K, L, A, Q, C> {
    /// The ports.
    pub ports: ValidatorPorts<'a, S, K, L, A, Q, C>,
    /// The configuration.
    pub config: &'a ValidatorConfig,
    /// The region the function runs in, named in the notifications it enqueues.
    pub region: String,
}

impl<S, K, L, A, Q, C> Validator<'_, S, K, L, A, Q, C>
where
    S: ObjectSource,
    K: KeyStore,
    L: Lister,
    A: ArchiveSink,
    Q: Queue,
    C: Clock,
{
    /// Checks every chain since the checkpoint until `stop_at` (the next run goes on from
    /// there), heals, writes the checkpoint back. A failure to read or write the checkpoint is
    /// the run's error; one during the check is in the report.
    pub fn run(&self, stop_at: Option<Instant>) -> Result<RunReport, PortError> {
        let config = self.config;
        let now_s = epoch_ms(self.ports.clock.now()) / 1000;
        let mut checkpoint = self.read_checkpoint()?;
        let lookback_s =
            i64::try_from(config.first_lookback_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
        // From the chain checked longest ago, but never further back than the lookback: a chain
        // silent for longer restarts its links there (and is named late meanwhile).
        let earliest = now_s.saturating_sub(lookback_s);
        let from_s = checkpoint
            .earliest_end_s()
            .map_or(earliest, |s| s.max(earliest));
        let request = Request {
            bucket: config.trail_bucket.clone(),
            prefix: config.trail_prefix.clone(),
            from: jiff::Timestamp::from_second(from_s)
                .ok()
                .map(|t| t.to_string()),
            ..Request::default()
        };
        let selection = Selection::digests(&request)
            .map_err(|e| PortError::new(ErrorClass::Poison, "configuration", e))?;
        let mut walk = Walk::new(selection);
        let bucket = config.trail_bucket.clone();
        let (handle, lister) = (&self.ports.handle, self.ports.lister);
        let list_keys = move |prefix: &str| -> Result<Vec<String>, PortError> {
            let listing = handle.block_on(lister.list(&bucket, prefix, false))?;
            Ok(listing.objects.into_iter().map(|o| o.key).collect())
        };
        let evidence = Evidence {
            lister: Some(&list_keys),
            source: self.ports.source,
            trail: Store::S3(config.trail_bucket.clone()),
            receipts: Some((
                Store::S3(config.archive_bucket.clone()),
                receipts_prefix(&config.archive_prefix),
            )),
            lake: config.lake_location.as_ref().map(|(bucket, prefix)| {
                (Store::S3(bucket.clone()), crate::lake::lake_prefix(prefix))
            }),
            keys: self.ports.keys,
        };
        let options = Options {
            forward_grace_s: i64::try_from(config.forward_grace_s).unwrap_or(i64::MAX),
            late_after_s: i64::try_from(config.late_after_s).unwrap_or(i64::MAX),
            max_log_file_bytes: config.max_object_bytes,
            forwarding_busy: self.forwarding_busy(),
            lake_grace_s: i64::try_from(config.lake_grace_s).unwrap_or(i64::MAX),
        };
        let mut checker = Checker::new(evidence, options, now_s)
            .walked_from(Some(from_s))
            .with_deadline(stop_at);
        let mut report = RunReport::default();
        let handle = &self.ports.handle;
        let lister = self.ports.lister;
        let mut next_day = || handle.block_on(walk.next_day(lister));
        let mut stop = || stop_at.is_some_and(|at| Instant::now() >= at);
        let mut found = |f| report.findings.push(f);
        match check_walk(
            &mut checker,
            &mut next_day,
            &mut checkpoint,
            &mut stop,
            &mut found,
        ) {
            Ok(complete) => report.complete = complete,
            Err(e) => report.failure = Some(e),
        }
        checkpoint.unfinished_from_s = (!report.complete).then_some(from_s);
        report.tally = checker.tally;
        self.heal(&mut report);
        self.write_checkpoint(&checkpoint)?;
        Ok(report)
    }

    /// Whether the forwarder's queue or its dead-letter queue holds messages: a file without a
    /// receipt may then be one of them (queued, continued, dead-lettered) and is not enqueued
    /// again. A queue that cannot be asked counts as idle, as before this was asked.
    fn forwarding_busy(&self) -> bool {
        let config = self.config;
        let mut queues = std::iter::once(&config.forwarder_queue_url)
            .chain(config.dead_letter_queue_url.as_ref());
        queues.any(|url| {
            let queue = QueueRef::Url(url.clone());
            match self.ports.handle.block_on(self.ports.queue.pending(&queue)) {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(queue = %url, error = %e, "Could not count the queue's messages.");
                    false
                }
            }
        })
    }

    fn checkpoint_ref(&self) -> ObjectRef {
        let key = format!(
            "{}{CHECKPOINT_KEY}",
            crate::key::folder(&self.config.archive_prefix)
        );
        ObjectRef::new(Store::S3(self.config.archive_bucket.clone()), key)
    }

    fn read_checkpoint(&self) -> Result<Checkpoint, PortError> {
        let object = self.checkpoint_ref();
        let Some(opened) = self.ports.source.open_existing(&object)? else {
            return Ok(Checkpoint::default());
        };
        let bytes = read_bounded(opened.reader, MAX_SMALL_OBJECT_BYTES)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| PortError::new(ErrorClass::Poison, "checkpoint", format!("{object}: {e}")))
    }

    fn write_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), PortError> {
        let key = &self.checkpoint_ref().key;
        crate::ports::put_json(
            self.ports.archive,
            key,
            checkpoint,
            ("checkpoint", "checkpoint-write"),
        )
    }

    /// Enqueues each log file found not forwarded as the S3 notification of its object, through
    /// the one enqueue path replays use; each stays awaiting in the checkpoint until its receipt
    /// comes.
    fn heal(&self, report: &mut RunReport) {
        let bucket = &self.config.trail_bucket;
        let keys: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::LogFileNotForwarded)
            .map(|f| f.key.as_str())
            .collect();
        let now = self.ports.clock.now();
        let mut batch: Vec<(String, Outgoing)> = Vec::new();
        let mut failed = Vec::new();
        let limiter = std::num::NonZeroU32::new(HEAL_MESSAGES_PER_SECOND).map(enqueue::limiter);
        let flush = |batch: &mut Vec<(String, Outgoing)>, failed: &mut Vec<(String, PortError)>| {
            let messages: Vec<Outgoing> = batch.iter().map(|(_, m)| m.clone()).collect();
            let results = self.ports.handle.block_on(enqueue::send(
                self.ports.queue,
                limiter.as_ref(),
                &messages,
            ));
            let mut sent = 0;
            for ((key, _), result) in batch.drain(..).zip(results) {
                match result {
                    Ok(()) => sent += 1,
                    Err(e) => failed.push((key, e)),
                }
            }
            sent
        };
        let mut healed = 0;
        for key in keys {
            let listed = match self.object(bucket, key) {
                Ok(listed) => listed,
                Err(e) => {
                    failed.push((key.to_owned(), e));
                    continue;
                }
            };
            let body = enqueue::notification(bucket, &listed, &self.region, now);
            let bytes: usize = batch.iter().map(|(_, m)| m.body.len()).sum();
            if !enqueue::fits(batch.len(), bytes, &body) {
                healed += flush(&mut batch, &mut failed);
            }
            let message = Outgoing {
                queue: QueueRef::Url(self.config.forwarder_queue_url.clone()),
                body,
                delay_seconds: 0,
                attributes: Vec::new(),
            };
            batch.push((key.to_owned(), message));
        }
        if !batch.is_empty() {
            healed += flush(&mut batch, &mut failed);
        }
        report.healed = healed;
        report.heal_failed = failed;
    }

    /// The listed object at `key` (its size and ETag go in the notification).
    fn object(&self, bucket: &str, key: &str) -> Result<ListedObject, PortError> {
        let listing = self
            .ports
            .handle
            .block_on(self.ports.lister.list(bucket, key, false))?;
        listing
            .objects
            .into_iter()
            .find(|o| o.key == key)
            .ok_or_else(|| {
                PortError::new(
                    ErrorClass::Poison,
                    "not-found",
                    format!("s3://{bucket}/{key} is gone"),
                )
            })
    }
}

/// The public keys of every file under `prefix` of `bucket`, naming the file at fault.
pub fn load_keys(
    lister: &impl Lister,
    source: &impl ObjectSource,
    handle: &Handle,
    bucket: &str,
    prefix: &str,
) -> Result<KeyRing, String> {
    let listing = handle
        .block_on(lister.list(bucket, prefix, false))
        .map_err(|e| format!("listing s3://{bucket}/{prefix}: {e}"))?;
    let files = listing.objects.into_iter().map(|object| {
        let name = format!("s3://{bucket}/{}", object.key);
        let read = source
            .open(&ObjectRef::new(Store::S3(bucket.to_owned()), object.key))
            .and_then(|opened| read_bounded(opened.reader, MAX_SMALL_OBJECT_BYTES))
            .map_err(|e| e.to_string());
        (name, read)
    });
    KeyRing::from_files(files, &format!("s3://{bucket}/{prefix}"))
}

/// Reads the trail bucket through one source and every other bucket (the archive's receipts
/// and checkpoint) through another: the trail's expected owner is not the archive's.
#[derive(Debug)]
pub struct ByBucket<S> {
    /// The trail bucket.
    pub trail_bucket: String,
    /// Reads the trail bucket.
    pub trail: S,
    /// Reads the others.
    pub other: S,
}

impl<S: ObjectSource> ObjectSource for ByBucket<S> {
    type Reader = S::Reader;

    fn open(&self, object: &ObjectRef) -> Result<crate::ports::Opened<S::Reader>, PortError> {
        match &object.store {
            Store::S3(bucket) if *bucket == self.trail_bucket => self.trail.open(object),
            _ => self.other.open(object),
        }
    }
}
