//! Configuration in two steps: [`RawConfig`] as read by figment (TOML file, then `BCE_*`
//! environment variables, then command-line flags), then [`Config`], checked once at start with
//! errors that name the key.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::aggregate::AggregateOptions;
use crate::bedrock::tags::{TagRules, is_label_name};
use crate::budget::{Budget, BudgetSettings, CostKind, ForecastSettings, Selector, SpikeSettings};
use crate::metrics::otlp::{AttributeMode, OtlpCompression, OtlpProtocol, OtlpSettings};
use crate::names::SERIES_LABELS;
use crate::source::S3Settings;

/// Prefix of configuration environment variables (`BCE_SOURCE`, `BCE_TAGS__SOURCES`, …).
pub const ENV_PREFIX: &str = "BCE_";

/// Where an export is read from when nothing configures one: only this variable, which the
/// repository's `.cargo/config.toml` sets to the bundled sample for `cargo run` (and the tests);
/// never a configuration key, so a config file, `BCE_SOURCE` or `--source` always wins. A deployed
/// exporter has no such default: with no source it stops ([`ConfigError::NoSource`]).
pub const FALLBACK_SOURCE_VAR: &str = "BEDROCK_COST_EXPORTER_FALLBACK_SOURCE";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9747";
pub const DEFAULT_REFRESH_INTERVAL: &str = "1h";
pub const DEFAULT_PERIODS: usize = 2;
pub const DEFAULT_MAX_SERIES: usize = 20_000;
pub const DEFAULT_HEADER_READ_TIMEOUT: &str = "10s";
pub const DEFAULT_MAX_CONNECTIONS: usize = crate::server::DEFAULT_MAX_CONNECTIONS;
/// Longest duration any key accepts (a year): longer ones are typos, and timers overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// Which billing periods to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawPeriods {
    /// The N newest periods that have a manifest (2 = current and previous on a live export).
    Newest(usize),
    /// `"all"`.
    Word(String),
    /// Explicit `YYYY-MM` periods.
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTags {
    pub sources: Vec<String>,
    pub allow: Vec<String>,
    pub rename: BTreeMap<String, String>,
}

impl Default for RawTags {
    fn default() -> Self {
        RawTags {
            sources: vec![crate::bedrock::tags::IAM_PRINCIPAL_SOURCE.to_string()],
            allow: Vec::new(),
            rename: BTreeMap::new(),
        }
    }
}

/// `[models]`: model names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawModels {
    /// Canonical (or as-billed) model name → the `model` label value to export.
    pub rename: BTreeMap<String, String>,
}

/// `[s3]`, and an `[[exports]]` entry's `s3` table. Every key is optional: the top-level table
/// falls back to [`S3Settings::default`]; an export's table replaces the top-level keys it sets,
/// and may set only those of how to reach the export and as whom (not the daemon-wide GET bound,
/// timeouts and retries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawS3 {
    /// Endpoint URL of an S3-compatible server (`AWS_ENDPOINT_URL` is honoured as the SDK does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// A profile of the shared AWS config/credentials files (instead of `AWS_PROFILE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// A role to assume (sts:AssumeRole) with the credentials found, e.g. a payer account's
    /// read-only role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_session_name: Option<String>,
    /// Endpoint URL of the STS that `role_arn` is assumed at; default AWS STS. `endpoint` is S3's
    /// only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_endpoint: Option<String>,
}

impl RawS3 {
    /// The first key this table sets that only the top-level `[s3]` table may set: the GET bound,
    /// timeouts and retries are the daemon's, not an export's.
    fn global_only_key(&self) -> Option<&'static str> {
        [
            ("concurrency", self.concurrency.is_some()),
            ("request_timeout", self.request_timeout.is_some()),
            ("stall_timeout", self.stall_timeout.is_some()),
            ("max_attempts", self.max_attempts.is_some()),
        ]
        .into_iter()
        .find_map(|(key, set)| set.then_some(key))
    }
}

/// One `[[exports]]` entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    /// The `export` label of its self-metrics; default: the source as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub source: String,
    #[serde(default, skip_serializing_if = "is_default_s3")]
    pub s3: RawS3,
}

fn is_default_s3(a: &RawS3) -> bool {
    *a == RawS3::default()
}

/// One `[[budgets]]` entry as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub name: String,
    pub owner: String,
    #[serde(default)]
    pub selector: String,
    pub monthly: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `[otlp]`: pushing the series to an OpenTelemetry receiver. Off unless `enabled` or an
/// endpoint is set. Unset keys fall back to the `OTEL_EXPORTER_OTLP_*` environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOtlp {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `grpc` or `http/protobuf` (`http`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// `gzip` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    pub interval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    pub resource_attributes: BTreeMap<String, String>,
    /// `prometheus` (label names as on /metrics) or `semconv`.
    pub attributes: String,
    pub max_attempts: u32,
}

impl Default for RawOtlp {
    fn default() -> Self {
        RawOtlp {
            enabled: false,
            endpoint: None,
            protocol: None,
            headers: BTreeMap::new(),
            timeout: None,
            compression: None,
            interval: "60s".to_string(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            resource_attributes: BTreeMap::new(),
            attributes: "prometheus".to_string(),
            max_attempts: 4,
        }
    }
}

/// `[forecast]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawForecast {
    pub settle_days: u32,
    pub window_days: u32,
}

impl Default for RawForecast {
    fn default() -> Self {
        let d = crate::budget::ForecastSettings::default();
        RawForecast {
            settle_days: d.settle_days,
            window_days: d.window_days,
        }
    }
}

/// `[spikes]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSpikes {
    pub settle_days: u32,
    pub baseline_days: u32,
    pub top_principals: usize,
}

impl Default for RawSpikes {
    fn default() -> Self {
        let d = crate::budget::SpikeSettings::default();
        RawSpikes {
            settle_days: d.settle_days,
            baseline_days: d.baseline_days,
            top_principals: d.top_principals,
        }
    }
}

/// Configuration as written, before checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// One export. With no `source`, `sources` or `[[exports]]` the exporter does not start
    /// ([`ConfigError::NoSource`]), unless [`FALLBACK_SOURCE_VAR`] names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Several exports by source alone (each with the top-level `[s3]` settings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Several exports with names and per-export S3 settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<RawExport>,
    pub listen: String,
    pub refresh_interval: String,
    pub periods: RawPeriods,
    pub max_series: usize,
    pub fold_sessions: bool,
    pub log_format: String,
    pub header_read_timeout: String,
    pub tags: RawTags,
    pub models: RawModels,
    pub s3: RawS3,
    pub budgets: Vec<RawBudget>,
    pub forecast: RawForecast,
    pub spikes: RawSpikes,
    /// A fixed "now" (RFC 3339), for tests and replays of old exports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    pub max_connections: usize,
    pub otlp: RawOtlp,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            source: None,
            sources: Vec::new(),
            exports: Vec::new(),
            listen: DEFAULT_LISTEN.to_string(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL.to_string(),
            periods: RawPeriods::Newest(DEFAULT_PERIODS),
            max_series: DEFAULT_MAX_SERIES,
            fold_sessions: false,
            log_format: "text".to_string(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT.to_string(),
            tags: RawTags::default(),
            models: RawModels::default(),
            s3: RawS3::default(),
            budgets: Vec::new(),
            forecast: RawForecast::default(),
            spikes: RawSpikes::default(),
            now: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            otlp: RawOtlp::default(),
        }
    }
}

