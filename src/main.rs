//! The command line: `serve` (default), `once`, `check-config`, `doctor`. `anyhow` lives only here.

#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use bedrock_cost_exporter::config::{self, Config, LogFormat, Overrides, S3Overrides, SourceSpec};
use bedrock_cost_exporter::daemon::{self, BarProgress};
use bedrock_cost_exporter::metrics::exposition::render;
use bedrock_cost_exporter::refresh::{NoProgress, Progress, Refresher, Source};
use bedrock_cost_exporter::server::{self, Published};
use bedrock_cost_exporter::snapshot::Snapshot;
use bedrock_cost_exporter::source::{LocalSource, S3Source};
use bedrock_cost_exporter::status::Status;
use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::watch;

const AFTER_HELP: &str = "\
Configuration: defaults, then the TOML file given with --config, then BCE_* environment variables
(BCE_SOURCE, BCE_LISTEN, BCE_REFRESH_INTERVAL, BCE_PERIODS, BCE_MAX_SERIES, BCE_FOLD_SESSIONS,
BCE_LOG_FORMAT, BCE_TAGS__SOURCES, BCE_S3__ENDPOINT, …), then flags. Every key is described in
config/bedrock-cost-exporter.toml and the README. Log verbosity: RUST_LOG (default info).";

#[derive(Debug, Parser)]
#[command(name = "bedrock-cost-exporter", version, about = "Amazon Bedrock cost per IAM principal, model, region and token direction, from the CUR 2.0 bill, for Prometheus.", after_help = AFTER_HELP)]
struct Cli {
    /// TOML configuration file (optional; defaults work without one).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Export root: a local copy of the export prefix (holding data/ and metadata/), or
    /// s3://bucket/prefix/<export-name>. Overrides `source` in the configuration.
    #[arg(long, global = true, value_name = "PATH")]
    source: Option<String>,
    /// Endpoint URL of an S3-compatible server (e.g. http://127.0.0.1:9000). Overrides `s3.endpoint`.
    #[arg(long, global = true, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// Path-style S3 addressing (for S3-compatible servers). Overrides `s3.path_style`.
    #[arg(long, global = true)]
    s3_path_style: bool,
    /// Address to serve on: IP or host name with port (default 127.0.0.1:9747; 0.0.0.0:9747 in a
    /// container). Overrides `listen`; used by `serve`, the default command.
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve /metrics, /healthz and /readyz, refreshing from the export periodically (default).
    Serve,
    /// Refresh once and print the exposition to stdout; exit non-zero on any error.
    Once {
        /// Exposition format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Progress bar on stderr: auto (when stderr is a terminal), always, never.
        #[arg(long, value_enum, default_value_t = When::Auto)]
        progress: When,
    },
    /// Check the configuration (without reading data) and print the effective settings as TOML.
    CheckConfig,
    /// Diagnose the setup in one run: source, permissions, manifests, periods, principal column,
    /// tags, unknown usage types, freshness, series. Exits 1 when something blocks the daemon.
    Doctor,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    Openmetrics,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum When {
    Auto,
    Always,
    Never,
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The source of the configuration; S3 clients are built on `rt`.
fn make_source(config: &Config, rt: &tokio::runtime::Handle) -> Source {
    match &config.source {
        SourceSpec::Local(path) => Source::Local(LocalSource::new(path)),
        SourceSpec::S3 { bucket, prefix } => Source::S3 {
            s3: rt.block_on(S3Source::connect(bucket, prefix, &config.s3)),
            rt: rt.clone(),
        },
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        source: cli.source.clone(),
        listen: cli.listen.clone(),
        s3: S3Overrides {
            endpoint: cli.s3_endpoint.clone(),
            path_style: cli.s3_path_style.then_some(true),
        },
    };
    let config =
        config::load(cli.config.as_deref(), &overrides).context("invalid configuration")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            let problems = config::check_without_data(&config);
            if problems.is_empty() {
                println!("# configuration OK; effective settings:");
            } else {
                println!(
                    "# effective settings (not usable as they are: see the errors on stderr):"
                );
            }
            print!("{}", config::effective_toml(&config));
            if problems.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &problems {
                    eprintln!("error: {p}");
                }
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Doctor => {
            init_logging(config.log_format, "error");
            let rt = runtime()?;
            let source = make_source(&config, rt.handle());
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let diagnosis = bedrock_cost_exporter::doctor::diagnose(&config, source, now_ms);
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            print!("{}", diagnosis.render());
            Ok(if diagnosis.blocked() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Once { format, progress } => {
            init_logging(config.log_format, "info");
            let rt = runtime()?;
            let source = make_source(&config, rt.handle());
            let result = once(&config, source, format, progress);
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            result
        }
        Command::Serve => {
            init_logging(config.log_format, "info");
            let rt = runtime()?;
            let source = make_source(&config, rt.handle());
            let result = rt.block_on(serve(config, source));
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            result.map(|()| ExitCode::SUCCESS)
        }
    }
}

fn once(
    config: &Config,
    source: Source,
    format: OutputFormat,
    progress: When,
) -> anyhow::Result<ExitCode> {
    let mut refresher = Refresher::new(
        source,
        config.aggregate.clone(),
        config.periods.clone(),
        config.max_series,
    );
    let started = std::time::Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let bar =
        progress == When::Always || (progress == When::Auto && std::io::stderr().is_terminal());
    let report = if bar {
        let mut p = BarProgress::new();
        let r = refresher.refresh(&mut p as &mut dyn Progress);
        p.finish();
        r
    } else {
        refresher.refresh(&mut NoProgress)
    };
    let mut status = Status {
        s3: refresher.source().s3_stats(),
        ..Status::default()
    };
    let snapshot = daemon::apply_report(&mut status, &report, started_unix, started.elapsed());
    if !report.errors.is_empty() {
        for e in &report.errors {
            eprintln!("error [{}]: {e}", e.stage());
        }
        bail!(
            "the refresh failed ({} error(s)); nothing printed",
            report.errors.len()
        );
    }
    let snapshot = snapshot.context("the refresh produced no data")?;
    let rendered = render(snapshot, Arc::new(status));
    let body = match format {
        OutputFormat::Text => rendered.text(),
        OutputFormat::Openmetrics => rendered.openmetrics(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&body).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// What a failed bind means and what to do.
fn listen_hint(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::AddrInUse => format!(
            "{e}: another process already listens there; stop it or choose another port with --listen or `listen`"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "{e}: that is not an address of this machine; use 0.0.0.0:9747 (every interface, e.g. in a container), 127.0.0.1:9747 (this machine only), or one of this machine's own addresses"
        ),
        ErrorKind::PermissionDenied => {
            format!("{e}: ports below 1024 need privileges; use a port such as 9747")
        }
        _ => format!("{e}; set another address with --listen or `listen`"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; stopping");
}

async fn serve(config: Config, source: Source) -> anyhow::Result<()> {
    let listener = match server::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => bail!("cannot listen on {}: {}", config.listen, listen_hint(&e)),
    };
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%addr, source = %config.source, interval = ?config.refresh_interval, "serving /metrics, /healthz, /readyz");

    let mut status = Status::default();
    // Known before the first refresh: the series limit (and build info).
    let mut current = Arc::new(Snapshot {
        max_series: config.max_series,
        ..Snapshot::default()
    });
    let initial = render(current.clone(), Arc::new(status.clone()));
    let (tx, rx) = watch::channel(Arc::new(Published::new(initial, false)));
    let (stop_tx, stop_rx) = watch::channel(false);

    let refresher = Arc::new(Mutex::new(Refresher::new(
        source,
        config.aggregate.clone(),
        config.periods.clone(),
        config.max_series,
    )));
    let interval = config.refresh_interval;
    let mut loop_stop = stop_rx.clone();
    let refresh_loop = tokio::spawn(async move {
        loop {
            daemon::refresh_and_publish(&refresher, &mut status, &mut current, &tx).await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = loop_stop.changed() => break,
            }
        }
    });
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(server::serve(listener, rx, async move {
        let _ = server_stop.changed().await;
    }));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    refresh_loop.abort();
    Ok(())
}
