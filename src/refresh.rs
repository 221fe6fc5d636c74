//! One refresh: list manifests, pick the newest execution of each selected billing period, read
//! exactly the files it lists, aggregate, and build a snapshot. Plans, caches and schedules; the
//! stages it wires live in `source`, `cur`, `aggregate` and `snapshot`.
//!
//! Atomicity: a billing period is read whole or not at all. A period that fails keeps its last good
//! aggregate; a refresh publishes a snapshot only when every selected period has good data, so a
//! partial read is never published. A period whose manifest has not changed (same key, size, time
//! and ETag) is not read again.
//!
//! Scheduling: the work of every changed period is cut into units — one per Parquet row group
//! (footers are read first, in parallel), one per CSV file, which cannot be split — so a period
//! that arrives as one big file keeps every core busy. Units are dealt round-robin to a fixed
//! number of workers on a `rayon` pool; each worker keeps one aggregator per period, and a period's
//! parts merge in worker order. The assignment is static on purpose: the sums are then bit-for-bit
//! the same whatever the timing (a work-stealing split would make the order of floating-point
//! additions depend on it).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::aggregate::{AggregateOptions, PeriodAggregate, PeriodAggregator, PeriodPart};
use crate::budget::BudgetSettings;
use crate::config::PeriodSelection;
use crate::cur::columns::Projection;
use crate::cur::parquet::{FOOTER_GUESS, ParquetPlan, metadata_range};
use crate::cur::{self, CurError, FileStats, Format, manifest};
use crate::names::stage;
use crate::snapshot::Snapshot;
use crate::source::{ObjectMeta, Source, SourceError};
use crate::status::PeriodStatus;

/// A refresh error, by stage.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("listing manifests: {0}")]
    List(#[source] SourceError),
    #[error("{0}")]
    NoManifest(String),
    #[error(transparent)]
    Manifest(CurError),
    #[error(transparent)]
    Read(SourceError),
    #[error(transparent)]
    Decode(CurError),
    /// Two exports hold the same payer's bill for the same period: the later one (in configuration
    /// order) is refused for that period, as adding both would count the cost twice.
    #[error(
        "exports {first:?} and {second:?} both hold billing period {period} of payer account {payer:?}: adding both would count its cost twice; export {second:?} is left out for {period} (remove one of the two exports, or point one at another payer)"
    )]
    Duplicate {
        first: String,
        second: String,
        payer: String,
        period: String,
    },
    /// A billing period's currency codes cannot name metrics: one is not three letters, or two
    /// differ only by case ([`crate::currency::check_codes`]). Counted as a decode error: the
    /// bytes were read, but the data they hold cannot be served.
    #[error(
        "{object}: billing period {period}: line_item_currency_code: {message}; the billing period keeps its last good data"
    )]
    Currency {
        /// The period's manifest.
        object: String,
        period: String,
        message: String,
    },
    /// A panic while reading an object (or refreshing an export): a bug, caught so that it costs
    /// one period's (or that export's) refresh only.
    #[error(
        "{object}: internal error (a bug; please report it with this message): {message}; the last good data stays"
    )]
    Internal { object: String, message: String },
}

impl RefreshError {
    /// The `stage` label of the error counter.
    pub fn stage(&self) -> &'static str {
        match self {
            RefreshError::List(_) => stage::LIST,
            RefreshError::NoManifest(_) | RefreshError::Manifest(_) => stage::MANIFEST,
            RefreshError::Read(_) | RefreshError::Decode(CurError::Io { .. }) => stage::READ,
            RefreshError::Decode(_) | RefreshError::Currency { .. } => stage::DECODE,
            RefreshError::Duplicate { .. } => stage::DUPLICATE,
            RefreshError::Internal { .. } => stage::INTERNAL,
        }
    }
}

