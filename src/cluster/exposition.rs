//! The Prometheus text format as prometheus-parse 0.2 reads it, without
//! its regexes.
//!
//! prometheus-parse compiled three Unicode-aware regexes in every process
//! and ran up to three of them, with captures, on every line: a tenth of a
//! one-scrape `cluster metrics` run's CPU went to compiling them alone
//! (perf). This reads the same lines into the same samples: names are runs
//! of word characters, `# TYPE` registers a family (`_bucket` for a
//! histogram), labels are split at `,` and `=` with the quotes trimmed, a
//! value that is no Go float drops the sample, and a histogram's (or
//! summary's) buckets join one sample per label set. A proptest holds it
//! to prometheus-parse on generated and mangled pages. The only difference
//! is order: histograms come after the plain samples in the order first
//! seen, where prometheus-parse gave them in hash order.

use std::collections::HashMap;
use std::fmt;

/// One bucket of a histogram: observations at or below `less_than`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramCount {
    /// The bucket's upper bound (`le`).
    pub less_than: f64,
    /// Cumulative count.
    pub count: f64,
}

/// One quantile of a summary.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryCount {
    /// The quantile (`quantile` label).
    pub quantile: f64,
    /// Its value.
    pub count: f64,
}

/// A sample's value, by the family's `# TYPE`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A counter.
    Counter(f64),
    /// A gauge.
    Gauge(f64),
    /// A histogram's buckets, in page order.
    Histogram(Vec<HistogramCount>),
    /// A summary's quantiles, in page order.
    Summary(Vec<SummaryCount>),
    /// No type line, or one of another type.
    Untyped(f64),
}

/// A sample's labels, sorted by name (the identity of a histogram's label
/// set); a repeated name keeps its last value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self
            .0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()?;
        Some(&self.0[i].1)
    }

    /// Sorts `pairs` by name (stable) and keeps the last of each name: in
    /// O(n log n), where a search per insert was quadratic in the labels
    /// of one line (a 16 MiB line holds millions).
    fn from_pairs(mut pairs: Vec<(&str, &str)>) -> Labels {
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v.to_string(),
                _ => out.push((k.to_string(), v.to_string())),
            }
        }
        Labels(out)
    }
}

/// `a="1",b="2"`, names sorted.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{k}=\"{v}\"")?;
        }
        Ok(())
    }
}

/// One sample (a histogram or summary: all its buckets of one label set).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The metric name (a histogram's family name, without `_bucket`).
    pub metric: String,
    /// Its labels (`le` and `quantile` left out).
    pub labels: Labels,
    /// Its value.
    pub value: Value,
}

/// A parsed page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    /// The samples: plain ones in page order, then histograms and
    /// summaries in the order first seen.
    pub samples: Vec<Sample>,
}

/// A family's `# TYPE`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl Kind {
    fn parse(s: &str) -> Kind {
        match s {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            _ => Kind::Untyped,
        }
    }
}

/// What one line says.
enum Line<'a> {
    Type {
        name: &'a str,
        kind: &'a str,
    },
    Sample {
        name: &'a str,
        labels: Option<&'a str>,
        value: &'a str,
    },
    Other,
}

/// A word character as the regex crate's Unicode `\w` has it
/// (alphanumerics, marks, connector punctuation, join controls).
fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        regex_syntax::is_word_character(c)
    }
}

/// The longest run of word characters at the start of `s`, and the rest.
fn word(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_word(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// `s` without its leading whitespace, when it has some.
fn spaced(s: &str) -> Option<&str> {
    let rest = s.trim_start();
    (rest.len() < s.len()).then_some(rest)
}

/// `^#\s+TYPE\s+(\w+)\s+(\w+)` (a HELP line and every other comment say
/// nothing here).
fn type_line(comment: &str) -> Option<Line<'_>> {
    let rest = spaced(comment)?.strip_prefix("TYPE")?;
    let (name, rest) = word(spaced(rest)?);
    let (kind, _) = word(spaced(rest)?);
    (!name.is_empty() && !kind.is_empty()).then_some(Line::Type { name, kind })
}

/// `^(\w+)(\{([^}]+)\})?\s+(\S+)`.
fn sample_line(line: &str) -> Option<Line<'_>> {
    let (name, mut rest) = word(line);
    if name.is_empty() {
        return None;
    }
    let mut labels = None;
    if let Some(inner) = rest.strip_prefix('{') {
        let close = inner.find('}').filter(|&i| i > 0)?;
        labels = Some(&inner[..close]);
        rest = &inner[close + 1..];
    }
    let rest = spaced(rest)?;
    let value = rest.split(char::is_whitespace).next().unwrap_or("");
    (!value.is_empty()).then_some(Line::Sample {
        name,
        labels,
        value,
    })
}

fn line(line: &str) -> Line<'_> {
    let line = line.trim();
    let read = match line.strip_prefix('#') {
        Some(comment) => type_line(comment),
        None => sample_line(line),
    };
    read.unwrap_or(Line::Other)
}

