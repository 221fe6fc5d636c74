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

/// Each command's `--help` lists the flags that apply to it and no other (`healthcheck --help`
/// listed --source, --s3-endpoint and --listen as "Address to serve on"); flags given before the
/// command keep working where they apply, and say so where they do not.
#[test]
fn each_command_lists_only_its_own_flags() {
    let help = |cmd: &str| {
        let out = run(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let flags = |h: &str| -> Vec<String> {
        h.split_whitespace()
            .filter(|w| w.starts_with("--"))
            .map(|w| w.trim_end_matches([',', '.', ')']).to_string())
            .collect()
    };
    // (command, flags it must list, flags it must not)
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "serve",
            &[
                "--config",
                "--source",
                "--s3-endpoint",
                "--s3-path-style",
                "--listen",
                "--web.config.file",
                "--web.enable-lifecycle",
                "--otlp-endpoint",
                "--otlp-protocol",
            ],
            &["--url", "--format"],
        ),
        (
            "once",
            &[
                "--config",
                "--source",
                "--s3-endpoint",
                "--s3-path-style",
                "--format",
                "--progress",
            ],
            &[
                "--listen",
                "--web.config.file",
                "--web.enable-lifecycle",
                "--otlp-endpoint",
            ],
        ),
        (
            "check-config",
            &[
                "--config",
                "--source",
                "--s3-endpoint",
                "--listen",
                "--web.config.file",
                "--otlp-endpoint",
            ],
            &["--web.enable-lifecycle", "--format", "--url"],
        ),
        (
            "doctor",
            &["--config", "--source", "--s3-endpoint", "--s3-path-style"],
            &["--listen", "--web.config.file", "--otlp-endpoint"],
        ),
        (
            "healthcheck",
            &[
                "--config",
                "--listen",
                "--web.config.file",
                "--url",
                "--ready",
                "--timeout",
                "--user",
                "--password-file",
                "--client-cert",
                "--client-key",
            ],
            &[
                "--source",
                "--s3-endpoint",
                "--s3-path-style",
                "--otlp-endpoint",
                "--web.enable-lifecycle",
            ],
        ),
        (
            "hash-password",
            &["--cost"],
            &["--source", "--listen", "--config"],
        ),
    ];
    for (cmd, must, must_not) in cases {
        let h = help(cmd);
        let listed = flags(&h);
        for f in *must {
            assert!(
                listed.iter().any(|l| l == f),
                "{cmd} --help lacks {f}:\n{h}"
            );
        }
        for f in *must_not {
            assert!(
                !listed.iter().any(|l| l == f),
                "{cmd} --help lists {f}:\n{h}"
            );
        }
    }
    let h = help("healthcheck");
    assert!(
        !h.contains("Address to serve on") && h.contains("probe"),
        "{h}"
    );
    // Before the command: still accepted where it applies, refused where it does not.
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["--source", dir.path().to_str().unwrap(), "check-config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("metadata/"),
        "--source before check-config: {err}"
    );
    let out = run(&["--otlp-endpoint", "http://127.0.0.1:4318", "once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--otlp-endpoint") && err.contains("once"),
        "{err}"
    );
}

