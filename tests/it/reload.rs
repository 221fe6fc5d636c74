//! Reloading the configuration: SIGHUP and `POST /-/reload` (with `--web.enable-lifecycle`)
//! reread the TOML file and the web configuration file; a good change shows in /metrics after the
//! refresh that follows, a bad file keeps the running configuration and sets
//! `bedrock_exporter_config_last_reload_successful` to 0.

use std::process::Command;
use std::time::Duration;

use bedrock_cost_exporter::web_config::basic_authorization;

use crate::util::*;

const OK: &str = "bedrock_exporter_config_last_reload_successful";
const OK_TIME: &str = "bedrock_exporter_config_last_reload_success_timestamp_seconds";

fn hup(d: &Daemon) {
    let st = Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits until /metrics satisfies `f`.
fn wait_metrics(d: &Daemon, what: &str, f: impl Fn(&[Sample]) -> bool) {
    wait_for(Duration::from_secs(60), what, || {
        f(&d.metrics()).then_some(())
    });
}

fn post(d: &Daemon, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut args = vec!["-sS", "-X", "POST", "-o", "-", "-w", "\n%{http_code}"];
    let header;
    if let Some(a) = auth {
        header = format!("Authorization: {a}");
        args.extend(["-H", &header]);
    }
    let url = format!("http://{}{path}", d.addr);
    args.push(&url);
    let out = Command::new(tool("curl")).args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

#[test]
fn sighup_applies_a_good_change_and_keeps_the_old_config_on_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let source = repo().join("sample/export");
    let write = |body: &str| {
        std::fs::write(
            &cfg,
            format!("source = {:?}\n{body}", source.to_str().unwrap()),
        )
        .unwrap()
    };
    write("max_series = 20000\n");
    let mut d = Daemon::start(&["--config", cfg.to_str().unwrap()], &[]);
    d.wait_ready();
    let m = d.metrics();
    assert_eq!(
        value(&m, OK, &[]),
        Some(1.0),
        "the start counts as a successful load"
    );
    let started = value(&m, OK_TIME, &[]).unwrap();
    assert_eq!(
        value(&m, "bedrock_exporter_series_limit", &[]),
        Some(20000.0)
    );
    assert!(
        samples(&m, "bedrock_cost_usd")
            .iter()
            .any(|s| !s.label("tag_team").is_empty())
    );

    // A good change: a smaller cap and a renamed tag label.
    write("max_series = 40\n[tags]\nrename = { \"iamPrincipal/team\" = \"squad\" }\n");
    hup(&d);
    wait_metrics(&d, "the reloaded max_series and tag rename", |m| {
        value(m, "bedrock_exporter_series_limit", &[]) == Some(40.0)
            && samples(m, "bedrock_cost_usd")
                .iter()
                .any(|s| !s.label("squad").is_empty())
    });
    let m = d.metrics();
    assert!(
        samples(&m, "bedrock_cost_usd")
            .iter()
            .all(|s| s.label("tag_team").is_empty())
    );
    assert!(samples(&m, "bedrock_cost_usd").len() <= 40);
    assert_eq!(value(&m, OK, &[]), Some(1.0));
    assert!(value(&m, OK_TIME, &[]).unwrap() >= started);

    // A bad file: logged, counted, and the running configuration stays.
    write("max_series = 3\n");
    hup(&d);
    wait_metrics(&d, "config_last_reload_successful 0", |m| {
        value(m, OK, &[]) == Some(0.0)
    });
    let m = d.metrics();
    assert_eq!(value(&m, "bedrock_exporter_series_limit", &[]), Some(40.0));
    assert!(
        samples(&m, "bedrock_cost_usd")
            .iter()
            .any(|s| !s.label("squad").is_empty())
    );
    let log = d.drain_log().join("\n");
    assert!(
        log.contains("configuration reload failed") && log.contains("max_series"),
        "{log}"
    );
    // A key that needs a restart is reported and keeps its running value.
    write(
        "max_series = 40\nmax_connections = 7\n[tags]\nrename = { \"iamPrincipal/team\" = \"squad\" }\n",
    );
    hup(&d);
    wait_metrics(&d, "config_last_reload_successful 1 again", |m| {
        value(m, OK, &[]) == Some(1.0)
    });
    let log = d.drain_log().join("\n");
    assert!(
        log.contains("apply only after a restart") && log.contains("max_connections"),
        "{log}"
    );
    assert_eq!(
        d.get("/healthz").0,
        200,
        "still serving on the first address"
    );
}

#[test]
fn post_reload_needs_the_lifecycle_flag_and_reloads_the_web_config_too() {
    if missing(&[Need::Curl]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let web = dir.path().join("web.yml");
    let source = repo().join("sample/export");
    std::fs::write(&cfg, format!("source = {:?}\n", source.to_str().unwrap())).unwrap();
    std::fs::write(&web, "# no TLS, no auth yet\n").unwrap();
    let d = Daemon::start(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--web.config.file",
            web.to_str().unwrap(),
            "--web.enable-lifecycle",
        ],
        &[],
    );
    d.wait_ready();
    // A bad TOML file: 500 with the error, and the metric says so.
    std::fs::write(&cfg, "refresh_interval = \"soon\"\n").unwrap();
    let (code, body) = post(&d, "/-/reload", None);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("refresh_interval"), "{body}");
    wait_metrics(&d, "reload failure in the metrics", |m| {
        value(m, OK, &[]) == Some(0.0)
    });
    // A bad web file: same.
    std::fs::write(&cfg, format!("source = {:?}\n", source.to_str().unwrap())).unwrap();
    std::fs::write(&web, "basic_auth_users:\n  prometheus: not-a-hash\n").unwrap();
    let (code, body) = post(&d, "/-/reload", None);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("basic_auth_users.prometheus"), "{body}");
    assert_eq!(
        d.get("/healthz").0,
        200,
        "the old web configuration (no auth) stays"
    );
    // A good web file turns basic auth on for new connections.
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {hash}\n")).unwrap();
    let (code, body) = post(&d, "/-/reload", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(d.get("/healthz").0, 401);
    let auth = basic_authorization("prometheus", "s3cret");
    let auth = auth.to_str().unwrap();
    wait_for(
        Duration::from_secs(60),
        "reload success in the metrics",
        || {
            let (s, _, b) = http_get_raw(d.addr, "/metrics", &[("Authorization", auth)]).ok()?;
            (s == 200
                && value(&parse_exposition(&String::from_utf8_lossy(&b)), OK, &[]) == Some(1.0))
            .then_some(())
        },
    );
    // Reloading now needs the credentials too.
    assert_eq!(post(&d, "/-/reload", None).0, 401);
    assert_eq!(post(&d, "/-/reload", Some(auth)).0, 200);
}
