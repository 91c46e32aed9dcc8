//! Volume: many documents, peers, hosts and peer ids; inputs with nothing
//! to parse.

use std::fs;
use std::io::Write as _;
use std::process::Command;

use etcd_doctor::facts::Report;
use etcd_doctor::probe::net::{NetProbeKind, NetResult, Schedule};

use crate::capped::{refused, run_capped, Stdin, RSS_CAP_KIB, ZAP};
use crate::support;
use crate::support::fixtures::{disk_report, latency};

/// A host report naming `peers` peers, one rtt result each.
fn report_with_peers(peers: usize) -> Report {
    let mut r = disk_report("qualify", [500.0, 600.0, 900.0]);
    for i in 0..peers {
        let peer = format!("10.{}.{}.{}:7480", i >> 16, (i >> 8) & 255, i & 255);
        let mut rtt = NetResult::new(NetProbeKind::Rtt, &peer, Schedule::Concurrent);
        rtt.latency_us = Some(latency(300.0));
        r.net.push(rtt);
    }
    r
}

/// Asserts a run that judged its input (exit 0 or 1) within the RSS cap.
fn within_caps(r: &crate::capped::Run, what: &str) {
    assert!(matches!(r.code, Some(0 | 1)), "{what}: {}", r.stderr);
    assert!(
        r.peak_rss_kib < RSS_CAP_KIB,
        "{what}: peak RSS {} KiB",
        r.peak_rss_kib
    );
}

