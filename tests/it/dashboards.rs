//! The Grafana dashboards (`grafana/dashboards/*.json`): the rules of Grafana's dashboard-linter
//! that apply here (written out below; the linter itself is not installable), the JSON schema
//! generated from `@grafana/schema`'s `Dashboard` type (node, `grafana/tools/validate.mjs`), and every
//! panel and variable query run against a real Prometheus that scraped the daemon and evaluated the
//! shipped rules: each must return data, and a failure names the dashboard and the panel.
//! Broken dashboards prove that every check can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self as promql, Expr};
use serde_json::{Value, json};

use crate::util::*;

pub const DIR: &str = "grafana/dashboards";
const TAG: &str = "bedrock-cost-exporter";
const SCHEMA_VERSION: u64 = 42;
const DS_UID: &str = "${datasource}";
/// Grafana unit ids used or plausible here (grafana-data valueFormats/categories.ts), plus the
/// custom forms `count:`, `suffix:`, `prefix:`, `currency:`, `si:`.
const UNITS: &[&str] = &[
    "currencyUSD",
    "currencyEUR",
    "percentunit",
    "percent",
    "short",
    "none",
    "s",
    "ms",
    "dtdurations",
    "bytes",
    "decbytes",
    "dateTimeAsIso",
    "dateTimeFromNow",
];
const CUSTOM_UNITS: &[&str] = &["count:", "suffix:", "prefix:", "currency:", "si:"];
const PANEL_TYPES: &[&str] = &[
    "stat",
    "bargauge",
    "gauge",
    "timeseries",
    "table",
    "piechart",
    "text",
];
/// Functions whose matrix argument may be a counter (`_total`).
const COUNTER_FUNCS: &[&str] = &["rate", "irate", "increase"];
/// What `$__rate_interval` becomes in the lint, to recognise it in parsed ranges.
const RATE_INTERVAL_SENTINEL: &str = "4242s";

/// The dashboards as (file name, JSON).
pub fn load() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(repo().join(DIR)).expect("grafana/dashboards") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Panels with rows flattened (rows themselves left out).
pub fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        if p["type"] == "row" {
            out.extend(p["panels"].as_array().into_iter().flatten());
        } else {
            out.push(p);
        }
    }
    out
}

