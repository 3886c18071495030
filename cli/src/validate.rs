//! `trailrelay validate`: the library's digest check from one machine, on local folders laid
//! out like the trail bucket or on s3:// prefixes. Wiring only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use indicatif::ProgressBar;
use trailrelay::aws::cloudtrail::{CloudTrailKeys, Keys};
use trailrelay::aws::s3::{S3Lister, S3Source};
use trailrelay::integrity::check::{Checker, Evidence};
use trailrelay::integrity::keys::KeyRing;
use trailrelay::integrity::{Checkpoint, Finding, FindingKind, Options, Tally, check_walk};
use trailrelay::key::folder;
use trailrelay::local::LocalLister;
use trailrelay::ports::{Lister, PortError, Store, epoch_ms};
use trailrelay::replay::select::{Selected, Selection, Walk};
use trailrelay::replay::{Request, parse_time};

use crate::Stop;
use crate::ports::{self, AnySource, Aws};
use crate::replay::{rfc3339, spinner};
use crate::report::{Failure, count, print_json_summary, shown};

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Trail buckets: local folders laid out like the bucket, or s3://BUCKET/[PREFIX/].
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// First digest end time checked: RFC 3339 or a date (midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<i64>,
    /// First digest end time not checked (exclusive); silence is judged at this time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<i64>,
    /// A key file or a folder of them: DER (PKCS#1, as ListPublicKeys returns) or PEM
    /// (RSA PUBLIC KEY or PUBLIC KEY) [default: ListPublicKeys in each digest's region].
    #[arg(long, value_name = "PATH")]
    public_keys: Option<PathBuf>,
    /// The forwarder's receipts: a folder (a local run's OUT/receipts) or
    /// s3://ARCHIVE/PREFIX/_receipts/ [default: forwarding is not checked].
    #[arg(long, value_name = "DIR|S3_URL")]
    receipts: Option<String>,
    /// The lake: a local lake (`trailrelay lake`'s OUT/lake) or s3://BUCKET/PREFIX/, the
    /// table's location: each listed log file must be in a commit of its window with the listed
    /// hash [default: the lake is not checked].
    #[arg(long, value_name = "DIR|S3_URL")]
    lake: Option<String>,
    /// How long after its digest a log file may be missing from the lake.
    #[arg(long, value_name = "DURATION", default_value = "3h", value_parser = seconds)]
    lake_grace: i64,
    /// How long after its digest a log file may be without a receipt.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = seconds)]
    forward_grace: i64,
    /// How old a chain's newest digest may be before its account and region count as silent.
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = seconds)]
    late_after: i64,
    /// Most decompressed bytes a listed log file is read to (as forward's): a larger one is
    /// named altered, not read further.
    #[arg(long, value_name = "SIZE", value_parser = trailrelay::config::parse_bytes, default_value = "4GiB")]
    max_object_bytes: u64,
    /// NDJSON on standard output: one line per finding or failed input, then
    /// {"summary": {...}}.
    #[arg(long)]
    json: bool,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
    /// Address S3 by path (for endpoints such as local emulators that need it).
    #[arg(long)]
    s3_force_path_style: bool,
    /// Account that must own the buckets read (ExpectedBucketOwner on every call).
    #[arg(long, value_name = "ACCOUNT", value_parser = crate::account_id)]
    expected_bucket_owner: Option<String>,
}

/// `1h`, `90m`, `0s`, `2h 30m`, or ISO 8601 (`PT1H`), in whole seconds.
fn seconds(text: &str) -> Result<i64, String> {
    let duration: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|e| format!("{text:?} is not a duration such as 1h, 90m or 0s: {e}"))?;
    if duration.is_negative() {
        return Err(format!("{text:?} is negative"));
    }
    Ok(duration.as_secs())
}

/// What every input is checked with.
struct Context {
    aws: Option<Aws>,
    /// Lists trail buckets, expecting their owner when one is given.
    lister: Option<S3Lister>,
    keys: Keys,
    source: AnySource,
    receipts: Option<(Store, String)>,
    lake: Option<(Store, String)>,
}

