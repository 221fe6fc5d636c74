//! `report` against the independent reference (tests/reference/duckdb_report.py: DuckDB SQL and
//! plain Python over the same manifest-listed files) on an export whose `/metrics` folds (a small
//! `max_series`): every group of every `--by` choice — a tag, budget (overlapping, each on its own
//! cost basis), principal, account with its name — has every column equal to the reference, in
//! JSON and in CSV; the period is invoiced or open as its `bill_invoice_id`s say; HTML parses with
//! a strict HTML5 parser and is self-contained; JSON validates against its documented schema.
//! Every test sets `now`: none depends on today's date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cur_sample::{ExportSpec, SampleFormat, SampleMode, write_export};
use serde_json::Value;

use crate::util::*;

const NOW: &str = "2026-11-03T06:00:00Z";

/// Budgets of the configuration, and the same for the reference: they overlap (a Claude call
/// of the data-science team is in `ds` and `claude`), one counts net cost, one matches nothing.
const BUDGETS_TOML: &str = r#"
[[budgets]]
name = "ds"
owner = "ds-leads"
selector = '{tag_team="data-science"}'
monthly = 500.0
cost = "net"

[[budgets]]
name = "claude"
owner = "finops"
selector = '{model=~"Claude.*"}'
monthly = 2000.0

[[budgets]]
name = "gateway"
owner = "platform"
selector = '{principal=~".*Gateway.*"}'
monthly = 300.0

[[budgets]]
name = "nobody"
owner = "finops"
selector = '{account_id="000000000000"}'
monthly = 10.0
"#;

const BUDGETS_JSON: &str = r#"[
 {"name": "ds", "selector": "{tag_team=\"data-science\"}", "cost": "net", "currency": "USD"},
 {"name": "claude", "selector": "{model=~\"Claude.*\"}", "currency": "USD"},
 {"name": "gateway", "selector": "{principal=~\".*Gateway.*\"}", "currency": "USD"},
 {"name": "nobody", "selector": "{account_id=\"000000000000\"}", "currency": "USD"}
]"#;

struct Fixture {
    _dir: tempfile::TempDir,
    export: PathBuf,
    config: PathBuf,
    out: PathBuf,
}

/// Three months (September and October invoiced, November open), many sessions, a cap of 10.
fn fixture(format: SampleFormat, mode: SampleMode) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    write_export(
        &export,
        &ExportSpec {
            periods: vec!["2026-09".into(), "2026-10".into(), "2026-11".into()],
            invoiced_periods: vec!["2026-09".into(), "2026-10".into()],
            rows_per_period: 3_000,
            extra_sessions: 40,
            format,
            mode,
            ..ExportSpec::default()
        },
    )
    .unwrap();
    let config = dir.path().join("bce.toml");
    std::fs::write(
        &config,
        format!("now = \"{NOW}\"\nmax_series = 10\n{BUDGETS_TOML}"),
    )
    .unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    Fixture {
        _dir: dir,
        export,
        config,
        out,
    }
}

impl Fixture {
    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "--config",
            self.config.to_str().unwrap(),
            "--source",
            self.export.to_str().unwrap(),
            "report",
        ];
        all.extend_from_slice(args);
        run(&all)
    }

    /// The report in `format`, written to a file with --out; with stderr.
    fn report(&self, format: &str, args: &[&str]) -> (Vec<u8>, String) {
        let path = self.out.join(format!("report-{}.{format}", args.join("_")));
        let mut all = vec!["--format", format, "--out", path.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "report {args:?} failed: {stderr}");
        assert!(out.stdout.is_empty(), "--out: nothing on stdout");
        (std::fs::read(&path).unwrap(), stderr)
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.report("json", args).0).unwrap()
    }

    fn reference(&self, period: &str, by: &str) -> Value {
        let out = Command::new(python())
            .arg(repo().join("tests/reference/duckdb_report.py"))
            .arg(&self.export)
            .args(["--period", period, "--by", by, "--budgets", BUDGETS_JSON])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "duckdb_report.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON from duckdb_report.py")
    }
}

