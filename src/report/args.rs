//! The command line of `report`: its arguments as clap parses them. `main` adds the subcommand
//! and dispatches to [`super::run`]; the global `--config`, `--source` and S3 flags apply.

use std::path::PathBuf;

use crate::names::{SERIES_LABELS, label};

/// `--by` value naming the configured budgets instead of a label.
pub const BUDGET: &str = "budget";

/// `bedrock-cost-exporter report`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Columns (CSV, in this order): billing_period, period_status, row_type, the --by labels under their
names, account_name (with account_id), owner, cost_basis, spend, limit, limit_used (with budget),
currency, cost, net_cost, share, input_tokens, output_tokens, cost_per_million_tokens,
previous_cost, change, change_ratio, public_on_demand_cost, discount, cache_read_share.
See docs/src/report.md. Example (cron: on the 3rd at 06:00, the month before, by team):
  0 6 3 * * bedrock-cost-exporter --config /etc/bedrock-cost-exporter.toml report --by tag_team --format html --out '/srv/reports/bedrock-{period}.html'")]
pub struct ReportArgs {
    /// Billing period to report (YYYY-MM). Default: the last closed month, the one before the
    /// month of `now` (configuration) or of the clock.
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period)]
    pub period: Option<String>,
    /// Group by these labels of bedrock_cost_* (comma-separated or repeated): account_id,
    /// payer_account_id, principal, principal_type, principal_name, session, model, region,
    /// direction, tier, scope, cache_ttl, usage_type, line_item_type, billing_entity, any tag_*
    /// label; or `budget` (every configured budget, on its own cost basis, plus `__none__` for
    /// spend in no budget). Values are the ones /metrics uses, computed before the series cap.
    #[arg(
        long,
        value_name = "LABEL[,LABEL…]",
        value_delimiter = ',',
        required = true,
        value_parser = parse_by
    )]
    pub by: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Csv)]
    pub format: OutputFormat,
    /// Keep the N highest-cost groups of each currency; fold the others into one `__other__` row.
    #[arg(long, value_name = "N", value_parser = parse_top)]
    pub top: Option<usize>,
    /// Write the report to FILE instead of stdout, whole (a temporary file beside it, renamed into
    /// place). `{period}` in FILE becomes the billing period (YYYY-MM).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// RFC 4180 CSV, one row per group, cells escaped against spreadsheet formula injection.
    Csv,
    /// A Markdown document (GitHub tables) for a ticket or a chat.
    Markdown,
    /// One self-contained HTML file: inline CSS, an SVG bar chart, print rules.
    Html,
    /// JSON (schema: docs/src/report.schema.json).
    Json,
}

/// A `YYYY-MM` billing period.
pub fn parse_period(s: &str) -> Result<String, String> {
    let ok = s.len() == 7
        && s.as_bytes()[4] == b'-'
        && s[..4].bytes().all(|b| b.is_ascii_digit())
        && matches!(s[5..].parse::<u32>(), Ok(1..=12))
        && s[5..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a billing period: write YYYY-MM, e.g. 2026-10"
        ))
    }
}

/// A `--by` label: a label of `bedrock_cost_*` other than `billing_period` (the report covers one
/// period), `budget`, or a tag label (any other label name; checked against the data).
pub fn parse_by(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == SERIES_LABELS[label::BILLING_PERIOD] {
        return Err(
            "billing_period: the report covers one billing period (--period); it is the billing_period column".into(),
        );
    }
    let mut chars = s.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{s:?} is not a label name: use a label of bedrock_cost_usd ({}), a tag_* label, or budget",
            SERIES_LABELS[1..].join(", ")
        ));
    }
    Ok(s.to_string())
}

fn parse_top(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?}: --top takes a whole number of at least 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_labels() {
        assert_eq!(parse_period("2026-10").unwrap(), "2026-10");
        for bad in [
            "2026-13", "2026-1", "26-10", "2026/10", "2026-00", "2026-+1",
        ] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_by("tag_team").unwrap(), "tag_team");
        assert_eq!(parse_by("budget").unwrap(), "budget");
        assert!(parse_by("billing_period").unwrap_err().contains("--period"));
        assert!(parse_by("tag-team").is_err());
        assert!(parse_by("").is_err());
        assert!(parse_top("0").is_err());
        assert_eq!(parse_top("3").unwrap(), 3);
    }
}
