//! A report as bytes, pure: the same columns in the same order in every format.
//!
//! - [`csv`] — RFC 4180 (CRLF, quoted where needed), full precision, text cells escaped against
//!   spreadsheet formula injection.
//! - [`markdown`] — a document for a ticket or a chat: status, notes, one table per currency.
//! - [`html`] — one self-contained file: inline CSS (print rules included), an inline SVG bar chart
//!   per currency, no external URL.
//! - [`json`] — the whole report; schema docs/src/report.schema.json.

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;

use super::args::OutputFormat;
use super::group::{Row, Table};
use super::provenance::Meta;
use crate::budget::CostKind;

/// A whole report: what it stands on, and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub meta: Meta,
    pub table: Table,
}

/// The report in `format`.
pub fn render(report: &Report, format: OutputFormat) -> Vec<u8> {
    match format {
        OutputFormat::Csv => csv::render(report),
        OutputFormat::Markdown => markdown::render(report).into_bytes(),
        OutputFormat::Html => html::render(report).into_bytes(),
        OutputFormat::Json => json::render(report),
    }
}

/// How a column's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An amount of money.
    Money,
    /// A fraction (shown as a percentage to people).
    Ratio,
    /// Tokens.
    Count,
    /// Money per million tokens.
    Rate,
}

/// A column: its name (the CSV header; JSON keys) and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// One cell: text, or a number (`None`: empty).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(Option<f64>),
}

/// The figures' columns, last in every format.
const FIGURES: [(&str, Kind); 12] = [
    ("cost", Kind::Money),
    ("net_cost", Kind::Money),
    ("share", Kind::Ratio),
    ("input_tokens", Kind::Count),
    ("output_tokens", Kind::Count),
    ("cost_per_million_tokens", Kind::Rate),
    ("previous_cost", Kind::Money),
    ("change", Kind::Money),
    ("change_ratio", Kind::Ratio),
    ("public_on_demand_cost", Kind::Money),
    ("discount", Kind::Money),
    ("cache_read_share", Kind::Ratio),
];

/// The CSV's leading columns, which the other formats say once, above the table.
pub const CSV_ONLY: [&str; 3] = ["billing_period", "period_status", "row_type"];

/// The budget columns (with `--by budget`).
pub const BUDGET_COLUMNS: [(&str, Kind); 5] = [
    ("owner", Kind::Text),
    ("cost_basis", Kind::Text),
    ("spend", Kind::Money),
    ("limit", Kind::Money),
    ("limit_used", Kind::Ratio),
];

/// The columns of a report, in order: [`CSV_ONLY`] (with `csv_only`), the labels, `account_name`
/// (by account), the budget columns (by budget), `currency`, then the figures.
pub fn columns(table: &Table, csv_only: bool) -> Vec<Column> {
    let col = |name: &str, kind| Column {
        name: name.to_string(),
        kind,
    };
    let mut out = Vec::new();
    if csv_only {
        out.extend(CSV_ONLY.iter().map(|n| col(n, Kind::Text)));
    }
    out.extend(table.by.iter().map(|l| col(l, Kind::Text)));
    if table.with_account_name() {
        out.push(col("account_name", Kind::Text));
    }
    if table.with_budget() {
        out.extend(BUDGET_COLUMNS.iter().map(|(n, k)| col(n, *k)));
    }
    if csv_only {
        out.push(col("currency", Kind::Text));
    }
    out.extend(FIGURES.iter().map(|(n, k)| col(n, *k)));
    out
}

/// The cells of a row, aligned with [`columns`] (same `csv_only`).
pub fn cells(meta: &Meta, table: &Table, currency: &str, row: &Row, csv_only: bool) -> Vec<Cell> {
    let text = |s: &str| Cell::Text(s.to_string());
    let num = |x: f64| Cell::Number(Some(x));
    let opt = Cell::Number;
    let mut out = Vec::new();
    if csv_only {
        out.push(text(&meta.period));
        out.push(text(meta.invoice.status()));
        out.push(text(row.kind.as_str()));
    }
    out.extend(row.labels.iter().map(|l| text(l)));
    if table.with_account_name() {
        out.push(text(row.account_name.as_deref().unwrap_or("")));
    }
    if table.with_budget() {
        match &row.budget {
            Some(b) => out.extend([
                text(&b.owner),
                text(match b.basis {
                    CostKind::Unblended => "cost",
                    CostKind::Net => "net_cost",
                }),
                num(b.spend),
                num(b.limit),
                num(b.used()),
            ]),
            None => out.extend([text(""), text(""), opt(None), opt(None), opt(None)]),
        }
    }
    if csv_only {
        out.push(text(currency));
    }
    let f = &row.figures;
    out.extend([
        num(f.cost),
        num(f.net_cost),
        opt(f.share),
        num(f.input_tokens),
        num(f.output_tokens),
        opt(f.cost_per_million_tokens),
        opt(f.previous_cost),
        opt(f.change),
        opt(f.change_ratio),
        opt(f.public_on_demand_cost),
        opt(f.discount),
        opt(f.cache_read_share),
    ]);
    out
}

/// A number for people: money with 2 decimals, rates with 4, ratios as percentages, tokens
/// whole with thousands separators; all with thousands separators.
pub fn human(x: Option<f64>, kind: Kind) -> String {
    let Some(x) = x else {
        return String::new();
    };
    match kind {
        Kind::Text => String::new(),
        Kind::Money => grouped(&format!("{x:.2}")),
        Kind::Rate => grouped(&format!("{x:.4}")),
        Kind::Count => grouped(&format!("{x:.0}")),
        Kind::Ratio => format!("{:.1} %", x * 100.0),
    }
}

/// `1234567.50` → `1,234,567.50` (and `-0.00` → `0.00`).
fn grouped(s: &str) -> String {
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    let zero = digits.bytes().all(|b| b == b'0' || b == b'.');
    if sign.is_empty() || zero {
        out
    } else {
        format!("-{out}")
    }
}

/// A heading for the report: what, which period, grouped how.
pub fn title(report: &Report) -> String {
    format!(
        "Amazon Bedrock costs, {}, by {}",
        report.meta.period,
        report.table.by.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(human(Some(1234567.504), Kind::Money), "1,234,567.50");
        assert_eq!(human(Some(-1234.5), Kind::Money), "-1,234.50");
        assert_eq!(human(Some(-0.001), Kind::Money), "0.00");
        assert_eq!(human(Some(999.0), Kind::Count), "999");
        assert_eq!(human(Some(1000.0), Kind::Count), "1,000");
        assert_eq!(human(Some(0.1234), Kind::Ratio), "12.3 %");
        assert_eq!(human(Some(2.5), Kind::Rate), "2.5000");
        assert_eq!(human(None, Kind::Money), "");
    }
}