/// Where the lake's own folder is: a local lake's table (OUT/lake/warehouse/trailrelay/
/// cloudtrail), a table location given as a folder, or s3://BUCKET/PREFIX/.
fn lake_of(given: &str) -> Result<(Store, String), Stop> {
    if let Some((bucket, prefix)) = ports::s3_url(given) {
        return Ok((Store::S3(bucket), trailrelay::lake::lake_prefix(&prefix)));
    }
    let path = Path::new(given);
    let table = path.join("warehouse").join("trailrelay").join("cloudtrail");
    let location = if path.join("catalog.db").is_file() {
        table
    } else {
        path.to_path_buf()
    };
    if !location.join(trailrelay::lake::LAKE_FOLDER).is_dir() {
        return Err(format!(
            "--lake {given}: no lake there (a local run's OUT/lake, or the table's s3://BUCKET/PREFIX/)"
        )
        .into());
    }
    Ok((Store::Local(location), trailrelay::lake::lake_prefix("")))
}

impl Context {
    fn new(args: &ValidateArgs) -> Result<Self, Stop> {
        let receipts = match args.receipts.as_deref().map(|r| (r, ports::s3_url(r))) {
            None => None,
            Some((_, Some((bucket, prefix)))) => Some((Store::S3(bucket), folder(&prefix))),
            Some((r, None)) if Path::new(r).is_dir() => {
                Some((Store::Local(PathBuf::from(r)), String::new()))
            }
            Some((r, None)) => {
                return Err(format!(
                    "--receipts {r}: no such folder (a local run's OUT/receipts, or s3://ARCHIVE/PREFIX/_receipts/)"
                )
                .into());
            }
        };
        let lake = args.lake.as_deref().map(lake_of).transpose()?;
        let any_s3 = args.inputs.iter().any(|i| i.starts_with("s3://"));
        if args.public_keys.is_none() && !any_s3 {
            return Err("a local copy of a trail needs its public keys: pass --public-keys FILE|DIR (the keys `aws cloudtrail list-public-keys` returns, DER or PEM)".to_owned().into());
        }
        let needs_aws = args.public_keys.is_none()
            || any_s3
            || matches!(receipts, Some((Store::S3(_), _)))
            || matches!(lake, Some((Store::S3(_), _)));
        let aws = needs_aws
            .then(|| Aws::connect(args.s3_force_path_style))
            .transpose()?;
        let keys = match (&args.public_keys, &aws) {
            (Some(path), _) => {
                Keys::Files(KeyRing::load(path).map_err(|e| format!("--public-keys {e}"))?)
            }
            (None, Some(aws)) => {
                Keys::CloudTrail(Box::new(CloudTrailKeys::new(aws.sdk.clone(), aws.handle())))
            }
            (None, None) => return Err("no public keys: give --public-keys".to_owned().into()),
        };
        let source = AnySource {
            s3: aws.as_ref().map(|aws| {
                let owner = args.expected_bucket_owner.clone();
                S3Source::new(aws.s3.clone(), aws.handle(), owner)
            }),
        };
        let lister = aws
            .as_ref()
            .map(|aws| S3Lister::new(aws.s3.clone(), args.expected_bucket_owner.clone()));
        Ok(Self {
            aws,
            lister,
            keys,
            source,
            receipts,
            lake,
        })
    }
}

/// The trail an input names and the request that walks its digests.
fn request_of(input: &str, args: &ValidateArgs) -> Result<(Store, Selection), String> {
    let (trail, bucket, prefix) = ports::trail_of(input)?;
    let request = Request {
        bucket,
        prefix,
        from: args.from.map(rfc3339),
        to: args.to.map(rfc3339),
        ..Request::default()
    };
    let selection = Selection::digests(&request).map_err(|e| format!("{input}: {e}"))?;
    Ok((trail, selection))
}