/// Where the export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A local copy of the export prefix.
    Local(PathBuf),
    /// `s3://bucket/prefix/<export-name>`.
    S3 { bucket: String, prefix: String },
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Local(p) => write!(f, "{}", p.display()),
            SourceSpec::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl SourceSpec {
    pub fn parse(s: &str) -> Result<SourceSpec, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(
                "is empty; give a local export root or s3://bucket/prefix/<export-name>".into(),
            );
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!(
                    "{s:?} has no bucket; expected s3://bucket/prefix/<export-name>"
                ));
            }
            // Bucket naming rules (legacy us-east-1 names add capitals and `_`):
            // <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>.
            if !bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(format!(
                    "{s:?}: {bucket:?} is not an S3 bucket name (letters, digits, `.`, `-`); expected s3://bucket/prefix/<export-name>"
                ));
            }
            // Slashes and blanks around the prefix are not part of it (so the printed source
            // reads back the same).
            let prefix = prefix.trim_matches(|c: char| c == '/' || c.is_whitespace());
            return Ok(SourceSpec::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        Ok(SourceSpec::Local(PathBuf::from(s)))
    }
}

/// Which billing periods to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodSelection {
    Newest(usize),
    Explicit(BTreeSet<String>),
    All,
}

impl PeriodSelection {
    /// The selected periods among those available (sorted ascending).
    pub fn select<'a>(&self, available: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let mut all: Vec<String> = available.into_iter().cloned().collect();
        all.sort();
        all.dedup();
        match self {
            PeriodSelection::All => all,
            PeriodSelection::Newest(n) => {
                let skip = all.len().saturating_sub(*n);
                all.split_off(skip)
            }
            PeriodSelection::Explicit(set) => all.into_iter().filter(|p| set.contains(p)).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// One export to read: its name (the `export` label of its self-metrics), where it is, and how to
/// reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    pub name: String,
    pub source: SourceSpec,
    /// The top-level `[s3]` with this export's `s3` keys applied (unused for a local source).
    pub s3: S3Settings,
}

/// Checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// At least one; names and sources unique.
    pub exports: Vec<ExportConfig>,
    pub listen: SocketAddr,
    pub refresh_interval: Duration,
    pub periods: PeriodSelection,
    pub max_series: usize,
    pub aggregate: AggregateOptions,
    pub log_format: LogFormat,
    /// How long an HTTP client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// The top-level `[s3]` (every export's defaults).
    pub s3: S3Settings,
    /// Budgets, forecast and spike settings.
    pub budgets: BudgetSettings,
    /// A fixed "now" (ms since the epoch) instead of the clock.
    pub now_ms: Option<i64>,
    /// Open HTTP connections at most.
    pub max_connections: usize,
    /// `None`: OTLP push off.
    pub otlp: Option<OtlpSettings>,
}

/// A configuration error naming the key and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}", describe_figment(.0))]
    Figment(Box<figment::Error>),
    #[error("config key `{key}` {message}")]
    Invalid { key: &'static str, message: String },
    #[error("config `budgets[{index}]` ({name:?}): {message}")]
    Budget {
        index: usize,
        name: String,
        message: String,
    },
    #[error("config `{key}` ({name:?}): {message}")]
    Export {
        /// `exports[1]`, `sources[0]` or `source`.
        key: String,
        name: String,
        message: String,
    },
    #[error(
        "no export to read: set `source` to your CUR 2.0 export (s3://bucket/prefix/export-name, or a local folder mirroring it) in the config file (--config), with the environment variable BCE_SOURCE, or with --source; `--source sample/export` in the repository (or `cur-sample --demo --out DIR`, then `--source DIR`) serves example data, not a bill (docs/src/exports.md)"
    )]
    NoSource,
    #[error("config file {path}: cannot read it: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Command-line overrides (highest precedence).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "S3Overrides::is_empty")]
    pub s3: S3Overrides,
    #[serde(skip_serializing_if = "OtlpOverrides::is_empty")]
    pub otlp: OtlpOverrides,
}

/// `--otlp-endpoint`, `--otlp-protocol`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OtlpOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

impl OtlpOverrides {
    fn is_empty(&self) -> bool {
        self.endpoint.is_none() && self.protocol.is_none()
    }
}

/// `--s3-endpoint`, `--s3-path-style`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct S3Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
}

impl S3Overrides {
    fn is_empty(&self) -> bool {
        self.endpoint.is_none() && self.path_style.is_none()
    }
}

/// Reads defaults, then the TOML file (if given), then `BCE_*` variables, then `overrides`.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    let mut fig = Figment::from(Serialized::defaults(RawConfig::default()));
    if let Some(path) = file {
        if let Err(source) = std::fs::metadata(path) {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                source,
            });
        }
        fig = fig.merge(Toml::file_exact(path));
    }
    fig = fig
        .merge(Env::prefixed(ENV_PREFIX).split("__"))
        .merge(Serialized::defaults(overrides));
    let mut raw: RawConfig = fig
        .extract()
        .map_err(|e| ConfigError::Figment(Box::new(e)))?;
    if overrides.source.is_some() {
        // `--source` reads that one export, whatever the file lists.
        raw.sources.clear();
        raw.exports.clear();
    }
    if raw.source.is_none() && raw.sources.is_empty() && raw.exports.is_empty() {
        raw.source = std::env::var(FALLBACK_SOURCE_VAR)
            .ok()
            .filter(|s| !s.trim().is_empty());
    }
    check(raw)
}

/// The source prefixes of the CUR 2.0 `tags` map (CUR 2.0 tag columns:
/// <https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-tag-columns.html>).
pub const TAG_SOURCES: &[&str] = &[
    "iamPrincipal",
    "costCategory",
    "accountTag",
    "resourceTags",
    "userAttribute",
];

/// Every key of the configuration file, for suggestions.
const ALL_KEYS: &[&str] = &[
    "source",
    "sources",
    "exports",
    "exports.name",
    "exports.source",
    "exports.s3",
    "exports.s3.endpoint",
    "exports.s3.path_style",
    "exports.s3.region",
    "exports.s3.profile",
    "exports.s3.role_arn",
    "exports.s3.external_id",
    "exports.s3.role_session_name",
    "exports.s3.sts_endpoint",
    "listen",
    "refresh_interval",
    "periods",
    "max_series",
    "fold_sessions",
    "log_format",
    "header_read_timeout",
    "max_connections",
    "now",
    "budgets",
    "budgets.name",
    "budgets.owner",
    "budgets.selector",
    "budgets.monthly",
    "budgets.cost",
    "budgets.currency",
    "budgets.labels",
    "forecast",
    "forecast.settle_days",
    "forecast.window_days",
    "spikes",
    "spikes.settle_days",
    "spikes.baseline_days",
    "spikes.top_principals",
    "otlp",
    "otlp.enabled",
    "otlp.endpoint",
    "otlp.protocol",
    "otlp.headers",
    "otlp.timeout",
    "otlp.compression",
    "otlp.interval",
    "otlp.ca_file",
    "otlp.client_cert",
    "otlp.client_key",
    "otlp.resource_attributes",
    "otlp.attributes",
    "otlp.max_attempts",
    "tags",
    "tags.sources",
    "tags.allow",
    "tags.rename",
    "models",
    "models.rename",
    "s3",
    "s3.endpoint",
    "s3.path_style",
    "s3.region",
    "s3.concurrency",
    "s3.request_timeout",
    "s3.stall_timeout",
    "s3.max_attempts",
    "s3.profile",
    "s3.role_arn",
    "s3.external_id",
    "s3.role_session_name",
    "s3.sts_endpoint",
];

