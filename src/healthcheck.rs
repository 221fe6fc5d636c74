//! `healthcheck`: probe a running exporter over HTTP and exit 0 when it answers 2xx, so that a
//! container's HEALTHCHECK works without a shell, curl or wget in the image.
//!
//! Without `--web.config.file`: a deliberately small HTTP/1.1 client on `std::net`, one GET with
//! `Connection: close`, the status line read, everything bounded by one deadline. With it, the
//! probe speaks what the web configuration file says (TLS pinned to the server's own certificate,
//! basic auth with the given user and password file, a client certificate for mTLS) through
//! [`ProbeClient`], the same file the daemon reads — whether the target is the configured listen
//! address or a `--url`.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bedrock_cost_exporter::web_config::{ProbeClient, ProbeError, WebConfig};

/// Probes `url`; prints the verdict (stdout when healthy, stderr when not) and returns the exit
/// code: 0 healthy, 1 otherwise.
pub fn run(url: &str, timeout: Duration) -> ExitCode {
    let plain = |t: Target| {
        if t.tls {
            return Err(Unhealthy::BadUrl(format!(
                "{url:?}: https:// needs --web.config.file: the probe trusts exactly the server's own certificate (tls_server_config.cert_file), read from that file"
            )));
        }
        Ok(t)
    };
    match parse_url(url)
        .and_then(plain)
        .and_then(|t| probe(&t, timeout).map(|b| (t, b)))
    {
        Ok((target, body)) => {
            println!("healthy: {target} answered {body:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `--timeout`: a positive duration in the configuration's syntax (`500ms`, `5s`).
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    bedrock_cost_exporter::config::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a positive duration (e.g. 500ms, 5s)"))
}

/// A parsed `http(s)://host:port/path` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://`.
    pub tls: bool,
    /// `host:port` as written (for the `Host` header and messages).
    pub authority: String,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority, self.path)
    }
}

/// Why a probe did not find the exporter healthy.
#[derive(Debug)]
pub enum Unhealthy {
    /// The URL cannot be used.
    BadUrl(String),
    /// Name resolution or TCP connect failed, or the deadline passed.
    Unreachable { target: String, reason: String },
    /// Something answered, but not with a 2xx.
    Status {
        target: String,
        status: u16,
        reason: String,
        body: String,
    },
    /// The answer was not HTTP.
    Protocol { target: String, reason: String },
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unhealthy::BadUrl(m) => write!(f, "bad --url: {m}"),
            Unhealthy::Unreachable { target, reason } => write!(
                f,
                "unreachable: {target}: {reason} (is the exporter running and listening there? \
                 check `listen` / --listen / BCE_LISTEN)"
            ),
            Unhealthy::Status {
                target,
                status,
                reason,
                body,
            } => {
                write!(f, "unhealthy: {target} answered {status} {reason}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            Unhealthy::Protocol { target, reason } => {
                write!(f, "unhealthy: {target} did not answer HTTP: {reason}")
            }
        }
    }
}

/// Parses `http(s)://host[:port][/path]` (IPv6 in brackets). Credentials in the URL are refused
/// (they would show in the process list): `--user` and `--password-file` give them.
pub fn parse_url(url: &str) -> Result<Target, Unhealthy> {
    let bad = |m: &str| Unhealthy::BadUrl(format!("{url:?}: {m}"));
    let (tls, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(bad("expected http://host:port/path or https://…")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(bad(
            "credentials in the URL are not used (they would show in the process list): give --user and --password-file, with --web.config.file",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unterminated [IPv6] host"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("expected :port after ]"))?,
            ),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None if tls => 443,
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| bad(&format!("bad port {p:?}")))?,
    };
    Ok(Target {
        tls,
        authority: authority.to_string(),
        host,
        port,
        path: path.to_string(),
    })
}

/// The URL to probe on a daemon listening on `listen`: unspecified addresses (`0.0.0.0`, `[::]`)
/// are reached on loopback.
pub fn url_for_listen(listen: SocketAddr, path: &str) -> String {
    let ip = listen.ip();
    let host = if ip.is_unspecified() {
        if ip.is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            "[::1]".to_string()
        }
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("http://{host}:{}{path}", listen.port())
}

/// Credentials of a probe against a server with a web configuration file.
#[derive(Debug, Default)]
pub struct ProbeAuth {
    /// Basic-auth user and password.
    pub basic: Option<(String, String)>,
    /// PEM client certificate chain and key (mTLS).
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where a probe speaking the web configuration goes.
#[derive(Debug, Clone)]
pub struct WebTarget {
    /// Tried in turn until one connects.
    pub addrs: Vec<SocketAddr>,
    /// The `Host` header: `host:port`.
    pub host: String,
    pub path: String,
    /// `https://`.
    pub tls: bool,
}

impl WebTarget {
    /// The daemon listening on `listen` (`0.0.0.0` and `[::]` reached on loopback); `tls` from the
    /// web configuration.
    pub fn listen(listen: SocketAddr, path: &str, tls: bool) -> WebTarget {
        let ip = match listen.ip() {
            std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            other => other,
        };
        let addr = SocketAddr::new(ip, listen.port());
        WebTarget {
            addrs: vec![addr],
            host: addr.to_string(),
            path: path.to_string(),
            tls,
        }
    }

    /// A `--url`: its host resolved, its scheme as written.
    pub fn url(target: &Target) -> Result<WebTarget, Unhealthy> {
        let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| Unhealthy::Unreachable {
                target: target.to_string(),
                reason: format!("cannot resolve {}: {e}", target.host),
            })?
            .collect();
        Ok(WebTarget {
            addrs,
            host: target.authority.clone(),
            path: target.path.clone(),
            tls: target.tls,
        })
    }
}

