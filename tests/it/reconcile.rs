//! Every figure of `once` equals an independent DuckDB computation over the same manifest-listed
//! files, to 1e-9 relative, for both formats and both export modes; stale chunks and older
//! executions never count.

use std::collections::BTreeMap;
use std::path::Path;

use cur_sample::{ExportSpec, SampleFormat, SampleMode, write_export};
use serde_json::Value;

use crate::util::*;

const REL: f64 = 1e-9;

fn sums_by(samples: &[Sample], metric: &str, label: &str) -> BTreeMap<String, f64> {
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == metric) {
        if let Some(v) = s.labels.get(label) {
            groups.entry(v.clone()).or_default().push(s.value);
        }
    }
    groups.into_iter().map(|(k, v)| (k, ksum(v))).collect()
}

fn json_map(v: &Value) -> BTreeMap<String, f64> {
    v.as_object()
        .unwrap_or_else(|| panic!("object expected: {v}"))
        .iter()
        .map(|(k, x)| (k.clone(), x.as_f64().unwrap_or(0.0)))
        .collect()
}

fn assert_same(what: &str, ours: &BTreeMap<String, f64>, reference: &BTreeMap<String, f64>) {
    let ok: Vec<&String> = ours.keys().collect();
    let rk: Vec<&String> = reference.keys().collect();
    assert_eq!(ok, rk, "{what}: different groups");
    for (k, a) in ours {
        let b = reference[k];
        assert!(close(*a, b, REL), "{what} {k}: exporter {a} vs DuckDB {b}");
    }
}

/// Checks one export: every label's sums, net cost by period, tokens by model, totals.
fn reconcile(root: &Path, once_args: &[&str], duck_args: &[&str]) -> Vec<Sample> {
    let text = once(root, once_args);
    let samples = parse_exposition(&text);
    let reference = duckdb_sums(root, duck_args);
    let cost = "bedrock_cost_usd";
    assert!(
        !samples_named(&samples, cost).is_empty(),
        "no {cost} series"
    );
    let cost_by = reference["cost_by"].as_object().unwrap();
    for (label, groups) in cost_by {
        assert_same(
            &format!("cost by {label}"),
            &sums_by(&samples, cost, label),
            &json_map(groups),
        );
    }
    // Every tag label the exporter emits is one the reference knows.
    let tag_labels: std::collections::BTreeSet<&String> = samples
        .iter()
        .filter(|s| s.name == cost)
        .flat_map(|s| s.labels.keys())
        .filter(|k| k.starts_with("tag_"))
        .collect();
    for t in tag_labels {
        assert!(
            cost_by.contains_key(t.as_str()),
            "tag label {t} not in the reference"
        );
    }
    assert_same(
        "net cost by period",
        &sums_by(&samples, "bedrock_net_cost_usd", "billing_period"),
        &json_map(&reference["net_by_period"]),
    );
    assert_same(
        "tokens by model",
        &sums_by(&samples, "bedrock_usage_tokens", "model"),
        &json_map(&reference["tokens_by_model"]),
    );
    // Freshness: newest usage end of Bedrock usage line items, capped at the manifest's write time.
    let fresh = reference["newest_usage_end_ms"].as_object().unwrap();
    assert!(!fresh.is_empty(), "the reference found no usage line items");
    for (period, ms) in fresh {
        let ours = value(
            &samples,
            "bedrock_exporter_data_newest_usage_timestamp_seconds",
            &[("billing_period", period.as_str())],
        )
        .unwrap_or_else(|| panic!("no freshness for {period}"));
        assert_eq!(ours, ms.as_f64().unwrap() / 1000.0, "freshness of {period}");
    }
    let total = ksum(samples_named(&samples, cost).iter().map(|s| s.value));
    let ref_total = reference["total"]["cost"].as_f64().unwrap();
    assert!(close(total, ref_total, REL), "total {total} vs {ref_total}");
    let rows = value(&samples, "bedrock_exporter_period_bedrock_rows", &[]).is_some();
    assert!(rows);
    let bedrock_rows = ksum(
        samples_named(&samples, "bedrock_exporter_period_bedrock_rows")
            .iter()
            .map(|s| s.value),
    );
    assert_eq!(
        bedrock_rows as u64,
        reference["rows"].as_u64().unwrap(),
        "Bedrock row count"
    );
    samples
}

fn samples_named<'a>(all: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    samples(all, name)
}

