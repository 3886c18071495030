//! End-to-end tests: the real `trailrelay` binary on real files.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws;
mod delivery;
mod events;
mod faults;
mod forward;
mod grants;
mod hostile;
mod infra;
mod lake;
mod moto;
mod newcomer;
mod newcomer_aws;
mod replay;
mod rules;
mod stack;
mod support;
mod validate;
