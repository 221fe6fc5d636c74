//! # bedrock-cost-exporter
//!
//! Turns an AWS CUR 2.0 export (Data Exports; S3 or a local mirror; Parquet or gzip CSV) into live
//! Amazon Bedrock cost gauges labelled by IAM principal, model, region, token direction and
//! activated tags, served to Prometheus.
//!
//! # Layout
//!
//! Data flows one way, one plain type per stage:
//!
//! ```text
//! source (ObjectMeta, File) → cur (CurRow) → bedrock (Classified) → aggregate (PeriodAggregate)
//!   → snapshot (Snapshot) → metrics (Rendered) → server (/metrics)
//! ```
//!
//! - [`config`] — raw configuration → checked [`config::Config`].
//! - [`source`] — export objects by key: list, get, open. Knows nothing of CUR.
//! - [`cur`] — manifests, Parquet and CSV decoding into [`cur::CurRow`]. Knows nothing of Bedrock.
//! - [`bedrock`] — usage-type grammar, regions, principal ARNs, tags. Pure.
//! - [`aggregate`], [`snapshot`], [`sum`] — rows → series with compensated sums → capped snapshot. Pure.
//! - [`names`] — every metric and label name.
//! - [`metrics`] — Prometheus collectors and the rendered exposition. Sees only snapshot and status.
//! - [`status`] — the exporter's own state as plain data (self-metrics).
//! - [`refresh`] — one refresh, wiring the stages; keeps each period's last good aggregate.
//! - [`daemon`] — the refresh loop, publication, progress reporting.
//! - [`doctor`] — one-run diagnosis of the setup (`bedrock-cost-exporter doctor`).
//! - [`server`] — hyper: `/metrics`, `/healthz`, `/readyz`.

#![forbid(unsafe_code)]

pub mod aggregate;
pub mod bedrock;
pub mod config;
pub mod cur;
pub mod daemon;
pub mod doctor;
pub mod metrics;
pub mod names;
pub mod refresh;
pub mod server;
pub mod snapshot;
pub mod source;
pub mod status;
pub mod sum;
