//! Bedrock knowledge, pure: which CUR line items are Bedrock, and what their usage type, principal
//! and tags say. No I/O, no tokio, no AWS.
//!
//! - [`usage_type`] — the usage-type grammar (region, model, direction, tier, scope, cache TTL).
//! - [`model`] — one canonical, readable name per model, whichever way it is billed.
//! - [`region`] — billing prefixes → region codes.
//! - [`principal`] — principal ARNs → kind, name, session.
//! - [`tags`] — `tags` map keys → label names.
//! - [`classify`](mod@classify) — one line item's labels from the above.

pub mod classify;
pub mod model;
pub mod principal;
pub mod region;
pub mod tags;
pub mod usage_type;

pub use classify::{Classified, classify, token_factor};

/// `line_item_product_code`s of the Bedrock family (CUDOS v5.9.0's Bedrock filter; the
/// launch blog's Part 2 filter; the AWS Price List).
pub const BEDROCK_PRODUCT_CODES: &[&str] = &[
    "AmazonBedrock",
    "AmazonBedrockService",
    "AmazonBedrockFoundationModels",
];

/// `bill_billing_entity` of Marketplace-billed models.
pub const MARKETPLACE_ENTITY: &str = "AWS Marketplace";

/// The suffix of Marketplace Bedrock model product names ("Claude 3 Haiku (Amazon Bedrock Edition)").
pub const MARKETPLACE_EDITION_SUFFIX: &str = "(Amazon Bedrock Edition)";

/// First, cheap test on two columns: could this row be Bedrock? Marketplace rows still need
/// [`is_bedrock`] with their product name.
pub fn may_be_bedrock(product_code: &str, billing_entity: &str) -> bool {
    BEDROCK_PRODUCT_CODES.contains(&product_code) || billing_entity == MARKETPLACE_ENTITY
}

/// Whether a line item is Bedrock spend: a Bedrock-family product code, or a Marketplace-billed
/// model whose product name ends in "(Amazon Bedrock Edition)".
pub fn is_bedrock(product_code: &str, billing_entity: &str, product_name: Option<&str>) -> bool {
    BEDROCK_PRODUCT_CODES.contains(&product_code)
        || (billing_entity == MARKETPLACE_ENTITY
            && product_name.is_some_and(|n| n.trim_end().ends_with(MARKETPLACE_EDITION_SUFFIX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bedrock_filter() {
        assert!(is_bedrock("AmazonBedrock", "AWS", None));
        assert!(is_bedrock("AmazonBedrockService", "AWS", None));
        assert!(is_bedrock("AmazonBedrockFoundationModels", "AWS", None));
        assert!(is_bedrock(
            "prod-4b3zk2x7q2yqy",
            "AWS Marketplace",
            Some("Claude 3 Haiku (Amazon Bedrock Edition)")
        ));
        assert!(!is_bedrock(
            "prod-4b3zk2x7q2yqy",
            "AWS Marketplace",
            Some("Some SaaS")
        ));
        assert!(!is_bedrock("prod-x", "AWS Marketplace", None));
        assert!(!is_bedrock("AmazonEC2", "AWS", None));
        assert!(!is_bedrock("AmazonBedrockAgentCore", "AWS", None));
        assert!(may_be_bedrock("x", "AWS Marketplace"));
        assert!(!may_be_bedrock("AmazonS3", "AWS"));
    }
}
