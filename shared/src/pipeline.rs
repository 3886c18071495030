//! One object through the whole pipeline: open, decode, normalise, batch for CloudWatch Logs,
//! write the archive.
//!
//! [`Pipeline::forward`] reads the object as a stream and hands each record to both
//! destinations as it goes: its archive line into the gzip stream of the object's archive
//! object, its message into the [`LogBatcher`](crate::batch::LogBatcher), whose full batches are sent at once. Memory is
//! bounded by the decoder's buffer and the open batches, never by the object.
//!
//! An object succeeds only when every record was read, every log batch was accepted and the
//! archive object was committed. On any failure the archive object is abandoned (never left
//! partial) and the failure is classified once ([`ProcessError::class`]). Log batches already
//! accepted stay accepted, and the report says how far each log stream got ([`Progress`]): a
//! later attempt given that progress ([`Pipeline::resume`]) reads the object again, writes the
//! whole archive object again, and sends only the events no earlier attempt had accepted. A
//! record that is not JSON is quarantined ([`quarantine`]) and the rest of the file goes on.

use std::io::{Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;

mod logs;
mod progress;
pub mod quarantine;
pub mod receipt;
mod stages;
mod totals;

use logs::LogSide;
pub use progress::{Progress, StreamProgress};
use stages::{ArchiveStream, DeflateStage, InflateStage, StreamFacts};
pub use totals::{Counts, Totals};

use crate::archive::archive_key;
use crate::batch::{LogBatch, MAX_EVENT_AGE_MS, Window};
use crate::decode::{self, DecodeError, Limits, RecordReader};
use crate::key::{self, ObjectKind, TrailKey};
use crate::normalize::{self, Normalized, Origin, RecordParser};
use crate::ports::{
    ArchiveSink, ArchiveUpload, Clock, ErrorClass, LogSink, ObjectRef, ObjectSource, Opened,
    PortError, Version, epoch_ms,
};
use crate::rules::{RuleSet, RuleStats};
use crate::template::{NameKind, Template, TemplateError};
use receipt::{Receipt, ReceiptSink, filed_key};

/// Records read between two looks at the deadline.
const DEADLINE_CHECK_RECORDS: u64 = 1024;

/// The default log group.
pub const DEFAULT_LOG_GROUP: &str = "/trailrelay/cloudtrail";
/// The default log stream: CloudTrail's own naming for organization trails.
pub const DEFAULT_LOG_STREAM: &str = "{org_id}_{account_id}_CloudTrail_{region}";
/// The default gzip level of archive objects: fast. Level 6 saves about a tenth of the bytes at
/// several times the CPU.
pub const DEFAULT_ARCHIVE_GZIP_LEVEL: u32 = 1;

/// How objects are forwarded.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Limits on what one object may decode to.
    pub limits: Limits,
    /// Log group name template.
    pub log_group: Template,
    /// Log stream name template.
    pub log_stream: Template,
    /// Key prefix of archive objects.
    pub archive_prefix: String,
    /// gzip level of archive objects, 0 to 9.
    pub archive_gzip_level: u32,
    /// Metric filters and routes, evaluated on every event.
    pub rules: RuleSet,
    /// How old an event may be and still go to CloudWatch Logs: the destination group's
    /// retention, at most 14 days ([`MAX_EVENT_AGE_MS`]).
    pub max_event_age_ms: i64,
    /// Whether one object runs on three threads (decompression, record work, archive
    /// compression), for a CPU to spare; off, all in line on the caller's.
    pub stage_threads: bool,
}

