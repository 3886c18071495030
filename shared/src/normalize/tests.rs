use serde_json::{Value, json};

use super::*;
use crate::testing::cloudtrail_records;

const ORG_KEY: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/eu-west-1/2026/11/01/\
                       111122223333_CloudTrail_eu-west-1_20261101T0005Z_abcdEFGH12345678.json.gz";

fn normalize(record: &Value) -> Event<'static> {
    let key = TrailKey::parse(ORG_KEY);
    let origin = Origin {
        bucket: "trail-bucket",
        key: ORG_KEY,
        trail_key: &key,
    };
    let bytes = serde_json::to_vec(record).unwrap();
    let n = parse(&bytes, 0, &origin).unwrap();
    n.event.into_owned()
}

fn s<'a>(e: &'a Option<Cow<'_, str>>) -> Option<&'a str> {
    e.as_deref()
}

#[test]
fn every_fixture_record_normalises_and_agrees_with_its_fields() {
    let records = cloudtrail_records();
    // All the real records of the fixture set: a drop here means a fixture went missing.
    assert!(
        records.len() >= 3800,
        "only {} fixture records",
        records.len()
    );
    let key = TrailKey::parse(ORG_KEY);
    let origin = Origin {
        bucket: "b",
        key: ORG_KEY,
        trail_key: &key,
    };
    let mut with_time = 0;
    for (i, r) in records.iter().enumerate() {
        let value: Value = serde_json::from_slice(&r.json).unwrap();
        let n = parse(&r.json, i as u64, &origin)
            .unwrap_or_else(|e| panic!("{}: record {i}: {e}", r.file.display()));
        let e = &n.event;
        let at = || format!("{} record {i}", r.file.display());
        assert_eq!(n.json.as_bytes(), &r.json[..], "{}", at());
        let want_id = value["eventID"].as_str().or(value["eventId"].as_str());
        assert_eq!(s(&e.event_id), want_id, "{}", at());
        assert_eq!(s(&e.error_code), value["errorCode"].as_str(), "{}", at());
        assert_eq!(s(&e.user_agent), value["userAgent"].as_str(), "{}", at());
        assert_eq!(
            s(&e.source_ip),
            value["sourceIPAddress"].as_str(),
            "{}",
            at()
        );
        let want_account = value["recipientAccountId"]
            .as_str()
            .or(value["accountId"].as_str())
            .unwrap_or("111122223333");
        assert_eq!(s(&e.account_id), Some(want_account), "{}", at());
        let want_region = value["awsRegion"].as_str().unwrap_or("eu-west-1");
        assert_eq!(s(&e.region), Some(want_region), "{}", at());
        if let Some(cat) = value["eventCategory"].as_str() {
            assert_eq!(s(&e.category), Some(cat), "{}", at());
        }
        match &value["readOnly"] {
            Value::Bool(b) => assert_eq!(e.read_only, Some(*b), "{}", at()),
            Value::Null => assert_eq!(e.read_only, None, "{}", at()),
            _ => {}
        }
        let want_service = value["eventSource"]
            .as_str()
            .or(value["insightDetails"]["eventSource"].as_str());
        assert_eq!(s(&e.service), want_service, "{}", at());
        assert_eq!(
            e.principal.is_some(),
            value["userIdentity"].is_object(),
            "{}",
            at()
        );
        if let Some(p) = &e.principal {
            assert_eq!(
                s(&p.kind),
                value["userIdentity"]["type"].as_str(),
                "{}",
                at()
            );
            assert_eq!(s(&p.arn), value["userIdentity"]["arn"].as_str(), "{}", at());
        }
        if let Some(t) = value["eventTime"].as_str()
            && t.ends_with('Z')
        {
            let ts = e.time.unwrap_or_else(|| panic!("{}: time {t}", at()));
            assert_eq!(ts.to_string().get(..19), t.get(..19), "{}", at());
            with_time += 1;
        }
        let mut line = Vec::new();
        write_archive_line(&mut line, &n, i as u64, &origin, &["r1"]);
        assert_eq!(line.last(), Some(&b'\n'));
        let archived: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(archived["record"], value, "{}", at());
        assert_eq!(archived["source"]["index"], i, "{}", at());
    }
    assert!(with_time > 3500, "{with_time}");
}

