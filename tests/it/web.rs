//! `--web.config.file` with real clients on loopback: basic auth (401 without credentials, 200
//! with), TLS against a CA made in the test (rustls and curl/OpenSSL as clients, HTTP/2 by ALPN),
//! mTLS refusing clients the CA did not sign, plain HTTP refused on the TLS port, response headers,
//! `Allow` on 405, the connection bound, and the example file accepted by `promtool check
//! web-config` and by us.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bedrock_cost_exporter::web_config::{ProbeClient, WebConfig, basic_authorization};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::util::*;

/// PEM files of a test PKI: a CA, a server certificate for 127.0.0.1/localhost, a client
/// certificate it signed, and a client certificate of another CA.
pub struct Pki {
    pub ca: String,
    pub server: (String, String),
    pub client: (String, String),
    pub stranger: (String, String),
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(names: &[&str], issuer: &CertifiedIssuer<'static, KeyPair>) -> (String, String) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    leaf_with(CertificateParams::new(names).unwrap(), issuer)
}

/// A leaf certificate of `p` (its names already set) signed by `issuer`.
fn leaf_with(
    mut p: CertificateParams,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    p.distinguished_name.push(DnType::CommonName, "bce test");
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    pub fn new() -> Pki {
        let ca1 = ca("bce test CA");
        let ca2 = ca("some other CA");
        Pki {
            ca: ca1.pem(),
            server: leaf(&["127.0.0.1", "localhost"], &ca1),
            client: leaf(&["prometheus"], &ca1),
            stranger: leaf(&["prometheus"], &ca2),
        }
    }

    /// Writes ca.crt, server.crt, server.key, client.crt, client.key into `dir`.
    pub fn write(&self, dir: &Path) {
        for (name, body) in [
            ("ca.crt", &self.ca),
            ("server.crt", &self.server.0),
            ("server.key", &self.server.1),
            ("client.crt", &self.client.0),
            ("client.key", &self.client.1),
            ("stranger.crt", &self.stranger.0),
            ("stranger.key", &self.stranger.1),
        ] {
            std::fs::write(dir.join(name), body).unwrap();
        }
    }
}

/// A bcrypt hash of `password` (cost 4: the tests need no strength).
pub fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// A new folder holding the test PKI (`ca.crt`, `server.crt`, `server.key`, …) and `web.yml`
/// with `yaml` (relative file names in it resolve against that folder).
fn pki_with_web_config(yaml: impl FnOnce(&Path) -> String) -> (tempfile::TempDir, Pki, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write(dir.path());
    let web = dir.path().join("web.yml");
    std::fs::write(&web, yaml(dir.path())).unwrap();
    (dir, pki, web)
}

/// `serve` on the bundled sample behind the web configuration `web`.
fn serve_behind(web: &Path) -> Daemon {
    Daemon::start(
        &[
            "--source",
            &sample(),
            "--web.config.file",
            web.to_str().unwrap(),
        ],
        &[],
    )
}

fn sample() -> String {
    repo().join("sample/export").to_str().unwrap().to_string()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

#[test]
fn basic_auth_guards_every_path_and_headers_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  prometheus: {}\n  probe: {}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n",
            hash("scrape-secret"),
            hash("probe-secret")
        ),
    )
    .unwrap();
    let d = serve_behind(&web);
    let good = basic_authorization("prometheus", "scrape-secret");
    let good = good.to_str().unwrap();
    let bad = basic_authorization("prometheus", "wrong");
    let nobody = basic_authorization("nobody", "scrape-secret");
    for path in ["/metrics", "/healthz", "/readyz", "/", "/nope"] {
        let (status, head, _) = raw_request(d.addr, "GET", path, &[]);
        assert_eq!(status, 401, "{path} without credentials: {head}");
        assert!(
            header(&head, "www-authenticate").is_some_and(|v| v.starts_with("Basic")),
            "{head}"
        );
        assert_eq!(
            header(&head, "x-frame-options"),
            Some("deny"),
            "headers on a 401 too: {head}"
        );
        for wrong in [&bad, &nobody] {
            let (status, _, _) = raw_request(
                d.addr,
                "GET",
                path,
                &[("Authorization", wrong.to_str().unwrap())],
            );
            assert_eq!(status, 401, "{path} with wrong credentials");
        }
    }
    wait_for(Duration::from_secs(60), "/readyz with credentials", || {
        (raw_request(d.addr, "GET", "/readyz", &[("Authorization", good)]).0 == 200).then_some(())
    });
    let (status, head, body) = raw_request(d.addr, "GET", "/metrics", &[("Authorization", good)]);
    assert_eq!(status, 200, "{head}");
    assert!(body.contains("bedrock_cost_usd{"), "{body:.300}");
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    // The health check authenticates as its own user.
    let probe = basic_authorization("probe", "probe-secret");
    assert_eq!(
        raw_request(
            d.addr,
            "GET",
            "/healthz",
            &[("Authorization", probe.to_str().unwrap())]
        )
        .0,
        200
    );
    // 405 says what is allowed; the lifecycle API is off by default.
    let (status, head, _) = raw_request(d.addr, "POST", "/metrics", &[("Authorization", good)]);
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow"), Some("GET, HEAD"), "{head}");
    let (status, head, _) = raw_request(d.addr, "DELETE", "/-/reload", &[("Authorization", good)]);
    assert_eq!(
        (status, header(&head, "allow")),
        (405, Some("POST, PUT")),
        "{head}"
    );
    let (status, _, body) = raw_request(d.addr, "POST", "/-/reload", &[("Authorization", good)]);
    assert_eq!(status, 403, "{body}");
    // The probe helper speaks the same file.
    let cfg = WebConfig::load(Some(&web)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (creds, want) in [(Some(("probe", "probe-secret")), 200), (None, 401)] {
        let client = ProbeClient::new(&cfg, creds, None).unwrap();
        let (status, _) = rt
            .block_on(client.get(d.addr, "/healthz", Duration::from_secs(10)))
            .unwrap();
        assert_eq!(status, want);
    }
}