pub fn variables(d: &Value) -> Vec<&Value> {
    d["templating"]["list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default()
}

/// The query text of a variable (a string, or `{"query": …}` as Grafana 10+ saves it).
pub fn var_query(v: &Value) -> Option<String> {
    match &v["query"] {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("query").and_then(Value::as_str).map(String::from),
        _ => None,
    }
}

/// Replaces `$name` and `${name}` (and `${name:format}`) with `value(name)`; names `value`
/// returns None for are left as they are.
pub fn interpolate(expr: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(j) => (b[..j].split(':').next().unwrap().to_string(), j + 2),
                None => (String::new(), 0),
            }
        } else {
            let n: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let l = n.len();
            (n, l)
        };
        match (len > 0).then(|| value(&name)).flatten() {
            Some(v) => {
                out.push_str(&v);
                rest = &after[len..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Grafana's regex escaping of a multi-value Prometheus variable value (inside a PromQL string,
/// so a regex backslash is written twice).
pub fn regex_escape(v: &str) -> String {
    let mut s = String::new();
    for c in v.chars() {
        if c == '\\' {
            s.push_str("\\\\\\\\");
        } else if "$^*{}[]'+?.()|".contains(c) {
            s.push_str("\\\\");
            s.push(c);
        } else if c == '"' {
            s.push_str("\\\"");
        } else {
            s.push(c);
        }
    }
    s
}

/// One vector selector in a parsed query, with the function whose argument it is.
struct Selector {
    name: String,
    matchers: Vec<(String, String, String)>,
    func: Option<&'static str>,
    range: Option<Duration>,
}

fn selectors(e: &Expr, func: Option<&'static str>, out: &mut Vec<Selector>) {
    let push = |vs: &promql_parser::parser::VectorSelector,
                range: Option<Duration>,
                out: &mut Vec<Selector>| {
        let mut name = vs.name.clone().unwrap_or_default();
        let matchers = vs
            .matchers
            .matchers
            .iter()
            .filter_map(|m| {
                if m.name == "__name__" {
                    name = m.value.clone();
                    return None;
                }
                let op = match &m.op {
                    MatchOp::Equal => "=",
                    MatchOp::NotEqual => "!=",
                    MatchOp::Re(_) => "=~",
                    MatchOp::NotRe(_) => "!~",
                };
                Some((m.name.clone(), op.to_string(), m.value.clone()))
            })
            .collect();
        out.push(Selector {
            name,
            matchers,
            func,
            range,
        });
    };
    match e {
        Expr::Aggregate(a) => {
            selectors(&a.expr, None, out);
            if let Some(p) = &a.param {
                selectors(p, None, out);
            }
        }
        Expr::Unary(u) => selectors(&u.expr, None, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, None, out);
            selectors(&b.rhs, None, out);
        }
        Expr::Paren(p) => selectors(&p.expr, None, out),
        Expr::Subquery(s) => selectors(&s.expr, None, out),
        Expr::VectorSelector(v) => push(v, None, out),
        Expr::MatrixSelector(m) => push(&m.vs, Some(m.range), out),
        Expr::Call(c) => {
            for a in &c.args.args {
                selectors(a, Some(c.func.name), out);
            }
        }
        _ => {}
    }
}

/// What each variable becomes in the lint: a sentinel that parses and can be recognised.
fn lint_value(name: &str) -> Option<String> {
    match name {
        "__rate_interval" => Some(RATE_INTERVAL_SENTINEL.into()),
        "__range" | "__interval" => Some("1h".into()),
        n if n.starts_with("__") => None,
        n => Some(format!("__var_{n}__")),
    }
}

/// The dashboard-linter rules that apply here. Every finding starts with the rule's name.
pub fn lint(file: &str, d: &Value, known_uids: &BTreeSet<String>) -> Vec<String> {
    let mut bad = Vec::new();
    let mut say = |rule: &str, what: String| bad.push(format!("{rule}: {file}: {what}"));

    // Dashboard.
    if d["uid"].as_str().is_none_or(str::is_empty) || d["title"].as_str().is_none_or(str::is_empty)
    {
        say("dashboard-uid-title", "no uid or title".into());
    }
    if d["schemaVersion"].as_u64() != Some(SCHEMA_VERSION) {
        say(
            "dashboard-schema-version",
            format!(
                "schemaVersion {} (want {SCHEMA_VERSION})",
                d["schemaVersion"]
            ),
        );
    }
    if d["editable"] != json!(false) {
        say(
            "uneditable-dashboard",
            "provisioned dashboards must have editable: false".into(),
        );
    }
    if !d["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == TAG))
    {
        say("dashboard-links", format!("no tag {TAG:?}"));
    }
    if !d["links"].as_array().is_some_and(|l| {
        l.iter()
            .any(|x| x["type"] == "dashboards" && x["tags"] == json!([TAG]))
    }) {
        say(
            "dashboard-links",
            format!("no link to the dashboards tagged {TAG:?}"),
        );
    }

    // Variables.
    let vars = variables(d);
    let names: Vec<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
    match vars.iter().find(|v| v["type"] == "datasource") {
        Some(v) if v["name"] == "datasource" && v["query"] == "prometheus" => {}
        _ => say(
            "template-datasource",
            "no variable `datasource` of type datasource for prometheus".into(),
        ),
    }
    match vars.iter().find(|v| v["name"] == "job") {
        Some(v) if v["type"] == "query" && v["multi"] == true && v["includeAll"] == true => {}
        _ => say(
            "template-job",
            "no multi-value `job` query variable with All".into(),
        ),
    }
    let mut defined: Vec<&str> = Vec::new();
    for v in &vars {
        let name = v["name"].as_str().unwrap_or("?");
        if v["type"] == "query" {
            if v["datasource"]["uid"] != DS_UID {
                say(
                    "template-datasource",
                    format!("variable {name}: datasource is not {DS_UID}"),
                );
            }
            if v["refresh"] != 2 {
                say(
                    "template-on-time-change-reload",
                    format!("variable {name}: refresh must be 2 (on time range change)"),
                );
            }
            if name != "billing_period"
                && (v["multi"] != true || v["includeAll"] != true || v["allValue"] != ".*")
            {
                say(
                    "template-multi-all",
                    format!("variable {name}: must be multi-value with All (allValue \".*\")"),
                );
            }
            let q = var_query(v).unwrap_or_default();
            let used = referenced(&q);
            for u in &used {
                if !defined.contains(&u.as_str()) {
                    say(
                        "template-label-promql",
                        format!("variable {name}: uses ${u}, not defined before it"),
                    );
                }
            }
            match q
                .strip_prefix("label_values(")
                .and_then(|x| x.strip_suffix(')'))
                .and_then(|x| x.rsplit_once(','))
            {
                Some((selector, label)) => {
                    let label = label.trim();
                    let ok_label = !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    let parsed = promql::parse(&interpolate(selector, &lint_value));
                    if !ok_label || !matches!(parsed, Ok(Expr::VectorSelector(_))) {
                        say(
                            "template-label-promql",
                            format!("variable {name}: bad label_values query {q:?}: {parsed:?}"),
                        );
                    }
                }
                None => say(
                    "template-label-promql",
                    format!("variable {name}: not label_values(selector, label): {q:?}"),
                ),
            }
        }
        defined.push(name);
    }
    let has_instance = names.contains(&"instance");

    // Panels.
    let mut ids = BTreeSet::new();
    for p in panels(d) {
        let title = p["title"].as_str().unwrap_or("").to_string();
        let at = format!("panel {title:?}");
        if !ids.insert(p["id"].to_string()) {
            say("panel-id", format!("{at}: duplicate id {}", p["id"]));
        }
        if title.is_empty()
            || p["description"]
                .as_str()
                .is_none_or(|s| s.trim().is_empty())
        {
            say(
                "panel-title-description",
                format!("{at}: needs a title and a description"),
            );
        }
        let ptype = p["type"].as_str().unwrap_or("");
        if !PANEL_TYPES.contains(&ptype) {
            say("panel-type", format!("{at}: unknown type {ptype:?}"));
        }
        for link in p["fieldConfig"]["defaults"]["links"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                p["fieldConfig"]["overrides"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|o| o["properties"].as_array().into_iter().flatten())
                    .filter(|x| x["id"] == "links")
                    .flat_map(|x| x["value"].as_array().into_iter().flatten()),
            )
        {
            let url = link["url"].as_str().unwrap_or("");
            let uid = url
                .strip_prefix("/d/")
                .and_then(|u| u.split('/').next())
                .unwrap_or("");
            if !known_uids.contains(uid) {
                say(
                    "panel-links",
                    format!("{at}: link {url:?} to no known dashboard"),
                );
            }
        }
        if ptype == "text" {
            continue;
        }
        if p["datasource"]["uid"] != DS_UID {
            say(
                "panel-datasource",
                format!("{at}: datasource must be {DS_UID}, is {}", p["datasource"]),
            );
        }
        let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
        if !(UNITS.contains(&unit) || CUSTOM_UNITS.iter().any(|c| unit.starts_with(c))) {
            say("panel-units", format!("{at}: unit {unit:?} is not valid"));
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            say("panel-no-targets", format!("{at}: no targets"));
        }
        for t in &targets {
            let expr = t["expr"].as_str().unwrap_or("");
            let at = format!("{at} target {}", t["refId"]);
            if t["datasource"]["uid"] != DS_UID {
                say(
                    "panel-datasource",
                    format!("{at}: datasource must be {DS_UID}"),
                );
            }
            for u in referenced(expr) {
                if !u.starts_with("__") && !names.contains(&u.as_str()) {
                    say("target-variables", format!("{at}: ${u} is not a variable"));
                }
            }
            let parsed = match promql::parse(&interpolate(expr, &lint_value)) {
                Ok(e) => e,
                Err(e) => {
                    say("target-promql", format!("{at}: does not parse: {e}"));
                    continue;
                }
            };
            let mut sels = Vec::new();
            selectors(&parsed, None, &mut sels);
            for s in &sels {
                let counter = s.name.ends_with("_total");
                if counter
                    && !(s.range.is_some() && s.func.is_some_and(|f| COUNTER_FUNCS.contains(&f)))
                {
                    say(
                        "target-counter-agg",
                        format!("{at}: counter {} outside rate/irate/increase", s.name),
                    );
                }
                if !counter
                    && s.func
                        .is_some_and(|f| COUNTER_FUNCS.contains(&f) || f == "deriv")
                {
                    say(
                        "target-gauge-rate",
                        format!(
                            "{at}: {}() of the gauge {}: period-to-date values are read as they are",
                            s.func.unwrap(),
                            s.name
                        ),
                    );
                }
                // The exporter is scraped every 2 minutes (the shipped interval): a window of its
                // counters must hold two scrapes whatever the datasource's scrape interval says,
                // which $__rate_interval follows (15 s by default: an empty increase()).
                if s.func == Some("increase")
                    && s.name.starts_with("bedrock_exporter_")
                    && s.range.is_some_and(|r| {
                        r == Duration::from_secs(4242) || r < Duration::from_secs(240)
                    })
                {
                    say(
                        "target-counter-window",
                        format!(
                            "{at}: increase() of {} over less than two 2-minute scrapes (or $__rate_interval)",
                            s.name
                        ),
                    );
                }
                if matches!(s.func, Some("rate" | "irate"))
                    && s.range != Some(Duration::from_secs(4242))
                {
                    say(
                        "target-rate-interval",
                        format!(
                            "{at}: {}() of {} must use [$__rate_interval]",
                            s.func.unwrap(),
                            s.name
                        ),
                    );
                }
                let has = |label: &str| {
                    s.matchers.iter().any(|(n, op, v)| {
                        n == label && op == "=~" && *v == format!("__var_{label}__")
                    })
                };
                let raw = !s.name.contains(':') && s.name != "ALERTS";
                if raw && !has("job") {
                    say(
                        "target-job",
                        format!("{at}: {} without job=~\"$job\"", s.name),
                    );
                }
                if raw
                    && has_instance
                    && (s.name.starts_with("bedrock_exporter_") || s.name == "up")
                    && !has("instance")
                {
                    say(
                        "target-instance",
                        format!("{at}: {} without instance=~\"$instance\"", s.name),
                    );
                }
            }
        }
    }
    bad
}

/// Variables a query refers to (`$x`, `${x}`).
fn referenced(q: &str) -> Vec<String> {
    let found = std::cell::RefCell::new(Vec::new());
    interpolate(q, &|n| {
        found.borrow_mut().push(n.to_string());
        None
    });
    found.into_inner()
}

fn uids(boards: &[(String, Value)]) -> BTreeSet<String> {
    boards
        .iter()
        .filter_map(|(_, d)| d["uid"].as_str().map(String::from))
        .collect()
}

#[test]
fn the_dashboards_pass_the_lint_rules() {
    let boards = load();
    let names: Vec<&str> = boards.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "bedrock-budgets.json",
            "bedrock-exporter-health.json",
            "bedrock-models.json",
            "bedrock-overview.json",
            "bedrock-principals.json"
        ],
        "the Helm chart copies these names (scripts/sync-chart.sh)"
    );
    let known = uids(&boards);
    let mut bad = Vec::new();
    for (f, d) in &boards {
        bad.extend(lint(f, d, &known));
        assert!(panels(d).len() >= 6, "{f}: only {} panels", panels(d).len());
    }
    assert!(bad.is_empty(), "lint findings:\n{}", bad.join("\n"));
}

/// A copy of the Overview with one mistake per rule; every rule must report it.
fn broken_overview() -> Value {
    let (_, mut d) = load()
        .into_iter()
        .find(|(f, _)| f == "bedrock-overview.json")
        .unwrap();
    d["editable"] = json!(true);
    d["schemaVersion"] = json!(36);
    d["links"] = json!([]);
    let vars = d["templating"]["list"].as_array_mut().unwrap();
    vars.retain(|v| v["name"] != "job" && v["type"] != "datasource");
    let model = vars.iter_mut().find(|v| v["name"] == "model").unwrap();
    model["refresh"] = json!(1);
    model["query"] = json!("label_values(bedrock_cost_usd{model=~\"(\"}, model)");
    let mut ps: Vec<Value> = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        if p["type"] != "row" {
            ps.push(p.clone());
        }
    }
    let t = |e: &str| json!([{"refId": "A", "expr": e, "datasource": {"type": "prometheus", "uid": "${datasource}"}}]);
    ps[0]["datasource"] = json!({"type": "prometheus", "uid": "P1809F7CD0C75ACF3"});
    ps[1]["description"] = json!("");
    ps[2]["fieldConfig"]["defaults"]["unit"] = json!("dollars");
    ps[3]["targets"] = json!([]);
    ps[4]["targets"] = t("sum(bedrock_cost_usd{job=~\"$job\"}");
    ps[5]["targets"] = t("sum(bedrock_exporter_rows_read_total{job=~\"$job\"})");
    ps[6]["targets"] = t("sum(rate(bedrock_exporter_rows_read_total{job=~\"$job\"}[5m]))");
    ps[7]["targets"] = t("sum(bedrock_cost_usd{billing_period=\"$billing_period\"})");
    ps[8]["targets"] = t("sum(bedrock_cost_usd{job=~\"$job\", team=~\"$tema\"})");
    ps[9]["fieldConfig"]["defaults"]["links"] =
        json!([{"title": "gone", "url": "/d/no-such-dashboard/x"}]);
    ps[10]["targets"] = t("sum(rate(bedrock_cost_usd{job=~\"$job\"}[$__rate_interval]))");
    ps[11]["targets"] =
        t("sum(increase(bedrock_exporter_errors_total{job=~\"$job\"}[$__rate_interval]))");
    d["panels"] = Value::Array(ps);
    d
}

