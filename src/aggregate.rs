//! Pure aggregation: the CUR rows of one billing period → Bedrock series with compensated sums.
//! No clock, no I/O. Memory grows with the number of distinct series, not with the rows.
//!
//! Rows are keyed by the raw values that determine every label (account, principal, usage type,
//! line item type, billing entity, product name, product region, currency, exported tags), so the
//! usage-type grammar runs once per distinct key, not once per row.

use std::collections::{BTreeMap, HashMap};

// Interning and series lookup run per Bedrock row: a fast non-cryptographic hash (keys are our own
// strings and ids, not attacker-chosen request data).
use rustc_hash::FxHashMap;
use std::sync::Arc;

use crate::bedrock::principal::{self, UNATTRIBUTED};
use crate::bedrock::tags::TagRules;
use crate::bedrock::{self, Classified, model};
use crate::cur::{CurRow, Prefilter, RowSink};
use crate::names::{OVERFLOW, SERIES_LABELS};
use crate::sum::Sum;

/// Options of the pure stages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateOptions {
    pub tags: TagRules,
    /// Fold assumed-role sessions into their role (`…:assumed-role/Role/*`).
    pub fold_sessions: bool,
    /// `models.rename`: canonical (or as-billed) model name → the name to export.
    pub model_rename: BTreeMap<String, String>,
}

/// Distinct unknown usage types kept per period; the rest are counted under [`OVERFLOW`].
pub const MAX_UNKNOWN_USAGE_TYPES: usize = 100;

/// Line item types whose usage end says up to when usage is billed (CUR 2.0 table dictionary, `line_item_line_item_type`:
/// https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-line-item.html).
pub const USAGE_LINE_ITEM_TYPES: &[&str] = &["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"];

/// Label values of one series: the fixed labels (in [`SERIES_LABELS`] order), then tag labels
/// sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels {
    pub fixed: [Arc<str>; SERIES_LABELS.len()],
    pub tags: Vec<(Arc<str>, Arc<str>)>,
}

/// One series: its labels, the currency of its costs, and its sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// `line_item_currency_code` (`USD` unless the bill says otherwise).
    pub currency: Arc<str>,
    pub cost: Sum,
    pub net_cost: Sum,
    /// Usage normalised to tokens, for line items priced per token.
    pub tokens: Option<Sum>,
    /// Usage in other pricing units: `(pricing unit, amount)`, sorted by unit.
    pub usage: Vec<(Arc<str>, Sum)>,
    /// Cost per UTC usage day (`line_item_usage_start_date`), sorted by day: what budget
    /// forecasts and spikes read. Empty in a [`Snapshot`](crate::snapshot::Snapshot)'s series.
    pub daily: Vec<DaySum>,
}

/// The cost of one series' line items whose usage started on one UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DaySum {
    /// Days since 1970-01-01 (UTC); [`NO_DAY`] for line items without a usage start date.
    pub day: i32,
    pub cost: Sum,
    pub net_cost: Sum,
}

/// The `day` of line items without a usage start date.
pub const NO_DAY: i32 = i32::MIN;

/// Adds `(cost, net)` to the entry of `day` in a day-sorted list.
fn add_day(daily: &mut Vec<DaySum>, day: i32, cost: &Sum, net: &Sum) {
    let i = match daily.last() {
        Some(last) if last.day == day => daily.len() - 1,
        _ => match daily.binary_search_by_key(&day, |d| d.day) {
            Ok(i) => i,
            Err(i) => {
                daily.insert(
                    i,
                    DaySum {
                        day,
                        ..DaySum::default()
                    },
                );
                i
            }
        },
    };
    daily[i].cost.merge(cost);
    daily[i].net_cost.merge(net);
}

impl Series {
    /// Adds another series' sums to this one's (same labels and currency).
    pub fn absorb(&mut self, s: &Series) {
        self.cost.merge(&s.cost);
        self.net_cost.merge(&s.net_cost);
        if let Some(t) = &s.tokens {
            self.tokens.get_or_insert_with(Sum::default).merge(t);
        }
        for (unit, sum) in &s.usage {
            match self.usage.iter_mut().find(|(u, _)| u == unit) {
                Some((_, acc)) => acc.merge(sum),
                None => self.usage.push((unit.clone(), *sum)),
            }
        }
        self.usage.sort_by(|a, b| a.0.cmp(&b.0));
        for d in &s.daily {
            add_day(&mut self.daily, d.day, &d.cost, &d.net_cost);
        }
    }

