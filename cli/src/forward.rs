//! `trailrelay forward`: the pipeline from one machine, on local folders or s3:// prefixes,
//! to local files, CloudWatch Logs or an S3 archive. Wiring only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailrelay::aws::s3::{S3Archive, S3Source};
use trailrelay::key::{ObjectKind, TrailKey};
use trailrelay::local::{Listing, LocalArchive, LocalLogSink, list_objects};
use trailrelay::pipeline::receipt::{ReceiptsIn, forwarded_before, receipts_prefix};
use trailrelay::pipeline::{
    ObjectReport, Outcome, Pipeline, ProcessError, Settings, SkipReason, Totals,
};
use trailrelay::ports::{Clock, ErrorClass, NOT_FOUND, ObjectRef, Store, SystemClock};

use crate::PipelineOptions;
use crate::Stop;
use crate::ports;
use crate::report::{Failure, shown};

/// Where a run's log events and archive objects go, and how S3 is reached.
#[derive(Default)]
pub(crate) struct Destinations {
    pub(crate) cloudwatch: bool,
    pub(crate) archive: Option<String>,
    pub(crate) s3_force_path_style: bool,
    pub(crate) expected_bucket_owner: Option<String>,
    pub(crate) archive_bucket_owner: Option<String>,
    /// Files whose receipt covers their version are skipped.
    pub(crate) skip_forwarded: bool,
    /// The summary and the failures as NDJSON on standard output.
    pub(crate) json: bool,
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
) -> Result<ExitCode, Stop> {
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
    let (listed, mut totals) = list_inputs(inputs, aws.as_ref(), to)?;
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
    let named_by_file = listed
        .iter()
        .filter(|(o, _)| {
            TrailKey::parse(&o.key).kind == ObjectKind::Other
                && o.trail_key().kind != ObjectKind::Other
        })
        .count() as u64;
    let objects = match to.skip_forwarded {
        true => {
            let receipts_at = (&outputs.receipts_store, outputs.receipts_prefix.as_str());
            let max_bytes = settings.limits.max_object_bytes;
            let check = |(object, etag): &Listed| {
                forwarded_before_or_named(&source, receipts_at, object, etag, max_bytes, to.json)
            };
            let (objects, skipped) = not_forwarded_before(listed, check, jobs);
            totals.add_skipped(SkipReason::ForwardedBefore, skipped);
            objects
        }
        false => listed.into_iter().map(|(o, _)| o).collect(),
    };
    // Two CPUs or more for each object at once: each then runs on three threads.
    settings.stage_threads = cpus >= 2 * jobs.clamp(1, objects.len().max(1));
    let clock = match options.now {
        Some(s) => RunClock::At(UNIX_EPOCH + Duration::from_secs(s.max(0).unsigned_abs())),
        None => RunClock::System,
    };
    let pipeline = Pipeline {
        source: &source,
        logs: &outputs.logs,
        archive: &outputs.archive,
        receipts: &receipts,
        clock: &clock,
        settings: &settings,
        deadline: None,
    };
    let progress = progress_bar(&objects, options.quiet || to.json);
    let started = Instant::now();
    let forwarded = pipeline.forward_all(&objects, jobs, &|report: &ObjectReport| {
        progress.inc(report.object.size.unwrap_or(report.counts.bytes_read));
        goes_on(report, to.json, &progress)
    });
    progress.finish_and_clear();
    totals.merge(&forwarded);
    if totals.not_tried > 0 {
        let stopped = Failure::new(
            "run",
            "stopped",
            format!(
                "stopped: every other file would fail the same way ({} not tried); check the bucket, the credentials and the region",
                totals.not_tried
            ),
        );
        stopped.print(to.json);
    }
    let run = summary::Run {
        totals: &totals,
        elapsed: started.elapsed(),
        outputs: &outputs,
        clock: options.now,
        named_by_file,
    };
    let metrics = out.join("metrics.ndjson");
    if to.json {
        summary::print_json(&run, &settings.rules, &metrics)?;
    } else {
        summary::print(&run);
        if !settings.rules.is_empty() {
            summary::print_rules(&settings.rules, &totals.rule_stats);
        }
    }
    if !settings.rules.is_empty() {
        summary::write_metrics(&settings.rules, &totals.rule_stats, &metrics, !to.json)
            .map_err(Stop::Failed)?;
    }
    Ok(if totals.failed_objects() == 0 && totals.not_tried == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A listed object and the ETag its listing gave (S3 only).
type Listed = (ObjectRef, Option<String>);

/// The clock of a run: the system's, or one standing still at `--now`.
enum RunClock {
    System,
    At(SystemTime),
}

impl Clock for RunClock {
    fn now(&self) -> SystemTime {
        match self {
            Self::System => SystemClock.now(),
            Self::At(t) => *t,
        }
    }
}

/// The listed objects `covered` does not say are forwarded already, asked on `jobs` threads,
/// and how many it said were.
fn not_forwarded_before(
    listed: Vec<Listed>,
    covered: impl Fn(&Listed) -> bool + Sync,
    jobs: usize,
) -> (Vec<ObjectRef>, u64) {
    let check = &covered;
    let chunk = listed.len().div_ceil(jobs.max(1)).max(1);
    let covered: Vec<bool> = std::thread::scope(|scope| {
        let parts: Vec<_> = listed
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(check).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    });
    let skipped = covered.iter().filter(|c| **c).count() as u64;
    let objects = listed
        .into_iter()
        .zip(covered.into_iter().chain(std::iter::repeat(false)))
        .filter(|(_, covered)| !covered)
        .map(|((o, _), _)| o)
        .collect();
    (objects, skipped)
}

/// Names what an object's report needs named (a failure, a file passed over by name); whether
/// the run goes on after it.
fn goes_on(report: &ObjectReport, json: bool, progress: &ProgressBar) -> bool {
    match &report.outcome {
        Outcome::Skipped(SkipReason::BadStamp) => {
            progress.suspend(|| {
                eprintln!(
                    "skipped: {} (its delivery stamp is not one CloudTrail writes)",
                    shown(&report.object.to_string())
                )
            });
            true
        }
        Outcome::Failed(e) => {
            let failure = Failure {
                what: report.object.to_string(),
                cause: e.cause(),
                class: Some(e.class().as_str()),
                message: e.to_string(),
            };
            progress.suspend(|| failure.print(json));
            !stops_the_run(e)
        }
        _ => true,
    }
}

/// Whether the receipt filed for `object` covers it; a receipt that cannot be read covers
/// nothing (the file is forwarded), and is named.
fn forwarded_before_or_named(
    source: &ports::AnySource,
    receipts: (&Store, &str),
    object: &ObjectRef,
    etag: &Option<String>,
    max_bytes: u64,
    json: bool,
) -> bool {
    if object.trail_key().kind == ObjectKind::Digest {
        return false;
    }
    forwarded_before(source, receipts, object, etag.as_deref(), max_bytes).unwrap_or_else(|e| {
        Failure::of(&format!("receipt of {object}"), &e).print(json);
        false
    })
}

/// Whether a failure is the run's rather than its file's: a bucket that does not exist,
/// credentials refused, or an output (the archive, CloudWatch Logs) the caller may not write to
/// or that does not exist. Every later file would fail alike, so the run stops.
fn stops_the_run(e: &ProcessError) -> bool {
    match e {
        ProcessError::Open(e) => e.is_run_wide(),
        ProcessError::Logs(e) | ProcessError::Archive(e) => {
            e.stops_writes() || e.cause == NOT_FOUND
        }
        ProcessError::Decode(_) | ProcessError::Deadline { .. } => false,
    }
}

/// The objects of every input, with the ETag an S3 listing gave; inputs that cannot be listed
/// are failed inputs, reported and counted, and the rest goes on.
fn list_inputs(
    inputs: &[String],
    aws: Option<&ports::Aws>,
    to: &Destinations,
) -> Result<(Vec<Listed>, Totals), Stop> {
    let mut objects = Vec::new();
    let mut unlisted = Totals::default();
    for input in inputs {
        match (ports::s3_url(input), aws) {
            (Some((bucket, prefix)), Some(aws)) => {
                match aws.list(&bucket, &prefix, to.expected_bucket_owner.as_deref()) {
                    Ok(listed) => objects.extend(listed),
                    Err(e) => {
                        Failure::of(input, &e).print(to.json);
                        unlisted.add_failure(e.cause, e.class);
                    }
                }
            }
            _ => {
                let listing = list_objects(&[PathBuf::from(input)]).map_err(|e| e.to_string())?;
                for e in &listing.unreadable {
                    let failure = Failure {
                        what: e.path.display().to_string(),
                        cause: Listing::UNREADABLE_CAUSE,
                        class: Some(ErrorClass::Poison.as_str()),
                        message: e.source.to_string(),
                    };
                    failure.print(to.json);
                    unlisted.add_failure(Listing::UNREADABLE_CAUSE, ErrorClass::Poison);
                }
                objects.extend(listing.objects.into_iter().map(|o| (o, None)));
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
    /// Where receipts are read back: the store and the prefix.
    receipts_store: Store,
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
        let local_store = Store::Local(receipts_dir.clone());
        let (archive, archive_label, receipts, receipts_store, receipts_prefix) =
            match (archive_s3, aws) {
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
                    let archive =
                        S3Archive::new(aws.s3.clone(), aws.handle(), bucket.clone(), None)
                            .with_expected_owner(to.archive_bucket_owner.clone());
                    let receipts = ports::AnyArchive::S3(archive.clone());
                    let prefix = receipts_prefix(&settings.archive_prefix);
                    (
                        ports::AnyArchive::S3(archive),
                        url.to_owned(),
                        receipts,
                        Store::S3(bucket),
                        prefix,
                    )
                }
                (Some((dir, None)), _) => (
                    ports::AnyArchive::Local(LocalArchive::new(dir)),
                    dir.to_owned(),
                    local_receipts(),
                    local_store,
                    String::new(),
                ),
                _ => {
                    let dir = out.join("archive");
                    (
                        ports::AnyArchive::Local(LocalArchive::new(&dir)),
                        dir.display().to_string(),
                        local_receipts(),
                        local_store,
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
            receipts_store,
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

mod summary;
