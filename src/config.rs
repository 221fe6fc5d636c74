//! Configuration in two steps: [`RawConfig`] as read by figment (defaults, the TOML file, then
//! `BCE_*` environment variables, then command-line flags), then [`Config`], checked once at start.
//!
//! Errors name the key, say where its value came from (the file, the environment variable, the
//! flag) and come all at once. Nothing about the keys is kept by hand: the defaults are
//! [`crate::defaults`]; the key list behind "did you mean" ([`config_keys`]) is read from the raw
//! structs themselves; `check-config`'s TOML ([`effective_toml`]) is the raw configuration of the
//! checked one, serialised by `toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::aggregate::AggregateOptions;
use crate::bedrock::tags::{TagRules, is_label_name};
use crate::budget::{Budget, BudgetSettings, CostKind, ForecastSettings, Selector, SpikeSettings};
use crate::defaults;
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
/// Longest duration any key accepts (a year): longer ones are typos, and timers overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// A duration as written: a string in the `humantime` grammar (`"90s"`, `"1h 30m"`) or a number of
/// seconds (`90`, `"90"`, `1.5`). Kept as written — a number as its decimal text — so that an error
/// can quote it; parsed by [`parse_duration`] when checked; always printed as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDuration(pub String);

impl From<Duration> for RawDuration {
    fn from(d: Duration) -> Self {
        RawDuration(format_duration(d))
    }
}

impl Serialize for RawDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Written;
        impl serde::de::Visitor<'_> for Written {
            type Value = RawDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }
            fn visit_str<E>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
        }
        d.deserialize_any(Written)
    }
}

/// What a duration key expects, in words (serde's "expected …").
const DURATION_EXPECTED: &str =
    "a duration such as \"90s\", \"15m\" or \"1h 30m\", or a number of seconds";

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
            sources: defaults::TAG_SOURCES
                .iter()
                .map(|s| s.to_string())
                .collect(),
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
/// timeouts and retries: [`S3_DAEMON_KEYS`]).
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
    pub request_timeout: Option<RawDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_timeout: Option<RawDuration>,
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

/// The `[s3]` keys only the top-level table may set: the GET bound, timeouts and retries are the
/// daemon's, not an export's.
pub const S3_DAEMON_KEYS: [&str; 4] = [
    "concurrency",
    "request_timeout",
    "stall_timeout",
    "max_attempts",
];

impl RawS3 {
    /// The keys of [`S3_DAEMON_KEYS`] this table sets.
    fn daemon_keys(&self) -> impl Iterator<Item = &'static str> {
        let set = [
            self.concurrency.is_some(),
            self.request_timeout.is_some(),
            self.stall_timeout.is_some(),
            self.max_attempts.is_some(),
        ];
        S3_DAEMON_KEYS
            .into_iter()
            .zip(set)
            .filter_map(|(key, set)| set.then_some(key))
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

fn is_default_otlp(o: &RawOtlp) -> bool {
    *o == RawOtlp::default()
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
    /// Values often carry tokens: `check-config` never prints them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<RawDuration>,
    /// `gzip` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    pub interval: RawDuration,
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
            enabled: defaults::otlp::ENABLED,
            endpoint: None,
            protocol: None,
            headers: BTreeMap::new(),
            timeout: None,
            compression: None,
            interval: defaults::otlp::INTERVAL.into(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            resource_attributes: BTreeMap::new(),
            attributes: defaults::otlp::ATTRIBUTES.to_string(),
            max_attempts: defaults::otlp::MAX_ATTEMPTS,
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
        RawForecast {
            settle_days: defaults::forecast::SETTLE_DAYS,
            window_days: defaults::forecast::WINDOW_DAYS,
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
        RawSpikes {
            settle_days: defaults::spikes::SETTLE_DAYS,
            baseline_days: defaults::spikes::BASELINE_DAYS,
            top_principals: defaults::spikes::TOP_PRINCIPALS,
        }
    }
}

/// Configuration as written, before checks. Field order is the order `check-config` prints.
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
    pub listen: String,
    pub refresh_interval: RawDuration,
    pub periods: RawPeriods,
    pub max_series: usize,
    pub fold_sessions: bool,
    pub log_format: String,
    pub header_read_timeout: RawDuration,
    pub max_connections: usize,
    /// A fixed "now" (RFC 3339), for tests and replays of old exports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    pub tags: RawTags,
    pub models: RawModels,
    pub s3: RawS3,
    /// Several exports with names and per-export S3 settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<RawExport>,
    #[serde(skip_serializing_if = "is_default_otlp")]
    pub otlp: RawOtlp,
    pub forecast: RawForecast,
    pub spikes: RawSpikes,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<RawBudget>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            source: None,
            sources: Vec::new(),
            listen: defaults::LISTEN.to_string(),
            refresh_interval: defaults::REFRESH_INTERVAL.into(),
            periods: RawPeriods::Newest(defaults::PERIODS),
            max_series: defaults::MAX_SERIES,
            fold_sessions: defaults::FOLD_SESSIONS,
            log_format: defaults::LOG_FORMAT.to_string(),
            header_read_timeout: defaults::HEADER_READ_TIMEOUT.into(),
            max_connections: defaults::MAX_CONNECTIONS,
            now: None,
            tags: RawTags::default(),
            models: RawModels::default(),
            s3: RawS3::default(),
            exports: Vec::new(),
            otlp: RawOtlp::default(),
            forecast: RawForecast::default(),
            spikes: RawSpikes::default(),
            budgets: Vec::new(),
        }
    }
}

/// One key of the configuration file, as [`config_keys`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    /// Dotted, arrays of tables without positions: `s3.endpoint`, `exports.s3.region`.
    pub path: String,
    /// A table (`[s3]`) or an array of tables (`[[exports]]`), whose keys are listed too; else a
    /// value (free-form maps such as `tags.rename` are values).
    pub table: bool,
}

