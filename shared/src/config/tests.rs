use std::collections::HashMap;

use super::*;

#[test]
fn sizes() {
    assert_eq!(parse_bytes("1048576"), Ok(1_048_576));
    assert_eq!(parse_bytes("512KiB"), Ok(512 * 1024));
    assert_eq!(parse_bytes(" 64 MiB "), Ok(64 << 20));
    assert_eq!(parse_bytes("4g"), Ok(4 << 30));
    assert_eq!(parse_bytes("250MB"), Ok(250_000_000));
    for bad in [
        "",
        "MiB",
        "1.5GiB",
        "-1",
        "12 parsecs",
        "99999999999999999999GiB",
    ] {
        assert_eq!(
            parse_bytes(bad),
            Err(SizeError { text: bad.into() }),
            "{bad}"
        );
    }
}

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

const MINIMAL: &[(&str, &str)] = &[
    ("ALLOWED_BUCKETS", "org-trail, other-trail"),
    ("ARCHIVE_BUCKET", "trail-archive"),
];

#[test]
fn minimal_environment_takes_the_documented_defaults() {
    let c = config(MINIMAL).unwrap();
    assert_eq!(c.allowed_buckets, ["org-trail", "other-trail"]);
    assert_eq!(c.settings.archive_prefix, "cloudtrail");
    assert_eq!(c.settings.limits, Limits::default());
    assert_eq!(c.logs_puts_per_second.get(), 50);
    assert_eq!(
        u128::from(c.deadline_grace_ms),
        crate::ports::DEADLINE_GRACE.as_millis(),
        "the default grace is the derived one"
    );
    assert_eq!(c.settings.max_event_age_ms, MAX_EVENT_AGE_MS);
    assert_eq!(c.continuation_senders, None, "unset: every sender");
    let mut vars = MINIMAL.to_vec();
    vars.push((
        "CONTINUATION_SENDERS",
        " AROAFORWARDERROLE01 , AROAREPLAYROLE00001,",
    ));
    assert_eq!(
        config(&vars).unwrap().continuation_senders.unwrap(),
        ["AROAFORWARDERROLE01", "AROAREPLAYROLE00001"]
    );
    let mut vars = MINIMAL.to_vec();
    vars.push(("LOG_GROUP_RETENTION_DAYS", "3"));
    assert_eq!(config(&vars).unwrap().settings.max_event_age_ms, 3 * DAY_MS);
    vars.pop();
    vars.push(("LOG_GROUP_RETENTION_DAYS", "365"));
    assert_eq!(
        config(&vars).unwrap().settings.max_event_age_ms,
        MAX_EVENT_AGE_MS
    );
    assert_eq!(c.message_concurrency, 4);
    assert!(c.settings.rules.is_empty());
    assert_eq!(c.expected_bucket_owner, None);
    // Every default parses: the table cannot hold a value the code refuses.
    for v in VARIABLES {
        assert!(
            v.required
                || v.default.is_some()
                || matches!(
                    v.name,
                    "EXPECTED_BUCKET_OWNER"
                        | "ARCHIVE_BUCKET_OWNER"
                        | "ARCHIVE_KMS_KEY_ID"
                        | "RULES"
                        | "DEAD_LETTER_QUEUE_URL"
                        | "CONTINUATION_SENDERS"
                        | "ROUTE_LOG_GROUP_PREFIX"
                        | "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
                        | "LOG_GROUP_RETENTION_DAYS"
                        | "LOG_GROUP_KMS_KEY_ID"
                ),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_bad_value_names_its_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("ALLOWED_BUCKETS", "", "is required"),
        ("ALLOWED_BUCKETS", "Bad_Bucket", "is not a bucket name"),
        ("ARCHIVE_BUCKET", "x", "is not a bucket name"),
        (
            "EXPECTED_BUCKET_OWNER",
            "12345",
            "is not a 12-digit account id",
        ),
        (
            "ARCHIVE_BUCKET_OWNER",
            "1234567890123",
            "is not a 12-digit account id",
        ),
        ("LOG_GROUP", "/has space", "log group names take only"),
        ("LOG_STREAM", "{nope}", "unknown placeholder"),
        (
            "RULES",
            "{\"Routes\":[{\"Name\":\"r\",\"FilterPattern\":\"{ $.a = }\"}]}",
            "invalid filter pattern at byte 8",
        ),
        ("RULES", "/no/such/rules.yaml", "/no/such/rules.yaml"),
        ("LOGS_PUTS_PER_SECOND", "0", "must be between 1"),
        ("ACCOUNT_EVENTS_PER_SECOND", "many", "is not a whole number"),
        ("MAX_OBJECT_BYTES", "huge", "is not a size"),
        ("DEADLINE_GRACE_MS", "-5", "is not a whole number"),
        ("MESSAGE_CONCURRENCY", "65", "between 1 and 64"),
        ("CONTINUATION_DELAY_SECONDS", "901", "between 0 and 900"),
        (
            "CONTINUATION_SENDERS",
            "AROAFORWARDERROLE01,arn:aws:iam::111122223333:role/x",
            "is not an IAM unique id",
        ),
        ("LOG_GROUP_RETENTION_DAYS", "0", "at least 1 day"),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "lots",
            "is not a whole number of MB",
        ),
        (
            "RULES",
            r#"{"Routes":[{"Name":"elsewhere","FilterPattern":"x","LogGroup":"/other/{region}"}]}"#,
            "route \"elsewhere\" names a LogGroup, but ROUTE_LOG_GROUP_PREFIX is not set",
        ),
    ];
    for (name, value, message) in cases {
        let mut vars: Vec<(&str, &str)> =
            MINIMAL.iter().filter(|(k, _)| k != name).copied().collect();
        vars.push((name, value));
        let e = config(&vars).unwrap_err();
        assert_eq!(e.variable, *name, "{e}");
        assert!(e.message.contains(message), "{name}={value}: {e}");
    }
}

