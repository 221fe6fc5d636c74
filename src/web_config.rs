//! The web configuration file every Prometheus exporter reads (`--web.config.file`, the
//! exporter-toolkit format): TLS (`tls_server_config`), basic authentication (`basic_auth_users`,
//! bcrypt hashes), response headers and HTTP/2 (`http_server_config`) and a request rate limit
//! (`rate_limit`). Read into [`WebConfig`], checked whole at load (and on every reload): a key we
//! do not know, or one we cannot honour with rustls (a Go cipher suite rustls does not implement,
//! curve P-521, TLS 1.0/1.1), is an error naming the key.
//!
//! Also the client side of it, [`ProbeClient`]: a GET to our own server that speaks TLS and basic
//! auth as the same file says (for health checks).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

/// An error in the web configuration file, naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("web config file {path}: cannot read it: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("web config file {path}: {message}")]
    Syntax { path: String, message: String },
    #[error("web config file {path}: key `{key}`: {message}")]
    Key {
        path: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    interval: Option<String>,
    burst: Option<u32>,
}

/// The response headers `http_server_config.headers` may set (as exporter-toolkit allows).
pub const ALLOWED_HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
];

/// A checked web configuration. The default (no file) is plain HTTP without authentication.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// TLS, when `tls_server_config` has a certificate.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The server's certificate chain (for [`ProbeClient`], which pins it).
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// Basic authentication; `None` when no users are configured.
    pub auth: Option<Arc<BasicAuth>>,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// HTTP/2 over TLS (ALPN `h2`); plain HTTP is always HTTP/1.1.
    pub http2: bool,
    pub rate_limit: Option<Arc<RateLimiter>>,
    /// The file it came from.
    pub path: Option<PathBuf>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            tls: None,
            cert_chain: Vec::new(),
            auth: None,
            headers: Vec::new(),
            http2: true,
            rate_limit: None,
            path: None,
        }
    }
}

