//! `cur-sample`: writes a realistic CUR 2.0 export (see the `cur_sample` library).

#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use cur_sample::{ExportSpec, SampleFormat, SampleLayout, SampleMode, write_export};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Fmt {
    Parquet,
    CsvGz,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Layout {
    /// Services and hours at random: every row group holds some Bedrock rows.
    Random,
    /// Rows grouped by service (product-code order), then by usage day.
    Ordered,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Overwrite,
    CreateNew,
}

/// Write a realistic CUR 2.0 export (Data Exports layout) for tests, benchmarks and demos.
#[derive(Debug, Parser)]
#[command(name = "cur-sample", version)]
struct Args {
    /// Export root to write (created; data/ and metadata/ go inside).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = Fmt::Parquet)]
    format: Fmt,
    #[arg(long, value_enum, default_value_t = Mode::Overwrite)]
    mode: Mode,
    /// Billing periods (YYYY-MM), comma-separated [default: 2026-10,2026-11; with --demo the
    /// previous and the current UTC month].
    #[arg(long, value_delimiter = ',')]
    periods: Vec<String>,
    /// A demo export dated to the present: the previous and the current UTC month (as of --now),
    /// the current one billed up to the start of today, every manifest marked as example data
    /// (--sample-marker), so that budgets, forecasts and staleness make sense on any date.
    #[arg(long, conflicts_with = "periods")]
    demo: bool,
    /// The present for --demo (RFC 3339, e.g. 2026-12-08T09:00:00Z) [default: the clock].
    #[arg(long, value_name = "TIME", requires = "demo")]
    now: Option<String>,
    /// Mark every manifest as example data ("bedrockCostExporterSample": true): the exporter then
    /// sets bedrock_exporter_sample_data to 1 and warns at every refresh. AWS never writes it.
    #[arg(long)]
    sample_marker: bool,
    /// Rows per billing period (all services).
    #[arg(long, default_value_t = 2000)]
    rows: usize,
    /// Fraction of rows that are Bedrock line items.
    #[arg(long, default_value_t = 0.5)]
    bedrock_share: f64,
    /// Data files per period.
    #[arg(long, default_value_t = 2)]
    files: usize,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = 100_000)]
    row_group_rows: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Extra assumed-role sessions, to raise cardinality.
    #[arg(long, default_value_t = 0)]
    extra_sessions: usize,
    /// Leave out line_item_iam_principal (an export without INCLUDE_IAM_PRINCIPAL_DATA).
    #[arg(long)]
    no_principal_column: bool,
    /// No activated iamPrincipal/ tags in the tags map (tags not activated in Billing).
    #[arg(long)]
    no_principal_tags: bool,
    /// Row order inside a period.
    #[arg(long, value_enum, default_value_t = Layout::Random)]
    layout: Layout,
    /// bill_payer_account_id of every row (one payer per export, as AWS writes them).
    #[arg(long, default_value = cur_sample::PAYER)]
    payer_account_id: String,
    /// Billing periods (YYYY-MM, comma-separated) whose bill is final: their rows carry a
    /// bill_invoice_id (blank elsewhere, as until AWS invoices a period).
    #[arg(long, value_delimiter = ',', value_name = "PERIODS")]
    invoiced: Vec<String>,
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let (periods, usage_until_ms) = if a.demo {
        let now_ms = match &a.now {
            Some(t) => chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("--now {t:?}: {e} (RFC 3339, e.g. 2026-12-08T09:00:00Z)"),
                    )
                })?
                .timestamp_millis(),
            None => chrono::Utc::now().timestamp_millis(),
        };
        (
            cur_sample::demo_periods(now_ms),
            Some(cur_sample::start_of_day_ms(now_ms)),
        )
    } else if a.periods.is_empty() {
        (vec!["2026-10".to_string(), "2026-11".to_string()], None)
    } else {
        (a.periods, None)
    };
    let spec = ExportSpec {
        format: match a.format {
            Fmt::Parquet => SampleFormat::Parquet,
            Fmt::CsvGz => SampleFormat::CsvGz,
        },
        mode: match a.mode {
            Mode::Overwrite => SampleMode::Overwrite,
            Mode::CreateNew => SampleMode::CreateNew,
        },
        periods,
        usage_until_ms,
        sample_marker: a.sample_marker || a.demo,
        rows_per_period: a.rows,
        bedrock_share: a.bedrock_share,
        files_per_period: a.files,
        row_group_rows: a.row_group_rows,
        seed: a.seed,
        extra_sessions: a.extra_sessions,
        principal_column: !a.no_principal_column,
        principal_tags: !a.no_principal_tags,
        layout: match a.layout {
            Layout::Random => SampleLayout::Random,
            Layout::Ordered => SampleLayout::Ordered,
        },
        payer_account_id: a.payer_account_id,
        invoiced_periods: a.invoiced,
        ..ExportSpec::default()
    };
    let s = write_export(&a.out, &spec)?;
    println!(
        "wrote {} ({} live files, {} stale or superseded files, {:.1} MB)",
        a.out.display(),
        s.live_files.len(),
        s.dead_files.len(),
        s.bytes as f64 / 1e6
    );
    Ok(())
}
