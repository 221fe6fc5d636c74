//! Running refreshes and publishing them: the one place where a refresh becomes what the exporters
//! serve. [`Daemon::refresh`] is one step (used by `once` and by the loop); [`serve`] is the loop
//! with the HTTP server beside it. Refreshing and rendering run on a blocking thread, never on the
//! async workers that answer scrapes. Also the two progress reporters: log lines (the daemon) and
//! a terminal progress bar (`once` on a TTY).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::cur::FileStats;
use crate::metrics::Rendered;
use crate::metrics::exposition::render;
use crate::metrics::otlp::{self, AttributeMode, Families, OtlpCounters, OtlpPusher};
use crate::names::stage;
use crate::refresh::{Progress, RefreshError, Refresher};
use crate::server::{self, LiveSettings, Published, ReloadRequest, ServerOptions};
use crate::snapshot::Snapshot;
use crate::status::Status;
use crate::web_config::WebConfig;

fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The refresher, the exporter's status and the snapshot being served.
pub struct Daemon {
    refresher: Refresher,
    status: Status,
    current: Arc<Snapshot>,
    /// The OTLP pusher, handed to its task by [`serve`].
    otlp: Option<OtlpPusher>,
    otlp_counters: Option<Arc<OtlpCounters>>,
    /// Failed renders (counted here) and decompressions (by the server), for the self-metrics.
    exposition_errors: Arc<server::ExpositionErrors>,
    /// Test hook, debug builds only: bytes deliberately leaked per refresh
    /// (`BEDROCK_EXPORTER_TEST_LEAK_BYTES_PER_REFRESH`), so the soak test can show it catches a leak.
    debug_leak_bytes: usize,
}

/// What one refresh step did.
#[derive(Debug)]
pub struct Step {
    /// Errors of the refresh with the name of their export (each already logged and counted).
    pub errors: Vec<(String, RefreshError)>,
    /// A new snapshot is being served.
    pub published: bool,
    pub duration: Duration,
}

impl Daemon {
    pub fn new(refresher: Refresher) -> Daemon {
        // Known before the first refresh: the series limit (and build info).
        let current = Arc::new(Snapshot {
            max_series: refresher.max_series(),
            ..Snapshot::default()
        });
        // Every export has its self-metrics from the start ("not ready yet" is visible).
        let status = Status {
            exports: refresher
                .export_names()
                .into_iter()
                .map(|name| crate::status::ExportStatus {
                    name,
                    ..Default::default()
                })
                .collect(),
            ..Status::default()
        };
        Daemon {
            refresher,
            status,
            current,
            otlp: None,
            otlp_counters: None,
            exposition_errors: Arc::default(),
            debug_leak_bytes: if cfg!(debug_assertions) {
                std::env::var("BEDROCK_EXPORTER_TEST_LEAK_BYTES_PER_REFRESH")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            } else {
                0
            },
        }
    }

    /// Pushes every published exposition (and then every interval) over OTLP, in [`serve`].
    pub fn with_otlp(mut self, pusher: OtlpPusher) -> Daemon {
        self.otlp_counters = Some(pusher.counters());
        self.otlp = Some(pusher);
        self
    }

    /// Every export has had a complete refresh (its data is in the snapshot).
    pub fn ready(&self) -> bool {
        self.status.ready
    }

