//! Every metric name, label name and closed label value, declared once. The metric reference in
//! docs/src/metrics.md is checked against this file by a test.

/// Labels of every Bedrock cost/usage series, in exposition order. Tag labels (`tag_*`) follow.
pub const SERIES_LABELS: [&str; 16] = [
    "billing_period",
    PAYER_ACCOUNT_ID_LABEL,
    "account_id",
    "principal",
    "principal_type",
    "principal_name",
    "session",
    "model",
    "region",
    "direction",
    "tier",
    "scope",
    "cache_ttl",
    "usage_type",
    "line_item_type",
    "billing_entity",
];

/// Index of each label in [`SERIES_LABELS`].
pub mod label {
    pub const BILLING_PERIOD: usize = 0;
    pub const PAYER_ACCOUNT_ID: usize = 1;
    pub const ACCOUNT_ID: usize = 2;
    pub const PRINCIPAL: usize = 3;
    pub const PRINCIPAL_TYPE: usize = 4;
    pub const PRINCIPAL_NAME: usize = 5;
    pub const SESSION: usize = 6;
    pub const MODEL: usize = 7;
    pub const REGION: usize = 8;
    pub const DIRECTION: usize = 9;
    pub const TIER: usize = 10;
    pub const SCOPE: usize = 11;
    pub const CACHE_TTL: usize = 12;
    pub const USAGE_TYPE: usize = 13;
    pub const LINE_ITEM_TYPE: usize = 14;
    pub const BILLING_ENTITY: usize = 15;
}

/// The management (payer) account of the bill (`bill_payer_account_id`), on every Bedrock series:
/// two payers' series never merge, and overflow buckets keep it.
pub const PAYER_ACCOUNT_ID_LABEL: &str = "payer_account_id";

/// The export a self-metric is about: its configured `name` (default: its source as written).
pub const EXPORT_LABEL: &str = "export";

/// Label of `bedrock_usage_amount` naming the CUR pricing unit.
pub const PRICING_UNIT_LABEL: &str = "pricing_unit";

/// Value of the principal labels in the overflow bucket.
pub const OVERFLOW: &str = "__other__";

/// Bedrock cost metrics. The currency code is appended, lower-cased: `bedrock_cost_usd`.
pub const COST_PREFIX: &str = "bedrock_cost";
pub const NET_COST_PREFIX: &str = "bedrock_net_cost";
pub const USAGE_TOKENS: &str = "bedrock_usage_tokens";
pub const USAGE_AMOUNT: &str = "bedrock_usage_amount";

/// Self-metrics.
pub const BUILD_INFO: &str = "bedrock_exporter_build_info";
pub const UP: &str = "bedrock_exporter_last_refresh_success";
pub const LAST_SUCCESS: &str = "bedrock_exporter_last_refresh_success_timestamp_seconds";
pub const LAST_ATTEMPT: &str = "bedrock_exporter_last_refresh_timestamp_seconds";
pub const REFRESH_DURATION: &str = "bedrock_exporter_last_refresh_duration_seconds";
pub const REFRESHES: &str = "bedrock_exporter_refreshes";
pub const ERRORS: &str = "bedrock_exporter_errors";
pub const ROWS_READ: &str = "bedrock_exporter_rows_read";
pub const BYTES_READ: &str = "bedrock_exporter_bytes_read";
pub const FILES_READ: &str = "bedrock_exporter_files_read";
pub const PERIOD_ROWS: &str = "bedrock_exporter_period_rows";
pub const PERIOD_BEDROCK_ROWS: &str = "bedrock_exporter_period_bedrock_rows";
pub const PERIOD_UNATTRIBUTED_ROWS: &str = "bedrock_exporter_period_unattributed_rows";
pub const PERIOD_TAG_LABEL_COLLISIONS: &str = "bedrock_exporter_period_tag_label_collisions";
pub const DATA_NEWEST: &str = "bedrock_exporter_data_newest_usage_timestamp_seconds";
pub const MANIFEST_INFO: &str = "bedrock_exporter_manifest_info";
/// When the manifest of each billing period was last written (its object's LastModified).
pub const MANIFEST_LAST_MODIFIED: &str =
    "bedrock_exporter_manifest_last_modified_timestamp_seconds";
