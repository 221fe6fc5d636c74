//! `report`: the monthly showback report — one closed billing period's Amazon Bedrock cost per
//! team, owner, model or any other label, equal to the bill, as CSV, Markdown, HTML or JSON
//! (docs/src/report.md).
//!
//! Data flows one way, through the daemon's own stages:
//!
//! ```text
//! period (YYYY-MM, previous) → read (Refresher with the report projection: the period and the one
//!   before, per-period aggregates before the series cap) → group (Table) → provenance (Meta)
//!   → format (bytes) → command (stdout or --out, written whole)
//! ```
//!
//! - [`args`] — the command line of `report` (its clap arguments; `main` only dispatches).
//! - [`period`] — which billing period: `--period`, else the last closed month of "now". Pure.
//! - [`read`] — reads the export as a refresh does, with the columns only the report needs
//!   (`pricing_public_on_demand_cost`, `bill_invoice_id`, `line_item_usage_account_name`); the
//!   daemon's projection stays as it is. The only I/O besides writing the result.
//! - [`group`] — series of the period aggregates → rows grouped by `--by` labels (or budgets),
//!   with shares, tokens, the previous period, `--top` folding and a `TOTAL` per currency. Pure:
//!   memory by groups, not rows.
//! - [`provenance`] — invoiced or open, which export execution was read, notes. Pure.
//! - [`mod@format`] — the [`format::Report`] as CSV (RFC 4180, formula-escaped), Markdown, one
//!   self-contained HTML file, or JSON (schema: docs/src/report.schema.json). Pure.
//! - [`command`] — `bedrock-cost-exporter report`: wires the above and writes the output.

pub mod args;
pub mod command;
pub mod format;
pub mod group;
pub mod period;
pub mod provenance;
pub mod read;

pub use args::{OutputFormat, ReportArgs};
pub use command::{ReportError, run};