    /// One refresh: folds its report into the status and swaps in its snapshot when it has one.
    /// Blocking (S3 requests are driven on the runtime's handle): call it on a plain thread. A
    /// panic is caught, logged and counted under stage `internal`; the last good data stays.
    pub fn refresh(&mut self, progress: &mut dyn Progress) -> Step {
        let started = Instant::now();
        let started_unix = unix_now();
        if self.debug_leak_bytes > 0 {
            // Written, so the pages are resident; never freed.
            Box::leak(vec![0x5a_u8; self.debug_leak_bytes].into_boxed_slice());
        }
        let refresher = &mut self.refresher;
        // A panic inside one export's refresh is charged to that export by the refresher; one
        // here came after every export was read (duplicates, the snapshot, budgets), where no
        // snapshot could be built: it is charged to every export.
        let report = catch_unwind(AssertUnwindSafe(|| refresher.refresh(progress))).unwrap_or_else(
            |panic| {
                let message = crate::refresh::panic_message(&*panic);
                crate::refresh::RefreshReport {
                    snapshot: None,
                    exports: refresher
                        .export_names()
                        .into_iter()
                        .map(|name| crate::refresh::ExportReport {
                            name,
                            errors: vec![RefreshError::Internal {
                                object: "building the snapshot".into(),
                                message: message.clone(),
                            }],
                            ..Default::default()
                        })
                        .collect(),
                }
            },
        );
        let duration = started.elapsed();
        let status = &mut self.status;
        status.last_duration_seconds = Some(duration.as_secs_f64());
        let finished_unix = started_unix + duration.as_secs_f64();
        let mut errors = Vec::new();
        let mut all_ok = !report.exports.is_empty();
        for er in report.exports {
            let es = match status.exports.iter_mut().position(|e| e.name == er.name) {
                Some(i) => &mut status.exports[i],
                None => {
                    status.exports.push(crate::status::ExportStatus {
                        name: er.name.clone(),
                        ..Default::default()
                    });
                    status.exports.last_mut().expect("just pushed")
                }
            };
            es.last_attempt_unix = Some(started_unix);
            es.rows_read += er.rows_read;
            es.bytes_read += er.bytes_read;
            es.files_read += er.files_read;
            es.s3 = er.s3;
            for e in &er.errors {
                *es.errors.entry(e.stage()).or_insert(0) += 1;
                if e.stage() == stage::INTERNAL {
                    tracing::error!(export = %er.name, error = %e, "internal error during a refresh");
                }
            }
            es.last_refresh_ok = er.complete && er.errors.is_empty();
            if es.last_refresh_ok {
                es.last_success_unix = Some(finished_unix);
            }
            all_ok &= es.last_refresh_ok;
            if report.snapshot.is_some() {
                es.ready |= er.has_data;
                es.periods = er.periods;
            }
            let sample: Vec<&str> = es
                .periods
                .iter()
                .filter(|p| p.sample)
                .map(|p| p.period.as_str())
                .collect();
            if !sample.is_empty() {
                tracing::warn!(
                    export = %er.name,
                    periods = sample.join(","),
                    "serving SAMPLE data, not a bill: the export's manifests are marked as example data (bedrockCostExporterSample, written by cur-sample); set `source` to your CUR 2.0 export (docs/src/exports.md)"
                );
            }
            tracing::info!(
                export = %er.name,
                ok = es.last_refresh_ok,
                errors = er.errors.len(),
                periods_read = er.periods_read.join(","),
                files = er.files_read,
                rows = er.rows_read,
                "export refreshed"
            );
            errors.extend(er.errors.into_iter().map(|e| (er.name.clone(), e)));
        }
        if all_ok {
            status.refreshes_ok += 1;
        } else {
            status.refreshes_failed += 1;
        }
        let published = report.snapshot.is_some();
        if let Some(s) = report.snapshot {
            self.current = s;
        }
        status.ready = !status.exports.is_empty() && status.exports.iter().all(|e| e.ready);
        tracing::info!(
            ok = all_ok,
            seconds = format!("{:.3}", duration.as_secs_f64()),
            series = self.current.series.len(),
            "refresh finished"
        );
        Step {
            errors,
            published,
            duration,
        }
    }

    /// The exposition of the current snapshot and status (CPU-heavy for big snapshots).
    pub fn render(&self) -> Rendered {
        let mut status = self.status.clone();
        status.otlp = self.otlp_counters.as_ref().map(|c| c.stats());
        status.exposition_errors = self.exposition_errors.counts();
        render(self.current.clone(), Arc::new(status))
    }
}

/// Progress as log lines (the daemon).
#[derive(Default)]
pub struct LogProgress {
    files: std::collections::BTreeMap<String, (usize, usize)>,
}

impl Progress for LogProgress {
    fn export_failed(&mut self, export: &str, e: &RefreshError) {
        tracing::error!(export, error = %e, stage = e.stage(), "export not refreshed; its last good data stays");
    }

