//! The field guide's two ways back from a lost cluster: every member
//! restored from one snapshot, or one member forced into a new cluster and
//! the others added back one by one.

use super::model::{
    shell_safe, Method, PlanError, PlanMember, RestoreSpec, RestoreTool, Runbook, Step,
};
use super::steps::{
    check_members, common_variables, etcd_service, initial_cluster, service_variables,
    start_existing, step, var, verify_step,
};

/// Builds the restore or force-new-cluster runbook.
pub fn restore_runbook(spec: &RestoreSpec) -> Result<Runbook, PlanError> {
    check_members(&spec.members)?;
    shell_safe("--initial-cluster-token", &spec.token)?;
    shell_safe("--data-dir", &spec.data_dir.to_string_lossy())?;
    match spec.method {
        Method::Restore => restore(spec),
        Method::ForceNewCluster => Ok(force_new_cluster(spec)),
    }
}

/// Moves kube-apiserver out on every member (kubeadm only).
fn apiserver_steps(spec: &RestoreSpec, back: bool) -> Option<Step> {
    if !spec.kubeadm {
        return None;
    }
    let n = spec.members.len();
    let commands = (1..=n)
        .flat_map(|i| {
            if back {
                vec![format!("run $ON_{i} \"mv $MANIFEST_STASH/kube-apiserver.yaml $MANIFESTS/\"")]
            } else {
                vec![
                    format!("run $ON_{i} \"mv $MANIFESTS/kube-apiserver.yaml $MANIFEST_STASH/\""),
                    format!("retry run $ON_{i} \"! crictl ps -q --name kube-apiserver | grep -q .\""),
                ]
            }
        })
        .chain(back.then(|| "retry run $ON_1 \"kubectl --kubeconfig=/etc/kubernetes/admin.conf get nodes -o wide\"".to_string()))
        .collect();
    Some(if back {
        step(
            "Start kube-apiserver on every member and check the nodes",
            None,
            commands,
        )
    } else {
        step(
            "Stop kube-apiserver on every member",
            Some("Nothing may write to etcd while it is restored."),
            commands,
        )
    })
}

/// Starts every restored member. A service manager's start runs in the
/// background on all members at once, then each is waited for: a restored
/// member serves only once a quorum runs, and `systemctl start` of a
/// `Type=notify` unit (Debian's, etcd's own) returns only then, so starting
/// one after the other would hang on the first until systemd's start
/// timeout failed it. kubelet starts static pods by itself.
fn start_restored(kubeadm: bool, members: usize) -> Step {
    let title = "Start etcd on every member";
    if kubeadm {
        let commands = (1..=members).flat_map(|n| etcd_service(true, n, true));
        return step(title, None, commands.collect());
    }
    let started = (1..=members).flat_map(|n| {
        etcd_service(false, n, true)
            .into_iter()
            .map(move |start| format!("{start} & started_{n}=$!"))
    });
    let waits = (1..=members).map(|n| format!("wait $started_{n}"));
    step(
        title,
        Some("All at once, then wait for each: a restored member is ready only once a quorum of members runs, and `systemctl start` waits for ready (Type=notify)."),
        started.chain(waits).collect(),
    )
}

