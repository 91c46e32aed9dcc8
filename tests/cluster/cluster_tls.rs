//! A real etcd 3.5 cluster serving https with client-certificate auth and
//! certificates laid out like kubeadm's: the right CA and client
//! certificate work for gRPC and /metrics (flags, ETCDCTL_* variables, and
//! `--kubeadm --manifest` with no other flag), `snapshot save` honours the
//! same flags and the manifest; a wrong CA, a missing key, an expired
//! certificate and a missing client certificate each end in one line
//! naming the file or the cause, exit 2.

use std::path::Path;
use std::process::Output;

use crate::support::certs::Pki;
use crate::support::doctor::{doctor, exits, report};
use crate::support::etcd::{Cluster, ServerTls, Version};
use serde_json::Value;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cluster status` with `flags`; asserts exit 2 and one stderr line,
/// returned.
fn refused(c: &Cluster, flags: &[&str]) -> String {
    let out = exits(
        doctor("cluster status --dial-timeout 2s --endpoints")
            .arg(c.members[0].client_url())
            .args(flags),
        2,
    );
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

pub(crate) fn tls_cluster(pki: &Pki) -> Cluster {
    Cluster::start_tls(
        Version::V35,
        3,
        ServerTls {
            ca: pki.file("ca.crt"),
            cert: pki.file("server.crt"),
            key: pki.file("server.key"),
            client_cert: pki.file("healthcheck-client.crt"),
            client_key: pki.file("healthcheck-client.key"),
        },
    )
}

fn flags(pki: &Pki, cert: &str) -> Vec<String> {
    vec![
        format!("--cacert={}", pki.file("ca.crt").display()),
        format!("--cert={}", pki.file(&format!("{cert}.crt")).display()),
        format!("--key={}", pki.file(&format!("{cert}.key")).display()),
    ]
}

/// The ids etcdctl reports, sorted.
fn etcdctl_ids(c: &Cluster) -> Vec<String> {
    let out = c.etcdctl(&["member", "list", "-w", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<String> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{:016x}", m["ID"].as_u64().unwrap()))
        .collect();
    ids.sort();
    ids
}

fn status_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["cluster"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("none").to_string())
        .collect();
    ids.sort();
    ids
}

/// A kubeadm-like static pod manifest for member 0 of `c`.
fn manifest(c: &Cluster, pki: &Pki, dir: &Path) -> std::path::PathBuf {
    let m = &c.members[0];
    let pki = pki.dir().display();
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - command:\n    - etcd\n    - --advertise-client-urls={url}\n    - --cert-file={pki}/server.crt\n    - --client-cert-auth=true\n    - --data-dir={data}\n    - --key-file={pki}/server.key\n    - --listen-client-urls={url}\n    - --name={name}\n    - --peer-cert-file={pki}/peer.crt\n    - --peer-key-file={pki}/peer.key\n    - --trusted-ca-file={pki}/ca.crt\n    image: registry.k8s.io/etcd:3.5.9-0\n    name: etcd\n",
        url = m.client_url(),
        data = m.data_dir.display(),
        name = m.name,
    );
    let path = dir.join("etcd.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn tls_cluster_with_client_certificates() {
    let pki = Pki::generate();
    let c = tls_cluster(&pki);
    let ids = etcdctl_ids(&c);
    let ep = c.members[0].client_url();

    // Flags: status over https with the kubeadm-style RSA client key.
    let status = "cluster status --cluster -w json";
    let flagged = report(
        doctor(status)
            .args(["--endpoints", &ep])
            .args(flags(&pki, "healthcheck-client")),
        0,
    );
    assert_eq!(status_ids(&flagged), ids);

    // ETCDCTL_* variables as defaults; metrics over https with the client certificate.
    let metrics = report(
        doctor("cluster metrics --interval 0 -w json")
            .env("ETCDCTL_ENDPOINTS", &ep)
            .env("ETCDCTL_CACERT", pki.file("ca.crt"))
            .env("ETCDCTL_CERT", pki.file("peer.crt"))
            .env("ETCDCTL_KEY", pki.file("peer.key")),
        0,
    );
    let metrics = metrics["cluster"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 3);
    for m in metrics {
        assert!(m["url"].as_str().unwrap().starts_with("https://"), "{m}");
        assert!(m.get("error").is_none(), "{m}");
        assert!(m["wal_fsync"]["count"].as_u64().unwrap() > 0, "{m}");
    }

    // --insecure-skip-tls-verify: a CA that does not match is not consulted.
    let mut insecure = flags(&pki, "healthcheck-client");
    insecure[0] = format!("--cacert={}", pki.file("other-ca.crt").display());
    insecure.push("--insecure-skip-tls-verify".into());
    let health = report(
        doctor("cluster health -w json --endpoints")
            .arg(&ep)
            .args(&insecure),
        0,
    );
    assert_eq!(health["cluster"]["health"][0]["health"], true);

    // kubeadm discovery: no flag but the manifest.
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(&c, &pki, dir.path());
    let discovered = report(
        doctor(status)
            .arg("--kubeadm")
            .arg("--manifest")
            .arg(&manifest),
        0,
    );
    assert_eq!(status_ids(&discovered), ids);
    let conn = &discovered["cluster"]["connection"];
    assert_eq!(
        conn["cert"],
        pki.file("healthcheck-client.crt").display().to_string()
    );
    assert_eq!(conn["cacert"], pki.file("ca.crt").display().to_string());

    // snapshot save honours the same flags, and kubeadm discovery with no
    // other flag reaches the same member and data.
    c.put_keys(20);
    let saved = |args: &mut std::process::Command, name: &str| {
        let file = dir.path().join(name);
        let r = report(args.arg(&file), 0);
        assert!(file.is_file(), "{name}");
        r["snapshot"].clone()
    };
    let by_flags = saved(
        doctor("snapshot save -w json --endpoints")
            .arg(&ep)
            .args(flags(&pki, "healthcheck-client")),
        "snap.db",
    );
    let by_manifest = saved(
        doctor("snapshot save -w json --manifest").arg(&manifest),
        "snap-kubeadm.db",
    );
    assert!(by_flags["revision"].as_i64().unwrap() > 0, "{by_flags}");
    for field in ["revision", "total_keys"] {
        assert_eq!(by_flags[field], by_manifest[field], "{field}");
    }

    // Error paths: one line, exit 2, naming the file or the cause.
    let other_ca = pki.file("other-ca.crt").display().to_string();
    let mut wrong_ca = flags(&pki, "healthcheck-client");
    wrong_ca[0] = format!("--cacert={other_ca}");
    let err = refused(&c, &wrong_ca.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains(&format!("not signed by the CA in --cacert {other_ca}")),
        "{err}"
    );

    let missing = dir.path().join("missing.key");
    let mut no_key = flags(&pki, "healthcheck-client");
    no_key[2] = format!("--key={}", missing.display());
    let err = refused(&c, &no_key.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains(&format!(
            "--key {}: cannot read the file",
            missing.display()
        )),
        "{err}"
    );

    let expired = flags(&pki, "expired-client");
    let err = refused(&c, &expired.iter().map(String::as_str).collect::<Vec<_>>());
    let expired_path = pki.file("expired-client.crt").display().to_string();
    assert!(
        err.contains(&format!("--cert {expired_path}: certificate expired on")),
        "{err}"
    );

    let ca_only = [format!("--cacert={}", pki.file("ca.crt").display())];
    let err = refused(&c, &ca_only.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("check --cert and --key"), "{err}");
}
