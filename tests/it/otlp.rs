//! OTLP against a real receiver built here on `opentelemetry-proto`'s generated gRPC service and
//! on hyper for OTLP/HTTP (protobuf, gzip): what arrives is compared series by series with
//! `/metrics` of the same snapshot.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use prost::Message;

use crate::util::{Daemon, Sample, free_port, wait_for};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    Grpc,
    Http,
}

/// What a receiver got.
#[derive(Default)]
pub struct Received {
    pub requests: Mutex<Vec<(Instant, ExportMetricsServiceRequest)>>,
    /// Bytes of request bodies as sent (compressed) — HTTP only.
    pub wire_bytes: AtomicU64,
    /// Bytes of the decoded protobuf messages.
    pub message_bytes: AtomicU64,
    /// `authorization` and `x-tenant` headers of the requests (gRPC).
    pub auth: Mutex<Vec<(String, String)>>,
}

impl Received {
    fn add(&self, req: ExportMetricsServiceRequest) {
        self.message_bytes
            .fetch_add(req.encoded_len() as u64, Ordering::Relaxed);
        self.requests.lock().unwrap().push((Instant::now(), req));
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Every request received so far, oldest first.
    pub fn all(&self) -> Vec<ExportMetricsServiceRequest> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Waits for the first push (then 300 ms for the rest of its requests); every request so far.
    pub fn first_push(&self, what: &str) -> Vec<ExportMetricsServiceRequest> {
        wait_for(Duration::from_secs(60), what, || {
            (self.count() > 0).then_some(())
        });
        std::thread::sleep(Duration::from_millis(300));
        self.all()
    }
}

struct Svc(Arc<Received>);

#[async_trait::async_trait]
impl MetricsService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let h = |k: &str| {
            request
                .metadata()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        self.0
            .auth
            .lock()
            .unwrap()
            .push((h("authorization"), h("x-tenant")));
        self.0.add(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// An OTLP receiver on loopback, stopped on drop. gRPC keeps tonic's default limits (4 MiB
/// decoded messages).
pub struct Receiver {
    pub addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
}

/// Server certificate and key, and the CA of client certificates to require (mTLS).
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
    pub client_ca_pem: String,
}

impl Receiver {
    pub fn start(proto: Proto, port: u16, got: Arc<Received>) -> Receiver {
        Self::start_tls(proto, port, got, None)
    }