const FIGURES: [&str; 12] = [
    "cost",
    "net_cost",
    "share",
    "input_tokens",
    "output_tokens",
    "cost_per_million_tokens",
    "previous_cost",
    "change",
    "change_ratio",
    "public_on_demand_cost",
    "discount",
    "cache_read_share",
];

/// Equal to the reference: both empty, or within 1e-9 of the larger of the two and of `scale`
/// (the currency's total for money: a difference of two sums is as exact as the sums).
fn same(what: &str, ours: &Value, reference: &Value, scale: f64) {
    match (ours.as_f64(), reference.as_f64()) {
        (None, None) => assert!(
            ours.is_null() && reference.is_null(),
            "{what}: {ours} vs {reference}"
        ),
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(scale),
            "{what}: exporter {a} vs reference {b}"
        ),
        _ => panic!("{what}: exporter {ours} vs reference {reference}"),
    }
}

fn scale_of(field: &str, total: f64) -> f64 {
    match field {
        "share" | "cache_read_share" | "change_ratio" => 1.0,
        "input_tokens" | "output_tokens" | "cost_per_million_tokens" => 1.0,
        _ => total.abs().max(1.0),
    }
}

/// Every group, every column, every currency, the invoice status: as the reference says.
fn assert_matches(ours: &Value, reference: &Value, by: &[&str]) {
    assert_eq!(
        ours["invoice"]["status"], reference["invoice"]["status"],
        "invoice status"
    );
    let currencies = ours["currencies"].as_array().unwrap();
    let ref_currencies = reference["currencies"].as_object().unwrap();
    assert_eq!(
        currencies.len(),
        ref_currencies.len(),
        "currencies: {ref_currencies:?}"
    );
    for c in currencies {
        let code = c["currency"].as_str().unwrap();
        let r = &ref_currencies[code];
        let total = r["total"]["cost"].as_f64().unwrap();
        for f in FIGURES {
            same(
                &format!("{code} TOTAL {f}"),
                &c["total"][f],
                &r["total"][f],
                scale_of(f, total),
            );
        }
        let mut groups: BTreeMap<String, &Value> = BTreeMap::new();
        for row in c["rows"].as_array().unwrap() {
            assert_eq!(row["row_type"], "group", "no --top: groups only");
            let key: Vec<&str> = by
                .iter()
                .map(|l| row["labels"][*l].as_str().unwrap())
                .collect();
            groups.insert(serde_json::to_string(&key).unwrap(), row);
        }
        let ref_groups = r["groups"].as_object().unwrap();
        assert_eq!(
            groups.keys().collect::<Vec<_>>(),
            ref_groups.keys().collect::<Vec<_>>(),
            "{code}: the groups"
        );
        for (key, row) in &groups {
            let rg = &ref_groups[key];
            for f in FIGURES {
                same(
                    &format!("{code} {key} {f}"),
                    &row[f],
                    &rg[f],
                    scale_of(f, total),
                );
            }
            if by.contains(&"account_id") {
                assert_eq!(row["account_name"], rg["account_name"], "{key}");
            }
        }
        let overlap = !c["overlap"].is_null();
        assert_eq!(overlap, r["overlap"].as_bool().unwrap(), "{code}: overlap");
    }
}

