//! The OTLP pusher: the very series of `/metrics`, pushed to an OpenTelemetry receiver.
//!
//! What is pushed is derived from the exposition itself: after each refresh the rendered
//! OpenMetrics exposition (the bytes `/metrics` serves) is read back into [`Families`], so every
//! metric the Prometheus exporter has (Bedrock, budget and self-metrics alike) is pushed with the
//! same name, the same label set (as attributes) and the same value, and nothing is listed twice.
//!
//! The OpenTelemetry SDK carries the data: one asynchronous instrument per family (an
//! `ObservableGauge` for gauges, an `ObservableCounter` for counters), whose callback observes the
//! points of the current [`Families`]; a series that leaves the snapshot leaves the push. A
//! [`ManualReader`] collects, and the OTLP exporter of `opentelemetry-otlp` sends. A push is cut
//! into requests of bounded size (see [`MAX_REQUEST_BYTES`]): the callbacks observe one slice of
//! the points per collection, so a 100k-series snapshot is accepted by a receiver with gRPC's
//! default 4 MiB message limit. Failed requests are retried with exponential backoff; a push that
//! still fails is abandoned (the next push reads the then current snapshot: memory stays bounded).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_otlp::{
    Compression, MetricExporter, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Stream, Temporality,
};
use opentelemetry_sdk::resource::EnvResourceDetector;
use tokio::sync::watch;

use super::prometheus::Describe;
use crate::names;

/// Estimated encoded size above which a push is cut into another request. gRPC receivers reject
/// messages over 4 MiB (decompressed) by default; 2 MiB leaves room for estimation error.
pub const MAX_REQUEST_BYTES: usize = 2 << 20;

/// `grpc` or `http/protobuf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The names of the OpenTelemetry specification (`OTEL_EXPORTER_OTLP_PROTOCOL`) and ours.
    pub fn parse(s: &str) -> Option<OtlpProtocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http" | "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            _ => None,
        }
    }
}

impl std::fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        })
    }
}

/// How labels become attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeMode {
    /// The Prometheus label names, unchanged (default): identical to `/metrics`.
    Prometheus,
    /// OpenTelemetry semantic conventions (generative AI, cloud) where one exists; see
    /// [`SEMCONV_ATTRIBUTES`].
    Semconv,
}

/// Label → attribute in [`AttributeMode::Semconv`]. Other labels keep their name.
pub const SEMCONV_ATTRIBUTES: [(&str, &str); 5] = [
    ("account_id", "cloud.account.id"),
    ("region", "cloud.region"),
    ("model", "gen_ai.request.model"),
    ("direction", "gen_ai.token.type"),
    ("principal", "enduser.id"),
];

/// Attributes added to every Bedrock series in [`AttributeMode::Semconv`].
pub const SEMCONV_CONSTANT_ATTRIBUTES: [(&str, &str); 2] = [
    ("gen_ai.provider.name", "aws.bedrock"),
    ("cloud.provider", "aws"),
];

/// Checked OTLP settings. Unset values fall back to the `OTEL_EXPORTER_OTLP_*` environment
/// variables (read by the OTLP exporter), then to the specification's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    /// Full URL; for HTTP a URL without a path gets `/v1/metrics`.
    pub endpoint: Option<String>,
    pub protocol: OtlpProtocol,
    /// Headers from the configuration; they override `OTEL_EXPORTER_OTLP_HEADERS`.
    pub headers: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
    /// `None`: `OTEL_EXPORTER_OTLP_(METRICS_)COMPRESSION`, else gzip.
    pub compression: Option<OtlpCompression>,
    pub interval: Duration,
    /// PEM file of CA certificates to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key (mTLS).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Resource attributes (above `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME`).
    pub resource_attributes: BTreeMap<String, String>,
    pub attributes: AttributeMode,
    /// Attempts per request (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles up to 30 s.
    pub retry_initial_backoff: Duration,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        OtlpSettings {
            endpoint: None,
            protocol: OtlpProtocol::HttpProtobuf,
            headers: BTreeMap::new(),
            timeout: None,
            compression: None,
            interval: crate::defaults::otlp::INTERVAL,
            ca_file: None,
            client_cert: None,
            client_key: None,
            resource_attributes: BTreeMap::new(),
            attributes: AttributeMode::Prometheus,
            max_attempts: crate::defaults::otlp::MAX_ATTEMPTS,
            retry_initial_backoff: crate::defaults::otlp::RETRY_INITIAL_BACKOFF,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpCompression {
    None,
    Gzip,
}

impl OtlpCompression {
    pub fn parse(s: &str) -> Option<OtlpCompression> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Some(OtlpCompression::None),
            "gzip" => Some(OtlpCompression::Gzip),
            _ => None,
        }
    }
}

/// The protocol when neither configuration nor flag names one: `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`,
/// then `OTEL_EXPORTER_OTLP_PROTOCOL`, then the specification's default `http/protobuf`.
pub fn protocol_from_env() -> Result<OtlpProtocol, String> {
    for var in [
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Ok(v) = std::env::var(var).map(|v| v.trim().to_string())
            && !v.is_empty()
        {
            return OtlpProtocol::parse(&v)
                .ok_or_else(|| format!("{var}={v:?} is not supported; use grpc or http/protobuf"));
        }
    }
    Ok(OtlpProtocol::HttpProtobuf)
}

