//! Reads what a report needs: the reported billing period and the one before it, from every
//! configured export, exactly as a refresh reads them (the same [`Refresher`]: newest manifest per
//! period, only the files it lists, Parquet by projected column chunks) — with
//! [`crate::aggregate::AggregateOptions::detail`] on, so the decoders also read the columns only the report needs
//! ([`Projection::Report`](crate::cur::columns::Projection)). The daemon's own reads are untouched.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::aggregate::PeriodAggregate;
use crate::budget::{BudgetSettings, SpikeSettings};
use crate::config::{Config, PeriodSelection};
use crate::refresh::{NoProgress, RefreshError, Refresher};
use crate::source::Source;
use crate::status::PeriodStatus;

use super::command::ReportError;
use super::period::Periods;

/// One billing period of one export, as read.
#[derive(Debug, Clone)]
pub struct PeriodRead {
    /// Its series before the series cap, with the report's detail.
    pub aggregate: Arc<PeriodAggregate>,
    pub status: PeriodStatus,
    /// Where its manifest is (`s3://…/metadata/…-Manifest.json` or a path).
    pub manifest_location: String,
}

/// What one export holds of the report's periods.
#[derive(Debug, Clone)]
pub struct ExportRead {
    /// The export's name (its `export` label).
    pub name: String,
    /// The reported period, when the export holds it.
    pub period: Option<PeriodRead>,
    /// The period before, when the export holds it.
    pub previous: Option<PeriodRead>,
    /// Every billing period the export holds.
    pub available: Vec<String>,
}

/// Reads the report's periods from every export (configuration order). Fails when a read fails
/// (nothing is reported from partial data), or when no export holds the reported period.
pub fn load(
    config: &Config,
    sources: Vec<(String, Source)>,
    periods: &Periods,
) -> Result<Vec<ExportRead>, ReportError> {
    let mut opts = config.aggregate.clone();
    opts.detail = true;
    let selection = PeriodSelection::Explicit(BTreeSet::from([
        periods.period.clone(),
        periods.previous.clone(),
    ]));
    let locate: Vec<Source> = sources.iter().map(|(_, s)| s.clone()).collect();
    // No budgets and no spike series: the report groups the aggregates itself.
    let quiet = BudgetSettings {
        spikes: SpikeSettings {
            top_principals: 0,
            ..SpikeSettings::default()
        },
        ..BudgetSettings::default()
    };
    let mut refresher = Refresher::new(sources, opts, selection, config.max_series)
        .with_budgets(quiet, config.now_ms);
    let report = refresher.refresh(&mut NoProgress);
    // An export that holds periods, but neither of these, has nothing to add (the error is the
    // refresh's way of saying so); the report says it, and fails only when no export holds the
    // period.
    let holds_neither = |e: &crate::refresh::ExportReport| {
        !e.available_periods.is_empty()
            && e.errors
                .iter()
                .all(|err| matches!(err, RefreshError::NoManifest(_)))
    };
    let errors: Vec<String> = report
        .exports
        .iter()
        .filter(|e| !holds_neither(e))
        .flat_map(|e| {
            e.errors.iter().map(move |err| {
                if config.exports.len() > 1 {
                    format!("[{}] export {:?}: {err}", err.stage(), e.name)
                } else {
                    format!("[{}] {err}", err.stage())
                }
            })
        })
        .collect();
    if !errors.is_empty() {
        return Err(ReportError::Read(errors));
    }
    let out: Vec<ExportRead> = report
        .exports
        .into_iter()
        .zip(&locate)
        .map(|(e, source)| {
            let mut read = ExportRead {
                name: e.name,
                period: None,
                previous: None,
                available: e.available_periods,
            };
            for (status, aggregate) in e.periods.into_iter().zip(e.aggregates) {
                let p = PeriodRead {
                    manifest_location: source.location(&status.manifest_key),
                    aggregate,
                    status,
                };
                if p.status.period == periods.period {
                    read.period = Some(p);
                } else if p.status.period == periods.previous {
                    read.previous = Some(p);
                }
            }
            read
        })
        .collect();
    if out.iter().all(|e| e.period.is_none()) {
        let available: BTreeSet<String> = out
            .iter()
            .flat_map(|e| e.available.iter().cloned())
            .collect();
        return Err(ReportError::NoPeriod {
            period: periods.period.clone(),
            available: available.into_iter().collect(),
        });
    }
    Ok(out)
}