#[test]
fn a_broken_dashboard_fails_every_lint_rule() {
    let boards = load();
    let bad = lint("broken.json", &broken_overview(), &uids(&boards));
    for rule in [
        "uneditable-dashboard",
        "dashboard-schema-version",
        "dashboard-links",
        "template-datasource",
        "template-job",
        "template-on-time-change-reload",
        "template-label-promql",
        "panel-datasource",
        "panel-title-description",
        "panel-units",
        "panel-no-targets",
        "target-promql",
        "target-counter-agg",
        "target-rate-interval",
        "target-gauge-rate",
        "target-counter-window",
        "target-job",
        "target-variables",
        "panel-links",
    ] {
        assert!(
            bad.iter().any(|b| b.starts_with(&format!("{rule}: "))),
            "rule {rule} did not fire; findings:\n{}",
            bad.join("\n")
        );
    }
    // The exporter-health rule: a self-metric without the instance matcher.
    let (_, mut h) = load()
        .into_iter()
        .find(|(f, _)| f == "bedrock-exporter-health.json")
        .unwrap();
    let p = h["panels"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["type"] == "stat")
        .unwrap();
    p["targets"][0]["expr"] = json!("max(bedrock_exporter_series{job=~\"$job\"})");
    let bad = lint("broken-health.json", &h, &uids(&boards));
    assert!(
        bad.iter().any(|b| b.starts_with("target-instance: ")),
        "{bad:?}"
    );
}

