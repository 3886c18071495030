//! What a `forward` run prints at its end: the summary (text or `--json`), the rules' matches,
//! and the metrics file.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use trailrelay::pipeline::Totals;
use trailrelay::ports::epoch_ms;
use trailrelay::rules::{RuleSet, RuleStats};

use super::Outputs;
use crate::replay::rfc3339;
use crate::report::{count, print_json_summary};

/// A finished run, as the summary tells it.
pub(super) struct Run<'a> {
    pub(super) totals: &'a Totals,
    pub(super) elapsed: Duration,
    pub(super) outputs: &'a Outputs,
    /// `--now`, when given.
    pub(super) clock: Option<i64>,
    /// Files outside the trail layout read by their names.
    pub(super) named_by_file: u64,
}

pub(super) fn print(run: &Run<'_>) {
    let (totals, elapsed, outputs) = (run.totals, run.elapsed, run.outputs);
    let (logs_to, archive_to) = (&outputs.logs_label, &outputs.archive_label);
    let c = &totals.counts;
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let not_tried = match totals.not_tried {
        0 => String::new(),
        n => format!(", {n} not tried"),
    };
    println!(
        "{}: {} forwarded, {} skipped, {} failed{not_tried}",
        count(
            totals.forwarded
                + totals.skipped_objects()
                + totals.failed_objects()
                + totals.not_tried,
            "object"
        ),
        totals.forwarded,
        totals.skipped_objects(),
        totals.failed_objects()
    );
    println!(
        "  read      {:.1} MB ({:.1} MB decompressed) in {seconds:.2} s: {:.1} MB/s, {:.0} events/s",
        mb(c.bytes_read),
        mb(c.bytes_decoded),
        mb(c.bytes_decoded) / seconds,
        c.records as f64 / seconds
    );
    println!(
        "  logs      {} in {} ({} rejected, {} too large for CloudWatch Logs) -> {}",
        count(c.events_logged, "event"),
        count(c.log_batches, "batch"),
        c.events_rejected,
        c.events_too_large,
        logs_to
    );
    if c.events_too_old + c.events_too_new > 0 {
        println!(
            "            {} older than CloudWatch Logs accepts (14 days) and {} more than 2 hours ahead: archived only, no PutLogEvents call",
            count(c.events_too_old, "event"),
            c.events_too_new
        );
    }
    println!(
        "  archive   {} in {} -> {}",
        count(c.events_archived, "event"),
        count(totals.forwarded, "object"),
        archive_to
    );
    println!(
        "  receipts  {} -> {}",
        totals.forwarded, outputs.receipts_label
    );
    if c.events_key_mismatch > 0 {
        println!(
            "  key       {} another account or region than their file's key (sent to the key's stream)",
            match c.events_key_mismatch {
                1 => "1 record claims".to_owned(),
                n => format!("{n} records claim"),
            }
        );
    }
    if c.records_quarantined > 0 {
        println!(
            "  quarantine {} (not JSON objects) -> {archive_to}/{}/",
            count(c.records_quarantined, "record"),
            trailrelay::pipeline::quarantine::QUARANTINE_FOLDER
        );
    }
    if c.events_without_time > 0 {
        println!(
            "  time      {} without a readable eventTime: archived with time null, sent to CloudWatch Logs at the run's clock",
            count(c.events_without_time, "record")
        );
    }
    if run.named_by_file > 0 {
        println!(
            "  layout    {} outside the trail layout: account, region and date taken from their names",
            count(run.named_by_file, "file")
        );
    }
    match run.clock {
        Some(s) => println!(
            "  clock     {} (--now): CloudWatch Logs' window judged as at that time",
            rfc3339(s)
        ),
        None => println!("  clock     the system clock (--now TIME to judge as at another time)"),
    }
    if !totals.skipped.is_empty() {
        let skipped: Vec<String> = totals
            .skipped
            .iter()
            .map(|(reason, n)| format!("{} {n}", reason.as_str()))
            .collect();
        println!("  skipped   {}", skipped.join(", "));
    }
    if !totals.failed.is_empty() {
        let failed: Vec<String> = totals
            .failed
            .iter()
            .map(|(cause, class, n)| format!("{cause} ({}) {n}", class.as_str()))
            .collect();
        println!("  failed    {}", failed.join(", "));
    }
}

