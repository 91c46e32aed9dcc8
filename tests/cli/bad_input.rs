//! Bad input to every command, one table: overflowing durations (flags and
//! ETCDCTL_* variables), numbers past their bounds, ports 0, deep or huge
//! manifests, profiles whose sections are values or whose thresholds can
//! never fire, reports whose histogram claims a 4 GiB payload. Each gives
//! exit 2, one stderr line naming the flag or file, no panic, quickly, and
//! leaves the working and probe directories as they were.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::doctor::doctor;
use crate::support::fixtures::disk_report;
use base64::Engine as _;

const HUGE: &str = "99999999999999999999h";
const ENDPOINTS_65: &str = "1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9,10:10,11:11,12:12,13:13,14:14,15:15,16:16,17:17,18:18,19:19,20:20,21:21,22:22,23:23,24:24,25:25,26:26,27:27,28:28,29:29,30:30,31:31,32:32,33:33,34:34,35:35,36:36,37:37,38:38,39:39,40:40,41:41,42:42,43:43,44:44,45:45,46:46,47:47,48:48,49:49,50:50,51:51,52:52,53:53,54:54,55:55,56:56,57:57,58:58,59:59,60:60,61:61,62:62,63:63,64:64,65:65";

/// Files the bad inputs refer to, in `dir`.
fn write_inputs(dir: &Path) {
    let w = |name: &str, text: &[u8]| fs::write(dir.join(name), text).unwrap();
    w("deep.yaml", "[".repeat(100_000).as_bytes());
    w("big.yaml", &vec![b'#'; 2 << 20]);
    let indented: String = (0..400)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    w("indented.yaml", indented.as_bytes());
    w("array.toml", b"disk = [20.0, 10.0]\n");
    w("nic.toml", b"[net]\nnic_saturated_ratio = 3.0\n");
    w("steal.toml", b"[host]\ncpu_steal_fail_pct = 1000.0\n");
    w("netlevels.toml", b"[net]\nrtt_warn_heartbeat_ratio = 2.0\n");
    let good = disk_report("disk", [1000.0, 2000.0, 3000.0]);
    w("good.json", &serde_json::to_vec(&good).unwrap());
    // An uncompressed HdrHistogram V2 header claiming a 4 GiB payload.
    let mut header = 0x1c84_9313u32.to_be_bytes().to_vec();
    header.extend(u32::MAX.to_be_bytes());
    header.extend([0u8; 4]);
    header.extend(3u32.to_be_bytes());
    header.extend(1u64.to_be_bytes());
    header.extend(600_000_000_000u64.to_be_bytes());
    header.extend(1.0f64.to_be_bytes());
    let mut huge = serde_json::to_value(&good).unwrap();
    huge["disk"][0]["latency_histogram"] = base64::engine::general_purpose::STANDARD
        .encode(&header)
        .into();
    w("huge.json", &serde_json::to_vec(&huge).unwrap());
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    w("nested.json", nested.as_bytes());
}

/// (arguments with `D` for the probe dir, environment, what the error names)
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