/// The offline Grafana schema check: node + `grafana/tools` (installed by scripts/test.sh).
fn validate_schema(files: &[PathBuf]) -> (bool, String) {
    let tools = repo().join("grafana/tools");
    assert!(
        tools.join("node_modules/@grafana/schema").is_dir()
            && tools.join("node_modules/ts-json-schema-generator").is_dir(),
        "grafana/tools/node_modules missing: run ./scripts/test.sh (it runs `npm ci --prefix grafana/tools`)"
    );
    let out = Command::new("node")
        .arg(tools.join("validate.mjs"))
        .args(files)
        .output()
        .expect("node (Debian package nodejs; ./scripts/test.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_dashboards_match_the_schema_generated_from_grafana_schema() {
    if missing(&[Need::DashboardSchema]) {
        return;
    }
    let files: Vec<PathBuf> = load()
        .iter()
        .map(|(f, _)| repo().join(DIR).join(f))
        .collect();
    let (ok, text) = validate_schema(&files);
    assert!(ok, "schema check failed:\n{text}");
    assert!(
        text.contains("schema from @grafana/schema 13.2.3"),
        "{text}"
    );
    assert_eq!(text.matches("\nok ").count(), files.len(), "{text}");

    // Broken copies: each mistake is named.
    let dir = tempfile::tempdir().unwrap();
    let (_, good) = load().into_iter().next().unwrap();
    let mut cases = Vec::new();
    let mut d = good.clone();
    d.as_object_mut().unwrap().remove("schemaVersion");
    cases.push((d, "must have required property 'schemaVersion'"));
    let mut d = good.clone();
    d["panels"][1]["gridPos"]["w"] = json!("wide");
    cases.push((d, "/gridPos/w must be number"));
    let mut d = good.clone();
    d["panels"][1]["colour"] = json!("red");
    cases.push((d, "must NOT have additional properties"));
    let mut d = good.clone();
    d["templating"]["list"][1]["refresh"] = json!(5);
    cases.push((
        d,
        "/templating/list/1/refresh must be equal to one of the allowed values",
    ));
    for (i, (d, want)) in cases.into_iter().enumerate() {
        let f = dir.path().join(format!("broken-{i}.json"));
        std::fs::write(&f, serde_json::to_string_pretty(&d).unwrap()).unwrap();
        let (ok, text) = validate_schema(&[f]);
        assert!(!ok, "broken-{i} passed the schema check:\n{text}");
        assert!(text.contains(want), "broken-{i}: want {want:?} in:\n{text}");
    }
}

/// The dashboards come from the rules' parameter set (deploy/mixin/generate.py; alerting.rs shows
/// that the check fails on an edited copy).
#[test]
fn the_dashboards_are_what_the_generator_writes() {
    if missing(&[Need::Venv]) {
        return;
    }
    let (ok, text) = crate::alerting::generate(&["--check"]);
    assert!(ok, "{text}");
}

#[test]
fn the_provisioning_files_point_at_the_dashboards() {
    let ds = std::fs::read_to_string(
        repo().join("grafana/provisioning/datasources/bedrock-cost-exporter.yml"),
    )
    .unwrap();
    assert!(ds.contains("type: prometheus"), "{ds}");
    let prov = std::fs::read_to_string(
        repo().join("grafana/provisioning/dashboards/bedrock-cost-exporter.yml"),
    )
    .unwrap();
    assert!(
        prov.contains("type: file") && prov.contains("path: "),
        "{prov}"
    );
}

// ---------------------------------------------------------------------------------------------
// Every query on a real Prometheus.

/// Percent-encoding of a query-string value.
fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// GET on Prometheus' API: Ok(data) on success, Err(error text) otherwise.
fn api(prom: SocketAddr, path: &str) -> Result<Value, String> {
    let (status, _, body) = http_get(prom, path, None).map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}: {body}"))?;
    if v["status"] == "success" {
        Ok(v["data"].clone())
    } else {
        Err(format!("HTTP {status}: {}: {}", v["errorType"], v["error"]))
    }
}

