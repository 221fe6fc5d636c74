//! CSV per RFC 4180: a header, then one record per row, CRLF line ends, a field quoted when it
//! holds a comma, a quote, CR or LF (quotes doubled). Numbers in full precision (Rust's shortest
//! round-trip form, never an exponent); an empty field for an empty cell.
//!
//! **Formula injection**: a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a
//! carriage return as a formula. Label values come from the bill (tag values are set by whoever
//! can tag a principal), so a text cell starting with one of those gets a leading `'` and is
//! quoted (the OWASP "CSV Injection" advice); numbers are written by us and never escaped.

use super::{Cell, Report, cells, columns};

/// The whole report as CSV bytes (UTF-8, no byte-order mark).
pub fn render(report: &Report) -> Vec<u8> {
    let mut out = String::new();
    let header: Vec<String> = columns(&report.table, true)
        .into_iter()
        .map(|c| field(&c.name))
        .collect();
    record(&mut out, &header);
    for c in &report.table.currencies {
        for row in c.rows.iter().chain(std::iter::once(&c.total)) {
            let fields: Vec<String> = cells(&report.meta, &report.table, &c.currency, row, true)
                .into_iter()
                .map(|cell| match cell {
                    Cell::Text(t) => text(&t),
                    Cell::Number(None) => String::new(),
                    Cell::Number(Some(x)) => number(x),
                })
                .collect();
            record(&mut out, &fields);
        }
    }
    out.into_bytes()
}

fn record(out: &mut String, fields: &[String]) {
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// A text cell: escaped against formula injection, then quoted as RFC 4180 needs.
pub fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        quoted(&format!("'{s}"))
    } else {
        field(s)
    }
}

/// A field, quoted when it holds a comma, a quote, CR or LF.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        quoted(s)
    } else {
        s.to_string()
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A number in full precision; non-finite values (which sums of finite costs never give) empty.
fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4180_quoting_and_formula_escaping() {
        assert_eq!(text("ml"), "ml");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("two\r\nlines"), "\"two\r\nlines\"");
        assert_eq!(text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text("+1"), "\"'+1\"");
        assert_eq!(text("-2+3"), "\"'-2+3\"");
        assert_eq!(text("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(text("\tx"), "\"'\tx\"");
        assert_eq!(text("\rx"), "\"'\rx\"");
        assert_eq!(text(""), "");
        assert_eq!(number(-12.5), "-12.5");
        assert_eq!(number(1e-7), "0.0000001");
        assert_eq!(number(0.1 + 0.2), "0.30000000000000004");
    }
}