impl WebConfig {
    /// Reads and checks a web configuration file; `None` gives the default (plain HTTP, no auth).
    pub fn load(path: Option<&Path>) -> Result<WebConfig, WebConfigError> {
        let Some(path) = path else {
            return Ok(WebConfig::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut c = parse(&text, dir, &path.display().to_string())?;
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    /// A short description for the log: `tls=… auth=…`.
    pub fn describe(&self) -> String {
        format!(
            "tls={} basic_auth_users={} headers={} http2={} rate_limit={}",
            self.tls.is_some(),
            self.auth.as_ref().map_or(0, |a| a.users.len()),
            self.headers.len(),
            self.http2 && self.tls.is_some(),
            self.rate_limit.is_some()
        )
    }
}

/// Parses and checks the text of a web configuration file; relative file names are resolved
/// against `dir` (the file's directory, as exporter-toolkit does). `origin` names the file in errors.
pub fn parse(text: &str, dir: &Path, origin: &str) -> Result<WebConfig, WebConfigError> {
    let key_err = |key: &str, message: String| WebConfigError::Key {
        path: origin.to_string(),
        key: key.to_string(),
        message,
    };
    let blank = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
    let raw: RawWebConfig = if blank {
        RawWebConfig::default()
    } else {
        serde_norway::from_str::<Option<RawWebConfig>>(text)
            .map_err(|e| WebConfigError::Syntax {
                path: origin.to_string(),
                message: format!("{e} (the keys are those of the Prometheus exporter-toolkit web configuration: tls_server_config, http_server_config, basic_auth_users, rate_limit)"),
            })?
            .unwrap_or_default()
    };
    let mut out = WebConfig::default();

    if let Some(http) = raw.http_server_config {
        out.http2 = http.http2.unwrap_or(true);
        for (name, value) in http.headers.unwrap_or_default() {
            let key = format!("http_server_config.headers.{name}");
            let Some(canonical) = ALLOWED_HEADERS
                .iter()
                .find(|h| h.eq_ignore_ascii_case(&name))
            else {
                return Err(key_err(
                    &key,
                    format!(
                        "is not a header that may be set; allowed: {}",
                        ALLOWED_HEADERS.join(", ")
                    ),
                ));
            };
            if value.trim().is_empty() {
                continue; // "unset if blank"
            }
            let lower = value.to_ascii_lowercase();
            if *canonical == "X-Frame-Options" && lower != "deny" && lower != "sameorigin" {
                return Err(key_err(
                    &key,
                    format!("{value:?}: accepted values are deny and sameorigin"),
                ));
            }
            if *canonical == "X-Content-Type-Options" && lower != "nosniff" {
                return Err(key_err(
                    &key,
                    format!("{value:?}: the accepted value is nosniff"),
                ));
            }
            let v = HeaderValue::from_str(&value)
                .map_err(|_| key_err(&key, format!("{value:?} is not a valid header value")))?;
            out.headers
                .push((HeaderName::from_static_lower(canonical), v));
        }
    }

    if let Some(users) = raw.basic_auth_users {
        let mut checked = BTreeMap::new();
        for (user, hash) in users {
            let key = format!("basic_auth_users.{user}");
            if user.contains(':') {
                return Err(key_err(&key, "a user name cannot contain ':'".into()));
            }
            let parts: bcrypt::HashParts = hash.parse().map_err(|_| {
                key_err(
                    &key,
                    "is not a bcrypt hash ($2y$10$…); make one with `bedrock-cost-exporter hash-password < password-file`"
                        .into(),
                )
            })?;
            let _ = parts;
            checked.insert(user, hash);
        }
        if !checked.is_empty() {
            out.auth = Some(Arc::new(BasicAuth::new(checked)));
        }
    }

    if let Some(rl) = raw.rate_limit {
        let interval = match rl.interval.as_deref() {
            None => Duration::ZERO,
            Some(s) => crate::config::parse_duration(s)
                .filter(|d| *d <= crate::config::MAX_DURATION)
                .ok_or_else(|| {
                    key_err(
                        "rate_limit.interval",
                        format!("{s:?} is not a duration like 1s or 100ms"),
                    )
                })?,
        };
        let burst = rl.burst.unwrap_or(0);
        if !interval.is_zero() {
            if burst == 0 {
                return Err(key_err(
                    "rate_limit.burst",
                    "must be at least 1 when rate_limit.interval is set".into(),
                ));
            }
            out.rate_limit = Some(Arc::new(RateLimiter::new(interval, burst)));
        }
    }

    if let Some(tls) = raw.tls_server_config {
        let (config, chain) = tls_config(tls, dir, &key_err)?;
        let mut config = config;
        config.alpn_protocols = if out.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        out.tls = Some(Arc::new(config));
        out.cert_chain = chain;
    }
    Ok(out)
}

trait FromStaticLower {
    fn from_static_lower(s: &str) -> HeaderName;
}

impl FromStaticLower for HeaderName {
    fn from_static_lower(s: &str) -> HeaderName {
        HeaderName::from_bytes(s.to_ascii_lowercase().as_bytes()).expect("a valid header name")
    }
}

fn read_file(
    dir: &Path,
    name: &str,
    key: &str,
    key_err: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Vec<u8>, WebConfigError> {
    let p = dir.join(name);
    std::fs::read(&p).map_err(|e| key_err(key, format!("cannot read {}: {e}", p.display())))
}

/// Go's curve name → the rustls group name (`Debug` of `NamedGroup`).
fn go_curve_name(go: &str) -> Option<&'static str> {
    Some(match go {
        "CurveP256" => "secp256r1",
        "CurveP384" => "secp384r1",
        "X25519" => "X25519",
        "X25519MLKEM768" => "X25519MLKEM768",
        _ => return None,
    })
}

type KeyErr<'a> = dyn Fn(&str, String) -> WebConfigError + 'a;

fn tls_config(
    raw: RawTls,
    dir: &Path,
    key_err: &KeyErr<'_>,
) -> Result<(rustls::ServerConfig, Vec<CertificateDer<'static>>), WebConfigError> {
    // Certificate and key: files or inline PEM, never both.
    let cert_pem = match (&raw.cert_file, &raw.cert) {
        (Some(_), Some(_)) => return Err(key_err("tls_server_config.cert", "give either cert or cert_file, not both".into())),
        (Some(f), None) => read_file(dir, f, "tls_server_config.cert_file", key_err)?,
        (None, Some(pem)) => pem.clone().into_bytes(),
        (None, None) => return Err(key_err("tls_server_config.cert_file", "is missing: TLS needs cert_file and key_file (or remove tls_server_config for plain HTTP)".into())),
    };
    let key_pem = match (&raw.key_file, &raw.key) {
        (Some(_), Some(_)) => {
            return Err(key_err(
                "tls_server_config.key",
                "give either key or key_file, not both".into(),
            ));
        }
        (Some(f), None) => read_file(dir, f, "tls_server_config.key_file", key_err)?,
        (None, Some(pem)) => pem.clone().into_bytes(),
        (None, None) => {
            return Err(key_err(
                "tls_server_config.key_file",
                "is missing: TLS needs cert_file and key_file".into(),
            ));
        }
    };
    let cert_key = if raw.cert_file.is_some() {
        "tls_server_config.cert_file"
    } else {
        "tls_server_config.cert"
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| key_err(cert_key, format!("not a PEM certificate: {e}")))?;
    if chain.is_empty() {
        return Err(key_err(
            cert_key,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let key_key = if raw.key_file.is_some() {
        "tls_server_config.key_file"
    } else {
        "tls_server_config.key"
    };
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| key_err(key_key, format!("holds no usable PEM private key: {e}")))?;

    // Versions: rustls speaks TLS 1.2 and 1.3.
    let version = |k: &str, v: &Option<String>, default: u8| -> Result<u8, WebConfigError> {
        match v.as_deref() {
            None => Ok(default),
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some(s @ ("TLS10" | "TLS11")) => Err(key_err(
                k,
                format!(
                    "{s} cannot be honoured: only TLS 1.2 and 1.3 are implemented (rustls); use TLS12 or TLS13"
                ),
            )),
            Some(s) => Err(key_err(
                k,
                format!("{s:?} is not one of TLS10, TLS11, TLS12, TLS13"),
            )),
        }
    };
    let min = version("tls_server_config.min_version", &raw.min_version, 12)?;
    let max = version("tls_server_config.max_version", &raw.max_version, 13)?;
    if min > max {
        return Err(key_err(
            "tls_server_config.min_version",
            format!("TLS{min} is above max_version TLS{max}"),
        ));
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }

    let mut provider: CryptoProvider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(names) = &raw.cipher_suites {
        let all = provider.cipher_suites.clone();
        let name_of = |s: &rustls::SupportedCipherSuite| format!("{:?}", s.suite());
        let mut tls12 = Vec::new();
        for go in names {
            // Go's names and rustls' agree for every suite both implement.
            match all.iter().find(|s| name_of(s) == *go) {
                Some(s @ rustls::SupportedCipherSuite::Tls12(_)) => tls12.push(*s),
                // Go applies cipher_suites to TLS 1.2 only; a TLS 1.3 name changes nothing there either.
                Some(rustls::SupportedCipherSuite::Tls13(_)) => {}
                None => {
                    let available: Vec<String> = all
                        .iter()
                        .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls12(_)))
                        .map(name_of)
                        .collect();
                    return Err(key_err(
                        "tls_server_config.cipher_suites",
                        format!(
                            "{go} cannot be honoured: rustls does not implement it (only AEAD suites with ECDHE); available: {}",
                            available.join(", ")
                        ),
                    ));
                }
            }
        }
        if tls12.is_empty() && min <= 12 && !names.is_empty() {
            return Err(key_err(
                "tls_server_config.cipher_suites",
                "names no TLS 1.2 suite; TLS 1.2 would have none".into(),
            ));
        }
        if !names.is_empty() {
            provider.cipher_suites = tls12
                .into_iter()
                .chain(
                    all.iter()
                        .copied()
                        .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_))),
                )
                .collect();
        }
    }
    if let Some(curves) = &raw.curve_preferences
        && !curves.is_empty()
    {
        let mut groups = Vec::new();
        for c in curves {
            let found = go_curve_name(c).and_then(|want| {
                rustls::crypto::aws_lc_rs::ALL_KX_GROUPS
                    .iter()
                    .find(|g| format!("{:?}", g.name()) == want)
            });
            match found {
                Some(g) => groups.push(*g),
                None => {
                    return Err(key_err(
                        "tls_server_config.curve_preferences",
                        format!(
                            "{c} cannot be honoured; available: CurveP256, CurveP384, X25519, X25519MLKEM768"
                        ),
                    ));
                }
            }
        }
        provider.kx_groups = groups;
    }
    let provider = Arc::new(provider);

