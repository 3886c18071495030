//! `trailrelay replay` and `trailrelay redrive`: the library's replay and redrive from one
//! machine. Wiring only.

use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailrelay::aws::s3::S3Lister;
use trailrelay::aws::sqs::SqsQueue;
use trailrelay::ports::{QueueRef, SystemClock};
use trailrelay::replay::redrive::{self, Received};
use trailrelay::replay::{Replay, Request, Stopped, Summary, enqueue, parse_time};

use crate::Stop;
use crate::ports::{self, Aws};

/// CloudWatch Logs standard ingestion in us-east-1, USD per GB
/// (<https://aws.amazon.com/cloudwatch/pricing/>).
const DEFAULT_PRICE_PER_GB: f64 = 0.50;

/// Decompressed bytes per stored byte of a CloudTrail log file: 6.2 on the standard benchmark
/// corpus (200 files, 40.0 MB gzip, 249.7 MB JSON).
const GZIP_RATIO: f64 = 6.2;

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The trail's files: s3://BUCKET/[PREFIX/]AWSLogs/[o-ORG/][ACCOUNT/...] (without
    /// AWSLogs, it is added).
    #[arg(value_name = "S3_URL")]
    source: String,
    /// The forwarder's queue URL (the stack output QueueUrl).
    #[arg(long, value_name = "URL", required_unless_present = "dry_run")]
    queue: Option<String>,
    /// First delivery time taken: RFC 3339 (2026-11-30T20:30:00Z) or a date (midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<i64>,
    /// First delivery time not taken (exclusive), as --from.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<i64>,
    /// Accounts (comma-separated, repeatable) [default: all].
    #[arg(long, value_name = "IDS", value_delimiter = ',', value_parser = crate::account_id)]
    accounts: Vec<String>,
    /// Regions (comma-separated, repeatable) [default: all].
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    regions: Vec<String>,
    /// Kinds of files: log, insight, network-activity, aggregated (comma-separated,
    /// repeatable); digests are never replayed.
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        default_value = "log"
    )]
    kinds: Vec<String>,
    /// Messages enqueued per second, at most.
    #[arg(long, value_name = "N", default_value = "100")]
    rate: NonZeroU32,
    /// List and count what would be enqueued, with the CloudWatch Logs ingestion it would
    /// cause; enqueue nothing.
    #[arg(long)]
    dry_run: bool,
    /// Price of CloudWatch Logs ingestion per GB, for the dry run's estimate [default: 0.50,
    /// standard ingestion in us-east-1].
    #[arg(long, value_name = "USD", default_value_t = DEFAULT_PRICE_PER_GB, hide_default_value = true)]
    price_per_gb: f64,
    /// Address S3 by path (for endpoints such as local emulators that need it).
    #[arg(long)]
    s3_force_path_style: bool,
    /// Account that must own the trail bucket (ExpectedBucketOwner on every listing).
    #[arg(long, value_name = "ACCOUNT", value_parser = crate::account_id)]
    expected_bucket_owner: Option<String>,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RedriveArgs {
    /// The dead-letter queue's URL (the stack output DeadLetterQueueUrl).
    #[arg(long, value_name = "URL")]
    from_queue: String,
    /// The queue to move the messages to (the stack output QueueUrl).
    #[arg(long, value_name = "URL", required_unless_present = "dry_run")]
    to_queue: Option<String>,
    /// Messages moved per second, at most.
    #[arg(long, value_name = "N", default_value = "100")]
    rate: NonZeroU32,
    /// List the messages and their causes; move nothing.
    #[arg(long)]
    dry_run: bool,
}

/// RFC 3339 of `seconds`.
pub(crate) fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(|_| seconds.to_string(), |t| t.to_string())
}

