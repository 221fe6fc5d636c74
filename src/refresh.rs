//! One refresh: list manifests, pick the newest execution of each selected billing period, read
//! exactly the files it lists, aggregate, and build a snapshot. The only place besides `main` that
//! wires stages together.
//!
//! Atomicity: a billing period is read whole or not at all. A period that fails keeps its last good
//! aggregate; a refresh publishes a snapshot only when every selected period has good data, so a
//! partial read is never published. A period whose manifest has not changed (same key, size, time
//! and ETag) is not read again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::aggregate::{AggregateOptions, PeriodAggregate, PeriodAggregator};
use crate::config::PeriodSelection;
use crate::cur::{self, CurError, FileStats, Format, manifest};
use crate::names::stage;
use crate::snapshot::Snapshot;
use crate::source::{LocalSource, ObjectMeta, S3Source, S3Stats, SourceError};
use crate::status::PeriodStatus;

/// The export's location. S3 calls are async; a refresh runs on a blocking thread (or outside the
/// runtime, for `once`) and drives them with the runtime's handle.
#[derive(Debug, Clone)]
pub enum Source {
    Local(LocalSource),
    S3 {
        s3: S3Source,
        rt: tokio::runtime::Handle,
    },
}

impl Source {
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, SourceError> {
        match self {
            Source::Local(l) => l.list(prefix),
            Source::S3 { s3, rt } => rt.block_on(s3.list(prefix)),
        }
    }

    pub fn get(&self, key: &str) -> Result<Vec<u8>, SourceError> {
        match self {
            Source::Local(l) => l.get(key),
            Source::S3 { s3, rt } => rt.block_on(s3.get(key)).map(|b| b.to_vec()),
        }
    }

    /// The object's full name for messages (path or `s3://` URI).
    pub fn location(&self, key: &str) -> String {
        match self {
            Source::Local(l) => l.location(key),
            Source::S3 { s3, .. } => s3.location(key),
        }
    }

    /// S3 self-metrics, for an S3 source.
    pub fn s3_stats(&self) -> Option<S3Stats> {
        match self {
            Source::Local(_) => None,
            Source::S3 { s3, .. } => Some(s3.stats()),
        }
    }

    fn read_data_file(
        &self,
        key: &str,
        sink: &mut dyn cur::RowSink,
    ) -> Result<FileStats, RefreshError> {
        let object = self.location(key);
        let format = Format::of_key(key).ok_or_else(|| {
            RefreshError::Decode(CurError::Manifest {
                object: object.clone(),
                message: "unknown data file format (expected .parquet, .csv.gz or .csv)".into(),
            })
        })?;
        match self {
            Source::Local(l) => {
                let file = l.open(key).map_err(RefreshError::Read)?;
                match format {
                    Format::Parquet => cur::parquet::read(file, &object, sink),
                    Format::CsvGz => cur::csv::read(file, true, &object, sink),
                    Format::Csv => cur::csv::read(file, false, &object, sink),
                }
                .map_err(RefreshError::Decode)
            }
            Source::S3 { s3, rt } => match format {
                Format::Parquet => {
                    let reader = s3.parquet_reader(key);
                    let mut stats = rt
                        .block_on(cur::parquet::read_async(reader.clone(), &object, sink))
                        .map_err(RefreshError::Decode)?;
                    stats.bytes = reader.fetched();
                    Ok(stats)
                }
                Format::CsvGz | Format::Csv => {
                    let body = rt.block_on(s3.stream(key)).map_err(RefreshError::Read)?;
                    let reader = tokio_util::io::SyncIoBridge::new_with_handle(body, rt.clone());
                    let stats = cur::csv::read(reader, format == Format::CsvGz, &object, sink)
                        .map_err(RefreshError::Decode)?;
                    s3.add_bytes(stats.bytes);
                    Ok(stats)
                }
            },
        }
    }
}

/// A refresh error, by stage.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("listing manifests: {0}")]
    List(SourceError),
    #[error("{0}")]
    NoManifest(String),
    #[error("{0}")]
    Manifest(CurError),
    #[error("{0}")]
    Read(SourceError),
    #[error("{0}")]
    Decode(CurError),
}