    // Client certificates.
    let auth_type = raw.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let ca_pem = match (&raw.client_ca_file, &raw.client_ca) {
        (Some(_), Some(_)) => {
            return Err(key_err(
                "tls_server_config.client_ca",
                "give either client_ca or client_ca_file, not both".into(),
            ));
        }
        (Some(f), None) => Some(read_file(
            dir,
            f,
            "tls_server_config.client_ca_file",
            key_err,
        )?),
        (None, Some(pem)) => Some(pem.clone().into_bytes()),
        (None, None) => None,
    };
    let ca_key = if raw.client_ca_file.is_some() {
        "tls_server_config.client_ca_file"
    } else {
        "tls_server_config.client_ca"
    };
    let roots = match &ca_pem {
        None => None,
        Some(pem) => {
            let mut store = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| key_err(ca_key, format!("not a PEM certificate: {e}")))?;
                store
                    .add(c)
                    .map_err(|e| key_err(ca_key, format!("not a usable CA certificate: {e}")))?;
            }
            if store.is_empty() {
                return Err(key_err(ca_key, "holds no PEM certificate".into()));
            }
            Some(Arc::new(store))
        }
    };
    let allowed_sans: Vec<String> = raw.client_allowed_sans.clone().unwrap_or_default();
    if !allowed_sans.is_empty()
        && !matches!(
            auth_type,
            "RequireAnyClientCert" | "RequireAndVerifyClientCert"
        )
    {
        return Err(key_err(
            "tls_server_config.client_allowed_sans",
            format!(
                "needs client_auth_type RequireAndVerifyClientCert (or RequireAnyClientCert), not {auth_type}: only then does every client send a certificate whose SANs can be matched"
            ),
        ));
    }
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match auth_type {
        "NoClientCert" => None,
        "RequestClientCert" => Some(Arc::new(AnyClientCert {
            mandatory: false,
            algs: provider.signature_verification_algorithms,
        })),
        "RequireAnyClientCert" => Some(Arc::new(AnyClientCert {
            mandatory: true,
            algs: provider.signature_verification_algorithms,
        })),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(roots) = roots.clone() else {
                return Err(key_err(
                    "tls_server_config.client_ca_file",
                    format!(
                        "is missing: client_auth_type {auth_type} verifies client certificates against it"
                    ),
                ));
            };
            let b = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let b = if auth_type == "VerifyClientCertIfGiven" {
                b.allow_unauthenticated()
            } else {
                b
            };
            Some(
                b.build()
                    .map_err(|e| key_err(ca_key, format!("cannot build a client verifier: {e}")))?,
            )
        }
        other => {
            return Err(key_err(
                "tls_server_config.client_auth_type",
                format!(
                    "{other:?} is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
                ),
            ));
        }
    };
    let verifier = match verifier {
        Some(inner) if !allowed_sans.is_empty() => Some(Arc::new(AllowedSans {
            inner,
            allowed: allowed_sans,
        }) as Arc<dyn ClientCertVerifier>),
        v => v,
    };
    if roots.is_some()
        && !matches!(
            auth_type,
            "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert"
        )
    {
        return Err(key_err(
            "tls_server_config.client_auth_type",
            format!(
                "is {auth_type} but client_ca_file is set: use RequireAndVerifyClientCert to check client certificates against it"
            ),
        ));
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| key_err("tls_server_config.min_version", format!("{e}")))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain.clone(), key).map_err(|e| {
        key_err(
            key_key,
            format!("does not fit the certificate or is unsupported: {e}"),
        )
    })?;
    config.ignore_client_order = raw.prefer_server_cipher_suites.unwrap_or(true);
    Ok((config, chain))
}

