use serde_json::{Value, json};

use super::*;

fn compile(rules: Value) -> RuleSet {
    let file = RulesFile::from_json(&rules.to_string(), "test").unwrap();
    RuleSet::compile(&file, PatternOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn problems(rules: Value) -> Vec<(String, &'static str, String)> {
    let file = RulesFile::from_json(&rules.to_string(), "test").unwrap();
    RuleSet::compile(&file, PatternOptions::default())
        .unwrap_err()
        .problems
        .into_iter()
        .map(|p| (p.rule, p.property, p.message))
        .collect()
}

fn filter(name: &str, pattern: &str, transformation: Value) -> Value {
    json!({"FilterName": name, "FilterPattern": pattern, "MetricTransformations": [transformation]})
}

fn count(name: &str, namespace: &str) -> Value {
    json!({"MetricName": name, "MetricNamespace": namespace, "MetricValue": "1", "DefaultValue": 0, "Unit": "Count"})
}

fn emf(set: &RuleSet, stats: &RuleStats) -> Vec<Value> {
    set.emf_lines(stats, 1_700_000_000_000)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const LOGIN: &str = r#"{"eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","userIdentity":{"type":"IAMUser"},"additionalEventData":{"MFAUsed":"No"},"responseElements":{"ConsoleLogin":"Success"},"eventCategory":"Management"}"#;
const READ: &str = r#"{"eventName":"GetObject","eventSource":"s3.amazonaws.com","eventCategory":"Data","readOnly":true,"userIdentity":{"type":"AssumedRole"}}"#;

#[test]
fn the_design_example_loads_and_decides() {
    let set = compile(json!({
        "MetricFilters": [filter("cis-4.4-iam-policy-changes", "{($.eventName=DeleteGroupPolicy)||($.eventName=PutRolePolicy)}", count("IAMPolicyChanges", "CISBenchmark"))],
        "Routes": [{"Name": "data-reads-archive-only", "FilterPattern": "{ $.eventCategory = \"Data\" && $.readOnly IS TRUE }", "Logs": "drop", "Archive": "keep"}]
    }));
    let mut stats = RuleStats::new(&set);
    let d = set.evaluate(READ, &mut stats);
    assert_eq!(
        d,
        Decision {
            rules: vec!["data-reads-archive-only"],
            to_logs: false,
            to_archive: true,
            log_group: None
        }
    );
    let put = r#"{"eventName":"PutRolePolicy"}"#;
    let d = set.evaluate(put, &mut stats);
    assert_eq!(d.rules, ["cis-4.4-iam-policy-changes"]);
    assert!(d.to_logs && d.to_archive);
    assert_eq!(stats.filter_matches, [1]);
    assert_eq!(stats.route_matches, [1]);
    assert_eq!(stats.dropped_from_logs, 1);
    assert_eq!(stats.dropped_from_archive, 0);
}

#[test]
fn routes_first_match_decides_and_may_name_a_log_group() {
    let set = compile(json!({"Routes": [
        {"Name": "signins", "FilterPattern": "{ $.eventSource = signin.amazonaws.com }", "LogGroup": "/trailrelay/signin"},
        {"Name": "all-management", "FilterPattern": "{ $.eventCategory = Management }", "Archive": "drop"},
        {"Name": "never", "FilterPattern": "nothing-matches-this"}
    ]}));
    let mut stats = RuleStats::new(&set);
    let d = set.evaluate(LOGIN, &mut stats);
    assert_eq!(d.rules, ["signins"]);
    assert!(d.to_logs && d.to_archive);
    assert_eq!(
        d.log_group
            .map(|t| t.render(&Default::default()))
            .as_deref(),
        Some("/trailrelay/signin")
    );
    let d = set.evaluate(r#"{"eventCategory":"Management"}"#, &mut stats);
    assert_eq!(
        (d.rules, d.to_logs, d.to_archive),
        (vec!["all-management"], true, false)
    );
    let d = set.evaluate(READ, &mut stats);
    assert!(d.rules.is_empty() && d.to_logs && d.to_archive);
    assert_eq!(stats.route_matches, [1, 1, 0]);
}

#[test]
fn yaml_and_cloudformation_dimension_lists_load() {
    let yaml = r#"
MetricFilters:
  - FilterName: trail-changes
    LogGroupName: CloudTrail/DefaultLogGroup
    FilterPattern: '{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) }'
    MetricTransformations:
      - MetricName: TrailChanges
        MetricNamespace: Audit
        MetricValue: 1
        Dimensions:
          - Key: account
            Value: $.recipientAccountId
Routes:
  - Name: drop-reads
    FilterPattern: '{ $.readOnly IS TRUE }'
    Logs: Drop
"#;
    let file = RulesFile::from_yaml(yaml, "rules.yaml").unwrap();
    let set = RuleSet::compile(&file, PatternOptions::default()).unwrap();
    assert_eq!(set.filters().len(), 1);
    assert_eq!(set.routes().len(), 1);
    let mut stats = RuleStats::new(&set);
    set.evaluate(
        r#"{"eventName":"UpdateTrail","recipientAccountId":"111122223333"}"#,
        &mut stats,
    );
    set.evaluate(
        r#"{"eventName":"CreateTrail","recipientAccountId":"111122223333"}"#,
        &mut stats,
    );
    set.evaluate(
        r#"{"eventName":"CreateTrail","recipientAccountId":"444455556666"}"#,
        &mut stats,
    );
    let docs = emf(&set, &stats);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["account"], "111122223333");
    assert_eq!(docs[0]["TrailChanges"], 2.0);
    assert_eq!(
        docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["account"]])
    );
    assert_eq!(docs[1]["account"], "444455556666");
    assert_eq!(docs[1]["TrailChanges"], 1.0);
}

#[test]
fn emf_documents_follow_the_specification() {
    let set = compile(json!({"MetricFilters": [
        filter("a", "{ $.eventName = ConsoleLogin }", count("Logins", "Audit")),
        filter("b", "{ $.eventName = GetObject }", count("Reads", "Audit")),
        filter("c", "{ $.eventName = Nothing }", count("Never", "Other"))
    ]}));
    let mut stats = RuleStats::new(&set);
    for m in [LOGIN, LOGIN, READ] {
        set.evaluate(m, &mut stats);
    }
    let docs = emf(&set, &stats);
    // One document per namespace and dimension set; values summed; defaults fill the misses.
    assert_eq!(docs.len(), 2);
    let audit = &docs[0];
    assert_eq!(audit["_aws"]["Timestamp"], 1_700_000_000_000i64);
    assert_eq!(
        audit["_aws"]["CloudWatchMetrics"],
        json!([{"Namespace": "Audit", "Dimensions": [[]],
                "Metrics": [{"Name": "Logins", "Unit": "Count"}, {"Name": "Reads", "Unit": "Count"}]}])
    );
    assert_eq!(
        (audit["Logins"].as_f64(), audit["Reads"].as_f64()),
        (Some(2.0), Some(1.0))
    );
    assert_eq!(docs[1]["Never"], 0.0);
    // No events: nothing to publish.
    assert!(set.emf_lines(&RuleStats::new(&set), 0).is_empty());
}

#[test]
fn metric_values_from_json_and_space_delimited_events() {
    // MFS: { $.latency = * } with metricValue $.latency publishes 50 for {"latency": 50}.
    let set = compile(json!({"MetricFilters": [
        filter("latency", "{ $.latency = * }", json!({"MetricName": "Latency", "MetricNamespace": "App", "MetricValue": "$.latency", "Unit": "Milliseconds"})),
        filter("bytes", "[ip, id, user, timestamp, request, status_code, size]", json!({"MetricName": "Bytes", "MetricNamespace": "Web", "MetricValue": "$size", "Unit": "Bytes"})),
        filter("by-server", "[ip, server, username, timestamp, request, status_code, bytes > 1000]", json!({"MetricName": "Big", "MetricNamespace": "Web", "MetricValue": "1", "Dimensions": {"server": "$server"}}))
    ]}));
    let mut stats = RuleStats::new(&set);
    set.evaluate(r#"{"latency": 50, "requestType": "GET"}"#, &mut stats);
    set.evaluate(r#"{"latency": "fast"}"#, &mut stats);
    // ExtractBytesExample: publishes 3.
    set.evaluate(
        r#"127.0.0.1 - - [24/Sep/2013:11:51:34 -0700] "GET /~test/index.html HTTP/1.1" 200 3"#,
        &mut stats,
    );
    set.evaluate(
        r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#,
        &mut stats,
    );
    set.evaluate(
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET / HTTP/1.0" 404 -"#,
        &mut stats,
    );
    // "fast" is not a number, "-" is not a number: counted, not published.
    assert_eq!(stats.values_missing, 2);
    let docs = emf(&set, &stats);
    let find = |name: &str| docs.iter().find(|d| d.get(name).is_some()).unwrap().clone();
    assert_eq!(find("Latency")["Latency"], 50.0);
    assert_eq!(find("Bytes")["Bytes"], 1537.0);
    let big = find("Big");
    assert_eq!(
        (big["server"].as_str(), big["Big"].as_f64()),
        (Some("Prod"), Some(1.0))
    );
    assert_eq!(stats.not_json, 3);
}

#[test]
fn same_metric_from_two_filters_is_two_values() {
    let set = compile(json!({"MetricFilters": [
        filter("cis", "{ $.eventName = StopLogging }", count("TrailChanges", "CISBenchmark")),
        filter("sh", "{ ($.eventName = StopLogging) || ($.eventName = DeleteTrail) }", count("TrailChanges", "CISBenchmark"))
    ]}));
    let mut stats = RuleStats::new(&set);
    set.evaluate(r#"{"eventName":"StopLogging"}"#, &mut stats);
    let docs = emf(&set, &stats);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["TrailChanges"], json!([1.0, 1.0]));
}

#[test]
fn stats_merge_adds_everything() {
    let set = compile(
        json!({"MetricFilters": [filter("a", "{ $.x = * }", json!({"MetricName": "X", "MetricNamespace": "N", "MetricValue": "$.x", "Dimensions": {"k": "$.k"}}))]}),
    );
    let (mut a, mut b) = (RuleStats::new(&set), RuleStats::new(&set));
    set.evaluate(r#"{"x":1,"k":"p"}"#, &mut a);
    set.evaluate(r#"{"x":2,"k":"p"}"#, &mut b);
    set.evaluate(r#"{"x":4,"k":"q"}"#, &mut b);
    a.merge(&b);
    assert_eq!(a.events, 3);
    assert_eq!(a.filter_matches, [3]);
    let docs = emf(&set, &a);
    assert_eq!(
        (docs[0]["k"].as_str(), docs[0]["X"].as_f64()),
        (Some("p"), Some(3.0))
    );
    assert_eq!(
        (docs[1]["k"].as_str(), docs[1]["X"].as_f64()),
        (Some("q"), Some(4.0))
    );
}

#[test]
fn every_problem_is_named_with_its_rule_and_property() {
    let found = problems(json!({
        "MetricFilters": [
            filter("bad:name", "{ $.a = 1 }", count("M", "N")),
            filter("bad-pattern", "{ $.eventName DeleteTrail }", count("M", "N")),
            filter("bad-metric", "ERROR", json!({"MetricName": "a:b", "MetricNamespace": "N", "MetricValue": "1"})),
            filter("bare-value", "{ $.a = 1 }", json!({"MetricName": "M", "MetricNamespace": "N", "MetricValue": "length"})),
            filter("field-on-json", "{ $.a = 1 }", json!({"MetricName": "M", "MetricNamespace": "N", "MetricValue": "$size"})),
            filter("selector-on-terms", "ERROR", json!({"MetricName": "M", "MetricNamespace": "N", "MetricValue": "$.a"})),
            filter("default-and-dims", "{ $.a = 1 }", json!({"MetricName": "M", "MetricNamespace": "N", "MetricValue": "1", "DefaultValue": 0, "Dimensions": {"d": "$.d"}})),
            filter("four-dims", "{ $.a = 1 }", json!({"MetricName": "M", "MetricNamespace": "N", "MetricValue": "1", "Dimensions": {"a": "$.a", "b": "$.b", "c": "$.c", "d": "$.d"}})),
            filter("bad-unit", "{ $.a = 1 }", json!({"MetricName": "M", "MetricNamespace": "N", "MetricValue": "1", "Unit": "Furlongs"})),
            {"FilterName": "two", "FilterPattern": "x", "MetricTransformations": [count("A", "N"), count("B", "N")]},
            filter("dup", "x", count("M", "N")),
            filter("dup", "y", count("M", "N")),
            {"FilterName": "transformed", "FilterPattern": "x", "ApplyOnTransformedLogs": true, "MetricTransformations": [count("M", "N")]}
        ],
        "Routes": [
            {"Name": "bad-route", "FilterPattern": "{ $.a = }"},
            {"Name": "bad-group", "FilterPattern": "x", "LogGroup": "/has space"}
        ]
    }));
    let expect = [
        (
            "MetricFilters[0] (bad:name)",
            "FilterName",
            "must not contain ':' or '*'",
        ),
        (
            "MetricFilters[1] (bad-pattern)",
            "FilterPattern",
            "invalid filter pattern at byte 14: expected =, !=",
        ),
        (
            "MetricFilters[2] (bad-metric)",
            "MetricName",
            "must not contain ':', '*' or '$'",
        ),
        (
            "MetricFilters[3] (bare-value)",
            "MetricValue",
            "\"length\" is not a value",
        ),
        (
            "MetricFilters[4] (field-on-json)",
            "MetricValue",
            "$size: $field values need a space-delimited filter pattern",
        ),
        (
            "MetricFilters[5] (selector-on-terms)",
            "MetricValue",
            "$.a: $.selector values need a JSON filter pattern",
        ),
        (
            "MetricFilters[6] (default-and-dims)",
            "DefaultValue",
            "cannot be combined with Dimensions",
        ),
        (
            "MetricFilters[7] (four-dims)",
            "Dimensions",
            "at most 3 are allowed, found 4",
        ),
        (
            "MetricFilters[8] (bad-unit)",
            "Unit",
            "\"Furlongs\" is not a CloudWatch unit",
        ),
        (
            "MetricFilters[9] (two)",
            "MetricTransformations",
            "exactly one is required, found 2",
        ),
        (
            "MetricFilters[11] (dup)",
            "FilterName",
            "another rule has this name",
        ),
        (
            "MetricFilters[12] (transformed)",
            "ApplyOnTransformedLogs",
            "only false is supported",
        ),
        (
            "Routes[0] (bad-route)",
            "FilterPattern",
            "invalid filter pattern at byte 8: expected a value",
        ),
        (
            "Routes[1] (bad-group)",
            "LogGroup",
            "log group names take only",
        ),
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for ((rule, property, message), (want_rule, want_property, want_message)) in
        found.iter().zip(expect)
    {
        assert_eq!((rule.as_str(), *property), (want_rule, want_property));
        assert!(
            message.starts_with(want_message) || message.contains(want_message),
            "{rule}: {message}"
        );
    }
}

#[test]
fn unknown_properties_and_bad_syntax_are_read_errors() {
    let e = RulesFile::from_json(r#"{"MetricFilters": [{"FilterNmae": "x"}]}"#, "rules.json")
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("rules.json: unknown field `FilterNmae`"),
        "{e}"
    );
    let e = RulesFile::from_yaml("MetricFilters: [", "rules.yaml").unwrap_err();
    assert!(e.to_string().starts_with("rules.yaml: "), "{e}");
    let e = RulesFile::load("/no/such/rules.json").unwrap_err();
    assert!(e.to_string().starts_with("/no/such/rules.json: "), "{e}");
    let inline = RulesFile::load(r#" {"Routes": []}"#).unwrap();
    assert!(inline.routes.is_empty());
}

#[test]
fn filter_name_defaults_to_namespace_and_metric() {
    let set = compile(
        json!({"MetricFilters": [{"FilterPattern": "x", "MetricTransformations": [count("M", "N")]}]}),
    );
    assert_eq!(set.filters()[0].name, "N/M");
}

#[test]
fn empty_rules_keep_everything_and_count_nothing() {
    let set = RuleSet::default();
    let mut stats = RuleStats::new(&set);
    let d = set.evaluate(READ, &mut stats);
    assert!(d.rules.is_empty() && d.to_logs && d.to_archive);
    assert_eq!(stats.events, 0);
}

/// The CIS / Security Hub pack shipped in `infra/rules/cis.json`.
mod cis_pack {
    use super::*;
    use crate::testing::cloudtrail_records;

    fn pack() -> RuleSet {
        let file = RulesFile::from_json(CIS_PACK_JSON, "cis.json").unwrap();
        RuleSet::compile(&file, PatternOptions::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn pack_holds_every_control_with_its_exact_pattern() {
        let set = pack();
        let by_name = |n: &str| {
            set.filters()
                .iter()
                .find(|f| f.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        let names: Vec<&str> = set.filters().iter().map(|f| f.name.as_str()).collect();
        for i in 1..=15 {
            assert!(
                names
                    .iter()
                    .any(|n| n.starts_with(&format!("cis-v3-4.{i}-"))),
                "CIS 4.{i} missing"
            );
        }
        for i in 1..=14 {
            assert!(
                names
                    .iter()
                    .any(|n| n.starts_with(&format!("securityhub-cloudwatch-{i}-"))),
                "CloudWatch.{i} missing"
            );
        }
        // Byte-exact patterns (Security Hub compares the text).
        assert_eq!(
            by_name("securityhub-cloudwatch-1-root-usage")
                .pattern
                .as_str(),
            r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#
        );
        assert_eq!(
            by_name("cis-v3-4.1-unauthorized-api-calls")
                .pattern
                .as_str(),
            r#"{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }"#
        );
        for f in set.filters() {
            let ns = f.metric_namespace();
            assert!(
                (f.name.starts_with("cis-") && ns == "CISBenchmark")
                    || (f.name.starts_with("securityhub-") && ns == "LogMetrics"),
                "{} {ns}",
                f.name
            );
            assert!(f.pattern.warnings().is_empty(), "{}", f.name);
        }
    }

    fn matched(set: &RuleSet, record: &Value) -> Vec<String> {
        let mut stats = RuleStats::new(set);
        set.evaluate(&record.to_string(), &mut stats)
            .rules
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn pack_on_real_records_matches_what_each_control_is_about() {
        let set = pack();
        let records = cloudtrail_records();
        let mut hits = vec![0usize; set.filters().len()];
        let mut checked = 0;
        for r in &records {
            let v: Value = serde_json::from_slice(&r.json).unwrap();
            let m = matched(&set, &v);
            for (i, f) in set.filters().iter().enumerate() {
                hits[i] += usize::from(m.contains(&f.name));
            }
            let name = v["eventName"].as_str().unwrap_or("");
            let error = v["errorCode"].as_str().unwrap_or("");
            // Independent oracles for a few controls, on every real record.
            let root = v["userIdentity"]["type"] == "Root"
                && v["userIdentity"].get("invokedBy").is_none()
                && v["eventType"]
                    .as_str()
                    .is_some_and(|t| t != "AwsServiceEvent");
            assert_eq!(
                m.iter().any(|n| n == "securityhub-cloudwatch-1-root-usage"),
                root,
                "{v}"
            );
            let unauthorized =
                error.ends_with("UnauthorizedOperation") || error.starts_with("AccessDenied");
            assert_eq!(
                m.iter()
                    .any(|n| n == "securityhub-cloudwatch-2-unauthorized-api-calls"),
                unauthorized,
                "{v}"
            );
            let sg = [
                "AuthorizeSecurityGroupIngress",
                "AuthorizeSecurityGroupEgress",
                "RevokeSecurityGroupIngress",
                "RevokeSecurityGroupEgress",
                "CreateSecurityGroup",
                "DeleteSecurityGroup",
            ]
            .contains(&name);
            assert_eq!(
                m.iter().any(|n| n == "cis-v3-4.10-security-group-changes"),
                sg,
                "{v}"
            );
            let failed_login =
                name == "ConsoleLogin" && v["errorMessage"] == "Failed authentication";
            assert_eq!(
                m.iter()
                    .any(|n| n == "cis-v3-4.6-console-authentication-failures"),
                failed_login,
                "{v}"
            );
            checked += 1;
        }
        assert!(checked > 3800);
        // The real data exercises many controls; each listed one matched at least once.
        for name in [
            "securityhub-cloudwatch-1-root-usage",
            "securityhub-cloudwatch-2-unauthorized-api-calls",
            "cis-v3-4.2-console-signin-without-mfa",
            "cis-v3-4.4-iam-policy-changes",
            "cis-v3-4.5-cloudtrail-configuration-changes",
            "cis-v3-4.6-console-authentication-failures",
            "cis-v3-4.10-security-group-changes",
        ] {
            let i = set.filters().iter().position(|f| f.name == name).unwrap();
            assert!(hits[i] > 0, "{name} matched no real record");
        }
    }

    #[test]
    fn pack_controls_on_shaped_records() {
        let set = pack();
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"eventName": "ConsoleLogin", "additionalEventData": {"MFAUsed": "No"}, "userIdentity": {"type": "IAMUser"}, "responseElements": {"ConsoleLogin": "Success"}}),
                &[
                    "cis-v3-4.2-console-signin-without-mfa",
                    "securityhub-cloudwatch-3-console-signin-without-mfa",
                ],
            ),
            // CIS 4.2 on a federated sign-in without MFAUsed does not match (!= on missing).
            (
                json!({"eventName": "ConsoleLogin", "userIdentity": {"type": "AssumedRole"}}),
                &[],
            ),
            (
                json!({"eventName": "DisableKey", "eventSource": "kms.amazonaws.com"}),
                &[
                    "cis-v3-4.7-disable-or-delete-cmk",
                    "securityhub-cloudwatch-7-disable-or-delete-cmk",
                ],
            ),
            // Equality is exact: DisableKeyRotation is not DisableKey.
            (
                json!({"eventName": "DisableKeyRotation", "eventSource": "kms.amazonaws.com"}),
                &[],
            ),
            (
                json!({"eventName": "PutBucketPolicy", "eventSource": "s3.amazonaws.com"}),
                &[
                    "cis-v3-4.8-s3-bucket-policy-changes",
                    "securityhub-cloudwatch-8-s3-bucket-policy-changes",
                ],
            ),
            (
                json!({"eventName": "StopConfigurationRecorder", "eventSource": "config.amazonaws.com"}),
                &[
                    "cis-v3-4.9-aws-config-changes",
                    "securityhub-cloudwatch-9-aws-config-changes",
                ],
            ),
            (
                json!({"eventName": "CreateNetworkAclEntry"}),
                &[
                    "cis-v3-4.11-nacl-changes",
                    "securityhub-cloudwatch-11-nacl-changes",
                ],
            ),
            (
                json!({"eventName": "AttachInternetGateway"}),
                &[
                    "cis-v3-4.12-network-gateway-changes",
                    "securityhub-cloudwatch-12-network-gateway-changes",
                ],
            ),
            (
                json!({"eventName": "ReplaceRoute"}),
                &[
                    "cis-v3-4.13-route-table-changes",
                    "securityhub-cloudwatch-13-route-table-changes",
                ],
            ),
            (
                json!({"eventName": "CreateVpcPeeringConnection"}),
                &[
                    "cis-v3-4.14-vpc-changes",
                    "securityhub-cloudwatch-14-vpc-changes",
                ],
            ),
            (
                json!({"eventName": "LeaveOrganization", "eventSource": "organizations.amazonaws.com"}),
                &["cis-v3-4.15-organizations-changes"],
            ),
            // IAM's CreatePolicy is an IAM policy change, not an Organizations change.
            (
                json!({"eventName": "CreatePolicy", "eventSource": "iam.amazonaws.com"}),
                &[
                    "cis-v3-4.4-iam-policy-changes",
                    "securityhub-cloudwatch-4-iam-policy-changes",
                ],
            ),
            (
                json!({"eventName": "HeadBucket", "errorCode": "AccessDenied", "sourceIPAddress": "1.2.3.4"}),
                &["securityhub-cloudwatch-2-unauthorized-api-calls"],
            ),
            (
                json!({"eventName": "GetObject", "errorCode": "AccessDenied", "sourceIPAddress": "1.2.3.4"}),
                &[
                    "cis-v3-4.1-unauthorized-api-calls",
                    "securityhub-cloudwatch-2-unauthorized-api-calls",
                ],
            ),
        ];
        for (record, want) in cases {
            let mut got = matched(&set, record);
            got.sort();
            let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
            want.sort();
            assert_eq!(got, want, "{record}");
        }
    }
}
