//! `trailrelay`: the forwarding pipeline from one machine.
//!
//! Wiring only: arguments in, the library's pipeline over its local ports, a summary out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use trailrelay::config::parse_bytes;
use trailrelay::decode::Limits;
use trailrelay::demo::{self, DemoSpec, Findings};
use trailrelay::pipeline::{
    DEFAULT_ARCHIVE_GZIP_LEVEL, DEFAULT_LOG_GROUP, DEFAULT_LOG_STREAM, Settings,
};
use trailrelay::ports::epoch_ms;
use trailrelay::rules::pattern::{FilterPattern, PatternOptions};
use trailrelay::rules::{
    BUILT_IN_CIS, RuleSet, RulesFile, test_metric_filter as test_metric_filter_api,
};

use forward::{Destinations, forward};

/// Forward an AWS Organization's CloudTrail logs to CloudWatch Logs and a partitioned archive,
/// enqueue history for the forwarder, move dead letters back, and prove from CloudTrail's
/// signed digests that every log file was delivered unaltered and forwarded.
///
/// Each command runs on local folders laid out like the trail bucket (a folder anywhere inside
/// that layout is understood where it sits) or on S3 (credentials and region the AWS SDK's
/// usual way; AWS_ENDPOINT_URL for another endpoint). Exit status: 0 done, 1 something failed
/// or was found, 2 bad arguments.
#[derive(Debug, Parser)]
#[command(name = "trailrelay", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Forward CloudTrail log files (local files, folders of the trail's layout, s3:// prefixes)
    /// to local files, CloudWatch Logs or an S3 archive.
    ///
    /// Writes OUT/archive/ (the archive, one .ndjson.gz per log file, Hive-partitioned),
    /// OUT/logs/<log group>/<log stream>.ndjson (one {"timestamp","message"} line per event, in
    /// PutLogEvents batches) and OUT/receipts/<key>.receipt.json (one receipt per log file
    /// forwarded wholly: its SHA-256 and counts, what `validate --receipts` checks). Log files
    /// are appended to, as CloudWatch Logs would be; archive objects are replaced. Exits 0 only
    /// if every object was forwarded or skipped on purpose.
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
    /// Check CloudTrail's signed digests: every log file present, unaltered and forwarded.
    ///
    /// Walks each account and region's chain of digest files (local folders laid out like the
    /// trail bucket, or s3:// prefixes), verifies each signature and link, each listed log
    /// file's SHA-256 and, with --receipts, that the forwarder forwarded it unaltered. Prints
    /// one line per finding, then a summary. Exits 0 without findings, 1 with any, 2 for bad
    /// arguments.
    Validate(validate::ValidateArgs),
    /// Build the trail's history as one Apache Iceberg table, an hour of deliveries at a time.
    ///
    /// Each window (the log files whose names state a delivery time in one hour) is one
    /// commit to the table trailrelay.cloudtrail in OUT/lake/ (SQLite catalog catalog.db,
    /// warehouse/), proven by a manifest of the files it holds. A window is never committed
    /// twice: running again adds only files no commit holds. Exits 0 when every file is in the
    /// lake, 1 when some could not be read, 2 for bad arguments.
    Lake(lake::LakeArgs),
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
    /// Skip a file whose receipt already covers that version (same ETag on S3, same SHA-256
    /// locally) [default: on with --logs cloudwatch, so a re-run backfill sends nothing twice].
    #[arg(long)]
    skip_forwarded: bool,
    /// Forward every file, receipts or not.
    #[arg(long, conflicts_with = "skip_forwarded")]
    force: bool,
    /// NDJSON on standard output: one line per failed file, then {"summary": {...}}.
    #[arg(long)]
    json: bool,
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
    /// The clock CloudWatch Logs' window (14 days back, 2 hours ahead) is judged by, RFC 3339 or
    /// a date: to look at old samples as if fresh. Receipts are stamped by it too
    /// [default: now].
    #[arg(long, value_name = "TIME", value_parser = trailrelay::replay::parse_time)]
    now: Option<i64>,
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