/// The handshake-signature methods of a certificate verifier (client or server side) that checks
/// signatures the way rustls itself does, with the algorithms in `self.algs`: the same three
/// trait methods in every such verifier.
macro_rules! handshake_signatures_with_algs {
    () => {
        handshake_signatures_with_algs!(
            verify_tls12_signature,
            rustls::crypto::verify_tls12_signature
        );
        handshake_signatures_with_algs!(
            verify_tls13_signature,
            rustls::crypto::verify_tls13_signature
        );
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algs.supported_schemes()
        }
    };
    ($method:ident, $check:path) => {
        fn $method(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            $check(message, cert, dss, &self.algs)
        }
    };
}

/// `RequestClientCert` / `RequireAnyClientCert`: a client certificate is asked for (and required)
/// but not checked against a CA, as Go does; the handshake signature is still verified.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    handshake_signatures_with_algs!();
}

/// `client_allowed_sans`: after `inner` accepts the client certificate, one of its subject
/// alternative names (DNS name, IP address, e-mail address or URI, compared exactly as written)
/// must be in the list, else the handshake fails, as exporter-toolkit does.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

/// The subject alternative names of a DER certificate as text: DNS names, e-mail addresses and
/// URIs as written, IP addresses in their usual text form (`192.0.2.1`, `2001:db8::1`). `None`
/// when the certificate cannot be parsed.
pub fn subject_alt_names(der: &[u8]) -> Option<Vec<String>> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Some(Vec::new());
    };
    Some(
        ext.value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                    Some(s.to_string())
                }
                GeneralName::IPAddress(b) => match b.len() {
                    4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                    16 => {
                        let ip = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).ok()?);
                        // Go prints an IPv4-mapped address as IPv4.
                        Some(match ip.to_ipv4_mapped() {
                            Some(v4) => v4.to_string(),
                            None => ip.to_string(),
                        })
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect(),
    )
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let sans = subject_alt_names(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        if sans.iter().any(|s| self.allowed.contains(s)) {
            Ok(verified)
        } else {
            tracing::warn!(
                client_sans = ?sans,
                "refused a client certificate: none of its subject alternative names is in tls_server_config.client_allowed_sans"
            );
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Basic authentication against bcrypt hashes. A successful check is remembered (by a SHA-256 of
/// user, password and hash, never the password itself) so a scrape every 15 s costs one bcrypt
/// per configuration, as exporter-toolkit does. An unknown user costs a bcrypt too (no timing
/// difference between "no such user" and "wrong password").
#[derive(Debug)]
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    good: Mutex<HashSet<[u8; 32]>>,
}

/// Most remembered good credentials; the memory is cleared when full.
const AUTH_CACHE_MAX: usize = 1024;

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            good: Mutex::new(HashSet::new()),
        }
    }

    /// Checks an `Authorization` header value. CPU-heavy on a cache miss (bcrypt): call it on a
    /// blocking thread.
    pub fn check(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.as_str(), true),
            None => (self.users.values().next().map_or("", String::as_str), false),
        };
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in [user.as_bytes(), password.as_bytes(), hash.as_bytes()] {
            ctx.update(&(part.len() as u64).to_le_bytes());
            ctx.update(part);
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(ctx.finish().as_ref());
        if known && self.good.lock().expect("auth cache").contains(&digest) {
            return true;
        }
        let ok = bcrypt::verify(password.as_bytes(), hash).unwrap_or(false) && known;
        if ok {
            let mut good = self.good.lock().expect("auth cache");
            if good.len() >= AUTH_CACHE_MAX {
                good.clear();
            }
            good.insert(digest);
        }
        ok
    }
}

