//! How a test's runbook starts one member, as `systemctl start` does with
//! a `Type=notify` unit (Debian's etcd.service): etcd runs in the
//! background (pid recorded), and the command returns only once the member
//! serves, which a restored member does only once a quorum of members runs
//! (etcd sends READY=1 then); it fails after about 30 tries, as a start
//! timeout would.

use std::path::Path;

use super::etcd::{Cluster, Member};

/// The shell command that starts `m` of `cluster` with `extra` flags,
/// writing its pid into `pidfile`.
pub fn start_command(cluster: &Cluster, m: &Member, pidfile: &Path, extra: &str) -> String {
    format!(
        "ETCD_UNSUPPORTED_ARCH={arch} nohup {etcd} --name {name} --data-dir {dir} --listen-client-urls {c} --advertise-client-urls {c} --listen-peer-urls {p} --initial-advertise-peer-urls {p} {extra} >>{log} 2>&1 </dev/null & echo $! >{pidfile}; \
         i=0; until {etcdctl} --endpoints={c} --command-timeout=1s endpoint health >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 30 ] || exit 1; sleep 0.5; done",
        arch = std::env::consts::ARCH,
        etcd = cluster.bins.etcd.display(),
        etcdctl = cluster.bins.etcdctl.display(),
        name = m.name,
        dir = m.data_dir.display(),
        c = m.client_url(),
        p = m.peer_url(),
        log = m.log.display(),
        pidfile = pidfile.display(),
    )
}
