//! Rendering the exposition once per refresh, in both text formats, gzip-compressed as it is
//! written: a scrape that accepts gzip (Prometheus does) gets bytes ready to send, and the daemon
//! holds only the compressed expositions (labels repeat, so they compress about 40×).
//!
//! prometheus-client writes OpenMetrics 1.0. The Prometheus text format 0.0.4 differs for what we
//! emit only in three ways: no `# EOF`, no `# UNIT`, and a counter family is named with its
//! `_total` suffix. [`Text004`] applies exactly those, line by line, so `promtool check metrics`
//! (which reads 0.0.4) and scrapers that do not negotiate OpenMetrics see a correct exposition.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use prometheus_client::registry::Registry;

use super::prometheus::{BudgetCollector, SnapshotCollector, StatusCollector};
use crate::snapshot::Snapshot;
use crate::status::Status;

/// Content type of the OpenMetrics exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the text 0.0.4 exposition.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// gzip level: 6 compresses a 144 MB exposition of 100k series to 3.6 MB in about a second.
const GZIP_LEVEL: u32 = 6;

/// One exposition in both formats, gzip-compressed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub openmetrics_gz: Bytes,
    pub text_gz: Bytes,
    /// Uncompressed sizes.
    pub openmetrics_len: usize,
    pub text_len: usize,
}

impl Default for Rendered {
    fn default() -> Self {
        render(Arc::new(Snapshot::default()), Arc::new(Status::default()))
    }
}

impl Rendered {
    /// The uncompressed text 0.0.4 exposition (for clients that do not accept gzip). An error
    /// is a bug (the bytes were compressed here, in memory), but it is reported, not a panic.
    pub fn text(&self) -> std::io::Result<Bytes> {
        gunzip(&self.text_gz, self.text_len)
    }

    /// The uncompressed OpenMetrics exposition.
    pub fn openmetrics(&self) -> std::io::Result<Bytes> {
        gunzip(&self.openmetrics_gz, self.openmetrics_len)
    }
}

fn gunzip(gz: &[u8], len: usize) -> std::io::Result<Bytes> {
    let mut out = Vec::with_capacity(len);
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out)?;
    Ok(Bytes::from(out))
}

/// HELP text as OpenMetrics writes it: `\\`, newline and `"` escaped (prometheus-client writes
/// the help it is given verbatim, so every help passes through here first).
pub fn escape_help_openmetrics(help: &str) -> Cow<'_, str> {
    if !help.contains(['\\', '\n', '"']) {
        return Cow::Borrowed(help);
    }
    let mut out = String::with_capacity(help.len() + 8);
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// OpenMetrics-escaped HELP text → text 0.0.4's escaping, which knows `\\` and `\n` only: `\"`
/// becomes `"` (promtool refuses `\"` in a 0.0.4 HELP line).
pub fn openmetrics_help_to_text(help: &str) -> Cow<'_, str> {
    if !help.contains("\\\"") {
        return Cow::Borrowed(help);
    }
    let mut out = String::with_capacity(help.len());
    let mut chars = help.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some(e) => {
                out.push('\\');
                out.push(e);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Line-by-line OpenMetrics → text 0.0.4 (see the module docs).
#[derive(Default)]
pub struct Text004 {
    pending_help: Option<String>,
}

impl Text004 {
    /// Feeds one OpenMetrics line (without its newline); appends the 0.0.4 output to `out`.
    pub fn line(&mut self, line: &str, out: &mut String) {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            return;
        }
        if line.starts_with("# HELP ") {
            self.flush(out);
            self.pending_help = Some(line.to_string());
            return;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            let name = if kind == "counter" && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            if let Some(h) = self.pending_help.take() {
                let help = h.strip_prefix("# HELP ").unwrap_or(&h);
                let text = help.split_once(' ').map(|(_, t)| t).unwrap_or("");
                let text = openmetrics_help_to_text(text);
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            return;
        }
        self.flush(out);
        out.push_str(line);
        out.push('\n');
    }

    /// Emits a HELP line still waiting for its TYPE line.
    pub fn flush(&mut self, out: &mut String) {
        if let Some(h) = self.pending_help.take() {
            out.push_str(&openmetrics_help_to_text(&h));
            out.push('\n');
        }
    }
}

/// OpenMetrics text (as prometheus-client writes it) → Prometheus text format 0.0.4.
#[cfg(test)]
fn to_text_004(om: &str) -> String {
    let mut conv = Text004::default();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        conv.line(line, &mut out);
    }
    conv.flush(&mut out);
    out
}