/// Receives progress of a refresh (a terminal progress bar, or log lines).
pub trait Progress {
    fn period_started(&mut self, _period: &str, _files: usize, _bytes: u64) {}
    fn file_done(&mut self, _period: &str, _key: &str, _stats: &FileStats) {}
    /// An export could not be refreshed at all (listing, manifests); its last good data stays.
    fn export_failed(&mut self, _export: &str, _error: &RefreshError) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What one refresh produced.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// The snapshot to publish: every export's last complete data (see [`Refresher::refresh`]);
    /// `None` while no export has any.
    pub snapshot: Option<Arc<Snapshot>>,
    /// Per export, in configuration order.
    pub exports: Vec<ExportReport>,
}

impl RefreshReport {
    /// Every export's errors.
    pub fn errors(&self) -> impl Iterator<Item = &RefreshError> {
        self.exports.iter().flat_map(|e| e.errors.iter())
    }

    /// The periods in the snapshot, every export's.
    pub fn periods(&self) -> Vec<PeriodStatus> {
        self.exports
            .iter()
            .flat_map(|e| e.periods.iter().cloned())
            .collect()
    }
}

/// What one refresh did for one export.
#[derive(Debug, Default)]
pub struct ExportReport {
    pub name: String,
    pub errors: Vec<RefreshError>,
    pub rows_read: u64,
    pub bytes_read: u64,
    pub files_read: u64,
    /// Periods re-read this time (the others were unchanged).
    pub periods_read: Vec<String>,
    /// Every selected period has good data now, and none was refused as a duplicate.
    pub complete: bool,
    /// The export has data in the snapshot (now or from an earlier refresh).
    pub has_data: bool,
    /// The export's periods in the snapshot.
    pub periods: Vec<PeriodStatus>,
    /// Their aggregates (before the series cap), in the order of `periods`.
    pub aggregates: Vec<Arc<PeriodAggregate>>,
    /// The billing periods the export holds (a manifest, or bare files), whether selected or not.
    pub available_periods: Vec<String>,
    /// S3 requests and bytes so far, for an S3 source.
    pub s3: Option<crate::source::S3Stats>,
}

struct Cached {
    manifest: ObjectMeta,
    aggregate: Arc<PeriodAggregate>,
    status: PeriodStatus,
}

/// One export's source, cache and last complete data.
struct Export {
    name: String,
    source: Source,
    cache: BTreeMap<String, Cached>,
    /// The periods of its last complete refresh (every selected period good), served until the
    /// next complete one.
    published: Option<Vec<(Arc<PeriodAggregate>, PeriodStatus)>>,
}

/// Refreshes repeatedly, keeping each export's and period's last good aggregate.
pub struct Refresher {
    exports: Vec<Export>,
    opts: AggregateOptions,
    periods: PeriodSelection,
    max_series: usize,
    pool: rayon::ThreadPool,
    budgets: BudgetSettings,
    /// A fixed "now" (ms since the epoch) instead of the clock.
    now_ms: Option<i64>,
    /// Unknown usage types already logged (each is logged once per process).
    unknown_logged: std::collections::HashSet<String>,
    /// Test hook: refreshing the export of this name panics (a stand-in for a bug).
    #[cfg(test)]
    pub(crate) panic_in_export: Option<String>,
}

/// Workers for a source: one per core, and more for S3, whose units wait on the network (up to
/// the GET bound).
fn workers_for(source: &Source) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if source.is_remote() {
        cores.max(8).min(cores * 4)
    } else {
        cores
    }
}

impl Refresher {
    /// `exports`: `(name, source)` in configuration order (the order decides which of two
    /// exports holding the same payer and period is refused).
    pub fn new(
        exports: Vec<(String, Source)>,
        opts: AggregateOptions,
        periods: PeriodSelection,
        max_series: usize,
    ) -> Self {
        let workers = exports
            .iter()
            .map(|(_, s)| workers_for(s))
            .max()
            .unwrap_or(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("bce-decode-{i}"))
            .build()
            .expect("starting decoding threads");
        Refresher {
            exports: exports
                .into_iter()
                .map(|(name, source)| Export {
                    name,
                    source,
                    cache: BTreeMap::new(),
                    published: None,
                })
                .collect(),
            opts,
            periods,
            max_series,
            pool,
            budgets: BudgetSettings::default(),
            now_ms: None,
            unknown_logged: std::collections::HashSet::new(),
            #[cfg(test)]
            panic_in_export: None,
        }
    }