impl Settings {
    /// Settings with the given templates and every other value at its default.
    pub fn new(log_group: &str, log_stream: &str) -> Result<Self, TemplateError> {
        Ok(Self {
            limits: Limits::default(),
            log_group: Template::parse(log_group, NameKind::Group)?,
            log_stream: Template::parse(log_stream, NameKind::Stream)?,
            archive_prefix: String::new(),
            archive_gzip_level: DEFAULT_ARCHIVE_GZIP_LEVEL,
            rules: RuleSet::default(),
            max_event_age_ms: MAX_EVENT_AGE_MS,
            stage_threads: false,
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::new(DEFAULT_LOG_GROUP, DEFAULT_LOG_STREAM)
            .unwrap_or_else(|e| unreachable!("default log group and stream: {e}"))
    }
}

/// Why an object failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The source could not open it.
    #[error("opening the object failed: {0}")]
    Open(#[source] PortError),
    /// Its bytes are not a readable CloudTrail document.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The log sink refused a batch.
    #[error("sending log events failed: {0}")]
    Logs(#[source] PortError),
    /// The archive object could not be written.
    #[error("writing the archive object failed: {0}")]
    Archive(#[source] PortError),
    /// The deadline came before the object was done.
    #[error("the deadline came after {records} records; the object will be retried")]
    Deadline {
        /// Records read by then.
        records: u64,
    },
}

impl ProcessError {
    /// Retry or poison: the one classification of every failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Open(e) | Self::Logs(e) | Self::Archive(e) => e.class,
            Self::Decode(DecodeError::Read(_)) | Self::Deadline { .. } => ErrorClass::Retry,
            Self::Decode(_) => ErrorClass::Poison,
        }
    }

    /// A short, stable name for the cause.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::Open(e) | Self::Logs(e) | Self::Archive(e) => e.cause,
            Self::Decode(e) => e.cause(),
            Self::Deadline { .. } => "deadline",
        }
    }
}

/// Why an object was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// A digest file: for digest validation, not forwarding.
    Digest,
    /// Not `.json` or `.json.gz`: not something a trail delivers as a log file.
    NotALogFile,
    /// Its receipt covers this very version: forwarded before (a re-run backfill).
    ForwardedBefore,
    /// In the trail's layout, but its name's delivery stamp is none CloudTrail writes: not a
    /// file CloudTrail delivered, and never parsed further.
    BadStamp,
}

impl SkipReason {
    /// A short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Digest => "digest",
            Self::NotALogFile => "not-a-log-file",
            Self::ForwardedBefore => "forwarded-before",
            Self::BadStamp => "bad-stamp",
        }
    }
}

/// How an object ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every record reached every destination; the archive object is at this key.
    Forwarded {
        /// The archive object's key.
        archive_key: String,
        /// The quarantine object's key, when a record was not JSON.
        quarantine_key: Option<String>,
    },
    /// Left alone, on purpose.
    Skipped(SkipReason),
    /// Failed; see the error's class.
    Failed(ProcessError),
}

/// What happened to one object.
#[derive(Debug)]
pub struct ObjectReport {
    /// The object.
    pub object: ObjectRef,
    /// What its key says it is.
    pub kind: ObjectKind,
    /// How it ended.
    pub outcome: Outcome,
    /// What was read and sent, up to the end or the failure.
    pub counts: Counts,
    /// Rule matches and metric values of its events.
    pub rule_stats: RuleStats,
    /// The version read, once the object was opened.
    pub version: Option<Version>,
    /// Events accepted per log stream, by this attempt and those before it: where a later
    /// attempt resumes.
    pub progress: Progress,
    /// The clock reading (ms since the Unix epoch) event times were judged by: a later attempt
    /// judges by the same. `None` only for a resumed object whose earlier attempt had none.
    pub clock_ms: Option<i64>,
}

/// The ports and settings one run uses.
#[derive(Debug)]
pub struct Pipeline<'p, S, L, A, C> {
    /// Where objects come from.
    pub source: &'p S,
    /// Where log events go.
    pub logs: &'p L,
    /// Where archive objects go.
    pub archive: &'p A,
    /// Where receipts of wholly forwarded log files go.
    pub receipts: &'p dyn ReceiptSink,
    /// The time, for events without a usable `eventTime`.
    pub clock: &'p C,
    /// How to forward.
    pub settings: &'p Settings,
    /// When to give up: an object still being read then fails, to be retried.
    pub deadline: Option<Instant>,
}