impl fmt::Display for WebTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host, self.path)
    }
}

/// Probes `target`, speaking what `web` says (TLS, basic auth, client certificate); prints the
/// verdict and returns the exit code: 0 on a 2xx, 1 otherwise.
pub fn run_with_web(
    web: &WebConfig,
    target: &WebTarget,
    auth: ProbeAuth,
    timeout: Duration,
) -> ExitCode {
    let shown = target.to_string();
    match (target.tls, web.tls.is_some()) {
        (true, false) => {
            eprintln!(
                "unhealthy: {shown}: the web configuration has no TLS (tls_server_config), so the exporter serves http://; use an http:// URL"
            );
            return ExitCode::FAILURE;
        }
        (false, true) => {
            eprintln!(
                "unhealthy: {shown}: the web configuration turns TLS on (tls_server_config); use an https:// URL"
            );
            return ExitCode::FAILURE;
        }
        _ => {}
    }
    let client = match ProbeClient::new(
        web,
        auth.basic.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        auth.client_cert,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unhealthy: {shown}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("unhealthy: cannot start the probe: {e}");
            return ExitCode::FAILURE;
        }
    };
    let got = rt.block_on(async {
        let mut last = None;
        for &addr in &target.addrs {
            match client
                .get_host(addr, &target.host, &target.path, timeout)
                .await
            {
                Err(e @ ProbeError::Connect { .. }) => last = Some(Err(e)),
                other => return other,
            }
        }
        last.unwrap_or(Err(ProbeError::Http {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            message: format!("{} resolves to no address", target.host),
        }))
    });
    match got {
        Ok((status, body)) if (200..300).contains(&status) => {
            let first = String::from_utf8_lossy(&body)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            println!("healthy: {shown} answered {first:?}");
            ExitCode::SUCCESS
        }
        Ok((401, _)) => {
            eprintln!(
                "unhealthy: {shown} answered 401: basic auth is on; give --user and --password-file of a user in basic_auth_users"
            );
            ExitCode::FAILURE
        }
        Ok((status, body)) => {
            let first = String::from_utf8_lossy(&body)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            eprintln!("unhealthy: {shown} answered {status}: {first}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {shown}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// GETs the target within `timeout`; `Ok` with the first line of the body on a 2xx.
pub fn probe(target: &Target, timeout: Duration) -> Result<String, Unhealthy> {
    let deadline = Instant::now() + timeout;
    let shown = target.to_string();
    let unreachable = |reason: String| Unhealthy::Unreachable {
        target: shown.clone(),
        reason,
    };
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {}: {e}", target.host)))?
        .collect();
    let mut last_err = format!("{} resolves to no address", target.host);
    let mut stream = None;
    for addr in addrs {
        let Some(t) = left() else {
            return Err(unreachable(format!("no answer within {timeout:?}")));
        };
        match TcpStream::connect_timeout(&addr, t) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or_else(|| unreachable(last_err))?;
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            unreachable(format!("no answer within {timeout:?}"))
        } else {
            unreachable(format!("connection failed: {e}"))
        }
    };
    let t = left().ok_or_else(|| unreachable(format!("no answer within {timeout:?}")))?;
    stream.set_write_timeout(Some(t)).map_err(io)?;
    stream.set_read_timeout(Some(t)).map_err(io)?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: bedrock-cost-exporter-healthcheck/{}\r\n\
         Accept: text/plain\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        env!("CARGO_PKG_VERSION")
    )
    .map_err(io)?;
    // Headers and the start of the body are enough; never read more than 64 KiB.
    let mut reader = BufReader::new(stream.take(64 * 1024));
    let mut status_line = String::new();
    reader.read_line(&mut status_line).map_err(io)?;
    let protocol = |reason: &str| Unhealthy::Protocol {
        target: shown.clone(),
        reason: reason.to_string(),
    };
    if status_line.is_empty() {
        return Err(protocol("the connection closed without a response"));
    }
    let mut parts = status_line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err(protocol(&format!(
            "status line {:?}",
            status_line.trim_end()
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| protocol(&format!("status line {:?}", status_line.trim_end())))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(io)? == 0 || line.trim_end().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = String::new();
    let mut line = String::new();
    // The exporter's health bodies are one short line ("ok", "ready", "not ready: …").
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        let l = line.trim();
        let is_chunk_size = chunked && usize::from_str_radix(l, 16).is_ok();
        if !l.is_empty() && !is_chunk_size {
            body = l.chars().take(200).collect();
            break;
        }
        line.clear();
    }
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(Unhealthy::Status {
            target: shown,
            status,
            reason,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:9747/readyz").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9747, "/readyz")
        );
        let t = parse_url("http://[::1]:9/x?y=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 9, "/x?y=1")
        );
        let t = parse_url("http://exporter").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("exporter", 80, "/")
        );
        assert_eq!(t.to_string(), "http://exporter/");
        let t = parse_url("https://exporter/readyz").unwrap();
        assert_eq!((t.tls, t.port), (true, 443));
        assert_eq!(t.to_string(), "https://exporter/readyz");
        for bad in [
            "ftp://h/",
            "http://:9/",
            "http://h:99999/",
            "http://u:p@h/",
            "http://[::1/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listen_addresses_map_to_reachable_urls() {
        let cases = [
            ("0.0.0.0:9747", "http://127.0.0.1:9747/healthz"),
            ("[::]:9747", "http://[::1]:9747/healthz"),
            ("10.1.2.3:80", "http://10.1.2.3:80/healthz"),
            ("[fe80::1]:1", "http://[fe80::1]:1/healthz"),
        ];
        for (listen, want) in cases {
            assert_eq!(url_for_listen(listen.parse().unwrap(), "/healthz"), want);
        }
    }
}
