//! One canonical, readable model name whichever way a model is billed. Pure.
//!
//! The same model appears as `Claude4.6Sonnet` (first-party usage type), `Claude Sonnet 4.6`
//! (Marketplace product name without " (Amazon Bedrock Edition)") and `anthropic.claude-sonnet-4-6`
//! style mantle names; `sum by (model)` must see one row. Claude and Nova names are spelled the way
//! their vendors do (`Claude Sonnet 4.6`, `Claude 3 Haiku`, `Nova 2 Lite`); any other name is kept
//! as the string says it. Users map names further with `models.rename`.

use std::collections::BTreeMap;

/// Claude model families (Anthropic).
const CLAUDE_FAMILIES: &[&str] = &["sonnet", "opus", "haiku", "instant"];
/// Nova model families (Amazon).
const NOVA_FAMILIES: &[&str] = &[
    "micro", "lite", "pro", "premier", "canvas", "reel", "sonic", "omni",
];

/// The canonical name of a model as a usage type or product name spells it.
///
/// - Claude: `Claude4.6Sonnet`, `Claude Sonnet 4.6`, `claude-sonnet-4-6`, `claude-sonnet-4.6` →
///   `Claude Sonnet 4.6`; before version 4 Anthropic put the version first: `Claude3Haiku`,
///   `Claude 3 Haiku` → `Claude 3 Haiku`, `Claude3.5Sonnet` → `Claude 3.5 Sonnet`.
/// - Nova: `NovaLite`, `Nova Lite`, `Amazon Nova Lite` → `Nova Lite`; `Nova2.0Lite`, `Nova 2 Lite`
///   → `Nova 2 Lite` (a `.0` minor version is dropped, as the vendors name them).
/// - Anything else: unchanged (trimmed).
pub fn canonical(name: &str) -> String {
    let name = name.trim();
    let words = words(name);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let w = match w.as_slice() {
        ["amazon" | "anthropic", rest @ ..] => rest,
        all => all,
    };
    match w {
        ["claude", rest @ ..] => claude(rest).unwrap_or_else(|| name.to_string()),
        ["nova", rest @ ..] => nova(rest).unwrap_or_else(|| name.to_string()),
        _ => name.to_string(),
    }
}

/// Applies a user's `models.rename` map: the canonical name, or the name as billed, as key.
pub fn renamed(canonical_name: String, raw: &str, rename: &BTreeMap<String, String>) -> String {
    rename
        .get(&canonical_name)
        .or_else(|| rename.get(raw))
        .cloned()
        .unwrap_or(canonical_name)
}

fn claude(rest: &[&str]) -> Option<String> {
    let (family, version) = family_and_version(rest, CLAUDE_FAMILIES)?;
    let version = version?;
    let major: u32 = version.split('.').next()?.parse().ok()?;
    Some(if major >= 4 {
        format!("Claude {} {version}", title(family))
    } else {
        format!("Claude {version} {}", title(family))
    })
}

fn nova(rest: &[&str]) -> Option<String> {
    let (family, version) = family_and_version(rest, NOVA_FAMILIES)?;
    Some(match version {
        Some(v) => format!("Nova {v} {}", title(family)),
        None => format!("Nova {}", title(family)),
    })
}

/// One family word and at most one version (numbers joined by dots, `.0` minor dropped), in any
/// order; `None` when anything else is there.
fn family_and_version<'a>(
    rest: &[&'a str],
    families: &[&str],
) -> Option<(&'a str, Option<String>)> {
    let mut family = None;
    let mut numbers: Vec<&str> = Vec::new();
    for &w in rest {
        if families.contains(&w) && family.is_none() {
            family = Some(w);
        } else if w.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !w.is_empty() {
            numbers.extend(w.split('.').filter(|p| !p.is_empty()));
        } else {
            return None;
        }
    }
    let family = family?;
    if numbers.len() > 2 {
        return None;
    }
    let version = match numbers.as_slice() {
        [] => None,
        [major] => Some(major.to_string()),
        [major, "0"] => Some(major.to_string()),
        [major, minor] => Some(format!("{major}.{minor}")),
        _ => unreachable!(),
    };
    Some((family, version))
}

