//! The Bedrock usage-type grammar: `line_item_usage_type` → region, model, token direction, tier,
//! cross-region scope and cache TTL. Pure; no I/O.
//!
//! Grammar (reference §4.4–4.6; Bedrock User Guide "Understanding CUR data"):
//! `{region}-{model}-{token-type}[-{tier}][-cross-region-global]`, mantle (OpenAI-compatible)
//! models as `{region}-{provider.model}-mantle-{token-type}-standard`, and Marketplace-style SKUs as
//! `{region}-MP:{region}_{TokenKind}[_Global|_Geo]-Units` (Cost Explorer shows the bare
//! `{region}_{…}-Units` form). Markers are matched case-insensitively, as CUDOS's Bedrock view does.

use super::region::region_for_prefix;

/// Which kind of token (or non-token spend) a line item is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Input,
    Output,
    CacheRead,
    CacheWrite,
    /// Non-token spend: provisioned throughput, guardrails, images, knowledge bases, tax lines, ….
    Other,
}

impl Direction {
    pub const ALL: [Direction; 5] = [
        Direction::Input,
        Direction::Output,
        Direction::CacheRead,
        Direction::CacheWrite,
        Direction::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
            Direction::CacheRead => "cache_read",
            Direction::CacheWrite => "cache_write",
            Direction::Other => "other",
        }
    }
}

/// The service tier or purchase model of a line item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    OnDemand,
    Batch,
    Flex,
    Priority,
    LatencyOptimized,
    /// Provisioned throughput (`ProvisionedThroughput`, `ModelUnits`).
    Provisioned,
    /// Marketplace reserved tokens-per-minute capacity (`Reserved_1Month_InputTPM`).
    Reserved,
    /// Inference on a customised or imported model.
    CustomModel,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::OnDemand => "on_demand",
            Tier::Batch => "batch",
            Tier::Flex => "flex",
            Tier::Priority => "priority",
            Tier::LatencyOptimized => "latency_optimized",
            Tier::Provisioned => "provisioned",
            Tier::Reserved => "reserved",
            Tier::CustomModel => "custom_model",
        }
    }
}

/// Where inference may run: the calling region only, a geography (`_Geo`, `cross-region`), or
/// anywhere (`cross-region-global`, `_Global`). Billing is always at the source region [GCRI].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    InRegion,
    Geo,
    Global,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::InRegion => "in_region",
            Scope::Geo => "geo",
            Scope::Global => "global",
        }
    }
}

/// Prompt-cache time to live; only cache writes have one (5 minutes unless the SKU says `1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CacheTtl {
    None,
    FiveMinutes,
    OneHour,
}

impl CacheTtl {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheTtl::None => "",
            CacheTtl::FiveMinutes => "5m",
            CacheTtl::OneHour => "1h",
        }
    }
}

/// What a usage-type string says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageType {
    /// Region code from the billing prefix, when the prefix is a known billing code.
    pub region: Option<&'static str>,
    /// Marketplace-style SKU (`MP:`): the model name comes from the product name, not from here.
    pub marketplace: bool,
    /// Readable model name without region, direction, tier or scope parts (first-party SKUs only).
    pub model: Option<String>,
    pub direction: Direction,
    pub tier: Tier,
    pub scope: Scope,
    pub cache_ttl: CacheTtl,
}

/// Tokens that end the model part of a first-party usage type (compared lower-cased).
const MODEL_STOP: &[&str] = &[
    "input",
    "output",
    "cache",
    "tokens",
    "mantle",
    "provisionedthroughput",
    "customization",
    "rft",
    "inference",
    "searchunits",
    "t2i",
    "batch",
    "flex",
    "priority",
    "standard",
    "custom",
    "cross",
    "global",
    "long",
    "latency",
];

/// Lower-case modality or feature words that sit between a model and its token kind
/// (`Nova2.0Pro-text-input-tokens`, `Nova2.0Lite-nova-grounding`). Capitalised forms such as
/// `TitanEmbeddingV2-Text` are part of the model's name and are kept.
const MODALITY: &[&str] = &["text", "image", "video", "audio", "speech", "nova"];