#[test]
fn reads_exactly_the_listed_variables() {
    // The deployment template and the README are checked against VARIABLES; this keeps
    // VARIABLES equal to what the code reads.
    let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let map: HashMap<&str, &str> = MINIMAL.iter().copied().collect();
    Config::from_lookup(|name| {
        read.borrow_mut().insert(name.to_owned());
        map.get(name).map(|v| (*v).to_owned())
    })
    .unwrap();
    let listed: std::collections::BTreeSet<String> =
        VARIABLES.iter().map(|v| v.name.to_owned()).collect();
    assert_eq!(read.into_inner(), listed);
}

#[test]
fn objects_in_flight_must_fit_in_the_function_memory() {
    let mut vars = MINIMAL.to_vec();
    vars.extend([
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("MESSAGE_CONCURRENCY", "4"),
    ]);
    let e = config(&vars).unwrap_err();
    assert_eq!(e.variable, "MESSAGE_CONCURRENCY");
    assert!(
        e.message
            .contains("need up to 412 MB, more than the function's 256 MB"),
        "{e}"
    );
    vars.pop();
    vars.push(("MESSAGE_CONCURRENCY", "2"));
    assert_eq!(config(&vars).unwrap().message_concurrency, 2);
    // The template's default: 1,024 MB and four messages at once.
    vars.truncate(MINIMAL.len());
    vars.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"));
    assert_eq!(config(&vars).unwrap().message_concurrency, 4);
}

#[test]
fn route_log_groups_must_lie_under_the_granted_prefix() {
    let rules = |group: &'static str| -> String {
        format!(r#"{{"Routes":[{{"Name":"r","FilterPattern":"x","LogGroup":"{group}"}}]}}"#)
    };
    let inside = rules("/trailrelay/routes/{account_id}");
    let outside = rules("/aws/{account_id}");
    let mut vars = MINIMAL.to_vec();
    vars.push(("ROUTE_LOG_GROUP_PREFIX", "/trailrelay/routes/"));
    vars.push(("RULES", inside.as_str()));
    assert_eq!(config(&vars).unwrap().settings.rules.routes().len(), 1);
    vars.pop();
    vars.push(("RULES", outside.as_str()));
    let e = config(&vars).unwrap_err();
    assert_eq!(e.variable, "RULES");
    assert!(
        e.message
            .contains(r#"route "r" sends events to log group "/aws/"..., outside ROUTE_LOG_GROUP_PREFIX "/trailrelay/routes/""#),
        "{e}"
    );
}

/// A prefix that would grant every group (or AWS's own) is refused by name; the groups the
/// function creates take the stack's retention and key.
#[test]
fn a_route_prefix_names_a_folder_of_its_own() {
    for (prefix, refused) in [
        ("/", true),
        ("/aws", true),
        ("/aws/", true),
        ("/Aws/lambda/", true),
        ("/trailrelay", true),
        ("", true),
        ("/trailrelay/", false),
        ("/trailrelay/routes/", false),
        ("team/routes/", false),
        ("/aws-audit/", false),
    ] {
        let mut vars = MINIMAL.to_vec();
        vars.push(("ROUTE_LOG_GROUP_PREFIX", prefix));
        let result = config(&vars);
        // A blank value is unset (no routes may name a group), not a prefix.
        if prefix.is_empty() {
            assert!(result.is_ok());
            assert!(check_route_prefix(prefix).is_err());
            continue;
        }
        match result {
            Err(e) if refused => assert_eq!(e.variable, "ROUTE_LOG_GROUP_PREFIX", "{prefix}"),
            Ok(_) if !refused => {}
            other => panic!("{prefix:?}: {other:?}"),
        }
    }
    let mut vars = MINIMAL.to_vec();
    vars.push(("LOG_GROUP_RETENTION_DAYS", "30"));
    vars.push((
        "LOG_GROUP_KMS_KEY_ID",
        "arn:aws:kms:us-east-1:111122223333:key/k",
    ));
    assert_eq!(
        config(&vars).unwrap().new_log_groups,
        NewLogGroups {
            retention_days: Some(30),
            kms_key_id: Some("arn:aws:kms:us-east-1:111122223333:key/k".into()),
        }
    );
    assert_eq!(
        config(MINIMAL).unwrap().new_log_groups,
        NewLogGroups::default()
    );
}

#[test]
fn rules_by_name_load_the_built_in_pack() {
    let mut vars = MINIMAL.to_vec();
    vars.push(("RULES", "cis"));
    let c = config(&vars).unwrap();
    assert_eq!(c.settings.rules.filters().len(), 29);
}

#[test]
fn readme_documents_every_variable_of_every_function() {
    let readme = include_str!("../../../README.md");
    let functions = [
        VARIABLES,
        crate::replay::config::VARIABLES,
        crate::integrity::config::VARIABLES,
    ];
    for v in functions.iter().flat_map(|f| f.iter()) {
        assert!(
            readme.contains(&format!("`{}`", v.name)),
            "README lacks {}",
            v.name
        );
    }
}
