//! Latency measurement in layers: raw samples go into an HDR histogram
//! ([`LatencyHistogram`], nanoseconds, 3 significant figures); finished
//! histograms become serde summaries ([`LatencySummary`], microseconds) and
//! a portable encoded form ([`EncodedHistogram`]) so `compare` can test
//! whole distributions rather than single percentiles.
//!
//! Histograms are mergeable: per-thread or per-peer recorders are combined
//! with `+=`, as raft-engine does with its per-thread histograms.

use std::io::Read;
use std::ops::AddAssign;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::units::{Micros, Nanos};

/// Highest latency a histogram can hold: 10 minutes in nanoseconds. Larger
/// samples are clamped to it (and show up as `max`).
const HIGHEST_TRACKABLE_NS: u64 = 600 * 1_000_000_000;
/// Significant figures kept by every latency histogram.
const SIGNIFICANT_FIGURES: u8 = 3;
/// Most samples an encoded histogram may hold: an hour of a million
/// operations a second is 3.6e9; 2^40 is 300 times that.
pub const MAX_SAMPLES: u64 = 1 << 40;
/// Longest base64 text of an encoded histogram: a full one of ours
/// compresses to a few KiB.
pub const MAX_ENCODED_CHARS: usize = 1 << 20;
/// HdrHistogram V2 cookies (uncompressed, deflate-compressed).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// Bytes of the V2 header after the cookie: payload length, normalizing
/// offset, significant figures, lowest and highest value, conversion ratio.
const V2_HEADER_BYTES: usize = 4 + 4 + 4 + 8 + 8 + 8;

/// A latency histogram in nanoseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram covering 1 ns to 10 minutes at 3 significant figures.
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_NS, SIGNIFICANT_FIGURES)
            .expect("constant histogram bounds are valid");
        Self { hist }
    }

    /// Records one latency sample.
    #[inline]
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns.max(1));
    }

    /// Number of samples recorded.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// True when no sample has been recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// Latency at quantile `q` (0.0..=1.0) in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        ns_to_us(self.hist.value_at_quantile(q))
    }

    /// The underlying hdrhistogram, for callers that iterate buckets (plots,
    /// distribution tests).
    pub fn raw(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Summary in microseconds.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            samples: self.hist.len(),
            mean: round3(Nanos(self.hist.mean()).as_us()),
            min: ns_to_us(if self.hist.is_empty() {
                0
            } else {
                self.hist.min()
            }),
            p50: self.quantile_us(0.50),
            p90: self.quantile_us(0.90),
            p99: self.quantile_us(0.99),
            p999: self.quantile_us(0.999),
            max: ns_to_us(self.hist.max()),
        }
    }

    /// Encodes the histogram (HdrHistogram V2 + deflate, base64).
    pub fn encode(&self) -> EncodedHistogram {
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.hist, &mut buf)
            .expect("serializing to a Vec cannot fail");
        EncodedHistogram(base64::engine::general_purpose::STANDARD.encode(buf))
    }
}

impl AddAssign<&LatencyHistogram> for LatencyHistogram {
    fn add_assign(&mut self, rhs: &LatencyHistogram) {
        self.hist
            .add(&rhs.hist)
            .expect("histograms with identical bounds always merge");
    }
}

/// A latency histogram in its portable form: HdrHistogram's V2 compressed
/// serialization (values in nanoseconds), base64-encoded. Any HdrHistogram
/// implementation (Java, Go, Python) can decode it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct EncodedHistogram(pub String);

