//! Grouping, pure: the series of the period aggregates (before the series cap, so every group is
//! exact however `/metrics` folds) → one row per value of the `--by` labels and currency. No I/O;
//! memory grows with the groups (at most the series), never with the line items.
//!
//! A series' group is its values of the `--by` labels, as `/metrics` shows them (`unattributed`,
//! `unknown`; a tag label the line items lack is `""`, a group of its own, never dropped). With
//! `budget`, a series counts under every budget of its currency whose selector matches it, or
//! under [`NO_BUDGET`] when none does; overlapping budgets make the rows add up to more than the
//! total, which [`Overlap`] says.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::aggregate::{LabelSource, PeriodAggregate, SeriesRef};
use crate::budget::{Budget, CostKind};
use crate::names::{OVERFLOW, SERIES_LABELS, label};
use crate::sum::Sum;

use super::args::BUDGET;

/// The `budget` value of spend that no budget's selector matches.
pub const NO_BUDGET: &str = "__none__";

/// The first label cell of a currency's total row.
pub const TOTAL: &str = "TOTAL";

/// What a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// One value of the `--by` labels.
    Group,
    /// The groups `--top` folded (labels `__other__`).
    Other,
    /// The currency's Bedrock total (first label `TOTAL`).
    Total,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Group => "group",
            RowKind::Other => "other",
            RowKind::Total => "total",
        }
    }
}

/// A budget row's own columns.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetColumns {
    pub owner: String,
    /// The budget's cost basis (`cost`: unblended or net).
    pub basis: CostKind,
    /// The row's cost on that basis: `bedrock_budget_spend_*` when grouping by budget alone.
    pub spend: f64,
    /// The budget's `monthly` limit.
    pub limit: f64,
}

impl BudgetColumns {
    /// `spend / limit`.
    pub fn used(&self) -> f64 {
        self.spend / self.limit
    }
}

/// A row's figures. `None` is an empty cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Σ `line_item_unblended_cost`.
    pub cost: f64,
    /// Σ `line_item_net_unblended_cost` (the unblended cost where NULL or absent, as `/metrics`).
    pub net_cost: f64,
    /// `cost` ÷ the currency's Bedrock total; `None` when the total is 0.
    pub share: Option<f64>,
    pub input_tokens: f64,
    pub output_tokens: f64,
    /// Cost of the token line items ÷ their tokens × 10⁶; `None` without tokens.
    pub cost_per_million_tokens: Option<f64>,
    /// The same group's cost in the previous period; `None` when no export holds that period.
    pub previous_cost: Option<f64>,
    /// `cost − previous_cost`.
    pub change: Option<f64>,
    /// `change ÷ previous_cost`; `None` when that is 0 or unknown.
    pub change_ratio: Option<f64>,
    /// Σ `pricing_public_on_demand_cost`; `None` when a data file of the period lacks the column.
    pub public_on_demand_cost: Option<f64>,
    /// `public_on_demand_cost − net_cost`: what was saved against public on-demand prices.
    pub discount: Option<f64>,
    /// Cache-read tokens ÷ (input + cache-read + cache-write tokens); `None` when that is 0.
    pub cache_read_share: Option<f64>,
}

/// One row of a currency's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: RowKind,
    /// Values of the `--by` labels, in their order.
    pub labels: Vec<String>,
    /// `line_item_usage_account_name` of the row's `account_id` (when grouping by it).
    pub account_name: Option<String>,
    /// When grouping by `budget`, for a budget's row.
    pub budget: Option<BudgetColumns>,
    pub figures: Figures,
}

/// Budgets overlap: some line items count under more than one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    /// The sum of the rows' cost (every row, `__none__` included).
    pub rows_cost: f64,
    /// The currency's Bedrock total.
    pub total: f64,
}

/// The rows of one currency: groups by cost (highest first), `__other__` with `--top`, and the
/// total.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrencyTable {
    pub currency: String,
    pub rows: Vec<Row>,
    pub total: Row,
    pub overlap: Option<Overlap>,
}

/// The grouped report.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The `--by` labels.
    pub by: Vec<String>,
    pub top: Option<usize>,
    /// Currencies in code order.
    pub currencies: Vec<CurrencyTable>,
    /// An export holds the previous period (the previous-period columns have values).
    pub previous_known: bool,
    /// Every data file of the period has `pricing_public_on_demand_cost`.
    pub public_cost_known: bool,
}