fn compression_from_env() -> Result<OtlpCompression, String> {
    for var in [
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ] {
        if let Ok(v) = std::env::var(var).map(|v| v.trim().to_string())
            && !v.is_empty()
        {
            return OtlpCompression::parse(&v)
                .ok_or_else(|| format!("{var}={v:?} is not supported; use gzip or none"));
        }
    }
    Ok(OtlpCompression::Gzip)
}

// ---------------------------------------------------------------------------------------------
// Families: the exposition read back

/// Gauge or counter (the only types the exposition has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// One metric family: the OTLP instrument's name, description, unit and points.
#[derive(Debug, Clone)]
pub struct Family {
    /// The family name (a counter without `_total`: OTLP→Prometheus adds it back).
    pub name: String,
    pub help: String,
    /// `{USD}` for currency metrics, `{token}` for token counts, else empty: braced units are
    /// not appended to names by OTLP→Prometheus translation.
    pub unit: String,
    pub kind: Kind,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone)]
pub struct Point {
    pub attributes: Vec<KeyValue>,
    pub value: f64,
}

/// Every family of one exposition, with the points' global positions (for chunking).
#[derive(Debug, Clone, Default)]
pub struct Families {
    pub list: Vec<Family>,
    /// `offsets[i]`: global index of the first point of `list[i]`.
    offsets: Vec<usize>,
    by_name: HashMap<String, usize>,
    points: usize,
}

/// A line of the exposition that is not understood.
#[derive(Debug, thiserror::Error)]
#[error("exposition line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl Families {
    /// Number of points in all families.
    pub fn points(&self) -> usize {
        self.points
    }

    pub fn get(&self, name: &str) -> Option<&Family> {
        self.by_name.get(name).map(|i| &self.list[*i])
    }

    /// Reads a gzip-compressed OpenMetrics exposition as prometheus-client writes it.
    pub fn from_openmetrics_gz(gz: &[u8], mode: AttributeMode) -> Result<Families, ParseError> {
        let reader = std::io::BufReader::with_capacity(
            1 << 16,
            flate2::read::GzDecoder::new(std::io::Cursor::new(gz)),
        );
        Self::from_openmetrics(reader, mode)
    }

    /// Reads an OpenMetrics exposition.
    pub fn from_openmetrics(
        mut reader: impl BufRead,
        mode: AttributeMode,
    ) -> Result<Families, ParseError> {
        let mut fams = Families::default();
        let mut interner = Interner::default();
        let mut line = String::new();
        let mut n = 0usize;
        let mut help: HashMap<String, String> = HashMap::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(|e| ParseError {
                line: n + 1,
                message: format!("cannot read the exposition: {e}"),
            })?;
            if read == 0 {
                break;
            }
            n += 1;
            let l = line.trim_end_matches('\n');
            let err = |message: String| ParseError { line: n, message };
            if l.is_empty() || l == "# EOF" || l.starts_with("# UNIT ") {
                continue;
            }
            if let Some(rest) = l.strip_prefix("# HELP ") {
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                help.insert(name.to_string(), unescape_help(text));
                continue;
            }
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .rsplit_once(' ')
                    .ok_or_else(|| err("TYPE without a type".into()))?;
                let kind = match kind {
                    "gauge" | "unknown" | "info" => Kind::Gauge,
                    "counter" => Kind::Counter,
                    other => return Err(err(format!("unsupported metric type {other:?}"))),
                };
                if fams.by_name.contains_key(name) {
                    return Err(err(format!("family {name} appears twice")));
                }
                fams.by_name.insert(name.to_string(), fams.list.len());
                fams.list.push(Family {
                    name: name.to_string(),
                    help: help.remove(name).unwrap_or_default(),
                    unit: unit_of(name),
                    kind,
                    points: Vec::new(),
                });
                continue;
            }
            if l.starts_with('#') {
                continue;
            }
            let fam = fams
                .list
                .last_mut()
                .ok_or_else(|| err("a sample before any TYPE line".into()))?;
            let (sample_name, labels, value) = parse_sample(l).map_err(err)?;
            let expected = match fam.kind {
                Kind::Counter => sample_name
                    .strip_suffix("_total")
                    .is_some_and(|s| s == fam.name),
                Kind::Gauge => sample_name == fam.name,
            };
            if !expected {
                // `_created` and other suffixes carry nothing OTLP needs.
                continue;
            }
            let bedrock = is_bedrock_family(&fam.name);
            let mut attributes = Vec::with_capacity(labels.len() + 2);
            for (k, v) in labels {
                let key = match mode {
                    AttributeMode::Prometheus => k,
                    AttributeMode::Semconv => SEMCONV_ATTRIBUTES
                        .iter()
                        .find(|(from, _)| *from == k)
                        .map(|(_, to)| *to)
                        .unwrap_or(k),
                };
                attributes.push(KeyValue::new(
                    Key::from(interner.get(key)),
                    Value::from(interner.get(&v)),
                ));
            }
            if mode == AttributeMode::Semconv && bedrock {
                for (k, v) in SEMCONV_CONSTANT_ATTRIBUTES {
                    attributes.push(KeyValue::new(k, v));
                }
            }
            fam.points.push(Point { attributes, value });
        }
        let mut offset = 0;
        for f in &fams.list {
            fams.offsets.push(offset);
            offset += f.points.len();
        }
        fams.points = offset;
        Ok(fams)
    }

    /// Consecutive ranges of global point indices whose estimated encoded size stays under
    /// `max_bytes` (at least one point each).
    pub fn chunks(&self, max_bytes: usize) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut size = 0;
        let mut i = 0;
        for f in &self.list {
            // name, description and unit are repeated in each request holding the family
            let header = 32 + f.name.len() + f.help.len() + f.unit.len();
            let mut first_in_chunk = true;
            for p in &f.points {
                let mut s = 24
                    + p.attributes
                        .iter()
                        .map(|kv| 8 + kv.key.as_str().len() + kv.value.as_str().len())
                        .sum::<usize>();
                if first_in_chunk {
                    s += header;
                }
                if size + s > max_bytes && i > start {
                    out.push(start..i);
                    start = i;
                    size = header;
                }
                size += s;
                first_in_chunk = false;
                i += 1;
            }
        }
        if i > start {
            out.push(start..i);
        }
        out
    }

    /// The points of family `index` that fall in the global `range`.
    fn slice(&self, index: usize, range: &Range<usize>) -> &[Point] {
        let f = &self.list[index];
        let off = self.offsets[index];
        let lo = range.start.saturating_sub(off).min(f.points.len());
        let hi = range.end.saturating_sub(off).min(f.points.len());
        &f.points[lo..hi]
    }
}