pub(crate) fn validate(args: &ValidateArgs) -> Result<ExitCode, Stop> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return Err("--to must be later than --from".to_owned().into());
    }
    let cx = Context::new(args)?;
    let now_s = epoch_ms(std::time::SystemTime::now()) / 1000;
    let options = Options {
        forward_grace_s: args.forward_grace,
        late_after_s: args.late_after,
        max_log_file_bytes: args.max_object_bytes,
        // No queue is asked from here: a file without a receipt is named.
        forwarding_busy: false,
        lake_grace_s: args.lake_grace,
    };
    let progress = spinner(args.quiet);
    let (mut tally, mut found, mut failed_inputs) = (Tally::default(), 0, 0);
    let at = args.to.unwrap_or(now_s).min(now_s);
    let local = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Stop::Failed(format!("starting a runtime: {e}")))?;
    for input in &args.inputs {
        let (trail, selection) = request_of(input, args)?;
        let lister = match (&trail, cx.aws.as_ref().zip(cx.lister.as_ref())) {
            (Store::S3(_), Some((aws, lister))) => TrailLister::S3(aws, lister),
            _ => TrailLister::Local(&local),
        };
        let bucket = selection.bucket.clone();
        let list_keys = |prefix: &str| lister.keys(&bucket, prefix);
        let evidence = Evidence {
            lister: Some(&list_keys),
            source: &cx.source,
            trail: trail.clone(),
            receipts: cx.receipts.clone(),
            lake: cx.lake.clone(),
            keys: &cx.keys,
        };
        let mut checker = Checker::new(evidence, options, at).walked_from(args.from);
        let mut out = |f: Finding| {
            progress.suspend(|| print_finding(&f, args.json));
            found += 1;
        };
        let walk = Walk::new(selection);
        let walked = run_walk(&mut checker, walk, &lister, &progress, &mut out);
        let failure = match walked {
            Err(e) => Some(Failure::of(input, &e)),
            Ok(()) if checker.tally.digests == 0 => Some(no_digests(input, args)),
            Ok(()) => None,
        };
        if let Some(failure) = failure {
            progress.suspend(|| failure.print(args.json));
            failed_inputs += 1;
        }
        tally.merge(&checker.tally);
    }
    progress.finish_and_clear();
    let code = if found == 0 && failed_inputs == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if args.json {
        print_json_summary(&serde_json::json!({
            "tally": tally,
            "findings": tally.finding_count(),
            "forwarding_checked": cx.receipts.is_some(),
            "lake_checked": cx.lake.is_some(),
            "failed_inputs": failed_inputs,
        }));
    } else {
        print!(
            "{}",
            summary(
                &tally,
                cx.receipts.is_some(),
                cx.lake.is_some(),
                failed_inputs
            )
        );
    }
    Ok(code)
}

/// The failure of an input under which no digest was found: never a clean pass.
fn no_digests(input: &str, args: &ValidateArgs) -> Failure {
    let range = match (args.from, args.to) {
        (None, None) => String::new(),
        (from, to) => format!(
            " ending from {} to {}",
            from.map_or("the first".into(), rfc3339),
            to.map_or("now".into(), rfc3339)
        ),
    };
    Failure::new(
        input,
        "no-digests",
        format!(
            "no digest files under {input}{range}: is this the trail bucket or a folder of it?"
        ),
    )
}

/// Lists a trail where it is: an S3 bucket on the SDK's runtime, a local folder on a runtime of
/// the command's own.
enum TrailLister<'a> {
    S3(&'a Aws, &'a S3Lister),
    Local(&'a tokio::runtime::Runtime),
}

impl TrailLister<'_> {
    /// The next day folder of `walk` that holds digests.
    fn next_day(&self, walk: &mut Walk) -> Result<Option<Vec<Selected>>, PortError> {
        match self {
            Self::S3(aws, lister) => aws.block_on(walk.next_day(*lister)),
            Self::Local(runtime) => runtime.block_on(walk.next_day(&LocalLister)),
        }
    }

    /// The keys under `prefix` of `bucket`.
    fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        let listing = match self {
            Self::S3(aws, lister) => aws.block_on(lister.list(bucket, prefix, false)),
            Self::Local(runtime) => runtime.block_on(LocalLister.list(bucket, prefix, false)),
        }?;
        Ok(listing.objects.into_iter().map(|o| o.key).collect())
    }
}

