//! Alerts reach the right owner exactly once, end to end: a generated export → two exporter
//! replicas → the real `prometheus` with rules generated from the parameter set (short `for` and
//! `keep_firing_for`) → the real `prometheus-alertmanager` with the shipped example (only its
//! addresses and group timers changed) → an SMTP server on loopback (aiosmtpd,
//! `tests/reference/smtp_sink.py`) and a Slack/pager webhook sink. Five budgets: three owners
//! whose addresses are labels of their budgets (named nowhere in the Alertmanager file), one
//! without a contact (FinOps), one that crosses its limit only after the month rolled over.
//!
//! The exporter's `now` is set (never today's date) and moved by configuration reloads. Every
//! threshold of every budget is crossed once, then the scenario restarts a replica, misses
//! scrapes, restarts both replicas, restarts Prometheus, rolls the month over, crosses a closed
//! period's limit in the next month's first days, and leaves the closed-period window — and the
//! mail is counted at the SMTP server: one per recipient, alert, budget and billing period.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::alerting::{AM_EXAMPLE, generate_with};
use crate::util::*;

/// The scenario's parameters: the shipped ones with seconds for minutes, and the alerts it does
/// not count (spikes, health) off.
const SCENARIO_PARAMS: &str = r#"
keepFiringFor = "20s"
closedPeriodDays = 3
[alerts.BedrockBudgetHalfUsed]
for = "2s"
[alerts.BedrockBudgetAlmostUsed]
for = "2s"
[alerts.BedrockBudgetExceeded]
for = "2s"
[alerts.BedrockBudgetForecastExceeded]
for = "2s"
[alerts.BedrockBudgetSpendSpike]
enabled = false
[alerts.BedrockPrincipalSpendSpike]
enabled = false
[alerts.BedrockUnattributedCostShareHigh]
enabled = false
[alerts.BedrockCostExportStale]
enabled = false
[alerts.BedrockUsageAbsent]
enabled = false
[alerts.BedrockCostExporterDown]
enabled = false
[alerts.BedrockCostExporterAbsent]
enabled = false
[alerts.BedrockCostExporterRefreshFailing]
enabled = false
[alerts.BedrockCostSeriesNearLimit]
enabled = false
[alerts.BedrockCostSeriesFolded]
enabled = false
[alerts.BedrockCostUnknownUsageTypes]
enabled = false
"#;

/// (budget, owner, selector, contact labels as TOML)
const BUDGETS: &[(&str, &str, &str, &str)] = &[
    (
        "alpha",
        "alice",
        r#"{tag_team="data-science"}"#,
        r#"{ email = "alice@teams.example" }"#,
    ),
    (
        "beta",
        "bob",
        r#"{tag_team="engineering"}"#,
        r#"{ email = "bob@teams.example" }"#,
    ),
    (
        "gamma",
        "carol",
        r#"{tag_project="DocFlow"}"#,
        r##"{ email = "carol@teams.example", slack_channel = "#carol-costs" }"##,
    ),
    (
        "shared",
        "platform-leads",
        r#"{tag_team="BedrockDataScience"}"#,
        "",
    ),
    (
        "late",
        "dave",
        r#"{tag_team="platform"}"#,
        r#"{ email = "dave@teams.example" }"#,
    ),
];
const FINOPS: &str = "finops@example.com";

fn config(now: &str, limits: &BTreeMap<&str, f64>) -> String {
    let mut s = format!("now = \"{now}\"\nrefresh_interval = \"1h\"\n");
    for (name, owner, selector, labels) in BUDGETS {
        s += &format!(
            "\n[[budgets]]\nname = \"{name}\"\nowner = \"{owner}\"\nselector = '{selector}'\nmonthly = {:?}\n",
            limits[name]
        );
        if !labels.is_empty() {
            s += &format!("labels = {labels}\n");
        }
    }
    s
}

