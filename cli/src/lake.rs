//! `trailrelay lake`: the trail's history as one Iceberg table, window by window.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailrelay::aws::s3::{S3Lister, S3Source};
use trailrelay::local::LocalLister;
use trailrelay::ports::{ObjectRef, Store};
use trailrelay::replay::{Selection, parse_time};
use trailrelay::rules::RuleSet;
use trailrelay_lake::catalog::{GlueSettings, LocalLake, glue};
use trailrelay_lake::{Lake, Reader, Recovered, Step, Window, WindowReport, select};

use crate::Stop;
use crate::ports::{self, AnySource, Aws};
use crate::replay::{rfc3339, spinner};
use crate::report::{Failure, count, print_json_summary};

/// Stops each commit after a step (`writing`, `data-files`, `commit`), as a crash there would:
/// what the crash tests use.
const INTERRUPT_VARIABLE: &str = "TRAILRELAY_LAKE_INTERRUPT";

#[derive(Debug, Args)]
pub(crate) struct LakeArgs {
    /// Trail buckets: local folders laid out like the bucket (a folder inside the layout is
    /// taken where it sits), or s3://BUCKET/[PREFIX/].
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Address S3 by path (for endpoints such as local emulators that need it).
    #[arg(long)]
    s3_force_path_style: bool,
    /// Account that must own the buckets of s3:// inputs (ExpectedBucketOwner on every call).
    #[arg(long, value_name = "ACCOUNT", value_parser = crate::account_id)]
    expected_bucket_owner: Option<String>,
    /// The lake goes to OUT/lake/: catalog.db (SQLite) and warehouse/.
    #[arg(long, value_name = "DIR", default_value = "trailrelay-out")]
    out: PathBuf,
    /// The table's catalog: `sqlite` (OUT/lake/catalog.db) or `glue` (the AWS Glue Data
    /// Catalog of the account and region, with --warehouse).
    #[arg(long, value_name = "CATALOG", default_value = "sqlite", value_parser = ["sqlite", "glue"])]
    catalog: String,
    /// With --catalog glue: where the table's files go, s3://BUCKET/PREFIX (the table is
    /// PREFIX/trailrelay.db/cloudtrail).
    #[arg(long, value_name = "S3_URL")]
    warehouse: Option<String>,
    /// First delivery time taken (a log file's time is the one its name states): RFC 3339 or a
    /// date (midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<i64>,
    /// First delivery time not taken (exclusive).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<i64>,
    /// Routes of a rules file (JSON or YAML, inline JSON, or `cis`): an event a route keeps out
    /// of the archive stays out of the lake; each row names the rules it matched.
    #[arg(long, value_name = "FILE")]
    rules: Option<String>,
    /// NDJSON on standard output: one line per failed file, one per window committed, then
    /// {"summary": {...}}.
    #[arg(long)]
    json: bool,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
}

/// What a run did, over every window.
#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    windows_committed: u64,
    windows_unchanged: u64,
    files: u64,
    files_already_in_lake: u64,
    failed_files: u64,
    records: u64,
    rows: u64,
    unreadable_records: u64,
    data_files: u64,
    bytes_read: u64,
    bytes_written: u64,
    seconds: f64,
    recovered: Vec<String>,
}

impl Summary {
    fn add(&mut self, report: &WindowReport) {
        match report.commit {
            Some(_) => self.windows_committed += 1,
            None => self.windows_unchanged += 1,
        }
        self.files += report.files as u64;
        self.files_already_in_lake += report.already as u64;
        self.failed_files += report.failed.len() as u64;
        self.records += report.records;
        self.rows += report.rows;
        self.unreadable_records += report.unreadable;
        self.data_files += report.data_files as u64;
        self.bytes_read += report.bytes_read;
        self.bytes_written += report.data_bytes;
    }

    /// The summary; `timing` adds the rate and the time (which differ run to run).
    fn print(&self, lake: &str, timing: bool) {
        let mb = |b: u64| b as f64 / 1e6;
        println!(
            "lake {}: {} committed, {} unchanged",
            lake,
            count(self.windows_committed, "window"),
            count(self.windows_unchanged, "window"),
        );
        println!(
            "  {} read ({} already in the lake, {} failed), {}, {} added, {} not JSON",
            count(self.files, "file"),
            self.files_already_in_lake,
            self.failed_files,
            count(self.records, "record"),
            count(self.rows, "row"),
            self.unreadable_records,
        );
        let rate = format!(
            ", {:.1} MB/s, {:.1} s",
            mb(self.bytes_read) / self.seconds.max(1e-3),
            self.seconds
        );
        println!(
            "  {} written, {:.1} MB from {:.1} MB of records{}",
            count(self.data_files, "data file"),
            mb(self.bytes_written),
            mb(self.bytes_read),
            if timing { rate.as_str() } else { "" },
        );
        for line in &self.recovered {
            println!("  {line}");
        }
    }
}

