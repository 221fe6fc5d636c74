//! Running refreshes and publishing them: the one place where a refresh becomes what the exporters
//! serve. [`Daemon::refresh`] is one step (used by `once` and by the loop); [`serve`] is the loop
//! with the HTTP server beside it. Refreshing and rendering run on a blocking thread, never on the
//! async workers that answer scrapes. Also the two progress reporters: log lines (the daemon) and
//! a terminal progress bar (`once` on a TTY).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cur::FileStats;
use crate::metrics::Rendered;
use crate::metrics::exposition::render;
use crate::metrics::otlp::{self, AttributeMode, Families, OtlpCounters, OtlpPusher};
use crate::names::stage;
use crate::refresh::{Progress, RefreshError, Refresher};
use crate::server::{self, Published, ServerOptions};
use crate::snapshot::Snapshot;
use crate::status::Status;

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
}

/// What one refresh step did.
#[derive(Debug)]
pub struct Step {
    /// Errors of the refresh (each already logged and counted).
    pub errors: Vec<RefreshError>,
    /// A new snapshot is being served.
    pub published: bool,
    pub duration: Duration,
}

impl Daemon {
    pub fn new(refresher: Refresher) -> Daemon {
        Daemon {
            refresher,
            status: Status::default(),
            current: Arc::new(Snapshot::default()),
            otlp: None,
            otlp_counters: None,
        }
    }

    /// Pushes every published exposition (and then every interval) over OTLP, in [`serve`].
    pub fn with_otlp(mut self, pusher: OtlpPusher) -> Daemon {
        self.otlp_counters = Some(pusher.counters());
        self.otlp = Some(pusher);
        self
    }

    /// At least one refresh succeeded.
    pub fn ready(&self) -> bool {
        self.status.ready
    }

    /// One refresh: folds its report into the status and swaps in its snapshot when it has one.
    /// Blocking (S3 requests are driven on the runtime's handle): call it on a plain thread. A
    /// panic is caught, logged and counted under stage `internal`; the last good data stays.
    pub fn refresh(&mut self, progress: &mut dyn Progress) -> Step {
        let started = Instant::now();
        let started_unix = unix_now();
        let refresher = &mut self.refresher;
        let report = catch_unwind(AssertUnwindSafe(|| refresher.refresh(progress))).unwrap_or_else(
            |panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                crate::refresh::RefreshReport {
                    errors: vec![RefreshError::Internal {
                        object: "refresh".into(),
                        message,
                    }],
                    ..Default::default()
                }
            },
        );
        let duration = started.elapsed();
        let status = &mut self.status;
        status.s3 = self.refresher.source().s3_stats();
        status.last_attempt_unix = Some(started_unix);
        status.last_duration_seconds = Some(duration.as_secs_f64());
        status.rows_read += report.rows_read;
        status.bytes_read += report.bytes_read;
        status.files_read += report.files_read;
        for e in &report.errors {
            *status.errors.entry(e.stage()).or_insert(0) += 1;
            if e.stage() == stage::INTERNAL {
                tracing::error!(error = %e, "internal error during a refresh");
            }
        }
        let ok = report.errors.is_empty() && report.snapshot.is_some();
        status.last_refresh_ok = ok;
        if ok {
            status.refreshes_ok += 1;
            status.last_success_unix = Some(started_unix + duration.as_secs_f64());
        } else {
            status.refreshes_failed += 1;
        }
        let published = report.snapshot.is_some();
        if let Some(s) = report.snapshot {
            status.ready = true;
            status.periods = report.periods;
            self.current = s;
        }
        tracing::info!(
            ok,
            seconds = format!("{:.3}", duration.as_secs_f64()),
            periods_read = report.periods_read.join(","),
            files = report.files_read,
            rows = report.rows_read,
            series = self.current.series.len(),
            "refresh finished"
        );
        Step {
            errors: report.errors,
            published,
            duration,
        }
    }

    /// The exposition of the current snapshot and status (CPU-heavy for big snapshots).
    pub fn render(&self) -> Rendered {
        let mut status = self.status.clone();
        status.otlp = self.otlp_counters.as_ref().map(|c| c.stats());
        render(self.current.clone(), Arc::new(status))
    }
}

/// Progress as log lines (the daemon).
#[derive(Default)]
pub struct LogProgress {
    files: std::collections::BTreeMap<String, (usize, usize)>,
}

impl Progress for LogProgress {
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

/// Refreshes every `interval` and serves the result on `listener` until `shutdown` resolves.
pub async fn serve(
    daemon: Daemon,
    interval: Duration,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let initial = tokio::task::spawn_blocking({
        let status = Arc::new(daemon.status.clone());
        move || render(Arc::new(Snapshot::default()), status)
    })
    .await
    .unwrap_or_default();
    let (tx, rx) = watch::channel(Arc::new(Published::new(initial, false)));
    let mut daemon = daemon;
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
        loop {
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
                Err(_) => tracing::error!(
                    "rendering the exposition panicked (a bug); serving the previous one"
                ),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = loop_stop.changed() => break,
            }
        }
    });
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(server::serve(listener, rx, options, async move {
        let _ = server_stop.changed().await;
    }));
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    refresh_loop.abort();
    if let Some(task) = otlp_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
}
