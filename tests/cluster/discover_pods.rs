//! Discovery on fixture hosts laid out as kubeadm and OpenShift control
//! planes (see `discover_hosts` for the namespaces). /etc of the host is
//! the test machine's under an overlay whose upper layer is the fixture's
//! own directory, so /etc/kubernetes can exist; a tmpfs is mounted over
//! /etc/kubernetes (and /var/log) and the manifests, certificates and pod
//! logs are written at their real paths. etcd 3.5 runs with the layout's
//! own flags, as the static pod would, inside a cgroup whose path is a
//! kubelet pod's (`kubepods/<qos>/pod<uid>/<container id>`, cgroup v1's
//! `pids` hierarchy or cgroup v2), its stdout and stderr written as the CRI
//! writes them to `/var/log/pods/<ns>_<pod>_<uid>/etcd/0.log`. So the pod
//! log source of discovery is live: the uid comes from /proc/PID/cgroup.
//! Each layout is read twice: with the process visible, and with it hidden
//! (the layout's files alone).
//!
//! journald: no journald runs on the test machine (PID 1 is not systemd),
//! so the journal source is not tested live: the kubeadm test prints a
//! SKIP line saying so.

use std::path::{Path, PathBuf};

use crate::discover_hosts::{assert_diagnosed, code_of, json, s, Host, DIAGNOSE};
use crate::support::certs::Pki;
use crate::support::etcd::{bins, Version};
use crate::support::privileged;

/// A kubelet-like cgroup for one pod's container, removed on drop (with
/// its parents when they are left empty).
struct PodCgroup {
    dirs: Vec<PathBuf>,
}

impl PodCgroup {
    /// `kubepods/<qos>/pod<uid>/<cid>` in cgroup v2, else in v1's `pids`
    /// hierarchy (any v1 controller's path shows in /proc/PID/cgroup).
    fn new(qos: &str, uid: &str) -> PodCgroup {
        let base = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            PathBuf::from("/sys/fs/cgroup")
        } else {
            PathBuf::from("/sys/fs/cgroup/pids")
        };
        let cid = format!("{:0>64}", uid.replace('-', ""));
        let mut dirs = Vec::new();
        let mut at = base;
        for part in ["kubepods", qos, &format!("pod{uid}"), &cid] {
            at = at.join(part);
            dirs.push(at.clone());
        }
        PodCgroup { dirs }
    }

    fn procs(&self) -> PathBuf {
        self.dirs.last().unwrap().join("cgroup.procs")
    }
}

impl Drop for PodCgroup {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            // The host's PID namespace ends with the test's command; its
            // processes may take a moment to leave the cgroup.
            for _ in 0..50 {
                match std::fs::remove_dir(dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(100))
                    }
                    _ => break,
                }
            }
        }
    }
}

/// A pod uid of kubelet's shape (a v4 UUID), unique per call.
fn pod_uid() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let r = nanos ^ (u128::from(std::process::id()) << 96) ^ (u128::from(n) << 64);
    let h = format!("{r:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..]
    )
}

impl Host {
    /// /etc as an overlay of the machine's (writes go to this host's
    /// directory), with a tmpfs at `/etc/kubernetes` holding `files`' tree.
    fn etc_kubernetes(&mut self, files: &Path) {
        let (upper, work) = (self.path("etc-upper"), self.path("etc-work"));
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        // Before the /etc/default bind of Host::new, which it would hide.
        self.setup.insert(
            1,
            format!(
                "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc",
                upper.display(),
                work.display()
            ),
        );
        self.setup.push(format!(
            "mkdir -p /etc/kubernetes && mount -t tmpfs tmpfs /etc/kubernetes && cp -a {}/. /etc/kubernetes/",
            files.display()
        ));
    }

