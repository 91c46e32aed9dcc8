//! The PrometheusRule that ships in deploy/kubernetes/monitoring, generated
//! from the rule registry: one alert per rule and severity at or above
//! warn, firing while `watch` reports that finding
//! (`etcd_doctor_finding`), its runbook link the node's own `/report`,
//! where the finding's text, evidence and fix are. A test keeps the
//! shipped file equal to [`prometheus_rule`].

use std::fmt::Write as _;

use crate::findings::{Severity, RULES};

/// How long a finding must hold before its alert fires.
const FOR: &str = "2m";

/// `disk.fsync-slow` as an alert name: `EtcdDoctorDiskFsyncSlow`.
fn alert_name(id: &str) -> String {
    let mut out = String::from("EtcdDoctor");
    for word in id.split(['.', '-']) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The PrometheusRule YAML.
pub fn prometheus_rule() -> String {
    let mut out = String::from(
        "# Generated from the rule registry (src/watch/alerts.rs); a test keeps it equal.\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: etcd-doctor\n  namespace: etcd-doctor\n\
         \x20 labels: {app.kubernetes.io/name: etcd-doctor, app.kubernetes.io/component: watch}\n\
         spec:\n  groups:\n    - name: etcd-doctor\n      rules:\n",
    );
    for rule in RULES.iter() {
        for sev in rule.severities.iter().filter(|s| **s >= Severity::Warn) {
            let (label, level) = match sev {
                Severity::Fail => ("fail", "critical"),
                _ => ("warn", "warning"),
            };
            let id = rule.id.as_str();
            let suffix = if *sev == Severity::Fail {
                "Fail"
            } else {
                "Warn"
            };
            let _ = write!(
                out,
                "        - alert: {}{suffix}\n\
                 \x20         expr: max by (instance, member) (etcd_doctor_finding{{id=\"{id}\",severity=\"{label}\"}}) > 0\n\
                 \x20         for: {FOR}\n\
                 \x20         labels: {{severity: {level}, finding: {id}}}\n\
                 \x20         annotations:\n\
                 \x20           summary: \"{id} on {{{{ $labels.member }}}}: {}\"\n\
                 \x20           runbook_url: \"http://{{{{ $labels.instance }}}}/report\"\n",
                alert_name(id),
                rule.doc.replace('"', "'"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_camel_case() {
        assert_eq!(alert_name("disk.fsync-slow"), "EtcdDoctorDiskFsyncSlow");
    }

    #[test]
    fn the_shipped_rule_is_the_generated_one() {
        let shipped = include_str!("../../deploy/kubernetes/monitoring/prometheusrule.yaml");
        assert_eq!(
            shipped,
            prometheus_rule(),
            "regenerate: cargo test --lib watch::alerts -- --ignored regenerate"
        );
        let alerts = shipped.matches("- alert: ").count();
        let want: usize = RULES
            .iter()
            .map(|r| {
                r.severities
                    .iter()
                    .filter(|s| **s >= Severity::Warn)
                    .count()
            })
            .sum();
        assert_eq!(alerts, want);
    }

    #[test]
    #[ignore = "writes the shipped file"]
    fn regenerate() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/kubernetes/monitoring/prometheusrule.yaml"
        );
        std::fs::write(path, prometheus_rule()).unwrap();
    }
}
