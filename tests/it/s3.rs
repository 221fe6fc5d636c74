//! The S3 source against a real S3-compatible server process on loopback (moto's server mode, with
//! IAM authentication and SigV4 checking turned on), optionally behind a fault-injecting TCP proxy
//! (503 SlowDown answers, a server that goes away in the middle of a refresh).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use cur_sample::{ExportSpec, ExportSummary, SampleFormat, SampleMode, write_export};

use crate::util::*;

const BUCKET: &str = "billing";
const PREFIX: &str = "cur/cur2";

/// Starts `serve` against `endpoint` (moto itself or a proxy in front of it) with `moto`'s
/// credentials and `extra` environment.
fn serve(moto: &Moto, endpoint: SocketAddr, extra: &[(&str, &str)]) -> Daemon {
    let env = moto.env();
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(extra.iter().copied())
        .collect();
    let args = s3_args(endpoint);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::start(&args, &env)
}

/// What the fault proxy does to the GETs it is armed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// An S3 error answer (HTTP status, S3 error code) instead of the server's.
    Status(u16, &'static str),
    /// The server's head (its Content-Length unchanged) and half its body, then the connection
    /// is closed.
    Truncate,
    /// The server's head and half its body, then the connection is reset (TCP RST).
    Reset,
    /// The server's head and half its body, then silence: the connection stays open.
    Stall,
}

const SLOWDOWN: Fault = Fault::Status(503, "SlowDown");
const INTERNAL_ERROR: Fault = Fault::Status(500, "InternalError");

/// An armed fault: applied to the next `left` GETs whose path contains `path`.
struct Armed {
    fault: Fault,
    path: &'static str,
    left: usize,
}

/// An HTTP/1.1 proxy in front of the server, request by request on kept-alive connections, that
/// can apply a [`Fault`] to chosen GETs, go down (reset every connection, refuse new ones), slow
/// requests down, and switch to another server (a restarted one).
struct FaultProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

struct ProxyState {
    upstream: Mutex<SocketAddr>,
    armed: Mutex<Option<Armed>>,
    /// Decoded paths of the requests a fault was applied to.
    hits: Mutex<Vec<String>>,
    /// Decoded paths of every GET received.
    gets: Mutex<Vec<String>>,
    down: AtomicBool,
    delay_ms: AtomicU64,
    stop: AtomicBool,
    conns: Mutex<Vec<Weak<TcpStream>>>,
}

impl FaultProxy {
    fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState {
            upstream: Mutex::new(upstream),
            armed: Mutex::new(None),
            hits: Mutex::new(Vec::new()),
            gets: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || handle(st, client));
            }
        });
        FaultProxy { addr, state }
    }

    /// Applies `fault` to the next `times` GETs whose path contains `path`.
    fn arm(&self, fault: Fault, path: &'static str, times: usize) {
        *self.state.armed.lock().unwrap() = Some(Armed {
            fault,
            path,
            left: times,
        });
    }

    fn disarm(&self) {
        *self.state.armed.lock().unwrap() = None;
    }

    /// The `s3://` locations of the objects a fault was applied to.
    fn hit_objects(&self) -> Vec<String> {
        locations(&self.state.hits.lock().unwrap())
    }

    /// The `s3://` locations of the data files GET so far, from the `from`th GET on.
    fn data_gets(&self, from: usize) -> Vec<String> {
        let gets = self.state.gets.lock().unwrap();
        let data: Vec<String> = gets[from.min(gets.len())..]
            .iter()
            .filter(|p| p.contains("/data/"))
            .cloned()
            .collect();
        locations(&data)
    }

    fn gets_so_far(&self) -> usize {
        self.state.gets.lock().unwrap().len()
    }

    fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
        if down {
            for c in self.state.conns.lock().unwrap().drain(..) {
                if let Some(c) = c.upgrade() {
                    let _ = c.shutdown(Shutdown::Both);
                }
            }
        }
    }

    fn set_upstream(&self, upstream: SocketAddr) {
        *self.state.upstream.lock().unwrap() = upstream;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.set_down(true);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Path-style request paths (`/billing/cur/cur2/data/…`) as `s3://billing/cur/cur2/data/…`.
fn locations(paths: &[String]) -> Vec<String> {
    paths.iter().map(|p| format!("s3:/{p}")).collect()
}

/// `%3D` → `=` (S3 request paths are percent-encoded).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))) {
            (b'%', Some(Ok(c))) => {
                out.push(c);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads an HTTP head through its blank line; `None` at end of stream or on an error.
fn read_head(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        if r.read_until(b'\n', &mut head).ok()? == 0 {
            return None;
        }
        if &head[start..] == b"\r\n" && start > 0 {
            return Some(head);
        }
    }
}

/// A header's value in an HTTP head (names compared case-insensitively).
fn header(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head).lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// A whole response from the server: head, body, and whether the connection ends with it.
fn read_response(r: &mut impl BufRead, to_head: bool) -> Option<(Vec<u8>, Vec<u8>, bool)> {
    let head = read_head(r)?;
    let status: u16 = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let mut close = header(&head, "connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
    let mut body = Vec::new();
    if to_head || status < 200 || status == 204 || status == 304 {
    } else if let Some(n) = header(&head, "content-length") {
        body.resize(n.parse().ok()?, 0);
        r.read_exact(&mut body).ok()?;
    } else if header(&head, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let start = body.len();
            r.read_until(b'\n', &mut body).ok()?;
            let line = String::from_utf8_lossy(&body[start..]).to_string();
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                while read_head_line(r, &mut body)? {}
                break;
            }
            let at = body.len();
            body.resize(at + size + 2, 0);
            r.read_exact(&mut body[at..]).ok()?;
        }
    } else {
        r.read_to_end(&mut body).ok()?;
        close = true;
    }
    Some((head, body, close))
}