/// Lower-case words and numbers of a name: `Claude4.6Sonnet` → `claude`, `4.6`, `sonnet`;
/// `NovaLite` → `nova`, `lite`;
/// `claude-sonnet-4-6` → `claude`, `sonnet`, `4`, `6`.
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    let mut prev_lower = false;
    for c in name.chars() {
        let digit = c.is_ascii_digit() || (c == '.' && cur_digit);
        if c.is_alphanumeric() || digit {
            // A boundary between letters and digits, or a camel-case hump (`NovaLite`).
            let hump = c.is_uppercase() && prev_lower;
            if !cur.is_empty() && (digit != cur_digit || hump) {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_lowercase();
            cur_digit = digit;
            cur.extend(c.to_lowercase());
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    // `claude-sonnet-4-6`: two bare numbers after a family are major and minor.
    let mut merged: Vec<String> = Vec::new();
    for w in out {
        let w = w.trim_end_matches('.').to_string();
        match merged.last_mut() {
            Some(prev)
                if !w.is_empty()
                    && w.bytes().all(|b| b.is_ascii_digit())
                    && prev.bytes().all(|b| b.is_ascii_digit()) =>
            {
                prev.push('.');
                prev.push_str(&w);
            }
            _ => merged.push(w),
        }
    }
    merged
}

fn title(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form of a model name we know of, with its canonical name.
    #[rustfmt::skip]
    const TABLE: &[(&str, &str)] = &[
        // Claude: first-party usage types (Bedrock User Guide "Understanding CUR data") and
        // Marketplace product names ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", AWS Price List)
        ("Claude4.6Sonnet", "Claude Sonnet 4.6"),
        ("Claude Sonnet 4.6", "Claude Sonnet 4.6"),
        ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
        ("Claude4.6Opus", "Claude Opus 4.6"),
        ("Claude Opus 4.6", "Claude Opus 4.6"),
        ("Claude Opus 4.7", "Claude Opus 4.7"),
        ("Claude4.5Sonnet", "Claude Sonnet 4.5"),
        ("Claude Sonnet 4.5", "Claude Sonnet 4.5"),
        ("Claude4.5Haiku", "Claude Haiku 4.5"),
        ("Claude Haiku 4.5", "Claude Haiku 4.5"),
        ("Claude3Haiku", "Claude 3 Haiku"),
        ("Claude 3 Haiku", "Claude 3 Haiku"),
        ("Claude 3.5 Sonnet", "Claude 3.5 Sonnet"),
        ("Claude3.5Sonnet", "Claude 3.5 Sonnet"),
        ("Claude4Sonnet", "Claude Sonnet 4"),
        ("Claude4.0Sonnet", "Claude Sonnet 4"),
        ("Claude Sonnet 4", "Claude Sonnet 4"),
        ("claude-opus-5", "Claude Opus 5"),
        ("Anthropic Claude Opus 5", "Claude Opus 5"),
        // Nova
        ("NovaLite", "Nova Lite"),
        ("Nova-Lite", "Nova Lite"),
        ("Nova Lite", "Nova Lite"),
        ("Amazon Nova Lite", "Nova Lite"),
        ("NovaPro", "Nova Pro"),
        ("Nova Pro", "Nova Pro"),
        ("NovaMicro", "Nova Micro"),
        ("Nova2.0Lite", "Nova 2 Lite"),
        ("Nova 2 Lite", "Nova 2 Lite"),
        ("Nova2.0Pro", "Nova 2 Pro"),
        ("NovaCanvas", "Nova Canvas"),
        ("NovaSonic", "Nova Sonic"),
        ("Nova2.0Omni", "Nova 2 Omni"),
        // Kept as the string says
        ("gpt-oss-120b", "gpt-oss-120b"),
        ("gpt-5.6-luna", "gpt-5.6-luna"),
        ("gemma-3-4b-it", "gemma-3-4b-it"),
        ("TitanEmbeddingV2-Text", "TitanEmbeddingV2-Text"),
        ("rerank-english-v3", "rerank-english-v3"),
        ("AmazonRerank-v1", "AmazonRerank-v1"),
        ("Llama 3", "Llama 3"),
        ("Guardrail", "Guardrail"),
        ("Claude Next Generation", "Claude Next Generation"),
        ("NovaPro-Custom", "NovaPro-Custom"),
        ("unknown", "unknown"),
    ];

    #[test]
    fn every_known_form() {
        for &(raw, want) in TABLE {
            assert_eq!(canonical(raw), want, "canonical name of {raw:?}");
        }
    }

    #[test]
    fn one_name_for_both_billing_forms() {
        let pairs = [
            ("Claude4.6Sonnet", "Claude Sonnet 4.6"),
            ("Claude3Haiku", "Claude 3 Haiku"),
            ("NovaPro", "Nova Pro"),
        ];
        for (usage_type_form, product_form) in pairs {
            assert_eq!(canonical(usage_type_form), canonical(product_form));
        }
    }

    #[test]
    fn rename_by_canonical_or_raw_name() {
        let rename: BTreeMap<String, String> = [
            ("Claude Sonnet 4.6".to_string(), "sonnet-4.6".to_string()),
            ("gpt-oss-120b".to_string(), "GPT OSS 120B".to_string()),
        ]
        .into();
        assert_eq!(
            renamed(canonical("Claude4.6Sonnet"), "Claude4.6Sonnet", &rename),
            "sonnet-4.6"
        );
        assert_eq!(
            renamed(canonical("gpt-oss-120b"), "gpt-oss-120b", &rename),
            "GPT OSS 120B"
        );
        assert_eq!(
            renamed(canonical("NovaPro"), "NovaPro", &rename),
            "Nova Pro"
        );
    }
}
