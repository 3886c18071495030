//! Configuration: sizes, and the forwarder's environment, validated at cold start.
//!
//! [`Config::from_lookup`] reads every variable through a lookup function (tests pass a map;
//! `from_env` passes the process environment), checks it, and fails with an error naming the
//! variable. [`VARIABLES`] lists every variable with its default and meaning: the README's
//! table and the deployment template are checked against it.

use std::num::NonZeroU32;

use crate::batch::MAX_EVENT_AGE_MS;
use crate::decode::Limits;
use crate::key::is_account_id;
use crate::pipeline::Settings;
use crate::rules::file::RouteSpec;
use crate::rules::pattern::PatternOptions;
use crate::rules::{RuleSet, RulesFile};
use crate::template::{NameKind, Template};

/// A size that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a size: expected a whole number of bytes, optionally with a unit (KiB, MiB, GiB, KB, MB, GB)"
)]
pub struct SizeError {
    /// The text given.
    pub text: String,
}

/// Reads a byte size: `1048576`, `512KiB`, `64 MiB`, `4GiB`, `250MB` (binary units are powers
/// of 1024, decimal ones of 1000; case is ignored).
pub fn parse_bytes(text: &str) -> Result<u64, SizeError> {
    let err = || SizeError {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits.parse().map_err(|_| err())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(err()),
    };
    number.checked_mul(factor).ok_or_else(err)
}

/// One environment variable: name, default (`None`: required or optional without default),
/// meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The variable's name.
    pub name: &'static str,
    /// Its default, if it has one; `None` with `required` false means "unset by default".
    pub default: Option<&'static str>,
    /// Whether it must be set.
    pub required: bool,
    /// What it means.
    pub meaning: &'static str,
}

mod variables;
pub use variables::VARIABLES;

/// A day in milliseconds.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Memory a function instance needs besides the objects it forwards: the runtime, the SDK
/// clients, the rules and the process itself.
pub const BASE_MEMORY_BYTES: u64 = 64 << 20;

/// The most memory one object in flight may take with `limits`: the archive part being
/// filled and the one being uploaded ([`crate::aws::s3::PART_BYTES`] each), the decoder's
/// buffer (a record and a read chunk), the open log batches (at most
/// [`crate::batch::MAX_OPEN_STREAMS`], each at most one call's bytes) and the batch being sent
/// (its events copied into the request and serialised).
pub fn object_memory_bytes(limits: &Limits) -> u64 {
    let part = crate::aws::s3::PART_BYTES as u64;
    let batch = crate::batch::MAX_BATCH_BYTES as u64;
    let open_batches = crate::batch::MAX_OPEN_STREAMS as u64 * batch;
    2 * part + 2 * limits.max_record_bytes as u64 + open_batches + 3 * batch
}

