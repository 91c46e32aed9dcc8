//! Recovery runbooks as data: the field guide's Section 4 restore (every
//! member restored from one snapshot with its own name and the full
//! initial-cluster list), its force-new-cluster path (one member keeps its
//! data, the others are added back one by one) and the fix for its failed
//! rejoin (a wiped member still listed). A [`Runbook`] is variables plus
//! steps of shell commands; [`super::render`] turns it into a script or
//! Markdown, so both formats carry exactly the same commands.
//!
//! Every command on a member's host runs as `$ON_<n> "<command>"`: `ON_<n>`
//! defaults to `ssh root@<host>`, and any runner taking the command as one
//! argument works (`ip netns exec NS sh -c`, `sh -c` for the local host).

use std::path::PathBuf;

use thiserror::Error;

/// How to rebuild the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Restore every member from a snapshot (new cluster id, same data).
    Restore,
    /// Restart the first member with `--force-new-cluster`, add the others back.
    ForceNewCluster,
}

/// Which binary restores a snapshot: `etcdutl` from 3.5, `etcdctl` in 3.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreTool {
    /// `etcdutl snapshot restore` (etcd 3.5 and later).
    Etcdutl,
    /// `etcdctl snapshot restore` (etcd 3.4).
    Etcdctl,
}

impl RestoreTool {
    /// The tool for members running `version` (e.g. `3.4.30`); 3.5 when unknown.
    pub fn for_version(version: Option<&str>) -> RestoreTool {
        match version {
            Some(v) if v.starts_with("3.4") || v.starts_with("3.3") => RestoreTool::Etcdctl,
            _ => RestoreTool::Etcdutl,
        }
    }
}

/// One member as the runbook addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMember {
    /// Member name (`--name`).
    pub name: String,
    /// Peer URL (`--initial-advertise-peer-urls`).
    pub peer_url: String,
    /// Client URL the verification commands talk to.
    pub client_url: String,
    /// Member id as 16 hex digits, when read from the live cluster.
    pub id: Option<String>,
}

impl PlanMember {
    /// The host part of the peer URL (what `ssh` connects to).
    pub fn host(&self) -> &str {
        let rest = self.peer_url.split("://").nth(1).unwrap_or(&self.peer_url);
        let authority = rest.split('/').next().unwrap_or(rest);
        match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        }
    }
}

/// TLS files for the etcdctl commands in the runbook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `--cacert`.
    pub cacert: Option<PathBuf>,
    /// `--cert`.
    pub cert: Option<PathBuf>,
    /// `--key`.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// The etcdctl flags, space-separated (empty without TLS).
    fn flags(&self) -> String {
        [
            ("cacert", &self.cacert),
            ("cert", &self.cert),
            ("key", &self.key),
        ]
        .iter()
        .filter_map(|(flag, path)| path.as_ref().map(|p| format!("--{flag}={}", p.display())))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// Everything a restore or force-new-cluster runbook depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSpec {
    /// Rebuild method.
    pub method: Method,
    /// The snapshot file (required for [`Method::Restore`]).
    pub snapshot: Option<PathBuf>,
    /// Members of the rebuilt cluster, the first one kept by force-new-cluster.
    pub members: Vec<PlanMember>,
    /// Data dir every member runs with.
    pub data_dir: PathBuf,
    /// `--initial-cluster-token` of the restored cluster.
    pub token: String,
    /// kubeadm static pods (manifest moves) instead of a service manager.
    pub kubeadm: bool,
    /// Which binary restores.
    pub tool: RestoreTool,
    /// TLS files for etcdctl.
    pub tls: TlsFiles,
}

/// Everything the rejoin runbook depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejoinSpec {
    /// The member to remove and add back.
    pub member: PlanMember,
    /// All members as listed now, `member` included.
    pub members: Vec<PlanMember>,
    /// Data dir the member runs with.
    pub data_dir: PathBuf,
    /// kubeadm control plane (re-run `kubeadm join`) instead of a service manager.
    pub kubeadm: bool,
    /// TLS files for etcdctl.
    pub tls: TlsFiles,
}

/// Why a runbook cannot be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    /// No members to plan for.
    #[error("no members: give --members name=peerURL,... or --endpoints of a live cluster")]
    NoMembers,
    /// A value would break the shell commands it is pasted into.
    #[error("{flag}: {value:?} contains characters unsafe in a shell command (allowed: letters, digits and -._:/@[]%=,+)")]
    Unsafe {
        /// The flag the value came from.
        flag: &'static str,
        /// The value.
        value: String,
    },
    /// Two members share a name.
    #[error("--members: member name {0:?} appears twice")]
    DuplicateName(String),
    /// The restore method needs a snapshot.
    #[error("--snapshot is required for --method restore")]
    NoSnapshot,
    /// The rejoin member's id is unknown (it comes from the live member list).
    #[error("--member: the member id of {0:?} is unknown; the rejoin plan reads it from the live member list (--endpoints)")]
    NoId(String),
    /// The rejoin member is not in the list.
    #[error("--member: no member named {name:?} (members: {known})")]
    UnknownMember {
        /// Name asked for.
        name: String,
        /// Names listed.
        known: String,
    },
}