/// Parses a `line_item_usage_type`. Never fails: unknown shapes give `region: None`, `model: None`,
/// `direction: Other`.
pub fn parse(usage_type: &str) -> UsageType {
    let lower = usage_type.to_ascii_lowercase();
    let (region, rest) = match usage_type.split_once('-') {
        Some((prefix, rest)) => match region_for_prefix(prefix) {
            Some(region) => (Some(region), rest),
            None => (None, usage_type),
        },
        None => (None, usage_type),
    };
    // Marketplace: `USE1-MP:USE1_InputTokenCount-Units`, or Cost Explorer's `USE2_InputTokenCount-Units`.
    let bare_marketplace = region.is_none()
        && usage_type
            .split_once('_')
            .and_then(|(p, _)| region_for_prefix(p))
            .is_some()
        && lower.ends_with("-units");
    let marketplace = rest.starts_with("MP:") || bare_marketplace;
    let region = region.or_else(|| {
        if bare_marketplace {
            usage_type
                .split_once('_')
                .and_then(|(p, _)| region_for_prefix(p))
        } else {
            None
        }
    });

    let words: Vec<&str> = lower
        .split(['-', '_', ':'])
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);

    let direction = direction_of(&lower);
    let tier = if lower.contains("provisionedthroughput") || lower.contains("modelunits") {
        Tier::Provisioned
    } else if has("reserved") {
        Tier::Reserved
    } else if has("batch") {
        Tier::Batch
    } else if has("flex") {
        Tier::Flex
    } else if has("priority") {
        Tier::Priority
    } else if lower.contains("latency-optimized") || has("latencyoptimized") {
        Tier::LatencyOptimized
    } else if lower.contains("custom-model") || lower.contains("custommodel") {
        Tier::CustomModel
    } else {
        Tier::OnDemand
    };
    let scope = if has("global") {
        Scope::Global
    } else if has("geo") || lower.contains("cross-region") {
        Scope::Geo
    } else {
        Scope::InRegion
    };
    let cache_ttl = if direction != Direction::CacheWrite {
        CacheTtl::None
    } else if has("1h") || lower.contains("cachewrite1h") || lower.contains("cache-write-1h") {
        CacheTtl::OneHour
    } else {
        CacheTtl::FiveMinutes
    };
    let model = if marketplace { None } else { model_of(rest) };
    UsageType {
        region,
        marketplace,
        model,
        direction,
        tier,
        scope,
        cache_ttl,
    }
}

fn direction_of(lower: &str) -> Direction {
    let any = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if any(&["cacheread", "cache-read", "cache_read"]) {
        Direction::CacheRead
    } else if any(&["cachewrite", "cache-write", "cache_write"]) {
        Direction::CacheWrite
    } else if any(&["input-token", "inputtoken", "input_token"]) {
        Direction::Input
    } else if any(&["output-token", "outputtoken", "output_token"]) {
        Direction::Output
    } else {
        Direction::Other
    }
}

/// The model part of a first-party usage type after its region prefix
/// (`Claude4.6Sonnet-cache-read-input-token-count` → `Claude4.6Sonnet`,
/// `openai.gpt-oss-120b-mantle-input-tokens-standard` → `gpt-oss-120b`).
fn model_of(rest: &str) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    for (i, token) in rest.split('-').enumerate() {
        let (token, colon) = match token.split_once(':') {
            Some((before, _)) => (before, true),
            None => (token, false),
        };
        let lower = token.to_ascii_lowercase();
        let stop = i > 0
            && (MODEL_STOP.contains(&lower.as_str())
                || (MODALITY.contains(&token) && token == lower)
                || lower.ends_with("consumed")
                || lower.ends_with("processed")
                || lower.ends_with("hours"));
        if stop {
            break;
        }
        if !token.is_empty() {
            kept.push(token);
        }
        // `Guardrail-…`, `DataAutomation-…`: a feature family, its first word names it.
        if i == 0 && matches!(token, "Guardrail" | "DataAutomation") {
            break;
        }
        if colon {
            break;
        }
    }
    let model = kept.join("-");
    // Mantle names carry the provider: `openai.gpt-oss-120b` is the same model as `gpt-oss-120b`.
    let model = match model.split_once('.') {
        Some((provider, name))
            if !provider.is_empty()
                && !name.is_empty()
                && provider.chars().all(|c| c.is_ascii_lowercase()) =>
        {
            name.to_string()
        }
        _ => model,
    };
    (!model.is_empty()).then_some(model)
}

