//! Careless input as root, by class (issue 22): each class runs with
//! several inputs (a device node made with mknod, a FIFO without a writer,
//! a directory, symlinks, /dev/zero, oversized files, many small documents,
//! control characters, closed and full standard output). Every run is
//! capped in address space (RLIMIT_AS) and time, and the test asserts its
//! exit code, a one-line error naming the flag or path, its peak RSS (from
//! wait4's rusage) and that nothing in the fixture tree changed (type,
//! mode, size and content of every entry, hashed before and after).
//!
//! Needs root for mknod; without it the test says SKIP (see
//! `support::privileged`).
#[path = "../support/mod.rs"]
mod support;

mod capped;
mod output;
mod paths;
mod volume;
