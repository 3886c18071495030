//! A newcomer's first hour, command by command, as the README has them typed: the demo, then
//! forward and validate on folders of the demo's trail, bad arguments, and the words printed.
//! Each test runs the real binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{archived_lines, files, forward, run, text};

/// `trailrelay demo --dir DIR -q` (optionally `--start DATE`): its output and the folder.
struct Demo {
    dir: tempfile::TempDir,
    stdout: String,
}

impl Demo {
    fn run(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["demo", "--dir", dir.path().to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        let output = run(&args);
        assert!(output.status.success(), "{}", text(&output));
        Self {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            dir,
        }
    }

    fn path(&self, rest: &str) -> PathBuf {
        self.dir.path().join(rest)
    }

    /// The validate command the demo printed, as words.
    fn printed_validate(&self) -> Vec<String> {
        let line = self
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("trailrelay validate "))
            .unwrap_or_else(|| panic!("no validate command printed:\n{}", self.stdout));
        line.split_whitespace().skip(1).map(str::to_owned).collect()
    }

    fn account_folder(&self) -> PathBuf {
        self.path("bucket/AWSLogs/o-trailrelay01/210987654321")
    }
}

fn words(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `N digests in M chains` of a validate summary.
fn digests_checked(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.split_once(" digests in ").map(|(n, _)| n.parse().ok()))
        .flatten()
        .unwrap_or_else(|| panic!("no digest count in:\n{out}"))
}

/// The command the demo prints is the one it ran, it still passes when run again later, and
/// it passes after `demo --start` too (it once added `--to` silently and found 12 late
/// chains when copied).
#[test]
fn the_demo_prints_the_validate_command_it_ran_and_it_passes_when_copied() {
    for extra in [&[][..], &["--start", "2026-11-01"][..]] {
        let demo = Demo::run(extra);
        let printed = demo.printed_validate();
        assert!(printed.contains(&"--to".to_owned()), "{printed:?}");
        assert!(demo.stdout.contains("\n0 findings\n"), "{}", demo.stdout);
        let again = run(&words(&printed));
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        assert!(
            stdout(&again).contains("\n0 findings\n"),
            "{}",
            text(&again)
        );
    }
}

/// Any folder of the trail validates where it sits: the bucket, `AWSLogs`, the organization's
/// folder, an account's; a folder holding no digest is an error, never "0 findings".
#[test]
fn validate_understands_any_folder_of_the_trail_and_refuses_one_without_digests() {
    let demo = Demo::run(&[]);
    let mut printed = demo.printed_validate();
    let bucket = demo.path("bucket");
    let whole = run(&words(&printed));
    assert!(whole.status.success(), "{}", text(&whole));
    let all = digests_checked(&stdout(&whole));
    assert!(all > 0);
    let mut per_folder = Vec::new();
    for folder in [
        "AWSLogs",
        "AWSLogs/o-trailrelay01",
        "AWSLogs/o-trailrelay01/210987654321",
    ] {
        printed[1] = bucket.join(folder).display().to_string();
        let output = run(&words(&printed));
        assert!(output.status.success(), "{folder}: {}", text(&output));
        per_folder.push(digests_checked(&stdout(&output)));
    }
    assert_eq!(per_folder[0], all);
    assert_eq!(per_folder[1], all);
    // One account of four.
    assert_eq!(per_folder[2] * 4, all);
    // The run's own output folder holds no digest: an error naming it, exit 1.
    printed[1] = demo.path("out").display().to_string();
    let none = run(&words(&printed));
    assert_eq!(none.status.code(), Some(1), "{}", text(&none));
    assert!(
        stderr(&none).contains("no digest files under")
            && stderr(&none).contains("is this the trail bucket or a folder of it?"),
        "{}",
        text(&none)
    );
    assert!(!stdout(&none).contains("\n0 findings\n"), "{}", text(&none));
    assert!(
        stdout(&none).contains("1 input not checked"),
        "{}",
        text(&none)
    );
}