pub const PRINCIPAL_COLUMN: &str = "bedrock_exporter_principal_column_present";
pub const NET_COST_COLUMN: &str = "bedrock_exporter_net_cost_column_present";
pub const SERIES: &str = "bedrock_exporter_series";
pub const SERIES_LIMIT: &str = "bedrock_exporter_series_limit";
pub const FOLDED_SERIES: &str = "bedrock_exporter_folded_series";
pub const FOLDED_COST_PREFIX: &str = "bedrock_exporter_folded_cost";
pub const S3_REQUESTS: &str = "bedrock_exporter_s3_requests";
pub const S3_BYTES: &str = "bedrock_exporter_s3_bytes_fetched";
/// As Prometheus names its own (`prometheus_config_last_reload_successful`, …).
pub const CONFIG_RELOAD_OK: &str = "bedrock_exporter_config_last_reload_successful";
pub const CONFIG_RELOAD_SUCCESS: &str =
    "bedrock_exporter_config_last_reload_success_timestamp_seconds";
pub const UNKNOWN_USAGE_TYPES: &str = "bedrock_exporter_unknown_usage_type_rows";
/// Failures to produce the exposition, by `operation` ([`exposition_operation`]).
pub const EXPOSITION_ERRORS: &str = "bedrock_exporter_exposition_errors";

/// Closed values of the `operation` label of [`EXPOSITION_ERRORS`].
pub mod exposition_operation {
    /// Rendering the snapshot panicked (a bug): the previous exposition keeps being served.
    pub const RENDER: &str = "render";
    /// The exposition could not be decompressed for a client without gzip (a bug): answered 500.
    pub const DECOMPRESS: &str = "decompress";
}
pub const READY: &str = "bedrock_exporter_ready";

/// Closed values of the `stage` label of [`ERRORS`].
pub mod stage {
    pub const LIST: &str = "list";
    pub const MANIFEST: &str = "manifest";
    pub const READ: &str = "read";
    pub const DECODE: &str = "decode";
    /// Two exports hold the same payer and billing period; the later one is refused for it.
    pub const DUPLICATE: &str = "duplicate";
    /// A bug: a panic while reading an object, caught and counted.
    pub const INTERNAL: &str = "internal";
}

/// Budgets (issue 9). The currency code is appended, lower-cased: `bedrock_budget_limit_usd`.
pub const BUDGET_LIMIT_PREFIX: &str = "bedrock_budget_limit";
pub const BUDGET_SPEND_PREFIX: &str = "bedrock_budget_spend";
pub const BUDGET_FORECAST_PREFIX: &str = "bedrock_budget_forecast";
/// Spend on the last settled usage day, and the mean daily spend of the baseline days before it.
pub const BUDGET_DAY_SPEND_PREFIX: &str = "bedrock_budget_day_spend";
pub const BUDGET_BASELINE_DAY_SPEND_PREFIX: &str = "bedrock_budget_baseline_day_spend";
pub const PRINCIPAL_DAY_COST_PREFIX: &str = "bedrock_principal_day_cost";
pub const PRINCIPAL_BASELINE_DAY_COST_PREFIX: &str = "bedrock_principal_baseline_day_cost";
/// `bedrock_exporter_current_billing_period{billing_period="YYYY-MM"} 1` from the UTC calendar.
pub const CURRENT_BILLING_PERIOD: &str = "bedrock_exporter_current_billing_period";
/// The period before it, valued with the seconds since it ended (as of the exporter's now): rules
/// watch a closed period for a few days into the next month. One series carries both, so a
/// series left over from before a restart never pairs an old period with a new "now".
pub const PREVIOUS_BILLING_PERIOD_AGE: &str =
    "bedrock_exporter_previous_billing_period_age_seconds";
/// 1 while any billing period served comes from a manifest marked as example data
/// (`bedrockCostExporterSample`, written by `cur-sample`), else 0.
pub const SAMPLE_DATA: &str = "bedrock_exporter_sample_data";
/// The exporter's "now" (the configured `now`, else the clock at the refresh): the rules' calendar.
pub const NOW: &str = "bedrock_exporter_now_timestamp_seconds";
pub const BUDGET_LABEL: &str = "budget";
pub const OWNER_LABEL: &str = "owner";
pub const USAGE_DATE_LABEL: &str = "usage_date";
/// Self-metrics of the OTLP pusher (present when OTLP is on).
pub const OTLP_PUSHES: &str = "bedrock_exporter_otlp_pushes";
pub const OTLP_REQUESTS: &str = "bedrock_exporter_otlp_requests";
pub const OTLP_LAST_PUSH_SUCCESS: &str = "bedrock_exporter_otlp_last_push_success";
pub const OTLP_LAST_PUSH_SUCCESS_TIMESTAMP: &str =
    "bedrock_exporter_otlp_last_push_success_timestamp_seconds";
pub const OTLP_LAST_PUSH_DURATION: &str = "bedrock_exporter_otlp_last_push_duration_seconds";
pub const OTLP_LAST_PUSH_POINTS: &str = "bedrock_exporter_otlp_last_push_points";
