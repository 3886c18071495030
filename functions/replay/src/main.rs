//! The replay function: wiring only. Configuration from the environment, the AWS clients, the
//! adapters, then each invocation's requests through `trailrelay::replay::function`.

use std::time::{Instant, SystemTime};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use trailrelay::aws::load_sdk_config;
use trailrelay::aws::s3::S3Lister;
use trailrelay::aws::sqs::SqsQueue;
use trailrelay::forwarder::time_given;
use trailrelay::ports::{SystemClock, epoch_ms};
use trailrelay::replay::config::ReplayConfig;
use trailrelay::replay::function::{ReplayFunction, RequestOutcome};

type Function = ReplayFunction<S3Lister, SqsQueue, SystemClock>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = ReplayConfig::from_env().map_err(|e| format!("configuration: {e}"))?;
    let sdk = load_sdk_config().await;
    let s3 = trailrelay::aws::s3_client(&sdk, config.s3_force_path_style);
    let function: Function = ReplayFunction {
        lister: S3Lister::new(s3, config.expected_bucket_owner.clone()),
        queue: SqsQueue::new(aws_sdk_sqs::Client::new(&sdk)),
        clock: SystemClock,
        region: sdk.region().map_or_else(String::new, ToString::to_string),
        config,
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(function, event).await
    }))
    .await
}

async fn handle(function: &Function, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let started = Instant::now();
    let given = time_given(event.context.deadline, SystemTime::now());
    // Boxed: the replay future is deep, and the runtime nests it further.
    let invocation = Box::pin(function.handle(event.payload, started + given)).await;
    for (id, outcome) in &invocation.outcomes {
        let summary = outcome.summary();
        let total = summary.map(|s| s.total()).unwrap_or_default();
        let last_done = summary.and_then(|s| s.last_done.as_deref()).unwrap_or("-");
        for (key, e) in summary.iter().flat_map(|s| &s.refused) {
            tracing::error!(message_id = %id, object = %key, cause = e.cause, error = %e, "The queue refused an object; it was not enqueued.");
        }
        match outcome {
            RequestOutcome::Redriven { done, continued } => {
                for (message, why) in &done.held {
                    tracing::warn!(message_id = %id, dead_letter = %message, reason = %why, "Dead letter kept in its queue.");
                }
                tracing::info!(
                    message_id = %id, moved = done.moved, as_continuation = done.continued,
                    kept = done.held.len(), continued, "Redrive {}.", outcome.as_str()
                );
            }
            RequestOutcome::Failed {
                class,
                cause,
                message,
                ..
            } => tracing::error!(
                message_id = %id, cause, class = class.as_str(), error = %message,
                objects = total.objects, last_done, "Replay request failed; it will be retried."
            ),
            other => tracing::info!(
                message_id = %id, outcome = other.as_str(), objects = total.objects,
                bytes = total.bytes, last_done, elapsed_ms = started.elapsed().as_millis() as u64,
                "Replay request {}.", other.as_str()
            ),
        }
    }
    // Embedded Metric Format: one document a line on standard output.
    for line in invocation.emf(epoch_ms(SystemTime::now())) {
        println!("{line}");
    }
    if invocation.from_sqs {
        return Ok(serde_json::to_value(&invocation.response)?);
    }
    match invocation.outcomes.first() {
        Some((_, RequestOutcome::Failed { cause, message, .. })) => {
            Err(format!("{cause}: {message}").into())
        }
        Some((_, outcome)) => {
            let total = outcome.summary().map(|s| s.total()).unwrap_or_default();
            Ok(json!({"outcome": outcome.as_str(), "objects": total.objects, "bytes": total.bytes}))
        }
        None => Err("no request".into()),
    }
}
