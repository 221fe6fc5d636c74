//! The command line: `serve` (default), `once`, `check-config`, `doctor`, `healthcheck`, `report`,
//! `hash-password`.
//! `anyhow` lives only here.

#![forbid(unsafe_code)]

mod healthcheck;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use bedrock_cost_exporter::config::{
    self, Config, LogFormat, OtlpOverrides, Overrides, S3Overrides, SourceSpec,
};
use bedrock_cost_exporter::daemon::{self, BarProgress, Daemon};
use bedrock_cost_exporter::metrics::otlp::OtlpPusher;
use bedrock_cost_exporter::refresh::{NoProgress, Refresher};
use bedrock_cost_exporter::server;
use bedrock_cost_exporter::source::{S3Source, Source};
use bedrock_cost_exporter::web_config::WebConfig;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use healthcheck::WebTarget;

const AFTER_HELP: &str = "\
Configuration: defaults, then the TOML file given with --config, then BCE_* environment variables
(BCE_SOURCE, BCE_LISTEN, BCE_REFRESH_INTERVAL, BCE_PERIODS, BCE_MAX_SERIES, BCE_FOLD_SESSIONS,
BCE_LOG_FORMAT, BCE_HEADER_READ_TIMEOUT, BCE_MAX_CONNECTIONS, BCE_TAGS__SOURCES, BCE_S3__ENDPOINT, …), then flags.
Every key is described in config/bedrock-cost-exporter.toml and docs/src/configuration.md. Log verbosity: RUST_LOG
(default info). SIGHUP (and POST /-/reload with --web.enable-lifecycle) rereads the configuration
and the web configuration file; an invalid one is logged and the running one kept.
Budgets: [[budgets]] tables (name, owner, selector, monthly, cost, currency, labels), [forecast]
and [spikes] in the TOML file, and `now` (RFC 3339) to replay an old export as of a fixed time;
see docs/src/budgets.md and docs/src/alerts.md.
Several exports (payers): `sources = [\"s3://…\", \"/mirror/b\"]` (BCE_SOURCES) or [[exports]] tables
(name, source, s3 = { endpoint, path_style, region, profile, role_arn, external_id,
role_session_name, sts_endpoint }), instead of `source`; one snapshot with a payer_account_id label,
self-metrics per export. [s3] also takes profile, role_arn, external_id, role_session_name
(sts:AssumeRole) and sts_endpoint (where the role is assumed; default AWS STS, never s3.endpoint).
See docs/src/exports.md, \"Several exports\".";

#[derive(Debug, Parser)]
#[command(name = "bedrock-cost-exporter", version, about = "Amazon Bedrock cost per IAM principal, model, region and token direction, from the CUR 2.0 bill, for Prometheus.", after_help = AFTER_HELP)]
struct Cli {
    /// The flags of `serve`, the default command. Given before another command, each applies to
    /// it when it is one of that command's flags (`--source DIR once`), else it is an error.
    #[command(
        flatten,
        next_help_heading = "Options (of serve, the default command; before another command, those it takes)"
    )]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `--config`, of every command that reads the configuration.
