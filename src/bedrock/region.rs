//! Usage-type billing prefixes (`USE1`, `EU`, `APS4`, …) → AWS region codes.
//!
//! Source: AWS "Region billing codes"
//! (<https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-region-billing-codes.html>);
//! the codes after `EU` come from public code that cites that page (the stored copy we read
//! was cut after `EU`). Quirks kept on purpose:
//! eu-west-1's code is `EU` (some third-party tables say `EUW1`, accepted too) and af-south-1 has a
//! legacy code `CPT`.

/// `(billing prefix, region code)`, one row per prefix.
const BILLING_CODES: &[(&str, &str)] = &[
    ("USE1", "us-east-1"),
    ("USE2", "us-east-2"),
    ("USW1", "us-west-1"),
    ("USW2", "us-west-2"),
    ("CAN1", "ca-central-1"),
    ("CAN2", "ca-west-1"),
    ("MXC1", "mx-central-1"),
    ("AFS1", "af-south-1"),
    ("CPT", "af-south-1"),
    ("APE1", "ap-east-1"),
    ("APE2", "ap-east-2"),
    ("APN1", "ap-northeast-1"),
    ("APN2", "ap-northeast-2"),
    ("APN3", "ap-northeast-3"),
    ("APS1", "ap-southeast-1"),
    ("APS2", "ap-southeast-2"),
    ("APS3", "ap-south-1"),
    ("APS4", "ap-southeast-3"),
    ("APS5", "ap-south-2"),
    ("APS6", "ap-southeast-4"),
    ("APS7", "ap-southeast-5"),
    ("APS8", "ap-southeast-6"),
    ("APS9", "ap-southeast-7"),
    ("EU", "eu-west-1"),
    ("EUW1", "eu-west-1"),
    ("EUC1", "eu-central-1"),
    ("EUC2", "eu-central-2"),
    ("EUN1", "eu-north-1"),
    ("EUS1", "eu-south-1"),
    ("EUS2", "eu-south-2"),
    ("EUW2", "eu-west-2"),
    ("EUW3", "eu-west-3"),
    ("MEC1", "me-central-1"),
    ("MES1", "me-south-1"),
    ("ILC1", "il-central-1"),
    ("SAE1", "sa-east-1"),
    ("UGW1", "us-gov-west-1"),
    ("UGE1", "us-gov-east-1"),
    ("CNN1", "cn-north-1"),
    ("CNW1", "cn-northwest-1"),
];

/// The region code for a billing prefix such as `USE1` or `EU`; `None` when the prefix is unknown.
pub fn region_for_prefix(prefix: &str) -> Option<&'static str> {
    BILLING_CODES
        .iter()
        .find(|(code, _)| *code == prefix)
        .map(|(_, region)| *region)
}

/// Whether `code` looks like an AWS region code (`us-east-1`, `ap-southeast-3`, `us-gov-west-1`).
pub fn is_region_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty())
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_codes_from_the_reference() {
        let table = [
            ("USE1", Some("us-east-1")),
            ("USW2", Some("us-west-2")),
            ("EU", Some("eu-west-1")),
            ("EUW1", Some("eu-west-1")),
            ("APS3", Some("ap-south-1")),
            ("APS4", Some("ap-southeast-3")),
            ("APS6", Some("ap-southeast-4")),
            ("APS7", Some("ap-southeast-5")),
            ("APE2", Some("ap-east-2")),
            ("CPT", Some("af-south-1")),
            ("UGW1", Some("us-gov-west-1")),
            ("CNW1", Some("cn-northwest-1")),
            ("XYZ9", None),
            ("use1", None),
            ("", None),
        ];
        for (prefix, want) in table {
            assert_eq!(region_for_prefix(prefix), want, "prefix {prefix}");
        }
    }

    #[test]
    fn every_region_is_a_region_code() {
        for (code, region) in BILLING_CODES {
            assert!(is_region_code(region), "{code} -> {region}");
        }
        assert!(!is_region_code("global"));
        assert!(!is_region_code(""));
    }
}
