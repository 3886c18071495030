//! The ports on AWS: S3 for objects and the archive, CloudWatch Logs for log events.
//!
//! Adapters are thin: build the request, map the answer to the port's type, classify the error.
//! The ports are synchronous (see [`crate::ports`]); these adapters run on the blocking threads
//! the forwarder gives each object and bridge every call to the async SDK through a runtime
//! handle. Retries of transient failures (throttling, 5xx, timeouts) happen once, inside the
//! SDK's standard retry strategy (exponential backoff with jitter), configured by
//! [`load_sdk_config`]; what still fails is classified by [`classify`] and left to the queue.

pub mod cloudtrail;
pub mod logs;
pub mod s3;
pub mod sqs;

use std::num::NonZeroU32;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::config::Config;
use crate::forwarder::{Forwarder, Ports};
use crate::ports::{CALL_TIMEOUT, ErrorClass, PortError, SystemClock};

/// The forwarder's ports on AWS.
pub type AwsPorts =
    Ports<s3::S3Source, logs::CloudWatchLogSink, s3::S3Archive, SystemClock, sqs::SqsQueue>;

/// The forwarder on AWS.
pub type AwsForwarder =
    Forwarder<s3::S3Source, logs::CloudWatchLogSink, s3::S3Archive, SystemClock, sqs::SqsQueue>;

/// The clients the forwarder uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// S3: trail objects and the archive.
    pub s3: aws_sdk_s3::Client,
    /// CloudWatch Logs: events.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// SQS: continuations and dead letters.
    pub sqs: aws_sdk_sqs::Client,
}

/// The forwarder's ports over `clients`, as `config` says (expected bucket owners, archive
/// bucket and key, rate limits), bridging through `handle`.
pub fn forwarder_ports(
    config: &Config,
    clients: Clients,
    handle: tokio::runtime::Handle,
) -> AwsPorts {
    let limits = std::sync::Arc::new(RateLimits::new(
        config.logs_puts_per_second,
        config.account_events_per_second,
    ));
    Ports {
        source: s3::S3Source::new(
            clients.s3.clone(),
            handle.clone(),
            config.expected_bucket_owner.clone(),
        ),
        logs: logs::CloudWatchLogSink::new(clients.logs, handle.clone(), limits)
            .with_new_groups(config.new_log_groups.clone()),
        archive: s3::S3Archive::new(
            clients.s3,
            handle,
            config.archive_bucket.clone(),
            config.archive_kms_key_id.clone(),
        )
        .with_expected_owner(config.archive_bucket_owner.clone()),
        clock: SystemClock,
        queue: sqs::SqsQueue::new(clients.sqs),
    }
}

/// Attempts per call in the SDK's standard retry mode (the first and four retries).
pub const SDK_MAX_ATTEMPTS: u32 = 5;
/// Longest wait for a connection to an endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for one attempt's response (a 1 MB PutLogEvents, an 8 MiB part upload).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a call may take, all attempts and backoff together: the ports' [`CALL_TIMEOUT`],
/// from which the forwarder's grace before its deadline is derived.
pub const OPERATION_TIMEOUT: Duration = CALL_TIMEOUT;
/// Longest silence while reading a response, a streamed object included.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// The one HTTP client: hyper with rustls on ring (no second TLS stack, no C crypto).
pub fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads the SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) with [`http_client`],
/// the standard retry mode and explicit timeouts.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS))
        .timeout_config(timeouts())
        .load()
        .await
}

/// An S3 client of `sdk`, addressing buckets by path when `force_path_style` (endpoints such
/// as local emulators need it).
pub fn s3_client(sdk: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(force_path_style)
            .build(),
    )
}

/// Connect, read and per-attempt timeouts for every client.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Error codes that mean "slow down" across the services used here.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "RequestLimitExceeded",
    "LimitExceededException",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Error codes of failures that pass, whatever status carries them: S3 answers `InternalError`
/// with status 200 to CompleteMultipartUpload, `RequestTimeout` with 400; an expired token or a
/// skewed clock heal with the next credentials or request.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestTimeTooSkewed",
    "ExpiredToken",
    "ExpiredTokenException",
    "OperationAbortedException",
    "IDPCommunicationError",
    // Two conditional writes of one key at once: which lands is not known yet
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html).
    "ConditionalRequestConflict",
];

