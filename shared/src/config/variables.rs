//! The forwarder's environment variables: names, defaults, meanings.

use super::Variable;
use crate::pipeline::{DEFAULT_LOG_GROUP, DEFAULT_LOG_STREAM};

/// Every variable the forwarder reads.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "ALLOWED_BUCKETS",
        default: None,
        required: true,
        meaning: "Comma-separated trail buckets whose objects may be forwarded; notifications for any other bucket are refused as poison.",
    },
    Variable {
        name: "EXPECTED_BUCKET_OWNER",
        default: None,
        required: false,
        meaning: "Account id sent as ExpectedBucketOwner on every GetObject: reads fail unless the trail bucket belongs to it.",
    },
    Variable {
        name: "ARCHIVE_BUCKET",
        default: None,
        required: true,
        meaning: "Bucket of the archive.",
    },
    Variable {
        name: "ARCHIVE_BUCKET_OWNER",
        default: None,
        required: false,
        meaning: "Account id sent as ExpectedBucketOwner on every archive write: writes fail unless the archive bucket belongs to it.",
    },
    Variable {
        name: "ARCHIVE_PREFIX",
        default: Some("cloudtrail"),
        required: false,
        meaning: "Key prefix of archive objects.",
    },
    Variable {
        name: "ARCHIVE_KMS_KEY_ID",
        default: None,
        required: false,
        meaning: "KMS key for SSE-KMS on archive objects; unset, the bucket's default encryption applies.",
    },
    Variable {
        name: "LOG_GROUP",
        default: Some(DEFAULT_LOG_GROUP),
        required: false,
        meaning: "Log group template ({org_id} {account_id} {region} {category}).",
    },
    Variable {
        name: "LOG_STREAM",
        default: Some(DEFAULT_LOG_STREAM),
        required: false,
        meaning: "Log stream template ({org_id} {account_id} {region} {category}).",
    },
    Variable {
        name: "RULES",
        default: None,
        required: false,
        meaning: "Metric filters and routes: `cis` for the built-in CIS / Security Hub pack, a path to a JSON or YAML rules file, or inline JSON.",
    },
    Variable {
        name: "LOG_GROUP_RETENTION_DAYS",
        default: None,
        required: false,
        meaning: "Retention of the destination log groups in days: events older than it (or than 14 days, whichever is shorter) are kept out of PutLogEvents, which would refuse them, and kept in the archive.",
    },
    Variable {
        name: "LOGS_PUTS_PER_SECOND",
        default: Some("50"),
        required: false,
        meaning: "PutLogEvents calls per second for one function instance.",
    },
    Variable {
        name: "ACCOUNT_EVENTS_PER_SECOND",
        default: Some("20000"),
        required: false,
        meaning: "Log events per second from one source account, per function instance.",
    },
    Variable {
        name: "MAX_OBJECT_BYTES",
        default: Some("4GiB"),
        required: false,
        meaning: "Largest decompressed object; larger ones are poison (gzip bombs).",
    },
    Variable {
        name: "MAX_RECORD_BYTES",
        default: Some("2MiB"),
        required: false,
        meaning: "Largest single record; bounds memory.",
    },
    Variable {
        name: "DEADLINE_GRACE_MS",
        default: Some("41000"),
        required: false,
        meaning: "Milliseconds before the Lambda deadline at which work stops. The default is derived from the 20 s every AWS call ends within: a call in flight, then the continuation's send, then 1 s to answer; a message still running when the send is due is continued from what its streams accepted. At most three quarters of the invocation's time.",
    },
    Variable {
        name: "S3_FORCE_PATH_STYLE",
        default: Some("false"),
        required: false,
        meaning: "Address S3 by path rather than by virtual host, for endpoints that need it (local emulators).",
    },
    Variable {
        name: "MESSAGE_CONCURRENCY",
        default: Some("4"),
        required: false,
        meaning: "Messages of one batch processed at once; each holds its object's buffers, which must fit in the function's memory together.",
    },
    Variable {
        name: "DEAD_LETTER_QUEUE_URL",
        default: None,
        required: false,
        meaning: "URL of the dead-letter queue: a poison message is sent there at once, its body unchanged and its cause in message attributes, and never retried. Unset, poison is reported failed and reaches the queue's DLQ after maxReceiveCount receives.",
    },
    Variable {
        name: "CONTINUATION_SENDERS",
        default: None,
        required: false,
        meaning: "Comma-separated unique ids of the roles whose messages may carry a continuation (the template sets the forwarder's and the replay function's RoleId): a continuation any other sender put on the queue is poison, `forged-continuation`, and none of its skip counts is applied. Unset, every sender may (local runs).",
    },
    Variable {
        name: "CONTINUATION_DELAY_SECONDS",
        default: Some("30"),
        required: false,
        meaning: "Delay of the first continuation of an interrupted message (0 to 900); each later one waits twice as long, up to 900 s.",
    },
    Variable {
        name: "ROUTE_LOG_GROUP_PREFIX",
        default: None,
        required: false,
        meaning: "Log group name prefix the function may write to besides LOG_GROUP (the template grants the role exactly these groups): at least a named folder such as `/trailrelay/routes/`, never `/` nor under `/aws/`. A route whose LogGroup does not start with it is refused at cold start. Unset, routes may not name a LogGroup.",
    },
    Variable {
        name: "LOG_GROUP_KMS_KEY_ID",
        default: None,
        required: false,
        meaning: "KMS key ARN for the log groups the function creates (a route's group that does not exist yet), as the destination group's; unset, CloudWatch Logs' own encryption. They get LOG_GROUP_RETENTION_DAYS too.",
    },
    Variable {
        name: "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        default: None,
        required: false,
        meaning: "Set by Lambda: the function's memory in MB. MESSAGE_CONCURRENCY objects' buffers must fit in it, or the configuration is refused.",
    },
];