/// An encoded histogram no run of ours can have written; each names the
/// header field that is out of bounds. Checked before anything is
/// allocated from the field.
#[derive(Debug, Error, PartialEq)]
pub enum HistogramError {
    /// The base64 text is longer than [`MAX_ENCODED_CHARS`].
    #[error("latency histogram: {0} base64 characters, more than the {MAX_ENCODED_CHARS} any run writes")]
    TooLong(usize),
    /// Not HdrHistogram V2 or it ends early.
    #[error("latency histogram: {0}")]
    Malformed(&'static str),
    /// The payload length field is past what our counts array can take.
    #[error("latency histogram: payload length {0} bytes, more than the {1} any run writes")]
    PayloadLength(u32, usize),
    /// Significant figures, lowest or highest value unlike ours.
    #[error("latency histogram: {field} {value} is out of range (at most {max})")]
    Range {
        field: &'static str,
        value: u64,
        max: u64,
    },
    /// The counts run past the end of the counts array.
    #[error("latency histogram: counts array longer than the {0} buckets of a latency histogram")]
    CountsLength(usize),
    /// The counts add up to more than [`MAX_SAMPLES`].
    #[error("latency histogram: more than {MAX_SAMPLES} samples")]
    Samples,
}

/// Buckets in our histogram's counts array (the most a payload can fill).
fn max_buckets() -> usize {
    static BUCKETS: OnceLock<usize> = OnceLock::new();
    *BUCKETS.get_or_init(|| LatencyHistogram::new().hist.distinct_values())
}

/// Reads a big-endian integer of `N` bytes at `*at`, advancing it.
fn be<const N: usize>(bytes: &[u8], at: &mut usize) -> Result<[u8; N], HistogramError> {
    let chunk = bytes
        .get(*at..*at + N)
        .ok_or(HistogramError::Malformed("header ends early"))?;
    *at += N;
    Ok(chunk.try_into().expect("slice of length N"))
}

/// Checks a V2 header (after the cookie) and returns the payload length.
fn check_header(header: &[u8]) -> Result<usize, HistogramError> {
    let at = &mut 0;
    let payload_len = u32::from_be_bytes(be(header, at)?);
    let _offset = be::<4>(header, at)?;
    let digits = u32::from_be_bytes(be(header, at)?);
    let low = u64::from_be_bytes(be(header, at)?);
    let high = u64::from_be_bytes(be(header, at)?);
    let max_payload = max_buckets() * 9;
    if payload_len as usize > max_payload {
        return Err(HistogramError::PayloadLength(payload_len, max_payload));
    }
    let range = |field, value: u64, max: u64| {
        (value > max).then_some(HistogramError::Range { field, value, max })
    };
    let bad = range(
        "significant figures",
        digits.into(),
        SIGNIFICANT_FIGURES.into(),
    )
    .or_else(|| range("lowest value", low, 1_000))
    .or_else(|| range("highest value", high, HIGHEST_TRACKABLE_NS));
    bad.map_or(Ok(payload_len as usize), Err)
}

/// Walks the zig-zag varint counts of a payload: they must stay inside
/// the counts array and add up to at most [`MAX_SAMPLES`].
fn check_counts(payload: &[u8]) -> Result<(), HistogramError> {
    let (mut at, mut index, mut samples) = (0usize, 0u64, 0u64);
    let buckets = max_buckets() as u64;
    while at < payload.len() {
        let mut value = 0u64;
        for shift in 0..9 {
            let byte = *payload
                .get(at)
                .ok_or(HistogramError::Malformed("a count ends early"))?;
            at += 1;
            if shift == 8 {
                value |= u64::from(byte) << 56;
                break;
            }
            value |= u64::from(byte & 0x7f) << (7 * shift);
            if byte & 0x80 == 0 {
                break;
            }
        }
        let magnitude = value >> 1;
        if value & 1 == 1 {
            index = index.saturating_add(magnitude).saturating_add(1);
        } else {
            samples = samples.saturating_add(magnitude);
            index += 1;
        }
        if index > buckets {
            return Err(HistogramError::CountsLength(buckets as usize));
        }
        if samples > MAX_SAMPLES {
            return Err(HistogramError::Samples);
        }
    }
    Ok(())
}

impl EncodedHistogram {
    /// Checks every length and range the encoded header claims, and the
    /// counts, before anything is allocated from them.
    pub fn check(&self) -> Result<(), HistogramError> {
        if self.0.len() > MAX_ENCODED_CHARS {
            return Err(HistogramError::TooLong(self.0.len()));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .map_err(|_| HistogramError::Malformed("not valid base64"))?;
        let at = &mut 0;
        let cookie = u32::from_be_bytes(be(&bytes, at)?);
        let inner = match cookie {
            V2_COOKIE => bytes[4..].to_vec(),
            V2_COMPRESSED_COOKIE => inflate(&bytes[4..])?,
            _ => return Err(HistogramError::Malformed("not an HdrHistogram V2 encoding")),
        };
        let payload_len = check_header(&inner)?;
        let payload = inner
            .get(V2_HEADER_BYTES..V2_HEADER_BYTES + payload_len)
            .ok_or(HistogramError::Malformed("payload ends early"))?;
        check_counts(payload)
    }

    /// Decodes back into a histogram, after [`EncodedHistogram::check`].
    pub fn decode(&self) -> Result<LatencyHistogram> {
        self.check()?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .context("latency histogram is not valid base64")?;
        let decoded: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("latency histogram does not decode: {e:?}"))?;
        let mut hist = LatencyHistogram::new();
        hist.hist
            .add(&decoded)
            .map_err(|e| anyhow::anyhow!("latency histogram out of range: {e:?}"))?;
        Ok(hist)
    }
}

/// The V2 encoding inside a compressed one (compressed length, then zlib),
/// inflated to at most a full header and payload of ours.
fn inflate(compressed: &[u8]) -> Result<Vec<u8>, HistogramError> {
    let at = &mut 0;
    let len = u32::from_be_bytes(be(compressed, at)?) as usize;
    let body = compressed
        .get(4..4usize.saturating_add(len))
        .ok_or(HistogramError::Malformed("compressed length past the end"))?;
    let limit = 4 + V2_HEADER_BYTES + max_buckets() * 9;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(body)
        .take(limit as u64)
        .read_to_end(&mut out)
        .map_err(|_| HistogramError::Malformed("compressed payload does not inflate"))?;
    match out
        .get(..4)
        .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")))
    {
        Some(V2_COOKIE) => Ok(out.split_off(4)),
        _ => Err(HistogramError::Malformed(
            "compressed payload is not a V2 encoding",
        )),
    }
}

/// Reads one statistic of a [`LatencySummary`].
pub type SummaryField = fn(&LatencySummary) -> f64;

/// The percentiles every summary reports: name, quantile, field.
pub const PERCENTILES: [(&str, f64, SummaryField); 4] = [
    ("p50", 0.50, |l| l.p50),
    ("p90", 0.90, |l| l.p90),
    ("p99", 0.99, |l| l.p99),
    ("p99.9", 0.999, |l| l.p999),
];

/// Latency distribution of one probe, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct LatencySummary {
    /// Number of samples the summary was computed from.
    pub samples: u64,
    /// Arithmetic mean, microseconds.
    pub mean: f64,
    /// Smallest sample, microseconds.
    pub min: f64,
    /// Median, microseconds.
    pub p50: f64,
    /// 90th percentile, microseconds.
    pub p90: f64,
    /// 99th percentile, microseconds.
    pub p99: f64,
    /// 99.9th percentile, microseconds.
    pub p999: f64,
    /// Largest sample, microseconds.
    pub max: f64,
}

