//! Exporters: the Prometheus exposition of a snapshot and the exporter's status. Sees only the
//! [`Snapshot`](crate::snapshot::Snapshot) and [`Status`](crate::status::Status).
//!
//! The exposition is rendered once per refresh, not once per scrape: a scrape copies a reference
//! to bytes already rendered, so it never waits for a refresh and costs nothing to compute.

pub mod exposition;
pub mod prometheus;

pub use exposition::Rendered;