#[test]
fn management_call_by_an_assumed_role_from_the_cli() {
    let e = normalize(&json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:alice",
            "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            "accountId": "111122223333",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin", "userName": "Admin"},
                "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "true"}
            }
        },
        "eventTime": "2026-11-01T00:03:12Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "AttachRolePolicy",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 botocore/2.0",
        "requestParameters": {"roleName": "x", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        "responseElements": null,
        "eventID": "e-1",
        "readOnly": false,
        "resources": [{"ARN": "arn:aws:iam::111122223333:role/x", "type": "AWS::IAM::Role"}, {"ARNPrefix": "arn:aws:s3:::b/", "type": "AWS::S3::Object"}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    }));
    assert_eq!(e.timestamp_ms(), Some(1_793_491_392_000));
    assert_eq!(s(&e.category), Some("Management"));
    assert_eq!(e.read_only, Some(false));
    assert_eq!(e.via, Some(Via::Cli));
    assert_eq!(s(&e.action), Some("AttachRolePolicy"));
    assert_eq!(
        e.resources,
        ["arn:aws:iam::111122223333:role/x", "arn:aws:s3:::b/"]
    );
    let p = e.principal.unwrap();
    assert_eq!(s(&p.name), Some("alice"));
    assert_eq!(
        s(&p.session_issuer),
        Some("arn:aws:iam::111122223333:role/Admin")
    );
    assert_eq!(p.mfa, Some(true));
    assert_eq!(p.invoked_by, None);
}

#[test]
fn insight_event_has_no_identity_and_takes_service_from_its_details() {
    let e = normalize(&json!({
        "eventVersion": "1.07",
        "eventTime": "2019-11-14T00:51:00Z",
        "awsRegion": "us-east-1",
        "eventID": "EXAMPLE8-9621-4d00-b913-beca2EXAMPLE",
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "123456789012",
        "sharedEventID": "x",
        "insightDetails": {"state": "Start", "eventSource": "ssm.amazonaws.com", "eventName": "UpdateInstanceAssociationStatus", "insightType": "ApiCallRateInsight"},
        "eventCategory": "Insight"
    }));
    assert_eq!(s(&e.category), Some("Insight"));
    assert_eq!(s(&e.service), Some("ssm.amazonaws.com"));
    assert_eq!(s(&e.action), Some("UpdateInstanceAssociationStatus"));
    assert_eq!(e.principal, None);
    assert_eq!(e.via, None);
}

#[test]
fn oddly_typed_and_missing_fields_become_none() {
    let e = normalize(&json!({
        "eventTime": 12,
        "eventSource": null,
        "eventName": ["x"],
        "awsRegion": {"a": 1},
        "readOnly": "TRUE",
        "managementEvent": "false",
        "userIdentity": "root",
        "resources": {"ARN": "x"},
        "errorCode": false,
        "eventID": 7.5
    }));
    assert_eq!(e.time, None);
    assert_eq!(e.service, None);
    assert_eq!(e.action, None);
    // Falls back to the key's region and account.
    assert_eq!(s(&e.region), Some("eu-west-1"));
    assert_eq!(s(&e.account_id), Some("111122223333"));
    assert_eq!(e.read_only, Some(true));
    assert_eq!(s(&e.category), Some("Data"));
    assert_eq!(e.principal, None);
    assert!(e.resources.is_empty());
    assert_eq!(e.error_code, None);
    assert_eq!(e.event_id, None);
    // No agent, no address, no identity: nothing says how the call was made.
    assert_eq!(e.via, None);
}

#[test]
fn empty_record_is_all_nulls_but_the_key_fallbacks() {
    let e = normalize(&json!({}));
    assert_eq!(e.time, None);
    assert_eq!(e.category, None);
    assert_eq!(e.via, None);
    assert_eq!(s(&e.account_id), Some("111122223333"));
}

#[test]
fn times_without_offset_are_utc() {
    let e = normalize(&json!({"eventTime": "2025-01-21 17:49:47.000000000"}));
    assert_eq!(
        e.time.map(|t| t.to_string()).as_deref(),
        Some("2025-01-21T17:49:47Z")
    );
    assert_eq!(normalize(&json!({"eventTime": "yesterday"})).time, None);
}

#[test]
fn escaped_strings_are_decoded() {
    let e = normalize(&json!({"userAgent": "a \"quoted\" agent\u{e9}", "eventName": "X"}));
    assert_eq!(s(&e.user_agent), Some("a \"quoted\" agent\u{e9}"));
}

