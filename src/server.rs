//! The HTTP server: `/metrics` (OpenMetrics when the scraper asks for it, else text 0.0.4),
//! `/healthz`, `/readyz`, `/-/reload` (with `--web.enable-lifecycle`) and a small index page.
//! TLS (rustls; HTTP/2 by ALPN), basic auth, a rate limit and response headers come from the web
//! configuration file ([`crate::web_config`]) and guard every path, as in exporter-toolkit. At most
//! [`ServerOptions::max_connections`] connections are open at once. A scrape reads the published exposition through a
//! `watch` channel: it never waits for a refresh. Decompressing the exposition for a client that
//! does not accept gzip runs on a blocking thread, not on the async workers. A client gets
//! [`LiveSettings::header_read_timeout`] to send its request headers, then the connection closes.
//!
//! `Accept` and `Accept-Encoding` are negotiated here in a few lines: the only choices are
//! OpenMetrics or not and gzip or not, and no widely used crate exposes hyper-compatible
//! negotiation on its own (tower-http keeps its negotiation internal to its compression layer).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue,
    WWW_AUTHENTICATE,
};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::metrics::Rendered;
use crate::metrics::exposition::{OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
use crate::status::ExpositionErrorCounts;
use crate::web_config::WebConfig;

/// What the server serves; replaced as a whole after each refresh.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub rendered: Rendered,
    /// A refresh has succeeded at least once.
    pub ready: bool,
    /// The uncompressed expositions, decompressed once on the first request that does not accept
    /// gzip and shared by the next ones (memory stays bounded however many such clients come).
    /// A failure is kept too: each such request is answered 500 and counted.
    plain_text: std::sync::OnceLock<Result<Bytes, String>>,
    plain_openmetrics: std::sync::OnceLock<Result<Bytes, String>>,
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
    fn plain(&self, openmetrics: bool) -> Result<Bytes, String> {
        let (cell, decompress): (_, fn(&Rendered) -> std::io::Result<Bytes>) = if openmetrics {
            (&self.plain_openmetrics, Rendered::openmetrics)
        } else {
            (&self.plain_text, Rendered::text)
        };
        cell.get_or_init(|| decompress(&self.rendered).map_err(|e| e.to_string()))
            .clone()
    }
}

/// Failures to produce an exposition, for `bedrock_exporter_exposition_errors_total`: the daemon
/// counts renders that panicked, the server decompressions that failed. Shared by both; read at
/// each render.
#[derive(Debug, Default)]
pub struct ExpositionErrors {
    render: AtomicU64,
    decompress: AtomicU64,
}

impl ExpositionErrors {
    pub fn render_failed(&self) {
        self.render.fetch_add(1, Ordering::Relaxed);
    }

    pub fn decompress_failed(&self) {
        self.decompress.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> ExpositionErrorCounts {
        ExpositionErrorCounts {
            render: self.render.load(Ordering::Relaxed),
            decompress: self.decompress.load(Ordering::Relaxed),
        }
    }
}

/// Server settings that a reload may change: they apply to connections accepted afterwards.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// TLS, basic auth, headers, rate limit (`--web.config.file`).
    pub web: Arc<WebConfig>,
    /// How long a client may take to send its request headers (and, with TLS, its handshake).
    pub header_read_timeout: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            web: Arc::new(WebConfig::default()),
            header_read_timeout: crate::defaults::HEADER_READ_TIMEOUT,
        }
    }
}

/// A reload asked for over HTTP (`POST /-/reload`): answered with the outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Open connections at most; further clients wait to be accepted (as Prometheus'
    /// `--web.max-connections`).
    pub max_connections: usize,
    /// The current live settings.
    pub settings: watch::Receiver<LiveSettings>,
    /// Where `POST /-/reload` sends reloads; `None` unless `--web.enable-lifecycle`.
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// Where a failed decompression is counted.
    pub exposition_errors: Arc<ExpositionErrors>,
}