/// Error codes of a resource that does not exist (S3, CloudWatch Logs, SQS).
const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchKey",
    "NoSuchBucket",
    "NotFound",
    "ResourceNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];

/// Error codes of a caller without the permission.
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "Forbidden",
    "InvalidAccessKeyId",
];

/// What to do about a service's answer, from its error code and HTTP status: the one
/// classification of every AWS failure. Throttling codes (and HTTP 429) and every 5xx are
/// worth retrying; a failed S3 precondition means the object changed; a refusal of the request
/// itself (missing resource, access denied, any other 4xx) is poison.
pub fn classify_status(code: Option<&str>, status: u16) -> (ErrorClass, &'static str) {
    let code = code.unwrap_or("");
    if THROTTLING_CODES.contains(&code) || status == 429 {
        (ErrorClass::Retry, "throttled")
    } else if status >= 500 || TRANSIENT_CODES.contains(&code) {
        (ErrorClass::Retry, "service-error")
    } else if code == "PreconditionFailed" || status == 412 {
        (ErrorClass::Poison, crate::ports::OBJECT_CHANGED)
    } else if NOT_FOUND_CODES.contains(&code) || status == 404 {
        (ErrorClass::Poison, crate::ports::NOT_FOUND)
    } else if ACCESS_DENIED_CODES.contains(&code) || status == 403 {
        (ErrorClass::Poison, crate::ports::ACCESS_DENIED)
    } else {
        (ErrorClass::Poison, "refused")
    }
}

/// Classifies what an SDK call (any of the SDKs: their errors share one type) left after its
/// own retries, from the response's own status ([`classify_status`]); timeouts and transport
/// failures are retried.
pub fn classify<E>(error: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (class, cause) = match &error {
        SdkError::ServiceError(e) => classify_status(e.err().code(), e.raw().status().as_u16()),
        SdkError::TimeoutError(_) => (ErrorClass::Retry, "timeout"),
        // Credentials are resolved on the way out: a failure to find them is no network fault.
        _ if error_chain(&error).any(|e| e.is::<CredentialsError>()) => {
            (ErrorClass::Retry, crate::ports::NO_CREDENTIALS)
        }
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (ErrorClass::Retry, "network"),
        SdkError::ConstructionFailure(_) => (ErrorClass::Poison, "request"),
        _ => (ErrorClass::Retry, "sdk"),
    };
    let code = match &error {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    };
    let described = describe(&error);
    PortError::new(class, cause, described).with_service_code(code)
}

/// One line a person can act on: the service's error code and message
/// (`QueueDoesNotExist: The specified queue does not exist.`), the HTTP status when the
/// service gave no code, or else the chain of causes, each said once.
fn describe<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(e) = error {
        let status = e.raw().status().as_u16();
        return match (e.err().code(), e.err().message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => format!("{code} (HTTP {status})"),
            (None, Some(message)) => format!("HTTP {status}: {message}"),
            (None, None) => format!("HTTP {status} with no error code"),
        };
    }
    describe_error(error)
}

/// An error and its causes on one line, each said once (wrappers repeat what they wrap).
fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in error_chain(error) {
        let text = e.to_string();
        if !text.is_empty()
            && !parts
                .iter()
                .any(|p| p.contains(&text) || text.contains(p.as_str()))
        {
            parts.push(text);
        } else if let Some(last) = parts.last_mut().filter(|p| text.contains(p.as_str())) {
            *last = text;
        }
    }
    parts.join(": ")
}

/// `error` and its sources, outermost first.
fn error_chain<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'e (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |e| e.source())
}

/// The rate limits of one function instance: PutLogEvents calls per second, and log events per
/// second per source account, so that one noisy account cannot take every call.
#[derive(Debug)]
pub struct RateLimits {
    puts: DefaultDirectRateLimiter,
    accounts: DefaultKeyedRateLimiter<String>,
    account_burst: NonZeroU32,
}