#[test]
fn category_is_derived_when_absent() {
    let cat = |v: Value| normalize(&v).category.map(Cow::into_owned);
    assert_eq!(
        cat(json!({"eventType": "AwsCloudTrailInsight"})).as_deref(),
        Some("Insight")
    );
    assert_eq!(
        cat(json!({"eventType": "AwsVpceEvent"})).as_deref(),
        Some("NetworkActivity")
    );
    assert_eq!(
        cat(json!({"managementEvent": true})).as_deref(),
        Some("Management")
    );
    assert_eq!(
        cat(json!({"managementEvent": false})).as_deref(),
        Some("Data")
    );
    assert_eq!(cat(json!({"eventType": "AwsApiCall"})), None);
}

#[test]
fn via_classification() {
    let via = |v: Value| normalize(&v).via;
    assert_eq!(
        via(json!({"userAgent": "console.amazonaws.com"})),
        Some(Via::Console)
    );
    assert_eq!(
        via(json!({"userAgent": "signin.amazonaws.com"})),
        Some(Via::Console)
    );
    assert_eq!(
        via(json!({"userAgent": "Mozilla/5.0", "sessionCredentialFromConsole": "true"})),
        Some(Via::Console)
    );
    assert_eq!(
        via(json!({"userAgent": "[aws-cli/1.18.69 Python/3.8]"})),
        Some(Via::Cli)
    );
    assert_eq!(
        via(json!({"userAgent": "Boto3/1.17.80 Python/3.9.5 Botocore/1.20.80"})),
        Some(Via::Sdk)
    );
    assert_eq!(
        via(json!({"userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 aws-sdk-go-v2/1.21.0"})),
        Some(Via::Sdk)
    );
    assert_eq!(
        via(json!({"userAgent": "config.amazonaws.com", "userIdentity": {"type": "AssumedRole"}})),
        Some(Via::Service)
    );
    assert_eq!(
        via(
            json!({"userAgent": "aws-cli/2", "userIdentity": {"type": "AssumedRole", "invokedBy": "cloudformation.amazonaws.com"}})
        ),
        Some(Via::Service)
    );
    assert_eq!(
        via(json!({"userIdentity": {"type": "AWSService"}})),
        Some(Via::Service)
    );
    assert_eq!(
        via(json!({"sourceIPAddress": "AWS Internal"})),
        Some(Via::Service)
    );
    assert_eq!(via(json!({"userAgent": "curl/8.0"})), Some(Via::Other));
    assert_eq!(
        via(json!({"eventSource": "signin.amazonaws.com", "userAgent": "Mozilla/5.0 (X11)"})),
        Some(Via::Console)
    );
}

#[test]
fn console_sign_in_mfa_comes_from_additional_event_data() {
    let e = normalize(&json!({
        "eventName": "ConsoleLogin",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob"},
        "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com"},
        "userAgent": "Mozilla/5.0"
    }));
    let p = e.principal.unwrap();
    assert_eq!(p.mfa, Some(false));
    assert_eq!(s(&p.name), Some("bob"));
}

#[test]
fn root_principal_has_no_path_name() {
    let e = normalize(
        &json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}}),
    );
    assert_eq!(e.principal.unwrap().name, None);
}

#[test]
fn invalid_records_fail_with_their_index() {
    let key = TrailKey::parse(ORG_KEY);
    let origin = Origin {
        bucket: "b",
        key: ORG_KEY,
        trail_key: &key,
    };
    let e = parse(br#"{"a":tru}"#, 4, &origin).unwrap_err();
    assert!(matches!(e, RecordError::Json { index: 4, .. }), "{e}");
    let e = parse(b"{\"a\":\"\xff\"}", 5, &origin).unwrap_err();
    assert!(
        matches!(
            e,
            RecordError::Utf8 {
                index: 5,
                valid_up_to: 6
            }
        ),
        "{e}"
    );
}

#[test]
fn archive_line_has_the_documented_shape() {
    let key = TrailKey::parse(ORG_KEY);
    let origin = Origin {
        bucket: "trail-bucket",
        key: ORG_KEY,
        trail_key: &key,
    };
    let record = br#"{"eventTime":"2026-11-01T00:03:12Z","eventName":"ListBuckets","eventSource":"s3.amazonaws.com","readOnly":true,"eventID":"id-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"userAgent":"aws-cli/2","sourceIPAddress":"203.0.113.9","recipientAccountId":"111122223333","awsRegion":"eu-west-1","eventCategory":"Management"}"#;
    let n = parse(record, 17, &origin).unwrap();
    let mut line = Vec::new();
    write_archive_line(&mut line, &n, 17, &origin, &["cis-4.4"]);
    let text = std::str::from_utf8(&line).unwrap();
    assert!(text.ends_with(&format!(
        ",\"record\":{}}}\n",
        std::str::from_utf8(record).unwrap()
    )));
    let v: Value = serde_json::from_str(text).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "time",
        "org_id",
        "account_id",
        "region",
        "category",
        "read_only",
        "service",
        "action",
        "error_code",
        "principal",
        "source_ip",
        "user_agent",
        "via",
        "resources",
        "event_id",
        "addendum",
        "rules",
        "source",
        "record",
    ];
    expected.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected);
    assert_eq!(v["time"], "2026-11-01T00:03:12Z");
    assert_eq!(v["org_id"], "o-exampleorg1");
    assert_eq!(v["via"], "cli");
    assert_eq!(v["error_code"], Value::Null);
    assert_eq!(v["addendum"], Value::Null);
    assert_eq!(v["principal"]["type"], "IAMUser");
    assert_eq!(v["principal"]["name"], "alice");
    assert_eq!(v["principal"]["mfa"], Value::Null);
    assert_eq!(v["rules"], json!(["cis-4.4"]));
    assert_eq!(
        v["source"],
        json!({"bucket": "trail-bucket", "key": ORG_KEY, "index": 17})
    );
}