/// Memory follows what is kept, not what is counted: many small documents,
/// many peers, many hosts and many distinct peer ids in logs stay under
/// the RSS cap, in seconds. Prints the figures for the report.
#[test]
fn memory_is_bounded_by_what_is_kept() {
    if !support::privileged("memory_is_bounded_by_what_is_kept") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 10 MB of `{}` lines.
    let empties = d.join("empties.json");
    fs::write(&empties, "{}\n".repeat(10_000_000 / 3)).unwrap();
    let r = run_capped(
        &["merge", empties.to_str().unwrap()],
        Stdin::Null,
        None,
        &[],
    );
    refused(
        &r,
        "merge of 10 MB of {}",
        &["no report could be merged", "more"],
    );
    println!(
        "merge 10 MB of {{}}: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );

    // One report with 3,000 peers, as a table.
    let peers = d.join("peers.json");
    fs::write(
        &peers,
        serde_json::to_vec(&report_with_peers(3_000)).unwrap(),
    )
    .unwrap();
    let r = run_capped(&["merge", peers.to_str().unwrap()], Stdin::Null, None, &[]);
    within_caps(&r, "3,000 peers");
    assert!(String::from_utf8_lossy(&r.stdout).contains("more host(s), not in this grid"));
    println!(
        "merge table of 3,000 peers: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );

    // 3,000 hosts' reports in one stream (host de-duplication).
    let mut many = Vec::new();
    for i in 0..3_000 {
        let mut h = disk_report("qualify", [500.0, 600.0, 900.0]);
        h.host.hostname = format!("h{i}");
        h.host.addresses = vec![format!("10.1.{}.{}", i >> 8, i & 255).parse().unwrap()];
        many.extend(serde_json::to_vec(&h).unwrap());
        many.push(b'\n');
    }
    let hosts = d.join("hosts.json");
    fs::write(&hosts, many).unwrap();
    let r = run_capped(
        &["merge", hosts.to_str().unwrap(), "-w", "json"],
        Stdin::Null,
        None,
        &[],
    );
    within_caps(&r, "3,000 hosts");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        v["hosts"].as_array().unwrap().len(),
        1_000,
        "MAX_REPORTS kept"
    );
    assert!(v["notes"]
        .to_string()
        .contains("past the limit of 1000 reports"));
    println!(
        "merge 3,000 hosts: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );

    // 150 MB of log lines between two reports: streamed, not held (it
    // was read whole, up to 256 MiB, before).
    let noisy = d.join("noisy.txt");
    let mut f = std::io::BufWriter::new(fs::File::create(&noisy).unwrap());
    serde_json::to_writer(&mut f, &report_with_peers(2)).unwrap();
    let line = format!(
        "{:<99}\n",
        "Defaulted container \"qualify\" out of: qualify"
    );
    for _ in 0..1_500_000 {
        f.write_all(line.as_bytes()).unwrap();
    }
    let mut other = report_with_peers(2);
    other.host.hostname = "other".into();
    serde_json::to_writer(&mut f, &other).unwrap();
    drop(f);
    let r = run_capped(
        &["merge", "-", "-w", "json"],
        Stdin::File(noisy.clone()),
        None,
        &[],
    );
    within_caps(&r, "150 MB stream");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["hosts"].as_array().unwrap().len(), 2, "{}", v["notes"]);
    println!(
        "merge of 150 MB of lines between 2 reports: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );
    fs::remove_file(&noisy).unwrap();

    // A gzip of 300,000 lines naming distinct peers.
    let gz = d.join("peers.log.gz");
    peers_gzip(&gz, "");
    let r = run_capped(&["logs", gz.to_str().unwrap()], Stdin::Null, None, &[]);
    within_caps(&r, "300k peers");
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("and others in"), "{text}");
    assert!(text.len() < 200_000, "{} bytes of table", text.len());
    println!(
        "logs gzip with 300k peer ids: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );
    long_peer_ids_in_chunks(d);
}

/// Writes a gzip of 300,000 zap lines, each naming a distinct peer id
/// (16 hex digits and `pad`), a second apart.
fn peers_gzip(path: &std::path::Path, pad: &str) {
    let mut enc = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(fs::File::create(path).unwrap()),
        flate2::Compression::fast(),
    );
    for i in 0..300_000u64 {
        writeln!(
            enc,
            r#"{{"level":"warn","ts":"2024-03-01T12:{:02}:{:02}.000Z","caller":"rafthttp/probing_status.go:68","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"{i:016x}{pad}","rtt":"0s","error":"dial tcp: connection refused"}}"#,
            (i / 60) % 60,
            i % 60
        )
        .unwrap();
    }
    enc.finish().unwrap();
}

/// The issue's case: a gzip of a few MB with 300,000 distinct peer ids of
/// 5,000 characters (1.5 GB of lines) took 495 MB and printed 121 MB, since
/// each chunk kept its own 64 peers and merging the chunks kept them all.
/// Now the merged timeline keeps 64 peers of at most 64 characters.
fn long_peer_ids_in_chunks(d: &std::path::Path) {
    let gz = d.join("long-peers.log.gz");
    peers_gzip(&gz, &"a".repeat(5_000));
    let r = run_capped(
        &["logs", gz.to_str().unwrap(), "-w", "json"],
        Stdin::Null,
        None,
        &[],
    );
    within_caps(&r, "300k long peer ids");
    assert!(r.stdout.len() < 200_000, "{} bytes of JSON", r.stdout.len());
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let kind = &v["logs"]["events"][0];
    let peers = kind["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 64, "{kind}");
    assert!(peers
        .iter()
        .all(|p| p["peer"].as_str().unwrap().len() == 64));
    let named: u64 = peers.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(named + kind["other_peer_lines"].as_u64().unwrap(), 300_000);
    println!(
        "logs gzip with 300k peer ids of 5,000 chars ({} bytes): peak RSS {} KiB, {:?}",
        fs::metadata(&gz).unwrap().len(),
        r.peak_rss_kib,
        r.elapsed
    );
}

/// Nothing parsed is never a pass: random bytes, invalid UTF-8, another
/// program's log and a gzip of garbage on standard input all exit 2; a
/// gzip of etcd lines on standard input is read.
#[test]
fn logs_with_nothing_parsed_exit_2() {
    if !support::privileged("logs_with_nothing_parsed_exit_2") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = fastrand::Rng::with_seed(22);
    let random: Vec<u8> = (0..200_000).map(|_| rng.u8(..)).collect();
    let gzip = |name: &str, bytes: &[u8]| {
        let path = d.join(name);
        let mut enc = flate2::write::GzEncoder::new(
            fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
        path
    };
    let files = [
        ("random.bin", random.clone()),
        ("latin1.log", b"caf\xe9 \xff\xfe broken\n".repeat(1000)),
        (
            "nginx.log",
            b"127.0.0.1 - - [01/Mar/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200\n".repeat(100),
        ),
        ("empty.log", Vec::new()),
    ];
    for (name, bytes) in &files {
        let path = d.join(name);
        fs::write(&path, bytes).unwrap();
        for how in ["file", "stdin"] {
            let r = if how == "file" {
                run_capped(&["logs", path.to_str().unwrap()], Stdin::Null, None, &[])
            } else {
                run_capped(&["logs", "-"], Stdin::File(path.clone()), None, &[])
            };
            refused(
                &r,
                &format!("{name} as {how}"),
                &["no line in a known etcd log format"],
            );
        }
    }
    let garbage = gzip("garbage.gz", &random);
    let r = run_capped(&["logs", "-"], Stdin::File(garbage), None, &[]);
    refused(
        &r,
        "gzip of garbage on stdin",
        &["no line in a known etcd log format"],
    );
    let good = gzip("good.gz", format!("{ZAP}\n").as_bytes());
    let r = run_capped(&["logs", "-", "-w", "json"], Stdin::File(good), None, &[]);
    assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["logs"]["sources"][0]["zap_lines"], 1, "{v}");
    if Command::new("journalctl").arg("--version").output().is_ok() {
        let r = run_capped(
            &["logs", "--journal", "no-such-unit-etcd-doctor-22"],
            Stdin::Null,
            None,
            &[],
        );
        refused(
            &r,
            "a journald unit without entries",
            &["journal:no-such-unit-etcd-doctor-22"],
        );
    } else {
        println!("SKIP journald case: no journalctl on this host");
    }
}
