//! prometheus-client [`Collector`]s over the immutable snapshot and status. Every series comes
//! from the snapshot, so a series the snapshot drops disappears from the exposition.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::names::{self, SERIES_LABELS};
use crate::snapshot::Snapshot;
use crate::status::Status;

/// [`DescriptorEncoder::encode_descriptor`] with the HELP text escaped for OpenMetrics (which
/// prometheus-client writes verbatim); the text 0.0.4 translation unescapes `\"` again
/// ([`super::exposition::openmetrics_help_to_text`]).
pub trait Describe {
    fn describe<'s>(
        &'s mut self,
        name: &'s str,
        help: &str,
        unit: Option<&'s Unit>,
        metric_type: MetricType,
    ) -> Result<MetricEncoder<'s>, std::fmt::Error>;
}

impl Describe for DescriptorEncoder<'_> {
    fn describe<'s>(
        &'s mut self,
        name: &'s str,
        help: &str,
        unit: Option<&'s Unit>,
        metric_type: MetricType,
    ) -> Result<MetricEncoder<'s>, std::fmt::Error> {
        let help = super::exposition::escape_help_openmetrics(help);
        self.encode_descriptor(name, &help, unit, metric_type)
    }
}

/// The metric-name suffix of a currency code (`usd`); codes are checked before they get here
/// ([`crate::currency`]).
pub fn currency_suffix(code: &str) -> String {
    crate::currency::suffix(code)
}

/// The distinct metric-name suffixes of some currency codes, sorted: one family per suffix, even
/// when two periods write a code in different cases (`USD`, `usd`).
fn currency_suffixes<'a>(codes: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut codes: Vec<&str> = codes.collect();
    codes.sort_unstable();
    codes.dedup();
    let mut suffixes: Vec<String> = codes.into_iter().map(currency_suffix).collect();
    suffixes.sort_unstable();
    suffixes.dedup();
    suffixes
}

/// The Bedrock series.
#[derive(Debug)]
pub struct SnapshotCollector(pub Arc<Snapshot>);

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snap = &self.0;
        let currencies = currency_suffixes(snap.series.iter().map(|s| &*s.currency));
        fn labels_of(s: &crate::aggregate::Series) -> Vec<(&str, &str)> {
            let mut v: Vec<(&str, &str)> = SERIES_LABELS
                .iter()
                .zip(s.labels.fixed.iter())
                .map(|(k, v)| (*k, &**v))
                .collect();
            v.extend(s.labels.tags.iter().map(|(k, v)| (&**k, &**v)));
            v
        }
        for suffix in &currencies {
            let upper = suffix.to_ascii_uppercase();
            for (prefix, help, net) in [
                (
                    names::COST_PREFIX,
                    format!(
                        "Amazon Bedrock cost in {upper}, billing period to date: sum of line_item_unblended_cost of the CUR 2.0 export's Bedrock line items (every line item type)."
                    ),
                    false,
                ),
                (
                    names::NET_COST_PREFIX,
                    format!(
                        "Amazon Bedrock net cost in {upper}, billing period to date: sum of line_item_net_unblended_cost (line_item_unblended_cost where the export has no net cost)."
                    ),
                    true,
                ),
            ] {
                let name = format!("{prefix}_{suffix}");
                let mut family = encoder.describe(&name, &help, None, MetricType::Gauge)?;
                for s in snap
                    .series
                    .iter()
                    .filter(|s| s.currency.eq_ignore_ascii_case(suffix))
                {
                    let v = if net {
                        s.net_cost.value()
                    } else {
                        s.cost.value()
                    };
                    let labels = labels_of(s);
                    family.encode_family(&labels)?.encode_gauge(&v)?;
                }
            }
        }
        if snap.series.iter().any(|s| s.tokens.is_some()) {
            let mut family = encoder.describe(
                names::USAGE_TOKENS,
                "Amazon Bedrock tokens, billing period to date: line_item_usage_amount scaled by pricing_unit (1K tokens, 1M tokens, Marketplace Units = 1M).",
                None,
                MetricType::Gauge,
            )?;
            for s in &snap.series {
                if let Some(t) = &s.tokens {
                    family
                        .encode_family(&labels_of(s))?
                        .encode_gauge(&t.value())?;
                }
            }
        }
        if snap.series.iter().any(|s| !s.usage.is_empty()) {
            let mut family = encoder.describe(
                names::USAGE_AMOUNT,
                "Amazon Bedrock usage not priced per token, billing period to date: sum of line_item_usage_amount in the CUR pricing_unit.",
                None,
                MetricType::Gauge,
            )?;
            for s in &snap.series {
                for (unit, sum) in &s.usage {
                    let mut labels = labels_of(s);
                    labels.push((names::PRICING_UNIT_LABEL, unit));
                    family.encode_family(&labels)?.encode_gauge(&sum.value())?;
                }
            }
        }
        Ok(())
    }
}