#[test]
fn only_objects_are_records_and_repeated_names_compare_decoded() {
    let key = TrailKey::parse("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f.json.gz");
    let origin = Origin {
        bucket: "b",
        key: "k",
        trail_key: &key,
    };
    // An array would fill the record's fields by position; it is not a record.
    for (not_a_record, kind) in [
        (
            r#"["2026-11-01T00:00:00Z","s3.amazonaws.com","GetObject"]"#,
            "an array",
        ),
        ("42", "a number"),
        (r#""x""#, "a string"),
        (" null ", "null"),
        ("true", "a boolean"),
    ] {
        let e = parse(not_a_record.as_bytes(), 3, &origin).unwrap_err();
        assert!(
            matches!(e, RecordError::NotAnObject { index: 3, kind: k } if k == kind),
            "{not_a_record}: {e}"
        );
        assert_eq!(
            e.to_string(),
            format!("record 3 is JSON, but {kind}, not an object")
        );
    }
    // Not JSON at all is said so, object-like or not.
    for not_json in ["4 2", "[1,", "{\"a\":tru}"] {
        let e = parse(not_json.as_bytes(), 3, &origin).unwrap_err();
        assert!(matches!(e, RecordError::Json { .. }), "{not_json}: {e}");
    }
    // The escaped spelling of a name repeats it: the first one counts, the rest still derive.
    let text = r#"{"eventName":"First","\u0065ventName":"Second","eventSource":"iam.amazonaws.com","eventTime":"2026-11-01T00:00:00Z","readOnly":1e999}"#;
    let e = parse(text.as_bytes(), 0, &origin).unwrap().event;
    assert_eq!(e.action.as_deref(), Some("First"));
    assert_eq!(e.service.as_deref(), Some("iam.amazonaws.com"));
    assert!(e.time.is_some());
    assert_eq!(e.read_only, None);
}

fn fixture(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(crate::testing::testdata().join(path)).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Array(records) => records,
        Value::Object(o) if o.contains_key("Records") => o["Records"].as_array().unwrap().clone(),
        one => vec![one],
    }
}

fn normalize_in(record: &Value, key: &str) -> Event<'static> {
    let key = TrailKey::parse(key);
    let origin = Origin {
        bucket: "b",
        key: "k",
        trail_key: &key,
    };
    let bytes = serde_json::to_vec(record).unwrap();
    parse(&bytes, 0, &origin).unwrap().event.into_owned()
}

