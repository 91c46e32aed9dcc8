//! `etcd-doctor completions SHELL` and `etcd-doctor man`: generated from
//! the clap definitions, they name every subcommand and its flags.

use assert_cmd::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("etcd-doctor")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn completions_cover_every_subcommand_and_the_merge_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["qualify", "diagnose", "merge", "fail-on", "peers"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let bash = String::from_utf8(run(&["completions", "bash"]).stdout).unwrap();
    assert!(bash.contains("complete -F _etcd__doctor"), "{bash}");
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[test]
fn man_pages_are_roff_for_the_tool_and_each_subcommand() {
    let out = run(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH etcd-doctor 1"),
        "{page}"
    );
    assert!(page.contains("merge"), "{page}");
    let out = run(&["man", "merge"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH etcd-doctor-merge 1"), "{page}");
    assert!(page.contains("fail\\-on"), "{page}");
    let out = run(&["man", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("man nosuch: no such subcommand"));
}
