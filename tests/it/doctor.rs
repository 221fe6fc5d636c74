//! `doctor` on the sample, on an export without the principal column, on one without activated
//! tags, on a hand-made export with an unknown usage type, and on an unreachable S3 source; and the
//! new-user messages around it (missing credentials, `--listen` without `serve`).

use std::path::Path;
use std::process::{Command, Output};

use cur_sample::{ExportSpec, write_export};

use crate::util::*;

const BIN: &str = env!("CARGO_BIN_EXE_bedrock-cost-exporter");

/// Runs the binary with a clean AWS environment (no credentials, no IMDS, no profile files).
fn run_clean(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .env("HOME", home.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("BCE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run bedrock-cost-exporter")
}

fn doctor(root: &Path) -> (bool, String) {
    let out = run_clean(&["doctor", "--source", root.to_str().unwrap()], &[]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn has_line(text: &str, mark: &str, words: &[&str]) -> bool {
    text.lines()
        .any(|l| l.starts_with(mark) && words.iter().all(|w| l.contains(w)))
}

/// Asserts a line starting with `mark` (✓ or ✗) holds every one of `words`.
fn expect_line(text: &str, mark: &str, words: &[&str]) {
    assert!(
        has_line(text, mark, words),
        "no {mark} line with {words:?}:\n{text}"
    );
}

/// `doctor` on a generated export of `spec` (800 rows a period); it must not block the daemon.
fn doctor_on(spec: ExportSpec) -> String {
    let dir = tempfile::tempdir().unwrap();
    let spec = ExportSpec {
        rows_per_period: 800,
        ..spec
    };
    write_export(dir.path(), &spec).unwrap();
    let (ok, text) = doctor(dir.path());
    assert!(ok, "doctor must not block the daemon here:\n{text}");
    text
}

#[test]
fn doctor_on_the_bundled_sample() {
    let (ok, text) = doctor(&repo().join("sample/export"));
    assert!(ok, "{text}");
    for words in [
        &["reachable"][..],
        &["manifests for 2 billing period(s)", "overwrite"],
        &["2026-11 would be served from", "Parquet"],
        &["permissions sufficient"],
        &["principal column line_item_iam_principal present"],
        &["% of Bedrock cost has no principal"],
        &["tag iamPrincipal/team → label tag_team"],
        &["tag iamPrincipal/cost-center → label tag_cost_center"],
        &["tag costCategory/department is not a label", "tags.sources"],
        &["every Bedrock usage type matched"],
        &["2026-10: Bedrock usage billed up to"],
        &["series (max_series 20000)"],
    ] {
        expect_line(&text, "✓", words);
    }
}

#[test]
fn doctor_on_an_export_without_the_principal_column() {
    let text = doctor_on(ExportSpec {
        principal_column: false,
        ..ExportSpec::default()
    });
    expect_line(
        &text,
        "✗",
        &["no line_item_iam_principal column", "2026-10, 2026-11"],
    );
    assert!(text.contains("INCLUDE_IAM_PRINCIPAL_DATA"), "{text}");
    expect_line(&text, "✗", &["no iamPrincipal/ tag keys"]);
    expect_line(&text, "✓", &["100.0 % of Bedrock cost has no principal"]);
}

#[test]
fn doctor_on_an_export_without_tags() {
    let text = doctor_on(ExportSpec {
        principal_tags: false,
        format: cur_sample::SampleFormat::CsvGz,
        mode: cur_sample::SampleMode::CreateNew,
        ..ExportSpec::default()
    });
    expect_line(&text, "✓", &["create-new"]);
    expect_line(&text, "✓", &["CSV (gzip)"]);
    expect_line(
        &text,
        "✓",
        &["principal column line_item_iam_principal present"],
    );
    expect_line(&text, "✗", &["no iamPrincipal/ tag keys"]);
    assert!(text.contains("Cost allocation tags"), "{text}");
    assert!(!text.contains("→ label tag_team"), "{text}");
}

/// A hand-made CSV export: one billing period, one known and one unknown usage type; the known
/// one's line item carries two tag keys that map to one label (`tag_cost_center`).
fn export_with_unknown_usage_type(root: &Path) {
    let meta = root.join("metadata/BILLING_PERIOD=2026-11");
    let data = root.join("data/BILLING_PERIOD=2026-11");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        meta.join("x-Manifest.json"),
        r#"{"executionId":"e1","dataFiles":["s3://b/p/x/data/BILLING_PERIOD=2026-11/x-00001.csv"]}"#,
    )
    .unwrap();
    let header = "line_item_product_code,bill_billing_entity,line_item_line_item_type,line_item_usage_type,line_item_iam_principal,line_item_usage_account_id,line_item_currency_code,product_region_code,pricing_unit,line_item_unblended_cost,line_item_usage_amount,line_item_usage_end_date,tags";
    let rows = [
        r#"AmazonBedrock,AWS,Usage,USE1-NovaPro-input-tokens,arn:aws:iam::123456789012:user/alice,123456789012,USD,us-east-1,1K tokens,0.5,2,2026-11-03T00:00:00.000Z,"{""iamPrincipal/cost_center"":""b"",""iamPrincipal/cost-center"":""a""}""#,
        "AmazonBedrock,AWS,Usage,USE1-NovaPro-widget-seconds,arn:aws:iam::123456789012:user/alice,123456789012,USD,us-east-1,Units,0.25,1,2026-11-05T00:00:00.000Z,",
        "AmazonBedrock,AWS,Usage,USE1-NovaPro-widget-seconds,arn:aws:iam::123456789012:user/bob,123456789012,USD,us-east-1,Units,0.25,1,2026-11-04T00:00:00.000Z,",
        "AmazonBedrock,AWS,Tax,,,123456789012,USD,,,0.08,0,2026-12-01T00:00:00.000Z,",
    ];
    std::fs::write(
        data.join("x-00001.csv"),
        format!("{header}\n{}\n", rows.join("\n")),
    )
    .unwrap();
}

#[test]
fn unknown_usage_types_are_counted_logged_once_and_diagnosed() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    export_with_unknown_usage_type(dir.path());
    let out = run_clean(&["once", "--source", dir.path().to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = parse_exposition(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        value(
            &all,
            "bedrock_exporter_unknown_usage_type_rows",
            &[
                ("billing_period", "2026-11"),
                ("usage_type", "USE1-NovaPro-widget-seconds")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        samples(&all, "bedrock_exporter_unknown_usage_type_rows").len(),
        1
    );
    // Freshness: the newest usage line item (Nov 5), not the month-end tax line.
    assert_eq!(
        value(
            &all,
            "bedrock_exporter_data_newest_usage_timestamp_seconds",
            &[("billing_period", "2026-11")]
        ),
        Some(1_793_836_800.0)
    );
    // The DuckDB reference applies the same rules.
    let reference = duckdb_sums(dir.path(), &[]);
    assert_eq!(
        reference["unknown_usage_types"],
        serde_json::json!({"2026-11": {"USE1-NovaPro-widget-seconds": 2}})
    );
    assert_eq!(
        reference["newest_usage_end_ms"]["2026-11"].as_i64(),
        Some(1_793_836_800_000)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        log.matches("unknown Bedrock usage type").count(),
        1,
        "logged once per string: {log}"
    );
    assert!(log.contains("USE1-NovaPro-widget-seconds"), "{log}");
    let (ok, text) = doctor(dir.path());
    assert!(ok, "{text}");
    expect_line(
        &text,
        "✗",
        &[
            "1 usage type(s) matched no rule",
            "USE1-NovaPro-widget-seconds (2)",
        ],
    );
}

#[test]
fn colliding_tag_keys_are_counted_and_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    export_with_unknown_usage_type(dir.path());
    let out = run_clean(&["once", "--source", dir.path().to_str().unwrap()], &[]);
    assert!(out.status.success());
    let all = parse_exposition(&String::from_utf8_lossy(&out.stdout));
    let collisions = |period: &str| {
        value(
            &all,
            "bedrock_exporter_period_tag_label_collisions",
            &[("billing_period", period)],
        )
    };
    assert_eq!(collisions("2026-11"), Some(1.0));
    // The first key in sort order ("cost-center" < "cost_center") gives the value.
    let alice = samples(&all, "bedrock_cost_usd")
        .into_iter()
        .filter(|s| s.label("principal_name") == "alice" && s.label("direction") == "input")
        .map(|s| s.label("tag_cost_center").to_string())
        .collect::<Vec<_>>();
    assert_eq!(alice, ["a"]);
    let (_, text) = doctor(dir.path());
    expect_line(
        &text,
        "✗",
        &[
            "1 Bedrock line item(s) carry two tag keys that map to one label",
            "iamPrincipal/cost-center and iamPrincipal/cost_center → tag_cost_center",
        ],
    );
    assert!(
        text.contains("→ map one of the keys to another label with tags.rename"),
        "{text}"
    );
}

/// Static test credentials for an S3 endpoint on loopback (never a real account).
const TEST_CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "secret"),
    ("AWS_REGION", "us-east-1"),
];

/// `--source s3://billing/cur/export` on a path-style endpoint.
fn s3_source(endpoint: &str) -> [&str; 5] {
    [
        "--source",
        "s3://billing/cur/export",
        "--s3-endpoint",
        endpoint,
        "--s3-path-style",
    ]
}

#[test]
fn doctor_on_an_unreachable_source_blocks() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let args: Vec<&str> = ["doctor"].into_iter().chain(s3_source(&endpoint)).collect();
    let env: Vec<(&str, &str)> = TEST_CREDENTIALS
        .into_iter()
        .chain([
            ("BCE_S3__MAX_ATTEMPTS", "1"),
            ("BCE_S3__REQUEST_TIMEOUT", "2s"),
        ])
        .collect();
    let out = run_clean(&args, &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    expect_line(
        &text,
        "✗",
        &["source s3://billing/cur/export/", "not readable"],
    );
    assert!(
        text.contains("s3:ListBucket") && text.contains("deploy/iam-policy.json"),
        "{text}"
    );
    assert!(text.contains("cannot serve data"), "{text}");
    assert!(!text.contains("secret"), "no secrets in output: {text}");
}

#[test]
fn missing_credentials_are_said_in_two_lines() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = run_clean(
        &[
            "once",
            "--source",
            "s3://billing/cur/export",
            "--s3-endpoint",
            &endpoint,
        ],
        &[("AWS_REGION", "us-east-1")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no AWS credentials found"), "{err}");
    assert!(
        err.contains("Environment") && err.contains("Ec2InstanceMetadata"),
        "{err}"
    );
    assert!(err.contains("AWS_PROFILE"), "{err}");
    assert!(!err.contains("ProviderChainError"), "{err}");
    assert!(err.len() < 800, "too long ({} bytes): {err}", err.len());
}

#[test]
fn listen_works_without_serve_and_accepts_host_names() {
    let port = free_port();
    let addr = format!("localhost:{port}");
    let d = Daemon::start_args(&["--listen", &addr], &[]);
    d.wait_ready();
    assert_eq!(d.addr.port(), port);
    assert!(d.addr.ip().is_loopback());
    let out = run_clean(
        &["--listen", "192.0.2.1:9747", "--source", "sample/export"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not an address of this machine") && err.contains("0.0.0.0:9747"),
        "{err}"
    );
}

#[test]
fn before_the_first_refresh_what_is_known_is_exposed() {
    // An S3 endpoint that accepts connections and never answers: the first refresh hangs.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let env: Vec<(&str, &str)> = TEST_CREDENTIALS
        .into_iter()
        .chain([
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("BCE_S3__REQUEST_TIMEOUT", "60s"),
        ])
        .collect();
    let d = Daemon::start(&s3_source(&endpoint), &env);
    let m = d.metrics();
    assert_eq!(
        value(&m, "bedrock_exporter_series_limit", &[]),
        Some(20000.0)
    );
    assert_eq!(value(&m, "bedrock_exporter_ready", &[]), Some(0.0));
    assert_eq!(
        value(&m, "bedrock_exporter_last_refresh_success", &[]),
        None
    );
    assert!(
        value(
            &m,
            "bedrock_exporter_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        )
        .is_some()
    );
    assert_eq!(d.get("/readyz").0, 503);
    drop(silent);
}
