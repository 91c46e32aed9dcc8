//! Which process listens on a TCP port: for an etcd binary not named
//! `etcd` (no process matched by name, the client port 2379 still tells),
//! and to pick, among several etcd processes, the one whose client port
//! `--endpoints` names. /proc/net/tcp{,6} give the listening socket's
//! inode, /proc/PID/fd the process holding it (reading another user's fds
//! needs root; without it nothing is found). Bounded: lines, processes and
//! fds per process.

use std::path::Path;

use super::read::{read_bounded, MAX_PROCESSES};

/// Largest /proc/net/tcp read (a busy host has tens of thousands of sockets).
const MAX_NET_TABLE: u64 = 16 << 20;

/// Most fds looked at in one process.
const MAX_FDS: usize = 65_536;

/// Most fds looked at in all (a host with huge fd tables stays quick).
const MAX_FDS_TOTAL: usize = 1_000_000;

/// TCP state LISTEN in /proc/net/tcp's `st` column.
const LISTEN: &str = "0A";

/// The inodes of sockets listening on `port` in a /proc/net/tcp{,6} table:
/// `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode`.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().take(10).collect();
            let local_port = cols.get(1)?.rsplit(':').next()?;
            let here = u16::from_str_radix(local_port, 16).ok()? == port;
            (here && *cols.get(3)? == LISTEN).then(|| cols.get(9)?.parse().ok())?
        })
        .filter(|&inode| inode != 0)
        .collect()
}

/// The pids holding a socket that listens on one of `ports`.
pub fn listener_pids(proc: &Path, ports: &[u16]) -> Vec<u32> {
    let mut inodes = Vec::new();
    for table in ["net/tcp", "net/tcp6"] {
        if let Ok(raw) = read_bounded(&proc.join(table), MAX_NET_TABLE) {
            let text = String::from_utf8_lossy(&raw);
            for &port in ports {
                inodes.extend(listening_inodes(&text, port));
            }
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let Ok(dir) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut budget = MAX_FDS_TOTAL;
    dir.take(MAX_PROCESSES)
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| holds(proc, *pid, &wanted, &mut budget))
        .collect()
}

/// Whether process `pid` has an fd on one of the `wanted` sockets, looking
/// at no more than `budget` fds (what is left is handed back).
fn holds(proc: &Path, pid: u32, wanted: &[String], budget: &mut usize) -> bool {
    let Ok(fds) = std::fs::read_dir(proc.join(pid.to_string()).join("fd")) else {
        return false;
    };
    fds.take(MAX_FDS).filter_map(Result::ok).any(|fd| {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        std::fs::read_link(fd.path())
            .is_ok_and(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()))
    })
}

/// The port of each URL (`https://127.0.0.1:2379` -> 2379); URLs without one are skipped.
pub fn ports_of(urls: &[String]) -> Vec<u16> {
    urls.iter()
        .filter_map(|u| {
            let rest = u.split_once("://").map_or(u.as_str(), |(_, r)| r);
            let host_port = rest.split('/').next()?;
            host_port.rsplit_once(':')?.1.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:094B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:094B 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 41414 1 0000000000000000 20 4 30 10 -1
   2: 00000000:094C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 27182 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn only_listening_sockets_on_the_port_count() {
        assert_eq!(listening_inodes(TABLE, 2379), [31337]);
        assert_eq!(listening_inodes(TABLE, 2380), [27182]);
        assert!(listening_inodes(TABLE, 22).is_empty());
        assert!(listening_inodes("garbage\n1 2 3\n", 2379).is_empty());
    }

    #[test]
    fn ports_come_from_urls() {
        let urls = [
            "https://127.0.0.1:2379".to_string(),
            "10.0.0.1:12379".to_string(),
            "http://[::1]:2381/".to_string(),
            "http://host".to_string(),
        ];
        assert_eq!(ports_of(&urls), [2379, 12379, 2381]);
    }

    #[test]
    fn this_test_finds_its_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let pids = listener_pids(Path::new("/proc"), &[port]);
        assert_eq!(pids, [std::process::id()]);
    }
}
