//! The check every busy-link test ends with: `net` reported
//! net.nic-saturated at warn or fail, its text naming what the test
//! injected.

use etcd_doctor::facts::Report;
use etcd_doctor::rules::{Finding, FindingId, Severity};

/// The net.nic-saturated finding of `r`, after checking that its summary
/// holds every one of `needles` (printed, so a passing run shows it too).
pub fn saturated_naming<'r>(r: &'r Report, needles: &[&str]) -> &'r Finding {
    let f = r
        .findings
        .iter()
        .find(|f| f.id == FindingId::NetNicSaturated)
        .unwrap_or_else(|| panic!("no net.nic-saturated: {:#?} {:#?}", r.findings, r.net));
    eprintln!("{}", f.summary);
    assert!(f.severity >= Severity::Warn, "{f:?}");
    let missing: Vec<&&str> = needles
        .iter()
        .filter(|n| !f.summary.contains(**n))
        .collect();
    assert!(missing.is_empty(), "{missing:?} in {}", f.summary);
    assert!(f.commands[0].starts_with("ss -tinp"), "{:?}", f.commands);
    f
}