/// Checks that `value` can be pasted into a shell command unquoted.
pub fn shell_safe(flag: &'static str, value: &str) -> Result<(), PlanError> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:/@[]%=,+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(PlanError::Unsafe {
            flag,
            value: value.to_string(),
        })
    }
}

/// A shell variable at the top of the runbook, which operators adapt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Name (`[A-Z_0-9]+`).
    pub name: String,
    /// Default value.
    pub value: String,
    /// What it is for.
    pub doc: String,
}

/// One step: a title, an optional note, shell commands (POSIX sh, using the
/// runbook's variables and the `run`/`retry` helpers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the step does.
    pub title: String,
    /// Why, or what to check by hand.
    pub note: Option<String>,
    /// Commands, in order.
    pub commands: Vec<String>,
}

/// A runbook: variables, then steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    /// Title.
    pub title: String,
    /// One paragraph on when to use it.
    pub summary: String,
    /// Variables, in order.
    pub variables: Vec<Variable>,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

fn var(name: impl Into<String>, value: impl Into<String>, doc: impl Into<String>) -> Variable {
    Variable {
        name: name.into(),
        value: value.into(),
        doc: doc.into(),
    }
}

fn step(title: impl Into<String>, note: Option<&str>, commands: Vec<String>) -> Step {
    Step {
        title: title.into(),
        note: note.map(str::to_string),
        commands,
    }
}

/// `name=peerURL,...` for `--initial-cluster`.
fn initial_cluster(members: &[PlanMember]) -> String {
    members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url))
        .collect::<Vec<_>>()
        .join(",")
}

/// Validates member names and URLs (unique, shell-safe).
fn check_members(members: &[PlanMember]) -> Result<(), PlanError> {
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
fn common_variables(members: &[PlanMember], data_dir: &str, tls: &TlsFiles) -> Vec<Variable> {
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
fn etcd_service(kubeadm: bool, n: usize, start: bool) -> Vec<String> {
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
fn service_variables(
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
fn verify_step(title: &str) -> Step {
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
    steps.push(step(
        format!("Restore each member into a fresh data dir ({tool_bin} snapshot restore)"),
        Some("Each member gets its own --name and peer URL and the same --initial-cluster and token; the restore checks the snapshot's sha256."),
        each(&|n, m| {
            vec![format!(
                "run $ON_{n} \"${tool_var} snapshot restore $REMOTE_SNAPSHOT --name {} --initial-cluster {cluster} --initial-cluster-token {} --initial-advertise-peer-urls {} --data-dir $DATA_DIR_{n}.restored-$STAMP\"",
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
        variables,
        steps,
    })
}

/// Sets `--initial-cluster` and `--initial-cluster-state existing` in a stashed kubeadm manifest.
fn manifest_join_edit(n: usize, cluster: &str) -> String {
    format!(
        "run $ON_{n} \"sed -i -e '/--initial-cluster-state=/d' -e 's|^\\( *\\)- --initial-cluster=.*|\\1- --initial-cluster={cluster}\\n\\1- --initial-cluster-state=existing|' $MANIFEST_STASH/etcd.yaml\""
    )
}

/// Starts member `n` with `--initial-cluster` = `cluster` and state existing.
fn start_existing(kubeadm: bool, n: usize, cluster: &str) -> Vec<String> {
    if kubeadm {
        vec![
            manifest_join_edit(n, cluster),
            format!("run $ON_{n} \"mv $MANIFEST_STASH/etcd.yaml $MANIFESTS/\""),
        ]
    } else {
        vec![format!("run $ON_{n} \"$START_EXISTING_{n}\"")]
    }
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
            format!("run $ON_1 \"$ETCDCTL $ETCDCTL_TLS {endpoint_1} member add {} --peer-urls={}\"", m.name, m.peer_url),
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
        variables,
        steps,
    }
}

/// Builds the runbook for a member that is still listed but lost its data
/// (the field guide's failed rejoin).
pub fn rejoin_runbook(spec: &RejoinSpec) -> Result<Runbook, PlanError> {
    check_members(&spec.members)?;
    shell_safe("--data-dir", &spec.data_dir.to_string_lossy())?;
    let m = &spec.member;
    let n = spec
        .members
        .iter()
        .position(|o| o.name == m.name)
        .map(|i| i + 1)
        .ok_or_else(|| PlanError::UnknownMember {
            name: m.name.clone(),
            known: spec
                .members
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
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
        variables,
        steps,
    })
}