impl<S, L, A, C> Pipeline<'_, S, L, A, C>
where
    S: ObjectSource,
    L: LogSink,
    A: ArchiveSink,
    C: Clock,
{
    /// Forwards one object and reports what happened. Never panics on bad input.
    pub fn forward(&self, object: &ObjectRef) -> ObjectReport {
        self.resume(object, &Progress::default(), None)
    }

    /// Forwards one object that earlier attempts took as far as `progress`: every record is read
    /// and archived again, and only the log events no earlier attempt had accepted are sent.
    /// `clock_ms` is the clock reading the first attempt judged event times by (the report's
    /// [`ObjectReport::clock_ms`]), so that every attempt admits the same events; `None` reads
    /// the clock, or, with progress to resume, admits every time (as the earlier attempt, which
    /// judged none, did).
    pub fn resume(
        &self,
        object: &ObjectRef,
        progress: &Progress,
        clock_ms: Option<i64>,
    ) -> ObjectReport {
        let trail_key = object.trail_key();
        // An attempt that resumes keeps the clock its predecessor judged by; one with nothing to
        // resume reads the clock.
        let now_ms = self.now_ms();
        let clock_ms = judging_clock(clock_ms, progress, now_ms);
        let mut run = Run {
            clock_ms,
            default_time_ms: clock_ms.unwrap_or(now_ms),
            counts: Counts::default(),
            rule_stats: RuleStats::new(&self.settings.rules),
            version: None,
            progress: progress.clone(),
            skip: progress.clone(),
        };
        let outcome = match skip_reason(&trail_key) {
            Some(reason) => Outcome::Skipped(reason),
            None => match self.forward_records(object, &trail_key, &mut run) {
                Ok((archive_key, quarantine_key)) => Outcome::Forwarded {
                    archive_key,
                    quarantine_key,
                },
                Err(e) => Outcome::Failed(e),
            },
        };
        ObjectReport {
            object: object.clone(),
            kind: trail_key.kind,
            outcome,
            counts: run.counts,
            rule_stats: run.rule_stats,
            version: run.version,
            progress: run.progress,
            clock_ms: run.clock_ms,
        }
    }

    fn forward_records(
        &self,
        object: &ObjectRef,
        trail_key: &TrailKey,
        run: &mut Run,
    ) -> Result<(String, Option<String>), ProcessError> {
        let settings = self.settings;
        let Opened {
            reader, version, ..
        } = self.source.open(object).map_err(ProcessError::Open)?;
        run.version = Some(version);
        let (stream, is_gzip) = decode::decompress(reader).map_err(DecodeError::Read)?;
        let key = archive_key(&settings.archive_prefix, trail_key, &object.key);
        let upload = self.archive.begin(&key).map_err(ProcessError::Archive)?;
        let level = Compression::new(settings.archive_gzip_level.min(9));
        let limits = settings.limits;
        let to = Target {
            object,
            trail_key,
            key,
        };
        if settings.stage_threads {
            std::thread::scope(|scope| {
                let records = decode::records(InflateStage::spawn(scope, stream), limits, is_gzip);
                let archive = DeflateStage::spawn(scope, upload, level);
                self.forward_stream(&to, run, records, archive)
            })
        } else {
            let records = decode::records(stream, limits, is_gzip);
            self.forward_stream(&to, run, records, GzEncoder::new(upload, level))
        }
    }

    /// Every record of `records` to the log sink and to `gzip`, the archive object's stream;
    /// then the quarantine, the archive object and the receipt, in that order.
    fn forward_stream<R: Read + StreamFacts, W: ArchiveStream<Upload = A::Upload>>(
        &self,
        &Target {
            object,
            trail_key,
            ref key,
        }: &Target<'_>,
        run: &mut Run,
        mut records: RecordReader<R>,
        mut gzip: W,
    ) -> Result<(String, Option<String>), ProcessError> {
        let settings = self.settings;
        let bucket = object.bucket();
        let origin = Origin {
            bucket: &bucket,
            key: &object.key,
            trail_key,
        };
        let mut quarantine = quarantine::Quarantine::new(
            self.archive,
            quarantine::quarantine_key(&settings.archive_prefix, key),
            settings.archive_gzip_level,
        );
        let mut logs = LogSide::new(run, settings.max_event_age_ms);
        let mut line = Vec::with_capacity(4096);
        let parser = RecordParser::new(&settings.rules);

        let result = (|| {
            while let Some(raw) = records.next_record()? {
                if raw.index % DEADLINE_CHECK_RECORDS == 0 {
                    self.check_deadline(run.counts.records)?;
                }
                run.counts.records += 1;
                let record = match parser.parse(raw.json, raw.index, &origin) {
                    Ok(record) => record,
                    Err(e) => {
                        tracing::warn!(object = %object, index = raw.index, error = %e, "Record quarantined.");
                        quarantine.keep(raw.json, raw.index, &e, &origin)?;
                        run.counts.records_quarantined += 1;
                        continue;
                    }
                };
                if disagrees_with_key(&record.event, trail_key) {
                    run.counts.events_key_mismatch += 1;
                }
                if record.event.time.is_none() {
                    run.counts.events_without_time += 1;
                }
                let decision = settings.rules.evaluate_parsed(
                    record.json,
                    record.document(),
                    &mut run.rule_stats,
                );
                if decision.to_archive {
                    let rules = &decision.rules;
                    archive_line(&mut line, &record, raw.index, &origin, rules, &mut gzip)?;
                    run.counts.events_archived += 1;
                }
                if decision.to_logs {
                    self.log_record(&record, decision.log_group, trail_key, &mut logs, run)?;
                }
            }
            self.send_all(&mut logs, run, trail_key)
        })();
        run.counts.bytes_decoded = records.bytes_decoded();
        run.counts.bytes_read = records.stream().source_bytes();
        result?;
        // No write starts after the deadline: what is left goes to the next attempt.
        let records_read = run.counts.records;
        // The quarantine object first: an archive object in place means its quarantine is too.
        self.check_deadline(records_read)?;
        let quarantined = quarantine.commit()?;
        self.check_deadline(records_read)?;
        let upload = gzip.finish().map_err(archive_io)?;
        upload.commit().map_err(ProcessError::Archive)?;
        // Last: a receipt says the file reached every destination.
        self.check_deadline(records_read)?;
        let receipt = self.receipt(object, run, &records.stream().sha256());
        self.receipts.put(&receipt).map_err(ProcessError::Archive)?;
        Ok((key.clone(), quarantined))
    }

    /// The receipt of `object`, wholly forwarded by `run`.
    fn receipt(&self, object: &ObjectRef, run: &Run, sha256: &[u8; 32]) -> Receipt {
        let c = &run.counts;
        Receipt {
            bucket: object.bucket().into_owned(),
            key: filed_key(object).to_owned(),
            version: run.version.clone().unwrap_or_default(),
            sha256: hex::encode(sha256),
            records: c.records,
            events_logged: c.events_logged,
            events_archived: c.events_archived,
            events_rejected: c.events_rejected,
            records_quarantined: c.records_quarantined,
            forwarded_at: jiff::Timestamp::try_from(self.clock.now())
                .unwrap_or_default()
                .to_string(),
        }
    }

    fn now_ms(&self) -> i64 {
        epoch_ms(self.clock.now())
    }

    /// Forwards `objects` on `jobs` threads, calling `on_report` as each one ends (from the
    /// thread that forwarded it); once `on_report` answers false no further object is begun
    /// (those under way end), and the totals count the objects not tried.
    pub fn forward_all(
        &self,
        objects: &[ObjectRef],
        jobs: usize,
        on_report: &(dyn Fn(&ObjectReport) -> bool + Sync),
    ) -> Totals
    where
        S: Sync,
        L: Sync,
        A: Sync,
        C: Sync,
    {
        let (next, tried) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let stop = AtomicBool::new(false);
        let totals = Mutex::new(Totals::default());
        std::thread::scope(|scope| {
            for _ in 0..jobs.clamp(1, objects.len().max(1)) {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(object) = objects.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            break;
                        };
                        tried.fetch_add(1, Ordering::Relaxed);
                        let report = self.forward(object);
                        if !on_report(&report) {
                            stop.store(true, Ordering::Relaxed);
                        }
                        if let Ok(mut t) = totals.lock() {
                            t.add(&report);
                        }
                    }
                });
            }
        });
        let mut totals = totals
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        totals.not_tried = (objects.len() - tried.into_inner()) as u64;
        totals
    }
}