    /// A copy without the per-day sums (what a snapshot keeps).
    pub fn without_daily(&self) -> Series {
        Series {
            labels: self.labels.clone(),
            currency: self.currency.clone(),
            cost: self.cost,
            net_cost: self.net_cost,
            tokens: self.tokens,
            usage: self.usage.clone(),
            daily: Vec::new(),
        }
    }
}

/// Merges series with equal labels and currency, in input order; the result is sorted by labels.
pub fn merge_series(series: impl IntoIterator<Item = Series>) -> Vec<Series> {
    let mut by: HashMap<(Labels, Arc<str>), Series> = HashMap::new();
    for s in series {
        match by.entry((s.labels.clone(), s.currency.clone())) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().absorb(&s),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(s);
            }
        }
    }
    let mut out: Vec<Series> = by.into_values().collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// What aggregating one period saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodStats {
    pub bedrock_rows: u64,
    pub unattributed_rows: u64,
    /// Rows whose `line_item_net_unblended_cost` was NULL or absent (net = unblended for them).
    pub net_cost_fallback_rows: u64,
    /// Rows carrying two tag keys that map to one label name (the first key, sorted, wins).
    pub tag_label_collisions: u64,
    /// Bedrock line items whose usage type matched no rule, by usage type (at most
    /// [`MAX_UNKNOWN_USAGE_TYPES`] strings; the rest under `__other__`).
    pub unknown_usage_types: BTreeMap<String, u64>,
    /// Newest `line_item_usage_end_date` (ms since the epoch) of the period's Bedrock usage line
    /// items ([`USAGE_LINE_ITEM_TYPES`]): up to when Bedrock usage is billed. Whole-month tax and
    /// fee lines, which carry the period's end, do not count.
    pub newest_usage_end_ms: Option<i64>,
    /// `tags` keys seen on Bedrock line items (with a value), by number of line items; the
    /// first [`MAX_UNKNOWN_USAGE_TYPES`]·10 keys, the rest under `__other__`. `doctor` shows them.
    pub tag_keys: BTreeMap<String, u64>,
}

impl PeriodStats {
    /// Adds another part's stats (files of the same period read separately).
    pub fn add(&mut self, other: &PeriodStats) {
        self.bedrock_rows += other.bedrock_rows;
        self.unattributed_rows += other.unattributed_rows;
        self.net_cost_fallback_rows += other.net_cost_fallback_rows;
        self.tag_label_collisions += other.tag_label_collisions;
        for (usage_type, n) in &other.unknown_usage_types {
            add_unknown(&mut self.unknown_usage_types, usage_type, *n);
        }
        if let Some(end) = other.newest_usage_end_ms {
            self.newest_usage_end_ms = Some(self.newest_usage_end_ms.map_or(end, |n| n.max(end)));
        }
        for (key, n) in &other.tag_keys {
            add_tag_key(&mut self.tag_keys, key, *n);
        }
    }
}

fn add_tag_key(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    let key = if map.contains_key(key) || map.len() < MAX_UNKNOWN_USAGE_TYPES * 10 {
        key
    } else {
        OVERFLOW
    };
    *map.entry(key.to_string()).or_default() += n;
}

fn add_unknown(map: &mut BTreeMap<String, u64>, usage_type: &str, n: u64) {
    let key = if map.contains_key(usage_type) || map.len() < MAX_UNKNOWN_USAGE_TYPES {
        usage_type
    } else {
        OVERFLOW
    };
    *map.entry(key.to_string()).or_default() += n;
}

/// The finished aggregate of one billing period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodAggregate {
    pub period: String,
    pub series: Vec<Series>,
    pub stats: PeriodStats,
}

impl PeriodAggregate {
    /// Combines aggregates of disjoint parts of one period (files read in parallel), in the given
    /// order, so the result does not depend on which part finished first.
    pub fn merge(period: &str, parts: Vec<PeriodAggregate>) -> PeriodAggregate {
        let mut all = Vec::new();
        let mut stats = PeriodStats::default();
        for part in parts {
            stats.add(&part.stats);
            all.extend(part.series);
        }
        let series = merge_series(all);
        PeriodAggregate {
            period: period.to_string(),
            series,
            stats,
        }
    }
}