/// `Basic base64(user:password)` → (user, password).
fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    use base64::Engine;
    let v = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// `Authorization` header value for basic auth.
pub fn basic_authorization(user: &str, password: &str) -> HeaderValue {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    HeaderValue::from_str(&format!("Basic {token}")).expect("base64 is a valid header value")
}

/// A token bucket: `burst` requests at once, then one per `interval` (`rate_limit`).
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: u32,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    fn new(interval: Duration, burst: u32) -> RateLimiter {
        RateLimiter {
            interval,
            burst,
            state: Mutex::new((burst as f64, Instant::now())),
        }
    }

    /// Takes a token if there is one.
    pub fn allow(&self) -> bool {
        let mut s = self.state.lock().expect("rate limiter");
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() / self.interval.as_secs_f64();
        s.0 = (s.0 + refill).min(self.burst as f64);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A client for probing our own server as the web configuration file says (the `healthcheck`
/// subcommand): TLS when the file has `tls_server_config`, pinned to the certificate in its
/// `cert_file` (a probe talks to its own process, so no CA is needed and no other certificate is
/// accepted); basic auth when credentials are given; a client certificate when given (needed
/// when `client_auth_type` requires one).
#[derive(Debug, Clone)]
pub struct ProbeClient {
    tls: Option<Arc<rustls::ClientConfig>>,
    authorization: Option<HeaderValue>,
}

/// A failed probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP request to {addr} failed: {message}")]
    Http { addr: SocketAddr, message: String },
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error("client certificate: {0}")]
    ClientCert(String),
}