fn restore(spec: &RestoreSpec) -> Result<Runbook, PlanError> {
    let snapshot = spec.snapshot.as_ref().ok_or(PlanError::NoSnapshot)?;
    shell_safe("--snapshot", &snapshot.to_string_lossy())?;
    let members = &spec.members;
    let cluster = initial_cluster(members);
    let (tool_var, tool_bin) = match spec.tool {
        RestoreTool::Etcdutl => ("ETCDUTL", "etcdutl"),
        RestoreTool::Etcdctl => ("ETCDCTL", "etcdctl"),
    };
    let mut variables = vec![
        var(
            "SNAPSHOT",
            snapshot.to_string_lossy(),
            "the verified snapshot, on this host",
        ),
        var(
            "REMOTE_SNAPSHOT",
            "/var/tmp/etcd-doctor-restore.db",
            "where each member's copy goes",
        ),
        var(
            "ETCD_DOCTOR",
            "etcd-doctor",
            "etcd-doctor binary on this host",
        ),
    ];
    if spec.tool == RestoreTool::Etcdutl {
        variables.push(var(
            "ETCDUTL",
            tool_bin,
            "etcdutl binary on the members' hosts",
        ));
    }
    variables.extend(common_variables(
        members,
        &spec.data_dir.to_string_lossy(),
        &spec.tls,
    ));
    variables.extend(service_variables(spec.kubeadm, members, |_| true));
    let each = |f: &dyn Fn(usize, &PlanMember) -> Vec<String>| -> Vec<String> {
        members
            .iter()
            .enumerate()
            .flat_map(|(i, m)| f(i + 1, m))
            .collect()
    };
    let mut steps = vec![step(
        "Check the snapshot",
        Some("Refuse to go on with a truncated or modified file."),
        vec!["run $ETCD_DOCTOR snapshot verify \"$SNAPSHOT\"".into()],
    )];
    steps.extend(apiserver_steps(spec, false));
    steps.push(step(
        "Stop etcd on every member",
        None,
        each(&|n, _| etcd_service(spec.kubeadm, n, false)),
    ));
    steps.push(step(
        "Copy the snapshot to every member",
        None,
        each(&|n, _| {
            vec![format!(
                "run $ON_{n} \"cat > $REMOTE_SNAPSHOT\" < \"$SNAPSHOT\""
            )]
        }),
    ));
    let (bump, note) = match spec.bump_revision {
        Some(n) => (
            format!(" --bump-revision {n} --mark-compacted"),
            format!("Each member gets its own --name and peer URL and the same --initial-cluster and token; the restore checks the snapshot's sha256. The revision moves {n} ahead, marked compacted: watchers at an older revision (kube-apiserver's caches) see a compaction and start over instead of missing changes."),
        ),
        None => (String::new(), "Each member gets its own --name and peer URL and the same --initial-cluster and token; the restore checks the snapshot's sha256.".to_string()),
    };
    steps.push(step(
        format!("Restore each member into a fresh data dir ({tool_bin} snapshot restore)"),
        Some(&note),
        each(&|n, m| {
            vec![format!(
                "run $ON_{n} \"${tool_var} snapshot restore $REMOTE_SNAPSHOT --name {} --initial-cluster {cluster} --initial-cluster-token {} --initial-advertise-peer-urls {} --data-dir $DATA_DIR_{n}.restored-$STAMP{bump}\"",
                m.name, spec.token, m.peer_url
            )]
        }),
    ));
    steps.push(step(
        "Move the old data dirs aside and the restored ones into place",
        Some("The old data stays in DATA_DIR.before-restore-STAMP until the cluster is verified."),
        each(&|n, _| {
            vec![format!(
                "run $ON_{n} \"if [ -e $DATA_DIR_{n} ]; then mv $DATA_DIR_{n} $DATA_DIR_{n}.before-restore-$STAMP; fi; mv $DATA_DIR_{n}.restored-$STAMP $DATA_DIR_{n}\""
            )]
        }),
    ));
    steps.push(start_restored(spec.kubeadm, members.len()));
    steps.push(verify_step("Verify the restored etcd cluster"));
    steps.extend(apiserver_steps(spec, true));
    Ok(Runbook {
        title: format!("Restore etcd from {}", snapshot.display()),
        summary: format!(
            "Rebuilds the {}-member cluster {} from one snapshot: every member restored with its own name, the same initial cluster and token {}.",
            members.len(),
            members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
            spec.token
        ),
        sources: Vec::new(),
        variables,
        steps,
    })
}

