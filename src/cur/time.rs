//! ISO-8601 timestamps as CSV exports write them (`2026-04-01T00:00:00.000Z`, `…T00:00:00Z`,
//! `2026-04-01 00:00:00`, with an optional `+HH:MM` offset). The exact text format is not
//! documented by AWS (reference §2.4), so this parser is lenient.

/// Milliseconds since the Unix epoch, or `None` when `s` is not such a timestamp.
pub fn parse_iso8601_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    let mut rest = &s[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    if !(rest.starts_with('T') || rest.starts_with(' ')) || rest.len() < 9 {
        return None;
    }
    let t = &rest[1..];
    let tb = t.as_bytes();
    if tb[2] != b':' || tb[5] != b':' {
        return None;
    }
    let field = |r: std::ops::Range<usize>| -> Option<i64> {
        let x = t.get(r)?;
        x.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| x.parse().ok())?
    };
    let (h, mi, se) = (field(0..2)?, field(3..5)?, field(6..8)?);
    ms += ((h * 60 + mi) * 60 + se) * 1000;
    rest = &t[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut f = 0i64;
        for (i, c) in frac[..digits].bytes().take(3).enumerate() {
            f += i64::from(c - b'0') * [100, 10, 1][i];
        }
        ms += f;
        rest = &frac[digits..];
    }
    match rest {
        "" | "Z" | "z" => Some(ms),
        off if (off.starts_with('+') || off.starts_with('-')) && off.len() == 6 => {
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let oh: i64 = off.get(1..3)?.parse().ok()?;
            let om: i64 = off.get(4..6)?.parse().ok()?;
            Some(ms - sign * (oh * 60 + om) * 60_000)
        }
        _ => None,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day number since 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// ISO-8601 text (`2026-04-01T00:00:00.000Z`) of milliseconds since the epoch.
pub fn format_iso8601_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
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
            assert_eq!(parse_iso8601_ms(&format_iso8601_ms(ms)), Some(ms));
        }
        assert_eq!(
            format_iso8601_ms(1_775_001_600_000),
            "2026-04-01T00:00:00.000Z"
        );
    }
}