impl ProbeClient {
    /// A client for the server configured by `web` (see [`WebConfig::load`]); `basic_auth` is a user
    /// and its plain password; `client_cert` a PEM certificate chain and key.
    pub fn new(
        web: &WebConfig,
        basic_auth: Option<(&str, &str)>,
        client_cert: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Result<ProbeClient, ProbeError> {
        let tls = match web.cert_chain.first() {
            None => None,
            Some(leaf) => {
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let b = rustls::ClientConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| ProbeError::ClientCert(e.to_string()))?
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(PinnedServerCert {
                        cert: leaf.clone(),
                        algs: provider.signature_verification_algorithms,
                    }));
                let mut c = match client_cert {
                    None => b.with_no_client_auth(),
                    Some((cert, key)) => {
                        let chain: Vec<CertificateDer<'static>> =
                            CertificateDer::pem_slice_iter(&cert)
                                .collect::<Result<_, _>>()
                                .map_err(|e| ProbeError::ClientCert(e.to_string()))?;
                        let key = PrivateKeyDer::from_pem_slice(&key)
                            .map_err(|e| ProbeError::ClientCert(e.to_string()))?;
                        b.with_client_auth_cert(chain, key)
                            .map_err(|e| ProbeError::ClientCert(e.to_string()))?
                    }
                };
                c.alpn_protocols = vec![b"http/1.1".to_vec()];
                Some(Arc::new(c))
            }
        };
        Ok(ProbeClient {
            tls,
            authorization: basic_auth.map(|(u, p)| basic_authorization(u, p)),
        })
    }

    /// `GET path` on `addr`; the status and body. Bounded by `timeout`.
    pub async fn get(
        &self,
        addr: SocketAddr,
        path: &str,
        timeout: Duration,
    ) -> Result<(u16, Bytes), ProbeError> {
        self.get_host(addr, &addr.to_string(), path, timeout).await
    }

    /// [`Self::get`] with `host` as the `Host` header (a URL's `host:port`).
    pub async fn get_host(
        &self,
        addr: SocketAddr,
        host: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<(u16, Bytes), ProbeError> {
        tokio::time::timeout(timeout, self.get_inner(addr, host, path))
            .await
            .map_err(|_| ProbeError::Timeout { addr, timeout })?
    }

    async fn get_inner(
        &self,
        addr: SocketAddr,
        host: &str,
        path: &str,
    ) -> Result<(u16, Bytes), ProbeError> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ProbeError::Connect { addr, source })?;
        match &self.tls {
            None => {
                self.request(hyper_util::rt::TokioIo::new(tcp), addr, host, path)
                    .await
            }
            Some(c) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let stream = tokio_rustls::TlsConnector::from(c.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|source| ProbeError::Tls { addr, source })?;
                self.request(hyper_util::rt::TokioIo::new(stream), addr, host, path)
                    .await
            }
        }
    }

    async fn request<IO>(
        &self,
        io: IO,
        addr: SocketAddr,
        host: &str,
        path: &str,
    ) -> Result<(u16, Bytes), ProbeError>
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        use http_body_util::BodyExt;
        let http = |e: hyper::Error| ProbeError::Http {
            addr,
            message: e.to_string(),
        };
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(http)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = hyper::Request::get(path)
            .header(hyper::header::HOST, host)
            .body(http_body_util::Empty::<Bytes>::new())
            .map_err(|e| ProbeError::Http {
                addr,
                message: e.to_string(),
            })?;
        if let Some(a) = &self.authorization {
            req.headers_mut()
                .insert(hyper::header::AUTHORIZATION, a.clone());
        }
        let resp = send.send_request(req).await.map_err(http)?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(http)?.to_bytes();
        Ok((status, body))
    }
}