const CASES: &[Case] = &[
    ("cluster status --dial-timeout 99999999999999999999h", &[], &["--dial-timeout", "24h"]),
    ("cluster status", &[("ETCDCTL_DIAL_TIMEOUT", HUGE)], &["--dial-timeout"]),
    ("cluster health", &[("ETCDCTL_COMMAND_TIMEOUT", "1.5.5s")], &["--command-timeout"]),
    ("cluster members --command-timeout 99999999999999999999h", &[], &["--command-timeout"]),
    ("cluster status --dial-timeout=-1s", &[], &["--dial-timeout", "negative"]),
    ("cluster metrics --interval 99999999999999999999h", &[], &["--interval"]),
    ("cluster metrics --interval 1111111111111111111111111111111111111111111111111111111111111111111s", &[], &["--interval", "64 characters"]),
    ("cluster status --manifest deep.yaml", &[], &["--manifest", "deep.yaml", "nests"]),
    ("cluster status --manifest indented.yaml", &[], &["indented.yaml", "line 258"]),
    ("cluster status --manifest big.yaml", &[], &["--manifest", "big.yaml", "larger"]),
    ("cluster health --profile array.toml", &[], &["array.toml", "`disk`", "table"]),
    ("cluster health --profile nic.toml", &[], &["`net.nic_saturated_ratio`"]),
    ("snapshot save out.db --dial-timeout 99999999999999999999h", &[], &["--dial-timeout"]),
    ("snapshot save out.db --manifest deep.yaml", &[], &["deep.yaml"]),
    ("snapshot restore-plan --members a=http://10.0.0.1:2380 --client-port 0", &[], &["--client-port"]),
    ("snapshot restore-plan --members a=http://10.0.0.1:0 --method force-new-cluster", &[], &["--members", ":0"]),
    ("snapshot rejoin-plan --member a --members a=http://[fd00::1]:99999", &[], &["--members"]),
    ("snapshot rejoin-plan --member a --members a=http://h:2380 --client-port 0", &[], &["--client-port"]),
    ("snapshot verify missing.db", &[], &["missing.db"]),
    ("snapshot analyze missing.db --max-keys 0", &[], &["--max-keys"]),
    ("snapshot analyze missing.db --max-keys 200000001", &[], &["--max-keys"]),
    ("snapshot analyze missing.db --max-keys 1e9", &[], &["--max-keys"]),
    ("disk --dir D --ops 18446744073709551615", &[], &["--ops"]),
    ("disk --dir D --duration 1e308", &[], &["--duration"]),
    ("agent --listen 127.0.0.1:0 --token agent-token --max-bytes 18446744073709551615", &[], &["--max-bytes"]),
    ("agent --listen 127.0.0.1:0 --token agent-token --max-seconds 18446744073709551615", &[], &["--max-seconds"]),
    ("net --peers 127.0.0.1:9 --token agent-token --heartbeat-interval 1e300", &[], &["--heartbeat-interval"]),
    ("net --peers 127.0.0.1:9 --token agent-token --duration 1e300", &[], &["--duration"]),
    ("net --peers 127.0.0.1:9 --token agent-token --profile netlevels.toml", &[], &["`net.rtt_warn_heartbeat_ratio`"]),
    ("qualify --dir D --profile steal.toml", &[], &["`host.cpu_steal_fail_pct`"]),
    ("qualify --dir D --profile array.toml", &[], &["`disk`"]),
    ("qualify --dir D --ops 18446744073709551615", &[], &["--ops"]),
    ("diagnose --interval 99999999999999999999h", &[], &["--interval"]),
    ("diagnose --no-disk --manifest deep.yaml", &[], &["deep.yaml"]),
    ("diagnose --no-disk", &[("ETCDCTL_DIAL_TIMEOUT", HUGE)], &["--dial-timeout"]),
    ("net --peers 127.0.0.1:9 --token agent-token --message-size 100,100,100,100,100,100,100,100,100,100,100,100,100,100,100,100,100", &[], &["--message-size"]),
    ("cluster status", &[("ETCDCTL_ENDPOINTS", ENDPOINTS_65)], &["--endpoints", "65"]),
    ("compare huge.json good.json", &[], &["huge.json", "latency histogram", "payload length 4294967295"]),
    ("compare good.json nested.json", &[], &["nested.json"]),
    ("compare good.json good.json --max-regression 1e9", &[], &["--max-regression"]),
];

/// Every entry of `dir` with its size.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut all: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn every_bad_input_is_one_line_naming_it_and_exit_2() {
    let work = tempfile::tempdir().unwrap();
    let probe = tempfile::tempdir().unwrap();
    write_inputs(work.path());
    let before = (listing(work.path()), listing(probe.path()));
    let probe_dir = probe.path().to_str().unwrap();
    for (args, env, needles) in CASES {
        let args = args.replace(" D ", &format!(" {probe_dir} "));
        let mut cmd = doctor(&args);
        cmd.current_dir(work.path());
        for var in ["ETCDCTL_DIAL_TIMEOUT", "ETCDCTL_COMMAND_TIMEOUT"] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        let started = Instant::now();
        let out = cmd.output().unwrap();
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args} {env:?}: {err}");
        assert!(!err.contains("panicked"), "{args}: {err}");
        let lines = err
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
            .count();
        assert_eq!(lines, 1, "{args}: not one line: {err}");
        for n in *needles {
            assert!(err.contains(n), "{args}: {n:?} not in {err}");
        }
        assert!(took < Duration::from_secs(3), "{args} took {took:?}");
        assert_eq!(
            (listing(work.path()), listing(probe.path())),
            before,
            "{args} left something behind"
        );
    }
}