fn is_bedrock_family(name: &str) -> bool {
    name.starts_with("bedrock_") && !name.starts_with("bedrock_exporter_")
}

/// The OTLP unit of a family: a braced currency for `*_<currency>` cost metrics, `{token}` for
/// tokens, else none.
fn unit_of(name: &str) -> String {
    for prefix in [
        names::COST_PREFIX,
        names::NET_COST_PREFIX,
        names::FOLDED_COST_PREFIX,
    ] {
        if let Some(ccy) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('_'))
            && !ccy.is_empty()
            && !ccy.contains('_')
        {
            return format!("{{{}}}", ccy.to_ascii_uppercase());
        }
    }
    if name.ends_with("_usd") {
        return "{USD}".into();
    }
    if name == names::USAGE_TOKENS {
        return "{token}".into();
    }
    String::new()
}

#[derive(Default)]
struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(s.to_string(), a.clone());
        a
    }
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

type Sample<'a> = (&'a str, Vec<(&'a str, String)>, f64);

/// `name{a="x",b="y"} value` (label values escaped with `\\`, `\"`, `\n`).
fn parse_sample(l: &str) -> Result<Sample<'_>, String> {
    let name_end = l
        .find(['{', ' '])
        .ok_or_else(|| format!("not a sample: {l:?}"))?;
    let name = &l[..name_end];
    let mut labels = Vec::new();
    let mut rest = &l[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            if let Some(after) = r.strip_prefix('}') {
                r = after;
                break;
            }
            let eq = r.find("=\"").ok_or_else(|| format!("bad label in {l:?}"))?;
            let key = &r[..eq];
            let mut value = String::new();
            let mut chars = r[eq + 2..].char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, o)) => value.push(o),
                        None => break,
                    },
                    '"' => {
                        end = Some(eq + 2 + i + 1);
                        break;
                    }
                    o => value.push(o),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated label value in {l:?}"))?;
            labels.push((key, value));
            r = &r[end..];
            r = r.strip_prefix(',').unwrap_or(r);
        }
        rest = r;
    }
    let value_str = rest
        .trim_start()
        .split(' ')
        .next()
        .ok_or_else(|| format!("no value in {l:?}"))?;
    let value = value_str
        .parse::<f64>()
        .map_err(|_| format!("bad value {value_str:?} in {l:?}"))?;
    Ok((name, labels, value))
}

// ---------------------------------------------------------------------------------------------
// Self-metrics of the pusher

/// Counts of the pusher, shared with the daemon (which copies them into the status).
#[derive(Debug, Default)]
pub struct OtlpCounters {
    pub pushes_ok: AtomicU64,
    pub pushes_failed: AtomicU64,
    pub requests_ok: AtomicU64,
    pub requests_failed: AtomicU64,
    pub last_push_ok: AtomicU64,
    /// f64 bits.
    pub last_success_unix: AtomicU64,
    pub last_duration: AtomicU64,
    pub last_points: AtomicU64,
}

/// A copy of [`OtlpCounters`] as plain data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtlpStats {
    pub pushes_ok: u64,
    pub pushes_failed: u64,
    pub requests_ok: u64,
    pub requests_failed: u64,
    pub last_push_ok: bool,
    pub last_success_unix: Option<f64>,
    pub last_duration_seconds: Option<f64>,
    pub last_points: u64,
}

