//! Markdown (GitHub-flavoured tables) for a ticket or a chat: a title, the status (invoiced or
//! open) and what was read, the notes, then one table per currency with its `TOTAL` row in bold.
//! Numbers for people (2 decimals, thousands separators, percentages); an empty label value reads
//! *(no value)*. Cell text is escaped so that a label value can neither break the table nor turn
//! into markup.

use std::fmt::Write as _;

use super::{Cell, Kind, Report, cells, columns, human, title};
use crate::report::group::RowKind;
use crate::report::provenance::{period_range, rfc3339};

/// The report as a Markdown document.
pub fn render(report: &Report) -> String {
    let meta = &report.meta;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", escape(&title(report)));
    let _ = writeln!(
        out,
        "**{}** — {}.\n",
        meta.invoice.status(),
        escape(&meta.invoice.describe(&meta.period))
    );
    let range = period_range(&meta.period)
        .map(|(a, b)| format!(" ({a} to {b})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Billing period {}{range}, compared with {}; as of {}. Every figure is a sum of the bill's own line items (CUR 2.0), before any series cap.\n",
        meta.period,
        meta.previous_period,
        rfc3339(meta.now_ms)
    );
    for s in &meta.sources {
        let _ = writeln!(
            out,
            "- {} of export `{}`: manifest `{}`, execution `{}`{}, {} files, {} rows, {} Bedrock line items",
            s.billing_period,
            code(&s.export),
            code(&s.manifest),
            code(if s.execution_id.is_empty() {
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
    if !meta.sources.is_empty() {
        out.push('\n');
    }
    for n in &meta.notes {
        let _ = writeln!(out, "> **Note:** {}.\n", escape(n));
    }
    let cols = columns(&report.table, false);
    for c in &report.table.currencies {
        let _ = writeln!(out, "## {}\n", escape(&c.currency));
        let header: Vec<String> = cols.iter().map(|c| escape(&c.name)).collect();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let align: Vec<&str> = cols
            .iter()
            .map(|c| if c.kind == Kind::Text { "---" } else { "---:" })
            .collect();
        let _ = writeln!(out, "|{}|", align.join("|"));
        for row in c.rows.iter().chain(std::iter::once(&c.total)) {
            let bold = row.kind == RowKind::Total;
            let texts: Vec<String> = cells(meta, &report.table, &c.currency, row, false)
                .into_iter()
                .zip(&cols)
                .enumerate()
                .map(|(i, (cell, col))| {
                    let t = match cell {
                        Cell::Text(t) if t.is_empty() && i < report.table.by.len() => {
                            if bold {
                                String::new()
                            } else {
                                "*(no value)*".to_string()
                            }
                        }
                        Cell::Text(t) => escape(&t),
                        Cell::Number(x) => human(x, col.kind),
                    };
                    if bold && !t.is_empty() {
                        format!("**{t}**")
                    } else {
                        t
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", texts.join(" | "));
        }
        out.push('\n');
    }
    out
}

/// Text safe in a table cell and in running text: Markdown punctuation backslash-escaped, `<`
/// and `>` as entities, line breaks as spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a code span: backticks and line breaks cannot end or split it.
fn code(s: &str) -> String {
    s.replace(['`', '\r', '\n'], "'").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_cannot_break_the_table() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("<script>"), "&lt;script&gt;");
        assert_eq!(escape("*bold* _x_"), "\\*bold\\* \\_x\\_");
        assert_eq!(escape("two\nlines"), "two lines");
        assert_eq!(code("a`b|c"), "a'b\\|c");
    }
}