/// The exporter's self-metrics.
#[derive(Debug)]
pub struct StatusCollector {
    pub status: Arc<Status>,
    pub snapshot: Arc<Snapshot>,
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), std::fmt::Error> {
    let mut e = encoder.describe(name, help, None, MetricType::Gauge)?;
    e.encode_gauge(&v)
}

/// A gauge family labelled by export; nothing when `series` is empty.
fn labelled_gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(&str, f64)],
) -> Result<(), std::fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut e = encoder.describe(name, help, None, MetricType::Gauge)?;
    for (export, v) in series {
        e.encode_family(&[(names::EXPORT_LABEL, *export)])?
            .encode_gauge(v)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Vec<(&str, &str)>, u64)],
) -> Result<(), std::fmt::Error> {
    let mut e = encoder.describe(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        if labels.is_empty() {
            e.encode_counter::<NoLabelSet, _, u64>(v, None)?;
        } else {
            e.encode_family(labels)?
                .encode_counter::<NoLabelSet, _, u64>(v, None)?;
        }
    }
    Ok(())
}

fn per_period(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    status: &Status,
    value: impl Fn(&crate::status::PeriodStatus) -> Option<f64>,
) -> Result<(), std::fmt::Error> {
    let mut e = encoder.describe(name, help, None, MetricType::Gauge)?;
    for x in &status.exports {
        for p in &x.periods {
            if let Some(v) = value(p) {
                e.encode_family(&[
                    (names::EXPORT_LABEL, x.name.as_str()),
                    ("billing_period", p.period.as_str()),
                ])?
                .encode_gauge(&v)?;
            }
        }
    }
    Ok(())
}

