//! ISO-8601 timestamps as CSV exports write them (`2026-04-01T00:00:00.000Z`, `…T00:00:00Z`,
//! `2026-04-01 00:00:00`, a bare date, with an optional `+HH:MM` offset). AWS does not document the
//! exact text format (Data Exports user guide, "Data export table dictionaries": the columns are
//! typed timestamp, the CSV text form is unspecified), so parsing is lenient; `chrono` does it.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Milliseconds since the Unix epoch, or `None` when `s` is not such a timestamp. Without an
/// offset the time is UTC.
pub fn parse_iso8601_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.fZ"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.timestamp_millis());
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| {
        d.and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_seen_in_exports() {
        let t = 1_775_001_600_000; // 2026-04-01T00:00:00Z
        for (s, want) in [
            ("2026-04-01T00:00:00.000Z", Some(t)),
            ("2026-04-01T00:00:00Z", Some(t)),
            ("2026-04-01 00:00:00", Some(t)),
            ("2026-04-01", Some(t)),
            ("2026-04-01T01:00:00+01:00", Some(t)),
            ("2026-04-01T00:00:01.5Z", Some(t + 1500)),
            ("2026-04-01T00:00:00.123456Z", Some(t + 123)),
            ("2026-13-01T00:00:00Z", None),
            ("yesterday", None),
            ("", None),
        ] {
            assert_eq!(parse_iso8601_ms(s), want, "{s}");
        }
    }

    #[test]
    fn round_trip() {
        for ms in [0, 1_775_001_600_000, 1_775_001_600_123, 951_782_400_000] {
            let text = DateTime::from_timestamp_millis(ms)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(parse_iso8601_ms(&text), Some(ms), "{text}");
        }
    }
}