    /// Budgets to evaluate on every snapshot, and a fixed "now" (tests, replays) or `None` for
    /// the clock.
    pub fn with_budgets(mut self, budgets: BudgetSettings, now_ms: Option<i64>) -> Self {
        self.set_budgets(budgets, now_ms);
        self
    }

    /// Replaces the budgets and the fixed "now" (a configuration reload).
    pub fn set_budgets(&mut self, budgets: BudgetSettings, now_ms: Option<i64>) {
        self.budgets = budgets;
        self.now_ms = now_ms;
    }

    /// The cap on Bedrock series.
    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// The export names, in configuration order.
    pub fn export_names(&self) -> Vec<String> {
        self.exports.iter().map(|e| e.name.clone()).collect()
    }

    /// Applies reloaded settings. Cached period aggregates were built with the old aggregation
    /// options: when those change, the cache is dropped and the next refresh rereads every period.
    /// The series cap and the period selection apply to the next snapshot as they are.
    pub fn reconfigure(
        &mut self,
        opts: AggregateOptions,
        periods: PeriodSelection,
        max_series: usize,
    ) {
        if opts != self.opts {
            for e in &mut self.exports {
                e.cache.clear();
            }
            self.opts = opts;
        }
        self.periods = periods;
        self.max_series = max_series;
    }

