//! CUR 2.0 `tags` map keys → Prometheus label names. Pure; no I/O.
//!
//! The `tags` column unifies every tag source with a source prefix: `iamPrincipal/<key>` (Bedrock
//! principal and session tags, after activation), `resourceTags/`, `accountTag/`, `costCategory/`,
//! `userAttribute/` [CUR2-TAGS, BILL-IAM]. Keys keep their original case and hyphens
//! (`iamPrincipal/cost-center`), so label names are derived in snake case.

use std::collections::{BTreeMap, BTreeSet};

/// The source whose tags become labels by default.
pub const IAM_PRINCIPAL_SOURCE: &str = "iamPrincipal";

/// Which tag keys become labels, and under which names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRules {
    /// Tag sources (`iamPrincipal`, `costCategory`, …) whose keys become labels.
    pub sources: BTreeSet<String>,
    /// When non-empty, only these full keys (`iamPrincipal/team`) become labels.
    pub allow: BTreeSet<String>,
    /// Full key → label name, overriding the derived name.
    pub rename: BTreeMap<String, String>,
}

impl Default for TagRules {
    fn default() -> Self {
        TagRules {
            sources: crate::defaults::TAG_SOURCES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            allow: BTreeSet::new(),
            rename: BTreeMap::new(),
        }
    }
}

impl TagRules {
    /// The label name for a `tags` key, or `None` when the key is not exported.
    ///
    /// `iamPrincipal/cost-center` → `tag_cost_center`; other sources keep their source in the name:
    /// `costCategory/department` → `tag_cost_category_department`.
    pub fn label_for(&self, key: &str) -> Option<String> {
        let (source, name) = key.split_once('/')?;
        if !self.sources.contains(source) {
            return None;
        }
        if !self.allow.is_empty() && !self.allow.contains(key) {
            return None;
        }
        if let Some(label) = self.rename.get(key) {
            return Some(label.clone());
        }
        let name = snake_case(name);
        if name.is_empty() {
            return None;
        }
        if source == IAM_PRINCIPAL_SOURCE {
            Some(format!("tag_{name}"))
        } else {
            Some(format!("tag_{}_{name}", snake_case(source)))
        }
    }
}

/// `cost-center` → `cost_center`, `Team Lead` → `team_lead`, `CostCenter` → `cost_center`.
/// Characters outside `[A-Za-z0-9]` become `_`; runs of `_` collapse; leading/trailing `_` go.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev_lower_or_digit = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower_or_digit && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            prev_lower_or_digit = false;
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Whether `name` is a valid Prometheus label name that does not start with `__`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_table() {
        for (raw, want) in [
            ("cost-center", "cost_center"),
            ("Team Lead", "team_lead"),
            ("team", "team"),
            ("CostCenter", "cost_center"),
            ("costCategory", "cost_category"),
            ("project", "project"),
            ("tenant", "tenant"),
            ("a--b__c", "a_b_c"),
            ("-x-", "x"),
            ("Team:Lead/2", "team_lead_2"),
            ("v2Name", "v2_name"),
            ("日本", ""),
        ] {
            assert_eq!(snake_case(raw), want, "{raw}");
        }
    }

    #[test]
    fn default_rules_take_iam_principal_tags_only() {
        let rules = TagRules::default();
        assert_eq!(
            rules.label_for("iamPrincipal/cost-center").as_deref(),
            Some("tag_cost_center")
        );
        assert_eq!(
            rules.label_for("iamPrincipal/Team Lead").as_deref(),
            Some("tag_team_lead")
        );
        assert_eq!(
            rules.label_for("iamPrincipal/team").as_deref(),
            Some("tag_team")
        );
        assert_eq!(rules.label_for("resourceTags/team"), None);
        assert_eq!(rules.label_for("costCategory/department"), None);
        assert_eq!(rules.label_for("no-slash"), None);
    }

    #[test]
    fn allowlist_rename_and_other_sources() {
        let rules = TagRules {
            sources: BTreeSet::from(["iamPrincipal".into(), "costCategory".into()]),
            allow: BTreeSet::from([
                "iamPrincipal/team".into(),
                "iamPrincipal/cost-center".into(),
                "costCategory/department".into(),
            ]),
            rename: BTreeMap::from([("iamPrincipal/cost-center".into(), "cc".into())]),
        };
        assert_eq!(
            rules.label_for("iamPrincipal/team").as_deref(),
            Some("tag_team")
        );
        assert_eq!(
            rules.label_for("iamPrincipal/cost-center").as_deref(),
            Some("cc")
        );
        assert_eq!(rules.label_for("iamPrincipal/project"), None);
        assert_eq!(
            rules.label_for("costCategory/department").as_deref(),
            Some("tag_cost_category_department")
        );
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("tag_team"));
        assert!(is_label_name("cc"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name("a-b"));
        assert!(!is_label_name(""));
    }
}