/// A Go float: `NaN` in any case, else what Rust reads (`+Inf` included).
fn go_float(s: &str) -> Option<f64> {
    let s = s.to_lowercase();
    if s == "nan" {
        return Some(f64::NAN);
    }
    s.parse().ok()
}

/// The `name=value` pairs of a label text; pairs without exactly one `=`
/// or with no name are skipped. With `bound`, that label's value is taken
/// out as a float (`None` when it is missing or no float).
fn labels(text: &str, bound: Option<&str>) -> Option<(Labels, f64)> {
    let mut out = Vec::new();
    let mut at = None;
    for pair in text.split(',') {
        let mut parts = pair.split('=');
        let (Some(k), Some(v), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if k.is_empty() {
            continue;
        }
        let v = v.trim_matches('"');
        if Some(k) == bound {
            at = Some(go_float(v)?);
        } else {
            out.push((k, v));
        }
    }
    let out = Labels::from_pairs(out);
    match bound {
        Some(_) => Some((out, at?)),
        None => Some((out, 0.0)),
    }
}

/// Whether any of `lines` is a sample the parser would read (a name, a
/// value it takes as a float), whatever its family: tells a page in the
/// text format that holds none of the families wanted from a page that is
/// not in the format at all (an HTML page, a JSON answer, an empty body).
pub fn holds_samples<'a>(mut lines: impl Iterator<Item = &'a str>) -> bool {
    lines.any(|text| matches!(line(text), Line::Sample { value, .. } if go_float(value).is_some()))
}