#[derive(Default)]
struct Interner {
    ids: FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let arc: Arc<str> = Arc::from(s);
        let id = self.strings.len() as u32;
        self.strings.push(arc.clone());
        self.ids.insert(arc, id);
        id
    }

    fn get(&self, id: u32) -> &Arc<str> {
        &self.strings[id as usize]
    }
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RowKey {
    payer: u32,
    account: u32,
    principal: u32,
    usage_type: u32,
    line_item_type: u32,
    billing_entity: u32,
    product_name: u32,
    region_code: u32,
    currency: u32,
    tags: Vec<(u32, u32)>,
}

#[derive(Default)]
struct Sums {
    cost: Sum,
    net_cost: Sum,
    tokens: Option<Sum>,
    usage: Vec<(u32, Sum)>,
    daily: Vec<DaySum>,
}

/// Aggregates the rows of one billing period; feed it as a [`RowSink`], then [`finish`](Self::finish).
pub struct PeriodAggregator<'o> {
    period: String,
    opts: &'o AggregateOptions,
    strings: Interner,
    /// Tag key → its label (interned) and the Bedrock line items that carried it.
    tag_labels: FxHashMap<Box<str>, (Option<u32>, u64)>,
    classes: FxHashMap<(u32, u32, u32), Arc<Classified>>,
    series: FxHashMap<RowKey, Sums>,
    stats: PeriodStats,
    tag_scratch: Vec<(u32, u32)>,
}

impl<'o> PeriodAggregator<'o> {
    pub fn new(period: impl Into<String>, opts: &'o AggregateOptions) -> Self {
        PeriodAggregator {
            period: period.into(),
            opts,
            strings: Interner::default(),
            tag_labels: FxHashMap::default(),
            classes: FxHashMap::default(),
            series: FxHashMap::default(),
            stats: PeriodStats::default(),
            tag_scratch: Vec::new(),
        }
    }

    fn tag_label(&mut self, key: &str) -> Option<u32> {
        if let Some((l, n)) = self.tag_labels.get_mut(key) {
            *n += 1;
            return *l;
        }
        let label = self.opts.tags.label_for(key).map(|l| self.strings.id(&l));
        self.tag_labels.insert(key.into(), (label, 1));
        label
    }

    fn classified(&mut self, usage_type: u32, product_name: u32, region: u32) -> Arc<Classified> {
        if let Some(c) = self.classes.get(&(usage_type, product_name, region)) {
            return c.clone();
        }
        let pn = (product_name != NONE).then(|| self.strings.get(product_name).to_string());
        let mut c = bedrock::classify(
            self.strings.get(usage_type),
            pn.as_deref(),
            self.strings.get(region),
        );
        if !self.opts.model_rename.is_empty() {
            c.model = model::renamed(c.model, &c.model_as_billed, &self.opts.model_rename);
        }
        let c = Arc::new(c);
        self.classes
            .insert((usage_type, product_name, region), c.clone());
        c
    }

    /// The aggregate, series sorted by labels.
    pub fn finish(mut self) -> PeriodAggregate {
        for (key, (_, n)) in &self.tag_labels {
            add_tag_key(&mut self.stats.tag_keys, key, *n);
        }
        let period: Arc<str> = Arc::from(self.period.as_str());
        let series_map = std::mem::take(&mut self.series);
        let mut series: Vec<Series> = series_map
            .into_iter()
            .map(|(key, sums)| self.series_of(&period, key, sums))
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        PeriodAggregate {
            period: self.period,
            series,
            stats: self.stats,
        }
    }