mod forward;
mod lake;
mod ports;
mod replay;
mod report;
mod validate;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Forward(args) => {
            let cloudwatch = args.logs == "cloudwatch";
            let destinations = Destinations {
                cloudwatch,
                archive: args.archive.clone(),
                s3_force_path_style: args.s3_force_path_style,
                expected_bucket_owner: args.expected_bucket_owner.clone(),
                archive_bucket_owner: args.archive_bucket_owner.clone(),
                skip_forwarded: (args.skip_forwarded || cloudwatch) && !args.force,
                json: args.json,
            };
            forward(&args.inputs, &args.out, &args.options, &destinations)
        }
        Command::Demo(args) => run_demo(&args),
        Command::TestMetricFilter(args) => test_metric_filter(&args),
        Command::Replay(args) => replay::replay(&args),
        Command::Redrive(args) => replay::redrive(&args),
        Command::Validate(args) => validate::validate(&args),
        Command::Lake(args) => lake::lake(&args),
    };
    match result {
        Ok(code) => code,
        Err(Stop::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Stop::Config(message)) => {
            eprintln!("error: {message} [config]");
            ExitCode::FAILURE
        }
        Err(Stop::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command stopped: bad arguments (exit 2), a configuration no input can change (no
/// credentials, no region: exit 1), or a failure of its own work, such as a file it could not
/// write (exit 1).
#[derive(Debug)]
pub(crate) enum Stop {
    Usage(String),
    Config(String),
    Failed(String),
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Self::Usage(message)
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
        settings.rules = rules_of(self.rules.as_deref())?;
        Ok(settings)
    }
}

/// The rules of `--rules`, compiled, their patterns' warnings printed; none without it.
pub(crate) fn rules_of(source: Option<&str>) -> Result<RuleSet, String> {
    let Some(source) = source else {
        return Ok(RuleSet::default());
    };
    let file = RulesFile::load(source).map_err(|e| format!("--rules: {e}"))?;
    let rules = RuleSet::compile(&file, PatternOptions::default())
        .map_err(|e| format!("--rules {source}: {e}"))?;
    for (name, pattern) in rules.named_patterns() {
        for w in pattern.warnings() {
            eprintln!("warning: rule {name}: {w}");
        }
    }
    Ok(rules)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    #[serde(rename = "filterPattern")]
    filter_pattern: String,
    #[serde(rename = "logEventMessages")]
    log_event_messages: Vec<String>,
}

fn test_metric_filter(args: &TestMetricFilterArgs) -> Result<ExitCode, Stop> {
    let request = match &args.cli_input_json {
        Some(input) => {
            let text = match input.strip_prefix("file://") {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("--cli-input-json {path}: {e}"))?,
                None => input.clone(),
            };
            serde_json::from_str(&text).map_err(|e| {
                // A path given without its scheme: say how the AWS CLI takes a file.
                let hint = match !input.starts_with("file://") && Path::new(input).is_file() {
                    true => format!(" (to read the file, write --cli-input-json file://{input})"),
                    false => String::new(),
                };
                format!("--cli-input-json: {e}{hint}")
            })?
        }
        None => TestRequest {
            filter_pattern: args.filter_pattern.clone().unwrap_or_default(),
            log_event_messages: args.log_event_messages.clone(),
        },
    };
    // The warnings `forward --rules` prints for the same pattern (the API itself has none).
    if let Ok(pattern) = FilterPattern::parse(&request.filter_pattern) {
        for w in pattern.warnings() {
            eprintln!("warning: {w}");
        }
    }
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

fn run_demo(args: &DemoArgs) -> Result<ExitCode, Stop> {
    let bucket = args.dir.join("bucket");
    let out = args.dir.join("out");
    for owned in [&bucket, &out] {
        if owned.exists() {
            std::fs::remove_dir_all(owned)
                .map_err(|e| Stop::Failed(format!("clearing {}: {e}", owned.display())))?;
        }
    }
    // Recent activity: CloudWatch Logs, which the local logs stand for, takes events of the
    // last 14 days only.
    let now_s = epoch_ms(std::time::SystemTime::now()) / 1000;
    let start_s = args.start.unwrap_or_else(|| demo::day_before(now_s));
    // Digests every hour up to now, as CloudTrail writes them (at most two days' worth).
    let digest_hours = usize::try_from((now_s - start_s) / 3600)
        .unwrap_or(0)
        .clamp(1, 48);
    let spec = DemoSpec {
        start_s,
        digest_hours,
        ..DemoSpec::default()
    };
    let corpus = demo::write_corpus(&bucket, &spec).map_err(|e| {
        Stop::Failed(format!(
            "writing the demo trail to {}: {e}",
            bucket.display()
        ))
    })?;
    println!(
        "Generated an organization trail ({}): {} log files and {} digest files, {} records, under {}",
        demo::DEMO_ORG_ID,
        corpus.log_files,
        corpus.digest_files,
        corpus.records,
        bucket.display()
    );
    println!(
        "  (the digests list every log file but the Insights file: CloudTrail signs no digest for Insights events)"
    );
    println!();
    let mut options = args.options.clone();
    if options.rules.is_none() {
        options.rules = Some(BUILT_IN_CIS.into());
        println!("Applying the CIS / Security Hub metric filter pack (--rules to use your own).");
    }
    let input = bucket.to_string_lossy().into_owned();
    let code = forward(
        std::slice::from_ref(&input),
        &out,
        &options,
        &Destinations::local(),
    )?;
    let archive_dir = out.join("archive");
    let findings = Findings::from_archive(&archive_dir).map_err(|e| {
        Stop::Failed(format!(
            "reading the archive back from {}: {e}",
            archive_dir.display()
        ))
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
    println!();
    let lake_code = demo_lake(&input, &out, &options)?;
    println!();
    let verified = validate_demo(args, &spec, &out)?;
    Ok([code, lake_code, verified]
        .into_iter()
        .find(|c| *c != ExitCode::SUCCESS)
        .unwrap_or(ExitCode::SUCCESS))
}

/// Builds the demo trail's lake and answers two questions from it through the table's scan.
fn demo_lake(input: &str, out: &Path, options: &PipelineOptions) -> Result<ExitCode, Stop> {
    let rules = rules_of(options.rules.as_deref())?;
    let inputs = [input.to_owned()];
    let built = lake::build(&lake::Run {
        inputs: &inputs,
        out,
        catalog: lake::CatalogChoice::Local,
        from: None,
        to: None,
        rules: &rules,
        quiet: options.quiet,
        json: false,
        s3_force_path_style: false,
        expected_bucket_owner: None,
    })?;
    println!("The lake (trailrelay lake): the same history as one Iceberg table");
    built.print_summary(false);
    let answers = [
        (
            "console sign-ins without MFA, by account",
            trailrelay_lake::query::console_sign_ins_without_mfa(&built.lake),
        ),
        (
            "the root user's activity",
            trailrelay_lake::query::root_activity(&built.lake),
        ),
    ];
    for (question, answer) in answers {
        let answer = answer.map_err(|e| Stop::Failed(format!("asking the lake: {e}")))?;
        let counts: Vec<String> = answer
            .counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("  {question}: {}", counts.join(", "));
        println!(
            "    read {} of {} data files, {:.1} KB of {:.1} KB",
            answer.files_read,
            answer.files_in_table,
            answer.bytes_read as f64 / 1e3,
            answer.table_bytes as f64 / 1e3,
        );
    }
    println!(
        "  PyIceberg: SqlCatalog(\"trailrelay\", uri=\"sqlite:///{0}/catalog.db\", warehouse=\"file://{0}/warehouse\")",
        std::path::absolute(out.join("lake"))
            .unwrap_or_else(|_| out.join("lake"))
            .display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Checks the demo trail's signed digests against the bucket and the run's receipts, with the
/// demo's public key written beside the bucket.
fn validate_demo(args: &DemoArgs, spec: &DemoSpec, out: &Path) -> Result<ExitCode, Stop> {
    let keys = args.dir.join("public-keys");
    let key = demo::demo_public_key().map_err(|e| format!("the demo key: {e}"))?;
    std::fs::create_dir_all(&keys)
        .and_then(|()| std::fs::write(keys.join("demo-key.der"), key.pkcs1_der()))
        .map_err(|e| Stop::Failed(format!("writing {}: {e}", keys.display())))?;
    let bucket = args.dir.join("bucket");
    let receipts = out.join("receipts");
    // Judged when the last digest was delivered, so the command passes whenever it is run again.
    let to = replay::rfc3339(spec.start_s + 3600 * spec.digest_hours as i64 + 1);
    let mut argv = vec![
        "trailrelay".to_owned(),
        "validate".to_owned(),
        bucket.display().to_string(),
        "--public-keys".to_owned(),
        keys.display().to_string(),
        "--receipts".to_owned(),
        receipts.display().to_string(),
        "--lake".to_owned(),
        out.join("lake").display().to_string(),
        "--to".to_owned(),
        to.clone(),
    ];
    if args.options.quiet {
        argv.push("-q".to_owned());
    }
    println!(
        "Checking the signed digests (every digest ending before {to}, the demo's last delivery):"
    );
    let words: Vec<String> = argv.iter().map(|w| shell_word(w)).collect();
    println!("  {}", words.join(" "));
    match Cli::try_parse_from(&argv).map(|cli| cli.command) {
        Ok(Command::Validate(validate)) => validate::validate(&validate),
        Ok(_) => Err("the demo's validate command did not parse as one"
            .to_owned()
            .into()),
        Err(e) => Err(format!("the demo's validate command: {e}").into()),
    }
}

/// `word` as a shell reads it back: as it is when it holds only plain characters, else quoted.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    match word.chars().all(plain) && !word.is_empty() {
        true => word.to_owned(),
        false => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_commands_read_back_as_they_ran() {
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("/tmp/x-1/out"), "/tmp/x-1/out");
    }
}