/// The object being forwarded, what its key says, and its archive object's key.
struct Target<'t> {
    object: &'t ObjectRef,
    trail_key: &'t TrailKey,
    key: String,
}

/// One attempt at one object: what it counted and how far it got.
struct Run {
    /// The clock reading event times are judged by; `None` for a resumed object whose earlier
    /// attempt judged none (then every time is admitted, as it was).
    clock_ms: Option<i64>,
    /// The time of an event without a usable `eventTime`: the clock, read once per object.
    default_time_ms: i64,
    counts: Counts,
    rule_stats: RuleStats,
    version: Option<Version>,
    /// Accepted per stream, earlier attempts included.
    progress: Progress,
    /// What is left to skip of what earlier attempts had accepted.
    skip: Progress,
}

impl Run {
    /// The times a group that keeps events `max_age_ms` takes, judged by this run's clock.
    fn window(&self, max_age_ms: i64) -> Window {
        self.clock_ms
            .map_or(Window::ANY, |now| Window::at(now, max_age_ms))
    }

    fn accepted(&mut self, batch: &LogBatch, rejected: u64) {
        let events = batch.events.len() as u64;
        self.counts.log_batches += 1;
        self.counts.events_rejected += rejected;
        self.counts.events_logged += events - rejected;
        self.progress.add(&batch.group, &batch.stream, events);
    }
}

