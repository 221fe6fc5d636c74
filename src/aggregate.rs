//! Pure aggregation: the CUR rows of one billing period → Bedrock series with compensated sums.
//! No clock, no I/O. Memory grows with the number of distinct series, not with the rows.
//!
//! Rows are keyed by the raw values that determine every label (account, principal, usage-type
//! class, line item type, billing entity, currency, exported tags), so the usage-type grammar runs
//! once per distinct (usage type, product name, region), not once per row.
//!
//! Compact until the cap: a period keeps each distinct series as a key of eight `u32` ids (label
//! strings, its classification, its tag set) with its sums; every string, classification and tag
//! set is stored once per period, and the labels derived from the principal (type, name, session)
//! are computed when read. A [`Series`] with label
//! strings of its own is made only for what is exported — the snapshot's survivors and overflow
//! buckets ([`crate::snapshot`]) — so a million distinct sessions cost a few hundred bytes each
//! (docs/src/metrics.md, "Cardinality").

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;

// Interning and series lookup run per Bedrock row: a fast non-cryptographic hash (keys are our own
// strings and ids, not attacker-chosen request data).
use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use crate::bedrock::principal::{self, PrincipalKind, UNATTRIBUTED};
use crate::bedrock::tags::TagRules;
use crate::bedrock::{self, Classified, model};
use crate::cur::columns::Projection;
use crate::cur::{CurRow, Prefilter, RowSink};
use crate::names::{OVERFLOW, SERIES_LABELS, label};
use crate::sum::Sum;

/// Options of the pure stages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateOptions {
    pub tags: TagRules,
    /// Fold assumed-role sessions into their role (`…:assumed-role/Role/*`).
    pub fold_sessions: bool,
    /// `models.rename`: canonical (or as-billed) model name → the name to export.
    pub model_rename: BTreeMap<String, String>,
    /// Also keep what `report` needs and the metrics do not: per series the public on-demand
    /// cost and the cost of token line items ([`SeriesRef::detail`]), per period the account
    /// names and invoice ids ([`PeriodStats`]). Needs the columns of [`Projection::Report`]
    /// ([`AggregateOptions::projection`]); the daemon leaves it off and pays nothing for it.
    pub detail: bool,
}

impl AggregateOptions {
    /// The columns the decoders must read for these options.
    pub fn projection(&self) -> Projection {
        if self.detail {
            Projection::Report
        } else {
            Projection::Daemon
        }
    }
}

/// Distinct invoice ids kept per period (a bill has one per seller of record and payer).
pub const MAX_INVOICE_IDS: usize = 100;

/// Distinct unknown usage types kept per period; the rest are counted under [`OVERFLOW`].
pub const MAX_UNKNOWN_USAGE_TYPES: usize = 100;

/// Line item types whose usage end says up to when usage is billed (CUR 2.0 table dictionary, `line_item_line_item_type`:
/// <https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-line-item.html>).
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

