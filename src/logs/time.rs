//! Timestamps and durations as etcd's logs write them, parsed by hand in
//! bounded, linear time: RFC 3339 / ISO 8601 (zap, CRI, docker, `--since`),
//! capnslog's `2006-01-02 15:04:05.000000` (local time, read as UTC) and
//! Go's `time.Duration` strings (`1.5s`, `2m3.1s`, `850.3µs`).

use std::cell::Cell;

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMs = i64;

/// Parses `2024-03-01T12:00:00.123Z`, `...+02:00`, `...+0200`, or
/// `2024-03-01 12:00:00.123456` (no zone: UTC). Returns the time and the
/// bytes consumed, so callers can check what follows.
pub fn parse_timestamp(s: &str) -> Option<(UnixMs, usize)> {
    let b = s.as_bytes();
    let minute_secs = minute_of(b)?;
    let second = digits(b, 17, 2)?;
    if b.get(16) != Some(&b':') || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                millis = millis * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let h = digits(b, at + 1, 2)?;
            let (m, len) = if b.get(at + 3) == Some(&b':') {
                (digits(b, at + 4, 2)?, 6)
            } else {
                (digits(b, at + 3, 2)?, 5)
            };
            if h > 23 || m > 59 {
                return None;
            }
            at += len;
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => 0,
    };
    let secs = minute_secs + second - offset_min * 60;
    Some((secs * 1000 + millis, at))
}

thread_local! {
    /// The last date and minute read on this thread (the first 16 bytes,
    /// `2024-03-01T12:00`) and its seconds since the epoch. Log lines come
    /// in time order, so most repeat it: the date's checks and arithmetic
    /// were about 6 % of a decoded line's cost (callgrind).
    static LAST_MINUTE: Cell<([u8; 16], i64)> = const { Cell::new(([0; 16], 0)) };
}

/// The seconds since the epoch of the date and minute `b` starts with
/// (`2024-03-01T12:00` or `2024-03-01 12:00`, UTC), checked.
fn minute_of(b: &[u8]) -> Option<i64> {
    let key: [u8; 16] = b.get(..16)?.try_into().ok()?;
    let (last, secs) = LAST_MINUTE.get();
    if last == key {
        // Only a checked minute is kept, and zeros are never one.
        return Some(secs);
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') || b[13] != b':' {
        return None;
    }
    let (hour, minute) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60;
    LAST_MINUTE.set((key, secs));
    Some(secs)
}

