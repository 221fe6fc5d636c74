//! The HTTP server: `/metrics` (OpenMetrics when the scraper asks for it, else text 0.0.4),
//! `/healthz`, `/readyz` and a small index page. A scrape reads the published exposition through a
//! `watch` channel: it never waits for a refresh. Decompressing the exposition for a client that
//! does not accept gzip runs on a blocking thread, not on the async workers. A client gets
//! [`ServerOptions::header_read_timeout`] to send its request headers, then the connection closes.
//!
//! `Accept` and `Accept-Encoding` are negotiated here in a few lines: the only choices are
//! OpenMetrics or not and gzip or not, and no widely used crate exposes hyper-compatible
//! negotiation on its own (tower-http keeps its negotiation internal to its compression layer).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Rendered;
use crate::metrics::exposition::{OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};

/// What the server serves; replaced as a whole after each refresh.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub rendered: Rendered,
    /// A refresh has succeeded at least once.
    pub ready: bool,
    /// The uncompressed expositions, decompressed once on the first request that does not accept
    /// gzip and shared by the next ones (memory stays bounded however many such clients come).
    plain_text: std::sync::OnceLock<Bytes>,
    plain_openmetrics: std::sync::OnceLock<Bytes>,
}

impl Published {
    pub fn new(rendered: Rendered, ready: bool) -> Self {
        Published {
            rendered,
            ready,
            ..Published::default()
        }
    }

    /// The uncompressed exposition; decompresses it on the first call (CPU work: call it on a
    /// blocking thread).
    fn plain(&self, openmetrics: bool) -> Bytes {
        if openmetrics {
            self.plain_openmetrics
                .get_or_init(|| self.rendered.openmetrics())
                .clone()
        } else {
            self.plain_text.get_or_init(|| self.rendered.text()).clone()
        }
    }
}

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// How long in-flight requests may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Whether the request accepts a gzip-encoded body (`Accept-Encoding: gzip`, not `gzip;q=0`).
fn accepts_gzip(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let zero = parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero
        })
}

/// Whether the request's `Accept` asks for OpenMetrics.
fn wants_openmetrics(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

async fn handle(req: &Request<Incoming>, published: Arc<Published>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"only GET and HEAD\n"),
        );
    }
    match req.uri().path() {
        "/metrics" => {
            let om = wants_openmetrics(req);
            let content_type = if om { OPENMETRICS_CONTENT_TYPE } else { TEXT_CONTENT_TYPE };
            if accepts_gzip(req) {
                let r = &published.rendered;
                let gz = if om { &r.openmetrics_gz } else { &r.text_gz };
                let mut resp = respond(StatusCode::OK, content_type, gz.clone());
                resp.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                resp
            } else {
                let body = tokio::task::spawn_blocking(move || published.plain(om))
                    .await
                    .unwrap_or_default();
                respond(StatusCode::OK, content_type, body)
            }
        }
        "/healthz" => respond(StatusCode::OK, "text/plain; charset=utf-8", Bytes::from_static(b"ok\n")),
        "/readyz" => {
            if published.ready {
                respond(StatusCode::OK, "text/plain; charset=utf-8", Bytes::from_static(b"ready\n"))
            } else {
                respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", Bytes::from_static(b"not ready: no refresh has succeeded yet\n"))
            }
        }
        "/" => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from_static(b"<html><head><title>bedrock-cost-exporter</title></head><body><h1>bedrock-cost-exporter</h1><p>Amazon Bedrock cost from the CUR 2.0 bill.</p><ul><li><a href=\"/metrics\">/metrics</a></li><li><a href=\"/healthz\">/healthz</a></li><li><a href=\"/readyz\">/readyz</a></li></ul></body></html>\n"),
        ),
        _ => respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", Bytes::from_static(b"not found; try /metrics\n")),
    }
}

/// Binds `addr`; the returned listener's `local_addr` tells the port when `addr` has port 0.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish (up to [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: TcpListener,
    published: watch::Receiver<Arc<Published>>,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let rx = published.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let current = rx.borrow().clone();
                    async move { Ok::<_, Infallible>(handle(&req, current).await) }
                });
                let conn = http.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("connections still open after {:?}; closing", SHUTDOWN_GRACE),
    }
}
