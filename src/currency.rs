//! Currency codes as the bill writes them (`line_item_currency_code`). Each one names metric
//! families (`bedrock_cost_usd`, `bedrock_budget_spend_eur`) and goes into their HELP text, so a
//! code read from a bill is checked before it reaches either: three ASCII letters, and no two codes
//! of one billing period that name the same families (`USD` and `usd`). A bad code fails its
//! billing period as a decode error (the period keeps its last good data); a budget's `currency`
//! is checked with the configuration. Pure.

use std::collections::BTreeMap;

/// The metric-name suffix of a code: lower-case (`USD` → `usd`). Two codes with one suffix would
/// name one family twice: [`check_codes`] refuses them.
pub fn suffix(code: &str) -> String {
    code.to_ascii_lowercase()
}

/// A currency code is three ASCII letters (ISO 4217 form: `USD`, `EUR`, `JPY`).
pub fn check_code(code: &str) -> Result<(), String> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(())
    } else {
        Err(format!(
            "{code:?} is not a currency code (three letters, like \"USD\")"
        ))
    }
}

/// Checks every code of one billing period: each is a code ([`check_code`]), and no two share a
/// metric-name suffix. The error names the codes.
pub fn check_codes<'a>(codes: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut by_suffix: BTreeMap<String, &str> = BTreeMap::new();
    for code in codes {
        check_code(code)?;
        match by_suffix.insert(suffix(code), code) {
            Some(other) if other != code => {
                return Err(format!(
                    "currency codes {other:?} and {code:?} name the same metrics (bedrock_cost_{}); a bill writes one form",
                    suffix(code)
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for good in ["USD", "EUR", "jpy"] {
            assert!(check_code(good).is_ok(), "{good}");
        }
        for bad in ["", "US", "USDT", "US$", "U D", "ÜSD", "US\n", "U\"D"] {
            let e = check_code(bad).unwrap_err();
            assert!(e.contains("three letters"), "{bad:?}: {e}");
        }
        assert!(check_codes(["USD", "EUR", "USD"]).is_ok());
        let e = check_codes(["USD", "EUR", "usd"]).unwrap_err();
        assert!(e.contains("\"USD\"") && e.contains("\"usd\""), "{e}");
        assert!(check_codes(["USD", "X"]).is_err());
        assert_eq!(suffix("EUR"), "eur");
    }
}
