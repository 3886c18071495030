//! Table-driven tests: one table per construct, each case citing the documentation example
//! it encodes. Sources (see the project's filter pattern notes):
//! FPS  = "Filter pattern syntax for metric filters, subscription filters, filter log events,
//!        and Live Tail" (current user guide);
//! OLD21 = the 2021 revision of the same page (awsdocs/amazon-cloudwatch-logs-user-guide);
//! TMF  = the TestMetricFilter API reference; MFS = "Filter pattern syntax for metric filters";
//! SH   = Security Hub CloudWatch controls; CDK = aws-cdk-lib/aws-logs pattern.ts.

use proptest::prelude::*;

use super::*;

/// Asserts, for each (message, expected) pair, whether `pattern` matches.
fn check(pattern: &str, cases: &[(&str, bool)]) {
    let p = FilterPattern::parse(pattern).unwrap_or_else(|e| panic!("{e}"));
    for (message, want) in cases {
        let doc = Document::parse_full(message);
        assert_eq!(
            p.matches(message, doc.as_ref()),
            *want,
            "pattern {pattern:?} on {message:?}"
        );
    }
}

/// Asserts that `pattern` fails with `kind` at byte `offset`.
fn refuse(pattern: &str, offset: usize, kind: PatternErrorKind) {
    let e = FilterPattern::parse(pattern).expect_err(pattern);
    assert_eq!((e.offset(), e.kind()), (offset, &kind), "{pattern:?}: {e}");
}

// ---- match everything -----------------------------------------------------------------------

#[test]
fn match_everything_forms() {
    // OLD21: the filter pattern "" matches all log events.
    check("", &[("anything", true), ("", true)]);
    // CountingLogEventsExample: a blank pattern (" ") matches every event.
    check(" ", &[("anything", true)]);
    // FPS "Match everything": the quoted single space.
    check("\" \"", &[("nospace", true)]);
    check("\"\"", &[("x", true)]);
    assert_eq!(
        FilterPattern::parse("").unwrap().family(),
        PatternFamily::All
    );
}

// ---- terms ----------------------------------------------------------------------------------

#[test]
fn single_term_is_a_case_sensitive_substring() {
    // OLD18/OLD21: ERROR matches "Exiting with ERRORCODE: -1"; substring, not whole word.
    check(
        "ERROR",
        &[
            ("[ERROR] A fatal exception has occurred", true),
            ("Exiting with ERRORCODE: -1", true),
            ("[INFO] error in lower case", false),
            ("", false),
        ],
    );
    // CountOccurrencesExample: "Error" matches "This message contains an Error".
    check(
        "Error",
        &[("This message contains an Error", true), ("ERROR", false)],
    );
}

#[test]
fn several_terms_must_all_occur() {
    // FPS "Match multiple terms": ERROR ARGUMENTS.
    check(
        "ERROR ARGUMENTS",
        &[
            ("[ERROR] Invalid arguments ARGUMENTS", true),
            ("[ERROR] Unknown", false),
            ("ARGUMENTS only", false),
        ],
    );
}

