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
use crate::metrics::otlp::{AttributeMode, OtlpCompression, OtlpProtocol, OtlpSettings};
use crate::names::SERIES_LABELS;
use crate::source::S3Settings;

/// Prefix of configuration environment variables (`BCE_SOURCE`, `BCE_TAGS__SOURCES`, …).
pub const ENV_PREFIX: &str = "BCE_";

pub const DEFAULT_SOURCE: &str = "sample/export";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9747";
pub const DEFAULT_REFRESH_INTERVAL: &str = "1h";
pub const DEFAULT_PERIODS: usize = 2;
pub const DEFAULT_MAX_SERIES: usize = 20_000;
pub const DEFAULT_HEADER_READ_TIMEOUT: &str = "10s";
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawS3 {
    /// Endpoint URL of an S3-compatible server (`AWS_ENDPOINT_URL` is honoured as the SDK does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub path_style: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub concurrency: usize,
    pub request_timeout: String,
    pub max_attempts: u32,
}

impl Default for RawS3 {
    fn default() -> Self {
        RawS3 {
            endpoint: None,
            path_style: false,
            region: None,
            concurrency: 8,
            request_timeout: "30s".to_string(),
            max_attempts: 5,
        }
    }
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

/// Configuration as written, before checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub source: String,
    pub listen: String,
    pub refresh_interval: String,
    pub periods: RawPeriods,
    pub max_series: usize,
    pub fold_sessions: bool,
    pub log_format: String,
    pub header_read_timeout: String,
    pub tags: RawTags,
    pub s3: RawS3,
    pub otlp: RawOtlp,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            source: DEFAULT_SOURCE.to_string(),
            listen: DEFAULT_LISTEN.to_string(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL.to_string(),
            periods: RawPeriods::Newest(DEFAULT_PERIODS),
            max_series: DEFAULT_MAX_SERIES,
            fold_sessions: false,
            log_format: "text".to_string(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT.to_string(),
            tags: RawTags::default(),
            s3: RawS3::default(),
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
            return Ok(SourceSpec::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
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

/// Checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub source: SourceSpec,
    pub listen: SocketAddr,
    pub refresh_interval: Duration,
    pub periods: PeriodSelection,
    pub max_series: usize,
    pub aggregate: AggregateOptions,
    pub log_format: LogFormat,
    /// How long an HTTP client may take to send its request headers.
    pub header_read_timeout: Duration,
    pub s3: S3Settings,
    /// `None`: OTLP push off.
    pub otlp: Option<OtlpSettings>,
}

/// A configuration error naming the key and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Figment(Box<figment::Error>),
    #[error("config key `{key}` {message}")]
    Invalid { key: &'static str, message: String },
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
    let raw: RawConfig = fig
        .extract()
        .map_err(|e| ConfigError::Figment(Box::new(e)))?;
    check(raw)
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
    let source = SourceSpec::parse(&raw.source).map_err(|m| invalid("source", m))?;
    let listen: SocketAddr = raw.listen.parse().map_err(|e| {
        invalid(
            "listen",
            format!(
                "{:?} is not an address like 127.0.0.1:9747 ({e})",
                raw.listen
            ),
        )
    })?;
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
                        .all(|(i, c)| i == 4 || c.is_ascii_digit());
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
    for key in &raw.tags.allow {
        if !key.contains('/') {
            return Err(invalid(
                "tags.allow",
                format!("{key:?} is not a full tag key like \"iamPrincipal/team\""),
            ));
        }
    }
    if raw.s3.concurrency == 0 || raw.s3.concurrency > 256 {
        return Err(invalid(
            "s3.concurrency",
            format!("{} is outside 1..=256", raw.s3.concurrency),
        ));
    }
    if raw.s3.max_attempts == 0 || raw.s3.max_attempts > 20 {
        return Err(invalid(
            "s3.max_attempts",
            format!("{} is outside 1..=20", raw.s3.max_attempts),
        ));
    }
    let request_timeout = parse_duration(&raw.s3.request_timeout)
        .filter(|d| *d >= Duration::from_millis(100) && *d <= MAX_DURATION)
        .ok_or_else(|| {
            invalid(
                "s3.request_timeout",
                format!(
                    "{:?} is not a duration of at least 100ms (examples: 30s, 2m)",
                    raw.s3.request_timeout
                ),
            )
        })?;
    if let Some(e) = raw
        .s3
        .endpoint
        .as_ref()
        .filter(|e| !(e.starts_with("http://") || e.starts_with("https://")))
    {
        return Err(invalid(
            "s3.endpoint",
            format!("{e:?} is not an http:// or https:// URL"),
        ));
    }
    let s3 = S3Settings {
        endpoint: raw.s3.endpoint.clone().filter(|e| !e.is_empty()),
        path_style: raw.s3.path_style,
        region: raw.s3.region.clone().filter(|r| !r.is_empty()),
        concurrency: raw.s3.concurrency,
        request_timeout,
        max_attempts: raw.s3.max_attempts,
    };
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
        .filter(|d| !d.is_zero() && *d <= MAX_DURATION)
        .ok_or_else(|| {
            invalid(
                "header_read_timeout",
                format!(
                    "{:?} is not a duration between 1ms and 365d (examples: 10s, 500ms)",
                    raw.header_read_timeout
                ),
            )
        })?;
    let otlp = check_otlp(raw.otlp)?;
    Ok(Config {
        source,
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
        },
        log_format,
        header_read_timeout,
        s3,
        otlp,
    })
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
    fn defaults_work_without_a_file() {
        let c = check(RawConfig::default()).unwrap();
        assert_eq!(c.source, SourceSpec::Local("sample/export".into()));
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
    fn sources_durations_and_periods() {
        assert_eq!(
            SourceSpec::parse("s3://bucket/cur/cur2/").unwrap(),
            SourceSpec::S3 {
                bucket: "bucket".into(),
                prefix: "cur/cur2".into()
            }
        );
        assert!(SourceSpec::parse("s3:///x").is_err());
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
}