pub(crate) fn spinner(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} {spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub(crate) fn replay(args: &ReplayArgs) -> Result<ExitCode, Stop> {
    let (bucket, prefix) = ports::s3_url(&args.source)
        .ok_or_else(|| format!("{:?} is not an s3://BUCKET/... URL", args.source))?;
    let request = Request {
        bucket,
        prefix,
        accounts: args.accounts.clone(),
        regions: args.regions.clone(),
        from: args.from.map(rfc3339),
        to: args.to.map(rfc3339),
        kinds: args.kinds.clone(),
        ..Request::default()
    };
    trailrelay::replay::Selection::new(&request).map_err(|e| format!("--{e}"))?;
    let aws = Aws::connect(args.s3_force_path_style)?;
    let lister = S3Lister::new(aws.s3.clone(), args.expected_bucket_owner.clone());
    let queue = SqsQueue::new(aws.sqs.clone());
    let replay = Replay {
        lister: &lister,
        queue: (!args.dry_run).then_some(&queue),
        target: QueueRef::Url(args.queue.clone().unwrap_or_default()),
        region: aws.region.clone(),
        rate: Some(args.rate),
        clock: &SystemClock,
    };
    let bar = spinner(args.quiet);
    let verb = if args.dry_run { "listed" } else { "enqueued" };
    let started = Instant::now();
    let summary = aws
        .block_on(replay.run(&request, None, &|s: &Summary| {
            let t = s.total();
            bar.set_message(format!(
                "{} objects ({:.1} MB) {verb}{}",
                t.objects,
                t.bytes as f64 / 1e6,
                s.last_done
                    .as_deref()
                    .map(|k| format!(", at {k}"))
                    .unwrap_or_default()
            ));
        }))
        .map_err(|e| format!("--{e}"))?;
    bar.finish_and_clear();
    print_replay(&summary, args, &request.bucket, started.elapsed());
    Ok(if summary.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_replay(summary: &Summary, args: &ReplayArgs, bucket: &str, elapsed: Duration) {
    let t = summary.total();
    let (accounts, regions) = summary.accounts_and_regions();
    let days = match (summary.days.first(), summary.days.last()) {
        (Some(a), Some(b)) => format!("{} day folders, {a} to {b}", summary.days.len()),
        _ => "no day folder".to_owned(),
    };
    let what = if args.dry_run {
        "Would enqueue"
    } else {
        "Enqueued"
    };
    let onto = args
        .queue
        .as_deref()
        .map(|q| format!(" onto {q}"))
        .unwrap_or_default();
    println!(
        "{what} {} objects ({:.1} MB) of {} accounts and {} regions, {days}{onto}, in {:.1} s ({} listings)",
        t.objects,
        t.bytes as f64 / 1e6,
        accounts.len(),
        regions.len(),
        elapsed.as_secs_f64(),
        summary.list_calls
    );
    for ((account, region), tally) in &summary.enqueued {
        println!(
            "  {account} {region:<16} {:>8} objects {:>10.1} MB",
            tally.objects,
            tally.bytes as f64 / 1e6
        );
    }
    if args.dry_run {
        let gb = t.bytes as f64 * GZIP_RATIO / 1e9;
        println!(
            "CloudWatch Logs ingestion: about {gb:.2} GB decompressed ({GZIP_RATIO}x the stored size), about ${:.2} at ${} per GB",
            gb * args.price_per_gb,
            args.price_per_gb
        );
    }
    for (key, e) in &summary.refused {
        eprintln!(
            "error: s3://{bucket}/{key}: {e} [{}, {}]",
            e.cause,
            e.class.as_str()
        );
    }
    match &summary.stopped {
        Some(Stopped::Failed(e)) => {
            eprintln!(
                "error: the replay stopped: {e} [{}, {}]",
                e.cause,
                e.class.as_str()
            );
            if let Some(last) = &summary.last_done {
                eprintln!("  every object up to {last} was enqueued");
            }
            for o in &summary.pending {
                eprintln!("  not enqueued: {}", o.key);
            }
        }
        Some(Stopped::Deadline) | None => {}
    }
}

pub(crate) fn redrive(args: &RedriveArgs) -> Result<ExitCode, Stop> {
    let aws = Aws::connect(false)?;
    let queue = SqsQueue::new(aws.sqs.clone());
    let from = QueueRef::Url(args.from_queue.clone());
    let to = QueueRef::Url(args.to_queue.clone().unwrap_or_default());
    let limiter = enqueue::limiter(args.rate);
    let show = |m: &Received| {
        let cause = m.attribute("trailrelay.cause").unwrap_or("-");
        let object = m.attribute("trailrelay.object").unwrap_or("-");
        let rest = if m.attribute(redrive::CONTINUATION_ATTRIBUTE).is_some() {
            " (sent as its continuation)"
        } else {
            ""
        };
        println!("{} cause={cause} object={object}{rest}", m.id);
    };
    let done = aws
        .block_on(redrive::redrive(
            &queue,
            &queue,
            &from,
            &to,
            Some(&limiter),
            args.dry_run,
            &show,
        ))
        .map_err(|e| {
            format!(
                "{}: {e} [{}, {}]",
                args.from_queue,
                e.cause,
                e.class.as_str()
            )
        })?;
    for (id, e) in &done.failed {
        eprintln!(
            "error: message {id}: {e} [{}, {}]",
            e.cause,
            e.class.as_str()
        );
    }
    if args.dry_run {
        println!(
            "{} messages in {} (nothing moved)",
            done.moved, args.from_queue
        );
    } else {
        println!(
            "Moved {} messages ({} as their continuation) to {}; {} failed",
            done.moved,
            done.continued,
            args.to_queue.as_deref().unwrap_or_default(),
            done.failed.len()
        );
    }
    Ok(if done.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