/// `host:port` or `ip:port` (IPv6 as `[::1]:9747`); host names are resolved (`localhost` from
/// the hosts file), IPv4 preferred.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!(
            "{s:?} has no port; write host:port, like 127.0.0.1:9747, localhost:9747 or 0.0.0.0:9747"
        ));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!(
            "{s:?} is not host:port, like 127.0.0.1:9747, localhost:9747 or 0.0.0.0:9747"
        ));
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host {host:?} of {s:?}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("host {host:?} of {s:?} has no address"))
}

/// Edit distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `"; did you mean `x`?"` when a candidate is close, else `""`.
fn suggestion(wrong: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (distance(wrong, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// A figment error in the user's terms: the key as written (file key or `BCE_` variable), where
/// it came from, "a number" rather than "usize", and the closest key for a misspelt one.
fn describe_figment(e: &figment::Error) -> String {
    use figment::error::Kind;
    let mut lines = Vec::new();
    for err in e.clone() {
        let path: Vec<&str> = err.path.iter().map(String::as_str).collect();
        let key = path.join(".");
        let (origin, written) = match &err.metadata {
            Some(m) if m.name.contains("environment") => {
                let var = format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase());
                ("the environment".to_string(), var)
            }
            Some(m) => (
                match &m.source {
                    Some(src) => format!("{src}"),
                    None => m.name.trim_matches('`').to_string(),
                },
                key.clone(),
            ),
            None => (String::new(), key.clone()),
        };
        let at = if origin.is_empty() {
            String::new()
        } else {
            format!(" in {origin}")
        };
        let line = match &err.kind {
            Kind::UnknownField(field, _) => {
                // figment's path ends with the unknown field itself.
                let parents: &[&str] = match path.split_last() {
                    Some((last, rest)) if *last == field.as_str() => rest,
                    _ => &path,
                };
                // Array positions (`exports.0.s3`) are shown as `exports[0].s3`, and left out to
                // find the known keys.
                let shown: Vec<String> = parents.iter().fold(Vec::new(), |mut acc, p| {
                    match (p.parse::<usize>(), acc.last_mut()) {
                        (Ok(i), Some(last)) => last.push_str(&format!("[{i}]")),
                        _ => acc.push(p.to_string()),
                    }
                    acc
                });
                let shown_parent = if shown.is_empty() {
                    String::new()
                } else {
                    format!("{}.", shown.join("."))
                };
                let parents: Vec<&str> = parents
                    .iter()
                    .copied()
                    .filter(|p| p.parse::<usize>().is_err())
                    .collect();
                let parent = if parents.is_empty() {
                    String::new()
                } else {
                    format!("{}.", parents.join("."))
                };
                let full = format!("{shown_parent}{field}");
                let siblings: Vec<&str> = ALL_KEYS
                    .iter()
                    .copied()
                    .filter(|k| {
                        k.strip_prefix(parent.as_str())
                            .is_some_and(|rest| !rest.contains('.'))
                    })
                    .collect();
                let names: Vec<&str> = siblings.iter().map(|k| &k[parent.len()..]).collect();
                let full_names: Vec<String> =
                    names.iter().map(|n| format!("{shown_parent}{n}")).collect();
                let close = suggestion(field, &names);
                let hint = if close.is_empty() {
                    format!("; known keys here: {}", full_names.join(", "))
                } else {
                    close.replace("did you mean `", &format!("did you mean `{shown_parent}"))
                };
                format!("unknown key `{full}`{at}{hint}")
            }
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                format!(
                    "key `{written}`{at}: expected {}, found {actual}",
                    plain_type(expected)
                )
            }
            other => format!("key `{written}`{at}: {other}"),
        };
        lines.push(line);
    }
    lines.join("\n")
}

/// serde's type names in words.
fn plain_type(expected: &str) -> String {
    let t = expected.trim_start_matches("a ").trim_start_matches("an ");
    match t {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number (0 or more)".to_string(),
        "isize" | "i64" | "i32" => "a whole number".to_string(),
        "f64" | "f32" => "a number".to_string(),
        "bool" | "boolean" => "true or false".to_string(),
        "string" => "a string in quotes".to_string(),
        _ if t.contains("untagged enum RawPeriods") => {
            "a number of newest periods, \"all\", or a list like [\"2026-10\", \"2026-11\"]"
                .to_string()
        }
        _ => expected.to_string(),
    }
}

/// Checks that need the file system but not the data: a local source must exist and look like an
/// export root. Returns what is wrong, each with what to do.
pub fn check_without_data(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    for e in &config.exports {
        let SourceSpec::Local(path) = &e.source else {
            continue;
        };
        let which = if config.exports.len() == 1 {
            "config key `source`".to_string()
        } else {
            format!("export {:?}", e.name)
        };
        if !path.exists() {
            problems.push(format!(
                "{which}: {} does not exist; give the export root (the folder holding data/ and metadata/) or s3://bucket/prefix/<export-name>",
                path.display()
            ));
        } else if !path.join("metadata").is_dir() {
            problems.push(format!(
                "{which}: {} has no metadata/ folder; is it the export root (the folder holding data/ and metadata/)?",
                path.display()
            ));
        }
    }
    problems
}

/// The effective settings as TOML a user can paste into a configuration file.
pub fn effective_toml(c: &Config) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let list = |v: &mut dyn Iterator<Item = &String>| {
        format!("[{}]", v.map(|s| q(s)).collect::<Vec<_>>().join(", "))
    };
    let table = |m: &BTreeMap<String, String>| {
        format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{} = {}", q(k), q(v)))
                .collect::<Vec<_>>()
                .join(", ")
        )
        .replace("{  }", "{}")
    };
    // Exact, so that the printed file loads back to the same settings.
    let duration = |d: Duration| {
        let s = d.as_secs_f64();
        if !d.subsec_nanos().is_multiple_of(1_000_000) {
            format!("{}ns", d.as_nanos())
        } else if s.fract() != 0.0 {
            format!("{}ms", d.as_millis())
        } else {
            let s = d.as_secs();
            if s.is_multiple_of(86_400) {
                format!("{}d", s / 86_400)
            } else if s.is_multiple_of(3600) {
                format!("{}h", s / 3600)
            } else if s.is_multiple_of(60) {
                format!("{}m", s / 60)
            } else {
                format!("{s}s")
            }
        }
    };
    let periods = match &c.periods {
        PeriodSelection::Newest(n) => n.to_string(),
        PeriodSelection::All => q("all"),
        PeriodSelection::Explicit(set) => list(&mut set.iter()),
    };
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    let single = match c.exports.as_slice() {
        [one] if one.name == one.source.to_string() && one.s3 == c.s3 => Some(one),
        _ => None,
    };
    if let Some(one) = single {
        line(format!("source = {}", q(&one.source.to_string())));
    }
    line(format!("listen = {}", q(&c.listen.to_string())));
    line(format!(
        "refresh_interval = {}",
        q(&duration(c.refresh_interval))
    ));
    line(format!("periods = {periods}"));
    line(format!("max_series = {}", c.max_series));
    line(format!("fold_sessions = {}", c.aggregate.fold_sessions));
    line(format!(
        "log_format = {}",
        q(match c.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    ));
    line(format!(
        "header_read_timeout = {}",
        q(&duration(c.header_read_timeout))
    ));
    line(format!("max_connections = {}", c.max_connections));
    if let Some(now) = c.now_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        line(format!(
            "now = {}",
            q(&now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        ));
    }
    line(String::new());
    line("[tags]".into());
    line(format!(
        "sources = {}",
        list(&mut c.aggregate.tags.sources.iter())
    ));
    line(format!(
        "allow = {}",
        list(&mut c.aggregate.tags.allow.iter())
    ));
    line(format!("rename = {}", table(&c.aggregate.tags.rename)));
    line(String::new());
    line("[models]".into());
    line(format!("rename = {}", table(&c.aggregate.model_rename)));
    line(String::new());
    line("[s3]".into());
    line(format!("path_style = {}", c.s3.path_style));
    line(format!("concurrency = {}", c.s3.concurrency));
    line(format!(
        "request_timeout = {}",
        q(&duration(c.s3.request_timeout))
    ));
    line(format!(
        "stall_timeout = {}",
        q(&duration(c.s3.stall_timeout))
    ));
    line(format!("max_attempts = {}", c.s3.max_attempts));
    access_lines(&c.s3, &S3Settings::default(), &mut line);
    if single.is_none() {
        for e in &c.exports {
            line(String::new());
            line("[[exports]]".into());
            line(format!("name = {}", q(&e.name)));
            line(format!("source = {}", q(&e.source.to_string())));
            if e.s3 != c.s3 {
                line(String::new());
                line("[exports.s3]".into());
                if e.s3.endpoint.is_none() && c.s3.endpoint.is_some() {
                    line("endpoint = \"\"".into());
                }
                if e.s3.path_style != c.s3.path_style {
                    line(format!("path_style = {}", e.s3.path_style));
                }
                for (mine, global, key) in [
                    (&e.s3.region, &c.s3.region, "region"),
                    (&e.s3.profile, &c.s3.profile, "profile"),
                    (&e.s3.role_arn, &c.s3.role_arn, "role_arn"),
                    (&e.s3.external_id, &c.s3.external_id, "external_id"),
                    (
                        &e.s3.role_session_name,
                        &c.s3.role_session_name,
                        "role_session_name",
                    ),
                    (&e.s3.sts_endpoint, &c.s3.sts_endpoint, "sts_endpoint"),
                ] {
                    if mine.is_none() && global.is_some() {
                        line(format!("{key} = \"\""));
                    }
                }
                access_lines(&e.s3, &c.s3, &mut line);
            }
        }
    }
    if let Some(o) = &c.otlp {
        use crate::metrics::otlp::{AttributeMode, OtlpCompression};
        line(String::new());
        line("[otlp]".into());
        line("enabled = true".into());
        if let Some(e) = &o.endpoint {
            line(format!("endpoint = {}", q(e)));
        }
        line(format!("protocol = {}", q(&o.protocol.to_string())));
        if !o.headers.is_empty() {
            // Header values often carry tokens: named, never printed.
            let names: Vec<&str> = o.headers.keys().map(String::as_str).collect();
            line(format!(
                "# headers: {} (values not printed; they may hold secrets)",
                names.join(", ")
            ));
        }
        if let Some(t) = o.timeout {
            line(format!("timeout = {}", q(&duration(t))));
        }
        if let Some(comp) = o.compression {
            let name = match comp {
                OtlpCompression::Gzip => "gzip",
                OtlpCompression::None => "none",
            };
            line(format!("compression = {}", q(name)));
        }
        line(format!("interval = {}", q(&duration(o.interval))));
        for (path, key) in [
            (&o.ca_file, "ca_file"),
            (&o.client_cert, "client_cert"),
            (&o.client_key, "client_key"),
        ] {
            if let Some(p) = path {
                line(format!("{key} = {}", q(&p.to_string_lossy())));
            }
        }
        line(format!(
            "resource_attributes = {}",
            table(&o.resource_attributes)
        ));
        let attributes = match o.attributes {
            AttributeMode::Prometheus => "prometheus",
            AttributeMode::Semconv => "semconv",
        };
        line(format!("attributes = {}", q(attributes)));
        line(format!("max_attempts = {}", o.max_attempts));
    }
    let (f, sp) = (&c.budgets.forecast, &c.budgets.spikes);
    line(String::new());
    line("[forecast]".into());
    line(format!("settle_days = {}", f.settle_days));
    line(format!("window_days = {}", f.window_days));
    line(String::new());
    line("[spikes]".into());
    line(format!("settle_days = {}", sp.settle_days));
    line(format!("baseline_days = {}", sp.baseline_days));
    line(format!("top_principals = {}", sp.top_principals));
    for b in &c.budgets.budgets {
        line(String::new());
        line("[[budgets]]".into());
        line(format!("name = {}", q(&b.name)));
        line(format!("owner = {}", q(&b.owner)));
        line(format!("selector = {}", q(b.selector.as_str())));
        line(format!("monthly = {:?}", b.monthly));
        line(format!("cost = {}", q(b.cost.as_str())));
        line(format!("currency = {}", q(&b.currency)));
        let labels: BTreeMap<String, String> = b.labels.iter().cloned().collect();
        line(format!("labels = {}", table(&labels)));
    }
    out
}