/// Every key of the configuration file, read from the raw structs: serde hands each struct's
/// field names to the deserializer, so a deserializer that answers every request with a
/// placeholder and records the names walks the whole tree (tables, arrays of tables, options).
/// A field added to a raw struct is a key here, and so in "did you mean", at once.
pub fn config_keys() -> &'static [ConfigKey] {
    static KEYS: LazyLock<Vec<ConfigKey>> = LazyLock::new(|| {
        let mut keys = Vec::new();
        RawConfig::deserialize(keys::Tracer {
            path: String::new(),
            keys: &mut keys,
        })
        .expect("tracing the raw configuration's keys");
        keys
    });
    &KEYS
}

/// The deserializer behind [`config_keys`].
mod keys {
    use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

    use super::ConfigKey;

    #[derive(Debug)]
    pub struct Stop(String);

    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Stop {}

    impl de::Error for Stop {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            Stop(msg.to_string())
        }
    }

    /// Deserializes the value at `path`, recording the keys of the structs it meets.
    pub struct Tracer<'k> {
        pub path: String,
        pub keys: &'k mut Vec<ConfigKey>,
    }

    macro_rules! leaf {
        ($($method:ident => $visit:ident($value:expr)),* $(,)?) => {
            $(fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
                v.$visit($value)
            })*
        };
    }

    impl<'de> de::Deserializer<'de> for Tracer<'_> {
        type Error = Stop;

        // A value of no declared type (untagged enums, durations): a string satisfies them all.
        leaf! {
            deserialize_any => visit_str("1"),
            deserialize_bool => visit_bool(false),
            deserialize_i8 => visit_i64(0), deserialize_i16 => visit_i64(0),
            deserialize_i32 => visit_i64(0), deserialize_i64 => visit_i64(0),
            deserialize_u8 => visit_u64(0), deserialize_u16 => visit_u64(0),
            deserialize_u32 => visit_u64(0), deserialize_u64 => visit_u64(0),
            deserialize_f32 => visit_f64(0.0), deserialize_f64 => visit_f64(0.0),
            deserialize_char => visit_char('x'),
            deserialize_str => visit_str(""), deserialize_string => visit_str(""),
            deserialize_bytes => visit_bytes(&[]), deserialize_byte_buf => visit_bytes(&[]),
            deserialize_identifier => visit_str(""),
        }

        fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
            v.visit_unit()
        }

        fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
            v.visit_unit()
        }

        fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
            v.visit_some(self)
        }

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            v: V,
        ) -> Result<V::Value, Stop> {
            v.visit_unit()
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            v: V,
        ) -> Result<V::Value, Stop> {
            v.visit_newtype_struct(self)
        }

        /// An array: one element, at the same path (`exports.name`, not `exports.0.name`).
        fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
            v.visit_seq(One(Some(self)))
        }

        fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Stop> {
            self.deserialize_seq(v)
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: usize,
            v: V,
        ) -> Result<V::Value, Stop> {
            self.deserialize_seq(v)
        }

        /// A free-form map (`tags.rename`): its keys are the user's, none to record.
        fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
            v.visit_map(de::value::MapDeserializer::new(std::iter::empty::<(
                String,
                String,
            )>()))
        }

        /// A table: its fields are keys.
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            v: V,
        ) -> Result<V::Value, Stop> {
            if let Some(k) = self.keys.iter_mut().find(|k| k.path == self.path) {
                k.table = true;
            }
            v.visit_map(Fields {
                prefix: self.path,
                fields: fields.iter(),
                current: None,
                keys: self.keys,
            })
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            Err(Stop(format!(
                "{}: tagged enum {name} has no key list; use an untagged one",
                self.path
            )))
        }
    }

    struct One<'k>(Option<Tracer<'k>>);

    impl<'de> de::SeqAccess<'de> for One<'_> {
        type Error = Stop;
        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Stop> {
            self.0.take().map(|t| seed.deserialize(t)).transpose()
        }
    }

    struct Fields<'k> {
        prefix: String,
        fields: std::slice::Iter<'static, &'static str>,
        current: Option<String>,
        keys: &'k mut Vec<ConfigKey>,
    }

    impl<'de> de::MapAccess<'de> for Fields<'_> {
        type Error = Stop;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Stop> {
            let Some(field) = self.fields.next() else {
                return Ok(None);
            };
            let path = if self.prefix.is_empty() {
                field.to_string()
            } else {
                format!("{}.{field}", self.prefix)
            };
            if !self.keys.iter().any(|k| k.path == path) {
                self.keys.push(ConfigKey {
                    path: path.clone(),
                    table: false,
                });
            }
            self.current = Some(path);
            seed.deserialize(field.into_deserializer()).map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
            let path = self.current.take().unwrap_or_default();
            seed.deserialize(Tracer {
                path,
                keys: &mut *self.keys,
            })
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
    /// An error of a value with where it was set: the file, `environment variable BCE_…`, or
    /// `flag --…` (see [`load`]).
    #[error("{place}: {error}")]
    At {
        place: String,
        error: Box<ConfigError>,
    },
    /// Every problem of one configuration, reported at once.
    #[error("{} problems:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// The key whose value is wrong (`s3.concurrency`, `budgets`), to find where it was set.
    fn key_path(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Budget { .. } => Some("budgets"),
            ConfigError::Export { key, .. } => Some(key.split('[').next().unwrap_or(key)),
            _ => None,
        }
    }

    /// Each error on its own (a [`ConfigError::Several`] unpacked).
    pub fn each(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several(v) => v.iter().collect(),
            one => vec![one],
        }
    }
}

/// Errors found so far: `check` looks at every key and reports every problem at once.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    /// The value, or `fallback` (never used: the check fails) with the error kept.
    fn take<T>(&mut self, r: Result<T, ConfigError>, fallback: T) -> T {
        r.unwrap_or_else(|e| {
            self.0.push(e);
            fallback
        })
    }

    fn invalid(&mut self, key: &'static str, message: String) {
        self.0.push(ConfigError::Invalid { key, message });
    }

    fn finish(mut self) -> Result<(), ConfigError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(self.0.remove(0)),
            _ => Err(ConfigError::Several(self.0)),
        }
    }
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

