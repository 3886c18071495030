//! `trailrelay`: the forwarding pipeline from one machine.
//!
//! Wiring only: arguments in, the library's pipeline over its local ports, a summary out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailrelay::aws::s3::{S3Archive, S3Source};
use trailrelay::config::parse_bytes;
use trailrelay::decode::Limits;
use trailrelay::demo::{self, DemoSpec, Findings};
use trailrelay::local::{Listing, LocalArchive, LocalLogSink, list_objects};
use trailrelay::pipeline::{
    DEFAULT_ARCHIVE_GZIP_LEVEL, DEFAULT_LOG_GROUP, DEFAULT_LOG_STREAM, ObjectReport, Outcome,
    Pipeline, Settings, Totals,
};
use trailrelay::ports::{ErrorClass, SystemClock, epoch_ms};
use trailrelay::rules::pattern::PatternOptions;
use trailrelay::rules::{
    BUILT_IN_CIS, RuleSet, RuleStats, RulesFile, test_metric_filter as test_metric_filter_api,
};

/// Forward CloudTrail logs to CloudWatch Logs and a partitioned archive.
#[derive(Debug, Parser)]
#[command(name = "trailrelay", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Forward CloudTrail log files from local files and folders laid out like a trail bucket.
    ///
    /// Writes OUT/archive/ (the archive, one .ndjson.gz per log file, Hive-partitioned) and
    /// OUT/logs/<log group>/<log stream>.ndjson (one {"timestamp","message"} line per event, in
    /// PutLogEvents batches). Log files are appended to, as CloudWatch Logs would be; archive
    /// objects are replaced. Exits 0 only if every object was forwarded or skipped on purpose.
    Forward(ForwardArgs),
    /// Generate a small organization trail, forward it, and show what it holds.
    Demo(DemoArgs),
    /// Test a filter pattern on messages, as `aws logs test-metric-filter` does.
    ///
    /// Prints the TestMetricFilter response: the matching messages only, each with its
    /// zero-based eventNumber and, for space-delimited patterns, the extracted values.
    TestMetricFilter(TestMetricFilterArgs),
    /// Enqueue files already in the trail bucket on the forwarder's queue, as S3 notifications.
    ///
    /// Lists only the day folders of the range (a file's time is the delivery time its name
    /// states), enqueues ten notifications per SendMessageBatch call at --rate, and prints what
    /// was enqueued per account and region. Exits 0 when everything was enqueued (or listed,
    /// with --dry-run), 1 otherwise, 2 for bad arguments.
    Replay(replay::ReplayArgs),
    /// Move dead-lettered messages back to the forwarder's queue after a fix.
    ///
    /// Each message is sent, then deleted from the dead-letter queue: a crash half-way loses
    /// nothing. A message that carries a continuation (trailrelay.continuation) is sent as that
    /// continuation, so nothing is forwarded twice.
    Redrive(replay::RedriveArgs),
}

#[derive(Debug, Args)]
struct TestMetricFilterArgs {
    /// The filter pattern.
    #[arg(
        long,
        value_name = "PATTERN",
        allow_hyphen_values = true,
        required_unless_present = "cli_input_json"
    )]
    filter_pattern: Option<String>,
    /// The messages to test (1 to 50).
    #[arg(long, value_name = "MESSAGE", num_args = 1.., allow_hyphen_values = true, required_unless_present = "cli_input_json")]
    log_event_messages: Vec<String>,
    /// The request as JSON, `{"filterPattern": ..., "logEventMessages": [...]}`: inline, or
    /// `file://PATH`.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["filter_pattern", "log_event_messages"])]
    cli_input_json: Option<String>,
}

#[derive(Debug, Args)]
struct ForwardArgs {
    /// Files or folders to forward (a folder stands for the trail bucket), or
    /// s3://BUCKET/PREFIX for every object under a prefix.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Where local outputs go: logs/, archive/, metrics.ndjson.
    #[arg(long, value_name = "DIR", default_value = "trailrelay-out")]
    out: PathBuf,
    /// Where log events go: `local` (OUT/logs) or `cloudwatch` (PutLogEvents).
    #[arg(long, value_name = "WHERE", default_value = "local", value_parser = ["local", "cloudwatch"])]
    logs: String,
    /// Where the archive goes: a folder, or s3://BUCKET/PREFIX [default: OUT/archive].
    #[arg(long, value_name = "DIR|S3_URL")]
    archive: Option<String>,
    /// Address S3 by path (for endpoints such as local emulators that need it).
    #[arg(long)]
    s3_force_path_style: bool,
    /// Account that must own the buckets of s3:// inputs (ExpectedBucketOwner on every call).
    #[arg(long, value_name = "ACCOUNT", value_parser = account_id)]
    expected_bucket_owner: Option<String>,
    /// Account that must own an s3:// archive bucket (ExpectedBucketOwner on every write).
    #[arg(long, value_name = "ACCOUNT", value_parser = account_id)]
    archive_bucket_owner: Option<String>,
    #[command(flatten)]
    options: PipelineOptions,
}