impl OtlpCounters {
    pub fn stats(&self) -> OtlpStats {
        let f = |a: &AtomicU64| {
            let b = a.load(Ordering::Relaxed);
            (b != 0).then(|| f64::from_bits(b))
        };
        OtlpStats {
            pushes_ok: self.pushes_ok.load(Ordering::Relaxed),
            pushes_failed: self.pushes_failed.load(Ordering::Relaxed),
            requests_ok: self.requests_ok.load(Ordering::Relaxed),
            requests_failed: self.requests_failed.load(Ordering::Relaxed),
            last_push_ok: self.last_push_ok.load(Ordering::Relaxed) == 1,
            last_success_unix: f(&self.last_success_unix),
            last_duration_seconds: f(&self.last_duration),
            last_points: self.last_points.load(Ordering::Relaxed),
        }
    }
}

/// The pusher's self-metrics for the exposition.
#[derive(Debug)]
pub struct OtlpCollector(pub OtlpStats);

impl prometheus_client::collector::Collector for OtlpCollector {
    fn encode(
        &self,
        mut enc: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::NoLabelSet;
        use prometheus_client::metrics::MetricType;
        let s = &self.0;
        for (name, help, ok, failed) in [
            (
                names::OTLP_PUSHES,
                "OTLP pushes by outcome (a push is every series, in one or more requests).",
                s.pushes_ok,
                s.pushes_failed,
            ),
            (
                names::OTLP_REQUESTS,
                "OTLP export requests by outcome (retries included).",
                s.requests_ok,
                s.requests_failed,
            ),
        ] {
            let mut e = enc.describe(name, help, None, MetricType::Counter)?;
            for (outcome, v) in [("success", ok), ("failure", failed)] {
                e.encode_family(&[("outcome", outcome)])?
                    .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
            }
        }
        let mut gauges = vec![
            (
                names::OTLP_LAST_PUSH_SUCCESS,
                "1 if the last OTLP push succeeded, else 0.",
                if s.last_push_ok { 1.0 } else { 0.0 },
            ),
            (
                names::OTLP_LAST_PUSH_POINTS,
                "Data points in the last successful OTLP push.",
                s.last_points as f64,
            ),
        ];
        if let Some(t) = s.last_success_unix {
            gauges.push((
                names::OTLP_LAST_PUSH_SUCCESS_TIMESTAMP,
                "Unix time of the last successful OTLP push.",
                t,
            ));
        }
        if let Some(d) = s.last_duration_seconds {
            gauges.push((
                names::OTLP_LAST_PUSH_DURATION,
                "Duration of the last OTLP push in seconds (retries included).",
                d,
            ));
        }
        for (name, help, v) in gauges {
            let mut e = enc.describe(name, help, None, MetricType::Gauge)?;
            e.encode_gauge(&v)?;
        }
        Ok(())
    }
}

impl OtlpStats {
    /// These self-metrics as families (the pushed copy is current, not as of the last render).
    pub fn families(&self, mode: AttributeMode) -> Families {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(OtlpCollector(self.clone())));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("encoding into a String");
        Families::from_openmetrics(text.as_bytes(), mode).expect("our own exposition parses")
    }
}

// ---------------------------------------------------------------------------------------------
// The pusher

/// What the instruments' callbacks observe: the current families and the slice being pushed.
/// `extra` (live self-metrics) replaces the families of the same name in `families`; its points
/// follow those of `families` in the global order.
#[derive(Default)]
struct Observed {
    families: Arc<Families>,
    extra: Arc<Families>,
    range: Range<usize>,
}

impl Observed {
    fn points(&self, name: &str) -> &[Point] {
        if let Some(&i) = self.extra.by_name.get(name) {
            let base = self.families.points;
            let r = self.range.start.saturating_sub(base)..self.range.end.saturating_sub(base);
            return self.extra.slice(i, &r);
        }
        match self.families.by_name.get(name) {
            Some(&i) => self.families.slice(i, &self.range),
            None => &[],
        }
    }
}

/// A [`MetricReader`] shared between the meter provider and the pusher.
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("collecting the metrics failed: {0}")]
    Collect(String),
    #[error(
        "the receiver at {endpoint} did not accept request {request}/{requests} after {attempts} attempt(s): {message}"
    )]
    Export {
        endpoint: String,
        request: usize,
        requests: usize,
        attempts: u32,
        message: String,
    },
}

/// What a successful push did.
#[derive(Debug, Clone, Copy)]
pub struct Pushed {
    pub points: usize,
    pub requests: usize,
    pub duration: Duration,
}

/// Pushes [`Families`] to one OTLP receiver.
pub struct OtlpPusher {
    settings: OtlpSettings,
    endpoint_display: String,
    reader: SharedReader,
    provider: SdkMeterProvider,
    meter: Meter,
    exporter: MetricExporter,
    observed: Arc<Mutex<Observed>>,
    instruments: HashMap<String, Kind>,
    counters: Arc<OtlpCounters>,
    /// The outcome of the last push, for logging state changes only.
    last_ok: Option<bool>,
    sent_bytes: Arc<AtomicU64>,
}