/// Appends one trailer line; `false` at the blank line that ends them.
fn read_head_line(r: &mut impl BufRead, out: &mut Vec<u8>) -> Option<bool> {
    let start = out.len();
    if r.read_until(b'\n', out).ok()? == 0 {
        return None;
    }
    Some(&out[start..] != b"\r\n")
}

impl ProxyState {
    /// Registers a connection so that going down resets it.
    fn register(&self, c: &Arc<TcpStream>) {
        self.conns.lock().unwrap().push(Arc::downgrade(c));
    }

    /// The fault to apply to a GET of `path`, if one is armed for it.
    fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut armed = self.armed.lock().unwrap();
        let a = armed
            .as_mut()
            .filter(|a| a.left > 0 && path.contains(a.path))?;
        a.left -= 1;
        self.hits.lock().unwrap().push(path.to_string());
        Some(a.fault)
    }
}

fn handle(st: Arc<ProxyState>, client: TcpStream) {
    if st.down.load(Ordering::SeqCst) {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let client = Arc::new(client);
    st.register(&client);
    let mut from_client = BufReader::new(&*client);
    let mut server: Option<(Arc<TcpStream>, BufReader<TcpStream>)> = None;
    while let Some(mut request) = read_head(&mut from_client) {
        if let Some(n) = header(&request, "content-length").and_then(|n| n.parse::<usize>().ok()) {
            let at = request.len();
            request.resize(at + n, 0);
            if from_client.read_exact(&mut request[at..]).is_err() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(st.delay_ms.load(Ordering::SeqCst)));
        if st.down.load(Ordering::SeqCst) {
            return;
        }
        let line = String::from_utf8_lossy(&request)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        let mut words = line.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let path = percent_decode(target.split('?').next().unwrap_or(""));
        let fault = if method == "GET" {
            st.gets.lock().unwrap().push(path.clone());
            st.take_fault(&path)
        } else {
            None
        };
        if let Some(Fault::Status(code, s3_code)) = fault {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code><Message>Injected by the test proxy.</Message><RequestId>test</RequestId></Error>"
            );
            let _ = write!(
                &*client,
                "HTTP/1.1 {code} {s3_code}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        if server.is_none() {
            let upstream = *st.upstream.lock().unwrap();
            let Ok(s) = TcpStream::connect(upstream) else {
                return;
            };
            let s = Arc::new(s);
            st.register(&s);
            let reader = BufReader::new(s.try_clone().unwrap());
            server = Some((s, reader));
        }
        let (to_server, from_server) = server.as_mut().unwrap();
        if (&**to_server).write_all(&request).is_err() {
            return;
        }
        let Some((head, body, close)) = read_response(from_server, method == "HEAD") else {
            // The server went away mid-response: so does the client's connection.
            return;
        };
        let mut to_client = &*client;
        if to_client.write_all(&head).is_err() {
            return;
        }
        let Some(fault) = fault else {
            if to_client.write_all(&body).is_err() || close {
                return;
            }
            continue;
        };
        let _ = to_client.write_all(&body[..body.len() / 2]);
        let _ = to_client.flush();
        match fault {
            Fault::Truncate => {
                let _ = client.shutdown(Shutdown::Both);
            }
            Fault::Reset => {
                // Let the client read what was sent, then reset: closing with a zero linger
                // time sends RST instead of FIN.
                std::thread::sleep(Duration::from_millis(200));
                let _ = socket2::SockRef::from(&*client).set_linger(Some(Duration::ZERO));
            }
            Fault::Stall => {
                // Silence until the client gives up (or the proxy goes).
                client
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let mut buf = [0u8; 1024];
                while !st.stop.load(Ordering::SeqCst) && !st.down.load(Ordering::SeqCst) {
                    match (&*client).read(&mut buf) {
                        Ok(0) => break,
                        Err(e)
                            if e.kind() != std::io::ErrorKind::WouldBlock
                                && e.kind() != std::io::ErrorKind::TimedOut =>
                        {
                            break;
                        }
                        _ => {}
                    }
                }
            }
            Fault::Status(..) => unreachable!("answered above"),
        }
        return;
    }
}

fn s3_args(endpoint: SocketAddr) -> Vec<String> {
    vec![
        "--source".into(),
        format!("s3://{BUCKET}/{PREFIX}"),
        "--s3-endpoint".into(),
        format!("http://{endpoint}"),
        "--s3-path-style".into(),
    ]
}

/// `once` against the export in the test bucket, through `endpoint`.
fn once_s3(endpoint: SocketAddr, env: &[(&str, String)]) -> std::process::Output {
    let mut args = vec!["once".to_string()];
    args.extend(s3_args(endpoint));
    run_env(&args, env)
}

/// Bedrock series and manifest info: what must not depend on where the export is read from.
fn comparable(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !l.starts_with("bedrock_exporter_")
                || l.starts_with("bedrock_exporter_manifest_info")
                || l.starts_with("bedrock_exporter_period_")
        })
        .map(|l| match l.find("export=\"") {
            // The export's name is its source as written: a local path here, s3://… there.
            Some(i) => {
                let rest = &l[i + "export=\"".len()..];
                let rest = &rest[rest.find('"').expect("closing quote") + 1..];
                format!("{}{}", &l[..i], rest.strip_prefix(',').unwrap_or(rest))
            }
            None => l.to_string(),
        })
        .collect()
}