/// The number written by the `len` ASCII digits at `from` in `b`.
fn digits(b: &[u8], from: usize, len: usize) -> Option<i64> {
    let digits = b.get(from..from + len)?;
    digits.iter().try_fold(0i64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

/// The current time.
pub fn now_ms() -> UnixMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days in `month` (1-12) of `year`, proleptic Gregorian.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats a time as `2024-03-01T12:00:00.123Z`.
pub fn format_timestamp(ms: UnixMs) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Inverse of days_from_civil (Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Parses a Go `time.Duration` string at the start of `s` (`1.2s`,
/// `2m3.5s`, `850µs`, `120.5ms`) into milliseconds. At most 8 number-unit
/// pairs are read; anything after the last unit is ignored.
pub fn parse_go_duration_ms(s: &str) -> Option<f64> {
    parse_go_duration_prefix(s).map(|(ms, _)| ms)
}

/// As [`parse_go_duration_ms`], also returning the bytes consumed.
pub fn parse_go_duration_prefix(s: &str) -> Option<(f64, usize)> {
    let mut rest = s;
    let mut total = 0.0;
    let mut pairs = 0;
    while pairs < 8 {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 || digits > 24 {
            break;
        }
        let value: f64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        let (scale, len) = [
            ("ns", 1e-6),
            ("us", 1e-3),
            ("µs", 1e-3),
            ("ms", 1.0),
            ("s", 1e3),
            ("m", 60e3),
            ("h", 3600e3),
        ]
        .iter()
        .find(|(unit, _)| tail.starts_with(unit) && !(*unit == "m" && tail.starts_with("ms")))
        .map(|(unit, scale)| (*scale, unit.len()))?;
        total += value * scale;
        rest = &tail[len..];
        pairs += 1;
    }
    (pairs > 0 && total.is_finite()).then_some((total, s.len() - rest.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Dates no calendar has and offsets no zone has are no timestamps.
    #[test]
    fn impossible_dates_and_offsets_are_refused() {
        for bad in [
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-11-31T12:00:00Z",
            "2024-03-01T12:00:00+99:99",
            "2024-03-01T12:00:00-24:00",
            "2024-03-01T12:00:00+0160",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        for good in [
            "2024-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "2024-12-31T23:59:59+14:00",
            "2024-03-01T12:00:00-23:59",
        ] {
            assert!(parse_timestamp(good).is_some(), "{good}");
        }
    }

    #[test]
    fn timestamps_of_every_format() {
        let utc = parse_timestamp("2024-03-01T12:00:00.123Z").unwrap();
        assert_eq!(utc, (1_709_294_400_123, 24));
        assert_eq!(format_timestamp(utc.0), "2024-03-01T12:00:00.123Z");
        assert_eq!(
            parse_timestamp("2024-03-01T14:00:00.123456789+02:00")
                .unwrap()
                .0,
            utc.0
        );
        assert_eq!(
            parse_timestamp("2024-03-01T14:00:00.123+0200").unwrap().0,
            utc.0
        );
        let (capn, len) = parse_timestamp("2024-03-01 12:00:00.123456 W | wal").unwrap();
        assert_eq!((capn, len), (utc.0, 26));
        assert_eq!(parse_timestamp("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-03-01"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_ms("1.5s"), Some(1500.0));
        assert_eq!(parse_go_duration_ms("2m3.5s, expected"), Some(123_500.0));
        assert_eq!(parse_go_duration_ms("850µs"), Some(0.85));
        assert_eq!(parse_go_duration_ms("120.5ms)"), Some(120.5));
        assert_eq!(parse_go_duration_ms("1h"), Some(3_600_000.0));
        assert_eq!(parse_go_duration_ms("s"), None);
        assert_eq!(parse_go_duration_ms("12x"), None);
    }

    proptest! {
        #[test]
        fn timestamp_parser_never_panics(s in "\\PC{0,64}") {
            let _ = parse_timestamp(&s);
        }

        #[test]
        fn the_minute_cache_never_changes_an_answer(
            stamps in proptest::collection::vec(
                ("20(2[3-5]|00)-0[1-3]-(0[1-9]|[23][0-9])[T ]([01][0-9]|2[0-5]):[0-6][0-9]:[0-6][0-9]",
                 "(\\.[0-9]{0,7})?(Z|[+-][0-9]{2}:?[0-9]{2})?")
                    .prop_map(|(a, b)| a + &b),
                1..20),
        ) {
            // A fresh thread starts with an empty cache: the reference.
            let fresh: Vec<_> = stamps
                .iter()
                .map(|t| {
                    let t = t.clone();
                    std::thread::spawn(move || parse_timestamp(&t)).join().unwrap()
                })
                .collect();
            for _ in 0..2 {
                for (t, want) in stamps.iter().zip(&fresh) {
                    prop_assert_eq!(&parse_timestamp(t), want, "{}", t);
                }
            }
        }

        #[test]
        fn timestamps_round_trip(ms in 0i64..8_000_000_000_000) {
            let text = format_timestamp(ms);
            prop_assert_eq!(parse_timestamp(&text), Some((ms, text.len())));
        }

        #[test]
        fn duration_parser_never_panics(s in "[0-9.µsmhnu ]{0,40}") {
            let _ = parse_go_duration_ms(&s);
        }
    }
}
