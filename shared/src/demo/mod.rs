//! A small, realistic organization trail for the demo and for tests: generated, deterministic.
//!
//! [`write_corpus`] lays out what an organization trail delivers to its bucket: gzipped
//! `{"Records":[...]}` files per member account and region under
//! `AWSLogs/<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/` (network activity events under
//! `CloudTrail-NetworkActivity/`), an Insights file under `CloudTrail-Insight/`, and hourly
//! digest files under `CloudTrail-Digest/` (which forwarding skips, and which list every log
//! file but the Insights file), chained and signed with the demo's key (module `digests`). Records follow the shapes of real CloudTrail records: data events, console sign-ins
//! with and without MFA, failed sign-ins, IAM and security-group changes, access-denied errors,
//! root activity, service-made calls, network-activity denials. The same spec always writes the
//! same bytes.
//!
//! [`Findings::from_archive`] reads an archive written by the pipeline back and tallies what a
//! security team looks at first.

use std::fs;
use std::io;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

mod digests;
mod findings;

use digests::Delivered;
pub use digests::demo_public_key;
#[cfg(test)]
pub(crate) use digests::signer as demo_signer;
pub use findings::Findings;

/// The organization id of the generated trail.
pub const DEMO_ORG_ID: &str = "o-trailrelay01";
const REGIONS: [&str; 6] = [
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "us-west-2",
    "eu-central-1",
    "sa-east-1",
];
/// 2026-11-01T00:00:00Z, the default start of the generated activity.
pub const DAY_START_S: i64 = 1_793_491_200;

/// The start of the UTC day before `now_s`: activity then is recent enough for CloudWatch Logs
/// (at most 14 days old) and the same all day long, so a demo run twice gives the same trail.
pub fn day_before(now_s: i64) -> i64 {
    (now_s.div_euclid(86_400) - 1) * 86_400
}

/// The shape of a generated trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSpec {
    /// Member accounts.
    pub accounts: usize,
    /// Regions per account, at most 6.
    pub regions: usize,
    /// Log files per account and region (one per 5-minute window).
    pub files_per_stream: usize,
    /// Records per log file.
    pub records_per_file: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Start of the generated activity, in seconds since the Unix epoch (UTC).
    pub start_s: i64,
    /// Hours of digest files per account and region, one an hour from `start_s` (CloudTrail
    /// writes one even for an hour without log files).
    pub digest_hours: usize,
    /// The bucket the digests say they and the log files were written to.
    pub bucket: &'static str,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self {
            accounts: 4,
            regions: 3,
            files_per_stream: 3,
            records_per_file: 50,
            seed: 7,
            start_s: DAY_START_S,
            digest_hours: 1,
            bucket: "org-trail",
        }
    }
}

/// What [`write_corpus`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoCorpus {
    /// Log files (Insights files included).
    pub log_files: usize,
    /// Digest files.
    pub digest_files: usize,
    /// Records in all log files.
    pub records: u64,
    /// Bytes written (compressed).
    pub bytes: u64,
}

/// SplitMix64: a tiny generator whose sequence is fixed by its definition, so the corpus stays
/// the same across releases of any dependency.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n).map(|_| *self.pick(CHARS) as char).collect()
    }
}

fn account_id(i: usize) -> String {
    format!("{:012}", 210_987_654_321u64 + 1_111_111 * i as u64)
}

fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Writes the trail under `root` (which becomes the bucket folder).
pub fn write_corpus(root: &Path, spec: &DemoSpec) -> io::Result<DemoCorpus> {
    let mut rng = Rng(spec.seed);
    let signer = digests::signer()?;
    let mut corpus = DemoCorpus::default();
    let regions = &REGIONS[..spec.regions.clamp(1, REGIONS.len())];
    for a in 0..spec.accounts {
        let account = account_id(a);
        for region in regions {
            let mut delivered = Vec::with_capacity(spec.files_per_stream);
            for f in 0..spec.files_per_stream {
                let window = spec.start_s + 300 * f as i64;
                let records: Vec<Value> = (0..spec.records_per_file)
                    .map(|_| {
                        let t = window + rng.below(300) as i64;
                        record(&mut rng, &account, region, t)
                    })
                    .collect();
                let unique = rng.alnum(16);
                // Network activity events go to a folder of their own, as CloudTrail delivers
                // them; the digest lists both files.
                let (network, logged): (Vec<Value>, Vec<Value>) = records
                    .into_iter()
                    .partition(|r| r["eventCategory"] == "NetworkActivity");
                for (folder, records) in [
                    ("CloudTrail", logged),
                    ("CloudTrail-NetworkActivity", network),
                ] {
                    if records.is_empty() && folder != "CloudTrail" {
                        continue;
                    }
                    let name = format!(
                        "{account}_{folder}_{region}_{}_{unique}.json.gz",
                        stamp(window + 300)
                    );
                    let dir = trail_dir(root, &account, folder, region, window);
                    let json = serde_json::to_vec(&json!({"Records": records}))?;
                    let (bytes, sha256) = write_gz(&dir.join(&name), &json)?;
                    corpus.bytes += bytes;
                    corpus.log_files += 1;
                    corpus.records += records.len() as u64;
                    let key = format!("{}/{name}", relative(root, &dir)?);
                    delivered.push(Delivered {
                        key,
                        sha256,
                        at_s: window + 300,
                    });
                }
            }
            let (digests, bytes) =
                digests::write_chain(root, &account, region, spec, &delivered, &signer)?;
            corpus.digest_files += digests;
            corpus.bytes += bytes;
        }
    }
    if spec.accounts > 0 {
        let account = account_id(0);
        let insights = insight_pair(&mut rng, &account, spec.start_s);
        let name = format!(
            "{account}_CloudTrail-Insight_us-east-1_{}_{}.json.gz",
            stamp(spec.start_s + 1800),
            rng.alnum(16)
        );
        let dir = trail_dir(
            root,
            &account,
            "CloudTrail-Insight",
            "us-east-1",
            spec.start_s,
        );
        let json = serde_json::to_vec(&json!({"Records": insights}))?;
        corpus.bytes += write_gz(&dir.join(name), &json)?.0;
        corpus.log_files += 1;
        corpus.records += 2;
    }
    Ok(corpus)
}

/// The folder of a delivery at `seconds`: `.../YYYY/MM/DD`.
fn trail_dir(
    root: &Path,
    account: &str,
    folder: &str,
    region: &str,
    seconds: i64,
) -> std::path::PathBuf {
    let t = rfc3339(seconds);
    let (y, m, d) = (&t[0..4], &t[5..7], &t[8..10]);
    root.join(format!(
        "AWSLogs/{DEMO_ORG_ID}/{account}/{folder}/{region}/{y}/{m}/{d}"
    ))
}

/// `YYYYMMDDTHHmmZ`.
fn stamp(seconds: i64) -> String {
    let t = rfc3339(seconds);
    format!(
        "{}{}{}T{}{}Z",
        &t[0..4],
        &t[5..7],
        &t[8..10],
        &t[11..13],
        &t[14..16]
    )
}

/// `YYYYMMDDTHHmmssZ`, a digest's stamp.
fn stamp_seconds(seconds: i64) -> String {
    let minutes = stamp(seconds);
    let t = rfc3339(seconds);
    format!("{}{}Z", minutes.trim_end_matches('Z'), &t[17..19])
}

/// `dir`'s path under `root`, with `/` separators: a key prefix.
fn relative(root: &Path, dir: &Path) -> io::Result<String> {
    let rel = dir.strip_prefix(root).map_err(io::Error::other)?;
    Ok(rel.to_string_lossy().replace('\\', "/"))
}

/// Writes `json` gzipped; returns the bytes written and the SHA-256 of `json`, as a digest
/// lists it.
fn write_gz(path: &Path, json: &[u8]) -> io::Result<(u64, [u8; 32])> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    io::Write::write_all(&mut enc, json)?;
    let bytes = enc.finish()?;
    fs::write(path, &bytes)?;
    Ok((bytes.len() as u64, Sha256::digest(json).into()))
}

fn identity_assumed(account: &str, role: &str, session: &str, mfa: bool) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{}:{session}", &account[..8]),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLEDEMOKEY00",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": format!("AROA{}", &account[..8]),
                              "arn": format!("arn:aws:iam::{account}:role/{role}"),
                              "accountId": account, "userName": role},
            "attributes": {"creationDate": "2026-11-01T00:00:00Z",
                           "mfaAuthenticated": if mfa { "true" } else { "false" }}
        }
    })
}

fn identity_user(account: &str, user: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLEDEMOUSER0",
           "arn": format!("arn:aws:iam::{account}:user/{user}"), "accountId": account,
           "userName": user})
}

