//! Rendered runbooks for a fixed member list (the field guide's three
//! kubeadm masters), pinned with insta: restore as a script and as Markdown,
//! force-new-cluster and rejoin as Markdown. Also checks the scripts parse
//! with `sh -n`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use etcd_doctor::report::format::runbook::{render, RunbookFormat};
use etcd_doctor::snapshot::plan::{
    rejoin_runbook, restore_runbook, Method, PlanMember, RejoinSpec, RestoreSpec, RestoreTool,
    Runbook, TlsFiles,
};

fn guide_members() -> Vec<PlanMember> {
    [
        ("k8s-master01", 85, "63607c0f73ed60dd"),
        ("k8s-master02", 86, "ad45a8944d9cf673"),
        ("k8s-master03", 87, "500d007f149125c3"),
    ]
    .iter()
    .map(|(name, ip, id)| PlanMember {
        name: name.to_string(),
        peer_url: format!("https://192.168.20.{ip}:2380"),
        client_url: format!("https://192.168.20.{ip}:2379"),
        id: Some((*id).into()),
    })
    .collect()
}

fn tls() -> TlsFiles {
    TlsFiles {
        cacert: Some(PathBuf::from("/etc/kubernetes/pki/etcd/ca.crt")),
        cert: Some(PathBuf::from("/etc/kubernetes/pki/etcd/peer.crt")),
        key: Some(PathBuf::from("/etc/kubernetes/pki/etcd/peer.key")),
    }
}

fn spec(method: Method, kubeadm: bool) -> RestoreSpec {
    RestoreSpec {
        method,
        snapshot: Some(PathBuf::from(
            "/data/etcd_backup_dir/etcd-snapshot-20230628.db",
        )),
        members: guide_members(),
        data_dir: PathBuf::from("/var/lib/etcd"),
        token: "etcd-cluster-restored".into(),
        kubeadm,
        tool: RestoreTool::Etcdutl,
        bump_revision: None,
        tls: tls(),
    }
}

fn text(runbook: &Runbook, format: RunbookFormat) -> String {
    let mut out = Vec::new();
    render(runbook, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// `sh -n`: the script parses.
fn assert_parses(script: &str) {
    let mut sh = Command::new("sh")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = sh.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kubeadm_restore_plan_as_script() {
    let script = text(
        &restore_runbook(&spec(Method::Restore, true)).unwrap(),
        RunbookFormat::Sh,
    );
    assert_parses(&script);
    insta::assert_snapshot!(script.replace(env!("CARGO_PKG_VERSION"), "VERSION"));
}

#[test]
fn kubeadm_restore_plan_as_markdown() {
    let md = text(
        &restore_runbook(&spec(Method::Restore, true)).unwrap(),
        RunbookFormat::Markdown,
    );
    insta::assert_snapshot!(md);
}

#[test]
fn force_new_cluster_plan_as_markdown_and_script() {
    for kubeadm in [false, true] {
        let runbook = restore_runbook(&spec(Method::ForceNewCluster, kubeadm)).unwrap();
        assert_parses(&text(&runbook, RunbookFormat::Sh));
    }
    let md = text(
        &restore_runbook(&spec(Method::ForceNewCluster, false)).unwrap(),
        RunbookFormat::Markdown,
    );
    insta::assert_snapshot!(md);
}

#[test]
fn rejoin_plan_as_markdown() {
    let members = guide_members();
    let runbook = rejoin_runbook(&RejoinSpec {
        member: members[2].clone(),
        members,
        data_dir: PathBuf::from("/var/lib/etcd"),
        kubeadm: false,
        tls: tls(),
    })
    .unwrap();
    assert_parses(&text(&runbook, RunbookFormat::Sh));
    insta::assert_snapshot!(text(&runbook, RunbookFormat::Markdown));
}

#[test]
fn etcd34_restores_with_etcdctl_and_unsafe_values_are_refused() {
    let mut s = spec(Method::Restore, false);
    s.tool = RestoreTool::for_version(Some("3.4.30"));
    let script = text(&restore_runbook(&s).unwrap(), RunbookFormat::Sh);
    assert!(script.contains("\"$ETCDCTL snapshot restore $REMOTE_SNAPSHOT --name k8s-master01 "));
    assert!(!script.contains("ETCDUTL"));
    s.token = "tok; rm -rf /".into();
    let err = restore_runbook(&s).unwrap_err().to_string();
    assert!(err.starts_with("--initial-cluster-token"), "{err}");
    s.token = "ok".into();
    s.snapshot = None;
    assert_eq!(
        restore_runbook(&s).unwrap_err().to_string(),
        "--snapshot is required for --method restore"
    );
}