#[test]
fn quoted_phrase_is_one_unit() {
    // FPS: "INTERNAL SERVER ERROR" matches the exact run, spaces included.
    check(
        "\"INTERNAL SERVER ERROR\"",
        &[
            ("[ERROR 500] INTERNAL SERVER ERROR", true),
            ("INTERNAL ERROR SERVER", false),
        ],
    );
    // TMF: "[ERROR]" Exception matches, Exception found inside InvalidQueryException.
    check(
        "\"[ERROR]\" Exception",
        &[
            ("[ERROR] Unhanded exception: InvalidQueryException", true),
            ("[ERROR] all good", false),
        ],
    );
    // Escapes inside quotes (CDK quotes terms with \" and \\).
    check(
        r#""say \"hi\"""#,
        &[(r#"they say "hi" twice"#, true), ("say hi", false)],
    );
    check(r#""a\\b""#, &[(r"path a\b", true), ("ab", false)]);
    // Two quoted phrases are two terms (doc fix, awsdocs PR #31).
    check(
        r#""ERROR" "Exception""#,
        &[("ERROR then an Exception", true)],
    );
}

#[test]
fn optional_terms_alone_are_an_or() {
    // FPS "Match optional terms": ?ERROR ?WARN.
    check(
        "?ERROR ?WARN",
        &[("[ERROR] x", true), ("[WARN] y", true), ("[INFO] z", false)],
    );
}

#[test]
fn optional_terms_mixed_with_others_are_ignored() {
    // FPS note: ?ERROR ?ARGUMENTS REQUEST behaves exactly like REQUEST.
    let p = FilterPattern::parse("?ERROR ?ARGUMENTS REQUEST").unwrap();
    assert!(!p.warnings().is_empty());
    check(
        "?ERROR ?ARGUMENTS REQUEST",
        &[
            ("REQUEST ok", true),
            ("ERROR ARGUMENTS", false),
            ("REQUEST ERROR", true),
        ],
    );
    // Derived: ?ERROR ?WARN -DEBUG behaves like -DEBUG.
    check(
        "?ERROR ?WARN -DEBUG",
        &[("INFO only", true), ("DEBUG ERROR", false)],
    );
}

#[test]
fn excluded_terms() {
    // FPS "Include and exclude terms": ERROR -Exiting.
    check(
        "ERROR -Exiting",
        &[
            ("[ERROR] Caught IllegalArgumentException", true),
            ("[ERROR] Exiting with code 1", false),
            ("[INFO] Exiting", false),
        ],
    );
    // Lightsail GetContainerLog: an exclusion alone returns every event without the term.
    check("-ERROR", &[("[INFO] ok", true), ("[ERROR] no", false)]);
    check(
        "-\"exit code\"",
        &[("exit  code", true), ("the exit code was 1", false)],
    );
}

#[test]
fn unquoted_punctuation_is_literal_with_a_warning() {
    // Quirk (cloudash issue #84): AWS wants such terms quoted; we match them literally.
    let p = FilterPattern::parse("request-id-123").unwrap();
    assert_eq!(p.warnings().len(), 1);
    check(
        "request-id-123",
        &[("x request-id-123 y", true), ("request id 123", false)],
    );
    assert!(
        FilterPattern::parse("ERROR_CODE 42")
            .unwrap()
            .warnings()
            .is_empty()
    );
}

#[test]
fn terms_search_json_messages_as_text() {
    let record = r#"{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}"#;
    check("ConsoleLogin \"Failed authentication\"", &[(record, true)]);
    check(
        "\"\\\"eventName\\\":\\\"ConsoleLogin\\\"\"",
        &[(record, true)],
    );
}

// ---- standalone regex -----------------------------------------------------------------------

#[test]
fn standalone_regex() {
    // FPS: %AUTHORIZED% matches "[ERROR 401] UNAUTHORIZED REQUEST".
    check(
        "%AUTHORIZED%",
        &[
            ("[ERROR 401] UNAUTHORIZED REQUEST", true),
            ("authorized", false),
        ],
    );
    // FPS: %[Ee]rror|[Ff]ail%.
    check(
        "%[Ee]rror|[Ff]ail%",
        &[("an error", true), ("Failure", true), ("ok", false)],
    );
    // FPS: anchors on the whole message.
    check(
        "%^starting|^initializing|^shutting down%",
        &[("shutting down", true), ("not starting", false)],
    );
    check("  %ab+c%  ", &[("xabbbcx", true)]);
    assert_eq!(
        FilterPattern::parse("%a%").unwrap().family(),
        PatternFamily::Regex
    );
}

// ---- JSON patterns --------------------------------------------------------------------------

/// The event the filter pattern syntax page uses for its JSON examples (FPS, OLD21).
const DOC_EVENT: &str = r#"{"eventType":"UpdateTrail","sourceIPAddress":"111.111.111.111","arrayKey":["value","another value"],"objectList":[{"name":"a","id":1},{"name":"b","id":2}],"SomeObject":null,"cluster.name":"c","ThisFlag":true,"latency":50,"ratio":0.5,"users":[1,2,3],"empty":{}}"#;

#[test]
fn json_strings() {
    // FPS examples on the documented event.
    check(r#"{ $.eventType = "UpdateTrail" }"#, &[(DOC_EVENT, true)]);
    check("{ $.eventType = UpdateTrail }", &[(DOC_EVENT, true)]);
    check(r#"{ $.eventType != "UpdateTrail" }"#, &[(DOC_EVENT, false)]);
    check(r#"{ $.eventType = "updatetrail" }"#, &[(DOC_EVENT, false)]);
    // OLD21: {$.foo = bar} matches {"foo": "bar"}; exact, not substring.
    check(
        "{$.foo = bar}",
        &[(r#"{"foo":"bar"}"#, true), (r#"{"foo":"barn"}"#, false)],
    );
    // SH: no blanks around operators and parentheses.
    check(
        r#"{$.eventType!="AwsServiceEvent"}"#,
        &[(r#"{"eventType":"AwsApiCall"}"#, true)],
    );
    // Bare values with dots (SH CloudWatch.7 eventSource=kms.amazonaws.com).
    check(
        "{$.eventSource=kms.amazonaws.com}",
        &[(r#"{"eventSource":"kms.amazonaws.com"}"#, true)],
    );
    // Escaped strings in the message compare unescaped.
    check(r#"{ $.a = "x\"y" }"#, &[(r#"{"a":"x\"y"}"#, true)]);
}

#[test]
fn json_wildcard_values() {
    // MFS: {$.sourceIPAddress != 123.123.*}.
    check("{ $.sourceIPAddress != 123.123.* }", &[(DOC_EVENT, true)]);
    check("{ $.sourceIPAddress = 111.111.* }", &[(DOC_EVENT, true)]);
    // OLD21: Event* matches EventId, EventName; *Event matches PutEvent.
    check(
        "{ $.k = Event* }",
        &[
            (r#"{"k":"EventName"}"#, true),
            (r#"{"k":"AnEvent"}"#, false),
        ],
    );
    check(
        "{ $.k = *Event }",
        &[(r#"{"k":"PutEvent"}"#, true), (r#"{"k":"Events"}"#, false)],
    );
    // Both ends: contains (request = *html*).
    check(
        "{ $.k = *html* }",
        &[(r#"{"k":"/a.html?x"}"#, true), (r#"{"k":"/a.htm"}"#, false)],
    );
    // SH/CIS: wildcards inside quotes; * may match nothing.
    check(
        r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#,
        &[
            (r#"{"errorCode":"Client.UnauthorizedOperation"}"#, true),
            (r#"{"errorCode":"UnauthorizedOperation"}"#, true),
            (r#"{"errorCode":"AccessDeniedException"}"#, true),
            (r#"{"errorCode":"AccessDenied"}"#, true),
            (r#"{"errorCode":"ThrottlingException"}"#, false),
        ],
    );
    // OLD21: a * in the middle is literal: Ev*ent only matches "Ev*ent".
    check(
        "{ $.k = Ev*ent }",
        &[(r#"{"k":"Ev*ent"}"#, true), (r#"{"k":"Event"}"#, false)],
    );
    let glob = PatternOptions {
        middle_star_is_literal: false,
        ..PatternOptions::default()
    };
    let p = FilterPattern::parse_with("{ $.k = Ev*ent }", glob).unwrap();
    let m = r#"{"k":"Event"}"#;
    assert!(p.matches(m, Document::parse_full(m).as_ref()));
}

#[test]
fn json_exists_as_star() {
    // MFS: { $.latency = * } matches {"latency": 50}; CDK renders exists(f) as f = "*".
    check(
        "{ $.latency = * }",
        &[(DOC_EVENT, true), (r#"{"other":1}"#, false)],
    );
    check(r#"{ $.eventType = "*" }"#, &[(DOC_EVENT, true)]);
    // Null, booleans and objects are not values.
    check("{ $.SomeObject = * }", &[(DOC_EVENT, false)]);
    check("{ $.ThisFlag = * }", &[(DOC_EVENT, false)]);
    check("{ $.latency != * }", &[(DOC_EVENT, false)]);
}

#[test]
fn json_numbers() {
    // OLD21 NUMBER syntax and numeric operators.
    check("{ $.latency = 50 }", &[(DOC_EVENT, true)]);
    check("{ $.latency = 50.0 }", &[(DOC_EVENT, true)]);
    check("{ $.latency = 5e1 }", &[(DOC_EVENT, true)]);
    check("{ $.latency = +50 }", &[(DOC_EVENT, true)]);
    check("{ $.latency != 50 }", &[(DOC_EVENT, false)]);
    check("{ $.latency > 49 }", &[(DOC_EVENT, true)]);
    check("{ $.latency >= 50 }", &[(DOC_EVENT, true)]);
    check("{ $.latency < 50 }", &[(DOC_EVENT, false)]);
    check("{ $.latency <= 50 }", &[(DOC_EVENT, true)]);
    check("{ $.ratio < 1e-0 }", &[(DOC_EVENT, true)]);
    check("{ $.ratio = 0.5 }", &[(DOC_EVENT, true)]);
    check(
        "{ $.t > -1 }",
        &[(r#"{"t":-0.5}"#, true), (r#"{"t":-2}"#, false)],
    );
    check("{ $.t = 10e-3 }", &[(r#"{"t":0.01}"#, true)]);
    // Within types only (the default): a number literal does not equal a string node.
    check(
        "{ $.code = 400 }",
        &[(r#"{"code":"400"}"#, false), (r#"{"code":400}"#, true)],
    );
    check(r#"{ $.code = "400" }"#, &[(r#"{"code":400}"#, false)]);
    check("{ $.code > 1 }", &[(r#"{"code":"400"}"#, false)]);
    let across = PatternOptions {
        compare_across_types: true,
        ..PatternOptions::default()
    };
    for (pattern, message) in [
        ("{ $.code = 400 }", r#"{"code":"400"}"#),
        (r#"{ $.code = "400" }"#, r#"{"code":400}"#),
    ] {
        let p = FilterPattern::parse_with(pattern, across).unwrap();
        assert!(
            p.matches(message, Document::parse_full(message).as_ref()),
            "{pattern}"
        );
    }
}

#[test]
fn json_null_booleans_and_existence() {
    // FPS: IS NULL, NOT EXISTS, IS TRUE, IS FALSE.
    check("{ $.SomeObject IS NULL }", &[(DOC_EVENT, true)]);
    // OLD21: IS NULL is true only when the field is set to null; a missing field is not null.
    check("{ $.Missing IS NULL }", &[(DOC_EVENT, false)]);
    check("{ $.SomeOtherObject NOT EXISTS }", &[(DOC_EVENT, true)]);
    // A field present with null exists.
    check("{ $.SomeObject NOT EXISTS }", &[(DOC_EVENT, false)]);
    check("{ $.ThisFlag IS TRUE }", &[(DOC_EVENT, true)]);
    check("{ $.ThisFlag IS FALSE }", &[(DOC_EVENT, false)]);
    check(
        "{ $.f IS FALSE }",
        &[(r#"{"f":false}"#, true), (r#"{"f":"false"}"#, false)],
    );
    // CloudTrail's mfaAuthenticated is the string "true": not a boolean.
    check("{ $.m IS TRUE }", &[(r#"{"m":"true"}"#, false)]);
    check(
        "{ $.a.b NOT EXISTS }",
        &[(r#"{"a":"scalar"}"#, true), (r#"{"a":{"b":0}}"#, false)],
    );
}

#[test]
fn json_missing_fields_and_non_values() {
    // FPS/OLD21: a selector on an array or object matches neither = nor !=.
    check("{ $.users = 1 }", &[(DOC_EVENT, false)]);
    check("{ $.users != 1 }", &[(DOC_EVENT, false)]);
    check("{ $.empty != x }", &[(DOC_EVENT, false)]);
    // != on a missing field is false (azul issue #5884, observed with the console).
    check(
        r#"{ ($.errorCode = "AccessDenied") && ($.userIdentity.invokedBy != "cloudfront.amazonaws.com") }"#,
        &[
            (r#"{"errorCode":"AccessDenied","userIdentity":{}}"#, false),
            (
                r#"{"errorCode":"AccessDenied","userIdentity":{"invokedBy":"s3.amazonaws.com"}}"#,
                true,
            ),
        ],
    );
    check(
        "{ $.x = 1 }",
        &[(r#"{"x":null}"#, false), (r#"{"x":true}"#, false)],
    );
    check("{ $.x != 1 }", &[(r#"{"x":null}"#, false)]);
}

#[test]
fn json_selectors() {
    // FPS: array indexes, nested objects, bracket notation for dotted keys.
    check(r#"{ $.arrayKey[0] = "value" }"#, &[(DOC_EVENT, true)]);
    check(
        r#"{ $.arrayKey[1] = "another value" }"#,
        &[(DOC_EVENT, true)],
    );
    check(r#"{ $.arrayKey[2] = "value" }"#, &[(DOC_EVENT, false)]);
    check("{ $.objectList[1].id = 2 }", &[(DOC_EVENT, true)]);
    check("{ $.objectList[0].id = 2 }", &[(DOC_EVENT, false)]);
    check(
        "{ $.coordinates[0][1] = 5 }",
        &[(r#"{"coordinates":[[4,5],[6,7]]}"#, true)],
    );
    check(r#"{ $.['cluster.name'] = "c" }"#, &[(DOC_EVENT, true)]);
    check(r#"{ $['cluster.name'] = "c" }"#, &[(DOC_EVENT, true)]);
    // Descending through a scalar reaches nothing.
    check("{ $.eventType.x = * }", &[(DOC_EVENT, false)]);
    // Keys are case sensitive.
    check("{ $.EventType = * }", &[(DOC_EVENT, false)]);
}

#[test]
fn json_wildcard_selectors() {
    // FPS: { $.arrayKey[*] = %val.{2}% } and { $.* = %111\.111\.111\.1[0-9]{1,2}% } match.
    check(r#"{ $.arrayKey[*] = %val.{2}% }"#, &[(DOC_EVENT, true)]);
    check(
        r#"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }"#,
        &[(DOC_EVENT, true)],
    );
    check(
        r#"{ $.arrayKey[*] = "another value" }"#,
        &[(DOC_EVENT, true)],
    );
    check(r#"{ $.objectList[*].name = "b" }"#, &[(DOC_EVENT, true)]);
    check(r#"{ $.objectList[*].name = "c" }"#, &[(DOC_EVENT, false)]);
    // != with a wildcard: any selected element differs.
    check(r#"{ $.arrayKey[*] != "value" }"#, &[(DOC_EVENT, true)]);
    check("{ $.none[*] NOT EXISTS }", &[(DOC_EVENT, true)]);
}

#[test]
fn json_regex_values() {
    // FPS: { $.eventType = %UpdateTrail% } and regex with !=.
    check("{ $.eventType = %Trail% }", &[(DOC_EVENT, true)]);
    check("{ $.eventType = %^Trail% }", &[(DOC_EVENT, false)]);
    check("{ $.eventType != %Trail% }", &[(DOC_EVENT, false)]);
    check("{ $.eventType != %Bucket% }", &[(DOC_EVENT, true)]);
    // Regexes test strings only.
    check("{ $.latency = %50% }", &[(DOC_EVENT, false)]);
}

#[test]
fn json_precedence() {
    // FPS: && binds tighter than ||; CIS 4.1 v3.0 parses as A || (B && C && D).
    let cis41 = r#"{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }"#;
    check(
        cis41,
        &[
            (
                r#"{"errorCode":"Client.UnauthorizedOperation","eventName":"HeadBucket","sourceIPAddress":"delivery.logs.amazonaws.com"}"#,
                true,
            ),
            (
                r#"{"errorCode":"AccessDenied","eventName":"HeadBucket","sourceIPAddress":"1.2.3.4"}"#,
                false,
            ),
            (
                r#"{"errorCode":"AccessDenied","eventName":"GetObject","sourceIPAddress":"delivery.logs.amazonaws.com"}"#,
                false,
            ),
            (
                r#"{"errorCode":"AccessDenied","eventName":"GetObject","sourceIPAddress":"1.2.3.4"}"#,
                true,
            ),
        ],
    );
    check(
        "{ $.a = 1 || $.b = 1 && $.c = 1 }",
        &[
            (r#"{"a":1}"#, true),
            (r#"{"b":1}"#, false),
            (r#"{"b":1,"c":1}"#, true),
        ],
    );
    check(
        "{ ($.a = 1 || $.b = 1) && $.c = 1 }",
        &[(r#"{"a":1}"#, false), (r#"{"a":1,"c":1}"#, true)],
    );
    check("{ ((($.a = 1))) }", &[(r#"{"a":1}"#, true)]);
}

#[test]
fn equality_lists_compile_to_one_lookup_with_the_same_meaning() {
    let p = FilterPattern::parse(
        "{ ($.a = x) || ($.b = y) || ($.a = \"z\") || ($.a = w*) || $.a = x }",
    )
    .unwrap();
    let Body::Json(j) = &p.body else { panic!() };
    let Expr::Or(items) = &j.expr else {
        panic!("{:?}", j.expr)
    };
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(
        matches!(&items[0], Expr::Leaf(JsonCondition { test: Test::OneOf(list), .. }) if list == &["x", "z"])
    );
    check(
        "{ ($.a = x) || ($.b = y) || ($.a = \"z\") || ($.a = w*) }",
        &[
            (r#"{"a":"x"}"#, true),
            (r#"{"a":"z"}"#, true),
            (r#"{"a":"wow"}"#, true),
            (r#"{"b":"y"}"#, true),
            (r#"{"a":"y"}"#, false),
            (r#"{"a":["q","z"]}"#, false),
        ],
    );
    check(
        "{ $.a[*] = p || $.a[*] = q }",
        &[(r#"{"a":["x","q"]}"#, true), (r#"{"a":["x"]}"#, false)],
    );
}

#[test]
fn json_patterns_need_json_messages() {
    check(
        "{ $.a = * }",
        &[
            ("not json", false),
            ("[1,2]", false),
            (r#"{"a":"x"} trailing"#, false),
        ],
    );
    // A multi-line JSON message is still JSON.
    check("{ $.a = x }", &[("{\n  \"a\": \"x\"\n}", true)]);
}

// ---- space-delimited patterns ---------------------------------------------------------------

const APACHE_404: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
const APACHE_400_IMG: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /images/index.html HTTP/1.0" 400 1534"#;
const APACHE_400_GIF: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 400 1534"#;

fn extract(pattern: &str, message: &str) -> Option<Vec<(String, String)>> {
    let p = FilterPattern::parse(pattern).unwrap_or_else(|e| panic!("{e}"));
    p.matches_extracting(message, None).map(|e| e.0)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn space_delimited_fields_and_extraction() {
    // FPS: quotes and brackets make one field, without their delimiters.
    assert_eq!(
        extract(
            "[ip, user, username, timestamp, request, status_code, bytes]",
            APACHE_404
        ),
        Some(pairs(&[
            ("$ip", "127.0.0.1"),
            ("$user", "-"),
            ("$username", "frank"),
            ("$timestamp", "10/Oct/2000:13:25:15 -0700"),
            ("$request", "GET /index.html HTTP/1.0"),
            ("$status_code", "404"),
            ("$bytes", "1534"),
        ]))
    );
    // TMF: [..., request=*.html*, status_code=4*,] gives $1..$4, $request, $status_code, $7.
    let p = "[..., request=*.html*, status_code=4*,]";
    assert_eq!(
        extract(p, APACHE_404),
        Some(pairs(&[
            ("$1", "127.0.0.1"),
            ("$2", "-"),
            ("$3", "frank"),
            ("$4", "10/Oct/2000:13:25:15 -0700"),
            ("$request", "GET /index.html HTTP/1.0"),
            ("$status_code", "404"),
            ("$7", "1534"),
        ]))
    );
    assert!(extract(p, APACHE_400_IMG).is_some());
    assert_eq!(extract(p, APACHE_400_GIF), None);
    // TMF: [..., size] on a 7-field line gives $1..$6 and $size.
    let e = extract("[..., size]", APACHE_404).unwrap();
    assert_eq!(e.len(), 7);
    assert_eq!(e[6], ("$size".into(), "1534".into()));
    // TMF: [] matches every event and extracts every field.
    assert_eq!(
        extract("[]", "a b").unwrap(),
        pairs(&[("$1", "a"), ("$2", "b")])
    );
    assert_eq!(extract("[]", ""), Some(Vec::new()));
}

#[test]
fn space_delimited_conditions() {
    // FPS: status_code = 404 || status_code = 410; numeric comparisons.
    check(
        "[ip, user, username, timestamp, request, status_code = 404 || status_code = 410, bytes]",
        &[(APACHE_404, true), (APACHE_400_GIF, false)],
    );
    // MFS: [ip, server, username, timestamp, request, status_code, bytes > 1000].
    check(
        "[ip, server, username, timestamp, request, status_code, bytes > 1000]",
        &[(APACHE_404, true)],
    );
    check(
        "[ip, server, username, timestamp, request, status_code, bytes > 2000]",
        &[(APACHE_404, false)],
    );
    check(
        "[..., status_code >= 400 && status_code < 500, bytes]",
        &[(APACHE_404, true)],
    );
    check(
        "[..., status_code != 404, bytes]",
        &[(APACHE_404, false), (APACHE_400_GIF, true)],
    );
    // Quoted values and wildcards (FPS: srcaddr != "-", request_id="*-*").
    check(r#"[ip, user != "-", ...]"#, &[(APACHE_404, false)]);
    check(r#"[ip, user = "-", ...]"#, &[(APACHE_404, true)]);
    // Regex in a field (FPS: ip=%127\.0\.0\.[1-9]%), anchored to the field.
    check(r"[ip=%127\.0\.0\.[1-9]%, ...]", &[(APACHE_404, true)]);
    check("[ip=%^0%, ...]", &[(APACHE_404, false)]);
    // MFS: [w1=ERROR || w1=%WARN%, w2].
    check(
        "[w1=ERROR || w1=%WARN%, w2]",
        &[("ERROR x", true), ("XWARNX y", true), ("INFO z", false)],
    );
    // FPS: w1!=ERROR && w1!=WARN.
    check(
        "[w1!=ERROR && w1!=WARN, w2]",
        &[("INFO x", true), ("WARN y", false)],
    );
    // A non-numeric field never satisfies a numeric condition.
    check("[a, b > 1]", &[("x -", false), ("x 2", true)]);
}

#[test]
fn space_delimited_field_counts() {
    // Fewer fields than the pattern never match.
    check("[a, b, c]", &[("one two", false), ("one two three", true)]);
    // Without ..., the last field takes the rest of the line (the default).
    assert_eq!(
        extract(
            "[w1=ERROR, w2]",
            "ERROR 09/25/2014 12:00:02 Failed to process request"
        ),
        Some(pairs(&[
            ("$w1", "ERROR"),
            ("$w2", "09/25/2014 12:00:02 Failed to process request")
        ]))
    );
    // The OLD21 reading, behind the switch: counts must be equal.
    let strict = PatternOptions {
        last_field_takes_rest: false,
        ..PatternOptions::default()
    };
    let p = FilterPattern::parse_with("[w1=ERROR, w2]", strict).unwrap();
    assert!(p.matches("ERROR message", None));
    assert!(!p.matches("ERROR WARN message", None));
    // Runs of blanks and tabs separate once; an unclosed quote takes the rest.
    assert_eq!(
        extract("[a, b, c]", "x  \t y \"z w"),
        Some(pairs(&[("$a", "x"), ("$b", "y"), ("$c", "z w")]))
    );
}

// ---- errors ---------------------------------------------------------------------------------

#[test]
fn every_error_kind_has_its_offset() {
    use PatternErrorKind as K;
    refuse(&"a".repeat(1025), 0, K::TooLong { chars: 1025 });
    assert!(FilterPattern::parse(&"a".repeat(1024)).is_ok());
    refuse("ERROR \"unclosed", 6, K::UnclosedQuote);
    refuse("%abc", 0, K::UnclosedRegex);
    refuse("{ $.a = 1", 0, K::UnclosedBrace);
    refuse("[a, b", 0, K::UnclosedBracket);
    refuse("{ ($.a = 1 }", 2, K::UnclosedParen);
    refuse("{ $.a = 1 } x", 12, K::TrailingInput);
    refuse("[a] x", 4, K::TrailingInput);
    refuse("ERROR ?", 6, K::EmptyTerm);
    refuse("ERROR %x%", 6, K::RegexAmongTerms);
    refuse("%a% b", 4, K::RegexAmongTerms);
    refuse("%something!%", 10, K::RegexChar('!'));
    refuse("%(ab)%", 1, K::RegexChar('('));
    refuse(r"%a\bc%", 2, K::RegexEscape('b'));
    assert!(matches!(
        FilterPattern::parse("%a{2,1}%").unwrap_err().kind(),
        K::RegexSyntax(_)
    ));
    refuse(
        "{ $.a = %x% || $.b = %y% || $.c = %z% }",
        34,
        K::TooManyRegexes,
    );
    refuse("{ eventName = x }", 2, K::ExpectedSelector);
    refuse(
        "{ $ = x }",
        2,
        K::InvalidSelector("a selector needs a step after '$'"),
    );
    refuse(
        "{ $.a[x] = 1 }",
        5,
        K::InvalidSelector("'[' takes an index, '*' or 'name'"),
    );
    refuse("{ $.*.b[*] = 1 }", 7, K::TooManyWildcardsInSelector);
    refuse(
        "{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 || $.d[*] = 1 }",
        44,
        K::TooManyWildcardSelectors,
    );
    refuse("{ $.a x }", 6, K::ExpectedOperator);
    refuse("{ $.a IS NOT NULL }", 6, K::UnsupportedOperator("IS NOT"));
    refuse("{ $.a EXISTS }", 6, K::UnsupportedOperator("EXISTS"));
    refuse("{ $.a == 1 }", 6, K::UnsupportedOperator("=="));
    refuse("{ $.a = }", 8, K::ExpectedValue);
    refuse("{ $.a > abc }", 7, K::NumberExpected);
    refuse("{ }", 2, K::ExpectedCondition);
    refuse("{ $.a = 1 && }", 13, K::ExpectedCondition);
    refuse("[a, b c]", 6, K::ExpectedOperator);
    refuse("[a = 1 b]", 7, K::ExpectedFieldSeparator);
    refuse("[a, $b]", 4, K::InvalidFieldName);
    refuse(
        "[a, status_code = 4* && bytes > 1000]",
        24,
        K::CrossFieldCondition {
            field: "status_code".into(),
            other: "bytes".into(),
        },
    );
    refuse("[..., a, ...]", 9, K::MultipleEllipses);
}

#[test]
fn error_message_points_at_the_offset() {
    let e = FilterPattern::parse("{ $.eventName DeleteTrail }").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid filter pattern at byte 14: expected =, !=, <, <=, >, >=, IS NULL, IS TRUE, IS FALSE or NOT EXISTS\n  \
         { $.eventName DeleteTrail }\n                ^"
    );
}

#[test]
fn selectors_parse_alone_for_metric_values() {
    assert!(Selector::parse("$.latency").is_ok());
    assert!(Selector::parse("$.a[0].b").is_ok());
    assert_eq!(
        Selector::parse("$.a b").unwrap_err().kind(),
        &PatternErrorKind::TrailingInput
    );
    assert_eq!(
        Selector::parse("latency").unwrap_err().kind(),
        &PatternErrorKind::ExpectedSelector
    );
}

// ---- the documents rule sets parse once -----------------------------------------------------

#[test]
fn pruned_document_keeps_only_what_selectors_reach() {
    let a = Selector::parse("$.userIdentity.type").unwrap();
    let b = Selector::parse("$.arrayKey[1]").unwrap();
    let w = Selector::parse("$.big.deep[*]").unwrap();
    let mut trie = SelectorTrie::default();
    let (sa, sb, sw) = (trie.insert(&a), trie.insert(&b), trie.insert(&w));
    assert_eq!((sa, sb, sw), (Some(0), Some(1), None));
    assert_eq!(trie.insert(&a), Some(0), "a selector has one slot");
    let message = r#"{"userIdentity":{"type":"Root","arn":"x"},"arrayKey":["p","q"],"big":{"deep":[1,2,3]},"other":{"deep":[4]}}"#;
    let doc = Document::parse(message, &trie).unwrap();
    assert_eq!(doc.first(&a, sa), Some(&Node::Str("Root".into())));
    assert_eq!(doc.first(&b, sb), Some(&Node::Str("q".into())));
    let mut seen = Vec::new();
    doc.any(&w, None, &mut |n| {
        seen.push(n.clone());
        false
    });
    assert_eq!(
        seen,
        [Node::Number(1.0), Node::Number(2.0), Node::Number(3.0)]
    );
    // Bound and unbound patterns agree.
    let mut bound =
        FilterPattern::parse("{ $.big.deep[*] = 3 && $.userIdentity.type = Root }").unwrap();
    let unbound = bound.clone();
    bound.bind(&mut trie);
    let bound_doc = Document::parse(message, &trie).unwrap();
    assert!(bound.matches(message, Some(&bound_doc)));
    assert!(unbound.matches(message, Document::parse_full(message).as_ref()));
    let full = Document::parse_full(message).unwrap();
    assert!(doc != full, "the pruned document keeps less");
    assert!(Document::parse("not json", &trie).is_none());
}

proptest! {
    /// Whatever the text, parsing returns a pattern or an error; matching never panics.
    #[test]
    fn parser_never_panics(text in r#"[ -~\t\n\u{e9}]{0,80}"#, message in r#"[ -~]{0,60}"#) {
        if let Ok(p) = FilterPattern::parse(&text) {
            let doc = Document::parse_full(&message);
            let _ = p.matches_extracting(&message, doc.as_ref());
        }
    }

    /// Pattern-shaped text, to reach deep into each family's parser.
    #[test]
    fn parser_never_panics_on_pattern_shapes(
        text in proptest::string::string_regex(r#"[{\[%"?\-]?( |\$|\.|\*|\[|\]|\(|\)|\{|\}|=|!|<|>|&&|\|\||IS|NOT|NULL|EXISTS|TRUE|a|1|"|%|,|\.\.\.|'|\\)*"#).unwrap(),
        message in r#"\{"a":\[1,"b",\{"c":null\}\],"d":"e"\}|[ -~]{0,20}"#,
    ) {
        if let Ok(p) = FilterPattern::parse(&text) {
            let doc = Document::parse_full(&message);
            let _ = p.matches_extracting(&message, doc.as_ref());
        }
    }
}

/// A bare value with a non-ASCII character once made the look-ahead slice inside the
/// character (found by the property test above).
#[test]
fn regression_non_ascii_in_bare_values() {
    for pattern in [
        "[z<Uwé&?=\n%",
        "{ $.a = café && $.b = x }",
        "[a = é||a = b]",
    ] {
        let _ = FilterPattern::parse(pattern);
    }
    check(
        "{ $.a = café && $.b = x }",
        &[(r#"{"a":"café","b":"x"}"#, true)],
    );
}

/// A plain selector below a node a wildcard keeps whole still reaches its value: `$.a.b`
/// beside `$.a.*`, and `$.readOnly` beside `$.*`, once found nothing.
#[test]
fn plain_selectors_below_a_wildcard_keep_their_slots() {
    let patterns = [
        "{ $.a.* = 2 }",
        "{ $.a.b = 1 }",
        "{ $.* = x }",
        "{ $.readOnly IS TRUE }",
        "{ $.list[*].type = t }",
        "{ $.list[0].name = n }",
    ];
    let mut trie = SelectorTrie::default();
    let mut bound: Vec<FilterPattern> = patterns
        .iter()
        .map(|p| FilterPattern::parse(p).unwrap())
        .collect();
    for p in &mut bound {
        p.bind(&mut trie);
    }
    let message = r#"{"a":{"b":1,"c":2},"k":"x","readOnly":true,"list":[{"name":"n","type":"t"}]}"#;
    let doc = Document::parse(message, &trie).unwrap();
    let full = Document::parse_full(message).unwrap();
    for (text, p) in patterns.iter().zip(&bound) {
        let unbound = FilterPattern::parse(text).unwrap();
        assert_eq!(
            p.matches(message, Some(&doc)),
            unbound.matches(message, Some(&full)),
            "{text}"
        );
    }
    let matched: Vec<_> = bound
        .iter()
        .map(|p| p.matches(message, Some(&doc)))
        .collect();
    assert_eq!(matched, [true; 6]);
}
