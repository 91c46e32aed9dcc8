//! The building blocks the restore and rejoin runbooks share: variables,
//! member checks, service stop/start commands and the verification step.

use super::model::{shell_safe, PlanError, PlanMember, Step, TlsFiles, Variable};

pub(super) fn var(
    name: impl Into<String>,
    value: impl Into<String>,
    doc: impl Into<String>,
) -> Variable {
    Variable {
        name: name.into(),
        value: value.into(),
        doc: doc.into(),
    }
}

pub(super) fn step(title: impl Into<String>, note: Option<&str>, commands: Vec<String>) -> Step {
    Step {
        title: title.into(),
        note: note.map(str::to_string),
        commands,
    }
}

/// `name=peerURL,...` for `--initial-cluster`.
pub(super) fn initial_cluster(members: &[PlanMember]) -> String {
    members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url))
        .collect::<Vec<_>>()
        .join(",")
}

/// Validates member names and URLs (unique, shell-safe).
pub(super) fn check_members(members: &[PlanMember]) -> Result<(), PlanError> {
    if members.is_empty() {
        return Err(PlanError::NoMembers);
    }
    for (i, m) in members.iter().enumerate() {
        shell_safe("--members", &m.name)?;
        shell_safe("--members", &m.peer_url)?;
        shell_safe("--members", &m.client_url)?;
        if members[..i].iter().any(|o| o.name == m.name) {
            return Err(PlanError::DuplicateName(m.name.clone()));
        }
    }
    Ok(())
}

/// Variables every runbook shares: runners, data dirs, binaries, TLS, endpoints.
pub(super) fn common_variables(
    members: &[PlanMember],
    data_dir: &str,
    tls: &TlsFiles,
) -> Vec<Variable> {
    let mut vars = vec![
        var("ETCDCTL", "etcdctl", "etcdctl binary on the members' hosts"),
        var("ETCDCTL_TLS", tls.flags(), "etcdctl TLS flags"),
        var(
            "ENDPOINTS",
            members
                .iter()
                .map(|m| m.client_url.as_str())
                .collect::<Vec<_>>()
                .join(","),
            "client URLs the verification commands ask",
        ),
        var(
            "STAMP",
            "$(date +%Y%m%d-%H%M%S)",
            "suffix of the directories moved aside",
        ),
        var("TRIES", "60", "health checks (2 s apart) before giving up"),
    ];
    for (i, m) in members.iter().enumerate() {
        let n = i + 1;
        vars.push(var(
            format!("ON_{n}"),
            format!("ssh root@{}", m.host()),
            format!("runs one command string on {}'s host", m.name),
        ));
        vars.push(var(
            format!("DATA_DIR_{n}"),
            data_dir,
            format!("data dir of {}", m.name),
        ));
    }
    vars
}

/// Stop (`out`) or start etcd on member `n` the deployment's way.
pub(super) fn etcd_service(kubeadm: bool, n: usize, start: bool) -> Vec<String> {
    match (kubeadm, start) {
        (true, false) => vec![
            format!("run $ON_{n} \"mv $MANIFESTS/etcd.yaml $MANIFEST_STASH/\""),
            format!("retry run $ON_{n} \"! crictl ps -q --name '^etcd$' | grep -q .\""),
        ],
        (true, true) => vec![format!(
            "run $ON_{n} \"mv $MANIFEST_STASH/etcd.yaml $MANIFESTS/\""
        )],
        (false, false) => vec![format!("run $ON_{n} \"$STOP_{n}\"")],
        (false, true) => vec![format!("run $ON_{n} \"$START_{n}\"")],
    }
}

/// kubeadm manifest directories, or per-member service commands (`START_<n>`
/// only for the members `start` selects).
pub(super) fn service_variables(
    kubeadm: bool,
    members: &[PlanMember],
    start: fn(usize) -> bool,
) -> Vec<Variable> {
    if kubeadm {
        return vec![
            var(
                "MANIFESTS",
                "/etc/kubernetes/manifests",
                "kubelet's static pod directory",
            ),
            var(
                "MANIFEST_STASH",
                "/etc/kubernetes",
                "where manifests wait while their pods are stopped",
            ),
        ];
    }
    let mut vars = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let n = i + 1;
        vars.push(var(
            format!("STOP_{n}"),
            "systemctl stop etcd",
            format!("stops etcd on {}", m.name),
        ));
        if start(n) {
            vars.push(var(
                format!("START_{n}"),
                "systemctl start etcd",
                format!(
                    "starts etcd on {} with its usual flags and DATA_DIR_{n}",
                    m.name
                ),
            ));
        }
    }
    vars
}

/// The verification step: health of every member, then the status and member tables.
pub(super) fn verify_step(title: &str) -> Step {
    step(
        title,
        Some("Every member must be healthy, with the same raft term and index."),
        vec![
            "retry run $ON_1 \"$ETCDCTL $ETCDCTL_TLS --endpoints=$ENDPOINTS endpoint health\""
                .into(),
            "run $ON_1 \"$ETCDCTL $ETCDCTL_TLS --endpoints=$ENDPOINTS endpoint status -w table\""
                .into(),
            "run $ON_1 \"$ETCDCTL $ETCDCTL_TLS --endpoints=$ENDPOINTS member list -w table\""
                .into(),
        ],
    )
}

/// Sets `--initial-cluster` and `--initial-cluster-state existing` in a stashed kubeadm manifest.
pub(super) fn manifest_join_edit(n: usize, cluster: &str) -> String {
    format!(
        "run $ON_{n} \"sed -i -e '/--initial-cluster-state=/d' -e 's|^\\( *\\)- --initial-cluster=.*|\\1- --initial-cluster={cluster}\\n\\1- --initial-cluster-state=existing|' $MANIFEST_STASH/etcd.yaml\""
    )
}

/// Starts member `n` with `--initial-cluster` = `cluster` and state existing.
pub(super) fn start_existing(kubeadm: bool, n: usize, cluster: &str) -> Vec<String> {
    if kubeadm {
        vec![
            manifest_join_edit(n, cluster),
            format!("run $ON_{n} \"mv $MANIFEST_STASH/etcd.yaml $MANIFESTS/\""),
        ]
    } else {
        vec![format!("run $ON_{n} \"$START_EXISTING_{n}\"")]
    }
}
