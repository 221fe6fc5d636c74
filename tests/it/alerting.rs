//! The rules, their parameter set and the Alertmanager example: the generated files are what
//! `deploy/mixin/generate.py` writes; `promtool check rules` and the generated `promtool test
//! rules` pass with the shipped parameters and with a second, non-default set (EUR, another job
//! selector, severities, thresholds, runbook base, a disabled alert); the Helm chart renders the
//! same rules from the same parameters given as values; every alert's runbook anchor exists in the
//! docs; `amtool` checks the example's routing by contact labels. The end-to-end scenario with a
//! real Prometheus, Alertmanager and SMTP server is `alert_scenario.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

pub const RULES: &str = "deploy/prometheus/bedrock-cost-exporter.rules.yml";
pub const RULE_TESTS: &str = "deploy/prometheus/tests/bedrock-cost-exporter.test.yml";
pub const AM_EXAMPLE: &str = "deploy/alertmanager/alertmanager.example.yml";
pub const GENERATOR: &str = "deploy/mixin/generate.py";
pub const CHART: &str = "deploy/helm/bedrock-cost-exporter";

/// Runs a command in the repository; (success, stdout + stderr).
fn run_in(dir: &Path, program: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn run_ok(program: &Path, args: &[&str]) -> String {
    let (ok, text) = run_in(&repo(), program, args);
    assert!(ok, "{} {args:?} failed:\n{text}", program.display());
    text
}

/// `deploy/mixin/generate.py` with these arguments (the test environment's Python; the generator
/// needs only the standard library).
pub fn generate(args: &[&str]) -> (bool, String) {
    let script = repo().join(GENERATOR);
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    run_in(&repo(), &python(), &all)
}

/// Rules (and their tests, and dashboards) generated into `out` from parameter overrides.
pub fn generate_with(params_toml: &str, out: &Path) -> PathBuf {
    let params = out.join("params.toml");
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(&params, params_toml).unwrap();
    let (ok, text) = generate(&[
        "--config",
        params.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "generate.py --config failed:\n{text}");
    out.join("bedrock-cost-exporter.rules.yml")
}

/// The rule groups of a rules file (or of the PrometheusRule in `helm template` output) as
/// canonical JSON.
fn groups_json(file: &Path, helm: bool) -> String {
    let script = repo().join("tests/reference/rules_groups.py");
    let mut args = vec![script.to_str().unwrap()];
    if helm {
        args.push("--helm");
    }
    args.push(file.to_str().unwrap());
    run_ok(&python(), &args)
}

#[test]
fn the_rules_pass_promtool_check_and_their_unit_tests() {
    if missing(&[Need::Promtool]) {
        return;
    }
    let out = run_ok(&tool("promtool"), &["check", "rules", RULES]);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run_ok(&tool("promtool"), &["test", "rules", RULE_TESTS]);
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Every generated file equals the generator's output; a hand edit of any of them, or a stale
/// dashboard copy, fails the check naming the file.
#[test]
fn the_generated_files_are_what_the_generator_writes() {
    if missing(&[Need::Venv]) {
        return;
    }
    let (ok, text) = generate(&["--check"]);
    assert!(ok, "{text}");
    assert!(text.contains("generated files are up to date"), "{text}");

    // Broken copies, in a scratch copy of what the generator reads and writes.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path();
    for d in ["deploy", "grafana"] {
        let status = Command::new("cp")
            .args(["-r", repo().join(d).to_str().unwrap()])
            .arg(copy)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let check = |what: &str, file: &str| {
        let (ok, text) = run_in(
            copy,
            &python(),
            &[copy.join(GENERATOR).to_str().unwrap(), "--check"],
        );
        assert!(!ok, "the check missed {what}:\n{text}");
        assert!(
            text.contains(&format!("out of date: {file}")),
            "{what}: {text}"
        );
    };
    for (what, file) in [
        ("an edited rules file", RULES),
        (
            "an edited chart PrometheusRule",
            &format!("{CHART}/templates/prometheusrule.yaml"),
        ),
        (
            "an edited dashboard",
            "grafana/dashboards/bedrock-budgets.json",
        ),
        (
            "an edited chart dashboard",
            &format!("{CHART}/files/dashboards/bedrock-overview.json"),
        ),
        ("an edited unit test file", RULE_TESTS),
    ] {
        let path = copy.join(file);
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, good.replacen("bedrock", "bedrok", 1)).unwrap();
        check(what, file);
        std::fs::write(&path, good).unwrap();
    }
    std::fs::write(copy.join(CHART).join("files/dashboards/old.json"), "{}").unwrap();
    check(
        "a chart dashboard without a source",
        &format!("{CHART}/files/dashboards/old.json"),
    );
}

/// A parameter set unlike the shipped one in every way the issue names.
pub const OTHER_PARAMS: &str = r#"
jobSelector = 'job="finops-bce", namespace="cost"'
currency = "EUR"
runbookBaseUrl = "https://docs.example.com/bce/"
keepFiringFor = "45m"
closedPeriodDays = 3
[severities]
critical = "page"
warning = "ticket"
info = "notice"
[alerts.BedrockBudgetExceeded]
threshold = 0.95
for = "10m"
[alerts.BedrockBudgetAlmostUsed]
threshold = 0.7
severity = "info"
[alerts.BedrockCostSeriesFolded]
enabled = false
[alerts.BedrockBudgetSpendSpike]
factor = 3.0
threshold = 100
[alerts.BedrockCostExportStale]
threshold = 12
[[tagVariables]]
label = "tag_squad"
name = "squad"
title = "Squad"
"#;

/// The values of the Helm chart that say the same as [`OTHER_PARAMS`] (the tag variables are the
/// dashboards' only, and the chart's dashboards keep the shipped ones).
const OTHER_VALUES: &str = r#"
prometheusRule:
  enabled: true
  config:
    jobSelector: 'job="finops-bce", namespace="cost"'
    currency: EUR
    runbookBaseUrl: https://docs.example.com/bce/
    keepFiringFor: 45m
    closedPeriodDays: 3
    severities: {critical: page, warning: ticket, info: notice}
    alerts:
      BedrockBudgetExceeded: {threshold: 0.95, for: 10m}
      BedrockBudgetAlmostUsed: {threshold: 0.7, severity: info}
      BedrockCostSeriesFolded: {enabled: false}
      BedrockBudgetSpendSpike: {factor: 3.0, threshold: 100}
      BedrockCostExportStale: {threshold: 12}
"#;

/// Rules and unit tests generated for [`OTHER_PARAMS`] pass promtool: the tests' series carry the
/// other job's labels and EUR names and expect the other severities, thresholds and runbook URLs,
/// so a rule that ignored a parameter would fail them — shown by a copy with the shipped job
/// selector put back. The dashboards for EUR pass the lint with EUR units and names.
#[test]
fn the_rules_and_dashboards_follow_another_parameter_set() {
    if missing(&[Need::Venv, Need::Promtool]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = generate_with(OTHER_PARAMS, dir.path());
    let text = std::fs::read_to_string(&rules).unwrap();
    let out = run_ok(
        &tool("promtool"),
        &["check", "rules", rules.to_str().unwrap()],
    );
    assert!(out.contains("SUCCESS"), "{out}");
    let tests = dir.path().join("bedrock-cost-exporter.test.yml");
    let out = run_ok(
        &tool("promtool"),
        &["test", "rules", tests.to_str().unwrap()],
    );
    assert!(out.contains("SUCCESS"), "{out}");
    for want in [
        "bedrock_budget_spend_eur{job=\"finops-bce\", namespace=\"cost\"}",
        ") >= 0.95\n",
        ") >= 0.7\n",
        "severity: 'page'",
        "severity: 'ticket'",
        "severity: 'notice'",
        "keep_firing_for: 45m",
        "bedrock_exporter_previous_billing_period_age_seconds{job=\"finops-bce\", namespace=\"cost\"} < 3 * 86400",
        "> 3 * max without (instance, pod) (bedrock_budget_baseline_day_spend_eur",
        "runbook_url: 'https://docs.example.com/bce/alerts.html#bedrockbudgetexceeded'",
    ] {
        assert!(text.contains(want), "{want:?} not in the generated rules");
    }
    for gone in [
        "_usd",
        "job=\"bedrock-cost-exporter\"",
        "'critical'",
        "BedrockCostSeriesFolded",
    ] {
        assert!(!text.contains(gone), "{gone:?} in the generated rules");
    }

    // A copy whose rules ignore the job selector fails the generated tests.
    let broken = text.replace(
        "job=\"finops-bce\", namespace=\"cost\"",
        "job=\"bedrock-cost-exporter\"",
    );
    std::fs::write(&rules, broken).unwrap();
    let (ok, out) = run_in(
        &repo(),
        &tool("promtool"),
        &["test", "rules", tests.to_str().unwrap()],
    );
    assert!(
        !ok,
        "promtool passed rules that ignore the job selector:\n{out}"
    );

    // The dashboards: EUR names and unit, the other tag variable and job selector.
    let boards = dir.path().join("dashboards");
    let known: std::collections::BTreeSet<String> = crate::dashboards::load()
        .iter()
        .filter_map(|(_, d)| d["uid"].as_str().map(String::from))
        .collect();
    let mut files: Vec<_> = std::fs::read_dir(&boards)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !text.to_lowercase().contains("usd"),
            "{name} still says USD"
        );
        let d: serde_json::Value = serde_json::from_str(&text).unwrap();
        let bad = crate::dashboards::lint(&name, &d, &known);
        assert!(bad.is_empty(), "{name}:\n{}", bad.join("\n"));
        let job = crate::dashboards::variables(&d)
            .into_iter()
            .find(|v| v["name"] == "job")
            .unwrap();
        assert_eq!(
            job["query"],
            "label_values(bedrock_exporter_build_info{job=\"finops-bce\", namespace=\"cost\"}, job)",
            "{name}"
        );
        if name != "bedrock-exporter-health.json" && name != "bedrock-budgets.json" {
            assert!(text.contains("tag_squad=~\\\"$squad\\\""), "{name}");
            assert!(!text.contains("tag_team"), "{name}");
        }
        if name == "bedrock-overview.json" {
            assert!(text.contains("\"unit\": \"currencyEUR\""), "{name}");
        }
    }
}

/// `helm template` of the chart: with default values its PrometheusRule is the shipped rules file;
/// with the job selector, thresholds, severities, runbook base, currency and a disabled alert set
/// as values it is what the generator writes for the same parameters, and each change shows.
#[test]
fn the_chart_takes_the_parameters_as_values() {
    if missing(&[Need::Venv, Need::Helm, Need::Promtool]) {
        return;
    }
    let helm = repo().join(".tools/bin/helm");
    assert!(
        helm.exists(),
        "{} missing: run ./scripts/test.sh (it installs helm)",
        helm.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let render = |name: &str, args: &[&str]| -> PathBuf {
        // The chart has no default source (its schema requires one).
        let mut all = vec![
            "template",
            "finops",
            CHART,
            "--set",
            "source=s3://billing/cur/cur2",
        ];
        all.extend_from_slice(args);
        let out = run_ok(&helm, &all);
        let f = dir.path().join(name);
        std::fs::write(&f, out).unwrap();
        f
    };
    let default = render("default.yaml", &["--set", "prometheusRule.enabled=true"]);
    assert_eq!(
        groups_json(&default, true),
        groups_json(&repo().join(RULES), false),
        "the chart's default rules differ from {RULES}"
    );

    let values = dir.path().join("values.yaml");
    std::fs::write(&values, OTHER_VALUES).unwrap();
    let other = render(
        "other.yaml",
        &[
            "-f",
            values.to_str().unwrap(),
            "--set",
            "dashboards.enabled=true",
        ],
    );
    // The dashboards' ConfigMaps take the job selector and currency from the same values.
    let text = std::fs::read_to_string(&other).unwrap();
    assert!(
        text.contains(
            r#""query": "label_values(bedrock_exporter_build_info{job=\"finops-bce\", namespace=\"cost\"}, job)""#
        ),
        "the dashboards' job variable does not use the job selector"
    );
    assert!(text.contains(r#""unit": "currencyEUR""#));
    assert!(text.contains("bedrock_cost_eur{"));
    assert!(!text.contains("_usd") && !text.contains("__BCE_") && !text.contains("__bce_"));
    let generated = generate_with(OTHER_PARAMS, &dir.path().join("gen"));
    let rendered = groups_json(&other, true);
    assert_eq!(
        rendered,
        groups_json(&generated, false),
        "the chart's rules for the values differ from the generator's for the same parameters"
    );
    for (what, want) in [
        (
            "job selector",
            "job=\\\"finops-bce\\\", namespace=\\\"cost\\\"",
        ),
        ("threshold", ">= 0.95"),
        ("severity", "\"severity\": \"page\""),
        (
            "runbook base",
            "https://docs.example.com/bce/alerts.html#bedrockbudgetexceeded",
        ),
        ("currency", "bedrock_budget_spend_eur"),
    ] {
        assert!(rendered.contains(want), "{what}: {want:?} not rendered");
        assert!(
            !groups_json(&default, true).contains(want),
            "{what}: {want:?} in the default rendering too"
        );
    }
    assert!(!rendered.contains("BedrockCostSeriesFolded"));
    // The rendered rules pass promtool.
    let rules = dir.path().join("rendered.rules.json");
    std::fs::write(&rules, format!("{{\"groups\": {rendered}}}")).unwrap();
    let out = run_ok(
        &tool("promtool"),
        &["check", "rules", rules.to_str().unwrap()],
    );
    assert!(out.contains("SUCCESS"), "{out}");
    // A misspelt alert name is refused by the values schema.
    let (ok, out) = run_in(
        &repo(),
        &helm,
        &[
            "lint",
            "--strict",
            CHART,
            "--set",
            "source=s3://billing/cur/cur2",
            "--set",
            "prometheusRule.config.alerts.BedrockBudgetExceded.threshold=1",
        ],
    );
    assert!(!ok, "helm lint accepted a misspelt alert name:\n{out}");
    assert!(out.contains("BedrockBudgetExceded"), "{out}");
}

/// mdBook's anchor of a heading (docs/src/alerts.md states the rule): trimmed, lower-cased,
/// letters, digits, `_` and `-` kept, whitespace to `-`, the rest dropped; repeats get `-1`, `-2`.
fn mdbook_anchors(markdown: &str) -> std::collections::BTreeSet<String> {
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let mut out = std::collections::BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#');
        if !text.starts_with(' ') {
            continue;
        }
        let anchor: String = text
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c)
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect();
        let n = seen.entry(anchor.clone()).or_insert(0);
        out.insert(if *n == 0 {
            anchor.clone()
        } else {
            format!("{anchor}-{n}")
        });
        *n += 1;
    }
    out
}

/// Alerts whose runbook URL is not `<base>/alerts.html#<anchor of a heading of the alerts page>`.
fn missing_runbooks(rules: &str, base: &str, alerts_page: &str) -> Vec<String> {
    let anchors = mdbook_anchors(alerts_page);
    let mut bad = Vec::new();
    let mut alert = None;
    let mut count = (0, 0);
    for line in rules.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("- alert: ") {
            alert = Some(name.to_string());
            count.0 += 1;
        }
        if let Some(url) = t.strip_prefix("runbook_url: ") {
            count.1 += 1;
            let url = url.trim_matches('\'');
            let name = alert.clone().unwrap_or_default();
            match url.strip_prefix(&format!("{base}/alerts.html#")) {
                Some(anchor) if anchors.contains(anchor) => {}
                Some(anchor) => bad.push(format!("{name}: no heading with anchor #{anchor}")),
                None => bad.push(format!("{name}: runbook_url {url} is not under {base}")),
            }
        }
    }
    if count.0 != count.1 {
        bad.push(format!("{} alerts, {} runbook URLs", count.0, count.1));
    }
    bad
}

/// Every alert's runbook_url is absolute, built from the runbook base, and its anchor is a
/// heading of the docs' alerts page under mdBook's anchor rule; broken copies are named.
#[test]
fn every_alert_has_a_runbook_in_the_docs() {
    if missing(&[Need::Venv]) {
        return;
    }
    let page_path = repo().join("docs/src/alerts.md");
    let page = std::fs::read_to_string(&page_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the runbooks live in the docs' alerts page",
            page_path.display()
        )
    });
    let rules = std::fs::read_to_string(repo().join(RULES)).unwrap();
    let base = "https://bedrock-cost-exporter.invalid/docs";
    let bad = missing_runbooks(&rules, base, &page);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // Under another base too (the parameter decides).
    let dir = tempfile::tempdir().unwrap();
    let other = std::fs::read_to_string(generate_with(OTHER_PARAMS, dir.path())).unwrap();
    assert!(missing_runbooks(&other, "https://docs.example.com/bce", &page).is_empty());

    // Broken copies: a heading with punctuation, a missing heading, a relative URL.
    let punct = page.replace(
        "### BedrockBudgetExceeded\n",
        "### BedrockBudgetExceeded (100 %)\n",
    );
    assert_eq!(
        missing_runbooks(&rules, base, &punct),
        vec!["BedrockBudgetExceeded: no heading with anchor #bedrockbudgetexceeded"]
    );
    let gone = page.replace("### BedrockUsageAbsent\n", "");
    assert_eq!(
        missing_runbooks(&rules, base, &gone),
        vec!["BedrockUsageAbsent: no heading with anchor #bedrockusageabsent"]
    );
    let relative = rules.replacen(
        &format!("{base}/alerts.html#bedrockbudgethalfused"),
        "README.md#bedrockbudgethalfused",
        1,
    );
    assert_eq!(
        missing_runbooks(&relative, base, &page),
        vec![format!(
            "BedrockBudgetHalfUsed: runbook_url README.md#bedrockbudgethalfused is not under {base}"
        )]
    );
    assert!(mdbook_anchors("## A b\n## A b\n```\n# not a heading\n```\n").contains("a-b-1"));
}