fn check_export(format: SampleFormat, mode: SampleMode, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let spec = ExportSpec {
        format,
        mode,
        seed,
        rows_per_period: 3_000,
        files_per_period: 3,
        row_group_rows: 700,
        extra_sessions: 6,
        older_executions: 2,
        periods: vec!["2026-09".into(), "2026-10".into(), "2026-11".into()],
        ..ExportSpec::default()
    };
    let summary = write_export(dir.path(), &spec).unwrap();
    assert!(
        !summary.dead_files.is_empty(),
        "the export must contain files that must not count"
    );
    let samples = reconcile(dir.path(), &[], &[]);
    // Only the two newest periods by default, only the live files.
    let periods: Vec<String> = sums_by(&samples, "bedrock_cost_usd", "billing_period")
        .into_keys()
        .collect();
    assert_eq!(periods, ["2026-10", "2026-11"]);
    let files_read = value(&samples, "bedrock_exporter_files_read_total", &[]).unwrap();
    assert_eq!(files_read as usize, 2 * spec.files_per_period);
    for m in samples_named(&samples, "bedrock_exporter_manifest_info") {
        assert!(
            summary.manifests.contains(&m.label("manifest").to_string()),
            "{m:?} is not a live manifest"
        );
    }
    // All periods, session folding: still equal.
    reconcile(
        dir.path(),
        &[
            "--config",
            write_config(dir.path(), "periods = \"all\"\nfold_sessions = true\n")
                .to_str()
                .unwrap(),
        ],
        &["--periods", "all", "--fold-sessions"],
    );
}

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("test-config.toml");
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn parquet_overwrite_mode_equals_duckdb() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    check_export(SampleFormat::Parquet, SampleMode::Overwrite, 11);
}

#[test]
fn csv_gz_create_new_mode_equals_duckdb() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    check_export(SampleFormat::CsvGz, SampleMode::CreateNew, 12);
}

#[test]
fn parquet_create_new_mode_equals_duckdb() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    check_export(SampleFormat::Parquet, SampleMode::CreateNew, 13);
}

#[test]
fn csv_gz_overwrite_mode_equals_duckdb() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    check_export(SampleFormat::CsvGz, SampleMode::Overwrite, 14);
}

#[test]
fn export_without_the_principal_column_is_unattributed_and_says_so() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = ExportSpec {
        principal_column: false,
        net_cost_column: false,
        ..ExportSpec::default()
    };
    write_export(dir.path(), &spec).unwrap();
    let out = run(&["once", "--source", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("INCLUDE_IAM_PRINCIPAL_DATA"), "{stderr}");
    let samples = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let principals: Vec<String> = sums_by(&samples, "bedrock_cost_usd", "principal")
        .into_keys()
        .collect();
    assert_eq!(principals, ["unattributed"]);
    for s in samples_named(&samples, "bedrock_exporter_principal_column_present") {
        assert_eq!(s.value, 0.0);
    }
    for s in samples_named(&samples, "bedrock_exporter_net_cost_column_present") {
        assert_eq!(s.value, 0.0);
    }
    // Net cost falls back to unblended cost.
    let cost = sums_by(&samples, "bedrock_cost_usd", "billing_period");
    let net = sums_by(&samples, "bedrock_net_cost_usd", "billing_period");
    assert_eq!(cost, net);
    reconcile(dir.path(), &[], &[]);
}

#[test]
fn series_cap_folds_into_other_and_keeps_totals() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ExportSpec {
        extra_sessions: 400,
        rows_per_period: 6_000,
        ..ExportSpec::default()
    };
    write_export(dir.path(), &spec).unwrap();
    let uncapped = parse_exposition(&once(dir.path(), &[]));
    let n = samples_named(&uncapped, "bedrock_cost_usd").len();
    assert!(n > 300, "{n}");
    let cfg = write_config(dir.path(), "max_series = 100\n");
    let capped = parse_exposition(&once(dir.path(), &["--config", cfg.to_str().unwrap()]));
    let m = samples_named(&capped, "bedrock_cost_usd").len();
    assert!(m <= 100, "{m} series above the cap");
    assert!(
        samples_named(&capped, "bedrock_cost_usd")
            .iter()
            .any(|s| s.label("principal") == "__other__")
    );
    for label in ["billing_period", "model", "region", "direction"] {
        assert_same(
            label,
            &sums_by(&capped, "bedrock_cost_usd", label),
            &sums_by(&uncapped, "bedrock_cost_usd", label),
        );
    }
    let folded = value(&capped, "bedrock_exporter_folded_series", &[]).unwrap();
    assert!(folded > 0.0);
    assert!(value(&capped, "bedrock_exporter_folded_cost_usd", &[]).unwrap() != 0.0);
}

/// The generator writes every column the exporter reads (its product name lives in the `product`
/// map, as in AWS exports).
#[test]
fn generator_writes_every_column_the_exporter_reads() {
    use bedrock_cost_exporter::cur::columns;
    let names = cur_sample::column_names();
    for c in columns::ALL.iter() {
        if *c != columns::PRODUCT_PRODUCT_NAME {
            assert!(names.contains(c), "{c}");
        }
    }
}

/// Sum of `skipped_row_groups` over the "data file read" lines of one refresh by `serve`.
fn skipped_row_groups(root: &Path) -> f64 {
    let mut d = Daemon::start(&["--source", root.to_str().unwrap()], &[]);
    d.wait_ready();
    d.logged_numbers("data file read", "skipped_row_groups")
        .into_iter()
        .sum()
}