/// A `fmt::Write` that compresses OpenMetrics as it arrives, and its 0.0.4 translation alongside.
struct DualGz {
    partial: String,
    conv: Text004,
    scratch: String,
    om: GzEncoder<Vec<u8>>,
    text: GzEncoder<Vec<u8>>,
    om_len: usize,
    text_len: usize,
}

impl DualGz {
    fn new() -> Self {
        DualGz {
            partial: String::new(),
            conv: Text004::default(),
            scratch: String::new(),
            om: GzEncoder::new(Vec::new(), Compression::new(GZIP_LEVEL)),
            text: GzEncoder::new(Vec::new(), Compression::new(GZIP_LEVEL)),
            om_len: 0,
            text_len: 0,
        }
    }

    fn write_text(&mut self) {
        self.text_len += self.scratch.len();
        self.text
            .write_all(self.scratch.as_bytes())
            .expect("writing to memory");
        self.scratch.clear();
    }

    fn finish(mut self) -> Rendered {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.conv.line(&line, &mut self.scratch);
        }
        self.conv.flush(&mut self.scratch);
        self.write_text();
        Rendered {
            openmetrics_gz: Bytes::from(self.om.finish().expect("writing to memory")),
            text_gz: Bytes::from(self.text.finish().expect("writing to memory")),
            openmetrics_len: self.om_len,
            text_len: self.text_len,
        }
    }
}

impl std::fmt::Write for DualGz {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.om_len += s.len();
        self.om
            .write_all(s.as_bytes())
            .map_err(|_| std::fmt::Error)?;
        let mut rest = s;
        while let Some(i) = rest.find('\n') {
            self.partial.push_str(&rest[..i]);
            let line = std::mem::take(&mut self.partial);
            self.conv.line(&line, &mut self.scratch);
            self.partial = line;
            self.partial.clear();
            rest = &rest[i + 1..];
        }
        self.partial.push_str(rest);
        if self.scratch.len() >= 1 << 16 {
            self.write_text();
        }
        Ok(())
    }
}