/// Reads `lines` of a /metrics page.
pub fn parse<'a>(lines: impl Iterator<Item = &'a str>) -> Scrape {
    let mut kinds: HashMap<String, (Kind, String)> = HashMap::new();
    let mut grouped: HashMap<(String, Vec<(String, String)>), usize> = HashMap::new();
    let mut samples = Vec::new();
    let mut families: Vec<Sample> = Vec::new();
    for text in lines {
        match line(text) {
            Line::Type { name, kind } => {
                let kind = Kind::parse(kind);
                let key = match kind {
                    Kind::Histogram => format!("{name}_bucket"),
                    _ => name.to_string(),
                };
                kinds.insert(key, (kind, name.to_string()));
            }
            Line::Sample {
                name,
                labels: text,
                value,
            } => {
                let Some(value) = go_float(value) else {
                    continue;
                };
                let typed = kinds.get(name);
                let grouped_kind = match (typed, text) {
                    (Some((Kind::Histogram, family)), Some(t)) => Some((family, t, "le")),
                    (Some((Kind::Summary, family)), Some(t)) => Some((family, t, "quantile")),
                    _ => None,
                };
                if let Some((family, t, bound)) = grouped_kind {
                    let Some((set, at)) = labels(t, Some(bound)) else {
                        continue;
                    };
                    let key = (name.to_string(), set.0.clone());
                    let i = *grouped.entry(key).or_insert_with(|| {
                        families.push(Sample {
                            metric: family.clone(),
                            labels: set,
                            value: match bound {
                                "le" => Value::Histogram(Vec::new()),
                                _ => Value::Summary(Vec::new()),
                            },
                        });
                        families.len() - 1
                    });
                    // A family retyped on the page keeps its first kind,
                    // and the other kind's buckets are dropped.
                    match (&mut families[i].value, bound) {
                        (Value::Histogram(b), "le") => b.push(HistogramCount {
                            less_than: at,
                            count: value,
                        }),
                        (Value::Summary(q), "quantile") => q.push(SummaryCount {
                            quantile: at,
                            count: value,
                        }),
                        _ => {}
                    }
                    continue;
                }
                let labels = text
                    .and_then(|t| labels(t, None))
                    .map_or_else(Labels::default, |(l, _)| l);
                samples.push(Sample {
                    metric: name.to_string(),
                    labels,
                    value: match typed.map(|t| t.0) {
                        Some(Kind::Counter) => Value::Counter(value),
                        Some(Kind::Gauge) => Value::Gauge(value),
                        _ => Value::Untyped(value),
                    },
                });
            }
            Line::Other => {}
        }
    }
    samples.extend(families);
    Scrape { samples }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scrape as text, samples sorted, so that prometheus-parse's hash
    /// order of histograms does not matter; NaN is written as such.
    fn ours(s: &Scrape) -> Vec<String> {
        let mut out: Vec<String> = s
            .samples
            .iter()
            .map(|s| format!("{} {} {:?}", s.metric, s.labels, s.value))
            .collect();
        out.sort();
        out
    }

    fn reference(page: &str) -> Vec<String> {
        use prometheus_parse as p;
        let s = p::Scrape::parse(page.lines().map(|l| Ok(l.to_string()))).unwrap();
        let mut out: Vec<String> = s
            .samples
            .iter()
            .map(|s| {
                let value = match &s.value {
                    p::Value::Counter(v) => format!("{:?}", Value::Counter(*v)),
                    p::Value::Gauge(v) => format!("{:?}", Value::Gauge(*v)),
                    p::Value::Untyped(v) => format!("{:?}", Value::Untyped(*v)),
                    p::Value::Histogram(b) => format!(
                        "{:?}",
                        Value::Histogram(
                            b.iter()
                                .map(|c| HistogramCount {
                                    less_than: c.less_than,
                                    count: c.count,
                                })
                                .collect()
                        )
                    ),
                    p::Value::Summary(q) => format!(
                        "{:?}",
                        Value::Summary(
                            q.iter()
                                .map(|c| SummaryCount {
                                    quantile: c.quantile,
                                    count: c.count,
                                })
                                .collect()
                        )
                    ),
                };
                format!("{} {} {value}", s.metric, s.labels)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn reads_an_etcd_page_like_prometheus_parse() {
        let page = "# HELP etcd_disk_wal_fsync_duration_seconds The latency.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 2
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 5
etcd_disk_wal_fsync_duration_seconds_sum 0.01
etcd_disk_wal_fsync_duration_seconds_count 5
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile=\"0.5\"} 3.1e-05
go_gc_duration_seconds{quantile=\"1\"} NaN
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\"} 7 1700000000000
etcd_debugging_server_alarms{alarm_type=\"NOSPACE\",server_id=\"8e9e\"} 1
bad_value 1x
";
        let s = parse(page.lines());
        assert_eq!(ours(&s), reference(page));
        assert_eq!(s.samples.len(), 7, "{:?}", ours(&s));
        let wal = &s.samples[5];
        assert_eq!(wal.metric, "etcd_disk_wal_fsync_duration_seconds");
        let Value::Histogram(b) = &wal.value else {
            panic!("{wal:?}")
        };
        assert_eq!((b[1].less_than, b[1].count), (f64::INFINITY, 5.0));
        assert_eq!(s.samples[3].labels.get("grpc_method"), Some("Range"));
        assert!(matches!(s.samples[0].value, Value::Untyped(v) if v == 0.01));
    }

    #[test]
    fn a_line_of_a_million_labels_reads_in_linear_time() {
        let labels: Vec<String> = (0..1_000_000).map(|i| format!("l{i}=\"{i}\"")).collect();
        let page = format!("x{{{},l7=\"last\"}} 1\n", labels.join(","));
        let s = parse(page.lines());
        assert_eq!(s.samples[0].labels.get("l7"), Some("last"));
        assert_eq!(s.samples[0].labels.get("l999999"), Some("999999"));
        assert_eq!(s.samples[0].labels.0.len(), 1_000_000);
    }

    #[test]
    fn odd_lines_read_as_prometheus_parse_reads_them() {
        for page in [
            "#\tTYPE\t x counter\nx 1\n",
            "#TYPE x counter\nx 1\n",
            "# TYPE x histogram\nx_bucket 3\nx_bucket{a=\"1\"} 3\nx_bucket{le=\"y\"} 1\n",
            "# TYPE x histogram\n# TYPE x_bucket summary\nx_bucket{quantile=\"0.5\",le=\"1\"} 2\n",
            "# TYPE x summary\nx{quantile=\"0.5\"} 1\n# TYPE x histogram\nx{quantile=\"0.9\"} 2\n",
            "x{} 1\nx{a=b 1\nx{a=\"1\"}1\nx{a=\"1\",=\"2\",b=c=d,c} 1\nx{a=\"1\",a=\"2\"} 3\n",
            "x\u{301}y 1\nx\u{b2} 1\nx\u{a0}1\n\u{2028}x 1\u{2028}\nx 2 -1\nx nan\nx +Inf\n",
            "x\u{c}4\n  x   5  \n",
        ] {
            assert_eq!(ours(&parse(page.lines())), reference(page), "{page:?}");
        }
    }

    proptest::proptest! {
        /// Pages of TYPE and HELP lines, samples with labels, buckets and
        /// odd spacing, mangled by a character here and there: the same
        /// samples as prometheus-parse.
        #[test]
        fn reads_any_page_like_prometheus_parse(
            lines in proptest::collection::vec(
                "(#[ \t]{0,2}(TYPE|HELP)[ \t]{1,2}[a-c_]{1,3}(_bucket)?[ \t]{1,2}(counter|gauge|histogram|summary|untyped|x)|[ ]?[a-c_]{1,3}(_bucket)?(\\{([a-c]{0,2}|le|quantile)=\"?[-0-9.a-z+InfNa]{0,4}\"?(,([a-c]{0,2}|le|quantile)=\"?[0-9.+Inf]{0,4}\"?){0,2}\\})?[ \t\u{a0}]{0,2}[-+0-9.eEInfNa]{0,5}( [0-9]{0,4})?|\\PC{0,12})",
                0..24,
            )
        ) {
            let page = lines.join("\n");
            proptest::prop_assert_eq!(ours(&parse(page.lines())), reference(&page));
        }
    }
}
