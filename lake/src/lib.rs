//! The lake: the organisation's CloudTrail history as one Apache Iceberg table,
//! `trailrelay.cloudtrail`, built by delivery window and exactly once.
//!
//! [`select`] groups a trail's log files into hourly windows (the selection `replay` makes),
//! [`build::Lake`] writes each window's new files as one commit and proves it with a manifest,
//! [`catalog`] opens the table's catalog (SQLite for local runs).

pub mod build;
pub mod catalog;
pub mod query;
pub mod read;
pub mod rows;
pub mod select;
pub mod table;

pub use build::{Lake, LakeError, Recovered, Step, WindowReport};
pub use read::{FileFailure, Reader};
pub use trailrelay::lake::{Manifest, Window};