impl std::fmt::Debug for OtlpPusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpPusher")
            .field("endpoint", &self.endpoint_display)
            .field("protocol", &self.settings.protocol)
            .finish()
    }
}

/// Errors building the pusher (bad endpoint, unreadable certificate, …).
#[derive(Debug, thiserror::Error)]
#[error("OTLP: {0}")]
pub struct BuildError(pub String);

/// Cardinality limit of every instrument: well above one request's points, so the SDK never
/// folds what `/metrics` shows unfolded.
const CARDINALITY_LIMIT: usize = 1 << 20;

impl OtlpPusher {
    /// Builds the exporter (must run inside a Tokio runtime). `instance_id` becomes
    /// `service.instance.id` unless the resource attributes name one.
    pub fn new(settings: OtlpSettings, instance_id: &str) -> Result<OtlpPusher, BuildError> {
        let sent_bytes = Arc::new(AtomicU64::new(0));
        let (exporter, endpoint_display) = build_exporter(&settings, sent_bytes.clone())?;
        let reader = SharedReader(Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Cumulative)
                .build(),
        ));
        let provider = SdkMeterProvider::builder()
            .with_resource(resource(&settings, instance_id))
            .with_reader(reader.clone())
            .with_view(|_: &opentelemetry_sdk::metrics::Instrument| {
                Stream::builder()
                    .with_cardinality_limit(CARDINALITY_LIMIT)
                    .build()
                    .ok()
            })
            .build();
        let meter = provider.meter("bedrock-cost-exporter");
        Ok(OtlpPusher {
            settings,
            endpoint_display,
            reader,
            provider,
            meter,
            exporter,
            observed: Arc::new(Mutex::new(Observed::default())),
            instruments: HashMap::new(),
            counters: Arc::new(OtlpCounters::default()),
            last_ok: None,
            sent_bytes,
        })
    }

    pub fn settings(&self) -> &OtlpSettings {
        &self.settings
    }

    /// The endpoint pushes go to (as configured, or from the environment).
    pub fn endpoint(&self) -> &str {
        &self.endpoint_display
    }

    pub fn counters(&self) -> Arc<OtlpCounters> {
        self.counters.clone()
    }

    /// Bytes handed to the HTTP client (after compression); gRPC: not counted.
    pub fn http_bytes_sent(&self) -> u64 {
        self.sent_bytes.load(Ordering::Relaxed)
    }

    fn register(&mut self, fam: &Family) {
        if self.instruments.contains_key(&fam.name) {
            return;
        }
        let name = fam.name.clone();
        let observed = self.observed.clone();
        let observe = move |obs: &dyn opentelemetry::metrics::AsyncInstrument<f64>| {
            let o = observed.lock().unwrap_or_else(|e| e.into_inner());
            for p in o.points(&name) {
                obs.observe(p.value, &p.attributes);
            }
        };
        match fam.kind {
            Kind::Gauge => {
                let _ = self
                    .meter
                    .f64_observable_gauge(fam.name.clone())
                    .with_description(fam.help.clone())
                    .with_unit(fam.unit.clone())
                    .with_callback(observe)
                    .build();
            }
            Kind::Counter => {
                let _ = self
                    .meter
                    .f64_observable_counter(fam.name.clone())
                    .with_description(fam.help.clone())
                    .with_unit(fam.unit.clone())
                    .with_callback(observe)
                    .build();
            }
        }
        self.instruments.insert(fam.name.clone(), fam.kind);
    }

    /// Pushes every point of `families`, in requests of bounded size, retrying each request.
    /// Counts the outcome and logs only when it differs from the previous push's.
    pub async fn push(&mut self, families: Arc<Families>) -> Result<Pushed, PushError> {
        let started = Instant::now();
        let extra = Arc::new(self.counters.stats().families(self.settings.attributes));
        let result = self.push_inner(families, extra).await;
        let c = &self.counters;
        c.last_duration
            .store(started.elapsed().as_secs_f64().to_bits(), Ordering::Relaxed);
        let ok = result.is_ok();
        match &result {
            Ok(p) => {
                c.pushes_ok.fetch_add(1, Ordering::Relaxed);
                c.last_push_ok.store(1, Ordering::Relaxed);
                c.last_points.store(p.points as u64, Ordering::Relaxed);
                c.last_success_unix
                    .store(unix_now().to_bits(), Ordering::Relaxed);
                if self.last_ok != Some(true) {
                    tracing::info!(
                        endpoint = %self.endpoint_display,
                        protocol = %self.settings.protocol,
                        points = p.points,
                        requests = p.requests,
                        seconds = format!("{:.3}", p.duration.as_secs_f64()),
                        "OTLP push succeeded{}",
                        if self.last_ok == Some(false) { " again" } else { "" }
                    );
                } else {
                    tracing::debug!(points = p.points, requests = p.requests, "OTLP push");
                }
            }
            Err(e) => {
                c.pushes_failed.fetch_add(1, Ordering::Relaxed);
                c.last_push_ok.store(0, Ordering::Relaxed);
                if self.last_ok != Some(false) {
                    tracing::warn!(
                        error = %e,
                        "OTLP push failed; retrying every interval, logging again when it succeeds (check the endpoint, protocol, TLS settings and headers)"
                    );
                } else {
                    tracing::debug!(error = %e, "OTLP push failed again");
                }
            }
        }
        self.last_ok = Some(ok);
        result
    }

    async fn push_inner(
        &mut self,
        families: Arc<Families>,
        extra: Arc<Families>,
    ) -> Result<Pushed, PushError> {
        let started = Instant::now();
        for f in families.list.iter().chain(&extra.list) {
            self.register(f);
        }
        let mut chunks = families.chunks(MAX_REQUEST_BYTES);
        let total = families.points() + extra.points();
        match chunks.last_mut() {
            // the live self-metrics are a few points: they ride with the last request
            Some(last) => last.end = total,
            None => chunks.push(0..total),
        }
        let points = total
            - extra
                .list
                .iter()
                .filter_map(|f| families.get(&f.name))
                .map(|f| f.points.len())
                .sum::<usize>();
        let requests = chunks.len();
        for (n, range) in chunks.into_iter().enumerate() {
            {
                let mut o = self.observed.lock().unwrap_or_else(|e| e.into_inner());
                o.families = families.clone();
                o.extra = extra.clone();
                o.range = range;
            }
            // The callbacks and the SDK's aggregation are CPU work: off the async workers.
            let reader = self.reader.clone();
            let (rm, collected) = tokio::task::spawn_blocking(move || {
                let mut rm = ResourceMetrics::default();
                let collected = reader.collect(&mut rm);
                (rm, collected)
            })
            .await
            .map_err(|e| PushError::Collect(format!("the collecting thread was lost: {e}")))?;
            {
                // Release the snapshot between pushes.
                let mut o = self.observed.lock().unwrap_or_else(|e| e.into_inner());
                o.families = Arc::new(Families::default());
                o.extra = Arc::new(Families::default());
                o.range = 0..0;
            }
            collected.map_err(|e| PushError::Collect(e.to_string()))?;
            let mut backoff = self.settings.retry_initial_backoff;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.exporter.export(&rm).await {
                    Ok(()) => {
                        self.counters.requests_ok.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => {
                        self.counters
                            .requests_failed
                            .fetch_add(1, Ordering::Relaxed);
                        if attempt >= self.settings.max_attempts {
                            return Err(PushError::Export {
                                endpoint: self.endpoint_display.clone(),
                                request: n + 1,
                                requests,
                                attempts: attempt,
                                message: e.to_string(),
                            });
                        }
                        tracing::debug!(error = %e, attempt, "OTLP request failed; retrying");
                        tokio::time::sleep(jitter(backoff)).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
            tokio::task::yield_now().await;
        }
        Ok(Pushed {
            points,
            requests,
            duration: started.elapsed(),
        })
    }

    /// Stops the exporter (closes connections).
    pub fn shutdown(&self) {
        let _ = self.provider.shutdown();
    }
}

/// ±20 % of `d`, from the clock's nanoseconds (no RNG dependency).
fn jitter(d: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let f = 0.8 + 0.4 * (nanos % 1000) as f64 / 1000.0;
    d.mul_f64(f)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `service.name=bedrock-cost-exporter`, `service.version`, `service.instance.id`; then
/// `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`; then the configured attributes.
pub fn resource(settings: &OtlpSettings, instance_id: &str) -> Resource {
    let mut b = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "bedrock-cost-exporter"),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("service.instance.id", instance_id.to_string()),
        ])
        .with_detector(Box::new(EnvResourceDetector::new()));
    if let Ok(name) = std::env::var("OTEL_SERVICE_NAME")
        && !name.trim().is_empty()
    {
        b = b.with_service_name(name);
    }
    b.with_attributes(
        settings
            .resource_attributes
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    )
    .build()
}