/// The tests' usual export: small, several files and row groups.
fn spec(format: SampleFormat, mode: SampleMode) -> ExportSpec {
    ExportSpec {
        format,
        mode,
        rows_per_period: 2_000,
        files_per_period: 3,
        row_group_rows: 400,
        extra_sessions: 4,
        ..ExportSpec::default()
    }
}

/// An export written from `spec` into a temporary folder and uploaded to a fresh moto server.
fn on_moto(spec: &ExportSpec) -> (tempfile::TempDir, ExportSummary, Moto) {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_export(dir.path(), spec).unwrap();
    let moto = Moto::start();
    moto.upload(dir.path(), BUCKET, PREFIX);
    (dir, summary, moto)
}

fn s3_once_matches_local(format: SampleFormat, mode: SampleMode) {
    let (dir, _, moto) = on_moto(&spec(format, mode));
    let local = once(dir.path(), &[]);
    let out = once_s3(moto.addr, &moto.env());
    assert!(
        out.status.success(),
        "once from S3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        comparable(&remote),
        comparable(&local),
        "S3 and local expositions differ"
    );
    let samples = parse_exposition(&remote);
    // No error responses.
    for s in samples
        .iter()
        .filter(|s| s.name == "bedrock_exporter_s3_requests_total")
    {
        assert!(s.label("code").starts_with('2'), "{s:?}");
    }
}

