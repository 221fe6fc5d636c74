//! What a report stands on, pure: whether the period is invoiced (final) or still open to
//! restatement, which export execution (manifest) was read, and the notes a reader needs.
//!
//! A period is **invoiced** when every one of its Bedrock line items carries a `bill_invoice_id`:
//! CUR 2.0 leaves the column blank until the bill is finalised, and AWS restates the previous
//! month until then (about two weeks; shared/reference/cur2-bedrock.md §3.3).

use crate::budget::period_days;
use crate::cur::columns;

use super::group::Table;
use super::period::Periods;
use super::read::{ExportRead, PeriodRead};

/// Whether the period's bill is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoice {
    /// Every Bedrock line item carries a `bill_invoice_id` (these, at most 100).
    Invoiced { ids: Vec<String> },
    /// `without` of `line_items` Bedrock line items have none: open, subject to restatement.
    Open { without: u64, line_items: u64 },
    /// Cannot tell: no Bedrock line items, or a data file lacks the column.
    Unknown { reason: String },
}

impl Invoice {
    /// `invoiced`, `open` or `unknown` (the `period_status` column).
    pub fn status(&self) -> &'static str {
        match self {
            Invoice::Invoiced { .. } => "invoiced",
            Invoice::Open { .. } => "open",
            Invoice::Unknown { .. } => "unknown",
        }
    }

    /// One sentence for a reader.
    pub fn describe(&self, period: &str) -> String {
        match self {
            Invoice::Invoiced { ids } => format!(
                "{period} is invoiced: every Bedrock line item carries a bill_invoice_id ({}); these figures are final",
                ids.join(", ")
            ),
            Invoice::Open {
                without,
                line_items,
            } => format!(
                "{period} is not invoiced yet: {without} of {line_items} Bedrock line items have no bill_invoice_id; AWS may still restate it until it issues the invoice"
            ),
            Invoice::Unknown { reason } => {
                format!("whether {period} is invoiced is unknown: {reason}")
            }
        }
    }
}

/// One manifest read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRead {
    pub export: String,
    pub billing_period: String,
    /// The manifest's location.
    pub manifest: String,
    /// `executionId` of the manifest (or its create-new folder); `""` when neither says.
    pub execution_id: String,
    pub manifest_last_modified_ms: Option<i64>,
    pub files: u64,
    pub rows: u64,
    pub bedrock_line_items: u64,
    /// The manifest marks example data.
    pub sample: bool,
}

/// Everything about a report but its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub period: String,
    pub previous_period: String,
    /// The period has ended as of `now_ms`.
    pub closed: bool,
    /// "Now": the configured `now`, else the clock (ms since the epoch).
    pub now_ms: i64,
    pub invoice: Invoice,
    /// The manifests read: the period's, then the previous period's, export by export.
    pub sources: Vec<SourceRead>,
    /// Every data file of the period has `pricing_public_on_demand_cost`.
    pub public_cost_known: bool,
    /// What a reader must know (open period, missing previous period, overlapping budgets, …).
    pub notes: Vec<String>,
}

fn source(export: &str, p: &PeriodRead) -> SourceRead {
    SourceRead {
        export: export.to_string(),
        billing_period: p.status.period.clone(),
        manifest: p.manifest_location.clone(),
        execution_id: p.status.execution_id.clone(),
        manifest_last_modified_ms: p.status.manifest_last_modified_ms,
        files: p.status.files,
        rows: p.status.rows,
        bedrock_line_items: p.status.stats.bedrock_rows,
        sample: p.status.sample,
    }
}

/// The report's provenance and notes, from what was read (before grouping).
pub fn describe(exports: &[ExportRead], periods: &Periods, now_ms: i64) -> Meta {
    let held: Vec<(&str, &PeriodRead)> = exports
        .iter()
        .filter_map(|e| Some((e.name.as_str(), e.period.as_ref()?)))
        .collect();
    let missing = |column: &str| {
        held.iter()
            .filter(|(_, p)| p.status.missing_columns.contains(&column))
            .map(|(e, _)| *e)
            .collect::<Vec<_>>()
    };
    let line_items: u64 = held.iter().map(|(_, p)| p.status.stats.bedrock_rows).sum();
    let invoiced: u64 = held.iter().map(|(_, p)| p.status.stats.invoiced_rows).sum();
    let no_invoice_column = missing(columns::INVOICE_ID);
    let invoice = if !no_invoice_column.is_empty() {
        Invoice::Unknown {
            reason: format!(
                "the export's data files lack bill_invoice_id ({})",
                no_invoice_column.join(", ")
            ),
        }
    } else if line_items == 0 {
        Invoice::Unknown {
            reason: "the period has no Bedrock line items".into(),
        }
    } else if invoiced == line_items {
        let mut ids: Vec<String> = held
            .iter()
            .flat_map(|(_, p)| p.status.stats.invoice_ids.iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();
        Invoice::Invoiced { ids }
    } else {
        Invoice::Open {
            without: line_items - invoiced,
            line_items,
        }
    };
    let mut notes = Vec::new();
    if !periods.closed {
        notes.push(format!(
            "{} is not over yet as of {}: the figures are month to date",
            periods.period,
            rfc3339(now_ms)
        ));
    }
    if held.iter().any(|(_, p)| p.status.sample) {
        notes.push(
            "example data (a manifest marked as sample, written by cur-sample), not a bill".into(),
        );
    }
    for e in exports.iter().filter(|e| e.period.is_none()) {
        notes.push(format!(
            "export {:?} holds no {} (it holds: {}); its spend is not in this report",
            e.name,
            periods.period,
            e.available.join(", ")
        ));
    }
    if exports.iter().all(|e| e.previous.is_none()) {
        notes.push(format!(
            "no export holds {}: previous_cost, change and change_ratio are empty",
            periods.previous
        ));
    }
    let no_public = missing(columns::PUBLIC_ON_DEMAND_COST);
    if !no_public.is_empty() {
        notes.push(format!(
            "the data files lack pricing_public_on_demand_cost ({}): public_on_demand_cost and discount are empty",
            no_public.join(", ")
        ));
    }
    let mut sources: Vec<SourceRead> = held.iter().map(|(e, p)| source(e, p)).collect();
    sources.extend(
        exports
            .iter()
            .filter_map(|e| Some(source(&e.name, e.previous.as_ref()?))),
    );
    Meta {
        period: periods.period.clone(),
        previous_period: periods.previous.clone(),
        closed: periods.closed,
        now_ms,
        invoice,
        sources,
        public_cost_known: no_public.is_empty(),
        notes,
    }
}

/// Notes the grouped table adds: overlapping budgets, per currency.
pub fn table_notes(table: &Table) -> Vec<String> {
    table
        .currencies
        .iter()
        .filter_map(|c| {
            let o = c.overlap.as_ref()?;
            Some(format!(
                "{}: budgets overlap: a line item matching several budgets' selectors counts under each, so the rows add up to {:.2} while the Bedrock total is {:.2}; share is of the total",
                c.currency, o.rows_cost, o.total
            ))
        })
        .collect()
}

/// RFC 3339 (UTC, seconds) of ms since the epoch.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// `YYYY-MM-DD` of the period's first and last day.
pub fn period_range(period: &str) -> Option<(String, String)> {
    let (first, last) = period_days(period)?;
    Some((
        crate::budget::day_string(first),
        crate::budget::day_string(last),
    ))
}
