//! One Bedrock line item's labels (region, model, direction, tier, scope, cache TTL) from its usage
//! type, product name and product region, and the token scale of its pricing unit. Pure.

use super::MARKETPLACE_EDITION_SUFFIX;
use super::model;
use super::region::is_region_code;
use super::usage_type::{self, CacheTtl, Direction, Scope, Tier};

/// Label value when a region or model cannot be told from the line item.
pub const UNKNOWN: &str = "unknown";

/// The labels of a classified Bedrock line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub region: String,
    /// Canonical model name ([`super::model::canonical`]).
    pub model: String,
    /// The model as the usage type or product name spells it (a `models.rename` key may use it).
    pub model_as_billed: String,
    pub direction: Direction,
    pub tier: Tier,
    pub scope: Scope,
    pub cache_ttl: CacheTtl,
    pub marketplace: bool,
    /// Whether the usage type matched a rule (see [`usage_type::UsageType::known`]).
    pub known: bool,
}

/// Classifies a line item.
///
/// - `region`: from the usage-type billing prefix; when the prefix is missing or unknown, from
///   `product_region_code`; else `unknown`. (CUDOS prefers `product_region_code`; the two agree on
///   every documented row, and the prefix is present on rows whose product region is empty.)
/// - `model`: from the usage type for first-party SKUs; Marketplace SKUs (and rows whose usage type
///   names no model) take a model product's name without " (Amazon Bedrock Edition)"; else
///   `unknown` (tax lines, for instance). Bare Marketplace SKUs (`USE2_CacheWriteInputTokenCount`)
///   take the product name too. The name is then made canonical, so `Claude4.6Sonnet` and
///   "Claude Sonnet 4.6 (Amazon Bedrock Edition)" are one model, `Claude Sonnet 4.6`.
pub fn classify(
    raw_usage_type: &str,
    product_name: Option<&str>,
    product_region_code: &str,
) -> Classified {
    let ut = usage_type::parse(raw_usage_type);
    let region = match ut.region {
        Some(r) => r.to_string(),
        None if is_region_code(product_region_code) => product_region_code.to_string(),
        None => UNKNOWN.to_string(),
    };
    // Only a model product's name ("Claude 3 Haiku (Amazon Bedrock Edition)") names a model;
    // "Amazon Bedrock" on a tax line does not.
    let from_product = || {
        product_name
            .map(str::trim)
            .and_then(|n| n.strip_suffix(MARKETPLACE_EDITION_SUFFIX))
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    };
    // A usage type of blanks names no model (its canonical name would be empty).
    let ut_model = ut.model.filter(|m| !m.trim().is_empty());
    let model_as_billed = if ut.marketplace {
        from_product().or(ut_model)
    } else {
        ut_model.or_else(from_product)
    }
    .unwrap_or_else(|| UNKNOWN.to_string());
    Classified {
        region,
        model: model::canonical(&model_as_billed),
        model_as_billed,
        direction: ut.direction,
        tier: ut.tier,
        scope: ut.scope,
        cache_ttl: ut.cache_ttl,
        marketplace: ut.marketplace,
        known: ut.known,
    }
}

