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
    /// When the manifest was last written (ms since the epoch), when the source says.
    pub manifest_last_modified_ms: Option<i64>,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    pub stats: PeriodStats,
    /// Up to when Bedrock usage is billed (ms since the epoch): [`freshness_ms`].
    pub newest_usage_end_ms: Option<i64>,
    /// Whether every data file had `line_item_iam_principal`.
    pub principal_column: bool,
    /// Whether every data file had `line_item_net_unblended_cost`.
    pub net_cost_column: bool,
    /// Projected columns some data file lacks (sorted).
    pub missing_columns: Vec<&'static str>,
    /// The manifest marks the data as example data, not a bill
    /// ([`crate::cur::manifest::SAMPLE_MARKER`]).
    pub sample: bool,
}

/// Health of one export's refreshes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportStatus {
    /// The `export` label.
    pub name: String,
    /// It has data in the snapshot (a complete refresh once).
    pub ready: bool,
    /// Its last refresh read every selected period and none was refused.
    pub last_refresh_ok: bool,
    pub last_success_unix: Option<f64>,
    pub last_attempt_unix: Option<f64>,
    /// Errors by stage (`list`, `manifest`, `read`, `decode`, `duplicate`, `internal`), cumulative.
    pub errors: BTreeMap<&'static str, u64>,
    /// Cumulative over all refreshes.
    pub rows_read: u64,
    pub bytes_read: u64,
    pub files_read: u64,
    /// Its periods in the published snapshot.
    pub periods: Vec<PeriodStatus>,
    /// S3 requests and bytes, for an S3 source.
    pub s3: Option<S3Stats>,
}

/// Health of the refresh loop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Every export has had a complete refresh (what /readyz answers).
    pub ready: bool,
    /// Per export, in configuration order.
    pub exports: Vec<ExportStatus>,
    /// Of the whole refresh (every export in turn).
    pub last_duration_seconds: Option<f64>,
    /// Refreshes where every export succeeded, and the others.
    pub refreshes_ok: u64,
    pub refreshes_failed: u64,
    /// Whether the last configuration (re)load succeeded; `None` outside `serve`.
    pub config_last_reload_ok: Option<bool>,
    /// Unix time of the last successful configuration (re)load (the start counts as one).
    pub config_last_reload_success_unix: Option<f64>,
    /// OTLP pushes, when OTLP is on (as of the render).
    pub otlp: Option<crate::metrics::otlp::OtlpStats>,
    /// Failures to produce the exposition (as of the render).
    pub exposition_errors: ExpositionErrorCounts,
}

/// Failures to produce the exposition, cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpositionErrorCounts {
    /// Renders that panicked (the previous exposition kept being served).
    pub render: u64,
    /// Decompressions for a client without gzip that failed (each answered 500).
    pub decompress: u64,
}

/// Data freshness: the newest usage end of the period's Bedrock usage line items, never later than
/// the time the export's manifest was written (an export cannot bill usage that had not happened
/// yet; whole-month tax and fee lines, dated to the period's end, are not usage line items).
pub fn freshness_ms(newest_usage_end_ms: Option<i64>, written_ms: Option<i64>) -> Option<i64> {
    match (newest_usage_end_ms, written_ms) {
        (Some(end), Some(written)) => Some(end.min(written)),
        (end, _) => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_is_never_after_the_export_was_written() {
        assert_eq!(freshness_ms(Some(5), Some(9)), Some(5));
        assert_eq!(freshness_ms(Some(12), Some(9)), Some(9));
        assert_eq!(freshness_ms(Some(5), None), Some(5));
        assert_eq!(freshness_ms(None, Some(9)), None);
    }
}
