//! One self-contained HTML5 file: inline CSS (with `@media print` rules: A4 landscape, no
//! scrolling, rows not split across pages), per currency an inline SVG bar chart of the groups'
//! cost and the table, nothing loaded from anywhere (no script, no external URL, no font). Every
//! text is escaped; the tests parse the output with a strict HTML5 parser.

use std::fmt::Write as _;

use super::{Cell, Kind, Report, cells, columns, human, title};
use crate::report::group::{CurrencyTable, RowKind};
use crate::report::provenance::{period_range, rfc3339};

/// Bars drawn at most per chart (the highest-cost groups; the table has every row).
pub const MAX_BARS: usize = 25;

const STYLE: &str = "
:root { --ink: #1d2330; --muted: #5b6474; --rule: #d8dce3; --bar: #3b6fd4; --head: #f3f5f8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  color: var(--ink); margin: 2rem auto; max-width: 1400px; padding: 0 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--rule); }
.status { display: inline-block; padding: .25rem .6rem; border-radius: .3rem; font-weight: 600; }
.status-invoiced { background: #e3f4e6; color: #1f6b2c; }
.status-open { background: #fff3d6; color: #7a5200; }
.status-unknown { background: #eceef2; color: var(--muted); }
.meta, .sources { color: var(--muted); }
.sources li { overflow-wrap: anywhere; }
.notes p { background: #fff8e5; border-left: 4px solid #e0a800; padding: .4rem .7rem; margin: .4rem 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.label { overflow-wrap: anywhere; max-width: 32rem; }
td.none { color: var(--muted); font-style: italic; }
tr.other td { color: var(--muted); }
tfoot tr td { font-weight: 700; border-top: 2px solid var(--ink); }
figure { margin: 1rem 0; }
figcaption { color: var(--muted); font-size: .85rem; }
svg text { font: 12px system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; fill: var(--ink); }
svg rect.bar { fill: var(--bar); }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { margin: 0; max-width: none; padding: 0; font-size: 9pt; }
  .scroll { overflow: visible; }
  table { font-size: 8pt; }
  th { background: none; }
  thead { display: table-header-group; }
  tr, figure, .notes p { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  svg rect.bar { fill: #555; }
  .status { border: 1px solid currentColor; }
}
";

/// The report as one HTML document.
pub fn render(report: &Report) -> String {
    let meta = &report.meta;
    let mut out = String::new();
    let t = title(report);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&t)
    );
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", esc(&t));
    let status = meta.invoice.status();
    let _ = writeln!(
        out,
        "<p><span class=\"status status-{status}\">{status}</span> {}.</p>",
        esc(&meta.invoice.describe(&meta.period))
    );
    let range = period_range(&meta.period)
        .map(|(a, b)| format!(" ({a} to {b})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<p class=\"meta\">Billing period {}{}, compared with {}; as of {}. Every figure is a sum of the bill's own line items (CUR 2.0), before any series cap.</p>\n</header>",
        esc(&meta.period),
        esc(&range),
        esc(&meta.previous_period),
        esc(&rfc3339(meta.now_ms))
    );
    if !meta.sources.is_empty() {
        out.push_str("<ul class=\"sources\">\n");
        for s in &meta.sources {
            let _ = writeln!(
                out,
                "<li>{} of export <code>{}</code>: manifest <code>{}</code>, execution <code>{}</code>{}, {} files, {} rows, {} Bedrock line items</li>",
                esc(&s.billing_period),
                esc(&s.export),
                esc(&s.manifest),
                esc(if s.execution_id.is_empty() {
                    "(none)"
                } else {
                    &s.execution_id
                }),
                s.manifest_last_modified_ms
                    .map(|ms| format!(" (written {})", rfc3339(ms)))
                    .unwrap_or_default(),
                s.files,
                s.rows,
                s.bedrock_line_items
            );
        }
        out.push_str("</ul>\n");
    }
    if !meta.notes.is_empty() {
        out.push_str("<div class=\"notes\">\n");
        for n in &meta.notes {
            let _ = writeln!(out, "<p><strong>Note:</strong> {}.</p>", esc(n));
        }
        out.push_str("</div>\n");
    }
    for c in &report.table.currencies {
        currency(&mut out, report, c);
    }
    let _ = writeln!(
        out,
        "<footer>bedrock-cost-exporter {} report. Columns: see the project's documentation, docs/src/report.md.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn currency(out: &mut String, report: &Report, c: &CurrencyTable) {
    let meta = &report.meta;
    let _ = writeln!(out, "<section>\n<h2>{}</h2>", esc(&c.currency));
    chart(out, report, c);
    let cols = columns(&report.table, false);
    out.push_str("<div class=\"scroll\">\n<table>\n<thead>\n<tr>");
    for col in &cols {
        let class = if col.kind == Kind::Text {
            ""
        } else {
            " class=\"num\""
        };
        let _ = write!(out, "<th scope=\"col\"{class}>{}</th>", esc(&col.name));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    let labels = report.table.by.len();
    let row_html = |out: &mut String, row: &crate::report::group::Row| {
        let class = match row.kind {
            RowKind::Group => "group",
            RowKind::Other => "other",
            RowKind::Total => "total",
        };
        let _ = write!(out, "<tr class=\"{class}\">");
        let cells = cells(meta, &report.table, &c.currency, row, false);
        for (i, (cell, col)) in cells.into_iter().zip(&cols).enumerate() {
            match cell {
                Cell::Text(t) if t.is_empty() && i < labels && row.kind != RowKind::Total => {
                    out.push_str("<td class=\"label none\">(no value)</td>");
                }
                Cell::Text(t) => {
                    let class = if i < labels { " class=\"label\"" } else { "" };
                    let _ = write!(out, "<td{class}>{}</td>", esc(&t));
                }
                Cell::Number(x) => {
                    let _ = write!(out, "<td class=\"num\">{}</td>", esc(&human(x, col.kind)));
                }
            }
        }
        out.push_str("</tr>\n");
    };
    for row in &c.rows {
        row_html(out, row);
    }
    out.push_str("</tbody>\n<tfoot>\n");
    row_html(out, &c.total);
    out.push_str("</tfoot>\n</table>\n</div>\n</section>\n");
}

/// A horizontal bar chart of the rows' cost (the [`MAX_BARS`] highest positive ones).
fn chart(out: &mut String, report: &Report, c: &CurrencyTable) {
    let bars: Vec<(String, f64)> = c
        .rows
        .iter()
        .filter(|r| r.figures.cost > 0.0)
        .take(MAX_BARS)
        .map(|r| {
            let name = r
                .labels
                .iter()
                .map(|l| {
                    if l.is_empty() {
                        "(no value)"
                    } else {
                        l.as_str()
                    }
                })
                .collect::<Vec<_>>()
                .join(" / ");
            (shorten(&name, 48), r.figures.cost)
        })
        .collect();
    let Some(max) = bars.iter().map(|b| b.1).reduce(f64::max) else {
        return;
    };
    let (label_w, bar_w, value_w, row_h) = (330.0, 470.0, 110.0, 22.0);
    let width = label_w + bar_w + value_w;
    let height = row_h * bars.len() as f64 + 8.0;
    let caption = format!(
        "Cost by {} in {} ({}{})",
        report.table.by.join(", "),
        c.currency,
        if c.rows.len() > bars.len() {
            format!("the {} highest of {} rows", bars.len(), c.rows.len())
        } else {
            "every row with a positive cost".to_string()
        },
        "; the table has every figure"
    );
    let _ = writeln!(
        out,
        "<figure>\n<svg role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"max-width: {width}px\" preserveAspectRatio=\"xMinYMin meet\">\n<title>{}</title>",
        esc(&caption)
    );
    for (i, (name, cost)) in bars.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (cost / max * bar_w).max(1.0);
        let _ = writeln!(
            out,
            "<g><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\"></rect><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            label_w - 8.0,
            y + 15.0,
            esc(name),
            y + 3.0,
            row_h - 6.0,
            label_w + w + 6.0,
            y + 15.0,
            esc(&human(Some(*cost), Kind::Money)),
        );
    }
    let _ = writeln!(
        out,
        "</svg>\n<figcaption>{}</figcaption>\n</figure>",
        esc(&caption)
    );
}

/// At most `n` characters, an ellipsis in the middle when longer (ARNs differ at the end).
fn shorten(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= n {
        return s.to_string();
    }
    let head = n / 3;
    let tail = n - head - 1;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab and line breaks are parse errors in HTML text.
            c if c.is_control() && !matches!(c, '\t' | '\n') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_shortening() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("a\rb\u{0}"), "a\u{FFFD}b\u{FFFD}");
        let arn = "arn:aws:sts::123456789012:assumed-role/BedrockRole/someone@example.com";
        let s = shorten(arn, 48);
        assert_eq!(s.chars().count(), 48);
        assert!(
            s.starts_with("arn:aws:sts::12") && s.ends_with("someone@example.com"),
            "{s}"
        );
        assert_eq!(shorten("short", 48), "short");
    }
}