fn force_new_cluster(spec: &RestoreSpec) -> Runbook {
    let members = &spec.members;
    let first = &members[0];
    let mut variables = common_variables(members, &spec.data_dir.to_string_lossy(), &spec.tls);
    variables.extend(service_variables(spec.kubeadm, members, |n| n == 1));
    if !spec.kubeadm {
        variables.push(var(
            "START_FORCE_1",
            "systemctl start etcd",
            format!(
                "starts etcd on {} once WITH --force-new-cluster added to its flags",
                first.name
            ),
        ));
        for (i, m) in members.iter().enumerate().skip(1) {
            variables.push(var(
                format!("START_EXISTING_{}", i + 1),
                "systemctl start etcd",
                format!("starts etcd on {} with the --initial-cluster printed in its step and --initial-cluster-state existing", m.name),
            ));
        }
    }
    let mut steps = vec![step(
        "Stop etcd on every member",
        None,
        (1..=members.len())
            .flat_map(|n| etcd_service(spec.kubeadm, n, false))
            .collect(),
    )];
    let endpoint_1 = format!("--endpoints={}", first.client_url);
    let (force_on, force_off) = if spec.kubeadm {
        (
            vec![
                format!("run $ON_1 \"sed -i 's|^\\( *\\)- --data-dir=|\\1- --force-new-cluster\\n&|' $MANIFEST_STASH/etcd.yaml\""),
                "run $ON_1 \"mv $MANIFEST_STASH/etcd.yaml $MANIFESTS/\"".to_string(),
            ],
            [
                etcd_service(true, 1, false),
                vec!["run $ON_1 \"sed -i '/- --force-new-cluster/d' $MANIFEST_STASH/etcd.yaml\"".into()],
                etcd_service(true, 1, true),
            ]
            .concat(),
        )
    } else {
        (
            vec!["run $ON_1 \"$START_FORCE_1\"".into()],
            [etcd_service(false, 1, false), etcd_service(false, 1, true)].concat(),
        )
    };
    let health_1 =
        format!("retry run $ON_1 \"$ETCDCTL $ETCDCTL_TLS {endpoint_1} endpoint health\"");
    steps.push(step(
        format!("Start {} alone with --force-new-cluster", first.name),
        Some("It keeps its data and forgets every other member."),
        [force_on, vec![health_1.clone()]].concat(),
    ));
    steps.push(step(
        format!("Restart {} without --force-new-cluster", first.name),
        Some("Left in place, the flag would drop the re-added members at the next restart."),
        [force_off, vec![health_1]].concat(),
    ));
    for (i, m) in members.iter().enumerate().skip(1) {
        let n = i + 1;
        let cluster = initial_cluster(&members[..=i]);
        let mut commands = vec![
            // etcd refuses a member add ("unhealthy cluster") until the
            // leader has been connected to every peer for 5 s.
            format!("retry run $ON_1 \"$ETCDCTL $ETCDCTL_TLS {endpoint_1} member add {} --peer-urls={}\"", m.name, m.peer_url),
            format!("run $ON_{n} \"if [ -e $DATA_DIR_{n} ]; then mv $DATA_DIR_{n} $DATA_DIR_{n}.before-rejoin-$STAMP; fi\""),
        ];
        commands.extend(start_existing(spec.kubeadm, n, &cluster));
        commands.push(format!(
            "retry run $ON_1 \"$ETCDCTL $ETCDCTL_TLS --endpoints={} endpoint health\"",
            m.client_url
        ));
        let note = format!("{} starts empty with --initial-cluster={cluster} --initial-cluster-state existing and copies the data from the leader.", m.name);
        steps.push(step(format!("Add {} back", m.name), Some(&note), commands));
    }
    steps.push(verify_step("Verify the cluster"));
    Runbook {
        title: format!("Rebuild etcd around {} with --force-new-cluster", first.name),
        summary: format!(
            "{} keeps its data and becomes a one-member cluster; the other members are added back one at a time with empty data dirs (the field guide's binary-deployment path).",
            first.name
        ),
        sources: Vec::new(),
        variables,
        steps,
    }
}