/// Adds `(cost, net)` to the entry of `day` in a day-sorted list. A first day takes exactly its
/// room (most series of a cardinality bomb have one day).
///
/// A series' days are usually a run without gaps (a month's days, read in any order), so the
/// entry of `day` is first looked for at `day - first day`: one load where a binary search is a
/// chain of dependent ones (most of this function's time, measured with `perf` on the 50 %
/// Bedrock bench set).
fn add_day(daily: &mut Vec<DaySum>, day: i32, cost: &Sum, net: &Sum) {
    let i = match day_index(daily, day) {
        Some(i) => i,
        None => match daily.binary_search_by_key(&day, |d| d.day) {
            Ok(i) => i,
            Err(i) => {
                if daily.capacity() == 0 {
                    daily.reserve_exact(1);
                }
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

/// The index of `day` in a day-sorted list without gaps from its first day on, if it is there.
fn day_index(daily: &[DaySum], day: i32) -> Option<usize> {
    let first = daily.first()?.day;
    let i = usize::try_from(i64::from(day) - i64::from(first)).ok()?;
    (daily.get(i)?.day == day).then_some(i)
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

/// A series' value of a label by name: `""` when it has no such label, as in PromQL.
pub trait LabelSource {
    fn label_value(&self, name: &str) -> &str;
}

impl LabelSource for Series {
    fn label_value(&self, name: &str) -> &str {
        if let Some(i) = SERIES_LABELS.iter().position(|l| *l == name) {
            return &self.labels.fixed[i];
        }
        self.labels
            .tags
            .iter()
            .find(|(k, _)| &**k == name)
            .map_or("", |(_, v)| v)
    }
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
    /// With [`AggregateOptions::detail`]: Bedrock line items with a `bill_invoice_id`.
    pub invoiced_rows: u64,
    /// With [`AggregateOptions::detail`]: the distinct `bill_invoice_id`s of Bedrock line items
    /// (at most [`MAX_INVOICE_IDS`]).
    pub invoice_ids: BTreeSet<String>,
    /// With [`AggregateOptions::detail`]: `line_item_usage_account_id` →
    /// `line_item_usage_account_name` → Bedrock line items carrying that name.
    pub account_names: BTreeMap<String, BTreeMap<String, u64>>,
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
        self.invoiced_rows += other.invoiced_rows;
        for id in &other.invoice_ids {
            if self.invoice_ids.len() < MAX_INVOICE_IDS {
                self.invoice_ids.insert(id.clone());
            }
        }
        for (account, names) in &other.account_names {
            let into = self.account_names.entry(account.clone()).or_default();
            for (name, n) in names {
                *into.entry(name.clone()).or_default() += n;
            }
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

#[derive(Debug, Clone, Default)]
struct Interner {
    ids: FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        self.insert(Arc::from(s))
    }

    /// The id of a string another interner holds (shares its allocation).
    fn id_of_arc(&mut self, s: &Arc<str>) -> u32 {
        if let Some(&id) = self.ids.get(&**s) {
            return id;
        }
        self.insert(s.clone())
    }

    fn insert(&mut self, arc: Arc<str>) -> u32 {
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

/// Interned ids of one batch's strings by address, for rows with a [`CurRow::strings_epoch`]:
/// most strings of a Parquet batch are a few dictionary values, so a row's dozen lookups become
/// address compares instead of hashing and comparing the strings (`Interner::id` and `memcmp`
/// were a fifth of the time on the 50 % Bedrock bench set). Direct-mapped; a slot of another
/// epoch is empty, so nothing needs clearing between batches.
#[derive(Debug, Clone)]
struct AddrCache {
    slots: Box<[AddrSlot]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct AddrSlot {
    epoch: u64,
    addr: usize,
    len: usize,
    id: u32,
}

const ADDR_CACHE_SLOTS: usize = 1024;

impl Default for AddrCache {
    fn default() -> Self {
        AddrCache {
            slots: vec![AddrSlot::default(); ADDR_CACHE_SLOTS].into_boxed_slice(),
        }
    }
}

impl AddrCache {
    fn slot(s: &str) -> usize {
        let h = (s.as_ptr() as u64 ^ ((s.len() as u64) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - ADDR_CACHE_SLOTS.trailing_zeros())) as usize
    }

    /// The id of `s` (a string of a row of `epoch`, which must not be 0).
    fn id(&mut self, epoch: u64, s: &str, strings: &mut Interner) -> u32 {
        let slot = &mut self.slots[Self::slot(s)];
        if slot.epoch == epoch && slot.addr == s.as_ptr() as usize && slot.len == s.len() {
            return slot.id;
        }
        let id = strings.id(s);
        *slot = AddrSlot {
            epoch,
            addr: s.as_ptr() as usize,
            len: s.len(),
            id,
        };
        id
    }
}

/// Ids (into the period's strings) of the labels the classification of (usage type, product
/// name, region) gives: model, region, direction, tier, scope, cache_ttl — [`label::MODEL`]
/// to [`label::CACHE_TTL`].
type ClassLabels = [u32; 6];

/// Distinct classifications of a period, by the labels they give (so that equal class ids mean
/// equal labels).
#[derive(Debug, Clone, Default)]
struct Classes {
    ids: FxHashMap<ClassLabels, u32>,
    labels: Vec<ClassLabels>,
}

impl Classes {
    fn id(&mut self, labels: ClassLabels) -> u32 {
        *self.ids.entry(labels).or_insert_with(|| {
            self.labels.push(labels);
            (self.labels.len() - 1) as u32
        })
    }
}

// Positions in `Key::ids`.
const K_ACCOUNT: usize = 0;
const K_PRINCIPAL: usize = 1;
const K_CLASS: usize = 2;
const K_USAGE_TYPE: usize = 3;
const K_LINE_ITEM_TYPE: usize = 4;
const K_BILLING_ENTITY: usize = 5;
const K_CURRENCY: usize = 6;
const K_TAGS: usize = 7;
const K_PAYER: usize = 8;

/// A distinct series of a period: string ids, the class id (into [`Classes`]) and the tag set id
/// (into [`TagSets`]), at the `K_*` positions.
type Key = [u32; 9];

fn key_hash(key: &Key) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// A tag set: `(label, value)` string ids — sorted by label id while aggregating, by label name
/// once finished.
type TagSet = Box<[(u32, u32)]>;

/// Distinct tag sets of a period (most series share a few).
#[derive(Debug, Clone, Default)]
struct TagSets {
    ids: FxHashMap<TagSet, u32>,
    sets: Vec<TagSet>,
}

impl TagSets {
    fn id(&mut self, set: &[(u32, u32)]) -> u32 {
        if let Some(&id) = self.ids.get(set) {
            return id;
        }
        let set: TagSet = set.into();
        let id = self.sets.len() as u32;
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }
}

/// A series' sums; usage units are string ids.
#[derive(Debug, Clone, Default)]
struct Sums {
    cost: Sum,
    net_cost: Sum,
    tokens: Option<Sum>,
    usage: Vec<(u32, Sum)>,
    daily: Vec<DaySum>,
}

impl Sums {
    fn absorb(&mut self, other: &Sums) {
        self.cost.merge(&other.cost);
        self.net_cost.merge(&other.net_cost);
        if let Some(t) = &other.tokens {
            self.tokens.get_or_insert_with(Sum::default).merge(t);
        }
        for &(unit, sum) in &other.usage {
            self.add_usage(unit, &sum);
        }
        for d in &other.daily {
            add_day(&mut self.daily, d.day, &d.cost, &d.net_cost);
        }
    }

    fn add_usage(&mut self, unit: u32, sum: &Sum) {
        match self.usage.iter_mut().find(|(u, _)| *u == unit) {
            Some((_, acc)) => acc.merge(sum),
            None => {
                if self.usage.capacity() == 0 {
                    self.usage.reserve_exact(1);
                }
                self.usage.push((unit, *sum));
            }
        }
    }
}

/// What `report` sums per series besides `Sums` ([`AggregateOptions::detail`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Detail {
    /// `pricing_public_on_demand_cost` of the series' line items (NULL counts 0).
    pub public_cost: Sum,
    /// Line items whose `pricing_public_on_demand_cost` was not NULL.
    pub public_cost_rows: u64,
    /// `line_item_unblended_cost` of the series' token line items (those whose usage counts in
    /// [`Series::tokens`]).
    pub token_cost: Sum,
}

impl Detail {
    pub fn absorb(&mut self, other: &Detail) {
        self.public_cost.merge(&other.public_cost);
        self.public_cost_rows += other.public_cost_rows;
        self.token_cost.merge(&other.token_cost);
    }
}

/// One worker's part of a period: what [`PeriodAggregator::into_part`] returns and
/// [`PeriodAggregate::merge`] combines.
#[derive(Debug, Default)]
pub struct PeriodPart {
    stats: PeriodStats,
    strings: Interner,
    classes: Classes,
    tag_sets: TagSets,
    entries: Vec<(Key, Sums)>,
    /// With [`AggregateOptions::detail`], one per entry (same index); else empty.
    detail: Vec<Detail>,
    /// Index into `entries` by key hash.
    index: HashTable<u32>,
}

impl PeriodPart {
    /// The index of a key's entry, created empty when new (with its detail when `detail`).
    fn entry(&mut self, key: &Key, detail: bool) -> (usize, bool) {
        let hash = key_hash(key);
        let entries = &self.entries;
        let found = self
            .index
            .find(hash, |&i| entries[i as usize].0 == *key)
            .copied();
        let (i, new) = match found {
            Some(i) => (i, false),
            None => {
                let i = self.entries.len() as u32;
                self.entries.push((*key, Sums::default()));
                if detail {
                    self.detail.resize(self.entries.len(), Detail::default());
                }
                let entries = &self.entries;
                self.index
                    .insert_unique(hash, i, |&j| key_hash(&entries[j as usize].0));
                (i, true)
            }
        };
        (i as usize, new)
    }

    /// Adds another part of the same period: its ids are mapped into this part's; a series of
    /// both adds its sums after this part's.
    fn absorb(&mut self, other: PeriodPart) {
        let PeriodPart {
            strings,
            classes,
            tag_sets,
            entries,
            detail,
            index,
            ..
        } = other;
        drop(index);
        let with_detail = !detail.is_empty();
        let map: Vec<u32> = strings
            .strings
            .iter()
            .map(|s| self.strings.id_of_arc(s))
            .collect();
        let id = |i: u32| if i == NONE { NONE } else { map[i as usize] };
        let class_map: Vec<u32> = classes
            .labels
            .iter()
            .map(|l| self.classes.id(l.map(id)))
            .collect();
        let tag_map: Vec<u32> = tag_sets
            .sets
            .iter()
            .map(|set| {
                let mut set: Vec<(u32, u32)> = set.iter().map(|&(l, v)| (id(l), id(v))).collect();
                set.sort_unstable();
                self.tag_sets.id(&set)
            })
            .collect();
        for (j, (key, mut sums)) in entries.into_iter().enumerate() {
            let mut ids = key.map(id);
            ids[K_CLASS] = class_map[key[K_CLASS] as usize];
            ids[K_TAGS] = tag_map[key[K_TAGS] as usize];
            for (unit, _) in &mut sums.usage {
                *unit = id(*unit);
            }
            let (i, new) = self.entry(&ids, with_detail);
            match new {
                false => self.entries[i].1.absorb(&sums),
                true => self.entries[i].1 = sums,
            }
            if with_detail {
                self.detail[i].absorb(&detail[j]);
            }
        }
    }
}

/// The string tables of a finished period.
#[derive(Debug, Clone)]
struct Dict {
    period: Arc<str>,
    strings: Vec<Arc<str>>,
    classes: Vec<ClassLabels>,
    tag_sets: Vec<TagSet>,
}

impl Dict {
    fn s(&self, id: u32) -> &Arc<str> {
        &self.strings[id as usize]
    }

    /// `principal_type`, `principal_name` and `session` of a key.
    fn principal_labels(&self, k: &Key) -> (&'static str, &str, &str) {
        let raw = self.s(k[K_PRINCIPAL]);
        if raw.is_empty() {
            return (PrincipalKind::Unattributed.as_str(), "", "");
        }
        let p = principal::parse(Some(raw));
        let session = if p.session == "*" { "" } else { p.session };
        (p.kind.as_str(), p.name, session)
    }

    /// The value of fixed label `i` ([`label`]) of a key.
    fn label(&self, k: &Key, i: usize) -> &str {
        let s = |pos: usize| &**self.s(k[pos]);
        match i {
            label::BILLING_PERIOD => &self.period,
            label::PAYER_ACCOUNT_ID => s(K_PAYER),
            label::ACCOUNT_ID => s(K_ACCOUNT),
            label::PRINCIPAL => match s(K_PRINCIPAL) {
                "" => UNATTRIBUTED,
                raw => raw,
            },
            label::PRINCIPAL_TYPE => self.principal_labels(k).0,
            label::PRINCIPAL_NAME => self.principal_labels(k).1,
            label::SESSION => self.principal_labels(k).2,
            label::MODEL..=label::CACHE_TTL => {
                self.s(self.classes[k[K_CLASS] as usize][i - label::MODEL])
            }
            label::USAGE_TYPE => s(K_USAGE_TYPE),
            label::LINE_ITEM_TYPE => s(K_LINE_ITEM_TYPE),
            _ => s(K_BILLING_ENTITY),
        }
    }

    /// A key's tags as `(label, value)` strings.
    fn tags<'a>(&'a self, k: &Key) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.tag_sets[k[K_TAGS] as usize]
            .iter()
            .map(|&(l, v)| (&**self.s(l), &**self.s(v)))
    }

    /// Orders two keys of this period as their [`Labels`] order (then by currency).
    fn cmp_keys(&self, a: &Key, b: &Key) -> Ordering {
        for i in label::PAYER_ACCOUNT_ID..SERIES_LABELS.len() {
            let pos = match i {
                label::PAYER_ACCOUNT_ID => K_PAYER,
                label::ACCOUNT_ID => K_ACCOUNT,
                label::PRINCIPAL..=label::SESSION => K_PRINCIPAL,
                label::MODEL..=label::CACHE_TTL => K_CLASS,
                label::USAGE_TYPE => K_USAGE_TYPE,
                label::LINE_ITEM_TYPE => K_LINE_ITEM_TYPE,
                _ => K_BILLING_ENTITY,
            };
            if a[pos] == b[pos] {
                continue;
            }
            match self.label(a, i).cmp(self.label(b, i)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        if a[K_TAGS] != b[K_TAGS] {
            match self.tags(a).cmp(self.tags(b)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        self.s(a[K_CURRENCY]).cmp(self.s(b[K_CURRENCY]))
    }
}

/// The finished aggregate of one billing period: its distinct series, compact (see the module
/// docs), sorted by labels.
#[derive(Debug, Clone)]
pub struct PeriodAggregate {
    pub period: String,
    pub stats: PeriodStats,
    dict: Dict,
    entries: Vec<(Key, Sums)>,
    /// One per entry with [`AggregateOptions::detail`], else empty.
    detail: Vec<Detail>,
}

impl PeriodAggregate {
    /// Combines the parts of one period (files read in parallel), in the given order, so the
    /// result does not depend on which part finished first.
    pub fn merge(period: &str, parts: Vec<PeriodPart>) -> PeriodAggregate {
        let mut stats = PeriodStats::default();
        let mut parts = parts.into_iter();
        let mut base = parts.next().unwrap_or_default();
        stats.add(&base.stats);
        for part in parts {
            stats.add(&part.stats);
            base.absorb(part);
        }
        let PeriodPart {
            strings,
            classes,
            tag_sets,
            mut entries,
            mut detail,
            index,
            ..
        } = base;
        drop(index);
        let mut dict = Dict {
            period: Arc::from(period),
            strings: strings.strings,
            classes: classes.labels,
            tag_sets: tag_sets.sets,
        };
        let mut tag_sets = std::mem::take(&mut dict.tag_sets);
        for set in &mut tag_sets {
            set.sort_unstable_by(|a, b| dict.s(a.0).cmp(dict.s(b.0)));
        }
        dict.tag_sets = tag_sets;
        for (_, sums) in &mut entries {
            sums.usage.shrink_to_fit();
            sums.daily.shrink_to_fit();
        }
        if detail.is_empty() {
            entries.sort_unstable_by(|a, b| dict.cmp_keys(&a.0, &b.0));
        } else {
            let mut paired: Vec<((Key, Sums), Detail)> = entries.into_iter().zip(detail).collect();
            paired.sort_unstable_by(|a, b| dict.cmp_keys(&a.0.0, &b.0.0));
            (entries, detail) = paired.into_iter().unzip();
        }
        entries.shrink_to_fit();
        PeriodAggregate {
            period: period.to_string(),
            stats,
            dict,
            entries,
            detail,
        }
    }

    /// Distinct series.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The series, sorted by labels.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SeriesRef<'_>> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, (key, sums))| SeriesRef {
                dict: &self.dict,
                key,
                sums,
                detail: self.detail.get(i),
            })
    }

    /// The `i`th series in label order.
    pub fn get(&self, i: usize) -> SeriesRef<'_> {
        let (key, sums) = &self.entries[i];
        SeriesRef {
            dict: &self.dict,
            key,
            sums,
            detail: self.detail.get(i),
        }
    }

    /// Every series with its own labels and per-day sums (tests, small periods).
    pub fn series(&self) -> Vec<Series> {
        self.iter().map(|s| s.to_series(true)).collect()
    }
}

/// One series of a [`PeriodAggregate`], read in place.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRef<'a> {
    dict: &'a Dict,
    key: &'a Key,
    sums: &'a Sums,
    detail: Option<&'a Detail>,
}

/// Which labels an overflow bucket keeps (see [`crate::snapshot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldLevel {
    /// Everything but the principal labels and tags.
    Principal,
    /// Billing period, model, region, direction.
    Model,
    /// Billing period.
    Period,
}

impl<'a> SeriesRef<'a> {
    /// The value of fixed label `i` ([`label`]).
    pub fn label(&self, i: usize) -> &'a str {
        self.dict.label(self.key, i)
    }

    pub fn currency(&self) -> &'a Arc<str> {
        self.dict.s(self.key[K_CURRENCY])
    }

    pub fn cost(&self) -> &'a Sum {
        &self.sums.cost
    }

    pub fn net_cost(&self) -> &'a Sum {
        &self.sums.net_cost
    }

    pub fn daily(&self) -> &'a [DaySum] {
        &self.sums.daily
    }

    /// Usage normalised to tokens, for series of token line items.
    pub fn tokens(&self) -> Option<&'a Sum> {
        self.sums.tokens.as_ref()
    }

    /// What `report` sums besides; `None` unless aggregated with [`AggregateOptions::detail`].
    pub fn detail(&self) -> Option<&'a Detail> {
        self.detail
    }

    /// The tag labels, `(label, value)`, sorted by label.
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.dict.tags(self.key)
    }

    /// Orders by labels (then currency), across periods too.
    pub fn cmp_labels(&self, other: &SeriesRef<'_>) -> Ordering {
        if std::ptr::eq(self.dict, other.dict) {
            return self.dict.cmp_keys(self.key, other.key);
        }
        self.labels()
            .cmp(&other.labels())
            .then_with(|| self.currency().cmp(other.currency()))
    }

    /// The labels, as strings of their own.
    pub fn labels(&self) -> Labels {
        let d = self.dict;
        let k = self.key;
        let s = |pos: usize| d.s(k[pos]).clone();
        let raw = d.s(k[K_PRINCIPAL]);
        let principal = if raw.is_empty() {
            Arc::from(UNATTRIBUTED)
        } else {
            raw.clone()
        };
        let (kind, name, session) = d.principal_labels(k);
        let class = &d.classes[k[K_CLASS] as usize];
        let c = |i: usize| d.s(class[i - label::MODEL]).clone();
        let fixed: [Arc<str>; SERIES_LABELS.len()] = [
            d.period.clone(),
            s(K_PAYER),
            s(K_ACCOUNT),
            principal,
            Arc::from(kind),
            Arc::from(name),
            Arc::from(session),
            c(label::MODEL),
            c(label::REGION),
            c(label::DIRECTION),
            c(label::TIER),
            c(label::SCOPE),
            c(label::CACHE_TTL),
            s(K_USAGE_TYPE),
            s(K_LINE_ITEM_TYPE),
            s(K_BILLING_ENTITY),
        ];
        let tags = d.tag_sets[k[K_TAGS] as usize]
            .iter()
            .map(|&(l, v)| (d.s(l).clone(), d.s(v).clone()))
            .collect();
        Labels { fixed, tags }
    }

    /// A [`Series`] of its own; with the per-day sums or without (what a snapshot keeps).
    pub fn to_series(&self, daily: bool) -> Series {
        let mut usage: Vec<(Arc<str>, Sum)> = self
            .sums
            .usage
            .iter()
            .map(|&(u, sum)| (self.dict.s(u).clone(), sum))
            .collect();
        usage.sort_by(|a, b| a.0.cmp(&b.0));
        Series {
            labels: self.labels(),
            currency: self.currency().clone(),
            cost: self.sums.cost,
            net_cost: self.sums.net_cost,
            tokens: self.sums.tokens,
            usage,
            daily: if daily {
                self.sums.daily.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// Adds this series' sums (not its per-day sums) to `acc`, an overflow bucket; `acc.usage`
    /// is left unsorted (see [`sort_usage`]).
    pub fn add_to(&self, acc: &mut Series) {
        acc.cost.merge(&self.sums.cost);
        acc.net_cost.merge(&self.sums.net_cost);
        if let Some(t) = &self.sums.tokens {
            acc.tokens.get_or_insert_with(Sum::default).merge(t);
        }
        for &(unit, sum) in &self.sums.usage {
            let unit = self.dict.s(unit);
            match acc.usage.iter_mut().find(|(u, _)| u == unit) {
                Some((_, s)) => s.merge(&sum),
                None => acc.usage.push((unit.clone(), sum)),
            }
        }
    }

    /// Identifies the overflow bucket of this series at `level` among the series of its period:
    /// equal keys ⇔ equal bucket labels and currency.
    pub fn fold_key(&self, level: FoldLevel) -> [u32; 7] {
        let ids = self.key;
        let currency = ids[K_CURRENCY];
        let payer = ids[K_PAYER];
        match level {
            FoldLevel::Principal => [
                payer,
                ids[K_ACCOUNT],
                ids[K_CLASS],
                ids[K_USAGE_TYPE],
                ids[K_LINE_ITEM_TYPE],
                ids[K_BILLING_ENTITY],
                currency,
            ],
            FoldLevel::Model => {
                let c = &self.dict.classes[ids[K_CLASS] as usize];
                let at = |i: usize| c[i - label::MODEL];
                [
                    payer,
                    at(label::MODEL),
                    at(label::REGION),
                    at(label::DIRECTION),
                    currency,
                    0,
                    0,
                ]
            }
            FoldLevel::Period => [payer, currency, 0, 0, 0, 0, 0],
        }
    }
}

/// Sorts a series' usage by unit (after [`SeriesRef::add_to`]).
pub fn sort_usage(s: &mut Series) {
    s.usage.sort_by(|a, b| a.0.cmp(&b.0));
}

impl LabelSource for SeriesRef<'_> {
    fn label_value(&self, name: &str) -> &str {
        if let Some(i) = SERIES_LABELS.iter().position(|l| *l == name) {
            return self.label(i);
        }
        self.dict
            .tags(self.key)
            .find(|&(l, _)| l == name)
            .map_or("", |(_, v)| v)
    }
}

/// Aggregates the rows of one billing period; feed it as a [`RowSink`], then
/// [`finish`](Self::finish) (or [`into_part`](Self::into_part) for one of several parts).
pub struct PeriodAggregator<'o> {
    period: String,
    opts: &'o AggregateOptions,
    part: PeriodPart,
    /// Tag keys seen; by key id, its label (interned) and the Bedrock line items that carried it.
    tag_keys: Interner,
    tag_key_labels: Vec<(Option<u32>, u64)>,
    /// Address caches of [`Self::part`]'s strings and of `tag_keys`.
    addr: AddrCache,
    tag_addr: AddrCache,
    /// (usage type, product name, region) → class id and classification.
    classes: FxHashMap<(u32, u32, u32), (u32, Arc<Classified>)>,
    tag_scratch: Vec<(u32, u32)>,
    /// With `opts.detail`: (account id, account name) string ids → line items; invoice id ids.
    account_names: FxHashMap<(u32, u32), u64>,
    invoice_ids: FxHashSet<u32>,
}