/// One `#[test]` per case, each calling `$run` with the case's arguments (each its own moto
/// server).
macro_rules! cases {
    ($run:ident { $($name:ident: $($arg:expr),+;)* }) => {$(
        #[test]
        fn $name() {
            if missing(&[Need::Moto]) {
                return;
            }
            $run($($arg),+);
        }
    )*};
}

cases!(s3_once_matches_local {
    s3_parquet_overwrite_equals_local: SampleFormat::Parquet, SampleMode::Overwrite;
    s3_csv_gz_create_new_equals_local: SampleFormat::CsvGz, SampleMode::CreateNew;
    s3_parquet_create_new_equals_local: SampleFormat::Parquet, SampleMode::CreateNew;
    s3_csv_gz_overwrite_equals_local: SampleFormat::CsvGz, SampleMode::Overwrite;
});

#[test]
fn a_wide_parquet_export_is_read_with_at_most_a_quarter_of_its_bytes() {
    if missing(&[Need::Moto]) {
        return;
    }
    let (dir, summary, moto) = on_moto(
        // A large organisation's bill: most rows are not Bedrock (issue 4's setting).
        &ExportSpec {
            rows_per_period: 120_000,
            files_per_period: 1,
            row_group_rows: 60_000,
            bedrock_share: 0.05,
            ..ExportSpec::default()
        },
    );
    let out = once_s3(moto.addr, &moto.env());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let fetched = value(&samples, "bedrock_exporter_s3_bytes_fetched_total", &[]).unwrap();
    let objects: u64 = summary
        .live_files
        .iter()
        .chain(&summary.manifests)
        .map(|f| std::fs::metadata(dir.path().join(f)).unwrap().len())
        .sum();
    let ratio = fetched / objects as f64;
    eprintln!(
        "wide Parquet export: fetched {fetched} of {objects} bytes = {:.1} %",
        ratio * 100.0
    );
    assert!(
        ratio <= 0.25,
        "fetched {:.1} % of a wide Parquet export's bytes",
        ratio * 100.0
    );
}

fn requests(samples: &[Sample], op: &str) -> f64 {
    ksum(
        samples
            .iter()
            .filter(|s| {
                s.name == "bedrock_exporter_s3_requests_total" && s.label("operation") == op
            })
            .map(|s| s.value),
    )
}

#[test]
fn an_unchanged_manifest_costs_no_data_gets() {
    if missing(&[Need::Moto]) {
        return;
    }
    let (_dir, _, moto) = on_moto(&spec(SampleFormat::Parquet, SampleMode::Overwrite));
    let daemon = serve(&moto, moto.addr, &[("BCE_REFRESH_INTERVAL", "1s")]);
    daemon.wait_ready();
    let first = daemon.metrics();
    let ok = |m: &[Sample]| {
        value(
            m,
            "bedrock_exporter_refreshes_total",
            &[("outcome", "success")],
        )
        .unwrap_or(0.0)
    };
    let n0 = ok(&first);
    let later = wait_for(Duration::from_secs(30), "two more refreshes", || {
        let m = daemon.metrics();
        (ok(&m) >= n0 + 2.0).then_some(m)
    });
    assert!(requests(&first, "GetObject") > 0.0);
    assert_eq!(
        requests(&later, "GetObject"),
        requests(&first, "GetObject"),
        "unchanged manifests must cost no GETs"
    );
    assert!(requests(&later, "ListObjectsV2") > requests(&first, "ListObjectsV2"));
}

