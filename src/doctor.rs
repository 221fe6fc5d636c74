//! `doctor`: answers "why don't I see what I expect?" in one run. Each finding is a line, ✓ or ✗,
//! with what to do next: source reachable and permissions sufficient, manifests (format, mode),
//! the periods and executions that would be served, the principal column and the share of cost
//! without a principal, tag keys and the labels they become, Bedrock rows per period, unknown usage
//! types, data freshness, and series against `max_series`. A finding that stops the daemon from
//! serving data is *blocking*; `doctor` then exits non-zero.
//!
//! It reads the export exactly as a refresh does (the same [`Refresher`]), so what it reports is
//! what the daemon would serve.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::bedrock::tags::TagRules;
use crate::config::{Config, PeriodSelection};
use crate::cur::{Format, manifest};
use crate::names::OVERFLOW;
use crate::refresh::{NoProgress, Refresher};
use crate::source::Source;
use crate::status::PeriodStatus;

/// How a finding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// ✓
    Ok,
    /// ✗, but the daemon still serves data.
    Problem,
    /// ✗, and the daemon cannot serve data.
    Blocking,
}

/// One line of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub mark: Mark,
    pub what: String,
    /// What to do about it.
    pub next: Option<String>,
}

/// Every finding, in the order they were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
}

impl Diagnosis {
    fn ok(&mut self, what: impl Into<String>) {
        self.push(Mark::Ok, what.into(), None);
    }

    fn problem(&mut self, what: impl Into<String>, next: impl Into<String>) {
        self.push(Mark::Problem, what.into(), Some(next.into()));
    }

    fn blocking(&mut self, what: impl Into<String>, next: impl Into<String>) {
        self.push(Mark::Blocking, what.into(), Some(next.into()));
    }

    fn push(&mut self, mark: Mark, what: String, next: Option<String>) {
        self.findings.push(Finding { mark, what, next });
    }

    /// Whether something stops the daemon from serving data.
    pub fn blocked(&self) -> bool {
        self.findings.iter().any(|f| f.mark == Mark::Blocking)
    }

    /// The report as text: one line per finding, `→` lines with what to do.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let mark = match f.mark {
                Mark::Ok => "✓",
                Mark::Problem | Mark::Blocking => "✗",
            };
            let _ = writeln!(out, "{mark} {}", f.what);
            if let Some(next) = &f.next {
                let _ = writeln!(out, "    → {next}");
            }
        }
        let problems = self.findings.iter().filter(|f| f.mark != Mark::Ok).count();
        let _ = if self.blocked() {
            writeln!(
                out,
                "\nThe daemon cannot serve data until the blocking problems above are fixed."
            )
        } else if problems > 0 {
            writeln!(
                out,
                "\nThe daemon can serve data; {problems} finding(s) above deserve a look."
            )
        } else {
            writeln!(out, "\nAll checks passed.")
        };
        out
    }
}

/// Runs every check against each export with `config`'s settings; `now_ms` is the wall clock (for
/// the age of the data). With several exports each finding starts with `[name]`, and a last check
/// says whether two exports hold the same payer's billing period (the daemon would refuse the
/// later one).
pub fn diagnose(config: &Config, sources: Vec<(String, Source)>, now_ms: i64) -> Diagnosis {
    let several = sources.len() > 1;
    let mut all = Diagnosis::default();
    // (payer, period) → the first export holding it.
    let mut holders: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for (name, source) in sources {
        let mut held = BTreeSet::new();
        let d = diagnose_export(config, &name, source, now_ms, &mut held);
        for f in d.findings {
            all.findings.push(Finding {
                what: if several {
                    format!("[{name}] {}", f.what)
                } else {
                    f.what
                },
                ..f
            });
        }
        for key in held {
            match holders.get(&key) {
                Some(first) => duplicates.push((first.clone(), name.clone(), key)),
                None => {
                    holders.insert(key, name.clone());
                }
            }
        }
    }
    if several {
        if duplicates.is_empty() {
            all.ok(format!(
                "no two exports hold the same payer and billing period ({} payer/period pair(s))",
                holders.len()
            ));
        }
        for (first, second, (payer, period)) in duplicates {
            all.problem(
                format!(
                    "exports {first:?} and {second:?} both hold billing period {period} of payer account {payer:?}: the daemon serves {first:?} and refuses {second:?} for {period} (errors_total{{stage=\"duplicate\"}})"
                ),
                "remove one of the two exports from the configuration, or point it at another payer's export",
            );
        }
    }
    all
}

