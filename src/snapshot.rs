//! The immutable snapshot the exporters read: every period's series merged, with the series cap
//! applied. Pure; no clock, no I/O.
//!
//! Cardinality cap: when there are more series than `max_series`, the series with the smallest
//! absolute cost fold into overflow buckets, coarsest last:
//! 1. principal labels `__other__`, no tag labels; every other label kept;
//! 2. if those buckets alone exceed the cap: only billing period, model, region and direction kept;
//! 3. if still too many: only the billing period kept.
//!
//! Every level keeps `payer_account_id`: two payers' costs never share a bucket.
//!
//! Folding moves cost, never drops it: totals by every label a level keeps stay exact.
//!
//! The periods' series are ranked and bucketed in place, by their interned ids
//! ([`crate::aggregate`]); a [`Series`] with label strings of its own is made only for the kept
//! series and the buckets, so building a snapshot of a million series costs a few words per series.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::aggregate::{
    FoldLevel, Labels, PeriodAggregate, Series, SeriesRef, merge_series, sort_usage,
};
use crate::budget::BudgetReport;
use crate::names::{OVERFLOW, label};
use crate::sum::Sum;

/// Series folded into overflow buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Folded {
    /// Original series that were folded.
    pub series: u64,
    /// Their cost, per currency.
    pub cost: Vec<(Arc<str>, f64)>,
}

/// Every Bedrock series to export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Sorted by labels.
    pub series: Vec<Series>,
    pub folded: Folded,
    pub max_series: usize,
    /// Budgets, forecasts, spikes and the current billing period, computed from the periods
    /// before the cap (see [`crate::budget`]).
    pub budgets: BudgetReport,
}

impl Snapshot {
    pub fn build<'a>(
        periods: impl IntoIterator<Item = &'a PeriodAggregate>,
        max_series: usize,
    ) -> Snapshot {
        let mut periods: Vec<&PeriodAggregate> = periods.into_iter().collect();
        periods.sort_by(|a, b| a.period.cmp(&b.period));
        // Each period's series are sorted by labels, whose first is the billing period: in period
        // order they are sorted as a whole unless a period comes twice.
        let mut series: Vec<(u32, SeriesRef)> = periods
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.iter().map(move |s| (i as u32, s)))
            .collect();
        if periods.windows(2).any(|w| w[0].period == w[1].period) {
            series.sort_by(|a, b| a.1.cmp_labels(&b.1));
        }
        let max_series = max_series.max(1);
        if series.len() <= max_series {
            return Snapshot {
                series: series.iter().map(|(_, s)| s.to_series(false)).collect(),
                folded: Folded::default(),
                max_series,
                budgets: BudgetReport::default(),
            };
        }
        // Largest first; ties keep the label order (a stable sort), so the result does not
        // depend on input order.
        series.sort_by(|a, b| {
            b.1.cost()
                .value()
                .abs()
                .total_cmp(&a.1.cost().value().abs())
        });
        let mut result = fold(&series, max_series, FoldLevel::Principal);
        if result.series.len() > max_series {
            result = fold(&series, max_series, FoldLevel::Model);
        }
        if result.series.len() > max_series {
            result = fold(&series, max_series, FoldLevel::Period);
        }
        result
    }

    /// Total cost per currency (exact: folding moves cost, never drops it).
    #[cfg(test)]
    pub fn total_cost(&self) -> Vec<(Arc<str>, f64)> {
        let mut by: Vec<(Arc<str>, Sum)> = Vec::new();
        for s in &self.series {
            match by.iter_mut().find(|(c, _)| *c == s.currency) {
                Some((_, sum)) => sum.merge(&s.cost),
                None => by.push((s.currency.clone(), s.cost)),
            }
        }
        by.sort_by(|a, b| a.0.cmp(&b.0));
        by.into_iter().map(|(c, s)| (c, s.value())).collect()
    }
}

/// The overflow bucket keeping everything but the principal and tags.
fn principal_bucket(l: &Labels) -> Labels {
    let mut fixed = l.fixed.clone();
    let other: Arc<str> = Arc::from(OVERFLOW);
    for i in [
        label::PRINCIPAL,
        label::PRINCIPAL_TYPE,
        label::PRINCIPAL_NAME,
        label::SESSION,
    ] {
        fixed[i] = other.clone();
    }
    Labels {
        fixed,
        tags: Vec::new(),
    }
}

/// The overflow bucket keeping billing period, model, region and direction.
fn model_bucket(l: &Labels) -> Labels {
    let mut b = period_bucket(l);
    for i in [label::MODEL, label::REGION, label::DIRECTION] {
        b.fixed[i] = l.fixed[i].clone();
    }
    b
}

/// The overflow bucket keeping only the billing period.
fn period_bucket(l: &Labels) -> Labels {
    let other: Arc<str> = Arc::from(OVERFLOW);
    let mut fixed: [Arc<str>; crate::names::SERIES_LABELS.len()] =
        std::array::from_fn(|_| other.clone());
    fixed[label::BILLING_PERIOD] = l.fixed[label::BILLING_PERIOD].clone();
    fixed[label::PAYER_ACCOUNT_ID] = l.fixed[label::PAYER_ACCOUNT_ID].clone();
    Labels {
        fixed,
        tags: Vec::new(),
    }
}

/// The labels of the overflow bucket a series folds into at `level`.
fn bucket_labels(s: &SeriesRef, level: FoldLevel) -> Labels {
    let labels = s.labels();
    match level {
        FoldLevel::Principal => principal_bucket(&labels),
        FoldLevel::Model => model_bucket(&labels),
        FoldLevel::Period => period_bucket(&labels),
    }
}

