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
    if missing(&[Need::DuckDb]) {
        return;
    }
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
    if missing(&[Need::DuckDb]) {
        return;
    }
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
    if missing(&[Need::DuckDb]) {
        return;
    }
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
            "[[exports]]\nsource = \"s3://b/p\"\ns3 = { stall_timeout = \"5s\" }\n",
            "`exports[0]` (\"s3://b/p\"): `s3.stall_timeout` is the daemon's, not an export's: set it in the top-level [s3] table",
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

/// The Bedrock cost of each export, its success flag, and its S3 request outcomes.
fn s3_codes(samples: &[Sample], export: &str) -> Vec<String> {
    samples
        .iter()
        .filter(|s| s.name == "bedrock_exporter_s3_requests_total" && s.label("export") == export)
        .filter(|s| s.value > 0.0)
        .map(|s| s.label("code").to_string())
        .collect()
}

fn success(samples: &[Sample], export: &str) -> Option<f64> {
    value(
        samples,
        "bedrock_exporter_last_refresh_success",
        &[("export", export)],
    )
}

fn errors(samples: &[Sample], export: &str) -> f64 {
    ksum(
        samples
            .iter()
            .filter(|s| s.name == "bedrock_exporter_errors_total" && s.label("export") == export)
            .map(|s| s.value),
    )
}

/// An environment with no AWS keys of its own: credentials come from profiles in `credentials`.
fn profile_env(credentials: &Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.display().to_string(),
        ),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Two payers' exports in two buckets on two S3 servers, each export with its own endpoint,
