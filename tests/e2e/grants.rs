//! The stack's grants and resource policies: named actions on named resources, the proof out
//! of the forwarder's reach, and the queue open to the notification services and the stack's
//! roles only.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use trailrelay::config::Config;

use crate::infra::{functions, number, template};

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
    // listing the trail's prefix to replay it; redriving dead letters (what it keeps is made
    // visible again): nothing else (README, "Deploying with AWS SAM").
    let expected: BTreeSet<&str> = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
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
    let senders = roles_sending_to(resources, "Queue.Arn");
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

/// The `ID.Arn` of every IAM role with an Allow of `sqs:SendMessage` on `queue`.
fn roles_sending_to(resources: &serde_json::Map<String, Value>, queue: &str) -> BTreeSet<String> {
    let sends_there = |s: &Value| {
        s["Effect"] == "Allow"
            && s["Action"].to_string().contains("\"sqs:SendMessage\"")
            && (s["Resource"] == queue
                || s["Resource"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(queue))))
    };
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .filter(|(_, r)| {
            r["Properties"]["Policies"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
                .any(sends_there)
        })
        .map(|(id, _)| format!("{id}.Arn"))
        .collect()
}