/// Rows grouped by service and day (`SampleLayout::Ordered`): row groups without Bedrock rows
/// are skipped from their statistics, and every figure still equals DuckDB's. With the random
/// layout every row group holds Bedrock rows and none can be skipped.
#[test]
fn an_ordered_layout_skips_row_groups_and_still_equals_duckdb() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = |layout| ExportSpec {
        layout,
        rows_per_period: 6_000,
        bedrock_share: 0.05,
        files_per_period: 2,
        row_group_rows: 500,
        ..ExportSpec::default()
    };
    let ordered = dir.path().join("ordered");
    write_export(&ordered, &spec(cur_sample::SampleLayout::Ordered)).unwrap();
    reconcile(&ordered, &[], &[]);
    // 2 periods × 12 row groups; Bedrock (5 %) spans about one of each period's 12.
    let skipped = skipped_row_groups(&ordered);
    assert!(skipped >= 16.0, "only {skipped} row groups skipped");
    let random = dir.path().join("random");
    write_export(&random, &spec(cur_sample::SampleLayout::Random)).unwrap();
    assert_eq!(skipped_row_groups(&random), 0.0);
}

/// Bare data files (no manifest): a folder of them, and one file alone, equal DuckDB over the same
/// files — every data file found counts, stale chunks and older executions included (what the
/// manifest would have left out), and the log says so.
#[test]
fn bare_data_files_without_a_manifest_equal_duckdb_over_every_file() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    for (format, mode) in [
        (SampleFormat::Parquet, SampleMode::CreateNew),
        (SampleFormat::CsvGz, SampleMode::Overwrite),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let summary = write_export(
            dir.path(),
            &ExportSpec {
                format,
                mode,
                seed: 21,
                rows_per_period: 2_000,
                files_per_period: 2,
                ..ExportSpec::default()
            },
        )
        .unwrap();
        assert!(!summary.dead_files.is_empty());
        let with_manifest = parse_exposition(&once(dir.path(), &[]));
        std::fs::remove_dir_all(dir.path().join("metadata")).unwrap();
        let samples = reconcile(dir.path(), &[], &["--bare"]);
        // More than the manifest's files: the stale chunk or older execution counted too.
        let files = |s: &[Sample]| value(s, "bedrock_exporter_files_read_total", &[]).unwrap();
        assert_eq!(
            files(&samples) as usize,
            summary.live_files.len() + summary.dead_files.len(),
            "{format:?} {mode:?}"
        );
        assert!(files(&samples) > files(&with_manifest));
        let info = samples_named(&samples, "bedrock_exporter_manifest_info");
        assert_eq!(info.len(), 2);
        assert!(
            info.iter().all(|m| m
                .label("manifest")
                .starts_with("(no manifest: bare data files")),
            "{info:?}"
        );
        let out = run(&["once", "--source", dir.path().to_str().unwrap()]);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains("reading bare data files without a manifest")
                && log.contains("stale chunk"),
            "{log}"
        );
    }

    // One file alone: its folder names the period; only its rows count.
    let dir = tempfile::tempdir().unwrap();
    let summary = write_export(
        dir.path(),
        &ExportSpec {
            stale_chunk: false,
            ..ExportSpec::default()
        },
    )
    .unwrap();
    let file = dir.path().join(&summary.live_files[0]);
    let period = cur_sample_period(&summary.live_files[0]);
    let alone = tempfile::tempdir().unwrap();
    let copy = alone
        .path()
        .join(format!("BILLING_PERIOD={period}"))
        .join("only.snappy.parquet");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&file, &copy).unwrap();
    let ours = parse_exposition(&once(&copy, &[]));
    let reference = duckdb_sums(alone.path(), &["--bare"]);
    let total = ksum(
        samples_named(&ours, "bedrock_cost_usd")
            .iter()
            .map(|s| s.value),
    );
    let ref_total = reference["total"]["cost"].as_f64().unwrap();
    assert!(close(total, ref_total, REL), "{total} vs {ref_total}");
    assert_eq!(
        value(&ours, "bedrock_exporter_files_read_total", &[]),
        Some(1.0)
    );

    // A file whose path names no period: a clear error, nothing printed.
    let nameless = alone.path().join("export.parquet");
    std::fs::copy(&file, &nameless).unwrap();
    let out = run(&["once", "--source", nameless.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("names no billing period") && err.contains("BILLING_PERIOD=YYYY-MM"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // The month in the file name is enough.
    let named = alone.path().join(format!("cur-{period}.parquet"));
    std::fs::rename(&nameless, &named).unwrap();
    let by_name = parse_exposition(&once(&named, &[]));
    assert_eq!(
        samples_named(&by_name, "bedrock_cost_usd").len(),
        samples_named(&ours, "bedrock_cost_usd").len()
    );
}

/// `data/BILLING_PERIOD=2026-11/…` → `2026-11`.
fn cur_sample_period(key: &str) -> String {
    key.split('/')
        .find_map(|s| s.strip_prefix("BILLING_PERIOD="))
        .unwrap()
        .to_string()
}