/// The flag that sets each key of [`Overrides`], for messages.
const FLAGS: &[(&str, &str)] = &[
    ("source", "--source"),
    ("listen", "--listen"),
    ("s3.endpoint", "--s3-endpoint"),
    ("s3.path_style", "--s3-path-style"),
    ("otlp.endpoint", "--otlp-endpoint"),
    ("otlp.protocol", "--otlp-protocol"),
];

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

/// Reads defaults, then the TOML file (if given), then `BCE_*` variables, then `overrides`, and
/// checks the result. Each error says where the wrong value was set.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    load_inner(file, overrides, true)
}

/// [`load`] for what never reads an export (`healthcheck`, which needs `listen` only): with no
/// export configured it loads anyway, naming none, instead of [`ConfigError::NoSource`]; every
/// other key is checked as [`load`] checks it.
pub fn load_without_source(
    file: Option<&Path>,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    load_inner(file, overrides, false)
}

fn load_inner(
    file: Option<&Path>,
    overrides: &Overrides,
    require_source: bool,
) -> Result<Config, ConfigError> {
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
    if !require_source && raw.source.is_none() && raw.sources.is_empty() && raw.exports.is_empty() {
        let mut c = check(RawConfig {
            source: Some(".".into()),
            ..raw
        })
        .map_err(|e| locate(e, &fig))?;
        c.exports.clear();
        return Ok(c);
    }
    check(raw).map_err(|e| locate(e, &fig))
}

/// Only `listen`, as [`load`] reads it (defaults, the file, `BCE_LISTEN`, then `listen` from a
/// flag), checked: what a probe of a running exporter needs, whatever else the configuration holds
/// (it needs no source).
pub fn load_listen(file: Option<&Path>, listen: Option<String>) -> Result<SocketAddr, ConfigError> {
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
    let overrides = Overrides {
        listen,
        ..Overrides::default()
    };
    fig = fig
        .merge(Env::prefixed(ENV_PREFIX).split("__"))
        .merge(Serialized::defaults(&overrides));
    let written: String = fig
        .extract_inner("listen")
        .map_err(|e| ConfigError::Figment(Box::new(e)))?;
    parse_listen(&written)
        .map_err(|message| ConfigError::Invalid {
            key: "listen",
            message,
        })
        .map_err(|e| locate(e, &fig))
}

/// Wraps each error of `e` with where its key's value was set ([`ConfigError::At`]).
fn locate(e: ConfigError, fig: &Figment) -> ConfigError {
    match e {
        ConfigError::Several(v) => {
            ConfigError::Several(v.into_iter().map(|e| locate(e, fig)).collect())
        }
        e => match e.key_path().and_then(|k| origin(fig, k)) {
            Some(place) => ConfigError::At {
                place,
                error: Box::new(e),
            },
            None => e,
        },
    }
}

/// Where the value of `key` (dotted) came from, in the user's terms: the file's path,
/// `environment variable BCE_…` (as it is spelt in the environment), `flag --…`; `None` for a
/// default.
fn origin(fig: &Figment, key: &str) -> Option<String> {
    let md = fig.find_metadata(key)?;
    if md.name.contains("environment") {
        return Some(format!("environment variable {}", env_var_of(key)));
    }
    if let Some(figment::Source::File(path)) = &md.source {
        return Some(path.display().to_string());
    }
    if md.name.contains("Overrides") {
        let flag = FLAGS.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)?;
        return Some(format!("flag {flag}"));
    }
    None
}