impl<'o> PeriodAggregator<'o> {
    pub fn new(period: impl Into<String>, opts: &'o AggregateOptions) -> Self {
        PeriodAggregator {
            period: period.into(),
            opts,
            part: PeriodPart::default(),
            tag_keys: Interner::default(),
            tag_key_labels: Vec::new(),
            addr: AddrCache::default(),
            tag_addr: AddrCache::default(),
            classes: FxHashMap::default(),
            tag_scratch: Vec::new(),
            account_names: FxHashMap::default(),
            invoice_ids: FxHashSet::default(),
        }
    }

    /// The id of a string borrowed from a row of `epoch` (never of a temporary).
    fn row_id(&mut self, epoch: u64, s: &str) -> u32 {
        match epoch {
            0 => self.part.strings.id(s),
            _ => self.addr.id(epoch, s, &mut self.part.strings),
        }
    }

    fn tag_label(&mut self, epoch: u64, key: &str) -> Option<u32> {
        let id = match epoch {
            0 => self.tag_keys.id(key),
            _ => self.tag_addr.id(epoch, key, &mut self.tag_keys),
        } as usize;
        if id == self.tag_key_labels.len() {
            let label = self
                .opts
                .tags
                .label_for(key)
                .map(|l| self.part.strings.id(&l));
            self.tag_key_labels.push((label, 0));
        }
        let (label, n) = &mut self.tag_key_labels[id];
        *n += 1;
        *label
    }