/// A burst of `n` error answers to every kind of request: retried, then the numbers are the
/// local export's, and every error answer is counted under its status code.
fn a_burst_is_retried_then_succeeds(fault: Fault, code: &str) {
    let (dir, _, moto) = on_moto(&spec(SampleFormat::Parquet, SampleMode::Overwrite));
    let proxy = FaultProxy::start(moto.addr);
    proxy.arm(fault, "", 3);
    let out = once_s3(proxy.addr, &moto.env());
    assert!(
        out.status.success(),
        "once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(proxy.state.hits.lock().unwrap().len(), 3);
    let text = String::from_utf8(out.stdout).unwrap();
    let samples = parse_exposition(&text);
    let answered = ksum(
        samples
            .iter()
            .filter(|s| s.name == "bedrock_exporter_s3_requests_total" && s.label("code") == code)
            .map(|s| s.value),
    );
    assert_eq!(answered, 3.0, "every {code} is counted");
    assert_eq!(comparable(&text), comparable(&once(dir.path(), &[])));
}

cases!(a_burst_is_retried_then_succeeds {
    slowdown_is_retried_then_succeeds: SLOWDOWN, "503";
    internal_errors_are_retried_then_succeed: INTERNAL_ERROR, "500";
});

/// Two data-file bodies cut (or reset) half way: each Parquet range GET is sent again, and a
/// CSV.gz stream resumes from the bytes it has read, within the same refresh, so the numbers are
/// the local export's (a byte lost or read twice would break the gzip stream or the sums); each
/// failure is counted under `code="body_error"` and logged as a warning naming the object.
fn a_failed_body_is_fetched_again(format: SampleFormat, fault: Fault) {
    let (dir, _, moto) = on_moto(&spec(format, SampleMode::Overwrite));
    let proxy = FaultProxy::start(moto.addr);
    proxy.arm(fault, "/data/", 2);
    // One GET at a time: a broken body must give its permit back before it is fetched again.
    let mut env = moto.env();
    env.push(("BCE_S3__CONCURRENCY", "1".to_string()));
    let out = once_s3(proxy.addr, &env);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "once failed: {log}");
    let hit = proxy.hit_objects();
    assert_eq!(hit.len(), 2, "{hit:?}");
    let retries: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("sending the GET again"))
        .collect();
    assert_eq!(retries.len(), 2, "{log}");
    for object in &hit {
        assert!(
            retries.iter().any(|l| l.contains(object.as_str())),
            "{object}: {log}"
        );
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let body_errors = ksum(
        parse_exposition(&text)
            .iter()
            .filter(|s| s.name == "bedrock_exporter_s3_requests_total")
            .filter(|s| s.label("code") == "body_error")
            .map(|s| s.value),
    );
    assert_eq!(body_errors, 2.0);
    assert_eq!(comparable(&text), comparable(&once(dir.path(), &[])));
}

cases!(a_failed_body_is_fetched_again {
    a_cut_body_is_fetched_again_within_the_refresh: SampleFormat::Parquet, Fault::Truncate;
    a_reset_body_is_fetched_again_within_the_refresh: SampleFormat::Parquet, Fault::Reset;
    a_cut_csv_stream_resumes_where_it_broke: SampleFormat::CsvGz, Fault::Truncate;
    a_reset_csv_stream_resumes_where_it_broke: SampleFormat::CsvGz, Fault::Reset;
});

/// A CSV.gz object replaced while its stream is broken is never spliced: the resumed GET asks for
/// the ETag first seen (`If-Match`), S3 refuses it (412), and the refresh fails naming the object.
#[test]
fn a_csv_stream_whose_object_changed_is_not_resumed() {
    if missing(&[Need::Moto]) {
        return;
    }
    let (dir, _, moto) = on_moto(&spec(SampleFormat::CsvGz, SampleMode::Overwrite));
    let proxy = FaultProxy::start(moto.addr);
    proxy.arm(Fault::Truncate, "/data/", 1);
    let (endpoint, env) = (proxy.addr, moto.env());
    let run = std::thread::spawn(move || once_s3(endpoint, &env));
    let hit = wait_for(Duration::from_secs(30), "a data body cut", || {
        proxy.hit_objects().first().cloned()
    });
    // Hold every request from now on (the resumed GET comes after a 100 ms backoff), and
    // meanwhile replace the object the broken stream was reading.
    proxy.state.delay_ms.store(1_500, Ordering::SeqCst);
    let rel = hit
        .split_once(&format!("{BUCKET}/{PREFIX}/"))
        .map(|(_, rel)| rel.to_string())
        .unwrap();
    let mut bytes = std::fs::read(dir.path().join(&rel)).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(dir.path().join(&rel), bytes).unwrap();
    moto.reput(dir.path(), &rel, BUCKET, PREFIX);
    let out = run.join().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains(&hit) && l.contains("PreconditionFailed")),
        "{log}"
    );
}

/// A daemon serving the test export from moto through a [`FaultProxy`], refreshing every second,
/// with the Bedrock series of its first good snapshot.
struct Scene {
    dir: tempfile::TempDir,
    summary: ExportSummary,
    moto: Moto,
    proxy: FaultProxy,
    daemon: Daemon,
    /// The Bedrock series lines of `/metrics` (not the exporter's own), as first served.
    good: Vec<String>,
}