#[cfg(test)]
mod tests {
    use super::CacheTtl::{FiveMinutes as M5, None as NoTtl, OneHour as H1};
    use super::Direction::*;
    use super::Scope::*;
    use super::Tier::*;
    use super::*;

    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Direction,
        Tier,
        Scope,
        CacheTtl,
    );
    /// Every usage-type string from `shared/reference/cur2-bedrock.md` §4.5 and §1.4
    /// (row number in the comment), with what it must parse to.
    #[rustfmt::skip]
    const TABLE: &[Row] = &[
        // Docs and blogs
        ("USE1-Claude4.6Sonnet-input-tokens", Some("us-east-1"), Some("Claude4.6Sonnet"), Input, OnDemand, InRegion, NoTtl), // 1
        ("USE1-Claude4.6Sonnet-output-tokens", Some("us-east-1"), Some("Claude4.6Sonnet"), Output, OnDemand, InRegion, NoTtl), // 2
        ("USE1-Claude4.6Opus-input-tokens", Some("us-east-1"), Some("Claude4.6Opus"), Input, OnDemand, InRegion, NoTtl), // 3
        ("USE1-Claude4.6Opus-output-tokens", Some("us-east-1"), Some("Claude4.6Opus"), Output, OnDemand, InRegion, NoTtl), // 4
        ("USE1-NovaLite-input-tokens", Some("us-east-1"), Some("NovaLite"), Input, OnDemand, InRegion, NoTtl), // 5
        ("USE1-NovaLite-output-tokens", Some("us-east-1"), Some("NovaLite"), Output, OnDemand, InRegion, NoTtl), // 6
        ("USE1-Claude4.6Sonnet-cache-read-input-token-count", Some("us-east-1"), Some("Claude4.6Sonnet"), CacheRead, OnDemand, InRegion, NoTtl), // 7
        ("USE1-Claude4.6Sonnet-output-tokens-cross-region-global", Some("us-east-1"), Some("Claude4.6Sonnet"), Output, OnDemand, Global, NoTtl), // 8
        ("USE1-openai.gpt-oss-120b-mantle-input-tokens-standard", Some("us-east-1"), Some("gpt-oss-120b"), Input, OnDemand, InRegion, NoTtl), // 9
        ("USE1-gpt-oss-120b-output-tokens-priority", Some("us-east-1"), Some("gpt-oss-120b"), Output, Priority, InRegion, NoTtl), // 10
        ("USE1-Nova2.0Lite-input-tokens-flex", Some("us-east-1"), Some("Nova2.0Lite"), Input, Flex, InRegion, NoTtl), // 11
        ("USW2-Claude4.6Sonnet-output-tokens", Some("us-west-2"), Some("Claude4.6Sonnet"), Output, OnDemand, InRegion, NoTtl), // 13
        ("USW2-Claude4.6Sonnet-cache-write-input-token-count", Some("us-west-2"), Some("Claude4.6Sonnet"), CacheWrite, OnDemand, InRegion, M5), // 14
        ("USW2-Claude4.6Sonnet-input-tokens", Some("us-west-2"), Some("Claude4.6Sonnet"), Input, OnDemand, InRegion, NoTtl), // 15
        ("USW2-Claude4.6Sonnet-cache-read-input-token-count", Some("us-west-2"), Some("Claude4.6Sonnet"), CacheRead, OnDemand, InRegion, NoTtl), // 16
        ("USW2-Claude4.5Sonnet-cache-write-input-token-count", Some("us-west-2"), Some("Claude4.5Sonnet"), CacheWrite, OnDemand, InRegion, M5), // 17
        ("USW2-Claude4.5Sonnet-input-tokens", Some("us-west-2"), Some("Claude4.5Sonnet"), Input, OnDemand, InRegion, NoTtl), // 18
        ("USW2-Claude4.5Sonnet-output-tokens", Some("us-west-2"), Some("Claude4.5Sonnet"), Output, OnDemand, InRegion, NoTtl), // 19
        // Real CUR and Cost Explorer data
        ("USE1-Claude4.5Haiku-input-tokens", Some("us-east-1"), Some("Claude4.5Haiku"), Input, OnDemand, InRegion, NoTtl), // 20
        ("USW2-Claude4.5Haiku-output-tokens-cross-region-global", Some("us-west-2"), Some("Claude4.5Haiku"), Output, OnDemand, Global, NoTtl), // 21
        ("USW2-Claude4.5Haiku-cache-read-input-token-count-cross-region-global", Some("us-west-2"), Some("Claude4.5Haiku"), CacheRead, OnDemand, Global, NoTtl), // 22
        ("USW2-Claude4.5Haiku-cache-write-input-token-count-cross-region-global", Some("us-west-2"), Some("Claude4.5Haiku"), CacheWrite, OnDemand, Global, M5), // 23
        ("USE1-NovaPro-input-tokens", Some("us-east-1"), Some("NovaPro"), Input, OnDemand, InRegion, NoTtl), // 24
        ("USE1-NovaPro-output-tokens", Some("us-east-1"), Some("NovaPro"), Output, OnDemand, InRegion, NoTtl), // 25
        ("USE1-TitanEmbeddingV2-Text-input-tokens", Some("us-east-1"), Some("TitanEmbeddingV2-Text"), Input, OnDemand, InRegion, NoTtl), // 26
        ("USE1-Knowledge-Base:Consumption-based:Retrieval", Some("us-east-1"), Some("Knowledge-Base"), Other, OnDemand, InRegion, NoTtl), // 27
        ("USE1-Knowledge-Base:Consumption-based:AgenticRetrieval", Some("us-east-1"), Some("Knowledge-Base"), Other, OnDemand, InRegion, NoTtl), // 28
        ("USE1-Knowledge-Base:Consumption-based:Storage", Some("us-east-1"), Some("Knowledge-Base"), Other, OnDemand, InRegion, NoTtl), // 29
        ("USE1-Runtime:Consumption-based:vCPU", Some("us-east-1"), Some("Runtime"), Other, OnDemand, InRegion, NoTtl), // 30
        ("USE1-Runtime:Consumption-based:Memory", Some("us-east-1"), Some("Runtime"), Other, OnDemand, InRegion, NoTtl), // 30
        ("USW2-MP:USW2_InputTokenCount-Units", Some("us-west-2"), None, Input, OnDemand, InRegion, NoTtl), // 31
        ("USE2_InputTokenCount-Units", Some("us-east-2"), None, Input, OnDemand, InRegion, NoTtl), // 32
        ("USE2_InputTokenCount_Global-Units", Some("us-east-2"), None, Input, OnDemand, Global, NoTtl), // 32
        ("USE2_OutputTokenCount-Units", Some("us-east-2"), None, Output, OnDemand, InRegion, NoTtl), // 32
        ("USE2_OutputTokenCount_Global-Units", Some("us-east-2"), None, Output, OnDemand, Global, NoTtl), // 32
        ("USE2-MP:USE2_InputTokenCount-Units", Some("us-east-2"), None, Input, OnDemand, InRegion, NoTtl), // 32 (presumed CUR form)
        // Marketplace SKUs
        ("USE1-MP:USE1_InputTokenCount-Units", Some("us-east-1"), None, Input, OnDemand, InRegion, NoTtl), // 33
        ("USE1-MP:USE1_OutputTokenCount-Units", Some("us-east-1"), None, Output, OnDemand, InRegion, NoTtl), // 34
        ("USE1-MP:USE1_InputTokenCount_Global-Units", Some("us-east-1"), None, Input, OnDemand, Global, NoTtl), // 35
        ("USE1-MP:USE1_CacheReadInputTokenCount-Units", Some("us-east-1"), None, CacheRead, OnDemand, InRegion, NoTtl), // 36
        ("USE1-MP:USE1_CacheWriteInputTokenCount-Units", Some("us-east-1"), None, CacheWrite, OnDemand, InRegion, M5), // 37
        ("USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units", Some("us-east-1"), None, CacheWrite, OnDemand, Global, H1), // 38
        ("USE1-MP:USE1_Reserved_1Month_InputTPM_Geo-Units", Some("us-east-1"), None, Other, Reserved, Geo, NoTtl), // 39
        ("USE1-MP:USE1_Reserved_3Month_OutputTPM_Global-Units", Some("us-east-1"), None, Other, Reserved, Global, NoTtl), // 40
        ("USE1-MP:USE1_input_tokens_standard-Units", Some("us-east-1"), None, Input, OnDemand, InRegion, NoTtl), // 41
        ("USE1-MP:USE1_output_tokens_standard-Units", Some("us-east-1"), None, Output, OnDemand, InRegion, NoTtl), // 41
        ("USE1-MP:USE1_ProvisionedThroughput_1MonthCommit_ModelUnits_Usage-Units", Some("us-east-1"), None, Other, Provisioned, InRegion, NoTtl), // 44
        ("USE1-MP:USE1_ProvisionedThroughput_NoCommit_ModelUnits_Usage-Units", Some("us-east-1"), None, Other, Provisioned, InRegion, NoTtl), // 44
        ("USE1-MP:USE1_created_image-Units", Some("us-east-1"), None, Other, OnDemand, InRegion, NoTtl), // 45
        ("USE1-MP:USE1_InputImageCount-Units", Some("us-east-1"), None, Other, OnDemand, InRegion, NoTtl), // 45
        ("APS3-MP:APS3_input_tokens_global_standard-Units", Some("ap-south-1"), None, Input, OnDemand, Global, NoTtl), // 47
        // First-party Price List and FinOps fixtures
        ("USE1-NovaMicro-input-tokens-batch", Some("us-east-1"), Some("NovaMicro"), Input, Batch, InRegion, NoTtl), // 48
        ("USE1-NovaPro-cache-read-input-token-count", Some("us-east-1"), Some("NovaPro"), CacheRead, OnDemand, InRegion, NoTtl), // 49
        ("USE1-NovaPro-input-tokens-priority", Some("us-east-1"), Some("NovaPro"), Input, Priority, InRegion, NoTtl), // 49
        ("USE1-NovaPro-output-tokens-flex", Some("us-east-1"), Some("NovaPro"), Output, Flex, InRegion, NoTtl), // 49
        ("USE1-Claude3Haiku-input-tokens", Some("us-east-1"), Some("Claude3Haiku"), Input, OnDemand, InRegion, NoTtl), // 51
        ("USE1-openai.gpt-5.6-luna-mantle-cache-write-tokens-5m-long-ctx-flex", Some("us-east-1"), Some("gpt-5.6-luna"), CacheWrite, Flex, InRegion, M5), // 52
        ("USE1-Nova2.0Pro-text-input-tokens-cross-region-global", Some("us-east-1"), Some("Nova2.0Pro"), Input, OnDemand, Global, NoTtl), // 53
        ("USE1-NovaPro-cache-write-input-token-count-custom-model", Some("us-east-1"), Some("NovaPro"), CacheWrite, CustomModel, InRegion, M5), // 54
        ("USE1-Nova2.0Lite-output-tokens-custom-model", Some("us-east-1"), Some("Nova2.0Lite"), Output, CustomModel, InRegion, NoTtl), // 54
        ("USE1-Guardrail-AutomatedReasoningPolicyUnitsConsumed", Some("us-east-1"), Some("Guardrail"), Other, OnDemand, InRegion, NoTtl), // 55
        ("USE1-Guardrail-ContentPolicyImageUnitsConsumed", Some("us-east-1"), Some("Guardrail"), Other, OnDemand, InRegion, NoTtl), // 55
        ("USE1-Nova2.0Lite-ProvisionedThroughput-NoCommit-ModelUnits", Some("us-east-1"), Some("Nova2.0Lite"), Other, Provisioned, InRegion, NoTtl), // 56
        ("USE1-Nova2.0Lite-ProvisionedThroughput-1month-ModelUnits", Some("us-east-1"), Some("Nova2.0Lite"), Other, Provisioned, InRegion, NoTtl), // 56
        ("USE1-TitanText-Premier-ProvisionedThroughput-Custom-NoCommit-ModelUnits", Some("us-east-1"), Some("TitanText-Premier"), Other, Provisioned, InRegion, NoTtl), // 57
        ("USE1-NovaPro-Customization-Training", Some("us-east-1"), Some("NovaPro"), Other, OnDemand, InRegion, NoTtl), // 58
        ("USE1-Nova2.0Lite-RFT-Training-Hours", Some("us-east-1"), Some("Nova2.0Lite"), Other, OnDemand, InRegion, NoTtl), // 58
        ("USE1-OSS-CustomModelImport-Inference-v1:0", Some("us-east-1"), Some("OSS-CustomModelImport"), Other, CustomModel, InRegion, NoTtl), // 59
        ("USE1-NovaCanvas-T2I-1024-Premium", Some("us-east-1"), Some("NovaCanvas"), Other, OnDemand, InRegion, NoTtl), // 60
        ("USE1-TitanEmbeddingsG1-Image-input-image", Some("us-east-1"), Some("TitanEmbeddingsG1-Image"), Other, OnDemand, InRegion, NoTtl), // 61
        ("USE1-TitanEmbeddingsG1-Text-input-tokens", Some("us-east-1"), Some("TitanEmbeddingsG1-Text"), Input, OnDemand, InRegion, NoTtl), // 61
        ("USE1-TitanTextLite-input-tokens", Some("us-east-1"), Some("TitanTextLite"), Input, OnDemand, InRegion, NoTtl), // 61
        ("USW2-AmazonRerank-v1-searchunits", Some("us-west-2"), Some("AmazonRerank-v1"), Other, OnDemand, InRegion, NoTtl), // 62
        ("USW2-anthropic.claude-opus-5-mantle-input-tokens-global-standard", Some("us-west-2"), Some("claude-opus-5"), Input, OnDemand, Global, NoTtl), // 63
        ("USW2-anthropic.claude-opus-5-mantle-input-tokens-standard", Some("us-west-2"), Some("claude-opus-5"), Input, OnDemand, InRegion, NoTtl), // 63
        ("EU-Nova2.0Lite-input-tokens", Some("eu-west-1"), Some("Nova2.0Lite"), Input, OnDemand, InRegion, NoTtl), // 64
        ("EU-gpt-oss-120b-output-tokens-batch", Some("eu-west-1"), Some("gpt-oss-120b"), Output, Batch, InRegion, NoTtl), // 64
        ("USW2-Nova2.0Lite-input-tokens-priority-cross-region-global", Some("us-west-2"), Some("Nova2.0Lite"), Input, Priority, Global, NoTtl), // 65
        ("USE1-Nova2.0Lite-nova-grounding", Some("us-east-1"), Some("Nova2.0Lite"), Other, OnDemand, InRegion, NoTtl), // 65
        ("USE1-DataAutomation-Standard-ImagesProcessed", Some("us-east-1"), Some("DataAutomation"), Other, OnDemand, InRegion, NoTtl), // 66
        ("USE1-DataAutomation-Custom-PagesProcessed", Some("us-east-1"), Some("DataAutomation"), Other, OnDemand, InRegion, NoTtl), // 66
        ("USE1-google.gemma-3-4b-it-mantle-input-tokens-standard", Some("us-east-1"), Some("gemma-3-4b-it"), Input, OnDemand, InRegion, NoTtl), // 66
        // Other suffixes seen (§4.5)
        ("USE1-Claude4.6Sonnet-input-tokens-long-context-cross-region-global", Some("us-east-1"), Some("Claude4.6Sonnet"), Input, OnDemand, Global, NoTtl),
        ("USE1-Claude4.6Sonnet-input-tokens-cross-region-global-batch", Some("us-east-1"), Some("Claude4.6Sonnet"), Input, Batch, Global, NoTtl),
        // Shapes outside the grammar
        ("", None, None, Other, OnDemand, InRegion, NoTtl),
        ("Tax", None, Some("Tax"), Other, OnDemand, InRegion, NoTtl),
        ("APS4-NovaLite-input-tokens", Some("ap-southeast-3"), Some("NovaLite"), Input, OnDemand, InRegion, NoTtl),
    ];

    #[test]
    fn every_reference_usage_type() {
        for &(raw, region, model, direction, tier, scope, ttl) in TABLE {
            let got = parse(raw);
            assert_eq!(got.region, region, "region of {raw}");
            assert_eq!(got.model.as_deref(), model, "model of {raw}");
            assert_eq!(got.direction, direction, "direction of {raw}");
            assert_eq!(got.tier, tier, "tier of {raw}");
            assert_eq!(got.scope, scope, "scope of {raw}");
            assert_eq!(got.cache_ttl, ttl, "cache ttl of {raw}");
            assert_eq!(
                got.marketplace,
                raw.contains("MP:") || raw.starts_with("USE2_"),
                "marketplace of {raw}"
            );
        }
    }

    #[test]
    fn the_same_model_across_directions_tiers_and_scopes() {
        let a = parse("USE1-Claude4.6Sonnet-output-tokens-cross-region-global");
        let b = parse("USE1-Claude4.6Sonnet-input-tokens");
        assert_eq!(a.model, b.model);
        let c = parse("USE1-openai.gpt-oss-120b-mantle-input-tokens-standard");
        let d = parse("USE1-gpt-oss-120b-output-tokens-priority");
        assert_eq!(c.model, d.model);
    }
}
