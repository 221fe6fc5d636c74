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

#[test]
fn the_readme_documents_every_metric_and_label() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let text = once(&repo().join("sample/export"), &[]);
    let mut families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    families.push("bedrock_exporter_folded_cost_usd");
    for f in families {
        assert!(
            readme.contains(&format!("`{f}`")),
            "README lacks metric `{f}`"
        );
    }
    for name in bedrock_cost_exporter::names::SERIES_LABELS
        .iter()
        .chain([&bedrock_cost_exporter::names::PRICING_UNIT_LABEL])
    {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "README lacks label `{name}`"
        );
    }
    // Every configuration key of the example file is in the README's table.
    let example =
        std::fs::read_to_string(repo().join("config/bedrock-cost-exporter.toml")).unwrap();
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
        assert!(
            readme.contains(&format!("| `{full}` |")),
            "README lacks config key `{full}`"
        );
    }
}
