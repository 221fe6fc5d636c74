//! The command line: help documents every flag, check-config, errors that say what to do.

use crate::util::*;

#[test]
fn help_lists_commands_and_flags() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "serve",
        "once",
        "check-config",
        "--config",
        "--source",
        "BCE_",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    assert!(
        help.contains("--listen") && help.contains("doctor"),
        "{help}"
    );
    let out = run(&["serve", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--listen"));
    let out = run(&["once", "--help"]);
    let h = String::from_utf8_lossy(&out.stdout);
    assert!(h.contains("--format") && h.contains("--progress"), "{h}");
}

#[test]
fn check_config_accepts_the_example_and_names_bad_keys() {
    let example = repo().join("config/bedrock-cost-exporter.toml");
    let out = run(&["check-config", "--config", example.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "max_series = 5\n").unwrap();
    let out = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_series"), "{err}");
}

#[test]
fn once_on_a_folder_without_manifests_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["once", "--source", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no manifest found") && err.contains("export root"),
        "{err}"
    );
    let out = run(&["once", "--source", "/nonexistent/export"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/export"));
}

#[test]
fn the_bundled_sample_serves_bedrock_metrics() {
    let text = once(&repo().join("sample/export"), &[]);
    let all = parse_exposition(&text);
    let cost = samples(&all, "bedrock_cost_usd");
    assert!(cost.len() > 50);
    for want in [
        "assumed-role/BedrockRole/user-1@acme.org",
        "user/BedrockAPIKey-",
        "assumed-role/LiteLLMGateway/gateway",
        "unattributed",
    ] {
        assert!(
            cost.iter().any(|s| s.label("principal").contains(want)),
            "sample lacks {want}"
        );
    }
    assert!(
        cost.iter()
            .any(|s| s.label("billing_entity") == "AWS Marketplace")
    );
    assert!(cost.iter().any(|s| s.label("line_item_type") == "Credit"));
    assert!(cost.iter().any(|s| s.label("line_item_type") == "Tax"));
}

/// The reference (docs/src, the mdBook) against the code: every metric family the daemon serves
/// has a row in a metrics table (Metrics; the budget and spike metrics on Budgets), every series
/// label a row in the label table, and every key of the annotated example configuration a row in
/// the configuration page's key table.
#[test]
fn the_docs_document_every_metric_label_and_key() {
    let metrics_page = docs_page("metrics.md");
    let budgets_page = docs_page("budgets.md");
    let config_page = docs_page("configuration.md");
    let text = once(&repo().join("sample/export"), &[]);
    let mut families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    families.push("bedrock_exporter_folded_cost_usd");
    assert!(families.len() > 20, "{families:?}");
    for f in families {
        let row = format!("| `{f}` |");
        assert!(
            metrics_page.contains(&row) || budgets_page.contains(&row),
            "no row for metric `{f}` in the tables of docs/src/metrics.md or docs/src/budgets.md"
        );
    }
    for name in bedrock_cost_exporter::names::SERIES_LABELS
        .iter()
        .chain([&bedrock_cost_exporter::names::PRICING_UNIT_LABEL])
    {
        assert!(
            metrics_page.contains(&format!("| `{name}` |")),
            "docs/src/metrics.md lacks label `{name}`"
        );
    }
    let keys = example_config_keys();
    assert!(keys.len() > 30, "{keys:?}");
    for full in keys {
        assert!(
            config_page.contains(&format!("| `{full}` |")),
            "docs/src/configuration.md lacks config key `{full}`"
        );
    }
}

/// Every configuration key of the annotated example file (commented-out ones included), as
/// `section.key`.
fn example_config_keys() -> Vec<String> {
    let example =
        std::fs::read_to_string(repo().join("config/bedrock-cost-exporter.toml")).unwrap();
    let mut keys = Vec::new();
    let mut section = String::new();
    for line in example.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let Some((key, _)) = line.trim_start_matches("# ").split_once(" = ") else {
            continue;
        };
        if key.contains(' ') || key.starts_with('"') || line.starts_with("# ") && section.is_empty()
        {
            continue;
        }
        let full = if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        };
        let full = full.trim_end_matches(".rename").to_string();
        if section == "tags.rename" {
            continue;
        }
        keys.push(full);
    }
    keys
}

/// `csv` (the crate) writes and reads reference CSV in tests and fuzzing only; the decoder is
/// csv-core. It is a dev-dependency, not something the daemon links.
#[test]
fn csv_is_a_dev_dependency_only() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let section = |name: &str| -> Vec<String> {
        let header = format!("[{name}]");
        manifest
            .lines()
            .skip_while(|l| l.trim() != header)
            .skip(1)
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
            .collect()
    };
    let runtime = section("dependencies");
    assert!(runtime.iter().any(|k| k == "csv-core"), "{runtime:?}");
    assert!(!runtime.iter().any(|k| k == "csv"), "{runtime:?}");
    assert!(section("dev-dependencies").iter().any(|k| k == "csv"));
}