impl RefreshError {
    /// The `stage` label of the error counter.
    pub fn stage(&self) -> &'static str {
        match self {
            RefreshError::List(_) => stage::LIST,
            RefreshError::NoManifest(_) | RefreshError::Manifest(_) => stage::MANIFEST,
            RefreshError::Read(_) | RefreshError::Decode(CurError::Io { .. }) => stage::READ,
            RefreshError::Decode(_) => stage::DECODE,
        }
    }
}

/// Receives progress of a refresh (a terminal progress bar, or log lines).
pub trait Progress {
    fn period_started(&mut self, _period: &str, _files: usize, _bytes: u64) {}
    fn file_done(&mut self, _period: &str, _key: &str, _stats: &FileStats) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What one refresh produced.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// The snapshot to publish; `None` when some selected period has no good data.
    pub snapshot: Option<Arc<Snapshot>>,
    /// The periods of `snapshot`.
    pub periods: Vec<PeriodStatus>,
    pub errors: Vec<RefreshError>,
    pub rows_read: u64,
    pub bytes_read: u64,
    pub files_read: u64,
    /// Periods re-read this time (the others were unchanged).
    pub periods_read: Vec<String>,
}

struct Cached {
    manifest: ObjectMeta,
    aggregate: Arc<PeriodAggregate>,
    status: PeriodStatus,
}

/// Refreshes repeatedly, keeping each period's last good aggregate.
pub struct Refresher {
    source: Source,
    opts: AggregateOptions,
    periods: PeriodSelection,
    max_series: usize,
    cache: BTreeMap<String, Cached>,
    /// Data files decoded in parallel at most.
    workers: usize,
    /// Unknown usage types already logged (each is logged once per process).
    unknown_logged: std::collections::HashSet<String>,
}