/// Accepts exactly one server certificate (the one the web configuration names).
#[derive(Debug)]
struct PinnedServerCert {
    cert: CertificateDer<'static>,
    algs: WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinnedServerCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not the one in the web configuration's cert_file"
                    .into(),
            ))
        }
    }
    handshake_signatures_with_algs!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("/nonexistent"), "w.yml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_and_comment_only_files_are_plain_http() {
        for t in ["", "# nothing\n", "---\n"] {
            let c = parse(t, Path::new("."), "w.yml").unwrap();
            assert!(c.tls.is_none() && c.auth.is_none() && c.headers.is_empty());
        }
    }

    #[test]
    fn unknown_and_unhonourable_keys_are_named() {
        // (file, words its error must name)
        let cases: &[(&str, &[&str])] = &[
            ("tls_server_confg:\n  cert_file: x\n", &["tls_server_confg"]),
            (
                "tls_server_config:\n  cert_file: x\n  key_file: y\n  foo: 1\n",
                &["foo"],
            ),
            (
                "http_server_config:\n  headers:\n    X-Powered-By: me\n",
                &["http_server_config.headers.X-Powered-By"],
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                &["X-Frame-Options"],
            ),
            (
                "basic_auth_users:\n  alice: plaintext\n",
                &["basic_auth_users.alice", "bcrypt"],
            ),
            ("rate_limit:\n  interval: 1s\n", &["rate_limit.burst"]),
            (
                "tls_server_config:\n  min_version: TLS12\n",
                &["tls_server_config.cert_file"],
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n",
                &["tls_server_config.cert_file", "/nonexistent"],
            ),
        ];
        for (text, words) in cases {
            let e = err(text);
            assert!(words.iter().all(|w| e.contains(w)), "{text:?} → {e}");
        }
    }

    #[test]
    fn basic_auth_checks_bcrypt_and_remembers_good_credentials() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new([("alice".to_string(), hash)].into());
        let h = |u: &str, p: &str| basic_authorization(u, p);
        assert!(auth.check(Some(h("alice", "s3cret").as_bytes())));
        assert!(
            auth.check(Some(h("alice", "s3cret").as_bytes())),
            "from the cache"
        );
        assert!(!auth.check(Some(h("alice", "wrong").as_bytes())));
        assert!(!auth.check(Some(h("bob", "s3cret").as_bytes())));
        assert!(!auth.check(None));
        assert!(!auth.check(Some(b"Bearer abc")));
        assert!(!auth.check(Some(b"Basic !!!")));
        assert_eq!(
            parse_basic(b"basic YWxpY2U6czNjcjp4"),
            Some(("alice".into(), "s3cr:x".into())),
            "the password may contain ':'"
        );
    }

    #[test]
    fn rate_limiter_allows_a_burst_then_refills() {
        let r = RateLimiter::new(Duration::from_millis(200), 2);
        assert!(r.allow() && r.allow());
        assert!(!r.allow());
        std::thread::sleep(Duration::from_millis(250));
        assert!(r.allow());
    }
}