    pub fn start_tls(
        proto: Proto,
        port: u16,
        got: Arc<Received>,
        tls: Option<ServerTls>,
    ) -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        match proto {
            Proto::Grpc => {
                let svc = MetricsServiceServer::new(Svc(got.clone()))
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                let mut server = tonic::transport::Server::builder();
                if let Some(t) = tls {
                    server = server
                        .tls_config(
                            tonic::transport::ServerTlsConfig::new()
                                .identity(tonic::transport::Identity::from_pem(
                                    t.cert_pem, t.key_pem,
                                ))
                                .client_ca_root(tonic::transport::Certificate::from_pem(
                                    t.client_ca_pem,
                                )),
                        )
                        .unwrap();
                }
                rt.spawn(
                    server
                        .add_service(svc)
                        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
                );
            }
            Proto::Http => {
                assert!(tls.is_none(), "TLS is tested with gRPC");
                let got = got.clone();
                rt.spawn(async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            return;
                        };
                        let got = got.clone();
                        tokio::spawn(async move {
                            let svc = hyper::service::service_fn(move |req| {
                                let got = got.clone();
                                async move { http_export(req, &got).await }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                });
            }
        }
        Receiver { addr, rt: Some(rt) }
    }

    /// Kills the receiver (connections dropped).
    pub fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn http_export(
    req: hyper::Request<hyper::body::Incoming>,
    got: &Received,
) -> Result<hyper::Response<Full<bytes::Bytes>>, std::convert::Infallible> {
    let reply = |status: u16, body: Vec<u8>| {
        Ok(hyper::Response::builder()
            .status(status)
            .header("content-type", "application/x-protobuf")
            .body(Full::new(bytes::Bytes::from(body)))
            .unwrap())
    };
    if req.uri().path() != "/v1/metrics" || req.method() != hyper::Method::POST {
        return reply(404, Vec::new());
    }
    let gzip = req
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let body = req.into_body().collect().await.unwrap().to_bytes();
    got.wire_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    let raw = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        body.to_vec()
    };
    match ExportMetricsServiceRequest::decode(&raw[..]) {
        Ok(m) => {
            got.add(m);
            reply(200, ExportMetricsServiceResponse::default().encode_to_vec())
        }
        Err(_) => reply(400, Vec::new()),
    }
}

fn any_str(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// The received data points as Prometheus samples (counters get `_total`, as the
/// OTLP→Prometheus translation does), plus the resource attributes of the requests.
pub fn samples(reqs: &[ExportMetricsServiceRequest]) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut out = Vec::new();
    let mut resource = BTreeMap::new();
    for req in reqs {
        for rm in &req.resource_metrics {
            if let Some(r) = &rm.resource {
                for kv in &r.attributes {
                    resource.insert(kv.key.clone(), any_str(&kv.value));
                }
            }
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let (points, suffix) = match &m.data {
                        Some(Data::Gauge(g)) => (&g.data_points, ""),
                        Some(Data::Sum(s)) => {
                            assert!(s.is_monotonic, "{} is a non-monotonic sum", m.name);
                            assert_eq!(s.aggregation_temporality, 2, "{} not cumulative", m.name);
                            (&s.data_points, "_total")
                        }
                        other => panic!("{}: unexpected data {other:?}", m.name),
                    };
                    for p in points {
                        let value = match p.value {
                            Some(NumberValue::AsDouble(d)) => d,
                            Some(NumberValue::AsInt(i)) => i as f64,
                            None => panic!("{}: a point without value", m.name),
                        };
                        out.push(Sample {
                            name: format!("{}{suffix}", m.name),
                            labels: p
                                .attributes
                                .iter()
                                .map(|kv| (kv.key.clone(), any_str(&kv.value)))
                                .collect(),
                            value,
                        });
                    }
                }
            }
        }
    }
    (out, resource)
}

fn sorted(mut v: Vec<Sample>) -> Vec<Sample> {
    v.sort_by(|a, b| {
        (&a.name, &a.labels)
            .cmp(&(&b.name, &b.labels))
            .then(a.value.total_cmp(&b.value))
    });
    v
}

/// Compares series by series; a readable message on the first differences.
fn assert_same(pushed: Vec<Sample>, scraped: Vec<Sample>) {
    let pushed = sorted(pushed);
    let scraped = sorted(scraped);
    if pushed != scraped {
        let first = pushed
            .iter()
            .zip(&scraped)
            .position(|(a, b)| a != b)
            .unwrap_or(pushed.len().min(scraped.len()));
        panic!(
            "the push ({} points) differs from /metrics ({} samples) from sorted position {first}:\n pushed: {:#?}\n /metrics: {:#?}",
            pushed.len(),
            scraped.len(),
            pushed.get(first),
            scraped.get(first),
        );
    }
}

fn proto_args(proto: Proto, addr: SocketAddr) -> Vec<String> {
    match proto {
        Proto::Grpc => vec![
            "--otlp-endpoint".into(),
            format!("http://{addr}"),
            "--otlp-protocol".into(),
            "grpc".into(),
        ],
        Proto::Http => vec![
            "--otlp-endpoint".into(),
            format!("http://{addr}"),
            "--otlp-protocol".into(),
            "http".into(),
        ],
    }
}

fn same_series_as_metrics(proto: Proto) {
    let got = Arc::new(Received::default());
    let receiver = Receiver::start(proto, 0, got.clone());
    let sample = crate::util::repo().join("sample/export");
    let mut args = vec!["--source".to_string(), sample.to_str().unwrap().to_string()];
    args.extend(proto_args(proto, receiver.addr));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // One refresh and one push in the test's time: both intervals are long.
    let d = Daemon::start(
        &args,
        &[
            ("BCE_REFRESH_INTERVAL", "1h"),
            ("BCE_OTLP__INTERVAL", "1h"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=test",
            ),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    d.wait_ready();
    let reqs = got.first_push("an OTLP push");
    let (pushed, resource) = samples(&reqs);
    let scraped = d.metrics();
    assert!(scraped.iter().any(|s| s.name == "bedrock_cost_usd"));
    assert!(
        scraped
            .iter()
            .any(|s| s.name == "bedrock_exporter_refreshes_total")
    );
    assert!(
        scraped
            .iter()
            .any(|s| s.name == "bedrock_exporter_otlp_pushes_total"),
        "the OTLP self-metrics are on /metrics"
    );
    assert_same(pushed, scraped);
    assert_eq!(resource["service.name"], "bedrock-cost-exporter");
    assert_eq!(resource["service.version"], env!("CARGO_PKG_VERSION"));
    assert!(resource["service.instance.id"].ends_with(&format!(":{}", d.addr.port())));
    assert_eq!(resource["deployment.environment.name"], "test");
    // Units: braced, so OTLP→Prometheus translation adds no suffix.
    let units: BTreeMap<String, String> = reqs
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| (m.name.clone(), m.unit.clone()))
        .collect();
    assert_eq!(units["bedrock_cost_usd"], "{USD}");
    assert_eq!(units["bedrock_usage_tokens"], "{token}");
}

#[test]
fn otlp_grpc_push_equals_metrics() {
    same_series_as_metrics(Proto::Grpc);
}

#[test]
fn otlp_http_push_equals_metrics() {
    same_series_as_metrics(Proto::Http);
}

#[test]
fn otlp_semconv_attributes() {
    let got = Arc::new(Received::default());
    let receiver = Receiver::start(Proto::Http, 0, got.clone());
    let sample = crate::util::repo().join("sample/export");
    let mut args = vec!["--source".to_string(), sample.to_str().unwrap().to_string()];
    args.extend(proto_args(Proto::Http, receiver.addr));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let d = Daemon::start(
        &args,
        &[
            ("BCE_REFRESH_INTERVAL", "1h"),
            ("BCE_OTLP__INTERVAL", "1h"),
            ("BCE_OTLP__ATTRIBUTES", "semconv"),
        ],
    );
    d.wait_ready();
    let reqs = got.first_push("an OTLP push");
    let (pushed, _) = samples(&reqs);
    let scraped = d.metrics();
    // Same values, attributes renamed: map /metrics labels the documented way and compare.
    let rename = |k: &str| -> String {
        match k {
            "account_id" => "cloud.account.id",
            "region" => "cloud.region",
            "model" => "gen_ai.request.model",
            "direction" => "gen_ai.token.type",
            "principal" => "enduser.id",
            o => o,
        }
        .to_string()
    };
    let expected: Vec<Sample> = scraped
        .into_iter()
        .map(|s| {
            let bedrock =
                s.name.starts_with("bedrock_") && !s.name.starts_with("bedrock_exporter_");
            let mut labels: BTreeMap<String, String> = s
                .labels
                .iter()
                .map(|(k, v)| (rename(k), v.clone()))
                .collect();
            if bedrock {
                labels.insert("gen_ai.provider.name".into(), "aws.bedrock".into());
                labels.insert("cloud.provider".into(), "aws".into());
            }
            Sample { labels, ..s }
        })
        .collect();
    assert_same(pushed, expected);
}

#[test]
fn otlp_receiver_killed_and_restarted() {
    let got = Arc::new(Received::default());
    let mut receiver = Receiver::start(Proto::Grpc, free_port(), got.clone());
    let port = receiver.addr.port();
    let sample = crate::util::repo().join("sample/export");
    let mut args = vec!["--source".to_string(), sample.to_str().unwrap().to_string()];
    args.extend(proto_args(Proto::Grpc, receiver.addr));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut d = Daemon::start(
        &args,
        &[
            ("BCE_REFRESH_INTERVAL", "2s"),
            ("BCE_OTLP__INTERVAL", "1s"),
            ("BCE_OTLP__MAX_ATTEMPTS", "2"),
            // Generous: while the receiver is down a push fails at once (connection refused);
            // while it is up, a push of the sample in a debug build took 5.9 s on an overloaded
            // machine, and a 2 s timeout made the test count a second failure (issue 19).
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
        ],
    );
    d.wait_ready();
    wait_for(Duration::from_secs(60), "pushes", || {
        (got.count() >= 2).then_some(())
    });
    receiver.stop();
    // Down for a while: pushes fail, /metrics is unaffected and counts the failures.
    let failures = wait_for(Duration::from_secs(60), "failed pushes on /metrics", || {
        let m = d.metrics();
        crate::util::value(
            &m,
            "bedrock_exporter_otlp_pushes_total",
            &[("outcome", "failure")],
        )
        .filter(|v| *v >= 2.0)
    });
    assert!(failures >= 2.0);
    let m = d.metrics();
    assert_eq!(
        crate::util::value(&m, "bedrock_exporter_otlp_last_push_success", &[]),
        Some(0.0)
    );
    assert!(m.iter().any(|s| s.name == "bedrock_cost_usd"));
    let before = got.count();
    let restarted_at = Instant::now();
    let _receiver = Receiver::start(Proto::Grpc, port, got.clone());
    wait_for(Duration::from_secs(60), "pushes after the restart", || {
        (got.count() > before).then_some(())
    });
    let resumed_after = restarted_at.elapsed();
    wait_for(Duration::from_secs(60), "success on /metrics", || {
        let m = d.metrics();
        crate::util::value(&m, "bedrock_exporter_otlp_last_push_success", &[]).filter(|v| *v == 1.0)
    });
    // Logged once per state change, not every interval.
    let log = d.drain_log().to_vec();
    let failed = log
        .iter()
        .filter(|l| l.contains("OTLP push failed"))
        .count();
    let again = log
        .iter()
        .filter(|l| l.contains("OTLP push succeeded again"))
        .count();
    assert_eq!(failed, 1, "{log:#?}");
    assert_eq!(again, 1, "{log:#?}");
    assert!(
        resumed_after < Duration::from_secs(30),
        "resumed after {resumed_after:?}"
    );
    // The pushed data after the restart is complete.
    let all = got.all();
    let (pushed, _) = samples(&all[all.len() - 1..]);
    assert!(pushed.iter().any(|s| s.name == "bedrock_cost_usd"));
}

/// A snapshot of `n` realistic series (long ARNs, sessions, tags), built in code: reading that
/// many from CUR takes minutes in a debug build, and the push only needs the snapshot.
fn big_snapshot(n: usize) -> bedrock_cost_exporter::snapshot::Snapshot {
    use bedrock_cost_exporter::aggregate::{Labels, Series};
    use bedrock_cost_exporter::sum::Sum;
    let a = |s: String| -> Arc<str> { Arc::from(s) };
    let models = [
        "Claude4.6Sonnet",
        "Claude4.5Haiku",
        "NovaPro",
        "gpt-oss-120b",
        "Llama4Maverick",
    ];
    let dirs = ["input", "output", "cache_read", "cache_write"];
    let mut series: Vec<Series> = (0..n)
        .map(|i| {
            let session = format!("user{}@example.com", i / 20);
            let role = format!("team-{}-app", i % 37);
            let fixed = [
                a(format!("2026-{}", if i % 2 == 0 { "10" } else { "11" })),
                a("999988887777".into()),
                a(format!("{:012}", 111111111111u64 + (i % 7) as u64)),
                a(format!(
                    "arn:aws:sts::111111111111:assumed-role/{role}/{session}"
                )),
                a("assumed_role".into()),
                a(role.clone()),
                a(session),
                a(models[i % models.len()].into()),
                a(["us-east-1", "eu-west-1", "ap-southeast-2"][i % 3].into()),
                a(dirs[(i / 5) % dirs.len()].into()),
                a("on_demand".into()),
                a("in_region".into()),
                a(String::new()),
                a(format!(
                    "USE1-{}-{}-tokens",
                    models[i % models.len()],
                    dirs[(i / 5) % dirs.len()]
                )),
                a("Usage".into()),
                a("AWS".into()),
            ];
            let mut cost = Sum::default();
            cost.add((i as f64 + 1.0) * 0.000_123_456_789 + 1.0 / 3.0);
            let mut tokens = Sum::default();
            tokens.add((i * 1000 + 7) as f64);
            Series {
                labels: Labels {
                    fixed,
                    tags: vec![
                        (a("tag_team".into()), a(format!("team-{}", i % 37))),
                        (a("tag_cost_center".into()), a(format!("cc-{}", i % 101))),
                    ],
                },
                currency: a("USD".into()),
                cost,
                net_cost: cost,
                tokens: Some(tokens),
                usage: vec![],
                daily: vec![],
            }
        })
        .collect();
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    bedrock_cost_exporter::snapshot::Snapshot {
        series,
        max_series: 200_000,
        ..Default::default()
    }
}

/// Pushes one 100k-series snapshot with the real pusher; returns (seconds, requests, pushed
/// samples, samples of /metrics for the same snapshot).
fn push_big(
    proto: Proto,
    compression: bedrock_cost_exporter::metrics::otlp::OtlpCompression,
    got: Arc<Received>,
) -> (f64, usize, Vec<Sample>, Vec<Sample>) {
    use bedrock_cost_exporter::metrics::otlp::{
        AttributeMode, Families, OtlpProtocol, OtlpPusher, OtlpSettings,
    };
    let receiver = Receiver::start(proto, 0, got.clone());
    let snapshot = Arc::new(big_snapshot(100_000));
    // As the daemon renders with OTLP on: the pusher's self-metrics, none pushed yet.
    let status = bedrock_cost_exporter::status::Status {
        otlp: Some(Default::default()),
        ..Default::default()
    };
    let rendered = bedrock_cost_exporter::metrics::exposition::render(snapshot, Arc::new(status));
    let text = String::from_utf8(rendered.text().unwrap().to_vec()).unwrap();
    let scraped = crate::util::parse_exposition(&text);
    let families = Arc::new(
        Families::from_openmetrics_gz(&rendered.openmetrics_gz, AttributeMode::Prometheus).unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let settings = OtlpSettings {
        endpoint: Some(format!("http://{}", receiver.addr)),
        protocol: match proto {
            Proto::Grpc => OtlpProtocol::Grpc,
            Proto::Http => OtlpProtocol::HttpProtobuf,
        },
        max_attempts: 1,
        compression: Some(compression),
        timeout: Some(Duration::from_secs(120)),
        ..OtlpSettings::default()
    };
    let (seconds, requests) = rt.block_on(async {
        let mut pusher = OtlpPusher::new(settings, "test:0").unwrap();
        let pushed = pusher.push(families).await.expect("the push is accepted");
        pusher.shutdown();
        (pushed.duration.as_secs_f64(), pushed.requests)
    });
    let reqs = got.all();
    assert_eq!(reqs.len(), requests);
    let biggest = reqs.iter().map(|r| r.encoded_len()).max().unwrap();
    assert!(biggest < 4 << 20, "a request of {biggest} bytes");
    let (pushed, _) = samples(&reqs);
    (seconds, requests, pushed, scraped)
}

/// Uncompressed, so that every request itself is under the receiver's 4 MiB limit (gzip would
/// hide an oversized message only if the receiver checked compressed sizes; tonic checks the
/// decoded size). Without gzip also because gzip in a debug build takes minutes at this size.
#[test]
fn otlp_100k_series_through_grpc_default_limits() {
    let got = Arc::new(Received::default());
    let (seconds, requests, pushed, scraped) = push_big(
        Proto::Grpc,
        bedrock_cost_exporter::metrics::otlp::OtlpCompression::None,
        got.clone(),
    );
    assert!(
        scraped
            .iter()
            .filter(|s| s.name == "bedrock_cost_usd")
            .count()
            == 100_000,
        "the snapshot has 100k series"
    );
    eprintln!(
        "100k series over gRPC: {} points in {requests} requests, {:.1} MB of protobuf (before gzip), {seconds:.2} s",
        pushed.len(),
        got.message_bytes.load(Ordering::Relaxed) as f64 / 1e6,
    );
    assert_same(pushed, scraped);
}

/// The README's benchmark figure (time and bytes of one 100k-series push, gzip):
/// `cargo test --release --test it otlp_100k -- --include-ignored --nocapture`.
#[test]
#[ignore = "benchmark; minutes in a debug build"]
fn otlp_100k_series_over_http_gzip() {
    let got = Arc::new(Received::default());
    let (seconds, requests, pushed, scraped) = push_big(
        Proto::Http,
        bedrock_cost_exporter::metrics::otlp::OtlpCompression::Gzip,
        got.clone(),
    );
    eprintln!(
        "100k series over HTTP: {} points in {requests} requests, {:.1} MB of protobuf, {:.2} MB gzip on the wire, {seconds:.2} s",
        pushed.len(),
        got.message_bytes.load(Ordering::Relaxed) as f64 / 1e6,
        got.wire_bytes.load(Ordering::Relaxed) as f64 / 1e6,
    );
    assert_same(pushed, scraped);
}

/// A CA, a server certificate for localhost and a client certificate, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    server: ServerTls,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let srv_key = KeyPair::generate().unwrap();
    let srv_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&srv_key, &issuer)
        .unwrap();
    let cli_key = KeyPair::generate().unwrap();
    let cli_cert = CertificateParams::new(vec!["bedrock-cost-exporter".to_string()])
        .unwrap()
        .signed_by(&cli_key, &issuer)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.path().join("client.pem"), cli_cert.pem()).unwrap();
    std::fs::write(dir.path().join("client-key.pem"), cli_key.serialize_pem()).unwrap();
    Pki {
        dir,
        server: ServerTls {
            cert_pem: srv_cert.pem(),
            key_pem: srv_key.serialize_pem(),
            client_ca_pem: ca_cert.pem(),
        },
    }
}