    /// etcd as a static pod's container: in `cgroup`, its output as CRI
    /// lines in `/var/log/pods/<ns>_<pod>_<uid>/etcd/0.log` on a tmpfs /var/log.
    fn pod_etcd(
        &mut self,
        cgroup: &PodCgroup,
        pod_dir: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> PathBuf {
        let log = PathBuf::from(format!("/var/log/pods/{pod_dir}/etcd/0.log"));
        let fifo = self.path("etcd.fifo");
        let cg = cgroup.dirs.last().unwrap();
        self.setup.push("mount -t tmpfs tmpfs /var/log".to_string());
        self.setup
            .push(format!("mkdir -p {}", log.parent().unwrap().display()));
        self.setup.push(format!(
            "mkdir -p {} || mkdir -p {}",
            cg.display(),
            cg.display()
        ));
        self.setup
            .push(format!("rm -f {0} && mkfifo {0}", fifo.display()));
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // kubelet's CRI format: RFC 3339 nano time, stream, F (full line).
        self.start.push(format!(
            "(while IFS= read -r l; do printf '%s stderr F %s\\n' \"$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)\" \"$l\"; done < {fifo} > {log}) &",
            fifo = fifo.display(),
            log = log.display()
        ));
        self.start.push(format!(
            "sh -c \"echo \\$\\$ > {procs} && cd {dir} && exec env {env} {bin} {args}\" > {fifo} 2>&1 &",
            procs = cgroup.procs().display(),
            dir = self.path("").display(),
            env = env.join(" "),
            bin = bins(Version::V35).etcd.display(),
            args = args.join(" "),
            fifo = fifo.display()
        ));
        self.ready.push(log.clone());
        log
    }
}

/// kubeadm's etcd command line (kubernetes `cmd/kubeadm/app/phases/etcd/local.go`,
/// `getEtcdCommand`), on loopback: the node's address is 127.0.0.1 here.
fn kubeadm_args(name: &str) -> Vec<String> {
    let pki = "/etc/kubernetes/pki/etcd";
    [
        "--advertise-client-urls=https://127.0.0.1:2379".to_string(),
        format!("--cert-file={pki}/server.crt"),
        "--client-cert-auth=true".to_string(),
        "--data-dir=/var/lib/etcd".to_string(),
        "--experimental-initial-corrupt-check=true".to_string(),
        "--experimental-watch-progress-notify-interval=5s".to_string(),
        "--initial-advertise-peer-urls=https://127.0.0.1:2380".to_string(),
        format!("--initial-cluster={name}=https://127.0.0.1:2380"),
        format!("--key-file={pki}/server.key"),
        "--listen-client-urls=https://127.0.0.1:2379".to_string(),
        "--listen-metrics-urls=http://127.0.0.1:2381".to_string(),
        "--listen-peer-urls=https://127.0.0.1:2380".to_string(),
        format!("--name={name}"),
        format!("--peer-cert-file={pki}/peer.crt"),
        "--peer-client-cert-auth=true".to_string(),
        format!("--peer-key-file={pki}/peer.key"),
        format!("--peer-trusted-ca-file={pki}/ca.crt"),
        "--snapshot-count=10000".to_string(),
        format!("--trusted-ca-file={pki}/ca.crt"),
    ]
    .to_vec()
}

/// The static pod manifest kubeadm writes for `args`.
fn kubeadm_manifest(args: &[String]) -> String {
    let mut m = String::from(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    component: etcd\n    tier: control-plane\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - command:\n    - etcd\n",
    );
    for a in args {
        m += &format!("    - {a}\n");
    }
    m += "    image: registry.k8s.io/etcd:3.5.21-0\n    name: etcd\n  hostNetwork: true\n";
    m
}

fn copy_pki(pki: &Pki, to: &Path, names: &[(&str, &str)]) {
    std::fs::create_dir_all(to).unwrap();
    for (from, name) in names {
        std::fs::copy(pki.file(from), to.join(name)).unwrap();
    }
}

/// `diagnose` on `host` (the etcd process `hidden` or not): the report,
/// whose discovery came from `source` and dialed loopback over TLS.
fn diagnose_found(host: &Host, hidden: bool, source: &str) -> serde_json::Value {
    let out = host.run(DIAGNOSE, hidden);
    let r = json(&out, code_of(&out));
    let d = &r["discovery"];
    assert_eq!(s(&d["source"]), source, "{d:#}");
    assert_eq!(d["endpoints"][0], "https://127.0.0.1:2379", "{d:#}");
    r
}

/// This host's own /var/lib with an empty /var/lib/etcd: the data dir.
fn var_lib_etcd(host: &mut Host) -> PathBuf {
    let varlib = host.own("/var/lib");
    std::fs::create_dir_all(varlib.join("etcd")).unwrap();
    PathBuf::from("/var/lib/etcd")
}

#[test]
fn kubeadm_control_plane_is_found_with_its_pod_log() {
    if !privileged("kubeadm_control_plane_is_found_with_its_pod_log") {
        return;
    }
    if !Path::new("/run/systemd/journal/socket").exists() {
        eprintln!("SKIP journald log source (live): no systemd-journald runs on this machine (no /run/systemd/journal/socket); it is unit-tested only");
    }
    let pki = Pki::generate();
    let mut host = Host::new();
    let files = host.path("etc-kubernetes");
    let args = kubeadm_args("cp1");
    std::fs::create_dir_all(files.join("manifests")).unwrap();
    std::fs::write(files.join("manifests/etcd.yaml"), kubeadm_manifest(&args)).unwrap();
    let pairs = ["ca", "server", "peer", "healthcheck-client"];
    let names: Vec<(String, String)> = pairs
        .iter()
        .flat_map(|p| [format!("{p}.crt"), format!("{p}.key")])
        .filter(|f| Path::new(&pki.file(f)).exists())
        .map(|f| (f.clone(), f))
        .collect();
    let names: Vec<(&str, &str)> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    copy_pki(&pki, &files.join("pki/etcd"), &names);
    host.etc_kubernetes(&files);
    let data = var_lib_etcd(&mut host);
    let uid = pod_uid();
    let cgroup = PodCgroup::new("burstable", &uid);
    let log = host.pod_etcd(&cgroup, &format!("kube-system_etcd-cp1_{uid}"), &args, &[]);

    // The process is visible: its flags, its pod's log by the uid of its cgroup.
    let r = diagnose_found(&host, false, "process");
    let d = &r["discovery"];
    assert_eq!(s(&d["tls"]["cacert"]), "/etc/kubernetes/pki/etcd/ca.crt");
    assert_eq!(
        s(&d["tls"]["cert"]),
        "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
    );
    assert_eq!(d["logs"][0]["at"], log.to_str().unwrap(), "{d:#}");
    assert_eq!(d["settings"]["snapshot_count"], 10000);
    assert_diagnosed(&r, &data, &log);

    // Hidden (another PID namespace): kubeadm's manifest and pod logs.
    let r = diagnose_found(&host, true, "kubeadm");
    let d = &r["discovery"];
    assert_eq!(s(&d["read"][0]), "/etc/kubernetes/manifests/etcd.yaml");
    assert_eq!(
        s(&d["tls"]["cert"]),
        "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
    );
    assert_diagnosed(&r, &data, &log);

    // The restore runbook with no connection flag: members from the live
    // list, each value from the process, kubeadm's static pod restarts.
    let out = host.run(
        "snapshot restore-plan --snapshot /var/tmp/s.db -w markdown",
        false,
    );
    let plan = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "- data dir /var/lib/etcd (found on this host: process pid",
        "- members run as kubeadm static pods (found on this host: process pid",
        "- TLS /etc/kubernetes/pki/etcd/ca.crt /etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "- members: the live member list at https://127.0.0.1:2379 (found on this host",
    ] {
        assert!(plan.contains(line), "{line}\n{plan}");
    }
    assert!(plan.contains("$MANIFESTS/etcd.yaml"), "{plan}");
}