/// The environment variable that sets `key` (`s3.concurrency` → `BCE_S3__CONCURRENCY`), as spelt
/// in the environment when one is set (figment matches names in any case).
fn env_var_of(key: &str) -> String {
    let canonical = format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    );
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .find(|k| k.eq_ignore_ascii_case(&canonical))
        .unwrap_or(canonical)
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
                ("the environment".to_string(), env_var_of(&key))
            }
            Some(m) if m.name.contains("Overrides") => {
                let flag = FLAGS.iter().find(|(k, _)| *k == key).map(|(_, f)| *f);
                (
                    format!("the flag {}", flag.unwrap_or("(a flag)")),
                    key.clone(),
                )
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
                let siblings: Vec<&str> = config_keys()
                    .iter()
                    .map(|k| k.path.as_str())
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
                if written != key {
                    // From the environment: the variable is what the user wrote.
                    format!("unknown key `{full}` (environment variable {written}){hint}")
                } else {
                    format!("unknown key `{full}`{at}{hint}")
                }
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

/// The effective settings as TOML a user can paste into a configuration file: the checked
/// configuration turned back into a [`RawConfig`] ([`raw_of`]) and serialised, so it loads back to
/// the same configuration. OTLP header values are left out (they often carry tokens): a comment
/// names the headers.
pub fn effective_toml(c: &Config) -> String {
    let raw = raw_of(c);
    let mut text = toml::to_string(&raw).unwrap_or_else(|e| format!("# cannot print: {e}\n"));
    if let Some(o) = &c.otlp
        && !o.headers.is_empty()
    {
        let names: Vec<&str> = o.headers.keys().map(String::as_str).collect();
        let note = format!(
            "# otlp.headers: {} (values not printed: they may hold secrets; set them again)\n",
            names.join(", ")
        );
        match text.find("[otlp]\n") {
            Some(at) => text.insert_str(at + "[otlp]\n".len(), &note),
            None => text.push_str(&note),
        }
    }
    text
}

/// The raw configuration that checks to `c` (OTLP header values left out). Every field is
/// written out: a field added to [`RawConfig`] does not compile here until it is printed.
pub fn raw_of(c: &Config) -> RawConfig {
    let single = match c.exports.as_slice() {
        [one] if one.name == one.source.to_string() && one.s3 == c.s3 => Some(one),
        _ => None,
    };
    let exports = match single {
        Some(_) => Vec::new(),
        None => c
            .exports
            .iter()
            .map(|e| RawExport {
                name: Some(e.name.clone()),
                source: e.source.to_string(),
                s3: raw_s3_over(&e.s3, &c.s3),
            })
            .collect(),
    };
    let (f, sp) = (&c.budgets.forecast, &c.budgets.spikes);
    RawConfig {
        source: single.map(|one| one.source.to_string()),
        sources: Vec::new(),
        listen: c.listen.to_string(),
        refresh_interval: c.refresh_interval.into(),
        periods: match &c.periods {
            PeriodSelection::Newest(n) => RawPeriods::Newest(*n),
            PeriodSelection::All => RawPeriods::Word("all".into()),
            PeriodSelection::Explicit(set) => RawPeriods::List(set.iter().cloned().collect()),
        },
        max_series: c.max_series,
        fold_sessions: c.aggregate.fold_sessions,
        log_format: match c.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .into(),
        header_read_timeout: c.header_read_timeout.into(),
        max_connections: c.max_connections,
        now: c
            .now_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|now| now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        tags: RawTags {
            sources: c.aggregate.tags.sources.iter().cloned().collect(),
            allow: c.aggregate.tags.allow.iter().cloned().collect(),
            rename: c.aggregate.tags.rename.clone(),
        },
        models: RawModels {
            rename: c.aggregate.model_rename.clone(),
        },
        s3: RawS3 {
            path_style: Some(c.s3.path_style),
            concurrency: Some(c.s3.concurrency),
            request_timeout: Some(c.s3.request_timeout.into()),
            stall_timeout: Some(c.s3.stall_timeout.into()),
            max_attempts: Some(c.s3.max_attempts),
            ..raw_s3_over(&c.s3, &S3Settings::default())
        },
        exports,
        otlp: c.otlp.as_ref().map_or_else(RawOtlp::default, raw_otlp),
        forecast: RawForecast {
            settle_days: f.settle_days,
            window_days: f.window_days,
        },
        spikes: RawSpikes {
            settle_days: sp.settle_days,
            baseline_days: sp.baseline_days,
            top_principals: sp.top_principals,
        },
        budgets: c
            .budgets
            .budgets
            .iter()
            .map(|b| RawBudget {
                name: b.name.clone(),
                owner: b.owner.clone(),
                selector: b.selector.as_str().to_string(),
                monthly: b.monthly,
                cost: Some(b.cost.as_str().to_string()),
                currency: Some(b.currency.clone()),
                labels: b.labels.iter().cloned().collect(),
            })
            .collect(),
    }
}

/// The access keys of `s3` as written over `base` (an export's over the top-level `[s3]`, the
/// top-level's over none): what differs, `""` where `s3` unsets a key `base` sets. The daemon-wide
/// keys are `base`'s.
fn raw_s3_over(s3: &S3Settings, base: &S3Settings) -> RawS3 {
    let over = |mine: &Option<String>, theirs: &Option<String>| match (mine, theirs) {
        (mine, theirs) if mine == theirs => None,
        (Some(v), _) => Some(v.clone()),
        (None, Some(_)) => Some(String::new()),
        (None, None) => None,
    };
    RawS3 {
        endpoint: over(&s3.endpoint, &base.endpoint),
        path_style: (s3.path_style != base.path_style).then_some(s3.path_style),
        region: over(&s3.region, &base.region),
        concurrency: None,
        request_timeout: None,
        stall_timeout: None,
        max_attempts: None,
        profile: over(&s3.profile, &base.profile),
        role_arn: over(&s3.role_arn, &base.role_arn),
        external_id: over(&s3.external_id, &base.external_id),
        role_session_name: over(&s3.role_session_name, &base.role_session_name),
        sts_endpoint: over(&s3.sts_endpoint, &base.sts_endpoint),
    }
}

/// `[otlp]` as written for checked settings, header values left out.
fn raw_otlp(o: &OtlpSettings) -> RawOtlp {
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    RawOtlp {
        enabled: true,
        endpoint: o.endpoint.clone(),
        protocol: Some(o.protocol.to_string()),
        headers: BTreeMap::new(),
        timeout: o.timeout.map(RawDuration::from),
        compression: o.compression.map(|c| {
            match c {
                OtlpCompression::Gzip => "gzip",
                OtlpCompression::None => "none",
            }
            .to_string()
        }),
        interval: o.interval.into(),
        ca_file: path(&o.ca_file),
        client_cert: path(&o.client_cert),
        client_key: path(&o.client_key),
        resource_attributes: o.resource_attributes.clone(),
        attributes: match o.attributes {
            AttributeMode::Prometheus => "prometheus",
            AttributeMode::Semconv => "semconv",
        }
        .to_string(),
        max_attempts: o.max_attempts,
    }
}

/// A duration exactly, in the largest unit that divides it (`1h`, `90s`, `2500000ns`), so that it
/// parses back to the same value.
pub fn format_duration(d: Duration) -> String {
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}ns", d.as_nanos());
    }
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    for (unit, secs) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s != 0 && s.is_multiple_of(secs) {
            return format!("{}{unit}", s / secs);
        }
    }
    format!("{s}s")
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

/// A duration key checked: parsed, and between `min` and [`MAX_DURATION`]; `words` says the range
/// and examples as users write them.
fn duration_key(
    key: &'static str,
    written: &RawDuration,
    min: Duration,
    words: &str,
) -> Result<Duration, ConfigError> {
    parse_duration(&written.0)
        .filter(|d| *d >= min && *d <= MAX_DURATION)
        .ok_or_else(|| ConfigError::Invalid {
            key,
            message: format!("{:?} is not a duration {words}", written.0),
        })
}