#[test]
fn otlp_grpc_over_mutual_tls_with_a_custom_ca() {
    let pki = pki();
    let got = Arc::new(Received::default());
    let _receiver = Receiver::start_tls(Proto::Grpc, 0, got.clone(), Some(pki.server));
    let port = _receiver.addr.port();
    let sample = crate::util::repo().join("sample/export");
    let p = |f: &str| pki.dir.path().join(f).to_str().unwrap().to_string();
    let endpoint = format!("https://localhost:{port}");
    let args = [
        "--source",
        sample.to_str().unwrap(),
        "--otlp-endpoint",
        &endpoint,
        "--otlp-protocol",
        "grpc",
    ];
    // Without a client certificate the receiver refuses the handshake.
    let mut without = Daemon::start(
        &args,
        &[
            ("BCE_REFRESH_INTERVAL", "1h"),
            ("BCE_OTLP__INTERVAL", "1s"),
            ("BCE_OTLP__MAX_ATTEMPTS", "1"),
            ("BCE_OTLP__CA_FILE", &p("ca.pem")),
        ],
    );
    without.wait_ready();
    wait_for(Duration::from_secs(60), "a failed push", || {
        without
            .drain_log()
            .iter()
            .any(|l| l.contains("OTLP push failed"))
            .then_some(())
    });
    assert_eq!(got.count(), 0);
    drop(without);
    let d = Daemon::start(
        &args,
        &[
            ("BCE_REFRESH_INTERVAL", "1h"),
            ("BCE_OTLP__INTERVAL", "1h"),
            ("BCE_OTLP__CA_FILE", &p("ca.pem")),
            ("BCE_OTLP__CLIENT_CERT", &p("client.pem")),
            ("BCE_OTLP__CLIENT_KEY", &p("client-key.pem")),
            ("BCE_OTLP__HEADERS", "{authorization=\"Bearer t0ken\"}"),
            // below the configuration for the same header, merged otherwise
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20from-env,x-tenant=acme",
            ),
        ],
    );
    d.wait_ready();
    let reqs = got.first_push("a push over mTLS");
    let (pushed, _) = samples(&reqs);
    assert_same(pushed, d.metrics());
    assert_eq!(
        got.auth.lock().unwrap()[0],
        ("Bearer t0ken".to_string(), "acme".to_string())
    );
}