/// The S3 access keys of `s3` that differ from `base` (`endpoint`, `region`, the role…), as TOML
/// lines; secrets are not among them (an external ID is an identifier, not a secret).
fn access_lines(s3: &S3Settings, base: &S3Settings, line: &mut dyn FnMut(String)) {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    for (mine, theirs, key) in [
        (&s3.endpoint, &base.endpoint, "endpoint"),
        (&s3.region, &base.region, "region"),
        (&s3.profile, &base.profile, "profile"),
        (&s3.role_arn, &base.role_arn, "role_arn"),
        (&s3.external_id, &base.external_id, "external_id"),
        (
            &s3.role_session_name,
            &base.role_session_name,
            "role_session_name",
        ),
        (&s3.sts_endpoint, &base.sts_endpoint, "sts_endpoint"),
    ] {
        if let Some(v) = mine
            && mine != theirs
        {
            line(format!("{key} = {}", q(v)));
        }
    }
}

/// `90s`, `15m`, `1h`, `1d`, `1h 30m` (the `humantime` crate's grammar), or a number of seconds.
/// `None` for anything else, negative or beyond what a `Duration` holds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    humantime::parse_duration(s).ok()
}

/// Checks a raw configuration.
pub fn check(raw: RawConfig) -> Result<Config, ConfigError> {
    let invalid = |key: &'static str, message: String| ConfigError::Invalid { key, message };
    let listen = parse_listen(&raw.listen).map_err(|m| invalid("listen", m))?;
    let (raw_source, raw_sources, raw_exports) =
        (raw.source.clone(), raw.sources.clone(), raw.exports.clone());
    let refresh_interval = parse_duration(&raw.refresh_interval)
        .filter(|d| *d >= Duration::from_secs(1) && *d <= MAX_DURATION)
        .ok_or_else(|| {
            invalid(
                "refresh_interval",
                format!(
                    "{:?} is not a duration between 1s and 365d (examples: 15m, 1h, 3600)",
                    raw.refresh_interval
                ),
            )
        })?;
    let periods = match raw.periods {
        RawPeriods::Newest(0) => return Err(invalid("periods", "must be at least 1".into())),
        RawPeriods::Newest(n) => PeriodSelection::Newest(n),
        RawPeriods::Word(w) if w == "all" => PeriodSelection::All,
        RawPeriods::Word(w) => match w.parse::<usize>() {
            Ok(n) if n > 0 => PeriodSelection::Newest(n),
            _ => {
                return Err(invalid(
                    "periods",
                    format!(
                        "{w:?} is neither a number of newest periods, \"all\", nor a list of \"YYYY-MM\""
                    ),
                ));
            }
        },
        RawPeriods::List(list) => {
            for p in &list {
                let ok = p.len() == 7
                    && p.as_bytes()[4] == b'-'
                    && p.bytes()
                        .enumerate()
                        .all(|(i, c)| i == 4 || c.is_ascii_digit())
                    && matches!(p[5..].parse::<u32>(), Ok(1..=12));
                if !ok {
                    return Err(invalid(
                        "periods",
                        format!("{p:?} is not a billing period like \"2026-11\""),
                    ));
                }
            }
            PeriodSelection::Explicit(list.into_iter().collect())
        }
    };
    if raw.max_series < 10 {
        return Err(invalid(
            "max_series",
            format!(
                "{} is too small; use at least 10 (default {DEFAULT_MAX_SERIES})",
                raw.max_series
            ),
        ));
    }
    for (key, label) in &raw.tags.rename {
        if !is_label_name(label)
            || SERIES_LABELS.contains(&label.as_str())
            || label == crate::names::PRICING_UNIT_LABEL
        {
            return Err(invalid(
                "tags.rename",
                format!(
                    "{key:?} = {label:?}: not a free Prometheus label name (letters, digits, _; not starting with __; not one of the fixed labels)"
                ),
            ));
        }
    }
    for (from, to) in &raw.models.rename {
        if from.trim().is_empty() || to.trim().is_empty() {
            return Err(invalid(
                "models.rename",
                format!("{from:?} = {to:?}: model names must not be empty"),
            ));
        }
    }
    for source in &raw.tags.sources {
        if !TAG_SOURCES.contains(&source.as_str()) {
            return Err(invalid(
                "tags.sources",
                format!(
                    "{source:?} is not a tag source; the tags map has {}{}",
                    TAG_SOURCES.join(", "),
                    suggestion(source, TAG_SOURCES)
                ),
            ));
        }
    }
    for key in &raw.tags.allow {
        if !key.contains('/') {
            return Err(invalid(
                "tags.allow",
                format!("{key:?} is not a full tag key like \"iamPrincipal/team\""),
            ));
        }
    }
    let defaults = S3Settings::default();
    let concurrency = raw.s3.concurrency.unwrap_or(defaults.concurrency);
    if concurrency == 0 || concurrency > 256 {
        return Err(invalid(
            "s3.concurrency",
            format!("{concurrency} is outside 1..=256"),
        ));
    }
    let max_attempts = raw.s3.max_attempts.unwrap_or(defaults.max_attempts);
    if max_attempts == 0 || max_attempts > 20 {
        return Err(invalid(
            "s3.max_attempts",
            format!("{max_attempts} is outside 1..=20"),
        ));
    }
    // (written, default, key, minimum, the minimum and examples as users write them)
    let timeout = |written: &Option<String>, default, key, min, words: &str| {
        let Some(w) = written else {
            return Ok(default);
        };
        parse_duration(w)
            .filter(|d| *d >= min && *d <= MAX_DURATION)
            .ok_or_else(|| invalid(key, format!("{w:?} is not a duration of at least {words}")))
    };
    let request_timeout = timeout(
        &raw.s3.request_timeout,
        defaults.request_timeout,
        "s3.request_timeout",
        Duration::from_millis(100),
        "100ms (examples: 30s, 2m)",
    )?;
    let stall_timeout = timeout(
        &raw.s3.stall_timeout,
        defaults.stall_timeout,
        "s3.stall_timeout",
        Duration::from_secs(1),
        "1s (examples: 20s, 1m)",
    )?;
    let mut s3 = S3Settings {
        concurrency,
        request_timeout,
        stall_timeout,
        max_attempts,
        ..defaults
    };
    apply_access(&mut s3, &raw.s3).map_err(|(key, message)| ConfigError::Invalid {
        key: match key {
            "endpoint" => "s3.endpoint",
            "sts_endpoint" => "s3.sts_endpoint",
            "role_arn" => "s3.role_arn",
            "role_session_name" => "s3.role_session_name",
            _ => "s3",
        },
        message,
    })?;
    let exports = check_exports(&raw_source, &raw_sources, &raw_exports, &s3)?;
    let log_format = match raw.log_format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(invalid(
                "log_format",
                format!("{other:?} is neither \"text\" nor \"json\""),
            ));
        }
    };
    let header_read_timeout = parse_duration(&raw.header_read_timeout)
        .filter(|d| *d >= Duration::from_millis(1) && *d <= MAX_DURATION)
        .ok_or_else(|| {
            invalid(
                "header_read_timeout",
                format!(
                    "{:?} is not a duration between 1ms and 365d (examples: 10s, 500ms)",
                    raw.header_read_timeout
                ),
            )
        })?;
    let budgets = check_budgets(&raw.budgets)?;
    if raw.forecast.window_days == 0 || raw.forecast.window_days > 62 {
        return Err(invalid(
            "forecast.window_days",
            format!("{} is outside 1..=62", raw.forecast.window_days),
        ));
    }
    if raw.forecast.settle_days > 14 || raw.spikes.settle_days > 14 {
        return Err(invalid(
            "forecast.settle_days / spikes.settle_days",
            "must be at most 14".into(),
        ));
    }
    if raw.spikes.baseline_days == 0 || raw.spikes.baseline_days > 62 {
        return Err(invalid(
            "spikes.baseline_days",
            format!("{} is outside 1..=62", raw.spikes.baseline_days),
        ));
    }
    let now_ms = match raw.now.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| {
                    invalid(
                        "now",
                        format!("{s:?} is not an RFC 3339 time like 2026-11-15T12:00:00Z ({e})"),
                    )
                })?
                .timestamp_millis(),
        ),
    };
    if raw.max_connections == 0 || raw.max_connections > 1_000_000 {
        return Err(invalid(
            "max_connections",
            format!(
                "{} is outside 1..=1000000 (default {DEFAULT_MAX_CONNECTIONS})",
                raw.max_connections
            ),
        ));
    }
    let otlp = check_otlp(raw.otlp)?;
    Ok(Config {
        exports,
        listen,
        refresh_interval,
        periods,
        max_series: raw.max_series,
        aggregate: AggregateOptions {
            tags: TagRules {
                sources: raw.tags.sources.into_iter().collect(),
                allow: raw.tags.allow.into_iter().collect(),
                rename: raw.tags.rename,
            },
            fold_sessions: raw.fold_sessions,
            model_rename: raw.models.rename,
            detail: false,
        },
        log_format,
        header_read_timeout,
        s3,
        budgets: BudgetSettings {
            budgets,
            forecast: ForecastSettings {
                settle_days: raw.forecast.settle_days,
                window_days: raw.forecast.window_days,
            },
            spikes: SpikeSettings {
                settle_days: raw.spikes.settle_days,
                baseline_days: raw.spikes.baseline_days,
                top_principals: raw.spikes.top_principals,
            },
        },
        now_ms,
        max_connections: raw.max_connections,
        otlp,
    })
}