fn read_file(path: &PathBuf, what: &str) -> Result<Vec<u8>, BuildError> {
    std::fs::read(path)
        .map_err(|e| BuildError(format!("cannot read the {what} {}: {e}", path.display())))
}

/// `http://host:4318` → `http://host:4318/v1/metrics`; a URL with a path is kept.
pub fn http_endpoint(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    match after_scheme.find('/') {
        Some(i) if after_scheme[i..] != *"/" => url.to_string(),
        _ => format!("{}/v1/metrics", url.trim_end_matches('/')),
    }
}

fn build_exporter(
    s: &OtlpSettings,
    sent_bytes: Arc<AtomicU64>,
) -> Result<(MetricExporter, String), BuildError> {
    let compression = match s.compression {
        Some(c) => c,
        None => compression_from_env().map_err(BuildError)?,
    };
    let ca = s
        .ca_file
        .as_ref()
        .map(|p| read_file(p, "CA certificate file"))
        .transpose()?;
    let identity = match (&s.client_cert, &s.client_key) {
        (Some(c), Some(k)) => Some((
            read_file(c, "client certificate")?,
            read_file(k, "client key")?,
        )),
        (None, None) => None,
        _ => {
            return Err(BuildError(
                "otlp.client_cert and otlp.client_key go together (mTLS needs both)".into(),
            ));
        }
    };
    let timeout = s.timeout;
    match s.protocol {
        OtlpProtocol::Grpc => {
            let mut b = MetricExporter::builder()
                .with_tonic()
                .with_temporality(Temporality::Cumulative);
            if let Some(e) = &s.endpoint {
                b = b.with_endpoint(e.clone());
            }
            if let Some(t) = timeout {
                b = b.with_timeout(t);
            }
            if compression == OtlpCompression::Gzip {
                b = b.with_compression(Compression::Gzip);
            }
            let endpoint = s
                .endpoint
                .clone()
                .or_else(|| env_nonempty("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"))
                .or_else(|| env_nonempty("OTEL_EXPORTER_OTLP_ENDPOINT"))
                .unwrap_or_else(|| "http://localhost:4317".into());
            if ca.is_some() || identity.is_some() || endpoint.starts_with("https://") {
                let mut tls = tonic::transport::ClientTlsConfig::new();
                match &ca {
                    Some(pem) => {
                        tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem))
                    }
                    None => tls = tls.with_native_roots(),
                }
                if let Some((c, k)) = &identity {
                    tls = tls.identity(tonic::transport::Identity::from_pem(c, k));
                }
                if let Some(host) = host_of(&endpoint) {
                    tls = tls.domain_name(host);
                }
                b = b.with_tls_config(tls);
            }
            // Configured headers override OTEL_EXPORTER_OTLP_HEADERS: set them last.
            let mut meta = Vec::new();
            for (k, v) in &s.headers {
                let key =
                    tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                        .map_err(|_| {
                            BuildError(format!("otlp.headers: {k:?} is not a header name"))
                        })?;
                let val = tonic::metadata::MetadataValue::try_from(v.as_str()).map_err(|_| {
                    BuildError(format!(
                        "otlp.headers: the value of {k:?} is not a valid header value"
                    ))
                })?;
                meta.push((key, val));
            }
            if !meta.is_empty() {
                b = b.with_interceptor(move |mut req: tonic::Request<()>| {
                    for (k, v) in &meta {
                        req.metadata_mut().insert(k.clone(), v.clone());
                    }
                    Ok(req)
                });
            }
            let exporter = b
                .build()
                .map_err(|e| BuildError(format!("building the gRPC exporter: {e}")))?;
            Ok((exporter, endpoint))
        }
        OtlpProtocol::HttpProtobuf => {
            let mut b = MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_temporality(Temporality::Cumulative);
            let endpoint = match &s.endpoint {
                Some(e) => {
                    let e = http_endpoint(e);
                    b = b.with_endpoint(e.clone());
                    e
                }
                None => env_nonempty("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
                    .or_else(|| {
                        env_nonempty("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| http_endpoint(&e))
                    })
                    .unwrap_or_else(|| "http://localhost:4318/v1/metrics".into()),
            };
            if let Some(t) = timeout {
                b = b.with_timeout(t);
            }
            if compression == OtlpCompression::Gzip {
                b = b.with_compression(Compression::Gzip);
            }
            let mut client = reqwest::Client::builder();
            if let Some(t) = timeout.or_else(env_timeout) {
                client = client.timeout(t);
            } else {
                client = client.timeout(crate::defaults::otlp::TIMEOUT);
            }
            if let Some(pem) = &ca {
                let certs = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| BuildError(format!("otlp.ca_file: {e}")))?;
                client = client.tls_certs_only(certs);
            }
            if let Some((c, k)) = &identity {
                let mut pem = c.clone();
                pem.push(b'\n');
                pem.extend_from_slice(k);
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| BuildError(format!("otlp.client_cert/client_key: {e}")))?;
                client = client.identity(id);
            }
            let client = client
                .build()
                .map_err(|e| BuildError(format!("building the HTTP client: {e}")))?;
            let mut headers = Vec::new();
            for (k, v) in &s.headers {
                let key = http::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| BuildError(format!("otlp.headers: {k:?} is not a header name")))?;
                let val = http::HeaderValue::from_str(v).map_err(|_| {
                    BuildError(format!(
                        "otlp.headers: the value of {k:?} is not a valid header value"
                    ))
                })?;
                headers.push((key, val));
            }
            b = b.with_http_client(HttpClient {
                inner: client,
                headers,
                sent_bytes,
            });
            let exporter = b
                .build()
                .map_err(|e| BuildError(format!("building the HTTP exporter: {e}")))?;
            Ok((exporter, endpoint))
        }
    }
}

