//! CUR 2.0 column names this exporter reads (AWS Data Exports user guide, "CUR 2.0 table
//! dictionary"), defined once: decoders find a column's slot with [`position`].

pub const PRODUCT_CODE: &str = "line_item_product_code";
pub const BILLING_ENTITY: &str = "bill_billing_entity";
pub const LINE_ITEM_TYPE: &str = "line_item_line_item_type";
pub const USAGE_TYPE: &str = "line_item_usage_type";
pub const IAM_PRINCIPAL: &str = "line_item_iam_principal";
pub const USAGE_ACCOUNT_ID: &str = "line_item_usage_account_id";
/// The management (payer) account the bill belongs to: the `payer_account_id` label, and how two
/// exports of one payer and billing period are told apart from two payers.
pub const PAYER_ACCOUNT_ID: &str = "bill_payer_account_id";
pub const CURRENCY_CODE: &str = "line_item_currency_code";
pub const PRODUCT_REGION_CODE: &str = "product_region_code";
pub const PRICING_UNIT: &str = "pricing_unit";
/// `map<string,string>` of product attributes; Marketplace Bedrock rows carry `product_name` here.
pub const PRODUCT: &str = "product";
/// `product.product_name AS product_product_name`, as CID/CUDOS export queries project it.
pub const PRODUCT_PRODUCT_NAME: &str = "product_product_name";
pub const PRODUCT_NAME_KEY: &str = "product_name";
pub const UNBLENDED_COST: &str = "line_item_unblended_cost";
/// Documented as present only when the account has discounts.
pub const NET_UNBLENDED_COST: &str = "line_item_net_unblended_cost";
pub const USAGE_AMOUNT: &str = "line_item_usage_amount";
pub const USAGE_END_DATE: &str = "line_item_usage_end_date";
/// The usage day of a line item (budget forecasts and spikes work per UTC day).
pub const USAGE_START_DATE: &str = "line_item_usage_start_date";
/// `map<string,string>` unifying every tag source (`iamPrincipal/…`, `resourceTags/…`, …).
pub const TAGS: &str = "tags";

/// `pricing_public_on_demand_cost` (double): the line item's cost at public on-demand prices.
/// Read by `report` only.
pub const PUBLIC_ON_DEMAND_COST: &str = "pricing_public_on_demand_cost";
/// `bill_invoice_id`: blank until the billing period is invoiced (CUR 2.0 table dictionary,
/// "bill" columns). Read by `report` only.
pub const INVOICE_ID: &str = "bill_invoice_id";
/// `line_item_usage_account_name` (CUR 2.0 only). Read by `report` only.
pub const USAGE_ACCOUNT_NAME: &str = "line_item_usage_account_name";

/// Columns without which a file cannot be read.
pub const REQUIRED: &[&str] = &[PRODUCT_CODE, UNBLENDED_COST];

/// The columns the daemon (`serve`, `once`, `doctor`) reads: its Parquet projection and CSV column
/// lookup. What it fetches from S3 is these columns' chunks; a column added here costs every
/// refresh bytes, so `report`'s extra columns are apart ([`REPORT_ONLY`]).
pub const DAEMON: [&str; 18] = [
    PRODUCT_CODE,
    BILLING_ENTITY,
    LINE_ITEM_TYPE,
    USAGE_TYPE,
    IAM_PRINCIPAL,
    USAGE_ACCOUNT_ID,
    CURRENCY_CODE,
    PRODUCT_REGION_CODE,
    PRICING_UNIT,
    PRODUCT,
    PRODUCT_PRODUCT_NAME,
    UNBLENDED_COST,
    NET_UNBLENDED_COST,
    USAGE_AMOUNT,
    USAGE_END_DATE,
    TAGS,
    USAGE_START_DATE,
    PAYER_ACCOUNT_ID,
];

/// The columns only `report` reads, besides [`DAEMON`]'s.
pub const REPORT_ONLY: [&str; 3] = [PUBLIC_ON_DEMAND_COST, INVOICE_ID, USAGE_ACCOUNT_NAME];

/// Every column any command reads: [`DAEMON`] then [`REPORT_ONLY`] (a test holds them equal). A
/// decoder keeps one slot per column of this list, and fills those its [`Projection`] includes.
pub const ALL: [&str; 21] = [
    PRODUCT_CODE,
    BILLING_ENTITY,
    LINE_ITEM_TYPE,
    USAGE_TYPE,
    IAM_PRINCIPAL,
    USAGE_ACCOUNT_ID,
    CURRENCY_CODE,
    PRODUCT_REGION_CODE,
    PRICING_UNIT,
    PRODUCT,
    PRODUCT_PRODUCT_NAME,
    UNBLENDED_COST,
    NET_UNBLENDED_COST,
    USAGE_AMOUNT,
    USAGE_END_DATE,
    TAGS,
    USAGE_START_DATE,
    PAYER_ACCOUNT_ID,
    PUBLIC_ON_DEMAND_COST,
    INVOICE_ID,
    USAGE_ACCOUNT_NAME,
];

/// Which columns a read decodes (and, from Parquet on S3, fetches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Projection {
    /// [`DAEMON`]: what the metrics need.
    #[default]
    Daemon,
    /// [`DAEMON`] and [`REPORT_ONLY`]: what `report` needs.
    Report,
}

impl Projection {
    /// The columns, in [`ALL`] order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Projection::Daemon => &ALL[..DAEMON.len()],
            Projection::Report => &ALL,
        }
    }

    pub fn includes(self, name: &str) -> bool {
        self.columns().contains(&name)
    }
}

/// The index of a column in [`ALL`]; a compile-time error (in a `const` context) for a name that
/// is not there.
pub const fn position(name: &str) -> usize {
    let mut i = 0;
    while i < ALL.len() {
        if eq(ALL[i].as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("not a column of columns::ALL")
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_the_daemon_columns_then_the_report_ones() {
        let joined: Vec<&str> = DAEMON.iter().chain(&REPORT_ONLY).copied().collect();
        assert_eq!(ALL.to_vec(), joined);
    }

    /// The daemon's projection is exactly the columns it read before `report` existed: adding a
    /// column here costs every refresh of every deployment S3 bytes and decoding time.
    #[test]
    fn the_daemon_projection_is_unchanged() {
        assert_eq!(
            Projection::Daemon.columns(),
            [
                "line_item_product_code",
                "bill_billing_entity",
                "line_item_line_item_type",
                "line_item_usage_type",
                "line_item_iam_principal",
                "line_item_usage_account_id",
                "line_item_currency_code",
                "product_region_code",
                "pricing_unit",
                "product",
                "product_product_name",
                "line_item_unblended_cost",
                "line_item_net_unblended_cost",
                "line_item_usage_amount",
                "line_item_usage_end_date",
                "tags",
                "line_item_usage_start_date",
                "bill_payer_account_id",
            ]
        );
        for c in REPORT_ONLY {
            assert!(!Projection::Daemon.includes(c) && Projection::Report.includes(c));
        }
        assert_eq!(Projection::default(), Projection::Daemon);
    }
}