/// The Bedrock series lines of an exposition, byte for byte.
fn bedrock_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("bedrock_") && !l.starts_with("bedrock_exporter_"))
        .map(str::to_string)
        .collect()
}

/// `bedrock_exporter_errors_total`, summed over stages, or of one stage.
fn errors(m: &[Sample], stage: Option<&str>) -> f64 {
    ksum(
        m.iter()
            .filter(|s| s.name == "bedrock_exporter_errors_total")
            .filter(|s| stage.is_none_or(|st| s.label("stage") == st))
            .map(|s| s.value),
    )
}

impl Scene {
    /// `spec`'s export on moto, a proxy, and a daemon (at most 2 attempts per request, 2 s per
    /// attempt, bodies stalled 2 s fail) that has served its first snapshot.
    fn start(spec: &ExportSpec) -> Scene {
        let (dir, summary, moto) = on_moto(spec);
        let proxy = FaultProxy::start(moto.addr);
        let daemon = serve(
            &moto,
            proxy.addr,
            &[
                ("BCE_REFRESH_INTERVAL", "1s"),
                ("BCE_S3__MAX_ATTEMPTS", "2"),
                ("BCE_S3__REQUEST_TIMEOUT", "2s"),
                ("BCE_S3__STALL_TIMEOUT", "2s"),
            ],
        );
        daemon.wait_ready();
        let good = bedrock_lines(&daemon.get("/metrics").1);
        assert!(!good.is_empty());
        Scene {
            dir,
            summary,
            moto,
            proxy,
            daemon,
            good,
        }
    }

    /// A new execution lands (the newest period's manifest is rewritten), so the next refresh
    /// reads that period's data files again.
    /// Slows every response, publishes a new execution and waits until its refresh has sent
    /// `gets` data-file GETs; returns the errors counted before and the proxy's GET mark.
    fn refresh_reading_slowly(&self, gets: usize) -> (f64, usize) {
        let before = errors(&self.daemon.metrics(), None);
        self.proxy.state.delay_ms.store(40, Ordering::SeqCst);
        let from = self.proxy.gets_so_far();
        self.new_execution();
        wait_for(
            Duration::from_secs(30),
            "the refresh to read data files",
            || (self.proxy.data_gets(from).len() >= gets).then_some(()),
        );
        (before, from)
    }

    /// The `s3://` locations of the data files of the period that [`Scene::new_execution`]
    /// rewrites. A refresh that loses the server mid-read may fail on a file whose GET never
    /// reached the proxy (a new connection refused), so a failure may name any of them.
    fn reread_period_data(&self) -> Vec<String> {
        let manifest = &self.summary.manifests[1];
        let period = manifest
            .split('/')
            .find(|s| s.starts_with("BILLING_PERIOD="))
            .expect("the manifest key names its billing period");
        let files: Vec<String> = self
            .summary
            .live_files
            .iter()
            .filter(|f| f.starts_with("data/") && f.contains(&format!("/{period}/")))
            .map(|f| format!("/{BUCKET}/{PREFIX}/{f}"))
            .collect();
        assert!(!files.is_empty(), "{period} has data files");
        locations(&files)
    }

    fn new_execution(&self) {
        // S3 times have one-second resolution and the content is the same: without a second
        // between the upload and the rewrite, the manifest would look unchanged (same key, size,
        // time, ETag).
        std::thread::sleep(Duration::from_millis(1100));
        self.moto
            .reput(self.dir.path(), &self.summary.manifests[1], BUCKET, PREFIX);
    }