    fn period_started(&mut self, period: &str, files: usize, _bytes: u64) {
        self.files.insert(period.to_string(), (0, files));
        tracing::info!(period, files, "reading billing period");
    }

    fn file_done(&mut self, period: &str, key: &str, stats: &FileStats) {
        let (done, total) = self.files.entry(period.to_string()).or_default();
        *done += 1;
        tracing::info!(
            period,
            key,
            rows = stats.rows,
            bytes = stats.bytes,
            skipped_row_groups = stats.skipped_row_groups,
            progress = format!("{done}/{total}"),
            "data file read"
        );
    }
}

/// A progress bar on a terminal (stderr), for `once`.
pub struct BarProgress {
    bar: indicatif::ProgressBar,
    rows: u64,
    bytes: u64,
}

impl BarProgress {
    pub fn new() -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(0),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "[{bar:30}] {pos}/{len} files {prefix} {msg} {elapsed}",
            )
            .expect("a valid template")
            .progress_chars("#>-"),
        );
        BarProgress {
            bar,
            rows: 0,
            bytes: 0,
        }
    }

    /// Ends the bar, leaving it on screen.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for BarProgress {
    fn period_started(&mut self, period: &str, files: usize, _bytes: u64) {
        self.bar.inc_length(files as u64);
        let prefix = self.bar.prefix();
        self.bar.set_prefix(if prefix.is_empty() {
            period.to_string()
        } else {
            format!("{prefix},{period}")
        });
    }

    fn file_done(&mut self, _period: &str, _key: &str, stats: &FileStats) {
        self.rows += stats.rows;
        self.bytes += stats.bytes;
        self.bar.set_message(format!(
            "{} rows, {:.1} MB",
            self.rows,
            self.bytes as f64 / 1e6
        ));
        self.bar.inc(1);
    }
}

/// Re-reads the configuration for a reload: the TOML file, environment and flags as at the start,
/// and the web configuration file. An error is a message for the log and for `POST /-/reload`.
pub type Loader = Arc<dyn Fn() -> Result<(Config, WebConfig), String> + Send + Sync>;

/// What [`serve`] needs beside the daemon.
pub struct ServeOptions {
    /// The configuration in effect.
    pub config: Config,
    /// The web configuration in effect (`--web.config.file`).
    pub web: WebConfig,
    /// Re-reads both for a reload (SIGHUP, `POST /-/reload`).
    pub loader: Loader,
    /// `POST /-/reload` is answered (`--web.enable-lifecycle`); SIGHUP always reloads.
    pub enable_lifecycle: bool,
}

/// Keys a reload cannot change in a running process, with whether they differ.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |key: &'static str, differs: bool| {
        if differs {
            changed.push(key);
        }
    };
    check("source/sources/exports", old.exports != new.exports);
    check("listen", old.listen != new.listen);
    check("log_format", old.log_format != new.log_format);
    check("s3", old.s3 != new.s3);
    check(
        "max_connections",
        old.max_connections != new.max_connections,
    );
    changed
}

/// Keeps the running values of the keys that need a restart.
fn keep_restart_only(old: &Config, new: &mut Config) {
    new.exports = old.exports.clone();
    new.listen = old.listen;
    new.log_format = old.log_format;
    new.s3 = old.s3.clone();
    new.max_connections = old.max_connections;
}

/// A reload's outcome, for the refresh loop (which owns the status and the refresher).
enum Reloaded {
    Applied(Box<Config>, f64),
    Failed,
}

/// The reloads that arrived since the refresh loop last looked (several can, during one refresh),
/// folded: the newest good configuration, and whether a reload after it failed. A failed reload
/// never hides a good one before it, whose web settings the reloader applied already.
#[derive(Default)]
struct PendingReloads {
    applied: Option<(Box<Config>, f64)>,
    failed_since: bool,
}

impl PendingReloads {
    fn push(&mut self, r: Reloaded) {
        match r {
            Reloaded::Applied(c, at) => {
                self.applied = Some((c, at));
                self.failed_since = false;
            }
            Reloaded::Failed => self.failed_since = true,
        }
    }

