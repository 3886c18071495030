//! The deployment template against the code it deploys: the environment it sets is exactly what
//! the configuration reads and is accepted by it, every function names a binary of the
//! workspace, and the derived values (visibility timeout, rate limits) keep their arithmetic.
//!
//! YAML tags (`!Ref`, `!If`, ...) are dropped by the parser, leaving their arguments: `!Ref X`
//! reads as `"X"` and `!FindInMap [M, K, V]` as `["M", "K", "V"]`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use trailrelay::config::{Config, VARIABLES, Variable};
use trailrelay::replay::config::{ReplayConfig, VARIABLES as REPLAY_VARIABLES};

use crate::support::workspace;

fn template() -> Value {
    let path = workspace().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// Every `AWS::Serverless::Function` (and plain Lambda function), by logical id.
fn functions(t: &Value) -> Vec<(&str, &Value)> {
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

fn number(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

fn allowed_values(t: &Value, parameter: &str) -> BTreeSet<u64> {
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

/// Statements of every IAM role in the template; a statement under `!If` reads as
/// `[condition, statement, "AWS::NoValue"]`.
fn role_statements(t: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for resource in t["Resources"].as_object().unwrap().values() {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in resource["Properties"]["Policies"].as_array().unwrap() {
            for s in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                match s {
                    Value::Array(branches) => out.extend(branches.iter().filter(|b| b.is_object())),
                    other => out.push(other),
                }
            }
        }
    }
    out
}

#[test]
fn the_role_grants_named_actions_on_named_resources_only() {
    let t = template();
    let statements = role_statements(&t);
    let mut actions = BTreeSet::new();
    for s in &statements {
        if s["Effect"] == "Deny" {
            // The one denial: the forwarder never writes the validator's checkpoint.
            assert_eq!(s["Sid"], "NeverWriteTheValidatorsCheckpoint", "{s}");
            continue;
        }
        assert_eq!(s["Effect"], "Allow", "{s}");
        let listed = match &s["Action"] {
            Value::Array(a) => a.iter().map(|a| a.as_str().unwrap()).collect(),
            Value::String(a) => vec![a.as_str()],
            other => panic!("{other}"),
        };
        for action in listed {
            assert!(!action.contains('*'), "wildcard action {action}");
            actions.insert(action);
        }
        assert!(
            s["Resource"].is_string() || s["Resource"].is_array(),
            "{s}: no resource"
        );
        // ListPublicKeys alone has no resource-level permissions
        // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudtrail.html).
        if s["Action"] != "cloudtrail:ListPublicKeys" {
            assert_ne!(s["Resource"], "*", "{s}: every resource is named");
        }
    }
    // Reading notifications, trail files and their key; continuing on the queue, dead letters
    // to the DLQ; writing the archive with its key, the log group and the routed groups;
    // listing the trail's prefix to replay it: nothing else (README, "Deploying with AWS SAM").
    let expected: BTreeSet<&str> = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
        "sqs:GetQueueUrl",
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "cloudtrail:ListPublicKeys",
    ]
    .into_iter()
    .collect();
    assert_eq!(actions, expected);
}

#[test]
fn routed_log_groups_are_granted_exactly_where_the_configuration_lets_routes_write() {
    let t = template();
    let (_, forwarder) = functions(&t)
        .into_iter()
        .find(|(id, _)| *id == "Forwarder")
        .unwrap();
    let env = &forwarder["Properties"]["Environment"]["Variables"];
    assert_eq!(env["ROUTE_LOG_GROUP_PREFIX"], "RouteLogGroupPrefix");
    let statements = role_statements(&t);
    let routed = statements
        .iter()
        .find(|s| s["Sid"] == "WriteRoutedEvents")
        .unwrap();
    let resource = routed["Resource"].as_str().unwrap();
    let granted = resource
        .strip_suffix("${RouteLogGroupPrefix}*")
        .unwrap_or_else(|| panic!("{resource}"));
    assert!(granted.ends_with(":log-group:"), "{resource}");
    // With a prefix deployed, a route inside it is accepted and its groups are granted; one
    // outside it is refused at start.
    let prefix = "/trailrelay/routes/";
    let config = |group: &str| {
        let rules =
            format!(r#"{{"Routes":[{{"Name":"r","FilterPattern":"x","LogGroup":"{group}"}}]}}"#);
        Config::from_lookup(|name| match name {
            "ALLOWED_BUCKETS" => Some("org-trail".into()),
            "ARCHIVE_BUCKET" => Some("trail-archive".into()),
            "ROUTE_LOG_GROUP_PREFIX" => Some(prefix.into()),
            "RULES" => Some(rules.clone()),
            _ => None,
        })
    };
    let inside = config("/trailrelay/routes/{account_id}").unwrap();
    let group = inside.settings.rules.routes()[0]
        .log_group()
        .unwrap()
        .render(&trailrelay::template::Fields {
            org_id: None,
            account_id: Some("111122223333"),
            region: None,
            category: None,
        });
    let arn = format!("{granted}{group}");
    assert!(
        arn.starts_with(&resource.replace("${RouteLogGroupPrefix}*", prefix)),
        "{arn}"
    );
    assert!(config("/other/{account_id}").is_err());
    // The parameter refuses what the configuration refuses: `/`, /aws/, no named folder.
    let pattern = t["Parameters"]["RouteLogGroupPrefix"]["AllowedPattern"]
        .as_str()
        .unwrap();
    let pattern = regex::Regex::new(pattern).unwrap();
    for candidate in [
        "/",
        "/aws",
        "/aws/",
        "/AWS/x/",
        "/t",
        "x",
        "trailrelay/",
        "/trailrelay/",
        "/trailrelay/routes/",
        "/aws-logs/",
        "/awz/",
        "/aw/",
        "/a/",
        "//",
    ] {
        assert_eq!(
            pattern.is_match(candidate),
            trailrelay::config::check_route_prefix(candidate).is_ok(),
            "{candidate:?}"
        );
    }
    assert!(pattern.is_match(""), "empty: routes may not name a group");
    // A group the function creates gets the stack's retention and key, as the destination's.
    assert!(
        routed["Action"]
            .to_string()
            .contains("logs:PutRetentionPolicy")
    );
    assert!(
        env["LOG_GROUP_KMS_KEY_ID"]
            .to_string()
            .contains("LogGroupKmsKeyArn")
    );
    assert_eq!(env["LOG_GROUP_RETENTION_DAYS"], "LogRetentionInDays");
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

#[test]
fn the_replay_role_lists_only_the_trail_prefix_and_sends_only_to_its_two_queues() {
    let t = template();
    let statements =
        t["Resources"]["ReplayRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).unwrap();
    let list = by_sid("ListTrailFiles");
    assert_eq!(list["Action"], "s3:ListBucket");
    assert_lists_the_trail_prefix_only(list);
    let send = by_sid("EnqueueWork");
    assert_eq!(send["Action"], "sqs:SendMessage");
    assert_eq!(
        send["Resource"],
        serde_json::json!(["ReplayQueue.Arn", "Queue.Arn"])
    );
    // The replay function reads its requests from its own queue, one at a time.
    let events = &t["Resources"]["Replay"]["Properties"]["Events"]["Requests"]["Properties"];
    assert_eq!(events["Queue"], "ReplayQueue.Arn");
    assert_eq!(number(&events["BatchSize"]), 1);
    let visibility = number(&t["Resources"]["ReplayQueue"]["Properties"]["VisibilityTimeout"]);
    let timeout = number(&t["Resources"]["Replay"]["Properties"]["Timeout"]);
    assert!(visibility >= 6 * timeout);
}

/// A ListBucket statement: the trail bucket, under `[PREFIX/]AWSLogs/` exactly (the walk's first,
/// delimited listing) and `[PREFIX/]AWSLogs/[o-ORG/]*`, nothing else.
fn assert_lists_the_trail_prefix_only(list: &Value) {
    assert_eq!(list["Action"], "s3:ListBucket");
    let prefixes = list["Condition"]["StringLike"]["s3:prefix"]
        .as_array()
        .unwrap();
    let patterns: Vec<String> = prefixes
        .iter()
        .map(|p| p[0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(patterns, ["${Prefix}AWSLogs/", "${Prefix}AWSLogs/${Org}*"]);
}

#[test]
fn the_digest_validator_reads_the_trail_and_writes_only_its_checkpoint() {
    let t = template();
    let role = |id: &str| {
        t["Resources"][id]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s.is_object())
            .collect::<Vec<_>>()
    };
    let statements = role("DigestValidatorRole");
    let by_sid = |sid: &str| *statements.iter().find(|s| s["Sid"] == sid).unwrap();
    assert_lists_the_trail_prefix_only(by_sid("ListTrailFiles"));
    let write = by_sid("WriteCheckpoint");
    assert!(
        write["Resource"]
            .to_string()
            .contains("/${ArchivePrefix}/_validator/*"),
        "{write}"
    );
    let read = by_sid("ReadReceiptsAndCheckpoint");
    assert!(
        read["Resource"]
            .to_string()
            .contains("/${ArchivePrefix}/_*"),
        "{read}"
    );
    // A missing receipt or checkpoint reads as 404 only with ListBucket on the archive bucket.
    let list = by_sid("ListArchive");
    assert_eq!(list["Action"], "s3:ListBucket");
    assert!(
        list["Resource"].to_string().contains(":s3:::${Bucket}\""),
        "{list}"
    );
    assert_eq!(by_sid("EnqueueUnforwardedFiles")["Resource"], "Queue.Arn");
    // The one action without resource-level permissions belongs to this role alone.
    for id in ["ForwarderRole", "ReplayRole"] {
        assert!(
            !role(id)
                .iter()
                .any(|s| s.to_string().contains("cloudtrail:")),
            "{id}"
        );
    }
    // One run at a time (each reads and writes the checkpoint), on a schedule.
    let function = &t["Resources"]["DigestValidator"]["Properties"];
    assert_eq!(number(&function["ReservedConcurrentExecutions"]), 1);
    assert_eq!(function["Events"]["Hourly"]["Type"], "Schedule");
    assert_eq!(
        t["Parameters"]["DigestValidationSchedule"]["Default"],
        "rate(1 hour)"
    );
    let alarm = &t["Resources"]["DigestFindingsAlarm"]["Properties"];
    assert_eq!(
        (alarm["Namespace"].as_str(), alarm["MetricName"].as_str()),
        (Some("trailrelay"), Some("DigestFindingsTotal"))
    );
}

/// What an attacker with write access to the trail bucket or the queue meets in the stack: the
/// function that parses their input cannot rewrite the validator's checkpoint, only the
/// organization's keys are announced, the validator cannot go silent unnoticed, and it writes
/// its checkpoint to the archive as the forwarder writes archive objects.
#[test]
fn the_stack_keeps_the_proof_out_of_the_forwarders_reach() {
    let t = template();
    let forwarder = t["Resources"]["ForwarderRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"]
        .as_array()
        .unwrap();
    let deny = forwarder
        .iter()
        .find(|s| s["Effect"] == "Deny")
        .expect("a Deny statement");
    assert!(
        deny["Resource"]
            .to_string()
            .contains("/${ArchivePrefix}/_validator/*"),
        "{deny}"
    );
    assert_eq!(
        deny["Action"],
        serde_json::json!(["s3:PutObject", "s3:AbortMultipartUpload"])
    );
    // Only the organization's folder is announced, however the notifications come.
    let rule = &t["Resources"]["ObjectCreatedRule"]["Properties"]["EventPattern"]["detail"]["object"]
        ["key"][0]["prefix"];
    assert!(rule.to_string().contains("AWSLogs/${Org}"), "{rule}");
    let output = &t["Outputs"]["BucketNotificationConfiguration"]["Value"];
    let configuration = output[0].as_str().unwrap();
    assert!(
        configuration.contains(r#""Value":"${Prefix}AWSLogs/${Org}""#),
        "{configuration}"
    );
    assert!(
        output[1]["Org"].to_string().contains("HasOrganizationId"),
        "{output}"
    );
    // No run is an alarm: missing data breaches.
    let silent = &t["Resources"]["DigestValidatorSilentAlarm"]["Properties"];
    assert_eq!(
        (
            silent["MetricName"].as_str(),
            silent["TreatMissingData"].as_str(),
            silent["ComparisonOperator"].as_str(),
        ),
        (
            Some("Invocations"),
            Some("breaching"),
            Some("LessThanThreshold")
        )
    );
    assert_eq!(number(&silent["Threshold"]), 1);
    for alarm in ["DigestValidatorErrorsAlarm", "DigestFindingsAlarm"] {
        let text = t["Resources"][alarm]["Properties"]["AlarmDescription"]
            .as_str()
            .unwrap();
        assert!(
            text.contains("If every run fails") || text.contains("restore"),
            "{alarm}: says what to do: {text}"
        );
    }
    // The checkpoint is written as archive objects are: the owner expected, the archive's key.
    let env = |id: &str| t["Resources"][id]["Properties"]["Environment"]["Variables"].clone();
    let (forwarder, validator) = (env("Forwarder"), env("DigestValidator"));
    for name in [
        "ARCHIVE_BUCKET_OWNER",
        "ARCHIVE_KMS_KEY_ID",
        "ARCHIVE_BUCKET",
        "ARCHIVE_PREFIX",
    ] {
        assert_eq!(validator[name], forwarder[name], "{name}");
        assert!(!validator[name].is_null(), "{name}");
    }
}

/// Only the stack continues work: the notification queue denies SendMessage to every principal
/// but the notification services it allows and the roles that send there; the forwarder and
/// the replay function take continuations from those roles only; the replay function may
/// redrive the forwarder's dead letters.
#[test]
fn only_the_stacks_roles_and_the_notification_services_send_to_the_queue() {
    let t = template();
    let resources = t["Resources"].as_object().unwrap();
    let policy = t["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    let deny = policy
        .iter()
        .find(|s| s["Sid"] == "OnlyNotificationsAndTheStack")
        .expect("the denial");
    assert_eq!(
        (
            &deny["Effect"],
            &deny["Principal"],
            &deny["Action"],
            &deny["Resource"]
        ),
        (
            &json!("Deny"),
            &json!("*"),
            &json!("sqs:SendMessage"),
            &json!("Queue.Arn")
        )
    );
    let excepted = |operator: &str, key: &str| -> BTreeSet<String> {
        deny["Condition"][operator][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    // Every role granted SendMessage on the queue, and no other.
    let senders: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .filter(|(_, r)| {
            r["Properties"]["Policies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| {
                    p["PolicyDocument"]["Statement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|s| {
                            s["Effect"] == "Allow"
                                && s["Action"].to_string().contains("\"sqs:SendMessage\"")
                                && (s["Resource"] == "Queue.Arn"
                                    || s["Resource"]
                                        .as_array()
                                        .is_some_and(|r| r.contains(&json!("Queue.Arn"))))
                        })
                })
        })
        .map(|(id, _)| format!("{id}.Arn"))
        .collect();
    assert_eq!(senders.len(), 3, "{senders:?}");
    assert_eq!(excepted("ArnNotEquals", "aws:PrincipalArn"), senders);
    // Every service the policy allows, and no other.
    let services: BTreeSet<String> = policy
        .iter()
        .filter_map(|s| s.as_array().map(|branches| &branches[1]))
        .filter_map(|s| s["Principal"]["Service"].as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(services.len(), 3, "{policy:?}");
    assert_eq!(
        excepted("StringNotEquals", "aws:PrincipalServiceName"),
        services
    );
    // Continuations from the forwarder's and the replay function's roles only.
    let env = |id: &str| t["Resources"][id]["Properties"]["Environment"]["Variables"].clone();
    let roles = json!([",", ["ForwarderRole.RoleId", "ReplayRole.RoleId"]]);
    assert_eq!(env("Forwarder")["CONTINUATION_SENDERS"], roles);
    assert_eq!(env("Replay")["CONTINUATION_SENDERS"], roles);
    // The replay function redrives the forwarder's dead-letter queue, and may.
    assert_eq!(
        env("Replay")["DEAD_LETTER_QUEUE_URL"],
        env("Forwarder")["DEAD_LETTER_QUEUE_URL"]
    );
    let replay =
        t["Resources"]["ReplayRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    let redrive = replay
        .iter()
        .find(|s| s["Sid"] == "RedriveDeadLetters")
        .unwrap();
    assert_eq!(
        redrive["Action"],
        json!([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility"
        ])
    );
    assert_eq!(redrive["Resource"], "DeadLetterQueue.Arn");
}