fn ns_to_us(ns: u64) -> f64 {
    round3(Nanos(ns as f64).as_us())
}

impl LatencySummary {
    /// The median in milliseconds.
    pub fn p50_ms(&self) -> f64 {
        Micros(self.p50).as_ms()
    }

    /// The 90th percentile in milliseconds.
    pub fn p90_ms(&self) -> f64 {
        Micros(self.p90).as_ms()
    }

    /// The 99th percentile in milliseconds.
    pub fn p99_ms(&self) -> f64 {
        Micros(self.p99).as_ms()
    }

    /// The largest sample in milliseconds.
    pub fn max_ms(&self) -> f64 {
        Micros(self.max).as_ms()
    }
}

/// True for a zero count or run number, which the JSON leaves out.
pub fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// `v` rounded to 3 decimals (what every summary reports).
pub fn round3(v: f64) -> f64 {
    (v * 1_000.0).round() / 1_000.0
}

/// `v` rounded to 2 decimals (rates and percentages).
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Median of the finite values (the mean of the middle two for an even
/// count); `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (n > 0).then(|| (v[(n - 1) / 2] + v[n / 2]) / 2.0)
}

/// Bytes in a mebibyte.
pub const MIB: u64 = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([f64::NAN, 5.0]), Some(5.0));
        assert_eq!(median([]), None);
    }

    #[test]
    fn summary_reports_microseconds_within_three_significant_figures() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.samples, 100);
        assert!((s.p50 - 50_000.0).abs() / 50_000.0 < 0.001, "p50 {}", s.p50);
        assert!((s.p99 - 99_000.0).abs() / 99_000.0 < 0.001, "p99 {}", s.p99);
        assert!(
            (s.max - 100_000.0).abs() / 100_000.0 < 0.001,
            "max {}",
            s.max
        );
        assert!(
            (s.mean - 50_500.0).abs() / 50_500.0 < 0.001,
            "mean {}",
            s.mean
        );
        assert!((s.min - 1_000.0).abs() < 1.0);
    }

    #[test]
    fn merging_adds_counts() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record(Duration::from_micros(10));
        b.record(Duration::from_micros(20));
        b.record(Duration::from_micros(30));
        a += &b;
        assert_eq!(a.len(), 3);
        assert!((a.summary().max - 30.0).abs() < 0.1);
    }

    #[test]
    fn encoding_round_trips() {
        let mut h = LatencyHistogram::new();
        for us in [5u64, 50, 500, 5_000, 50_000] {
            h.record(Duration::from_micros(us));
        }
        let back = h.encode().decode().unwrap();
        assert_eq!(back.summary(), h.summary());
    }

    #[test]
    fn garbage_does_not_decode() {
        assert!(EncodedHistogram("not base64!".into()).decode().is_err());
        assert!(EncodedHistogram("aGVsbG8=".into()).decode().is_err());
    }

    #[test]
    fn huge_samples_are_clamped_not_lost() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_secs(3600));
        assert_eq!(h.len(), 1);
    }

    /// A compressed V2 encoding with this header and payload.
    fn crafted(
        payload_len: u32,
        digits: u32,
        low: u64,
        high: u64,
        payload: &[u8],
    ) -> EncodedHistogram {
        use std::io::Write;
        let mut inner = V2_COOKIE.to_be_bytes().to_vec();
        inner.extend(payload_len.to_be_bytes());
        inner.extend(0u32.to_be_bytes());
        inner.extend(digits.to_be_bytes());
        inner.extend(low.to_be_bytes());
        inner.extend(high.to_be_bytes());
        inner.extend(1.0f64.to_be_bytes());
        inner.extend(payload);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&inner).unwrap();
        let body = z.finish().unwrap();
        let mut bytes = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        bytes.extend((body.len() as u32).to_be_bytes());
        bytes.extend(body);
        EncodedHistogram(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    #[test]
    fn headers_beyond_any_run_are_refused_before_allocating() {
        let high = HIGHEST_TRACKABLE_NS;
        let err = |h: EncodedHistogram| h.check().unwrap_err();
        assert!(matches!(
            err(crafted(u32::MAX, 3, 1, high, &[])),
            HistogramError::PayloadLength(u32::MAX, _)
        ));
        let e = err(crafted(2, 5, 1, u64::MAX, &[2, 2]));
        assert!(e.to_string().contains("significant figures 5"), "{e}");
        let e = err(crafted(2, 3, 1, u64::MAX, &[2, 2]));
        assert!(e.to_string().contains("highest value"), "{e}");
        // one bucket with 2^41 samples (zig-zag: even = count)
        let mut big = Vec::new();
        let mut v = (1u64 << 41) << 1;
        while v >= 0x80 {
            big.push((v as u8) | 0x80);
            v >>= 7;
        }
        big.push(v as u8);
        assert_eq!(
            err(crafted(big.len() as u32, 3, 1, high, &big)),
            HistogramError::Samples
        );
        // zeros run to i64::MIN (the varint of u64::MAX), which hdrhistogram would negate
        let run = [0xff; 9];
        assert!(matches!(
            err(crafted(9, 3, 1, high, &run)),
            HistogramError::CountsLength(_)
        ));
        assert!(err(crafted(4, 3, 1, high, &[2]))
            .to_string()
            .contains("payload ends early"));
        assert!(matches!(
            err(EncodedHistogram("A".repeat(MAX_ENCODED_CHARS + 1))),
            HistogramError::TooLong(_)
        ));
        // and a well-formed one of ours passes the same checks
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_millis(3));
        h.encode().check().unwrap();
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let _ = EncodedHistogram(text).decode();
        }

        #[test]
        fn arbitrary_payloads_never_panic(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            digits in 0u32..8, low in 0u64..2000, high in proptest::num::u64::ANY,
        ) {
            let _ = crafted(payload.len() as u32, digits, low, high, &payload).decode();
        }

        #[test]
        fn mutated_encodings_never_panic(at in 0usize..4000, byte in proptest::num::u8::ANY) {
            let mut h = LatencyHistogram::new();
            for us in [5u64, 50, 500, 5_000] {
                h.record(Duration::from_micros(us));
            }
            let mut bytes = base64::engine::general_purpose::STANDARD.decode(h.encode().0).unwrap();
            let i = at % bytes.len();
            bytes[i] = byte;
            let _ = EncodedHistogram(base64::engine::general_purpose::STANDARD.encode(bytes)).decode();
        }
    }
}