/// `hash-password` reads a password on stdin and prints a bcrypt hash for basic_auth_users.
#[test]
fn hash_password_prints_a_bcrypt_hash() {
    use std::io::Write;
    let mut child = std::process::Command::new(BIN)
        .args(["hash-password", "--cost", "4"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cret pass\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim_end();
    assert!(
        hash.starts_with("$2b$04$") && !hash.contains('\n'),
        "{hash:?}"
    );
    assert!(bcrypt::verify("s3cret pass", hash).unwrap());
    assert!(!bcrypt::verify("s3cret pass\n", hash).unwrap());
    // Usable as is in a web configuration file.
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {hash}\n")).unwrap();
    bedrock_cost_exporter::web_config::WebConfig::load(Some(&web)).unwrap();
    // Nothing on stdin: an error, no hash of the empty string.
    let out = std::process::Command::new(BIN)
        .arg("hash-password")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success() && out.stdout.is_empty());
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
/// label a row in the label table (the configuration keys: `the_documented_keys_are_the_codes_keys`).
#[test]
fn the_docs_document_every_metric_label_and_key() {
    let metrics_page = docs_page("metrics.md");
    let budgets_page = docs_page("budgets.md");
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
}

/// The configuration keys the code reads — every leaf key of the raw structs, from
/// `config::config_keys` — are exactly the keys of the configuration page's key table, and the
/// annotated example file mentions every one of them (commented-out ones included) and no other.
#[test]
fn the_documented_keys_are_the_codes_keys() {
    use bedrock_cost_exporter::config::{S3_DAEMON_KEYS, config_keys};
    use std::collections::BTreeSet;
    let all = config_keys();
    let tables: BTreeSet<&str> = all
        .iter()
        .filter(|k| k.table)
        .map(|k| k.path.as_str())
        .collect();
    // An export's `s3` refuses the daemon-wide keys (an error saying so), so they are no keys of it.
    let refused: Vec<String> = S3_DAEMON_KEYS
        .iter()
        .map(|k| format!("exports.s3.{k}"))
        .collect();
    let code: BTreeSet<String> = all
        .iter()
        .filter(|k| !k.table && !refused.contains(&k.path))
        .map(|k| k.path.clone())
        .collect();
    assert!(code.len() > 60, "{code:?}");

    let page = docs_page("configuration.md");
    let table = page
        .split("| key | default | meaning |")
        .nth(1)
        .expect("the key table");
    let mut documented = BTreeSet::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let first = row.split(" | ").next().unwrap_or("");
        let names: Vec<&str> = first.split('`').skip(1).step_by(2).collect();
        let full = names[0].replace("[]", "");
        let parent = full.rsplit_once('.').map_or("", |(p, _)| p).to_string();
        documented.insert(full);
        for rel in &names[1..] {
            documented.insert(format!("{parent}{rel}"));
        }
    }
    assert_eq!(
        documented.iter().collect::<Vec<_>>(),
        code.iter().collect::<Vec<_>>(),
        "the key table of docs/src/configuration.md and the code's keys differ"
    );

    let (mentioned, inline) = example_config_keys();
    // An inline table stands for its keys (`s3 = { region = … }` in an export); an inline
    // free-form map (`labels = { email = … }`) is a value.
    let covered = |k: &String| {
        mentioned.contains(k)
            || inline
                .iter()
                .any(|t| tables.contains(t.as_str()) && k.starts_with(&format!("{t}.")))
    };
    let missing: Vec<&String> = code.iter().filter(|k| !covered(k)).collect();
    assert!(
        missing.is_empty(),
        "config/bedrock-cost-exporter.toml does not mention {missing:?}"
    );
    let unknown: Vec<&String> = mentioned
        .iter()
        .filter(|k| !all.iter().any(|c| &c.path == *k))
        .collect();
    assert!(
        unknown.is_empty(),
        "config/bedrock-cost-exporter.toml mentions keys the code does not read: {unknown:?}"
    );
}

/// The keys the annotated example file mentions, commented-out ones and table headers included
/// (`section.key`, arrays of tables without positions), and the tables it writes inline
/// (`s3 = { … }` under `[[exports]]`), which stand for their keys. A commented table header's
/// keys end at the next blank line.
fn example_config_keys() -> (std::collections::BTreeSet<String>, Vec<String>) {
    let example =
        std::fs::read_to_string(repo().join("config/bedrock-cost-exporter.toml")).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    let mut inline = Vec::new();
    let mut section = String::new();
    let mut commented_section = false;
    let is_key = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    };
    for line in example.lines().map(str::trim) {
        if line.is_empty() {
            if commented_section {
                section.clear();
                commented_section = false;
            }
            continue;
        }
        let (commented, body) = match line.strip_prefix('#') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        if body.starts_with('[') && body.ends_with(']') {
            let name = body.trim_matches(|c| c == '[' || c == ']');
            if is_key(name) {
                section = name.to_string();
                commented_section = commented;
                keys.insert(section.clone());
            }
            continue;
        }
        let Some((key, value)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !is_key(key) {
            continue;
        }
        let full = if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        };
        if value.trim().starts_with('{') {
            inline.push(full.clone());
        }
        keys.insert(full);
    }
    (keys, inline)
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

/// A bad value from the environment names the variable, not only the key it sets; one from a
/// flag names the flag.
#[test]
fn errors_name_the_variable_or_flag_they_came_from() {
    let src = || {
        vec![
            "check-config".to_string(),
            "--source".into(),
            "s3://b/p".into(),
        ]
    };
    let out = run_env(&src(), &[("BCE_REFRESH_INTERVAL", "fast".into())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("BCE_REFRESH_INTERVAL") && err.contains("\"fast\""),
        "{err}"
    );
    let out = run_env(&src(), &[("BCE_S3__CONCURRENCY", "0".into())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BCE_S3__CONCURRENCY"), "{err}");
    let mut args = src();
    args.extend(["--listen".into(), "nowhere".into()]);
    let out = run_env(&args, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listen") && err.contains("nowhere"), "{err}");
}