/// The SMTP server (aiosmtpd) writing one JSON line per message.
struct Smtp {
    _proc: Proc,
    port: u16,
    out: PathBuf,
}

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        let python = python();
        let ok = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "{} has no aiosmtpd: run ./scripts/test.sh (it installs scripts/deps/requirements.lock into .venv)",
            python.display()
        );
        let port = free_port();
        let out = dir.join("mail.jsonl");
        let mut child = Command::new(&python)
            .arg(repo().join("tests/reference/smtp_sink.py"))
            .arg(port.to_string())
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smtp_sink.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "listening");
        Smtp {
            _proc: Proc(child),
            port,
            out,
        }
    }

    /// (recipient, subject) of every message so far, one per envelope recipient.
    fn mail(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let mut out = Vec::new();
        for line in text.lines() {
            let m: serde_json::Value = serde_json::from_str(line).unwrap();
            for r in m["rcpt_tos"].as_array().unwrap() {
                out.push((
                    r.as_str().unwrap().to_string(),
                    m["subject"].as_str().unwrap().to_string(),
                ));
            }
        }
        out
    }
}

/// A notification as counted: (recipient, alertname, budget, billing_period), from the subject
/// Alertmanager writes (`[FIRING:n] <group label values> …`).
type Note = (String, String, String, String);

fn notes(mail: &[(String, String)]) -> Vec<Note> {
    let mut out: Vec<Note> = mail
        .iter()
        .map(|(to, subject)| {
            let words: Vec<&str> = subject.split_whitespace().collect();
            assert!(
                words[0].starts_with("[FIRING:"),
                "not a firing notification: {subject}"
            );
            let budget = BUDGETS
                .iter()
                .map(|b| b.0)
                .find(|b| words.contains(b))
                .unwrap_or("")
                .to_string();
            let period = words
                .iter()
                .find(|w| w.len() == 7 && w.starts_with("2026-"))
                .unwrap_or(&"")
                .to_string();
            (to.clone(), words[1].to_string(), budget, period)
        })
        .collect();
    out.sort();
    out
}

