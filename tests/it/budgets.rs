//! Budgets against the independent reference: an export generated for the current and the
//! previous month *by the clock* (so the test runs on any day, the 1st and the 31st included), a
//! series cap small enough to fold most principals, and budget spend and spike-day spend compared
//! with DuckDB sums over the same files.

use cur_sample::{ExportSpec, SampleFormat, write_export};

use crate::util::*;

#[test]
fn budget_spend_reconciles_with_duckdb_whatever_the_cap_folds() {
    if missing(&[Need::DuckDb, Need::Promtool]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (export, prev, cur) = export_for_clock_months(
        dir.path(),
        ExportSpec {
            rows_per_period: 2_500,
            extra_sessions: 20,
            ..ExportSpec::default()
        },
    );
    let cfg = dir.path().join("bce.toml");
    std::fs::write(
        &cfg,
        r#"max_series = 10

[[budgets]]
name = "ds"
owner = "ds-leads"
selector = '{tag_team="data-science"}'
monthly = 1000.0

[[budgets]]
name = "not-ds"
owner = "finops"
selector = '{tag_team!="data-science"}'
monthly = 1000.0

[[budgets]]
name = "everything"
owner = "finops"
monthly = 1000.0

[[budgets]]
name = "claude"
owner = "finops"
selector = '{model=~"Claude.*"}'
monthly = 1000.0
"#,
    )
    .unwrap();
    let text = once(
        &export,
        &["--config", cfg.to_str().unwrap(), "--progress", "never"],
    );
    let got = parse_exposition(&text);
    let reference = duckdb_sums(&export, &[]);
    // promtool has nothing to say about the budget families.
    let mut child = std::process::Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}"
    );

    // The cap folded principals and their tags away…
    assert!(value(&got, "bedrock_exporter_folded_series", &[]).unwrap() > 0.0);
    let visible_ds = ksum(
        samples(&got, "bedrock_cost_usd")
            .iter()
            .filter(|s| s.label("billing_period") == cur && s.label("tag_team") == "data-science")
            .map(|s| s.value),
    );
    let ds_cur = reference["cost_by_period"]["tag_team"][cur.as_str()]["data-science"]
        .as_f64()
        .unwrap();
    assert!(
        visible_ds < ds_cur * 0.99,
        "expected the cap to hide data-science cost: {visible_ds} visible of {ds_cur}"
    );
    assert_eq!(
        value(
            &got,
            "bedrock_exporter_current_billing_period",
            &[("billing_period", &cur)]
        ),
        Some(1.0)
    );
    // …and yet every budget's spend equals DuckDB's sum.
    for period in [&prev, &cur] {
        let spend = |budget: &str| {
            value(
                &got,
                "bedrock_budget_spend_usd",
                &[("budget", budget), ("billing_period", period)],
            )
            .unwrap_or_else(|| panic!("no spend for {budget} {period}"))
        };
        let total = reference["cost_by"]["billing_period"][period.as_str()]
            .as_f64()
            .unwrap();
        let ds = reference["cost_by_period"]["tag_team"][period.as_str()]["data-science"]
            .as_f64()
            .unwrap();
        let claude = ksum(
            reference["cost_by_period"]["model"][period.as_str()]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(m, _)| m.starts_with("Claude"))
                .map(|(_, v)| v.as_f64().unwrap()),
        );
        assert!(claude > 0.0);
        for (budget, want) in [
            ("ds", ds),
            ("not-ds", total - ds),
            ("everything", total),
            ("claude", claude),
        ] {
            assert!(
                close(spend(budget), want, 1e-9),
                "{budget} {period}: exporter {} vs DuckDB {want}",
                spend(budget)
            );
        }
        for budget in ["ds", "not-ds", "everything", "claude"] {
            let f = value(
                &got,
                "bedrock_budget_forecast_usd",
                &[("budget", budget), ("billing_period", period)],
            )
            .unwrap();
            assert!(
                f.is_finite() && f >= spend(budget) - 1e-9,
                "{budget} {period} forecast {f}"
            );
        }
    }
    // Spend on the spike day equals DuckDB's sum of that usage day.
    let day = samples(&got, "bedrock_budget_day_spend_usd")
        .into_iter()
        .find(|s| s.label("budget") == "ds")
        .expect("a spike-day series for ds");
    let date = day.label("usage_date");
    let want = reference["tag_cost_by_day"]["tag_team"][date]["data-science"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        close(day.value, want, 1e-9),
        "ds on {date}: {} vs {want}",
        day.value
    );
    let everything = samples(&got, "bedrock_budget_day_spend_usd")
        .into_iter()
        .find(|s| s.label("budget") == "everything")
        .unwrap();
    let want = reference["cost_by_day"][date].as_f64().unwrap_or(0.0);
    assert!(
        close(everything.value, want, 1e-9),
        "{} vs {want}",
        everything.value
    );

    // The same export as gzip CSV: the same budget figures (usage days parsed from text).
    let csv = dir.path().join("csv");
    write_export(
        &csv,
        &ExportSpec {
            periods: vec![prev.clone(), cur.clone()],
            rows_per_period: 2_500,
            extra_sessions: 20,
            format: SampleFormat::CsvGz,
            ..ExportSpec::default()
        },
    )
    .unwrap();
    let from_csv = parse_exposition(&once(
        &csv,
        &["--config", cfg.to_str().unwrap(), "--progress", "never"],
    ));
    let budget_samples = |all: &[Sample]| -> Vec<Sample> {
        all.iter()
            .filter(|s| {
                s.name.starts_with("bedrock_budget_") || s.name.starts_with("bedrock_principal_")
            })
            .cloned()
            .collect()
    };
    let (a, b) = (budget_samples(&got), budget_samples(&from_csv));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 20);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.name, &x.labels), (&y.name, &y.labels));
        assert!(close(x.value, y.value, 1e-9), "{x:?} vs {y:?}");
    }
}
