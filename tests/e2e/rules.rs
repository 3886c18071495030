//! `--rules` and `test-metric-filter`, end to end.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{Trail, archived_lines, forward, logged_events, run, text, trail};

/// Routes decide where each event goes, the archive names the rules each event matched, and
/// the metrics of the run land in metrics.ndjson as Embedded Metric Format.
#[test]
fn rules_route_count_and_publish() {
    let Trail {
        bucket,
        out,
        input,
        _dir: dir,
        ..
    } = trail(2, 2, 2, 120, 9);
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        r#"
MetricFilters:
  - FilterName: failed-signins
    FilterPattern: '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }'
    MetricTransformations:
      - {MetricName: FailedSignins, MetricNamespace: Demo, MetricValue: "1", Unit: Count,
         Dimensions: {account: $.recipientAccountId}}
Routes:
  - Name: data-to-archive-only
    FilterPattern: '{ $.eventCategory = "Data" }'
    Logs: drop
  - Name: vpce-denials-nowhere
    FilterPattern: VpceAccessDenied
    Logs: drop
    Archive: drop
  - Name: signin-group
    FilterPattern: '{ $.eventSource = signin.amazonaws.com }'
    LogGroup: /trailrelay/signin
"#,
    )
    .unwrap();
    let output = forward(&bucket, &out, &["--rules", rules.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));

    // Oracles computed from the input alone.
    let is_data = |r: &Value| r["eventCategory"] == "Data";
    let is_denial = |r: &Value| r.to_string().contains("VpceAccessDenied") && !is_data(r);
    let is_signin = |r: &Value| r["eventSource"] == "signin.amazonaws.com";
    let failed = |r: &Value| {
        r["eventName"] == "ConsoleLogin" && r["errorMessage"] == "Failed authentication"
    };

    let logged = logged_events(&out.join("logs"));
    let logged_ids: BTreeMap<String, String> = logged
        .iter()
        .map(|(path, _, r)| {
            (
                r["eventID"].as_str().unwrap().to_owned(),
                path.to_string_lossy().into_owned(),
            )
        })
        .collect();
    assert_eq!(logged_ids.len(), logged.len(), "duplicates in the logs");
    for (id, r) in &input {
        let expected_in_logs = !is_data(r) && !is_denial(r);
        assert_eq!(logged_ids.contains_key(id), expected_in_logs, "{r}");
        if let Some(path) = logged_ids.get(id) {
            let group = if is_signin(r) {
                "logs/trailrelay/signin/"
            } else {
                "logs/trailrelay/cloudtrail/"
            };
            assert!(path.contains(group), "{path} for {r}");
        }
    }
    let archived = archived_lines(&out.join("archive"));
    let archived_ids: BTreeMap<&str, &Value> = archived
        .iter()
        .map(|(_, l)| (l["event_id"].as_str().unwrap(), l))
        .collect();
    assert_eq!(
        archived_ids.len(),
        archived.len(),
        "duplicates in the archive"
    );
    for (id, r) in &input {
        assert_eq!(archived_ids.contains_key(id.as_str()), !is_denial(r), "{r}");
        if let Some(line) = archived_ids.get(id.as_str()) {
            let mut want = Vec::new();
            if failed(r) {
                want.push("failed-signins");
            }
            if is_data(r) {
                want.push("data-to-archive-only");
            } else if is_signin(r) {
                want.push("signin-group");
            }
            assert_eq!(line["rules"], json!(want), "{r}");
        }
    }

    // Metrics: failed sign-ins per account, summed.
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for r in input.values().filter(|r| failed(r)) {
        *expected
            .entry(r["recipientAccountId"].as_str().unwrap().to_owned())
            .or_default() += 1.0;
    }
    assert!(!expected.is_empty());
    let metrics = std::fs::read_to_string(out.join("metrics.ndjson")).unwrap();
    let mut published = BTreeMap::new();
    for line in metrics.lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Demo");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["account"]])
        );
        published.insert(
            doc["account"].as_str().unwrap().to_owned(),
            doc["FailedSignins"].as_f64().unwrap(),
        );
    }
    assert_eq!(published, expected);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let denials = input.values().filter(|r| is_denial(r)).count();
    assert!(
        stdout.contains(&format!("{denials} out of the archive")),
        "{stdout}"
    );
}

#[test]
fn bad_rules_fail_before_any_input_is_read_naming_the_rule_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let rules = r#"{"Routes":[{"Name":"broken","FilterPattern":"{ $.eventName DeleteTrail }"}]}"#;
    let output = run(&[
        "forward",
        "/no/such/input",
        "--out",
        dir.path().to_str().unwrap(),
        "--rules",
        rules,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Routes[0] (broken) FilterPattern: invalid filter pattern at byte 14"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("/no/such/input"),
        "rules are checked first: {stderr}"
    );
}

fn test_metric_filter(args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["test-metric-filter"];
    all.extend_from_slice(args);
    let output = run(&all);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        output.status.code(),
        value,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Shaped like `aws logs test-metric-filter`: the API's response, the API's numbering.
#[test]
fn test_metric_filter_answers_like_the_api() {
    // TMF: a term pattern returns the matching messages, zero-based, with no extracted values.
    let (code, response, _) = test_metric_filter(&[
        "--filter-pattern",
        "\"[ERROR]\" Exception",
        "--log-event-messages",
        "[INFO] fine",
        "[ERROR] Unhandled exception: InvalidQueryException",
        "[ERROR] no",
        "[ERROR] RuntimeException",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        response,
        json!({"matches": [
            {"eventNumber": 1, "eventMessage": "[ERROR] Unhandled exception: InvalidQueryException", "extractedValues": {}},
            {"eventNumber": 3, "eventMessage": "[ERROR] RuntimeException", "extractedValues": {}}
        ]})
    );
    // The request file form, with a space-delimited pattern and its extracted values.
    let dir = tempfile::tempdir().unwrap();
    let request = dir.path().join("request.json");
    std::fs::write(
        &request,
        json!({"filterPattern": "[ip, user, username, timestamp, request, status_code=4*, bytes]",
               "logEventMessages": ["127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /index.html HTTP/1.0\" 404 1534"]})
        .to_string(),
    )
    .unwrap();
    let uri = format!("file://{}", request.display());
    let (code, response, _) = test_metric_filter(&["--cli-input-json", &uri]);
    assert_eq!(code, Some(0));
    assert_eq!(
        response["matches"][0]["extractedValues"]["$status_code"],
        "404"
    );
    assert_eq!(
        response["matches"][0]["extractedValues"]["$timestamp"],
        "10/Oct/2000:13:25:15 -0700"
    );
    // No match: an empty list.
    let (code, response, _) = test_metric_filter(&[
        "--filter-pattern",
        "{ $.a = 1 }",
        "--log-event-messages",
        "{\"a\":2}",
    ]);
    assert_eq!((code, response), (Some(0), json!({"matches": []})));
    // An invalid pattern: the error, and a non-zero status.
    let (code, _, stderr) =
        test_metric_filter(&["--filter-pattern", "{ $.a = }", "--log-event-messages", "x"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("InvalidParameterException")
            && stderr.contains("at byte 8: expected a value"),
        "{stderr}"
    );
    // More than 50 messages: refused as the API does.
    let many: Vec<String> = (0..51).map(|i| format!("m{i}")).collect();
    let mut args = vec!["--filter-pattern", "m", "--log-event-messages"];
    args.extend(many.iter().map(String::as_str));
    let (code, _, stderr) = test_metric_filter(&args);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("1 to 50 messages"), "{stderr}");
}