    /// Refreshes every export in turn, then builds one snapshot from each export's last complete
    /// data: an export that fails keeps serving its last good data while the others update. Two
    /// exports holding the same payer's same billing period: the later one is refused for that
    /// period ([`RefreshError::Duplicate`]). Budgets and the series cap apply to the whole.
    pub fn refresh(&mut self, progress: &mut dyn Progress) -> RefreshReport {
        let mut exports = std::mem::take(&mut self.exports);
        // A panic (a bug) is caught per export and charged to it: the other exports still refresh,
        // and the exports are always put back.
        let mut reports: Vec<ExportReport> = exports
            .iter_mut()
            .map(|e| {
                let object = e.source.location("");
                let name = e.name.clone();
                catch_unwind(AssertUnwindSafe(|| self.refresh_export(e, progress))).unwrap_or_else(
                    |panic| ExportReport {
                        name,
                        errors: vec![RefreshError::Internal {
                            object,
                            message: panic_message(&*panic),
                        }],
                        ..ExportReport::default()
                    },
                )
            })
            .collect();
        self.exports = exports;
        // Which export holds each (payer, period) first.
        let mut holder: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut aggs: Vec<Arc<PeriodAggregate>> = Vec::new();
        for (i, (export, report)) in self.exports.iter().zip(&mut reports).enumerate() {
            let Some(published) = &export.published else {
                continue;
            };
            report.has_data = true;
            for (aggregate, status) in published {
                let mut refused = false;
                for payer in payers_of(aggregate) {
                    let key = (payer, aggregate.period.clone());
                    match holder.get(&key) {
                        Some(&first) if first != i => {
                            let e = RefreshError::Duplicate {
                                first: self.exports[first].name.clone(),
                                second: export.name.clone(),
                                payer: key.0.clone(),
                                period: key.1.clone(),
                            };
                            tracing::error!(export = %export.name, error = %e, stage = e.stage(), "billing period refused");
                            report.errors.push(e);
                            report.complete = false;
                            refused = true;
                        }
                        _ => {}
                    }
                }
                if refused {
                    continue;
                }
                for payer in payers_of(aggregate) {
                    holder.entry((payer, aggregate.period.clone())).or_insert(i);
                }
                aggs.push(aggregate.clone());
                report.periods.push(status.clone());
                report.aggregates.push(aggregate.clone());
            }
        }
        if reports.iter().all(|r| !r.has_data) {
            return RefreshReport {
                snapshot: None,
                exports: reports,
            };
        }
        let refs: Vec<&PeriodAggregate> = aggs.iter().map(|a| &**a).collect();
        let mut snapshot = Snapshot::build(refs.iter().copied(), self.max_series);
        let newest_usage_ms = reports
            .iter()
            .flat_map(|r| r.periods.iter())
            .filter_map(|p| p.newest_usage_end_ms)
            .max();
        let now_ms = self.now_ms.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
        });
        snapshot.budgets = crate::budget::evaluate(&self.budgets, &refs, newest_usage_ms, now_ms);
        RefreshReport {
            snapshot: Some(Arc::new(snapshot)),
            exports: reports,
        }
    }

    /// One export: list manifests, read changed periods, and update its complete data when every
    /// selected period is good.
    fn refresh_export(&mut self, export: &mut Export, progress: &mut dyn Progress) -> ExportReport {
        #[cfg(test)]
        if self.panic_in_export.as_deref() == Some(export.name.as_str()) {
            panic!("test hook: a bug while refreshing export {}", export.name);
        }
        let mut report = ExportReport {
            name: export.name.clone(),
            ..ExportReport::default()
        };
        self.read_export(export, progress, &mut report);
        report.s3 = export.source.s3_stats();
        report
    }

    fn read_export(
        &mut self,
        export: &mut Export,
        progress: &mut dyn Progress,
        report: &mut ExportReport,
    ) {
        let source = &export.source;
        let listing = match source.list("metadata/") {
            Ok(l) => l,
            Err(e) => {
                self.failed(&export.name, RefreshError::List(e), progress, report);
                return;
            }
        };
        let mut latest = manifest::latest_per_period(&listing);
        // No manifest: bare data files, when the source holds some (grouped by the period their
        // path names; see `cur::bare` for what is lost).
        let mut bare: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if latest.is_empty() {
            let all = match source.list("") {
                Ok(l) => l,
                Err(e) => {
                    self.failed(&export.name, RefreshError::List(e), progress, report);
                    return;
                }
            };
            let (periods, unknown) = crate::cur::bare::plan(&all, |k| source.location(k));
            if let Some(u) = unknown.first() {
                let e = RefreshError::NoManifest(format!(
                    "{}: a data file without a manifest, and its path names no billing period: put it under a BILLING_PERIOD=YYYY-MM folder, as AWS does (or name the month, YYYY-MM, in its file name){}",
                    u.location,
                    if unknown.len() > 1 {
                        format!(" ({} such files)", unknown.len())
                    } else {
                        String::new()
                    }
                ));
                self.failed(&export.name, e, progress, report);
                return;
            }
            if periods.is_empty() {
                let e = RefreshError::NoManifest(format!(
                    "no manifest found under {} and no data file (.parquet, .csv.gz, .csv) in {}: expected metadata/BILLING_PERIOD=YYYY-MM/…-Manifest.json; is the source the export root (the folder holding data/ and metadata/), or a data file?",
                    source.location("metadata/"),
                    source.location("")
                ));
                self.failed(&export.name, e, progress, report);
                return;
            }
            let files: usize = periods.values().map(|p| p.files.len()).sum();
            tracing::warn!(
                export = %export.name,
                files,
                periods = periods.keys().cloned().collect::<Vec<_>>().join(","),
                "reading bare data files without a manifest: every data file found counts, so a stale chunk an overwrite left behind or an older create-new execution is read too (the manifest says which files count; sync metadata/ as well to use it)"
            );
            for (period, p) in periods {
                latest.insert(period.clone(), p.meta);
                bare.insert(period, p.files);
            }
        }
        report.available_periods = latest.keys().cloned().collect();
        let selected = self.periods.select(latest.keys());
        if selected.is_empty() {
            let e = RefreshError::NoManifest(format!(
                "{}: none of the configured billing periods has a manifest; available: {}",
                source.location("metadata/"),
                latest.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            self.failed(&export.name, e, progress, report);
            return;
        }
        export.cache.retain(|p, _| selected.contains(p));
        // Manifests first (small); then every listed file of every changed period, together.
        let mut plans = Vec::new();
        let mut failures = Vec::new();
        for period in &selected {
            let meta = &latest[period];
            if export
                .cache
                .get(period)
                .is_some_and(|c| c.manifest == *meta)
            {
                tracing::debug!(export = %export.name, period, manifest = %meta.key, "manifest unchanged; reusing the period's aggregate");
                continue;
            }
            report.periods_read.push(period.clone());
            if let Some(files) = bare.remove(period) {
                plans.push(PeriodPlan {
                    period: period.clone(),
                    meta: meta.clone(),
                    execution_id: String::new(),
                    files,
                    sample: false,
                });
                continue;
            }
            match plan_period(source, period, meta) {
                Ok(plan) => plans.push(plan),
                Err(e) => failures.push((period.clone(), e)),
            }
        }
        let results = self.read_periods(source, &plans, progress, report);
        for (plan, result) in results {
            match result {
                Ok((aggregate, status)) => {
                    self.log_unknown_usage_types(&plan.period, &aggregate.stats);
                    export.cache.insert(
                        plan.period.clone(),
                        Cached {
                            manifest: plan.meta.clone(),
                            aggregate: Arc::new(aggregate),
                            status,
                        },
                    );
                }
                Err(e) => failures.push((plan.period.clone(), e)),
            }
        }
        for (period, e) in failures {
            let kept = export.cache.contains_key(&period);
            tracing::error!(export = %export.name, period, error = %e, stage = e.stage(), kept_last_good = kept, "billing period not refreshed");
            report.errors.push(e);
        }
        if selected.iter().all(|p| export.cache.contains_key(p)) {
            export.published = Some(
                selected
                    .iter()
                    .map(|p| {
                        let c = &export.cache[p];
                        (c.aggregate.clone(), c.status.clone())
                    })
                    .collect(),
            );
            report.complete = report.errors.is_empty();
        }
    }

    /// An error of the export as a whole (listing, no manifest): reported, not logged here (the
    /// caller prints or counts it), as with one export.
    fn failed(
        &self,
        export: &str,
        e: RefreshError,
        progress: &mut dyn Progress,
        report: &mut ExportReport,
    ) {
        tracing::debug!(export, error = %e, stage = e.stage(), "export not refreshed; its last good data stays");
        progress.export_failed(export, &e);
        report.errors.push(e);
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

    /// Opens every data file of the plans: a Parquet file's footer gives its plan and row groups.
    fn open_files(
        &self,
        source: &Source,
        plans: &[PeriodPlan],
    ) -> Vec<(usize, Result<DataFile, RefreshError>)> {
        let files: Vec<(usize, &String)> = plans
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.files.iter().map(move |f| (i, f)))
            .collect();
        self.pool.install(|| {
            files
                .par_iter()
                .map(|&(period, key)| {
                    let opened = guarded(&source.location(key), || {
                        open_file(source, period, key, self.opts.projection())
                    });
                    (period, opened)
                })
                .collect()
        })
    }

    /// Decodes every file of every plan (see the module docs for the scheduling). A failing file
    /// fails its period only.
    fn read_periods<'p>(
        &self,
        source: &Source,
        plans: &'p [PeriodPlan],
        progress: &mut dyn Progress,
        report: &mut ExportReport,
    ) -> Vec<(&'p PeriodPlan, PeriodResult)> {
        let mut statuses: Vec<PeriodStatus> = plans
            .iter()
            .map(|p| {
                progress.period_started(&p.period, p.files.len(), 0);
                PeriodStatus {
                    period: p.period.clone(),
                    manifest_key: p.meta.key.clone(),
                    manifest_last_modified_ms: p.meta.last_modified_ms,
                    execution_id: p.execution_id.clone(),
                    sample: p.sample,
                    principal_column: true,
                    net_cost_column: true,
                    ..PeriodStatus::default()
                }
            })
            .collect();
        let mut errors: Vec<Option<RefreshError>> = plans.iter().map(|_| None).collect();
        let mut files = Vec::new();
        for (period, opened) in self.open_files(source, plans) {
            match opened {
                Ok(f) => files.push(f),
                Err(e) => {
                    errors[period].get_or_insert(e);
                }
            }
        }
        let units: Vec<Unit> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| errors[f.period].is_none())
            .flat_map(|(i, f)| match &f.kind {
                FileKind::Parquet(p) => (0..p.row_groups())
                    .map(|rg| Unit {
                        file: i,
                        row_group: Some(rg),
                    })
                    .collect::<Vec<_>>(),
                FileKind::Csv { .. } => vec![Unit {
                    file: i,
                    row_group: None,
                }],
            })
            .collect();
        let mut remaining: Vec<usize> = vec![0; files.len()];
        for u in &units {
            remaining[u.file] += 1;
        }
        let mut file_stats: Vec<FileStats> = files.iter().map(DataFile::stats_before).collect();
        let failed: Vec<AtomicBool> = plans
            .iter()
            .enumerate()
            .map(|(i, _)| AtomicBool::new(errors[i].is_some()))
            .collect();
        let workers = self.pool.current_num_threads().min(units.len()).max(1);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, FileStats)>();
        let parts: Vec<WorkerParts> = std::thread::scope(|scope| {
            let (units, files, failed, opts) = (&units, &files, &failed, &self.opts);
            let pool = &self.pool;
            let handle = scope.spawn(move || {
                pool.install(|| {
                    (0..workers)
                        .into_par_iter()
                        .map(|w| {
                            let mine = units.iter().skip(w).step_by(workers);
                            run_worker(mine, files, plans, opts, source, failed, tx.clone())
                        })
                        .collect::<Vec<_>>()
                })
            });
            for (file, stats) in rx.iter() {
                let f = &files[file];
                report.rows_read += stats.rows;
                report.bytes_read += stats.bytes;
                add_unit(&mut file_stats[file], &stats);
                remaining[file] -= 1;
                if remaining[file] == 0 {
                    report.files_read += 1;
                    add_file(&mut statuses[f.period], &file_stats[file]);
                    progress.file_done(&plans[f.period].period, &f.key, &file_stats[file]);
                }
            }
            handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        });
        // Per period: the first error in worker order, or the parts merged in worker order.
        let mut parts = parts;
        let mut out = Vec::with_capacity(plans.len());
        for (i, (plan, mut status)) in plans.iter().zip(statuses).enumerate() {
            let mut period_parts = Vec::new();
            let mut error = errors[i].take();
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
            let mut codes: Vec<&str> = aggregate.iter().map(|s| &**s.currency()).collect();
            codes.sort_unstable();
            codes.dedup();
            if let Err(message) = crate::currency::check_codes(codes) {
                let e = RefreshError::Currency {
                    object: source.location(&plan.meta.key),
                    period: plan.period.clone(),
                    message,
                };
                out.push((plan, Err(e)));
                continue;
            }
            status.stats = aggregate.stats.clone();
            status.newest_usage_end_ms = crate::status::freshness_ms(
                aggregate.stats.newest_usage_end_ms,
                plan.meta.last_modified_ms,
            );
            log_period(plan, &status, aggregate.len());
            out.push((plan, Ok((aggregate, status))));
        }
        out
    }
}

