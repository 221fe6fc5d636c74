//! The documentation: README.md (the landing page) and the mdBook in docs/src. Links between pages
//! name anchors that exist (mdbook-linkcheck2, run by scripts/test.sh, checks files but not
//! anchors), every page is in the book's summary, and links from the README to the repository's
//! files resolve. What the pages say about metrics, labels and keys is held against the code in
//! `cli.rs`.

use crate::util::*;
use std::collections::BTreeSet;

/// The pages of the book, from docs/src/SUMMARY.md, in order.
fn summary_pages() -> Vec<String> {
    let summary = docs_page("SUMMARY.md");
    summary
        .lines()
        .filter_map(|l| l.split_once("](").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(')').map(|(page, _)| page.to_string()))
        .collect()
}

/// Markdown link targets of a text, outside code blocks and code spans: `[text](target)`.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        // Drop code spans, which may hold `](` of their own.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(close) = after.find(')') else { break };
            out.push(after[..close].to_string());
            rest = &after[close..];
        }
    }
    out
}

#[test]
fn every_page_is_in_the_summary_and_every_summary_entry_is_a_page() {
    let pages = summary_pages();
    assert!(pages.len() >= 14, "{pages:?}");
    let listed: BTreeSet<String> = pages.iter().cloned().collect();
    assert_eq!(
        listed.len(),
        pages.len(),
        "a page is listed twice: {pages:?}"
    );
    let on_disk: BTreeSet<String> = std::fs::read_dir(repo().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md") && n != "SUMMARY.md")
        .collect();
    assert_eq!(listed, on_disk, "docs/src and SUMMARY.md disagree");
}

#[test]
fn links_between_pages_name_anchors_that_exist() {
    let pages = summary_pages();
    let mut checked = 0;
    for page in &pages {
        for target in link_targets(&docs_page(page)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() { page.as_str() } else { file };
            if file.contains('/') {
                // A file of the repository (../../deploy/…): it exists (its anchors, in a
                // README elsewhere, are GitHub's business).
                let path = repo().join("docs/src").join(file);
                assert!(path.exists(), "{page}: link to {target}: no such file");
                continue;
            }
            assert!(
                pages.iter().any(|p| p == file),
                "{page}: link to {target}: no such page"
            );
            if !fragment.is_empty() {
                let anchors = docs_anchors(file);
                assert!(
                    anchors.iter().any(|a| a == fragment),
                    "{page}: link to {target}: {file} has no anchor #{fragment} (it has {anchors:?})"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} anchors checked");
}

#[test]
fn the_readme_links_to_existing_pages_and_files() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md is the landing page: {lines} lines");
    let mut pages = 0;
    for target in link_targets(&readme) {
        if target.contains("://") {
            continue;
        }
        let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
        assert!(
            repo().join(file).exists(),
            "README.md links to {target}: no such file"
        );
        if let Some(page) = file.strip_prefix("docs/src/") {
            pages += 1;
            if !fragment.is_empty() {
                assert!(
                    docs_anchors(page).iter().any(|a| a == fragment),
                    "README.md links to {target}: no such anchor"
                );
            }
        }
    }
    assert!(
        pages >= summary_pages().len(),
        "README.md maps {pages} pages"
    );
}

#[test]
fn anchors_follow_mdbook() {
    for (heading, anchor) in [
        ("BedrockBudgetExceeded", "bedrockbudgetexceeded"),
        (
            "Sizing: one daemon or several",
            "sizing-one-daemon-or-several",
        ),
        ("Kubernetes (Helm)", "kubernetes-helm"),
        ("`doctor`", "doctor"),
        (
            "Labels of the [Bedrock](metrics.md) metrics",
            "labels-of-the-bedrock-metrics",
        ),
        ("  Self-metrics  ", "self-metrics"),
        ("Alerts {#runbooks}", "runbooks"),
    ] {
        assert_eq!(md_anchor(heading), anchor, "{heading}");
    }
    // One section per shipped alert, under its own name.
    let anchors = docs_anchors("alerts.md");
    for alert in ["BedrockBudgetExceeded", "BedrockCostSeriesFolded"] {
        assert!(anchors.contains(&alert.to_lowercase()), "{anchors:?}");
    }
}

/// The anchor rule above is mdBook's: the pinned `mdbook` (scripts/test.sh installs it) builds the
/// book, and every page's heading ids are exactly what `docs_anchors` computes, in order.
#[test]
fn anchors_are_the_ones_mdbook_makes() {
    if missing(&[Need::Mdbook]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("docs");
    std::fs::create_dir_all(book.join("src")).unwrap();
    // The book as it is, with the HTML output only (the link checker runs in scripts/test.sh).
    let toml = std::fs::read_to_string(repo().join("docs/book.toml")).unwrap();
    let html_only = toml
        .split("[output.linkcheck2]")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(book.join("book.toml"), html_only).unwrap();
    for page in summary_pages().iter().chain([&"SUMMARY.md".to_string()]) {
        std::fs::write(book.join("src").join(page), docs_page(page)).unwrap();
    }
    let out_dir = dir.path().join("out");
    let out = std::process::Command::new(tool("mdbook"))
        .arg("build")
        .arg(&book)
        .arg("--dest-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mdbook build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in summary_pages() {
        let html = std::fs::read_to_string(out_dir.join(page.replace(".md", ".html"))).unwrap();
        let mut ids = Vec::new();
        for (i, _) in html.match_indices("<h") {
            let rest = &html[i + 2..];
            if rest.starts_with(|c: char| ('1'..='6').contains(&c))
                && let Some(tag) = rest[1..].strip_prefix(" id=\"")
            {
                ids.push(tag[..tag.find('"').unwrap()].to_string());
            }
        }
        assert_eq!(ids, docs_anchors(&page), "{page}: mdBook's heading ids");
    }
}
