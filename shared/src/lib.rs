//! trailrelay forwards the CloudTrail logs of a whole AWS Organization.
//!
//! For each object an organization trail delivers:
//!
//! 1. [`key`] reads what the object is (log, digest, insight) and whose activity it holds;
//! 2. [`decode`] streams its gzip and its `{"Records":[...]}` document, one record at a time,
//!    each kept as its original bytes, in memory bounded by the largest record;
//! 3. [`normalize`] derives who, what, where and when from each record;
//! 4. [`rules`] evaluates metric filters and routes (the CloudWatch Logs filter pattern
//!    language) on each record, parsed once for all of them;
//! 5. [`batch`] groups the records into CloudWatch Logs batches that hold every PutLogEvents
//!    limit, and [`archive`] names and writes the partitioned NDJSON archive;
//! 6. [`pipeline`] runs one object through all of that against the [`ports`]: the object
//!    source, the log sink, the archive sink. [`local`] implements them on the file system,
//!    [`aws`] on S3 and CloudWatch Logs.
//!
//! The forwarder function adds [`notification`] (SQS bodies to objects), [`config`] (the
//! environment) and [`forwarder`] (one SQS batch, concurrently, within the deadline).
//! [`integrity`] checks CloudTrail's signed digests against the trail bucket and the receipts
//! the pipeline leaves (the digest-validator function, `trailrelay validate`).
//! [`replay`] lists files already in the trail bucket and enqueues them on the forwarder's
//! queue (the replay function, `trailrelay replay`). The
//! pipeline is synchronous (CPU work on a stream); only [`aws`] and [`forwarder`] touch the
//! async SDK, bridging from the blocking threads objects run on. The CLI and the functions are
//! wiring only.
#![warn(missing_docs)]

pub mod archive;
pub mod aws;
pub mod batch;
pub mod config;
pub mod decode;
/// The demo's generated trail: for the `trailrelay demo` command and the tests, not for the
/// functions (feature `demo`).
#[cfg(any(test, feature = "demo"))]
pub mod demo;
pub mod forwarder;
pub mod integrity;
pub mod key;
pub mod lake;
pub mod local;
pub mod normalize;
pub mod notification;
pub mod pipeline;
pub mod ports;
pub mod replay;
pub mod rules;
pub mod template;

#[cfg(test)]
mod testing;
