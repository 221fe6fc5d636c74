//! Which billing period a report covers, and the one it is compared with. Pure: "now" is given
//! (the configuration's `now`, else the clock, read by the caller).

use crate::budget::{period_of, previous_period};

/// The billing periods of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    /// `YYYY-MM` reported.
    pub period: String,
    /// The month before it (`previous_cost`, `change`).
    pub previous: String,
    /// Whether the period has ended as of "now" (a report of the current month is month to date).
    pub closed: bool,
}

/// `requested` (`--period`), else the last closed month: the month before the UTC month of
/// `now_ms`.
pub fn select(requested: Option<&str>, now_ms: i64) -> Periods {
    // `now` is the clock or a checked RFC 3339 time: always within chrono's calendar.
    let current = period_of(now_ms).unwrap_or_default();
    let period = match requested {
        Some(p) => p.to_string(),
        None => previous_period(&current),
    };
    Periods {
        previous: previous_period(&period),
        closed: period < current,
        period,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t: &str) -> i64 {
        crate::cur::time::parse_iso8601_ms(t).unwrap()
    }

    #[test]
    fn the_default_is_the_last_closed_month_of_now() {
        let p = select(None, ms("2026-11-03T06:00:00Z"));
        assert_eq!(
            p,
            Periods {
                period: "2026-10".into(),
                previous: "2026-09".into(),
                closed: true
            }
        );
        // Across the year, and at the first millisecond of a month.
        let p = select(None, ms("2027-01-01T00:00:00Z"));
        assert_eq!(
            (p.period.as_str(), p.previous.as_str()),
            ("2026-12", "2026-11")
        );
        let p = select(None, ms("2026-01-31T23:59:59Z"));
        assert_eq!(
            (p.period.as_str(), p.previous.as_str()),
            ("2025-12", "2025-11")
        );
    }

    #[test]
    fn a_requested_period_may_be_open() {
        let now = ms("2026-11-20T12:00:00Z");
        let p = select(Some("2026-11"), now);
        assert!(!p.closed);
        assert_eq!(p.previous, "2026-10");
        assert!(select(Some("2026-03"), now).closed);
        assert!(!select(Some("2027-01"), now).closed);
        assert_eq!(select(Some("2026-01"), now).previous, "2025-12");
    }
}
