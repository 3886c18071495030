//! Counts of one object, and totals over many.

use super::{ObjectReport, Outcome, SkipReason};
use crate::ports::ErrorClass;
use crate::rules::RuleStats;

/// Counts for one object, or summed over many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Bytes read from the source (compressed).
    pub bytes_read: u64,
    /// Bytes after decompression.
    pub bytes_decoded: u64,
    /// Records decoded.
    pub records: u64,
    /// Events accepted by the log sink.
    pub events_logged: u64,
    /// Events the log sink rejected one by one (kept in the archive).
    pub events_rejected: u64,
    /// Events too large for CloudWatch Logs (kept in the archive).
    pub events_too_large: u64,
    /// Events older than CloudWatch Logs accepts (14 days, or the group's retention): kept out
    /// of PutLogEvents, kept in the archive.
    pub events_too_old: u64,
    /// Events more than 2 hours ahead of the clock: kept out of PutLogEvents, kept in the
    /// archive.
    pub events_too_new: u64,
    /// Log batches sent.
    pub log_batches: u64,
    /// Records written to the archive.
    pub events_archived: u64,
    /// Events not sent again because an earlier attempt had them accepted.
    pub events_resumed: u64,
    /// Records that are not JSON, kept in the quarantine object.
    pub records_quarantined: u64,
    /// Records that claim another account or region than their file's key (sent to the key's
    /// stream all the same).
    pub events_key_mismatch: u64,
    /// Records without a readable `eventTime`: archived with `time: null`, sent to CloudWatch
    /// Logs at the run's clock.
    pub events_without_time: u64,
}

impl Counts {
    pub(super) fn add(&mut self, other: &Counts) {
        self.bytes_read += other.bytes_read;
        self.bytes_decoded += other.bytes_decoded;
        self.records += other.records;
        self.events_logged += other.events_logged;
        self.events_rejected += other.events_rejected;
        self.events_too_large += other.events_too_large;
        self.events_too_old += other.events_too_old;
        self.events_too_new += other.events_too_new;
        self.log_batches += other.log_batches;
        self.events_archived += other.events_archived;
        self.events_resumed += other.events_resumed;
        self.records_quarantined += other.records_quarantined;
        self.events_key_mismatch += other.events_key_mismatch;
        self.events_without_time += other.events_without_time;
    }
}

/// Totals over many objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Objects forwarded.
    pub forwarded: u64,
    /// Of those, objects a replay announced.
    pub replayed: u64,
    /// Objects skipped, by reason.
    pub skipped: Vec<(SkipReason, u64)>,
    /// Objects failed, by cause, with their class.
    pub failed: Vec<(&'static str, ErrorClass, u64)>,
    /// Counts summed over every object.
    pub counts: Counts,
    /// Rule matches and metric values over every object.
    pub rule_stats: RuleStats,
    /// Objects not tried: the run stopped before them.
    pub not_tried: u64,
}

impl Totals {
    /// Adds one object's report. Rule matches and metric values count only for an object
    /// forwarded: the attempt that completes a failed object evaluates every record again.
    pub fn add(&mut self, report: &ObjectReport) {
        self.counts.add(&report.counts);
        match &report.outcome {
            Outcome::Forwarded { .. } => {
                self.forwarded += 1;
                self.rule_stats.merge(&report.rule_stats);
            }
            Outcome::Skipped(reason) => bump(&mut self.skipped, *reason, 1),
            Outcome::Failed(e) => self.count_failures(e.cause(), e.class(), 1),
        }
    }

    /// Counts one object that failed before it could be forwarded (an input that could not
    /// even be listed as an object).
    pub fn add_failure(&mut self, cause: &'static str, class: ErrorClass) {
        self.count_failures(cause, class, 1);
    }

    /// Adds another set of totals.
    pub fn merge(&mut self, other: &Totals) {
        self.counts.add(&other.counts);
        self.rule_stats.merge(&other.rule_stats);
        self.forwarded += other.forwarded;
        self.replayed += other.replayed;
        self.not_tried += other.not_tried;
        for (reason, n) in &other.skipped {
            bump(&mut self.skipped, *reason, *n);
        }
        for (cause, class, n) in &other.failed {
            self.count_failures(cause, *class, *n);
        }
    }

    /// Counts `n` objects skipped for `reason` before the pipeline saw them.
    pub fn add_skipped(&mut self, reason: SkipReason, n: u64) {
        if n > 0 {
            bump(&mut self.skipped, reason, n);
        }
    }

    fn count_failures(&mut self, cause: &'static str, class: ErrorClass, n: u64) {
        match self
            .failed
            .iter_mut()
            .find(|(c, k, _)| *c == cause && *k == class)
        {
            Some((_, _, m)) => *m += n,
            None => self.failed.push((cause, class, n)),
        }
    }

    /// Objects failed, all causes together.
    pub fn failed_objects(&self) -> u64 {
        self.failed.iter().map(|(_, _, n)| n).sum()
    }

    /// Objects skipped, all reasons together.
    pub fn skipped_objects(&self) -> u64 {
        self.skipped.iter().map(|(_, n)| n).sum()
    }
}

fn bump<K: PartialEq>(list: &mut Vec<(K, u64)>, key: K, by: u64) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += by,
        None => list.push((key, by)),
    }
}