/// Applies written S3 access keys over `s3`; an error is `(key, message)`.
fn apply_access(s3: &mut S3Settings, a: &RawS3) -> Result<(), (&'static str, String)> {
    let set = |v: &Option<String>| v.as_ref().map(|v| v.trim().to_string());
    for (written, key, field) in [
        (&a.endpoint, "endpoint", &mut s3.endpoint),
        (&a.sts_endpoint, "sts_endpoint", &mut s3.sts_endpoint),
    ] {
        if let Some(e) = set(written) {
            if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
                return Err((key, format!("{e:?} is not an http:// or https:// URL")));
            }
            *field = Some(e).filter(|e| !e.is_empty());
        }
    }
    if let Some(p) = a.path_style {
        s3.path_style = p;
    }
    if let Some(r) = set(&a.region) {
        s3.region = Some(r).filter(|r| !r.is_empty());
    }
    if let Some(p) = set(&a.profile) {
        s3.profile = Some(p).filter(|p| !p.is_empty());
    }
    if let Some(r) = set(&a.role_arn) {
        s3.role_arn = Some(r).filter(|r| !r.is_empty());
    }
    if let Some(x) = set(&a.external_id) {
        s3.external_id = Some(x).filter(|x| !x.is_empty());
    }
    if let Some(n) = set(&a.role_session_name) {
        s3.role_session_name = Some(n).filter(|n| !n.is_empty());
    }
    if let Some(r) = &s3.role_arn
        && !(r.starts_with("arn:") && r.contains(":role/"))
    {
        return Err((
            "role_arn",
            format!(
                "{r:?} is not a role ARN like arn:aws:iam::111122223333:role/BedrockCostReader"
            ),
        ));
    }
    if s3.role_arn.is_none() && (s3.external_id.is_some() || s3.role_session_name.is_some()) {
        return Err((
            "role_arn",
            "is not set, but external_id or role_session_name is: they belong to a role to assume"
                .into(),
        ));
    }
    if let Some(n) = &s3.role_session_name
        && !(2..=64).contains(&n.len())
    {
        return Err((
            "role_session_name",
            format!("{n:?} is not 2 to 64 characters (letters, digits and =,.@_-)"),
        ));
    }
    if let Some(n) = &s3.role_session_name
        && !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "=,.@_-+".contains(c))
    {
        return Err((
            "role_session_name",
            format!("{n:?} has characters STS refuses (allowed: letters, digits and =,.@_-+)"),
        ));
    }
    Ok(())
}