/// A rustls client trusting `ca`, optionally with a client certificate.
fn tls_client(
    ca: &str,
    client: Option<&(String, String)>,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut c = match client {
        None => b.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            b.with_client_auth_cert(
                chain,
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap()
        }
    };
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(c)
}

/// GET over TLS with a blocking rustls stream; Err when the handshake or the request fails.
fn tls_get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    auth: Option<&str>,
) -> Result<(u16, String), String> {
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    match tls.read_to_end(&mut buf) {
        Ok(_) => {}
        // Servers may close without close_notify after `Connection: close`.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| format!("no HTTP answer: {text:?}"))?;
    Ok((status, text))
}

/// curl (OpenSSL): a second, independent TLS client; ./scripts/test.sh installs it.
/// `curl --http2` on `url` with `extra` arguments: `"<status> <HTTP version>"`, or curl's error.
fn curl_h2(url: &str, extra: &[&str]) -> String {
    let out = Command::new(curl())
        .args(["-sS", "--http2", "-o", "/dev/null", "-w"])
        .arg("%{http_code} %{http_version}")
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn curl() -> std::path::PathBuf {
    tool("curl")
}

#[test]
fn tls_with_client_certificates_refuses_strangers_and_plain_http() {
    if missing(&[Need::Curl]) {
        return;
    }
    // Relative file names resolve against the web configuration file's folder.
    let (dir, pki, web) = pki_with_web_config(|_| {
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS12\n".into()
    });
    let d = serve_behind(&web);
    assert!(
        d.lines.iter().any(|l| l.contains("scheme=\"https\"")),
        "{:?}",
        d.lines
    );
    let trusted = tls_client(&pki.ca, Some(&pki.client), &[b"http/1.1"]);
    wait_for(Duration::from_secs(60), "/readyz over mTLS", || {
        (tls_get(d.addr, trusted.clone(), "/readyz", None).ok()?.0 == 200).then_some(())
    });
    let (status, body) = tls_get(d.addr, trusted, "/metrics", None).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("bedrock_exporter_build_info"), "{body:.300}");
    // A client certificate from another CA, and none at all: no answer.
    for client in [Some(&pki.stranger), None] {
        let r = tls_get(
            d.addr,
            tls_client(&pki.ca, client, &[b"http/1.1"]),
            "/metrics",
            None,
        );
        assert!(
            r.is_err(),
            "served a client with {:?}: {r:?}",
            client.map(|_| "a stranger's certificate")
        );
    }
    // Plain HTTP on the TLS port: a 400 saying so, no metrics.
    let (status, _, body) = raw_request(d.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("HTTPS"), "{body}");
    // A different TLS stack (curl with OpenSSL), HTTP/2 negotiated by ALPN.
    {
        let curl = curl();
        let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
        let url = format!("https://127.0.0.1:{}/metrics", d.addr.port());
        let got = curl_h2(
            &url,
            &[
                "--cacert",
                &p("ca.crt"),
                "--cert",
                &p("client.crt"),
                "--key",
                &p("client.key"),
            ],
        );
        assert_eq!(got, "200 2");
        let out = Command::new(&curl)
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "--cacert",
                &p("ca.crt"),
                "--cert",
                &p("stranger.crt"),
                "--key",
                &p("stranger.key"),
                &url,
            ])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "curl with a stranger's certificate succeeded"
        );
    }
    // The probe helper: pinned to the server certificate, with the client certificate.
    let cfg = WebConfig::load(Some(&web)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = ProbeClient::new(
        &cfg,
        None,
        Some((
            pki.client.0.clone().into_bytes(),
            pki.client.1.clone().into_bytes(),
        )),
    )
    .unwrap();
    let (status, _) = rt
        .block_on(client.get(d.addr, "/healthz", Duration::from_secs(10)))
        .unwrap();
    assert_eq!(status, 200);
}