    /// Waits (at most `within`) for a refresh to fail, then checks what a failed refresh must
    /// leave: the process alive and ready, `errors_total` (of `stage`, when given) moved, the log
    /// naming one of `objects`, and every Bedrock series byte-identical to the good snapshot
    /// (nothing partial). Returns the log since the start.
    fn expect_failed_refresh(
        &mut self,
        errors_before: f64,
        stage: Option<&str>,
        within: Duration,
        objects: impl Fn(&FaultProxy) -> Vec<String>,
    ) -> String {
        let failed = wait_for(within, "a refresh to fail", || {
            let m = self.daemon.metrics();
            (value(&m, "bedrock_exporter_last_refresh_success", &[])? == 0.0).then_some(m)
        });
        assert!(
            self.daemon.child.try_wait().unwrap().is_none(),
            "the process survives"
        );
        assert!(
            errors(&failed, stage) > errors_before,
            "errors_total{{stage={stage:?}}} moves"
        );
        let (status, text) = self.daemon.get("/metrics");
        assert_eq!(status, 200);
        assert_eq!(
            bedrock_lines(&text),
            self.good,
            "the last good snapshot keeps being served, byte for byte"
        );
        assert_eq!(self.daemon.get("/readyz").0, 200);
        let log = self.daemon.drain_log().join("\n");
        let objects = objects(&self.proxy);
        assert!(!objects.is_empty());
        assert!(
            objects.iter().any(|o| log.contains(o.as_str())),
            "the errors name the object (one of {objects:?}): {log}"
        );
        assert!(!log.contains("panicked"), "{log}");
        log
    }

    /// Waits for a successful refresh and checks that it serves the good numbers again.
    fn expect_recovery(&self) {
        wait_for(Duration::from_secs(60), "recovery", || {
            let m = self.daemon.metrics();
            (value(&m, "bedrock_exporter_last_refresh_success", &[])? == 1.0).then_some(())
        });
        assert_eq!(bedrock_lines(&self.daemon.get("/metrics").1), self.good);
    }

    /// Arms `fault` on every GET of a data file, makes the next refresh read them, checks the
    /// failed refresh (stage `read`, within `within`), then disarms and checks recovery. Returns
    /// the log of the failure.
    fn fault_fails_a_refresh_then_recovers(&mut self, fault: Fault, within: Duration) -> String {
        let before = errors(&self.daemon.metrics(), Some("read"));
        self.proxy.arm(fault, "/data/", usize::MAX);
        self.new_execution();
        let log = self.expect_failed_refresh(before, Some("read"), within, FaultProxy::hit_objects);
        let error = log.lines().find(|l| l.contains("ERROR")).unwrap_or("");
        eprintln!("{fault:?}: {error}");
        self.proxy.disarm();
        self.expect_recovery();
        log
    }
}

/// The tests' usual export, as Parquet (ranged GETs of row groups).
fn parquet() -> ExportSpec {
    spec(SampleFormat::Parquet, SampleMode::Overwrite)
}

#[test]
fn throttling_beyond_the_retries_fails_the_refresh_naming_the_object_then_recovers() {
    if missing(&[Need::Moto]) {
        return;
    }
    let mut scene = Scene::start(&parquet());
    let log = scene.fault_fails_a_refresh_then_recovers(SLOWDOWN, Duration::from_secs(30));
    assert!(
        log.contains("SlowDown"),
        "the error says S3 throttled: {log}"
    );
}

#[test]
fn a_truncated_body_fails_the_refresh_naming_the_object_then_recovers() {
    if missing(&[Need::Moto]) {
        return;
    }
    Scene::start(&parquet())
        .fault_fails_a_refresh_then_recovers(Fault::Truncate, Duration::from_secs(30));
}

#[test]
fn a_truncated_csv_gz_stream_fails_the_refresh_naming_the_object_then_recovers() {
    if missing(&[Need::Moto]) {
        return;
    }
    Scene::start(&spec(SampleFormat::CsvGz, SampleMode::Overwrite))
        .fault_fails_a_refresh_then_recovers(Fault::Truncate, Duration::from_secs(30));
}

#[test]
fn a_connection_reset_mid_body_fails_the_refresh_naming_the_object_then_recovers() {
    if missing(&[Need::Moto]) {
        return;
    }
    Scene::start(&parquet())
        .fault_fails_a_refresh_then_recovers(Fault::Reset, Duration::from_secs(30));
}

#[test]
fn a_body_stalled_mid_way_fails_within_the_stall_timeout_then_recovers() {
    if missing(&[Need::Moto]) {
        return;
    }
    let mut scene = Scene::start(&parquet());
    let t0 = std::time::Instant::now();
    // s3.stall_timeout is 2 s here: the refresh fails well before the SDK's default (20 s).
    scene.fault_fails_a_refresh_then_recovers(Fault::Stall, Duration::from_secs(15));
    eprintln!("stalled body: failed and recovered in {:?}", t0.elapsed());
}

