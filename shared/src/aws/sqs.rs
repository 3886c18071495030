//! SQS: the [`Queue`] port, SendMessage and SendMessageBatch. Queues named by ARN (Lambda's `eventSourceARN`) are resolved to
//! their URL once per instance with GetQueueUrl.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use super::classify;
use crate::ports::{ErrorClass, MAX_BATCH_MESSAGES, Outgoing, PortError, Queue, QueueRef};
use crate::replay::redrive::{Inbox, Received};

/// Most message attributes one SQS message may carry
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html>).
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Sends messages with SendMessage.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    urls: Arc<Mutex<HashMap<String, String>>>,
}

impl SqsQueue {
    /// A queue port over `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            urls: Arc::default(),
        }
    }

    /// The URL of `queue`, looked up once for an ARN.
    async fn url(&self, queue: &QueueRef) -> Result<String, PortError> {
        let arn = match queue {
            QueueRef::Url(url) => return Ok(url.clone()),
            QueueRef::Arn(arn) => arn,
        };
        if let Some(url) = self.urls.lock().ok().and_then(|u| u.get(arn).cloned()) {
            return Ok(url);
        }
        let (account, name) = parse_arn(arn).ok_or_else(|| {
            PortError::new(
                ErrorClass::Poison,
                "bad-queue-arn",
                format!("{arn:?} is not an SQS queue ARN"),
            )
        })?;
        let found = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(classify)?;
        let url = found.queue_url().map(str::to_owned).ok_or_else(|| {
            PortError::new(
                ErrorClass::Retry,
                "sdk",
                format!("GetQueueUrl gave no URL for {arn}"),
            )
        })?;
        if let Ok(mut urls) = self.urls.lock() {
            urls.insert(arn.clone(), url.clone());
        }
        Ok(url)
    }
}

impl SqsQueue {
    /// Messages of `queue` received and not yet deleted nor visible again (in flight), as
    /// SQS approximates them (`ApproximateNumberOfMessagesNotVisible`).
    pub async fn in_flight(&self, queue: &QueueRef) -> Result<u64, PortError> {
        self.count(
            queue,
            &[QueueAttributeName::ApproximateNumberOfMessagesNotVisible],
        )
        .await
    }

    /// The sum of the approximate message counts `names` of `queue`.
    async fn count(
        &self,
        queue: &QueueRef,
        names: &[QueueAttributeName],
    ) -> Result<u64, PortError> {
        let url = self.url(queue).await?;
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        Ok(names
            .iter()
            .filter_map(|name| attributes.attributes()?.get(name)?.parse::<u64>().ok())
            .sum())
    }
}

