//! A signal while a report file (`--out`, `--report`) is being written
//! leaves neither a partial file nor the temporary one, and an existing
//! file keeps its old content. In a binary of its own: the signal sets
//! the process-wide "interrupted" flag for good.

use std::fs;

use etcd_doctor::interrupt;
use etcd_doctor::report::write_file;
use nix::sys::signal::{raise, Signal};

#[test]
fn a_signal_mid_write_keeps_the_old_file_and_removes_the_temporary_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    write_file("--out", &path, |w: &mut dyn std::io::Write| {
        w.write_all(b"old\n")
    })
    .unwrap();
    interrupt::install().unwrap();

    let err = write_file("--out", &path, |w: &mut dyn std::io::Write| {
        w.write_all(b"{\"partial\":")?;
        raise(Signal::SIGTERM).unwrap();
        w.write_all(b"true}\n")
    })
    .expect_err("an interrupted write must fail");

    let message = format!("{err:#}");
    assert!(message.contains("interrupted by SIGTERM"), "{message}");
    assert!(message.contains("report.json not written"), "{message}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "old\n");
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.json"], "temporary file left behind");
}