/// `client_allowed_sans`: a client certificate the CA signed is served only when one of its
/// subject alternative names (DNS, IP, e-mail or URI) is listed.
#[test]
fn client_allowed_sans_admit_only_listed_names() {
    let dir = tempfile::tempdir().unwrap();
    let ca1 = ca("bce test CA");
    let server = leaf(&["127.0.0.1"], &ca1);
    std::fs::write(dir.path().join("ca.crt"), ca1.pem()).unwrap();
    std::fs::write(dir.path().join("server.crt"), &server.0).unwrap();
    std::fs::write(dir.path().join("server.key"), &server.1).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans:\n    - prometheus.example.org\n    - 192.0.2.7\n    - 2001:db8::7\n    - scraper@example.org\n    - spiffe://example.org/ns/monitoring/sa/prometheus\n",
    )
    .unwrap();
    // (Debian's promtool 2.42 predates client_allowed_sans, so it cannot check this file.)
    let with = |sans: Vec<SanType>| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names = sans;
        leaf_with(p, &ca1)
    };
    let dns = |n: &str| SanType::DnsName(n.try_into().unwrap());
    let ip = |a: &str| SanType::IpAddress(a.parse().unwrap());
    let allowed = [
        (
            "a DNS name",
            with(vec![
                dns("other.example.org"),
                dns("prometheus.example.org"),
            ]),
        ),
        ("an IPv4 address", with(vec![ip("192.0.2.7")])),
        ("an IPv6 address", with(vec![ip("2001:db8:0:0::7")])),
        (
            "an e-mail address",
            with(vec![SanType::Rfc822Name(
                "scraper@example.org".try_into().unwrap(),
            )]),
        ),
        (
            "a URI",
            with(vec![SanType::URI(
                "spiffe://example.org/ns/monitoring/sa/prometheus"
                    .try_into()
                    .unwrap(),
            )]),
        ),
    ];
    let refused = [
        ("another DNS name", with(vec![dns("grafana.example.org")])),
        (
            "a listed name in another case",
            with(vec![dns("Prometheus.example.org")]),
        ),
        ("another IP address", with(vec![ip("192.0.2.8")])),
        (
            "another URI",
            with(vec![SanType::URI(
                "spiffe://example.org/ns/x/sa/prometheus"
                    .try_into()
                    .unwrap(),
            )]),
        ),
        ("no SAN", with(vec![])),
        (
            "a listed name signed by another CA",
            leaf(&["prometheus.example.org"], &ca("some other CA")),
        ),
    ];
    let d = serve_behind(&web);
    let ca_pem = ca1.pem();
    for (what, cert) in &allowed {
        let client = tls_client(&ca_pem, Some(cert), &[b"http/1.1"]);
        let status = wait_for(Duration::from_secs(60), what, || {
            tls_get(d.addr, client.clone(), "/metrics", None).ok()
        });
        assert_eq!(status.0, 200, "a client certificate with {what}");
    }
    for (what, cert) in &refused {
        let r = tls_get(
            d.addr,
            tls_client(&ca_pem, Some(cert), &[b"http/1.1"]),
            "/metrics",
            None,
        );
        assert!(r.is_err(), "served a client certificate with {what}: {r:?}");
    }
    // Without a client certificate there is no SAN to match: a configuration that lets clients
    // in without one is refused, naming the key.
    let lax = dir.path().join("lax.yml");
    std::fs::write(
        &lax,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n  client_allowed_sans: [prometheus.example.org]\n",
    )
    .unwrap();
    let e = WebConfig::load(Some(&lax)).unwrap_err().to_string();
    assert!(
        e.contains("tls_server_config.client_allowed_sans")
            && e.contains("RequireAndVerifyClientCert"),
        "{e}"
    );
}

