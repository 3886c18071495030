//! trailrelay forwards the CloudTrail logs of a whole AWS Organization.
//!
//! For each object an organization trail delivers:
//!
//! 1. [`key`] reads what the object is (log, digest, insight) and whose activity it holds;
//! 2. [`decode`] streams its gzip and its `{"Records":[...]}` document, one record at a time,
//!    each kept as its original bytes, in memory bounded by the largest record;
//! 3. [`normalize`] derives who, what, where and when from each record;
//! 4. [`batch`] groups the records into CloudWatch Logs batches that hold every PutLogEvents
//!    limit, and [`archive`] names and writes the partitioned NDJSON archive;
//! 5. [`pipeline`] runs one object through all of that against the [`ports`]: the object
//!    source, the log sink, the archive sink. [`local`] implements them on the file system.
//!
//! Everything here is synchronous and free of any AWS SDK: the CLI and the Lambda functions
//! wire their own sources and sinks to the same pipeline.
#![warn(missing_docs)]

pub mod archive;
pub mod aws;
pub mod batch;
pub mod config;
pub mod decode;
pub mod demo;
pub mod forwarder;
pub mod key;
pub mod local;
pub mod normalize;
pub mod notification;
pub mod pipeline;
pub mod ports;
pub mod rules;
pub mod template;

#[cfg(test)]
mod testing;
