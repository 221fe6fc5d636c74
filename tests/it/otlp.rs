//! OTLP against a real receiver built here on `opentelemetry-proto`'s generated gRPC service and
//! on hyper for OTLP/HTTP (protobuf, gzip): what arrives is compared series by series with
//! `/metrics` of the same snapshot.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cur_sample::{ExportSpec, write_export};
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
}

struct Svc(Arc<Received>);

#[async_trait::async_trait]
impl MetricsService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
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

impl Receiver {
    pub fn start(proto: Proto, port: u16, got: Arc<Received>) -> Receiver {
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
                rt.spawn(
                    tonic::transport::Server::builder()
                        .add_service(svc)
                        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(
                            listener,
                        )),
                );
            }
            Proto::Http => {
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
        Receiver {
            addr,
            rt: Some(rt),
        }
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
        let missing: Vec<_> = scraped.iter().filter(|s| !pushed.contains(s)).take(5).collect();
        let extra: Vec<_> = pushed.iter().filter(|s| !scraped.contains(s)).take(5).collect();
        panic!(
            "the push ({} points) differs from /metrics ({} samples)\n only on /metrics: {missing:#?}\n only pushed: {extra:#?}",
            pushed.len(),
            scraped.len()
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
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    d.wait_ready();
    wait_for(Duration::from_secs(60), "an OTLP push", || {
        (got.count() > 0).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let reqs: Vec<ExportMetricsServiceRequest> = got
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|(_, r)| r.clone())
        .collect();
    let (pushed, resource) = samples(&reqs);
    let scraped = d.metrics();
    assert!(scraped.iter().any(|s| s.name == "bedrock_cost_usd"));
    assert!(scraped.iter().any(|s| s.name == "bedrock_exporter_refreshes_total"));
    assert!(
        scraped.iter().any(|s| s.name == "bedrock_exporter_otlp_pushes_total"),
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
    wait_for(Duration::from_secs(60), "an OTLP push", || {
        (got.count() > 0).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let reqs: Vec<_> = got.requests.lock().unwrap().iter().map(|(_, r)| r.clone()).collect();
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
            let bedrock = s.name.starts_with("bedrock_") && !s.name.starts_with("bedrock_exporter_");
            let mut labels: BTreeMap<String, String> =
                s.labels.iter().map(|(k, v)| (rename(k), v.clone())).collect();
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
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
        ],
    );
    d.wait_ready();
    wait_for(Duration::from_secs(60), "pushes", || (got.count() >= 2).then_some(()));
    receiver.stop();
    // Down for a while: pushes fail, /metrics is unaffected and counts the failures.
    let failures = wait_for(Duration::from_secs(60), "failed pushes on /metrics", || {
        let m = d.metrics();
        crate::util::value(&m, "bedrock_exporter_otlp_pushes_total", &[("outcome", "failure")])
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
        crate::util::value(&m, "bedrock_exporter_otlp_last_push_success", &[])
            .filter(|v| *v == 1.0)
    });
    // Logged once per state change, not every interval.
    let log = d.drain_log().to_vec();
    let failed = log.iter().filter(|l| l.contains("OTLP push failed")).count();
    let again = log.iter().filter(|l| l.contains("OTLP push succeeded again")).count();
    assert_eq!(failed, 1, "{log:#?}");
    assert_eq!(again, 1, "{log:#?}");
    assert!(resumed_after < Duration::from_secs(30), "resumed after {resumed_after:?}");
    // The pushed data after the restart is complete.
    let last: Vec<_> = got
        .requests
        .lock()
        .unwrap()
        .iter()
        .rev()
        .take(1)
        .map(|(_, r)| r.clone())
        .collect();
    let (pushed, _) = samples(&last);
    assert!(pushed.iter().any(|s| s.name == "bedrock_cost_usd"));
}

#[test]
fn otlp_100k_series_through_grpc_default_limits() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ExportSpec {
        periods: vec!["2026-10".into(), "2026-11".into()],
        rows_per_period: 60_000,
        bedrock_share: 0.95,
        extra_sessions: 60_000,
        ..ExportSpec::default()
    };
    write_export(dir.path(), &spec).unwrap();
    let got = Arc::new(Received::default());
    let receiver = Receiver::start(Proto::Grpc, 0, got.clone());
    let mut args = vec!["--source".to_string(), dir.path().to_str().unwrap().to_string()];
    args.extend(proto_args(Proto::Grpc, receiver.addr));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut d = Daemon::start(
        &args,
        &[
            ("BCE_REFRESH_INTERVAL", "1h"),
            ("BCE_OTLP__INTERVAL", "1h"),
            ("BCE_MAX_SERIES", "200000"),
        ],
    );
    d.wait_ready();
    let pushed_line = wait_for(Duration::from_secs(600), "the push", || {
        d.drain_log()
            .iter()
            .find(|l| l.contains("OTLP push"))
            .cloned()
    });
    assert!(pushed_line.contains("succeeded"), "{pushed_line}");
    let reqs: Vec<_> = got.requests.lock().unwrap().iter().map(|(_, r)| r.clone()).collect();
    let (pushed, _) = samples(&reqs);
    let scraped = d.metrics();
    let series = crate::util::value(&scraped, "bedrock_exporter_series", &[]).unwrap();
    assert!(series >= 100_000.0, "only {series} series");
    let biggest = reqs.iter().map(|r| r.encoded_len()).max().unwrap();
    assert!(biggest < 4 << 20, "a request of {biggest} bytes");
    eprintln!(
        "100k push: {series} series, {} points, {} requests, {} message bytes, {pushed_line}",
        pushed.len(),
        reqs.len(),
        got.message_bytes.load(Ordering::Relaxed)
    );
    assert_same(pushed, scraped);
}