#[test]
fn tls_with_basic_auth_over_http2_and_http1() {
    if missing(&[Need::Curl]) {
        return;
    }
    let (dir, pki, web) = pki_with_web_config(|d| {
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  min_version: TLS13\nbasic_auth_users:\n  prometheus: {}\n",
            d.join("server.crt").display(),
            d.join("server.key").display(),
            hash("s3cret")
        )
    });
    let d = serve_behind(&web);
    let good = basic_authorization("prometheus", "s3cret");
    let c = tls_client(&pki.ca, None, &[b"http/1.1"]);
    let (status, _) = tls_get(d.addr, c.clone(), "/metrics", None).unwrap();
    assert_eq!(status, 401);
    wait_for(Duration::from_secs(60), "/readyz over TLS", || {
        (tls_get(d.addr, c.clone(), "/readyz", good.to_str().ok())
            .ok()?
            .0
            == 200)
            .then_some(())
    });
    let (status, body) = tls_get(d.addr, c, "/metrics", good.to_str().ok()).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("bedrock_cost_usd{"));
    // min_version TLS13: a TLS 1.2-only client is refused.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
        .unwrap();
    let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    assert!(tls_get(d.addr, Arc::new(tls12), "/healthz", good.to_str().ok()).is_err());
    {
        let url = format!("https://127.0.0.1:{}/metrics", d.addr.port());
        let ca = dir.path().join("ca.crt");
        for (creds, want) in [("prometheus:s3cret", "200 2"), ("prometheus:nope", "401 2")] {
            let got = curl_h2(&url, &["--cacert", ca.to_str().unwrap(), "-u", creds]);
            assert_eq!(got, want);
        }
    }
}

