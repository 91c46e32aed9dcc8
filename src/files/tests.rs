use std::io::Write as _;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use super::*;

fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("fifo");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    path
}

/// Every kind of non-regular input is refused at once, naming the flag,
/// the path and what is there; a FIFO with no writer does not block.
#[test]
fn inputs_other_than_regular_files_are_refused_fast() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo(dir.path());
    let to_zero = dir.path().join("zero-link");
    symlink("/dev/zero", &to_zero).unwrap();
    let cases = [
        (PathBuf::from("/dev/zero"), FileKind::CharDevice),
        (PathBuf::from("/dev/null"), FileKind::CharDevice),
        (to_zero, FileKind::CharDevice),
        (fifo, FileKind::Fifo),
        (dir.path().to_path_buf(), FileKind::Directory),
    ];
    for (path, kind) in cases {
        let start = Instant::now();
        let err = read_input("--cacert", &path, 1 << 20).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2), "{path:?} blocked");
        let text = err.to_string();
        assert!(
            matches!(err, InputError::NotRegular { kind: k, .. } if k == kind),
            "{path:?}: {text}"
        );
        assert!(
            text.starts_with(&format!("--cacert {}", path.display())),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }
}

#[test]
fn regular_inputs_are_read_up_to_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    for (len, limit, ok) in [
        (0, 0, true),
        (10, 10, true),
        (11, 10, false),
        (5000, 4096, false),
    ] {
        fs::write(&path, vec![b'x'; len]).unwrap();
        match read_input("report", &path, limit) {
            Ok(bytes) => assert!(ok && bytes.len() == len),
            Err(InputError::TooLarge { limit: l, .. }) => assert!(!ok && l == limit),
            Err(e) => panic!("{e}"),
        }
    }
    let missing = read_input("profile", &dir.path().join("nope"), 10).unwrap_err();
    assert!(missing.to_string().starts_with("profile "), "{missing}");
}

fn write(out: Output, text: &str) -> Result<(), OutputError> {
    let mut tmp = out.temp(".t-", "")?;
    tmp.write_all(text.as_bytes()).unwrap();
    out.commit(tmp)
}

/// Regular files (new or existing, mode kept) are replaced; a symlink is
/// written through and stays a symlink.
#[test]
fn regular_outputs_and_symlinks_to_them_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.json");
    write(Output::check("--out", &new).unwrap(), "a").unwrap();
    assert_eq!(fs::read_to_string(&new).unwrap(), "a");
    assert_eq!(fs::metadata(&new).unwrap().mode() & 0o777, 0o644);

    fs::set_permissions(&new, fs::Permissions::from_mode(0o600)).unwrap();
    write(Output::check("--out", &new).unwrap(), "b").unwrap();
    assert_eq!(fs::read_to_string(&new).unwrap(), "b");
    assert_eq!(fs::metadata(&new).unwrap().mode() & 0o777, 0o600);

    let link = dir.path().join("link.json");
    symlink(&new, &link).unwrap();
    write(Output::check("--out", &link).unwrap(), "c").unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&new).unwrap(), "c");
    let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 2, "temporary files left: {leftovers:?}");
}

/// Nothing but a regular file is replaced; every refusal is one line
/// naming the flag and the path, and leaves what is there as it was.
#[test]
fn outputs_other_than_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo(dir.path());
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let to_null = dir.path().join("null-link");
    symlink("/dev/null", &to_null).unwrap();
    let dangling = dir.path().join("dangling");
    symlink(dir.path().join("absent"), &dangling).unwrap();
    let to_dir = dir.path().join("dir-link");
    symlink(&sub, &to_dir).unwrap();
    for path in [
        PathBuf::from("/dev/null"),
        to_null,
        fifo.clone(),
        sub.clone(),
        to_dir,
    ] {
        let err = Output::check("--out", &path).unwrap_err();
        assert!(
            matches!(err, OutputError::NotRegular { .. }),
            "{path:?}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("--out {}", path.display())),
            "{text}"
        );
        assert!(text.contains("refusing to replace it"), "{text}");
    }
    let err = Output::check("--report", &dangling).unwrap_err();
    assert!(matches!(err, OutputError::Dangling { .. }), "{err}");
    assert!(!dir.path().join("absent").exists());
    assert!(FileKind::of(&fs::symlink_metadata(&fifo).unwrap()) == FileKind::Fifo);
    assert!(sub.is_dir());
}

/// A file the command read (by any name: itself, a symlink, a hard link)
/// is never an output.
#[test]
fn an_input_is_never_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.db");
    fs::write(&input, "data").unwrap();
    let hard = dir.path().join("hard.db");
    fs::hard_link(&input, &hard).unwrap();
    let soft = dir.path().join("soft.db");
    symlink(&input, &soft).unwrap();
    read_input("snapshot", &input, 100).unwrap();
    for path in [&input, &hard, &soft] {
        let err = Output::check("--out", path).unwrap_err();
        assert!(
            matches!(err, OutputError::IsInput { .. }),
            "{path:?}: {err}"
        );
    }
    assert_eq!(fs::read_to_string(&input).unwrap(), "data");
}
