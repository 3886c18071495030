//! The ports on AWS: S3 for objects and the archive, CloudWatch Logs for log events.
//!
//! Adapters are thin: build the request, map the answer to the port's type, classify the error.
//! The ports are synchronous (see [`crate::ports`]); these adapters run on the blocking threads
//! the forwarder gives each object and bridge every call to the async SDK through a runtime
//! handle. Retries of transient failures (throttling, 5xx, timeouts) happen once, inside the
//! SDK's standard retry strategy (exponential backoff with jitter), configured by
//! [`load_sdk_config`]; what still fails is classified by [`classify`] and left to the queue.

pub mod logs;
pub mod s3;

use std::num::NonZeroU32;

use aws_config::retry::RetryConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::ports::{ErrorClass, PortError};

/// Attempts per call in the SDK's standard retry mode (the first and four retries).
pub const SDK_MAX_ATTEMPTS: u32 = 5;

/// The one HTTP client: hyper with rustls on ring (no second TLS stack, no C crypto).
pub fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads the SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) with [`http_client`]
/// and the standard retry mode.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS))
        .load()
        .await
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
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "LimitExceededException",
];

/// Classifies what an SDK call left after its own retries: throttling, 5xx and transport
/// failures are worth retrying later; a refusal of the request itself (missing object, access
/// denied, validation) is poison.
pub fn classify<E, R>(error: aws_sdk_s3::error::SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let (class, cause) = match &error {
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or("");
            let status = raw_status(e.raw());
            if THROTTLING_CODES.contains(&code) {
                (ErrorClass::Retry, "throttled")
            } else if matches!(
                code,
                "NoSuchKey" | "NoSuchBucket" | "NotFound" | "ResourceNotFoundException"
            ) {
                (ErrorClass::Poison, "not-found")
            } else if matches!(code, "AccessDenied" | "AccessDeniedException" | "Forbidden") {
                (ErrorClass::Poison, "access-denied")
            } else if status.is_some_and(|s| s >= 500) {
                (ErrorClass::Retry, "service-error")
            } else {
                (ErrorClass::Poison, "refused")
            }
        }
        SdkError::TimeoutError(_) => (ErrorClass::Retry, "timeout"),
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (ErrorClass::Retry, "network"),
        SdkError::ConstructionFailure(_) => (ErrorClass::Poison, "request"),
        _ => (ErrorClass::Retry, "sdk"),
    };
    let described = aws_sdk_s3::error::DisplayErrorContext(&error).to_string();
    PortError::new(class, cause, described)
}

fn raw_status<R: std::fmt::Debug>(raw: &R) -> Option<u16> {
    // The raw response type is generic here; its Debug output carries the status code.
    let text = format!("{raw:?}");
    let at = text.find("status: ")? + "status: ".len();
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
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