/// An account's folder forwards to the same archive keys, log streams and receipts as the
/// bucket root gives for that account; its digests are skipped, not failed.
#[test]
fn forward_of_a_folder_inside_the_layout_matches_the_bucket_root() {
    let demo = Demo::run(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let (whole, part) = (scratch.path().join("whole"), scratch.path().join("part"));
    let root = forward(&demo.path("bucket"), &whole, &[]);
    assert!(root.status.success(), "{}", text(&root));
    let account = forward(&demo.account_folder(), &part, &[]);
    assert!(account.status.success(), "{}", text(&account));
    let out = stdout(&account);
    assert!(out.contains(" 0 failed"), "{out}");
    assert!(out.contains("skipped   digest "), "{out}");
    let relative = |base: &Path, under: &str| -> Vec<String> {
        files(&base.join(under), "")
            .iter()
            .map(|p| p.strip_prefix(base).unwrap().display().to_string())
            .filter(|p| p.contains("210987654321"))
            .collect()
    };
    for under in ["archive", "receipts", "logs"] {
        let (a, b) = (relative(&whole, under), relative(&part, under));
        assert!(!b.is_empty(), "{under}");
        assert_eq!(a, b, "{under}");
    }
    assert!(
        relative(&part, "archive")
            .iter()
            .all(|k| k.starts_with("archive/org=o-trailrelay01/account=210987654321/region=")),
        "{:?}",
        relative(&part, "archive")
    );
    // The receipts are the ones validate finds: the account's folder validates with them.
    let mut printed = demo.printed_validate();
    printed[1] = demo.account_folder().display().to_string();
    let receipts = printed.iter().position(|w| w == "--receipts").unwrap() + 1;
    printed[receipts] = part.join("receipts").display().to_string();
    let checked = run(&words(&printed));
    assert!(checked.status.success(), "{}", text(&checked));
}

/// A flat folder of CloudTrail-named files takes account, region and date from the names,
/// and says so.
#[test]
fn a_flat_folder_takes_account_region_and_date_from_the_file_names() {
    let demo = Demo::run(&[]);
    let flat = tempfile::tempdir().unwrap();
    let logs: Vec<PathBuf> = files(&demo.account_folder().join("CloudTrail"), ".json.gz");
    for file in &logs {
        std::fs::copy(file, flat.path().join(file.file_name().unwrap())).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let output = forward(flat.path(), out.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        stdout(&output).contains(&format!(
            "layout    {} files outside the trail layout: account, region and date taken from their names",
            logs.len()
        )),
        "{}",
        text(&output)
    );
    let lines = archived_lines(&out.path().join("archive"));
    assert!(!lines.is_empty());
    for (path, line) in lines {
        let key = path.to_string_lossy();
        let record = &line["record"];
        assert!(
            key.contains("/account=210987654321/")
                && key.contains(&format!(
                    "/region={}/",
                    record["awsRegion"].as_str().unwrap()
                )),
            "{key}"
        );
    }
    let streams = files(&out.path().join("logs"), ".ndjson");
    assert!(!streams.is_empty());
    assert!(
        streams.iter().all(|s| s
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("210987654321_CloudTrail_")),
        "{streams:?}"
    );
}

/// Bad arguments are exit 2 with one line naming the argument: a file that is no key, a
/// receipts folder that does not exist, a local copy without keys.
#[test]
fn bad_validate_arguments_are_named_once_with_exit_2() {
    let demo = Demo::run(&[]);
    let printed = demo.printed_validate();
    let not_a_key = demo.path("NOT-A-KEY");
    std::fs::write(&not_a_key, "NOT-A-KEY\n").unwrap();
    let with = |flag: &str, value: &str| -> Vec<String> {
        let mut args = printed.clone();
        let at = args.iter().position(|w| w == flag).unwrap() + 1;
        args[at] = value.to_owned();
        args
    };
    let cases = [
        (
            with("--public-keys", not_a_key.to_str().unwrap()),
            "--public-keys",
        ),
        (with("--receipts", "/nonexistent/typo"), "--receipts"),
        (
            printed
                .iter()
                .enumerate()
                .filter(|(i, w)| {
                    *w != "--public-keys"
                        && printed.get(i.wrapping_sub(1)).map(String::as_str)
                            != Some("--public-keys")
                })
                .map(|(_, w)| w.clone())
                .collect(),
            "--public-keys",
        ),
    ];
    for (args, named) in cases {
        let output = run(&words(&args));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{}", text(&output));
        assert!(err.starts_with("error: ") && err.contains(named), "{err}");
        assert!(stdout(&output).is_empty(), "{}", text(&output));
    }
}

/// `test-metric-filter` prints the warnings `forward --rules` prints for the same pattern.
#[test]
fn test_metric_filter_warns_as_forward_does() {
    let output = run(&[
        "test-metric-filter",
        "--filter-pattern",
        "request-id-1",
        "--log-event-messages",
        "a request-id-1 b",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        stderr(&output).contains("warning: the unquoted term \"request-id-1\""),
        "{}",
        text(&output)
    );
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response["matches"][0]["eventNumber"], 0);
    // The same words forward prints for the same pattern in a rules file.
    let scratch = tempfile::tempdir().unwrap();
    let rules = scratch.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"MetricFilters":[{"FilterName":"ids","FilterPattern":"request-id-1","MetricTransformations":[{"MetricName":"Ids","MetricNamespace":"T","MetricValue":"1"}]}]}"#,
    )
    .unwrap();
    let input = scratch.path().join("none.json");
    std::fs::write(&input, r#"{"Records":[]}"#).unwrap();
    let forwarded = forward(
        &input,
        &scratch.path().join("out"),
        &["--rules", rules.to_str().unwrap()],
    );
    let said = |o: &Output| -> Vec<String> {
        stderr(o)
            .lines()
            .filter_map(|l| l.split_once("the unquoted term").map(|(_, w)| w.to_owned()))
            .collect()
    };
    assert_eq!(said(&forwarded), said(&output), "{}", text(&forwarded));
    assert_eq!(said(&output).len(), 1);
    // A request file named without file:// is read as inline JSON: the error says how.
    let dir = tempfile::tempdir().unwrap();
    let request = dir.path().join("req.json");
    std::fs::write(
        &request,
        r#"{"filterPattern":"x","logEventMessages":["x"]}"#,
    )
    .unwrap();
    let plain = run(&[
        "test-metric-filter",
        "--cli-input-json",
        request.to_str().unwrap(),
    ]);
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain));
    assert!(
        stderr(&plain).contains(&format!("--cli-input-json file://{}", request.display())),
        "{}",
        text(&plain)
    );
}