/// The payers whose bill an aggregate holds (`""` for rows without `bill_payer_account_id`).
fn payers_of(aggregate: &PeriodAggregate) -> std::collections::BTreeSet<String> {
    aggregate
        .iter()
        .map(|s| s.label(crate::names::label::PAYER_ACCOUNT_ID).to_string())
        .collect()
}

/// Reads and checks a period's manifest.
fn plan_period(
    source: &Source,
    period: &str,
    meta: &ObjectMeta,
) -> Result<PeriodPlan, RefreshError> {
    let location = source.location(&meta.key);
    let bytes = source.get(&meta.key).map_err(RefreshError::Read)?;
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
        sample: m.sample,
    })
}

/// A period read: its aggregate and status, or why it failed.
type PeriodResult = Result<(PeriodAggregate, PeriodStatus), RefreshError>;

/// One worker's result per period: `None` when it had no unit of the period.
type WorkerParts = Vec<Option<Result<PeriodPart, RefreshError>>>;

/// A period to read: its manifest and the files it lists.
struct PeriodPlan {
    period: String,
    meta: ObjectMeta,
    execution_id: String,
    files: Vec<String>,
    /// The manifest marks the export as example data ([`manifest::SAMPLE_MARKER`]).
    sample: bool,
}

/// A data file ready to be decoded.
struct DataFile {
    /// Index of its period's plan.
    period: usize,
    key: String,
    kind: FileKind,
    /// Bytes read to open it (a Parquet footer).
    opened_bytes: u64,
}

