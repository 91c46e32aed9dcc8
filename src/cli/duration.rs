//! The one syntax of every time flag (docs/durations.md): Go duration syntax
//! (`2s`, `500ms`, `1m30s`, `1.5h`) as etcdctl's flags and ETCDCTL_*
//! variables take it, or a bare number of seconds (`10`, `1.5`), parsed in
//! integer nanoseconds so that no input can overflow or panic, and bounded
//! by [`MAX_DURATION`] (a look-back by [`MAX_LOOKBACK`]). The one exception
//! is `--heartbeat-interval`, whose bare number is milliseconds as in etcd's
//! own flag ([`parse_duration_ms`]).
//!
//! No crate fitted: `humantime` has no fractions (`1.5s` is valid Go) and
//! takes non-Go units (`1day`); `go-parse-duration` 0.1 loops forever on a
//! fraction of more than 18 digits and is quadratic in its input.

use std::time::Duration;

use thiserror::Error;

/// Longest duration any flag takes: longer waits are a typo, not a plan.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Longest look-back (`logs --since 2h`): a year of logs.
pub const MAX_LOOKBACK: Duration = Duration::from_secs(366 * 24 * 3600);

/// Longest duration text read; a real one is a dozen characters.
pub const MAX_DURATION_CHARS: usize = 64;

/// Fraction digits that count; further ones are below a nanosecond (as Go).
const MAX_FRACTION_DIGITS: u32 = 18;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    /// Nothing given.
    #[error("empty duration (use e.g. 2s, 500ms or 10 for seconds)")]
    Empty,
    /// Longer than [`MAX_DURATION_CHARS`].
    #[error("duration text longer than {MAX_DURATION_CHARS} characters")]
    TooManyChars,
    /// A leading `-`.
    #[error("{0:?} is negative")]
    Negative(String),
    /// A part without digits, e.g. `s` or `.s`.
    #[error("{0:?} is not a duration like 2s, 500ms or 10 (seconds): no number")]
    NoNumber(String),
    /// A number without unit after a part with one, e.g. `1m5`.
    #[error("{0:?} is not a duration like 2s or 500ms: missing unit (ns, us, ms, s, m, h)")]
    MissingUnit(String),
    /// A unit Go does not know, e.g. `5d`.
    #[error("{0:?} is not a duration like 2s, 500ms or 10 (seconds): unknown unit {1:?}")]
    UnknownUnit(String, String),
    /// More than the most accepted ([`MAX_DURATION`] for a flag).
    #[error("{0:?} is longer than the most accepted, {1}h")]
    TooLong(String, u64),
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

/// True for a bare number: digits with at most one `.` (and a leading `+`
/// as Go allows), e.g. `10`, `1.5`, `.5`.
fn is_bare_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
}

/// Parses a time flag of at most [`MAX_DURATION`]: a Go duration or a bare
/// number of seconds, in time linear in its (bounded) length.
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    parse_within(text, "s", MAX_DURATION)
}

/// Parses a look-back (`--since 2h`, `--since 7200`) of at most
/// [`MAX_LOOKBACK`]: a Go duration or a bare number of seconds.
pub fn parse_lookback(text: &str) -> Result<Duration, DurationError> {
    parse_within(text, "s", MAX_LOOKBACK)
}

/// Parses a Go duration, or a bare number in `bare_unit`, of at most `max`.
fn parse_within(text: &str, bare_unit: &str, max: Duration) -> Result<Duration, DurationError> {
    if text.len() > MAX_DURATION_CHARS {
        return Err(DurationError::TooManyChars);
    }
    if text != "0" && is_bare_number(text) {
        return parse_go(text, &format!("{text}{bare_unit}"), max);
    }
    parse_go(text, text, max)
}