/// A variable that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Variables read through a lookup, each with its listed default, checked one by one with
/// errors that name the variable. Shared by every function's configuration.
pub(crate) struct Env<'a> {
    variables: &'static [Variable],
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(
        variables: &'static [Variable],
        lookup: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Self { variables, lookup }
    }

    fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            variable,
            message: message.into(),
        }
    }

    /// The value, or the variable's default; blank counts as unset.
    pub(crate) fn get(&self, name: &'static str) -> Option<String> {
        let var = self.variables.iter().find(|v| v.name == name);
        (self.lookup)(name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| var.and_then(|v| v.default).map(str::to_owned))
    }

    pub(crate) fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or_else(|| Self::err(name, "is required"))
    }

    pub(crate) fn number(&self, name: &'static str) -> Result<u64, ConfigError> {
        let text = self.required(name)?;
        text.trim()
            .parse()
            .map_err(|_| Self::err(name, format!("{text:?} is not a whole number")))
    }

    /// A byte size ([`parse_bytes`]).
    pub(crate) fn size(&self, name: &'static str) -> Result<u64, ConfigError> {
        parse_bytes(&self.required(name)?).map_err(|e| Self::err(name, e.to_string()))
    }

    pub(crate) fn positive(&self, name: &'static str) -> Result<NonZeroU32, ConfigError> {
        let n = self.number(name)?;
        u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| Self::err(name, format!("must be between 1 and {}", u32::MAX)))
    }

    pub(crate) fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.required(name)?.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(Self::err(name, format!("{other:?} is not true or false"))),
        }
    }

    /// An optional 12-digit account id.
    pub(crate) fn account(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(name) {
            Some(owner) if !is_account_id(&owner) => Err(Self::err(
                name,
                format!("{owner:?} is not a 12-digit account id"),
            )),
            owner => Ok(owner),
        }
    }

    /// A required single bucket name.
    pub(crate) fn bucket(&self, name: &'static str) -> Result<String, ConfigError> {
        match self.buckets(name)?.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(Self::err(name, "must name one bucket")),
        }
    }

    /// The error of `name`, for checks of a caller's own.
    pub(crate) fn error(&self, name: &'static str, message: impl Into<String>) -> ConfigError {
        Self::err(name, message)
    }

    /// An optional, comma-separated list of IAM unique ids (a role's `RoleId`).
    pub(crate) fn unique_ids(
        &self,
        name: &'static str,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
        let unique_id = |id: &str| {
            (16..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let what = "an IAM unique id (a role's RoleId, such as AROA...)";
        Self::list(name, &text, unique_id, what).map(Some)
    }

    /// A required, comma-separated list of bucket names.
    pub(crate) fn buckets(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        Self::list(name, &self.required(name)?, is_bucket_name, "a bucket name")
    }

    /// The items of comma-separated `text`, trimmed, blanks dropped; the first that is not
    /// `valid` names `name`, saying it is not `what`.
    fn list(
        name: &'static str,
        text: &str,
        valid: impl Fn(&str) -> bool,
        what: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let items: Vec<String> = text
            .split(',')
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect();
        match items.iter().find(|item| !valid(item)) {
            Some(bad) => Err(Self::err(name, format!("{bad:?} is not {what}"))),
            None => Ok(items),
        }
    }
}

/// The forwarder's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ALLOWED_BUCKETS`.
    pub allowed_buckets: Vec<String>,
    /// `EXPECTED_BUCKET_OWNER`.
    pub expected_bucket_owner: Option<String>,
    /// `ARCHIVE_BUCKET_OWNER`.
    pub archive_bucket_owner: Option<String>,
    /// `ARCHIVE_BUCKET`.
    pub archive_bucket: String,
    /// `ARCHIVE_KMS_KEY_ID`.
    pub archive_kms_key_id: Option<String>,
    /// A fingerprint of what decides which events go to which log stream, in which order:
    /// the routes, the log group and stream templates, the time window. A continuation carries
    /// it, so that skip counts taken under one routing are never applied under another.
    pub routing: String,
    /// How the log groups the function creates are made (`LOG_GROUP_RETENTION_DAYS`,
    /// `LOG_GROUP_KMS_KEY_ID`).
    pub new_log_groups: NewLogGroups,
    /// `LOGS_PUTS_PER_SECOND`.
    pub logs_puts_per_second: NonZeroU32,
    /// `ACCOUNT_EVENTS_PER_SECOND`.
    pub account_events_per_second: NonZeroU32,
    /// `DEADLINE_GRACE_MS`.
    pub deadline_grace_ms: u64,
    /// `MESSAGE_CONCURRENCY`.
    pub message_concurrency: usize,
    /// `S3_FORCE_PATH_STYLE`.
    pub s3_force_path_style: bool,
    /// `DEAD_LETTER_QUEUE_URL`.
    pub dead_letter_queue_url: Option<String>,
    /// `CONTINUATION_SENDERS`.
    pub continuation_senders: Option<Vec<String>>,
    /// `CONTINUATION_DELAY_SECONDS`.
    pub continuation_delay_seconds: u32,
    /// Everything the pipeline needs: limits, log names, archive prefix, rules.
    pub settings: Settings,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and checks every variable through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(VARIABLES, &lookup);
        let err = |variable: &'static str, message: String| ConfigError { variable, message };
        let size = |name: &'static str| env.size(name);

        let allowed_buckets = env.buckets("ALLOWED_BUCKETS")?;
        let expected_bucket_owner = env.account("EXPECTED_BUCKET_OWNER")?;
        let archive_bucket_owner = env.account("ARCHIVE_BUCKET_OWNER")?;
        let archive_bucket = env.bucket("ARCHIVE_BUCKET")?;
        let log_group = Template::parse(&env.required("LOG_GROUP")?, NameKind::Group)
            .map_err(|e| err("LOG_GROUP", e.to_string()))?;
        let log_stream = Template::parse(&env.required("LOG_STREAM")?, NameKind::Stream)
            .map_err(|e| err("LOG_STREAM", e.to_string()))?;
        let (rules, routes) = rules_of(&env)?;
        let max_record_bytes = usize::try_from(size("MAX_RECORD_BYTES")?)
            .map_err(|_| err("MAX_RECORD_BYTES", "too large".into()))?;
        let message_concurrency = env.number("MESSAGE_CONCURRENCY")?;
        if !(1..=64).contains(&message_concurrency) {
            return Err(err(
                "MESSAGE_CONCURRENCY",
                "must be between 1 and 64".into(),
            ));
        }
        let limits = Limits {
            max_object_bytes: size("MAX_OBJECT_BYTES")?,
            max_record_bytes,
        };
        check_memory(&env, message_concurrency, &limits)?;
        let max_event_age_ms = max_event_age_ms(&env)?;
        let route_log_group_prefix = env.get("ROUTE_LOG_GROUP_PREFIX");
        if let Some(prefix) = &route_log_group_prefix {
            check_route_prefix(prefix).map_err(|m| err("ROUTE_LOG_GROUP_PREFIX", m))?;
        }
        check_route_log_groups(&rules, route_log_group_prefix.as_deref())
            .map_err(|message| err("RULES", message))?;
        let new_log_groups = NewLogGroups {
            retention_days: match env.get("LOG_GROUP_RETENTION_DAYS") {
                None => None,
                Some(_) => i32::try_from(env.number("LOG_GROUP_RETENTION_DAYS")?).ok(),
            },
            kms_key_id: env.get("LOG_GROUP_KMS_KEY_ID"),
        };
        let routing = routing_fingerprint(&[
            &format!("{routes:?}"),
            &env.required("LOG_GROUP")?,
            &env.required("LOG_STREAM")?,
            &max_event_age_ms.to_string(),
        ]);
        Ok(Self {
            routing,
            allowed_buckets,
            expected_bucket_owner,
            archive_bucket_owner,
            archive_bucket,
            archive_kms_key_id: env.get("ARCHIVE_KMS_KEY_ID"),
            new_log_groups,
            logs_puts_per_second: env.positive("LOGS_PUTS_PER_SECOND")?,
            account_events_per_second: env.positive("ACCOUNT_EVENTS_PER_SECOND")?,
            deadline_grace_ms: env.number("DEADLINE_GRACE_MS")?,
            message_concurrency: message_concurrency as usize,
            dead_letter_queue_url: env.get("DEAD_LETTER_QUEUE_URL"),
            continuation_senders: env.unique_ids("CONTINUATION_SENDERS")?,
            continuation_delay_seconds: continuation_delay_seconds(&env)?,
            s3_force_path_style: env.flag("S3_FORCE_PATH_STYLE")?,
            settings: Settings {
                limits,
                max_event_age_ms,
                log_group,
                log_stream,
                archive_prefix: env.required("ARCHIVE_PREFIX")?,
                archive_gzip_level: crate::pipeline::DEFAULT_ARCHIVE_GZIP_LEVEL,
                rules,
                // Messages already run side by side on the instance's CPUs.
                stage_threads: false,
            },
        })
    }
}

