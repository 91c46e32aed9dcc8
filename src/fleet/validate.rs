//! The numbers of a host report that a run can write: latencies from 0 to
//! the histograms' ten minutes, rates from 0 to 10 Tbit/s. A report with
//! a negative, huge or non-finite one (an edited or corrupted file) is
//! left out of the merge with the field named, instead of skewing the
//! fleet medians or the matrix.

use crate::facts::Report;
use crate::measure::LatencySummary;

/// Largest latency a run records, microseconds (the histograms' range).
pub const MAX_LATENCY_US: f64 = 600.0 * 1e6;

/// Largest rate a run reports, Mbit/s.
pub const MAX_RATE_MBIT_S: f64 = 1e7;

/// The first value of `report` no run can write: `field = value`.
pub fn implausible(report: &Report) -> Option<String> {
    for (i, d) in report.disk.iter().enumerate() {
        let at = format!("disk[{i}]");
        let bad = latency(&format!("{at}.latency_us"), Some(&d.latency_us)).or_else(|| {
            latency(
                &format!("{at}.write_latency_us"),
                d.write_latency_us.as_ref(),
            )
        });
        if bad.is_some() {
            return bad;
        }
    }
    for (i, n) in report.net.iter().enumerate() {
        let at = format!("net[{i}]");
        let bad = latency(&format!("{at}.latency_us"), n.latency_us.as_ref())
            .or_else(|| latency(&format!("{at}.idle_latency_us"), n.idle_latency_us.as_ref()))
            .or_else(|| rate(&format!("{at}.upload_mbit_s"), n.upload_mbit_s))
            .or_else(|| rate(&format!("{at}.download_mbit_s"), n.download_mbit_s))
            .or_else(|| rate(&format!("{at}.throughput_mbit_s"), n.throughput_mbit_s));
        if bad.is_some() {
            return bad;
        }
    }
    None
}

fn out_of(field: &str, v: f64, max: f64) -> Option<String> {
    (!(0.0..=max).contains(&v)).then(|| format!("{field} = {v:e}: not 0 to {max:e}"))
}

fn latency(field: &str, l: Option<&LatencySummary>) -> Option<String> {
    let l = l?;
    [
        ("mean", l.mean),
        ("min", l.min),
        ("p50", l.p50),
        ("p90", l.p90),
        ("p99", l.p99),
        ("p999", l.p999),
        ("max", l.max),
    ]
    .into_iter()
    .find_map(|(name, v)| out_of(&format!("{field}.{name}"), v, MAX_LATENCY_US))
}

fn rate(field: &str, v: Option<f64>) -> Option<String> {
    out_of(field, v?, MAX_RATE_MBIT_S)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostFacts;
    use crate::probe::net::{NetProbeKind, NetResult, Schedule};
    use proptest::prelude::*;

    fn with(p99_us: f64, upload: Option<f64>) -> Report {
        let mut r = Report::new("qualify", HostFacts::default());
        let mut rtt = NetResult::new(NetProbeKind::Rtt, "10.0.0.2:7480", Schedule::Concurrent);
        rtt.latency_us = Some(LatencySummary {
            p99: p99_us,
            ..LatencySummary::default()
        });
        rtt.upload_mbit_s = upload;
        r.net.push(rtt);
        r
    }

    #[test]
    fn the_first_implausible_field_is_named() {
        assert_eq!(implausible(&with(300.0, Some(900.0))), None);
        for (r, field) in [
            (with(-1.0, None), "net[0].latency_us.p99"),
            (with(1e305, None), "net[0].latency_us.p99"),
            (with(f64::NAN, None), "net[0].latency_us.p99"),
            (with(f64::INFINITY, None), "net[0].latency_us.p99"),
            (with(300.0, Some(-5.0)), "net[0].upload_mbit_s"),
            (with(300.0, Some(1e9)), "net[0].upload_mbit_s"),
        ] {
            let why = implausible(&r).unwrap();
            assert!(why.starts_with(&format!("{field} = ")), "{why}");
        }
    }

    proptest! {
        /// A value is refused exactly when it is outside 0..=max.
        #[test]
        fn refused_exactly_outside_the_range(v in any::<f64>()) {
            let bad = implausible(&with(v, None)).is_some();
            prop_assert_eq!(bad, !(0.0..=MAX_LATENCY_US).contains(&v));
        }
    }
}