/// A bigger export, read slowly, so that a refresh is still reading when the server goes.
fn slow_export() -> ExportSpec {
    ExportSpec {
        rows_per_period: 3_000,
        files_per_period: 8,
        row_group_rows: 300,
        ..ExportSpec::default()
    }
}

#[test]
fn a_server_gone_mid_refresh_keeps_the_last_good_snapshot_and_recovers() {
    if missing(&[Need::Moto]) {
        return;
    }
    let mut scene = Scene::start(&slow_export());
    let (before, from) = scene.refresh_reading_slowly(1);
    // Every connection reset, new ones refused.
    scene.proxy.set_down(true);
    let reread = scene.reread_period_data();
    assert!(
        scene
            .proxy
            .data_gets(from)
            .iter()
            .all(|o| reread.contains(o))
    );
    scene.expect_failed_refresh(before, None, Duration::from_secs(60), |_| reread.clone());
    scene.proxy.state.delay_ms.store(0, Ordering::SeqCst);
    scene.proxy.set_down(false);
    scene.expect_recovery();
}

#[test]
fn moto_killed_mid_read_then_restarted_recovers() {
    if missing(&[Need::Moto]) {
        return;
    }
    let mut scene = Scene::start(&slow_export());
    let (before, from) = scene.refresh_reading_slowly(2);
    // The server process dies while data files are being read.
    scene.moto.kill();
    let reread = scene.reread_period_data();
    assert!(
        scene
            .proxy
            .data_gets(from)
            .iter()
            .all(|o| reread.contains(o))
    );
    scene.expect_failed_refresh(before, None, Duration::from_secs(60), |_| reread.clone());
    // A new server (its data uploaded again; it accepts the daemon's keys, as IAM state is gone
    // with the old process) behind the same endpoint.
    let restarted = Moto::start_open();
    restarted.upload(scene.dir.path(), BUCKET, PREFIX);
    scene.proxy.state.delay_ms.store(0, Ordering::SeqCst);
    scene.proxy.set_upstream(restarted.addr);
    scene.moto = restarted;
    scene.expect_recovery();
}

#[test]
fn wrong_credentials_give_a_clear_error_naming_the_bucket() {
    if missing(&[Need::Moto]) {
        return;
    }
    let (_dir, _, moto) = on_moto(&spec(SampleFormat::Parquet, SampleMode::Overwrite));
    let mut env = moto.env();
    env[1].1 = "not-the-secret".into();
    let out = once_s3(moto.addr, &env);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("s3://{BUCKET}/{PREFIX}/metadata/")),
        "{err}"
    );
    assert!(
        err.contains("SignatureDoesNotMatch")
            || err.contains("InvalidAccessKeyId")
            || err.contains("AccessDenied"),
        "{err}"
    );
    assert!(err.contains("deploy/iam-policy.json"), "{err}");
    assert!(
        !err.contains("not-the-secret"),
        "secrets never appear in messages"
    );
}

#[test]
fn doctor_on_s3_checks_listing_and_reading_and_blocks_on_bad_credentials() {
    if missing(&[Need::Moto]) {
        return;
    }
    let (_dir, _, moto) = on_moto(&spec(SampleFormat::Parquet, SampleMode::CreateNew));
    let mut args = vec!["doctor".to_string()];
    args.extend(s3_args(moto.addr));
    let out = run_env(&args, &moto.env());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for want in [
        format!("✓ source s3://{BUCKET}/{PREFIX}/ reachable"),
        "create-new".to_string(),
        "✓ permissions sufficient".to_string(),
        "✓ principal column line_item_iam_principal present".to_string(),
        "→ label tag_team".to_string(),
    ] {
        assert!(text.contains(&want), "lacks {want:?}:\n{text}");
    }
    let mut env = moto.env();
    env[1].1 = "not-the-secret".into();
    let out = run_env(&args, &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("✗ source s3://") && text.contains("not readable"),
        "{text}"
    );
    assert!(text.contains("s3:ListBucket"), "{text}");
    assert!(!text.contains("not-the-secret"), "{text}");
}
