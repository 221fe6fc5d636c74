//! Several exports in one daemon: two payers' exports written by the generator, served in one
//! snapshot whose per-payer totals equal DuckDB's over each export; one export breaking while the
//! other keeps updating; the same payer and period in two exports refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use cur_sample::{ExportSpec, write_export};

use crate::util::*;

const PAYER_A: &str = "111111111111";
const PAYER_B: &str = "222222222222";

fn write(root: &Path, payer: &str, seed: u64) {
    let spec = ExportSpec {
        payer_account_id: payer.into(),
        seed,
        rows_per_period: 1_500,
        ..ExportSpec::default()
    };
    write_export(root, &spec).unwrap();
}

/// Bedrock cost by payer on /metrics (or `once`'s output).
fn cost_by_payer(samples: &[Sample]) -> BTreeMap<String, f64> {
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == "bedrock_cost_usd") {
        by.entry(s.label("payer_account_id").to_string())
            .or_default()
            .push(s.value);
    }
    by.into_iter().map(|(k, v)| (k, ksum(v))).collect()
}

fn reference_total(root: &Path) -> f64 {
    duckdb_sums(root, &[])["total"]["cost"].as_f64().unwrap()
}

fn config(dir: &Path, body: &str) -> std::path::PathBuf {
    let f = dir.join("multi.toml");
    std::fs::write(&f, body).unwrap();
    f
}