/// HTTP POSTs to loopback (the pager's webhook and the Slack URL), by path.
struct Hooks {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Hooks {
    fn start() -> Hooks {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (got2, stop2) = (got.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
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
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Hooks { addr, got, stop }
    }

    fn bodies(&self, path: &str) -> Vec<serde_json::Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, j)| j.clone())
            .collect()
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An exporter replica on a fixed port (so that a restart keeps its scrape target).
fn replica(port: u16, cfg: &Path, export: &Path) -> Daemon {
    let listen = format!("127.0.0.1:{port}");
    let d = Daemon::start_args(
        &[
            "serve",
            "--listen",
            &listen,
            "--config",
            cfg.to_str().unwrap(),
            "--source",
            export.to_str().unwrap(),
        ],
        &[("AWS_EC2_METADATA_DISABLED", "true")],
    );
    d.wait_ready();
    d
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Rewrites the configuration and reloads both replicas (SIGHUP); waits until both serve it.
fn reload(replicas: &[&Daemon], cfg: &Path, text: &str, check: impl Fn(&[Sample]) -> bool) {
    std::fs::write(cfg, text).unwrap();
    for r in replicas {
        signal(r.child.id(), "HUP");
    }
    for r in replicas {
        wait_for(
            Duration::from_secs(30),
            "the reloaded configuration",
            || check(&r.metrics()).then_some(()),
        );
    }
}

fn prometheus(dir: &Path, listen: SocketAddr, config: &str) -> Proc {
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
            // Below the rules' `for`, so that a restart restores pending and firing alerts from
            // ALERTS_FOR_STATE (as the shipped 30m/2h are above the default 10m).
            .arg("--rules.alert.for-grace-period=1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    )
}

fn query(prom: SocketAddr, q: &str) -> Vec<serde_json::Value> {
    let enc: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    http_get(prom, &format!("/api/v1/query?query={enc}"), None)
        .ok()
        .and_then(|(s, _, body)| (s == 200).then_some(body))
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

/// Firing alerts in Prometheus as (alertname, budget, billing_period).
fn firing(prom: SocketAddr) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = query(prom, "ALERTS{alertstate=\"firing\"}")
        .iter()
        .map(|r| {
            let m = &r["metric"];
            let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
            (s("alertname"), s("budget"), s("billing_period"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn each_owner_gets_each_threshold_once_per_period_through_restarts_and_the_month_end() {
    if missing(&[Need::Venv, Need::Prometheus, Need::Alertmanager]) {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    cur_sample::write_export(
        &export,
        &cur_sample::ExportSpec {
            periods: vec!["2026-10".into(), "2026-11".into()],
            rows_per_period: 3_000,
            seed: 7,
            ..cur_sample::ExportSpec::default()
        },
    )
    .unwrap();
    let cfg = dir.path().join("bce.toml");
    let nov = "2026-11-20T12:00:00Z";

    // Spend and forecast of each budget in November, with limits nobody reaches.
    let huge: BTreeMap<&str, f64> = BUDGETS.iter().map(|b| (b.0, 1e12)).collect();
    std::fs::write(&cfg, config(nov, &huge)).unwrap();
    let probe = parse_exposition(&once(
        &export,
        &["--config", cfg.to_str().unwrap(), "--progress", "never"],
    ));
    let figure = |name: &str, budget: &str| {
        value(
            &probe,
            name,
            &[("budget", budget), ("billing_period", "2026-11")],
        )
        .unwrap_or_else(|| panic!("no {name} for {budget}"))
    };
    let spend: BTreeMap<&str, f64> = BUDGETS
        .iter()
        .map(|b| (b.0, figure("bedrock_budget_spend_usd", b.0)))
        .collect();
    let forecast: BTreeMap<&str, f64> = BUDGETS
        .iter()
        .map(|b| (b.0, figure("bedrock_budget_forecast_usd", b.0)))
        .collect();
    // Step k puts every budget but "late" at ratio[k] of its limit; "late" stays at 0.3 until the
    // month has rolled over. The forecast crosses 100 % at the second step, not the first.
    let ratios = [0.6, 0.9, 1.2];
    let limits = |k: usize, late: f64| -> BTreeMap<&str, f64> {
        BUDGETS
            .iter()
            .map(|b| {
                let r = if b.0 == "late" { late } else { ratios[k] };
                (b.0, spend[b.0] / r)
            })
            .collect()
    };
    for b in BUDGETS {
        let f = forecast[b.0] / spend[b.0];
        assert!(
            spend[b.0] > 0.0 && f * ratios[0] < 1.0 && f * ratios[1] >= 1.0,
            "budget {}: spend {} forecast {}: the steps need forecast/spend in [1.11, 1.67)",
            b.0,
            spend[b.0],
            forecast[b.0]
        );
    }

    // The receivers: SMTP for mail, a webhook sink for the pager and Slack.
    let smtp = Smtp::start(dir.path());
    let hooks = Hooks::start();
    let am_port = free_port();
    let am_addr: SocketAddr = format!("127.0.0.1:{am_port}").parse().unwrap();
    let example = std::fs::read_to_string(repo().join(AM_EXAMPLE)).unwrap();
    let am_cfg = example
        .replace("smtp.example.com:587", &format!("127.0.0.1:{}", smtp.port))
        .replace("smtp_require_tls: true", "smtp_require_tls: false")
        .replace(
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            &format!("http://{}/slack", hooks.addr),
        )
        .replace("http://127.0.0.1:5001", &format!("http://{}", hooks.addr))
        .replace("group_wait: 1m", "group_wait: 1s")
        .replace("group_interval: 15m", "group_interval: 2s");
    assert_ne!(am_cfg, example);
    for kept in ["repeat_interval: 960h", "send_resolved: false", "group_by:"] {
        assert!(am_cfg.contains(kept), "{kept}");
    }
    let am_file = dir.path().join("alertmanager.yml");
    std::fs::write(&am_file, &am_cfg).unwrap();
    let _am = Proc(
        Command::new("/usr/bin/prometheus-alertmanager")
            .arg(format!("--config.file={}", am_file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am").display()
            ))
            .arg(format!("--web.listen-address={am_addr}"))
            .arg("--cluster.listen-address=")
            .arg("--data.retention=960h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "start /usr/bin/prometheus-alertmanager (Debian package prometheus-alertmanager)",
            ),
    );

    // Two replicas with the first step's limits.
    std::fs::write(&cfg, config(nov, &limits(0, 0.3))).unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = replica(port_a, &cfg, &export);
    let mut b = replica(port_b, &cfg, &export);

    // Prometheus with rules generated for the scenario's parameters.
    let rules = generate_with(SCENARIO_PARAMS, &dir.path().join("rules"));
    let prom_dir = dir.path().join("prom");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prom_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let prom_config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n\
         scrape_configs:\n  - job_name: bedrock-cost-exporter\n    static_configs:\n      - targets: ['127.0.0.1:{port_a}', '127.0.0.1:{port_b}']\n",
        rules.display()
    );
    let mut prom = prometheus(&prom_dir, prom_addr, &prom_config);

    let owners = |alert: &str, period: &str, which: &[&str]| -> Vec<Note> {
        BUDGETS
            .iter()
            .filter(|b| which.contains(&b.0))
            .map(|b| {
                let to = if b.3.is_empty() {
                    FINOPS.to_string()
                } else {
                    format!("{}@teams.example", b.1)
                };
                (to, alert.to_string(), b.0.to_string(), period.to_string())
            })
            .collect()
    };
    let all4 = ["alpha", "beta", "gamma", "shared"];
    let mut want: Vec<Note> = Vec::new();
    let wait_mail = |want: &Vec<Note>, what: &str| {
        let mut want = want.clone();
        want.sort();
        wait_for(Duration::from_secs(60), what, || {
            let got = notes(&smtp.mail());
            (got.len() >= want.len()).then_some(got)
        });
        // A group interval and more: nothing else arrives.
        std::thread::sleep(Duration::from_secs(3));
        let got = notes(&smtp.mail());
        let minus = |x: &[Note], y: &[Note]| {
            let mut rest = x.to_vec();
            for n in y {
                if let Some(i) = rest.iter().position(|r| r == n) {
                    rest.remove(i);
                }
            }
            rest
        };
        assert!(
            got == want,
            "after {what}: unexpected {:#?}\nmissing {:#?}",
            minus(&got, &want),
            minus(&want, &got)
        );
    };

    // Step 1: 60 % — the half-used notice, once per budget.
    want.extend(owners("BedrockBudgetHalfUsed", "2026-11", &all4));
    wait_mail(&want, "step 1 (60 %)");
    // Step 2: 90 % — almost used, and the forecast over the limit.
    reload(&[&a, &b], &cfg, &config(nov, &limits(1, 0.3)), |m| {
        value(m, "bedrock_budget_limit_usd", &[("budget", "alpha")])
            == Some(spend["alpha"] / ratios[1])
    });
    want.extend(owners("BedrockBudgetAlmostUsed", "2026-11", &all4));
    want.extend(owners("BedrockBudgetForecastExceeded", "2026-11", &all4));
    wait_mail(&want, "step 2 (90 %)");
    // Step 3: 120 % — exceeded: the owner (or FinOps) and the pager.
    reload(&[&a, &b], &cfg, &config(nov, &limits(2, 0.3)), |m| {
        value(m, "bedrock_budget_limit_usd", &[("budget", "alpha")])
            == Some(spend["alpha"] / ratios[2])
    });
    want.extend(owners("BedrockBudgetExceeded", "2026-11", &all4));
    wait_mail(&want, "step 3 (120 %)");
    let firing_all = firing(prom_addr);
    for budget in all4 {
        for alert in [
            "BedrockBudgetHalfUsed",
            "BedrockBudgetAlmostUsed",
            "BedrockBudgetExceeded",
            "BedrockBudgetForecastExceeded",
        ] {
            assert!(
                firing_all.contains(&(alert.into(), budget.into(), "2026-11".into())),
                "{alert} {budget} not firing: {firing_all:?}"
            );
        }
    }

    // Disturbances, each with every threshold firing, each longer than Alertmanager's group
    // interval (so that an alert the rules let resolve would be flushed as resolved and notified
    // again when it returns); after each, the thresholds fire again and no mail comes.
    let all_firing = |prom: SocketAddr| {
        let f = firing(prom);
        all4.iter().all(|b| {
            [
                "BedrockBudgetHalfUsed",
                "BedrockBudgetAlmostUsed",
                "BedrockBudgetExceeded",
                "BedrockBudgetForecastExceeded",
            ]
            .iter()
            .all(|a| f.contains(&((*a).into(), (*b).into(), "2026-11".into())))
        })
    };
    let settle = |prom: SocketAddr, what: &str| {
        wait_for(Duration::from_secs(60), what, || {
            all_firing(prom).then_some(())
        });
        wait_mail(&want, what);
    };
    settle(prom_addr, "every threshold firing");
    // 1. One replica restarts: the other one carries the series.
    drop(a);
    a = replica(port_a, &cfg, &export);
    settle(prom_addr, "a replica's restart");
    // 2. Missed scrapes: both replicas stop answering for 5 s (stale markers, up == 0).
    signal(a.child.id(), "STOP");
    signal(b.child.id(), "STOP");
    std::thread::sleep(Duration::from_secs(5));
    signal(a.child.id(), "CONT");
    signal(b.child.id(), "CONT");
    settle(prom_addr, "5 s of missed scrapes");
    // 3. Both replicas restart at once: no series until their first refresh.
    drop(a);
    drop(b);
    std::thread::sleep(Duration::from_secs(4));
    a = replica(port_a, &cfg, &export);
    b = replica(port_b, &cfg, &export);
    settle(prom_addr, "both replicas' restart");
    // 4. Prometheus restarts (SIGTERM; same TSDB): firing alerts are restored from
    //    ALERTS_FOR_STATE, and Alertmanager still holds them meanwhile.
    signal(prom.0.id(), "TERM");
    let _ = prom.0.wait();
    std::thread::sleep(Duration::from_secs(4));
    let restarted = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    prom = prometheus(&prom_dir, prom_addr, &prom_config);
    // Its own scrapes first: series it never scraped itself get no staleness markers, so what it
    // replayed from the WAL would otherwise stand for up to 5 minutes whatever changes next.
    wait_for(
        Duration::from_secs(60),
        "the restarted Prometheus's first scrapes",
        || {
            let r = query(
                prom_addr,
                "min(timestamp(up{job=\"bedrock-cost-exporter\"}))",
            );
            let t: f64 = r.first()?["value"][1].as_str()?.parse().ok()?;
            (t > restarted).then_some(())
        },
    );
    settle(prom_addr, "a Prometheus restart");

    // The month rolls over: December 2nd, within closedPeriodDays. November's alerts go on
    // firing (the same alerts: no new mail); "late" crosses its November limit now.
    let dec2 = "2026-12-02T00:00:00Z";
    reload(&[&a, &b], &cfg, &config(dec2, &limits(2, 1.2)), |m| {
        m.iter().any(|s| {
            s.name == "bedrock_exporter_current_billing_period"
                && s.label("billing_period") == "2026-12"
        }) && value(m, "bedrock_budget_limit_usd", &[("budget", "late")])
            == Some(spend["late"] / 1.2)
    });
    want.extend(owners("BedrockBudgetExceeded", "2026-11", &["late"]));
    // December has no spend yet; its forecast (November's daily rate) may already pass a limit
    // set for November's 120 %: that is December's own warning, due once.
    let december_over = |d: &Daemon| -> Vec<&str> {
        let m = d.metrics();
        BUDGETS
            .iter()
            .map(|b| b.0)
            .filter(|b| {
                let f = value(
                    &m,
                    "bedrock_budget_forecast_usd",
                    &[("budget", b), ("billing_period", "2026-12")],
                )
                .unwrap();
                let l = value(&m, "bedrock_budget_limit_usd", &[("budget", b)]).unwrap();
                f >= l
            })
            .collect()
    };
    let december = december_over(&a);
    want.extend(owners(
        "BedrockBudgetForecastExceeded",
        "2026-12",
        &december,
    ));
    wait_mail(&want, "the month's rollover and late's November overspend");
    let f = firing(prom_addr);
    assert!(
        f.contains(&(
            "BedrockBudgetExceeded".into(),
            "alpha".into(),
            "2026-11".into()
        )) && f.contains(&(
            "BedrockBudgetExceeded".into(),
            "late".into(),
            "2026-11".into()
        )),
        "{f:?}"
    );
    // The late notification says the period has closed.
    let late_mail = std::fs::read_to_string(&smtp.out).unwrap();
    assert!(
        late_mail.contains("its spend was restated after the month ended"),
        "{late_mail}"
    );

    // December 4th: past the window. November's alerts stop (after keep_firing_for), silently.
    let dec4 = "2026-12-04T00:00:00Z";
    reload(&[&a, &b], &cfg, &config(dec4, &limits(2, 1.2)), |m| {
        value(m, "bedrock_exporter_now_timestamp_seconds", &[]) == Some(1_796_342_400.0)
    });
    // December's forecast moves with the date: one newly over its limit warns now (once).
    let newly: Vec<&str> = december_over(&a)
        .into_iter()
        .filter(|b| !december.contains(b))
        .collect();
    want.extend(owners("BedrockBudgetForecastExceeded", "2026-12", &newly));
    wait_for(
        Duration::from_secs(60),
        "November's alerts to stop after keep_firing_for",
        || {
            let f = firing(prom_addr);
            f.iter().all(|x| x.2 != "2026-11").then_some(())
        },
    );
    wait_mail(&want, "the closed-period window");

    // Every recipient got exactly its own: November's four thresholds per budget, late's 100 %,
    // each once.
    let got = notes(&smtp.mail());
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for n in got.iter().filter(|n| n.3 == "2026-11") {
        *per.entry(n.0.as_str()).or_default() += 1;
    }
    assert_eq!(
        per,
        BTreeMap::from([
            ("alice@teams.example", 4),
            ("bob@teams.example", 4),
            ("carol@teams.example", 4),
            ("dave@teams.example", 1),
            (FINOPS, 4),
        ]),
        "{got:#?}"
    );
    let mut dedup = got.clone();
    dedup.dedup();
    assert_eq!(dedup, got, "a notification came twice");
    // The pager: each budget's 100 %, once; Slack: carol's four, to her channel.
    let mut paged: Vec<String> = hooks
        .bodies("/pager")
        .iter()
        .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            format!(
                "{} {}",
                a["labels"]["budget"].as_str().unwrap(),
                a["labels"]["billing_period"].as_str().unwrap()
            )
        })
        .collect();
    paged.sort();
    assert_eq!(
        paged,
        [
            "alpha 2026-11",
            "beta 2026-11",
            "gamma 2026-11",
            "late 2026-11",
            "shared 2026-11"
        ]
    );
    let slack = hooks.bodies("/slack");
    let carol = want.iter().filter(|n| n.2 == "gamma").count();
    assert_eq!(slack.len(), carol, "{slack:#?}");
    assert!(
        slack.iter().all(|s| s["channel"] == "#carol-costs"),
        "{slack:#?}"
    );
    drop(prom);
    eprintln!("alert scenario: {:.1} s", started.elapsed().as_secs_f64());
}
