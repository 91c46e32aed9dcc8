//! Time units as values: a latency read from a summary (microseconds), a
//! histogram bucket (nanoseconds) or a profile threshold (milliseconds)
//! says its unit by its type, and the conversions between them live here
//! once instead of as `/ 1000.0` at every use. A leaf module: it imports
//! nothing of the crate.
//!
//! The reports keep their numbers as they are (`latency_us` in
//! microseconds, `*_ms` in milliseconds): these types are for reading and
//! converting them, not a change of the JSON.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Each unit here is a thousand of the next smaller one.
const PER_UNIT: f64 = 1_000.0;

/// A duration in nanoseconds (hdrhistogram's unit).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Nanos(pub f64);

/// A duration in microseconds (the unit of every latency summary).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Micros(pub f64);

/// A duration in milliseconds (the unit of findings and profiles).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Millis(pub f64);

impl Nanos {
    /// In microseconds.
    pub fn as_us(self) -> f64 {
        self.0 / PER_UNIT
    }

    /// In milliseconds.
    pub fn as_ms(self) -> f64 {
        self.0 / (PER_UNIT * PER_UNIT)
    }
}

impl Micros {
    /// In milliseconds.
    pub fn as_ms(self) -> f64 {
        self.0 / PER_UNIT
    }

    /// In seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 / (PER_UNIT * PER_UNIT)
    }
}

impl Millis {
    /// In microseconds.
    pub fn as_us(self) -> f64 {
        self.0 * PER_UNIT
    }

    /// In seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 / PER_UNIT
    }

    /// As a [`Duration`]: negative or NaN is zero, too large for one is
    /// [`Duration::MAX`].
    pub fn as_duration(self) -> Duration {
        let secs = self.as_secs_f64();
        if secs.is_nan() || secs <= 0.0 {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

impl From<Duration> for Millis {
    fn from(d: Duration) -> Millis {
        Millis(d.as_secs_f64() * PER_UNIT)
    }
}

impl From<Micros> for Millis {
    fn from(us: Micros) -> Millis {
        Millis(us.as_ms())
    }
}

/// The wall clock as Unix seconds, with the fraction (0 before 1970).
pub fn now_unix_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_by_thousands() {
        assert_eq!(Nanos(2_500.0).as_us(), 2.5);
        assert_eq!(Nanos(2_500_000.0).as_ms(), 2.5);
        assert_eq!(Micros(2_500.0).as_ms(), 2.5);
        assert_eq!(Millis::from(Micros(1_500.0)), Millis(1.5));
        assert_eq!(Millis(250.0).as_secs_f64(), 0.25);
        assert_eq!(Millis(250.0).as_duration(), Duration::from_millis(250));
        assert_eq!(Millis::from(Duration::from_micros(2_500)), Millis(2.5));
        assert_eq!(Millis(2.5).as_us(), 2_500.0);
        assert_eq!(Micros(2_500_000.0).as_secs_f64(), 2.5);
    }

    #[test]
    fn durations_saturate_instead_of_panicking() {
        assert_eq!(Millis(-1.0).as_duration(), Duration::ZERO);
        assert_eq!(Millis(f64::NAN).as_duration(), Duration::ZERO);
        assert_eq!(Millis(f64::INFINITY).as_duration(), Duration::MAX);
        assert_eq!(Millis(1e300).as_duration(), Duration::MAX);
        assert!(now_unix_s() > 1.7e9);
    }
}
