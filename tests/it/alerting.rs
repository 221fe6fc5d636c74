//! The shipped rules and Alertmanager example: `promtool check rules` and `promtool test rules`
//! (deploy/prometheus/tests/), `amtool check-config` and `amtool config routes test`.

use std::process::Command;

use crate::util::*;

fn run_tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(tool(name))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} {args:?} failed:\n{text}");
    text
}

pub const RULES: &str = "deploy/prometheus/bedrock-cost-exporter.rules.yml";
pub const AM_EXAMPLE: &str = "deploy/alertmanager/alertmanager.example.yml";

#[test]
fn the_rules_pass_promtool_check_and_their_unit_tests() {
    if missing(&[Need::Promtool]) {
        return;
    }
    let out = run_tool("promtool", &["check", "rules", RULES]);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run_tool(
        "promtool",
        &[
            "test",
            "rules",
            "deploy/prometheus/tests/bedrock-cost-exporter.test.yml",
        ],
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn the_alertmanager_example_routes_by_owner_and_pages() {
    if missing(&[Need::Amtool]) {
        return;
    }
    let out = run_tool("amtool", &["check-config", AM_EXAMPLE]);
    assert!(out.contains("SUCCESS"), "{out}");
    for (labels, want) in [
        (
            &[
                "owner=web-team",
                "severity=page",
                "alertname=BedrockBudgetExceeded",
            ][..],
            "pager,owner-web-team",
        ),
        (
            &[
                "owner=web-team",
                "severity=warning",
                "alertname=BedrockBudgetAlmostUsed",
            ],
            "owner-web-team",
        ),
        (
            &[
                "owner=ml-platform-leads",
                "severity=info",
                "alertname=BedrockBudgetHalfUsed",
            ],
            "owner-ml-platform-leads",
        ),
        (
            &[
                "owner=ml-platform-leads",
                "severity=page",
                "alertname=BedrockBudgetExceeded",
            ],
            "pager,owner-ml-platform-leads",
        ),
        (
            &["severity=warning", "alertname=BedrockCostDataStale"],
            "finops",
        ),
        (
            &["severity=warning", "alertname=BedrockPrincipalSpendSpike"],
            "finops",
        ),
        (&["owner=someone-new", "severity=warning"], "finops"),
    ] {
        let file = format!("--config.file={AM_EXAMPLE}");
        let mut args = vec!["config", "routes", "test", file.as_str()];
        args.extend_from_slice(labels);
        let out = Command::new(tool("amtool"))
            .args(&args)
            .current_dir(repo())
            .output()
            .expect("amtool");
        let got = String::from_utf8_lossy(&out.stdout);
        assert_eq!(got.trim(), want, "routes for {labels:?}");
    }
}

/// A webhook receiver on loopback recording `(path, JSON body)` of every POST; stops on drop.
struct Webhooks {
    addr: std::net::SocketAddr,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhooks {
    fn start() -> Webhooks {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (got2, stop2) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                if reader.read_exact(&mut body).is_ok()
                    && let Ok(json) = serde_json::from_slice(&body)
                {
                    got2.lock().unwrap().push((path, json));
                }
                let mut s = stream;
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Webhooks {
            addr,
            got,
            stop,
            thread: Some(thread),
        }
    }

    /// Alerts (labels and annotations) delivered to `path`.
    fn alerts(&self, path: &str) -> Vec<serde_json::Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .flat_map(|(_, j)| j["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn budget_config(now: &str, ml_monthly: f64, web_monthly: f64) -> String {
    format!(
        r##"now = "{now}"
refresh_interval = "1h"

[[budgets]]
name = "ml-platform"
owner = "ml-platform-leads"
selector = '{{tag_team="data-science"}}'
monthly = {ml_monthly:?}
labels = {{ slack = "#ml-costs" }}

[[budgets]]
name = "web"
owner = "web-team"
selector = '{{tag_team="engineering"}}'
monthly = {web_monthly:?}
"##
    )
}

fn get_json(addr: std::net::SocketAddr, path: &str) -> Option<serde_json::Value> {
    let (s, _, body) = http_get(addr, path, None).ok()?;
    (s == 200).then(|| serde_json::from_str(&body).ok())?
}

/// End to end: generated export with one budget over and one under → the daemon → a real
/// Prometheus with (a copy of) the shipped rules → a real Alertmanager with (a copy of) the
/// example configuration → webhook receivers served here. The copies differ only in timing
/// (`for: 0s`, `group_wait: 1s`, …) and the receivers' URLs. "now" is fixed (`now` in the
/// configuration) so that the outcome does not depend on the day the test runs.
#[test]
fn an_over_budget_owner_is_paged_end_to_end() {
    if missing(&[Need::Prometheus, Need::Alertmanager]) {
        return;
    }
    use cur_sample::{ExportSpec, write_export};
    use std::process::Stdio;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let now = "2026-11-20T12:00:00Z";
    let period = "2026-11";
    let cfg = dir.path().join("bce.toml");

    // Probe the spend with limits nobody reaches, then set one budget over and one under. The
    // quiet budget must not spike on the spike day (the shipped BedrockBudgetSpendSpike
    // condition): take the first generator seed whose export gives that.
    std::fs::write(&cfg, budget_config(now, 1e12, 1e12)).unwrap();
    let web_value = |probe: &[Sample], name: &str| {
        samples(probe, name)
            .into_iter()
            .find(|s| s.label("budget") == "web")
            .map(|s| s.value)
            .unwrap()
    };
    let probe = (42..52)
        .find_map(|seed| {
            let _ = std::fs::remove_dir_all(&export);
            write_export(
                &export,
                &ExportSpec {
                    periods: vec!["2026-10".into(), "2026-11".into()],
                    rows_per_period: 3_000,
                    seed,
                    ..ExportSpec::default()
                },
            )
            .unwrap();
            let probe = parse_exposition(&once(
                &export,
                &["--config", cfg.to_str().unwrap(), "--progress", "never"],
            ));
            let day = web_value(&probe, "bedrock_budget_day_spend_usd");
            let baseline = web_value(&probe, "bedrock_budget_baseline_day_spend_usd");
            (!(day > 2.0 * baseline && day > 50.0)).then_some(probe)
        })
        .expect("no seed among 42..52 gives a quiet web budget; change the export");
    let get = |name: &str, budget: &str, extra: &[(&str, &str)]| -> f64 {
        let mut labels = vec![("budget", budget)];
        labels.extend_from_slice(extra);
        value(&probe, name, &labels).unwrap_or_else(|| panic!("no {name} for {budget}"))
    };
    let ml_spend = get(
        "bedrock_budget_spend_usd",
        "ml-platform",
        &[("billing_period", period)],
    );
    let web_spend = get(
        "bedrock_budget_spend_usd",
        "web",
        &[("billing_period", period)],
    );
    let web_forecast = get(
        "bedrock_budget_forecast_usd",
        "web",
        &[("billing_period", period)],
    );
    assert!(ml_spend > 0.0 && web_spend > 0.0, "{ml_spend} {web_spend}");
    assert!(web_forecast >= web_spend);

    let ml_limit = ml_spend / 2.0; // 200 % used: 100 %, 80 %, 50 % and the forecast fire
    let web_limit = web_forecast * 4.0; // forecast at 25 %: nothing fires
    std::fs::write(&cfg, budget_config(now, ml_limit, web_limit)).unwrap();

    let hooks = Webhooks::start();
    // Alertmanager: the example with the receivers here and test timing.
    let am_port = free_port();
    let am_addr: std::net::SocketAddr = format!("127.0.0.1:{am_port}").parse().unwrap();
    let am_cfg = std::fs::read_to_string(repo().join(AM_EXAMPLE))
        .unwrap()
        .replace("http://127.0.0.1:5001", &format!("http://{}", hooks.addr))
        .replace("group_wait: 5m", "group_wait: 1s")
        .replace("group_interval: 30m", "group_interval: 1s");
    let am_file = dir.path().join("alertmanager.yml");
    std::fs::write(&am_file, am_cfg).unwrap();
    let _am = Proc(
        Command::new(tool("prometheus-alertmanager"))
            .arg(format!("--config.file={}", am_file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am").display()
            ))
            .arg(format!("--web.listen-address={am_addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-alertmanager (Debian package prometheus-alertmanager)"),
    );

    let daemon = Daemon::start(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--source",
            export.to_str().unwrap(),
        ],
        &[],
    );
    daemon.wait_ready();

    // Prometheus: a copy of the shipped rules with every `for:` at 0s.
    let rules = std::fs::read_to_string(repo().join(RULES)).unwrap();
    let rules: String = rules
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("for: ") {
                format!("{}for: 0s", &l[..l.len() - l.trim_start().len()])
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let rules_file = dir.path().join("rules.yml");
    std::fs::write(&rules_file, rules).unwrap();
    let prom_port = free_port();
    let _prom = start_prometheus(
        dir.path(),
        format!("127.0.0.1:{prom_port}").parse().unwrap(),
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\nscrape_configs:\n  - job_name: bedrock-cost-exporter\n    static_configs:\n      - targets: ['{}']\n",
            rules_file.display(),
            daemon.addr
        ),
    );

    // The page reaches the over-budget owner (and the pager) with the right labels and values.
    let page = wait_for(
        Duration::from_secs(90),
        "BedrockBudgetExceeded at the ml-platform-leads receiver",
        || {
            hooks
                .alerts("/owner/ml-platform-leads")
                .into_iter()
                .find(|a| a["labels"]["alertname"] == "BedrockBudgetExceeded")
        },
    );
    let labels = &page["labels"];
    assert_eq!(labels["budget"], "ml-platform");
    assert_eq!(labels["owner"], "ml-platform-leads");
    assert_eq!(labels["severity"], "page");
    assert_eq!(labels["billing_period"], period);
    assert_eq!(labels["slack"], "#ml-costs");
    assert_eq!(page["status"], "firing");
    let description = page["annotations"]["description"].as_str().unwrap();
    for figure in [
        format!("{ml_spend:.2}"),
        format!("{ml_limit:.2}"),
        "(200%)".into(),
    ] {
        assert!(
            description.contains(&figure),
            "{figure} not in {description:?}"
        );
    }
    assert!(
        page["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("ml-platform is 200% used in 2026-11"),
        "{page}"
    );
    wait_for(Duration::from_secs(30), "the page at the pager", || {
        hooks
            .alerts("/pager")
            .into_iter()
            .find(|a| a["labels"]["budget"] == "ml-platform")
    });

    // The 80 % warning fired in Prometheus but Alertmanager inhibits it.
    let inhibited = wait_for(
        Duration::from_secs(30),
        "BedrockBudgetAlmostUsed inhibited",
        || {
            let alerts = get_json(am_addr, "/api/v2/alerts?inhibited=true")?;
            alerts
                .as_array()?
                .iter()
                .find(|a| {
                    a["labels"]["alertname"] == "BedrockBudgetAlmostUsed"
                        && a["labels"]["budget"] == "ml-platform"
                        && !a["status"]["inhibitedBy"]
                            .as_array()
                            .is_none_or(Vec::is_empty)
                })
                .cloned()
        },
    );
    assert_eq!(inhibited["status"]["state"], "suppressed");
    // A few more group intervals: still nothing but the page for the owners.
    std::thread::sleep(Duration::from_secs(4));
    let ml: Vec<String> = hooks
        .alerts("/owner/ml-platform-leads")
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        ml.iter().all(|a| a == "BedrockBudgetExceeded"),
        "the owner got more than the page: {ml:?}"
    );
    assert_eq!(
        hooks.alerts("/owner/web-team"),
        Vec::<serde_json::Value>::new(),
        "the under-budget owner was notified"
    );
}