/// Parses `go` (Go syntax) as the duration the user wrote as `text`.
fn parse_go(text: &str, go: &str, max: Duration) -> Result<Duration, DurationError> {
    let owned = || text.to_string();
    let too_long = || DurationError::TooLong(owned(), max.as_secs() / 3600);
    let mut rest = match go.as_bytes().first() {
        None => return Err(DurationError::Empty),
        Some(b'-') => return Err(DurationError::Negative(owned())),
        Some(b'+') => &go[1..],
        Some(_) => go,
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(DurationError::NoNumber(owned()));
    }
    let max_nanos = max.as_nanos();
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, whole_digits, after) = leading_digits(rest, max_nanos, u32::MAX);
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
        // whole <= max + 1 (~3.2e16 ns for a year) and frac < 1e18: neither
        // product nor the sum can reach u128::MAX (~3.4e38).
        total += whole * nanos + frac * nanos / 10u128.pow(frac_digits);
        if total > max_nanos {
            return Err(too_long());
        }
    }
    let nanos = u64::try_from(total).map_err(|_| too_long())?;
    Ok(Duration::from_nanos(nanos))
}

/// [`parse_go_duration`] for clap's `value_parser`: clap prefixes the flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_go_duration(text).map_err(|e| e.to_string())
}

/// As [`parse_duration`], but a bare number is milliseconds: for
/// `--heartbeat-interval`, which operators copy from etcd's flag of that
/// name (`--heartbeat-interval=100`, in ms).
pub fn parse_duration_ms(text: &str) -> Result<Duration, String> {
    parse_within(text, "ms", MAX_DURATION).map_err(|e| e.to_string())
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
        assert!(matches!(err("1m5"), MissingUnit(_)));
        assert!(matches!(err("1.2.3"), MissingUnit(_)));
        assert!(matches!(err("."), NoNumber(_)));
        assert!(matches!(err("5d"), UnknownUnit(_, u) if u == "d"));
        assert_eq!(err(""), Empty);
        assert!(matches!(err("s"), NoNumber(_)));
        assert!(matches!(err(".s"), NoNumber(_)));
        assert!(matches!(err("+"), NoNumber(_)));
        assert!(matches!(err("-1s"), Negative(_)));
        assert!(matches!(err("99999999999999999999h"), TooLong(_, 24)));
        assert!(matches!(err("24h1ns"), TooLong(_, 24)));
        assert!(matches!(err("86401"), TooLong(_, 24)));
        assert!(matches!(err("-5"), Negative(_)));
        assert!(matches!(
            err("9223372036854775807ns9223372036854775807ns"),
            TooLong(_, 24)
        ));
        assert_eq!(err(&"1".repeat(65)), TooManyChars);
        assert!(err("99999999999999999999h").to_string().contains("24h"));
    }

    #[test]
    fn bare_numbers_are_seconds() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("5"), Duration::from_secs(5));
        assert_eq!(ok("1.5"), Duration::from_millis(1500));
        assert_eq!(ok(".5"), Duration::from_millis(500));
        assert_eq!(ok("+3"), Duration::from_secs(3));
        assert_eq!(ok("86400"), MAX_DURATION);
        assert_eq!(ok("00"), Duration::ZERO);
        assert_eq!(parse_duration_ms("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration_ms("0.01"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration_ms("1s"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn a_lookback_reaches_a_year() {
        assert_eq!(parse_lookback("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_lookback("7200"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_lookback("8784h"), Ok(MAX_LOOKBACK));
        let long = parse_lookback("8785h").unwrap_err();
        assert_eq!(long, DurationError::TooLong("8785h".into(), 8784));
        assert!(long.to_string().contains("8784h"), "{long}");
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
            prop_assert_eq!(parse_go_duration(&secs.to_string()), Ok(Duration::from_secs(secs)));
        }

        #[test]
        fn lookbacks_are_bounded(s in "[+-]?([0-9]{0,25}(\\.[0-9]{0,25})?(ns|us|ms|s|m|h)?){1,4}") {
            if let Ok(d) = parse_lookback(&s) {
                prop_assert!(d <= MAX_LOOKBACK);
            }
        }
    }
}
