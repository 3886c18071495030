//! `trailrelay forward`: the pipeline from one machine, on local folders or s3:// prefixes,
//! to local files, CloudWatch Logs or an S3 archive. Wiring only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailrelay::aws::s3::{S3Archive, S3Source};
use trailrelay::integrity::receipt::{ReceiptsIn, receipts_prefix};
use trailrelay::local::{Listing, LocalArchive, LocalLogSink, list_objects};
use trailrelay::pipeline::{ObjectReport, Outcome, Pipeline, Settings, Totals};
use trailrelay::ports::{ErrorClass, ObjectRef, SystemClock, epoch_ms};
use trailrelay::rules::{RuleSet, RuleStats};

use crate::PipelineOptions;
use crate::ports;

/// Where a run's log events and archive objects go, and how S3 is reached.
#[derive(Default)]
pub(crate) struct Destinations {
    pub(crate) cloudwatch: bool,
    pub(crate) archive: Option<String>,
    pub(crate) s3_force_path_style: bool,
    pub(crate) expected_bucket_owner: Option<String>,
    pub(crate) archive_bucket_owner: Option<String>,
}

impl Destinations {
    pub(crate) fn local() -> Self {
        Self::default()
    }
}

pub(crate) fn forward(
    inputs: &[String],
    out: &Path,
    options: &PipelineOptions,
    to: &Destinations,
) -> Result<ExitCode, String> {
    let mut settings = options.settings()?;
    let needs_aws = to.cloudwatch
        || inputs.iter().any(|i| i.starts_with("s3://"))
        || to
            .archive
            .as_deref()
            .is_some_and(|a| a.starts_with("s3://"));
    let aws = if needs_aws {
        Some(ports::Aws::connect(to.s3_force_path_style)?)
    } else {
        None
    };
    let (objects, unlisted) = list_inputs(inputs, aws.as_ref(), to)?;
    let outputs = Outputs::new(out, to, aws.as_ref(), &mut settings);
    let receipts = ReceiptsIn::new(&outputs.receipts, outputs.receipts_prefix.clone());
    let source = ports::AnySource {
        s3: aws.as_ref().map(|aws| {
            S3Source::new(
                aws.s3.clone(),
                aws.handle(),
                to.expected_bucket_owner.clone(),
            )
        }),
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = options.jobs.unwrap_or(cpus);
    // Two CPUs or more for each object at once: each then runs on three threads.
    settings.stage_threads = cpus >= 2 * jobs.clamp(1, objects.len().max(1));
    let pipeline = Pipeline {
        source: &source,
        logs: &outputs.logs,
        archive: &outputs.archive,
        receipts: &receipts,
        clock: &SystemClock,
        settings: &settings,
        deadline: None,
    };
    let progress = progress_bar(&objects, options.quiet);
    let started = Instant::now();
    let mut totals = pipeline.forward_all(&objects, jobs, &|report: &ObjectReport| {
        progress.inc(report.object.size.unwrap_or(report.counts.bytes_read));
        if let Outcome::Failed(e) = &report.outcome {
            progress.suspend(|| {
                eprintln!(
                    "error: {}: {e} [{}, {}]",
                    report.object,
                    e.cause(),
                    e.class().as_str()
                )
            });
        }
    });
    progress.finish_and_clear();
    totals.merge(&unlisted);
    print_summary(&totals, started.elapsed(), &outputs);
    if !settings.rules.is_empty() {
        print_rules(&settings.rules, &totals.rule_stats);
        let metrics = out.join("metrics.ndjson");
        write_metrics(&settings.rules, &totals.rule_stats, &metrics)?;
    }
    Ok(if totals.failed_objects() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The objects of every input; inputs that cannot be listed are failed inputs, reported and
/// counted, and the rest goes on.
fn list_inputs(
    inputs: &[String],
    aws: Option<&ports::Aws>,
    to: &Destinations,
) -> Result<(Vec<ObjectRef>, Totals), String> {
    let mut objects = Vec::new();
    let mut unlisted = Totals::default();
    for input in inputs {
        match (ports::s3_url(input), aws) {
            (Some((bucket, prefix)), Some(aws)) => {
                match aws.list(&bucket, &prefix, to.expected_bucket_owner.as_deref()) {
                    Ok(listed) => objects.extend(listed),
                    Err(e) => {
                        eprintln!("error: {input}: {e} [{}, {}]", e.cause, e.class.as_str());
                        unlisted.add_failure(e.cause, e.class);
                    }
                }
            }
            _ => {
                let listing = list_objects(&[PathBuf::from(input)]).map_err(|e| e.to_string())?;
                for e in &listing.unreadable {
                    eprintln!("error: {e} [{}, poison]", Listing::UNREADABLE_CAUSE);
                    unlisted.add_failure(Listing::UNREADABLE_CAUSE, ErrorClass::Poison);
                }
                objects.extend(listing.objects);
            }
        }
    }
    Ok((objects, unlisted))
}

/// Where a run's log events, archive objects and receipts go, with labels for the summary.
struct Outputs {
    logs: ports::AnyLogSink,
    logs_label: String,
    archive: ports::AnyArchive,
    archive_label: String,
    /// Receipts: OUT/receipts/ beside a local archive, PREFIX/_receipts/ in an S3 archive.
    receipts: ports::AnyArchive,
    receipts_prefix: String,
    receipts_label: String,
}

impl Outputs {
    fn new(
        out: &Path,
        to: &Destinations,
        aws: Option<&ports::Aws>,
        settings: &mut Settings,
    ) -> Self {
        let logs_dir = out.join("logs");
        let (logs, logs_label) = match aws {
            Some(aws) if to.cloudwatch => (
                ports::AnyLogSink::cloudwatch(aws),
                "CloudWatch Logs".to_owned(),
            ),
            _ => (
                ports::AnyLogSink::Local(LocalLogSink::new(&logs_dir)),
                logs_dir.display().to_string(),
            ),
        };
        let receipts_dir = out.join("receipts");
        let local_receipts = || ports::AnyArchive::Local(LocalArchive::new(&receipts_dir));
        let archive_s3 = to.archive.as_deref().map(|a| (a, ports::s3_url(a)));
        let (archive, archive_label, receipts, receipts_prefix) = match (archive_s3, aws) {
            (Some((url, Some((bucket, prefix)))), Some(aws)) => {
                settings.archive_prefix = [
                    prefix.trim_matches('/'),
                    settings.archive_prefix.trim_matches('/'),
                ]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/");
                let archive = S3Archive::new(aws.s3.clone(), aws.handle(), bucket, None)
                    .with_expected_owner(to.archive_bucket_owner.clone());
                let receipts = ports::AnyArchive::S3(archive.clone());
                let prefix = receipts_prefix(&settings.archive_prefix);
                (
                    ports::AnyArchive::S3(archive),
                    url.to_owned(),
                    receipts,
                    prefix,
                )
            }
            (Some((dir, None)), _) => (
                ports::AnyArchive::Local(LocalArchive::new(dir)),
                dir.to_owned(),
                local_receipts(),
                String::new(),
            ),
            _ => {
                let dir = out.join("archive");
                (
                    ports::AnyArchive::Local(LocalArchive::new(&dir)),
                    dir.display().to_string(),
                    local_receipts(),
                    String::new(),
                )
            }
        };
        let receipts_label = match &receipts {
            ports::AnyArchive::S3(_) => format!("{archive_label} ({receipts_prefix})"),
            ports::AnyArchive::Local(_) => receipts_dir.display().to_string(),
        };
        Self {
            logs,
            logs_label,
            archive,
            archive_label,
            receipts,
            receipts_prefix,
            receipts_label,
        }
    }
}

fn progress_bar(objects: &[trailrelay::ports::ObjectRef], quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let total = objects.iter().filter_map(|o| o.size).sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn print_summary(totals: &Totals, elapsed: Duration, outputs: &Outputs) {
    let (logs_to, archive_to) = (&outputs.logs_label, &outputs.archive_label);
    let c = &totals.counts;
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!(
        "{} objects: {} forwarded, {} skipped, {} failed",
        totals.forwarded + totals.skipped_objects() + totals.failed_objects(),
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
        "  logs      {} events in {} batches ({} rejected, {} too large for CloudWatch Logs) -> {}",
        c.events_logged, c.log_batches, c.events_rejected, c.events_too_large, logs_to
    );
    if c.events_too_old + c.events_too_new > 0 {
        println!(
            "            {} events older than CloudWatch Logs accepts (14 days) and {} more than 2 hours ahead: archived only, no PutLogEvents call",
            c.events_too_old, c.events_too_new
        );
    }
    println!(
        "  archive   {} events in {} objects -> {}",
        c.events_archived, totals.forwarded, archive_to
    );
    println!(
        "  receipts  {} -> {}",
        totals.forwarded, outputs.receipts_label
    );
    if c.events_key_mismatch > 0 {
        println!(
            "  key       {} records claim another account or region than their file's key (sent to the key's stream)",
            c.events_key_mismatch
        );
    }
    if c.records_quarantined > 0 {
        println!(
            "  quarantine {} records that are not JSON -> {archive_to}/{}/",
            c.records_quarantined,
            trailrelay::pipeline::quarantine::QUARANTINE_FOLDER
        );
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

fn print_rules(rules: &RuleSet, stats: &RuleStats) {
    let counts: Vec<(&str, u64)> = rules
        .named_patterns()
        .map(|(name, _)| name)
        .zip(stats.matches())
        .collect();
    let silent = counts.iter().filter(|(_, n)| *n == 0).count();
    println!(
        "  rules     {} metric filters, {} routes; {} matched nothing",
        rules.filters().len(),
        rules.routes().len(),
        silent
    );
    let width = counts.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, n) in counts.iter().filter(|(_, n)| *n > 0) {
        println!("            {name:<width$} {n:>8}");
    }
    println!(
        "            {} events kept out of CloudWatch Logs, {} out of the archive; {} metric values missing",
        stats.dropped_from_logs, stats.dropped_from_archive, stats.values_missing
    );
}

/// Appends the flush's metrics, as Embedded Metric Format lines, to `path`.
fn write_metrics(rules: &RuleSet, stats: &RuleStats, path: &Path) -> Result<(), String> {
    let now_ms = epoch_ms(std::time::SystemTime::now());
    let lines = rules.emf_lines(stats, now_ms);
    if lines.is_empty() {
        return Ok(());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!(
        "  metrics   {} Embedded Metric Format documents -> {}",
        lines.len(),
        path.display()
    );
    Ok(())
}
