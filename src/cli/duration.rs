//! Go duration syntax (`2s`, `500ms`, `1m30s`, `1.5h`) as etcdctl's flags and
//! ETCDCTL_* variables take it, parsed in integer nanoseconds so that no
//! input can overflow or panic, and bounded by [`MAX_DURATION`].
//!
//! No crate fitted: `humantime` has no fractions (`1.5s` is valid Go) and
//! takes non-Go units (`1day`); `go-parse-duration` 0.1 loops forever on a
//! fraction of more than 18 digits and is quadratic in its input.

use std::time::Duration;

use thiserror::Error;

/// Longest duration any flag takes: longer waits are a typo, not a plan.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Longest duration text read; a real one is a dozen characters.
pub const MAX_DURATION_CHARS: usize = 64;

/// Fraction digits that count; further ones are below a nanosecond (as Go).
const MAX_FRACTION_DIGITS: u32 = 18;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    /// Nothing given.
    #[error("empty duration (use e.g. 2s or 500ms)")]
    Empty,
    /// Longer than [`MAX_DURATION_CHARS`].
    #[error("duration text longer than {MAX_DURATION_CHARS} characters")]
    TooManyChars,
    /// A leading `-`.
    #[error("{0:?} is negative")]
    Negative(String),
    /// A part without digits, e.g. `s` or `.s`.
    #[error("{0:?} is not a duration like 2s or 500ms: no number")]
    NoNumber(String),
    /// A number without unit, e.g. `5`.
    #[error("{0:?} is not a duration like 2s or 500ms: missing unit (ns, us, ms, s, m, h)")]
    MissingUnit(String),
    /// A unit Go does not know, e.g. `5d`.
    #[error("{0:?} is not a duration like 2s or 500ms: unknown unit {1:?}")]
    UnknownUnit(String, String),
    /// More than [`MAX_DURATION`].
    #[error("{0:?} is longer than the most accepted, 24h")]
    TooLong(String),
}

/// Nanoseconds per Go unit.
fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// The leading decimal digits of `s` as (value capped at `cap + 1`, digits
/// counted, rest); the cap keeps the value from overflowing.
fn leading_digits(s: &str, cap: u128, max_digits: u32) -> (u128, u32, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (mut value, mut used) = (0u128, 0u32);
    for b in s[..end].bytes() {
        if used >= max_digits {
            break;
        }
        value = (value * 10 + u128::from(b - b'0')).min(cap + 1);
        used += 1;
    }
    (value, used, &s[end..])
}

/// Parses a Go duration of at most [`MAX_DURATION`], in time linear in its
/// (bounded) length.
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    if text.len() > MAX_DURATION_CHARS {
        return Err(DurationError::TooManyChars);
    }
    let owned = || text.to_string();
    let mut rest = match text.as_bytes().first() {
        None => return Err(DurationError::Empty),
        Some(b'-') => return Err(DurationError::Negative(owned())),
        Some(b'+') => &text[1..],
        Some(_) => text,
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(DurationError::NoNumber(owned()));
    }
    let max = MAX_DURATION.as_nanos();
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, whole_digits, after) = leading_digits(rest, max, u32::MAX);
        rest = after;
        let (mut frac, mut frac_digits) = (0, 0);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (f, n, after) = leading_digits(after_dot, u128::MAX - 1, MAX_FRACTION_DIGITS);
            (frac, frac_digits) = (f, n);
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
            if whole_digits == 0 && after_dot.len() == rest.len() {
                return Err(DurationError::NoNumber(owned()));
            }
        } else if whole_digits == 0 {
            return Err(DurationError::NoNumber(owned()));
        }
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(owned()));
        }
        let nanos = unit_nanos(unit)
            .ok_or_else(|| DurationError::UnknownUnit(owned(), unit.to_string()))?;
        // whole <= max + 1 (~8.6e13) and frac < 1e18: neither product nor the
        // sum can reach u128::MAX (~3.4e38).
        total += whole * nanos + frac * nanos / 10u128.pow(frac_digits);
        if total > max {
            return Err(DurationError::TooLong(owned()));
        }
    }
    let nanos = u64::try_from(total).map_err(|_| DurationError::TooLong(owned()))?;
    Ok(Duration::from_nanos(nanos))
}

/// [`parse_go_duration`] for clap's `value_parser`: clap prefixes the flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_go_duration(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_durations_parse() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("2s"), Duration::from_secs(2));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1.s"), Duration::from_secs(1));
        assert_eq!(ok("+3us"), Duration::from_micros(3));
        assert_eq!(ok("3µs"), Duration::from_micros(3));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("24h"), MAX_DURATION);
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(
            ok("0.1234567890123456789012345s"),
            Duration::from_nanos(123_456_789)
        );
    }

    #[test]
    fn bad_durations_are_errors_not_panics() {
        use DurationError::*;
        let err = |s: &str| parse_go_duration(s).unwrap_err();
        assert!(matches!(err("5"), MissingUnit(_)));
        assert!(matches!(err("5d"), UnknownUnit(_, u) if u == "d"));
        assert_eq!(err(""), Empty);
        assert!(matches!(err("s"), NoNumber(_)));
        assert!(matches!(err(".s"), NoNumber(_)));
        assert!(matches!(err("+"), NoNumber(_)));
        assert!(matches!(err("-1s"), Negative(_)));
        assert!(matches!(err("99999999999999999999h"), TooLong(_)));
        assert!(matches!(err("24h1ns"), TooLong(_)));
        assert!(matches!(
            err("9223372036854775807ns9223372036854775807ns"),
            TooLong(_)
        ));
        assert_eq!(err(&"1".repeat(65)), TooManyChars);
        assert!(err("99999999999999999999h").to_string().contains("24h"));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = parse_go_duration(&s);
        }

        #[test]
        fn go_shaped_input_is_bounded(s in "[+-]?([0-9]{0,25}(\\.[0-9]{0,25})?(ns|us|µs|ms|s|m|h|d)?){1,4}") {
            if let Ok(d) = parse_go_duration(&s) {
                prop_assert!(d <= MAX_DURATION);
            }
        }

        #[test]
        fn whole_seconds_round_trip(secs in 0u64..=86_400) {
            prop_assert_eq!(parse_go_duration(&format!("{secs}s")), Ok(Duration::from_secs(secs)));
        }
    }
}