    fn classified(
        &mut self,
        usage_type: u32,
        product_name: u32,
        region: u32,
    ) -> (u32, Arc<Classified>) {
        if let Some(c) = self.classes.get(&(usage_type, product_name, region)) {
            return c.clone();
        }
        let strings = &mut self.part.strings;
        let pn = (product_name != NONE).then(|| strings.get(product_name).to_string());
        let mut c = bedrock::classify(strings.get(usage_type), pn.as_deref(), strings.get(region));
        if !self.opts.model_rename.is_empty() {
            c.model = model::renamed(c.model, &c.model_as_billed, &self.opts.model_rename);
        }
        let labels: ClassLabels = [
            strings.id(&c.model),
            strings.id(&c.region),
            strings.id(c.direction.as_str()),
            strings.id(c.tier.as_str()),
            strings.id(c.scope.as_str()),
            strings.id(&c.cache_ttl.label()),
        ];
        let entry = (self.part.classes.id(labels), Arc::new(c));
        self.classes
            .insert((usage_type, product_name, region), entry.clone());
        entry
    }

    /// This aggregator's part, to [`merge`](PeriodAggregate::merge) with the period's others.
    pub fn into_part(mut self) -> PeriodPart {
        for (key, (_, n)) in self.tag_keys.strings.iter().zip(&self.tag_key_labels) {
            add_tag_key(&mut self.part.stats.tag_keys, key, *n);
        }
        let strings = &self.part.strings;
        let stats = &mut self.part.stats;
        for (&(account, name), &n) in &self.account_names {
            *stats
                .account_names
                .entry(strings.get(account).to_string())
                .or_default()
                .entry(strings.get(name).to_string())
                .or_default() += n;
        }
        let mut ids: Vec<&Arc<str>> = self.invoice_ids.iter().map(|&i| strings.get(i)).collect();
        ids.sort();
        for id in ids.into_iter().take(MAX_INVOICE_IDS) {
            stats.invoice_ids.insert(id.to_string());
        }
        self.part
    }