/// Midnight UTC of a `YYYY-MM-DD` date, in seconds since the Unix epoch.
fn start_day(text: &str) -> Result<i64, String> {
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|e| format!("{text:?} is not a date (YYYY-MM-DD): {e}"))?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second())
        .map_err(|e| format!("{text:?}: {e}"))
}

pub(crate) fn account_id(text: &str) -> Result<String, String> {
    if trailrelay::key::is_account_id(text) {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not a 12-digit account id"))
    }
}

/// Where a run's log events and archive objects go, and how S3 is reached.
#[derive(Default)]
struct Destinations {
    cloudwatch: bool,
    archive: Option<String>,
    s3_force_path_style: bool,
    expected_bucket_owner: Option<String>,
    archive_bucket_owner: Option<String>,
}

impl Destinations {
    fn local() -> Self {
        Self::default()
    }
}

#[derive(Debug, Clone, Args)]
struct PipelineOptions {
    /// Log group name; may use {org_id} {account_id} {region} {category}.
    #[arg(long, value_name = "TEMPLATE", default_value = DEFAULT_LOG_GROUP)]
    log_group: String,
    /// Log stream name; may use {org_id} {account_id} {region} {category}.
    #[arg(long, value_name = "TEMPLATE", default_value = DEFAULT_LOG_STREAM)]
    log_stream: String,
    /// Key prefix of archive objects.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    archive_prefix: String,
    /// Largest decompressed object (gzip bomb guard), e.g. 4GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes, default_value = "4GiB")]
    max_object_bytes: u64,
    /// Largest single record, e.g. 2MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes, default_value = "2MiB")]
    max_record_bytes: u64,
    /// gzip level of archive objects, 0 (none) to 9 (smallest).
    #[arg(long, value_name = "LEVEL", default_value_t = DEFAULT_ARCHIVE_GZIP_LEVEL,
          value_parser = clap::value_parser!(u32).range(0..=9))]
    archive_gzip_level: u32,
    /// Objects forwarded in parallel [default: the number of CPUs].
    #[arg(long, short, value_name = "N")]
    jobs: Option<usize>,
    /// Metric filters and routes: a JSON or YAML rules file, inline JSON, or `cis` for the
    /// built-in CIS / Security Hub pack (infra/rules/cis.json).
    #[arg(long, value_name = "FILE")]
    rules: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Folder for the generated trail bucket (DIR/bucket) and the output (DIR/out).
    #[arg(long, value_name = "DIR", default_value = "trailrelay-demo")]
    dir: PathBuf,
    /// Day the generated activity starts, YYYY-MM-DD (UTC) [default: yesterday, so that
    /// CloudWatch Logs, which takes 14 days, would take it all]. The sample events in events/
    /// name the files of 2026-11-01.
    #[arg(long, value_name = "DATE", value_parser = start_day)]
    start: Option<i64>,
    #[command(flatten)]
    options: PipelineOptions,
}

