//! End to end: the daemon on a free port, scraped by a real `prometheus` on loopback; a known total
//! read back through Prometheus' HTTP API; `promtool check metrics` clean on the live exposition;
//! graceful shutdown on SIGTERM.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use cur_sample::{ExportSpec, write_export};

use crate::util::*;

fn promtool_check(body: &str) -> String {
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn promtool_reports_nothing_on_the_exposition() {
    if missing(&[Need::Promtool]) {
        return;
    }
    let text = once(&repo().join("sample/export"), &[]);
    let report = promtool_check(&text);
    assert_eq!(report.trim(), "", "promtool check metrics: {report}");
}

#[test]
fn prometheus_scrapes_the_daemon_and_sees_the_bill() {
    if missing(&[Need::Prometheus, Need::Promtool]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    write_export(
        &export,
        &ExportSpec {
            rows_per_period: 2_500,
            ..ExportSpec::default()
        },
    )
    .unwrap();
    let mut daemon = Daemon::start(
        &["--source", export.to_str().unwrap()],
        &[("BCE_REFRESH_INTERVAL", "1h")],
    );
    assert_eq!(daemon.get("/healthz").0, 200);
    daemon.wait_ready();

    let (status, body) = daemon.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(promtool_check(&body).trim(), "");
    let samples = parse_exposition(&body);
    let total = ksum(
        samples
            .iter()
            .filter(|s| s.name == "bedrock_cost_usd")
            .map(|s| s.value),
    );
    assert!(total > 0.0);
    // Content negotiation: OpenMetrics when asked.
    let (_, headers, om) = http_get(
        daemon.addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .unwrap();
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("application/openmetrics-text"),
        "{headers}"
    );
    assert!(om.trim_end().ends_with("# EOF"));
    assert_eq!(daemon.get("/nope").0, 404);
    // gzip, as Prometheus asks for it: the same exposition, compressed.
    let (s, head, gz) =
        http_get_raw(daemon.addr, "/metrics", &[("Accept-Encoding", "gzip")]).unwrap();
    assert_eq!(s, 200);
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert_eq!(plain, body);
    assert!(
        gz.len() * 5 < body.len(),
        "{} compressed vs {} plain",
        gz.len(),
        body.len()
    );

    // A real Prometheus scraping the daemon.
    let port = free_port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: bedrock\n    static_configs:\n      - targets: ['{}']\n",
            daemon.addr
        ),
    )
    .unwrap();
    let prom_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut prom = Command::new(tool("prometheus"))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let result = std::panic::catch_unwind(|| {
        let query = |q: &str| -> Option<serde_json::Value> {
            let path = format!(
                "/api/v1/query?query={}",
                q.replace('(', "%28")
                    .replace(')', "%29")
                    .replace('{', "%7B")
                    .replace('}', "%7D")
                    .replace('"', "%22")
                    .replace('=', "%3D")
            );
            let (s, _, body) = http_get(prom_addr, &path, None).ok()?;
            (s == 200).then(|| serde_json::from_str(&body).ok())?
        };
        let got = wait_for(
            Duration::from_secs(60),
            "Prometheus to ingest bedrock_cost_usd",
            || {
                let v = query("sum(bedrock_cost_usd)")?;
                let r = v["data"]["result"].as_array()?.first()?.clone();
                r["value"][1].as_str()?.parse::<f64>().ok()
            },
        );
        assert!(
            close(got, total, 1e-9),
            "Prometheus sum {got} vs exposition total {total}"
        );
        let up = query("up{job=\"bedrock\"}").unwrap();
        assert_eq!(up["data"]["result"][0]["value"][1].as_str(), Some("1"));
    });
    let _ = prom.kill();
    let _ = prom.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }

    // Graceful shutdown on SIGTERM.
    let pid = daemon.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_for(
        Duration::from_secs(15),
        "the daemon to exit on SIGTERM",
        || daemon.child.try_wait().unwrap(),
    );
    assert!(status.success(), "exit status {status:?}");
    assert!(
        daemon
            .drain_log()
            .iter()
            .any(|l| l.contains("shutdown signal received"))
    );
}