/// The exports to read: `source` (one), or `sources` and `[[exports]]` (several, in that order).
/// Errors name the entry (`exports[1]`, `sources[0]`).
fn check_exports(
    source: &Option<String>,
    sources: &[String],
    exports: &[RawExport],
    global: &S3Settings,
) -> Result<Vec<ExportConfig>, ConfigError> {
    let listed = !sources.is_empty() || !exports.is_empty();
    if let (Some(one), true) = (source, listed) {
        return Err(ConfigError::Export {
            key: "source".into(),
            name: one.clone(),
            message: "is set, and so is `sources` or `[[exports]]`: list every export in `sources`/`[[exports]]` and drop `source` (or keep only `source` for one export)".into(),
        });
    }
    let mut entries: Vec<(String, Option<String>, String, RawS3)> = Vec::new();
    if !listed {
        let source = source.clone().ok_or(ConfigError::NoSource)?;
        entries.push(("source".into(), None, source, RawS3::default()));
    }
    for (i, s) in sources.iter().enumerate() {
        entries.push((format!("sources[{i}]"), None, s.clone(), RawS3::default()));
    }
    for (i, e) in exports.iter().enumerate() {
        entries.push((
            format!("exports[{i}]"),
            e.name.clone(),
            e.source.clone(),
            e.s3.clone(),
        ));
    }
    let mut out: Vec<ExportConfig> = Vec::new();
    for (key, name, source, access) in entries {
        let shown = name.clone().unwrap_or_else(|| source.clone());
        let err = |message: String| ConfigError::Export {
            key: key.clone(),
            name: shown.clone(),
            message,
        };
        let spec = SourceSpec::parse(&source).map_err(|m| err(format!("`source` {m}")))?;
        let name = match name {
            Some(n) if n.trim().is_empty() => return Err(err("`name` is empty".into())),
            Some(n) => n.trim().to_string(),
            None => spec.to_string(),
        };
        if let Some(o) = out.iter().find(|o| o.name == name) {
            return Err(err(format!(
                "the name {name:?} is already used by the export of {}; give each export its own `name`",
                o.source
            )));
        }
        if let Some(o) = out.iter().find(|o| o.source == spec) {
            return Err(err(format!(
                "{spec} is already listed (export {:?}); reading it twice would count its cost twice",
                o.name
            )));
        }
        if let Some(k) = access.global_only_key() {
            return Err(err(format!(
                "`s3.{k}` is the daemon's, not an export's: set it in the top-level [s3] table"
            )));
        }
        let mut s3 = global.clone();
        apply_access(&mut s3, &access).map_err(|(k, m)| err(format!("`s3.{k}` {m}")))?;
        out.push(ExportConfig {
            name,
            source: spec,
            s3,
        });
    }
    Ok(out)
}

/// Label names a budget's `labels` may not use.
const BUDGET_RESERVED_LABELS: &[&str] = &[
    crate::names::BUDGET_LABEL,
    crate::names::OWNER_LABEL,
    "billing_period",
    crate::names::USAGE_DATE_LABEL,
    "severity",
    "alertname",
    "instance",
    "job",
];

/// Checks `[[budgets]]`: errors name the budget and its position (`budgets[2] "ml-platform"`).
fn check_budgets(raw: &[RawBudget]) -> Result<Vec<Budget>, ConfigError> {
    let mut out: Vec<Budget> = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let err = |message: String| ConfigError::Budget {
            index: i,
            name: b.name.clone(),
            message,
        };
        if b.name.trim().is_empty() {
            return Err(err("`name` is empty".into()));
        }
        if out.iter().any(|o| o.name == b.name) {
            return Err(err(format!(
                "`name` {:?} is used by an earlier budget; budget names must be unique",
                b.name
            )));
        }
        if b.owner.trim().is_empty() {
            return Err(err(
                "`owner` is empty; Alertmanager routes on it (a team or on-call name)".into(),
            ));
        }
        if !(b.monthly.is_finite() && b.monthly > 0.0) {
            return Err(err(format!(
                "`monthly` = {} is not a positive amount",
                b.monthly
            )));
        }
        let selector = Selector::parse(&b.selector).map_err(|e| err(format!("`selector` {e}")))?;
        let cost = match b.cost.as_deref() {
            None | Some("unblended") => CostKind::Unblended,
            Some("net") => CostKind::Net,
            Some(other) => {
                return Err(err(format!(
                    "`cost` = {other:?} is neither \"unblended\" nor \"net\""
                )));
            }
        };
        let currency = b
            .currency
            .as_deref()
            .unwrap_or("USD")
            .trim()
            .to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(err(format!(
                "`currency` = {currency:?} is not a currency code like \"USD\""
            )));
        }
        for name in b.labels.keys() {
            if !is_label_name(name)
                || BUDGET_RESERVED_LABELS.contains(&name.as_str())
                || SERIES_LABELS.contains(&name.as_str())
            {
                return Err(err(format!(
                    "`labels` key {name:?} is not a free Prometheus label name (letters, digits, _; not starting with __; not one of {})",
                    BUDGET_RESERVED_LABELS.join(", ")
                )));
            }
        }
        out.push(Budget {
            name: b.name.clone(),
            owner: b.owner.clone(),
            selector,
            monthly: b.monthly,
            cost,
            currency,
            labels: b.labels.clone().into_iter().collect(),
        });
    }
    Ok(out)
}

