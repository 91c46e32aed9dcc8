//! Checks on a finished command's output.

use std::process::Output;

/// Asserts the command succeeded (its stderr is the failure message) and
/// returns its standard output as text.
pub fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
