//! Budgets, forecasts and spikes, pure: per-period aggregates (before the series cap) and a given
//! "now" → the budget series the rules alert on. No clock, no I/O.
//!
//! - **Spend** of a budget in a billing period: the sum of `line_item_unblended_cost` (or net) of
//!   the line items whose `bedrock_cost_*` labels match the budget's selector. Computed from the
//!   period aggregates, before the series cap folds anything, so it is exact for any selector.
//! - **Forecast** of the period's end, from the bill's own usage days
//!   (`line_item_usage_start_date`). Let `H` be the newest usage day of the bill (capped at today)
//!   and `C = min(H, today − settle_days)` the last *settled* day (the newest days of a CUR export
//!   are incomplete; Marketplace rows settle after more than 48 h, hence 3 by default). The daily
//!   rate `r` is the budget's mean daily spend over the `window_days` settled days ending at `C`,
//!   reaching into the previous billing period across the month boundary (it is read anyway);
//!   where no settled day is loaded, the mean over the loaded days up to `H`; never below 0. Then
//!   `forecast = spend + Σ max(0, r − spend on d)` over the period's days `d` after `C`: every
//!   unsettled or future day counts at least the rate. So `forecast ≥ spend`, a closed and settled
//!   period's forecast is its spend, and a period that has just begun (or has no manifest yet)
//!   is forecast from the previous period's days. Always finite.
//! - **Spikes**: spend on the last settled usage day `D = min(H, today − spikes.settle_days)`
//!   against the mean daily spend of the `baseline_days` days before it (across the month
//!   boundary), per budget and for the `top_principals` principals with the highest spend on `D`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate};
use promql_parser::label::Matcher;

use crate::aggregate::{DaySum, LabelSource, NO_DAY, PeriodAggregate, SeriesRef};
use crate::names::{SERIES_LABELS, label};
use crate::sum::Sum;

const DAY_MS: i64 = 86_400_000;

/// Which cost column a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostKind {
    /// `line_item_unblended_cost` (as `bedrock_cost_*`).
    #[default]
    Unblended,
    /// `line_item_net_unblended_cost` (as `bedrock_net_cost_*`).
    Net,
}

impl CostKind {
    /// The configuration value (`cost = "net"`).
    pub fn as_str(self) -> &'static str {
        match self {
            CostKind::Unblended => "unblended",
            CostKind::Net => "net",
        }
    }
}

/// PromQL label matchers over the labels of `bedrock_cost_*`. A label a series lacks matches as
/// the empty string, as in PromQL.
#[derive(Debug, Clone)]
pub struct Selector {
    text: String,
    matchers: Vec<Matcher>,
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Selector {
    /// Parses `{label="value", other!~"re.*"}` with a PromQL parser. `""` or `{}` select every
    /// Bedrock series. Label names must be labels of `bedrock_cost_*` (`tag_*` labels depend on the
    /// data and are accepted).
    pub fn parse(text: &str) -> Result<Selector, String> {
        let t = text.trim();
        if t.is_empty() || t.replace(' ', "") == "{}" {
            return Ok(Selector {
                text: t.to_string(),
                matchers: Vec::new(),
            });
        }
        if !t.starts_with('{') {
            return Err(format!(
                "{t:?} is not a label selector: write label matchers only, like {{tag_team=\"ml\", account_id!=\"555566667777\"}} (the metric is chosen by `cost`)"
            ));
        }
        // A metric name in front lifts PromQL's "at least one non-empty matcher" rule, which a
        // budget like {tag_team!="ml"} needs; the name matcher is dropped below.
        let expr = promql_parser::parser::parse(&format!("bedrock_cost{t}"))
            .map_err(|e| format!("{t:?}: {e}"))?;
        let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
            return Err(format!("{t:?} is not a plain label selector"));
        };
        if vs.offset.is_some() || vs.at.is_some() || !vs.matchers.or_matchers.is_empty() {
            return Err(format!(
                "{t:?}: offset, @ and `or` are not supported in a budget selector"
            ));
        }
        let matchers: Vec<Matcher> = vs
            .matchers
            .matchers
            .into_iter()
            .filter(|m| m.name != "__name__")
            .collect();
        for m in &matchers {
            let known = SERIES_LABELS.contains(&m.name.as_str()) || m.name.starts_with("tag_");
            if !known {
                return Err(format!(
                    "{t:?}: label {:?} is not a label of bedrock_cost_usd (known: {}, and tag_* labels)",
                    m.name,
                    SERIES_LABELS.join(", ")
                ));
            }
        }
        Ok(Selector {
            text: t.to_string(),
            matchers,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a series' labels match.
    pub fn matches<S: LabelSource + ?Sized>(&self, s: &S) -> bool {
        self.matchers
            .iter()
            .all(|m| m.is_match(s.label_value(&m.name)))
    }
}

/// One configured budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub name: String,
    pub owner: String,
    pub selector: Selector,
    /// Limit per billing period, in `currency`.
    pub monthly: f64,
    pub cost: CostKind,
    /// The bill's currency code the budget is in (`USD` unless configured).
    pub currency: String,
    /// Extra labels copied onto the budget's series (and so onto its alerts), sorted by name.
    pub labels: Vec<(String, String)>,
}

/// How forecasts are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForecastSettings {
    /// Usage days before today still treated as unsettled.
    pub settle_days: u32,
    /// Settled days averaged for the daily rate.
    pub window_days: u32,
}

impl Default for ForecastSettings {
    fn default() -> Self {
        ForecastSettings {
            settle_days: crate::defaults::forecast::SETTLE_DAYS,
            window_days: crate::defaults::forecast::WINDOW_DAYS,
        }
    }
}

/// How spikes are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeSettings {
    /// The spike day is at most `today − settle_days`.
    pub settle_days: u32,
    /// Days before the spike day averaged as its baseline.
    pub baseline_days: u32,
    /// Principals with the highest spend on the spike day that get spike series.
    pub top_principals: usize,
}