#[test]
fn two_payers_in_one_snapshot_equal_duckdb_per_payer() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write(&a, PAYER_A, 1);
    write(&b, PAYER_B, 2);
    let reference = duckdb_sums(&a, &[]);
    assert_eq!(
        reference["cost_by"]["payer_account_id"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [PAYER_A],
        "the reference sees the generator's payer"
    );
    let f = config(
        dir.path(),
        &format!(
            "[[exports]]\nname = \"payer-a\"\nsource = {:?}\n\n[[exports]]\nname = \"payer-b\"\nsource = {:?}\n",
            a.to_str().unwrap(),
            b.to_str().unwrap()
        ),
    );
    let out = run(&["once", "--config", f.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let ours = cost_by_payer(&samples);
    assert_eq!(ours.len(), 2, "{ours:?}");
    for (payer, root) in [(PAYER_A, &a), (PAYER_B, &b)] {
        let want = reference_total(root);
        assert!(
            close(ours[payer], want, 1e-9),
            "payer {payer}: ours {} reference {want}",
            ours[payer]
        );
    }
    // Per-export self-metrics.
    for export in ["payer-a", "payer-b"] {
        assert_eq!(
            value(
                &samples,
                "bedrock_exporter_last_refresh_success",
                &[("export", export)]
            ),
            Some(1.0),
            "{export}"
        );
        assert_eq!(
            value(&samples, "bedrock_exporter_ready", &[("export", export)]),
            Some(1.0)
        );
    }
    // check-config prints the exports, and what it prints loads back.
    let out = run(&["check-config", "--config", f.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[[exports]]") && text.contains("name = \"payer-b\""),
        "{text}"
    );
}

#[test]
fn one_broken_export_keeps_its_last_good_data_while_the_other_updates() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write(&a, PAYER_A, 1);
    write(&b, PAYER_B, 2);
    let (want_a, want_b) = (reference_total(&a), reference_total(&b));
    let f = config(
        dir.path(),
        &format!(
            "refresh_interval = \"1s\"\nsources = [{:?}, {:?}]\n",
            a.to_str().unwrap(),
            b.to_str().unwrap()
        ),
    );
    let d = Daemon::start(&["--config", f.to_str().unwrap()], &[]);
    d.wait_ready();
    let (name_a, name_b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let first = cost_by_payer(&d.metrics());
    assert!(close(first[PAYER_A], want_a, 1e-9) && close(first[PAYER_B], want_b, 1e-9));

    // Break b: every data file of its newest period becomes garbage, its manifest is rewritten.
    let summary_files: Vec<_> = walk(&b.join("data"));
    for p in &summary_files {
        std::fs::write(p, b"not parquet at all").unwrap();
    }
    for m in walk(&b.join("metadata")) {
        let text = std::fs::read(&m).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&m, text).unwrap();
    }
    // And change a: a new bill for payer A.
    std::thread::sleep(Duration::from_millis(1100));
    write(&a, PAYER_A, 3);
    let new_a = reference_total(&a);
    assert!(
        !close(new_a, want_a, 1e-9),
        "the rewrite changes payer A's total"
    );

    let samples = wait_for(Duration::from_secs(60), "a updated and b failing", || {
        let s = d.metrics();
        let by = cost_by_payer(&s);
        let b_failed = value(
            &s,
            "bedrock_exporter_last_refresh_success",
            &[("export", name_b)],
        ) == Some(0.0);
        (b_failed && close(by[PAYER_A], new_a, 1e-9)).then_some(s)
    });
    let by = cost_by_payer(&samples);
    assert!(
        close(by[PAYER_B], want_b, 1e-9),
        "b keeps its last good data: {} vs {want_b}",
        by[PAYER_B]
    );
    assert_eq!(
        value(
            &samples,
            "bedrock_exporter_last_refresh_success",
            &[("export", name_a)]
        ),
        Some(1.0)
    );
    let decode_b = value(
        &samples,
        "bedrock_exporter_errors_total",
        &[("export", name_b), ("stage", "decode")],
    )
    .unwrap();
    assert!(decode_b >= 1.0, "{decode_b}");
    assert_eq!(
        value(
            &samples,
            "bedrock_exporter_errors_total",
            &[("export", name_a), ("stage", "decode")],
        ),
        Some(0.0)
    );
    assert_eq!(d.get("/readyz").0, 200, "ready stays once every export was");
}

#[test]
fn the_same_payer_and_period_in_two_exports_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, copy) = (dir.path().join("a"), dir.path().join("copy"));
    write(&a, PAYER_A, 1);
    write(&copy, PAYER_A, 7);
    let want = reference_total(&a);
    let f = config(
        dir.path(),
        &format!(
            "[[exports]]\nname = \"first\"\nsource = {:?}\n\n[[exports]]\nname = \"second\"\nsource = {:?}\n",
            a.to_str().unwrap(),
            copy.to_str().unwrap()
        ),
    );
    // `once` fails and says why, naming both exports, the payer and the period.
    let out = run(&["once", "--config", f.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[duplicate]")
            && err.contains("\"first\"")
            && err.contains("\"second\"")
            && err.contains(PAYER_A)
            && err.contains("2026-11"),
        "{err}"
    );
    // The daemon serves the first export only, and counts the refusal.
    let d = Daemon::start(&["--config", f.to_str().unwrap()], &[]);
    d.wait_ready();
    let samples = d.metrics();
    let by = cost_by_payer(&samples);
    assert!(close(by[PAYER_A], want, 1e-9), "{} vs {want}", by[PAYER_A]);
    assert!(
        value(
            &samples,
            "bedrock_exporter_errors_total",
            &[("export", "second"), ("stage", "duplicate")],
        )
        .unwrap()
            >= 2.0,
        "one per period"
    );
    assert_eq!(
        value(
            &samples,
            "bedrock_exporter_last_refresh_success",
            &[("export", "second")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &samples,
            "bedrock_exporter_last_refresh_success",
            &[("export", "first")]
        ),
        Some(1.0)
    );
    // doctor says the same.
    let out = run(&["doctor", "--config", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("both hold billing period") && text.contains("[second]"),
        "{text}"
    );
}

#[test]
fn export_configuration_errors_name_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    for (body, want) in [
        ("source = \"/a\"\nsources = [\"/b\"]\n", "`source`"),
        ("sources = [\"/a\", \"/a/\"]\n", "sources[1]"),
        (
            "[[exports]]\nname = \"x\"\nsource = \"/a\"\n[[exports]]\nname = \"x\"\nsource = \"/b\"\n",
            "exports[1]",
        ),
        (
            "[[exports]]\nsource = \"s3://b/p\"\ns3 = { role_arn = \"payer-a\" }\n",
            "s3.role_arn",
        ),
        (
            "[[exports]]\nsource = \"s3://b/p\"\ns3 = { external_id = \"x\" }\n",
            "s3.role_arn",
        ),
        (
            "[[exports]]\nsource = \"s3://b/p\"\ns3 = { rgion = \"x\" }\n",
            "did you mean `exports[0].s3.region`",
        ),
    ] {
        let f = config(dir.path(), body);
        let out = run(&["check-config", "--config", f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{body}: {err}");
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
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