/// The clock's instant as Prometheus API time (seconds).
fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs one panel target with Grafana's semantics: instant → /query, else /query_range over the
/// last `window` seconds.
fn run_target(prom: SocketAddr, expr: &str, instant: bool, window: f64) -> Result<Value, String> {
    let now = now_s();
    let path = if instant {
        format!("/api/v1/query?query={}&time={now:.3}", enc(expr))
    } else {
        format!(
            "/api/v1/query_range?query={}&start={:.3}&end={now:.3}&step=2",
            enc(expr),
            now - window
        )
    };
    api(prom, &path)
}

/// A `label_values(selector, label)` variable query, as Grafana runs it.
fn label_values(prom: SocketAddr, q: &str) -> Result<Vec<String>, String> {
    let (selector, label) = q
        .strip_prefix("label_values(")
        .and_then(|x| x.strip_suffix(')'))
        .and_then(|x| x.rsplit_once(','))
        .ok_or_else(|| format!("not label_values: {q}"))?;
    let now = now_s();
    let data = api(
        prom,
        &format!(
            "/api/v1/label/{}/values?match[]={}&start={:.0}&end={now:.0}",
            label.trim(),
            enc(selector.trim()),
            now - 3600.0
        ),
    )?;
    Ok(data
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .filter(|v| !v.is_empty())
        .collect())
}