fn env_nonempty(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn env_timeout() -> Option<Duration> {
    [
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .find_map(|v| env_nonempty(v)?.trim().parse::<u64>().ok())
    .map(Duration::from_millis)
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(authority)
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// reqwest with the configured headers set last (over `OTEL_EXPORTER_OTLP_HEADERS`), counting
/// the bytes sent.
#[derive(Debug)]
struct HttpClient {
    inner: reqwest::Client,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    sent_bytes: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for HttpClient {
    async fn send_bytes(
        &self,
        mut request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        for (k, v) in &self.headers {
            request.headers_mut().insert(k.clone(), v.clone());
        }
        self.sent_bytes
            .fetch_add(request.body().len() as u64, Ordering::Relaxed);
        self.inner.send_bytes(request).await
    }
}

/// Pushes on every new [`Families`] and then every `interval`, until `stop` turns true.
pub async fn run(
    mut pusher: OtlpPusher,
    mut families: watch::Receiver<Option<Arc<Families>>>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = pusher.settings.interval;
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            changed = families.changed() => {
                if changed.is_err() { break; }
                next = tokio::time::Instant::now() + interval;
            }
            _ = tokio::time::sleep_until(next) => {
                next = tokio::time::Instant::now() + interval;
            }
            _ = stop.changed() => break,
        }
        let current = families.borrow_and_update().clone();
        if let Some(f) = current {
            tokio::select! {
                _ = pusher.push(f) => {}
                _ = stop.changed() => break,
            }
        }
    }
    pusher.shutdown();
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: &str = "# HELP bedrock_cost_usd Cost in USD.\n# TYPE bedrock_cost_usd gauge\nbedrock_cost_usd{account_id=\"1\",model=\"a\\\"b\",region=\"us-east-1\"} 1.5\nbedrock_cost_usd{account_id=\"2\",model=\"x\\\\y\\nz\",region=\"eu-west-1\"} -0.25\n# HELP bedrock_exporter_refreshes Refresh attempts by outcome.\n# TYPE bedrock_exporter_refreshes counter\nbedrock_exporter_refreshes_total{outcome=\"success\"} 3\nbedrock_exporter_refreshes_total{outcome=\"failure\"} 0\n# TYPE bedrock_exporter_series gauge\nbedrock_exporter_series 2\n# EOF\n";

    #[test]
    fn reads_the_exposition_back() {
        let f = Families::from_openmetrics(OM.as_bytes(), AttributeMode::Prometheus).unwrap();
        assert_eq!(f.points(), 5);
        let cost = f.get("bedrock_cost_usd").unwrap();
        assert_eq!(cost.unit, "{USD}");
        assert_eq!(cost.help, "Cost in USD.");
        assert_eq!(cost.points[1].value, -0.25);
        assert_eq!(cost.points[0].attributes[1].value.as_str(), "a\"b");
        assert_eq!(cost.points[1].attributes[1].value.as_str(), "x\\y\nz");
        let r = f.get("bedrock_exporter_refreshes").unwrap();
        assert_eq!(r.kind, Kind::Counter);
        assert_eq!(r.points[0].value, 3.0);
        assert!(
            f.get("bedrock_exporter_series").unwrap().points[0]
                .attributes
                .is_empty()
        );
    }

    #[test]
    fn semconv_mode_renames_and_adds_attributes() {
        let f = Families::from_openmetrics(OM.as_bytes(), AttributeMode::Semconv).unwrap();
        let keys: Vec<&str> = f.get("bedrock_cost_usd").unwrap().points[0]
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "cloud.account.id",
                "gen_ai.request.model",
                "cloud.region",
                "gen_ai.provider.name",
                "cloud.provider"
            ]
        );
        // self-metrics keep their labels and get no Bedrock attributes
        let r = f.get("bedrock_exporter_refreshes").unwrap();
        assert_eq!(r.points[0].attributes.len(), 1);
    }

    #[test]
    fn chunks_cover_every_point_once_and_stay_bounded() {
        let f = Families::from_openmetrics(OM.as_bytes(), AttributeMode::Prometheus).unwrap();
        for max in [1, 100, 200, 10_000] {
            let chunks = f.chunks(max);
            let mut next = 0;
            for c in &chunks {
                assert_eq!(c.start, next);
                assert!(c.end > c.start);
                next = c.end;
            }
            assert_eq!(next, 5, "max {max}");
        }
        assert_eq!(f.chunks(10_000).len(), 1);
        assert_eq!(f.chunks(1).len(), 5);
    }

    #[test]
    fn http_endpoints_get_the_metrics_path() {
        assert_eq!(http_endpoint("http://h:4318"), "http://h:4318/v1/metrics");
        assert_eq!(http_endpoint("http://h:4318/"), "http://h:4318/v1/metrics");
        assert_eq!(
            http_endpoint("https://h/otlp/v1/metrics"),
            "https://h/otlp/v1/metrics"
        );
        assert_eq!(host_of("https://[::1]:4317"), Some("::1".into()));
        assert_eq!(
            host_of("https://localhost:4317/x"),
            Some("localhost".into())
        );
    }

    #[test]
    fn units_are_braced() {
        assert_eq!(unit_of("bedrock_cost_eur"), "{EUR}");
        assert_eq!(unit_of("bedrock_net_cost_usd"), "{USD}");
        assert_eq!(unit_of("bedrock_exporter_folded_cost_usd"), "{USD}");
        assert_eq!(unit_of("bedrock_usage_tokens"), "{token}");
        assert_eq!(unit_of("bedrock_exporter_series"), "");
    }
}