/// `amtool config routes test`: owners are served by contact labels alone (nobody is named in
/// the file), unowned budget alerts go to FinOps (and a critical one to the pager too, never only
/// there), health alerts to FinOps.
#[test]
fn the_alertmanager_example_routes_by_contact_labels() {
    if missing(&[Need::Amtool]) {
        return;
    }
    let out = run_ok(&tool("amtool"), &["check-config", AM_EXAMPLE]);
    assert!(out.contains("SUCCESS"), "{out}");
    let example = std::fs::read_to_string(repo().join(AM_EXAMPLE)).unwrap();
    for (labels, want) in [
        (
            &[
                "budget=web",
                "owner=web-team",
                "email=web@teams.example",
                "severity=critical",
                "alertname=BedrockBudgetExceeded",
            ][..],
            "pager,budget-owner-email",
        ),
        (
            &[
                "budget=ml",
                "owner=ml",
                "slack_channel=#ml",
                "severity=warning",
                "alertname=BedrockBudgetAlmostUsed",
            ],
            "budget-owner-slack",
        ),
        (
            &[
                "budget=ml",
                "email=ml@teams.example",
                "slack_channel=#ml",
                "severity=info",
                "alertname=BedrockBudgetHalfUsed",
            ],
            "budget-owner-email,budget-owner-slack",
        ),
        (
            &[
                "budget=all",
                "owner=finops",
                "severity=critical",
                "alertname=BedrockBudgetExceeded",
            ],
            "pager,finops-budgets",
        ),
        (
            &[
                "budget=all",
                "severity=warning",
                "alertname=BedrockBudgetForecastExceeded",
            ],
            "finops-budgets",
        ),
        (
            &[
                "principal=arn:aws:iam::1:user/x",
                "severity=warning",
                "alertname=BedrockPrincipalSpendSpike",
            ],
            "finops",
        ),
        (
            &[
                "principal=arn:aws:iam::1:user/x",
                "budget=web",
                "email=web@teams.example",
                "severity=warning",
                "alertname=BedrockPrincipalSpendSpike",
            ],
            "budget-owner-email",
        ),
        (
            &[
                "severity=warning",
                "alertname=BedrockCostExportStale",
                "export=x",
            ],
            "finops",
        ),
    ] {
        for l in labels {
            let value = l.split_once('=').unwrap().1;
            if l.starts_with("email=") || l.starts_with("slack_channel=") {
                assert!(!example.contains(value), "{value} is named in the example");
            }
        }
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
    // The budget route waits longer than a period before repeating.
    assert!(example.contains("repeat_interval: 960h"), "{example}");
}
