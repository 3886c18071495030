//! The replay function's environment, checked at cold start like the forwarder's.

use std::num::NonZeroU32;

use crate::config::{ConfigError, Env, Variable};

/// Every variable the replay function reads: the README's table and the deployment template
/// are checked against it.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "ALLOWED_BUCKETS",
        default: None,
        required: true,
        meaning: "Comma-separated trail buckets a request may replay; a request for any other bucket is refused.",
    },
    Variable {
        name: "EXPECTED_BUCKET_OWNER",
        default: None,
        required: false,
        meaning: "Account id sent as ExpectedBucketOwner on every ListObjectsV2: listings fail unless the trail bucket belongs to it.",
    },
    Variable {
        name: "FORWARDER_QUEUE_URL",
        default: None,
        required: true,
        meaning: "URL of the forwarder's notification queue, where replayed objects are enqueued.",
    },
    Variable {
        name: "REPLAY_QUEUE_URL",
        default: None,
        required: true,
        meaning: "URL of the replay request queue, where a request stopped by the deadline enqueues its continuation.",
    },
    Variable {
        name: "DEAD_LETTER_QUEUE_URL",
        default: None,
        required: false,
        meaning: "URL of the forwarder's dead-letter queue, which a redrive request (`trailrelay redrive --via`) moves back to FORWARDER_QUEUE_URL. Unset, redrive requests are refused.",
    },
    Variable {
        name: "CONTINUATION_SENDERS",
        default: None,
        required: false,
        meaning: "Comma-separated unique ids of the roles allowed to continue work, as the forwarder's: a dead letter that carries a continuation is redriven only when one of them sent it. Unset, redrive requests are refused.",
    },
    Variable {
        name: "REPLAY_MESSAGES_PER_SECOND",
        default: Some("100"),
        required: false,
        meaning: "Notifications one replay request enqueues per second, at most (the template runs two requests at once at most).",
    },
    Variable {
        name: "REPLAY_DEADLINE_GRACE_MS",
        default: Some("10000"),
        required: false,
        meaning: "Milliseconds before the Lambda deadline at which a replay stops and enqueues its continuation.",
    },
    Variable {
        name: "S3_FORCE_PATH_STYLE",
        default: Some("false"),
        required: false,
        meaning: "Address S3 by path rather than by virtual host, for endpoints that need it (local emulators).",
    },
];

/// The replay function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayConfig {
    /// `ALLOWED_BUCKETS`.
    pub allowed_buckets: Vec<String>,
    /// `EXPECTED_BUCKET_OWNER`.
    pub expected_bucket_owner: Option<String>,
    /// `FORWARDER_QUEUE_URL`.
    pub forwarder_queue_url: String,
    /// `REPLAY_QUEUE_URL`.
    pub replay_queue_url: String,
    /// `DEAD_LETTER_QUEUE_URL`.
    pub dead_letter_queue_url: Option<String>,
    /// `CONTINUATION_SENDERS`.
    pub continuation_senders: Option<Vec<String>>,
    /// `REPLAY_MESSAGES_PER_SECOND`.
    pub messages_per_second: NonZeroU32,
    /// `REPLAY_DEADLINE_GRACE_MS`.
    pub deadline_grace_ms: u64,
    /// `S3_FORCE_PATH_STYLE`.
    pub s3_force_path_style: bool,
}

impl ReplayConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and checks every variable through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(VARIABLES, &lookup);
        Ok(Self {
            allowed_buckets: env.buckets("ALLOWED_BUCKETS")?,
            expected_bucket_owner: env.account("EXPECTED_BUCKET_OWNER")?,
            forwarder_queue_url: env.required("FORWARDER_QUEUE_URL")?,
            replay_queue_url: env.required("REPLAY_QUEUE_URL")?,
            dead_letter_queue_url: env.get("DEAD_LETTER_QUEUE_URL"),
            continuation_senders: env.unique_ids("CONTINUATION_SENDERS")?,
            messages_per_second: env.positive("REPLAY_MESSAGES_PER_SECOND")?,
            deadline_grace_ms: env.number("REPLAY_DEADLINE_GRACE_MS")?,
            s3_force_path_style: env.flag("S3_FORCE_PATH_STYLE")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    const MINIMAL: &[(&str, &str)] = &[
        ("ALLOWED_BUCKETS", "org-trail"),
        (
            "FORWARDER_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/111122223333/n",
        ),
        (
            "REPLAY_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/111122223333/r",
        ),
    ];

    #[test]
    fn reads_exactly_the_listed_variables_with_their_defaults() {
        let read = std::cell::RefCell::new(BTreeSet::new());
        let map: HashMap<&str, &str> = MINIMAL.iter().copied().collect();
        let config = ReplayConfig::from_lookup(|name| {
            read.borrow_mut().insert(name.to_owned());
            map.get(name).map(|v| (*v).to_owned())
        })
        .unwrap();
        let listed: BTreeSet<String> = VARIABLES.iter().map(|v| v.name.to_owned()).collect();
        assert_eq!(read.into_inner(), listed);
        assert_eq!(config.messages_per_second.get(), 100);
        assert_eq!(config.deadline_grace_ms, 10_000);
        assert!(!config.s3_force_path_style);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("ALLOWED_BUCKETS", "Not_A_Bucket"),
            ("REPLAY_MESSAGES_PER_SECOND", "0"),
            ("EXPECTED_BUCKET_OWNER", "12345"),
            ("FORWARDER_QUEUE_URL", " "),
            ("CONTINUATION_SENDERS", "AROAFORWARDERROLE01:session"),
        ] {
            let mut map: HashMap<&str, &str> = MINIMAL.iter().copied().collect();
            map.insert(name, value);
            let e = ReplayConfig::from_lookup(|n| map.get(n).map(|v| (*v).to_owned())).unwrap_err();
            assert_eq!(e.variable, name, "{e}");
        }
    }
}