/// The CSV says what the JSON says, cell by cell, and parses as RFC 4180.
fn assert_csv_equals_json(csv: &[u8], json: &Value) {
    let text = std::str::from_utf8(csv).unwrap();
    assert!(text.ends_with("\r\n"), "CRLF line ends");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "no bare LF outside quotes"
    );
    let mut reader = csv::ReaderBuilder::new().from_reader(csv);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let by: Vec<&str> = json["by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        &header[..3],
        ["billing_period", "period_status", "row_type"]
    );
    assert_eq!(&header[3..3 + by.len()], by.as_slice());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let rows: Vec<(&str, &Value)> = json["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            let code = c["currency"].as_str().unwrap();
            c["rows"]
                .as_array()
                .unwrap()
                .iter()
                .chain([&c["total"]])
                .map(move |r| (code, r))
        })
        .collect();
    assert_eq!(records.len(), rows.len());
    let status = json["invoice"]["status"].as_str().unwrap();
    for (rec, (code, row)) in records.iter().zip(rows) {
        let cell = |name: &str| &rec[header.iter().position(|h| h == name).unwrap()];
        assert_eq!(cell("billing_period"), json["billing_period"]);
        assert_eq!(cell("period_status"), status);
        assert_eq!(cell("row_type"), row["row_type"]);
        assert_eq!(cell("currency"), code);
        for l in &by {
            assert_eq!(cell(l), row["labels"][*l].as_str().unwrap(), "label {l}");
        }
        for f in FIGURES {
            match row[f].as_f64() {
                None => assert_eq!(cell(f), "", "{f}"),
                // The same double, up to serde_json's parsing (without its float_roundtrip
                // feature it may miss the nearest double by an ulp).
                Some(x) => {
                    let c: f64 = cell(f).parse().unwrap();
                    assert!(
                        (c - x).abs() <= 4.0 * f64::EPSILON * c.abs().max(x.abs()),
                        "{f}: CSV {c} vs JSON {x}"
                    );
                }
            }
        }
    }
}

