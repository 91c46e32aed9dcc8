//! JUnit XML renderer: one test case per rule, so CI systems (GitLab,
//! Jenkins, GitHub test reporters) list every check etcd-doctor made. A FAIL
//! finding is a failed test case with its evidence and fix; a WARN or INFO
//! finding passes with the finding in `system-out`; a rule whose facts this
//! run did not collect (no cluster, no peers) is skipped, saying so.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::html::esc;
use crate::facts::Report;
use crate::findings::{Finding, FindingId, Severity, RULES};
use crate::report::view;

/// Writes `report` as a JUnit XML document.
pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let cases: Vec<Case> = RULES
        .iter()
        .map(|rule| Case::for_rule(report, rule.id))
        .collect();
    let failures = cases.iter().filter(|c| c.failed).count();
    let skipped = cases.iter().filter(|c| c.skipped).count();
    let suite = format!(
        "etcd-doctor {} (profile {})",
        report.command,
        report.profile.as_deref().unwrap_or("none")
    );
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        w,
        "<testsuites name=\"etcd-doctor\" tests=\"{n}\" failures=\"{failures}\" skipped=\"{skipped}\">\n\
         <testsuite name=\"{}\" tests=\"{n}\" failures=\"{failures}\" skipped=\"{skipped}\" hostname=\"{}\">",
        esc(&suite),
        esc(&report.host.hostname),
        n = cases.len(),
    )?;
    for c in &cases {
        w.write_all(c.xml.as_bytes())?;
    }
    writeln!(w, "</testsuite>\n</testsuites>")
}

struct Case {
    xml: String,
    failed: bool,
    skipped: bool,
}

impl Case {
    fn for_rule(report: &Report, id: FindingId) -> Case {
        let found: Vec<&Finding> = report.findings.iter().filter(|f| f.id == id).collect();
        let checked = report.rules_checked.contains(&id);
        let failed = found.iter().any(|f| f.severity == Severity::Fail);
        let mut xml = format!(
            "<testcase classname=\"etcd-doctor.{}\" name=\"{id}\">",
            id.area()
        );
        if !checked && found.is_empty() {
            xml.push_str("<skipped message=\"this run collected no facts for this rule\"/>");
        }
        for f in &found {
            let tag = if f.severity == Severity::Fail {
                "failure"
            } else {
                "system-out"
            };
            let attrs = if tag == "failure" {
                format!(" message=\"{}\" type=\"{}\"", esc(&f.summary), f.severity)
            } else {
                String::new()
            };
            let _ = write!(xml, "<{tag}{attrs}>{}</{tag}>", esc(&details(f)));
        }
        xml.push_str("</testcase>\n");
        Case {
            xml,
            failed,
            skipped: !checked && found.is_empty(),
        }
    }
}

/// The finding as plain text: severity, summary, evidence, fix, commands.
fn details(f: &Finding) -> String {
    let mut s = format!("[{}] {}\n", f.severity, f.summary);
    for e in &f.evidence {
        let _ = writeln!(
            s,
            "  {} = {} (threshold {})",
            e.metric,
            view::fmt_value(e.observed, e.unit),
            view::fmt_value(e.threshold, e.unit)
        );
    }
    let _ = writeln!(s, "fix: {}", f.recommendation);
    for c in &f.commands {
        let _ = writeln!(s, "$ {c}");
    }
    s
}