/// addressing, region and profile: per-payer totals equal DuckDB's over the local copies; wrong
/// credentials for one export's profile, then that export's server going away, break that export
/// only while the other keeps updating, and the per-export self-metrics say which.
#[test]
fn two_s3_exports_with_their_own_settings_reconcile_per_payer_and_fail_alone() {
    if missing(&[Need::DuckDb, Need::Moto]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write(&a, PAYER_A, 1);
    write(&b, PAYER_B, 2);
    let (want_a, want_b) = (reference_total(&a), reference_total(&b));
    let (moto_a, moto_b) = (Moto::start(), Moto::start());
    moto_a.upload(&a, "billing-a", "cur/payer-a");
    moto_b.upload(&b, "billing-b", "exports/payer-b");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[payer-a]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n[payer-b]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n[payer-b-stale]\naws_access_key_id = {}\naws_secret_access_key = not-the-secret\n",
            moto_a.key.0, moto_a.key.1, moto_b.key.0, moto_b.key.1, moto_b.key.0
        ),
    )
    .unwrap();
    let env = profile_env(&credentials);
    // Path-style addressing is needed for a server on 127.0.0.1: set per export only.
    let conf = |b_profile: &str| {
        config(
            dir.path(),
            &format!(
                "refresh_interval = \"1s\"\n\n[s3]\nmax_attempts = 2\nrequest_timeout = \"2s\"\n\n\
                 [[exports]]\nname = \"payer-a\"\nsource = \"s3://billing-a/cur/payer-a\"\n\
                 s3 = {{ endpoint = {:?}, path_style = true, profile = \"payer-a\" }}\n\n\
                 [[exports]]\nname = \"payer-b\"\nsource = \"s3://billing-b/exports/payer-b\"\n\
                 s3 = {{ endpoint = {:?}, path_style = true, profile = {b_profile:?}, region = \"eu-west-1\" }}\n",
                moto_a.endpoint(),
                moto_b.endpoint()
            ),
        )
    };

    // Both readable: one snapshot, each payer's total equal to DuckDB's over its local copy.
    let f = conf("payer-b");
    let out = run_env(
        &["once".into(), "--config".into(), f.display().to_string()],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let by = cost_by_payer(&samples);
    assert_eq!(by.len(), 2, "{by:?}");
    assert!(
        close(by[PAYER_A], want_a, 1e-9),
        "{} vs {want_a}",
        by[PAYER_A]
    );
    assert!(
        close(by[PAYER_B], want_b, 1e-9),
        "{} vs {want_b}",
        by[PAYER_B]
    );
    for export in ["payer-a", "payer-b"] {
        let codes = s3_codes(&samples, export);
        assert!(
            !codes.is_empty() && codes.iter().all(|c| c.starts_with('2')),
            "{export}: {codes:?}"
        );
    }

    // payer-b's profile holds a stale secret: payer-b fails, payer-a is served.
    let f = conf("payer-b-stale");
    let mut d = Daemon::start(&["--config", f.to_str().unwrap()], &borrowed(&env));
    let m = wait_for(Duration::from_secs(60), "a served, b failing", || {
        let m = d.metrics();
        (success(&m, "payer-a") == Some(1.0) && errors(&m, "payer-b") >= 1.0).then_some(m)
    });
    let by = cost_by_payer(&m);
    assert!(close(by[PAYER_A], want_a, 1e-9), "{by:?}");
    assert!(!by.contains_key(PAYER_B), "{by:?}");
    assert_eq!(success(&m, "payer-b"), Some(0.0));
    assert!(
        value(
            &m,
            "bedrock_exporter_errors_total",
            &[("export", "payer-b"), ("stage", "list")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(s3_codes(&m, "payer-b").contains(&"403".to_string()));
    assert_eq!(errors(&m, "payer-a"), 0.0);
    assert_eq!(d.get("/readyz").0, 503, "payer-b was never ready");
    let log = d.drain_log().join("\n");
    assert!(
        log.lines().any(|l| l.contains("payer-b")
            && l.contains("s3://billing-b/exports/payer-b/metadata/")
            && l.contains("SignatureDoesNotMatch")),
        "{log}"
    );
    assert!(!log.contains("not-the-secret"), "secrets never logged");
    drop(d);

    // Both good; then payer-b's server goes away while payer-a gets a new bill.
    let f = conf("payer-b");
    let d = Daemon::start(&["--config", f.to_str().unwrap()], &borrowed(&env));
    d.wait_ready();
    let first = cost_by_payer(&d.metrics());
    assert!(close(first[PAYER_A], want_a, 1e-9) && close(first[PAYER_B], want_b, 1e-9));
    drop(moto_b);
    // S3 times have one-second resolution: a second between the two uploads of a manifest.
    std::thread::sleep(Duration::from_millis(1100));
    write(&a, PAYER_A, 3);
    let new_a = reference_total(&a);
    assert!(!close(new_a, want_a, 1e-9));
    moto_a.upload(&a, "billing-a", "cur/payer-a");
    let m = wait_for(Duration::from_secs(60), "a updated, b failing", || {
        let m = d.metrics();
        (success(&m, "payer-b") == Some(0.0) && close(cost_by_payer(&m)[PAYER_A], new_a, 1e-9))
            .then_some(m)
    });
    let by = cost_by_payer(&m);
    assert!(
        close(by[PAYER_B], want_b, 1e-9),
        "payer-b keeps its last good data: {} vs {want_b}",
        by[PAYER_B]
    );
    assert_eq!(success(&m, "payer-a"), Some(1.0));
    assert!(s3_codes(&m, "payer-b").contains(&"transport_error".to_string()));
    assert!(s3_codes(&m, "payer-a").iter().all(|c| c.starts_with('2')));
    assert_eq!(errors(&m, "payer-a"), 0.0);
    assert_eq!(d.get("/readyz").0, 200);
}

/// Exports reading through roles (sts:AssumeRole at moto's STS, which checks the caller's policy,
/// the role's trust policy and its external-ID condition): the base credentials may do nothing but
/// assume the role, so every read goes through it. A role the credentials may not assume, and the
/// right role with the wrong external ID, fail with errors naming the export and the role, counted
/// per export; the export with the right role is served.
#[test]
fn exports_read_through_their_roles_and_a_refused_role_fails_alone() {
    if missing(&[Need::DuckDb, Need::Moto]) {
        return;
    }
    const ROLE: &str = "BedrockCostReader";
    const EXTERNAL_ID: &str = "bce-test";
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    write(&a, PAYER_A, 1);
    let want_a = reference_total(&a);
    let moto = Moto::start_with_role(ROLE, EXTERNAL_ID);
    moto.upload(&a, "billing", "cur/payer-a");
    let role = format!("arn:aws:iam::{MOTO_ACCOUNT}:role/{ROLE}");
    let other = format!("arn:aws:iam::{MOTO_ACCOUNT}:role/SomeoneElsesRole");
    let assumer = moto.assumer.clone().unwrap();
    let mut env = moto.env();
    env[0].1 = assumer.0;
    env[1].1 = assumer.1;
    let export = |name: &str, role: &str, external_id: &str| {
        format!(
            "[[exports]]\nname = {name:?}\nsource = \"s3://billing/cur/{name}\"\n\
             s3 = {{ endpoint = {e:?}, sts_endpoint = {e:?}, path_style = true, role_arn = {role:?}, external_id = {external_id:?}, role_session_name = \"cost-{name}\" }}\n\n",
            e = moto.endpoint()
        )
    };

    // Each export reads its own prefix (the refused ones would find nothing there anyway).
    // Without the role the base credentials cannot read the bucket.
    let f = config(
        dir.path(),
        &format!(
            "source = \"s3://billing/cur/payer-a\"\n[s3]\nendpoint = {:?}\npath_style = true\n",
            moto.endpoint()
        ),
    );
    let out = run_env(
        &["once".into(), "--config".into(), f.display().to_string()],
        &env,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AccessDenied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(moto.assumed_roles().is_empty());

    // AWS_ENDPOINT_URL_STS stands in for `sts_endpoint` (the SDK's service-specific endpoint
    // variable), and the role is assumed there.
    let f = config(
        dir.path(),
        &format!(
            "source = \"s3://billing/cur/payer-a\"\n[s3]\nendpoint = {e:?}\npath_style = true\n\
             role_arn = {role:?}\nexternal_id = {EXTERNAL_ID:?}\nrole_session_name = \"cost-payer-a\"\n",
            e = moto.endpoint()
        ),
    );
    let mut sts_env = env.clone();
    sts_env.push(("AWS_ENDPOINT_URL_STS", moto.endpoint()));
    let out = run_env(
        &["once".into(), "--config".into(), f.display().to_string()],
        &sts_env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(moto.assumed_roles().len(), 1);

    let f = config(
        dir.path(),
        &format!(
            "refresh_interval = \"1s\"\n\n[s3]\nmax_attempts = 2\n\n{}{}{}",
            export("payer-a", &role, EXTERNAL_ID),
            export("not-allowed", &other, EXTERNAL_ID),
            export("wrong-external-id", &role, "guess"),
        ),
    );
    // `once` fails, each error line naming its export and the role.
    let out = run_env(
        &["once".into(), "--config".into(), f.display().to_string()],
        &env,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.lines()
            .any(|l| l.starts_with("error [list] export \"not-allowed\": ")
                && l.contains(&format!("assuming role {other} failed"))),
        "{err}"
    );
    let mut d = Daemon::start(&["--config", f.to_str().unwrap()], &borrowed(&env));
    let m = wait_for(
        Duration::from_secs(60),
        "a served, the others failing",
        || {
            let m = d.metrics();
            (success(&m, "payer-a") == Some(1.0)
                && errors(&m, "not-allowed") >= 1.0
                && errors(&m, "wrong-external-id") >= 1.0)
                .then_some(m)
        },
    );
    let by = cost_by_payer(&m);
    assert_eq!(by.len(), 1, "{by:?}");
    assert!(
        close(by[PAYER_A], want_a, 1e-9),
        "{} vs {want_a}",
        by[PAYER_A]
    );
    assert!(s3_codes(&m, "payer-a").iter().all(|c| c.starts_with('2')));
    for failing in ["not-allowed", "wrong-external-id"] {
        assert_eq!(success(&m, failing), Some(0.0), "{failing}");
        assert!(
            value(
                &m,
                "bedrock_exporter_errors_total",
                &[("export", failing), ("stage", "list")]
            )
            .unwrap()
                >= 1.0,
            "{failing}"
        );
    }
    // moto handed out sessions for the allowed role with the configured session name and external
    // ID, and none for the refused ones.
    let sessions = moto.assumed_roles();
    assert!(!sessions.is_empty());
    for s in &sessions {
        assert_eq!(
            s,
            &(role.clone(), "cost-payer-a".into(), EXTERNAL_ID.into()),
            "{sessions:?}"
        );
    }
    let log = d.drain_log().join("\n");
    for (failing, arn) in [("not-allowed", &other), ("wrong-external-id", &role)] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("export=\"{failing}\""))
                    && l.contains(&format!("assuming role {arn} failed"))
                    && l.contains("AccessDenied")),
            "no error naming {failing} and {arn}:\n{log}"
        );
    }
}