impl Table {
    /// An `account_name` column follows the labels.
    pub fn with_account_name(&self) -> bool {
        self.by
            .iter()
            .any(|l| l == SERIES_LABELS[label::ACCOUNT_ID])
    }

    /// Budget columns follow the labels.
    pub fn with_budget(&self) -> bool {
        self.by.iter().any(|l| l == BUDGET)
    }
}

/// What to group.
pub struct Input<'a> {
    /// The period's aggregates, one per export holding it.
    pub period: Vec<&'a PeriodAggregate>,
    /// The previous period's, or `None` when no export holds it.
    pub previous: Option<Vec<&'a PeriodAggregate>>,
    /// The configured budgets (for `--by budget`).
    pub budgets: &'a [Budget],
    /// Every data file of the period has `pricing_public_on_demand_cost`.
    pub public_cost_known: bool,
}

/// Token directions with their own figures, in `Acc::tokens` order.
const DIRECTIONS: [&str; 4] = ["input", "output", "cache_read", "cache_write"];

/// A group's running sums.
#[derive(Debug, Clone, Default)]
struct Acc {
    cost: Sum,
    net: Sum,
    tokens: [Sum; 4],
    token_total: Sum,
    token_cost: Sum,
    public: Sum,
    previous: Sum,
}

impl Acc {
    fn add(&mut self, s: &SeriesRef<'_>) {
        self.cost.merge(s.cost());
        self.net.merge(s.net_cost());
        if let Some(t) = s.tokens() {
            self.token_total.merge(t);
            if let Some(i) = DIRECTIONS
                .iter()
                .position(|d| *d == s.label(label::DIRECTION))
            {
                self.tokens[i].merge(t);
            }
        }
        if let Some(d) = s.detail() {
            self.token_cost.merge(&d.token_cost);
            self.public.merge(&d.public_cost);
        }
    }

    fn add_previous(&mut self, s: &SeriesRef<'_>) {
        self.previous.merge(s.cost());
    }

    fn merge(&mut self, o: &Acc) {
        self.cost.merge(&o.cost);
        self.net.merge(&o.net);
        for (a, b) in self.tokens.iter_mut().zip(&o.tokens) {
            a.merge(b);
        }
        self.token_total.merge(&o.token_total);
        self.token_cost.merge(&o.token_cost);
        self.public.merge(&o.public);
        self.previous.merge(&o.previous);
    }

    fn figures(&self, total: f64, previous_known: bool, public_known: bool) -> Figures {
        let cost = self.cost.value();
        let net_cost = self.net.value();
        let tokens: Vec<f64> = self.tokens.iter().map(Sum::value).collect();
        let token_total = self.token_total.value();
        let previous_cost = previous_known.then(|| self.previous.value());
        let change = previous_cost.map(|p| cost - p);
        let public = public_known.then(|| self.public.value());
        let cache_denominator = tokens[0] + tokens[2] + tokens[3];
        Figures {
            cost,
            net_cost,
            share: (total != 0.0).then(|| cost / total),
            input_tokens: tokens[0],
            output_tokens: tokens[1],
            cost_per_million_tokens: (token_total != 0.0)
                .then(|| self.token_cost.value() / token_total * 1e6),
            previous_cost,
            change,
            change_ratio: match (change, previous_cost) {
                (Some(c), Some(p)) if p != 0.0 => Some(c / p),
                _ => None,
            },
            public_on_demand_cost: public,
            discount: public.map(|p| p - net_cost),
            cache_read_share: (cache_denominator != 0.0).then(|| tokens[2] / cache_denominator),
        }
    }
}

/// A series' value of a `--by` label (`budget` aside).
fn value_of(s: &SeriesRef<'_>, name: &str) -> String {
    s.label_value(name).to_string()
}

/// The budgets (of its currency) a series counts under: their indices, in configuration order.
fn budgets_of(s: &SeriesRef<'_>, budgets: &[Budget]) -> Vec<usize> {
    budgets
        .iter()
        .enumerate()
        .filter(|(_, b)| b.currency.as_str() == &**s.currency() && b.selector.matches(s))
        .map(|(i, _)| i)
        .collect()
}

