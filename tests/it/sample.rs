//! No silent sample: with no source configured the exporter stops at start (exit status 78) and
//! says how to set one; `cargo run` reads the bundled sample only through the variable the
//! repository's `.cargo/config.toml` sets; data whose manifests carry the sample marker is
//! announced (`bedrock_exporter_sample_data` 1, a warning at every refresh) wherever it is copied;
//! a demo export written by `cur-sample --demo` is dated to the present.

use std::process::{Command, Output};
use std::time::Duration;

use cur_sample::{ExportSpec, demo_periods, start_of_day_ms, write_export};

use crate::util::*;

const FALLBACK: &str = "BEDROCK_COST_EXPORTER_FALLBACK_SOURCE";

/// The binary with exactly these arguments, with neither `BCE_SOURCE` nor the fallback variable.
fn run_bare(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "info")
        .env_remove("BCE_SOURCE")
        .env_remove(FALLBACK);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run bedrock-cost-exporter")
}

#[test]
fn with_no_source_the_exporter_stops_with_78_and_says_how_to_set_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("no-source.toml");
    std::fs::write(&cfg, "refresh_interval = \"5m\"\n").unwrap();
    let cfg = cfg.to_str().unwrap();
    for args in [
        vec!["serve", "--listen", "127.0.0.1:0"],
        vec!["once"],
        vec!["check-config"],
        vec!["serve", "--listen", "127.0.0.1:0", "--config", cfg],
    ] {
        let out = run_bare(&args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {err}");
        for hint in ["no export to read", "BCE_SOURCE", "--source", "source"] {
            assert!(err.contains(hint), "{args:?}: no {hint:?} in: {err}");
        }
        assert!(out.stdout.is_empty(), "{args:?} printed data");
    }
    // Any other configuration error stops it the same way (systemd: RestartPreventExitStatus=78).
    let out = run_bare(&["once", "--source", "s3://"], &[]);
    assert_eq!(out.status.code(), Some(78));
    // Given a source in any of the three ways, it runs.
    let sample = repo().join("sample/export");
    let sample = sample.to_str().unwrap();
    let by_flag = run_bare(&["once", "--source", sample], &[]);
    let by_env = run_bare(&["once"], &[("BCE_SOURCE", sample)]);
    let file = dir.path().join("source.toml");
    std::fs::write(&file, format!("source = {sample:?}\n")).unwrap();
    let by_file = run_bare(&["once", "--config", file.to_str().unwrap()], &[]);
    for out in [&by_flag, &by_env, &by_file] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let costs = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("bedrock_cost_usd{"))
            .map(str::to_string)
            .collect()
    };
    assert!(!costs(&by_flag).is_empty());
    assert_eq!(costs(&by_flag), costs(&by_env));
    assert_eq!(costs(&by_flag), costs(&by_file));
}

/// The variable `.cargo/config.toml` sets for `cargo run` names a source only when nothing else
/// does: a config file's source wins over it.
#[test]
fn the_cargo_fallback_source_yields_to_any_configured_one() {
    let config = std::fs::read_to_string(repo().join(".cargo/config.toml")).unwrap();
    assert!(
        config.contains(&format!(
            "{FALLBACK} = {{ value = \"sample/export\", relative = true }}"
        )),
        "{config}"
    );
    let sample = repo().join("sample/export");
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    write_export(&other, &ExportSpec::default()).unwrap();
    let fallback = [(FALLBACK, sample.to_str().unwrap())];
    let out = run_bare(&["once"], &fallback);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("export=\"{}\"", sample.display())),
        "the fallback export is read"
    );
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, format!("source = {:?}\n", other.to_str().unwrap())).unwrap();
    let out = run_bare(&["once", "--config", cfg.to_str().unwrap()], &fallback);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("export=\"{}\"", other.display())));
    assert!(!text.contains(sample.to_str().unwrap()));
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for f in walk(from) {
        let dest = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
}