#[test]
fn connections_beyond_the_bound_wait_until_one_closes() {
    let d = Daemon::start(
        &["--source", &sample()],
        &[
            ("BCE_MAX_CONNECTIONS", "2"),
            ("BCE_HEADER_READ_TIMEOUT", "30s"),
        ],
    );
    let idle1 = TcpStream::connect(d.addr).unwrap();
    let idle2 = TcpStream::connect(d.addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(d.addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    write!(
        third,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let early = third.read(&mut buf);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "a third connection was served beyond max_connections = 2: {early:?}"
    );
    drop(idle1);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut resp = Vec::new();
    let _ = third.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "after a slot freed: {text:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(idle2);
}

#[test]
fn the_example_web_config_passes_promtool_and_us_and_bad_keys_are_named() {
    if missing(&[Need::Promtool]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    Pki::new().write(dir.path());
    let example = dir.path().join("web-config.yml");
    std::fs::copy(repo().join("config/web-config.example.yml"), &example).unwrap();
    let promtool = |f: &Path| {
        let out = Command::new(tool("promtool"))
            .args(["check", "web-config"])
            .arg(f)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, report) = promtool(&example);
    assert!(ok, "promtool check web-config: {report}");
    let cfg = WebConfig::load(Some(&example)).unwrap();
    assert!(
        cfg.tls.is_some() && cfg.auth.is_some(),
        "{}",
        cfg.describe()
    );
    // An unknown key: both refuse it; we name it.
    let typo = dir.path().join("typo.yml");
    std::fs::write(&typo, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_versoin: TLS12\n").unwrap();
    assert!(!promtool(&typo).0, "promtool accepted an unknown key");
    let e = WebConfig::load(Some(&typo)).unwrap_err().to_string();
    assert!(e.contains("min_versoin") && e.contains("typo.yml"), "{e}");
    // Valid for Go, but not something rustls can honour: refused, naming the key.
    for (yaml, key) in [
        (
            "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
            "tls_server_config.cipher_suites",
        ),
        (
            "  curve_preferences: [CurveP521]\n",
            "tls_server_config.curve_preferences",
        ),
        ("  min_version: TLS10\n", "tls_server_config.min_version"),
    ] {
        let f = dir.path().join("go-only.yml");
        std::fs::write(
            &f,
            format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{yaml}"),
        )
        .unwrap();
        assert!(promtool(&f).0, "promtool refused {yaml}");
        let e = WebConfig::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains(key), "{yaml}: {e}");
    }
    // Mappable Go names are honoured.
    let f = dir.path().join("go-ok.yml");
    std::fs::write(&f, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]\n  curve_preferences: [X25519, CurveP256]\n  prefer_server_cipher_suites: false\n").unwrap();
    assert!(promtool(&f).0);
    WebConfig::load(Some(&f)).unwrap();
    // The daemon refuses to start on a bad file and says why.
    let out = run(&["check-config", "--web.config.file", typo.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("min_versoin"));
}

/// The `healthcheck` subcommand speaks the web configuration: TLS pinned to the server's own
/// certificate, basic auth from a password file, a client certificate under mTLS.
#[test]
fn healthcheck_speaks_tls_basic_auth_and_mtls() {
    let (dir, _pki, web) = pki_with_web_config(|d| {
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\nbasic_auth_users:\n  probe: {}\n",
            d.join("server.crt").display(),
            d.join("server.key").display(),
            d.join("ca.crt").display(),
            hash("probe-secret")
        )
    });
    let password = dir.path().join("password");
    std::fs::write(&password, "probe-secret\n").unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "nope\n").unwrap();
    let d = serve_behind(&web);
    let listen = d.addr.to_string();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "healthcheck",
            "--web.config.file",
            web.to_str().unwrap(),
            "--listen",
            &listen,
            "--timeout",
            "5s",
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let cert = dir.path().join("client.crt");
    let key = dir.path().join("client.key");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let pw = password.to_str().unwrap();
    let auth = ["--user", "probe", "--password-file", pw];
    let tls = ["--client-cert", cert, "--client-key", key];
    let (ok, text) = check(&[&auth[..], &tls[..]].concat());
    assert!(ok, "{text}");
    assert!(text.contains("healthy: https://"), "{text}");
    // Without the password: 401, said so.
    let (ok, text) = check(&tls);
    assert!(!ok && text.contains("401"), "{text}");
    // A wrong password.
    let wrong_auth = [
        "--user",
        "probe",
        "--password-file",
        wrong.to_str().unwrap(),
    ];
    let (ok, text) = check(&[&wrong_auth[..], &tls[..]].concat());
    assert!(!ok && text.contains("401"), "{text}");
    // Without a client certificate the handshake is refused.
    let (ok, text) = check(&auth);
    assert!(!ok && text.contains("unhealthy"), "{text}");
    // --ready too.
    wait_for(Duration::from_secs(60), "ready through healthcheck", || {
        check(&[&["--ready"][..], &auth[..], &tls[..]].concat())
            .0
            .then_some(())
    });
}

/// `healthcheck --url` speaks the web configuration as the form without a URL does: an https://
/// URL with TLS pinned to the server's certificate, basic auth from a password file, a client
/// certificate; it used to answer "serves plain HTTP only" / "no basic auth yet" before reading
/// the file at all.
#[test]
fn healthcheck_url_speaks_the_web_config() {
    let (dir, _pki, web) = pki_with_web_config(|d| {
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\nbasic_auth_users:\n  probe: {}\n",
            d.join("server.crt").display(),
            d.join("server.key").display(),
            d.join("ca.crt").display(),
            hash("probe-secret")
        )
    });
    let password = dir.path().join("password");
    std::fs::write(&password, "probe-secret\n").unwrap();
    let d = serve_behind(&web);
    let (cert, key) = (dir.path().join("client.crt"), dir.path().join("client.key"));
    let check = |url: &str, auth: bool| {
        let mut args = vec![
            "healthcheck".to_string(),
            "--web.config.file".into(),
            web.display().to_string(),
            "--url".into(),
            url.to_string(),
            "--client-cert".into(),
            cert.display().to_string(),
            "--client-key".into(),
            key.display().to_string(),
        ];
        if auth {
            args.extend(["--user".into(), "probe".into(), "--password-file".into()]);
            args.push(password.display().to_string());
        }
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let port = d.addr.port();
    for host in ["127.0.0.1", "localhost"] {
        let (ok, text) = check(&format!("https://{host}:{port}/healthz"), true);
        assert!(ok, "{text}");
        assert!(
            text.contains(&format!("healthy: https://{host}:{port}/healthz")),
            "{text}"
        );
    }
    let (ok, text) = check(&format!("https://127.0.0.1:{port}/healthz"), false);
    assert!(!ok && text.contains("401"), "{text}");
    // http:// to a TLS server says to use https.
    let (ok, text) = check(&format!("http://127.0.0.1:{port}/healthz"), true);
    assert!(!ok && text.contains("https://"), "{text}");
    // https:// without a web configuration: there is no certificate to trust.
    let out = run(&[
        "healthcheck",
        "--url",
        &format!("https://127.0.0.1:{port}/healthz"),
    ]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("--web.config.file"),
        "{text}"
    );
}
