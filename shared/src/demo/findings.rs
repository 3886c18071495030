//! What the demo points out in an archive the pipeline wrote.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde_json::{Value, json};

/// What the demo points out in an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Archive objects read.
    pub objects: usize,
    /// Archived events.
    pub events: u64,
    /// Events per account.
    pub per_account: BTreeMap<String, u64>,
    /// Events per category.
    pub per_category: BTreeMap<String, u64>,
    /// Events per way of calling.
    pub per_via: BTreeMap<String, u64>,
    /// Events per error code.
    pub errors: BTreeMap<String, u64>,
    /// Console sign-ins that succeeded without MFA, as `account user`.
    pub console_logins_without_mfa: BTreeMap<String, u64>,
    /// Failed console sign-ins.
    pub failed_console_logins: u64,
    /// Calls made by a root user, by action.
    pub root_activity: BTreeMap<String, u64>,
    /// Most frequent actions.
    pub top_actions: Vec<(String, u64)>,
}

impl Findings {
    /// Reads every `*.ndjson.gz` archive object under `root` and tallies it.
    pub fn from_archive(root: &Path) -> io::Result<Self> {
        let mut f = Findings::default();
        let mut actions: BTreeMap<String, u64> = BTreeMap::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.map_err(io::Error::other)?;
            if !entry.file_name().to_string_lossy().ends_with(".ndjson.gz") {
                continue;
            }
            f.objects += 1;
            let mut text = String::new();
            MultiGzDecoder::new(fs::File::open(entry.path())?).read_to_string(&mut text)?;
            for line in text.lines() {
                let v: Value = serde_json::from_str(line)?;
                f.tally(&v, &mut actions);
            }
        }
        let mut top: Vec<(String, u64)> = actions.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(5);
        f.top_actions = top;
        Ok(f)
    }

    fn tally(&mut self, v: &Value, actions: &mut BTreeMap<String, u64>) {
        let text = |k: &str| v[k].as_str().unwrap_or("(none)").to_owned();
        self.events += 1;
        *self.per_account.entry(text("account_id")).or_default() += 1;
        *self.per_category.entry(text("category")).or_default() += 1;
        *self.per_via.entry(text("via")).or_default() += 1;
        *actions
            .entry(format!(
                "{} {}",
                text("service").trim_end_matches(".amazonaws.com"),
                text("action")
            ))
            .or_default() += 1;
        if let Some(code) = v["error_code"].as_str() {
            *self.errors.entry(code.to_owned()).or_default() += 1;
        }
        let record = &v["record"];
        if v["action"] == "ConsoleLogin" {
            if record["responseElements"]["ConsoleLogin"] == "Failure" {
                self.failed_console_logins += 1;
            } else if v["principal"]["mfa"] == json!(false) {
                let who = format!(
                    "{}/{}",
                    text("account_id"),
                    v["principal"]["name"].as_str().unwrap_or("(none)")
                );
                *self.console_logins_without_mfa.entry(who).or_default() += 1;
            }
        }
        if v["principal"]["type"] == "Root" {
            *self.root_activity.entry(text("action")).or_default() += 1;
        }
    }

    /// A human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "  {} events in {} archive objects",
            self.events, self.objects
        );
        let _ = writeln!(out, "  by account:   {}", list(&self.per_account));
        let _ = writeln!(out, "  by category:  {}", list(&self.per_category));
        let _ = writeln!(out, "  by caller:    {}", list(&self.per_via));
        let top = self
            .top_actions
            .iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect::<Vec<_>>();
        let _ = writeln!(out, "  top actions:  {}", top.join(", "));
        let _ = writeln!(out, "  errors:       {}", list(&self.errors));
        let mut no_mfa: Vec<(&String, &u64)> = self.console_logins_without_mfa.iter().collect();
        no_mfa.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let worst: Vec<String> = no_mfa
            .iter()
            .take(3)
            .map(|(who, n)| format!("{who} {n}"))
            .collect();
        let without_mfa = self.console_logins_without_mfa.values().sum::<u64>();
        let _ = writeln!(
            out,
            "  console sign-ins without MFA: {} by {} users (most: {}); failed sign-ins: {}",
            without_mfa,
            no_mfa.len(),
            worst.join(", "),
            self.failed_console_logins
        );
        let _ = writeln!(
            out,
            "    (successful sign-ins only, as Security Hub's CloudWatch.3 filter counts them; CIS 4.2's filter also matches the failed ones: {without_mfa} + {} = {})",
            self.failed_console_logins,
            without_mfa + self.failed_console_logins
        );
        let _ = writeln!(out, "  root user activity: {}", list(&self.root_activity));
        out
    }
}