/// Checks `[otlp]`; `None` when the push is off.
fn check_otlp(raw: RawOtlp) -> Result<Option<OtlpSettings>, ConfigError> {
    let invalid = |key: &'static str, message: String| ConfigError::Invalid { key, message };
    let endpoint = raw.endpoint.filter(|e| !e.trim().is_empty());
    if !raw.enabled && endpoint.is_none() {
        return Ok(None);
    }
    if let Some(e) = endpoint
        .as_ref()
        .filter(|e| !(e.starts_with("http://") || e.starts_with("https://")))
    {
        return Err(invalid(
            "otlp.endpoint",
            format!("{e:?} is not an http:// or https:// URL (e.g. http://127.0.0.1:4317)"),
        ));
    }
    let protocol = match raw.protocol.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => OtlpProtocol::parse(p).ok_or_else(|| {
            invalid(
                "otlp.protocol",
                format!("{p:?} is neither \"grpc\" nor \"http\" (http/protobuf)"),
            )
        })?,
        None => {
            crate::metrics::otlp::protocol_from_env().map_err(|m| invalid("otlp.protocol", m))?
        }
    };
    let compression = match raw.compression.as_deref() {
        Some(c) => Some(OtlpCompression::parse(c).ok_or_else(|| {
            invalid(
                "otlp.compression",
                format!("{c:?} is neither \"gzip\" nor \"none\""),
            )
        })?),
        None => None,
    };
    let timeout = match raw.timeout.as_deref() {
        Some(t) => Some(
            parse_duration(t)
                .filter(|d| *d >= Duration::from_millis(100) && *d <= MAX_DURATION)
                .ok_or_else(|| {
                    invalid(
                        "otlp.timeout",
                        format!("{t:?} is not a duration of at least 100ms (examples: 10s, 1m)"),
                    )
                })?,
        ),
        None => None,
    };
    let interval = parse_duration(&raw.interval)
        .filter(|d| *d >= Duration::from_secs(1) && *d <= MAX_DURATION)
        .ok_or_else(|| {
            invalid(
                "otlp.interval",
                format!(
                    "{:?} is not a duration between 1s and 365d (examples: 30s, 1m)",
                    raw.interval
                ),
            )
        })?;
    let attributes = match raw.attributes.as_str() {
        "prometheus" => AttributeMode::Prometheus,
        "semconv" => AttributeMode::Semconv,
        other => {
            return Err(invalid(
                "otlp.attributes",
                format!("{other:?} is neither \"prometheus\" nor \"semconv\""),
            ));
        }
    };
    if raw.max_attempts == 0 || raw.max_attempts > 20 {
        return Err(invalid(
            "otlp.max_attempts",
            format!("{} is outside 1..=20", raw.max_attempts),
        ));
    }
    if raw.client_cert.is_some() != raw.client_key.is_some() {
        return Err(invalid(
            "otlp.client_cert",
            "and otlp.client_key go together: mTLS needs both the certificate and its key".into(),
        ));
    }
    for (k, v) in &raw.headers {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(invalid(
                "otlp.headers",
                format!("{k:?} is not a header name"),
            ));
        }
        if v.bytes().any(|b| b.is_ascii_control()) {
            return Err(invalid(
                "otlp.headers",
                format!("the value of {k:?} has control characters"),
            ));
        }
    }
    let path = |p: Option<String>| p.filter(|p| !p.is_empty()).map(PathBuf::from);
    Ok(Some(OtlpSettings {
        endpoint,
        protocol,
        headers: raw.headers,
        timeout,
        compression,
        interval,
        ca_file: path(raw.ca_file),
        client_cert: path(raw.client_cert),
        client_key: path(raw.client_key),
        resource_attributes: raw.resource_attributes,
        attributes,
        max_attempts: raw.max_attempts,
        ..OtlpSettings::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_without_a_file_once_a_source_is_given() {
        assert!(matches!(
            check(RawConfig::default()),
            Err(ConfigError::NoSource)
        ));
        let c = check(RawConfig {
            source: Some("sample/export".into()),
            ..RawConfig::default()
        })
        .unwrap();
        assert_eq!(
            c.exports[0].source,
            SourceSpec::Local("sample/export".into())
        );
        assert_eq!(c.exports[0].name, "sample/export");
        assert_eq!(c.refresh_interval, Duration::from_secs(3600));
        assert_eq!(c.periods, PeriodSelection::Newest(2));
        assert_eq!(c.max_series, 20_000);
        assert!(c.aggregate.tags.sources.contains("iamPrincipal"));
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bedrock-cost-exporter.toml");
        load(Some(&path), &Overrides::default()).unwrap();
    }

    #[test]
    fn unknown_and_bad_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "sorce = \"x\"\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sorce") && e.contains("c.toml"), "{e}");
        std::fs::write(&f, "refresh_interval = \"soon\"\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("refresh_interval"), "{e}");
        std::fs::write(
            &f,
            "[tags]\nrename = { \"iamPrincipal/x\" = \"principal\" }\n",
        )
        .unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("tags.rename"), "{e}");
        let e = load(
            Some(&dir.path().join("missing.toml")),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("missing.toml"), "{e}");
    }

    #[test]
    fn errors_speak_the_users_words() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "max_series = \"lots\"\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`max_series`") && e.contains("c.toml"), "{e}");
        assert!(e.contains("whole number") && !e.contains("usize"), "{e}");
        assert!(!e.contains("default."), "{e}");
        std::fs::write(&f, "max_seires = 10\n[s3]\nconcurency = 3\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `max_series`"), "{e}");
        std::fs::write(&f, "[s3]\nconcurency = 3\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `s3.concurrency`"), "{e}");
        std::fs::write(&f, "periods = [\"2026-13\"]\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("2026-13"), "{e}");
        std::fs::write(&f, "[tags]\nsources = [\"iamPrincipl\"]\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `iamPrincipal`"), "{e}");
    }

    #[test]
    fn listen_accepts_host_names() {
        assert_eq!(parse_listen("localhost:9747").unwrap().port(), 9747);
        assert!(parse_listen("localhost:9747").unwrap().ip().is_loopback());
        assert_eq!(
            parse_listen("0.0.0.0:1").unwrap(),
            "0.0.0.0:1".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_listen("[::1]:9747").is_ok());
        assert!(parse_listen("localhost").unwrap_err().contains("no port"));
        assert!(parse_listen("localhost:http").is_err());
    }

    #[test]
    fn effective_settings_are_toml_that_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "periods = [\"2026-10\"]\nrefresh_interval = \"90s\"\n[tags]\nrename = { \"iamPrincipal/cost-center\" = \"cc\" }\n[models]\nrename = { \"Claude Sonnet 4.6\" = \"sonnet\" }\n",
        )
        .unwrap();
        let c = load(Some(&f), &Overrides::default()).unwrap();
        let text = effective_toml(&c);
        assert!(
            !text.contains("S3Settings") && !text.contains("Newest("),
            "{text}"
        );
        let again = dir.path().join("again.toml");
        std::fs::write(&again, &text).unwrap();
        assert_eq!(
            load(Some(&again), &Overrides::default()).unwrap(),
            c,
            "{text}"
        );
    }

    #[test]
    fn sources_durations_and_periods() {
        assert_eq!(
            SourceSpec::parse("s3://bucket/cur/cur2/").unwrap(),
            SourceSpec::S3 {
                bucket: "bucket".into(),
                prefix: "cur/cur2".into()
            }
        );
        assert!(SourceSpec::parse("s3:///x").is_err());
        // Found by the config fuzz target: blanks before a trailing slash, a comma in a bucket.
        assert_eq!(
            SourceSpec::parse("s3://b/l /").unwrap().to_string(),
            "s3://b/l"
        );
        let e = SourceSpec::parse("s3://b,/l").unwrap_err();
        assert!(e.contains("\"b,\" is not an S3 bucket name"), "{e}");
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("3600"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("-5"), None);
        assert_eq!(parse_duration("100000000000000000000"), None, "no panic");
    }

    #[test]
    fn a_huge_refresh_interval_is_a_config_error_not_a_panic() {
        for v in ["100000000000000000000", "400d", "1e300"] {
            let raw = RawConfig {
                refresh_interval: v.into(),
                ..RawConfig::default()
            };
            let e = check(raw).unwrap_err().to_string();
            assert!(e.contains("refresh_interval"), "{v}: {e}");
        }
        let avail: Vec<String> = ["2026-09", "2026-11", "2026-10"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            PeriodSelection::Newest(2).select(&avail),
            ["2026-10", "2026-11"]
        );
        assert_eq!(PeriodSelection::All.select(&avail).len(), 3);
        assert_eq!(
            PeriodSelection::Explicit(["2026-09".to_string()].into()).select(&avail),
            ["2026-09"]
        );
    }

    #[test]
    fn budget_errors_name_the_budget_and_its_position() {
        let ok = "[[budgets]]\nname = \"ml\"\nowner = \"ml-leads\"\nselector = '{tag_team=\"ml\", account_id!=\"555566667777\"}'\nmonthly = 5000.0\ncost = \"net\"\nlabels = { slack = \"#ml\" }\n";
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, format!("now = \"2026-11-20T12:00:00Z\"\n{ok}")).unwrap();
        let c = load(Some(&f), &Overrides::default()).unwrap();
        assert_eq!(c.now_ms, Some(1_795_176_000_000));
        let b = &c.budgets.budgets[0];
        assert_eq!(
            (b.name.as_str(), b.owner.as_str(), b.monthly),
            ("ml", "ml-leads", 5000.0)
        );
        assert_eq!(b.cost, CostKind::Net);
        assert_eq!(b.currency, "USD");
        assert_eq!(b.labels, vec![("slack".to_string(), "#ml".to_string())]);
        for (second, want) in [
            (
                "name = \"ml\"\nowner = \"x\"\nmonthly = 1.0\n",
                "budgets[1]",
            ),
            ("name = \"b\"\nowner = \"x\"\nmonthly = 0.0\n", "monthly"),
            ("name = \"b\"\nowner = \"x\"\nmonthly = -5.0\n", "monthly"),
            (
                "name = \"b\"\nowner = \"x\"\nmonthly = 1.0\nselector = '{team=\"ml\"}'\n",
                "\"team\" is not a label",
            ),
            (
                "name = \"b\"\nowner = \"x\"\nmonthly = 1.0\nselector = '{tag_team=\"ml\"'\n",
                "selector",
            ),
            (
                "name = \"b\"\nowner = \"x\"\nmonthly = 1.0\nselector = '{tag_team=~\"(\"}'\n",
                "selector",
            ),
            ("name = \"b\"\nowner = \"\"\nmonthly = 1.0\n", "owner"),
            (
                "name = \"b\"\nowner = \"x\"\nmonthly = 1.0\ncost = \"blended\"\n",
                "cost",
            ),
            (
                "name = \"b\"\nowner = \"x\"\nmonthly = 1.0\nlabels = { budget = \"y\" }\n",
                "labels",
            ),
        ] {
            std::fs::write(&f, format!("{ok}[[budgets]]\n{second}")).unwrap();
            let e = load(Some(&f), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("budgets[1]") && e.contains(want),
                "{second}: {e}"
            );
        }
        std::fs::write(&f, "now = \"yesterday\"\n").unwrap();
        let e = load(Some(&f), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`now`"), "{e}");
    }
}

