//! A fleet of four test hosts (network namespaces on one switch), each
//! running an agent and `qualify --peers` (the three others) with
//! `--report`: host 0's path to host 1 shaped to 10 Mbit/s with HTB and
//! loaded by an iperf3 flow, host 2's probe directory on a loop disk
//! throttled to 100 write IOPS (the others on zram). `merge` of the four
//! reports, read from a `kubectl logs`-like stream and from the report
//! files, flags exactly that link (fleet.path-outlier, throughput called
//! asymmetric) and that host (fleet.disk-outlier), and the matrix has
//! every ordered pair.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use etcd_doctor::fleet::FleetReport;
use etcd_doctor::rules::FindingId;
use support::netns::{Daemon, Net};
use support::slowdisk::{LoopFs, SlowDisk};

const TOKEN: &str = "fleet-token";
const PORT: u16 = 7480;
const HOSTS: usize = 4;

/// A probe directory: throttled for the slow host, zram for the others.
enum Disk {
    Fast(LoopFs),
    Slow(SlowDisk),
}

impl Disk {
    fn path(&self) -> PathBuf {
        match self {
            Disk::Fast(fs) => fs.path().to_path_buf(),
            Disk::Slow(d) => d.path().to_path_buf(),
        }
    }
}

fn merge(args: &[&str], stdin: Option<&[u8]>) -> (Output, FleetReport) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("etcd-doctor"))
        .arg("merge")
        .args(args)
        .args(["-w", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let report = crate::support::output::parsed_from(&out);
    (out, report)
}

#[test]
fn merge_flags_the_shaped_loaded_link_and_the_throttled_host() {
    if !support::privileged("merge_flags_the_shaped_loaded_link") {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("etcd-doctor");
    let net = Net::switched(HOSTS).unwrap();
    let addr = |i: usize| format!("{}:{PORT}", net.host(i).ip);
    let mut daemons = Vec::new();
    for i in 0..HOSTS {
        let mut cmd = net.command(i, &bin);
        cmd.args(["agent", "--listen", &addr(i), "--token", TOKEN]);
        let mut agent = Daemon::start(&mut cmd).unwrap();
        agent
            .wait_for("listening on", Duration::from_secs(10))
            .unwrap();
        daemons.push(agent);
    }
    support::pathshape::shape_path(&net, 0, net.host(1).ip, 10).unwrap();
    let mut server = net.command(1, "iperf3");
    server.args(["-s", "-p", "5301"]);
    let mut server = Daemon::start(&mut server).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut load = net.command(0, "iperf3");
    load.args(["-c", &net.host(1).ip.to_string(), "-p", "5301", "-t", "300"]);
    let load = Daemon::start(&mut load).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(server.is_running());

    let disks: Vec<Disk> = (0..HOSTS)
        .map(|i| match i {
            2 => Disk::Slow(SlowDisk::new(100).unwrap()),
            _ => Disk::Fast(LoopFs::zram(256 << 20, "ext4").unwrap()),
        })
        .collect();
    let reports = tempfile::tempdir().unwrap();
    let mut stream = b"Defaulted container \"qualify\" out of: qualify\n".to_vec();
    let mut files = Vec::new();
    for (i, disk) in disks.iter().enumerate() {
        let peers: Vec<String> = (0..HOSTS).filter(|&p| p != i).map(addr).collect();
        let dir = reports.path().join(format!("h{i}"));
        let mut cmd = net.command(i, &bin);
        if let Disk::Slow(d) = disk {
            d.enter(&mut cmd);
        }
        let out = cmd
            .args([
                "qualify",
                "--probe",
                "fsync",
                "--ops",
                "300",
                "--min-span",
                "2",
            ])
            .arg("--dir")
            .arg(disk.path())
            .args(["--peers", &peers.join(","), "--token", TOKEN])
            .args(["--net-probe", "rtt,throughput", "--net-duration", "2"])
            .arg("--report")
            .arg(&dir)
            .args(["-w", "json"])
            .output()
            .unwrap();
        assert_ne!(
            out.status.code(),
            Some(2),
            "host {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stream.extend(&out.stdout);
        stream.extend(format!("pod qualify-{i} completed\n").as_bytes());
        files.push(dir.join("report.json"));
    }
    drop(load);

    let (out, fleet) = merge(&["-"], Some(&stream));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fleet.hosts.len(), HOSTS, "{:?}", fleet.notes);
    assert!(
        fleet.notes.iter().any(|n| n.contains("skipped 5 line")),
        "{:?}",
        fleet.notes
    );
    let name = |i: usize| {
        let ip = net.host(i).ip.to_string();
        fleet
            .hosts
            .iter()
            .find(|h| h.addresses.iter().any(|a| a.to_string() == ip))
            .unwrap_or_else(|| panic!("no host with {ip}: {:?}", fleet.hosts))
            .name
            .clone()
    };
    let mut pairs: Vec<(String, String)> = fleet
        .paths
        .iter()
        .map(|p| (p.from.clone(), p.to.clone()))
        .collect();
    pairs.sort();
    let mut expected = Vec::new();
    for a in 0..HOSTS {
        for b in (0..HOSTS).filter(|&b| b != a) {
            expected.push((name(a), name(b)));
        }
    }
    expected.sort();
    assert_eq!(pairs, expected);
    assert!(fleet
        .paths
        .iter()
        .all(|p| p.rtt_p99_ms.is_some() && p.upload_mbit_s.is_some()));

    for f in &fleet.findings {
        eprintln!("{}: {}", f.id, f.summary);
    }
    let disk: Vec<_> = fleet
        .findings
        .iter()
        .filter(|f| f.id == FindingId::FleetDiskOutlier)
        .collect();
    let path: Vec<_> = fleet
        .findings
        .iter()
        .filter(|f| f.id == FindingId::FleetPathOutlier)
        .collect();
    assert!(!disk.is_empty(), "{:#?}", fleet);
    assert!(
        disk.iter()
            .all(|f| f.summary.contains(&format!("host {}:", name(2)))),
        "{disk:#?}"
    );
    assert_eq!(path.len(), 1, "{:#?}", fleet.findings);
    let (a, b) = (name(0), name(1));
    let link = if a <= b {
        format!("{a} <-> {b}")
    } else {
        format!("{b} <-> {a}")
    };
    assert!(path[0].summary.contains(&link), "{}", path[0].summary);
    assert!(
        path[0].summary.contains("asymmetric"),
        "{}",
        path[0].summary
    );

    let file_args: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let (out, from_files) = merge(&file_args, None);
    assert_eq!(out.status.code(), Some(1));
    let ids = |f: &FleetReport| f.findings.iter().map(|x| x.id).collect::<Vec<_>>();
    assert_eq!(ids(&from_files), ids(&fleet));
    assert_eq!(from_files.paths.len(), fleet.paths.len());
    drop(daemons);
}
