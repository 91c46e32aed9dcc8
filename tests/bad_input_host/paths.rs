//! Output paths and input paths: devices, FIFOs, directories, symlinks,
//! the command's own inputs and oversized files.

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt};
use std::time::Duration;

use crate::capped::{refused, run_capped, tree, Fixtures, Stdin};
use crate::support;

/// (arguments, environment, what the error names)
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

/// Output paths: nothing but a regular file (or a symlink to one) is
/// replaced, never one of the command's inputs; the tree stays as it was.
#[test]
fn outputs_never_replace_what_is_not_theirs() {
    if !support::privileged("outputs_never_replace_what_is_not_theirs") {
        return;
    }
    let f = Fixtures::new();
    let before = tree(f.dir.path());
    let good = f.p("good.json");
    for target in [
        "null-dev",
        "fifo",
        "subdir",
        "link-to-dev",
        "dangling",
        "good.json",
        "link-to-input",
        "hard-input.json",
    ] {
        let out = f.p(target);
        for args in [
            vec!["merge", good.as_str(), "--out", out.as_str()],
            vec![
                "compare",
                good.as_str(),
                good.as_str(),
                "--out",
                out.as_str(),
            ],
        ] {
            let r = run_capped(&args, Stdin::Null, None, &[]);
            refused(&r, &format!("{args:?}"), &["--out", &out]);
        }
    }
    // A bundle file that is a FIFO is refused, not replaced.
    let bundle = f.dir.path().join("bundle");
    fs::create_dir(&bundle).unwrap();
    nix::unistd::mkfifo(&bundle.join("report.json"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let log = f.p("ok.log");
    let r = run_capped(
        &["logs", &log, "--report", bundle.to_str().unwrap()],
        Stdin::Null,
        None,
        &[],
    );
    refused(&r, "--report with a FIFO", &["--report", "report.json"]);
    assert!(fs::symlink_metadata(bundle.join("report.json"))
        .unwrap()
        .file_type()
        .is_fifo());
    fs::remove_dir_all(&bundle).unwrap();
    assert_eq!(tree(f.dir.path()), before, "the fixture tree changed");

    // A symlink to a regular file is written through; the link stays.
    let target = f.dir.path().join("written.md");
    fs::write(&target, "old").unwrap();
    let link = f.dir.path().join("link-out");
    symlink(&target, &link).unwrap();
    let r = run_capped(
        &[
            "merge",
            &good,
            "-w",
            "markdown",
            "--out",
            link.to_str().unwrap(),
        ],
        Stdin::Null,
        None,
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&target)
        .unwrap()
        .contains("etcd-doctor merge"));
}

/// Inputs: a device, a FIFO without a writer, a directory or an oversized
/// file given as a certificate, key, CA, manifest, profile, report or log
/// is refused fast with the flag and path named, never read whole.
#[test]
fn inputs_that_are_not_regular_files_fail_fast() {
    if !support::privileged("inputs_that_are_not_regular_files_fail_fast") {
        return;
    }
    let f = Fixtures::new();
    let before = tree(f.dir.path());
    let good = f.p("good.json");
    let bad = ["/dev/zero", "zero-dev", "fifo", "subdir", "link-to-dev"].map(|b| {
        if b.starts_with('/') {
            b.to_string()
        } else {
            f.p(b)
        }
    });
    for b in &bad {
        let cases: Vec<Case> = vec![
            (
                vec![
                    "cluster",
                    "status",
                    "--endpoints",
                    "127.0.0.1:1",
                    "--cacert",
                    b,
                ],
                vec![],
                "--cacert",
            ),
            (
                vec!["cluster", "status", "--endpoints", "127.0.0.1:1"],
                vec![("ETCDCTL_CACERT", b)],
                "--cacert",
            ),
            (
                vec![
                    "cluster",
                    "status",
                    "--endpoints",
                    "127.0.0.1:1",
                    "--cert",
                    b,
                    "--key",
                    b,
                ],
                vec![],
                "--cert",
            ),
            (
                vec!["cluster", "status", "--manifest", b],
                vec![],
                "--manifest",
            ),
            (vec!["logs", &good, "--profile", b], vec![], "--profile"),
            (vec!["compare", b, &good], vec![], b),
            (vec!["merge", b], vec![], b),
            (vec!["logs", b], vec![], b),
        ];
        for (args, env, needle) in cases {
            let r = run_capped(&args, Stdin::Null, None, &env);
            refused(&r, &format!("{args:?} {env:?}"), &[needle, b]);
            assert!(
                r.elapsed < Duration::from_secs(5),
                "{args:?}: {:?}",
                r.elapsed
            );
        }
    }
    let big = f.p("big.pem");
    let r = run_capped(
        &[
            "cluster",
            "status",
            "--endpoints",
            "127.0.0.1:1",
            "--cacert",
            &big,
        ],
        Stdin::Null,
        None,
        &[],
    );
    refused(&r, "3 MiB CA", &["--cacert", &big, "larger than"]);
    // Standard input that is a device is refused, not read forever.
    for args in [vec!["logs", "-"], vec!["merge", "-"]] {
        let r = run_capped(&args, Stdin::File("/dev/zero".into()), None, &[]);
        refused(&r, &format!("{args:?} < /dev/zero"), &["standard input"]);
    }
    assert_eq!(tree(f.dir.path()), before, "the fixture tree changed");
}
