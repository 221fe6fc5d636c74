//! Rendering the exposition once per refresh, in both text formats.
//!
//! prometheus-client writes OpenMetrics 1.0. The Prometheus text format 0.0.4 differs for what we
//! emit only in three ways: no `# EOF`, no `# UNIT`, and a counter family is named with its
//! `_total` suffix. [`to_text_004`] applies exactly those, so `promtool check metrics` (which reads
//! 0.0.4) and scrapers that do not negotiate OpenMetrics see a correct exposition.

use std::sync::Arc;

use bytes::Bytes;
use prometheus_client::registry::Registry;

use super::prometheus::{SnapshotCollector, StatusCollector};
use crate::snapshot::Snapshot;
use crate::status::Status;

/// Content type of [`Rendered::openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of [`Rendered::text`].
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One exposition in both formats.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub openmetrics: Bytes,
    pub text: Bytes,
}

/// Renders the snapshot's series and the status.
pub fn render(snapshot: Arc<Snapshot>, status: Arc<Status>) -> Rendered {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot.clone())));
    registry.register_collector(Box::new(StatusCollector { status, snapshot }));
    let mut om = String::with_capacity(1 << 16);
    prometheus_client::encoding::text::encode(&mut om, &registry)
        .expect("writing to a String cannot fail");
    let text = to_text_004(&om);
    Rendered {
        openmetrics: Bytes::from(om),
        text: Bytes::from(text),
    }
}

/// OpenMetrics text (as prometheus-client writes it) → Prometheus text format 0.0.4.
pub fn to_text_004(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let mut pending_help: Option<&str> = None;
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if line.starts_with("# HELP ") {
            if let Some(h) = pending_help.take() {
                out.push_str(h);
                out.push('\n');
            }
            pending_help = Some(line);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            let name = if kind == "counter" && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            if let Some(h) = pending_help.take() {
                let help = h.strip_prefix("# HELP ").unwrap_or(h);
                let text = help.split_once(' ').map(|(_, t)| t).unwrap_or("");
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        if let Some(h) = pending_help.take() {
            out.push_str(h);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(h) = pending_help {
        out.push_str(h);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_units_and_eof() {
        let om = "# HELP a_errors Errors.\n# TYPE a_errors counter\na_errors_total{stage=\"x\"} 1\n# HELP b_seconds S.\n# TYPE b_seconds gauge\n# UNIT b_seconds seconds\nb_seconds 2.5\n# EOF\n";
        assert_eq!(
            to_text_004(om),
            "# HELP a_errors_total Errors.\n# TYPE a_errors_total counter\na_errors_total{stage=\"x\"} 1\n# HELP b_seconds S.\n# TYPE b_seconds gauge\nb_seconds 2.5\n"
        );
    }
}