    /// Takes every reload waiting in `rx` too.
    fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Reloaded>) {
        while let Ok(r) = rx.try_recv() {
            self.push(r);
        }
    }
}

impl Daemon {
    /// Applies a reloaded configuration's live keys (aggregation options, periods, series cap,
    /// budgets, `now`).
    pub fn reconfigure(&mut self, config: &Config) {
        self.refresher.reconfigure(
            config.aggregate.clone(),
            config.periods.clone(),
            config.max_series,
        );
        self.refresher
            .set_budgets(config.budgets.clone(), config.now_ms);
    }

    /// Applies the pending reloads; the configuration applied, if any (for the loop's interval and
    /// calendar).
    fn apply_reloads(&mut self, pending: PendingReloads) -> Option<Box<Config>> {
        if let Some((c, at)) = &pending.applied {
            self.reconfigure(c);
            self.set_config_loaded(true, Some(*at));
        }
        if pending.failed_since {
            self.set_config_loaded(false, None);
        }
        pending.applied.map(|(c, _)| c)
    }

    /// Records the outcome of a configuration (re)load for the self-metrics.
    pub fn set_config_loaded(&mut self, ok: bool, at_unix: Option<f64>) {
        self.status.config_last_reload_ok = Some(ok);
        if ok {
            self.status.config_last_reload_success_unix = at_unix;
        }
    }
}

/// SIGHUP as a stream (never fires where there are no such signals).
struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Installs the handler: from here on SIGHUP no longer ends the process.
    fn install() -> Hangups {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload (--web.enable-lifecycle)"))
                .ok();
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal
            && s.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await
    }
}

