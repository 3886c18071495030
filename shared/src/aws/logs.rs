//! CloudWatch Logs: one PutLogEvents per batch, within the rate limits. The call comes first;
//! only when it answers `ResourceNotFoundException` is the stream created (and its group, when
//! that is missing too) and the call made again, so streams that exist cost no extra call, even
//! at a cold start over hundreds of them.
//!
//! Events the service refuses one by one (too old, too new, older than the group's retention)
//! come back in `rejectedLogEventsInfo`; they are counted and stay in the archive. Sequence
//! tokens are not sent: PutLogEvents ignores them
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html>).

use std::sync::Arc;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::SdkError;
use aws_sdk_cloudwatchlogs::operation::create_log_stream::CreateLogStreamError;
use aws_sdk_cloudwatchlogs::types::{InputLogEvent, RejectedLogEventsInfo};
use tokio::runtime::Handle;

use super::{RateLimits, classify};
use crate::batch::LogBatch;
use crate::config::NewLogGroups;
use crate::ports::{ErrorClass, LogSink, PortError, PutReport};

/// Sends log batches to CloudWatch Logs.
#[derive(Debug, Clone)]
pub struct CloudWatchLogSink {
    client: Client,
    handle: Handle,
    limits: Arc<RateLimits>,
    groups: NewLogGroups,
}

impl CloudWatchLogSink {
    /// A sink using `client`, bridging calls through `handle`, within `limits`.
    pub fn new(client: Client, handle: Handle, limits: Arc<RateLimits>) -> Self {
        Self {
            client,
            handle,
            limits,
            groups: NewLogGroups::default(),
        }
    }

    /// The same sink, creating the groups it must create as `groups` says (retention, KMS key).
    pub fn with_new_groups(self, groups: NewLogGroups) -> Self {
        Self { groups, ..self }
    }

    /// Creates the stream, and its group only when the group is missing: a deployment that
    /// creates the group itself needs no `logs:CreateLogGroup` permission. A group it creates
    /// gets the stack's KMS key and retention, as the destination group has them.
    async fn create(&self, group: &str, stream: &str) -> Result<(), PortError> {
        match self.create_stream(group, stream).await {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            other => return other.map_err(classify),
        }
        match self
            .client
            .create_log_group()
            .log_group_name(group)
            .set_kms_key_id(self.groups.kms_key_id.clone())
            .send()
            .await
        {
            Ok(_) => {
                if let Some(days) = self.groups.retention_days {
                    self.client
                        .put_retention_policy()
                        .log_group_name(group)
                        .retention_in_days(days)
                        .send()
                        .await
                        .map_err(classify)?;
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
            Err(e) => return Err(classify(e)),
        }
        self.create_stream(group, stream).await.map_err(classify)
    }

    /// CreateLogStream; a stream that already exists is success.
    async fn create_stream(
        &self,
        group: &str,
        stream: &str,
    ) -> Result<(), SdkError<CreateLogStreamError, HttpResponse>> {
        match self
            .client
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn put_async(&self, batch: &LogBatch) -> Result<PutReport, PortError> {
        let events = batch
            .events
            .iter()
            .map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.timestamp_ms)
                    .message(&*e.message)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::new(ErrorClass::Poison, "request", e))?;
        self.limits
            .until_ready(batch.source_account.as_deref(), events.len())
            .await;
        let send = || {
            self.client
                .put_log_events()
                .log_group_name(&batch.group)
                .log_stream_name(&batch.stream)
                .set_log_events(Some(events.clone()))
                .send()
        };
        let output = match send().await {
            // The stream (or its group) does not exist yet, or was deleted: create it, once.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.create(&batch.group, &batch.stream).await?;
                // The refused call counted against the account's rate too.
                self.limits.until_ready(None, 0).await;
                send().await
            }
            other => other,
        }
        .map_err(classify)?;
        Ok(PutReport {
            rejected: rejected(output.rejected_log_events_info(), events.len()),
        })
    }
}

/// Events refused one by one: those before `tooOldLogEventEndIndex` or
/// `expiredLogEventEndIndex` (inclusive) and those from `tooNewLogEventStartIndex` on.
pub fn rejected(info: Option<&RejectedLogEventsInfo>, events: usize) -> u64 {
    let Some(info) = info else { return 0 };
    let index = |i: Option<i32>| i.and_then(|i| usize::try_from(i).ok());
    let old = index(info.too_old_log_event_end_index())
        .max(index(info.expired_log_event_end_index()))
        .map_or(0, |end| end + 1);
    let new =
        index(info.too_new_log_event_start_index()).map_or(0, |start| events.saturating_sub(start));
    (old + new).min(events) as u64
}

impl LogSink for CloudWatchLogSink {
    fn put(&self, batch: &LogBatch) -> Result<PutReport, PortError> {
        self.handle.block_on(self.put_async(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_events_are_counted_from_the_indexes() {
        let info = |old: Option<i32>, expired: Option<i32>, new: Option<i32>| {
            RejectedLogEventsInfo::builder()
                .set_too_old_log_event_end_index(old)
                .set_expired_log_event_end_index(expired)
                .set_too_new_log_event_start_index(new)
                .build()
        };
        assert_eq!(rejected(None, 10), 0);
        assert_eq!(rejected(Some(&info(Some(2), None, None)), 10), 3);
        assert_eq!(rejected(Some(&info(Some(2), Some(4), None)), 10), 5);
        assert_eq!(rejected(Some(&info(None, None, Some(7))), 10), 3);
        assert_eq!(rejected(Some(&info(Some(0), None, Some(9))), 10), 2);
        assert_eq!(rejected(Some(&info(Some(9), None, Some(0))), 10), 10);
    }
}