    /// The aggregate, series sorted by labels.
    pub fn finish(self) -> PeriodAggregate {
        let period = self.period.clone();
        PeriodAggregate::merge(&period, vec![self.into_part()])
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
        self.part.stats.bedrock_rows += 1;
        let epoch = row.strings_epoch;
        let principal_raw = row.iam_principal.map(str::trim).unwrap_or("");
        if principal_raw.is_empty() {
            self.part.stats.unattributed_rows += 1;
        }
        let principal = if self.opts.fold_sessions {
            self.part
                .strings
                .id(&principal::fold_session(principal_raw))
        } else {
            self.row_id(epoch, principal_raw)
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
            if let Some(label) = self.tag_label(epoch, k) {
                if scratch.iter().any(|&(l, _)| l == label) {
                    self.part.stats.tag_label_collisions += 1;
                    continue;
                }
                let value = self.row_id(epoch, v);
                scratch.push((label, value));
            }
        }
        scratch.sort_unstable();

        let usage_type = self.row_id(epoch, row.usage_type);
        let product_name = match row.product_name {
            Some(n) if !n.is_empty() => self.row_id(epoch, n),
            _ => NONE,
        };
        let region_code = self.row_id(epoch, row.product_region_code);
        let (class_id, class) = self.classified(usage_type, product_name, region_code);
        let currency = self.row_id(
            epoch,
            if row.currency.is_empty() {
                "USD"
            } else {
                row.currency
            },
        );
        let mut ids: Key = [0; 9];
        ids[K_PAYER] = self.row_id(epoch, row.payer_account_id.trim());
        ids[K_ACCOUNT] = self.row_id(epoch, row.usage_account_id);
        ids[K_PRINCIPAL] = principal;
        ids[K_CLASS] = class_id;
        ids[K_USAGE_TYPE] = usage_type;
        ids[K_LINE_ITEM_TYPE] = self.row_id(epoch, row.line_item_type);
        ids[K_BILLING_ENTITY] = self.row_id(epoch, row.billing_entity);
        ids[K_CURRENCY] = currency;
        ids[K_TAGS] = self.part.tag_sets.id(&scratch);

        if !class.known && !row.usage_type.is_empty() && row.line_item_type != "Tax" {
            add_unknown(&mut self.part.stats.unknown_usage_types, row.usage_type, 1);
        }
        if let Some(end) = row.usage_end_ms
            && USAGE_LINE_ITEM_TYPES.contains(&row.line_item_type)
        {
            let stats = &mut self.part.stats;
            stats.newest_usage_end_ms = Some(stats.newest_usage_end_ms.map_or(end, |n| n.max(end)));
        }
        let factor = bedrock::token_factor(row.pricing_unit, class.direction, class.marketplace);
        let unit = match factor {
            Some(_) => NONE,
            None => self.row_id(epoch, row.pricing_unit.trim()),
        };
        let net = match row.net_unblended_cost {
            Some(n) => n,
            None => {
                self.part.stats.net_cost_fallback_rows += 1;
                row.unblended_cost
            }
        };
        let detail = self.opts.detail;
        if detail {
            if !row.usage_account_name.is_empty() {
                let name = self.row_id(epoch, row.usage_account_name);
                *self
                    .account_names
                    .entry((ids[K_ACCOUNT], name))
                    .or_default() += 1;
            }
            if let Some(invoice) = row.invoice_id.map(str::trim).filter(|s| !s.is_empty()) {
                self.part.stats.invoiced_rows += 1;
                if self.invoice_ids.len() < MAX_INVOICE_IDS {
                    let id = self.row_id(epoch, invoice);
                    self.invoice_ids.insert(id);
                }
            }
        }
        let (i, _) = self.part.entry(&ids, detail);
        if detail {
            let d = &mut self.part.detail[i];
            if let Some(p) = row.public_on_demand_cost {
                d.public_cost.add(p);
                d.public_cost_rows += 1;
            }
            if factor.is_some() {
                d.token_cost.add(row.unblended_cost);
            }
        }
        let sums = &mut self.part.entries[i].1;
        self.tag_scratch = scratch;
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
                None => sums.add_usage(unit, &one(row.usage_amount)),
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

    /// A buffer rewritten in place between epochs holds other strings at the same address: the
    /// address cache must not carry an id across epochs, and rows without an epoch bypass it.
    #[test]
    fn strings_at_a_reused_address_are_told_apart_across_epochs() {
        let opts = AggregateOptions::default();
        let mut agg = PeriodAggregator::new("2026-04", &opts);
        let mut principal = String::from("arn:aws:iam::123456789012:user/alice");
        let mut key = String::from("iamPrincipal/team");
        let mut value = String::from("ds");
        for (epoch, name, k, v) in [
            (1, "alice", "iamPrincipal/team", "ds"),
            (1, "alice", "iamPrincipal/team", "ds"),
            (2, "carol", "iamPrincipal/tier", "ml"),
            (0, "alice", "iamPrincipal/team", "ds"),
            (0, "erika", "iamPrincipal/tier", "ml"),
        ] {
            principal.replace_range(principal.len() - 5.., name);
            key.replace_range(.., k);
            value.replace_range(.., v);
            let tags = [(key.as_str(), value.as_str())];
            let mut r = row(
                Some(&principal),
                "USE1-Claude4.6Sonnet-input-tokens",
                1.0,
                &tags,
            );
            r.strings_epoch = epoch;
            agg.row(&r);
        }
        let got: Vec<String> = agg
            .finish()
            .series()
            .iter()
            .map(|s| {
                let tags = s.labels.tags.iter().map(|(k, v)| format!("{k}={v}"));
                let name = &s.labels.fixed[label::PRINCIPAL_NAME];
                format!("{name} {} {}", tags.collect::<String>(), s.cost.value())
            })
            .collect();
        assert_eq!(
            got,
            [
                "alice tag_team=ds 3",
                "carol tag_tier=ml 1",
                "erika tag_tier=ml 1"
            ]
        );
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
        let series = out.series();
        assert_eq!(out.stats.bedrock_rows, 4);
        assert_eq!(out.stats.unattributed_rows, 1);
        assert_eq!(out.stats.net_cost_fallback_rows, 4);
        assert_eq!(series.len(), 3);
        let input = series
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
        let unattributed = series
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
        let series = out.series();
        assert_eq!(out.stats.newest_usage_end_ms, Some(2_000));
        assert_eq!(
            out.stats.unknown_usage_types,
            [("USE1-NovaLite-widgets".to_string(), 2)].into()
        );
        assert!(
            series
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
        let series = out.series();
        assert_eq!(series.len(), 1);
        assert_eq!(
            &*series[0].labels.fixed[label::PRINCIPAL],
            "arn:aws:sts::123456789012:assumed-role/BedrockRole/*"
        );
        assert_eq!(
            &*series[0].labels.fixed[label::PRINCIPAL_NAME],
            "BedrockRole"
        );
        assert_eq!(&*series[0].labels.fixed[label::SESSION], "");
        assert_eq!(series[0].cost.value(), 3.0);
    }

    /// Parts read by different workers intern strings in different orders; merged, they give
    /// the series one aggregator gives (ids mapped, tags and units included), and keys that
    /// differ only in what the labels do not show (the product region behind a usage-type
    /// prefix) are one series.
    #[test]
    fn parts_merge_like_one_aggregator() {
        let opts = AggregateOptions::default();
        let principals = [
            Some("arn:aws:iam::123456789012:user/alice"),
            Some("arn:aws:sts::123456789012:assumed-role/R/s1@x.org"),
            None,
        ];
        let teams = [("iamPrincipal/team", "ml"), ("iamPrincipal/team", "web")];
        let mut rows = Vec::new();
        for i in 0..60usize {
            let mut r = row(
                principals[i % 3],
                ["USE1-NovaLite-input-tokens", "USE1-NovaLite-widgets"][i % 2],
                0.25 * (i % 7 + 1) as f64,
                std::slice::from_ref(&teams[i % 2]),
            );
            r.pricing_unit = ["1K tokens", "Units"][i % 2];
            r.product_region_code = ["us-east-1", ""][(i / 2) % 2];
            r.usage_start_ms = Some((i as i64 % 4) * 86_400_000);
            rows.push(r);
        }
        let mut one = PeriodAggregator::new("2026-11", &opts);
        let mut parts: Vec<PeriodAggregator> = (0..3)
            .map(|_| PeriodAggregator::new("2026-11", &opts))
            .collect();
        for r in &rows {
            one.row(r);
        }
        // Each part sees the rows in a different order (and so interns differently).
        for (i, r) in rows.iter().enumerate().rev() {
            parts[i % 3].row(r);
        }
        let one = one.finish();
        let merged = PeriodAggregate::merge(
            "2026-11",
            parts.into_iter().map(PeriodAggregator::into_part).collect(),
        );
        assert_eq!(merged.stats, one.stats);
        let (a, b) = (one.series(), merged.series());
        assert_eq!(a.len(), 2 * 3, "one series per principal and usage type");
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.labels, y.labels);
            assert_eq!(x.cost.value(), y.cost.value());
            assert_eq!(x.net_cost.value(), y.net_cost.value());
            assert_eq!(x.tokens.map(|t| t.value()), y.tokens.map(|t| t.value()));
            let usage = |s: &Series| -> Vec<(Arc<str>, f64)> {
                s.usage
                    .iter()
                    .map(|(u, v)| (u.clone(), v.value()))
                    .collect()
            };
            assert_eq!(usage(x), usage(y));
            let days = |s: &Series| -> Vec<(i32, f64)> {
                s.daily.iter().map(|d| (d.day, d.cost.value())).collect()
            };
            assert_eq!(days(x), days(y));
        }
        let mut sorted = b.clone();
        sorted.sort_by(|x, y| x.labels.cmp(&y.labels));
        assert_eq!(sorted, b, "sorted by labels");
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
        let series = out.series();
        assert_eq!(out.stats.tag_label_collisions, 1);
        assert_eq!(
            series[0].labels.tags,
            vec![(Arc::from("tag_team_lead"), Arc::from("a"))]
        );
    }
}
