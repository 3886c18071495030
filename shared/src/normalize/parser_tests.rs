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
    r#""timeWindow""#,
    r#""windowStart""#,
    r#""insightDetails""#,
    r#""sessionIssuer""#,
    r#""userName""#,
    r#""accountId""#,
    r#""recipientAccountId""#,
    r#""eventId""#,
    r#""eventID""#,
    r#""eventType""#,
    r#""managementEvent""#,
    r#""updatedFields""#,
    r#""originalEventID""#,
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

/// A JSON value whose objects may name a member twice.
#[derive(Clone)]
enum J {
    Text(&'static str),
    Number(u32),
    Object(Vec<(&'static str, J)>),
    List(Vec<J>),
}

impl J {
    fn write(&self, out: &mut String) {
        match self {
            J::Text(t) => out.push_str(&serde_json::to_string(t).unwrap()),
            J::Number(n) => out.push_str(&n.to_string()),
            J::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("{name:?}:"));
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// The object at `path` (keys, or indexes into lists).
    fn at(&mut self, path: &[&str]) -> &mut Vec<(&'static str, J)> {
        match (self, path.split_first()) {
            (J::Object(members), None) => members,
            (J::Object(members), Some((key, rest))) => members
                .iter_mut()
                .find(|(name, _)| name == key)
                .unwrap()
                .1
                .at(rest),
            (J::List(items), Some((index, rest))) => {
                items[index.parse::<usize>().unwrap()].at(rest)
            }
            _ => panic!("no object at {path:?}"),
        }
    }

    /// The path of every member inside, depth first (list elements by index).
    fn paths(&self, at: &mut Vec<&'static str>, out: &mut Vec<Vec<&'static str>>) {
        const INDEXES: [&str; 2] = ["0", "1"];
        match self {
            J::Object(members) => {
                for (name, value) in members {
                    at.push(name);
                    out.push(at.clone());
                    value.paths(at, out);
                    at.pop();
                }
            }
            J::List(items) => {
                for (item, index) in items.iter().zip(INDEXES) {
                    at.push(index);
                    item.paths(at, out);
                    at.pop();
                }
            }
            J::Text(_) | J::Number(_) => {}
        }
    }

    /// The same value without the members at `paths`.
    fn without(&self, paths: &[&[&str]]) -> J {
        let mut value = self.clone();
        for path in paths {
            let (last, parent) = path.split_last().unwrap();
            value.at(parent).retain(|(name, _)| name != last);
        }
        value
    }
}

/// A record with every member the normaliser reads, each making a difference to the event.
fn every_member() -> J {
    use J::{List, Number, Object, Text};
    Object(vec![
        ("eventTime", Text("2026-11-01T00:00:00Z")),
        ("eventSource", Text("iam.amazonaws.com")),
        ("eventName", Text("CreateUser")),
        ("awsRegion", Text("ap-south-1")),
        ("sourceIPAddress", Text("192.0.2.1")),
        ("userAgent", Text("aws-cli/2.0")),
        ("errorCode", Text("AccessDenied")),
        ("errorMessage", Text("denied")),
        ("requestID", Text("request-1")),
        ("vpcEndpointId", Text("vpce-1")),
        ("eventID", Text("id-1")),
        ("eventType", Text("AwsVpceEvent")),
        ("eventCategory", Text("Management")),
        ("recipientAccountId", Text("210987654321")),
        ("readOnly", Text("true")),
        ("managementEvent", Text("false")),
        ("sessionCredentialFromConsole", Text("true")),
        (
            "userIdentity",
            Object(vec![
                ("type", Text("AssumedRole")),
                ("arn", Text("arn:aws:sts::1:assumed-role/R/alice")),
                ("accountId", Text("444455556666")),
                ("userName", Text("bob")),
                ("invokedBy", Text("ec2.amazonaws.com")),
                (
                    "sessionContext",
                    Object(vec![
                        (
                            "attributes",
                            Object(vec![("mfaAuthenticated", Text("true"))]),
                        ),
                        (
                            "sessionIssuer",
                            Object(vec![("arn", Text("arn:aws:iam::1:role/R"))]),
                        ),
                    ]),
                ),
            ]),
        ),
        (
            "resources",
            List(vec![Object(vec![
                ("ARN", Text("arn:aws:s3:::b")),
                ("ARNPrefix", Text("arn:aws:s3:::p")),
            ])]),
        ),
        (
            "insightDetails",
            Object(vec![
                ("eventSource", Text("ec2.amazonaws.com")),
                ("eventName", Text("RunInstances")),
            ]),
        ),
        ("additionalEventData", Object(vec![("MFAUsed", Text("No"))])),
        ("eventId", Text("aggregated-1")),
        ("accountId", Text("777788889999")),
        (
            "timeWindow",
            Object(vec![("windowStart", Text("2026-10-31T00:00:00Z"))]),
        ),
        (
            "addendum",
            Object(vec![
                ("reason", Text("UPDATED_DATA")),
                ("updatedFields", Text("userIdentity")),
                ("originalRequestID", Text("req-0")),
                ("originalEventID", Text("id-0")),
            ]),
        ),
        ("x", Number(1)),
    ])
}

/// The members that hide the member `name` from the event (a value taken before it).
fn hiding(name: &str) -> &'static [&'static [&'static str]] {
    match name {
        "timeWindow" => &[&["eventTime"]],
        "insightDetails" => &[&["eventSource"], &["eventName"]],
        "eventId" => &[&["eventID"]],
        "accountId" => &[&["recipientAccountId"]],
        "eventType" => &[&["eventCategory"]],
        "managementEvent" => &[&["eventCategory"], &["eventType"]],
        "additionalEventData" => &[&[
            "userIdentity",
            "sessionContext",
            "attributes",
            "mfaAuthenticated",
        ]],
        "sessionCredentialFromConsole" => &[&["userIdentity"]],
        _ => &[],
    }
}

/// A name repeated in any object the normaliser reads is read as the serde structs read it:
/// they refused the record, and the slow path keeps the first of a repeated top-level name and
/// drops a top-level member that repeats a name inside it. One parse with rules agrees.
#[test]
fn a_repeated_name_in_any_member_read_is_read_as_before() {
    let key = TrailKey::parse(KEY);
    let origin = origin(&key);
    let [cis, crossing] = rule_sets();
    let parsers = [RecordParser::new(&cis), RecordParser::new(&crossing)];
    let event = |record: &str| {
        let alone = parse(record.as_bytes(), 0, &origin)
            .unwrap()
            .event
            .into_owned();
        for parser in &parsers {
            let once = parser.parse(record.as_bytes(), 0, &origin).unwrap().event;
            assert_eq!(once, alone, "{record}");
        }
        alone
    };
    // Every member of the record, at every depth: what the serde structs named.
    let mut paths = Vec::new();
    every_member().paths(&mut Vec::new(), &mut paths);
    assert_eq!(paths.len(), fields::PATHS.len() + 3, "{paths:?}");
    for path in paths {
        let (last, parent) = path.split_last().unwrap();
        let base = every_member().without(hiding(path[0]));
        // The repeated name first, with a value of no use to the normaliser.
        let mut repeated = base.clone();
        repeated.at(parent).insert(0, (last, J::Number(5)));
        let expected = if parent.is_empty() {
            let mut first = base.clone();
            first.at(&[]).retain(|(name, _)| name != last);
            first.at(&[]).push((last, J::Number(5)));
            first
        } else {
            base.without(&[&[path[0]]])
        };
        let (got, want) = (event(&repeated.text()), event(&expected.text()));
        assert_eq!(got, want, "{path:?}");
        if path == ["x"] {
            assert_eq!(
                got,
                event(&base.text()),
                "a name nobody reads changes nothing"
            );
        } else {
            assert_ne!(want, event(&base.text()), "{path:?} makes no difference");
        }
    }
}

/// Real records name `userIdentity.accessKeyId` twice: the principal stays whole, one parse
/// with rules agrees, and the key is read.
#[test]
fn a_repeated_access_key_keeps_the_principal() {
    let key = TrailKey::parse(KEY);
    let origin = origin(&key);
    let record = r#"{"eventID":"e","userIdentity":{"accessKeyId":"AKIAEXAMPLE1","type":"IAMUser","arn":"arn:aws:iam::1:user/bob","accessKeyId":"AKIAEXAMPLE1","userName":"bob"}}"#;
    let event = parse(record.as_bytes(), 0, &origin).unwrap().event;
    let principal = event.principal.clone().unwrap();
    assert_eq!(principal.name.as_deref(), Some("bob"));
    assert_eq!(principal.access_key_id.as_deref(), Some("AKIAEXAMPLE1"));
    let [cis, crossing] = rule_sets();
    for rules in [&cis, &crossing] {
        let once = RecordParser::new(rules)
            .parse(record.as_bytes(), 0, &origin)
            .unwrap();
        assert_eq!(once.event, event);
    }
}
