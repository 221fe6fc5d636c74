//! The refresh loop and publication: run a refresh off the async runtime, fold its report into the
//! status, render the exposition once, and swap it in for the server. Also the two progress
//! reporters: log lines (daemon) and a terminal progress bar (`once` on a TTY).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::cur::FileStats;
use crate::metrics::exposition::render;
use crate::refresh::{Progress, RefreshReport, Refresher};
use crate::server::Published;
use crate::snapshot::Snapshot;
use crate::status::Status;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Folds a refresh report into the status and returns the snapshot to publish, if any.
pub fn apply_report(
    status: &mut Status,
    report: &RefreshReport,
    started_unix: f64,
    duration: Duration,
) -> Option<Arc<Snapshot>> {
    status.last_attempt_unix = Some(started_unix);
    status.last_duration_seconds = Some(duration.as_secs_f64());
    status.rows_read += report.rows_read;
    status.bytes_read += report.bytes_read;
    status.files_read += report.files_read;
    for e in &report.errors {
        *status.errors.entry(e.stage()).or_insert(0) += 1;
    }
    let ok = report.errors.is_empty() && report.snapshot.is_some();
    status.last_refresh_ok = ok;
    if ok {
        status.refreshes_ok += 1;
        status.last_success_unix = Some(started_unix + duration.as_secs_f64());
    } else {
        status.refreshes_failed += 1;
    }
    if let Some(s) = &report.snapshot {
        status.ready = true;
        status.periods = report.periods.clone();
        Some(s.clone())
    } else {
        None
    }
}

/// Progress as log lines (the daemon). Periods are read together, so counts are per period.
#[derive(Default)]
pub struct LogProgress {
    files: std::collections::BTreeMap<String, (usize, usize)>,
}

impl LogProgress {
    pub fn new() -> Self {
        Self::default()
    }
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
    period: String,
    files_total: usize,
    files_done: usize,
    rows: u64,
    bytes: u64,
    started: Instant,
}

impl BarProgress {
    pub fn new() -> Self {
        BarProgress {
            period: String::new(),
            files_total: 0,
            files_done: 0,
            rows: 0,
            bytes: 0,
            started: Instant::now(),
        }
    }

    fn draw(&self) {
        let width = 30;
        let filled = (self.files_done * width)
            .checked_div(self.files_total)
            .unwrap_or(width);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K[{}{}] {} {}/{} files, {} rows, {:.1} MB, {:.1}s",
            "#".repeat(filled),
            "-".repeat(width - filled),
            self.period,
            self.files_done,
            self.files_total,
            self.rows,
            self.bytes as f64 / 1e6,
            self.started.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub fn finish(&self) {
        let _ = writeln!(std::io::stderr());
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for BarProgress {
    fn period_started(&mut self, period: &str, files: usize, _bytes: u64) {
        if !self.period.is_empty() {
            self.period.push(',');
        }
        self.period.push_str(period);
        self.files_total += files;
        self.draw();
    }

    fn file_done(&mut self, _period: &str, _key: &str, stats: &FileStats) {
        self.files_done += 1;
        self.rows += stats.rows;
        self.bytes += stats.bytes;
        self.draw();
    }
}

/// Runs one refresh on a blocking thread and publishes its result.
pub async fn refresh_and_publish(
    refresher: &Arc<Mutex<Refresher>>,
    status: &mut Status,
    current: &mut Arc<Snapshot>,
    tx: &watch::Sender<Arc<Published>>,
) {
    let started = Instant::now();
    let started_unix = unix_now();
    let r = refresher.clone();
    let report = tokio::task::spawn_blocking(move || {
        let mut refresher = r.lock().unwrap_or_else(|p| p.into_inner());
        let report = refresher.refresh(&mut LogProgress::new());
        (report, refresher.source().s3_stats())
    })
    .await;
    let report = match report {
        Ok((r, s3)) => {
            status.s3 = s3;
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "refresh task panicked; keeping the last good snapshot");
            RefreshReport::default()
        }
    };
    let duration = started.elapsed();
    if let Some(s) = apply_report(status, &report, started_unix, duration) {
        *current = s;
    }
    for e in &report.errors {
        tracing::error!(stage = e.stage(), error = %e, "refresh error");
    }
    tracing::info!(
        ok = status.last_refresh_ok,
        seconds = format!("{:.3}", duration.as_secs_f64()),
        periods_read = report.periods_read.join(","),
        files = report.files_read,
        rows = report.rows_read,
        series = current.series.len(),
        "refresh finished"
    );
    let rendered = render(current.clone(), Arc::new(status.clone()));
    tx.send_replace(Arc::new(Published::new(rendered, status.ready)));
}
