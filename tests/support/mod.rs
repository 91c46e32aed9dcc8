//! Shared support for integration tests: real etcd clusters, network
//! namespaces and privileged set-up, each cleaned up on drop.
#![allow(dead_code)]

pub mod certs;
pub mod doctor;
pub mod etcd;
pub mod slowdisk;

/// True when the test may use root-only features (netns, loop devices,
/// cgroups). Without root the test must not pass silently: it panics unless
/// `ETCD_DOCTOR_ALLOW_SKIP=1`, in which case it prints a clear SKIP line.
pub fn privileged(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("ETCD_DOCTOR_ALLOW_SKIP").as_deref() == Ok("1") {
        eprintln!("SKIP {test}: needs root (network namespaces, loop devices, cgroups)");
        return false;
    }
    panic!("{test} needs root; run as root or set ETCD_DOCTOR_ALLOW_SKIP=1 to skip it loudly");
}