impl Collector for StatusCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let st = &*self.status;
        {
            let mut e = enc.describe(
                names::BUILD_INFO,
                "Build information; always 1.",
                None,
                MetricType::Gauge,
            )?;
            e.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?
                .encode_gauge(&1i64)?;
        }
        // Per export (label `export`): one series each, from the start.
        let exports = &st.exports;
        let per_export = |f: &dyn Fn(&crate::status::ExportStatus) -> Option<f64>| {
            exports
                .iter()
                .filter_map(|x| f(x).map(|v| (x.name.as_str(), v)))
                .collect::<Vec<_>>()
        };
        labelled_gauge(
            &mut enc,
            names::READY,
            "1 once the export has had a complete refresh (its data is served); 0 before. /readyz answers 200 when every export is 1.",
            &per_export(&|x| Some(if x.ready { 1.0 } else { 0.0 })),
        )?;
        // Absent until the export's first refresh has finished: "not yet refreshed" is not "failed".
        labelled_gauge(
            &mut enc,
            names::UP,
            "1 if the export's last refresh succeeded (its data is being served), 0 if it failed or was refused (its last good data is being served).",
            &per_export(&|x| {
                x.last_attempt_unix
                    .map(|_| if x.last_refresh_ok { 1.0 } else { 0.0 })
            }),
        )?;
        labelled_gauge(
            &mut enc,
            names::LAST_SUCCESS,
            "Unix time of the export's last successful refresh.",
            &per_export(&|x| x.last_success_unix),
        )?;
        labelled_gauge(
            &mut enc,
            names::LAST_ATTEMPT,
            "Unix time of the export's last refresh attempt.",
            &per_export(&|x| x.last_attempt_unix),
        )?;
        if let Some(d) = st.last_duration_seconds {
            gauge(
                &mut enc,
                names::REFRESH_DURATION,
                "Duration of the last refresh attempt (every export in turn) in seconds.",
                d,
            )?;
        }
        counter(
            &mut enc,
            names::REFRESHES,
            "Refresh attempts by outcome (failure: some export failed or was refused).",
            &[
                (vec![("outcome", "success")], st.refreshes_ok),
                (vec![("outcome", "failure")], st.refreshes_failed),
            ],
        )?;
        let stages = [
            names::stage::LIST,
            names::stage::MANIFEST,
            names::stage::READ,
            names::stage::DECODE,
            names::stage::DUPLICATE,
            names::stage::INTERNAL,
        ];
        let errors: Vec<(Vec<(&str, &str)>, u64)> = exports
            .iter()
            .flat_map(|x| {
                stages.iter().map(move |s| {
                    (
                        vec![(names::EXPORT_LABEL, x.name.as_str()), ("stage", *s)],
                        x.errors.get(s).copied().unwrap_or(0),
                    )
                })
            })
            .collect();
        counter(
            &mut enc,
            names::ERRORS,
            "Errors by export and stage (list, manifest, read, decode, duplicate, internal: a bug, a panic caught); each is logged with the object key.",
            &errors,
        )?;
        let xe = st.exposition_errors;
        counter(
            &mut enc,
            names::EXPOSITION_ERRORS,
            "Failures to produce the exposition, by operation: render (rendering panicked, a bug: the previous exposition is served), decompress (the exposition could not be decompressed for a client without gzip, a bug: answered 500).",
            &[
                (
                    vec![("operation", names::exposition_operation::RENDER)],
                    xe.render,
                ),
                (
                    vec![("operation", names::exposition_operation::DECOMPRESS)],
                    xe.decompress,
                ),
            ],
        )?;
        let totals = |f: fn(&crate::status::ExportStatus) -> u64| -> Vec<(Vec<(&str, &str)>, u64)> {
            exports
                .iter()
                .map(|x| (vec![(names::EXPORT_LABEL, x.name.as_str())], f(x)))
                .collect()
        };
        counter(
            &mut enc,
            names::ROWS_READ,
            "CUR rows read (all services), over all refreshes.",
            &totals(|x| x.rows_read),
        )?;
        counter(
            &mut enc,
            names::BYTES_READ,
            "Bytes of data files read, over all refreshes.",
            &totals(|x| x.bytes_read),
        )?;
        counter(
            &mut enc,
            names::FILES_READ,
            "Data files read, over all refreshes.",
            &totals(|x| x.files_read),
        )?;
        per_period(
            &mut enc,
            names::PERIOD_ROWS,
            "CUR rows (all services) in the billing period's manifest-listed files.",
            st,
            |p| Some(p.rows as f64),
        )?;
        per_period(
            &mut enc,
            names::PERIOD_BEDROCK_ROWS,
            "Bedrock line items in the billing period.",
            st,
            |p| Some(p.stats.bedrock_rows as f64),
        )?;
        per_period(
            &mut enc,
            names::PERIOD_UNATTRIBUTED_ROWS,
            "Bedrock line items without an IAM principal (principal=\"unattributed\").",
            st,
            |p| Some(p.stats.unattributed_rows as f64),
        )?;
        per_period(
            &mut enc,
            names::PERIOD_TAG_LABEL_COLLISIONS,
            "Bedrock line items carrying two tag keys that map to one label name (the first key, sorted, gave the value; tags.rename one of them).",
            st,
            |p| Some(p.stats.tag_label_collisions as f64),
        )?;
        per_period(
            &mut enc,
            names::DATA_NEWEST,
            "Up to when Bedrock usage is billed: newest line_item_usage_end_date of the period's Bedrock usage line items, never after the export was written (Unix time).",
            st,
            |p| p.newest_usage_end_ms.map(|ms| ms as f64 / 1000.0),
        )?;
        per_period(
            &mut enc,
            names::MANIFEST_LAST_MODIFIED,
            "When the billing period's manifest was last written by AWS (its object's LastModified, Unix time): how current the export's delivery is, whatever its usage dates.",
            st,
            |p| p.manifest_last_modified_ms.map(|ms| ms as f64 / 1000.0),
        )?;
        per_period(
            &mut enc,
            names::PRINCIPAL_COLUMN,
            "1 if the export has line_item_iam_principal (INCLUDE_IAM_PRINCIPAL_DATA), 0 if every Bedrock row is unattributed for lack of it.",
            st,
            |p| Some(if p.principal_column { 1.0 } else { 0.0 }),
        )?;
        per_period(
            &mut enc,
            names::NET_COST_COLUMN,
            "1 if the export has line_item_net_unblended_cost; 0 if net cost falls back to unblended cost.",
            st,
            |p| Some(if p.net_cost_column { 1.0 } else { 0.0 }),
        )?;
        let periods = || {
            st.exports
                .iter()
                .flat_map(|x| x.periods.iter().map(move |p| (x.name.as_str(), p)))
        };
        if periods().any(|(_, p)| !p.stats.unknown_usage_types.is_empty()) {
            let mut e = enc.describe(
                names::UNKNOWN_USAGE_TYPES,
                "Bedrock line items whose usage type matched no classification rule, by billing period and usage type (at most 100 strings per period; the rest under usage_type=\"__other__\"). Each new string is logged once.",
                None,
                MetricType::Gauge,
            )?;
            for (x, p) in periods() {
                for (usage_type, rows) in &p.stats.unknown_usage_types {
                    e.encode_family(&[
                        (names::EXPORT_LABEL, x),
                        ("billing_period", p.period.as_str()),
                        ("usage_type", usage_type.as_str()),
                    ])?
                    .encode_gauge(&(*rows as f64))?;
                }
            }
        }
        {
            let mut e = enc.describe(
                names::MANIFEST_INFO,
                "The manifest (and execution) whose files make up each billing period; always 1.",
                None,
                MetricType::Gauge,
            )?;
            for (x, p) in periods() {
                e.encode_family(&[
                    (names::EXPORT_LABEL, x),
                    ("billing_period", p.period.as_str()),
                    ("manifest", p.manifest_key.as_str()),
                    ("execution_id", p.execution_id.as_str()),
                ])?
                .encode_gauge(&1i64)?;
            }
        }
        if exports.iter().any(|x| x.s3.is_some()) {
            let mut requests: Vec<(Vec<(&str, &str)>, u64)> = Vec::new();
            let mut bytes: Vec<(Vec<(&str, &str)>, u64)> = Vec::new();
            for x in exports {
                let Some(s3) = &x.s3 else { continue };
                for ((op, code), n) in &s3.requests {
                    requests.push((
                        vec![
                            (names::EXPORT_LABEL, x.name.as_str()),
                            ("operation", op.as_str()),
                            ("code", code.as_str()),
                        ],
                        *n,
                    ));
                }
                bytes.push((
                    vec![(names::EXPORT_LABEL, x.name.as_str())],
                    s3.bytes_fetched,
                ));
            }
            counter(
                &mut enc,
                names::S3_REQUESTS,
                "S3 HTTP attempts (retries included) by export, operation and status code (transport_error: no response; body_error: a body that failed after its response head, also counted under its status).",
                &requests,
            )?;
            counter(
                &mut enc,
                names::S3_BYTES,
                "Bytes fetched from S3 (manifests, Parquet footers and column chunks, CSV bodies).",
                &bytes,
            )?;
        }
        let snap = &*self.snapshot;
        gauge(
            &mut enc,
            names::SERIES,
            "Bedrock series in the snapshot (label sets of bedrock_cost_*).",
            snap.series.len() as f64,
        )?;
        gauge(
            &mut enc,
            names::SAMPLE_DATA,
            "1 while any billing period served comes from a manifest marked as example data (bedrockCostExporterSample, written by cur-sample): these numbers are not a bill. 0 otherwise.",
            if st.exports.iter().flat_map(|x| &x.periods).any(|p| p.sample) {
                1.0
            } else {
                0.0
            },
        )?;
        gauge(
            &mut enc,
            names::SERIES_LIMIT,
            "The configured series cap (max_series).",
            snap.max_series as f64,
        )?;
        gauge(
            &mut enc,
            names::FOLDED_SERIES,
            "Series folded into principal=\"__other__\" overflow buckets by the series cap.",
            snap.folded.series as f64,
        )?;
        let mut folded: std::collections::BTreeMap<String, f64> = Default::default();
        for (ccy, cost) in &snap.folded.cost {
            *folded.entry(currency_suffix(ccy)).or_default() += *cost;
        }
        for (suffix, cost) in &folded {
            let name = format!("{}_{suffix}", names::FOLDED_COST_PREFIX);
            gauge(
                &mut enc,
                &name,
                "Cost moved into overflow buckets by the series cap (still included in bedrock_cost_*).",
                *cost,
            )?;
        }
        if let Some(ok) = st.config_last_reload_ok {
            gauge(
                &mut enc,
                names::CONFIG_RELOAD_OK,
                "1 if the last configuration reload (SIGHUP or POST /-/reload) succeeded; 0 if it failed and the previous configuration stays in effect.",
                if ok { 1.0 } else { 0.0 },
            )?;
        }
        if let Some(t) = st.config_last_reload_success_unix {
            gauge(
                &mut enc,
                names::CONFIG_RELOAD_SUCCESS,
                "Unix time of the last successful configuration load (start or reload).",
                t,
            )?;
        }
        Ok(())
    }
}