/// How many tokens one unit of `pricing_unit` is, for token line items; `None` when the unit is not
/// a token count. `1K tokens` ×1,000 and `1M tokens` ×1,000,000 (CUDOS v5.9.0's Bedrock view);
/// Marketplace `Units` are 1M tokens.
pub fn token_factor(pricing_unit: &str, direction: Direction, marketplace: bool) -> Option<f64> {
    if direction == Direction::Other {
        return None;
    }
    let unit = pricing_unit.trim().to_ascii_lowercase();
    match unit.as_str() {
        "1k tokens" => Some(1e3),
        "1m tokens" => Some(1e6),
        "tokens" | "token" => Some(1.0),
        "units" | "unit" if marketplace => Some(1e6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_usage_type_names_no_model() {
        // Found by the usage_type fuzz target: "\t" gave the model label "" instead of unknown.
        for blank in ["\t", " ", "USE1- "] {
            let c = classify(blank, None, "");
            assert_eq!(c.model, UNKNOWN, "{blank:?}");
            assert_eq!(c.model_as_billed, UNKNOWN, "{blank:?}");
        }
        let c = classify(" ", Some("Claude 3 Haiku (Amazon Bedrock Edition)"), "");
        assert_eq!(c.model, "Claude 3 Haiku");
    }

    #[test]
    fn regions_from_prefix_or_product() {
        assert_eq!(
            classify("USE1-NovaLite-input-tokens", None, "us-east-1").region,
            "us-east-1"
        );
        assert_eq!(
            classify("EU-Nova2.0Lite-input-tokens", None, "").region,
            "eu-west-1"
        );
        assert_eq!(classify("Tax", None, "eu-central-1").region, "eu-central-1");
        assert_eq!(classify("", None, "").region, UNKNOWN);
        assert_eq!(classify("", None, "global").region, UNKNOWN);
    }

    #[test]
    fn marketplace_models_come_from_the_product_name() {
        let c = classify(
            "USE1-MP:USE1_InputTokenCount-Units",
            Some("Claude Sonnet 4.5 (Amazon Bedrock Edition)"),
            "us-east-1",
        );
        assert_eq!(c.model, "Claude Sonnet 4.5");
        assert_eq!(c.direction, Direction::Input);
        assert!(c.known);
        assert!(c.marketplace);
        let c = classify("USE1-MP:USE1_InputTokenCount-Units", None, "us-east-1");
        assert_eq!(c.model, UNKNOWN);
        let c = classify(
            "USE1-Claude4.6Sonnet-input-tokens",
            Some("Amazon Bedrock"),
            "us-east-1",
        );
        assert_eq!(c.model, "Claude Sonnet 4.6");
        assert_eq!(c.model_as_billed, "Claude4.6Sonnet");
        let c = classify("", Some("Claude 3 Haiku (Amazon Bedrock Edition)"), "");
        assert_eq!(c.model, "Claude 3 Haiku");
        assert_eq!(
            classify("", Some("Amazon Bedrock"), "us-east-1").model,
            UNKNOWN
        );
    }

    #[test]
    fn one_model_one_name_across_billing_forms() {
        let first_party = classify(
            "USE1-Claude4.6Sonnet-input-tokens",
            Some("Amazon Bedrock"),
            "us-east-1",
        );
        let marketplace = classify(
            "USE2-MP:USE2_InputTokenCount_Global-Units",
            Some("Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
            "us-east-2",
        );
        let bare = classify(
            "USE2_CacheWriteInputTokenCount",
            Some("Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
            "",
        );
        assert_eq!(first_party.model, "Claude Sonnet 4.6");
        assert_eq!(marketplace.model, "Claude Sonnet 4.6");
        assert_eq!(bare.model, "Claude Sonnet 4.6");
        assert_eq!(bare.region, "us-east-2");
        assert_eq!(bare.direction, Direction::CacheWrite);
        assert!(bare.marketplace && bare.known);
    }

    #[test]
    fn modality_tokens_are_tokens() {
        let c = classify(
            "USE1-Nova2.0Pro-input-image-token-count-cross-region-global",
            Some("Amazon Bedrock"),
            "us-east-1",
        );
        assert_eq!(c.direction, Direction::Input);
        assert_eq!(c.model, "Nova 2 Pro");
        assert_eq!(
            token_factor("1K tokens", c.direction, c.marketplace),
            Some(1e3)
        );
        let r = classify(
            "USE1-cohere.rerank-english-v3-search-units",
            None,
            "us-east-1",
        );
        assert_eq!(r.model, "rerank-english-v3");
        assert_eq!(r.direction, Direction::Other);
    }

    #[test]
    fn token_factors() {
        use Direction::*;
        assert_eq!(token_factor("1K tokens", Input, false), Some(1e3));
        assert_eq!(token_factor("1M tokens", Output, false), Some(1e6));
        assert_eq!(token_factor("Units", CacheRead, true), Some(1e6));
        assert_eq!(token_factor("Units", Input, false), None);
        assert_eq!(token_factor("1K tokens", Other, false), None);
        assert_eq!(token_factor("Hrs", Other, false), None);
    }
}