/// Checks a raw configuration: every key, every problem reported at once.
pub fn check(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut p = Problems::default();
    let invalid = |key: &'static str, message: String| ConfigError::Invalid { key, message };
    let listen = p.take(
        parse_listen(&raw.listen).map_err(|m| invalid("listen", m)),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    );
    let refresh_interval = p.take(
        duration_key(
            "refresh_interval",
            &raw.refresh_interval,
            Duration::from_secs(1),
            "between 1s and 365d (examples: 15m, 1h, 3600)",
        ),
        defaults::REFRESH_INTERVAL,
    );
    let periods = p.take(check_periods(raw.periods), PeriodSelection::All);
    if raw.max_series < 10 {
        p.invalid(
            "max_series",
            format!(
                "{} is too small; use at least 10 (default {})",
                raw.max_series,
                defaults::MAX_SERIES
            ),
        );
    }
    for (key, label) in &raw.tags.rename {
        if !is_label_name(label)
            || SERIES_LABELS.contains(&label.as_str())
            || label == crate::names::PRICING_UNIT_LABEL
        {
            p.invalid(
                "tags.rename",
                format!(
                    "{key:?} = {label:?}: not a free Prometheus label name (letters, digits, _; not starting with __; not one of the fixed labels)"
                ),
            );
        }
    }
    for (from, to) in &raw.models.rename {
        if from.trim().is_empty() || to.trim().is_empty() {
            p.invalid(
                "models.rename",
                format!("{from:?} = {to:?}: model names must not be empty"),
            );
        }
    }
    for source in &raw.tags.sources {
        if !TAG_SOURCES.contains(&source.as_str()) {
            p.invalid(
                "tags.sources",
                format!(
                    "{source:?} is not a tag source; the tags map has {}{}",
                    TAG_SOURCES.join(", "),
                    suggestion(source, TAG_SOURCES)
                ),
            );
        }
    }
    for key in &raw.tags.allow {
        if !key.contains('/') {
            p.invalid(
                "tags.allow",
                format!("{key:?} is not a full tag key like \"iamPrincipal/team\""),
            );
        }
    }
    let defaults_s3 = S3Settings::default();
    let concurrency = raw.s3.concurrency.unwrap_or(defaults_s3.concurrency);
    if concurrency == 0 || concurrency > 256 {
        p.invalid(
            "s3.concurrency",
            format!("{concurrency} is outside 1..=256"),
        );
    }
    let max_attempts = raw.s3.max_attempts.unwrap_or(defaults_s3.max_attempts);
    if max_attempts == 0 || max_attempts > 20 {
        p.invalid(
            "s3.max_attempts",
            format!("{max_attempts} is outside 1..=20"),
        );
    }
    let request_timeout = match &raw.s3.request_timeout {
        None => defaults_s3.request_timeout,
        Some(w) => p.take(
            duration_key(
                "s3.request_timeout",
                w,
                Duration::from_millis(100),
                "of at least 100ms (examples: 30s, 2m)",
            ),
            defaults_s3.request_timeout,
        ),
    };
    let stall_timeout = match &raw.s3.stall_timeout {
        None => defaults_s3.stall_timeout,
        Some(w) => p.take(
            duration_key(
                "s3.stall_timeout",
                w,
                Duration::from_secs(1),
                "of at least 1s (examples: 20s, 1m)",
            ),
            defaults_s3.stall_timeout,
        ),
    };
    let mut s3 = S3Settings {
        concurrency,
        request_timeout,
        stall_timeout,
        max_attempts,
        ..defaults_s3
    };
    for (key, message) in apply_access(&mut s3, &raw.s3) {
        p.0.push(ConfigError::Invalid {
            key: match key {
                "endpoint" => "s3.endpoint",
                "sts_endpoint" => "s3.sts_endpoint",
                "role_arn" => "s3.role_arn",
                "role_session_name" => "s3.role_session_name",
                _ => "s3",
            },
            message,
        });
    }
    let exports = check_exports(&raw.source, &raw.sources, &raw.exports, &s3, &mut p);
    let log_format = match raw.log_format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            p.invalid(
                "log_format",
                format!("{other:?} is neither \"text\" nor \"json\""),
            );
            LogFormat::Text
        }
    };
    let header_read_timeout = p.take(
        duration_key(
            "header_read_timeout",
            &raw.header_read_timeout,
            Duration::from_millis(1),
            "between 1ms and 365d (examples: 10s, 500ms)",
        ),
        defaults::HEADER_READ_TIMEOUT,
    );
    let budgets = check_budgets(&raw.budgets, &mut p);
    if raw.forecast.window_days == 0 || raw.forecast.window_days > 62 {
        p.invalid(
            "forecast.window_days",
            format!("{} is outside 1..=62", raw.forecast.window_days),
        );
    }
    for (key, days) in [
        ("forecast.settle_days", raw.forecast.settle_days),
        ("spikes.settle_days", raw.spikes.settle_days),
    ] {
        if days > 14 {
            p.invalid(key, format!("{days} is more than 14"));
        }
    }
    if raw.spikes.baseline_days == 0 || raw.spikes.baseline_days > 62 {
        p.invalid(
            "spikes.baseline_days",
            format!("{} is outside 1..=62", raw.spikes.baseline_days),
        );
    }
    let now_ms = match raw.now.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.timestamp_millis()),
            Err(e) => {
                p.invalid(
                    "now",
                    format!("{s:?} is not an RFC 3339 time like 2026-11-15T12:00:00Z ({e})"),
                );
                None
            }
        },
    };
    if raw.max_connections == 0 || raw.max_connections > 1_000_000 {
        p.invalid(
            "max_connections",
            format!(
                "{} is outside 1..=1000000 (default {})",
                raw.max_connections,
                defaults::MAX_CONNECTIONS
            ),
        );
    }
    let otlp = check_otlp(raw.otlp, &mut p);
    p.finish()?;
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

