//! The usage-type parser and the classifier on arbitrary text.
//!
//! Parsing is total and keeps its promises: a region only from a known billing prefix, a model
//! that is non-empty, `known` only with a region; the classifier's region is a region code or
//! `unknown`, its model is canonical (canonicalising it again changes nothing), a Marketplace
//! line takes its model from the product name, and the token factor is 1, 1,000 or 1,000,000.

#![no_main]

use bedrock_cost_exporter::bedrock::{classify, model, region, usage_type};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Usage type, product name and product region code, separated by NUL bytes.
    let mut parts = text.splitn(3, '\0');
    let ut = parts.next().unwrap_or("");
    let product = parts.next();
    let product_region = parts.next().unwrap_or("");

    let u = usage_type::parse(ut);
    assert_eq!(u, usage_type::parse(ut), "parsing is deterministic");
    if let Some(r) = u.region {
        assert!(region::is_region_code(r), "{r:?} from {ut:?}");
    }
    if let Some(m) = &u.model {
        assert!(!m.is_empty(), "{ut:?}");
    }
    if u.known {
        assert!(u.region.is_some(), "{ut:?} is known without a region");
    }

    let c = classify::classify(ut, product, product_region);
    assert!(
        c.region == classify::UNKNOWN || region::is_region_code(&c.region),
        "{:?}",
        c.region
    );
    assert!(!c.model.is_empty() && !c.model_as_billed.is_empty());
    assert_eq!(
        model::canonical(&c.model),
        c.model,
        "canonical names are fixed points"
    );
    assert_eq!(c.model, model::canonical(&c.model_as_billed));
    if c.marketplace
        && let Some(name) = product
            .map(str::trim)
            .and_then(|n| n.strip_suffix(" (Amazon Bedrock Edition)"))
            .map(str::trim)
            .filter(|n| !n.is_empty())
    {
        assert_eq!(
            c.model_as_billed, name,
            "a Marketplace line takes the product's name"
        );
    }
    for unit in ["1K tokens", "1M tokens", "tokens", product_region] {
        if let Some(f) = classify::token_factor(unit, c.direction, c.marketplace) {
            assert!([1.0, 1e3, 1e6].contains(&f), "{unit:?} → {f}");
        }
    }
});
