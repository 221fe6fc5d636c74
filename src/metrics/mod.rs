//! The exporters' layer: every way the numbers leave the daemon reads the same immutable
//! [`Snapshot`](crate::snapshot::Snapshot) and [`Status`](crate::status::Status), and takes metric
//! and label names from [`names`](crate::names). The Prometheus exposition
//! ([`prometheus`] collectors, [`exposition`] rendering) and the OTLP pusher ([`otlp`]), which
//! pushes that very exposition read back.
//!
//! The exposition is rendered once per refresh, not once per scrape: a scrape copies a reference
//! to bytes already rendered, so it never waits for a refresh and costs nothing to compute.

pub mod exposition;
pub mod otlp;
pub mod prometheus;

pub use exposition::Rendered;
