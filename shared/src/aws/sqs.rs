//! SQS: the [`Queue`] port. Queues named by ARN (Lambda's `eventSourceARN`) are resolved to
//! their URL once per instance with GetQueueUrl.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::classify;
use crate::ports::{ErrorClass, Outgoing, PortError, Queue, QueueRef};

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
    async fn send(&self, message: &Outgoing) -> Result<(), PortError> {
        let url = self.url(&message.queue).await?;
        let mut request = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(&message.body)
            .delay_seconds(i32::try_from(message.delay_seconds).unwrap_or(i32::MAX));
        for (name, value) in message.attributes.iter().take(MAX_MESSAGE_ATTRIBUTES) {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PortError::new(ErrorClass::Poison, "request", e))?;
            request = request.message_attributes(*name, value);
        }
        request.send().await.map_err(classify)?;
        Ok(())
    }
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