impl Refresher {
    pub fn new(
        source: Source,
        opts: AggregateOptions,
        periods: PeriodSelection,
        max_series: usize,
    ) -> Self {
        Refresher {
            source,
            opts,
            periods,
            max_series,
            cache: BTreeMap::new(),
            workers: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
            unknown_logged: std::collections::HashSet::new(),
        }
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn refresh(&mut self, progress: &mut dyn Progress) -> RefreshReport {
        let mut report = RefreshReport::default();
        let listing = match self.source.list("metadata/") {
            Ok(l) => l,
            Err(e) => {
                report.errors.push(RefreshError::List(e));
                return report;
            }
        };
        let latest = manifest::latest_per_period(&listing);
        if latest.is_empty() {
            report.errors.push(RefreshError::NoManifest(format!(
                "no manifest found under {}: expected metadata/BILLING_PERIOD=YYYY-MM/…-Manifest.json; is the source the export root (the folder holding data/ and metadata/)?",
                self.source.location("metadata/")
            )));
            return report;
        }
        let selected = self.periods.select(latest.keys());
        if selected.is_empty() {
            report.errors.push(RefreshError::NoManifest(format!(
                "none of the configured billing periods has a manifest; available: {}",
                latest.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
            return report;
        }
        self.cache.retain(|p, _| selected.contains(p));
        // Manifests first (small); then every listed file of every changed period, in one pool.
        let mut plans = Vec::new();
        for period in &selected {
            let meta = &latest[period];
            if self.cache.get(period).is_some_and(|c| c.manifest == *meta) {
                tracing::debug!(period, manifest = %meta.key, "manifest unchanged; reusing the period's aggregate");
                continue;
            }
            report.periods_read.push(period.clone());
            match self.plan_period(period, meta) {
                Ok(plan) => plans.push(plan),
                Err(e) => self.period_failed(period, e, &mut report),
            }
        }
        for (plan, result) in self.read_periods(&plans, progress, &mut report) {
            match result {
                Ok((aggregate, status)) => {
                    self.log_unknown_usage_types(&plan.period, &aggregate.stats);
                    self.cache.insert(
                        plan.period.clone(),
                        Cached {
                            manifest: plan.meta.clone(),
                            aggregate: Arc::new(aggregate),
                            status,
                        },
                    );
                }
                Err(e) => self.period_failed(&plan.period, e, &mut report),
            }
        }
        if selected.iter().all(|p| self.cache.contains_key(p)) {
            let aggs: Vec<&PeriodAggregate> =
                selected.iter().map(|p| &*self.cache[p].aggregate).collect();
            report.snapshot = Some(Arc::new(Snapshot::build(aggs, self.max_series)));
            report.periods = selected
                .iter()
                .map(|p| self.cache[p].status.clone())
                .collect();
        }
        report
    }

    /// Logs each usage type no rule recognises, the first time it is seen.
    fn log_unknown_usage_types(&mut self, period: &str, stats: &crate::aggregate::PeriodStats) {
        for (usage_type, rows) in &stats.unknown_usage_types {
            if self.unknown_logged.insert(usage_type.clone()) {
                tracing::warn!(
                    period,
                    usage_type = %usage_type,
                    rows,
                    "unknown Bedrock usage type: its cost is counted (direction=\"other\"), but no rule names its token kind; check the labels it gets, map its model with models.rename if needed, and report the string"
                );
            }
        }
    }

    fn period_failed(&self, period: &str, e: RefreshError, report: &mut RefreshReport) {
        let kept = self.cache.contains_key(period);
        tracing::error!(period, error = %e, stage = e.stage(), kept_last_good = kept, "billing period not refreshed");
        report.errors.push(e);
    }

    /// Reads and checks a period's manifest.
    fn plan_period(&self, period: &str, meta: &ObjectMeta) -> Result<PeriodPlan, RefreshError> {
        let location = self.source.location(&meta.key);
        let bytes = self.source.get(&meta.key).map_err(RefreshError::Read)?;
        let m = manifest::parse(&bytes, &location).map_err(RefreshError::Manifest)?;
        for key in &m.data_files {
            if manifest::period_of_key(key) != Some(period) {
                return Err(RefreshError::Manifest(CurError::Manifest {
                    object: location.clone(),
                    message: format!("lists {key}, which is not in billing period {period}"),
                }));
            }
        }
        let execution_id = m
            .execution_id
            .clone()
            .or_else(|| manifest::execution_folder(&meta.key).map(str::to_string))
            .unwrap_or_default();
        Ok(PeriodPlan {
            period: period.to_string(),
            meta: meta.clone(),
            execution_id,
            files: m.data_files,
        })
    }

    /// Decodes the files of every plan with a pool of workers. Files are dealt round-robin; each
    /// worker keeps one aggregator per period, and a period's parts merge in worker order, so the
    /// sums do not depend on timing. A failing file fails its period only.
    fn read_periods<'p>(
        &self,
        plans: &'p [PeriodPlan],
        progress: &mut dyn Progress,
        report: &mut RefreshReport,
    ) -> Vec<(&'p PeriodPlan, PeriodResult)> {
        let units: Vec<(usize, &String)> = plans
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.files.iter().map(move |f| (i, f)))
            .collect();
        let mut statuses: Vec<PeriodStatus> = plans
            .iter()
            .map(|p| {
                progress.period_started(&p.period, p.files.len(), 0);
                PeriodStatus {
                    period: p.period.clone(),
                    manifest_key: p.meta.key.clone(),
                    execution_id: p.execution_id.clone(),
                    principal_column: true,
                    net_cost_column: true,
                    ..PeriodStatus::default()
                }
            })
            .collect();
        let workers = self.workers.min(units.len()).max(1);
        let failed: Vec<AtomicBool> = plans.iter().map(|_| AtomicBool::new(false)).collect();
        type Part = Option<Result<PeriodAggregate, RefreshError>>;
        let (tx, rx) = std::sync::mpsc::channel::<(usize, &String, FileStats)>();
        let parts: Vec<Vec<Part>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let tx = tx.clone();
                    let mine: Vec<(usize, &String)> =
                        units.iter().copied().skip(w).step_by(workers).collect();
                    let (opts, source, failed) = (&self.opts, &self.source, &failed);
                    scope.spawn(move || -> Vec<Part> {
                        let mut aggs: Vec<Option<PeriodAggregator>> =
                            plans.iter().map(|_| None).collect();
                        let mut errors: Vec<Option<RefreshError>> =
                            plans.iter().map(|_| None).collect();
                        for (i, key) in mine {
                            if failed[i].load(Ordering::Relaxed) {
                                continue;
                            }
                            let agg = aggs[i].get_or_insert_with(|| {
                                PeriodAggregator::new(&plans[i].period, opts)
                            });
                            match source.read_data_file(key, agg) {
                                Ok(stats) => {
                                    let _ = tx.send((i, key, stats));
                                }
                                Err(e) => {
                                    failed[i].store(true, Ordering::Relaxed);
                                    errors[i] = Some(e);
                                }
                            }
                        }
                        aggs.into_iter()
                            .zip(errors)
                            .map(|(agg, err)| match err {
                                Some(e) => Some(Err(e)),
                                None => agg.map(|a| Ok(a.finish())),
                            })
                            .collect()
                    })
                })
                .collect();
            drop(tx);
            for (i, key, stats) in rx.iter() {
                progress.file_done(&plans[i].period, key, &stats);
                report.files_read += 1;
                report.rows_read += stats.rows;
                report.bytes_read += stats.bytes;
                add_file(&mut statuses[i], &stats);
            }
            handles
                .into_iter()
                .map(|h| h.join().expect("a decoding worker panicked"))
                .collect()
        });
        // Per period: the first error in worker order, or the parts merged in worker order.
        let mut parts = parts;
        let mut out = Vec::with_capacity(plans.len());
        for (i, (plan, mut status)) in plans.iter().zip(statuses).enumerate() {
            let mut period_parts = Vec::new();
            let mut error = None;
            for worker in parts.iter_mut() {
                match worker[i].take() {
                    Some(Ok(a)) => period_parts.push(a),
                    Some(Err(e)) => {
                        error.get_or_insert(e);
                    }
                    None => {}
                }
            }
            if let Some(e) = error {
                out.push((plan, Err(e)));
                continue;
            }
            let aggregate = PeriodAggregate::merge(&plan.period, period_parts);
            status.stats = aggregate.stats.clone();
            status.newest_usage_end_ms = crate::status::freshness_ms(
                aggregate.stats.newest_usage_end_ms,
                plan.meta.last_modified_ms,
            );
            log_period(plan, &status, aggregate.series.len());
            out.push((plan, Ok((aggregate, status))));
        }
        out
    }
}

