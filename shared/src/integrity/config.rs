//! The digest-validator function's environment, checked at cold start like the forwarder's.

use crate::config::{ConfigError, Env, Variable};

/// Every variable the digest-validator function reads: the README's table and the deployment
/// template are checked against it.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "TRAIL_BUCKET",
        default: None,
        required: true,
        meaning: "The trail bucket whose digest files are checked.",
    },
    Variable {
        name: "TRAIL_PREFIX",
        default: Some(""),
        required: false,
        meaning: "The trail's key prefix: empty, before `AWSLogs/`, or down to `AWSLogs/` or deeper (`AWSLogs/o-ORG/`, as the template sets it).",
    },
    Variable {
        name: "EXPECTED_BUCKET_OWNER",
        default: None,
        required: false,
        meaning: "Account id sent as ExpectedBucketOwner on every read of the trail bucket.",
    },
    Variable {
        name: "ARCHIVE_BUCKET",
        default: None,
        required: true,
        meaning: "The archive bucket: the forwarder's receipts (`ARCHIVE_PREFIX/_receipts/`) and the validator's checkpoint (`ARCHIVE_PREFIX/_validator/checkpoint.json`).",
    },
    Variable {
        name: "ARCHIVE_BUCKET_OWNER",
        default: None,
        required: false,
        meaning: "Account id sent as ExpectedBucketOwner on every checkpoint write, as the forwarder's: writes fail unless the archive bucket belongs to it.",
    },
    Variable {
        name: "ARCHIVE_KMS_KEY_ID",
        default: None,
        required: false,
        meaning: "KMS key for SSE-KMS on the checkpoint, as the forwarder's archive objects; unset, the bucket's default encryption applies.",
    },
    Variable {
        name: "ARCHIVE_PREFIX",
        default: Some("cloudtrail"),
        required: false,
        meaning: "Key prefix of the archive, as the forwarder's.",
    },
    Variable {
        name: "FORWARDER_QUEUE_URL",
        default: None,
        required: true,
        meaning: "URL of the forwarder's notification queue, where log files without a receipt are enqueued again.",
    },
    Variable {
        name: "DEAD_LETTER_QUEUE_URL",
        default: None,
        required: false,
        meaning: "The forwarder's dead-letter queue: while it or the forwarder's queue holds messages, a log file without a receipt keeps awaiting instead of being named and enqueued again.",
    },
    Variable {
        name: "FORWARD_GRACE_SECONDS",
        default: Some("3600"),
        required: false,
        meaning: "Seconds after its digest a log file may be without a receipt before it is a finding (and enqueued again).",
    },
    Variable {
        name: "LATE_AFTER_SECONDS",
        default: Some("7200"),
        required: false,
        meaning: "Seconds a chain's newest digest may be old before its account and region count as silent (CloudTrail writes one an hour).",
    },
    Variable {
        name: "MAX_OBJECT_BYTES",
        default: Some("4GiB"),
        required: false,
        meaning: "Most decompressed bytes a listed log file is read to, as the forwarder's: a larger one (a gzip bomb in a log file's place) is `log-file-altered`, not read further.",
    },
    Variable {
        name: "FIRST_LOOKBACK_HOURS",
        default: Some("24"),
        required: false,
        meaning: "Hours of digests the first run checks, and the furthest back any run walks.",
    },
    Variable {
        name: "PUBLIC_KEYS",
        default: None,
        required: false,
        meaning: "s3://BUCKET/PREFIX/ of public key files (DER or PEM) to verify with, in place of `cloudtrail:ListPublicKeys`.",
    },
    Variable {
        name: "LAKE_LOCATION",
        default: None,
        required: false,
        meaning: "s3://BUCKET/PREFIX/ of the lake's table (the folder that holds `_lake/`): each listed log file must be in a commit of its window with the listed hash (`log-file-not-in-lake`). Unset: the lake is not checked.",
    },
    Variable {
        name: "LAKE_GRACE_SECONDS",
        default: Some("10800"),
        required: false,
        meaning: "Seconds after its digest a log file may be missing from the lake before it is a finding.",
    },
    Variable {
        name: "S3_FORCE_PATH_STYLE",
        default: Some("false"),
        required: false,
        meaning: "Address S3 by path rather than by virtual host, for endpoints that need it (local emulators).",
    },
];

/// The digest-validator function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// `TRAIL_BUCKET`.
    pub trail_bucket: String,
    /// `TRAIL_PREFIX`.
    pub trail_prefix: String,
    /// `EXPECTED_BUCKET_OWNER`.
    pub expected_bucket_owner: Option<String>,
    /// `ARCHIVE_BUCKET`.
    pub archive_bucket: String,
    /// `ARCHIVE_BUCKET_OWNER`.
    pub archive_bucket_owner: Option<String>,
    /// `ARCHIVE_KMS_KEY_ID`.
    pub archive_kms_key_id: Option<String>,
    /// `ARCHIVE_PREFIX`.
    pub archive_prefix: String,
    /// `FORWARDER_QUEUE_URL`.
    pub forwarder_queue_url: String,
    /// `DEAD_LETTER_QUEUE_URL`.
    pub dead_letter_queue_url: Option<String>,
    /// `FORWARD_GRACE_SECONDS`.
    pub forward_grace_s: u64,
    /// `LATE_AFTER_SECONDS`.
    pub late_after_s: u64,
    /// `MAX_OBJECT_BYTES`.
    pub max_object_bytes: u64,
    /// `FIRST_LOOKBACK_HOURS`.
    pub first_lookback_hours: u64,
    /// `PUBLIC_KEYS`: bucket and prefix.
    pub public_keys: Option<(String, String)>,
    /// `LAKE_LOCATION`: bucket and prefix of the table's location.
    pub lake_location: Option<(String, String)>,
    /// `LAKE_GRACE_SECONDS`.
    pub lake_grace_s: u64,
    /// `S3_FORCE_PATH_STYLE`.
    pub s3_force_path_style: bool,
}

