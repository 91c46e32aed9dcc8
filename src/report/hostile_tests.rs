//! Outside strings (host names, peers, member names, finding texts that
//! quote them) through every markup and exposition renderer, checked by
//! parsing the output: a strict reading of Prometheus' text format (the
//! prometheus-parse crate is no check of escaping: it splits labels at
//! every `,` and `=` and ends them at the first `}`, even quoted), a
//! strict XML 1.0 parser (roxmltree) for JUnit, and for HTML that no tag
//! but the renderer's own appears.

use crate::facts::Report;
use crate::findings::{Draft, Evidence, Finding, Severity, Unit, RULES};
use crate::host::HostFacts;
use crate::measure::LatencySummary;
use crate::probe::net::{NetProbeKind, NetResult, Schedule};
use crate::text::printable;

/// Quotes, backslashes, a newline, markup, CDATA's end, an entity, NUL,
/// ESC, BEL, CR, a C1 CSI, a non-character, a tab and `'`.
pub const HOSTILE: &str =
    "h\"q\\b\nn</script><script>alert(1)</script>]]>&amp;\u{0}\u{1b}[2J\u{7}\r\u{9b}\u{ffff}\t'z";

/// A report whose host, peer and failing finding carry [`HOSTILE`].
fn hostile_report() -> Report {
    let facts = HostFacts {
        hostname: HOSTILE.into(),
        ..HostFacts::default()
    };
    let mut r = Report::new("qualify", facts);
    r.profile = Some(HOSTILE.into());
    let mut rtt = NetResult::new(NetProbeKind::Rtt, HOSTILE, Schedule::Concurrent);
    rtt.latency_us = Some(LatencySummary {
        samples: 10,
        mean: 1.0,
        min: 1.0,
        p50: 1.0,
        p90: 1.0,
        p99: 1.0,
        p999: 1.0,
        max: 1.0,
    });
    r.net.push(rtt);
    r.findings.push(Finding::unchecked(
        RULES[0].id,
        Draft {
            severity: Severity::Fail,
            summary: HOSTILE.into(),
            evidence: vec![Evidence {
                metric: HOSTILE.into(),
                observed: 1.0,
                threshold: 2.0,
                unit: Unit::Ms,
            }],
            recommendation: HOSTILE.into(),
            commands: vec![HOSTILE.into()],
        },
    ));
    r.rules_checked.push(RULES[0].id);
    r
}

/// One sample of a Prometheus text page: name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// Reads a Prometheus text page strictly as the exposition format
/// defines it: `name{label="value",...} value` where a value escapes only
/// `\\`, `\"` and `\n`; any other escape, a raw newline in a value, or a
/// malformed line is an error naming the line.
pub fn parse_exposition(page: &str) -> Result<Vec<Sample>, String> {
    page.split('\n')
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(parse_sample)
        .collect()
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let bad = |why: &str| format!("{why}: {line:?}");
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .ok_or_else(|| bad("no value"))?;
    let mut chars = line[name_end..].chars().peekable();
    let mut labels = Vec::new();
    if chars.next_if_eq(&'{').is_some() {
        while chars.next_if_eq(&'}').is_none() {
            let mut key = String::new();
            while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                key.push(c);
            }
            if key.is_empty() || chars.next() != Some('=') || chars.next() != Some('"') {
                return Err(bad("label name"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    None | Some('\n') => return Err(bad("unterminated value")),
                    Some('"') => break,
                    Some('\\') => value.push(match chars.next() {
                        Some('\\') => '\\',
                        Some('"') => '"',
                        Some('n') => '\n',
                        _ => return Err(bad("unknown escape")),
                    }),
                    Some(c) => value.push(c),
                }
            }
            labels.push((key, value));
            match chars.peek() {
                Some(',') => {
                    chars.next();
                }
                Some('}') => {}
                _ => return Err(bad("after a value")),
            }
        }
    }
    let rest: String = chars.collect();
    let value = rest
        .strip_prefix(' ')
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("value"))?;
    Ok((line[..name_end].to_string(), labels, value))
}

/// What an XML attribute or text must read back as: the string with its
/// control characters and non-characters made visible.
fn shown(s: &str) -> String {
    crate::text::xml_chars(s)
}

#[test]
fn prometheus_labels_read_back_as_the_printable_text() {
    let mut page = Vec::new();
    super::format::prometheus::render(&hostile_report(), &mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    let samples = parse_exposition(&page).unwrap();
    assert!(samples.len() > 3, "{page}");
    let want = printable(HOSTILE);
    for (name, labels, _) in &samples {
        let host = labels.iter().find(|(k, _)| k == "host");
        assert_eq!(host.map(|(_, v)| v), Some(&want), "{name}");
    }
    let peer = samples
        .iter()
        .find_map(|(_, l, _)| l.iter().find(|(k, _)| k == "peer"));
    assert_eq!(peer.map(|(_, v)| v), Some(&want));
}

#[test]
fn junit_is_well_formed_xml_with_the_text_intact() {
    let mut xml = Vec::new();
    super::format::junit::render(&hostile_report(), &mut xml).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let want = shown(HOSTILE);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    // XML reads a newline or tab in an attribute as a space.
    let in_attr = want.replace(['\n', '\t'], " ");
    assert_eq!(suite.attribute("hostname"), Some(in_attr.as_str()));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(failure.attribute("message"), Some(in_attr.as_str()));
    assert!(failure.text().unwrap().contains(&want));
}

#[test]
fn html_has_no_tag_and_no_control_character_from_the_data() {
    let mut page = Vec::new();
    super::format::html::render(&hostile_report(), &mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script"), "a script tag from the data");
    assert!(!lower.contains("</script"));
    assert!(!page.contains("]]>"));
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
    let controls: Vec<char> = page
        .chars()
        .filter(|&c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{ffff}')
        .collect();
    assert!(controls.is_empty(), "{controls:?}");
}