impl ServerOptions {
    /// Fixed settings, no reloads (tests, embedding).
    pub fn fixed(settings: LiveSettings, max_connections: usize) -> ServerOptions {
        // A receiver keeps the last value after its sender is gone.
        let (_, rx) = watch::channel(settings);
        ServerOptions {
            max_connections,
            settings: rx,
            reload: None,
            exposition_errors: Arc::default(),
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

/// Methods each path answers (the `Allow` header of a 405).
fn allowed_methods(path: &str) -> Option<&'static str> {
    match path {
        "/metrics" | "/healthz" | "/readyz" | "/" => Some("GET, HEAD"),
        "/-/reload" => Some("POST, PUT"),
        _ => None,
    }
}

const PLAIN: &str = "text/plain; charset=utf-8";

async fn handle(
    req: &Request<Incoming>,
    published: Arc<Published>,
    web: &WebConfig,
    reload: Option<&mpsc::Sender<ReloadRequest>>,
    errors: &ExpositionErrors,
) -> Response<Full<Bytes>> {
    let mut resp = route(req, published, web, reload, errors).await;
    for (name, value) in &web.headers {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    resp
}

async fn route(
    req: &Request<Incoming>,
    published: Arc<Published>,
    web: &WebConfig,
    reload: Option<&mpsc::Sender<ReloadRequest>>,
    errors: &ExpositionErrors,
) -> Response<Full<Bytes>> {
    // As exporter-toolkit: the rate limit, then authentication, guard every path.
    if let Some(limiter) = &web.rate_limit
        && !limiter.allow()
    {
        return respond(
            StatusCode::TOO_MANY_REQUESTS,
            PLAIN,
            Bytes::from_static(b"too many requests\n"),
        );
    }
    if let Some(auth) = &web.auth {
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        let auth = auth.clone();
        let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref()))
            .await
            .unwrap_or(false);
        if !ok {
            let mut r = respond(
                StatusCode::UNAUTHORIZED,
                PLAIN,
                Bytes::from_static(b"Unauthorized\n"),
            );
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Basic realm=\"bedrock-cost-exporter\", charset=\"UTF-8\"",
                ),
            );
            return r;
        }
    }
    let path = req.uri().path();
    let Some(allow) = allowed_methods(path) else {
        return respond(
            StatusCode::NOT_FOUND,
            PLAIN,
            Bytes::from_static(b"not found; try /metrics\n"),
        );
    };
    let method_ok = match path {
        "/-/reload" => req.method() == Method::POST || req.method() == Method::PUT,
        _ => req.method() == Method::GET || req.method() == Method::HEAD,
    };
    if !method_ok {
        let mut r = respond(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            Bytes::from(format!("method not allowed; {path} answers {allow}\n")),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        return r;
    }
    match path {
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
                    .unwrap_or_else(|e| Err(format!("the decompressing thread failed: {e}")));
                match body {
                    Ok(body) => respond(StatusCode::OK, content_type, body),
                    Err(e) => {
                        // Never a 200 with an empty body: every series would go stale unnoticed.
                        errors.decompress_failed();
                        tracing::error!(error = %e, "decompressing the exposition failed (a bug); answered 500");
                        respond(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            PLAIN,
                            Bytes::from(format!("the exposition could not be decompressed (a bug; please report it): {e}; a scrape that accepts gzip gets it as rendered\n")),
                        )
                    }
                }
            }
        }
        "/healthz" => respond(StatusCode::OK, PLAIN, Bytes::from_static(b"ok\n")),
        "/readyz" => {
            if published.ready {
                respond(StatusCode::OK, PLAIN, Bytes::from_static(b"ready\n"))
            } else {
                respond(StatusCode::SERVICE_UNAVAILABLE, PLAIN, Bytes::from_static(b"not ready: no refresh has succeeded yet\n"))
            }
        }
        "/-/reload" => {
            let Some(reload) = reload else {
                return respond(
                    StatusCode::FORBIDDEN,
                    PLAIN,
                    Bytes::from_static(b"Lifecycle API is not enabled (start with --web.enable-lifecycle).\n"),
                );
            };
            let (tx, rx) = oneshot::channel();
            if reload.send(tx).await.is_err() {
                return respond(StatusCode::SERVICE_UNAVAILABLE, PLAIN, Bytes::from_static(b"shutting down\n"));
            }
            match rx.await {
                Ok(Ok(())) => respond(StatusCode::OK, PLAIN, Bytes::from_static(b"configuration reloaded\n")),
                Ok(Err(e)) => respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    PLAIN,
                    Bytes::from(format!("failed to reload config: {e}\n")),
                ),
                Err(_) => respond(StatusCode::SERVICE_UNAVAILABLE, PLAIN, Bytes::from_static(b"shutting down\n")),
            }
        }
        _ => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from_static(b"<html><head><title>bedrock-cost-exporter</title></head><body><h1>bedrock-cost-exporter</h1><p>Amazon Bedrock cost from the CUR 2.0 bill.</p><ul><li><a href=\"/metrics\">/metrics</a></li><li><a href=\"/healthz\">/healthz</a></li><li><a href=\"/readyz\">/readyz</a></li></ul></body></html>\n"),
        ),
    }
}