/// `RULES`: the compiled rules and the routes as the file gives them.
fn rules_of(env: &Env<'_>) -> Result<(RuleSet, Vec<RouteSpec>), ConfigError> {
    let Some(source) = env.get("RULES") else {
        return Ok((RuleSet::default(), Vec::new()));
    };
    let file = RulesFile::load(&source).map_err(|e| env.error("RULES", e.to_string()))?;
    let rules = RuleSet::compile(&file, PatternOptions::default())
        .map_err(|e| env.error("RULES", e.to_string()))?;
    Ok((rules, file.routes))
}

/// Refuses a `MESSAGE_CONCURRENCY` whose objects' buffers do not fit in the function's memory
/// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, when Lambda sets it).
fn check_memory(
    env: &Env<'_>,
    message_concurrency: u64,
    limits: &Limits,
) -> Result<(), ConfigError> {
    let Some(memory) = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") else {
        return Ok(());
    };
    let mb: u64 = memory.trim().parse().map_err(|_| {
        env.error(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            format!("{memory:?} is not a whole number of MB"),
        )
    })?;
    let need = BASE_MEMORY_BYTES + message_concurrency * object_memory_bytes(limits);
    if need <= mb << 20 {
        return Ok(());
    }
    Err(env.error(
        "MESSAGE_CONCURRENCY",
        format!(
            "{message_concurrency} objects at once with MAX_RECORD_BYTES {} need up to {} MB, more than the function's {mb} MB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE): lower MESSAGE_CONCURRENCY or give the function more memory",
            limits.max_record_bytes,
            need.div_ceil(1 << 20)
        ),
    ))
}