/// OpenShift's etcd static pod (cluster-etcd-operator
/// `bindata/etcd/pod.gotpl.yaml`): certificates under
/// /etc/kubernetes/static-pod-resources/etcd-certs on the host, mounted at
/// /etc/kubernetes/static-pod-certs in the pod; the data dir and raft
/// settings from `ETCD_*` variables (`pkg/etcdenvvar/etcd_env.go`).
#[test]
fn openshift_control_plane_is_found_with_its_pod_log() {
    if !privileged("openshift_control_plane_is_found_with_its_pod_log") {
        return;
    }
    let pki = Pki::generate();
    let mut host = Host::new();
    let files = host.path("etc-kubernetes");
    let certs = files.join("static-pod-resources/etcd-certs");
    copy_pki(
        &pki,
        &certs.join("secrets/etcd-all-certs"),
        &[
            ("server.crt", "etcd-serving-master-0.crt"),
            ("server.key", "etcd-serving-master-0.key"),
            ("peer.crt", "etcd-peer-master-0.crt"),
            ("peer.key", "etcd-peer-master-0.key"),
        ],
    );
    copy_pki(
        &pki,
        &certs.join("configmaps/etcd-all-bundles"),
        &[("ca.crt", "server-ca-bundle.crt")],
    );
    std::fs::create_dir_all(files.join("static-pod-certs")).unwrap();
    host.etc_kubernetes(&files);
    // The pod's view of the host's certificate directory.
    host.setup.push(
        "mount --bind /etc/kubernetes/static-pod-resources/etcd-certs /etc/kubernetes/static-pod-certs"
            .to_string(),
    );
    let data = var_lib_etcd(&mut host);
    let in_pod = "/etc/kubernetes/static-pod-certs";
    let args: Vec<String> = [
        "--logger=zap".to_string(),
        "--experimental-initial-corrupt-check=true".to_string(),
        "--snapshot-count=10000".to_string(),
        "--initial-advertise-peer-urls=https://127.0.0.1:2380".to_string(),
        format!("--cert-file={in_pod}/secrets/etcd-all-certs/etcd-serving-master-0.crt"),
        format!("--key-file={in_pod}/secrets/etcd-all-certs/etcd-serving-master-0.key"),
        format!("--trusted-ca-file={in_pod}/configmaps/etcd-all-bundles/server-ca-bundle.crt"),
        "--client-cert-auth=true".to_string(),
        format!("--peer-cert-file={in_pod}/secrets/etcd-all-certs/etcd-peer-master-0.crt"),
        format!("--peer-key-file={in_pod}/secrets/etcd-all-certs/etcd-peer-master-0.key"),
        format!("--peer-trusted-ca-file={in_pod}/configmaps/etcd-all-bundles/server-ca-bundle.crt"),
        "--peer-client-cert-auth=true".to_string(),
        "--advertise-client-urls=https://127.0.0.1:2379".to_string(),
        "--listen-client-urls=https://0.0.0.0:2379".to_string(),
        "--listen-peer-urls=https://0.0.0.0:2380".to_string(),
        "--metrics=extensive".to_string(),
        "--listen-metrics-urls=https://0.0.0.0:9978".to_string(),
    ]
    .to_vec();
    let env = [
        ("ETCD_NAME", "master-0"),
        ("ETCD_DATA_DIR", "/var/lib/etcd"),
        ("ETCD_INITIAL_CLUSTER", "master-0=https://127.0.0.1:2380"),
        ("ETCD_HEARTBEAT_INTERVAL", "100"),
        ("ETCD_ELECTION_TIMEOUT", "1000"),
        ("ETCD_QUOTA_BACKEND_BYTES", "8589934592"),
    ];
    let uid = pod_uid();
    let cgroup = PodCgroup::new("besteffort", &uid);
    let log = host.pod_etcd(
        &cgroup,
        &format!("openshift-etcd_etcd-master-0_{uid}"),
        &args,
        &env,
    );

    let r = diagnose_found(&host, false, "process");
    let d = &r["discovery"];
    // OpenShift's etcdctl uses the peer pair (ETCDCTL_CERT).
    assert_eq!(
        s(&d["tls"]["cert"]),
        format!("{in_pod}/secrets/etcd-all-certs/etcd-peer-master-0.crt")
    );
    assert_eq!(d["settings"]["quota_backend_bytes"], 8589934592u64);
    assert_eq!(d["logs"][0]["at"], log.to_str().unwrap(), "{d:#}");
    assert_diagnosed(&r, &data, &log);

    let r = diagnose_found(&host, true, "openshift");
    let d = &r["discovery"];
    assert_eq!(
        s(&d["tls"]["cert"]),
        "/etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-certs/etcd-peer-master-0.crt"
    );
    assert_diagnosed(&r, &data, &log);
}