/// Budgets, forecasts, spikes and the current billing period (see [`crate::budget`]).
#[derive(Debug)]
pub struct BudgetCollector(pub Arc<Snapshot>);

impl Collector for BudgetCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let report = &self.0.budgets;
        if !report.current_period.is_empty() {
            let mut e = enc.describe(
                names::CURRENT_BILLING_PERIOD,
                "The billing period (YYYY-MM) of the current UTC calendar month; always 1. Rules join on it so that budget alerts fire for the current month only.",
                None,
                MetricType::Gauge,
            )?;
            e.encode_family(&[("billing_period", report.current_period.as_str())])?
                .encode_gauge(&1i64)?;
            let mut e = enc.describe(
                names::PREVIOUS_BILLING_PERIOD_AGE,
                "The billing period (YYYY-MM) before the current one, valued with the seconds since it ended as of the exporter's now. Rules watch a closed period's budgets for a few days into the next month, when its restated spend arrives.",
                None,
                MetricType::Gauge,
            )?;
            e.encode_family(&[("billing_period", report.previous_period.as_str())])?
                .encode_gauge(&(report.previous_period_age_ms as f64 / 1000.0))?;
            gauge(
                &mut enc,
                names::NOW,
                "The exporter's now (Unix time) as of its last refresh: the configured `now`, else the clock. The rules read the calendar (day of month, month elapsed, data age) from it.",
                report.now_ms as f64 / 1000.0,
            )?;
        }
        let currencies = currency_suffixes(
            report
                .budgets
                .iter()
                .map(|b| b.budget.currency.as_str())
                .chain(report.principal_spikes.iter().map(|p| &*p.currency)),
        );
        for suffix in &currencies {
            let budgets: Vec<&crate::budget::BudgetState> = report
                .budgets
                .iter()
                .filter(|b| b.budget.currency.eq_ignore_ascii_case(suffix))
                .collect();
            let base = |b: &'_ crate::budget::BudgetState| -> Vec<(String, String)> {
                let mut v = vec![
                    (names::BUDGET_LABEL.to_string(), b.budget.name.clone()),
                    (names::OWNER_LABEL.to_string(), b.budget.owner.clone()),
                ];
                v.extend(b.budget.labels.iter().cloned());
                v
            };
            let with = |mut v: Vec<(String, String)>, k: &str, val: &str| {
                v.push((k.to_string(), val.to_string()));
                v
            };
            if !budgets.is_empty() {
                let name = format!("{}_{suffix}", names::BUDGET_LIMIT_PREFIX);
                let mut e = enc.describe(
                    &name,
                    "The budget's configured limit per billing period (monthly).",
                    None,
                    MetricType::Gauge,
                )?;
                for b in &budgets {
                    e.encode_family(&base(b))?.encode_gauge(&b.budget.monthly)?;
                }
                type PeriodValue = fn(&crate::budget::BudgetPeriod) -> f64;
                for (prefix, help, value) in [
                    (
                        names::BUDGET_SPEND_PREFIX,
                        "The budget's spend, billing period to date: cost of the Bedrock line items its selector matches, computed before the series cap.",
                        (|p| p.spend) as PeriodValue,
                    ),
                    (
                        names::BUDGET_FORECAST_PREFIX,
                        "Forecast of the budget's spend at the end of the billing period: spend plus the trailing daily rate of settled usage days for every unsettled or remaining day (README, Budgets and alerts). Never below spend; always finite.",
                        (|p| p.forecast) as PeriodValue,
                    ),
                ] {
                    let name = format!("{prefix}_{suffix}");
                    let mut e = enc.describe(&name, help, None, MetricType::Gauge)?;
                    for b in &budgets {
                        for p in &b.periods {
                            e.encode_family(&with(base(b), "billing_period", &p.period))?
                                .encode_gauge(&value(p))?;
                        }
                    }
                }
                for (prefix, help, baseline) in [
                    (
                        names::BUDGET_DAY_SPEND_PREFIX,
                        "The budget's spend on its last settled usage day (label usage_date).",
                        false,
                    ),
                    (
                        names::BUDGET_BASELINE_DAY_SPEND_PREFIX,
                        "The budget's mean daily spend over the baseline days before usage_date (across the month boundary).",
                        true,
                    ),
                ] {
                    let name = format!("{prefix}_{suffix}");
                    let mut e = enc.describe(&name, help, None, MetricType::Gauge)?;
                    for b in &budgets {
                        if let Some(s) = &b.spike {
                            let v = if baseline { s.baseline } else { s.day };
                            e.encode_family(&with(
                                base(b),
                                names::USAGE_DATE_LABEL,
                                &s.usage_date,
                            ))?
                            .encode_gauge(&v)?;
                        }
                    }
                }
            }
            let spikes: Vec<&crate::budget::PrincipalSpike> = report
                .principal_spikes
                .iter()
                .filter(|p| p.currency.eq_ignore_ascii_case(suffix))
                .collect();
            if !spikes.is_empty() {
                for (prefix, help, baseline) in [
                    (
                        names::PRINCIPAL_DAY_COST_PREFIX,
                        "Cost of a principal on the last settled usage day (label usage_date); only the top spenders of that day (spikes.top_principals). With budget, owner and the budget's labels of the first budget (configuration order) whose selector its spend that day matches.",
                        false,
                    ),
                    (
                        names::PRINCIPAL_BASELINE_DAY_COST_PREFIX,
                        "A principal's mean daily cost over the baseline days before usage_date (across the month boundary).",
                        true,
                    ),
                ] {
                    let name = format!("{prefix}_{suffix}");
                    let mut e = enc.describe(&name, help, None, MetricType::Gauge)?;
                    for p in &spikes {
                        let v = if baseline {
                            p.spend.baseline
                        } else {
                            p.spend.day
                        };
                        // The budget it counts toward (and so its owner and contacts), if any.
                        let mut labels: Vec<(&str, &str)> = vec![
                            ("principal", &*p.principal),
                            (names::USAGE_DATE_LABEL, p.spend.usage_date.as_str()),
                        ];
                        if let Some(b) = &p.budget {
                            labels.push((names::BUDGET_LABEL, b.name.as_str()));
                            labels.push((names::OWNER_LABEL, b.owner.as_str()));
                            labels.extend(b.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                        }
                        e.encode_family(&labels)?.encode_gauge(&v)?;
                    }
                }
            }
        }
        Ok(())
    }
}