/// (account, queue name) of `arn:aws:sqs:REGION:ACCOUNT:NAME`.
pub fn parse_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("sqs"), Some(_region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

impl Queue for SqsQueue {
    /// Looks up (and keeps) the URL of a queue given by ARN.
    async fn prepare(&self, queue: &QueueRef) -> Result<(), PortError> {
        self.url(queue).await.map(|_| ())
    }

    async fn pending(&self, queue: &QueueRef) -> Result<u64, PortError> {
        self.count(
            queue,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            ],
        )
        .await
    }

    async fn send(&self, message: &Outgoing) -> Result<(), PortError> {
        let url = self.url(&message.queue).await?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(&message.body)
            .delay_seconds(delay(message))
            .set_message_attributes(attributes(message)?)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn send_batch(&self, messages: &[Outgoing]) -> Vec<Result<(), PortError>> {
        let Some(first) = messages.first() else {
            return Vec::new();
        };
        let all = |e: PortError| -> Vec<Result<(), PortError>> {
            let (class, cause, text) = (e.class, e.cause, e.to_string());
            messages
                .iter()
                .map(|_| {
                    Err(PortError::new(class, cause, text.clone())
                        .with_service_code(e.service_code.as_deref()))
                })
                .collect()
        };
        if messages.len() > MAX_BATCH_MESSAGES || messages.iter().any(|m| m.queue != first.queue) {
            return all(PortError::new(
                ErrorClass::Poison,
                "request",
                "a batch holds at most ten messages, all for one queue",
            ));
        }
        let url = match self.url(&first.queue).await {
            Ok(url) => url,
            Err(e) => return all(e),
        };
        let mut request = self.client.send_message_batch().queue_url(url);
        for (i, message) in messages.iter().enumerate() {
            let entry = attributes(message).and_then(|attributes| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&message.body)
                    .delay_seconds(delay(message))
                    .set_message_attributes(attributes)
                    .build()
                    .map_err(|e| PortError::new(ErrorClass::Poison, "request", e))
            });
            match entry {
                Ok(entry) => request = request.entries(entry),
                Err(e) => return all(e),
            }
        }
        let output = match request.send().await {
            Ok(output) => output,
            Err(e) => return all(classify(e)),
        };
        // Entries are named by their index; one the response does not mention is not known to
        // have arrived.
        let mut results: Vec<Result<(), PortError>> = messages
            .iter()
            .map(|_| {
                Err(PortError::new(
                    ErrorClass::Retry,
                    "sdk",
                    "SendMessageBatch did not report this entry",
                ))
            })
            .collect();
        for ok in output.successful() {
            if let Some(slot) = ok
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Ok(());
            }
        }
        for failed in output.failed() {
            if let Some(slot) = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                // The sender's fault (a bad entry) repeats; the service's may not.
                let (class, cause) = if failed.sender_fault() {
                    (ErrorClass::Poison, "refused")
                } else {
                    super::classify_status(Some(failed.code()), 500)
                };
                *slot = Err(PortError::new(
                    class,
                    cause,
                    format!(
                        "SendMessageBatch entry refused: {} {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                ));
            }
        }
        results
    }
}

impl Inbox for SqsQueue {
    async fn receive(
        &self,
        queue: &QueueRef,
        visibility_s: u32,
    ) -> Result<Vec<Received>, PortError> {
        let url = self.url(queue).await?;
        let output = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(MAX_BATCH_MESSAGES as i32)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::SenderId)
            .visibility_timeout(i32::try_from(visibility_s).unwrap_or(i32::MAX))
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(classify)?;
        Ok(output
            .messages()
            .iter()
            .map(|m| Received {
                id: m.message_id().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                attributes: m
                    .message_attributes()
                    .into_iter()
                    .flatten()
                    .filter_map(|(n, v)| Some((n.clone(), v.string_value()?.to_owned())))
                    .collect(),
                sender: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SenderId))
                    .cloned(),
            })
            .collect())
    }

    async fn release(&self, queue: &QueueRef, receipt: &str) -> Result<(), PortError> {
        let url = self.url(queue).await?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn delete(&self, queue: &QueueRef, receipt: &str) -> Result<(), PortError> {
        let url = self.url(queue).await?;
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

fn delay(message: &Outgoing) -> i32 {
    i32::try_from(message.delay_seconds).unwrap_or(i32::MAX)
}

/// The message's attributes as SQS string attributes (at most [`MAX_MESSAGE_ATTRIBUTES`]).
fn attributes(
    message: &Outgoing,
) -> Result<Option<HashMap<String, MessageAttributeValue>>, PortError> {
    if message.attributes.is_empty() {
        return Ok(None);
    }
    let mut out = HashMap::new();
    for (name, value) in message.attributes.iter().take(MAX_MESSAGE_ATTRIBUTES) {
        let value = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| PortError::new(ErrorClass::Poison, "request", e))?;
        out.insert(name.to_string(), value);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_name_the_account_and_the_queue() {
        assert_eq!(
            parse_arn("arn:aws:sqs:us-east-1:111122223333:trailrelay-queue"),
            Some(("111122223333", "trailrelay-queue"))
        );
        assert_eq!(
            parse_arn("arn:aws-cn:sqs:cn-north-1:111122223333:q.fifo"),
            Some(("111122223333", "q.fifo"))
        );
        assert_eq!(parse_arn("arn:aws:sns:us-east-1:111122223333:t"), None);
        assert_eq!(parse_arn("arn:aws:sqs:us-east-1::q"), None);
        assert_eq!(parse_arn("https://sqs.us-east-1.amazonaws.com/1/q"), None);
    }
}