#[test]
fn aggregated_data_events_take_their_id_account_and_window() {
    let key = "AWSLogs/o-aaaaaaaaaa/111122223333/CloudTrail-Aggregated/us-west-2/2025/11/17/\
               111122223333_CloudTrail-Aggregated_us-west-2_20251117T1925Z_0123456789abcdef.json.gz";
    for record in fixture("cloudtrail/aws-docs-current/aggregated-data-events.json") {
        let e = normalize_in(&record, key);
        assert_eq!(s(&e.event_id), record["eventId"].as_str());
        assert_eq!(s(&e.account_id), Some("111122223333"));
        assert_eq!(s(&e.region), Some("us-west-2"));
        assert_eq!(s(&e.category), Some("Aggregated"));
        assert_eq!(s(&e.service), Some("s3.amazonaws.com"));
        assert_eq!(
            e.time.map(|t| t.to_string()).as_deref(),
            Some("2025-11-17T19:20:00Z")
        );
        assert_eq!((e.principal.is_none(), e.via), (true, None));
    }
    // Without its category, the type or the key's folder tells.
    let mut bare = fixture("cloudtrail/aws-docs-current/aggregated-data-events.json")[0].clone();
    bare.as_object_mut().unwrap().remove("eventCategory");
    assert_eq!(s(&normalize_in(&bare, key).category), Some("Aggregated"));
    bare.as_object_mut().unwrap().remove("eventType");
    assert_eq!(s(&normalize_in(&bare, key).category), Some("Aggregated"));
}

#[test]
fn network_activity_events_keep_their_denial() {
    let key = "AWSLogs/123456789012/CloudTrail-NetworkActivity/us-east-1/2024/07/15/\
               123456789012_CloudTrail-NetworkActivity_us-east-1_20240715T2355Z_0123456789abcdef.json.gz";
    let record =
        &fixture("cloudtrail/aws-docs-current/network-activity-vpce-access-denied.json")[0];
    let e = normalize_in(record, key);
    assert_eq!(s(&e.category), Some("NetworkActivity"));
    assert_eq!(s(&e.error_code), Some("VpceAccessDenied"));
    assert_eq!(s(&e.account_id), Some("123456789012"));
    assert_eq!(s(&e.event_id), Some("7c6e3d04-0c3b-42f2-8589-EXAMPLE826c0"));
    assert_eq!(s(&e.action), Some("ListKeys"));
    let p = e.principal.unwrap();
    assert_eq!(
        (s(&p.kind), s(&p.account_id)),
        (Some("AWSAccount"), Some("777788889999"))
    );
    let mut bare = record.clone();
    for field in ["eventCategory", "eventType"] {
        bare.as_object_mut().unwrap().remove(field);
    }
    assert_eq!(
        s(&normalize_in(&bare, key).category),
        Some("NetworkActivity"),
        "from the folder"
    );
}

#[test]
fn insights_start_and_end_keep_their_times_and_details() {
    let key = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/01/31/\
               111122223333_CloudTrail-Insight_us-east-1_20260131T2355Z_0123456789abcdef.json.gz";
    let pair = fixture("cloudtrail/aws-docs/cloudtrail-user-guide/insights-start-end-pair.json");
    assert_eq!(pair.len(), 2);
    for record in &pair {
        let e = normalize_in(record, key);
        assert_eq!(s(&e.category), Some("Insight"));
        assert_eq!(s(&e.event_id), record["eventID"].as_str());
        assert_eq!(s(&e.action), record["insightDetails"]["eventName"].as_str());
        let time = e.time.unwrap().to_string();
        assert_eq!(
            time.get(..19),
            record["eventTime"].as_str().unwrap().get(..19)
        );
    }
}

#[test]
fn late_and_corrected_events_carry_their_addendum() {
    // The documented fields of `addendum` (no example is published).
    let corrected = json!({"eventVersion": "1.08", "eventTime": "2026-11-01T00:00:00Z",
        "eventID": "new-id", "eventName": "PutObject", "eventSource": "s3.amazonaws.com",
        "addendum": {"reason": "UPDATED_DATA", "updatedFields": "sourceIPAddress",
                     "originalRequestID": "REQ1", "originalEventID": "old-id"}});
    let e = normalize_in(&corrected, "k.json.gz");
    assert_eq!(
        e.addendum,
        Some(Addendum {
            reason: Some("UPDATED_DATA".into()),
            original_event_id: Some("old-id".into()),
            original_request_id: Some("REQ1".into()),
            updated_fields: Some("sourceIPAddress".into()),
        })
    );
    let late = json!({"eventID": "x", "addendum": {"reason": "DELIVERY_DELAY"}});
    let e = normalize_in(&late, "k.json.gz");
    let a = e.addendum.unwrap();
    assert_eq!(
        (s(&a.reason), a.original_event_id),
        (Some("DELIVERY_DELAY"), None)
    );
    assert_eq!(
        normalize_in(&json!({"eventID": "y"}), "k.json.gz").addendum,
        None
    );
    assert_eq!(
        normalize_in(&json!({"addendum": "odd"}), "k.json.gz").addendum,
        None
    );
}