enum FileKind {
    Parquet(ParquetPlan),
    Csv { gzip: bool },
}

impl DataFile {
    /// What is known before decoding a unit.
    fn stats_before(&self) -> FileStats {
        let mut stats = match &self.kind {
            FileKind::Parquet(p) => p.file_stats().clone(),
            FileKind::Csv { .. } => FileStats::default(),
        };
        stats.bytes = self.opened_bytes;
        stats
    }
}

/// A unit of decoding work: a Parquet row group, or a whole CSV file.
struct Unit {
    file: usize,
    row_group: Option<usize>,
}

/// Runs `f`, turning a panic into an [`RefreshError::Internal`] naming `object`.
fn guarded<T>(
    object: &str,
    f: impl FnOnce() -> Result<T, RefreshError>,
) -> Result<T, RefreshError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(RefreshError::Internal {
            object: object.to_string(),
            message: panic_message(&*panic),
        })
    })
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// Opens one data file: its format from its name; for Parquet, its footer.
fn open_file(
    source: &Source,
    period: usize,
    key: &str,
    projection: Projection,
) -> Result<DataFile, RefreshError> {
    let object = source.location(key);
    let format = Format::of_key(key).ok_or_else(|| {
        RefreshError::Decode(CurError::UnknownFormat {
            object: object.clone(),
        })
    })?;
    let (kind, opened_bytes) = match format {
        Format::Parquet => {
            let (tail, size) = source
                .get_suffix(key, FOOTER_GUESS)
                .map_err(RefreshError::Read)?;
            let range = metadata_range(&tail, size, &object).map_err(RefreshError::Decode)?;
            let tail_start = size - tail.len() as u64;
            let (metadata, extra) = if range.start >= tail_start {
                let at = (range.start - tail_start) as usize..(range.end - tail_start) as usize;
                (tail.slice(at), 0)
            } else {
                let mut got = source
                    .get_ranges(key, std::slice::from_ref(&range))
                    .map_err(RefreshError::Read)?;
                let b = got.pop().unwrap_or_default();
                let n = b.len() as u64;
                (b, n)
            };
            let plan = ParquetPlan::with_projection(&metadata, size, &object, projection)
                .map_err(RefreshError::Decode)?;
            (FileKind::Parquet(plan), tail.len() as u64 + extra)
        }
        Format::CsvGz => (FileKind::Csv { gzip: true }, 0),
        Format::Csv => (FileKind::Csv { gzip: false }, 0),
    };
    Ok(DataFile {
        period,
        key: key.to_string(),
        kind,
        opened_bytes,
    })
}

