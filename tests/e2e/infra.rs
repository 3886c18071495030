//! The deployment template against the code it deploys: the environment it sets is exactly what
//! the configuration reads and is accepted by it, every function names a binary of the
//! workspace, and the derived values (visibility timeout, rate limits) keep their arithmetic.
//!
//! YAML tags (`!Ref`, `!If`, ...) are dropped by the parser, leaving their arguments: `!Ref X`
//! reads as `"X"` and `!FindInMap [M, K, V]` as `["M", "K", "V"]`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use trailrelay::config::{Config, VARIABLES, Variable};
use trailrelay::replay::config::{ReplayConfig, VARIABLES as REPLAY_VARIABLES};

use crate::support::workspace;

pub(crate) fn template() -> Value {
    let path = workspace().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// Every `AWS::Serverless::Function` (and plain Lambda function), by logical id.
pub(crate) fn functions(t: &Value) -> Vec<(&str, &Value)> {
    let resources = t["Resources"].as_object().unwrap();
    let found: Vec<_> = resources
        .iter()
        .filter(|(_, r)| {
            matches!(
                r["Type"].as_str(),
                Some("AWS::Serverless::Function" | "AWS::Lambda::Function")
            )
        })
        .map(|(id, r)| (id.as_str(), r))
        .collect();
    assert!(!found.is_empty(), "the template has no function");
    found
}

pub(crate) fn number(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

pub(crate) fn allowed_values(t: &Value, parameter: &str) -> BTreeSet<u64> {
    t["Parameters"][parameter]["AllowedValues"]
        .as_array()
        .unwrap_or_else(|| panic!("{parameter} has no AllowedValues"))
        .iter()
        .map(number)
        .collect()
}

/// The variables the function `id` reads.
fn variables_of(id: &str) -> &'static [Variable] {
    match id {
        "Forwarder" => VARIABLES,
        "Replay" => REPLAY_VARIABLES,
        "DigestValidator" => trailrelay::integrity::config::VARIABLES,
        other => panic!("{other}: a function this test does not know"),
    }
}

#[test]
fn the_template_sets_exactly_the_variables_the_configuration_reads() {
    let t = template();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"].as_object();
    for (id, function) in functions(&t) {
        // Lambda sets its own variables (AWS_LAMBDA_*); a template may not.
        let listed: BTreeSet<&str> = variables_of(id)
            .iter()
            .map(|v| v.name)
            .filter(|n| !n.starts_with("AWS_LAMBDA_"))
            .collect();
        let mut set: BTreeSet<&str> = globals
            .into_iter()
            .flat_map(|g| g.keys().map(String::as_str))
            .collect();
        if let Some(own) = function["Properties"]["Environment"]["Variables"].as_object() {
            set.extend(own.keys().map(String::as_str));
        }
        assert_eq!(
            set, listed,
            "{id}: environment differs from config::VARIABLES"
        );
    }
}

/// The value the function would see for a variable, for the parameters' defaults: a parameter
/// reference resolves to its default, a mapping lookup to the mapping's value; what depends on
/// the deployment (buckets, conditions) gets a plausible stand-in.
fn resolve(t: &Value, name: &str, value: &Value) -> String {
    let parameter_default = |p: &str| {
        t["Parameters"][p]["Default"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                t["Parameters"][p]["Default"]
                    .as_u64()
                    .map(|n| n.to_string())
            })
    };
    let stand_in = || match name {
        "ALLOWED_BUCKETS" | "TRAIL_BUCKET" => "org-trail".to_owned(),
        "ARCHIVE_BUCKET" => "trail-archive".to_owned(),
        "LOG_GROUP" => "/trailrelay/cloudtrail".to_owned(),
        "EXPECTED_BUCKET_OWNER" | "ARCHIVE_BUCKET_OWNER" => "111122223333".to_owned(),
        "DEAD_LETTER_QUEUE_URL" | "FORWARDER_QUEUE_URL" | "REPLAY_QUEUE_URL" => {
            "https://sqs.us-east-1.amazonaws.com/111122223333/trailrelay-queue".to_owned()
        }
        _ => String::new(),
    };
    match value {
        Value::String(s) if t["Parameters"].get(s).is_some() => parameter_default(s)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(stand_in),
        Value::String(s) if t["Resources"].get(s).is_some() || s.starts_with("AWS::") => stand_in(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) if a.len() == 3 && t["Mappings"].get(a[0].as_str().unwrap()).is_some() => {
            let key = parameter_default(a[1].as_str().unwrap()).unwrap();
            let v = &t["Mappings"][a[0].as_str().unwrap()][key.as_str()][a[2].as_str().unwrap()];
            number(v).to_string()
        }
        _ => stand_in(),
    }
}