#[derive(Debug, Clone, Default, Args)]
struct ConfigArg {
    /// TOML configuration file (optional: every key has a default except the export to read, which
    /// BCE_SOURCE or --source can give instead).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Where the export is and how to reach it (every command that reads data).
#[derive(Debug, Clone, Default, Args)]
struct SourceArgs {
    /// Export root: a local copy of the export prefix (holding data/ and metadata/), or
    /// s3://bucket/prefix/<export-name>. Overrides `source` (and `sources`, `[[exports]]`: this one
    /// export is read) in the configuration. There is no default: with no source configured the
    /// exporter stops with exit status 78 (`cargo run` in the repository reads sample/export,
    /// example data, through BEDROCK_COST_EXPORTER_FALLBACK_SOURCE in .cargo/config.toml).
    #[arg(long, value_name = "PATH")]
    source: Option<String>,
    /// Endpoint URL of an S3-compatible server (e.g. http://127.0.0.1:9000). Overrides `s3.endpoint`.
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// Path-style S3 addressing (for S3-compatible servers). Overrides `s3.path_style`.
    #[arg(long)]
    s3_path_style: bool,
}

/// Pushing over OTLP (serve; checked by check-config).
#[derive(Debug, Clone, Default, Args)]
struct OtlpArgs {
    /// Push the series to this OTLP receiver (e.g. http://127.0.0.1:4317 for gRPC,
    /// http://127.0.0.1:4318 for HTTP; /v1/metrics is added to an HTTP URL without a path).
    /// Turns OTLP on. Overrides `otlp.endpoint` and OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// OTLP protocol: grpc or http (protobuf over HTTP). Overrides `otlp.protocol` and
    /// OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL; default http/protobuf.
    #[arg(long, value_name = "PROTOCOL", value_parser = ["grpc", "http", "http/protobuf"])]
    otlp_protocol: Option<String>,
}

/// `serve`'s flags (also the top level's: serve is the default command).
#[derive(Debug, Clone, Default, Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    source: SourceArgs,
    /// Address to serve on: IP or host name with port (default 127.0.0.1:9747; 0.0.0.0:9747 in a
    /// container). Overrides `listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Web configuration file (the Prometheus exporter-toolkit format): TLS, basic auth, headers.
    /// Applies to every path. Reread on reload.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Answer POST /-/reload (reload the configuration, as SIGHUP does).
    #[arg(long = "web.enable-lifecycle")]
    web_enable_lifecycle: bool,
    #[command(flatten)]
    otlp: OtlpArgs,
}

/// `check-config`'s flags: everything that changes what `serve` would run with.
#[derive(Debug, Clone, Default, Args)]
struct CheckArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    source: SourceArgs,
    /// The address `serve` would listen on (IP or host name with port). Overrides `listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Web configuration file to check (the exporter-toolkit format).
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    #[command(flatten)]
    otlp: OtlpArgs,
}