#[test]
fn sample_data_is_announced_by_its_manifest_marker_wherever_it_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    // A copy of the bundled sample under another name: the marker, not the path, tells.
    let copy = dir.path().join("billing-mirror");
    copy_tree(&repo().join("sample/export"), &copy);
    let text = once(&copy, &[]);
    let samples = parse_exposition(&text);
    assert_eq!(
        value(&samples, "bedrock_exporter_sample_data", &[]),
        Some(1.0)
    );
    // An export without the marker (as AWS writes them) is not.
    let bill = dir.path().join("bill");
    write_export(&bill, &ExportSpec::default()).unwrap();
    let samples = parse_exposition(&once(&bill, &[]));
    assert_eq!(
        value(&samples, "bedrock_exporter_sample_data", &[]),
        Some(0.0)
    );
    // The same rows with the marker: the same Bedrock series, and the flag.
    let marked = dir.path().join("marked");
    write_export(
        &marked,
        &ExportSpec {
            sample_marker: true,
            ..ExportSpec::default()
        },
    )
    .unwrap();
    let bedrock = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("bedrock_cost") || l.starts_with("bedrock_usage"))
            .map(|l| l.replace("/marked\"", "/bill\""))
            .collect()
    };
    let (a, b) = (once(&bill, &[]), once(&marked, &[]));
    assert_eq!(bedrock(&a), bedrock(&b));
    assert_eq!(
        value(&parse_exposition(&b), "bedrock_exporter_sample_data", &[]),
        Some(1.0)
    );

    // Served: the log warns at every refresh, naming the export.
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "refresh_interval = \"1s\"\n").unwrap();
    let mut d = Daemon::start(
        &[
            "--source",
            copy.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    let warned = |d: &mut Daemon| {
        d.drain_log()
            .iter()
            .filter(|l| l.contains("WARN") && l.contains("serving SAMPLE data, not a bill"))
            .count()
    };
    let mut seen = 0;
    wait_for(Duration::from_secs(30), "three refreshes warning", || {
        seen = warned(&mut d);
        (seen >= 3).then_some(())
    });
    let m = d.metrics();
    assert_eq!(value(&m, "bedrock_exporter_sample_data", &[]), Some(1.0));
    // `healthcheck` needs no source (the image's HEALTHCHECK runs it without the daemon's config).
    let addr = d.addr.to_string();
    let out = run_bare(&["healthcheck", "--listen", &addr], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_bare(&["healthcheck", "--ready", "--listen", &addr], &[]);
    assert!(out.status.success());
}

#[test]
fn a_demo_export_is_dated_to_the_present() {
    // A fixed "present", never today's date: 10 March 2027, 09:30 UTC.
    let now = "2027-03-10T09:30:00Z";
    let now_ms = 1_804_671_000_000_i64;
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(now)
            .unwrap()
            .timestamp_millis(),
        now_ms
    );
    assert_eq!(demo_periods(now_ms), ["2027-02", "2027-03"]);
    assert_eq!(
        demo_periods(1_798_761_600_000), // 2027-01-01T00:00:00Z
        ["2026-12", "2027-01"]
    );
    let until = start_of_day_ms(now_ms);
    assert_eq!(until, 1_804_636_800_000); // 2027-03-10T00:00:00Z
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let written = write_export(
        &demo,
        &ExportSpec {
            periods: demo_periods(now_ms),
            usage_until_ms: Some(until),
            sample_marker: true,
            ..ExportSpec::default()
        },
    )
    .unwrap();
    // Written "at" the present (the exporter never dates usage after its export was written).
    for m in &written.manifests {
        std::fs::File::options()
            .write(true)
            .open(demo.join(m))
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + Duration::from_millis(now_ms as u64))
            .unwrap();
    }
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "now = {now:?}\n[[budgets]]\nname = \"all\"\nowner = \"finops\"\nmonthly = 1000000\n"
        ),
    )
    .unwrap();
    let samples = parse_exposition(&once(&demo, &["--config", cfg.to_str().unwrap()]));
    assert_eq!(
        value(
            &samples,
            "bedrock_exporter_current_billing_period",
            &[("billing_period", "2027-03")]
        ),
        Some(1.0)
    );
    let spend = |p: &str| {
        value(
            &samples,
            "bedrock_budget_spend_usd",
            &[("budget", "all"), ("billing_period", p)],
        )
        .unwrap_or_else(|| panic!("no spend for {p}"))
    };
    assert!(spend("2027-03") > 0.0 && spend("2027-02") > 0.0);
    // The current month is billed up to the start of today, never after.
    let newest = value(
        &samples,
        "bedrock_exporter_data_newest_usage_timestamp_seconds",
        &[("billing_period", "2027-03")],
    )
    .expect("newest usage of the current month");
    assert!(newest <= until as f64 / 1000.0, "{newest}");
    assert!(newest > (until - 86_400_000) as f64 / 1000.0, "{newest}");
    assert_eq!(
        value(&samples, "bedrock_exporter_sample_data", &[]),
        Some(1.0)
    );
}