/// Refreshes every `refresh_interval` (and, unless `now` is fixed, also at the start of each UTC
/// month, so that the current billing period and the budget alerts joined on it change at
/// midnight on the 1st) and serves the result on `listener` until `shutdown` resolves. SIGHUP (and `POST /-/reload` with `enable_lifecycle`) re-reads the configuration:
/// a valid one is swapped in (live keys at once, followed by a refresh), an invalid one is logged
/// and the previous one stays in effect.
pub async fn serve(
    mut daemon: Daemon,
    options: ServeOptions,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let ServeOptions {
        config,
        web,
        loader,
        enable_lifecycle,
    } = options;
    daemon.set_config_loaded(true, Some(unix_now()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let exposition_errors = daemon.exposition_errors.clone();
    let initial = tokio::task::spawn_blocking({
        let (snapshot, status) = (daemon.current.clone(), Arc::new(daemon.status.clone()));
        move || render(snapshot, status)
    })
    .await
    .unwrap_or_else(|_| {
        exposition_errors.render_failed();
        tracing::error!("rendering the first exposition panicked (a bug); serving an empty one");
        Rendered::default()
    });
    let (tx, rx) = watch::channel(Arc::new(Published::new(initial, false)));
    let (settings_tx, settings_rx) = watch::channel(LiveSettings {
        web: Arc::new(web),
        header_read_timeout: config.header_read_timeout,
    });
    let (loop_tx, mut loop_rx) = mpsc::unbounded_channel::<Reloaded>();
    let (http_reload_tx, mut http_reload_rx) = mpsc::channel::<ReloadRequest>(8);
    let mut hangups = Hangups::install();
    let mut interval = config.refresh_interval;
    let mut follow_calendar = config.now_ms.is_none();
    let max_connections = config.max_connections;

    // Reloads, one at a time.
    let mut reload_stop = stop_rx.clone();
    let reloader = tokio::spawn(async move {
        let mut current = config;
        loop {
            let reply: Option<ReloadRequest> = tokio::select! {
                _ = hangups.next() => {
                    tracing::info!("SIGHUP received; reloading the configuration");
                    None
                }
                Some(r) = http_reload_rx.recv() => {
                    tracing::info!("POST /-/reload received; reloading the configuration");
                    Some(r)
                }
                _ = reload_stop.changed() => break,
            };
            let load = loader.clone();
            let loaded = tokio::task::spawn_blocking(move || load())
                .await
                .unwrap_or_else(|_| Err("reading the configuration panicked (a bug)".into()));
            let outcome = match loaded {
                Ok((mut new, web)) => {
                    let restart = restart_only_changes(&current, &new);
                    if !restart.is_empty() {
                        tracing::warn!(
                            keys = restart.join(", "),
                            "these configuration keys changed but apply only after a restart; they keep their running values"
                        );
                        keep_restart_only(&current, &mut new);
                    }
                    tracing::info!(
                        refresh_interval = ?new.refresh_interval,
                        max_series = new.max_series,
                        web = %web.describe(),
                        "configuration reloaded"
                    );
                    settings_tx.send_replace(LiveSettings {
                        web: Arc::new(web),
                        header_read_timeout: new.header_read_timeout,
                    });
                    let _ = loop_tx.send(Reloaded::Applied(Box::new(new.clone()), unix_now()));
                    current = new;
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(error = %e, "configuration reload failed; the previous configuration stays in effect");
                    let _ = loop_tx.send(Reloaded::Failed);
                    Err(e)
                }
            };
            if let Some(reply) = reply {
                let _ = reply.send(outcome);
            }
        }
    });

    // OTLP: the pusher's task gets every published exposition read back as families.
    let (families_tx, families_rx) = watch::channel(None);
    let mut otlp_mode: Option<AttributeMode> = None;
    let otlp_task = daemon.otlp.take().map(|pusher| {
        otlp_mode = Some(pusher.settings().attributes);
        tracing::info!(
            endpoint = pusher.endpoint(),
            protocol = %pusher.settings().protocol,
            interval = ?pusher.settings().interval,
            "pushing over OTLP after each refresh and every interval"
        );
        tokio::spawn(otlp::run(pusher, families_rx, stop_rx.clone()))
    });
    let mut loop_stop = stop_rx.clone();
    let refresh_loop = tokio::spawn(async move {
        let mut daemon = daemon;
        let mut pending = PendingReloads::default();
        loop {
            // Reloads that arrived meanwhile (during the refresh, or the one that woke us).
            pending.drain(&mut loop_rx);
            if let Some(c) = daemon.apply_reloads(std::mem::take(&mut pending)) {
                interval = c.refresh_interval;
                follow_calendar = c.now_ms.is_none();
            }
            // Refresh and render on a blocking thread; scrapes keep being answered meanwhile.
            let joined = tokio::task::spawn_blocking(move || {
                daemon.refresh(&mut LogProgress::default());
                let started = Instant::now();
                let rendered = catch_unwind(AssertUnwindSafe(|| daemon.render()));
                if let Ok(r) = &rendered {
                    tracing::info!(
                        render_seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
                        bytes = r.text_len,
                        gzip_bytes = r.text_gz.len(),
                        "exposition rendered"
                    );
                }
                let families = match (&rendered, otlp_mode) {
                    (Ok(r), Some(mode)) => {
                        match Families::from_openmetrics_gz(&r.openmetrics_gz, mode) {
                            Ok(f) => Some(Arc::new(f)),
                            Err(e) => {
                                tracing::error!(error = %e, "reading the exposition back for OTLP failed (a bug); not pushing it");
                                None
                            }
                        }
                    }
                    _ => None,
                };
                (daemon, rendered, families)
            })
            .await;
            let Ok((d, rendered, families)) = joined else {
                tracing::error!("the refresh thread was lost; stopping the refresh loop");
                return;
            };
            daemon = d;
            if families.is_some() {
                families_tx.send_replace(families);
            }
            match rendered {
                Ok(r) => {
                    tx.send_replace(Arc::new(Published::new(r, daemon.ready())));
                }
                Err(_) => {
                    daemon.exposition_errors.render_failed();
                    tracing::error!(
                        "rendering the exposition panicked (a bug); serving the previous one"
                    )
                }
            }
            let wait = if follow_calendar {
                let to_next_month = crate::budget::ms_until_next_period(unix_now_ms()) as u64;
                interval.min(Duration::from_millis(to_next_month.saturating_add(1_000)))
            } else {
                interval
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                Some(r) = loop_rx.recv() => pending.push(r),
                _ = loop_stop.changed() => break,
            }
        }
    });
    let mut server_stop = stop_rx.clone();
    let server_options = ServerOptions {
        max_connections,
        settings: settings_rx,
        reload: enable_lifecycle.then_some(http_reload_tx),
        exposition_errors,
    };
    let server = tokio::spawn(server::serve(listener, rx, server_options, async move {
        let _ = server_stop.changed().await;
    }));
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    refresh_loop.abort();
    reloader.abort();
    if let Some(task) = otlp_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggregateOptions;
    use crate::config::PeriodSelection;
    use crate::refresh::NoProgress;
    use crate::source::Source;

    fn sample() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample/export")
    }

    fn sample_config() -> Config {
        let overrides = crate::config::Overrides {
            source: Some(sample().display().to_string()),
            ..Default::default()
        };
        crate::config::load(None, &overrides).unwrap()
    }

    /// A panic while one export is refreshed is charged to that export (not to the first one),
    /// and the other exports still refresh and publish.
    #[test]
    fn a_panic_is_charged_to_its_own_export() {
        let empty = tempfile::tempdir().unwrap();
        let mut refresher = Refresher::new(
            vec![
                ("good".into(), Source::local(sample())),
                ("bad".into(), Source::local(empty.path())),
            ],
            AggregateOptions::default(),
            PeriodSelection::Newest(2),
            20_000,
        );
        refresher.panic_in_export = Some("bad".into());
        let mut daemon = Daemon::new(refresher);
        let step = daemon.refresh(&mut NoProgress);
        let internal = |name: &str| {
            let e = daemon.status.exports.iter().find(|e| e.name == name);
            e.unwrap().errors.get(stage::INTERNAL).copied().unwrap_or(0)
        };
        assert_eq!((internal("good"), internal("bad")), (0, 1), "{step:?}");
        assert!(step.published, "the good export's data is published");
        assert!(
            step.errors
                .iter()
                .any(|(x, e)| x == "bad" && e.to_string().contains("bad")),
            "{step:?}"
        );
    }

    /// A good reload and then a failed one, both during one refresh: the good one's live keys
    /// (budgets, periods, max_series) still reach the refresher — its web settings were applied
    /// already — and the failed one is still reported.
    #[test]
    fn a_good_reload_followed_by_a_failed_one_is_applied_and_the_failure_reported() {
        let config = sample_config();
        let sources = vec![("sample".to_string(), Source::local(sample()))];
        let refresher = Refresher::new(
            sources,
            config.aggregate.clone(),
            config.periods.clone(),
            config.max_series,
        );
        let mut daemon = Daemon::new(refresher);
        let good = Config {
            max_series: 123,
            periods: PeriodSelection::All,
            ..config
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        tx.send(Reloaded::Applied(Box::new(good), 42.0)).unwrap();
        tx.send(Reloaded::Failed).unwrap();
        let mut pending = PendingReloads::default();
        pending.drain(&mut rx);
        let applied = daemon.apply_reloads(pending);
        assert_eq!(applied.map(|c| c.max_series), Some(123));
        assert_eq!(daemon.refresher.max_series(), 123);
        assert_eq!(daemon.status.config_last_reload_ok, Some(false));
        assert_eq!(daemon.status.config_last_reload_success_unix, Some(42.0));
        // The other order: the newest reload succeeded.
        tx.send(Reloaded::Failed).unwrap();
        let mut pending = PendingReloads::default();
        pending.drain(&mut rx);
        pending.push(Reloaded::Applied(
            Box::new(Config {
                max_series: 77,
                ..sample_config()
            }),
            43.0,
        ));
        daemon.apply_reloads(pending);
        assert_eq!(daemon.refresher.max_series(), 77);
        assert_eq!(daemon.status.config_last_reload_ok, Some(true));
        assert_eq!(daemon.status.config_last_reload_success_unix, Some(43.0));
    }
}