    fn series_of(&mut self, period: &Arc<str>, key: RowKey, sums: Sums) -> Series {
        let c = self.classified(key.usage_type, key.product_name, key.region_code);
        let s = |id: u32| self.strings.get(id).clone();
        let principal_raw = s(key.principal);
        let (principal, kind, name, session) = if principal_raw.is_empty() {
            (
                Arc::from(UNATTRIBUTED),
                principal::PrincipalKind::Unattributed.as_str(),
                Arc::from(""),
                Arc::from(""),
            )
        } else {
            let p = principal::parse(Some(&principal_raw));
            let session: Arc<str> = if p.session == "*" {
                Arc::from("")
            } else {
                Arc::from(p.session)
            };
            (
                principal_raw.clone(),
                p.kind.as_str(),
                Arc::from(p.name),
                session,
            )
        };
        let a = |v: &str| -> Arc<str> { Arc::from(v) };
        let fixed: [Arc<str>; SERIES_LABELS.len()] = [
            period.clone(),
            s(key.payer),
            s(key.account),
            principal,
            a(kind),
            name,
            session,
            a(&c.model),
            a(&c.region),
            a(c.direction.as_str()),
            a(c.tier.as_str()),
            a(c.scope.as_str()),
            a(&c.cache_ttl.label()),
            s(key.usage_type),
            s(key.line_item_type),
            s(key.billing_entity),
        ];
        let mut tags: Vec<(Arc<str>, Arc<str>)> =
            key.tags.iter().map(|&(l, v)| (s(l), s(v))).collect();
        tags.sort();
        let mut usage: Vec<(Arc<str>, Sum)> =
            sums.usage.iter().map(|&(u, sum)| (s(u), sum)).collect();
        usage.sort_by(|a, b| a.0.cmp(&b.0));
        Series {
            labels: Labels { fixed, tags },
            currency: s(key.currency),
            cost: sums.cost,
            net_cost: sums.net_cost,
            tokens: sums.tokens,
            usage,
            daily: sums.daily,
        }
    }
}