impl ValidatorConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and checks every variable through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(VARIABLES, &lookup);
        let s3_location = |name: &'static str| match env.get(name) {
            None => Ok(None),
            Some(url) => crate::key::s3_url(&url).map(Some).ok_or_else(|| {
                env.error(name, format!("{url:?} is not an s3://BUCKET/PREFIX/ URL"))
            }),
        };
        let public_keys = s3_location("PUBLIC_KEYS")?;
        let lake_location = s3_location("LAKE_LOCATION")?;
        Ok(Self {
            trail_bucket: env.bucket("TRAIL_BUCKET")?,
            trail_prefix: env.get("TRAIL_PREFIX").unwrap_or_default(),
            expected_bucket_owner: env.account("EXPECTED_BUCKET_OWNER")?,
            archive_bucket: env.bucket("ARCHIVE_BUCKET")?,
            archive_bucket_owner: env.account("ARCHIVE_BUCKET_OWNER")?,
            archive_kms_key_id: env.get("ARCHIVE_KMS_KEY_ID"),
            archive_prefix: env.get("ARCHIVE_PREFIX").unwrap_or_default(),
            forwarder_queue_url: env.required("FORWARDER_QUEUE_URL")?,
            dead_letter_queue_url: env.get("DEAD_LETTER_QUEUE_URL"),
            forward_grace_s: env.number("FORWARD_GRACE_SECONDS")?,
            late_after_s: env.positive("LATE_AFTER_SECONDS")?.get().into(),
            max_object_bytes: env.size("MAX_OBJECT_BYTES")?,
            first_lookback_hours: env.positive("FIRST_LOOKBACK_HOURS")?.get().into(),
            public_keys,
            lake_location,
            lake_grace_s: env.number("LAKE_GRACE_SECONDS")?,
            s3_force_path_style: env.flag("S3_FORCE_PATH_STYLE")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    const MINIMAL: &[(&str, &str)] = &[
        ("TRAIL_BUCKET", "org-trail"),
        ("ARCHIVE_BUCKET", "org-archive"),
        (
            "FORWARDER_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/111122223333/n",
        ),
    ];

    fn read(pairs: &[(&str, &str)]) -> Result<ValidatorConfig, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        ValidatorConfig::from_lookup(|n| map.get(n).map(|v| (*v).to_owned()))
    }

    #[test]
    fn reads_exactly_the_listed_variables_with_their_defaults() {
        let seen = std::cell::RefCell::new(BTreeSet::new());
        let map: HashMap<&str, &str> = MINIMAL.iter().copied().collect();
        let config = ValidatorConfig::from_lookup(|name| {
            seen.borrow_mut().insert(name.to_owned());
            map.get(name).map(|v| (*v).to_owned())
        })
        .unwrap();
        let listed: BTreeSet<String> = VARIABLES.iter().map(|v| v.name.to_owned()).collect();
        assert_eq!(seen.into_inner(), listed);
        assert_eq!(config.archive_prefix, "cloudtrail");
        assert_eq!(config.forward_grace_s, 3600);
        assert_eq!(config.late_after_s, 7200);
        assert_eq!(config.first_lookback_hours, 24);
        assert_eq!(config.public_keys, None);
        assert_eq!(config.lake_location, None);
        assert_eq!(config.lake_grace_s, 3 * 3600);
        let with_keys = [
            MINIMAL,
            &[("PUBLIC_KEYS", "s3://keys-bucket/cloudtrail/keys/")],
        ]
        .concat();
        assert_eq!(
            read(&with_keys).unwrap().public_keys,
            Some(("keys-bucket".to_owned(), "cloudtrail/keys/".to_owned()))
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("TRAIL_BUCKET", "Not_A_Bucket"),
            ("TRAIL_BUCKET", "a-bucket,b-bucket"),
            ("ARCHIVE_BUCKET", ""),
            ("LATE_AFTER_SECONDS", "0"),
            ("FORWARD_GRACE_SECONDS", "soon"),
            ("PUBLIC_KEYS", "/keys"),
            ("LAKE_LOCATION", "org-lake/warehouse"),
            ("LAKE_GRACE_SECONDS", "-1"),
            ("FORWARDER_QUEUE_URL", " "),
        ] {
            let mut pairs = MINIMAL.to_vec();
            pairs.retain(|(n, _)| *n != name);
            pairs.push((name, value));
            let e = read(&pairs).unwrap_err();
            assert_eq!(e.variable, name, "{e}");
        }
    }
}