/// The reconciliation, Parquet in overwrite mode: a tag, budget, principal and account (with its
/// name), on an export whose `/metrics` folds.
#[test]
fn every_column_reconciles_with_duckdb_where_metrics_fold() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    let f = fixture(SampleFormat::Parquet, SampleMode::Overwrite);
    // /metrics folds at this cap; the report's groups are exact regardless.
    let text = once(
        &f.export,
        &[
            "--config",
            f.config.to_str().unwrap(),
            "--progress",
            "never",
        ],
    );
    let folded = value(
        &parse_exposition(&text),
        "bedrock_exporter_folded_series",
        &[],
    )
    .unwrap();
    assert!(folded > 10.0, "the fixture must fold /metrics: {folded}");
    for by in ["tag_team", "budget", "principal", "account_id,model"] {
        let labels: Vec<&str> = by.split(',').collect();
        // Default period: the last closed month as of `now` (2026-10).
        let ours = f.json(&["--by", by]);
        assert_eq!(ours["billing_period"], "2026-10");
        assert_eq!(ours["previous_billing_period"], "2026-09");
        assert_eq!(ours["closed"], true);
        let reference = f.reference("2026-10", by);
        assert_matches(&ours, &reference, &labels);
        let (csv, _) = f.report("csv", &["--by", by]);
        assert_csv_equals_json(&csv, &ours);
    }
    // More principals than the cap keeps: each is exact in the report.
    let principals = f.json(&["--by", "principal"]);
    let rows = principals["currencies"][0]["rows"].as_array().unwrap();
    assert!(rows.len() > 40, "{} principals", rows.len());
    // Budgets: each on its basis, the unmatched spend, the overlap said.
    let budgets = f.json(&["--by", "budget"]);
    let usd = &budgets["currencies"][0];
    let row = |name: &str| {
        usd["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["labels"]["budget"] == name)
            .unwrap_or_else(|| panic!("no row for budget {name}"))
    };
    assert_eq!(row("ds")["budget"]["cost_basis"], "net_cost");
    assert_eq!(row("ds")["budget"]["spend"], row("ds")["net_cost"]);
    assert_eq!(row("claude")["budget"]["spend"], row("claude")["cost"]);
    assert!(row("__none__")["budget"].is_null());
    assert!(
        usd["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["labels"]["budget"] != "nobody"),
        "a budget without spend has no row"
    );
    let overlap = &usd["overlap"];
    assert!(overlap["rows_cost"].as_f64().unwrap() > overlap["total"].as_f64().unwrap());
    assert!(
        budgets["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("budgets overlap")),
        "{}",
        budgets["notes"]
    );
}

/// The same in gzip CSV, create-new mode (older executions are never read), on the open month.
#[test]
fn csv_gz_create_new_and_an_open_month_reconcile_too() {
    if missing(&[Need::DuckDb]) {
        return;
    }
    let f = fixture(SampleFormat::CsvGz, SampleMode::CreateNew);
    for by in ["tag_team,direction", "budget"] {
        let labels: Vec<&str> = by.split(',').collect();
        let ours = f.json(&["--by", by, "--period", "2026-11"]);
        assert_eq!(ours["closed"], false);
        assert_eq!(ours["invoice"]["status"], "open");
        assert_matches(&ours, &f.reference("2026-11", by), &labels);
    }
}

#[test]
fn invoiced_or_open_and_the_execution_read_are_said() {
    let f = fixture(SampleFormat::Parquet, SampleMode::CreateNew);
    let (_, stderr) = f.report("csv", &["--by", "model"]);
    assert!(
        stderr.contains("2026-10 is invoiced")
            && stderr.contains("2026100001")
            && stderr.contains("these figures are final"),
        "{stderr}"
    );
    let live = |period: &str| {
        let dir = f.export.join(format!("metadata/BILLING_PERIOD={period}"));
        let mut folders: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        folders.sort();
        folders.pop().unwrap()
    };
    // The newest execution of each period, by its folder, is named.
    let json = f.json(&["--by", "model"]);
    let sources = json["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    for (s, period) in sources.iter().zip(["2026-10", "2026-09"]) {
        assert_eq!(s["billing_period"], period);
        let folder = live(period);
        assert!(
            s["manifest"].as_str().unwrap().contains(&folder),
            "{s} vs {folder}"
        );
        assert!(folder.ends_with(s["execution_id"].as_str().unwrap()), "{s}");
        assert!(stderr.contains(s["execution_id"].as_str().unwrap()));
    }
    // The open month: not invoiced, month to date; CSV says it in every row.
    let (csv, stderr) = f.report("csv", &["--by", "model", "--period", "2026-11"]);
    assert!(
        stderr.contains("2026-11 is not invoiced yet") && stderr.contains("month to date"),
        "{stderr}"
    );
    let text = String::from_utf8(csv).unwrap();
    assert!(
        text.lines().skip(1).all(|l| l.starts_with("2026-11,open,")),
        "{text}"
    );
    // The first month: nothing to compare with.
    let json = f.json(&["--by", "model", "--period", "2026-09"]);
    assert!(json["currencies"][0]["total"]["previous_cost"].is_null());
    assert!(
        json["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("no export holds 2026-08")),
        "{}",
        json["notes"]
    );
}

#[test]
fn top_folds_into_other_and_the_total_stays_the_bedrock_total() {
    let f = fixture(SampleFormat::Parquet, SampleMode::Overwrite);
    let all = f.json(&["--by", "principal"]);
    let top = f.json(&["--by", "principal", "--top", "5"]);
    let (all, top) = (&all["currencies"][0], &top["currencies"][0]);
    let rows = top["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(&rows[..5], &all["rows"].as_array().unwrap()[..5]);
    let other = &rows[5];
    assert_eq!(other["row_type"], "other");
    assert_eq!(other["labels"]["principal"], "__other__");
    let rest: f64 = all["rows"].as_array().unwrap()[5..]
        .iter()
        .map(|r| r["cost"].as_f64().unwrap())
        .sum();
    assert!(close(other["cost"].as_f64().unwrap(), rest, 1e-9));
    assert_eq!(top["total"], all["total"]);
    assert_eq!(top["total"]["labels"]["principal"], "TOTAL");
    assert_eq!(top["total"]["share"], 1.0);
}

#[test]
fn html_is_one_self_contained_file_a_strict_html5_parser_accepts() {
    if missing(&[Need::Html5lib]) {
        return;
    }
    let f = fixture(SampleFormat::Parquet, SampleMode::Overwrite);
    for args in [
        vec!["--by", "tag_team"],
        vec!["--by", "budget,account_id", "--top", "4"],
        vec!["--by", "principal", "--period", "2026-11"],
    ] {
        let (html, _) = f.report("html", &args);
        let path = f.out.join("check.html");
        std::fs::write(&path, &html).unwrap();
        let out = Command::new(python())
            .arg(repo().join("tests/reference/check_report_html.py"))
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
        let json = f.json(&args);
        let currencies = json["currencies"].as_array().unwrap();
        assert_eq!(seen["charts"].as_u64().unwrap() as usize, currencies.len());
        let tables = seen["tables"].as_array().unwrap();
        assert_eq!(tables.len(), currencies.len());
        for (t, c) in tables.iter().zip(currencies) {
            let rows = t["rows"].as_array().unwrap();
            assert_eq!(rows.len(), c["rows"].as_array().unwrap().len() + 1);
            assert_eq!(rows.last().unwrap()["class"], "total");
            let headers: Vec<&str> = t["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap())
                .collect();
            assert!(headers.ends_with(&FIGURES), "{headers:?}");
        }
        let status = json["invoice"]["status"].as_str().unwrap();
        assert_eq!(seen["status"][0], status);
        assert!(seen["bars"][0].as_u64().unwrap() > 0);
    }
    // A strict parser does reject what is broken: the checker is not a rubber stamp.
    let broken = f.out.join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><head><title>x</title></head><body><p>a</b></body></html>",
    )
    .unwrap();
    let external = f.out.join("external.html");
    std::fs::write(
        &external,
        "<!DOCTYPE html><html><head><title>x</title><style>@media print {}</style></head><body><img src=\"https://example.com/x.png\" alt=\"\"></body></html>",
    )
    .unwrap();
    for bad in [broken, external] {
        let out = Command::new(python())
            .arg(repo().join("tests/reference/check_report_html.py"))
            .arg(&bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} passed the check", bad.display());
    }
}

/// check-jsonschema, from the test environment (scripts/deps/requirements.lock).
fn check_jsonschema(schema: &Path, doc: &Path) -> Output {
    Command::new(python().with_file_name("check-jsonschema"))
        .arg("--schemafile")
        .arg(schema)
        .arg(doc)
        .output()
        .expect("run check-jsonschema")
}

#[test]
fn json_validates_against_the_documented_schema() {
    if missing(&[Need::Venv]) {
        return;
    }
    let f = fixture(SampleFormat::Parquet, SampleMode::Overwrite);
    let schema = repo().join("docs/src/report.schema.json");
    for args in [
        vec!["--by", "tag_team"],
        vec!["--by", "budget,account_id", "--top", "3"],
        vec!["--by", "model", "--period", "2026-11"],
        vec!["--by", "principal", "--period", "2026-09"],
    ] {
        let (bytes, _) = f.report("json", &args);
        let path = f.out.join("report.json");
        std::fs::write(&path, &bytes).unwrap();
        let out = check_jsonschema(&schema, &path);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The schema holds something: a report missing a figure, or with a stray one, fails.
    let (bytes, _) = f.report("json", &["--by", "tag_team"]);
    let good: Value = serde_json::from_slice(&bytes).unwrap();
    let mut no_cost = good.clone();
    no_cost["currencies"][0]["rows"][0]
        .as_object_mut()
        .unwrap()
        .remove("cost");
    let mut stray = good.clone();
    stray["currencies"][0]["total"]["costs"] = Value::from(1.0);
    let mut bad_status = good;
    bad_status["invoice"]["status"] = Value::from("final");
    for (what, doc) in [
        ("no cost", no_cost),
        ("stray key", stray),
        ("bad status", bad_status),
    ] {
        let path = f.out.join("bad.json");
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert!(
            !check_jsonschema(&schema, &path).status.success(),
            "{what}: the schema accepted it"
        );
    }
}

#[test]
fn markdown_for_a_ticket() {
    let f = fixture(SampleFormat::Parquet, SampleMode::Overwrite);
    let (md, _) = f.report("markdown", &["--by", "tag_team", "--top", "3"]);
    let md = String::from_utf8(md).unwrap();
    assert!(
        md.starts_with("# Amazon Bedrock costs, 2026-10, by tag\\_team\n"),
        "{md}"
    );
    assert!(md.contains("**invoiced**"), "{md}");
    assert!(md.contains("## USD"));
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    // Header, alignment, 3 groups, __other__, TOTAL.
    assert_eq!(table.len(), 7, "{md}");
    assert!(table[1].contains("---:"));
    assert!(
        table[5].starts_with("| \\_\\_other\\_\\_ |"),
        "{}",
        table[5]
    );
    assert!(table[6].starts_with("| **TOTAL** |"), "{}", table[6]);
    let columns = table[0].matches(" | ").count() + 1;
    assert!(
        table
            .iter()
            .all(|l| l.matches(" | ").count() + 1 == columns || l.starts_with("|---"))
    );
}

#[test]
fn errors_say_what_to_do() {
    let f = fixture(SampleFormat::Parquet, SampleMode::Overwrite);
    let err = |args: &[&str]| {
        let out = f.run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = err(&["--by", "tag_taem"]);
    assert!(e.contains("tag_taem") && e.contains("tag_team"), "{e}");
    let e = err(&["--by", "billing_period"]);
    assert!(e.contains("--period"), "{e}");
    let e = err(&["--by", "model", "--period", "2025-01"]);
    assert!(
        e.contains("2025-01") && e.contains("2026-09, 2026-10, 2026-11"),
        "{e}"
    );
    let e = err(&["--by", "model", "--period", "2026-13"]);
    assert!(e.contains("YYYY-MM"), "{e}");
    let e = err(&["--by", "model", "--top", "0"]);
    assert!(e.contains("--top"), "{e}");
    let e = err(&["--period", "2026-10"]);
    assert!(e.contains("--by"), "{e}");
    let e = err(&[
        "--by",
        "model",
        "--out",
        f.out.join("missing/dir/r.csv").to_str().unwrap(),
    ]);
    assert!(e.contains("missing/dir/r.csv"), "{e}");
    // Without budgets configured, --by budget says where they go.
    let plain = f.out.join("plain.toml");
    std::fs::write(&plain, format!("now = \"{NOW}\"\n")).unwrap();
    let out = run(&[
        "--config",
        plain.to_str().unwrap(),
        "--source",
        f.export.to_str().unwrap(),
        "report",
        "--by",
        "budget",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[[budgets]]"));
}

#[test]
fn out_names_the_period_and_is_written_whole() {
    let f = fixture(SampleFormat::Parquet, SampleMode::Overwrite);
    let pattern = f.out.join("bedrock-{period}.csv");
    let out = f.run(&["--by", "model", "--out", pattern.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = f.out.join("bedrock-2026-10.csv");
    assert!(written.is_file());
    let names: Vec<String> = std::fs::read_dir(&f.out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".tmp")),
        "no temporary file left: {names:?}"
    );
    // Without --out, stdout.
    let out = f.run(&["--by", "model"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&written).unwrap());
}

#[test]
fn help_lists_the_flags_and_the_columns() {
    let out = run(&["report", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--period",
        "--by",
        "--format",
        "--top",
        "--out",
        "csv",
        "markdown",
        "html",
        "json",
        "cost_per_million_tokens",
        "{period}",
        "budget",
    ] {
        assert!(help.contains(word), "report --help lacks {word}:\n{help}");
    }
    let out = run(&["--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("report"));
}

/// The chart's optional CronJob: off by default; on, one container per report with the chart's
/// configuration, writing to the volume at /reports, or init containers and an S3 upload under a
/// service account of its own; valid Kubernetes (kubernetes-validate --strict); incomplete values
/// refused with what to set.
#[test]
fn the_chart_runs_the_report_monthly_when_asked() {
    if missing(&[Need::Venv, Need::Helm]) {
        return;
    }
    let helm = repo().join(".tools/bin/helm");
    let chart = repo().join("deploy/helm/bedrock-cost-exporter");
    let dir = tempfile::tempdir().unwrap();
    let template = |args: &[&str]| -> (bool, String) {
        let mut all = vec![
            "template",
            "finops",
            chart.to_str().unwrap(),
            "--set",
            "source=s3://billing/cur/cur2",
        ];
        all.extend_from_slice(args);
        let out = Command::new(&helm).args(&all).output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, text) = template(&[]);
    assert!(ok, "{text}");
    assert!(!text.contains("kind: CronJob"), "off by default");
    let validate = |name: &str, text: &str| {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        let out = Command::new(python().with_file_name("kubernetes-validate"))
            .args(["--strict", "--quiet"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let cronjob = |text: &str| -> serde_json::Value {
        let doc = text
            .split("\n---")
            .find(|d| d.contains("kind: CronJob"))
            .expect("a CronJob");
        serde_norway::from_str(doc).unwrap()
    };
    let (ok, text) = template(&[
        "--set",
        "report.enabled=true",
        "--set",
        "report.volume.persistentVolumeClaim.claimName=bedrock-cost-reports",
        "--set",
        "aws.region=us-east-1",
    ]);
    assert!(ok, "{text}");
    validate("volume.yaml", &text);
    let cj = cronjob(&text);
    assert_eq!(cj["spec"]["schedule"], "0 6 3 * *");
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2, "one per default report");
    let args: Vec<&str> = containers[0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "--config",
            "/etc/bedrock-cost-exporter/config.toml",
            "report",
            "--by",
            "tag_team",
            "--format",
            "html",
            "--out",
            "/reports/bedrock-{period}-by-team.html"
        ]
    );
    assert_eq!(pod["serviceAccountName"], "bedrock-cost-exporter");
    assert!(pod.get("initContainers").is_none());
    let volumes = pod["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["name"] == "reports"
        && v["persistentVolumeClaim"]["claimName"] == "bedrock-cost-reports"));

    // Upload: the reports first, then the AWS CLI copies them, as the job's own account.
    let (ok, text) = template(&[
        "--set",
        "report.enabled=true",
        "--set",
        "report.upload.enabled=true",
        "--set",
        "report.upload.destination=s3://reports-bucket/bedrock/",
        "--set",
        "report.serviceAccountName=bedrock-cost-report",
        "--set",
        "report.reports[0].by={budget,account_id}",
        "--set",
        "report.reports[0].format=csv",
        "--set",
        "report.reports[0].top=20",
        "--set",
        "report.reports[0].file=bedrock-{period}.csv",
    ]);
    assert!(ok, "{text}");
    validate("upload.yaml", &text);
    let cj = cronjob(&text);
    let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "bedrock-cost-report");
    let init = pod["initContainers"].as_array().unwrap();
    assert_eq!(init.len(), 1);
    let args = init[0]["args"].to_string();
    assert!(
        args.contains(r#""--by","budget,account_id","--format","csv","--out","/reports/bedrock-{period}.csv","--top","20""#),
        "{args}"
    );
    let upload = &pod["containers"][0];
    assert_eq!(upload["name"], "upload");
    assert!(
        upload["args"]
            .to_string()
            .contains("s3://reports-bucket/bedrock/"),
        "{upload}"
    );

    // Incomplete values say what to set.
    for (args, want) in [
        (vec!["--set", "report.enabled=true"], "report.volume"),
        (
            vec![
                "--set",
                "report.enabled=true",
                "--set",
                "report.upload.enabled=true",
            ],
            "destination",
        ),
        (
            vec![
                "--set",
                "report.reports[0].format=pdf",
                "--set",
                "report.enabled=true",
            ],
            "format",
        ),
    ] {
        let (ok, text) = template(&args);
        assert!(!ok, "{args:?} rendered");
        assert!(text.contains(want), "{args:?}: {text}");
    }
    // The upload policy is apart from the read-only one, and writes only.
    let read_only = std::fs::read_to_string(repo().join("deploy/iam-policy.json")).unwrap();
    assert!(!read_only.contains("PutObject"));
    let upload: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/iam-policy-report-upload.json")).unwrap(),
    )
    .unwrap();
    let actions: Vec<&Value> = upload["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["Action"])
        .collect();
    assert_eq!(actions, [&Value::from("s3:PutObject")]);
}