impl Default for SpikeSettings {
    fn default() -> Self {
        SpikeSettings {
            settle_days: crate::defaults::spikes::SETTLE_DAYS,
            baseline_days: crate::defaults::spikes::BASELINE_DAYS,
            top_principals: crate::defaults::spikes::TOP_PRINCIPALS,
        }
    }
}

/// Everything the budget stage needs besides the data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetSettings {
    pub budgets: Vec<Budget>,
    pub forecast: ForecastSettings,
    pub spikes: SpikeSettings,
}

/// A budget's figures for one billing period.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetPeriod {
    pub period: String,
    pub spend: f64,
    pub forecast: f64,
}

/// Spend on the spike day against its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct DaySpend {
    /// `YYYY-MM-DD` of the spike day.
    pub usage_date: String,
    pub day: f64,
    /// Mean daily spend of the baseline days.
    pub baseline: f64,
}

/// One budget's state.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetState {
    pub budget: Arc<Budget>,
    /// One per loaded billing period, plus the current one when it has no data yet; sorted.
    pub periods: Vec<BudgetPeriod>,
    pub spike: Option<DaySpend>,
}

/// A principal's spike figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalSpike {
    pub principal: Arc<str>,
    pub currency: Arc<str>,
    pub spend: DaySpend,
    /// The first budget (configuration order, same currency) whose selector matches the
    /// principal's spend on the spike day: its `budget`, `owner` and contact labels go on the
    /// spike series, so the spike reaches that owner (PromQL cannot evaluate selectors).
    pub budget: Option<Arc<Budget>>,
}

/// The budget stage's output, carried by the snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetReport {
    /// "Now" (ms since the epoch): the configured `now`, else the clock at the refresh. The rules
    /// read the calendar from it, so a fixed `now` moves them too.
    pub now_ms: i64,
    /// `YYYY-MM` of "now" (UTC calendar).
    pub current_period: String,
    /// The billing period before the current one (`YYYY-MM`): rules watch a closed period's
    /// budgets for a few days into the next month (restated spend arrives late).
    pub previous_period: String,
    /// How long ago (ms) the previous period ended, as of `now_ms`.
    pub previous_period_age_ms: i64,
    pub budgets: Vec<BudgetState>,
    pub principal_spikes: Vec<PrincipalSpike>,
}

/// The `YYYY-MM` period before `period`; `""` when `period` is not one.
pub fn previous_period(period: &str) -> String {
    period_days(period)
        .and_then(|(first, _)| period_of((first as i64 - 1) * DAY_MS))
        .unwrap_or_default()
}

/// `YYYY-MM` of a Unix time in ms (UTC); `None` outside the calendar chrono knows (about
/// ±262,000 years), never a made-up 1970-01.
pub fn period_of(ms: i64) -> Option<String> {
    let d = DateTime::from_timestamp_millis(ms)?;
    Some(format!("{:04}-{:02}", d.year(), d.month()))
}

/// Milliseconds from `now_ms` to the start of the next UTC month: the daemon refreshes then, so
/// that `bedrock_exporter_current_billing_period` changes at midnight on the 1st rather than up
/// to one refresh interval later. `i64::MAX` (never) for a time outside the calendar.
pub fn ms_until_next_period(now_ms: i64) -> i64 {
    match period_of(now_ms).and_then(|p| period_days(&p)) {
        Some((_, last)) => ((last as i64 + 1) * DAY_MS - now_ms).max(0),
        None => i64::MAX,
    }
}

/// First and last day (days since the epoch) of a `YYYY-MM` billing period.
pub fn period_days(period: &str) -> Option<(i32, i32)> {
    let (y, m) = period.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)?
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let f = (first - epoch).num_days() as i32;
    let n = (next - epoch).num_days() as i32;
    Some((f, n - 1))
}

