//! `watch` and the diagnosis bundle against real etcd 3.5 clusters.
//!
//! - A member killed during `watch`: the loop goes on, `/metrics` says
//!   that member's page could not be read (`etcd_doctor_source_up` 0) and
//!   the window report carries the error row; restarted, it is read again.
//! - Client certificate rotation on a TLS cluster: `watch` starts with a
//!   valid pair; the files are replaced by a pair of a CA the cluster does
//!   not trust and SIGHUP makes it read them (its scrapes now fail, so the
//!   files were read again), then by a renewed valid pair and SIGHUP:
//!   scrapes work again, the windows go on. A broken certificate then and SIGHUP: the running
//!   configuration is kept and said (stderr, `..._last_reload_successful`
//!   0), scrapes keep working; SIGTERM still stops it with exit 0.
//! - `diagnose --bundle` on a TLS cluster holding a secret value: no
//!   entry of the archive holds a key, a certificate or the value, and
//!   `diagnose --from-bundle` gives the same findings as the live run.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use etcd_doctor::facts::Report;

use crate::cluster_tls::tls_cluster;
use crate::support::certs::Pki;
use crate::support::doctor::{doctor, report};
use crate::support::etcd::{Cluster, Version};
use crate::support::etcdlogs::member_logs;
use crate::support::watch::{value, Watch};