/// Binds `addr`; the returned listener's `local_addr` tells the port when `addr` has port 0.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// What a plain-HTTP client on a TLS port gets (as Go's servers answer).
const PLAIN_ON_TLS: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Serves one accepted connection with the settings current when it was accepted.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    settings: LiveSettings,
    published: watch::Receiver<Arc<Published>>,
    reload: Option<mpsc::Sender<ReloadRequest>>,
    errors: Arc<ExpositionErrors>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let web = settings.web.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let current = published.borrow().clone();
        let web = web.clone();
        let reload = reload.clone();
        let errors = errors.clone();
        async move { Ok::<_, Infallible>(handle(&req, current, &web, reload.as_ref(), &errors).await) }
    });
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    let result = match &settings.web.tls {
        None => {
            watcher
                .watch(http1.serve_connection(TokioIo::new(stream), service))
                .await
        }
        Some(tls) => {
            // A TLS connection starts with a handshake record (0x16); anything else is most likely
            // plain HTTP: say so instead of a TLS alert the client cannot read.
            let mut first = [0u8; 1];
            let peeked =
                tokio::time::timeout(settings.header_read_timeout, stream.peek(&mut first)).await;
            match peeked {
                Ok(Ok(1)) if first[0] != 0x16 => {
                    let mut stream = stream;
                    // Read the request first (briefly), so closing does not reset the connection
                    // before the client has read the answer.
                    let mut sink = [0u8; 4096];
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), stream.read(&mut sink))
                            .await;
                    let _ = stream.write_all(PLAIN_ON_TLS).await;
                    let _ = stream.shutdown().await;
                    tracing::debug!(%peer, "plain HTTP on the TLS port; answered 400");
                    return;
                }
                Ok(Ok(1)) => {}
                _ => return,
            }
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            let tls_stream =
                match tokio::time::timeout(settings.header_read_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
            if h2 {
                let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                http2.timer(TokioTimer::new());
                watcher
                    .watch(http2.serve_connection(TokioIo::new(tls_stream), service))
                    .await
            } else {
                watcher
                    .watch(http1.serve_connection(TokioIo::new(tls_stream), service))
                    .await
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish (up to [`SHUTDOWN_GRACE`]).
/// At most `options.max_connections` connections are open at once: further clients wait in the
/// listen backlog until one closes.
pub async fn serve(
    listener: TcpListener,
    published: watch::Receiver<Arc<Published>>,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let limit = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut last_warned: Option<std::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match limit.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if last_warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = options.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                    last_warned = Some(std::time::Instant::now());
                }
                tokio::select! {
                    p = limit.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
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
                let settings = options.settings.borrow().clone();
                let watcher = graceful.watcher();
                let published = published.clone();
                let reload = options.reload.clone();
                let errors = options.exposition_errors.clone();
                tokio::spawn(async move {
                    connection(stream, peer, settings, published, reload, errors, watcher).await;
                    drop(permit);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// GET `path` over plain HTTP/1.1 without `Accept-Encoding`; the status and body.
    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).to_string();
        let status = text[9..12].parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    /// An exposition that cannot be decompressed for a client without gzip is a 500 saying so,
    /// never a 200 with an empty body (every series would go stale without a word).
    #[tokio::test]
    async fn a_failed_decompress_is_a_500() {
        let rendered = Rendered {
            text_gz: Bytes::from_static(b"not gzip at all"),
            ..Rendered::default()
        };
        let (_tx, rx) = watch::channel(Arc::new(Published::new(rendered, true)));
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let options = ServerOptions::fixed(LiveSettings::default(), 8);
        let errors = options.exposition_errors.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, rx, options, async {
            let _ = stopped.await;
        }));
        let (status, body) = get(addr, "/metrics").await;
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("decompress"), "{body}");
        assert_eq!(errors.counts().decompress, 1);
        // OpenMetrics was not touched, and a client taking gzip gets the bytes as rendered.
        let (status, _) = get(addr, "/healthz").await;
        assert_eq!(status, 200);
        let _ = stop.send(());
        let _ = server.await;
    }
}