/// Runs the check over every day folder of `walk`.
fn run_walk(
    checker: &mut Checker<'_, AnySource, Keys>,
    mut walk: Walk,
    lister: &TrailLister<'_>,
    progress: &ProgressBar,
    out: &mut dyn FnMut(Finding),
) -> Result<(), PortError> {
    let mut next_day = || {
        let day = lister.next_day(&mut walk)?;
        if let Some(first) = day.as_ref().and_then(|d| d.first()) {
            progress.set_message(format!("{} {} {}", first.account, first.region, first.date));
            progress.inc(day.as_ref().map_or(0, |d| d.len() as u64));
        }
        Ok(day)
    };
    let walked = check_walk(
        checker,
        &mut next_day,
        &mut Checkpoint::default(),
        &mut || false,
        out,
    );
    // Named, never read: keys and folders not named as a trail names them.
    for key in &walk.skipped {
        progress.suspend(|| {
            eprintln!(
                "skipped: {} (not named as CloudTrail names its files and folders)",
                shown(key)
            )
        });
    }
    let unnamed = walk.skipped_count - walk.skipped.len() as u64;
    if unnamed > 0 {
        progress.suspend(|| eprintln!("skipped: {unnamed} more"));
    }
    walked.map(|_| ())
}

fn print_finding(finding: &Finding, json: bool) {
    if json {
        if let Ok(line) = serde_json::to_string(finding) {
            println!("{line}");
        }
    } else {
        println!(
            "{:<26} {}  ({})",
            finding.kind.as_str(),
            shown(&finding.key),
            shown(&finding.detail)
        );
    }
}

fn summary(t: &Tally, receipts: bool, lake: bool, failed_inputs: u64) -> String {
    let mut s = format!(
        "{} in {}: {} verified, {} unverified (no signature kept for the newest of a local copy)\n",
        count(t.digests, "digest"),
        count(t.chains, "chain"),
        count(t.digests_verified, "signature"),
        t.digests_unverified
    );
    for key in &t.unverified {
        s += &format!(
            "  unverified: {key} (no signature sidecar, and no later digest records one)\n"
        );
    }
    s += &format!(
        "{} listed: {} present with the listed hash\n",
        count(t.log_files, "log file"),
        t.log_files_verified
    );
    if receipts {
        s += &format!(
            "  forwarded {} with a receipt of the listed hash, {} awaiting a receipt within the grace period\n",
            t.log_files_forwarded, t.awaiting_receipt
        );
    } else {
        s += "  forwarding not checked (no --receipts)\n";
    }
    if lake {
        s += &format!(
            "  in the lake: {} with the listed hash, {} awaited within the grace period\n",
            t.log_files_in_lake, t.awaiting_lake
        );
    }
    let total = t.finding_count();
    if failed_inputs > 0 {
        s += &format!(
            "{}, but {} not checked (see the errors above)\n",
            count(total, "finding"),
            count(failed_inputs, "input")
        );
    } else if total == 0 {
        s += "0 findings\n";
    }
    if total > 0 {
        if failed_inputs == 0 {
            s += &format!("{}:\n", count(total, "finding"));
        }
        for kind in FindingKind::ALL {
            if let Some(n) = t.findings.get(&kind) {
                s += &format!("  {:<26} {n}\n", kind.as_str());
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use trailrelay::integrity::{DEFAULT_FORWARD_GRACE_S, DEFAULT_LATE_AFTER_S};

    use super::*;

    /// `trailrelay validate ...` alone.
    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        args: ValidateArgs,
    }

    impl ValidateArgs {
        fn try_parse_from(argv: [&str; 2]) -> Result<Self, clap::Error> {
            Command::try_parse_from(argv).map(|c| c.args)
        }
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(seconds("1h"), Ok(3600));
        assert_eq!(seconds("0s"), Ok(0));
        assert_eq!(seconds("90m"), Ok(5400));
        assert_eq!(seconds("2h 30m"), Ok(9000));
        assert!(seconds("soon").is_err());
        assert!(seconds("-1h").is_err());
        // The options' defaults are the function's.
        let args = ValidateArgs::try_parse_from(["validate", "bucket"]).unwrap();
        assert_eq!(args.forward_grace, DEFAULT_FORWARD_GRACE_S);
        assert_eq!(args.late_after, DEFAULT_LATE_AFTER_S);
    }
}