#[test]
fn the_configuration_accepts_what_the_template_sets() {
    let t = template();
    for (id, function) in functions(&t) {
        let vars = function["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap();
        let lookup = |name: &str| vars.get(name).map(|v| resolve(&t, name, v));
        if id == "DigestValidator" {
            let config = trailrelay::integrity::config::ValidatorConfig::from_lookup(lookup)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(config.trail_bucket, "org-trail", "{id}");
            assert_eq!(config.archive_prefix, "cloudtrail", "{id}");
            assert_eq!(
                (config.forward_grace_s, config.late_after_s),
                (3600, 7200),
                "{id}"
            );
            assert_eq!(config.public_keys, None, "{id}: keys come from CloudTrail");
            continue;
        }
        if id == "Replay" {
            let config = ReplayConfig::from_lookup(lookup).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(config.allowed_buckets, ["org-trail"], "{id}");
            assert_eq!(config.messages_per_second.get(), 100, "{id}");
            // The grace leaves the function most of its 900 s.
            let timeout_ms = number(&function["Properties"]["Timeout"]) * 1000;
            assert!(config.deadline_grace_ms * 4 <= timeout_ms, "{id}");
            continue;
        }
        // Lambda sets the memory size from the function's MemorySize.
        let memory = resolve(&t, "", &function["Properties"]["MemorySize"]);
        let config = Config::from_lookup(|name| match name {
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => Some(memory.clone()),
            _ => lookup(name),
        })
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        // The defaults deploy the CIS pack and 10 instances' share of the PutLogEvents budget.
        assert_eq!(config.settings.rules.filters().len(), 29, "{id}");
        assert_eq!(config.logs_puts_per_second.get(), 250, "{id}");
        // The derived grace, whole even at the shortest timeout the template allows: work
        // keeps a quarter of 60 s.
        assert_eq!(
            u128::from(config.deadline_grace_ms),
            trailrelay::ports::DEADLINE_GRACE.as_millis(),
            "{id}"
        );
        let shortest = *allowed_values(&t, "Timeout").first().unwrap();
        assert!(config.deadline_grace_ms * 4 <= shortest * 1000 * 3, "{id}");
    }
}

#[test]
fn every_function_builds_a_binary_of_the_workspace() {
    let t = template();
    let infra = workspace().join("infra");
    for (id, function) in functions(&t) {
        assert_eq!(function["Properties"]["Runtime"], "provided.al2023", "{id}");
        assert_eq!(function["Properties"]["Handler"], "bootstrap", "{id}");
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        let code = infra.join(function["Properties"]["CodeUri"].as_str().unwrap());
        let manifest = std::fs::read_to_string(code.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("[workspace]"),
            "{id}: CodeUri is not the workspace root"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        assert!(
            package_exists(&code.join("functions"), binary),
            "{id}: no package functions/*/ named {binary}"
        );
    }
}

fn package_exists(functions: &Path, name: &str) -> bool {
    std::fs::read_dir(functions).unwrap().any(|entry| {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        std::fs::read_to_string(manifest)
            .is_ok_and(|m| m.lines().any(|l| l.trim() == format!("name = \"{name}\"")))
    })
}

#[test]
fn the_visibility_timeout_is_six_function_timeouts_plus_the_batching_window() {
    let t = template();
    let longest_window = number(&t["Parameters"]["MaximumBatchingWindowInSeconds"]["MaxValue"]);
    let map = t["Mappings"]["VisibilityTimeout"].as_object().unwrap();
    let timeouts = allowed_values(&t, "Timeout");
    let keys: BTreeSet<u64> = map.keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(keys, timeouts, "one entry per allowed timeout");
    for timeout in timeouts {
        let visibility = number(&map[&timeout.to_string()]["Seconds"]);
        assert!(
            visibility >= 6 * timeout + longest_window,
            "timeout {timeout}"
        );
        // SQS's largest visibility timeout: 12 hours.
        assert!(visibility <= 43_200, "timeout {timeout}");
    }
}

#[test]
fn all_instances_together_stay_within_the_put_log_events_budget() {
    // Half of the default 5,000 PutLogEvents per second per account and region; 200,000 events
    // per second per source account across the organisation.
    const PUTS_BUDGET: u64 = 2_500;
    const ACCOUNT_EVENTS_BUDGET: u64 = 200_000;
    let t = template();
    let map = t["Mappings"]["RateLimits"].as_object().unwrap();
    let concurrency = allowed_values(&t, "MaximumConcurrency");
    let keys: BTreeSet<u64> = map.keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(
        keys, concurrency,
        "one entry per allowed MaximumConcurrency"
    );
    for n in concurrency {
        let entry = &map[&n.to_string()];
        let puts = number(&entry["LogsPutsPerSecond"]);
        let events = number(&entry["AccountEventsPerSecond"]);
        assert!(
            puts >= 1 && n * puts <= PUTS_BUDGET,
            "{n} instances × {puts}"
        );
        // The largest whole share: one more call per instance would break the budget.
        assert!(
            n * (puts + 1) > PUTS_BUDGET,
            "{n} instances × {puts} wastes budget"
        );
        assert!(
            events >= 1 && n * events <= ACCOUNT_EVENTS_BUDGET,
            "{n} instances × {events}"
        );
    }
    // ScalingConfig.MaximumConcurrency accepts 2 to 1,000.
    let low = t["Parameters"]["MaximumConcurrency"]["AllowedValues"][0].clone();
    assert!(number(&low) >= 2);
}

#[test]
fn every_rules_file_the_layer_ships_is_valid() {
    let t = template();
    let layer = &t["Resources"]["RulesLayer"];
    assert_eq!(layer["Type"], "AWS::Serverless::LayerVersion");
    let folder = workspace()
        .join("infra")
        .join(layer["Properties"]["ContentUri"].as_str().unwrap());
    // Only the forwarder reads rules.
    let (id, forwarder) = functions(&t)
        .into_iter()
        .find(|(id, _)| *id == "Forwarder")
        .unwrap();
    let layers = forwarder["Properties"]["Layers"].as_array().unwrap();
    assert!(layers.contains(&Value::from("RulesLayer")), "{id}");
    let mut checked = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "json" | "yaml" | "yml") {
            continue;
        }
        // What the function reads as RULES=/opt/NAME.
        let rules = path.to_str().unwrap().to_owned();
        Config::from_lookup(|name| match name {
            "ALLOWED_BUCKETS" => Some("org-trail".into()),
            "ARCHIVE_BUCKET" => Some("trail-archive".into()),
            "RULES" => Some(rules.clone()),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert!(checked > 0, "no rules file in {}", folder.display());
}