/// What a variable is set to.
#[derive(Clone, Debug)]
enum Pick {
    All,
    Values(Vec<String>),
}

/// Grafana's text for a variable in a Prometheus query.
fn format_pick(var: &Value, pick: &Pick) -> String {
    match pick {
        Pick::All => var["allValue"].as_str().unwrap_or(".*").to_string(),
        Pick::Values(vs) if var["multi"] == true || var["includeAll"] == true => {
            let e: Vec<String> = vs.iter().map(|v| regex_escape(v)).collect();
            if e.len() == 1 {
                e[0].clone()
            } else {
                format!("({})", e.join("|"))
            }
        }
        Pick::Values(vs) => vs[0].replace('\\', "\\\\").replace('"', "\\\""),
    }
}

const RATE_INTERVAL: &str = "1m";
const RANGE: &str = "1h";

fn expand(expr: &str, vars: &[&Value], picks: &BTreeMap<String, Pick>) -> String {
    interpolate(expr, &|name| match name {
        "__rate_interval" => Some(RATE_INTERVAL.into()),
        "__range" => Some(RANGE.into()),
        "__interval" => Some("15s".into()),
        n => {
            let v = vars.iter().find(|v| v["name"] == n)?;
            picks.get(n).map(|p| format_pick(v, p))
        }
    })
}

/// A dashboard's variables resolved against Prometheus.
struct Resolved {
    /// What each variable is set to by default.
    picks: BTreeMap<String, Pick>,
    /// Every value each query variable offers.
    values: BTreeMap<String, Vec<String>>,
    /// Variable queries that failed or returned nothing.
    problems: Vec<String>,
}

/// Resolves a dashboard's variables in order (defaults: All, or the first value in the
/// variable's sort order for single-value ones).
fn resolve_variables(prom: SocketAddr, file: &str, d: &Value) -> Resolved {
    let vars = variables(d);
    let mut picks = BTreeMap::new();
    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for v in &vars {
        let name = v["name"].as_str().unwrap().to_string();
        if v["type"] != "query" {
            continue;
        }
        let q = expand(&var_query(v).unwrap(), &vars, &picks);
        match label_values(prom, &q) {
            Ok(mut vals) if !vals.is_empty() => {
                vals.sort();
                if v["sort"] == 2 {
                    vals.reverse();
                }
                let pick = if v["includeAll"] == true {
                    Pick::All
                } else {
                    Pick::Values(vec![vals[0].clone()])
                };
                picks.insert(name.clone(), pick);
                values.insert(name, vals);
            }
            Ok(_) => problems.push(format!("{file}: variable {name}: no values for {q}")),
            Err(e) => problems.push(format!("{file}: variable {name}: {q}: {e}")),
        }
    }
    Resolved {
        picks,
        values,
        problems,
    }
}

/// One panel target as run.
struct Run {
    title: String,
    ref_id: String,
    /// The query with variables substituted.
    expr: String,
    instant: bool,
    /// Prometheus' `data`, or the error.
    result: Result<Value, String>,
}

/// Runs every target of every panel.
fn run_panels(prom: SocketAddr, d: &Value, picks: &BTreeMap<String, Pick>) -> Vec<Run> {
    let vars = variables(d);
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = expand(t["expr"].as_str().unwrap_or(""), &vars, picks);
            let instant = t["instant"] == true;
            let result = run_target(prom, &expr, instant, 120.0);
            out.push(Run {
                title: p["title"].as_str().unwrap_or("").to_string(),
                ref_id: t["refId"].as_str().unwrap_or("").to_string(),
                expr,
                instant,
                result,
            });
        }
    }
    out
}

/// Findings for one dashboard run: empty results and errors, naming the panel.
fn empty_panels(file: &str, runs: &[Run]) -> Vec<String> {
    let mut bad = Vec::new();
    for Run {
        title,
        ref_id: r,
        expr,
        result,
        ..
    } in runs
    {
        match result {
            Ok(data) if data["result"].as_array().is_some_and(|a| !a.is_empty()) => {}
            Ok(_) => bad.push(format!("{file}: panel {title:?} ({r}) has no data: {expr}")),
            Err(e) => bad.push(format!("{file}: panel {title:?} ({r}) failed: {e}: {expr}")),
        }
    }
    bad
}

