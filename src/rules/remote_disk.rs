//! Which members' disks the disk probe here measured. `diagnose` probes
//! the device under --dir on the host it runs on, while etcd's metrics
//! come from every member: a member whose WAL is on another device of this
//! host, or that runs on another host, was not measured. Its slow WAL
//! fsync is its own disk's; the local probe can neither confirm nor clear
//! it, and set against that member's metrics it would read as "a fast
//! device, etcd slowed by contention".
//!
//! A member is matched to a local etcd process of this cluster (one
//! listening on a port of the members' URLs) by the process's `--name`;
//! the process's open `*.wal` file gives its device. When no local process
//! names a member of the cluster (etcd in a container not seen, k3s) the
//! probe's reach is unknown and nothing here changes the findings.

use crate::cluster::model::{url_host, ClusterReport, Member};
use crate::facts::Report;
use crate::findings::{warns, Finding, FindingId, Severity};
use crate::member::MemberId;

/// Where one member's WAL is, seen from the probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    /// On the device the probe measured.
    Probed,
    /// On another device of this host (`major:minor`).
    OtherDevice(String),
    /// On another host (the member's URL host).
    OtherHost(String),
}

/// Each member's [`Reach`] by id, with the probed device and its p99;
/// `None` when no disk probe ran or no local process names a member.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// The probed device, `major:minor`.
    pub probed: String,
    /// The probe's fdatasync p99, ms.
    pub probe_p99_ms: f64,
    /// Member id and where its WAL is.
    pub members: Vec<(MemberId, Reach)>,
}

impl Coverage {
    /// Where member `id`'s WAL is, when known.
    pub fn reach(&self, id: &str) -> Option<&Reach> {
        self.members.iter().find(|(m, _)| *m == id).map(|(_, r)| r)
    }
}

/// The probe's reach over the members of `report`'s cluster.
pub fn coverage(report: &Report, probe_p99_ms: Option<f64>) -> Option<Coverage> {
    let probe_p99_ms = probe_p99_ms?;
    let probed = report.host.device.as_ref()?.dev_major_minor.clone();
    let cluster = report.cluster.as_ref()?;
    // Only this cluster's processes (by port): another cluster's m2 may run here.
    let local = &super::starved::diagnosed(report.host.activity.as_ref()?, Some(cluster)).etcd;
    let on_host = |m: &Member| {
        local
            .iter()
            .find(|p| p.member_name.as_deref() == Some(m.name.as_str()) && !m.name.is_empty())
    };
    if !cluster.members.iter().any(|m| on_host(m).is_some()) {
        return None;
    }
    let members = cluster
        .members
        .iter()
        .map(|m| {
            let reach = match on_host(m) {
                Some(p) => match &p.wal_device {
                    Some(d) if *d == probed => Reach::Probed,
                    Some(d) => Reach::OtherDevice(d.clone()),
                    None => Reach::OtherDevice("unknown".into()),
                },
                None => Reach::OtherHost(host_of(m)),
            };
            (m.id.clone(), reach)
        })
        .collect();
    Some(Coverage {
        probed,
        probe_p99_ms,
        members,
    })
}

fn host_of(m: &Member) -> String {
    m.peer_urls
        .iter()
        .chain(&m.client_urls)
        .next()
        .map_or_else(|| "another host".to_string(), |u| url_host(u).to_string())
}

/// True when member `id`'s metrics speak of the probed device (or the
/// probe's reach is unknown).
pub fn probed(coverage: Option<&Coverage>, id: Option<&str>) -> bool {
    match (coverage, id) {
        (Some(c), Some(id)) => c.reach(id).is_none_or(|r| *r == Reach::Probed),
        _ => true,
    }
}

/// The member a metrics finding `f` is about, and where its WAL is, when
/// the probe did not measure that WAL.
fn unprobed<'a>(
    f: &Finding,
    cluster: &'a ClusterReport,
    cov: &'a Coverage,
) -> Option<Unprobed<'a>> {
    cluster.metrics.iter().find_map(|m| {
        let id = m.member_id.as_deref()?;
        let label = cluster.member_label(Some(id), &m.url);
        let reach = cov.reach(id)?;
        (f.summary.starts_with(&format!("{label}:")) && *reach != Reach::Probed).then(|| Unprobed {
            member: cluster.members.iter().find(|x| x.id == id),
            reach,
            wal_p99_ms: m.wal_fsync.map(|h| h.judged_p99_ms()),
        })
    })
}

/// A member whose WAL the probe did not measure, as [`unprobed`] finds it.
struct Unprobed<'a> {
    /// Its entry in the member list, when listed.
    member: Option<&'a Member>,
    /// Where its WAL is.
    reach: &'a Reach,
    /// Its WAL fsync p99 as judged, ms.
    wal_p99_ms: Option<f64>,
}

/// This host's CPUs were saturated during the run: what [`annotate`]
/// weighs before saying the CPU may slow another device's member.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Saturated {
    /// The host's CPU busy share, percent.
    pub busy_pct: f64,
    /// The worst WAL fsync p99 of the members the probe measured, ms.
    pub probed_wal_p99_ms: Option<f64>,
}

