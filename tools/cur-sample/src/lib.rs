//! A generator of realistic CUR 2.0 exports, laid out as AWS Data Exports writes them to S3: the
//! full CUR 2.0 column set (map columns included), the launch blog's four access patterns,
//! Marketplace-billed models (and one model, Claude Sonnet 4.6, in both billing forms), modality
//! token counts, a rerank line, 5m/30m/1h cache writes, credits, refunds and whole-month tax
//! (usage dates spanning the period), non-Bedrock services, in Parquet or gzip
//! CSV, in overwrite mode (with a stale chunk the manifest does not list) or create-new mode (with
//! older executions). Deterministic for a seed. Used by the tests, the benchmarks and the bundled
//! sample; the `cur-sample` binary runs it from the command line. A workspace member of its own, so
//! the daemon carries no generator code.
//!
//! Facts behind the shapes: the launch blog's sample rows, tags and access patterns (AWS ML blog
//! "Introducing granular cost attribution for Amazon Bedrock", 2026-04-17, and its Part 2), the CUR
//! 2.0 table dictionary (columns and types), the Data Exports delivery page (S3 layout and
//! manifests), the Bedrock User Guide "Understanding CUR data" and CUDOS v5.9.0 (usage types and
//! pricing units).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, MapBuilder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use chrono::{DateTime, NaiveDate};

/// Days since 1970-01-01 of a Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let date = NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32).expect("a valid date");
    date.signed_duration_since(NaiveDate::default()).num_days()
}

/// ISO-8601 text (`2026-04-01T00:00:00.000Z`) of milliseconds since the epoch, as CSV exports write it.
fn format_iso8601_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .expect("a timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    Parquet,
    CsvGz,
}

/// Data Exports overwrite setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleMode {
    /// `OVERWRITE_REPORT`: one manifest per period; a leftover chunk from a larger earlier run.
    Overwrite,
    /// `CREATE_NEW_REPORT`: every execution in its own `<timestamp>-<execution-id>/` folder.
    CreateNew,
}

/// How rows are ordered inside a billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleLayout {
    /// Every row picks its service and hour at random: every row group holds some Bedrock rows.
    #[default]
    Random,
    /// Rows grouped by service (in product-code order), then by usage day: Bedrock rows fill a
    /// few consecutive row groups, which statistics can tell apart. How AWS orders rows is not
    /// documented; this is the other end of the range from `Random`.
    Ordered,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    pub export_name: String,
    /// Bucket and prefix written into the manifest's `dataFiles` URIs.
    pub bucket: String,
    pub prefix: String,
    pub format: SampleFormat,
    pub mode: SampleMode,
    /// Billing periods, `YYYY-MM`.
    pub periods: Vec<String>,
    /// Rows per period (all services) in the live execution.
    pub rows_per_period: usize,
    /// Fraction of rows that are Bedrock line items.
    pub bedrock_share: f64,
    pub files_per_period: usize,
    pub row_group_rows: usize,
    pub seed: u64,
    /// Include `line_item_iam_principal` (the export's INCLUDE_IAM_PRINCIPAL_DATA).
    pub principal_column: bool,
    /// Include `line_item_net_unblended_cost`.
    pub net_cost_column: bool,
    /// Activated `iamPrincipal/` cost-allocation tags in the `tags` map (false: none activated).
    pub principal_tags: bool,
    /// Overwrite mode: also write a stale chunk the manifest does not list.
    pub stale_chunk: bool,
    /// Create-new mode: older executions written before the live one.
    pub older_executions: usize,
    /// Extra assumed-role sessions (`batch-N`) to raise cardinality.
    pub extra_sessions: usize,
    pub layout: SampleLayout,
    /// `bill_payer_account_id` of every row (and the account in the manifest's export ARN).
    pub payer_account_id: String,
    /// Mark every manifest as example data (`"bedrockCostExporterSample": true`): the exporter
    /// then says it serves a sample, not a bill. AWS never writes the key.
    pub sample_marker: bool,
    /// No usage at or after this time (ms since the epoch): a period containing it is billed up to
    /// it only, as the current month is (at least one hour of the period stays).
    pub usage_until_ms: Option<i64>,
    /// Billing periods (`YYYY-MM`) whose bill is final: the live execution's rows carry a
    /// `bill_invoice_id` (one per billing entity). Elsewhere the column is blank (NULL), as CUR 2.0
    /// leaves it until AWS invoices the period.
    pub invoiced_periods: Vec<String>,
}

/// The manifest key marking example data (the exporter's `cur::manifest::SAMPLE_MARKER`).
pub const SAMPLE_MARKER: &str = "bedrockCostExporterSample";

/// The billing periods (`YYYY-MM`) of the UTC month before the one holding `now_ms`, and of that
/// month: what a demo export dated to the present covers.
pub fn demo_periods(now_ms: i64) -> Vec<String> {
    use chrono::Datelike;
    let now = DateTime::from_timestamp_millis(now_ms).expect("a timestamp in range");
    let (y, m) = (now.year(), now.month());
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    vec![format!("{py:04}-{pm:02}"), format!("{y:04}-{m:02}")]
}

/// The start (00:00 UTC) of the day holding `now_ms`, in ms since the epoch.
pub fn start_of_day_ms(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(86_400_000)
}