/// The oldest event sent to CloudWatch Logs: 14 days, or the log group's retention if shorter
/// (`LOG_GROUP_RETENTION_DAYS`).
fn max_event_age_ms(env: &Env<'_>) -> Result<i64, ConfigError> {
    if env.get("LOG_GROUP_RETENTION_DAYS").is_none() {
        return Ok(MAX_EVENT_AGE_MS);
    }
    match env.number("LOG_GROUP_RETENTION_DAYS")? {
        0 => Err(env.error("LOG_GROUP_RETENTION_DAYS", "must be at least 1 day")),
        days => Ok(i64::try_from(days)
            .ok()
            .and_then(|d| d.checked_mul(DAY_MS))
            .unwrap_or(i64::MAX)
            .min(MAX_EVENT_AGE_MS)),
    }
}

/// `CONTINUATION_DELAY_SECONDS`, at most the longest SQS delay.
fn continuation_delay_seconds(env: &Env<'_>) -> Result<u32, ConfigError> {
    match env.number("CONTINUATION_DELAY_SECONDS")? {
        n if n <= u64::from(crate::ports::MAX_DELAY_SECONDS) => Ok(n as u32),
        _ => Err(env.error(
            "CONTINUATION_DELAY_SECONDS",
            format!(
                "must be between 0 and {} (the longest SQS delay)",
                crate::ports::MAX_DELAY_SECONDS
            ),
        )),
    }
}

/// The hex SHA-256 (first 16 bytes) of `parts`, each length-prefixed so that no two lists
/// give one text.
fn routing_fingerprint(parts: &[&str]) -> String {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}

/// How a log group the function creates is made: the stack's retention and KMS key, as the
/// destination group has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewLogGroups {
    /// Days its events are kept; `None`: for ever.
    pub retention_days: Option<i32>,
    /// The KMS key that encrypts it; `None`: CloudWatch Logs' own.
    pub kms_key_id: Option<String>,
}

/// Refuses a prefix that would let routes write anywhere: `/`, one under `/aws/` (AWS's own
/// groups), or one shorter than a named folder (`/trailrelay/`): the role is granted
/// `PREFIX*`.
pub fn check_route_prefix(prefix: &str) -> Result<(), String> {
    let folder = prefix
        .trim_start_matches('/')
        .split_once('/')
        .map(|(first, _)| first)
        .filter(|first| !first.is_empty());
    match folder {
        None => Err(format!(
            "{prefix:?} names no folder: give at least one, such as /trailrelay/routes/ (the function may write to every group the prefix starts)"
        )),
        Some(first) if first.eq_ignore_ascii_case("aws") => Err(format!(
            "{prefix:?} is under /aws/, where AWS services keep their own log groups"
        )),
        Some(_) => Ok(()),
    }
}

/// Refuses a route whose `LogGroup` may render outside `prefix` (every one, without a prefix):
/// the function's role may write only to its own group and to the groups under the prefix.
fn check_route_log_groups(rules: &RuleSet, prefix: Option<&str>) -> Result<(), String> {
    for route in rules.routes() {
        let Some(group) = route.log_group() else {
            continue;
        };
        let fixed = group.fixed_prefix();
        match prefix {
            Some(prefix) if fixed.starts_with(prefix) => {}
            Some(prefix) => {
                return Err(format!(
                    "route {:?} sends events to log group {fixed:?}..., outside ROUTE_LOG_GROUP_PREFIX {prefix:?}: the function may not write there",
                    route.name
                ));
            }
            None => {
                return Err(format!(
                    "route {:?} names a LogGroup, but ROUTE_LOG_GROUP_PREFIX is not set: the function may write only to LOG_GROUP",
                    route.name
                ));
            }
        }
    }
    Ok(())
}

/// S3 bucket naming rules (3 to 63 lower-case letters, digits, `.` and `-`, starting and
/// ending with a letter or digit,
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>).
fn is_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests;