/// Polls `/metrics` until `up(member 2's page)` is `want`.
fn wait_page_up(w: &Watch, url: &str, want: f64, timeout: Duration) {
    let t = Instant::now();
    loop {
        let m = w.metrics();
        let up = value(
            &m,
            "etcd_doctor_source_up",
            &[("kind", "metrics"), ("source", url)],
        );
        if up == Some(want) {
            return;
        }
        assert!(
            t.elapsed() < timeout,
            "{url} up {up:?}, wanted {want}: {}",
            w.stderr()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn watch_keeps_going_while_a_member_is_killed_and_restarted() {
    let mut c = Cluster::start(Version::V35, 3);
    let canary = tempfile::tempdir().unwrap();
    let mut cmd = doctor("watch --listen 127.0.0.1:0 --interval 1s --windows 2s,4s --endpoints");
    cmd.arg(c.endpoints()).arg("--dir").arg(canary.path());
    let w = Watch::start(cmd);
    w.wait_ready(Duration::from_secs(20));
    let url = format!("{}/metrics", c.members[2].client_url());
    wait_page_up(&w, &url, 1.0, Duration::from_secs(15));

    c.kill(2);
    wait_page_up(&w, &url, 0.0, Duration::from_secs(20));
    let ticks = value(&w.metrics(), "etcd_doctor_watch_ticks_total", &[]).unwrap();
    let (_, body) = w.get("/report?window=2s");
    let r: Report = serde_json::from_str(&body).unwrap();
    let cluster = r.cluster.expect("cluster read");
    let row = cluster.metrics.iter().find(|m| m.url == url).unwrap();
    assert!(row.error.is_some(), "{row:?}");
    assert!(cluster.answered);

    c.spawn(2, "existing");
    wait_page_up(&w, &url, 1.0, Duration::from_secs(30));
    let later = value(&w.metrics(), "etcd_doctor_watch_ticks_total", &[]).unwrap();
    assert!(later > ticks, "{later} ticks after {ticks}");
    let (status, stderr) = w.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(std::fs::read_dir(canary.path()).unwrap().count(), 0);
}

/// Polls `/metrics` until `name` is `want`.
fn wait_value(w: &Watch, name: &str, want: f64, timeout: Duration) {
    let t = Instant::now();
    while value(&w.metrics(), name, &[]) != Some(want) {
        assert!(t.elapsed() < timeout, "{name} not {want}: {}", w.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Replaces `to` by a copy of `from` (written beside it, renamed in place,
/// as cert-manager and kubeadm's renewal do).
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

#[test]
fn sighup_reads_rotated_client_certificates_and_keeps_a_good_config() {
    let pki = Pki::generate();
    let c = tls_cluster(&pki);
    let live = tempfile::tempdir().unwrap();
    let (crt, key) = (
        live.path().join("client.crt"),
        live.path().join("client.key"),
    );
    replace(&pki.file("healthcheck-client.crt"), &crt);
    replace(&pki.file("healthcheck-client.key"), &key);
    pki.untrusted_client("stranger");
    pki.client("renewed");
    let canary = tempfile::tempdir().unwrap();
    let mut cmd = doctor("watch --listen 127.0.0.1:0 --interval 1s --windows 2s,4s --endpoints");
    cmd.arg(c.members[0].client_url())
        .arg("--cacert")
        .arg(pki.file("ca.crt"))
        .arg("--cert")
        .arg(&crt)
        .arg("--key")
        .arg(&key)
        .arg("--dir")
        .arg(canary.path());
    let w = Watch::start(cmd);
    w.wait_ready(Duration::from_secs(20));
    let url = format!("{}/metrics", c.members[0].client_url());
    wait_page_up(&w, &url, 1.0, Duration::from_secs(15));

    // A pair the cluster does not trust under the same names, SIGHUP:
    // read again (the scrapes now fail).
    replace(&pki.file("stranger.crt"), &crt);
    replace(&pki.file("stranger.key"), &key);
    w.hangup();
    wait_value(
        &w,
        "etcd_doctor_config_reloads_total",
        1.0,
        Duration::from_secs(10),
    );
    wait_page_up(&w, &url, 0.0, Duration::from_secs(15));
    // Renewed: a valid pair, SIGHUP: scrapes work again.
    replace(&pki.file("renewed.crt"), &crt);
    replace(&pki.file("renewed.key"), &key);
    w.hangup();
    wait_value(
        &w,
        "etcd_doctor_config_reloads_total",
        2.0,
        Duration::from_secs(10),
    );
    wait_page_up(&w, &url, 1.0, Duration::from_secs(15));
    let (_, body) = w.get("/report?window=4s");
    let r: Report = serde_json::from_str(&body).unwrap();
    assert!(r.cluster.expect("cluster read").answered, "{body}");

    // A broken certificate: the running configuration stays.
    std::fs::write(
        live.path().join("broken.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    replace(&live.path().join("broken.crt"), &crt);
    w.hangup();
    wait_value(
        &w,
        "etcd_doctor_config_last_reload_successful",
        0.0,
        Duration::from_secs(10),
    );
    let ticks = value(&w.metrics(), "etcd_doctor_watch_ticks_total", &[]).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let m = w.metrics();
    assert!(value(&m, "etcd_doctor_watch_ticks_total", &[]).unwrap() >= ticks + 2.0);
    assert_eq!(
        value(&m, "etcd_doctor_config_reloads_total", &[]),
        Some(2.0)
    );
    let up = value(
        &m,
        "etcd_doctor_source_up",
        &[("kind", "metrics"), ("source", &url)],
    );
    assert_eq!(up, Some(1.0), "{}", w.stderr());
    let (status, stderr) = w.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("keeping the running one"), "{stderr}");
    assert!(
        stderr.contains("client.crt"),
        "the bad file is named: {stderr}"
    );
}

/// Every entry of the gzip tar at `path`: (name, bytes).
fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut a = tar::Archive::new(gz);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

/// (id, severity, summary) of every finding.
fn findings(r: &serde_json::Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", f["id"], f["severity"], f["summary"]))
        .collect()
}

#[test]
fn a_tls_bundle_holds_no_secret_and_judges_offline_as_live() {
    let pki = Pki::generate();
    let c = tls_cluster(&pki);
    c.put_keys_with(3, |k| format!("topsecretvalue{k}"));
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("diag.tar.gz");
    let tls = [
        format!("--cacert={}", pki.file("ca.crt").display()),
        format!("--cert={}", pki.file("healthcheck-client.crt").display()),
        format!("--key={}", pki.file("healthcheck-client.key").display()),
    ];
    let mut live = doctor("diagnose -w json --no-disk --interval 1s --fail-on warn --endpoints");
    live.arg(c.endpoints())
        .args(&tls)
        .arg("--bundle")
        .arg(&bundle);
    live.arg("--logs").args(member_logs(&c));
    let out = live.output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let files = entries(&bundle);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "bundle.json",
        "report.json",
        "cluster/members.json",
        "metrics/member-0.prom",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    let key = std::fs::read_to_string(pki.file("healthcheck-client.key")).unwrap();
    let key_body = key.lines().nth(1).unwrap();
    for (name, data) in &files {
        let text = String::from_utf8_lossy(data);
        for secret in [
            "PRIVATE KEY",
            "BEGIN CERTIFICATE",
            "topsecretvalue",
            key_body,
        ] {
            assert!(!text.contains(secret), "{name} holds {secret:?}");
        }
    }
    let page = &files
        .iter()
        .find(|(n, _)| n == "metrics/member-0.prom")
        .unwrap()
        .1;
    assert!(String::from_utf8_lossy(page).contains("etcd_disk_wal_fsync_duration_seconds_bucket"));

    let mut offline = doctor("diagnose -w json --fail-on warn --from-bundle");
    offline.arg(&bundle);
    let code = live["verdict"]
        .as_str()
        .map(|v| i32::from(v != "pass"))
        .unwrap();
    let judged = report(&mut offline, code);
    assert_eq!(findings(&judged), findings(&live));
    assert_eq!(judged["cluster"]["members"], live["cluster"]["members"]);
}