/// A period read: its aggregate and status, or why it failed.
type PeriodResult = Result<(PeriodAggregate, PeriodStatus), RefreshError>;

/// A period to read: its manifest and the files it lists.
struct PeriodPlan {
    period: String,
    meta: ObjectMeta,
    execution_id: String,
    files: Vec<String>,
}

/// Adds one file's stats to its period's status.
fn add_file(status: &mut PeriodStatus, stats: &FileStats) {
    status.files += 1;
    status.rows += stats.rows;
    status.bytes += stats.bytes;
    if stats.missing_columns.contains(&cur::columns::IAM_PRINCIPAL) {
        status.principal_column = false;
    }
    if stats
        .missing_columns
        .contains(&cur::columns::NET_UNBLENDED_COST)
    {
        status.net_cost_column = false;
    }
}

/// Says what a period read found, and what is missing.
fn log_period(plan: &PeriodPlan, status: &PeriodStatus, series: usize) {
    let period = plan.period.as_str();
    if !status.principal_column {
        tracing::warn!(
            period,
            "the export has no line_item_iam_principal column: every Bedrock line item is principal=\"unattributed\". Turn on \"Include caller identity (IAM principal) allocation data\" (INCLUDE_IAM_PRINCIPAL_DATA) in the Data Export; data exists from 2026-04-08 on"
        );
    }
    if status.stats.bedrock_rows == 0 {
        tracing::warn!(
            period,
            files = status.files,
            rows = status.rows,
            "no Amazon Bedrock line items in this billing period"
        );
    }
    tracing::info!(
        period,
        manifest = %plan.meta.key,
        files = status.files,
        rows = status.rows,
        bedrock_rows = status.stats.bedrock_rows,
        series,
        "billing period read"
    );
}