/// Whether a record claims another account or region than its file's key.
fn disagrees_with_key(event: &normalize::Event<'_>, key: &TrailKey) -> bool {
    let differs = |claimed: Option<&str>, vouched: Option<&str>| matches!((claimed, vouched), (Some(c), Some(v)) if c != v);
    differs(event.account_id.as_deref(), key.account_id.as_deref())
        || differs(event.region.as_deref(), key.region.as_deref())
}

/// Writes `record`'s archive line (assembled in `line`, reused) to the archive's gzip stream.
fn archive_line(
    line: &mut Vec<u8>,
    record: &Normalized<'_>,
    index: u64,
    origin: &Origin<'_>,
    rules: &[&str],
    gzip: &mut impl Write,
) -> Result<(), ProcessError> {
    line.clear();
    normalize::write_archive_line(line, record, index, origin, rules);
    gzip.write_all(line).map_err(archive_io)
}

fn archive_io(e: std::io::Error) -> ProcessError {
    ProcessError::Archive(PortError::new(ErrorClass::Retry, "archive-write", e))
}

/// The clock reading an attempt judges event times by: the one its predecessors judged by
/// (`clock_ms`), else `now_ms` for a first attempt; `None` for one resumed after an attempt that
/// judged none (every time is admitted, as it was).
pub(crate) fn judging_clock(
    clock_ms: Option<i64>,
    progress: &Progress,
    now_ms: i64,
) -> Option<i64> {
    match clock_ms {
        Some(ms) => Some(ms),
        None if progress.is_empty() => Some(now_ms),
        None => None,
    }
}

fn skip_reason(trail_key: &TrailKey) -> Option<SkipReason> {
    match trail_key.kind {
        ObjectKind::Digest => Some(SkipReason::Digest),
        ObjectKind::Other if !key::has_json_suffix(&trail_key.file_name) => {
            Some(SkipReason::NotALogFile)
        }
        ObjectKind::Other => None,
        // In the layout, but stamped as CloudTrail never stamps: named, and passed over.
        _ if trail_key.delivered_s().is_none() => Some(SkipReason::BadStamp),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