/// Every check against one export; `held` gets the `(payer, period)` pairs its data holds.
fn diagnose_export(
    config: &Config,
    name: &str,
    source: Source,
    now_ms: i64,
    held: &mut BTreeSet<(String, String)>,
) -> Diagnosis {
    let mut d = Diagnosis::default();
    let s3 = source.is_remote();
    let root = source.location("");

    // 1. Reachable, and allowed to list.
    let listing = match source.list("metadata/") {
        Ok(l) => l,
        Err(e) => {
            let next = if s3 {
                "check the bucket name, the endpoint and the credentials; the role needs s3:ListBucket on the export prefix and s3:GetObject on its objects (deploy/iam-policy.json)"
            } else {
                "point --source (or `source`) at the export root: the folder holding data/ and metadata/"
            };
            d.blocking(format!("source {root} is not readable: {e}"), next);
            return d;
        }
    };
    d.ok(format!(
        "source {root} reachable: {} object(s) under metadata/ listed",
        listing.len()
    ));

    // 2. Manifests, mode.
    let latest = manifest::latest_per_period(&listing);
    if latest.is_empty() {
        d.blocking(
            format!("no manifest under {}", source.location("metadata/")),
            "expected metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json: is the source the export root (the folder holding data/ and metadata/), and has the export delivered yet (the first delivery can take 24 h)?",
        );
        return d;
    }
    let create_new = latest
        .values()
        .any(|m| manifest::execution_folder(&m.key).is_some());
    let periods: Vec<&String> = latest.keys().collect();
    d.ok(format!(
        "manifests for {} billing period(s), {} … {}; export mode {}",
        periods.len(),
        periods[0],
        periods[periods.len() - 1],
        if create_new {
            "create-new (each execution in its own folder)"
        } else {
            "overwrite"
        }
    ));

    // 3. The periods and executions that would be served, and permission to read objects.
    let selected = config.periods.select(latest.keys());
    if selected.is_empty() {
        d.blocking(
            format!(
                "none of the configured billing periods ({}) has a manifest; available: {}",
                describe_periods(&config.periods),
                periods
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "set `periods` to a number of newest periods, \"all\", or periods from the list",
        );
        return d;
    }
    let mut formats = BTreeSet::new();
    for period in &selected {
        let meta = &latest[period];
        let location = source.location(&meta.key);
        let bytes = match source.get(&meta.key) {
            Ok(b) => b,
            Err(e) => {
                let next = if s3 {
                    "the role needs s3:GetObject on the export's objects (deploy/iam-policy.json); with SSE-KMS also kms:Decrypt"
                } else {
                    "check the file's permissions"
                };
                d.blocking(format!("cannot read manifest {location}: {e}"), next);
                return d;
            }
        };
        match manifest::parse(&bytes, &location) {
            Ok(m) => {
                let kinds: BTreeSet<&str> = m
                    .data_files
                    .iter()
                    .map(|f| match Format::of_key(f) {
                        Some(Format::Parquet) => "Parquet",
                        Some(Format::CsvGz) => "CSV (gzip)",
                        Some(Format::Csv) => "CSV",
                        None => "unknown format",
                    })
                    .collect();
                formats.extend(kinds.iter().map(|k| k.to_string()));
                let execution = m
                    .execution_id
                    .clone()
                    .or_else(|| manifest::execution_folder(&meta.key).map(str::to_string))
                    .unwrap_or_else(|| "-".to_string());
                d.ok(format!(
                    "{period} would be served from {} (execution {execution}): {} data file(s), {}{}",
                    meta.key,
                    m.data_files.len(),
                    kinds.into_iter().collect::<Vec<_>>().join(", "),
                    meta.last_modified_ms
                        .map(|ms| format!(", written {}", utc(ms)))
                        .unwrap_or_default()
                ));
            }
            Err(e) => {
                d.blocking(
                    format!("{e}"),
                    "the manifest is not what AWS Data Exports writes; re-sync it, or wait for the next delivery",
                );
                return d;
            }
        }
    }
    d.ok(format!(
        "permissions sufficient: listing and reading objects work (format: {})",
        formats.into_iter().collect::<Vec<_>>().join(", ")
    ));

    // 4. Read the data as a refresh does.
    let mut refresher = Refresher::new(
        vec![(name.to_string(), source)],
        config.aggregate.clone(),
        config.periods.clone(),
        config.max_series,
    );
    let report = refresher.refresh(&mut NoProgress);
    for e in report.errors() {
        d.blocking(
            format!("reading the data failed [{}]: {e}", e.stage()),
            "fix or re-sync the named object; the daemon keeps serving the last good data, but has none yet",
        );
    }
    let Some(snapshot) = report.snapshot.clone() else {
        return d;
    };
    let statuses = &report.periods();

    // 4b. The payer account(s) of the bill: the payer_account_id label.
    let mut payers: BTreeSet<&str> = BTreeSet::new();
    for s in &snapshot.series {
        let payer = &*s.labels.fixed[crate::names::label::PAYER_ACCOUNT_ID];
        payers.insert(payer);
        held.insert((
            payer.to_string(),
            s.labels.fixed[crate::names::label::BILLING_PERIOD].to_string(),
        ));
    }
    if payers.contains("") {
        d.problem(
            "some Bedrock line items have no bill_payer_account_id: their series have an empty payer_account_id label",
            "CUR 2.0 exports always have bill_payer_account_id; is this a legacy CUR or a hand-made file? Two such exports cannot be told apart, so the daemon refuses the second for the same period",
        );
    }
    let named: Vec<&str> = payers.iter().copied().filter(|p| !p.is_empty()).collect();
    if !named.is_empty() {
        d.ok(format!(
            "payer account(s) {} (label payer_account_id)",
            named.join(", ")
        ));
    }

    // 5. Bedrock rows per period.
    for p in statuses {
        if p.stats.bedrock_rows == 0 {
            d.problem(
                format!(
                    "{}: no Amazon Bedrock line items among {} row(s)",
                    p.period, p.rows
                ),
                "is this the export of the account (or payer) that uses Bedrock, and does its query include all services?",
            );
        } else {
            d.ok(format!(
                "{}: {} Bedrock line item(s) among {} row(s) in {} file(s)",
                p.period, p.stats.bedrock_rows, p.rows, p.files
            ));
        }
    }

    // 6. Principal column and the cost without a principal.
    let without: Vec<&str> = statuses
        .iter()
        .filter(|p| !p.principal_column)
        .map(|p| p.period.as_str())
        .collect();
    if without.is_empty() {
        d.ok("principal column line_item_iam_principal present");
    } else {
        d.problem(
            format!(
                "the export has no line_item_iam_principal column ({}): every Bedrock line item is principal=\"unattributed\"",
                without.join(", ")
            ),
            "turn on \"Include caller identity (IAM principal) allocation data\" (INCLUDE_IAM_PRINCIPAL_DATA) in the Data Export (some accounts must recreate the export); data exists from 2026-04-08 on",
        );
    }
    let mut by_currency: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for s in &snapshot.series {
        let e = by_currency.entry(&s.currency).or_default();
        let cost = s.cost.value();
        e.1 += cost;
        if &*s.labels.fixed[crate::names::label::PRINCIPAL]
            == crate::bedrock::principal::UNATTRIBUTED
        {
            e.0 += cost;
        }
    }
    for (ccy, (unattributed, total)) in by_currency {
        let share = if total != 0.0 {
            100.0 * unattributed / total
        } else {
            0.0
        };
        let what = format!(
            "{share:.1} % of Bedrock cost has no principal ({unattributed:.2} of {total:.2} {ccy}): features without a caller (knowledge bases, guardrails), tax and fees"
        );
        if share > 50.0 && without.is_empty() {
            d.problem(
                what,
                "most spend is unattributed: check that callers use bedrock-runtime inference (InvokeModel, Converse) and that the export includes IAM principal data for the whole period (not retroactive before it was turned on)",
            );
        } else {
            d.ok(what);
        }
    }

    // 7. Tag keys and the labels they become.
    let mut keys: BTreeMap<&str, u64> = BTreeMap::new();
    for p in statuses {
        for (k, n) in &p.stats.tag_keys {
            *keys.entry(k.as_str()).or_default() += n;
        }
    }
    if !keys.keys().any(|k| k.starts_with("iamPrincipal/")) {
        d.problem(
            "no iamPrincipal/ tag keys on Bedrock line items: no tag_* labels from principal or session tags",
            "tag the IAM users and roles (or pass session tags), then activate the keys under Billing → Cost allocation tags (IAM category); keys appear after first use (up to 24 h) and data 24–48 h after activation",
        );
    }
    let collisions: u64 = statuses.iter().map(|p| p.stats.tag_label_collisions).sum();
    if collisions > 0 {
        let mut by_label: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for key in keys.keys().filter(|k| **k != OVERFLOW) {
            if let Some(label) = config.aggregate.tags.label_for(key) {
                by_label.entry(label).or_default().push(key);
            }
        }
        let clashes: Vec<String> = by_label
            .iter()
            .filter(|(_, ks)| ks.len() > 1)
            .map(|(label, ks)| format!("{} → {label}", ks.join(" and ")))
            .collect();
        d.problem(
            format!(
                "{collisions} Bedrock line item(s) carry two tag keys that map to one label ({}); the first key in sort order gives the value",
                clashes.join("; ")
            ),
            "map one of the keys to another label with tags.rename (e.g. \"iamPrincipal/cost_center\" = \"tag_cost_center_2\"), or keep one with tags.allow",
        );
    }
    for (key, n) in &keys {
        if *key == OVERFLOW {
            d.ok(format!("… and more tag keys ({n} line items)"));
            continue;
        }
        match config.aggregate.tags.label_for(key) {
            Some(label) => d.ok(format!("tag {key} → label {label} ({n} line item(s))")),
            None => d.ok(format!(
                "tag {key} is not a label: {} ({n} line item(s))",
                why_not_a_label(&config.aggregate.tags, key)
            )),
        }
    }

    // 8. Unknown usage types.
    let mut unknown: BTreeMap<&str, u64> = BTreeMap::new();
    for p in statuses {
        for (u, n) in &p.stats.unknown_usage_types {
            *unknown.entry(u.as_str()).or_default() += n;
        }
    }
    if unknown.is_empty() {
        d.ok("every Bedrock usage type matched a classification rule");
    } else {
        let list: Vec<String> = unknown.iter().map(|(u, n)| format!("{u} ({n})")).collect();
        d.problem(
            format!(
                "{} usage type(s) matched no rule: {}",
                unknown.len(),
                list.join(", ")
            ),
            "their cost is counted (direction=\"other\"); check the model/region labels they get, map a model name with models.rename, and report the string (docs/src/metrics.md: Unknown usage types)",
        );
    }

    // 9. Freshness.
    let current_period = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_default();
    for p in statuses {
        freshness(&mut d, p, now_ms, &current_period);
    }

    // 10. Series against the cap.
    if snapshot.folded.series > 0 {
        d.problem(
            format!(
                "{} series, {} of them folded into overflow buckets (max_series {})",
                snapshot.series.len(),
                snapshot.folded.series,
                snapshot.max_series
            ),
            "raise max_series, set fold_sessions = true, or limit tag labels with tags.allow (docs/src/metrics.md: Cardinality)",
        );
    } else {
        d.ok(format!(
            "{} series (max_series {})",
            snapshot.series.len(),
            snapshot.max_series
        ));
    }
    d
}

fn freshness(d: &mut Diagnosis, p: &PeriodStatus, now_ms: i64, current_period: &str) {
    match p.newest_usage_end_ms {
        None => d.problem(
            format!(
                "{}: no Bedrock usage line items, so no data freshness",
                p.period
            ),
            "nothing to do if Bedrock was not used in this period",
        ),
        Some(ms) => {
            let age_h = (now_ms - ms) as f64 / 3_600_000.0;
            let what = format!(
                "{}: Bedrock usage billed up to {} ({age_h:.0} h ago)",
                p.period,
                utc(ms)
            );
            if p.period == current_period && age_h > 72.0 {
                d.problem(
                    what,
                    "CUR 2.0 is refreshed at least daily: check that the Data Export is still active and delivering (Billing → Data Exports)",
                );
            } else {
                d.ok(what);
            }
        }
    }
}

fn why_not_a_label(rules: &TagRules, key: &str) -> String {
    match key.split_once('/') {
        Some((source, _)) if !rules.sources.contains(source) => {
            format!("source {source} is not in tags.sources")
        }
        Some(_) if !rules.allow.is_empty() && !rules.allow.contains(key) => {
            "not in tags.allow".to_string()
        }
        Some(_) => "its name has no letters or digits".to_string(),
        None => "no source prefix".to_string(),
    }
}

fn describe_periods(p: &PeriodSelection) -> String {
    match p {
        PeriodSelection::Newest(n) => format!("the {n} newest"),
        PeriodSelection::All => "all".to_string(),
        PeriodSelection::Explicit(set) => set.iter().cloned().collect::<Vec<_>>().join(", "),
    }
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_marks_and_exit_reason() {
        let mut d = Diagnosis::default();
        d.ok("fine");
        d.problem("odd", "look");
        assert!(!d.blocked());
        let text = d.render();
        assert!(text.starts_with("✓ fine\n✗ odd\n    → look\n"), "{text}");
        assert!(text.contains("can serve data; 1 finding"), "{text}");
        d.blocking("broken", "fix");
        assert!(d.blocked());
        assert!(d.render().contains("cannot serve data"));
    }

    #[test]
    fn labels_explained() {
        let rules = TagRules::default();
        assert_eq!(
            why_not_a_label(&rules, "costCategory/x"),
            "source costCategory is not in tags.sources"
        );
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
    }
}