#[cfg(test)]
mod sts_endpoint_tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, text).unwrap();
        load(Some(&f), &Overrides::default())
    }

    /// `check-config`'s text of `c`, and that text loaded again.
    fn printed_and_reloaded(c: &Config) -> (String, Config) {
        let printed = effective_toml(c);
        let again = load_text(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        (printed, again)
    }

    #[test]
    fn sts_endpoint_is_per_export_separate_from_the_s3_endpoint_and_prints_back() {
        let c = load_text(
            "[s3]\nendpoint = \"http://127.0.0.1:9000\"\nrole_arn = \"arn:aws:iam::111122223333:role/R\"\nsts_endpoint = \"https://sts.eu-west-1.amazonaws.com\"\n\n\
             [[exports]]\nname = \"a\"\nsource = \"s3://a/p\"\n\n\
             [[exports]]\nname = \"b\"\nsource = \"s3://b/p\"\ns3 = { sts_endpoint = \"\" }\n\n\
             [[exports]]\nname = \"c\"\nsource = \"s3://c/p\"\ns3 = { sts_endpoint = \"http://127.0.0.1:9001\" }\n",
        )
        .unwrap();
        let sts: Vec<Option<&str>> = c
            .exports
            .iter()
            .map(|e| e.s3.sts_endpoint.as_deref())
            .collect();
        assert_eq!(
            sts,
            [
                Some("https://sts.eu-west-1.amazonaws.com"),
                None,
                Some("http://127.0.0.1:9001")
            ]
        );
        assert!(
            c.exports
                .iter()
                .all(|e| e.s3.endpoint.as_deref() == Some("http://127.0.0.1:9000"))
        );
        let (printed, again) = printed_and_reloaded(&c);
        assert_eq!(
            again.exports.iter().map(|e| &e.s3).collect::<Vec<_>>(),
            c.exports.iter().map(|e| &e.s3).collect::<Vec<_>>(),
            "{printed}"
        );
        let e = load_text("[s3]\nsts_endpoint = \"sts.amazonaws.com\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("s3.sts_endpoint") && e.contains("http"), "{e}");
        let e = load_text(
            "[[exports]]\nsource = \"s3://b/p\"\ns3 = { sts_endpoint = \"sts.amazonaws.com\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("exports[0]") && e.contains("sts_endpoint"),
            "{e}"
        );
    }

    /// `[otlp]` round-trips through `check-config`'s TOML (header values excepted: named only).
    #[test]
    fn otlp_settings_print_and_load_back() {
        let c = load_text(
            "[otlp]\nendpoint = \"https://otel.example:4318\"\nprotocol = \"grpc\"\ntimeout = \"7s\"\ncompression = \"none\"\ninterval = \"2m\"\nca_file = \"/etc/ca.pem\"\nresource_attributes = { \"deployment.environment.name\" = \"prod\" }\nattributes = \"semconv\"\nmax_attempts = 2\nheaders = { authorization = \"Bearer s3cr3t\" }\n",
        )
        .unwrap();
        let (printed, again) = printed_and_reloaded(&c);
        assert!(printed.contains("# headers: authorization"), "{printed}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        let without_headers = |c: Config| {
            c.otlp.map(|o| crate::metrics::otlp::OtlpSettings {
                headers: BTreeMap::new(),
                ..o
            })
        };
        assert!(c.otlp.is_some());
        assert_eq!(without_headers(again), without_headers(c), "{printed}");
    }

    /// Durations print exactly (sub-millisecond parts too) and load back; a header read timeout
    /// under its documented 1ms minimum is refused (both found by the `config` fuzz target).
    #[test]
    fn durations_print_exactly_and_minimums_hold() {
        let c = load_text(
            "header_read_timeout = \"2ms 500us\"\n[s3]\nrequest_timeout = \"100ms 7ns\"\n",
        )
        .unwrap();
        let (printed, again) = printed_and_reloaded(&c);
        assert!(
            printed.contains("header_read_timeout = \"2500000ns\""),
            "{printed}"
        );
        assert_eq!(again, c, "{printed}");
        let e = load_text("header_read_timeout = \"5us\"\n").unwrap_err();
        assert!(e.to_string().contains("between 1ms and 365d"), "{e}");
    }
}