/// Old samples look fresh with `--now`; the summary says which clock judged them.
#[test]
fn now_judges_old_samples_as_if_fresh() {
    let demo = Demo::run(&["--start", "2026-11-01"]);
    let scratch = tempfile::tempdir().unwrap();
    let logged = |out: &Path| match out.join("logs").is_dir() {
        true => files(&out.join("logs"), ".ndjson").len(),
        false => 0,
    };
    let (system, fixed) = (scratch.path().join("system"), scratch.path().join("fixed"));
    let plain = forward(&demo.path("bucket"), &system, &[]);
    assert!(plain.status.success(), "{}", text(&plain));
    assert!(
        stdout(&plain).contains("clock     the system clock"),
        "{}",
        text(&plain)
    );
    assert_eq!(
        logged(&system),
        0,
        "a month old: CloudWatch Logs takes none"
    );
    let now = forward(
        &demo.path("bucket"),
        &fixed,
        &["--now", "2026-11-02T12:00:00Z"],
    );
    assert!(now.status.success(), "{}", text(&now));
    assert!(
        stdout(&now).contains("clock     2026-11-02T12:00:00Z (--now)"),
        "{}",
        text(&now)
    );
    assert!(logged(&fixed) > 0);
}

/// Records without a readable `eventTime` are counted in the summary; counts read as English;
/// a JSON value that is not an object is quarantined as such.
#[test]
fn the_summary_counts_untimed_records_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.json");
    std::fs::write(
        &file,
        r#"{"Records":[{"eventName":"A","eventID":"1"},{"eventName":"B","eventID":"2","eventTime":"2026-11-01T00:00:00Z"},42]}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = forward(&file, &out, &[]);
    let said = stdout(&output);
    assert!(said.starts_with("1 object: 1 forwarded"), "{said}");
    assert!(said.contains("2 events in 1 object"), "{said}");
    assert!(
        said.contains("time      1 record without a readable eventTime"),
        "{said}"
    );
    assert!(
        said.contains("quarantine 1 record (not JSON objects)"),
        "{said}"
    );
    let quarantined = files(&out.join("archive"), ".ndjson.gz")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("_quarantine"))
        .unwrap();
    let line: Value = serde_json::from_str(&crate::support::gunzip(&quarantined)).unwrap();
    assert_eq!(
        line["error"],
        "record 2 is JSON, but a number, not an object"
    );
}

/// The words of the help: every command described, receipts named, one default each, and a
/// mistyped option pointing at the right one.
#[test]
fn the_help_describes_every_command_once() {
    let top = stdout(&run(&["--help"]));
    for command in [
        "forward",
        "demo",
        "test-metric-filter",
        "replay",
        "redrive",
        "validate",
    ] {
        let described = top
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(command))
            .count();
        assert_eq!(described, 1, "{command}: {top}");
    }
    assert!(
        !top.contains("the forwarding pipeline on local folders"),
        "{top}"
    );
    assert!(stdout(&run(&["forward", "--help"])).contains("receipts"));
    let replay = stdout(&run(&["replay", "--help"]));
    assert_eq!(replay.matches("[default: 0.5").count(), 1, "{replay}");
    let typo = run(&["forward", "x", "--output", "y"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("'--out'"), "{}", text(&typo));
}

/// The demo's trail holds network activity events under `CloudTrail-NetworkActivity/`, and
/// says why one log file is not listed by the digests and why two filters count sign-ins
/// differently.
#[test]
fn the_demo_explains_its_numbers() {
    let demo = Demo::run(&[]);
    let network = files(&demo.path("bucket"), ".json.gz")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/CloudTrail-NetworkActivity/"))
        .count();
    assert!(network > 0);
    let generated: u64 = demo
        .stdout
        .split_once("): ")
        .and_then(|(_, rest)| rest.split_once(" log files"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap();
    let listed: u64 = demo
        .stdout
        .lines()
        .find_map(|l| {
            l.split_once(" log files listed:")
                .map(|(n, _)| n.parse().ok())
        })
        .flatten()
        .unwrap();
    assert_eq!(generated, listed + 1, "{}", demo.stdout);
    assert!(
        demo.stdout
            .contains("the digests list every log file but the Insights file"),
        "{}",
        demo.stdout
    );
    assert!(
        demo.stdout
            .contains("CIS 4.2's filter also matches the failed ones"),
        "{}",
        demo.stdout
    );
}