impl Saturated {
    /// True when a member on another device of this host is no slower
    /// than the probed members: the same saturated CPU may be why. Slower,
    /// its own disk is (beside two CPU loops a device throttled to 40 or
    /// shared at 200 IOPS judged 128 ms, the probed members 16-64 ms).
    fn may_explain(&self, u: &Unprobed) -> bool {
        matches!(u.reach, Reach::OtherDevice(_))
            && matches!((u.wal_p99_ms, self.probed_wal_p99_ms), (Some(own), Some(probed)) if own <= probed)
    }
}

/// True when finding `f` speaks of a member whose WAL the probe did not
/// measure: what the probe found of its device cannot explain it.
pub fn of_unprobed(f: &Finding, cluster: Option<&ClusterReport>, cov: Option<&Coverage>) -> bool {
    match (cluster, cov) {
        (Some(c), Some(cov)) => unprobed(f, c, cov).is_some(),
        _ => false,
    }
}

/// Says, on each slow-disk metrics finding about a member the probe did
/// not measure, that the local probe cannot speak for that member's disk.
/// On a `saturated` host a member no slower than the probed ones may be
/// slowed by the CPU, as they are ([`Saturated::may_explain`]).
pub fn annotate(
    findings: &mut [Finding],
    cluster: Option<&ClusterReport>,
    coverage: Option<&Coverage>,
    saturated: Option<Saturated>,
) {
    let (Some(cluster), Some(cov)) = (cluster, coverage) else {
        return;
    };
    let starved = warns(findings, FindingId::HostCpuStarved);
    let see = if starved {
        " (see host.cpu-starved)"
    } else {
        ""
    };
    for f in findings.iter_mut().filter(|f| {
        f.severity > Severity::Info
            && matches!(
                f.id,
                FindingId::ClusterMetricsWalFsyncSlow | FindingId::ClusterMetricsBackendCommitSlow
            )
    }) {
        let Some(u) = unprobed(f, cluster, cov) else {
            continue;
        };
        let (member, reach) = (u.member, u.reach);
        let (where_, command) = match reach {
            Reach::OtherHost(host) => (
                format!("it runs on another host ({host})"),
                format!("etcd-doctor disk --dir <its data dir>  # on {host}"),
            ),
            Reach::OtherDevice(dev) => (
                format!("its WAL is on device {dev} of this host"),
                "etcd-doctor disk --dir <its data dir>  # on its own device".to_string(),
            ),
            Reach::Probed => continue,
        };
        f.summary += &format!(
            "; {where_}, not on the device probed here ({}, fdatasync p99 {:.2} ms): the local \
             disk probe cannot speak for this member's disk",
            cov.probed, cov.probe_p99_ms
        );
        let name = member.map_or("", |m| m.name.as_str());
        let busy = saturated.filter(|s| s.may_explain(&u)).map(|s| s.busy_pct);
        if let Some(busy) = busy {
            f.summary += &format!(
                "; this host's CPUs were {busy:.0}% busy, which slows every fsync here: the CPU \
                 may be the cause{see}"
            );
        }
        f.recommendation = match busy {
            Some(_) => format!(
                "Measure member {name}'s own device before blaming it: this host's CPUs were \
                 saturated. {}",
                f.recommendation
            ),
            None => format!(
                "The slow disk is member {name}'s own, not this host's: measure and fix it \
                 there. {}",
                f.recommendation
            ),
        };
        f.commands.push(command);
        if busy.is_some() && starved {
            f.mark_explained(
                "no slower than the members on the probed device, whose fsyncs waited for the \
                 CPU (see host.cpu-starved)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::model::{HistogramPercentiles, MemberMetrics, Span};
    use crate::host::etcd::EtcdProcess;

    fn member(id: &str, name: &str, ip: &str) -> Member {
        Member {
            id: id.into(),
            name: name.into(),
            peer_urls: vec![format!("http://{ip}:2380")],
            client_urls: vec![format!("http://{ip}:2379")],
            ..Member::default()
        }
    }

    fn process(name: &str, wal: &str) -> EtcdProcess {
        serde_json::from_value(serde_json::json!({
            "pid": 1, "cpu_cores": 0.1, "run_delay_ms_per_s": 0.0, "major_faults_per_s": 0.0,
            "swap_mib": 0.0, "rss_mib": 50.0, "wal_device": wal, "member_name": name,
            "listen_ports": [2379]
        }))
        .unwrap()
    }

    fn report(local: Vec<EtcdProcess>) -> Report {
        let mut r = Report::new("diagnose", crate::host::HostFacts::default());
        r.host.device = Some(crate::host::device::DeviceFacts {
            dev_major_minor: "253:1".into(),
            ..Default::default()
        });
        r.host.activity = Some(crate::host::activity::HostActivity {
            etcd: local,
            ..Default::default()
        });
        let slow = HistogramPercentiles {
            count: 100,
            span: Span::Window,
            p50_ms: 20.0,
            p90_ms: 40.0,
            p99_ms: 80.0,
            second_slowest_over_ms: None,
        };
        r.cluster = Some(ClusterReport {
            members: vec![
                member("01", "m1", "10.0.0.1"),
                member("03", "m3", "10.0.0.3"),
            ],
            metrics: vec![MemberMetrics {
                url: "http://10.0.0.3:2379/metrics".into(),
                member_id: Some("03".into()),
                wal_fsync: Some(slow),
                ..MemberMetrics::default()
            }],
            ..ClusterReport::default()
        });
        r
    }

    #[test]
    fn a_member_on_another_host_is_not_the_probes() {
        let r = report(vec![process("m1", "253:1")]);
        let cov = coverage(&r, Some(2.0)).unwrap();
        assert_eq!(cov.reach("01"), Some(&Reach::Probed));
        assert_eq!(cov.reach("03"), Some(&Reach::OtherHost("10.0.0.3".into())));
        assert!(!probed(Some(&cov), Some("03")));
        assert!(probed(Some(&cov), Some("01")) && probed(None, Some("03")));
        let mut findings = crate::rules::cluster::evaluate_with_logs(
            r.cluster.as_ref().unwrap(),
            &Default::default(),
            &[],
        );
        findings.retain(|f| f.id == FindingId::ClusterMetricsWalFsyncSlow);
        annotate(&mut findings, r.cluster.as_ref(), Some(&cov), None);
        let f = &findings[0];
        assert!(
            f.summary
                .starts_with("m3 (03) on 10.0.0.3: WAL fdatasync p99 80.0 ms"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("it runs on another host (10.0.0.3), not on the device probed here (253:1, fdatasync p99 2.00 ms): the local disk probe cannot speak"), "{}", f.summary);
        assert!(f.commands.iter().any(|c| c.ends_with("# on 10.0.0.3")));
    }

    #[test]
    fn another_device_here_and_unknown_reach() {
        let r = report(vec![process("m1", "253:1"), process("m3", "7:4")]);
        let cov = coverage(&r, Some(2.0)).unwrap();
        assert_eq!(cov.reach("03"), Some(&Reach::OtherDevice("7:4".into())));
        // No local process names a member: the reach is unknown.
        assert_eq!(
            coverage(&report(vec![process("x", "253:1")]), Some(2.0)),
            None
        );
        assert_eq!(coverage(&r, None), None);
    }

    #[test]
    fn a_saturated_host_is_named_beside_another_device_here() {
        let r = report(vec![process("m1", "253:1"), process("m3", "7:4")]);
        let cov = coverage(&r, Some(2.0)).unwrap();
        let cluster = r.cluster.as_ref().unwrap();
        let slow = || {
            let mut f =
                crate::rules::cluster::evaluate_with_logs(cluster, &Default::default(), &[]);
            f.retain(|f| f.id == FindingId::ClusterMetricsWalFsyncSlow);
            f
        };
        let mut busy = slow();
        let saturated = |probed| Saturated {
            busy_pct: 99.0,
            probed_wal_p99_ms: Some(probed),
        };
        // m3's WAL p99 is 80 ms: beside probed members at 80 ms the CPU
        // may be why, beside members at 40 ms its own disk is.
        annotate(&mut busy, Some(cluster), Some(&cov), Some(saturated(80.0)));
        assert!(
            busy[0].summary.ends_with(
                "this host's CPUs were 99% busy, which slows every fsync here: the CPU may be \
                 the cause"
            ),
            "{}",
            busy[0].summary
        );
        assert!(busy[0]
            .recommendation
            .starts_with("Measure member m3's own device"));
        assert!(of_unprobed(&busy[0], Some(cluster), Some(&cov)));
        let mut own = slow();
        annotate(&mut own, Some(cluster), Some(&cov), Some(saturated(40.0)));
        assert!(!own[0].summary.contains("busy"), "{}", own[0].summary);
        let mut idle = slow();
        annotate(&mut idle, Some(cluster), Some(&cov), None);
        assert!(!idle[0].summary.contains("busy"), "{}", idle[0].summary);
        assert!(idle[0]
            .recommendation
            .starts_with("The slow disk is member m3's own"));
        // Beside host.cpu-starved the same member is explained by it.
        let mut with_cpu = slow();
        with_cpu.push(Finding::unchecked(
            FindingId::HostCpuStarved,
            crate::findings::Draft {
                severity: Severity::Warn,
                summary: "etcd's writes wait for the CPU".into(),
                evidence: vec![],
                recommendation: String::new(),
                commands: vec![],
            },
        ));
        annotate(
            &mut with_cpu,
            Some(cluster),
            Some(&cov),
            Some(saturated(80.0)),
        );
        assert_eq!(with_cpu[0].severity, Severity::Info);
        assert!(with_cpu[0]
            .summary
            .contains("explained: no slower than the members"));
        assert!(with_cpu[0].summary.contains("(see host.cpu-starved)"));
    }
}