/// Keeps the largest series and folds the rest into buckets, so that kept + buckets ≤ `max`
/// whenever the buckets alone fit. `ranked`: (index of the period, series), largest first.
fn fold(ranked: &[(u32, SeriesRef)], max: usize, level: FoldLevel) -> Snapshot {
    // Start by assuming every bucket is needed; shrink `keep` until kept + buckets fit.
    let mut keep = max;
    loop {
        let tail = &ranked[keep.min(ranked.len())..];
        // Buckets by period and ids: equal keys are equal bucket labels (see `fold_key`), so the
        // labels are made once per bucket.
        let mut buckets: FxHashMap<(u32, [u32; 7]), Series> = FxHashMap::default();
        for (period, s) in tail {
            let b = buckets
                .entry((*period, s.fold_key(level)))
                .or_insert_with(|| Series {
                    labels: bucket_labels(s, level),
                    currency: s.currency().clone(),
                    cost: Sum::default(),
                    net_cost: Sum::default(),
                    tokens: None,
                    usage: Vec::new(),
                    daily: Vec::new(),
                });
            s.add_to(b);
        }
        if keep == 0 || keep + buckets.len() <= max {
            let folded_n = tail.len() as u64;
            let mut folded_cost: Vec<(Arc<str>, Sum)> = Vec::new();
            for (_, s) in tail {
                match folded_cost.iter_mut().find(|(c, _)| c == s.currency()) {
                    Some((_, sum)) => sum.merge(s.cost()),
                    None => folded_cost.push((s.currency().clone(), *s.cost())),
                }
            }
            folded_cost.sort_by(|a, b| a.0.cmp(&b.0));
            // A kept series may share labels with a bucket only if it is itself an overflow
            // series from an earlier fold; merge such pairs.
            let series = merge_series(
                ranked[..keep.min(ranked.len())]
                    .iter()
                    .map(|(_, s)| s.to_series(false))
                    .chain(buckets.into_values().map(|mut b| {
                        sort_usage(&mut b);
                        b
                    })),
            );
            return Snapshot {
                series,
                folded: Folded {
                    series: folded_n,
                    cost: folded_cost
                        .into_iter()
                        .map(|(c, s)| (c, s.value()))
                        .collect(),
                },
                max_series: max,
                budgets: BudgetReport::default(),
            };
        }
        let over = keep + buckets.len() - max;
        keep = keep.saturating_sub(over.max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{AggregateOptions, PeriodAggregator};
    use crate::cur::{CurRow, RowSink};

    fn period(n: usize, name: &str) -> PeriodAggregate {
        let opts = AggregateOptions::default();
        let mut agg = PeriodAggregator::new(name, &opts);
        for i in 0..n {
            let arn = format!("arn:aws:iam::123456789012:user/u{i}");
            let ut = if i % 2 == 0 {
                "USE1-NovaLite-input-tokens"
            } else {
                "USE1-NovaLite-output-tokens"
            };
            agg.row(&CurRow {
                product_code: "AmazonBedrock",
                billing_entity: "AWS",
                line_item_type: "Usage",
                usage_type: ut,
                iam_principal: Some(&arn),
                currency: "USD",
                unblended_cost: 0.001 * (i as f64 + 1.0),
                usage_amount: 1.0,
                pricing_unit: "1K tokens",
                ..CurRow::default()
            });
        }
        agg.finish()
    }

    #[test]
    fn under_the_cap_nothing_folds() {
        let p = period(10, "2026-11");
        let s = Snapshot::build([&p], 10);
        assert_eq!(s.series.len(), 10);
        assert_eq!(s.folded, Folded::default());
    }

    #[test]
    fn the_cap_holds_and_totals_stay_exact() {
        let a = period(500, "2026-10");
        let b = period(300, "2026-11");
        let uncapped = Snapshot::build([&a, &b], usize::MAX);
        for max in [1, 2, 3, 5, 50, 799] {
            let s = Snapshot::build([&a, &b], max);
            assert!(
                s.series.len() <= max.max(4),
                "max {max}: {} series",
                s.series.len()
            );
            assert_eq!(s.total_cost(), uncapped.total_cost(), "max {max}");
            let folded = s
                .series
                .iter()
                .filter(|x| &*x.labels.fixed[label::PRINCIPAL] == OVERFLOW)
                .count();
            assert!(folded >= 1, "max {max}");
            assert_eq!(
                s.folded.series as usize + s.series.len() - folded,
                800,
                "max {max}"
            );
            // The largest series survive.
            if max >= 50 {
                assert!(
                    s.series
                        .iter()
                        .any(|x| x.labels.fixed[label::PRINCIPAL].ends_with("user/u499"))
                );
            }
        }
    }

    #[test]
    fn overflow_keeps_model_and_direction_totals() {
        let a = period(100, "2026-11");
        let s = Snapshot::build([&a], 20);
        assert!(s.series.len() <= 20);
        let by_dir = |snap: &Snapshot, d: &str| -> f64 {
            snap.series
                .iter()
                .filter(|x| &*x.labels.fixed[label::DIRECTION] == d)
                .map(|x| x.cost)
                .collect::<Vec<_>>()
                .iter()
                .fold(Sum::default(), |mut acc, x| {
                    acc.merge(x);
                    acc
                })
                .value()
        };
        let full = Snapshot::build([&a], usize::MAX);
        assert_eq!(by_dir(&s, "input"), by_dir(&full, "input"));
        assert_eq!(by_dir(&s, "output"), by_dir(&full, "output"));
    }
}