/// One record of a kind drawn by weight.
fn record(rng: &mut Rng, account: &str, region: &str, t: i64) -> Value {
    let ip = format!("198.51.100.{}", rng.below(250) + 1);
    let sdk = *rng.pick(&[
        "aws-sdk-java/2.25.60 Linux/5.10 OpenJDK_64-Bit_Server_VM/17",
        "Boto3/1.34.100 md/Botocore#1.34.100 Python/3.12.3 Linux/6.1",
        "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 exec-env/CloudShell",
        "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 aws-sdk-go-v2/1.27.0 os/linux",
    ]);
    let users = ["alice", "bob", "carol", "dave"];
    let user = *rng.pick(&users);
    let roll = rng.below(100);
    let mut r = match roll {
        0..=34 => {
            let key = format!("reports/2026/11/{}.parquet", rng.alnum(10));
            json!({
                "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                "userIdentity": identity_assumed(account, "analytics-app", "i-0a1b2c3d4e5f", false),
                "userAgent": sdk, "sourceIPAddress": ip, "readOnly": true,
                "eventCategory": "Data", "managementEvent": false,
                "requestParameters": {"bucketName": format!("data-{account}"), "key": key,
                                      "Host": format!("data-{account}.s3.{region}.amazonaws.com")},
                "responseElements": null,
                "additionalEventData": {"bytesTransferredOut": rng.below(5_000_000),
                                        "SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader"},
                "resources": [{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::data-{account}/{key}")},
                              {"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::data-{account}")}]
            })
        }
        35..=49 => json!({
            "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
            "userIdentity": identity_assumed(account, "platform-ci", "ci-run", false),
            "userAgent": sdk, "sourceIPAddress": ip, "readOnly": true,
            "requestParameters": {"instancesSet": {}, "filterSet": {}}, "responseElements": null
        }),
        50..=59 => json!({
            "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
            "userIdentity": {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
            "userAgent": "lambda.amazonaws.com", "sourceIPAddress": "lambda.amazonaws.com",
            "readOnly": true,
            "requestParameters": {"roleArn": format!("arn:aws:iam::{account}:role/ingest-fn"),
                                  "roleSessionName": "ingest-fn"},
            "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLEDEMOKEY01",
                                 "sessionToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
                                 "expiration": "Nov 1, 2026, 1:00:00 AM"}},
            "resources": [{"accountId": account, "type": "AWS::IAM::Role",
                           "ARN": format!("arn:aws:iam::{account}:role/ingest-fn")}],
            "sharedEventID": rng.uuid()
        }),
        60..=69 => {
            let outcome = rng.below(10);
            let mut r = json!({
                "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                "eventType": "AwsConsoleSignIn", "userIdentity": identity_user(account, user),
                "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
                "sourceIPAddress": ip, "requestParameters": null,
                "responseElements": {"ConsoleLogin": if outcome < 8 { "Success" } else { "Failure" }},
                "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home",
                                        "MobileVersion": "No",
                                        "MFAUsed": if outcome < 5 { "Yes" } else { "No" }}
            });
            if outcome >= 8 {
                r["errorMessage"] = json!("Failed authentication");
            }
            r
        }
        70..=77 => {
            let (source, name) = *rng.pick(&[
                ("s3.amazonaws.com", "GetObject"),
                ("iam.amazonaws.com", "ListUsers"),
                ("secretsmanager.amazonaws.com", "GetSecretValue"),
            ]);
            json!({
                "eventSource": source, "eventName": name,
                "userIdentity": identity_assumed(account, "contractor", user, false),
                "userAgent": sdk, "sourceIPAddress": ip, "readOnly": true,
                "errorCode": if source == "secretsmanager.amazonaws.com" { "AccessDeniedException" } else { "AccessDenied" },
                "errorMessage": format!("User is not authorized to perform {name}"),
                "requestParameters": null, "responseElements": null
            })
        }
        78..=80 => json!({
            "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
            "userIdentity": identity_assumed(account, "contractor", user, false),
            "userAgent": sdk, "sourceIPAddress": ip, "readOnly": false,
            "errorCode": "Client.UnauthorizedOperation",
            "errorMessage": "You are not authorized to perform this operation.",
            "requestParameters": {"instanceType": "p5.48xlarge", "instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 8}]}},
            "responseElements": null
        }),
        81..=85 => {
            let name = *rng.pick(&[
                "CreateUser",
                "AttachRolePolicy",
                "PutRolePolicy",
                "CreatePolicyVersion",
            ]);
            json!({
                "eventSource": "iam.amazonaws.com", "eventName": name,
                "userIdentity": identity_assumed(account, "Admin", user, true),
                "userAgent": "AWS Internal", "sourceIPAddress": ip, "readOnly": false,
                "sessionCredentialFromConsole": "true",
                "requestParameters": {"roleName": "deploy", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
                "responseElements": null
            })
        }
        86..=88 => json!({
            "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
            "userIdentity": identity_assumed(account, "platform-ci", "ci-run", false),
            "userAgent": sdk, "sourceIPAddress": ip, "readOnly": false,
            "requestParameters": {"groupId": "sg-0123456789abcdef0",
                                  "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                                               "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
            "responseElements": {"_return": true}
        }),
        89..=90 => json!({
            "eventSource": "kms.amazonaws.com", "eventName": *rng.pick(&["DisableKey", "ScheduleKeyDeletion"]),
            "userIdentity": identity_assumed(account, "Admin", user, true),
            "userAgent": sdk, "sourceIPAddress": ip, "readOnly": false,
            "requestParameters": {"keyId": format!("arn:aws:kms:{region}:{account}:key/{}", rng.uuid())},
            "responseElements": null
        }),
        91 => json!({
            "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
            "userIdentity": identity_assumed(account, "Admin", user, true),
            "userAgent": sdk, "sourceIPAddress": ip, "readOnly": false,
            "requestParameters": {"name": format!("arn:aws:cloudtrail:{region}:{account}:trail/local-trail")},
            "responseElements": null
        }),
        92 => json!({
            "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
            "userIdentity": {"type": "Root", "principalId": account, "arn": format!("arn:aws:iam::{account}:root"),
                             "accountId": account, "accessKeyId": "ASIAEXAMPLEDEMOROOT0",
                             "sessionContext": {"attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "false"}}},
            "userAgent": "AWS Internal", "sourceIPAddress": ip, "readOnly": false,
            "sessionCredentialFromConsole": "true",
            "requestParameters": {"userName": "break-glass"}, "responseElements": null
        }),
        93..=94 => json!({
            "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "eventType": "AwsVpceEvent", "eventCategory": "NetworkActivity",
            "userIdentity": {"type": "AWSAccount", "principalId": "AROAEXAMPLEOUTSIDER:x", "accountId": "999988887777"},
            "sourceIPAddress": "10.0.12.7", "errorCode": "VpceAccessDenied",
            "errorMessage": "The request was denied due to a VPC endpoint policy",
            "vpcEndpointId": "vpce-0a1b2c3d4e5f60718", "vpcEndpointAccountId": account,
            "requestParameters": {"bucketName": "exfil-bucket"}
        }),
        _ => json!({
            "eventSource": "lambda.amazonaws.com", "eventName": "Invoke",
            "userIdentity": identity_assumed(account, "orchestrator", "step-fn", false),
            "userAgent": "states.amazonaws.com", "sourceIPAddress": "states.amazonaws.com",
            "readOnly": false, "eventCategory": "Data", "managementEvent": false,
            "requestParameters": {"functionName": format!("arn:aws:lambda:{region}:{account}:function:ingest-fn")},
            "responseElements": null,
            "resources": [{"accountId": account, "type": "AWS::Lambda::Function",
                           "ARN": format!("arn:aws:lambda:{region}:{account}:function:ingest-fn")}]
        }),
    };
    let category = r["eventCategory"]
        .as_str()
        .unwrap_or("Management")
        .to_owned();
    let Some(obj) = r.as_object_mut() else {
        return r;
    };
    obj.entry("eventVersion").or_insert(json!("1.10"));
    obj.insert("eventTime".into(), json!(rfc3339(t)));
    obj.insert("awsRegion".into(), json!(region));
    obj.insert("eventID".into(), json!(rng.uuid()));
    obj.insert("requestID".into(), json!(rng.uuid()));
    obj.entry("eventType").or_insert(json!("AwsApiCall"));
    obj.entry("managementEvent")
        .or_insert(json!(category == "Management"));
    obj.insert("recipientAccountId".into(), json!(account));
    obj.insert("eventCategory".into(), json!(category));
    if !matches!(category.as_str(), "NetworkActivity") {
        obj.insert(
            "tlsDetails".into(),
            json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                   "clientProvidedHostHeader": format!("{region}.amazonaws.com")}),
        );
    }
    r
}

fn insight_pair(rng: &mut Rng, account: &str, start_s: i64) -> Vec<Value> {
    let shared = rng.uuid();
    ["Start", "End"]
        .iter()
        .enumerate()
        .map(|(i, state)| {
            json!({
                "eventVersion": "1.08", "eventTime": rfc3339(start_s + 900 * (i as i64 + 1)),
                "awsRegion": "us-east-1", "eventID": rng.uuid(), "eventType": "AwsCloudTrailInsight",
                "recipientAccountId": account, "sharedEventID": shared, "eventCategory": "Insight",
                "insightDetails": {
                    "state": state, "eventSource": "iam.amazonaws.com", "eventName": "ListUsers",
                    "insightType": "ApiErrorRateInsight", "errorCode": "AccessDenied",
                    "insightContext": {"statistics": {"baseline": {"average": 0.02},
                                                      "insight": {"average": 14.5},
                                                      "insightDuration": 15, "baselineDuration": 10080},
                                       "attributions": [{"attribute": "errorCode",
                                                         "insight": [{"value": "AccessDenied", "average": 14.5}],
                                                         "baseline": [{"value": "AccessDenied", "average": 0.02}]}]}
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
