//! Discovery on fixture hosts: each host is a private PID, mount and
//! network namespace (`unshare --pid --fork --mount-proc --net`), so only
//! its own etcd processes are visible and the host's files are never
//! changed. Known layouts' directories are bind mounts of temp dirs at
//! their real paths (/var/lib, /etc/default); Debian's /etc/default/etcd
//! of the test machine is hidden the same way. A real etcd 3.5 (and 3.6
//! when its binary is built) is started with flags, with ETCD_* variables,
//! with --config-file, and laid out as RKE2, k3s and Debian's package
//! would; `etcd-doctor` then runs with no connection flag.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::certs::Pki;
use crate::support::etcd::{available, bins, Version};
use crate::support::privileged;

/// One fixture host: a temp dir for its files, and the script run in it.
pub(crate) struct Host {
    dir: tempfile::TempDir,
    /// Lines run before etcd starts (mounts, files).
    pub(crate) setup: Vec<String>,
    /// Lines that start etcd in the background.
    pub(crate) start: Vec<String>,
    /// Log files whose "ready to serve client requests" line is awaited.
    pub(crate) ready: Vec<PathBuf>,
}

impl Host {
    pub(crate) fn new() -> Host {
        let dir = tempfile::Builder::new()
            .prefix("etcd-doctor-host-")
            .tempdir()
            .unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        Host {
            setup: vec![
                "ip link set lo up".to_string(),
                // The test machine's own /etc/default/etcd (Debian's
                // etcd-server, installed for the 3.4 tests) is not this host's.
                format!("mount --bind {} /etc/default", empty.display()),
            ],
            dir,
            start: Vec::new(),
            ready: Vec::new(),
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Makes `real` (e.g. /var/lib) this host's own empty directory.
    pub(crate) fn own(&mut self, real: &str) -> PathBuf {
        let mine = self.path(&format!("root{real}"));
        std::fs::create_dir_all(&mine).unwrap();
        self.setup
            .push(format!("mount --bind {} {real}", mine.display()));
        mine
    }

    /// Starts etcd `bin` with `args` and `env`, its stdout and stderr
    /// into `log`.
    pub(crate) fn etcd(&mut self, bin: &Path, args: &[String], env: &[(&str, String)], log: &Path) {
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}='{v}'")).collect();
        // In the host's own directory: an etcd without --data-dir writes
        // <name>.etcd in its working directory.
        self.start.push(format!(
            "(cd {} && exec env {} {} {}) > {} 2>&1 &",
            self.dir.path().display(),
            env.join(" "),
            bin.display(),
            args.join(" "),
            log.display()
        ));
        self.ready.push(log.to_path_buf());
    }

    /// Runs `doctor_args` on the host (inside a further PID namespace when
    /// `hide_etcd`, so the etcd processes are not visible and a layout is
    /// read); returns its output.
    pub(crate) fn run(&self, doctor_args: &str, hide_etcd: bool) -> Output {
        let doctor = assert_cmd::cargo::cargo_bin("etcd-doctor");
        let mut script = self.setup.join("\n") + "\n" + &self.start.join("\n") + "\n";
        for log in &self.ready {
            script += &format!(
                "for i in $(seq 150); do grep -q 'ready to serve client requests' {} 2>/dev/null && break; sleep 0.2; done\n",
                log.display()
            );
        }
        let hide = if hide_etcd {
            "unshare --pid --fork --mount-proc "
        } else {
            ""
        };
        let command = if doctor_args.contains("DOCTOR") {
            doctor_args.replace("DOCTOR", &doctor.display().to_string())
        } else {
            format!("{} {doctor_args}", doctor.display())
        };
        script += &format!(
            "{hide}env -u ETCDCTL_ENDPOINTS -u ETCDCTL_CACERT -u ETCDCTL_CERT -u ETCDCTL_KEY {command}\n"
        );
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--net", "sh", "-c"])
            .arg(&script)
            .output()
            .unwrap()
    }
}

pub(crate) fn json(out: &Output, code: i32) -> Value {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A diagnose that found its etcd with no flag: reached it, probed the
/// disk next to the data dir and read the discovered log.
pub(crate) fn assert_diagnosed(r: &Value, data_dir: &Path, log: &Path) {
    let d = &r["discovery"];
    assert_eq!(PathBuf::from(s(&d["data_dir"])), data_dir, "{d:#}");
    assert!(
        r["cluster"]["endpoints"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{r:#}"
    );
    let disk = r["disk"].as_array().expect("a disk probe");
    assert!(!disk.is_empty(), "no disk probe: {r:#}");
    let probed = PathBuf::from(s(&disk[0]["dir"]));
    assert!(
        probed.starts_with(data_dir.parent().unwrap()),
        "probed {} for data dir {}",
        probed.display(),
        data_dir.display()
    );
    let sources = r["logs"]["sources"].as_array().expect("logs read");
    let source = sources
        .iter()
        .find(|src| s(&src["name"]) == log.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not read: {sources:?}", log.display()));
    assert!(source["lines"].as_u64().unwrap() > 0, "{source:#}");
}

pub(crate) const DIAGNOSE: &str = "diagnose -w json --interval 1s --probe fsync --duration 1";

#[test]
fn flags_with_tls_are_found_and_the_log_is_stdout() {
    if !privileged("flags_with_tls_are_found_and_the_log_is_stdout") {
        return;
    }
    let pki = Pki::generate();
    let mut host = Host::new();
    let data = host.path("data");
    let log = host.path("etcd.log");
    let args: Vec<String> = [
        "--name m1".to_string(),
        format!("--data-dir {}", data.display()),
        "--listen-client-urls https://0.0.0.0:2379".to_string(),
        "--advertise-client-urls https://127.0.0.1:2379".to_string(),
        "--listen-peer-urls http://127.0.0.1:2380".to_string(),
        "--initial-advertise-peer-urls http://127.0.0.1:2380".to_string(),
        "--initial-cluster m1=http://127.0.0.1:2380".to_string(),
        format!("--cert-file={}", pki.file("server.crt").display()),
        format!("--key-file={}", pki.file("server.key").display()),
        format!("--trusted-ca-file={}", pki.file("ca.crt").display()),
        "--client-cert-auth".to_string(),
        "--heartbeat-interval 150 --election-timeout 1500".to_string(),
        // Above both etcd defaults (3.5's 100,000, 3.6's 10,000).
        "--snapshot-count 500000".to_string(),
    ]
    .to_vec();
    host.etcd(&bins(Version::V35).etcd, &args, &[], &log);
    let out = host.run(DIAGNOSE, false);
    let r = json(&out, code_of(&out));
    let d = &r["discovery"];
    assert_eq!(s(&d["source"]), "process");
    assert_eq!(
        d["endpoints"][0], "https://127.0.0.1:2379",
        "0.0.0.0 dialed on loopback"
    );
    assert_eq!(PathBuf::from(s(&d["tls"]["cacert"])), pki.file("ca.crt"));
    // kubeadm's healthcheck-client pair beside the CA is preferred.
    assert_eq!(
        PathBuf::from(s(&d["tls"]["cert"])),
        pki.file("healthcheck-client.crt")
    );
    assert_eq!(d["logs"][0]["at"], log.to_str().unwrap(), "{d:#}");
    assert_eq!(d["settings"]["heartbeat_ms"], 150);
    assert_eq!(d["settings"]["election_ms"], 1500);
    assert_diagnosed(&r, &data, &log);
    let high = finding(&r, "cluster.snapshot-count-high").expect("snapshot count judged");
    assert_eq!(high["evidence"][0]["observed"], 500000.0, "{high:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("discovered etcd (process, pid"), "{err}");
    assert!(
        !err.contains("BEGIN"),
        "no key or certificate content printed: {err}"
    );
}

/// The finding `id` of report `r`, when it is there.
fn finding<'a>(r: &'a Value, id: &str) -> Option<&'a Value> {
    r["findings"].as_array()?.iter().find(|f| s(&f["id"]) == id)
}

/// diagnose exits 0 or 1 (findings); 2 would be a failure to run.
pub(crate) fn code_of(out: &Output) -> i32 {
    match out.status.code() {
        Some(c @ (0 | 1)) => c,
        other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

#[test]
fn etcd_variables_are_found() {
    if !privileged("etcd_variables_are_found") {
        return;
    }
    let mut host = Host::new();
    let data = host.path("data");
    let log = host.path("etcd.log");
    let env = [
        ("ETCD_NAME", "e1".to_string()),
        ("ETCD_DATA_DIR", data.display().to_string()),
        (
            "ETCD_LISTEN_CLIENT_URLS",
            "http://127.0.0.1:2379".to_string(),
        ),
        (
            "ETCD_ADVERTISE_CLIENT_URLS",
            "http://127.0.0.1:2379".to_string(),
        ),
        ("ETCD_LISTEN_PEER_URLS", "http://127.0.0.1:2380".to_string()),
        (
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
            "http://127.0.0.1:2380".to_string(),
        ),
        (
            "ETCD_INITIAL_CLUSTER",
            "e1=http://127.0.0.1:2380".to_string(),
        ),
        ("ETCD_QUOTA_BACKEND_BYTES", "4294967296".to_string()),
        ("ETCD_AUTO_COMPACTION_RETENTION", "1h".to_string()),
        ("ETCD_SECRET_TOKEN", "do-not-print-me".to_string()),
    ];
    host.etcd(&bins(Version::V35).etcd, &[], &env, &log);
    let out = host.run(DIAGNOSE, false);
    let r = json(&out, code_of(&out));
    let d = &r["discovery"];
    assert_eq!(s(&d["source"]), "process");
    assert_eq!(d["endpoints"][0], "http://127.0.0.1:2379");
    assert_eq!(d["settings"]["name"], "e1");
    assert_eq!(d["settings"]["quota_backend_bytes"], 4294967296u64);
    assert_eq!(d["settings"]["auto_compaction_retention"], "1h");
    assert!(d["read"].to_string().contains("/environ"), "{d:#}");
    assert_diagnosed(&r, &data, &log);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("do-not-print-me"),
        "an environment value was printed"
    );

    // qualify with no --dir probes beside the discovered data dir, never in it.
    let out = host.run("qualify -w json --probe fsync --duration 1", false);
    let r = json(&out, code_of(&out));
    assert_eq!(PathBuf::from(s(&r["discovery"]["data_dir"])), data);
    let probed = PathBuf::from(s(&r["disk"][0]["dir"]));
    assert_eq!(probed, data.parent().unwrap(), "{:#}", r["disk"][0]);

    // Without root another user's environment cannot be read: said in one
    // note, and the command line still gives what it can (here etcd's
    // default client URL, where this etcd listens too).
    let out = host.run(
        "setpriv --reuid=65534 --regid=65534 --clear-groups -- DOCTOR cluster status -w json",
        false,
    );
    let r = json(&out, 0);
    let notes = r["discovery"]["notes"].to_string();
    assert!(notes.contains("environment needs root"), "{notes}");
    assert!(r["discovery"]["data_dir"].is_null(), "{:#}", r["discovery"]);
}

#[test]
fn config_file_is_found_and_a_shared_wal_device_is_said() {
    if !privileged("config_file_is_found_and_a_shared_wal_device_is_said") {
        return;
    }
    if !available(
        Version::V36,
        "config_file_is_found_and_a_shared_wal_device_is_said",
    ) {
        return;
    }
    let (bin, version) = (bins(Version::V36).etcd, "3.6");
    let mut host = Host::new();
    let data = host.path("data");
    let wal = host.path("wal");
    let log = host.path("etcd-file.log");
    let cfg = host.path("etcd.conf.yml");
    std::fs::write(
        &cfg,
        format!(
            "name: c1\ndata-dir: {}\nwal-dir: {}\nlisten-client-urls: http://127.0.0.1:2379\n\
             advertise-client-urls: http://127.0.0.1:2379\nlisten-peer-urls: http://127.0.0.1:2380\n\
             initial-advertise-peer-urls: http://127.0.0.1:2380\ninitial-cluster: c1=http://127.0.0.1:2380\n\
             heartbeat-interval: 200\nelection-timeout: 2000\nsnapshot-count: 5000\n\
             log-outputs: [{}]\n",
            data.display(),
            wal.display(),
            log.display()
        ),
    )
    .unwrap();
    // A flag the config file overrides: etcd ignores it, so must discovery.
    let args = [
        format!("--config-file={}", cfg.display()),
        "--name ignored".to_string(),
    ];
    let stdout = host.path("stdout.log");
    host.etcd(&bin, &args, &[], &stdout);
    host.ready = vec![log.clone()];
    let out = host.run(DIAGNOSE, false);
    let r = json(&out, code_of(&out));
    let d = &r["discovery"];
    assert_eq!(d["settings"]["name"], "c1", "etcd {version}: {d:#}");
    assert_eq!(d["settings"]["heartbeat_ms"], 200);
    assert_eq!(d["settings"]["snapshot_count"], 5000);
    assert_eq!(PathBuf::from(s(&d["wal_dir"])), wal);
    assert_eq!(d["wal_shares_data_device"], true);
    assert_eq!(d["logs"][0]["at"], log.to_str().unwrap());
    assert!(d["read"].to_string().contains("etcd.conf.yml"), "{d:#}");
    assert_diagnosed(&r, &data, &log);
    assert!(finding(&r, "disk.wal-on-data-device").is_some(), "{r:#}");
    // 5,000 is below both defaults: nothing to say.
    assert!(
        finding(&r, "cluster.snapshot-count-high").is_none(),
        "{r:#}"
    );
}

fn plain_args(name: &str, data: &Path, client: u16, peer: u16) -> Vec<String> {
    vec![
        format!("--name {name}"),
        format!("--data-dir {}", data.display()),
        format!("--listen-client-urls http://127.0.0.1:{client}"),
        format!("--advertise-client-urls http://127.0.0.1:{client}"),
        format!("--listen-peer-urls http://127.0.0.1:{peer}"),
        format!("--initial-advertise-peer-urls http://127.0.0.1:{peer}"),
        format!("--initial-cluster {name}=http://127.0.0.1:{peer}"),
    ]
}

#[test]
fn two_etcd_processes_ask_which_and_none_says_so() {
    if !privileged("two_etcd_processes_ask_which_and_none_says_so") {
        return;
    }
    let etcd = bins(Version::V35).etcd;
    let mut host = Host::new();
    for (i, (c, p)) in [(2379, 2380), (22379, 22380)].into_iter().enumerate() {
        let data = host.path(&format!("data{i}"));
        let log = host.path(&format!("etcd{i}.log"));
        host.etcd(&etcd, &plain_args(&format!("t{i}"), &data, c, p), &[], &log);
    }
    let out = host.run("cluster status", false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("2 etcd processes") && err.contains("--name t0") && err.contains("--name t1"),
        "{err}"
    );
    assert!(err.contains("--discover-pid"), "{err}");
    // --endpoints with --discover names one by its client port.
    let r = json(
        &host.run(
            "cluster status -w json --discover --endpoints http://127.0.0.1:22379",
            false,
        ),
        0,
    );
    assert_eq!(
        r["discovery"]["settings"]["name"], "t1",
        "{:#}",
        r["discovery"]
    );
    // Naming one ($! is the second etcd started) reads that one.
    let r = json(
        &host.run("cluster status -w json --discover-pid $!", false),
        0,
    );
    assert_eq!(
        r["discovery"]["settings"]["name"], "t1",
        "{:#}",
        r["discovery"]
    );
    assert_eq!(r["discovery"]["endpoints"][0], "http://127.0.0.1:22379");

    let empty = Host::new();
    let out = empty.run("diagnose --interval 1s", false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no etcd process on this host and no known layout"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

/// An etcd binary under another name is found by the client port it
/// listens on (2379).
#[test]
fn a_renamed_etcd_is_found_by_its_port() {
    if !privileged("a_renamed_etcd_is_found_by_its_port") {
        return;
    }
    let mut host = Host::new();
    let renamed = host.path("kv-store");
    std::fs::copy(bins(Version::V35).etcd, &renamed).unwrap();
    let log = host.path("etcd.log");
    // No --data-dir: etcd's default, r1.etcd in its working directory.
    let mut args = plain_args("r1", Path::new("unused"), 2379, 2380);
    args.remove(1);
    host.etcd(&renamed, &args, &[], &log);
    let r = json(&host.run("cluster status -w json", false), 0);
    let d = &r["discovery"];
    assert_eq!(d["settings"]["name"], "r1", "{d:#}");
    assert_eq!(PathBuf::from(s(&d["data_dir"])), host.path("r1.etcd"));
    assert!(host.path("r1.etcd").is_dir());
}

/// RKE2's layout at its real paths; the etcd process is hidden from
/// etcd-doctor (a further PID namespace), so the layout is what it reads.
#[test]
fn rke2_k3s_and_debian_layouts_are_read_when_no_process_is_visible() {
    if !privileged("rke2_k3s_and_debian_layouts_are_read_when_no_process_is_visible") {
        return;
    }
    let etcd = bins(Version::V35).etcd;
    for (layout, data_root) in [
        ("rke2", "/var/lib/rancher/rke2"),
        ("k3s", "/var/lib/rancher/k3s"),
    ] {
        let pki = Pki::generate();
        let mut host = Host::new();
        let varlib = host.own("/var/lib");
        let db = format!("{data_root}/server/db/etcd");
        let tls = format!("{data_root}/server/tls/etcd");
        let tls_here = varlib.join(tls.trim_start_matches("/var/lib/"));
        std::fs::create_dir_all(&tls_here).unwrap();
        for (from, to) in [
            ("ca.crt", "server-ca.crt"),
            ("server.crt", "server-client.crt"),
            ("server.key", "server-client.key"),
            ("healthcheck-client.crt", "client.crt"),
            ("healthcheck-client.key", "client.key"),
        ] {
            std::fs::copy(pki.file(from), tls_here.join(to)).unwrap();
        }
        let db_here = varlib.join(db.trim_start_matches("/var/lib/"));
        std::fs::create_dir_all(&db_here).unwrap();
        // The config file as k3s's ETCDConfig writes it (executor.go).
        std::fs::write(
            db_here.join("config"),
            format!(
                "name: {layout}-node\ndata-dir: {db}\nlisten-client-urls: https://127.0.0.1:2379\n\
                 advertise-client-urls: https://127.0.0.1:2379\nlisten-peer-urls: http://127.0.0.1:2380\n\
                 initial-advertise-peer-urls: http://127.0.0.1:2380\ninitial-cluster: {layout}-node=http://127.0.0.1:2380\n\
                 heartbeat-interval: 500\nelection-timeout: 5000\n\
                 client-transport-security:\n  cert-file: {tls}/server-client.crt\n  key-file: {tls}/server-client.key\n  \
                 trusted-ca-file: {tls}/server-ca.crt\n  client-cert-auth: true\n"
            ),
        )
        .unwrap();
        let log = host.path("etcd.log");
        host.etcd(&etcd, &[format!("--config-file={db}/config")], &[], &log);
        let out = host.run("cluster status -w json", true);
        let r = json(&out, 0);
        let d = &r["discovery"];
        assert_eq!(s(&d["source"]), layout, "{d:#}");
        assert_eq!(s(&d["tls"]["cert"]), format!("{tls}/client.crt"), "{d:#}");
        assert_eq!(d["settings"]["heartbeat_ms"], 500);
        assert_eq!(s(&d["data_dir"]), db);
        assert!(
            r["cluster"]["endpoints"]
                .as_array()
                .is_some_and(|a| a.len() == 1),
            "{r:#}"
        );
    }
    // Debian's etcd-server: /etc/default/etcd and the unit's data dir.
    let mut host = Host::new();
    let default = host.own("/etc/default");
    std::fs::write(
        default.join("etcd"),
        "ETCD_LISTEN_CLIENT_URLS=\"http://127.0.0.1:2379\"\nDAEMON_ARGS=\"--snapshot-count 7000\"\n",
    )
    .unwrap();
    let varlib = host.own("/var/lib");
    std::fs::create_dir_all(varlib.join("etcd/default")).unwrap();
    let mut args = plain_args("deb", Path::new("/var/lib/etcd/default"), 2379, 2380);
    args.push("--snapshot-count 7000".to_string());
    let log = host.path("etcd.log");
    host.etcd(&etcd, &args, &[], &log);
    let out = host.run("cluster status -w json", true);
    let r = json(&out, 0);
    let d = &r["discovery"];
    assert_eq!(s(&d["source"]), "systemd", "{d:#}");
    assert_eq!(s(&d["data_dir"]), "/var/lib/etcd/default");
    assert_eq!(d["settings"]["snapshot_count"], 7000);
    assert_eq!(d["logs"][0]["at"], "etcd.service");
}