pub(super) fn print_rules(rules: &RuleSet, stats: &RuleStats) {
    let counts: Vec<(&str, u64)> = rules
        .named_patterns()
        .map(|(name, _)| name)
        .zip(stats.matches())
        .collect();
    let silent = counts.iter().filter(|(_, n)| *n == 0).count();
    println!(
        "  rules     {}, {}; {} matched nothing",
        count(rules.filters().len() as u64, "metric filter"),
        count(rules.routes().len() as u64, "route"),
        silent
    );
    let width = counts.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, n) in counts.iter().filter(|(_, n)| *n > 0) {
        println!("            {name:<width$} {n:>8}");
    }
    println!(
        "            {} kept out of CloudWatch Logs, {} out of the archive; {} missing",
        count(stats.dropped_from_logs, "event"),
        stats.dropped_from_archive,
        count(stats.values_missing, "metric value")
    );
}

/// Appends the flush's metrics, as Embedded Metric Format lines, to `path`, saying so when
/// `say`.
pub(super) fn write_metrics(
    rules: &RuleSet,
    stats: &RuleStats,
    path: &Path,
    say: bool,
) -> Result<(), String> {
    let now_ms = epoch_ms(std::time::SystemTime::now());
    let lines = rules.emf_lines(stats, now_ms);
    if lines.is_empty() {
        return Ok(());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    if !say {
        return Ok(());
    }
    println!(
        "  metrics   {} -> {}",
        count(lines.len() as u64, "Embedded Metric Format document"),
        path.display()
    );
    Ok(())
}

/// The `--json` summary: one object, the last line on standard output.
pub(super) fn print_json(run: &Run<'_>, rules: &RuleSet, metrics: &Path) -> Result<(), String> {
    let (t, c) = (run.totals, &run.totals.counts);
    let seconds = run.elapsed.as_secs_f64().max(1e-9);
    let rule_matches: serde_json::Map<String, serde_json::Value> = rules
        .named_patterns()
        .map(|(name, _)| name.to_owned())
        .zip(t.rule_stats.matches().map(serde_json::Value::from))
        .collect();
    let skipped: serde_json::Map<String, serde_json::Value> = t
        .skipped
        .iter()
        .map(|(reason, n)| (reason.as_str().to_owned(), (*n).into()))
        .collect();
    let failed: Vec<serde_json::Value> = t
        .failed
        .iter()
        .map(|(cause, class, n)| json!({"cause": cause, "class": class.as_str(), "objects": n}))
        .collect();
    print_json_summary(&json!({
        "objects": {
            "forwarded": t.forwarded,
            "skipped": skipped,
            "failed": failed,
            "not_tried": t.not_tried,
            "named_by_file": run.named_by_file,
        },
        "bytes_read": c.bytes_read,
        "bytes_decompressed": c.bytes_decoded,
        "seconds": seconds,
        "records": c.records,
        "events": {
            "logged": c.events_logged,
            "log_batches": c.log_batches,
            "rejected": c.events_rejected,
            "too_large": c.events_too_large,
            "too_old": c.events_too_old,
            "too_new": c.events_too_new,
            "archived": c.events_archived,
            "resumed": c.events_resumed,
            "key_mismatch": c.events_key_mismatch,
            "without_time": c.events_without_time,
        },
        "records_quarantined": c.records_quarantined,
        "clock": run.clock.map_or_else(
            || rfc3339(epoch_ms(std::time::SystemTime::now()) / 1000),
            rfc3339
        ),
        "clock_from": if run.clock.is_some() { "--now" } else { "system" },
        "logs": run.outputs.logs_label,
        "archive": run.outputs.archive_label,
        "receipts": run.outputs.receipts_label,
        "rules": rule_matches,
        "metrics": (!rules.is_empty()).then(|| metrics.display().to_string()),
    }));
    Ok(())
}
