//! Time as the Admin API writes it: RFC 3339 in UTC with milliseconds
//! (`2026-11-24T10:00:00.123Z`), for `lastUpdateTime`, `lastPollTime`, the
//! `updatedSince` filters and the date a saved plan was made. Formatted
//! and parsed here, without a date crate: only these shapes are needed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch of a time (0 before the epoch).
pub fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time an RFC 3339 text names, when it reads and is after the epoch.
pub fn system_time(text: &str) -> Option<SystemTime> {
    let nanos = u64::try_from(parse_rfc3339(text)?).ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// The 24 bytes of `YYYY-MM-DDTHH:MM:SS.mmmZ`, built without allocating:
/// every row of every listing carries one.
pub fn rfc3339_millis(millis: u64) -> [u8; 24] {
    let (secs, ms) = (millis / 1000, millis % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u64);
    put(5, 2, month as u64);
    put(8, 2, day as u64);
    put(11, 2, hour);
    put(14, 2, minute);
    put(17, 2, second);
    put(20, 3, ms);
    out
}

/// [`rfc3339_millis`] as a `String`.
pub fn format_millis(millis: u64) -> String {
    let bytes = rfc3339_millis(millis);
    // Only ASCII digits and separators were written.
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses an RFC 3339 date-time (`2026-11-24T10:00:00Z`,
/// `2026-11-24T10:00:00.123456+01:00`) into nanoseconds since the epoch.
/// Fractional seconds are optional and may have any number of digits;
/// the offset is required, as RFC 3339 requires it.
pub fn parse_rfc3339(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let year = digits(0, 4)?;
    let month = digits(5, 2)?;
    let day = digits(8, 2)?;
    let hour = digits(11, 2)?;
    let minute = digits(14, 2)?;
    let second = digits(17, 2)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut nanos: i128 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let fraction = &b[start..at];
        if fraction.is_empty() {
            return None;
        }
        // Digits beyond nanoseconds cannot change a millisecond comparison.
        let mut scale: i128 = 100_000_000;
        for d in fraction.iter().take(9) {
            nanos += i128::from(d - b'0') * scale;
            scale /= 10;
        }
    }
    let offset_secs: i64 = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |x: u8, y: u8| -> Option<i64> {
                (x.is_ascii_digit() && y.is_ascii_digit())
                    .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
            };
            let (oh, om) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let offset = oh * 3600 + om * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days-to-civil, for days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_795_168_800_123), "2026-11-20T10:00:00.123Z");
        assert_eq!(format_millis(951_782_400_007), "2000-02-29T00:00:00.007Z");
    }

    #[test]
    fn parsing_takes_fractions_and_offsets_and_round_trips() {
        let ms = 1_795_168_800_123u64;
        assert_eq!(
            parse_rfc3339(&format_millis(ms)),
            Some(i128::from(ms) * 1_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-20T10:00:00Z"),
            Some(1_795_168_800 * 1_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-20T11:30:00.5+01:30"),
            Some(1_795_168_800 * 1_000_000_000 + 500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-20T10:00:00.123456789123Z"),
            Some(1_795_168_800 * 1_000_000_000 + 123_456_789)
        );
        for bad in [
            "",
            "2026-11-20",
            "2026-11-20T10:00:00",
            "2026-11-20 10:00:00Z",
            "2026-13-20T10:00:00Z",
            "2026-02-29T10:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T10:00:00.Z",
            "2026-11-20T10:00:00 01:00",
            "2026-11-20T10:00:00+0100",
            "yesterday at noon, roughly",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }
}
