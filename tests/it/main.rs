//! Integration tests, all in one binary (as ripgrep does): real exports written by the in-repo
//! generator, the real `bedrock-cost-exporter` binary, DuckDB as the independent reference,
//! and real `prometheus`/`promtool` binaries on loopback.

mod alert_scenario;
mod alerting;
mod bad_input;
mod budgets;
mod cli;
mod corpus;
mod dashboards;
mod docs;
mod doctor;
mod ha;
mod healthcheck;
mod multi;
mod otlp;
mod prometheus_e2e;
mod properties;
mod reconcile;
mod reload;
mod report;
mod s3;
mod sample;
mod server;
mod soak;
mod util;
mod web;