fn progress_bar(files: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(files), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} {bar:30} {pos}/{len} files {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// Where an input's files are, and the selection of the lake's files there.
fn selection_of(input: &str, run: &Run<'_>) -> Result<(Store, Selection), Stop> {
    let (store, bucket, prefix) = ports::trail_of(input).map_err(Stop::Usage)?;
    let request = select::request(&bucket, &prefix, run.from.map(rfc3339), run.to.map(rfc3339));
    let selection = Selection::new(&request).map_err(|e| format!("{input}: --{e}"))?;
    Ok((store, selection))
}

/// A lake built: the table (its runtime kept with it) and what the run did.
pub(crate) struct Built {
    pub(crate) lake: Lake,
    // Dropped after the lake, whose handle it backs.
    _runtime: tokio::runtime::Runtime,
    /// A local lake's lock, held until the lake is dropped.
    _lock: Option<std::fs::File>,
    summary: Summary,
    /// Where the lake is: its folder, or its Glue table and location.
    pub(crate) label: String,
}

impl Built {
    /// The run's summary; `timing` adds its rate and time.
    pub(crate) fn print_summary(&self, timing: bool) {
        self.summary.print(&self.label, timing);
    }
}

/// Which catalog holds the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CatalogChoice {
    /// SQLite, in OUT/lake beside the warehouse.
    Local,
    /// AWS Glue, the warehouse at this s3:// URL.
    Glue(String),
}

/// What to build, and how to report it.
pub(crate) struct Run<'a> {
    pub(crate) inputs: &'a [String],
    pub(crate) out: &'a Path,
    pub(crate) catalog: CatalogChoice,
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
    pub(crate) rules: &'a RuleSet,
    pub(crate) quiet: bool,
    pub(crate) json: bool,
    /// For S3: path-style addressing, and the trail buckets' expected owner.
    pub(crate) s3_force_path_style: bool,
    pub(crate) expected_bucket_owner: Option<String>,
}