/// `healthcheck`'s flags.
#[derive(Debug, Clone, Args)]
struct HealthArgs {
    /// TOML configuration file: its `listen` is the address probed (nothing else is read).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the exporter to probe, as it listens (IP or host name with port; 0.0.0.0 and
    /// [::] are probed on loopback). Default: `listen` of the configuration.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The exporter's web configuration file: the probe speaks it (TLS pinned to its cert_file,
    /// basic auth with --user and --password-file, a client certificate under mTLS).
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// URL to GET (http:// or https://, which needs --web.config.file). Default: /healthz (or
    /// /readyz with --ready) on the listen address. Needs no configuration file.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Probe /readyz (200 once a refresh has succeeded) instead of /healthz (200 while the
    /// process serves).
    #[arg(long, conflicts_with = "url")]
    ready: bool,
    /// Give up after this long (`500ms`, `5s`, …).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = healthcheck::parse_timeout)]
    timeout: std::time::Duration,
    /// Basic-auth user (a user of the web configuration's basic_auth_users).
    #[arg(long, value_name = "USER", requires = "password_file")]
    user: Option<String>,
    /// File holding the basic-auth password (never on the command line).
    #[arg(long, value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,
    /// Client certificate (PEM) for mTLS, with --client-key.
    #[arg(long, value_name = "FILE", requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// Key of --client-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    client_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve /metrics, /healthz and /readyz, refreshing from the export periodically (default).
    Serve(ServeArgs),
    /// Refresh once and print the exposition to stdout; exit non-zero on any error.
    Once {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        source: SourceArgs,
        /// Exposition format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Progress bar on stderr: auto (when stderr is a terminal), always, never.
        #[arg(long, value_enum, default_value_t = When::Auto)]
        progress: When,
    },
    /// Check the configuration (without reading data) and print the effective settings as TOML.
    CheckConfig(CheckArgs),
    /// Probe a running exporter over HTTP: exit 0 when it answers 2xx, 1 with the reason on
    /// stderr otherwise. For container health checks: needs no shell, curl or wget.
    Healthcheck(HealthArgs),
    /// Diagnose the setup in one run: source, permissions, manifests, periods, principal column,
    /// tags, unknown usage types, freshness, series. Exits 1 when something blocks the daemon.
    Doctor {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Read a password on stdin (its first line) and print its bcrypt hash, for basic_auth_users
    /// in the web configuration file: `bedrock-cost-exporter hash-password < password-file`.
    HashPassword {
        /// bcrypt cost (work factor), 4 to 31; each step doubles the time of a check.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31))]
        cost: u32,
    },
    /// Write the monthly showback report: one billing period's Bedrock cost grouped by labels or
    /// budgets, equal to the bill (CSV, Markdown, HTML or JSON). See docs/src/report.md.
    Report {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        report: bedrock_cost_exporter::report::ReportArgs,
    },
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

/// The exports of the configuration as `(name, source)`, in order; S3 clients (each with its own
/// settings and credentials) are built on `rt`.
fn make_sources(config: &Config, rt: &tokio::runtime::Handle) -> Vec<(String, Source)> {
    config
        .exports
        .iter()
        .map(|e| {
            let source = match &e.source {
                SourceSpec::Local(path) => Source::local(path),
                SourceSpec::S3 { bucket, prefix } => Source::s3(
                    rt.block_on(S3Source::connect(bucket, prefix, &e.s3)),
                    rt.clone(),
                ),
            };
            (e.name.clone(), source)
        })
        .collect()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Exit status for an invalid configuration (sysexits.h `EX_CONFIG`).
const EX_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let command = match resolve(Cli::parse()) {
        Ok(c) => c,
        Err(message) => Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit(),
    };
    match run(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<config::ConfigError>().is_some() {
                // EX_CONFIG (sysexits.h): systemd's RestartPreventExitStatus=78 and the like stop
                // restarting a daemon that cannot start until its configuration is fixed.
                ExitCode::from(EX_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

impl SourceArgs {
    /// These flags, each falling back to the one given before the command.
    fn or(self, top: &SourceArgs) -> SourceArgs {
        SourceArgs {
            source: self.source.or_else(|| top.source.clone()),
            s3_endpoint: self.s3_endpoint.or_else(|| top.s3_endpoint.clone()),
            s3_path_style: self.s3_path_style || top.s3_path_style,
        }
    }
}

impl OtlpArgs {
    fn or(self, top: &OtlpArgs) -> OtlpArgs {
        OtlpArgs {
            otlp_endpoint: self.otlp_endpoint.or_else(|| top.otlp_endpoint.clone()),
            otlp_protocol: self.otlp_protocol.or_else(|| top.otlp_protocol.clone()),
        }
    }
}

impl ConfigArg {
    fn or(self, top: &ConfigArg) -> ConfigArg {
        ConfigArg {
            config: self.config.or_else(|| top.config.clone()),
        }
    }
}

impl ServeArgs {
    /// The flags given (as written), to say which one does not apply to a command.
    fn given(&self) -> Vec<&'static str> {
        [
            ("--config", self.config.config.is_some()),
            ("--source", self.source.source.is_some()),
            ("--s3-endpoint", self.source.s3_endpoint.is_some()),
            ("--s3-path-style", self.source.s3_path_style),
            ("--listen", self.listen.is_some()),
            ("--web.config.file", self.web_config_file.is_some()),
            ("--web.enable-lifecycle", self.web_enable_lifecycle),
            ("--otlp-endpoint", self.otlp.otlp_endpoint.is_some()),
            ("--otlp-protocol", self.otlp.otlp_protocol.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, set)| set.then_some(flag))
        .collect()
    }

    fn or(self, top: &ServeArgs) -> ServeArgs {
        ServeArgs {
            config: self.config.or(&top.config),
            source: self.source.or(&top.source),
            listen: self.listen.or_else(|| top.listen.clone()),
            web_config_file: self.web_config_file.or_else(|| top.web_config_file.clone()),
            web_enable_lifecycle: self.web_enable_lifecycle || top.web_enable_lifecycle,
            otlp: self.otlp.or(&top.otlp),
        }
    }
}

/// The command with the flags given before it (serve's, at the top level) folded into its own:
/// each where it applies; one that does not apply is an error naming it.
fn resolve(cli: Cli) -> Result<Command, String> {
    let top = cli.serve;
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    const SOURCE: [&str; 4] = ["--config", "--source", "--s3-endpoint", "--s3-path-style"];
    let (name, applies): (&str, &[&str]) = match &command {
        Command::Serve(_) => ("serve", &top.given()),
        Command::Once { .. } => ("once", &SOURCE),
        Command::Doctor { .. } => ("doctor", &SOURCE),
        Command::Report { .. } => ("report", &SOURCE),
        Command::CheckConfig(_) => (
            "check-config",
            &[
                "--config",
                "--source",
                "--s3-endpoint",
                "--s3-path-style",
                "--listen",
                "--web.config.file",
                "--otlp-endpoint",
                "--otlp-protocol",
            ],
        ),
        Command::Healthcheck(_) => (
            "healthcheck",
            &["--config", "--listen", "--web.config.file"],
        ),
        Command::HashPassword { .. } => ("hash-password", &[]),
    };
    if let Some(flag) = top.given().into_iter().find(|f| !applies.contains(f)) {
        return Err(format!(
            "{flag} does not apply to `{name}`; `bedrock-cost-exporter {name} --help` lists its flags"
        ));
    }
    Ok(match command {
        Command::Serve(args) => Command::Serve(args.or(&top)),
        Command::Once {
            config,
            source,
            format,
            progress,
        } => Command::Once {
            config: config.or(&top.config),
            source: source.or(&top.source),
            format,
            progress,
        },
        Command::Doctor { config, source } => Command::Doctor {
            config: config.or(&top.config),
            source: source.or(&top.source),
        },
        Command::Report {
            config,
            source,
            report,
        } => Command::Report {
            config: config.or(&top.config),
            source: source.or(&top.source),
            report,
        },
        Command::CheckConfig(args) => Command::CheckConfig(CheckArgs {
            config: args.config.or(&top.config),
            source: args.source.or(&top.source),
            listen: args.listen.or(top.listen),
            web_config_file: args.web_config_file.or(top.web_config_file),
            otlp: args.otlp.or(&top.otlp),
        }),
        Command::Healthcheck(args) => Command::Healthcheck(HealthArgs {
            config: args.config.or(top.config.config),
            listen: args.listen.or(top.listen),
            web_config_file: args.web_config_file.or(top.web_config_file),
            ..args
        }),
        hash @ Command::HashPassword { .. } => hash,
    })
}

/// The configuration's overrides from flags.
fn overrides(source: &SourceArgs, listen: Option<String>, otlp: Option<&OtlpArgs>) -> Overrides {
    Overrides {
        source: source.source.clone(),
        listen,
        s3: S3Overrides {
            endpoint: source.s3_endpoint.clone(),
            path_style: source.s3_path_style.then_some(true),
        },
        otlp: OtlpOverrides {
            endpoint: otlp.and_then(|o| o.otlp_endpoint.clone()),
            protocol: otlp.and_then(|o| o.otlp_protocol.clone()),
        },
    }
}

fn load_config(file: &ConfigArg, overrides: &Overrides) -> anyhow::Result<Config> {
    config::load(file.config.as_deref(), overrides).context("invalid configuration")
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::HashPassword { cost } => hash_password(cost),
        Command::Healthcheck(args) => run_healthcheck(args),
        Command::CheckConfig(args) => {
            let overrides = overrides(&args.source, args.listen.clone(), Some(&args.otlp));
            let config = load_config(&args.config, &overrides)?;
            let web = WebConfig::load(args.web_config_file.as_deref())
                .context("invalid web configuration")?;
            check_config(&config, &web)
        }
        Command::Doctor { config, source } => {
            let config = load_config(&config, &overrides(&source, None, None))?;
            init_logging(config.log_format, "error");
            let rt = runtime()?;
            let sources = make_sources(&config, rt.handle());
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let diagnosis = bedrock_cost_exporter::doctor::diagnose(&config, sources, now_ms);
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            print!("{}", diagnosis.render());
            Ok(if diagnosis.blocked() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Once {
            config,
            source,
            format,
            progress,
        } => {
            let config = load_config(&config, &overrides(&source, None, None))?;
            init_logging(config.log_format, "info");
            let rt = runtime()?;
            let sources = make_sources(&config, rt.handle());
            let result = once(&config, sources, format, progress);
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            result
        }
        Command::Report {
            config,
            source,
            report,
        } => {
            let config = load_config(&config, &overrides(&source, None, None))?;
            init_logging(config.log_format, "warn");
            let rt = runtime()?;
            let sources = make_sources(&config, rt.handle());
            let result = bedrock_cost_exporter::report::run(&config, sources, &report);
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            result.map(|()| ExitCode::SUCCESS).map_err(Into::into)
        }
        Command::Serve(args) => {
            let overrides = overrides(&args.source, args.listen.clone(), Some(&args.otlp));
            let config = load_config(&args.config, &overrides)?;
            let web = WebConfig::load(args.web_config_file.as_deref())
                .context("invalid web configuration")?;
            let (config_file, web_file) = (args.config.config.clone(), args.web_config_file);
            let loader: daemon::Loader = Arc::new(move || {
                let c =
                    config::load(config_file.as_deref(), &overrides).map_err(|e| e.to_string())?;
                let w = WebConfig::load(web_file.as_deref()).map_err(|e| e.to_string())?;
                Ok((c, w))
            });
            init_logging(config.log_format, "info");
            let rt = runtime()?;
            let sources = make_sources(&config, rt.handle());
            let options = daemon::ServeOptions {
                config,
                web,
                loader,
                enable_lifecycle: args.web_enable_lifecycle,
            };
            let result = rt.block_on(serve(options, sources));
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            result.map(|()| ExitCode::SUCCESS)
        }
    }
}

/// `hash-password`: the first line of stdin, hashed with bcrypt.
fn hash_password(cost: u32) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (shown as you type; pipe it in to keep it off the screen): ");
    }
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdin.lock(), &mut line).context("reading stdin")?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("no password on stdin: `bedrock-cost-exporter hash-password < password-file`");
    }
    let hash = bcrypt::hash(password, cost).context("hashing")?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

/// `healthcheck`: a `--url` needs no configuration (the web configuration when given); without
/// one, the configured (or `--listen`) address is probed.
fn run_healthcheck(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let auth = || {
        probe_auth(
            &args.user,
            &args.password_file,
            &args.client_cert,
            &args.client_key,
        )
    };
    if let Some(url) = &args.url {
        if args.web_config_file.is_none() && args.user.is_none() && args.client_cert.is_none() {
            return Ok(healthcheck::run(url, args.timeout));
        }
        let target = match healthcheck::parse_url(url).and_then(|t| WebTarget::url(&t)) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let web = WebConfig::load(args.web_config_file.as_deref())
            .context("invalid web configuration")?;
        return Ok(healthcheck::run_with_web(
            &web,
            &target,
            auth()?,
            args.timeout,
        ));
    }
    // Only `listen` is needed: a probe works whatever else the configuration holds.
    let listen = config::load_listen(args.config.as_deref(), args.listen.clone())
        .context("invalid configuration")?;
    let path = if args.ready { "/readyz" } else { "/healthz" };
    if args.web_config_file.is_none() {
        let url = healthcheck::url_for_listen(listen, path);
        return Ok(healthcheck::run(&url, args.timeout));
    }
    let web =
        WebConfig::load(args.web_config_file.as_deref()).context("invalid web configuration")?;
    let target = WebTarget::listen(listen, path, web.tls.is_some());
    Ok(healthcheck::run_with_web(
        &web,
        &target,
        auth()?,
        args.timeout,
    ))
}

/// `check-config`: the effective settings, then what cannot be checked without data.
fn check_config(config: &Config, web: &WebConfig) -> anyhow::Result<ExitCode> {
    let problems = config::check_without_data(config);
    if problems.is_empty() {
        println!("# configuration OK; effective settings:");
    } else {
        println!("# effective settings (not usable as they are: see the errors on stderr):");
    }
    print!("{}", config::effective_toml(config));
    println!(
        "# web configuration (--web.config.file): {}",
        web.describe()
    );
    match &config.otlp {
        None => println!("# otlp (push): off"),
        Some(o) => {
            let headers: Vec<&String> = o.headers.keys().collect();
            println!(
                "# otlp (push): {} {} every {:?} (timeout {}, compression {}, attributes {:?}, headers {:?} (values hidden), ca_file {:?}, client_cert {:?}, resource {:?})",
                o.protocol,
                o.endpoint
                    .as_deref()
                    .unwrap_or("(from OTEL_EXPORTER_OTLP_* or the default)"),
                o.interval,
                o.timeout
                    .map(|t| format!("{t:?}"))
                    .unwrap_or_else(|| "OTEL_EXPORTER_OTLP_TIMEOUT or 10s".into()),
                o.compression
                    .map(|c| format!("{c:?}"))
                    .unwrap_or_else(|| "OTEL_EXPORTER_OTLP_COMPRESSION or gzip".into()),
                o.attributes,
                headers,
                o.ca_file,
                o.client_cert,
                o.resource_attributes,
            );
        }
    }
    if problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    Ok(ExitCode::FAILURE)
}

/// The healthcheck's credentials: a basic-auth password read from its file, a client certificate.
fn probe_auth(
    user: &Option<String>,
    password_file: &Option<PathBuf>,
    client_cert: &Option<PathBuf>,
    client_key: &Option<PathBuf>,
) -> anyhow::Result<healthcheck::ProbeAuth> {
    let read = |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let basic = match (user, password_file) {
        (Some(u), Some(p)) => {
            let password = String::from_utf8(read(p)?)
                .with_context(|| format!("{} is not UTF-8", p.display()))?;
            Some((
                u.clone(),
                password.trim_end_matches(['\n', '\r']).to_string(),
            ))
        }
        _ => None,
    };
    let client_cert = match (client_cert, client_key) {
        (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
        _ => None,
    };
    Ok(healthcheck::ProbeAuth { basic, client_cert })
}

fn new_daemon(config: &Config, sources: Vec<(String, Source)>) -> Daemon {
    Daemon::new(
        Refresher::new(
            sources,
            config.aggregate.clone(),
            config.periods.clone(),
            config.max_series,
        )
        .with_budgets(config.budgets.clone(), config.now_ms),
    )
}

fn once(
    config: &Config,
    sources: Vec<(String, Source)>,
    format: OutputFormat,
    progress: When,
) -> anyhow::Result<ExitCode> {
    let mut daemon = new_daemon(config, sources);
    let bar =
        progress == When::Always || (progress == When::Auto && std::io::stderr().is_terminal());
    let step = if bar {
        let mut p = BarProgress::new();
        let step = daemon.refresh(&mut p);
        p.finish();
        step
    } else {
        daemon.refresh(&mut NoProgress)
    };
    if !step.errors.is_empty() {
        for (export, e) in &step.errors {
            if config.exports.len() > 1 {
                eprintln!("error [{}] export {export:?}: {e}", e.stage());
            } else {
                eprintln!("error [{}]: {e}", e.stage());
            }
        }
        bail!(
            "the refresh failed ({} error(s)); nothing printed",
            step.errors.len()
        );
    }
    if !step.published {
        bail!("the refresh produced no data");
    }
    let rendered = daemon.render();
    let body = match format {
        OutputFormat::Text => rendered.text(),
        OutputFormat::Openmetrics => rendered.openmetrics(),
    }
    .context("decompressing the rendered exposition failed (a bug; please report it)")?;
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

/// `service.instance.id`: host name and port, as Prometheus would name the scrape target.
fn instance_id(addr: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", addr.port())
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

async fn serve(
    options: daemon::ServeOptions,
    sources: Vec<(String, Source)>,
) -> anyhow::Result<()> {
    let config = &options.config;
    let listener = match server::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => bail!("cannot listen on {}: {}", config.listen, listen_hint(&e)),
    };
    let addr = listener.local_addr().context("reading the bound address")?;
    let scheme = if options.web.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let exports: Vec<String> = config
        .exports
        .iter()
        .map(|e| {
            if e.name == e.source.to_string() {
                e.name.clone()
            } else {
                format!("{}={}", e.name, e.source)
            }
        })
        .collect();
    tracing::info!(%addr, scheme, exports = exports.join(", "), interval = ?config.refresh_interval, web = %options.web.describe(), "serving /metrics, /healthz, /readyz");
    let mut daemon = new_daemon(config, sources);
    if let Some(settings) = &config.otlp {
        let pusher = OtlpPusher::new(settings.clone(), &instance_id(addr))
            .context("cannot set up the OTLP push (see otlp.* in docs/src/configuration.md)")?;
        daemon = daemon.with_otlp(pusher);
    }
    daemon::serve(daemon, options, listener, shutdown_signal()).await;
    Ok(())
}
