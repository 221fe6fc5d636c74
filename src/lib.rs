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
//! source (ObjectMeta, Bytes) → cur (ParquetPlan / CSV records → CurRow) → bedrock (Classified)
//!   → aggregate (PeriodAggregate) → snapshot (Snapshot) → metrics (Rendered) → server (/metrics)
//!                                                          → metrics::otlp (Families) → OTLP receiver
//! ```
//!
//! - [`config`] — raw configuration → checked [`config::Config`].
//! - [`defaults`] — every default value, in one place.
//! - [`source`] — export objects by key: [`source::Source`] lists them and hands out bytes, byte
//!   ranges and streams (local directory or S3; async bridging inside). Knows nothing of CUR.
//! - [`cur`] — manifests, Parquet (footer → plan → row groups from their column chunks) and CSV
//!   decoding into [`cur::CurRow`]. Knows nothing of Bedrock.
//! - [`bedrock`] — usage-type grammar, regions, principal ARNs, tags. Pure.
//! - [`aggregate`], [`snapshot`], [`sum`] — rows → series with compensated sums → capped snapshot. Pure.
//! - [`currency`] — currency codes from the bill, checked before they name metrics. Pure.
//! - [`budget`] — budgets, forecasts and spikes from the period aggregates and a given "now". Pure.
//! - [`names`] — every metric and label name.
//! - [`metrics`] — the exporters' layer (Prometheus exposition, OTLP pusher): reads only snapshot
//!   and status.
//! - [`status`] — the exporter's own state as plain data (self-metrics).
//! - [`refresh`] — plans, caches and schedules one refresh (row-group units on a worker pool).
//! - [`daemon`] — runs refreshes and publishes them (`once` and `serve` alike), progress reporting.
//! - [`doctor`] — one-run diagnosis of the setup (`bedrock-cost-exporter doctor`).
//! - [`report`] — the monthly showback report (`bedrock-cost-exporter report`): the daemon's
//!   readers and aggregates, with a few more columns, grouped by any label or budget.
//! - [`server`] — hyper: `/metrics`, `/healthz`, `/readyz`, `/-/reload`; TLS, basic auth, connection bound.
//! - [`web_config`] — the exporter-toolkit web configuration file (`--web.config.file`), and a probe client speaking it.
//!
//! Beside the crate: `tools/cur-sample` (the export generator, a workspace member), `tests/it`
//! (integration tests), `bench/` (benchmarks against DuckDB), `config/`, `deploy/` (rules, Helm,
//! systemd, compose, CloudFormation) and the `Dockerfile`, `grafana/` (dashboards), `scripts/`
//! (`test.sh` runs everything), `.ci/`. The `healthcheck` subcommand lives in the binary
//! (`src/healthcheck.rs`).

#![forbid(unsafe_code)]

pub mod aggregate;
pub mod bedrock;
pub mod budget;
pub mod config;
pub mod cur;
pub mod currency;
pub mod daemon;
pub mod defaults;
pub mod doctor;
pub mod metrics;
pub mod names;
pub mod refresh;
pub mod report;
pub mod server;
pub mod snapshot;
pub mod source;
pub mod status;
pub mod sum;
pub mod web_config;
