//! The forwarder Lambda function: wiring only. Configuration from the environment, the AWS
//! clients, the adapters, then one batch per invocation through `trailrelay::forwarder`.

use std::time::{Instant, SystemTime};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use trailrelay::aws::{AwsForwarder, Clients, forwarder_ports, load_sdk_config};
use trailrelay::config::Config;
use trailrelay::forwarder::{MessageOutcome, SqsBatchResponse, SqsEvent, time_given};
use trailrelay::ports::{ErrorClass, epoch_ms};

type Function = AwsForwarder;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let sdk = load_sdk_config().await;
    let s3 = trailrelay::aws::s3_client(&sdk, config.s3_force_path_style);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let clients = Clients {
        s3,
        logs,
        sqs: aws_sdk_sqs::Client::new(&sdk),
    };
    let ports = forwarder_ports(&config, clients, tokio::runtime::Handle::current());
    let forwarder: Function = AwsForwarder::new(ports, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let forwarder = forwarder.clone();
        async move { handle_batch(&forwarder, event).await }
    }))
    .await
}

async fn handle_batch(
    forwarder: &Function,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let event_deadline_ms = event.context.deadline;
    let remaining = time_given(event_deadline_ms, SystemTime::now());
    let invocation = forwarder
        .handle(event.payload.records, Instant::now() + remaining)
        .await;
    // Each failure once, with where it ended.
    for (message_id, outcome, f) in invocation.troubles() {
        let object = f.object.as_deref().unwrap_or("-");
        let (class, cause, error) = (f.class.as_str(), f.cause, &f.message);
        let (is_error, what) = match outcome {
            MessageOutcome::DeadLettered(_) => (true, "Message sent to the dead-letter queue."),
            MessageOutcome::Continued(_) => {
                (false, "Message interrupted; its continuation is enqueued.")
            }
            _ if f.class == ErrorClass::Poison => {
                (true, "Message failed; it will reach the dead-letter queue.")
            }
            _ => (false, "Message failed; it will be retried."),
        };
        if is_error {
            tracing::error!(message_id, object, cause, class, error, "{what}");
        } else {
            tracing::warn!(message_id, object, cause, class, error, "{what}");
        }
    }
    let c = &invocation.totals.counts;
    let messages = invocation.message_counts();
    tracing::info!(
        time_given_ms = remaining.as_millis() as u64,
        deadline_ms = event_deadline_ms,
        messages = invocation.outcomes.len(),
        done = messages.get("done").copied().unwrap_or(0),
        acknowledged = messages.get("acknowledged").copied().unwrap_or(0),
        continued = messages.get("continued").copied().unwrap_or(0),
        dead_lettered = messages.get("dead-lettered").copied().unwrap_or(0),
        failed = invocation.response.batch_item_failures.len(),
        objects = invocation.totals.forwarded,
        replayed = invocation.totals.replayed,
        records = c.records,
        bytes_read = c.bytes_read,
        events_logged = c.events_logged,
        events_archived = c.events_archived,
        events_rejected = c.events_rejected,
        events_resumed = c.events_resumed,
        events_too_old = c.events_too_old,
        events_too_new = c.events_too_new,
        events_key_mismatch = c.events_key_mismatch,
        events_without_time = c.events_without_time,
        records_quarantined = c.records_quarantined,
        "Batch done."
    );
    let now_ms = epoch_ms(SystemTime::now());
    // Embedded Metric Format: one document a line on standard output, read by CloudWatch Logs.
    println!("{}", invocation.emf(now_ms));
    for line in forwarder
        .config()
        .settings
        .rules
        .emf_lines(&invocation.totals.rule_stats, now_ms)
    {
        println!("{line}");
    }
    Ok(invocation.response)
}