/// `YYYY-MM-DD` of a day index.
pub fn day_string(day: i32) -> String {
    DateTime::from_timestamp(day as i64 * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn day_of_ms(ms: i64) -> i32 {
    ms.div_euclid(DAY_MS) as i32
}

/// Spend per day, over all loaded periods.
type Daily = BTreeMap<i32, Sum>;

fn add_daily(into: &mut Daily, days: &[DaySum], net: bool) {
    for d in days.iter().filter(|d| d.day != NO_DAY) {
        into.entry(d.day)
            .or_default()
            .merge(if net { &d.net_cost } else { &d.cost });
    }
}

fn sum_days(daily: &Daily, lo: i32, hi: i32) -> f64 {
    if lo > hi {
        return 0.0;
    }
    let mut s = Sum::default();
    for (_, v) in daily.range(lo..=hi) {
        s.merge(v);
    }
    s.value()
}

/// Mean daily spend over `[lo, hi]` (inclusive), or `None` for an empty range.
fn mean(daily: &Daily, lo: i32, hi: i32) -> Option<f64> {
    (lo <= hi).then(|| sum_days(daily, lo, hi) / f64::from((hi - lo + 1) as u32))
}

fn finite_or(x: f64, fallback: f64) -> f64 {
    if x.is_finite() { x } else { fallback }
}

/// The days the data covers and how current it is.
#[derive(Debug, Clone, Copy)]
struct Calendar {
    today: i32,
    /// First day of the earliest loaded period.
    coverage_start: i32,
    /// Newest usage day of the bill, capped at today (`None`: no usage at all).
    horizon: Option<i32>,
}

impl Calendar {
    /// The last day treated as settled, given a lag of `settle_days`.
    fn settled(&self, settle_days: u32) -> i32 {
        let cap = self.today - settle_days as i32;
        self.horizon.map_or(cap, |h| h.min(cap))
    }
}

/// Computes the budget series. `periods` are the loaded billing periods (any order), before the
/// series cap; `newest_usage_ms` the newest usage end of the bill (all services) when known;
/// `now_ms` the current time.
pub fn evaluate(
    settings: &BudgetSettings,
    periods: &[&PeriodAggregate],
    newest_usage_ms: Option<i64>,
    now_ms: i64,
) -> BudgetReport {
    let Some(current_period) = period_of(now_ms) else {
        // Only a broken clock gets here (a configured `now` is RFC 3339, within the calendar).
        tracing::error!(
            now_ms,
            "the exporter's now is outside the calendar: no current billing period, no budget series (check the system clock)"
        );
        return BudgetReport {
            now_ms,
            ..BudgetReport::default()
        };
    };
    let today = day_of_ms(now_ms);
    let mut periods: Vec<&PeriodAggregate> = periods.to_vec();
    periods.sort_by(|a, b| a.period.cmp(&b.period));
    let coverage_start = periods
        .iter()
        .filter_map(|p| period_days(&p.period).map(|d| d.0))
        .min()
        .unwrap_or(today);
    let newest_data_day = periods
        .iter()
        .flat_map(|p| p.iter())
        .flat_map(|s| s.daily().iter())
        .map(|d| d.day)
        .filter(|&d| d != NO_DAY)
        .max();
    // The usage end of the bill's last hour is the next day's 00:00: step back 1 ms.
    let newest_bill_day = newest_usage_ms.map(|ms| day_of_ms(ms - 1));
    let horizon = newest_data_day
        .into_iter()
        .chain(newest_bill_day)
        .max()
        .map(|h| h.min(today));
    let cal = Calendar {
        today,
        coverage_start,
        horizon,
    };

    let configured: Vec<Arc<Budget>> = settings.budgets.iter().cloned().map(Arc::new).collect();
    let mut budgets = Vec::new();
    for b in &configured {
        let net = b.cost == CostKind::Net;
        let mut all_daily = Daily::new();
        let mut per_period: Vec<(String, f64, Daily)> = Vec::new();
        for p in &periods {
            let mut spend = Sum::default();
            let mut daily = Daily::new();
            for s in p
                .iter()
                .filter(|s| s.currency().eq_ignore_ascii_case(&b.currency) && b.selector.matches(s))
            {
                spend.merge(if net { s.net_cost() } else { s.cost() });
                add_daily(&mut daily, s.daily(), net);
            }
            for (d, v) in &daily {
                all_daily.entry(*d).or_default().merge(v);
            }
            per_period.push((p.period.clone(), spend.value(), daily));
        }
        let newest_loaded = periods.last().map(|p| p.period.as_str());
        if newest_loaded.is_none_or(|n| n < current_period.as_str()) {
            per_period.push((current_period.clone(), 0.0, Daily::new()));
        }
        let rate = daily_rate(&all_daily, &cal, settings.forecast);
        let c = cal.settled(settings.forecast.settle_days);
        let out_periods = per_period
            .into_iter()
            .map(|(period, spend, daily)| {
                let forecast = forecast(&period, spend, &daily, rate, c);
                BudgetPeriod {
                    period,
                    spend,
                    forecast,
                }
            })
            .collect();
        let spike = day_spend(&all_daily, &cal, settings.spikes);
        budgets.push(BudgetState {
            budget: b.clone(),
            periods: out_periods,
            spike,
        });
    }

    let current_start_ms =
        period_days(&current_period).map_or(now_ms, |(first, _)| first as i64 * DAY_MS);
    BudgetReport {
        now_ms,
        previous_period: previous_period(&current_period),
        previous_period_age_ms: now_ms - current_start_ms,
        current_period,
        budgets,
        principal_spikes: principal_spikes(&periods, &cal, settings.spikes, &configured),
    }
}

/// The daily rate of the forecast (see the module docs); finite and ≥ 0.
fn daily_rate(daily: &Daily, cal: &Calendar, f: ForecastSettings) -> f64 {
    let c = cal.settled(f.settle_days);
    let lo = (c - f.window_days.max(1) as i32 + 1).max(cal.coverage_start);
    let r = match mean(daily, lo, c) {
        Some(r) => r,
        // No settled day loaded: the mean over the loaded days up to the newest usage day.
        None => match cal.horizon {
            Some(h) => mean(daily, cal.coverage_start, h).unwrap_or(0.0),
            None => 0.0,
        },
    };
    finite_or(r, 0.0).max(0.0)
}

/// Spend plus at least `rate` for every day of the period after the settled day `c`.
fn forecast(period: &str, spend: f64, daily: &Daily, rate: f64, c: i32) -> f64 {
    let Some((first, last)) = period_days(period) else {
        return spend;
    };
    let mut extra = Sum::default();
    for d in (c + 1).max(first)..=last {
        let actual = daily.get(&d).map_or(0.0, Sum::value);
        extra.add((rate - actual).max(0.0));
    }
    finite_or(spend + extra.value(), spend)
}

/// Spend on the spike day and the mean of the baseline days before it; `None` when no baseline
/// day is loaded.
fn day_spend(daily: &Daily, cal: &Calendar, s: SpikeSettings) -> Option<DaySpend> {
    let d = cal.settled(s.settle_days);
    if d < cal.coverage_start {
        return None;
    }
    let lo = (d - s.baseline_days.max(1) as i32).max(cal.coverage_start);
    let baseline = mean(daily, lo, d - 1)?;
    Some(DaySpend {
        usage_date: day_string(d),
        day: finite_or(sum_days(daily, d, d), 0.0),
        baseline: finite_or(baseline, 0.0),
    })
}

/// Spike figures of the principals with the highest spend on the spike day. Every principal
/// has the same spike day and baseline days, so principals are ranked by their spend on the spike
/// day alone (the series with usage on that day, sorted by principal) and only the top ones' days
/// are read: the figures of per-principal daily sums, in a few bytes per series. Each is
/// attributed to the first of `budgets` whose selector one of its series with spend on the spike
/// day matches.
fn principal_spikes(
    periods: &[&PeriodAggregate],
    cal: &Calendar,
    s: SpikeSettings,
    budgets: &[Arc<Budget>],
) -> Vec<PrincipalSpike> {
    // No spike day, or no baseline day: no principal has figures.
    if s.top_principals == 0 || day_spend(&Daily::new(), cal, s).is_none() {
        return Vec::new();
    }
    let d = cal.settled(s.settle_days);
    fn key<'a>(series: &SeriesRef<'a>) -> (&'a str, &'a str) {
        (series.label(label::PRINCIPAL), series.currency())
    }
    // (period, series) with usage on the spike day, in period then label order; a stable sort
    // by principal keeps that order within a principal, so its sum adds up as the days do.
    let mut on_day: Vec<(u32, u32, u32)> = Vec::new();
    for (p, period) in periods.iter().enumerate() {
        for (i, x) in period.iter().enumerate() {
            if let Ok(at) = x.daily().binary_search_by_key(&d, |day| day.day) {
                on_day.push((p as u32, i as u32, at as u32));
            }
        }
    }
    let at = |&(p, i, _): &(u32, u32, u32)| periods[p as usize].get(i as usize);
    on_day.sort_by(|a, b| key(&at(a)).cmp(&key(&at(b))));
    let mut top: Vec<((&str, &str), f64)> = Vec::new();
    for group in on_day.chunk_by(|a, b| key(&at(a)) == key(&at(b))) {
        let mut sum = Sum::default();
        for e in group {
            sum.merge(&at(e).daily()[e.2 as usize].cost);
        }
        let day: Daily = [(d, sum)].into();
        let spend = finite_or(sum_days(&day, d, d), 0.0);
        if spend > 0.0 {
            top.push((key(&at(&group[0])), spend));
        }
    }
    drop(on_day);
    top.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(s.top_principals);
    let mut days: HashMap<(&str, &str), (Daily, usize)> = top
        .iter()
        .map(|(key, _)| (*key, (Daily::new(), budgets.len())))
        .collect();
    for x in periods.iter().flat_map(|p| p.iter()) {
        if let Some((daily, first)) = days.get_mut(&key(&x)) {
            add_daily(daily, x.daily(), false);
            if x.daily().binary_search_by_key(&d, |day| day.day).is_ok() {
                *first = budgets[..*first]
                    .iter()
                    .position(|b| {
                        b.currency.eq_ignore_ascii_case(x.currency()) && b.selector.matches(&x)
                    })
                    .unwrap_or(*first);
            }
        }
    }
    let mut out: Vec<PrincipalSpike> = top
        .into_iter()
        .filter_map(|((principal, currency), _)| {
            let (daily, first) = &days[&(principal, currency)];
            let spend = day_spend(daily, cal, s)?;
            Some(PrincipalSpike {
                principal: Arc::from(principal),
                currency: Arc::from(currency),
                spend,
                budget: budgets.get(*first).cloned(),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.currency, &a.principal).cmp(&(&b.currency, &b.principal)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "now" outside the calendar gives no billing period, never a silent 1970-01.
    #[test]
    fn no_silent_1970() {
        let report = evaluate(&BudgetSettings::default(), &[], None, i64::MAX);
        assert_ne!(report.current_period, "1970-01");
        assert_ne!(report.previous_period, "1969-12");
        assert_eq!(period_of(i64::MAX), None);
        assert_eq!(period_of(i64::MIN), None);
        assert_eq!(ms_until_next_period(i64::MAX), i64::MAX);
    }

    use crate::aggregate::{AggregateOptions, PeriodAggregator};
    use crate::cur::{CurRow, RowSink};

    fn ms(date: &str) -> i64 {
        crate::cur::time::parse_iso8601_ms(date).unwrap()
    }

    /// A period whose rows are `(principal, team tag, usage day, cost)`.
    fn period(name: &str, rows: &[(&str, &str, &str, f64)]) -> PeriodAggregate {
        let opts = AggregateOptions::default();
        let mut agg = PeriodAggregator::new(name, &opts);
        for &(p, team, day, cost) in rows {
            let tags = [("iamPrincipal/team", team)];
            let arn = format!("arn:aws:iam::123456789012:user/{p}");
            agg.row(&CurRow {
                product_code: "AmazonBedrock",
                billing_entity: "AWS",
                line_item_type: "Usage",
                usage_type: "USE1-NovaLite-input-tokens",
                iam_principal: Some(&arn),
                usage_account_id: "123456789012",
                currency: "USD",
                pricing_unit: "1K tokens",
                unblended_cost: cost,
                net_unblended_cost: Some(cost * 0.9),
                usage_amount: 1.0,
                tags: &tags,
                usage_start_ms: Some(ms(day) + 3_600_000),
                ..CurRow::default()
            });
        }
        agg.finish()
    }

    /// A period of `alice`'s spend in team `ml`, one `(usage day, cost)` per day.
    fn alice_period(name: &str, days: &[(String, f64)]) -> PeriodAggregate {
        let rows: Vec<(&str, &str, &str, f64)> = days
            .iter()
            .map(|(d, c)| ("alice", "ml", d.as_str(), *c))
            .collect();
        period(name, &rows)
    }

    /// One budget `ml` over every series, evaluated at `now`.
    fn ml_report(periods: &[&PeriodAggregate], now: &str) -> BudgetReport {
        evaluate(
            &settings(vec![budget("ml", "", 1.0)]),
            periods,
            None,
            ms(now),
        )
    }

    fn budget(name: &str, selector: &str, monthly: f64) -> Budget {
        Budget {
            name: name.into(),
            owner: format!("{name}-owner"),
            selector: Selector::parse(selector).unwrap(),
            monthly,
            cost: CostKind::Unblended,
            currency: "USD".into(),
            labels: Vec::new(),
        }
    }

    fn settings(budgets: Vec<Budget>) -> BudgetSettings {
        BudgetSettings {
            budgets,
            ..BudgetSettings::default()
        }
    }

    #[test]
    fn selectors_parse_and_match_like_promql() {
        let p = period(
            "2026-11",
            &[
                ("alice", "ml", "2026-11-01", 1.0),
                ("bob", "", "2026-11-01", 2.0),
            ],
        );
        let series = p.series();
        let alice = series
            .iter()
            .find(|s| s.labels.fixed[label::PRINCIPAL].ends_with("alice"))
            .unwrap();
        let bob = series
            .iter()
            .find(|s| s.labels.fixed[label::PRINCIPAL].ends_with("bob"))
            .unwrap();
        // The compact series read in place (what `evaluate` matches) match the same way.
        let by_ref = |name: &str| {
            p.iter()
                .find(|s| s.label(label::PRINCIPAL).ends_with(name))
                .unwrap()
        };
        let (alice_ref, bob_ref) = (by_ref("alice"), by_ref("bob"));
        for (sel, a, b) in [
            (r#"{tag_team="ml"}"#, true, false),
            (r#"{tag_team!="ml"}"#, false, true),
            (r#"{tag_team=""}"#, false, true),
            (r#"{principal_name=~"ali.*"}"#, true, false),
            (r#"{principal_name=~"li"}"#, false, false), // anchored
            (
                r#"{principal_name!~"a.*", account_id="123456789012"}"#,
                false,
                true,
            ),
            ("", true, true),
            ("{}", true, true),
        ] {
            let s = Selector::parse(sel).unwrap();
            assert_eq!((s.matches(alice), s.matches(bob)), (a, b), "{sel}");
            assert_eq!(
                (s.matches(&alice_ref), s.matches(&bob_ref)),
                (a, b),
                "{sel}"
            );
        }
        for bad in [
            r#"{tag_team="ml""#,
            r#"{team="ml"}"#,
            r#"bedrock_cost_usd{tag_team="ml"}"#,
            r#"{tag_team=~"("}"#,
            r#"sum({tag_team="ml"})"#,
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn calendar() {
        assert_eq!(period_of(ms("2026-12-31T23:59:59Z")).unwrap(), "2026-12");
        assert_eq!(period_of(ms("2027-01-01T00:00:00Z")).unwrap(), "2027-01");
        let (f, l) = period_days("2028-02").unwrap();
        assert_eq!(l - f + 1, 29);
        assert_eq!(day_string(f), "2028-02-01");
        assert_eq!(day_string(l), "2028-02-29");
        assert_eq!(period_days("2026-13"), None);
        assert_eq!(ms_until_next_period(ms("2026-12-31T23:59:59Z")), 1000);
        assert_eq!(
            ms_until_next_period(ms("2026-11-01T00:00:00Z")),
            30 * DAY_MS
        );
    }

    /// Hand-computed: 10 USD a day from Nov 1 to Nov 14, now Nov 15 12:00, settle 3, window 7.
    /// Horizon H = Nov 14, C = min(14, 15 − 3) = Nov 12. Rate = mean(Nov 6..12) = 10.
    /// Days after C: 13, 14 (actual 10 each: + 0), 15..30 (16 days: + 160). Spend 140 → 300.
    #[test]
    fn forecast_hand_computed_mid_month() {
        let rows: Vec<(String, f64)> = (1..=14)
            .map(|d| (format!("2026-11-{d:02}"), 10.0))
            .collect();
        let p = alice_period("2026-11", &rows);
        let r = evaluate(
            &settings(vec![budget("ml", r#"{tag_team="ml"}"#, 250.0)]),
            &[&p],
            None,
            ms("2026-11-15T12:00:00Z"),
        );
        assert_eq!(r.current_period, "2026-11");
        let b = &r.budgets[0];
        assert_eq!(b.periods.len(), 1);
        assert_eq!(b.periods[0].spend, 140.0);
        assert_eq!(b.periods[0].forecast, 300.0);
    }

    /// Unsettled days below the rate are topped up to it: Nov 13 and 14 have only 4 and 1 USD.
    /// Rate 10 (Nov 6..12) → + 6 + 9 + 160 = 175; spend 125 → 300.
    #[test]
    fn forecast_tops_up_incomplete_days() {
        let mut rows: Vec<(String, f64)> = (1..=12)
            .map(|d| (format!("2026-11-{d:02}"), 10.0))
            .collect();
        rows.push(("2026-11-13".into(), 4.0));
        rows.push(("2026-11-14".into(), 1.0));
        let p = alice_period("2026-11", &rows);
        let r = ml_report(&[&p], "2026-11-15T12:00:00Z");
        assert_eq!(r.budgets[0].periods[0].spend, 125.0);
        assert_eq!(r.budgets[0].periods[0].forecast, 300.0);
    }

    /// Dec 1 at 01:00 with no December manifest yet: the previous period gives the rate (Nov 22..28,
    /// 20 a day), December is forecast at 31 × 20 = 620 with spend 0; November (closed, but Nov
    /// 29 and 30 unsettled at 10 < 20) → spend + 2 × 10.
    #[test]
    fn forecast_across_the_month_boundary_and_before_the_first_delivery() {
        let rows: Vec<(String, f64)> = (1..=30)
            .map(|d| (format!("2026-11-{d:02}"), if d >= 29 { 10.0 } else { 20.0 }))
            .collect();
        let nov = alice_period("2026-11", &rows);
        let r = ml_report(&[&nov], "2026-12-01T01:00:00Z");
        assert_eq!(r.current_period, "2026-12");
        let ps = &r.budgets[0].periods;
        assert_eq!(ps.len(), 2);
        assert_eq!(
            (ps[0].period.as_str(), ps[0].spend, ps[0].forecast),
            ("2026-11", 580.0, 600.0)
        );
        assert_eq!(
            (ps[1].period.as_str(), ps[1].spend, ps[1].forecast),
            ("2026-12", 0.0, 620.0)
        );
        // Nov 4: Nov is settled → its forecast is its spend.
        let r = ml_report(&[&nov], "2026-12-04T00:00:00Z");
        assert_eq!(r.budgets[0].periods[0].forecast, 580.0);
    }

    /// Day 1 of a period with nothing before it: the rate is the mean of the loaded days up to
    /// the horizon; with no usage at all, 0. Never NaN or infinite.
    #[test]
    fn first_hours_of_a_period_are_finite() {
        let p = period("2026-11", &[("alice", "ml", "2026-11-01", 5.0)]);
        let r = ml_report(&[&p], "2026-11-01T00:10:00Z");
        let f = r.budgets[0].periods[0].forecast;
        assert_eq!(f, 150.0); // 5 a day × 30
        let empty = period("2026-11", &[]);
        let r = ml_report(&[&empty], "2026-11-01T00:00:00Z");
        assert_eq!(r.budgets[0].periods[0].forecast, 0.0);
        let r = ml_report(&[], "2026-11-01T00:00:00Z");
        assert_eq!(r.budgets[0].periods[0].period, "2026-11");
        assert!(r.budgets[0].periods[0].forecast.is_finite());
    }

    /// A stale bill (newest usage Nov 5, now Nov 20): the rate comes from settled days up to
    /// the horizon, not from the days the bill has not reached.
    #[test]
    fn stale_bill_uses_its_horizon() {
        let rows: Vec<(String, f64)> = (1..=5).map(|d| (format!("2026-11-{d:02}"), 10.0)).collect();
        let p = alice_period("2026-11", &rows);
        let r = ml_report(&[&p], "2026-11-20T00:00:00Z");
        // C = min(5, 17) = Nov 5; rate = mean(Nov 1..5) = 10; days 6..30 → + 250.
        assert_eq!(r.budgets[0].periods[0].forecast, 300.0);
    }

    #[test]
    fn net_cost_and_currency() {
        let p = period("2026-11", &[("alice", "ml", "2026-11-01", 10.0)]);
        let mut b = budget("ml", "", 1.0);
        b.cost = CostKind::Net;
        let mut eur = budget("eur", "", 1.0);
        eur.currency = "EUR".into();
        let r = evaluate(
            &settings(vec![b, eur]),
            &[&p],
            None,
            ms("2026-11-30T00:00:00Z"),
        );
        assert_eq!(r.budgets[0].periods[0].spend, 9.0);
        assert_eq!(r.budgets[1].periods[0].spend, 0.0);
    }

    /// The ranked principal spikes equal those of every principal's full daily sums (the
    /// straightforward way, which holds the days of every principal): ties, several series per
    /// principal, two periods, zero spend on the spike day.
    #[test]
    fn principal_spikes_equal_full_per_principal_days() {
        let names: Vec<String> = (0..40).map(|i| format!("p{}", i % 13)).collect();
        let mut nov = Vec::new();
        let mut dec = Vec::new();
        let days: Vec<String> = (24..=30)
            .map(|d| format!("2026-11-{d:02}"))
            .chain((1..=3).map(|d| format!("2026-12-{d:02}")))
            .collect();
        for (i, n) in names.iter().enumerate() {
            for (j, day) in days.iter().enumerate() {
                let cost = ((i * 7 + j * 3) % 5) as f64 * 0.1;
                let team = ["a", "b", "c"][(i + j) % 3];
                let row = (n.as_str(), team, day.as_str(), cost);
                if day.starts_with("2026-11") {
                    nov.push(row);
                } else {
                    dec.push(row);
                }
            }
        }
        let (nov, dec) = (period("2026-11", &nov), period("2026-12", &dec));
        let now = ms("2026-12-04T10:00:00Z");
        let periods = [&nov, &dec];
        let cal = Calendar {
            today: day_of_ms(now),
            coverage_start: period_days("2026-11").unwrap().0,
            horizon: Some(day_of_ms(ms("2026-12-03T00:00:00Z"))),
        };
        for top in [1, 3, 5, 13, 20] {
            let s = SpikeSettings {
                top_principals: top,
                ..SpikeSettings::default()
            };
            let mut by: HashMap<(Arc<str>, Arc<str>), Daily> = HashMap::new();
            for p in periods {
                for x in p.series() {
                    let key = (x.labels.fixed[label::PRINCIPAL].clone(), x.currency.clone());
                    add_daily(by.entry(key).or_default(), &x.daily, false);
                }
            }
            let mut want: Vec<PrincipalSpike> = by
                .into_iter()
                .filter_map(|((principal, currency), daily)| {
                    let spend = day_spend(&daily, &cal, s)?;
                    (spend.day > 0.0).then_some(PrincipalSpike {
                        principal,
                        currency,
                        spend,
                        budget: None,
                    })
                })
                .collect();
            want.sort_by(|a, b| {
                b.spend
                    .day
                    .total_cmp(&a.spend.day)
                    .then_with(|| a.principal.cmp(&b.principal))
            });
            want.truncate(top);
            want.sort_by(|a, b| a.principal.cmp(&b.principal));
            let got = principal_spikes(&periods, &cal, s, &[]);
            assert_eq!(got, want, "top {top}");
            assert_eq!(got.len(), top.min(13), "top {top}");
        }
    }

    /// Spike day D = min(H, today − 2); baseline = mean of the 7 days before, across the month
    /// boundary. Bob spends 1 a day, then 50 on Dec 2.
    #[test]
    fn spikes_across_the_month_boundary() {
        let nov_rows: Vec<String> = (24..=30).map(|d| format!("2026-11-{d:02}")).collect();
        let nov: Vec<(&str, &str, &str, f64)> = nov_rows
            .iter()
            .map(|d| ("bob", "web", d.as_str(), 1.0))
            .collect();
        let dec: Vec<(&str, &str, &str, f64)> = vec![
            ("bob", "web", "2026-12-01", 1.0),
            ("bob", "web", "2026-12-02", 50.0),
            ("bob", "web", "2026-12-03", 7.0),
            ("alice", "ml", "2026-12-02", 3.0),
        ];
        let (nov, dec) = (period("2026-11", &nov), period("2026-12", &dec));
        let mut s = settings(vec![budget("web", r#"{tag_team="web"}"#, 1.0)]);
        s.spikes.top_principals = 1;
        let r = evaluate(&s, &[&dec, &nov], None, ms("2026-12-04T10:00:00Z"));
        let spike = r.budgets[0].spike.as_ref().unwrap();
        assert_eq!(spike.usage_date, "2026-12-02");
        assert_eq!(spike.day, 50.0);
        assert_eq!(spike.baseline, 1.0); // Nov 25..Dec 1
        assert_eq!(r.principal_spikes.len(), 1);
        assert!(r.principal_spikes[0].principal.ends_with("user/bob"));
        assert_eq!(r.principal_spikes[0].spend.day, 50.0);
        assert_eq!(r.principal_spikes[0].budget.as_ref().unwrap().name, "web");
        assert_eq!(r.now_ms, ms("2026-12-04T10:00:00Z"));
        assert_eq!(
            (r.current_period.as_str(), r.previous_period.as_str()),
            ("2026-12", "2026-11")
        );
        assert_eq!(r.previous_period_age_ms, (3 * 24 + 10) * 3_600_000);
    }

    /// A spiking principal carries the first budget, in configuration order, whose selector its
    /// spend on the spike day matches; none when no budget's does.
    #[test]
    fn a_principal_spike_carries_the_first_matching_budget() {
        let rows: Vec<(&str, &str, &str, f64)> = vec![
            ("bob", "web", "2026-11-10", 1.0),
            ("bob", "web", "2026-11-11", 40.0),
            ("carol", "ml", "2026-11-10", 1.0),
            ("carol", "ml", "2026-11-11", 30.0),
            ("dave", "", "2026-11-10", 1.0),
            ("dave", "", "2026-11-11", 20.0),
            // Erin's team "ml" only before the spike day: the spike day's spend decides.
            ("erin", "ml", "2026-11-10", 1.0),
            ("erin", "", "2026-11-11", 10.0),
        ];
        let p = period("2026-11", &rows);
        let s = settings(vec![
            budget("ml", r#"{tag_team="ml"}"#, 1.0),
            budget("teams", r#"{tag_team=~"ml|web"}"#, 1.0),
            budget("web", r#"{tag_team="web"}"#, 1.0),
        ]);
        let r = evaluate(&s, &[&p], None, ms("2026-11-13T10:00:00Z"));
        let got: Vec<(String, Option<String>)> = r
            .principal_spikes
            .iter()
            .map(|x| {
                (
                    x.principal.rsplit('/').next().unwrap().to_string(),
                    x.budget.as_ref().map(|b| b.name.clone()),
                )
            })
            .collect();
        let want = |p: &str, b: Option<&str>| (p.to_string(), b.map(String::from));
        assert_eq!(
            got,
            vec![
                want("bob", Some("teams")),
                want("carol", Some("ml")),
                want("dave", None),
                want("erin", None),
            ]
        );
    }

    #[test]
    fn the_previous_period_crosses_the_year() {
        assert_eq!(previous_period("2027-01"), "2026-12");
        assert_eq!(previous_period("2026-03"), "2026-02");
        assert_eq!(previous_period("nonsense"), "");
    }

    /// Spend comes from the aggregates before the cap: a budget on principals the cap folds
    /// into `__other__` is still exact.
    #[test]
    fn spend_is_exact_whatever_the_cap_folds() {
        let tiny = |i: usize| i < 100 && i % 10 == 7;
        let names: Vec<String> = (0..200).map(|i| format!("u{i}")).collect();
        let rows: Vec<(&str, &str, &str, f64)> = names
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    p.as_str(),
                    if tiny(i) { "tiny" } else { "x" },
                    "2026-11-02",
                    0.01 * (i + 1) as f64,
                )
            })
            .collect();
        let p = period("2026-11", &rows);
        let snap = crate::snapshot::Snapshot::build([&p], 10);
        assert!(snap.folded.series > 0);
        assert!(
            !snap
                .series
                .iter()
                .any(|s| s.labels.tags.iter().any(|(_, v)| &**v == "tiny"))
        );
        let r = evaluate(
            &settings(vec![budget("tiny", r#"{tag_team="tiny"}"#, 1.0)]),
            &[&p],
            None,
            ms("2026-11-20T00:00:00Z"),
        );
        let want: Sum = (0..200)
            .filter(|&i| tiny(i))
            .map(|i| 0.01 * (i + 1) as f64)
            .collect();
        assert_eq!(r.budgets[0].periods[0].spend, want.value());
    }
}