pub(crate) fn lake(args: &LakeArgs) -> Result<ExitCode, Stop> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return Err(Stop::Usage("--to must be later than --from".to_owned()));
    }
    let catalog = match (args.catalog.as_str(), &args.warehouse) {
        ("glue", Some(url)) if ports::s3_url(url).is_some() => CatalogChoice::Glue(url.clone()),
        ("glue", _) => {
            return Err(Stop::Usage(
                "--catalog glue needs --warehouse s3://BUCKET/PREFIX".to_owned(),
            ));
        }
        (_, Some(_)) => {
            return Err(Stop::Usage(
                "--warehouse is for --catalog glue (a local lake is OUT/lake)".to_owned(),
            ));
        }
        _ => CatalogChoice::Local,
    };
    let rules = crate::rules_of(args.rules.as_deref())?;
    let built = build(&Run {
        inputs: &args.inputs,
        out: &args.out,
        catalog,
        from: args.from,
        to: args.to,
        rules: &rules,
        quiet: args.quiet,
        json: args.json,
        s3_force_path_style: args.s3_force_path_style,
        expected_bucket_owner: args.expected_bucket_owner.clone(),
    })?;
    if args.json {
        print_json_summary(&serde_json::to_value(&built.summary).unwrap_or_default());
    } else {
        built.print_summary(true);
    }
    Ok(match built.summary.failed_files {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// The local lake's lock, held while a run writes (one writer per table): a second run on the
/// same folder stops at once, named, instead of removing the first one's pending attempt.
fn lock_local(dir: &Path) -> Result<std::fs::File, Stop> {
    let path = dir.join(".lock");
    let file = std::fs::File::create(&path)
        .map_err(|e| Stop::Failed(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Stop::Failed(format!(
            "another trailrelay lake is writing {} (it holds {})",
            dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Stop::Failed(format!("{}: {e}", path.display())))
        }
    }
}

/// The table in the run's catalog, where it is in words, and the local lake's lock.
fn open_lake(
    run: &Run<'_>,
    runtime: &tokio::runtime::Runtime,
    aws: Option<&Aws>,
) -> Result<(Lake, String, Option<std::fs::File>), Stop> {
    let failed = |what: &str, e: &dyn std::fmt::Display| Stop::Failed(format!("{what}: {e}"));
    let (catalog, label, lock) = match (&run.catalog, aws) {
        (CatalogChoice::Glue(warehouse), Some(aws)) => {
            let settings = GlueSettings {
                warehouse: warehouse.clone(),
                region: Some(aws.region.clone()),
                endpoint: std::env::var("AWS_ENDPOINT_URL").ok(),
                path_style: run.s3_force_path_style,
            };
            let catalog = runtime
                .block_on(glue(&settings))
                .map_err(|e| failed("the Glue catalog", &e))?;
            (catalog, "in the Glue catalog".to_owned(), None)
        }
        _ => {
            let dir = run.out.join("lake");
            let local = LocalLake::new(&dir).map_err(|e| failed(&dir.display().to_string(), &e))?;
            let lock = lock_local(&dir)?;
            let catalog = runtime
                .block_on(local.catalog())
                .map_err(|e| failed(&local.catalog_path().display().to_string(), &e))?;
            (catalog, dir.display().to_string(), Some(lock))
        }
    };
    let lake =
        Lake::open(runtime.handle().clone(), catalog).map_err(|e| Stop::Failed(e.to_string()))?;
    let label = format!(
        "{label}: trailrelay.cloudtrail at {}",
        lake.table().metadata().location()
    );
    Ok((lake, label, lock))
}

/// Builds the lake of `run.inputs`, window by window.
pub(crate) fn build(run: &Run<'_>) -> Result<Built, Stop> {
    let interrupt = match std::env::var(INTERRUPT_VARIABLE) {
        Ok(step) => Some(Step::parse(&step).ok_or_else(|| {
            Stop::Usage(format!(
                "{INTERRUPT_VARIABLE}={step:?}: use writing, data-files or commit"
            ))
        })?),
        Err(_) => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Stop::Failed(format!("starting a runtime: {e}")))?;
    let needs_aws = matches!(run.catalog, CatalogChoice::Glue(_))
        || run.inputs.iter().any(|i| ports::s3_url(i).is_some());
    let aws = needs_aws
        .then(|| Aws::connect(run.s3_force_path_style))
        .transpose()?;
    let (mut lake, label, lock) = open_lake(run, &runtime, aws.as_ref())?;
    lake.interrupt_after(interrupt);
    let started = Instant::now();
    let mut summary = Summary::default();
    match lake.recover().map_err(|e| Stop::Failed(e.to_string()))? {
        Some(Recovered::Published { window, commit }) => summary.recovered.push(format!(
            "a stopped run's commit {commit} of window {window} was in the table: its manifest is now published"
        )),
        Some(Recovered::Abandoned { attempt, folder }) => summary.recovered.push(format!(
            "a stopped run's attempt {attempt} had not committed: its data files ({folder}) are removed"
        )),
        None => {}
    }
    let owner = run.expected_bucket_owner.clone();
    let source = AnySource {
        s3: aws
            .as_ref()
            .map(|aws| S3Source::new(aws.s3.clone(), aws.handle(), owner.clone())),
    };
    let reader = Reader::new(&source, run.rules, trailrelay::decode::Limits::default());
    for input in run.inputs {
        let (store, selection) = selection_of(input, run)?;
        let listing = spinner(run.quiet);
        listing.set_message(format!("listing {input}"));
        let windows = match (&store, &aws) {
            (Store::S3(_), Some(aws)) => {
                let lister = S3Lister::new(aws.s3.clone(), owner.clone());
                aws.block_on(select::windows(&lister, selection))
            }
            _ => runtime.block_on(select::windows(&LocalLister, selection)),
        }
        .map_err(|e| Stop::Failed(format!("{input}: {e}")))?;
        listing.finish_and_clear();
        let bar = progress_bar(windows.files() as u64, run.quiet);
        for (window, files) in &windows.windows {
            bar.set_message(window.to_string());
            let objects: Vec<ObjectRef> = files
                .iter()
                .map(|f| ObjectRef {
                    size: Some(f.size),
                    ..ObjectRef::new(store.clone(), f.key.clone())
                })
                .collect();
            let report = lake
                .write_window(*window, &objects, &reader, &mut |_, _| bar.inc(1))
                .map_err(|e| Stop::Failed(format!("window {window}: {e}")))?;
            bar.inc(report.already as u64);
            bar.suspend(|| print_window(*window, &report, &store, run.json));
            summary.add(&report);
        }
        bar.finish_and_clear();
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(Built {
        lake,
        _runtime: runtime,
        _lock: lock,
        summary,
        label,
    })
}

/// A window's failed files, and with `--json` its commit.
fn print_window(window: Window, report: &WindowReport, store: &Store, json: bool) {
    for failure in &report.failed {
        let failure = Failure {
            what: ObjectRef::new(store.clone(), failure.key.clone()).to_string(),
            cause: failure.cause,
            class: Some(failure.class.as_str()),
            message: failure.message.clone(),
        };
        failure.print(json);
    }
    if json && report.commit.is_some() {
        crate::report::print_json_line(
            "window",
            &serde_json::json!({
                "window": window.to_string(),
                "commit": report.commit,
                "files": report.files,
                "records": report.records,
                "rows": report.rows,
                "data_files": report.data_files,
                "bytes_written": report.data_bytes,
            }),
        );
    }
}