/// Renders the snapshot's series and the status.
pub fn render(snapshot: Arc<Snapshot>, status: Arc<Status>) -> Rendered {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot.clone())));
    registry.register_collector(Box::new(BudgetCollector(snapshot.clone())));
    let otlp = status.otlp.clone();
    registry.register_collector(Box::new(StatusCollector { status, snapshot }));
    if let Some(otlp) = otlp {
        registry.register_collector(Box::new(super::otlp::OtlpCollector(otlp)));
    }
    let mut out = DualGz::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to memory cannot fail");
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: &str = "# HELP a_errors Errors.\n# TYPE a_errors counter\na_errors_total{stage=\"x\"} 1\n# HELP b_seconds S.\n# TYPE b_seconds gauge\n# UNIT b_seconds seconds\nb_seconds 2.5\n# EOF\n";
    const TEXT: &str = "# HELP a_errors_total Errors.\n# TYPE a_errors_total counter\na_errors_total{stage=\"x\"} 1\n# HELP b_seconds S.\n# TYPE b_seconds gauge\nb_seconds 2.5\n";

    #[test]
    fn counters_units_and_eof() {
        assert_eq!(to_text_004(OM), TEXT);
    }

    #[test]
    fn streaming_in_any_chunks_gives_the_same_text() {
        use std::fmt::Write as _;
        for chunk in [1, 2, 7, 1000] {
            let mut w = DualGz::new();
            let bytes = OM.as_bytes();
            for piece in bytes.chunks(chunk) {
                w.write_str(std::str::from_utf8(piece).unwrap()).unwrap();
            }
            let r = w.finish();
            assert_eq!(&r.text().unwrap()[..], TEXT.as_bytes(), "chunk {chunk}");
            assert_eq!(
                &r.openmetrics().unwrap()[..],
                OM.as_bytes(),
                "chunk {chunk}"
            );
            assert_eq!(r.text_len, TEXT.len());
        }
    }

    fn render_text(status: Status) -> (String, String) {
        let r = render(Arc::new(Snapshot::default()), Arc::new(status));
        (
            String::from_utf8(r.text().unwrap().to_vec()).unwrap(),
            String::from_utf8(r.openmetrics().unwrap().to_vec()).unwrap(),
        )
    }

    /// Every stage of `bedrock_exporter_errors_total` is there from the start at 0, `internal`
    /// (a caught panic) too, and counts.
    #[test]
    fn every_error_stage_is_exported_internal_too() {
        use crate::names::stage;
        let mut export = crate::status::ExportStatus {
            name: "e".into(),
            ..Default::default()
        };
        let status = |x: &crate::status::ExportStatus| Status {
            exports: vec![x.clone()],
            ..Status::default()
        };
        let (text, _) = render_text(status(&export));
        for s in [
            stage::LIST,
            stage::MANIFEST,
            stage::READ,
            stage::DECODE,
            stage::DUPLICATE,
            stage::INTERNAL,
        ] {
            let line = format!("bedrock_exporter_errors_total{{export=\"e\",stage=\"{s}\"}} 0\n");
            assert!(text.contains(&line), "no {line:?} in\n{text}");
        }
        export.errors.insert(stage::INTERNAL, 2);
        let (text, _) = render_text(status(&export));
        assert!(
            text.contains("bedrock_exporter_errors_total{export=\"e\",stage=\"internal\"} 2\n"),
            "{text}"
        );
    }

    /// The HELP text of every family escaped as its format says: OpenMetrics escapes `\`,
    /// newline and `"`; text 0.0.4 escapes `\` and newline only (promtool refuses `\"`).
    #[test]
    fn help_is_escaped_per_format() {
        let (text, om) = render_text(Status::default());
        let help_lines = |body: &str| -> Vec<String> {
            body.lines()
                .filter_map(|l| l.strip_prefix("# HELP "))
                .map(|l| l.split_once(' ').map_or("", |(_, t)| t).to_string())
                .collect()
        };
        // (text, characters a backslash may escape, whether a bare `"` is allowed)
        for (body, escapes, bare_quote) in [(&om, "\\n\"", false), (&text, "\\n", true)] {
            let helps = help_lines(body);
            assert!(helps.len() > 10, "{body}");
            for h in helps {
                let mut chars = h.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => assert!(
                            chars.next().is_some_and(|e| escapes.contains(e)),
                            "bad escape in HELP {h:?}"
                        ),
                        '"' => assert!(bare_quote, "bare \" in OpenMetrics HELP {h:?}"),
                        _ => {}
                    }
                }
            }
        }
        assert!(om.contains(r#"principal=\"__other__\""#), "{om}");
        assert!(text.contains(r#"principal="__other__""#), "{text}");
    }

    #[test]
    fn help_escaping_by_hand() {
        let raw = "a \"b\" c\\d\ne";
        assert_eq!(escape_help_openmetrics(raw), r#"a \"b\" c\\d\ne"#);
        assert_eq!(escape_help_openmetrics("plain"), "plain");
        assert_eq!(
            openmetrics_help_to_text(&escape_help_openmetrics(raw)),
            r#"a "b" c\\d\ne"#
        );
    }

    /// Two periods writing one code in two cases (each valid in its period) still make one family
    /// per metric name.
    #[test]
    fn one_family_per_currency_suffix() {
        let snapshot = Snapshot {
            folded: crate::snapshot::Folded {
                series: 2,
                cost: vec![("USD".into(), 1.5), ("usd".into(), 2.0)],
            },
            ..Snapshot::default()
        };
        let r = render(Arc::new(snapshot), Arc::new(Status::default()));
        let text = String::from_utf8(r.text().unwrap().to_vec()).unwrap();
        let types = text
            .lines()
            .filter(|l| l.starts_with("# TYPE bedrock_exporter_folded_cost_"))
            .count();
        assert_eq!(types, 1, "{text}");
        assert!(
            text.contains("bedrock_exporter_folded_cost_usd 3.5\n"),
            "{text}"
        );
    }
}
