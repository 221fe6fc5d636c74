//! The S3 source against a real S3-compatible server process on loopback (moto's server mode, with
//! IAM authentication and SigV4 checking turned on: `util::Moto`), optionally behind a fault-injecting TCP proxy
//! (503 SlowDown answers, a server that goes away in the middle of a refresh).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// A TCP proxy in front of the server that can answer 503 SlowDown, go down (reset every
/// connection, refuse new ones), and slow the traffic down.
struct FaultProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

struct ProxyState {
    upstream: SocketAddr,
    slowdowns_left: AtomicUsize,
    slowdowns_sent: AtomicUsize,
    down: AtomicBool,
    delay_ms: AtomicU64,
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

const SLOWDOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>test</RequestId></Error>";

impl FaultProxy {
    fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState {
            upstream,
            slowdowns_left: AtomicUsize::new(0),
            slowdowns_sent: AtomicUsize::new(0),
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

    fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
        if down {
            for c in self.state.conns.lock().unwrap().drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.set_down(true);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(st: Arc<ProxyState>, mut client: TcpStream) {
    if st.down.load(Ordering::SeqCst) {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    if st
        .slowdowns_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        // Read the request head, answer 503 SlowDown as S3 does, close.
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let resp = format!(
            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{SLOWDOWN}",
            SLOWDOWN.len()
        );
        let _ = client.write_all(resp.as_bytes());
        st.slowdowns_sent.fetch_add(1, Ordering::SeqCst);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(server) = TcpStream::connect(st.upstream) else {
        return;
    };
    {
        let mut conns = st.conns.lock().unwrap();
        conns.push(client.try_clone().unwrap());
        conns.push(server.try_clone().unwrap());
    }
    let pipe = |mut from: TcpStream, mut to: TcpStream, delay: bool, st: Arc<ProxyState>| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if delay {
                            std::thread::sleep(Duration::from_millis(
                                st.delay_ms.load(Ordering::SeqCst),
                            ));
                        }
                        if st.down.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    };
    pipe(
        client.try_clone().unwrap(),
        server.try_clone().unwrap(),
        true,
        st.clone(),
    );
    pipe(server, client, false, st);
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

/// Bedrock series and manifest info: what must not depend on where the export is read from
/// (the `export` label, the source as written, aside).
fn comparable(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !l.starts_with("bedrock_exporter_")
                || l.starts_with("bedrock_exporter_manifest_info")
                || l.starts_with("bedrock_exporter_period_")
        })
        .map(|l| match l.find("export=\"") {
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

#[test]
fn s3_parquet_overwrite_equals_local() {
    s3_once_matches_local(SampleFormat::Parquet, SampleMode::Overwrite);
}

#[test]
fn s3_csv_gz_create_new_equals_local() {
    s3_once_matches_local(SampleFormat::CsvGz, SampleMode::CreateNew);
}

#[test]
fn s3_parquet_create_new_equals_local() {
    s3_once_matches_local(SampleFormat::Parquet, SampleMode::CreateNew);
}

#[test]
fn s3_csv_gz_overwrite_equals_local() {
    s3_once_matches_local(SampleFormat::CsvGz, SampleMode::Overwrite);
}

#[test]
fn a_wide_parquet_export_is_read_with_at_most_a_quarter_of_its_bytes() {
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

#[test]
fn slowdown_is_retried_then_succeeds() {
    let (dir, _, moto) = on_moto(&spec(SampleFormat::Parquet, SampleMode::Overwrite));
    let proxy = FaultProxy::start(moto.addr);
    proxy.state.slowdowns_left.store(3, Ordering::SeqCst);
    let out = once_s3(proxy.addr, &moto.env());
    assert!(
        out.status.success(),
        "once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(proxy.state.slowdowns_sent.load(Ordering::SeqCst), 3);
    let samples = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let throttled = ksum(
        samples
            .iter()
            .filter(|s| s.name == "bedrock_exporter_s3_requests_total" && s.label("code") == "503")
            .map(|s| s.value),
    );
    assert_eq!(throttled, 3.0, "every 503 is counted");
    assert_eq!(
        comparable(&String::from_utf8(once_s3(proxy.addr, &moto.env()).stdout).unwrap()),
        comparable(&once(dir.path(), &[]))
    );
}

#[test]
fn a_server_gone_mid_refresh_keeps_the_last_good_snapshot_and_recovers() {
    let (dir, summary, moto) = on_moto(&ExportSpec {
        rows_per_period: 3_000,
        files_per_period: 8,
        row_group_rows: 300,
        ..ExportSpec::default()
    });
    let proxy = FaultProxy::start(moto.addr);
    let mut daemon = serve(
        &moto,
        proxy.addr,
        &[
            ("BCE_REFRESH_INTERVAL", "1s"),
            ("BCE_S3__MAX_ATTEMPTS", "2"),
            ("BCE_S3__REQUEST_TIMEOUT", "2s"),
        ],
    );
    daemon.wait_ready();
    let costs = |m: &[Sample]| -> Vec<Sample> {
        m.iter()
            .filter(|s| s.name == "bedrock_cost_usd")
            .cloned()
            .collect()
    };
    let good = costs(&daemon.metrics());
    assert!(!good.is_empty());

    // A new execution lands (the manifest is rewritten); the server goes away while it is read.
    proxy.state.delay_ms.store(40, Ordering::SeqCst);
    let seen = daemon.drain_log().len();
    // S3 times have one-second resolution and the content is the same: without a second between
    // the upload and the rewrite, the manifest would look unchanged (same key, size, time, ETag).
    std::thread::sleep(Duration::from_millis(1100));
    moto.reput(dir.path(), &summary.manifests[1], BUCKET, PREFIX);
    wait_for(
        Duration::from_secs(30),
        "the refresh to start reading data files",
        || {
            daemon.drain_log()[seen..]
                .iter()
                .any(|l| l.contains("reading billing period"))
                .then_some(())
        },
    );
    proxy.set_down(true);
    let failed = wait_for(Duration::from_secs(60), "the failure to be counted", || {
        let m = daemon.metrics();
        (value(&m, "bedrock_exporter_last_refresh_success", &[])? == 0.0).then_some(m)
    });
    let errors = ksum(
        failed
            .iter()
            .filter(|s| s.name == "bedrock_exporter_errors_total")
            .map(|s| s.value),
    );
    assert!(errors >= 1.0);
    assert_eq!(
        costs(&failed),
        good,
        "the last good snapshot keeps being served"
    );
    assert_eq!(daemon.get("/readyz").0, 200);
    let log = daemon.drain_log().join("\n");
    assert!(
        log.contains(&format!("s3://{BUCKET}/{PREFIX}/")),
        "errors name the object: {log}"
    );

    // Back: the next refresh succeeds with the same numbers.
    proxy.state.delay_ms.store(0, Ordering::SeqCst);
    proxy.set_down(false);
    let back = wait_for(Duration::from_secs(60), "recovery", || {
        let m = daemon.metrics();
        (value(&m, "bedrock_exporter_last_refresh_success", &[])? == 1.0).then_some(m)
    });
    assert_eq!(costs(&back), good);
}

#[test]
fn wrong_credentials_give_a_clear_error_naming_the_bucket() {
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
