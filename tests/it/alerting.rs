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