fn budget_config(ml: f64, web: f64, all: f64) -> String {
    format!(
        r##"refresh_interval = "1h"

[[budgets]]
name = "ml-platform"
owner = "ml-platform-leads"
selector = '{{tag_team="data-science"}}'
monthly = {ml:?}

[[budgets]]
name = "web"
owner = "web-team"
selector = '{{tag_team="engineering"}}'
monthly = {web:?}

[[budgets]]
name = "all-bedrock"
owner = "finops"
monthly = {all:?}
"##
    )
}

/// Generated export for the previous and current month (by the clock, no fixed `now`) with three
/// budgets (one over its limit, so budget alerts are pending) → the daemon → a real Prometheus
/// with the shipped rules file, unchanged. Then every variable query and every panel query of
/// every dashboard, with variables substituted (All, and each variable set to two of its values),
/// must succeed, and with the defaults must return data. Broken panels are named.
#[test]
fn every_panel_and_variable_query_returns_data_on_a_real_prometheus() {
    if missing(&[Need::Prometheus]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (export, prev, cur) = export_for_clock_months(
        dir.path(),
        cur_sample::ExportSpec {
            rows_per_period: 3_000,
            ..cur_sample::ExportSpec::default()
        },
    );
    let cfg = dir.path().join("bce.toml");
    std::fs::write(&cfg, budget_config(1e12, 1e12, 1e12)).unwrap();
    let probe = parse_exposition(&once(
        &export,
        &["--config", cfg.to_str().unwrap(), "--progress", "never"],
    ));
    let spend = |b: &str, name: &str| {
        value(&probe, name, &[("budget", b), ("billing_period", &cur)])
            .unwrap_or_else(|| panic!("no {name} for {b}"))
    };
    // ml-platform at 125 % (its alerts pending), web at 40 %, the whole bill at 80 % of its forecast.
    let ml = spend("ml-platform", "bedrock_budget_spend_usd") / 1.25;
    let web = spend("web", "bedrock_budget_spend_usd") / 0.4;
    let all = spend("all-bedrock", "bedrock_budget_forecast_usd") / 0.8;
    std::fs::write(&cfg, budget_config(ml.round(), web.round(), all.round())).unwrap();

    let daemon = Daemon::start(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--source",
            export.to_str().unwrap(),
        ],
        &[("AWS_EC2_METADATA_DISABLED", "true")],
    );
    daemon.wait_ready();

    let prom_port = free_port();
    let prom: SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    let _prom = start_prometheus(
        dir.path(),
        prom,
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n  - job_name: bedrock-cost-exporter\n    static_configs:\n      - targets: ['{}']\n",
            repo().join(crate::alerting::RULES).display(),
            daemon.addr
        ),
    );
    // Enough history for the range panels (a few scrapes) and the rules evaluated.
    wait_for(
        Duration::from_secs(90),
        "Prometheus to scrape the daemon and evaluate the rules",
        || {
            let ok = |q: &str| {
                run_target(prom, q, true, 0.0)
                    .ok()
                    .and_then(|d| d["result"][0]["value"][1].as_str().map(String::from))
                    .and_then(|v| v.parse::<f64>().ok())
            };
            (ok("count_over_time(up{job=\"bedrock-cost-exporter\"}[1m])")? >= 8.0
                && ok("count(ALERTS{alertname=\"BedrockBudgetExceeded\"})")? >= 1.0
                && ok("count(budget_billing_period:bedrock_budget_used:ratio)")? >= 1.0)
                .then_some(())
        },
    );
    assert_eq!(
        run_target(
            prom,
            "billing_period:bedrock_exporter_current_billing_period:max",
            true,
            0.0
        )
        .unwrap()["result"][0]["metric"]["billing_period"],
        json!(cur),
        "the exporter's current period is the clock's"
    );

    let mut problems = Vec::new();
    let mut record = Vec::new();
    for (file, d) in load() {
        let Resolved {
            picks,
            values,
            problems: vproblems,
        } = resolve_variables(prom, &file, &d);
        problems.extend(vproblems);
        if let Some(Pick::Values(p)) = picks.get("billing_period") {
            assert_eq!(p, &vec![cur.clone()], "{file}: default period");
        }
        let runs = run_panels(prom, &d, &picks);
        // The spike table lists exactly the principals BedrockPrincipalSpendSpike is pending or
        // firing for (none, on a day without a spike in the generated bill).
        let (spikes, runs_rest): (Vec<&Run>, Vec<&Run>) = runs
            .iter()
            .partition(|r| r.title == "Principal spend spikes");
        let principals = |r: &Run| -> BTreeSet<String> {
            r.result.as_ref().expect("spike table query")["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["metric"]["principal"].as_str().unwrap().to_string())
                .collect()
        };
        if let Some(first) = spikes.first() {
            let shown = principals(first);
            for r in &spikes {
                assert_eq!(
                    principals(r),
                    shown,
                    "{file}: spike table target {}",
                    r.ref_id
                );
            }
            let alerting: BTreeSet<String> = run_target(
                prom,
                "ALERTS{alertname=\"BedrockPrincipalSpendSpike\"}",
                true,
                0.0,
            )
            .unwrap()["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["metric"]["principal"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                shown, alerting,
                "{file}: the spike table against the spike alert"
            );
            eprintln!(
                "{file}: {} principals over the spike threshold",
                shown.len()
            );
        }
        let rest: Vec<Run> = runs_rest
            .into_iter()
            .map(|r| Run {
                title: r.title.clone(),
                ref_id: r.ref_id.clone(),
                expr: r.expr.clone(),
                instant: r.instant,
                result: r.result.clone(),
            })
            .collect();
        problems.extend(empty_panels(&file, &rest));
        // Each variable set to two of its values (regex-escaped, multi-value) in turn: every
        // query must still be valid PromQL that Prometheus accepts.
        let vars = variables(&d);
        for v in &vars {
            let name = v["name"].as_str().unwrap();
            let Some(vals) = values.get(name) else {
                continue;
            };
            let mut p = picks.clone();
            if v["multi"] == true {
                p.insert(
                    name.to_string(),
                    Pick::Values(vals.iter().rev().take(2).cloned().collect()),
                );
            } else if vals.len() > 1 {
                p.insert(name.to_string(), Pick::Values(vec![vals[1].clone()]));
            } else {
                continue;
            }
            for Run {
                title,
                ref_id: r,
                expr,
                result,
                ..
            } in run_panels(prom, &d, &p)
            {
                if let Err(e) = result {
                    problems.push(format!(
                        "{file}: panel {title:?} ({r}) with {name}={:?} failed: {e}: {expr}",
                        p[name]
                    ));
                }
            }
        }
        record.push(json!({
            "file": file,
            "title": d["title"],
            "uid": d["uid"],
            "variables": picks.iter().map(|(k, v)| (k.clone(), json!(format!("{v:?}")))).collect::<serde_json::Map<_, _>>(),
            "panels": panels(&d).iter().map(|p| {
                let title = p["title"].as_str().unwrap_or("");
                json!({
                    "title": title,
                    "type": p["type"],
                    "unit": p["fieldConfig"]["defaults"]["unit"],
                    "gridPos": p["gridPos"],
                    "targets": runs.iter().filter(|r| r.title == title).map(|Run { ref_id: r, expr, instant, result: res, .. }| {
                        let t = p["targets"].as_array().unwrap().iter().find(|t| t["refId"] == r.as_str()).unwrap();
                        json!({"refId": r, "expr": expr, "instant": instant, "legendFormat": t["legendFormat"],
                               "result": res.as_ref().map(|d| d["result"].clone()).unwrap_or(Value::Null)})
                    }).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
        }));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // The check names a panel without data and one Prometheus rejects.
    let (_, mut broken) = load()
        .into_iter()
        .find(|(f, _)| f == "bedrock-overview.json")
        .unwrap();
    let ps = broken["panels"].as_array_mut().unwrap();
    let stat = ps
        .iter_mut()
        .find(|p| p["title"] == "Spend, month to date")
        .unwrap();
    stat["targets"][0]["expr"] =
        json!("sum(bedrock_cost_usd{job=~\"$job\", model=\"no-such-model\"})");
    let bar = ps.iter_mut().find(|p| p["title"] == "By region").unwrap();
    bar["targets"][0]["expr"] = json!("sum by (region) (bedrock_cost_usd{job=~\"$job\"}");
    let picks = resolve_variables(prom, "broken.json", &broken).picks;
    let bad = empty_panels("broken.json", &run_panels(prom, &broken, &picks));
    assert_eq!(bad.len(), 2, "{bad:#?}");
    assert!(
        bad[0].starts_with("broken.json: panel \"Spend, month to date\" (A) has no data"),
        "{bad:#?}"
    );
    assert!(
        bad[1].starts_with("broken.json: panel \"By region\" (A) failed: HTTP 400: \"bad_data\""),
        "{bad:#?}"
    );
    let mut broken_var = broken.clone();
    let team = broken_var["templating"]["list"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|v| v["name"] == "team")
        .unwrap();
    team["query"] = json!("label_values(bedrock_cost_usd{job=~\"$job\"}, no_such_label)");
    let vbad = resolve_variables(prom, "broken.json", &broken_var).problems;
    assert!(
        vbad.iter().any(|p| p.contains("variable team: no values")),
        "{vbad:?}"
    );

    // Query results for the previews (grafana/previews/render.py; scripts/previews.sh).
    if let Ok(out) = std::env::var("PREVIEW_RESULTS_OUT") {
        std::fs::write(
            &out,
            serde_json::to_string_pretty(&json!({
                "generated_at": now_s(),
                "periods": [prev, cur],
                "dashboards": record,
            }))
            .unwrap(),
        )
        .unwrap();
    }
}