/// Checks the `--by` labels against the data: a label that is not a label of `bedrock_cost_*`
/// must be a tag label some series carries.
fn check_labels(by: &[String], input: &Input<'_>) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for l in by {
        if by.iter().filter(|x| *x == l).count() > 1 {
            return Err(format!("--by {l}: named twice"));
        }
    }
    if by.iter().any(|l| l == BUDGET) && input.budgets.is_empty() {
        return Err(
            "--by budget: no budgets are configured ([[budgets]] in the configuration file; see docs/src/budgets.md)"
                .into(),
        );
    }
    let unknown: Vec<&String> = by
        .iter()
        .filter(|l| *l != BUDGET && !SERIES_LABELS.contains(&l.as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let all = input
        .period
        .iter()
        .chain(input.previous.iter().flatten())
        .flat_map(|p| p.iter());
    for s in all {
        for (l, _) in s.tags() {
            if !seen.contains(l) {
                seen.insert(l.to_string());
            }
        }
    }
    for l in unknown {
        if !seen.contains(l.as_str()) {
            return Err(format!(
                "--by {l}: no Bedrock line item of the period (or the one before) has this label; labels: {}, budget, and the tag labels found: {}",
                SERIES_LABELS[1..].join(", "),
                if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.into_iter().collect::<Vec<_>>().join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// Groups the period's series by `by` (see the module docs), currency by currency.
pub fn build(by: &[String], top: Option<usize>, input: &Input<'_>) -> Result<Table, String> {
    check_labels(by, input)?;
    let budget_at = by.iter().position(|l| l == BUDGET);
    let previous_known = input.previous.is_some();
    // (currency, labels) → sums; per currency: the total and the cost counted more than once.
    let mut groups: HashMap<(String, Vec<String>), Acc> = HashMap::new();
    let mut totals: BTreeMap<String, Acc> = BTreeMap::new();
    let mut overlapping: BTreeMap<String, bool> = BTreeMap::new();
    let mut keys: Vec<Vec<String>> = Vec::new();
    for (previous, periods) in [
        (false, Some(&input.period)),
        (true, input.previous.as_ref()),
    ] {
        for s in periods.into_iter().flatten().flat_map(|p| p.iter()) {
            let currency = s.currency().to_string();
            keys.clear();
            let base: Vec<String> = by
                .iter()
                .map(|l| {
                    if l == BUDGET {
                        String::new()
                    } else {
                        value_of(&s, l)
                    }
                })
                .collect();
            match budget_at {
                None => keys.push(base),
                Some(at) => {
                    let matched = budgets_of(&s, input.budgets);
                    if matched.len() > 1 && !previous {
                        overlapping.insert(currency.clone(), true);
                    }
                    let names: Vec<&str> = if matched.is_empty() {
                        vec![NO_BUDGET]
                    } else {
                        matched
                            .iter()
                            .map(|&i| input.budgets[i].name.as_str())
                            .collect()
                    };
                    for name in names {
                        let mut k = base.clone();
                        k[at] = name.to_string();
                        keys.push(k);
                    }
                }
            }
            let total = totals.entry(currency.clone()).or_default();
            if previous {
                total.add_previous(&s);
            } else {
                total.add(&s);
            }
            for k in keys.drain(..) {
                let acc = groups.entry((currency.clone(), k)).or_default();
                if previous {
                    acc.add_previous(&s);
                } else {
                    acc.add(&s);
                }
            }
        }
    }
    let account_names = account_names(input);
    let account_at = by
        .iter()
        .position(|l| l == SERIES_LABELS[label::ACCOUNT_ID]);
    let mut by_currency: BTreeMap<String, Vec<(Vec<String>, Acc)>> = BTreeMap::new();
    for ((currency, labels), acc) in groups {
        by_currency.entry(currency).or_default().push((labels, acc));
    }
    let mut currencies = Vec::new();
    for (currency, total_acc) in totals {
        let total = total_acc.cost.value();
        let figures = |acc: &Acc| acc.figures(total, previous_known, input.public_cost_known);
        let mut rows = by_currency.remove(&currency).unwrap_or_default();
        rows.sort_by(|a, b| {
            b.1.cost
                .value()
                .total_cmp(&a.1.cost.value())
                .then_with(|| a.0.cmp(&b.0))
        });
        let folded: Vec<(Vec<String>, Acc)> = match top {
            Some(n) if rows.len() > n => rows.split_off(n),
            _ => Vec::new(),
        };
        let mut rows_cost = Sum::default();
        let mut out: Vec<Row> = rows
            .iter()
            .map(|(labels, acc)| {
                rows_cost.merge(&acc.cost);
                let f = figures(acc);
                Row {
                    kind: RowKind::Group,
                    account_name: account_at.map(|i| {
                        account_names
                            .get(labels[i].as_str())
                            .cloned()
                            .unwrap_or_default()
                    }),
                    budget: budget_at.and_then(|i| {
                        let b = input.budgets.iter().find(|b| b.name == labels[i])?;
                        Some(BudgetColumns {
                            owner: b.owner.clone(),
                            basis: b.cost,
                            spend: match b.cost {
                                CostKind::Unblended => f.cost,
                                CostKind::Net => f.net_cost,
                            },
                            limit: b.monthly,
                        })
                    }),
                    labels: labels.clone(),
                    figures: f,
                }
            })
            .collect();
        if !folded.is_empty() {
            let mut other = Acc::default();
            for (_, acc) in &folded {
                rows_cost.merge(&acc.cost);
                other.merge(acc);
            }
            out.push(Row {
                kind: RowKind::Other,
                labels: vec![OVERFLOW.to_string(); by.len()],
                account_name: None,
                budget: None,
                figures: figures(&other),
            });
        }
        let mut total_labels = vec![String::new(); by.len()];
        total_labels[0] = TOTAL.to_string();
        let overlap = overlapping.get(&currency).map(|_| Overlap {
            rows_cost: rows_cost.value(),
            total,
        });
        currencies.push(CurrencyTable {
            total: Row {
                kind: RowKind::Total,
                labels: total_labels,
                account_name: None,
                budget: None,
                figures: figures(&total_acc),
            },
            currency,
            rows: out,
            overlap,
        });
    }
    Ok(Table {
        by: by.to_vec(),
        top,
        currencies,
        previous_known,
        public_cost_known: input.public_cost_known,
    })
}

/// Each account's name: the `line_item_usage_account_name` most of its Bedrock line items carry
/// in the period (ties: the first in sort order), else in the previous period.
fn account_names(input: &Input<'_>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for periods in [Some(&input.period), input.previous.as_ref()] {
        let mut counts: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for p in periods.into_iter().flatten() {
            for (account, names) in &p.stats.account_names {
                let into = counts.entry(account).or_default();
                for (name, n) in names {
                    *into.entry(name).or_default() += n;
                }
            }
        }
        for (account, names) in counts {
            if out.contains_key(account) {
                continue;
            }
            // Highest count; among equal counts the first name (max_by keeps the last maximum,
            // so iterate in reverse order).
            if let Some((name, _)) = names.iter().rev().max_by_key(|(_, n)| **n) {
                out.insert(account.to_string(), name.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{AggregateOptions, PeriodAggregator};
    use crate::budget::Selector;
    use crate::cur::{CurRow, RowSink};

    /// Line items `(principal, team, usage type, cost, net, tokens (K), public cost, currency)`.
    type Line<'a> = (&'a str, &'a str, &'a str, f64, f64, f64, f64, &'a str);

    fn period(name: &str, lines: &[Line<'_>]) -> PeriodAggregate {
        let opts = AggregateOptions {
            detail: true,
            ..AggregateOptions::default()
        };
        let mut agg = PeriodAggregator::new(name, &opts);
        for &(p, team, usage_type, cost, net, kilo, public, currency) in lines {
            let tags = [("iamPrincipal/team", team)];
            let arn = format!("arn:aws:iam::123456789012:user/{p}");
            let account_name = if p == "carol" { "ml-batch" } else { "ml-prod" };
            agg.row(&CurRow {
                product_code: "AmazonBedrock",
                billing_entity: "AWS",
                line_item_type: "Usage",
                usage_type,
                iam_principal: (!p.is_empty()).then_some(arn.as_str()),
                usage_account_id: "123456789012",
                usage_account_name: account_name,
                currency,
                pricing_unit: "1K tokens",
                unblended_cost: cost,
                net_unblended_cost: Some(net),
                usage_amount: kilo,
                tags: if team.is_empty() { &[] } else { &tags },
                public_on_demand_cost: Some(public),
                invoice_id: Some("INV-1"),
                ..CurRow::default()
            });
        }
        agg.finish()
    }

    const IN: &str = "USE1-NovaLite-input-tokens";
    const OUT: &str = "USE1-NovaLite-output-tokens";
    const READ: &str = "USE1-Claude4.6Sonnet-cache-read-input-token-count";
    const WRITE: &str = "USE1-Claude4.6Sonnet-cache-write-input-token-count";

    fn lines() -> Vec<Line<'static>> {
        vec![
            ("alice", "ml", IN, 10.0, 9.0, 1000.0, 12.0, "USD"),
            ("alice", "ml", OUT, 20.0, 18.0, 500.0, 25.0, "USD"),
            ("bob", "ml", READ, 1.0, 1.0, 2000.0, 1.0, "USD"),
            ("bob", "web", WRITE, 4.0, 4.0, 1000.0, 4.0, "USD"),
            ("carol", "", IN, 3.0, 3.0, 100.0, 3.0, "USD"),
            ("", "", IN, 7.0, 7.0, 300.0, 7.0, "EUR"),
        ]
    }

    fn input<'a>(
        period: &'a PeriodAggregate,
        previous: Option<&'a PeriodAggregate>,
        budgets: &'a [Budget],
    ) -> Input<'a> {
        Input {
            period: vec![period],
            previous: previous.map(|p| vec![p]),
            budgets,
            public_cost_known: true,
        }
    }

    fn by(labels: &[&str]) -> Vec<String> {
        labels.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn groups_by_a_tag_with_tokens_shares_and_the_previous_period() {
        let now = period("2026-10", &lines());
        let before = period(
            "2026-09",
            &[
                ("alice", "ml", IN, 15.0, 15.0, 1.0, 15.0, "USD"),
                ("dave", "ops", IN, 2.0, 2.0, 1.0, 2.0, "USD"),
            ],
        );
        let t = build(&by(&["tag_team"]), None, &input(&now, Some(&before), &[])).unwrap();
        assert_eq!(
            t.currencies
                .iter()
                .map(|c| c.currency.as_str())
                .collect::<Vec<_>>(),
            ["EUR", "USD"]
        );
        let usd = &t.currencies[1];
        let names: Vec<&str> = usd.rows.iter().map(|r| r.labels[0].as_str()).collect();
        // By cost: ml 31, web 4, "" (no tag) 3, ops 0 (the previous period only).
        assert_eq!(names, ["ml", "web", "", "ops"]);
        let ml = &usd.rows[0].figures;
        assert_eq!(ml.cost, 31.0);
        assert_eq!(ml.net_cost, 28.0);
        assert_eq!(ml.share, Some(31.0 / 38.0));
        assert_eq!(ml.input_tokens, 1_000_000.0);
        assert_eq!(ml.output_tokens, 500_000.0);
        // 31 of cost over 3.5M tokens.
        assert_eq!(ml.cost_per_million_tokens, Some(31.0 / 3_500_000.0 * 1e6));
        assert_eq!(ml.cache_read_share, Some(2.0 / 3.0));
        assert_eq!(ml.previous_cost, Some(15.0));
        assert_eq!(ml.change, Some(16.0));
        assert_eq!(ml.change_ratio, Some(16.0 / 15.0));
        assert_eq!(ml.public_on_demand_cost, Some(38.0));
        assert_eq!(ml.discount, Some(10.0));
        let ops = &usd.rows[3].figures;
        assert_eq!(
            (ops.cost, ops.previous_cost, ops.change),
            (0.0, Some(2.0), Some(-2.0))
        );
        let total = &usd.total;
        assert_eq!(total.kind, RowKind::Total);
        assert_eq!(total.labels, ["TOTAL"]);
        assert_eq!(total.figures.cost, 38.0);
        assert_eq!(total.figures.previous_cost, Some(17.0));
        assert_eq!(total.figures.share, Some(1.0));
        assert!(usd.overlap.is_none());
        assert_eq!(t.currencies[0].total.figures.cost, 7.0);
    }

    #[test]
    fn top_folds_the_rest_and_the_total_stays() {
        let now = period("2026-10", &lines());
        let t = build(&by(&["principal"]), Some(1), &input(&now, None, &[])).unwrap();
        let usd = &t.currencies[1];
        assert_eq!(usd.rows.len(), 2);
        assert!(usd.rows[0].labels[0].ends_with("user/alice"));
        assert_eq!(usd.rows[1].kind, RowKind::Other);
        assert_eq!(usd.rows[1].labels, ["__other__"]);
        assert_eq!(usd.rows[1].figures.cost, 8.0);
        assert_eq!(
            usd.rows[1].figures.previous_cost, None,
            "no previous period"
        );
        assert_eq!(usd.total.figures.cost, 38.0);
        // The EUR line item has no principal.
        assert_eq!(t.currencies[0].rows[0].labels, ["unattributed"]);
        assert_eq!(t.currencies[0].rows.len(), 1, "one group: nothing to fold");
    }

    #[test]
    fn budgets_count_each_matching_line_item_and_say_when_they_overlap() {
        let now = period("2026-10", &lines());
        let budget = |name: &str, selector: &str, cost: CostKind| Budget {
            name: name.into(),
            owner: format!("{name}-owner"),
            selector: Selector::parse(selector).unwrap(),
            monthly: 100.0,
            cost,
            currency: "USD".into(),
            labels: Vec::new(),
        };
        let budgets = [
            budget("ml", r#"{tag_team="ml"}"#, CostKind::Net),
            budget("alice", r#"{principal_name="alice"}"#, CostKind::Unblended),
        ];
        let t = build(
            &by(&["budget", "account_id"]),
            None,
            &input(&now, None, &budgets),
        )
        .unwrap();
        let usd = &t.currencies[1];
        let rows: Vec<(&str, f64)> = usd
            .rows
            .iter()
            .map(|r| (r.labels[0].as_str(), r.figures.cost))
            .collect();
        assert_eq!(rows, [("ml", 31.0), ("alice", 30.0), ("__none__", 7.0)]);
        let ml = usd.rows[0].budget.as_ref().unwrap();
        assert_eq!(
            (ml.owner.as_str(), ml.spend, ml.limit),
            ("ml-owner", 28.0, 100.0)
        );
        assert_eq!(usd.rows[1].budget.as_ref().unwrap().spend, 30.0);
        assert!(usd.rows[2].budget.is_none());
        assert_eq!(
            usd.rows[0].account_name.as_deref(),
            Some("ml-prod"),
            "the most line items"
        );
        assert_eq!(
            usd.overlap,
            Some(Overlap {
                rows_cost: 68.0,
                total: 38.0
            })
        );
        // EUR line items: no budget of their currency.
        assert_eq!(t.currencies[0].rows[0].labels[0], "__none__");
        assert!(t.currencies[0].overlap.is_none());
    }

    #[test]
    fn labels_are_checked_against_the_data() {
        let now = period("2026-10", &lines());
        let e = build(&by(&["tag_taem"]), None, &input(&now, None, &[])).unwrap_err();
        assert!(e.contains("tag_taem") && e.contains("tag_team"), "{e}");
        let e = build(&by(&["budget"]), None, &input(&now, None, &[])).unwrap_err();
        assert!(e.contains("no budgets"), "{e}");
        let e = build(&by(&["model", "model"]), None, &input(&now, None, &[])).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        assert!(build(&by(&["model", "direction"]), None, &input(&now, None, &[])).is_ok());
    }

    #[test]
    fn the_groups_sum_to_the_total_in_any_grouping() {
        let now = period("2026-10", &lines());
        for labels in [
            vec!["model"],
            vec!["principal_type", "direction"],
            vec!["tag_team", "region", "usage_type"],
        ] {
            let t = build(&by(&labels), None, &input(&now, None, &[])).unwrap();
            for c in &t.currencies {
                let sum: f64 = c.rows.iter().map(|r| r.figures.cost).sum();
                assert!((sum - c.total.figures.cost).abs() < 1e-9, "{labels:?}");
            }
        }
    }
}
