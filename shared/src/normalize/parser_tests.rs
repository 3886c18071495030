//! One parse for the normaliser and the rules reads what each reads alone.

use proptest::prelude::*;

use super::*;
use crate::rules::pattern::PatternOptions;
use crate::rules::{CIS_PACK_JSON, RuleStats, RulesFile};

const KEY: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/eu-west-1/2026/11/01/\
                   111122223333_CloudTrail_eu-west-1_20261101T0005Z_abcdEFGH12345678.json.gz";

/// Patterns whose selectors cross the normaliser's: wildcards above its members, an index
/// beside its walk of `resources`, members it reads as objects.
const CROSSING: &str = r#"{"MetricFilters": [
  {"FilterName": "top", "FilterPattern": "{ $.* = ConsoleLogin }",
   "MetricTransformations": [{"MetricName": "a", "MetricNamespace": "T", "MetricValue": "1"}]},
  {"FilterName": "res", "FilterPattern": "{ $.resources[0].ARN = \"arn:*\" || $.resources[*].type = t }",
   "MetricTransformations": [{"MetricName": "b", "MetricNamespace": "T", "MetricValue": "1"}]},
  {"FilterName": "who", "FilterPattern": "{ $.userIdentity.* = Root || $.userIdentity IS NULL || $.additionalEventData NOT EXISTS }",
   "MetricTransformations": [{"MetricName": "c", "MetricNamespace": "T", "MetricValue": "$.readOnly",
     "Dimensions": [{"Key": "Source", "Value": "$.eventSource"}]}]}],
 "Routes": [{"Name": "reads", "FilterPattern": "{ $.readOnly IS TRUE && $.eventCategory = Management }",
   "LogGroup": "/reads"}]}"#;

fn rule_sets() -> [RuleSet; 2] {
    [CIS_PACK_JSON, CROSSING].map(|json| {
        let file = RulesFile::from_json(json, "test").unwrap();
        RuleSet::compile(&file, PatternOptions::default()).unwrap()
    })
}

fn origin(key: &TrailKey) -> Origin<'_> {
    Origin {
        bucket: "b",
        key: KEY,
        trail_key: key,
    }
}

/// Parsed once for both, and by each alone: the same event, the same decision, the same counts.
fn check_one_parse(rules: &RuleSet, record: &str) {
    let key = TrailKey::parse(KEY);
    let origin = origin(&key);
    let parser = RecordParser::new(rules);
    let once = parser.parse(record.as_bytes(), 0, &origin);
    let alone = parse(record.as_bytes(), 0, &origin);
    match (once, alone) {
        (Ok(once), Ok(alone)) => {
            assert_eq!(once.event, alone.event, "{record}");
            let (mut a, mut b) = (RuleStats::default(), RuleStats::default());
            let decided = rules.evaluate_parsed(record, once.document(), &mut a);
            assert_eq!(decided, rules.evaluate(record, &mut b), "{record}");
            assert_eq!(a, b, "{record}");
        }
        (Err(once), Err(alone)) => assert_eq!(once.to_string(), alone.to_string()),
        (once, alone) => panic!("{record}: {once:?} against {alone:?}"),
    }
}

#[test]
fn every_fixture_record_reads_alike_once_and_alone() {
    let records = crate::testing::cloudtrail_records();
    for rules in &rule_sets() {
        for record in &records {
            check_one_parse(rules, std::str::from_utf8(&record.json).unwrap());
        }
    }
}

/// Names the normaliser or the patterns read, at any depth, and some nobody reads.
const NAMES: &[&str] = &[
    r#""eventName""#,
    r#""\u0065ventName""#,
    r#""eventSource""#,
    r#""eventTime""#,
    r#""readOnly""#,
    r#""eventCategory""#,
    r#""userIdentity""#,
    r#""type""#,
    r#""arn""#,
    r#""invokedBy""#,
    r#""sessionContext""#,
    r#""attributes""#,
    r#""mfaAuthenticated""#,
    r#""resources""#,
    r#""ARN""#,
    r#""ARNPrefix""#,
    r#""additionalEventData""#,
    r#""MFAUsed""#,
    r#""addendum""#,
    r#""reason""#,
    r#""errorCode""#,
    r#""x""#,
    r#""\udc00""#,
];

/// Values of every shape, including ones serde refuses to decode but JSON allows.
const LEAVES: &[&str] = &[
    "null",
    "true",
    "12",
    "1e400",
    r#""Root""#,
    r#""ConsoleLogin""#,
    r#""Management""#,
    r#""TRUE""#,
    r#""arn:aws:s3:::b""#,
    r#""2026-11-01T00:00:00Z""#,
    r#""\udc00""#,
    r#""a\"b""#,
    "[]",
    "{}",
];

fn value() -> impl Strategy<Value = String> {
    let leaf = proptest::sample::select(LEAVES).prop_map(str::to_owned);
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            members(inner),
        ]
    })
}

fn members(value: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(NAMES), value), 0..8).prop_map(|m| {
        let m: Vec<String> = m.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", m.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Odd shapes, repeated and escaped names, values beyond serde, at any depth.
    #[test]
    fn odd_records_read_alike_once_and_alone(record in members(value())) {
        for rules in &rule_sets() {
            check_one_parse(rules, &record);
        }
    }
}

/// What the slow path keeps when a member read here is named twice in its object: the first
/// of a repeated top-level name; nothing of a member with a name repeated inside it.
#[test]
fn repeated_names_inside_members_drop_that_member_only() {
    let key = TrailKey::parse(KEY);
    let origin = origin(&key);
    let read = |text: &str| {
        let event = parse(text.as_bytes(), 0, &origin).unwrap().event;
        event.into_owned()
    };

    let e = read(r#"{"eventName":"A","userIdentity":{"type":"Root","type":"IAMUser"}}"#);
    assert_eq!(e.action.as_deref(), Some("A"));
    assert_eq!(e.principal, None);

    let e =
        read(r#"{"eventName":"A","resources":[{"ARN":"arn:1"},{"ARN":"arn:2","ARN":"arn:3"}]}"#);
    assert_eq!(e.action.as_deref(), Some("A"));
    assert!(e.resources.is_empty());

    // A repeated name nobody reads, and a value serde cannot decode where nobody reads it,
    // change nothing.
    let e = read(
        r#"{"eventName":"A","resources":[{"ARN":"arn:1","type":"\udc00","n":1e400,"n":2}],"x":1,"x":2}"#,
    );
    assert_eq!(e.resources, ["arn:1"]);
    assert_eq!(e.action.as_deref(), Some("A"));

    // `ARNPrefix` stands in for an `ARN` that is not a string.
    let e = read(r#"{"resources":[{"ARN":5,"ARNPrefix":"arn:p"},"x",{"type":"t"}]}"#);
    assert_eq!(e.resources, ["arn:p"]);
}
