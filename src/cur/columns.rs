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

/// Columns without which a file cannot be read.
pub const REQUIRED: &[&str] = &[PRODUCT_CODE, UNBLENDED_COST];

/// Every column the exporter reads, in one list (the Parquet projection, the CSV column lookup).
pub const ALL: [&str; 18] = [
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
