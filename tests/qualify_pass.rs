//! An unthrottled temporary directory on this machine's own disk passes
//! `qualify` with the etcd-default profile (exit 0). Alone in its test
//! binary: other probes running at the same time would be the very IO
//! contention the rules are there to report.

use std::process::Command;

#[test]
fn an_unthrottled_tmp_dir_passes_the_default_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("etcd-doctor"))
        .args(["qualify", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
