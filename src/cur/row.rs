//! The plain row type handed from the decoders to the next stage.

/// One CUR line item, borrowing from the decoder's buffers. Absent columns read as `""`/`None`/0.
#[derive(Debug, Clone, Copy, Default)]
pub struct CurRow<'a> {
    pub product_code: &'a str,
    pub billing_entity: &'a str,
    pub line_item_type: &'a str,
    pub usage_type: &'a str,
    /// `None` when the cell is NULL or the column is absent.
    pub iam_principal: Option<&'a str>,
    pub usage_account_id: &'a str,
    /// `bill_payer_account_id`; `""` when NULL or the column is absent.
    pub payer_account_id: &'a str,
    pub currency: &'a str,
    pub product_region_code: &'a str,
    pub pricing_unit: &'a str,
    /// `product['product_name']` or the `product_product_name` column.
    pub product_name: Option<&'a str>,
    pub unblended_cost: f64,
    /// `None` when NULL or the column is absent.
    pub net_unblended_cost: Option<f64>,
    pub usage_amount: f64,
    /// The `tags` map's entries.
    pub tags: &'a [(&'a str, &'a str)],
    /// `line_item_usage_start_date` (ms since the epoch); `None` when NULL, absent or unparsable.
    pub usage_start_ms: Option<i64>,
    /// `line_item_usage_end_date` (ms since the epoch); `None` when NULL or absent.
    pub usage_end_ms: Option<i64>,
    /// `pricing_public_on_demand_cost`; `None` when NULL, absent, or not projected
    /// ([`Projection::Report`](super::columns::Projection) only).
    pub public_on_demand_cost: Option<f64>,
    /// `bill_invoice_id`; `None` when NULL, absent, or not projected (report only).
    pub invoice_id: Option<&'a str>,
    /// `line_item_usage_account_name`; `""` when NULL, absent, or not projected (report only).
    pub usage_account_name: &'a str,
    /// Non-zero when the row's strings stay where they are, unchanged, for every row of the same
    /// epoch (a decoded Parquet batch: its dictionaries), and no other rows ever carry this
    /// epoch: equal addresses then mean equal strings, so the next stage may key caches on
    /// addresses. `0` (rows from reused line buffers): no such promise.
    pub strings_epoch: u64,
}

/// A filter a decoder can apply before decoding a row's other columns (Parquet late
/// materialisation): a row is wanted when its product code or its billing entity is listed.
#[derive(Debug, Clone, Copy)]
pub struct Prefilter {
    pub product_codes: &'static [&'static str],
    pub billing_entities: &'static [&'static str],
}

impl Prefilter {
    pub fn wants(&self, product_code: &str, billing_entity: &str) -> bool {
        self.product_codes.contains(&product_code)
            || self.billing_entities.contains(&billing_entity)
    }
}

/// Receives rows from a decoder.
pub trait RowSink {
    /// A filter the decoder may apply before [`RowSink::wants`], as plain data.
    fn prefilter(&self) -> Option<Prefilter> {
        None
    }
    /// A cheap first filter on two columns: rows it rejects are never fully decoded.
    fn wants(&mut self, product_code: &str, billing_entity: &str) -> bool;
    /// A row that passed [`RowSink::wants`].
    fn row(&mut self, row: &CurRow<'_>);
}

/// What reading one data file saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Rows in the file (all of them, not only the ones the sink wanted).
    pub rows: u64,
    /// Bytes read from the object.
    pub bytes: u64,
    /// Parquet row groups skipped because their statistics rule out Bedrock rows.
    pub skipped_row_groups: u64,
    /// Optional columns the file lacks (e.g. `line_item_iam_principal`).
    pub missing_columns: Vec<&'static str>,
}