impl RateLimits {
    /// Limits of `puts_per_second` calls and `account_events_per_second` events per account.
    pub fn new(puts_per_second: NonZeroU32, account_events_per_second: NonZeroU32) -> Self {
        // A whole batch must fit in one account's burst, or it could never pass.
        let burst = account_events_per_second
            .max(NonZeroU32::new(crate::batch::MAX_BATCH_EVENTS as u32).unwrap_or(NonZeroU32::MIN));
        Self {
            puts: governor::RateLimiter::direct(Quota::per_second(puts_per_second)),
            accounts: governor::RateLimiter::keyed(
                Quota::per_second(account_events_per_second).allow_burst(burst),
            ),
            account_burst: burst,
        }
    }

    /// Waits until a call for `events` events of `account` may go.
    pub async fn until_ready(&self, account: Option<&str>, events: usize) {
        if let (Some(account), Some(n)) = (account, NonZeroU32::new(events as u32)) {
            let n = n.min(self.account_burst);
            // `n` never exceeds the burst, so this cannot fail.
            let _ = self
                .accounts
                .until_key_n_ready(&account.to_owned(), n)
                .await;
        }
        self.puts.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_from_the_status_and_the_code() {
        let cases: &[(Option<&str>, u16, ErrorClass, &str)] = &[
            (
                Some("ThrottlingException"),
                400,
                ErrorClass::Retry,
                "throttled",
            ),
            (Some("SlowDown"), 503, ErrorClass::Retry, "throttled"),
            (None, 429, ErrorClass::Retry, "throttled"),
            (
                Some("InternalError"),
                500,
                ErrorClass::Retry,
                "service-error",
            ),
            (
                Some("ServiceUnavailableException"),
                500,
                ErrorClass::Retry,
                "service-error",
            ),
            (None, 502, ErrorClass::Retry, "service-error"),
            // A code nobody lists, on a 5xx: the status decides.
            (
                Some("SomethingNew"),
                503,
                ErrorClass::Retry,
                "service-error",
            ),
            // Transient whatever the status.
            (
                Some("InternalError"),
                200,
                ErrorClass::Retry,
                "service-error",
            ),
            (
                Some("RequestTimeout"),
                400,
                ErrorClass::Retry,
                "service-error",
            ),
            (
                Some("ExpiredToken"),
                400,
                ErrorClass::Retry,
                "service-error",
            ),
            (
                Some("RequestTimeTooSkewed"),
                403,
                ErrorClass::Retry,
                "service-error",
            ),
            (
                Some("PreconditionFailed"),
                412,
                ErrorClass::Poison,
                "object-changed",
            ),
            (Some("NoSuchKey"), 404, ErrorClass::Poison, "not-found"),
            (
                Some("ResourceNotFoundException"),
                400,
                ErrorClass::Poison,
                "not-found",
            ),
            (
                Some("AWS.SimpleQueueService.NonExistentQueue"),
                400,
                ErrorClass::Poison,
                "not-found",
            ),
            (
                Some("AccessDenied"),
                403,
                ErrorClass::Poison,
                "access-denied",
            ),
            (None, 403, ErrorClass::Poison, "access-denied"),
            (
                Some("InvalidParameterException"),
                400,
                ErrorClass::Poison,
                "refused",
            ),
        ];
        for &(code, status, class, cause) in cases {
            assert_eq!(
                classify_status(code, status),
                (class, cause),
                "{code:?} {status}"
            );
        }
    }

    #[tokio::test]
    async fn a_noisy_account_waits_and_the_others_do_not() {
        let limits = RateLimits::new(
            NonZeroU32::new(1000).unwrap(),
            NonZeroU32::new(10_000).unwrap(),
        );
        // A full batch of each account passes at once (the burst)...
        limits.until_ready(Some("111122223333"), 10_000).await;
        limits.until_ready(Some("444455556666"), 10_000).await;
        assert!(
            limits
                .accounts
                .check_key(&"444455556666".to_owned())
                .is_err()
        );
        assert!(
            limits
                .accounts
                .check_key(&"777788889999".to_owned())
                .is_ok()
        );
        // ...and the next batch of a busy account waits for its tokens: a lower bound on time,
        // which no machine can beat.
        let before = std::time::Instant::now();
        limits.until_ready(Some("111122223333"), 5_000).await;
        assert!(
            before.elapsed() >= std::time::Duration::from_millis(400),
            "{:?}",
            before.elapsed()
        );
    }
}
