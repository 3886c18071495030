//! The digest-validator function, on a schedule: wiring only. Configuration from the
//! environment, the AWS clients, the adapters, then each invocation's run of
//! `trailrelay::integrity::function` on a blocking thread.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::runtime::Handle;
use trailrelay::aws::cloudtrail::{CloudTrailKeys, Keys};
use trailrelay::aws::load_sdk_config;
use trailrelay::aws::s3::{S3Archive, S3Lister, S3Source};
use trailrelay::aws::sqs::SqsQueue;
use trailrelay::forwarder::time_given;
use trailrelay::integrity::config::ValidatorConfig;
use trailrelay::integrity::function::{ByBucket, RunReport, Validator, ValidatorPorts, load_keys};
use trailrelay::ports::{PortError, SystemClock, epoch_ms};

/// Time kept before the deadline to heal and write the checkpoint.
const FINISH_GRACE: Duration = Duration::from_secs(60);

/// What every invocation uses, made at cold start.
struct State {
    config: ValidatorConfig,
    source: ByBucket<S3Source>,
    lister: S3Lister,
    archive: S3Archive,
    queue: SqsQueue,
    keys: Keys,
    region: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = ValidatorConfig::from_env().map_err(|e| format!("configuration: {e}"))?;
    let sdk = load_sdk_config().await;
    let s3 = trailrelay::aws::s3_client(&sdk, config.s3_force_path_style);
    let handle = Handle::current();
    let owner = config.expected_bucket_owner.clone();
    // The trail's owner is expected of the trail bucket only, not of the archive's.
    let trail = S3Source::new(s3.clone(), handle.clone(), owner.clone());
    let lister = S3Lister::new(s3.clone(), owner);
    // Other buckets (the archive's, the keys') are not the trail's: no expected owner.
    let other = S3Source::new(s3.clone(), handle.clone(), None);
    let keys = match config.public_keys.clone() {
        Some((bucket, prefix)) => {
            let other = other.clone();
            let lister = S3Lister::new(s3.clone(), None);
            let handle = handle.clone();
            let ring = tokio::task::spawn_blocking(move || {
                load_keys(&lister, &other, &handle, &bucket, &prefix)
            })
            .await?
            .map_err(|e| format!("configuration: PUBLIC_KEYS: {e}"))?;
            Keys::Files(ring)
        }
        None => Keys::CloudTrail(Box::new(CloudTrailKeys::new(sdk.clone(), handle.clone()))),
    };
    let source = ByBucket {
        trail_bucket: config.trail_bucket.clone(),
        trail,
        other,
    };
    let state = Arc::new(State {
        // Written like the forwarder's archive objects: the account that must own the bucket,
        // the archive's KMS key.
        archive: S3Archive::new(
            s3,
            handle,
            config.archive_bucket.clone(),
            config.archive_kms_key_id.clone(),
        )
        .with_expected_owner(config.archive_bucket_owner.clone()),
        queue: SqsQueue::new(aws_sdk_sqs::Client::new(&sdk)),
        region: sdk.region().map_or_else(String::new, ToString::to_string),
        config,
        source,
        lister,
        keys,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = Arc::clone(&state);
        // Stop early enough to heal and write the checkpoint: the next run goes on from it.
        let given = time_given(event.context.deadline, SystemTime::now());
        let stop_at = Instant::now() + given.saturating_sub(FINISH_GRACE);
        async move { invoke(state, stop_at).await }
    }))
    .await
}

async fn invoke(state: Arc<State>, stop_at: Instant) -> Result<Value, Error> {
    let handle = Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        Validator {
            ports: ValidatorPorts {
                source: &state.source,
                keys: &state.keys,
                lister: &state.lister,
                archive: &state.archive,
                queue: &state.queue,
                clock: &SystemClock,
                handle,
            },
            config: &state.config,
            region: state.region.clone(),
        }
        .run(Some(stop_at))
    })
    .await?
    .map_err(|e| describe("The checkpoint could not be read or written", &e))?;
    log(&report);
    if let Some(e) = &report.failure {
        return Err(describe(
            "Validation stopped; the next run goes on from the checkpoint",
            e,
        ));
    }
    let t = &report.tally;
    Ok(json!({
        "findings": t.finding_count(), "chains": t.chains, "digests": t.digests,
        "log_files": t.log_files, "healed": report.healed, "complete": report.complete,
    }))
}

fn describe(what: &str, e: &PortError) -> Error {
    tracing::error!(cause = e.cause, class = e.class.as_str(), error = %e, "{what}.");
    format!("{what}: {e}").into()
}

/// Each finding as one JSON line, then the heal failures, the summary and the metrics.
fn log(report: &RunReport) {
    for finding in &report.findings {
        println!(
            "{}",
            json!({"level": "WARN", "message": "Digest validation finding.", "finding": finding})
        );
    }
    for (key, e) in &report.heal_failed {
        tracing::error!(object = %key, cause = e.cause, error = %e, "A log file without a receipt could not be enqueued again.");
    }
    let t = &report.tally;
    tracing::info!(
        chains = t.chains,
        digests = t.digests,
        digests_verified = t.digests_verified,
        log_files = t.log_files,
        log_files_verified = t.log_files_verified,
        log_files_forwarded = t.log_files_forwarded,
        awaiting_receipt = t.awaiting_receipt,
        findings = t.finding_count(),
        healed = report.healed,
        complete = report.complete,
        "Digests validated."
    );
    for line in report.emf(epoch_ms(SystemTime::now())) {
        println!("{line}");
    }
}