impl Default for ExportSpec {
    fn default() -> Self {
        ExportSpec {
            export_name: "cur2".into(),
            bucket: "example-billing-bucket".into(),
            prefix: "cur".into(),
            format: SampleFormat::Parquet,
            mode: SampleMode::Overwrite,
            periods: vec!["2026-10".into(), "2026-11".into()],
            rows_per_period: 2_000,
            bedrock_share: 0.5,
            files_per_period: 2,
            row_group_rows: 500,
            seed: 42,
            principal_column: true,
            net_cost_column: true,
            principal_tags: true,
            stale_chunk: true,
            older_executions: 1,
            extra_sessions: 0,
            layout: SampleLayout::Random,
            payer_account_id: PAYER.into(),
            sample_marker: false,
            usage_until_ms: None,
            invoiced_periods: Vec::new(),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct ExportSummary {
    /// Manifest keys of the live executions, relative to the export root.
    pub manifests: Vec<String>,
    /// Data files the live manifests list.
    pub live_files: Vec<String>,
    /// Data files no live manifest lists (stale chunks, older executions).
    pub dead_files: Vec<String>,
    pub bytes: u64,
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness.

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario: who calls what.

const ACCOUNT: &str = "123456789012";
const ACCOUNT_2: &str = "210987654321";
/// The default `bill_payer_account_id`.
pub const PAYER: &str = "999988887777";

/// `(principal ARN or "", principal/session tags)` — the launch blog's four access patterns.
const PRINCIPALS: &[(&str, &[(&str, &str)])] = &[
    // 1. IAM users and Bedrock API keys.
    (
        "arn:aws:iam::123456789012:user/alice",
        &[
            ("iamPrincipal/team", "BedrockDataScience"),
            ("iamPrincipal/cost-center", "12345"),
        ],
    ),
    (
        "arn:aws:iam::123456789012:user/bob",
        &[
            ("iamPrincipal/team", "BedrockDataScience"),
            ("iamPrincipal/cost-center", "12345"),
        ],
    ),
    (
        "arn:aws:iam::123456789012:user/BedrockAPIKey-d3qp",
        &[("iamPrincipal/team", "platform")],
    ),
    // 2. Applications with IAM roles.
    (
        "arn:aws:sts::123456789012:assumed-role/Role-1/session-123",
        &[
            ("iamPrincipal/project", "DocFlow"),
            ("iamPrincipal/cost-center", "12345"),
        ],
    ),
    (
        "arn:aws:sts::123456789012:assumed-role/Role-2/session-456",
        &[("iamPrincipal/project", "ChatBackend")],
    ),
    (
        "arn:aws:sts::210987654321:assumed-role/DocProcessor/batch-7",
        &[("iamPrincipal/project", "DocFlow")],
    ),
    // 3. IdP federation: the session name is the person.
    (
        "arn:aws:sts::123456789012:assumed-role/BedrockRole/user-1@acme.org",
        &[
            ("iamPrincipal/team", "data-science"),
            ("iamPrincipal/cost-center", "12345"),
        ],
    ),
    (
        "arn:aws:sts::123456789012:assumed-role/BedrockRole/user-2@acme.org",
        &[
            ("iamPrincipal/team", "engineering"),
            ("iamPrincipal/cost-center", "67890"),
        ],
    ),
    (
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScience_0123456789abcdef/jane@acme.org",
        &[
            ("iamPrincipal/Team Lead", "jane \"JJ\" doe, PhD"),
            ("iamPrincipal/team", "data-science"),
        ],
    ),
    // 4. LLM gateway: its one role, then per-user and per-tenant sessions.
    (
        "arn:aws:sts::123456789012:assumed-role/LiteLLMGateway/gateway",
        &[],
    ),
    (
        "arn:aws:sts::123456789012:assumed-role/BedrockRole/gw-user-1",
        &[("iamPrincipal/team", "data-science")],
    ),
    (
        "arn:aws:sts::123456789012:assumed-role/BedrockRole/gw-tenant-acme",
        &[("iamPrincipal/tenant", "acme-corp")],
    ),
];

/// A Bedrock SKU: usage type, product code, pricing unit, rate per unit, description.
struct Sku {
    usage_type: &'static str,
    product_code: &'static str,
    pricing_unit: &'static str,
    rate: f64,
    operation: &'static str,
    region: &'static str,
    /// Marketplace / foundation-model product name, if any.
    product_name: Option<&'static str>,
    marketplace: bool,
}

const fn sku(
    usage_type: &'static str,
    product_code: &'static str,
    pricing_unit: &'static str,
    rate: f64,
    region: &'static str,
) -> Sku {
    Sku {
        usage_type,
        product_code,
        pricing_unit,
        rate,
        operation: "InvokeModelInference",
        region,
        product_name: None,
        marketplace: false,
    }
}

const MP_CODE: &str = "prod-4d8c5xuyt0j3jnu1x7rm6a2mb";

const SKUS: &[Sku] = &[
    sku(
        "USE1-Claude4.6Sonnet-input-tokens",
        "AmazonBedrockService",
        "1K tokens",
        0.0033,
        "us-east-1",
    ),
    sku(
        "USE1-Claude4.6Sonnet-output-tokens",
        "AmazonBedrockService",
        "1K tokens",
        0.0165,
        "us-east-1",
    ),
    sku(
        "USE1-Claude4.6Sonnet-cache-read-input-token-count",
        "AmazonBedrockService",
        "1K tokens",
        0.00033,
        "us-east-1",
    ),
    sku(
        "USE1-Claude4.6Sonnet-cache-write-input-token-count",
        "AmazonBedrockService",
        "1K tokens",
        0.004125,
        "us-east-1",
    ),
    sku(
        "USE1-Claude4.6Sonnet-output-tokens-cross-region-global",
        "AmazonBedrockService",
        "1K tokens",
        0.015,
        "us-east-1",
    ),
    sku(
        "USE1-Claude4.6Opus-input-tokens",
        "AmazonBedrockService",
        "1K tokens",
        0.0055,
        "us-east-1",
    ),
    sku(
        "USE1-Claude4.6Opus-output-tokens",
        "AmazonBedrockService",
        "1K tokens",
        0.0275,
        "us-east-1",
    ),
    sku(
        "USW2-Claude4.5Haiku-cache-write-input-token-count-cross-region-global",
        "AmazonBedrockService",
        "1K tokens",
        0.00125,
        "us-west-2",
    ),
    sku(
        "USE1-NovaLite-input-tokens",
        "AmazonBedrock",
        "1K tokens",
        0.00006,
        "us-east-1",
    ),
    sku(
        "USE1-NovaLite-output-tokens",
        "AmazonBedrock",
        "1K tokens",
        0.00024,
        "us-east-1",
    ),
    sku(
        "EU-Nova2.0Lite-input-tokens",
        "AmazonBedrock",
        "1K tokens",
        0.000066,
        "eu-west-1",
    ),
    sku(
        "APS4-NovaLite-input-tokens",
        "AmazonBedrock",
        "1K tokens",
        0.000072,
        "ap-southeast-3",
    ),
    sku(
        "USE1-NovaMicro-input-tokens-batch",
        "AmazonBedrock",
        "1K tokens",
        0.0000175,
        "us-east-1",
    ),
    sku(
        "USE1-openai.gpt-oss-120b-mantle-input-tokens-standard",
        "AmazonBedrock",
        "1M tokens",
        0.15,
        "us-east-1",
    ),
    sku(
        "USE1-gpt-oss-120b-output-tokens-priority",
        "AmazonBedrock",
        "1M tokens",
        1.05,
        "us-east-1",
    ),
    sku(
        "USE1-Nova2.0Lite-input-tokens-flex",
        "AmazonBedrock",
        "1K tokens",
        0.000165,
        "us-east-1",
    ),
    sku(
        "USE1-TitanEmbeddingV2-Text-input-tokens",
        "AmazonBedrock",
        "1K tokens",
        0.00002,
        "us-east-1",
    ),
    sku(
        "USE1-Guardrail-ContentPolicyImageUnitsConsumed",
        "AmazonBedrock",
        "Units",
        0.00075,
        "us-east-1",
    ),
    sku(
        "USE1-Nova2.0Lite-ProvisionedThroughput-NoCommit-ModelUnits",
        "AmazonBedrock",
        "Hrs",
        21.18,
        "us-east-1",
    ),
    // Modality token counts (priced per 1K tokens like text tokens) and a rerank line (issue 8).
    sku(
        "USE1-Nova2.0Pro-input-image-token-count-cross-region-global",
        "AmazonBedrock",
        "1K tokens",
        0.00125,
        "us-east-1",
    ),
    sku(
        "USE1-NovaSonic-speech-input-tokens",
        "AmazonBedrock",
        "1K tokens",
        0.0034,
        "us-east-1",
    ),
    sku(
        "USE1-NovaSonic-speech-output-tokens",
        "AmazonBedrock",
        "1K tokens",
        0.0136,
        "us-east-1",
    ),
    sku(
        "USE1-cohere.rerank-english-v3-search-units",
        "AmazonBedrock",
        "Units",
        0.002,
        "us-east-1",
    ),
    // The second billing form of Claude Sonnet 4.6 (Marketplace-style SKUs under
    // AmazonBedrockFoundationModels), with a 30-minute cache write and a bare SKU without `-Units`.
    Sku {
        usage_type: "USE2-MP:USE2_CacheWrite30mInputTokenCount_Global-Units",
        product_code: "AmazonBedrockFoundationModels",
        pricing_unit: "Units",
        rate: 3.75,
        operation: "InvokeModelStreamingInference",
        region: "us-east-2",
        product_name: Some("Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
        marketplace: false,
    },
    Sku {
        usage_type: "USE2_CacheWriteInputTokenCount",
        product_code: "AmazonBedrockFoundationModels",
        pricing_unit: "Units",
        rate: 4.125,
        operation: "InvokeModelStreamingInference",
        region: "us-east-2",
        product_name: Some("Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
        marketplace: false,
    },
    Sku {
        usage_type: "USE2-MP:USE2_InputTokenCount_Global-Units",
        product_code: "AmazonBedrockFoundationModels",
        pricing_unit: "Units",
        rate: 3.0,
        operation: "InvokeModelStreamingInference",
        region: "us-east-2",
        product_name: Some("Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
        marketplace: false,
    },
    Sku {
        usage_type: "USE2-MP:USE2_OutputTokenCount_Global-Units",
        product_code: "AmazonBedrockFoundationModels",
        pricing_unit: "Units",
        rate: 15.0,
        operation: "InvokeModelStreamingInference",
        region: "us-east-2",
        product_name: Some("Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
        marketplace: false,
    },
    Sku {
        usage_type: "USE1-MP:USE1_InputTokenCount-Units",
        product_code: MP_CODE,
        pricing_unit: "Units",
        rate: 0.8,
        operation: "InvokeModelInference",
        region: "us-east-1",
        product_name: Some("Claude 3 Haiku (Amazon Bedrock Edition)"),
        marketplace: true,
    },
    Sku {
        usage_type: "USE1-MP:USE1_OutputTokenCount-Units",
        product_code: MP_CODE,
        pricing_unit: "Units",
        rate: 4.0,
        operation: "InvokeModelInference",
        region: "us-east-1",
        product_name: Some("Claude 3 Haiku (Amazon Bedrock Edition)"),
        marketplace: true,
    },
    Sku {
        usage_type: "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units",
        product_code: MP_CODE,
        pricing_unit: "Units",
        rate: 1.6,
        operation: "InvokeModelInference",
        region: "us-east-1",
        product_name: Some("Claude 3 Haiku (Amazon Bedrock Edition)"),
        marketplace: true,
    },
];

/// Bedrock features billed without a principal (Bedrock User Guide "IAM principal cost
/// tracking": knowledge bases, standalone guardrails, …).
const UNATTRIBUTED_SKU: Sku = sku(
    "USE1-Knowledge-Base:Consumption-based:Retrieval",
    "AmazonBedrock",
    "Units",
    0.002,
    "us-east-1",
);

/// Non-Bedrock services, some with look-alike attributes.
const OTHER_SERVICES: &[(&str, &str, &str, &str)] = &[
    ("AmazonEC2", "USE1-BoxUsage:m7i.large", "Hrs", "AWS"),
    ("AmazonS3", "USE1-TimedStorage-ByteHrs", "GB-Mo", "AWS"),
    (
        "AWSLambda",
        "USE1-Lambda-GB-Second",
        "Lambda-GB-Second",
        "AWS",
    ),
    (
        "AmazonBedrockAgentCore",
        "USE1-Runtime:Consumption-based:vCPU",
        "vCPU-Hours",
        "AWS",
    ),
    (
        "prod-saas7x2k9q",
        "USE1-MP:SaaS-Subscription-Units",
        "Units",
        "AWS Marketplace",
    ),
];

/// One generated line item (the columns that vary; the rest are derived or constant).
struct GenRow {
    product_code: &'static str,
    billing_entity: &'static str,
    line_item_type: &'static str,
    usage_type: &'static str,
    operation: &'static str,
    region: &'static str,
    principal: std::borrow::Cow<'static, str>,
    account: &'static str,
    pricing_unit: &'static str,
    product_name: Option<&'static str>,
    product_family: &'static str,
    description: String,
    usage_amount: f64,
    unblended_cost: f64,
    net_cost: Option<f64>,
    rate: f64,
    start_ms: i64,
    end_ms: i64,
    tags: Vec<(String, String)>,
    line_item_id: String,
    /// Non-Bedrock rows: availability zone, Savings Plan effective cost, split-cost ratio (EKS).
    az: &'static str,
    sp_effective: Option<f64>,
    split_ratio: Option<f64>,
}

fn round_to(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

fn period_start_ms(period: &str) -> i64 {
    let y: i64 = period[..4].parse().expect("YYYY-MM");
    let m: i64 = period[5..7].parse().expect("YYYY-MM");
    days_from_civil(y, m, 1) * 86_400_000
}

fn next_period(period: &str) -> String {
    let y: i64 = period[..4].parse().expect("YYYY-MM");
    let m: i64 = period[5..7].parse().expect("YYYY-MM");
    if m == 12 {
        format!("{:04}-01", y + 1)
    } else {
        format!("{y:04}-{:02}", m + 1)
    }
}

/// The share of each of [`OTHER_SERVICES`] among the non-Bedrock rows, in percent.
const OTHER_SERVICE_PERCENT: [usize; 5] = [40, 30, 25, 3, 2];

/// Which service (`Some(i)`: `OTHER_SERVICES[i]`, `None`: Bedrock) and usage day the next row of
/// an [`SampleLayout::Ordered`] period gets.
struct Ordered {
    /// `(service, rows)` in product-code order.
    blocks: Vec<(Option<usize>, usize)>,
    block: usize,
    in_block: usize,
    days: i64,
}

impl Ordered {
    fn new(rows: usize, bedrock_share: f64, hours: i64) -> Ordered {
        let bedrock = ((rows as f64 * bedrock_share).round() as usize).min(rows);
        let others = rows - bedrock;
        let mut n: Vec<usize> = OTHER_SERVICE_PERCENT
            .iter()
            .map(|p| others * p / 100)
            .collect();
        n[0] += others - n.iter().sum::<usize>();
        // AWSLambda, AmazonBedrock…, AmazonBedrockAgentCore, AmazonEC2, AmazonS3, Marketplace SaaS.
        let blocks = vec![
            (Some(2), n[2]),
            (None, bedrock),
            (Some(3), n[3]),
            (Some(0), n[0]),
            (Some(1), n[1]),
            (Some(4), n[4]),
        ];
        Ordered {
            blocks,
            block: 0,
            in_block: 0,
            days: (hours + 23) / 24,
        }
    }

    fn next(&mut self) -> (Option<usize>, i64) {
        while self.block + 1 < self.blocks.len() && self.in_block >= self.blocks[self.block].1 {
            self.block += 1;
            self.in_block = 0;
        }
        let (service, n) = self.blocks[self.block];
        let day = self.in_block as i64 * self.days / n.max(1) as i64;
        self.in_block += 1;
        (service, day.min(self.days - 1))
    }
}

struct RowGen<'s> {
    spec: &'s ExportSpec,
    rng: Rng,
    period_start: i64,
    hours: i64,
    session_arns: Vec<String>,
    /// `Some` for [`SampleLayout::Ordered`].
    ordered: Option<Ordered>,
}

impl<'s> RowGen<'s> {
    /// A generator for `rows` rows of `period`.
    fn new(
        spec: &'s ExportSpec,
        period: &str,
        seed: u64,
        session_arns: Vec<String>,
        rows: usize,
    ) -> Self {
        let start = period_start_ms(period);
        let mut end = period_start_ms(&next_period(period));
        if let Some(until) = spec.usage_until_ms {
            end = end.min(until);
        }
        let hours = ((end - start) / 3_600_000).max(1);
        RowGen {
            spec,
            rng: Rng::new(seed),
            period_start: start,
            hours,
            session_arns,
            ordered: (spec.layout == SampleLayout::Ordered)
                .then(|| Ordered::new(rows, spec.bedrock_share, hours)),
        }
    }

    fn row(&mut self) -> GenRow {
        let slot = self.ordered.as_mut().map(Ordered::next);
        let r = &mut self.rng;
        let hour = match slot {
            Some((_, day)) => (day * 24 + r.below(24) as i64).min(self.hours - 1),
            None => r.below(self.hours as usize) as i64,
        };
        let start_ms = self.period_start + hour * 3_600_000;
        let end_ms = start_ms + 3_600_000;
        // CUR line item ids are 52-character base32 strings ("jzpghmsdpdbm3ne5fzpaqbgayb4t…").
        let line_item_id: String = {
            const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
            let (mut a, mut b, mut c) = (r.next_u64(), r.next_u64(), r.next_u64());
            (0..52)
                .map(|i| {
                    let x = match i / 13 {
                        0 | 1 => &mut a,
                        2 => &mut b,
                        _ => &mut c,
                    };
                    let ch = B32[(*x & 31) as usize] as char;
                    *x >>= 5;
                    ch
                })
                .collect()
        };
        let other = match slot {
            Some((service, _)) => service,
            None if r.f64() >= self.spec.bedrock_share => {
                // A large organisation's mix: mostly EC2, S3 and Lambda; a little AgentCore and SaaS.
                let mut pick = r.below(100);
                let mut i = 0;
                while pick >= OTHER_SERVICE_PERCENT[i] {
                    pick -= OTHER_SERVICE_PERCENT[i];
                    i += 1;
                }
                Some(i)
            }
            None => None,
        };
        if let Some(service) = other {
            let (pc, ut, unit, entity) = OTHER_SERVICES[service];
            let amount = round_to(r.f64() * 100.0, 6);
            let rate = 0.0961;
            let cost = round_to(amount * rate, 10);
            // Resource tags as a large organisation has them: team, environment, application.
            let mut tags = vec![
                (
                    "resourceTags/user:team".to_string(),
                    ["infra", "data", "web", "ml"][r.below(4)].to_string(),
                ),
                (
                    "resourceTags/user:env".to_string(),
                    ["prod", "staging", "dev"][r.below(3)].to_string(),
                ),
                (
                    "resourceTags/user:app".to_string(),
                    format!("app-{}", r.below(200)),
                ),
            ];
            if r.below(3) == 0 {
                tags.push(("costCategory/department".into(), "platform".into()));
            }
            let ec2 = pc == "AmazonEC2";
            let sp_effective = (ec2 && r.below(5) < 2).then(|| round_to(cost * 0.72, 10));
            let split_ratio = (ec2 && r.below(4) == 0).then(|| round_to(r.f64(), 6));
            return GenRow {
                az: ["us-east-1a", "us-east-1b", "us-east-1c"][r.below(3)],
                sp_effective,
                split_ratio,
                product_code: pc,
                billing_entity: entity,
                line_item_type: if sp_effective.is_some() {
                    "SavingsPlanCoveredUsage"
                } else {
                    "Usage"
                },
                usage_type: ut,
                operation: "RunInstances",
                region: "us-east-1",
                principal: "".into(),
                account: ACCOUNT,
                pricing_unit: unit,
                product_name: (entity == "AWS Marketplace").then_some("Acme Analytics SaaS"),
                product_family: "Compute Instance",
                description: format!("$0.0961 per On Demand Linux m7i.large Instance Hour, {pc}"),
                usage_amount: amount,
                unblended_cost: cost,
                net_cost: Some(round_to(cost * 0.95, 10)),
                rate,
                start_ms,
                end_ms,
                tags,
                line_item_id,
            };
        }
        // Bedrock: mostly usage by a principal; some credits, refunds, tax and unattributed features.
        let roll = r.f64();
        let (sku, principal, principal_tags, line_item_type) = if roll < 0.03 {
            (
                &UNATTRIBUTED_SKU,
                std::borrow::Cow::Borrowed(""),
                &[][..],
                "Usage",
            )
        } else {
            let s = &SKUS[r.below(SKUS.len())];
            let (p, t) = if !self.session_arns.is_empty() && r.below(4) == 0 {
                let arn = self.session_arns[r.below(self.session_arns.len())].clone();
                (
                    std::borrow::Cow::Owned(arn),
                    &[("iamPrincipal/project", "BatchJobs")][..],
                )
            } else {
                let (arn, tags) = PRINCIPALS[r.below(PRINCIPALS.len())];
                (std::borrow::Cow::Borrowed(arn), tags)
            };
            let li_type = if roll < 0.05 {
                "Credit"
            } else if roll < 0.06 {
                "Refund"
            } else if roll < 0.08 {
                "Tax"
            } else {
                "Usage"
            };
            (s, p, t, li_type)
        };
        let amount = match sku.pricing_unit {
            "1K tokens" => round_to(r.f64() * 2_000.0, 3),
            "1M tokens" | "Units" => round_to(r.f64() * 2.0, 6),
            _ => round_to(r.f64() * 3.0, 4),
        };
        let mut cost = round_to(amount * sku.rate, 10);
        let account = if principal.contains("210987654321") {
            ACCOUNT_2
        } else {
            ACCOUNT
        };
        let (usage_type, principal, tags_src, amount) = match line_item_type {
            "Credit" | "Refund" => {
                cost = -round_to(cost * 0.5, 10);
                (sku.usage_type, principal, principal_tags, 0.0)
            }
            "Tax" => {
                cost = round_to(cost * 0.08, 10);
                ("", std::borrow::Cow::Borrowed(""), &[][..], 0.0)
            }
            _ => (sku.usage_type, principal, principal_tags, amount),
        };
        let mut tags: Vec<(String, String)> = tags_src
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !principal.is_empty() && r.below(5) == 0 {
            tags.push(("costCategory/department".into(), "research".into()));
        }
        let net_cost = match (line_item_type, r.below(10)) {
            ("Usage", 0) => None, // NULL net cost: no discount applied to this row
            ("Usage", _) => Some(round_to(cost * 0.93, 10)),
            _ => Some(cost),
        };
        let description = format!(
            "${} per {} for {} in {}, \"{}\"",
            sku.rate,
            sku.pricing_unit,
            sku.product_name.unwrap_or(sku.usage_type),
            sku.region,
            if line_item_type == "Tax" {
                "tax"
            } else {
                "standard"
            }
        );
        GenRow {
            az: "",
            sp_effective: None,
            split_ratio: None,
            product_code: sku.product_code,
            billing_entity: if sku.marketplace {
                "AWS Marketplace"
            } else {
                "AWS"
            },
            line_item_type,
            usage_type,
            operation: if line_item_type == "Tax" {
                ""
            } else {
                sku.operation
            },
            region: sku.region,
            principal,
            account,
            pricing_unit: if line_item_type == "Tax" {
                ""
            } else {
                sku.pricing_unit
            },
            product_name: sku.product_name,
            product_family: "Amazon Bedrock",
            description,
            usage_amount: amount,
            unblended_cost: cost,
            net_cost,
            rate: sku.rate,
            // Tax is billed for the whole month: its usage dates span the billing period.
            start_ms: if line_item_type == "Tax" {
                self.period_start
            } else {
                start_ms
            },
            end_ms: if line_item_type == "Tax" {
                self.period_start + self.hours * 3_600_000
            } else {
                end_ms
            },
            tags,
            line_item_id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The CUR 2.0 column set (CUR 2.0 table dictionary,
// https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html).

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    F64,
    Ts,
    MapStr,
    MapF64,
}

#[derive(Clone, Copy)]
enum Src {
    Null,
    Const(&'static str),
    ConstF64(f64),
    Field(F),
}

#[derive(Clone, Copy)]
enum F {
    BillType,
    InvoiceId,
    Entity,
    PeriodEnd,
    PeriodStart,
    Payer,
    PayerName,
    Product,
    Discount,
    LineItemId,
    TimeInterval,
    Az,
    Blended,
    Rate,
    Currency,
    Principal,
    Description,
    LineItemType,
    Net,
    NetRate,
    NormalizedAmount,
    Operation,
    ProductCode,
    ResourceId,
    Unblended,
    Account,
    AccountName,
    Amount,
    End,
    Start,
    UsageType,
    PublicCost,
    PricingUnit,
    ProductFamily,
    Region,
    ServiceCode,
    Sku,
    ResourceTags,
    Tags,
    Location,
    CostCategory,
    NormFactor,
    InstanceType,
    InstanceFamily,
    SpArn,
    SpEffective,
    SpRate,
    SpText(&'static str),
    SpTime(i64),
    SplitUsage,
    SplitCost,
    SplitRatio,
    SplitParent,
    TotalDiscount,
}

struct Col {
    name: &'static str,
    kind: Kind,
    src: Src,
}

const fn c(name: &'static str, kind: Kind, src: Src) -> Col {
    Col { name, kind, src }
}

use Kind::{F64, MapF64, MapStr, Str, Ts};
use Src::{Const, ConstF64, Field as Var, Null};

const COLUMNS: &[Col] = &[
    c("bill_bill_type", Str, Var(F::BillType)),
    c("bill_billing_entity", Str, Var(F::Entity)),
    c("bill_billing_period_end_date", Ts, Var(F::PeriodEnd)),
    c("bill_billing_period_start_date", Ts, Var(F::PeriodStart)),
    c("bill_invoice_id", Str, Var(F::InvoiceId)),
    c(
        "bill_invoicing_entity",
        Str,
        Const("Amazon Web Services, Inc."),
    ),
    c("bill_payer_account_id", Str, Var(F::Payer)),
    c("bill_payer_account_name", Str, Var(F::PayerName)),
    c("cost_category", MapStr, Var(F::CostCategory)),
    c("discount", MapF64, Var(F::Discount)),
    c("discount_bundled_discount", F64, Null),
    c("discount_total_discount", F64, Var(F::TotalDiscount)),
    c("identity_line_item_id", Str, Var(F::LineItemId)),
    c("identity_time_interval", Str, Var(F::TimeInterval)),
    c("line_item_availability_zone", Str, Var(F::Az)),
    c("line_item_blended_cost", F64, Var(F::Blended)),
    c("line_item_blended_rate", Str, Var(F::Rate)),
    c("line_item_currency_code", Str, Var(F::Currency)),
    c("line_item_iam_principal", Str, Var(F::Principal)),
    c(
        "line_item_legal_entity",
        Str,
        Const("Amazon Web Services, Inc."),
    ),
    c("line_item_line_item_description", Str, Var(F::Description)),
    c("line_item_line_item_type", Str, Var(F::LineItemType)),
    c("line_item_net_unblended_cost", F64, Var(F::Net)),
    c("line_item_net_unblended_rate", Str, Var(F::NetRate)),
    c("line_item_normalization_factor", F64, Var(F::NormFactor)),
    c(
        "line_item_normalized_usage_amount",
        F64,
        Var(F::NormalizedAmount),
    ),
    c("line_item_operation", Str, Var(F::Operation)),
    c("line_item_product_code", Str, Var(F::ProductCode)),
    c("line_item_resource_id", Str, Var(F::ResourceId)),
    c("line_item_tax_type", Str, Null),
    c("line_item_unblended_cost", F64, Var(F::Unblended)),
    c("line_item_unblended_rate", Str, Var(F::Rate)),
    c("line_item_usage_account_id", Str, Var(F::Account)),
    c("line_item_usage_account_name", Str, Var(F::AccountName)),
    c("line_item_usage_amount", F64, Var(F::Amount)),
    c("line_item_usage_end_date", Ts, Var(F::End)),
    c("line_item_usage_start_date", Ts, Var(F::Start)),
    c("line_item_usage_type", Str, Var(F::UsageType)),
    c("line_item_user_identifier", Str, Null),
    c("pricing_currency", Str, Var(F::Currency)),
    c("pricing_lease_contract_length", Str, Null),
    c("pricing_offering_class", Str, Null),
    c("pricing_public_on_demand_cost", F64, Var(F::PublicCost)),
    c("pricing_public_on_demand_rate", Str, Var(F::Rate)),
    c("pricing_purchase_option", Str, Null),
    c(
        "pricing_rate_code",
        Str,
        Const("A7KJ3VQ9ZR.JRTCKXETXF.6YS6EN2CT7"),
    ),
    c("pricing_rate_id", Str, Const("216739048211")),
    c("pricing_term", Str, Const("OnDemand")),
    c("pricing_unit", Str, Var(F::PricingUnit)),
    c("product", MapStr, Var(F::Product)),
    c("product_comment", Str, Null),
    c("product_fee_code", Str, Null),
    c("product_fee_description", Str, Null),
    c("product_from_location", Str, Null),
    c("product_from_location_type", Str, Null),
    c("product_from_region_code", Str, Null),
    c("product_instance_family", Str, Var(F::InstanceFamily)),
    c("product_instance_type", Str, Var(F::InstanceType)),
    c("product_instanceSKU", Str, Null),
    c("product_location", Str, Var(F::Location)),
    c("product_location_type", Str, Const("AWS Region")),
    c("product_operation", Str, Var(F::Operation)),
    c("product_pricing_unit", Str, Var(F::PricingUnit)),
    c("product_product_family", Str, Var(F::ProductFamily)),
    c("product_region_code", Str, Var(F::Region)),
    c("product_servicecode", Str, Var(F::ServiceCode)),
    c("product_sku", Str, Var(F::Sku)),
    c("product_to_location", Str, Null),
    c("product_to_location_type", Str, Null),
    c("product_to_region_code", Str, Null),
    c("product_usagetype", Str, Var(F::UsageType)),
    c(
        "reservation_amortized_upfront_cost_for_usage",
        F64,
        ConstF64(0.0),
    ),
    c(
        "reservation_amortized_upfront_fee_for_billing_period",
        F64,
        ConstF64(0.0),
    ),
    c("reservation_availability_zone", Str, Null),
    c("reservation_effective_cost", F64, ConstF64(0.0)),
    c("reservation_end_time", Str, Null),
    c("reservation_modification_status", Str, Null),
    c(
        "reservation_net_amortized_upfront_cost_for_usage",
        F64,
        Null,
    ),
    c(
        "reservation_net_amortized_upfront_fee_for_billing_period",
        F64,
        Null,
    ),
    c("reservation_net_effective_cost", F64, Null),
    c("reservation_net_recurring_fee_for_usage", F64, Null),
    c(
        "reservation_net_unused_amortized_upfront_fee_for_billing_period",
        F64,
        Null,
    ),
    c("reservation_net_unused_recurring_fee", F64, Null),
    c("reservation_net_upfront_value", F64, Null),
    c("reservation_normalized_units_per_reservation", Str, Null),
    c("reservation_number_of_reservations", Str, Null),
    c("reservation_recurring_fee_for_usage", F64, ConstF64(0.0)),
    c("reservation_reservation_a_r_n", Str, Null),
    c("reservation_start_time", Str, Null),
    c("reservation_subscription_id", Str, Const("8154962201")),
    c("reservation_total_reserved_normalized_units", Str, Null),
    c("reservation_total_reserved_units", Str, Null),
    c("reservation_units_per_reservation", Str, Null),
    c(
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        F64,
        ConstF64(0.0),
    ),
    c(
        "reservation_unused_normalized_unit_quantity",
        F64,
        ConstF64(0.0),
    ),
    c("reservation_unused_quantity", F64, ConstF64(0.0)),
    c("reservation_unused_recurring_fee", F64, ConstF64(0.0)),
    c("reservation_upfront_value", F64, ConstF64(0.0)),
    c("resource_tags", MapStr, Var(F::ResourceTags)),
    c(
        "savings_plan_amortized_upfront_commitment_for_billing_period",
        F64,
        ConstF64(0.0),
    ),
    c(
        "savings_plan_end_time",
        Str,
        Var(F::SpTime(1_830_297_600_000)),
    ),
    c(
        "savings_plan_instance_type_family",
        Str,
        Var(F::SpText("m7i")),
    ),
    c(
        "savings_plan_net_amortized_upfront_commitment_for_billing_period",
        F64,
        Var(F::SpRate),
    ),
    c(
        "savings_plan_net_recurring_commitment_for_billing_period",
        F64,
        Var(F::SpEffective),
    ),
    c(
        "savings_plan_net_savings_plan_effective_cost",
        F64,
        Var(F::SpEffective),
    ),
    c(
        "savings_plan_offering_type",
        Str,
        Var(F::SpText("ComputeSavingsPlans")),
    ),
    c(
        "savings_plan_payment_option",
        Str,
        Var(F::SpText("No Upfront")),
    ),
    c("savings_plan_purchase_term", Str, Var(F::SpText("1yr"))),
    c(
        "savings_plan_recurring_commitment_for_billing_period",
        F64,
        ConstF64(0.0),
    ),
    c(
        "savings_plan_region",
        Str,
        Var(F::SpText("US East (N. Virginia)")),
    ),
    c("savings_plan_savings_plan_a_r_n", Str, Var(F::SpArn)),
    c(
        "savings_plan_savings_plan_effective_cost",
        F64,
        Var(F::SpEffective),
    ),
    c("savings_plan_savings_plan_rate", F64, Var(F::SpRate)),
    c(
        "savings_plan_start_time",
        Str,
        Var(F::SpTime(1_767_225_600_000)),
    ),
    c("savings_plan_total_commitment_to_date", F64, ConstF64(0.0)),
    c("savings_plan_used_commitment", F64, Var(F::SpEffective)),
    c("split_line_item_actual_usage", F64, Var(F::SplitUsage)),
    c("split_line_item_net_split_cost", F64, Var(F::SplitCost)),
    c("split_line_item_net_unused_cost", F64, Null),
    c(
        "split_line_item_parent_resource_id",
        Str,
        Var(F::SplitParent),
    ),
    c(
        "split_line_item_public_on_demand_split_cost",
        F64,
        Var(F::SplitCost),
    ),
    c("split_line_item_public_on_demand_unused_cost", F64, Null),
    c("split_line_item_reserved_usage", F64, Null),
    c("split_line_item_split_cost", F64, Var(F::SplitCost)),
    c("split_line_item_split_usage", F64, Var(F::SplitUsage)),
    c("split_line_item_split_usage_ratio", F64, Var(F::SplitRatio)),
    c("split_line_item_unused_cost", F64, Null),
    c("tags", MapStr, Var(F::Tags)),
];

/// The CUR 2.0 column names the generator writes, in order.
pub fn column_names() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.name).collect()
}

/// A cell value.
enum Cell<'a> {
    Null,
    Str(std::borrow::Cow<'a, str>),
    F64(f64),
    Ts(i64),
    Map(Vec<(&'a str, &'a str)>),
    MapF64(Vec<(&'a str, f64)>),
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    period: &'a str,
    period_start: i64,
    period_end: i64,
    spec: &'a ExportSpec,
    /// The rows carry a `bill_invoice_id`.
    invoiced: bool,
}

fn cell<'a>(col: &Col, row: &'a GenRow, ctx: &Ctx<'_>) -> Cell<'a> {
    use std::borrow::Cow::{Borrowed, Owned};
    let f = match col.src {
        Null => return Cell::Null,
        Const(s) => return Cell::Str(Borrowed(s)),
        ConstF64(x) => return Cell::F64(x),
        Var(f) => f,
    };
    let bedrock = row.product_family == "Amazon Bedrock";
    match f {
        F::BillType => Cell::Str(Borrowed("Anniversary")),
        // One invoice per billing entity (AWS, AWS Marketplace) and period.
        F::InvoiceId if ctx.invoiced => Cell::Str(Owned(format!(
            "{}{}{:04}",
            &ctx.period[..4],
            &ctx.period[5..7],
            if row.billing_entity == "AWS" { 1 } else { 2 }
        ))),
        F::InvoiceId => Cell::Null,
        F::Entity => Cell::Str(Borrowed(row.billing_entity)),
        F::PeriodEnd => Cell::Ts(ctx.period_end),
        F::PeriodStart => Cell::Ts(ctx.period_start),
        F::Payer => Cell::Str(Owned(ctx.spec.payer_account_id.clone())),
        F::PayerName => Cell::Str(Borrowed("Acme Org Payer")),
        F::Product => {
            let mut m = vec![(
                "product_name",
                row.product_name.unwrap_or(if bedrock {
                    "Amazon Bedrock"
                } else {
                    "Amazon Elastic Compute Cloud"
                }),
            )];
            if bedrock {
                m.push((
                    "provider",
                    if row.usage_type.contains("Claude")
                        || row.product_name.is_some_and(|n| n.contains("Claude"))
                    {
                        "Anthropic"
                    } else {
                        "Amazon"
                    },
                ));
                m.push((
                    "feature",
                    if row.usage_type.contains("batch") {
                        "Batch"
                    } else {
                        "On-Demand"
                    },
                ));
            }
            Cell::Map(m)
        }
        F::Discount => {
            if row.net_cost.is_some_and(|n| n != row.unblended_cost) {
                Cell::MapF64(vec![(
                    "EdpDiscount",
                    row.net_cost.unwrap_or(0.0) - row.unblended_cost,
                )])
            } else {
                Cell::Null
            }
        }
        F::LineItemId => Cell::Str(Borrowed(&row.line_item_id)),
        F::TimeInterval => Cell::Str(Owned(format!(
            "{}/{}",
            &format_iso8601_ms(row.start_ms)[..19],
            &format_iso8601_ms(row.end_ms)[..19]
        ))),
        F::Az => Cell::Str(Borrowed(row.az)),
        F::TotalDiscount => match row.net_cost {
            Some(n) if n != row.unblended_cost => Cell::F64(n - row.unblended_cost),
            _ => Cell::Null,
        },
        F::CostCategory => {
            let m: Vec<(&str, &str)> = row
                .tags
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("costCategory/").map(|k| (k, v.as_str())))
                .collect();
            if m.is_empty() {
                Cell::Null
            } else {
                Cell::Map(m)
            }
        }
        F::NormFactor => Cell::F64(if row.product_code == "AmazonEC2" {
            4.0
        } else {
            0.0
        }),
        F::InstanceType if row.product_code == "AmazonEC2" => Cell::Str(Borrowed("m7i.large")),
        F::InstanceFamily if row.product_code == "AmazonEC2" => {
            Cell::Str(Borrowed("General purpose"))
        }
        F::InstanceType | F::InstanceFamily => Cell::Null,
        F::SpArn => match row.sp_effective {
            Some(_) => Cell::Str(Borrowed(
                "arn:aws:savingsplans::999988887777:savingsplan/8c1d7e2f-4b3a-4e6d-9f0a-1b2c3d4e5f60",
            )),
            None => Cell::Null,
        },
        F::SpEffective => row.sp_effective.map_or(Cell::Null, Cell::F64),
        F::SpRate => row.sp_effective.map_or(Cell::Null, |e| {
            Cell::F64(if row.usage_amount > 0.0 {
                e / row.usage_amount
            } else {
                0.0
            })
        }),
        F::SpText(t) => {
            if row.sp_effective.is_some() {
                Cell::Str(Borrowed(t))
            } else {
                Cell::Null
            }
        }
        F::SpTime(ms) => {
            if row.sp_effective.is_some() {
                Cell::Str(Owned(format_iso8601_ms(ms)))
            } else {
                Cell::Null
            }
        }
        F::SplitUsage => row
            .split_ratio
            .map_or(Cell::Null, |q| Cell::F64(row.usage_amount * q)),
        F::SplitCost => row
            .split_ratio
            .map_or(Cell::Null, |q| Cell::F64(row.unblended_cost * q)),
        F::SplitRatio => row.split_ratio.map_or(Cell::Null, Cell::F64),
        F::SplitParent => match row.split_ratio {
            Some(_) => Cell::Str(Owned(format!("i-{}", &row.line_item_id[..17]))),
            None => Cell::Null,
        },
        F::Blended | F::Unblended => Cell::F64(row.unblended_cost),
        F::Rate | F::NetRate => Cell::Str(Owned(format!("{}", row.rate))),
        F::Currency => Cell::Str(Borrowed("USD")),
        F::Principal => {
            // Non-Bedrock rows: NULL (AWS does not document NULL vs '' for them).
            if !ctx.spec.principal_column || (row.principal.is_empty() && !bedrock) {
                Cell::Null
            } else {
                Cell::Str(Borrowed(&row.principal))
            }
        }
        F::Description => Cell::Str(Borrowed(&row.description)),
        F::LineItemType => Cell::Str(Borrowed(row.line_item_type)),
        F::Net => match row.net_cost {
            Some(n) => Cell::F64(n),
            None => Cell::Null,
        },
        F::NormalizedAmount => Cell::F64(if row.product_code == "AmazonEC2" {
            row.usage_amount * 4.0
        } else {
            0.0
        }),
        F::Operation => Cell::Str(Borrowed(row.operation)),
        F::ProductCode => Cell::Str(Borrowed(row.product_code)),
        // Resource ids (INCLUDE_RESOURCES) as each service writes them; Bedrock rows carry none here.
        F::ResourceId => {
            let id = &row.line_item_id;
            match row.product_code {
                "AmazonEC2" => Cell::Str(Owned(format!("i-0{}", &id[..16]))),
                "AmazonS3" => Cell::Str(Owned(format!("acme-data-{}-{}", &id[..6], &id[40..46]))),
                "AWSLambda" => Cell::Str(Owned(format!(
                    "arn:aws:lambda:us-east-1:{}:function:svc-{}-handler",
                    row.account,
                    &id[..10]
                ))),
                "AmazonBedrockAgentCore" => Cell::Str(Owned(format!(
                    "arn:aws:bedrock-agentcore:us-east-1:{}:runtime/agent-{}",
                    row.account,
                    &id[..12]
                ))),
                _ => Cell::Str(Borrowed("")),
            }
        }
        F::Account => Cell::Str(Borrowed(row.account)),
        F::AccountName => Cell::Str(Borrowed(if row.account == ACCOUNT {
            "ml-prod"
        } else {
            "ml-batch"
        })),
        F::Amount => Cell::F64(row.usage_amount),
        F::End => Cell::Ts(row.end_ms),
        F::Start => Cell::Ts(row.start_ms),
        F::UsageType => Cell::Str(Borrowed(row.usage_type)),
        F::PublicCost => Cell::F64(row.unblended_cost.max(0.0)),
        F::PricingUnit => Cell::Str(Borrowed(row.pricing_unit)),
        F::ProductFamily => Cell::Str(Borrowed(row.product_family)),
        F::Region => Cell::Str(Borrowed(row.region)),
        F::ServiceCode => Cell::Str(Borrowed(row.product_code)),
        F::Sku => Cell::Str(Borrowed("7KXF3PRUBQZ5D9NC")),
        F::Location => Cell::Str(Borrowed("US East (N. Virginia)")),
        F::ResourceTags => {
            let m: Vec<(&str, &str)> = row
                .tags
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("resourceTags/").map(|k| (k, v.as_str())))
                .collect();
            if m.is_empty() {
                Cell::Null
            } else {
                Cell::Map(m)
            }
        }
        F::Tags => {
            let visible = |k: &str| {
                (ctx.spec.principal_column && ctx.spec.principal_tags)
                    || !k.starts_with("iamPrincipal/")
            };
            let m: Vec<(&str, &str)> = row
                .tags
                .iter()
                .filter(|(k, _)| visible(k))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if m.is_empty() {
                Cell::Null
            } else {
                Cell::Map(m)
            }
        }
    }
}

fn columns_for(spec: &ExportSpec) -> Vec<&'static Col> {
    COLUMNS
        .iter()
        .filter(|c| spec.principal_column || c.name != "line_item_iam_principal")
        .filter(|c| spec.net_cost_column || c.name != "line_item_net_unblended_cost")
        .collect()
}

fn arrow_type(kind: Kind) -> DataType {
    let map = |value: DataType| {
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", value, true),
                    ]
                    .into(),
                ),
                false,
            )),
            false,
        )
    };
    match kind {
        Str => DataType::Utf8,
        F64 => DataType::Float64,
        Ts => DataType::Timestamp(TimeUnit::Millisecond, None),
        MapStr => map(DataType::Utf8),
        MapF64 => map(DataType::Float64),
    }
}

fn athena_type(kind: Kind) -> &'static str {
    match kind {
        Str => "string",
        F64 => "double",
        Ts => "timestamp",
        MapStr => "map<string,string>",
        MapF64 => "map<string,double>",
    }
}

enum Builder {
    Str(StringBuilder),
    F64(Float64Builder),
    Ts(TimestampMillisecondBuilder),
    Map(MapBuilder<StringBuilder, StringBuilder>),
    MapF64(MapBuilder<StringBuilder, Float64Builder>),
}

impl Builder {
    fn new(kind: Kind) -> Self {
        match kind {
            Str => Builder::Str(StringBuilder::new()),
            F64 => Builder::F64(Float64Builder::new()),
            Ts => Builder::Ts(TimestampMillisecondBuilder::new()),
            MapStr => Builder::Map(MapBuilder::new(
                None,
                StringBuilder::new(),
                StringBuilder::new(),
            )),
            MapF64 => Builder::MapF64(MapBuilder::new(
                None,
                StringBuilder::new(),
                Float64Builder::new(),
            )),
        }
    }

    fn push(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Builder::Str(b), Cell::Str(s)) => b.append_value(s),
            (Builder::Str(b), _) => b.append_null(),
            (Builder::F64(b), Cell::F64(x)) => b.append_value(x),
            (Builder::F64(b), _) => b.append_null(),
            (Builder::Ts(b), Cell::Ts(x)) => b.append_value(x),
            (Builder::Ts(b), _) => b.append_null(),
            (Builder::Map(b), Cell::Map(m)) => {
                for (k, v) in m {
                    b.keys().append_value(k);
                    b.values().append_value(v);
                }
                b.append(true).expect("map entries match");
            }
            (Builder::Map(b), _) => b.append(false).expect("null map"),
            (Builder::MapF64(b), Cell::MapF64(m)) => {
                for (k, v) in m {
                    b.keys().append_value(k);
                    b.values().append_value(v);
                }
                b.append(true).expect("map entries match");
            }
            (Builder::MapF64(b), _) => b.append(false).expect("null map"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Map(b) => Arc::new(b.finish()),
            Builder::MapF64(b) => Arc::new(b.finish()),
        }
    }
}

fn csv_text(cell: Cell<'_>) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Str(s) => s.into_owned(),
        Cell::F64(x) => format!("{x}"),
        Cell::Ts(ms) => format_iso8601_ms(ms),
        Cell::Map(m) => {
            let obj: serde_json::Map<String, serde_json::Value> = m
                .into_iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect();
            serde_json::Value::Object(obj).to_string()
        }
        Cell::MapF64(m) => {
            let obj: serde_json::Map<String, serde_json::Value> = m
                .into_iter()
                .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
                .collect();
            serde_json::Value::Object(obj).to_string()
        }
    }
}

/// Writes `rows` generated rows into one data file.
fn write_data_file(
    path: &Path,
    spec: &ExportSpec,
    gen_: &mut RowGen<'_>,
    rows: usize,
    ctx: &Ctx<'_>,
) -> std::io::Result<u64> {
    std::fs::create_dir_all(path.parent().expect("file has a folder"))?;
    let cols = columns_for(spec);
    match spec.format {
        SampleFormat::Parquet => {
            let schema = Arc::new(Schema::new(
                cols.iter()
                    .map(|c| Field::new(c.name, arrow_type(c.kind), true))
                    .collect::<Vec<_>>(),
            ));
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(spec.row_group_rows.max(1)))
                .build();
            let file = File::create(path)?;
            let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
                .map_err(std::io::Error::other)?;
            let mut left = rows;
            while left > 0 {
                let n = left.min(spec.row_group_rows.max(1)).min(65_536);
                let mut builders: Vec<Builder> =
                    cols.iter().map(|c| Builder::new(c.kind)).collect();
                for _ in 0..n {
                    let row = gen_.row();
                    for (b, c) in builders.iter_mut().zip(&cols) {
                        b.push(cell(c, &row, ctx));
                    }
                }
                let arrays: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
                let batch =
                    RecordBatch::try_new(schema.clone(), arrays).map_err(std::io::Error::other)?;
                writer.write(&batch).map_err(std::io::Error::other)?;
                left -= n;
            }
            writer.close().map_err(std::io::Error::other)?;
        }
        SampleFormat::CsvGz => {
            let file = BufWriter::new(File::create(path)?);
            let gz = flate2::write::GzEncoder::new(file, flate2::Compression::new(6));
            let mut w = ::csv::Writer::from_writer(gz);
            w.write_record(cols.iter().map(|c| c.name))?;
            let mut record: Vec<String> = Vec::with_capacity(cols.len());
            for _ in 0..rows {
                let row = gen_.row();
                record.clear();
                record.extend(cols.iter().map(|c| csv_text(cell(c, &row, ctx))));
                w.write_record(&record)?;
            }
            let gz = w
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            gz.finish()?.flush()?;
        }
    }
    Ok(std::fs::metadata(path)?.len())
}

fn data_file_name(spec: &ExportSpec, n: usize) -> String {
    let ext = match spec.format {
        SampleFormat::Parquet => "snappy.parquet",
        SampleFormat::CsvGz => "csv.gz",
    };
    format!("{}-{:05}.{ext}", spec.export_name, n)
}

fn manifest_json(spec: &ExportSpec, execution_id: &str, files: &[String]) -> String {
    let base = if spec.prefix.is_empty() {
        format!("s3://{}/{}", spec.bucket, spec.export_name)
    } else {
        format!("s3://{}/{}/{}", spec.bucket, spec.prefix, spec.export_name)
    };
    let columns: Vec<serde_json::Value> = columns_for(spec)
        .iter()
        .map(|c| serde_json::json!({"name": c.name, "type": athena_type(c.kind)}))
        .collect();
    let data_files: Vec<String> = files.iter().map(|f| format!("{base}/{f}")).collect();
    let mut manifest = serde_json::json!({
        "executionId": execution_id,
        "exportArn": format!("arn:aws:bcm-data-exports:us-east-1:{}:export/{}-4b1c5e2a-3f0d-4a8e-9c7b-2d6e1f0a9b8c", spec.payer_account_id, spec.export_name),
        "columns": columns,
        "dataFiles": data_files,
        "additionalOutputFiles": [],
        "reportVersion": "2.0",
    });
    if spec.sample_marker {
        manifest[SAMPLE_MARKER] = serde_json::Value::Bool(true);
    }
    serde_json::to_string_pretty(&manifest).expect("JSON")
}

/// Writes an export under `root` (the export root: `root/data`, `root/metadata`).
pub fn write_export(root: &Path, spec: &ExportSpec) -> std::io::Result<ExportSummary> {
    let mut summary = ExportSummary::default();
    let sessions: Vec<String> = (0..spec.extra_sessions)
        .map(|i| format!("arn:aws:sts::123456789012:assumed-role/DocProcessor/batch-{i}"))
        .collect();
    for (pi, period) in spec.periods.iter().enumerate() {
        let period_ctx = Ctx {
            period,
            period_start: period_start_ms(period),
            period_end: period_start_ms(&next_period(period)),
            spec,
            invoiced: false,
        };
        let period_dir = format!("data/BILLING_PERIOD={period}");
        let meta_dir = format!("metadata/BILLING_PERIOD={period}");
        let executions: Vec<usize> = match spec.mode {
            SampleMode::Overwrite => vec![0],
            SampleMode::CreateNew => (0..=spec.older_executions).collect(),
        };
        let live = *executions.last().expect("one execution");
        for &ex in &executions {
            let is_live = ex == live;
            let ctx = Ctx {
                invoiced: is_live && spec.invoiced_periods.iter().any(|p| p == period),
                ..period_ctx
            };
            let seed = spec.seed ^ ((pi as u64) << 32) ^ ((ex as u64) << 48);
            // Older executions are smaller and differ, as a restated bill would.
            let mut rows = if is_live {
                spec.rows_per_period
            } else {
                spec.rows_per_period / 2 + 7
            };
            // A period billed up to `usage_until_ms` only (the current month) has the rows of the
            // days so far, not a whole month's crammed into them.
            if let Some(until) = spec.usage_until_ms {
                let whole = (ctx.period_end - ctx.period_start) as f64;
                let part = (until.min(ctx.period_end) - ctx.period_start).max(3_600_000) as f64;
                rows = ((rows as f64 * (part / whole).min(1.0)).round() as usize).max(1);
            }
            let mut gen_ = RowGen::new(spec, period, seed, sessions.clone(), rows);
            let nfiles = spec.files_per_period.max(1);
            let (folder, execution_id) = match spec.mode {
                SampleMode::Overwrite => (
                    String::new(),
                    format!("{:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b", seed as u32),
                ),
                SampleMode::CreateNew => {
                    let id = format!("{:08x}-7e6d-4c5b-9a8f-1e2d3c4b5a69", seed as u32);
                    let day = 2 + ex;
                    (
                        format!("2026{:02}{:02}T0600{:02}Z-{id}", (pi % 12) + 1, day, ex),
                        id,
                    )
                }
            };
            let mut files = Vec::new();
            for f in 0..nfiles {
                let n = rows / nfiles + usize::from(f < rows % nfiles);
                let rel = if folder.is_empty() {
                    format!("{period_dir}/{}", data_file_name(spec, f + 1))
                } else {
                    format!("{period_dir}/{folder}/{}", data_file_name(spec, f + 1))
                };
                summary.bytes += write_data_file(&root.join(&rel), spec, &mut gen_, n, &ctx)?;
                files.push(rel);
            }
            let manifest_rel = if folder.is_empty() {
                format!("{meta_dir}/{}-Manifest.json", spec.export_name)
            } else {
                format!("{meta_dir}/{folder}/{}-Manifest.json", spec.export_name)
            };
            let mpath: PathBuf = root.join(&manifest_rel);
            std::fs::create_dir_all(mpath.parent().expect("folder"))?;
            std::fs::write(&mpath, manifest_json(spec, &execution_id, &files))?;
            if is_live {
                summary.manifests.push(manifest_rel);
                summary.live_files.extend(files);
            } else {
                summary.dead_files.extend(files);
            }
            // Overwrite mode: a chunk left over from an earlier, larger run.
            if spec.mode == SampleMode::Overwrite && spec.stale_chunk {
                let rel = format!("{period_dir}/{}", data_file_name(spec, nfiles + 1));
                let stale_rows = rows / 3 + 11;
                let mut stale = RowGen::new(
                    spec,
                    period,
                    seed ^ 0xdead_beef,
                    sessions.clone(),
                    stale_rows,
                );
                summary.bytes +=
                    write_data_file(&root.join(&rel), spec, &mut stale, stale_rows, &ctx)?;
                summary.dead_files.push(rel);
            }
        }
    }
    // Data Exports writes a test object at the bucket root (Data Exports "Export delivery" page); a mirror may carry it.
    std::fs::write(root.join("aws-programmatic-access-test-object"), b"test")?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_column_set_with_unique_names() {
        let names = column_names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert!(names.len() >= 120, "{}", names.len());
    }

    #[test]
    fn iso8601_text() {
        assert_eq!(
            format_iso8601_ms(1_775_001_600_123),
            "2026-04-01T00:00:00.123Z"
        );
        assert_eq!(days_from_civil(2026, 4, 1) * 86_400_000, 1_775_001_600_000);
    }

    #[test]
    fn deterministic() {
        let spec = ExportSpec::default();
        let a: Vec<f64> = {
            let mut g = RowGen::new(&spec, "2026-11", 7, vec![], 100);
            (0..100).map(|_| g.row().unblended_cost).collect()
        };
        let b: Vec<f64> = {
            let mut g = RowGen::new(&spec, "2026-11", 7, vec![], 100);
            (0..100).map(|_| g.row().unblended_cost).collect()
        };
        assert_eq!(a, b);
    }

    /// The ordered layout: one block per service (Bedrock's holds `bedrock_share` of the rows),
    /// days ascending inside each block, every row exactly once.
    #[test]
    fn ordered_layout_groups_services_then_days() {
        let spec = ExportSpec {
            layout: SampleLayout::Ordered,
            bedrock_share: 0.1,
            ..ExportSpec::default()
        };
        let mut g = RowGen::new(&spec, "2026-11", 7, vec![], 1_000);
        let rows: Vec<GenRow> = (0..1_000).map(|_| g.row()).collect();
        let bedrock = |r: &GenRow| !OTHER_SERVICES.iter().any(|o| o.0 == r.product_code);
        let first = rows.iter().position(bedrock).unwrap();
        let n = rows.iter().filter(|r| bedrock(r)).count();
        assert_eq!(n, 100);
        assert!(
            rows[first..first + n].iter().all(bedrock),
            "one Bedrock block"
        );
        let mut blocks: Vec<&str> = Vec::new();
        // Usage start of the block's latest usage row (credits and tax carry other dates).
        let mut latest = i64::MIN;
        for (i, r) in rows.iter().enumerate() {
            let key = if bedrock(r) {
                "bedrock"
            } else {
                r.product_code
            };
            if blocks.last() != Some(&key) {
                assert!(!blocks.contains(&key), "{key} appears twice (row {i})");
                blocks.push(key);
                latest = i64::MIN;
            }
            if r.line_item_type.ends_with("Usage") {
                assert!(
                    r.start_ms >= latest.saturating_sub(23 * 3_600_000),
                    "row {i}: the day goes back"
                );
                latest = latest.max(r.start_ms);
            }
        }
        assert_eq!(blocks.len(), 6, "{blocks:?}");
        assert!(rows.iter().all(|r| r.start_ms < period_start_ms("2026-12")));
    }
}
