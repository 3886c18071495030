//! `trailrelay replay` and `trailrelay redrive`: the library's replay and redrive from one
//! machine. Wiring only.

use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use trailrelay::aws::s3::S3Lister;
use trailrelay::aws::sqs::SqsQueue;
use trailrelay::ports::{ACCESS_DENIED, Outgoing, Queue, QueueRef, SystemClock};
use trailrelay::replay::function::redrive_request;
use trailrelay::replay::redrive::{self, Received, RedriveRun, Redriven, Trust};
use trailrelay::replay::{Replay, Request, Stopped, Summary, enqueue, parse_time};

use crate::Stop;
use crate::ports::{self, Aws};
use crate::report::{Failure, count, print_json_line, print_json_summary, shown};

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
    /// NDJSON on standard output: one line per object refused, then {"summary": {...}}.
    #[arg(long)]
    json: bool,
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
    #[arg(long, value_name = "URL", required_unless_present_any = ["dry_run", "via"])]
    to_queue: Option<String>,
    /// Ask the stack's replay function to redrive, through its request queue (the stack
    /// output ReplayQueueUrl): the stack's queue takes messages only from the stack's roles,
    /// and its forwarder takes continuations from no one else.
    #[arg(long, value_name = "URL", conflicts_with_all = ["to_queue", "dry_run"])]
    via: Option<String>,
    /// Send the continuations dead letters carry from this machine too: only for a forwarder
    /// that takes continuations from any sender (CONTINUATION_SENDERS unset, a local run).
    /// Without it they are kept, to be redriven with --via.
    #[arg(long, conflicts_with = "via")]
    continuations: bool,
    /// Messages moved per second, at most.
    #[arg(long, value_name = "N", default_value = "100")]
    rate: NonZeroU32,
    /// List the messages and their causes; move nothing.
    #[arg(long)]
    dry_run: bool,
    /// NDJSON on standard output: one line per message, then {"summary": {...}}.
    #[arg(long)]
    json: bool,
    /// Print only the summary and the failures, not each message.
    #[arg(long, short)]
    quiet: bool,
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
    let bar = spinner(args.quiet || args.json);
    let verb = if args.dry_run { "listed" } else { "enqueued" };
    let started = Instant::now();
    let summary = aws
        .block_on(replay.run(&request, None, &|s: &Summary| {
            let t = s.total();
            bar.set_message(format!(
                "{} ({:.1} MB) {verb}{}",
                count(t.objects, "object"),
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

/// Why a replay stopped, how far it listed, and what it did not enqueue.
fn print_stopped(summary: &Summary, e: &trailrelay::ports::PortError, json: bool) {
    const SHOWN: usize = 10;
    let mut stopped = Failure::of("the replay", e);
    stopped.message = format!("stopped: {}", stopped.message);
    stopped.print(json);
    if let Some(last) = &summary.last_done {
        eprintln!(
            "  listed up to {last}; of those, {} not enqueued",
            count(summary.pending.len() as u64, "object")
        );
    }
    for o in summary.pending.iter().take(SHOWN) {
        eprintln!("  not enqueued: {}", shown(&o.key));
    }
    if summary.pending.len() > SHOWN {
        eprintln!("  ... and {} more", summary.pending.len() - SHOWN);
    }
}

fn print_replay(summary: &Summary, args: &ReplayArgs, bucket: &str, elapsed: Duration) {
    let t = summary.total();
    let (accounts, regions) = summary.accounts_and_regions();
    for (key, e) in &summary.refused {
        Failure::of(&format!("s3://{bucket}/{key}"), e).print(args.json);
    }
    for key in &summary.skipped {
        eprintln!(
            "skipped: s3://{bucket}/{} (not named as CloudTrail names its files and folders)",
            shown(key)
        );
    }
    if let Some(Stopped::Failed(e)) = &summary.stopped {
        print_stopped(summary, e, args.json);
    }
    let gb = t.bytes as f64 * GZIP_RATIO / 1e9;
    if args.json {
        let per_stream: Vec<serde_json::Value> = summary
            .enqueued
            .iter()
            .map(|((account, region), tally)| {
                json!({"account": account, "region": region, "objects": tally.objects, "bytes": tally.bytes})
            })
            .collect();
        print_json_summary(&json!({
            "dry_run": args.dry_run,
            "objects": t.objects,
            "bytes": t.bytes,
            "accounts": accounts.len(),
            "regions": regions.len(),
            "day_folders": summary.days.len(),
            "listings": summary.list_calls,
            "skipped": summary.skipped_count,
            "seconds": elapsed.as_secs_f64(),
            "queue": args.queue,
            "by_account_and_region": per_stream,
            "refused": summary.refused.len(),
            "not_enqueued": summary.pending.len(),
            "stopped": summary.stopped.is_some(),
            "estimated_ingestion_gb": args.dry_run.then_some(gb),
            "estimated_cost_usd": args.dry_run.then_some(gb * args.price_per_gb),
        }));
        return;
    }
    let days = match (summary.days.first(), summary.days.last()) {
        (Some(a), Some(b)) => format!(
            "{}, {a} to {b}",
            count(summary.days.len() as u64, "day folder")
        ),
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
        "{what} {} ({:.1} MB) of {} and {}, {days}{onto}, in {:.1} s ({})",
        count(t.objects, "object"),
        t.bytes as f64 / 1e6,
        count(accounts.len() as u64, "account"),
        count(regions.len() as u64, "region"),
        elapsed.as_secs_f64(),
        count(summary.list_calls, "listing")
    );
    for ((account, region), tally) in &summary.enqueued {
        println!(
            "  {account} {region:<16} {:>8} {:>10.1} MB",
            count(tally.objects, "object"),
            tally.bytes as f64 / 1e6
        );
    }
    if args.dry_run {
        println!(
            "CloudWatch Logs ingestion: about {gb:.2} GB decompressed ({GZIP_RATIO}x the stored size), about ${:.2} at ${} per GB",
            gb * args.price_per_gb,
            args.price_per_gb
        );
    }
}

pub(crate) fn redrive(args: &RedriveArgs) -> Result<ExitCode, Stop> {
    let aws = Aws::connect(false)?;
    let queue = SqsQueue::new(aws.sqs.clone());
    if let Some(via) = &args.via {
        return redrive_via(&aws, &queue, args, via);
    }
    let from = QueueRef::Url(args.from_queue.clone());
    let to = QueueRef::Url(args.to_queue.clone().unwrap_or_default());
    let limiter = enqueue::limiter(args.rate);
    // Counted before this run hides anything: messages other receivers hold.
    let in_flight = aws.block_on(queue.in_flight(&from));
    let show = |m: &Received| show_dead_letter(args, m);
    let run = RedriveRun {
        limiter: Some(&limiter),
        dry: args.dry_run,
        // Sent from here, a continuation counts only where the forwarder trusts every sender.
        trust: Trust {
            senders: if args.continuations { None } else { Some(&[]) },
        },
        stop_at: None,
    };
    let done = aws.block_on(redrive::redrive(&queue, &queue, (&from, &to), run, &show));
    let done = match done {
        Ok(done) => done,
        Err(e) => {
            Failure::of(&args.from_queue, &e).print(args.json);
            return Ok(ExitCode::FAILURE);
        }
    };
    let in_flight = match in_flight {
        Ok(n) => Some(n),
        Err(e) => {
            Failure::of(
                &format!("{} (counting messages in flight)", args.from_queue),
                &e,
            )
            .print(args.json);
            None
        }
    };
    print_redriven(args, &done, in_flight);
    Ok(if done.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One dead letter as it is listed or moved: its cause, objects, error.
fn show_dead_letter(args: &RedriveArgs, m: &Received) {
    let as_continuation = m.attribute(redrive::CONTINUATION_ATTRIBUTE).is_some();
    let objects = m.objects();
    if args.json {
        print_json_line(
            "message",
            &json!({
                "id": m.id,
                "cause": m.attribute(redrive::CAUSE_ATTRIBUTE),
                "objects": objects,
                "error": m.attribute("trailrelay.error"),
                "as_continuation": as_continuation,
            }),
        );
        return;
    }
    if args.quiet {
        return;
    }
    let object = match objects.as_slice() {
        [] => "-".to_owned(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    };
    let cause = m.attribute(redrive::CAUSE_ATTRIBUTE).unwrap_or("-");
    let rest = if as_continuation {
        " (sent as its continuation)"
    } else {
        ""
    };
    println!(
        "{} cause={} object={}{rest}",
        shown(&m.id),
        shown(cause),
        shown(&object)
    );
    if let Some(error) = m.attribute("trailrelay.error") {
        println!("  error: {}", shown(error));
    }
}

/// What a redrive did: the messages not moved, each with why, then the summary.
fn print_redriven(args: &RedriveArgs, done: &Redriven, in_flight: Option<u64>) {
    for (id, e) in &done.failed {
        Failure::of(&format!("message {id}"), e).print(args.json);
    }
    if done.failed.iter().any(|(_, e)| e.cause == ACCESS_DENIED) && !args.json {
        eprintln!(
            "hint: the stack's queue takes messages only from the stack's roles: redrive with --via REPLAY_QUEUE_URL (the stack output ReplayQueueUrl)"
        );
    }
    for (id, why) in &done.held {
        if args.json {
            print_json_line("held", &json!({"id": id, "reason": why}));
        } else {
            println!("kept {}: {}", shown(id), shown(why));
        }
    }
    if !args.json
        && done
            .held
            .iter()
            .any(|(_, why)| why.contains("carries a continuation"))
    {
        eprintln!(
            "hint: the stack's forwarder takes continuations only from its roles: redrive with --via REPLAY_QUEUE_URL (the stack output ReplayQueueUrl); --continuations sends them from here, for a forwarder that takes them from anyone"
        );
    }
    if args.json {
        print_json_summary(&json!({
            "dry_run": args.dry_run,
            "messages": done.moved,
            "as_continuation": done.continued,
            "failed": done.failed.len(),
            "kept": done.held.len(),
            "in_flight": in_flight,
            "from_queue": args.from_queue,
            "to_queue": args.to_queue,
        }));
        return;
    }
    let flight = match in_flight {
        Some(0) | None => String::new(),
        Some(n) => format!(
            "; {} in flight (received by another reader, not listed)",
            count(n, "more message")
        ),
    };
    if args.dry_run {
        let kept = match done.held.len() {
            0 => String::new(),
            n => format!(", {n} of them to be kept"),
        };
        println!(
            "{} in {}{kept} (nothing moved){flight}",
            count(done.moved + done.held.len() as u64, "message"),
            args.from_queue
        );
        return;
    }
    let kept = match done.held.len() {
        0 => String::new(),
        n => format!("; {n} kept"),
    };
    println!(
        "Moved {} ({} as their continuation) to {}; {} failed{kept}{flight}",
        count(done.moved, "message"),
        done.continued,
        args.to_queue.as_deref().unwrap_or_default(),
        done.failed.len()
    );
}

/// Puts a redrive request on the replay function's request queue.
fn redrive_via(
    aws: &Aws,
    queue: &SqsQueue,
    args: &RedriveArgs,
    via: &str,
) -> Result<ExitCode, Stop> {
    let request = Outgoing {
        queue: QueueRef::Url(via.to_owned()),
        body: redrive_request(&args.from_queue),
        delay_seconds: 0,
        attributes: Vec::new(),
    };
    if let Err(e) = aws.block_on(queue.send(&request)) {
        Failure::of(via, &e).print(args.json);
        return Ok(ExitCode::FAILURE);
    }
    if args.json {
        print_json_summary(&json!({"requested": true, "from_queue": args.from_queue, "via": via}));
    } else {
        println!(
            "Asked the replay function to redrive {} (request sent to {via}); its log names each message it moves or keeps",
            args.from_queue
        );
    }
    Ok(ExitCode::SUCCESS)
}