/// Decodes one unit into `sink`; returns what it read (rows, bytes, freshness).
fn read_unit(
    source: &Source,
    file: &DataFile,
    row_group: Option<usize>,
    projection: Projection,
    sink: &mut dyn cur::RowSink,
) -> Result<FileStats, RefreshError> {
    let object = source.location(&file.key);
    match (&file.kind, row_group) {
        (FileKind::Parquet(plan), Some(rg)) => {
            if let Some(pf) = sink.prefilter()
                && !plan.may_hold(rg, &pf)
            {
                return Ok(FileStats {
                    rows: plan.row_group_rows(rg),
                    skipped_row_groups: 1,
                    ..FileStats::default()
                });
            }
            let ranges = plan.ranges(rg);
            let bytes = source
                .get_ranges(&file.key, &ranges)
                .map_err(RefreshError::Read)?;
            let fetched: u64 = bytes.iter().map(|b| b.len() as u64).sum();
            plan.read_row_group(rg, &ranges, bytes, &object, sink)
                .map_err(RefreshError::Decode)?;
            Ok(FileStats {
                rows: plan.row_group_rows(rg),
                bytes: fetched,
                ..FileStats::default()
            })
        }
        (FileKind::Csv { gzip }, _) => {
            let input = source.open(&file.key).map_err(RefreshError::Read)?;
            cur::csv::read_projected(input, *gzip, &object, projection, sink)
                .map_err(RefreshError::Decode)
        }
        (FileKind::Parquet(_), None) => unreachable!("Parquet units are row groups"),
    }
}