/// Checks `periods`.
fn check_periods(raw: RawPeriods) -> Result<PeriodSelection, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: "periods",
        message,
    };
    match raw {
        RawPeriods::Newest(0) => Err(invalid("must be at least 1".into())),
        RawPeriods::Newest(n) => Ok(PeriodSelection::Newest(n)),
        RawPeriods::Word(w) if w == "all" => Ok(PeriodSelection::All),
        RawPeriods::Word(w) => match w.parse::<usize>() {
            Ok(n) if n > 0 => Ok(PeriodSelection::Newest(n)),
            _ => Err(invalid(format!(
                "{w:?} is neither a number of newest periods, \"all\", nor a list of \"YYYY-MM\""
            ))),
        },
        RawPeriods::List(list) => {
            let bad: Vec<String> = list
                .iter()
                .filter(|p| {
                    !(p.len() == 7
                        && p.as_bytes()[4] == b'-'
                        && p.bytes()
                            .enumerate()
                            .all(|(i, c)| i == 4 || c.is_ascii_digit())
                        && matches!(p[5..].parse::<u32>(), Ok(1..=12)))
                })
                .map(|p| format!("{p:?}"))
                .collect();
            if bad.is_empty() {
                Ok(PeriodSelection::Explicit(list.into_iter().collect()))
            } else {
                Err(invalid(format!(
                    "{} is not a billing period like \"2026-11\"",
                    bad.join(", ")
                )))
            }
        }
    }
}

/// Applies written S3 access keys over `s3`; every problem as `(key, message)`.
fn apply_access(s3: &mut S3Settings, a: &RawS3) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let set = |v: &Option<String>| v.as_ref().map(|v| v.trim().to_string());
    for (written, key, field) in [
        (&a.endpoint, "endpoint", &mut s3.endpoint),
        (&a.sts_endpoint, "sts_endpoint", &mut s3.sts_endpoint),
    ] {
        if let Some(e) = set(written) {
            if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
                problems.push((key, format!("{e:?} is not an http:// or https:// URL")));
                continue;
            }
            *field = Some(e).filter(|e| !e.is_empty());
        }
    }
    if let Some(p) = a.path_style {
        s3.path_style = p;
    }
    for (written, field) in [
        (&a.region, &mut s3.region),
        (&a.profile, &mut s3.profile),
        (&a.role_arn, &mut s3.role_arn),
        (&a.external_id, &mut s3.external_id),
        (&a.role_session_name, &mut s3.role_session_name),
    ] {
        if let Some(v) = set(written) {
            *field = Some(v).filter(|v| !v.is_empty());
        }
    }
    if let Some(r) = &s3.role_arn
        && !(r.starts_with("arn:") && r.contains(":role/"))
    {
        problems.push((
            "role_arn",
            format!(
                "{r:?} is not a role ARN like arn:aws:iam::111122223333:role/BedrockCostReader"
            ),
        ));
    }
    if s3.role_arn.is_none() && (s3.external_id.is_some() || s3.role_session_name.is_some()) {
        problems.push((
            "role_arn",
            "is not set, but external_id or role_session_name is: they belong to a role to assume"
                .into(),
        ));
    }
    if let Some(n) = &s3.role_session_name {
        if !(2..=64).contains(&n.len()) {
            problems.push((
                "role_session_name",
                format!("{n:?} is not 2 to 64 characters (letters, digits and =,.@_-)"),
            ));
        } else if !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "=,.@_-+".contains(c))
        {
            problems.push((
                "role_session_name",
                format!("{n:?} has characters STS refuses (allowed: letters, digits and =,.@_-+)"),
            ));
        }
    }
    problems
}