impl RowSink for PeriodAggregator<'_> {
    fn prefilter(&self) -> Option<Prefilter> {
        Some(Prefilter {
            product_codes: bedrock::BEDROCK_PRODUCT_CODES,
            billing_entities: &[bedrock::MARKETPLACE_ENTITY],
        })
    }

    fn wants(&mut self, product_code: &str, billing_entity: &str) -> bool {
        bedrock::may_be_bedrock(product_code, billing_entity)
    }

    fn row(&mut self, row: &CurRow<'_>) {
        if !bedrock::is_bedrock(row.product_code, row.billing_entity, row.product_name) {
            return;
        }
        self.stats.bedrock_rows += 1;
        let principal_raw = row.iam_principal.map(str::trim).unwrap_or("");
        if principal_raw.is_empty() {
            self.stats.unattributed_rows += 1;
        }
        let principal = if self.opts.fold_sessions {
            self.strings.id(&principal::fold_session(principal_raw))
        } else {
            self.strings.id(principal_raw)
        };

        // Tags: sorted by key so that a label-name collision resolves the same way every time.
        let mut scratch = std::mem::take(&mut self.tag_scratch);
        scratch.clear();
        let mut sorted: Vec<(&str, &str)>;
        let tags: &[(&str, &str)] = if row.tags.is_sorted() {
            row.tags
        } else {
            sorted = row.tags.to_vec();
            sorted.sort_unstable();
            &sorted
        };
        for &(k, v) in tags {
            if v.is_empty() {
                continue;
            }
            if let Some(label) = self.tag_label(k) {
                if scratch.iter().any(|&(l, _)| l == label) {
                    self.stats.tag_label_collisions += 1;
                    continue;
                }
                let value = self.strings.id(v);
                scratch.push((label, value));
            }
        }
        scratch.sort_unstable();

        let usage_type = self.strings.id(row.usage_type);
        let product_name = match row.product_name {
            Some(n) if !n.is_empty() => self.strings.id(n),
            _ => NONE,
        };
        let region_code = self.strings.id(row.product_region_code);
        let currency = self.strings.id(if row.currency.is_empty() {
            "USD"
        } else {
            row.currency
        });
        let key = RowKey {
            payer: self.strings.id(row.payer_account_id.trim()),
            account: self.strings.id(row.usage_account_id),
            principal,
            usage_type,
            line_item_type: self.strings.id(row.line_item_type),
            billing_entity: self.strings.id(row.billing_entity),
            product_name,
            region_code,
            currency,
            tags: scratch.clone(),
        };
        self.tag_scratch = scratch;

        let class = self.classified(usage_type, product_name, region_code);
        if !class.known && !row.usage_type.is_empty() && row.line_item_type != "Tax" {
            add_unknown(&mut self.stats.unknown_usage_types, row.usage_type, 1);
        }
        if let Some(end) = row.usage_end_ms
            && USAGE_LINE_ITEM_TYPES.contains(&row.line_item_type)
        {
            self.stats.newest_usage_end_ms =
                Some(self.stats.newest_usage_end_ms.map_or(end, |n| n.max(end)));
        }
        let factor = bedrock::token_factor(row.pricing_unit, class.direction, class.marketplace);
        let unit = match factor {
            Some(_) => NONE,
            None => self.strings.id(row.pricing_unit.trim()),
        };
        let net = match row.net_unblended_cost {
            Some(n) => n,
            None => {
                self.stats.net_cost_fallback_rows += 1;
                row.unblended_cost
            }
        };
        let sums = self.series.entry(key).or_default();
        sums.cost.add(row.unblended_cost);
        sums.net_cost.add(net);
        let day = row
            .usage_start_ms
            .map_or(NO_DAY, |ms| ms.div_euclid(86_400_000) as i32);
        let one = |x: f64| {
            let mut s = Sum::default();
            s.add(x);
            s
        };
        add_day(&mut sums.daily, day, &one(row.unblended_cost), &one(net));
        match factor {
            Some(f) => sums
                .tokens
                .get_or_insert_with(Sum::default)
                .add(row.usage_amount * f),
            None => match sums.usage.iter_mut().find(|(u, _)| *u == unit) {
                Some((_, s)) => s.add(row.usage_amount),
                None => {
                    let mut s = Sum::default();
                    s.add(row.usage_amount);
                    sums.usage.push((unit, s));
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::label;

    fn row<'a>(
        principal: Option<&'a str>,
        usage_type: &'a str,
        cost: f64,
        tags: &'a [(&'a str, &'a str)],
    ) -> CurRow<'a> {
        CurRow {
            product_code: "AmazonBedrockService",
            billing_entity: "AWS",
            line_item_type: "Usage",
            usage_type,
            iam_principal: principal,
            usage_account_id: "123456789012",
            currency: "USD",
            product_region_code: "us-east-1",
            pricing_unit: "1K tokens",
            unblended_cost: cost,
            net_unblended_cost: None,
            usage_amount: 2.0,
            tags,
            ..CurRow::default()
        }
    }

    #[test]
    fn blog_rows_aggregate_by_principal_and_direction() {
        let opts = AggregateOptions::default();
        let mut agg = PeriodAggregator::new("2026-04", &opts);
        let alice = Some("arn:aws:iam::123456789012:user/alice");
        let tags = [
            ("iamPrincipal/team", "ds"),
            ("iamPrincipal/cost-center", "12345"),
            ("resourceTags/x", "y"),
        ];
        for cost in [0.069, 0.001] {
            agg.row(&row(
                alice,
                "USE1-Claude4.6Sonnet-input-tokens",
                cost,
                &tags,
            ));
        }
        agg.row(&row(
            alice,
            "USE1-Claude4.6Sonnet-output-tokens",
            0.214,
            &tags,
        ));
        agg.row(&row(None, "USE1-Claude4.6Sonnet-output-tokens", 1.0, &[]));
        let mut ec2 = row(alice, "USE1-BoxUsage", 5.0, &[]);
        ec2.product_code = "AmazonEC2";
        agg.row(&ec2);
        let out = agg.finish();
        assert_eq!(out.stats.bedrock_rows, 4);
        assert_eq!(out.stats.unattributed_rows, 1);
        assert_eq!(out.stats.net_cost_fallback_rows, 4);
        assert_eq!(out.series.len(), 3);
        let input = out
            .series
            .iter()
            .find(|s| &*s.labels.fixed[label::DIRECTION] == "input")
            .unwrap();
        assert!((input.cost.value() - 0.070).abs() < 1e-15);
        assert_eq!(input.net_cost.value(), input.cost.value());
        assert_eq!(input.tokens.unwrap().value(), 4000.0);
        assert_eq!(&*input.labels.fixed[label::MODEL], "Claude Sonnet 4.6");
        assert_eq!(&*input.labels.fixed[label::PRINCIPAL_TYPE], "user");
        assert_eq!(&*input.labels.fixed[label::PRINCIPAL_NAME], "alice");
        let tag_names: Vec<&str> = input.labels.tags.iter().map(|(k, _)| &**k).collect();
        assert_eq!(tag_names, ["tag_cost_center", "tag_team"]);
        let unattributed = out
            .series
            .iter()
            .find(|s| &*s.labels.fixed[label::PRINCIPAL] == "unattributed")
            .unwrap();
        assert_eq!(unattributed.cost.value(), 1.0);
    }

    #[test]
    fn unknown_usage_types_freshness_and_renames() {
        let opts = AggregateOptions {
            model_rename: [("Nova Lite".to_string(), "nova-lite".to_string())].into(),
            ..Default::default()
        };
        let mut agg = PeriodAggregator::new("2026-11", &opts);
        let mut usage = row(None, "USE1-NovaLite-input-tokens", 1.0, &[]);
        usage.usage_end_ms = Some(1_000);
        agg.row(&usage);
        let mut new_sku = row(None, "USE1-NovaLite-widgets", 1.0, &[]);
        new_sku.usage_end_ms = Some(2_000);
        agg.row(&new_sku);
        agg.row(&new_sku);
        // A whole-month tax line dated to the period's end says nothing about how current usage is.
        let mut tax = row(None, "", 1.0, &[]);
        tax.line_item_type = "Tax";
        tax.usage_end_ms = Some(9_000);
        agg.row(&tax);
        let out = agg.finish();
        assert_eq!(out.stats.newest_usage_end_ms, Some(2_000));
        assert_eq!(
            out.stats.unknown_usage_types,
            [("USE1-NovaLite-widgets".to_string(), 2)].into()
        );
        assert!(
            out.series
                .iter()
                .filter(|s| &*s.labels.fixed[label::USAGE_TYPE] == "USE1-NovaLite-input-tokens")
                .all(|s| &*s.labels.fixed[label::MODEL] == "nova-lite")
        );
        let mut many = PeriodStats::default();
        for i in 0..MAX_UNKNOWN_USAGE_TYPES + 5 {
            add_unknown(&mut many.unknown_usage_types, &format!("USE1-X{i}"), 1);
        }
        assert_eq!(many.unknown_usage_types.len(), MAX_UNKNOWN_USAGE_TYPES + 1);
        assert_eq!(many.unknown_usage_types[OVERFLOW], 5);
    }

    #[test]
    fn folding_sessions_merges_them() {
        let opts = AggregateOptions {
            fold_sessions: true,
            ..Default::default()
        };
        let mut agg = PeriodAggregator::new("2026-04", &opts);
        for s in ["alice@acme.org", "bob@acme.org"] {
            let arn = format!("arn:aws:sts::123456789012:assumed-role/BedrockRole/{s}");
            agg.row(&row(Some(&arn), "USE1-NovaLite-input-tokens", 1.5, &[]));
        }
        let out = agg.finish();
        assert_eq!(out.series.len(), 1);
        assert_eq!(
            &*out.series[0].labels.fixed[label::PRINCIPAL],
            "arn:aws:sts::123456789012:assumed-role/BedrockRole/*"
        );
        assert_eq!(
            &*out.series[0].labels.fixed[label::PRINCIPAL_NAME],
            "BedrockRole"
        );
        assert_eq!(&*out.series[0].labels.fixed[label::SESSION], "");
        assert_eq!(out.series[0].cost.value(), 3.0);
    }

    #[test]
    fn tag_label_collisions_keep_the_first_key() {
        let opts = AggregateOptions::default();
        let mut agg = PeriodAggregator::new("2026-04", &opts);
        let tags = [
            ("iamPrincipal/team-lead", "b"),
            ("iamPrincipal/Team Lead", "a"),
        ];
        agg.row(&row(None, "USE1-NovaLite-input-tokens", 1.0, &tags));
        let out = agg.finish();
        assert_eq!(out.stats.tag_label_collisions, 1);
        assert_eq!(
            out.series[0].labels.tags,
            vec![(Arc::from("tag_team_lead"), Arc::from("a"))]
        );
    }
}