/// One worker: its units in order, one aggregator per period; skips the units of failed periods.
fn run_worker<'u>(
    units: impl Iterator<Item = &'u Unit>,
    files: &[DataFile],
    plans: &[PeriodPlan],
    opts: &AggregateOptions,
    source: &Source,
    failed: &[AtomicBool],
    done: std::sync::mpsc::Sender<(usize, FileStats)>,
) -> WorkerParts {
    let mut aggs: Vec<Option<PeriodAggregator>> = plans.iter().map(|_| None).collect();
    let mut errors: Vec<Option<RefreshError>> = plans.iter().map(|_| None).collect();
    for unit in units {
        let file = &files[unit.file];
        let i = file.period;
        if failed[i].load(Ordering::Relaxed) {
            continue;
        }
        let agg = aggs[i].get_or_insert_with(|| PeriodAggregator::new(&plans[i].period, opts));
        let object = source.location(&file.key);
        let projection = opts.projection();
        match guarded(&object, || {
            read_unit(source, file, unit.row_group, projection, agg)
        }) {
            Ok(stats) => {
                let _ = done.send((unit.file, stats));
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
            None => agg.map(|a| Ok(a.into_part())),
        })
        .collect()
}

/// Adds one unit's stats to its file's.
fn add_unit(file: &mut FileStats, unit: &FileStats) {
    file.rows += unit.rows;
    file.skipped_row_groups += unit.skipped_row_groups;
    file.bytes += unit.bytes;
    for c in &unit.missing_columns {
        if !file.missing_columns.contains(c) {
            file.missing_columns.push(c);
        }
    }
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
    for c in &stats.missing_columns {
        if !status.missing_columns.contains(c) {
            status.missing_columns.push(c);
            status.missing_columns.sort_unstable();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A data file of a format we cannot decode has its own error, in stage `decode`, naming the
    /// object and the formats we read; it is no manifest error.
    #[test]
    fn an_unknown_data_file_format_is_its_own_decode_error() {
        let dir = tempfile::tempdir().unwrap();
        let source = Source::local(dir.path());
        let key = "data/BILLING_PERIOD=2026-01/part-0.json";
        let Err(e) = open_file(&source, 0, key, crate::cur::columns::Projection::Daemon) else {
            panic!("a .json data file opened");
        };
        let text = e.to_string();
        assert_eq!(e.stage(), stage::DECODE, "{text}");
        assert!(text.contains(&source.location(key)), "{text}");
        assert!(
            text.contains(".parquet") && text.contains(".csv.gz"),
            "{text}"
        );
        assert!(!text.contains("manifest"), "{text}");
        assert!(
            matches!(e, RefreshError::Decode(CurError::UnknownFormat { .. })),
            "{e:?}"
        );
    }
}
