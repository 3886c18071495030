//! Rules: CloudWatch Logs metric filters and routes, evaluated on every event before it is
//! sent anywhere.

pub mod pattern;
