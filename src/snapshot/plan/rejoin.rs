//! The fix for the guide's failed rejoin: a member wiped but still listed
//! is removed, added back and started empty with the existing cluster.

use super::model::{position_of, shell_safe, PlanError, PlanMember, RejoinSpec, Runbook};
use super::steps::{check_members, common_variables, initial_cluster, step, var, verify_step};

/// Builds the runbook for a member that is still listed but lost its data
/// (the field guide's failed rejoin).
pub fn rejoin_runbook(spec: &RejoinSpec) -> Result<Runbook, PlanError> {
    check_members(&spec.members)?;
    shell_safe("--data-dir", &spec.data_dir.to_string_lossy())?;
    let m = &spec.member;
    let n = position_of(&spec.members, "--member", &m.name)? + 1;
    let healthy: Vec<&PlanMember> = spec.members.iter().filter(|o| o.name != m.name).collect();
    let Some(helper) = healthy.first() else {
        return Err(PlanError::NoMembers);
    };
    let h = spec
        .members
        .iter()
        .position(|o| o.name == helper.name)
        .map_or(1, |i| i + 1);
    let endpoints = healthy
        .iter()
        .map(|o| o.client_url.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let ctl = format!("$ETCDCTL $ETCDCTL_TLS --endpoints={endpoints}");
    let id =
        m.id.clone()
            .ok_or_else(|| PlanError::NoId(m.name.clone()))?;
    let mut variables =
        common_variables(&spec.members, &spec.data_dir.to_string_lossy(), &spec.tls);
    let remove = format!("run $ON_{h} \"{ctl} member remove {id}\"");
    let aside = format!("run $ON_{n} \"if [ -e $DATA_DIR_{n} ]; then mv $DATA_DIR_{n} $DATA_DIR_{n}.before-rejoin-$STAMP; fi\"");
    let mut steps = Vec::new();
    if spec.kubeadm {
        variables.push(var(
            "KUBEADM_JOIN",
            "kubeadm join API_ENDPOINT --token TOKEN --discovery-token-ca-cert-hash HASH --control-plane --certificate-key KEY",
            "the control-plane join command (kubeadm token create --print-join-command; kubeadm init phase upload-certs --upload-certs)",
        ));
        steps.push(step(
            format!("Remove {} from the member list", m.name),
            Some("kubeadm join adds it back itself."),
            vec![remove],
        ));
        steps.push(step(
            format!("Reset {} and set its old data aside", m.name),
            None,
            vec![format!("run $ON_{n} \"kubeadm reset -f\""), aside],
        ));
        steps.push(step(
            format!("Join {} again", m.name),
            None,
            vec![format!("run $ON_{n} \"$KUBEADM_JOIN\"")],
        ));
    } else {
        variables.push(var(
            format!("STOP_{n}"),
            "systemctl stop etcd",
            format!("stops etcd on {}", m.name),
        ));
        variables.push(var(
            format!("START_EXISTING_{n}"),
            "systemctl start etcd",
            format!(
                "starts etcd on {} with --initial-cluster={} --initial-cluster-state existing",
                m.name,
                initial_cluster(&spec.members)
            ),
        ));
        steps.push(step(
            format!("Stop etcd on {}", m.name),
            None,
            vec![format!("run $ON_{n} \"$STOP_{n}\"")],
        ));
        steps.push(step(
            format!("Remove {} and add it back with the same peer URL", m.name),
            Some("The cluster still lists the old member id; the new one starts empty."),
            vec![
                remove,
                format!(
                    "run $ON_{h} \"{ctl} member add {} --peer-urls={}\"",
                    m.name, m.peer_url
                ),
            ],
        ));
        steps.push(step(
            format!(
                "Start {} with an empty data dir and --initial-cluster-state existing",
                m.name
            ),
            None,
            vec![aside, format!("run $ON_{n} \"$START_EXISTING_{n}\"")],
        ));
    }
    steps.push(verify_step("Verify the cluster"));
    Ok(Runbook {
        title: format!("Rejoin {} to the etcd cluster", m.name),
        summary: format!(
            "{} is still in the member list but its data is gone or stale, so it cannot rejoin (kubeadm: `check-etcd ... context deadline exceeded`); remove it, add it back, and start it empty so it copies the data from the leader.",
            m.name
        ),
        sources: Vec::new(),
        variables,
        steps,
    })
}