mod ports;
mod replay;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Forward(args) => {
            let destinations = Destinations {
                cloudwatch: args.logs == "cloudwatch",
                archive: args.archive.clone(),
                s3_force_path_style: args.s3_force_path_style,
                expected_bucket_owner: args.expected_bucket_owner.clone(),
                archive_bucket_owner: args.archive_bucket_owner.clone(),
            };
            forward(&args.inputs, &args.out, &args.options, &destinations)
        }
        Command::Demo(args) => run_demo(&args),
        Command::TestMetricFilter(args) => test_metric_filter(&args),
        Command::Replay(args) => replay::replay(&args),
        Command::Redrive(args) => replay::redrive(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

impl PipelineOptions {
    fn settings(&self) -> Result<Settings, String> {
        let mut settings = Settings::new(&self.log_group, &self.log_stream)
            .map_err(|e| format!("--log-group/--log-stream: {e}"))?;
        settings.limits = Limits {
            max_object_bytes: self.max_object_bytes,
            max_record_bytes: usize::try_from(self.max_record_bytes)
                .map_err(|_| "--max-record-bytes is too large".to_owned())?,
        };
        settings.archive_prefix = self.archive_prefix.clone();
        settings.archive_gzip_level = self.archive_gzip_level;
        if let Some(source) = &self.rules {
            let file = RulesFile::load(source).map_err(|e| format!("--rules: {e}"))?;
            settings.rules = RuleSet::compile(&file, PatternOptions::default())
                .map_err(|e| format!("--rules {source}: {e}"))?;
            for (name, pattern) in settings.rules.named_patterns() {
                for w in pattern.warnings() {
                    eprintln!("warning: rule {name}: {w}");
                }
            }
        }
        Ok(settings)
    }
}

fn forward(
    inputs: &[String],
    out: &Path,
    options: &PipelineOptions,
    to: &Destinations,
) -> Result<ExitCode, String> {
    let mut settings = options.settings()?;
    let archive_s3 = to.archive.as_deref().map(|a| (a, ports::s3_url(a)));
    let needs_aws = to.cloudwatch
        || inputs.iter().any(|i| i.starts_with("s3://"))
        || matches!(archive_s3, Some((_, Some(_))));
    let aws = if needs_aws {
        Some(ports::Aws::connect(to.s3_force_path_style)?)
    } else {
        None
    };
    // Inputs that cannot be listed are failed inputs, reported and counted; the rest goes on.
    let mut objects = Vec::new();
    let mut unlisted = Totals::default();
    for input in inputs {
        match (ports::s3_url(input), &aws) {
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
    let logs_dir = out.join("logs");
    let (logs, logs_label) = match &aws {
        Some(aws) if to.cloudwatch => (
            ports::AnyLogSink::cloudwatch(aws),
            "CloudWatch Logs".to_owned(),
        ),
        _ => (
            ports::AnyLogSink::Local(LocalLogSink::new(&logs_dir)),
            logs_dir.display().to_string(),
        ),
    };
    let (archive, archive_label) = match (archive_s3, &aws) {
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
            (ports::AnyArchive::S3(archive), url.to_owned())
        }
        (Some((dir, None)), _) => (
            ports::AnyArchive::Local(LocalArchive::new(dir)),
            dir.to_owned(),
        ),
        _ => {
            let dir = out.join("archive");
            (
                ports::AnyArchive::Local(LocalArchive::new(&dir)),
                dir.display().to_string(),
            )
        }
    };
    let source = ports::AnySource {
        s3: aws.as_ref().map(|aws| {
            S3Source::new(
                aws.s3.clone(),
                aws.handle(),
                to.expected_bucket_owner.clone(),
            )
        }),
    };
    let pipeline = Pipeline {
        source: &source,
        logs: &logs,
        archive: &archive,
        clock: &SystemClock,
        settings: &settings,
        deadline: None,
    };
    let jobs = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
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
    print_summary(&totals, started.elapsed(), &logs_label, &archive_label);
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

fn print_summary(totals: &Totals, elapsed: Duration, logs_to: &str, archive_to: &str) {
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

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    #[serde(rename = "filterPattern")]
    filter_pattern: String,
    #[serde(rename = "logEventMessages")]
    log_event_messages: Vec<String>,
}

fn test_metric_filter(args: &TestMetricFilterArgs) -> Result<ExitCode, String> {
    let request = match &args.cli_input_json {
        Some(input) => {
            let text = match input.strip_prefix("file://") {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("--cli-input-json {path}: {e}"))?,
                None => input.clone(),
            };
            serde_json::from_str(&text).map_err(|e| format!("--cli-input-json: {e}"))?
        }
        None => TestRequest {
            filter_pattern: args.filter_pattern.clone().unwrap_or_default(),
            log_event_messages: args.log_event_messages.clone(),
        },
    };
    match test_metric_filter_api(&request.filter_pattern, &request.log_event_messages) {
        Ok(matches) => {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            #[derive(serde::Serialize)]
            struct Response<T> {
                matches: T,
            }
            serde::Serialize::serialize(&Response { matches }, &mut ser)
                .map_err(|e| e.to_string())?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "An error occurred (InvalidParameterException) when calling the TestMetricFilter operation: {e}"
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn run_demo(args: &DemoArgs) -> Result<ExitCode, String> {
    let bucket = args.dir.join("bucket");
    let out = args.dir.join("out");
    for owned in [&bucket, &out] {
        if owned.exists() {
            std::fs::remove_dir_all(owned)
                .map_err(|e| format!("clearing {}: {e}", owned.display()))?;
        }
    }
    // Recent activity: CloudWatch Logs, which the local logs stand for, takes events of the
    // last 14 days only.
    let now_s = epoch_ms(std::time::SystemTime::now()) / 1000;
    let spec = DemoSpec {
        start_s: args.start.unwrap_or_else(|| demo::day_before(now_s)),
        ..DemoSpec::default()
    };
    let corpus = demo::write_corpus(&bucket, &spec)
        .map_err(|e| format!("writing the demo trail to {}: {e}", bucket.display()))?;
    println!(
        "Generated an organization trail ({}): {} log files and {} digest files, {} records, under {}",
        demo::DEMO_ORG_ID,
        corpus.log_files,
        corpus.digest_files,
        corpus.records,
        bucket.display()
    );
    println!();
    let mut options = args.options.clone();
    if options.rules.is_none() {
        options.rules = Some(BUILT_IN_CIS.into());
        println!("Applying the CIS / Security Hub metric filter pack (--rules to use your own).");
    }
    let input = bucket.to_string_lossy().into_owned();
    let code = forward(&[input], &out, &options, &Destinations::local())?;
    let archive_dir = out.join("archive");
    let findings = Findings::from_archive(&archive_dir).map_err(|e| {
        format!(
            "reading the archive back from {}: {e}",
            archive_dir.display()
        )
    })?;
    println!();
    println!("What the archive holds:");
    print!("{}", findings.render());
    println!();
    println!("Look at:");
    println!(
        "  {}  CloudWatch Logs, one file per log stream",
        out.join("logs").display()
    );
    println!(
        "  {}  the archive, partitioned by org/account/region/date",
        archive_dir.display()
    );
    println!(
        "  zcat $(find {} -name '*.ndjson.gz' | head -1) | head -1",
        archive_dir.display()
    );
    Ok(code)
}
