//! `bedrock-cost-exporter report`: selects the period, reads it (and the one before), groups,
//! renders, and writes the result whole — to stdout, or to `--out` through a temporary file
//! renamed into place, so that a cron job never leaves half a report. A one-line summary (status,
//! manifests read, where it went) and the notes go to stderr.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::source::Source;

use super::args::ReportArgs;
use super::format::{self, Report};
use super::group::{self, Input};
use super::{period, provenance, read};

/// Why no report was written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("reading the export failed; no report written:\n  {}", .0.join("\n  "))]
    Read(Vec<String>),
    #[error(
        "billing period {period} is in no configured export (periods present: {}); name one with --period YYYY-MM",
        if .available.is_empty() { "none".to_string() } else { .available.join(", ") }
    )]
    NoPeriod {
        period: String,
        available: Vec<String>,
    },
    #[error("{0}")]
    Group(String),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs the report: `config.now_ms` (else the clock) decides the default period.
pub fn run(
    config: &Config,
    sources: Vec<(String, Source)>,
    args: &ReportArgs,
) -> Result<(), ReportError> {
    let now_ms = config.now_ms.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    });
    let periods = period::select(args.period.as_deref(), now_ms);
    let exports = read::load(config, sources, &periods)?;
    let mut meta = provenance::describe(&exports, &periods, now_ms);
    let previous: Vec<_> = exports
        .iter()
        .filter_map(|e| e.previous.as_ref().map(|p| &*p.aggregate))
        .collect();
    let input = Input {
        period: exports
            .iter()
            .filter_map(|e| e.period.as_ref().map(|p| &*p.aggregate))
            .collect(),
        previous: (!previous.is_empty()).then_some(previous),
        budgets: &config.budgets.budgets,
        public_cost_known: meta.public_cost_known,
    };
    let table = group::build(&args.by, args.top, &input).map_err(ReportError::Group)?;
    meta.notes.extend(provenance::table_notes(&table));
    let report = Report { meta, table };
    let bytes = format::render(&report, args.format);
    let target = args
        .out
        .as_ref()
        .map(|p| PathBuf::from(p.to_string_lossy().replace("{period}", &periods.period)));
    match &target {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|source| ReportError::Write {
                    path: "stdout".into(),
                    source,
                })?;
        }
        Some(path) => write_whole(path, &bytes)?,
    }
    eprint!("{}", summary(&report, target.as_deref()));
    Ok(())
}

/// What stderr says: the period, its status, what was read, where the report went, the notes.
fn summary(report: &Report, target: Option<&Path>) -> String {
    let meta = &report.meta;
    let rows: usize = report
        .table
        .currencies
        .iter()
        .map(|c| c.rows.len() + 1)
        .sum();
    let mut s = format!(
        "report {} by {}: {}; {} rows{}\n",
        meta.period,
        report.table.by.join(","),
        meta.invoice.describe(&meta.period),
        rows,
        target
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default()
    );
    for src in &meta.sources {
        s.push_str(&format!(
            "read {} of export {:?}: manifest {}, execution {}\n",
            src.billing_period,
            src.export,
            src.manifest,
            if src.execution_id.is_empty() {
                "(none)"
            } else {
                &src.execution_id
            }
        ));
    }
    for n in &meta.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed into place.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.display().to_string(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| err(std::io::Error::other("not a file name")))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}