/// The exports to read: `source` (one), or `sources` and `[[exports]]` (several, in that order).
/// Errors name the entry (`exports[1]`, `sources[0]`).
fn check_exports(
    source: &Option<String>,
    sources: &[String],
    exports: &[RawExport],
    global: &S3Settings,
    p: &mut Problems,
) -> Vec<ExportConfig> {
    let listed = !sources.is_empty() || !exports.is_empty();
    if let (Some(one), true) = (source, listed) {
        p.0.push(ConfigError::Export {
            key: "source".into(),
            name: one.clone(),
            message: "is set, and so is `sources` or `[[exports]]`: list every export in `sources`/`[[exports]]` and drop `source` (or keep only `source` for one export)".into(),
        });
        return Vec::new();
    }
    let mut entries: Vec<(String, Option<String>, String, RawS3)> = Vec::new();
    if !listed {
        let Some(source) = source.clone() else {
            p.0.push(ConfigError::NoSource);
            return Vec::new();
        };
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
        let mut errors = Vec::new();
        let spec = SourceSpec::parse(&source).map_err(|m| errors.push(format!("`source` {m}")));
        let name = match (name, &spec) {
            (Some(n), _) if n.trim().is_empty() => {
                errors.push("`name` is empty".into());
                None
            }
            (Some(n), _) => Some(n.trim().to_string()),
            (None, Ok(spec)) => Some(spec.to_string()),
            (None, Err(())) => None,
        };
        if let Some(name) = &name
            && let Some(o) = out.iter().find(|o| o.name == *name)
        {
            errors.push(format!(
                "the name {name:?} is already used by the export of {}; give each export its own `name`",
                o.source
            ));
        }
        if let Ok(spec) = &spec
            && let Some(o) = out.iter().find(|o| o.source == *spec)
        {
            errors.push(format!(
                "{spec} is already listed (export {:?}); reading it twice would count its cost twice",
                o.name
            ));
        }
        for k in access.daemon_keys() {
            errors.push(format!(
                "`s3.{k}` is the daemon's, not an export's: set it in the top-level [s3] table"
            ));
        }
        let mut s3 = global.clone();
        for (k, m) in apply_access(&mut s3, &access) {
            errors.push(format!("`s3.{k}` {m}"));
        }
        if errors.is_empty()
            && let (Some(name), Ok(source)) = (name, spec)
        {
            out.push(ExportConfig { name, source, s3 });
        }
        for message in errors {
            p.0.push(ConfigError::Export {
                key: key.clone(),
                name: shown.clone(),
                message,
            });
        }
    }
    out
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
fn check_budgets(raw: &[RawBudget], p: &mut Problems) -> Vec<Budget> {
    let mut out: Vec<Budget> = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let mut errors: Vec<String> = Vec::new();
        if b.name.trim().is_empty() {
            errors.push("`name` is empty".into());
        } else if out.iter().any(|o| o.name == b.name) {
            errors.push(format!(
                "`name` {:?} is used by an earlier budget; budget names must be unique",
                b.name
            ));
        }
        if b.owner.trim().is_empty() {
            errors.push(
                "`owner` is empty; Alertmanager routes on it (a team or on-call name)".into(),
            );
        }
        if !(b.monthly.is_finite() && b.monthly > 0.0) {
            errors.push(format!(
                "`monthly` = {} is not a positive amount",
                b.monthly
            ));
        }
        let selector = Selector::parse(&b.selector)
            .map_err(|e| errors.push(format!("`selector` {e}")))
            .ok();
        let cost = match b.cost.as_deref().unwrap_or(defaults::budget::COST) {
            "unblended" => CostKind::Unblended,
            "net" => CostKind::Net,
            other => {
                errors.push(format!(
                    "`cost` = {other:?} is neither \"unblended\" nor \"net\""
                ));
                CostKind::Unblended
            }
        };
        let currency = b
            .currency
            .as_deref()
            .unwrap_or(defaults::budget::CURRENCY)
            .trim()
            .to_ascii_uppercase();
        if let Err(e) = crate::currency::check_code(&currency) {
            errors.push(format!("`currency` = {e}"));
        }
        for name in b.labels.keys() {
            if !is_label_name(name)
                || BUDGET_RESERVED_LABELS.contains(&name.as_str())
                || SERIES_LABELS.contains(&name.as_str())
            {
                errors.push(format!(
                    "`labels` key {name:?} is not a free Prometheus label name (letters, digits, _; not starting with __; not one of {})",
                    BUDGET_RESERVED_LABELS.join(", ")
                ));
            }
        }
        for message in &errors {
            p.0.push(ConfigError::Budget {
                index: i,
                name: b.name.clone(),
                message: message.clone(),
            });
        }
        if let (true, Some(selector)) = (errors.is_empty(), selector) {
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
    }
    out
}

/// Checks `[otlp]`; `None` when the push is off (or on error).
fn check_otlp(raw: RawOtlp, p: &mut Problems) -> Option<OtlpSettings> {
    let endpoint = raw.endpoint.filter(|e| !e.trim().is_empty());
    if !raw.enabled && endpoint.is_none() {
        return None;
    }
    let before = p.0.len();
    if let Some(e) = endpoint
        .as_ref()
        .filter(|e| !(e.starts_with("http://") || e.starts_with("https://")))
    {
        p.invalid(
            "otlp.endpoint",
            format!("{e:?} is not an http:// or https:// URL (e.g. http://127.0.0.1:4317)"),
        );
    }
    let protocol = match raw.protocol.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(proto) => OtlpProtocol::parse(proto).unwrap_or_else(|| {
            p.invalid(
                "otlp.protocol",
                format!("{proto:?} is neither \"grpc\" nor \"http\" (http/protobuf)"),
            );
            OtlpProtocol::HttpProtobuf
        }),
        None => crate::metrics::otlp::protocol_from_env().unwrap_or_else(|m| {
            p.invalid("otlp.protocol", m);
            OtlpProtocol::HttpProtobuf
        }),
    };
    let compression = raw.compression.as_deref().and_then(|c| {
        let parsed = OtlpCompression::parse(c);
        if parsed.is_none() {
            p.invalid(
                "otlp.compression",
                format!("{c:?} is neither \"gzip\" nor \"none\""),
            );
        }
        parsed
    });
    let timeout = raw.timeout.as_ref().map(|t| {
        p.take(
            duration_key(
                "otlp.timeout",
                t,
                Duration::from_millis(100),
                "of at least 100ms (examples: 10s, 1m)",
            ),
            defaults::otlp::TIMEOUT,
        )
    });
    let interval = p.take(
        duration_key(
            "otlp.interval",
            &raw.interval,
            Duration::from_secs(1),
            "between 1s and 365d (examples: 30s, 1m)",
        ),
        defaults::otlp::INTERVAL,
    );
    let attributes = match raw.attributes.as_str() {
        "prometheus" => AttributeMode::Prometheus,
        "semconv" => AttributeMode::Semconv,
        other => {
            p.invalid(
                "otlp.attributes",
                format!("{other:?} is neither \"prometheus\" nor \"semconv\""),
            );
            AttributeMode::Prometheus
        }
    };
    if raw.max_attempts == 0 || raw.max_attempts > 20 {
        p.invalid(
            "otlp.max_attempts",
            format!("{} is outside 1..=20", raw.max_attempts),
        );
    }
    if raw.client_cert.is_some() != raw.client_key.is_some() {
        p.invalid(
            "otlp.client_cert",
            "and otlp.client_key go together: mTLS needs both the certificate and its key".into(),
        );
    }
    for (k, v) in &raw.headers {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            p.invalid("otlp.headers", format!("{k:?} is not a header name"));
        }
        if v.bytes().any(|b| b.is_ascii_control()) {
            p.invalid(
                "otlp.headers",
                format!("the value of {k:?} has control characters"),
            );
        }
    }
    if p.0.len() > before {
        return None;
    }
    let path = |p: Option<String>| p.filter(|p| !p.is_empty()).map(PathBuf::from);
    Some(OtlpSettings {
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
    })
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
        // It names no source (a copy must not start on an example bucket): given one, it loads.
        let with_source = Overrides {
            source: Some("s3://my-billing-bucket/cur/my-export".into()),
            ..Overrides::default()
        };
        load(Some(&path), &with_source).unwrap();
        // Without one, what needs no export loads it (cargo's fallback source may name one here;
        // tests/it/sample.rs runs `healthcheck` with none at all).
        load_without_source(Some(&path), &Overrides::default()).unwrap();
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
                refresh_interval: RawDuration(v.into()),
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
mod friendly_tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, format!("source = \"s3://b/p\"\n{text}")).unwrap();
        load(Some(&f), &Overrides::default())
    }

    /// Every duration key takes a whole number of seconds as the docs say ("or seconds"), and
    /// a string.
    #[test]
    fn every_duration_key_takes_seconds_and_strings() {
        let c = load_text(
            "refresh_interval = 90\nheader_read_timeout = 3\n[s3]\nrequest_timeout = 7\nstall_timeout = 9\n[otlp]\nenabled = true\ntimeout = 4\ninterval = 120\n",
        )
        .unwrap();
        let o = c.otlp.as_ref().unwrap();
        let secs = Duration::from_secs;
        assert_eq!(
            (
                c.refresh_interval,
                c.header_read_timeout,
                c.s3.request_timeout,
                c.s3.stall_timeout,
                o.timeout,
                o.interval
            ),
            (
                secs(90),
                secs(3),
                secs(7),
                secs(9),
                Some(secs(4)),
                secs(120)
            )
        );
        let c = load_text("refresh_interval = \"90\"\nheader_read_timeout = \"1m 30s\"\n").unwrap();
        assert_eq!(
            (c.refresh_interval, c.header_read_timeout),
            (secs(90), secs(90))
        );
        let e = load_text("refresh_interval = true\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("refresh_interval") && e.contains("seconds"),
            "{e}"
        );
        let e = load_text("refresh_interval = -5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("refresh_interval") && e.contains("-5"), "{e}");
    }

    /// Every invalid key/value of a file is reported at once, each naming its key and the file.
    #[test]
    fn every_error_of_a_file_at_once() {
        let e = load_text(
            "max_series = 5\nrefresh_interval = \"soon\"\nlog_format = \"xml\"\nperiods = 0\n[s3]\nconcurrency = 0\n[forecast]\nwindow_days = 0\n[[budgets]]\nname = \"\"\nowner = \"\"\nmonthly = -1.0\n",
        )
        .unwrap_err()
        .to_string();
        for key in [
            "max_series",
            "refresh_interval",
            "log_format",
            "periods",
            "s3.concurrency",
            "forecast.window_days",
            "budgets[0]",
            "`name`",
            "`owner`",
            "`monthly`",
        ] {
            assert!(e.contains(key), "{key} missing from\n{e}");
        }
        assert!(e.contains("c.toml"), "{e}");
        assert!(e.lines().count() >= 10, "{e}");
    }

    /// The key list behind "did you mean" comes from the raw structs: every field, nested tables
    /// and arrays of tables included.
    #[test]
    fn keys_come_from_the_raw_structs() {
        let keys: Vec<&str> = config_keys().iter().map(|k| k.path.as_str()).collect();
        for k in [
            "source",
            "exports.s3.sts_endpoint",
            "budgets.labels",
            "otlp.resource_attributes",
            "spikes.top_principals",
            "tags.rename",
        ] {
            assert!(keys.contains(&k), "{k} not in {keys:?}");
        }
        let table = |p: &str| config_keys().iter().any(|k| k.path == p && k.table);
        assert!(table("s3") && table("exports") && table("exports.s3") && !table("tags.rename"));
    }

    /// What the config fuzz target asserts, over its seed corpus and the example file: a text that
    /// loads prints as TOML that loads back to the same configuration (header values aside).
    #[test]
    fn the_fuzz_seeds_print_and_load_back() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts: Vec<String> = std::fs::read_dir(root.join("fuzz/corpus/config"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
            .collect();
        texts
            .push(std::fs::read_to_string(root.join("config/bedrock-cost-exporter.toml")).unwrap());
        let strip = |c: Config| Config {
            otlp: c.otlp.map(|o| OtlpSettings {
                headers: BTreeMap::new(),
                ..o
            }),
            ..c
        };
        let mut loaded = 0;
        for text in texts {
            let fig = Figment::from(Serialized::defaults(RawConfig::default()))
                .merge(Toml::string(&text));
            let Ok(c) = fig
                .extract::<RawConfig>()
                .map_err(|_| ())
                .and_then(|mut r| {
                    // A text without an export (the example names none) is given one.
                    if r.source.is_none() && r.sources.is_empty() && r.exports.is_empty() {
                        r.source = Some("s3://my-billing-bucket/cur/my-export".into());
                    }
                    check(r).map_err(|_| ())
                })
            else {
                continue;
            };
            loaded += 1;
            let printed = effective_toml(&c);
            let again = Figment::from(Serialized::defaults(RawConfig::default()))
                .merge(Toml::string(&printed))
                .extract::<RawConfig>()
                .map_err(|e| e.to_string())
                .and_then(|r| check(r).map_err(|e| e.to_string()))
                .unwrap_or_else(|e| panic!("{e}\n{printed}"));
            assert_eq!(strip(again), strip(c), "{printed}");
        }
        assert!(loaded >= 3, "{loaded}");
    }

    /// The annotated example file sets every key to its default (but `source`).
    #[test]
    fn the_example_file_holds_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bedrock-cost-exporter.toml");
        let example = load(Some(&path), &Overrides::default()).unwrap();
        let overrides = Overrides {
            source: Some(example.exports[0].source.to_string()),
            ..Overrides::default()
        };
        assert_eq!(load(None, &overrides).unwrap(), example);
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
        assert!(
            printed.contains("# otlp.headers: authorization"),
            "{printed}"
        );
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
