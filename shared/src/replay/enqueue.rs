//! Objects to S3-event-notification messages on the forwarder's queue: SendMessageBatch calls
//! of at most ten messages and 256 KiB, rate-limited, each refused entry retried alone.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota};
use serde_json::json;

use crate::key::form_encode;
use crate::notification::REPLAY_PRINCIPAL;
use crate::ports::{ErrorClass, ListedObject, MAX_BATCH_MESSAGES, Outgoing, PortError, Queue};

/// Most bytes one SendMessageBatch call carries, all bodies together: 256 KiB, the smallest
/// maximum a queue may be configured with by default
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Sends of one batch, the first included: entries refused for a transient reason are sent
/// again, alone, after 0.2, 0.4, 0.8 and 1.6 s.
const MAX_SEND_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// The S3 event notification S3 would send for `object` of `bucket`
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>):
/// one record, `ObjectCreated:Put`, the key form-encoded, the ETag without its quotes, and
/// [`REPLAY_PRINCIPAL`] as the requester.
pub fn notification(bucket: &str, object: &ListedObject, region: &str, now: SystemTime) -> String {
    let event_time = jiff::Timestamp::try_from(now)
        .unwrap_or_default()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut s3_object = json!({"key": form_encode(&object.key), "size": object.size});
    if let Some(etag) = &object.etag {
        s3_object["eTag"] = etag.trim_matches('"').into();
    }
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": REPLAY_PRINCIPAL},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": REPLAY_PRINCIPAL,
            "bucket": {"name": bucket},
            "object": s3_object,
        },
    }]})
    .to_string()
}

/// A rate limiter of `per_second` messages, with a burst of at least one whole batch.
pub fn limiter(per_second: NonZeroU32) -> DefaultDirectRateLimiter {
    let batch = NonZeroU32::new(MAX_BATCH_MESSAGES as u32).unwrap_or(NonZeroU32::MIN);
    governor::RateLimiter::direct(Quota::per_second(per_second).allow_burst(per_second.max(batch)))
}

/// Whether `next` still fits in a batch holding `messages` messages of `bytes` bytes.
pub fn fits(messages: usize, bytes: usize, next: &str) -> bool {
    messages < MAX_BATCH_MESSAGES && bytes + next.len() <= MAX_BATCH_BYTES
}

/// Sends `messages` (one batch, one queue), waiting for the rate limiter first and sending
/// again, alone, the entries refused for a transient reason. One result per message, in order.
pub async fn send<Q: Queue>(
    queue: &Q,
    limiter: Option<&DefaultDirectRateLimiter>,
    messages: &[Outgoing],
) -> Vec<Result<(), PortError>> {
    if let (Some(limiter), Some(n)) = (limiter, NonZeroU32::new(messages.len() as u32)) {
        // A batch never exceeds the burst, so the wait always ends.
        let _ = limiter.until_n_ready(n).await;
    }
    let mut results = queue.send_batch(messages).await;
    let mut backoff = FIRST_BACKOFF;
    for _ in 1..MAX_SEND_ATTEMPTS {
        let again: Vec<usize> = (0..results.len())
            .filter(|&i| matches!(&results[i], Err(e) if e.class == ErrorClass::Retry))
            .collect();
        if again.is_empty() {
            break;
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        let retried: Vec<Outgoing> = again.iter().map(|&i| messages[i].clone()).collect();
        let sent = queue.send_batch(&retried).await;
        for (i, result) in again.into_iter().zip(sent) {
            results[i] = result;
        }
    }
    results
}
