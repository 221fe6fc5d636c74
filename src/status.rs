//! The exporter's own state as plain data, copied into each published exposition (self-metrics).

use std::collections::BTreeMap;

use crate::aggregate::PeriodStats;
use crate::source::S3Stats;

/// Where a billing period's numbers came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodStatus {
    pub period: String,
    /// Manifest key relative to the export root.
    pub manifest_key: String,
    /// `executionId` from the manifest, or the create-new folder name, or `""`.
    pub execution_id: String,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    pub stats: PeriodStats,
    /// Newest `line_item_usage_end_date` of the period's files (ms since the epoch).
    pub newest_usage_end_ms: Option<i64>,
    /// Whether every data file had `line_item_iam_principal`.
    pub principal_column: bool,
    /// Whether every data file had `line_item_net_unblended_cost`.
    pub net_cost_column: bool,
}

/// Health of the refresh loop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// At least one refresh succeeded.
    pub ready: bool,
    pub last_refresh_ok: bool,
    pub last_success_unix: Option<f64>,
    pub last_attempt_unix: Option<f64>,
    pub last_duration_seconds: Option<f64>,
    pub refreshes_ok: u64,
    pub refreshes_failed: u64,
    /// Errors by stage (`list`, `manifest`, `read`, `decode`), cumulative.
    pub errors: BTreeMap<&'static str, u64>,
    /// Cumulative over all refreshes.
    pub rows_read: u64,
    pub bytes_read: u64,
    pub files_read: u64,
    /// The periods in the published snapshot.
    pub periods: Vec<PeriodStatus>,
    /// S3 requests and bytes, for an S3 source.
    pub s3: Option<S3Stats>,
    /// OTLP pushes, when OTLP is on (as of the render).
    pub otlp: Option<crate::metrics::otlp::OtlpStats>,
}
